"""Pieces of the Patrol page: the platform group tabs and one checklist item's card."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize
from PySide6.QtGui import QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from fieldclient.fieldwork.checklist import ChecklistItem
from fieldclient.fieldwork.patrols import MAX_NOTE, MAX_PHOTOS, ItemResult, ItemState
from ui import style
from ui.widgets.basic import button, label, set_role


def wrap_words(text: str, width: int, measure: Callable[[str], int]) -> str:
    """Greedy word wrap with newlines (for push buttons, which cannot wrap)."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and measure(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return "\n".join(lines)


class ButtonGrid(QWidget):
    """A row of big buttons that stays inside its width: with too little room it
    uses fewer columns (``columns`` lists the choices, widest first) and breaks
    long texts onto more lines, since push buttons cannot wrap by themselves."""

    def __init__(self, columns: tuple[int, ...] = (4, 2), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column_choices = columns
        self.buttons: list[QPushButton] = []
        self.texts: list[str] = []
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.columns = 0
        self.hidden: set[QPushButton] = set()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)

    def set_shown(self, btn: QPushButton, shown: bool) -> None:
        if (btn not in self.hidden) == shown:
            return
        if shown:
            self.hidden.discard(btn)
        else:
            self.hidden.add(btn)
        btn.setVisible(shown)
        self.arrange(force=True)

    def add_button(self, btn: QPushButton) -> None:
        btn.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.buttons.append(btn)
        self.texts.append(btn.text())
        self.columns = 0
        self.arrange()

    def clear(self) -> None:
        for btn in self.buttons:
            self.grid.removeWidget(btn)
            btn.deleteLater()
        self.buttons, self.texts = [], []
        self.hidden.clear()

    def set_text(self, index: int, text: str) -> None:
        self.texts[index] = text
        self.arrange(force=True)

    def minimumSizeHint(self) -> QSize:
        # Small on purpose: the real arrangement depends on the width, known only
        # once laid out; a tall or wide hint computed too early would stretch the window.
        height = self.buttons[0].minimumSizeHint().height() if self.buttons else 0
        return QSize(120, height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.arrange()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.arrange(force=True)  # arranged while hidden: the width was not known

    def arrange(self, force: bool = False) -> None:
        shown = [(b, t) for b, t in zip(self.buttons, self.texts, strict=True)
                 if b not in self.hidden]
        if not shown:
            return
        width = max(self.width(), 120)
        pad = 2 * style.metrics(style.current_scale())["gap"] + 28  # padding, border, room
        metrics = shown[0][0].fontMetrics()

        def room(columns: int) -> int:
            return int((width - self.grid.spacing() * (columns - 1)) / columns - pad)

        def fits(columns: int) -> bool:
            words = [w for _, t in shown for w in t.split(" ")]
            return all(metrics.horizontalAdvance(w) <= room(columns) for w in words)

        choices = [min(c, len(shown)) for c in self.column_choices]
        columns = choices[-1]
        if self.isVisible():
            columns = next((c for c in choices if fits(c)), choices[-1])
        for btn, text in shown:
            wrapped = wrap_words(text, room(columns), metrics.horizontalAdvance)
            if btn.text() != wrapped:
                btn.setText(wrapped)
        if columns != self.columns or force:
            self.columns = columns
            for btn in self.buttons:
                self.grid.removeWidget(btn)
            for index, (btn, _text) in enumerate(shown):
                self.grid.addWidget(btn, index // columns, index % columns)


class GroupTabs(ButtonGrid):
    """Big checkable buttons, one per platform, always in one row: 4 named tabs when
    the names fit; otherwise (English at large text) the chosen tab keeps its name and
    takes the room, the others show their number (and ✓), named for screen readers.
    Two rows of tabs took a quarter of the screen at 175 % and pushed the item's
    answers out of sight."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__((4, 2), parent)
        self.setObjectName("groupTabs")
        self.group = QButtonGroup(self)
        self.group.idToggled.connect(lambda _i, on: on and self.arrange(force=True))
        self.compact = False

    def set_groups(self, count: int) -> None:
        for btn in self.buttons:
            self.group.removeButton(btn)
        self.clear()
        for index in range(count):
            btn = button("groupTab", f"groupTab_{index}")
            btn.setCheckable(True)
            self.group.addButton(btn, index)
            self.add_button(btn)

    def arrange(self, force: bool = False) -> None:
        if not self.buttons:
            return
        width = max(self.width(), 120)
        pad = 2 * style.metrics(style.current_scale())["gap"] + 28
        metrics = self.buttons[0].fontMetrics()
        count = len(self.buttons)
        room = int((width - self.grid.spacing() * (count - 1)) / count - pad)
        words = [w for t in self.texts for w in t.split(" ")]
        compact = self.isVisible() and any(metrics.horizontalAdvance(w) > room for w in words)
        if not compact:
            if self.compact:
                for column in range(count):
                    self.grid.setColumnStretch(column, 0)
                self.compact = False
                force = True
            super().arrange(force)
            return
        self.compact = True
        checked = self.group.checkedId()
        short = [f"{i + 1}{' ✓' if t.endswith(' ✓') else ''}" for i, t in enumerate(self.texts)]
        narrow = max(metrics.horizontalAdvance(t) for t in short) + pad
        wide = width - self.grid.spacing() * (count - 1) - narrow * (count - 1) - pad
        for index, (btn, text) in enumerate(zip(self.buttons, self.texts, strict=True)):
            label_text = wrap_words(text, wide, metrics.horizontalAdvance) \
                if index == checked else short[index]
            if btn.text() != label_text:
                btn.setText(label_text)
            btn.setAccessibleName(text)
            self.grid.setColumnStretch(index, 1 if index == checked else 0)
            btn.setMinimumWidth(0 if index == checked else narrow)
        if self.columns != count or force:
            self.columns = count
            for btn in self.buttons:
                self.grid.removeWidget(btn)
            for index, btn in enumerate(self.buttons):
                self.grid.addWidget(btn, 0, index)


class ItemCard(QFrame):
    """One checklist item: name, hint, three result buttons, note, photos, report."""

    def __init__(self, item: ChecklistItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("itemCard")
        self.item = item
        self.code = item.code
        self.name = label("itemName")
        self.name.setObjectName(f"itemName_{item.code}")
        self.hint = label("muted")
        self.result_group = QButtonGroup(self)
        self.result_group.setExclusive(False)  # the saved state decides what is checked
        self.result_buttons: dict[ItemResult, QPushButton] = {}
        self.results = ButtonGrid((3,))
        self.results.grid.setSpacing(12)
        for result in ItemResult:
            btn = button("result", f"result_{item.code}_{result.value}")
            btn.setProperty("result", result.value)
            btn.setCheckable(True)
            self.result_group.addButton(btn)
            self.result_buttons[result] = btn
            self.results.add_button(btn)
        self.note = QLineEdit()
        self.note.setObjectName(f"note_{item.code}")
        self.note.setMaxLength(MAX_NOTE)
        self.note.setClearButtonEnabled(True)
        from ui.dialogs.photo import PhotoStrip

        # The one strip of the app: a tap shows the photo full size; 删除这张照片 there
        # asks first and then ``remove_requested(index)`` (the page detaches it).
        self.strip = PhotoStrip(removable=True)
        self.photo_ids: tuple[str, ...] = ()
        self.camera_button = button("", f"camera_{item.code}")
        self.pick_button = button("", f"pick_{item.code}")
        self.event_button = button("primary", f"report_{item.code}")
        self.busy = label("muted", wrap=False)
        self.busy.setVisible(False)
        self.reported = label("info")
        self.reported.setVisible(False)
        self.error = label("error")
        self.error.setObjectName(f"error_{item.code}")
        self.error.setVisible(False)
        photo_row = QHBoxLayout()
        photo_row.setSpacing(12)
        photo_row.addWidget(self.strip)
        photo_row.addWidget(self.busy)
        photo_row.addStretch(1)
        self.actions = ButtonGrid((3, 2))
        self.actions.grid.setSpacing(12)
        for btn in (self.camera_button, self.pick_button, self.event_button):
            self.actions.add_button(btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.setSpacing(8)
        # The answer first (no scrolling for it at any text size), then evidence, then
        # the explanation of the item.
        layout.addWidget(self.name)
        layout.addWidget(self.results)
        layout.addWidget(self.error)
        layout.addWidget(self.actions)
        layout.addLayout(photo_row)
        layout.addWidget(self.reported)
        layout.addWidget(self.note)
        layout.addWidget(self.hint)
        self.state = ItemState(item.code)

    def retranslate(self, language: str, labels: dict[str, str]) -> None:
        required = labels["required"] if self.item.photo_required_on_problem else ""
        self.name.setText(f"{self.item.code}  {self.item.name(language)}")
        hint = self.item.hint(language)
        self.hint.setText(f"{hint}\n{required}" if required else hint)
        for index, result in enumerate(self.result_buttons):
            self.results.set_text(index, labels[result.value])
        self.note.setPlaceholderText(labels["note"])
        for index, key in enumerate(("camera", "pick", "report")):
            self.actions.set_text(index, labels[key])
        self.busy.setText(labels["busy"])
        self.reported.setText(labels["reported"])

    @property
    def thumbs(self) -> list[QPushButton]:
        return self.strip.thumbs

    def apply(self, state: ItemState, reported: bool, pixmaps: Sequence[QPixmap],
              typing: bool, loaders: Sequence[Callable[[], QPixmap]] = ()) -> None:
        """Show the saved state; ``typing``: leave the note alone (unsaved keystrokes).
        ``pixmaps[i]`` is photo i's thumbnail, ``loaders[i]()`` the photo at full size."""
        self.state = state
        for result, btn in self.result_buttons.items():
            btn.setChecked(state.result is result)
        if not typing and self.note.text() != state.note:
            self.note.setText(state.note)
        set_role(self, state.result.value if state.result else "open")
        problem = state.result is ItemResult.PROBLEM
        self.actions.set_shown(self.event_button, problem and not reported)
        self.reported.setVisible(reported)
        full = len(state.photos) >= MAX_PHOTOS
        self.camera_button.setEnabled(not full)
        self.pick_button.setEnabled(not full)
        if state.photos != self.photo_ids or len(self.strip.thumbs) != len(pixmaps):
            self.photo_ids = state.photos
            self.strip.set_photos(list(pixmaps), list(loaders) or [
                (lambda p=p: p) for p in pixmaps])

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_labels()

    def _fit_labels(self) -> None:
        """Wrapped labels get the height their text needs at this width: in a scroll
        area the layout otherwise squeezes a two-line item name under the answers."""
        for text in (self.name, self.hint, self.error, self.reported):
            if text.wordWrap() and text.width() > 0:
                need = text.heightForWidth(text.width())
                if need > 0 and text.minimumHeight() != need:
                    text.setMinimumHeight(need)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.camera_button.setEnabled(not busy)
        self.pick_button.setEnabled(not busy)
