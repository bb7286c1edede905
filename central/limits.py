"""The server's protections against a misbehaving or hostile client, with defaults for a
real deployment (``central serve`` flags override each; README "central serve").

Kept apart from the modules that use them so the CLI can show the defaults without
importing the web stack.
"""

from __future__ import annotations

from dataclasses import dataclass

# A request's headers must arrive within this many seconds of its first byte, its body
# within as many more plus its length at MIN_BODY_RATE (central/server.py).
DEFAULT_READ_TIMEOUT = 20.0
MIN_BODY_RATE = 8 * 1024  # bytes/s: a weak mobile link still sends a 256 KiB chunk in 32 s

# Signed requests per device: a sync run is dozens of requests (push batches, photo
# chunks, pull pages) every few minutes; the first pull of 100,000 households is about
# 200 pages of 512 KiB, and must not be slowed.
DEFAULT_RATE = 10.0  # per second, sustained
DEFAULT_BURST = 200.0
# Enrollment attempts per client address: a mistyped code now and then, never a search.
DEFAULT_ENROLL_PER_MINUTE = 5.0
DEFAULT_ENROLL_BURST = 5.0

# Photos one device may store per rolling 24 hours (a worker takes a few hundred photos
# of ~0.5 MB on a busy day), in-progress uploads included.
DEFAULT_PHOTO_QUOTA_BYTES = 1024 * 1024 * 1024
DEFAULT_PHOTO_QUOTA_COUNT = 4000
# An upload not continued for this long is abandoned: its partial file is deleted (the
# device starts that photo again from byte 0).
DEFAULT_PARTIAL_MAX_AGE = 48 * 3600.0
# Work waiting for a server thread past which a request is answered 503 with a random
# Retry-After (central/web/shedding.py): about a second of queue at ~100 requests/s.
DEFAULT_MAX_WAITING = 100
# Devices' last contacts are kept in memory and written this often, and at shutdown
# (central/fastpath/contacts.py): the fleet view is at most this late.
DEFAULT_CONTACT_FLUSH = 2.0


@dataclass(frozen=True)
class Limits:
    """What :func:`central.app.create_app` enforces; 0 turns a rate or quota off."""

    rate: float = DEFAULT_RATE
    burst: float = DEFAULT_BURST
    enroll_per_minute: float = DEFAULT_ENROLL_PER_MINUTE
    enroll_burst: float = DEFAULT_ENROLL_BURST
    photo_quota_bytes: int = DEFAULT_PHOTO_QUOTA_BYTES
    photo_quota_count: int = DEFAULT_PHOTO_QUOTA_COUNT
    partial_max_age: float = DEFAULT_PARTIAL_MAX_AGE
    max_waiting: int = DEFAULT_MAX_WAITING
    contact_flush: float = DEFAULT_CONTACT_FLUSH  # seconds; 0: written at each request
    # an enrolled device's view's first-pull snapshot built in the background at once
    # (central/shared/snapshots.py, Snapshots.prewarm); off: at its first pull
    warm_snapshots: bool = True
