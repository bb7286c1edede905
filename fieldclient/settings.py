"""Per-device preferences (language, text size, auto-lock, GPS source, the release
channel IT puts the device on). Not secret, so plain JSON.

Nothing personal goes here: it is readable without the PIN by design, so the
lock screen can show the worker's chosen language and text size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

LANGUAGES = ("zh_CN", "en")
TEXT_SCALES = (1.0, 1.25, 1.5, 1.75)
AUTOLOCK_MINUTES = (1, 2, 5, 10, 15, 30)
GPS_SOURCE_KINDS = ("system", "nmea-serial", "nmea-file")
# Which releases the device takes (IT sets it; a pilot group gets a release first). The
# same list as sync.protocol.UPDATE_CHANNELS and sync.protocol.releases.CHANNELS (the
# device reports its channel to the centre's fleet view; tests keep them equal).
UPDATE_CHANNELS = ("stable", "pilot")


def parse_gps_source(spec: str) -> tuple[str, str]:
    """``system`` | ``nmea-serial:PORT`` | ``nmea-file:PATH`` -> (kind, port or path).

    Raises ValueError for anything else.
    """
    text = str(spec).strip()
    if text == "system":
        return "system", ""
    kind, sep, arg = text.partition(":")
    if kind in GPS_SOURCE_KINDS[1:] and sep and arg.strip():
        return kind, arg.strip()
    raise ValueError(f"GPS source must be system, nmea-serial:PORT or nmea-file:PATH: {spec!r}")


class Settings:
    """The preferences, with their defaults. A plain class, not a dataclass: it is read
    before the PIN pad shows, and defining a dataclass costs ~0.3 ms, the first ~1 ms
    more with the module (issue 15)."""

    def __init__(self, language: str = "zh_CN", text_scale: float = 1.0,
                 autolock_minutes: int = 5, gps_source: str = "system",
                 update_channel: str = "stable", support_name: str = "",
                 support_phone: str = "") -> None:
        self.language = language
        self.text_scale = text_scale
        self.autolock_minutes = autolock_minutes
        self.gps_source = gps_source
        self.update_channel = update_channel
        self.support_name = support_name
        self.support_phone = support_phone

    # name: default, read off __init__ (said once). Whom a worker who forgot the PIN calls
    # (support_name and support_phone, the centre's setting support_contact, copied here
    # at each unlock and sync): the lock screen must show it before any unlock, and an IT
    # phone number is no secret. update_channel: the release channel IT puts the device on.
    DEFAULTS: ClassVar[dict[str, Any]] = dict(zip(
        __init__.__code__.co_varnames[1:__init__.__code__.co_argcount],
        __init__.__defaults__ or (), strict=True))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.DEFAULTS}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass would be

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"

    def validated(self) -> Settings:
        if self.language not in LANGUAGES:
            self.language = "zh_CN"
        if self.text_scale not in TEXT_SCALES:
            self.text_scale = min(TEXT_SCALES, key=lambda s: abs(s - float(self.text_scale)))
        if self.autolock_minutes not in AUTOLOCK_MINUTES:
            self.autolock_minutes = 5
        if self.update_channel not in UPDATE_CHANNELS:
            self.update_channel = "stable"
        try:
            parse_gps_source(self.gps_source)
        except ValueError:
            self.gps_source = "system"
        if self.update_channel not in UPDATE_CHANNELS:
            self.update_channel = "stable"
        self.support_name = str(self.support_name or "")[:40]
        self.support_phone = str(self.support_phone or "")[:20]
        return self


def load_settings(path: Path) -> Settings:
    """Settings from ``path``; a missing or damaged file gives the defaults."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    try:
        return Settings(**{k: v for k, v in raw.items() if k in Settings.DEFAULTS}).validated()
    except (TypeError, ValueError):
        return Settings()


def save_settings(path: Path, settings: Settings) -> None:
    from fieldclient.fsutil import atomic_write  # not needed to read settings at start-up

    atomic_write(path, json.dumps(settings.validated().as_dict(), indent=1).encode("utf-8"))
