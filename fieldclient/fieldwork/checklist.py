"""The patrol checklist (巡查事项): versioned data signed by IT with Ed25519.

A checklist definition is a UTF-8 JSON file; its detached signature (``.sig``) is
the base64 Ed25519 signature of :func:`signed_message` of the file's exact bytes.
The client trusts only the keys in :data:`PINNED_PUBLIC_KEYS`: an unsigned, tampered
or foreign-signed definition is refused, wherever it comes from (the bundled
default in ``resources/checklists/``, the centre, a file IT loads).

Installed versions live in the encrypted database and are never replaced or
deleted, so a patrol always finds the version it started with. The version in
force is the highest one installed, or the bundled default when that is higher.

Signed configuration (issue 14): a checklist that came as a target of the centre's TUF
config role (:mod:`fieldclient.update.config`) is in force whatever its number, until
TUF names another: the order is the TUF metadata's, so a version 2³¹−1 cannot block a
later one numbered 2. Its row keeps ``tuf-sha256:<hex>`` instead of an Ed25519
signature (TUF verified it on arrival; the hash is checked again on every load). Once a
device has had a signed checklist, a checklist signed with the pinned keys is no longer
installed from a file: the pinned keys cannot be rotated, the TUF ones can.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.security import audit

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

CHECKLIST_DIR = Path(__file__).resolve().parents[2] / "resources" / "checklists"
BUNDLED_DEFINITION = CHECKLIST_DIR / "default.json"
FORMAT = "gridfield-checklist"
FORMAT_VERSION = 1
TUF_SIGNATURE = "tuf-sha256:"  # a TUF-delivered row's signature column: the target's hash
SIGNATURE_CONTEXT = b"gridfield checklist v1\n"  # domain separation: IT's key signs builds too

# IT's checklist signing keys (raw Ed25519 public keys, base64). The default
# checklist in resources/checklists/ is signed with the development key below,
# whose private half was destroyed after signing. For production, IT makes its
# own key pair (scripts/sign_checklist.py keygen), puts the public key here, and
# re-signs default.json (scripts/sign_checklist.py sign).
DEVELOPMENT_PUBLIC_KEY = "V1S4tODSpj1dK01NS9xedogO8Js6rj9PZ/TLH4gp5HQ="
PINNED_PUBLIC_KEYS: tuple[str, ...] = (DEVELOPMENT_PUBLIC_KEY,)

_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")
_GROUP_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_DEFINITION_BYTES = 1 << 20


# -- errors ------------------------------------------------------------------
class ChecklistUnsigned(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "巡查清单没有签名，已拒绝使用。请向信息管理员索取签名后的清单。"
    )


class ChecklistBadSignature(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "巡查清单的签名无效（文件被改动过，或不是信息管理员签发的），已拒绝使用。"
    )


class ChecklistInvalid(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "巡查清单的内容格式不正确，已拒绝使用：{reason}")


class ChecklistNotNewer(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "巡查清单第{version}版不比本机已有的第{current}版新，没有安装。"
    )


class ChecklistVersionConflict(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "本机已有内容不同的巡查清单第{version}版，没有安装。请联系信息管理员。"
    )


class ChecklistSignedOnly(FieldClientError):
    text = QT_TRANSLATE_NOOP(
        "errors", "本机的巡查清单由指挥中心签名下发，不能再从文件安装。请信息管理员在指挥中心发布。"
    )


class ChecklistMissing(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "本机没有巡查清单第{version}版。")


# -- model -------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """A platform (平台) the items are grouped by."""

    key: str
    zh: str
    en: str

    def name(self, language: str = "zh_CN") -> str:
        return self.en if language.startswith("en") else self.zh


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    name_zh: str
    name_en: str
    group: Group
    hint_zh: str
    hint_en: str
    photo_required_on_problem: bool
    event_category: str | None = None

    def name(self, language: str = "zh_CN") -> str:
        return self.name_en if language.startswith("en") else self.name_zh

    def hint(self, language: str = "zh_CN") -> str:
        return self.hint_en if language.startswith("en") else self.hint_zh

    def as_json(self) -> dict[str, Any]:
        """The item as ``fieldclient checklist show --json`` prints it."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "group": self.group.zh,
            "group_en": self.group.en,
            "group_key": self.group.key,
            "hint_zh": self.hint_zh,
            "hint_en": self.hint_en,
            "photo_required_on_problem": self.photo_required_on_problem,
        }


