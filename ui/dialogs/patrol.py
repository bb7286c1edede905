"""Dialogs of the patrol flow: confirm, report as event, track. Opened with ``open()``."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork.patrols import EventDraft
from fieldclient.geo.archive import TileArchive
from fieldclient.geo.geometry import Fix
from fieldclient.i18n import QT_TRANSLATE_NOOP
from ui.widgets.basic import Retranslatable, button, label
from ui.widgets.track_view import TrackView

# The default event classes of domain.md, for showing them in English too.
EVENT_CATEGORIES = (
    QT_TRANSLATE_NOOP("eventCategory", "矛盾纠纷"),
    QT_TRANSLATE_NOOP("eventCategory", "治安隐患"),
    QT_TRANSLATE_NOOP("eventCategory", "安全生产"),
    QT_TRANSLATE_NOOP("eventCategory", "消防安全"),
    QT_TRANSLATE_NOOP("eventCategory", "食品药品"),
    QT_TRANSLATE_NOOP("eventCategory", "市场监管"),
    QT_TRANSLATE_NOOP("eventCategory", "违法建设"),
    QT_TRANSLATE_NOOP("eventCategory", "市容环卫"),
    QT_TRANSLATE_NOOP("eventCategory", "环境保护"),
    QT_TRANSLATE_NOOP("eventCategory", "道路交通"),
    QT_TRANSLATE_NOOP("eventCategory", "公共设施"),
    QT_TRANSLATE_NOOP("eventCategory", "民政救助"),
    QT_TRANSLATE_NOOP("eventCategory", "特殊人群"),
    QT_TRANSLATE_NOOP("eventCategory", "流动人口"),
    QT_TRANSLATE_NOOP("eventCategory", "信访维稳"),
    QT_TRANSLATE_NOOP("eventCategory", "自然灾害"),
    QT_TRANSLATE_NOOP("eventCategory", "卫生防疫"),
    QT_TRANSLATE_NOOP("eventCategory", "教育与未成年人"),
    QT_TRANSLATE_NOOP("eventCategory", "劳动保障"),
    QT_TRANSLATE_NOOP("eventCategory", "住房与物业"),
    QT_TRANSLATE_NOOP("eventCategory", "政策咨询"),
    QT_TRANSLATE_NOOP("eventCategory", "其他"),
)


def category_text(category: str) -> str:
    return QCoreApplication.translate("eventCategory", category)


class _Dialog(Retranslatable, QDialog):
    def __init__(self, parent: QWidget | None, name: str) -> None:
        super().__init__(parent or QApplication.activeWindow())
        self.setObjectName(name)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(24, 24, 24, 24)
        self.layout_.setSpacing(16)
        self.cancel_button = button("", "cancelButton")
        self.cancel_button.clicked.connect(self.reject)
        self.ok_button = button("primary", "okButton")
        self.ok_button.clicked.connect(self.accept)
        self.buttons = QHBoxLayout()
        self.buttons.addWidget(self.cancel_button)
        self.buttons.addStretch(1)
        self.buttons.addWidget(self.ok_button)


class ConfirmDialog(_Dialog):
    """A question with two big answers; ``accepted`` means the second (blue) one."""

    def __init__(self, message: str, ok_text: str, cancel_text: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, "confirmDialog")
        self.message = label("prompt")
        self.message.setText(message)
        self.message.setMinimumWidth(560)
        self.ok_button.setText(ok_text)
        self.cancel_button.setText(cancel_text)
        self.layout_.addWidget(self.message)
        self.layout_.addLayout(self.buttons)
        self.retranslate()

    def add_button(self, text: str, name: str) -> QPushButton:
        """A third answer, between the two (it closes nothing by itself)."""
        btn = button("", name)
        btn.setText(text)
        self.buttons.insertWidget(1, btn)
        return btn

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("请确认"))


def position_text(lat: float | None, lon: float | None) -> str:
    if lat is None or lon is None:
        return QCoreApplication.translate("patrolDialogs", "没有定位（上报时不带位置）")
    return QCoreApplication.translate("patrolDialogs", "北纬{lat}°，东经{lon}°").format(
        lat=f"{lat:.5f}", lon=f"{lon:.5f}")


class EventDialog(_Dialog):
    """The event filled from a checklist item, for the worker to check and send."""

    def __init__(self, draft: EventDraft, item_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, "eventDialog")
        self.draft = draft
        self.heading = label("prompt")
        self.form = QFormLayout()  # names left of the values: the dialog must fit 800 px
        self.form.setHorizontalSpacing(24)
        self.form.setVerticalSpacing(10)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.names: dict[str, QLabel] = {}
        self.values: dict[str, QLabel] = {}
        for key in ("item", "category", "grid", "photos", "place"):
            name, value = label("muted", wrap=False), label("fact")
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setObjectName(f"event_{key}")
            self.names[key], self.values[key] = name, value
            self.form.addRow(name, value)
        self.description_name = label("muted", wrap=False)
        self.description = QLineEdit(draft.description)
        self.description.setObjectName("eventDescription")
        self.description.setMaxLength(5000)
        self.form.addRow(self.description_name, self.description)
        self.values["item"].setText(item_name)
        self.values["category"].setText(category_text(draft.category))
        from ui.patrol_common import grid_label

        self.values["grid"].setText(grid_label(draft.grid_id))
        self.values["place"].setText(position_text(draft.lat, draft.lon))
        self.layout_.addWidget(self.heading)
        self.layout_.addLayout(self.form)
        self.layout_.addLayout(self.buttons)
        self.retranslate()
        self._fit()

    def _fit(self) -> None:
        """As wide as the window allows (long English names at large text)."""
        owner = self.parentWidget()
        width = owner.window().width() - 80 if owner is not None else 1100
        self.resize(max(760, min(width, 1200)), self.sizeHint().height())

    def description_text(self) -> str:
        return self.description.text()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("上报事件"))
        self.heading.setText(self.tr("请核对后上报。有网络时会自动发送到指挥中心。"))
        self.names["item"].setText(self.tr("巡查事项"))
        self.names["category"].setText(self.tr("事件类别"))
        self.names["grid"].setText(self.tr("网格"))
        self.names["photos"].setText(self.tr("照片"))
        self.names["place"].setText(self.tr("位置"))
        self.description_name.setText(self.tr("问题说明"))
        self.values["photos"].setText(self.tr("{n}张").format(n=len(self.draft.photos)))
        self.ok_button.setText(self.tr("确认上报"))
        self.cancel_button.setText(self.tr("取消"))


class TrackDialog(_Dialog):
    """The track so far, drawn big."""

    def __init__(self, fixes: Sequence[Fix], facts: str, parent: QWidget | None = None,
                 archive: TileArchive | None = None, waiting_since: float | None = None,
                 fix_count: int | None = None) -> None:
        super().__init__(parent, "trackDialog")
        self.view = TrackView(archive)
        self.view.setMinimumSize(480, 240)
        self.view.set_track(fixes, fix_count)
        self.view.set_waiting(waiting_since)
        self.facts = label("prompt")
        self.facts.setText(facts)
        self.cancel_button.setVisible(False)
        self.layout_.addWidget(self.facts)
        self.layout_.addWidget(self.view, 1)
        self.layout_.addLayout(self.buttons)
        self.retranslate()
        owner = self.parentWidget()
        if owner is not None:  # nearly the whole window: the map is the point
            window = owner.window()
            self.resize(max(760, min(window.width() - 80, 1200)), max(560, window.height() - 60))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("巡查轨迹"))
        self.ok_button.setText(self.tr("关闭"))
        self.view.set_empty_text(self.tr("还没有记录到定位点。"))


class RestNormalDialog(_Dialog):
    """其余正常: says which items it will mark normal (this group's, by name, and how
    many of the other groups'), and lets the worker choose this group or all."""

    chosen = Signal(str)  # "group" or "all"

    def __init__(self, group_name: str, names: Sequence[str], elsewhere: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, "restNormalDialog")
        self.group_name = group_name
        self.names = list(names)
        self.elsewhere = elsewhere
        self.message = label("prompt")
        self.message.setObjectName("restNormalMessage")
        self.message.setMinimumWidth(560)
        self.items_text = label("fact")
        self.items_text.setObjectName("restNormalItems")
        self.items_text.setTextFormat(Qt.TextFormat.PlainText)
        self.group_button = button("primary", "restGroupButton")
        self.group_button.clicked.connect(lambda: self._choose("group"))
        self.all_button = button("primary", "restAllButton")
        self.all_button.clicked.connect(lambda: self._choose("all"))
        self.ok_button.setVisible(False)
        self.buttons.addWidget(self.group_button)
        self.buttons.addWidget(self.all_button)
        self.group_button.setVisible(bool(self.names))
        self.all_button.setVisible(elsewhere > 0)
        from ui.widgets.basic import scroll_area

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 8, 0)
        column.addWidget(self.items_text)
        # The names scroll (28 English names at 175 % are taller than the screen);
        # the question and the answers always stay in sight.
        self.items_area = scroll_area(body)
        self.items_area.setObjectName("restNormalItemsArea")
        self.layout_.addWidget(self.message)
        self.layout_.addWidget(self.items_area, 1)
        self.layout_.addLayout(self.buttons)
        self.retranslate()
        owner = self.parentWidget()
        window = owner.window() if owner is not None else None
        if window is not None:  # wide: fewer lines of names
            self.resize(max(640, window.width() - 80),
                        min(self.sizeHint().height(), max(480, window.height() - 40)))

    def _choose(self, scope: str) -> None:
        self.chosen.emit(scope)
        self.accept()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("其余正常"))
        if self.names:
            self.message.setText(self.tr(
                "“{group}”还有{n}项没有检查。标为“正常”表示您看过、没有发现问题：").format(
                group=self.group_name, n=len(self.names)))
            self.items_text.setText(self.tr("、").join(self.names))
        else:
            self.message.setText(self.tr("“{group}”的项目都检查过了。").format(
                group=self.group_name))
            self.items_text.setText("")
        self.items_text.setVisible(bool(self.names))
        self.items_area.setVisible(bool(self.names) or bool(self.elsewhere))
        if self.elsewhere:
            self.items_text.setText(self.items_text.text() + ("\n\n" if self.names else "")
                                    + self.tr("其他组还有{n}项没有检查。").format(n=self.elsewhere))
            self.items_text.setVisible(True)
        self.group_button.setText(self.tr("本组{n}项正常").format(n=len(self.names)))
        self.all_button.setText(self.tr("全部{n}项正常").format(
            n=len(self.names) + self.elsewhere))
        self.cancel_button.setText(self.tr("取消"))


