"""One variant, end to end: assets, coverage, the violations' Monte Carlo, and the layers.

:func:`run_variant` is the single code path that the local run, the Dask sweep, the
sensitivity analyses and the tests share; its result holds plain numbers (``metrics``, with
``layers``, ``raids``, ``campaign``, ``force_pools`` and ``exchange``) and the per-violation
arrays for plots. Every headline is defined in one sentence in :data:`METRICS`:

- the monitoring sensors watch the line and detect violations (coverage, with satellites'
  swath, night, cloud and latency from :mod:`truceguard.plan.isr`);
- a land breach at a point of the line is contained within 72 hours
  (:mod:`truceguard.plan.breach`);
- fighters meet drones and missiles before their targets, cued by Ukraine's air warning,
  longer with the US intelligence feed (:func:`truceguard.plan.isr.air_warning_minutes`,
  drawn over its range per sample), or by the monitoring sensors, whichever is first;
- every air-defence layer, with magazines and saturation, defeats the largest raid and the
  last raid of a campaign (:mod:`truceguard.plan.raid`; the glue is
  :mod:`truceguard.plan.layers`).

For the map, a variant's results also place what they count (plain data, lon/lat):
``layers.air_defence.sites`` (each protected site, whether a pledged battery covers it and
which, and the raid model's cover of its target sets; :func:`site_records`),
``asset_positions`` (each pledge's units where they stand, with their range;
:func:`asset_positions`) and ``layers.monitoring.line_segments`` (the line in stretches of
about 20 km, each with the share watched; :func:`line_segments`).

Intervals (95%, :data:`INTERVAL_METHODS`): Wilson score intervals for shares of sampled
violations or breaches, binomial order-statistic intervals for quantiles, the central 95% of
the replications for raids; each headline carries its interval and method in
``metrics["intervals"]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.plan import capacity, layers
from truceguard.plan.coverage import Assets, Coverage, build_assets, coverage
from truceguard.plan.forcegen import ForceRow, campaign_pools, force_table, gaps
from truceguard.plan.intercept import intercept_minutes
from truceguard.plan.scenario import ResolvedVariant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations
from truceguard.plan.sites import protected_sites
from truceguard.plan.stats import Z95, wilson

QUANTILES = (0.1, 0.5, 0.9)

# key -> (label, one-sentence definition, what it includes)
METRICS: dict[str, tuple[str, str, str]] = {
    "line_isr_cover_share": (
        "monitoring: line watched (ground)",
        "Probability, averaged along the line and over the time of day, that the monitoring "
        "sensors report a ground violation within the stated detection time; satellites image "
        "only their swath, optical ones only by day and under clear sky, after their tasking "
        "latency.", "geometry, patterns, readiness and satellite physics; no Monte Carlo"),
    "detection_probability": (
        "monitoring: violations detected",
        "Share of sampled violations that the monitoring sensors report within the stated "
        "detection time.", "Monte Carlo with availability"),
    "breach_contained_72h_share": (
        "land breach contained within 72 h",
        "Share of sampled breaches at a point of the line where the defenders at the point "
        "(Ukraine's forces at the line and its reserves, then the reassurance force once the "
        "capitals decide and it arrives) reach a third of the attacker within 72 hours.",
        "breach Monte Carlo over the breach block's ranges"),
    "air_intercept_share": (
        "air threats met by a fighter before the target",
        "Share of sampled drones and missiles that an available fighter meets on their path, "
        "beyond its stand-off from hostile territory, before they reach their target; the "
        "fighters are cued by Ukraine's air warning (longer with the US intelligence feed) or "
        "by the monitoring sensors, whichever comes first.",
        "Monte Carlo with availability, capacity and the air warning's range"),
    "raid_largest_defeated_share": (
        "largest raid defeated",
        "Share of the largest raid's drones, decoys and missiles destroyed or suppressed by "
        "every air-defence layer (Ukraine's fitted on the raids of 2025, the coalition's and "
        "the US's as pledged), with magazines, reloads and saturation.",
        "raid Monte Carlo over the calibration's bootstrap draws"),
    "raid_campaign_last_defeated_share": (
        "last raid of a campaign defeated",
        "Share defeated of the campaign's raid the last time it comes, after the campaign's "
        "earlier raids have drawn the magazines down (resupplied between raids).",
        "raid Monte Carlo with magazines carried from raid to raid"),
}
HEADLINE = tuple(METRICS)
CONFIDENCE = 0.95
# how each headline's 95% interval is computed (key -> one sentence)
INTERVAL_METHODS: dict[str, str] = {
    "wilson": "Wilson score interval of a binomial share over the sampled violations (or "
              "breaches)",
    "order_statistic": "binomial order-statistic interval of a quantile over the sampled "
                       "violations",
    "replications": "the central 95% of the raid's replications (2.5th to 97.5th "
                    "percentile) over the calibration's bootstrap draws: the spread of "
                    "outcomes; the value is their median",
    "exact": "no interval: computed exactly from the geometry and the stated formulas, "
             "with no sampling",
}
HEADLINE_METHOD: dict[str, str] = {
    "line_isr_cover_share": "exact",
    "detection_probability": "wilson",
    "breach_contained_72h_share": "wilson",
    "air_intercept_share": "wilson",
    "raid_largest_defeated_share": "replications",
    "raid_campaign_last_defeated_share": "replications",
}


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
    gives the sampled ones (violations and breaches); the raids' come from their
    replications."""
    reps = {"raid_largest_defeated_share": (metrics["raids"][-1]["defeated_share"]
                                            if metrics["raids"] else None),
            "raid_campaign_last_defeated_share": (metrics["campaign"] or {}).get("last")}
    out: dict[str, dict[str, Any]] = {}
    for k in HEADLINE:
        method = HEADLINE_METHOD[k]
        lo: float | None = None
        hi: float | None = None
        if method == "wilson":
            lo, hi = shares[k]["low"], shares[k]["high"]
        elif method == "replications":
            rep = reps[k]
            if rep:
                lo, hi = rep["low"], rep["high"]
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


