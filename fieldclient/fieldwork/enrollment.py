"""Who this device works for: the enrollment record the sync engine writes when the
centre accepts the device (server, device id, person, role, grids).

It lives in the encrypted ``meta`` table under ``sync.*`` keys. The domain reads it (a
role decides what may be revealed, the grids what is shown); only :mod:`sync` writes it,
which is why the key names and the accessors are here, below ``sync``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldclient.security import crypto
from fieldclient.storage.session import Session

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

META_PREFIX = "sync."


def meta_get(session: Session, key: str) -> str | None:
    """The value of ``sync.<key>`` in ``meta``, or None."""
    row = session.db.execute("SELECT value FROM meta WHERE key = ?", (META_PREFIX + key,))
    found = row.fetchone()
    return None if found is None else str(found[0])


def meta_set(session: Session, key: str, value: str) -> None:
    """Set ``sync.<key>``. Call inside the caller's transaction."""
    session.db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (META_PREFIX + key, value),
    )


def signing_key(session: Session) -> Ed25519PrivateKey | None:
    """The device's Ed25519 key from ``sync.private_key``, or None before enrollment.

    The hex is decoded inside SQLite (``unhex``), whose freed memory SQLCipher wipes, and
    the one ``bytes`` copy Python gets is wiped as soon as OpenSSL holds the key (which
    clears it when the key object goes). ``meta_get`` would leave the hex in a ``str``
    and ``bytes.fromhex`` a raw copy, both unwipeable, until the heap reuses them.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    row = session.db.execute(
        "SELECT unhex(value) FROM meta WHERE key = ?", (META_PREFIX + "private_key",)
    ).fetchone()
    if row is None or not isinstance(row[0], bytes):
        return None
    raw: bytes = row[0]
    del row
    try:
        return Ed25519PrivateKey.from_private_bytes(raw)
    finally:
        crypto.wipe_bytes(raw)


@dataclass(frozen=True)
class Enrollment:
    server_url: str
    device_id: str
    person_id: int
    person_name: str
    role: str
    grids: list[int]


def enrollment(session: Session) -> Enrollment | None:
    """The device's enrollment, or None before it has enrolled."""
    device_id = meta_get(session, "device_id")
    if device_id is None:
        return None
    person = json.loads(meta_get(session, "person") or "{}")
    return Enrollment(
        server_url=meta_get(session, "server_url") or "",
        device_id=device_id,
        person_id=int(person.get("id", 0)),
        person_name=str(person.get("name", "")),
        role=str(person.get("role", "")),
        grids=[int(g) for g in json.loads(meta_get(session, "grids") or "[]")],
    )


MAX_GRID_NAME = 100


def store_grid_names(session: Session, grids: Any) -> bool:
    """Keep the centre's names of the device's grids (``[{"id", "name"}]`` from a pull
    page; call inside the caller's transaction). Anything malformed is ignored (an
    older centre sends none). True when they changed."""
    if not isinstance(grids, list):
        return False
    names: dict[str, str] = {}
    for item in grids:
        if not isinstance(item, dict):
            return False
        grid_id, name = item.get("id"), item.get("name")
        if isinstance(grid_id, bool) or not isinstance(grid_id, int | str) or not isinstance(
                name, str) or not name.strip() or len(name) > MAX_GRID_NAME:
            return False
        names[str(grid_id)] = " ".join(name.split())
    text = json.dumps(names, ensure_ascii=False, sort_keys=True)
    if meta_get(session, "grid_names") == text:
        return False
    meta_set(session, "grid_names", text)
    return True


def grid_names(session: Session) -> dict[str, str]:
    """Grid id -> the centre's name (勤勇村第1网格) for the grids this device knows."""
    try:
        value = json.loads(meta_get(session, "grid_names") or "{}")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}
