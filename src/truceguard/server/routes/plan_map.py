"""Two layers of the dashboard's map as GeoJSON (lon/lat): a plan run's sites, assets and line
coverage (``GET /api/v1/plans/{run_id}/map``) and the monitors' reports of restricted freedom
of movement (``GET /api/v1/map/restrictions``).

- **A plan run's map** reshapes one variant of a finished run's results document (positions
  recorded by :func:`truceguard.plan.run.run_variant`: ``layers.air_defence.sites``,
  ``asset_positions``, ``layers.monitoring.line_segments``); nothing is recomputed. It is read
  under the rule of ``GET /api/v1/plans/{run_id}`` (the run's starter, or whoever may see its
  recorded marking; anyone else gets the not-found answer a missing or forged id gets), and is
  marked as that route states it. A run not done (queued, running or failed) is answered 409
  (``plans.not_done``), as is a run whose results were recorded before they held positions
  (``plans.no_positions``).
- **Restrictions** are the observations of report kind ``restriction`` releasable to the user,
  chosen by the list filters (``deps.F``: ``since``, ``until``, ``bbox``, ``near``,
  ``source`` ...; as ``GET /api/v1/map`` takes them, the whole view at once: no cursor), read
  by the store with the user's ``Viewer``, oldest first; up to :data:`MAX_RESTRICTIONS`
  (over that the request is refused, 413, with a hint to narrow it, never cut short). The
  collection is marked with the narrowest marking of its features; each feature keeps its own.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from truceguard.errors import InputError, NotFoundError, TooLargeError, unknown_value
from truceguard.io.records import banner
from truceguard.model import iso
from truceguard.plan.run import HEADLINE_METHOD, INTERVAL_METHODS, METRICS
from truceguard.query import check_sources
from truceguard.server.routes.deps import Analyst, Ctx, F, Me, RunId
from truceguard.server.routes.plans import poll_plan
from truceguard.server.schemas import ErrorEnvelope
from truceguard.server.schemas.records import ObsToken, RunToken

router = APIRouter()

MAX_RESTRICTIONS = 20_000  # features one restrictions answer may hold
MARKING = "the most restrictive marking of what this answer holds"


class PlanNotDoneError(InputError):
    """A plan run that has no results to draw (yet): 409."""

    code = "plans.not_done"
    http_status = 409


# -- GeoJSON ------------------------------------------------------------------------------------
class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=2, description="[lon, lat]")


class LineGeometry(BaseModel):
    type: Literal["LineString"]
    coordinates: list[list[float]] = Field(min_length=2, description="[lon, lat] points")


# -- a plan run's map ----------------------------------------------------------------------------
class RaidCover(BaseModel):
    """One fire-unit group of the raid model that covers a target set the site lies in."""

    layer: str = Field(description="ukraine, coalition or us")
    group: str
    system: str
    share: dict[str, float] = Field(description="per threat class (drone, decoy, cruise, "
                                    "ballistic), the share of the site's target set the "
                                    "group covers, 0..1")


class SiteProperties(BaseModel):
    layer: Literal["site"]
    name: str
    kind: str = Field(description="power plant, nuclear plant or city")
    status: str = Field(description="operating, in service or damaged")
    covered: bool = Field(description="a pledged battery stands within engagement range")
    covered_by: list[str] = Field(description="the pledges of those batteries")
    covered_by_nations: list[str]
    target_sets: list[str] = Field(description="the raid model's target sets the site lies in")
    raid_cover: list[RaidCover]


class AssetProperties(BaseModel):
    layer: Literal["asset"]
    name: str = Field(description="the pledge")
    nation: str
    kind: str = Field(description="sensor, air_defence, fighter or ground_force")
    capability: str
    pattern: str = Field(description="a sensor's: mast, orbit or satellite; '' otherwise")
    place: str = Field(description="the base, hub or point it stands at")
    units: int = Field(description="rows of the model here: sensor units or batteries; one "
                       "base of fighters or one hub of troops")
    jets: float
    troops: float
    range_km: float
    range_kind: str = Field(description="detection (sensor), engagement (air defence) or "
                            "reach (fighters, ground force)")
    radar_range_km: float | None = Field(description="a battery's radar; null otherwise")
    requires: list[str] = Field(description="the scenario's conditions the pledge depends on")
    us_dependent: bool = Field(description="a US pledge, or one that requires US support")


class CoverageProperties(BaseModel):
    layer: Literal["coverage"]
    metric: Literal["line_isr_cover_share"]
    watched_share: float = Field(ge=0.0, le=1.0, description="see definitions.watched_share")
    length_km: float
    by_type: dict[str, float] = Field(description="per threat type, see definitions.by_type")


class SiteFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: SiteProperties


class AssetFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: AssetProperties


class CoverageFeature(BaseModel):
    type: Literal["Feature"]
    geometry: LineGeometry | PointGeometry
    properties: CoverageProperties


class Headline(BaseModel):
    """A headline of the variant with its 95% interval (null ends: none, see ``method``)."""

    value: float | None
    low: float | None
    high: float | None
    method: str = Field(description="how the interval is computed: see interval_methods")
    label: str = Field(description="what the figure is, in a few words")
    definition: str = Field(description="what the figure is, in one sentence")


class PlanMap(BaseModel):
    """One variant of a finished plan run for the map: protected sites, the assets in force
    and the line's coverage, as a GeoJSON FeatureCollection (lon/lat)."""

    type: Literal["FeatureCollection"]
    marking: str = Field(description="the run's, as GET /api/v1/plans/{run_id} states it")
    run_id: RunToken
    scenario: str
    title: str | None
    variant: str
    variants: list[str] = Field(description="every variant of the run (ask with variant=)")
    headlines: dict[str, Headline]
    interval_methods: dict[str, str]
    definitions: dict[str, str] = Field(description="one sentence per figure of the features")
    features: list[SiteFeature | AssetFeature | CoverageFeature]


