"""Nothing personal, and no key, ever reaches the disk in the clear.

Writes a unique marker through every path the core has (records, outbox, audit,
blobs, backups, settings, logs), then scans every byte of every file under the
data directory, with the session open (WAL and shared-memory files present) and
again after locking.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from fieldclient.fieldwork import households
from fieldclient.paths import DataPaths
from fieldclient.security import crypto
from fieldclient.security.blobs import BlobStore
from fieldclient.settings import Settings, load_settings, save_settings
from fieldclient.storage import store
from fieldclient.storage.session import Session, unlock_device

PIN = "246810"  # as in conftest.py
MARKER = "独一无二标记ZXQ-7734"
ID_NUMBER = "ZXQ7734199001011234"
PHONE = "13977340000"


def _forms(text: str) -> list[bytes]:
    """Every way the text could plausibly be spelled out in a file."""
    forms = {
        text.encode("utf-8"),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        json.dumps(text).strip('"').encode("ascii"),  # JSON with \\u escapes
    }
    return sorted(forms)


NEEDLES: list[bytes] = [
    *_forms(MARKER),
    *_forms("独一无二标记"),
    *_forms("ZXQ-7734"),  # the ASCII tail alone: survives any escaping of the Chinese
    *_forms(ID_NUMBER),
    *_forms(PHONE),
]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _leaks(root: Path, needles: Iterable[bytes]) -> list[tuple[str, bytes]]:
    found = []
    for path in _files(root):
        content = path.read_bytes()
        found += [(str(path.relative_to(root)), n) for n in needles if n in content]
    return found


def _key_needles(session: Session) -> list[bytes]:
    dek = bytes(session._dek or b"")
    assert len(dek) == 32
    keys = [dek, store.database_key(dek), crypto.subkey(dek, b"gridfield blobs v1")]
    return [form for key in keys for form in (key, key.hex().encode(), key.hex().upper().encode())]


def test_nothing_personal_or_secret_on_disk(
    session: Session, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = DataPaths(data_dir)
    key_needles = _key_needles(session)

    # A backup first: it checkpoints the WAL, so everything after stays in the WAL.
    households.create_household(session, "前任户主", "旧地址")
    store.backup(session.db, paths.database, paths.backups, "before-marker")

    household = households.create_household(
        session,
        head_name=MARKER,
        address=MARKER + "路1号",
        phone=PHONE,
        id_number=ID_NUMBER,
        tags=[MARKER],
    )
    with session.db.conn:
        session.db.execute(
            "INSERT INTO members (id, household_id, name, id_number, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            ("m1", household, MARKER, ID_NUMBER, 0.0),
        )
        session.db.execute("INSERT INTO meta (key, value) VALUES ('note', ?)", (MARKER,))
    assert households.reveal_field(session, household, "id_number") == ID_NUMBER
    session.record_export("households", "/media/usb/" + MARKER + ".csv", 1)
    blob_id = session.blobs.put(("照片:" + MARKER).encode("utf-8") * 100)
    assert MARKER.encode() in session.blobs.get(blob_id)
    save_settings(paths.settings, Settings(language="en", text_scale=1.25))
    assert load_settings(paths.settings).language == "en"

    # Logging: the core logs nothing personal; route any records to data_dir/logs anyway.
    paths.logs.mkdir(exist_ok=True)
    handler = logging.FileHandler(paths.logs / "core.log", encoding="utf-8")
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        households.get_household(session, household)
        households.reveal_field(session, household, "phone")
        session.audit.verify()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert all(MARKER not in r.getMessage() for r in caplog.records)

    # The data really is there, readable through the key...
    assert session.db.execute(
        "SELECT count(*) FROM households WHERE head_name = ?", (MARKER,)
    ).fetchone() == (1,)
    # ...and the session is open with a live WAL holding it.
    wal = Path(f"{paths.database}-wal")
    shm = Path(f"{paths.database}-shm")
    assert wal.exists() and wal.stat().st_size > 0 and shm.exists()
    names = {p.name for p in _files(data_dir)}
    assert {"vault.json", "gridfield.db", "gridfield.db-wal", "settings.json"} <= names
    assert any(paths.backups.iterdir()) and any(paths.blobs.rglob("*"))

    assert _leaks(data_dir, NEEDLES) == []
    assert _leaks(data_dir, key_needles) == []

    session.close()
    assert _leaks(data_dir, NEEDLES) == []
    assert _leaks(data_dir, key_needles) == []
    assert not [p for p in _files(data_dir) if p.name.endswith(".tmp")]

    # A later unlock (migrations, pending audit, checkpoint) leaks nothing either.
    with unlock_device(data_dir, PIN) as again:
        assert households.get_household(again, household)["head_name"] == MARKER
        assert _leaks(data_dir, NEEDLES) == []
    assert _leaks(data_dir, NEEDLES) == []
    assert _leaks(data_dir, key_needles) == []


def test_scanner_would_see_a_leak(tmp_path: Path) -> None:
    """The scan itself works: plain files with the marker are found in every spelling."""
    for i, needle in enumerate(_forms(MARKER)):
        (tmp_path / f"f{i}").write_bytes(b"prefix" + needle + b"suffix")
    found = _leaks(tmp_path, _forms(MARKER))
    assert len(found) >= len(_forms(MARKER))


def test_blob_files_hide_their_content(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, crypto.random_key())
    blobs.put(MARKER.encode("utf-8") * 1000)
    blobs.put(MARKER.encode("utf-16-le") * 1000)
    assert _leaks(tmp_path, NEEDLES) == []
