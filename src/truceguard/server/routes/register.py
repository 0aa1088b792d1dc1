"""``/api/v1/register``: weapons seen where the terms forbid them, and storage sites."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter

from truceguard.judge.terms import load_terms
from truceguard.query import check_sources, finite
from truceguard.server.routes.catalog import shipped_terms_name
from truceguard.server.routes.deps import Ctx, F, Me, next_cursor
from truceguard.server.schemas import RegisterPage

router = APIRouter(prefix="/api/v1/register", tags=["register"])


@router.get("", response_model=RegisterPage)
def weapons_register(ctx: Ctx, u: Me, f: F, terms: str, storage: bool = False,
                     min_p: float | None = None) -> dict[str, Any]:
    """Weapons seen where ``terms`` forbid them, one item per system (re-sightings
    linked), built from the sightings releasable to you and paged by first sighting; with
    ``storage=true`` each storage site's last check, all on one page. The filters choose
    the sightings."""
    from truceguard.judge.register import (
        RegisterParams,
        build_register,
        register_marking,
        storage_sites,
    )

    finite(min_p, "min_p", low=0.0, high=1.0)
    t = load_terms(shipped_terms_name(terms))
    check_sources(ctx.store, f.flt, u.viewer, style="api")
    # the monitors' sightings only, chosen by the store (the cursor pages systems, not these)
    seen = ctx.store.observations(replace(f.flt, report_kinds=("sighting",)), u.viewer)
    if storage:
        sites = storage_sites(t, seen)
        return ctx.ids.shown({"marking": register_marking(sites),
                              "items": [s.as_dict() for s in sites], "next_cursor": None})
    after, limit = f.after or (-(2**62), -1), f.limit
    rows = [e for e in build_register(t, seen, RegisterParams(min_p=min_p))
            if (e.first_seen, e.first_obs_id) > after][:limit]
    return ctx.ids.shown({"marking": register_marking(rows),
                          "items": [e.as_dict() for e in rows],
                          "next_cursor": next_cursor(ctx.ids, rows, "first_obs_id", limit)})


__all__ = ["router"]
