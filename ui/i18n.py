"""Qt translations: Chinese is the source text; other languages load a .qm file.

Switching is live: the old translators are removed and the new ones installed,
which makes Qt send ``QEvent.LanguageChange`` to every widget; widgets answer by
calling their ``retranslate()`` method (see :class:`ui.widgets.basic.Retranslatable`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "translations"
LANGUAGES = ("zh_CN", "en")
log = logging.getLogger(__name__)

_installed: list[QTranslator] = []
_current = "zh_CN"


def qm_path(language: str) -> Path:
    return TRANSLATIONS_DIR / f"gridfield_{language}.qm"


def current_language() -> str:
    return _current


def set_language(language: str) -> bool:
    """Install ``language`` app-wide; returns False (and stays Chinese) if its .qm is missing."""
    global _current
    app = QCoreApplication.instance()
    assert app is not None, "create the QApplication first"
    if language not in LANGUAGES:
        language = "zh_CN"
    new: list[QTranslator] = []
    ok = True
    if language != "zh_CN":
        own = QTranslator(app)
        if own.load(str(qm_path(language))):
            new.append(own)
        else:
            log.warning("translation file missing: %s", qm_path(language).name)
            language, ok = "zh_CN", False
    # Qt's own strings (context menus, standard dialogs) in the same language.
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt_tr = QTranslator(app)
    if qt_tr.load(f"qtbase_{language}", qt_dir):
        new.append(qt_tr)
    for translator in _installed:
        QCoreApplication.removeTranslator(translator)
    _installed.clear()
    for translator in new:
        QCoreApplication.installTranslator(translator)
        _installed.append(translator)
    QLocale.setDefault(QLocale(QLocale.Language.Chinese if language == "zh_CN"
                               else QLocale.Language.English))
    _current = language
    return ok