def _air_defence_layer(st: Any, cov: Coverage, assets: Assets) -> dict[str, Any]:
    """The pledged batteries: geometry (sites in range) and, per fire-unit group of the raid
    model, the target sets it covers for each threat class (none: it stands where no raid
    aims)."""
    groups = []
    for lay in st.layers:
        for g in lay.groups:
            covers = {c: sorted(t for t, v in per.items() if v > 0) for c, per in g.cover.items()}
            groups.append({"layer": lay.name, "group": g.label, "system": g.system.name,
                           "fire_units": g.count, "covers": covers,
                           "covers_nothing": not any(covers.values())})
    return {
        "batteries": int((assets.role == "air_defence").sum()),
        "sites_in_range_share": float(cov.sites_covered.mean()) if len(cov.sites_covered)
        else 0.0,
        "sites_out_of_range": [str(n) for n, c in zip(cov.sites.name, cov.sites_covered,
                                                      strict=True) if not c],
        "fire_unit_groups": groups,
        "belarus_hostile": st.belarus_hostile,
        "targeting": st.targeting,
        "notes": list(st.notes),
        "sites": site_records(st, cov, assets),
    }


# -- positions for the map -------------------------------------------------------------------
SEGMENT_POINTS = 10  # line points (2 km apart) per mapped stretch of line: about 20 km
US_CONDITION_PREFIX = "us_"  # a scenario condition on US support (us_backstop, us_isr)


