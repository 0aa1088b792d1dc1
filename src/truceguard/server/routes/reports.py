"""``/api/v1/reports``: the period report of `truceguard report`, for what is releasable to
the analyst asking."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from truceguard.errors import InputError
from truceguard.judge.terms import load_terms
from truceguard.query import finite, parse_date_option
from truceguard.server.routes.catalog import shipped_terms_name
from truceguard.server.routes.deps import Analyst, Ctx
from truceguard.server.schemas import PeriodReportDocument

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/period", response_model=PeriodReportDocument, responses={200: {
    "content": {"text/html": {"schema": {"type": "string"}}},
    "description": "the report as JSON, or as an HTML page with format=html"}})
def period_report(ctx: Ctx, u: Analyst, terms: str,
                  start: Annotated[str, Query(alias="from")],
                  end: Annotated[str, Query(alias="to")], period: str = "month",
                  format: Literal["json", "html"] = "json",
                  min_p: float | None = None) -> Any:
    """The period report of `truceguard report` for what is releasable to you."""
    from truceguard.report.period import PERIODS, build_period_report, render_html

    if period not in PERIODS:
        raise InputError(f"period {period!r} is not one of {', '.join(PERIODS)}",
                         code="input.unknown_value")
    if min_p is not None:
        finite(min_p, "min_p", low=0.0, high=1.0)
    t = load_terms(shipped_terms_name(terms))
    report = ctx.ids.shown(build_period_report(
        ctx.store, t, period, parse_date_option(start, "from"),
        parse_date_option(end, "to", end=True), u.viewer, trail=format == "html", min_p=min_p))
    if format == "html":
        return HTMLResponse(render_html(report, t))
    return json.loads(json.dumps(asdict(report), default=str))


__all__ = ["router"]
