"""Property-based fuzzing of the whole HTTP API from its own ``/openapi.json``
(schemathesis), against a real ``central serve`` on SQLite and on PostgreSQL.

The rule under test: no input of any kind yields a 500 (nor a crash turned into an
op's answer, nor a 503 with nobody to contend with); every answer has a documented
status and the documented shape.

* ``test_signed``: every operation of the document, data that fits it and data that
  does not, each request signed by an enrolled worker's device as ``sync/protocol.py``
  says (a ``requests`` auth hook signs the request as prepared: path and query as
  sent, the exact body bytes, a fresh nonce).
* ``test_matched_ops``: pushes whose ops carry the payload schema of their own kind
  (``Op_<kind>``), so validation lets them through to the code that applies them.
* ``test_unauthenticated``: every signed operation without, with garbage, forged,
  stale, replayed or tampered signature headers: always a 401, never data.
* ``test_sync_sequences``: a state machine over push, re-push, pull, conflicting
  edits, the leader's decisions, photo chunks and ``/photos/missing``, with the
  protocol's promises as invariants (exactly once, a feed that skips nothing,
  resumable uploads).
* ``test_the_server_logged_no_error``: last, the server's log holds no traceback.

Bounded for CI (one to two minutes per database): derandomized, so every run tries the
same inputs, ``GRIDFIELD_FUZZ_EXAMPLES`` per operation and mode (default 100; the state
machine runs half as many sequences of 30 steps). Run longer locally, and with inputs
no run tried before, e.g.::

    GRIDFIELD_FUZZ_EXAMPLES=1000 GRIDFIELD_FUZZ_RANDOM=1 \\
        python -m pytest tests/central/test_fuzz_api.py -q -k sqlite
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import requests
import schemathesis
from central_helpers import SEED_ARGS, central, central_json, start_server, stop_process
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi import checks as oa_checks
from sqlalchemy import Engine

from central import db, ops
from sync import protocol
from sync.protocol import bundle, schemas


def _bundle_bodies() -> st.SearchStrategy[bytes]:
    """Bodies for ``/photos/bundle``: well-formed bundles (small parts of made-up or
    real-looking photos, true or false offsets), damaged ones, and plain bytes."""
    sha = st.text("0123456789abcdef", min_size=64, max_size=64)
    part = st.builds(
        lambda s, data, offset, extra: bundle.Part(s, offset, offset + len(data) + extra,
                                                   data),
        sha, st.binary(min_size=1, max_size=64), st.integers(0, 200), st.integers(0, 50))
    good = st.lists(part, min_size=1, max_size=5).map(bundle.encode)
    damaged = st.tuples(good, st.integers(0, 400), st.binary(max_size=8)).map(
        lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:])
    return st.one_of(good, damaged, st.binary(max_size=300))


schemathesis.openapi.media_type(bundle.CONTENT_TYPE, _bundle_bodies())

EXAMPLES = int(os.environ.get("GRIDFIELD_FUZZ_EXAMPLES", "100"))
FRESH = os.environ.get("GRIDFIELD_FUZZ_RANDOM") == "1"  # new inputs each run, not CI's
# CI: each test well under pytest's 300 s; a longer local run gets the time it needs
pytestmark = pytest.mark.timeout(max(300, EXAMPLES * 6))
FUZZ = settings(max_examples=EXAMPLES, derandomize=not FRESH, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    oa_checks.status_code_conformance,
    oa_checks.content_type_conformance,
    oa_checks.response_schema_conformance,
]
# An op whose application raised is answered "rejected" (per-op isolation) with one of
# these details: the batch goes on, but it is still a crash the fuzzer must report.
CRASH_DETAILS = ("this op could not be applied (", "the database refused this op (")


# -- signing -------------------------------------------------------------------------------

def _body_bytes(r: requests.PreparedRequest) -> bytes:
    body = r.body or b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


class Signer(requests.auth.AuthBase):
    """Signs a request exactly as prepared (path+query and body bytes as sent, a fresh
    nonce), as an enrolled device does. With ``chunk_sha`` a photo chunk also gets the
    true SHA-256 of its bytes, so generated chunks get past the checksum."""

    def __init__(self, key: Ed25519PrivateKey, device_id: str, chunk_sha: bool = False) -> None:
        self.key = key
        self.device_id = device_id
        self.chunk_sha = chunk_sha

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = _body_bytes(r)
        if self.chunk_sha and r.method == "PUT":
            r.headers[protocol.HEADER_CHUNK_SHA256] = hashlib.sha256(body).hexdigest()
        assert r.method is not None
        r.headers.update(self.headers(r.method, r.path_url, body))
        return r

    def headers(self, method: str, path: str, body: bytes, **kw: Any) -> dict[str, str]:
        return {**protocol.sign_headers(self.key, self.device_id, method, path, body, **kw),
                protocol.HEADER_PROTOCOL: str(protocol.PROTOCOL_LEVEL)}

    def with_chunk_sha(self) -> Signer:
        return Signer(self.key, self.device_id, chunk_sha=True)


class Forger(requests.auth.AuthBase):
    """What an attacker or a broken device sends instead of a good signature."""

    def __init__(self, signer: Signer, attack: str, replayed_nonce: str) -> None:
        self.signer, self.attack, self.replayed_nonce = signer, attack, replayed_nonce

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        assert r.method is not None
        body, path, attack = _body_bytes(r), r.path_url, self.attack
        if attack == "none":
            for name in protocol.AUTH_HEADERS:
                r.headers.pop(name, None)
            return r
        if attack == "garbage":  # the generated values of the documented headers
            return r
        if attack == "wrong_key":
            signed = Signer(Ed25519PrivateKey.generate(), self.signer.device_id)
            r.headers.update(signed.headers(r.method, path, body))
        elif attack == "unknown_device":
            r.headers.update(Signer(self.signer.key, str(uuid.uuid4())).headers(
                r.method, path, body))
        elif attack == "stale":
            r.headers.update(self.signer.headers(
                r.method, path, body, timestamp=int(time.time()) - 2 * protocol.MAX_CLOCK_SKEW))
        elif attack == "replayed":
            r.headers.update(self.signer.headers(r.method, path, body, nonce=self.replayed_nonce))
        elif attack == "tampered_body":
            r.headers.update(self.signer.headers(r.method, path, body + b" "))
        elif attack == "tampered_path":
            r.headers.update(self.signer.headers(r.method, path + "&x=1", body))
        elif attack == "bad_base64":
            r.headers.update(self.signer.headers(r.method, path, body))
            r.headers[protocol.HEADER_SIGNATURE] = "%%%not base64%%%"
        return r


ATTACKS = ("none", "garbage", "wrong_key", "unknown_device", "stale", "replayed",
           "tampered_body", "tampered_path", "bad_base64")


# -- the server under test -----------------------------------------------------------------

@dataclass
class FuzzTarget:
    backend: str
    base: str
    db_url: str
    grid: dict[str, Any]
    worker: Signer
    other: Signer  # a second worker of the same grid: conflicts need two devices
    leader: Signer
    replayed_nonce: str
    log: Path
    engine: Engine  # the test's own connection (enrollment codes)
    doc: dict[str, Any] = field(default_factory=dict)


def _enrolled(base: str, db_url: str, person_id: int) -> Signer:
    engine = db.make_engine(db_url)
    try:
        code = ops.create_enrollment_code(engine, person_id)["code"]
    finally:
        engine.dispose()
    key = Ed25519PrivateKey.generate()
    resp = requests.post(base + "/api/v1/enroll", timeout=10, json={
        "code": code, "public_key": protocol.public_key_b64(key), "device_name": "fuzz"})
    assert resp.status_code == 200, resp.text
    return Signer(key, resp.json()["device_id"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[FuzzTarget]:
    """A server of its own (fuzzing leaves junk behind), rate limited (so the limiter
    runs) well above what one test sends, with two workers' devices and their leader's."""
    workdir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        db_url = f"sqlite:///{workdir / 'central.db'}"
    else:
        db_url = request.getfixturevalue("pg_server").new_database()
    central(db_url, "init")
    grid = json.loads(central(db_url, *SEED_ARGS).stdout)["grids"][0]
    central_json(db_url, "task", "push", "--grid", str(grid["id"]), "--title", "入户核查",
                 "--body", "核查本网格独居老人")
    proc, base = start_server(db_url, workdir, "--photo-dir", str(workdir / "photos"),
                              "--rate-limit", "10000")
    try:
        worker = _enrolled(base, db_url, grid["workers"][0])
        other = _enrolled(base, db_url, grid["workers"][1])
        leader = _enrolled(base, db_url, grid["leader"])
        # used once, for real, by a state-changing request (the server keeps its nonce):
        # every later use is a replay (a GET keeps none: sync/protocol, "Replay protection")
        nonce = protocol.new_nonce()
        path = protocol.DEVICE_STATUS_PATH
        status = json.dumps({"channel": "stable", "pending_ops": 0, "photos_waiting": 0,
                             "photo_bytes": 0, "secret_store": "keyring"}).encode()
        used = requests.post(base + path, data=status, timeout=10, headers={
            **worker.headers("POST", path, status, nonce=nonce),
            "Content-Type": "application/json"})
        assert used.status_code == 200, used.text
        doc = requests.get(base + "/openapi.json", timeout=10).json()
        log = workdir / f"serve-{base.rsplit(':', 1)[1]}.log"
        engine = db.make_engine(db_url)
        yield FuzzTarget(request.param, base, db_url, grid, worker, other, leader, nonce, log,
                         engine, doc)
        engine.dispose()
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def api(target: FuzzTarget) -> schemathesis.BaseSchema:
    """The server's own document, as it serves it."""
    return schemathesis.openapi.from_url(target.base + "/openapi.json")


