"""Installing a staged release beside the running one, trying it, and rolling back.

The install root (chosen by IT at the first install, e.g. ``/opt/gridfield`` or
``%LOCALAPPDATA%\\gridfield``)::

    launcher/gridfield-launcher[.exe]
                               starts the current version (launcher.py); an update never
                               replaces it, so nothing half-written is ever started
    install.json               {"current", "previous", "trial", "failed"}: the pointer to
                               the current version, replaced atomically (os.replace)
    versions/<V>/              one unpacked `make dist` archive per version, side by side:
        release.json           {"version", "schema", "platform", "commit"}
        gridfield/gridfield    the app (and ``fieldclient``, the CLI)

At most the current and the previous version are kept (and one on trial). On the device's
data directory::

    updates/staged/<V>/        staged by the TUF client after verifying it: the archive
                               and staged.json {"version", "archive", "sha256", "length",
                               "channel", "staged_at"}
    updates/ready.json         the app's word, written when it last locked or closed, that
                               installing <V> puts nothing at risk (no patrol under way; no
                               unsynced record if <V> changes the database); for a return
                               (below) {"version", "action": "return", "from", "schema"}
    updates/outcome.json       what the last update did, for the app to tell the worker once

The rules: a staged release is installed at the next start (the launcher) or when the
worker taps "update now" (the app checks :func:`can_apply`, writes ``ready.json`` and
exits with :data:`RESTART_FOR_UPDATE`), never in the middle of a patrol. The archive's
SHA-256 and length are checked again right before unpacking, and no member may land
outside the version's folder. The new version then starts *on trial*: unless it confirms
(:func:`confirm_started`, when its first window is painted) within the timeout, it is
killed if still running, the pointer goes back to the previous version, and the worker is
told (``outcome.json``, translated). A version that failed is not installed again.

The database. A new version may migrate the database when the worker unlocks it (after
a backup, ``backups/gridfield-v<N>-<time>.db``). A failed start never reaches that point
(the unlock screen is the first window, and the trial is decided by then), so rolling back
a failed start never meets a newer schema. Going back to an older version *after* the new
one has migrated the database (a revoked release, :func:`switch_to`) is allowed only if the
older version can open the database (its ``schema`` is at least the database's); otherwise
it is refused with a clear message and the device stays on the version it has, with every
record: the pre-migration backup is never restored automatically, since it lacks whatever
was recorded after the migration. IT publishes a fixed, newer release instead.

A return (IT revoked the running release; the TUF client's check, ``updates/state.json``,
says ``"action": "return"`` with the version to go back to) follows the same rules as an
update: the app decides at a lock, a close or "update now" (:func:`note_ready`, which needs
the unlocked database for its schema) and writes ``ready.json`` with ``"action":
"return"``; the launcher switches at the next start (:func:`apply_return`). The version
to return to is taken from the install root when it is still there, else from the archive
the TUF client fetched and staged for the return (``staged.json`` ``"action": "return"``),
installed beside the others first. The revoked version is marked failed (never installed
again) and the worker is told once (``outcome.json``, ``switched``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fieldclient import RELEASE_MANIFEST
from fieldclient.errors import FieldClientError
from fieldclient.fsutil import atomic_write, fsync_dir
from fieldclient.i18n import QT_TRANSLATE_NOOP, translate

if TYPE_CHECKING:
    from fieldclient.storage.session import Session

CTX = "install"
STATE_FILE = "install.json"
VERSIONS_DIR = "versions"
APP_DIR = "gridfield"
# The app exits with this code after the worker tapped "update now" (and can_apply agreed):
# the launcher then installs the staged release and starts it (EX_TEMPFAIL).
RESTART_FOR_UPDATE = 75
# The launcher passes the file the app writes once its first window is painted.
STARTED_ENV = "GRIDFIELD_STARTED_FILE"
INSTALL_ROOT_ENV = "GRIDFIELD_INSTALL_ROOT"
DEFAULT_START_TIMEOUT = 120.0


class InstallError(FieldClientError):
    """An update could not be installed, rolled back or switched; nothing was changed."""

    text = QT_TRANSLATE_NOOP("install", "更新没有完成，继续使用当前版本。")

    def message(self, language: str | None = None) -> str:
        return translate(CTX, self.text, language).format(**self.params)


class ArchiveMismatch(InstallError):
    text = QT_TRANSLATE_NOOP(
        "install", "更新包{version}与验证时不一致（{what}），没有安装，将重新下载。")


class UnsafeArchive(InstallError):
    text = QT_TRANSLATE_NOOP(
        "install", "更新包{version}含有不允许的路径（{member}），没有安装。")


class BadRelease(InstallError):
    text = QT_TRANSLATE_NOOP("install", "更新包{version}不是有效的发布包（{what}），没有安装。")


class UnpackFailed(InstallError):
    text = QT_TRANSLATE_NOOP(
        "install", "更新包{version}无法解包（{what}），没有安装，继续使用当前版本。")


class StateDamaged(InstallError):
    text = QT_TRANSLATE_NOOP(
        "install", "安装记录{file}已损坏（{what}），改为启动已安装的最新版本{version}。")


class NotInstalled(InstallError):
    text = QT_TRANSLATE_NOOP("install", "版本{version}没有安装在本设备上。")


class SchemaBlocksRollBack(InstallError):
    text = QT_TRANSLATE_NOOP(
        "install",
        "数据库已由当前版本升级到第{schema}版，{version}版无法打开它，因此不能退回；"
        "继续使用当前版本，所有记录都保留着。请信息管理员发布修复后的新版本。",
    )


class ReturnNotHere(InstallError):
    text = QT_TRANSLATE_NOOP(
        "install", "{revoked}版已被撤回，要退回的{version}版还没有下载完：同步后再试。")


class UpdateDeferred(InstallError):
    """Why the staged update waits (:func:`can_apply`)."""


class PatrolUnderWay(UpdateDeferred):
    text = QT_TRANSLATE_NOOP("install", "巡查正在进行中，结束巡查后再安装更新。")


class UnsyncedWork(UpdateDeferred):
    text = QT_TRANSLATE_NOOP(
        "install", "{version}版会升级数据库，而还有{count}条记录没有同步：请先同步，再安装更新。")


# -- versions --------------------------------------------------------------------------


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders ``1.0.10`` after ``1.0.9``; a non-numeric part sorts before numbers."""
    parts = []
    for part in version.replace("-", ".").split("."):
        # ASCII digits only: str.isdigit() accepts "²", which int() refuses
        parts.append((int(part), "") if part.isascii() and part.isdigit() else (-1, part))
    return tuple(parts)


