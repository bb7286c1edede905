"""The sync engine: enrollment, push of the outbox, pull of the change feed. Qt-free.

For the GUI and ``fieldclient sync``::

    engine = SyncEngine(session)                 # transport made from the enrollment
    report = engine.run_once(progress_callback)  # one full sync; never raises for
                                                 # network/server trouble: see report.error
    engine.pending_counts()      # {"household.update": 2, ...} ops waiting to go
    engine.last_success()        # server time (Unix) of the last complete sync, or None
    engine.set_aside()           # ops the server refused for good, with the reason
    engine.conflicts()           # open conflicts of the device's grids
    engine.resolve_conflict(conflict_id, "kept" | "other")  # leader only; synced later
    engine.clock_skew()          # device minus server seconds (None: unknown)
    engine.clock_warning()       # True when the device clock is > 5 min off
    engine.waiting_for_server()  # pending ops the server answered retry_later, by kind
    engine.held_rows()           # pulled rows kept aside (unknown kind, failed here)
    engine.server_protocol()     # the server's protocol level as last declared
    engine.can_resolve()         # True for a grid leader's device
    SyncSchedule().next_delay(report)  # seconds until the next automatic run

``run_once`` pushes only when ops are pending, then pulls pages until the server
says ``has_more: false``: a sync with nothing to do is one small GET. Each page's
rows and the new cursor are written in one SQLCipher transaction; each push
batch's results likewise. An interrupted run loses nothing: the next one resumes
(ops the server already applied come back as ``duplicate``).

Version skew (see :mod:`sync.protocol`): an op answered ``retry_later`` stays pending
(marked ``retry_later_at``), is not sent again in the same run and holds nothing
back; the next run offers it again. A pulled row is checked first
(:func:`validate_pulled_row`) and applied in its own savepoint; a row of a kind this
app does not know, or one that fails here, is kept raw in ``sync_held`` while the
cursor moves on, and is applied at the start of a later pull: unknown kinds once the
app knows them, failed rows once per app version (:meth:`SyncEngine._apply_held`).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, cast

import sqlcipher3.dbapi2 as cipher_dbapi
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from fieldclient.errors import FieldClientError
from fieldclient.fieldwork import reviews, serverconfig
from fieldclient.fieldwork.enrollment import Enrollment, enrollment, signing_key
from fieldclient.fieldwork.enrollment import meta_get as _meta_get
from fieldclient.fieldwork.enrollment import meta_set as _meta_set
from fieldclient.security import audit
from fieldclient.security.vault import Vault
from fieldclient.storage.session import Session
from sync import protocol
from sync.errors import (
    AlreadyEnrolled,
    AuthRefused,
    ConnectionDropped,
    DeviceRevoked,
    NotEnrolled,
    NotLeader,
    RevokedUploading,
    ServerBusy,
    ServerFailed,
    ServerKeyMismatch,
    ServerTimeout,
    ServerUnreachable,
    SyncCancelled,
    SyncError,
    UnknownConflict,
    UpgradeRequired,
)
from sync.link import LinkState
from sync.protocol import bundle, schemas
from sync.pulled_visits import save_pulled_visit
from sync.transport import (
    HttpTransport,
    Transport,
    app_version,
    enroll,
    normalize_server_url,
    skew_headers,
)

HOUSEHOLD_COLUMNS = ("head_name", "address", "category", "phone", "id_number", "tags")
CLOCK_WARN_SECONDS = protocol.MAX_CLOCK_SKEW
PULL_CACHE_KIB = 64 * 1024  # SQLCipher page cache while pulling (default: 2 MiB)
PULL_CHECKPOINT_PAGES = 10_000  # WAL auto-checkpoint while pulling (default: 1,000)
# Pull pages written per transaction: households have random ids, so every page dirties
# most index leaves; one commit for several pages writes each of them once. Bounded in
# time too, so the GUI's own writes (same database, 5 s busy timeout) wait at most that.
PULL_PAGES_PER_COMMIT = 10
PULL_SECONDS_PER_COMMIT = 1.0
HELD_UNKNOWN_KIND = "unknown_kind"  # sync_held.reason: a kind newer than this app
HELD_FAILED = "failed"  # sync_held.reason: applying it raised here
HELD_REPORT_LIMIT = 100  # held rows listed in a report (all are counted)
CONFIG_CHECK_SECONDS = 600.0  # signed configuration checks at most this often
UPDATE_CHECK_SECONDS = 3600.0  # release checks at most this often (unless fetching one)
# Errors of the database itself (locked, disk full, I/O): never the row's fault, so
# they stop the page (rolled back, nothing lost) instead of quarantining the row.
_ENVIRONMENT_ERRORS = (sqlite3.OperationalError, sqlite3.InternalError,
                       cipher_dbapi.OperationalError, cipher_dbapi.InternalError, MemoryError)


# -- enrollment ----------------------------------------------------------------------------
def enroll_device(
    session: Session,
    server_url: str,
    code: str,
    device_name: str = "gridfield",
    timeout: tuple[float, float] = (10.0, 60.0),
    key_fingerprint: str | None = None,
    tls_fingerprint: str | None = None,
) -> Enrollment:
    """Make an Ed25519 key pair, trade ``code`` for a device id, store all of it in the
    encrypted database (the private key never touches the disk in clear), and pin the
    centre's command key from the answer. ``key_fingerprint`` (from the enrollment QR)
    must match that key, or nothing is stored (:class:`ServerKeyMismatch`)."""
    base = normalize_server_url(server_url)
    current = enrollment(session)
    if current is not None:
        raise AlreadyEnrolled(current.server_url)
    tls_pin = None
    if base.startswith("https://"):  # pinned from here on (sync/tls.py)
        from sync.tls import certificate_sha256

        tls_pin = certificate_sha256(base, tls_fingerprint, timeout=timeout[0])
    key = Ed25519PrivateKey.generate()
    answer = enroll(base, code, protocol.public_key_b64(key), device_name, timeout,
                    tls_pin=tls_pin)
    server_key = answer.get("server_key")
    try:
        fingerprint = protocol.key_fingerprint(server_key) if isinstance(
            server_key, str) else None
    except (ValueError, UnicodeError):
        fingerprint = None
    if key_fingerprint is not None and fingerprint != key_fingerprint.strip().lower():
        raise ServerKeyMismatch()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    person = answer["person"]
    with session.db.conn:
        if fingerprint is not None:
            _meta_set(session, "server_key", str(server_key))
        if tls_pin is not None:
            _meta_set(session, "tls_pin", tls_pin)
        _meta_set(session, "server_url", base)
        _meta_set(session, "device_id", str(answer["device_id"]))
        _meta_set(session, "private_key", raw.hex())
        _meta_set(session, "person", json.dumps(person, ensure_ascii=False))
        _meta_set(session, "grids", json.dumps(answer["grids"]))
        _meta_set(session, "cursor", "0")
        session.audit.append(
            audit.SYNC_ENROLLED,
            {"server": base, "device_id": answer["device_id"], "person": person.get("id")},
        )
    result = enrollment(session)
    assert result is not None
    return result


def transport_for(session: Session, **kwargs: Any) -> HttpTransport:
    """An :class:`HttpTransport` from the stored enrollment (NotEnrolled otherwise)."""
    info = enrollment(session)
    key = signing_key(session)  # no str/bytes copy of the key left behind
    if info is None or key is None:
        raise NotEnrolled()
    offset = float(_meta_get(session, "clock_offset") or 0.0)
    level = _meta_get(session, "server_protocol")
    kwargs.setdefault("server_protocol", int(level) if level and level.isdigit() else None)
    kwargs.setdefault("server_key", _meta_get(session, "server_key"))
    kwargs.setdefault("tls_pin", _meta_get(session, "tls_pin"))
    counter = _meta_get(session, "last_command") or "0"
    kwargs.setdefault("last_command", int(counter) if counter.isdigit() else 0)
    return HttpTransport(info.server_url, info.device_id, key, clock_offset=offset, **kwargs)


# -- reports ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncProgress:
    """``phase`` is ``push`` or ``pull``; ``done``/``total`` count records (total may be
    None while unknown)."""

    phase: str
    done: int
    total: int | None


@dataclass
class SyncReport:
    ok: bool = False
    pushed: dict[str, int] = field(default_factory=dict)  # by op status
    pulled: dict[str, int] = field(default_factory=dict)  # by record kind
    new_conflicts: int = 0
    open_conflicts: int = 0
    newly_set_aside: list[dict[str, Any]] = field(default_factory=list)
    set_aside_total: int = 0
    pending: int = 0
    photos_uploaded: int = 0
    photos_already_on_server: int = 0
    photo_bytes_sent: int = 0
    photos_waiting: int = 0
    requests: int = 0
    clock_skew: float | None = None  # device minus server, seconds
    clock_warning: bool = False
    server_time: float | None = None
    server_protocol: int | None = None  # the server's level as it declared it
    server_min_protocol: int | None = None
    waiting_for_server: int = 0  # pending ops the server answered retry_later
    held_new: int = 0  # pulled rows set aside in this run
    held_applied: int = 0  # rows set aside earlier and applied in this run
    held_total: int = 0
    held: list[dict[str, Any]] = field(default_factory=list)  # newest, at most 100
    steps: dict[str, str] = field(default_factory=dict)  # push/pull/photos: ok or error code
    left: dict[str, Any] = field(default_factory=dict)  # what is still to send (backlog())
    bytes_sent: int = 0  # request bodies on the wire (compressed where they were)
    bytes_received: int = 0
    error: FieldClientError | None = None
    wiped: bool = False
    cancelled: bool = False  # stopped on request (lock, quit): nothing lost, not an error
    update: dict[str, Any] | None = None  # the release check's outcome, when one ran
    config: dict[str, Any] | None = None  # the signed configuration's outcome, when checked

    def error_message(self, language: str | None = None) -> str | None:
        return None if self.error is None else self.error.message(language)

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pushed": dict(self.pushed),
            "pulled": dict(self.pulled),
            "new_conflicts": self.new_conflicts,
            "open_conflicts": self.open_conflicts,
            "newly_set_aside": list(self.newly_set_aside),
            "set_aside_total": self.set_aside_total,
            "pending": self.pending,
            "photos_uploaded": self.photos_uploaded,
            "photos_already_on_server": self.photos_already_on_server,
            "photo_bytes_sent": self.photo_bytes_sent,
            "photos_waiting": self.photos_waiting,
            "requests": self.requests,
            "clock_skew_seconds": self.clock_skew,
            "clock_warning": self.clock_warning,
            "server_time": self.server_time,
            "server_protocol": self.server_protocol,
            "server_min_protocol": self.server_min_protocol,
            "protocol": protocol.PROTOCOL_LEVEL,
            "app_version": app_version(),
            "waiting_for_server": self.waiting_for_server,
            "held": {"new": self.held_new, "applied": self.held_applied,
                     "total": self.held_total, "rows": list(self.held)},
            "steps": dict(self.steps),
            "left": dict(self.left),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "error": None if self.error is None else getattr(self.error, "code", "error"),
            "error_message": self.error_message(language),
            "wiped": self.wiped,
            "update": self.update,
            "config": self.config,
        }


@dataclass
class RetryPolicy:
    """Randomized exponential backoff ("full jitter"), honouring Retry-After."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, error: SyncError) -> float:
        if isinstance(error, ServerBusy):
            return float(min(self.max_retry_after, error.retry_after) + self.rng() * 0.5)
        return float(self.rng() * min(self.max_delay, self.base_delay * 2.0 ** attempt))


