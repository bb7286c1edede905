"""Helpers for the sync tests: a real ``central serve`` on loopback, devices
(real SQLCipher sessions, cheap KDF) enrolled to it, a dropping TCP proxy."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "central"))

from central_helpers import central
from sqlalchemy import Engine, insert

from central import db
from fieldclient.storage.session import Session
from sync.engine import RetryPolicy, SyncEngine, transport_for

PIN = "246810"
SEED = ["seed-demo", "--grids", "2", "--households-per-grid", "5", "--seed", "11", "--json"]


class LiveServer:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, db_url: str,
                 demo: dict[str, Any], engine: Engine, photo_dir: Path,
                 photo_store: str = "dir") -> None:
        self.proc, self.base, self.db_url, self.demo, self.engine = proc, base, db_url, demo, engine
        self.photo_dir = photo_dir
        self.photo_store = photo_store  # its --photo-store

    def photos(self) -> Any:
        """The centre's photo store as the server keeps it (``central.photos``)."""
        from central.photos import PhotoStore
        from central.shared.blobs import photo_files

        return PhotoStore(photo_files(self.photo_store, self.engine, self.photo_dir),
                          keys=db.keyring(self.engine))

    def stored_photo(self, sha: str) -> bytes | None:
        """A photo the centre keeps (sealed at rest), opened with the centre's keys."""
        return self.photos().read(sha)

    def stop(self) -> None:
        self.engine.dispose()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def launch(workdir: Path, *extra: str, db_url: str | None = None,
           photo_store: str = "dir") -> LiveServer:
    """``central init``, ``seed-demo`` and ``serve`` (64 KiB body limit, as the central
    tests) on SQLite in ``workdir`` or on ``db_url``, photos in ``photo_store``."""
    db_url = db_url or f"sqlite:///{workdir / 'central.db'}"
    central(db_url, "init")
    demo = json.loads(central(db_url, *SEED).stdout)
    photos = workdir / "photos"
    proc, base = _start_with(
        db_url, workdir, ["--max-body", "65536", "--photo-dir", str(photos),
                          "--photo-store", photo_store, *extra]
    )
    return LiveServer(proc, base, db_url, demo, db.make_engine(db_url), photos, photo_store)


