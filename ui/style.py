"""Look and size: one stylesheet, scaled by the text-size setting, applied app-wide."""

from __future__ import annotations

from pathlib import Path
from string import Template

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

STYLE_FILE = Path(__file__).resolve().parent.parent / "resources" / "styles" / "app.qss"
FONT_FAMILIES = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei"]
BASE_PX = 20  # text at 100 %: about 3.4 mm on a 10-inch 1280×800 screen
MIN_TOUCH_PX = 64
MIN_PAD_PX = 80


def metrics(scale: float) -> dict[str, int]:
    """Pixel sizes for a text scale (1.0-1.75). Touch targets grow with the text."""
    base = round(BASE_PX * scale)
    pad = max(MIN_PAD_PX, round(MIN_PAD_PX * (1 + (scale - 1) * 0.45)))
    return {
        "base": base,
        "small": max(16, round(base * 0.85)),
        "large": round(base * 1.25),
        "title": round(base * 1.45),
        "digit": min(round(pad * 0.45), round(base * 1.7)),
        "touch": max(MIN_TOUCH_PX, round(base * 2.6)),
        "check": max(40, round(base * 2)),
        "target": max(48, round(base * 2.4)),  # the smallest target: 48 px at 100 %
        # eight navigation buttons (a reviewer's) fit 800 px at 175 %
        "navh": max(MIN_TOUCH_PX + 8, min(round(base * 2.8), 86)),
        "pad": pad,
        "gap": max(8, round(base * 0.5)),
        "gap2": max(16, round(base * 0.9)),
        "scroll": max(24, round(base * 1.2)),
        "navw": round(base * 8),
    }


def stylesheet(scale: float) -> str:
    return Template(STYLE_FILE.read_text("utf-8")).substitute(metrics(scale))


def app_font(scale: float) -> QFont:
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPixelSize(metrics(scale)["base"])
    return font


PLACEHOLDER = "#595959"  # 7:1 on white: a hint must be readable in the sun too


def apply_style(app: QApplication, scale: float) -> None:
    """Apply (or re-apply, live) the text scale to every widget."""
    from PySide6.QtGui import QColor, QPalette

    palette = app.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive,
                  QPalette.ColorGroup.Disabled):
        palette.setColor(group, QPalette.ColorRole.PlaceholderText, QColor(PLACEHOLDER))
    app.setPalette(palette)
    app.setFont(app_font(scale))
    app.setStyleSheet(stylesheet(scale))
    app.setProperty("gridfield_text_scale", scale)


def current_scale() -> float:
    app = QApplication.instance()
    value = app.property("gridfield_text_scale") if app is not None else None
    return float(value) if value else 1.0
