"""The fleet view for IT (issue 14): ``central devices`` shows each device with its
person and grids, app version, update channel, last contact, the ops and photo bytes it
reported still waiting at its last sync, its audit log's state, its secret store and
whether it is revoked. Against a real ``central serve`` and real device syncs; hostile
values from an enrolled device are refused and change nothing; an older device (no
status) or an older centre (below level 5) still syncs, the status then unknown."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sync_helpers import LiveServer, _start_with, launch, new_grid

import fieldclient
from central import auditanchor, db, ops
from fieldclient.fieldwork.enrollment import meta_get
from fieldclient.fieldwork.simulate import simulate
from fieldclient.settings import UPDATE_CHANNELS, load_settings, save_settings
from sync import protocol
from sync.engine import STATUS_META, SyncEngine

CLI = [sys.executable, "-c", "import sys; from central.cli import main; "
       "sys.exit(main(sys.argv[1:]))"]


def _devices(live: LiveServer, *extra: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*CLI, "devices", *extra, "--db", live.db_url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out


def _fleet(live: LiveServer) -> dict[str, dict[str, Any]]:
    return {r["device_id"]: r for r in json.loads(_devices(live, "--json").stdout)}


def _line(table: str, device_id: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(device_id + " "))


def _enqueue(dev: Any, kind: str, record_id: str, payload: dict[str, Any]) -> str:
    with dev.session.db.conn:  # Session.enqueue joins the caller's transaction
        return str(dev.session.enqueue(kind, record_id, payload))


def _eventually(read: Any, done: Any, timeout: float = 15.0) -> Any:
    """``read()`` until ``done(value)``: the centre writes last contacts and app
    versions in batches (central serve --contact-flush, 2 s)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = read()
    return value



def _signed(dev: Any, base: str, path: str, body: Any, **headers: str) -> requests.Response:
    raw = json.dumps(body).encode()
    sent = protocol.sign_headers(dev.transport.private_key, dev.transport.device_id, "POST",
                                 path, raw)
    sent.update({"Content-Type": "application/json", **headers})
    return requests.post(base + path, data=raw, headers=sent, timeout=10)


