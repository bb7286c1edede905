"""The centre's TLS certificate, pinned at enrollment.

A device talks to its centre over HTTPS (plain HTTP only on loopback, for a local
demo or test). At enrollment it takes the SHA-256 of the certificate the server shows:
checked against the fingerprint in the enrollment QR when there is one (a pilot's
self-signed certificate), else validated by the system's certificate authorities and
hostname. From then on every connection must show that very certificate, checked in
the TLS handshake before any request is sent: a rogue network, or a rogue CA issuing a
certificate for the centre's name, gets nothing. Renewing the centre's certificate
therefore needs the devices to learn the new one (IT re-enrolls them, or keeps the
certificate for its whole validity); README "How the data is protected".
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter

from sync.errors import ServerIdentityChanged, ServerUnreachable


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def certificate_sha256(url: str, expected: str | None, timeout: float = 10.0) -> str:
    """The hex SHA-256 of the certificate ``url``'s server shows. With ``expected`` (a
    fingerprint from the enrollment QR) it must be that one; without, the certificate
    must be valid for the host by the system's authorities."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    if expected:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pin is the trust
    else:
        context = ssl.create_default_context()
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        raise ServerIdentityChanged() from exc
    except OSError as exc:
        raise ServerUnreachable() from exc
    if not der:
        raise ServerIdentityChanged()
    digest = hashlib.sha256(der).hexdigest()
    if expected and digest != expected.strip().lower().replace(":", ""):
        raise ServerIdentityChanged()
    return digest


class PinnedAdapter(HTTPAdapter):
    """HTTPS that accepts exactly one certificate (urllib3 checks it in the handshake)."""

    def __init__(self, sha256_hex: str, **kwargs: Any) -> None:
        self.pin = sha256_hex
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self.pin
        kwargs["cert_reqs"] = "CERT_NONE"  # the pin replaces the authorities
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, False, cert)