def site_records(st: Any, cov: Coverage, assets: Assets) -> list[dict[str, Any]]:
    """Each protected site of ``cov`` (its order) for the map: ``name``, ``kind``,
    ``status``, ``lat``/``lon``; ``covered`` (a pledged battery within its engagement range:
    what ``sites_in_range_share`` counts) and ``covered_by`` (those batteries' pledges, each
    once); ``target_sets`` (the raid model's target sets the site lies in: within a set's
    site radius of one of its points) and ``raid_cover``: per fire-unit group of ``st`` that
    covers one of those sets, its ``layer``, ``group``, ``system`` and ``share`` (per threat
    class, the share of the set it covers, the largest over the site's sets; the raid
    model's point cover, no sampling)."""
    from truceguard.geo.radar import cos_of_distance, unit_vectors
    from truceguard.geo.sphere import haversine_m
    from truceguard.plan.raid import target_sets

    sites = cov.sites
    ad = assets.of_role("air_defence")
    if len(sites) and len(ad):  # the geometry of ``coverage``'s sites_covered, per battery
        in_range = (unit_vectors(sites.lat, sites.lon) @ unit_vectors(ad.lat, ad.lon).T) >= (
            cos_of_distance(ad.ad_range_m))
    else:
        in_range = np.zeros((len(sites), len(ad)), dtype=bool)
    member: dict[str, NDArray] = {}
    for ts in target_sets().values():
        pts = np.array(ts.points, dtype=float).reshape(-1, 2)
        d = haversine_m(sites.lat[:, None], sites.lon[:, None], pts[None, :, 0],
                        pts[None, :, 1])
        member[ts.name] = np.asarray((d <= 1000.0 * ts.site_radius_km).any(axis=1))
    out = []
    for i in range(len(sites)):
        sets = [n for n, m in member.items() if m[i]]
        cover = []
        for lay in st.layers:
            for g in lay.groups:
                share = {c: round(float(max((per.get(n, 0.0) for n in sets), default=0.0)), 6)
                         for c, per in g.cover.items()}
                share = {c: v for c, v in share.items() if v > 0}
                if share:
                    cover.append({"layer": lay.name, "group": g.label,
                                  "system": g.system.name, "share": share})
        out.append({
            "name": str(sites.name[i]), "kind": str(sites.kind[i]),
            "status": str(sites.status[i]), "lat": float(sites.lat[i]),
            "lon": float(sites.lon[i]), "covered": bool(cov.sites_covered[i]),
            "covered_by": list(dict.fromkeys(str(p) for p in ad.pledge[in_range[i]])),
            "target_sets": sets, "raid_cover": cover})
    return out


def asset_positions(rv: ResolvedVariant, assets: Assets) -> list[dict[str, Any]]:
    """The assets in force where they stand, for the map: one entry per pledge and place
    (in the order of ``assets``): ``pledge``, ``nation``, ``capability``, ``role``,
    ``pattern`` (mast, orbit or satellite for sensors), ``place``, ``lat``/``lon``, ``units``
    (sensor units or batteries there), ``jets``, ``troops``; ``range_km`` and what it is
    (``range_kind``: a sensor's detection range, a battery's engagement range, a fighter's or
    a ground force's reach), ``radar_range_km`` (a battery's radar); ``requires`` (the
    scenario conditions the pledge depends on) and ``us_dependent`` (a US pledge, or one that
    requires a condition on US support, ``us_*``)."""
    pledges = {p.id: p for p in rv.pledges}
    kinds = {"sensor": ("range_m", "detection"), "air_defence": ("ad_range_m", "engagement"),
             "fighter": ("reach_m", "reach"), "ground_force": ("reach_m", "reach")}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i in range(len(assets)):
        pledge, place = str(assets.pledge[i]), str(assets.place[i])
        row = out.get((pledge, place))
        if row is None:
            role = str(assets.role[i])
            col, kind = kinds.get(role, ("range_m", "detection"))
            requires = list(pledges[pledge].requires) if pledge in pledges else []
            nation = str(assets.nation[i])
            row = out[(pledge, place)] = {
                "pledge": pledge, "nation": nation, "capability": str(assets.capability[i]),
                "role": role, "pattern": str(assets.pattern[i]), "place": place,
                "lat": float(assets.lat[i]), "lon": float(assets.lon[i]), "units": 0,
                "jets": 0.0, "troops": 0.0,
                "range_km": float(getattr(assets, col)[i]) / 1000.0, "range_kind": kind,
                "radar_range_km": float(assets.range_m[i]) / 1000.0
                if role == "air_defence" else None,
                "requires": requires,
                "us_dependent": nation == "USA" or any(
                    c.startswith(US_CONDITION_PREFIX) for c in requires)}
        row["units"] += 1
        row["jets"] += float(assets.jets[i])
        row["troops"] += float(assets.troops[i])
    return list(out.values())