@pytest.fixture(scope="module")
def quota_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real centre that takes one photo a day from a device: the rest wait on it."""
    server = launch(tmp_path_factory.mktemp("fleet"), "--photo-quota-count", "1")
    try:
        yield server
    finally:
        server.stop()


def test_the_channels_are_the_protocols() -> None:
    assert UPDATE_CHANNELS == protocol.UPDATE_CHANNELS


def test_central_devices_shows_what_each_device_reported_at_its_last_sync(
        quota_live: LiveServer, make_device: Any) -> None:
    live = quota_live
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0], "pilot")
    settings = load_settings(dev.session.paths.settings)
    settings.update_channel = "pilot"  # IT put this tablet in the pilot group
    save_settings(dev.session.paths.settings, settings)
    simulate(dev.session, visits=3, photos=3, seed=5)
    newer = _enqueue(dev, "household.photo", "h-newer", {"photo_id": "p1"})  # retry_later
    report = dev.engine.run_once()
    assert report.steps["photos"] != "ok", report.steps  # one photo went, two wait (quota)
    assert report.steps["status"] == "ok" and report.steps["audit"] == "first"  # together
    left = dev.engine.backlog()
    assert left["photos"] == 2 and left["photo_bytes"] > 0
    assert dev.session.pending_uploads() == 1 and newer
    other = make_device(live, grid["leader"], "stable")
    assert other.engine.run_once().ok

    rows = _eventually(lambda: _fleet(live), lambda r: all(
        r[d.transport.device_id]["app_version"] for d in (dev, other)))
    mine = rows[dev.transport.device_id]
    assert mine["person_id"] == grid["workers"][0] and mine["grids"] == [grid["id"]]
    assert mine["role"] == "worker" and mine["status"] == "active" and not mine["revoked"]
    assert mine["app_version"] == fieldclient.__version__
    assert mine["protocol_level"] == protocol.PROTOCOL_LEVEL
    assert (mine["channel"], mine["pending_ops"], mine["photos_waiting"],
            mine["photo_bytes"], mine["secret_store"]) == (
        "pilot", 1, 2, left["photo_bytes"], "file")
    assert mine["last_contact"] and mine["status_reported_at"]
    assert mine["audit_state"] == "ok" and mine["audit_head"] == dev.session.audit.head()[0]
    leader = rows[other.transport.device_id]
    assert (leader["channel"], leader["pending_ops"], leader["photos_waiting"],
            leader["photo_bytes"], leader["role"]) == ("stable", 0, 0, 0, "leader")
    assert list(mine) == list(auditanchor.FIELDS)  # stable keys for scripts

    table = _devices(live).stdout
    assert table.splitlines()[0].split()[:4] == ["设备", "名称", "人员", "网格"]
    assert "device" in table.splitlines()[1]
    line = _line(table, dev.transport.device_id)
    for cell in ("pilot", fieldclient.__version__, "file", "active", f"2 ({_kb(left)})"):
        assert cell in line, (cell, line)

    # a quiet sync sends nothing new; a change goes at the next sync, on its own
    assert "status" not in other.engine.run_once().steps
    _enqueue(other, "household.photo", "h-newer-2", {"photo_id": "p2"})
    assert other.engine.run_once().steps["status"] == "ok"
    assert _fleet(live)[other.transport.device_id]["pending_ops"] == 1

    ops.revoke_device(live.engine, other.transport.device_id)
    rows = _fleet(live)
    assert rows[other.transport.device_id]["revoked"] is True
    assert "revoked" in _line(_devices(live).stdout, other.transport.device_id)


def _kb(left: dict[str, Any]) -> str:
    from central.auditanchor import human_bytes

    return human_bytes(int(left["photo_bytes"]))


def _fleet_columns(live: LiveServer, device_id: str) -> dict[str, Any]:
    d = db.devices
    with live.engine.connect() as conn:
        row = conn.execute(select(*(d.c[n] for n in db.FLEET_COLUMNS))
                           .where(d.c.id == device_id)).mappings().one()
    return dict(row)


GOOD = {"channel": "stable", "pending_ops": 4, "photos_waiting": 1, "photo_bytes": 1000,
        "secret_store": "keyring"}


def test_hostile_values_from_an_enrolled_device_are_refused_and_change_nothing(
        live: LiveServer, make_device: Any) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    assert dev.engine.run_once().ok
    device_id = dev.transport.device_id
    path = protocol.DEVICE_STATUS_PATH
    resp = _signed(dev, live.base, path, GOOD)
    assert resp.status_code == 200 and resp.json() == {"stored": True}
    kept = _fleet_columns(live, device_id)
    assert kept["pending_ops"] == 4 and kept["secret_store"] == "keyring"
    for bad in ({**GOOD, "channel": "beta"}, {**GOOD, "channel": "x" * 10_000},
                {**GOOD, "secret_store": "hsm"}, {**GOOD, "pending_ops": -1},
                {**GOOD, "pending_ops": 2**63}, {**GOOD, "photo_bytes": 2**60},
                {**GOOD, "photos_waiting": 1.5}, {**GOOD, "pending_ops": "4"},
                {**GOOD, "pending_ops": True}, {**GOOD, "photo_bytes": None},
                {"channel": "stable"}, [GOOD], "stable"):
        resp = _signed(dev, live.base, path, bad)
        assert resp.status_code == 422, (bad, resp.status_code, resp.text)
        assert resp.json()["error"] == "invalid_input"
    resp = _signed(dev, live.base, path, {**GOOD, "pending_ops": 5, "extra": "x" * 1000})
    assert resp.status_code == 200  # a newer device's extra field: ignored, not kept
    assert _fleet_columns(live, device_id)["pending_ops"] == 5
    # unsigned, or signed by nobody: refused
    assert requests.post(live.base + path, json=GOOD, timeout=10).status_code == 401

    # riding in an anchor, a bad status costs the status only, never the anchor
    head_seq, head_hash = dev.session.audit.head()
    before = _eventually(lambda: _fleet_columns(live, device_id),
                         lambda r: r["app_version"] == fieldclient.__version__)
    anchor = {"head_seq": head_seq, "head_hash": head_hash, "at_seq": head_seq,
              "at_hash": head_hash, "intact": True, "pin_failures_total": 0,
              "status": {**GOOD, "pending_ops": -5}}
    resp = _signed(dev, live.base, protocol.AUDIT_ANCHOR_PATH, anchor)
    assert resp.status_code == 200 and resp.json()["status_stored"] is False
    assert resp.json()["verdict"] == "same"
    assert _fleet_columns(live, device_id) == before

    # headers: an app version or level that does not look like one is not kept
    level_now = str(protocol.PROTOCOL_LEVEL)
    for version, level in (("1.0.0 <script>", level_now), ("x" * 41, level_now),
                           ("", level_now), ("1.0\u00e9", level_now), ("1.2.3", "99999"),
                           ("1.2.3", "-1")):
        resp = _signed(dev, live.base, path, GOOD, **{
            protocol.HEADER_APP_VERSION: version, protocol.HEADER_PROTOCOL: level})
        assert resp.status_code in (200, 426), resp.text
    kept = _eventually(lambda: _fleet_columns(live, device_id),
                       lambda r: r["app_version"] == "1.2.3")
    assert kept["app_version"] == "1.2.3"  # the one well-formed version sent
    assert kept["protocol_level"] == protocol.PROTOCOL_LEVEL  # no odd level kept
    resp = _signed(dev, live.base, path, GOOD, **{protocol.HEADER_APP_VERSION: "2.0.1-rc1"})
    assert _eventually(lambda: _fleet_columns(live, device_id),
                       lambda r: r["app_version"] == "2.0.1-rc1")["app_version"] == "2.0.1-rc1"


def test_an_older_device_without_the_status_still_syncs_and_shows_unknown(
        live: LiveServer, make_device: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device on the release before level 5: it sends its level-4 headers and no
    status; the centre shows what it knows (app version, last contact, audit log) and
    the rest as unknown."""
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    monkeypatch.setattr(protocol, "PROTOCOL_LEVEL", 4)
    monkeypatch.setattr(fieldclient, "__version__", "0.9.0")
    monkeypatch.setattr(SyncEngine, "_status_due", lambda self, transport: None)
    simulate(dev.session, visits=2, seed=8)
    report = dev.engine.run_once()
    assert report.ok and "status" not in report.steps and report.steps["audit"] == "first"
    row = _eventually(lambda: _fleet(live)[dev.transport.device_id],
                      lambda r: r["app_version"] == "0.9.0")
    assert (row["app_version"], row["protocol_level"]) == ("0.9.0", 4)
    assert row["audit_state"] == "ok" and row["last_contact"]
    assert [row[k] for k in ("channel", "pending_ops", "photos_waiting", "photo_bytes",
                             "secret_store", "status_reported_at")] == [None] * 6
    line = _line(_devices(live).stdout, dev.transport.device_id)
    assert line.count("unknown") == 4, line  # channel, ops, photos, secret store
    monkeypatch.undo()  # the app is updated: its next sync reports
    report = dev.engine.run_once()
    assert report.ok and report.steps["status"] == "ok"
    row = _eventually(lambda: _fleet(live)[dev.transport.device_id],
                      lambda r: r["app_version"] == fieldclient.__version__)
    assert (row["channel"], row["pending_ops"], row["app_version"]) == (
        "stable", 0, fieldclient.__version__)


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_an_older_centre_is_sent_no_status_and_the_sync_goes_on(
        live: LiveServer, make_device: Any, tmp_path: Path) -> None:
    """A centre on the release before level 5 (it declares level 4): the device sends
    it no status, its sync is as before; once the centre declares 5 the status goes."""
    code = ("import sys; from sync import protocol; protocol.PROTOCOL_LEVEL = 4; "
            "from central.cli import main; sys.exit(main(sys.argv[1:]))")
    proc, base = _start_with(
        live.db_url, tmp_path,
        ["--photo-dir", str(live.photo_dir), "--photo-store", live.photo_store],
        command=[sys.executable, "-c", code])
    try:
        old = LiveServer(proc, base, live.db_url, live.demo, live.engine, live.photo_dir,
                         live.photo_store)
        grid = new_grid(live.engine)
        dev = make_device(old, grid["workers"][0])
        simulate(dev.session, visits=2, seed=9)
        report = dev.engine.run_once()
        assert report.ok and report.server_protocol == 4
        assert "status" not in report.steps and report.steps["audit"] == "first"
        assert meta_get(dev.session, STATUS_META) is None
        assert _fleet(live)[dev.transport.device_id]["channel"] is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    dev.via(live.base)  # the centre upgraded (same database)
    report = dev.engine.run_once()
    assert report.ok and report.steps["status"] == "ok"
    assert _fleet(live)[dev.transport.device_id]["channel"] == "stable"