def definitions() -> dict[str, str]:
    """One sentence for each figure a plan map's features carry (``METRICS`` where it fits)."""
    return {
        "watched_share": METRICS["line_isr_cover_share"][1].replace(
            "averaged along the line", "averaged along this stretch of the line (about "
            "20 km)") + " The stretches' length-weighted mean is the headline "
                        "line_isr_cover_share.",
        "by_type": "Per threat type, the probability, averaged over the stretch and the time "
                   "of day, that the monitoring sensors report a violation of that type within "
                   "the stated detection time.",
        "covered": "True when a pledged air-defence battery stands within its engagement range "
                   "of the site (geometry only); the share of sites covered is "
                   "sites_in_range_share.",
        "raid_cover": "Per fire-unit group of the raid model, the share of the site's target "
                      "set that the group covers for each threat class (point cover from "
                      "ranges and placement; no sampling). The raid model draws on it for "
                      "raid_largest_defeated_share: "
                      + METRICS["raid_largest_defeated_share"][1],
        "range_km": "Detection range for a sensor, engagement range for an air-defence "
                    "battery, reach for fighters and ground forces, in kilometres.",
        "us_dependent": "The pledge is the United States' or requires a scenario condition on "
                        "US support (us_backstop, us_isr).",
    }


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _variant(results: dict[str, Any], name: str | None) -> tuple[str, dict[str, Any]]:
    variants: dict[str, Any] = results.get("variants") or {}
    if name is None:
        if not variants:
            raise NotFoundError("the run's results hold no variant", code="not_found.variant",
                                hint="start the plan again")
        name = next(iter(variants))
    if name not in variants:
        raise unknown_value("variant", name, variants, code="not_found.variant",
                            cls=NotFoundError)
    return name, variants[name]


def _site_feature(s: dict[str, Any], nations: dict[str, str]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": _point(s["lon"], s["lat"]), "properties": {
        "layer": "site", "name": s["name"], "kind": s["kind"], "status": s["status"],
        "covered": s["covered"], "covered_by": s["covered_by"],
        "covered_by_nations": sorted({nations[p] for p in s["covered_by"] if p in nations}),
        "target_sets": s["target_sets"], "raid_cover": s["raid_cover"]}}


def _asset_feature(a: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": _point(a["lon"], a["lat"]), "properties": {
        "layer": "asset", "name": a["pledge"], "nation": a["nation"], "kind": a["role"],
        **{k: a[k] for k in ("capability", "pattern", "place", "units", "jets", "troops",
                             "range_km", "range_kind", "radar_range_km", "requires",
                             "us_dependent")}}}


def _coverage_feature(seg: dict[str, Any]) -> dict[str, Any]:
    coords = seg["coordinates"]
    geometry = ({"type": "LineString", "coordinates": coords} if len(coords) > 1
                else _point(*coords[0]))
    return {"type": "Feature", "geometry": geometry, "properties": {
        "layer": "coverage", "metric": "line_isr_cover_share",
        "watched_share": seg["watched_share"], "length_km": seg["length_km"],
        "by_type": seg["by_type"]}}


@router.get("/api/v1/plans/{run_id}/map", response_model=PlanMap, tags=["plans"], responses={
    409: {"model": ErrorEnvelope, "description": "the run is not done (queued, running or "
          "failed), or its results hold no positions"}})
