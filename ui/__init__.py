"""The PySide6 user interface: the only package that imports Qt.

At the root: the application shell (``app``, ``controller``, ``mainwindow``, ``style``,
``i18n``, the ``run_task`` helper in ``tasks``, error display) and the controllers that
drive the core for the GUI (sync, the running patrol's GPS). Below: ``screens`` (set-up,
unlock, PIN change), ``pages`` (the main window's pages), ``dialogs``, ``widgets`` and
``platform`` (hardware adapters). ``ui`` may import ``fieldclient`` and ``sync``; nothing
imports ``ui``.
"""

import os as _os
import sys as _sys
from types import ModuleType as _ModuleType

from ui.pyside_support_cache import compiling_from_cache as _compiling_from_cache

with _compiling_from_cache():  # PySide6's support code: compiled once, not at every start
    import PySide6.QtCore  # noqa: F401  (installs PySide's import hook, patched below)

# PySide6's ``__feature__`` support reads the whole source text of every module an import
# statement names once Qt is loaded, looking for the word "PySide6" (``_mod_uses_pyside``
# in PySide6.support.feature): ~60 modules, most of them the standard library's largest
# (typing, inspect, argparse, logging, locale), ~30 M instructions or 7 ms before the PIN
# pad is painted (issue 15). The standard library never uses PySide: say so without
# reading it. Any other module with a source file is read as bytes, which answers the
# same as the scan's ``inspect.getsource`` (line cache, encoding detection, ~60 µs a
# module, ~1 ms for ours before the PIN pad shows) at a fraction of the cost. Modules
# without a ``.py`` file: the scan itself. A PySide without that function: unchanged.
_STDLIB = _os.path.join(_os.path.dirname(_os.__file__), "")


def _patch_pyside_source_scan() -> bool:
    feature = _sys.modules.get("PySide6.support.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "_gridfield", False):
        return original is not None

    def uses_pyside(module: _ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.startswith(_STDLIB) and "site-packages" not in path:
            return False
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return bool(original(module))

    uses_pyside._gridfield = True  # type: ignore[attr-defined]
    uses_pyside.original = original  # type: ignore[attr-defined]
    feature._mod_uses_pyside = uses_pyside  # type: ignore[union-attr]
    return True


PYSIDE_SCAN_PATCHED = _patch_pyside_source_scan()
