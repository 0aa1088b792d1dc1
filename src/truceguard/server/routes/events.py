"""``/api/v1/events``: what the live judge changed, as server-sent events, for each user only
what the list endpoints would show them.

The live judge (``server.live``) hands each step's changes to the ``EventHub`` from its own
thread (``collect``): the new observations, the incident views it wrote and those it took
away, the new violations, each with its store marking id. The hub keeps every incident's
views and their markings (loaded when the first stream opens, then kept by the steps), so that
a view merged away is known with the marking it had. The hub hands the changes, on the event
loop, to every open stream's queue.

Each stream renders the changes for its own user in a worker thread, through the same store
reads as the list endpoints (``get_observation``, ``get_incident``, ``get_violation`` with the
user's ``Viewer``), so an event shows exactly what a list would: a record the user may not
see gives no event at all, and a view taken away is told only to a user who may see its
marking. Every event's ``data`` is JSON with its ``marking``; ids are the API's tokens
(``server.ids``). The events::

    event: hello               {"marking", "user", "queue", "keepalive_s"}
    event: observation         {"marking", "item": {obs_id, t_start, lat, lon, category, ...,
                                report_kind: a monitor's report's kind (fire, restriction
                                ...), null for other records}}
    event: incident            {"marking", "item": the incident as GET /incidents shows it}
    event: incident_removed    {"marking", "incident_id"}
    event: violation           {"marking", "item": the violation as GET /violations shows it}
    event: reload              {"marking": "PUBLIC", "reason"}: too much at once; list again
    event: dropped             {"marking": "PUBLIC", "code", "message", "hint"}: the end

Bounds: a stream's queue holds ``QUEUE`` steps' changes; a stream that falls further behind
(a slow or stalled reader) is sent ``dropped`` and closed, and a send the client does not
take within ``SEND_TIMEOUT_S`` closes the connection; so the server never holds more than a
fixed amount per stream. A user has at most ``MAX_STREAMS_PER_USER`` streams open (the next is
answered 429). A comment line every ``KEEPALIVE_S`` keeps proxies from closing an idle
stream. A request must ask for ``Accept: text/event-stream`` (a stream never ends by itself;
a client that did not ask for one is answered 400). Authentication is the bearer token in the
``Authorization`` header, as everywhere
(browsers read the stream with ``fetch``, never with a token in the URL); a user disabled
while streaming is sent ``dropped``.

When the server stops (its supervisor is ``stopping``), every idle stream notices within
``WATCH_S``, is sent ``dropped`` and ends, so that the HTTP server's drain does not wait on
them; no stream opens then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from truceguard.errors import InputError, ThrottledError
from truceguard.io.records import record_dict
from truceguard.model import User
from truceguard.server.ids import ApiIds
from truceguard.server.routes.deps import Ctx, Me
from truceguard.store import Store

log = logging.getLogger("truceguard.server")

QUEUE = 64  # steps' changes a stream may have waiting before it is dropped
SEND_TIMEOUT_S = 10.0  # how long one send may wait for the client to read
KEEPALIVE_S = 15.0
WATCH_S = 1.0  # how often an idle stream checks whether the server stops
MAX_STREAMS_PER_USER = 4
MAX_EVENTS_PER_STEP = 2000  # records of one step sent one by one; over that, ``reload``
OBSERVATION_FIELDS = ("obs_id", "t_start", "t_end", "lat", "lon", "uncertainty_m", "category",
                      "weapon_class", "source", "how_known", "incident_id", "kind",
                      "releasability")

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class StepChanges(Protocol):
    """What ``EventHub.collect`` reads of a live step (``server.live.StepResult``)."""

    observations: list[tuple[int, int]]
    written: list[int]
    removed: list[int]
    new_violations: list[int]


@dataclass(frozen=True)
class Changes:
    """What one live step changed: (store id, marking id) of the new observations, of the
    incident views written and of those taken away; the new violations' ids."""

    observations: tuple[tuple[int, int], ...] = ()
    incidents: tuple[tuple[int, int], ...] = ()
    gone: tuple[tuple[int, int], ...] = ()
    violations: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.observations or self.incidents or self.gone or self.violations)


@dataclass(eq=False)
class Stream:
    """One open stream: its user and its queue of changes; ``behind`` once it overflowed."""

    user: User
    queue: asyncio.Queue[Changes] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    behind: bool = False
    closing: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: Callable[[], bool] = lambda: False  # whether the server stops


