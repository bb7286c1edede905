"""PySide6's support modules, compiled once instead of at every start.

PySide6 keeps the Python half of shiboken (``signature_bootstrap.py`` and the
``shibokensupport`` package: signatures, ``__feature__``) as source text inside its
library, and compiles it with the builtin ``compile`` each time Qt is imported: 14
modules, ~15 ms of a start-up whose target is the PIN pad within 1.3 × a bare PySide6
window (issue 15). :func:`compiling_from_cache` lends ``builtins.compile`` a cache for
exactly those calls while ``ui`` imports Qt: each module's code is kept, with the source
it came from, in one file beside the interpreter's own bytecode (``ui/__pycache__``, or
under ``sys.pycache_prefix``), and is used only where that source is the one compiled
now, character for character; a newer PySide6, a damaged or foreign file: compiled as
before, and the file written anew (not where Python writes no bytecode). Code
objects are the same as ``compile`` makes them: the cache holds what a ``.pyc`` holds,
in the same place and with the same trust. Nothing else is compiled through it, and
``compile`` is given back when the import ends, also when it fails.

A PyInstaller build does not gain this: its start-up hook for PySide6 (``pyi_rth_pyside6``)
imports PySide6 before any of the app's code runs (and the built app writes no bytecode).
"""

from __future__ import annotations
import __future__

import _frozen_importlib_external
import builtins
import contextlib
import marshal
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

# Source file names PySide6 gives to compile() (inside its library, not on disk).
_CACHED = ("signature_bootstrap.py", "shibokensupport/")
# compile() takes the __future__ statements of the code that calls it: the caller's
# flags are handed on, so the code is what compile would have made for that caller.
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag
stats = {"hits": 0, "misses": 0, "written": 0}


def cache_dir() -> str:
    """Where the compiled support modules live: per Python version, bytecode magic and
    optimisation level (``-O`` drops docstrings), as ``.pyc`` files are told apart."""
    name = (f"pyside-support-{sys.implementation.cache_tag}-"
            f"{_frozen_importlib_external.MAGIC_NUMBER.hex()}-opt{sys.flags.optimize}")
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.pycache_prefix:  # mirrored below the prefix, as importlib does (no drive)
        return os.path.join(sys.pycache_prefix, os.path.splitdrive(here)[1].lstrip(os.sep),
                            name)
    return os.path.join(here, "__pycache__", name)


def _file_for(filename: str) -> str:
    return os.path.join(cache_dir(), filename.replace("/", "--") + ".marshal")


def _load(filename: str, source: str | bytes, flags: int) -> Any:
    """The cached code for ``source`` compiled with ``flags``, or None (absent, another
    source or flags, damaged)."""
    try:
        with open(_file_for(filename), "rb") as cached:
            kept_source, kept_flags, code = marshal.loads(cached.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if type(kept_source) is not type(source) or kept_source != source or kept_flags != flags:
        return None
    return code if type(code) is types.CodeType else None


def _store(filename: str, source: str | bytes, flags: int, code: Any) -> None:
    if sys.dont_write_bytecode:
        return
    path = _file_for(filename)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        data = marshal.dumps((source, flags, code))
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # A new file of our own (never through a link someone left there), then renamed
        # over the old: whole or not at all, also with two starts at once.
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                      | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o600)
        try:
            os.write(out, data)
        finally:
            os.close(out)
        os.replace(temporary, path)
        stats["written"] += 1
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(temporary)


@contextlib.contextmanager
def compiling_from_cache() -> Iterator[None]:
    """While this runs, ``compile(source, filename, "exec")`` of PySide6's support
    modules is answered from the cache (and fills it); any other call is ``compile``'s,
    with the ``__future__`` statements of its own caller, as without the cache."""
    original = builtins.compile

    def compile_cached(source: Any, filename: Any, mode: Any, flags: int = 0,
                       dont_inherit: bool = False, optimize: int = -1, **kwargs: Any) -> Any:
        inherited = 0 if dont_inherit else sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
        if (flags or optimize != -1 or kwargs or mode != "exec" or not isinstance(filename, str)
                or not filename.startswith(_CACHED) or not isinstance(source, str | bytes)):
            return original(source, filename, mode, flags | inherited, True, optimize,
                            **kwargs)
        code = _load(filename, source, inherited)
        if code is not None:
            stats["hits"] += 1
            return code
        stats["misses"] += 1
        code = original(source, filename, mode, inherited, True)
        _store(filename, source, inherited, code)
        return code

    builtins.compile = compile_cached
    try:
        yield
    finally:
        builtins.compile = original
