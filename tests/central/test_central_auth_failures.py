"""Forged requests by address (``central.app.signed_check``): an address sending
requests that fail authentication is refused with 429 once past its lenient allowance
(a whole village may share one NAT), and a flood of forged requests naming a real
device does not use up that device's own allowance. On SQLite the buckets live in the
server's memory, on PostgreSQL in the shared ``rate_buckets`` table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from central_helpers import Device, seeded_database, served_in_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import db, ops
from central.app import create_app
from central.limits import Limits
from sync import protocol

# the device: 3 requests at once, then one every 2 s; failures by address: burst 20,
# then 5 a second (central.app: ten times the device rate, at least 20 at once)
LIMITS = Limits(rate=0.5, burst=3.0, contact_flush=0.5)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    db_url, demo = seeded_database(request.param, tmp_path, request)
    engine = db.make_engine(db_url)
    app = create_app(engine, photo_dir=tmp_path / "photos", limits=LIMITS)
    code = ops.create_enrollment_code(engine, demo["grids"][0]["workers"][0])["code"]
    try:
        with served_in_thread(app) as base:
            yield base, code
    finally:
        engine.dispose()


@pytest.mark.parametrize("after", [0, 1])  # a first pull; a later one (with the look)
def test_forged_requests_are_refused_by_address_and_spare_the_device(
        served: tuple[str, Any], after: int) -> None:
    """``after`` 1: on PostgreSQL the device's token is taken in the pull's look
    (central/fastpath/noop.py), refused or given back there."""
    base, code = served
    dev = Device(base)
    assert dev.enroll(code).status_code == 200
    forger = Ed25519PrivateKey.generate()
    answers = []
    for _ in range(40):  # faster than 5 a second: the address's 20 run out
        resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": 0}, key=forger)
        answers.append((resp.status_code, resp.json().get("error")))
        if resp.status_code == 429:
            assert int(resp.headers["Retry-After"]) >= 1
            assert "unauthenticated" in resp.json()["message"]
            break
    assert answers[:15] == [(401, "bad_signature")] * 15
    assert answers[-1] == (429, "rate_limited"), answers
    # while the address is over its allowance, it is refused whatever it sends
    assert dev.get(protocol.SYNC_PULL_PATH, params={"after": after}).status_code == 429
    time.sleep(0.5)  # the address's bucket refills (5 a second)
    # the forged flood named the device but took nothing of its own allowance (3)
    for _ in range(3):
        resp = dev.get(protocol.SYNC_PULL_PATH, params={"after": after})
        assert resp.status_code == 200, resp.text
    fourth = dev.get(protocol.SYNC_PULL_PATH, params={"after": after})
    assert fourth.status_code == 429 and "this device" in fourth.json()["message"]
