"""After ``Session.close()`` (lock) no key is left in the process's memory (issue 12,
fault 1): not the DEK, the SQLCipher key (raw, or as the hex of ``PRAGMA key``), the
blob master key, the device's Ed25519 signing key (raw, or the hex kept in ``meta``), nor
the PIN. The scan reads this process's own memory (tests/memscan.py)."""

from __future__ import annotations

import gc
import secrets
from pathlib import Path

import memscan
import pytest

from fieldclient.fieldwork.enrollment import META_PREFIX, signing_key
from fieldclient.security import crypto
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage import store
from fieldclient.storage.session import setup_device, unlock_device

pytestmark = pytest.mark.skipif(not memscan.supported(), reason="reads /proc/self/mem (Linux)")


def _random_pin(length: int = 12) -> str:
    # 12 random digits: a 6-digit string turns up by chance in a process's memory
    return "".join("0123456789"[secrets.randbelow(10)] for _ in range(length))


def test_nothing_of_an_unlocked_session_is_left_after_close(
    data_dir: Path, fast_kdf: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's own handling of keys, with SQLite's freed memory wiped (memory
    security on): what is found is a copy the app made (store.connect says why memory
    security is off by default)."""
    monkeypatch.setenv("GRIDFIELD_SQLCIPHER_MEMORY_SECURITY", "on")
    arena = memscan.Arena()
    pin = _random_pin()
    codes = bytearray(map(ord, pin))
    arena.add_secret("PIN", codes, text=True)
    crypto.wipe(codes)
    setup_device(data_dir, pin, store=FileSecretStore(data_dir)).close()

    session = unlock_device(data_dir, pin)
    crypto.wipe_str(pin)  # the test's own copy: what the app keeps is what is scanned
    del pin
    assert session._dek is not None
    arena.add_secret("DEK", session._dek)
    db_key = store.database_key(session._dek)
    arena.add_secret("SQLCipher key", db_key)
    crypto.wipe(db_key)
    arena.add_secret("blob master key", session.blobs._master)

    # an enrolled device's signing key, stored the way enrollment stores it (hex)
    raw = bytearray(secrets.randbits(8) for _ in range(32))
    arena.add_secret("Ed25519 signing key", raw)
    with session.db.conn:
        session.db.execute("INSERT INTO meta (key, value) VALUES (?, lower(hex(?)))",
                           (META_PREFIX + "private_key", raw))
    crypto.wipe(raw)

    # the unlocked work: blobs in and out, a signature, a second connection (sync)
    blob_id = session.blobs.put(b"photo bytes" * 100)
    assert session.blobs.get(blob_id).startswith(b"photo bytes")
    key = signing_key(session)
    assert key is not None
    key.sign(b"a request")
    del key
    fork = session.fork()
    fork.records_by_kind()
    fork.close()
    session.records_by_kind()

    session.close()
    del session, fork
    gc.collect()

    try:
        left = memscan.found(memscan.scan(arena))
    finally:
        arena.close()
    assert left == {}
