"""Per-district settings on the central server: strict validation, storage, which value
a grid gets, the ``central config`` commands, and the visit page's index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from central_helpers import central, central_json
from sqlalchemy import insert, select, text

from central import db, settings
from central.seed import seed_demo

DEFAULT_RULES = json.loads(
    (Path(__file__).resolve().parents[2] / "resources" / "quotas" / "default.json")
    .read_text("utf-8"))


def rule(**overrides: Any) -> dict[str, Any]:
    return {"id": "r1", "kind": "visit", "category": "key", "period": "month", "times": 1,
            **overrides}


@pytest.mark.parametrize("value, fragment", [
    ([], "JSON object"),
    ({"rules": []}, "1 to"),
    ({"rules": [rule()], "extra": 1}, "unknown key"),
    ({"rules": [rule(period="fortnight")]}, "period"),
    ({"rules": [rule(times=0)]}, "times"),
    ({"rules": [rule(times=True)]}, "times"),
    ({"rules": [rule(times="1")]}, "times"),
    ({"rules": [rule(kind="meeting")]}, "kind"),
    ({"rules": [rule(category="vip")]}, "category"),
    ({"rules": [{"id": "r", "kind": "visit", "period": "day", "times": 1}]}, "category"),
    ({"rules": [rule(kind="patrol")]}, "no category"),
    ({"rules": [rule(), rule()]}, "twice"),
    ({"rules": [rule(id="")]}, "id"),
])
def test_bad_quota_rules_are_refused(value: Any, fragment: str) -> None:
    with pytest.raises(settings.SettingError, match=fragment):
        settings.validate("quota_rules", value)


def test_default_rules_and_categories_are_valid() -> None:
    assert settings.validate("quota_rules", DEFAULT_RULES) == DEFAULT_RULES
    cats = {"categories": [{"zh": " 矛盾纠纷 ", "en": "Disputes"}, {"zh": "其他"}]}
    assert settings.validate("event_categories", cats) == {
        "categories": [{"zh": "矛盾纠纷", "en": "Disputes"}, {"zh": "其他"}]}
    for bad, fragment in [
        ({"categories": [{"zh": "一" * 21}]}, "20"),
        ({"categories": [{"zh": "其他"}, {"zh": "其他"}]}, "twice"),
        ({"categories": [{"en": "Other"}]}, "missing zh"),
        ({"categories": [{"zh": "其他", "code": 1}]}, "unknown key"),
        ({"categories": "矛盾纠纷"}, "list"),
    ]:
        with pytest.raises(settings.SettingError, match=fragment):
            settings.validate("event_categories", bad)
    with pytest.raises(settings.SettingError, match="unknown setting"):
        settings.validate("checklist", {})


def test_quick_phrases_are_validated() -> None:
    assert settings.validate("quick_phrases", {"event": [" 路灯  损坏 ", "井盖缺失"]}) == {
        "event": ["路灯 损坏", "井盖缺失"]}
    both = {"visit": [{"zh": "按时服药", "en": "Takes medicine on time"}, "无特殊需求"]}
    assert settings.validate("quick_phrases", both) == both
    for bad, fragment in [
        ({}, "at least one"),
        ({"visit": ["按时服药", "按时服药"]}, "twice"),
        ({"visit": ["一" * 41]}, "40"),
        ({"visit": [""]}, "non-empty"),
        ({"visit": ["好"] * 31}, "30"),
        ({"patrol": ["正常"]}, "unknown key"),
        ({"visit": "按时服药"}, "list"),
        ({"visit": [{"en": "No zh"}]}, "missing zh"),
        ({"visit": [{"zh": "好", "fr": "bien"}]}, "unknown key"),
    ]:
        with pytest.raises(settings.SettingError, match=fragment):
            settings.validate("quick_phrases", bad)


def test_support_contact_is_validated() -> None:
    good = {"name": " 江北区 信息科 ", "phone": "0574-87654321"}
    assert settings.validate("support_contact", good) == {
        "name": "江北区 信息科", "phone": "0574-87654321"}
    for bad, fragment in [
        ({"name": "IT"}, "missing phone"),
        ({"name": "IT", "phone": "call me"}, "phone number"),
        ({"name": "", "phone": "110"}, "non-empty"),
        ({"name": "IT", "phone": "110", "email": "x"}, "unknown key"),
    ]:
        with pytest.raises(settings.SettingError, match=fragment):
            settings.validate("support_contact", bad)


def test_most_specific_unit_wins_and_each_change_gets_a_new_seq(fresh_db: str) -> None:
    engine = db.make_engine(fresh_db)
    try:
        demo = seed_demo(engine, 2, 1, 3)
        grid = demo["grids"][0]["id"]
        village = demo["grids"][0]["village_id"]
        town = demo["town"]["id"]
        with engine.begin() as conn:
            seq0 = db.next_seq(conn, 0)
        first = settings.set_setting(engine, "quota_rules", DEFAULT_RULES)
        town_rules = {"rules": [rule(period="week")]}
        by_town = settings.set_setting(engine, "quota_rules", town_rules, town)
        assert seq0 < first["updated_seq"] < by_town["updated_seq"]
        with engine.connect() as conn:
            assert settings.effective(conn, [grid])["quota_rules"]["value"] == town_rules
            page = settings.config_page(conn, (grid,), seq0)
            assert [(c["id"], c["data"]["org_unit_id"]) for c in page] == [("quota_rules", town)]
            assert settings.config_page(conn, (grid,), by_town["updated_seq"]) == []
        village_rules = {"rules": [rule(times=3)]}
        settings.set_setting(engine, "quota_rules", village_rules, village)
        again = settings.set_setting(engine, "quota_rules", village_rules, village)  # update
        with engine.connect() as conn:
            best = settings.effective(conn, [grid])["quota_rules"]
            assert best["value"] == village_rules and best["updated_seq"] == again["updated_seq"]
        assert [(s["key"], s["org_unit_id"]) for s in settings.list_settings(engine)] == [
            ("quota_rules", None), ("quota_rules", town), ("quota_rules", village)]
        with pytest.raises(settings.SettingError, match="no org unit"):
            settings.set_setting(engine, "quota_rules", DEFAULT_RULES, 999_999)
    finally:
        engine.dispose()


def test_config_cli_set_show_and_refuse(sqlite_db: str, tmp_path: Path) -> None:
    good = tmp_path / "rules.json"
    good.write_text(json.dumps(DEFAULT_RULES), "utf-8")
    stored = central_json(sqlite_db, "config", "set", "quota_rules", str(good))
    assert stored["value"] == DEFAULT_RULES and stored["org_unit_id"] is None
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"id": "p", "kind": "patrol", "period": "day", "times": 0}]}')
    refused = central(sqlite_db, "config", "set", "quota_rules", str(bad), check=False)
    assert refused.returncode == 1 and "times" in refused.stderr
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"{not json")
    assert central(sqlite_db, "config", "set", "quota_rules", str(broken),
                   check=False).returncode == 1
    assert central(sqlite_db, "config", "set", "quota_rules", str(tmp_path / "none.json"),
                   check=False).returncode == 2
    unknown = central(sqlite_db, "config", "set", "colours", str(good), check=False)
    assert unknown.returncode == 1 and "unknown setting" in unknown.stderr
    shown = central_json(sqlite_db, "config", "show")
    assert [(s["key"], s["value"]) for s in shown] == [("quota_rules", DEFAULT_RULES)]
    assert "quota_rules for everywhere" in central(sqlite_db, "config", "show").stdout


def test_visit_page_reads_through_the_index(sqlite_db: str) -> None:
    engine = db.make_engine(sqlite_db)
    try:
        with engine.begin() as conn:
            unit = conn.execute(insert(db.org_units).values(
                level="grid", name="g")).inserted_primary_key[0]
            conn.execute(insert(db.records), [
                {"kind": "household.create" if i % 2 else "visit.create", "id": f"r{i}",
                 "grid_id": unit, "device_id": "d", "person_id": 1, "content_hash": "h",
                 "payload": {}, "seq": i, "received_at": "t"} for i in range(50)])
            plan = " ".join(str(r[-1]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM records WHERE kind = 'visit.create'"
                " AND grid_id IN (1, 2) AND seq > 5 ORDER BY seq LIMIT 10")))
            assert "ix_records_kind_grid" in plan
            from central.syncops import NO_WATERMARK, _visits_page

            page = _visits_page(conn, (int(unit),), 10, 5, NO_WATERMARK)
            assert [c["id"] for c in page] == ["r12", "r14", "r16", "r18", "r20"]
            assert all(c["kind"] == "visit" and c["data"]["grid_id"] == str(unit)
                       for c in page)
            assert conn.execute(select(db.schema_version.c.version).order_by(
                db.schema_version.c.version.desc())).first() == (db.LATEST_VERSION,)
    finally:
        engine.dispose()
