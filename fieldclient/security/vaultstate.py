"""The PIN policy and the vault facts anyone may read, without the crypto stack.

The first screen needs to know whether the device is new, active or erased and
whether a lock-out is running before anything heavy is imported; the vault
itself uses the same policy, so there is one source for both.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

VAULT_FILE = "vault.json"
MIN_PIN_LENGTH = 6
MAX_PIN_LENGTH = 12
FREE_ATTEMPTS = 3
MAX_ATTEMPTS = 10
BASE_DELAY_SECONDS = 15
MAX_DELAY_SECONDS = 15 * 60


def delay_after(failures: int) -> int:
    """Seconds to wait after ``failures`` consecutive wrong PINs: 0, then doubling."""
    if failures < FREE_ATTEMPTS:
        return 0
    return int(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** (failures - FREE_ATTEMPTS)))


def pin_is_well_formed(pin: str) -> bool:
    return MIN_PIN_LENGTH <= len(pin) <= MAX_PIN_LENGTH and pin.isascii() and pin.isdigit()


def _read(data_dir: Path) -> dict[str, Any] | None:
    """The vault file's JSON, None when absent; {} when unreadable (unlock will say why)."""
    try:
        raw = (Path(data_dir) / VAULT_FILE).read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        state = json.loads(raw)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def vault_status(data_dir: Path) -> str:
    """'new', 'active' or 'erased'. A damaged file counts as active, so the worker
    gets the unlock attempt's clear error instead of a silent reset to set-up."""
    state = _read(data_dir)
    if state is None:
        return "new"
    return "erased" if state.get("state") == "erased" else "active"


def remaining_wait(not_before: float, failures: int, now: float) -> float:
    """Seconds left before the next try. Never more than the delay this many failures
    earn, so a clock set back cannot stretch a lock-out into days."""
    return min(not_before - now, float(delay_after(failures)))


def lockout_seconds(data_dir: Path, now: float | None = None) -> int:
    """Seconds a PIN lock-out still runs (what the unlock screen counts down)."""
    state = _read(data_dir) or {}
    try:
        not_before = float(state.get("not_before", 0))
        failures = int(state.get("failed_attempts", 0))
    except (TypeError, ValueError):
        return 0
    wait = remaining_wait(not_before, failures, time.time() if now is None else now)
    return max(0, int(wait + 0.999))
