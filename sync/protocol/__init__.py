"""The gridfield wire protocol shared by the device (sync engine) and central/.

Request authentication (version 1)
----------------------------------
A device enrolls once: it makes an Ed25519 key pair, keeps the private key in its
vault and sends the raw 32-byte public key (base64) with a one-time enrollment code
to ``POST /api/v1/enroll``; the answer carries its device id. If that answer is
lost, the same code with the same key again (while the code is valid and the device
not revoked) answers the same device id and person; with any other key a used code is
refused (``401 enroll_code_used``). Attempts are limited per client address (``429``
with ``Retry-After``; a successful attempt does not count). From then on every
request carries four headers:

=============================  ==============================================
``X-Gridfield-Device``         the device id from enrollment
``X-Gridfield-Timestamp``      the device's Unix time in whole seconds
``X-Gridfield-Nonce``          16-64 characters of ``[A-Za-z0-9_-]``, never reused
``X-Gridfield-Signature``      base64 Ed25519 signature of the canonical string
=============================  ==============================================

The canonical string is UTF-8 text, lines joined by ``\\n``::

    gridfield-v1
    <METHOD, upper case>
    <path and query exactly as sent, e.g. /api/v1/households?grid=3>
    <timestamp>
    <nonce>
    <lower-case hex SHA-256 of the request body (empty body: SHA-256 of b"")>

The server rejects (401) a timestamp more than :data:`MAX_CLOCK_SKEW` seconds away
from its own clock and, for a state-changing request, a nonce it has already seen from
the device. No bearer secret exists: the private key never leaves the device.

Replay protection
~~~~~~~~~~~~~~~~~
A replayed request is refused when it changes something: ``POST``, ``PUT`` and
``DELETE`` (:func:`keeps_nonce`). The server keeps their nonces (durably, in the same
transaction as what the request writes) for twice :data:`MAX_CLOCK_SKEW`; an older
replay fails the timestamp check. Any request of a revoked device keeps its nonce
too: its answer (the signed wipe, sent exactly once) changes the device's row.

An idempotent ``GET`` of an active device keeps no nonce: that would be a durable
write per read, and nearly all of a city's traffic is devices asking "anything new?"
every few minutes. Replaying one inside the timestamp window gains an attacker
nothing:

* it changes nothing at the centre (a ``GET`` only reads; the last contact it notes
  is the device's own, at most :data:`MAX_CLOCK_SKEW` seconds later than true);
* its answer is only what the signing device may read, as of now: to replay the
  request at all one needs its signed headers, which travel inside TLS; a party that
  can read the device's TLS traffic already reads every answer the device gets, and
  sees the same data at its next sync anyway. A party that cannot read it cannot
  replay it;
* the path and query are signed, so a replay cannot ask for anything else, nor for
  another device's data, nor with another cursor;
* revocation is checked on every request, replayed or not, and a revoked device's
  ``GET`` keeps its nonce (above). A ``GET`` captured before the revocation and
  replayed after it may be the request answered ``410`` with the wipe; the device
  still erases itself, since every later answer to it (``401 revoked``) carries the
  same signed wipe command.

So signed headers must not be logged (a TLS-terminating proxy included): inside the
window such a log would let its reader fetch what the device may read. The property
holds with any number of server processes, since nothing about a ``GET`` is remembered
between requests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PROTOCOL_VERSION = "gridfield-v1"
API_PREFIX = "/api/v1"

HEADER_DEVICE = "X-Gridfield-Device"
HEADER_TIMESTAMP = "X-Gridfield-Timestamp"
HEADER_NONCE = "X-Gridfield-Nonce"
HEADER_SIGNATURE = "X-Gridfield-Signature"
AUTH_HEADERS = (HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)

MAX_CLOCK_SKEW = 300  # seconds; also the threshold for warning the user
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def keeps_nonce(method: str) -> bool:
    """Whether the server keeps (and refuses a second time) a request's nonce: a
    state-changing request (module docstring, "Replay protection"). Unknown methods
    count as state-changing."""
    return method.upper() not in ("GET", "HEAD", "OPTIONS")


def body_digest(body: bytes) -> str:
    """Lower-case hex SHA-256 of a request body."""
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The bytes a device signs for one request (see the module docstring)."""
    return "\n".join(
        [PROTOCOL_VERSION, method.upper(), path, str(timestamp), nonce, body_digest(body)]
    ).encode("utf-8")


def new_nonce() -> str:
    """A fresh random nonce (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def public_key_b64(private_key: Ed25519PrivateKey) -> str:
    """The raw public key of ``private_key``, base64, as sent at enrollment."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def decode_public_key(value: str) -> bytes:
    """Raw 32-byte Ed25519 public key from base64; ValueError when it is not one."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("public key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError("public key must be 32 bytes (raw Ed25519)")
    Ed25519PublicKey.from_public_bytes(raw)
    return raw


def sign_headers(
    private_key: Ed25519PrivateKey,
    device_id: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four authentication headers for one request."""
    ts = int(time.time()) if timestamp is None else timestamp
    n = new_nonce() if nonce is None else nonce
    signature = private_key.sign(canonical_request(method, path, ts, n, body))
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_NONCE: n,
        HEADER_SIGNATURE: base64.b64encode(signature).decode("ascii"),
    }


