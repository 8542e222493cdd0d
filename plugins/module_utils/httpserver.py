# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every HTTP(S) endpoint of the project on aiohttp, with the limits Go's servers are given.

aiohttp parses HTTP, bounds request lines and headers, and times out idle keep-alive connections. What a
server reachable from the cluster network also needs, this module adds, once for the webhook, the metrics and
the probe endpoints:

* ``handshake_timeout``: a TLS handshake not done by then is aborted (asyncio's default is 60 s);
* ``idle_timeout``: aiohttp's keep-alive timer, which runs from the handshake (or the last answer) until a
  whole request head has arrived, so it also bounds a client that sends its head a byte at a time;
* ``max_connections``: the connections open at once, counted from accept (a TLS connection costs about
  0.3 MB before its handshake: asyncio's read buffer). At the cap the connection least worth keeping is
  closed to make room for the new one: the one idle for longest, else the one whose request has run
  longest. A client cannot hold the server down by opening connections and saying nothing, and a fresh
  request is never the one dropped for slow ones;
* request bodies are bounded by the application (``client_max_size``; the webhook reads its own).

:func:`listen` serves an ``aiohttp.web.Application`` on the running event loop; :class:`ThreadedServer`
serves plain routes (``path -> callable``) from a thread of its own, for the daemons that are not asyncio.
aiohttp is imported when a server starts (the module imports with the standard library alone).
"""
from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

Reply = Tuple[int, str, bytes]  # HTTP status, Content-Type, body
Route = Callable[[Mapping[str, str]], Reply]  # request headers -> reply


class Limits(object):
    """The numbers of one server."""

    def __init__(self, max_connections: int = 256, handshake_timeout: float = 5.0, idle_timeout: float = 15.0,
                 max_body: int = 64 * 1024, backlog: int = 512, tls_read_buffer: int = 32 * 1024) -> None:
        if max_connections < 1:
            raise ValueError("max_connections: must be at least 1, got %d" % max_connections)
        self.max_connections = max_connections
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self.backlog = backlog
        self.tls_read_buffer = tls_read_buffer


class _Connection(object):
    __slots__ = ("since", "busy", "sock", "task", "started", "transport", "done")

    def __init__(self, now: float) -> None:
        self.since = now  # accepted, or the last request began or ended
        self.busy = False  # a request is being handled
        self.sock: Optional[socket.socket] = None  # accepted, TLS handshake not done yet
        self.task: Optional[asyncio.Task] = None  # handing ``sock`` to asyncio (and the handshake)
        self.started = False  # ``task`` has begun: asyncio owns ``sock``
        self.transport: Optional[asyncio.BaseTransport] = None
        self.done = False  # the handshake failed

    def closed(self) -> bool:
        if self.transport is not None:
            return self.transport.is_closing()
        return self.done

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]
        elif self.sock is not None and not self.started:  # asyncio has not seen it: close it here
            self.sock.close()
            if self.task is not None:
                self.task.cancel()
        elif self.sock is not None:
            # during the TLS handshake: end the connection under asyncio's transport, which then sees the end and
            # closes the socket itself (closing it here could close a descriptor number reused meanwhile)
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # closed already
                pass


class ConnectionTable(object):
    """The open connections of one listener, and which to close when a new one would exceed the cap."""

    def __init__(self, cap: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.cap = cap
        self.clock = clock
        self.open: Set[_Connection] = set()
        self.by_transport: Dict[Any, _Connection] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.open)

    def sweep(self) -> None:
        for conn in [c for c in self.open if c.closed()]:
            self.forget(conn)

    def forget(self, conn: _Connection) -> None:
        self.open.discard(conn)
        if conn.transport is not None:
            self.by_transport.pop(conn.transport, None)

    def admit(self) -> _Connection:
        """A new connection's entry; closes the least useful one first when the table is full."""
        if len(self.open) >= self.cap:
            self.sweep()
        while len(self.open) >= self.cap:
            victim = min(self.open, key=lambda c: (c.busy, c.since))
            victim.close()
            self.forget(victim)
            self.evicted += 1
        conn = _Connection(self.clock())
        self.open.add(conn)
        return conn

    def attach(self, conn: _Connection, transport: asyncio.BaseTransport) -> None:
        conn.transport = transport
        conn.sock = conn.task = None
        self.by_transport[transport] = conn

    def begin(self, transport: Any) -> Optional[_Connection]:
        conn = self.by_transport.get(transport)
        if conn is not None:
            conn.busy, conn.since = True, self.clock()
        return conn

    def end(self, conn: Optional[_Connection]) -> None:
        if conn is not None:
            conn.busy, conn.since = False, self.clock()


class BodyCut(Exception):
    """This request's body was cut to keep the bodies held at once within :class:`BodyBudget`'s limit."""


class _Read(object):
    __slots__ = ("transport", "size")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.size = 0


class BodyBudget(object):
    """Bytes of request bodies held at once over all connections of a server. A chunk that would go past ``limit``
    makes room by cutting the reads that began first (their connections are closed): a client's body arrives in
    milliseconds, so only uploads held open on purpose are ever the oldest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.reads: Dict[int, _Read] = {}  # in the order the reads began
        self.cuts = 0

    def open(self, transport: Any) -> _Read:
        read = _Read(transport)
        self.reads[id(read)] = read
        return read

    def add(self, read: _Read, size: int) -> None:
        if id(read) not in self.reads:
            raise BodyCut("the request body was cut: bodies of other requests held the server's memory")
        read.size += size
        self.held += size
        while self.held > self.limit:
            oldest = next(iter(self.reads.values()))
            self.close(oldest)
            self.cuts += 1
            if oldest is read:
                raise BodyCut("the request body was cut: the server holds %d bytes of request bodies at most" % self.limit)
            if oldest.transport is not None:
                oldest.transport.abort()

    def close(self, read: _Read) -> None:
        if self.reads.pop(id(read), None) is not None:
            self.held -= read.size


def _tls_read_buffer(size: int) -> None:
    """asyncio's TLS transport reads into a buffer of ``SSLProtocol.max_size`` (256 KiB) that every connection
    allocates at accept, before its handshake: 1000 connections that say nothing cost 256 MB. A TLS record is at
    most 16 KiB plus its header, so a smaller buffer costs nothing but a few more reads of a large body; it is
    the class's setting, so it holds for every TLS server of the process (each of ours is the only one)."""
    import asyncio.sslproto
    if hasattr(asyncio.sslproto, "SSLProtocol") and getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > size:
        asyncio.sslproto.SSLProtocol.max_size = size


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host or "0.0.0.0", port), family=family, backlog=backlog)
    sock.setblocking(False)
    return sock