OPS_PER_BATCH = 5
KIND_PATH = "/fuzz-only/op/{}"  # in the test's own copy of the document; never sent


def kind_ops_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The served document plus, for each op kind, an operation whose body is an op of
    that kind with that kind's own payload schema (``Op_<kind>``): a generator for ops
    that get past validation to the code that applies them. (The document says any
    payload schema may go with any kind: true to the wire, but nearly every such op is
    refused at validation; and one ``anyOf`` over all kinds draws a few of them far
    more often than the rest.)"""
    doc = copy.deepcopy(doc)
    components = doc["components"]["schemas"]
    op_in = components["OpIn"]
    for kind in op_in["properties"]["kind"]["enum"]:
        name = "OpOf_" + kind.replace(".", "_")
        variant = copy.deepcopy(op_in)
        variant["properties"]["kind"] = {"type": "string", "enum": [kind]}
        variant["properties"]["payload"] = {"$ref": f"#/components/schemas/Op_{name[5:]}"}
        components[name] = variant
        doc["paths"][KIND_PATH.format(kind)] = {"post": {
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{name}"}}}},
            "responses": {"200": {"description": "never sent"}}}}
    return doc


@pytest.fixture(scope="module")
def kind_ops(target: FuzzTarget) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Batches of 1-5 ops, each kind as likely as any other."""
    api = schemathesis.openapi.from_dict(kind_ops_document(target.doc))
    kinds = target.doc["components"]["schemas"]["OpIn"]["properties"]["kind"]["enum"]
    one = st.one_of([api[KIND_PATH.format(k)]["POST"].as_strategy().map(lambda c: c.body)
                     for k in kinds])
    return st.lists(one, min_size=1, max_size=OPS_PER_BATCH)


