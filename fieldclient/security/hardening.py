"""Process hardening, applied first thing at start (``main.py``, ``fieldclient``).

While unlocked the process holds the data key, the database key, the blob key, the
signing key and whatever the worker looked at. Nothing of that may leave it:

- not dumpable (Linux ``prctl(PR_SET_DUMPABLE, 0)``): no core file on a crash, and
  other processes of the same user can neither ptrace it (debuggers, ``py-spy``) nor
  read ``/proc/<pid>/mem``; the process itself still reads its own memory;
- no core files at all (``RLIMIT_CORE`` 0, also where ``PR_SET_DUMPABLE`` is missing);
- umask 0o077: every file the device writes is 0600 and every directory 0700, on top
  of the explicit modes where files are created (``fsutil.atomic_write``, the
  database, backups, logs).

Elsewhere the calls that do not exist are skipped (a documented no-op). On Windows:
``SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX)`` (no crash dialog that
offers to send a dump) and ``WerAddExcludedApplication`` for this executable (Windows
Error Reporting writes no dump of it); written from the Windows documentation and not
run on Windows yet. Not done there: a process DACL denying ``PROCESS_VM_READ`` to other
processes of the same user. Windows has no umask, so files rely on the data
directory's ACL (the per-user ``%LOCALAPPDATA%``).

What the worker looked at is harder: Qt and Python free the memory of a label, a
string, a row, and the allocator leaves the bytes where they were. Measured: after a
lock, a revealed ID number survived in blocks Qt and Python had freed. So the GUI runs
with an allocator that overwrites whatever is freed: Python's objects from glibc's
malloc (``PYTHONMALLOC=malloc``, not Python's own arenas), glibc's per-thread cache off
(the cache would keep the last freed blocks of each size as they were), and glibc's
``perturb`` fill of every freed block. With that, the test that scans the locked
process's memory finds nothing (tests/ui/test_lock_memory_gui.py). The cost is some
speed in allocation-heavy work; ``GRIDFIELD_SCRUB_FREED=0`` turns it off (glibc only; a
PyInstaller build gets the glibc part, as its interpreter ignores ``PYTHONMALLOC``).

Python and glibc read the first two only when a process starts. Whoever starts the app gives them
from the outset (:func:`start_environment`): the launcher (the installed app), ``make
run`` (scripts/run_demo.py) and bench/startup.py. Without them (``python main.py``, the
``gridfield`` script) the GUI starts itself again at once
(:func:`restart_with_scrubbing_allocator`), before anything is imported or unlocked, so
the unlocked process always has them. The fill is switched on from inside
(:func:`scrub_freed_memory`, ``mallopt(M_PERTURB)``) when the first screen is about to be
built (ui.controller.AppController.start): before any screen exists that could take a
PIN, and after the imports, which would otherwise pay for filling every block they free
(a tenth of the time to the PIN pad, issue 15). Nothing secret exists before then: the
process has read its settings and the vault's state file (wrapped keys only).

``GRIDFIELD_KEEP_DUMPABLE=1`` leaves the process dumpable (and core files as they
were), for a debugger or a test that must look into a running process from outside.
The umask is set regardless.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import NamedTuple, cast

SCRUB_ENV = "GRIDFIELD_SCRUB_FREED"  # "0": off; "restarted": set by the restart itself;
# "given": set by whoever started the app (start_environment)
SCRUB_TUNABLES = ("glibc.malloc.tcache_count=0",)  # read by glibc at start only
PERTURB_BYTE = 165  # what freed blocks are filled with (0xA5)
# An older launcher (never replaced by an update) gives the fill at start as well.
PERTURB_TUNABLE = f"glibc.malloc.perturb={PERTURB_BYTE}"
M_PERTURB = -6  # glibc's mallopt parameter for the fill
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
KEEP_DUMPABLE_ENV = "GRIDFIELD_KEEP_DUMPABLE"
UMASK = 0o077


class Hardening(NamedTuple):  # not a dataclass: none is made before the PIN pad shows
    """What :func:`apply` managed to do (for status screens and tests)."""

    not_dumpable: bool
    no_core_files: bool
    umask: int | None


def _libc_function(name: str, argtypes: str) -> Callable[..., int] | None:
    """libc's function ``name``, returning a C int, its arguments of the ``_ctypes`` type
    codes in ``argtypes`` ("i" int, "L" unsigned long); None where there is none.

    Made from ``_ctypes``, what ctypes itself is made of, rather than ctypes: importing
    ctypes costs ~1 ms, and this runs before the PIN pad shows (issue 15). A Python
    whose ``_ctypes`` lacks these parts gets ctypes."""
    try:
        import _ctypes

        def c_type(code: str) -> type:
            return type(f"c_{code}", (_ctypes._SimpleCData,), {"_type_": code})

        function = type("LibcFunction", (_ctypes.CFuncPtr,), {
            "_flags_": _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO,
            "_restype_": c_type("i")})
        libc = _ctypes.dlopen(None, os.RTLD_NOW)  # type: ignore[arg-type]  # None: the program
        found = function(_ctypes.dlsym(libc, name))
        found.argtypes = tuple(c_type(code) for code in argtypes)
        return cast("Callable[..., int]", found)
    except (ImportError, AttributeError, TypeError):
        pass
    except OSError:  # no such function (dlsym)
        return None
    import ctypes

    try:
        found = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    found.restype = ctypes.c_int
    found.argtypes = [ctypes.c_ulong if code == "L" else ctypes.c_int for code in argtypes]
    return cast("Callable[..., int]", found)


def _prctl(option: int, arg: int = 0) -> int | None:
    """``prctl`` through libc, or None where there is none (not Linux, no libc)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = _libc_function("prctl", "iLLLL")
    if prctl is None:
        return None
    result = int(prctl(option, arg, 0, 0, 0))
    return None if result < 0 else result


