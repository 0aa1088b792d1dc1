"""Monte Carlo: truceguard's vectorised models against SimPy process models of the same rules.

1. air defence with magazines and saturation (the headline, issue 18): ``reassurance-2026``
   with the US backstop (Ukraine's calibrated layer, the coalition's, the US's). Ours:
   :func:`truceguard.plan.raid.simulate` on the scenario's largest raid (its last raid size),
   replicated over the calibration's bootstrap draws, and :func:`truceguard.plan.raid.campaign`
   on the scenario's campaign (its campaign raid, so many times, so many days apart), the
   magazines carried over and resupplied. The SimPy peer is the reference a user would write
   from the same inputs and rules: one environment per replication (a whole campaign in one),
   each threat a process that arrives at its hour along its path, electronic warfare first,
   then the barrier and the point defences in turn; each fire-unit group's engagements at a
   place a Container refilled every half hour (first come, first served), its launchers a
   Container reloaded from the layer's magazine (a Container resupplied between raids). It
   draws its own random numbers (Python's ``random``), so the two are compared statistically:
   mean share defeated per class, and interceptors fired per layer and type, for the raid and
   for each raid of the campaign, within sampling error (|z| < 4), printed before the timings.
2. detect and respond: violations along the shipped 2026 line, 200 assets, one availability
   draw per asset and violation; detection by the first sensor in range that is available and
   looking (mast, orbit or satellite pattern), then the nearest available quick-reaction unit
   in reach. SimPy: one process per violation, timeouts for detection and response. Same
   draws, so the same detections are required.

    python benchmarks/bench_sim.py [--reps 1000] [--campaign-reps 100] [--raids N] [--n 100000]

``--n 0`` skips the detect-and-respond model. Last line: one JSON object; its ``ratio`` is the
air-defence model's (the raid and the campaign together, peer time / ours).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from truceguard.geo.radar import radar_horizon_m, unit_vectors
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.airdefence import BIN_H, Layer, Outcome, engage, full_stocks, resupply
from truceguard.plan.calibrate import load_calibration, ukraine_layer
from truceguard.plan.coverage import FIELDS_FLOAT, Assets, assets_from_rows
from truceguard.plan.raid import (
    CLASSES,
    TARGET_NAMES,
    Raid,
    Setting,
    campaign,
    defended_km,
    draw_raid,
    launch_mix,
    make_raid,
    setting_for,
    simulate,
)
from truceguard.plan.scenario import load_scenario, resolve_variant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations

OUTCOMES = ("launched", "destroyed", "suppressed", "leaked")


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


# --- air defence: the SimPy peer --------------------------------------------------------------


@dataclass
class PeerGroup:
    """A fire-unit group as plain numbers: per place (one for a barrier, a target set for a
    point defence) its units; per class it engages: kill chance, interceptors per engagement,
    meetings per 100 km, cover per target set, warning needed."""

    layer: str
    interceptor: str
    barrier: bool
    count: float
    units: list[float]
    rate_per_h: float
    ready_rounds: float
    reload_h: float
    engages: dict[int, tuple[float, int, float, list[float], float]]


@dataclass
class PeerLayers:
    groups: list[PeerGroup]  # in the order a threat meets them: barriers, then point defences
    magazines: dict[tuple[str, str], tuple[float, float]]  # (layer, type): on hand, a day
    p_ew: list[float]  # per class: suppressed by some layer's electronic warfare


def peer_layers(layers: Sequence[Layer]) -> PeerLayers:
    groups = []
    for barrier in (True, False):
        for lay in layers:
            for g in lay.groups:
                s = g.system
                if (s.mode == "barrier") != barrier:
                    continue
                units = [g.count] if barrier else [g.units_at.get(t, 0.0) for t in TARGET_NAMES]
                eng = {}
                for ci, c in enumerate(CLASSES):
                    e = s.engages.get(c)
                    if e is not None:
                        cover = [g.cover.get(c, {}).get(t, 0.0) for t in TARGET_NAMES]
                        eng[ci] = (e.p_kill, e.shots, e.meet_per_100km, cover,
                                   e.need_warning_min)
                groups.append(PeerGroup(lay.name, s.interceptor, barrier, g.count, units,
                                        s.rate_per_h, s.ready_rounds, s.reload_h, eng))
    mags = {(lay.name, k): (m.on_hand, m.resupply_per_day)
            for lay in layers for k, m in lay.magazines.items()}
    p_ew = []
    for c in CLASSES:
        keep = 1.0
        for lay in layers:
            keep *= 1.0 - lay.ew.get(c, 0.0)
        p_ew.append(1.0 - keep)
    return PeerLayers(groups, mags, p_ew)


@dataclass
class PeerRaid:
    """Per class: count, launch areas with weights and defended km to each target set,
    arrival window; targeting weights; duration."""

    classes: list[tuple[int, int, list[float], list[list[float]], float]]
    targeting: list[float]
    duration_h: float


def peer_raid(raid: Raid) -> PeerRaid:
    classes = []
    for ci, c in enumerate(CLASSES):
        n = raid.counts.get(c, 0)
        if n == 0:
            continue
        mix = raid.launch_mix.get(c) or launch_mix(False)[c]
        km = [[defended_km(a, t) for t in TARGET_NAMES] for a in mix]
        salvo = raid.salvo_h.get(c)
        start = 0.0 if salvo is None else max(0.0, raid.duration_h - salvo)
        classes.append((ci, n, list(mix.values()), km, start))
    return PeerRaid(classes, [raid.targeting.get(t, 0.0) for t in TARGET_NAMES],
                    raid.duration_h)


@dataclass
class _Place:
    """A group's fire units at one place during one raid."""

    slots: simpy.Container  # engagements left in this half hour
    launchers: simpy.Container  # rounds ready
    left: float  # rounds of the magazine this place may still load tonight
    dry: bool = False