def fresh_ids(ops: list[dict[str, Any]]) -> None:
    """New op and record ids in place (the same generated id twice stays the same id
    twice): derandomized examples repeat ids, and the server outlives an example, so
    without this most ops would be answered ``duplicate`` and never applied."""
    prefix = uuid.uuid4().hex[:8]
    for op in ops:
        op["op_id"] = (prefix + op["op_id"])[:64]
        op["record_id"] = (prefix + op["record_id"])[:36]


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, from the app as the server builds it (the
    served document must have exactly these: a new endpoint is fuzzed, or this fails)."""
    from central.app import create_app

    with tempfile.TemporaryDirectory(prefix="gridfield-openapi-") as tmp:
        engine = db.make_engine(f"sqlite:///{Path(tmp) / 'central.db'}")
        try:
            db.migrate(engine)  # the app looks at its tables when it starts
            doc = create_app(engine, photo_dir=Path(tmp) / "photos").openapi()
        finally:
            engine.dispose()
    return [(m.upper(), p) for p, item in doc["paths"].items() for m in item]


OPERATIONS = _operations()
OPERATION_IDS = [f"{m} {p}" for m, p in OPERATIONS]


def _signed_operation(api: schemathesis.BaseSchema, method: str, path: str) -> bool:
    return bool(api[path][method].definition.raw.get("security"))


def assert_sound(response: Any, case: schemathesis.Case | None = None) -> None:
    """What the document cannot say: no 503 (nothing contends in these tests), errors
    are ``{"error", "message"}``, and no op's answer is a crash in disguise."""
    status = response.status_code
    assert status != 503, f"503 without contention: {response.text}"
    if status >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str), body
    if status == 200 and case is not None and case.path == protocol.SYNC_PUSH_PATH:
        for result in response.json()["results"]:
            detail = result.get("detail") or ""
            assert not detail.startswith(CRASH_DETAILS), (result, case.body)


