"""Release archives for the install tests: small real bundles made here, and copies of
the real `make dist` bundle restamped as other versions.

A small bundle's app is a real executable (a Python script with its shebang) that, like
the real app, writes the launcher's start confirmation and exits, or fails to start in
one of the ways the launcher must catch: a crash (SIGSEGV), exit 1, or a hang.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import time
from pathlib import Path

from fieldclient.storage.migrations import LATEST_VERSION

APP_SCRIPT = '''#!{python}
import json, os, signal, sys, time
from pathlib import Path

VERSION = {version!r}
BEHAVIOUR = {behaviour!r}
args = sys.argv[1:]
data = Path(args[args.index("--data-dir") + 1]) if "--data-dir" in args else None
log = os.environ.get("GRIDFIELD_TEST_LOG")
started = os.environ.get("GRIDFIELD_STARTED_FILE")
if log:
    with open(log, "a") as fh:
        fh.write(json.dumps({{"version": VERSION, "args": args, "trial": bool(started),
                             "root": os.environ.get("GRIDFIELD_INSTALL_ROOT")}}) + "\\n")
if BEHAVIOUR == "crash":
    os.kill(os.getpid(), signal.SIGSEGV)
if BEHAVIOUR == "exit1":
    sys.exit(1)
if BEHAVIOUR == "hang":
    time.sleep(600)
if started:
    Path(started).write_text(VERSION)
code = 0
if data is not None and (data / "exit-code").exists():
    code = int((data / "exit-code").read_text())
    (data / "exit-code").unlink()
    if code == 75:  # "update now": the app agreed, as fieldclient.update.install.note_ready
        staged = sorted((data / "updates" / "staged").iterdir())[-1].name
        (data / "updates" / "ready.json").write_text(json.dumps({{"version": staged}}))
sys.exit(code)
'''


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", mode: int = 0o644,
         kind: bytes = tarfile.REGTYPE, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = int(time.time())
    info.linkname = linkname
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def make_bundle(folder: Path, version: str, behaviour: str = "ok",
                schema: int = LATEST_VERSION, manifest_version: str | None = None,
                extra: list[tuple[str, bytes, int, bytes, str]] | None = None) -> Path:
    """A release archive laid out as `make dist` lays it out (release.json first, then
    ``gridfield/``), whose app behaves as ``behaviour`` says; ``extra`` members (name,
    data, mode, tar type, link name) are appended, e.g. hostile ones."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"gridfield-{version}-{behaviour}.tar.gz"
    manifest = {"version": manifest_version or version, "schema": schema,
                "platform": "linux-x86_64", "commit": ""}
    with tarfile.open(out, "w:gz") as tar:
        _add(tar, "release.json", json.dumps(manifest).encode())
        _add(tar, "gridfield", mode=0o755, kind=tarfile.DIRTYPE)
        script = APP_SCRIPT.format(python=sys.executable, version=version, behaviour=behaviour)
        _add(tar, "gridfield/gridfield", script.encode(), mode=0o755)
        _add(tar, "gridfield/_internal", mode=0o755, kind=tarfile.DIRTYPE)
        _add(tar, "gridfield/_internal/lib.so.1", b"\x7fELF" + b"\0" * 64)
        _add(tar, "gridfield/_internal/lib.so", kind=tarfile.SYMTYPE, linkname="lib.so.1")
        for name, data, mode, kind, linkname in extra or []:
            _add(tar, name, data, mode, kind, linkname)
    return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stage(data_dir: Path, archive: Path, version: str, sha256: str | None = None,
          length: int | None = None, channel: str = "stable") -> Path:
    """What the TUF client leaves after verifying a release (the contract in
    fieldclient/update/install.py): the archive, then staged.json written last."""
    folder = data_dir / "updates" / "staged" / version
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / archive.name
    target.write_bytes(archive.read_bytes())
    meta = {"version": version, "archive": archive.name,
            "sha256": sha256 or sha256_file(target), "length": length or target.stat().st_size,
            "channel": channel, "staged_at": "2026-12-03T00:00:00Z"}
    (folder / "staged.json").write_text(json.dumps(meta))
    return folder


def mark_ready(data_dir: Path, version: str) -> None:
    """The app's word at its last lock that installing ``version`` risks nothing."""
    path = data_dir / "updates" / "ready.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": version}))


def restamp(archive: Path, version: str, out: Path, drop: tuple[str, ...] = ()) -> Path:
    """A copy of a real `make dist` archive as release ``version``: its release.json and the
    one baked into the app (``gridfield/_internal/release.json``) rewritten, the rest as
    built; members named in ``drop`` left out (a broken build). Fast gzip: test data."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as src, open(out, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for member in src:
            if member.name in drop:
                continue
            if member.name in ("release.json", "gridfield/_internal/release.json"):
                fh = src.extractfile(member)
                assert fh is not None
                manifest = json.loads(fh.read())
                manifest["version"] = version
                data = json.dumps(manifest).encode()
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
            elif member.isfile():
                dst.addfile(member, src.extractfile(member))
            else:
                dst.addfile(member)
    return out
