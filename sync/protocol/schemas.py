"""The protocol as data: one schema per op kind (its ``payload``) and per pull kind (a
change's ``data``), defined once here and used on both sides.

* The server validates every op's payload with :func:`check_op_payload` before it
  applies it (a failure is that op's ``rejected``/``invalid`` answer, never the batch's)
  and publishes these models in ``/openapi.json``.
* The device checks what it is about to send (:func:`check_op_payload`: an op this
  build cannot send correctly is set aside, not sent forever) and every pulled row
  before applying it (:func:`check_change`: a failure quarantines that row only).

Validation checks, it never rewrites: immutable records are compared by the hash of
the payload exactly as sent, so the payload stays as the device made it. Unknown
optional fields are allowed (``extra="allow"``): a newer client's extra field is kept,
bounded like every payload (:func:`check_json_bounds`: nesting, NUL, surrogates,
finite numbers). Every model is strict (no "12" for 12, no ``true`` for 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from annotated_types import GroupedMetadata
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)

from sync import protocol

MAX_PAYLOAD_DEPTH = 8  # a visit's extras nest two or three levels; 8 leaves room
MAX_ID = 2**53  # ids and numbers every JSON reader and both databases hold exactly
MAX_TEXT = 5000  # a visit's situation, an event's description, an answer
MAX_PHOTOS = 20  # photo ids one record may name
MAX_TAGS = 50
MAX_POINTS = 1000  # points in one track.segment (fieldclient.fieldwork.tracks.SEGMENT_POINTS)
UNIX_MAX = 1e11  # seconds; year 5138: any real time fits, 1e400 does not
HOUSEHOLD_CATEGORIES = ("ordinary", "hardship", "key")


class SchemaError(ValueError):
    """A payload or a pulled row that does not fit its schema; ``detail`` says why in
    a sentence a log or a support call can use."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# -- building blocks ---------------------------------------------------------------------

def _clean_text(value: str) -> str:
    """No NUL, no lone surrogate: for ids (an op's envelope is checked with these too);
    payload texts get the same check from :func:`check_json_bounds`, run first."""
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return value


# For text checked on its own, outside a payload that check_json_bounds walks first
# (an enrolling device's name, an op's ids): no NUL, no lone surrogate.
CleanText = AfterValidator(_clean_text)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _digits_id(value: int | str) -> int | str:
    """A grid or person id: a positive whole number, or a short string of digits (the
    device keeps grid ids as text). Never a float, a bool, 1e400."""
    if isinstance(value, int):
        if not 0 < value < MAX_ID:
            raise ValueError("id out of range")
    elif not (0 < len(value) <= 15 and value.isascii() and value.isdigit()):
        raise ValueError("id must be a whole number")
    return value


# Published with every text: no NUL (no database column holds one; lone surrogates,
# refused as well, cannot be written in a JSON Schema pattern). Documentation only: the
# checks are check_json_bounds (payloads) and _clean_text (ids), with plain messages.
NO_NUL: dict[str, Any] = {"pattern": "^[^\\x00]*$"}


@dataclass(frozen=True)
class Txt(GroupedMetadata):
    """Text of at most ``max_length`` characters, valid Unicode without NUL; with
    ``required`` also not blank."""

    max_length: int
    required: bool = False

    def __iter__(self) -> Iterator[Any]:
        # NUL and lone surrogates: check_json_bounds, run first over the whole payload
        yield Strict()
        yield Field(min_length=1 if self.required else 0, max_length=self.max_length,
                    json_schema_extra=NO_NUL)
        if self.required:
            yield AfterValidator(_not_blank)


@dataclass(frozen=True)
class Num(GroupedMetadata):
    """A finite number in ``[low, high]`` (an int is fine, a bool or "12" is not)."""

    low: float
    high: float

    def __iter__(self) -> Iterator[Any]:
        yield Strict()
        yield Field(ge=self.low, le=self.high, allow_inf_nan=False)