# -- the document ----------------------------------------------------------------------------

def test_document_is_valid(api: schemathesis.BaseSchema, target: FuzzTarget) -> None:
    """It validates as OpenAPI, every operation loads, every operation of the app is in
    it, every component is a valid JSON Schema whose references resolve, and every
    signed operation says so."""
    api.validate()
    loaded = list(api.get_all_operations())
    assert all(op.ok() for op in loaded)
    assert {(op.ok().method.upper(), op.ok().path) for op in loaded} == set(OPERATIONS)
    components = target.doc["components"]["schemas"]
    for name, schema in components.items():
        jsonschema_rs.meta.validate(schema)
        jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}",
                                     "components": {"schemas": components}})
    unsigned = {(m, p) for m, p in OPERATIONS if not _signed_operation(api, m, p)}
    # open to all: health, enrollment, and the signed release repository (TUF metadata
    # and archives: what they hold is signed, and the same for every device)
    assert unsigned == {("GET", "/api/v1/health"), ("POST", "/api/v1/enroll"),
                        ("GET", "/api/v1/updates/metadata/{name}"),
                        ("GET", "/api/v1/updates/targets/{name}")}


# -- every operation, signed ------------------------------------------------------------------

@pytest.mark.parametrize("mode", list(GenerationMode))
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=OPERATION_IDS)
def test_signed(api: schemathesis.BaseSchema, target: FuzzTarget, method: str, path: str,
                mode: GenerationMode) -> None:
    """Every operation, signed by an enrolled worker's device: data that fits the
    document and data that does not."""
    operation = api[path][method]
    raw = operation.definition.raw
    if mode is GenerationMode.NEGATIVE and not raw.get("parameters") \
            and "requestBody" not in raw:
        pytest.skip("nothing to get wrong: the operation takes no input")
    http = requests.Session()

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
    def run(case: schemathesis.Case, real: bool) -> None:
        # half of the time the one thing no generator can guess is real, so the rest of
        # the request reaches the code behind it: an unused enrollment code and a real
        # key; a chunk's true checksum
        auth = target.worker
        if real and path == "/api/v1/enroll" and isinstance(case.body, dict):
            code = ops.create_enrollment_code(target.engine, target.grid["workers"][0])
            case.body["code"] = code["code"]
            case.body["public_key"] = protocol.public_key_b64(Ed25519PrivateKey.generate())
        if real and path == protocol.PHOTO_CHUNK_PATH:
            auth = target.worker.with_chunk_sha()
        response = case.call_and_validate(base_url=target.base, session=http, auth=auth,
                                          checks=CHECKS)
        assert_sound(response, case)

    run()


def test_matched_ops(api: schemathesis.BaseSchema, kind_ops: st.SearchStrategy[Any],
                     target: FuzzTarget) -> None:
    """Pushes of ops whose payload fits their own kind's schema, with the worker's own
    grid in place of generated grid ids half of the time, so that ops get past
    validation to the code that applies them."""
    operation = api[protocol.SYNC_PUSH_PATH]["POST"]
    http = requests.Session()
    grid = target.grid["id"]

    @FUZZ
    @given(batch=kind_ops, own_grid=st.booleans())
    def run(batch: list[dict[str, Any]], own_grid: bool) -> None:
        fresh_ids(batch)
        if own_grid:
            for op in batch:
                if "grid_id" in op["payload"]:
                    op["payload"]["grid_id"] = grid
        case = operation.Case(body={"ops": batch}, media_type="application/json")
        response = case.call_and_validate(base_url=target.base, session=http,
                                          auth=target.worker, checks=CHECKS)
        assert_sound(response, case)

    run()


# -- every signed operation, unsigned or badly signed -----------------------------------------

