"""Quick phrases: a tap writes a common sentence into a visit's or an event's text.

A grid worker writes the same few sentences all day ("按时服药", "楼道堆放杂物");
typing them with gloves is slow. The product's defaults ship in
``resources/phrases/default.json``; the centre may set its own per district with the
setting ``quick_phrases`` (``{"visit": [...], "event": [...]}``, each phrase a text or
``{"zh", "en"}``, see central/settings.py), which replaces the defaults for the kinds it
lists. An English screen shows the English of a phrase when there is one. A value
that does not parse falls back to the defaults, like every centre setting.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlite_utils

from fieldclient.fieldwork import serverconfig

KINDS = ("visit", "event")
MAX_PHRASES = 30
MAX_PHRASE_CHARS = 40
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "resources" / "phrases" / "default.json"
log = logging.getLogger("gridfield.phrases")


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not serverconfig.printable(value):
        return None
    text = " ".join(value.split())
    return text if text and len(text) <= MAX_PHRASE_CHARS else None


def clean_list(value: Any, english: bool = False) -> list[str] | None:
    """Up to :data:`MAX_PHRASES` distinct phrases in the UI's language, or None when
    ``value`` is not a list of them. A phrase is a text (the centre's language) or
    ``{"zh": ..., "en": ...}`` (English optional: the Chinese is used without it)."""
    if not isinstance(value, list) or len(value) > MAX_PHRASES:
        return None
    out: list[str] = []
    for item in value:
        if isinstance(item, dict):
            zh = _text(item.get("zh"))
            en = _text(item.get("en")) if item.get("en") is not None else None
            if zh is None or (item.get("en") is not None and en is None):
                return None
            text: str | None = en if english and en else zh
        else:
            text = _text(item)
        if text is None:
            return None
        if text not in out:
            out.append(text)
    return out


@lru_cache(maxsize=2)
def defaults(english: bool = False) -> dict[str, tuple[str, ...]]:
    """The product's phrases; empty lists when the file is missing or damaged."""
    try:
        raw = json.loads(DEFAULT_FILE.read_text("utf-8"))
    except (OSError, ValueError):
        log.warning("default quick phrases unreadable: %s", DEFAULT_FILE)
        raw = {}
    found: dict[str, tuple[str, ...]] = {}
    for kind in KINDS:
        phrases = clean_list(raw.get(kind) if isinstance(raw, dict) else None, english)
        found[kind] = tuple(phrases or ())
    return found


def quick_phrases(db: sqlite_utils.Database, kind: str, english: bool = False) -> list[str]:
    """The phrases in force for ``kind`` ("visit" or "event"), in English when asked
    and known: the centre's, else the product's."""
    if kind not in KINDS:
        raise ValueError(f"unknown phrase kind {kind!r}")
    value = serverconfig.get(db, serverconfig.QUICK_PHRASES)
    if isinstance(value, dict) and kind in value:
        phrases = clean_list(value[kind], english)
        if phrases is not None:
            return phrases
    return list(defaults(english)[kind])


def append_phrase(text: str, phrase: str) -> str:
    """``text`` with ``phrase`` added as a new clause (once: a second tap adds nothing)."""
    current = text.rstrip()
    if phrase in current:
        return text
    if not current:
        return phrase
    return current + ("" if current[-1] in "，。；！？,.;!?" else "，") + phrase
