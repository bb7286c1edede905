"""Running the API under uvicorn with request read timeouts.

uvicorn closes idle keep-alive connections, but it waits for ever for a request whose
headers or body never finish (and for a new connection that never sends a byte), so
a few hundred half-sent requests hold that many sockets open. The protocol class here
gives every request a deadline from its first byte (or from the connection being
opened): the headers within ``read_timeout`` seconds, the body within ``read_timeout``
more plus the time what it has sent so far takes at :data:`MIN_BODY_RATE`. Past it the
server answers ``408`` (JSON, as every error) and closes the connection. Until its
body is complete a request only waits on the event loop (bodies are read before any
endpoint runs), so it never held a worker thread or a database connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import multiprocess

try:  # the C parser (and uvloop, which uvicorn picks by itself) where they install
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
from central.limits import DEFAULT_READ_TIMEOUT, MIN_BODY_RATE

_TIMEOUT_BODY = json.dumps({
    "error": "request_timeout",
    "message": "the request was not received in time; the connection is closed",
}).encode()
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_TIMEOUT_BODY)).encode()
    + b"\r\n\r\n" + _TIMEOUT_BODY
)


_HEADERS, _BODY = "headers", "body"  # the phases a deadline runs in


class _ReadDeadline:
    """The deadlines of the module docstring, for either of uvicorn's HTTP protocols:
    the subclass calls :meth:`_arm` when a phase (the headers, the body) begins or the
    body grows, and :meth:`_disarm` once the whole request is in."""

    read_timeout: float = DEFAULT_READ_TIMEOUT

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _read_timer: asyncio.TimerHandle | None = None
    _phase: str | None = None  # _HEADERS or _BODY while a deadline runs
    _phase_start = 0.0
    _body_bytes = 0

    def _arm(self, phase: str) -> None:
        """(Re)schedule the deadline: the headers get ``read_timeout`` from the first
        byte, never more (dripping a byte now and then buys nothing); the body as much
        from the headers' end plus 1 s per :data:`MIN_BODY_RATE` bytes received, so a
        body announced large but sent slowly is cut as early as one never sent."""
        if self.read_timeout <= 0:
            return
        now = self.loop.time()
        if self._phase != phase:
            self._disarm()
            self._phase, self._phase_start, self._body_bytes = phase, now, 0
        elif phase == _HEADERS:
            return
        if self._read_timer is not None:
            self._read_timer.cancel()
        deadline = self._phase_start + self.read_timeout
        if phase == _BODY:
            deadline += self._body_bytes / MIN_BODY_RATE
        self._read_timer = self.loop.call_at(deadline, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = None
        self._phase = None

    def _timed_out(self) -> None:
        self._read_timer = None
        self._phase = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started or cycle.response_complete:
            self.transport.write(_TIMEOUT_RESPONSE)  # nothing of an answer sent meanwhile
        self.transport.close()  # connection_lost tells a waiting receive() "disconnect"


class H11ReadTimeoutProtocol(_ReadDeadline, H11Protocol):
    """uvicorn's h11 (pure Python) protocol with a deadline on reading each request
    (module docstring); where httptools is not installed."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(_HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_body = self._phase == _BODY
        super().data_received(data)
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self._arm(_HEADERS)  # part of the headers so far
        elif state is h11.SEND_BODY:
            if in_body:
                self._body_bytes += len(data)
            self._arm(_BODY)
        else:  # the whole request is in: the application's time is not limited here
            self._disarm()


