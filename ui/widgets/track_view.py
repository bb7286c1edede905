"""The worker's own patrol track on the offline map (:class:`ui.widgets.map_view.MapView`),
with a plain notice in large text while no position has come in.

``set_waiting(since)`` says when the GPS started waiting (Unix time; None once fixes
arrive): with no track yet the notice fills the middle of the map — "no GPS signal
yet", how long it has been waiting and what helps — and with a track it becomes a
banner saying how long no new position has come. ``empty_text`` is shown when there
is no track and nothing is being waited for (a finished patrol without fixes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

from fieldclient.geo.archive import TileArchive
from fieldclient.geo.geometry import HasPosition
from ui.widgets.basic import label
from ui.widgets.map_view import MapView


class TrackView(MapView):
    def __init__(self, archive: TileArchive | None = None, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(archive, parent)
        self.setObjectName("trackView")
        self.clock = clock
        self.notice: QLabel = label("mapNotice", parent=self)
        self.notice.setObjectName("trackNotice")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.notice.hide()
        self.empty_text = ""
        self.waiting_since: float | None = None
        self.fix_count = 0
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._update_notice)

    # -- the track ---------------------------------------------------------------------
    def set_track(self, points: Sequence[HasPosition], fix_count: int | None = None) -> None:
        """Draw ``points`` (a path simplified for drawing may stand for ``fix_count`` fixes)."""
        self.fix_count = len(points) if fix_count is None else fix_count
        super().set_track(points)
        self._update_notice()

    def append_to_track(self, point: HasPosition) -> None:
        self.fix_count += 1
        super().append_to_track(point)
        self._update_notice()

    def set_waiting(self, since: float | None) -> None:
        """The GPS has had nothing since ``since`` (None: positions are coming in)."""
        self.waiting_since = since
        if since is None:
            self.timer.stop()
        else:
            self.timer.start()
        self._update_notice()

    def set_empty_text(self, text: str) -> None:
        self.empty_text = text
        self._update_notice()

    # -- the notice --------------------------------------------------------------------
    def waited_text(self, seconds: float) -> str:
        seconds = max(0, int(seconds))
        if seconds < 60:
            return self.tr("{s}秒").format(s=seconds)
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            return self.tr("{m}分{s}秒").format(m=minutes, s=seconds)
        hours, minutes = divmod(minutes, 60)
        return self.tr("{h}小时{m}分钟").format(h=hours, m=minutes)

    def notice_text(self) -> str:
        if self.waiting_since is not None:
            waited = self.waited_text(self.clock() - self.waiting_since)
            if not self.fix_count:
                return self.tr("还没有收到定位信号\n已等待{waited}。\n请到室外开阔的地方，"
                               "远离高楼和大树。").format(waited=waited)
            return self.tr("已经{waited}没有收到新的定位信号").format(waited=waited)
        if not self.fix_count:
            return self.empty_text
        return ""

    def _update_notice(self) -> None:
        text = self.notice_text()
        if text != self.notice.text():
            self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self._place_notice()

    def _restyle(self, fit: str) -> None:
        if self.notice.property("fit") != fit:
            self.notice.setProperty("fit", fit)
            self.notice.style().unpolish(self.notice)
            self.notice.style().polish(self.notice)

    def _place_notice(self) -> None:
        """In the middle without a track, as a banner on top with one; the text steps down
        a size (title, large, normal) until it fits, and the zoom buttons stay free."""
        if not self.notice.text():
            return
        margin = 12
        left = margin
        right = self.zoom_in_button.geometry().left() - margin
        width = max(120, right - left)
        room = self.height() - 2 * margin
        sizes = ("large", "base") if self.fix_count else ("title", "large", "base")
        for fit in sizes:
            self._restyle(fit)
            height = self.notice.heightForWidth(width)
            if height <= (room if not self.fix_count else room // 2):
                break
        height = min(room, height)
        top = margin if self.fix_count else (self.height() - height) // 2
        self.notice.setGeometry(left, top, width, height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_notice()

    def hideEvent(self, event: QHideEvent) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.waiting_since is not None:
            self.timer.start()
        self._update_notice()

    def retranslate(self) -> None:
        super().retranslate()
        if hasattr(self, "notice"):
            self._update_notice()
