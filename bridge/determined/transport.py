"""The HTTP/1.1 transport to the master: a bounded pool of keep-alive connections, built on asyncio protocols and
httptools (llhttp, the parser Node.js uses).

The bridge talks to one origin with small JSON requests, so an exchange is one ``write`` of head and body, one
future for the answer and one timer handle. aiohttp's client did far more per call (a request and response
object, a stream reader, a timer per read, middleware dispatch, and on Python 3.11 a task per request with a
body): 103-116 µs of client CPU per create or PATCH at c=32 against 49-54 here (docs/performance.md, fifth
round).

Failures are ``TransportError`` subclasses whose ``sent`` says whether the master may have seen the request.
A request on a reused connection that the master had closed (its idle timeout racing our write) and that got
no byte of an answer is sent again once on a fresh connection, when the caller says repeating it is safe.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from typing import ClassVar, Final, cast
from urllib.parse import quote, urlencode, urlsplit

import httptools

from bridge import __version__

Answer = tuple[int, bytes, str | None, str | None]
"""(status, body, Retry-After header or None, Location header or None); the two headers of an answer that is
no success (status 300 or more: a success's are not read).

The transport never follows a redirect: the Location is kept so that the caller can say where the master
pointed (a 3xx usually means master.url is not the master's final URL, e.g. http:// in front of https://)."""

_CLOSE_WAIT: Final = 1.0  # seconds close() lets connections shut down (TLS close_notify) before aborting them
# What may come before an answer's head is complete (interim heads included); it is kept until then, so a peer
# that streams headers without end must not grow it without bound. aiohttp's client allows 8 KiB a line.
HEAD_LIMIT: Final = 64 * 1024


class TransportError(Exception):
    """No complete answer came; ``sent`` says whether the request may have reached the master."""

    sent: ClassVar[bool] = True


class ConnectFailed(TransportError):
    """No connection could be made (refused, unresolvable, TLS handshake, connect timeout): nothing was sent."""

    sent = False


class AnswerTimeout(TransportError):
    """The answer did not come within the read timeout or the exchange's overall budget."""


class ConnectionLost(TransportError):
    """The connection closed, reset or sent something that is not HTTP before the answer was complete."""

    def __init__(self, message: str, *, received: bool) -> None:
        super().__init__(message)
        self.received = received


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one exchange at a time; httptools calls the ``on_*`` methods."""

    def __init__(self, pool: MasterTransport, loop: asyncio.AbstractEventLoop) -> None:
        self._pool = pool
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.keep_alive = False
        self._answer: asyncio.Future[Answer] | None = None
        self._chunks: list[bytes] = []
        # What came of this exchange until the answer's head was complete (interim answers' heads first): its
        # few headers are read from there when needed (_head_fields), not by a Python callback per header.
        self._head: list[bytes] = []
        self._head_size = 0
        self._received = False
        self._headers_done = False
        self._read_timeout: float | None = None
        self._deadline = 0.0
        self._last_read = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # --- asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._transport is None:
            # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
            self._transport = cast(asyncio.Transport, transport)
            self._pool.opened(self)

    def data_received(self, data: bytes) -> None:
        if self._answer is None:
            # Bytes nobody asked for (an idle connection's 408, a stray answer): the stream cannot be trusted.
            self.close()
            return
        self._received = True
        self._last_read = self._loop.time()
        if not self._headers_done:
            self._head.append(data)
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(ConnectionLost(f"malformed answer: {exc}", received=True))
            self.close()
            return
        if not self._headers_done and self._head_size > HEAD_LIMIT:
            self._fail(ConnectionLost(f"answer head over {HEAD_LIMIT} bytes", received=True))
            self.close()

    def eof_received(self) -> bool:
        return False  # the master is done with this connection; let the transport close it

    def connection_lost(self, exc: Exception | None) -> None:
        ours = self.closed
        self.closed = True
        self._pool.lost(self)
        if self._answer is None or self._answer.done():
            return
        if exc is None and not ours and self._headers_done and not _head_fields(b"".join(self._head))[2]:
            # Neither Content-Length nor chunked: the body ran until the master closed (RFC 9112 §6.3 item 8).
            self.keep_alive = False
            self._complete()
            return
        reason = (
            "closed by the bridge" if ours else "closed by the master" if exc is None else type(exc).__name__
        )
        self._fail(ConnectionLost(reason, received=self._received))

    # --- httptools callbacks ---------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._answer is None:
            self.close()  # an answer after the one asked for: the master and the bridge disagree on the stream

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:
            # An interim answer (103 Early Hints): the final one follows on the same stream (its head is kept
            # with the interim one's, which _head_fields skips).
            self._headers_done = False
            self._chunks = []
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._complete()

    # --- the pool's side -------------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Open, not closing, and with no exchange left unsettled (a cancelled one leaves the stream mid-answer)."""
        transport = self._transport
        return (
            self._answer is None and not self.closed and transport is not None and not transport.is_closing()
        )

    def exchange(self, request: bytes, read_timeout: float | None, deadline: float) -> asyncio.Future[Answer]:
        """Send ``request`` (head and body) and return the future of its answer."""
        assert self._transport is not None
        answer = self._loop.create_future()
        self._answer = answer
        self._chunks = []
        self._head = []
        self._head_size = 0
        self._received = self._headers_done = False
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._last_read = self._loop.time()
        self._arm()
        self._transport.write(request)
        return answer

    def close(self) -> None:
        """Close now; an exchange under way fails with ConnectionLost (via connection_lost)."""
        self.closed = True
        self._stop_timer()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection without a TLS goodbye (close() took too long)."""
        if self._transport is not None:
            self._transport.abort()

    def _complete(self) -> None:
        answer = self._answer
        self._answer = None
        self._stop_timer()
        if answer is None or answer.done():
            return
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        status = self._parser.get_status_code()
        if status < 300:
            answer.set_result((status, body, None, None))
            return
        retry_after, location, _ = _head_fields(b"".join(self._head))
        answer.set_result((status, body, retry_after, location))

    def _fail(self, error: TransportError) -> None:
        answer = self._answer
        self._answer = None
        self._stop_timer()
        if answer is not None and not answer.done():
            answer.set_exception(error)

    def _due(self) -> float:
        if self._read_timeout is None:
            return self._deadline
        return min(self._deadline, self._last_read + self._read_timeout)

    def _arm(self) -> None:
        # One timer per exchange: a read moves the due time, and the timer re-arms itself when it finds that.
        self._timer_at = self._due()
        self._timer = self._loop.call_at(self._timer_at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._answer is None:
            return
        if self._due() > self._timer_at:
            self._arm()
            return
        self._fail(AnswerTimeout("no answer in time"))
        self.close()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _head_fields(received: bytes) -> tuple[str | None, str | None, bool]:
    """Retry-After and Location of the final answer's head in `received` (the last of each, as Latin-1 text
    without its leading blanks, as httptools gives a value; None if absent), and whether that head says how its
    body ends (Content-Length or Transfer-Encoding).

    `received` starts with the answer and holds its whole head (httptools has parsed it): interim 1xx answers,
    which have no body, then the final status line and its header lines, then an empty line.
    """
    retry_after: str | None = None
    location: str | None = None
    delimited = False
    status_next = True
    interim = False
    for raw in received.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if status_next:
            status_next = False
            parts = line.split(None, 2)  # "HTTP/1.1 103 Early Hints": an interim answer, its head first
            interim = len(parts) > 1 and parts[1].startswith(b"1")
            continue
        if not line:  # the end of a head: the final one's, or an interim one's and then another status line
            if not interim:
                break
            status_next = True
            continue
        if interim:
            continue
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"retry-after":
            retry_after = value.lstrip(b" \t").decode("latin-1")
        elif lowered == b"location":
            location = value.lstrip(b" \t").decode("latin-1")
        elif lowered in (b"content-length", b"transfer-encoding"):
            delimited = True
    return retry_after, location, delimited


class MasterTransport:
    """Keep-alive connections to one origin, at most ``limit`` open at once (idle ones included)."""

    def __init__(
        self, url: str, *, ssl_context: ssl.SSLContext | None, connect_timeout: float, limit: int
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"master URL must be http(s)://host[:port][/path], not {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl_context if parts.scheme == "https" else None
        # Percent-encoded as yarl would have (existing escapes kept): the path goes on the request line as is.
        self._base_path = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=~")
        host_header = parts.netloc.rpartition("@")[2]
        self._head_tail = (
            f"Host: {host_header}\r\nUser-Agent: scim-bridge/{__version__}\r\nAccept: application/json\r\n"
        )
        self._connect_timeout = connect_timeout
        self._limit = max(1, limit)
        self._idle: list[_Connection] = []
        self._busy = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._open: set[_Connection] = set()
        self._all_lost: asyncio.Future[None] | None = None
        self._closed = False

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        authorization: str | None = None,
        body: bytes | None = None,
        read_timeout: float | None,
        deadline: float,
        repeatable: bool,
    ) -> Answer:
        """One exchange; ``deadline`` is on the loop's clock and bounds the connect, the write and the answer.

        ``read_timeout`` bounds each wait for the answer's next bytes. ``repeatable``: the request may be sent
        again on a fresh connection when a reused one turns out to have been closed by the master.
        """
        target = self._base_path + path
        if query:
            target = f"{target}?{urlencode(query, quote_via=quote)}"
        head = f"{method} {target} HTTP/1.1\r\n{self._head_tail}"
        if authorization is not None:
            head = f"{head}Authorization: {authorization}\r\n"
        if body is not None:
            request = (
                f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            )
        elif method in ("POST", "PUT", "PATCH"):
            request = f"{head}Content-Length: 0\r\n\r\n".encode()
        else:
            request = f"{head}\r\n".encode()
        while True:
            conn = await self._acquire(deadline)
            try:
                answer = await conn.exchange(request, read_timeout, deadline)
            except ConnectionLost as exc:
                self._release(conn)
                if conn.reused and repeatable and not exc.received and not self._closed:
                    repeatable = False
                    continue
                raise
            except BaseException:
                self._release(conn)
                raise
            self._release(conn)
            return answer

    async def close(self) -> None:
        """Close every connection (waiting up to a second for them to go), and refuse requests from now on."""
        self._closed = True
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if not self._open:
            return
        self._all_lost = asyncio.get_running_loop().create_future()
        for conn in list(self._open):
            conn.close()
        done, _ = await asyncio.wait((self._all_lost,), timeout=_CLOSE_WAIT)
        if not done:
            for conn in list(self._open):
                conn.abort()

    # --- called by connections ---------------------------------------------------------------------------

    def opened(self, conn: _Connection) -> None:
        self._open.add(conn)

    def lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        if not self._open and self._all_lost is not None and not self._all_lost.done():
            self._all_lost.set_result(None)

    # --- the pool ------------------------------------------------------------------------------------------

    async def _acquire(self, deadline: float) -> _Connection:
        while True:
            if self._closed:
                raise RuntimeError("the master transport is closed")
            idle = self._idle
            while idle:
                conn = idle.pop()
                if conn.reusable:
                    self._busy += 1
                    conn.reused = True
                    return conn
            if self._busy < self._limit:
                self._busy += 1
                try:
                    return await self._connect(deadline)
                except BaseException:
                    self._busy -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError as exc:
                self._forget(waiter)
                raise ConnectFailed("no free connection in time") from exc
            except BaseException:
                self._forget(waiter)
                raise

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        timeout = min(self._connect_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(timeout):
                transport, conn = await loop.create_connection(
                    lambda: _Connection(self, loop), self._host, self._port, ssl=self._ssl
                )
        except TimeoutError as exc:
            raise ConnectFailed("TimeoutError") from exc
        except OSError as exc:  # refused, unreachable, unresolvable (gaierror), TLS (SSLError)
            raise ConnectFailed(type(exc).__name__) from exc
        except UnicodeError as exc:
            # A host name the resolver cannot encode (IDNA: an empty label, one over 63 characters): master.url
            # names no host it can reach, which is not a bug of the bridge's.
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from exc
        # uvloop may return before it has called connection_made.
        conn.connection_made(transport)
        return conn

    def _release(self, conn: _Connection) -> None:
        self._busy -= 1
        if conn.keep_alive and conn.reusable and not self._closed:
            conn.keep_alive = False
            self._idle.append(conn)
        else:
            conn.close()
        self._wake()

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done() and not waiter.cancelled():
            self._wake()  # woken, then timed out or cancelled: pass the free slot on
        elif waiter in self._waiters:
            self._waiters.remove(waiter)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