def verify_signature(
    public_key: bytes,
    signature_b64: str,
    method: str,
    path: str,
    timestamp: int,
    nonce: str,
    body: bytes,
) -> bool:
    """True when ``signature_b64`` is the device's signature of this request."""
    try:
        signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(signature, canonical_request(method, path, timestamp, nonce, body))
    except (binascii.Error, UnicodeEncodeError, ValueError, InvalidSignature):
        return False
    return True


def missing_headers(headers: Mapping[str, str]) -> list[str]:
    """Names of the authentication headers absent from ``headers`` (case-insensitive)."""
    present = {k.lower() for k in headers}
    return [h for h in AUTH_HEADERS if h.lower() not in present]


# =====================================================================================
# Sync wire format (version 1)
# =====================================================================================
"""Push, pull and the conflict rule.

Push: ``POST /api/v1/sync/push`` (signed), body :class:`PushRequest` (at most
:data:`MAX_PUSH_OPS` ops, applied in the order given)::

    {"ops": [{"op_id": "<client-made id>", "kind": "household.update",
              "record_id": "<record id>", "base_version": 3,
              "payload": {"fields": {"address": "人民路5号"}}}, ...]}

The answer, :class:`PushResponse`, has one :class:`OpResult` per op, same order::

    {"results": [{"op_id", "status", "reason", "version", "conflicts", "original"}],
     "server_time": "...Z", "unix_time": 1.7e9}

``status`` is one of

* ``applied``   the op took effect now;
* ``duplicate`` this op id was applied before (a retry): nothing happened again;
  ``original`` holds the result stored the first time (its ``status`` may be
  ``rejected``: the device then sets the op aside);
* ``conflict``  a ``household.update``, ``member.update`` or ``member.remove``
  that partly or wholly collided with another device's change (see the rule
  below); the op *is* recorded and
  fields that did not collide were applied; ``conflicts`` lists conflict ids;
* ``rejected``  refused for good (``reason``: a short code, e.g. ``invalid``,
  ``forbidden_grid``, ``unknown_record``, ``content_differs``, ``not_leader``,
  ``already_resolved``). The op id is recorded too, so a retry gets
  ``duplicate`` with the same original result. A rejected op never blocks the
  others: the device sets it aside (outbox state ``rejected``) and goes on.

* ``retry_later`` the server cannot apply this op *yet* (``reason``
  ``unsupported_kind``: a kind newer than the server). Nothing is recorded: the
  device keeps the op pending, goes on with the rest and offers it again at a later
  sync (after the server's upgrade it is applied like any other).

Every op is applied at most once: the server keeps each op id with its result.

Version skew: every request carries :data:`HEADER_PROTOCOL` (the device's
:data:`PROTOCOL_LEVEL`; absent = 1) and :data:`HEADER_APP_VERSION`; every answer
carries the server's level in :data:`HEADER_PROTOCOL` and the oldest it serves in
:data:`HEADER_MIN_PROTOCOL` (an older device gets ``426 upgrade_required``).
``GET /api/v1/health`` also lists the op and pull kinds the server knows. Fields a
receiver does not know are kept, not fatal: the server stores and forwards unknown
optional payload fields (bounded like every payload); the device keeps a pulled row
whose ``kind`` it does not know (raw, in its encrypted database) and applies it after
its own upgrade, and a row that fails locally is set aside (quarantined, shown on the
Sync page) while the rest of the page goes on.

Kinds (:data:`OP_KINDS`):

* Immutable (insert-only, :data:`IMMUTABLE_KINDS`): ``household.create``,
  ``visit.create``, ``event.report`` and the patrol kinds. ``payload`` is the
  record; it must carry ``grid_id`` (a grid of the device's worker). Same
  ``record_id`` with the same content (canonical JSON) = ``duplicate``; same id
  with different content = ``rejected`` (``content_differs``).
* ``event.report`` (immutable): ``record_id`` = event id (≤ 36), ``payload =
  {"id", "grid_id", "category" (≤ 20 characters, the class's Chinese name),
  "description" (1-5,000), "urgency": "normal" | "urgent" | "emergency" (一般/紧急/
  特急; absent = normal), "household_id"? (≤ 36), "address"? (≤ 200), "location"?
  {"lat", "lon", "accuracy_m", "at"} (WGS-84 degrees, Unix time), "photos": [photo
  ids] (≤ 20; the photos themselves go up as ``photo.meta`` plus blobs),
  "reported_at", "device_id", "source"? (e.g. ``{"kind": "patrol", "patrol_id",
  "item"}``)}``. A bad detail is ``rejected`` (``invalid``). The event opens in
  the closed loop as ``reported``.
* ``event.followup`` (immutable): the reporting worker's next step;
  ``record_id`` = follow-up id (≤ 36), ``payload = {"event_id", "kind":
  "supplement" | "verify", "outcome": "passed" | "failed" (verify only, else
  null), "text" (≤ 5,000), "photos": [photo ids], "location"?, "created_at"}``.
  No ``grid_id``: the event's grid must be one of the device's (unknown event:
  ``unknown_record``; other grid: ``forbidden_grid``). A verify needs at least
  one photo, a supplement text or a photo (``invalid``). Applied: a supplement on
  a ``returned`` event moves it to ``reported``; a verify on a ``resolved`` event
  moves it to ``verified`` (passed) or back to ``in_progress`` (failed); the text
  is the history note. When the event is no longer in the state the follow-up
  expects (the centre moved it meanwhile), the follow-up is still stored and
  added to the history as a note without a status change (``from_status`` =
  ``to_status``): the worker's text is never lost. Either way the history entry
  names the follow-up (``followup_id``) and the event moves in the pull feed.
* ``household.update``: ``base_version`` = the household version the device last
  pulled; ``payload = {"fields": {name: value}}`` with names from
  :data:`HOUSEHOLD_FIELDS`.
* ``household.tags``: ``payload = {"add": [...], "remove": [...]}`` (no
  ``base_version``). Tags are a set: the server removes, then adds (new tags go at
  the end, order otherwise kept), so two devices adding different tags both keep
  theirs; it never conflicts. The device turns a whole-list edit into the tags
  added and removed. A ``household.update`` carrying the whole ``tags`` list (older
  devices) still works, under the field rule below; both kinds count as a change of
  the field ``tags``.
* ``member.create`` (immutable, like the kinds above): ``record_id`` = member id,
  ``payload = {"household_id", "name", "relation", "id_number", "phone",
  "residence"}`` (:data:`MEMBER_FIELDS`; residence one of
  :data:`MEMBER_RESIDENCES`); no ``grid_id``: the grid is the household's, which
  must be one of the device's grids. A new member is at version 1.
* ``member.update``: ``record_id`` = member id, ``base_version`` = the member
  version the device last pulled, ``payload = {"fields": {name: value}}`` with names
  from :data:`MEMBER_FIELDS`: the same field rule and conflict records as
  households (the conflict's ``member_id`` is set, ``field`` is the member field).
* ``member.remove``: ``record_id`` = member id, ``base_version``, ``payload = {}``.
  The member leaves the household (the server keeps a tombstone with its last
  values); removing it again is ``applied`` with nothing changed.
* ``visit.create`` (immutable): ``record_id`` = visit id, ``payload`` = the visit
  (``household_id``, ``grid_id``, ``visit_type`` one of ``home``, ``phone``,
  ``revisit``, ``other``, ``visited_at`` Unix time, ``people_met``, ``situation``,
  ``needs``, ``follow_up``, ``follow_up_due``, ``photos`` (photo ids), position,
  ``corrects``, ``worker``, ``device_id``, ``training``). The household, when named,
  must be in one of the device's grids (``unknown_record`` / ``forbidden_grid``);
  texts at most 5,000 characters (``invalid``). Payloads of older clients
  (``people_met`` a number, an extra ``problems``) are accepted as sent.
* ``task.ack`` / ``task.answer`` (immutable): ``record_id`` = a new id per
  acknowledgement or answer; ``payload = {"task_id", "acknowledged_at"}`` or
  ``{"task_id", "text", "photos": [photo ids], "event_id"?, "answered_at"}`` (Unix
  times; an answer needs text, a photo or an event). No ``grid_id``: the task's
  grid must be one of the device's grids (``unknown_record``, ``forbidden_grid``).
  The server keeps them with the device and person; the same record sent again is
  a ``duplicate``.
* ``review.create`` (immutable): a grid leader's or supervisor's verdict on a worker's
  record, as ODK Central's review states. ``record_id`` = review id (≤ 36),
  ``payload = {"target_kind": "visit" | "patrol", "target_id", "state": "approved" |
  "has_issues" | "rejected", "comment" (≤ 5,000; required for ``has_issues``),
  "reviewed_at"}``. No ``grid_id``: the target's grid must be one of the device's
  (``unknown_record`` / ``forbidden_grid``). Only roles :data:`REVIEWER_ROLES` review
  (a worker's device: ``not_reviewer``), never their own record (``own_record``). A
  supervisor's device writes nothing else (``read_only``). Reviews are never edited: a
  new verdict is a new review, the latest (by ``reviewed_at``) is the record's state.
* ``conflict.resolve``: ``record_id`` = conflict id, ``payload = {"choice":
  "kept" | "other"}``; only a grid leader (role ``leader``) of the household's
  grid may resolve; a conflict is resolved once (later ones: ``already_resolved``).
  Choosing ``other`` applies only while the field still holds the value it had when
  the conflict arose; when it has changed since, the decision is refused as
  ``stale`` (the conflict stays open, the device shows the household's current value)
  so a decision made on old facts never overwrites a newer value.

Schemas: every kind's payload has one schema in :mod:`sync.protocol.schemas` (published in
``/openapi.json`` as ``Op_<kind>``, pulled rows as ``Pull_<kind>``); a payload that
does not fit is ``rejected`` (``invalid``, ``detail`` names the field). References
must stay inside the device's grids (``forbidden_grid`` otherwise): an event's or a
visit's ``household_id``, a follow-up's event, a task answer's ``event_id``, and every
photo id a record names (a photo another grid's device described with ``photo.meta``).

Per-op isolation: each op is applied in its own savepoint, and whatever it raises is
that op's answer (``rejected``, reason ``invalid``), never the batch's; only lock
contention answers the whole request 503. Every payload is checked first: nesting at
most 8 levels, text valid Unicode without NUL, numbers finite, grid ids whole
numbers (an int or a string of digits), so nothing stored can break a reader later.

Conflict rule (deterministic, no value ever lost). The server keeps, for every
household field, the server sequence number, the version and the device of its
last change. A field in an update *collides* when it was changed on the server
after ``base_version`` by a different device and the values differ. Then **the
change that reached the server first stays** and the later value is stored in a
conflict record (household, field, kept value, other value, both devices and
people, server sequence). Fields that do not collide merge. The grid leader
settles the conflict with ``conflict.resolve``: ``other`` writes the other value
to the household (a new version), ``kept`` leaves it. Both are synced to every
device of the grid through the pull feed. Device clocks play no part.

Members follow the same rule, per member field, with a member version of their
own. Removal against an edit (field ``removed``, :data:`REMOVED_FIELD`), again
first to the server wins and the loser is a conflict record:

* a ``member.remove`` arriving after another device changed a member field past
  its ``base_version``: **the edit stays**, the member is not removed, and the
  conflict says ``kept_value: false, other_value: true``; the leader's ``other``
  removes the member after all;
* a ``member.update`` arriving after the member was removed: **the removal
  stays**, the whole edit is kept in the conflict (``kept_value: true,
  other_value: {"fields": {...}}``); the leader's ``other`` brings the member back
  with its last values and this edit (a new version).

A removal by the same device that made the edit (or with no edit since
``base_version``) is plain. Every member op moves the household in the feed, so
devices pull the new member list.

Pull: ``GET /api/v1/sync/pull?after=SEQ&limit=N`` (signed; ``limit`` 1..1000)
answers :class:`PullResponse`: the changes with server sequence > ``after`` in
the device's grids, oldest first, at most ``limit`` and about
:data:`MAX_PULL_BYTES` of JSON (at least one row; rows of one sequence number are
never split); every row fits its kind's schema in :mod:`sync.protocol.schemas`;
``next_after`` is the cursor to store (with the rows, in one transaction) and ``has_more`` says
whether to ask again. A page with no rows may still move the cursor: to the feed's
head, past rows that are not the device's (other grids), so its next "anything new?"
is a few index entries (central/fastpath/noop.py); a device stores it as any cursor.
A page is read in one transaction (one snapshot: REPEATABLE READ on PostgreSQL, a read
transaction on SQLite), and the cursor never
passes a number that can still commit. The design, different per database so that
writers on PostgreSQL never queue behind one row:

* SQLite: one change counter; every writer takes it first and holds it until it
  commits (SQLite's write lock), so commits happen in number order and a snapshot
  holds every number up to its highest.
* PostgreSQL: a number is the writing transaction's id (``pg_current_xact_id()``
  plus a fixed offset) shifted left 20 bits, plus a count within the transaction; no
  row is shared. A page hands out only numbers below its watermark, the snapshot's
  ``xmin`` shifted the same way: every transaction with a lower id has finished (its
  rows are in the snapshot or never will be), and every transaction still to commit
  has an id at or above it. Rows above the watermark wait for a later pull. The cursor
  is still one integer; numbers from before this design (migration 7) all lie below.

Each :class:`Change` is the full current state of one
record (``kind`` ``household`` with version, ``registered_at`` (Unix time the
centre first knew it, or null: on the roster from before; devices count visit
quotas from it) and its members, each with its own
``version``; a removed member is absent from the list; ``conflict``, with
``member_id`` when it is about a member,
``event`` with ``data = {"id", "grid_id", "category", "description",
"status", "urgency", "household_id", "address", "reporter_id", "created_at",
"updated_at", "history": [{"from_status", "to_status", "note", "actor", "at",
"followup_id"}, ...] oldest first}``, ``task``; ``visit``: a ``visit.create``
record of the device's grids
from any device, ``data`` = its payload with ``id``, ``grid_id``, the sender's
``person_id``, and for roles :data:`REVIEW_ROLES` ``photo_sha256`` ``{photo id:
SHA-256 of its content}`` for the photos it names whose ``photo.meta`` the centre has
(their same-photo check; not masked for a supervisor: a hash tells nothing of the
picture, and no endpoint gives a photo's bytes for it); ``config``: a
centre setting, ``id`` = the key, ``data = {"key", "value", "org_unit_id",
"updated_at"}``, the value of the most specific org unit above the device's grids,
sent again whenever that value changes). A device with nothing new gets
``{"changes": [], "has_more": false}``.

Review access (issue 13). What a device pulls depends on its person's role:

* ``review``: a ``review.create`` as stored, ``data = {"id", "target_kind",
  "target_id", "grid_id", "state", "comment", "reviewer_id", "reviewer_name",
  "reviewer_role", "worker_id" (the reviewed record's person), "household_id" (a
  visit's), "reviewed_at" (Unix), "received_at"}``. A worker's device gets the reviews
  of its person's own records; roles :data:`REVIEW_ROLES` get every review of their grids.
* ``patrol`` (roles :data:`REVIEW_ROLES` only, never the device's own patrols): a
  finished patrol of another device, ``data = {"id", "grid_id", "person_id",
  "device_id", "started_at", "finished_at", "duration_s", "distance_m",
  "checklist_version", "items_total", "items_done", "problems", "normal",
  "not_applicable", "incomplete", "photos", "results": [{"id", "code", "result",
  "note", "photos", "recorded_at"}], "photo_sha256": {photo id: SHA-256} (the
  report's and the results' photos, as for a visit), "track": [[[t, lat, lon], ...],
  ...] (parts; at most :data:`MAX_REVIEW_TRACK_POINTS` points in all, Douglas-Peucker,
  :mod:`sync.protocol.tracks`), "track_points" (points the device kept)}``. Sent again
  when more of it (a late result or segment) arrives. A worker's device gets no other
  device's patrol or track.
* ``device`` (roles :data:`REVIEW_ROLES` only): a device of a worker or leader of the
  device's grids, ``data = {"id", "person_id", "person_name", "role", "grid_ids",
  "name", "status", "enrolled_at", "last_contact"}``; it moves in the feed at
  enrollment, revocation and when its last contact is :data:`CONTACT_STEP_SECONDS`
  newer than the one last sent.
* Masking: a supervisor's device reads many grids and may not reveal sensitive
  fields, so the centre sends it none in the clear: households' and members' ID
  numbers and phones come masked (``3302**********1234``, ``138****5678``) and
  special-group tags (:data:`SENSITIVE_TAGS`) as one :data:`HIDDEN_TAG`; in a conflict
  row of such a field both values are masked the same way. Visit, patrol and event
  texts come as written (review reads them; they are sealed at rest at the centre and
  in the device's encrypted database).

Grid-level data: ``grid`` (every device of the grid), ``data = {"id" (the grid id, as
text), "name", "boundary": a GeoJSON MultiPolygon or null (no boundary, or IT removed
it), "updated_at"}``. The boundary is WGS-84, ``[lon, lat]`` positions, closed rings, at
most :data:`sync.protocol.boundary.MAX_VERTICES` positions, as
:func:`sync.protocol.boundary.normalize_boundary` makes it (``central grids
set-boundary``); a device keeps it per grid and draws the grid shown on its maps. It
moves in the feed whenever IT sets or removes the boundary.

An older device keeps rows of these kinds held (``sync_held``, reason
``unknown_kind``) and applies them after its upgrade, like any kind newer than the app.

Photos (content-addressed by the SHA-256 of their bytes):
``POST /api/v1/photos/missing`` ``{"hashes": [...]}`` answers ``{"missing":
[{"sha256", "offset"}]}``: the hashes the server lacks and the byte offset an
interrupted upload may resume from. ``PUT /api/v1/photos/<sha256>?offset=N&total=T``
sends the raw bytes of one chunk (default :data:`DEFAULT_CHUNK_SIZE`) with header
``X-Gridfield-Chunk-SHA256`` (hex SHA-256 of the chunk): ``200 {"offset",
"complete"}``; ``400 chunk_corrupt`` (checksum wrong: send the chunk again);
``409 offset_mismatch {"offset"}`` (continue from the server's offset);
``422 hash_mismatch`` when the whole file does not hash to ``<sha256>`` (the
upload is discarded; start again at 0). The server keeps each photo once, on disk
by hash, however many devices send it.
Each device's upload is its own: offsets are per device, and a device announcing
another ``total`` restarts only its own upload. ``missing`` leaves a hash out only
when this device sent those bytes before or a record of its grids from another
device (``photo.meta``) names it; any other hash is missing from offset 0, even one
another grid's device sent, so a device learns nothing about other grids (sending
the same bytes again is harmless: kept once). ``413 photo_quota {"quota_bytes",
"quota_count", "used_bytes", "used_count"}``: a new upload would take the device past
the photos it may send in 24 hours (uploads in progress count); the device keeps the
photo for a later sync. An upload not continued within the server's age limit (48 h
by default) is discarded: its next chunk gets ``409 offset_mismatch`` with offset 0.

Errors: JSON ``{"error", "message"}``; ``429`` with ``Retry-After`` (seconds)
when the server or the device's rate limit is exceeded; ``410 {"wipe": true}``
when the device was revoked (erase everything).
``507 insufficient_storage``: the server's disk is full; nothing of the request was
kept (a push is applied later as a whole, an upload resumes at the server's offset):
send it again later. ``408 request_timeout`` and a closed connection: the request's
headers did not arrive within the server's read timeout (20 s by default) of its
first byte, or its body came slower than about 8 KiB/s after that.
"""

