"""Household search as you type: names (Chinese, full pinyin, initials, the given
name alone), address, and the tails of phone and ID numbers; filters by category,
tag and visits due.

Keys live in ``household_search`` (one row per household, layout in
:mod:`fieldclient.fieldwork.search_keys`), brought up to date by :func:`refresh_index`, which
every search calls first (a few tiny look-ups when nothing changed; after a first
pull it indexes every household once, off the UI thread: bench/search.py, 100,000
households and 286,000 members, first build target <= 5 s, was ~24 s). A first build
(or a refresh of many households) reads households and members with two scans in
storage order, computes keys with per-build memos (search_keys caches readings per
character and keys per given name), writes rows in id order in a few big
transactions, and hands them to this connection's cache instead of reading them back.

The query itself runs in memory: each connection keeps the keys of all households
joined into one text per column, in name order, and looks with ``str.find``. SQLite's
``instr`` over 100,000 rows cost ~100 ms a query (per-row overhead, measured), the
joined text ~20 ms for a pattern found nowhere, and a pattern found often stops at the
first page. ``household_search_log`` tells the cache which households to re-read.

Ranking: the whole name exactly, then a name starting with the query, then the given
name or a substring of a name, then the address; ties by the pinyin of the head's name.
"""

from __future__ import annotations

import json
import threading
import weakref
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter
from typing import Any

from fieldclient.fieldwork import households, search_keys
from fieldclient.fieldwork.search_keys import END, PART, WHOLE
from fieldclient.gcpause import paused_gc
from fieldclient.storage.session import Session

PAGE = 50
_CHUNK = 500  # households re-indexed per transaction: short write locks during a sync
_BULK_CHUNK = 50_000  # households per transaction when a refresh rewrites many
_SCAN_SHARE = 8  # read by scans when 1/8 of the households or more changed
_LOG_KEEP = 200_000  # log entries kept: a cache further behind reloads everything


@dataclass(frozen=True)
class HouseholdHit:
    """One household found, ready for a list row: sensitive fields masked."""

    household_id: str
    head_name: str
    address: str
    category: str
    tags: tuple[str, ...]  # special groups folded into households.HIDDEN_TAG
    phone: str | None  # masked
    grid_id: str | None
    rank: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.household_id, "head_name": self.head_name, "address": self.address,
                "category": self.category, "tags": list(self.tags), "phone": self.phone,
                "grid_id": self.grid_id, "rank": self.rank}


# -- keeping the index ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Bounds:
    """What a refresh covers, read before any row: see :func:`refresh_index`."""

    households_seen: int
    members_seen: int
    lowered: int
    max_household: int
    max_member: int
    max_dirty: int


def _stale(session: Session) -> _Bounds | None:
    """The bounds of the next refresh, or None when the index is up to date."""
    db = session.db
    seen_h, seen_m, lowered = db.execute(
        "SELECT households_seen, members_seen, lowered FROM household_search_state"
    ).fetchone()
    bounds = _Bounds(
        int(seen_h), int(seen_m), int(lowered),
        int(db.execute("SELECT coalesce(max(rowid), 0) FROM households").fetchone()[0]),
        int(db.execute("SELECT coalesce(max(rowid), 0) FROM members").fetchone()[0]),
        int(db.execute(
            "SELECT coalesce(max(seq), 0) FROM household_search_dirty").fetchone()[0]),
    )
    if (bounds.max_household <= bounds.households_seen
            and bounds.max_member <= bounds.members_seen and bounds.max_dirty == 0):
        return None
    return bounds


Row = tuple[str, str, str, str, str, str, str]
"""A ``household_search`` row: household_id, category, tags, sort_key, names, place, digits."""


@lru_cache(maxsize=1024)
def _tag_tokens(tags: str | None) -> str:
    """Tokens of a household's ``tags`` column (JSON): a few distinct values repeat."""
    return search_keys.tag_keys(json.loads(tags or "[]"))


