"""The import layers of DEVELOPERS.md, checked over the source's syntax trees.

Imports only go down: ``ui`` → the field-work domain → ``storage``/``security``; ``sync``
builds on ``fieldclient`` and never the reverse; ``central`` shares only the wire
format (``sync.protocol`` and its schemas, ``sync.protocol.schemas``) and the field-work
domain may use it too (the quota rules and review figures computed the same way on both
sides, ``sync.protocol.quotarules`` and ``sync.protocol.review``); nothing outside ``ui``
imports Qt. Every import counts, the ones inside
functions and under ``TYPE_CHECKING`` too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "shiboken6")

# The foundation: plain modules at the root of ``fieldclient`` that every layer may use.
FOUNDATION = "fieldclient"
# Each layer and the layers it may import, besides itself and the foundation.
MAY_IMPORT: dict[str, set[str]] = {
    FOUNDATION: set(),
    "fieldclient.security": set(),
    "fieldclient.geo": set(),
    "fieldclient.storage": {"fieldclient.security"},
    "fieldclient.photos": {"fieldclient.storage", "fieldclient.security", "fieldclient.geo"},
    "fieldclient.fieldwork": {
        "fieldclient.photos", "fieldclient.storage", "fieldclient.security", "fieldclient.geo",
    },
    # release updates: checking, fetching, staging, installing, rolling back
    "fieldclient.update": {
        "fieldclient.fieldwork", "fieldclient.photos", "fieldclient.storage",
        "fieldclient.security", "fieldclient.geo",
    },
    "fieldclient.cli": {
        "fieldclient.update", "fieldclient.fieldwork", "fieldclient.photos", "fieldclient.storage",
        "fieldclient.security", "fieldclient.geo",
    },
    "sync": {
        "fieldclient.update", "fieldclient.fieldwork", "fieldclient.photos", "fieldclient.storage",
        "fieldclient.security", "fieldclient.geo", "fieldclient.cli",
    },
    "central": {"sync.protocol"},
    "ui": {
        "fieldclient.update", "fieldclient.fieldwork", "fieldclient.photos", "fieldclient.storage",
        "fieldclient.security", "fieldclient.geo", "sync",
    },
}
PACKAGES = ("fieldclient", "sync", "central", "ui")
# The wire format shared by the device and central: it builds on nothing else of ours.
MAX_MODULES = 20  # a folder past this gets subpackages (DEVELOPERS.md)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer ``module`` belongs to: the longest key of MAY_IMPORT it falls under;
    a plain module at the root of ``fieldclient`` is the foundation."""
    if module == "central.protocol":
        return "central"
    best = ""
    for layer in MAY_IMPORT:
        if (module == layer or module.startswith(layer + ".")) and len(layer) > len(best):
            best = layer
    if best == FOUNDATION and module.count(".") == 1:
        sub = ROOT / "fieldclient" / module.split(".")[1]
        if sub.is_dir():  # a subpackage that is not a layer above: unknown, say so
            return "fieldclient.?" + module
    if best == "sync" and (module == "sync.protocol" or module.startswith("sync.protocol.")):
        return "sync.protocol"  # the wire format and its schemas (sync/protocol/)
    return best


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # ``from sync import protocol`` imports the module sync.protocol
            folder = ROOT / module.replace(".", "/")
            submodules = [f"{module}.{alias.name}" for alias in node.names
                          if (folder / alias.name).is_dir()
                          or (folder / f"{alias.name}.py").is_file()]
            if len(submodules) < len(node.names):
                found.append((node.lineno, module))
            found.extend((node.lineno, name) for name in submodules)
    return found


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def allowed(importer: str, imported: str) -> bool:
    source, target = layer_of(importer), layer_of(imported)
    if target == "":
        return imported.split(".")[0] not in PACKAGES  # a library; ours must have a layer
    if source == target:
        return True
    if source == "sync.protocol":
        return False  # the wire format, shared with central: it builds on nothing of ours
    if source == "central":
        return target == "sync.protocol"
    if target == FOUNDATION:
        return True
    if target == "sync.protocol":
        # the field-work domain evaluates the rules and figures shared with the centre
        # (sync.protocol.quotarules, sync.protocol.review): they build on nothing of ours
        # and the release updater applies the release rules the centre signs by
        return source in ("sync", "ui", "fieldclient.fieldwork", "fieldclient.update")
    return target in MAY_IMPORT.get(source, set())


