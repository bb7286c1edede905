"""A simple offline track view: the path scaled to fit, start and end marked.

No map tiles (none are available offline): a north-up drawing on a local
metric projection, with a scale bar so the worker can judge distances.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from fieldclient.geo.geometry import Fix, LocalProjection

START_COLOR = QColor("#007a33")
END_COLOR = QColor("#b00000")
LINE_COLOR = QColor("#003d99")
NICE_STEPS = (1, 2, 5)


def scale_bar_metres(metres_per_px: float, max_px: float) -> float:
    """A round length (1, 2, 5 × 10^n m) that fits in ``max_px``."""
    if metres_per_px <= 0:
        return 0.0
    limit = metres_per_px * max_px
    best = 1.0
    power = 1.0
    while power <= limit:
        for step in NICE_STEPS:
            if step * power <= limit:
                best = step * power
        power *= 10
    return best


class TrackView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trackView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self.points: list[tuple[float, float]] = []  # metres east, north
        self.empty_text = ""

    def sizeHint(self) -> QSize:
        return QSize(480, 320)

    def set_track(self, fixes: Sequence[Fix]) -> None:
        if fixes:
            projection = LocalProjection.around(fixes)
            self.points = [projection.xy(f.lat, f.lon) for f in fixes]
        else:
            self.points = []
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#f4f4f4"))
        painter.setPen(QPen(QColor("#000000"), 2))
        painter.drawRect(self.rect().adjusted(1, 1, -2, -2))
        if not self.points:
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
            painter.end()
            return
        margin = 28.0
        area = QRectF(self.rect()).adjusted(margin, margin, -margin, -margin)
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        span = max(max(xs) - min(xs), max(ys) - min(ys), 20.0)  # at least 20 m across
        scale = min(area.width(), area.height()) / span
        cx = (max(xs) + min(xs)) / 2
        cy = (max(ys) + min(ys)) / 2

        def at(x: float, y: float) -> QPointF:
            return QPointF(area.center().x() + (x - cx) * scale,
                           area.center().y() - (y - cy) * scale)

        path = QPainterPath(at(*self.points[0]))
        for x, y in self.points[1:]:
            path.lineTo(at(x, y))
        painter.setPen(QPen(LINE_COLOR, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                            Qt.PenJoinStyle.RoundJoin))
        painter.drawPath(path)
        for (x, y), color in ((self.points[0], START_COLOR), (self.points[-1], END_COLOR)):
            painter.setPen(QPen(QColor("#ffffff"), 3))
            painter.setBrush(color)
            painter.drawEllipse(at(x, y), 11, 11)
        # scale bar, bottom left
        bar_m = scale_bar_metres(1 / scale, area.width() / 3)
        if bar_m > 0:
            length = bar_m * scale
            y = self.height() - 12.0
            painter.setPen(QPen(QColor("#000000"), 3))
            painter.drawLine(QPointF(12, y), QPointF(12 + length, y))
            painter.drawLine(QPointF(12, y - 6), QPointF(12, y))
            painter.drawLine(QPointF(12 + length, y - 6), QPointF(12 + length, y))
            text = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
            painter.drawText(QPointF(18 + length, y), text)
        painter.end()
