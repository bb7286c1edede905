"""Commands that destroy data are signed (issue 12): the device pins the centre's key at
enrollment and erases itself only on a wipe that verifies with it, names it, and is
new. A fake server (or anyone answering at the server's address) changes nothing.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sync_helpers import LiveServer, new_grid

from central import ops
from fieldclient.fieldwork.households import create_household
from fieldclient.security.vault import Vault
from sync import protocol
from sync.engine import SyncEngine, enroll_device, transport_for
from sync.errors import CommandUnverified, ServerKeyMismatch


class FakeCentre:
    """Answers every request with one fixed status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                data = json.dumps(fake.body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

        self.status, self.body = status, body
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def worker(live: LiveServer, make_device: Any) -> Iterator[Any]:
    grid = new_grid(live.engine)
    dev = make_device(live, grid["workers"][0])
    create_household(dev.session, "孙八", "胜利路8号")
    yield dev


def _signed_by(key: Ed25519PrivateKey, device_id: str, counter: int = 1) -> dict[str, Any]:
    command = {"kind": "wipe", "device_id": device_id, "counter": counter,
               "issued_at": "2026-12-03T00:00:00Z"}
    signature = key.sign(protocol.command_message(command))
    return {"command": command, "signature": base64.b64encode(signature).decode()}


def _sync_with_fake(dev: Any, status: int, body: dict[str, Any]) -> Any:
    """One sync of ``dev`` against a fake centre answering ``status`` and ``body``."""
    fake = FakeCentre(status, body)
    try:
        dev.via(fake.base)
        return dev.engine.run_once()
    finally:
        fake.close()


def _intact(dev: Any) -> None:
    assert Vault(dev.data_dir).status() != "erased"
    assert (dev.data_dir / "gridfield.db").exists()
    assert dev.session.pending_uploads() == 1  # the household still waits to go


@pytest.mark.parametrize("answer", ["unsigned_410", "unsigned_401", "other_key", "other_device",
                                    "bad_signature", "old_counter"])
def test_a_fake_server_cannot_wipe_the_device(worker: Any, answer: str) -> None:
    device_id = worker.transport.device_id
    rogue = Ed25519PrivateKey.generate()
    bodies = {
        "unsigned_410": (410, {"error": "revoked", "wipe": True}),
        "unsigned_401": (401, {"error": "revoked", "message": "revoked"}),
        "other_key": (410, {"error": "revoked", "wipe": True,
                            "command": _signed_by(rogue, device_id)}),
        "other_device": (410, {"error": "revoked", "wipe": True,
                               "command": _signed_by(rogue, "another-device")}),
        "bad_signature": (410, {"error": "revoked", "wipe": True, "command": {
            **_signed_by(rogue, device_id), "signature": "AAAA"}}),
        "old_counter": (410, {"error": "revoked", "wipe": True,
                              "command": _signed_by(rogue, device_id, counter=0)}),
    }
    report = _sync_with_fake(worker, *bodies[answer])
    assert not report.wiped and isinstance(report.error, CommandUnverified)
    assert "签名" in (report.error_message("zh_CN") or "")
    english = report.error_message("en") or ""
    assert "sign" in english.lower() and not any("\u4e00" <= c <= "\u9fff" for c in english)
    _intact(worker)


def test_the_real_centres_wipe_verifies_and_erases(live: LiveServer, worker: Any) -> None:
    assert worker.transport.server_key  # pinned at enrollment
    ops.revoke_device(live.engine, worker.transport.device_id)
    report = worker.engine.run_once()
    assert report.wiped and Vault(worker.data_dir).status() == "erased"


def test_a_wipe_signed_by_the_centre_for_another_device_changes_nothing(
        live: LiveServer, make_device: Any, worker: Any) -> None:
    """A genuine signed wipe of one device, replayed to another by a fake server."""
    grid = new_grid(live.engine)
    victim = make_device(live, grid["workers"][0], "victim")
    ops.revoke_device(live.engine, victim.transport.device_id)
    with pytest.raises(Exception) as caught:
        victim.transport.pull(0, 1)
    # take the real centre's signed wipe for the victim from its answer
    from sync.errors import DeviceRevoked

    assert isinstance(caught.value, DeviceRevoked)
    stolen = victim.transport.command
    assert stolen is not None
    with live.engine.begin() as conn:
        from central import identity

        signed = identity.wipe_command(conn, victim.transport.device_id)
    report = _sync_with_fake(worker, 410, {"error": "revoked", "wipe": True,
                                            "command": signed})
    assert not report.wiped and isinstance(report.error, CommandUnverified)
    _intact(worker)


def test_a_device_enrolled_before_keys_were_pinned_takes_the_key_on_first_use(
        live: LiveServer, worker: Any) -> None:
    from fieldclient.fieldwork.enrollment import META_PREFIX

    with worker.session.db.conn:
        worker.session.db.execute("DELETE FROM meta WHERE key = ?", (META_PREFIX + "server_key",))
    engine = SyncEngine(worker.session, transport_for(worker.session))
    assert engine.run_once().ok
    assert transport_for(worker.session).server_key  # pinned now
    ops.revoke_device(live.engine, worker.transport.device_id)
    report = engine.run_once()
    assert report.wiped and Vault(worker.data_dir).status() == "erased"


def test_enrollment_checks_the_centres_key_against_the_qr(
        live: LiveServer, tmp_path: Any) -> None:
    from sync_helpers import PIN

    from fieldclient.security.keystore import FileSecretStore
    from fieldclient.storage.session import setup_device

    grid = new_grid(live.engine)
    session = setup_device(tmp_path / "d", PIN, store=FileSecretStore(tmp_path / "d"))
    try:
        code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
        with pytest.raises(ServerKeyMismatch):
            enroll_device(session, live.base, code, "平板", key_fingerprint="0" * 32)
        assert SyncEngine(session).enrollment() is None  # nothing stored
        code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
        with live.engine.begin() as conn:
            from central import identity

            fingerprint = protocol.key_fingerprint(identity.public_key_b64(conn))
        enroll_device(session, live.base, code, "平板", key_fingerprint=fingerprint)
        assert transport_for(session).server_key is not None
    finally:
        session.close()
