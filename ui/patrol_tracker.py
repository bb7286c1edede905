"""The running patrol's GPS: one position feed per app, fixes into the core's
``TrackRecorder`` (which filters poor accuracy and saves each kept fix at once).

It belongs to the controller, not to a page, so the track goes on while the
worker looks at other pages. While the device is locked there is no key to
write with: fixes wait in memory (at most :data:`MAX_BUFFERED`) and are
filtered and saved at the next unlock. Finishing or abandoning the patrol
stops the feed.

It also keeps the patrol's running figures (:class:`~fieldclient.fieldwork.patrols.LivePath`,
the path simplified as it grows, and its distance), updated with each fix kept, so
the status line never re-reads the day. They are built once per app start from the
saved fixes on the thread pool (:func:`ui.tasks.run_task`) and kept across a lock
(like the fixes that wait for the key, they are positions of the running patrol).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from fieldclient.geo.geometry import Fix
from ui.platform.positioning import PositionFeed, make_feed
from ui.tasks import run_task

if TYPE_CHECKING:
    from fieldclient.fieldwork.patrols import LivePath, TrackRecorder
    from fieldclient.storage.session import Session
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")
STALE_AFTER_S = 60.0  # no kept fix for this long: "no new position for ..."
MAX_BUFFERED = 20_000  # fixes held while locked: more than five hours at 1 Hz


class PatrolTracker(QObject):
    fix_recorded = Signal(object)  # a Fix the recorder kept
    status_changed = Signal()
    live_ready = Signal()  # the running figures are there (after the first load)

    def __init__(self, controller: AppController) -> None:
        super().__init__(controller)
        self.setObjectName("patrolTracker")
        self.controller = controller
        self.feed: PositionFeed | None = None
        self.recorder: TrackRecorder | None = None
        self.patrol_id: str | None = None
        self.buffer: list[Fix] = []
        self.last_fix: Fix | None = None  # the last fix received, kept or not
        self.feed_started_at: float | None = None  # wall clock, for "waiting for GPS"
        self.last_kept_at: float | None = None  # wall clock of the last fix kept
        self.feed_options: dict[str, object] = {}  # tests: e.g. {"speed": 200.0}
        self.live: LivePath | None = None  # the running figures, once loaded
        self.live_loading: str | None = None  # the patrol whose figures are being built
        self.live_pending: list[Fix] = []  # kept while they are built
        self.live_pending_id: int | None = None  # the saved id of the last of them
        self.live_waiters: list[Callable[[LivePath], None]] = []
        controller.session_closing.connect(self._on_session_closing)

    @classmethod
    def of(cls, controller: AppController) -> PatrolTracker:
        """The controller's tracker, made on first use."""
        found = controller.findChild(PatrolTracker, "patrolTracker")
        return found if isinstance(found, PatrolTracker) else cls(controller)

    def source_spec(self) -> str:
        return self.controller.gps_override or self.controller.settings.gps_source

    # -- the patrol ---------------------------------------------------------------
    def attach(self, session: Session, patrol_id: str) -> None:
        """Record into ``patrol_id`` (after start or unlock); saves what waited in memory."""
        from fieldclient.fieldwork.patrols import TrackRecorder

        if self.patrol_id != patrol_id:
            self.buffer.clear()
        if self.live is not None and self.live.patrol_id != patrol_id:
            self.live = None
        self.patrol_id = patrol_id
        self.recorder = TrackRecorder(session, patrol_id)
        if self.live is not None:
            self.live.catch_up(session)  # normally nothing: no key, no fix saved while locked
        elif self.recorder.last_id == 0:  # nothing saved yet (a new patrol): nothing to read
            from fieldclient.fieldwork.patrols import LivePath
            from fieldclient.geo.geometry import RunningPath

            self.live_loading = None
            self.live = LivePath(patrol_id, RunningPath())
        elif self.live_loading != patrol_id:
            self._load_live(session, patrol_id, self.recorder.last_id)
        if self.buffer:
            waiting, self.buffer = self.buffer, []
            self.record_many(waiting)
        self._ensure_feed()

    def record_many(self, fixes: list[Fix]) -> int:
        """Filter and save fixes of the running patrol in one transaction (those that
        waited for the key); returns how many were kept."""
        recorder = self.recorder
        if recorder is None:
            return 0
        kept = recorder.record(fixes)
        if kept:
            self._keep(kept, recorder.last_id)
            self.last_kept_at = time.time()
            self.fix_recorded.emit(kept[-1])
        return len(kept)

    # -- running figures ------------------------------------------------------------
    def _load_live(self, session: Session, patrol_id: str, upto_id: int) -> None:
        """Build the running figures from the saved fixes (up to ``upto_id``) on the
        thread pool, on a connection of its own; fixes kept meanwhile wait in
        ``live_pending``."""
        from fieldclient.fieldwork.patrols import live_path

        self.live_loading = patrol_id
        self.live_pending = []
        self.live_pending_id = None
        reader = session.fork()

        def work() -> LivePath:
            try:
                return live_path(reader, patrol_id, upto_id)
            finally:
                reader.close()

        def failed(exc: BaseException) -> None:
            log.warning("the patrol's running figures could not be built: %s", exc)
            if self.live_loading == patrol_id:
                self.live_loading = None

        run_task(work, self._live_loaded, failed)

    def _live_loaded(self, live: LivePath) -> None:
        if self.live_loading != live.patrol_id:
            return  # stopped or another patrol meanwhile
        self.live_loading = None
        pending, self.live_pending = self.live_pending, []
        live.add(pending, self.live_pending_id)
        self.live_pending_id = None
        self.live = live
        waiters, self.live_waiters = self.live_waiters, []
        for waiter in waiters:
            waiter(live)
        self.live_ready.emit()
        self.status_changed.emit()

    def _keep(self, kept: list[Fix], last_id: int) -> None:
        if self.live is not None:
            self.live.add(kept, last_id)
        elif self.live_loading is not None:
            self.live_pending.extend(kept)
            self.live_pending_id = last_id

    def when_live(self, callback: Callable[[LivePath], None]) -> None:
        """``callback(live)`` once the running figures are there (at once if they are)."""
        if self.live is not None:
            callback(self.live)
        else:
            self.live_waiters.append(callback)

    def stop(self) -> None:
        """The patrol is over: stop the GPS."""
        self.patrol_id = None
        self.recorder = None
        self.buffer.clear()
        self.live = None
        self.live_loading = None
        self.live_pending = []
        self.live_waiters = []
        self._drop_feed()
        self.status_changed.emit()

    def restart_feed(self) -> None:
        """The source setting changed: use the new one (if a patrol runs)."""
        self._drop_feed()
        if self.patrol_id is not None:
            self._ensure_feed()
        self.status_changed.emit()

    def _ensure_feed(self) -> None:
        if self.feed is None:
            try:
                self.feed = make_feed(self.source_spec(), self, **self.feed_options)
            except ValueError:
                log.warning("bad GPS source setting; using the system's positioning")
                self.feed = make_feed("system", self)
            feed = self.feed
            # Not Signal.disconnect() later: in PySide6 6.12 it over-releases Python's
            # True (a crash at exit); fixes of a dropped feed are ignored instead.
            feed.fix_received.connect(lambda fix, source=feed: self._on_fix(fix, source))
            self.feed.status_changed.connect(lambda _status: self.status_changed.emit())
            self.feed_started_at = time.time()
        self.feed.start()
        self.status_changed.emit()

    def _drop_feed(self) -> None:
        feed, self.feed = self.feed, None
        self.feed_started_at = None
        if feed is not None:
            feed.stop()
            feed.deleteLater()

    # -- fixes ------------------------------------------------------------------------
    def _on_fix(self, fix: Fix, source: PositionFeed | None = None) -> None:
        if source is not None and source is not self.feed:
            return
        self.last_fix = fix
        recorder = self.recorder
        if recorder is not None and not recorder.session.is_open:
            self.recorder = recorder = None
        if recorder is not None:
            kept = recorder.record([fix])
            if kept:
                self._keep(kept, recorder.last_id)
                self.last_kept_at = time.time()
                self.fix_recorded.emit(fix)
        elif self.patrol_id is not None and len(self.buffer) < MAX_BUFFERED:
            self.buffer.append(fix)

    def waiting_since(self, now: float | None = None, stale_after_s: float = STALE_AFTER_S
                      ) -> float | None:
        """Since when the running patrol has had no position (wall clock): the GPS start
        if none came since, the last kept fix if that is older than ``stale_after_s``;
        None while positions come in or when no GPS runs."""
        started = self.feed_started_at
        if self.feed is None or started is None:
            return None
        kept = self.last_kept_at
        if kept is None or kept < started:
            return started
        now = time.time() if now is None else now
        return kept if now - kept > stale_after_s else None

    def current_position(self, max_age_s: float = 120.0) -> Fix | None:
        """The last recorded fix if it is recent enough to stamp a photo or an event."""
        fix = self.recorder.last if self.recorder is not None else None
        if fix is None or self.recorder is None:
            return None
        if abs(self.recorder.session.clock() - fix.t) > max_age_s:
            return None
        return fix

    def _on_session_closing(self) -> None:
        self.recorder = None  # the feed goes on; fixes wait in memory until unlock


RECENT_FIX_S = 120.0  # an older fix does not say where the worker stands now


def recent_fix(controller: QObject, now: float) -> Fix | None:
    """The patrol tracker's last fix when taken within :data:`RECENT_FIX_S` of ``now``
    (the device's clock): the worker's position for a visit or a household registered
    at the door. None without a running patrol (there is no GPS otherwise)."""
    found = controller.findChild(PatrolTracker, "patrolTracker")
    fix = found.last_fix if isinstance(found, PatrolTracker) else None
    if fix is None or abs(now - fix.t) > RECENT_FIX_S:
        return None
    return fix

