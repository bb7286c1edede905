"""Visits pulled from the centre (change kind ``visit``) into the local ``visits`` table.

Colleagues' visits count for the household's history and its quota due dates, so
they are stored like the device's own, with ``origin = 'server'``. A visit already
here (the device's own, or pulled before) is left alone: visits are immutable.
Records of older clients (``people_met`` a number, no ``visit_type``) are coerced;
a record too broken to store (no household, no time, a correction of a visit this
device does not have) raises, and the sync engine holds it aside (``sync_held``) while
the rest of the page goes on: it is neither lost nor able to stop the feed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlite_utils

from sync import protocol

MAX_TEXT = 5000


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    return str(value)[:MAX_TEXT] if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _person(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


def visit_row(data: dict[str, Any], now: float) -> dict[str, Any] | None:
    """The local ``visits`` row for a pulled visit, or None when it cannot be stored."""
    visit_id, household_id = data.get("id"), data.get("household_id")
    visited_at = _number(data.get("visited_at"))
    if not isinstance(visit_id, str) or not visit_id or not isinstance(household_id, str) \
            or not household_id or visited_at is None:
        return None
    visit_type = data.get("visit_type")
    photos = data.get("photos")
    if isinstance(photos, str):  # sent as the device's row value: a JSON list in text
        try:
            photos = json.loads(photos)
        except ValueError:
            photos = []
    tz = data.get("tz_offset_minutes")
    corrects = data.get("corrects")
    due = data.get("follow_up_due")
    return {
        "id": visit_id,
        "household_id": household_id,
        "grid_id": None if data.get("grid_id") is None else str(data["grid_id"]),
        "visit_type": visit_type if visit_type in protocol.VISIT_TYPES else "other",
        "visited_at": visited_at,
        "tz_offset_minutes": tz if isinstance(tz, int) and not isinstance(tz, bool)
        and -840 <= tz <= 840 else 480,
        "people_met": _text(data.get("people_met")),
        "situation": _text(data.get("situation")),
        "needs": _text(data.get("needs")),
        "follow_up": _text(data.get("follow_up")),
        "follow_up_due": due if isinstance(due, str) and len(due) <= 32 else None,
        "photos": json.dumps([p for p in photos if isinstance(p, str)]
                             if isinstance(photos, list) else []),
        "lat": _number(data.get("lat")),
        "lon": _number(data.get("lon")),
        "accuracy_m": _number(data.get("accuracy_m")),
        "corrects": corrects if isinstance(corrects, str) and corrects else None,
        "worker": _text(data.get("worker")) or None,
        "device_id": _text(data.get("device_id")) or None,
        "training": 1 if data.get("training") else 0,
        "person_id": _person(data.get("person_id")),
        "origin": "server",
        "created_at": now,
    }


_SHA256 = re.compile(r"[0-9a-f]{64}")


def photo_hash_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(photo id, SHA-256) pairs of a pulled row's ``photo_sha256`` (visits, patrols):
    the hashes of other devices' photos the centre knows; malformed pairs left out."""
    value = data.get("photo_sha256")
    if not isinstance(value, dict):
        return []
    return [(k, v) for k, v in value.items() if isinstance(k, str) and 0 < len(k) <= 64
            and isinstance(v, str) and _SHA256.fullmatch(v)]


def save_photo_hashes(db: sqlite_utils.Database, data: dict[str, Any]) -> None:
    """Keep the SHA-256 of the photos a pulled row names (``photo_hashes``), for the
    review's same-photo check; the device's own photos stay in ``photos``."""
    rows = photo_hash_rows(data)
    if rows:
        db.conn.executemany(
            "INSERT OR REPLACE INTO photo_hashes (photo_id, sha256) VALUES (?, ?)", rows)


def save_pulled_visit(db: sqlite_utils.Database, data: dict[str, Any], now: float) -> None:
    """Insert the visit unless it is here already (its photos' hashes in any case: a
    visit pulled again may bring some the centre did not have before). Call inside the
    pull page's transaction, in the row's own savepoint: a visit that cannot be stored
    raises (ValueError, or the database's IntegrityError) and the engine holds it aside."""
    row = visit_row(data, now)
    if row is None:
        raise ValueError("pulled visit without id, household or time")
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT OR IGNORE INTO visits ({columns}) VALUES ({marks})", list(row.values()))
    save_photo_hashes(db, data)
