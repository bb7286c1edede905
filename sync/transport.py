"""HTTP transport of the sync engine: every request signed with ``sync.protocol``.

The :class:`Transport` protocol is what :class:`sync.engine.SyncEngine` needs; the
tests and the GUI use :class:`HttpTransport` against a real ``central serve``.
Each failure is mapped to a :mod:`sync.errors` error (retryable or not).

Version skew: every request, enrollment included, carries the device's protocol level
and app version (:func:`skew_headers`); every answer's level headers are kept
(:attr:`HttpTransport.server_protocol`), and ``426 upgrade_required`` becomes
:class:`sync.errors.UpgradeRequired`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import fieldclient
from sync import protocol
from sync.errors import (
    AuthRefused,
    BadServerUrl,
    ClockRejected,
    CommandUnverified,
    ConnectionDropped,
    DeviceRevoked,
    EnrollCodeRefused,
    InsecureServerUrl,
    ServerBusy,
    ServerFailed,
    ServerIdentityChanged,
    ServerTimeout,
    ServerUnreachable,
    UpgradeRequired,
)
from sync.protocol import bundle

DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (seconds): slow rural links
MAX_RETRY_AFTER = 300


def app_version() -> str:
    """The running app's version (read at call time: an upgrade test may change it)."""
    return str(fieldclient.__version__)


def skew_headers() -> dict[str, str]:
    """The device's protocol level and app version, sent with every request."""
    return {
        protocol.HEADER_PROTOCOL: str(protocol.PROTOCOL_LEVEL),
        protocol.HEADER_APP_VERSION: app_version(),
    }


def _level(resp: requests.Response, header: str) -> int | None:
    """A level header of an answer as a whole number; None when absent or garbled."""
    value = resp.headers.get(header, "").strip()
    if not value.isdigit() or len(value) > 6:
        return None
    return int(value)


def normalize_server_url(url: str) -> str:
    """The server address as used; plain ``http://`` only to this machine (loopback)."""
    from sync.tls import is_loopback

    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadServerUrl(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise InsecureServerUrl(url)
    return url


class Transport(Protocol):
    """What the engine needs from the network."""

    def push(self, ops: list[protocol.Op]) -> protocol.PushResponse: ...

    def pull(self, after: int, limit: int) -> protocol.PullResponse: ...

    def photos_missing(self, hashes: list[str]) -> list[dict[str, Any]]: ...

    def put_chunk(self, sha256: str, offset: int, total: int, chunk: bytes) -> dict[str, Any]: ...


def _retry_after(resp: requests.Response) -> int:
    try:
        value = int(float(resp.headers.get("Retry-After", "1")))
    except ValueError:
        value = 1
    return max(1, min(MAX_RETRY_AFTER, value))


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServerFailed(resp.status_code, "response is not JSON", retryable=True)
    return body


def _raise_for(resp: requests.Response, revoked: Callable[[Any], bool] | None = None) -> None:
    """Map a non-200 answer to a sync error. ``revoked`` checks a revocation's signed
    wipe command (:func:`sync.protocol.verified_command` with the pinned key): only one
    that verifies makes :class:`DeviceRevoked`."""
    status = resp.status_code
    if status in (429, 503):
        raise ServerBusy(_retry_after(resp))
    try:
        body: dict[str, Any] = resp.json()
        if not isinstance(body, dict):
            body = {}
    except ValueError:
        body = {}
    code = str(body.get("error", ""))
    message = str(body.get("message", resp.reason or ""))
    if status == 426:  # this app's protocol level is older than the server serves
        raise UpgradeRequired(_level(resp, protocol.HEADER_PROTOCOL),
                              _level(resp, protocol.HEADER_MIN_PROTOCOL))
    # 410 carries the wipe instruction once; a device that missed carrying it out (crash,
    # power loss) still learns from the signed-request 401 "revoked" that follows.
    if (status == 410 and body.get("wipe") is True) or (status == 401 and code == "revoked"):
        if revoked is not None and revoked(body.get("command")):
            raise DeviceRevoked()
        raise CommandUnverified()
    if status == 401 and code == "clock_skew" and isinstance(body.get("unix_time"), int | float):
        raise ClockRejected(float(body["unix_time"]))
    if status == 401:
        raise AuthRefused(code or "unauthenticated")
    # a chunk damaged on the way: sending it again may well work
    retryable = status >= 500 or code == "chunk_corrupt"
    raise ServerFailed(status, message or code, retryable=retryable, error=code)


def _send(call: Callable[[], requests.Response]) -> requests.Response:
    try:
        return call()
    except requests.exceptions.SSLError as exc:  # not the pinned or a valid certificate
        raise ServerIdentityChanged() from exc
    except requests.ConnectTimeout as exc:
        raise ServerUnreachable() from exc
    except requests.Timeout as exc:
        raise ServerTimeout() from exc
    except requests.ConnectionError as exc:
        if _never_connected(exc):  # refused, no route, no name: nothing answers
            raise ServerUnreachable() from exc
        raise ConnectionDropped() from exc  # made, then reset or cut mid-transfer
    except requests.RequestException as exc:  # a garbled answer, a broken stream
        raise ConnectionDropped() from exc


def _never_connected(exc: BaseException) -> bool:
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError | NameResolutionError):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            current = reason
            continue
        current = (current.args[0] if current.args and isinstance(current.args[0],
                   BaseException) else None) or current.__cause__ or current.__context__
    return False