from typing import Any, Literal, NotRequired, TypedDict  # noqa: E402

# Special groups (7类特殊群体, domain.md): sensitive personal information shown only to
# roles that may reveal it; the device and the centre's supervisor masking share them.
SENSITIVE_TAGS = frozenset({
    "吸毒人员", "社区矫正人员", "易肇事肇祸精神障碍患者", "严重精神障碍患者",
    "刑满释放人员", "重点青少年", "艾滋病危险人员", "信访重点人员",
})
HIDDEN_TAG = "特殊人群（已隐藏）"

PHOTOS_MISSING_PATH = API_PREFIX + "/photos/missing"
PHOTO_CHUNK_PATH = API_PREFIX + "/photos/{sha256}"  # PUT ?offset=N&total=T, raw bytes
HEADER_CHUNK_SHA256 = "X-Gridfield-Chunk-SHA256"
DEFAULT_CHUNK_SIZE = 256 * 1024
SYNC_PUSH_PATH = API_PREFIX + "/sync/push"
SYNC_PULL_PATH = API_PREFIX + "/sync/pull"
MAX_PUSH_OPS = 500
MAX_PULL_LIMIT = 1000
MAX_PULL_BYTES = 1024 * 1024  # a pull page stops after about this much JSON (>= 1 row)