def _row(head: tuple[Any, ...], head_names: str, head_sort_key: str,
         member_keys: Iterable[tuple[str, str]]) -> Row:
    """The row of one household from its head (see :func:`index_row`), the keys of
    the head's name, and the ``(name_keys, digit_keys)`` of its members in order."""
    household_id, _head_name, address, phone, id_number, category, tags = head
    names = head_names
    digits = search_keys.digit_keys(phone, id_number)
    for member_names, member_digits in member_keys:
        # add_tokens, inlined: a head usually is also the first member (户主)
        if member_names and member_names not in names:
            names += member_names
        if member_digits and member_digits not in digits:
            digits += member_digits
    return (household_id, category, _tag_tokens(tags), head_sort_key, names,
            search_keys.place_key(address), digits)


def index_row(head: tuple[Any, ...], members: Iterable[tuple[Any, ...]]) -> Row:
    """The ``household_search`` row of one household: ``head`` is (id, head_name,
    address, phone, id_number, category, tags), ``members`` (name, phone, id_number)."""
    return _row(head, search_keys.name_keys(head[1]), search_keys.sort_key(head[1]),
                ((search_keys.name_keys(name), search_keys.digit_keys(phone, id_number))
                 for name, phone, id_number in members))


_ROW_COLUMNS = "household_id, category, tags, sort_key, names, place, digits"
_HEAD_COLUMNS = "id, head_name, address, phone, id_number, category, tags"


def _rows_for(session: Session, ids: list[str]) -> list[Row]:
    """Rows of a few households, looked up by id."""
    marks = ",".join("?" * len(ids))
    members: dict[str, list[tuple[Any, ...]]] = {}
    for row in session.db.execute(
        "SELECT household_id, name, phone, id_number FROM members"
        f" WHERE household_id IN ({marks})", ids,
    ):
        members.setdefault(row[0], []).append(row[1:])
    return [index_row(head, members.get(head[0], ())) for head in session.db.execute(
        f"SELECT {_HEAD_COLUMNS} FROM households WHERE id IN ({marks})", ids)]


def _rows_scanned(session: Session, wanted: set[str] | None) -> list[Row]:
    """Rows of many households (None: all, after a first pull), sorted by id.

    Two scans in storage order instead of look-ups by id: those cost a B-tree
    descent and page decryptions per household, ~3x the scans for 100,000
    households (measured). Households first, then each member's keys added to its
    household's in member (rowid) order, as :func:`index_row` does; a member who
    is the head again (户主: same name, phone and ID number) adds nothing, skipped.
    Keys are memoized per build: names repeat, an LRU cache of this size thrashes.
    """
    build_name_keys, digit_keys = search_keys.build_name_keys, search_keys.digit_keys
    place_key, build_sort_key = search_keys.place_key, search_keys.build_sort_key
    names_memo: dict[str, str] = {}
    sort_memo: dict[str, str] = {}
    # per household: names, digits, head's name, phone, ID number, then the rest of a Row
    building: dict[str, list[Any]] = {}
    for household_id, head_name, address, phone, id_number, category, tags in session.db.execute(
            f"SELECT {_HEAD_COLUMNS} FROM households ORDER BY rowid"):
        if wanted is not None and household_id not in wanted:
            continue
        names = names_memo.get(head_name)
        if names is None:
            names = names_memo[head_name] = build_name_keys(head_name)
        order = sort_memo.get(head_name)
        if order is None:
            order = sort_memo[head_name] = build_sort_key(head_name)
        building[household_id] = [names, digit_keys(phone, id_number), head_name, phone,
                                  id_number, category, _tag_tokens(tags), order,
                                  place_key(address)]
    for household_id, name, phone, id_number in session.db.execute(
            "SELECT household_id, name, phone, id_number FROM members ORDER BY rowid"):
        entry = building.get(household_id)
        if entry is None or (name == entry[2] and phone == entry[3] and id_number == entry[4]):
            continue  # not wanted (or its household is gone); or the head again
        names = names_memo.get(name)
        if names is None:
            names = names_memo[name] = build_name_keys(name)
        if names and names not in entry[0]:  # add_tokens, inlined
            entry[0] += names
        digits = digit_keys(phone, id_number)
        if digits and digits not in entry[1]:
            entry[1] += digits
    rows = [(household_id, entry[5], entry[6], entry[7], entry[0], entry[8], entry[1])
            for household_id, entry in building.items()]
    rows.sort()  # by id: written in key order, the index's pages fill one after another
    return rows


