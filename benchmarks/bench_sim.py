"""Monte Carlo kernel: truceguard's vectorised detect-and-respond against a SimPy process model.

Both evaluate the same model on the same samples (violations along the shipped 2026 line, 200
assets, one availability draw per asset and violation, all from one seed): detection by the
first available sensor in range (radar horizon, instrumented range, latency, revisit phase),
then the fastest available responder in reach (reaction + great-circle move). The SimPy model
is the usual way to write it: one process per violation, timeouts for detection and response.

    python benchmarks/bench_sim.py [--n 100000] [--assets 200] [--seed 7]

Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time

import numpy as np
import simpy

from truceguard.geo.radar import radar_horizon_m, unit_vectors
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.coverage import Assets, assets_from_rows
from truceguard.plan.scenario import load_scenario, resolve_variant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations


def synthetic_assets(n: int, n_types: int, rng: np.random.Generator) -> Assets:
    """A mix like a large coalition's: half sensors, a fifth air defence, fighters, QRFs."""
    rows = []
    kinds = (["sensor"] * (n // 2) + ["ad"] * (n // 5) + ["fighter"] * (n // 5))
    kinds += ["qrf"] * (n - len(kinds))
    for i, kind in enumerate(kinds):
        sensor = kind in ("sensor", "ad")
        rows.append({
            "pledge": f"p{i}", "nation": "GB", "capability": kind,
            "lat": rng.uniform(44.0, 55.0), "lon": rng.uniform(20.0, 40.0),
            "readiness": float(rng.choice([0.5, 0.8, 0.9, 1.0])),
            "height_m": float(rng.choice([10.0, 30.0, 6000.0, 9000.0])) if kind == "sensor"
            else 10.0,
            "sensor_range_m": rng.uniform(50e3, 400e3) if sensor else 0.0,
            "latency_min": float(rng.choice([1.0, 2.0, 5.0])),
            "revisit_min": float(rng.choice([0.0, 120.0])),
            "detects": list(rng.random(n_types) < 0.7) if sensor else [False] * n_types,
            "ad_range_m": 60e3 if kind == "ad" else 0.0,
            "speed_kmh": 900.0 if kind == "fighter" else 40.0,
            "react_min": 15.0 if kind == "fighter" else 30.0,
            "reach_m": 1.5e6 if kind == "fighter" else 4e5,
            "responds": ([False, False, True, True] if kind == "fighter" else
                         [True, True, False, False] if kind == "qrf" else [False] * n_types),
        })
    return assets_from_rows(rows, n_types)


def simpy_model(assets: Assets, heights: list[float], vu: np.ndarray, vtype: np.ndarray,
                draws: np.ndarray) -> tuple[list[float], list[float]]:
    """The same model as SimPy processes, written the plain way (Python floats, per pair)."""
    au = unit_vectors(assets.lat, assets.lon).tolist()
    n_types = len(heights)
    rng_cos = [[math.cos(min(float(assets.sensor_range_m[a]),
                             float(radar_horizon_m(assets.height_m[a], heights[t])))
                         / EARTH_RADIUS_M) for a in range(len(assets))] for t in range(n_types)]
    sensors = [[a for a in range(len(assets)) if assets.detects[a, t]
                and assets.sensor_range_m[a] > 0] for t in range(n_types)]
    responders = [[a for a in range(len(assets)) if assets.responds[a, t]]
                  for t in range(n_types)]
    ready = [float(r) for r in assets.readiness]
    k = [float(assets.revisit_min[a]) / ready[a] if ready[a] > 0 else 0.0
         for a in range(len(assets))]
    lat_min = assets.latency_min.tolist()
    react = assets.react_min.tolist()
    mpr = (EARTH_RADIUS_M / 1000.0 / assets.speed_kmh * 60.0).tolist()
    cos_reach = [math.cos(min(float(r) / EARTH_RADIUS_M, math.pi)) for r in assets.reach_m]
    dr = draws.T.tolist()  # per violation, per asset
    vlist = vu.tolist()
    n = len(vlist)
    t_det = [math.inf] * n
    t_resp = [math.inf] * n
    env = simpy.Environment()

    def violation(env: simpy.Environment, v: int):  # type: ignore[no-untyped-def]
        x, y, z = vlist[v]
        t = int(vtype[v])
        d = dr[v]
        best = math.inf
        for a in sensors[t]:
            ax, ay, az = au[a]
            if x * ax + y * ay + z * az >= rng_cos[t][a] and d[a] < ready[a]:
                best = min(best, d[a] * k[a] + lat_min[a])
        if best == math.inf:
            return
        yield env.timeout(best)
        t_det[v] = env.now
        rbest = math.inf
        for a in responders[t]:
            ax, ay, az = au[a]
            c = min(x * ax + y * ay + z * az, 1.0)
            if c >= cos_reach[a] and d[a] < ready[a]:
                rbest = min(rbest, math.acos(c) * mpr[a] + react[a])
        if rbest == math.inf:
            return
        yield env.timeout(rbest)
        t_resp[v] = env.now

    for v in range(n):
        env.process(violation(env, v))
    env.run()
    return t_det, t_resp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--assets", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rv = resolve_variant(load_scenario("reassurance-2025"), "us-backstop")
    types = rv.threat.types
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 0]))
    assets = synthetic_assets(args.assets, len(types), rng)
    viol = sample_violations(rv, args.n, np.random.default_rng(
        np.random.SeedSequence([args.seed, 1])))
    draws = draw_availability(len(assets), args.n, np.random.default_rng(
        np.random.SeedSequence([args.seed, 2])))

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        kernel = build_kernel(assets, types)
        det, resp, _ = evaluate(kernel, viol.unit, viol.type_idx, draws)
        times.append(time.perf_counter() - t0)
    ours_s = float(np.median(times))

    gc.collect()
    t0 = time.perf_counter()
    p_det, p_resp = simpy_model(assets, [t.height_m for t in types], viol.unit, viol.type_idx,
                                draws)
    peer_s = time.perf_counter() - t0

    p_det_a, p_resp_a = np.array(p_det), np.array(p_resp)
    same_pattern = (np.array_equal(np.isfinite(det), np.isfinite(p_det_a))
                    and np.array_equal(np.isfinite(resp), np.isfinite(p_resp_a)))
    fin = np.isfinite(det) & np.isfinite(p_det_a)
    finr = np.isfinite(resp) & np.isfinite(p_resp_a)
    diff = max(float(np.abs(det[fin] - p_det_a[fin]).max(initial=0.0)),
               float(np.abs(resp[finr] - p_resp_a[finr]).max(initial=0.0)))
    max_difference = diff if same_pattern else math.inf
    print(f"ours  {ours_s:.3f} s ({args.n * args.assets / ours_s / 1e6:.0f} M evals/s), "
          f"detected {np.isfinite(det).mean():.3f}, responded {np.isfinite(resp).mean():.3f}")
    print(f"simpy {peer_s:.3f} s, same detected/responded pattern: {same_pattern}")
    print(json.dumps({
        "benchmark": "sim", "n": args.n, "assets": args.assets, "ours_s": round(ours_s, 4),
        "peer": "simpy", "peer_s": round(peer_s, 3), "ratio": round(peer_s / ours_s, 1),
        "max_difference": max_difference,
        "evals_per_s": round(args.n * args.assets / ours_s),
    }))


if __name__ == "__main__":
    main()
