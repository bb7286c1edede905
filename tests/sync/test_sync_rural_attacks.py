"""Attacks on the rural-link work (issue 11), from both sides:

- a hostile or broken server against the device (:class:`HostileServer`, a small real
  HTTP server that speaks level 3 as told): bundle answers that do not fit their parts,
  ``/sync/answers`` answers for ops not asked or of no shape, a level-3 server that
  then has no ``/sync/answers`` or ``/photos/bundle``: the device fails clearly or falls
  back, and never loses a record or marks a photo done the centre does not hold;
- a hostile enrolled device against a real ``central serve``: malformed and odd
  bundles, ``/sync/answers`` for other devices' ops, odd gzip bodies;
- a link cut at every byte of a sync (``tests/shaping_proxy.py``): nothing is lost,
  nothing applied twice, no photo marked done unless the centre holds it;
- a damaged ``sync.link`` value in the device's database.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sync_helpers import PIN, Dev, LiveServer, new_grid

from fieldclient.fieldwork.simulate import simulate
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device
from sync import protocol
from sync.engine import enroll_device
from sync.errors import ServerFailed
from sync.link import LinkState
from sync.protocol import bundle

Handler = Callable[["HostileServer", dict[str, Any]], Any]
DROP = object()  # a handler's answer: close the connection without a word


class HostileServer:
    """A level-3 centre that does what a test tells it. Enrollment takes any code; no
    signature is checked (a hostile server would not bother). Bodies are inflated.
    Each route's default behaves as ``central`` would; ``routes[path]`` replaces it
    with ``handler(server, request) -> (status, body) | DROP``."""

    def __init__(self, level: int = protocol.PROTOCOL_LEVEL) -> None:
        self.level = level
        self.routes: dict[str, Handler] = {}
        self.recorded: dict[str, dict[str, Any]] = {}  # op id: first answer
        self.photos: dict[str, bytearray] = {}  # sha: bytes received so far
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        server = self

        class Http(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def do_PUT(self) -> None:
                server._handle(self, "PUT")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Http)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[str]:
        return [p for _m, p in self.log]

    # -- defaults, as central answers ------------------------------------------------
    def push(self, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        with self.lock:
            for op in ops:
                prior = self.recorded.get(op["op_id"])
                if prior is not None:
                    results.append({"op_id": op["op_id"], "status": "duplicate"})
                    continue
                result: dict[str, Any] = {"op_id": op["op_id"], "status": "applied"}
                if op["kind"] == "photo.meta":
                    result["photo_stored"] = False
                self.recorded[op["op_id"]] = result
                results.append(result)
        return results

    def store(self, sha: str, offset: int, total: int, data: bytes) -> dict[str, Any]:
        with self.lock:
            have = self.photos.setdefault(sha, bytearray())
            if offset != len(have):
                return {"sha256": sha, "error": "offset_mismatch", "message": "no",
                        "offset": len(have)}
            have.extend(data)
            return {"sha256": sha, "offset": len(have), "complete": len(have) == total}

    def complete(self, sha: str) -> bool:
        data = self.photos.get(sha)
        return data is not None and hashlib.sha256(bytes(data)).hexdigest() == sha

    def _default(self, req: dict[str, Any]) -> Any:
        path, body = req["path"], req["body"]
        now = {"server_time": "2025-01-01T00:00:00Z", "unix_time": time.time()}
        if path == protocol.API_PREFIX + "/enroll":
            return 200, {"device_id": "hostile-device", "grids": [1],
                         "person": {"id": 7, "name": "网格员甲", "role": "worker"}}
        if path == protocol.SYNC_PUSH_PATH:
            return 200, {"results": self.push(json.loads(body)["ops"]), **now}
        if path == protocol.SYNC_ANSWERS_PATH:
            wanted = json.loads(body)["op_ids"]
            with self.lock:
                kept = [{"op_id": i, "status": "duplicate"} for i in wanted
                        if i in self.recorded]
            return 200, {"results": kept, **now}
        if path == protocol.SYNC_PULL_PATH:
            after = int(req["query"].get("after", "0"))
            return 200, {"changes": [], "next_after": after, "has_more": False, **now}
        if path == protocol.PHOTOS_MISSING_PATH:
            hashes = json.loads(body)["hashes"]
            return 200, {"missing": [{"sha256": h, "offset": len(self.photos.get(h, b""))}
                                     for h in hashes if not self.complete(h)]}
        if path == protocol.PHOTO_BUNDLE_PATH:
            parts = bundle.decode(body, 50 * 1024 * 1024)
            return 200, {"parts": [self.store(p.sha256, p.offset, p.total, p.data)
                                   for p in parts], **now}
        if path.startswith(protocol.API_PREFIX + "/photos/"):
            sha = path.rsplit("/", 1)[1]
            answer = self.store(sha, int(req["query"]["offset"]), int(req["query"]["total"]),
                                body)
            if "error" in answer:
                return 409, answer
            return 200, answer
        return 404, {"error": "not_found", "message": path}

    # -- plumbing --------------------------------------------------------------------
    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        if http.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        url = urlsplit(http.path)
        query = dict(p.split("=", 1) for p in url.query.split("&") if "=" in p)
        req = {"method": method, "path": url.path, "query": query, "body": body,
               "headers": dict(http.headers.items())}
        with self.lock:
            self.log.append((method, url.path))
        route = self.routes.get(url.path)
        if route is None and url.path.startswith(protocol.API_PREFIX + "/photos/") \
                and method == "PUT":
            route = self.routes.get("PUT photo")
        try:
            answer = route(self, req) if route is not None else self._default(req)
        except bundle.BundleError as exc:  # as central answers a malformed bundle
            answer = 422, {"error": "invalid_input", "message": str(exc)}
        if answer is DROP:
            http.close_connection = True
            return
        status, payload = answer
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(data)))
        http.send_header(protocol.HEADER_PROTOCOL, str(self.level))
        http.send_header(protocol.HEADER_MIN_PROTOCOL, "1")
        http.end_headers()
        http.wfile.write(data)


@pytest.fixture()
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()


@pytest.fixture()
def victim(hostile: HostileServer, tmp_path: Path) -> Iterator[Dev]:
    """A device enrolled with the :class:`HostileServer` that has synced once (so it
    knows the server's level 3)."""
    data_dir = tmp_path / "victim"
    session = setup_device(data_dir, PIN, store=FileSecretStore(data_dir))
    enroll_device(session, hostile.base, "ABCD-EFGH-JKMN", "平板")
    dev = Dev(data_dir, session)
    assert dev.engine.run_once().ok
    assert dev.transport.low_bandwidth
    yield dev
    if dev.session.is_open:
        dev.session.close()


def _photo_states(dev: Dev) -> dict[str, tuple[str, int]]:
    return {sha: (state, int(offset)) for sha, state, offset in dev.session.db.execute(
        "SELECT sha256, state, offset FROM photo_uploads")}


def _blob_shas(dev: Dev) -> list[str]:
    return [r[0] for r in dev.session.db.execute("SELECT sha256 FROM blobs ORDER BY rowid")]


def _outbox_states(dev: Dev) -> dict[str, int]:
    return {str(s): int(n) for s, n in dev.session.db.execute(
        "SELECT state, count(*) FROM outbox GROUP BY state")}


# == a hostile or broken server against the device =====================================

def _bundle_answering(make: Callable[[bundle.Part, dict[str, Any]], Any]) -> Handler:
    """A bundle route that stores each part as central would, then answers
    ``make(part, true_answer)`` for it (the answer list as the test wants it)."""

    def route(server: HostileServer, req: dict[str, Any]) -> Any:
        parts = bundle.decode(req["body"], 50 * 1024 * 1024)
        answers = [make(p, server.store(p.sha256, p.offset, p.total, p.data)) for p in parts]
        return 200, {"parts": answers, "server_time": "", "unix_time": time.time()}

    return route


@pytest.mark.parametrize("lie", [
    "complete_early",  # complete: true while the photo is not whole at the centre
    "negative_offset", "offset_past_total", "offset_text", "offset_missing",
    "not_a_dict", "other_sha",
])
def test_bundle_answers_that_do_not_fit_their_parts_mark_nothing_done(
        hostile: HostileServer, victim: Dev, lie: str) -> None:
    simulate(victim.session, visits=1, photos=2, seed=2)

    def make(part: bundle.Part, true: dict[str, Any]) -> Any:
        if lie == "complete_early":
            return {"sha256": part.sha256, "offset": part.offset + 1, "complete": True}
        if lie == "negative_offset":
            return {"sha256": part.sha256, "offset": -100, "complete": False}
        if lie == "offset_past_total":
            return {"sha256": part.sha256, "offset": part.total + 10**9, "complete": False}
        if lie == "offset_text":
            return {"sha256": part.sha256, "offset": "lots", "complete": False}
        if lie == "offset_missing":
            return {"sha256": part.sha256, "complete": False}
        if lie == "not_a_dict":
            return [part.sha256]
        return {**true, "sha256": "0" * 64}

    hostile.routes[protocol.PHOTO_BUNDLE_PATH] = _bundle_answering(make)
    report = victim.engine.run_once()  # never raises: the photo step fails clearly
    assert report.steps["push"] == "ok" and report.steps["pull"] == "ok"
    assert report.steps["photos"] != "ok" and isinstance(report.error, ServerFailed)
    assert report.photos_uploaded == 0
    states = _photo_states(victim)
    assert all(state == "pending" for state, _offset in states.values()), states
    assert all(0 <= offset <= 10**6 for _state, offset in states.values()), states
    # an honest server afterwards gets every photo, whole
    hostile.routes.clear()
    hostile.photos.clear()
    again = victim.engine.run_once()
    assert again.ok, again.error
    assert all(hostile.complete(s) for s in _blob_shas(victim))


def test_a_bundle_answer_with_the_wrong_number_of_parts_marks_nothing_done(
        hostile: HostileServer, victim: Dev) -> None:
    simulate(victim.session, photos=3, seed=3)

    def short(server: HostileServer, req: dict[str, Any]) -> Any:
        parts = bundle.decode(req["body"], 50 * 1024 * 1024)
        return 200, {"parts": [{"sha256": p.sha256, "offset": p.total, "complete": True}
                               for p in parts][:-1], "server_time": "", "unix_time": 0}

    hostile.routes[protocol.PHOTO_BUNDLE_PATH] = short
    report = victim.engine.run_once()
    assert report.steps["photos"] == "server_error" and report.photos_uploaded == 0
    assert {s for s, _o in _photo_states(victim).values()} == {"pending"}


def test_photo_missing_answers_of_no_shape_fail_clearly(
        hostile: HostileServer, victim: Dev) -> None:
    simulate(victim.session, photos=2, seed=4)
    shas = _blob_shas(victim)
    # the push's answer does not settle them: they are looked up
    hostile.routes[protocol.SYNC_PUSH_PATH] = lambda server, req: (200, {
        "results": [{"op_id": o["op_id"], "status": "applied"}
                    for o in json.loads(req["body"])["ops"]],
        "server_time": "", "unix_time": time.time()})
    hostile.routes[protocol.PHOTOS_MISSING_PATH] = lambda server, req: (200, {"missing": [
        "not an object", {"sha256": shas[0], "offset": "x"},
        {"sha256": shas[1], "offset": -7}, {"offset": 3}, {"sha256": 5}]})
    report = victim.engine.run_once()
    assert report.steps["push"] == "ok" and report.steps["photos"] != "ok"
    assert report.photos_uploaded == 0
    assert all(s == "pending" for s, _o in _photo_states(victim).values())
    hostile.routes.clear()
    assert victim.engine.run_once().ok
    assert all(hostile.complete(s) for s in shas)


def test_answers_for_ops_not_asked_or_of_no_shape_change_nothing(
        hostile: HostileServer, victim: Dev) -> None:
    simulate(victim.session, visits=3, seed=5)
    pending = victim.session.pending_uploads()
    dropped = {"n": 0}

    def lose_answer(server: HostileServer, req: dict[str, Any]) -> Any:
        dropped["n"] += 1
        if dropped["n"] == 1:
            return DROP  # applied nothing, answered nothing
        return server._default(req)

    def garbage(server: HostileServer, req: dict[str, Any]) -> Any:
        asked = json.loads(req["body"])["op_ids"]
        return 200, {"results": [
            "duplicate", None, 7, ["x"],
            {"op_id": "someone-elses-op", "status": "applied"},
            {"op_id": asked[0], "status": "bogus"},
            {"op_id": asked[1]},
            {"op_id": asked[2], "status": "duplicate", "original": "rejected"},
        ], "server_time": "", "unix_time": time.time()}

    hostile.routes[protocol.SYNC_PUSH_PATH] = lose_answer
    hostile.routes[protocol.SYNC_ANSWERS_PATH] = garbage
    report = victim.engine.run_once()
    assert report.error is None or isinstance(report.error, ServerFailed), report.error
    # nothing marked done that the server did not take: the retry pushed everything
    assert set(_outbox_states(victim)) <= {"applied", "duplicate", "pending"}
    assert victim.session.db.execute(
        "SELECT count(*) FROM outbox WHERE state NOT IN ('pending', 'applied',"
        " 'duplicate', 'rejected', 'conflict')").fetchone() == (0,)
    hostile.routes.clear()
    assert victim.engine.run_once().ok
    assert _outbox_states(victim) == {"applied": pending}
    assert len(hostile.recorded) == pending


def test_push_answers_with_an_unknown_status_leave_the_op_pending(
        hostile: HostileServer, victim: Dev) -> None:
    simulate(victim.session, visits=2, seed=6)
    hostile.routes[protocol.SYNC_PUSH_PATH] = lambda server, req: (200, {
        "results": [{"op_id": o["op_id"], "status": s} for o, s in zip(
            json.loads(req["body"])["ops"], ["bogus", None, 5, "Applied"], strict=False)]
        + ["junk"], "server_time": "", "unix_time": time.time()})
    report = victim.engine.run_once()
    assert report.error is None or isinstance(report.error, ServerFailed), report.error
    assert _outbox_states(victim) == {"pending": 4}
    hostile.routes.clear()
    assert victim.engine.run_once().ok and _outbox_states(victim) == {"applied": 4}


def test_a_level_3_server_without_answers_look_up_still_gets_every_record_once(
        hostile: HostileServer, victim: Dev) -> None:
    """A centre (or one worker process behind the same address) that declares level 3
    but 404s ``/sync/answers``: the device sends the batch again instead (the server
    keeps op ids: duplicates), and the push step still completes."""
    simulate(victim.session, visits=3, seed=7)
    pending = victim.session.pending_uploads()
    calls = {"n": 0}

    def apply_then_drop(server: HostileServer, req: dict[str, Any]) -> Any:
        calls["n"] += 1
        answer = server._default(req)
        return DROP if calls["n"] == 1 else answer

    hostile.routes[protocol.SYNC_PUSH_PATH] = apply_then_drop
    hostile.routes[protocol.SYNC_ANSWERS_PATH] = lambda server, req: (
        404, {"error": "not_found", "message": "no such path"})
    report = victim.engine.run_once()
    assert report.ok, (report.error, report.steps)
    assert report.pushed == {"duplicate": pending}
    assert _outbox_states(victim) == {"duplicate": pending}


def test_a_level_3_server_without_bundles_gets_the_photos_a_chunk_at_a_time(
        hostile: HostileServer, victim: Dev) -> None:
    simulate(victim.session, photos=3, seed=8)
    hostile.routes[protocol.PHOTO_BUNDLE_PATH] = lambda server, req: (
        404, {"error": "not_found", "message": "no such path"})
    report = victim.engine.run_once()
    assert report.ok, (report.error, report.steps)
    assert report.photos_uploaded == 3
    assert all(hostile.complete(s) for s in _blob_shas(victim))
    assert {s for s, _o in _photo_states(victim).values()} == {"done"}


def test_a_photo_damaged_on_the_device_alone_does_not_fail_the_step(
        hostile: HostileServer, victim: Dev) -> None:
    simulate(victim.session, photos=1, seed=9)
    (blob_id,) = victim.session.db.execute("SELECT blob_id FROM blobs").fetchone()
    real_get = victim.session.blobs.get
    victim.session.blobs.get = lambda b: (  # type: ignore[method-assign]
        b"damaged" if b == blob_id else real_get(b))
    report = victim.engine.run_once()
    assert report.ok, (report.error, report.steps)
    assert {s for s, _o in _photo_states(victim).values()} == {"corrupt"}
    assert hostile.photos == {}


def test_a_large_photo_on_a_link_that_cuts_every_other_request_goes_in_one_sync(
        hostile: HostileServer, victim: Dev) -> None:
    """The link halves the photo size after each cut and doubles it after each full
    request: a 300 KB photo takes well over a hundred requests at 4-8 KiB, and all of
    them move it forward, so the sync must not give up as if it did not progress."""
    data = os.urandom(300_000)
    sha = hashlib.sha256(data).hexdigest()
    blob_id = victim.session.blobs.put(data)
    with victim.session.db.conn:
        victim.session.db.execute(
            "INSERT INTO blobs (blob_id, sha256, size, media_type, created_at)"
            " VALUES (?, ?, ?, 'image/jpeg', 0)", (blob_id, sha, len(data)))
    link = LinkState.load(victim.session)
    link.photo_bytes = 4096
    link.save(victim.session)
    calls = {"n": 0}

    def every_other(server: HostileServer, req: dict[str, Any]) -> Any:
        calls["n"] += 1
        return DROP if calls["n"] % 2 == 0 else server._default(req)

    hostile.routes[protocol.PHOTO_BUNDLE_PATH] = every_other
    report = victim.engine.run_once()
    assert report.ok, (report.error, report.steps)
    assert calls["n"] > 100 and hostile.complete(sha)
    assert _photo_states(victim) == {sha: ("done", len(data))}


# == a damaged sync.link value ==========================================================

@pytest.mark.parametrize("raw", [
    "not json", "null", "[1, 2]", '"text"', "{}", "[" * 100_000 + "]" * 100_000,
    '{"push_bytes": 1e400}', '{"photo_bytes": -1e400}', '{"rate": NaN, "rtt": Infinity}',
    '{"rate": 1e400, "compression": NaN}', '{"cuts": 1e400}', '{"push_bytes": "12"}',
    '{"push_bytes": [1], "photo_bytes": {"a": 1}}', '{"rtt": true, "unknown": 5}',
    '{"compression": -Infinity, "push_bytes": 0}',
])
def test_a_damaged_link_value_does_not_break_sync(
        hostile: HostileServer, victim: Dev, raw: str) -> None:
    from fieldclient.fieldwork.enrollment import meta_set

    simulate(victim.session, visits=2, photos=1, seed=11)
    with victim.session.db.conn:
        meta_set(victim.session, "link", raw)
    report = victim.engine.run_once()
    assert report.ok, (report.error, report.steps)
    json.dumps(report.as_dict(), allow_nan=False)  # sync --json stays JSON
    link = LinkState.load(victim.session)
    for value in (link.push_bytes, link.photo_bytes, link.compression, link.rate, link.rtt):
        assert value is None or (isinstance(value, int | float) and 0 < value < 1e12), link
    json.dumps(victim.engine.backlog(), allow_nan=False)


# == a hostile enrolled device against a real central serve ============================

def _ready(live: LiveServer, make_device: Any, grid: dict[str, Any] | None = None,
           worker: int = 0) -> Dev:
    grid = grid or new_grid(live.engine)
    dev: Dev = make_device(live, grid["workers"][worker])
    assert dev.engine.run_once().ok and dev.transport.low_bandwidth
    dev.grid = grid  # type: ignore[attr-defined]
    return dev


def _post(live: LiveServer, dev: Dev, path: str, body: bytes, *, wire: bytes | None = None,
          headers: dict[str, str] | None = None) -> requests.Response:
    signed = protocol.sign_headers(dev.transport.private_key, dev.transport.device_id,
                                   "POST", path, body)
    signed[protocol.HEADER_PROTOCOL] = str(protocol.PROTOCOL_LEVEL)
    signed["Content-Type"] = "application/json"
    signed.update(headers or {})
    return requests.post(live.base + path, data=body if wire is None else wire,
                         headers=signed, timeout=30)


def _bundle(live: LiveServer, dev: Dev, body: bytes) -> requests.Response:
    return _post(live, dev, protocol.PHOTO_BUNDLE_PATH, body,
                 headers={"Content-Type": bundle.CONTENT_TYPE})


def _held_at_centre(live: LiveServer, sha: str) -> bool:
    return live.stored_photo(sha) is not None  # opened, its hash checked


def test_odd_bundles_store_each_part_as_a_chunk_would(
        live: LiveServer, make_device: Any) -> None:
    dev = _ready(live, make_device)
    a = os.urandom(1000)
    sa = hashlib.sha256(a).hexdigest()
    # the same photo twice in one bundle, in order: both stored, the photo whole
    answers = dev.transport.put_bundle([bundle.Part(sa, 0, 1000, a[:400]),
                                        bundle.Part(sa, 400, 1000, a[400:])])
    assert answers == [{"sha256": sa, "offset": 400, "complete": False},
                       {"sha256": sa, "offset": 1000, "complete": True}]
    assert _held_at_centre(live, sa)
    # overlapping parts: the second one is told where the upload is
    b = os.urandom(1000)
    sb = hashlib.sha256(b).hexdigest()
    answers = dev.transport.put_bundle([bundle.Part(sb, 0, 1000, b[:600]),
                                        bundle.Part(sb, 300, 1000, b[300:])])
    assert answers[0] == {"sha256": sb, "offset": 600, "complete": False}
    assert answers[1]["error"] == "offset_mismatch" and answers[1]["offset"] == 600
    # parts of one photo announcing different totals: the upload starts over, and
    # nothing of the wrong size is ever kept as the photo
    answers = dev.transport.put_bundle([bundle.Part(sb, 600, 2000, b[600:]),
                                        bundle.Part(sb, 0, 1000, b)])
    assert answers[0]["error"] == "offset_mismatch" and answers[0]["offset"] == 0
    assert answers[1] == {"sha256": sb, "offset": 1000, "complete": True}
    assert _held_at_centre(live, sb)
    # a photo in 200 one-byte-or-so parts (the most a bundle may have)
    c = os.urandom(400)
    sc = hashlib.sha256(c).hexdigest()
    parts = [bundle.Part(sc, i * 2, 400, c[i * 2:i * 2 + 2]) for i in range(200)]
    answers = dev.transport.put_bundle(parts)
    assert answers[-1] == {"sha256": sc, "offset": 400, "complete": True}
    assert _held_at_centre(live, sc)
    # that bundle used up the device's request allowance (a part costs what a chunk
    # request does), so another device asks with 201 parts
    other = _ready(live, make_device)
    resp = _bundle(live, other, bundle.encode([*parts, parts[0]]))  # 201
    assert resp.status_code == 422


def test_malformed_manifests_are_refused_never_a_server_error(
        live: LiveServer, make_device: Any) -> None:
    dev = _ready(live, make_device)
    data = os.urandom(100)
    sha = hashlib.sha256(data).hexdigest()
    entry = {"sha256": sha, "offset": 0, "total": 100, "length": 100}
    nested = b"[" * 30_000 + b"]" * 30_000
    bodies = [
        nested + b"\n" + data,  # deeper than the JSON parser goes
        b'{"parts": ' + nested + b"}\n",
        b'{"parts": [' + b"1" * 5000 + b"]}\n",  # a number of 5,000 digits
        json.dumps({"parts": [{**entry, "offset": 10**30}]}).encode() + b"\n" + data,
        json.dumps({"parts": [{**entry, "total": 10**30}]}).encode() + b"\n" + data,
        json.dumps({"parts": [{**entry, "sha256": sha.upper()}]}).encode() + b"\n" + data,
        json.dumps({"parts": [{**entry, "offset": 1.0}]}).encode() + b"\n" + data,
        json.dumps({"parts": [{**entry, "length": True}]}).encode() + b"\n" + data,
        json.dumps({"parts": [entry], "x": "y" * 70_000}).encode() + b"\n" + data,
        b"\xff\xfe" + json.dumps({"parts": [entry]}).encode() + b"\n" + data,
        b"\n" + data,
        b"",
    ]
    for body in bodies:
        resp = _bundle(live, dev, body)
        assert resp.status_code in (413, 422), (body[:30], resp.status_code, resp.text)
    assert not _held_at_centre(live, sha)


def test_a_bundle_that_passes_the_photo_quota_halfway_keeps_the_parts_before(
        tmp_path: Path, make_device: Any) -> None:
    from sync_helpers import launch

    live = launch(tmp_path, "--photo-quota-count", "2")
    try:
        dev = _ready(live, make_device)
        photos = [os.urandom(500 + i) for i in range(4)]
        shas = [hashlib.sha256(p).hexdigest() for p in photos]
        answers = dev.transport.put_bundle(
            [bundle.Part(s, 0, len(p), p) for s, p in zip(shas, photos, strict=True)])
        assert [a.get("complete") for a in answers[:2]] == [True, True]
        assert [a.get("error") for a in answers[2:]] == ["photo_quota", "photo_quota"]
        assert [_held_at_centre(live, s) for s in shas] == [True, True, False, False]
    finally:
        live.stop()


def test_answers_reveal_nothing_of_other_devices_and_are_bounded(
        live: LiveServer, make_device: Any) -> None:
    grid = new_grid(live.engine)
    a = _ready(live, make_device, grid, 0)
    b = _ready(live, make_device, grid, 1)
    simulate(a.session, visits=2, seed=12)
    assert a.engine.run_once().ok
    theirs = [r[0] for r in a.session.db.execute("SELECT op_id FROM outbox")]
    assert len(theirs) == 4
    assert b.transport.answers(theirs) == []
    mine = a.transport.answers([*theirs, *theirs, "never-sent"])
    assert sorted(r["op_id"] for r in mine) == sorted(theirs)  # once each
    assert all(r["status"] == "duplicate" and set(r) <= {"op_id", "status", "version"}
               for r in mine)
    path = protocol.SYNC_ANSWERS_PATH
    too_many = json.dumps({"op_ids": [f"op-{i}" for i in range(501)]}).encode()
    assert _post(live, a, path, too_many).status_code == 422
    for odd in ([""], ["x" * 65], [5], [None], "text", {"a": 1}):
        body = json.dumps({"op_ids": odd}).encode()
        assert _post(live, a, path, body).status_code == 422, odd


def test_odd_gzip_bodies(live: LiveServer, make_device: Any) -> None:
    dev = _ready(live, make_device)
    path = protocol.SYNC_ANSWERS_PATH
    body = json.dumps({"op_ids": ["some-op-never-sent"]}).encode()

    def status(wire: bytes, encoding: str) -> int:
        return _post(live, dev, path, body, wire=wire,
                     headers={"Content-Encoding": encoding}).status_code

    packed = gzip.compress(body)
    assert status(packed, "GZIP") == 200
    assert status(packed, "gzip\t") == 200  # HTTP strips the spaces around a value
    assert status(body, "identity ") == 200
    assert status(body, "") == 200
    assert status(packed, "gzip, gzip") == 415
    assert status(packed, "x-gzip") == 415
    assert status(packed, "deflate") == 415
    half = len(body) // 2
    members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    assert status(members, "gzip") in (200, 400)  # two members: whole, or refused
    assert status(packed + b"\0" * 10, "gzip") == 400  # trailing bytes
    assert status(b"", "gzip") == 400
    assert status(gzip.compress(b""), "gzip") in (400, 401, 422)  # signed over another body
    bomb_members = gzip.compress(b"{" + b" " * 40_000) * 4
    resp = _post(live, dev, path, body, wire=bomb_members,
                 headers={"Content-Encoding": "gzip"})
    assert resp.status_code in (400, 413)


def test_photo_stored_never_tells_of_another_grids_photo(
        live: LiveServer, make_device: Any) -> None:
    """A device of another grid uploads a photo; a device of this grid names its hash in
    a photo.meta of its own: the answer must say the centre lacks it (as
    /photos/missing does), and its bundle is stored as if the centre never had it."""
    other = _ready(live, make_device)
    simulate(other.session, photos=1, seed=13)
    assert other.engine.run_once().ok
    (sha, size) = other.session.db.execute("SELECT sha256, size FROM blobs").fetchone()
    assert _held_at_centre(live, sha)
    me = _ready(live, make_device)
    photo_id = "probe-" + sha[:20]
    with me.session.db.conn:
        me.session.enqueue("photo.meta", photo_id, {
            "id": photo_id, "grid_id": me.grid["id"], "sha256": sha,  # type: ignore[attr-defined]
            "bytes": size, "media_type": "image/jpeg", "taken_at": 0.0, "training": True})
    ops = [me.engine._wire_op(*r) for r in me.session.db.execute(
        "SELECT op_id, kind, record_id, payload FROM outbox WHERE state = 'pending'")]
    answer = me.transport.push(ops)
    assert [r.get("photo_stored") for r in answer["results"]] == [False]
    again = me.transport.push(ops)  # a duplicate answers the same
    assert [r.get("photo_stored") for r in again["results"]] == [False]
    assert me.transport.photos_missing([sha]) == [{"sha256": sha, "offset": 0}]
    parts = me.transport.put_bundle([bundle.Part(sha, 0, size, b"\0")])
    assert parts == [{"sha256": sha, "offset": 1, "complete": False}]


# == a link cut at every byte of a sync ===============================================

class _FirstCut:
    """Cut points for a :class:`ShapingProxy`: the first ``times`` connections at ``at``
    bytes, every later one never (in place of its random generator)."""

    def __init__(self, at: int, times: int = 1) -> None:
        self.at, self.times = at, times

    def randrange(self, start: int, stop: int) -> int:
        self.times -= 1
        return self.at if self.times >= 0 else stop - 1


def _check_centre_holds_what_the_device_thinks(live: LiveServer, dev: Dev) -> None:
    from sqlalchemy import select

    from central import db

    with live.engine.connect() as conn:
        taken = {r[0] for r in conn.execute(select(db.sync_ops.c.op_id).where(
            db.sync_ops.c.device_id == dev.transport.device_id))}
    done = {r[0] for r in dev.session.db.execute(
        "SELECT op_id FROM outbox WHERE state <> 'pending'")}
    assert done <= taken, done - taken  # nothing marked done the centre did not take
    for sha, state, _offset in dev.session.db.execute(
            "SELECT sha256, state, offset FROM photo_uploads"):
        if state == "done":
            assert _held_at_centre(live, sha), sha


@pytest.mark.parametrize(("times", "step"), [(1, 97), (2, 193)])
def test_a_link_cut_at_any_byte_loses_nothing_and_applies_nothing_twice(
        live: LiveServer, make_device: Any, times: int, step: int) -> None:
    """One sync's first connection carries the push, the pull and a photo bundle
    (keep-alive); it is cut at every ``step``-th byte in turn (``times`` connections in
    a row at the same byte: the answer look-up after a lost push answer is cut too),
    the device goes on over a new connection, and then syncs once more on a good link:
    every record at the centre once, every photo whole, none marked done before the
    centre held it."""
    from shaping_proxy import ShapingProxy
    from sqlalchemy import func, select

    from central import db

    if live.db_url.startswith("postgresql"):
        pytest.skip("the same code path; one database is enough for the sweep")
    dev = _ready(live, make_device)
    host, port = live.base.rsplit("//", 1)[1].split(":")
    with ShapingProxy(host, int(port), bandwidth_bps=None, cut_before=10**12) as proxy:
        dev.via(proxy.url)

        def one_sync(cut_at: int) -> Any:
            simulate(dev.session, visits=1, photos=1, seed=cut_at)
            dev.transport.http.close()  # a new connection: the cut counts from its start
            proxy._rng = _FirstCut(cut_at, times)  # type: ignore[assignment]
            report = dev.engine.run_once()
            _check_centre_holds_what_the_device_thinks(live, dev)
            return report

        one_sync(10**11)  # not cut: how many bytes a sync's connection carries
        carried = proxy.history[-1].total
        assert carried > 5000, proxy.history
        cuts = 0
        for cut_at in range(0, carried + 200, step):
            before = proxy.cuts
            report = one_sync(cut_at)
            # a cut or two anywhere costs a retry, never the sync
            assert report.ok, (cut_at, report.error, report.steps)
            cuts += proxy.cuts - before
            dev.transport.http.close()
            proxy._rng = _FirstCut(10**11)  # type: ignore[assignment]
            clean = dev.engine.run_once()
            assert clean.ok, (cut_at, clean.error, clean.steps)
            assert clean.pending == 0 and clean.photos_waiting == 0, cut_at
            _check_centre_holds_what_the_device_thinks(live, dev)
        assert cuts > carried // step * times * 0.9  # the link really was cut each time
    outbox = dev.session.db.execute(
        "SELECT count(*), sum(kind IN ('visit.create', 'photo.meta', 'household.create'))"
        " FROM outbox").fetchone()
    with live.engine.connect() as conn:
        ops_taken = conn.execute(select(func.count()).select_from(db.sync_ops).where(
            db.sync_ops.c.device_id == dev.transport.device_id)).scalar()
        records = conn.execute(select(func.count()).select_from(db.records).where(
            db.records.c.device_id == dev.transport.device_id)).scalar()
    assert ops_taken == outbox[0] and records == outbox[1]
    assert dev.session.db.execute(
        "SELECT count(*) FROM outbox WHERE state NOT IN ('applied', 'duplicate')"
    ).fetchone() == (0,)
    for (sha,) in dev.session.db.execute("SELECT sha256 FROM blobs"):
        assert _held_at_centre(live, sha)


def test_the_sync_pages_engine_estimates_from_the_kept_link(
        hostile: HostileServer, victim: Dev) -> None:
    """The GUI's Sync page asks an engine that never runs (``SyncController.facts``)
    what is left: its estimate comes from the link the syncing engine kept."""
    from sync.engine import SyncEngine

    link = LinkState.load(victim.session)
    link.rate, link.rtt = 20_000.0, 0.5
    link.save(victim.session)
    simulate(victim.session, visits=3, photos=2, seed=14)
    left = SyncEngine(victim.session).backlog()
    assert left["estimate_seconds"] is not None and left["estimate_seconds"] > 0
    assert left["link"]["rate_bytes_per_s"] == 20_000


# == two syncs of one device at once ===================================================

def test_two_syncs_of_one_device_at_once_lose_nothing(
        live: LiveServer, make_device: Any) -> None:
    """The app runs one sync at a time, but ``fieldclient sync`` may run beside it:
    two engines on the same data (two connections), each with its own link state, both
    pushing the same outbox and uploading the same photos."""
    from concurrent.futures import ThreadPoolExecutor

    from sync_helpers import FAST_RETRY

    from sync.engine import SyncEngine, transport_for

    dev = _ready(live, make_device)
    other = dev.session.fork()
    try:
        simulate(dev.session, visits=40, photos=6, seed=15)
        engines = [dev.engine, SyncEngine(other, transport_for(other), retry=FAST_RETRY)]
        with ThreadPoolExecutor(2) as pool:
            reports = list(pool.map(lambda e: e.run_once(), engines))
        for report in reports:  # each may meet the other's work, never lose it
            assert report.error is None or report.error.retryable, report.error
        _check_centre_holds_what_the_device_thinks(live, dev)
        final = dev.engine.run_once()
        assert final.ok and final.pending == 0 and final.photos_waiting == 0
        _check_centre_holds_what_the_device_thinks(live, dev)
        assert dev.session.db.execute(
            "SELECT count(*) FROM outbox WHERE state NOT IN ('applied', 'duplicate')"
        ).fetchone() == (0,)
        for (sha,) in dev.session.db.execute("SELECT sha256 FROM blobs"):
            assert _held_at_centre(live, sha)
        LinkState.load(dev.session)  # still readable after both saved it
    finally:
        other.close()
