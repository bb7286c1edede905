"""Record ids: 32 hex characters, time-ordered (like UUIDv7), unique across devices.

A 48-bit millisecond timestamp followed by 80 random bits. New rows land at the
right edge of the primary-key index instead of all over it, so a batch of
inserts dirties (and, in SQLCipher, encrypts) a few pages instead of most of them.
"""

from __future__ import annotations

import os
import time


def new_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    return f"{millis:012x}{os.urandom(10).hex()}"
