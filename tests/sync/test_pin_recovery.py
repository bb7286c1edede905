"""A forgotten PIN reset through IT without losing unsent work (issue 12): the device
escrows a recovery share at the centre; IT reads the code (recorded); typed with a new
PIN it opens the device once; both ends keep a record."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from sync_helpers import PIN, LiveServer, new_grid

from central import db, recovery
from fieldclient.errors import PinLockedOut, RecoveryCodeInvalid, WrongPin
from fieldclient.fieldwork.simulate import simulate
from fieldclient.security.recovery import format_code, parse_code
from fieldclient.security.vault import Vault
from fieldclient.storage.session import reset_pin_device, unlock_device
from sync.engine import SyncEngine, transport_for

NEW_PIN = "13572468"


def _escrowed(live: LiveServer, make_device: Any) -> Any:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    report = dev.engine.run_once()
    assert report.ok and report.steps["recovery"] == "ok"
    assert Vault(dev.data_dir).recovery_to_escrow() is None  # the centre holds it
    return dev


def _code_from_cli(live: LiveServer, device_id: str) -> str:
    out = subprocess.run([sys.executable, "-c", "import sys; from central.cli import main;"
                          " sys.exit(main(sys.argv[1:]))", "devices", "recovery-code",
                          device_id, "--json", "--db", live.db_url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["code"])


def test_it_resets_a_forgotten_pin_and_nothing_is_lost(
        live: LiveServer, make_device: Any) -> None:
    dev = _escrowed(live, make_device)
    device_id = dev.transport.device_id
    simulate(dev.session, visits=3, seed=21)  # work not yet uploaded
    pending = dev.session.pending_uploads()
    dev.session.close()
    for _ in range(3):  # the worker tries and fails, and is made to wait
        with pytest.raises(WrongPin):
            unlock_device(dev.data_dir, "999999")
    with pytest.raises(PinLockedOut):
        unlock_device(dev.data_dir, "999999")
    code = _code_from_cli(live, device_id)
    with live.engine.connect() as conn:
        row = conn.execute(db.recovery_shares.select().where(
            db.recovery_shares.c.device_id == device_id)).mappings().first()
    assert row is not None and row["revealed_at"] and row["revealed_by"]  # the read is kept
    typed = code.lower().replace("-", " ")  # as a worker types what was read out
    dev.session = reset_pin_device(dev.data_dir, typed, NEW_PIN)
    assert dev.session.pending_uploads() == pending
    actions = [e["action"] for e in dev.session.audit.entries()]
    assert "pin_reset" in actions and actions.count("pin_failed") == 3
    assert Vault(dev.data_dir).info()["attempts_left"] == 10  # the tries are back
    dev.session.close()
    with pytest.raises(WrongPin):
        unlock_device(dev.data_dir, PIN)
    dev.session = unlock_device(dev.data_dir, NEW_PIN)
    # the code is used up; a new share goes at the next sync, with the pushed work
    with pytest.raises(RecoveryCodeInvalid):
        Vault(dev.data_dir).reset_pin(code, "24682468")
    report = SyncEngine(dev.session, transport_for(dev.session)).run_once()
    assert report.ok and report.steps["recovery"] == "ok" and report.pending == 0
    assert report.steps["audit"] == "grew"
    assert _code_from_cli(live, device_id) != code


def test_a_wrong_or_malformed_code_changes_nothing(live: LiveServer, make_device: Any) -> None:
    dev = _escrowed(live, make_device)
    dev.session.close()
    before = (dev.data_dir / "vault.json").read_bytes()
    real = recovery.reveal(live.engine, dev.transport.device_id, "it")
    assert real is not None
    wrong = format_code(bytes(16))
    for code in (wrong, "", "ABCD", "!" * 26, real["code"][:-1]):
        with pytest.raises(RecoveryCodeInvalid):
            Vault(dev.data_dir).reset_pin(code, NEW_PIN)
    assert (dev.data_dir / "vault.json").read_bytes() == before  # not counted, nothing set
    dev.session = unlock_device(dev.data_dir, PIN)


def test_no_code_before_the_share_reached_the_centre(
        live: LiveServer, make_device: Any, tmp_path: Any) -> None:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    assert Vault(dev.data_dir).recovery_to_escrow() is not None
    assert recovery.reveal(live.engine, dev.transport.device_id, "it") is None
    secret = parse_code(dev.session.recovery_code(Vault(dev.data_dir).recovery_to_escrow()
                                                   or ""))
    assert secret is not None and len(secret) == 16
    dev.session.close()
    with pytest.raises(RecoveryCodeInvalid):  # not escrowed yet: not usable
        Vault(dev.data_dir).reset_pin(format_code(secret), NEW_PIN)
    dev.session = unlock_device(dev.data_dir, PIN)


def test_the_centre_refuses_a_malformed_share(live: LiveServer, make_device: Any) -> None:
    import requests

    from sync import protocol

    dev = _escrowed(live, make_device)
    t = dev.transport
    for bad in ({"nonce": "zz", "code": "AAAA"}, {"nonce": "0" * 24, "code": "a" * 26},
                {"nonce": "0" * 24}):
        body = json.dumps(bad).encode()
        headers = protocol.sign_headers(t.private_key, t.device_id, "POST",
                                        protocol.RECOVERY_PATH, body)
        headers["Content-Type"] = "application/json"
        resp = requests.post(t.base + protocol.RECOVERY_PATH, data=body, headers=headers,
                             timeout=10)
        assert resp.status_code == 422


def test_a_share_not_yet_escrowed_goes_on_its_own_when_no_anchor_is_due(
        live: LiveServer, make_device: Any) -> None:
    dev = _escrowed(live, make_device)  # the first share rode along with the anchor
    vault_file = dev.data_dir / "vault.json"
    state = json.loads(vault_file.read_text())
    state["recovery"]["escrowed"] = False  # e.g. the answer was lost on the way
    vault_file.write_text(json.dumps(state))
    report = dev.engine.run_once()
    assert report.ok and "audit" not in report.steps  # nothing new in the audit log
    assert report.steps["recovery"] == "ok" and report.requests == 2  # pull + share
    assert Vault(dev.data_dir).recovery_to_escrow() is None