def line_segments(cov: Coverage) -> list[dict[str, Any]]:
    """The line in stretches of :data:`SEGMENT_POINTS` points (about 20 km), never across a
    gap between two parts of the line: each with ``coordinates`` ([lon, lat] of its points,
    and the next point of its part so that stretches join; a part of one point has one),
    ``length_km``, ``watched_share`` (what ``line_isr_cover_share`` averages along the whole
    line, averaged along the stretch: their length-weighted mean is that headline) and
    ``by_type`` (per threat type, the probability that the sensors report it within the
    detection time, averaged along the stretch)."""
    from truceguard.geo.sphere import haversine_m

    lat, lon, w = cov.line_lat, cov.line_lon, cov.line_weight
    n = len(lat)
    if n == 0:
        return []
    step = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    # consecutive points of one part stand about one spacing apart; a gap starts a new part
    gap = np.flatnonzero(step > 1.5 * np.maximum(w[:-1], w[1:])) + 1
    out = []
    for a, b in zip(np.r_[0, gap], np.r_[gap, n], strict=True):
        starts = list(range(int(a), int(b), SEGMENT_POINTS))
        if len(starts) > 1 and int(b) - starts[-1] == 1:
            starts.pop()  # a last stretch of one point joins the one before
        for k, s in enumerate(starts):
            e = starts[k + 1] if k + 1 < len(starts) else int(b)
            shown = min(e + 1, int(b))  # and the next point of the part
            ww = w[s:e]
            total = float(ww.sum())

            def mean(v: NDArray, s: int = s, e: int = e, ww: NDArray = ww,
                     total: float = total) -> float:
                return round(float((v[s:e] * ww).sum() / total), 4) if total > 0 else 0.0

            out.append({
                "coordinates": [[round(float(x), 4), round(float(y), 4)]
                                for x, y in zip(lon[s:shown], lat[s:shown], strict=True)],
                "length_km": round(total / 1000.0, 3),
                "watched_share": mean(cov.line_ground_detect),
                "by_type": {t: mean(p) for t, p in cov.line_detect.items()}})
    return out


def _intercepts(rv: ResolvedVariant, assets: Assets, viol: Any, t_det: NDArray,
                is_air: NDArray, busy: float, rng: np.random.Generator
                ) -> tuple[NDArray, dict[str, Any]]:
    """Minutes from the crossing to the first fighter intercept (inf: none), the fighters
    cued at ``min(sensor report, -air warning)``: the warning (minutes before the threat
    reaches Ukraine's airspace) is drawn per threat over its range."""
    warn = layers.air_warning(rv)
    fighters = assets.of_role("fighter")
    t_int = np.full(len(is_air), np.inf)
    air_idx = np.flatnonzero(is_air)
    if len(air_idx) and len(fighters):
        types = rv.threat.types
        sites = protected_sites()
        tgt = viol.target[air_idx]
        avail = rng.random((len(fighters), len(air_idx))) < (
            fighters.readiness.astype(float) * (1.0 - busy))[:, None]
        speed = np.array([t.speed_kmh for t in types])[viol.type_idx[air_idx]]
        warning = rng.uniform(warn["low"], warn["high"], len(air_idx))
        cue = np.minimum(t_det[air_idx], -warning)
        t_int[air_idx] = intercept_minutes(fighters, rv.scenario.hostile, viol.lat[air_idx],
                                           viol.lon[air_idx], sites.lat[tgt], sites.lon[tgt],
                                           speed, cue, avail)
    return t_int, warn


