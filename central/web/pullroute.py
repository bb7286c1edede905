"""The pull's own route below the framework: ``GET /sync/pull`` served without FastAPI's
routing, dependency solving and exception middleware.

Most requests a city's centre sees are devices at their grids' head asking "anything
new?" every few minutes (issue 16). Measured with py-spy on a no-op pull that does two
statements, FastAPI's routing, the dependency solving of the four signature headers and
two query parameters, and the request and exception wrappers around the endpoint took
about as much CPU as the signature check and both statements together. This
middleware sits innermost (inside load shedding, the protocol level, compression and
the body limit, which all still apply) and answers the pull itself when the request
is one the endpoint would take as it is: a ``GET`` of exactly that path whose query is
at most ``after`` and ``limit``, once each, in plain digits and in range. Anything
else (a malformed query, a trailing slash, another method) goes on to FastAPI, which
answers it as before (422, 405, ...).

``handle(request, after, limit)`` does the work in a worker thread (the same one trip
the endpoint makes, counted by the load shedder) and gives the response, errors
included; ``central.app`` builds it from the endpoint's own code, and
``tests/central/test_central_pullroute.py`` holds the two routes' answers equal.
Knows nothing of the database or the protocol beyond the path and the limits. It reads
a request's whole body (a GET's, signed like any other): the body limit outside it
(``central.app.BodyLimit``) is what bounds that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DIGITS = 19  # 2**62 has 19; a longer value (leading zeros) goes on to the framework


@dataclass(frozen=True)
class RawRequest:
    """What the signature check reads of a request, as the framework would give it."""

    method: str
    raw_path: bytes  # without the query
    query: bytes
    headers: dict[str, str]  # lower-case names; the last of repeated headers
    body: bytes
    client: str


def parse_query(query: bytes, max_after: int, max_limit: int,
                default_limit: int) -> tuple[int, int] | None:
    """``after`` and ``limit`` from a query the endpoint would take as it is, else
    None (the framework answers it: a repeated or unknown key, a sign, a blank, any
    escape, a value out of range)."""
    values: dict[bytes, int] = {}
    if query:
        for part in query.split(b"&"):
            name, eq, value = part.partition(b"=")
            if (not eq or name not in (b"after", b"limit") or name in values
                    or not value.isdigit() or len(value) > MAX_DIGITS):
                return None
            values[name] = int(value)
    after = values.get(b"after", 0)
    limit = values.get(b"limit", default_limit)
    if after > max_after or not 1 <= limit <= max_limit:
        return None
    return after, limit


class PullRoute:
    """Pure ASGI middleware: the pull at ``path`` answered by ``handle``."""

    def __init__(self, app: ASGIApp, path: str,
                 handle: Callable[[RawRequest, int, int], Response],
                 max_after: int, max_limit: int, default_limit: int) -> None:
        self.app = app
        self.path = path
        self.handle = handle
        self.bounds = (max_after, max_limit, default_limit)
        self.served = 0  # pulls answered here since start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "GET"
                or scope["path"] != self.path):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        page = parse_query(query, *self.bounds)
        if page is None:
            await self.app(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:  # gone before it finished asking
            return
        headers: dict[str, str] = {}
        for name, value in scope.get("headers") or []:
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        client = scope.get("client")
        request = RawRequest(
            method="GET", raw_path=scope.get("raw_path") or scope["path"].encode(),
            query=query, headers=headers, body=body,
            client=client[0] if client else "?",
        )
        self.served += 1
        response = await run_in_threadpool(self.handle, request, *page)
        await response(scope, receive, send)


async def _body(receive: Receive) -> bytes | None:
    """The request's body (a GET's is empty, but it is signed like any other); None
    when the client went away first."""
    chunks = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
