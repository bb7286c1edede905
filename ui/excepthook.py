"""Last line of defence: log unexpected errors and tell the worker, without quitting.

The log gets the exception type and the stack (file, line, function) only:
exception messages and local values can contain personal data, so they are not
written. The details expander on screen shows the full traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

LOG_NAME = "gridfield.log"
log = logging.getLogger("gridfield.crash")


class _Bridge(QObject):
    """Carries reports from any thread to the UI thread."""

    report = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.report.connect(self._show)
        self.dialogs: list[QObject] = []

    @Slot(str)
    def _show(self, details: str) -> None:
        from ui.dialogs.message import show_message

        message = QCoreApplication.translate(
            "excepthook", "程序出现了问题，已记录。您的数据没有丢失。"
        )
        dialog = show_message(message, details, role="warning")
        dialog.setObjectName("crashDialog")
        self.dialogs = [d for d in self.dialogs if _alive(d)] + [dialog]


def _alive(obj: QObject) -> bool:
    try:
        obj.objectName()
    except RuntimeError:
        return False
    return True


_bridge: _Bridge | None = None
_log_dir: Path | None = None  # set by install(); the file handler is made on first need


def setup_logging(log_dir: Path) -> Path:
    """A rotating log file under ``<data_dir>/logs``; returns its path."""
    from logging.handlers import RotatingFileHandler  # imports socket, pickle: not at start-up

    global _log_dir
    _log_dir = None
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / LOG_NAME
    root = logging.getLogger("gridfield")
    for handler in list(root.handlers):
        if isinstance(handler, RotatingFileHandler):
            root.removeHandler(handler)
            handler.close()
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    os.chmod(path, 0o600)  # rotated files are made under the app's umask 0o077
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def safe_summary(
    exc_type: type[BaseException], tb: TracebackType | None, thread: str = ""
) -> str:
    """Type and stack only: no message, no local values (they may hold personal data)."""
    frames = traceback.extract_tb(tb)
    lines = [f"unhandled {exc_type.__module__}.{exc_type.__qualname__}"
             + (f" in thread {thread}" if thread else "")]
    lines += [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    return "\n".join(lines)


def handle(
    exc_type: type[BaseException],
    exc: BaseException | None,
    tb: TracebackType | None,
    thread: str = "",
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc or exc_type(), tb)
        return
    ensure_logging()
    log.error("%s", safe_summary(exc_type, tb, thread))
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    if sys.__stderr__ is not None:
        sys.__stderr__.write(details)
    if _bridge is not None:
        try:
            _bridge.report.emit(details)
        except RuntimeError:  # shutting down: the log and stderr have it
            pass


def _sys_hook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    handle(exc_type, exc, tb)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    name = args.thread.name if args.thread is not None else "?"
    handle(args.exc_type, args.exc_value, args.exc_traceback, name)


def ensure_logging() -> None:
    """Create the log file handler if :func:`install` deferred it."""
    if _log_dir is not None:
        setup_logging(_log_dir)


def install(data_dir: Path, defer_logging: bool = False) -> Path:
    """Install the hooks (call after the QApplication exists); returns the log path.

    With ``defer_logging`` the log file is set up by :func:`ensure_logging`, which
    start-up calls after the first paint (and ``handle`` calls if needed sooner).
    """
    global _bridge, _log_dir
    path = Path(data_dir) / "logs" / LOG_NAME
    if defer_logging:
        _log_dir = path.parent
    else:
        setup_logging(path.parent)
    if _bridge is None:
        _bridge = _Bridge()
    sys.excepthook = _sys_hook
    threading.excepthook = _thread_hook
    return path


def log_path(data_dir: Path) -> Path:
    return Path(data_dir) / "logs" / LOG_NAME
