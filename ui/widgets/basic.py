"""Small shared widgets and helpers.

Start-up note: modules used before the first window is painted must not touch the
``Qt`` namespace (``from PySide6.QtCore import Qt`` costs ~35 ms: PySide builds
all its enums). Alignment and focus policy for those widgets are set in the
stylesheet with ``qproperty-...`` instead; later screens use ``Qt`` freely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QWidget

if TYPE_CHECKING:
    from PySide6.QtGui import QPixmap
    from PySide6.QtWidgets import QLineEdit, QScrollArea

    from fieldclient.storage.session import Session


class Retranslatable:
    """Mixin: calls ``self.retranslate()`` when the application language changes."""

    def retranslate(self) -> None:
        raise NotImplementedError

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)  # type: ignore[misc]


def set_role(widget: QWidget, role: str) -> None:
    """Set the stylesheet role and re-polish so the new look applies at once."""
    if widget.property("role") == role:
        return
    widget.setProperty("role", role)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    # A re-polish alone leaves the old box (padding, border) in the contents margins:
    # a pill given its role after it was shown had its text on the border.
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(widget, QEvent(QEvent.Type.StyleChange))


PLAIN_TEXT = 0  # Qt.TextFormat.PlainText


def label(role: str = "", wrap: bool = True, parent: QWidget | None = None) -> QLabel:
    lab = QLabel(parent)
    # Plain text always: a label shows names and notes that come from other devices and
    # the centre, and Qt would render "<img ...>" or "<a href>" in them as rich text.
    # (By property: Qt.TextFormat would load Qt's enum namespace before the first paint.)
    lab.setProperty("textFormat", PLAIN_TEXT)
    if role:
        lab.setProperty("role", role)
    lab.setWordWrap(wrap)
    if wrap:
        lab.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return lab


def button(role: str = "", name: str = "", parent: QWidget | None = None) -> QPushButton:
    btn = QPushButton(parent)
    if role:
        btn.setProperty("role", role)
    if name:
        btn.setObjectName(name)
    return btn


def breakable(text: str) -> str:
    """Let long paths and ids wrap: a zero-width space after each separator."""
    for sep in ("/", "\\", ".", "-", "_", ":"):
        text = text.replace(sep, sep + "\u200b")
    return text


def keep_together(text: str) -> str:
    """A Chinese name or word that must not break across lines (女婿, 王秀英): a word
    joiner (U+2060) between its characters. Qt may break between any two Chinese
    characters, which reads as two words on an English screen."""
    out: list[str] = []
    for index, ch in enumerate(text):
        if index and _cjk(ch) and _cjk(text[index - 1]):
            out.append("\u2060")
        out.append(ch)
    return "".join(out)


def _cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def scroll_area(body: QWidget) -> QScrollArea:
    """``body`` scrolling up and down only, without a frame (pages and dialogs whose
    content may be taller than the screen at large text sizes)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFrame, QScrollArea

    body.setObjectName("scrollBody")
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(body)
    return area


def photo_thumbnail(session: Session, photo_id: str) -> QPixmap:
    """A stored photo's encrypted thumbnail as a pixmap; a null pixmap (and a log line)
    when it cannot be read, so one damaged photo never breaks a screen."""
    import logging

    from PySide6.QtGui import QPixmap

    from fieldclient.errors import FieldClientError
    from fieldclient.photos.pipeline import decode_for_display

    pixmap = QPixmap()
    try:
        pixmap.loadFromData(decode_for_display(session, photo_id, thumbnail=True))
    except FieldClientError:
        logging.getLogger("gridfield.ui").warning("thumbnail of photo %s could not be read",
                                                  photo_id)
    return pixmap


def clear_button(edit: QLineEdit, name: str) -> QPushButton:
    """A big "×" that empties ``edit``, shown while it holds text: Qt's own clear
    button is a 14 px icon that does not grow with the text. Put it beside the field."""
    from PySide6.QtCore import QCoreApplication

    btn = button("clear", name)
    btn.setText("×")
    btn.setAccessibleName(QCoreApplication.translate("basic", "清除"))
    btn.setVisible(bool(edit.text()))
    edit.textChanged.connect(lambda text: btn.setVisible(bool(text)))

    def clear() -> None:
        edit.clear()
        edit.setFocus()

    btn.clicked.connect(clear)
    return btn
