"""The pull served below FastAPI's routing (``central.web.pullroute``) answers exactly
as the FastAPI route does: two servers on one database, one with the fast route and
one without, are sent the same signed requests (well-formed, malformed, forged,
revoked) and must give the same status, body and headers, while the fast one really
served the well-formed ones itself. On SQLite and PostgreSQL, over loopback."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from central_helpers import Device, seeded_database, served_in_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central import db, ops
from central.app import create_app
from central.limits import Limits
from central.web.pullroute import PullRoute, parse_query
from sync import protocol

LIMITS = Limits(rate=1000.0, burst=1000.0, contact_flush=0.5)
TIMES = ("server_time", "unix_time")  # the moment of answering differs by nature
HEADERS = ("content-type", "content-encoding", "retry-after", protocol.HEADER_PROTOCOL.lower(),
           protocol.HEADER_MIN_PROTOCOL.lower(), protocol.HEADER_MAX_BODY.lower())


@dataclass
class Pair:
    fast: str  # base URLs
    framework: str
    fast_app: Any
    engine: Any
    demo: dict[str, Any]
    worker: Device | None = None

    def served_fast(self) -> int:
        layer = self.fast_app.middleware_stack
        while layer is not None and not isinstance(layer, PullRoute):
            layer = getattr(layer, "app", None)
        assert layer is not None, "the pull route is not in the middleware stack"
        return int(layer.served)

    def device(self, person_id: int) -> Device:
        code = ops.create_enrollment_code(self.engine, person_id)["code"]
        dev = Device(self.fast)
        assert dev.enroll(code).status_code == 200
        return dev


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    db_url, demo = seeded_database(request.param, tmp_path, request)
    engine = db.make_engine(db_url)
    fast_app = create_app(engine, photo_dir=tmp_path / "photos", limits=LIMITS)
    framework_app = create_app(engine, photo_dir=tmp_path / "photos", limits=LIMITS,
                               fast_pulls=False)
    try:
        with served_in_thread(fast_app) as fast, served_in_thread(framework_app) as framework:
            yield Pair(fast, framework, fast_app, engine, demo)
    finally:
        engine.dispose()


def _send(dev: Device, base: str, query: str, key: Ed25519PrivateKey | None = None,
          extra: dict[str, str] | None = None, headers: dict[str, str] | None = None
          ) -> tuple[requests.Response, dict[str, str]]:
    """A signed GET of the pull with this exact query; the headers it was signed with
    (to send the very same request again elsewhere)."""
    url = base + protocol.SYNC_PULL_PATH + ("?" + query if query else "")
    prepared = requests.Request("GET", url).prepare()
    if headers is None:
        headers = protocol.sign_headers(key or dev.key, dev.device_id, "GET",
                                        prepared.path_url, b"")
        headers.update(extra or {})
    prepared.headers.update(headers)
    prepared.headers["Accept-Encoding"] = "gzip"  # as a device asks
    return dev.session.send(prepared, timeout=20), headers


def _answer(resp: requests.Response, first: bool = False) -> tuple[int, Any, dict[str, str]]:
    """What must agree. The cursor of a page that ends at the feed's head is that
    head when answered, which moves with other writes (a device's contact placed in
    the review feed; on PostgreSQL any transaction): the last page, and a first pull
    (from a snapshot each server built at its own moment)."""
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    if isinstance(body, dict):
        at_head = first or body.get("has_more") is False
        body = {k: v for k, v in body.items()
                if k not in TIMES and not (at_head and k == "next_after")}
    return resp.status_code, body, {h: resp.headers.get(h, "") for h in HEADERS}


def _same(pair: Pair, dev: Device, query: str, resign: bool = False,
          **kw: Any) -> tuple[int, Any, dict[str, str]]:
    """The request to the fast server, then the very same one (``resign``: signed
    anew, as a request whose nonce is kept cannot be sent twice) to the other: the two
    answers must agree. The fast server's answer."""
    fast, headers = _send(dev, pair.fast, query, **kw)
    framework, _ = _send(dev, pair.framework, query, **(kw if resign else {"headers": headers}))
    params = urllib.parse.parse_qs(query)
    first = params.get("after", ["0"])[-1] in ("0", "007", "")
    a, b = _answer(fast, first), _answer(framework, first)
    if a != b and isinstance(a[1], dict) and isinstance(b[1], dict) and a[1] != b[1]:
        differ = {k: (a[1].get(k), b[1].get(k)) for k in set(a[1]) | set(b[1])
                  if a[1].get(k) != b[1].get(k)}
        raise AssertionError(f"{query}: {str(differ)[:3000]}")
    assert a == b, (query, a, b)
    try:
        return fast.status_code, fast.json(), a[2]
    except ValueError:
        return fast.status_code, fast.text, a[2]


