"""The launcher: the program the desktop shortcut starts, ``<root>/launcher/``.

    gridfield-launcher [APP ARGUMENTS...]          start the current version
    gridfield-launcher --install-from ARCHIVE      IT's first install (a `make dist` archive)

It stays in place while versions come and go under ``versions/`` (an update never
replaces it, so it is never half-written when started), which is why it is a small
stdlib-only program of its own (PyInstaller, one folder: ``pyinstaller.spec``) and not a
shell script: the same code runs on Linux and Windows, and it shares the install logic
with the app (``fieldclient.update.install``) instead of repeating it in sh and cmd.

Each start: a trial an earlier start left undecided (power cut) is rolled back; a staged
release the app declared safe at its last lock or close (``updates/ready.json``) is
installed and started on trial: it must confirm within ``GRIDFIELD_START_TIMEOUT`` seconds
(default 120) that its first window is painted, else it is stopped and the previous
version starts instead, which tells the worker. When IT revoked the current release and
the app declared going back safe (``ready.json`` ``"action": "return"``: no patrol, the
older version opens the database), the launcher switches back first
(``install.apply_return``). The app's exit code is the launcher's; exit code 75 ("update
now") installs the staged release, or goes back, and starts again.

The install root is the folder above the launcher's (``GRIDFIELD_INSTALL_ROOT`` overrides
it); the data directory is the app's ``--data-dir``, else ``GRIDFIELD_DATA_DIR``, else the
platform's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

# As a script (the PyInstaller entry point) the project root is not on the path yet.
if __package__ in (None, ""):  # pragma: no cover - frozen or ``python launcher.py``
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fieldclient.security import hardening
from fieldclient.update import install

PROG = "gridfield-launcher"


def say(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


def install_root() -> Path:
    override = os.environ.get(install.INSTALL_ROOT_ENV)
    if override:
        return Path(override)
    if getattr(sys, "frozen", False):  # <root>/launcher/gridfield-launcher
        return Path(sys.executable).resolve().parent.parent
    raise SystemExit(f"{PROG}: set {install.INSTALL_ROOT_ENV} (not run from a built launcher)")


def data_dir_from(args: list[str]) -> Path:
    """The data directory the app will use: its ``--data-dir``, else its default."""
    for i, arg in enumerate(args):
        if arg == "--data-dir" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--data-dir="):
            return Path(arg.split("=", 1)[1])
    from fieldclient.paths import default_data_dir

    return default_data_dir()


def start_timeout() -> float:
    try:
        return float(os.environ.get("GRIDFIELD_START_TIMEOUT", install.DEFAULT_START_TIMEOUT))
    except ValueError:
        return install.DEFAULT_START_TIMEOUT


class _Child:
    """The app's process, with the launcher's SIGTERM/SIGINT passed on to it."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(cmd, env=env)
        self.saved: dict[int, Any] = {}
        if os.name == "posix":
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self.saved[sig] = signal.signal(sig, self._forward)

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self.proc.send_signal(signum)

    def wait(self) -> int:
        try:
            return self.proc.wait()
        finally:
            for sig, handler in self.saved.items():
                signal.signal(sig, handler)


def _reason(code: int) -> dict[str, Any]:
    return {"kind": "signal", "code": -code} if code < 0 else {"kind": "exit", "code": code}


def _try(root: Path, data_dir: Path, version: str, args: list[str], env: dict[str, str],
         timeout: float) -> tuple[int | None, dict[str, Any] | None]:
    """Start ``version`` on trial. (exit code, None) once it confirmed and ended;
    (None, reason) when it failed to start (and was stopped if still running)."""
    started = root / f".started-{version}"
    started.unlink(missing_ok=True)
    exe = install.app_executable(root, version)
    if not exe.exists():
        return None, {"kind": "missing"}
    child = _Child([str(exe), *args], dict(env, **{install.STARTED_ENV: str(started)}))
    deadline = time.monotonic() + timeout
    try:
        while True:
            if started.exists():
                install.commit_trial(root, data_dir)
                say(f"{version} started; the update is kept")
                return child.wait(), None
            code = child.proc.poll()
            if code is not None:
                if started.exists():
                    continue  # confirmed just before it ended
                return None, _reason(code)
            if time.monotonic() > deadline:
                child.proc.kill()
                child.wait()
                return None, {"kind": "timeout", "seconds": int(timeout)}
            time.sleep(0.1)
    finally:
        started.unlink(missing_ok=True)


def run(root: Path, args: list[str], timeout: float | None = None) -> int:
    """Install what is ready, start the current version (on trial after an update), roll
    back a failed start; the app's exit code."""
    timeout = start_timeout() if timeout is None else timeout
    data_dir = data_dir_from(args)
    # The app gets the allocator settings that scrub freed memory from the outset: it need
    # not start itself again to have them (a second start before the PIN pad shows).
    env = hardening.start_environment(dict(os.environ, **{install.INSTALL_ROOT_ENV: str(root)}))
    while True:
        try:
            state = install.read_state(root)
        except install.StateDamaged as exc:
            say(exc.message("en"))
            state = install.repair_state(root)
        if state.trial is not None:  # an earlier start on trial never confirmed
            restored = install.roll_back(root, data_dir, {"kind": "interrupted"})
            say(f"an unfinished trial start: back to {restored}")
            state = install.read_state(root)
        current = state.current
        if current is None:
            say(f"nothing installed under {root} (--install-from ARCHIVE)")
            return 1
        back = install.ready_return(data_dir)
        if back is not None:  # the current release was revoked: back to the one before
            try:
                if install.apply_return(data_dir, root, back) is not None:
                    say(f"{back['from']} was revoked; back to {back['version']}")
            except install.InstallError as exc:
                say(f"not back to {back['version']}: {exc.message('en')}")
            state = install.read_state(root)
            current = state.current or current
        staged = install.pending(data_dir, current)
        if staged is not None and install.ready_version(data_dir) == staged.version:
            try:
                install.apply_staged(data_dir, root, staged)
                say(f"installed {staged.version}; starting it on trial")
            except install.InstallError as exc:
                say(f"{staged.version} not installed: {exc.message('en')}")
            except Exception as exc:  # never keep the current version from starting
                say(f"{staged.version} not installed: {type(exc).__name__}: {exc}")
            state = install.read_state(root)
            current = state.current or current
        if state.trial is not None:
            version = str(state.trial["version"])
            code, reason = _try(root, data_dir, version, args, env, timeout)
            if reason is not None:
                restored = install.roll_back(root, data_dir, reason)
                say(f"{version} failed to start ({reason}); back to {restored}")
                continue
            assert code is not None
        else:
            exe = install.app_executable(root, current)
            if not exe.exists():
                say(f"{exe} is missing")
                return 1
            code = _Child([str(exe), *args], env).wait()
        if code != install.RESTART_FOR_UPDATE:
            return code


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = install_root()
    if args[:1] == ["--install-from"]:
        if len(args) != 2:
            say("usage: --install-from ARCHIVE")
            return 2
        try:
            version = install.first_install(root, Path(args[1]))
        except install.InstallError as exc:
            say(exc.message())
            return 1
        say(f"installed {version} under {root}")
        return 0
    return run(root, args)


if __name__ == "__main__":
    sys.exit(main())