def _valid_version(version: object) -> bool:
    return (isinstance(version, str) and bool(version) and len(version) <= 64
            and version.isascii() and not version.startswith(".")
            and all(c.isalnum() or c in ".-_+" for c in version))


@dataclass(frozen=True)
class Staged:
    """A release the TUF client verified and staged (``updates/staged/<V>/``)."""

    version: str
    archive: Path
    sha256: str
    length: int
    channel: str
    staged_at: str
    folder: Path
    action: str = "update"  # "return": fetched to go back to (the running one was revoked)


def updates_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "updates"


def staged_updates(data_dir: Path) -> list[Staged]:
    """Every complete staged release, oldest version first (an unreadable one is skipped:
    the TUF client writes staged.json last, so a half-staged one has none)."""
    found = []
    root = updates_dir(data_dir) / "staged"
    if not root.is_dir():
        return []
    for folder in root.iterdir():
        try:
            meta = json.loads((folder / "staged.json").read_text("utf-8"))
            version, archive = meta["version"], meta["archive"]
            if (not _valid_version(version) or version != folder.name
                    or not isinstance(archive, str) or Path(archive).name != archive):
                continue
            staged = Staged(version=version, archive=folder / archive,
                            sha256=str(meta["sha256"]).lower(), length=int(meta["length"]),
                            channel=str(meta.get("channel", "")),
                            staged_at=str(meta.get("staged_at", "")), folder=folder,
                            action="return" if meta.get("action") == "return" else "update")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if staged.archive.is_file():
            found.append(staged)
    return sorted(found, key=lambda s: version_key(s.version))


def pending(data_dir: Path, current: str | None = None) -> Staged | None:
    """The newest staged release newer than ``current`` (default: this program's version),
    or None. Going back to an older version is :func:`switch_to`'s job, never an update's."""
    if current is None:
        from fieldclient import __version__

        current = __version__
    floor = version_key(current)
    newer = [s for s in staged_updates(data_dir)
             if version_key(s.version) > floor and s.action != "return"]
    return newer[-1] if newer else None


# -- the install root's state -----------------------------------------------------------


@dataclass
class InstallState:
    current: str | None = None
    previous: str | None = None
    trial: dict[str, Any] | None = None  # {"version", "from", "since"} while on trial
    failed: list[str] | None = None  # versions that failed to start or were revoked

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "previous": self.previous, "trial": self.trial,
                "failed": sorted(set(self.failed or []), key=version_key)}