@dataclass(frozen=True)
class Checklist:
    version: int
    checklist_id: str
    title_zh: str
    title_en: str
    items: tuple[ChecklistItem, ...]
    definition: bytes  # the exact signed bytes
    signature: str  # base64

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ChecklistItem]:
        return iter(self.items)

    def item(self, code: str) -> ChecklistItem | None:
        for item in self.items:
            if item.code == code:
                return item
        return None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    def groups(self) -> list[tuple[Group, list[ChecklistItem]]]:
        """Items by platform, in the order the definition lists them."""
        grouped: dict[str, tuple[Group, list[ChecklistItem]]] = {}
        for item in self.items:
            grouped.setdefault(item.group.key, (item.group, []))[1].append(item)
        return list(grouped.values())

    def title(self, language: str = "zh_CN") -> str:
        return self.title_en if language.startswith("en") else self.title_zh


# -- signatures --------------------------------------------------------------
def signed_message(definition: bytes) -> bytes:
    """What the Ed25519 signature covers: a context label, then the file's bytes."""
    return SIGNATURE_CONTEXT + definition


def _decode_key(key: str | bytes) -> Ed25519PublicKey:
    raw = base64.b64decode(key, validate=True) if isinstance(key, str) else key
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(
    definition: bytes,
    signature: str | bytes | None,
    public_keys: tuple[str | bytes, ...] | None = None,
) -> None:
    """Raise unless ``signature`` (base64 text) is a pinned key's signature of ``definition``."""
    if signature is None:
        raise ChecklistUnsigned()
    text = signature.decode("ascii", "replace") if isinstance(signature, bytes) else signature
    text = text.strip()
    if not text:
        raise ChecklistUnsigned()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ChecklistBadSignature() from exc
    if len(raw) != 64:
        raise ChecklistBadSignature()
    keys = PINNED_PUBLIC_KEYS if public_keys is None else public_keys
    message = signed_message(definition)
    for key in keys:
        try:
            _decode_key(key).verify(raw, message)
        except (InvalidSignature, ValueError, binascii.Error):
            continue
        return
    raise ChecklistBadSignature()


# -- parsing -----------------------------------------------------------------
def _text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ChecklistInvalid(reason=f"{where}.{key}")
    return value.strip()


def _pair(obj: dict[str, Any], key: str, where: str) -> tuple[str, str]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise ChecklistInvalid(reason=f"{where}.{key}")
    return _text(value, "zh", f"{where}.{key}"), _text(value, "en", f"{where}.{key}")