@dataclass
class PeerResult:
    """Per raid: [outcome][class] counts, and interceptors fired per (layer, type)."""

    counts: list[list[list[int]]]
    fired: list[dict[tuple[str, str], float]] = field(default_factory=list)


def simpy_replication(pr: PeerRaid, pl: PeerLayers, warning: tuple[float, float],
                      rng: random.Random, raids: int = 1,
                      days_between: float = 1.0) -> PeerResult:
    """One replication of a raid (or a campaign of ``raids``) as SimPy processes.

    Where the rules are stated differently: ours counts a night's reloads as one total
    (``ready_rounds x (1 + duration // reload_h)``), the peer reloads the launchers in time; with
    the shipped systems a unit's engagements per hour never need more than its ready rounds, so
    the rate binds first on both sides. Ours gives each group the magazine left when its turn
    comes, the peer gives every group its share at dusk; they differ only where two groups
    with fire units in place draw on one magazine of a layer, which no variant of
    ``reassurance-2026`` has (its German and US Patriots cover no target set)."""
    env = simpy.Environment()
    mags = {k: simpy.Container(env, capacity=max(on_hand, 1e-9), init=on_hand)
            for k, (on_hand, _) in pl.magazines.items()}
    res = PeerResult([[[0] * len(CLASSES) for _ in OUTCOMES] for _ in range(raids)],
                     [{} for _ in range(raids)])
    gap = 24.0 * days_between
    assert gap > pr.duration_h, "raids overlap"

    def threat(k: int, ci: int, tgt: int, km: float, hour: float, warn: float,
               places: list[list[_Place | None]]):  # type: ignore[no-untyped-def]
        yield env.timeout(hour)
        counts, fired = res.counts[k], res.fired[k]
        if rng.random() < pl.p_ew[ci]:
            counts[2][ci] += 1
            return
        for g, at in zip(pl.groups, places, strict=True):
            e = g.engages.get(ci)
            if e is None:
                continue
            pk, shots, meet, cover, need = e
            if g.barrier:
                p, place = 1.0 - math.exp(-meet * km / 100.0), at[0]
            else:
                p, place = cover[tgt] * (min(1.0, warn / need) if need > 0 else 1.0), at[tgt]
            if not rng.random() < p or place is None or place.slots.level < 1:
                continue
            yield place.slots.get(1)  # an engagement of this half hour, first come first served
            if place.dry:
                continue
            if place.launchers.level + place.left < shots - 1e-9:
                place.dry = True  # out of rounds for the night
                continue
            if place.launchers.level < shots - 1e-9:
                continue  # launchers empty until the next reload
            yield place.launchers.get(shots)
            key = (g.layer, g.interceptor)
            fired[key] = fired.get(key, 0.0) + shots
            if rng.random() < pk:
                counts[1][ci] += 1
                return
        counts[3][ci] += 1

    def half_hours(slots: list[simpy.Container], end: float):  # type: ignore[no-untyped-def]
        while True:
            yield env.timeout(BIN_H)
            if env.now >= end:
                return
            for s in slots:
                if s.level < s.capacity:
                    yield s.put(s.capacity - s.level)

    def reload(g: PeerGroup, place: _Place, mag: simpy.Container,
               end: float):  # type: ignore[no-untyped-def]
        while True:
            yield env.timeout(g.reload_h)
            if env.now >= end:
                return
            load = min(place.launchers.capacity - place.launchers.level, place.left, mag.level)
            if load > 1e-12:
                yield mag.get(load)
                yield place.launchers.put(load)
                place.left -= load

    def night(k: int):  # type: ignore[no-untyped-def]
        end = env.now + pr.duration_h
        warn = rng.uniform(*warning)
        places: list[list[_Place | None]] = []
        slots = []
        for g in pl.groups:
            mag = mags.get((g.layer, g.interceptor))
            at: list[_Place | None] = []
            level = mag.level if mag is not None else 0.0
            for u in g.units:
                per_bin = math.floor(u * g.rate_per_h * BIN_H + 1e-9)
                allot = level * u / max(g.count, 1e-12)
                if mag is None or per_bin < 1 or allot <= 0:
                    at.append(None)
                    continue
                cap = u * g.ready_rounds
                place = _Place(simpy.Container(env, capacity=per_bin, init=per_bin),
                               simpy.Container(env, capacity=cap), allot)
                load = min(cap, allot, mag.level)
                if load > 1e-12:
                    yield mag.get(load)
                    yield place.launchers.put(load)
                    place.left -= load
                env.process(reload(g, place, mag, end))
                slots.append(place.slots)
                at.append(place)
            places.append(at)
        env.process(half_hours(slots, end))
        for ci, n, weights, km, start in pr.classes:
            areas = rng.choices(range(len(weights)), weights=weights, k=n)
            targets = rng.choices(range(len(TARGET_NAMES)), weights=pr.targeting, k=n)
            res.counts[k][0][ci] += n
            for a, t in zip(areas, targets, strict=True):
                hour = rng.uniform(start, pr.duration_h)
                env.process(threat(k, ci, t, km[a][t], hour, warn, places))
        yield env.timeout(pr.duration_h)
        for g, at in zip(pl.groups, places, strict=True):  # at dawn, rounds go back to store
            for place in at:
                mag = mags.get((g.layer, g.interceptor))
                if place is None or mag is None or place.launchers.level <= 1e-12:
                    continue
                back = place.launchers.level
                yield place.launchers.get(back)
                room = mag.capacity - mag.level
                if min(back, room) > 1e-12:
                    yield mag.put(min(back, room))

    def nights():  # type: ignore[no-untyped-def]
        for k in range(raids):
            if k:
                yield env.timeout(k * gap - env.now)
                for key, (_, per_day) in pl.magazines.items():
                    add = min(per_day * days_between, mags[key].capacity - mags[key].level)
                    if add > 1e-12:
                        yield mags[key].put(add)
            yield env.process(night(k))

    env.process(nights())
    env.run()
    return res


