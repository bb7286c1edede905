"""The Settings section for photos' storage: what they take, and 释放已同步照片.

A photo the centre holds can have its full JPEG deleted here (the thumbnail and the
record stay; :mod:`fieldclient.photos.space`); one not uploaded yet is never freed.
The action asks first and then says how much it freed. The full-disk message points
here (and IT to ``fieldclient photos free-synced``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QHBoxLayout, QVBoxLayout, QWidget

from fieldclient.errors import FieldClientError
from fieldclient.fsutil import human_size
from ui.errors import error_text
from ui.widgets.basic import button, label

if TYPE_CHECKING:
    from fieldclient.photos.space import Freed, PhotoSpace
    from ui.controller import AppController

log = logging.getLogger("gridfield.ui")


class PhotoSpaceSettings(QWidget):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoSpaceSettings")
        self.controller = controller
        self.space: PhotoSpace | None = None
        self.freed: Freed | None = None
        self.confirm: QDialog | None = None
        self.heading = label("heading")
        self.facts = label("fact")
        self.facts.setObjectName("photoSpaceFacts")
        self.hint = label("muted")
        self.result = label("info")
        self.result.setObjectName("photoSpaceResult")
        self.result.setVisible(False)
        self.free_button = button("", "freeSyncedButton")
        self.free_button.clicked.connect(self.ask_free)
        row = QHBoxLayout()
        row.addWidget(self.free_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        for widget in (self.heading, self.facts, self.hint):
            layout.addWidget(widget)
        layout.addLayout(row)
        layout.addWidget(self.result)

    def refresh(self) -> None:
        """Re-read the figures (cheap: a few queries and the size of the photo files)."""
        from fieldclient.photos.space import photo_space

        session = self.controller.session
        self.space = None
        if session is not None:
            try:
                self.space = photo_space(session)
            except (FieldClientError, OSError) as exc:
                log.warning("photo space not read: %s", type(exc).__name__)
        self.retranslate()

    def retranslate(self) -> None:
        self.heading.setText(self.tr("照片占用的空间"))
        self.free_button.setText(self.tr("释放已同步照片"))
        self.hint.setText(self.tr(
            "已上传到中心的照片可以从本机删掉原图，腾出空间：缩略图和记录都留着，"
            "原图在中心可以查看。还没上传的照片不会删。"))
        space = self.space
        self.setVisible(space is not None)
        if space is None:
            return
        self.facts.setText(self.tr(
            "本机照片{n}张，占用{size}。已上传、可以释放：{free}张（{free_size}）；"
            "还没上传：{waiting}张；已释放过原图：{freed}张。").format(
            n=space.photos, size=human_size(space.on_disk_bytes), free=space.freeable,
            free_size=human_size(space.freeable_bytes), waiting=space.waiting,
            freed=space.freed))
        self.free_button.setEnabled(space.freeable > 0)
        if self.freed is not None:
            self.result.setText(self.tr("已释放{n}张照片的原图，腾出{size}。").format(
                n=self.freed.count, size=human_size(self.freed.bytes)))

    def ask_free(self) -> None:
        if self.space is None or self.space.freeable == 0 or self.confirm is not None:
            return
        from ui.dialogs.patrol import ConfirmDialog

        confirm = ConfirmDialog(
            self.tr("从本机删除{n}张已上传到中心的照片原图，可以腾出约{size}。"
                    "缩略图和记录都留着，原图在中心可以查看，不能再从本机导出。"
                    "还没上传的{waiting}张不会删。").format(
                n=self.space.freeable, size=human_size(self.space.freeable_bytes),
                waiting=self.space.waiting),
            ok_text=self.tr("释放"), cancel_text=self.tr("取消"), parent=self.window())
        confirm.accepted.connect(self.free)
        confirm.finished.connect(lambda _r: setattr(self, "confirm", None))
        self.confirm = confirm
        confirm.open()

    def free(self) -> None:
        from fieldclient.photos.space import free_synced

        session = self.controller.session
        if session is None:
            return
        try:
            self.freed = free_synced(session)
        except Exception as exc:  # a database write failing (a full disk): said plainly
            from fieldclient.fsutil import storage_full

            known = exc if isinstance(exc, FieldClientError) else storage_full(
                self.controller.data_dir, exc)
            log.warning("freeing photos failed: %s", type(exc).__name__)
            self.result.setText(error_text(known) if known is not None else self.tr(
                "没有释放任何照片：本机数据库写不进去。照片都还在，请稍后再试或联系IT。"))
            self.result.setVisible(True)
            return
        self.result.setVisible(True)
        self.refresh()
