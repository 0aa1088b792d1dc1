"""One variant, end to end: assets, coverage, capacity, Monte Carlo, raids, per-layer figures.

:func:`run_variant` is the single code path that the local run, the Dask sweep, the
sensitivity analysis and the tests share; its result holds plain numbers (``metrics``, with
``layers`` and ``raids``) and the per-violation arrays for plots. Every metric is defined in
one sentence in :data:`METRICS`. Confidence intervals (95%, :data:`INTERVAL_METHODS`): Wilson
score intervals for shares of the sampled violations, binomial order-statistic intervals for
their quantiles, the mean plus or minus 1.96 standard errors over the raid replications; each
headline carries its interval, and the method, in ``metrics["intervals"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.geo.radar import cos_of_distance, unit_vectors
from truceguard.plan import capacity
from truceguard.plan.coverage import Assets, Coverage, build_assets, coverage
from truceguard.plan.forcegen import ForceRow, force_table, gaps
from truceguard.plan.intercept import intercept_minutes
from truceguard.plan.scenario import ResolvedVariant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations
from truceguard.plan.sites import protected_sites

Z95 = 1.959963984540054
QUANTILES = (0.1, 0.5, 0.9)
RAID_ENTRIES = 48  # entry points along the line for the raid model's reach table

# key -> (label, one-sentence definition, what it includes)
METRICS: dict[str, tuple[str, str, str]] = {
    "line_isr_cover_share": (
        "monitoring: line watched (ground)",
        "Probability, averaged along the line and over the time of day, that the monitoring "
        "sensors report a ground violation within the stated detection time.",
        "geometry, patterns and readiness; no Monte Carlo"),
    "detection_probability": (
        "monitoring: violations detected",
        "Share of sampled violations that the monitoring sensors report within the stated "
        "detection time.", "Monte Carlo with availability"),
    "ground_answered_share": (
        "ground violations answered",
        "Share of sampled ground violations that Ukraine's forces at the line or a "
        "quick-reaction unit of the reassurance force reach within the stated answer time.",
        "Monte Carlo with availability and capacity"),
    "air_intercept_share": (
        "air threats intercepted before the target",
        "Share of sampled drones and missiles that an available fighter meets on their path, "
        "beyond its stand-off from hostile territory, before they reach their target.",
        "Monte Carlo with availability and capacity"),
    "protected_sites_air_defence_share": (
        "protected sites in battery range",
        "Share of the protected sites (operating or damaged, government-held) within range of "
        "at least one air-defence battery.", "geometry only: no availability, no stocks"),
    "raid_largest_defeated_share": (
        "largest raid defeated",
        "Share of the largest raid's drones and missiles defeated by all layers, shot by shot "
        "until interceptors and sorties run out.", "capacity model, replicated"),
}
HEADLINE = tuple(METRICS)
CONFIDENCE = 0.95
# how each headline's 95% interval is computed (key -> one sentence)
INTERVAL_METHODS: dict[str, str] = {
    "wilson": "Wilson score interval of a binomial share over the sampled violations",
    "order_statistic": "binomial order-statistic interval of a quantile over the sampled "
                       "violations",
    "replications": "mean over the raid replications plus or minus 1.96 standard errors "
                    "(normal approximation)",
    "exact": "no interval: computed exactly from the geometry and the stated formulas, "
             "with no sampling",
}
HEADLINE_METHOD: dict[str, str] = {
    "line_isr_cover_share": "exact",
    "detection_probability": "wilson",
    "ground_answered_share": "wilson",
    "air_intercept_share": "wilson",
    "protected_sites_air_defence_share": "exact",
    "raid_largest_defeated_share": "replications",
}


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial share."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def quantile_ci(x: NDArray, q: float, z: float = Z95) -> dict[str, float | None]:
    """A quantile of the finite values of ``x`` with its order-statistic 95% interval."""
    v = np.sort(x[np.isfinite(x)])
    n = len(v)
    if n == 0:
        return {"value": None, "low": None, "high": None}
    half = z * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half)))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return {"value": float(np.quantile(v, q)), "low": float(v[lo]), "high": float(v[hi])}


def share(mask: NDArray) -> dict[str, float | None]:
    """A share with its Wilson interval; all None when there is nothing to share."""
    k, n = int(mask.sum()), int(mask.size)
    if n == 0:
        return {"value": None, "low": None, "high": None}
    lo, hi = wilson(k, n)
    return {"value": k / n, "low": lo, "high": hi}


def headline_intervals(metrics: dict[str, Any], shares: dict[str, dict[str, float | None]]
                       ) -> dict[str, dict[str, Any]]:
    """Each headline's value, 95% interval and method (:data:`HEADLINE_METHOD`): ``shares``
    gives the sampled ones; the largest raid's comes from its replications."""
    out: dict[str, dict[str, Any]] = {}
    for k in HEADLINE:
        method = HEADLINE_METHOD[k]
        lo: float | None = None
        hi: float | None = None
        if method == "wilson":
            lo, hi = shares[k]["low"], shares[k]["high"]
        elif method == "replications" and metrics["raids"]:
            lo, hi = metrics["raids"][-1]["defeated_share_ci"]
        out[k] = {"value": metrics[k], "low": lo, "high": hi, "method": method}
    return out


