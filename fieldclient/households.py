"""Household registry records: create, read with masking, reveal with audit."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils.db import Table

from fieldclient import audit
from fieldclient.ids import new_id
from fieldclient.session import Session

SENSITIVE_FIELDS = ("id_number", "phone")
CATEGORIES = ("ordinary", "hardship", "key")


def mask(value: str | None) -> str | None:
    """Keep the last four characters: enough to tell records apart on screen."""
    if not value:
        return value
    return "*" * max(0, len(value) - 4) + value[-4:]


def create_household(
    session: Session,
    head_name: str,
    address: str,
    category: str = "ordinary",
    phone: str | None = None,
    id_number: str | None = None,
    tags: list[str] | None = None,
    grid_id: str | None = None,
) -> str:
    """Insert a household, its outbox entry and its audit entry in one transaction."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    household_id = new_id()
    now = session.clock()
    row = {
        "id": household_id,
        "grid_id": grid_id,
        "head_name": head_name,
        "address": address,
        "category": category,
        "phone": phone,
        "id_number": id_number,
        "tags": json.dumps(tags or [], ensure_ascii=False),
        "version": 0,
        "created_at": now,
        "updated_at": now,
    }
    # A plain INSERT, not sqlite-utils' ``Table.insert``: that wraps itself in
    # ``with conn:`` and so would COMMIT the row on its own, before the outbox and
    # audit entries, breaking the one-transaction guarantee if either then fails.
    columns = ", ".join(row)
    placeholders = ", ".join("?" for _ in row)
    with session.db.conn:
        session.db.execute(
            f"INSERT INTO households ({columns}) VALUES ({placeholders})", list(row.values())
        )
        session.enqueue("household.create", household_id, row)
        session.audit.append(audit.RECORD_CREATED, {"kind": "household", "id": household_id})
    return household_id


EDITABLE_FIELDS = ("head_name", "address", "category", "phone", "id_number", "tags")


def update_household(session: Session, household_id: str, fields: dict[str, Any]) -> str:
    """Change some fields of a household: the row, its outbox op and audit entry in one
    transaction. The op carries the version last pulled from the server (``base_version``),
    so the server can merge it with other devices' changes field by field.

    ``tags`` is a list of texts. Returns the op id.
    """
    if not fields:
        raise ValueError("no fields to change")
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"{name!r} cannot be changed")
        if name in ("head_name", "address") and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"{name} must not be empty")
        if name == "category" and value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}")
        if name == "tags" and not (
            isinstance(value, list) and all(isinstance(t, str) for t in value)
        ):
            raise ValueError("tags must be a list of texts")
    columns = {
        name: json.dumps(value, ensure_ascii=False) if name == "tags" else value
        for name, value in fields.items()
    }
    with session.db.conn:
        row = session.db.execute(
            "SELECT version FROM households WHERE id = ?", (household_id,)
        ).fetchone()
        if row is None:
            raise KeyError(household_id)
        assignments = ", ".join(f"{name} = ?" for name in columns)
        session.db.execute(
            f"UPDATE households SET {assignments}, updated_at = ? WHERE id = ?",
            [*columns.values(), session.clock(), household_id],
        )
        op_id = session.enqueue(
            "household.update",
            household_id,
            {"base_version": int(row[0]), "fields": dict(fields)},
        )
        session.audit.append(
            audit.RECORD_UPDATED, {"kind": "household", "id": household_id,
                                   "fields": sorted(fields)}
        )
    return op_id


def get_household(session: Session, household_id: str) -> dict[str, Any]:
    """The household with sensitive fields masked."""
    row = dict(Table(session.db, "households").get(household_id))
    for name in SENSITIVE_FIELDS:
        row[name] = mask(row[name])
    row["tags"] = json.loads(row["tags"])
    return row


def reveal_field(session: Session, household_id: str, field: str) -> str | None:
    """Show one sensitive field in clear; every reveal is audited."""
    if field not in SENSITIVE_FIELDS:
        raise ValueError(f"{field!r} is not a sensitive field")
    value = Table(session.db, "households").get(household_id)[field]
    with session.db.conn:
        session.audit.append(
            audit.SENSITIVE_VIEWED, {"kind": "household", "id": household_id, "field": field}
        )
    return value  # type: ignore[no-any-return]
