"""Load shedding: past a queue of work waiting for a thread, answer 503 at once.

Without it an overloaded server queues every request (the thread pool runs 40 at a
time, and the GIL about one) until devices hit their 60 s timeout, retry, and deepen
the queue. With it, a request that arrives while ``max_waiting`` pieces of work are
already waiting for a worker thread gets ``503 overloaded`` with a ``Retry-After``
spread at random over ``retry_after`` seconds, so devices turned away together do
not come back together; the sync engine honours it (``sync.transport.ServerBusy``,
then backs off with jitter).

What is counted is the thread pool's queue (anyio's default limiter, which FastAPI
and ``run_in_threadpool`` share), not connections: a tablet uploading a photo chunk
over 2G for half a minute holds a connection but no thread, and must not make the
server refuse others. At ~100 requests/s per process, 100 waiting is about a second
of queue. The health check is never shed (load balancers and IT probe it).

One queue per process: each ``central serve --workers N`` process protects its own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_RETRY_AFTER = (5, 30)  # seconds, spread at random
UNSHED_PATHS = frozenset({"/api/v1/health"})


def waiting_for_a_thread() -> int:
    """Work queued for the default thread pool of this event loop."""
    return int(anyio.to_thread.current_default_thread_limiter().statistics().tasks_waiting)


class LoadShedder:
    """ASGI middleware: 503 with a jittered Retry-After past ``max_waiting``."""

    def __init__(self, app: ASGIApp, max_waiting: int,
                 retry_after: tuple[int, int] = DEFAULT_RETRY_AFTER,
                 rng: Callable[[int, int], int] = random.randint,
                 waiting: Callable[[], int] = waiting_for_a_thread) -> None:
        if max_waiting < 1:
            raise ValueError("max_waiting must be at least 1")
        self.app = app
        self.max_waiting = max_waiting
        self.retry_after = retry_after
        self.rng = rng
        self.waiting = waiting
        self.shed = 0  # answered 503 since start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") not in UNSHED_PATHS \
                and self.waiting() >= self.max_waiting:
            self.shed += 1
            await self._overloaded(send)
            return
        await self.app(scope, receive, send)

    async def _overloaded(self, send: Send) -> None:
        wait = self.rng(*self.retry_after)
        body = json.dumps({
            "error": "overloaded", "retry_after": wait,
            "message": "the server is busy; retry after the time given",
        }).encode()
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(wait).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
