"""IT's PIN policy (``pin_policy`` from the centre, :mod:`serverconfig`) at unlock, PIN
change and PIN reset: a PIN shorter than the policy must be changed.

Here rather than in the session (storage), which knows nothing of the centre's settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fieldclient.errors import PinTooShortForPolicy
from fieldclient.fieldwork import serverconfig
from fieldclient.storage.session import Session, reset_pin_device, unlock_device


def min_pin_digits(session: Session) -> int:
    """The shortest PIN IT's policy allows on this device."""
    return serverconfig.min_pin_digits(session.db)


def _flag(session: Session, pin_length: int) -> Session:
    session.pin_change_required = pin_length < min_pin_digits(session)
    return session


def unlock(data_dir: Path, pin: str, clock: Callable[[], float] = time.time) -> Session:
    """Unlock; ``session.pin_change_required`` when the PIN is shorter than the policy."""
    return _flag(unlock_device(data_dir, pin, clock), len(pin))


def reset_pin(data_dir: Path, code: str, new_pin: str,
              clock: Callable[[], float] = time.time) -> Session:
    """IT's recovery code sets ``new_pin`` (:func:`reset_pin_device`), flagged like an
    unlock when the policy wants a longer one (the policy is known only once open)."""
    return _flag(reset_pin_device(data_dir, code, new_pin, clock), len(new_pin))


def change_pin(session: Session, old_pin: str, new_pin: str) -> None:
    """Change the PIN; the new one must meet the policy."""
    digits = min_pin_digits(session)
    if len(new_pin) < digits:
        raise PinTooShortForPolicy(digits=digits)
    session.change_pin(old_pin, new_pin)
    session.pin_change_required = False
