"""The cheap no-op sync (issue 16): a pull with nothing new is one read after the
signature check's one read, writes nothing; a signed GET writes nothing (its replay
inside the window is answered, a replayed POST is refused); last contacts are written
in batches; revocation still bites at the next request. Against a real server on
loopback (uvicorn in this process, so the statements it runs can be counted) on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from central_helpers import (
    Device,
    central_json,
    seeded_database,
    served_in_thread,
    start_server,
    stop_process,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event, select, update

from central import db, ops, syncops
from central.app import PullOut, create_app, empty_page_json
from central.fastpath import noop
from central.limits import Limits
from sync import protocol


@dataclass
class Live:
    base: str
    db_url: str
    demo: dict[str, Any]
    engine: Engine
    app: Any
    statements: list[tuple[str, str]] = field(default_factory=list)  # (thread, SQL)

    def grid(self, i: int) -> dict[str, Any]:
        return dict(self.demo["grids"][i])

    def device(self, person_id: int) -> Device:
        code = ops.create_enrollment_code(self.engine, person_id)["code"]
        dev = Device(self.base)
        assert dev.enroll(code).status_code == 200
        return dev

    def requests_sql(self) -> list[str]:
        """The statements the server's request threads ran (not the contact flush), the
        shared rate limits left out: on PostgreSQL a token taken and a look, in
        ``rate_buckets``, an UNLOGGED table (no WAL, nothing flushed per request), kept
        apart so N server processes give a device its rate once (central/shared/); what
        is counted here is the durable work of a sync (:meth:`rate_sql` is the rest).
        Background work is left out too: the contact flush, and the first-pull snapshot
        an enrollment has built meanwhile (central/shared/snapshots.py, prewarm)."""
        return [sql for thread, sql in self.statements
                if not _background(thread) and "rate_buckets" not in sql]

    def rate_sql(self) -> list[str]:
        """The rate-limit statements of the request threads (a signed request's token
        taken with a look at its address's failures; none on SQLite, whose single
        process keeps them in memory)."""
        return [sql for thread, sql in self.statements
                if not _background(thread) and "rate_buckets" in sql]


def _background(thread: str) -> bool:
    return thread == "contact-flush" or thread.startswith("snapshot-warm")


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    db_url, demo = seeded_database(request.param, tmp_path, request)
    engine = db.make_engine(db_url)
    app = create_app(engine, photo_dir=tmp_path / "photos",
                     limits=Limits(contact_flush=getattr(request, "contact_flush", 0.5)))
    try:
        with served_in_thread(app) as base:
            live = Live(base, db_url, demo, engine, app)

            @event.listens_for(engine, "before_cursor_execute")
            def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                live.statements.append((threading.current_thread().name, statement))

            yield live
    finally:
        engine.dispose()


def _pull_to_head(dev: Device, after: int = 0) -> int:
    while True:
        resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": after, "limit": 500})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        after = page["next_after"]
        if not page["has_more"]:
            return int(after)


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements
            if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def test_a_noop_pull_is_two_reads_and_writes_nothing(live: Live) -> None:
    grid = live.grid(0)
    dev = live.device(grid["workers"][0])
    head = _pull_to_head(dev)
    live.statements.clear()
    resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": head, "limit": 500})
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["changes"] == [] and not page["has_more"] and page["next_after"] >= head
    assert page["grids"] == [{"id": grid["id"], "name": grid["name"]}]
    ran = live.requests_sql()
    # one read for the signature check (device, person's role, grids), and the look
    # with the grids' names in the same statement; no write, no transaction
    assert len(ran) <= 2, ran
    assert _writes(ran) == [], ran
    assert not any(s.strip().upper().startswith(("BEGIN", "COMMIT")) for s in ran), ran
    # the shared rate limits, UNLOGGED (not durable): the device's token and a look at
    # its address's failures, in one statement
    assert len(live.rate_sql()) <= 1, live.rate_sql()
    # on PostgreSQL the token is taken in the look's own statement: two in all
    assert len(ran) + len(live.rate_sql()) <= 2, (ran, live.rate_sql())


def test_a_renamed_grid_s_name_comes_with_the_next_noop_pull(live: Live) -> None:
    """The names are read with every look (not kept by the server): a rename at the
    centre reaches devices at their next pull, even when nothing else is new."""
    grid = live.grid(1)
    dev = live.device(grid["workers"][0])
    head = _pull_to_head(dev)
    with live.engine.begin() as conn:
        conn.execute(update(db.org_units).where(db.org_units.c.id == grid["id"])
                     .values(name="勤勇村第一网格（新）"))
    page = dev.get(protocol.SYNC_PULL_PATH, params={"after": head, "limit": 500}).json()
    assert page["changes"] == [] and page["next_after"] >= head
    assert page["grids"] == [{"id": grid["id"], "name": "勤勇村第一网格（新）"}]


@given(page=st.fixed_dictionaries({
    "next_after": st.integers(0, 2**62), "has_more": st.booleans(),
    "grids": st.lists(st.fixed_dictionaries(
        {"id": st.integers(1, 2**31 - 1), "name": st.text(max_size=100)}), max_size=5),
    "server_time": st.text(max_size=40),
    "unix_time": st.floats(allow_nan=False, allow_infinity=False)}))
@settings(max_examples=200, deadline=None)
def test_the_noop_answer_is_what_the_response_model_writes(page: dict[str, Any]) -> None:
    """The no-op pull's answer skips the response model (central.app.empty_page_json):
    it parses to exactly what PullOut validates and writes for the same page."""
    fast = json.loads(empty_page_json({**page, "changes": []}))
    model = json.loads(PullOut.model_validate({**page, "changes": []}).model_dump_json())
    assert fast == model


def test_after_a_noop_pull_moved_the_cursor_new_rows_still_arrive(live: Live) -> None:
    grid = live.grid(1)
    worker = live.device(grid["workers"][0])
    head = _pull_to_head(worker)
    cursor = worker.get(protocol.SYNC_PULL_PATH, params={"after": head}).json()["next_after"]
    assert cursor >= head
    task = ops.push_task(live.engine, grid["id"], "核查独居老人", "本周内", None)  # new row
    page = worker.get(protocol.SYNC_PULL_PATH, params={"after": cursor}).json()
    assert [c["id"] for c in page["changes"]] == [task["id"]], page
    # pulled: at the head again, a no-op of the cheap kind
    live.statements.clear()
    again = worker.get(protocol.SYNC_PULL_PATH, params={"after": page["next_after"]}).json()
    assert again["changes"] == [] and len(live.requests_sql()) <= 3
    # a task of another grid moves the feed but is not this device's: still cheap
    ops.push_task(live.engine, live.grid(2)["id"], "别的网格", "", None)
    live.statements.clear()
    other = worker.get(protocol.SYNC_PULL_PATH, params={"after": again["next_after"]}).json()
    assert other["changes"] == [] and len(live.requests_sql()) <= 3
    assert other["next_after"] > again["next_after"]  # past the other grid's row


def test_a_row_the_look_sees_but_the_pull_hides_costs_one_full_pull(live: Live) -> None:
    """A setting of another district's unit is newer for the look (it reads any
    setting) but not the device's: the full pull finds nothing and moves the cursor to
    the head, so the next pull is the cheap one again."""
    from central import settings

    grid = live.grid(0)
    worker = live.device(grid["workers"][0])
    head = _pull_to_head(worker)
    with live.engine.begin() as conn:  # a district of its own with a setting
        other = int(conn.execute(db.org_units.insert().values(
            name="另一区", level="county", parent_id=None)).inserted_primary_key[0])
    settings.set_setting(live.engine, settings.SUPPORT_CONTACT,
                         {"name": "另一区网格中心", "phone": "0574-11112222"}, org_unit_id=other)
    first = worker.get(protocol.SYNC_PULL_PATH, params={"after": head}).json()
    assert first["changes"] == [] and first["next_after"] > head
    live.statements.clear()
    second = worker.get(protocol.SYNC_PULL_PATH, params={"after": first["next_after"]}).json()
    assert second["changes"] == [] and len(live.requests_sql()) <= 3


def test_the_look_agrees_with_the_full_pull(live: Live) -> None:
    """From every cursor of a grid's feed the look says "newer" exactly when the full
    pull has rows (it may say so more often, never less)."""
    grid = live.grid(0)
    worker = live.device(grid["workers"][0])
    leader = live.device(grid["leader"])
    from central.app import AuthDevice

    for dev, role in ((worker, "worker"), (leader, "leader")):
        person = grid["workers"][0] if dev is worker else grid["leader"]
        auth = AuthDevice(dev.device_id, person, role, (grid["id"],))
        seqs = sorted({int(c["seq"]) for c in syncops.pull(live.engine, auth, 0, 10_000)
                       ["changes"]})
        for after in [0, *seqs]:
            full = syncops.pull(live.engine, auth, after, 500)["changes"]
            with live.engine.connect() as conn:
                newer, head = noop.look(conn, auth, auth.grids, after)
            assert newer or not full, (role, after)
            assert head >= seqs[-1]


def test_signed_gets_write_nothing_and_replays_are_answered(live: Live) -> None:
    grid = live.grid(0)
    dev = live.device(grid["workers"][0])
    nonce, ts = protocol.new_nonce(), int(time.time())
    live.statements.clear()
    first = dev.get("/api/v1/households", params={"grid": grid["id"]}, nonce=nonce,
                    timestamp=ts)
    replay = dev.get("/api/v1/households", params={"grid": grid["id"]}, nonce=nonce,
                     timestamp=ts)
    assert first.status_code == replay.status_code == 200 and first.json() == replay.json()
    assert _writes(live.requests_sql()) == []
    with live.engine.connect() as conn:
        kept = conn.execute(select(db.nonces.c.nonce).where(
            db.nonces.c.device_id == dev.device_id)).all()
    assert kept == []
    # a state-changing request keeps its nonce: its replay is refused, nothing twice
    body = json.dumps({"channel": "stable", "pending_ops": 3, "photos_waiting": 0,
                       "photo_bytes": 0, "secret_store": "keyring"}).encode()
    headers = {"content-type": "application/json"}
    post = dev.request("POST", protocol.DEVICE_STATUS_PATH, body=body, nonce=nonce,
                       timestamp=ts, extra_headers=headers)
    assert post.status_code == 200, post.text
    again = dev.request("POST", protocol.DEVICE_STATUS_PATH, body=body, nonce=nonce,
                        timestamp=ts, extra_headers=headers)
    assert again.status_code == 401 and again.json()["error"] == "replayed"
    # a forged GET (another key) is still refused
    forged = dev.get("/api/v1/households", params={"grid": grid["id"]},
                     key=Ed25519PrivateKey.generate())
    assert forged.status_code == 401 and forged.json()["error"] == "bad_signature"


def test_revocation_bites_at_the_next_get_and_its_wipe_is_not_replayed(live: Live) -> None:
    grid = live.grid(2)
    dev = live.device(grid["workers"][0])
    nonce, ts = protocol.new_nonce(), int(time.time())
    captured = {"nonce": nonce, "timestamp": ts}
    assert dev.get(protocol.SYNC_PULL_PATH, **captured).status_code == 200
    ops.revoke_device(live.engine, dev.device_id)
    wipe = dev.get(protocol.SYNC_PULL_PATH)
    assert wipe.status_code == 410 and wipe.json()["wipe"] is True
    # the GET captured while active, replayed now: refused, and no second wipe
    replayed = dev.get(protocol.SYNC_PULL_PATH, **captured)
    assert replayed.status_code == 401 and replayed.json()["error"] in ("revoked", "replayed")
    assert "wipe" not in replayed.json() or replayed.json().get("wipe") is not True
    after_wipe = dev.get(protocol.SYNC_PULL_PATH)
    assert after_wipe.status_code == 401 and after_wipe.json()["error"] == "revoked"
    assert after_wipe.json()["command"]  # the signed wipe, for a device that missed the 410


def test_last_contact_is_written_in_batches_and_the_fleet_view_shows_it(live: Live) -> None:
    grid = live.grid(1)
    dev = live.device(grid["workers"][0])
    before = db.now_iso()
    resp = dev.get(protocol.SYNC_PULL_PATH, extra_headers={
        protocol.HEADER_APP_VERSION: "3.1.4", protocol.HEADER_PROTOCOL: "5"})
    assert resp.status_code == 200
    book = live.app.state.contacts
    assert book is not None and book.interval == 0.5
    deadline = time.monotonic() + 5
    row: Any = None
    while time.monotonic() < deadline:
        row = next((d for d in central_json(live.db_url, "devices")
                    if d["device_id"] == dev.device_id), None)
        if row and row["last_contact"] and row["last_contact"] >= before:
            break
        time.sleep(0.1)
    assert row is not None and row["last_contact"] >= before, row
    assert (row["app_version"], row["protocol_level"]) == ("3.1.4", 5)
    # many requests, one flush: the last contact only moves forward
    for _ in range(5):
        assert dev.get(protocol.SYNC_PULL_PATH).status_code == 200
    noted = book.pending()
    assert noted <= 1
    book.flush()
    with live.engine.connect() as conn:
        stored = conn.execute(select(db.devices.c.last_contact, db.devices.c.feed_seq).where(
            db.devices.c.id == dev.device_id)).one()
    assert stored.last_contact >= row["last_contact"] and stored.feed_seq is not None
    # an older contact flushed late (another process) does not move it back
    book.note(dev.device_id, db.now_iso(), db.now_utc().replace(year=2020), {})  # old
    book.flush()
    with live.engine.connect() as conn:
        again = conn.execute(select(db.devices.c.last_contact).where(
            db.devices.c.id == dev.device_id)).scalar()
    assert again == stored.last_contact


def test_contacts_noted_are_written_at_shutdown(live: Live) -> None:
    dev = live.device(live.grid(0)["workers"][0])
    book = live.app.state.contacts
    book.interval = 3600.0  # only the shutdown writes now
    book._stop.set()
    assert dev.get(protocol.SYNC_PULL_PATH).status_code == 200
    assert book.pending() == 1
    book.close()
    with live.engine.connect() as conn:
        assert conn.execute(select(db.devices.c.last_contact).where(
            db.devices.c.id == dev.device_id)).scalar()


def test_connections_are_pooled_for_every_thread_and_never_reopened(live: Live) -> None:
    """The pool holds a connection per server thread (40) without a ping per checkout:
    40 requests at once, twice; the second round opens no connection."""
    import anyio.to_thread

    async def threads() -> int:
        return int(anyio.to_thread.current_default_thread_limiter().total_tokens)

    import asyncio

    assert live.engine.pool.size() == asyncio.run(threads()) == db.SERVER_THREADS
    assert not getattr(live.engine.pool, "_pre_ping", False)
    grid = live.grid(0)
    devices = [live.device(grid["workers"][0]) for _ in range(4)]
    opened: list[int] = []
    closed: list[int] = []
    event.listen(live.engine, "connect", lambda *_a: opened.append(1))
    event.listen(live.engine.pool, "close", lambda *_a: closed.append(1))
    event.listen(live.engine.pool, "close_detached", lambda *_a: closed.append(1))

    def one(dev: Device, codes: list[int]) -> None:
        for _ in range(5):
            codes.append(dev.get(protocol.SYNC_PULL_PATH, params={"after": 2**40}).status_code)

    def round_of_40() -> list[int]:
        codes: list[int] = []
        workers = [threading.Thread(target=one, args=(devices[i % 4], codes))
                   for i in range(40)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return codes

    first = round_of_40()
    second = round_of_40()
    assert set(first) == set(second) == {200}
    # each connection opened once and kept: none closed (overflow or recycled), never
    # more than a thread each (and the contact flush's)
    assert closed == [], f"{len(closed)} connections closed and opened again"
    assert len(opened) <= db.SERVER_THREADS + 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_stopped_server_writes_the_contacts_it_kept(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """``central serve`` stopped (SIGTERM) before its next flush writes what it noted."""
    db_url, demo = seeded_database(backend, tmp_path, request)
    proc, base = start_server(db_url, tmp_path, "--contact-flush", "600")
    engine = db.make_engine(db_url)
    try:
        code = ops.create_enrollment_code(engine, demo["grids"][0]["workers"][0])["code"]
        dev = Device(base)
        assert dev.enroll(code).status_code == 200
        assert dev.get(protocol.SYNC_PULL_PATH, extra_headers={
            protocol.HEADER_APP_VERSION: "7.7.7"}).status_code == 200
        with engine.connect() as conn:  # kept in memory for now
            assert conn.execute(select(db.devices.c.app_version).where(
                db.devices.c.id == dev.device_id)).scalar() is None
        stop_process(proc)
        assert proc.returncode is not None
        with engine.connect() as conn:
            row = conn.execute(select(db.devices.c.last_contact, db.devices.c.app_version)
                               .where(db.devices.c.id == dev.device_id)).one()
        assert row.last_contact and row.app_version == "7.7.7"
    finally:
        stop_process(proc)
        engine.dispose()


def test_a_first_pull_skips_the_look_unless_its_answer_is_empty(
        live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first pull (``after`` 0) has its grids' rows to get: no look before it. An empty
    first answer takes the head as its cursor only when the look, read after it, finds
    nothing newer (a row committed in between keeps the cursor where it was)."""
    from central.app import AuthDevice

    grid = live.grid(0)
    auth = AuthDevice("no-device", grid["workers"][0], "worker", (grid["id"],))
    looks: list[int] = []
    real_look = noop.look

    def counted(conn: Any, device: Any, grids: tuple[int, ...], after: int) -> Any:
        looks.append(after)
        return real_look(conn, device, grids, after)

    monkeypatch.setattr(noop, "look", counted)
    page = noop.pull(live.engine, auth, 0, 500)
    assert page["changes"] and looks == []

    def empty(_device: Any, after: int, _limit: int) -> dict[str, Any]:
        return {"changes": [], "next_after": after, "has_more": False, "grids": []}

    # the grid has rows newer than 0: the look says so, the cursor stays at 0
    assert noop.pull(live.engine, auth, 0, 500, full=empty)["next_after"] == 0
    assert looks == [0]
    # a grid the look finds nothing in: the head
    with live.engine.begin() as conn:
        bare = int(conn.execute(db.org_units.insert().values(
            name="空网格", level="grid", parent_id=None)).inserted_primary_key[0])
    nobody = AuthDevice("no-device", grid["workers"][0], "worker", (bare,))
    with live.engine.connect() as conn:
        head = noop.look(conn, nobody, (bare,), 0)[1]
    assert head > 0
    assert noop.pull(live.engine, nobody, 0, 500, full=empty)["next_after"] >= head


