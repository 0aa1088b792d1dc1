"""Assets and deterministic coverage: who sees and who reaches which part of the line.

Pledges become positioned assets (a radar, a fighter detachment, a battery, a quick-reaction
force). Geometry that is geometry stays deterministic here: the share of the line under ISR
cover, the fighter response time along the line, the protected sites under air-defence cover,
and the gaps in units (batteries, radars) that greedy set cover estimates. Chance (availability,
revisit phase) belongs to :mod:`truceguard.plan.simulate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from truceguard.geo.radar import (
    cos_of_distance,
    greedy_cover_count,
    radar_horizon_m,
    sample_line,
    unit_vectors,
)
from truceguard.geo.shipped import occupied_2026, power_plants
from truceguard.geo.sphere import haversine_m
from truceguard.plan.scenario import ResolvedVariant, city_position

LINE_SPACING_M = 2_000.0


@dataclass(frozen=True)
class Assets:
    """Positioned assets as parallel arrays (one row per unit). Threat types are columns."""

    pledge: NDArray  # object
    nation: NDArray  # object
    capability: NDArray  # object
    lat: NDArray
    lon: NDArray
    readiness: NDArray  # float32: a unit is available for a violation when its draw < this
    height_m: NDArray
    sensor_range_m: NDArray  # instrumented range, 0 when not a sensor
    latency_min: NDArray
    revisit_min: NDArray
    detects: NDArray  # bool (A, T)
    ad_range_m: NDArray  # engagement range, 0 when not air defence
    speed_kmh: NDArray
    react_min: NDArray
    reach_m: NDArray
    responds: NDArray  # bool (A, T)

    def __len__(self) -> int:
        return len(self.lat)

    def take(self, mask: Any) -> Assets:
        return Assets(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


def build_assets(rv: ResolvedVariant) -> Assets:
    """One row per unit for every pledge in force, spread round-robin over its basing."""
    types = [t.name for t in rv.threat.types]
    rows: list[dict[str, object]] = []
    for p in rv.pledges:
        cap = rv.scenario.capabilities[p.capability]
        if cap.role == "support":
            continue
        par = {**cap.params, **p.params}
        if p.capability == "ground_troops":
            n = len(p.basing)
        elif cap.role == "responder":
            n = max(1, math.ceil(p.quantity / par.get("unit_size", 1.0)))
        else:
            n = int(round(p.quantity))
        sensor_range = par.get("radar_range_km", par.get("range_km", 0.0)) * 1000.0
        is_sensor = cap.role in ("sensor", "air_defence") and bool(cap.detects)
        for i in range(n):
            loc = p.basing[i % len(p.basing)]
            rows.append({
                "pledge": p.id, "nation": p.nation, "capability": p.capability,
                "lat": loc.lat, "lon": loc.lon, "readiness": p.readiness,
                "height_m": par.get("height_m", 0.0),
                "sensor_range_m": sensor_range if is_sensor else 0.0,
                "latency_min": par.get("latency_min", 0.0),
                "revisit_min": par.get("revisit_min", 0.0),
                "detects": [t in cap.detects for t in types] if is_sensor else [False] * len(types),
                "ad_range_m": par["range_km"] * 1000.0 if cap.role == "air_defence" else 0.0,
                "speed_kmh": par.get("speed_kmh", 1.0),
                "react_min": par.get("react_min", 0.0),
                "reach_m": par.get("reach_km", 0.0) * 1000.0,
                "responds": [t in cap.responds_to for t in types]
                if cap.role == "responder" else [False] * len(types),
            })
    return assets_from_rows(rows, len(types))


def assets_from_rows(rows: list[dict[str, object]], n_types: int) -> Assets:
    """Assets from a list of per-unit dicts (the keys of :class:`Assets`)."""

    def col(k: str, dtype: object) -> NDArray:
        return np.array([r[k] for r in rows], dtype=dtype)  # type: ignore[call-overload]

    def flags(k: str) -> NDArray:
        return np.array([r[k] for r in rows], dtype=bool).reshape(len(rows), n_types)

    return Assets(
        pledge=col("pledge", object), nation=col("nation", object),
        capability=col("capability", object), lat=col("lat", float), lon=col("lon", float),
        readiness=col("readiness", np.float32), height_m=col("height_m", float),
        sensor_range_m=col("sensor_range_m", float), latency_min=col("latency_min", float),
        revisit_min=col("revisit_min", float), detects=flags("detects"),
        ad_range_m=col("ad_range_m", float), speed_kmh=col("speed_kmh", float),
        react_min=col("react_min", float), reach_m=col("reach_m", float),
        responds=flags("responds"),
    )


def detection_range_m(assets: Assets, target_height_m: float) -> NDArray:
    """Each asset's detection range against a target height: min(instrumented, horizon)."""
    horizon = radar_horizon_m(assets.height_m, target_height_m)
    return np.minimum(assets.sensor_range_m, horizon)


@dataclass(frozen=True)
class ProtectedSites:
    name: NDArray
    kind: NDArray
    lat: NDArray
    lon: NDArray