def _write(session: Session, chunk: list[str], rows: list[Row], *, bulk: bool = False) -> None:
    """One transaction: replace the rows of ``chunk`` (deleting the households gone),
    log them for other connections' caches and, when nothing else wrote the log
    meanwhile, hand the rows to this connection's cache (no re-read at the next
    search: 100,000 rows cost ~1 s to read back).

    ``bulk``: instead of one log entry per household, the log is emptied and gets one
    entry after a gap in its sequence, so every other cache reads all rows again
    (:meth:`_Memory.catch_up`): cheaper for both sides when thousands changed.
    """
    db = session.db
    memory = _memory(session)
    with db.conn, memory.lock:
        found = {row[0] for row in rows}
        gone = [i for i in chunk if i not in found]
        if gone:
            db.execute(
                "DELETE FROM household_search WHERE household_id IN"
                f" ({','.join('?' * len(gone))})", gone)
        if not memory.loaded and db.execute(
                "SELECT 1 FROM household_search LIMIT 1").fetchone() is None:
            memory.start_empty(_log_last(session))  # a first build: nothing to read back
        before = _log_last(session)
        db.conn.executemany(
            "INSERT OR REPLACE INTO household_search (household_id, category, tags,"
            " sort_key, names, place, digits) VALUES (?,?,?,?,?,?,?)", rows)
        if bulk:
            after = before + 2
            db.execute("DELETE FROM household_search_log")
            db.execute("INSERT INTO household_search_log (seq, household_id) VALUES (?, '')",
                       (after,))
        else:
            after = before + len(chunk)
            db.conn.executemany(
                "INSERT INTO household_search_log (household_id) VALUES (?)",
                [(i,) for i in chunk])
        memory.apply(before, after, gone, rows)


def _log_last(session: Session) -> int:
    return int(session.db.execute(
        "SELECT coalesce(max(seq), 0) FROM household_search_log").fetchone()[0])


def refresh_index(session: Session) -> int:
    """Index what changed since the last refresh; returns the households re-indexed.

    Bounds are read first; rows are then read (perhaps newer: harmless) and written in
    short transactions (:data:`_CHUNK` households, :data:`_BULK_CHUNK` when many),
    so a sync writing at the same time waits at most one chunk. Whatever changes
    after the bounds were read carries a higher rowid or dirty sequence and is
    picked up next time.
    """
    bounds = _stale(session)
    if bounds is None:
        return 0
    db = session.db
    wanted: dict[str, None] = {}
    for (household_id,) in db.execute(
        "SELECT household_id FROM household_search_dirty WHERE seq <= ?",
        (bounds.max_dirty,),
    ):
        wanted[household_id] = None
    if bounds.households_seen == 0:  # a first build: every household, by scans
        _write_scanned(session, wanted, None)  # (members' households are among them)
        _finish(session, bounds)
        return len(wanted)  # the households found were added
    for (household_id,) in db.execute(
        "SELECT id FROM households WHERE rowid > ? AND rowid <= ?",
        (bounds.households_seen, bounds.max_household),
    ):
        wanted[household_id] = None
    for (household_id,) in db.execute(
        "SELECT DISTINCT household_id FROM members WHERE rowid > ? AND rowid <= ?",
        (bounds.members_seen, bounds.max_member),
    ):
        wanted[household_id] = None
    if len(wanted) > _CHUNK and len(wanted) * _SCAN_SHARE >= bounds.max_household:
        _write_scanned(session, wanted, set(wanted))
    else:
        ids = list(wanted)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            _write(session, chunk, _rows_for(session, chunk))
    _finish(session, bounds)
    return len(wanted)