def is_dumpable() -> bool | None:
    """Linux: whether the process may be dumped or ptraced; None elsewhere."""
    value = _prctl(PR_GET_DUMPABLE)
    return None if value is None else value != 0


def _no_core_files() -> bool:
    try:
        import resource
    except ImportError:  # Windows
        return False
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        return False
    return True


def _windows_no_dumps() -> bool:
    """Windows: no crash dialog and no Windows Error Reporting dump of this program."""
    import ctypes

    win_dll = getattr(ctypes, "WinDLL", None)
    if win_dll is None:
        return False
    try:
        kernel32 = win_dll("kernel32")
        kernel32.SetErrorMode(0x0001 | 0x0002)  # SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX
        wer = win_dll("wer")
        result = wer.WerAddExcludedApplication(ctypes.c_wchar_p(sys.executable), False)
    except (OSError, AttributeError):
        return False
    return int(result) in (0, 1)  # S_OK or S_FALSE (already excluded)


def apply() -> Hardening:
    """Harden the current process; idempotent, never raises."""
    umask: int | None = None
    if os.name == "posix":
        os.umask(UMASK)
        umask = UMASK
    if os.environ.get(KEEP_DUMPABLE_ENV) == "1":
        return Hardening(not_dumpable=False, no_core_files=False, umask=umask)
    if sys.platform == "win32":
        no_dumps = _windows_no_dumps()
        return Hardening(not_dumpable=no_dumps, no_core_files=no_dumps, umask=None)
    no_core = _no_core_files()
    not_dumpable = False
    with contextlib.suppress(OSError):
        not_dumpable = _prctl(PR_SET_DUMPABLE, 0) is not None and is_dumpable() is False
    return Hardening(not_dumpable=not_dumpable, no_core_files=no_core, umask=umask)


def started_with_scrubbing_allocator() -> bool:
    """Whether this process was started with the allocator settings glibc and Python
    read only at start (Python's objects from malloc, no per-thread cache)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "").split(":")
    return all(t in tunables for t in SCRUB_TUNABLES) and (
        getattr(sys, "frozen", False) or os.environ.get("PYTHONMALLOC") == "malloc")


_fill_on = False  # scrub_freed_memory() switched glibc's fill on in this process


def scrub_freed_memory() -> bool:
    """From now on glibc fills every block freed with :data:`PERTURB_BYTE`, where the
    process was started with the scrubbing allocator (:func:`started_with_scrubbing_allocator`;
    not after ``GRIDFIELD_SCRUB_FREED=0``). Idempotent; whether freed memory is now
    overwritten (:func:`freed_memory_scrubbed`). Call it before anything secret exists."""
    global _fill_on
    if (_fill_on or os.environ.get(SCRUB_ENV) == "0" or not started_with_scrubbing_allocator()
            or not _glibc()):
        return freed_memory_scrubbed()
    mallopt = _libc_function("mallopt", "ii")
    if mallopt is None:
        return freed_memory_scrubbed()
    _fill_on = int(mallopt(M_PERTURB, PERTURB_BYTE)) == 1  # 1: done (glibc's mallopt)
    return freed_memory_scrubbed()


def freed_memory_scrubbed() -> bool:
    """Whether memory freed from now on is overwritten: started with the scrubbing
    allocator, and its fill switched on (:func:`scrub_freed_memory`, or given at start)."""
    return started_with_scrubbing_allocator() and (
        _fill_on or PERTURB_TUNABLE in os.environ.get("GLIBC_TUNABLES", "").split(":"))


def scrubbing_environment(environ: dict[str, str] | None = None,
                          marker: str = "restarted") -> dict[str, str]:
    """``environ`` (default: this process's) with the scrubbing allocator settings (the
    fill is switched on later, from inside: :func:`scrub_freed_memory`)."""
    env = dict(os.environ if environ is None else environ)
    tunables = [t for t in env.get("GLIBC_TUNABLES", "").split(":") if t
                and not t.startswith(("glibc.malloc.tcache_count=", "glibc.malloc.perturb="))]
    env["GLIBC_TUNABLES"] = ":".join([*tunables, *SCRUB_TUNABLES])
    env["PYTHONMALLOC"] = "malloc"
    env[SCRUB_ENV] = marker
    return env


def _glibc() -> bool:
    """Linux with glibc (whose malloc reads ``GLIBC_TUNABLES``); no ``platform`` import:
    this runs before the PIN pad shows."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


def start_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment to start the app in (default: from this process's): with the
    scrubbing allocator settings where they work (Linux with glibc) and are not turned off
    (``GRIDFIELD_SCRUB_FREED=0``), so the app need not start itself again; else as it
    is. For the programs that start the app: the launcher, ``make run``, the benchmark."""
    env = dict(os.environ if environ is None else environ)
    if env.get(SCRUB_ENV) == "0" or not _glibc():
        return env
    return scrubbing_environment(env, marker="given")


def restart_with_scrubbing_allocator() -> None:
    """Linux with glibc: start this program again (same interpreter, same arguments)
    with the allocator settings read at start (:func:`scrubbing_environment`); returns
    only where that is not possible or already done (:func:`start_environment` gave the
    settings), or ``GRIDFIELD_SCRUB_FREED=0``. Call it first thing."""
    if not sys.platform.startswith("linux") or os.environ.get(SCRUB_ENV) in ("0", "restarted"):
        return
    if started_with_scrubbing_allocator() or not _glibc():
        return
    args = list(sys.argv) if getattr(sys, "frozen", False) else [
        sys.executable, *sys.orig_argv[1:]]
    with contextlib.suppress(OSError):  # cannot exec: go on as we are
        os.execve(sys.executable, args, scrubbing_environment())
