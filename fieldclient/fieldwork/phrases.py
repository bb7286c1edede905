"""Quick phrases: a tap writes a common sentence into a visit's or an event's text.

A grid worker writes the same few sentences all day ("按时服药", "楼道堆放杂物");
typing them with gloves is slow. The product's defaults ship in
``resources/phrases/default.json``; the centre may set its own per district with the
setting ``quick_phrases`` (``{"visit": [...], "event": [...]}``, see
central/settings.py), which replaces the defaults for the kinds it lists. A value
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


def clean_list(value: Any) -> list[str] | None:
    """Up to :data:`MAX_PHRASES` distinct non-empty phrases, or None when ``value`` is
    not a list of short texts."""
    if not isinstance(value, list) or len(value) > MAX_PHRASES:
        return None
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            return None
        text = " ".join(item.split())
        if not text or len(text) > MAX_PHRASE_CHARS:
            return None
        if text not in out:
            out.append(text)
    return out


@lru_cache(maxsize=1)
def defaults() -> dict[str, tuple[str, ...]]:
    """The product's phrases; empty lists when the file is missing or damaged."""
    try:
        raw = json.loads(DEFAULT_FILE.read_text("utf-8"))
    except (OSError, ValueError):
        log.warning("default quick phrases unreadable: %s", DEFAULT_FILE)
        raw = {}
    found: dict[str, tuple[str, ...]] = {}
    for kind in KINDS:
        phrases = clean_list(raw.get(kind) if isinstance(raw, dict) else None)
        found[kind] = tuple(phrases or ())
    return found


def quick_phrases(db: sqlite_utils.Database, kind: str) -> list[str]:
    """The phrases in force for ``kind`` ("visit" or "event"): the centre's, else
    the product's."""
    if kind not in KINDS:
        raise ValueError(f"unknown phrase kind {kind!r}")
    value = serverconfig.get(db, serverconfig.QUICK_PHRASES)
    if isinstance(value, dict) and kind in value:
        phrases = clean_list(value[kind])
        if phrases is not None:
            return phrases
    return list(defaults()[kind])


def append_phrase(text: str, phrase: str) -> str:
    """``text`` with ``phrase`` added as a new clause (once: a second tap adds nothing)."""
    current = text.rstrip()
    if phrase in current:
        return text
    if not current:
        return phrase
    return current + ("" if current[-1] in "，。；！？,.;!?" else "，") + phrase
