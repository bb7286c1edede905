"""Read an enrollment QR image:
``gridfield://enroll?code=XXXX-XXXX-XXXX&server=URL&key=FINGERPRINT&tls=SHA256`` (the
centre's command key, see ``sync.protocol``, and its TLS certificate, see ``sync.tls``:
both checked at enrollment).

Decoding uses zxing-cpp (self-contained wheel); Qt-free, safe off the UI thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SCHEME = "gridfield"
CODE_CHARS = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


class QrError(Exception):
    """``reason``: ``unreadable`` (not an image), ``no_code`` (no QR found), ``not_ours``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EnrollLink:
    code: str
    server: str | None
    key: str | None = None  # fingerprint of the centre's command key
    tls: str | None = None  # SHA-256 of the centre's TLS certificate (sync/tls.py)


def normalize_code(text: str) -> str:
    """Upper case, no spaces; ``XXXXXXXXXXXX`` becomes ``XXXX-XXXX-XXXX``."""
    code = re.sub(r"[\s_]+", "", text).upper().replace("—", "-").replace("－", "-")
    plain = code.replace("-", "")
    if len(plain) == 12 and code.count("-") in (0, 2):
        return "-".join(plain[i:i + 4] for i in range(0, 12, 4))
    return code


def looks_like_code(code: str) -> bool:
    return re.fullmatch(rf"[{CODE_CHARS}]{{4}}(-[{CODE_CHARS}]{{4}}){{2}}", code) is not None


def parse_link(text: str) -> EnrollLink:
    parts = urlsplit(text.strip())
    if parts.scheme != SCHEME or parts.netloc != "enroll":
        raise QrError("not_ours")
    query = parse_qs(parts.query)
    codes = query.get("code") or []
    if not codes or not codes[0].strip():
        raise QrError("not_ours")
    servers = query.get("server") or []
    server = servers[0].strip() if servers and servers[0].strip() else None
    keys = [k.strip().lower() for k in query.get("key") or []]
    key = keys[0] if keys and re.fullmatch(r"[0-9a-f]{32}", keys[0]) else None
    tls_values = [t.strip().lower().replace(":", "") for t in query.get("tls") or []]
    tls = tls_values[0] if tls_values and re.fullmatch(r"[0-9a-f]{64}", tls_values[0]) \
        else None
    return EnrollLink(normalize_code(codes[0]), server, key, tls)


def read_enroll_qr(path: Path) -> EnrollLink:
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            results = zxingcpp.read_barcodes(image.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise QrError("unreadable") from exc
    texts = [r.text for r in results if r.text]
    if not texts:
        raise QrError("no_code")
    for text in texts:
        try:
            return parse_link(text)
        except QrError:
            continue
    raise QrError("not_ours")
