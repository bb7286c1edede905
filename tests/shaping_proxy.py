"""A loopback TCP proxy that behaves like a rural 2G/3G radio link, for tests and
benchmarks (issue 11: a day of field work over EDGE/3G).

Why a real proxy rather than a fake transport: what a slow, dropping link costs
depends on the whole stack (HTTP keep-alive, request sizes, how many round trips a
sync makes, what the client does when a connection is reset halfway through a body).
Only real sockets between the real client and the real server show all of it.

The model, per direction (device → centre "up", centre → device "down"):

- **Bandwidth**: a serial link of ``bandwidth_bps`` bits/s shared by every connection
  through the proxy (one radio link): a piece of data occupies the link for
  ``len * 8 / bandwidth_bps`` seconds after the previous piece (of any connection) and
  arrives ``rtt / 2`` later. Data is read in pieces of at most 1,460 bytes (one TCP
  segment) so a large body streams instead of being delayed as a whole.
- **Latency**: every byte arrives ``rtt / 2`` after it left the link; order is kept.
  A new connection also pays its TCP handshake: no data moves before ``connect_rtts``
  round trips after the client connected (1 by default), as with a real SYN/SYN-ACK.
- **Cuts**: each new connection draws a cut point, uniform in ``[cut_min, cut_before)``
  bytes counted over both directions of that connection, from ``random.Random(seed)``
  (so the same seed and the same sequence of connections give the same cuts). When the
  count reaches it, the bytes up to the cut point are delivered and both sockets are
  closed abruptly (``SO_LINGER`` 0: a reset, not a clean end), as a link that drops
  mid-transfer. ``cut_before=None``: never cut.

Statistics (``bytes_up``, ``bytes_down``, ``connections``, ``cuts``, per-connection
:attr:`ShapingProxy.history`) count what was actually handed to the other side.
Application bytes only: TCP/IP headers and retransmissions are not modelled.

Shaping can change on a running proxy (:meth:`ShapingProxy.shape`): a benchmark
enrolls and makes a first sync unshaped, then shapes the same port. Bandwidth and
latency apply from the next piece of data; cut settings apply to new connections
(:meth:`ShapingProxy.drop_connections` resets the open ones).

Threads and the standard library only. Every wait is blocking (poll on the socket
and a wake-up socket, or a condition with a deadline): no busy loops, and
:meth:`ShapingProxy.close` stops every thread promptly.

    with ShapingProxy("127.0.0.1", 8765, bandwidth_bps=200_000, rtt=0.5) as proxy:
        client.get(proxy.url + "/api/v1/health")
        print(proxy.bytes_up, proxy.bytes_down)
"""

from __future__ import annotations

import collections
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

__all__ = ["ConnectionRecord", "ShapingProxy"]

SEGMENT = 1460  # bytes per piece when shaping (one TCP segment on Ethernet)
UNSHAPED_PIECE = 65536  # bytes per piece when no bandwidth limit applies
MAX_BUFFERED = 64 * 1024  # bytes queued per direction and connection (a socket buffer)
_EOF = b""  # queue marker: forward the end of stream (half-close)


@dataclass
class ConnectionRecord:
    """What happened to one connection (in :attr:`ShapingProxy.history`)."""

    index: int
    cut_at: int | None  # the drawn cut point, bytes over both directions
    up: int = 0  # bytes handed to the upstream server
    down: int = 0  # bytes handed to the client
    cut: bool = False  # closed abruptly at its cut point
    refused: bool = False  # the upstream server could not be reached

    @property
    def total(self) -> int:
        return self.up + self.down


def _wait(sock: socket.socket, wake: socket.socket, *, write: bool = False) -> None:
    """Block until ``sock`` is readable (or writable) or ``wake`` is readable."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        poller.register(wake, select.POLLIN)
        poller.poll()
    elif write:
        select.select([wake], [sock], [sock])
    else:
        select.select([sock, wake], [], [])


def _abortive(sock: socket.socket) -> None:
    """Make the next close() a reset (RST) instead of an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class _Link:
    """One direction of the radio link, shared by all connections."""

    def __init__(self) -> None:
        self.free_at = 0.0  # monotonic time at which the link is idle again