def plan_map(ref: RunId, ctx: Ctx, u: Analyst, variant: Annotated[str | None, Query(
        description="the variant to draw; default: the run's first")] = None,
             ) -> dict[str, Any]:
    """A finished plan run's protected sites, assets and line coverage for the map, as
    GeoJSON: one variant at a time. Read by whoever may read the run."""
    run = poll_plan(ref, ctx, u)  # its access rule and marking, exactly
    state = run["state"]
    if state != "done":
        hint = (f"poll GET /api/v1/plans/{ref.token} until state is done" if state != "failed"
                else f"it will not be done: read its error at GET /api/v1/plans/{ref.token} "
                     "and start the plan again")
        raise PlanNotDoneError(f"plan run {ref.token} is {state}, not done", hint=hint)
    results: dict[str, Any] = run["results"] or {}
    name, v = _variant(results, variant)
    ad = v.get("layers", {}).get("air_defence", {})
    segments = v.get("layers", {}).get("monitoring", {}).get("line_segments")
    if "sites" not in ad or "asset_positions" not in v or segments is None:
        raise PlanNotDoneError(f"plan run {ref.token} was run before plan results held "
                               "positions", hint="start the plan again to draw it",
                               code="plans.no_positions")
    nations = {a["pledge"]: a["nation"] for a in v["asset_positions"]}
    features = ([_site_feature(s, nations) for s in ad["sites"]]
                + [_asset_feature(a) for a in v["asset_positions"]]
                + [_coverage_feature(s) for s in segments])
    return {"type": "FeatureCollection", "marking": run["marking"], "run_id": run["run_id"],
            "scenario": results.get("scenario", ""), "title": results.get("title"),
            "variant": name, "variants": list(results["variants"]),
            "headlines": {k: {**h, "label": METRICS[k][0] if k in METRICS else k,
                              "definition": METRICS[k][1] if k in METRICS else ""}
                          for k, h in v.get("intervals", {}).items()},
            "interval_methods": {k: INTERVAL_METHODS[m] for k, m in HEADLINE_METHOD.items()},
            "definitions": definitions(), "features": features}


# -- restrictions ------------------------------------------------------------------------------
class RestrictionProperties(BaseModel):
    layer: Literal["restriction"]
    obs_id: ObsToken
    time: str = Field(description="observed (earliest), ISO 8601 UTC")
    time_end: str = Field(description="latest possible time, ISO 8601 UTC")
    restricted_by: str | None = Field(description="the side that restricted the monitors")
    restriction_type: str | None = Field(description="checkpoint, mines, threat, "
                                         "uav_jamming or other")
    delay_min: int | None = Field(description="the delay it caused, minutes")
    source: str = Field(description="the feed or reporter")
    origin: str
    observer_lat: float | None
    observer_lon: float | None
    uncertainty_m: float | None
    text: str
    marking: str = Field(description="the observation's own marking")


class RestrictionFeature(BaseModel):
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: RestrictionProperties


class RestrictionMap(BaseModel):
    """The monitors' reports of restricted freedom of movement for the map, as a GeoJSON
    FeatureCollection of points (lon/lat), oldest first."""

    type: Literal["FeatureCollection"]
    marking: str = Field(description=MARKING)
    count: int
    features: list[RestrictionFeature]


def restriction_features(ctx: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """The features of observations ``rows`` (each a restriction report), ids as tokens."""
    out = []
    for o in rows:
        r = o.report
        out.append({"type": "Feature", "geometry": _point(o.lon, o.lat), "properties": {
            "layer": "restriction", "obs_id": ctx.ids.token("observation", int(o.obs_id)),
            "time": iso(o.t_start), "time_end": iso(o.t_end),
            "restricted_by": r.restricted_by if r else None,
            "restriction_type": r.restriction_type if r else None,
            "delay_min": r.delay_min if r else None, "source": o.source, "origin": o.origin,
            "observer_lat": r.observer_lat if r else None,
            "observer_lon": r.observer_lon if r else None,
            "uncertainty_m": o.uncertainty_m, "text": o.text, "marking": o.releasability}})
    return out


@router.get("/api/v1/map/restrictions", response_model=RestrictionMap, tags=["dashboard"],
            responses={413: {"model": ErrorEnvelope, "description": "over 20,000 "
                             "restrictions match: narrow the filters"}})
def map_restrictions(ctx: Ctx, u: Me, f: F) -> Response:
    """The restrictions of the monitors' freedom of movement releasable to you that match the
    filters, as GeoJSON points for the map, all at once (``limit`` is not used; no cursor)."""
    if f.after is not None:
        raise InputError("cursor is not taken by GET /api/v1/map/restrictions: it answers "
                         "every restriction of the view at once", hint="leave cursor out",
                         code="input.unknown_parameter")
    flt = replace(f.flt, report_kinds=("restriction",))
    check_sources(ctx.store, flt, u.viewer, style="api")
    rows: list[Any] = list(ctx.store.observations(flt, u.viewer,
                                                  limit=MAX_RESTRICTIONS + 1))
    if len(rows) > MAX_RESTRICTIONS:
        raise TooLargeError(f"over {MAX_RESTRICTIONS:,} restrictions match, more than the map "
                            "takes at once", code="map.too_large",
                            hint="narrow the filters: a shorter period (since, until), a bbox "
                                 "or a source")
    doc = {"type": "FeatureCollection", "marking": banner(rows), "count": len(rows),
           "features": restriction_features(ctx, rows)}
    return Response(json.dumps(doc, separators=(",", ":")), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


__all__ = ["MAX_RESTRICTIONS", "PlanNotDoneError", "router"]
