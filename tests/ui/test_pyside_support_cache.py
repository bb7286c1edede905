"""PySide6's support modules come from a cache of compiled code after the first start
(ui.pyside_support_cache, issue 15): the same code as compile makes, only for the
source it was made from, never in the way of any other compile."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ui import pyside_support_cache as cache

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "x: undefined_name = 1\ndef f(a: int) -> list[int]:\n    return [a] * 2\n"
NAME = "shibokensupport/example.py"


@pytest.fixture
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return Path(cache.cache_dir())


def _compile_without_future(source: str, name: str) -> object:
    """compile() called from code without ``from __future__ import annotations``."""
    helper = builtins.compile("code = compile(source, name, 'exec')", "<helper>", "exec",
                              dont_inherit=True)
    space = {"source": source, "name": name}
    exec(helper, space)
    return space["code"]


def test_the_cache_gives_what_compile_gives(cache_in: Path) -> None:
    other = "shibokensupport/other.py"
    fresh = builtins.compile(SOURCE, NAME, "exec")  # this module: annotations postponed
    plain = builtins.compile(SOURCE, other, "exec", dont_inherit=True)
    assert fresh.co_flags != plain.co_flags  # the caller's __future__ flags matter
    hits = cache.stats["hits"]
    for _ in range(2):  # made and kept, then taken from the cache
        with cache.compiling_from_cache():
            assert builtins.compile(SOURCE, NAME, "exec") == fresh
            assert _compile_without_future(SOURCE, other) == plain
    assert cache.stats["hits"] == hits + 2
    assert builtins.compile.__module__ == "builtins"  # given back
    namespace: dict[str, object] = {}
    with cache.compiling_from_cache():
        exec(builtins.compile(SOURCE, NAME, "exec"), namespace)
    assert namespace["f"](3) == [3, 3]  # type: ignore[operator]


def test_another_source_a_damaged_file_or_another_name_is_compiled(cache_in: Path) -> None:
    with cache.compiling_from_cache():
        builtins.compile(SOURCE, NAME, "exec")
    kept = cache_in / "shibokensupport--example.py.marshal"
    assert kept.is_file()
    newer = SOURCE + "y = 2\n"  # a newer PySide6
    with cache.compiling_from_cache():
        code = builtins.compile(newer, NAME, "exec")
    assert code == builtins.compile(newer, NAME, "exec")
    kept.write_bytes(b"\x00damaged")
    with cache.compiling_from_cache():
        assert builtins.compile(SOURCE, NAME, "exec") == builtins.compile(SOURCE, NAME, "exec")
    assert kept.read_bytes() != b"\x00damaged"  # written anew
    with cache.compiling_from_cache():  # not PySide's: compile's own, nothing kept
        builtins.compile(SOURCE, "mine.py", "exec")
        builtins.compile("1 + 1", NAME, "eval")
        with pytest.raises(SyntaxError):
            builtins.compile("def (", NAME, "exec")
    assert sorted(p.name for p in cache_in.iterdir()) == [kept.name]


def test_other_compiles_keep_their_own_callers_future_statements(cache_in: Path) -> None:
    """A compile that is not PySide's, made while Qt is imported (another thread, a hook),
    gets the __future__ statements of its own caller, not the cache module's."""
    source = "def g(x: int) -> None: pass\n"
    outside = _compile_without_future(source, "mine.py")
    with cache.compiling_from_cache():
        inside = _compile_without_future(source, "mine.py")
        # and one of PySide's with arguments of its own: compile's, nothing kept
        optimized = builtins.compile(SOURCE, NAME, "exec", optimize=2)
    assert inside == outside
    space: dict[str, object] = {}
    exec(inside, space)
    assert space["g"].__annotations__ == {"x": int, "return": None}  # type: ignore[attr-defined]
    assert optimized == builtins.compile(SOURCE, NAME, "exec", optimize=2)
    assert not cache_in.exists()


def test_a_link_left_in_the_cache_is_not_followed(cache_in: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    cache_in.mkdir(parents=True)
    (cache_in / f"shibokensupport--example.py.marshal.{os.getpid()}.tmp").symlink_to(victim)
    with cache.compiling_from_cache():
        assert builtins.compile(SOURCE, NAME, "exec") == builtins.compile(SOURCE, NAME, "exec")
    assert victim.read_bytes() == b"untouched"


def test_nothing_is_written_where_python_writes_no_bytecode(
        cache_in: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    with cache.compiling_from_cache():
        assert builtins.compile(SOURCE, NAME, "exec") == builtins.compile(SOURCE, NAME, "exec")
    assert not cache_in.exists()


def test_the_second_start_compiles_none_of_pysides_support_code(tmp_path: Path) -> None:
    probe = ("import builtins, json\nimport ui\nfrom ui import pyside_support_cache as c\n"
             "print(json.dumps([c.stats, builtins.compile.__module__]))\n")
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    seen = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True, timeout=120)
        seen.append(json.loads(out.stdout.splitlines()[-1]))
    (first, restored), (second, _) = seen
    assert restored == "builtins"
    assert first["misses"] >= 10 and first["written"] == first["misses"]
    assert second == {"hits": first["misses"], "misses": 0, "written": 0}
