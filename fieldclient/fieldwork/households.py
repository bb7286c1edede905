"""Household registry records: create, read with masking, reveal with audit."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlite_utils.db import Table

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork.enrollment import enrollment
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.ids import new_id
from fieldclient.security import audit
from fieldclient.storage.session import Session

SENSITIVE_FIELDS = ("id_number", "phone")
CATEGORIES = ("ordinary", "hardship", "key")

# Special groups (特殊人群, domain.md): sensitive personal information, so such a tag
# shows as HIDDEN_TAG unless the role may reveal it, and each reveal is audited.
SENSITIVE_TAGS = frozenset({
    "吸毒人员", "社区矫正人员", "易肇事肇祸精神障碍患者", "严重精神障碍患者",
    "刑满释放人员", "重点青少年", "艾滋病危险人员", "信访重点人员",
})
HIDDEN_TAG = "特殊人群（已隐藏）"  # shown translated (context "households")
# Roles that may see sensitive fields in clear (audited): the grid's own worker and
# leader. A supervisor reviews many grids and reads masked data; an unknown role
# gets nothing. A device not enrolled yet is its worker's own.
REVEAL_ROLES = frozenset({"worker", "leader"})


class RevealNotAllowed(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "您的角色不能查看这项敏感信息。")


def device_role(session: Session) -> str | None:
    """The enrolled person's role, or None on a device not enrolled yet."""
    found = enrollment(session)
    return None if found is None else found.role


def can_reveal(role: str | None) -> bool:
    """Whether ``role`` may see sensitive fields in clear (see REVEAL_ROLES)."""
    return role is None or role in REVEAL_ROLES


def _require_reveal(session: Session) -> None:
    if not can_reveal(device_role(session)):
        raise RevealNotAllowed()


def mask_tags(tags: list[str]) -> list[str]:
    """Tags for the screen: special-group tags folded into one HIDDEN_TAG."""
    shown = [t for t in tags if t not in SENSITIVE_TAGS]
    return [*shown, HIDDEN_TAG] if len(shown) < len(tags) else shown


def mask_id_number(value: str | None) -> str | None:
    """``330205198001011234`` -> ``3302**********1234``: region and tail only."""
    if not value or len(value) <= 8:
        return mask(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``: the middle digits hidden."""
    if not value or len(value) <= 7:
        return mask(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask(value: str | None) -> str | None:
    """Keep the last four characters: enough to tell records apart on screen."""
    if not value:
        return value
    return "*" * max(0, len(value) - 4) + value[-4:]


def create_household(
    session: Session,
    head_name: str,
    address: str,
    category: str = "ordinary",
    phone: str | None = None,
    id_number: str | None = None,
    tags: list[str] | None = None,
    grid_id: str | None = None,
    position: tuple[float, float] | None = None,
) -> str:
    """Insert a household, its outbox entry and its audit entry in one transaction.
    ``position``: (lat, lon) WGS-84 where the household lives, when the worker
    registers it at its door (the review's far-from-home check compares home visits
    with it, here and at the centre)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if position is not None:
        lat, lon = (float(v) for v in position)
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
                and -180 <= lon <= 180):
            raise ValueError(f"position out of range: {position!r}")
    household_id = new_id()
    now = session.clock()
    row = {
        "id": household_id,
        "grid_id": grid_id,
        "head_name": head_name,
        "address": address,
        "category": category,
        "phone": phone,
        "id_number": id_number,
        "tags": json.dumps(tags or [], ensure_ascii=False),
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    if position is not None:
        row["lat"], row["lon"] = lat, lon
    # A plain INSERT, not sqlite-utils' ``Table.insert``: that wraps itself in
    # ``with conn:`` and so would COMMIT the row on its own, before the outbox and
    # audit entries, breaking the one-transaction guarantee if either then fails.
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    with session.db.conn:
        session.db.execute(
            f"INSERT INTO households ({columns}) VALUES ({placeholders})", list(row.values())
        )
        session.enqueue("household.create", household_id, row)
        session.audit.append(audit.RECORD_CREATED, {"kind": "household", "id": household_id})
    return household_id


EDITABLE_FIELDS = ("head_name", "address", "category", "phone", "id_number", "tags")


def update_household(session: Session, household_id: str, fields: dict[str, Any]) -> str:
    """Change some fields of a household: the row, its outbox op and audit entry in one
    transaction. The op carries the version last pulled from the server (``base_version``),
    so the server can merge it with other devices' changes field by field.

    ``tags`` is a list of texts: it is sent as the tags added and removed
    (``household.tags``, merged as a set), the other fields as one ``household.update``.
    Returns the op id (of the update; of the tags op when only tags changed; ``""``
    when nothing needed sending).
    """
    if not fields:
        raise ValueError("no fields to change")
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"{name!r} cannot be changed")
        if name in ("head_name", "address") and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"{name} must not be empty")
        if name == "category" and value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}")
        if name == "tags" and not (
            isinstance(value, list) and all(isinstance(t, str) for t in value)
        ):
            raise ValueError("tags must be a list of texts")
    columns = {
        name: json.dumps(value, ensure_ascii=False) if name == "tags" else value
        for name, value in fields.items()
    }
    with session.db.conn:
        row = session.db.execute(
            "SELECT version, tags FROM households WHERE id = ?", (household_id,)
        ).fetchone()
        if row is None:
            raise KeyError(household_id)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        session.db.execute(
            f"UPDATE households SET {assignments}, updated_at = ? WHERE id = ?",
            [*columns.values(), session.clock(), household_id],
        )
        # Tags are a set: the new list travels as the tags added and removed
        # (``household.tags``), so two devices adding different tags both keep theirs.
        rest = {name: value for name, value in fields.items() if name != "tags"}
        op_id = ""
        if "tags" in fields:
            old_tags = json.loads(row[1] or "[]")
            add = [t for t in dict.fromkeys(fields["tags"]) if t not in old_tags]
            remove = [t for t in old_tags if t not in fields["tags"]]
            if add or remove:  # the same tags again: nothing to send
                op_id = session.enqueue(
                    "household.tags", household_id, {"add": add, "remove": remove}
                )
        if rest:
            op_id = session.enqueue(
                "household.update",
                household_id,
                {"base_version": int(row[0]), "fields": rest},
            )
        session.audit.append(
            audit.RECORD_UPDATED, {"kind": "household", "id": household_id,
                                   "fields": sorted(fields)}
        )
    return op_id


