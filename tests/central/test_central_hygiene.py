"""Server hygiene against a real ``central serve`` on loopback, on SQLite and PostgreSQL:
read timeouts, rate limits, enrollment retries, per-device photo uploads and quotas,
expiry of abandoned uploads, a full disk."""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from central_helpers import SEED_ARGS, central, start_server

from central import db

READ_TIMEOUT = 1.0


@dataclass
class Tight:
    """A server started with short timeouts and small limits."""

    proc: subprocess.Popen[bytes]
    base: str
    db_url: str
    demo: dict
    engine: object
    photo_dir: Path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tight(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Tight]:
    workdir = tmp_path_factory.mktemp(f"central-tight-{request.param}")
    if request.param == "sqlite":
        db_url = f"sqlite:///{workdir / 'central.db'}"
    else:
        db_url = request.getfixturevalue("pg_server").new_database()
    central(db_url, "init")
    demo = json.loads(central(db_url, *SEED_ARGS).stdout)
    photo_dir = workdir / "photos"
    proc, base = start_server(db_url, workdir, "--read-timeout", str(READ_TIMEOUT),
                              "--photo-dir", str(photo_dir))
    engine = db.make_engine(db_url)
    try:
        yield Tight(proc, base, db_url, demo, engine, photo_dir)
    finally:
        engine.dispose()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- 1. read timeouts ------------------------------------------------------------------

HALF_REQUESTS = [
    b"",  # connects, never sends a byte
    b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n",  # headers never finished
    b"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 200\r\n\r\n{\"code\": ",  # body announced, never finished
    b"PUT /api/v1/photos/" + b"a" * 64 + b"?offset=0&total=9 HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",  # chunked body, never ended
]


def test_half_sent_requests_are_closed_after_the_read_timeout(tight: Tight) -> None:
    """400 connections with half-sent requests (some dripping a byte now and then, which
    buys no time): all are closed by the server within the timeout, the server keeps
    no socket of theirs, and it answers a normal request promptly all along."""
    fds_before = open_fds(tight.proc.pid)
    sel = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    start = time.monotonic()
    for i in range(400):
        s = socket.create_connection(("127.0.0.1", tight.port), timeout=5)
        s.sendall(HALF_REQUESTS[i % len(HALF_REQUESTS)])
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    opened = time.monotonic()
    assert opened - start < READ_TIMEOUT, "opening the sockets took longer than the timeout"
    t = time.monotonic()
    assert requests.get(tight.base + "/api/v1/health", timeout=5).status_code == 200
    assert time.monotonic() - t < 0.5
    received: dict[int, bytes] = {i: b"" for i in range(len(socks))}
    closed_at: dict[int, float] = {}
    next_drip = time.monotonic() + 0.2
    deadline = start + READ_TIMEOUT + 8
    while len(closed_at) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            i = key.data
            try:
                data = socks[i].recv(4096)
            except ConnectionResetError:
                data = b""
            received[i] += data
            if not data:
                closed_at[i] = time.monotonic()
                sel.unregister(socks[i])
        if time.monotonic() >= next_drip:  # some drip one more byte now and then
            next_drip += 0.2
            for i in range(1, len(socks), 2):
                if i not in closed_at:
                    try:
                        socks[i].send(b"X")
                    except OSError:
                        pass
    for s in socks:
        s.close()
    still = sorted({i % len(HALF_REQUESTS) for i in range(len(socks)) if i not in closed_at})
    assert len(closed_at) == len(socks), f"{len(socks) - len(closed_at)} still open: {still}"
    latest = max(closed_at.values()) - opened
    assert latest < READ_TIMEOUT + 3, latest
    for i, data in received.items():
        if i % len(HALF_REQUESTS):  # a request had begun: a 408 JSON answer, then closed
            assert data.startswith(b"HTTP/1.1 408 "), data[:80]
            body = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert body["error"] == "request_timeout" and body["message"]
    time.sleep(0.2)
    assert open_fds(tight.proc.pid) <= fds_before + 5
    t = time.monotonic()
    assert requests.get(tight.base + "/api/v1/health", timeout=5).status_code == 200
    assert time.monotonic() - t < 0.5


def test_a_slow_but_steady_body_is_not_cut(tight: Tight) -> None:
    """The body's deadline grows with what it has sent: 24 KiB sent at ~9.6 KiB/s over
    2.5 s (more than the 1 s timeout, faster than 8 KiB/s) gets its answer."""
    body = json.dumps({"code": "A" * 24_000, "public_key": "x" * 44,
                       "device_name": "t"}).encode()
    head = (f"POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", tight.port), timeout=10) as s:
        s.sendall(head)
        for i in range(0, len(body), 2400):
            time.sleep(0.25)
            s.sendall(body[i:i + 2400])
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 422 "), answer[:80]  # the code is too long: validated
