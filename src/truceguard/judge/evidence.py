"""What a view of an incident shows about where a weapon stood: a sighting, or an estimated
firing position built from its monitors' reports (``judge.firing``).

An incident view is judged on the evidence its own reports carry (``judge.adjudicate``):

- a **sighting** (a report of kind ``sighting``, or an observation whose category is one of
  ``adjudicate.SIGHTING_CATEGORIES``) places the weapon at the report's position;
- **fire with a bearing**: each fire report that gives the bearing from its observer to the
  fire (``direction`` outgoing or undetermined: the observer heard or saw it leave, or heard it
  from that direction) and a distance band is one ``BearingReport``; two or more of them are
  triangulated (the maximum-likelihood fix, cut by their bands), one alone gives its sector;
- **crater analysis**: an impact report with the bearing from the crater back toward the firer
  (``crater_bearing_deg``) gives the sector behind the crater over the munition's range: the
  report's distance band if it gives one, else 0.2 km to the weapon type's longest range
  (``data/weapons/weapon_types.yaml``).

Triangulation is preferred (several independent observers); when its bearings do not cross
(``firing.NoFix``) the view has no estimate, and says why. An impact report with no crater
bearing says nothing of where it came from: the view has no estimate. Samples are drawn with a
seed derived from the view, so judging is repeatable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from truceguard.errors import InputError
from truceguard.judge.firing import (
    BearingReport,
    CraterReport,
    FiringEstimate,
    NoFix,
    Position,
    from_bearing,
    from_crater,
    triangulate,
)
from truceguard.model import Observation

CRATER_MIN_RANGE_KM = 0.2  # the nearest a round is assumed to come from, without a band
# A report's bearing error is the half-width within which the true bearing is assessed to lie
# (22.5 degrees for one of eight compass points, the default when none is given), taken as a
# 95% bound: the normal error of judge.firing has sigma = half-width / 1.96.
HALF_WIDTH_SIGMAS = 1.96


@dataclass(frozen=True, slots=True)
class ViewEvidence:
    """A view's evidence: ``sighting`` (a weapon or force seen), its ``firing`` estimate (or
    None), ``note`` (why there is no estimate where reports tried to give one), ``actor_side``
    (whose forces acted, when every report that says agrees) and ``by_monitors`` (every report
    of the view is of the monitors' own activity)."""

    sighting: bool
    firing: FiringEstimate | None
    note: str = ""
    actor_side: str | None = None
    by_monitors: bool = False


def view_seed(incident_id: int, sig: str) -> int:
    """A stable seed for a view's samples."""
    digest = hashlib.blake2b(f"{incident_id}|{sig}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _observer(o: Observation) -> Position:
    r = o.report
    assert r is not None
    if r.observer_lat is not None and r.observer_lon is not None:
        return Position(lat=r.observer_lat, lon=r.observer_lon,
                        uncertainty_m=r.observer_uncertainty_m or 0.0)
    return Position(lat=o.lat, lon=o.lon, uncertainty_m=o.uncertainty_m or 0.0)


def bearing_reports(observations: Sequence[Observation]) -> list[BearingReport]:
    """The fire reports that give a bearing to the fire and a distance band."""
    out = []
    for o in observations:
        r = o.report
        if (r is None or r.kind != "fire" or r.direction == "impact" or r.bearing_deg is None
                or r.distance_max_km is None):
            continue
        out.append(BearingReport(_observer(o), bearing_deg=r.bearing_deg,
                                 error_deg=(r.bearing_err_deg or 22.5) / HALF_WIDTH_SIGMAS,
                                 distance_min_km=r.distance_min_km or 0.0,
                                 distance_max_km=r.distance_max_km))
    return out


def crater_reports(observations: Sequence[Observation]) -> list[CraterReport]:
    """The impact reports with a crater's direction of fire and a range band for the munition."""
    from truceguard.io.reports import weapon_types

    out = []
    for o in observations:
        r = o.report
        if r is None or r.kind != "fire" or r.crater_bearing_deg is None:
            continue
        lo, hi = r.distance_min_km, r.distance_max_km
        if hi is None and r.weapon_type and (wt := weapon_types().get(r.weapon_type)):
            lo, hi = CRATER_MIN_RANGE_KM, wt.max_range_km
        if hi is None:
            continue
        impact = Position(lat=o.lat, lon=o.lon, uncertainty_m=o.uncertainty_m or 0.0)
        out.append(CraterReport(impact, from_bearing_deg=r.crater_bearing_deg,
                                error_deg=(r.crater_bearing_err_deg or 22.5)
                                / HALF_WIDTH_SIGMAS,
                                range_min_km=lo or 0.0, range_max_km=hi,
                                munition=r.weapon_type or ""))
    return out


def _who(observations: Sequence[Observation]) -> tuple[str | None, bool]:
    """(the side whose forces acted, if the reports that say agree; every report is of the
    monitors' own activity)."""
    sides = {o.report.actor_side for o in observations
             if o.report is not None and o.report.actor_side}
    monitors = bool(observations) and all(
        o.report is not None and o.report.by_monitors == "yes" for o in observations)
    return (sides.pop() if len(sides) == 1 else None), monitors


def view_evidence(observations: Sequence[Observation], *, seed: int = 0,
                  sighting_categories: Sequence[str] = ()) -> ViewEvidence:
    """The evidence of one view's observations (see the module docstring)."""
    found = _where_from(observations, seed, sighting_categories)
    side, monitors = _who(observations)
    return ViewEvidence(found.sighting, found.firing, found.note, side, monitors)


def _where_from(observations: Sequence[Observation], seed: int,
                sighting_categories: Sequence[str]) -> ViewEvidence:
    seen = any((o.report is not None and o.report.kind == "sighting")
               or o.category in sighting_categories for o in observations)
    bearings = bearing_reports(observations)
    craters = crater_reports(observations)
    try:
        if len(bearings) >= 2:
            fix = triangulate(bearings, seed=seed)
            if isinstance(fix, NoFix):
                return ViewEvidence(seen, None, fix.reason)
            return ViewEvidence(seen, fix)
        if bearings:
            return ViewEvidence(seen, from_bearing(bearings[0], seed=seed))
        if craters:
            return ViewEvidence(seen, from_crater(craters[0], seed=seed))
    except InputError as exc:  # a report the readers let through but the estimator refuses
        return ViewEvidence(seen, None, f"no estimate: {exc.message}")
    return ViewEvidence(seen, None)


__all__ = ["CRATER_MIN_RANGE_KM", "HALF_WIDTH_SIGMAS", "ViewEvidence", "bearing_reports",
           "crater_reports", "view_evidence", "view_seed"]
