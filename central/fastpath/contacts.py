"""Devices' last contacts, batched: a signed request notes its device's contact in
memory, and a background thread writes what was noted every :data:`FLUSH_SECONDS`
(and at shutdown) in one transaction with one ``UPDATE`` statement run for all the
devices noted. Before this every authenticated request updated its device's row in a
write transaction: a durable write per ``GET``, and on SQLite all traffic serialised on
the writer lock.

What is written: ``last_contact`` (never moved backwards: several server processes
flush the same device in any order), the app version and protocol level its headers
stated (``central devices``, the fleet view), and, when the contact last placed in the
review feed is :data:`sync.protocol.CONTACT_STEP_SECONDS` old, a new place there
(``contact_sent``, ``feed_seq``; numbered in the flush's transaction). So the fleet
view and reviewers' devices are late by at most :data:`FLUSH_SECONDS` (plus one
flush's time). Each process keeps its own book: nothing is shared between processes
but the database, and a contact noted by two of them is written twice, harmlessly.

A process that dies without its shutdown loses at most :data:`FLUSH_SECONDS` of last
contacts: the next request of each device notes it again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, case, func, or_, update

from central import auditanchor, db
from central.limits import DEFAULT_CONTACT_FLUSH
from sync import protocol

log = logging.getLogger("central")

FLUSH_SECONDS = DEFAULT_CONTACT_FLUSH


@dataclass
class _Contact:
    last_contact: str
    values: dict[str, Any] = field(default_factory=dict)
    step: bool = False  # a new place in the review feed is due


_d = db.devices
_FLUSH = (
    update(_d)
    .where(_d.c.id == bindparam("b_id"))
    .values(
        last_contact=case(
            (or_(_d.c.last_contact.is_(None), _d.c.last_contact < bindparam("b_last")),
             bindparam("b_last")),
            else_=_d.c.last_contact),
        app_version=func.coalesce(bindparam("b_version", type_=_d.c.app_version.type),
                                  _d.c.app_version),
        protocol_level=func.coalesce(bindparam("b_level", type_=_d.c.protocol_level.type),
                                     _d.c.protocol_level),
        contact_sent=case((bindparam("b_seq", type_=_d.c.feed_seq.type).is_not(None),
                           bindparam("b_last")), else_=_d.c.contact_sent),
        feed_seq=func.coalesce(bindparam("b_seq", type_=_d.c.feed_seq.type), _d.c.feed_seq),
    )
)


def step_due(contact_sent: Any, now: datetime) -> bool:
    """Whether a contact at ``now`` takes a new place in the review feed: the one last
    placed there (``contact_sent``) is at least ``CONTACT_STEP_SECONDS`` old or none."""
    if contact_sent is None:
        return True
    try:
        sent = datetime.fromisoformat(str(contact_sent).replace("Z", "+00:00"))
        return (now - sent).total_seconds() >= protocol.CONTACT_STEP_SECONDS
    except (ValueError, TypeError):
        return True


class ContactBook:
    """The last contacts noted since the last flush, for one server process."""

    def __init__(self, engine: Engine, interval: float = FLUSH_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self._pending: dict[str, _Contact] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one flush at a time (thread and shutdown)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, device_id: str, contact_sent: Any, now: datetime,
             headers: dict[str, str]) -> None:
        """A signed request of ``device_id`` (an active device) at ``now``; its row's
        ``contact_sent`` as read for the request."""
        values = auditanchor.contact_values(headers)
        due = step_due(contact_sent, now)
        stamp = db.iso(now)
        with self._lock:
            entry = self._pending.get(device_id)
            if entry is None:
                self._pending[device_id] = _Contact(stamp, values, due)
            else:
                entry.last_contact = max(entry.last_contact, stamp)
                entry.values.update(values)
                entry.step = entry.step or due
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="contact-flush",
                                                daemon=True)
                self._thread.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write what was noted (one transaction); returns how many devices. On a
        failure what was taken goes back to be written at the next flush."""
        with self._flush_lock:
            with self._lock:
                taken, self._pending = self._pending, {}
            if not taken:
                return 0
            try:
                self._write(taken)
            except Exception:
                with self._lock:  # newer notes win; the rest waits for the next flush
                    for device_id, entry in taken.items():
                        newer = self._pending.get(device_id)
                        if newer is None:
                            self._pending[device_id] = entry
                        else:
                            newer.step = newer.step or entry.step
                            newer.last_contact = max(newer.last_contact, entry.last_contact)
                            newer.values = {**entry.values, **newer.values}
                raise
            return len(taken)

    def _write(self, taken: dict[str, _Contact]) -> None:
        ids = sorted(taken)  # one order for every process: no deadlock between flushes
        with self.engine.begin() as conn:
            steps = [i for i in ids if taken[i].step]
            seq = db.next_seq(conn, len(steps)) - len(steps) if steps else 0
            rows = []
            for device_id in ids:
                entry = taken[device_id]
                number = None
                if entry.step:
                    seq += 1  # every feed row its own number: pages cut cleanly
                    number = seq
                rows.append({"b_id": device_id, "b_last": entry.last_contact,
                             "b_version": entry.values.get("app_version"),
                             "b_level": entry.values.get("protocol_level"),
                             "b_seq": number})
            conn.execute(_FLUSH, rows)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # the database away for a moment: kept, tried again
                log.exception("writing devices' last contacts failed; trying again")

    def close(self) -> None:
        """Stop the thread and write what is left (at shutdown)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.interval + 5)
        try:
            self.flush()
        except Exception:
            log.exception("writing devices' last contacts at shutdown failed")