def _write_scanned(session: Session, wanted: dict[str, None],
                   only: set[str] | None) -> None:
    """Rows of the households in ``only`` (None: all) by scans, written in big
    transactions; households of ``wanted`` not found are deleted from the index.
    The households found join ``wanted``."""
    with paused_gc():  # ~500,000 fresh containers that are no garbage
        rows = _rows_scanned(session, only)
    found = {row[0] for row in rows}
    gone = [i for i in wanted if i not in found]
    wanted.update(dict.fromkeys(found))
    for start in range(0, len(gone), _CHUNK):
        _write(session, gone[start:start + _CHUNK], [])
    for start in range(0, len(rows), _BULK_CHUNK):
        part = rows[start:start + _BULK_CHUNK]
        _write(session, [row[0] for row in part], part, bulk=True)


def _finish(session: Session, bounds: _Bounds) -> None:
    """Mark the refresh done up to ``bounds``."""
    db = session.db
    with db.conn:
        db.execute(
            "DELETE FROM household_search_log WHERE seq <= (SELECT max(seq) FROM"
            " household_search_log) - ?", (_LOG_KEEP,))
        db.execute("DELETE FROM household_search_dirty WHERE seq <= ?", (bounds.max_dirty,))
        # only if no delete lowered a mark meanwhile: then the lowered mark stands
        db.execute(
            "UPDATE household_search_state SET households_seen = ?, members_seen = ?"
            " WHERE lowered = ?",
            (bounds.max_household, bounds.max_member, bounds.lowered))


# -- the query -------------------------------------------------------------------------

_COLUMNS = {"names": 4, "place": 5, "digits": 6}  # their places in a Row
_CATEGORY, _TAGS, _SORT_KEY = 1, 2, 3
_BY_NAME = itemgetter(_SORT_KEY)


