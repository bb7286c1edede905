"""The centre's data at rest: keys kept outside the database, sealed columns, sealed files.

Sensitive columns (names, ID numbers, phones, addresses, special-group tags, narratives,
the records devices pushed) are stored as ``gf1:<key id>:<base64url(nonce|ciphertext)>``:
AES-256-GCM under a key derived from the current master key, the column
(``table.column``) as associated data, so a value moved to another column does not open.
A keyed blind index (HMAC-SHA256) stands beside an ID number for equality look-ups.
Photos are sealed in frames (:class:`FrameWriter`), each with its own nonce, the photo's
hash and the frame's number as associated data.

Keys come from a :class:`KeyProvider`; :class:`KeyFile` is the one shipped (a JSON file
0600, by default beside the SQLite database or ``./central-keys.json`` for PostgreSQL,
``--key-file`` / ``GRIDFIELD_CENTRAL_KEY_FILE`` to put it elsewhere). A KMS fits behind
the same interface: ``load()`` asks the KMS to unwrap the data keys kept (wrapped) with
it, ``store()`` wraps a new one (see central/README.md). The ring re-reads the provider
when it changes (at most once a second), so a running server follows a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import JSON, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

PREFIX = "gf1:"
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
KEY_FILE_ENV = "GRIDFIELD_CENTRAL_KEY_FILE"
KEY_FILE_FORMAT = "gridfield-central-keys"
FILE_MAGIC = b"GFP1"  # a sealed photo (or partial upload): magic, key id, frames
FRAME_HEAD = struct.Struct(">I12s")  # plaintext length, nonce
TAG = 16


class AtRestError(Exception):
    """The keys are missing, wrong or do not open this data: nothing is read or written
    in the clear instead."""


# -- key providers ---------------------------------------------------------------------

@dataclass
class KeySet:
    current: str
    keys: dict[str, bytes]  # key id -> 32-byte master key
    created: dict[str, str] = field(default_factory=dict)


class KeyProvider(Protocol):
    """Where the master keys live. ``token()`` changes whenever ``load()`` would answer
    something else (the ring re-loads then)."""

    def describe(self) -> str: ...

    def exists(self) -> bool: ...

    def load(self) -> KeySet: ...

    def store(self, keyset: KeySet) -> None: ...

    def token(self) -> object: ...


class KeyFile:
    """Master keys in a JSON file, readable by the server's user only (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"key file {self.path}"

    def exists(self) -> bool:
        return self.path.exists()

    def token(self) -> object:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def load(self) -> KeySet:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise AtRestError(f"{self.describe()} does not exist") from exc
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise AtRestError(f"{self.describe()} is unreadable: {exc}") from exc
        try:
            if raw.get("format") != KEY_FILE_FORMAT:
                raise ValueError("not a gridfield central key file")
            keys = {str(k): base64.b64decode(v["key"], validate=True)
                    for k, v in raw["keys"].items()}
            created = {str(k): str(v.get("created_at", "")) for k, v in raw["keys"].items()}
            current = str(raw["current"])
            if current not in keys or any(len(k) != 32 for k in keys.values()):
                raise ValueError("the current key is missing or a key is not 32 bytes")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise AtRestError(f"{self.describe()} is malformed: {exc}") from exc
        return KeySet(current, keys, created)

    def store(self, keyset: KeySet) -> None:
        body = {
            "format": KEY_FILE_FORMAT,
            "current": keyset.current,
            "keys": {k: {"key": base64.b64encode(v).decode(),
                         "created_at": keyset.created.get(k, "")}
                     for k, v in keyset.keys.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def default_key_file(db_url: str) -> Path:
    """``<sqlite file>.keys.json`` beside a SQLite database; ``./central-keys.json``
    otherwise (PostgreSQL: give each database its own with ``--key-file``)."""
    env = os.environ.get(KEY_FILE_ENV)
    if env:
        return Path(env)
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if db_url.startswith(prefix) and db_url != prefix + ":memory:":
            return Path(db_url[len(prefix):] + ".keys.json")
    return Path("central-keys.json")


def new_key_id() -> str:
    return "k" + secrets.token_hex(4)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the key ring ----------------------------------------------------------------------

class KeyRing:
    """The keys of one database, loaded from its provider on first use and again when
    the provider changes (checked at most once a second)."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._set: KeySet | None = None
        self._token: object = None
        self._checked = 0.0
        self._aead: dict[tuple[str, bytes], AESGCM] = {}
        self._macs: dict[str, bytes] = {}

    def keyset(self) -> KeySet:
        now = time.monotonic()
        if self._set is not None and now - self._checked < 1.0:
            return self._set
        with self._lock:
            token = self.provider.token()
            if self._set is None or token != self._token:
                self._set = self.provider.load()
                self._token = token
            self._checked = now
            return self._set

    def create(self) -> KeySet:
        """A first key, when the provider has none yet."""
        kid = new_key_id()
        keyset = KeySet(kid, {kid: secrets.token_bytes(32)}, {kid: _now()})
        self.provider.store(keyset)
        self.forget()
        return keyset

    def forget(self) -> None:
        with self._lock:
            self._set = None
            self._aead.clear()
            self._macs.clear()

    @property
    def current_id(self) -> str:
        return self.keyset().current

    def _subkey(self, kid: str, purpose: bytes) -> bytes:
        keys = self.keyset().keys
        if kid not in keys:
            raise AtRestError(
                f"data is sealed with key {kid}, which {self.provider.describe()} does not "
                "hold: give the right key file (--key-file or GRIDFIELD_CENTRAL_KEY_FILE)")
        return HKDF(algorithm=SHA256(), length=32, salt=None,
                    info=b"gridfield-central/" + purpose).derive(keys[kid])

    def aead(self, kid: str, purpose: bytes) -> AESGCM:
        found = self._aead.get((kid, purpose))
        if found is None:
            found = AESGCM(self._subkey(kid, purpose))
            self._aead[(kid, purpose)] = found
        return found

    # -- columns -----------------------------------------------------------------------

    def seal(self, plain: bytes, ad: str) -> str:
        kid = self.current_id
        nonce = os.urandom(12)
        sealed = self.aead(kid, b"fields").encrypt(nonce, plain, ad.encode())
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, token: str, ad: str | bytes) -> bytes:
        """The plain value of a sealed ``token`` (``ad``: its column). A pull opens
        hundreds of thousands of these, so the base64 is decoded in one C call and the
        column's associated data may come already encoded."""
        ad_bytes = ad if isinstance(ad, bytes) else ad.encode()
        try:
            _, kid, body = token.split(":", 2)
            raw = binascii.a2b_base64(body.encode("ascii").translate(_FROM_URLSAFE) + b"==")
        except (ValueError, UnicodeError) as exc:  # binascii.Error is a ValueError
            raise AtRestError(f"a sealed value in {ad!s} is damaged") from exc
        found = self._aead.get((kid, b"fields"))
        try:
            return (found or self.aead(kid, b"fields")).decrypt(raw[:12], raw[12:], ad_bytes)
        except InvalidTag as exc:
            raise AtRestError(
                f"a sealed value in {ad!s} does not open with key {kid}: wrong key file, or "
                "the value was altered") from exc

    def blind(self, value: str | None) -> list[str]:
        """The blind index of ``value`` under every key of the ring (current first):
        the value stored is the first; a look-up matches any (rotation in progress)."""
        if value is None:
            return []
        keyset = self.keyset()
        norm = value.strip().upper().encode()
        out = []
        for kid in [keyset.current, *(k for k in keyset.keys if k != keyset.current)]:
            mac = self._macs.get(kid)
            if mac is None:
                mac = self._macs[kid] = self._subkey(kid, b"blind-index")
            out.append(hmac.new(mac, norm, hashlib.sha256).hexdigest()[:40])
        return out

    def index(self, value: str | None) -> str | None:
        found = self.blind(value)
        return found[0] if found else None


# -- where an engine's ring lives ------------------------------------------------------

_RING_ATTR = "gridfield_keyring"


def attach(dialect: Dialect, ring: KeyRing) -> None:
    setattr(dialect, _RING_ATTR, ring)


def ring_of(dialect: Dialect) -> KeyRing:
    ring = getattr(dialect, _RING_ATTR, None)
    if ring is None:
        raise AtRestError("this database connection has no keys (use central.db.make_engine)")
    return ring  # type: ignore[no-any-return]


# -- sealed column types ---------------------------------------------------------------

def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


_NULL_TESTS = (operators.is_, operators.is_not)


class _Refusing(TypeDecorator.Comparator[Any]):
    """A sealed column compared in SQL would compare ciphertexts (random nonces: never
    equal, no order): refused loudly, but for IS [NOT] NULL. Equality look-ups go
    through a blind index."""

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in _NULL_TESTS or (op in (operators.eq, operators.ne) and other == (None,)):
            return super().operate(op, *other, **kwargs)
        raise AtRestError(f"{_label(self)} is sealed at rest: it cannot be compared or "
                          "sorted in SQL (use its blind index, or compare after reading)")

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise AtRestError(f"{_label(self)} is sealed at rest: it cannot be compared in SQL")


def _label(comparator: Any) -> str:
    return str(getattr(comparator.type, "ad", "this column"))


class SealedText(TypeDecorator[str]):
    """Text sealed with the database's current key; ``ad`` names the column."""

    impl = Text
    cache_ok = True
    comparator_factory = _Refusing

    def __init__(self, ad: str) -> None:
        super().__init__()
        self.ad = ad
        self.ad_bytes = ad.encode()

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return ring_of(dialect).seal(str(value).encode(), self.ad)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_sealed(value):
            return value  # written before migration 12 (read once, by the migration)
        return ring_of(dialect).open(value, self.ad_bytes).decode()


class SealedJSON(TypeDecorator[Any]):
    """A JSON value kept as a JSON string holding its sealed text (so a JSON column
    keeps its type on PostgreSQL)."""

    impl = JSON
    cache_ok = True
    comparator_factory = _Refusing

    def __init__(self, ad: str) -> None:
        super().__init__()
        self.ad = ad
        self.ad_bytes = ad.encode()

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        return ring_of(dialect).seal(plain, self.ad)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_sealed(value):
            return value
        return json.loads(ring_of(dialect).open(value, self.ad_bytes))


# -- sealed files (photos) -------------------------------------------------------------

def _frame_ad(name: str, index: int) -> bytes:
    return f"gridfield-photo:{name}:{index}".encode()


def file_key_id(fh: BinaryIO) -> str | None:
    """The key id in a sealed file's header, or None for a file in the clear."""
    fh.seek(0)
    head = fh.read(5)
    if len(head) < 5 or head[:4] != FILE_MAGIC:
        return None
    kid = fh.read(head[4])
    return kid.decode("ascii", "replace")


def _header(kid: str) -> bytes:
    raw = kid.encode("ascii")
    return FILE_MAGIC + bytes([len(raw)]) + raw


def frames(fh: BinaryIO) -> Iterator[tuple[int, int, int]]:
    """(position, plaintext length, frame number) of each whole frame of a sealed file
    (the file's handle at its start); stops at a torn frame."""
    fh.seek(0)
    head = fh.read(5)
    if len(head) < 5 or head[:4] != FILE_MAGIC:
        return
    pos = 5 + head[4]
    size = fh.seek(0, os.SEEK_END)  # a file on disk or in memory (central.shared.blobs)
    index = 0
    while pos + FRAME_HEAD.size <= size:
        fh.seek(pos)
        length, _ = FRAME_HEAD.unpack(fh.read(FRAME_HEAD.size))
        end = pos + FRAME_HEAD.size + length + TAG
        if end > size:
            return
        yield pos, length, index
        pos, index = end, index + 1


def seal_frame(ring: KeyRing, kid: str, name: str, index: int, chunk: bytes) -> bytes:
    nonce = os.urandom(12)
    sealed = ring.aead(kid, b"photos").encrypt(nonce, chunk, _frame_ad(name, index))
    return FRAME_HEAD.pack(len(chunk), nonce) + sealed


def read_plain(ring: KeyRing, fh: BinaryIO, name: str) -> Iterator[bytes]:
    """The plaintext of a sealed file, frame by frame (a file in the clear as it is)."""
    kid = file_key_id(fh)
    if kid is None:
        fh.seek(0)
        yield from iter(lambda: fh.read(1 << 20), b"")
        return
    aead = ring.aead(kid, b"photos")
    for pos, length, index in frames(fh):
        fh.seek(pos)
        _, nonce = FRAME_HEAD.unpack(fh.read(FRAME_HEAD.size))
        try:
            yield aead.decrypt(nonce, fh.read(length + TAG), _frame_ad(name, index))
        except InvalidTag as exc:
            raise AtRestError(f"photo {name} does not open with key {kid}") from exc


def write_sealed(ring: KeyRing, fh: BinaryIO, name: str, pieces: Iterator[bytes],
                 frame_bytes: int = 256 * 1024) -> None:
    """Write ``pieces`` as a sealed file under the current key (``fh`` empty)."""
    kid = ring.current_id
    fh.write(_header(kid))
    index = 0
    buf = b""
    for piece in pieces:
        buf += piece
        while len(buf) >= frame_bytes:
            fh.write(seal_frame(ring, kid, name, index, buf[:frame_bytes]))
            buf, index = buf[frame_bytes:], index + 1
    if buf or index == 0:
        fh.write(seal_frame(ring, kid, name, index, buf))


def header(kid: str) -> bytes:
    return _header(kid)