@dataclass
class VariantResult:
    """Everything one variant produced: figures for results.json and arrays for the plots."""

    name: str
    description: str
    dropped: list[tuple[str, str]]
    metrics: dict[str, Any]
    force: list[ForceRow]
    gaps: dict[str, float]
    coverage: Coverage
    assets: Any
    v_lat: NDArray = field(repr=False)
    v_lon: NDArray = field(repr=False)
    v_type: NDArray = field(repr=False)
    t_detect: NDArray = field(repr=False)
    t_response: NDArray = field(repr=False)
    in_ad: NDArray = field(repr=False)
    t_intercept: NDArray = field(repr=False, default_factory=lambda: np.empty(0))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "dropped_pledges": [{"pledge": p, "reason": r} for p, r in self.dropped],
            **self.metrics,
            "gaps": self.gaps,
            "force_generation": [r.as_dict() for r in self.force],
        }

    def headline(self) -> dict[str, float]:
        """The headline metrics (NaN where a variant has no violation of that class)."""
        return {k: math.nan if self.metrics[k] is None else float(self.metrics[k])
                for k in HEADLINE}


def _pools(rv: ResolvedVariant, assets: Assets) -> dict[str, dict[str, float]]:
    """Erlang loss of the quick-reaction pool and of the fighter pairs."""
    th = rv.threat
    wsum = sum(t.weight for t in th.types)
    ground_share = sum(t.weight for t in th.types if t.target_class == "ground") / wsum
    lam = {"ground": th.violations_per_day * ground_share,
           "air": th.violations_per_day * (1.0 - ground_share)}
    qrf = assets.of_role("ground_force")
    units = int(qrf.qrf_units.sum())
    task_h = float(np.average(qrf.task_h, weights=qrf.qrf_units)) if units else 0.0
    fighters = assets.of_role("fighter")
    pairs = int(math.floor(float((fighters.jets * fighters.readiness).sum()) / 2.0))
    sortie_h = float(np.average(fighters.sortie_h, weights=fighters.jets)) if len(fighters) else 0
    out = {}
    for name, c, h, lm in (("ground", units, task_h, lam["ground"]),
                           ("air", pairs, sortie_h, lam["air"])):
        load = lm * h / 24.0
        out[name] = {"units": c, "tasks_per_day": lm, "hours_per_task": h,
                     "offered_load_erlang": load, "all_busy": capacity.erlang_b(c, load)}
    return out


