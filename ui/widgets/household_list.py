"""The household list: a Qt model over search results (pages fetched as the worker
scrolls) and a delegate painting big two-line rows with a category badge and a
visit-due marker. No widget per row: 100,000 households cost nothing to show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from fieldclient.fieldwork.households import HIDDEN_TAG
from fieldclient.fieldwork.quotas import CATEGORY_NAMES, DueHousehold
from fieldclient.fieldwork.search import HouseholdHit
from fieldclient.i18n import QT_TRANSLATE_NOOP

_ROOT = QModelIndex()  # the list's (invalid) parent index, as a default argument
HIT_ROLE = Qt.ItemDataRole.UserRole + 1
DUE_ROLE = Qt.ItemDataRole.UserRole + 2
HIDDEN_TAG_TEXT = QT_TRANSLATE_NOOP("households", "特殊人群（已隐藏）")
BADGE_COLOURS = {  # background, text: high contrast in sunlight
    "ordinary": ("#e6e6e6", "#000000"),
    "hardship": ("#fff4c2", "#5c3d00"),
    "key": ("#9b0000", "#ffffff"),
}


def category_text(category: str) -> str:
    return QCoreApplication.translate("quota", CATEGORY_NAMES.get(category, category))


def tag_text(tag: str) -> str:
    return QCoreApplication.translate("households", HIDDEN_TAG_TEXT) if tag == HIDDEN_TAG else tag


def due_text(due: DueHousehold, today: date) -> str:
    if due.overdue:
        return QCoreApplication.translate("households", "走访逾期{n}天").format(
            n=due.days_overdue(today))
    return QCoreApplication.translate("households", "{month}月{day}日前走访").format(
        month=due.due_date.month, day=due.due_date.day)


@dataclass(frozen=True)
class Row:
    hit: HouseholdHit
    due: DueHousehold | None  # only when due within a week or overdue


class HouseholdListModel(QAbstractListModel):
    """Rows of the current search. ``fetch_more`` asks the page for the next page
    (searches run off the UI thread); ``append`` adds it when it arrives."""

    def __init__(self, fetch_more: Callable[[int], None]) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.has_more = False
        self.loading_more = False
        self._fetch_more = fetch_more

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.hit.head_name
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{row.hit.head_name} {row.hit.address} {category_text(row.hit.category)}"
        if role == HIT_ROLE:
            return row.hit
        if role == DUE_ROLE:
            return row.due
        return None

    def reset(self, rows: list[Row], has_more: bool) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.has_more = has_more
        self.loading_more = False
        self.endResetModel()

    def append(self, rows: list[Row], has_more: bool) -> None:
        self.loading_more = False
        self.has_more = has_more
        if not rows:
            return
        start = len(self.rows)
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> bool:
        return not parent.isValid() and self.has_more and not self.loading_more

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> None:
        if self.canFetchMore(parent):
            self.loading_more = True
            self._fetch_more(len(self.rows))

    def household_id(self, row: int) -> str:
        return self.rows[row].hit.household_id


class HouseholdDelegate(QStyledItemDelegate):
    """Two lines: the head's name (large, bold) with the category badge and the due
    marker on the right; the address and tags below."""

    def __init__(self, today: Callable[[], date], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.today = today

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        big = QFont(option.font)
        big.setPixelSize(round(max(option.font.pixelSize(), 12) * 1.25))
        big.setBold(True)
        small = QFont(option.font)
        return big, small

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        big, small = self._fonts(option)
        height = QFontMetrics(big).height() + QFontMetrics(small).height() + 36
        return QSize(option.rect.width(), max(88, height))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        hit = index.data(HIT_ROLE)
        if not isinstance(hit, HouseholdHit):
            return
        due = index.data(DUE_ROLE)
        painter.save()
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.fillRect(rect, QColor("#fff4c2" if selected else "#ffffff"))
        painter.setPen(QPen(QColor("#8c8c8c"), 1))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        big, small = self._fonts(option)
        pad = 16
        top = rect.top() + 14
        right = rect.right() - pad
        # right side: badge, then due marker
        painter.setFont(small)
        metrics = QFontMetrics(small)
        badge = category_text(hit.category)
        badge_w = metrics.horizontalAdvance(badge) + 24
        badge_h = metrics.height() + 8
        badge_rect = QRect(right - badge_w, top, badge_w, badge_h)
        back, fore = BADGE_COLOURS.get(hit.category, BADGE_COLOURS["ordinary"])
        painter.setPen(QPen(QColor("#000000"), 2))
        painter.setBrush(QColor(back))
        painter.drawRoundedRect(badge_rect, 6, 6)
        painter.setPen(QColor(fore))
        painter.drawText(badge_rect, Qt.AlignmentFlag.AlignCenter, badge)
        text_right = badge_rect.left() - pad
        second_right = rect.right() - pad  # the address may run under the badge
        if isinstance(due, DueHousehold):
            marker = due_text(due, self.today())
            marker_w = metrics.horizontalAdvance(marker)
            marker_rect = QRect(right - marker_w, badge_rect.bottom() + 6, marker_w,
                                metrics.height())
            painter.setPen(QColor("#9b0000" if due.overdue else "#002b66"))
            bold = QFont(small)
            bold.setBold(True)
            painter.setFont(bold)
            painter.drawText(marker_rect, Qt.AlignmentFlag.AlignRight, marker)
            second_right = marker_rect.left() - pad
        # left side: name, then address and tags
        painter.setPen(QColor("#000000"))
        painter.setFont(big)
        big_metrics = QFontMetrics(big)
        name_rect = QRect(rect.left() + pad, top, text_right - rect.left() - pad,
                          big_metrics.height())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         big_metrics.elidedText(hit.head_name, Qt.TextElideMode.ElideRight,
                                                name_rect.width()))
        painter.setFont(small)
        painter.setPen(QColor("#333333"))
        line = hit.address
        if hit.tags:
            line += "  ·  " + "、".join(tag_text(t) for t in hit.tags)
        second = QRect(rect.left() + pad, name_rect.bottom() + 6,
                       second_right - rect.left() - pad, metrics.height())
        painter.drawText(second, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(line, Qt.TextElideMode.ElideRight, second.width()))
        painter.restore()
