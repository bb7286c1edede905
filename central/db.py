"""Storage for the central server: SQLAlchemy Core tables, engines and migrations.

SQLite by default (a file in the current directory), PostgreSQL with a
``postgresql://`` URL (driven by psycopg 3). The schema is created and upgraded by
numbered migrations recorded in ``schema_version``; ``central init`` applies the
pending ones and is idempotent.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.sql.elements import BindParameter

from central.atrest import (
    PREFIX,
    AtRestError,
    KeyFile,
    KeyProvider,
    KeyRing,
    SealedJSON,
    SealedText,
    attach,
    default_key_file,
    ring_of,
    write_sealed,
)

DEFAULT_DB = "sqlite:///central.db"

ORG_LEVELS = ("city", "county", "town", "village", "grid")
ROLES = ("worker", "leader", "supervisor", "it_admin")
CATEGORIES = ("ordinary", "hardship", "key")
RESIDENCES = ("registered", "floating", "tenant")
DEVICE_STATUSES = ("active", "revoked")
EVENT_STATUSES = (
    "reported",
    "accepted",
    "dispatched",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "returned",
    "escalated",
)


def _blind_default(context: Any) -> str | None:
    """An inserted row's ID-number blind index (HMAC under the current key)."""
    value = context.get_current_parameters().get("id_number")
    return ring_of(context.dialect).index(value)


