"""Live Cursor on Target out: a violation as a CoT marker, and a sender to a TAK endpoint.

``violation_to_cot(violation)`` encodes one violation as a CoT XML event (version 0, which
every TAK client and server reads on a plain TCP stream):

- ``uid`` ``truceguard-violation-<id>`` (stable: sending the violation again, say after a
  status change, moves or updates the same marker instead of adding one); ``type``
  ``b-m-p-s-m`` (a spot map marker) by default; ``how`` ``m-f`` (machine, fused: the marker is
  computed from the incident's observations); ``time`` and ``start`` now, ``stale`` after
  ``stale_s`` (default a day);
- ``point``: the incident's position, its uncertainty as ``ce`` (metres), height unknown;
- ``access``: the violation's releasability marking (``PUBLIC``, ``REL TO GBR, FRA``);
- ``detail``: ``contact callsign`` (``Violation <id>``), ``remarks`` with the terms, clause,
  severity, status, what was seen, the location text and the time window, a red
  ``color``, and a ``<truceguard>`` child with the violation's fields (its ``category``,
  ``weapon_class`` and ``count`` are those a truceguard listener reads back).

``CotSender(url)`` delivers such bytes to one endpoint, ``tcp://HOST:PORT``: one connection,
re-made after any failure with a growing pause (``backoff_s`` doubling up to
``max_backoff_s``); each write must drain within ``write_timeout_s`` or the connection is
dropped and re-made; whatever the endpoint sends back is read and discarded in bounded reads.
``send(data)`` queues the bytes (at most ``queue_size`` wait; past that it fails at once with
``SendFailed``) and returns a future that completes once they are written (handed to the
operating system and drained), or fails with ``SendFailed``; a failed send is not retried by
the sender: the caller's durable outbox decides when to try again. Unless ``allow_private``,
the endpoint's host is resolved at each connection and every address checked
(``alerts.resolve_checked``): one inside the network fails the bytes waiting with
``SendFailed`` (no connection is made), and the connection goes to the address checked.

``CotTargets`` is the CoT-out service of ``truceguard serve`` (``cot-out``): one sender per
CoT alert target, made at its first alert; the alert dispatcher calls it to send a violation
as the marker the target's user may see. Its ``stop(drain=True)`` lets each sender write
what it holds (for at most ``drain_s``), then closes them; ``health()`` shows each target's
sent and failed counts and whether it is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

from truceguard.errors import InputError, TruceguardError
from truceguard.model import Violation, iso
from truceguard.server.ids import ApiIds
from truceguard.server.service import ServiceHealth, State
from truceguard.store import Store
from truceguard.store.mission import AlertTarget, OutboxItem

log = logging.getLogger("truceguard.server.cot_out")

MARKER_TYPE = "b-m-p-s-m"
UNKNOWN_M = "9999999.0"
RED_ARGB = "-65536"  # 0xffff0000 as a signed 32-bit integer, how TAK writes colours


def _time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def violation_remarks(v: Violation) -> str:
    """The marker's remarks: clause and location text first (what a TAK user reads)."""
    window = iso(v.t_start) if v.t_end == v.t_start else f"{iso(v.t_start)} to {iso(v.t_end)}"
    return (f"{v.terms} clause {v.clause} (severity {v.severity}, {v.status}): "
            f"{v.category.replace('_', ' ')}, {v.weapon_class.replace('_', ' ')}, "
            f"{v.location_text}; {window}; position +/- {v.uncertainty_m:.0f} m, "
            f"p(location) {v.p_location:.2f}")