COMPRESS_FROM = 512  # request bodies at least this large go gzip-compressed (level 3)


def enroll(
    server_url: str,
    code: str,
    public_key_b64: str,
    device_name: str,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    tls_pin: str | None = None,
) -> dict[str, Any]:
    """Trade a one-time code for a device id (``POST /api/v1/enroll``); over HTTPS only
    to the certificate ``tls_pin`` when given."""
    base = normalize_server_url(server_url)
    body = {"code": code, "public_key": public_key_b64, "device_name": device_name}
    with _session(base, tls_pin) as http:
        resp = _send(lambda: http.post(base + protocol.API_PREFIX + "/enroll", json=body,
                                       headers=skew_headers(), timeout=timeout))
    if resp.status_code == 401:
        raise EnrollCodeRefused()
    if resp.status_code != 200:
        _raise_for(resp)
    return _json(resp)


def _session(base: str, tls_pin: str | None) -> requests.Session:
    """A requests session; HTTPS to ``base`` accepts only the pinned certificate."""
    from sync.tls import PinnedAdapter

    http = requests.Session()
    if tls_pin and base.startswith("https://"):
        http.mount(base + "/", PinnedAdapter(tls_pin))
    return http


class HttpTransport:
    """Signed requests to one central server.

    ``clock_offset`` (server time minus device time, seconds) corrects the signed
    timestamp so a device with a wrong clock can still talk to the server; the
    transport updates it from every answer (``last_server_unix``).

    ``server_protocol`` / ``server_min_protocol``: the levels the server's last answer
    declared (None: it declares none, i.e. a server from before level 2).
    """

    def __init__(
        self,
        server_url: str,
        device_id: str,
        private_key: Ed25519PrivateKey,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock_offset: float = 0.0,
        clock: Callable[[], float] = time.time,
        server_protocol: int | None = None,
        server_key: str | None = None,
        last_command: int = 0,
        tls_pin: str | None = None,
    ) -> None:
        self.base = normalize_server_url(server_url)
        # the centre's command key pinned at enrollment, and the last command carried out
        self.server_key = server_key
        self.last_command = last_command
        self.command: dict[str, Any] | None = None  # the verified command, when one came
        self.device_id = device_id
        self.private_key = private_key
        self.timeout = timeout
        self.clock_offset = clock_offset
        self.clock = clock
        self.requests_made = 0
        self.bytes_sent = 0  # request bodies as sent (compressed where they were)
        self.bytes_received = 0  # answer bodies as received
        self.last_server_unix: float | None = None
        self.last_local_unix: float | None = None
        # the level the server declared last (given at start: what it declared before)
        self.server_protocol: int | None = server_protocol
        self.server_min_protocol: int | None = None
        self.server_max_body: int | None = None  # the largest body the server takes
        # the last exchange: (body bytes sent, body bytes received, seconds)
        self.last_exchange: tuple[int, int, float] = (0, 0, 0.0)
        self.tls_pin = tls_pin
        self.http = _session(self.base, tls_pin)
        # nothing the server does not read: requests' default User-Agent and Accept
        self.http.headers.pop("User-Agent", None)
        self.http.headers.pop("Accept", None)
        self.http.headers["Accept-Encoding"] = "gzip"

    @property
    def low_bandwidth(self) -> bool:
        """The server takes compressed bodies, answer look-ups and photo bundles."""
        return (self.server_protocol or 0) >= protocol.LEVEL_LOW_BANDWIDTH

    def close(self) -> None:
        self.http.close()

    def _request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        extra_headers: dict[str, str] | None = None,
        accept: tuple[int, ...] = (200,),
        compress: bool = True,
    ) -> dict[str, Any]:
        for attempt in (1, 2):
            timestamp = round(self.clock() + self.clock_offset)
            headers = protocol.sign_headers(  # over the body as it is, before compression
                self.private_key, self.device_id, method, path, body, timestamp=timestamp
            )
            if body:
                headers["Content-Type"] = "application/json"
            headers.update(skew_headers())
            headers.update(extra_headers or {})
            wire = body
            if compress and self.low_bandwidth and len(body) >= COMPRESS_FROM:
                wire = gzip.compress(body, compresslevel=6, mtime=0)
                headers["Content-Encoding"] = "gzip"
            self.requests_made += 1
            self.bytes_sent += len(wire)
            started = time.monotonic()
            self.last_exchange = (len(wire), 0, 0.0)
            resp = _send(lambda h=headers, w=wire: _bounded(self.http.request(  # type: ignore[misc]
                method, self.base + path, data=w or None, headers=h, timeout=self.timeout,
                stream=True)))
            received = _wire_length(resp)
            self.bytes_received += received
            self.last_exchange = (len(wire), received, time.monotonic() - started)
            self._note_levels(resp)
            try:
                if resp.status_code not in accept:
                    _raise_for(resp, self._verified_wipe)
            except ClockRejected as exc:
                self.clock_offset = exc.server_unix - self.clock()
                self.last_server_unix, self.last_local_unix = exc.server_unix, self.clock()
                if attempt == 2:
                    raise
                continue  # once more, with the server's time
            data = _json(resp)
            data.setdefault("_status", resp.status_code)
            unix = data.get("unix_time")
            if isinstance(unix, int | float):
                self.last_server_unix, self.last_local_unix = float(unix), self.clock()
            return data
        raise AssertionError("unreachable")

    def server_identity(self) -> str | None:
        """The centre's command key as ``/health`` states it (unsigned: for a device
        enrolled before keys were pinned, which takes it on first use)."""
        self.requests_made += 1
        resp = _send(lambda: _bounded(self.http.get(
            self.base + protocol.API_PREFIX + "/health", headers=skew_headers(),
            timeout=self.timeout, stream=True)))
        self._note_levels(resp)
        if resp.status_code != 200:
            return None
        key = _json(resp).get("server_key")
        try:
            protocol.decode_public_key(key) if isinstance(key, str) else None
        except ValueError:
            return None
        return key if isinstance(key, str) else None

    def _verified_wipe(self, signed: Any) -> bool:
        command = protocol.verified_command(self.server_key, signed, self.device_id,
                                            self.last_command)
        if command is None or command.get("kind") != protocol.COMMAND_WIPE:
            return False
        self.command = command
        return True

    def answers(self, op_ids: list[str]) -> list[protocol.OpResult]:
        """The server's kept answers for those of ``op_ids`` it applied (level 3)."""
        body = json.dumps({"op_ids": op_ids}, separators=(",", ":")).encode()
        data = self._request("POST", protocol.SYNC_ANSWERS_PATH, body)
        results = data.get("results")  # each entry is checked by the engine
        return cast(list[protocol.OpResult], results if isinstance(results, list) else [])

    def anchor(self, sent: dict[str, Any]) -> dict[str, Any]:
        """Send the audit chain's head (level 4); the centre's verdict, checked."""
        body = json.dumps(sent, separators=(",", ":")).encode()
        data = self._request("POST", protocol.AUDIT_ANCHOR_PATH, body)
        verdict, anchored = data.get("verdict"), data.get("anchored_seq")
        if verdict not in protocol.AUDIT_VERDICTS or not isinstance(anchored, int) \
                or isinstance(anchored, bool) or anchored < 0:
            raise ServerFailed(200, "audit anchor answer is not understood", retryable=True)
        answer = {"verdict": verdict, "anchored_seq": anchored,
                  "recovery_stored": data.get("recovery_stored") is True}
        if data.get("status_stored") is not None:  # a status rode along (level 5)
            answer["status_stored"] = data["status_stored"] is True
        return answer

    def device_status(self, status: dict[str, Any]) -> bool:
        """Report what the device still has to send, its update channel and secret store
        (level 5, the centre's fleet view); True once the centre says it keeps it."""
        body = json.dumps(status, separators=(",", ":")).encode()
        return self._request("POST", protocol.DEVICE_STATUS_PATH, body).get("stored") is True

    def escrow_recovery(self, nonce: str, code: str) -> bool:
        """Send the PIN recovery share (level 4); True once the centre says it keeps it."""
        body = json.dumps({"nonce": nonce, "code": code}, separators=(",", ":")).encode()
        return self._request("POST", protocol.RECOVERY_PATH, body).get("stored") is True

    def put_bundle(self, parts: list[bundle.Part]) -> list[dict[str, Any]]:
        """Pieces of several photos in one request (level 3): one answer per piece."""
        data = self._request("POST", protocol.PHOTO_BUNDLE_PATH, bundle.encode(parts),
                             {"Content-Type": bundle.CONTENT_TYPE}, compress=False)
        answers = data.get("parts")
        if not isinstance(answers, list) or len(answers) != len(parts):
            raise ServerFailed(200, "bundle answer does not match its parts", retryable=True)
        return [a if isinstance(a, dict) else {} for a in answers]

    def _note_levels(self, resp: requests.Response) -> None:
        """Keep the server's declared levels (an error answer declares them too)."""
        level = _level(resp, protocol.HEADER_PROTOCOL)
        limit = resp.headers.get(protocol.HEADER_MAX_BODY, "").strip()
        if limit.isdigit() and 4096 <= int(limit) <= 2**31:
            self.server_max_body = int(limit)
        if level is not None:
            self.server_protocol = level
            self.server_min_protocol = _level(resp, protocol.HEADER_MIN_PROTOCOL)

    def push(self, ops: list[protocol.Op]) -> protocol.PushResponse:
        body = json.dumps({"ops": ops}, ensure_ascii=False, separators=(",", ":")).encode()
        return cast(protocol.PushResponse, self._request("POST", protocol.SYNC_PUSH_PATH, body))

    def pull(self, after: int, limit: int) -> protocol.PullResponse:
        path = f"{protocol.SYNC_PULL_PATH}?after={int(after)}&limit={int(limit)}"
        return cast(protocol.PullResponse, self._request("GET", path))

    def photos_missing(self, hashes: list[str]) -> list[dict[str, Any]]:
        body = json.dumps({"hashes": hashes}).encode()
        data = self._request("POST", protocol.PHOTOS_MISSING_PATH, body)
        missing = data.get("missing")
        if not isinstance(missing, list):  # [] would say the centre holds every photo
            raise ServerFailed(200, "the photo look-up answer has no list of missing "
                               "photos", error="bad_answer")
        return missing

    def put_chunk(self, sha256: str, offset: int, total: int, chunk: bytes) -> dict[str, Any]:
        """Send one chunk. Answers ``{"offset", "complete"}``; on an offset the server
        does not expect, ``{"error": "offset_mismatch", "offset": <server's>}``."""
        path = protocol.PHOTO_CHUNK_PATH.format(sha256=sha256) + f"?offset={offset}&total={total}"
        headers = {
            protocol.HEADER_CHUNK_SHA256: hashlib.sha256(chunk).hexdigest(),
            "Content-Type": "application/octet-stream",
        }
        return self._request("PUT", path, chunk, headers, accept=(200, 409), compress=False)


MAX_ANSWER_BYTES = 32 * 1024 * 1024  # inflated; a pull page is about 1 MiB of JSON


def _bounded(resp: requests.Response) -> requests.Response:
    """Read the answer, inflated, up to :data:`MAX_ANSWER_BYTES`: a server (or anyone
    answering at its address) cannot fill the tablet's memory with a small gzip body
    that inflates to gigabytes."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in resp.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise ServerFailed(resp.status_code, "the answer is too large",
                                   retryable=True)
            chunks.append(chunk)
    finally:
        resp.close()
    resp._content = b"".join(chunks)
    return resp


def _wire_length(resp: requests.Response) -> int:
    """The answer's body bytes as they came over the wire (compressed where it was)."""
    declared = resp.headers.get("Content-Length", "")
    return int(declared) if declared.isdigit() else len(resp.content)
