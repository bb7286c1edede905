"""requirements.lock (``make lock``) agrees with pyproject.toml.

``make setup`` and CI install the dependencies from the lock alone (``pip install
--require-hashes``, then the project with ``--no-deps``), so a dependency added to
pyproject.toml but not to the lock would be missing at run time, and a pin outside the
range pyproject.toml allows would run a version the project never claimed to support.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
# The extras `make lock` compiles (Makefile): the dev tools and the release build.
LOCKED_EXTRAS = ("dev", "build")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked_pins(text: str) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes) for every package in a lock's text."""
    pins: dict[str, tuple[Version, int]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif line and not line.startswith(" "):
            current = None
    return pins


def declared(pyproject: dict[str, object]) -> list[Requirement]:
    """The project's dependencies and the locked extras' requirements."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    reqs = [Requirement(r) for r in project["dependencies"]]
    extras = project.get("optional-dependencies", {})
    for extra in LOCKED_EXTRAS:
        reqs += [Requirement(r) for r in extras[extra]]
    return reqs


def disagreements(reqs: list[Requirement], pins: dict[str, tuple[Version, int]]) -> list[str]:
    """What is wrong between the declared requirements and the lock's pins, in words."""
    problems = []
    for req in reqs:
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} is in pyproject.toml but not in the lock")
            continue
        version, hashes = pins[name]
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} in the lock is outside {req.specifier}")
        if hashes == 0:
            problems.append(f"{req.name} has no hash in the lock")
    for name, (version, hashes) in pins.items():
        if hashes == 0:
            problems.append(f"{name}=={version} has no hash in the lock")
    return problems


def test_lock_matches_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    problems = disagreements(declared(pyproject), locked_pins(LOCK.read_text(encoding="utf-8")))
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_lock_covers_windows_builds() -> None:
    """The lock is universal: the packages only Windows needs are there, behind markers."""
    text = LOCK.read_text(encoding="utf-8")
    assert re.search(r"^pywin32-ctypes==\S+ ; sys_platform == 'win32'", text, re.M)
    assert re.search(r"^pefile==\S+ ; sys_platform == 'win32'", text, re.M)  # PyInstaller


def test_checker_catches_a_missing_or_out_of_range_pin() -> None:
    """The check itself can fail: a dependency missing from the lock, a pin outside its
    range and a pin without a hash are each reported."""
    lock = (
        "pyside6==6.12.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
        "requests==2.32.0\n"
        "    # via gridfield\n"
    )
    reqs = [Requirement("pyside6>=6.8,!=6.12.0,<7"), Requirement("requests>=2.31,<3"),
            Requirement("cryptography>=44,<51")]
    problems = disagreements(reqs, locked_pins(lock))
    assert any("pyside6==6.12.0 in the lock is outside" in p for p in problems)
    assert any("requests has no hash" in p for p in problems)
    assert any("cryptography is in pyproject.toml but not in the lock" in p for p in problems)
    good = "requests==2.32.0 \\\n    --hash=sha256:" + "b" * 64 + "\n"
    assert disagreements([Requirement("requests>=2.31,<3")], locked_pins(good)) == []