def violation_to_cot(violation: Violation, *, cot_type: str = MARKER_TYPE,
                     stale_s: float = 86_400.0, now: datetime | None = None,
                     token: str | None = None) -> bytes:
    """One violation as a CoT XML event (see the module docstring), UTF-8 with a declaration.
    ``token`` is the violation's opaque API id (``server.ids``): given, the event's uid,
    callsign and detail name it instead of the store's number."""
    v = violation
    name = token or str(v.violation_id)
    at = now or datetime.now(UTC)
    ce = f"{v.uncertainty_m:.1f}" if v.uncertainty_m and v.uncertainty_m > 0 else UNKNOWN_M
    event = Element("event", {
        "version": "2.0", "uid": f"truceguard-violation-{name}", "type": cot_type,
        "how": "m-f", "time": _time(at), "start": _time(at),
        "stale": _time(at + timedelta(seconds=stale_s)), "access": v.releasability,
    })
    SubElement(event, "point", {"lat": repr(float(v.lat)), "lon": repr(float(v.lon)),
                                "hae": UNKNOWN_M, "ce": ce, "le": UNKNOWN_M})
    detail = SubElement(event, "detail")
    SubElement(detail, "contact", {"callsign": f"Violation {name}"})
    SubElement(detail, "remarks").text = violation_remarks(v)
    SubElement(detail, "color", {"argb": RED_ARGB})
    SubElement(detail, "truceguard", {
        "violation_id": name, "incident_id": str(v.incident_id),
        "terms": v.terms, "terms_version": v.terms_version, "clause": v.clause,
        "severity": str(v.severity), "status": v.status, "category": v.category,
        "weapon_class": v.weapon_class, "count": "1", "zone": v.zone,
        "controlled_by": v.controlled_by, "p_location": f"{v.p_location:.4f}",
        "t_start": iso(v.t_start), "t_end": iso(v.t_end),
    })
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(event, encoding="utf-8",
                                                                   xml_declaration=False)


class SendFailed(TruceguardError):
    """The bytes were not delivered (queue full, write failed or timed out, sender closed)."""

    code = "server.cot_send_failed"
    default_hint = "the TAK endpoint is unreachable or too slow; the outbox will try again"


