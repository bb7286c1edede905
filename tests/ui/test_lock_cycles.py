"""A working day's locks and unlocks keep nothing (issue 15): after the first cycles have
warmed caches up, twenty more leave the number of Python objects, of Qt widgets and of
the shell window's Qt objects where they were, with a patrol running (its track shown on
the Patrol page) and every other lock coming before the pages' background loads are back.
bench/lock_cycles.py measures the process's memory over 200 cycles."""

from __future__ import annotations

import collections
import gc
import math
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QEvent, QObject, QThreadPool
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from uihelpers import PIN

from fieldclient.fieldwork import patrols
from fieldclient.geo.geometry import Fix
from fieldclient.storage.session import Session, unlock_device
from ui import tasks
from ui.controller import AppController
from ui.patrol_tracker import PatrolTracker

CYCLES = 20


@pytest.fixture(autouse=True)
def no_positioning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = f"nmea-file:{tmp_path / 'no-such.nmea'}"
    monkeypatch.setattr(PatrolTracker, "source_spec", lambda self: missing)


def census(qapp: QApplication, controller: AppController) -> dict[str, object]:
    QThreadPool.globalInstance().waitForDone(10_000)
    for _ in range(3):
        qapp.processEvents()
        qapp.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()
    objects = gc.get_objects()
    ours = collections.Counter(
        type(o).__qualname__ for o in objects
        if str(getattr(type(o), "__module__", "")).startswith(
            ("ui.", "fieldclient.", "sync.", "PySide6.")))
    found = {
        "python_objects": len(objects),
        "widgets": len(qapp.allWidgets()),
        "qobjects_in_window": len(controller.window.findChildren(QObject)),
        "open_sessions": sum(1 for o in objects if isinstance(o, Session) and o.is_open),
        "our_types": ours,
        "all_types": collections.Counter(type(o).__qualname__ for o in objects),
    }
    del objects
    return found


@pytest.mark.no_qt_log  # pytest-qt would keep each Qt warning of the cycles
def test_lock_unlock_cycles_keep_nothing(
    cheap_device_keys: None, make_controller: Callable[..., AppController], device: Path,
    qtbot: QtBot, qapp: QApplication,
) -> None:
    session = unlock_device(device, PIN)
    patrol = patrols.start_patrol(session, "101")
    t0 = session.clock()
    patrols.TrackRecorder(session, patrol.id).add_many([
        Fix(t=t0 + i, lat=31.2479 + 1e-5 * math.sin(i / 50), lon=121.5874 + 1e-5 * i,
            accuracy_m=4.0) for i in range(600)])
    session.close()
    controller = make_controller()

    def cycle(index: int) -> None:
        controller.on_session(unlock_device(device, PIN))
        assert controller.main_view is not None
        if index % 3 == 0:
            controller.main_view.show_page("patrol")
        if index % 2 == 0:  # else locked while the pages' loads are still running
            QThreadPool.globalInstance().waitForDone(10_000)
            qapp.processEvents()
        controller.lock("manual")
        qapp.processEvents()

    for index in range(6):  # caches warm up: translations, styles, the tracker's figures
        cycle(index)
    census(qapp, controller)
    before = census(qapp, controller)
    for index in range(CYCLES):
        cycle(index)
    after = census(qapp, controller)
    assert after["widgets"] == before["widgets"]
    assert after["qobjects_in_window"] == before["qobjects_in_window"]
    assert after["open_sessions"] == before["open_sessions"] == 0
    grown = collections.Counter(after["our_types"])  # type: ignore[arg-type]
    grown.subtract(before["our_types"])  # type: ignore[arg-type]
    assert {k: v for k, v in grown.items() if v} == {}
    # Less than one Python object a cycle (the locked screen is a new one each time).
    growth = int(after["python_objects"]) - int(before["python_objects"])  # type: ignore[call-overload]
    every = collections.Counter(after["all_types"])  # type: ignore[arg-type]
    every.subtract(before["all_types"])  # type: ignore[arg-type]
    assert growth < CYCLES, {k: v for k, v in every.items() if v}
    for widget in qapp.allWidgets():
        assert shiboken6.isValid(widget)


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Python's automatic collector off: whether the app collects after a lock must not
    depend on when a collection happens to run."""
    was = gc.isenabled()
    gc.collect()  # what earlier tests left is not this test's
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@pytest.mark.no_qt_log
@pytest.mark.parametrize("unlock_again", [False, True], ids=["locked", "unlocked-again"])
def test_a_lock_frees_the_unlocked_pages_and_session(
    collector_off: None, cheap_device_keys: None,
    make_controller: Callable[..., AppController], device: Path, qtbot: QtBot,
    qapp: QApplication, unlock_again: bool,
) -> None:
    """The pages, their loads and the closed session hold one another in reference cycles:
    deleting the widgets frees only their C++ side. The app collects them itself once a
    lock has deleted them (issue 15: left to the collector, a few MB piled up per lock and
    glibc's heap grew with the pile), so the texts they held are scrubbed at the lock;
    unlocked again at once, after the new pages' loads are back."""
    controller = make_controller()
    controller.on_session(unlock_device(device, PIN))
    view, session = controller.main_view, controller.session
    assert view is not None and session is not None
    for name in ("patrol", "households", "today"):
        view.show_page(name)
    QThreadPool.globalInstance().waitForDone(10_000)
    qapp.processEvents()
    gone_view, gone_session = weakref.ref(view), weakref.ref(session)
    pages = [weakref.ref(page) for page in view.pages.values()]
    del view, session
    with qtbot.waitSignal(controller.memory_released, timeout=15_000):
        controller.lock("manual")
        if unlock_again:
            controller.on_session(unlock_device(device, PIN))
            assert controller.main_view is not None
            controller.main_view.show_page("patrol")
    assert gone_view() is None
    assert gone_session() is None
    if unlock_again:
        assert controller.session is not None and controller.session.is_open
        assert tasks.pending_tasks() == 0  # collected once the new pages' loads were back
    else:
        assert [p() for p in pages if p() is not None] == []
        assert gc.collect() < 100  # nothing of the unlocked pages was left to collect
