"""Which screen shows, the open session, settings, and the idle auto-lock."""

from __future__ import annotations

import gc
import logging
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from fieldclient.paths import DataPaths
from fieldclient.security import hardening
from fieldclient.security.vaultstate import vault_status
from ui import i18n, style
from ui.widgets.basic import Retranslatable

if TYPE_CHECKING:
    from fieldclient.settings import Settings
    from fieldclient.storage.session import Session
    from ui.mainwindow import MainView
    from ui.screens.change_pin import ChangePinDialog
    from ui.sync_controller import SyncController

log = logging.getLogger("gridfield.ui")

# After a lock: how often to look whether the locked pages are gone and their loads back,
# and how long to wait for that at most before collecting anyway.
RELEASE_POLL_MS = 50
RELEASE_WAIT_S = 10.0

# What counts as "the worker is using the device" for the idle timer.
INPUT_EVENTS = frozenset({
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseMove,
    QEvent.Type.KeyPress,
    QEvent.Type.TouchBegin,
    QEvent.Type.TouchUpdate,
    QEvent.Type.TouchEnd,
    QEvent.Type.Wheel,
})


class ShellWindow(Retranslatable, QMainWindow):
    """The one top-level window; its central stack holds set-up, unlock or the main view."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("shell")
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.resize(1280, 800)
        self.on_close: list[object] = []
        self.retranslate()

    def set_screen(self, widget: QWidget) -> None:
        old = self.stack.currentWidget()
        self.stack.addWidget(widget)
        self.stack.setCurrentWidget(widget)
        if old is not None and old is not widget:
            self.stack.removeWidget(old)
            old.deleteLater()

    def screen_widget(self) -> QWidget:
        return self.stack.currentWidget()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("网格服务"))

    def closeEvent(self, event: QCloseEvent) -> None:
        for callback in self.on_close:
            callback()  # type: ignore[operator]
        super().closeEvent(event)


class AppController(QObject):
    locked = Signal(str)
    unlocked = Signal()
    session_closing = Signal()  # the session is still open: flush unsaved input now
    memory_released = Signal()  # after a lock: the unlocked state's objects are freed

    def __init__(
        self,
        data_dir: Path,
        settings: Settings | None = None,
        idle_ms: int | None = None,
        language_override: str | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self._settings = settings
        self.language_override = language_override
        self.session: Session | None = None
        self.main_view: MainView | None = None
        self.change_pin_dialog: ChangePinDialog | None = None
        self.sync: SyncController | None = None  # the sync engine while unlocked
        self._idle_ms_override = idle_ms
        self.gps_override: str | None = None  # main.py --gps: wins over the setting
        self.window = ShellWindow()
        self.window.on_close.append(self.close_session)
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(lambda: self.lock("idle"))
        app = QApplication.instance()
        assert app is not None
        self.app = app
        app.aboutToQuit.connect(self.close_session)
        self._locked_view: weakref.ref[QWidget] | None = None
        self._release_deadline = 0.0
        self.release_timer = QTimer(self)
        self.release_timer.setInterval(RELEASE_POLL_MS)
        self.release_timer.timeout.connect(self._release_when_idle)

    @property
    def settings(self) -> Settings:
        """Loaded on first use: the first screen only needs language and text size."""
        if self._settings is None:
            from fieldclient.settings import load_settings

            self._settings = load_settings(self.settings_path)
        return self._settings

    @property
    def settings_path(self) -> Path:
        return DataPaths(self.data_dir).settings

    # -- screens ---------------------------------------------------------------
    def start(self, help_later: bool = False) -> None:
        """The first screen. ``help_later``: the unlock screen's help (forgot PIN, whom to
        call) waits for :meth:`first_screen_painted` (ui.app: the PIN pad paints first).

        Before any screen exists that could take a PIN, freed memory starts being
        overwritten (the app's allocator, fieldclient.security.hardening)."""
        if not hardening.scrub_freed_memory() and hardening.started_with_scrubbing_allocator():
            log.warning("freed memory is not overwritten: glibc refused the fill")
        status = vault_status(self.data_dir)
        if status == "active":
            self.show_unlock(help_later=help_later)
        else:
            self.show_setup(erased=status == "erased")

    def tell_update_outcome(self) -> None:
        """Once, at the start after an update: installed, or failed and rolled back (the
        launcher recorded it, fieldclient.update.install), in plain words. Called once the
        first screen is painted (ui.app): the PIN pad shows first."""
        from fieldclient.update import install

        if install.on_trial():  # the new version's first start
            from fieldclient import __version__

            outcome: dict[str, object] | None = {"kind": "updated", "version": __version__}
        else:
            try:
                outcome = install.take_outcome(self.data_dir)
            except OSError:
                log.exception("could not read the last update's outcome")
                return
        if outcome is not None:  # the dialog module only then: the PIN pad paints first
            from ui.dialogs.message import show_message

            show_message(install.outcome_message(outcome, i18n.current_language()),
                         parent=self.window,
                         role="info" if outcome.get("kind") == "updated" else "warning")

    def show_setup(self, erased: bool = False) -> None:
        from ui.screens.setup import SetupScreen

        screen = SetupScreen(self.data_dir, erased=erased)
        screen.finished.connect(lambda session: self.on_session(session, first_run=True))
        self.window.set_screen(screen)
        screen.pad.setFocus()

    def first_screen_painted(self) -> None:
        """What the first screen left for after its first paint (the unlock screen's help)."""
        show_help = getattr(self.window.screen_widget(), "show_help", None)
        if show_help is not None:
            show_help()

    def show_unlock(self, help_later: bool = False) -> None:
        from ui.screens.unlock import UnlockScreen

        screen = UnlockScreen(self.data_dir, support=(self.settings.support_name,
                                                      self.settings.support_phone),
                              help_later=help_later)
        screen.unlocked.connect(self.on_session)
        screen.erased.connect(self.on_erased)
        self.window.set_screen(screen)
        screen.pad.setFocus()

    def on_erased(self) -> None:
        self.close_session()
        self.show_setup(erased=True)

    def on_session(self, session: Session, first_run: bool = False) -> None:
        from ui.mainwindow import MainView
        from ui.sync_controller import SyncController

        self.session = session
        from fieldclient.update import install

        install.clear_ready(self.data_dir)  # a patrol may start: decided again at the lock
        from ui import tasks
        from ui.patrol_common import load_grid_names

        tasks.data_dir = self.data_dir  # a write failing on a full disk: said plainly
        self.remember_support(session)

        load_grid_names(session)
        self.sync = SyncController(session, self)
        self.sync.finished.connect(lambda _report: load_grid_names(self.session))
        self.sync.finished.connect(lambda _report: self.remember_support(self.session))
        self.sync.wiped.connect(self.on_erased)
        self.main_view = MainView(self)
        self.window.set_screen(self.main_view)
        self.sync.start()
        if first_run and self.sync.enrollment() is None:
            self.main_view.show_page("sync")  # offer enrollment right after set-up
        if session.pin_change_required:  # IT's PIN policy asks for a longer PIN
            from fieldclient.fieldwork import pinpolicy
            from ui.dialogs.message import show_message

            notice = show_message(
                QApplication.translate(
                    "AppController", "IT要求PIN码至少{n}位数字，请现在修改PIN码。"
                ).format(n=pinpolicy.min_pin_digits(session)),
                parent=self.window,
                role="info",
            )
            notice.finished.connect(lambda _result: self.open_change_pin())
        self._apply_idle_interval()
        # Watch for input only while unlocked: an application-wide filter makes
        # PySide resolve the Python type of every object that gets an event,
        # which would cost ~100 ms at start-up for nothing.
        self.app.installEventFilter(self)
        self.idle_timer.start()
        self.unlocked.emit()

    # -- release updates ---------------------------------------------------------
    def update_now(self, version: str) -> None:
        """The worker tapped 立即更新 (Settings): when the staged release may go in, close
        the session and end with :data:`~fieldclient.update.install.RESTART_FOR_UPDATE`,
        so the launcher installs it, tries it and rolls back if it fails; else say why
        it waits. When IT revoked the running release, the same goes back to the version
        before it (``note_ready`` decides which; a return the database forbids is said
        here). Started without the launcher (from source), nothing could install it."""
        import os

        from fieldclient.update import install
        from ui.dialogs.message import show_message

        session = self.session
        if session is None or not session.is_open:
            return
        if not os.environ.get(install.INSTALL_ROOT_ENV):
            show_message(QApplication.translate(
                "AppController", "这个程序不是从安装目录启动的，不能在这里安装更新{v}。"
                "请联系信息管理员。").format(v=version), parent=self.window, role="info")
            return
        reason = install.note_ready(self.data_dir, session)
        if reason is not None:
            show_message(reason.message(i18n.current_language()), parent=self.window,
                         role="info")
            return
        self.close_session()  # decides again at the close: the same answer
        self.app.exit(install.RESTART_FOR_UPDATE)

    # -- locking ---------------------------------------------------------------
    def close_session(self) -> None:
        self.idle_timer.stop()
        self.app.removeEventFilter(self)
        if self.session is not None and self.session.is_open:
            try:
                self.session_closing.emit()
            except Exception:  # closing must never fail because a page could not save
                log.exception("could not save before closing the session")
        sync, self.sync = self.sync, None
        if sync is not None:
            sync.shutdown()  # no sync thread uses the session after this
        session, self.session = self.session, None
        from ui.patrol_common import load_grid_names

        load_grid_names(None)
        if session is not None and session.is_open:
            try:  # a staged release goes in at the next start only if nothing is at risk
                from fieldclient.update import install

                install.note_ready(self.data_dir, session)
            except Exception:  # closing must never fail because of an update check
                log.exception("could not decide whether the staged update may go in")
            session.close()

    def lock(self, reason: str = "manual") -> None:
        """Drop the key and show the unlock screen (Lock button, Settings, or idle)."""
        session = self.session
        if session is None:
            return
        if session.is_open:
            try:
                from fieldclient.security import audit

                with session.db.conn:
                    session.audit.append(audit.LOCK, {"reason": reason})
            except Exception:  # locking must never fail because the audit write did
                log.exception("could not record the lock in the audit log")
        if self.change_pin_dialog is not None:
            dialog, self.change_pin_dialog = self.change_pin_dialog, None
            dialog.reject()
        for widget in QApplication.topLevelWidgets():
            if widget is not self.window and widget.isVisible() and widget.isWindow():
                if widget.objectName() != "crashDialog":
                    widget.close()
        self.close_session()
        view, self.main_view = self.main_view, None
        self.show_unlock()
        self._release_after_lock(view)
        self.locked.emit(reason)

    def _release_after_lock(self, view: QWidget | None) -> None:
        """Free what the unlocked pages held as soon as they are gone, rather than when
        Python's collector next looks at its oldest generation. The pages, their models
        and the closed session hold one another in reference cycles (Qt's signals to
        Python slots), so deleting the widgets frees only the C++ side; the rest, with
        the texts the worker looked at, waited for a full collection, which comes
        rarely. Meanwhile each lock's ~2 MB piled on the last and glibc's heap grew to
        the highest pile (issue 15: RSS +12-19 MB over 200 locks, all of it heap kept
        free). One full collection per lock (~0.1 s, after the PIN pad is up) keeps the
        heap where it was and scrubs those texts (the app's allocator overwrites what
        is freed) at the lock, not minutes later. Measured and not done: glibc's
        ``malloc_trim`` after it lowers RSS by ~8 MB at once, but pages given back come
        back one by one as the heap is reused (+1.1 MB over 200 locks, over the target)."""
        self._locked_view = weakref.ref(view) if view is not None else None
        self._release_deadline = time.monotonic() + RELEASE_WAIT_S
        self.release_timer.start()

    def _release_when_idle(self) -> None:
        """Collect once the locked view is deleted (deleteLater) and the background loads
        are back (theirs free more), or after RELEASE_WAIT_S. Unlocked again meanwhile,
        that is once the new pages' loads are back too: a pause like the collector's own
        full collection, which it stands in for."""
        from ui import tasks

        view = self._locked_view() if self._locked_view is not None else None
        waiting = (view is not None and shiboken6.isValid(view)) or tasks.pending_tasks() > 0
        del view
        if waiting and time.monotonic() < self._release_deadline:
            return
        self.release_timer.stop()
        self._locked_view = None
        started = time.perf_counter()
        freed = gc.collect()
        log.debug("after the lock: %d objects freed in %.0f ms", freed,
                  (time.perf_counter() - started) * 1000)
        self.memory_released.emit()

    def _apply_idle_interval(self) -> None:
        ms = self._idle_ms_override or self.settings.autolock_minutes * 60_000
        self.idle_timer.setInterval(ms)

    def set_idle_timeout_ms(self, ms: int | None) -> None:
        """Override the auto-lock delay (tests); None goes back to the setting."""
        self._idle_ms_override = ms
        self._apply_idle_interval()
        if self.session is not None:
            self.idle_timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.session is not None and event.type() in INPUT_EVENTS:
            self.idle_timer.start()
        return False

    # -- settings ----------------------------------------------------------------
    def remember_support(self, session: Session | None) -> None:
        """Copy whom to call for a forgotten PIN (the centre's support_contact) into the
        plain settings, where the lock screen finds it before any unlock."""
        if session is None or not session.is_open:
            return
        from fieldclient.fieldwork.serverconfig import support_contact

        try:
            name, phone = support_contact(session.db) or ("", "")
        except Exception:  # a closed or busy database: keep what is known
            log.warning("support contact not readable", exc_info=True)
            return
        settings = self.settings
        if (settings.support_name, settings.support_phone) != (name, phone):
            settings.support_name, settings.support_phone = name, phone
            self._save()

    def _save(self) -> None:
        from fieldclient.settings import save_settings

        try:
            save_settings(self.settings_path, self.settings)
        except OSError:
            log.exception("could not save settings")

    def set_language(self, language: str) -> None:
        self.settings.language = language
        self.language_override = None
        i18n.set_language(language)
        self._save()

    def set_text_scale(self, scale: float) -> None:
        self.settings.text_scale = scale
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        style.apply_style(app, scale)
        self._save()

    def set_autolock(self, minutes: int) -> None:
        self.settings.autolock_minutes = minutes
        self._apply_idle_interval()
        if self.session is not None:
            self.idle_timer.start()
        self._save()

    def set_gps_source(self, spec: str) -> None:
        """Save the GPS source setting (``system`` | ``nmea-serial:PORT`` | ``nmea-file:PATH``)."""
        from fieldclient.settings import parse_gps_source

        parse_gps_source(spec)  # ValueError when malformed
        self.settings.gps_source = spec.strip()
        self.gps_override = None
        self._save()

    def open_change_pin(self) -> None:
        from ui.dialogs.message import show_message
        from ui.screens.change_pin import ChangePinDialog

        if self.session is None:
            return
        dialog = ChangePinDialog(self.session, self.window)
        self.change_pin_dialog = dialog

        def changed() -> None:
            self.change_pin_dialog = None
            show_message(
                QApplication.translate("AppController", "PIN码已修改。下次解锁请使用新的PIN码。"),
                parent=self.window,
                role="info",
            )

        dialog.changed.connect(changed)
        dialog.erased.connect(self.on_erased)
        dialog.rejected.connect(lambda: setattr(self, "change_pin_dialog", None))
        dialog.open()
        dialog.pad.setFocus()
