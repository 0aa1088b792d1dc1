"""``/api/v1/violations``: violations as the viewer sees them, one with its status trail, and
the decisions analysts make on them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from truceguard.errors import unknown_value
from truceguard.io.records import record_dict
from truceguard.model import REVIEW_DECISIONS, VIOLATION_STATUSES, StatusChange
from truceguard.pipeline import listed_statuses, set_violation_status
from truceguard.query import check_sources, default_min_p, finite, resolve_terms_and_clauses
from truceguard.server.ids import not_found
from truceguard.server.routes.deps import (
    Analyst,
    Ctx,
    F,
    Me,
    ServerContext,
    ViolationId,
    page,
)
from truceguard.server.schemas import (
    StatusChangeBody,
    StatusChanged,
    ViolationAnswer,
    ViolationPage,
)
from truceguard.store import ObservationFilter, ViolationFilter

router = APIRouter(prefix="/api/v1/violations", tags=["violations"])


@router.get("", response_model=ViolationPage)
def list_violations(ctx: Ctx, u: Me, f: F, terms: str | None = None,
                    clause: Annotated[list[str] | None, Query()] = None,
                    status: Annotated[list[str] | None, Query()] = None,
                    published_only: bool = False,
                    min_p: float | None = None) -> dict[str, Any]:
    """Violations as you see them, with their location probability and uncertainty;
    ``published_only=true`` keeps those a second analyst confirmed."""
    flt = f.paged()
    check_sources(ctx.store, flt, u.viewer, style="api")
    vf = violation_filter(ctx, flt, terms, clause, status, published_only, min_p)
    return page(ctx.ids, ctx.store.violations(vf, u.viewer, limit=f.limit), "violation_id",
                f.limit)


def violation_filter(ctx: ServerContext, flt: ObservationFilter, terms: str | None,
                     clause: list[str] | None, status: list[str] | None,
                     published_only: bool, min_p: float | None) -> ViolationFilter:
    """The filter of ``/api/v1/violations`` (and of its export) from their parameters."""
    min_p = default_min_p() if min_p is None else min_p
    finite(min_p, "min_p", low=0.0, high=1.0)
    for s in status or ():
        if s not in VIOLATION_STATUSES:
            raise unknown_value("status", s, VIOLATION_STATUSES)
    statuses = listed_statuses(status or (), published_only, style="api")
    terms, clauses = resolve_terms_and_clauses(ctx.store, terms, tuple(clause or ()))
    return ViolationFilter(records=flt, terms=terms, clauses=clauses, statuses=statuses,
                           min_p_location=min_p)


def trail_items(trail: list[StatusChange]) -> list[dict[str, Any]]:
    """A status trail as the API shows it: each decision's ``seq`` is its place in this
    violation's trail, from 1 (the store's sequence runs across every violation, and would
    count the decisions on those the viewer may not see)."""
    return [{**record_dict(s), "seq": i} for i, s in enumerate(trail, 1)]


@router.get("/{violation_id}", response_model=ViolationAnswer)
def get_violation(violation: ViolationId, ctx: Ctx, u: Me) -> dict[str, Any]:
    """One violation as you see it, with its status trail."""
    v = ctx.store.get_violation(violation.n, u.viewer)
    if v is None:
        raise not_found("violation", violation.token)
    return ctx.ids.shown({"marking": v.releasability, "item": record_dict(v),
                          "trail": trail_items(ctx.store.status_trail(violation.n))})


@router.post("/{violation_id}/status", response_model=StatusChanged)
def change_status(violation: ViolationId, change: StatusChangeBody, ctx: Ctx, u: Analyst
                  ) -> dict[str, Any]:
    """Decide on a violation as you, the authenticated analyst: under_review, verified,
    published (by a second analyst, not the one who verified it), returned (to
    under_review) or discounted. The trail and the audit log keep every decision, with who
    made it."""
    if ctx.store.get_violation(violation.n, u.viewer) is None:
        raise not_found("violation", violation.token)
    # ``why`` is bounded by set_violation_status, for the CLI too
    with ctx.ids.speaking_of(violation):
        trail = set_violation_status(ctx.store, violation.n, change.status, u.name,
                                     change.why)
    return ctx.ids.shown({"violation_id": violation.n, "status": trail[-1].status,
                          "statuses": list(REVIEW_DECISIONS), "trail": trail_items(trail)})


__all__ = ["router"]
