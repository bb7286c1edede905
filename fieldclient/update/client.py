"""Checking for, fetching and staging a release, verified through TUF.

Everything lives under ``<data_dir>/updates/`` (not secret: a release is the same for
every device, and TUF verifies it, not the disk):

- ``metadata/``: the TUF metadata this device trusts (``root.json`` first copied from
  the app's ``resources/updates/root.json``, then advanced by ngclient along root's
  version chain; ``timestamp``, ``snapshot``, ``targets`` as last verified);
- ``partial/<sha256>.part`` with ``partial.json``: an archive being fetched, kept across
  syncs, restarts and cut connections; each sync adds at most its byte budget, in
  ``Range`` pieces written as they arrive (a cut keeps what came);
- ``staged/<version>/<archive>`` with ``staged/staged.json`` ``{"version", "archive",
  "sha256", "length", "channel", "staged_at", "action"}``: a verified archive ready to
  install (``action`` ``update``, or ``return`` when the running version was revoked;
  a return to a version still installed beside it fetches nothing: state ``installed``);
- ``state.json``: the last check's outcome, for the Settings page without a network.

What TUF refuses (ngclient): metadata not signed by the keys root names (a target signed
by the wrong key), metadata older than what the device already trusts (rollback), an
expired timestamp, snapshot or targets (freeze), a snapshot naming another targets
version than its timestamp (mix-and-match), and an archive whose length or SHA-256 is not
the signed one (arbitrary package). Each becomes an :class:`UpdateError` with a
translated message; a refusal never touches what is installed or staged.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform as _platform
import shutil
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from tuf.api import exceptions as tuf_errors
from tuf.api._payload import TargetFile
from tuf.ngclient.config import UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

import fieldclient
from fieldclient.errors import FieldClientError
from fieldclient.i18n import QT_TRANSLATE_NOOP
from fieldclient.update import install
from sync.protocol import releases

BUNDLED_ROOT = Path(__file__).resolve().parents[2] / "resources" / "updates" / "root.json"
PIECE_MIN = 64 * 1024
PIECE_MAX = 4 * 1024 * 1024
PIECE_DEFAULT = 256 * 1024
SPACE_MARGIN = 64 * 1024 * 1024  # left free beyond the archive (the install unpacks it)
TIMEOUT = (10.0, 60.0)


# -- errors the worker or IT may see ---------------------------------------------------

class UpdateError(FieldClientError):
    text = QT_TRANSLATE_NOOP("errors", "检查更新失败，下次同步时再试。")
    code = "update_failed"
    retryable = True


class UpdateNotConfigured(UpdateError):
    text = QT_TRANSLATE_NOOP(
        "errors", "本应用没有配置更新的信任根（root.json），无法检查更新。请联系信息管理员。")
    code = "not_configured"
    retryable = False


class UpdateUnreachable(UpdateError):
    text = QT_TRANSLATE_NOOP("errors", "无法从服务器获取更新，下次同步时继续。已下载的部分已保存。")
    code = "unreachable"


class UpdateTampered(UpdateError):
    text = QT_TRANSLATE_NOOP(
        "errors", "下载的更新文件与签名不符（可能被篡改），已丢弃，未安装。")
    code = "tampered"


class UpdateExpired(UpdateError):
    text = QT_TRANSLATE_NOOP(
        "errors",
        "服务器的更新签名已过期（可能是冻结攻击或服务器故障），已拒绝。请联系信息管理员。")
    code = "expired"


class UpdateRollback(UpdateError):
    text = QT_TRANSLATE_NOOP(
        "errors",
        "服务器的更新信息比本机已验证过的还旧（可能是回滚攻击），已拒绝。请联系信息管理员。")
    code = "rollback"


class UpdateWrongKey(UpdateError):
    text = QT_TRANSLATE_NOOP(
        "errors", "更新信息的签名无效或不是受信任的密钥签的，已拒绝。请联系信息管理员。")
    code = "wrong_key"


class UpdateInvalid(UpdateError):
    text = QT_TRANSLATE_NOOP("errors", "服务器的更新信息无法识别，已拒绝。")
    code = "invalid"


class UpdateNoSpace(UpdateError):
    text = QT_TRANSLATE_NOOP(
        "errors", "存储空间不足，无法下载更新：需要{needed_mb} MB，只剩{free_mb} MB。")
    code = "no_space"


# -- where things are ------------------------------------------------------------------

@dataclass(frozen=True)
class UpdatePaths:
    root: Path  # <data_dir>/updates

    @classmethod
    def of(cls, data_dir: Path) -> UpdatePaths:
        return cls(Path(data_dir) / "updates")

    @property
    def metadata(self) -> Path:
        return self.root / "metadata"

    @property
    def partial(self) -> Path:
        return self.root / "partial"

    @property
    def staged(self) -> Path:
        return self.root / "staged"

    @property
    def staged_file(self) -> Path:
        return self.staged / "staged.json"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"


def this_platform() -> str:
    """The platform name releases are published for (as ``central release publish``)."""
    return f"{_platform.system().lower()}-{_platform.machine().lower() or 'unknown'}"


def installed_folder() -> Path | None:
    """The running app's folder when it is a built bundle (PyInstaller), else None:
    the base a delta is applied to."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return None


