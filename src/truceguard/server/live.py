"""Live judging: new observations are fused and judged while they arrive.

``LiveJudge.poke()`` (called after every commit of new observations: a CoT batch, an API
import) wakes the loop; it waits ``batch_s`` (200 ms) for more to arrive, then runs one step in
a worker thread: incremental fusion (only the new reports and the incidents within reach),
adjudication of the incidents that fusion wrote or removed against each active terms, and the
alerts those violations are owed (``alerts.owe``); then it wakes the dispatcher. A step that
fails is logged and retried on the next poke: nothing is lost, since the store is the state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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


LIGHT_CELL = 50  # new reports in a half-degree cell up to which its work is light
HEAVY_PER_STEP = 5000  # reports of busy cells fused in one step (the rest in the next steps)


def judge_step(store: Store, terms: Sequence[Terms],
               on_owed: Callable[[int], None] | None = None) -> StepResult:
    """One live step over the store (see the module docstring).

    Light work first: the new reports of sparse cells (a breach somewhere quiet) are fused,
    judged and alerted before those of busy cells (a stream of tracks), so a breach is not
    kept waiting behind a busy area's bookkeeping. ``on_owed(n)`` is called after each part
    that owed alerts (the dispatcher can deliver them while the next part is judged). Busy
    cells give at most ``HEAVY_PER_STEP`` reports (the oldest) a step, so that steps stay
    short and the light work of the next step does not wait long; ``backlog`` says how many
    are left for the next steps."""
    started = time.perf_counter()
    out = StepResult()
    params = stored_params(store)
    pending = store.fusion_arrays(unfused=True)
    parts: list[dict[str, np.ndarray] | None] = [None]
    if pending["obs_id"].size and store.last_fusion_params() is not None:
        cells = cell_groups(pending["lat"], pending["lon"])
        light = [c for c in cells if c.size <= LIGHT_CELL]
        heavy = [c for c in cells if c.size > LIGHT_CELL]
        groups = [np.concatenate(light)] if light else []
        if heavy:
            busy = np.sort(np.concatenate(heavy))  # by obs_id: the oldest first
            groups.append(busy[:HEAVY_PER_STEP])
            out.backlog = int(busy.size - min(busy.size, HEAVY_PER_STEP))
        parts = [subset(pending, g) for g in groups]
    for part in parts:
        f = fuse_store(store, params, pending=part)
        out.new_observations += f.new_observations
        out.incidents_written += len(f.written)
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


class LiveJudge:
    """The live loop; ``poke`` is safe to call from any thread."""

    def __init__(self, store: Store, terms: Sequence[Terms], *, batch_s: float = 0.2,
                 on_alerts: Callable[[], None] | None = None) -> None:
        self.store = store
        self.terms = list(terms)
        self.batch_s = batch_s
        self.on_alerts = on_alerts
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop = False
        self.steps = 0

    def poke(self, _n: int = 0) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop(self) -> None:
        self._stop = True
        self.poke()

    def _owed(self, _n: int) -> None:
        """From the judging thread: wake the dispatcher on the loop's thread."""
        if self.on_alerts is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self.on_alerts)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake.set()  # judge whatever arrived while the server was down
        backlog = False
        while not self._stop:
            await self._wake.wait()
            if self._stop:
                break
            if not backlog:
                await asyncio.sleep(self.batch_s)  # let a burst gather into one step
            self._wake.clear()
            try:
                r = await asyncio.to_thread(judge_step, self.store, self.terms, self._owed)
            except Exception:  # a failed step is retried at the next poke; the log says why
                log.exception("live judging step failed")
                continue
            self.steps += 1
            backlog = r.backlog > 0
            if backlog:
                self._wake.set()  # go on at once with what is left
            if r.new_violations or r.seconds > 0.5:
                log.info("live: %d new observations, %d new violations, %d alerts owed "
                         "(%.0f ms)", r.new_observations, len(r.new_violations), r.owed,
                         r.seconds * 1000)



__all__ = ["LiveJudge", "StepResult", "judge_step"]
