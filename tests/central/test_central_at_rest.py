"""The centre at rest (issue 12, fault 5): sensitive columns and photos sealed with keys
kept outside the database, files 0600 (directories 0700), the server refusing to start
without its key, key rotation, migration 12 sealing a database kept in the clear, and
every operator read through ``central`` audited. Real servers, SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from central_helpers import (
    CENTRAL,
    REPO,
    Device,
    central,
    central_json,
    seeded_database,
    start_server,
    stop_process,
)
from sqlalchemy import Engine, select, text

from central import atrest, db, ops
from central.photos import PhotoStore
from central.shared.blobs import photo_files
from sync import protocol

NARRATIVE = "走访记录：户主诉说邻里纠纷已调解完毕，暂无新情况ZQX7"
NEW_ID = "330205199001011239"  # checksum-valid (make_id_number)
NEW_PHONE = "13912345678"
TAG = "易肇事肇祸精神障碍患者"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(40_000) + b"\xff\xd9"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _push(dev: Device, ops_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = json.dumps({"ops": ops_}, ensure_ascii=False).encode()
    resp = dev.request("POST", protocol.SYNC_PUSH_PATH, body=body,
                       extra_headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["results"])


def _op(kind: str, payload: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
    rid = record_id or str(uuid.uuid4())
    return {"op_id": uuid.uuid4().hex, "kind": kind, "record_id": rid, "base_version": None,
            "payload": {"id": rid, **payload} if kind != "household.create" else payload}


def _upload(dev: Device, data: bytes, chunk: int = 16 * 1024) -> None:
    sha = hashlib.sha256(data).hexdigest()
    for offset in range(0, len(data), chunk):
        piece = data[offset:offset + chunk]
        resp = dev.request("PUT", protocol.PHOTO_CHUNK_PATH.format(sha256=sha),
                           params={"offset": offset, "total": len(data)}, body=piece,
                           extra_headers={protocol.HEADER_CHUNK_SHA256:
                                          hashlib.sha256(piece).hexdigest()})
        assert resp.status_code == 200, resp.text


class Centre:
    def __init__(self, backend: str, workdir: Path, db_url: str, demo: dict[str, Any]) -> None:
        self.backend, self.workdir, self.db_url, self.demo = backend, workdir, db_url, demo
        self.photo_dir = workdir / "photos"
        # PostgreSQL keeps photos in the database (servers on several machines), SQLite in
        # the directory: both photo stores sealed alike
        self.photo_store = "database" if backend == "postgresql" else "dir"
        self.key_file = Path(str(db.sqlite_path(db_url)) + ".keys.json") if backend == "sqlite" \
            else REPO / "central-keys.json"
        self.engine = db.make_engine(db_url)
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> None:
        self.proc, self.base = start_server(self.db_url, self.workdir,
                                            "--photo-dir", str(self.photo_dir),
                                            "--photo-store", self.photo_store)

    def photos(self, engine: Engine | None = None) -> PhotoStore:
        """The photo store as the server keeps it (with ``engine``'s keys)."""
        engine = engine or self.engine
        return PhotoStore(photo_files(self.photo_store, engine, self.photo_dir),
                          keys=db.keyring(engine))

    def photo_files(self) -> list[tuple[str, bytes]]:
        """Each kept photo file (partial uploads too) as the bytes it is stored as."""
        files = self.photos().files
        out = []
        for name, _ in files.listing():
            with files.open(name) as fh:
                out.append((name, fh.read()))
        return out

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def device(self, person_id: int) -> Device:
        dev = Device(self.base)
        assert dev.enroll(ops.create_enrollment_code(self.engine, person_id)["code"]
                          ).status_code == 200
        return dev


@pytest.fixture(params=["sqlite", "postgresql"])
def centre(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Centre]:
    db_url, demo = seeded_database(request.param, tmp_path, request)
    c = Centre(request.param, tmp_path, db_url, demo)
    c.start()
    try:
        yield c
    finally:
        c.stop()
        c.engine.dispose()


def _synced(c: Centre) -> dict[str, Any]:
    """A worker's device registers a household, records a visit with a narrative, sends
    a photo; returns what it sent."""
    grid = c.demo["grids"][0]
    dev = c.device(grid["workers"][0])
    hid = str(uuid.uuid4())
    sha = hashlib.sha256(JPEG).hexdigest()
    results = _push(dev, [
        _op("household.create", {"grid_id": grid["id"], "head_name": "测试户主甲",
                                 "address": "勤勇村9组99号", "category": "key",
                                 "phone": NEW_PHONE, "id_number": NEW_ID, "tags": [TAG]},
            record_id=hid),
        _op("visit.create", {"household_id": hid, "grid_id": grid["id"], "visit_type": "home",
                             "visited_at": 1_700_000_000, "situation": NARRATIVE}),
        _op("photo.meta", {"grid_id": grid["id"], "sha256": sha}),
    ])
    assert [r["status"] for r in results] == ["applied"] * 3, results
    _upload(dev, JPEG)
    return {"device": dev, "household_id": hid, "sha": sha, "grid": grid}


def _known_strings(engine: Engine) -> set[str]:
    """Names, ID numbers, phones, special-group tags and narratives the centre holds,
    read through its keys."""
    found: set[str] = {NARRATIVE, NEW_ID, NEW_PHONE, TAG}
    with engine.connect() as conn:
        for r in conn.execute(select(db.households)).mappings():
            found.update(v for v in (r["head_name"], r["phone"], r["id_number"]) if v)
            found.update(r["tags"])
        for r in conn.execute(select(db.members)).mappings():
            found.update(v for v in (r["name"], r["phone"], r["id_number"]) if v)
        for r in conn.execute(select(db.events.c.description)):
            found.add(r[0])
        # the key that signs wipes, and PIN recovery shares
        found.update(r[0] for r in conn.execute(select(db.server_keys.c.private_key)))
        found.update(r[0] for r in conn.execute(select(db.recovery_shares.c.code)))
    return {s for s in found if len(s.encode()) >= 6}  # too short a string matches by chance


def _raw_text(c: Centre) -> list[bytes]:
    """What someone with the database (and not the key) sees: the SQLite file and its
    WAL as bytes, or every PostgreSQL table's rows as text."""
    if c.backend == "sqlite":
        path = db.sqlite_path(c.db_url)
        assert path is not None
        return [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
    import psycopg

    out = []
    with psycopg.connect(c.db_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                out.append(repr(row).encode("utf-8") + json.dumps(
                    [str(v) for v in row], ensure_ascii=False).encode())
    return out


def _hits(blobs: list[bytes], needles: set[str]) -> list[str]:
    return sorted({n for n in needles for b in blobs if n.encode() in b})


def test_nothing_sensitive_is_kept_in_the_clear(centre: Centre) -> None:
    sent = _synced(centre)
    needles = _known_strings(centre.engine)
    assert len(needles) > 50 and TAG in needles
    assert _hits(_raw_text(centre), needles) == []
    # the photo: a sealed file, no JPEG header, no byte run of the picture (on disk or
    # in the database's rows)
    files = [(n, raw) for n, raw in centre.photo_files() if n != ".sealed"]
    assert [n for n, _ in files] == [f"{sent['sha'][:2]}/{sent['sha']}"]
    for name, raw in files:
        assert raw.startswith(atrest.FILE_MAGIC), name
        assert b"\xff\xd8\xff" not in raw and JPEG[20:60] not in raw, name
    if centre.photo_store == "dir":
        for path in centre.photo_dir.rglob("*"):
            if path.is_file():
                assert _mode(path) == 0o600, path
        for path in [centre.photo_dir, *(p for p in centre.photo_dir.rglob("*") if p.is_dir())]:
            assert _mode(path) == 0o700, path
    else:
        assert not centre.photo_dir.exists()  # nothing on this machine's disk
    assert _mode(centre.key_file) == 0o600
    if centre.backend == "sqlite":
        path = db.sqlite_path(centre.db_url)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if p.exists():
                assert _mode(p) == 0o600, p
    # the centre itself still reads it all, and devices still pull it in plain
    assert centre.photos().read(sent["sha"]) == JPEG
    other = centre.device(sent["grid"]["workers"][1])
    resp = other.get(protocol.SYNC_PULL_PATH, params={"after": 0, "limit": 1000})
    assert resp.status_code == 200
    pulled = {ch["id"]: ch["data"] for ch in resp.json()["changes"]}
    assert pulled[sent["household_id"]]["id_number"] == NEW_ID
    assert pulled[sent["household_id"]]["tags"] == [TAG]
    # pulled rows as before migration 12: the centre's blind index stays at the centre
    assert "id_number_bidx" not in json.dumps(resp.json())
    visits = [d for d in pulled.values() if d.get("situation") == NARRATIVE]
    assert len(visits) == 1
    found = central_json(centre.db_url, "household", "find", "--id-number", NEW_ID)
    assert [r["household_id"] for r in found] == [sent["household_id"]] * len(found)
    assert {r["match"] for r in found} == {"head"}


def test_the_server_refuses_to_start_without_its_key(centre: Centre) -> None:
    centre.stop()
    hidden = centre.workdir / "keys-elsewhere.json"
    shutil.move(centre.key_file, hidden)
    try:
        env = {**os.environ, atrest.KEY_FILE_ENV: ""}
        env.pop(atrest.KEY_FILE_ENV)
        serve = subprocess.run(
            [*CENTRAL, "--db", centre.db_url, "serve", "--port", "0"],
            capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
        assert serve.returncode == 2 and "key" in serve.stderr, serve.stderr
        assert "does not exist" in serve.stderr
        listing = central(centre.db_url, "event", "list", check=False)
        assert listing.returncode == 2 and "sealed data" in listing.stderr
        # `central init` does not make a new key for a database sealed with another
        again = central(centre.db_url, "init", check=False)
        assert again.returncode == 2 and not centre.key_file.exists()
        # a wrong key file (another database's) is refused as well
        other = centre.workdir / "other.db"
        central(f"sqlite:///{other}", "init")
        wrong = central(centre.db_url, "--key-file", f"{other}.keys.json", "stats", check=False)
        assert wrong.returncode == 2 and "key" in wrong.stderr, wrong.stderr
        # the right one, given where it is now
        ok = central(centre.db_url, "--key-file", str(hidden), "stats", "--json")
        assert json.loads(ok.stdout)["households"]
    finally:
        shutil.move(hidden, centre.key_file)


def test_rotation_reseals_everything_and_drops_the_old_key(centre: Centre) -> None:
    sent = _synced(centre)
    old = json.loads(centre.key_file.read_text())["current"]
    before = central_json(centre.db_url, "event", "list")
    result = json.loads(central(centre.db_url, "keys", "rotate", "--settle", "1.2",
                                "--batch", "7", "--photo-dir", str(centre.photo_dir),
                                "--photo-store", centre.photo_store, "--json").stdout)
    assert result["retired"] == [old] and result["rows_resealed"] > 50
    keys = json.loads(centre.key_file.read_text())
    new = keys["current"]
    assert new != old and list(keys["keys"]) == [new] and _mode(centre.key_file) == 0o600
    raw = _raw_text(centre)
    assert not any(f"gf1:{old}:".encode() in b for b in raw)
    assert any(f"gf1:{new}:".encode() in b for b in raw)
    assert result["photos"]["resealed"] == 1, result
    files = centre.photo_files()
    assert files and all(raw.startswith(atrest.header(new)) for _, raw in files), files
    # everything still reads: the CLI, the photo, the running server (it re-read the key
    # file), the blind index
    assert central_json(centre.db_url, "event", "list") == before
    fresh = db.make_engine(centre.db_url)
    try:
        assert centre.photos(fresh).read(sent["sha"]) == JPEG
    finally:
        fresh.dispose()
    other = centre.device(sent["grid"]["workers"][1])  # visits of other devices come down
    resp = other.get(protocol.SYNC_PULL_PATH, params={"after": 0, "limit": 1000})
    assert resp.status_code == 200
    assert any(ch["data"].get("situation") == NARRATIVE for ch in resp.json()["changes"])
    visit = _push(sent["device"], [_op("visit.create", {
        "household_id": sent["household_id"], "grid_id": sent["grid"]["id"],
        "visit_type": "phone", "visited_at": 1_700_000_100, "situation": "轮换后ZQX8"})])
    assert visit[0]["status"] == "applied"
    found = central_json(centre.db_url, "household", "find", "--id-number", NEW_ID)
    assert found and found[0]["household_id"] == sent["household_id"]
    centre.stop()
    centre.start()  # starts with the rotated key file


def test_each_sensitive_read_is_audited(centre: Centre) -> None:
    grid = centre.demo["grids"][0]
    events = central_json(centre.db_url, "event", "list")
    task = central_json(centre.db_url, "task", "push", "--grid", str(grid["id"]),
                        "--title", "核查", "--body", "核查重点人员")
    with centre.engine.connect() as conn:
        member_id = conn.execute(select(db.members.c.id_number).where(
            db.members.c.id_number.is_not(None)).limit(1)).scalar()
    movable = next(e for e in events if e["status"] in ("reported", "accepted", "dispatched",
                                                         "in_progress"))
    commands = [
        ["event", "show", events[0]["id"]],
        ["task", "list"],
        ["task", "show", task["id"]],
        ["stats"],
        ["devices"],
        ["household", "find", "--id-number", str(member_id)],
        ["event", "advance", movable["id"], "--to", "returned", "--json"],
    ]
    for args in commands:
        central(centre.db_url, *args)
    log = central_json(centre.db_url, "audit")
    assert [e["command"] for e in log] == [
        "event list", "event show", "task list", "task show", "stats", "devices",
        "household find", "event advance"]
    by_command = {e["command"]: e for e in log}
    assert by_command["event show"]["records"] == [events[0]["id"]]
    assert len(by_command["event list"]["records"]) == len(events)
    assert task["id"] in by_command["task list"]["records"]
    assert by_command["household find"]["records"]
    assert str(member_id) not in json.dumps(log)  # the ID number asked for: its index only
    user = log[0]["os_user"]
    assert user and all(e["os_user"] == user and e["at"] for e in log)
    since = central_json(centre.db_url, "audit", "--since", log[-1]["at"])
    assert since and since[0]["id"] == log[-1]["id"]
    # append-only: the database refuses to change or delete an entry
    for statement in ("UPDATE operator_audit SET os_user = 'nobody'",
                      "DELETE FROM operator_audit"):
        with pytest.raises(Exception, match="append-only"), centre.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(central_json(centre.db_url, "audit")) == len(log)


def test_migration_12_seals_a_database_kept_in_the_clear(
        request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for backend in ("sqlite", "postgresql"):
        _migrate_plain(backend, request, tmp_path / backend, monkeypatch)


def _migrate_plain(backend: str, request: pytest.FixtureRequest, workdir: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    workdir.mkdir()
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'central.db'}"
        key_file = workdir / "central.db.keys.json"
    else:
        url = request.getfixturevalue("pg_server").new_database()
        key_file = workdir / "pg-keys.json"
    engine = db.make_engine(url, key_file=key_file)
    try:
        monkeypatch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:10])
        db.migrate(engine)
        monkeypatch.undo()
        assert not key_file.exists()
        payload = json.dumps({"situation": NARRATIVE, "id_number": NEW_ID}, ensure_ascii=False)
        with engine.begin() as conn:  # as a centre before migration 12 kept them
            conn.execute(text("INSERT INTO org_units (id, level, name) VALUES (1, 'grid', 'g')"))
            conn.execute(text(
                "INSERT INTO households (id, grid_id, head_name, address, category, phone,"
                " id_number, tags, version, updated_seq) VALUES ('h1', 1, '测试户主乙',"
                " '兴庄村1号', 'key', :phone, :idn, :tags, 1, 1)"),
                {"phone": NEW_PHONE, "idn": NEW_ID, "tags": json.dumps([TAG], ensure_ascii=False)})
            conn.execute(text(
                "INSERT INTO members (id, household_id, name, relation, id_number, phone,"
                " residence) VALUES ('m1', 'h1', '测试户主乙', '户主', :idn, :phone,"
                " 'registered')"), {"phone": NEW_PHONE, "idn": NEW_ID})
            conn.execute(text(
                "INSERT INTO records (kind, id, grid_id, device_id, person_id, content_hash,"
                " payload, seq, received_at) VALUES ('visit.create', 'v1', 1, 'd', 1, 'x',"
                " :p, 2, 't')"), {"p": payload})
            conn.execute(text(
                "INSERT INTO records (kind, id, grid_id, device_id, person_id, content_hash,"
                " payload, seq, received_at) VALUES ('photo.meta', 'p1', 1, 'd', 1, 'y',"
                " :p, 3, 't')"), {"p": json.dumps({"sha256": "AB" * 32})})
        before, after = db.migrate(engine)
        assert (before, after) == (10, db.LATEST_VERSION)
        assert _mode(key_file) == 0o600
        [backup] = [p for p in key_file.parent.iterdir() if ".pre-12-" in p.name] if \
            backend == "postgresql" else list(workdir.glob("central.db.pre-12-*.bak.sealed"))
        assert _mode(backup) == 0o600
        assert NEW_ID.encode() not in backup.read_bytes()
        with open(backup, "rb") as fh:  # the key opens it: the whole database as it was
            plain = b"".join(atrest.read_plain(db.keyring(engine), fh, f"backup:{backup.name}"))
        assert NEW_ID.encode() in plain
        with engine.connect() as conn:
            hh = conn.execute(select(db.households)).mappings().one()
            assert (hh["id_number"], hh["phone"], hh["tags"]) == (NEW_ID, NEW_PHONE, [TAG])
            assert hh["id_number_bidx"] == db.keyring(engine).index(NEW_ID)
            rec = {r["id"]: r for r in conn.execute(select(db.records)).mappings()}
            assert rec["v1"]["payload"]["situation"] == NARRATIVE
            assert rec["p1"]["photo_sha256"] == "ab" * 32
            raw = [repr(r).encode() for t in db.SEALED_COLUMNS
                   for r in conn.execute(text(f"SELECT * FROM {t}"))]
        needles = {NEW_ID, NEW_PHONE, TAG, NARRATIVE, "测试户主乙"}
        assert _hits(raw, needles) == []
        if backend == "sqlite":  # nor on any free page or in the WAL (compacted)
            files = [p.read_bytes() for p in workdir.glob("central.db*")
                     if ".pre-12-" not in p.name]
            assert _hits(files, needles) == []
    finally:
        engine.dispose()


def test_a_migration_filling_a_gap_still_runs(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Migration 12 was numbered while 11 was being written: a database migrated by a
    build without 11 (a gap) gets 11 later from one with it. The runner applies every
    missing number, not only those above the highest."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    ran: list[int] = []
    numbers = [n for n, _ in db.MIGRATIONS]
    gap = 11 if 11 in numbers else numbers[-2]
    steps = dict(db.MIGRATIONS)
    try:
        monkeypatch.setattr(db, "MIGRATIONS", [m for m in db.MIGRATIONS if m[0] != gap])
        assert db.migrate(engine) == (0, db.LATEST_VERSION)
        with engine.connect() as conn:
            assert db.pending_versions(conn) == []
            assert gap not in db.applied_versions(conn)
        monkeypatch.undo()

        def step(conn: Any) -> None:
            ran.append(gap)
            steps[gap](conn)

        monkeypatch.setattr(db, "MIGRATIONS", sorted(
            [(n, step if n == gap else s) for n, s in db.MIGRATIONS], key=lambda m: m[0]))
        with engine.connect() as conn:
            assert db.pending_versions(conn) == [gap]
        assert db.migrate(engine) == (db.LATEST_VERSION, db.LATEST_VERSION)
        assert ran == [gap]
        with engine.connect() as conn:
            assert db.pending_versions(conn) == []
            assert db.applied_versions(conn) == set(numbers)
    finally:
        engine.dispose()


def test_photos_kept_in_the_clear_are_sealed_when_the_server_starts(tmp_path: Path) -> None:
    db_url, _demo = seeded_database("sqlite", tmp_path, None)
    sha = hashlib.sha256(JPEG).hexdigest()
    legacy = tmp_path / "photos" / sha[:2] / sha
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(JPEG)
    os.chmod(legacy, 0o644)
    proc, base = start_server(db_url, tmp_path, "--photo-dir", str(tmp_path / "photos"))
    try:
        assert requests.get(base + "/api/v1/health", timeout=5).status_code == 200
        raw = legacy.read_bytes()
        assert raw.startswith(atrest.FILE_MAGIC) and b"\xff\xd8\xff" not in raw
        assert _mode(legacy) == 0o600 and _mode(tmp_path / "photos") == 0o700
        engine = db.make_engine(db_url)
        assert PhotoStore(tmp_path / "photos", keys=db.keyring(engine)).read(sha) == JPEG
        engine.dispose()
    finally:
        stop_process(proc)