def change_tags(
    session: Session, household_id: str, add: list[str] | None = None,
    remove: list[str] | None = None,
) -> str:
    """Add and remove tags of a household (a set merge on the server, never a conflict).
    Returns the op id."""
    row = session.db.execute(
        "SELECT tags FROM households WHERE id = ?", (household_id,)).fetchone()
    if row is None:
        raise KeyError(household_id)
    current = json.loads(row[0] or "[]")
    kept = [t for t in current if t not in (remove or [])]
    return update_household(
        session, household_id, {"tags": kept + [t for t in add or [] if t not in kept]}
    )


MEMBER_FIELDS = ("name", "relation", "id_number", "phone", "residence")
RESIDENCES = ("registered", "floating", "tenant")


def _check_member(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name not in MEMBER_FIELDS:
            raise ValueError(f"{name!r} cannot be changed")
        if name in ("name", "relation") and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"{name} must not be empty")
        if name == "residence" and value not in RESIDENCES:
            raise ValueError(f"unknown residence {value!r}")


def add_member(
    session: Session,
    household_id: str,
    name: str,
    relation: str,
    id_number: str | None = None,
    phone: str | None = None,
    residence: str = "registered",
) -> str:
    """A new member of a household: the row, its ``member.create`` op and the audit
    entry in one transaction. Returns the member id."""
    values = {"name": name, "relation": relation, "id_number": id_number, "phone": phone,
              "residence": residence}
    _check_member(values)
    member_id = new_id()
    now = session.clock()
    with session.db.conn:
        if session.db.execute(
            "SELECT 1 FROM households WHERE id = ?", (household_id,)).fetchone() is None:
            raise KeyError(household_id)
        session.db.execute(
            "INSERT INTO members (id, household_id, name, relation, id_number, phone,"
            " residence, version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,0,?,?)",
            (member_id, household_id, name, relation, id_number, phone, residence, now, now),
        )
        session.enqueue("member.create", member_id, {"household_id": household_id, **values})
        session.audit.append(audit.RECORD_CREATED, {"kind": "member", "id": member_id})
    return member_id