HOUSEHOLD_FIELDS = ("head_name", "address", "category", "phone", "id_number", "tags")
IMMUTABLE_KINDS = (
    "household.create",
    "visit.create",
    "event.report",
    "event.followup",
    "patrol.report",
    "checklist.result",
    "track.segment",
    "photo.meta",
    "member.create",
    "task.ack",
    "task.answer",
    "review.create",
)
MEMBER_FIELDS = ("name", "relation", "id_number", "phone", "residence")
MEMBER_RESIDENCES = ("registered", "floating", "tenant")
VISIT_TYPES = ("home", "phone", "revisit", "other")  # visit.create visit_type
EVENT_URGENCIES = ("normal", "urgent", "emergency")  # event.report urgency
REMOVED_FIELD = "removed"  # the pseudo-field of a member removal conflict
OP_KINDS = (
    *IMMUTABLE_KINDS,
    "household.update",
    "household.tags",
    "member.update",
    "member.remove",
    "conflict.resolve",
)
OP_STATUSES = ("applied", "duplicate", "conflict", "rejected", "retry_later")
CONFLICT_CHOICES = ("kept", "other")
PULL_KINDS = ("household", "conflict", "event", "task", "visit", "config", "review", "patrol",
              "device", "grid")
REVIEW_STATES = ("approved", "has_issues", "rejected")  # review.create state (ODK Central's)
REVIEW_TARGETS = ("visit", "patrol")  # what a review is about
REVIEWER_ROLES = ("leader", "supervisor")  # who may review a grid's work
REVIEW_ROLES = REVIEWER_ROLES  # who pulls the grid's patrols, devices and every review
MAX_REVIEW_TRACK_POINTS = 500  # points of a pulled patrol's simplified track
CONTACT_STEP_SECONDS = 900  # a device's last contact moves in the feed at most this often

