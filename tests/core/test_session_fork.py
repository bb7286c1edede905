"""Session.fork: a second connection for another thread, with its own key copy."""

from __future__ import annotations

import pytest

from fieldclient.errors import SessionLocked
from fieldclient.fieldwork.households import create_household
from fieldclient.storage.session import Session


def test_fork_sees_the_same_data_and_closes_independently(session: Session) -> None:
    forked = session.fork()
    try:
        household_id = create_household(forked, "王秀英", "庄市街道东村3组12号")
        assert session.db["households"].get(household_id)["head_name"] == "王秀英"
        assert forked.db.conn is not session.db.conn
    finally:
        forked.close()
    assert not forked.is_open and session.is_open
    assert session.records_by_kind()["household"] == 1  # the original still works


def test_a_locked_session_cannot_be_forked(session: Session) -> None:
    session.close()
    with pytest.raises(SessionLocked):
        session.fork()
