"""Live Cursor on Target in: TCP, UDP and TLS listeners in one asyncio process.

``CotServer`` listens on the ports of a ``CotConfig`` and hands what it reads to a ``Sink``
(``server.sink``), which commits it to the store; ``start_cot`` builds both. Per connection:

- Who: a plain TCP or UDP port speaks for one fixed ``User`` (``plain_user``); on the TLS port
  the client must present a certificate signed by the client CA, and the SHA-256 fingerprint
  of that certificate (DER, lowercase hex) is resolved to a user by ``resolve_cert``. An
  unknown or disabled user is refused right after the handshake, with a log line.
  ``disconnect_user(name)`` ends that user's live connections at once (and, for the plain
  user, refuses new plain connections until ``set_plain_user`` gives one again).
- What: each message is told apart by its first byte: ``<`` is a CoT XML event (version 0,
  cut right after ``</event>``), ``0xbf`` a TAK protobuf message (version 1; stream framing on
  TCP and TLS, mesh framing in UDP datagrams, ``io.takproto``). XML and protobuf may share a
  port and even a connection. Anything else is garbage.
- Bounds: an event over ``max_event_bytes`` (64 KiB), garbage bytes, or no byte for
  ``idle_timeout_s`` closes that connection with one log line; no other connection notices.
  A connection holds at most one partial event; once more than ``max_unsettled_bytes`` of
  what it sent wait to be committed (or the connections together have more than
  ``max_inbox_bytes`` waiting to be parsed) it stops reading until they are, so a slow store
  slows the clients (TCP flow control) rather than growing memory; when the sink has had no
  room for ``shed_after_s`` the connections waiting for it are shed with a log line. Past
  ``max_connections`` a new connection is refused, and so is one from a source address that
  already has ``max_connections_per_peer`` (64) open, so one host cannot take every slot:
  such refusals log one line per address and ``refused_log_window_s`` (the first refusal;
  the rest are counted, and summed up in one line when the window is over). An event must
  be complete within ``event_deadline_s`` (10 s) of its first byte (the time a connection
  is paused for the store does not count), or the connection is closed with a log line, so
  a slow sender cannot hold a slot with a partial event for the whole ``idle_timeout_s``.
- One pump parses for all connections, in turns of up to ``pump_batch`` messages, and hands
  each turn to the sink; while up to ``pump_ahead`` turns wait for their commit, the pump
  parses the next.
- Parsing: an XML event is parsed with entity declarations refused: one holding a document
  type declaration (the only place an entity can be declared) goes to defusedxml, which
  refuses it (billion laughs, external entities: a RowError, never an expansion or a file
  read); every other event is parsed by the standard library's C parser, which then cannot
  meet an entity it would expand. The mapping is ``truceguard.io.cot``'s. ``t-x-*`` control
  messages (pings such as ``t-x-d-d``) and protobuf messages without an event are ignored,
  never stored. A bad event is refused (counted, and logged: see below), and the connection
  goes on.
- Releasability: the user's ``marking`` is the ceiling of what they send; an event's
  ``access`` can only narrow it.
- Tracks: for atoms (``a-*``), a uid's later event supersedes its earlier one. Both are
  stored; the later one names the earlier in ``attributes["supersedes"]`` and an event older
  than the latest known for its uid gets ``attributes["superseded_by"]``; every atom carries
  ``attributes["uid"]``, so a listing can keep the latest per uid. The map of latest events
  holds ``max_tracks`` uids (least recently updated forgotten first).
- Protobuf events are stored as the CoT XML they stand for (``raw``), with the message itself
  in ``attributes["takproto_b64"]`` and ``attributes["wire"] = "takproto"``.

Log lines (logger ``truceguard.server.cot``): one per listener start and stop, one per connect
and one per disconnect (with its reason and counts), one per shed, and one per refused event
or dropped datagram (``RefusalLog``)::

    CoT tcp 127.0.0.1:50412 (field-1): event 3 refused: time: 'garbage' is not a time (...);
    event: <event version="2.0" uid="x" type="a-h-G" how="h-e" time="garbage" ...

(on one line): the peer, the user, the event's number on its connection, the field and the
reason, and the start of the event. What comes from the event is bounded (the reason cut at
120 characters, the event at 80, control characters blanked), and so is the number of lines:
a connection (and the UDP port, for all its senders together) logs the first
``refused_log_lines`` refusals of each ``refused_log_window_s`` (10 a minute), then counts the
rest and says how many in one summary line when the window is over (or at the disconnect)::

    CoT tcp 127.0.0.1:50412 (field-1): 4,990 more events refused in the last 60 s (not logged
    one by one: at most 10 lines per 60 s)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from truceguard.errors import InputError, MarkingError, TruceguardError
from truceguard.io.takproto import MESH_HEADER
from truceguard.model import Observation, User
from truceguard.server.cot_decode import Decoded, Decoder, RefusalLog, refusal_line
from truceguard.server.cot_decode import _parse_together as _parse_together  # for tests
from truceguard.server.cot_framing import Framer
from truceguard.server.cot_listener import (
    READ_BYTES,
    STOPPING,
    CertIdentities,
    CotConfig,
    CotIngest,
    CotListener,
    _Conn,
)
from truceguard.server.service import Service
from truceguard.server.sink import Shed, Sink, SinkClosed
from truceguard.store.base import Store

log = logging.getLogger("truceguard.server.cot")
PARSE_CHUNK = 16  # messages of one connection parsed at once, between looks at the clock
_WARM_USER = User(0, "warm-up", "GBR", "observer", "REL TO GBR")
_WARM_EVENT = (b'<event version="2.0" uid="warm-up" type="b-m-p-s-m" how="h-e" '
               b'time="2020-01-01T00:00:00Z" start="2020-01-01T00:00:00Z" '
               b'stale="2020-01-02T00:00:00Z"><point lat="48" lon="37" hae="0" ce="10" le="0"/>'
               b'<detail/></event>')

@dataclass(slots=True)
class CotStats:
    """What the listeners did so far (counters only grow, except ``open``)."""

    connections: int = 0
    open: int = 0
    refused: int = 0  # connections refused: unknown user, too many, no plain user
    received: int = 0  # observations committed (acknowledged)
    rejected: int = 0  # bad events
    control: int = 0  # pings and other control messages, ignored
    closed_bad: int = 0  # connections closed for garbage, oversize, idle, shed
    datagrams_dropped: int = 0
    messages: int = 0  # messages read (events, pings, bad ones), not all committed yet

    def add(self, other: CotStats) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class CotServer:
    """The CoT listeners (see the module docstring). ``start_core`` starts the pump and the
    sweeper, ``listen(kind)`` opens one port (``tcp``, ``udp``, ``tls``); ``close_listener``
    and ``stop_core`` undo them (``cot_listener`` makes services of them); ``start`` and
    ``stop`` do it all."""

    def __init__(self, sink: Sink, config: CotConfig, *, plain_user: User | None = None,
                 resolve_cert: Callable[[str], User | None] | None = None) -> None:
        if config.tls_port is not None and resolve_cert is None:
            raise InputError("the CoT TLS port needs resolve_cert (certificate -> user)",
                             code="input.tls_incomplete")
        self.sink = sink
        self.config = config
        self.plain_user = plain_user
        self.identities = None if resolve_cert is None else CertIdentities(
            resolve_cert, refresh_s=config.cert_refresh_s, unknown_s=config.cert_unknown_s)
        self.by_kind = {kind: CotStats() for kind in ("tcp", "udp", "tls")}
        self.decoder = Decoder(config.max_tracks)
        self.read_buffer = memoryview(bytearray(READ_BYTES))  # shared: see ``_Conn``
        self.ports: dict[str, int] = {}
        self._servers: dict[str, asyncio.Server] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._conns: set[_Conn] = set()
        self._pending: set[_Conn] = set()  # TLS connections whose user is being looked up
        self._lookups: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._pump_closing = False
        self._inbox: deque[tuple[_Conn, list[tuple[bool, bytes]]]] = deque()
        self._inbox_bytes = 0
        self._turns: deque[asyncio.Future[None]] = deque()
        self._paused: set[_Conn] = set()
        self._per_host: dict[str, int] = {}  # open connections per source address
        self._host_refusals: dict[str, list[float]] = {}  # address -> [window start, unlogged]
        self._wake = asyncio.Event()
        self._udp_seq = 0
        self._udp_refusals = RefusalLog("CoT udp", config.refused_log_lines,
                                        config.refused_log_window_s,
                                        noun="events refused or datagrams dropped")

    @property
    def stats(self) -> CotStats:
        """The counters of every port together."""
        total = CotStats()
        for st in self.by_kind.values():
            total.add(st)
        return total

    @property
    def inbox_bytes(self) -> int:
        return self._inbox_bytes

    def kinds(self) -> list[str]:
        """The ports the configuration opens, in the order they are opened."""
        cfg = self.config
        return [k for k, port in (("tcp", cfg.tcp_port), ("tls", cfg.tls_port),
                                  ("udp", cfg.udp_port)) if port is not None]

    # -- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the pump and bind the configured ports (``ports`` then says which, for
        port 0)."""
        await self.start_core()
        try:
            for kind in self.kinds():
                await self.listen(kind)
        except BaseException:
            await self.stop(drain=False)
            raise

    async def start_core(self) -> None:
        # What the first event costs once (imports, compiled patterns), paid in a thread.
        with contextlib.suppress(TruceguardError):  # without takproto: refused when met
            await asyncio.to_thread(Decoder(1).decode, [(False, _WARM_EVENT), (True, b"")],
                                    _WARM_USER, "", 0)
        loop = asyncio.get_running_loop()
        self._pump_closing = False
        self._sweeper = loop.create_task(self._sweep(), name="truceguard-cot-idle")
        self._pump = loop.create_task(self._run_pump(), name="truceguard-cot-pump")

    async def listen(self, kind: str) -> None:
        """Open the port of ``kind``."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        try:
            if kind == "tcp":
                srv = await loop.create_server(lambda: _Conn(self, "tcp"), cfg.host,
                                               cfg.tcp_port)
                self._bound(srv, "tcp")
            elif kind == "tls":
                srv = await loop.create_server(
                    lambda: _Conn(self, "tls"), cfg.host, cfg.tls_port,
                    ssl=self._tls_context(), ssl_handshake_timeout=cfg.handshake_timeout_s)
                self._bound(srv, "tls")
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self), local_addr=(cfg.host, int(cfg.udp_port or 0)))
                self._udp = transport
                self.ports["udp"] = transport.get_extra_info("sockname")[1]
                log.info("CoT listening on udp %s:%d", cfg.host, self.ports["udp"])
        except OSError as exc:
            raise InputError(f"cannot listen for CoT ({kind}) on {cfg.host}: {exc}",
                             hint="choose a free port (or 0 for any)",
                             code="input.port_unavailable") from exc

    def _bound(self, srv: asyncio.Server, kind: str) -> None:
        self._servers[kind] = srv
        self.ports[kind] = srv.sockets[0].getsockname()[1]
        log.info("CoT listening on %s %s:%d", kind, self.config.host, self.ports[kind])

    def _tls_context(self) -> ssl.SSLContext:
        cfg = self.config
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(cfg.certfile), str(cfg.keyfile))
            ctx.load_verify_locations(cafile=str(cfg.client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise InputError(f"cannot load the CoT TLS certificate, key or client CA: {exc}",
                             hint="give PEM files: --cert, --key, --client-ca",
                             code="input.tls_files") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    async def stop(self, drain: bool = False) -> None:
        """Close every port (``drain``: as ``close_listener`` says), then the pump (what was
        handed to the sink is still committed by it: stop the sink after this)."""
        for kind in list(self._servers) + (["udp"] if self._udp is not None else []):
            await self.close_listener(kind, drain=drain)
        await self.stop_core(drain=drain)

    async def close_listener(self, kind: str, *, drain: bool) -> None:
        """Stop accepting on the port of ``kind`` and end its connections. ``drain``: tell
        each sender (a TCP half-close), read until it closed or went quiet (``drain_quiet_s``)
        or ``drain_grace_s`` passed, wait until all it sent is committed, then close; else
        drop them at once (what was read and not committed is never acknowledged)."""
        if kind == "udp":
            if self._udp is not None:
                self._udp.close()
                self._udp = None
                log.info("CoT udp listener stopped")
            return
        srv = self._servers.pop(kind, None)
        if srv is not None:
            srv.close()
        for conn in [c for c in self._pending if c.kind == kind]:
            conn.close(STOPPING)
        conns = [c for c in self._conns if c.kind == kind]
        if drain and conns:
            await self._drain(conns)
        for conn in conns:
            conn.close(STOPPING, graceful=drain)
        if srv is not None:
            await srv.wait_closed()
            log.info("CoT %s listener stopped (%d connections %s)", kind, len(conns),
                     "drained" if drain else "dropped")

    async def _drain(self, conns: list[_Conn]) -> None:
        cfg = self.config
        deadline = time.monotonic() + cfg.drain_grace_s
        for conn in conns:
            t = conn.transport
            if t is not None and not t.is_closing() and t.can_write_eof():
                t.write_eof()  # the sender reads the end of the stream: the server is going

        def reading(c: _Conn) -> bool:
            return c in self._conns and not c.reason and (
                c.paused or bool(c.framer.pending)
                or time.monotonic() - c.last < cfg.drain_quiet_s)

        while any(reading(c) for c in conns) and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, cfg.drain_quiet_s / 2))
        for conn in conns:
            conn.stop_reading()
        deadline += cfg.shed_after_s  # the store may be busy: as long as the sink waits
        while any(c.unsettled > 0 for c in conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def stop_core(self, *, drain: bool) -> None:
        """Stop the pump (``drain``: once it has parsed what was read and handed it to the
        sink) and the sweeper."""
        if self._pump is not None and drain:
            self._pump_closing = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        for task in (self._sweeper, self._pump, *self._lookups):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._sweeper = self._pump = None
        for conn in list(self._conns | self._pending):  # ports closed: none left, normally
            conn.close(STOPPING)
        self._inbox.clear()  # read, never acknowledged
        self._inbox_bytes = 0

    # -- users -------------------------------------------------------------------------------
    def disconnect_user(self, name: str) -> int:
        """End ``name``'s live connections now; returns how many. If ``name`` is the plain
        ports' user, the plain ports refuse connections until ``set_plain_user``. Call it on
        the event loop's thread."""
        if self.plain_user is not None and self.plain_user.name == name:
            self.plain_user = None
        if self.identities is not None:
            self.identities.forget(name)
        ended = 0
        for conn in list(self._conns):
            if conn.user is not None and conn.user.name == name:
                conn.close(f"user {name} disconnected by the server")
                ended += 1
        return ended

    def set_plain_user(self, user: User | None) -> None:
        """The user that plain TCP and UDP data is from (None: refuse plain data)."""
        self.plain_user = user

    # -- connections -------------------------------------------------------------------------
    def _plain(self) -> tuple[User | None, str]:
        user = self.plain_user
        if user is None or user.disabled:
            return None, "no user for plain CoT (the plain ports' user is unset or disabled)"
        return user, ""

    @staticmethod
    def _cert_user(fingerprint: str, user: User | None) -> tuple[User | None, str]:
        if user is None:
            return None, f"certificate {fingerprint} is not a known user's"
        if user.disabled:
            return None, f"certificate {fingerprint} is user {user.name}'s, who is disabled"
        return user, ""

    def _usable(self, user: User | None, why: str) -> tuple[User | None, str]:
        """``user`` if their marking can be read (it is the ceiling of what they send)."""
        if user is None:
            return None, why
        try:
            self.decoder.ceiling(user)
        except MarkingError as exc:
            return None, f"user {user.name}'s marking cannot be read: {exc}"
        return user, ""

    def _accept(self, conn: _Conn) -> None:
        """A new connection (after the TLS handshake): is there room, and whose is it (a TLS
        client's user from the cache, or looked up in a thread while it waits unread)."""
        assert conn.transport is not None
        cfg = self.config
        from_host = self._per_host.get(conn.host, 0)
        taken = len(self._conns) + len(self._pending)
        if from_host >= cfg.max_connections_per_peer or taken >= cfg.max_connections:
            if from_host >= cfg.max_connections_per_peer:
                why = f"{from_host} connections from {conn.host} open (the limit per address)"
            else:
                why = f"{taken} connections open (the limit)"
            self.by_kind[conn.kind].refused += 1
            conn.transport.abort()
            self._refused_host(conn, why)
            return
        self._per_host[conn.host] = from_host + 1
        self._pending.add(conn)
        if conn.kind != "tls":
            self._admit(conn, *self._usable(*self._plain()))
            return
        ssl_obj = conn.transport.get_extra_info("ssl_object")
        der = ssl_obj.getpeercert(binary_form=True) if ssl_obj is not None else None
        if not der:
            self._admit(conn, None, "no client certificate")
            return
        fingerprint = hashlib.sha256(der).hexdigest()
        assert self.identities is not None
        known, user = self.identities.cached(fingerprint)
        if known:
            self._admit(conn, *self._usable(*self._cert_user(fingerprint, user)))
            return
        conn.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._identify(conn, fingerprint))
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _identify(self, conn: _Conn, fingerprint: str) -> None:
        assert self.identities is not None
        try:
            user, why = self._cert_user(fingerprint, await self.identities.lookup(fingerprint))
        except Exception as exc:  # the store failed: this client may try again
            user, why = None, f"certificate {fingerprint} could not be looked up ({exc})"
        if conn in self._pending:  # else it went away meanwhile
            self._admit(conn, *self._usable(user, why))

    def _admit(self, conn: _Conn, user: User | None, why: str) -> None:
        assert conn.transport is not None
        if user is None:
            self._release(conn)
            self.by_kind[conn.kind].refused += 1
            log.warning("CoT %s %s refused: %s", conn.kind, conn.peer, why)
            conn.transport.abort()
            return
        self._pending.discard(conn)
        conn.refusals = RefusalLog(f"CoT {conn.kind} {conn.peer} ({user.name})",
                                   self.config.refused_log_lines,
                                   self.config.refused_log_window_s)
        self._conns.add(conn)
        st = self.by_kind[conn.kind]
        st.connections += 1
        st.open += 1
        log.info("CoT %s %s connected as %s", conn.kind, conn.peer, user.name)
        conn.admitted(user)

    def _release(self, conn: _Conn) -> None:
        """A connection that was never admitted is gone: give its address's slot back."""
        if conn in self._pending:
            self._pending.discard(conn)
            self._unhost(conn)

    def _unhost(self, conn: _Conn) -> None:
        left = self._per_host.get(conn.host, 1) - 1
        if left > 0:
            self._per_host[conn.host] = left
        else:
            self._per_host.pop(conn.host, None)

    def _refused_host(self, conn: _Conn, why: str) -> None:
        """Log a connection refused for want of room: the first of each window per address,
        the others counted (summed up by ``_flush_host_refusals``)."""
        seen = self._host_refusals.get(conn.host)
        if seen is not None:
            seen[1] += 1
            return
        self._host_refusals[conn.host] = [time.monotonic(), 0]
        log.warning("CoT %s %s refused: %s (further refusals of %s are counted, not logged, "
                    "for %g s)", conn.kind, conn.peer, why, conn.host,
                    self.config.refused_log_window_s)

    def _flush_host_refusals(self, now: float) -> None:
        """End the windows that are over: one summary line where refusals went unlogged (it
        opens a new window, so an address keeps to one line per window)."""
        window = self.config.refused_log_window_s
        for host, seen in list(self._host_refusals.items()):
            if now - seen[0] < window:
                continue
            if not seen[1]:
                del self._host_refusals[host]
                continue
            log.warning("CoT: %s more connections from %s refused in the last %g s (no room: "
                        "the limit per address or in all)", f"{seen[1]:,}", host, window)
            self._host_refusals[host] = [now, 0]

    def _gone(self, conn: _Conn, why: str) -> None:
        st = self.by_kind[conn.kind]
        if conn in self._conns:
            self._unhost(conn)
            st.open -= 1
        self._conns.discard(conn)
        self._paused.discard(conn)
        if conn.reason and conn.reason != STOPPING:
            st.closed_bad += 1
        assert conn.user is not None
        if conn.refusals is not None:
            conn.refusals.flush(final=True)
        log.log(logging.WARNING if conn.reason not in ("", STOPPING) else logging.INFO,
                "CoT %s %s (%s) disconnected: %s; %d events stored, %d refused", conn.kind,
                conn.peer, conn.user.name, why, conn.events, conn.rejected)

    def _incoming(self, conn: _Conn, messages: list[tuple[bool, bytes]]) -> None:
        """Messages a connection cut: into the inbox of the pump. A connection with more than
        ``max_unsettled_bytes`` not yet committed, or any connection while the inbox holds
        more than ``max_inbox_bytes``, stops reading until the pump catches up."""
        size = sum(len(m) for _, m in messages)
        conn.unsettled += size
        self.by_kind[conn.kind].messages += len(messages)
        self._inbox.append((conn, messages))
        self._inbox_bytes += size
        if (conn.unsettled > self.config.max_unsettled_bytes
                or self._inbox_bytes > self.config.max_inbox_bytes):
            conn.pause()
        self._wake.set()

    async def _run_pump(self) -> None:
        """Decode what the connections cut, in turns of up to ``pump_batch`` messages, and
        hand each turn to the sink; its commit is accounted when it completes (``_settled``),
        while the pump goes on with the next turn, at most ``pump_ahead`` turns ahead. Parsing
        yields to the event loop after each ``pump_slice_s`` of work. Once ``_pump_closing``,
        it ends when nothing is left to parse and every turn is settled."""
        cfg = self.config
        while True:
            if not self._inbox:
                if self._pump_closing:
                    for fut in list(self._turns):
                        with contextlib.suppress(Exception):
                            await asyncio.shield(fut)
                    self._turns.clear()
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            turn: list[tuple[_Conn, list[tuple[bool, bytes]]]] = []
            n = size = 0
            while self._inbox and n < cfg.pump_batch:
                conn, messages = self._inbox.popleft()
                took = sum(len(m) for _, m in messages)
                size += took
                if conn.shed:  # the rest of what a shed connection sent: dropped with it
                    conn.unsettled -= took
                    continue
                turn.append((conn, messages))
                n += len(messages)
            self._inbox_bytes -= size
            if not turn:
                continue
            try:
                await self.sink.reserve(n, cfg.shed_after_s)
            except Shed as exc:
                self._shed(turn, exc)
                continue
            except SinkClosed:
                return
            records: list[Observation] = []
            counts: list[tuple[_Conn, int, int]] = []
            began = time.perf_counter()
            try:
                for conn, messages in turn:
                    assert conn.user is not None
                    events = 0
                    for at in range(0, len(messages), PARSE_CHUNK):
                        part = messages[at:at + PARSE_CHUNK]
                        got = self.decoder.decode(part, conn.user, conn.where, conn.seq)
                        conn.seq += len(part)
                        self._rejected(conn, got)
                        records.extend(got.records)
                        events += len(got.records)
                        if time.perf_counter() - began > cfg.pump_slice_s:
                            await asyncio.sleep(0)  # let the loop serve the others
                            began = time.perf_counter()
                    counts.append((conn, events, sum(len(m) for _, m in messages)))
            except Exception:  # a defect must cost this turn's connections, not the pump
                log.exception("CoT: parsing a turn of %d messages failed", n)
                self.sink.enqueue([], n)  # give the room back
                for conn, messages in turn:
                    conn.unsettled -= sum(len(m) for _, m in messages)
                    conn.close("internal error while parsing (logged)")
                continue
            fut = self.sink.enqueue(records, n)
            fut.add_done_callback(functools.partial(self._settled, counts=counts))
            self._turns.append(fut)
            while len(self._turns) > cfg.pump_ahead or (self._turns and self._turns[0].done()):
                with contextlib.suppress(Exception):  # accounted by _settled
                    await asyncio.shield(self._turns[0])
                self._turns.popleft()
            self._resume_ready()
            await asyncio.sleep(0)  # let the connections read between turns

    def _settled(self, fut: asyncio.Future[None], *, counts: list[tuple[_Conn, int, int]]
                 ) -> None:
        """A turn's commit completed (or failed): account it, let its connections read on."""
        failed = fut.cancelled() or fut.exception() is not None
        for conn, events, size in counts:
            conn.unsettled -= size
            if failed:
                why = "the server stopped" if fut.cancelled() else f"store error: {fut.exception()}"
                conn.close(why)
                continue
            conn.events += events
            self.by_kind[conn.kind].received += events
        self._resume_ready()

    def _resume_ready(self) -> None:
        """Paused connections read again once they and the inbox are under their bounds."""
        if self._inbox_bytes > self.config.max_inbox_bytes:
            return
        for conn in list(self._paused):
            if conn.unsettled <= self.config.max_unsettled_bytes:
                conn.resume()

    def _shed(self, turn: list[tuple[_Conn, list[tuple[bool, bytes]]]], exc: Shed) -> None:
        for conn, messages in turn:
            conn.unsettled -= sum(len(m) for _, m in messages)
            conn.shed = True
            conn.close(f"shed: {exc}")

    def _rejected(self, conn: _Conn, got: Decoded) -> None:
        st = self.by_kind[conn.kind]
        st.control += got.control
        if not got.rejected:
            return
        assert conn.refusals is not None
        for err in got.rejected:
            conn.refusals.refused(err)
        if conn not in self._conns:  # parsed after its disconnect: no later flush comes
            conn.refusals.flush(final=True)
        conn.rejected += len(got.rejected)
        st.rejected += len(got.rejected)

    async def _sweep(self) -> None:
        """Close connections idle for ``idle_timeout_s`` (waiting for the store is not idle)
        or with an event incomplete for ``event_deadline_s`` (paused ones excepted)."""
        limit = self.config.idle_timeout_s
        deadline = self.config.event_deadline_s
        period = max(0.05, min(1.0, limit / 4, deadline / 4))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self._conns):
                since = conn.partial_since
                if not conn.busy and now - conn.last > limit:
                    conn.close(f"idle for {now - conn.last:.0f} s (limit {limit:g} s)")
                elif since is not None and not conn.paused and now - since > deadline:
                    conn.close(f"an incomplete event for over {deadline:g} s "
                               f"({conn.framer.pending:,} bytes, sent too slowly)")
                elif conn.refusals is not None:
                    conn.refusals.flush()
            for conn in list(self._pending):  # a certificate lookup that does not end
                if now - conn.last > self.config.handshake_timeout_s:
                    conn.close("its certificate could not be resolved in time")
            self._udp_refusals.flush()
            self._flush_host_refusals(now)

    # -- datagrams ---------------------------------------------------------------------------
    def datagram(self, data: bytes, addr: Any) -> None:
        """One UDP datagram: one XML event, or one mesh-framed protobuf message."""
        user = self.plain_user
        st = self.by_kind["udp"]
        st.messages += 1
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        messages: list[tuple[bool, bytes]]
        problem = ""
        if user is not None and not user.disabled:
            user, problem = self._usable(user, "")
        if user is None or user.disabled:
            problem = problem or "no user for plain CoT"
            messages = []
        elif data.startswith(MESH_HEADER):
            messages = [(True, data[len(MESH_HEADER):])]
        else:
            framer = Framer(self.config.max_event_bytes)
            messages, problem = framer.feed(data)
            if not problem and framer.pending:
                problem = f"{framer.pending:,} bytes after the last complete event"
        if problem:
            st.datagrams_dropped += 1
            self._udp_refusals.note(f"datagram dropped: {problem}", f"CoT udp {peer}")
        if not messages or user is None:
            return
        got = self.decoder.decode(messages, user, f"cot+udp://{peer}", self._udp_seq)
        self._udp_seq += len(messages)
        st.control += got.control
        st.rejected += len(got.rejected)
        for err in got.rejected:
            self._udp_refusals.refused(err, f"CoT udp {peer} ({user.name})")
        if got.records:
            fut = self.sink.offer(got.records)
            if fut is None:
                st.datagrams_dropped += 1
            else:
                fut.add_done_callback(functools.partial(self._datagram_settled,
                                                        n=len(got.records)))

    def _datagram_settled(self, fut: asyncio.Future[None], *, n: int) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self.by_kind["udp"].received += n


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: CotServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.warning("CoT udp error: %s", exc)


