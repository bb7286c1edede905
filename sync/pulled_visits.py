"""Visits pulled from the centre (change kind ``visit``) into the local ``visits`` table.

Colleagues' visits count for the household's history and its quota due dates, so
they are stored like the device's own, with ``origin = 'server'``. A visit already
here (the device's own, or pulled before) is left alone: visits are immutable.
Records of older clients (``people_met`` a number, no ``visit_type``) are coerced;
a record too broken to show (no household, no time) is skipped rather than failing
the whole page, which would stop the device from ever getting past it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import sqlcipher3.dbapi2 as cipher_dbapi
import sqlite_utils

from sync import protocol

log = logging.getLogger("gridfield.sync")

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
        "origin": "server",
        "created_at": now,
    }


def save_pulled_visit(db: sqlite_utils.Database, data: dict[str, Any], now: float) -> bool:
    """Insert the visit unless it is here already; False when it was skipped as broken.
    Call inside the pull page's transaction."""
    row = visit_row(data, now)
    if row is None:
        log.warning("pulled visit without id, household or time skipped")
        return False
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute("SAVEPOINT pulled_visit")
    try:
        db.execute(f"INSERT OR IGNORE INTO visits ({columns}) VALUES ({marks})", list(row.values()))
    except (sqlite3.IntegrityError, cipher_dbapi.IntegrityError):
        # e.g. it corrects a visit this device never got: keep the page going
        db.execute("ROLLBACK TO pulled_visit")
        db.execute("RELEASE pulled_visit")
        log.warning("pulled visit %s could not be stored", row["id"])
        return False
    db.execute("RELEASE pulled_visit")
    return True
