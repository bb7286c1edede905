"""The central server's HTTP API (FastAPI). Errors are always JSON:
``{"error": "<code>", "message": "<plain words>", ...}``; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter
from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from central import auditanchor, db, identity, ops, recovery, reviews, syncops
from central.fastpath import noop
from central.fastpath.contacts import ContactBook
from central.limits import Limits
from central.photos import MAX_PHOTO_BYTES, PhotoError, PhotoStore, default_blob_dir
from central.shared import ratelimit
from central.shared.blobs import PhotoFiles
from central.shared.ratelimit import RateLimiter, SharedRateLimiter
from central.shared.snapshots import EncodedPage, Snapshots
from central.web.pullroute import PullRoute, RawRequest
from central.web.shedding import LoadShedder
from sync import protocol
from sync.protocol import bundle, releases, schemas

log = logging.getLogger("central")

COMPRESS_MIN_BYTES = 512  # answers smaller than this go as they are
DEFAULT_MAX_BODY = 1024 * 1024  # bytes; photo chunks (256 KiB by default) fit easily
NONCE_KEEP_SECONDS = 2 * protocol.MAX_CLOCK_SKEW
PULL_MAX_AFTER = 2**62  # a cursor; beyond any sequence number
PULL_LIMIT = 500  # rows in a pull page the device does not size
_last_prune = [0.0]  # when this process last deleted expired nonces
_FAR_OFF = 2**62  # seconds; any timestamp beyond is as far from the server's clock

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = None
    if "retry_after" in extra:
        headers = {"Retry-After": str(extra["retry_after"])}
    return JSONResponse(
        {"error": code, "message": message, **extra}, status_code=status, headers=headers
    )


def answer_error(exc: Exception) -> JSONResponse:
    """The JSON answer to what a request's work raised (the app's exception handlers,
    and ``central.web.pullroute``'s pull, which runs below them)."""
    if isinstance(exc, ApiError | PhotoError):
        return error_response(exc.status, exc.code, exc.message, **exc.extra)
    if isinstance(exc, ops.OpError):
        return error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:  # the database restarted: the pool reconnects
            log.warning("database connection lost; answering 503: %s", exc.orig)
            return error_response(503, "busy", "the database is reconnecting; retry",
                                  retry_after=1)
        if db.is_storage_full(exc):
            log.error("database write failed, disk full: %s", exc.orig)
            return error_response(507, "insufficient_storage", "the server's disk is full; "
                                  "nothing was stored from this request, send it again later")
        log.exception("unexpected database error", exc_info=exc)
        return error_response(500, "internal", "internal server error")
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal", "internal server error")


class BodyLimit:
    """Pure ASGI middleware: refuse bodies over ``limit`` bytes with a 413 JSON error.

    The declared Content-Length is checked first; chunked bodies are read up to the
    limit before the application sees them, so an endpoint never gets a partial body.

    A body sent with ``Content-Encoding: gzip`` (protocol level 3, see
    :mod:`sync.protocol`) is inflated here, to at most ``limit`` bytes as well (a small
    body that inflates to gigabytes is refused after ``limit``), and the application
    sees the plain body: the signature covers that.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _too_large(self, send: Send) -> None:
        response = error_response(
            413, "body_too_large", f"request body is larger than {self.limit} bytes"
        )
        await response({"type": "http"}, _no_receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.limit:
                    await self._too_large(send)
                    return
            except ValueError:
                await error_response(400, "bad_request", "invalid Content-Length")(
                    scope, receive, send
                )
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            if encoding != b"gzip":
                await error_response(415, "unsupported_encoding",
                                     "request bodies may be gzip-encoded, nothing else")(
                    scope, receive, send)
                return
            try:
                body = _inflate(body, self.limit)
            except _TooLarge:
                await self._too_large(send)
                return
            except (zlib.error, EOFError):
                await error_response(400, "bad_encoding",
                                     "the gzip body does not inflate")(scope, receive, send)
                return
            scope = {**scope, "headers": [
                (k, str(len(body)).encode() if k == b"content-length" else v)
                for k, v in scope.get("headers") or [] if k != b"content-encoding"]}
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class _TooLarge(Exception):
    pass


def _inflate(body: bytes, limit: int) -> bytes:
    """A gzip body inflated, never to more than ``limit`` bytes (then _TooLarge)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit:
        raise _TooLarge()
    if not inflater.eof or inflater.unused_data:
        raise EOFError("truncated or trailing data")
    return out


