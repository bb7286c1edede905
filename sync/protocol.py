"""The gridfield wire protocol shared by the device (sync engine) and central/.

Request authentication (version 1)
----------------------------------
A device enrolls once: it makes an Ed25519 key pair, keeps the private key in its
vault and sends the raw 32-byte public key (base64) with a one-time enrollment code
to ``POST /api/v1/enroll``; the answer carries its device id. From then on every
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
from its own clock and a nonce it has already seen from the device. No bearer
secret exists: the private key never leaves the device.
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
