"""The Monte Carlo: sample violations, then detect each and send the reassurance force to it.

For every violation and every sensor: is the violation within the sensor's range for its
class and height, is the sensor available and looking, and when does it report? One seeded
float32 draw ``u`` per (asset, violation) decides both: the sensor is available and looks in
time while ``u < readiness * min(1, f + persists / cycle)``, and it then reports after
``latency + max(0, u / readiness - f) * cycle`` (a mast: at once; an orbit: when it is back on
station; a satellite: at its next pass). Averaged over ``u`` this is exactly the coverage
formula of :mod:`truceguard.plan.coverage`.

Ground violations then get the nearest available quick-reaction unit of the reassurance force
within reach, after its reaction time and a great-circle move; a unit is available with
probability ``readiness * (1 - B)``, where ``B`` is the pool's Erlang loss (all units busy,
:mod:`truceguard.plan.capacity`): the size of a pledge changes the answer. Air violations are
intercepted along their path by :mod:`truceguard.plan.intercept`, not here.

The hot path is :func:`evaluate`: points are unit vectors, so "in range" is a dot product
against a precomputed cosine; violations are sorted by type, so each type sees only its
assets; every mask is a huge additive penalty (``BIG``), so one minimum over assets gives the
answer without boolean indexing; work is cut in cache-sized chunks shared by threads.
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

from truceguard.geo.radar import cos_of_distance, unit_vectors
from truceguard.geo.shipped import data_path
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.coverage import Assets, detection_range_m, line_points, sees
from truceguard.plan.scenario import ResolvedVariant, ThreatType
from truceguard.plan.sites import protected_sites

BIG = 2.0**900  # a penalty no real time reaches; a power of two keeps scaling exact
NOT_REACHED = 1e100  # times at or above this mean "never"
HALF_STEP = 2.0**-26  # below the 2**-24 grid of float32 draws: "u < threshold", exactly


@dataclass(frozen=True)
class Violations:
    """Sampled violations, sorted by type (the kernel relies on it). Air violations carry the
    protected site they fly to (``target``, an index into the protected sites; -1 on the
    ground); their position is where they cross the line."""

    lat: NDArray
    lon: NDArray
    type_idx: NDArray  # int8, non-decreasing
    target: NDArray  # int, -1 for ground violations
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


def event_weights(lat: NDArray, lon: NDArray, elat: NDArray, elon: NDArray, ew: NDArray,
                  radius_km: float) -> NDArray:
    """The summed weight of the events within ``radius_km`` of each point."""
    if len(elat) == 0:
        return np.zeros(len(lat))
    near = (unit_vectors(lat, lon) @ unit_vectors(elat, elon).T) >= float(
        cos_of_distance(radius_km * 1000.0))
    return near.astype(float) @ np.asarray(ew, dtype=float)


@lru_cache(maxsize=16)
def _history_weights(shipped: str, date: str, radius_km: float) -> NDArray:
    from truceguard.plan.coverage import _line_points

    lat, lon, _ = _line_points(shipped, date)
    elat, elon = minsk_events()
    return event_weights(lat, lon, elat, elon, np.ones(len(elat)), radius_km)


def line_distribution(rv: ResolvedVariant) -> NDArray:
    """Probability of each line point being where a violation happens, by the threat's source."""
    lat, lon, w = line_points(rv)
    p = w / w.sum()
    th = rv.threat
    if th.source == "history":
        spec = rv.scenario.line_spec
        h = _history_weights(spec["shipped"], spec.get("date", ""), th.history_radius_km)
    elif th.source == "events":
        ev = np.array(th.events, dtype=float).reshape(-1, 3)
        h = event_weights(lat, lon, ev[:, 0], ev[:, 1], ev[:, 2], th.history_radius_km)
    else:
        return p
    if h.sum() > 0:
        p = th.history_floor * p + (1.0 - th.history_floor) * h / h.sum()
    return p


def sample_violations(rv: ResolvedVariant, n: int, rng: np.random.Generator) -> Violations:
    """``n`` violations along the line (weighted by the threat's source), each with a type
    drawn by weight; a deep-strike threat draws air types only. Air violations fly to a
    protected site drawn uniformly."""
    lat, lon, _ = line_points(rv)
    idx = rng.choice(len(lat), size=n, p=line_distribution(rv))
    off = rng.uniform(-1.0, 1.0, size=(n, 2)) * 1000.0  # within about 1 km of the line point
    vlat = lat[idx] + np.degrees(off[:, 0] / EARTH_RADIUS_M)
    vlon = lon[idx] + np.degrees(off[:, 1] / (EARTH_RADIUS_M * np.cos(np.radians(lat[idx]))))
    types = rv.threat.types
    weights = np.array([t.weight if (rv.threat.source != "deep_strike" or t.target_class == "air")
                        else 0.0 for t in types])
    tidx = rng.choice(len(types), size=n, p=weights / weights.sum()).astype(np.int8)
    air = np.array([t.target_class == "air" for t in types])[tidx]
    target = np.where(air, rng.integers(0, max(1, len(protected_sites())), size=n), -1)
    order = np.lexsort((vlon, tidx))  # by type, then west to east: chunks are compact
    return Violations(vlat[order], vlon[order], tidx[order], target[order],
                      tuple(t.name for t in types))


def draw_availability(n_assets: int, n_violations: int, rng: np.random.Generator) -> NDArray:
    """One uniform float32 draw per (asset, violation) (module docstring)."""
    return rng.random((n_assets, n_violations), dtype=np.float32)