def installed_version() -> str:
    """The running app's version (read at call time)."""
    return str(fieldclient.__version__)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_json(path: Path, value: dict[str, Any]) -> None:
    from fieldclient.fsutil import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8"))


def staged(data_dir: Path) -> dict[str, Any] | None:
    """The staged update (``staged.json``) when its archive is there, else None."""
    paths = UpdatePaths.of(data_dir)
    info = _read_json(paths.staged_file)
    if info is None or not isinstance(info.get("version"), str) \
            or not isinstance(info.get("archive"), str):
        return None
    archive = paths.staged / info["version"] / info["archive"]
    if not archive.is_file() or archive.stat().st_size != info.get("length"):
        return None
    return {**info, "path": str(archive)}


def last_check(data_dir: Path) -> dict[str, Any] | None:
    return _read_json(UpdatePaths.of(data_dir).state_file)


# -- the network -----------------------------------------------------------------------

class SessionFetcher(FetcherInterface):
    """ngclient's downloads through the device's own HTTP session (its pinned TLS
    certificate, protocol headers, timeouts); every byte counted in ``received``."""

    def __init__(self, http: requests.Session, headers: dict[str, str],
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.http = http
        self.headers = headers
        self.timeout = timeout
        self.received = 0

    def _fetch(self, url: str) -> Iterator[bytes]:
        resp = self.http.get(url, headers=self.headers, timeout=self.timeout, stream=True)
        if resp.status_code != 200:
            resp.close()
            raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {resp.status_code}",
                                               resp.status_code)
        return self._chunks(resp)

    def _chunks(self, resp: requests.Response) -> Iterator[bytes]:
        try:
            for chunk in resp.iter_content(16 * 1024):
                self.received += len(chunk)
                yield chunk
        finally:
            resp.close()


@dataclass
class Budget:
    """Bytes of archive this check may still fetch (None: no limit) and the piece size
    (one Range request)."""

    remaining: int | None = None
    piece: int = PIECE_DEFAULT

    @classmethod
    def for_link(cls, rate: float | None, seconds: float = 120.0) -> Budget:
        """What a sync may spend on an update: ``seconds`` of the link's measured rate
        (unknown: 2 MiB), pieces of about 20 s each."""
        if rate is None or rate <= 0:
            return cls(2 * 1024 * 1024, PIECE_DEFAULT)
        piece = int(min(PIECE_MAX, max(PIECE_MIN, rate * 20)))
        return cls(int(max(piece, rate * seconds)), piece)


# -- the check -------------------------------------------------------------------------

def _refusal(exc: BaseException) -> UpdateError:
    """A TUF or network failure as the error the worker sees."""
    if isinstance(exc, UpdateError):
        return exc
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return UpdateExpired()
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return UpdateRollback()
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return UpdateWrongKey()
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return UpdateTampered()
    if isinstance(exc, tuf_errors.DownloadLengthMismatchError):
        return UpdateInvalid()
    if isinstance(exc, tuf_errors.DownloadError | requests.RequestException | OSError):
        return UpdateUnreachable()
    return UpdateInvalid()