def _is_postgresql(live: Live) -> bool:
    return live.db_url.startswith("postgresql")


def test_a_known_device_s_noop_pull_is_one_statement(live: Live) -> None:
    """PostgreSQL: a device this process has checked in full (its key known,
    central.app.KnownDevices) makes its next no-op pull in one statement: the token,
    the look and the device's row to compare with what is known. SQLite keeps the
    rate limits in memory: two reads, as before."""
    grid = live.grid(0)
    dev = live.device(grid["workers"][0])
    head = _pull_to_head(dev)
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).status_code == 200
    live.statements.clear()
    page = dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).json()
    assert page["changes"] == [] and page["next_after"] >= head
    assert page["grids"] == [{"id": grid["id"], "name": grid["name"]}]
    every = live.requests_sql() + live.rate_sql()
    assert len(every) == (1 if _is_postgresql(live) else 2), every
    assert _writes(live.requests_sql()) == []


def test_a_known_device_moved_to_another_grid_is_looked_at_for_its_new_grid(
        live: Live) -> None:
    """Known with its grids; moved at the centre: the next no-op pull answers for the
    new grid (its name), not the grid the process knew."""
    old, new = live.grid(0), live.grid(1)
    worker = old["workers"][0]
    dev = live.device(worker)
    head = _pull_to_head(dev)
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).status_code == 200
    with live.engine.begin() as conn:
        conn.execute(update(db.grid_assignments)
                     .where(db.grid_assignments.c.person_id == worker)
                     .values(grid_id=new["id"]))
    page = dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).json()
    assert page["grids"] == [{"id": new["id"], "name": new["name"]}], page