def protected_sites(rv: ResolvedVariant) -> ProtectedSites:
    """Power plants of at least the required size on the government side, and named cities."""
    min_mw = float(rv.requirements["protected_power_plants_min_mw"].value)
    plants = [p for p in power_plants() if p.capacity_mw >= min_mw]
    occ = occupied_2026()
    held = [p for p in plants if not shapely.contains_xy(occ, p.lon, p.lat)]
    cities = [(c, *city_position(c)) for c in rv.requirements["protected_cities"].value]
    names = [p.name for p in held] + [c[0] for c in cities]
    kinds = ["power plant"] * len(held) + ["city"] * len(cities)
    lat = [p.lat for p in held] + [c[1] for c in cities]
    lon = [p.lon for p in held] + [c[2] for c in cities]
    return ProtectedSites(np.array(names, dtype=object), np.array(kinds, dtype=object),
                          np.array(lat), np.array(lon))


@lru_cache(maxsize=8)
def _line_points(shipped: str, date: str) -> tuple[NDArray, NDArray, NDArray]:
    from truceguard.geo import shipped as sh

    line = sh.minsk_line() if shipped == "minsk_line" else sh.front_line(date)
    return sample_line(line, LINE_SPACING_M)


def line_points(rv: ResolvedVariant) -> tuple[NDArray, NDArray, NDArray]:
    """(lat, lon, metres of line each point stands for), every 2 km along the line."""
    spec = rv.scenario.line_spec
    return _line_points(spec["shipped"], spec.get("date", ""))


def nearest_time_min(
    tlat: NDArray, tlon: NDArray, assets: Assets, chunk: int = 4096
) -> NDArray:
    """For each target, the fastest arrival over the given responders (react + flight), or inf."""
    out = np.full(len(tlat), np.inf)
    if len(assets) == 0:
        return out
    for s in range(0, len(tlat), chunk):
        d = haversine_m(tlat[s:s + chunk, None], tlon[s:s + chunk, None], assets.lat, assets.lon)
        t = assets.react_min + d / 1000.0 / assets.speed_kmh * 60.0
        t = np.where(d <= assets.reach_m, t, np.inf)
        out[s:s + chunk] = t.min(axis=1)
    return out


@dataclass(frozen=True)
class Coverage:
    """Deterministic geometry of one variant (no availability, no chance)."""

    line_lat: NDArray
    line_lon: NDArray
    line_weight: NDArray
    line_isr: NDArray  # bool per line point
    line_fighter_min: NDArray  # fighter response time per line point, minutes
    line_ground_min: NDArray  # quick-reaction-force response time per line point
    sites: ProtectedSites
    sites_covered: NDArray  # bool per site
    isr_gap_radars: int
    air_defence_gap_batteries: int

    def share(self, mask: NDArray) -> float:
        w = self.line_weight
        return float(w[mask].sum() / w.sum()) if w.sum() > 0 else 0.0


def coverage(rv: ResolvedVariant, assets: Assets) -> Coverage:
    """Line ISR cover, fighter and ground response along the line, site cover, unit gaps."""
    req = rv.requirements
    lat, lon, w = line_points(rv)
    lu = unit_vectors(lat, lon)
    target_h = float(req["isr_target_height_m"].value)
    sensors = assets.take(assets.sensor_range_m > 0)
    isr = np.zeros(len(lat), dtype=bool)
    if len(sensors):
        cos_r = cos_of_distance(detection_range_m(sensors, target_h))
        isr = ((lu @ unit_vectors(sensors.lat, sensors.lon).T) >= cos_r).any(axis=1)
    types = [t.response for t in rv.threat.types]
    air = np.array([r == "air" for r in types])
    fighters = assets.take(assets.responds[:, air].any(axis=1)) if air.any() else assets.take(
        np.zeros(len(assets), dtype=bool))
    ground = assets.take(assets.responds[:, ~air].any(axis=1))
    sites = protected_sites(rv)
    su = unit_vectors(sites.lat, sites.lon)
    ad = assets.take(assets.ad_range_m > 0)
    covered = np.zeros(len(sites.lat), dtype=bool)
    if len(ad):
        covered = ((su @ unit_vectors(ad.lat, ad.lon).T) >= cos_of_distance(ad.ad_range_m)).any(
            axis=1)
    ad_cos = float(cos_of_distance(float(req["air_defence_reference_range_km"].value) * 1000.0))
    ad_gap, _ = greedy_cover_count(su[~covered], su, ad_cos)
    ref_range = min(float(req["isr_reference_range_km"].value) * 1000.0,
                    float(radar_horizon_m(float(req["isr_reference_height_m"].value), target_h)))
    isr_gap, _ = greedy_cover_count(lu[~isr], lu[~isr], float(cos_of_distance(ref_range)),
                                    w[~isr])
    return Coverage(lat, lon, w, isr, nearest_time_min(lat, lon, fighters),
                    nearest_time_min(lat, lon, ground), sites, covered, isr_gap, ad_gap)
