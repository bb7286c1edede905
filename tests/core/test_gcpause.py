"""Cyclic collection paused around allocation-heavy work (``fieldclient.gcpause``):
the collector comes back when the last of overlapping pauses ends, and only if it was
on before; the device's review month runs with it paused."""

from __future__ import annotations

import gc
import random
import sys
import threading
from collections.abc import Iterator

import pytest
from device_fixtures import FakeClock
from test_review_device import NOW, ZONE, _fill

from fieldclient.fieldwork import review as device_review
from fieldclient.gcpause import paused_gc
from fieldclient.storage.session import Session


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """Generations of the cyclic collections that run, with a collection due at every
    container allocation while the collector is on."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    threshold = gc.get_threshold()
    enabled = gc.isenabled()
    gc.enable()
    gc.set_threshold(1, 1, 1)
    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*threshold)
        if not enabled:
            gc.disable()


def test_the_collector_is_off_inside_and_back_after(collections: list[int]) -> None:
    with paused_gc():
        assert not gc.isenabled()
        collections.clear()
        junk = [[i] for i in range(1000)]
        assert collections == []
    assert gc.isenabled()
    junk = [[i] for i in range(1000)]
    assert collections and junk


def test_a_collector_that_was_off_stays_off() -> None:
    enabled = gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        if enabled:
            gc.enable()


def test_overlapping_pauses_on_two_threads_end_with_the_last(
        collections: list[int]) -> None:
    first_in, second_in, first_may_end, first_out = (threading.Event() for _ in range(4))
    seen_inside: list[bool] = []

    def first() -> None:
        with paused_gc():
            first_in.set()
            first_may_end.wait(5)
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(5)
    with paused_gc():
        second_in.set()
        first_may_end.set()
        assert first_out.wait(5)
        seen_inside.append(gc.isenabled())  # the first pause ended, this one has not
    thread.join(5)
    assert seen_inside == [False]
    assert gc.isenabled()


def test_an_error_inside_still_restores_the_collector() -> None:
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), paused_gc():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_the_review_month_runs_without_cyclic_collections(
        session: Session, clock: FakeClock, collections: list[int]) -> None:
    clock.now = NOW
    _fill(session.db, random.Random(5))
    inside: list[str] = []

    def note(phase: str, info: dict[str, int]) -> None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code is device_review._month_figures.__code__:
                inside.append(phase)
            frame = frame.f_back

    gc.callbacks.append(note)
    try:
        figures = device_review.month_figures(session, "2026-12", now=NOW, zone=ZONE)
    finally:
        gc.callbacks.remove(note)
    assert figures["workers"]
    assert collections  # a collection was due at every allocation,
    assert inside == []  # and none ran while the figures were computed
    assert gc.isenabled()
