"""Release updates as the centre signs them and a device chooses among them.

The centre keeps a TUF repository (The Update Framework, central/updates/repository.py) served at
:data:`UPDATES_METADATA_PATH` and :data:`UPDATES_TARGETS_PATH`. Each release is one
target, ``gridfield-<version>-<platform>.tar.gz``, whose signed ``custom`` metadata
holds ``{"gridfield": {...}}`` (:func:`release_info`): its version, channel
(``stable`` or ``pilot``), the districts it goes to (org unit ids) and the grids under
them when it was published or promoted, its platform, and whether it was revoked.

A device on channel ``pilot`` takes pilot and stable releases, one on ``stable`` only
stable ones; a release for districts goes only to devices with a grid under them.
Versions are compared as versions (1.0.10 > 1.0.9) and bounded (:func:`parse_version`):
a version in signed metadata cannot be absurd, overflow anything or block every later
one. Plain Python, shared by both sides (the wire format builds on nothing else of ours).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

UPDATES_PREFIX = "/api/v1/updates"
UPDATES_METADATA_PATH = UPDATES_PREFIX + "/metadata"
UPDATES_TARGETS_PATH = UPDATES_PREFIX + "/targets"
CHANNELS = ("stable", "pilot")
DEFAULT_CHANNEL = "stable"
VERSION_PARTS = 4  # at most 1.2.3.4
VERSION_PART_MAX = 99_999  # each part at most five digits
_VERSION_RE = re.compile(r"^(0|[1-9][0-9]{0,4})(\.(0|[1-9][0-9]{0,4})){0,3}$")
PLATFORM_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9_]+){0,3}$")
TARGET_RE = re.compile(
    r"^gridfield-((?:0|[1-9][0-9]{0,4})(?:\.(?:0|[1-9][0-9]{0,4})){0,3})-"
    r"([a-z0-9]+(?:-[a-z0-9_]+){0,3})\.tar\.gz$")
MAX_DISTRICTS = 1000
MAX_GRIDS = 100_000
MAX_RELEASE_BYTES = 2 * 1024**3  # a release archive larger than this is refused


class InvalidVersion(ValueError):
    """Not a version this app accepts (digits and dots, at most four parts of five
    digits each)."""


Version = tuple[int, ...]


def parse_version(text: Any) -> Version:
    """``"1.0.10"`` -> ``(1, 0, 10, 0)``: padded to four parts so 1.0 == 1.0.0."""
    if not isinstance(text, str) or not _VERSION_RE.match(text):
        raise InvalidVersion(f"not a version (digits and dots, e.g. 1.0.1): {text!r}"[:200])
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (VERSION_PARTS - len(parts)))


def version_text(version: Version) -> str:
    """The shortest text of ``version`` with at least three parts (1.0.0, 1.2.3.4)."""
    parts = list(version)
    while len(parts) > 3 and parts[-1] == 0:
        parts.pop()
    return ".".join(str(p) for p in parts)


def target_name(version: str, platform: str) -> str:
    return f"gridfield-{version}-{platform}.tar.gz"


def channel_takes(device_channel: str, release_channel: str) -> bool:
    """A pilot device takes pilot and stable releases; a stable one only stable."""
    if device_channel == "pilot":
        return release_channel in CHANNELS
    return release_channel == "stable"


@dataclass(frozen=True)
class Release:
    """One release as its signed target says."""

    name: str  # the target path
    version: Version
    version_text: str
    channel: str
    districts: tuple[int, ...]  # empty: every district
    grids: tuple[int, ...] | None  # the grids under the districts (None: every grid)
    platform: str
    revoked: bool
    length: int
    published_at: str

    def reaches(self, channel: str, grids: tuple[int, ...] | list[int], platform: str) -> bool:
        """Whether a device on ``channel`` with ``grids`` and ``platform`` takes it."""
        if self.platform != platform or not channel_takes(channel, self.channel):
            return False
        return self.grids is None or bool(set(self.grids) & set(grids))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version_text, "channel": self.channel,
                "districts": list(self.districts),
                "grids": None if self.grids is None else list(self.grids),
                "platform": self.platform, "revoked": self.revoked, "length": self.length,
                "published_at": self.published_at}


def _ids(value: Any, limit: int) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError("a list of ids is expected")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**31 - 1:
            raise ValueError("ids are whole numbers from 1 to 2^31-1")
        out.append(v)
    return tuple(sorted(set(out)))


def release_info(name: str, length: int, custom: Any) -> Release:
    """The release a target describes; ValueError when its name or ``custom`` metadata
    is not one (such a target is ignored, never taken)."""
    match = TARGET_RE.match(name)
    if match is None:
        raise ValueError(f"not a release target: {name!r}"[:200])
    info = custom.get("gridfield") if isinstance(custom, dict) else None
    if not isinstance(info, dict):
        raise ValueError("no gridfield release metadata")
    version = parse_version(info.get("version"))
    if version != parse_version(match.group(1)) or info.get("platform") != match.group(2):
        raise ValueError("the metadata does not match the target's name")
    channel = info.get("channel")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}"[:100])
    districts = _ids(info.get("districts", []), MAX_DISTRICTS)
    raw_grids = info.get("grids")
    grids = None if raw_grids is None else _ids(raw_grids, MAX_GRIDS)
    if not isinstance(length, int) or not 0 < length <= MAX_RELEASE_BYTES:
        raise ValueError("the archive's length is out of bounds")
    published = info.get("published_at", "")
    return Release(name=name, version=version, version_text=str(info["version"]),
                   channel=str(channel), districts=districts, grids=grids,
                   platform=match.group(2), revoked=info.get("revoked") is True,
                   length=length, published_at=str(published)[:40])


@dataclass(frozen=True)
class Decision:
    """What a device should do: ``action`` is ``none``, ``update`` (to ``target``, a
    newer release; also when its own version was revoked and a fixed newer one is out)
    or ``return`` (its version was revoked and nothing newer is out: back to ``target``,
    the newest release before it; None when there is none)."""

    action: str
    target: Release | None
    current_revoked: bool = False


def choose(releases: list[Release], current: Version, channel: str,
           grids: tuple[int, ...] | list[int], platform: str) -> Decision:
    """The newest release for this device above ``current``, or, when ``current`` was
    revoked and nothing newer is out, the newest one below it that was not. (A device
    that cannot go back because its database was migrated waits for the fixed release
    IT publishes: it must then be offered, not the return again.)"""
    revoked = {r.version for r in releases if r.revoked}
    usable = [r for r in releases
              if not r.revoked and r.version not in revoked and r.reaches(channel, grids,
                                                                           platform)]
    newer = [r for r in usable if r.version > current]
    if newer:
        return Decision("update", max(newer, key=lambda r: r.version),
                        current_revoked=current in revoked)
    if current in revoked:
        older = [r for r in usable if r.version < current]
        return Decision("return", max(older, key=lambda r: r.version) if older else None,
                        current_revoked=True)
    return Decision("none", None)


# -- patches between versions -----------------------------------------------------------
#
# A delta target ``gridfield-<from>-to-<to>-<platform>.delta.tar.gz`` holds
# ``delta.json`` (every entry of the new version's archive, in order: path, type, mode,
# size, SHA-256, whether the file is unchanged from the old version) and the files that
# changed, under ``files/``. A device on <from> rebuilds the new archive from its
# installed folder and the delta, checking every file against the manifest (which TUF
# verified with the delta): per file, no binary diff, so memory stays at one file's
# buffer on both sides. Only published when it is under half the full archive.

DELTA_RE = re.compile(
    r"^gridfield-((?:0|[1-9][0-9]{0,4})(?:\.(?:0|[1-9][0-9]{0,4})){0,3})-to-"
    r"((?:0|[1-9][0-9]{0,4})(?:\.(?:0|[1-9][0-9]{0,4})){0,3})-"
    r"([a-z0-9]+(?:-[a-z0-9_]+){0,3})\.delta\.tar\.gz$")
DELTA_MANIFEST = "delta.json"
DELTA_FILES = "files/"
ENTRY_TYPES = ("file", "dir", "symlink")
MAX_DELTA_ENTRIES = 200_000


def delta_name(old: str, new: str, platform: str) -> str:
    return f"gridfield-{old}-to-{new}-{platform}.delta.tar.gz"


def delta_info(name: str) -> tuple[Version, Version, str] | None:
    """(from, to, platform) of a delta target's name; None for any other target."""
    match = DELTA_RE.match(name)
    if match is None:
        return None
    return parse_version(match.group(1)), parse_version(match.group(2)), match.group(3)


_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def check_manifest(manifest: Any) -> list[dict[str, Any]]:
    """The entries of a delta's manifest, each checked (no absolute path, no ``..``, a
    known type, a file's size and hash); ValueError otherwise."""
    entries = manifest.get("entries") if isinstance(manifest, dict) else None
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_DELTA_ENTRIES:
        raise ValueError("a delta manifest lists its entries")
    for e in entries:
        path = e.get("path") if isinstance(e, dict) else None
        if not isinstance(path, str) or not path or path.startswith("/") \
                or ".." in path.split("/") or "\\" in path or "\0" in path:
            raise ValueError(f"bad path in a delta manifest: {path!r}"[:200])
        if e.get("type") not in ENTRY_TYPES or not isinstance(e.get("mode"), int):
            raise ValueError("bad entry in a delta manifest")
        if e["type"] == "file" and (not isinstance(e.get("size"), int) or e["size"] < 0
                                    or not _SHA_RE.match(str(e.get("sha256")))
                                    or not isinstance(e.get("from_base"), bool)):
            raise ValueError("bad file entry in a delta manifest")
        if e["type"] == "symlink" and not isinstance(e.get("link"), str):
            raise ValueError("bad link entry in a delta manifest")
    return entries