def _head(pair: Pair, dev: Device) -> int:
    after = 0
    while True:
        status, page, _ = _same(pair, dev, f"after={after}&limit=500")
        assert status == 200, page
        after = page["next_after"]
        if not page["has_more"]:
            return int(after)


WELL_FORMED = ["", "after=0", "limit=3", "after=1&limit=5", "limit=5&after=1",
               "after=007&limit=0010", f"after={2**62}", "limit=1000", "after=0&limit=1"]
PASSED_ON = ["after=-1", "after=1&after=2", "after=1&x=2", "after=", "after",
             "limit=0", "limit=1001", f"after={2**62 + 1}", "after=1.0", "after=+1",
             "after=1&", "&after=1", "after=%2B1", "after=1%00", "after=１",
             "after=99999999999999999999999"]


def test_well_formed_pulls_are_served_below_the_framework_and_answer_the_same(
        pair: Pair) -> None:
    dev = pair.device(pair.demo["grids"][0]["workers"][0])
    before = pair.served_fast()
    head = _head(pair, dev)  # first pull (the grid's snapshot), then pages of the feed
    assert head > 0
    pages = [_same(pair, dev, q) for q in WELL_FORMED]
    assert all(status == 200 for status, _, _ in pages), pages
    assert any(page["changes"] for _, page, _ in pages)  # a page with rows (PullOut)
    # compression still wraps the route: a page of rows goes gzipped to a device that
    # asks (requests does), the same as from the framework's route
    assert any(headers["content-encoding"] == "gzip" for _, _, headers in pages)
    noop = _same(pair, dev, f"after={head}")  # nothing new: the look's empty page
    assert noop[0] == 200 and noop[1]["changes"] == [] and noop[1]["next_after"] >= head
    # every one of those went to the fast route (and each once more to the framework)
    assert pair.served_fast() - before >= len(WELL_FORMED) + 2


INVALID = ["after=-1", "limit=0", "limit=1001", f"after={2**62 + 1}", "after=",
           "after=99999999999999999999999"]


def test_unusual_queries_go_on_to_the_framework(pair: Pair) -> None:
    """Escapes, repeats, signs, blanks, unknown keys: the framework decides (some it
    takes, as an escaped sign or a repeated key, the rest are 422)."""
    dev = pair.device(pair.demo["grids"][0]["workers"][0])
    before = pair.served_fast()
    for query in PASSED_ON:
        status, body, _ = _same(pair, dev, query)
        assert status in (200, 422), (query, body)
        if query in INVALID:
            assert status == 422 and body["error"] == "invalid_input", (query, body)
    assert pair.served_fast() == before


