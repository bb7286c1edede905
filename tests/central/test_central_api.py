"""The HTTP API over real loopback HTTP against ``central serve``, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from central_helpers import Device, Server, central, central_json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from central import db, ops
from sync import protocol

NewDevice = Callable[[int], Device]


def assert_json_error(resp: requests.Response, status: int, error: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body["message"], str) and body["message"]
    if error is not None:
        assert body["error"] == error, body
    return body


# -- health and schema -----------------------------------------------------------------

def test_health_reports_server_time(server: Server) -> None:
    resp = requests.get(server.base + "/api/v1/health", timeout=5)
    assert resp.status_code == 200
    body = resp.json()
    server_time = datetime.fromisoformat(body["server_time"].replace("Z", "+00:00"))
    assert abs((server_time - datetime.now(UTC)).total_seconds()) < 5
    assert abs(body["unix_time"] - time.time()) < 5
    assert body["max_clock_skew"] == protocol.MAX_CLOCK_SKEW


def test_openapi_describes_endpoints(server: Server) -> None:
    spec = requests.get(server.base + "/openapi.json", timeout=5).json()
    for path in ("/api/v1/health", "/api/v1/enroll", "/api/v1/households", "/api/v1/tasks"):
        assert path in spec["paths"], path
    assert "post" in spec["paths"]["/api/v1/enroll"]
    # what is really sent and answered (found by fuzzing from this document)
    chunk = spec["paths"][protocol.PHOTO_CHUNK_PATH]["put"]
    assert protocol.HEADER_CHUNK_SHA256 in {p["name"] for p in chunk["parameters"]}
    assert "application/octet-stream" in chunk["requestBody"]["content"]
    signed = [{h: [] for h in protocol.AUTH_HEADERS}]
    for path, item in spec["paths"].items():
        for operation in item.values():
            assert {"400", "413", "426"} <= set(operation["responses"]), path
            invalid = operation["responses"].get("422")
            if invalid:
                assert invalid["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/InvalidOut")
            # open to all: the health check, enrollment, and the signed release
            # repository (its metadata and archives are signed by TUF, the same for all)
            if path not in ("/api/v1/health", "/api/v1/enroll") \
                    and not path.startswith("/api/v1/updates/"):
                assert operation["security"] == signed, path
                assert "429" in operation["responses"], path
    assert "HTTPValidationError" not in spec["components"]["schemas"]


# -- enrollment ------------------------------------------------------------------------

def test_enroll_code_is_single_use(server: Server) -> None:
    worker = server.grid(0)["workers"][0]
    code = central_json(server.db_url, "enroll", "--worker", str(worker))["code"]
    first = Device(server.base)
    resp = first.enroll(code)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["person"]["id"] == worker and body["person"]["role"] == "worker"
    assert body["grids"] == [server.grid(0)["id"]]
    second = Device(server.base)
    assert_json_error(second.enroll(code), 401, "enroll_code_used")
    # the code is not case- or dash-sensitive, and a made-up code is refused
    assert_json_error(Device(server.base).enroll("ABCD-EFGH-JKMN"), 401, "enroll_code_invalid")


def test_enroll_code_expires_after_24_hours(server: Server) -> None:
    worker = server.grid(1)["workers"][0]
    result = central_json(server.db_url, "enroll", "--worker", str(worker))
    expires = datetime.fromisoformat(result["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    with server.engine.begin() as conn:  # as if 24 hours had passed
        conn.execute(
            update(db.enrollment_codes)
            .where(db.enrollment_codes.c.code_hash == ops.hash_code(result["code"]))
            .values(expires_at=db.iso(datetime.now(UTC) - timedelta(seconds=1)))
        )
    assert_json_error(Device(server.base).enroll(result["code"]), 401, "enroll_code_expired")


def test_enroll_same_public_key_twice_is_refused(server: Server) -> None:
    worker = server.grid(2)["workers"][1]
    dev = Device(server.base)
    code1 = central_json(server.db_url, "enroll", "--worker", str(worker))["code"]
    assert dev.enroll(code1).status_code == 200
    code2 = central_json(server.db_url, "enroll", "--worker", str(worker))["code"]
    assert_json_error(dev.enroll(code2), 409, "key_in_use")
    # the refused attempt did not consume the code
    assert Device(server.base).enroll(code2).status_code == 200


# -- authentication --------------------------------------------------------------------

def test_signed_request_is_accepted(server: Server, new_device: NewDevice) -> None:
    grid = server.grid(0)
    dev = new_device(grid["workers"][0])
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]})
    assert resp.status_code == 200, resp.text
    households = resp.json()["households"]
    assert len(households) == grid["households"] == 6
    assert all(h["grid_id"] == grid["id"] for h in households)
    assert all(any(m["relation"] == "户主" for m in h["members"]) for h in households)
    assert {h["category"] for h in households} <= {"ordinary", "hardship", "key"}
    # the last contact is recorded (batched: within the server's --contact-flush, 2 s)
    deadline = time.monotonic() + 10
    while True:
        stats = central_json(server.db_url, "stats")
        mine = [d for d in stats["devices"] if d["id"] == dev.device_id]
        if (mine and mine[0]["last_contact"]) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert mine and mine[0]["last_contact"] and mine[0]["status"] == "active"


def test_bad_signature_is_refused(server: Server, new_device: NewDevice) -> None:
    grid = server.grid(0)
    dev = new_device(grid["workers"][0])
    other_key = Ed25519PrivateKey.generate()
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]}, key=other_key)
    assert_json_error(resp, 401, "bad_signature")
    # a signature over another query string does not carry over
    signed = protocol.sign_headers(dev.key, dev.device_id, "GET",
                                   f"/api/v1/households?grid={server.grid(1)['id']}")
    resp = requests.get(server.base + "/api/v1/households", params={"grid": grid["id"]},
                        headers=signed, timeout=5)
    assert_json_error(resp, 401, "bad_signature")
    # garbage in the headers is a 401, not a 500
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]},
                   extra_headers={protocol.HEADER_SIGNATURE: "%%%not base64%%%"})
    assert_json_error(resp, 401, "bad_signature")
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]},
                   extra_headers={protocol.HEADER_TIMESTAMP: "yesterday"})
    assert_json_error(resp, 401, "bad_timestamp")


def test_missing_headers_and_unknown_device(server: Server) -> None:
    resp = requests.get(server.base + "/api/v1/households", params={"grid": 1}, timeout=5)
    assert_json_error(resp, 401, "unauthenticated")
    stranger = Device(server.base)
    stranger.device_id = "00000000-0000-0000-0000-000000000000"
    assert_json_error(stranger.get("/api/v1/households", params={"grid": 1}), 401,
                      "unknown_device")


# +305, not +301: the whole-second timestamp and the request's time in flight take up
# to a second off a positive skew (301 failed once on a loaded machine).
@pytest.mark.parametrize("offset", [-301, -3600, 305, 86400])
def test_clock_skew_is_refused(server: Server, new_device: NewDevice, offset: int) -> None:
    grid = server.grid(0)
    dev = new_device(grid["workers"][1])
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]},
                   timestamp=int(time.time()) + offset)
    body = assert_json_error(resp, 401, "clock_skew")
    assert "server_time" in body  # so the device can tell the user how far off it is


def test_small_skew_is_accepted(server: Server, new_device: NewDevice) -> None:
    grid = server.grid(0)
    dev = new_device(grid["workers"][1])
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]},
                   timestamp=int(time.time()) - 200)
    assert resp.status_code == 200, resp.text


def test_replayed_nonce_is_refused(server: Server, new_device: NewDevice) -> None:
    """A replayed state-changing request is refused; a replayed GET inside the window
    is answered as the first (sync/protocol: "Replay protection")."""
    grid = server.grid(0)
    dev = new_device(grid["workers"][0])
    nonce, ts = protocol.new_nonce(), int(time.time())
    body = json.dumps({"channel": "stable", "pending_ops": 0, "photos_waiting": 0,
                       "photo_bytes": 0, "secret_store": "keyring"}).encode()
    ok = dev.request("POST", protocol.DEVICE_STATUS_PATH, body=body, nonce=nonce, timestamp=ts,
                     extra_headers={"content-type": "application/json"})
    assert ok.status_code == 200, ok.text
    again = dev.request("POST", protocol.DEVICE_STATUS_PATH, body=body, nonce=nonce,
                        timestamp=ts, extra_headers={"content-type": "application/json"})
    assert_json_error(again, 401, "replayed")
    nonce = protocol.new_nonce()
    first = dev.get("/api/v1/households", params={"grid": grid["id"]}, nonce=nonce, timestamp=ts)
    replay = dev.get("/api/v1/households", params={"grid": grid["id"]}, nonce=nonce, timestamp=ts)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert_json_error(dev.get("/api/v1/households", params={"grid": grid["id"]}, nonce="short"),
                      401, "bad_nonce")


# -- authorization ---------------------------------------------------------------------

def test_other_grid_is_forbidden(server: Server, new_device: NewDevice) -> None:
    mine, other = server.grid(0), server.grid(1)
    dev = new_device(mine["workers"][0])
    assert_json_error(dev.get("/api/v1/households", params={"grid": other["id"]}), 403,
                      "forbidden")
    assert_json_error(dev.get("/api/v1/tasks", params={"grid": other["id"]}), 403, "forbidden")
    # an id that is not a grid at all (the town) is forbidden as well, not a 500
    town = server.demo["town"]["id"]
    assert_json_error(dev.get("/api/v1/households", params={"grid": town}), 403, "forbidden")


def test_leader_and_supervisor_read_their_grids(server: Server, new_device: NewDevice) -> None:
    leader = new_device(server.grid(1)["leader"])
    assert leader.get("/api/v1/households", params={"grid": server.grid(1)["id"]}).ok
    assert leader.get("/api/v1/households",
                      params={"grid": server.grid(0)["id"]}).status_code == 403
    supervisor = new_device(server.demo["supervisor"])
    for g in server.demo["grids"]:
        resp = supervisor.get("/api/v1/households", params={"grid": g["id"]})
        assert resp.status_code == 200 and len(resp.json()["households"]) == g["households"]


def test_it_admin_cannot_get_an_enrollment_code(server: Server) -> None:
    result = central(server.db_url, "enroll", "--worker", str(server.demo["it_admin"]),
                     check=False)
    assert result.returncode == 2 and "IT administrator" in result.stderr
    assert central(server.db_url, "enroll", "--worker", "999999", check=False).returncode == 2


def test_revoked_device_gets_wipe_once_then_401(server: Server, new_device: NewDevice) -> None:
    grid = server.grid(2)
    dev = new_device(grid["workers"][0])
    assert dev.get("/api/v1/households", params={"grid": grid["id"]}).status_code == 200
    out = central_json(server.db_url, "revoke", "--device", dev.device_id)
    assert out == {"device_id": dev.device_id, "status": "revoked", "already": False,
                   "upload_until": None}
    first = dev.get("/api/v1/households", params={"grid": grid["id"]})
    assert first.status_code == 410
    assert first.json()["wipe"] is True
    for _ in range(2):
        assert_json_error(dev.get("/api/v1/households", params={"grid": grid["id"]}), 401,
                          "revoked")
    assert central_json(server.db_url, "revoke", "--device", dev.device_id)["already"] is True
    assert central(server.db_url, "revoke", "--device", "nope", check=False).returncode == 2


def test_wipe_instruction_needs_the_device_signature(server: Server,
                                                     new_device: NewDevice) -> None:
    grid = server.grid(2)
    dev = new_device(grid["workers"][1])
    central(server.db_url, "revoke", "--device", dev.device_id)
    # someone without the key cannot consume the wipe instruction
    forged = dev.get("/api/v1/households", params={"grid": grid["id"]},
                     key=Ed25519PrivateKey.generate())
    assert_json_error(forged, 401, "bad_signature")
    resp = dev.get("/api/v1/households", params={"grid": grid["id"]})
    assert resp.status_code == 410 and resp.json()["wipe"] is True


# -- bad input -------------------------------------------------------------------------

def test_malformed_and_mistyped_enroll_bodies(server: Server) -> None:
    url = server.base + "/api/v1/enroll"
    json_headers = {"Content-Type": "application/json"}
    cases: list[tuple[bytes, int]] = [
        (b"{not json", 400),
        (b'{"code": "AAAA-BBBB-CCCC", ', 400),
        (b"\xff\xfe\x00garbage", 400),
        (b"[]", 422),
        (b"null", 422),
        (b'"a string"', 422),
        (b"{}", 422),
        (b'{"code": 123, "public_key": "x", "device_name": "t"}', 422),
        (b'{"code": "AAAA-BBBB-CCCC", "public_key": ["a"], "device_name": "t"}', 422),
        (b'{"code": "AAAA-BBBB-CCCC", "public_key": "' + b"A" * 44
         + b'", "device_name": "t", "extra": 1}', 422),
        (b'{"code": "AAAA-BBBB-CCCC", "public_key": "not-base64-at-all-but-long-enough-xxxxxxxxx",'
         b' "device_name": "t"}', 422),
        (b'{"code": "AAAA-BBBB-CCCC", "public_key": "' + b"A" * 44 + b'", "device_name": ""}',
         422),
    ]
    for body, status in cases:
        resp = requests.post(url, data=body, headers=json_headers, timeout=5)
        assert_json_error(resp, status)
    # no Content-Type at all
    resp = requests.post(url, data=b"code=1", timeout=5)
    assert 400 <= resp.status_code < 500 and resp.json()["message"]


def test_huge_bodies_are_refused(server: Server, new_device: NewDevice) -> None:
    url = server.base + "/api/v1/enroll"
    huge = b'{"code": "' + b"A" * 200_000 + b'"}'
    assert_json_error(requests.post(url, data=huge, timeout=10,
                                    headers={"Content-Type": "application/json"}),
                      413, "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for _ in range(20):
            yield b"x" * 8192

    assert_json_error(requests.post(url, data=chunks(), timeout=10), 413, "body_too_large")
    grid = server.grid(0)
    dev = new_device(grid["workers"][0])
    resp = dev.request("GET", "/api/v1/households", params={"grid": grid["id"]},
                       body=b"z" * 70_000)
    assert_json_error(resp, 413, "body_too_large")


def test_bad_query_parameters_and_unknown_paths(server: Server, new_device: NewDevice) -> None:
    dev = new_device(server.grid(0)["workers"][0])
    for params in ({"grid": "abc"}, {"grid": "-1"}, {"grid": "99999999999999999999"}, {}):
        assert_json_error(dev.get("/api/v1/households", params=params), 422, "invalid_input")
    assert_json_error(requests.get(server.base + "/api/v1/nothing", timeout=5), 404)
    assert_json_error(requests.delete(server.base + "/api/v1/enroll", timeout=5), 405)


def test_task_push_reaches_the_grid(server: Server, new_device: NewDevice) -> None:
    grid = server.grid(1)
    task = central_json(server.db_url, "task", "push", "--grid", str(grid["id"]),
                        "--title", "排查秸秆焚烧",
                        "--body", "请今晚巡查辖区内秸秆和垃圾露天焚烧情况",
                        "--due", "2030-06-01T08:00:00+08:00")
    assert task["due"] == "2030-06-01T00:00:00.000000Z"
    dev = new_device(grid["workers"][1])
    resp = dev.get("/api/v1/tasks", params={"grid": grid["id"]})
    assert resp.status_code == 200, resp.text
    mine = [t for t in resp.json()["tasks"] if t["id"] == task["id"]]
    assert len(mine) == 1 and mine[0]["title"] == "排查秸秆焚烧"
    other = new_device(server.grid(0)["workers"][0])
    tasks = other.get("/api/v1/tasks", params={"grid": server.grid(0)["id"]}).json()["tasks"]
    assert task["id"] not in {t["id"] for t in tasks}


def test_random_bodies_never_cause_a_500(server: Server, new_device: NewDevice) -> None:
    rng = random.Random(1234)
    grid = server.grid(0)
    dev = new_device(grid["workers"][0])
    samples = [b"", b"{}", b"[1,2", b'{"code": null}', "{\"code\": \"\u7f51\u683c\"}".encode(),
               b'{"code": "' + b"\\u0000" * 10 + b'"}', b"\x00" * 64]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
                for _ in range(15)]
    for body in samples:
        for content_type in ("application/json", "text/plain"):
            resp = requests.post(server.base + "/api/v1/enroll", data=body, timeout=5,
                                 headers={"Content-Type": content_type})
            assert 400 <= resp.status_code < 500, (body, resp.status_code, resp.text)
            assert resp.json()["message"]
        resp = dev.request("POST", "/api/v1/households", params={"grid": grid["id"]}, body=body)
        assert resp.status_code == 405
        resp = dev.request("GET", "/api/v1/households", params={"grid": grid["id"]}, body=body)
        assert resp.status_code == 200  # a GET body is signed and otherwise ignored
    for grid_value in ("", "1e3", "0x10", "１", "' OR 1=1 --", "\x00", "9" * 400):
        resp = dev.get("/api/v1/households", params={"grid": grid_value})
        assert 400 <= resp.status_code < 500, (grid_value, resp.text)


# -- found by fuzzing (test_fuzz_api.py) -------------------------------------------------

def test_pull_cursor_beyond_32_bits_is_an_empty_page(server: Server,
                                                      new_device: NewDevice) -> None:
    """The API takes cursors up to 2**62: bound as INTEGER (the columns' type before
    migration 7), a cursor past 2**31 was a 500 (integer out of range) on PostgreSQL.
    (PostgreSQL's own numbers are transaction ids shifted 20 bits, ~10**9-10**10 here:
    the cursors below lie past every number this test server hands out.)"""
    dev = new_device(server.grid(0)["workers"][0])
    for after in (2**48, 365795176081322, 2**62):
        resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": after, "limit": 8})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["changes"] == [] and body["next_after"] == after and not body["has_more"]


def test_enroll_device_name_no_database_can_hold_is_refused(server: Server) -> None:
    """Found by fuzzing with valid codes: a device name with a NUL was stored on SQLite
    and a 500 on PostgreSQL. Refused, it does not use up the code."""
    worker = server.grid(2)["workers"][0]
    code = ops.create_enrollment_code(server.engine, worker)["code"]
    key = protocol.public_key_b64(Ed25519PrivateKey.generate())
    for name in ("平板\x00", "   "):
        resp = requests.post(server.base + "/api/v1/enroll", timeout=10, json={
            "code": code, "public_key": key, "device_name": name})
        assert_json_error(resp, 422, "invalid_input")
    dev = Device(server.base)
    assert dev.enroll(code).status_code == 200  # the code is still good
