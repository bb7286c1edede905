"""Search keys of a household: names with their pinyin, the address, number tails.

The ``household_search`` table (migration 8) holds, per household, the texts a search
looks in; :func:`fieldclient.search.refresh_index` fills it with the functions below.
Keys are deterministic: the same person always gives the same run of tokens.

Key layout (all lower case, see :mod:`fieldclient.search` for the queries):

``names``: one token per whole name and per reading of it, each ``WHOLE + token + END``:
the name itself (``张三丰``), its full pinyin (``zhangsanfeng``) and its initials
(``zsf``); then the given-name parts, ``PART + token + END``: ``sanfeng``, ``sf``,
``feng``, ``f``. A Latin query matches a token's start (``instr(names, WHOLE || q)``),
so "zsf", "zhangsan" and "sanfeng" find 张三丰 while "ang" finds nobody; a Chinese
query is a plain substring ("三丰"). A character with several readings (曾 céng/zēng,
单 dān/shàn) adds a variant with each other reading, one character at a time.

``digits``: the last six digits (or ``x``) of each phone and ID number, ``WHOLE +
tail + END``: enough to find "the one ending 1234", never a whole ID number.

Pinyin comes from pypinyin's character table, loaded directly: importing the
``pypinyin`` package also loads its phrase dictionary (~0.4 s), which names do not
need (a name is read character by character).
"""

from __future__ import annotations

import importlib.util
import unicodedata
from functools import lru_cache
from pathlib import Path

WHOLE = "\x1e"  # starts a whole-name token
PART = "\x1f"  # starts a given-name-part token
END = "\x1d"  # ends every token
TAIL_DIGITS = 6
MAX_VARIANTS = 4  # readings of one name beyond the first: a bound on heteronym blow-up

_table: dict[int, str] | None = None

# Surnames read differently from the character's most common reading, surname first.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng", "ceng"), "单": ("shan", "dan"), "解": ("xie", "jie"),
    "仇": ("qiu", "chou"), "区": ("ou", "qu"), "朴": ("piao", "pu"), "查": ("zha", "cha"),
    "乐": ("yue", "le"), "尉": ("yu", "wei"), "盖": ("ge", "gai"), "覃": ("qin", "tan"),
    "缪": ("miao", "mou"), "翟": ("zhai", "di"), "种": ("chong", "zhong"),
    "长": ("chang", "zhang"), "重": ("chong", "zhong"), "折": ("she", "zhe"),
    "员": ("yun", "yuan"), "召": ("shao", "zhao"), "祭": ("zhai", "ji"),
    "秘": ("bi", "mi"), "句": ("gou", "ju"), "莘": ("shen", "xin"), "繁": ("po", "fan"),
    "过": ("guo",), "黑": ("he", "hei"), "纪": ("ji",), "洗": ("xian", "xi"),
    "沈": ("shen",), "燕": ("yan",), "万": ("wan", "mo"), "葛": ("ge",),
}


def _pinyin_table() -> dict[int, str]:
    """pypinyin's ``pinyin_dict`` (code point -> "zhāng,cháng"), without the package's
    phrase dictionary (see the module docstring)."""
    global _table
    if _table is None:
        spec = importlib.util.find_spec("pypinyin")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("pypinyin is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.py"
        module_spec = importlib.util.spec_from_file_location("_gridfield_pinyin_dict", path)
        if module_spec is None or module_spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        _table = dict(module.pinyin_dict)
    return _table


def _plain(syllable: str) -> str:
    """``lǚ`` -> ``lv``: tone marks off, ü typed as v (as every pinyin input method)."""
    decomposed = unicodedata.normalize("NFD", syllable).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=16384)
def readings(char: str) -> tuple[str, ...]:
    """Toneless readings of one character, the most common first; a non-Chinese letter
    or digit reads as itself, punctuation (the ``·`` in 买买提·艾力) as nothing."""
    found = _pinyin_table().get(ord(char))
    if found:
        return tuple(dict.fromkeys(_plain(s) for s in found.split(",")))
    return (char,) if char.isalnum() else ()


_DROP = str.maketrans("", "", " \t\r\n'’·.-")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no spaces or apostrophes (``xi'an``)."""
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).lower()
    return folded.translate(_DROP)


def _variants(chars: list[tuple[str, ...]]) -> list[list[str]]:
    """The first reading of every character, then the same with one character read
    differently, up to :data:`MAX_VARIANTS` extra variants."""
    first = [r[0] for r in chars]
    out = [first]
    for index, options in enumerate(chars):
        for other in options[1:]:
            if len(out) > MAX_VARIANTS:
                return out
            variant = list(first)
            variant[index] = other
            out.append(variant)
    return out


def is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0002ffff"


def _name_readings(text: str) -> list[tuple[str, ...]]:
    """Per character, the readings worth indexing: a surname's own readings (曾 is
    zēng as a surname, céng elsewhere), else the two most common of a given-name
    character. Rare readings of common surnames (王 as yù) are left out: noise."""
    out: list[tuple[str, ...]] = []
    for index, char in enumerate(text):
        found = readings(char)
        if not found:
            continue
        if index == 0:
            out.append(SURNAME_READINGS.get(char, found[:1]))
        else:
            out.append(found[:2])
    return out


@lru_cache(maxsize=65536)
def name_keys(name: str | None) -> str:
    """The ``names`` tokens of one person's name (see the module docstring). A name
    without Chinese characters (a Latin-script name) is one token as written."""
    if not name:
        return ""
    text = normalize(name)
    if not text:
        return ""
    whole: dict[str, None] = {text: None}
    parts: dict[str, None] = {}
    chars = _name_readings(text) if any(is_han(c) for c in text) else []
    for variant in _variants(chars) if chars else []:
        whole["".join(variant)] = None
        whole["".join(s[0] for s in variant)] = None
        for start in range(1, len(variant)):
            parts["".join(variant[start:])] = None
            parts["".join(s[0] for s in variant[start:])] = None
    for token in whole:
        parts.pop(token, None)
    return "".join(WHOLE + t + END for t in whole) + "".join(PART + t + END for t in parts)


@lru_cache(maxsize=65536)
def sort_key(name: str | None) -> str:
    """Order households by the pinyin of the head's name, then the name itself."""
    text = normalize(name or "")
    return "".join(r[0] for r in _name_readings(text)) + " " + text


def _tail(number: str | None) -> str:
    if not number:
        return ""
    if number.isascii() and number.isdigit():  # the common case, fast
        return number[-TAIL_DIGITS:]
    kept = "".join(c for c in normalize(number) if c.isdigit() or c == "x")
    return kept[-TAIL_DIGITS:]


def digit_keys(phone: str | None, id_number: str | None) -> str:
    """The ``digits`` tokens of one person: phone and ID number tails."""
    tails = dict.fromkeys(t for t in (_tail(phone), _tail(id_number)) if t)
    return "".join(WHOLE + t + END for t in tails)


def add_tokens(existing: str | None, tokens: str | None) -> str:
    """``existing`` plus ``tokens`` unless it holds them already: a household's head
    usually is also its first member (户主) and must not be indexed twice. Keys are
    deterministic, so the same person gives the same run of tokens."""
    have = existing or ""
    if not tokens or tokens in have:
        return have
    return have + tokens


def place_key(address: str | None) -> str:
    return normalize(address or "")


def tag_keys(tags: list[str]) -> str:
    """Tags as tokens, so a filter matches a whole tag (``instr(tags, WHOLE||t||END)``)."""
    return "".join(WHOLE + t + END for t in tags)