def _start_with(db_url: str, workdir: Path, extra: list[str],
                command: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``central serve`` with extra options; another port if the chosen one was taken.
    ``command`` replaces ``python -m central.cli`` (e.g. a centre made to act as an
    older release)."""
    import time

    import requests
    from central_helpers import CENTRAL, REPO, free_port

    for _attempt in range(3):
        port = free_port()
        log_path = workdir / f"serve-{port}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [*(command or CENTRAL), "--db", db_url, "serve", "--host", "127.0.0.1",
                 "--port", str(port), *extra],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if requests.get(base + "/api/v1/health", timeout=1).status_code == 200:
                    return proc, base
            except (requests.ConnectionError, requests.Timeout):  # still starting (or busy)
                time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raise AssertionError("central serve did not start:\n" + log_path.read_text())


def new_grid(engine: Engine, workers: int = 2) -> dict[str, Any]:
    """A fresh grid with a leader and ``workers`` workers (isolates a test's data)."""
    with engine.begin() as conn:
        parent = conn.execute(
            db.org_units.select().where(db.org_units.c.level == "village")
        ).first()
        assert parent is not None
        gid = conn.execute(insert(db.org_units).values(
            parent_id=parent.id, level="grid", name="测试网格")).inserted_primary_key[0]
        leader = conn.execute(insert(db.people).values(
            name="王网格长", role="leader")).inserted_primary_key[0]
        people = [conn.execute(insert(db.people).values(
            name=f"网格员{i}", role="worker")).inserted_primary_key[0] for i in range(workers)]
        conn.execute(insert(db.grid_assignments),
                     [{"person_id": p, "grid_id": gid} for p in (leader, *people)])
    return {"id": int(gid), "leader": int(leader), "workers": [int(p) for p in people]}


def two_devices(live: LiveServer, make_device: Any) -> tuple[Any, Any, Any, str, dict[str, Any]]:
    """Two workers' devices and the leader's in a fresh grid, with one household that
    both workers have pulled: the set-up of every conflict test."""
    from fieldclient.fieldwork.households import create_household

    grid = new_grid(live.engine)
    a = make_device(live, grid["workers"][0], "a")
    b = make_device(live, grid["workers"][1], "b")
    hid = create_household(a.session, "钱七", "解放路7号", phone="13800000001")
    assert a.engine.run_once().ok and b.engine.run_once().ok
    leader = make_device(live, grid["leader"], "leader")
    return a, b, leader, hid, grid


FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05)


class Dev:
    """One device: data dir, open session, engine."""

    def __init__(self, data_dir: Path, session: Session) -> None:
        self.data_dir = data_dir
        self.session = session
        self.transport = transport_for(session)
        self.engine = SyncEngine(session, self.transport, retry=FAST_RETRY)

    def via(self, base: str) -> Dev:
        """Send this device's requests to ``base`` (e.g. a proxy)."""
        self.transport.base = base
        return self


class DropProxy:
    """A loopback TCP proxy that can lose requests or responses.

    ``drop_responses``: the next N server answers are swallowed (the server has
    already committed) and the connection closed; ``drop_requests``: the next N
    requests are cut before reaching the server; ``p_response``/``p_request``: the
    same at random, per piece of data.
    """

    def __init__(self, upstream: str, rng: Any = None) -> None:
        host, port = upstream.replace("http://", "").split(":")
        self.upstream = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.drop_responses = 0
        self.drop_requests = 0
        self.p_response = 0.0
        self.p_request = 0.0
        self.dropped = 0
        import random

        self.rng = rng or random.Random(0)
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _decide(self, direction: str) -> bool:
        with self.lock:
            if direction == "response":
                if self.drop_responses > 0:
                    self.drop_responses -= 1
                    self.dropped += 1
                    return True
                hit = self.rng.random() < self.p_response
            else:
                if self.drop_requests > 0:
                    self.drop_requests -= 1
                    self.dropped += 1
                    return True
                hit = self.rng.random() < self.p_request
            self.dropped += int(hit)
            return hit

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, "request"),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "response"),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self._decide(direction):
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class SkewServer:
    """A small real HTTP server on loopback that speaks the documented protocol
    (``sync/protocol.py``) for the version-skew cases today's ``central`` does not
    produce: its own protocol level headers, ``426 upgrade_required`` to a device
    below ``min_level``, ``retry_later`` (``unsupported_kind``) for the op kinds in
    ``unsupported`` (nothing recorded, as documented), and a pull feed of whatever
    rows a test puts in ``feed`` (kinds from a newer server included).

    Enrollment takes any code; every later request must carry a valid signature of the
    enrolled key (401 otherwise). ``requests`` logs each request (method, path,
    headers); ``offered`` counts how often each op id was pushed; ``recorded`` holds
    the result kept for each op id (so a retry is a ``duplicate``)."""

    def __init__(self, *, level: int = 2, min_level: int = 1,
                 unsupported: tuple[str, ...] = (), grids: tuple[int, ...] = (1,)) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.level, self.min_level = level, min_level
        self.unsupported = set(unsupported)
        self.grids = list(grids)
        self.feed: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.offered: dict[str, int] = {}
        self.recorded: dict[str, dict[str, Any]] = {}
        self.public_key: bytes | None = None
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_row(self, kind: str, record_id: str, data: dict[str, Any]) -> int:
        """Append a row to the feed with the next sequence number; returns it."""
        with self.lock:
            seq = (self.feed[-1]["seq"] if self.feed else 0) + 1
            self.feed.append({"seq": seq, "kind": kind, "id": record_id, "data": data})
            return int(seq)

    # -- the protocol -------------------------------------------------------------------
    def _handle(self, req: Any, method: str) -> None:
        import time
        from urllib.parse import parse_qs, urlsplit

        from sync import protocol

        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = {k: v for k, v in req.headers.items()}
        with self.lock:
            self.requests.append({"method": method, "path": req.path, "headers": headers})
        url = urlsplit(req.path)
        try:
            device_level = int(req.headers.get(protocol.HEADER_PROTOCOL) or 1)
        except ValueError:
            device_level = 1
        if device_level < self.min_level:
            return self._answer(req, 426, {"error": "upgrade_required",
                                           "message": "update the app"})
        if url.path == protocol.API_PREFIX + "/enroll":
            request = json.loads(body)
            self.public_key = protocol.decode_public_key(request["public_key"])
            return self._answer(req, 200, {
                "device_id": "skew-device", "grids": self.grids,
                "person": {"id": 7, "name": "网格员甲", "role": "worker"}})
        signed = self.public_key is not None and protocol.verify_signature(
            self.public_key, req.headers.get(protocol.HEADER_SIGNATURE, ""), method,
            req.path, int(req.headers.get(protocol.HEADER_TIMESTAMP) or 0),
            req.headers.get(protocol.HEADER_NONCE, ""), body)
        if not signed:
            return self._answer(req, 401, {"error": "bad_signature", "message": "no"})
        now = {"server_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "unix_time": time.time()}
        if url.path == protocol.SYNC_PUSH_PATH:
            results = [self._push_one(op) for op in json.loads(body)["ops"]]
            return self._answer(req, 200, {"results": results, **now})
        if url.path == protocol.SYNC_PULL_PATH:
            query = parse_qs(url.query)
            after, limit = int(query["after"][0]), int(query["limit"][0])
            with self.lock:
                rows = [r for r in self.feed if r["seq"] > after]
            page = rows[:limit]
            return self._answer(req, 200, {
                "changes": page, "next_after": page[-1]["seq"] if page else after,
                "has_more": len(rows) > limit, **now})
        if url.path == protocol.PHOTOS_MISSING_PATH:
            return self._answer(req, 200, {"missing": []})
        return self._answer(req, 404, {"error": "not_found", "message": url.path})

    def _push_one(self, op: dict[str, Any]) -> dict[str, Any]:
        from sync import protocol

        op_id = str(op["op_id"])
        with self.lock:
            self.offered[op_id] = self.offered.get(op_id, 0) + 1
            if op_id in self.recorded:
                return {"op_id": op_id, "status": "duplicate",
                        "original": self.recorded[op_id]}
            if op["kind"] in self.unsupported:  # nothing recorded: offered again later
                return {"op_id": op_id, "status": protocol.RETRY_LATER,
                        "reason": "unsupported_kind"}
            result = {"op_id": op_id, "status": "applied", "reason": None, "version": 1}
            self.recorded[op_id] = result
            return result

    def _answer(self, req: Any, status: int, body: dict[str, Any]) -> None:
        from sync import protocol

        data = json.dumps(body, ensure_ascii=False).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.send_header(protocol.HEADER_PROTOCOL, str(self.level))
        req.send_header(protocol.HEADER_MIN_PROTOCOL, str(self.min_level))
        req.end_headers()
        req.wfile.write(data)
