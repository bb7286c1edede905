"""Load shedding (central/web/shedding.py): past a queue of work waiting for a server thread,
new requests get 503 with a random Retry-After at once instead of queueing until the
devices' timeouts; the health check is never shed; the device backs off by it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from central_helpers import Device, central, start_server, stop_process
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from central import ops
from central.db import make_engine
from central.web.shedding import LoadShedder
from sync import protocol
from sync.errors import ServerBusy
from sync.transport import _raise_for  # the device's reading of an answer


def _app(waiting: list[int]) -> LoadShedder:
    inner = Starlette(routes=[Route("/api/v1/health", lambda _r: PlainTextResponse("ok")),
                              Route("/api/v1/sync/pull", lambda _r: PlainTextResponse("data"))])
    return LoadShedder(inner, max_waiting=3, retry_after=(5, 30), waiting=lambda: waiting[0])


class Answer:
    """What the ASGI app sent, read as the device's HTTP library would."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        start = messages[0]
        self.status_code = int(start["status"])
        self.headers = {k.decode().title(): v.decode() for k, v in start["headers"]}
        self.body = b"".join(m.get("body", b"") for m in messages[1:])
        self.reason = ""

    def json(self) -> Any:
        return json.loads(self.body)


def get(app: LoadShedder, path: str) -> Answer:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [], "http_version": "1.1", "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return Answer(sent)


def test_requests_past_the_queue_are_turned_away_with_a_spread_retry_after() -> None:
    waiting = [0]
    app = _app(waiting)
    assert get(app, "/api/v1/sync/pull").body == b"data"
    waiting[0] = 3
    answers = [get(app, "/api/v1/sync/pull") for _ in range(40)]
    assert {a.status_code for a in answers} == {503}
    assert {a.json()["error"] for a in answers} == {"overloaded"}
    waits = {int(a.headers["Retry-After"]) for a in answers}
    assert waits <= set(range(5, 31)) and len(waits) > 5  # spread, so not all return at once
    assert get(app, "/api/v1/health").status_code == 200  # never shed
    waiting[0] = 2
    assert get(app, "/api/v1/sync/pull").status_code == 200
    assert app.shed == 40


def test_the_device_reads_overloaded_as_busy_with_the_wait() -> None:
    answer = get(_app([5]), "/api/v1/sync/pull")
    with pytest.raises(ServerBusy) as caught:
        _raise_for(answer)  # type: ignore[arg-type]
    assert 5 <= caught.value.retry_after <= 30


@pytest.fixture()
def busy_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    db_url = f"sqlite:///{tmp_path / 'central.db'}"
    central(db_url, "init")
    # enough households that a pull page from the feed keeps a thread busy for a while
    central(db_url, "seed-demo", "--grids", "1", "--households-per-grid", "500", "--seed", "3")
    # no snapshots built at enrollment: a page of the feed is then the full pull's work,
    # not a slice of a snapshot the server may or may not have built yet
    proc, base = start_server(db_url, tmp_path, "--max-waiting", "1", "--rate-limit", "0",
                              "--no-warm-snapshots")
    try:
        yield db_url, base
    finally:
        stop_process(proc)


def test_a_real_server_sheds_a_crowd_and_keeps_answering(busy_server: tuple[str, str]) -> None:
    db_url, base = busy_server
    engine = make_engine(db_url)
    try:
        person = engine.connect().exec_driver_sql(
            "SELECT id FROM people WHERE role = 'worker' LIMIT 1").scalar_one()
        code = ops.create_enrollment_code(engine, int(person))["code"]
    finally:
        engine.dispose()
    dev = Device(base)
    assert dev.enroll(code).status_code == 200
    statuses: Counter[int] = Counter()
    waits: set[int] = set()
    lock = threading.Lock()

    def crowd() -> None:
        mine = Device(base)
        mine.key, mine.device_id = dev.key, dev.device_id
        for _ in range(4):  # whole pages of the feed (a pull from 0 is a snapshot's:
            # cheap), of which the crowd reads only the status: the server is the one
            # with work to do, however fast the machine
            prepared = mine.session.prepare_request(requests.Request(
                "GET", base + "/api/v1/sync/pull", params={"after": 1, "limit": 1000}))
            prepared.headers.update(protocol.sign_headers(
                mine.key, mine.device_id, "GET", prepared.path_url, b""))
            answer = mine.session.send(prepared, timeout=60, stream=True)
            with lock:
                statuses[answer.status_code] += 1
                if answer.status_code == 503:
                    assert answer.json()["error"] == "overloaded"
                    waits.add(int(answer.headers["Retry-After"]))
            answer.close()

    # more devices at once than the server has threads (40): past the first 40, one
    # waits for a thread, and with --max-waiting 1 the next is turned away
    threads = [threading.Thread(target=crowd) for _ in range(96)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0 and statuses[200] > 0, statuses
    assert waits <= set(range(5, 31))
    assert dev.get("/api/v1/sync/pull", params={"after": 0, "limit": 50}).status_code == 200