OpStatus = Literal["applied", "duplicate", "conflict", "rejected", "retry_later"]

# -- version skew -----------------------------------------------------------------------
# Tablets update days apart, so a device and the server may speak different levels.
# Every request carries the device's level and app version; every answer carries the
# server's level and the oldest level it still serves.
PROTOCOL_LEVEL = 5  # 1: devices from before these headers (treated as level 1)
MIN_PROTOCOL_LEVEL = 1
HEADER_PROTOCOL = "X-Gridfield-Protocol"  # request: the device's level; answer: the server's
HEADER_APP_VERSION = "X-Gridfield-App"  # request: the app version (the centre's fleet view)
HEADER_MIN_PROTOCOL = "X-Gridfield-Min-Protocol"  # answer: the oldest level served
RETRY_LATER = "retry_later"  # op status: not applied, not recorded; keep it pending

# -- low-bandwidth links (level 3) -------------------------------------------------------
# A rural 2G link carries 100-400 kbit/s with 300-800 ms round trips and drops
# connections mid-transfer. What a level-3 server adds for it (a device sends none of it
# to a server that declared a lower level; it keeps using the level-2 requests):
#
# * Compressed request bodies: ``Content-Encoding: gzip`` on a JSON body. The signature
#   covers the body *before* compression (the server checks it after inflating), and the
#   inflated body is held to the same size limit as a plain one (``413`` past it,
#   ``400 bad_encoding`` for a body that does not inflate). Answers are compressed when
#   the request says ``Accept-Encoding: gzip`` (HTTP's own negotiation).
# * ``POST /api/v1/sync/answers`` ``{"op_ids": [...]}``: the answers the server keeps for
#   those ops (ops it never applied are left out). A device whose push lost its answer
#   (the connection dropped) asks this first and sends again only the ops not answered.
# * Compact duplicate answers: ``{"op_id", "status": "duplicate"}``, with ``original``
#   (its status and reason) only when the first answer was not ``applied``.
# * A taken ``photo.meta`` op's answer says ``photo_stored``: whether the centre holds
#   that photo's bytes; the device sends the ones it lacks without asking first.
# * ``POST /api/v1/photos/bundle``: pieces of several photos in one request (see
#   :mod:`sync.protocol.bundle`), each stored as ``PUT /photos/{sha256}`` would store it;
#   one request for many small photos instead of a round trip each.
# * Every answer names the largest request body the server takes
#   (``X-Gridfield-Max-Body``, bytes, inflated), so a device sizes its requests below it.
LEVEL_LOW_BANDWIDTH = 3
HEADER_MAX_BODY = "X-Gridfield-Max-Body"
SYNC_ANSWERS_PATH = API_PREFIX + "/sync/answers"
PHOTO_BUNDLE_PATH = API_PREFIX + "/photos/bundle"
MAX_ANSWER_IDS = MAX_PUSH_OPS

