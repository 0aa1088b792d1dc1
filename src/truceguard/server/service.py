"""The shape every part of ``truceguard serve`` follows, and the supervisor that owns them.

A service (the HTTP API, each CoT listener and the CoT ingest behind them, live judging, the
alert dispatcher, CoT out, the user watcher, the failed-login audit, the plan runner) is
started, runs, is stopped and reports its health the same way:

- ``await start()`` returns once the service accepts work (a listener is bound, a loop runs);
  it raises if the service cannot start (a port taken, say);
- ``await stop(drain=True)`` stops accepting, finishes what was acknowledged, then closes;
  ``drain=False`` closes at once;
- ``health()`` says where it stands, without blocking (no store call on the loop).

``TaskService`` is the base of services that run one coroutine of their own (a poll loop, a
server): it starts the task, notes when it ends by surprise (``state`` ``failed``, ``error``
the exception), and cancels it when told to stop.

The ``Supervisor`` starts services in order and stops them in reverse order (so that the API
stops taking requests before the judge that serves them stops), one line in the log for each
start and each stop; ``wait(stop)`` returns when ``stop`` is set or a service has failed;
``health()`` and ``ready()`` answer ``/healthz`` (every service) and ``/readyz`` (all
running).

``on_loop(loop, fn)`` wraps a hook that touches the loop's objects (transports, events) so
that it may be called from any thread: off the loop's thread it comes back with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

log = logging.getLogger("truceguard.server")

State = Literal["starting", "running", "draining", "stopped", "failed"]


@dataclass(frozen=True)
class ServiceHealth:
    """One service's state as ``/healthz`` shows it. ``lag_s`` is how far behind its input
    the service is (live judging: the oldest unjudged commit), ``None`` where it has no
    backlog; ``detail`` is one line for an operator; ``extra`` holds counters."""

    name: str
    state: State
    detail: str = ""
    lag_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Service(Protocol):
    """What the supervisor asks of each part of the server."""

    name: str

    async def start(self) -> None: ...

    async def stop(self, drain: bool = True) -> None: ...

    def health(self) -> ServiceHealth: ...


class TaskService:
    """A service that runs one coroutine (``main``) as its task. Subclasses give ``name`` and
    ``main``, and may add to ``stop`` (say, a last flush); ``state`` follows the task:
    ``failed`` (with ``error``) when it ends with an exception it was not told to."""

    name = "task"

    def __init__(self) -> None:
        self.state: State = "stopped"
        self.error: BaseException | None = None
        self.started_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def main(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self.state = "running"
        self.error = None
        self.started_at = time.time()
        self._task = self._spawn(self.main())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=f"truceguard-{self.name}")
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self.state in ("draining", "stopped"):
            return
        exc = task.exception()
        if exc is not None:
            self.state, self.error = "failed", exc
            log.error("%s failed: %s: %s", self.name, type(exc).__name__, exc,
                      exc_info=exc if not _domain(exc) else None)
        else:
            self.state = "stopped"

    async def stop(self, drain: bool = True) -> None:
        if self.state != "failed":
            self.state = "draining" if drain else "stopped"
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.state != "failed":
            self.state = "stopped"

    def health(self) -> ServiceHealth:
        return ServiceHealth(self.name, self.state, self.detail(), extra=self.counters())

    def detail(self) -> str:
        """One line for ``/healthz``: the error of a failed service, else the subclass's."""
        return f"{type(self.error).__name__}: {self.error}" if self.error else ""

    def counters(self) -> dict[str, Any]:
        return {}


def _domain(exc: BaseException) -> bool:
    from truceguard.errors import TruceguardError

    return isinstance(exc, TruceguardError)


class Supervisor:
    """Owns the services of one server process: starts them in order, stops them in reverse
    order within ``drain_s`` each, and reports them."""

    def __init__(self, services: list[Service] | None = None, *, drain_s: float = 10.0,
                 poll_s: float = 0.25) -> None:
        self.services: list[Service] = list(services or [])
        self.drain_s = drain_s
        self.poll_s = poll_s
        self.started_at: float | None = None
        self.stopping = False
        self._started: list[Service] = []

    def add(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def adopt(self, service: Service) -> Service:
        """Own a service already started (one the others are built from): it is stopped
        after every service started later."""
        self.services.append(service)
        self._started.append(service)
        return service

    async def start(self) -> None:
        """Start every service in order; when one fails, stop those already started and
        raise its error."""
        for service in self.services:
            if service in self._started:  # adopted
                continue
            begun = time.monotonic()
            try:
                await service.start()
            except BaseException:
                log.error("start: %s could not start", service.name)
                await self.stop(drain=False)
                raise
            self._started.append(service)
            h = _safe_health(service)
            log.info("start: %s %s in %.0f ms%s", service.name, h.state,
                     1000 * (time.monotonic() - begun), f" ({h.detail})" if h.detail else "")
        self.started_at = time.monotonic()

    async def wait(self, stop: asyncio.Event) -> Service | None:
        """Return when ``stop`` is set (None) or a service has failed (that service)."""
        while True:
            for service in self.services:
                if _safe_health(service).state == "failed":
                    return service
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)
            if stop.is_set():
                return None

    async def stop(self, drain: bool = True) -> None:
        """Stop every started service, last started first; each has ``drain_s`` to finish
        what it acknowledged before it is closed without draining."""
        self.stopping = True
        while self._started:
            await self._stop_one(self._started.pop(), drain=drain)

    async def _stop_one(self, service: Service, *, drain: bool) -> None:
        begun = time.monotonic()
        log.info("stop: %s %s", service.name, "draining" if drain else "closing")
        try:
            await asyncio.wait_for(service.stop(drain=drain), timeout=self.drain_s)
        except TimeoutError:
            log.warning("stop: %s did not drain within %.0f s; closing it", service.name,
                        self.drain_s)
            try:
                await asyncio.wait_for(service.stop(drain=False), timeout=self.drain_s)
            except Exception:
                log.exception("stop: %s could not be closed", service.name)
                return
        except Exception:
            log.exception("stop: %s failed while stopping", service.name)
            return
        h = _safe_health(service)
        log.info("stop: %s stopped in %.0f ms%s", service.name,
                 1000 * (time.monotonic() - begun), f" ({h.detail})" if h.detail else "")

    def health(self) -> list[ServiceHealth]:
        return [_safe_health(service) for service in self.services]

    def ready(self) -> bool:
        """Every service runs and the supervisor is not stopping."""
        return (not self.stopping and self.started_at is not None
                and all(h.state == "running" for h in self.health()))


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[str], None]
            ) -> Callable[[str], None]:
    """``fn``, run on ``loop``'s thread whichever thread calls it (at once when that is the
    loop's own; else soon after, through ``call_soon_threadsafe``; never once the loop has
    closed)."""

    def call(arg: str) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a worker thread
            running = None
        if running is loop:
            fn(arg)
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to touch
            loop.call_soon_threadsafe(fn, arg)

    return call


def _safe_health(service: Service) -> ServiceHealth:
    try:
        return service.health()
    except Exception as exc:  # a health probe must answer even for a broken service
        return ServiceHealth(service.name, "failed", f"health check failed: {exc}")


__all__ = ["Service", "ServiceHealth", "State", "Supervisor", "TaskService", "on_loop"]