def test_imports_only_go_down() -> None:
    wrong = []
    for path in source_files():
        importer = module_name(path)
        for line, imported in imports_of(path):
            top = imported.split(".")[0]
            if top in QT and not importer.startswith("ui"):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports Qt ({imported})")
            elif top in PACKAGES and not allowed(importer, imported):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {layer_of(importer)} may not "
                             f"import {imported} ({layer_of(imported) or 'unknown layer'})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


# Inside ui: the parts that pages and screens are built from never import them back.
UI_BELOW_PAGES = ("ui.widgets", "ui.dialogs", "ui.platform")
UI_PAGES = ("ui.pages", "ui.screens", "ui.mainwindow")


def test_ui_parts_do_not_import_pages() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in sorted((ROOT / "ui").rglob("*.py"))
        if module_name(path).startswith(UI_BELOW_PAGES)
        for line, imported in imports_of(path)
        if imported.startswith(UI_PAGES)
    ]
    assert not wrong, "widgets, dialogs and platform adapters import pages:\n" + "\n".join(wrong)


def test_every_subpackage_says_what_it_owns() -> None:
    missing = []
    for package in PACKAGES:
        for init in (ROOT / package).rglob("__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            if not doc or len(doc) < 40:
                missing.append(str(init.relative_to(ROOT)))
    assert not missing, f"packages without a docstring saying what they own: {missing}"


def test_no_folder_outgrows_its_subpackages() -> None:
    crowded = {
        str(folder.relative_to(ROOT)): n
        for package in PACKAGES
        for folder in [ROOT / package, *(p.parent for p in (ROOT / package).rglob("__init__.py"))]
        if (n := len([p for p in folder.glob("*.py") if p.name != "__init__.py"])) > MAX_MODULES
    }
    assert not crowded, f"folders over {MAX_MODULES} modules, give them subpackages: {crowded}"


@pytest.mark.parametrize(("importer", "imported", "ok"), [
    ("fieldclient.fieldwork.households", "fieldclient.storage.session", True),
    ("fieldclient.storage.session", "fieldclient.fieldwork.households", False),
    ("fieldclient.security.vault", "fieldclient.storage.store", False),
    ("fieldclient.fieldwork.households", "sync.engine", False),
    ("fieldclient.cli", "sync.cli", False),
    ("sync.engine", "fieldclient.storage.session", True),
    ("sync.protocol", "fieldclient.errors", False),
    ("fieldclient.fieldwork.review", "sync.protocol.review", True),
    ("fieldclient.storage.session", "sync.protocol", False),
    ("fieldclient.cli.quota", "sync.protocol.review", False),
    ("central.app", "sync.protocol", True),
    ("central.app", "sync.protocol.schemas", True),
    ("sync.protocol.schemas", "sync.protocol", True),
    ("sync.protocol.schemas", "sync.engine", False),
    ("sync.protocol.schemas", "fieldclient.errors", False),
    ("central.app", "sync.engine", False),
    ("central.app", "ui.app", False),
    ("central.app", "fieldclient.errors", False),
    ("ui.pages.today", "fieldclient.cli.quota", False),
    ("ui.pages.today", "fieldclient.fieldwork.quotas", True),
    ("fieldclient.geo.nmea", "fieldclient.errors", True),
    ("fieldclient.errors", "fieldclient.security.audit", False),
])
def test_the_check_itself(importer: str, imported: str, ok: bool) -> None:
    """The rule table says what DEVELOPERS.md says (so the check above can fail)."""
    assert allowed(importer, imported) is ok