# -- audit anchoring (level 4) -----------------------------------------------------------
# A device's audit log is a keyed hash chain in its encrypted database; whoever knows the
# PIN holds the key and could rewrite it on the tablet. So the centre keeps each chain's
# head and checks that it only ever grows:
#
# * ``POST /api/v1/audit/anchor`` ``{"head_seq", "head_hash", "at_seq", "at_hash",
#   "intact", "pin_failures_total"}``: the chain's last entry, the hash the chain has
#   *now* at ``at_seq`` (the head the centre acknowledged last time; 0 and 64 zeros for
#   a device that never anchored; ``at_hash`` null when the chain has no such entry),
#   whether the device's own check of the chain passed, and the vault's count of wrong
#   PINs since set-up (kept where editing or restoring files cannot lower it).
# * The answer ``{"verdict", "anchored_seq"}``: ``first``, ``grew`` or ``same``, or a
#   flag the centre keeps on record (``central devices``): ``shrank`` (entries are gone),
#   ``forked`` (the chain was rewritten below the anchored head), ``broken`` (it does not
#   verify on the device), ``counter_reset`` (the wrong-PIN count went down). After a
#   flag the new head is the anchor, so later tampering is caught as well.
#   ``resync``: ``at_seq`` is not the head the centre holds (a data directory restored
#   from a copy, say); the device asks again once with ``at_seq = anchored_seq``.
# * A device sends an anchor after a sync whenever its head or wrong-PIN count moved
#   since the last answer. What it wrote and erased between two syncs cannot be caught;
#   everything before the last anchor can.
#
# PIN recovery (level 4): ``POST /api/v1/device/recovery`` ``{"nonce", "code"}`` escrows
# the device's recovery share (:mod:`fieldclient.security.recovery`) after enrollment
# and after each reset; the answer ``{"stored": true}`` is what lets the device count it
# as escrowed. Only over the pinned link, signed like every request. When an audit
# anchor goes anyway, the share rides along in it (``"recovery": {"nonce", "code"}``,
# answered ``"recovery_stored": true``): one round trip on a 2G link, not two.
LEVEL_AUDIT_ANCHOR = 4
RECOVERY_PATH = API_PREFIX + "/device/recovery"
RECOVERY_CODE_PATTERN = r"^[A-Z2-7]{4}(-[A-Z2-7]{4}){5}-[A-Z2-7]{2}$"
AUDIT_ANCHOR_PATH = API_PREFIX + "/audit/anchor"
AUDIT_GENESIS = "0" * 64
AUDIT_VERDICTS = ("first", "grew", "same", "shrank", "forked", "broken", "counter_reset",
                  "resync")

