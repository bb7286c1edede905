"""The body of ``POST /api/v1/photos/bundle`` (protocol level 3): pieces of several
photos in one request, so 30 small photos cost a few round trips on a 2G link instead
of thirty.

Body (``Content-Type: application/x-gridfield-bundle``)::

    <manifest: UTF-8 JSON, one line>\\n<the parts' bytes, one after the other>

The manifest is ``{"parts": [{"sha256", "offset", "total", "length"}, ...]}``: each
part is ``length`` bytes of the photo ``sha256`` (``total`` bytes in all) from byte
``offset``, exactly what one ``PUT /photos/{sha256}?offset=&total=`` would carry. The
request signature covers the whole body, so no part needs a checksum of its own.

The answer holds one entry per part, in order: ``{"sha256", "offset", "complete"}``
as a chunk's answer, or ``{"sha256", "error", "message", "offset"?}`` with the error a
chunk would have had (``offset_mismatch`` gives the server's offset; ``photo_quota``
and ``insufficient_storage`` stop the parts after it). A part's failure is its own:
the parts before it are stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

CONTENT_TYPE = "application/x-gridfield-bundle"
MAX_PARTS = 200
MAX_MANIFEST_BYTES = 64 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")


class BundleError(ValueError):
    """The body is not a well-formed bundle (the server answers 422)."""


@dataclass(frozen=True)
class Part:
    sha256: str
    offset: int
    total: int
    data: bytes


def encode(parts: list[Part]) -> bytes:
    manifest = {"parts": [{"sha256": p.sha256, "offset": p.offset, "total": p.total,
                           "length": len(p.data)} for p in parts]}
    head = json.dumps(manifest, separators=(",", ":")).encode()
    return head + b"\n" + b"".join(p.data for p in parts)


def decode(body: bytes, max_total: int) -> list[Part]:
    """The parts of a bundle body; :class:`BundleError` for anything malformed."""
    newline = body.find(b"\n", 0, MAX_MANIFEST_BYTES + 1)
    if newline < 0:
        raise BundleError("the bundle has no manifest line")
    try:
        manifest: Any = json.loads(body[:newline])
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past the parser
        raise BundleError("the manifest is not JSON") from None
    entries = manifest.get("parts") if isinstance(manifest, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_PARTS:
        raise BundleError(f"the manifest must list 1..{MAX_PARTS} parts")
    parts: list[Part] = []
    position = newline + 1
    for entry in entries:
        if not isinstance(entry, dict):
            raise BundleError("each part must be an object")
        sha, offset, total, length = (entry.get(k) for k in ("sha256", "offset", "total",
                                                             "length"))
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise BundleError("a part's sha256 must be 64 lower-case hex digits")
        if not all(isinstance(v, int) and not isinstance(v, bool)
                   for v in (offset, total, length)):
            raise BundleError("offset, total and length must be whole numbers")
        assert isinstance(offset, int) and isinstance(total, int) and isinstance(length, int)
        if not (0 <= offset and 1 <= length and 1 <= total <= max_total
                and offset + length <= total):
            raise BundleError("a part runs outside its photo")
        if position + length > len(body):
            raise BundleError("the body is shorter than its manifest says")
        parts.append(Part(sha, offset, total, body[position:position + length]))
        position += length
    if position != len(body):
        raise BundleError("the body is longer than its manifest says")
    return parts