class EventHub:
    """The streams of one server and the live judge's changes (see the module docstring)."""

    def __init__(self, store: Store, ids: ApiIds) -> None:
        self.store = store
        self.ids = ids
        self.streams: set[Stream] = set()
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # the views, between the judge's thread and a load
        self._views: dict[int, dict[int, int]] | None = None  # parent -> {view id: marking}

    # -- the live judge's side (its own thread) ------------------------------------------------
    def collect(self, step: StepChanges) -> None:
        """A step's changes (``server.live.StepResult``), from the judging thread: the views
        of the incidents it touched are read here (before the next step can change them),
        then the streams are fed on the event loop. Nothing is read while no stream is
        open."""
        if not self.streams or self._loop is None:
            with self._lock:
                self._views = None  # reloaded when a stream opens
            return
        written = sorted(set(step.written))
        parents = sorted(set(written) | set(step.removed))
        incidents: list[tuple[int, int]] = []
        gone: list[tuple[int, int]] = []
        with self._lock:
            if self._views is None:
                self._views = self._load({})
            now = self._load({}, parents) if parents else {}
            keep = set(written)
            for p in parents:
                before = self._views.pop(p, {})
                after = now.get(p, {})
                gone += [(v, m) for v, m in before.items() if v not in after]
                incidents += [(v, m) for v, m in after.items() if v in keep]
                if after:
                    self._views[p] = after
        changes = Changes(tuple(step.observations), tuple(incidents), tuple(gone),
                          tuple(step.new_violations))
        if changes:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._publish, changes)

    def _load(self, into: dict[int, dict[int, int]], parents: list[int] | None = None
              ) -> dict[int, dict[int, int]]:
        a = self.store.view_arrays(parents)
        for view, parent, mark in zip(a["incident_id"].tolist(), a["parent_id"].tolist(),
                                      a["marking_id"].tolist(), strict=True):
            into.setdefault(int(parent), {})[int(view)] = int(mark)
        return into

    def preload(self) -> None:
        """Read every incident's views (in a worker thread, when the first stream opens)."""
        with self._lock:
            if self._views is None:
                self._views = self._load({})

    # -- the event loop's side -----------------------------------------------------------------
    def _publish(self, changes: Changes) -> None:
        for s in list(self.streams):
            if s.behind:
                continue
            try:
                s.queue.put_nowait(changes)
            except asyncio.QueueFull:
                s.behind = True  # what is queued is let go at once; the stream is cut
                self.dropped += 1
                while not s.queue.empty():
                    s.queue.get_nowait()
            s.wake.set()

    def open(self, user: User, stopping: Callable[[], bool] = lambda: False) -> Stream:
        """A new stream for ``user``; 429 when they have ``MAX_STREAMS_PER_USER`` open, or
        the server is ``stopping``."""
        self._loop = asyncio.get_running_loop()
        if stopping():
            raise ThrottledError("the server is stopping", retry_after_s=5,
                                 code="events.stopping", hint="connect again in a moment")
        mine = sum(1 for s in self.streams if s.user.user_id == user.user_id)
        if mine >= MAX_STREAMS_PER_USER:
            raise ThrottledError(
                f"user {user.name!r} has {mine} event streams open, the most one user may",
                retry_after_s=5, code="events.too_many",
                hint="close another tab or stream of yours, then connect again")
        s = Stream(user, stopping=stopping)
        self.streams.add(s)
        return s

    def close(self, s: Stream) -> None:
        self.streams.discard(s)



# -- rendering, per user (in a worker thread) -----------------------------------------------------
def render(store: Store, ids: ApiIds, changes: Changes, user: User) -> list[tuple[str, Any]]:
    """The events ``changes`` give ``user``: only what the list endpoints would show them."""
    current = store.user_by_id(int(user.user_id or 0))
    if current is None or current.disabled:
        return [("dropped", _ending("events.user_disabled", f"user {user.name!r} is disabled",
                                    "ask an administrator"))]
    viewer = user.viewer
    texts = store.markings()
    seen: dict[int, bool] = {}

    def may(mark: int) -> bool:  # a quick test first; the store's read decides
        if mark not in seen:
            seen[mark] = mark not in texts or viewer.may_see(texts[mark])
        return seen[mark]

    out: list[tuple[str, Any]] = []
    for obs_id, mark in changes.observations:
        o = store.get_observation(obs_id, viewer) if may(mark) else None
        if o is not None:
            d = record_dict(o)
            item = {k: d.get(k) for k in OBSERVATION_FIELDS}
            item["report_kind"] = o.report.kind if o.report is not None else None
            out.append(("observation", {"marking": o.releasability, "item": item}))
        if len(out) > MAX_EVENTS_PER_STEP:
            return [_reload()]
    for view, mark in changes.incidents:
        inc = store.get_incident(view, viewer) if may(mark) else None
        if inc is not None:
            out.append(("incident", {"marking": inc.releasability, "item": record_dict(inc)}))
        if len(out) > MAX_EVENTS_PER_STEP:
            return [_reload()]
    if changes.gone:
        out += [("incident_removed", {"marking": texts[mark].text, "incident_id": view})
                for view, mark in changes.gone if mark in texts and may(mark)]
    for vid in changes.violations:
        v = store.get_violation(vid, viewer)
        if v is not None:
            out.append(("violation", {"marking": v.releasability, "item": record_dict(v)}))
        if len(out) > MAX_EVENTS_PER_STEP:
            return [_reload()]
    return [(kind, ids.shown(data)) for kind, data in out]


