"""``/api/v1/plans``: start a plan run and poll it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from truceguard.errors import StoreError
from truceguard.server.ids import not_found
from truceguard.server.routes.deps import Analyst, Ctx, RunId
from truceguard.server.schemas import PlanRequestBody, PlanRun, PlanStarted

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])


@router.post("", status_code=202, response_model=PlanStarted)
def start_plan(body: PlanRequestBody, ctx: Ctx, u: Analyst) -> dict[str, Any]:
    """Start a plan run of a shipped scenario; poll it."""
    if ctx.plans is None:
        raise StoreError("this server runs no plans", code="plans.disabled")
    request = body.model_dump(exclude_unset=True)
    run_id = ctx.plans.start(u.name, request)
    ctx.store.audit(u.name, "plan.start", {"run_id": run_id, "request": request})
    return ctx.ids.shown({"run_id": run_id, "state": "queued"})


@router.get("/{run_id}", response_model=PlanRun)
def poll_plan(ref: RunId, ctx: Ctx, u: Analyst) -> dict[str, Any]:
    """A plan run's state; its results once done."""
    run = ctx.store.plan_run(ref.n)
    # Its starter reads it, and whoever may see its inputs' marking; to anyone else it
    # does not exist (a run with no recorded marking is its starter's only).
    if run is None or not (run.who == u.name or (
            run.marking and u.viewer.may_see(run.marking))):
        raise not_found("plan", ref.token)
    return ctx.ids.shown({"run_id": run.run_id, "marking": run.marking or u.marking,
                          "state": run.state, "who": run.who,
                          "request": run.request, "error": run.error,
                          "results": run.result if run.state == "done" else None})


__all__ = ["router"]
