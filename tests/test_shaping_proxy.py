"""The shaping proxy (tests/shaping_proxy.py) against tiny local servers: bytes get
through intact, bandwidth and latency cost what the model says (generous bounds: these
tests check behaviour, not precise timings), cuts reset every connection before its
cut point with exact byte counts, and the same seed draws the same cuts."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from shaping_proxy import ShapingProxy

pytestmark = pytest.mark.timeout(60)


class Upstream:
    """A threaded TCP server on loopback; ``handler(conn, index)`` serves a
    connection. ``received[i]``: bytes read on connection ``i``."""

    def __init__(self, handler: Callable[[socket.socket, int], None]) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.received: list[int] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                index = len(self.received)
                self.received.append(0)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        with conn:
            try:
                self.handler(conn, index)
            except OSError:
                pass

    def add(self, index: int, n: int) -> None:
        with self.lock:
            self.received[index] += n

    def close(self) -> None:
        self.sock.close()


@pytest.fixture()
def echo() -> Iterator[Upstream]:
    """Sends back whatever it reads, until the end of the stream."""
    server: Upstream

    def handle(conn: socket.socket, index: int) -> None:
        while data := conn.recv(65536):
            server.add(index, len(data))
            conn.sendall(data)

    server = Upstream(handle)
    yield server
    server.close()


def source(size: int) -> Upstream:
    """Sends ``size`` bytes as soon as a connection opens, then closes it."""
    return Upstream(lambda conn, _index: conn.sendall(b"d" * size))


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def settle(done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for the proxy's threads to finish their bookkeeping (a peer may see the
    bytes a moment before the proxy has counted them)."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


def echo_through(port: int, payload: bytes) -> tuple[bytes, bool]:
    """Send ``payload`` while reading the echo; (bytes read back, reset seen)."""
    sock = socket.create_connection(("127.0.0.1", port))
    got: list[bytes] = []
    reset = [False]

    def reader() -> None:
        try:
            while data := sock.recv(65536):
                got.append(data)
        except OSError:
            reset[0] = True

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        reset[0] = True
    thread.join(10)
    sock.close()
    return b"".join(got), reset[0]


def test_bytes_arrive_intact_both_ways(echo: Upstream) -> None:
    payload = os.urandom(300_000)
    with ShapingProxy("127.0.0.1", echo.port, bandwidth_bps=None) as proxy:
        back, reset = echo_through(proxy.port, payload)
        assert not reset and back == payload
    with ShapingProxy("127.0.0.1", echo.port, bandwidth_bps=20_000_000, rtt=0.02) as proxy:
        back, reset = echo_through(proxy.port, payload[:50_000])
        assert not reset and back == payload[:50_000]
        settle(lambda: proxy.bytes_down >= 50_000)
        assert (proxy.bytes_up, proxy.bytes_down, proxy.connections) == (50_000, 50_000, 1)
        assert proxy.cuts == 0
        proxy.reset_stats()
        assert (proxy.bytes_up, proxy.bytes_down, proxy.connections) == (0, 0, 0)


def test_bandwidth_100kb_at_400kbits_takes_about_2s() -> None:
    server = source(100_000)
    try:
        with ShapingProxy("127.0.0.1", server.port, bandwidth_bps=400_000) as proxy:
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                data = read_all(sock)
            elapsed = time.monotonic() - start
        assert len(data) == 100_000
        assert 1.6 <= elapsed <= 3.5, elapsed
    finally:
        server.close()


def test_the_link_is_shared_by_all_connections() -> None:
    """Two downloads of 50 KB at once take as long as one of 100 KB (one radio)."""
    server = source(50_000)
    try:
        with ShapingProxy("127.0.0.1", server.port, bandwidth_bps=400_000) as proxy:
            sizes: list[int] = []

            def fetch() -> None:
                with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                    sizes.append(len(read_all(sock)))

            start = time.monotonic()
            threads = [threading.Thread(target=fetch) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            elapsed = time.monotonic() - start
        assert sizes == [50_000, 50_000]
        assert 1.6 <= elapsed <= 3.5, elapsed
    finally:
        server.close()


def test_rtt_adds_the_round_trip(echo: Upstream) -> None:
    with ShapingProxy("127.0.0.1", echo.port, bandwidth_bps=None, rtt=0.3) as proxy:
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(b"ping")
            assert sock.recv(16) == b"ping"
            first = time.monotonic() - start  # handshake + one round trip
            start = time.monotonic()
            sock.sendall(b"pong")
            assert sock.recv(16) == b"pong"
            second = time.monotonic() - start  # one round trip
    assert 0.55 <= first <= 1.2, first
    assert 0.27 <= second <= 0.7, second


def test_http_through_a_shaped_link() -> None:
    """requests with keep-alive through the proxy: answers intact, one connection."""
    body = os.urandom(20_000)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the proxy resets its connections when it closes

    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with ShapingProxy("127.0.0.1", httpd.server_address[1], bandwidth_bps=2_000_000,
                          rtt=0.05) as proxy, requests.Session() as http_session:
            for _ in range(3):
                resp = http_session.post(proxy.url + "/echo", data=body, timeout=10)
                assert resp.status_code == 200 and resp.content == body
            assert proxy.connections == 1
            settle(lambda: proxy.bytes_down > 3 * len(body))
            assert proxy.bytes_up > 3 * len(body) and proxy.bytes_down > 3 * len(body)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_cuts_kill_every_connection_before_cut_before(echo: Upstream) -> None:
    payload = os.urandom(20_000)
    rounds = 15
    with ShapingProxy("127.0.0.1", echo.port, bandwidth_bps=None, cut_before=5_000,
                      cut_min=1_000, seed=3) as proxy:
        backs = []
        for _ in range(rounds):
            back, reset = echo_through(proxy.port, payload)
            assert reset, "a cut is a reset, not a clean end"
            assert back == payload[:len(back)]  # what arrived is intact
            backs.append(len(back))
        settle(lambda: len(echo.received) == rounds)
        assert proxy.connections == rounds and proxy.cuts == rounds
        history = proxy.history
        for record, back, received in zip(history, backs, echo.received, strict=True):
            assert record.cut and record.cut_at is not None
            assert 1_000 <= record.cut_at < 5_000
            assert record.total == record.cut_at  # delivered up to the cut point
            assert record.down == back and record.up == received
        assert proxy.bytes_up == sum(echo.received)
        assert proxy.bytes_down == sum(backs)


def test_same_seed_same_cut_points(echo: Upstream) -> None:
    def cut_points(seed: int) -> list[int | None]:
        with ShapingProxy("127.0.0.1", echo.port, bandwidth_bps=None, cut_before=40_000,
                          seed=seed) as proxy:
            for _ in range(6):
                echo_through(proxy.port, b"x" * 50_000)
            return proxy.cut_points

    first = cut_points(7)
    assert len(first) == 6 and all(p is not None and p < 40_000 for p in first)
    assert cut_points(7) == first
    assert cut_points(8) != first


def test_shaping_changes_on_a_running_proxy(echo: Upstream) -> None:
    with ShapingProxy("127.0.0.1", echo.port, bandwidth_bps=None) as proxy:
        back, reset = echo_through(proxy.port, b"y" * 10_000)
        assert not reset and len(back) == 10_000
        proxy.shape(None, cut_before=100, seed=1)
        back, reset = echo_through(proxy.port, b"y" * 10_000)
        assert reset and len(back) < 100
        proxy.shape(None)
        back, reset = echo_through(proxy.port, b"y" * 10_000)
        assert not reset and len(back) == 10_000


def test_refused_upstream_early_close_and_prompt_close() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = int(closed.getsockname()[1])
    closed.close()  # nothing listens there any more
    proxy = ShapingProxy("127.0.0.1", port, bandwidth_bps=100_000, rtt=0.2).start()
    for _ in range(20):  # many sequential connections, each refused upstream
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            try:
                assert sock.recv(10) == b""
            except ConnectionResetError:
                pass
    assert proxy.connections == 20
    assert all(r.refused for r in proxy.history)
    proxy.close()

    def stall(conn: socket.socket, _index: int) -> None:
        conn.sendall(b"z" * 2_000_000)  # the client never reads

    server = Upstream(stall)
    try:
        proxy = ShapingProxy("127.0.0.1", server.port, bandwidth_bps=None).start()
        idle = socket.create_connection(("127.0.0.1", proxy.port))
        stuck = socket.create_connection(("127.0.0.1", proxy.port))
        quitter = socket.create_connection(("127.0.0.1", proxy.port))
        quitter.close()  # a client that goes away at once
        time.sleep(0.3)
        threads_before = threading.active_count()
        start = time.monotonic()
        proxy.close()
        assert time.monotonic() - start < 2.0
        assert threading.active_count() < threads_before
        assert not [t for t in threading.enumerate() if t.name == "shaping-proxy"]
        idle.close()
        stuck.close()
    finally:
        server.close()
