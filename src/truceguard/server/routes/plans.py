"""``/api/v1/plans``: start a plan run and poll it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from truceguard.errors import StoreError
from truceguard.server.ids import not_found
from truceguard.server.routes.deps import Analyst, Ctx, RunId
from truceguard.server.schemas import PlanRequestBody, PlanRun, PlanRunList, PlanStarted

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])

LISTED_RUNS = 50  # runs the list answers
SCANNED_RUNS = 1000  # the latest runs the list looks among for those


def may_read(run: Any, u: Any) -> bool:
    """Whether ``u`` may read ``run``: its starter, or whoever may see the marking of its
    inputs (a run with no recorded marking is its starter's only)."""
    return bool(run.who == u.name or (run.marking and u.viewer.may_see(run.marking)))


@router.post("", status_code=202, response_model=PlanStarted)
def start_plan(body: PlanRequestBody, ctx: Ctx, u: Analyst) -> dict[str, Any]:
    """Start a plan run of a shipped scenario; poll it."""
    if ctx.plans is None:
        raise StoreError("this server runs no plans", code="plans.disabled")
    request = body.model_dump(exclude_unset=True)
    run_id = ctx.plans.start(u.name, request)
    ctx.store.audit(u.name, "plan.start", {"run_id": run_id, "request": request})
    return ctx.ids.shown({"run_id": run_id, "state": "queued"})


@router.get("", response_model=PlanRunList)
def list_plans(ctx: Ctx, u: Analyst) -> dict[str, Any]:
    """The latest plan runs you may read, newest first: up to 50 among the last 1,000 runs
    started on this server (the others' are left out as if they did not exist)."""
    from truceguard.model import iso

    runs = [r for r in ctx.store.recent_plan_runs(SCANNED_RUNS) if may_read(r, u)]
    return ctx.ids.shown({"items": [
        {"run_id": r.run_id, "marking": r.marking or u.marking, "at": iso(r.at), "who": r.who,
         "state": r.state, "request": r.request} for r in runs[:LISTED_RUNS]]})


@router.get("/{run_id}", response_model=PlanRun)
def poll_plan(ref: RunId, ctx: Ctx, u: Analyst) -> dict[str, Any]:
    """A plan run's state; its results once done."""
    run = ctx.store.plan_run(ref.n)
    # Its starter reads it, and whoever may see its inputs' marking; to anyone else it
    # does not exist (a run with no recorded marking is its starter's only).
    if run is None or not may_read(run, u):
        raise not_found("plan", ref.token)
    return ctx.ids.shown({"run_id": run.run_id, "marking": run.marking or u.marking,
                          "state": run.state, "who": run.who,
                          "request": run.request, "error": run.error,
                          "results": run.result if run.state == "done" else None})


__all__ = ["router"]
