"""The PIN recovery share escrowed at the centre: IT can reset a forgotten PIN.

A worker who forgets the PIN must not lose the unsent visits on the tablet, and a
tablet must not open for whoever calls IT. So the vault keeps one more wrapping of the
data key and the device secret, under a 128-bit recovery secret S that only the centre
holds: S = HKDF(DEK, nonce), sent once over the pinned TLS link and signed by the device
(``POST /api/v1/device/recovery``), never written on the tablet. IT reads it to the
worker as a code (``central devices recovery-code ID``, audited at the centre); typed
on the tablet it unwraps the DEK, sets a new PIN, restores the tries, and is replaced
by a new S (escrowed at the next sync), so a code works once. The tablet records the
reset in its audit log, which reaches the centre with the next anchor.

Neither half is enough alone: the centre's S opens nothing without the tablet's
vault.json, and the tablet's vault.json cannot be searched for S (128 random bits).
"""

from __future__ import annotations

import base64
import os

from fieldclient.security import crypto

PURPOSE = b"gridfield recovery v1|"
SECRET_BYTES = 16
NONCE_BYTES = 12
_TYPOS = str.maketrans({"0": "O", "1": "I", "8": "B", "-": None, " ": None})


def new_nonce() -> str:
    return os.urandom(NONCE_BYTES).hex()


def secret_for(dek: bytes | bytearray, nonce: str) -> bytearray:
    """S for this nonce, derived from the DEK (so nothing of it is kept on the tablet)."""
    full = crypto.subkey_into(dek, PURPOSE + nonce.encode("ascii"))
    try:
        return bytearray(full[:SECRET_BYTES])
    finally:
        crypto.wipe(full)


def wrapping_key(secret: bytes | bytearray, nonce: str) -> bytearray:
    return crypto.subkey_into(secret, b"gridfield recovery wrap v1|" + nonce.encode("ascii"))


def format_code(secret: bytes | bytearray) -> str:
    """26 base32 letters and digits in groups of four, for reading out by phone."""
    text = base64.b32encode(bytes(secret)).decode("ascii").rstrip("=")
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def parse_code(code: str) -> bytes | None:
    """The secret in a typed code (case, dashes, spaces and 0/1/8 for O/I/B forgiven);
    None when it cannot be one."""
    text = code.upper().translate(_TYPOS)
    if len(text) != 26:
        return None
    try:
        raw = base64.b32decode(text + "======", casefold=False)
    except ValueError:
        return None
    return raw if len(raw) == SECRET_BYTES else None