def _parse_state(data: Any) -> InstallState:
    """install.json's content checked; ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("not an object")

    def version(value: Any, what: str) -> str | None:
        if value is not None and not _valid_version(value):
            raise ValueError(f"{what} {value!r}")
        return value  # type: ignore[no-any-return]

    trial = data.get("trial")
    if trial is not None:
        if not isinstance(trial, dict) or version(trial.get("version"), "trial") is None:
            raise ValueError(f"trial {trial!r}")
        version(trial.get("from"), "trial from")
    failed = data.get("failed") or []
    if not isinstance(failed, list):
        raise ValueError(f"failed {failed!r}")
    return InstallState(current=version(data.get("current"), "current"),
                        previous=version(data.get("previous"), "previous"), trial=trial,
                        failed=[str(version(v, "failed")) for v in failed])


def read_state(root: Path) -> InstallState:
    """install.json; :class:`StateDamaged` when it cannot be read as one (the launcher
    then calls :func:`repair_state`)."""
    path = Path(root) / STATE_FILE
    try:
        return _parse_state(json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        return InstallState()
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        newest = (installed_versions(root) or ["-"])[-1]
        raise StateDamaged(file=str(path), what=str(exc)[:200], version=newest) from exc


def repair_state(root: Path) -> InstallState:
    """A new install.json from what is installed: the newest complete version current,
    the one before it previous, no trial (a damaged file says nothing to trust)."""
    versions = [v for v in installed_versions(root) if app_executable(root, v).exists()]
    state = InstallState(current=versions[-1] if versions else None,
                         previous=versions[-2] if len(versions) > 1 else None, failed=[])
    write_state(root, state)
    return state


def write_state(root: Path, state: InstallState) -> None:
    """The pointer moves in one rename: a crash leaves the old state or the new one."""
    atomic_write(Path(root) / STATE_FILE,
                 (json.dumps(state.to_json(), indent=1) + "\n").encode(), mode=0o644)


def version_dir(root: Path, version: str) -> Path:
    return Path(root) / VERSIONS_DIR / version


def app_executable(root: Path, version: str, name: str = APP_DIR) -> Path:
    exe = ".exe" if sys.platform == "win32" else ""
    return version_dir(root, version) / APP_DIR / f"{name}{exe}"


def release_info(root: Path, version: str) -> dict[str, Any]:
    return dict(json.loads((version_dir(root, version) / RELEASE_MANIFEST).read_text("utf-8")))


def installed_versions(root: Path) -> list[str]:
    """The versions unpacked under the root (complete ones), oldest first."""
    folder = Path(root) / VERSIONS_DIR
    if not folder.is_dir():
        return []
    versions = [p.name for p in folder.iterdir()
                if _valid_version(p.name) and (p / RELEASE_MANIFEST).is_file()]
    return sorted(versions, key=version_key)


def install_root() -> Path | None:
    """The install root this program runs from: ``GRIDFIELD_INSTALL_ROOT`` (the launcher
    sets it for the app), else, for a built bundle, the root above
    ``versions/<V>/gridfield/`` when it has an ``install.json``; None when run from
    source."""
    override = os.environ.get(INSTALL_ROOT_ENV)
    if override:
        return Path(override)
    if getattr(sys, "frozen", False):
        parents = Path(sys.executable).resolve().parents
        if len(parents) > 3 and parents[2].name == VERSIONS_DIR \
                and (parents[3] / STATE_FILE).is_file():
            return parents[3]
    return None


def has_version(root: Path | None, version: str) -> bool:
    """Whether ``version`` is installed, complete, under ``root``."""
    return (root is not None and _valid_version(version)
            and version in installed_versions(root) and app_executable(root, version).exists())


# -- unpacking --------------------------------------------------------------------------


def _check_member(member: tarfile.TarInfo, version: str) -> PurePosixPath:
    """The member's path inside the version folder; raises on anything that could write
    outside it (absolute paths, ``..``, links pointing out) or is not a file, folder or
    link."""
    name = member.name
    path = PurePosixPath(name)
    if (not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name
            or path.is_absolute() or ".." in path.parts):
        raise UnsafeArchive(version=version, member=name)
    if member.issym():
        target = PurePosixPath(member.linkname)
        if (target.is_absolute() or "\\" in member.linkname or ":" in member.linkname
                or _escapes(path.parent / target)):
            raise UnsafeArchive(version=version, member=f"{name} -> {member.linkname}")
    elif member.islnk():
        target = PurePosixPath(member.linkname)
        if target.is_absolute() or _escapes(target):
            raise UnsafeArchive(version=version, member=f"{name} -> {member.linkname}")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchive(version=version, member=name)
    return path


def _escapes(path: PurePosixPath) -> bool:
    """Whether a relative path, ``..`` resolved lexically, leaves its root."""
    depth = 0
    for part in path.parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def read_manifest(archive: Path) -> dict[str, Any]:
    """release.json, the archive's first member, without unpacking the rest."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name == RELEASE_MANIFEST and member.isfile():
                fh = tar.extractfile(member)
                assert fh is not None
                return dict(json.loads(fh.read(65536)))
            break
    raise ValueError("release.json is not the archive's first member")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unpack(archive: Path, target: Path, version: str) -> None:
    """Unpack ``archive`` into the new folder ``target``, member by member, refusing any
    path or link that would leave it. Files get their executable bit and nothing else
    from the archive (no owners, no set-uid)."""
    with tarfile.open(archive, "r|gz") as tar:
        _unpack_members(tar, iter(tar), target, version)


