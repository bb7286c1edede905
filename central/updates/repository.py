"""Signed release updates: the centre's TUF repository (The Update Framework).

Four roles, each with its own Ed25519 key, threshold 1 (one IT administrator signs):

========== ============ ===================================== =========================
role       expires      key kept                              signs
========== ============ ===================================== =========================
root       1 year       offline, ``--keys DIR`` (USB stick)   the keys of every role
targets    3 months     offline, ``--keys DIR``               each release's hash, size
                                                              and rollout (custom)
snapshot   7 days       online: ``server_keys`` (sealed)      the targets version
timestamp  1 day        online: ``server_keys`` (sealed)      the snapshot version
========== ============ ===================================== =========================

The root and targets private keys never enter the centre's database: ``central release
keys init --keys DIR`` writes them to DIR (0600), and every command that changes what is
released (publish, promote, revoke) reads the targets key from there. The snapshot and
timestamp keys are the centre's own (sealed at rest like its command key, re-sealed by
``central keys rotate``), so ``central serve`` re-signs them before they expire
(:meth:`Repository.refresh_online`: a timestamp with less than half its day left, a
snapshot with less than half its week). A stolen online key lets an attacker at most
replay what was already signed until it expires (freeze), never ship a build: that needs
the targets key; a lost or leaked targets key is replaced by re-signing root with the
root key (root's version chain lets devices follow).

The repository uses consistent snapshots: metadata is written as ``<version>.<role>.json``
(timestamp as ``timestamp.json``) and each archive as ``<sha256>.<name>``, so a device
reading while IT publishes always sees one consistent state. Files live under the
update directory (``--update-dir``, default ``<sqlite file>.updates`` or
``./central-updates``): ``metadata/`` and ``targets/``, served read-only by
``central serve`` (``/api/v1/updates/...``; no authentication: everything in it is
signed, and the archives are the same for every device).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import platform as _platform
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from securesystemslib.signer import CryptoSigner
from sqlalchemy import Engine, insert, select, update
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from central import db
from sync.protocol import releases

EXPIRY = {
    Root.type: timedelta(days=365),
    Targets.type: timedelta(days=90),
    Snapshot.type: timedelta(days=7),
    Timestamp.type: timedelta(days=1),
}
OFFLINE_ROLES = (Root.type, Targets.type)
ONLINE_ROLES = (Snapshot.type, Timestamp.type)
KEY_FILES = {Root.type: "root.pem", Targets.type: "targets.pem"}
_SERVER_KEY = "tuf-{role}"  # server_keys.name of an online key
ENV_UPDATE_DIR = "GRIDFIELD_CENTRAL_UPDATE_DIR"



class ReleaseError(Exception):
    """A release command that cannot be carried out; nothing was changed."""


def default_update_dir(db_url: str) -> Path:
    """``$GRIDFIELD_CENTRAL_UPDATE_DIR``, else ``<sqlite file>.updates`` beside a SQLite
    database, else ``./central-updates``."""
    env = os.environ.get(ENV_UPDATE_DIR)
    if env:
        return Path(env)
    path = db.sqlite_path(db_url)
    if path is not None:
        return Path(str(path) + ".updates")
    return Path("central-updates")


def this_platform() -> str:
    """The platform name of a build made here (``linux-x86_64``, ``windows-amd64``)."""
    return f"{_platform.system().lower()}-{_platform.machine().lower() or 'unknown'}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")



def offline_key(path: Path, missing: str) -> CryptoSigner:
    """The Ed25519 private key IT keeps offline at ``path`` (PEM) as a signer;
    :class:`ReleaseError` with ``missing`` when there is no such file, or saying why
    the file is no usable key."""
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except FileNotFoundError:
        raise ReleaseError(missing) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ReleaseError(f"{path} is not a usable private key: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ReleaseError(f"{path} is not an Ed25519 key")
    return CryptoSigner(private)


class Repository:
    """The TUF repository of one centre: ``update_dir`` on disk, online keys in
    ``engine``'s ``server_keys``."""

    def __init__(self, engine: Engine, update_dir: Path) -> None:
        self.engine = engine
        self.root_dir = Path(update_dir)
        self.metadata_dir = self.root_dir / "metadata"
        self.targets_dir = self.root_dir / "targets"
        self._serializer = JSONSerializer(compact=False)

    # -- state -------------------------------------------------------------------------
    def initialized(self) -> bool:
        return (self.metadata_dir / "timestamp.json").is_file()

    def _require(self) -> None:
        if not self.initialized():
            raise ReleaseError(
                f"no update repository in {self.root_dir}: run `central release keys init "
                "--keys DIR` first (or give --update-dir)")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (a command, a server re-signing the timestamp)."""
        self.root_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root_dir / ".lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def load(self, role: str) -> Metadata[Any]:
        """The newest signed metadata of ``role``."""
        try:
            return Metadata.from_file(str(self.metadata_dir / f"{role}.json"))
        except FileNotFoundError:
            raise ReleaseError(f"{role}.json is missing from {self.metadata_dir}") from None

    def _write(self, md: Metadata[Any]) -> None:
        """Versioned file first (consistent snapshot), then the unversioned copy; each
        written beside and renamed over, so a reader never sees half a file."""
        role = md.signed.type
        data = md.to_bytes(self._serializer)
        names = [f"{role}.json"] if role == Timestamp.type else [
            f"{md.signed.version}.{role}.json", f"{role}.json"]
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            _atomic(self.metadata_dir / name, data)

    # -- keys --------------------------------------------------------------------------
    def _online_signer(self, role: str, create: bool = False) -> CryptoSigner:
        name = _SERVER_KEY.format(role=role)
        table = db.server_keys
        with self.engine.begin() as conn:
            row = conn.execute(select(table.c.private_key).where(table.c.name == name)).first()
            if row is None:
                if not create:
                    raise ReleaseError(f"the centre has no {role} key: run `central release "
                                       "keys init` first")
                key = Ed25519PrivateKey.generate()
                raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
                signer = CryptoSigner(key)
                conn.execute(insert(table).values(
                    name=name, private_key=raw.hex(), public_key=signer.public_key.keyid,
                    created_at=db.now_iso()))
                return signer
        return CryptoSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(str(row[0]))))

    def _replace_online_key(self, role: str) -> CryptoSigner:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        signer = CryptoSigner(key)
        with self.engine.begin() as conn:
            conn.execute(update(db.server_keys)
                         .where(db.server_keys.c.name == _SERVER_KEY.format(role=role))
                         .values(private_key=raw.hex(), public_key=signer.public_key.keyid,
                                 created_at=db.now_iso()))
        return signer

    def _offline_signer(self, keys_dir: Path, role: str, root: Root) -> CryptoSigner:
        path = Path(keys_dir) / KEY_FILES[role]
        signer = offline_key(path, f"no {role} key in {keys_dir} ({KEY_FILES[role]}): give "
                                   "the directory `central release keys init` wrote")
        if signer.public_key.keyid not in root.roles[role].keyids:
            raise ReleaseError(f"the {role} key in {path} is not the one this repository's "
                               "root trusts: wrong key directory")
        return signer

    def init_keys(self, keys_dir: Path) -> dict[str, Any]:
        """Four new keys and the first signed metadata (no release yet). Refused when the
        repository exists: its root key would be lost to every device."""
        keys_dir = Path(keys_dir)
        with self._locked():
            if self.initialized() or (self.metadata_dir / "root.json").exists():
                raise ReleaseError(f"{self.root_dir} already holds an update repository")
            for role in (*OFFLINE_ROLES, "config"):
                if (keys_dir / KEY_FILES.get(role, f"{role}.pem")).exists():
                    raise ReleaseError(f"{keys_dir / KEY_FILES.get(role, f'{role}.pem')} "
                                       "exists already: give an empty directory")
            keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            signers: dict[str, CryptoSigner] = {}
            for role in OFFLINE_ROLES:
                key = Ed25519PrivateKey.generate()
                pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
                _atomic(keys_dir / KEY_FILES[role], pem, mode=0o600)
                signers[role] = CryptoSigner(key)
            for role in ONLINE_ROLES:
                signers[role] = self._online_signer(role, create=True)
            now = _now()
            root = Root(version=1, expires=now + EXPIRY[Root.type], consistent_snapshot=True)
            for role, signer in signers.items():
                root.add_key(signer.public_key, role)
                root.roles[role].threshold = 1
            root_md = Metadata(root)
            root_md.sign(signers[Root.type])
            self._write(root_md)
            targets_md = Metadata(Targets(version=1, expires=now + EXPIRY[Targets.type]))
            targets_md.sign(signers[Targets.type])
            self._write(targets_md)
            self._sign_snapshot(targets_md.signed.version, 1, signers[Snapshot.type])
            self._sign_timestamp(1, 1, signers[Timestamp.type])
            self.targets_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.metadata_dir / "1.root.json", keys_dir / "root.json")
        from central.updates import config  # signed configuration: the delegated role

        made = config.rotate_config_key(self, keys_dir)
        return {"update_dir": str(self.root_dir), "keys_dir": str(keys_dir),
                "root": str(keys_dir / "root.json"),
                "keyids": {**{role: s.public_key.keyid for role, s in signers.items()},
                           "config": made["keyid"]}}

    def rotate_online_keys(self, keys_dir: Path) -> dict[str, str]:
        """New snapshot and timestamp keys (a leak of the centre's database): root
        re-signed with the offline root key, so devices trust only the new ones."""
        with self._locked():
            self._require()
            root_md = self.load(Root.type)
            root = root_md.signed
            root_signer = self._offline_signer(keys_dir, Root.type, root)
            new: dict[str, CryptoSigner] = {}
            for role in ONLINE_ROLES:
                for keyid in list(root.roles[role].keyids):
                    root.revoke_key(keyid, role)
                new[role] = self._replace_online_key(role)
                root.add_key(new[role].public_key, role)
            root.version += 1
            root.expires = _now() + EXPIRY[Root.type]
            root_md.signatures.clear()
            root_md.sign(root_signer)
            self._write(root_md)
            snap = self.load(Snapshot.type).signed
            ts = self.load(Timestamp.type).signed
            self._sign_snapshot(self.load(Targets.type).signed.version, snap.version + 1,
                                new[Snapshot.type])
            self._sign_timestamp(snap.version + 1, ts.version + 1, new[Timestamp.type])
        return {role: s.public_key.keyid for role, s in new.items()}

    # -- online roles ------------------------------------------------------------------
    def _sign_snapshot(self, targets_version: int, version: int, signer: CryptoSigner) -> None:
        meta = {"targets.json": MetaFile(version=targets_version)}
        config = self.metadata_dir / "config.json"  # the delegated config role, when made
        if config.is_file():
            meta["config.json"] = MetaFile(version=Metadata.from_file(str(config)).signed.version)
        snap = Snapshot(version=version, expires=_now() + EXPIRY[Snapshot.type], meta=meta)
        md = Metadata(snap)
        md.sign(signer)
        self._write(md)

    def _sign_timestamp(self, snapshot_version: int, version: int,
                        signer: CryptoSigner) -> None:
        ts = Timestamp(version=version, expires=_now() + EXPIRY[Timestamp.type],
                       snapshot_meta=MetaFile(version=snapshot_version))
        md = Metadata(ts)
        md.sign(signer)
        self._write(md)

    def _new_snapshot(self, targets_version: int) -> None:
        snap = self.load(Snapshot.type).signed
        ts = self.load(Timestamp.type).signed
        self._sign_snapshot(targets_version, snap.version + 1,
                            self._online_signer(Snapshot.type))
        self._sign_timestamp(snap.version + 1, ts.version + 1,
                             self._online_signer(Timestamp.type))

    def refresh_online(self, now: datetime | None = None) -> list[str]:
        """Re-sign the snapshot and timestamp when less than half their life is left
        (``central serve`` calls this at start and every few minutes). Returns the roles
        re-signed."""
        if not self.initialized():
            return []
        now = now or _now()
        done: list[str] = []
        with self._locked():
            snap = self.load(Snapshot.type).signed
            ts = self.load(Timestamp.type).signed
            snapshot_version = snap.version
            if snap.expires - now < EXPIRY[Snapshot.type] / 2:
                snapshot_version += 1
                self._sign_snapshot(snap.meta["targets.json"].version, snapshot_version,
                                    self._online_signer(Snapshot.type))
                done.append(Snapshot.type)
            if done or ts.expires - now < EXPIRY[Timestamp.type] / 2:
                self._sign_timestamp(snapshot_version, ts.version + 1,
                                     self._online_signer(Timestamp.type))
                done.append(Timestamp.type)
        return done

    def expiries(self) -> dict[str, str]:
        found = {role: _iso(self.load(role).signed.expires) for role in EXPIRY}
        if (self.metadata_dir / "config.json").is_file():
            found["config"] = _iso(self.load("config").signed.expires)
        return found

    # -- releases ----------------------------------------------------------------------
    def releases(self) -> list[releases.Release]:
        """Every release the signed targets name, oldest version first."""
        self._require()
        found = []
        for name, target in self.load(Targets.type).signed.targets.items():
            try:
                found.append(releases.release_info(name, target.length,
                                                   target.unrecognized_fields.get("custom")))
            except ValueError:
                continue
        return sorted(found, key=lambda r: r.version)

    def _grids_under(self, districts: list[int]) -> list[int] | None:
        """The grids at or under these org units (None: every district)."""
        if not districts:
            return None
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.org_units.c.id, db.org_units.c.parent_id,
                                       db.org_units.c.level)).all()
        children: dict[int | None, list[int]] = {}
        level = {}
        for uid, parent, lvl in rows:
            children.setdefault(parent, []).append(uid)
            level[uid] = lvl
        unknown = [d for d in districts if d not in level]
        if unknown:
            raise ReleaseError(f"no org unit {', '.join(map(str, unknown))} at this centre")
        grids: set[int] = set()
        todo = list(districts)
        while todo:
            uid = todo.pop()
            if level[uid] == "grid":
                grids.add(uid)
            todo.extend(children.get(uid, []))
        return sorted(grids)

    def publish(self, dist: Path, version: str, keys_dir: Path, channel: str = "stable",
                districts: list[int] | None = None, platform: str | None = None
                ) -> dict[str, Any]:
        """Sign ``dist`` (the tar.gz of the built folder, or the folder, tarred here) as
        release ``version`` for ``channel`` and ``districts``."""
        parsed = releases.parse_version(version)
        if channel not in releases.CHANNELS:
            raise ReleaseError(f"channel must be one of {', '.join(releases.CHANNELS)}")
        platform = platform or _platform_of(Path(dist)) or this_platform()
        if not releases.PLATFORM_RE.match(platform):
            raise ReleaseError(f"not a platform name: {platform!r}")
        districts = sorted(set(districts or []))
        grids = self._grids_under(districts)
        name = releases.target_name(releases.version_text(parsed), platform)
        with self._locked():
            self._require()
            targets_md = self.load(Targets.type)
            root = self.load(Root.type).signed
            signer = self._offline_signer(keys_dir, Targets.type, root)
            for existing in self.releases():
                if existing.version == parsed and existing.platform == platform:
                    raise ReleaseError(f"version {existing.version_text} for {platform} is "
                                       "published already; a new build needs a new version")
            self.targets_dir.mkdir(parents=True, exist_ok=True)
            staged = _archive(Path(dist), self.targets_dir)
            try:
                length = staged.stat().st_size
                if length > releases.MAX_RELEASE_BYTES:
                    raise ReleaseError("the archive is larger than 2 GiB")
                target = TargetFile.from_file(name, str(staged), ["sha256"])
                digest = target.hashes["sha256"]
                os.replace(staged, self.targets_dir / f"{digest}.{name}")
            finally:
                staged.unlink(missing_ok=True)
            target.unrecognized_fields["custom"] = {"gridfield": {
                "version": releases.version_text(parsed), "channel": channel,
                "districts": districts, "grids": grids, "platform": platform,
                "revoked": False, "published_at": _iso(_now())}}
            changed = {name: target, **self._deltas(targets_md.signed, parsed, platform,
                                                    self.targets_dir / f"{digest}.{name}")}
            self._sign_targets(targets_md, signer, changed)
        result = self._release_dict(name)
        result["deltas"] = {n: t.length for n, t in changed.items() if n != name}
        return result

    def _deltas(self, targets: Targets, version: releases.Version, platform: str,
                archive: Path) -> dict[str, TargetFile]:
        """Per-file patches to ``archive`` from the newest earlier release of each
        channel (the versions devices are likely on), kept when under half its size."""
        newest: dict[str, releases.Release] = {}
        for rel in self.releases():
            if rel.platform == platform and not rel.revoked and rel.version < version:
                if rel.channel not in newest or rel.version > newest[rel.channel].version:
                    newest[rel.channel] = rel
        out: dict[str, TargetFile] = {}
        for base in {r.name: r for r in newest.values()}.values():
            old = self.targets_dir / f"{targets.targets[base.name].hashes['sha256']}.{base.name}"
            if not old.is_file():
                continue
            name = releases.delta_name(base.version_text, releases.version_text(version),
                                       platform)
            made = _make_delta(old, archive, self.targets_dir)
            if made is None:
                continue
            try:
                if made.stat().st_size * 2 >= archive.stat().st_size:
                    continue  # not worth it: devices fetch the full archive
                target = TargetFile.from_file(name, str(made), ["sha256"])
                os.replace(made, self.targets_dir / f"{target.hashes['sha256']}.{name}")
            finally:
                made.unlink(missing_ok=True)
            target.unrecognized_fields["custom"] = {"gridfield_delta": {
                "from": base.version_text, "to": releases.version_text(version),
                "platform": platform}}
            out[name] = target
        return out

    def _sign_targets(self, targets_md: Metadata[Any], signer: CryptoSigner,
                      changed: dict[str, TargetFile]) -> None:
        targets: Targets = targets_md.signed
        targets.targets.update(changed)
        targets.version += 1
        targets.expires = _now() + EXPIRY[Targets.type]
        targets_md.signatures.clear()
        targets_md.sign(signer)
        self._write(targets_md)
        self._new_snapshot(targets.version)

    def _find(self, targets: Targets, version: str) -> list[tuple[str, TargetFile]]:
        wanted = releases.parse_version(version)
        found = []
        for name, target in targets.targets.items():
            try:
                info = releases.release_info(name, target.length,
                                             target.unrecognized_fields.get("custom"))
            except ValueError:
                continue
            if info.version == wanted:
                found.append((name, target))
        if not found:
            raise ReleaseError(f"no release {version} in this repository")
        return found

    def _change(self, version: str, keys_dir: Path, **fields: Any) -> list[dict[str, Any]]:
        with self._locked():
            self._require()
            targets_md = self.load(Targets.type)
            signer = self._offline_signer(keys_dir, Targets.type, self.load(Root.type).signed)
            changed = {}
            for name, target in self._find(targets_md.signed, version):
                info = dict(target.unrecognized_fields["custom"]["gridfield"])
                info.update(fields)
                target.unrecognized_fields["custom"] = {"gridfield": info}
                changed[name] = target
            self._sign_targets(targets_md, signer, changed)
        return [self._release_dict(name) for name in changed]

    def promote(self, version: str, keys_dir: Path, channel: str = "stable",
                districts: list[int] | None = None) -> list[dict[str, Any]]:
        """Widen a release's rollout: another channel (pilot -> stable) and/or other
        districts (none: every district)."""
        if channel not in releases.CHANNELS:
            raise ReleaseError(f"channel must be one of {', '.join(releases.CHANNELS)}")
        districts = sorted(set(districts or []))
        return self._change(version, keys_dir, channel=channel, districts=districts,
                            grids=self._grids_under(districts))

    def revoke(self, version: str, keys_dir: Path) -> list[dict[str, Any]]:
        """Withdraw a release: no device takes it, devices on it return to the newest
        release before it (their check says so)."""
        return self._change(version, keys_dir, revoked=True, revoked_at=_iso(_now()))

    def _release_dict(self, name: str) -> dict[str, Any]:
        target = self.load(Targets.type).signed.targets[name]
        info = releases.release_info(name, target.length,
                                     target.unrecognized_fields.get("custom")).as_dict()
        info["sha256"] = target.hashes["sha256"]
        return info

    def listing(self) -> dict[str, Any]:
        self._require()
        rows = []
        targets = self.load(Targets.type).signed
        for rel in self.releases():
            row = rel.as_dict()
            row["sha256"] = targets.targets[rel.name].hashes["sha256"]
            rows.append(row)
        from central.updates import config

        return {"releases": rows, "expires": self.expiries(),
                "versions": {role: self.load(role).signed.version for role in EXPIRY},
                "config": config.listing(self)}

    # -- serving -----------------------------------------------------------------------
    def metadata_file(self, name: str) -> Path | None:
        path = self.metadata_dir / name
        return path if path.is_file() else None

    def target_file(self, name: str) -> Path | None:
        path = self.targets_dir / name
        return path if path.is_file() else None


def _members(archive: Path) -> Iterator[tuple[tarfile.TarInfo, Any]]:
    """Each entry of a tar.gz in order, a regular file's content spooled (memory: at
    most 8 MiB of it, the rest on disk) with its SHA-256."""
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            if not member.isreg():
                yield member, None
                continue
            spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
            digest = hashlib.sha256()
            source = tar.extractfile(member)
            assert source is not None
            while block := source.read(1 << 20):
                digest.update(block)
                spool.write(block)
            spool.seek(0)
            with spool:
                yield member, (digest.hexdigest(), spool)


def _make_delta(old: Path, new: Path, into: Path) -> Path | None:
    """A per-file patch from archive ``old`` to ``new`` (releases.DELTA_RE's format), or
    None when either archive cannot be read as one."""
    try:
        before = {m.name: found[0] for m, found in _members(old) if found is not None}
    except (tarfile.TarError, OSError, EOFError):
        return None
    fd, name = tempfile.mkstemp(prefix=".delta-", dir=into)
    os.close(fd)
    path = Path(name)
    entries: list[dict[str, Any]] = []
    try:
        with open(path, "wb") as raw, _gzip_writer(raw) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as out:
            for member, found in _members(new):
                entry: dict[str, Any] = {"path": member.name, "mode": member.mode}
                if found is not None:
                    sha, spool = found
                    same = before.get(member.name) == sha
                    entry.update(type="file", size=member.size, sha256=sha, from_base=same)
                    if not same:
                        info = tarfile.TarInfo(releases.DELTA_FILES + member.name)
                        info.size, info.mode = member.size, 0o644
                        out.addfile(info, spool)
                elif member.isdir():
                    entry["type"] = "dir"
                elif member.issym():
                    entry.update(type="symlink", link=member.linkname)
                else:  # hard links, devices: not in a PyInstaller folder
                    raise tarfile.TarError(f"{member.name}: no delta for this kind of entry")
                entries.append(entry)
            body = json.dumps({"entries": entries}, separators=(",", ":")).encode()
            info = tarfile.TarInfo(releases.DELTA_MANIFEST)
            info.size, info.mode = len(body), 0o644
            out.addfile(info, io.BytesIO(body))
    except (tarfile.TarError, OSError, EOFError):
        path.unlink(missing_ok=True)
        return None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if not entries:
        path.unlink(missing_ok=True)
        return None
    return path


def _platform_of(dist: Path) -> str | None:
    """The platform in an archive named as ``make dist`` names it."""
    match = releases.TARGET_RE.match(dist.name)
    return match.group(2) if match else None


def _archive(dist: Path, into: Path) -> Path:
    """A temporary copy of the release archive in ``into``: the tar.gz as given (checked
    to be one), or the built folder tarred with sorted names and zeroed times, so the
    same folder gives the same archive."""
    fd, tmp_name = tempfile.mkstemp(prefix=".publish-", dir=into)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if dist.is_dir():
            with open(tmp, "wb") as raw, _gzip_writer(raw) as gz, \
                    tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for path in sorted(dist.rglob("*")):
                    info = tar.gettarinfo(str(path), str(path.relative_to(dist.parent)))
                    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                    if info.isreg():
                        with open(path, "rb") as fh:
                            tar.addfile(info, fh)
                    else:
                        tar.addfile(info)
        elif dist.is_file():
            try:
                with tarfile.open(dist, "r:gz") as tar:
                    if tar.next() is None:
                        raise ReleaseError(f"{dist} is an empty archive")
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise ReleaseError(f"{dist} is not a tar.gz archive: {exc}") from None
            shutil.copyfile(dist, tmp)
        else:
            raise ReleaseError(f"no such file or folder: {dist}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


@contextmanager
def _gzip_writer(raw: io.BufferedWriter) -> Iterator[Any]:
    import gzip

    with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        yield gz


def _atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
