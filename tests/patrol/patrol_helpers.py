"""Helpers for the patrol tests (imported by name: every test folder has its own conftest)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from device_fixtures import PIN, FakeClock  # noqa: F401 - re-exported for the tests

from fieldclient.fieldwork import checklist

ROOT = Path(__file__).resolve().parents[2]
NMEA_DIR = ROOT.parent / "shared" / "fixtures" / "nmea"


def nmea_log(name: str) -> Path:
    """A shared BeiDou log, read in place (never copied); skip when absent."""
    path = NMEA_DIR / name
    if not path.exists():
        pytest.skip(f"shared NMEA fixture {path} not present")
    return path


class SigningKey:
    """A checklist signing key pair made for one test (IT's role)."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_b64 = base64.b64encode(raw).decode("ascii")

    def sign(self, definition: bytes) -> str:
        signature = self.private.sign(checklist.signed_message(definition))
        return base64.b64encode(signature).decode("ascii")


def jpeg_bytes(
    width: int = 640, height: int = 480, colour: tuple[int, int, int] = (40, 120, 60)
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
