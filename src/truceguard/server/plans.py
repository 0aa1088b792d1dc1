"""Plan runs started through the API: queued, run one at a time in a worker thread, their
state and results kept in the store (``plan_runs``), so a client polls for them.

``PlanService`` is the plan runner as a service of ``truceguard serve`` (``plans``): at a stop
the runs still queued are marked failed (the server stopped before it ran them) and, with
``drain``, the run under way is waited for."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from truceguard.errors import InputError, StoreError, TruceguardError, error_envelope
from truceguard.server.service import ServiceHealth, State
from truceguard.store import Store

log = logging.getLogger("truceguard.server")

MAX_SAMPLES = 200_000
KEYS = {"scenario", "variants", "samples", "seed", "sensitivity"}


def check_request(body: dict[str, Any]) -> dict[str, Any]:
    """The plan request, checked: a shipped scenario, its variants, samples and seed."""
    from truceguard.plan import load_scenario

    unknown = set(body) - KEYS
    if unknown:
        raise InputError(f"unknown plan parameter(s): {', '.join(sorted(unknown))}",
                         hint=f"give {', '.join(sorted(KEYS))}", code="input.unknown_key")
    scenario = body.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        raise InputError("a plan request needs a scenario name", hint='{"scenario": "..."}',
                         code="input.missing")
    from truceguard.plan import shipped_scenarios

    if scenario not in shipped_scenarios():  # never a path on the server
        from truceguard.errors import NotFoundError, unknown_value

        raise unknown_value("scenario", scenario, shipped_scenarios(),
                            code="not_found.scenario", cls=NotFoundError)
    scen = load_scenario(scenario)
    variants = body.get("variants") or []
    if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
        raise InputError("variants is a list of variant names", code="input.bad_type")
    for v in variants:
        if v not in scen.variants:
            from truceguard.errors import unknown_value

            raise unknown_value("variant", v, scen.variants)
    samples = body.get("samples", 5000)
    seed = body.get("seed", 2025)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 100 <= samples <= (
            MAX_SAMPLES):
        raise InputError(f"samples {samples!r} is out of range",
                         hint=f"an integer from 100 to {MAX_SAMPLES:,}",
                         code="input.out_of_range")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise InputError(f"seed {seed!r} is out of range", hint="an integer from 0 to 2^32-1",
                         code="input.out_of_range")
    sens = body.get("sensitivity", False)
    if not isinstance(sens, bool):
        raise InputError(f"sensitivity {sens!r} is true or false", code="input.bad_type")
    return {"scenario": scenario, "variants": variants, "samples": samples, "seed": seed,
            "sensitivity": sens}


def run_plan(request: dict[str, Any]) -> dict[str, Any]:
    """The results document of `truceguard plan` for a checked request."""
    from truceguard.plan.sweep import run_plan as plan
    from truceguard.report.planning import results_document

    run = plan(request["scenario"], request["variants"] or None, request["samples"],
               request["seed"], with_sensitivity=request["sensitivity"],
               sensitivity_samples=min(request["samples"], 2000))
    doc = results_document(run.scenario, run.results, run.sensitivity, run.extra)
    return json.loads(json.dumps(doc, default=float))


class PlanRunner:
    """Runs plan requests one at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="truceguard-plan")
        self.counts = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        self._lock = threading.Lock()
        self._waiting: dict[int, Future[None]] = {}  # run id -> its future, until it runs
        self.closed = False

    def start(self, who: str, body: dict[str, Any]) -> int:
        """Queue a plan request (``body``, checked); its run id."""
        if self.closed:
            raise StoreError("the server is stopping and runs no more plans",
                             hint="try again once it is back", code="plans.stopping")
        request = check_request(body)
        # A request names a shipped scenario only (``check_request``): PUBLIC input.
        run_id = self.store.add_plan_run(who, request, marking="PUBLIC")
        with self._lock:
            self.counts["queued"] += 1
            self._waiting[run_id] = self.pool.submit(self._run, run_id, request)
        return run_id

    def _count(self, was: str, now: str) -> None:
        with self._lock:
            self.counts[was] -= 1
            self.counts[now] += 1

    def _run(self, run_id: int, request: dict[str, Any]) -> None:
        with self._lock:
            self._waiting.pop(run_id, None)
        self._count("queued", "running")
        try:
            self._run_one(run_id, request)
        finally:
            state = self.store.plan_run(run_id)
            self._count("running", "done" if state and state.state == "done" else "failed")

    def _run_one(self, run_id: int, request: dict[str, Any]) -> None:
        self.store.set_plan_run(run_id, "running")
        try:
            result = run_plan(request)
        except TruceguardError as exc:
            self.store.set_plan_run(run_id, "failed", error=json.dumps(error_envelope(exc)))
            return
        except Exception as exc:  # a bug: the client learns it failed, the log says why
            log.exception("plan run %d failed", run_id)
            self.store.set_plan_run(run_id, "failed", error=json.dumps(error_envelope(exc)))
            return
        self.store.set_plan_run(run_id, "done", result)

    def close(self, wait: bool = False) -> None:
        """Run no more: the queued runs are marked failed; ``wait`` for the one under way."""
        self.closed = True
        with self._lock:
            waiting, self._waiting = dict(self._waiting), {}
        self.pool.shutdown(wait=False, cancel_futures=True)
        stopped = StoreError("the server stopped before this plan ran",
                             hint="start the plan again", code="plans.stopped")
        for run_id, fut in waiting.items():
            if fut.cancelled():
                self._count("queued", "failed")
                self.store.set_plan_run(run_id, "failed",
                                        error=json.dumps(error_envelope(stopped)))
        if wait:
            self.pool.shutdown(wait=True)


class PlanService:
    """The plan runner as a service (see the module docstring)."""

    name = "plans"

    def __init__(self, runner: PlanRunner) -> None:
        self.runner = runner
        self.state: State = "stopped"

    async def start(self) -> None:
        self.state = "running"

    async def stop(self, drain: bool = True) -> None:
        self.state = "draining" if drain else "stopped"
        await asyncio.to_thread(self.runner.close, drain)
        self.state = "stopped"

    def health(self) -> ServiceHealth:
        c = dict(self.runner.counts)
        return ServiceHealth(self.name, self.state,
                             f"{c['running']} running, {c['queued']} queued", extra=c)


__all__ = ["PlanRunner", "PlanService", "check_request", "run_plan"]
