"""The CoT side of ``truceguard serve`` as services (``server.service``), who a TLS client
is, and where the listeners listen with what bounds (``CotConfig``; ``server.cot`` says what
each bound does).

- ``CotIngest`` (``cot-ingest``) is what every listener hands its messages to: the pump that
  parses them and the sink that commits them. Started before the listeners and stopped after
  them: its ``stop(drain=True)`` parses what was read and commits it all.
- ``CotListener`` (``cot-tcp``, ``cot-udp``, ``cot-tls``) is one port. Its
  ``stop(drain=True)`` stops accepting, tells each sender (a TCP half-close: the sender reads
  the end of the stream), reads on until each sender has closed or gone quiet (or
  ``drain_grace_s`` passed), stops reading, waits until everything read is committed, then
  closes the connections; ``drain=False`` drops them at once.
- ``_Conn`` is one TCP or TLS connection: it cuts what arrives into messages for the
  server's pump (``server.cot``).
- ``CertIdentities`` is the cache of certificate fingerprint -> user that the TLS port reads
  on the event loop: a miss is looked up in a worker thread (the connection's data waits,
  unread, until it is known); the known fingerprints are looked up again in a thread every
  ``refresh_s``; an unknown one is asked again after ``unknown_s``; a user disabled is
  forgotten at once (``forget``). No store query runs on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from truceguard.errors import InputError
from truceguard.io.cot import COT_MAX_EVENT_BYTES
from truceguard.model import User
from truceguard.server.cot_decode import RefusalLog
from truceguard.server.cot_framing import Framer
from truceguard.server.service import ServiceHealth, State

if TYPE_CHECKING:
    from truceguard.server.cot import CotServer
    from truceguard.server.sink import Sink

log = logging.getLogger("truceguard.server.cot")

STOPPING = "server stopping"  # why connections end at a stop (not counted as bad)


READ_BYTES = 32 << 10  # read at most this much per callback: its framing stays short


@dataclass(frozen=True, slots=True)
class CotConfig:
    """Where to listen and the bounds of every connection (ports: None = off, 0 = any free)."""

    host: str = "127.0.0.1"
    tcp_port: int | None = None
    udp_port: int | None = None
    tls_port: int | None = None
    certfile: str | None = None  # the server's certificate (PEM), for TLS
    keyfile: str | None = None
    client_ca: str | None = None  # the CA that signs client certificates (PEM)
    max_event_bytes: int = COT_MAX_EVENT_BYTES
    idle_timeout_s: float = 300.0
    handshake_timeout_s: float = 10.0
    shed_after_s: float = 10.0
    max_unsettled_bytes: int = 256 << 10  # per connection, read and not yet committed
    max_inbox_bytes: int = 32 << 20  # all connections, read and not yet parsed
    pump_batch: int = 1000  # messages parsed in one turn of the pump
    pump_ahead: int = 2  # turns handed to the sink and not committed yet
    pump_slice_s: float = 0.002  # parsing between two yields to the event loop
    drain_grace_s: float = 5.0  # at a stop: how long senders may still send
    drain_quiet_s: float = 0.2  # at a stop: a sender this long silent has sent all
    cert_refresh_s: float = 30.0  # TLS identities looked up again (in a thread)
    cert_unknown_s: float = 5.0  # an unknown certificate is asked again after this
    max_connections: int = 4096
    max_connections_per_peer: int = 64  # from one source address
    event_deadline_s: float = 10.0  # from an event's first byte to its last
    max_tracks: int = 100_000
    refused_log_lines: int = 10  # refused events logged one by one per connection and window
    refused_log_window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.tls_port is not None and not (self.certfile and self.keyfile and self.client_ca):
            raise InputError("the CoT TLS port needs a certificate, its key and a client CA",
                             hint="give --cert, --key and --client-ca with --cot-tls",
                             code="input.tls_incomplete")
        if self.max_event_bytes < 1024:
            raise InputError(f"max_event_bytes {self.max_event_bytes}: at least 1024",
                             code="input.bad_bound")
        if self.max_connections_per_peer < 1 or self.event_deadline_s <= 0:
            raise InputError("max_connections_per_peer must be >= 1 and event_deadline_s > 0",
                             code="input.bad_bound")
        if self.refused_log_lines < 0 or self.refused_log_window_s <= 0:
            raise InputError("refused_log_lines must be >= 0 and refused_log_window_s > 0",
                             code="input.bad_bound")


class _Conn(asyncio.BufferedProtocol):
    """One TCP or TLS connection: cuts what arrives into messages for the server's pump.
    It reads into the server's one read buffer (``READ_BYTES``): a read is framed at once,
    before the loop makes the next, so the connections can share it."""

    def __init__(self, server: CotServer, kind: str) -> None:
        self.server = server
        self.kind = kind
        self.framer = Framer(server.config.max_event_bytes)
        self.transport: asyncio.Transport | None = None
        self.user: User | None = None
        self.peer = "?"
        self.host = "?"  # the source address, which the per-address cap counts
        self.where = ""
        self.partial_since: float | None = None  # when the pending partial event began
        self.last = time.monotonic()
        self.reason = ""  # why the server closed it ('' if it did not)
        self.seq = 0  # messages received so far
        self.unsettled = 0  # bytes handed to the server and not yet committed (or dropped)
        self.paused = False
        self.events = 0
        self.rejected = 0
        self.refusals: RefusalLog | None = None  # once the user is known
        self.held: list[bytes] = []  # read before the user was known (TLS lookup)
        self.shed = False  # dropped for want of room: what it sent is never committed
        self.held_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        addr = transport.get_extra_info("peername") or ("?", 0)
        self.host = str(addr[0])
        self.peer = f"{addr[0]}:{addr[1]}"
        self.where = f"cot+{self.kind}://{self.peer}"
        self.server._accept(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self.server.read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self.reason:
            return
        if self.user is None:  # its certificate is being looked up: keep it, bounded
            self.held.append(data)
            self.held_bytes += len(data)
            if self.held_bytes > self.server.config.max_unsettled_bytes:
                self.close("sent too much before its certificate was resolved")
            return
        self.last = now = time.monotonic()
        messages, error = self.framer.feed(data)
        if not self.framer.pending:
            self.partial_since = None
        elif messages or self.partial_since is None:  # a new event began in this read
            self.partial_since = now
        if messages:
            self.server._incoming(self, messages)
        if error:
            self.close(error)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self.user is None:
            self.server._release(self)
            return
        if self.reason:
            why = self.reason
        elif exc is not None:
            why = f"connection error: {exc}"
        elif self.framer.pending:
            why = f"closed by the client mid-event ({self.framer.pending:,} bytes dropped)"
        else:
            why = "closed by the client"
        self.server._gone(self, why)

    @property
    def busy(self) -> bool:
        return self.unsettled > 0

    def close(self, reason: str, *, graceful: bool = False) -> None:
        """End the connection: at once (``abort``), or ``graceful`` after what is written."""
        if not self.reason:
            self.reason = reason
        if self.transport is not None:
            if graceful:
                self.transport.close()
            else:
                self.transport.abort()

    def admitted(self, user: User) -> None:
        """Its user is known: read what was held back, then read on."""
        self.user = user
        held, self.held, self.held_bytes = self.held, [], 0
        for data in held:
            self.data_received(data)
        if self.transport is not None and not self.reason and not self.paused:
            self.transport.resume_reading()

    def stop_reading(self) -> None:
        """At a drain: read no more (what comes after was never acknowledged)."""
        if not self.reason:
            self.reason = STOPPING
        self.server._paused.discard(self)
        if self.transport is not None and not self.paused and not self.transport.is_closing():
            self.paused = True
            self.transport.pause_reading()

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.reason:
            self.paused = True
            self.server._paused.add(self)
            self.transport.pause_reading()

    def resume(self) -> None:
        self.server._paused.discard(self)
        if self.paused and self.transport is not None and not self.reason:
            self.paused = False
            if self.partial_since is not None:  # time paused for the store does not count
                self.partial_since = time.monotonic()
            self.transport.resume_reading()


class CertIdentities:
    """Certificate fingerprints -> users, cached (see the module docstring). ``resolve`` is
    a blocking function (a store query): it only ever runs in a worker thread."""

    def __init__(self, resolve: Callable[[str], User | None], *, refresh_s: float = 30.0,
                 unknown_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.resolve = resolve
        self.refresh_s = refresh_s
        self.unknown_s = unknown_s
        self.max_entries = max_entries
        self.lookups = 0  # fingerprints looked up in a thread (misses and refreshes)
        self.failures = 0
        self.last_refresh: float | None = None  # epoch seconds
        self._known: dict[str, tuple[User | None, float]] = {}  # fp -> (user, when looked up)
        self._asking: dict[str, asyncio.Future[User | None]] = {}
        self._task: asyncio.Task[None] | None = None

    def cached(self, fingerprint: str) -> tuple[bool, User | None]:
        """(True, user or None) when the cache knows ``fingerprint``; (False, None) else."""
        got = self._known.get(fingerprint)
        if got is None:
            return False, None
        user, when = got
        if user is None and time.monotonic() - when > self.unknown_s:
            return False, None
        return True, user

    async def lookup(self, fingerprint: str) -> User | None:
        """The user of ``fingerprint``, looked up in a thread (one lookup per fingerprint at a
        time, however many connections wait for it)."""
        fut = self._asking.get(fingerprint)
        if fut is None:
            fut = asyncio.ensure_future(self._ask(fingerprint))
            self._asking[fingerprint] = fut
            fut.add_done_callback(lambda _f: self._asking.pop(fingerprint, None))
        return await asyncio.shield(fut)

    async def _ask(self, fingerprint: str) -> User | None:
        self.lookups += 1
        try:
            user = await asyncio.to_thread(self.resolve, fingerprint)
        except Exception:
            self.failures += 1
            raise
        self._remember(fingerprint, user)
        return user

    def _remember(self, fingerprint: str, user: User | None) -> None:
        if fingerprint not in self._known and len(self._known) >= self.max_entries:
            del self._known[next(iter(self._known))]
        self._known[fingerprint] = (user, time.monotonic())

    def forget(self, name: str) -> None:
        """Drop what the cache knows of user ``name`` (disabled, say)."""
        for fp, (user, _) in list(self._known.items()):
            if user is not None and user.name == name:
                del self._known[fp]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._refresh_forever(), name="truceguard-cot-identities")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception as exc:  # the cache stays as it was; the next turn tries again
                self.failures += 1
                log.warning("CoT tls: could not refresh the certificate identities: %s", exc)

    async def refresh(self) -> None:
        """Look every known fingerprint up again, in a thread."""
        fps = [fp for fp, (user, _) in self._known.items() if user is not None]
        if fps:
            self.lookups += len(fps)
            users = await asyncio.to_thread(lambda: [self.resolve(fp) for fp in fps])
            for fp, user in zip(fps, users, strict=True):
                if fp in self._known:
                    self._remember(fp, user)
        self.last_refresh = time.time()

    def __len__(self) -> int:
        return len(self._known)


class CotIngest:
    """The pump and the sink behind every CoT listener, as one service (``cot-ingest``)."""

    name = "cot-ingest"

    def __init__(self, server: CotServer, sink: Sink) -> None:
        self.server = server
        self.sink = sink
        self.state: State = "stopped"

    async def start(self) -> None:
        self.state = "starting"
        await self.sink.start()
        try:
            await self.server.start_core()
        except BaseException:
            await self.sink.stop()
            raise
        self.state = "running"

    async def stop(self, drain: bool = True) -> None:
        if self.state == "stopped":
            return
        self.state = "draining" if drain else self.state
        await self.server.stop_core(drain=drain)
        await self.sink.stop()
        self.state = "stopped"

    def health(self) -> ServiceHealth:
        s = self.sink.stats
        extra: dict[str, Any] = {
            "committed": s.received, "inserted": s.inserted, "duplicates": s.duplicates,
            "pending": self.sink.pending, "batches": s.batches,
            "failed_batches": s.failed_batches, "retried_commits": s.retried_commits,
            "shed": s.shed, "waiting_to_parse_bytes": self.server.inbox_bytes}
        return ServiceHealth(self.name, self.state,
                             f"{s.received:,} events committed, {self.sink.pending:,} pending",
                             extra=extra)


class CotListener:
    """One CoT port as a service (``cot-tcp``, ``cot-udp``, ``cot-tls``)."""

    def __init__(self, server: CotServer, kind: str) -> None:
        self.server = server
        self.kind = kind
        self.name = f"cot-{kind}"
        self.state: State = "stopped"

    async def start(self) -> None:
        self.state = "starting"
        await self.server.listen(self.kind)
        if self.kind == "tls" and self.server.identities is not None:
            self.server.identities.start()
        self.state = "running"

    async def stop(self, drain: bool = True) -> None:
        if self.state == "stopped":
            return
        self.state = "draining" if drain else self.state
        if self.kind == "tls" and self.server.identities is not None:
            await self.server.identities.stop()
        await self.server.close_listener(self.kind, drain=drain)
        self.state = "stopped"

    def health(self) -> ServiceHealth:
        st = self.server.by_kind[self.kind]
        extra: dict[str, Any] = {
            "port": self.server.ports.get(self.kind), "connections": st.connections,
            "open": st.open, "refused": st.refused, "messages_read": st.messages,
            "acknowledged": st.received, "rejected": st.rejected, "control": st.control,
            "closed_bad": st.closed_bad}
        if self.kind == "udp":
            extra["datagrams_dropped"] = st.datagrams_dropped
        ids = self.server.identities
        if self.kind == "tls" and ids is not None:
            extra["identities_cached"] = len(ids)
            extra["identity_lookups"] = ids.lookups
            extra["identity_failures"] = ids.failures
            extra["identities_refreshed_at"] = ids.last_refresh
        detail = (f"port {extra['port']}, {st.open} open, {st.received:,} events acknowledged "
                  "(committed)")
        return ServiceHealth(self.name, self.state, detail, extra=extra)


__all__ = ["CertIdentities", "CotConfig", "CotIngest", "CotListener"]