@dataclass(frozen=True)
class _Block:
    """The assets that matter to one threat type, in one role, ready for the kernel."""

    rows: NDArray  # indices into the assets (and the rows of the draws)
    unit: NDArray  # (k, 3) unit vectors (sensors: scaled by -BIG)
    limit: NDArray  # sensors: BIG * cos(range); responders: cos(reach)
    base_min: NDArray  # sensors: latency - on-station share x cycle; responders: reaction
    per_unit: NDArray  # sensors: cycle / readiness; responders: minutes per radian
    offset: NDArray  # sensors: on-station share x cycle; responders: 0
    ready_half: NDArray  # availability threshold - HALF_STEP (float64)
    direction: NDArray  # (k, 3) plain unit vectors, to skip rows out of a chunk's reach
    reach_rad: NDArray  # sensors: range; responders: reach (radians)


@dataclass(frozen=True)
class Kernel:
    """Per-type sensor and responder blocks and the air-defence block."""

    sensors: tuple[_Block, ...]
    responders: tuple[_Block, ...]
    ad_unit: NDArray
    ad_cos: NDArray
    n_assets: int


def build_kernel(assets: Assets, types: tuple[ThreatType, ...],
                 responder_available: NDArray | None = None) -> Kernel:
    """Precompute everything per asset and type, so the kernel does only arithmetic.

    ``responder_available``: per asset, the share of the time a quick-reaction unit is free
    (1 - Erlang loss); 1 when not given."""
    n = len(assets)
    au = unit_vectors(assets.lat, assets.lon) if n else np.empty((0, 3))
    ready = assets.readiness.astype(np.float64)
    free = np.ones(n) if responder_available is None else np.asarray(responder_available, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(ready > 0, assets.cycle_min / ready, 0.0)
    mpr = EARTH_RADIUS_M / 1000.0 / np.maximum(assets.speed_kmh, 1e-9) * 60.0
    sensors = []
    responders = []
    for tt in types:
        rng_m = detection_range_m(assets, tt.height_m)
        s = np.flatnonzero(sees(assets, tt.target_class))
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(assets.cycle_min > 0,
                             assets.on_station + tt.persists_min / assets.cycle_min, 1.0)
        thr = ready * np.minimum(1.0, share) - HALF_STEP
        fc = assets.on_station * assets.cycle_min
        sensors.append(_Block(s, au[s] * -BIG, cos_of_distance(rng_m[s]) * BIG,
                              (assets.latency_min - fc)[s], k[s], fc[s], thr[s], au[s],
                              np.minimum(rng_m[s] / EARTH_RADIUS_M, np.pi)))
        if tt.target_class == "ground":
            r = np.flatnonzero((assets.role == "ground_force") & (assets.qrf_units > 0))
        else:
            r = np.empty(0, dtype=int)
        responders.append(_Block(r, au[r], cos_of_distance(assets.reach_m[r]),
                                 assets.react_min[r], mpr[r], np.zeros(len(r)),
                                 (ready * free)[r] - HALF_STEP, au[r],
                                 np.minimum(assets.reach_m[r] / EARTH_RADIUS_M, np.pi)))
    d = np.flatnonzero(assets.ad_range_m > 0)
    return Kernel(tuple(sensors), tuple(responders), au[d], cos_of_distance(assets.ad_range_m[d]),
                  n)


def _near(b: _Block, xc: NDArray) -> _Block:
    """The rows of a block that can reach some point of the chunk ``xc`` (a cap test on the
    chunk's centre and radius; an exact filter, never a cut of a row in range)."""
    if len(b.rows) == 0:
        return b
    centre = xc.sum(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-300)
    spread = float(np.arccos(np.clip((xc @ centre).min(), -1.0, 1.0)))
    keep = (b.direction @ centre) >= np.cos(np.minimum(b.reach_rad + spread + 1e-9, np.pi))
    if keep.all():
        return b
    return _Block(*(getattr(b, f)[keep] for f in b.__dataclass_fields__))


def _chunk(kernel: Kernel, t: int, x: NDArray, draws: NDArray, c0: int, c1: int,
           out_det: NDArray, out_resp: NDArray, out_ad: NDArray) -> None:
    xt = x[c0:c1].T  # (3, m)
    m = c1 - c0
    sb = _near(kernel.sensors[t], x[c0:c1])
    if len(sb.rows):
        pen = sb.unit @ xt  # -BIG * cos(angle), exactly
        pen += sb.limit[:, None]  # BIG * (cos(range) - cos(angle)) > 0: out of range
        d = draws[sb.rows, c0:c1]
        tm = d * sb.per_unit[:, None]
        np.maximum(tm, sb.offset[:, None], out=tm)  # latency + max(0, u k - f c)
        tm += sb.base_min[:, None]
        av = d - sb.ready_half[:, None]  # > 0: not available, or not looking in time
        av *= BIG
        np.maximum(pen, av, out=pen)
        np.maximum(tm, pen, out=tm)
        det = tm.min(axis=0)
    else:
        det = np.full(m, np.inf)
    det[det >= NOT_REACHED] = np.inf
    rb = _near(kernel.responders[t], x[c0:c1])
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
    """Time to detection by the monitoring sensors, time to arrival of the reassurance force
    (minutes; inf when never) and inside-air-defence-cover, for each violation. ``vtype``
    must be non-decreasing (see :func:`sample_violations`); ``draws`` is (assets, violations)
    from :func:`draw_availability`."""
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
