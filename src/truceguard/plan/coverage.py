"""Positioned assets and the time-averaged coverage of the line and of the protected sites.

Pledges become rows of :class:`Assets` (one per sensor unit, battery, fighter base or hub).
A sensor sees only its target classes (an AWACS sees air targets, never a ground violation),
out to the lesser of its instrumented range and the radar horizon against the target's height.
Its pattern decides *when* it looks: a mast always; an orbit a share ``f`` of the time, in
cycles of ``cycle``; a satellite once per revisit interval. The probability that a sensor
reports a violation at a point within ``T`` minutes, averaged over the moment the violation
happens, is::

    P = readiness * [latency <= T] * min(1, f + W / cycle),   W = min(persists, T - latency)

with ``f = 1`` for a mast and ``f = 0`` for a satellite. A satellite's cycle is not its revisit:
one access images only the strips it is tasked with, and an optical image needs a clear sky,
so its cycle is ``revisit / (p_image * clear)`` (:func:`truceguard.plan.isr.satellite_cycle_factor`,
for the imaging system the scenario's ``isr`` block names; no satellite images the whole line
every pass). Sensors combine as independent looks: ``1 - prod(1 - P)``. This is what
``line_isr_cover_share`` averages along the line; :func:`truceguard.plan.isr.line_watched`
gives the same by day and by night.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.geo.radar import cos_of_distance, radar_horizon_m, sample_line, unit_vectors
from truceguard.plan.scenario import ResolvedVariant, ThreatType
from truceguard.plan.sites import Sites, protected_sites

LINE_SPACING_M = 2_000.0
FIELDS_FLOAT = (
    "lat", "lon", "readiness", "height_m", "range_m", "latency_min", "on_station", "cycle_min",
    "speed_kmh", "react_min", "reach_m", "standoff_km", "jets", "sorties_per_day",
    "shots_per_sortie", "pk_drone", "pk_missile", "sortie_h", "ad_range_m", "interceptors",
    "reloads_per_raid", "shots_per_drone", "shots_per_missile", "troops", "qrf_units", "task_h",
)


@dataclass(frozen=True)
class Assets:
    """Positioned assets as parallel arrays, one row per unit (sensor, battery) or per base
    (fighters) or hub (ground force). ``role`` says which columns mean something."""

    pledge: NDArray
    nation: NDArray
    capability: NDArray
    role: NDArray
    pattern: NDArray
    place: NDArray  # the basing's name (base, hub or point)
    sees_ground: NDArray
    sees_air: NDArray
    lat: NDArray
    lon: NDArray
    readiness: NDArray
    height_m: NDArray
    range_m: NDArray  # sensor (or air-defence radar) instrumented range; 0 if it sees nothing
    latency_min: NDArray
    on_station: NDArray  # share of time looking (mast 1, satellite 0)
    cycle_min: NDArray  # orbit cycle or satellite revisit (0 for a mast)
    speed_kmh: NDArray
    react_min: NDArray
    reach_m: NDArray
    standoff_km: NDArray
    jets: NDArray
    sorties_per_day: NDArray
    shots_per_sortie: NDArray
    pk_drone: NDArray
    pk_missile: NDArray
    sortie_h: NDArray
    ad_range_m: NDArray
    interceptors: NDArray
    reloads_per_raid: NDArray
    shots_per_drone: NDArray
    shots_per_missile: NDArray
    troops: NDArray
    qrf_units: NDArray
    task_h: NDArray

    def __len__(self) -> int:
        return len(self.lat)

    def take(self, mask: Any) -> Assets:
        return Assets(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    def of_role(self, role: str) -> Assets:
        return self.take(self.role == role)


def _row(p: Any, cap: Any, loc: Any, par: dict[str, float], **kw: float) -> dict[str, Any]:
    role = cap.role
    sees = set(cap.sees)
    is_sensor = role == "sensor"
    row: dict[str, Any] = {k: 0.0 for k in FIELDS_FLOAT}
    row.update(
        pledge=p.id, nation=p.nation, capability=p.capability, role=role,
        pattern=cap.pattern or ("mast" if role == "air_defence" else ""), place=loc.ref,
        sees_ground="ground" in sees, sees_air="air" in sees, lat=loc.lat, lon=loc.lon,
        readiness=p.readiness, height_m=par.get("height_m", 0.0),
        range_m=1000.0 * (par.get("range_km", 0.0) if is_sensor
                          else par.get("radar_range_km", 0.0) if role == "air_defence" else 0.0),
        latency_min=par.get("latency_min", 0.0),
        on_station={"orbit": par.get("on_station_share", 1.0), "satellite": 0.0}.get(
            cap.pattern, 1.0),
        cycle_min=60.0 * {"orbit": par.get("cycle_h", 0.0),
                          "satellite": par.get("revisit_h", 0.0)}.get(cap.pattern, 0.0),
    )
    for k in ("speed_kmh", "react_min", "standoff_km", "sorties_per_day", "shots_per_sortie",
              "pk_drone", "pk_missile", "sortie_h", "interceptors", "reloads_per_raid",
              "shots_per_drone", "shots_per_missile", "task_h"):
        row[k] = par.get(k, 0.0)
    row["reach_m"] = 1000.0 * par.get("reach_km", 0.0)
    if role == "air_defence":
        row["ad_range_m"] = 1000.0 * par["range_km"]
    row.update(kw)
    return row


def build_assets(rv: ResolvedVariant) -> Assets:
    """Rows for every pledge in force: sensors and batteries one per unit (round-robin over
    the basing); fighters one per base (jets split evenly); ground forces one per hub (troops
    split evenly, quick-reaction units from the QRF share and unit size)."""
    rows: list[dict[str, Any]] = []
    for p in rv.pledges:
        cap = rv.scenario.capabilities[p.capability]
        if cap.role == "support":
            continue
        par = {**cap.params, **p.params}
        nb = len(p.basing)
        if cap.role in ("sensor", "air_defence"):
            kw: dict[str, float] = {}
            if cap.pattern == "satellite":
                kw["cycle_min"] = _satellite_cycle_min(rv, p.capability, par)
            for i in range(int(round(p.quantity))):
                rows.append(_row(p, cap, p.basing[i % nb], par, **kw))
        elif cap.role == "fighter":
            for loc in p.basing:
                rows.append(_row(p, cap, loc, par, jets=p.quantity / nb))
        else:  # ground_force
            for loc in p.basing:
                troops = p.quantity / nb
                units = math.floor(troops * par["qrf_share"] / par["unit_size"])
                rows.append(_row(p, cap, loc, par, troops=troops, qrf_units=float(units)))
    return assets_from_rows(rows)


def _satellite_cycle_min(rv: ResolvedVariant, capability: str, par: dict[str, float]) -> float:
    """A satellite's effective cycle in minutes: its revisit over the share of accesses that
    yield a usable image of a point (never infinite: 10^9 minutes when none do)."""
    from truceguard.plan.isr import satellite_cycle_factor

    factor = satellite_cycle_factor(rv, capability)
    revisit_min = 60.0 * par.get("revisit_h", 0.0)
    return revisit_min / factor if factor > 1e-9 else 1e9


def assets_from_rows(rows: list[dict[str, Any]]) -> Assets:
    """Assets from per-row dicts with the keys of :class:`Assets`."""
    cols: dict[str, NDArray] = {}
    for k in Assets.__dataclass_fields__:
        if k in FIELDS_FLOAT:
            cols[k] = np.array([float(r[k]) for r in rows], dtype=float)
        elif k in ("sees_ground", "sees_air"):
            cols[k] = np.array([bool(r[k]) for r in rows], dtype=bool)
        elif k == "place":
            cols[k] = np.array([r.get(k, "") for r in rows], dtype=object)
        else:
            cols[k] = np.array([r[k] for r in rows], dtype=object)
    cols["readiness"] = cols["readiness"].astype(np.float32)
    return Assets(**cols)


def sees(assets: Assets, target_class: str) -> NDArray:
    """Which rows detect targets of this class (sensors and air-defence radars)."""
    flag = assets.sees_air if target_class == "air" else assets.sees_ground
    return flag & (assets.range_m > 0)


def detection_range_m(assets: Assets, target_height_m: float) -> NDArray:
    """Each row's detection range against a target height: min(instrumented, horizon);
    satellites look down and have no horizon."""
    horizon = radar_horizon_m(assets.height_m, target_height_m)
    horizon = np.where(assets.pattern == "satellite", np.inf, horizon)
    return np.minimum(assets.range_m, horizon)


def look_probability(assets: Assets, persists_min: float, within_min: float) -> NDArray:
    """Per row, the time-averaged probability of reporting a violation in range within
    ``within_min`` (module docstring)."""
    w = np.maximum(0.0, np.minimum(persists_min, within_min - assets.latency_min))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(assets.cycle_min > 0, assets.on_station + w / assets.cycle_min, 1.0)
    p = assets.readiness.astype(float) * np.minimum(1.0, share)
    return np.where(assets.latency_min <= within_min, p, 0.0)


def detection_probability(assets: Assets, lat: NDArray, lon: NDArray, t: ThreatType,
                          within_min: float) -> NDArray:
    """Probability that at least one sensor reports a violation of type ``t`` at each point
    within ``within_min`` minutes (independent looks)."""
    s = assets.take(sees(assets, t.target_class))
    if len(s) == 0 or len(lat) == 0:
        return np.zeros(len(lat))
    p = look_probability(s, t.persists_min, within_min)
    inrange = (unit_vectors(lat, lon) @ unit_vectors(s.lat, s.lon).T) >= cos_of_distance(
        detection_range_m(s, t.height_m))
    return 1.0 - np.prod(np.where(inrange, 1.0 - p, 1.0), axis=1)


@lru_cache(maxsize=8)
def _line_points(shipped: str, date: str) -> tuple[NDArray, NDArray, NDArray]:
    from truceguard.geo import shipped as sh

    line = sh.minsk_line() if shipped == "minsk_line" else sh.front_line(date)
    return sample_line(line, LINE_SPACING_M)


def line_points(rv: ResolvedVariant) -> tuple[NDArray, NDArray, NDArray]:
    """(lat, lon, metres of line each point stands for), every 2 km along the line."""
    spec = rv.scenario.line_spec
    return _line_points(spec["shipped"], spec.get("date", ""))


@dataclass(frozen=True)
class Coverage:
    """Deterministic geometry of one variant, with availability where stated."""

    line_lat: NDArray
    line_lon: NDArray
    line_weight: NDArray
    line_detect: dict[str, NDArray]  # per threat type: probability of detection within T
    line_ground_detect: NDArray  # mean over ground types, weighted
    sites: Sites
    sites_covered: NDArray  # bool: a battery within range (geometry only)
    air_defence_gap_batteries: int

    def share(self, values: NDArray) -> float:
        w = self.line_weight
        return float((w * values).sum() / w.sum()) if w.sum() > 0 else 0.0


def coverage(rv: ResolvedVariant, assets: Assets) -> Coverage:
    """Detection probability along the line per threat type, and site cover by batteries."""
    from truceguard.geo.radar import greedy_cover_count

    req = rv.requirements
    within = float(req["detect_within_min"].value)
    lat, lon, w = line_points(rv)
    per_type = {t.name: detection_probability(assets, lat, lon, t, within)
                for t in rv.threat.types}
    # the line is watched for the scenario's ground violations even when a variant's
    # threat (deep strikes) has none
    ground = [t for t in rv.threat.types if t.target_class == "ground"] or [
        t for t in rv.scenario.threat.types if t.target_class == "ground"]
    for t in ground:
        if t.name not in per_type:
            per_type[t.name] = detection_probability(assets, lat, lon, t, within)
    gw = sum(t.weight for t in ground)
    ground_p = np.zeros(len(lat))
    for t in ground:
        ground_p += per_type[t.name] * (t.weight / gw)
    sites = protected_sites()
    su = unit_vectors(sites.lat, sites.lon)
    ad = assets.of_role("air_defence")
    covered = np.zeros(len(sites), dtype=bool)
    if len(ad):
        covered = ((su @ unit_vectors(ad.lat, ad.lon).T) >= cos_of_distance(ad.ad_range_m)).any(
            axis=1)
    ad_cos = float(cos_of_distance(float(req["air_defence_reference_range_km"].value) * 1000.0))
    ad_gap, _ = greedy_cover_count(su[~covered], su, ad_cos)
    return Coverage(lat, lon, w, per_type, ground_p, sites, covered, ad_gap)
