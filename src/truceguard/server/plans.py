"""Plan runs started through the API: queued, run one at a time in a worker thread, their
state and results kept in the store (``plan_runs``), so a client polls for them."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from truceguard.errors import InputError, TruceguardError, error_envelope
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

    def start(self, who: str, body: dict[str, Any]) -> int:
        request = check_request(body)
        # A request names a shipped scenario only (``check_request``): PUBLIC input.
        run_id = self.store.add_plan_run(who, request, marking="PUBLIC")
        self.pool.submit(self._run, run_id, request)
        return run_id

    def _run(self, run_id: int, request: dict[str, Any]) -> None:
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

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["PlanRunner", "check_request", "run_plan"]
