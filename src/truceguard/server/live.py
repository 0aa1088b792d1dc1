"""Live judging: new observations are fused and judged while they arrive.

``LiveJudge`` is a service (``server.service``): ``start()`` spawns its loop, ``stop()`` lets
the step under way finish (``drain``) and ends it, ``health()`` shows how far behind it is.
``poke()`` (called after every commit of new observations: a CoT batch, an API import) wakes
the loop; it waits ``batch_s`` (200 ms) for more to arrive, then runs one step in its own
worker thread: incremental fusion (only the new reports and the incidents within reach),
adjudication of the incidents that fusion wrote or removed against each active terms, and the
alerts those violations are owed (``alerts.owe``); then it wakes the dispatcher and hands what
the step changed (``StepResult``: new observations, incidents written and merged away, new
violations) to ``on_changes`` in the judging thread (the live events, ``routes.events``). A
step that fails is logged and retried on the next poke: nothing is lost, since the store is
the state.

Steps are bounded, so that a flood never makes one step long: at most ``LIGHT_PER_STEP``
reports of sparse cells and ``HEAVY_PER_STEP`` of busy cells a step (the oldest first); what
is left is the backlog, taken by the next steps at once, without waiting; so is the step after
one that took longer than ``batch_s`` (what that wait would gather came meanwhile). The lag that
``health()`` shows is the age of the oldest commit not yet judged: the time since the first
poke that no finished step has covered.

Several nodes (``server.cluster``): with a ``Leadership``, only the node that holds the
judging lock judges; the others stand by and try again every ``retry_s``. Fusion links
reports across any boundary one could draw between areas (an incident grows by chaining
reports, however far), so areas are not judged apart: one node judges all, and a node that
dies hands judging over within seconds. The judge checks before each step that it still
holds the lock, and a node that has just taken it waits ``grace_s`` before its first step, so
that a step the previous judge had under way when its session ended is finished first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from truceguard.judge.terms import Terms
from truceguard.pipeline import (
    adjudicate_store,
    cell_groups,
    fuse_store,
    stored_params,
    subset,
)
from truceguard.server.alerts import owe
from truceguard.server.service import ServiceHealth, State
from truceguard.store import Store

log = logging.getLogger("truceguard.server")


@dataclass
class StepResult:
    new_observations: int = 0
    incidents_written: int = 0
    new_violations: list[int] = field(default_factory=list)
    owed: int = 0
    backlog: int = 0  # new reports left for the next steps
    seconds: float = 0.0
    observations: list[tuple[int, int]] = field(default_factory=list)  # (obs_id, marking_id)
    written: list[int] = field(default_factory=list)  # incident views (re)written
    removed: list[int] = field(default_factory=list)  # incidents merged away


LIGHT_CELL = 50  # new reports in a half-degree cell up to which its work is light
LIGHT_PER_STEP = 5000  # reports of sparse cells fused in one step (whole cells, oldest first)
HEAVY_PER_STEP = 20000  # reports of busy cells fused in one step (the rest in the next steps)


def _take_light(pending_ids: np.ndarray, light: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Whole light cells, the one holding the oldest report first, up to ``LIGHT_PER_STEP``
    reports (at least one cell); returns their rows and how many light reports are left."""
    order = sorted(light, key=lambda c: int(pending_ids[c].min()))
    taken: list[np.ndarray] = []
    n = 0
    for cell in order:
        if taken and n + cell.size > LIGHT_PER_STEP:
            break
        taken.append(cell)
        n += cell.size
    total = sum(c.size for c in light)
    return np.concatenate(taken), total - n


def judge_step(store: Store, terms: Sequence[Terms],
               on_owed: Callable[[int], None] | None = None) -> StepResult:
    """One live step over the store (see the module docstring).

    Light work first: the new reports of sparse cells (a breach somewhere quiet) are fused,
    judged and alerted before those of busy cells (a stream of tracks), so a breach is not
    kept waiting behind a busy area's bookkeeping. ``on_owed(n)`` is called after each part
    that owed alerts (the dispatcher can deliver them while the next part is judged). Sparse
    cells give at most ``LIGHT_PER_STEP`` reports a step and busy cells ``HEAVY_PER_STEP``
    (the oldest), so that steps stay short and the light work of the next step does not wait
    long; ``backlog`` says how many are left for the next steps."""
    started = time.perf_counter()
    out = StepResult()
    params = stored_params(store)
    pending = store.fusion_arrays(unfused=True)
    parts: list[dict[str, np.ndarray] | None] = [None]
    if pending["obs_id"].size and store.last_fusion_params() is not None:
        cells = cell_groups(pending["lat"], pending["lon"])
        light = [c for c in cells if c.size <= LIGHT_CELL]
        heavy = [c for c in cells if c.size > LIGHT_CELL]
        groups = []
        if light:
            rows, left = _take_light(pending["obs_id"], light)
            groups.append(rows)
            out.backlog += left
        if heavy:
            busy = np.concatenate(heavy)
            busy = busy[np.argsort(pending["obs_id"][busy], kind="stable")]  # the oldest first
            groups.append(busy[:HEAVY_PER_STEP])
            out.backlog += int(busy.size - min(busy.size, HEAVY_PER_STEP))
        parts = [subset(pending, g) for g in groups]
    for part in parts:
        f = fuse_store(store, params, pending=part)
        taken = pending if part is None else part
        out.observations += list(zip(taken["obs_id"].tolist(), taken["marking_id"].tolist(),
                                     strict=True))
        out.new_observations += f.new_observations
        out.incidents_written += len(f.written)
        out.written += f.written
        out.removed += f.removed
        touched = sorted(set(f.written) | set(f.removed))
        if not touched:
            continue
        fresh: list[int] = []
        for t in terms:
            fresh += adjudicate_store(store, t, touched).new_ids
        out.new_violations += fresh
        owed = owe(store, fresh)
        out.owed += owed
        if owed and on_owed is not None:
            on_owed(owed)
        if f.mode == "full":
            break  # a full fusion took every pending report
    out.seconds = time.perf_counter() - started
    return out