def parse_endpoint(url: str) -> tuple[str, int]:
    """(host, port) of ``tcp://HOST:PORT``; InputError otherwise."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None or port < 1 or (
            parts.path not in ("", "/")):
        raise InputError(f"CoT endpoint {url!r} is not tcp://HOST:PORT",
                         hint="for example tcp://10.0.0.5:8087", code="input.bad_cot_endpoint")
    return parts.hostname, port


@dataclass(slots=True)
class SenderStats:
    sent: int = 0
    failed: int = 0
    connects: int = 0
    connected: bool = False


class CotSender:
    """Sends CoT bytes to one TAK endpoint (see the module docstring)."""

    def __init__(self, url: str, *, queue_size: int = 1000, write_timeout_s: float = 5.0,
                 connect_timeout_s: float = 5.0, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, read_bytes: int = 64 << 10,
                 allow_private: bool = False) -> None:
        from truceguard.server.alerts import check_target_url

        check_target_url(url, "cot", allow_private=allow_private)
        self.url = url
        self.host, self.port = parse_endpoint(url)
        self.allow_private = allow_private
        self.write_timeout_s = write_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.read_bytes = read_bytes
        self.stats = SenderStats()
        self._queue: asyncio.Queue[tuple[bytes, asyncio.Future[None]]] = asyncio.Queue(
            maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._closed = False
        self._writing = False  # a message taken from the queue is being written

    @property
    def pending(self) -> int:
        """Messages queued or being written."""
        return self._queue.qsize() + int(self._writing)

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued is written (or failed), at most ``timeout_s``;
        whether it was."""
        deadline = time.monotonic() + timeout_s
        while self.pending and self._task is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self.pending

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"truceguard-cot-out {self.url}")

    def send(self, data: bytes) -> asyncio.Future[None]:
        """Queue ``data``; the future completes when it is written (see the module docstring)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed:
            fut.set_exception(SendFailed(f"{self.url}: the sender is closed"))
            return fut
        try:
            self._queue.put_nowait((data, fut))
        except asyncio.QueueFull:
            self.stats.failed += 1
            fut.set_exception(SendFailed(f"{self.url}: {self._queue.maxsize} messages already "
                                         "wait (the queue is full)"))
        return fut

    async def close(self) -> None:
        """Stop: what still waits fails with SendFailed."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._disconnect()
        while not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(SendFailed(f"{self.url}: the sender closed"))

    # -- the connection --------------------------------------------------------------------
    async def _run(self) -> None:
        from truceguard.server.alerts import TargetRefused

        pause = self.backoff_s
        while True:
            self._writing = False
            data, fut = await self._queue.get()
            if fut.done():  # the caller gave up on it
                continue
            self._writing = True
            while self._writer is None:
                try:
                    await self._connect()
                    pause = self.backoff_s
                except TargetRefused as exc:
                    log.warning("CoT out %s: refused (%s)", self.url, exc)
                    self.stats.failed += 1
                    if not fut.done():
                        fut.set_exception(SendFailed(str(exc), code=exc.code, hint=exc.hint))
                    break
                except (OSError, TimeoutError) as exc:
                    log.warning("CoT out %s: cannot connect (%s); retrying in %.1f s", self.url,
                                exc, pause)
                    await asyncio.sleep(pause)
                    pause = min(self.max_backoff_s, pause * 2)
            writer = self._writer
            if writer is None:  # refused: the next message tries again
                continue
            try:
                writer.write(data)
                await asyncio.wait_for(writer.drain(), self.write_timeout_s)
            except (OSError, TimeoutError) as exc:
                why = ("no progress writing within "
                       f"{self.write_timeout_s:g} s" if isinstance(exc, TimeoutError) else str(exc))
                log.warning("CoT out %s: write failed (%s); reconnecting", self.url, why)
                self._disconnect()
                self.stats.failed += 1
                if not fut.done():
                    fut.set_exception(SendFailed(f"{self.url}: {why}"))
                continue
            self.stats.sent += 1
            if not fut.done():
                fut.set_result(None)

    async def _connect(self) -> None:
        from truceguard.server.alerts import resolve_checked

        host = self.host
        if not self.allow_private:  # connect to the address checked, not a second lookup
            host = str((await asyncio.wait_for(resolve_checked(self.url, self.host, self.port),
                                               self.connect_timeout_s))[0])
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, self.port), self.connect_timeout_s)
        self._writer = writer
        self.stats.connects += 1
        self.stats.connected = True
        log.info("CoT out %s: connected", self.url)
        self._drain_task = asyncio.get_running_loop().create_task(self._discard(reader, writer))

    async def _discard(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read and drop what the endpoint sends; its closing ends this connection."""
        with contextlib.suppress(OSError):
            while await reader.read(self.read_bytes):
                pass
        if self._writer is writer:
            log.warning("CoT out %s: the endpoint closed the connection", self.url)
            self._disconnect()

    def _disconnect(self) -> None:
        writer, self._writer = self._writer, None
        self.stats.connected = False
        if writer is not None:
            writer.transport.abort()
        task, self._drain_task = self._drain_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()


class CotTargets:
    """The CoT-out service (see the module docstring); the ``cot_sender`` of
    ``alerts.Dispatcher``."""

    name = "cot-out"

    def __init__(self, store: Store, *, drain_s: float = 5.0) -> None:
        self.store = store
        self.drain_s = drain_s
        self.senders: dict[int, CotSender] = {}
        self.state: State = "stopped"
        self.last_error = ""

    async def start(self) -> None:
        self.state = "running"

    async def __call__(self, target: AlertTarget, item: OutboxItem) -> None:
        if self.state != "running":
            raise SendFailed("CoT out is stopping", code="server.stopping")
        user = await asyncio.to_thread(self.store.user_by_id, target.user_id)
        if user is None or user.disabled:
            raise SendFailed(f"the target's user is gone or disabled ({target.user_id})")
        v = await asyncio.to_thread(self.store.get_violation, item.violation_id, user.viewer)
        if v is None:
            raise SendFailed(f"violation {item.violation_id} is not releasable to {user.name}")
        sender = self.senders.get(target.target_id)
        if sender is None:
            sender = self.senders[target.target_id] = CotSender(
                target.url, allow_private=target.allow_private)
            await sender.start()
        try:
            await sender.send(violation_to_cot(
                v, token=ApiIds(self.store.incident_key).token("violation", v.violation_id)))
        except SendFailed as exc:
            self.last_error = f"{sender.url}: {exc}"
            raise

    async def stop(self, drain: bool = True) -> None:
        self.state = "draining" if drain else "stopped"
        if drain:
            await asyncio.gather(*(s.flush(self.drain_s) for s in self.senders.values()))
        for sender in self.senders.values():
            await sender.close()
        self.state = "stopped"

    async def close(self) -> None:
        await self.stop(drain=False)

    def health(self) -> ServiceHealth:
        targets = {str(tid): {"url": s.url, "connected": s.stats.connected,
                              "sent": s.stats.sent, "failed": s.stats.failed,
                              "queued": s.pending}
                   for tid, s in self.senders.items()}
        failed = sum(s.stats.failed for s in self.senders.values())
        detail = (f"{len(targets)} target(s) in use, "
                  f"{sum(s.stats.connected for s in self.senders.values())} connected, "
                  f"{failed} failed send(s)")
        if self.last_error:
            detail += f"; last failure: {self.last_error}"
        return ServiceHealth(self.name, self.state, detail,
                             extra={"targets": targets, "failed": failed})


__all__ = [
    "MARKER_TYPE",
    "CotSender",
    "CotTargets",
    "SendFailed",
    "parse_endpoint",
    "violation_remarks",
    "violation_to_cot",
]