# -- device status for the fleet view (level 5) --------------------------------------------
# IT's ``central devices`` shows, per device, what only the device knows: its update
# channel, the ops and photo bytes still waiting to go up, and where its device secret is
# kept. The app version needs nothing new: every request carries it
# (:data:`HEADER_APP_VERSION`, kept by the centre from signed requests when it matches
# :data:`APP_VERSION_PATTERN`).
#
# * ``POST /api/v1/device/status`` (signed) ``{"channel", "pending_ops",
#   "photos_waiting", "photo_bytes", "secret_store"}``: ``channel`` one of
#   :data:`UPDATE_CHANNELS`, ``secret_store`` one of :data:`SECRET_STORES` (or null when
#   the device cannot tell), the three counts whole numbers from 0 to
#   :data:`MAX_STATUS_COUNT` (ops, photos) and :data:`MAX_STATUS_BYTES` (bytes). Unknown
#   fields are ignored (a newer device may say more); a value out of range, of the wrong
#   type or not in its list is refused whole, ``422``, and nothing is kept. The answer is
#   ``{"stored": true}``.
# * When an audit anchor goes anyway, the status rides along in it (``"status": {...}``,
#   answered ``"status_stored"``: true, or false when the centre refused the status; the
#   anchor itself is kept either way): one round trip on a 2G link, not two.
# * A device sends it after a sync's steps (after the push and the photos: what is left
#   then) when it differs from what the centre last acknowledged, or that is a day old;
#   a quiet sync sends nothing. A centre below level 5 is sent nothing, and a device below
#   level 5 sends nothing: the centre shows its status as unknown.
LEVEL_DEVICE_STATUS = 5
DEVICE_STATUS_PATH = API_PREFIX + "/device/status"
UPDATE_CHANNELS = ("stable", "pilot")  # the device setting ``update_channel``
SECRET_STORES = ("tpm", "keyring", "file")  # fieldclient.security.vault, ``secret_store``
MAX_STATUS_COUNT = 10**9  # pending ops, photos waiting
MAX_STATUS_BYTES = 2**50  # photo bytes waiting (1 PiB: more than any tablet holds)
STATUS_RESEND_SECONDS = 86400  # an unchanged status goes again after this long
APP_VERSION_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,39}$"  # what the centre keeps