def raid_force(rv: ResolvedVariant, assets: Assets, cov: Coverage) -> capacity.RaidForce:
    """The raid model's inputs for this variant (see :mod:`truceguard.plan.capacity`)."""
    ua = rv.scenario.ukraine
    ad = assets.of_role("air_defence")
    sites = cov.sites
    cover = np.zeros((len(sites), len(ad)), dtype=bool)
    if len(ad) and len(sites):
        cover = (unit_vectors(sites.lat, sites.lon) @ unit_vectors(ad.lat, ad.lon).T
                 ) >= cos_of_distance(ad.ad_range_m)[None, :]
    fighters = assets.of_role("fighter")
    duration = rv.scenario.raids.duration_h
    shots = capacity.fighter_shots(fighters.jets, fighters.readiness.astype(float),
                                   fighters.sorties_per_day, fighters.shots_per_sortie, duration)
    w = fighters.jets if len(fighters) else np.ones(1)
    fpk = np.array([np.average(fighters.pk_drone, weights=w) if len(fighters) else 0.0,
                    np.average(fighters.pk_missile, weights=w) if len(fighters) else 0.0])
    air = sorted((t for t in rv.threat.types if t.target_class == "air"),
                 key=lambda t: t.speed_kmh)
    speeds = (air[0].speed_kmh, air[-1].speed_kmh) if air else (185.0, 800.0)
    spec = rv.scenario.line_spec
    key = (spec["shipped"], spec.get("date", ""), rv.scenario.hostile[:2], speeds,
           ua.air_warning_min, tuple(map(tuple, np.column_stack(
               [fighters.lat, fighters.lon, fighters.speed_kmh, fighters.react_min,
                fighters.reach_m, fighters.standoff_km]).tolist())))
    reach = _reach_table(key)
    return capacity.RaidForce(
        cover, capacity.raid_stock(ad.interceptors, ad.reloads_per_raid),
        np.column_stack([ad.pk_drone, ad.pk_missile]) if len(ad) else np.zeros((0, 2)),
        np.column_stack([ad.shots_per_drone, ad.shots_per_missile]).astype(int)
        if len(ad) else np.zeros((0, 2), dtype=int),
        shots, fpk, reach, np.array([ua.drone_defeat_share, ua.missile_defeat_share]))


@lru_cache(maxsize=32)
def _reach_table(key: tuple[Any, ...]) -> NDArray:
    """(2, entries, sites): can a fighter meet a drone (0) or missile (1) entering at each of
    the line's entry points and flying to each protected site? Cached: the sensitivity runs
    that leave the fighters alone reuse it."""
    from truceguard.plan.coverage import _line_points

    shipped, date, hostile, speeds, warning, rows = key
    sites = protected_sites()
    lat, lon, _ = _line_points(shipped, date)
    pick = np.linspace(0, len(lat) - 1, RAID_ENTRIES).round().astype(int)
    reach = np.zeros((2, RAID_ENTRIES, len(sites)), dtype=bool)
    if not rows or not len(sites):
        return reach
    f = np.array(rows, dtype=float)
    fighters = Assets(**{k: np.zeros(len(f)) for k in Assets.__dataclass_fields__})
    fighters = replace(fighters, lat=f[:, 0], lon=f[:, 1], speed_kmh=f[:, 2], react_min=f[:, 3],
                       reach_m=f[:, 4], standoff_km=f[:, 5])
    e, s = np.meshgrid(pick, np.arange(len(sites)), indexing="ij")
    e, s = e.ravel(), s.ravel()
    for kind, speed in enumerate(speeds):
        t = intercept_minutes(fighters, hostile, lat[e], lon[e], sites.lat[s], sites.lon[s],
                              np.full(len(e), speed), np.full(len(e), warning))
        reach[kind] = np.isfinite(t).reshape(RAID_ENTRIES, len(sites))
    return reach


def run_raids(rv: ResolvedVariant, assets: Assets, cov: Coverage, seed: int,
              replications: int | None = None, largest_only: bool = False
              ) -> list[dict[str, Any]]:
    """Every raid size of the scenario (or only the largest), replicated; one summary per
    size."""
    force = raid_force(rv, assets, cov)
    reps = replications or rv.scenario.raids.replications
    out = []
    weights = np.ones(max(1, len(cov.sites)))
    sizes = list(enumerate(rv.scenario.raids.sizes))
    for i, (drones, missiles) in sizes[-1:] if largest_only else sizes:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 5, i]))
        d = capacity.raid_draws(rng, reps, drones, missiles, weights, RAID_ENTRIES)
        out.append(capacity.summarise(capacity.run_raids(force, d), drones, missiles,
                                      cov.sites.name))
    return out