def update_member(session: Session, member_id: str, fields: dict[str, Any]) -> str:
    """Change some fields of a member (field-level, based on the version last pulled):
    the row, its ``member.update`` op and audit entry in one transaction. Returns the
    op id."""
    if not fields:
        raise ValueError("no fields to change")
    _check_member(fields)
    with session.db.conn:
        row = session.db.execute(
            "SELECT version, household_id FROM members WHERE id = ?", (member_id,)
        ).fetchone()
        if row is None:
            raise KeyError(member_id)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        session.db.execute(
            f"UPDATE members SET {assignments}, updated_at = ? WHERE id = ?",
            [*fields.values(), session.clock(), member_id],
        )
        op_id = session.enqueue(
            "member.update", member_id,
            {"household_id": row[1], "base_version": int(row[0]), "fields": dict(fields)},
        )
        session.audit.append(
            audit.RECORD_UPDATED, {"kind": "member", "id": member_id, "fields": sorted(fields)}
        )
    return op_id


def remove_member(session: Session, member_id: str) -> str:
    """Remove a member (a tombstone on the server, based on the version last pulled):
    the row goes, its ``member.remove`` op and audit entry are written in one
    transaction. Returns the op id."""
    with session.db.conn:
        row = session.db.execute(
            "SELECT version, household_id FROM members WHERE id = ?", (member_id,)
        ).fetchone()
        if row is None:
            raise KeyError(member_id)
        session.db.execute("DELETE FROM members WHERE id = ?", (member_id,))
        op_id = session.enqueue(
            "member.remove", member_id, {"household_id": row[1], "base_version": int(row[0])}
        )
        session.audit.append(audit.RECORD_UPDATED,
                             {"kind": "member", "id": member_id, "fields": ["removed"]})
    return op_id


def list_members(session: Session, household_id: str) -> list[dict[str, Any]]:
    """The household's members, sensitive fields masked."""
    rows = session.db.execute(
        "SELECT id, name, relation, id_number, phone, residence, version FROM members"
        " WHERE household_id = ? ORDER BY created_at, id", (household_id,)
    ).fetchall()
    keys = ("id", "name", "relation", "id_number", "phone", "residence", "version")
    out = []
    for r in rows:
        item = dict(zip(keys, r, strict=True))
        for name in SENSITIVE_FIELDS:
            item[name] = mask(item[name])
        out.append(item)
    return out


def get_household(session: Session, household_id: str) -> dict[str, Any]:
    """The household with sensitive fields masked."""
    row = dict(Table(session.db, "households").get(household_id))
    for name in SENSITIVE_FIELDS:
        row[name] = mask(row[name])
    row["tags"] = json.loads(row["tags"])
    return row


def reveal_field(session: Session, household_id: str, field: str) -> str | None:
    """Show one sensitive field in clear; every reveal is audited. Refused
    (:class:`RevealNotAllowed`) when the device's role may not (see can_reveal)."""
    if field not in SENSITIVE_FIELDS:
        raise ValueError(f"{field!r} is not a sensitive field")
    _require_reveal(session)
    value = Table(session.db, "households").get(household_id)[field]
    with session.db.conn:
        session.audit.append(
            audit.SENSITIVE_VIEWED, {"kind": "household", "id": household_id, "field": field}
        )
    return value  # type: ignore[no-any-return]


def reveal_member_field(session: Session, member_id: str, field: str) -> str | None:
    """A member's sensitive field in clear, audited like :func:`reveal_field`."""
    if field not in SENSITIVE_FIELDS:
        raise ValueError(f"{field!r} is not a sensitive field")
    _require_reveal(session)
    row = session.db.execute(
        f"SELECT {field} FROM members WHERE id = ?", (member_id,)).fetchone()
    if row is None:
        raise KeyError(member_id)
    with session.db.conn:
        session.audit.append(
            audit.SENSITIVE_VIEWED, {"kind": "member", "id": member_id, "field": field}
        )
    return row[0]  # type: ignore[no-any-return]


def reveal_tags(session: Session, household_id: str) -> list[str]:
    """All tags in clear, special groups included; audited as field ``tags``."""
    _require_reveal(session)
    row = session.db.execute(
        "SELECT tags FROM households WHERE id = ?", (household_id,)).fetchone()
    if row is None:
        raise KeyError(household_id)
    with session.db.conn:
        session.audit.append(
            audit.SENSITIVE_VIEWED, {"kind": "household", "id": household_id, "field": "tags"}
        )
    return list(json.loads(row[0] or "[]"))