def peer_simulate(raid: Raid, st: Setting, replications: int, seed: int,
                  draws_per_fit: int = 10) -> list[PeerResult]:
    """SimPy's :func:`truceguard.plan.raid.simulate`: the same fitted parameter set for the
    same replications (a block of ``draws_per_fit`` each)."""
    cal = load_calibration()
    rng = random.Random(seed)
    pr = peer_raid(raid)
    blocks = max(1, replications // draws_per_fit)
    out = []
    for k in range(blocks):
        n = draws_per_fit if k < blocks - 1 else replications - draws_per_fit * k
        pl = peer_layers([ukraine_layer(cal.draws[k % len(cal.draws)]), *st.layers[1:]])
        out += [simpy_replication(pr, pl, st.warning, rng) for _ in range(n)]
    return out


def peer_campaign(raid: Raid, st: Setting, raids: int, days_between: float,
                  replications: int, seed: int) -> list[PeerResult]:
    """SimPy's :func:`truceguard.plan.raid.campaign` (the best fit), a replication a run."""
    pl = peer_layers([ukraine_layer(load_calibration().best), *st.layers[1:]])
    pr = peer_raid(raid)
    rng = random.Random(seed)
    return [simpy_replication(pr, pl, st.warning, rng, raids, days_between)
            for _ in range(replications)]


# --- air defence: ours, and the comparison ----------------------------------------------------


def our_campaign(raid: Raid, st: Setting, raids: int, days_between: float,
                 replications: int, seed: int) -> list[Outcome]:
    """:func:`truceguard.plan.raid.campaign` step by step, keeping each raid's outcome (the
    benchmark checks that its means are campaign()'s)."""
    layers = [ukraine_layer(load_calibration().best), *st.layers[1:]]
    rng = np.random.default_rng(seed)
    stocks = full_stocks(layers, replications)
    out = []
    for i in range(raids):
        if i:
            resupply(layers, stocks, days_between)
        d = draw_raid(raid, replications, rng, st.warning)
        out.append(engage(d, layers, stocks, raid.duration_h, rng))
    return out


@dataclass
class Samples:
    """Per replication, for the comparison: share defeated by class, interceptors fired."""

    defeated: dict[str, np.ndarray]
    fired: dict[str, np.ndarray]


def ours_samples(outs: Sequence[Outcome]) -> Samples:
    dfd, fired = {}, {}
    for c in CLASSES:
        n = np.concatenate([o.launched[c] for o in outs])
        if n.max() > 0:
            dfd[c] = np.concatenate([o.destroyed[c] + o.suppressed[c] for o in outs]) / n
    keys = sorted({(lay, k) for o in outs for lay, f in o.fired.items() for k in f})
    for lay, k in keys:
        fired[f"{lay}:{k}"] = np.concatenate(
            [o.fired.get(lay, {}).get(k, np.zeros(len(o.launched[CLASSES[0]]))) for o in outs])
    return Samples(dfd, fired)


def peer_samples(results: Sequence[PeerResult], k: int = 0) -> Samples:
    dfd, fired = {}, {}
    for ci, c in enumerate(CLASSES):
        n = np.array([r.counts[k][0][ci] for r in results], dtype=float)
        if n.max() > 0:
            dfd[c] = np.array([r.counts[k][1][ci] + r.counts[k][2][ci]
                               for r in results]) / n
    keys = sorted({key for r in results for key in r.fired[k]})
    for lay, t in keys:
        fired[f"{lay}:{t}"] = np.array([r.fired[k].get((lay, t), 0.0) for r in results])
    return Samples(dfd, fired)


def z_score(a: np.ndarray, b: np.ndarray) -> float:
    """Difference of two sample means in standard errors (0 when both are constant and
    equal)."""
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    diff = float(a.mean() - b.mean())
    if se == 0.0:
        return 0.0 if abs(diff) < 1e-12 else math.inf
    return diff / se


def compare(ours: Samples, peer: Samples) -> list[tuple[str, float, float, float]]:
    """(what, ours' mean, the peer's mean, z) for every class's share defeated and every
    interceptor type fired; a quantity one side lacks counts as zero there."""
    rows = []
    for kind, a_all, b_all in (("defeated", ours.defeated, peer.defeated),
                               ("fired", ours.fired, peer.fired)):
        for key in sorted(set(a_all) | set(b_all)):
            a = a_all.get(key)
            b = b_all.get(key)
            a = np.zeros(len(next(iter(a_all.values())))) if a is None else a
            b = np.zeros(len(next(iter(b_all.values())))) if b is None else b
            rows.append((f"{kind} {key}", float(a.mean()), float(b.mean()), z_score(a, b)))
    return rows


def scenario_raids(scenario: str, st: Setting) -> tuple[Raid, Raid, int, float]:
    """The scenario's largest raid (its last size), its campaign raid, how many raids the
    campaign has and how many days apart."""
    spec = load_scenario(scenario).raids

    def raid(comp: Sequence[int]) -> Raid:
        drones, decoys, cruise, ballistic = (int(x) for x in comp)
        return make_raid(drones=drones, decoys=decoys, cruise=cruise, ballistic=ballistic,
                         belarus_hostile=st.belarus_hostile, targeting=st.targeting,
                         duration_h=float(spec.duration_h))

    return (raid(spec.sizes[-1]), raid(spec.campaign_composition), int(spec.campaign_raids),
            float(spec.campaign_days_between))


# --- the run -----------------------------------------------------------------------------------

Z_MAX = 4.0  # |z| beyond which a difference is more than sampling error


def _describe(raid: Raid) -> str:
    c = raid.counts
    return (f"{c['drone']} drones, {c['decoy']} decoys, {c['cruise']} cruise, "
            f"{c['ballistic']} ballistic over {raid.duration_h:g} h")


def air_defence(args: argparse.Namespace) -> dict[str, object]:
    scen = "reassurance-2026"
    rv = resolve_variant(load_scenario(scen), args.variant)
    st = setting_for(rv)
    raid, craid, n_raids, days = scenario_raids(scen, st)
    n_raids = args.raids or n_raids
    print(f"air defence: {scen} / {args.variant}, layers "
          f"{', '.join(x.name for x in st.layers)}; largest raid {_describe(raid)}; campaign "
          f"of {n_raids} raids {days:g} days apart, each {_describe(craid)}")
    simulate(raid, st, 20, args.seed)  # warm the caches (paths, calibration) for both
    t_raid, t_camp = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        outs = simulate(raid, st, args.reps, args.seed)
        t_raid.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        shares = campaign(craid, st, raids=n_raids, days_between=days,
                          replications=args.campaign_reps, seed=args.seed)
        t_camp.append(time.perf_counter() - t0)
    ours_raid, ours_camp = float(np.median(t_raid)), float(np.median(t_camp))
    steps = our_campaign(craid, st, n_raids, days, args.campaign_reps, args.seed)
    mirror = bool(np.allclose([o.defeated_share().mean() for o in steps], shares, rtol=0,
                              atol=1e-12))

    gc.collect()
    t0 = time.perf_counter()
    p_raid = peer_simulate(raid, st, args.reps, args.seed)
    peer_raid_s = time.perf_counter() - t0
    gc.collect()
    t0 = time.perf_counter()
    p_camp = peer_campaign(craid, st, n_raids, days, args.campaign_reps, args.seed)
    peer_camp_s = time.perf_counter() - t0

    rows = [("raid", *r) for r in compare(ours_samples(outs), peer_samples(p_raid))]
    for k in range(n_raids):
        rows += [(f"campaign {k + 1}", *r)
                 for r in compare(ours_samples([steps[k]]), peer_samples(p_camp, k))]
    worst = max(abs(r[4]) for r in rows)
    agree = worst < Z_MAX and mirror
    print(f"agreement (ours' mean, SimPy's mean, z of the difference): {args.reps} replications "
          f"of the largest raid, {args.campaign_reps} of the campaign")
    for where, what, a, b, z in rows:
        ends = where.endswith((" 1", f" {n_raids}"))
        if where == "raid" or ends:
            print(f"  {where:12s} {what:32s} {a:10.4f} {b:10.4f}  z {z:+.2f}")
    camp_ours = [float(o.defeated_share().mean()) for o in steps]
    camp_peer = [float(np.mean([sum(r.counts[k][1]) + sum(r.counts[k][2]) for r in p_camp]))
                 / craid.total for k in range(n_raids)]
    print("  campaign share defeated, raid by raid, ours:  "
          + " ".join(f"{v:.3f}" for v in camp_ours))
    print("  campaign share defeated, raid by raid, SimPy: "
          + " ".join(f"{v:.3f}" for v in camp_peer))
    print(f"  {len(rows)} comparisons, largest |z| {worst:.2f} (limit {Z_MAX:g}); campaign() "
          f"equals its step-by-step run: {mirror}; agree: {agree}")
    ratio_raid, ratio_camp = peer_raid_s / ours_raid, peer_camp_s / ours_camp
    ours, peer = ours_raid + ours_camp, peer_raid_s + peer_camp_s
    print("| workload | threats x replications | ours | SimPy | ratio |")
    print("|---|---:|---:|---:|---:|")
    print(f"| largest raid | {raid.total} x {args.reps} | {ours_raid:.3f} s | "
          f"{peer_raid_s:.2f} s | {ratio_raid:.1f} |")
    print(f"| {n_raids}-raid campaign | {craid.total * n_raids} x {args.campaign_reps} | "
          f"{ours_camp:.3f} s | {peer_camp_s:.2f} s | {ratio_camp:.1f} |")
    print(f"| both | | {ours:.3f} s | {peer:.2f} s | {peer / ours:.1f} |")
    per = raid.total * args.reps + craid.total * n_raids * args.campaign_reps
    runs = ", ".join(f"{a + b:.3f}" for a, b in zip(t_raid, t_camp, strict=True))
    print(f"per threat and replication: ours {ours / per * 1e6:.2f} us, SimPy "
          f"{peer / per * 1e6:.1f} us; ours' runs {runs} s")
    return {"reps": args.reps, "campaign_reps": args.campaign_reps, "raids": n_raids,
            "threats": raid.total, "campaign_threats": craid.total,
            "ours_s": round(ours, 4), "peer_s": round(peer, 3),
            "raid_ratio": round(ratio_raid, 1), "campaign_ratio": round(ratio_camp, 1),
            "max_abs_z": round(worst, 2), "agree": agree, "ratio": round(peer / ours, 1)}


def kernel(args: argparse.Namespace) -> dict[str, object]:
    rv = resolve_variant(load_scenario("reassurance-2026"), args.variant)
    types = rv.threat.types
    assets = synthetic_assets(args.assets, np.random.default_rng(np.random.SeedSequence(
        [args.seed, 0])))
    viol = sample_violations(rv, args.n, np.random.default_rng(np.random.SeedSequence(
        [args.seed, 1])))
    draws = draw_availability(len(assets), args.n, np.random.default_rng(
        np.random.SeedSequence([args.seed, 2])))
    free = np.where(assets.role == "ground_force", 0.8, 1.0)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        det, resp, _ = evaluate(build_kernel(assets, types, free), viol.unit, viol.type_idx,
                                draws)
        times.append(time.perf_counter() - t0)
    ours = float(np.median(times))
    gc.collect()
    t0 = time.perf_counter()
    p_det, p_resp = simpy_kernel(assets, types, viol.unit, viol.type_idx, draws, free)
    peer = time.perf_counter() - t0
    pd, pr = np.array(p_det), np.array(p_resp)
    same = (np.array_equal(np.isfinite(det), np.isfinite(pd))
            and np.array_equal(np.isfinite(resp), np.isfinite(pr)))
    fin, finr = np.isfinite(det) & np.isfinite(pd), np.isfinite(resp) & np.isfinite(pr)
    diff = max(float(np.abs(det[fin] - pd[fin]).max(initial=0.0)),
               float(np.abs(resp[finr] - pr[finr]).max(initial=0.0))) if same else math.inf
    print(f"detect and respond: ours {ours:.3f} s ({args.n * args.assets / ours / 1e6:.0f} M "
          f"evals/s), SimPy {peer:.2f} s, ratio {peer / ours:.0f}; same pattern {same}, "
          f"max difference {diff:.2g} min")
    return {"n": args.n, "assets": args.assets, "kernel_ours_s": round(ours, 4),
            "kernel_peer_s": round(peer, 3), "kernel_ratio": round(peer / ours, 1),
            "kernel_max_difference": diff}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000, help="replications of the largest raid")
    ap.add_argument("--campaign-reps", type=int, default=100,
                    help="replications of the campaign")
    ap.add_argument("--raids", type=int, default=0,
                    help="raids in the campaign (0: the scenario's number)")
    ap.add_argument("--variant", default="us-backstop")
    ap.add_argument("--n", type=int, default=100_000,
                    help="violations for detect and respond (0: skip it)")
    ap.add_argument("--assets", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours (the median is kept)")
    args = ap.parse_args()
    out: dict[str, object] = {"benchmark": "sim", "peer": "simpy"}
    if args.n > 0:
        out.update(kernel(args))
    ad = air_defence(args)
    ratio = ad.pop("ratio")
    out.update(ad)
    out["ratio"] = ratio
    print(json.dumps(out))


if __name__ == "__main__":
    main()