ProgressCallback = Callable[[SyncProgress], None]


@dataclass
class SyncSchedule:
    """When to run the next automatic sync (the GUI drives a QTimer with it).

    After a success: ``interval``. After a failure: randomized exponential backoff
    from ``base`` up to ``max_delay``, or the server's Retry-After. A regained
    network connection (``connectivity_regained``) means: sync now.
    """

    interval: float = 15 * 60.0
    base: float = 30.0
    max_delay: float = 30 * 60.0
    rng: Callable[[], float] = random.random
    failures: int = 0

    def next_delay(self, report: SyncReport) -> float | None:
        """Seconds until the next automatic run; None: stop (device wiped)."""
        if report.wiped:
            return None
        if report.ok:
            self.failures = 0
            return self.interval
        self.failures += 1
        if isinstance(report.error, ServerBusy):
            return float(report.error.retry_after) + self.rng() * self.base
        if report.error is not None and not getattr(report.error, "retryable", False):
            return self.max_delay  # needs a person (e.g. authentication refused)
        ceiling = min(self.max_delay, self.base * 2.0 ** (self.failures - 1))
        return float(ceiling * (0.5 + 0.5 * self.rng()))

    def connectivity_regained(self) -> float:
        self.failures = 0
        return 0.0


ANCHOR_META = "sync.audit_anchor"  # the centre's last answer to an audit anchor
STATUS_META = "device_status"  # the status the centre last kept, and when


def _anchor_kept(session: Session) -> dict[str, Any]:
    try:
        kept = json.loads(_meta_get(session, ANCHOR_META) or "{}")
    except ValueError:
        return {}
    if not isinstance(kept, dict) or not isinstance(kept.get("anchored"), int):
        return {}
    return kept


def _registered_at(data: dict[str, Any]) -> float:
    """A pulled household's ``created_at`` here: when the centre first knew it (quota
    due dates count from it), 0 when the centre does not know (on the roster since
    before it kept that: due and overdue like any household)."""
    value = data.get("registered_at")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 0.0


def _position(data: dict[str, Any]) -> tuple[float | None, float | None]:
    """A pulled household's known position (WGS-84; the review's far-from-home check),
    (None, None) when the centre has none or it is not a valid one."""
    lat, lon = data.get("lat"), data.get("lon")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lat, lon)):
        return None, None
    assert isinstance(lat, int | float) and isinstance(lon, int | float)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return float(lat), float(lon)


class _FreshHouseholds:
    """Pulled households new on this device while none of its household or member ops
    is pending: the rows :meth:`SyncEngine._save_household` would write, gathered for
    one executemany per table."""

    def __init__(self) -> None:
        self.households: list[tuple[Any, ...]] = []
        self.members: list[tuple[Any, ...]] = []
        self.rows: list[tuple[int, str, dict[str, Any]]] = []  # (seq, record id, data)

    def add(self, data: dict[str, Any], now: float, seq: int, record_id: str) -> None:
        """Queue one household; raises (adding nothing) when the row lacks a field."""
        synced: dict[str, Any] = {name: data.get(name) for name in HOUSEHOLD_COLUMNS}
        synced["version"] = int(data["version"])
        synced["grid_id"] = str(data["grid_id"])
        if isinstance(data.get("members"), list):
            synced["members"] = data["members"]
        household_id = data["id"]
        household = (
            household_id, synced["grid_id"], data["head_name"], data["address"],
            data["category"], data.get("phone"), data.get("id_number"),
            json.dumps(data.get("tags") or [], ensure_ascii=False), synced["version"],
            _registered_at(data), now, json.dumps(synced, ensure_ascii=False),
            *_position(data))
        members = synced.get("members")
        rows: list[tuple[Any, ...]] = []
        if isinstance(members, list):
            # no DELETE of old members first: the household is new here and
            # members.household_id references households(id) (foreign_keys = ON)
            rows = [
                (m["id"], household_id, m["name"], m.get("relation"), m.get("id_number"),
                 m.get("phone"), m.get("residence"), int(m.get("version") or 0), now, now)
                for m in {m["id"]: dict(m) for m in members}.values()
            ]
        self.households.append(household)
        self.members.extend(rows)
        self.rows.append((seq, record_id, data))

    def clear(self) -> None:
        self.households, self.members, self.rows = [], [], []

    def write(self, conn: Any) -> None:
        if self.households:
            conn.executemany(
                "INSERT INTO households (id, grid_id, head_name, address, category, phone,"
                " id_number, tags, version, created_at, updated_at, synced, lat, lon)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                self.households,
            )
        if self.members:
            conn.executemany(
                "INSERT INTO members (id, household_id, name, relation, id_number, phone,"
                " residence, version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                self.members,
            )
        self.clear()


@dataclass
class _PageState:
    """What the rows of one pull page (or one batch of held rows) share."""

    now: float
    local_edits: bool  # a household or member op of this device is pending
    known: set[str]  # ids of households on this device (all of the page's: looked_up)
    looked_up: bool
    fresh: _FreshHouseholds | None  # new households batched (None: one by one)
    held_keys: set[tuple[str, str]]  # (kind, record id) with rows in sync_held


def _safe_text(value: Any, limit: int = 500) -> str:
    """Text that can always be stored (a lone surrogate escaped), bounded."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


def _error_text(exc: BaseException) -> str:
    return _safe_text(f"{type(exc).__name__}: {exc}")


def _row_key(change: Any, fallback_seq: int) -> tuple[int, str, str]:
    """(seq, kind, record id) of a pulled row, whatever its shape, to keep it by."""
    if not isinstance(change, dict):
        return fallback_seq, "?", ""
    seq = change.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        seq = fallback_seq
    data = change.get("data")
    record_id = change.get("id")
    if record_id is None and isinstance(data, dict):
        record_id = data.get("id")
    return seq, _safe_text(change.get("kind"), 100), _safe_text(
        "" if record_id is None else record_id, 200)


def _answers_by_op(results: Any) -> dict[str, protocol.OpResult]:
    """The server's answers to pushed ops by op id, only those of the documented shape
    (an object with a known ``status``, ``original`` an object or absent): an answer of
    any other shape (a broken or hostile server) leaves its op pending, never done."""
    by_id: dict[str, protocol.OpResult] = {}
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict) or not isinstance(result.get("op_id"), str):
            continue
        if result.get("status") not in protocol.OP_STATUSES:
            continue
        original = result.get("original")
        if original is not None and not (isinstance(original, dict) and (
                original.get("status") is None or original["status"] in protocol.OP_STATUSES)):
            continue
        reason = result.get("reason")
        if reason is not None and not isinstance(reason, str):
            continue
        by_id.setdefault(result["op_id"], cast(protocol.OpResult, result))
    return by_id


def _bad_answer(what: str) -> ServerFailed:
    """An answer that does not fit the request it answers (a broken or hostile server,
    or something else at its address): the step stops, nothing is marked done."""
    return ServerFailed(200, f"the server's answer does not fit the request ({what})",
                        error="bad_answer")


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fits(offset: int | None, complete: bool, start: int, length: int, size: int) -> bool:
    """Whether a stored piece's answer can be right: a photo complete is held whole
    (``offset`` its size, whatever the piece: the centre may have held it already);
    else the centre holds it past the piece's start, within the piece, short of whole."""
    if offset is None:
        return False
    if complete:
        return offset == size
    return start < offset <= min(start + length, size - 1)


def _missing_offsets(entries: Any) -> dict[str, int]:
    """``/photos/missing``'s answer as {sha256: offset}. An entry of no shape stops the
    step (ignoring it would count its photo as held by the centre); an offset of no
    shape is 0 (the server corrects it with ``offset_mismatch``)."""
    if not isinstance(entries, list):
        raise _bad_answer("missing is not a list")
    out: dict[str, int] = {}
    for entry in entries:
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or len(sha) != 64:
            raise _bad_answer("a missing photo without its sha256")
        offset = _whole(entry.get("offset", 0))
        out[sha] = offset if offset is not None and offset >= 0 else 0
    return out


def _schema_problem(op: protocol.Op) -> str | None:
    """Why the protocol's schema refuses an op this device is about to send (so it is
    set aside at once, as the server would), or None. A kind this build has no schema
    for goes as it is: the server decides (``retry_later`` when it is newer)."""
    if op["kind"] not in schemas.OP_PAYLOADS:
        return None
    try:
        schemas.check_op_payload(op["kind"], op["payload"])
    except schemas.SchemaError as exc:
        return f"checked on this device: {exc.detail}"
    return None


def validate_pulled_row(change: Any) -> tuple[str, str] | None:
    """Why this device cannot apply a pulled row, as ``(reason, detail)``, or None.

    The one gate every pulled row passes before it is applied (held rows too): today
    the kind must be one this app understands (:data:`PULL_APPLIERS`; else
    ``unknown_kind``: kept for after the app's upgrade) and ``data`` must be an object
    naming its record (else ``failed``), and it must fit its kind's schema
    (:mod:`sync.protocol.schemas`; else ``failed``, with the field that does not).
    """
    if not isinstance(change, dict):
        return HELD_FAILED, "row is not an object"
    kind = change.get("kind")
    if not isinstance(kind, str) or kind not in PULL_APPLIERS:
        return HELD_UNKNOWN_KIND, _safe_text(f"kind {kind!r} is unknown to this app")
    data = change.get("data")
    if not isinstance(data, dict):
        return HELD_FAILED, "data is not an object"
    name = "key" if kind == "config" else "id"
    if not isinstance(data.get(name), str) or not data[name]:
        return HELD_FAILED, f"data.{name} is missing"
    if kind in schemas.PULL_DATA:
        try:
            # no bounds walk: a row with a NUL or a lone surrogate fails in its own
            # savepoint and is held like any row that fails here
            schemas.check_change(change, bounds=False)
        except schemas.SchemaError as exc:
            return HELD_FAILED, _safe_text(exc.detail)
    return None


def _fresh_add(fresh: _FreshHouseholds, data: dict[str, Any], now: float, seq: int,
               record_id: str) -> str | None:
    """Queue a new household; the error when the row cannot be queued."""
    try:
        fresh.add(data, now, seq, record_id)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _error_text(exc)
    return None


