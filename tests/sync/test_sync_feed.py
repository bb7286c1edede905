"""The pull feed's ``visit`` and ``config`` kinds over a real ``central serve``:
colleagues' visits reach every device of the grid; the centre's settings reach the
devices, the most specific org unit winning."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from central_helpers import central
from sqlalchemy import insert, select
from sync_helpers import LiveServer, launch, new_grid

from central import db
from fieldclient.fieldwork import serverconfig
from fieldclient.fieldwork.households import create_household
from fieldclient.fieldwork.visits import record_visit, visits_for_household

MakeDevice = Callable[..., Any]

RULES_GLOBAL = {"rules": [
    {"id": "patrol_daily", "kind": "patrol", "period": "day", "times": 1},
    {"id": "visit_key", "kind": "visit", "category": "key", "period": "month", "times": 1},
]}
RULES_VILLAGE = {"rules": [
    {"id": "patrol_daily", "kind": "patrol", "period": "day", "times": 2},
    {"id": "visit_key", "kind": "visit", "category": "key", "period": "week", "times": 1},
]}
CATEGORIES = {"categories": [{"zh": "矛盾纠纷", "en": "Disputes"}, {"zh": "其他"}]}


def local_visits(dev: Any) -> dict[str, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in dev.session.db.execute(
        "SELECT id, household_id, visit_type, people_met, situation, origin, photos FROM visits")}


def test_visits_of_colleagues_reach_the_grid(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine, workers=2)
    other_grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    outsider = make_device(live, other_grid["workers"][0], "outsider")
    hid = create_household(a.session, "陈阿婆", "幸福里3号", category="hardship")
    visit_id = record_visit(a.session, hid, visit_type="home", people_met="陈阿婆",
                            situation="身体尚好，独居", needs="冬季取暖", follow_up="下周再访")
    with a.session.db.conn:  # what `fieldclient simulate` of older builds sent
        a.session.enqueue("visit.create", "legacy-" + visit_id, {
            "id": "legacy-" + visit_id, "grid_id": grid["id"], "household_id": hid,
            "visited_at": a.session.clock(), "people_met": 2, "situation": "培训走访",
            "needs": "", "problems": "", "follow_up": "", "training": True})
    report = a.engine.run_once()
    assert report.ok and set(report.pushed) == {"applied"}, report.pushed
    assert "visit" not in report.pulled  # its own visits are not sent back
    assert local_visits(a)[visit_id][4] == "local"

    report = b.engine.run_once()
    assert report.ok, report.error
    assert report.pulled.get("visit") == 2
    got = local_visits(b)
    assert got[visit_id] == (hid, "home", "陈阿婆", "身体尚好，独居", "server", "[]")
    assert got["legacy-" + visit_id] == (hid, "other", "2", "培训走访", "server", "[]")
    history = visits_for_household(b.session, hid)
    assert [v.id for v in history if not v.training] == [visit_id]
    summary = b.session.db.execute(
        "SELECT visits FROM visit_summary WHERE household_id = ?", (hid,)).fetchone()
    assert summary == (1,)  # the training visit does not count for quotas

    assert outsider.engine.run_once().ok
    assert local_visits(outsider) == {}
    assert b.engine.run_once().pulled == {}  # nothing new: nothing again


def test_server_checks_visits(live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    other = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    hid = create_household(dev.session, "刘大爷", "和平路8号")
    assert dev.engine.run_once().ok
    stranger = make_device(live, other["workers"][0], "stranger")
    foreign = create_household(stranger.session, "外网格", "外面1号")
    assert stranger.engine.run_once().ok

    def op(n: int, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"grid_id": grid["id"], "household_id": hid, "visited_at": 1.7e9,
                "situation": "走访", **payload}
        return {"op_id": f"visit-op-{n}-{grid['id']}-xxxxxxx", "kind": "visit.create",
                "record_id": f"visit-{n}-{grid['id']}", "base_version": None,
                "payload": {k: v for k, v in body.items() if v is not None}}

    results = dev.transport.push([
        op(1, {"household_id": "no-such-household"}),
        op(2, {"household_id": foreign}),
        op(3, {"visit_type": "party"}),
        op(4, {"situation": "长" * 5001}),
        op(5, {"people_met": ["张三"]}),
        op(6, {"photos": "not json"}),
        op(7, {"visit_type": "phone", "photos": "[]", "people_met": "户主"}),
    ])["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "unknown_record"), ("rejected", "forbidden_grid"),
        ("rejected", "invalid"), ("rejected", "invalid"), ("rejected", "invalid"),
        ("rejected", "invalid"), ("applied", None)]


def _bad_feed_rows_are_skipped(dev: Any) -> None:
    """Rows too broken to store are held aside (``sync_held``, with the error), not
    lost; the page (and its cursor) still goes in."""
    page: Any = {"changes": [
        {"seq": 10**9, "kind": "visit", "id": "x1", "data": {"id": "x1"}},
        {"seq": 10**9, "kind": "visit", "id": "x2",
         "data": {"id": "x2", "grid_id": "1", "household_id": "h",
                  "visited_at": "yesterday"}},
        {"seq": 10**9, "kind": "visit", "id": "x3",
         "data": {"id": "x3", "grid_id": "1", "household_id": "h", "visited_at": 1.7e9,
                  "corrects": "zz"}},  # fits the schema; fails in the local database
        {"seq": 10**9, "kind": "config", "id": "k", "data": {"value": 1}},
    ], "next_after": 10**9, "has_more": False}
    before = dev.engine.cursor()
    from sync.engine import SyncReport

    dev.engine._apply_page(page, SyncReport())
    assert dev.engine.cursor() == 10**9 and before != 10**9
    assert local_visits(dev) == {}
    held = {(r["kind"], r["record_id"], r["reason"]) for r in dev.engine.held_rows()}
    assert held == {("visit", "x1", "failed"), ("visit", "x2", "failed"),
                    ("visit", "x3", "failed"), ("config", "k", "failed")}
    errors = {r["record_id"]: r["error"] for r in dev.engine.held_rows()}
    assert "FOREIGN KEY" in errors["x3"] and "key" in errors["k"]
    assert "visited_at" in errors["x2"]  # the schema names the field


def test_broken_feed_rows_do_not_stop_the_page(live: LiveServer,
                                               make_device: MakeDevice) -> None:
    dev = make_device(live, new_grid(live.engine)["workers"][0])
    _bad_feed_rows_are_skipped(dev)


# -- config ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def own_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own: a global setting reaches every device of a server, which
    would change what the other tests' devices pull."""
    server = launch(tmp_path_factory.mktemp("central-config"))
    try:
        yield server
    finally:
        server.stop()