def parse_definition(definition: bytes, signature: str = "") -> Checklist:
    """Check the structure of a definition (not its signature) and build the model."""
    if len(definition) > MAX_DEFINITION_BYTES:
        raise ChecklistInvalid(reason="size")
    try:
        doc = json.loads(definition.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChecklistInvalid(reason="JSON") from exc
    if not isinstance(doc, dict):
        raise ChecklistInvalid(reason="JSON")
    if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise ChecklistInvalid(reason="format")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 1 << 31:
        raise ChecklistInvalid(reason="version")
    checklist_id = _text(doc, "id", "checklist")
    title_zh, title_en = _pair(doc, "title", "checklist")
    raw_items = doc.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise ChecklistInvalid(reason="items")
    items: list[ChecklistItem] = []
    groups: dict[str, Group] = {}
    for index, raw in enumerate(raw_items):
        where = f"items[{index}]"
        if not isinstance(raw, dict):
            raise ChecklistInvalid(reason=where)
        code = _text(raw, "code", where)
        if not _CODE.fullmatch(code) or any(i.code == code for i in items):
            raise ChecklistInvalid(reason=f"{where}.code")
        group_raw = raw.get("group")
        if not isinstance(group_raw, dict):
            raise ChecklistInvalid(reason=f"{where}.group")
        group_key = _text(group_raw, "key", f"{where}.group")
        if not _GROUP_KEY.fullmatch(group_key):
            raise ChecklistInvalid(reason=f"{where}.group.key")
        group = Group(group_key, *_pair(raw, "group", where))
        if groups.setdefault(group_key, group) != group:
            raise ChecklistInvalid(reason=f"{where}.group")
        hint_zh, hint_en = _pair(raw, "hint", where)
        photo = raw.get("photo_required_on_problem")
        if not isinstance(photo, bool):
            raise ChecklistInvalid(reason=f"{where}.photo_required_on_problem")
        category = raw.get("event_category")
        if category is not None and (not isinstance(category, str) or not category.strip()):
            raise ChecklistInvalid(reason=f"{where}.event_category")
        items.append(
            ChecklistItem(
                code=code,
                name_zh=_text(raw, "name_zh", where),
                name_en=_text(raw, "name_en", where),
                group=group,
                hint_zh=hint_zh,
                hint_en=hint_en,
                photo_required_on_problem=photo,
                event_category=category.strip() if category else None,
            )
        )
    return Checklist(
        version=version,
        checklist_id=checklist_id,
        title_zh=title_zh,
        title_en=title_en,
        items=tuple(items),
        definition=definition,
        signature=signature,
    )


def load_checklist(
    definition: bytes,
    signature: str | bytes | None,
    public_keys: tuple[str | bytes, ...] | None = None,
) -> Checklist:
    """Verify the signature first (nothing unsigned is even parsed), then parse."""
    verify_signature(definition, signature, public_keys)
    text = signature.decode("ascii") if isinstance(signature, bytes) else str(signature)
    return parse_definition(definition, text.strip())


def signature_path(definition_path: Path) -> Path:
    return definition_path.with_name(definition_path.name + ".sig")


def load_checklist_file(
    path: Path,
    signature_file: Path | None = None,
    public_keys: tuple[str | bytes, ...] | None = None,
) -> Checklist:
    """A definition file and its detached signature (default: ``PATH.sig``)."""
    definition = Path(path).read_bytes()
    sig_path = signature_file or signature_path(Path(path))
    try:
        signature: bytes | None = sig_path.read_bytes()
    except FileNotFoundError:
        signature = None
    return load_checklist(definition, signature, public_keys)


def bundled_checklist(public_keys: tuple[str | bytes, ...] | None = None) -> Checklist:
    """The default checklist shipped in ``resources/checklists/``, verified."""
    return load_checklist_file(BUNDLED_DEFINITION, public_keys=public_keys)


def _bundled_version() -> int | None:
    """The bundled file's version number, read without verifying (comparison only)."""
    try:
        doc = json.loads(BUNDLED_DEFINITION.read_bytes())
    except (OSError, ValueError):
        return None
    version = doc.get("version") if isinstance(doc, dict) else None
    return version if isinstance(version, int) else None


# -- the device database -----------------------------------------------------
def installed_versions(session: Session) -> list[int]:
    rows = session.db.execute("SELECT version FROM checklists ORDER BY version").fetchall()
    return [int(r[0]) for r in rows]


def _stored(session: Session, version: int) -> tuple[bytes, str] | None:
    row = session.db.execute(
        "SELECT definition, signature FROM checklists WHERE version = ?", (version,)
    ).fetchone()
    return (bytes(row[0]), str(row[1])) if row else None


def store_checklist(session: Session, checklist: Checklist, source: str) -> bool:
    """Insert a verified checklist; call inside the caller's transaction.

    Returns False when this exact version is already stored. The same version
    number with different content is refused.
    """
    existing = _stored(session, checklist.version)
    if existing is not None:
        if existing[0] != checklist.definition:
            raise ChecklistVersionConflict(version=checklist.version)
        return False
    session.db.execute(
        "INSERT INTO checklists (version, checklist_id, definition, signature, source,"
        " installed_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            checklist.version,
            checklist.checklist_id,
            checklist.definition,
            checklist.signature,
            source,
            session.clock(),
        ),
    )
    session.audit.append(
        audit.RECORD_CREATED,
        {"kind": "checklist", "version": checklist.version, "source": source},
    )
    return True


def install_checklist(
    session: Session,
    definition: bytes,
    signature: str | bytes | None,
    source: str = "centre",
    public_keys: tuple[str | bytes, ...] | None = None,
) -> Checklist:
    """Install a new signed version from the centre (or IT). Old versions stay.

    Refused: bad or missing signature, bad structure, a version not newer than
    the one in force, the same version with other content. Installing the same
    bytes again is a no-op.
    """
    from fieldclient.fieldwork import serverconfig

    if serverconfig.signed(session.db, serverconfig.CHECKLIST) is not None:
        raise ChecklistSignedOnly()
    checklist = load_checklist(definition, signature, public_keys)
    existing = _stored(session, checklist.version)
    if existing is not None and existing[0] == checklist.definition:
        return checklist
    if existing is None and _bundled_version() == checklist.version:
        if BUNDLED_DEFINITION.read_bytes() == checklist.definition:
            return checklist  # the centre sent the default this device already has
    current = current_version(session)
    if current is not None and checklist.version <= current:
        if existing is not None:
            raise ChecklistVersionConflict(version=checklist.version)
        raise ChecklistNotNewer(version=checklist.version, current=current)
    with session.db.conn:
        store_checklist(session, checklist, source)
    write_marker(session.paths.root, checklist.version)
    return checklist