@dataclass(slots=True)
class CotService:
    """The listeners and what they feed, as services: ``ingest`` (the pump and the sink)
    first, then one ``CotListener`` per port (``services()`` in that order, for the
    supervisor); ``stop()`` stops the listeners, then the ingest."""

    server: CotServer
    sink: Sink
    ingest: CotIngest
    listeners: list[CotListener]

    def services(self) -> list[Service]:
        return [self.ingest, *self.listeners]

    async def start(self) -> None:
        started: list[Service] = []
        try:
            for service in self.services():
                await service.start()
                started.append(service)
        except BaseException:
            for service in reversed(started):
                await service.stop(drain=False)
            raise

    async def stop(self, drain: bool = True) -> None:
        for service in reversed(self.services()):
            await service.stop(drain=drain)

    def disconnect_user(self, name: str) -> int:
        return self.server.disconnect_user(name)


def make_cot(store: Store, config: CotConfig, *, plain_user: User | None = None,
             resolve_cert: Callable[[str], User | None] | None = None,
             on_committed: Callable[[int], None] | None = None,
             **sink_options: Any) -> CotService:
    """A sink on ``store`` and the listeners of ``config``, as services not yet started."""
    sink = Sink(store, on_committed=on_committed, **sink_options)
    server = CotServer(sink, config, plain_user=plain_user, resolve_cert=resolve_cert)
    return CotService(server, sink, CotIngest(server, sink),
                      [CotListener(server, kind) for kind in server.kinds()])


async def start_cot(store: Store, config: CotConfig, *, plain_user: User | None = None,
                    resolve_cert: Callable[[str], User | None] | None = None,
                    on_committed: Callable[[int], None] | None = None,
                    **sink_options: Any) -> CotService:
    """Start a sink on ``store`` and the listeners of ``config`` on the running loop."""
    svc = make_cot(store, config, plain_user=plain_user, resolve_cert=resolve_cert,
                   on_committed=on_committed, **sink_options)
    await svc.start()
    return svc


__all__ = [
    "CotConfig",
    "CotServer",
    "CotService",
    "CotStats",
    "Decoder",
    "Framer",
    "make_cot",
    "RefusalLog",
    "refusal_line",
    "start_cot",
]
