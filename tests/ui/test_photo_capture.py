"""The camera path without a camera: a captured frame becomes a JPEG in memory and
goes through the same photo pipeline as a picked file."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from ui.platform.camera import CameraDialog, camera_available, encode_jpeg


def _frame() -> QImage:
    image = QImage(1920, 1080, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 120, 200))
    return image


def test_encode_jpeg_gives_a_real_jpeg() -> None:
    data = encode_jpeg(_frame())
    assert data[:3] == b"\xff\xd8\xff" and len(data) > 1000
    decoded = QImage.fromData(data)
    assert (decoded.width(), decoded.height()) == (1920, 1080)


def test_camera_dialog_turns_a_captured_frame_into_jpeg_bytes(qtbot: QtBot) -> None:
    assert isinstance(camera_available(), bool)  # False on a machine without a camera
    dialog = CameraDialog()
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.captured, timeout=10_000) as blocker:
        dialog._on_image(1, _frame())  # what QImageCapture.imageCaptured delivers
    data = blocker.args[0]
    assert data[:3] == b"\xff\xd8\xff"


def test_a_camera_error_keeps_the_dialog_open_with_a_plain_message(qtbot: QtBot) -> None:
    dialog = CameraDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog._on_error(0, "device lost")
    assert dialog.message.isVisible() and dialog.message.text()
    assert dialog.shoot_button.isEnabled()
