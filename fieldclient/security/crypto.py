"""The few cryptographic primitives the vault and blob store are built on."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

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
    alone (a copied keystore) is enough to unwrap the data key.
    """
    stretched = Argon2id(
        salt=params.salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(pin.encode("utf-8"))
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=params.salt, info=b"gridfield kek v1"
    ).derive(stretched + device_secret)


def subkey(master: bytes | bytearray, purpose: bytes) -> bytes:
    """A purpose-bound key derived from the data key (database, blob files...)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(
        bytes(master)
    )


def seal(key: bytes | bytearray, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a random nonce; returns nonce || ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(bytes(key)).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | bytearray, sealed: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`seal`; raises ``InvalidTag`` on any tampering or wrong key."""
    if len(sealed) < NONCE_BYTES + 16:
        raise InvalidTag
    return AESGCM(bytes(key)).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def wipe(buffer: bytearray) -> None:
    """Overwrite a key held in a bytearray (best effort in Python)."""
    for i in range(len(buffer)):
        buffer[i] = 0


__all__ = [
    "InvalidTag",
    "KdfParams",
    "derive_wrapping_key",
    "open_sealed",
    "random_key",
    "seal",
    "subkey",
    "wipe",
]
