"""PIN recovery shares escrowed by devices (``fieldclient.security.recovery``).

A device sends its share after enrollment and again after each reset (a code works
once). IT reads the newest share as a code to a worker who forgot the PIN; each read
is recorded with who read it and when, and the device records the reset in its own
audit log, which reaches the centre with its next audit anchor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from central import db


def store(engine: Engine, device_id: str, nonce: str, code: str) -> None:
    """Keep the device's newest share (a repeat of the same one changes nothing)."""
    t = db.recovery_shares
    values = {"nonce": nonce, "code": code, "escrowed_at": db.now_iso(),
              "revealed_at": None, "revealed_by": None}
    with engine.begin() as conn:
        kept = conn.execute(select(t.c.nonce).where(t.c.device_id == device_id)).first()
        if kept is not None:
            if kept[0] != nonce:
                conn.execute(update(t).where(t.c.device_id == device_id).values(**values))
            return
        try:
            with conn.begin_nested():
                conn.execute(t.insert().values(device_id=device_id, **values))
        except IntegrityError:  # the same device twice at once: the first one stands
            pass


def reveal(engine: Engine, device_id: str, operator: str) -> dict[str, Any] | None:
    """The device's recovery code for IT, recorded as read; None when it has none."""
    t = db.recovery_shares
    now = db.now_iso()
    with engine.begin() as conn:
        row = conn.execute(select(t).where(t.c.device_id == device_id)).mappings().first()
        if row is None:
            return None
        conn.execute(update(t).where(t.c.device_id == device_id)
                     .values(revealed_at=now, revealed_by=operator[:100]))
    return {"device_id": device_id, "code": row["code"], "escrowed_at": row["escrowed_at"],
            "previously_revealed_at": row["revealed_at"],
            "previously_revealed_by": row["revealed_by"]}
