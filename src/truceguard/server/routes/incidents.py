"""``/api/v1/incidents``: incidents as the viewer sees them, computed from the observations
releasable to them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from truceguard.errors import NotFoundError
from truceguard.io.records import record_dict
from truceguard.query import check_sources
from truceguard.server.routes.deps import Ctx, F, Id, Me, page
from truceguard.server.schemas import IncidentAnswer, IncidentPage
from truceguard.store import ObservationFilter

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@router.get("", response_model=IncidentPage)
def list_incidents(ctx: Ctx, u: Me, f: F) -> dict[str, Any]:
    """Incidents as you see them: computed from the observations releasable to you."""
    flt = f.paged()
    check_sources(ctx.store, flt, u.viewer, style="api")
    return page(ctx.ids, ctx.store.incidents(flt, u.viewer, limit=f.limit), "incident_id",
                f.limit)


@router.get("/{incident_id}", response_model=IncidentAnswer)
def get_incident(incident_id: Id, ctx: Ctx, u: Me) -> dict[str, Any]:
    """One incident as you see it, with the observations behind it that you may see."""
    inc = ctx.store.get_incident(incident_id, u.viewer)
    if inc is None:
        raise NotFoundError(f"no incident {incident_id}", code="not_found.incident")
    obs = ctx.store.observations(ObservationFilter(incident_id=incident_id), u.viewer)
    return ctx.ids.shown({"marking": inc.releasability, "item": record_dict(inc),
                          "observations": [record_dict(o) for o in obs]})


__all__ = ["router"]