def _unpack_members(tar: tarfile.TarFile, members: Iterator[tarfile.TarInfo], target: Path,
                    version: str) -> None:
    """:func:`unpack`'s work on ``tar`` read as a stream (each member once, in order)."""
    target.mkdir(parents=True)
    links: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
    for member in members:
        rel = _check_member(member, version)
        dest = target.joinpath(*rel.parts)
        if member.isdir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if member.issym() or member.islnk():
            links.append((member, rel))  # made last: nothing is written through a link
            continue
        src = tar.extractfile(member)
        assert src is not None
        try:
            with open(dest, "xb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except (FileExistsError, IsADirectoryError):
            raise UnsafeArchive(version=version, member=f"{member.name} (twice)") from None
        os.chmod(dest, 0o755 if member.mode & 0o111 else 0o644)
    for member, rel in links:
        dest = target.joinpath(*rel.parts)
        if os.path.lexists(dest):  # a link over a folder or file already unpacked
            raise UnsafeArchive(version=version, member=f"{member.name} (twice)")
        if member.issym():
            os.symlink(member.linkname, dest)
        else:
            source = target.joinpath(*PurePosixPath(member.linkname).parts)
            if not source.is_file() or source.is_symlink():
                raise UnsafeArchive(version=version, member=f"{member.name} -> {member.linkname}")
            shutil.copy2(source, dest)
    # A symlinked folder in the archive must not let a later member write through it.
    for path in target.rglob("*"):
        if path.is_symlink():
            try:
                resolved = path.resolve()
            except (OSError, RuntimeError):  # links pointing at each other
                raise UnsafeArchive(version=version,
                                    member=str(path.relative_to(target))) from None
            if resolved != target.resolve() and target.resolve() not in resolved.parents:
                raise UnsafeArchive(version=version, member=str(path.relative_to(target)))


class _Checked(io.RawIOBase):
    """The staged archive read once, through one descriptor opened without following a
    link, every byte counted and hashed: what is unpacked is what is checked, whatever
    happens to the file's name meanwhile."""

    def __init__(self, path: Path, length: int, version: str) -> None:
        super().__init__()
        self.length, self.version = length, version
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        self.fd = os.open(path, flags)
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = os.readv(self.fd, [buffer]) if hasattr(os, "readv") else self._read_into(buffer)
        self.hash.update(memoryview(buffer)[:n])
        self.count += n
        if self.count > self.length:  # longer than the checked archive: stop here
            raise ArchiveMismatch(version=self.version, what=f"more than {self.length} bytes")
        return n

    def _read_into(self, buffer: Any) -> int:
        data = os.read(self.fd, len(buffer))
        memoryview(buffer)[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def _unpack_checked(archive: Path, target: Path, version: str, sha256: str, length: int,
                    manifest_check: Any) -> None:
    """Unpack ``archive`` (release.json first, given to ``manifest_check``) reading it
    once; :class:`ArchiveMismatch` when the bytes read are not ``length`` bytes with
    ``sha256`` (checked before the caller moves the folder into place)."""
    with _Checked(archive, length, version) as raw, io.BufferedReader(raw, 1 << 20) as buffered, \
            tarfile.open(fileobj=buffered, mode="r|gz") as tar:
        members = iter(tar)
        first = next(members, None)
        if first is None or first.name != RELEASE_MANIFEST or not first.isfile():
            raise BadRelease(version=version, what="release.json is not the first member")
        if first.size > 65536:
            raise BadRelease(version=version, what="release.json is too large")
        fh = tar.extractfile(first)
        assert fh is not None
        data = fh.read()
        manifest_check(json.loads(data))
        _unpack_members(tar, members, target, version)
        try:  # a stream is read once: the manifest as read above
            with open(target / RELEASE_MANIFEST, "xb") as out:
                out.write(data)
        except (FileExistsError, IsADirectoryError):
            raise UnsafeArchive(version=version, member=f"{RELEASE_MANIFEST} (twice)") from None
        while buffered.read(1 << 20):  # the rest, past the tar's end: hashed too
            pass
        if raw.count != length:
            raise ArchiveMismatch(version=version, what=f"{raw.count} != {length} bytes")
        if raw.hash.hexdigest() != sha256:
            raise ArchiveMismatch(version=version, what="SHA-256")


def install_archive(root: Path, archive: Path, expected_version: str | None = None,
                    checked: tuple[str, int] | None = None) -> str:
    """Unpack a release archive into ``versions/<V>/`` (beside the others) and return V.
    The current version's folder is never touched; a leftover folder of a version that is
    neither current nor previous is replaced. ``checked``: the archive's SHA-256 and
    length, verified on the very bytes unpacked (a staged archive)."""
    root = Path(root)
    if checked is None:
        try:
            sha256, length = sha256_of(archive), archive.stat().st_size
        except OSError as exc:
            raise BadRelease(version=expected_version or archive.name, what=str(exc)) from exc
    else:
        sha256, length = checked
    found: list[str] = []

    def manifest_check(manifest: Any) -> None:
        version = manifest.get("version") if isinstance(manifest, dict) else None
        if not _valid_version(version):
            raise BadRelease(version=expected_version or archive.name,
                             what=f"version {version!r}")
        assert isinstance(version, str)
        if expected_version is not None and version != expected_version:
            raise BadRelease(version=expected_version, what=f"release.json says {version}")
        state = read_state(root)
        if version in (state.current, state.previous) and (
                version_dir(root, version) / RELEASE_MANIFEST).is_file():
            raise BadRelease(version=version, what="already installed")
        found.append(version)

    versions = root / VERSIONS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    # the folder is named before the version is known: one unpack at a time per root
    partial = versions / f".{expected_version or 'unpacking'}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    name = expected_version or archive.name
    try:
        try:
            _unpack_checked(archive, partial, name, sha256, length, manifest_check)
        except InstallError:
            raise
        except (OSError, EOFError, ValueError, tarfile.TarError, zlib.error) as exc:
            raise UnpackFailed(version=name, what=str(exc) or type(exc).__name__) from exc
        [version] = found
        if not (partial / APP_DIR).is_dir():
            raise BadRelease(version=version, what=f"no {APP_DIR}/ folder")
        final = version_dir(root, version)
        if final.exists():
            shutil.rmtree(final)
        os.replace(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    fsync_dir(versions)
    return version


def first_install(root: Path, archive: Path) -> str:
    """IT's first install on a device (``gridfield-launcher --install-from ARCHIVE``)."""
    version = install_archive(root, archive)
    state = read_state(root)
    state.previous, state.current, state.trial = state.current, version, None
    write_state(root, state)
    _prune(root, state)
    return version


# -- outcomes told to the worker ----------------------------------------------------------

_OUTCOME_TEXTS = {
    "updated": QT_TRANSLATE_NOOP("install", "程序已更新到{version}版。"),
    "rolled_back": QT_TRANSLATE_NOOP(
        "install",
        "更新到{version}版没有成功（{reason}），已自动退回{restored}版。数据没有受影响。"
        "请告知信息管理员。",
    ),
    "refused": QT_TRANSLATE_NOOP(
        "install", "更新包{version}没有安装（{reason}），继续使用当前版本。"),
    "switched": QT_TRANSLATE_NOOP(
        "install", "{version}版已被信息管理员撤回，本设备已退回{restored}版。"),
    "return_refused": QT_TRANSLATE_NOOP(
        "install",
        "{version}版已被信息管理员撤回，但没有退回{restored}版（{reason}），继续使用{version}版。"
        "数据没有受影响。请告知信息管理员。",
    ),
}
_REASON_TEXTS = {
    "exit": QT_TRANSLATE_NOOP("install", "新版本启动时退出，代码{code}"),
    "signal": QT_TRANSLATE_NOOP("install", "新版本启动时崩溃，信号{code}"),
    "timeout": QT_TRANSLATE_NOOP("install", "新版本{seconds}秒内没有启动"),
    "interrupted": QT_TRANSLATE_NOOP("install", "新版本的首次启动被中断"),
    "missing": QT_TRANSLATE_NOOP("install", "新版本的程序文件不见了"),
}


def record_outcome(data_dir: Path, kind: str, version: str, restored: str | None = None,
                   reason: dict[str, Any] | None = None, shown: bool = False) -> None:
    """What happened, for the app to tell the worker at its next start (once)."""
    outcome = {"kind": kind, "version": version, "restored": restored,
               "reason": reason or {}, "at": time.time(), "shown": shown}
    atomic_write(updates_dir(data_dir) / "outcome.json",
                 json.dumps(outcome, ensure_ascii=False).encode())


def outcome_message(outcome: dict[str, Any], language: str | None = None) -> str:
    """The outcome in the worker's language (``language``: as :func:`translate`)."""
    reason = dict(outcome.get("reason") or {})
    reason_text = ""
    if reason.get("kind") in _REASON_TEXTS:
        params = {k: v for k, v in reason.items() if k != "kind"}
        reason_text = translate(CTX, _REASON_TEXTS[reason["kind"]], language).format_map(
            _Missing(params))
    elif reason.get("kind") == "error":  # an InstallError's own text and parameters
        reason_text = translate(CTX, str(reason.get("text", "")), language).format_map(
            _Missing(reason.get("params") or {}))
    text = _OUTCOME_TEXTS.get(str(outcome.get("kind")), _OUTCOME_TEXTS["refused"])
    return translate(CTX, text, language).format_map(_Missing({
        "version": outcome.get("version", ""), "restored": outcome.get("restored") or "",
        "reason": reason_text}))


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def take_outcome(data_dir: Path) -> dict[str, Any] | None:
    """The last update's outcome if the worker has not been told yet; marks it told."""
    path = updates_dir(data_dir) / "outcome.json"
    try:
        outcome = dict(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError):
        return None
    if outcome.get("shown"):
        return None
    outcome["shown"] = True
    with contextlib.suppress(OSError):
        atomic_write(path, json.dumps(outcome, ensure_ascii=False).encode())
    return outcome


# -- applying, trying, rolling back ---------------------------------------------------------


def verify_staged(staged: Staged) -> None:
    """The archive is still the one the TUF client verified: same length, same SHA-256
    (checked again on the bytes unpacked, :func:`install_archive`)."""
    try:
        size = staged.archive.stat().st_size
    except OSError as exc:
        raise ArchiveMismatch(version=staged.version, what=str(exc)) from exc
    if size != staged.length:
        raise ArchiveMismatch(version=staged.version, what=f"{size} != {staged.length} bytes")
    if sha256_of(staged.archive) != staged.sha256:
        raise ArchiveMismatch(version=staged.version, what="SHA-256")


def apply_staged(data_dir: Path, root: Path, staged: Staged | None = None) -> str:
    """Install the staged release (default: :func:`pending` against the current version)
    and make it current *on trial*; returns its version. The staged copy is removed once
    unpacked, or once refused (a bad archive is fetched again, a failed version never)."""
    root = Path(root)
    state = read_state(root)
    if staged is None:
        staged = pending(data_dir, state.current or "0")
        if staged is None:
            raise InstallError(QT_TRANSLATE_NOOP("install", "没有待安装的更新。"))
    try:
        if staged.version in (state.failed or []):
            raise BadRelease(version=staged.version, what="failed before")
        verify_staged(staged)
        install_archive(root, staged.archive, expected_version=staged.version,
                        checked=(staged.sha256, staged.length))
    except InstallError as exc:
        record_outcome(data_dir, "refused", staged.version,
                       reason={"kind": "error", "text": exc.text, "params": exc.params})
        _discard_staged(data_dir, staged)
        raise
    state = read_state(root)
    state.trial = {"version": staged.version, "from": state.current, "since": time.time()}
    state.previous, state.current = state.current, staged.version
    write_state(root, state)
    _discard_staged(data_dir, staged)
    return staged.version


def _discard_staged(data_dir: Path, staged: Staged) -> None:
    shutil.rmtree(staged.folder, ignore_errors=True)
    ready = updates_dir(data_dir) / "ready.json"
    with contextlib.suppress(FileNotFoundError):
        ready.unlink()


def commit_trial(root: Path, data_dir: Path | None = None) -> str | None:
    """The version on trial confirmed its start: it stays; the one before it is kept for
    a later switch back, older ones are removed."""
    state = read_state(root)
    if state.trial is None:
        return None
    version = str(state.trial["version"])
    state.trial = None
    write_state(root, state)
    _prune(root, state)
    if data_dir is not None:  # the new version said so itself as it started (on_trial)
        record_outcome(data_dir, "updated", version, shown=True)
    return version


def roll_back(root: Path, data_dir: Path | None, reason: dict[str, Any]) -> str:
    """The version on trial failed to start: back to the one before it (the pointer moves
    in one rename), the failed one is removed and never installed again. Returns the
    version now current. The database was not touched by the failed version (see the
    module's docstring), so the restored version opens it as it was."""
    state = read_state(root)
    if state.trial is None or not state.trial.get("from"):
        raise InstallError(QT_TRANSLATE_NOOP("install", "没有可以退回的版本。"))
    failed, restored = str(state.trial["version"]), str(state.trial["from"])
    state.current, state.trial = restored, None
    state.previous = next((v for v in reversed(installed_versions(root))
                           if v not in (restored, failed)), None)
    state.failed = [*(state.failed or []), failed]
    write_state(root, state)
    shutil.rmtree(version_dir(root, failed), ignore_errors=True)
    if data_dir is not None:
        record_outcome(data_dir, "rolled_back", failed, restored=restored, reason=reason)
    return restored


def switch_to(root: Path, version: str, db_schema: int | None = None,
              data_dir: Path | None = None) -> str:
    """Make an installed ``version`` current, e.g. the previous one when IT revoked the
    current release (the revoked one is marked failed: it is not installed again).
    ``db_schema``: the database's highest migration (:func:`database_schema`); a version
    that cannot open it is refused (:class:`SchemaBlocksRollBack`) and nothing changes.
    Takes effect at the app's next start."""
    state = read_state(root)
    if version not in installed_versions(root) or not app_executable(root, version).exists():
        raise NotInstalled(version=version)
    if db_schema is not None:
        supports = int(release_info(root, version).get("schema", 0))
        if supports < db_schema:
            raise SchemaBlocksRollBack(version=version, schema=db_schema)
    left = state.current
    if left == version:
        return version
    state.current, state.previous, state.trial = version, left, None
    if left is not None and version_key(left) > version_key(version):
        state.failed = [*(state.failed or []), left]  # a withdrawn release
    write_state(root, state)
    if data_dir is not None and left is not None:
        record_outcome(data_dir, "switched", left, restored=version)
    return version


def _prune(root: Path, state: InstallState) -> None:
    """Keep the current and the previous version (and one on trial); remove the rest."""
    keep = {state.current, state.previous}
    if state.trial:
        keep |= {state.trial.get("version"), state.trial.get("from")}
    for version in installed_versions(root):
        if version not in keep:
            shutil.rmtree(version_dir(root, version), ignore_errors=True)


def on_trial() -> bool:
    """Whether this process is a new version on its first start (started by the launcher
    waiting for :func:`confirm_started`)."""
    return bool(os.environ.get(STARTED_ENV))


def confirm_started() -> bool:
    """Called by the app once its first window is painted: tells the launcher that this
    version starts (a no-op when not started by the launcher)."""
    path = os.environ.get(STARTED_ENV)
    if not path:
        return False
    from fieldclient import __version__

    with contextlib.suppress(OSError):
        Path(path).write_text(json.dumps({"version": __version__, "pid": os.getpid()}), "utf-8")
        return True
    return False


# -- when an update may go in -------------------------------------------------------------


def database_schema(session: Session) -> int:
    """The highest migration the unlocked database has had (what an older version must
    know to open it)."""
    return int(session.db.execute("PRAGMA user_version").fetchone()[0])


def can_apply(session: Session, staged: Staged) -> UpdateDeferred | None:
    """Why the staged release must wait, or None when installing it risks nothing: not in
    the middle of a patrol; and if the release migrates the database, not while records
    wait to be synced (whatever happened to the new version, they are safe at the centre)."""
    if session.db.execute("SELECT 1 FROM patrols WHERE state = 'active'").fetchone():
        return PatrolUnderWay()
    try:
        schema = int(read_manifest(staged.archive).get("schema", 0))
    except (OSError, ValueError, tarfile.TarError):
        schema = sys.maxsize  # unknown: assume it migrates
    if schema > database_schema(session):
        unsynced = session.pending_uploads()
        if unsynced:
            return UnsyncedWork(version=staged.version, count=unsynced)
    return None


def note_ready(data_dir: Path, session: Session,
               root: Path | None = None) -> InstallError | None:
    """At a lock or close (session still open): write ``ready.json`` for the newest staged
    release when :func:`can_apply` agrees, so the launcher installs it at the next start;
    remove it otherwise. Returns why it waits, or None. Also for "update now": on None the
    app exits with :data:`RESTART_FOR_UPDATE`.

    When the running release was revoked and the version to go back to is at hand
    (:func:`pending_return`; ``root``: default :func:`install_root`), the return comes
    first, with its own rules (:func:`can_return`): ``ready.json`` then says
    ``"action": "return"`` with the database's schema, which the launcher cannot read."""
    ready = updates_dir(data_dir) / "ready.json"
    back = pending_return(data_dir, root if root is not None else install_root())
    if back is not None:
        refusal = can_return(session, back)
        if refusal is not None:
            with contextlib.suppress(FileNotFoundError):
                ready.unlink()
            return refusal
        atomic_write(ready, json.dumps({
            "version": back.version, "action": "return", "from": back.revoked,
            "schema": database_schema(session), "at": time.time()}).encode())
        return None
    staged = pending(data_dir)
    reason = can_apply(session, staged) if staged is not None else None
    if staged is None or reason is not None:
        with contextlib.suppress(FileNotFoundError):
            ready.unlink()
        return reason
    atomic_write(ready, json.dumps({"version": staged.version, "at": time.time()}).encode())
    return None


def clear_ready(data_dir: Path) -> None:
    """At unlock: the word given at the last lock no longer holds (a patrol may start);
    a crash before the next lock leaves no stale ``ready.json``."""
    with contextlib.suppress(FileNotFoundError):
        (updates_dir(data_dir) / "ready.json").unlink()


def _ready(data_dir: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((updates_dir(data_dir) / "ready.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def ready_version(data_dir: Path) -> str | None:
    """The staged update the app declared safe (not a return: :func:`ready_return`)."""
    ready = _ready(data_dir)
    if ready is None or ready.get("action", "update") != "update" \
            or not _valid_version(ready.get("version")):
        return None
    return str(ready["version"])


# -- going back from a revoked release --------------------------------------------------


@dataclass(frozen=True)
class Return:
    """Going back from the revoked ``revoked`` (running) to ``version``: installed under
    ``root`` (``staged`` None), or fetched and staged by the TUF client for it."""

    version: str
    revoked: str
    root: Path | None
    staged: Staged | None


def revoked_check(data_dir: Path, current: str | None = None) -> str | None:
    """The version to go back to when the last check (the TUF client's ``state.json``)
    found the running version ``current`` revoked; else None."""
    if current is None:
        from fieldclient import __version__

        current = __version__
    try:
        check = json.loads((updates_dir(data_dir) / "state.json").read_text("utf-8"))
        target = check["target"]["version"] if check.get("action") == "return" else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if (not isinstance(target, str) or not _valid_version(target)
            or check.get("installed") != current or version_key(target) >= version_key(current)):
        return None
    return target


def pending_return(data_dir: Path, root: Path | None, current: str | None = None
                   ) -> Return | None:
    """The return to make when the running ``current`` (default: this program's version)
    was revoked and the version before it is at hand: installed under ``root``, or
    staged for the return; None otherwise."""
    if current is None:
        from fieldclient import __version__

        current = __version__
    version = revoked_check(data_dir, current)
    if version is None:
        return None
    if has_version(root, version):
        return Return(version, current, root, None)
    staged = _staged_return(data_dir, version)
    return Return(version, current, root, staged) if staged is not None else None


def _staged_return(data_dir: Path, version: str) -> Staged | None:
    return next((s for s in staged_updates(data_dir)
                 if s.version == version and s.action == "return"), None)


def return_schema(back: Return) -> int:
    """The highest database schema the version to go back to opens (0: unknown, which
    blocks the return unless the database is new)."""
    try:
        if back.staged is None:
            assert back.root is not None
            info = release_info(back.root, back.version)
        else:
            info = read_manifest(back.staged.archive)
        return int(info.get("schema", 0))
    except (OSError, ValueError, TypeError, tarfile.TarError):
        return 0


def can_return(session: Session, back: Return) -> InstallError | None:
    """Why going back must wait or cannot be done, or None: not in the middle of a patrol
    (as an update); and never to a version that cannot open the database as it is now
    (:class:`SchemaBlocksRollBack`: the device stays, with every record)."""
    if session.db.execute("SELECT 1 FROM patrols WHERE state = 'active'").fetchone():
        return PatrolUnderWay()
    schema = database_schema(session)
    if return_schema(back) < schema:
        return SchemaBlocksRollBack(version=back.version, schema=schema)
    return None


def ready_return(data_dir: Path) -> dict[str, Any] | None:
    """The app's word (``ready.json``) that the device may go back: {"version", "from",
    "schema"}, checked; else None."""
    ready = _ready(data_dir)
    if ready is None or ready.get("action") != "return":
        return None
    version, left, schema = ready.get("version"), ready.get("from"), ready.get("schema")
    if (not _valid_version(version) or not _valid_version(left)
            or isinstance(schema, bool) or not isinstance(schema, int) or schema < 0):
        return None
    return {"version": version, "from": left, "schema": schema}


def apply_return(data_dir: Path, root: Path, ready: dict[str, Any]) -> str | None:
    """At the launcher's start, with the app's word (:func:`ready_return`): go back from
    the revoked current version to ``ready["version"]`` (installing it first from the
    archive staged for the return when it is not here), the revoked one marked failed
    and the worker told (``switched``). Returns the version now current; None when the
    word is stale (the current version is no longer the one it was given for). Refused
    (:class:`InstallError`): nothing changes, the worker is told once."""
    root = Path(root)
    version, left, schema = str(ready["version"]), str(ready["from"]), int(ready["schema"])
    clear_ready(data_dir)
    state = read_state(root)
    if state.current != left or state.trial is not None \
            or revoked_check(data_dir, left) != version:
        return None  # a stale word: the check no longer says so, or another version runs
    staged = None
    try:
        if version in (state.failed or []):
            raise BadRelease(version=version, what="failed before")
        if not has_version(root, version):
            staged = _staged_return(data_dir, version)
            if staged is None:
                raise ReturnNotHere(version=version, revoked=left)
            verify_staged(staged)
            try:
                supports = int(read_manifest(staged.archive).get("schema", 0))
            except (OSError, ValueError, TypeError, tarfile.TarError) as exc:
                raise BadRelease(version=version, what=str(exc)[:200]) from exc
            if supports < schema:  # known before unpacking anything
                raise SchemaBlocksRollBack(version=version, schema=schema)
            install_archive(root, staged.archive, expected_version=version)
        switch_to(root, version, db_schema=schema, data_dir=data_dir)
    except InstallError as exc:
        record_outcome(data_dir, "return_refused", left, restored=version,
                       reason={"kind": "error", "text": exc.text, "params": exc.params})
        if staged is not None and not isinstance(exc, SchemaBlocksRollBack):
            _discard_staged(data_dir, staged)  # a bad archive is fetched again
        raise
    if staged is not None:
        _discard_staged(data_dir, staged)
    # the revoked version is never started again: its folder goes (as a failed start's)
    state = read_state(root)
    state.previous = next((v for v in reversed(installed_versions(root))
                           if v not in (version, left, *(state.failed or []))), None)
    write_state(root, state)
    shutil.rmtree(version_dir(root, left), ignore_errors=True)
    _prune(root, state)
    return version