def test_a_known_device_re_keyed_at_the_centre_cannot_sign_with_its_old_key(
        live: Live) -> None:
    """The key known here is only used if the device's row still holds it: a device
    whose key was replaced is refused for a request signed with the old one."""
    dev = live.device(live.grid(0)["workers"][0])
    head = _pull_to_head(dev)
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).status_code == 200
    other = Ed25519PrivateKey.generate()
    with live.engine.begin() as conn:
        conn.execute(update(db.devices).where(db.devices.c.id == dev.device_id)
                     .values(public_key=protocol.public_key_b64(other)))
    refused = dev.get(protocol.SYNC_PULL_PATH, params={"after": head})
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head},
                   key=other).status_code == 200


def test_a_known_device_revoked_gets_its_wipe_at_its_next_noop_pull(live: Live) -> None:
    dev = live.device(live.grid(2)["workers"][0])
    head = _pull_to_head(dev)
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).status_code == 200
    ops.revoke_device(live.engine, dev.device_id)
    wipe = dev.get(protocol.SYNC_PULL_PATH, params={"after": head})
    assert wipe.status_code == 410 and wipe.json()["wipe"] is True
    again = dev.get(protocol.SYNC_PULL_PATH, params={"after": head})
    assert again.status_code == 401 and again.json()["error"] == "revoked"


def test_a_known_device_given_another_role_is_known_anew(live: Live) -> None:
    """A worker made grid leader: the leader's look (its grid's patrols and devices) is
    used from the next pull on."""
    worker = live.grid(0)["workers"][0]
    dev = live.device(worker)
    head = _pull_to_head(dev)
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).status_code == 200
    with live.engine.begin() as conn:
        conn.execute(update(db.people).where(db.people.c.id == worker).values(role="leader"))
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": head}).status_code == 200
    known = live.app.state.known_devices.get(dev.device_id)
    assert known is not None and known.role == "leader"