def with_blind_index(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` of an UPDATE of households or members, with the ID number's blind
    index when the ID number is among them (an INSERT gets it by default)."""
    if "id_number" not in values:
        return values
    return {**values, "id_number_bidx": ring_of(conn.dialect).index(values["id_number"])}


def _photo_default(context: Any) -> str | None:
    """The photo a ``photo.meta`` record describes (kept beside its sealed payload, so
    /photos/missing can look it up)."""
    params = context.get_current_parameters()
    payload = params.get("payload")
    sha = payload.get("sha256") if isinstance(payload, dict) else None
    if params.get("kind") != "photo.meta" or not isinstance(sha, str):
        return None
    return sha.lower()[:64]


REVIEW_TIMES = {"visit.create": "visited_at", "patrol.report": "finished_at",
                "event.report": "reported_at"}


def review_columns(kind: str, payload: Any) -> tuple[float | None, str | None, int | None]:
    """(happened_at, household_id, counted) of a record (migration 14's columns);
    ``counted``: 1 a visit that counts, 2 a correction, 0 training (visits only)."""
    field = REVIEW_TIMES.get(kind)
    if field is None or not isinstance(payload, dict):
        return None, None, None
    when = payload.get(field)
    happened = float(when) if isinstance(when, int | float) and not isinstance(
        when, bool) else None
    if kind != "visit.create":
        return happened, None, None
    household = payload.get("household_id")
    counted = 0 if payload.get("training") else 2 if payload.get("corrects") else 1
    return happened, household[:36] if isinstance(household, str) else None, counted


def _review_default(context: Any) -> tuple[float | None, str | None, int | None]:
    params = context.get_current_parameters()
    return review_columns(str(params.get("kind")), params.get("payload"))


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", String(32), nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

org_units = Table(
    "org_units",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("parent_id", Integer, ForeignKey("org_units.id"), nullable=True),
    Column("level", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    CheckConstraint(_in("level", ORG_LEVELS), name="ck_org_units_level"),
)
Index("ix_org_units_parent", org_units.c.parent_id)

people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", SealedText("people.name"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("phone", SealedText("people.phone"), nullable=True),
    CheckConstraint(_in("role", ROLES), name="ck_people_role"),
)

grid_assignments = Table(
    "grid_assignments",
    metadata,
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    PrimaryKeyConstraint("person_id", "grid_id"),
)
Index("ix_grid_assignments_grid", grid_assignments.c.grid_id)

devices = Table(
    "devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("public_key", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("enrolled_at", String(32), nullable=False),
    Column("last_contact", String(32), nullable=True),
    Column("revoked_at", String(32), nullable=True),
    Column("wipe_sent_at", String(32), nullable=True),
    # Revoked with "upload first": until then the device may still push and upload
    # photos (nothing else), and its signed wipe tells it to send what it holds first.
    Column("upload_until", String(32), nullable=True),
    # migration 13: where the device stands in the review feed (kind ``device``), and
    # the last contact sent there (it moves at most every CONTACT_STEP_SECONDS)
    Column("feed_seq", BigInteger, nullable=True),
    Column("contact_sent", String(32), nullable=True),
    # migration 16: the fleet view (central devices). The app version and protocol level
    # from the headers of its signed requests; the rest as the device last reported it
    # (sync.protocol, "device status"; NULL: never reported, e.g. an older app)
    Column("app_version", String(40), nullable=True),
    Column("protocol_level", Integer, nullable=True),
    Column("update_channel", String(16), nullable=True),
    Column("pending_ops", BigInteger, nullable=True),
    Column("photos_waiting", BigInteger, nullable=True),
    Column("photo_bytes", BigInteger, nullable=True),
    Column("secret_store", String(16), nullable=True),
    Column("status_at", String(32), nullable=True),
    CheckConstraint(_in("status", DEVICE_STATUSES), name="ck_devices_status"),
)

enrollment_codes = Table(
    "enrollment_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("person_id", Integer, ForeignKey("people.id"), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("used_at", String(32), nullable=True),
    Column("device_id", String(36), nullable=True),
)

nonces = Table(
    "nonces",
    metadata,
    Column("device_id", String(36), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("device_id", "nonce"),
)
Index("ix_nonces_ts", nonces.c.ts)

households = Table(
    "households",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("head_name", SealedText("households.head_name"), nullable=False),
    Column("address", SealedText("households.address"), nullable=False),
    Column("category", String(16), nullable=False),
    Column("phone", SealedText("households.phone"), nullable=True),
    Column("id_number", SealedText("households.id_number"), nullable=True),
    Column("tags", SealedJSON("households.tags"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    # Unix time the centre first knew the household (migration 6); NULL: on the roster
    # before that was recorded. Devices count visit quotas from it.
    Column("registered_at", Float, nullable=True),
    # migration 12: HMAC of the ID number (central.atrest), for equality look-ups
    Column("id_number_bidx", String(40), nullable=True, default=_blind_default),
    # migration 14: where the household lives, when known (WGS-84): the review's
    # far-from-home check compares visit positions with it
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    CheckConstraint(_in("category", CATEGORIES), name="ck_households_category"),
)
Index("ix_households_grid", households.c.grid_id, households.c.updated_seq)

members = Table(
    "members",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False),
    Column("name", SealedText("members.name"), nullable=False),
    Column("relation", String(20), nullable=False),
    Column("id_number", SealedText("members.id_number"), nullable=True),
    Column("phone", SealedText("members.phone"), nullable=True),
    Column("residence", String(16), nullable=False),
    Column("id_number_bidx", String(40), nullable=True, default=_blind_default),
    CheckConstraint(_in("residence", RESIDENCES), name="ck_members_residence"),
)
Index("ix_members_household", members.c.household_id)

events = Table(
    "events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("reporter_id", Integer, ForeignKey("people.id"), nullable=True),
    Column("category", String(20), nullable=False),
    Column("description", SealedText("events.description"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    # migration 4: what the worker reported beyond class and text
    Column("urgency", String(16), nullable=True),
    Column("household_id", String(36), nullable=True),
    Column("address", SealedText("events.address"), nullable=True),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("photos", JSON, nullable=True),
    CheckConstraint(_in("status", EVENT_STATUSES), name="ck_events_status"),
)
Index("ix_events_grid", events.c.grid_id)

event_history = Table(
    "event_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(36), ForeignKey("events.id"), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("note", SealedText("event_history.note"), nullable=True),
    Column("actor", String(50), nullable=False),
    Column("at", String(32), nullable=False),
    Column("followup_id", String(36), nullable=True),  # migration 4: the worker's follow-up
)
Index("ix_event_history_event", event_history.c.event_id)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("due", String(32), nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)
Index("ix_tasks_grid", tasks.c.grid_id)


# -- sync (migration 2) ----------------------------------------------------------------

sync_ops = Table(
    "sync_ops",
    metadata,
    Column("op_id", String(64), primary_key=True),
    Column("device_id", String(36), ForeignKey("devices.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("result", SealedJSON("sync_ops.result"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("received_at", String(32), nullable=False),
)
Index("ix_sync_ops_device", sync_ops.c.device_id)

records = Table(
    "records",
    metadata,
    Column("kind", String(32), nullable=False),
    Column("id", String(64), nullable=False),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("payload", SealedJSON("records.payload"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("received_at", String(32), nullable=False),
    # migration 12: the photo a photo.meta record describes (its payload is sealed)
    Column("photo_sha256", String(64), nullable=True, default=_photo_default),
    # migration 14: beside the sealed payload, what the monthly review selects by (a
    # month's records without opening a year of payloads): when it happened (visit,
    # patrol, event report), the visited household and whether the visit counts
    Column("happened_at", Float, nullable=True, default=lambda c: _review_default(c)[0]),
    Column("household_id", String(36), nullable=True,
           default=lambda c: _review_default(c)[1]),
    Column("counted", Integer, nullable=True, default=lambda c: _review_default(c)[2]),
    PrimaryKeyConstraint("kind", "id"),
)
Index("ix_records_happened", records.c.kind, records.c.happened_at)
Index("ix_records_visit_household", records.c.kind, records.c.counted, records.c.household_id,
      records.c.happened_at)
# (ix_records_grid on (grid_id, seq) until migration 9: every reader names the kind, so
# ix_records_kind_grid serves them, and each record paid for a second index)

household_fields = Table(
    "household_fields",
    metadata,
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("device_id", String(36), nullable=True),
    PrimaryKeyConstraint("household_id", "field"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("kept_value", SealedJSON("conflicts.kept_value"), nullable=True),
    Column("other_value", SealedJSON("conflicts.other_value"), nullable=True),
    Column("kept_device", String(36), nullable=True),
    Column("kept_person", Integer, nullable=True),
    Column("other_device", String(36), nullable=False),
    Column("other_person", Integer, nullable=False),
    Column("other_op_id", String(64), nullable=False),
    Column("base_version", Integer, nullable=True),
    Column("created_seq", BigInteger, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("choice", String(8), nullable=True),
    Column("resolved_by", Integer, nullable=True),
    Column("resolved_at", String(32), nullable=True),
    Column("updated_seq", BigInteger, nullable=False),
    # migration 3: set when the conflict is about a member (``field`` is then a member
    # field or ``removed``); NULL for household fields
    Column("member_id", String(36), nullable=True),
    CheckConstraint("status IN ('open', 'resolved')", name="ck_conflicts_status"),
)
Index("ix_conflicts_grid", conflicts.c.grid_id, conflicts.c.updated_seq)

photos = Table(
    "photos",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("received_at", String(32), nullable=False),
)

photo_uploads = Table(
    "photo_uploads",
    metadata,
    # One partial upload per photo and device (migration 8; before, one per photo, so
    # one device announcing a wrong size blocked everyone else's upload of that photo).
    Column("sha256", String(64), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("updated_at", String(32), nullable=False),
    PrimaryKeyConstraint("sha256", "device_id"),
)
Index("ix_photo_uploads_device", photo_uploads.c.device_id)

V2_TABLES = ("sync_ops", "records", "household_fields", "conflicts", "photos", "photo_uploads")


# -- member sync (migration 3) ---------------------------------------------------------

member_state = Table(
    "member_state",
    metadata,
    # One row per member that changed by sync; a member without one is at version 1.
    # A removed member's row leaves ``members`` and is kept here as a tombstone with
    # its last values (``snapshot``), so a concurrent edit can still be restored.
    Column("member_id", String(36), primary_key=True),
    Column("household_id", String(36), ForeignKey("households.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("snapshot", SealedJSON("member_state.snapshot"), nullable=True),
    Column("updated_seq", BigInteger, nullable=False),
)

member_fields = Table(
    "member_fields",
    metadata,
    Column("member_id", String(36), nullable=False),
    Column("field", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("device_id", String(36), nullable=True),
    PrimaryKeyConstraint("member_id", "field"),
)

V3_TABLES = ("member_state", "member_fields")


# -- event follow-ups (migration 4) ------------------------------------------------------

event_followups = Table(
    "event_followups",
    metadata,
    # A worker's supplement to a returned event or on-the-spot check of a resolved one
    # (op event.followup; id = its record id). ``result``: ``transition`` when it moved
    # the event, ``note`` when the event had moved on and it was kept as a remark.
    Column("id", String(36), primary_key=True),
    Column("event_id", String(36), ForeignKey("events.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("outcome", String(8), nullable=True),
    Column("text", SealedText("event_followups.text"), nullable=False),
    Column("photos", JSON, nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("person_id", Integer, nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("created_at", String(32), nullable=True),  # when the device says it happened
    Column("received_at", String(32), nullable=False),
    Column("result", String(16), nullable=False),
    CheckConstraint("kind IN ('supplement', 'verify')", name="ck_event_followups_kind"),
)
Index("ix_event_followups_event", event_followups.c.event_id)

V4_TABLES = ("event_followups",)
V4_EVENT_COLUMNS = ("urgency", "household_id", "address", "lat", "lon", "photos")


# -- task responses and per-district settings (migration 5) ------------------------------

task_responses = Table(
    "task_responses",
    metadata,
    # One row per task.ack / task.answer record a device pushed (id = its record id).
    Column("id", String(64), primary_key=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("text", SealedText("task_responses.text"), nullable=True),
    Column("photos", JSON, nullable=False),
    Column("event_id", String(36), nullable=True),
    Column("at", String(32), nullable=True),  # when the device says it happened
    Column("received_at", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
    CheckConstraint("kind IN ('ack', 'answer')", name="ck_task_responses_kind"),
)
Index("ix_task_responses_task", task_responses.c.task_id, task_responses.c.seq)

settings = Table(
    "settings",
    metadata,
    # A setting for one org unit and everything under it; org_unit_id NULL = everywhere.
    # (org_unit_id, key) is unique; kept so by central.settings under the writer lock.
    Column("id", Integer, primary_key=True),
    Column("org_unit_id", Integer, ForeignKey("org_units.id"), nullable=True),
    Column("key", String(64), nullable=False),
    Column("value", JSON, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)
Index("ix_settings_key", settings.c.key, settings.c.org_unit_id)

# migration 17: a grid's boundary (GeoJSON MultiPolygon, WGS-84, as
# sync.protocol.boundary.normalize_boundary makes it; NULL: removed), sent to the grid's
# devices as the pull kind ``grid``. Not personal data: in the clear, like org units.
grid_boundaries = Table(
    "grid_boundaries",
    metadata,
    Column("grid_id", Integer, ForeignKey("org_units.id"), primary_key=True),
    Column("boundary", JSON, nullable=True),
    Column("vertices", Integer, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)
Index("ix_grid_boundaries_seq", grid_boundaries.c.updated_seq)

# Shared state of the server processes (central/shared/), UNLOGGED on PostgreSQL (no WAL:
# lost in a crash, which costs nothing: a snapshot is rebuilt, a bucket starts full).
# A grid's first pull, built once per (grids, role) and feed position (snapshots.py):
# ``body`` the sealed gzip JSON of its rows, ``cursor`` the feed position at its end.
pull_snapshots = Table(
    "pull_snapshots",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
    Column("built_at", Float, nullable=False),  # Unix seconds
    Column("builds", Integer, nullable=False),  # times this key was built (operators' view)
    Column("body", Text, nullable=False),
)
# Token buckets of the rate limits on PostgreSQL (ratelimit.py; SQLite: in memory).
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("at", Float, nullable=False),  # Unix seconds of the last update
    Column("granted", Boolean, nullable=False),  # whether the last request got a token
)
SHARED_TABLES = ("pull_snapshots", "rate_buckets")

# Photos kept in the database (migration 19; ``central serve --photo-store database``):
# the bytes of the photo store's sealed files (central/shared/blobs.py), so server
# processes on several machines share them. A file is its pieces in order of ``pos``
# (one per write: a sealed frame, the first with the file's header).
photo_blobs = Table(
    "photo_blobs",
    metadata,
    Column("name", String(160), primary_key=True),
    Column("pos", BigInteger, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("written_at", Float, nullable=False),  # Unix seconds
)
V19_TABLES = ("photo_blobs",)

V5_TABLES = ("task_responses", "settings")


# -- photo holders (migration 8) ---------------------------------------------------------

photo_holders = Table(
    "photo_holders",
    metadata,
    # Each device that sent a photo's whole bytes (the first one or a later one with the
    # same bytes): /photos/missing tells a device only about photos it holds or that a
    # record of its grids names, never whether another grid's photo exists.
    Column("sha256", String(64), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("received_at", String(32), nullable=False),
    PrimaryKeyConstraint("sha256", "device_id"),
)

V8_TABLES = ("photo_holders",)

# -- the centre's identity and its signed commands (migration 10) ---------------------------

server_keys = Table(
    "server_keys",
    metadata,
    # The centre's Ed25519 key that signs commands to devices (a wipe): devices pin its
    # public half at enrollment, so no one else can tell a device to erase itself.
    Column("name", String(32), primary_key=True),
    Column("private_key", SealedText("server_keys.private_key"),  # raw 32 bytes, hex
           nullable=False),
    Column("public_key", String(64), nullable=False),  # raw 32 bytes, base64
    Column("created_at", String(32), nullable=False),
)

device_commands = Table(
    "device_commands",
    metadata,
    # The signed command waiting for a device (one at a time: a revoked device's wipe).
    Column("device_id", String(36), primary_key=True),
    Column("command", JSON, nullable=False),  # {"command": {...}, "signature": b64}
    Column("created_at", String(32), nullable=False),
)
V10_TABLES = ("server_keys", "device_commands")

# What the centre concludes from an audit chain head a device sends (sync.protocol,
# "audit anchoring"); "accepted" is IT's acknowledgement of the flags before it.
AUDIT_OK_VERDICTS = ("first", "grew", "same", "accepted")
AUDIT_FLAG_VERDICTS = ("shrank", "forked", "broken", "counter_reset")
AUDIT_VERDICTS = AUDIT_OK_VERDICTS + AUDIT_FLAG_VERDICTS

audit_anchors = Table(
    "audit_anchors",
    metadata,
    # Each device's audit chain head as it arrived, append-only: the evidence that a
    # device's log only grew. The newest row per device is what the next one is checked
    # against; a flag verdict stays on record however the chain goes on.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(36), nullable=False),
    Column("head_seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("pin_failures_total", BigInteger, nullable=True),
    Column("intact", Boolean, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("detail", String(300), nullable=False),
    Column("received_at", String(32), nullable=False),
    CheckConstraint(_in("verdict", AUDIT_VERDICTS), name="ck_audit_anchors_verdict"),
)
Index("ix_audit_anchors_device", audit_anchors.c.device_id, audit_anchors.c.id)
recovery_shares = Table(
    "recovery_shares",
    metadata,
    # Each device's PIN recovery secret (fieldclient.security.recovery): with the
    # tablet's vault.json it opens the device, alone it opens nothing. The newest share
    # per device; IT reads it out with ``central devices recovery-code`` (recorded).
    Column("device_id", String(36), primary_key=True),
    Column("nonce", String(32), nullable=False),
    Column("code", SealedText("recovery_shares.code"), nullable=False),
    Column("escrowed_at", String(32), nullable=False),
    Column("revealed_at", String(32), nullable=True),
    Column("revealed_by", String(100), nullable=True),
)
V11_TABLES = ("audit_anchors", "recovery_shares")


# -- data at rest (migration 12) ----------------------------------------------------------

key_checks = Table(
    "key_checks",
    metadata,
    # One row per key that seals data here: a known text sealed with it, so a server
    # given the wrong key file (or none) refuses to start instead of failing later or
    # writing anything another key would have to read. ``retired_at``: rotated away.
    Column("key_id", String(16), primary_key=True),
    Column("check_value", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("retired_at", String(32), nullable=True),
)

operator_audit = Table(
    "operator_audit",
    metadata,
    # Append-only (triggers refuse UPDATE and DELETE): every ``central`` command that
    # showed sensitive data, who ran it and which records it showed.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("os_user", String(64), nullable=False),
    Column("command", String(64), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("records", JSON, nullable=False),
)
Index("ix_operator_audit_at", operator_audit.c.at)

V12_TABLES = ("key_checks", "operator_audit")
KEY_CHECK_TEXT = b"gridfield-central-key-check"
KEY_CHECK_AD = "key_checks.check_value"

# -- review access (migration 13) ----------------------------------------------------------

REVIEW_STATES = ("approved", "has_issues", "rejected")

reviews = Table(
    "reviews",
    metadata,
    # A leader's or supervisor's verdict on a visit or a patrol (op review.create; id =
    # its record id). Never edited: a new verdict is a new row; the latest is the state.
    Column("id", String(36), primary_key=True),
    Column("target_kind", String(16), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("worker_id", Integer, nullable=True),  # the person whose record it is
    Column("household_id", String(36), nullable=True),
    Column("state", String(16), nullable=False),
    Column("comment", SealedText("reviews.comment"), nullable=True),
    Column("reviewer_id", Integer, nullable=False),
    Column("reviewer_role", String(16), nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("reviewed_at", Float, nullable=True),  # when the device says it happened
    Column("received_at", String(32), nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    CheckConstraint(_in("state", REVIEW_STATES), name="ck_reviews_state"),
    CheckConstraint("target_kind IN ('visit', 'patrol')", name="ck_reviews_target"),
)
Index("ix_reviews_grid", reviews.c.grid_id, reviews.c.updated_seq)
Index("ix_reviews_target", reviews.c.target_kind, reviews.c.target_id)

patrols = Table(
    "patrols",
    metadata,
    # A patrol as its records arrive (patrol.report, checklist.result, track.segment):
    # the report, the results and the simplified track, for the review feed. ``finished``
    # once the report is here; ``updated_seq`` moves with every record of it.
    Column("id", String(64), primary_key=True),
    Column("grid_id", Integer, ForeignKey("org_units.id"), nullable=False),
    Column("person_id", Integer, nullable=False),
    Column("device_id", String(36), nullable=False),
    Column("finished", Boolean, nullable=False),
    Column("report", SealedJSON("patrols.report"), nullable=True),
    Column("results", SealedJSON("patrols.results"), nullable=False),
    Column("segments", JSON, nullable=False),  # track.segment record ids
    Column("track", SealedJSON("patrols.track"), nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)
Index("ix_patrols_grid", patrols.c.grid_id, patrols.c.updated_seq)

backfills = Table(
    "backfills",
    metadata,
    # Data a migration gathers after its schema change, in batches each in its own
    # transaction (:func:`run_backfills`): where each stands, so an interrupted one
    # resumes. ``position``: the last key done (NULL: none yet); ``finished_at``: done.
    Column("name", String(32), primary_key=True),
    Column("position", BigInteger, nullable=True),
    Column("rows_done", BigInteger, nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32), nullable=True),
)

V13_TABLES = ("reviews", "patrols", "backfills")

# Every sealed column (central.atrest), by table: migration 12 seals them in place and
# ``central keys rotate`` re-seals them under the new key.
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "people": ("name", "phone"),
    "households": ("head_name", "address", "phone", "id_number", "tags"),
    "members": ("name", "id_number", "phone"),
    "events": ("description", "address"),
    "event_history": ("note",),
    "event_followups": ("text",),
    "task_responses": ("text",),
    "records": ("payload",),
    "conflicts": ("kept_value", "other_value"),
    "member_state": ("snapshot",),
    "sync_ops": ("result",),
    "server_keys": ("private_key",),  # the key that signs wipes (migration 10)
    "recovery_shares": ("code",),  # a device's PIN recovery secret (migration 11)
    "reviews": ("comment",),  # migration 13
    "patrols": ("report", "results", "track"),  # migration 13
}
# VARCHAR columns (PostgreSQL) that become TEXT to hold their sealed form
_WIDENED = {
    "people": ("name", "phone"),
    "households": ("head_name", "address", "phone", "id_number"),
    "members": ("name", "id_number", "phone"),
    "events": ("address",),
    "server_keys": ("private_key",),
    "recovery_shares": ("code",),
}


# -- time ------------------------------------------------------------------------------

def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """Fixed-width UTC ISO 8601 text, so stored timestamps sort and compare as strings."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return iso(now_utc())


# -- engines ---------------------------------------------------------------------------

def normalize_url(url: str) -> str:
    """Map ``postgresql://`` / ``postgres://`` to the psycopg 3 driver; pass others through."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, key_file: str | os.PathLike[str] | None = None,
                provider: KeyProvider | None = None) -> Engine:
    """An engine for ``url`` with its key ring (central.atrest): ``provider`` (e.g. a
    KMS), else the key file ``key_file``, else ``GRIDFIELD_CENTRAL_KEY_FILE``, else the
    default beside the database. The keys are read when a sealed column is first used."""
    ring = KeyRing(provider or KeyFile(Path(key_file) if key_file else default_key_file(url)))
    engine = _make_engine(normalize_url(url))
    attach(engine.dialect, ring)
    return engine


def keyring(engine: Engine | Connection) -> KeyRing:
    return ring_of(engine.dialect)


def sqlite_path(url: str) -> Path | None:
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix) and url != prefix + ":memory:":
            return Path(url[len(prefix):])
    return None


def _private_files(path: Path) -> None:
    """The database file and its -wal/-shm: readable by the server's user only."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A file database: as many pooled connections as the server's threads, as below
        # (each new one runs the pragmas and the file mode check).
        pool = {} if ":memory:" in url or url.rstrip("/").endswith("sqlite:") else {
            "pool_size": SERVER_THREADS, "max_overflow": 10}
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               **pool)
        path = sqlite_path(url)
        if path is not None and not path.exists():
            with contextlib.suppress(OSError):  # created 0600 (SQLite would use 0644)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            if path is not None:
                _private_files(path)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # FULL: a push answered "applied" is on disk. With NORMAL a WAL commit can
            # roll back on power loss after the device was told it arrived, and the
            # device never sends it again.
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()
            if path is not None:
                _private_files(path)  # the -wal and -shm the first statement made

        return engine
    # As many pooled connections as the server's worker threads (40), so a request never
    # waits for one; no ping per checkout (a round trip each, twice per request): a
    # connection the database dropped fails once, the pool is invalidated and refilled,
    # and the request is answered 503 "retry" (central.app).
    return create_engine(url, pool_pre_ping=False, pool_size=SERVER_THREADS, max_overflow=10,
                         pool_recycle=3600)


# The server's worker threads: Starlette runs sync endpoints and the signature check in
# anyio's default thread pool, 40 threads (what the pools above are sized to).
SERVER_THREADS = 40


# -- migrations ------------------------------------------------------------------------

def _migration_1(conn: Connection) -> None:
    """The first schema: org tree, people, devices, enrollment, households, events, tasks."""
    v1 = [
        t for name, t in metadata.tables.items()
        if name != "schema_version"
        and name not in (V2_TABLES + V3_TABLES + V4_TABLES + V5_TABLES + V8_TABLES
                         + V10_TABLES + V11_TABLES + V12_TABLES + V13_TABLES
                         + SHARED_TABLES + V19_TABLES)
    ]
    metadata.create_all(conn, tables=v1)
    conn.execute(counters.insert().values(name="change_seq", value=0))


def _migration_2(conn: Connection) -> None:
    """Sync: applied ops (exactly once), immutable records, per-field versions, conflicts."""
    metadata.create_all(conn, tables=[metadata.tables[n] for n in V2_TABLES])
    conn.execute(text("CREATE INDEX ix_events_seq ON events (grid_id, updated_seq)"))
    conn.execute(text("CREATE INDEX ix_tasks_seq ON tasks (grid_id, updated_seq)"))


def _migration_3(conn: Connection) -> None:
    """Member sync: member versions and tombstones, per-field versions, member conflicts."""
    metadata.create_all(conn, tables=[metadata.tables[n] for n in V3_TABLES])
    columns = {c["name"] for c in inspect(conn).get_columns("conflicts")}
    if "member_id" not in columns:  # databases made before migration 3
        conn.execute(text("ALTER TABLE conflicts ADD COLUMN member_id VARCHAR(36)"))


def _migration_4(conn: Connection) -> None:
    """Events: urgency, household, address, position and photos as reported; the
    workers' follow-ups (supplement, on-the-spot check) and their history link."""
    added = {"events": V4_EVENT_COLUMNS, "event_history": ("followup_id",)}
    for table_name, names in added.items():
        present = {c["name"] for c in inspect(conn).get_columns(table_name)}
        table = metadata.tables[table_name]
        for name in names:
            if name not in present:  # databases made before migration 4
                kind = table.c[name].type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {name} {kind}"))
    metadata.create_all(conn, tables=[metadata.tables[n] for n in V4_TABLES])


def _migration_5(conn: Connection) -> None:
    """Task acknowledgements and answers, per-district settings, and the index the
    pull feed's visit page reads (visit records of some grids after a sequence)."""
    metadata.create_all(conn, tables=[metadata.tables[n] for n in V5_TABLES])
    conn.execute(text("CREATE INDEX ix_records_kind_grid ON records (kind, grid_id, seq)"))


def _migration_6(conn: Connection) -> None:
    """Households: when the centre first knew them (quota due dates on devices)."""
    present = {c["name"] for c in inspect(conn).get_columns("households")}
    if "registered_at" not in present:  # databases made before migration 6
        kind = households.c.registered_at.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE households ADD COLUMN registered_at {kind}"))


SEQ_COLUMNS = (
    ("households", "updated_seq"), ("tasks", "updated_seq"),
    ("sync_ops", "seq"), ("records", "seq"), ("household_fields", "seq"),
    ("conflicts", "created_seq"), ("conflicts", "updated_seq"),
    ("member_state", "updated_seq"), ("member_fields", "seq"), ("task_responses", "seq"),
    ("settings", "updated_seq"), ("counters", "value"), ("events", "updated_seq"),
)


def _migration_7(conn: Connection) -> None:
    """The change feed without a single counter row on PostgreSQL (see
    :func:`next_seq`): 64-bit sequence numbers, and the offset that puts every new
    number above every number handed out by the counter before."""
    if conn.dialect.name != "postgresql":
        return  # SQLite: INTEGER is 64-bit already, and the counter stays
    for table_name, column in SEQ_COLUMNS:
        kind = conn.execute(text(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = :t AND column_name = :c"), {"t": table_name, "c": column}
        ).scalar()
        if kind is not None and kind != "bigint":
            conn.execute(text(f"ALTER TABLE {table_name} ALTER COLUMN {column} TYPE BIGINT"))
    last = int(conn.execute(select(counters.c.value).where(
        counters.c.name == "change_seq")).scalar() or 0)
    xid = int(conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar() or 0)
    offset = max(0, (last >> SEQ_SHIFT) + 1 - xid)
    conn.execute(counters.insert().values(name=TXID_OFFSET, value=offset))


def _migration_8(conn: Connection) -> None:
    """Photo uploads per (photo, device), so no device can block another's upload of a
    photo; which devices hold each photo; the index the per-device photo quota reads.
    Uploads in progress start again at byte 0 (their partial files expire)."""
    conn.execute(text("DROP TABLE IF EXISTS photo_uploads"))
    metadata.create_all(conn, tables=[photo_uploads, photo_holders])
    conn.execute(text("INSERT INTO photo_holders (sha256, device_id, received_at)"
                      " SELECT sha256, device_id, received_at FROM photos"))
    conn.execute(text("CREATE INDEX ix_photos_device ON photos (device_id, received_at)"))


def _migration_9(conn: Connection) -> None:
    """Drop ix_records_grid: every query of records by grid names the kind too
    (ix_records_kind_grid), so it only made every stored record cost one more index."""
    conn.execute(text("DROP INDEX IF EXISTS ix_records_grid"))


def _migration_10(conn: Connection) -> None:
    """The centre's command key and the signed commands waiting for devices."""
    metadata.create_all(conn, tables=[server_keys, device_commands])


def _migration_11(conn: Connection) -> None:
    """Audit chain anchors from devices, PIN recovery shares, and revocation that lets
    a device upload first."""
    metadata.create_all(conn, tables=[audit_anchors, recovery_shares])
    present = {c["name"] for c in inspect(conn).get_columns("devices")}
    if "upload_until" not in present:  # databases made before migration 11
        kind = devices.c.upload_until.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE devices ADD COLUMN upload_until {kind}"))


def _migration_12(conn: Connection) -> None:
    """Data at rest: the sensitive columns sealed in place with a key kept outside the
    database (central.atrest; the key file is made if there is none yet), ID-number
    blind indexes, the photo a photo.meta names beside its sealed payload, the key
    checks, and the append-only operator audit. One transaction: all or nothing (and
    :func:`migrate` keeps a sealed backup first when there was data)."""
    ring = keyring(conn)
    if not ring.provider.exists():
        ring.create()
    ring.keyset()  # a malformed key file stops here, before anything changes
    postgres = conn.dialect.name == "postgresql"
    existing = set(inspect(conn).get_table_names())
    if postgres:
        for table_name, names in _WIDENED.items():
            if table_name not in existing:  # a migration not applied yet makes it as TEXT
                continue
            for name in names:
                conn.execute(text(f"ALTER TABLE {table_name} ALTER COLUMN {name} TYPE TEXT"))
    added = {"households": ("id_number_bidx",), "members": ("id_number_bidx",),
             "records": ("photo_sha256",)}
    for table_name, names in added.items():
        present = {c["name"] for c in inspect(conn).get_columns(table_name)}
        for name in names:
            if name not in present:  # databases made before migration 12
                kind = metadata.tables[table_name].c[name].type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {name} {kind}"))
    conn.execute(text("CREATE INDEX ix_households_id_bidx ON households (id_number_bidx)"))
    conn.execute(text("CREATE INDEX ix_members_id_bidx ON members (id_number_bidx)"))
    metadata.create_all(conn, tables=[key_checks, operator_audit])
    if postgres:
        conn.execute(text(
            "CREATE FUNCTION operator_audit_append_only() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'operator_audit is append-only'; END $$"))
        conn.execute(text(
            "CREATE TRIGGER operator_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE"
            " ON operator_audit FOR EACH STATEMENT"
            " EXECUTE FUNCTION operator_audit_append_only()"))
    else:
        for action in ("UPDATE", "DELETE"):
            conn.execute(text(
                f"CREATE TRIGGER operator_audit_no_{action.lower()} BEFORE {action}"
                " ON operator_audit BEGIN"
                " SELECT RAISE(ABORT, 'operator_audit is append-only'); END"))
    add_key_check(conn, ring.current_id)
    while reseal(conn, ring.current_id, batch=5000):
        pass


def _migration_13(conn: Connection) -> None:
    """Review access (issue 13): reviews of visits and patrols, patrols gathered from
    their records for the review feed, and each device's place in that feed.

    This transaction changes the schema only: the tables, the two device columns, and
    a temporary partial index of the patrol records by feed number. What was stored
    before (every enrolled device, every patrol in ``records``) is gathered afterwards
    by two backfills, ``13.devices`` and ``13.patrols`` (:data:`BACKFILLS`), registered
    here and run by :func:`migrate` right after, in batches of a few hundred rows, each
    batch its own transaction that also records how far it got (``backfills``). So a
    centre with 50,000 devices and millions of patrol records never holds them in
    memory at once, and no transaction takes more than a batch of feed numbers (on
    PostgreSQL at most 2**SEQ_SHIFT per transaction, see :func:`next_seq`). Interrupted
    (power, Ctrl-C, a full disk), the batch under way rolls back and the next
    ``central init`` or ``central serve`` start-up resumes after the last one committed;
    the end result is the same as an uninterrupted run's (feed numbers aside).

    Why the feed loses nothing meanwhile: every batch takes its numbers with
    :func:`next_seq` in its own transaction, so each lies above every number handed out
    before it commits (SQLite: the counter, under the write lock; PostgreSQL: a later
    transaction id, and :func:`feed_watermark` keeps a pull below any transaction still
    running). A device not numbered yet is in no page, and appears once it is; a patrol
    whose records straddle two batches is sent once half-built and again, complete,
    with a higher number. ``central serve`` finishes the backfills before it listens."""
    metadata.create_all(conn, tables=[reviews, patrols, backfills])
    present = {c["name"] for c in inspect(conn).get_columns("devices")}
    for name in ("feed_seq", "contact_sent"):
        if name not in present:
            kind = devices.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE devices ADD COLUMN {name} {kind}"))
    conn.execute(text("CREATE INDEX ix_devices_feed ON devices (feed_seq)"))
    from central import reviews as review_ops

    review_ops.create_backfill_index(conn)
    now = now_iso()
    for name in ("13.devices", "13.patrols"):
        conn.execute(backfills.insert().values(name=name, position=None, rows_done=0,
                                               started_at=now))


def _backfill_devices(conn: Connection, position: int | None, batch: int
                      ) -> tuple[int | None, int]:
    """Migration 13: a place in the review feed for up to ``batch`` devices that have
    none yet (enrolled before it; a device enrolled since got one at enrollment)."""
    ids = [str(r[0]) for r in conn.execute(
        select(devices.c.id).where(devices.c.feed_seq.is_(None))
        .order_by(devices.c.id).limit(batch))]
    if ids:
        last = next_seq(conn, len(ids))
        conn.execute(update(devices).where(devices.c.id == bindparam("k_id"),
                                           devices.c.feed_seq.is_(None))
                     .values(feed_seq=bindparam("v_seq")),
                     [{"k_id": i, "v_seq": last - len(ids) + 1 + n} for n, i in enumerate(ids)])
    return position, len(ids)


def _backfill_patrols(conn: Connection, position: int | None, batch: int
                      ) -> tuple[int | None, int]:
    from central import reviews as review_ops

    return review_ops.backfill_patrols(conn, position, batch)


BACKFILL_BATCH = 500  # rows (devices, patrol records, review records) per transaction


def pending_backfills(conn: Connection) -> list[str]:
    """Backfills registered by a migration and not finished yet, in order."""
    if not inspect(conn).has_table("backfills"):
        return []
    names = {str(r.name) for r in conn.execute(
        select(backfills.c.name).where(backfills.c.finished_at.is_(None)))}
    return [name for name in BACKFILLS if name in names]


def run_backfills(engine: Engine, batch: int = BACKFILL_BATCH,
                  on_batch: Callable[[str, int], None] | None = None) -> int:
    """Run every pending backfill to its end, ``batch`` rows per transaction; returns
    the rows done. Each batch takes the write lock (SQLite) or the advisory lock
    ``backfill`` (PostgreSQL: two servers starting at once take turns), reads where its
    backfill stands, does the next batch and records the new position, all in one
    transaction. ``on_batch(name, rows)`` is called in that transaction before it
    commits (an exception there rolls the batch back and stops). Resumable anywhere."""
    with engine.connect() as conn:
        names = pending_backfills(conn)
    total = 0
    for name in names:
        step = BACKFILLS[name]
        while True:
            with engine.begin() as conn, local_seq(conn):
                lock_writer(conn, "backfill")
                state = conn.execute(select(backfills).where(backfills.c.name == name)
                                     ).mappings().first()
                if state is None or state["finished_at"] is not None:
                    break  # another server finished it meanwhile
                position, rows = step(conn, state["position"], batch)
                conn.execute(update(backfills).where(backfills.c.name == name).values(
                    position=position, rows_done=int(state["rows_done"]) + rows,
                    finished_at=None if rows else now_iso()))
                if on_batch is not None:
                    on_batch(name, rows)
            total += rows
            if not rows:
                break
    return total


def _migration_14(conn: Connection) -> None:
    """Review figures: households' known positions, and the columns the monthly report
    (``central report``) selects records by: when a visit, patrol or event report
    happened, the visited household and whether the visit counts.

    This transaction changes the schema only: the columns, their indexes, and a
    temporary partial index of the visit, patrol-report and event-report records by
    feed number (:data:`REVIEW_BACKFILL_INDEX`). The records stored before get their
    columns afterwards from their (sealed) payloads, by the backfill ``14.records``
    (:data:`BACKFILLS`, run by :func:`migrate` right after, or by ``central serve``
    before it listens): in feed-number order, a batch of a few hundred records per
    transaction, each opened through the column's type and updated, with the last
    number done kept in ``backfills`` in the same transaction. So a city's centre with
    millions of visits holds a batch of payloads at a time, never one huge transaction;
    interrupted, the batch under way rolls back and the next run resumes after the last
    one committed, to the same columns an uninterrupted run writes. Records stored
    meanwhile get their columns when inserted (the columns' defaults).

    Until ``14.records`` is finished, ``central report`` reads the payloads of the
    records not filled yet (:func:`review_unfilled_after`) instead of their columns,
    so its figures are those of a finished backfill at any moment."""
    for table_name, names in {"households": ("lat", "lon"),
                              "records": ("happened_at", "household_id", "counted")}.items():
        present = {c["name"] for c in inspect(conn).get_columns(table_name)}
        for name in names:
            if name not in present:
                kind = metadata.tables[table_name].c[name].type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {name} {kind}"))
    for index in ("ix_records_happened", "ix_records_visit_household"):
        next(i for i in records.indexes if i.name == index).create(conn, checkfirst=True)
    metadata.create_all(conn, tables=[backfills])  # there since 13 (unless a gap)
    conn.execute(text(f"CREATE INDEX {REVIEW_BACKFILL_INDEX} ON records (seq)"
                      f" WHERE {_REVIEW_RECORDS}"))
    if conn.dialect.name == "postgresql":  # fresh statistics: the planner walks the index
        conn.execute(text("ANALYZE records"))
    conn.execute(backfills.insert().values(name="14.records", position=None, rows_done=0,
                                           started_at=now_iso()))


FLEET_COLUMNS = ("app_version", "protocol_level", "update_channel", "pending_ops",
                 "photos_waiting", "photo_bytes", "secret_store", "status_at")


def _migration_16(conn: Connection) -> None:
    """The fleet view: each device's app version and protocol level (from its signed
    requests) and the status it reports (update channel, ops and photo bytes waiting,
    where its device secret is kept). Nullable columns added to ``devices``: no row is
    rewritten, nothing to backfill (a device fills them at its next sync; until then
    they are unknown), one short transaction."""
    present = {c["name"] for c in inspect(conn).get_columns("devices")}
    for name in FLEET_COLUMNS:
        if name not in present:
            kind = devices.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE devices ADD COLUMN {name} {kind}"))


def _migration_17(conn: Connection) -> None:
    """Grid boundaries from the centre (``central grids set-boundary``; pull kind
    ``grid``): a new table, nothing existing changes."""
    metadata.create_all(conn, tables=[grid_boundaries])


def _migration_18(conn: Connection) -> None:
    """State the server processes share (``central serve --workers``): first-pull
    snapshots and rate-limit buckets. Two new tables, UNLOGGED on PostgreSQL (a cache
    and counters: no WAL write per request, nothing worth keeping after a crash)."""
    metadata.create_all(conn, tables=[pull_snapshots, rate_buckets])
    if conn.dialect.name == "postgresql":
        for name in SHARED_TABLES:
            conn.execute(text(f"ALTER TABLE {name} SET UNLOGGED"))
        # a snapshot is gzip'd and sealed already: not worth PostgreSQL's compressing
        conn.execute(text("ALTER TABLE pull_snapshots ALTER COLUMN body SET STORAGE EXTERNAL"))


def _migration_19(conn: Connection) -> None:
    """Photos in the database for servers on several machines (``central serve
    --photo-store database``): a new table; photos on disk stay where they are."""
    metadata.create_all(conn, tables=[photo_blobs])
    if conn.dialect.name == "postgresql":
        # sealed bytes do not compress: stored out of line as they are
        conn.execute(text("ALTER TABLE photo_blobs ALTER COLUMN data SET STORAGE EXTERNAL"))


# Migration 14's backfill walks the review records by feed number through a partial
# index that lives while it runs (kept, it would cost every record stored later). The
# query names the kinds as the index does, literally, so SQLite and PostgreSQL both see
# that it applies (and SQLite is told to use it: ``INDEXED BY``).
REVIEW_BACKFILL_INDEX = "ix_records_review_backfill"
_REVIEW_RECORDS = "kind IN ('visit.create', 'patrol.report', 'event.report')"
assert _REVIEW_RECORDS == "kind IN (" + ", ".join(f"'{k}'" for k in REVIEW_TIMES) + ")"


def _backfill_query(conn: Connection, index: str, kinds: str, columns: list[Any],
                    condition: str, limit: int | None) -> Any:
    """The records of ``kinds`` (an SQL condition naming them as the partial ``index``
    does, literally, so both databases see that it applies; SQLite is told to use it)
    meeting ``condition``, by feed number: ``columns`` of them."""
    source = "records"
    if conn.dialect.name == "sqlite":
        source += f" INDEXED BY {index}"
    sql = (f"SELECT {', '.join(c.name for c in columns)} FROM {source}"
           f" WHERE {kinds} AND {condition} ORDER BY seq")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return text(sql).columns(*columns)


def _backfill_batch(conn: Connection, index: str, kinds: str, columns: list[Any],
                    position: int | None, batch: int) -> list[Any] | None:
    """The next ``batch`` records of a backfill walking ``index`` after feed number
    ``position``. Records sharing a number are never split between two batches (more
    than a batch of them: all at once). None when none is left: the temporary index is
    dropped then."""
    after = -1 if position is None else position
    rows = conn.execute(_backfill_query(conn, index, kinds, columns, "seq > :after",
                                        batch + 1), {"after": after}).all()
    if not rows:
        conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
        return None
    if len(rows) > batch:
        boundary = int(rows[batch].seq)
        rows = [x for x in rows if int(x.seq) < boundary]
        if not rows:
            rows = conn.execute(_backfill_query(conn, index, kinds, columns, "seq = :at",
                                                None), {"at": boundary}).all()
    return list(rows)


def _backfill_review_columns(conn: Connection, position: int | None, batch: int
                             ) -> tuple[int | None, int]:
    """Migration 14: the review columns of the next ``batch`` visit, patrol-report and
    event-report records after feed number ``position``, from their payloads; returns
    the batch's last number and how many records it read (:func:`_backfill_batch`)."""
    r = records.c
    rows = _backfill_batch(conn, REVIEW_BACKFILL_INDEX, _REVIEW_RECORDS,
                           [r.kind, r.id, r.payload, r.seq, r.happened_at, r.household_id,
                            r.counted], position, batch)
    if rows is None:
        return position, 0
    changed = []
    for row in rows:
        values = review_columns(str(row.kind), row.payload)
        if values != (row.happened_at, row.household_id, row.counted):  # not stored since
            changed.append({"k_kind": row.kind, "k_id": row.id, "v_happened": values[0],
                            "v_household": values[1], "v_counted": values[2]})
    if changed:
        conn.execute(update(records).where(records.c.kind == bindparam("k_kind"),
                                           records.c.id == bindparam("k_id"))
                     .values(happened_at=bindparam("v_happened"),
                             household_id=bindparam("v_household"),
                             counted=bindparam("v_counted")), changed)
    return int(rows[-1].seq), len(rows)


def review_unfilled_after(conn: Connection) -> int | None:
    """Where migration 14's backfill stands, for a reader of the review columns: None
    when every record has them (finished, or never needed); else a feed number such
    that a record whose ``happened_at`` is NULL and whose number is above it may not
    have been filled yet (its payload says). Read before the records it guards: the
    position only grows, so an older one only makes the reader open more payloads."""
    return _unfinished_at(conn, "14.records")


def _migration_15(conn: Connection) -> None:
    """Households' known positions for the households registered before migration 14.

    Migration 14 added ``households.lat``/``lon`` and a push fills them from then on
    (a ``household.create`` that says where the household lives); the households
    stored before kept them empty, so the review's far-from-home check could not judge
    a visit to them. Their positions are in the sealed payloads of their
    ``household.create`` records (a ``household.update`` cannot carry one:
    :data:`sync.protocol.HOUSEHOLD_FIELDS`). This transaction only registers the
    backfill ``15.positions`` (:data:`BACKFILLS`) and the temporary partial index it
    walks those records by (:data:`POSITION_BACKFILL_INDEX`); the backfill then runs
    as 14's does: a batch of records per transaction with its position in
    ``backfills``, resumed after an interruption by ``central init`` or ``central
    serve`` before it listens. A household it gives a position gets a new feed
    number, so the devices of its grid pull the position too (their own
    far-from-home check). Until it is finished, ``central report`` reads the
    payloads of the households not filled yet (:func:`positions_unfilled_after`)."""
    conn.execute(text(f"CREATE INDEX {POSITION_BACKFILL_INDEX} ON records (seq)"
                      f" WHERE {_HOUSEHOLD_RECORDS}"))
    if conn.dialect.name == "postgresql":  # fresh statistics: the planner walks the index
        conn.execute(text("ANALYZE records"))
    metadata.create_all(conn, tables=[backfills])  # there since 13 (unless a gap)
    conn.execute(backfills.insert().values(name="15.positions", position=None, rows_done=0,
                                           started_at=now_iso()))


POSITION_BACKFILL_INDEX = "ix_records_position_backfill"
_HOUSEHOLD_RECORDS = "kind = 'household.create'"


def household_position(payload: Any) -> tuple[float, float] | None:
    """The known position a ``household.create`` payload gives (WGS-84 degrees, both
    in range), or None."""
    if not isinstance(payload, dict):
        return None
    lat, lon = payload.get("lat"), payload.get("lon")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lat, lon)):
        return None
    assert isinstance(lat, int | float) and isinstance(lon, int | float)
    if not (math.isfinite(lat) and math.isfinite(lon)
            and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return float(lat), float(lon)


def _backfill_household_positions(conn: Connection, position: int | None, batch: int
                                  ) -> tuple[int | None, int]:
    """Migration 15: the next ``batch`` ``household.create`` records after feed number
    ``position``; each whose payload gives a position fills its household's
    ``lat``/``lon`` when both are empty (a position stored since is kept) and moves
    the household in the feed. Returns the batch's last number and how many records
    it read (:func:`_backfill_batch`)."""
    r = records.c
    rows = _backfill_batch(conn, POSITION_BACKFILL_INDEX, _HOUSEHOLD_RECORDS,
                           [r.id, r.payload, r.seq], position, batch)
    if rows is None:
        return position, 0
    found = {str(row.id): place for row in rows
             if (place := household_position(row.payload)) is not None}
    h = households.c
    empty = sorted(str(r[0]) for r in conn.execute(
        select(h.id).where(h.id.in_(sorted(found)), h.lat.is_(None), h.lon.is_(None)))
        ) if found else []
    if empty:
        last = next_seq(conn, len(empty))
        conn.execute(update(households).where(households.c.id == bindparam("k_id"),
                                              households.c.lat.is_(None),
                                              households.c.lon.is_(None))
                     .values(lat=bindparam("v_lat"), lon=bindparam("v_lon"),
                             updated_seq=bindparam("v_seq")),
                     [{"k_id": hid, "v_lat": found[hid][0], "v_lon": found[hid][1],
                       "v_seq": last - len(empty) + 1 + n} for n, hid in enumerate(empty)])
    return int(rows[-1].seq), len(rows)


def _unfinished_at(conn: Connection, name: str) -> int | None:
    """Where backfill ``name`` stands: None when finished or never registered, else the
    last feed number it did (-1: none yet)."""
    if not inspect(conn).has_table("backfills"):
        return None
    state = conn.execute(select(backfills.c.position, backfills.c.finished_at)
                         .where(backfills.c.name == name)).first()
    if state is None or state.finished_at is not None:
        return None
    return -1 if state.position is None else int(state.position)


def positions_unfilled_after(conn: Connection) -> int | None:
    """Where migration 15's backfill stands, for a reader of households' positions:
    None when it is finished (or was never needed); else a feed number such that a
    household whose position is empty and whose ``household.create`` record is
    numbered above it may have one still in the payload. Read before the households:
    the position only grows, so an older one only makes the reader open more."""
    return _unfinished_at(conn, "15.positions")


# A backfill step: (conn, position, batch) -> (new position, rows done); 0 rows: done.
BackfillStep = Callable[[Connection, int | None, int], tuple[int | None, int]]
BACKFILLS: dict[str, BackfillStep] = {
    "13.devices": _backfill_devices,
    "13.patrols": _backfill_patrols,
    "14.records": _backfill_review_columns,
    "15.positions": _backfill_household_positions,
}


def add_key_check(conn: Connection, key_id: str) -> None:
    if conn.execute(select(key_checks.c.key_id).where(key_checks.c.key_id == key_id)).first():
        return
    conn.execute(key_checks.insert().values(
        key_id=key_id, check_value=keyring(conn).seal(KEY_CHECK_TEXT, KEY_CHECK_AD),
        created_at=now_iso()))


def check_keys(conn: Connection) -> None:
    """Raise AtRestError unless the ring opens every key this database's data is
    sealed with (a database before migration 12 needs none)."""
    if not inspect(conn).has_table("key_checks"):
        return
    ring = keyring(conn)
    rows = conn.execute(select(key_checks.c.key_id, key_checks.c.check_value)
                        .where(key_checks.c.retired_at.is_(None))).all()
    if not rows:
        return
    try:
        keyset = ring.keyset()
    except AtRestError as exc:
        raise AtRestError(f"this database holds sealed data and its keys are missing: {exc}; "
                          "give the key file with --key-file or GRIDFIELD_CENTRAL_KEY_FILE"
                          ) from exc
    for key_id, check in rows:
        if ring.open(str(check), KEY_CHECK_AD) != KEY_CHECK_TEXT:
            raise AtRestError(f"key {key_id} does not open this database's key check")
    if keyset.current not in {r[0] for r in rows}:
        raise AtRestError(
            f"the current key {keyset.current} of {ring.provider.describe()} was never "
            "registered with this database (another database's key file?)")


def _sealed_filter(column: Any, key_id: str) -> Any:
    """Rows of ``column`` not yet sealed under ``key_id`` (a JSON column holds its
    sealed text as a JSON string; JSON null and SQL NULL need nothing)."""
    if isinstance(column.type, SealedJSON):
        text_of = cast(column, Text)
        return (text_of.is_not(None) & (text_of != "null")
                & text_of.not_like(f'"{PREFIX}{key_id}:%'))
    raw = type_coerce(column, Text)
    return raw.is_not(None) & raw.not_like(f"{PREFIX}{key_id}:%")


def reseal(conn: Connection, key_id: str, batch: int = 500,
           tables: tuple[str, ...] | None = None) -> int:
    """Seal under ``key_id`` up to ``batch`` rows per table whose sealed columns are in
    the clear or under another key (their blind indexes and photo hashes too); returns
    how many rows it rewrote. Resumable: run until it returns 0."""
    done = 0
    existing = set(inspect(conn).get_table_names())
    for table_name in tables or tuple(SEALED_COLUMNS):
        if table_name not in existing:  # its migration not applied yet (a gap)
            continue
        table = metadata.tables[table_name]
        names = SEALED_COLUMNS[table_name]
        pk = list(table.primary_key.columns)
        stale = or_(*(_sealed_filter(table.c[n], key_id) for n in names))
        rows = conn.execute(
            select(*pk, *(table.c[n] for n in names)).where(stale).limit(batch)
        ).mappings().all()
        if not rows:
            continue
        extra: list[str] = []
        if "id_number" in names:
            extra.append("id_number_bidx")
        if table_name == "records":
            extra.append("photo_sha256")
        statement = (
            update(table)
            .where(*(c == bindparam(f"k_{c.name}") for c in pk))
            .values({n: bindparam(f"v_{n}", type_=table.c[n].type) for n in (*names, *extra)})
        )
        ring = keyring(conn)
        params = []
        for r in rows:
            item = {f"k_{c.name}": r[c.name] for c in pk}
            item.update({f"v_{n}": r[n] for n in names})
            if "id_number_bidx" in extra:
                item["v_id_number_bidx"] = ring.index(r["id_number"])
            if "photo_sha256" in extra:
                payload = r["payload"]
                sha = payload.get("sha256") if isinstance(payload, dict) else None
                item["v_photo_sha256"] = (str(sha).lower()[:64] if r["kind"] == "photo.meta"
                                          and isinstance(sha, str) else None)
            params.append(item)
        conn.execute(statement, params)
        done += len(rows)
    return done


def stale_rows(conn: Connection, key_id: str) -> int:
    """How many rows still hold a value not sealed under ``key_id``."""
    total = 0
    existing = set(inspect(conn).get_table_names())
    for table_name, names in SEALED_COLUMNS.items():
        if table_name not in existing:
            continue
        table = metadata.tables[table_name]
        stale = or_(*(_sealed_filter(table.c[n], key_id) for n in names))
        total += int(conn.execute(select(func.count()).select_from(table).where(stale))
                     .scalar() or 0)
    return total


def _has_sealable_data(engine: Engine) -> bool:
    with engine.connect() as conn:
        existing = set(inspect(conn).get_table_names())
        return any(conn.execute(select(text("1")).select_from(text(name)).limit(1)).first()
                   for name in SEALED_COLUMNS if name in existing)


def backup_before(engine: Engine, number: int) -> Path | None:
    """A backup of the database before migration ``number``, sealed with the database's
    key (it holds the data in the clear): SQLite the whole file, PostgreSQL the rows of
    every table a migration may rewrite. Kept beside the key file, 0600; None when the
    database holds no such data (nothing to lose)."""
    if not _has_sealable_data(engine):
        return None
    ring = keyring(engine)
    if not ring.provider.exists():
        ring.create()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = sqlite_path(str(engine.url))
    if path is not None:
        import sqlite3

        memory = sqlite3.connect(":memory:")
        source = sqlite3.connect(path)
        try:
            source.backup(memory)
            pieces: list[bytes] = [memory.serialize()]
        finally:
            source.close()
            memory.close()
        target = Path(f"{path}.pre-{number}-{stamp}.bak.sealed")
    else:
        dump: dict[str, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
            for name in (n for n in SEALED_COLUMNS if n in existing):
                raw = Table(name, MetaData(), autoload_with=conn)
                dump[name] = [{k: v for k, v in r.items()}
                              for r in conn.execute(select(raw)).mappings()]
        pieces = [json.dumps(dump, ensure_ascii=False, default=str).encode()]
        keys_dir = getattr(ring.provider, "path", Path("central-keys.json")).parent
        target = keys_dir / f"central-{engine.url.database}.pre-{number}-{stamp}.json.sealed"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        write_sealed(ring, fh, f"backup:{target.name}", iter(pieces))
        fh.flush()
        os.fsync(fh.fileno())
    return target


def compact(engine: Engine) -> None:
    """Rewrite the database so no page keeps a value from before it was sealed:
    SQLite VACUUM and an emptied WAL; PostgreSQL VACUUM FULL of the sealed tables."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            existing = set(inspect(conn).get_table_names())
            for name in (n for n in SEALED_COLUMNS if n in existing):
                conn.execute(text(f"VACUUM FULL {name}"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM"))
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


# migrations that keep a backup before they run, and compact the database after
_BACKUP_FIRST = frozenset({12})


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _migration_1),
    (2, _migration_2),
    (3, _migration_3),
    (4, _migration_4),
    (5, _migration_5),
    (6, _migration_6),
    (7, _migration_7),
    (8, _migration_8),
    (9, _migration_9),
    (10, _migration_10),
    (11, _migration_11),
    (12, _migration_12),
    (13, _migration_13),
    (14, _migration_14),
    (15, _migration_15),
    (16, _migration_16),
    (17, _migration_17),
    (18, _migration_18),
    (19, _migration_19),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    value = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(value or 0)


def applied_versions(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("schema_version"):
        return set()
    versions: list[int] = list(conn.execute(select(schema_version.c.version)).scalars())
    return set(versions)


def pending_versions(conn: Connection) -> list[int]:
    """Migrations not applied yet, in order. Every one missing counts, not only those
    above the highest applied: numbers may have gaps (a migration numbered while
    another was being written), and one filling a gap later still runs."""
    done = applied_versions(conn)
    return [number for number, _ in MIGRATIONS if number not in done]


def migrate(engine: Engine, backfill_batch: int = BACKFILL_BATCH,
            on_batch: Callable[[str, int], None] | None = None) -> tuple[int, int]:
    """Apply pending migrations (:func:`pending_versions`), in order, each in its own
    transaction, then run the backfills they registered, or that an interrupted run
    left unfinished (:func:`run_backfills`: ``backfill_batch`` rows per transaction,
    ``on_batch`` as there). Returns (highest before, highest after)."""
    with engine.begin() as conn:
        metadata.create_all(conn, tables=[schema_version])
        before = current_version(conn)
        done = applied_versions(conn)
    version = before
    for number, step in MIGRATIONS:
        if number in done:
            continue
        if number in _BACKUP_FIRST:
            backup_before(engine, number)
        with engine.begin() as conn:
            step(conn)
            conn.execute(schema_version.insert().values(version=number, applied_at=now_iso()))
        if number in _BACKUP_FIRST:
            compact(engine)
        version = max(version, number)
    run_backfills(engine, backfill_batch, on_batch)
    return before, version


SEQ_SHIFT = 20  # PostgreSQL: low bits of a sequence number count within a transaction
TXID_OFFSET = "txid_offset"


def next_seq(conn: Connection, count: int = 1) -> int:
    """Reserve ``count`` change-feed sequence numbers; returns the last one.

    SQLite: one counter row (SQLite serialises writers anyway). PostgreSQL: no shared
    row at all, so writers never wait for each other: a number is the writing
    transaction's id (``pg_current_xact_id()``, plus a fixed offset) shifted left by
    :data:`SEQ_SHIFT` bits, plus a count within the transaction. Numbers of one
    transaction are consecutive; numbers of different transactions follow their ids,
    *not* their commit order: :func:`feed_watermark` is what keeps a reader from
    passing a number that can still commit.
    """
    local = conn.info.get(_LOCAL_SEQ)
    if local is not None:  # inside local_seq(): numbers handed out under the held lock
        local[0] += count
        return int(local[0])
    if conn.dialect.name == "postgresql":
        return _pg_next_seq(conn, count)
    value = conn.execute(_NEXT_SEQ, {"count": count}).scalar()
    return int(value or 0)


def seq_cursor(after: int) -> BindParameter[int]:
    """A device's feed cursor as a 64-bit bound parameter (the API takes cursors up to
    2**62; bound with an INTEGER column's type, as before migration 7, a larger cursor
    failed the query on PostgreSQL instead of finding nothing)."""
    return bindparam(None, after, type_=BigInteger())


_LOCAL_SEQ = "gridfield.local_seq"
_PG_SEQ = "gridfield.pg_seq"
_PG_OFFSET = "gridfield.pg_txid_offset"


def _txid_offset(conn: Connection) -> int:
    offset = conn.info.get(_PG_OFFSET)
    if offset is None:  # fixed since migration 7: read once per connection
        offset = int(conn.execute(select(counters.c.value).where(
            counters.c.name == TXID_OFFSET)).scalar() or 0)
        conn.info[_PG_OFFSET] = offset
    return int(offset)


def _pg_next_seq(conn: Connection, count: int) -> int:
    transaction = conn.get_transaction()
    state = conn.info.get(_PG_SEQ)
    if state is None or state[0] is not transaction:
        xid = int(conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar() or 0)
        state = [transaction, (xid + _txid_offset(conn)) << SEQ_SHIFT, 0]
        conn.info[_PG_SEQ] = state
    state[2] += count
    if state[2] >= 1 << SEQ_SHIFT:
        raise RuntimeError(f"more than {1 << SEQ_SHIFT} changes in one transaction")
    return int(state[1] + state[2])


def lock_key(conn: Connection, key: str) -> None:
    """PostgreSQL: a transaction-scoped advisory lock on ``key``, so work that must not
    interleave stays serial across server processes (``central serve --workers``).
    SQLite: nothing (one server process; the threads share the caller's own lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_ADVISORY_LOCK, {"key": key})


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def lock_writer(conn: Connection, key: str) -> None:
    """PostgreSQL: take the transaction-scoped advisory lock ``key`` and this
    transaction's sequence base in one round trip (the push path's first statement).
    SQLite: take the change counter (the database write lock). Inside a transaction."""
    if conn.dialect.name != "postgresql":
        next_seq(conn)
        return
    xid = int(conn.execute(_LOCK_AND_XID, {"key": key}).scalar() or 0)
    conn.info[_PG_SEQ] = [conn.get_transaction(), (xid + _txid_offset(conn)) << SEQ_SHIFT, 0]


_LOCK_AND_XID = text("SELECT pg_current_xact_id()::text::bigint"
                     " FROM pg_advisory_xact_lock(hashtextextended(:key, 0))")


def feed_watermark(conn: Connection) -> int | None:
    """The lowest sequence number a transaction that has not finished may still commit
    (PostgreSQL), read in the reader's snapshot: every number below it belongs to a
    transaction that has committed (and is in the snapshot) or rolled back. A pull
    hands out only numbers below it, so its cursor never passes a number that can still
    appear. Call it as the first statement of a REPEATABLE READ transaction (the
    snapshot is the transaction's). SQLite: None (writers commit in number order)."""
    if conn.dialect.name != "postgresql":
        return None
    xmin = int(conn.execute(text(
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar() or 0)
    return (xmin + _txid_offset(conn)) << SEQ_SHIFT


def watermark_of(xmin: int, offset: int) -> int:
    """PostgreSQL: :func:`feed_watermark` for a snapshot ``xmin`` and the counter
    :data:`TXID_OFFSET` read in another statement (e.g. along with a query that must
    share its snapshot)."""
    return (xmin + offset) << SEQ_SHIFT


@contextlib.contextmanager
def local_seq(conn: Connection) -> Iterator[None]:
    """SQLite: hand out sequence numbers in this process for the block: one counter
    UPDATE first (it takes SQLite's database write lock, held until the transaction
    ends), then plain increments, then one UPDATE writing the last number back: the
    numbers per-call :func:`next_seq` would give. PostgreSQL: nothing to do (numbers
    come from the transaction id, no lock). Use inside a transaction only."""
    if conn.dialect.name == "postgresql":
        yield
        return
    start = next_seq(conn, 0)
    local = [start]
    conn.info[_LOCAL_SEQ] = local
    try:
        yield
    finally:
        conn.info.pop(_LOCAL_SEQ, None)
    if local[0] != start:
        conn.execute(_NEXT_SEQ, {"count": local[0] - start})


# One statement, built once (UPDATE ... RETURNING: SQLite >= 3.35 and PostgreSQL); the
# push path calls it twice per op, so statement construction cost matters.
_NEXT_SEQ = (
    update(counters)
    .where(counters.c.name == "change_seq")
    .values(value=counters.c.value + bindparam("count", type_=Integer))
    .returning(counters.c.value)
)


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full" (also on ENOSPC)
_PG_DISK_FULL = "53100"  # disk_full (also ENOSPC while extending a file)


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's disk quota) is full: an OSError
    ENOSPC/EDQUOT, SQLite's SQLITE_FULL or PostgreSQL's disk_full, possibly wrapped by
    SQLAlchemy or behind an error it caused. Such a failure is the server's, never the
    request's."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if getattr(current, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if "database or disk is full" in str(current):
            return True
        # the cause, or the error this one was raised while handling (e.g. SQLite's
        # "no such savepoint" after it rolled a transaction back for a full disk)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)

