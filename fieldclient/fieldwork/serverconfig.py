"""Per-district settings the centre sends down the pull feed (change kind ``config``).

Checklists, quota rules, review rules and event classes also come signed (the centre's
TUF config role, :mod:`fieldclient.update.config`, table ``signed_config``): a signed
value wins, and once a key has come signed the unsigned pulled value of that key is
ignored for good (:func:`get`).

Known keys: ``quota_rules`` (see :mod:`fieldclient.fieldwork.quotas`), ``review_rules``
(see :mod:`fieldclient.fieldwork.review`),
``event_categories`` (see :mod:`fieldclient.fieldwork.events`), ``quick_phrases``
(see :mod:`fieldclient.fieldwork.phrases`), ``support_contact`` (:func:`support_contact`)
and ``pin_policy`` (:func:`min_pin_digits`).
A key the centre never set
falls back to the product default shipped in ``resources/``; a value that does
not parse is ignored the same way, so a bad setting never stops field work.

Grids' boundaries come the same way, per grid (change kind ``grid``, table
``sync_grids``): :func:`save_grid` stores one, :func:`grid_boundary` gives what a map
draws for the grids it shows.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import sqlite_utils

QUOTA_RULES = "quota_rules"
EVENT_CATEGORIES = "event_categories"
PIN_POLICY = "pin_policy"
REVIEW_RULES = "review_rules"
QUICK_PHRASES = "quick_phrases"
SUPPORT_CONTACT = "support_contact"


CHECKLIST = "checklist"
# Delivered signed (TUF config role, fieldclient.update.config); the others stay plain
SIGNED_KEYS = (CHECKLIST, QUOTA_RULES, REVIEW_RULES, EVENT_CATEGORIES)
SIGNED_SEEN = "signed_config_version"  # meta: the newest config metadata version verified


def signed_seen(db: sqlite_utils.Database) -> int | None:
    """The newest signed config version this device verified (None before the first):
    an older one is a rollback."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (SIGNED_SEEN,)).fetchone()
    try:
        return int(row[0]) if row is not None else None
    except (TypeError, ValueError):
        return None


def signed(db: sqlite_utils.Database, key: str) -> dict[str, Any] | None:
    """The signed row of ``key`` (``value`` parsed; None when the centre withdrew it:
    the product default, never the unsigned value again), or None when ``key`` never
    came signed."""
    row = db.execute("SELECT value, name, sha256, config_version, applied_at"
                     " FROM signed_config WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        value = json.loads(row[0])
    except (TypeError, ValueError):
        return None
    return {"value": value, "name": row[1], "sha256": row[2], "config_version": row[3],
            "applied_at": row[4]}


def get(db: sqlite_utils.Database, key: str) -> Any | None:
    """The centre's value for ``key`` (parsed JSON), or None when unset or unreadable.

    For :data:`SIGNED_KEYS`, once the key has come signed, only the signed value counts
    (None when withdrawn: the product default); an unsigned value that came over the
    pull feed no longer does. A key that never came signed is read as before."""
    if key in SIGNED_KEYS:
        found = signed(db, key)
        if found is not None:
            return found["value"]
    row = db.execute("SELECT value FROM server_config WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0])
    except (TypeError, ValueError):
        return None


def put(db: sqlite_utils.Database, key: str, value: Any, server_seq: int) -> None:
    """Store the centre's value (the sync engine calls this inside a pull page's
    transaction)."""
    db.execute(
        "INSERT INTO server_config (key, value, server_seq) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
        " server_seq = excluded.server_seq",
        (key, json.dumps(value, ensure_ascii=False), server_seq),
    )


def min_pin_digits(db: sqlite_utils.Database) -> int:
    """The shortest PIN IT allows (``pin_policy.min_digits``), never below the product's
    own minimum; the product minimum when unset or unreadable."""
    from fieldclient.security.vaultstate import MAX_PIN_LENGTH, MIN_PIN_LENGTH

    value = get(db, PIN_POLICY)
    digits = value.get("min_digits") if isinstance(value, dict) else None
    if not isinstance(digits, int) or isinstance(digits, bool):
        return MIN_PIN_LENGTH
    return max(MIN_PIN_LENGTH, min(MAX_PIN_LENGTH, digits))


def save_grid(db: sqlite_utils.Database, data: dict[str, Any], server_seq: int) -> None:
    """Store a pulled grid row (already checked against its schema by the sync engine);
    a boundary of None removes the grid's boundary."""
    boundary = data.get("boundary")
    db.execute(
        "INSERT INTO sync_grids (id, name, boundary, updated_at, server_seq)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
        " boundary = excluded.boundary, updated_at = excluded.updated_at,"
        " server_seq = excluded.server_seq",
        (str(data["id"]), data.get("name"),
         None if boundary is None else json.dumps(boundary, separators=(",", ":")),
         data.get("updated_at"), server_seq),
    )


def grid_boundary(db: sqlite_utils.Database, grid_ids: Iterable[str | int]
                  ) -> dict[str, Any] | None:
    """The boundaries of ``grid_ids`` as one GeoJSON MultiPolygon (a map showing a
    worker of several grids draws them all), None when the centre sent none of them."""
    wanted = sorted({str(g) for g in grid_ids})
    if not wanted:
        return None
    marks = ",".join("?" * len(wanted))
    polygons: list[Any] = []
    for (text,) in db.execute(
            f"SELECT boundary FROM sync_grids WHERE boundary IS NOT NULL AND id IN ({marks})"
            " ORDER BY id", wanted).fetchall():
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(value, dict) and isinstance(value.get("coordinates"), list):
            polygons.extend(value["coordinates"])
    return {"type": "MultiPolygon", "coordinates": polygons} if polygons else None


def household_grids(db: sqlite_utils.Database, household_id: str) -> list[str]:
    """The grid of a household here ([] when unknown): the map of its history draws
    that grid's boundary."""
    row = db.execute("SELECT grid_id FROM households WHERE id = ?", (household_id,)).fetchone()
    return [str(row[0])] if row is not None and row[0] else []
_UNFIT = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # unicodedata categories
_PHONE = re.compile(r"^[0-9+][0-9 -]{2,19}$")


def printable(text: str) -> bool:
    """Whether ``text`` from the centre is fit to show and to copy into a record: no
    control character but ordinary white space (an escape sequence, NUL), no format
    character (a right-to-left override shows a phone number reversed), no surrogate
    or private-use character."""
    return all(c in "\t\n\r" or unicodedata.category(c) not in _UNFIT for c in text)


def support_contact(db: sqlite_utils.Database) -> tuple[str, str] | None:
    """Whom to call when the PIN is forgotten (``support_contact``: ``{"name", "phone"}``
    from the centre), or None when unset or unreadable."""
    value = get(db, SUPPORT_CONTACT)
    if not isinstance(value, dict):
        return None
    name, phone = value.get("name"), value.get("phone")
    if not isinstance(name, str) or not isinstance(phone, str) or not printable(name):
        return None
    name, phone = " ".join(name.split()), phone.strip()
    if not name or len(name) > 40 or not _PHONE.match(phone):
        return None
    return name, phone
