"""Monte Carlo and capacity: truceguard's vectorised kernels against SimPy process models.

Both sides evaluate the same models on the same draws, from one seed:

1. detect and respond: violations along the shipped 2026 line, 200 assets, one availability
   draw per asset and violation; detection by the first sensor in range that is available and
   looking (mast, orbit or satellite pattern), then the nearest available quick-reaction unit
   in reach. SimPy: one process per violation, timeouts for detection and response.
2. capacity: replications of the largest raid (805 drones and 13 missiles) against the
   batteries, fighters and protected sites of ``reassurance-2026`` with the US backstop,
   answered shot by shot until stocks run out. SimPy: one environment per replication, each
   battery's interceptors and the fighters' shots as Containers, one process per threat.

    python benchmarks/bench_sim.py [--n 100000] [--assets 200] [--raids 2000] [--seed 7]

Last line: one JSON object (the ratio is for both models together).
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
from truceguard.plan import capacity
from truceguard.plan.coverage import FIELDS_FLOAT, Assets, assets_from_rows, build_assets
from truceguard.plan.coverage import coverage as line_coverage
from truceguard.plan.run import RAID_ENTRIES, raid_force
from truceguard.plan.scenario import load_scenario, resolve_variant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations


def synthetic_assets(n: int, rng: np.random.Generator) -> Assets:
    """A mix like a large coalition's: about two thirds sensors (masts, orbits, satellites),
    a fifth air-defence batteries, the rest hubs with quick-reaction units."""
    rows = []
    kinds = ["sensor"] * (n * 13 // 20) + ["ad"] * (n // 5)
    kinds += ["qrf"] * (n - len(kinds))
    for i, kind in enumerate(kinds):
        pattern = str(rng.choice(["mast", "orbit", "satellite"])) if kind == "sensor" else "mast"
        row = {k: 0.0 for k in FIELDS_FLOAT}
        row.update(
            pledge=f"p{i}", nation="GBR", capability=kind,
            role={"sensor": "sensor", "ad": "air_defence", "qrf": "ground_force"}[kind],
            pattern=pattern, sees_ground=kind == "sensor", sees_air=True,
            lat=rng.uniform(44.0, 53.0), lon=rng.uniform(22.0, 40.0),
            readiness=float(rng.choice([0.5, 0.8, 0.9, 1.0])),
            height_m=float(rng.choice([10.0, 30.0, 6000.0, 9000.0])),
            range_m=rng.uniform(30e3, 400e3) if kind != "qrf" else 0.0,
            latency_min=float(rng.choice([1.0, 5.0, 30.0])),
            on_station={"mast": 1.0, "orbit": 0.5, "satellite": 0.0}[pattern],
            cycle_min={"mast": 0.0, "orbit": 1440.0, "satellite": 360.0}[pattern],
            ad_range_m=60e3 if kind == "ad" else 0.0,
            speed_kmh=60.0, react_min=60.0, reach_m=1.2e6,
            qrf_units=2.0 if kind == "qrf" else 0.0,
        )
        rows.append(row)
    return assets_from_rows(rows)


def simpy_kernel(assets: Assets, types: tuple, vu: np.ndarray, vtype: np.ndarray,
                 draws: np.ndarray, free: np.ndarray) -> tuple[list[float], list[float]]:
    """The detect-and-respond model as SimPy processes, written the plain way."""
    n_a = len(assets)
    au = unit_vectors(assets.lat, assets.lon).tolist()
    sat = [p == "satellite" for p in assets.pattern]
    rng_cos, thr, sensors, qrf = [], [], [], []
    for t in types:
        rng_cos.append([math.cos(min(float(assets.range_m[a]), math.inf if sat[a] else
                                     float(radar_horizon_m(assets.height_m[a], t.height_m)))
                                 / EARTH_RADIUS_M) for a in range(n_a)])
        sees = assets.sees_air if t.target_class == "air" else assets.sees_ground
        sensors.append([a for a in range(n_a) if sees[a] and assets.range_m[a] > 0])
        thr.append([float(assets.readiness[a]) * (1.0 if assets.cycle_min[a] == 0 else min(
            1.0, assets.on_station[a] + t.persists_min / assets.cycle_min[a]))
            for a in range(n_a)])
        qrf.append([a for a in range(n_a) if t.target_class == "ground"
                    and assets.role[a] == "ground_force" and assets.qrf_units[a] > 0])
    ready = [float(r) for r in assets.readiness]
    cyc, f = assets.cycle_min.tolist(), assets.on_station.tolist()
    lat_min, react = assets.latency_min.tolist(), assets.react_min.tolist()
    mpr = (EARTH_RADIUS_M / 1000.0 / np.maximum(assets.speed_kmh, 1e-9) * 60.0).tolist()
    cos_reach = [math.cos(min(float(r) / EARTH_RADIUS_M, math.pi)) for r in assets.reach_m]
    dr = draws.T.tolist()
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
            if x * ax + y * ay + z * az >= rng_cos[t][a] and d[a] < thr[t][a]:
                wait = 0.0 if cyc[a] == 0 else max(0.0, d[a] / ready[a] - f[a]) * cyc[a]
                best = min(best, lat_min[a] + wait)
        if best == math.inf:
            return
        yield env.timeout(best)
        t_det[v] = env.now
        rbest = math.inf
        for a in qrf[t]:
            ax, ay, az = au[a]
            c = min(x * ax + y * ay + z * az, 1.0)
            if c >= cos_reach[a] and d[a] < ready[a] * free[a]:
                rbest = min(rbest, math.acos(c) * mpr[a] + react[a])
        if rbest == math.inf:
            return
        yield env.timeout(rbest)
        t_resp[v] = env.now

    for v in range(n):
        env.process(violation(env, v))
    env.run()
    return t_det, t_resp


def simpy_raids(force: capacity.RaidForce, d: capacity.RaidDraws) -> tuple[list[float], ...]:
    """The raid model as SimPy processes: one environment per replication."""
    plain = {"cover": force.cover.tolist(), "pk": force.pk.tolist(),
             "shots": force.shots.tolist(), "fpk": force.fighter_pk.tolist(),
             "upk": force.ukraine_pk.tolist(), "reach": force.reachable.tolist()}
    out: tuple[list[float], ...] = ([], [], [])
    for r in range(d.kind.shape[1]):
        for acc, v in zip(out, _simpy_replication(force, plain, d, r), strict=True):
            acc.append(v)
    return out


def _simpy_replication(force: capacity.RaidForce, plain: dict, d: capacity.RaidDraws,
                       r: int) -> tuple[float, float, float]:
    nb = len(force.stock)
    cover, pk, shots = plain["cover"], plain["pk"], plain["shots"]
    fpk, upk, reach = plain["fpk"], plain["upk"], plain["reach"]
    env = simpy.Environment()
    stock = [simpy.Container(env, capacity=max(1.0, float(s)), init=float(s))
             for s in force.stock]
    fshots = simpy.Container(env, capacity=max(1.0, float(force.fighter_shots)),
                             init=float(force.fighter_shots))
    kinds, sites = d.kind[:, r].tolist(), d.site[:, r].tolist()
    entries = d.entry[:, r].tolist()
    uf, uu = d.u_fighter[:, r].tolist(), d.u_ukraine[:, r].tolist()
    ub = d.u_battery[:, :, r].tolist()
    score = {"defeated": 0, "force": 0}

    def threat(env: simpy.Environment, i: int):  # type: ignore[no-untyped-def]
        yield env.timeout(i)
        k, s = kinds[i], sites[i]
        if reach[k][entries[i]][s] and fshots.level >= 1:
            yield fshots.get(1)
            if uf[i] < fpk[k]:
                score["defeated"] += 1
                score["force"] += 1
                return
        if uu[i] < upk[k]:
            score["defeated"] += 1
            return
        avail = [b for b in range(nb) if cover[s][b] and stock[b].level >= 1]
        if not avail:
            return
        b = max(avail, key=lambda j: (stock[j].level, -j))
        for shot in range(shots[b][k]):
            if stock[b].level < 1:
                return
            yield stock[b].get(1)
            if ub[i][shot] < pk[b][k]:
                score["defeated"] += 1
                score["force"] += 1
                return

    for i in range(len(kinds)):
        env.process(threat(env, i))
    env.run()
    return score["defeated"], score["force"], sum(c.level for c in stock)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--assets", type=int, default=200)
    ap.add_argument("--raids", type=int, default=2_000, help="replications of the largest raid")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    scen = load_scenario("reassurance-2026")
    rv = resolve_variant(scen, "us-backstop")
    types = rv.threat.types
    assets = synthetic_assets(args.assets, np.random.default_rng(np.random.SeedSequence(
        [args.seed, 0])))
    viol = sample_violations(rv, args.n, np.random.default_rng(np.random.SeedSequence(
        [args.seed, 1])))
    draws = draw_availability(len(assets), args.n, np.random.default_rng(
        np.random.SeedSequence([args.seed, 2])))
    free = np.where(assets.role == "ground_force", 0.8, 1.0)
    force = raid_force(rv, build_assets(rv), line_coverage(rv, build_assets(rv)))
    raid = capacity.raid_draws(np.random.default_rng(np.random.SeedSequence([args.seed, 3])),
                               args.raids, 805, 13, np.ones(force.cover.shape[0]),
                               RAID_ENTRIES)
    k_times, r_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        det, resp, _ = evaluate(build_kernel(assets, types, free), viol.unit, viol.type_idx,
                                draws)
        k_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = capacity.run_raids(force, raid)
        r_times.append(time.perf_counter() - t0)
    ours_k, ours_r = float(np.median(k_times)), float(np.median(r_times))

    gc.collect()
    t0 = time.perf_counter()
    p_det, p_resp = simpy_kernel(assets, types, viol.unit, viol.type_idx, draws, free)
    peer_k = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_def, p_force, p_left = simpy_raids(force, raid)
    peer_r = time.perf_counter() - t0

    pd, pr = np.array(p_det), np.array(p_resp)
    same = (np.array_equal(np.isfinite(det), np.isfinite(pd))
            and np.array_equal(np.isfinite(resp), np.isfinite(pr)))
    fin, finr = np.isfinite(det) & np.isfinite(pd), np.isfinite(resp) & np.isfinite(pr)
    diff = max(float(np.abs(det[fin] - pd[fin]).max(initial=0.0)),
               float(np.abs(resp[finr] - pr[finr]).max(initial=0.0))) if same else math.inf
    raids_same = (np.array_equal(out.defeated, p_def) and np.array_equal(
        out.defeated_by_force, p_force) and np.array_equal(out.stock_left.sum(axis=1), p_left))
    print(f"kernel: ours {ours_k:.3f} s ({args.n * args.assets / ours_k / 1e6:.0f} M evals/s), "
          f"simpy {peer_k:.2f} s, ratio {peer_k / ours_k:.0f}; same pattern {same}, "
          f"max difference {diff:.2g} min")
    print(f"raids:  ours {ours_r:.3f} s ({args.raids} x 818 threats), simpy {peer_r:.2f} s, "
          f"ratio {peer_r / ours_r:.0f}; identical {raids_same}; defeated "
          f"{out.defeated.mean() / 818:.3f}")
    ours, peer = ours_k + ours_r, peer_k + peer_r
    print(json.dumps({
        "benchmark": "sim", "n": args.n, "assets": args.assets, "raids": args.raids,
        "ours_s": round(ours, 4), "peer": "simpy", "peer_s": round(peer, 3),
        "kernel_ratio": round(peer_k / ours_k, 1), "raids_ratio": round(peer_r / ours_r, 1),
        "max_difference": diff, "raids_identical": bool(raids_same),
        "ratio": round(peer / ours, 1),
    }))


if __name__ == "__main__":
    main()
