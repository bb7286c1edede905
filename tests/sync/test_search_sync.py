"""Search after real pulls from a live ``central serve``: households and members that
arrive by sync (the engine's bulk inserts and rebuilds) are found by pinyin, an edit
from another device replaces the old keys, and a supervisor's device keeps sensitive
fields masked (reveal refused)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sync_helpers import LiveServer, new_grid

from fieldclient.fieldwork import households
from fieldclient.fieldwork.households import add_member, create_household, update_household
from fieldclient.fieldwork.search import search_households

MakeDevice = Callable[..., Any]


def names(dev: Any, query: str) -> list[str]:
    return [h.head_name for h in search_households(dev.session, query)]


def test_pulled_households_are_searchable_and_follow_edits(
        live: LiveServer, make_device: MakeDevice) -> None:
    grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    hid = create_household(a.session, "欧阳修", "醉翁亭路1号", phone="13512345678")
    add_member(a.session, hid, "欧阳发", "子女", phone="13787654321")
    assert a.engine.run_once().ok
    assert b.engine.run_once().ok
    assert names(b, "oyx") == ["欧阳修"]
    assert names(b, "oyf") == ["欧阳修"]  # a member's initials
    assert names(b, "4321") == ["欧阳修"]  # a member's phone tail
    update_household(a.session, hid, {"head_name": "欧阳询"})
    assert a.engine.run_once().ok
    assert b.engine.run_once().ok
    assert names(b, "oyx") == ["欧阳询"]
    assert names(b, "欧阳修") == []
    assert names(b, "ouyangxun") == ["欧阳询"]


def test_supervisor_device_cannot_reveal(live: LiveServer, make_device: MakeDevice) -> None:
    supervisor = make_device(live, live.demo["supervisor"], "sup")
    assert supervisor.engine.run_once().ok
    assert households.device_role(supervisor.session) == "supervisor"
    hits = search_households(supervisor.session, "", limit=3)
    assert hits, "the demo district's households were pulled"
    before = len(list(supervisor.session.audit.entries()))
    with pytest.raises(households.RevealNotAllowed):
        households.reveal_field(supervisor.session, hits[0].household_id, "id_number")
    with pytest.raises(households.RevealNotAllowed):
        households.reveal_tags(supervisor.session, hits[0].household_id)
    assert len(list(supervisor.session.audit.entries())) == before  # nothing shown
    assert all("*" in (h.phone or "*") for h in hits)
