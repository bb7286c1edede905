"""Requests an attacker or a buggy enrolled device could send to the pull, on the fast
route (``central.web.pullroute``) and the FastAPI route alike: both must answer them
as a 4xx, the same way (the pair of servers of ``test_central_pullroute``)."""

from __future__ import annotations

import test_central_pullroute as base
from test_central_pullroute import Pair, _same

from sync import protocol

pair = base.pair  # the fixture: two servers, fast route and FastAPI route, one database


def test_a_signed_timestamp_past_any_float_is_clock_skew_not_a_500(pair: Pair) -> None:
    """A device (its own key: the signature verifies) whose clock says 10**400: the
    skew check turned it into a float and overflowed, a 500 that neither the device's
    limiter nor the address's failure count ever saw, whose traceback was logged each
    time; and the two routes answered it differently (the framework's 500 bypasses the
    protocol-level headers and closes the connection). It is a clock far off: 401."""
    dev = pair.device(pair.demo["grids"][0]["workers"][0])
    for timestamp in (10**400, -(10**400), 10**308 * 2):
        headers = protocol.sign_headers(dev.key, dev.device_id, "GET",
                                        protocol.SYNC_PULL_PATH + "?after=1", b"",
                                        timestamp=timestamp)
        status, body, answer_headers = _same(pair, dev, "after=1", headers=headers)
        assert status == 401 and body["error"] == "clock_skew", (timestamp, status, body)
        assert answer_headers[protocol.HEADER_PROTOCOL.lower()] == str(protocol.PROTOCOL_LEVEL)
    # the device is not harmed: its next pull with a true clock is answered
    assert _same(pair, dev, "after=1")[0] == 200
