"""The sync engine for the open session, driven from the GUI.

One :class:`SyncController` lives while the device is unlocked. It

* runs :meth:`sync.engine.SyncEngine.run_once` (and enrollment) off the UI thread,
  never two at once, on a *second* database connection of its own: the UI thread
  keeps using the session's connection, so a page that saves while a sync runs
  never lands inside (or commits) one of the engine's transactions;
* forwards progress as signals, keeps the last report and error;
* schedules the next attempt with a ``QTimer`` from :class:`sync.engine.SyncSchedule`
  (backoff after failures, without the user doing anything), and syncs at once
  when the network comes back (``QNetworkInformation``);
* stops on lock: the running sync is asked to stop at its next step and waited
  for; if it is stuck in a slow request, it closes its own connection (and drops
  its copy of the key) as soon as that request ends;
* reports a remote wipe (``wiped``): the engine has already crypto-erased the device.

The UI thread reads the facts (pending counts, conflicts, set-aside records...)
through :attr:`facts`, an engine on the session's own connection: quick reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ui.tasks import run_task

if TYPE_CHECKING:
    from fieldclient.storage.session import Session
    from sync.engine import Enrollment, SyncEngine, SyncProgress, SyncReport, SyncSchedule

log = logging.getLogger("gridfield.ui.sync")

# How long locking waits for a running sync to reach its next step (UI thread blocked).
STOP_WAIT_SECONDS = 3.0
# First automatic sync after unlocking or enrolling.
START_DELAY_MS = 300


class _Cancelled(Exception):
    """Raised inside the worker when the UI side is gone; a lock stops the engine
    through its cancel event (``SyncEngine.cancel_event``) at the next step."""


class _Bridge(QObject):
    """Lives on the UI thread; the worker emits, Qt queues the call to the UI thread."""

    progress = Signal(object)


class SyncController(QObject):
    changed = Signal()  # anything shown on the Sync page or the indicator may have changed
    progress = Signal(object)  # SyncProgress
    finished = Signal(object)  # SyncReport
    enrolled = Signal(object)  # Enrollment
    enroll_failed = Signal(object)  # the exception
    wiped = Signal()  # the server ordered a wipe; the device has been erased

    def __init__(self, session: Session, parent: QObject | None = None,
                 auto_start: bool = True) -> None:
        super().__init__(parent)
        from sync.engine import RetryPolicy, SyncEngine, SyncSchedule

        self.session = session
        self.facts: SyncEngine = SyncEngine(session)
        self.schedule: SyncSchedule = SyncSchedule()
        self.retry = RetryPolicy(attempts=3, base_delay=1.0, max_delay=20.0,
                                 sleep=self._sleep)
        self.auto_start = auto_start
        self.running = False
        self.enrolling = False
        self.progress_by_phase: dict[str, SyncProgress] = {}
        self.last_report: SyncReport | None = None
        self.last_error: BaseException | None = None
        self.online: bool | None = None  # None: the platform cannot tell
        self.next_run_ms: int | None = None
        self.schedule_after_run = False  # sync again as soon as the running one ends
        self._closed = False
        self._cancel = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()
        self._busy = False  # a worker holds the worker session (guarded by _lock)
        self._worker_session: Session | None = None
        self._worker_engine: SyncEngine | None = None
        self._bridge = _Bridge(self)
        self._bridge.progress.connect(self._on_progress)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.sync_now)
        self._network: Any = None

    # -- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        """After unlocking: watch the network; sync soon when enrolled."""
        self._watch_network()
        if self.auto_start and self.enrollment() is not None:
            self._schedule_ms(START_DELAY_MS)

    def shutdown(self, wait_seconds: float = STOP_WAIT_SECONDS) -> None:
        """The session is closing (lock, quit, wipe): stop the timer and any running sync."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        self.next_run_ms = None
        if self._network is not None:
            try:
                self._network.reachabilityChanged.disconnect(self._on_reachability)
            except (RuntimeError, TypeError):
                pass
            self._network = None
        self._cancel.set()
        if not self._idle.wait(wait_seconds):
            log.warning("a sync still runs after locking; it closes its connection when done")
        with self._lock:
            if not self._busy:
                self._close_worker_session()
        self.deleteLater()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- facts (UI thread, the session's own connection) ---------------------------------
    def usable(self) -> bool:
        return not self._closed and self.session.is_open

    def enrollment(self) -> Enrollment | None:
        if not self.usable():
            return None
        return self.facts.enrollment()

    def pending_counts(self) -> dict[str, int]:
        return self.facts.pending_counts() if self.usable() else {}

    def pending_total(self) -> int:
        return sum(self.pending_counts().values())

    def last_success(self) -> float | None:
        return self.facts.last_success() if self.usable() else None

    # -- running work ------------------------------------------------------------------
    def busy(self) -> bool:
        return self.running or self.enrolling

    def sync_now(self) -> bool:
        """Start a sync now (button, timer, network back). False: not started."""
        self.timer.stop()
        self.next_run_ms = None
        if self._closed or self.busy() or not self.session.is_open:
            return False
        if self.enrollment() is None:
            return False
        self.running = True
        self.last_error = None
        self.progress_by_phase = {}
        self.changed.emit()
        self._start_worker(self._run_once, self._sync_done, self._sync_failed)
        return True

    def enroll(self, server_url: str, code: str, device_name: str = "",
               key_fingerprint: str | None = None, tls_fingerprint: str | None = None
               ) -> bool:
        """Trade a code for a device credential (off the UI thread); ``key_fingerprint``
        (from the enrollment QR) must match the centre's key."""
        if self._closed or self.busy() or not self.session.is_open:
            return False
        import socket

        name = device_name or socket.gethostname()[:100] or "gridfield"
        self.enrolling = True
        self.last_error = None
        self.changed.emit()

        def work(session: Session) -> Enrollment:
            from sync.engine import enroll_device

            return enroll_device(session, server_url, code, name,
                                 key_fingerprint=key_fingerprint,
                                 tls_fingerprint=tls_fingerprint)

        self._start_worker(work, self._enroll_done, self._enroll_failed)
        return True

    def resolve_conflict(self, conflict_id: str, choice: str) -> None:
        """The grid leader's one-tap decision: queued now, sent by a sync right away."""
        self.facts.resolve_conflict(conflict_id, choice)
        self.changed.emit()
        if not self.running:
            self.sync_now()
        else:
            self.schedule_after_run = True

    def _start_worker(
        self,
        work: Callable[[Session], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self._cancel.clear()
        self._idle.clear()
        with self._lock:
            self._busy = True

        def job() -> Any:
            try:
                if self._cancel.is_set():
                    raise _Cancelled()
                return work(self._session_for_worker())
            finally:
                with self._lock:
                    self._busy = False
                    if self._closed:
                        self._close_worker_session()
                self._idle.set()

        run_task(job, done, failed)

    def _session_for_worker(self) -> Session:
        if self._worker_session is None or not self._worker_session.is_open:
            self._worker_session = self.session.fork()
            self._worker_engine = None
        return self._worker_session

    def _close_worker_session(self) -> None:
        """Call with ``_lock`` held and no worker running."""
        session, self._worker_session = self._worker_session, None
        self._worker_engine = None
        if session is not None:
            try:
                session.close()
            except Exception:
                log.exception("could not close the sync connection")

    def _sleep(self, seconds: float) -> None:
        """The engine's retry pause: cut short on lock (the engine then stops the run)."""
        self._cancel.wait(seconds)

    def _run_once(self, session: Session) -> SyncReport | None:
        from sync.engine import SyncEngine

        if self._worker_engine is None or self._worker_engine.session is not session:
            self._worker_engine = SyncEngine(session, retry=self.retry, cancel=self._cancel)
        engine = self._worker_engine
        bridge = self._bridge

        def progress(step: SyncProgress) -> None:
            try:
                bridge.progress.emit(step)
            except RuntimeError:  # the UI side is gone (shutting down)
                raise _Cancelled() from None

        try:
            report = engine.run_once(progress)
        except _Cancelled:
            return None
        return None if report.cancelled else report

    # -- results (UI thread) -----------------------------------------------------------
    @Slot(object)
    def _on_progress(self, step: SyncProgress) -> None:
        if self._closed:
            return
        self.progress_by_phase[step.phase] = step
        self.progress.emit(step)

    def _sync_done(self, report: SyncReport | None) -> None:
        self.running = False
        if self._closed or report is None:
            return
        self.last_report = report
        self.last_error = report.error
        self.progress_by_phase = {}
        if report.wiped:
            self.timer.stop()
            self.finished.emit(report)
            self.wiped.emit()
            return
        if report.error is not None:
            log.info("sync failed: %s", report.error)
        if self.schedule_after_run:
            self.schedule_after_run = False
            self._schedule_ms(0)
        else:
            delay = self.schedule.next_delay(report)
            if delay is not None:
                self._schedule_ms(int(delay * 1000))
        self.finished.emit(report)
        self.changed.emit()

    def _sync_failed(self, exc: BaseException) -> None:
        """Not a network or server problem (those come in the report): a bug, or the
        database went away. Logged; shown in plain words; retried later."""
        self.running = False
        if self._closed:
            return
        log.error("sync crashed", exc_info=(type(exc), exc, exc.__traceback__))
        self.last_error = exc
        self.progress_by_phase = {}
        from sync.engine import SyncReport

        self._schedule_ms(int((self.schedule.next_delay(SyncReport()) or 60) * 1000))
        self.changed.emit()

    def _enroll_done(self, info: Enrollment) -> None:
        self.enrolling = False
        if self._closed:
            return
        self.enrolled.emit(info)
        self.changed.emit()
        if self.auto_start:
            self.sync_now()

    def _enroll_failed(self, exc: BaseException) -> None:
        self.enrolling = False
        if self._closed:
            return
        from fieldclient.errors import FieldClientError

        if not isinstance(exc, FieldClientError):
            log.error("enrollment crashed", exc_info=(type(exc), exc, exc.__traceback__))
        self.enroll_failed.emit(exc)
        self.changed.emit()

    def _schedule_ms(self, ms: int) -> None:
        if self._closed:
            return
        self.next_run_ms = max(0, ms)
        self.timer.start(self.next_run_ms)

    # -- network -----------------------------------------------------------------------
    def _watch_network(self) -> None:
        try:
            from PySide6.QtNetwork import QNetworkInformation

            feature = QNetworkInformation.Feature.Reachability
            if QNetworkInformation.instance() is None:
                QNetworkInformation.loadBackendByFeatures(feature)
            info = QNetworkInformation.instance()
        except Exception:  # no backend on this platform: only the timer then
            log.info("network reachability is not available", exc_info=True)
            return
        if info is None or not info.supports(feature):
            return
        self._network = info
        self.online = self._is_online(info.reachability())
        info.reachabilityChanged.connect(self._on_reachability)

    @staticmethod
    def _is_online(reachability: Any) -> bool | None:
        from PySide6.QtNetwork import QNetworkInformation

        r = QNetworkInformation.Reachability
        if reachability == r.Unknown:
            return None
        return bool(reachability in (r.Online, r.Site, r.Local))

    @Slot(object)
    def _on_reachability(self, reachability: Any) -> None:
        self.set_online(self._is_online(reachability))

    def set_online(self, online: bool | None) -> None:
        """The network came or went (also called by tests). Coming back: sync now."""
        if self._closed:
            return
        was = self.online
        self.online = online
        self.changed.emit()
        if online and was is False and self.enrollment() is not None:
            self.schedule.connectivity_regained()
            if self.running:
                self.schedule_after_run = True
            else:
                self.sync_now()
