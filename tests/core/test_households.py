"""Household records: masking, audited reveal, outbox entry in the same transaction."""

from __future__ import annotations

import json

import pytest

from fieldclient.fieldwork import households
from fieldclient.fieldwork.households import create_household, get_household, mask, reveal_field
from fieldclient.security import audit
from fieldclient.storage.session import Session

ID_NUMBER = "11010519491231002X"
PHONE = "13800138000"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, None),
        ("", ""),
        ("1", "1"),
        ("1234", "1234"),
        ("12345", "*2345"),
        (ID_NUMBER, "*" * 14 + "002X"),
        (PHONE, "*******8000"),
        ("张三李四王五", "**李四王五"),
    ],
)
def test_mask_keeps_only_the_last_four(value: str | None, masked: str | None) -> None:
    assert mask(value) == masked


def _count(session: Session, table: str) -> int:
    return int(session.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_create_and_read_masked(session: Session) -> None:
    hid = create_household(
        session, "赵六", "人民路4号", category="hardship", phone=PHONE,
        id_number=ID_NUMBER, tags=["低保", "独居"], grid_id="G-01",
    )
    row = get_household(session, hid)
    assert row["head_name"] == "赵六" and row["address"] == "人民路4号"
    assert row["category"] == "hardship" and row["grid_id"] == "G-01"
    assert row["id_number"] == "*" * 14 + "002X"
    assert row["phone"] == "*******8000"
    assert row["tags"] == ["低保", "独居"]
    assert session.records_by_kind()["household"] == 1


def test_reveal_returns_clear_text_and_is_audited(session: Session) -> None:
    hid = create_household(session, "钱七", "长安街5号", phone=PHONE, id_number=ID_NUMBER)
    before = _count(session, "audit_log")
    assert reveal_field(session, hid, "id_number") == ID_NUMBER
    assert reveal_field(session, hid, "phone") == PHONE
    assert _count(session, "audit_log") == before + 2
    revealed = list(session.audit.entries())[-2:]
    assert [e["action"] for e in revealed] == [audit.SENSITIVE_VIEWED] * 2
    assert [e["detail"]["field"] for e in revealed] == ["id_number", "phone"]
    assert all(e["detail"]["id"] == hid for e in revealed)
    assert session.audit.verify().ok


def test_reveal_of_an_empty_field(session: Session) -> None:
    hid = create_household(session, "孙八", "东风路6号")
    assert reveal_field(session, hid, "phone") is None


def test_reveal_only_sensitive_fields(session: Session) -> None:
    hid = create_household(session, "周九", "西湖路7号")
    before = _count(session, "audit_log")
    with pytest.raises(ValueError):
        reveal_field(session, hid, "head_name")
    assert _count(session, "audit_log") == before


def test_create_adds_an_outbox_entry(session: Session) -> None:
    assert session.pending_uploads() == 0
    hid = create_household(session, "吴十", "北京路8号", id_number=ID_NUMBER)
    assert session.pending_uploads() == 1
    kind, record_id, payload, state = session.db.execute(
        "SELECT kind, record_id, payload, state FROM outbox"
    ).fetchone()
    assert (kind, record_id, state) == ("household.create", hid, "pending")
    assert json.loads(payload)["head_name"] == "吴十"
    assert json.loads(payload)["id_number"] == ID_NUMBER  # full record goes to the centre


@pytest.mark.parametrize("failing", ["enqueue", "audit"])
def test_create_is_one_transaction(
    session: Session, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """If the outbox or audit entry cannot be written, the household is not kept either."""

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    if failing == "enqueue":
        monkeypatch.setattr(session, "enqueue", boom)
    else:
        monkeypatch.setattr(session.audit, "append", boom)
    audit_before = _count(session, "audit_log")
    with pytest.raises(RuntimeError):
        create_household(session, "郑一", "南京路9号")
    assert _count(session, "households") == 0
    assert session.pending_uploads() == 0
    assert _count(session, "audit_log") == audit_before


def test_unknown_category_is_rejected(session: Session) -> None:
    audit_before = _count(session, "audit_log")
    with pytest.raises(ValueError):
        create_household(session, "冯二", "上海路10号", category="vip")
    assert _count(session, "households") == 0
    assert session.pending_uploads() == 0
    assert _count(session, "audit_log") == audit_before
    assert set(households.CATEGORIES) == {"ordinary", "hardship", "key"}


def test_database_check_constraint_backs_the_category_list(session: Session) -> None:
    import sqlcipher3

    with pytest.raises(sqlcipher3.IntegrityError), session.db.conn:
        session.db.execute(
            "INSERT INTO households (id, head_name, address, category, created_at, updated_at)"
            " VALUES ('x', 'n', 'a', 'vip', 0, 0)"
        )
