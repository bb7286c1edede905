"""Checks a screen the way a 55-year-old with gloves in the sun needs it (used by
test_touch_targets.py): every target big enough, every text readable and whole, in
the language chosen.

* **Targets**: each visible interactive widget (buttons, check boxes, text fields,
  date fields, list views...) at least 48×48 px at 100 % text, growing with the
  text: 48 × scale at larger sizes. Scroll bars are left out (swiped, not tapped).
* **Contrast**: the widget is rendered and its colours counted: the most frequent
  one is the background, the others that cover a real share of the text area are
  the text; each of those must reach 4.5:1 against the background (WCAG relative
  luminance). The border is cropped off first, so a dark border never hides faint
  text. This measures what the style sheet (ui/style.py, resources/styles/app.qss)
  really paints, states (disabled, placeholder) included.
* **Clipping**: a label or button whose size hint is wider than the room it got
  (or, wrapped, taller) shows part of its text.
* **Language**: in English no Chinese character may show (the walk's own data is in
  pinyin then), in Chinese no text that is one of the English translations.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import shiboken6
from PySide6.QtCore import QEvent, QPoint, QRect
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollBar,
    QWidget,
)

MIN_TARGET = 48
MIN_CONTRAST = 4.5
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
TS_FILE = Path(__file__).resolve().parents[2] / "resources" / "translations" / "gridfield_en.ts"


@functools.lru_cache(maxsize=1)
def english_only() -> frozenset[str]:
    """English translations that are not also a Chinese source (PDF, GPS stay the
    same in both): shown on a Chinese screen, they are strings left in English."""
    root = ElementTree.parse(TS_FILE).getroot()
    sources, translations = set(), set()
    for message in root.iter("message"):
        source, translation = message.find("source"), message.find("translation")
        if source is not None and source.text:
            sources.add(source.text.strip())
        if translation is not None and translation.text:
            translations.add(translation.text.strip())
    return frozenset(t for t in translations - sources if LATIN.search(t))


LATIN = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def describe(widget: QWidget) -> str:
    name = widget.objectName() or type(widget).__name__
    text = widget.text() if isinstance(widget, QLabel | QAbstractButton) else ""
    text = text.replace("\n", " ")[:30]
    chain = []
    parent = widget.parentWidget()
    while parent is not None and len(chain) < 2:
        if parent.objectName():
            chain.append(parent.objectName())
        parent = parent.parentWidget()
    return f"{type(widget).__name__}#{name} {text!r} in {'/'.join(chain) or '-'}"


def luminance(rgb: int) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: int, b: int) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _interactive(widget: QWidget) -> bool:
    if isinstance(widget, QScrollBar):
        return False
    if widget.objectName() == "qt_spinbox_lineedit":
        return False  # the date field around it is the target
    return isinstance(widget, QAbstractButton | QLineEdit | QAbstractSpinBox | QComboBox
                      | QAbstractItemView) or (
        widget.inherits("QTextEdit") or widget.inherits("QPlainTextEdit"))


def shown_text(widget: QWidget) -> str:
    if isinstance(widget, QLabel):
        return widget.text() if widget.pixmap().isNull() else ""
    if isinstance(widget, QAbstractButton):
        return widget.text()
    if isinstance(widget, QLineEdit):
        return widget.text() or widget.placeholderText()
    return ""


def text_colours(widget: QWidget) -> tuple[int, list[int]] | None:
    """The background and the text colours as painted in the window (whatever shows
    through a transparent label included), or None when too small to say."""
    top = widget.window()
    area = QRect(widget.mapTo(top, QPoint(0, 0)), widget.size())
    image = top.grab(area).toImage().convertToFormat(QImage.Format.Format_RGB32)
    ratio = image.devicePixelRatio()
    inset = round(5 * ratio)  # the border (up to 3 px) and the rounded corners
    rect = QRect(0, 0, image.width(), image.height()).adjusted(inset, inset, -inset, -inset)
    if rect.width() < 4 or rect.height() < 4:
        return None
    image = image.copy(rect)
    data = bytes(image.constBits())[: image.bytesPerLine() * image.height()]
    counts = Counter(memoryview(data).cast("I"))
    ranked = counts.most_common()
    background = ranked[0][0] & 0xFFFFFF
    total = sum(counts.values())
    rest = total - ranked[0][1]
    if rest < 12:
        return None
    # Antialiasing only blends the text towards the background, so the colour that
    # stands out most is the text's own (a thin glyph may have few such pixels).
    texts = [c & 0xFFFFFF for c, n in ranked[1:] if n >= 2]
    return background, texts


def check_widget(widget: QWidget, scale: float, language: str) -> list[Problem]:
    problems: list[Problem] = []
    where = describe(widget)
    need = round(MIN_TARGET * scale)
    if _interactive(widget):
        if widget.width() < need or widget.height() < need:
            problems.append(Problem(where, f"target {widget.width()}×{widget.height()} px,"
                                           f" needs ≥ {need}×{need}"))
    text = shown_text(widget)
    if not text.strip():
        return problems
    # clipped (after any layout still pending: a text that changed a moment ago)
    hint = widget.sizeHint()
    if hint.width() > widget.width() + 2:
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        QApplication.processEvents()
        hint = widget.sizeHint()
    if isinstance(widget, QLabel) and widget.wordWrap():
        needed = widget.heightForWidth(widget.width())
        if needed > widget.height() + 2:
            problems.append(Problem(where, f"wrapped text needs {needed} px,"
                                           f" has {widget.height()}"))
    elif isinstance(widget, QLabel | QPushButton) and hint.width() > widget.width() + 2:
        problems.append(Problem(where, f"text needs {hint.width()} px, has {widget.width()}"))
    # language
    if language == "en" and CJK.search(text) and not widget.objectName().startswith("lang_"):
        problems.append(Problem(where, f"Chinese in English: {text[:40]!r}"))
    if language.startswith("zh") and text.strip() in english_only():
        problems.append(Problem(where, f"English in Chinese: {text[:40]!r}"))
    # contrast, where it shows (a widget scrolled out of sight is checked for the rest)
    if widget.visibleRegion().isEmpty():
        return problems
    found = text_colours(widget)
    if found is not None:
        background, texts = found
        # The text's own colour is the one that stands out most (the others are its
        # antialiased edges): that one must reach 4.5:1.
        if texts:
            colour = max(texts, key=lambda c: contrast(c, background))
            ratio = contrast(colour, background)
            if ratio < MIN_CONTRAST:
                problems.append(Problem(where, f"contrast {ratio:.1f}:1 (#{colour:06x} on"
                                               f" #{background:06x})"))
    return problems


def walk(top: QWidget, scale: float, language: str) -> list[Problem]:
    """Every visible widget under ``top`` (itself included). One a page deleted while the
    walk waited for a pending layout (a list rebuilt by a load that just finished) is
    not there any more: skipped."""
    problems: list[Problem] = []
    for widget in [top, *top.findChildren(QWidget)]:
        if not shiboken6.isValid(widget) or not widget.isVisible() or widget.width() <= 0:
            continue
        problems.extend(check_widget(widget, scale, language))
    return problems