def config_set(server: LiveServer, tmp: Path, key: str, value: Any,
               district: int | None = None) -> Any:
    path = tmp / f"{key}-{district}.json"
    path.write_text(json.dumps(value, ensure_ascii=False), "utf-8")
    extra = ["--district", str(district)] if district is not None else []
    return central(server.db_url, "config", "set", key, str(path), *extra, check=False)


def test_settings_reach_devices_most_specific_wins(
    own_live: LiveServer, make_device: MakeDevice, tmp_path: Path
) -> None:
    server = own_live
    with server.engine.begin() as conn:  # a second village with a grid of its own
        village = conn.execute(select(db.org_units).where(
            db.org_units.c.level == "village")).first()
        assert village is not None
        own_village = conn.execute(insert(db.org_units).values(
            parent_id=village.parent_id, level="village", name="新村")).inserted_primary_key[0]
    local = new_grid(server.engine)
    with server.engine.begin() as conn:
        conn.execute(db.org_units.update().where(db.org_units.c.id == local["id"])
                     .values(parent_id=own_village))
    elsewhere = new_grid(server.engine)
    dev = make_device(server, local["workers"][0], "local")
    far = make_device(server, elsewhere["workers"][0], "far")

    assert config_set(server, tmp_path, "quota_rules", RULES_GLOBAL).returncode == 0
    assert config_set(server, tmp_path, "event_categories", CATEGORIES).returncode == 0
    for d in (dev, far):
        report = d.engine.run_once()
        assert report.ok and report.pulled.get("config") == 2, report.pulled
        assert serverconfig.get(d.session.db, serverconfig.QUOTA_RULES) == RULES_GLOBAL
        assert serverconfig.get(d.session.db, serverconfig.EVENT_CATEGORIES) == CATEGORIES

    # the village's own rules beat the global ones, for its grids only
    assert config_set(server, tmp_path, "quota_rules", RULES_VILLAGE,
                      district=int(own_village)).returncode == 0
    assert dev.engine.run_once().pulled == {"config": 1}
    assert serverconfig.get(dev.session.db, serverconfig.QUOTA_RULES) == RULES_VILLAGE
    assert far.engine.run_once().pulled == {}
    assert serverconfig.get(far.session.db, serverconfig.QUOTA_RULES) == RULES_GLOBAL

    # a newer global value: the far grid gets it, the village keeps its own
    newer = {"rules": [*RULES_GLOBAL["rules"],
                       {"id": "visit_ordinary", "kind": "visit", "category": "ordinary",
                        "period": "year", "times": 2}]}
    assert config_set(server, tmp_path, "quota_rules", newer).returncode == 0
    assert far.engine.run_once().pulled == {"config": 1}
    assert serverconfig.get(far.session.db, serverconfig.QUOTA_RULES) == newer
    assert dev.engine.run_once().pulled == {}
    assert serverconfig.get(dev.session.db, serverconfig.QUOTA_RULES) == RULES_VILLAGE

    # an invalid file is refused by the CLI and changes nothing anywhere
    bad = config_set(server, tmp_path, "quota_rules",
                     {"rules": [{"id": "x", "kind": "visit", "period": "day", "times": 1}]})
    assert bad.returncode == 1 and "category" in bad.stderr and "nothing" in bad.stderr
    assert far.engine.run_once().pulled == {}
    shown = json.loads(central(server.db_url, "config", "show", "--json").stdout)
    assert [(s["key"], s["org_unit_id"]) for s in shown] == [
        ("event_categories", None), ("quota_rules", None), ("quota_rules", int(own_village))]