class ItemListDialog(_Dialog):
    """全部项目: a group's items as big buttons (answered ones marked); one tap opens one.

    As wide as the window, so that two or three columns fit and a group of 13 items
    needs no scrolling in Chinese even at 175 % text (long English names at that size
    may: the list scrolls then)."""

    picked = Signal(str)

    def __init__(self, group_name: str, entries: Sequence[tuple[str, str, str]],
                 parent: QWidget | None = None) -> None:
        from ui.widgets.basic import scroll_area
        from ui.widgets.patrol import ButtonGrid

        super().__init__(parent, "itemListDialog")
        self.group_name = group_name
        self.heading = label("prompt")
        self.grid = ButtonGrid((3, 2, 1))
        self.item_buttons: dict[str, QPushButton] = {}
        self.entries = list(entries)
        for code, _name, state in self.entries:
            btn = button("result", f"pickItem_{code}")
            btn.setProperty("result", state)
            btn.clicked.connect(lambda _=False, c=code: self._pick(c))
            self.item_buttons[code] = btn
            self.grid.add_button(btn)
        self.ok_button.setVisible(False)
        top = QHBoxLayout()  # 返回 beside the heading: the items get the height
        top.addWidget(self.heading, 1)
        top.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.grid)
        column.addStretch(1)
        self.layout_.setContentsMargins(20, 16, 20, 16)
        self.layout_.setSpacing(10)
        self.layout_.addLayout(top)
        self.layout_.addWidget(scroll_area(body), 1)
        self.retranslate()
        owner = self.parentWidget()
        if owner is not None:
            window = owner.window()
            self.resize(window.width() - 40, window.height() - 20)

    def _pick(self, code: str) -> None:
        self.picked.emit(code)
        self.accept()

    def _fit_grid(self) -> None:
        """The buttons at their full height (the grid's own hint is small on purpose):
        the list scrolls instead of squeezing their text."""
        self.grid.arrange(force=True)
        self.grid.setMinimumHeight(self.grid.grid.sizeHint().height())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_grid()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            self._fit_grid()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("全部项目"))
        self.heading.setText(self.tr("{group}：点一项去检查它").format(group=self.group_name))
        marks = {"normal": self.tr("正常"), "problem": self.tr("有问题"),
                 "not_applicable": self.tr("不涉及"), "open": ""}
        for index, (code, name, state) in enumerate(self.entries):
            mark = marks.get(state, "")
            # Spaces between the parts: a button too narrow breaks its text there.
            self.grid.set_text(index, f"{code} {name}" + (f" ·{mark}" if mark else ""))
        self.cancel_button.setText(self.tr("返回"))
