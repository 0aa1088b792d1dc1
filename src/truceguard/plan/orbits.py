"""Placing orbits: each orbit where it adds most coverage, within its constraints.

``truceguard plan --place-orbits`` moves every orbit-pattern sensor (AWACS, drones) of a
variant, one pledge unit at a time in pledge order, to the candidate point that most raises
the time-averaged detection probability along the line for the classes it sees, given the
sensors already placed. Candidates lie on a 0.25 degree grid, at least the orbit's stand-off
from hostile territory, in the host country or on the territory of an alliance member (never
inside the host when the pledge is outside-the-host only), or over the sea.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from truceguard.geo.radar import cos_of_distance, unit_vectors
from truceguard.plan.coverage import Assets, build_assets, detection_range_m, line_points
from truceguard.plan.coverage import look_probability as _look
from truceguard.plan.hostile import hostile_distance_km
from truceguard.plan.scenario import Location, Pledge, ResolvedVariant, ThreatType

STEP = 0.25
EXTENT = (20.0, 41.0, 44.0, 53.0)


@lru_cache(maxsize=4)
def _candidates(host: str, alliance: str) -> tuple[NDArray, NDArray, NDArray]:
    """(lat, lon, country) of the grid points over land or sea in the planning area."""
    import shapely

    from truceguard.geo.shipped import countries

    lons = np.arange(EXTENT[0], EXTENT[1] + 1e-9, STEP)
    lats = np.arange(EXTENT[2], EXTENT[3] + 1e-9, STEP)
    glon, glat = (a.ravel() for a in np.meshgrid(lons, lats))
    country = np.full(len(glat), "", dtype=object)
    for code, geom in countries().items():
        country[shapely.contains_xy(geom, glon, glat)] = code
    return glat, glon, country


def place_orbits(rv: ResolvedVariant) -> tuple[ResolvedVariant, list[dict[str, object]]]:
    """The variant with its orbits placed greedily, and a list of the moves made."""
    from truceguard.marking import vocabulary

    scen = rv.scenario
    within = float(rv.requirements["detect_within_min"].value)
    lat, lon, w = line_points(rv)
    lu = unit_vectors(lat, lon)
    glat, glon, gcountry = _candidates(scen.host, scen.alliance)
    dist = hostile_distance_km(scen.hostile, glat, glon)
    members = vocabulary().groups.get(scen.alliance, frozenset())
    gu = unit_vectors(glat, glon)
    fixed = build_assets(replace(rv, pledges=tuple(
        p for p in rv.pledges if scen.capabilities[p.capability].pattern != "orbit")))
    miss = {c: _miss(fixed, lu, c, rv, within) for c in ("ground", "air")}
    moves: list[dict[str, object]] = []
    new_pledges: list[Pledge] = []
    for p in rv.pledges:
        cap = scen.capabilities[p.capability]
        if cap.pattern != "orbit":
            new_pledges.append(p)
            continue
        par = {**cap.params, **p.params}
        ok = dist >= par.get("standoff_km", 0.0)
        allowed = (gcountry == "") | ((gcountry == scen.host) & (not p.outside_host_only))
        if p.nation in members:
            allowed |= np.isin(gcountry, list(members))
        ok &= allowed
        one = build_assets(replace(rv, pledges=(replace(p, quantity=1.0),)))
        cand = np.flatnonzero(ok)
        looks = {}
        for c in cap.sees:
            t = _class_type(rv, c)
            hit = (gu[cand] @ lu.T) >= float(cos_of_distance(
                float(detection_range_m(one, t.height_m)[0])))
            looks[c] = (hit, float(_look(one, t.persists_min, within)[0]))
        places: list[Location] = []
        for _ in range(int(round(p.quantity)) if len(cand) and looks else 0):
            total = sum((hit * (miss[c] * pr)[None, :]) @ w for c, (hit, pr) in looks.items())
            k = int(np.argmax(total))
            for c, (hit, pr) in looks.items():
                miss[c] = miss[c] * np.where(hit[k], 1.0 - pr, 1.0)
            g = cand[k]
            places.append(Location("point", f"{glat[g]:.2f}N {glon[g]:.2f}E", float(glat[g]),
                                   float(glon[g]), str(gcountry[g])))
            moves.append({"pledge": p.id, "to": places[-1].ref,
                          "adds_share": float(total[k]) / float(w.sum())})
        new_pledges.append(replace(p, basing=tuple(places)) if places else p)
    return replace(rv, pledges=tuple(new_pledges)), moves


def _class_type(rv: ResolvedVariant, target_class: str) -> ThreatType:
    """The most frequent threat type of a class (its height and persistence set the range)."""
    types = [t for t in rv.threat.types if t.target_class == target_class]
    if not types:
        types = list(rv.threat.types)
    return max(types, key=lambda t: t.weight)


def _miss(assets: Assets, lu: NDArray, target_class: str, rv: ResolvedVariant,
          within: float) -> NDArray:
    """Per line point, the probability that no fixed sensor reports a violation of a class."""
    from truceguard.plan.coverage import detection_probability

    t = _class_type(rv, target_class)
    lat = np.degrees(np.arcsin(lu[:, 2]))
    lon = np.degrees(np.arctan2(lu[:, 1], lu[:, 0]))
    return 1.0 - detection_probability(assets, lat, lon, t, within)
