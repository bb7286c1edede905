"""Run an SQL script statement by statement inside the caller's transaction."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sqlcipher3
import sqlite_utils


def split_script(script: str) -> Iterable[str]:
    """Statements of an SQL script (trigger bodies included) to run one by one.

    ``executescript`` would commit first, breaking a migration's transaction.
    Cut after every ``;`` (not every line: two statements may share one) and let
    ``complete_statement`` say whether that ``;`` really ends a statement.
    """
    buffer = ""
    for piece in re.split(r"(?<=;)", script):
        buffer += piece
        if sqlcipher3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def run_script(db: sqlite_utils.Database, script: str) -> None:
    for statement in split_script(script):
        db.conn.execute(statement)