@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=OPERATION_IDS)
def test_unauthenticated(api: schemathesis.BaseSchema, target: FuzzTarget, method: str,
                         path: str) -> None:
    """Never data without a good signature: a request that is well-formed but not
    signed right is a 401; whatever else, a documented 4xx."""
    if not _signed_operation(api, method, path):
        pytest.skip("open to all (health, enroll, updates): fuzzed by test_signed")
    operation = api[path][method]
    http = requests.Session()

    @FUZZ
    @given(case=operation.as_strategy(), attack=st.sampled_from(ATTACKS))
    def run(case: schemathesis.Case, attack: str) -> None:
        forger = Forger(target.worker, attack, target.replayed_nonce)
        response = case.call_and_validate(base_url=target.base, session=http, auth=forger,
                                          checks=CHECKS)
        assert_sound(response)
        if attack == "replayed" and not protocol.keeps_nonce(method):
            # a GET signed right with a used nonce: no nonce is kept for a read
            # (sync/protocol, "Replay protection"); answered as the device's own read
            assert response.status_code != 401 or response.json()["error"] != "replayed"
            return
        assert response.status_code == 401, (attack, response.status_code, response.text)

    run()


@FUZZ
@given(level=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30)
       .filter(lambda v: not v[:1].isspace())  # requests itself refuses to send those
       | st.integers(-(10**30), 10**30).map(str))
def test_any_protocol_level_header(target: FuzzTarget, level: str) -> None:
    """The device's protocol level header, whatever it holds: served, or told to
    update (426); never a 5xx."""
    response = requests.get(target.base + "/api/v1/health", timeout=10,
                            headers={protocol.HEADER_PROTOCOL: level})
    if "\x7f" in level:  # a control character (RFC 9110): httptools refuses the request
        assert response.status_code in (200, 400, 426), (level, response.text)
    else:
        assert response.status_code in (200, 426), (level, response.text)
    assert_sound(response)


# -- stateful: sequences of sync requests -------------------------------------------------------

@dataclass
class Photo:
    data: bytes
    sha: str
    sent: int = 0  # bytes the server has (it says so in /photos/missing)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
               min_size=1, max_size=20).filter(str.strip)
EDITS = {"head_name": TEXT, "address": TEXT, "phone": st.text("0123456789", min_size=5,
                                                              max_size=20)}


