"""The centre's identity towards its devices: the Ed25519 key that signs commands.

Created on first use and kept in ``server_keys``; its public half goes to every device
at enrollment (``server_key`` in the answer, its fingerprint in the enrollment QR) and
a device carries out only commands that verify with it (``sync.protocol``, "commands
from the centre"). Whoever can write this table can sign commands: it is the same
trust as being able to revoke devices.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from central import db
from sync import protocol

_NAME = "command"


def _key(conn: Connection) -> Ed25519PrivateKey:
    table = db.server_keys
    row = conn.execute(select(table.c.private_key).where(table.c.name == _NAME)).first()
    if row is not None:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(str(row[0])))
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(
                name=_NAME, private_key=raw.hex(),
                public_key=base64.b64encode(public).decode("ascii"), created_at=db.now_iso()))
    except IntegrityError:  # another request made it first: use that one
        return _key(conn)
    return key


def public_key_b64(conn: Connection) -> str:
    public = _key(conn).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(public).decode("ascii")


def signed_command(conn: Connection, device_id: str, kind: str, counter: int = 1,
                   **extra: str) -> dict[str, Any]:
    command = {"kind": kind, "device_id": device_id, "counter": counter,
               "issued_at": db.now_iso(), **extra}
    signature = _key(conn).sign(protocol.command_message(command))
    return {"command": command, "signature": base64.b64encode(signature).decode("ascii")}


def wipe_command(conn: Connection, device_id: str, upload_until: str | None = None
                 ) -> dict[str, Any]:
    """The signed wipe for a revoked device: made once, then the same one each time.
    ``upload_until``: the device sends what it holds before erasing (until then)."""
    table = db.device_commands
    row = conn.execute(select(table.c.command).where(table.c.device_id == device_id)).first()
    if row is not None:
        return dict(row[0])
    extra = {} if upload_until is None else {"upload_until": upload_until}
    signed = signed_command(conn, device_id, protocol.COMMAND_WIPE, **extra)
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(device_id=device_id, command=signed,
                                              created_at=db.now_iso()))
    except IntegrityError:
        return wipe_command(conn, device_id)
    return signed
