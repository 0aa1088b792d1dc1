"""The federation listener: HTTP/1.1 (h11) over mutual TLS, one route, bounded reads.

Each connection is accepted in plain TCP, its reading paused, and then upgraded to TLS (so
that a refused handshake, a wrong or expired certificate, is logged and counted here rather
than lost); the client's certificate names the partner (``tls.peer_partner``): one that names
none is answered 403. Then ``POST /federation/v1/push`` is read with bounds: the header block
at most ``MAX_HEADER`` bytes, a ``Content-Length`` over ``wire.MAX_BODY`` is answered 413
before a byte of the body is read (and the connection closed), a body without a length is cut
at the bound, and every read has a deadline (``read_timeout_s``). A body read whole goes to
``handle`` (which stores it in a worker thread) and its answer is sent back; what cannot be
parsed as HTTP is answered 400 and the connection closed. At most ``max_connections`` are
open at once; one more is closed at once. Refusals go to ``on_refused`` (the audit) and the
log; the listener itself survives them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import h11

from truceguard.errors import TruceguardError, error_envelope
from truceguard.federation.wire import MAX_BODY, PUSH_PATH
from truceguard.store.federation import Partner

log = logging.getLogger("truceguard.federation")
MAX_HEADER = 16 * 1024
READ_CHUNK = 64 * 1024

Handler = Callable[[Partner, bytes], Awaitable[tuple[int, bytes]]]
Resolver = Callable[[bytes], Partner | None]
Refused = Callable[[Partner | None, str, str], Awaitable[None]]


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _envelope(code: str, message: str, hint: str = "") -> bytes:
    err = TruceguardError(message, hint=hint or "see the receiving server's log", code=code)
    return json.dumps(error_envelope(err)).encode("utf-8")


class FederationListener:
    """Listens on ``host:port`` (see the module docstring)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, resolve: Resolver,
                 handle: Handler, on_refused: Refused, *, read_timeout_s: float = 30.0,
                 max_connections: int = 64) -> None:
        self.host, self.port = host, port
        self.max_connections = max_connections
        self.context = context
        self.resolve, self.handle, self.on_refused = resolve, handle, on_refused
        self.read_timeout_s = read_timeout_s
        self.tls_refused = 0
        self.requests = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Accept(self), self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    def _accepted(self, transport: asyncio.Transport) -> None:
        if len(self._open) >= self.max_connections:
            self.tls_refused += 1
            log.warning("federation: refused a connection from %s: %d already open",
                        transport.get_extra_info("peername"), len(self._open))
            transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._connection(transport))
        self._open.add(task)
        task.add_done_callback(self._open.discard)

    async def _handshake(self, transport: asyncio.Transport
                         ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """TLS on an accepted connection (its reading paused until now, so the handshake
        sees every byte); None, logged, when it fails."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_CHUNK)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            tls = await asyncio.wait_for(
                loop.start_tls(transport, protocol, self.context, server_side=True,
                               ssl_handshake_timeout=self.read_timeout_s),
                self.read_timeout_s + 1)
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            self.tls_refused += 1
            log.warning("federation: TLS refused from %s: %s",
                        transport.get_extra_info("peername"), exc or type(exc).__name__)
            transport.abort()
            return None
        if tls is None:
            transport.abort()
            return None
        protocol.connection_made(tls)
        return reader, asyncio.StreamWriter(tls, protocol, reader, loop)

    async def stop(self, drain: bool = True, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._open)
        if drain and tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout)
            self._server = None

    async def _connection(self, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername")
        streams = await self._handshake(transport)
        if streams is None:
            return
        reader, writer = streams
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            partner = self.resolve(der) if der else None
            await self._serve(reader, writer, partner, peer)
        except TimeoutError:
            log.debug("federation: connection from %s idle; closed", peer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.info("federation: connection from %s ended: %s", peer, exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     partner: Partner | None, peer: Any) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER)
        while True:
            try:
                body = await self._request(conn, reader, partner)
            except _Refusal as r:
                self.refused += 1
                log.warning("federation: refused a request from %s (%s): %s",
                            partner.name if partner else peer, r.code, r.message)
                await self.on_refused(partner, r.code, r.message)
                await self._answer(conn, writer, r.status, _envelope(r.code, r.message),
                                   close=True)
                return
            if body is None:  # the client closed the connection
                return
            assert partner is not None
            self.requests += 1
            status, answer = await self.handle(partner, body)
            await self._answer(conn, writer, status, answer, close=False)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Refusal(400, "federation.bad_request", f"not HTTP/1.1: {exc}") from None
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(READ_CHUNK), self.read_timeout_s)
            conn.receive_data(data)

    async def _request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                       partner: Partner | None) -> bytes | None:
        event = await self._next(conn, reader)
        if isinstance(event, h11.ConnectionClosed):
            return None
        if not isinstance(event, h11.Request):
            raise _Refusal(400, "federation.bad_request", "expected an HTTP request")
        if partner is None:
            raise _Refusal(403, "federation.unknown_partner",
                           "the client certificate names no registered partner")
        if event.method != b"POST" or event.target != PUSH_PATH.encode():
            raise _Refusal(404, "federation.no_route",
                           f"{event.method.decode(errors='replace')} "
                           f"{event.target.decode(errors='replace')[:80]} is not served")
        length = dict(event.headers).get(b"content-length")
        if length is not None and int(length) > MAX_BODY:
            raise _Refusal(413, "input.too_large",
                           f"a body of {int(length)} bytes is over {MAX_BODY}")
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next(conn, reader)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > MAX_BODY:
                    raise _Refusal(413, "input.too_large", f"a body over {MAX_BODY} bytes")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise _Refusal(400, "federation.bad_request", "the request ended early")

    async def _answer(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int,
                      body: bytes, *, close: bool) -> None:
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        try:
            data = conn.send(h11.Response(status_code=status, headers=headers))
            data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:  # the request was not read far enough to answer
            data = (f"HTTP/1.1 {status} Refused\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body
        writer.write(data or b"")
        await asyncio.wait_for(writer.drain(), self.read_timeout_s)


class _Accept(asyncio.Protocol):
    """An accepted TCP connection: reading paused at once (the TLS handshake reads it)."""

    def __init__(self, listener: FederationListener) -> None:
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()
        self.listener._accepted(transport)


__all__ = ["FederationListener"]
