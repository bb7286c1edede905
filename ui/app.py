"""Start-up: arguments, QApplication, language, style, exception hook, first screen."""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from fieldclient import APP_NAME, __version__
from fieldclient.paths import DataPaths
from fieldclient.settings import LANGUAGES, load_settings
from ui import excepthook, i18n, style
from ui.controller import AppController

_T0 = time.perf_counter()
GC_PAUSE_MAX_MS = 10_000  # garbage collection paused until the first paint, at most this


def _gps_source(value: str) -> str:
    from fieldclient.settings import parse_gps_source

    try:
        parse_gps_source(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=APP_NAME, description="gridfield field client")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data directory (default: the platform's user data dir)")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="language for this run (overrides the setting)")
    parser.add_argument("--exit-after-startup", action="store_true",
                        help="print startup_ms=<n> once the first window is painted, then exit")
    parser.add_argument("--fullscreen", action="store_true", help="fill the screen (tablets)")
    parser.add_argument("--gps", type=_gps_source, default=None,
                        metavar="system|nmea-serial:PORT|nmea-file:PATH",
                        help="positioning for this run (overrides the setting)")
    parser.add_argument("--version", action="version", version=__version__)
    return parser


# What a start usually gives, read without argparse: building the parser and parsing
# look up gettext catalogues for every help text (~1.2 ms before the PIN pad shows).
_FLAGS = {"--exit-after-startup": "exit_after_startup", "--fullscreen": "fullscreen"}
_VALUES = {"--data-dir": "data_dir", "--lang": "lang", "--gps": "gps"}
_DEFAULTS = {**dict.fromkeys(_VALUES.values()), **dict.fromkeys(_FLAGS.values(), False)}


def _parse_plain(argv: list[str]) -> argparse.Namespace | None:
    """``argv`` made only of the options above, each once, spelled in full, with plain
    values: what argparse would give; None for anything else (help, version, an
    abbreviation, a repeat, an error), which argparse then answers."""
    found: dict[str, object] = {}
    rest = iter(argv)
    for token in rest:
        name, eq, value = token.partition("=")
        if name in _FLAGS and not eq and _FLAGS[name] not in found:
            found[_FLAGS[name]] = True
            continue
        if name not in _VALUES or _VALUES[name] in found:
            return None
        if not eq:
            following = next(rest, None)
            if following is None:
                return None
            value = following
        if value.startswith("-"):
            return None
        if name == "--lang" and value not in LANGUAGES:
            return None
        if name == "--gps":
            try:
                value = _gps_source(value)
            except argparse.ArgumentTypeError:
                return None
        found[_VALUES[name]] = Path(value) if name == "--data-dir" else value
    return argparse.Namespace(**{**_DEFAULTS, **found})


def parse_args(argv: list[str]) -> argparse.Namespace:
    plain = _parse_plain(argv)
    return plain if plain is not None else _parser().parse_args(argv)


class _FirstPaint(QObject):
    """Once the first window has really been painted: deferred start-up work, or
    (``--exit-after-startup``) print the start-up time and quit."""

    def __init__(
        self, app: QApplication, t0: float, report: bool, after: list[Callable[[], None]]
    ) -> None:
        super().__init__()
        self.app = app
        self.t0 = t0
        self.report = report
        self.after = after
        self.done = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            watched.removeEventFilter(self)
            # Runs after this paint pass has been flushed to the screen.
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        ms = int((time.perf_counter() - self.t0) * 1000)
        if self.report:
            print(f"startup_ms={ms}", flush=True)
        gc.enable()  # paused by main() (and main.py) until the first screen is painted
        from fieldclient.update import install

        install.confirm_started()  # a new version on trial tells the launcher it starts
        for callback in self.after:
            callback()
        import logging

        from ui import pyside_support_cache

        logging.getLogger("gridfield.ui").info(
            "first screen painted %d ms after start; PySide6 support modules: %d from the"
            " cache, %d compiled", ms, pyside_support_cache.stats["hits"],
            pyside_support_cache.stats["misses"])
        if self.report:
            self.app.exit(0)


def create_app(argv: list[str]) -> QApplication:
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    return app


def main(argv: list[str] | None = None, t0: float | None = None) -> int:
    from fieldclient.security import hardening

    gc.disable()  # until the first paint (_FirstPaint): no collections during start-up
    if argv is None:  # the ``gridfield`` script (main.py did this before importing Qt)
        hardening.restart_with_scrubbing_allocator()
    hardening.apply()  # again for the ``gridfield`` script (idempotent after main.py)
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv[1:])
    if args.data_dir is None:
        from fieldclient.paths import default_data_dir

        args.data_dir = default_data_dir()
    data_dir: Path = args.data_dir
    app = create_app(argv[:1])
    excepthook.install(data_dir, defer_logging=True)
    settings = load_settings(DataPaths(data_dir).settings)
    i18n.set_language(args.lang or settings.language)
    style.apply_style(app, settings.text_scale)
    controller = AppController(data_dir, settings=settings, language_override=args.lang)
    controller.gps_override = args.gps
    # What start-up made so far lives as long as the app (modules, classes, Qt's wrappers,
    # the window): out of the collector's sight for good, so no collection ever walks
    # it again, the first (once the PIN pad is painted) included: 4-6 ms less each.
    gc.freeze()
    controller.start(help_later=True)  # the PIN pad first; its help right after it
    watcher = _FirstPaint(app, t0 if t0 is not None else _T0, report=args.exit_after_startup,
                          after=[controller.first_screen_painted, excepthook.ensure_logging,
                                 controller.tell_update_outcome])
    controller.window.installEventFilter(watcher)  # not app-wide: see AppController
    QTimer.singleShot(GC_PAUSE_MAX_MS, gc.enable)  # a window never exposed: collect anyway
    if args.fullscreen:
        controller.window.showFullScreen()
    else:
        controller.window.show()
    code = app.exec()
    gc.enable()  # also when the event loop ended before the first paint
    QThreadPool.globalInstance().waitForDone(5000)
    controller.close_session()
    del watcher
    return int(code)
