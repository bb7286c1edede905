"""Evidence photos from the tablet camera (QtMultimedia) or a picked image file.

Nothing is written to disk here: the camera frame is encoded to JPEG in
memory and handed to :func:`fieldclient.photos.pipeline.prepare_photo` (run off the UI
thread), whose result is stored encrypted by ``save_prepared``.
QtMultimedia is imported only when the camera is used: it is slow to load and
probes optional video libraries noisily.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QIODevice, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QHBoxLayout, QVBoxLayout, QWidget

from ui.tasks import run_task
from ui.widgets.basic import Retranslatable, button, label

ImagePicker = Callable[[QWidget, Callable[[Path], None]], None]
_quieted = False



def _quiet_multimedia() -> None:
    """QtMultimedia warns about every optional video-acceleration library it
    does not find (VA-API, PipeWire): expected on tablets, not worth a warning."""
    global _quieted
    if not _quieted:
        from PySide6.QtCore import QLoggingCategory

        QLoggingCategory.setFilterRules(
            "qt.multimedia.symbolsresolver.warning=false\nqt.multimedia.ffmpeg.info=false"
        )
        _quieted = True


def camera_available() -> bool:
    _quiet_multimedia()
    from PySide6.QtMultimedia import QMediaDevices

    return bool(QMediaDevices.videoInputs())


def pick_image_file(parent: QWidget, on_picked: Callable[[Path], None]) -> None:
    """Our own touch picker (big thumbnails of the pictures folder and removable
    drives, in the app's language), not Qt's desktop file dialog."""
    from ui.dialogs.photo_picker import pick_photo

    pick_photo(parent, on_picked)


def encode_jpeg(image: QImage, quality: int = 92) -> bytes:
    """A camera frame as JPEG bytes, in memory (safe to call off the UI thread)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "JPG", quality):
        raise ValueError("could not encode the camera image")
    return bytes(buffer.data().data())


class CameraDialog(Retranslatable, QDialog):
    """Live camera view with one big shutter button; emits the JPEG bytes."""

    captured = Signal(bytes)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _quiet_multimedia()
        from PySide6.QtMultimedia import (
            QCamera,
            QImageCapture,
            QMediaCaptureSession,
            QMediaDevices,
        )
        from PySide6.QtMultimediaWidgets import QVideoWidget

        self.setObjectName("cameraDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.camera = QCamera(QMediaDevices.defaultVideoInput(), self)
        self.image_capture = QImageCapture(self)
        self.capture_session = QMediaCaptureSession(self)
        self.video = QVideoWidget()
        self.video.setMinimumSize(640, 400)
        self.capture_session.setCamera(self.camera)
        self.capture_session.setImageCapture(self.image_capture)
        self.capture_session.setVideoOutput(self.video)
        self.image_capture.imageCaptured.connect(self._on_image)
        self.image_capture.errorOccurred.connect(self._on_error)
        self.camera.errorOccurred.connect(self._on_error)
        self.message = label("error")
        self.message.setVisible(False)
        self.shoot_button = button("primary", "shootButton")
        self.shoot_button.clicked.connect(self._shoot)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.shoot_button, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(self.video, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.finished.connect(lambda _result: self.camera.stop())
        self.retranslate()
        self.camera.start()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("拍照"))
        self.shoot_button.setText(self.tr("拍照"))
        self.cancel_button.setText(self.tr("取消"))

    def _shoot(self) -> None:
        if not self.image_capture.isReadyForCapture():
            return
        self.shoot_button.setEnabled(False)
        self.image_capture.capture()

    def _on_image(self, _request_id: int, image: QImage) -> None:
        frame = image.copy()

        def done(data: bytes) -> None:
            self.captured.emit(data)
            self.accept()

        run_task(lambda: encode_jpeg(frame), done, self._on_error)

    def _on_error(self, *args: Any) -> None:
        self.shoot_button.setEnabled(True)
        self.message.setText(self.tr("相机出错了，请再拍一次，或者用“选择图片”。"))
        self.message.setVisible(True)