@dataclass(frozen=True)
class Int(GroupedMetadata):
    """A whole number in ``[low, high]`` (not a bool, not a float)."""

    low: int
    high: int

    def __iter__(self) -> Iterator[Any]:
        yield Strict()
        yield Field(ge=self.low, le=self.high)


RecordId = Annotated[str, Strict(), Field(min_length=1, max_length=64, json_schema_extra=NO_NUL),
                     AfterValidator(_clean_text)]
ShortId = Annotated[str, Strict(), Field(min_length=1, max_length=36, json_schema_extra=NO_NUL),
                    AfterValidator(_clean_text)]
GridId = Annotated[int | str, AfterValidator(_digits_id)]  # strict: the models are
UnixTime = Annotated[float, Num(0, UNIX_MAX)]
PhotoIds = Annotated[list[RecordId], Field(max_length=MAX_PHOTOS)]
Sha256 = Annotated[str, Strict(), Field(pattern=r"^[0-9a-f]{64}$")]
Tags = Annotated[list[Annotated[str, Txt(50, required=True)]], Field(max_length=MAX_TAGS)]
Lat = Annotated[float, Num(-90, 90)]
Lon = Annotated[float, Num(-180, 180)]
Meters = Annotated[float, Num(0, 1e7)]


class _Open(BaseModel):
    """A schema that keeps fields it does not know (a newer peer's optional fields)."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Location(_Open):
    lat: Lat
    lon: Lon
    accuracy_m: Meters | None = None
    at: UnixTime | None = None


# -- op payloads ---------------------------------------------------------------------------

class HouseholdCreate(_Open):
    """A household registered on the device (the centre's roster grows from the field)."""

    grid_id: GridId | None = None
    head_name: Annotated[str, Txt(50, required=True)]
    address: Annotated[str, Txt(200, required=True)]
    category: Literal["ordinary", "hardship", "key"] | None = None
    phone: Annotated[str, Txt(20)] | None = None
    id_number: Annotated[str, Txt(18)] | None = None
    tags: Tags | None = None
    lat: Lat | None = None  # where the household lives, when known (WGS-84)
    lon: Lon | None = None


class VisitCreate(_Open):
    """A visit log. Older clients sent ``people_met`` as a number, ``photos`` as the
    JSON text of a list and an extra ``problems``: accepted as they are (immutable)."""

    id: RecordId | None = None
    household_id: ShortId | None = None
    grid_id: GridId | None = None
    visit_type: Literal["home", "phone", "revisit", "other"] | None = None
    visited_at: UnixTime | None = None
    tz_offset_minutes: Annotated[int, Int(-1440, 1440)] | None = None
    people_met: Annotated[int, Int(0, 999)] | Annotated[str, Txt(MAX_TEXT)] | None = None
    situation: Annotated[str, Txt(MAX_TEXT)] | None = None
    needs: Annotated[str, Txt(MAX_TEXT)] | None = None
    problems: Annotated[str, Txt(MAX_TEXT)] | None = None
    follow_up: Annotated[str, Txt(MAX_TEXT)] | None = None
    follow_up_due: Annotated[str, Txt(32)] | UnixTime | None = None
    photos: PhotoIds | Annotated[str, Txt(MAX_PHOTOS * 70)] | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    accuracy_m: Meters | None = None
    corrects: RecordId | None = None
    worker: Annotated[str, Txt(MAX_TEXT)] | None = None
    device_id: RecordId | None = None
    training: bool | Annotated[int, Int(0, 1)] | None = None


class EventSource(_Open):
    kind: Annotated[str, Txt(32)]


class EventReport(_Open):
    """A problem reported into the centre's closed loop (上报)."""

    id: ShortId | None = None
    grid_id: GridId | None = None
    category: Annotated[str, Txt(20, required=True)]
    description: Annotated[str, Txt(MAX_TEXT, required=True)]
    urgency: Literal["normal", "urgent", "emergency"] | None = None
    household_id: ShortId | None = None
    address: Annotated[str, Txt(200)] | None = None
    location: Location | None = None
    photos: PhotoIds | None = None
    reported_at: UnixTime | None = None
    device_id: RecordId | None = None
    source: EventSource | None = None


class EventFollowup(_Open):
    """The reporting worker's next step on an event: a supplement or an on-the-spot
    check. A check needs a photo; a supplement needs text or a photo."""

    event_id: ShortId
    kind: Literal["supplement", "verify"]
    outcome: Literal["passed", "failed"] | None = None
    text: Annotated[str, Txt(MAX_TEXT)] | None = None
    photos: PhotoIds | None = None
    location: Location | None = None
    created_at: UnixTime | None = None

    def model_post_init(self, _context: Any) -> None:
        if self.kind == "verify" and self.outcome is None:
            raise ValueError("a verify needs outcome passed or failed")
        if self.kind == "supplement" and self.outcome is not None:
            raise ValueError("a supplement has no outcome")
        if self.kind == "verify" and not self.photos:
            raise ValueError("an on-the-spot check needs at least one photo")
        if self.kind == "supplement" and not (self.text or "").strip() and not self.photos:
            raise ValueError("a supplement needs text or a photo")


class PatrolReport(_Open):
    """A finished patrol's summary (its results, tracks and photos go as their own ops)."""

    id: RecordId | None = None
    patrol_id: RecordId | None = None
    grid_id: GridId | None = None
    checklist_version: Annotated[int, Int(0, 10**6)] | None = None
    items_total: Annotated[int, Int(0, 1000)] | None = None
    items_done: Annotated[int, Int(0, 1000)] | None = None
    problems: Annotated[int, Int(0, 1000)] | None = None
    normal: Annotated[int, Int(0, 1000)] | None = None
    not_applicable: Annotated[int, Int(0, 1000)] | None = None
    distance_m: Meters | None = None
    duration_s: Annotated[float, Num(0, 1e8)] | None = None
    started_at: UnixTime | None = None
    finished_at: UnixTime | None = None
    track_points: Annotated[int, Int(0, 10**8)] | None = None
    device_id: RecordId | None = None
    worker_id: Annotated[str, Txt(64)] | Annotated[int, Int(0, MAX_ID)] | None = None
    results: Annotated[list[RecordId], Field(max_length=1000)] | None = None
    tracks: Annotated[list[RecordId], Field(max_length=1000)] | None = None
    photos: Annotated[list[RecordId], Field(max_length=1000)] | None = None
    incomplete: Annotated[list[Annotated[str, Txt(16)]], Field(max_length=1000)] | None = None


class ChecklistPhoto(_Open):
    id: RecordId
    sha256: Sha256 | None = None


class ChecklistResult(_Open):
    """One inspection item's result in a patrol (the 28 items)."""

    id: RecordId | None = None
    patrol_id: RecordId
    grid_id: GridId | None = None
    checklist_version: Annotated[int, Int(0, 10**6)] | None = None
    code: Annotated[str, Txt(16, required=True)]
    result: Annotated[str, Txt(32, required=True)]
    note: Annotated[str, Txt(MAX_TEXT)] | None = None
    photos: Annotated[list[ChecklistPhoto | RecordId], Field(max_length=MAX_PHOTOS)] | None = None
    recorded_at: UnixTime | None = None


TrackPoint = Annotated[list[float | None], Field(min_length=3, max_length=8)]


class TrackSummary(_Open):
    points_read: Annotated[int, Int(0, 10**8)] | None = None
    points_kept: Annotated[int, Int(0, 10**8)] | None = None
    distance_m: Meters | None = None
    started_at: UnixTime | None = None
    ended_at: UnixTime | None = None
    tolerance_m: Meters | None = None


class TrackSegment(_Open):
    """Up to :data:`MAX_POINTS` simplified GPS points of a patrol's track:
    ``[t, lat, lon, alt, accuracy_m]`` each."""

    id: RecordId | None = None
    track_id: RecordId
    patrol_id: RecordId | None = None
    grid_id: GridId | None = None
    device_id: RecordId | None = None
    source: Annotated[str, Txt(32)] | None = None
    seq: Annotated[int, Int(0, 10**6)] | None = None
    part: Annotated[int, Int(0, 10**6)] | None = None
    points: Annotated[list[TrackPoint], Field(max_length=MAX_POINTS + 1)]
    track: TrackSummary | None = None

    def model_post_init(self, _context: Any) -> None:
        for point in self.points:
            t, lat, lon = point[0], point[1], point[2]
            if t is None or lat is None or lon is None:
                raise ValueError("a track point needs time, latitude and longitude")
            if not (0 <= t <= UNIX_MAX and -90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("a track point is out of range")
            if any(v is not None and not math.isfinite(v) for v in point):
                raise ValueError("a track point has a number that is not finite")


class PhotoMeta(_Open):
    """What the centre needs to know of a photo; its bytes go up by SHA-256."""

    id: RecordId | None = None
    sha256: Sha256
    width: Annotated[int, Int(1, 100_000)] | None = None
    height: Annotated[int, Int(1, 100_000)] | None = None
    bytes: Annotated[int, Int(1, 2**40)] | None = None
    captured_at: UnixTime | None = None
    tz_offset_minutes: Annotated[int, Int(-1440, 1440)] | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    place: Annotated[str, Txt(200)] | None = None
    grid_id: GridId | None = None
    grid_name: Annotated[str, Txt(100)] | None = None
    worker: Annotated[str, Txt(100)] | None = None
    device_id: RecordId | None = None
    created_at: UnixTime | None = None
    media_type: Annotated[str, Txt(64)] | None = None


class MemberCreate(_Open):
    """A person joining a household (the grid is the household's)."""

    household_id: ShortId
    name: Annotated[str, Txt(50, required=True)]
    relation: Annotated[str, Txt(20, required=True)]
    id_number: Annotated[str, Txt(18)] | None = None
    phone: Annotated[str, Txt(20)] | None = None
    residence: Literal["registered", "floating", "tenant"]


class TaskAck(_Open):
    task_id: RecordId
    acknowledged_at: UnixTime | None = None


class TaskAnswer(_Open):
    """A worker's answer to a centre task: text, photos or an event (at least one)."""

    task_id: RecordId
    text: Annotated[str, Txt(MAX_TEXT)] | None = None
    photos: PhotoIds | None = None
    event_id: ShortId | None = None
    answered_at: UnixTime | None = None

    def model_post_init(self, _context: Any) -> None:
        if not (self.text or "").strip() and not self.photos and not self.event_id:
            raise ValueError("an answer needs text, a photo or an event")


class ReviewCreate(_Open):
    """A leader's or supervisor's verdict on a visit or a patrol (never edited: a new
    verdict is a new review). ``has_issues`` needs a comment saying what."""

    target_kind: Literal["visit", "patrol"]
    target_id: RecordId
    state: Literal["approved", "has_issues", "rejected"]
    comment: Annotated[str, Txt(MAX_TEXT)] | None = None
    reviewed_at: UnixTime | None = None

    def model_post_init(self, _context: Any) -> None:
        if self.state == "has_issues" and not (self.comment or "").strip():
            raise ValueError("has_issues needs a comment")


def _omit_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _never_null() -> Any:
    """A field an update may leave out but, when it names it, never sets to null: the
    record's field is required (or a list) and null would blank it. The schema says so
    (no ``null``, no ``default``); validation refuses null."""
    return Field(default=None, json_schema_extra=_omit_default)


class HouseholdFields(_Closed):
    """The fields a ``household.update`` may change (:data:`protocol.HOUSEHOLD_FIELDS`)."""

    head_name: Annotated[str, Txt(50, required=True)] = _never_null()
    address: Annotated[str, Txt(200, required=True)] = _never_null()
    category: Literal["ordinary", "hardship", "key"] = _never_null()
    phone: Annotated[str, Txt(20)] | None = None
    id_number: Annotated[str, Txt(18)] | None = None
    tags: Tags = _never_null()


class HouseholdUpdate(_Open):
    fields: dict[str, Any] = Field(min_length=1, max_length=len(protocol.HOUSEHOLD_FIELDS))


class MemberFields(_Closed):
    name: Annotated[str, Txt(50, required=True)] = _never_null()
    relation: Annotated[str, Txt(20, required=True)] = _never_null()
    id_number: Annotated[str, Txt(18)] | None = None
    phone: Annotated[str, Txt(20)] | None = None
    residence: Literal["registered", "floating", "tenant"] = _never_null()


class MemberUpdate(_Open):
    fields: dict[str, Any] = Field(min_length=1, max_length=len(protocol.MEMBER_FIELDS))


class MemberRemove(_Open):
    pass


class HouseholdTags(_Open):
    """A set merge: tags removed, then tags added (never a conflict)."""

    add: Tags | None = None
    remove: Tags | None = None


class ConflictResolve(_Open):
    choice: Literal["kept", "other"]


OP_PAYLOADS: dict[str, type[BaseModel]] = {
    "household.create": HouseholdCreate,
    "visit.create": VisitCreate,
    "event.report": EventReport,
    "event.followup": EventFollowup,
    "patrol.report": PatrolReport,
    "checklist.result": ChecklistResult,
    "track.segment": TrackSegment,
    "photo.meta": PhotoMeta,
    "member.create": MemberCreate,
    "task.ack": TaskAck,
    "task.answer": TaskAnswer,
    "review.create": ReviewCreate,
    "household.update": HouseholdUpdate,
    "household.tags": HouseholdTags,
    "member.update": MemberUpdate,
    "member.remove": MemberRemove,
    "conflict.resolve": ConflictResolve,
}
assert set(OP_PAYLOADS) == set(protocol.OP_KINDS)
_FIELDS_OF: dict[str, type[BaseModel]] = {
    "household.update": HouseholdFields, "member.update": MemberFields}


# -- pulled rows (a change's ``data``) -----------------------------------------------------

class PulledMember(_Open):
    id: RecordId
    name: Annotated[str, Txt(50)]
    relation: Annotated[str, Txt(20)] | None = None
    id_number: Annotated[str, Txt(18)] | None = None
    phone: Annotated[str, Txt(20)] | None = None
    residence: Literal["registered", "floating", "tenant"] | None = None
    version: Annotated[int, Int(0, MAX_ID)] = 1


class PulledHousehold(_Open):
    id: ShortId
    grid_id: GridId
    head_name: Annotated[str, Txt(50)]
    address: Annotated[str, Txt(200)]
    category: Literal["ordinary", "hardship", "key"]
    phone: Annotated[str, Txt(20)] | None = None
    id_number: Annotated[str, Txt(18)] | None = None
    tags: Annotated[list[Annotated[str, Txt(50)]], Field(max_length=MAX_TAGS)] | None = None
    version: Annotated[int, Int(0, MAX_ID)]
    registered_at: UnixTime | None = None
    lat: Lat | None = None  # its known position (migration 14), when the centre has one
    lon: Lon | None = None
    members: Annotated[list[PulledMember], Field(max_length=500)] = []


class PulledConflict(_Open):
    id: RecordId
    household_id: ShortId
    grid_id: GridId
    field: Annotated[str, Txt(32)]
    member_id: RecordId | None = None
    status: Annotated[str, Txt(16)]


class HistoryEntry(_Open):
    from_status: Annotated[str, Txt(16)] | None = None
    to_status: Annotated[str, Txt(16)]
    note: Annotated[str, Txt(MAX_TEXT)] | None = None
    actor: Annotated[str, Txt(100)] | None = None
    at: Annotated[str, Txt(40)]
    followup_id: RecordId | None = None


class PulledEvent(_Open):
    id: ShortId
    grid_id: GridId
    category: Annotated[str, Txt(20)]
    description: Annotated[str, Txt(MAX_TEXT)]
    status: Annotated[str, Txt(16)]
    urgency: Literal["normal", "urgent", "emergency"] | None = None
    household_id: ShortId | None = None
    address: Annotated[str, Txt(200)] | None = None
    history: Annotated[list[HistoryEntry], Field(max_length=1000)] = []


class PulledTask(_Open):
    id: RecordId
    grid_id: GridId
    title: Annotated[str, Txt(200)]
    body: Annotated[str, Txt(MAX_TEXT)] | None = None
    due: Annotated[str, Txt(40)] | None = None


# photo id -> the SHA-256 of its content (its photo.meta's), for the same-photo check
PhotoHashes = Annotated[dict[RecordId, Sha256], Field(max_length=1000)]


class PulledVisit(VisitCreate):
    """A colleague's visit: the payload as validated at push, with who sent it and the
    SHA-256 of its photos the centre knows."""

    id: RecordId
    grid_id: GridId
    person_id: Annotated[int, Int(1, MAX_ID)] | None = None
    photo_sha256: PhotoHashes | None = None


class PulledConfig(_Open):
    key: Annotated[str, Txt(100)]
    value: Any = None
    org_unit_id: Annotated[int, Int(1, MAX_ID)] | None = None


class PulledReview(_Open):
    id: ShortId
    target_kind: Literal["visit", "patrol"]
    target_id: RecordId
    grid_id: GridId
    state: Literal["approved", "has_issues", "rejected"]
    comment: Annotated[str, Txt(MAX_TEXT)] | None = None
    reviewer_id: Annotated[int, Int(1, MAX_ID)]
    reviewer_name: Annotated[str, Txt(100)] | None = None
    reviewer_role: Annotated[str, Txt(16)] | None = None
    worker_id: Annotated[int, Int(1, MAX_ID)] | None = None
    household_id: ShortId | None = None
    reviewed_at: UnixTime | None = None
    received_at: Annotated[str, Txt(40)] | None = None


class PulledPatrolResult(_Open):
    code: Annotated[str, Txt(16)]
    result: Annotated[str, Txt(32)]
    note: Annotated[str, Txt(MAX_TEXT)] | None = None
    photos: Annotated[list[RecordId], Field(max_length=MAX_PHOTOS)] = []


ReviewPoint = Annotated[list[float], Field(min_length=3, max_length=3)]


class PulledPatrol(_Open):
    """Another device's finished patrol, for review (leaders and supervisors)."""

    id: RecordId
    grid_id: GridId
    person_id: Annotated[int, Int(1, MAX_ID)]
    device_id: RecordId | None = None
    started_at: UnixTime | None = None
    finished_at: UnixTime | None = None
    results: Annotated[list[PulledPatrolResult], Field(max_length=1000)] = []
    photo_sha256: PhotoHashes | None = None
    track: Annotated[list[Annotated[list[ReviewPoint], Field(
        max_length=protocol.MAX_REVIEW_TRACK_POINTS)]],
        Field(max_length=protocol.MAX_REVIEW_TRACK_POINTS)] = []


class PulledDevice(_Open):
    """A device of a worker or leader of the grids, with its last contact."""

    id: RecordId
    person_id: Annotated[int, Int(1, MAX_ID)]
    person_name: Annotated[str, Txt(100)] | None = None
    role: Annotated[str, Txt(16)] | None = None
    grid_ids: Annotated[list[GridId], Field(max_length=1000)] = []
    name: Annotated[str, Txt(100)] | None = None
    status: Annotated[str, Txt(16)] | None = None
    enrolled_at: Annotated[str, Txt(40)] | None = None
    last_contact: Annotated[str, Txt(40)] | None = None


def _boundary(value: Any) -> Any:
    from sync.protocol.boundary import InvalidBoundary, check_pulled

    try:
        return check_pulled(value)
    except InvalidBoundary as exc:
        raise ValueError(str(exc)) from None


class PulledGrid(_Open):
    """A grid's own data (its boundary), for every device of the grid."""

    id: Annotated[str, AfterValidator(_digits_id)]
    name: Annotated[str, Txt(100)] | None = None
    boundary: Annotated[dict[str, Any] | None, AfterValidator(_boundary)] = None
    updated_at: Annotated[str, Txt(40)] | None = None


PULL_DATA: dict[str, type[BaseModel]] = {
    "household": PulledHousehold,
    "conflict": PulledConflict,
    "event": PulledEvent,
    "task": PulledTask,
    "visit": PulledVisit,
    "config": PulledConfig,
    "review": PulledReview,
    "patrol": PulledPatrol,
    "device": PulledDevice,
    "grid": PulledGrid,
}
assert set(PULL_DATA) == set(protocol.PULL_KINDS)


class DeviceStatus(_Open):
    """What a device reports for the fleet view (``POST /device/status``, or riding in an
    audit anchor; level 5). Each bound is the protocol's: a device clamps to it, the
    centre refuses past it."""

    channel: Literal["stable", "pilot"]
    pending_ops: Annotated[int, Int(0, protocol.MAX_STATUS_COUNT)]
    photos_waiting: Annotated[int, Int(0, protocol.MAX_STATUS_COUNT)]
    photo_bytes: Annotated[int, Int(0, protocol.MAX_STATUS_BYTES)]
    secret_store: Literal["tpm", "keyring", "file"] | None = None


assert get_args(DeviceStatus.model_fields["channel"].annotation) == protocol.UPDATE_CHANNELS
assert get_args(get_args(DeviceStatus.model_fields["secret_store"].annotation)[0]) \
    == protocol.SECRET_STORES


# -- checks --------------------------------------------------------------------------------

def check_json_bounds(value: Any, where: str = "payload") -> None:
    """Refuse what would break a database or a reader later: nesting deeper than
    :data:`MAX_PAYLOAD_DEPTH`, text with NUL or lone surrogates, numbers that are not
    finite, keys that are not text. Raises :class:`SchemaError`.

    Fast, since every op and every pulled row passes here: the C JSON encoder finds
    NaN/Infinity, odd keys and values of other types; UTF-8 encoding finds lone
    surrogates; the encoded text shows a NUL as ``\\u0000``; only containers are walked
    for the depth."""
    try:
        encoded = _ENCODER.encode(value)
    except ValueError:
        raise SchemaError(f"{where} has a number that is not finite") from None
    except (TypeError, RecursionError):
        raise SchemaError(f"{where} has a key or a value of an unknown type, or nests "
                          "too deep") from None
    if "\\u0000" in encoded:
        raise SchemaError(f"{where} has a NUL character in a text")
    if not encoded.isascii():
        try:
            encoded.encode("utf-8")
        except UnicodeEncodeError:
            raise SchemaError(f"{where} has text that is not valid Unicode") from None
    if not _shallow(value, 0):
        raise SchemaError(f"{where} nests deeper than {MAX_PAYLOAD_DEPTH} levels")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)


def _shallow(value: Any, depth: int) -> bool:
    if depth >= MAX_PAYLOAD_DEPTH:
        return False
    items = value.values() if type(value) is dict else value if type(value) is list else ()
    for item in items:
        if type(item) in (dict, list) and not _shallow(item, depth + 1):
            return False
    return True


def _explain(exc: ValidationError) -> str:
    """The first error in a sentence: ``visited_at: Input should be ...``."""
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
    return f"{where}: {first.get('msg', 'invalid')}"


def unknown_fields(kind: str, payload: dict[str, Any]) -> list[str]:
    """Field names a ``household.update``/``member.update`` names that this version
    does not know (a newer peer's field: the op waits, it is not refused)."""
    model = _FIELDS_OF.get(kind)
    fields = payload.get("fields")
    if model is None or not isinstance(fields, dict):
        return []
    return sorted(str(k) for k in fields if k not in model.model_fields)


def check_op_payload(kind: str, payload: Any) -> None:
    """Raise :class:`SchemaError` when ``payload`` does not fit ``kind``'s schema (a
    kind not in :data:`OP_PAYLOADS` is the caller's business: ``retry_later``)."""
    if not isinstance(payload, dict):
        raise SchemaError("payload must be an object")
    check_json_bounds(payload)
    model = OP_PAYLOADS[kind]
    try:
        model.model_validate(payload)
        fields_model = _FIELDS_OF.get(kind)
        if fields_model is not None:
            known = {k: v for k, v in payload["fields"].items() if k in fields_model.model_fields}
            try:
                fields_model.model_validate(known)  # null only where a field may be empty
            except ValidationError as exc:
                raise SchemaError("fields." + _explain(exc)) from None
    except ValidationError as exc:
        raise SchemaError(_explain(exc)) from None
    except ValueError as exc:  # model_post_init's cross-field rules
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(str(exc)) from None


def check_change(change: dict[str, Any], *, bounds: bool = True) -> None:
    """Raise :class:`SchemaError` when a pulled row does not fit its kind's schema (a
    kind not in :data:`PULL_DATA` is the caller's business: keep it for later).

    ``bounds=False`` skips :func:`check_json_bounds` (NUL, surrogates, depth): for a
    receiver that stores each row in its own savepoint anyway, so such a row fails
    alone (the device's first pull reads 100,000 households: it counts)."""
    data = change.get("data")
    if not isinstance(data, dict):
        raise SchemaError("data must be an object")
    if bounds:
        check_json_bounds(data, "data")
    try:
        PULL_DATA[str(change.get("kind"))].model_validate(data)
    except ValidationError as exc:
        raise SchemaError(_explain(exc)) from None
    except ValueError as exc:
        raise SchemaError(str(exc)) from None


def openapi_components() -> dict[str, Any]:
    """JSON schemas of every op payload and pulled row, for ``/openapi.json``
    (``components.schemas``), named ``Op_<kind>`` and ``Pull_<kind>``."""
    out: dict[str, Any] = {}
    for prefix, models in (("Op_", OP_PAYLOADS), ("Pull_", PULL_DATA)):
        for kind, model in models.items():
            name = prefix + kind.replace(".", "_")
            schema = TypeAdapter(model).json_schema(
                ref_template="#/components/schemas/{model}", mode="validation")
            for def_name, definition in schema.pop("$defs", {}).items():
                out.setdefault(def_name, definition)
            out[name] = schema
    for kind, fields_model in _FIELDS_OF.items():
        name = "Op_" + kind.replace(".", "_")
        schema = TypeAdapter(fields_model).json_schema(
            ref_template="#/components/schemas/{model}")
        out[name]["properties"]["fields"] = schema
    return out


def check_device_status(value: Any) -> dict[str, Any]:
    """The known fields of a device's status report, checked (:class:`DeviceStatus`);
    :class:`SchemaError` when it does not fit. Fields a newer device adds are dropped:
    the centre keeps only what it can show."""
    if not isinstance(value, dict):
        raise SchemaError("status must be an object")
    check_json_bounds(value, "status")
    try:
        status = DeviceStatus.model_validate(value)
    except ValidationError as exc:
        raise SchemaError(_explain(exc)) from None
    return {name: getattr(status, name) for name in DeviceStatus.model_fields}