class Op(TypedDict):
    op_id: str
    kind: str
    record_id: str
    base_version: int | None
    payload: dict[str, Any]


class PushRequest(TypedDict):
    ops: list[Op]


class OpResult(TypedDict, total=False):
    op_id: str
    status: OpStatus
    reason: str | None
    detail: str | None
    version: int | None
    conflicts: list[str]
    applied_fields: list[str]
    unchanged_fields: list[str]
    original: dict[str, Any] | None
    photo_stored: bool


class PushResponse(TypedDict):
    results: list[OpResult]
    server_time: str
    unix_time: float


class Change(TypedDict):
    seq: int
    kind: Literal["household", "conflict", "event", "task", "visit", "config", "review",
                  "patrol", "device", "grid"]
    id: str
    data: dict[str, Any]


class GridName(TypedDict):
    id: int
    name: str


class PullResponse(TypedDict):
    changes: list[Change]
    next_after: int
    has_more: bool
    server_time: str
    unix_time: float
    grids: NotRequired[list[GridName]]  # the device's grids by name; older centres: none


def canonical_json(value: Any) -> str:
    """The JSON text used to compare immutable records (sorted keys, no spaces)."""
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


# -- commands from the centre ----------------------------------------------------------------
# What destroys data on a device is never taken from an unsigned answer. The centre has
# an Ed25519 command key; a device pins its public half at enrollment (the enrollment
# answer's ``server_key``, checked against the fingerprint in the enrollment QR when
# there is one). A command is ``{"command": {"kind", "device_id", "counter",
# "issued_at"}, "signature": base64}``, the signature over COMMAND_CONTEXT + "\n" + the
# command's canonical JSON. A device carries out only a command that verifies with the
# pinned key, names its own device id and has a counter above the last one it carried
# out. The revocation answers (``410`` with ``"wipe": true``, and ``401 revoked``
# after it) carry the signed wipe; without a valid one the device erases nothing.
#
# Upload first: IT may revoke a device (a worker who left, a broken tablet) and still
# want its unsent work. Then the signed wipe also says ``"upload_until"`` (ISO 8601
# UTC), and until that time the centre still takes the revoked device's push, its kept
# answers, its photos and its audit anchor (:data:`UPLOAD_BEFORE_WIPE_PATHS`), and
# nothing else. The device sends what it holds, then erases itself; when the upload
# does not finish, it tries again at its next sync, and erases in any case once the
# time has passed (or the centre refuses the upload).
COMMAND_CONTEXT = "gridfield-command-v1"
COMMAND_WIPE = "wipe"
UPLOAD_BEFORE_WIPE_PATHS = (SYNC_PUSH_PATH, SYNC_ANSWERS_PATH, PHOTOS_MISSING_PATH,
                            PHOTO_BUNDLE_PATH, AUDIT_ANCHOR_PATH)
UPLOAD_BEFORE_WIPE_PREFIX = API_PREFIX + "/photos/"  # PUT of a photo's chunk


def command_message(command: Mapping[str, object]) -> bytes:
    return (COMMAND_CONTEXT + "\n" + canonical_json(dict(command))).encode("utf-8")


def key_fingerprint(public_key_b64: str) -> str:
    """The first 32 hex digits of the SHA-256 of the raw public key (in the QR)."""
    raw = base64.b64decode(public_key_b64.encode("ascii"), validate=True)
    return hashlib.sha256(raw).hexdigest()[:32]


def verified_command(public_key_b64: str | None, signed: object, device_id: str,
                     last_counter: int) -> dict[str, object] | None:
    """The command in ``signed`` when it verifies with the pinned key, names this
    device and is newer than ``last_counter``; None otherwise (never raises)."""
    if not public_key_b64 or not isinstance(signed, Mapping):
        return None
    command, signature = signed.get("command"), signed.get("signature")
    if not isinstance(command, Mapping) or not isinstance(signature, str):
        return None
    counter = command.get("counter")
    if command.get("device_id") != device_id or not isinstance(counter, int) \
            or isinstance(counter, bool) or counter <= last_counter:
        return None
    try:
        key = Ed25519PublicKey.from_public_bytes(decode_public_key(public_key_b64))
        key.verify(base64.b64decode(signature.encode("ascii"), validate=True),
                   command_message(command))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeError):
        return None
    return dict(command)