@contextmanager
def _uncommitted(conn: Any) -> Iterator[None]:
    """Statements that stay in the open transaction; an error rolls it back."""
    try:
        yield
    except BaseException:
        conn.rollback()
        raise


# -- the engine ------------------------------------------------------------------------

@dataclass
class _Upload:
    """One photo on its way: where the server has it up to."""

    sha: str
    blob_id: str
    size: int
    offset: int
    data: bytes = b""
    complete: bool = False
    restarted: bool = False  # started over once after the server found it damaged


@dataclass
class _PhotoProgress:
    total: int
    sent: int
    callback: ProgressCallback | None

    def add(self, n: int) -> None:
        self.sent = min(self.total, self.sent + n)
        if self.callback:
            self.callback(SyncProgress("photos", self.sent, self.total))


def _body_room(transport: Transport, overhead: int) -> int:
    """The largest request body worth building for this server (its declared limit
    less ``overhead`` for what wraps the data); unbounded when it declares none."""
    limit = getattr(transport, "server_max_body", None)
    return max(1024, int(limit) - overhead) if isinstance(limit, int) else 2**31


def _too_large(exc: SyncError) -> bool:
    """The server's body limit refused the request: a smaller one goes through."""
    return getattr(exc, "status", None) == 413 and getattr(exc, "extra", {}).get(
        "error") == "body_too_large"


# Errors that no other step of the same run could get past.
_FATAL = (DeviceRevoked, SyncCancelled, AuthRefused, UpgradeRequired)


