"""Stopping a sync on purpose (lock, quit): at the next step, nothing lost or doubled,
and pulled pages written so far stay with their cursor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sync_helpers import FAST_RETRY, LiveServer, new_grid

from fieldclient.fieldwork.households import create_household
from sync.engine import SyncEngine, SyncProgress

MakeDevice = Callable[..., Any]


def _count(dev: Any, table: str) -> int:
    return int(dev.session.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_cancel_before_push_sends_nothing_and_is_not_an_error(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    create_household(dev.session, "冯一", "东街1号")
    engine = SyncEngine(dev.session, dev.transport, retry=FAST_RETRY)
    engine.cancel()
    report = engine.run_once()
    assert report.cancelled and report.error is None and not report.ok
    assert report.pending == 1 and report.requests == 0
    engine.cancel_event.clear()
    assert engine.run_once().pushed == {"applied": 1}


def test_cancel_during_a_paged_pull_keeps_whole_pages_and_finishes_later(
    live: LiveServer, make_device: MakeDevice
) -> None:
    grid = new_grid(live.engine)
    writer = make_device(live, grid["workers"][0], "writer")
    for i in range(40):
        create_household(writer.session, f"褚{i}", f"西街{i}号")
    assert writer.engine.run_once().pushed == {"applied": 40}

    reader = make_device(live, grid["workers"][1], "reader")
    engine = SyncEngine(reader.session, reader.transport, retry=FAST_RETRY, page_size=7)

    def stop_after_two_pages(step: SyncProgress) -> None:
        if step.phase == "pull" and step.done >= 14:
            engine.cancel()

    first = engine.run_once(stop_after_two_pages)
    assert first.cancelled and first.error is None
    kept = _count(reader, "households")
    assert kept == 14  # two whole pages, committed with their cursor
    assert engine.cursor() > 0

    engine.cancel_event.clear()
    second = engine.run_once()
    assert second.ok and second.pulled.get("household") == 40 - kept  # only what was left
    assert _count(reader, "households") == 40