def _reload() -> tuple[str, Any]:
    return ("reload", {"marking": "PUBLIC", "reason": f"over {MAX_EVENTS_PER_STEP} records "
                       "changed at once: list the view again"})


def _ending(code: str, message: str, hint: str) -> dict[str, Any]:
    return {"marking": "PUBLIC", "code": code, "message": message, "hint": hint}


def sse(kind: str, data: Any, seq: int) -> bytes:
    """One server-sent event."""
    return (f"event: {kind}\nid: {seq}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
            ).encode()


async def _events(hub: EventHub, s: Stream) -> AsyncIterator[bytes]:
    """The stream's bytes: ``hello``, then each step's events, until it ends."""
    seq = 0
    yield sse("hello", {"marking": "PUBLIC", "user": s.user.name, "queue": QUEUE,
                        "keepalive_s": KEEPALIVE_S}, seq)
    while True:
        if s.closing:
            yield sse("dropped", _ending("events.stopping", "the server is stopping",
                                         "connect again in a moment"), seq + 1)
            return
        if s.behind:
            yield sse("dropped", _ending(
                "events.behind", f"you fell more than {QUEUE} live steps behind",
                "read the stream faster; connect again and list the view anew"), seq + 1)
            return
        if s.queue.empty():
            s.wake.clear()
            waited = 0.0
            while not s.wake.is_set() and waited < KEEPALIVE_S and not s.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(s.wake.wait(), WATCH_S)
                waited += WATCH_S
                if s.stopping():
                    s.closing = True
            if s.queue.empty() and not (s.behind or s.closing):
                yield b": keep-alive\n\n"
            continue
        changes = s.queue.get_nowait()
        for kind, data in await run_in_threadpool(render, hub.store, hub.ids, changes, s.user):
            seq += 1
            yield sse(kind, data, seq)
            if kind == "dropped":
                return


class EventStream(Response):
    """The answer of a stream: each send waits at most ``SEND_TIMEOUT_S`` for the client, and
    the stream ends when the client hangs up (or the hub ends it)."""

    media_type = "text/event-stream"

    def __init__(self, hub: EventHub, s: Stream) -> None:  # noqa: D107 - no body to render
        self.hub, self.s = hub, s
        self.status_code = 200
        self.background = None
        self.init_headers({"content-type": "text/event-stream; charset=utf-8",
                           "cache-control": "no-store", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.create_task(self._pump(send))
        listen = asyncio.create_task(self._listen(receive))
        try:
            await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, listen):
                task.cancel()
            for task in (pump, listen):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.hub.close(self.s)

    async def _listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": self.raw_headers})
        try:
            async for chunk in _events(self.hub, self.s):
                await asyncio.wait_for(send({"type": "http.response.body", "body": chunk,
                                             "more_body": True}), SEND_TIMEOUT_S)
            await asyncio.wait_for(send({"type": "http.response.body", "body": b"",
                                         "more_body": False}), SEND_TIMEOUT_S)
        except TimeoutError:
            self.hub.dropped += 1
            log.info("events: %s did not read for %.0f s; the stream is closed", self.s.user.name,
                     SEND_TIMEOUT_S)


@router.get("", response_class=EventStream, status_code=200, responses={200: {
    "description": "server-sent events (text/event-stream); see the module docstring",
    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
async def live_events(request: Request, ctx: Ctx, u: Me) -> EventStream:
    """What the live judge changes, as server-sent events: new observations, incidents (and
    those merged away) and violations that you may see, each with its marking. Read it with
    your bearer token in the Authorization header and ``Accept: text/event-stream``; a
    reader that falls behind is sent ``dropped`` and closed. At most 4 streams per user."""
    accept = request.headers.get("accept", "")
    if "text/event-stream" not in accept:
        raise InputError(f"Accept {accept[:60]!r} does not ask for text/event-stream",
                         hint="send Accept: text/event-stream (the stream never ends by "
                              "itself: only a client that reads one should open it)",
                         code="input.not_acceptable")
    hub: EventHub = request.app.state.events
    supervisor = getattr(request.app.state, "supervisor", None)  # set by `truceguard serve`
    s = hub.open(u, lambda: bool(getattr(supervisor, "stopping", False)))
    try:
        if hub._views is None:
            await run_in_threadpool(hub.preload)
    except BaseException:
        hub.close(s)
        raise
    return EventStream(hub, s)


__all__ = ["MAX_STREAMS_PER_USER", "QUEUE", "Changes", "EventHub", "EventStream", "render",
           "router", "sse"]