MARKER_NAME = "checklist-version.json"


def write_marker(data_dir: Path, version: int, signed: bool = False) -> None:
    """Note, readable without the PIN, that a newer checklist is installed (the
    number only: the command line then knows the bundled one is not in force);
    ``signed``: the TUF-delivered one is in force whatever its number."""
    from fieldclient.fsutil import atomic_write

    value: dict[str, Any] = {"version": version}
    if signed:
        value["signed"] = True
    atomic_write(data_dir / MARKER_NAME, json.dumps(value).encode("ascii"))


def marker_version(data_dir: Path) -> int | None:
    try:
        value = json.loads((data_dir / MARKER_NAME).read_text("ascii")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def bundled_is_in_force(data_dir: Path) -> bool:
    """True unless the device noted a newer installed version than the bundled one."""
    installed = marker_version(data_dir)
    bundled = _bundled_version()
    try:
        signed = json.loads((data_dir / MARKER_NAME).read_text("ascii")).get("signed")
    except (OSError, ValueError, AttributeError):
        signed = False
    if signed is True:  # the signed one is in force: the bundled one only if the same
        return installed is not None and bundled == installed
    return installed is None or (bundled is not None and bundled >= installed)


def _load_tuf_row(definition: bytes, signature: str) -> Checklist:
    if hashlib.sha256(definition).hexdigest() != signature[len(TUF_SIGNATURE):]:
        raise ChecklistBadSignature()
    return parse_definition(definition, signature)


def signed_version(session: Session) -> int | None:
    """The version of the checklist the TUF config role put in force, if any."""
    from fieldclient.fieldwork import serverconfig

    row = serverconfig.signed(session.db, serverconfig.CHECKLIST)
    value = row["value"] if row is not None else None
    version = value.get("version") if isinstance(value, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def store_signed(session: Session, definition: bytes) -> Checklist:
    """Keep a checklist that TUF verified (call inside the caller's transaction; the
    caller records it in ``signed_config``). Refused: a definition that does not parse,
    or a version number this device already has with other content (ChecklistInvalid,
    ChecklistVersionConflict); the same bytes again are kept once."""
    signature = TUF_SIGNATURE + hashlib.sha256(definition).hexdigest()
    checklist = parse_definition(definition, signature)
    existing = _stored(session, checklist.version)
    if existing is None and _bundled_version() == checklist.version \
            and BUNDLED_DEFINITION.read_bytes() != definition:
        raise ChecklistVersionConflict(version=checklist.version)
    if existing is not None and existing[0] != definition:
        raise ChecklistVersionConflict(version=checklist.version)
    if existing is None:
        store_checklist(session, checklist, "tuf")
    return checklist


def current_version(session: Session) -> int | None:
    """The version number in force (the signed one, else installed or bundled), without
    loading it."""
    signed = signed_version(session)
    if signed is not None:
        return signed
    candidates = [v for v in (*installed_versions(session), _bundled_version()) if v]
    return max(candidates) if candidates else None


def checklist_version(
    session: Session, version: int, public_keys: tuple[str | bytes, ...] | None = None
) -> Checklist:
    """One version: from the database (re-verified), else the bundled file if it matches."""
    stored = _stored(session, version)
    if stored is not None:
        if stored[1].startswith(TUF_SIGNATURE):
            return _load_tuf_row(stored[0], stored[1])
        return load_checklist(stored[0], stored[1], public_keys)
    if _bundled_version() == version:
        return bundled_checklist(public_keys)
    raise ChecklistMissing(version=version)


def checklist_in_force(
    session: Session, public_keys: tuple[str | bytes, ...] | None = None
) -> Checklist:
    """The highest version available: installed in the database or bundled."""
    version = current_version(session)
    if version is None:
        raise ChecklistMissing(version="?")
    return checklist_version(session, version, public_keys)


def ensure_stored(session: Session, checklist: Checklist) -> None:
    """Keep ``checklist`` in the database (a patrol started on the bundled default
    must find it again after an app update ships another default)."""
    if _stored(session, checklist.version) is None:
        store_checklist(session, checklist, "bundled")
