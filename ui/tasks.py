"""Run slow work (Argon2id, database) off the UI thread: one helper, ``run_task``.

The result or the exception comes back on the UI thread through queued signals.
Without an ``error_callback``, a core error is shown translated in a plain dialog
and anything else goes to the global exception hook (logged, crash dialog).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

_running: set[_Relay] = set()
# The unlocked device's data folder (set by the controller): a failure there on a full
# disk is shown as "storage full", not as a crash.
data_dir: Path | None = None


class _Relay(QObject):
    """Lives on the UI thread; the worker emits, Qt queues, the slots run here."""

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(
        self,
        callback: Callable[[Any], None],
        error_callback: Callable[[BaseException], None] | None,
    ) -> None:
        super().__init__()
        self.callback = callback
        self.error_callback = error_callback
        self.succeeded.connect(self._deliver)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver(self, result: Any) -> None:
        _running.discard(self)
        callback = self.callback
        self._release()
        callback(result)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        _running.discard(self)
        error_callback = self.error_callback
        self._release()
        if error_callback is not None:
            error_callback(exc)
        else:
            show_error(exc)

    def _release(self) -> None:
        """Delivered: hold nothing of the caller any more (the relay may outlive this)."""
        self.callback = _nothing
        self.error_callback = None


class _Job(QRunnable):
    """The work on the pool. It lets go of the function and the relay once it has run:
    PySide may keep the Python side of a started runnable alive after it finished, and
    whatever the function captured (a page, a session closed by a lock meanwhile)
    would stay with it (issue 15: ~42 KB per lock/unlock)."""

    def __init__(self, func: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.func: Callable[[], Any] | None = func
        self.relay: _Relay | None = relay

    def run(self) -> None:
        func, relay = self.func, self.relay
        self.func = self.relay = None
        if func is None or relay is None:
            return
        try:
            try:
                result = func()
            except BaseException as exc:  # every failure goes back to the UI thread
                relay.failed.emit(exc)
            else:
                relay.succeeded.emit(result)
        except RuntimeError:  # the application is shutting down: nobody to tell
            pass
        finally:
            del func, relay


def _nothing(_result: Any) -> None:
    """The callback of a relay that has delivered already."""


def show_error(exc: BaseException) -> None:
    """Default error handling: core errors as a plain dialog, bugs to the exception hook."""
    from fieldclient.errors import FieldClientError

    if not isinstance(exc, FieldClientError) and data_dir is not None:
        from fieldclient.fsutil import storage_full

        exc = storage_full(data_dir, exc) or exc
    if isinstance(exc, FieldClientError):
        from ui.dialogs.message import show_message
        from ui.errors import error_text

        show_message(error_text(exc), role="error")
    else:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def run_task(
    func: Callable[[], Any],
    callback: Callable[[Any], None],
    error_callback: Callable[[BaseException], None] | None = None,
) -> None:
    """Run ``func()`` on the thread pool; then ``callback(result)`` or the error handler."""
    relay = _Relay(callback, error_callback)
    _running.add(relay)
    QThreadPool.globalInstance().start(_Job(func, relay))


def pending_tasks() -> int:
    return len(_running)
