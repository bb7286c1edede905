"""Search keys of a household: names with their pinyin, the address, number tails.

The ``household_search`` table (migration 8) holds, per household, the texts a search
looks in; :func:`fieldclient.fieldwork.search.refresh_index` fills it with the functions below.
Keys are deterministic: the same person always gives the same run of tokens.

Key layout (all lower case, see :mod:`fieldclient.fieldwork.search` for the queries):

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
need (a name is read character by character). Readings are cached per character,
a Chinese name's keys are built from its given name's (cached: given names repeat),
and text that normalization would not change skips it: a first build computes the
keys of ~400,000 people.
"""

from __future__ import annotations

import importlib.util
import re
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


_readings: dict[str, tuple[str, ...]] = {}
_surname: dict[str, tuple[str, ...]] = {}  # char -> readings as a name's first character
_given: dict[str, tuple[str, ...]] = {}  # char -> readings elsewhere in a name


def readings(char: str) -> tuple[str, ...]:
    """Toneless readings of one character, the most common first; a non-Chinese letter
    or digit reads as itself, punctuation (the ``·`` in 买买提·艾力) as nothing.
    Cached per character: a first index build reads ~400,000 names."""
    known = _readings.get(char)
    if known is None:
        found = _pinyin_table().get(ord(char))
        if found:
            known = tuple(dict.fromkeys(_plain(s) for s in found.split(",")))
        else:
            known = (char,) if char.isalnum() else ()
        _readings[char] = known
    return known


_DROP = str.maketrans("", "", " \t\r\n'’·.-")


# unchanged by NFKC, lower() and _DROP: most names and addresses ("勤勇村3组12号")
_ALREADY_NORMAL = re.compile("[\u3400-\u9fff0-9a-z]*")


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no spaces or apostrophes (``xi'an``)."""
    if _ALREADY_NORMAL.fullmatch(text):  # skip three passes over the text
        return text
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).lower()
    return folded.translate(_DROP)


def is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0002ffff"


def _name_readings(text: str) -> list[tuple[str, ...]]:
    """Per character, the readings worth indexing: a surname's own readings (曾 is
    zēng as a surname, céng elsewhere), else the two most common of a given-name
    character. Rare readings of common surnames (王 as yù) are left out: noise.
    Characters without a reading (punctuation) are skipped."""
    out: list[tuple[str, ...]] = []
    for index, char in enumerate(text):
        table = _given if index else _surname
        chosen = table.get(char)
        if chosen is None:
            found = readings(char)
            if index:
                chosen = found[:2]
            else:
                chosen = SURNAME_READINGS.get(char, found[:1]) if found else ()
            table[char] = chosen
        if chosen:
            out.append(chosen)
    return out


def _has_han(text: str) -> bool:
    for char in text:
        if "\u3400" <= char <= "\u9fff" or "\U00020000" <= char <= "\U0002ffff":
            return True
    return False


def build_name_keys(name: str | None) -> str:
    """The ``names`` tokens of one person's name (see the module docstring). A name
    without Chinese characters (a Latin-script name) is one token as written.

    Variants (:data:`MAX_VARIANTS`) differ from the first reading in one character,
    so their given-name parts after that character are the first variant's: only the
    parts that start at or before it are built again (same tokens, same order).
    """
    if not name:
        return ""
    if len(name) > 1 and _HAN_NAME.fullmatch(name):  # most names: normalized already
        return _han_name_keys(name)
    text = normalize(name)
    if not text:
        return ""
    if not _has_han(text):
        return WHOLE + text + END
    if len(text) > 1 and _HAN_NAME.fullmatch(text):
        return _han_name_keys(text)
    chars = _name_readings(text)
    first = [r[0] for r in chars]
    count = len(first)
    # suffixes of the first reading, full and initials: suffix[k] reads chars k..end
    full_suffix, initial_suffix = [""] * (count + 1), [""] * (count + 1)
    for k in range(count - 1, -1, -1):
        full_suffix[k] = first[k] + full_suffix[k + 1]
        initial_suffix[k] = first[k][0] + initial_suffix[k + 1]
    whole: dict[str, None] = {text: None, full_suffix[0]: None, initial_suffix[0]: None}
    parts: dict[str, None] = {}
    for start in range(1, count):
        parts[full_suffix[start]] = None
        parts[initial_suffix[start]] = None
    extra = 0
    for index, options in enumerate(chars):
        for other in options[1:]:
            if extra >= MAX_VARIANTS:
                break
            extra += 1
            # chars 0..index-1 as first read, ``other`` at index, the rest as first read
            full, initials = other + full_suffix[index + 1], other[0] + initial_suffix[index + 1]
            variant_parts = [initials, full]  # from start = index down to 1, reversed
            for start in range(index - 1, -1, -1):
                full, initials = first[start] + full, first[start][0] + initials
                if start:
                    variant_parts += (initials, full)
            whole[full] = None
            whole[initials] = None
            if index:
                for token in reversed(variant_parts):
                    parts[token] = None
    for token in whole:
        parts.pop(token, None)
    out = WHOLE + (END + WHOLE).join(whole) + END
    return out + PART + (END + PART).join(parts) + END if parts else out