class SyncEngine:
    def __init__(
        self,
        session: Session,
        transport: Transport | None = None,
        *,
        retry: RetryPolicy | None = None,
        batch_size: int = protocol.MAX_PUSH_OPS,
        batch_bytes: int = 400_000,
        page_size: int = protocol.MAX_PULL_LIMIT,
        chunk_size: int = protocol.DEFAULT_CHUNK_SIZE,
        cancel: threading.Event | None = None,
    ) -> None:
        self.session = session
        # Set from any thread to stop a run at the next step (batch, chunk, page).
        self.cancel_event = cancel if cancel is not None else threading.Event()
        self._transport = transport
        self.retry = retry or RetryPolicy()
        self.batch_size = max(1, min(batch_size, protocol.MAX_PUSH_OPS))
        self.batch_bytes = batch_bytes  # stay well under the server's body limit
        self.chunk_size = max(1024, chunk_size)
        self.page_size = max(1, min(page_size, protocol.MAX_PULL_LIMIT))
        # (kind, record id) of the rows in sync_held, loaded once per pull
        self._held_keys: set[tuple[str, str]] | None = None
        self._photo_stored: dict[str, bool] = {}  # sha256: held by the centre (this run)
        self._no_answers = False  # this run: the server has no /sync/answers after all
        self.link = LinkState()  # loaded at each run
        self.update_interval = UPDATE_CHECK_SECONDS
        self.config_interval = CONFIG_CHECK_SECONDS
        self._config_checked = -1e18

    # -- facts for the UI ------------------------------------------------------------
    def enrollment(self) -> Enrollment | None:
        return enrollment(self.session)

    def pending_counts(self) -> dict[str, int]:
        """Ops waiting to go, by kind; photo files waiting under the key ``photo``."""
        rows = self.session.db.execute(
            "SELECT kind, count(*) FROM outbox WHERE state = 'pending' GROUP BY kind ORDER BY kind"
        ).fetchall()
        counts = {str(k): int(n) for k, n in rows}
        photos = self._photos_waiting()
        if photos:
            counts["photo"] = photos
        return counts

    def _photos_waiting(self) -> int:
        row = self.session.db.execute(
            "SELECT count(DISTINCT b.sha256) FROM blobs b LEFT JOIN photo_uploads u"
            " ON u.sha256 = b.sha256 WHERE u.state IS NULL OR u.state = 'pending'"
        ).fetchone()
        return int(row[0])

    def last_success(self) -> float | None:
        value = _meta_get(self.session, "last_success")
        return None if value is None else float(value)

    def cursor(self) -> int:
        return int(_meta_get(self.session, "cursor") or 0)

    def clock_skew(self) -> float | None:
        value = _meta_get(self.session, "clock_offset")
        return None if value is None else -float(value)

    def clock_warning(self) -> bool:
        skew = self.clock_skew()
        return skew is not None and abs(skew) > CLOCK_WARN_SECONDS

    def waiting_for_server(self) -> dict[str, int]:
        """Pending ops the server answered ``retry_later`` (it cannot take their kind
        yet), by kind: kept here and offered again at every sync."""
        rows = self.session.db.execute(
            "SELECT kind, count(*) FROM outbox WHERE state = 'pending'"
            " AND retry_later_at IS NOT NULL GROUP BY kind ORDER BY kind"
        ).fetchall()
        return {str(k): int(n) for k, n in rows}

    def held_count(self) -> int:
        return int(self.session.db.execute("SELECT count(*) FROM sync_held").fetchone()[0])

    def held_rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Pulled rows kept aside (not their data), newest first: ``reason``
        ``unknown_kind`` (waits for the app's upgrade) or ``failed`` (``error`` says
        why; tried again after the next upgrade)."""
        rows = self.session.db.execute(
            "SELECT seq, kind, record_id, reason, error, held_at, tried_version, tries"
            " FROM sync_held ORDER BY seq DESC, kind, record_id LIMIT ?",
            (-1 if limit is None else int(limit),),
        ).fetchall()
        keys = ("seq", "kind", "record_id", "reason", "error", "held_at", "tried_version",
                "tries")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def server_protocol(self) -> int | None:
        """The protocol level the server last declared (None: never declared one)."""
        value = _meta_get(self.session, "server_protocol")
        return None if value is None else int(value)

    def set_aside(self) -> list[dict[str, Any]]:
        """Ops the server refused for good (never retried), newest last."""
        rows = self.session.db.execute(
            "SELECT op_id, kind, record_id, payload, reason, done_at FROM outbox "
            "WHERE state = 'rejected' ORDER BY rowid"
        ).fetchall()
        return [
            {"op_id": r[0], "kind": r[1], "record_id": r[2], "payload": json.loads(r[3]),
             "reason": r[4], "at": r[5]}
            for r in rows
        ]

    def conflicts(self, include_resolved: bool = False) -> list[dict[str, Any]]:
        """Conflicts of the device's grids: the kept value, the other value, who and when."""
        where = "" if include_resolved else "WHERE c.status = 'open'"
        rows = self.session.db.execute(
            "SELECT c.id, c.household_id, h.head_name, h.address, c.field, c.kept_value, "
            "c.other_value, c.kept_device, c.kept_person, c.other_device, c.other_person, "
            "c.status, c.choice, c.local_choice, c.created_at, c.resolved_at, c.server_seq, "
            "c.member_id, m.name, c.kept_person_name, c.other_person_name "
            "FROM sync_conflicts c LEFT JOIN households h ON h.id = c.household_id "
            f"LEFT JOIN members m ON m.id = c.member_id {where} "
            "ORDER BY c.server_seq"
        ).fetchall()
        keys = ("id", "household_id", "head_name", "address", "field", "kept_value",
                "other_value", "kept_device", "kept_person", "other_device", "other_person",
                "status", "choice", "local_choice", "created_at", "resolved_at", "server_seq",
                "member_id", "member_name", "kept_person_name", "other_person_name")
        out = []
        for r in rows:
            item = dict(zip(keys, r, strict=True))
            item["kept_value"] = json.loads(item["kept_value"])
            item["other_value"] = json.loads(item["other_value"])
            out.append(item)
        return out

    def can_resolve(self) -> bool:
        info = self.enrollment()
        return info is not None and info.role == "leader"

    def resolve_conflict(self, conflict_id: str, choice: str) -> str:
        """The grid leader's decision: ``kept`` or ``other``; queued as a
        ``conflict.resolve`` op (applied once on the server, then synced to all)."""
        if choice not in protocol.CONFLICT_CHOICES:
            raise ValueError("choice must be 'kept' or 'other'")
        if not self.can_resolve():
            raise NotLeader()
        with self.session.db.conn:
            row = self.session.db.execute(
                "SELECT status, local_choice FROM sync_conflicts WHERE id = ?", (conflict_id,)
            ).fetchone()
            if row is None or row[0] != "open" or row[1] is not None:
                raise UnknownConflict()
            self.session.db.execute(
                "UPDATE sync_conflicts SET local_choice = ? WHERE id = ?", (choice, conflict_id)
            )
            op_id = self.session.enqueue("conflict.resolve", conflict_id, {"choice": choice})
            self.session.audit.append(
                audit.CONFLICT_RESOLVED, {"conflict": conflict_id, "choice": choice}
            )
        return op_id

    # -- one run -------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask a running ``run_once`` (on another thread) to stop at the next step."""
        self.cancel_event.set()

    def _check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise SyncCancelled()

    def run_once(self, progress: ProgressCallback | None = None) -> SyncReport:
        """One sync in three steps, in the order a worker needs them: the records
        (small), then the pull (tasks, event status, colleagues' work), then the photos
        (large). A step that fails does not stop the ones after it: its error is in
        ``report.steps`` and the first one in ``report.error`` (translated message),
        never raised. Nothing a step finished is lost when a later one fails, and what a
        step sent before a drop counts (the next run goes on from there). A revoked
        device is crypto-erased here (``report.wiped``) and the session closed."""
        report = SyncReport()
        transport = self._transport
        self.link = LinkState.load(self.session)
        self._photo_stored = {}
        self._no_answers = False
        counted = (0, 0)
        try:
            if transport is None:
                transport = transport_for(self.session)
                self._transport = transport
            counted = (getattr(transport, "bytes_sent", 0), getattr(transport, "bytes_received", 0))
            steps: list[tuple[str, Callable[..., None]]] = []
            if self.session.pending_uploads():
                steps.append(("push", self._push_all))
            steps.append(("pull", self._pull_all))
            if self._photos_waiting():
                steps.append(("photos", self._upload_photos))
            for name, step in steps:
                try:
                    step(transport, report, progress)
                    report.steps[name] = "ok"
                except _FATAL:
                    raise
                except SyncError as exc:
                    report.steps[name] = str(getattr(exc, "code", "error"))
                    if report.error is None:
                        report.error = exc
                    if type(exc) is ServerUnreachable:  # nothing answers at all: stop
                        break
            if type(report.error) is not ServerUnreachable:
                self._anchor_audit(transport, report)
                self._escrow_recovery(transport, report)
                self._report_status(transport, report)
            report.ok = report.error is None
            if report.ok:
                self._pin_server_key(transport)
                self._check_update(transport, report)
                self._check_config(transport, report)
        except SyncCancelled:
            report.cancelled = True
        except DeviceRevoked as exc:
            if self._upload_before_wipe(transport, report, progress):
                report.error = exc
                report.wiped = True
                data_dir = self.session.paths.root
                self.session.close()
                Vault(data_dir).erase("remote_wipe")
                return report
            report.error = RevokedUploading()
        except SyncError as exc:
            report.error = exc
        finally:
            if isinstance(transport, HttpTransport):
                report.requests = transport.requests_made
                report.bytes_sent = transport.bytes_sent - counted[0]
                report.bytes_received = transport.bytes_received - counted[1]
                transport.requests_made = 0
            if self.session.is_open:
                self.link.save(self.session)
        if transport is not None:
            self._record_clock(transport, report)
            self._record_levels(transport, report)
        report.pending = self.session.pending_uploads()
        report.photos_waiting = self._photos_waiting()
        report.set_aside_total = len(self.set_aside())
        report.open_conflicts = len(self.conflicts())
        report.waiting_for_server = sum(self.waiting_for_server().values())
        report.held_total = self.held_count()
        report.held = self.held_rows(HELD_REPORT_LIMIT)
        report.left = self.backlog()
        return report

    def _upload_before_wipe(self, transport: Transport | None, report: SyncReport,
                            progress: ProgressCallback | None) -> bool:
        """A verified wipe arrived: True when the device is to erase itself now. When
        the signed command asks for it (``upload_until``, sync.protocol), the records,
        photos and audit head go up first; what does not get through waits for the next
        sync, until the window closes or the centre refuses the upload."""
        command = getattr(transport, "command", None)
        until = command.get("upload_until") if isinstance(command, dict) else None
        if transport is None or not isinstance(until, str):
            return True
        try:
            deadline = datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return True
        offset = float(_meta_get(self.session, "clock_offset") or 0.0)
        if self.session.clock() + offset >= deadline:
            return True
        try:
            if self.session.pending_uploads():
                self._push_all(transport, report, progress)
                report.steps["push"] = "ok"
            if self._photos_waiting():
                self._upload_photos(transport, report, progress)
                report.steps["photos"] = "ok"
        except DeviceRevoked:  # the window closed on the centre's side
            return True
        except (SyncCancelled, AuthRefused, UpgradeRequired):
            return False
        except SyncError as exc:
            report.steps.setdefault("push" if self.session.pending_uploads() else "photos",
                                    str(getattr(exc, "code", "error")))
            return False
        self._anchor_audit(transport, report)  # the centre keeps the final head
        return not self.session.pending_uploads() and not self._photos_waiting()

    def _anchor_audit(self, transport: Transport, report: SyncReport) -> None:
        """Send the audit chain's head when it or the wrong-PIN count moved since the
        centre last answered (level 4; sync.protocol, "audit anchoring"). Never fails
        the sync: its outcome is ``report.steps["audit"]``."""
        if not isinstance(transport, HttpTransport) \
                or (transport.server_protocol or 0) < protocol.LEVEL_AUDIT_ANCHOR:
            return
        log = self.session.audit
        head_seq, head_hash = log.head()
        failures = Vault(self.session.paths.root).info().get("pin_failures_total")
        failures = failures if isinstance(failures, int) else None
        kept = _anchor_kept(self.session)
        if kept.get("anchored") == head_seq and kept.get("hash") == head_hash \
                and kept.get("failures") == failures:
            return
        at_seq = int(kept.get("anchored", 0))
        intact = log.verify().ok
        vault = Vault(self.session.paths.root)
        nonce = vault.recovery_to_escrow()  # goes along: one round trip, not two
        extra: dict[str, Any] = {} if nonce is None else {
            "recovery": {"nonce": nonce, "code": self.session.recovery_code(nonce)}}
        status = self._status_due(transport)  # so does the status (level 5)
        if status is not None:
            extra["status"] = status
        try:
            for attempt in (1, 2):
                answer = transport.anchor({
                    "head_seq": head_seq, "head_hash": head_hash, "at_seq": at_seq,
                    "at_hash": log.hash_at(at_seq), "intact": intact,
                    "pin_failures_total": failures, **extra})
                if answer["verdict"] != "resync" or attempt == 2:
                    break
                at_seq = answer["anchored_seq"]  # a restored copy: ask at the centre's head
        except _FATAL:
            raise
        except SyncError as exc:
            report.steps["audit"] = str(getattr(exc, "code", "error"))
            return
        report.steps["audit"] = answer["verdict"]
        if nonce is not None and answer.get("recovery_stored") is True:
            vault.mark_escrowed(nonce)
            report.steps["recovery"] = "ok"
        if status is not None:
            self._status_answered(status, answer.get("status_stored") is True, report)
        if answer["verdict"] == "resync":
            return
        with self.session.db.conn:
            _meta_set(self.session, ANCHOR_META, json.dumps({
                "anchored": answer["anchored_seq"], "hash": head_hash, "failures": failures,
                "verdict": answer["verdict"], "at": self.session.clock()}))

    def device_status(self) -> dict[str, Any]:
        """What the centre's fleet view shows of this device and only the device knows
        (sync.protocol, "device status"): its update channel, the ops and photo bytes
        still to send, and where its device secret is kept; clamped to the protocol's
        bounds."""
        from fieldclient.settings import load_settings

        db = self.session.db
        photos, photo_bytes = db.execute(
            "SELECT count(*), coalesce(sum(left_bytes), 0) FROM (SELECT b.sha256,"
            " max(b.size) - coalesce(max(u.offset), 0) AS left_bytes FROM blobs b"
            " LEFT JOIN photo_uploads u ON u.sha256 = b.sha256"
            " WHERE u.state IS NULL OR u.state = 'pending' GROUP BY b.sha256)").fetchone()
        store = Vault(self.session.paths.root).store_kind()
        channel = load_settings(self.session.paths.settings).update_channel
        return {
            "channel": channel if channel in protocol.UPDATE_CHANNELS else "stable",
            "pending_ops": min(self.session.pending_uploads(), protocol.MAX_STATUS_COUNT),
            "photos_waiting": min(max(int(photos), 0), protocol.MAX_STATUS_COUNT),
            "photo_bytes": min(max(int(photo_bytes), 0), protocol.MAX_STATUS_BYTES),
            "secret_store": store if store in protocol.SECRET_STORES else None,
        }

    def _status_due(self, transport: Transport) -> dict[str, Any] | None:
        """The status to send now: None when the centre is below level 5 or already
        holds this status from less than :data:`protocol.STATUS_RESEND_SECONDS` ago."""
        if not isinstance(transport, HttpTransport) \
                or (transport.server_protocol or 0) < protocol.LEVEL_DEVICE_STATUS:
            return None
        status = self.device_status()
        try:
            kept = json.loads(_meta_get(self.session, STATUS_META) or "{}")
        except ValueError:
            kept = {}
        if isinstance(kept, dict) and kept.get("status") == status \
                and isinstance(kept.get("at"), int | float) \
                and 0 <= self.session.clock() - kept["at"] < protocol.STATUS_RESEND_SECONDS:
            return None
        return status

    def _status_answered(self, status: dict[str, Any], stored: bool,
                         report: SyncReport) -> None:
        report.steps["status"] = "ok" if stored else "refused"
        if stored:
            with self.session.db.conn:
                _meta_set(self.session, STATUS_META, json.dumps(
                    {"status": status, "at": self.session.clock()}))

    def _report_status(self, transport: Transport, report: SyncReport) -> None:
        """Send the device's status when it changed since the centre last kept it and
        did not ride along in an audit anchor (level 5). Never fails the sync: its
        outcome is ``steps["status"]``."""
        if "status" in report.steps:  # it went with the anchor
            return
        status = self._status_due(transport)
        if status is None:
            return
        assert isinstance(transport, HttpTransport)
        try:
            stored = transport.device_status(status)
        except _FATAL:
            raise
        except SyncError as exc:
            report.steps["status"] = str(getattr(exc, "code", "error"))
            return
        self._status_answered(status, stored, report)

    def _escrow_recovery(self, transport: Transport, report: SyncReport) -> None:
        """Send the PIN recovery share the centre does not hold yet (level 4; after
        enrollment and after each reset). Never fails the sync: ``steps["recovery"]``."""
        if not isinstance(transport, HttpTransport) \
                or (transport.server_protocol or 0) < protocol.LEVEL_AUDIT_ANCHOR:
            return
        vault = Vault(self.session.paths.root)
        nonce = vault.recovery_to_escrow()
        if nonce is None:
            return
        try:
            stored = transport.escrow_recovery(nonce, self.session.recovery_code(nonce))
        except _FATAL:
            raise
        except SyncError as exc:
            report.steps["recovery"] = str(getattr(exc, "code", "error"))
            return
        if stored:
            vault.mark_escrowed(nonce)
        report.steps["recovery"] = "ok" if stored else "refused"

    def _pin_server_key(self, transport: Transport) -> None:
        """A device enrolled before the centre's key was pinned at enrollment takes it
        on first use (once; without it no wipe could ever be verified). Best effort: a
        sync goes on without it."""
        if not isinstance(transport, HttpTransport) or transport.server_key is not None:
            return
        probed = _meta_get(self.session, "server_key_probed")
        now = self.session.clock()
        if probed is not None and now - float(probed or 0) < 86400:
            return  # a centre without a key yet is asked again tomorrow, not every sync
        with self.session.db.conn:
            _meta_set(self.session, "server_key_probed", repr(now))
        try:
            key = transport.server_identity()
        except SyncError:
            return
        if key is None:
            return
        with self.session.db.conn:
            _meta_set(self.session, "server_key", key)
            self.session.audit.append(audit.SYNC_ENROLLED, {
                "server_key_pinned": protocol.key_fingerprint(key)})
        transport.server_key = key

    def _trusting_enrollment(self, transport: Transport) -> Enrollment | None:
        """The device's enrollment when it can ask the centre's TUF repository: over
        HTTP, enrolled, with a trusted root (stored, or the one built into the app)."""
        from fieldclient.update import client as updates

        paths = updates.UpdatePaths.of(self.session.paths.root)
        info = self.enrollment()
        if not isinstance(transport, HttpTransport) or info is None or not (
                (paths.metadata / "root.json").is_file() or updates.BUNDLED_ROOT.is_file()):
            return None
        return info

    def _check_update(self, transport: Transport, report: SyncReport) -> None:
        """After a successful sync: ask the centre's signed release repository for a newer
        release for this device (channel, grids) and fetch a piece of it within the
        link's budget (fieldclient.update.client). At most every ``update_interval``
        seconds unless a download is under way; never fails the sync: the outcome is
        ``report.update`` and ``report.steps["update"]``. A device without a trusted
        root (an app built without resources/updates/root.json) does not ask."""
        from fieldclient.update import client as updates
        from fieldclient.update.policy import channel_of

        data_dir = self.session.paths.root
        info = self._trusting_enrollment(transport)
        if info is None:
            return
        assert isinstance(transport, HttpTransport)
        last = updates.last_check(data_dir) or {}
        when = last.get("checked_at")
        if last.get("state") != "downloading" and isinstance(when, int | float) \
                and 0 <= time.time() - when < self.update_interval:
            return
        checker = updates.UpdateClient(data_dir, transport.base, transport.http,
                                       skew_headers(), timeout=transport.timeout,
                                       should_stop=self.cancel_event.is_set)
        try:
            result = checker.check(channel_of(data_dir), info.grids,
                                   updates.Budget.for_link(self.link.rate))
        except OSError:  # its state could not be written (a full disk): next time
            report.steps["update"] = "failed"
            return
        finally:
            transport.bytes_received += checker.bytes_received
        report.update = result
        report.steps["update"] = str(result["error"] or result["state"])

    def _check_config(self, transport: Transport, report: SyncReport) -> None:
        """After a successful sync: the signed configuration (checklist, quota rules,
        review rules, event classes) from the centre's TUF config role, verified and
        applied (fieldclient.update.config). Never fails the sync: the outcome is
        ``report.config`` and ``report.steps["config"]``; a refusal leaves what is in
        force. At most every ``config_interval`` seconds; a device without a trusted
        root does not ask."""
        from fieldclient.update import config as signed

        info = self._trusting_enrollment(transport)
        if info is None:
            return
        assert isinstance(transport, HttpTransport)
        if 0 <= time.time() - self._config_checked < self.config_interval:
            return
        checker = signed.ConfigClient(self.session, transport.base, transport.http,
                                      skew_headers(), timeout=transport.timeout)
        try:
            result = checker.check(info.grids)
        finally:
            transport.bytes_received += checker.bytes_received
        if result["state"] != "error":
            self._config_checked = time.time()
        report.config = result
        report.steps["config"] = str(result["error"] or result["state"])

    def backlog(self) -> dict[str, Any]:
        """What is still to send and how long the link needs for it at its measured rate
        (``estimate_seconds`` None until a sync has measured it): for the Sync page and
        ``fieldclient sync --json``."""
        db = self.session.db
        records, record_bytes = db.execute(
            "SELECT count(*), coalesce(sum(length(CAST(payload AS BLOB))), 0) FROM outbox"
            " WHERE state = 'pending'").fetchone()
        photos, photo_bytes = db.execute(
            "SELECT count(*), coalesce(sum(left_bytes), 0) FROM (SELECT b.sha256,"
            " max(b.size) - coalesce(max(u.offset), 0) AS left_bytes FROM blobs b"
            " LEFT JOIN photo_uploads u ON u.sha256 = b.sha256"
            " WHERE u.state IS NULL OR u.state = 'pending' GROUP BY b.sha256)").fetchone()
        # as kept (a run saves it before this): the GUI asks an engine that never runs
        link = LinkState.load(self.session)
        estimate = link.estimate(int(record_bytes) + 120 * int(records), int(photo_bytes))
        return {"records": int(records), "record_bytes": int(record_bytes),
                "photos": int(photos), "photo_bytes": int(photo_bytes),
                "estimate_seconds": None if estimate is None else round(estimate, 1),
                "link": link.as_dict()}

    def _record_levels(self, transport: Transport, report: SyncReport) -> None:
        """Keep the server's declared protocol levels (for the report and the CLI)."""
        level = getattr(transport, "server_protocol", None)
        if not isinstance(level, int):
            report.server_protocol = self.server_protocol()
            return
        minimum = getattr(transport, "server_min_protocol", None)
        report.server_protocol = level
        report.server_min_protocol = minimum if isinstance(minimum, int) else None
        with self.session.db.conn:
            _meta_set(self.session, "server_protocol", str(level))

    def _record_clock(self, transport: Transport, report: SyncReport) -> None:
        server = getattr(transport, "last_server_unix", None)
        local = getattr(transport, "last_local_unix", None)
        if server is None or local is None:
            return
        offset = float(server) - float(local)
        report.clock_skew = -offset
        report.clock_warning = abs(offset) > CLOCK_WARN_SECONDS
        report.server_time = float(server)
        with self.session.db.conn:
            _meta_set(self.session, "clock_offset", repr(offset))
            if report.ok:
                _meta_set(self.session, "last_success", repr(float(server)))

    def _call(self, fn: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            self._check_cancel()
            try:
                return fn()
            except SyncError as exc:
                attempt += 1
                if not exc.retryable or attempt >= self.retry.attempts:
                    raise
                self.retry.sleep(self.retry.delay(attempt, exc))

    # -- push ----------------------------------------------------------------------
    def _wire_op(self, op_id: str, kind: str, record_id: str, payload_text: str) -> protocol.Op:
        payload = json.loads(payload_text)
        base_version: int | None = None
        if kind == "household.create":
            tags = payload.get("tags")
            grid = payload.get("grid_id")
            payload = {
                "grid_id": int(grid) if grid not in (None, "") else None,
                "head_name": payload.get("head_name"),
                "address": payload.get("address"),
                "category": payload.get("category"),
                "phone": payload.get("phone"),
                "id_number": payload.get("id_number"),
                "tags": json.loads(tags) if isinstance(tags, str) else (tags or []),
            }
        elif kind in ("household.update", "member.update"):
            base_version = int(payload.get("base_version", 0))
            payload = {"fields": payload.get("fields", {})}
        elif kind == "member.remove":
            base_version = int(payload.get("base_version", 0))
            payload = {}
        elif kind == "household.tags":
            payload = {"add": payload.get("add", []), "remove": payload.get("remove", [])}
        return {"op_id": op_id, "kind": kind, "record_id": record_id,
                "base_version": base_version, "payload": payload}

    def _push_all(
        self, transport: Transport, report: SyncReport, progress: ProgressCallback | None
    ) -> None:
        """The outbox in batches sized by the link (:mod:`sync.link`): a batch that does
        not get through is cut in half, one that does lets the next one double. When a
        batch's answer is lost the server may have applied it: the device asks for the
        answers it keeps (level 3) and sends again only the ops without one."""
        total = self.session.pending_uploads()
        done = 0
        if progress:
            progress(SyncProgress("push", 0, total))
        # Each pending op is offered once per run, in outbox order: an op that stays
        # pending (answered retry_later, or not answered) waits for the next run
        # instead of being sent again and again, and never holds back those after it.
        after_rowid = 0
        failures = 0
        while True:
            budget = min(self.batch_bytes, self.link.push_bytes,
                         _body_room(transport, 2048))
            rows = self.session.db.execute(
                "SELECT rowid, op_id, kind, record_id, payload FROM outbox"
                " WHERE state = 'pending' AND rowid > ? ORDER BY rowid LIMIT ?",
                (after_rowid, self.batch_size),
            ).fetchall()
            if not rows:
                return
            self._check_cancel()
            ops: list[protocol.Op] = []
            refused: list[protocol.Op] = []
            answers: list[protocol.OpResult] = []
            size = 0
            last_rowid = after_rowid
            for rowid, *r in rows:
                op = self._wire_op(*r)
                problem = _schema_problem(op)
                if problem is not None:  # the server would refuse it too: never sent
                    refused.append(op)
                    answers.append({"op_id": op["op_id"], "status": "rejected",
                                    "reason": "invalid", "detail": problem})
                    last_rowid = int(rowid)
                    continue
                op_size = len(protocol.canonical_json(op).encode("utf-8")) + 1
                if ops and size + op_size > budget:
                    break
                size += op_size
                ops.append(op)
                last_rowid = int(rowid)
            if refused:
                self._record_results(refused, {"results": answers, "server_time": "",
                                               "unix_time": 0.0}, report)
                done += len(refused)
            if not ops:
                after_rowid = last_rowid
                continue
            try:
                answer: protocol.PushResponse = transport.push(ops)
            except SyncError as exc:
                if not exc.retryable and not (_too_large(exc) and len(ops) > 1):
                    raise
                failures += 1
                self._after_failure("push", size, exc, failures)
                self._recover_answers(transport, ops, report)
                continue  # the same place again: ops answered meanwhile are not pending
            failures = 0
            self._measure(transport, "push", size)
            self._record_results(ops, answer, report)
            after_rowid = last_rowid
            done += len(ops)
            if progress:
                progress(SyncProgress("push", done, max(total, done)))

    def _after_failure(self, kind: str, size: int, exc: SyncError, failures: int) -> None:
        """A request of ``size`` bytes failed retryably: a drop or a timeout shrinks the
        next one; past the retry policy's attempts in a row the step gives up (its
        error goes in the report; what got through stays)."""
        if isinstance(exc, ConnectionDropped | ServerTimeout) or _too_large(exc):
            self.link.cut(kind, size)
        if failures >= self.retry.attempts:
            raise exc
        self._check_cancel()
        self.retry.sleep(self.retry.delay(failures, exc))
        self._check_cancel()

    def _measure(self, transport: Transport, kind: str, size: int) -> None:
        exchange = getattr(transport, "last_exchange", None)
        if isinstance(exchange, tuple) and len(exchange) == 3:
            sent, received, seconds = exchange
            self.link.observe(int(sent) + int(received) + 600, float(seconds))
            if kind == "push":
                self.link.observe_compression(size, int(sent))
        self.link.carried(kind, size)

    def _recover_answers(self, transport: Transport, ops: list[protocol.Op],
                         report: SyncReport) -> None:
        """After a push without an answer: the answers the server kept for those ops
        (it may have applied them before the connection dropped), recorded as if the
        push had answered; best effort (a failure here only means resending)."""
        answers_of = getattr(transport, "answers", None)
        if answers_of is None or not getattr(transport, "low_bandwidth", False) \
                or self._no_answers:
            return
        try:
            results = answers_of([op["op_id"] for op in ops])
        except _FATAL:
            raise
        except SyncError as exc:
            # Resending is always safe (the server keeps op ids): a server that declares
            # level 3 but has no look-up (404, 405: an older process behind the same
            # address) or refuses it gets the ops again, as a level-2 server would.
            if not exc.retryable:
                self._no_answers = True
            return
        if results:
            self._record_results(ops, {"results": results, "server_time": "",
                                       "unix_time": 0.0}, report)

    def _record_results(
        self, ops: list[protocol.Op], answer: protocol.PushResponse, report: SyncReport
    ) -> None:
        by_id = _answers_by_op(answer.get("results"))
        now = self.session.clock()
        rebuild: set[str] = set()
        updates: list[tuple[Any, ...]] = []
        later: list[tuple[Any, ...]] = []
        with self.session.db.conn:
            for op in ops:
                result = by_id.get(op["op_id"])
                if result is None:
                    continue  # not answered (or not readably): stays pending, sent again
                status = str(result["status"])
                report.pushed[status] = report.pushed.get(status, 0) + 1
                state, reason = status, result.get("reason")
                original = result.get("original") or {}
                if protocol.RETRY_LATER in (status, original.get("status")):
                    # the server cannot take this kind yet and recorded nothing: keep
                    # the op pending (never set aside, never done), marked as waiting
                    later.append((now, reason or original.get("reason"),
                                  json.dumps(result, ensure_ascii=False), op["op_id"]))
                    continue
                if status == "duplicate" and original.get("status") == "rejected":
                    state, reason = "rejected", original.get("reason")
                if status == "conflict" or original.get("status") == "conflict":
                    conflicts = result.get("conflicts")
                    report.new_conflicts += len(conflicts) if isinstance(conflicts, list) else 0
                if state == "rejected":
                    report.newly_set_aside.append(
                        {"op_id": op["op_id"], "kind": op["kind"], "record_id": op["record_id"],
                         "reason": reason}
                    )
                    if op["kind"].startswith("household."):
                        rebuild.add(op["record_id"])
                    elif op["kind"].startswith("member."):
                        rebuild.add(self._member_household(op["op_id"]))
                    if op["kind"] == "conflict.resolve":
                        self.session.db.execute(
                            "UPDATE sync_conflicts SET local_choice = NULL WHERE id = ?",
                            (op["record_id"],),
                        )
                if op["kind"] == "photo.meta" and isinstance(result.get("photo_stored"), bool):
                    self._photo_stored[str(op["payload"].get("sha256", ""))] = bool(
                        result["photo_stored"])
                updates.append(
                    (state, reason, json.dumps(result, ensure_ascii=False), now, op["op_id"]))
            # nothing above reads the outbox rows being updated: one executemany
            self.session.db.conn.executemany(
                "UPDATE outbox SET state = ?, reason = ?, result = ?, done_at = ? "
                "WHERE op_id = ? AND state = 'pending'",
                updates,
            )
            self.session.db.conn.executemany(
                "UPDATE outbox SET retry_later_at = ?, reason = ?, result = ?"
                " WHERE op_id = ? AND state = 'pending'",
                later,
            )
            for household_id in rebuild:
                self._rebuild_household(household_id)

    def _member_household(self, op_id: str) -> str:
        row = self.session.db.execute(
            "SELECT payload FROM outbox WHERE op_id = ?", (op_id,)).fetchone()
        return str(json.loads(row[0]).get("household_id", "")) if row else ""

    # -- photos ----------------------------------------------------------------------
    def _upload_photos(
        self, transport: Transport, report: SyncReport, progress: ProgressCallback | None
    ) -> None:
        """Send the photos the server lacks (one look-up for up to 500: a photo another
        device sent already is not sent again), each from the last byte the server
        acknowledged. A level-3 server takes pieces of several photos per request
        (:mod:`sync.protocol.bundle`); an older one a chunk each."""
        db = self.session.db
        rows = db.execute(
            "SELECT b.sha256, min(b.blob_id), max(b.size), max(u.state) FROM blobs b"
            " LEFT JOIN photo_uploads u ON u.sha256 = b.sha256"
            " WHERE u.state IS NULL OR u.state = 'pending'"
            " GROUP BY b.sha256 ORDER BY min(b.rowid)"
        ).fetchall()
        bundles = bool(getattr(transport, "low_bandwidth", False)) and hasattr(
            transport, "put_bundle")
        # What this run's push answered settles a photo never offered before: the
        # centre holds it (done) or has none of it (from byte 0). The rest are asked.
        known = {r[0]: self._photo_stored[r[0]] for r in rows
                 if r[3] is None and r[0] in self._photo_stored}
        offered = [r[0] for r in rows if r[0] not in known]
        missing: dict[str, int] = {sha: 0 for sha, stored in known.items() if not stored}
        for start in range(0, len(offered), 500):
            batch = offered[start:start + 500]
            missing.update(_missing_offsets(
                self._call(partial(transport.photos_missing, batch))))
        now = self.session.clock()
        todo: list[_Upload] = []
        with db.conn:
            for sha, blob_id, size, _state in rows:
                upload_state = "pending" if sha in missing else "done"
                offset = missing.get(sha, int(size))
                if upload_state == "pending" and not 0 <= offset < int(size):
                    offset = 0  # an offset outside the photo: from the start (the
                    # server answers offset_mismatch with its own if it has more)
                db.execute(
                    "INSERT INTO photo_uploads (sha256, blob_id, size, offset, state,"
                    " updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET"
                    " state = excluded.state, offset = excluded.offset,"
                    " updated_at = excluded.updated_at",
                    (sha, blob_id, size, offset, upload_state, now),
                )
                if upload_state == "done":
                    report.photos_already_on_server += 1
                else:
                    todo.append(_Upload(sha, blob_id, int(size), offset))
        progress_state = _PhotoProgress(
            total=sum(r[2] for r in rows), sent=sum(r[2] for r in rows) - sum(
                u.size - u.offset for u in todo), callback=progress)
        if bundles:
            try:
                self._send_bundles(transport, todo, report, progress_state)
                return
            except ServerFailed as exc:
                # A server that declares level 3 but has no bundles after all (an older
                # process behind the same address): a chunk at a time, as to level 2.
                if exc.status not in (404, 405):
                    raise
            todo = [u for u in todo if not u.complete]
        for upload in todo:
            if (upload.data or self._readable(upload)) and not upload.complete:
                self._send_chunks(transport, upload, report, progress_state)
            upload.data = b""

    def _readable(self, upload: _Upload) -> bool:
        """Load the photo's bytes; one damaged on this device is never sent."""
        import hashlib

        data = self.session.blobs.get(upload.blob_id)
        if hashlib.sha256(data).hexdigest() != upload.sha:
            with self.session.db.conn:
                self.session.db.execute(
                    "UPDATE photo_uploads SET state = 'corrupt' WHERE sha256 = ?",
                    (upload.sha,))
            return False
        upload.data = data
        upload.size = len(data)  # what the parts announce as the photo's total
        if not 0 <= upload.offset < len(data):
            upload.offset = 0
        return True

    def _send_bundles(self, transport: Transport, todo: list[_Upload], report: SyncReport,
                      progress: _PhotoProgress) -> None:
        """Pieces of as many photos as the link's photo size allows per request. Each
        part's answer must fit the part (its photo, an offset past the part's start, or
        the whole photo when complete): one that does not stops the step, so a photo is
        never marked done on an answer that cannot be right."""
        failures = 0
        stalled = 0  # answered requests in a row that moved no photo forward
        while todo:
            self._check_cancel()
            budget = max(1024, min(self.chunk_size, self.link.photo_bytes,
                                   _body_room(transport, 16384)))
            parts: list[bundle.Part] = []
            room = budget
            for upload in todo:
                if room <= 0 or len(parts) >= bundle.MAX_PARTS:
                    break
                if not upload.data and not self._readable(upload):
                    upload.complete = True  # damaged here: marked, never sent
                    continue
                piece = upload.data[upload.offset:upload.offset + room]
                parts.append(bundle.Part(upload.sha, upload.offset, upload.size, piece))
                room -= len(piece)
            todo = [u for u in todo if not u.complete]
            if not parts:
                continue
            size = sum(len(p.data) for p in parts)
            try:
                answers = transport.put_bundle(parts)  # type: ignore[attr-defined]
            except SyncError as exc:
                if not exc.retryable and not (_too_large(exc) and size > 1024):
                    raise
                failures += 1
                self._after_failure("photo", size, exc, failures)
                continue
            failures = 0
            self._measure(transport, "photo", size)
            by_sha = {u.sha: u for u in todo}
            stop: SyncError | None = None
            moved = False
            for part, answer in zip(parts, answers, strict=True):
                upload = by_sha[part.sha256]
                if answer.get("sha256", part.sha256) != part.sha256:
                    stop = _bad_answer("a part answered for another photo")
                    break
                error = answer.get("error")
                offset = _whole(answer.get("offset"))
                if error is None:
                    complete = answer.get("complete") is True
                    if not _fits(offset, complete, part.offset, len(part.data), upload.size):
                        stop = _bad_answer("a part's offset")
                        break
                    assert offset is not None
                    report.photo_bytes_sent += len(part.data)
                    progress.add(len(part.data))
                    self._acknowledge(upload, offset, complete, report)
                    moved = True
                elif error == "offset_mismatch" and offset is not None \
                        and 0 <= offset < upload.size:
                    upload.offset = offset  # go on where the server is
                elif error == "hash_mismatch" and not upload.restarted:
                    upload.restarted, upload.offset = True, 0
                elif stop is None:
                    status = 507 if error == "insufficient_storage" else (
                        413 if error == "photo_quota" else 409)
                    stop = ServerFailed(status, str(answer.get("message") or error),
                                        retryable=status == 507, error=str(error))
            for upload in todo:
                if upload.complete:
                    upload.data = b""  # only the photos in flight are held in memory
            todo = [u for u in todo if not u.complete]
            if stop is not None:
                raise stop
            stalled = 0 if moved else stalled + 1
            if stalled > 20:  # the server keeps moving the offsets: never loop forever
                raise ServerFailed(409, "photo upload does not progress")

    def _send_chunks(self, transport: Transport, upload: _Upload, report: SyncReport,
                     progress: _PhotoProgress) -> None:
        """One photo, a chunk per request (a server below level 3)."""
        failures = 0
        budget = 3 * (upload.size // 1024 + 1) + 10  # never loop forever
        while not upload.complete:
            budget -= 1
            self._check_cancel()
            if budget < 0:
                raise ServerFailed(409, "photo upload does not progress")
            if upload.offset >= upload.size:
                upload.offset = 0
            size = max(1024, min(self.chunk_size, self.link.photo_bytes,
                                 _body_room(transport, 0)))
            chunk = upload.data[upload.offset:upload.offset + size]
            try:
                answer = transport.put_chunk(upload.sha, upload.offset, upload.size, chunk)
            except SyncError as exc:
                if getattr(exc, "extra", {}).get("error") == "hash_mismatch" \
                        and not upload.restarted:
                    upload.restarted, upload.offset = True, 0
                    continue
                if not exc.retryable and not (_too_large(exc) and len(chunk) > 1024):
                    raise
                failures += 1
                self._after_failure("photo", len(chunk), exc, failures)
                continue
            failures = 0
            if answer.get("error") == "size_mismatch":
                raise ServerFailed(409, str(answer.get("message", "size_mismatch")))
            offset = _whole(answer.get("offset"))
            if answer.get("_status") == 409 or answer.get("error"):
                if offset is None or not 0 <= offset < upload.size:
                    raise _bad_answer("an offset outside the photo")
                upload.offset = offset  # continue where the server is
                continue
            complete = answer.get("complete") is True
            if not _fits(offset, complete, upload.offset, len(chunk), upload.size):
                raise _bad_answer("a chunk's offset")
            assert offset is not None
            self._measure(transport, "photo", len(chunk))
            report.photo_bytes_sent += len(chunk)
            progress.add(len(chunk))
            self._acknowledge(upload, offset, complete, report)

    def _acknowledge(self, upload: _Upload, offset: int, complete: bool,
                     report: SyncReport) -> None:
        """The server holds the photo up to ``offset``: kept, so a later run resumes
        there."""
        upload.offset, upload.complete = offset, complete
        with self.session.db.conn:
            self.session.db.execute(
                "UPDATE photo_uploads SET offset = ?, state = ?, updated_at = ?"
                " WHERE sha256 = ?",
                (offset, "done" if complete else "pending", self.session.clock(), upload.sha),
            )
        if complete:
            report.photos_uploaded += 1

    # -- pull ----------------------------------------------------------------------
    def _pull_all(
        self, transport: Transport, report: SyncReport, progress: ProgressCallback | None
    ) -> None:
        db = self.session.db
        cache_size = int(db.execute("PRAGMA cache_size").fetchone()[0])
        checkpoint = int(db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        # A first pull writes ~100,000 households with random-UUID keys: a bigger page
        # cache and rarer WAL checkpoints (each one an fsync) for the pull's duration.
        db.execute(f"PRAGMA cache_size = {min(cache_size, -PULL_CACHE_KIB)}")
        db.execute(f"PRAGMA wal_autocheckpoint = {max(checkpoint, PULL_CHECKPOINT_PAGES)}")
        try:
            self._pull_pages(transport, report, progress)
        finally:
            if self.session.is_open:
                db.execute(f"PRAGMA cache_size = {cache_size}")
                db.execute(f"PRAGMA wal_autocheckpoint = {checkpoint}")

    def _pull_pages(
        self, transport: Transport, report: SyncReport, progress: ProgressCallback | None
    ) -> None:
        done = 0
        self._held_keys = None
        self._apply_held(report)
        after = self.cursor()
        db = self.session.db
        page: protocol.PullResponse = self._call(partial(transport.pull, after, self.page_size))
        if "grids" in page:  # the grids' names, on every pull: a rename arrives too
            from fieldclient.fieldwork.enrollment import store_grid_names

            with db.conn:
                store_grid_names(self.session, page.get("grids"))
        # The next page is fetched (read-only GET) while this one is written: the
        # server's work and the device's overlap. The cursor moves only with the rows
        # it brought: each page writes both, and a commit takes whole pages (several
        # at a time, see PULL_PAGES_PER_COMMIT); a stop or a failed fetch commits the
        # pages already written, a failure while writing one rolls back to the last commit.
        uncommitted = 0
        since = time.monotonic()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-pull") as ahead:
            try:
                while True:
                    changes = page.get("changes", [])
                    next_after = int(page.get("next_after", after))
                    more = bool(page.get("has_more")) and bool(changes)
                    following = (
                        ahead.submit(self._call, partial(transport.pull, next_after,
                                                         self.page_size))
                        if more else None
                    )
                    if changes or next_after != after:
                        self._apply_page(page, report)
                        uncommitted += 1
                    if uncommitted and (
                        following is None or uncommitted >= PULL_PAGES_PER_COMMIT
                        or time.monotonic() - since >= PULL_SECONDS_PER_COMMIT
                    ):
                        db.conn.commit()
                        uncommitted, since = 0, time.monotonic()
                    done += len(changes)
                    if progress:
                        progress(SyncProgress("pull", done, None))
                    if following is None:
                        return
                    after = next_after
                    if self.cancel_event.is_set():
                        following.cancel()
                        raise SyncCancelled()
                    page = following.result()
            finally:
                if uncommitted and self.session.is_open and db.conn.in_transaction:
                    db.conn.commit()

    def _apply_page(self, page: protocol.PullResponse, report: SyncReport) -> None:
        """Write one page's rows and its cursor (in the open transaction). Each row
        goes in its own savepoint: a row this app does not understand or that fails
        here is kept in ``sync_held`` instead, and the rest of the page goes on."""
        now = self.session.clock()
        db = self.session.db
        next_after = int(page["next_after"])
        with _uncommitted(db.conn):  # committed by _pull_pages, a few pages at a time
            # The cursor first: this write opens the transaction and takes the write lock,
            # so the look-ups below cannot go stale (the GUI writes on its own connection).
            _meta_set(self.session, "cursor", str(next_after))
            if self._held_keys is None:
                self._held_keys = {(str(k), str(r)) for k, r in db.execute(
                    "SELECT kind, record_id FROM sync_held")}
            rows: list[tuple[int, str, str, Any, tuple[str, str] | None]] = []
            for change in page["changes"]:
                seq, kind, record_id = _row_key(change, next_after)
                report.pulled[kind] = report.pulled.get(kind, 0) + 1
                data = change.get("data") if isinstance(change, dict) else None
                rows.append((seq, kind, record_id, data, validate_pulled_row(change)))
            local_edits = self._has_local_household_edits()
            ids = [d["id"] for _s, k, _r, d, problem in rows
                   if problem is None and k == "household"]
            known: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                known.update(r[0] for r in db.execute(
                    f"SELECT id FROM households WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ))
            state = _PageState(now=now, local_edits=local_edits, known=known, looked_up=True,
                               fresh=None if local_edits else _FreshHouseholds(),
                               held_keys=self._held_keys)
            for seq, kind, record_id, data, problem in rows:
                if problem is not None:
                    self._hold(seq, kind, record_id, data, *problem, state=state)
                    report.held_new += 1
                    continue
                assert isinstance(data, dict)
                if kind == "household" and state.fresh is not None:
                    if data["id"] not in state.known:
                        # new here and nothing of ours pending: batched, written below
                        error = _fresh_add(state.fresh, data, now, seq, record_id)
                        if error is None:
                            state.known.add(data["id"])
                        else:
                            self._hold(seq, kind, record_id, data, HELD_FAILED, error,
                                       state=state)
                            report.held_new += 1
                        continue
                    self._write_fresh(state, report)  # rows this one may read go in first
                error = self._apply_one(kind, data, seq, state)
                if error is None:
                    self._superseded(kind, record_id, seq, state)
                else:
                    self._hold(seq, kind, record_id, data, HELD_FAILED, error, state=state)
                    report.held_new += 1
            if state.fresh is not None:
                self._write_fresh(state, report)

    def _apply_one(self, kind: str, data: dict[str, Any], seq: int, state: _PageState
                   ) -> str | None:
        """Apply one pulled row in its own savepoint; on failure roll back just this row
        and return the error (the caller holds the row). Errors of the database itself
        (locked, disk full) are raised: they are no fault of the row."""
        db = self.session.db
        db.execute("SAVEPOINT pulled_row")
        try:
            PULL_APPLIERS[kind](self, data, seq, state)
        except _ENVIRONMENT_ERRORS:
            raise  # the caller rolls the whole transaction back; nothing is lost
        except Exception as exc:
            db.execute("ROLLBACK TO pulled_row")
            db.execute("RELEASE pulled_row")
            return _error_text(exc)
        db.execute("RELEASE pulled_row")
        return None

    def _write_fresh(self, state: _PageState, report: SyncReport) -> None:
        """Write the batched new households (one executemany per table); when the batch
        fails, undo it and write them one by one so only the failing ones are held.

        No savepoint around the batch: with one open, SQLite copies every page the
        batch touches to a statement journal (measured: a first pull ~30 % slower).
        The undo needs none: every household of the batch is new here and nothing of
        this device is pending, so whatever of the batch went in (executemany stops at
        the failing row, which itself is rolled back) is exactly its ids' rows."""
        fresh = state.fresh
        if fresh is None or not fresh.rows:
            return
        db = self.session.db
        rows = list(fresh.rows)
        try:
            fresh.write(db.conn)
        except _ENVIRONMENT_ERRORS:
            raise
        except Exception:
            ids = [data["id"] for _seq, _record_id, data in rows]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM members WHERE household_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM households WHERE id IN ({marks})", chunk)
            fresh.clear()
            for _seq, _record_id, data in rows:
                state.known.discard(data["id"])
            for seq, record_id, data in rows:
                error = self._apply_one("household", data, seq, state)
                if error is None:
                    self._superseded("household", record_id, seq, state)
                else:
                    self._hold(seq, "household", record_id, data, HELD_FAILED, error,
                               state=state)
                    report.held_new += 1
            return
        for seq, record_id, _data in rows:
            self._superseded("household", record_id, seq, state)

    def _hold(self, seq: int, kind: str, record_id: str, data: Any, reason: str,
              error: str | None, *, state: _PageState) -> None:
        """Keep a pulled row raw (escaped JSON: any text the server sent can be stored)
        for a later try; in the page's transaction, so it goes in with the cursor."""
        self.session.db.execute(
            "INSERT INTO sync_held (seq, kind, record_id, data, reason, error, held_at,"
            " tried_version, tries) VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(seq, kind, record_id) DO UPDATE SET data = excluded.data,"
            " reason = excluded.reason, error = excluded.error,"
            " tried_version = excluded.tried_version, tries = sync_held.tries + excluded.tries",
            (seq, kind, record_id, json.dumps(data, ensure_ascii=True), reason, error,
             state.now, app_version(), 1 if reason == HELD_FAILED else 0),
        )
        state.held_keys.add((kind, record_id))

    def _superseded(self, kind: str, record_id: str, seq: int, state: _PageState) -> None:
        """A row of a record was applied: held rows of it up to that one are out of date
        (every pulled row is the record's full state), so they are dropped: applying
        them later would overwrite the newer state."""
        if (kind, record_id) in state.held_keys:
            self.session.db.execute(
                "DELETE FROM sync_held WHERE kind = ? AND record_id = ? AND seq <= ?",
                (kind, record_id, seq),
            )

    def _apply_held(self, report: SyncReport) -> None:
        """At the start of a pull: apply held rows this app can now handle, oldest
        first: kinds it has learnt since (an upgrade), and failed rows not yet tried
        by this app version (at most one try per version, so they cannot spin). A row
        applied drops the older held rows of its record; one failing again stays held,
        with its new error."""
        db = self.session.db
        if db.execute("SELECT EXISTS (SELECT 1 FROM sync_held)").fetchone()[0] == 0:
            return
        kinds = sorted(PULL_APPLIERS)
        version = app_version()
        rows = db.execute(
            "SELECT seq, kind, record_id, data FROM sync_held"
            f" WHERE kind IN ({','.join('?' * len(kinds))})"
            " AND (reason = 'unknown_kind' OR tried_version <> ?)"
            " ORDER BY seq, kind, record_id",
            (*kinds, version),
        ).fetchall()
        if not rows:
            return
        with _uncommitted(db.conn):
            if not db.conn.in_transaction:
                db.execute("BEGIN IMMEDIATE")
            state = _PageState(now=self.session.clock(),
                               local_edits=self._has_local_household_edits(), known=set(),
                               looked_up=False, fresh=None, held_keys=set())
            for seq, kind, record_id, data_text in rows:
                data = json.loads(data_text)
                problem = validate_pulled_row(
                    {"seq": seq, "kind": kind, "id": record_id, "data": data})
                error = problem[1] if problem else self._apply_one(kind, data, seq, state)
                if error is None:
                    db.execute(
                        "DELETE FROM sync_held WHERE kind = ? AND record_id = ? AND seq <= ?",
                        (kind, record_id, seq),
                    )
                    report.held_applied += 1
                else:
                    db.execute(
                        "UPDATE sync_held SET reason = ?, error = ?, tried_version = ?,"
                        " tries = tries + 1 WHERE seq = ? AND kind = ? AND record_id = ?",
                        (HELD_FAILED, error, version, seq, kind, record_id),
                    )
            db.conn.commit()

    def _has_local_household_edits(self) -> bool:
        """Whether any household or member op of this device is still pending (when
        none is, a pulled copy is the local row as it stands: no rebuild look-ups)."""
        return self.session.db.execute(
            "SELECT 1 FROM outbox WHERE state = 'pending' AND (kind IN ('household.update',"
            " 'household.tags') OR kind LIKE 'member.%') LIMIT 1"
        ).fetchone() is not None

    def _save_household(
        self, data: dict[str, Any], now: float, exists: bool | None = None,
        local_edits: bool = True,
    ) -> None:
        db = self.session.db
        synced = {name: data.get(name) for name in HOUSEHOLD_COLUMNS}
        synced["version"] = int(data["version"])
        synced["grid_id"] = str(data["grid_id"])
        if isinstance(data.get("members"), list):
            synced["members"] = data["members"]
        if exists is None:
            exists = db.execute(
                "SELECT 1 FROM households WHERE id = ?", (data["id"],)).fetchone() is not None
        if not exists:
            db.execute(
                "INSERT INTO households (id, grid_id, head_name, address, category, phone,"
                " id_number, tags, version, created_at, updated_at, synced, lat, lon)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (data["id"], synced["grid_id"], data["head_name"], data["address"],
                 data["category"], data.get("phone"), data.get("id_number"),
                 json.dumps(data.get("tags") or [], ensure_ascii=False), synced["version"],
                 _registered_at(data), now, json.dumps(synced, ensure_ascii=False),
                 *_position(data)),
            )
        else:
            db.execute(
                "UPDATE households SET synced = ?, lat = ?, lon = ? WHERE id = ?",
                (json.dumps(synced, ensure_ascii=False), *_position(data), data["id"]),
            )
        if not exists and not local_edits:
            # A new household and nothing of ours pending: the row just written is the
            # rebuilt row already; only its members remain to be written.
            members = synced.get("members")
            if isinstance(members, list):
                self._rebuild_members(data["id"], members, local_edits=False)
            return
        self._rebuild_household(data["id"], local_edits=local_edits)

    def _rebuild_household(self, household_id: str, local_edits: bool = True) -> None:
        """Local row = last pulled server copy + this device's ops still pending."""
        db = self.session.db
        row = db.execute("SELECT synced FROM households WHERE id = ?", (household_id,)).fetchone()
        if row is None or row[0] is None:
            return
        values: dict[str, Any] = json.loads(row[0])
        pending = db.execute(
            "SELECT kind, payload FROM outbox WHERE state = 'pending' AND kind IN"
            " ('household.update', 'household.tags') AND record_id = ? ORDER BY rowid",
            (household_id,),
        ).fetchall() if local_edits else []
        for kind, payload in pending:
            change = json.loads(payload)
            if kind == "household.tags":
                kept = [t for t in values.get("tags") or [] if t not in change.get("remove", [])]
                values["tags"] = kept + [t for t in change.get("add", []) if t not in kept]
            else:
                values.update(change.get("fields", {}))
        if isinstance(values.get("members"), list):
            self._rebuild_members(household_id, values["members"], local_edits=local_edits)
        db.execute(
            "UPDATE households SET grid_id = ?, head_name = ?, address = ?, category = ?,"
            " phone = ?, id_number = ?, tags = ?, version = ? WHERE id = ?",
            (values["grid_id"], values["head_name"], values["address"], values["category"],
             values.get("phone"), values.get("id_number"),
             json.dumps(values.get("tags") or [], ensure_ascii=False), int(values["version"]),
             household_id),
        )

    def _rebuild_members(
        self, household_id: str, synced: list[dict[str, Any]], local_edits: bool = True
    ) -> None:
        """Local members = the last pulled server list + this device's pending member ops."""
        db = self.session.db
        now = self.session.clock()
        members = {m["id"]: dict(m) for m in synced}
        pending = db.execute(
            "SELECT kind, record_id, payload FROM outbox WHERE state = 'pending' AND kind IN"
            " ('member.create', 'member.update', 'member.remove') ORDER BY rowid"
        ).fetchall() if local_edits else []
        for kind, member_id, payload_text in pending:
            payload = json.loads(payload_text)
            if payload.get("household_id") != household_id:
                continue
            if kind == "member.create":
                members.setdefault(member_id, {"id": member_id, "version": 0, **{
                    k: payload.get(k) for k in protocol.MEMBER_FIELDS}})
            elif kind == "member.update" and member_id in members:
                members[member_id].update(payload.get("fields", {}))
            elif kind == "member.remove":
                members.pop(member_id, None)
        db.execute("DELETE FROM members WHERE household_id = ?", (household_id,))
        db.conn.executemany(
            "INSERT INTO members (id, household_id, name, relation, id_number, phone,"
            " residence, version, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(m["id"], household_id, m["name"], m.get("relation"), m.get("id_number"),
              m.get("phone"), m.get("residence"), int(m.get("version") or 0), now, now)
             for m in members.values()],
        )


# -- pulled rows, by kind ------------------------------------------------------------------
# One function per pull kind this app understands: it writes one row (``data`` of a
# :class:`sync.protocol.Change`) inside the row's savepoint and raises when it cannot.
PullApplier = Callable[[SyncEngine, dict[str, Any], int, _PageState], None]


def _pull_household(engine: SyncEngine, data: dict[str, Any], seq: int,
                    state: _PageState) -> None:
    household_id = data["id"]
    exists = (household_id in state.known) if state.looked_up else None
    engine._save_household(data, state.now, exists, state.local_edits)
    state.known.add(household_id)


def _pull_conflict(engine: SyncEngine, data: dict[str, Any], seq: int,
                   state: _PageState) -> None:
    engine.session.db.execute(
        "INSERT INTO sync_conflicts (id, household_id, grid_id, field, kept_value,"
        " other_value, kept_device, kept_person, other_device, other_person,"
        " status, choice, resolved_by, created_at, resolved_at, server_seq,"
        " member_id, kept_person_name, other_person_name)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET"
        " status = excluded.status, choice = excluded.choice,"
        " resolved_by = excluded.resolved_by, resolved_at = excluded.resolved_at,"
        " server_seq = excluded.server_seq,"
        " kept_person_name = excluded.kept_person_name,"
        " other_person_name = excluded.other_person_name",
        (data["id"], data["household_id"], str(data["grid_id"]), data["field"],
         json.dumps(data["kept_value"], ensure_ascii=False),
         json.dumps(data["other_value"], ensure_ascii=False),
         data.get("kept_device"), data.get("kept_person"),
         data.get("other_device"), data.get("other_person"), data["status"],
         data.get("choice"), data.get("resolved_by"), data.get("created_at"),
         data.get("resolved_at"), seq, data.get("member_id"),
         data.get("kept_person_name"), data.get("other_person_name")),
    )


def _pull_event(engine: SyncEngine, data: dict[str, Any], seq: int,
                state: _PageState) -> None:
    history = data.get("history")
    engine.session.db.execute(
        "INSERT OR REPLACE INTO sync_events (id, grid_id, category, description,"
        " status, updated_at, server_seq, history, created_at, reporter_id,"
        " household_id, address, urgency) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (data["id"], str(data["grid_id"]), data.get("category"),
         data.get("description"), data["status"], data.get("updated_at"), seq,
         json.dumps(history if isinstance(history, list) else [], ensure_ascii=False),
         data.get("created_at"), data.get("reporter_id"),
         data.get("household_id"), data.get("address"), data.get("urgency")),
    )


def _pull_task(engine: SyncEngine, data: dict[str, Any], seq: int,
               state: _PageState) -> None:
    engine.session.db.execute(
        "INSERT OR REPLACE INTO sync_tasks (id, grid_id, title, body, due,"
        " created_at, server_seq) VALUES (?,?,?,?,?,?,?)",
        (data["id"], str(data["grid_id"]), data["title"], data["body"],
         data.get("due"), data.get("created_at"), seq),
    )


def _pull_visit(engine: SyncEngine, data: dict[str, Any], seq: int,
                state: _PageState) -> None:
    """Colleagues' visits: history and quota due dates."""
    save_pulled_visit(engine.session.db, data, state.now)


def _pull_config(engine: SyncEngine, data: dict[str, Any], seq: int,
                 state: _PageState) -> None:
    serverconfig.put(engine.session.db, data["key"], data.get("value"), seq)


def _pull_review(engine: SyncEngine, data: dict[str, Any], seq: int,
                 state: _PageState) -> None:
    """A verdict on a visit or patrol (the worker's own records', or the grid's)."""
    reviews.save_pulled_review(engine.session, data, seq, state.now)


def _pull_patrol(engine: SyncEngine, data: dict[str, Any], seq: int,
                 state: _PageState) -> None:
    """Another device's finished patrol (leaders and supervisors)."""
    reviews.save_pulled_patrol(engine.session, data, seq)


def _pull_device(engine: SyncEngine, data: dict[str, Any], seq: int,
                 state: _PageState) -> None:
    """A device of the grid's workers with its last contact (leaders and supervisors)."""
    reviews.save_pulled_device(engine.session, data, seq)


def _pull_grid(engine: SyncEngine, data: dict[str, Any], seq: int,
               state: _PageState) -> None:
    """A grid's own data: its boundary, drawn on the maps of the grid."""
    serverconfig.save_grid(engine.session.db, data, seq)


PULL_APPLIERS: dict[str, PullApplier] = {
    "household": _pull_household,
    "conflict": _pull_conflict,
    "event": _pull_event,
    "task": _pull_task,
    "visit": _pull_visit,
    "config": _pull_config,
    "review": _pull_review,
    "patrol": _pull_patrol,
    "device": _pull_device,
    "grid": _pull_grid,
}