class UpdateClient:
    """One device's view of the centre's release repository.

    ``base`` is the centre's address; ``http`` the session requests go through (the sync
    transport's, with its pinned certificate); ``headers`` what every request carries
    (the protocol level)."""

    def __init__(self, data_dir: Path, base: str, http: requests.Session,
                 headers: dict[str, str] | None = None, *,
                 bundled_root: Path = BUNDLED_ROOT, timeout: tuple[float, float] = TIMEOUT,
                 should_stop: Callable[[], bool] | None = None,
                 base_dir: Path | None = None) -> None:
        self.paths = UpdatePaths.of(data_dir)
        self.base_dir = base_dir if base_dir is not None else installed_folder()
        self.base = base.rstrip("/")
        self.http = http
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.bundled_root = bundled_root
        self.should_stop = should_stop or (lambda: False)
        self.fetcher = SessionFetcher(http, self.headers, timeout)
        self.archive_bytes = 0  # archive bytes fetched by this client

    @property
    def bytes_received(self) -> int:
        return self.fetcher.received + self.archive_bytes

    def _updater(self) -> Updater:
        meta = self.paths.metadata
        meta.mkdir(parents=True, exist_ok=True)
        if not (meta / "root.json").is_file():
            if not self.bundled_root.is_file():
                raise UpdateNotConfigured()
            shutil.copyfile(self.bundled_root, meta / "root.json")
        return Updater(
            metadata_dir=str(meta),
            metadata_base_url=self.base + releases.UPDATES_METADATA_PATH + "/",
            target_base_url=self.base + releases.UPDATES_TARGETS_PATH + "/",
            fetcher=self.fetcher,
            config=UpdaterConfig(),
            bootstrap=None,  # the root this device trusts: metadata/root.json
        )

    def _releases(self, updater: Updater) -> tuple[list[tuple[releases.Release, TargetFile]],
                                                   dict[tuple[Any, ...], tuple[str, TargetFile]]]:
        """The releases and the deltas between them (by (from, to, platform)) the
        verified targets metadata names."""
        updater.refresh()
        # The verified top-level targets (ngclient keeps them in its trusted set; it has
        # no public listing of every target): releases are top-level targets only.
        targets = updater._trusted_set.targets.targets
        found = []
        deltas: dict[tuple[Any, ...], tuple[str, TargetFile]] = {}
        for name, target in targets.items():
            try:
                delta = releases.delta_info(name)
                if delta is not None:
                    deltas[delta] = (name, target)
                    continue
                info = releases.release_info(name, target.length,
                                             target.unrecognized_fields.get("custom"))
            except ValueError:
                continue
            found.append((info, target))
        return found, deltas

    def check(self, channel: str, grids: list[int] | tuple[int, ...],
              budget: Budget | None = None, download: bool = True,
              current: str | None = None, platform: str | None = None) -> dict[str, Any]:
        """Refresh the signed metadata, choose the release for this device and fetch it
        within ``budget`` (staged once complete and verified). Never raises: the outcome,
        an error among it, is returned and kept in ``state.json``."""
        current = current or installed_version()
        platform = platform or this_platform()
        result: dict[str, Any] = {
            "checked_at": time.time(), "installed": current, "channel": channel,
            "platform": platform, "action": "none", "target": None, "state": "up_to_date",
            "downloaded": 0, "error": None, "message": None}
        try:
            now = releases.parse_version(current)
        except releases.InvalidVersion:
            now = (0, 0, 0, 0)
        try:
            found, deltas = self._releases(self._updater())
            decision = releases.choose([r for r, _ in found], now, channel, grids, platform)
            result["action"] = decision.action
            result["current_revoked"] = decision.current_revoked
            if decision.target is not None:
                target = next(t for r, t in found if r.name == decision.target.name)
                result["target"] = {**decision.target.as_dict(),
                                    "sha256": target.hashes.get("sha256")}
                delta = deltas.get((now, decision.target.version, platform)) \
                    if decision.action == "update" else None
                if decision.action == "return" and install.has_version(
                        install.install_root(), decision.target.version_text):
                    result["state"] = "installed"  # still here: nothing to fetch
                else:
                    result["state"] = self._fetch(decision, target, channel,
                                                  budget or Budget(), download, result, delta)
            elif decision.action == "return":
                result["state"] = "revoked"  # nothing older to return to
        except Exception as exc:  # every failure is an answer, never a crash of the sync
            error = _refusal(exc)
            result["state"] = "error"
            result["error"] = error.code
            result["message"] = error.message()
            result["detail"] = str(exc)[:300]
        finally:
            _write_json(self.paths.state_file, result)
        return result

    # -- fetching --------------------------------------------------------------------
    def _fetch(self, decision: releases.Decision, target: TargetFile, channel: str,
               budget: Budget, download: bool, result: dict[str, Any],
               delta: tuple[str, TargetFile] | None = None) -> str:
        """Fetch the release: its delta from the installed version when there is one
        smaller than the archive and the installed folder is at hand (a delta that
        cannot be applied falls back to the archive), else the archive."""
        assert decision.target is not None
        release = decision.target
        sha = str(target.hashes.get("sha256", ""))
        already = staged(self.paths.root.parent)
        if already is not None and already.get("target_sha256") == sha:
            result["staged"] = already
            return "staged"
        use_delta = (delta is not None and self.base_dir is not None
                     and delta[1].length < target.length
                     and not (self.paths.partial / f"{sha}.delta-failed").exists())
        name, wanted = delta if use_delta and delta is not None else (release.name, target)
        want_sha = str(wanted.hashes.get("sha256", ""))
        part = self.paths.partial / f"{want_sha}.part"
        result["via"] = "delta" if use_delta else "archive"
        result["downloaded"] = part.stat().st_size if part.is_file() else 0
        if not download:
            return "available"
        done = self._download(name, wanted, budget, result)
        if done is None:
            return "downloading"
        if use_delta:
            try:
                built = self._rebuild(done, release)
            except (ValueError, OSError, tarfile.TarError, EOFError) as exc:
                done.unlink(missing_ok=True)  # the installed folder is not what it says
                (self.paths.partial / f"{sha}.delta-failed").write_text(str(exc)[:300])
                result["delta_failed"] = str(exc)[:300]
                return self._fetch(decision, target, channel, budget, download, result)
            done.unlink(missing_ok=True)
            done = built
        result["staged"] = self._stage(done, release, sha, channel, decision.action,
                                       result["via"])
        return "staged"

    def _download(self, name: str, target: TargetFile, budget: Budget,
                  result: dict[str, Any]) -> Path | None:
        """Go on fetching target ``name`` within ``budget``; its verified file once it is
        complete (a file that does not verify is dropped: UpdateTampered)."""
        sha = str(target.hashes.get("sha256", ""))
        part = self.paths.partial / f"{sha}.part"
        have = part.stat().st_size if part.is_file() else 0
        self._make_room(target.length - have)
        self._forget_other_partials(sha)
        _write_json(self.paths.partial / "partial.json",
                    {"name": name, "sha256": sha, "length": target.length})
        url = f"{self.base}{releases.UPDATES_TARGETS_PATH}/{sha}.{name}"
        have = self._pieces(url, part, have, target.length, budget)
        result["downloaded"] = have
        if have < target.length:
            return None
        with open(part, "rb") as fh:
            try:
                target.verify_length_and_hashes(fh)
            except tuf_errors.LengthOrHashMismatchError:
                part.unlink(missing_ok=True)
                raise UpdateTampered() from None
        return part

    def _rebuild(self, delta: Path, release: releases.Release) -> Path:
        """The new version's archive from the installed folder and a verified delta:
        every file checked against the delta's manifest (ValueError when one is not
        what it lists). Written as a deterministic tar.gz beside the delta."""
        assert self.base_dir is not None
        out_path = delta.with_name(delta.name + ".rebuilt")
        with tarfile.open(delta, "r:gz") as index:
            member = index.getmember(releases.DELTA_MANIFEST)
            raw = index.extractfile(member)
            if raw is None or member.size > 64 * 1024 * 1024:
                raise ValueError("the delta has no readable manifest")
            entries = releases.check_manifest(json.loads(raw.read()))
        top = {e["path"].split("/", 1)[0] for e in entries}
        # the changed files follow in the manifest's order: read them as a stream
        with tarfile.open(delta, "r|gz") as patch, open(out_path, "wb") as out_raw, \
                gzip.GzipFile(filename="", fileobj=out_raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as out:
            changed = iter(patch)
            for e in entries:
                info = tarfile.TarInfo(e["path"])
                info.mode = e["mode"] & 0o7777
                if e["type"] == "dir":
                    info.type = tarfile.DIRTYPE
                    out.addfile(info)
                    continue
                if e["type"] == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, e["link"]
                    out.addfile(info)
                    continue
                info.size = e["size"]
                if e["from_base"]:
                    local = self._installed_file(e["path"], top)
                    if not local.is_file() or local.stat().st_size != e["size"]:
                        raise ValueError(f"{e['path']} is not the file the delta lists")
                    source: Any = open(local, "rb")
                else:
                    item = next(changed, None)
                    if item is None or item.name != releases.DELTA_FILES + e["path"]:
                        raise ValueError(f"{e['path']} is missing from the delta")
                    source = patch.extractfile(item)
                    if source is None:
                        raise ValueError(f"{e['path']} is missing from the delta")
                with source:
                    checked = _Hashing(source)
                    out.addfile(info, checked)
                    if checked.digest() != e["sha256"] or checked.count != e["size"]:
                        raise ValueError(f"{e['path']} is not the file the delta lists")
        return out_path

    def _installed_file(self, path: str, top: set[str]) -> Path:
        """Where a file of the archive is in the installed folder (the archive's one top
        folder is the installed folder itself)."""
        assert self.base_dir is not None
        parts = path.split("/")
        if len(top) == 1 and len(parts) > 1:
            parts = parts[1:]
        return self.base_dir.joinpath(*parts)

    def _make_room(self, needed: int) -> None:
        self.paths.partial.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.paths.partial).free
        if free < needed + SPACE_MARGIN:
            raise UpdateNoSpace(needed_mb=round((needed + SPACE_MARGIN) / 2**20),
                                free_mb=round(free / 2**20))

    def _forget_other_partials(self, sha: str) -> None:
        """A newer release replaced the one being fetched: its bytes are of no use."""
        for old in self.paths.partial.glob("*.part"):
            if old.name != f"{sha}.part":
                old.unlink(missing_ok=True)

    def _pieces(self, url: str, part: Path, have: int, length: int, budget: Budget) -> int:
        """Append ``Range`` pieces to ``part`` until complete, the budget is spent or the
        connection fails (what arrived before a cut is kept)."""
        if have > length:
            part.unlink(missing_ok=True)
            have = 0
        headers = {**self.headers, "Accept-Encoding": "identity"}
        with open(part, "ab") as out:
            while have < length:
                if self.should_stop():
                    break
                piece = min(budget.piece, length - have)
                if budget.remaining is not None:
                    piece = min(piece, budget.remaining)
                    if piece <= 0:
                        break
                end = have + piece - 1
                resp = self.http.get(url, headers={**headers, "Range": f"bytes={have}-{end}"},
                                     timeout=self.timeout, stream=True)
                try:
                    if resp.status_code == 206:
                        if not resp.headers.get("Content-Range", "").startswith(
                                f"bytes {have}-"):
                            raise UpdateInvalid()
                    elif resp.status_code == 200 and have == 0:
                        pass  # a server that ignores Range: take the piece's worth
                    elif resp.status_code in (404, 410):
                        raise UpdateInvalid()
                    else:
                        raise UpdateUnreachable()
                    got = 0
                    try:
                        for chunk in resp.iter_content(16 * 1024):
                            chunk = chunk[: piece - got]
                            out.write(chunk)
                            got += len(chunk)
                            if got >= piece:
                                break
                    finally:
                        out.flush()
                        os.fsync(out.fileno())
                        have += got
                        self.archive_bytes += got
                        if budget.remaining is not None:
                            budget.remaining -= got
                    if got == 0:
                        raise UpdateUnreachable()
                finally:
                    resp.close()
        return have

    def _stage(self, archive_file: Path, release: releases.Release, target_sha: str,
               channel: str, action: str, via: str) -> dict[str, Any]:
        """The verified archive into ``staged/<version>/`` and ``staged.json`` written
        last (the install step trusts only a complete stage); older stages removed.
        ``sha256`` is the staged file's; ``target_sha256`` the signed archive's (the same
        unless it was rebuilt from a delta, every file of it checked)."""
        folder = self.paths.staged / release.version_text
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / release.name
        os.replace(archive_file, archive)
        digest = hashlib.sha256()
        with open(archive, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        info = {"version": release.version_text, "archive": release.name,
                "sha256": digest.hexdigest(), "length": archive.stat().st_size,
                "channel": channel, "staged_at": time.time(), "action": action,
                "target_sha256": target_sha, "via": via}
        _write_json(self.paths.staged_file, info)
        # last: the install step (fieldclient.update.install) reads the stage from its
        # own folder, and trusts only one whose staged.json is there
        _write_json(folder / "staged.json", info)
        for other in self.paths.staged.iterdir():
            if other.is_dir() and other.name != release.version_text:
                shutil.rmtree(other, ignore_errors=True)
        (self.paths.partial / "partial.json").unlink(missing_ok=True)
        for marker in self.paths.partial.glob("*.delta-failed"):
            marker.unlink(missing_ok=True)
        return {**info, "path": str(archive)}


class _Hashing:
    """A file read through, its bytes counted and hashed (tarfile reads exactly
    ``size`` bytes: a shorter file raises, a longer one shows in the hash)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.source.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def digest(self) -> str:
        return self.hash.hexdigest()