def test_quick_phrases_and_support_contact_reach_the_device(
    own_live: LiveServer, make_device: MakeDevice, tmp_path: Path
) -> None:
    """``central config set quick_phrases``: the device's visit form offers the
    centre's phrases; a kind the centre left out keeps the product's defaults; a bad
    file changes nothing."""
    from fieldclient.fieldwork import phrases

    server = own_live
    grid = new_grid(server.engine)
    dev = make_device(server, grid["workers"][0], "phrases")
    assert dev.engine.run_once().ok  # what other tests set on this centre
    assert phrases.quick_phrases(dev.session.db, "visit") == list(phrases.defaults()["visit"])
    value = {"visit": ["老人独居，已安装烟感", " 子女每周 回来 "]}
    assert config_set(server, tmp_path, "quick_phrases", value).returncode == 0
    assert dev.engine.run_once().pulled == {"config": 1}
    assert phrases.quick_phrases(dev.session.db, "visit") == [
        "老人独居，已安装烟感", "子女每周 回来"]
    assert phrases.quick_phrases(dev.session.db, "event") == list(phrases.defaults()["event"])
    bad = config_set(server, tmp_path, "quick_phrases", {"visit": ["一" * 41]})
    assert bad.returncode == 1 and "40" in bad.stderr and "nothing" in bad.stderr
    assert dev.engine.run_once().pulled == {}
    # whom to call for a forgotten PIN, the same way
    contact = {"name": "江北区网格中心信息科", "phone": "0574-87654321"}
    assert config_set(server, tmp_path, "support_contact", contact).returncode == 0
    assert dev.engine.run_once().pulled == {"config": 1}
    assert serverconfig.support_contact(dev.session.db) == (contact["name"], contact["phone"])