class Listener(object):
    """Accepts connections for an aiohttp runner under :class:`Limits`; made by :func:`listen`."""

    def __init__(self, runner: Any, sock: socket.socket, ssl_context: Any, limits: Limits, table: ConnectionTable,
                 log: Callable[[str], None]) -> None:
        self.runner = runner
        self.sock = sock
        self.ssl_context = ssl_context
        self.limits = limits
        self.table = table
        self.log = log
        self.port = sock.getsockname()[1]
        self._accepting: Optional[asyncio.Task] = None
        self._accepted = 0  # since the last collection
        self._handshakes: Set[asyncio.Task] = set()  # referenced until done (the loop keeps weak references)

    def start(self) -> None:
        self._accepting = asyncio.ensure_future(self._accept())

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, unused = await loop.sock_accept(self.sock)
            except OSError as exc:  # out of file descriptors: wait for some to be freed
                self.log("cannot accept a connection: %s" % exc)
                await asyncio.sleep(0.1)
                continue
            await asyncio.sleep(0)  # let handshakes and closes go on between accepts (a burst is accepted at once)
            self._accepted += 1
            if self._accepted >= self.limits.max_connections:
                self._accepted = 0
                # a closed connection is a reference cycle (transport, TLS and HTTP protocols): without this,
                # a flood of connections leaves thousands of them, and their buffers, to the collector's
                # oldest generation, which it seldom scans
                gc.collect()
            conn = self.table.admit()
            conn.sock = sock
            conn.task = asyncio.ensure_future(self._connect(conn, sock))
            self._handshakes.add(conn.task)

    async def _connect(self, conn: _Connection, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.started = True
        tls: Dict[str, Any] = {}
        if self.ssl_context is not None:
            tls = {"ssl": self.ssl_context, "ssl_handshake_timeout": self.limits.handshake_timeout}
        try:
            transport, unused = await loop.connect_accepted_socket(self.runner.server, sock, **tls)
        except (OSError, asyncio.TimeoutError):  # handshake failed, timed out or cut: asyncio closed the socket
            conn.done = True
            self.table.forget(conn)
            return
        finally:
            self._handshakes.discard(asyncio.current_task())  # type: ignore[arg-type]
        self.table.attach(conn, transport)

    async def close(self) -> None:
        """Stop accepting, drop connections still in their handshake, then let aiohttp finish the others."""
        if self._accepting is not None:
            self._accepting.cancel()
        self.sock.close()
        for conn in list(self.table.open):
            if conn.transport is None:
                conn.close()
        for task in list(self._handshakes):
            task.cancel()
        await self.runner.cleanup()


async def listen(app: Any, host: str, port: int, limits: Limits, ssl_context: Any = None,
                 log: Callable[[str], None] = lambda m: None, shutdown_timeout: float = 5.0) -> Listener:
    """Serve ``app`` on ``host:port`` (0: any free port, see ``Listener.port``) on the running loop."""
    from aiohttp import web
    if ssl_context is not None:
        _tls_read_buffer(limits.tls_read_buffer)

    table = ConnectionTable(limits.max_connections)

    @web.middleware
    async def track(request: Any, handler: Any) -> Any:
        conn = table.begin(request.transport)
        try:
            return await handler(request)
        finally:
            table.end(conn)

    app.middlewares.append(track)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout,
                           keepalive_timeout=limits.idle_timeout)
    await runner.setup()
    listener = Listener(runner, _listening_socket(host, port, limits.backlog), ssl_context, limits, table, log)
    listener.start()
    return listener