def _store_bundle(photo_store: PhotoStore, engine: Engine, device: AuthDevice,
                  parts: list[bundle.Part]) -> list[dict[str, Any]]:
    """Each part as its own chunk, in order. A part's error is its answer; the quota and
    a full disk stop the parts after it (they would fail the same way)."""
    answers: list[dict[str, Any]] = []
    stopped: dict[str, Any] | None = None
    for part in parts:
        if stopped is not None:
            answers.append({"sha256": part.sha256, **stopped})
            continue
        try:
            answers.append(photo_store.put_chunk(
                engine, device.device_id, device.grids, part.sha256, part.offset, part.total,
                part.data, hashlib.sha256(part.data).hexdigest()))
        except PhotoError as exc:
            answer = {"error": exc.code, "message": exc.message}
            if isinstance(exc.extra.get("offset"), int):
                answer["offset"] = exc.extra["offset"]
            answers.append({"sha256": part.sha256, **answer})
            if exc.status in (413, 507):
                stopped = {"error": exc.code, "message": exc.message}
    return answers


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class ProtocolLevel:
    """Pure ASGI middleware for version skew: every answer names the server's protocol
    level and the oldest it serves; a device older than that gets ``426
    upgrade_required`` (its data stays on it until it updates). No header = level 1."""

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.extra = [
            (protocol.HEADER_PROTOCOL.lower().encode(), str(protocol.PROTOCOL_LEVEL).encode()),
            (protocol.HEADER_MIN_PROTOCOL.lower().encode(),
             str(protocol.MIN_PROTOCOL_LEVEL).encode()),
            (protocol.HEADER_MAX_BODY.lower().encode(), str(max_body).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.extra

        async def send_with_level(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        level = 1
        wanted = protocol.HEADER_PROTOCOL.lower().encode()
        for name, value in scope.get("headers") or []:
            if name == wanted:
                try:
                    level = int(value)
                except ValueError:
                    level = 0
        if level < protocol.MIN_PROTOCOL_LEVEL:
            response = error_response(
                426, "upgrade_required",
                f"protocol level {level} is no longer served (oldest: "
                f"{protocol.MIN_PROTOCOL_LEVEL}); update the app",
            )
            await response(scope, _no_receive, send_with_level)
            return
        await self.app(scope, receive, send_with_level)


# -- request models --------------------------------------------------------------------

class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: StrictStr = Field(min_length=4, max_length=64, description="one-time enrollment code")
    public_key: StrictStr = Field(
        min_length=40, max_length=64, description="raw Ed25519 public key, base64 (32 bytes)"
    )
    # stored and shown to the centre: text a database holds, not blank
    device_name: Annotated[str, schemas.Txt(100, required=True), schemas.CleanText]


class PersonOut(BaseModel):
    id: int
    name: str
    role: str


class EnrollResponse(BaseModel):
    device_id: str
    person: PersonOut
    grids: list[int]
    server_time: str
    server_key: str = Field(description="the centre's command key (base64 Ed25519 public "
                            "key): the device pins it and obeys only commands it signed")


class HealthResponse(BaseModel):
    status: str
    server_time: str
    unix_time: float
    protocol: str
    max_clock_skew: int
    protocol_level: int
    min_protocol_level: int
    op_kinds: list[str]
    pull_kinds: list[str]
    server_key: str = Field(description="the centre's command key (base64 Ed25519 public "
                            "key) that devices pin at enrollment")


class MemberOut(BaseModel):
    id: str
    name: str
    relation: str
    id_number: str | None
    phone: str | None
    residence: str


class HouseholdOut(BaseModel):
    id: str
    grid_id: int
    head_name: str
    address: str
    category: str
    phone: str | None
    id_number: str | None
    tags: list[str]
    version: int
    updated_seq: int
    members: list[MemberOut]


class HouseholdsResponse(BaseModel):
    grid: int
    households: list[HouseholdOut]


class TaskOut(BaseModel):
    id: str
    grid_id: int
    title: str
    body: str
    due: str | None
    created_at: str
    updated_seq: int


class TasksResponse(BaseModel):
    grid: int
    tasks: list[TaskOut]


class ErrorOut(BaseModel):
    error: str
    message: str


class ProblemOut(BaseModel):
    field: str
    problem: str


class InvalidOut(ErrorOut):
    """422: what the request validation found (``problems``, one per field)."""

    problems: list[ProblemOut] = []


class OpIn(BaseModel):
    """One op; its ``payload`` is checked against the kind's schema (``Op_<kind>`` in
    this document, :mod:`sync.protocol.schemas`) op by op, so one bad op is that op's answer.
    Envelope fields a newer device adds are ignored, not fatal. The envelope itself is
    the device's own making (ids it generated): one that is not well-formed, e.g. a
    record id with a NUL or a lone surrogate, which no database column holds, is the
    batch's 422."""

    model_config = ConfigDict(extra="ignore")

    op_id: StrictStr = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    kind: StrictStr = Field(min_length=1, max_length=32)
    record_id: schemas.RecordId
    base_version: StrictInt | None = None
    payload: dict[str, Any]


class PushIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ops: list[OpIn] = Field(min_length=1, max_length=protocol.MAX_PUSH_OPS)


class OpResultOut(BaseModel):
    op_id: str
    status: str = Field(description="applied, duplicate, conflict, rejected or retry_later")
    reason: str | None = None
    detail: str | None = None
    version: int | None = None
    conflicts: list[str] = []
    applied_fields: list[str] = []
    unchanged_fields: list[str] = []
    original: dict[str, Any] | None = None
    photo_stored: bool | None = Field(default=None, description=(
        "photo.meta taken: whether the centre holds the photo's bytes already"))


class PushOut(BaseModel):
    results: list[OpResultOut]
    server_time: str
    unix_time: float


class ChangeOut(BaseModel):
    seq: int
    kind: str = Field(description="household, conflict, event or task")
    id: str
    data: dict[str, Any]


class MissingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(max_length=1000)


class MissingItem(BaseModel):
    sha256: str
    offset: int


class MissingOut(BaseModel):
    missing: list[MissingItem]


class ChunkOut(BaseModel):
    sha256: str
    offset: int
    complete: bool


class AnswersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the same ids a push takes (OpIn.op_id): anything else was never applied
    op_ids: list[Annotated[StrictStr, Field(min_length=8, max_length=64,
                                            pattern=r"^[A-Za-z0-9_-]+$")]] = Field(
        max_length=protocol.MAX_ANSWER_IDS)


class AnswersOut(BaseModel):
    results: list[OpResultOut]
    server_time: str
    unix_time: float


_HASH = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
_SEQ = Annotated[StrictInt, Field(ge=0, le=2**62)]


class RecoveryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    nonce: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{24}$")]
    code: Annotated[StrictStr, Field(pattern=protocol.RECOVERY_CODE_PATTERN)]


class AnchorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a newer device may say more

    head_seq: _SEQ
    head_hash: _HASH
    at_seq: _SEQ
    at_hash: _HASH | None
    intact: bool
    pin_failures_total: Annotated[StrictInt, Field(ge=0, le=2**31)] | None = None
    recovery: RecoveryIn | None = None  # the PIN recovery share, when it is new
    # the device's status (level 5), checked on its own: a status the centre refuses
    # (a newer device's channel, say) does not cost the anchor
    status: dict[str, Any] | None = None


class RecoveryOut(BaseModel):
    stored: bool


class AnchorOut(BaseModel):
    verdict: str
    anchored_seq: int
    recovery_stored: bool | None = None
    status_stored: bool | None = None


class StatusOut(BaseModel):
    stored: bool


class BundlePartOut(BaseModel):
    sha256: str
    offset: int | None = None
    complete: bool | None = None
    error: str | None = None
    message: str | None = None


class BundleOut(BaseModel):
    parts: list[BundlePartOut]
    server_time: str
    unix_time: float


class GridNameOut(BaseModel):
    id: int
    name: str


class PullOut(BaseModel):
    changes: list[ChangeOut]
    next_after: int
    has_more: bool
    grids: list[GridNameOut] = []  # the device's grids by name (勤勇村第1网格)
    server_time: str
    unix_time: float


def empty_page_json(page: dict[str, Any]) -> bytes:
    """A pull page without changes as :class:`PullOut` serialises it (the no-op pull's
    answer, the most frequent of all, skips the response model's validation: its few
    fields are ours; ``tests/central/test_central_noop.py`` checks the two agree)."""
    return json.dumps({
        "changes": [], "next_after": int(page["next_after"]),
        "has_more": bool(page["has_more"]),
        "grids": [{"id": int(g["id"]), "name": str(g["name"])} for g in page.get("grids", [])],
        "server_time": str(page["server_time"]), "unix_time": float(page["unix_time"]),
    }, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class AuthDevice:
    device_id: str
    person_id: int
    role: str
    grids: tuple[int, ...]


# -- authentication --------------------------------------------------------------------

@dataclass(frozen=True)
class KnownDevice:
    """What one request's full check found of an active device: its key, parsed, and
    what its no-op pull's look goes by (person, role, grids)."""

    key_b64: str
    public_key: Any  # Ed25519PublicKey
    person_id: int
    role: str
    grids: tuple[int, ...]


class KnownDevices:
    """The active devices this process has checked (``_authenticate``), so that the next
    no-op pull of one is a single statement: its signature checked with the key known
    here, then the device's row read in the look's own statement and compared with
    what is known (:func:`_known_pull`). Nothing is trusted from here alone: a device
    revoked, re-keyed, moved to other grids or given another role since is seen in
    that row, forgotten, and checked in full. Bounded: emptied past ``limit``."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._known: dict[str, KnownDevice] = {}

    def get(self, device_id: str) -> KnownDevice | None:
        return self._known.get(device_id)

    def put(self, device_id: str, known: KnownDevice) -> None:
        if len(self._known) >= self.limit:
            self._known = {}
        self._known[device_id] = known

    def forget(self, device_id: str) -> None:
        self._known.pop(device_id, None)


def _signed_headers(headers: dict[str, str]) -> tuple[str, str, int, str]:
    """The device id, nonce, timestamp and signature a signed request carries, each
    well-formed (401 otherwise)."""
    missing = protocol.missing_headers(headers)
    if missing:
        raise ApiError(401, "unauthenticated", f"missing header(s): {', '.join(missing)}")
    nonce = headers[protocol.HEADER_NONCE.lower()]
    try:
        timestamp = int(headers[protocol.HEADER_TIMESTAMP.lower()])
    except ValueError:
        raise ApiError(401, "bad_timestamp", "timestamp must be whole Unix seconds") from None
    if not protocol.NONCE_RE.match(nonce):
        raise ApiError(401, "bad_nonce", "nonce must be 16-64 characters of A-Z a-z 0-9 _ -")
    return (headers[protocol.HEADER_DEVICE.lower()], nonce, timestamp,
            headers[protocol.HEADER_SIGNATURE.lower()])


def _clock_off(server_unix: float, timestamp: int) -> bool:
    """Whether a request's timestamp is too far from the server's clock; clamped: a
    signed timestamp of hundreds of digits is as far off as any, not a float overflow
    (a 500 that no limiter counts)."""
    return abs(server_unix - max(-_FAR_OFF, min(timestamp, _FAR_OFF))) > protocol.MAX_CLOCK_SKEW


def _authenticate(
    engine: Engine, method: str, path: str, headers: dict[str, str], body: bytes,
    contacts: ContactBook | None = None, known: KnownDevices | None = None,
) -> AuthDevice:
    """The device that signed this request (sync/protocol: "replay protection").

    One read for every request: the device's row (key, status: revocation is checked
    on every request) with its person's role and grids. An active device's idempotent
    request (``GET``) writes nothing: its nonce is not kept and its last contact is
    noted in memory (``contacts``, written in batches). A state-changing request, and
    any request of a revoked device, keeps its nonce in the same transaction as what
    it writes, so a replay of it is refused."""
    device_id, nonce, timestamp, signature = _signed_headers(headers)
    with engine.connect() as conn:  # one statement, no transaction
        rows = conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            _DEVICE_AND_GRIDS, {"device_id": device_id[:64]}).mappings().all()
    if not rows:
        raise ApiError(401, "unknown_device", "device is not enrolled")
    device = rows[0]
    public_key = protocol.decode_public_key(str(device["public_key"]))
    if not protocol.verify_signature(public_key, signature, method, path, timestamp,
                                     nonce, body):
        raise ApiError(401, "bad_signature", "request signature does not verify")
    now = db.now_utc()
    server_unix = now.timestamp()
    if _clock_off(server_unix, timestamp):
        raise ApiError(
            401, "clock_skew",
            f"device clock is more than {protocol.MAX_CLOCK_SKEW} s away from the "
            "server's", server_time=db.iso(now), unix_time=server_unix,
        )
    if device["person_role"] is None:
        raise ApiError(401, "unknown_device", "the device's person no longer exists")
    role = str(device["person_role"])
    grids = tuple(int(r["grid_id"]) for r in rows if r["grid_id"] is not None)
    active = device["status"] != "revoked"
    if active and known is not None:
        known.put(device_id, KnownDevice(str(device["public_key"]), public_key,
                                         int(device["person_id"]), role, grids))
    if active and not protocol.keeps_nonce(method):
        _note_contact(engine, contacts, device, now, headers)
        return AuthDevice(device_id, int(device["person_id"]), role, grids)
    wipe = uploading = False
    try:
        with engine.begin() as conn:
            conn.execute(insert(db.nonces).values(device_id=device_id, nonce=nonce,
                                                  ts=timestamp))
            uploading = not active and _may_upload_first(device, method, path, db.iso(now))
            if uploading:  # revoked, but sending what it holds first (sync.protocol)
                conn.execute(update(db.devices).where(db.devices.c.id == device_id)
                             .values(last_contact=db.iso(now),
                                     **auditanchor.contact_values(headers)))
            elif not active:
                wipe = conn.execute(
                    update(db.devices)
                    .where(db.devices.c.id == device_id, db.devices.c.wipe_sent_at.is_(None))
                    .values(wipe_sent_at=db.iso(now), last_contact=db.iso(now))
                ).rowcount == 1
            elif server_unix - _last_prune[0] > 60:  # replays this old fail the skew test
                _last_prune[0] = server_unix
                conn.execute(delete(db.nonces).where(
                    db.nonces.c.ts < server_unix - NONCE_KEEP_SECONDS))
    except IntegrityError:
        raise ApiError(401, "replayed", "nonce already used (replayed request)") from None
    if active:
        _note_contact(engine, contacts, device, now, headers)
    elif not uploading:
        with engine.begin() as conn:  # signed: a device erases itself on nothing else
            command = identity.wipe_command(conn, device_id)
        if wipe:  # committed: the wipe instruction goes out exactly once
            raise ApiError(
                410, "revoked", "this device has been revoked: erase all local data", wipe=True,
                command=command,
            )
        raise ApiError(401, "revoked", "this device has been revoked", command=command)
    return AuthDevice(device_id, int(device["person_id"]), role, grids)


_p, _g = db.people, db.grid_assignments
# The device's row with its person's role and grids (a row per grid): every signed
# request's one read.
_DEVICE_AND_GRIDS = (
    select(db.devices, _p.c.role.label("person_role"), _g.c.grid_id)
    .select_from(db.devices.outerjoin(_p, _p.c.id == db.devices.c.person_id)
                 .outerjoin(_g, _g.c.person_id == _p.c.id))
    .where(db.devices.c.id == bindparam("device_id"))
    .order_by(_g.c.grid_id)
)


def _note_contact(engine: Engine, contacts: ContactBook | None, device: Any, now: Any,
                  headers: dict[str, str]) -> None:
    """The active device's contact: batched in ``contacts``, else written now."""
    if contacts is not None:
        contacts.note(str(device["id"]), device["contact_sent"], now, headers)
        return
    with engine.begin() as conn:
        conn.execute(update(db.devices).where(db.devices.c.id == device["id"])
                     .values(**reviews.note_contact(conn, device, now),
                             **auditanchor.contact_values(headers)))


def _may_upload_first(device: Any, method: str, path: str, now_iso: str) -> bool:
    """A revoked device inside its upload window asks for one of the upload requests."""
    until = device["upload_until"]
    if until is None or str(until) <= now_iso:
        return False
    base = path.split("?", 1)[0]
    return base in protocol.UPLOAD_BEFORE_WIPE_PATHS or (
        method == "PUT" and base.startswith(protocol.UPLOAD_BEFORE_WIPE_PREFIX))


# The signature headers as security schemes (all four together), so /openapi.json says
# which operations need a signed request; authenticated() reads and checks them itself.
_SIGNED = {
    name: Security(APIKeyHeader(name=name, scheme_name=name, auto_error=False,
                                description="see sync/protocol.py: request authentication"))
    for name in protocol.AUTH_HEADERS
}


async def signed_check(
    request: Request,
    _device: Annotated[str | None, _SIGNED[protocol.HEADER_DEVICE]],
    _timestamp: Annotated[str | None, _SIGNED[protocol.HEADER_TIMESTAMP]],
    _nonce: Annotated[str | None, _SIGNED[protocol.HEADER_NONCE]],
    _signature: Annotated[str | None, _SIGNED[protocol.HEADER_SIGNATURE]],
) -> SignedRequest:
    """FastAPI dependency: the check of this request's signature and rate limits, to
    run in a worker thread (it waits for the database): the device that signed it,
    else 401/410/429. :func:`authenticated` runs it; the pull runs it in the same trip
    to a worker thread as its own work (each trip costs a no-op pull about as much CPU
    as a statement)."""
    body = await request.body()
    return signed_request(request.app.state, RawRequest(
        method=request.method,
        raw_path=request.scope.get("raw_path") or request.url.path.encode(),
        query=request.scope.get("query_string", b""),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        client=request.client.host if request.client is not None else "?",
    ))


def signed_request(state: Any, request: RawRequest) -> SignedRequest:
    """:func:`signed_check` of a request read already (``central.web.pullroute`` reads
    the pull's itself); ``state`` is the app's."""
    path = request.raw_path.decode("latin-1")
    if request.query:
        path += "?" + request.query.decode("latin-1")
    headers = request.headers
    body = request.body
    limiter: RateLimiter | None = state.rate_limiter
    failures: RateLimiter | None = state.auth_failure_limiter
    client = request.client
    engine: Engine = state.engine
    contacts = state.contacts
    known: KnownDevices | None = state.known_devices
    method = request.method

    shared = (limiter, failures) if (isinstance(limiter, SharedRateLimiter)
                                     and isinstance(failures, SharedRateLimiter)) else None

    def check() -> AuthDevice:
        # the limits and the signature together, in the caller's worker thread
        if shared is not None:
            return shared_check(*shared)
        if failures is not None:
            # Only requests that failed authentication count here, by address: a flood
            # of forged requests naming a real device cannot use up its allowance.
            _refuse_if_waiting(failures.wait_needed(client, take=False), _FAILURES)
        try:
            device = _authenticate(engine, method, path, headers, body, contacts, known)
        except ApiError as exc:
            if failures is not None and exc.status == 401:
                failures.wait_needed(client)
            raise
        if limiter is not None:  # counted only once the signature proved who is asking
            _refuse_if_waiting(limiter.wait_needed(device.device_id), _TOO_MANY)
        return device

    def shared_check(limiter: SharedRateLimiter, failures: SharedRateLimiter) -> AuthDevice:
        """:func:`check` with the buckets in the database (PostgreSQL): the device's
        token and the look at its address's failures in one statement after the
        signature check, instead of a look before and a token after it (a statement
        fewer on every request). A failure is counted as before, and answered 429 once
        its address is over the allowance; a device refused for its address gets its
        token back, as it was never taken before."""
        device, taking = verified(limiter, failures)
        taking.separately()
        return device

    def verified(limiter: SharedRateLimiter, failures: SharedRateLimiter
                 ) -> tuple[AuthDevice, _Taking]:
        """The signature checked (a failure counted by address), the token not yet
        taken: the pull takes it in its own statement (``noop.Taking``)."""
        try:
            device = _authenticate(engine, method, path, headers, body, contacts, known)
        except ApiError as exc:
            if exc.status == 401:
                _refuse_if_waiting(failures.wait_needed(client), _FAILURES)
            raise
        return device, _Taking(limiter, failures, client, device.device_id)

    def check_for_pull() -> tuple[AuthDevice, _Taking | None]:
        """:func:`check`, except that with the limits in the database the device's
        token is left for the pull's look to take (``noop.pull``: one statement)."""
        if shared is not None:
            return verified(*shared)
        return check(), None

    def known_pull(after: int) -> tuple[AuthDevice, Looked] | None:
        """The pull's check and look in one statement, for a device this process
        knows (:func:`_known_pull`); None: check it in full."""
        if shared is None or known is None or contacts is None or after <= 0:
            return None
        limiter, failures = shared
        return _known_pull(engine, known, contacts, method, path, headers, body,
                           lambda device_id: _Taking(limiter, failures, client, device_id),
                           after)

    return SignedRequest(check, check_for_pull, known_pull)


Looked = tuple[bool, int, list[dict[str, Any]]]  # newer?, the feed's head, grids' names


def _known_pull(engine: Engine, known: KnownDevices, contacts: ContactBook, method: str,
                path: str, headers: dict[str, str], body: bytes,
                taking_for: Callable[[str], _Taking], after: int
                ) -> tuple[AuthDevice, Looked] | None:
    """A later pull of a device this process knows (PostgreSQL, limits in the
    database): the signature checked with the known key, then one statement takes the
    rate-limit token, looks for anything newer for the known grids and reads the
    device's row (``noop.look_as_known``). The row must show the device as known:
    active, the same key, person, role and grids; then the answer is what the full
    check and the look would have given. Otherwise (revoked, re-keyed, moved,
    unknown now) the device is forgotten, a token taken is given back, and None says
    to check it in full; so is any request this path is not sure of (a signature
    that does not verify with the known key, a clock off, a malformed header): the
    full check answers it with its own error."""
    try:
        device_id, nonce, timestamp, signature = _signed_headers(headers)
    except ApiError:
        return None
    entry = known.get(device_id)
    if entry is None or not protocol.verify_signature(
            entry.public_key, signature, method, path, timestamp, nonce, body):
        return None
    now = db.now_utc()
    if _clock_off(now.timestamp(), timestamp):
        return None
    device = AuthDevice(device_id, entry.person_id, entry.role, entry.grids)
    taking = taking_for(device_id)
    with engine.connect() as conn:  # one statement, no transaction
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        finish, row, taken = noop.look_as_known(conn, device, after, taking)
    if row is None or row["status"] == "revoked" or row["role"] is None or (
            str(row["public_key"]), int(row["person_id"]), str(row["role"]),
            tuple(int(g) for g in row["grids"] or ())) != (
            entry.key_b64, entry.person_id, entry.role, entry.grids):
        known.forget(device_id)
        if taken:
            taking.give_back()
        return None
    looked = finish()  # the token settled: 429 here when the limits refuse
    contacts.note(device_id, row["contact_sent"], now, headers)
    return device, looked


@dataclass
class _Taking:
    """A verified request's rate-limit token, to take with the pull's look or on its
    own (``central.fastpath.noop.Taking``); 429 when the limits refuse."""

    limiter: SharedRateLimiter
    failures: SharedRateLimiter
    client: str
    device_id: str

    def params(self) -> dict[str, Any]:
        return self.limiter.take_and_peek_params(self.device_id, self.failures, self.client)

    def settle(self, granted: Any, tokens: Any, address_tokens: Any) -> None:
        wait, address_wait = self.limiter.waits(granted, tokens, address_tokens,
                                                self.failures)
        if address_wait > 0:
            if wait <= 0:  # taken, and not to be counted: the address refused it
                self.limiter.refund(self.device_id)
            _refuse_if_waiting(address_wait, _FAILURES)
        _refuse_if_waiting(wait, _TOO_MANY)

    def separately(self) -> None:
        self.settle(*self.limiter.take_and_peek_row(self.device_id, self.failures,
                                                    self.client))

    def give_back(self) -> None:
        """The token taken with a look whose answer is not used (the request is then
        checked in full, and takes one again)."""
        self.limiter.refund(self.device_id)


class SignedRequest:
    """What :func:`signed_check` gives an endpoint: call it for the device that signed
    the request (401/410/429 otherwise); :meth:`for_pull` for the pull, which takes the
    device's rate-limit token in its own look."""

    def __init__(self, check: Callable[[], AuthDevice],
                 for_pull: Callable[[], tuple[AuthDevice, _Taking | None]],
                 known_pull: Callable[[int], tuple[AuthDevice, Looked] | None]) -> None:
        self._check = check
        self._for_pull = for_pull
        self._known_pull = known_pull

    def __call__(self) -> AuthDevice:
        return self._check()

    def for_pull(self) -> tuple[AuthDevice, _Taking | None]:
        return self._for_pull()

    def known_pull(self, after: int) -> tuple[AuthDevice, Looked] | None:
        """The check and the look of a pull after ``after`` in one statement, for a
        device this process knows (PostgreSQL); None: use :meth:`for_pull`."""
        return self._known_pull(after)


SignedCheck = Annotated[SignedRequest, Depends(signed_check)]


async def authenticated(check: SignedCheck) -> AuthDevice:
    """FastAPI dependency: the device that signed this request (401/410/429 otherwise)."""
    return await run_in_threadpool(check)


_FAILURES = "too many unauthenticated requests from this address"
_TOO_MANY = "too many requests from this device; retry later"


def _refuse_if_waiting(wait: float, message: str) -> None:
    if wait > 0:
        raise ApiError(429, "rate_limited", message, retry_after=max(1, math.ceil(wait)))


Device = Annotated[AuthDevice, Depends(authenticated)]


def create_app(
    engine: Engine,
    max_body: int = DEFAULT_MAX_BODY,
    photo_dir: Any = None,
    limits: Limits | None = None,
    update_dir: Any = None,
    photo_files: PhotoFiles | None = None,
    fast_pulls: bool = True,
) -> FastAPI:
    """The API on ``engine``; ``limits`` default to those for a real deployment;
    ``update_dir`` the signed release repository (central/updates/repository.py);
    photos in ``photo_files`` if given (e.g. the database), else in ``photo_dir``;
    ``fast_pulls``: the pull answered below FastAPI's routing (``central.web.pullroute``;
    off only for the test that compares the two)."""
    limits = limits or Limits()
    app = FastAPI(
        title="gridfield central server",
        version="1",
        description="Reference central server for gridfield devices. Authenticated requests "
        "carry the X-Gridfield-* signature headers described in sync/protocol.py.",
    )

    app.state.engine = engine
    # last contacts written in batches (central/fastpath/contacts.py), the rest at shutdown
    contacts = ContactBook(engine, limits.contact_flush) if limits.contact_flush > 0 else None
    app.state.contacts = contacts
    # devices checked here, for their next no-op pull in one statement (KnownDevices)
    app.state.known_devices = KnownDevices()
    if contacts is not None:
        app.router.on_shutdown.append(contacts.close)
    rate = limits.rate
    # each shared by every process of the server (central/shared/ratelimit.py)
    app.state.rate_limiter = (
        ratelimit.limiter(engine, "device", rate, burst=limits.burst) if rate > 0 else None)
    # Forged or stale requests by address: lenient (a whole village may share one NAT).
    app.state.auth_failure_limiter = (
        ratelimit.limiter(engine, "failed", rate * 10, burst=max(20.0, rate * 10))
        if rate > 0 else None
    )
    # Enrollment attempts by address, counted before the code is looked at (so parallel
    # guesses cannot slip through) and given back when the attempt succeeds: guessing
    # codes is hopeless, while enrolling a box of tablets in one office is not slowed.
    enroll_limiter = (
        ratelimit.limiter(engine, "enroll", limits.enroll_per_minute / 60.0,
                          burst=max(1.0, limits.enroll_burst))
        if limits.enroll_per_minute > 0 else None
    )
    app.state.enroll_limiter = enroll_limiter
    first_pulls = Snapshots(engine, warm=limits.warm_snapshots)
    app.router.on_shutdown.append(first_pulls.close)
    photo_store = PhotoStore(
        photo_files or FilePath(photo_dir or default_blob_dir(str(engine.url))),
        quota_bytes=limits.photo_quota_bytes,
        quota_count=limits.photo_quota_count, partial_max_age=limits.partial_max_age,
        keys=db.keyring(engine),
    )
    photo_store.expire_partials(engine)  # at start; then now and then on access
    photo_store.seal_legacy()  # photos kept in the clear before migration 12
    app.state.photo_store = photo_store

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return answer_error(exc)

    @app.exception_handler(ops.OpError)
    async def _op_error(_request: Request, exc: ops.OpError) -> JSONResponse:
        return answer_error(exc)

    @app.exception_handler(PhotoError)
    async def _photo_error(_request: Request, exc: PhotoError) -> JSONResponse:
        return answer_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        malformed = False
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                malformed = True
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append({"field": loc, "problem": str(err.get("msg", "invalid"))})
        if malformed:
            return error_response(400, "malformed_json", "request body is not valid JSON")
        summary = "; ".join(f"{p['field'] or 'body'}: {p['problem']}" for p in problems)
        return error_response(422, "invalid_input", summary or "invalid input", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(DBAPIError)
    async def _database_error(_request: Request, exc: DBAPIError) -> JSONResponse:
        return answer_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return answer_error(exc)

    auth_errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorOut, "description": "not authenticated"},
        403: {"model": ErrorOut, "description": "grid not assigned to the device's worker"},
        410: {"model": ErrorOut, "description": "device revoked: {\"wipe\": true}, once"},
        429: {"model": ErrorOut, "description": "rate limited: retry after Retry-After seconds"},
    }

    def require_grid(device: AuthDevice, grid: int) -> None:
        if grid not in device.grids:
            raise ApiError(403, "forbidden", f"grid {grid} is not assigned to this device's worker")

    with engine.begin() as conn:
        server_key = identity.public_key_b64(conn)

    @app.get("/api/v1/health", response_model=HealthResponse)
    def health() -> dict[str, Any]:
        now = db.now_utc()
        return {
            "status": "ok",
            "server_time": db.iso(now),
            "unix_time": now.timestamp(),
            "protocol": protocol.PROTOCOL_VERSION,
            "max_clock_skew": protocol.MAX_CLOCK_SKEW,
            "protocol_level": protocol.PROTOCOL_LEVEL,
            "min_protocol_level": protocol.MIN_PROTOCOL_LEVEL,
            "op_kinds": sorted(schemas.OP_PAYLOADS),
            "pull_kinds": sorted(schemas.PULL_DATA),
            "server_key": server_key,
        }

    @app.post(
        "/api/v1/enroll",
        response_model=EnrollResponse,
        responses={401: {"model": ErrorOut}, 409: {"model": ErrorOut},
                   429: {"model": ErrorOut, "description": "too many attempts from this address"}},
    )
    def enroll(req: EnrollRequest, request: Request) -> dict[str, Any]:
        try:
            protocol.decode_public_key(req.public_key)
        except ValueError as exc:
            raise ApiError(422, "invalid_input", f"public_key: {exc}") from None
        client = request.client.host if request.client is not None else "?"
        if enroll_limiter is not None:
            _refuse_if_waiting(enroll_limiter.wait_needed(client),
                               "too many enrollment attempts from this address; retry later")
        result = ops.redeem_enrollment_code(engine, req.code, req.public_key, req.device_name)
        if enroll_limiter is not None:
            enroll_limiter.refund(client)
        # its first pull comes next: its view's snapshot meanwhile
        first_pulls.prewarm(AuthDevice(str(result["device_id"]), int(result["person"]["id"]),
                                       str(result["person"]["role"]),
                                       tuple(int(g) for g in result["grids"])))
        with engine.begin() as conn:  # the key devices pin for the centre's commands
            result["server_key"] = identity.public_key_b64(conn)
        return result

    @app.get("/api/v1/households", response_model=HouseholdsResponse, responses=auth_errors)
    def list_households(
        device: Device, grid: Annotated[int, Query(ge=1, le=2**31 - 1)]
    ) -> dict[str, Any]:
        require_grid(device, grid)
        with engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    select(db.households)
                    .where(db.households.c.grid_id == grid)
                    .order_by(db.households.c.updated_seq)
                ).mappings()
            ]
            by_household: dict[str, list[dict[str, Any]]] = {r["id"]: [] for r in rows}
            member_rows = conn.execute(
                select(db.members)
                .join(db.households, db.households.c.id == db.members.c.household_id)
                .where(db.households.c.grid_id == grid)
                .order_by(db.members.c.household_id, db.members.c.id)
            ).mappings()
            for m in member_rows:
                by_household[m["household_id"]].append(dict(m))
        for r in rows:
            r["members"] = by_household[r["id"]]
            r["tags"] = r["tags"] or []  # null: stored by an update before null was refused
        return {"grid": grid, "households": rows}

    @app.get("/api/v1/tasks", response_model=TasksResponse, responses=auth_errors)
    def list_tasks(
        device: Device, grid: Annotated[int, Query(ge=1, le=2**31 - 1)]
    ) -> dict[str, Any]:
        require_grid(device, grid)
        with engine.connect() as conn:
            rows = conn.execute(
                select(db.tasks).where(db.tasks.c.grid_id == grid).order_by(db.tasks.c.updated_seq)
            ).mappings()
            return {"grid": grid, "tasks": [dict(r) for r in rows]}

    sync_errors: dict[int | str, dict[str, Any]] = {
        **auth_errors,
        503: {"model": ErrorOut, "description": "busy: retry after Retry-After seconds"},
        507: {"model": ErrorOut, "description": "insufficient_storage: the server's disk is "
              "full; nothing was stored, send it again later"},
    }

    @app.post(protocol.SYNC_PUSH_PATH, response_model=PushOut, responses=sync_errors,
              response_model_exclude_defaults=True)
    def sync_push(device: Device, req: PushIn) -> dict[str, Any]:
        """Apply ops at most once each; one result per op (see sync/protocol.py)."""
        op_list = [o.model_dump() for o in req.ops]
        try:
            results = syncops.push(engine, device, op_list)
        except syncops.PushBusy:
            raise ApiError(
                503, "busy", "the same ops are being applied by another request; retry",
                retry_after=1,
            ) from None
        syncops.note_photos_stored(engine, device, op_list, results)
        now = db.now_utc()
        return {"results": results, "server_time": db.iso(now), "unix_time": now.timestamp()}

    @app.post(protocol.SYNC_ANSWERS_PATH, response_model=AnswersOut, responses=sync_errors,
              response_model_exclude_defaults=True)
    def sync_answers(device: Device, req: AnswersIn) -> dict[str, Any]:
        """The answers kept for those of these ops the device pushed before, compact as
        to a retry; ops never applied are left out (a device whose push lost its answer
        asks this, then sends only the rest)."""
        results = syncops.stored_answers(engine, device.device_id, req.op_ids)
        now = db.now_utc()
        return {"results": results, "server_time": db.iso(now), "unix_time": now.timestamp()}

    @app.post(protocol.AUDIT_ANCHOR_PATH, response_model=AnchorOut, responses=sync_errors)
    def audit_anchor(device: Device, req: AnchorIn) -> dict[str, Any]:
        """The device's audit chain head: kept, and checked against the one kept last
        time (a chain that shrank or was rewritten is flagged for IT)."""
        answer = auditanchor.record(engine, device.device_id, auditanchor.Anchor(
            head_seq=req.head_seq, head_hash=req.head_hash, at_seq=req.at_seq,
            at_hash=req.at_hash, intact=req.intact,
            pin_failures_total=req.pin_failures_total))
        if req.recovery is not None:
            recovery.store(engine, device.device_id, req.recovery.nonce, req.recovery.code)
            answer["recovery_stored"] = True
        if req.status is not None:
            try:
                auditanchor.store_status(engine, device.device_id, req.status)
                answer["status_stored"] = True
            except schemas.SchemaError as exc:
                log.warning("device %s sent a status refused: %s", device.device_id,
                            exc.detail)
                answer["status_stored"] = False
        return answer

    @app.post(protocol.DEVICE_STATUS_PATH, response_model=StatusOut,
              responses={**sync_errors, 422: {"model": InvalidOut}})
    def device_status(device: Device, req: schemas.DeviceStatus) -> dict[str, Any]:
        """What the device still has to send, its update channel and secret store, for
        IT's fleet view (``central devices``); refused whole (422) when a value does not
        fit (sync.protocol, "device status"), and nothing is kept."""
        try:
            auditanchor.store_status(engine, device.device_id, req.model_dump())
        except schemas.SchemaError as exc:  # what the model lets through, bounds too
            raise ApiError(422, "invalid_input", f"device status: {exc.detail}") from None
        return {"stored": True}

    @app.post(protocol.RECOVERY_PATH, response_model=RecoveryOut, responses=sync_errors)
    def device_recovery(device: Device, req: RecoveryIn) -> dict[str, Any]:
        """The device's PIN recovery share, kept for IT (``central devices
        recovery-code``) to reset a forgotten PIN without losing unsent work."""
        recovery.store(engine, device.device_id, req.nonce, req.code)
        return {"stored": True}

    def pull_answer(check: SignedRequest, after: int, limit: int) -> Any:
        """The signature check and the pull, in one worker-thread trip: a response, or
        a page with changes for :class:`PullOut` to write."""
        quick = check.known_pull(after)
        if quick is not None:  # checked and looked in one statement
            device, looked = quick
            page = noop.pull(engine, device, after, limit, full=first_pulls.page,
                             looked=looked)
        else:
            device, taking = check.for_pull()
            # one cheap look when nothing is new (the rate-limit token taken in it);
            # else a first pull's snapshot, or the feed
            page = noop.pull(engine, device, after, limit, full=first_pulls.page,
                             taking=taking)
        now = db.now_utc()
        if isinstance(page, EncodedPage):  # a snapshot's rows, encoded once for all
            return Response(page.body(db.iso(now), now.timestamp()),
                            media_type="application/json")
        page = {**page, "server_time": db.iso(now), "unix_time": now.timestamp()}
        if not page["changes"]:  # the no-op: written here, as PullOut writes it
            return Response(empty_page_json(page), media_type="application/json")
        return page

    @app.get(protocol.SYNC_PULL_PATH, response_model=PullOut, responses=sync_errors)
    async def sync_pull(
        check: SignedCheck,
        after: Annotated[int, Query(ge=0, le=PULL_MAX_AFTER)] = 0,
        limit: Annotated[int, Query(ge=1, le=protocol.MAX_PULL_LIMIT)] = PULL_LIMIT,
    ) -> Any:
        """Changes in the device's grids after server sequence ``after``, oldest first.
        \f
        A well-formed request is answered by ``central.web.pullroute``, below this
        route, by the same code; this one answers the rest and documents it."""
        return await run_in_threadpool(pull_answer, check, after, limit)

    def fast_pull(request: RawRequest, after: int, limit: int) -> Response:
        """:func:`sync_pull` for ``central.web.pullroute``: the same work, with the
        answers FastAPI's response model and exception handlers would give."""
        try:
            answer = pull_answer(signed_request(app.state, request), after, limit)
            if isinstance(answer, Response):
                return answer
            return Response(PullOut.model_validate(answer).model_dump_json(),
                            media_type="application/json")
        except Exception as exc:  # every error is answered, as the app's handlers do
            return answer_error(exc)

    @app.post(protocol.PHOTOS_MISSING_PATH, response_model=MissingOut, responses=sync_errors)
    def photos_missing(device: Device, req: MissingIn) -> dict[str, Any]:
        """Which of these photo hashes the device should send, with resumable offsets
        (only photos it sent or its grids' records name count as here)."""
        return {"missing": photo_store.missing(engine, device.device_id, device.grids,
                                               req.hashes)}

    @app.put(
        protocol.PHOTO_CHUNK_PATH,
        response_model=ChunkOut,
        responses={**sync_errors, 400: {"model": ErrorOut}, 409: {"model": ErrorOut},
                   413: {"model": ErrorOut, "description": "photo_quota: the device's daily "
                         "photo quota is used up (or body_too_large)"},
                   422: {"model": ErrorOut},
                   507: {"model": ErrorOut, "description": "insufficient_storage: disk full"}},
        # the body is raw bytes, read from the request: say so, or no client can tell
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    async def photo_chunk(
        request: Request,
        device: Device,
        sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
        offset: Annotated[int, Query(ge=0, le=2**40)],
        total: Annotated[int, Query(ge=1, le=2**40)],
        chunk_sha: Annotated[str, Header(
            alias=protocol.HEADER_CHUNK_SHA256, pattern=r"^[0-9a-fA-F]{64}$",
            description="hex SHA-256 of this chunk's bytes")],
    ) -> dict[str, Any]:
        """One chunk of a photo (raw bytes; header X-Gridfield-Chunk-SHA256)."""
        body = await request.body()
        result: dict[str, Any] = await run_in_threadpool(
            photo_store.put_chunk, engine, device.device_id, device.grids, sha256, offset,
            total, body, chunk_sha,
        )
        return result

    @app.post(
        protocol.PHOTO_BUNDLE_PATH, response_model=BundleOut, response_model_exclude_none=True,
        responses={**sync_errors, 422: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"required": True, "content": {
            bundle.CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
    )
    async def photo_bundle(request: Request, device: Device) -> dict[str, Any]:
        """Pieces of several photos in one request (sync/protocol/bundle.py); one answer
        per piece, each as its chunk alone would have had."""
        body = await request.body()
        try:
            parts = bundle.decode(body, MAX_PHOTO_BYTES)
        except bundle.BundleError as exc:
            raise ApiError(422, "invalid_input", str(exc)) from None
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if limiter is not None:  # each part is the work of a chunk request
            await ratelimit.charge(limiter, device.device_id, len(parts) - 1)
        answers = await run_in_threadpool(_store_bundle, photo_store, engine, device, parts)
        now = db.now_utc()
        return {"parts": answers, "server_time": db.iso(now), "unix_time": now.timestamp()}

    _serve_updates(app, engine, update_dir)
    if fast_pulls:  # innermost: everything below still applies to it
        app.add_middleware(PullRoute, path=protocol.SYNC_PULL_PATH, handle=fast_pull,
                           max_after=PULL_MAX_AFTER, max_limit=protocol.MAX_PULL_LIMIT,
                           default_limit=PULL_LIMIT)
    app.add_middleware(BodyLimit, limit=max_body)
    # answers compressed for a device that asks (HTTP's Accept-Encoding); small ones are
    # not worth it
    app.add_middleware(GZipMiddleware, minimum_size=COMPRESS_MIN_BYTES, compresslevel=3)
    app.add_middleware(ProtocolLevel, max_body=max_body)
    if limits.max_waiting > 0:  # outermost: an overloaded server turns work away first
        app.add_middleware(LoadShedder, max_waiting=limits.max_waiting)
    _publish_schemas(app)
    return app


_METADATA_NAME = r"^([1-9][0-9]{0,9}\.)?(root|targets|snapshot|timestamp|config)\.json$"
_TARGET_NAME = (r"^[0-9a-f]{64}\.(gridfield-[A-Za-z0-9._-]{1,150}\.tar\.gz"
                r"|config-(u[1-9][0-9]{0,9}-)?[a-z_]{1,40}\.json)$")
RESIGN_CHECK_SECONDS = 60.0  # how often a request for timestamp.json checks its expiry
RESIGN_CHECK_ENV = "GRIDFIELD_CENTRAL_RESIGN_CHECK"  # seconds (tests freeze the timestamp)


def _serve_updates(app: FastAPI, engine: Engine, update_dir: Any) -> None:
    """The signed release repository, read-only: TUF metadata and the release archives
    (HTTP Range for resuming). No authentication: everything is signed, and an archive
    is the same for every device. The timestamp (and the snapshot) are re-signed here
    before they expire, checked at most once a minute when a device asks for them."""
    from central.updates.repository import Repository, default_update_dir

    repo = Repository(engine, FilePath(update_dir or default_update_dir(str(engine.url))))
    checked = [-1e18]
    lock = threading.Lock()
    every = float(os.environ.get(RESIGN_CHECK_ENV) or RESIGN_CHECK_SECONDS)

    def fresh() -> None:
        if time.monotonic() - checked[0] < every:
            return
        with lock:
            if time.monotonic() - checked[0] < every:
                return
            try:
                repo.refresh_online()
            except Exception as exc:  # serve what is there; the device judges expiry
                log.error("could not re-sign the update timestamp: %s", exc)
            checked[0] = time.monotonic()

    fresh()
    not_found = {404: {"model": ErrorOut, "description": "no such file"}}

    @app.get(releases.UPDATES_METADATA_PATH + "/{name}", responses=not_found,
             response_class=FileResponse)
    def update_metadata(
        name: Annotated[str, Path(pattern=_METADATA_NAME)],
    ) -> FileResponse:
        """Signed TUF metadata (``timestamp.json``, ``<version>.snapshot.json``...)."""
        if name == "timestamp.json":
            fresh()
        path = repo.metadata_file(name)
        if path is None:
            raise ApiError(404, "not_found", f"no update metadata {name}")
        return FileResponse(path, media_type="application/json",
                            headers={"Cache-Control": "no-cache"})

    @app.get(releases.UPDATES_TARGETS_PATH + "/{name}", responses=not_found,
             response_class=FileResponse)
    def update_target(
        name: Annotated[str, Path(pattern=_TARGET_NAME)],
    ) -> FileResponse:
        """A release archive by its hash (``Range: bytes=N-`` resumes a download), or a
        signed configuration file (``config-*.json``, central/updates/config.py)."""
        path = repo.target_file(name)
        if path is None:
            raise ApiError(404, "not_found", f"no update archive {name}")
        return FileResponse(path, media_type="application/json" if name.endswith(".json")
                            else "application/gzip")


def _publish_schemas(app: FastAPI) -> None:
    """Put every op kind's payload schema and every pull kind's data schema in
    ``/openapi.json`` (components ``Op_<kind>``, ``Pull_<kind>``), and describe an op's
    payload and a change's data as one of them."""
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = base_openapi()
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        components.update(schemas.openapi_components())
        ops = [{"$ref": f"#/components/schemas/Op_{k.replace('.', '_')}"}
               for k in schemas.OP_PAYLOADS]
        pulls = [{"$ref": f"#/components/schemas/Pull_{k}"} for k in schemas.PULL_DATA]
        if "OpIn" in components:
            components["OpIn"]["properties"]["payload"] = {
                "anyOf": ops, "description": "the schema of the op's kind"}
            components["OpIn"]["properties"]["kind"]["enum"] = list(schemas.OP_PAYLOADS)
        if "ChangeOut" in components:
            components["ChangeOut"]["properties"]["data"] = {
                "anyOf": pulls, "description": "the schema of the change's kind"}
        _document_common_errors(doc)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _json_error(description: str, component: str = "ErrorOut") -> dict[str, Any]:
    return {"description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}}}


def _document_common_errors(doc: dict[str, Any]) -> None:
    """The answers every operation can give whatever it is (the middleware's and the
    validation handler's), in the shape the server really sends: a client reading the
    document must not meet an undocumented status or FastAPI's ``{"detail"}`` shape.
    A signed operation needs all four signature headers at once."""
    components = doc["components"]["schemas"]
    for model in (ErrorOut, ProblemOut, InvalidOut):
        schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)  # each of them is a component of its own
        components[model.__name__] = schema
    for item in doc["paths"].values():
        for operation in item.values():
            if operation.get("security"):  # FastAPI lists each header as an alternative
                operation["security"] = [
                    {name: [] for requirement in operation["security"] for name in requirement}]
            responses = operation.setdefault("responses", {})
            if "422" in responses:  # FastAPI's HTTPValidationError is not what is sent
                responses["422"] = _json_error("invalid input", "InvalidOut")
            responses.setdefault("400", _json_error("malformed JSON or Content-Length"))
            responses.setdefault("413", _json_error("request body too large"))
            responses.setdefault("426", _json_error(
                "protocol level no longer served: update the app"))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