def test_a_body_over_the_limit_is_refused_before_the_route(pair: Pair) -> None:
    """The body limit still wraps the route: a GET with a body past it is 413 on
    both, and nothing is served."""
    dev = pair.device(pair.demo["grids"][0]["workers"][0])
    before = pair.served_fast()
    body = b"x" * (2 * 1024 * 1024)
    answers = []
    for base in (pair.fast, pair.framework):
        url = base + protocol.SYNC_PULL_PATH + "?after=1"
        prepared = requests.Request("GET", url, data=body).prepare()
        prepared.headers.update(protocol.sign_headers(dev.key, dev.device_id, "GET",
                                                      prepared.path_url, body))
        answers.append(_answer(dev.session.send(prepared, timeout=20)))
    assert answers[0] == answers[1] and answers[0][0] == 413, answers
    assert pair.served_fast() == before


def test_refusals_are_the_same_on_both_routes(pair: Pair) -> None:
    grid = pair.demo["grids"][0]
    dev = pair.device(grid["workers"][0])
    forged = _same(pair, dev, "after=1", key=Ed25519PrivateKey.generate())
    assert forged[0] == 401 and forged[1]["error"] == "bad_signature"
    stranger = Device(pair.fast)
    stranger.device_id = "no-such-device"
    assert _same(pair, stranger, "after=1")[1]["error"] == "unknown_device"
    old = _same(pair, dev, "after=1", extra={protocol.HEADER_PROTOCOL: "0"})
    assert old[0] == 426 and old[1]["error"] == "upgrade_required"
    skewed_headers = protocol.sign_headers(dev.key, dev.device_id, "GET",
                                           protocol.SYNC_PULL_PATH + "?after=1", b"",
                                           timestamp=1)
    skewed = _same(pair, dev, "after=1", headers=skewed_headers)
    assert skewed[0] == 401 and skewed[1]["error"] == "clock_skew"
    missing = _same(pair, dev, "after=1", headers={})
    assert missing[0] == 401 and missing[1]["error"] == "unauthenticated"
    # revoked: the wipe instruction goes out once (to the fast route), then 401 on both
    ops.revoke_device(pair.engine, dev.device_id)
    first, _ = _send(dev, pair.fast, "after=1")
    assert first.status_code == 410 and first.json()["wipe"] is True
    again = _same(pair, dev, "after=1", resign=True)
    assert again[0] == 401 and again[1]["error"] == "revoked"


def test_a_pull_the_client_abandons_is_not_answered(pair: Pair) -> None:
    """A client gone before its request's body arrived, over HTTP: nothing served, and
    the server carries on (the body limit outside the route sees the disconnect first;
    the route's own handling of it: the test below)."""
    import socket

    dev = pair.device(pair.demo["grids"][0]["workers"][0])
    before = pair.served_fast()
    host, port = pair.fast.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(f"GET {protocol.SYNC_PULL_PATH}?after=1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 100\r\n\r\nabc".encode())
    assert _same(pair, dev, "after=1")[0] == 200
    assert pair.served_fast() == before + 1  # only the pull that followed


QUERY_PARTS = st.lists(
    st.tuples(st.sampled_from(["after", "limit", "x", "", "after%00", "Limit"]),
              st.sampled_from(["=", ""]),
              st.one_of(st.integers(-5, 2**63).map(str),
                        st.sampled_from(["", "+1", "1e3", "%31", "0x1", " 1", "٣"]))),
    max_size=3,
).map(lambda parts: "&".join(n + eq + urllib.parse.quote(v, safe="%+")
                             for n, eq, v in parts))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERY_PARTS)
def test_any_query_gets_the_same_answer_from_both_routes(pair: Pair, query: str) -> None:
    dev = _device_for(pair)
    status, body, _ = _same(pair, dev, query)
    assert status in (200, 422), (query, status, body)


def _device_for(pair: Pair) -> Device:
    """One enrolled device per server pair (Hypothesis runs the test many times on the
    same fixture)."""
    if pair.worker is None:
        pair.worker = pair.device(pair.demo["grids"][1]["workers"][0])
    return pair.worker