def routes_app(routes: Mapping[str, Route], limits: Limits) -> Any:
    """An application answering GET (and HEAD) on each path of ``routes``; 404 elsewhere, 405 for other methods."""
    from aiohttp import web

    def handler(route: Route) -> Callable[[Any], Any]:
        async def handle(request: Any) -> Any:
            status, content_type, body = route(request.headers)
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})
        return handle

    app = web.Application(client_max_size=limits.max_body)
    for path, route in routes.items():
        app.router.add_get(path, handler(route))
    return app


def text(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> Reply:
    return status, content_type, body.encode("utf-8")


class ThreadedServer(object):
    """``routes`` served over HTTP on ``host:port`` by an event loop in a daemon thread.

    The constructor returns once the port is bound (or raises what binding raised); ``shutdown()`` stops it.
    """

    def __init__(self, routes: Mapping[str, Route], host: str, port: int, limits: Optional[Limits] = None,
                 name: str = "http") -> None:
        self.limits = limits or Limits(max_connections=64)
        self.loop = asyncio.new_event_loop()
        self.listener: Optional[Listener] = None
        self._stop: Optional[asyncio.Event] = None
        self._error: List[BaseException] = []
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._serve(routes, host, port, started))
            finally:
                self.loop.close()

        self.thread = threading.Thread(target=run, name="%s-%d" % (name, port), daemon=True)
        self.thread.start()
        started.wait()
        if self._error:
            self.thread.join(5)
            raise self._error[0]

    @property
    def port(self) -> int:
        return self.listener.port if self.listener else 0

    async def _serve(self, routes: Mapping[str, Route], host: str, port: int, started: threading.Event) -> None:
        self._stop = asyncio.Event()
        try:
            self.listener = await listen(routes_app(routes, self.limits), host, port, self.limits, shutdown_timeout=1.0)
        except Exception as exc:  # pylint: disable=broad-except  # reported to the constructor's caller
            self._error.append(exc)
            started.set()
            return
        started.set()
        await self._stop.wait()
        await self.listener.close()

    def shutdown(self) -> None:
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(10)
