"""Operators' reads of sensitive data through ``central``, recorded in
``operator_audit`` (append-only: the database refuses UPDATE and DELETE of it).

A command that shows names, ID numbers, narratives or the like writes its row *before*
it shows anything: if the row cannot be written, nothing is shown.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy import Engine, insert, select

from central import db


def os_user() -> str:
    """Who runs the command: the login name (and, under sudo, who called sudo)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {user})" if sudo and sudo != user else user


def record(engine: Engine, command: str, arguments: dict[str, Any],
           records: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(db.operator_audit).values(
            at=db.now_iso(), os_user=os_user()[:64], command=command[:64],
            arguments=arguments, records=records))


def entries(engine: Engine, since: str | None = None) -> list[dict[str, Any]]:
    """The audit, oldest first; ``since``: ISO 8601 time (UTC text compares)."""
    oa = db.operator_audit
    query = select(oa).order_by(oa.c.id)
    if since is not None:
        query = query.where(oa.c.at >= since)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
