"""`make dist`: build the PyInstaller bundle and pack it as a release archive.

    python scripts/build_dist.py [--version V] [--no-build]

1. Writes the release manifest ``build/release/release.json`` (``{"version", "schema",
   "platform", "commit"}``; ``schema`` is the newest device migration this build knows,
   which tells the installer whether rolling back to it is possible later).
2. Runs ``pyinstaller pyinstaller.spec`` with the manifest baked in: the built app reports
   that version (``fieldclient.__version__``), so ``make dist VERSION=1.0.1`` builds 1.0.1.
3. Packs ``dist/gridfield-<V>-<platform>.tar.gz``: ``release.json`` first (the installer
   reads it without unpacking the rest), the launcher ``launcher/`` and the app ``gridfield/``
   (each one folder).
   Members are sorted, owned by root, with fixed times and modes, and the gzip header has no
   time or name, so packing the same build twice gives the same bytes.

Prints the archive's path. ``--no-build`` packs what ``dist/`` already holds (it must have
been built with the same version).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fieldclient import RELEASE_MANIFEST, __version__  # noqa: E402
from fieldclient.storage.migrations import LATEST_VERSION  # noqa: E402

APP_DIR = "gridfield"
LAUNCHER_DIR = "launcher"


def platform_tag() -> str:
    """``linux-x86_64``, ``windows-amd64``...: the archive's platform."""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    return f"{system}-{platform.machine().lower()}"


def source_time() -> int:
    """SOURCE_DATE_EPOCH, else the last commit's time: the archive's member times."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def write_manifest(version: str, path: Path) -> dict[str, object]:
    manifest: dict[str, object] = {"version": version, "schema": LATEST_VERSION,
                                   "platform": platform_tag(), "commit": commit()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _normalised(info: tarfile.TarInfo, mtime: int) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime
    if info.isdir() or (info.isfile() and info.mode & 0o111):
        info.mode = 0o755
    elif not info.issym():
        info.mode = 0o644
    return info


def pack(manifest: Path, app_dir: Path, launcher_dir: Path | None, out: Path,
         mtime: int = 0, level: int = 6) -> Path:
    """The release archive: release.json, the launcher's folder, then the app's, sorted."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                          compresslevel=level) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(manifest, RELEASE_MANIFEST, filter=lambda i: _normalised(i, mtime))
        folders = [(launcher_dir, LAUNCHER_DIR)] if launcher_dir is not None else []
        for folder, name in [*folders, (app_dir, APP_DIR)]:
            paths = [folder, *sorted(folder.rglob("*"), key=lambda p: p.as_posix())]
            for path in paths:
                arcname = (Path(name) / path.relative_to(folder)).as_posix()
                tar.add(path, arcname, recursive=False, filter=lambda i: _normalised(i, mtime))
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=__version__,
                        help="the release's version (default: fieldclient.__version__)")
    parser.add_argument("--no-build", action="store_true",
                        help="pack dist/ as it is, without running PyInstaller")
    args = parser.parse_args(argv)
    version = args.version.strip()
    if not version or any(c in version for c in "/\\ ") or version.startswith("."):
        parser.error(f"not a version: {version!r}")
    manifest = write_manifest(version, ROOT / "build" / "release" / RELEASE_MANIFEST)
    dist = ROOT / "dist"
    if not args.no_build:
        env = dict(os.environ, GRIDFIELD_RELEASE_MANIFEST=str(
            ROOT / "build" / "release" / RELEASE_MANIFEST))
        subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level",
                        "WARN", str(ROOT / "pyinstaller.spec")], cwd=ROOT, env=env, check=True)
    out = dist / f"gridfield-{version}-{manifest['platform']}.tar.gz"
    pack(ROOT / "build" / "release" / RELEASE_MANIFEST, dist / APP_DIR, dist / LAUNCHER_DIR,
         out, mtime=source_time())
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
