"""The few cryptographic primitives the vault and blob store are built on."""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import asdict, dataclass
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: ~64 MiB and 3 passes costs ~0.15 s on a tablet-class CPU."""

    salt: bytes
    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    @classmethod
    def fresh(cls) -> KdfParams:
        return cls(salt=os.urandom(16))

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["salt"] = self.salt.hex()
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KdfParams:
        return cls(
            salt=bytes.fromhex(str(data["salt"])),
            memory_kib=int(str(data["memory_kib"])),
            iterations=int(str(data["iterations"])),
            lanes=int(str(data["lanes"])),
        )


def random_key() -> bytearray:
    """A fresh 256-bit key, as a bytearray so the holder can zero it."""
    return bytearray(os.urandom(KEY_BYTES))


def derive_wrapping_key(pin: str, device_secret: bytes, params: KdfParams) -> bytes:
    """PIN through Argon2id, then HKDF with the keystore's device secret.

    Neither the PIN alone (brute-forced offline in minutes) nor the device secret
    alone (a copied keystore) is enough to unwrap the data key. The PIN's UTF-8 copy
    and the intermediate keys are wiped here; the caller wipes the result
    (:func:`wipe_bytes`) once it has unwrapped with it.
    """
    stretched = stretch_pin(pin, params)
    try:
        return wrapping_key_from(stretched, device_secret, params)
    finally:
        wipe(stretched)


def stretch_pin(pin: str, params: KdfParams) -> bytearray:
    """Argon2id of the PIN, in a bytearray the caller wipes (the PIN's copy is wiped)."""
    pin_bytes = _utf8_into(pin)
    stretched = Argon2id(
        salt=params.salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(cast(bytes, pin_bytes))  # takes any buffer: no bytes copy of the PIN
    _scrub_argon2(params, len(pin_bytes))
    wipe(pin_bytes)
    try:
        return bytearray(stretched)
    finally:
        wipe_bytes(stretched)


def wrapping_key_from(
    stretched: bytes | bytearray, device_secret: bytes | bytearray, params: KdfParams
) -> bytes:
    """HKDF(stretched PIN || device secret): the key that wraps the DEK."""
    material = bytearray(stretched)
    material += device_secret
    try:
        return HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=params.salt,
            info=b"gridfield kek v1",
        ).derive(material)
    finally:
        wipe(material)


def _scrub_argon2(params: KdfParams, pin_length: int) -> None:
    """Run Argon2id once more, at its smallest cost, over a PIN of zeros.

    OpenSSL's Argon2 frees a block that holds the PIN next to the salt without clearing
    it; the heap hands the same block to this run, which overwrites it (measured by
    tests/core/test_lock_memory.py). Costs microseconds.
    """
    Argon2id(
        salt=params.salt, length=KEY_BYTES, iterations=1, lanes=params.lanes,
        memory_cost=8 * params.lanes,
    ).derive(cast(bytes, bytearray(pin_length)))


def _utf8_into(text: str) -> bytearray:
    """``text`` as UTF-8 in a bytearray, with no ``bytes`` copy left behind."""
    if text.isascii():
        return bytearray(map(ord, text))
    encoded = text.encode("utf-8")
    try:
        return bytearray(encoded)
    finally:
        wipe_bytes(encoded)


def subkey(master: bytes | bytearray, purpose: bytes) -> bytes:
    """A purpose-bound key derived from the data key (database, blob files...).

    An immutable ``bytes``: use :func:`subkey_into` for a key that stays in memory."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(
        master
    )


def subkey_into(master: bytes | bytearray, purpose: bytes) -> bytearray:
    """:func:`subkey` in a bytearray the holder wipes; the ``bytes`` HKDF made is wiped."""
    derived = subkey(master, purpose)
    try:
        return bytearray(derived)
    finally:
        wipe_bytes(derived)


def seal(key: bytes | bytearray, plaintext: bytes | bytearray, aad: bytes) -> bytes:
    """AES-256-GCM with a random nonce; returns nonce || ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | bytearray, sealed: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`seal`; raises ``InvalidTag`` on any tampering or wrong key."""
    if len(sealed) < NONCE_BYTES + 16:
        raise InvalidTag
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def open_sealed_into(key: bytes | bytearray, sealed: bytes, aad: bytes) -> bytearray:
    """:func:`open_sealed` into a bytearray the holder wipes (for keys)."""
    plain = open_sealed(key, sealed, aad)
    try:
        return bytearray(plain)
    finally:
        wipe_bytes(plain)


def wipe(buffer: bytearray) -> None:
    """Overwrite a key held in a bytearray."""
    if buffer:
        ctypes.memset((ctypes.c_char * len(buffer)).from_buffer(buffer), 0, len(buffer))


# Where CPython keeps the characters of a ``bytes`` and of a compact ASCII ``str``:
# right after a fixed header (one trailing NUL byte is counted in getsizeof).
_BYTES_HEADER = sys.getsizeof(b"") - 1
_ASCII_HEADER = sys.getsizeof("") - 1


def _wipe_at(address: int, expected: bytes | str) -> bool:
    length = len(expected)
    view = (ctypes.c_ubyte * length).from_address(address)
    # compared item by item: no copy of the secret is made to check the layout
    codes = expected if isinstance(expected, bytes) else map(ord, expected)
    if any(a != b for a, b in zip(view, codes, strict=True)):
        return False
    ctypes.memset(address, 0, length)
    return True


def wipe_bytes(data: bytes) -> bool:
    """Overwrite an immutable ``bytes`` in place, before its last reference goes.

    CPython cannot free a ``bytes`` without leaving its contents in the heap, and some
    APIs (``cryptography``, ``sqlite3``) only give ``bytes``: this zeroes one that held
    a key. Only for objects the caller made and nobody else holds (never a literal or
    a length-0/1 object, which CPython shares). Returns False where it cannot (not
    CPython, or the layout is not the expected one): then the copy stays.
    """
    if sys.implementation.name != "cpython" or type(data) is not bytes or len(data) < 2:
        return False
    return _wipe_at(id(data) + _BYTES_HEADER, data)


def wipe_str(text: str) -> bool:
    """:func:`wipe_bytes` for a compact ASCII ``str`` (a hex key, a PIN, a PRAGMA)."""
    if (sys.implementation.name != "cpython" or type(text) is not str or len(text) < 2
            or not text.isascii()):
        return False
    size = sys.getsizeof(text)
    if size != _ASCII_HEADER + len(text) + 1:  # not compact ASCII
        return False
    return _wipe_at(id(text) + _ASCII_HEADER, text)


__all__ = [
    "InvalidTag",
    "KdfParams",
    "derive_wrapping_key",
    "open_sealed",
    "open_sealed_into",
    "random_key",
    "seal",
    "stretch_pin",
    "subkey",
    "subkey_into",
    "wipe",
    "wipe_bytes",
    "wipe_str",
    "wrapping_key_from",
]
