"""A photo at full size, and a row of big thumbnails that opens it.

Wherever photos appear a tap on a thumbnail shows the photo as large as the
window; where the photo may still be dropped (a form not sent yet) the viewer
has 删除这张照片, which asks first: a tap alone never throws a photo away (the
old "tap to remove" hint was a tooltip, which touch screens never show).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.basic import Retranslatable, button, label

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

log = logging.getLogger("gridfield.ui")
THUMB_PX = 96


class StoredPhoto(QPixmap):
    """A pixmap that knows whether it is only the thumbnail of a photo whose full
    JPEG was freed here (the centre holds it): the view says so."""

    freed = False


def stored_photo(session: Session | None, photo_id: str, thumbnail: bool = False) -> QPixmap:
    """A stored photo decrypted in memory; a null pixmap when it is not on this device,
    the thumbnail (``freed`` set) when its full JPEG was freed to make space."""
    from fieldclient.errors import FieldClientError
    from fieldclient.photos.pipeline import PhotoFreed, decode_for_display

    pixmap = StoredPhoto()
    if session is None:
        return pixmap
    try:
        pixmap.loadFromData(decode_for_display(session, photo_id, thumbnail=thumbnail))
    except PhotoFreed:
        pixmap.freed = True
        try:
            pixmap.loadFromData(decode_for_display(session, photo_id, thumbnail=True))
        except FieldClientError as exc:
            log.warning("thumbnail of freed photo %s not shown: %s", photo_id,
                        type(exc).__name__)
    except FieldClientError as exc:
        log.warning("photo %s could not be shown: %s", photo_id, type(exc).__name__)
    return pixmap


class PhotoView(Retranslatable, QDialog):
    """One photo as large as the window; 关闭, and 删除这张照片 (asks first) when
    ``removable``: ``removed`` is emitted once the worker confirmed."""

    removed = Signal()

    def __init__(self, pixmap: QPixmap, removable: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName("photoView")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.pixmap = pixmap
        self.confirm: QDialog | None = None
        self.image = QLabel()
        self.image.setObjectName("fullPhoto")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(200, 150)
        self.note = label("empty")
        self.remove_button = button("danger", "removePhotoButton")
        self.remove_button.setVisible(removable)
        self.remove_button.clicked.connect(self.ask_remove)
        self.close_button = button("primary", "closeButton")
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)
        self.retranslate()
        owner = self.parentWidget()
        window = owner.window() if owner is not None else None
        self.resize(max(640, (window.width() if window else 1280) - 40),
                    max(480, (window.height() if window else 800) - 40))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("照片"))
        self.close_button.setText(self.tr("关闭"))
        self.remove_button.setText(self.tr("删除这张照片"))
        freed = bool(getattr(self.pixmap, "freed", False))
        if freed:
            self.note.setText(self.tr("这里只是缩略图：原图已上传到中心，为腾出空间已从本机释放，"
                                      "原图请在中心查看。"))
        else:
            self.note.setText(self.tr("这张照片不在本机上（照片留在中心，本机只收到记录）。")
                              if self.pixmap.isNull() else "")
        self.note.setVisible(self.pixmap.isNull() or freed)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self.pixmap.isNull():
            self.image.setPixmap(self.pixmap.scaled(
                self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def ask_remove(self) -> None:
        if self.confirm is not None:
            return
        from ui.dialogs.patrol import ConfirmDialog

        confirm = ConfirmDialog(
            self.tr("删除这张照片吗？删除后要重新拍或重新选。"),
            ok_text=self.tr("删除"), cancel_text=self.tr("保留"), parent=self)
        confirm.accepted.connect(self._removed)
        confirm.finished.connect(lambda _r: setattr(self, "confirm", None))
        self.confirm = confirm
        confirm.open()

    def _removed(self) -> None:
        self.removed.emit()
        self.accept()


class PhotoStrip(QWidget):
    """Thumbnails as big buttons; a tap opens :class:`PhotoView`. With
    ``removable`` the view offers 删除 and ``remove_requested(index)`` follows."""

    remove_requested = Signal(int)

    def __init__(self, removable: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.removable = removable
        self.thumbs: list[QPushButton] = []
        self.loaders: list[Callable[[], QPixmap]] = []
        self.view: PhotoView | None = None
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(8)

    def set_photos(self, thumbnails: list[QPixmap],
                   full: list[Callable[[], QPixmap]]) -> None:
        """``full[i]()`` gives photo i at full size (decrypted only when opened)."""
        while self.thumbs:
            old = self.thumbs.pop()
            self.row.removeWidget(old)
            old.deleteLater()
        self.loaders = list(full)
        for index, pixmap in enumerate(thumbnails):
            thumb = QPushButton()
            thumb.setObjectName("photoThumb")
            if not pixmap.isNull():
                thumb.setIcon(QIcon(pixmap))
            thumb.setIconSize(QSize(THUMB_PX, THUMB_PX))
            thumb.setFixedSize(THUMB_PX + 12, THUMB_PX + 12)
            thumb.setAccessibleName(self.tr("照片{n}").format(n=index + 1))
            thumb.clicked.connect(lambda _=False, i=index: self.open_photo(i))
            self.row.addWidget(thumb)
            self.thumbs.append(thumb)

    def open_photo(self, index: int) -> None:
        view = PhotoView(self.loaders[index](), self.removable, self.window())
        view.removed.connect(lambda i=index: self.remove_requested.emit(i))
        view.finished.connect(lambda _r: setattr(self, "view", None))
        self.view = view
        view.open()
