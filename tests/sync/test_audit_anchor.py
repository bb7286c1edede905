"""The audit log anchored at the centre (issue 12, fault 4), and a revoked device that
uploads what it holds before it erases itself.

Fault 4 as found: with the key (a worker who knows the PIN), deleting the last entries,
or deleting the unlock/pin_failed entries and recomputing the chain, verified as intact
and nothing of the chain ever reached the centre. Now each sync sends the chain's head;
the centre keeps it and flags a chain that shrank or was rewritten (``central devices``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sync_helpers import PIN, LiveServer, new_grid

from central import auditanchor, db, ops
from fieldclient.fieldwork.households import create_household
from fieldclient.fieldwork.simulate import simulate
from fieldclient.security import audit
from fieldclient.security.audit import GENESIS, entry_hash
from fieldclient.security.vault import Vault
from fieldclient.storage.session import unlock_device
from sync import protocol
from sync.engine import SyncEngine, transport_for
from sync.errors import RevokedUploading


def _worker(live: LiveServer, make_device: Any, name: str | None = None) -> Any:
    grid = new_grid(live.engine)
    return make_device(live, grid["workers"][0], name)


def _flags(live: LiveServer, device_id: str) -> list[str]:
    rows = {r["device_id"]: r for r in auditanchor.overview(live.engine)}
    return [f["verdict"] for f in rows[device_id]["flags"]]


def _drop_triggers(session: Any) -> None:
    with session.db.conn:
        session.db.execute("DROP TRIGGER audit_log_no_update")
        session.db.execute("DROP TRIGGER audit_log_no_delete")


def _rechain(session: Any) -> None:
    """What a worker who knows the PIN can do on the tablet: recompute every hash with
    the device's own key, so the log verifies again on the device."""
    log = session.audit
    prev = GENESIS
    rows = session.db.execute("SELECT seq, ts, actor, action, detail FROM audit_log"
                              " ORDER BY seq").fetchall()
    with session.db.conn:
        session.db.execute("DELETE FROM audit_log")
        for new_seq, (_seq, ts, actor, action, detail) in enumerate(rows, start=1):
            digest = entry_hash(new_seq, ts, actor, action, detail, prev, log._key_for(new_seq))
            session.db.execute(
                "INSERT INTO audit_log (seq, ts, actor, action, detail, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (new_seq, ts, actor, action, detail, prev, digest))
            prev = digest
    assert log.verify().ok  # the device alone cannot tell


def test_each_sync_anchors_the_head_and_a_quiet_sync_sends_nothing(
        live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    device_id = dev.transport.device_id
    report = dev.engine.run_once()
    assert report.ok and report.steps["audit"] == "first"
    head = dev.session.audit.head()
    kept = auditanchor.history(live.engine, device_id)
    assert [(r["head_seq"], r["head_hash"], r["verdict"]) for r in kept] == [
        (head[0], head[1], "first")]
    quiet = dev.engine.run_once()
    assert quiet.ok and "audit" not in quiet.steps and quiet.requests == 1  # the pull only
    simulate(dev.session, visits=2, seed=3)
    assert dev.engine.run_once().steps["audit"] == "grew"
    assert _flags(live, device_id) == []
    assert auditanchor.history(live.engine, device_id)[-1]["head_seq"] == \
        dev.session.audit.head()[0]


def test_deleting_the_last_entries_is_flagged(live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    create_household(dev.session, "孙八", "胜利路8号")
    assert dev.engine.run_once().steps["audit"] == "first"
    _drop_triggers(dev.session)
    anchored = dev.session.audit.head()[0]
    with dev.session.db.conn:
        dev.session.db.execute("DELETE FROM audit_log WHERE seq > ?", (anchored - 2,))
    assert dev.session.audit.verify().ok  # a shorter chain verifies on the device
    report = dev.engine.run_once()
    assert report.ok  # the worker's sync goes on; the centre keeps the flag
    assert report.steps["audit"] == "shrank"
    assert _flags(live, dev.transport.device_id) == ["shrank"]


def test_a_chain_rewritten_with_the_key_is_flagged(live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    create_household(dev.session, "孙八", "胜利路8号")
    assert dev.engine.run_once().steps["audit"] == "first"
    with dev.session.db.conn:  # evidence the worker would rather not have
        dev.session.audit.append(audit.EXPORT, {"what": "households", "count": 300})
        dev.session.audit.append(audit.UNLOCK, {})
    _drop_triggers(dev.session)
    with dev.session.db.conn:
        dev.session.db.execute("DELETE FROM audit_log WHERE action IN ('unlock', 'export',"
                               " 'pin_failed', 'device_set_up')")
    _rechain(dev.session)
    report = dev.engine.run_once()
    assert report.steps["audit"] in ("forked", "shrank")
    flags = _flags(live, dev.transport.device_id)
    assert flags and flags[0] in ("forked", "shrank")
    # later tampering is judged against the new head, and an honest sync is "grew"
    create_household(dev.session, "周九", "胜利路9号")
    assert dev.engine.run_once().steps["audit"] == "grew"
    # IT acknowledges: the flags stay in the history, the overview shows none
    assert auditanchor.accept(live.engine, dev.transport.device_id, "it-admin")
    assert _flags(live, dev.transport.device_id) == []
    verdicts = [r["verdict"] for r in auditanchor.history(live.engine, dev.transport.device_id)]
    assert verdicts[0] == "first" and verdicts[-1] == "accepted" and flags[0] in verdicts


def test_an_entry_rewritten_without_the_key_does_not_verify(
        live: LiveServer, make_device: Any) -> None:
    """Plain SHA-256 over a changed entry (what the chain was before keying) no longer
    passes: the device reports the chain broken and the centre flags it."""
    dev = _worker(live, make_device)
    assert dev.engine.run_once().steps["audit"] == "first"
    with dev.session.db.conn:
        dev.session.audit.append(audit.EXPORT, {"what": "households", "count": 300})
    _drop_triggers(dev.session)
    seq, ts, actor, action, _detail, prev = dev.session.db.execute(
        "SELECT seq, ts, actor, action, detail, prev_hash FROM audit_log ORDER BY seq DESC"
        " LIMIT 1").fetchone()
    forged = json.dumps({"what": "nothing", "count": 0})
    with dev.session.db.conn:
        dev.session.db.execute("UPDATE audit_log SET detail = ?, hash = ? WHERE seq = ?",
                               (forged, entry_hash(seq, ts, actor, action, forged, prev), seq))
    assert not dev.session.audit.verify().ok
    assert dev.engine.run_once().steps["audit"] == "broken"
    assert _flags(live, dev.transport.device_id) == ["broken"]


def test_a_restored_copy_of_the_data_directory_is_flagged(
        live: LiveServer, make_device: Any, tmp_path: Path) -> None:
    dev = _worker(live, make_device, "original")
    assert dev.engine.run_once().steps["audit"] == "first"
    dev.session.close()
    copy = tmp_path / "copy"
    shutil.copytree(dev.data_dir, copy)  # taken while locked, as a thief or a worker would
    dev.session = unlock_device(dev.data_dir, PIN)
    create_household(dev.session, "孙八", "胜利路8号")
    engine = SyncEngine(dev.session, transport_for(dev.session))
    assert engine.run_once().steps["audit"] == "grew"
    dev.session.close()
    shutil.rmtree(dev.data_dir)
    shutil.copytree(copy, dev.data_dir)
    dev.session = unlock_device(dev.data_dir, PIN)
    report = SyncEngine(dev.session, transport_for(dev.session)).run_once()
    # its kept anchor is older than the centre's: asked again at the centre's head
    assert report.steps["audit"] in ("shrank", "forked")
    assert _flags(live, dev.transport.device_id)


def test_the_centre_checks_anchors_for_itself(live: LiveServer, make_device: Any) -> None:
    """The verdicts, hostile anchors from an enrolled device included (straight to the
    API, signed by the device's own key)."""
    dev = _worker(live, make_device)
    transport = dev.transport
    transport.server_protocol = protocol.PROTOCOL_LEVEL
    h = [f"{i:064x}" for i in range(10)]
    sent = {"head_seq": 5, "head_hash": h[5], "at_seq": 0, "at_hash": GENESIS,
            "intact": True, "pin_failures_total": 3}
    assert transport.anchor(sent) == {"verdict": "first", "anchored_seq": 5,
                                      "recovery_stored": False}
    # not at the centre's head: asked again there, nothing kept
    assert transport.anchor({**sent, "head_seq": 7, "head_hash": h[7], "at_seq": 2,
                             "at_hash": h[2]})["verdict"] == "resync"
    assert transport.anchor({**sent, "head_seq": 7, "head_hash": h[7], "at_seq": 5,
                             "at_hash": h[5], "pin_failures_total": 4}
                            ) == {"verdict": "grew", "anchored_seq": 7,
                                  "recovery_stored": False}
    assert transport.anchor({**sent, "head_seq": 7, "head_hash": h[7], "at_seq": 7,
                             "at_hash": h[7], "pin_failures_total": 1}
                            )["verdict"] == "counter_reset"
    assert transport.anchor({**sent, "head_seq": 9, "head_hash": h[9], "at_seq": 7,
                             "at_hash": h[8], "pin_failures_total": 4})["verdict"] == "forked"
    assert transport.anchor({**sent, "head_seq": 3, "head_hash": h[3], "at_seq": 9,
                             "at_hash": None, "pin_failures_total": 4})["verdict"] == "shrank"
    device_id = transport.device_id
    assert _flags(live, device_id) == ["counter_reset", "forked", "shrank"]
    overview = {r["device_id"]: r for r in auditanchor.overview(live.engine)}[device_id]
    assert overview["audit_head"] == 3 and overview["pin_failures_total"] == 4
    flagged = [bool(r["flags"]) for r in auditanchor.overview(live.engine)]
    assert flagged == sorted(flagged, reverse=True)  # flagged devices first
    # malformed anchors are refused whole and change nothing
    kept = len(auditanchor.history(live.engine, device_id))
    for bad in ({**sent, "head_hash": "zz"}, {**sent, "head_seq": -1},
                {**sent, "head_seq": "5"}, {**sent, "pin_failures_total": 2**40},
                {**sent, "at_hash": "A" * 64}, {"head_seq": 5}):
        body = json.dumps(bad).encode()
        headers = protocol.sign_headers(transport.private_key, device_id, "POST",
                                        protocol.AUDIT_ANCHOR_PATH, body)
        headers["Content-Type"] = "application/json"
        resp = requests.post(live.base + protocol.AUDIT_ANCHOR_PATH, data=body,
                             headers=headers, timeout=10)
        assert resp.status_code == 422, (bad, resp.text)
    assert len(auditanchor.history(live.engine, device_id)) == kept
    # unsigned: refused
    resp = requests.post(live.base + protocol.AUDIT_ANCHOR_PATH, json=sent, timeout=10)
    assert resp.status_code == 401


def test_central_devices_shows_flags(live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    dev.engine.run_once()
    dev.transport.anchor({"head_seq": 1, "head_hash": "1" * 64, "at_seq": 999,
                          "at_hash": None, "intact": True, "pin_failures_total": 0})
    head = dev.session.audit.head()[0]
    dev.transport.anchor({"head_seq": 1, "head_hash": "1" * 64, "at_seq": head,
                          "at_hash": None, "intact": True, "pin_failures_total": 0})
    out = subprocess.run([sys.executable, "-c", "import sys; from central.cli import main;"
                          " sys.exit(main(sys.argv[1:]))", "devices", "--flagged", "--db",
                          live.db_url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert dev.transport.device_id in out.stdout and "FLAG shrank" in out.stdout
    out = subprocess.run([sys.executable, "-c", "import sys; from central.cli import main;"
                          " sys.exit(main(sys.argv[1:]))", "devices", "--json", "--db",
                          live.db_url], capture_output=True, text=True, timeout=60)
    rows = {r["device_id"]: r for r in json.loads(out.stdout)}
    assert rows[dev.transport.device_id]["flags"][0]["verdict"] == "shrank"


# -- revoked, upload first -------------------------------------------------------------

def _visits_at_centre(live: LiveServer, device_id: str) -> int:
    r = db.records
    with live.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(r).where(
            r.c.kind == "visit.create", r.c.device_id == device_id)).scalar() or 0)


def test_a_revoked_device_uploads_what_it_holds_then_erases(
        live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    device_id = dev.transport.device_id
    assert dev.engine.run_once().ok
    simulate(dev.session, visits=5, photos=2, seed=11)  # not yet uploaded
    result = ops.revoke_device(live.engine, device_id, upload_days=1)
    assert result["upload_until"]
    report = dev.engine.run_once()
    assert report.wiped and Vault(dev.data_dir).status() == "erased", report
    assert _visits_at_centre(live, device_id) == 5
    history = auditanchor.history(live.engine, device_id)
    assert history[-1]["verdict"] == "grew"  # its final audit head reached the centre


def test_a_revoked_device_without_the_upload_window_erases_at_once(
        live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    device_id = dev.transport.device_id
    simulate(dev.session, visits=3, seed=12)
    ops.revoke_device(live.engine, device_id)
    report = dev.engine.run_once()
    assert report.wiped and _visits_at_centre(live, device_id) == 0


def test_the_upload_window_serves_uploads_only_and_closes(
        live: LiveServer, make_device: Any) -> None:
    dev = _worker(live, make_device)
    device_id = dev.transport.device_id
    ops.revoke_device(live.engine, device_id, upload_days=2 / 86400)  # two seconds
    with pytest.raises(Exception) as caught:
        dev.transport.pull(0, 10)
    assert type(caught.value).__name__ == "DeviceRevoked"
    assert dev.transport.command and "upload_until" in dev.transport.command
    # the window is for uploads only: the pull above was refused with the signed wipe
    time.sleep(2.5)
    simulate(dev.session, visits=2, seed=13)
    report = dev.engine.run_once()  # past the window: erased without uploading
    assert report.wiped and _visits_at_centre(live, device_id) == 0


def test_an_upload_that_does_not_finish_keeps_the_data_for_the_next_sync(
        live: LiveServer, make_device: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _worker(live, make_device)
    device_id = dev.transport.device_id
    simulate(dev.session, visits=4, photos=1, seed=14)
    ops.revoke_device(live.engine, device_id, upload_days=1)
    from sync.errors import ConnectionDropped

    def dropped(*_a: Any, **_k: Any) -> None:
        raise ConnectionDropped()

    monkeypatch.setattr(SyncEngine, "_upload_photos", dropped)
    report = dev.engine.run_once()
    assert not report.wiped and isinstance(report.error, RevokedUploading)
    assert "上传" in (report.error_message("zh_CN") or "")
    assert "upload" in (report.error_message("en") or "").lower()
    assert Vault(dev.data_dir).status() == "active" and dev.session.is_open
    assert _visits_at_centre(live, device_id) == 4  # the records went
    monkeypatch.undo()
    again = dev.engine.run_once()
    assert again.wiped and Vault(dev.data_dir).status() == "erased"


def test_wrong_pins_reach_the_centre_and_a_lowered_count_is_flagged(
        live: LiveServer, make_device: Any) -> None:
    from fieldclient.errors import WrongPin

    dev = _worker(live, make_device)
    device_id = dev.transport.device_id
    dev.engine.run_once()
    dev.session.close()
    for _ in range(2):
        with pytest.raises(WrongPin):
            unlock_device(dev.data_dir, "999999")
    dev.session = unlock_device(dev.data_dir, PIN)
    report = SyncEngine(dev.session, transport_for(dev.session)).run_once()
    assert report.steps["audit"] == "grew"
    rows = {r["device_id"]: r for r in auditanchor.overview(live.engine)}
    assert rows[device_id]["pin_failures_total"] == 2
    assert "2 wrong PIN(s)" in auditanchor.history(live.engine, device_id)[-1]["detail"]
    # the file store keeps the count in vault.json only: lowering it there is seen
    vault_file = dev.data_dir / "vault.json"
    state = json.loads(vault_file.read_text())
    state["pin_failures_total"] = 0
    vault_file.write_text(json.dumps(state))
    assert Vault(dev.data_dir).info()["pin_failures_total"] == 0
    report = SyncEngine(dev.session, transport_for(dev.session)).run_once()
    assert report.steps["audit"] == "counter_reset"
    assert _flags(live, device_id) == ["counter_reset"]