VALUES = st.one_of(
    st.integers(0, 2**63).map(str),
    st.tuples(st.integers(0, 5), st.integers(0, 2000)).map(lambda z: "0" * z[0] + str(z[1])),
    st.sampled_from(["", "-1", "+1", "%31", "1e3", " 1", "١", "１", "0x1", "1.0", "1 ",
                     "0" * 19 + "1", str(2**62), str(2**62 + 1), "1000", "1001", "0"]),
)
RAW_QUERIES = st.lists(
    st.tuples(st.sampled_from(["after", "limit", "x", "", "Limit", "after ", "%61fter"]),
              st.sampled_from(["=", ""]), VALUES),
    max_size=3,
).map(lambda parts: "&".join(n + eq + v for n, eq, v in parts).encode())


def _reference(query: bytes) -> tuple[int, int] | None:
    """What the route may take as it is: each of ``after`` and ``limit`` at most once,
    as ``name=digits`` in ASCII, in range; nothing else in the query."""
    if not query:
        return 0, 500
    pairs = [part.split(b"=", 1) for part in query.split(b"&")]
    if any(len(p) != 2 for p in pairs):
        return None
    names = [n for n, _ in pairs]
    if not set(names) <= {b"after", b"limit"} or len(set(names)) != len(names):
        return None
    values = dict(pairs)
    if not all(re.fullmatch(rb"[0-9]{1,19}", v) for v in values.values()):
        return None
    after, limit = int(values.get(b"after", b"0")), int(values.get(b"limit", b"500"))
    return (after, limit) if after <= 2**62 and 1 <= limit <= 1000 else None


@settings(max_examples=500)
@given(RAW_QUERIES)
def test_the_query_parser_takes_only_what_the_endpoint_takes_as_it_is(query: bytes) -> None:
    assert parse_query(query, 2**62, 1000, 500) == _reference(query)


@given(st.binary(max_size=40))
def test_the_query_parser_takes_no_bytes_it_should_not(query: bytes) -> None:
    assert parse_query(query, 2**62, 1000, 500) == _reference(query)


def _asgi_run(route: PullRoute, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": protocol.SYNC_PULL_PATH,
             "raw_path": protocol.SYNC_PULL_PATH.encode(), "query_string": b"after=1",
             "headers": [], "client": ("127.0.0.1", 5)}
    asyncio.run(route(scope, receive, send))
    return sent


@pytest.mark.parametrize("messages", [
    [{"type": "http.disconnect"}],
    [{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"}],
])
def test_the_route_answers_nothing_to_a_client_gone_mid_request(
        messages: list[dict[str, Any]]) -> None:
    """Directly on the ASGI route: a client gone before its body was whole gets no
    answer, its pull is not run, nothing is counted, and nothing goes on to the app."""
    def handle(*_args: Any) -> Any:
        raise AssertionError("a pull run for a client that went away")

    async def framework(*_args: Any) -> None:
        raise AssertionError("passed on to the framework")

    route = PullRoute(framework, path=protocol.SYNC_PULL_PATH, handle=handle,
                      max_after=2**62, max_limit=1000, default_limit=500)
    assert _asgi_run(route, messages) == []
    assert route.served == 0


def test_the_route_answers_a_whole_request_with_what_its_handler_gives() -> None:
    seen: list[Any] = []

    def handle(request: Any, after: int, limit: int) -> Any:
        from starlette.responses import Response

        seen.append((request.body, request.query, after, limit))
        return Response(b"{}", media_type="application/json")

    async def framework(*_args: Any) -> None:
        raise AssertionError("passed on to the framework")

    route = PullRoute(framework, path=protocol.SYNC_PULL_PATH, handle=handle,
                      max_after=2**62, max_limit=1000, default_limit=500)
    sent = _asgi_run(route, [{"type": "http.request", "body": b"a", "more_body": True},
                             {"type": "http.request", "body": b"b", "more_body": False}])
    assert seen == [(b"ab", b"after=1", 1, 500)]
    assert sent[0]["status"] == 200 and route.served == 1