_HAN_NAME = re.compile("[\u3400-\u9fff]+")  # one character, one reading slot


def _han_name_keys(text: str) -> str:
    """:func:`build_name_keys` of a name of Chinese characters only (most names),
    from the keys of its given name (:func:`_given_keys`): given names repeat far
    more than whole names. Same tokens, same order as the general way."""
    options = _surname.get(text[0])
    if options is None:
        options = _surname[text[0]] = SURNAME_READINGS.get(text[0], readings(text[0])[:1])
    surname_extra = min(len(options) - 1, MAX_VARIANTS)  # surname variants come first
    given_full, given_initials, variants, parts = _given_keys(
        text[1:], MAX_VARIANTS - surname_extra)
    first = options[0]
    whole: dict[str, None] = {text: None, first + given_full: None,
                              first[0] + given_initials: None}
    for other in options[1:1 + surname_extra]:
        whole[other + given_full] = None
        whole[other[0] + given_initials] = None
    for variant_full, variant_initials in variants:
        whole[first + variant_full] = None
        whole[first[0] + variant_initials] = None
    out = WHOLE + (END + WHOLE).join(whole) + END
    kept = [token for token in parts if token not in whole]
    return out + PART + (END + PART).join(kept) + END if kept else out


_GivenKeys = tuple[str, str, list[tuple[str, str]], list[str]]
_given_memo: dict[tuple[str, int], _GivenKeys] = {}
_GIVEN_MEMO_MAX = 100_000


def _given_keys(given: str, budget: int) -> _GivenKeys:
    """A given name's first reading (full, initials), its variants (at most
    ``budget``, one character read differently: full, initials) and its part
    tokens (every suffix of every variant, in :func:`build_name_keys` order)."""
    known = _given_memo.get((given, budget))
    if known is not None:
        return known
    chars = []
    for char in given:
        chosen = _given.get(char)
        if chosen is None:
            chosen = _given[char] = readings(char)[:2]
        chars.append(chosen)
    first = [r[0] for r in chars]
    count = len(first)
    full_suffix, initial_suffix = [""] * (count + 1), [""] * (count + 1)
    for k in range(count - 1, -1, -1):
        full_suffix[k] = first[k] + full_suffix[k + 1]
        initial_suffix[k] = first[k][0] + initial_suffix[k + 1]
    parts: dict[str, None] = {}
    for start in range(count):
        parts[full_suffix[start]] = None
        parts[initial_suffix[start]] = None
    variants: list[tuple[str, str]] = []
    for index, options in enumerate(chars):
        for other in options[1:]:
            if len(variants) >= budget:
                break
            full, initials = other + full_suffix[index + 1], other[0] + initial_suffix[index + 1]
            variant_parts = [initials, full]  # from start = index down to 0, reversed
            for start in range(index - 1, -1, -1):
                full, initials = first[start] + full, first[start][0] + initials
                variant_parts += (initials, full)
            variants.append((full, initials))
            for token in reversed(variant_parts):
                parts[token] = None
    if len(_given_memo) >= _GIVEN_MEMO_MAX:
        _given_memo.clear()
    known = _given_memo[(given, budget)] = (full_suffix[0], initial_suffix[0], variants,
                                            list(parts))
    return known


name_keys = lru_cache(maxsize=65536)(build_name_keys)
"""Cached :func:`build_name_keys` (an index refresh meets the same names again; a
first build keeps its own unbounded memo instead, see :mod:`fieldclient.fieldwork.search`)."""


def build_sort_key(name: str | None) -> str:
    """Order households by the pinyin of the head's name, then the name itself."""
    text = normalize(name or "")
    return "".join(r[0] for r in _name_readings(text)) + " " + text


sort_key = lru_cache(maxsize=65536)(build_sort_key)
"""Cached :func:`build_sort_key`."""


def _tail(number: str | None) -> str:
    if not number:
        return ""
    if number.isascii() and number.isdigit():  # the common case, fast
        return number[-TAIL_DIGITS:]
    kept = "".join(c for c in normalize(number) if c.isdigit() or c == "x")
    return kept[-TAIL_DIGITS:]


def digit_keys(phone: str | None, id_number: str | None) -> str:
    """The ``digits`` tokens of one person: phone and ID number tails."""
    # _tail's common case inlined: called ~400,000 times in a first build
    if phone:
        phone_tail = (phone[-TAIL_DIGITS:] if phone.isascii() and phone.isdigit()
                      else _tail(phone))
    else:
        phone_tail = ""
    if id_number:
        id_tail = (id_number[-TAIL_DIGITS:] if id_number.isascii() and id_number.isdigit()
                   else _tail(id_number))
    else:
        id_tail = ""
    if not phone_tail:
        return WHOLE + id_tail + END if id_tail else ""
    if id_tail and id_tail != phone_tail:
        return WHOLE + phone_tail + END + WHOLE + id_tail + END
    return WHOLE + phone_tail + END


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