def warm_up(terms: Sequence[Terms]) -> None:
    """Build each terms' geometry indexes now (a second or two each), so that the first
    report of the day is not judged late: judge one made-up point per terms, keep nothing."""
    from truceguard.judge.adjudicate import adjudicate

    for t in terms:
        lon, lat = t.line.representative_point().coords[0]
        adjudicate(t, np.array([lon]), np.array([lat]), np.array([t.effective]),
                   np.array(["shelling"]), np.array(["small_arms"]),
                   uncertainty_m=np.array([5000.0]))


class Leadership(Protocol):
    """Whether this node judges, among several on one database (``server.cluster``)."""

    retry_s: float  # how often a standby tries to take over, and a judge checks it still may
    grace_s: float  # how long a new judge waits before its first step

    @property
    def node(self) -> str:
        """This node's name in logs and health."""

    async def try_lead(self) -> bool: ...

    async def still_leads(self) -> bool: ...

    async def resign(self) -> None: ...

    def announce(self) -> None:
        """Tell the judging node, wherever it runs, that observations were committed here."""


class LiveJudge:
    """The live loop (a ``Service``); ``poke`` is safe to call from any thread."""

    name = "live"

    def __init__(self, store: Store, terms: Sequence[Terms], *, batch_s: float = 0.2,
                 on_alerts: Callable[[], None] | None = None,
                 leadership: Leadership | None = None,
                 on_changes: Callable[[StepResult], None] | None = None) -> None:
        self.store = store
        self.on_changes = on_changes
        self.terms = list(terms)
        self.batch_s = batch_s
        self.on_alerts = on_alerts
        self.leadership = leadership
        self.role = "single" if leadership is None else "standby"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._stopped = asyncio.Event()  # the loop has ended
        self._halt = asyncio.Event()  # stop() was called
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._state: State = "starting"
        self._error = ""
        self._pending_since: float | None = None  # the first poke no finished step covered
        self._judging_since: float | None = None  # ... of the step under way
        self.steps = 0
        self.backlog = 0
        self.last_step_s = 0.0
        self.last: StepResult | None = None

    # -- waking ------------------------------------------------------------------------------
    def poke(self, _n: int = 0) -> None:
        """Observations were committed on this node: judge them (here, or on the node that
        judges)."""
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        if self.leadership is not None:
            self.leadership.announce()
        self.wake()

    def wake(self) -> None:
        """Observations were committed (on any node): a step is due."""
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
                self._loop.call_soon_threadsafe(self._wake.set)

    def _owed(self, _n: int) -> None:
        """From the judging thread: wake the dispatcher on the loop's thread."""
        if self.on_alerts is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self.on_alerts)

    # -- the service -------------------------------------------------------------------------
    async def start(self) -> None:
        """Spawn the loop; it judges whatever arrived while the server was down first."""
        self._task = asyncio.create_task(self.run(), name=self.name)
        self._state = "running"

    async def stop(self, drain: bool = True) -> None:
        """End the loop: with ``drain``, after the step under way (never cut in the middle);
        without, at once (a step's thread still runs to its transaction's end)."""
        self._stopping = True
        self._halt.set()
        if self._state == "running":
            self._state = "draining"
        if self._wake is not None:
            self._wake.set()
        if self._task is not None and not self._task.done():
            if not drain:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        elif self._loop is not None:
            await self._stopped.wait()  # run() awaited by someone else
        self._state = "stopped" if not self._error else "failed"

    def lag_s(self) -> float:
        """Seconds since the oldest commit not yet judged; 0 when nothing waits."""
        oldest = [t for t in (self._pending_since, self._judging_since) if t is not None]
        return max(0.0, time.monotonic() - min(oldest)) if oldest else 0.0

    def health(self) -> ServiceHealth:
        lag = self.lag_s()
        detail = (f"{self.role}: {self.backlog} report(s) waiting, {lag:.1f} s behind"
                  if self.role != "standby" else
                  "standby: another node judges" + (f" ({self._error})" if self._error else ""))
        extra: dict[str, object] = {"role": self.role, "backlog": self.backlog,
                                    "last_step_s": round(self.last_step_s, 3),
                                    "steps": self.steps}
        if self.leadership is not None:
            extra["node"] = self.leadership.node
        return ServiceHealth(self.name, self._state, detail,
                             lag_s=round(lag, 3) if self.role != "standby" else None,
                             extra=extra)

    # -- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """The loop itself, until ``stop``."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake.set()  # judge whatever arrived while the server was down
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="judge")
        self._state = "running"
        backlog = False
        try:
            while not self._stopping:
                if self.leadership is not None and not await self._lead():
                    continue
                if not await self._wait_for_work():
                    continue
                if not backlog and self.last_step_s < self.batch_s:
                    await asyncio.sleep(self.batch_s)  # let a burst gather into one step
                if self._stopping:
                    break
                if self.leadership is not None and not await self._still_lead():
                    continue
                self._wake.clear()
                backlog = await self._step()
                if backlog:
                    self._wake.set()  # go on at once with what is left
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            self._state = "failed"
            log.exception("live judging stopped")
            raise
        finally:
            if self.leadership is not None:
                await self.leadership.resign()
            self._executor.shutdown(wait=False)
            self._stopped.set()
            if self._state != "failed":
                self._state = "stopped"

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when woken (or stopped)."""
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _lead(self) -> bool:
        """Whether this node judges now: take the judging lock if it is free (then wait
        ``grace_s``), else stand by for ``retry_s``."""
        assert self.leadership is not None
        leads = await self.leadership.try_lead()
        if leads and self.role != "leader":
            log.info("live: %s judges now", self.leadership.node)
            self.role = "leader"
            if self._pending_since is None:
                self._pending_since = time.monotonic()  # whatever waits is judged from now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), self.leadership.grace_s)
            assert self._wake is not None
            self._wake.set()
            return not self._stopping
        if not leads:
            self._lost()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), self.leadership.retry_s)
            return False
        return True

    async def _still_lead(self) -> bool:
        assert self.leadership is not None
        if await self.leadership.still_leads():
            return True
        self._lost()
        return False

    def _lost(self) -> None:
        if self.role == "leader":
            log.warning("live: %s no longer holds the judging lock; it stops judging",
                        self.leadership.node if self.leadership else "this node")
        self.role = "standby"

    async def _wait_for_work(self) -> bool:
        """Wait for a poke; as a judge among several nodes, wake every ``retry_s`` anyway to
        check the lock is still held. True when there is work."""
        assert self._wake is not None
        if self.leadership is None:
            await self._wake.wait()
            return not self._stopping
        await self._pause(self.leadership.retry_s)
        return self._wake.is_set() and not self._stopping

    async def _step(self) -> bool:
        """One step in the judging thread; True when a backlog is left."""
        assert self._loop is not None
        since, self._pending_since = self._pending_since, None
        self._judging_since = since if since is not None else time.monotonic()
        try:
            r = await self._loop.run_in_executor(self._executor, self._judge)
        except Exception:  # a failed step is retried at the next poke; the log says why
            log.exception("live judging step failed")
            self._keep(since)
            return False
        finally:
            self._judging_since = None
        self.steps += 1
        self.last = r
        self.backlog = r.backlog
        self.last_step_s = r.seconds
        if r.backlog:
            self._keep(since)
        if r.new_violations or r.seconds > 0.5:
            log.info("live: %d new observations, %d new violations, %d alerts owed, %d waiting "
                     "(%.0f ms)", r.new_observations, len(r.new_violations), r.owed, r.backlog,
                     r.seconds * 1000)
        return r.backlog > 0

    def _judge(self) -> StepResult:
        """One step, in the judging thread; then its changes go to ``on_changes`` (the live
        events), from the same thread, before the next step can change the store again."""
        r = judge_step(self.store, self.terms, self._owed)
        if self.on_changes is not None and (r.observations or r.written or r.removed
                                            or r.new_violations):
            try:
                self.on_changes(r)
            except Exception:  # the events are a view: judging goes on without them
                log.exception("live: the step's changes could not be published")
        return r

    def _keep(self, since: float | None) -> None:
        """What a step started on is not all judged: its oldest commit still waits."""
        if since is not None:
            now = self._pending_since
            self._pending_since = since if now is None else min(since, now)


__all__ = ["LiveJudge", "Leadership", "StepResult", "judge_step"]