class SyncSequences(RuleBasedStateMachine):
    """Two workers' devices and their grid leader's, against the live server: pushes of
    generated ops aimed at real records, household edits that collide, the leader's
    decisions, re-pushes, pulls, photo uploads in chunks. Invariants: one answer per op,
    a valid edit is applied or a conflict, a re-sent op is a duplicate (never applied
    twice), the feed moves forward, serves only what fits its schema and holds
    everything applied, an upload resumes where the server says, nothing 5xx."""

    target: FuzzTarget
    api: schemathesis.BaseSchema  # every answer is checked against the document
    ops_strategy: st.SearchStrategy[list[dict[str, Any]]]

    photos = Bundle("photos")

    def __init__(self) -> None:
        super().__init__()
        self.http = requests.Session()
        # a connection per request: a rule may idle past the server's keep-alive, and a
        # request sent as the server closes the old connection would be lost in between
        self.http.headers["Connection"] = "close"
        self.run_id = uuid.uuid4().hex[:8]  # the server outlives one run: fresh ids
        self.cursor = 0
        self.answers: dict[str, dict[str, Any]] = {}  # op id -> its first recorded answer
        self.batches: list[tuple[Signer, list[dict[str, Any]]]] = []
        self.applied: set[tuple[str, str]] = set()  # (feed kind, id) applied in this run
        self.fed: set[tuple[str, str]] = set()  # (kind, id) seen in the feed
        self.versions: dict[str, int] = {}  # household id -> version last seen
        self.conflicts: list[str] = []
        self.known: dict[str, list[str]] = {}  # record kind -> ids of the grid
        self.uploads: dict[str, Photo] = {}

    # -- plumbing
    def send(self, signer: Signer, method: str, path: str, body: Any = None,
             params: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        data = body if isinstance(body, bytes) else (
            None if body is None else json.dumps(body).encode())
        if data is not None and not isinstance(body, bytes):
            headers = {**(headers or {}), "Content-Type": "application/json"}
        response = self.http.request(method, self.target.base + path, params=params,
                                     data=data, headers=headers, auth=signer, timeout=30)
        assert response.status_code < 500, (method, path, body, response.text)
        assert_sound(response)
        template = protocol.PHOTO_CHUNK_PATH if path.startswith("/api/v1/photos/") \
            and method == "PUT" else path
        self.api[template][method].Case().validate_response(response, checks=CHECKS)
        return response

    def push(self, signer: Signer, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.send(signer, "POST", protocol.SYNC_PUSH_PATH, {"ops": batch})
        assert response.status_code == 200, (batch, response.text)
        results: list[dict[str, Any]] = response.json()["results"]
        assert [r["op_id"] for r in results] == [op["op_id"] for op in batch]
        for op, result in zip(batch, results, strict=True):
            assert result["status"] in protocol.OP_STATUSES, result
            assert not (result.get("detail") or "").startswith(CRASH_DETAILS), (op, result)
            first = self.answers.get(op["op_id"])
            if first is not None:  # exactly once: the first answer, nothing applied again
                assert result["status"] == "duplicate", (op, first, result)
                continue
            if result["status"] != protocol.RETRY_LATER:
                self.answers[op["op_id"]] = result
            if result["status"] == "applied" and op["kind"] in FEED_KIND:
                self.applied.add((FEED_KIND[op["kind"]], op["record_id"]))
            if op["kind"] == "household.update" and result.get("version") is not None:
                self.versions[op["record_id"]] = max(self.versions.get(op["record_id"], 0),
                                                     int(result["version"]))
        return results

    def pull_page(self, limit: int) -> dict[str, Any]:
        response = self.send(self.target.worker, "GET", protocol.SYNC_PULL_PATH,
                             params={"after": self.cursor, "limit": limit})
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        seqs = [c["seq"] for c in page["changes"]]
        assert seqs == sorted(seqs) and all(s > self.cursor for s in seqs), seqs
        if seqs:
            assert page["next_after"] == seqs[-1], page["next_after"]
        else:  # nothing for the device: the cursor may move to the feed's head
            assert page["next_after"] >= self.cursor, page["next_after"]
        assert len(set(seqs)) <= limit, (limit, seqs)  # a sequence number is never cut
        for change in page["changes"]:
            if change["kind"] in schemas.PULL_DATA:
                schemas.check_change(change)  # the feed serves only what fits its schema
            self.fed.add((change["kind"], change["id"]))
            if change["kind"] == "household":
                self.versions[change["id"]] = int(change["data"]["version"])
            if change["kind"] == "conflict" and change["data"].get("status") == "open":
                self.conflicts.append(change["id"])
        self.cursor = page["next_after"]
        return page

    def pull_to_end(self) -> None:
        while self.pull_page(protocol.MAX_PULL_LIMIT)["has_more"]:
            pass

    def op_id(self) -> str:
        return f"{self.run_id}-{uuid.uuid4().hex}"

    # -- rules
    # What the server answered never decides what is drawn next (hypothesis replays a
    # failing run, and the server may answer differently): records are picked from
    # plain lists by drawn numbers, not kept in bundles.
    @initialize()
    def known_records(self) -> None:
        """The grid's households, members and tasks, as a device first sees them, and
        the feed to its end."""
        grid = self.target.grid["id"]
        households = self.send(self.target.worker, "GET", "/api/v1/households",
                               params={"grid": grid}).json()["households"]
        tasks = self.send(self.target.worker, "GET", "/api/v1/tasks",
                          params={"grid": grid}).json()["tasks"]
        self.known = {
            "household": [h["id"] for h in households[:6]],
            "member": [m["id"] for h in households[:3] for m in h["members"][:2]],
            "task": [t["id"] for t in tasks[:3]],
            "event": [],
        }
        self.pull_to_end()

    def pick(self, kind: str, number: int) -> str | None:
        found = self.known[kind]
        return found[number % len(found)] if found else None

    @rule(data=st.data(), aims=st.lists(st.tuples(st.integers(0, OPS_PER_BATCH - 1),
                                                  st.integers(0, 10**6)),
                                        max_size=OPS_PER_BATCH),
          second=st.booleans())
    def push_generated(self, data: st.DataObject, aims: list[tuple[int, int]],
                       second: bool) -> None:
        """A batch of generated ops (each of its kind's schema), some aimed at real
        records of the grid."""
        batch = data.draw(self.ops_strategy)
        fresh_ids(batch)
        for i, number in aims:
            if i < len(batch):
                self._aim(batch[i], number)
        signer = self.target.other if second else self.target.worker
        self.batches.append((signer, batch))
        for op, result in zip(batch, self.push(signer, batch), strict=True):
            if result["status"] == "applied" and op["kind"] in FEED_KIND:
                self.known[FEED_KIND[op["kind"]]].append(op["record_id"])

    def _aim(self, op: dict[str, Any], number: int) -> None:
        """Point a generated op at a real record of the workers' grid."""
        payload, kind = op["payload"], op["kind"]
        refs: list[tuple[dict[str, Any], str, str]] = []
        if kind.startswith("household.") and kind != "household.create":
            refs.append((op, "record_id", "household"))
        if kind in ("member.update", "member.remove"):
            refs.append((op, "record_id", "member"))
        if kind in ("member.create", "visit.create", "event.report"):
            refs.append((payload, "household_id", "household"))
        if kind in ("task.ack", "task.answer"):
            refs.append((payload, "task_id", "task"))
        if kind in ("event.followup", "task.answer"):
            refs.append((payload, "event_id", "event"))
        for where, name, record_kind in refs:
            found = self.pick(record_kind, number)
            if found is not None:
                where[name] = found
        if kind in ("household.update", "member.update", "member.remove"):
            known = self.versions.get(op["record_id"], 1)  # the version seen, or one before
            op["base_version"] = max(0, known - number % 2)
        if "grid_id" in payload or kind in FEED_KIND:
            payload["grid_id"] = self.target.grid["id"]

    @rule(number=st.integers(0, 10**6), edit=st.sampled_from(sorted(EDITS)), data=st.data(),
          race=st.booleans(), swap=st.booleans())
    def edit_household(self, number: int, edit: str, data: st.DataObject,
                       race: bool, swap: bool) -> None:
        """A valid edit by one worker from the version last seen: applied, or a conflict
        with an older one; never refused. In a race the other worker edits the same
        field from the same version, not having seen the first: a conflict."""
        household = self.pick("household", number)
        value, other_value = data.draw(EDITS[edit]), data.draw(EDITS[edit])
        if household is None:
            return
        first, second = (self.target.other, self.target.worker) if swap else (
            self.target.worker, self.target.other)
        base = self.versions.get(household, 1)
        (result,) = self.push(first, [self._edit(household, base, edit, value)])
        assert result["status"] in ("applied", "conflict"), result
        self.conflicts += result.get("conflicts", [])  # compact: absent when none
        if not race:
            return
        (raced,) = self.push(second, [self._edit(household, base, edit, other_value)])
        if edit in result.get("applied_fields", []) and other_value != value:
            assert raced["status"] == "conflict" and raced["conflicts"], raced
        else:
            assert raced["status"] in ("applied", "conflict"), raced
        self.conflicts += raced.get("conflicts", [])

    def _edit(self, household: str, base: int, field: str, value: str) -> dict[str, Any]:
        return {"op_id": self.op_id(), "kind": "household.update", "record_id": household,
                "base_version": base, "payload": {"fields": {field: value}}}

    @rule(choice=st.sampled_from(protocol.CONFLICT_CHOICES), which=st.integers(0, 5))
    def leader_decides(self, choice: str, which: int) -> None:
        """A decision is applied, or refused as already made or stale; never a crash."""
        if not self.conflicts:
            return
        conflict = self.conflicts[which % len(self.conflicts)]
        (result,) = self.push(self.target.leader, [{
            "op_id": self.op_id(), "kind": "conflict.resolve", "record_id": conflict,
            "base_version": None, "payload": {"choice": choice}}])
        assert result["status"] == "applied" or result.get("reason") in (
            "already_resolved", "stale"), result
        if result["status"] == "applied" or result.get("reason") == "already_resolved":
            self.conflicts.remove(conflict)

    @rule(number=st.integers(0, 10**6), step=st.integers(0, 3), note=st.none() | TEXT)
    def centre_moves_event(self, number: int, step: int, note: str | None) -> None:
        """The command centre moves a reported event along its loop (so that follow-ups
        meet every status); the workers' feed carries the event with its history."""
        event = self.pick("event", number)
        if event is None:
            return
        status = ops.show_event(self.target.engine, event)["status"]
        allowed = ops.TRANSITIONS[status]
        if allowed:
            ops.advance_event(self.target.engine, event, allowed[step % len(allowed)], note)

    @rule(second=st.booleans())
    def list_records(self, second: bool) -> None:
        """The grid's households and tasks, as a device lists them: whatever was pushed
        before, the lists are served (one bad record once made them a 500)."""
        signer = self.target.other if second else self.target.worker
        for path in ("/api/v1/households", "/api/v1/tasks"):
            response = self.send(signer, "GET", path, params={"grid": self.target.grid["id"]})
            assert response.status_code == 200, response.text

    @rule(which=st.integers(0, 1000))
    def repush(self, which: int) -> None:
        """A batch sent again (its answer was lost): every op is a duplicate."""
        if self.batches:
            self.push(*self.batches[which % len(self.batches)])

    @rule(limit=st.integers(1, 50))
    def pull(self, limit: int) -> None:
        self.pull_page(limit)

    @rule(target=photos, data=st.binary(min_size=1, max_size=4000))
    def new_photo(self, data: bytes) -> Photo:
        data = self.run_id.encode() + data  # unique to this run: the server keeps photos
        sha = hashlib.sha256(data).hexdigest()
        return self.uploads.setdefault(sha, Photo(data, sha))  # the same bytes: one photo

    @rule(photo=photos, size=st.integers(1, 1500), skew=st.sampled_from([0, 0, 0, 1, -1]),
          corrupt=st.booleans())
    def put_chunk(self, photo: Photo, size: int, skew: int, corrupt: bool) -> None:
        """The next chunk, or one at a wrong offset, or one whose checksum is wrong."""
        offset = max(0, photo.sent + skew)
        chunk = photo.data[offset:offset + size]
        if not chunk:
            return
        chunk_sha = hashlib.sha256(chunk + (b"x" if corrupt else b"")).hexdigest()
        response = self.send(self.target.worker, "PUT", f"/api/v1/photos/{photo.sha}",
                             body=chunk, params={"offset": offset, "total": len(photo.data)},
                             headers={protocol.HEADER_CHUNK_SHA256: chunk_sha,
                                      "Content-Type": "application/octet-stream"})
        if corrupt:  # checked first, whatever else
            assert response.status_code == 400, response.text
        elif photo.sent == len(photo.data):  # any chunk of a photo the server has
            assert response.status_code == 200 and response.json()["complete"], response.text
        elif offset != photo.sent:
            assert response.status_code == 409, response.text
            assert response.json()["offset"] == photo.sent
        else:
            assert response.status_code == 200, response.text
            photo.sent = offset + len(chunk)
            body = response.json()
            assert body["offset"] == photo.sent
            assert body["complete"] == (photo.sent == len(photo.data))

    @rule(photos=st.lists(photos, max_size=5), noise=st.lists(
        st.binary(min_size=1, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest()),
        max_size=3))
    def ask_missing(self, photos: list[Photo], noise: list[str]) -> None:
        """The server lacks what is not complete, and says where each upload resumes."""
        hashes = [p.sha for p in photos] + noise
        response = self.send(self.target.worker, "POST", protocol.PHOTOS_MISSING_PATH,
                             {"hashes": hashes})
        assert response.status_code == 200, response.text
        missing = {m["sha256"]: m["offset"] for m in response.json()["missing"]}
        for p in photos:
            if p.sent == len(p.data):
                assert p.sha not in missing
            else:
                assert missing[p.sha] == p.sent

    def teardown(self) -> None:
        """Everything applied is in the feed once it is pulled to the end."""
        self.pull_to_end()
        lost = sorted(self.applied - self.fed)
        assert not lost, lost
        self.http.close()


FEED_KIND = {"household.create": "household", "event.report": "event"}


def test_sync_sequences(target: FuzzTarget, api: schemathesis.BaseSchema,
                        kind_ops: st.SearchStrategy[Any]) -> None:
    machine = type("Sequences", (SyncSequences,), {
        "target": target,
        "api": api,
        "ops_strategy": kind_ops,
    })
    # no shrinking: the server keeps what each try did, so a replay is not the same try
    run_state_machine_as_test(machine, settings=settings(
        FUZZ, max_examples=max(3, EXAMPLES // 2), stateful_step_count=30,
        phases=[Phase.explicit, Phase.reuse, Phase.generate]))


def test_the_server_logged_no_error(target: FuzzTarget) -> None:
    """Last, after everything above: nothing raised inside the server, not even where
    an answer was made of it (an op's "rejected"), and no row that passed validation at
    push failed it in the feed."""
    log = target.log.read_text(errors="replace")
    for sign in ("Traceback", "ERROR", "left out of the feed"):
        assert sign not in log, log[-6000:]
