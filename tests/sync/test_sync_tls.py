"""TLS by default, and the centre's certificate pinned at enrollment (issue 12):
``central serve --certfile --keyfile`` serves HTTPS; a device refuses plain http:// to
anything but loopback, pins the certificate it enrolled with (checked against the QR's
fingerprint, or the system's authorities), and sends nothing to any other."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3
from central_helpers import CENTRAL, REPO, free_port, stop_process
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sync_helpers import PIN, LiveServer, new_grid

from central import ops
from fieldclient.fieldwork.households import create_household
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device
from sync.engine import SyncEngine, enroll_device
from sync.errors import InsecureServerUrl, ServerIdentityChanged
from sync.transport import normalize_server_url


def _certificate(folder: Path, name: str) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1 (a pilot's own): paths and SHA-256."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.fingerprint(hashes.SHA256()).hex()


def _serve_tls(live: LiveServer, port: int, cert: Path, key: Path, log: Path
               ) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*CENTRAL, "--db", live.db_url, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--photo-dir", str(live.photo_dir), "--photo-store", live.photo_store,
             "--certfile", str(cert), "--keyfile", str(key)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    with _quiet():
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(f"https://127.0.0.1:{port}/api/v1/health", timeout=1,
                                verify=False).status_code == 200:
                    return proc
            except requests.ConnectionError:
                time.sleep(0.1)
    stop_process(proc)
    raise AssertionError("central serve --certfile did not start: " + log.read_text())


class _quiet:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


@pytest.fixture()
def tls_centre(live: LiveServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    cert, key, fingerprint = _certificate(tmp_path, "centre")
    port = free_port()
    proc = _serve_tls(live, port, cert, key, tmp_path / "tls.log")
    state = {"proc": proc, "port": port, "base": f"https://127.0.0.1:{port}",
             "fingerprint": fingerprint}
    try:
        yield state
    finally:
        stop_process(state["proc"])


def test_plain_http_is_refused_except_on_this_machine() -> None:
    assert normalize_server_url("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    assert normalize_server_url("http://localhost:8765") == "http://localhost:8765"
    assert normalize_server_url("http://[::1]:8765") == "http://[::1]:8765"
    assert normalize_server_url("https://centre.example.cn") == "https://centre.example.cn"
    for url in ("http://centre.example.cn", "http://10.0.0.5:8765", "http://192.168.1.2"):
        with pytest.raises(InsecureServerUrl) as caught:
            normalize_server_url(url)
        assert "https://" in caught.value.message("zh_CN")
        english = caught.value.message("en")
        assert "https://" in english and not any("\u4e00" <= c <= "\u9fff" for c in english)


def test_a_device_enrolls_over_tls_pinned_by_the_qr_and_syncs(
        live: LiveServer, tls_centre: dict[str, Any], tmp_path: Path) -> None:
    grid = new_grid(live.engine)
    session = setup_device(tmp_path / "d", PIN, store=FileSecretStore(tmp_path / "d"))
    try:
        # a self-signed certificate is no authority's: without the QR's pin, refused
        code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
        with pytest.raises(ServerIdentityChanged):
            enroll_device(session, tls_centre["base"], code, "平板")
        with pytest.raises(ServerIdentityChanged):  # a QR naming another certificate
            enroll_device(session, tls_centre["base"], code, "平板",
                          tls_fingerprint="ab" * 32)
        assert SyncEngine(session).enrollment() is None
        enroll_device(session, tls_centre["base"], code, "平板",
                      tls_fingerprint=tls_centre["fingerprint"])
        create_household(session, "钱七", "北街7号", grid_id=str(grid["id"]))
        report = SyncEngine(session).run_once()
        assert report.ok, report.error
        assert report.pushed == {"applied": 1}
    finally:
        session.close()


def test_another_certificate_at_the_centres_address_gets_nothing(
        live: LiveServer, tls_centre: dict[str, Any], tmp_path: Path) -> None:
    grid = new_grid(live.engine)
    session = setup_device(tmp_path / "d", PIN, store=FileSecretStore(tmp_path / "d"))
    try:
        code = ops.create_enrollment_code(live.engine, grid["workers"][0])["code"]
        enroll_device(session, tls_centre["base"], code, "平板",
                      tls_fingerprint=tls_centre["fingerprint"])
        assert SyncEngine(session).run_once().ok
        # the same address now answers with another certificate (a rogue network, or a
        # rogue authority's certificate for the centre's name)
        stop_process(tls_centre["proc"])
        cert, key, _ = _certificate(tmp_path, "rogue")
        tls_centre["proc"] = _serve_tls(live, tls_centre["port"], cert, key,
                                        tmp_path / "rogue.log")
        create_household(session, "孙八", "南街8号", grid_id=str(grid["id"]))
        report = SyncEngine(session).run_once()
        assert not report.ok and isinstance(report.error, ServerIdentityChanged)
        assert report.steps.get("push") == "server_identity_changed"
        assert session.pending_uploads() == 1  # kept, and nothing was sent
        english = report.error_message("en") or ""
        assert "certificate" in english.lower()
    finally:
        session.close()


def test_central_serve_wants_both_certificate_and_key(live: LiveServer, tmp_path: Path) -> None:
    cert, _key, _ = _certificate(tmp_path, "half")
    result = subprocess.run(
        [sys.executable, "-m", "central.cli", "--db", live.db_url, "serve", "--certfile",
         str(cert)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--keyfile" in result.stderr
