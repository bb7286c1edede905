"""The app and ``fieldclient`` harden their process at start: not dumpable, no core
files, umask 0o077 (issue 12, fault 1). Each check runs in a fresh interpreter: the
test process itself must stay as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldclient.security import hardening

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

REPORT = """
import json, os, resource, sys
from fieldclient.security import hardening
umask = os.umask(0); os.umask(umask)
print(json.dumps({"dumpable": hardening.is_dumpable(),
                  "core": resource.getrlimit(resource.RLIMIT_CORE),
                  "umask": umask}))
"""


def _run(prelude: str, env_extra: dict[str, str] | None = None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "GRIDFIELD_KEEP_DUMPABLE"}
    env.update(env_extra or {})
    env["QT_QPA_PLATFORM"] = "offscreen"
    result = subprocess.run(
        [sys.executable, "-c", prelude + REPORT], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=True,
    )
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_a_plain_interpreter_is_dumpable() -> None:
    """The baseline: without hardening, the checks below would all fail."""
    assert _run("")["dumpable"] is True


def test_hardening_apply() -> None:
    report = _run("from fieldclient.security import hardening; hardening.apply()\n")
    assert report == {"dumpable": False, "core": [0, 0], "umask": 0o077}


def test_the_fieldclient_command_hardens_itself() -> None:
    prelude = (
        "import sys\n"
        "sys.argv = ['fieldclient', '--version']\n"
        "from fieldclient.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    report = _run(prelude)
    assert report == {"dumpable": False, "core": [0, 0], "umask": 0o077}


def test_main_py_hardens_before_the_gui_starts() -> None:
    prelude = (
        "import runpy, sys\n"
        "sys.argv = ['main.py', '--version']\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    )
    report = _run(prelude)
    assert report == {"dumpable": False, "core": [0, 0], "umask": 0o077}


def test_keep_dumpable_for_debugging() -> None:
    report = _run("from fieldclient.security import hardening; hardening.apply()\n",
                  {"GRIDFIELD_KEEP_DUMPABLE": "1"})
    assert report["dumpable"] is True
    assert report["umask"] == 0o077


_ALLOCATOR = (
    "import json, os, sys\n"
    "from fieldclient.security import hardening\n"
    "print('start', flush=True)\n"
    "hardening.restart_with_scrubbing_allocator()\n"
    "before = hardening.freed_memory_scrubbed()\n"
    "print(json.dumps([os.environ.get('PYTHONMALLOC'), os.environ.get('GLIBC_TUNABLES'),"
    " before, hardening.scrub_freed_memory(), hardening.freed_memory_scrubbed()]))\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_the_app_restarts_itself_with_an_allocator_that_overwrites_freed_memory() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV)}
    env["GLIBC_TUNABLES"] = "glibc.malloc.arena_max=2"  # one of the user's own is kept
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.splitlines()
    assert lines.count("start") == 2  # the first start ran up to the restart
    malloc, tunables, before, switched, scrubbed = json.loads(lines[-1])
    # The fill is switched on from inside, later (ui.controller.AppController.start).
    assert malloc == "malloc" and (before, switched, scrubbed) == (False, True, True)
    assert tunables.split(":") == ["glibc.malloc.arena_max=2", *hardening.SCRUB_TUNABLES]
    env[hardening.SCRUB_ENV] = "0"  # turned off: no restart, and no fill
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines().count("start") == 1
    assert json.loads(out.stdout.splitlines()[-1])[2:] == [False, False, False]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_started_with_the_start_environment_the_app_needs_no_restart() -> None:
    """The launcher and `make run` start the app with hardening.start_environment(): the
    allocator that overwrites freed memory is in force from the first instruction, and
    the process does not start itself again (a second interpreter start)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV)}
    env["GLIBC_TUNABLES"] = "glibc.malloc.arena_max=2"
    given = hardening.start_environment(env)
    assert given[hardening.SCRUB_ENV] == "given" and given["PYTHONMALLOC"] == "malloc"
    assert given["GLIBC_TUNABLES"].split(":") == ["glibc.malloc.arena_max=2",
                                                  *hardening.SCRUB_TUNABLES]
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR], cwd=ROOT, env=given,
                         capture_output=True, text=True, timeout=60, check=True)
    lines = out.stdout.splitlines()
    assert lines.count("start") == 1  # no restart
    assert json.loads(lines[-1]) == ["malloc", given["GLIBC_TUNABLES"], False, True, True]
    # Half of the settings (say PYTHONMALLOC dropped on the way): the restart still
    # gives the whole of them.
    partial = {k: v for k, v in given.items() if k != "PYTHONMALLOC"}
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR], cwd=ROOT, env=partial,
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines().count("start") == 2
    assert json.loads(out.stdout.splitlines()[-1])[3] is True
    # An older launcher (never replaced by an update) gave the fill at start as well: the
    # app takes those settings as they are, filled from the first instruction.
    older = dict(given, GLIBC_TUNABLES=":".join([*hardening.SCRUB_TUNABLES,
                                                  hardening.PERTURB_TUNABLE]))
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR], cwd=ROOT, env=older,
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines().count("start") == 1
    assert json.loads(out.stdout.splitlines()[-1])[2:] == [True, True, True]
    # Turned off: the environment is left as it is.
    off = dict(env, **{hardening.SCRUB_ENV: "0"})
    assert hardening.start_environment(off) == off


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_main_py_restarts_only_without_the_start_environment() -> None:
    """main.py started in hardening.start_environment() (make run: scripts/run_demo.py)
    has the allocator settings and never restarts itself; started without them
    (``python main.py``) it still restarts, the fallback."""
    probe = (
        "import json, os, sys, runpy\n"
        "from fieldclient.security import hardening\n"
        "calls = []\n"
        "os.execve = lambda *a: calls.append(a)  # a restart would show here\n"
        "sys.argv = ['main.py', '--version']\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit:\n"
        "    pass\n"
        "print(json.dumps([len(calls), hardening.started_with_scrubbing_allocator()]))\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV)}
    for given, expected in ((hardening.start_environment(env), [0, True]), (env, [1, False])):
        out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=given,
                             capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(out.stdout.splitlines()[-1]) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_the_gui_fills_freed_memory_by_the_time_its_first_screen_shows(tmp_path: Path) -> None:
    """main.py as the launcher starts it: the fill is on once the first screen is there
    (switched on before the screen is built), the process is not dumpable."""
    probe = (
        "import json, runpy, sys\n"
        f"sys.argv = ['main.py', '--data-dir', {str(tmp_path / 'device')!r},"
        " '--exit-after-startup']\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit:\n"
        "    pass\n"
        "from fieldclient.security import hardening\n"
        "print(json.dumps([hardening.freed_memory_scrubbed(), hardening.is_dumpable()]))\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV,
                        "GRIDFIELD_KEEP_DUMPABLE")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT,
                         env=hardening.start_environment(env), capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == [True, False]
    log = (tmp_path / "device" / "logs" / "gridfield.log").read_text("utf-8")
    assert "first screen painted" in log and "PySide6 support modules:" in log


_FILL_PROBE = """
import ctypes, json
from fieldclient.security import hardening
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def left_after_free():
    # 200 bytes: no fast bin; a block after it keeps it from merging into the heap's top.
    # The copy goes to a buffer made before the free, so nothing allocated in between
    # can take the freed block.
    seen = ctypes.create_string_buffer(150)
    block = libc.malloc(200)
    guard = libc.malloc(200)
    ctypes.memset(block, 0x41, 200)
    libc.free(block)
    ctypes.memmove(seen, block + 16, 150)  # past the free list's two pointers
    libc.free(guard)
    return seen.raw

before = left_after_free()
switched = hardening.scrub_freed_memory()
after = left_after_free()
print(json.dumps([before.count(b"A"), switched, after.count(b"A"), after.count(b"\\xa5")]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_scrub_freed_memory_really_fills_what_is_freed() -> None:
    """glibc's fill, switched on from inside: a block freed afterwards holds 0xA5 where
    its text was; before (and without the start settings) the text stays."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONMALLOC", "GLIBC_TUNABLES", hardening.SCRUB_ENV)}
    given = subprocess.run([sys.executable, "-c", _FILL_PROBE], cwd=ROOT,
                           env=hardening.start_environment(env), capture_output=True,
                           text=True, timeout=60, check=True)
    assert json.loads(given.stdout.splitlines()[-1]) == [150, True, 0, 150]
    plain = subprocess.run([sys.executable, "-c", _FILL_PROBE], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(plain.stdout.splitlines()[-1]) == [150, False, 150, 0]


def test_libc_functions_are_found_through_ctypes_parts_or_ctypes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """hardening calls libc through ``_ctypes`` (ctypes' own import costs ~1 ms before the
    PIN pad shows); a Python whose ``_ctypes`` lacks a part it uses gets ctypes."""
    import _ctypes

    def check() -> None:
        getpid = hardening._libc_function("getpid", "")
        assert getpid is not None and getpid() == os.getpid()
        umask = hardening._libc_function("umask", "i")  # an argument goes through
        assert umask is not None
        before = umask(0o022)
        assert umask(before) == 0o022
        assert hardening._libc_function("no_such_function_in_libc", "") is None

    check()
    monkeypatch.delattr(_ctypes, "FUNCFLAG_USE_ERRNO")  # now through ctypes
    check()
