"""Make sqlite-utils understand sqlcipher3's exceptions.

sqlite-utils catches the stdlib ``sqlite3.OperationalError`` (``drop(ignore=True)``,
``update(alter=True)``, ``cached_counts()``, ``create_index(find_unique_name=True)``),
but sqlcipher3 raises its own class, so those calls crash on an encrypted
connection. We widen the names sqlite-utils catches to both classes. ``except``
accepts a tuple, and sqlite-utils only ever catches these names, never raises them.
"""

from __future__ import annotations

import sqlite3
import types
from typing import Any

import sqlcipher3.dbapi2 as cipher_dbapi
import sqlite_utils.db

_installed = False
BRIDGED_OPERATIONAL = (sqlite3.OperationalError, cipher_dbapi.OperationalError)


class _Sqlite3WithCipherErrors(types.ModuleType):
    """Stdlib ``sqlite3`` seen through a window that widens ``OperationalError``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)


def install() -> None:
    global _installed
    if _installed:
        return
    shim = _Sqlite3WithCipherErrors("sqlite3")
    shim.OperationalError = BRIDGED_OPERATIONAL  # type: ignore[attr-defined]
    sqlite_utils.db.sqlite3 = shim  # type: ignore[attr-defined]
    sqlite_utils.db.OperationalError = BRIDGED_OPERATIONAL  # type: ignore[attr-defined]
    _installed = True