def run_variant(
    rv: ResolvedVariant, samples: int, seed: int, threads: int | None = None,
    progress: Callable[[int], None] | None = None, raid_replications: int | None = None,
    largest_raid_only: bool = False,
) -> VariantResult:
    """Run one resolved variant with ``samples`` violations; the same seed, the same result.

    Violations come from the seed alone (every variant with the same threat faces the same
    violations); availability, Ukraine's layer, fighters and raids draw from their own streams.
    """
    if samples <= 0:
        raise ValueError("samples must be positive")
    scen = rv.scenario
    req = rv.requirements
    within = float(req["detect_within_min"].value)
    answer_within = float(req["answer_within_min"].value)
    assets = build_assets(rv)
    cov = coverage(rv, assets)
    rows = force_table(rv, cov)
    pools = _pools(rv, assets)

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, k]))

    viol = sample_violations(rv, samples, rng(1))
    draws = draw_availability(len(assets), samples, rng(2))
    free = np.where(assets.role == "ground_force", 1.0 - pools["ground"]["all_busy"], 1.0)
    kernel = build_kernel(assets, rv.threat.types, free)
    t_det, t_qrf, in_ad = evaluate(kernel, viol.unit, viol.type_idx, draws, threads=threads,
                                   progress=progress)
    types = rv.threat.types
    is_air = np.array([t.target_class == "air" for t in types])[viol.type_idx]
    # Ukraine's forces at the line: answer a ground violation after their reaction time, with
    # the chance their density at the line allows.
    ua = scen.ukraine
    line_km = float(cov.line_weight.sum() / 1000.0)
    density = ua.troops * ua.share_at_line / max(line_km, 1e-9)
    p_ua = min(1.0, density / ua.reference_troops_per_km)
    t_ua = np.where(rng(3).random(samples) < p_ua, ua.react_min, np.inf)
    t_ground = np.where(is_air, np.inf, np.minimum(t_ua, t_qrf))
    # Air threats: fighters along the path, cued by the monitoring sensors or Ukraine's warning.
    fighters = assets.of_role("fighter")
    t_int = np.full(samples, np.inf)
    air_idx = np.flatnonzero(is_air)
    if len(air_idx) and len(fighters):
        sites = protected_sites()
        tgt = viol.target[air_idx]
        avail = rng(4).random((len(fighters), len(air_idx))) < (
            fighters.readiness.astype(float) * (1.0 - pools["air"]["all_busy"]))[:, None]
        speed = np.array([t.speed_kmh for t in types])[viol.type_idx[air_idx]]
        cue = np.minimum(t_det[air_idx], ua.air_warning_min)
        t_int[air_idx] = intercept_minutes(fighters, scen.hostile, viol.lat[air_idx],
                                           viol.lon[air_idx], sites.lat[tgt], sites.lon[tgt],
                                           speed, cue, avail)
    detected = t_det <= within
    ground = ~is_air
    raids = run_raids(rv, assets, cov, seed, raid_replications, largest_raid_only)
    per_type = {}
    for i, t in enumerate(types):
        sel = viol.type_idx == i
        per_type[t.name] = {
            "class": t.target_class,
            "samples": int(sel.sum()),
            "line_detect_share": cov.share(cov.line_detect[t.name]),
            "detection_probability": share(detected[sel]),
            ("intercepted_share" if t.target_class == "air" else "answered_share"): share(
                (np.isfinite(t_int) if t.target_class == "air"
                 else t_ground <= answer_within)[sel]),
        }
    air_int = np.isfinite(t_int[is_air])
    metrics: dict[str, Any] = {
        "samples": samples,
        "seed": seed,
        "assets": len(assets),
        "line_km": line_km,
        "detect_within_min": within,
        "answer_within_min": answer_within,
        "line_isr_cover_share": cov.share(cov.line_ground_detect),
        "detection_probability": float(detected.mean()),
        "detection_probability_ci": list(wilson(int(detected.sum()), samples)),
        "ground_answered_share": float((t_ground[ground] <= answer_within).mean())
        if ground.any() else None,
        "air_intercept_share": float(air_int.mean()) if is_air.any() else None,
        "line_response_30min_share": float((t_int[is_air] <= 30.0).mean()) if is_air.any()
        else 0.0,
        "line_response_60min_share": float((t_int[is_air] <= 60.0).mean()) if is_air.any()
        else 0.0,
        "protected_sites_air_defence_share": float(cov.sites_covered.mean())
        if len(cov.sites_covered) else 0.0,
        "protected_sites": int(len(cov.sites_covered)),
        "raid_largest_defeated_share": float(raids[-1]["defeated_share"]) if raids else 0.0,
        "time_to_detect_min": {f"p{int(q * 100)}": quantile_ci(t_det, q) for q in QUANTILES},
        "time_to_response_min": {f"p{int(q * 100)}": quantile_ci(t_ground[ground], q)
                                 for q in QUANTILES},
        "time_to_first_intercept_min": {f"p{int(q * 100)}": quantile_ci(t_int[is_air], q)
                                        for q in QUANTILES},
        "by_type": per_type,
        "layers": {
            "ukraine": {
                "troops": ua.troops, "share_at_line": ua.share_at_line,
                "troops_at_line_per_km": density,
                "reference_troops_per_km": ua.reference_troops_per_km,
                "answer_probability": p_ua, "react_min": ua.react_min,
                "air_warning_min": ua.air_warning_min,
                "drone_defeat_share": ua.drone_defeat_share,
                "missile_defeat_share": ua.missile_defeat_share,
                "ground_answered_share": share(t_ua[ground] <= answer_within),
            },
            "reassurance_force": {
                "troops": float(assets.of_role("ground_force").troops.sum()),
                "quick_reaction": pools["ground"],
                "ground_answered_share": share(t_qrf[ground] <= answer_within),
                "time_to_arrive_min": quantile_ci(t_qrf[ground], 0.5),
            },
            "monitoring": {
                "sensors": int(((assets.role == "sensor")).sum()),
                "line_ground_detect_share": cov.share(cov.line_ground_detect),
                "detection_probability": share(detected),
                "time_to_detect_min": quantile_ci(t_det, 0.5),
            },
            "air": {
                "fighters": float(fighters.jets.sum()),
                "pairs": pools["air"],
                "intercepted_before_target": share(air_int) if is_air.any() else None,
                "time_to_first_intercept_min": quantile_ci(t_int[is_air], 0.5),
            },
            "air_defence": {
                "batteries": int((assets.role == "air_defence").sum()),
                "sites_in_range_share": float(cov.sites_covered.mean())
                if len(cov.sites_covered) else 0.0,
                "sites_out_of_range": [str(n) for n, c in
                                       zip(cov.sites.name, cov.sites_covered, strict=True)
                                       if not c],
            },
        },
        "raids": raids,
        "threat": threat_record(rv),
    }
    metrics["intervals"] = headline_intervals(metrics, {
        "detection_probability": share(detected),
        "ground_answered_share": share(t_ground[ground] <= answer_within),
        "air_intercept_share": share(air_int)})
    return VariantResult(rv.name, rv.description, list(rv.dropped), metrics, rows, gaps(rows),
                         cov, assets, viol.lat, viol.lon, viol.type_idx, t_det, t_ground, in_ad,
                         t_int)


def threat_record(rv: ResolvedVariant) -> dict[str, Any]:
    """``threat: {source, n_events}`` for results.json (events: the Minsk-era history or the
    store's violations)."""
    from truceguard.plan.simulate import minsk_events

    th = rv.threat
    n = len(minsk_events()[0]) if th.source == "history" else len(th.events)
    return {"source": "store" if th.source == "events" else th.source, "n_events": n,
            "label": th.label or th.note}