def run_variant(
    rv: ResolvedVariant, samples: int, seed: int, threads: int | None = None,
    progress: Callable[[int], None] | None = None, raid_replications: int | None = None,
    largest_raid_only: bool = False, headlines_only: bool = False,
) -> VariantResult:
    """Run one resolved variant with ``samples`` violations; the same seed, the same result.

    Violations come from the seed alone (every variant with the same threat faces the same
    violations); availability, fighters, the air warning, raids and breaches draw from their
    own streams. ``raid_replications`` overrides the scenario's replications of each raid
    (and of the campaign); ``largest_raid_only`` runs only the largest raid of the curve;
    ``headlines_only`` (what the sensitivity analyses ask) also leaves out what no headline
    needs: the breach by force size, the satellites' day and night, the force pools, the
    positions the map draws (the line's stretches, the assets).
    """
    if samples <= 0:
        raise ValueError("samples must be positive")
    full = not headlines_only
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
    ground = ~is_air
    t_ground = np.where(is_air, np.inf, t_qrf)
    t_int, warn = _intercepts(rv, assets, viol, t_det, is_air, pools["air"]["all_busy"],
                              rng(4))
    detected = t_det <= within
    st = layers.raid_setting(rv)
    raids = layers.raid_curve(rv, st, seed, raid_replications,
                              largest_raid_only or headlines_only)
    camp = layers.campaign_record(rv, st, seed, raid_replications)
    breach = layers.breach_layer(rv, samples, seed, full)
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
    ua = rv.scenario.ukraine
    line_km = float(cov.line_weight.sum() / 1000.0)
    fighters = assets.of_role("fighter")
    c72 = breach["contained"][layers.contained_key()]
    metrics: dict[str, Any] = {
        "samples": samples,
        "seed": seed,
        "assets": len(assets),
        "line_km": line_km,
        "detect_within_min": within,
        "answer_within_min": answer_within,
        "raid_duration_h": rv.scenario.raids.duration_h,
        "line_isr_cover_share": cov.share(cov.line_ground_detect),
        "detection_probability": float(detected.mean()),
        "detection_probability_ci": list(wilson(int(detected.sum()), samples)),
        "breach_contained_72h_share": c72["value"],
        "air_intercept_share": float(air_int.mean()) if is_air.any() else None,
        "raid_largest_defeated_share": raids[-1]["defeated_share"]["value"],
        "raid_campaign_last_defeated_share": camp["last"]["value"],
        "line_response_30min_share": float((t_int[is_air] <= 30.0).mean()) if is_air.any()
        else 0.0,
        "line_response_60min_share": float((t_int[is_air] <= 60.0).mean()) if is_air.any()
        else 0.0,
        "protected_sites_air_defence_share": float(cov.sites_covered.mean())
        if len(cov.sites_covered) else 0.0,
        "protected_sites": int(len(cov.sites_covered)),
        "time_to_detect_min": {f"p{int(q * 100)}": quantile_ci(t_det, q) for q in QUANTILES},
        "time_to_response_min": {f"p{int(q * 100)}": quantile_ci(t_ground[ground], q)
                                 for q in QUANTILES},
        "time_to_first_intercept_min": {f"p{int(q * 100)}": quantile_ci(t_int[is_air], q)
                                        for q in QUANTILES},
        "by_type": per_type,
        "layers": {
            "ukraine": {
                "troops": ua.troops, "share_at_line": ua.share_at_line,
                "troops_at_line_per_km": ua.troops * ua.share_at_line / max(line_km, 1e-9),
                "air_warning_min": warn,
                "air_defence": "fitted on the raids of 2025 (docs/raid-calibration.md)",
            },
            "reassurance_force": {
                "troops": float(assets.of_role("ground_force").troops.sum()),
                "quick_reaction": pools["ground"],
                "ground_answered_share": share(t_qrf[ground] <= answer_within),
                "time_to_arrive_min": quantile_ci(t_qrf[ground], 0.5),
            },
            "land_breach": breach,
            "monitoring": {
                "sensors": int(((assets.role == "sensor")).sum()),
                "line_ground_detect_share": cov.share(cov.line_ground_detect),
                "detection_probability": share(detected),
                "time_to_detect_min": quantile_ci(t_det, 0.5),
                "satellites": layers.isr_layer(rv, within, layers.persists_min(rv))
                if full else None,
                "line_segments": line_segments(cov) if full else None,
            },
            "air": {
                "fighters": float(fighters.jets.sum()),
                "pairs": pools["air"],
                "air_warning_min": warn,
                "intercepted_before_target": share(air_int) if is_air.any() else None,
                "time_to_first_intercept_min": quantile_ci(t_int[is_air], 0.5),
            },
            "air_defence": _air_defence_layer(st, cov, assets),
        },
        "raids": raids,
        "campaign": camp,
        "exchange": raids[-1]["exchange"],
        "force_pools": [r.as_dict() for r in campaign_pools(rv)] if full else [],
        "threat": threat_record(rv),
        "asset_positions": asset_positions(rv, assets) if full else [],
    }
    metrics["intervals"] = headline_intervals(metrics, {
        "detection_probability": share(detected),
        "breach_contained_72h_share": c72,
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