class _Memory:
    """One connection's keys in memory (module docstring): rows by household id,
    and per column the keys of all households joined by newlines in name order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded = False
        self.log_seen = 0
        self.entries: dict[str, Row] = {}
        self.order: list[str] = []
        self.blobs: dict[str, str] = {}
        self.starts: dict[str, list[int]] = {}
        self.stale = True

    def start_empty(self, log_seen: int) -> None:
        """The index is empty as of ``log_seen``: loaded, with nothing to read."""
        self.entries, self.loaded, self.log_seen, self.stale = {}, True, log_seen, True

    def apply(self, before: int, after: int, gone: list[str], rows: list[Row]) -> None:
        """Rows this connection just wrote, logged as ``before`` < seq <= ``after``:
        taken as they are if the cache had read the log up to ``before``, else
        :meth:`catch_up` reads them back later."""
        if not self.loaded or self.log_seen != before:
            return
        for household_id in gone:
            self.entries.pop(household_id, None)
        self.entries.update((row[0], row) for row in rows)
        self.log_seen = after
        self.stale = True

    def catch_up(self, session: Session) -> None:
        db = session.db
        last = _log_last(session)
        if last == self.log_seen and self.loaded:
            return
        first = int(db.execute(
            "SELECT coalesce(min(seq), 0) FROM household_search_log").fetchone()[0])
        if not self.loaded or first > self.log_seen + 1 or last < self.log_seen:
            self.entries = {r[0]: r for r in db.execute(f"SELECT {_ROW_COLUMNS}"
                                                        " FROM household_search")}
            self.loaded = True
        else:
            ids = list(dict.fromkeys(r[0] for r in db.execute(
                "SELECT household_id FROM household_search_log WHERE seq > ? AND seq <= ?",
                (self.log_seen, last))))
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                for household_id in chunk:
                    self.entries.pop(household_id, None)
                for r in db.execute(
                    f"SELECT {_ROW_COLUMNS} FROM household_search WHERE household_id IN"
                    f" ({','.join('?' * len(chunk))})", chunk,
                ):
                    self.entries[r[0]] = r
        self.log_seen = last
        self.stale = True

    def _rebuild(self) -> None:
        # by id (the first field: unique), then stably by sort key: name order with
        # ties by id, without building a key tuple per household (~2x faster)
        rows = sorted(self.entries.values())
        rows.sort(key=_BY_NAME)
        self.order = [row[0] for row in rows]
        for column, place in _COLUMNS.items():
            parts = [row[place] for row in rows]
            self.starts[column] = list(accumulate((len(p) + 1 for p in parts), initial=0))
            self.blobs[column] = "\n".join(parts)
        self.stale = False

    def find(self, column: str, pattern: str, accept: Callable[[int], bool],
             taken: set[int]) -> Iterator[int]:
        """Households (by position in name order) whose ``column`` holds ``pattern``."""
        blob, starts = self.blobs[column], self.starts[column]
        pos = blob.find(pattern)
        while pos >= 0:
            index = bisect_right(starts, pos) - 1
            if index not in taken and accept(index):
                yield index
            pos = blob.find(pattern, starts[index + 1])

    def query(self, tiers: list[tuple[int, str, str]], text: str,
              accept: Callable[[int], bool], want: int) -> list[tuple[str, int]]:
        """The first ``want`` households, tier by tier, each tier in name order."""
        if self.stale:
            self._rebuild()
        if not tiers:
            found: list[tuple[str, int]] = []
            for index in range(len(self.order)):
                if len(found) >= want:
                    break
                if accept(index):
                    found.append((self.order[index], 0))
            return found
        sparse, empty = self._sparse(tiers, text, accept, want)
        if sparse is not None:
            return sparse
        found, taken = [], set[int]()
        for rank, column, pattern in tiers:
            if column in empty:  # the text is nowhere in it: no tier there can match
                continue
            for index in self.find(column, pattern, accept, taken):
                taken.add(index)
                found.append((self.order[index], rank))
                if len(found) >= want:
                    return found
        return found

    def _sparse(self, tiers: list[tuple[int, str, str]], text: str,
                accept: Callable[[int], bool], want: int,
                ) -> tuple[list[tuple[str, int]] | None, set[str]]:
        """One pass per column when the query is rare: every household holding the
        query's text anywhere in a column (every tier's pattern contains it), each
        ranked by the best tier it meets. None when more than a few pages match:
        then tier-by-tier scans, which stop at the page, are faster; the columns
        found not to hold the text at all come back too, so those skip them."""
        ranks: dict[int, int] = {}
        empty: set[str] = set()
        columns = dict.fromkeys(column for _, column, _ in tiers)
        for column in columns:
            patterns = [(rank, pattern) for rank, col, pattern in tiers if col == column]
            if self.blobs[column].find(text) < 0:
                empty.add(column)
                continue
            count = 0
            for index in self.find(column, text, accept, set()):
                count += 1
                if count > max(want, PAGE) * 4:
                    return None, empty
                held = self.entries[self.order[index]][_COLUMNS[column]]
                met = [rank for rank, pattern in patterns if pattern in held]
                if not met:  # the text, but not where a tier wants it ("ang" in "zhang")
                    continue
                best = min(met)
                ranks[index] = min(best, ranks.get(index, best))
        ordered = sorted(ranks, key=lambda index: (ranks[index], index))[:want]
        return [(self.order[index], ranks[index]) for index in ordered], empty


_memories: weakref.WeakKeyDictionary[Session, _Memory] = weakref.WeakKeyDictionary()
_memories_lock = threading.Lock()


def _memory(session: Session) -> _Memory:
    with _memories_lock:
        memory = _memories.get(session)
        if memory is None:
            memory = _memories[session] = _Memory()
        return memory


def forget(session: Session) -> None:
    """Drop the in-memory keys of ``session`` (at lock: names stay out of memory)."""
    with _memories_lock:
        _memories.pop(session, None)


def query_kind(text: str) -> str:
    """"empty", "han" (Chinese characters), "pinyin" (letters only), "number" (digits,
    perhaps an ID's final x) or "mixed"."""
    if not text:
        return "empty"
    if any(search_keys.is_han(c) for c in text):
        return "han"
    if text.isascii() and text.isalpha():
        return "pinyin"
    if text.isascii() and (text.isdigit() or (text[:-1].isdigit() and text[-1] == "x")):
        return "number"
    return "mixed"


def _tiers(kind: str, text: str) -> list[tuple[int, str, str]]:
    """(rank, column, pattern) to look for, best first (see the module docstring)."""
    whole = WHOLE + text
    if kind == "pinyin":
        return [(0, "names", whole + END), (1, "names", whole), (2, "names", PART + text)]
    if kind == "han":
        return [(0, "names", whole + END), (1, "names", whole), (2, "names", text),
                (3, "place", text)]
    if kind == "number":
        return [(0, "digits", text + END), (1, "digits", text), (3, "place", text)]
    if kind == "mixed":
        return [(2, "names", text), (3, "place", text), (3, "digits", text)]
    return []


def _due_ids(session: Session) -> list[str]:
    from fieldclient.fieldwork.quotas import due_households  # helper VISITS's module

    return [d.household_id for d in due_households(session)]


def search_households(
    session: Session, query: str, *, category: str | None = None, tag: str | None = None,
    due_only: bool = False, limit: int = 200, offset: int = 0,
) -> list[HouseholdHit]:
    """Households matching ``query`` and the filters, best first (module docstring);
    an empty query lists them all by name. ``due_only``: only households whose visit
    is due within a week or overdue (:func:`fieldclient.fieldwork.quotas.due_households`)."""
    if category is not None and category not in households.CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if limit < 1 or offset < 0:
        return []
    refresh_index(session)
    due = set(_due_ids(session)) if due_only else None
    text = search_keys.normalize(query)
    tag_token = WHOLE + tag + END if tag else None
    memory = _memory(session)
    with memory.lock:
        memory.catch_up(session)
        if memory.stale:
            memory._rebuild()
        order, entries = memory.order, memory.entries

        def accept(index: int) -> bool:
            household_id = order[index]
            entry = entries[household_id]
            return ((category is None or entry[_CATEGORY] == category)
                    and (tag_token is None or tag_token in entry[_TAGS])
                    and (due is None or household_id in due))

        found = memory.query(_tiers(query_kind(text), text), text, accept, offset + limit)
    return _hits(session, found[offset:])


def _hits(session: Session, found: list[tuple[str, int]]) -> list[HouseholdHit]:
    if not found:
        return []
    ids = [household_id for household_id, _ in found]
    rows = {
        r[0]: r for r in session.db.execute(
            "SELECT id, head_name, address, category, tags, phone, grid_id FROM households"
            f" WHERE id IN ({','.join('?' * len(ids))})", ids)
    }
    hits = []
    for household_id, rank in found:
        row = rows.get(household_id)
        if row is None:  # removed since the index was read
            continue
        hits.append(HouseholdHit(
            household_id=row[0], head_name=row[1], address=row[2], category=row[3],
            tags=tuple(households.mask_tags(json.loads(row[4] or "[]"))),
            phone=households.mask_phone(row[5]), grid_id=row[6], rank=int(rank)))
    return hits


def all_tags(session: Session) -> list[str]:
    """The tags in use on this device, most used first (the tag filter's choices);
    special-group tags only if the role may see them."""
    counts: dict[str, int] = {}
    for (tag,) in session.db.execute(
        "SELECT j.value FROM households, json_each(households.tags) AS j"):
        counts[tag] = counts.get(tag, 0) + 1
    allowed = households.can_reveal(households.device_role(session))
    return [t for t in sorted(counts, key=lambda t: (-counts[t], t))
            if allowed or t not in households.SENSITIVE_TAGS]