if HttpToolsProtocol is not None:
    class HttpToolsReadTimeoutProtocol(_ReadDeadline, HttpToolsProtocol):
        """uvicorn's httptools (C parser) protocol with the same deadlines: the parser's
        callbacks say where the request stands (a message begun, its headers done, body
        bytes, the message complete)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(_HEADERS)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                self._disarm()

        def send_400_response(self, msg: str) -> None:
            """A request the parser refuses (e.g. a control character in a header,
            which RFC 9110 forbids and h11 lets through): 400 in JSON, as every error,
            and the connection closed."""
            body = json.dumps({"error": "bad_request", "message": msg}).encode()
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                b"connection: close\r\ncontent-length: " + str(len(body)).encode()
                + b"\r\n\r\n" + body)
            self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm(_HEADERS)  # from the request's first byte (or the connection's)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._arm(_BODY)  # a request without a body completes at once (below)

        def on_body(self, body: bytes) -> None:
            super().on_body(body)
            self._body_bytes += len(body)
            self._arm(_BODY)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()  # the application's time is not limited here

    ReadTimeoutProtocol: type[_ReadDeadline] = HttpToolsReadTimeoutProtocol
else:  # pragma: no cover - where httptools does not install
    ReadTimeoutProtocol = H11ReadTimeoutProtocol


HTTP_CHOICES = ("auto", "httptools", "h11")


def protocol_base(http: str = "auto") -> type[_ReadDeadline]:
    """The read-timeout protocol for ``http``: ``auto`` is httptools where installed,
    else h11; ``httptools`` where it is missing is a :class:`ValueError`."""
    if http == "h11":
        return H11ReadTimeoutProtocol
    if http == "httptools" and HttpToolsProtocol is None:
        raise ValueError("httptools is not installed (pip install httptools)")
    if http not in HTTP_CHOICES:
        raise ValueError(f"unknown HTTP implementation {http!r}")
    return ReadTimeoutProtocol


def protocol_class(read_timeout: float, http: str = "auto") -> type[_ReadDeadline]:
    """:func:`protocol_base` with this timeout, for ``uvicorn.Config(http=...)``."""
    return type("ConfiguredReadTimeoutProtocol", (protocol_base(http),),
                {"read_timeout": float(read_timeout)})


def serve(app: Any, host: str, port: int, *, log_level: str = "warning",
          read_timeout: float = DEFAULT_READ_TIMEOUT, certfile: str | None = None,
          keyfile: str | None = None, http: str = "auto") -> None:
    """Run ``app`` until interrupted, with the read deadlines above; HTTPS when given a
    certificate and its key (PEM). uvicorn runs it on uvloop where installed."""
    uvicorn.run(app, host=host, port=port, log_level=log_level,
                http=protocol_class(read_timeout, http), ssl_certfile=certfile,
                ssl_keyfile=keyfile)


def serve_workers(factory: str, host: str, port: int, *, workers: int,
                  log_level: str = "warning",
                  read_timeout: float = DEFAULT_READ_TIMEOUT, certfile: str | None = None,
                  keyfile: str | None = None, http: str = "auto") -> None:
    """Run ``workers`` processes, each building its app with the factory named
    ``"module:function"`` (uvicorn's supervisor restarts a process that dies). Every
    piece of state two requests share lives in the database, apart from the rate
    limits, which each process keeps for itself.

    Where the system has ``SO_REUSEPORT`` (Linux, the BSDs) every process listens on a
    socket of its own and the kernel spreads new connections evenly over them. With one
    shared socket the process whose event loop wakes first takes each connection, and
    devices keep their connections alive: measured with 50 devices, one of two
    processes served 85 % of the requests while the other idled.
    """
    # the worker processes are spawned: the protocol goes by name, and each process
    # sets its timeout (see configure_read_timeout) before its first connection
    os.environ[_READ_TIMEOUT_ENV] = str(float(read_timeout))
    options: dict[str, Any] = dict(factory=True, workers=workers, host=host, port=port,
                                   log_level=log_level,
                                   http=f"central.server:{protocol_base(http).__name__}",
                                   ssl_certfile=certfile, ssl_keyfile=keyfile)
    if not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(factory, **options)
        return
    config = uvicorn.Config(factory, **options)
    # Hold the port (resolving port 0) with a bound socket that never listens: it takes
    # no connections, and keeps the port ours while processes come and go.
    holder = _reuse_port_socket(host, port)
    config.port = holder.getsockname()[1]
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc] # the supervisor builds its workers by this name
    try:
        multiprocess.Multiprocess(config, sockets=[]).run()
    finally:
        multiprocess.Process = _UvicornProcess  # type: ignore[misc]
        holder.close()


_UvicornProcess = multiprocess.Process


class _OwnSocketProcess(multiprocess.Process):
    """A worker process that listens on its own ``SO_REUSEPORT`` socket."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        sock = _reuse_port_socket(self.config.host, self.config.port)
        sock.listen(self.config.backlog)
        super().target([sock])


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


_READ_TIMEOUT_ENV = "GRIDFIELD_CENTRAL_READ_TIMEOUT"


def configure_read_timeout() -> None:
    """In a worker process of :func:`serve_workers`: the parent's read timeout."""
    value = os.environ.get(_READ_TIMEOUT_ENV)
    if value is not None:
        _ReadDeadline.read_timeout = float(value)  # both protocols