# what a terminal would act on: ESC (colours, title, clear screen, OSC 52 clipboard), BEL,
# carriage return and backspace (overwrite what IT reads), C1 CSI, right-to-left override
TERMINAL_CONTROLS = ("\x1b", "\x07", "\r", "\b", "\x9b", "\u202e", "\x00")


def test_a_hostile_device_name_reaches_it_s_terminal_only_as_visible_text(
        live: LiveServer) -> None:
    """The device chooses its own name at enrollment (up to 100 characters): escape
    sequences in it must not reach IT's terminal through ``central devices`` or
    ``central stats``; ``--json`` keeps the name as it is."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    grid = new_grid(live.engine)
    hostile = ("\x1b]0;owned\x07\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07平板\r\nFAKE\b\b"
               "\x9b31m\u202eok")
    code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
    key = protocol.public_key_b64(Ed25519PrivateKey.generate())
    resp = requests.post(live.base + protocol.API_PREFIX + "/enroll", timeout=10,
                         json={"code": code, "device_name": hostile, "public_key": key})
    assert resp.status_code == 200, resp.text
    device_id = resp.json()["device_id"]

    table = _devices(live).stdout
    stats = subprocess.run([*CLI, "stats", "--db", live.db_url], capture_output=True,
                           text=True, timeout=60)
    assert stats.returncode == 0, stats.stderr
    for out in (table, stats.stdout):
        assert device_id in out
        for control in TERMINAL_CONTROLS:
            assert control not in out, (control, out)
        assert "\\x1b]0;owned" in out  # shown, visibly escaped
    # one line per device: the name cannot start a line of its own
    assert "FAKE" in _line(table, device_id)
    assert "FAKE" in next(line for line in stats.stdout.splitlines() if device_id in line)
    assert _fleet(live)[device_id]["name"] == hostile  # scripts get the name as it is