class _Pipe:
    """One direction of one connection: a reader schedules pieces, a writer delivers
    each at its arrival time (the queue keeps their order)."""

    def __init__(self, conn: _Connection, src: socket.socket, dst: socket.socket,
                 link: _Link, up: bool) -> None:
        self.conn, self.src, self.dst, self.link, self.up = conn, src, dst, link, up
        self.cond = threading.Condition()
        self.queue: collections.deque[tuple[float, bytes, bool]] = collections.deque()
        self.queued = 0
        self.last_arrival = 0.0

    def put(self, arrival: float, data: bytes, cut: bool = False) -> None:
        """Queue ``data`` (``_EOF``: end of stream) to arrive at ``arrival``; ``cut``:
        reset the connection once it is delivered. Waits while the queue is full."""
        with self.cond:
            while self.queued >= MAX_BUFFERED and not self.conn.aborted:
                self.cond.wait()
            arrival = max(arrival, self.last_arrival)  # order kept if rtt changes
            self.last_arrival = arrival
            self.queue.append((arrival, data, cut))
            self.queued += len(data)
            self.cond.notify_all()

    def read_loop(self) -> None:
        """Read the source, count bytes against the cut point, schedule on the link."""
        conn, proxy = self.conn, self.conn.proxy
        while not conn.aborted:
            _wait(self.src, conn.wake_r)
            if conn.aborted:
                return
            piece = SEGMENT if proxy.bandwidth_bps else UNSHAPED_PIECE
            try:
                data = self.src.recv(piece)
            except BlockingIOError:
                continue
            except OSError:  # reset by the peer: pass the reset on
                conn.abort()
                return
            if not data:
                self.put(proxy.arrival(self, 0), _EOF)
                return
            with proxy.lock:
                if conn.cutting:  # the other direction hit the cut point: lost
                    return
                cut = False
                if conn.cut_at is not None:
                    room = conn.cut_at - conn.counted
                    if len(data) >= room:
                        data, cut = data[:room], True
                        conn.cutting = True
                conn.counted += len(data)
            self.put(proxy.arrival(self, len(data)), data, cut)
            if cut:
                return

    def write_loop(self) -> None:
        """Deliver each queued piece at its arrival time."""
        conn = self.conn
        while True:
            with self.cond:
                while not self.queue and not conn.aborted:
                    self.cond.wait()
                if conn.aborted:
                    return
                arrival, data, cut = self.queue[0]
                delay = arrival - time.monotonic()
                if delay > 0:
                    self.cond.wait(delay)
                    continue
                self.queue.popleft()
                self.queued -= len(data)
                self.cond.notify_all()
            if not data and not cut:  # _EOF
                try:
                    self.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if data and not self._send_all(data):
                conn.abort()
                return
            if cut:
                conn.abort(cut=True)
                return

    def _send_all(self, data: bytes) -> bool:
        conn, proxy = self.conn, self.conn.proxy
        view = memoryview(data)
        while view:
            try:
                sent = self.dst.send(view)
            except BlockingIOError:
                sent = 0
            except OSError:
                return False
            if sent:
                proxy.count(conn, self.up, sent)
                view = view[sent:]
            if view:
                _wait(self.dst, conn.wake_r, write=True)
                if conn.aborted:
                    return False
        return True


