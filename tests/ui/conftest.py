"""UI test fixtures: offscreen Qt, a fresh data dir per test, the file secret store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

ROOT = Path(__file__).resolve().parents[2]

from PySide6.QtWidgets import QApplication  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402
from uihelpers import PIN  # noqa: E402

from fieldclient.security.keystore import FileSecretStore  # noqa: E402
from fieldclient.storage.session import Session, setup_device  # noqa: E402
from ui.controller import AppController  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """The .qm files are build output (gitignored): compile them once per test run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.compile_all()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIDFIELD_SECRET_STORE", "file")
    path = tmp_path / "device"
    path.mkdir()
    return path


@pytest.fixture
def make_controller(
    qapp: QApplication, qtbot: QtBot, data_dir: Path
) -> Iterator[Callable[..., AppController]]:
    """Build an AppController like ui.app.main does, shown at 1280×800."""
    from ui import i18n, style

    made: list[AppController] = []

    def make(language: str = "zh_CN", scale: float = 1.0, start: bool = True) -> AppController:
        i18n.set_language(language)
        style.apply_style(qapp, scale)
        controller = AppController(data_dir)
        qtbot.addWidget(controller.window)
        if start:
            controller.start()
        controller.window.show()
        qtbot.waitExposed(controller.window)
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.close_session()
        controller.release_timer.stop()  # no collection after a lock in the next test
        qapp.removeEventFilter(controller)
        for dialog in (controller.change_pin_dialog,):
            if dialog is not None:
                dialog.reject()
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(5000)
    i18n.set_language("zh_CN")
    style.apply_style(qapp, 1.0)


@pytest.fixture
def device(data_dir: Path) -> Path:
    """A device already set up with PIN, locked again."""
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    session.close()
    return data_dir


@pytest.fixture
def unlocked(make_controller: Callable[..., AppController], device: Path) -> AppController:
    """A controller showing the main view with an open session."""
    from fieldclient.storage.session import unlock_device

    controller = make_controller()
    session: Session = unlock_device(device, PIN)
    controller.on_session(session)
    return controller


# -- sync: a real `central serve` on loopback (helpers of tests/sync) -------------------

@pytest.fixture(scope="session")
def central_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """``central init`` + ``seed-demo`` + ``serve`` (SQLite), shared by the sync UI tests."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "sync"))
    from sync_helpers import launch

    server = launch(tmp_path_factory.mktemp("central-ui"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cheap_device_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny parameters: devices are set up in milliseconds."""
    import os as _os

    from fieldclient.security import crypto

    monkeypatch.setattr(
        crypto.KdfParams, "fresh",
        classmethod(lambda cls: cls(salt=_os.urandom(16), memory_kib=1024, iterations=1,
                                    lanes=1)),
    )
