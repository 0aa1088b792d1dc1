"""The Monte Carlo: sample violations along the line, then detect and respond to each.

For every violation and every asset: is the violation within the asset's detection range for its
type (the radar horizon against the target's height, capped by the instrumented range), is the
asset available (a seeded draw against its readiness), and if so when does it report (latency
plus a revisit phase)? The first report starts the response: the fastest available responder
for that type, within reach, arrives after its reaction time plus a great-circle flight or move.

The hot path is :func:`evaluate`. Points are unit vectors, so "within range" is a dot product
compared with a precomputed cosine; violations are sorted by type, so each type sees only the
assets that matter to it; every mask becomes a huge additive penalty (``BIG``) so one minimum
over assets gives the answer without boolean indexing; work is cut in cache-sized chunks shared
by threads (numpy releases the GIL). The model owns its RNG: one seed, one result.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from truceguard.geo.radar import cos_of_distance, radar_horizon_m, unit_vectors
from truceguard.geo.shipped import data_path
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.coverage import Assets, line_points
from truceguard.plan.scenario import ResolvedVariant, ThreatType

BIG = 2.0**900  # a penalty no real time reaches; a power of two keeps scaling exact
NOT_REACHED = 1e100  # times at or above this mean "never"
HALF_STEP = 2.0**-26  # below the 2**-24 grid of float32 draws: "draw < readiness", exactly


@dataclass(frozen=True)
class Violations:
    """Sampled violations, sorted by type (the kernel relies on it)."""

    lat: NDArray
    lon: NDArray
    type_idx: NDArray  # int8, non-decreasing
    type_names: tuple[str, ...]

    @property
    def unit(self) -> NDArray:
        return unit_vectors(self.lat, self.lon)

    def __len__(self) -> int:
        return len(self.lat)


@lru_cache(maxsize=1)
def minsk_events() -> tuple[NDArray, NDArray]:
    """(lat, lon) of the shipped UCDP events of the Minsk era (2014-2022), the incident history."""
    lat: list[float] = []
    lon: list[float] = []
    with open(data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv"),
              encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            try:
                lat.append(float(r["latitude"]))
                lon.append(float(r["longitude"]))
            except (KeyError, ValueError):
                continue
    return np.array(lat), np.array(lon)


def history_weights(lat: NDArray, lon: NDArray, radius_km: float) -> NDArray:
    """Number of historical incidents within ``radius_km`` of each point."""
    elat, elon = minsk_events()
    if len(elat) == 0:
        return np.zeros(len(lat))
    eu = unit_vectors(elat, elon)
    pu = unit_vectors(lat, lon)
    thr = float(cos_of_distance(radius_km * 1000.0))
    return ((pu @ eu.T) >= thr).sum(axis=1).astype(float)


def sample_violations(rv: ResolvedVariant, n: int, rng: np.random.Generator) -> Violations:
    """``n`` violations along the line: uniform by length, or weighted by incident history."""
    lat, lon, w = line_points(rv)
    p = w / w.sum()
    th = rv.threat
    if th.distribution == "history":
        h = history_weights(lat, lon, th.history_radius_km)
        if h.sum() > 0:
            p = th.history_floor * p + (1.0 - th.history_floor) * h / h.sum()
    idx = rng.choice(len(p), size=n, p=p)
    # Spread each violation within about +/- 1 km of its line point.
    off = rng.uniform(-1.0, 1.0, size=(n, 2)) * 1000.0
    vlat = lat[idx] + np.degrees(off[:, 0] / EARTH_RADIUS_M)
    vlon = lon[idx] + np.degrees(off[:, 1] / (EARTH_RADIUS_M * np.cos(np.radians(lat[idx]))))
    weights = np.array([t.weight for t in th.types])
    types = rng.choice(len(weights), size=n, p=weights / weights.sum()).astype(np.int8)
    order = np.argsort(types, kind="stable")
    return Violations(vlat[order], vlon[order], types[order], tuple(t.name for t in th.types))


def draw_availability(n_assets: int, n_violations: int, rng: np.random.Generator) -> NDArray:
    """One uniform float32 draw per (asset, violation): available when below readiness, and
    then draw / readiness is the revisit phase."""
    return rng.random((n_assets, n_violations), dtype=np.float32)


@dataclass(frozen=True)
class _Block:
    """The assets that matter to one threat type, in one role, ready for the kernel."""

    rows: NDArray  # indices into the assets (and the rows of the draws)
    unit: NDArray  # (k, 3) unit vectors (sensors: scaled by -BIG)
    limit: NDArray  # sensors: BIG * cos(range); responders: cos(reach)
    base_min: NDArray  # sensors: latency; responders: reaction time
    per_unit: NDArray  # sensors: revisit / readiness; responders: minutes per radian
    ready_half: NDArray  # readiness - HALF_STEP (float64)


@dataclass(frozen=True)
class Kernel:
    """Per-type sensor and responder blocks and the air-defence block."""

    sensors: tuple[_Block, ...]
    responders: tuple[_Block, ...]
    ad_unit: NDArray
    ad_cos: NDArray
    n_assets: int


def build_kernel(assets: Assets, types: tuple[ThreatType, ...]) -> Kernel:
    """Precompute everything per asset and type, so the kernel does only arithmetic."""
    au = unit_vectors(assets.lat, assets.lon) if len(assets) else np.empty((0, 3))
    ready = assets.readiness.astype(np.float64)
    ready_half = ready - HALF_STEP
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(ready > 0, assets.revisit_min / ready, 0.0)
    mpr = EARTH_RADIUS_M / 1000.0 / assets.speed_kmh * 60.0
    sensors = []
    responders = []
    for t, tt in enumerate(types):
        rng_m = np.minimum(assets.sensor_range_m, radar_horizon_m(assets.height_m, tt.height_m))
        s = np.flatnonzero(assets.detects[:, t] & (assets.sensor_range_m > 0))
        sensors.append(_Block(s, au[s] * -BIG, cos_of_distance(rng_m[s]) * BIG,
                              assets.latency_min[s], k[s], ready_half[s]))
        r = np.flatnonzero(assets.responds[:, t])
        responders.append(_Block(r, au[r], cos_of_distance(assets.reach_m[r]),
                                 assets.react_min[r], mpr[r], ready_half[r]))
    d = np.flatnonzero(assets.ad_range_m > 0)
    return Kernel(tuple(sensors), tuple(responders), au[d], cos_of_distance(assets.ad_range_m[d]),
                  len(assets))


def _chunk(kernel: Kernel, t: int, x: NDArray, draws: NDArray, c0: int, c1: int,
           out_det: NDArray, out_resp: NDArray, out_ad: NDArray) -> None:
    xt = x[c0:c1].T  # (3, m)
    m = c1 - c0
    sb = kernel.sensors[t]
    if len(sb.rows):
        pen = sb.unit @ xt  # -BIG * cos(angle), exactly
        pen += sb.limit[:, None]  # BIG * (cos(range) - cos(angle)) > 0: out of range
        d = draws[sb.rows, c0:c1]
        tm = d * sb.per_unit[:, None]
        tm += sb.base_min[:, None]
        av = d - sb.ready_half[:, None]  # > 0: not available
        av *= BIG
        np.maximum(tm, pen, out=tm)
        np.maximum(tm, av, out=tm)
        det = tm.min(axis=0)
    else:
        det = np.full(m, np.inf)
    det[det >= NOT_REACHED] = np.inf
    rb = kernel.responders[t]
    if len(rb.rows):
        c = rb.unit @ xt
        np.minimum(c, 1.0, out=c)
        reach = rb.limit[:, None] - c  # > 0: beyond reach
        reach *= BIG
        tm = np.arccos(c)
        tm *= rb.per_unit[:, None]
        tm += rb.base_min[:, None]
        d = draws[rb.rows, c0:c1]
        av = d - rb.ready_half[:, None]
        av *= BIG
        np.maximum(tm, reach, out=tm)
        np.maximum(tm, av, out=tm)
        resp = tm.min(axis=0)
        resp[resp >= NOT_REACHED] = np.inf
    else:
        resp = np.full(m, np.inf)
    out_det[c0:c1] = det
    out_resp[c0:c1] = det + resp
    if len(kernel.ad_cos):
        out_ad[c0:c1] = ((kernel.ad_unit @ xt) >= kernel.ad_cos[:, None]).any(axis=0)
    else:
        out_ad[c0:c1] = False


def evaluate(
    kernel: Kernel,
    vunit: NDArray,
    vtype: NDArray,
    draws: NDArray,
    threads: int | None = None,
    chunk: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> tuple[NDArray, NDArray, NDArray]:
    """Time to detect, time to response (minutes; inf when never) and inside-air-defence-cover
    for each violation. ``vtype`` must be non-decreasing (see :func:`sample_violations`);
    ``draws`` is (assets, violations) from :func:`draw_availability`."""
    n = len(vtype)
    if draws.shape != (kernel.n_assets, n):
        raise ValueError(f"draws must be ({kernel.n_assets}, {n}), got {draws.shape}")
    if n and np.any(np.diff(vtype) < 0):
        raise ValueError("violations must be sorted by type")
    out_det = np.empty(n)
    out_resp = np.empty(n)
    out_ad = np.empty(n, dtype=bool)
    bounds = np.searchsorted(vtype, np.arange(len(kernel.sensors) + 1))
    tasks = []
    for t in range(len(kernel.sensors)):
        lo, hi = int(bounds[t]), int(bounds[t + 1])
        tasks += [(t, c0, min(c0 + chunk, hi)) for c0 in range(lo, hi, chunk)]
    workers = threads or min(2, os.cpu_count() or 1)

    def run(task: tuple[int, int, int]) -> int:
        t, c0, c1 = task
        _chunk(kernel, t, vunit, draws, c0, c1, out_det, out_resp, out_ad)
        return c1 - c0

    if workers <= 1:
        for task in tasks:
            done = run(task)
            if progress:
                progress(done)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(run, tasks):
                if progress:
                    progress(done)
    return out_det, out_resp, out_ad