class _Connection:
    """A client connection and its upstream one: four threads (a reader and a writer
    per direction); the last one to finish closes the sockets."""

    def __init__(self, proxy: ShapingProxy, client: socket.socket, record: ConnectionRecord,
                 ready_at: float) -> None:
        self.proxy, self.client, self.record = proxy, client, record
        self.cut_at = record.cut_at
        self.ready_at = ready_at  # no data before the handshake's round trip(s)
        self.upstream: socket.socket | None = None
        self.counted = 0
        self.cutting = False
        self.aborted = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.pipes: tuple[_Pipe, ...] = ()
        self._running = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        """Connect upstream, then pump both directions until both ends are done."""
        proxy = self.proxy
        try:
            if self.aborted:  # the proxy is closing
                raise OSError("proxy closed")
            self.upstream = socket.create_connection(proxy.upstream, timeout=10)
        except OSError:
            with proxy.lock:
                self.record.refused = True
            self.aborted = True
            _abortive(self.client)
            self._close()
            return
        self.client.setblocking(False)
        self.upstream.setblocking(False)
        for sock in (self.client, self.upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = _Pipe(self, self.client, self.upstream, proxy.up_link, True)
        down = _Pipe(self, self.upstream, self.client, proxy.down_link, False)
        self.pipes = (up, down)
        jobs = [up.read_loop, up.write_loop, down.read_loop, down.write_loop]
        self._running = len(jobs)
        if self.cut_at is not None and self.cut_at <= 0:
            with proxy.lock:
                self.cutting = True
            # nothing may pass: the connection dies as soon as its handshake would
            up.put(proxy.arrival(up, 0), b"", cut=True)
        for job in jobs[1:]:
            proxy.spawn(self._job, job)
        self._job(jobs[0])

    def _job(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except Exception:  # a bug here must not leave the peers hanging
            self.abort()
        finally:
            with self._lock:
                self._running -= 1
                last = self._running == 0
            if last:
                self._close()

    def abort(self, cut: bool = False) -> None:
        """Reset both sockets (RST) and wake every thread of the connection."""
        with self.proxy.lock:
            if self.aborted:
                return
            self.aborted = True
            if cut:
                self.record.cut = True
                self.proxy._cuts += 1
        _abortive(self.client)
        if self.upstream is not None:
            _abortive(self.upstream)
        try:
            self.wake_w.send(b"x")  # stays readable: every later poll returns at once
        except OSError:
            pass
        for pipe in self.pipes:
            with pipe.cond:
                pipe.cond.notify_all()

    def _close(self) -> None:
        for sock in (self.client, self.upstream, self.wake_r, self.wake_w):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self.proxy._forget(self)


class ShapingProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream_host:upstream_port`` through a
    shaped link (see the module docstring). Use as a context manager, or call
    :meth:`start` and :meth:`close`."""

    def __init__(self, upstream_host: str, upstream_port: int, *,
                 bandwidth_bps: float | None, rtt: float = 0.0,
                 cut_before: int | None = None, cut_min: int = 0, seed: int = 0,
                 connect_rtts: float = 1.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.lock = threading.Lock()
        self.up_link = _Link()
        self.down_link = _Link()
        self.bandwidth_bps: float | None = None
        self.rtt = 0.0
        self.cut_before: int | None = None
        self.cut_min = 0
        self.connect_rtts = connect_rtts
        self._rng = random.Random(seed)
        self.shape(bandwidth_bps, rtt=rtt, cut_before=cut_before, cut_min=cut_min)
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        self._started = False
        self._conns: set[_Connection] = set()
        self._threads: set[threading.Thread] = set()
        self.history: list[ConnectionRecord] = []  # one record per connection
        self._bytes_up = self._bytes_down = self._connections = self._cuts = 0

    # -- settings -------------------------------------------------------------------
    def shape(self, bandwidth_bps: float | None, *, rtt: float = 0.0,
              cut_before: int | None = None, cut_min: int = 0,
              seed: int | None = None) -> None:
        """Set the whole link model at once (``shape(None)``: a plain, instant proxy).
        ``seed`` restarts the cut points' random sequence."""
        if bandwidth_bps is not None and bandwidth_bps <= 0:
            raise ValueError("bandwidth_bps must be positive (or None: unlimited)")
        if rtt < 0:
            raise ValueError("rtt must be >= 0")
        if cut_before is not None and not 0 <= cut_min < cut_before:
            raise ValueError("need 0 <= cut_min < cut_before")
        with self.lock:
            self.bandwidth_bps, self.rtt = bandwidth_bps, rtt
            self.cut_before, self.cut_min = cut_before, cut_min
            if seed is not None:
                self._rng = random.Random(seed)

    # -- statistics -----------------------------------------------------------------
    @property
    def bytes_up(self) -> int:
        """Bytes handed to the upstream server (all connections)."""
        return self._bytes_up

    @property
    def bytes_down(self) -> int:
        """Bytes handed to the clients (all connections)."""
        return self._bytes_down

    @property
    def connections(self) -> int:
        """Connections accepted."""
        return self._connections

    @property
    def cuts(self) -> int:
        """Connections closed abruptly at their cut point."""
        return self._cuts

    @property
    def cut_points(self) -> list[int | None]:
        """The cut point drawn for each connection since the last reset, in order."""
        with self.lock:
            return [r.cut_at for r in self.history]

    def reset_stats(self) -> None:
        """Zero the counters and forget the history (open connections count on)."""
        with self.lock:
            self._bytes_up = self._bytes_down = self._connections = self._cuts = 0
            self.history = []

    # -- addresses ------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- life -----------------------------------------------------------------------
    def start(self) -> ShapingProxy:
        if not self._started:
            self._started = True
            self.spawn(self._accept_loop)
        return self

    def __enter__(self) -> ShapingProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def drop_connections(self) -> None:
        """Reset every open connection (clients reconnect and draw new cut points)."""
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            conn.abort()

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, reset every connection, wait for the threads to end."""
        if self._closed:
            return
        self._closed = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self.drop_connections()
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            alive = [t for t in threads if t.is_alive()]
            if not alive or time.monotonic() >= deadline:
                break
            alive[0].join(max(0.0, deadline - time.monotonic()))
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    # -- internals ------------------------------------------------------------------
    def spawn(self, target: Callable[..., None], *args: object) -> None:
        def run() -> None:
            try:
                target(*args)
            finally:
                with self.lock:
                    self._threads.discard(thread)

        thread = threading.Thread(target=run, name="shaping-proxy", daemon=True)
        with self.lock:
            self._threads.add(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed:
            _wait(self._listener, self._wake_r)
            if self._closed:
                return
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                if self._closed:
                    return
                continue
            now = time.monotonic()
            with self.lock:
                cut_at = (None if self.cut_before is None
                          else self._rng.randrange(self.cut_min, self.cut_before))
                record = ConnectionRecord(index=self._connections, cut_at=cut_at)
                self._connections += 1
                self.history.append(record)
                conn = _Connection(self, client, record, now + self.connect_rtts * self.rtt)
                self._conns.add(conn)
            self.spawn(conn.run)

    def _forget(self, conn: _Connection) -> None:
        with self.lock:
            self._conns.discard(conn)

    def arrival(self, pipe: _Pipe, size: int) -> float:
        """Book ``size`` bytes on the pipe's link; the time they reach the other end."""
        with self.lock:
            start = max(time.monotonic(), pipe.conn.ready_at)
            if self.bandwidth_bps:
                start = max(start, pipe.link.free_at)
                pipe.link.free_at = start + size * 8 / self.bandwidth_bps
                start = pipe.link.free_at
            return start + self.rtt / 2

    def count(self, conn: _Connection, up: bool, size: int) -> None:
        with self.lock:
            if up:
                self._bytes_up += size
                conn.record.up += size
            else:
                self._bytes_down += size
                conn.record.down += size
