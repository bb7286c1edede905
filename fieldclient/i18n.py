"""Translation markers and a Qt-free message catalogue for the core and the CLI.

Chinese is the source text. The UI translates marked strings through Qt
(``QCoreApplication.translate(context, text)``); the CLI, which must not import
Qt, reads the same ``.ts`` files directly, so both share one set of wording.
``pyside6-lupdate`` extracts every ``QT_TRANSLATE_NOOP(context, text)`` call.
"""

from __future__ import annotations

import functools
import locale
import os
from pathlib import Path

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "translations"
LANGUAGES = ("zh_CN", "en")


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Mark ``text`` for extraction; translation happens where it is shown."""
    return text


@functools.lru_cache(maxsize=8)
def load_catalogue(language: str) -> dict[tuple[str, str], str]:
    """(context, source) -> translation for ``language``, read from its ``.ts`` file."""
    path = TRANSLATIONS_DIR / f"gridfield_{language}.ts"
    if not path.exists():
        return {}
    import xml.etree.ElementTree as ET  # only the CLI in English needs it

    catalogue: dict[tuple[str, str], str] = {}
    root = ET.parse(path).getroot()
    for ctx in root.iter("context"):
        name = ctx.findtext("name") or ""
        for msg in ctx.iter("message"):
            source = msg.findtext("source") or ""
            tr = msg.find("translation")
            if tr is not None and tr.text and tr.get("type") not in ("unfinished", "obsolete"):
                catalogue[(name, source)] = tr.text
    return catalogue


def cli_language() -> str:
    """The CLI's language: FIELDCLIENT_LANG, else the locale; Chinese unless English asked for."""
    wanted = os.environ.get("FIELDCLIENT_LANG") or os.environ.get("LC_ALL") or os.environ.get(
        "LANG"
    ) or (locale.getlocale()[0] or "")
    return "en" if wanted.lower().startswith("en") else "zh_CN"


def translate(context: str, text: str, language: str | None = None) -> str:
    """Translate outside Qt (CLI); falls back to the Chinese source text."""
    language = language or cli_language()
    if language == "zh_CN":
        return text
    return load_catalogue(language).get((context, text), text)
