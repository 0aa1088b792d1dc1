"""The plan's air-defence, land and ISR layers: raids, a campaign, a land breach, satellites.

:func:`truceguard.plan.run.run_variant` calls these for one resolved variant; each returns
plain data for ``results.json``.

- **Raids** (:func:`raid_curve`): every raid composition of the scenario's ``raids`` block
  through :mod:`truceguard.plan.raid` (Ukraine's layer fitted on 2025, the coalition's and the
  US's from the pledges, magazines and saturation). Each size carries the share defeated
  (median of the replications, with their central 90% and 95%), the means by class, layer and
  interceptor, and the exchange ratio of what was spent against what was destroyed
  (:func:`exchange`).
- **Campaign** (:func:`campaign_shares`): one raid repeated, the magazines carried from raid to
  raid with their resupply, per replication (so each raid's share has an interval); blocks of
  replications use the calibration's bootstrap draws, as :func:`truceguard.plan.raid.simulate`
  does.
- **Land breach** (:func:`breach_layer`): :mod:`truceguard.plan.breach` at the pledged size,
  and, in a full run, the table by force size, each containment share with its Wilson 95%
  interval.
- **ISR** (:func:`isr_layer`): the satellites in force and the European and commercial
  alternatives, line watched all day, by day and by night, within the detection time and
  within a day (:mod:`truceguard.plan.isr`; exact: no sampling).
- **Air warning** (:func:`air_warning`): the minutes of warning before air threats reach
  Ukraine's airspace, with or without the US feed, as a range the run draws from.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.plan.breach import HORIZONS_H, breach_model, breach_report
from truceguard.plan.raid import CLASSES, Raid, Setting, make_raid, setting_for
from truceguard.plan.scenario import ResolvedVariant
from truceguard.plan.stats import wilson

BREACH_SAMPLES = 4_000
DRAWS_PER_FIT = 10
# interceptor names of plan/airdefence.py -> unit costs of data/forces/costs.yaml
COST_KEYS = {"pac3_gemt": "pac3", "aster30": "aster30"}
ISR_WITHIN_DAY_H = 24.0
CAMPAIGN_REPLICATIONS = 60  # at most, per raid of a campaign (each is a whole raid, ten times)
CAMPAIGN_BLOCK = 20  # replications of a campaign per bootstrap draw (one draw: the best fit)


def spread(x: NDArray) -> dict[str, float]:
    """Median, mean, and the central 90% and 95% of replications."""
    q = np.quantile(x, [0.025, 0.05, 0.5, 0.95, 0.975]) if len(x) else [math.nan] * 5
    return {"value": float(q[2]), "mean": float(np.mean(x)) if len(x) else math.nan,
            "low": float(q[0]), "high": float(q[4]), "low90": float(q[1]),
            "high90": float(q[3])}


def raid_setting(rv: ResolvedVariant) -> Setting:
    """The layers in force for the variant, the warning and Belarus (raid.setting_for)."""
    return setting_for(rv)


def raid_of(size: tuple[int, int, int, int], st: Setting, duration_h: float) -> Raid:
    """A raid of ``(drones, decoys, cruise, ballistic)`` with the setting's targeting and
    Belarus switch."""
    d, dc, c, b = size
    return make_raid(d, dc, c, b, belarus_hostile=st.belarus_hostile, targeting=st.targeting,
                     duration_h=duration_h)


def _outcomes(raid: Raid, st: Setting, replications: int, seed: int) -> tuple[NDArray, dict]:
    from truceguard.plan.raid import simulate, summarise

    outs = simulate(raid, st, replications, seed, DRAWS_PER_FIT)
    shares = np.concatenate([o.defeated_share() for o in outs])
    return shares, summarise(outs, 0.90)


def exchange(summary: dict[str, Any]) -> dict[str, Any]:
    """The exchange ratio of one raid (means over its replications): dollars of priced
    interceptors fired by every layer (Patriot PAC-3, Aster 30) per dollar of threats
    destroyed by every layer (drones, cruise and ballistic missiles); what carries no
    published cost is listed in ``not_priced`` (medium-SAM missiles, the barrier's rounds,
    decoys) and left out."""
    from truceguard.plan.cost import exchange_ratio

    used: dict[str, float] = {}
    for kinds in summary["interceptors_used"].values():
        for k, v in kinds.items():
            name = COST_KEYS.get(k, k)
            used[name] = used.get(name, 0.0) + float(v)
    destroyed = {c: float(v["destroyed"]) for c, v in summary["by_class"].items()}
    out = exchange_ratio(used, destroyed).as_dict()
    out["interceptors_fired"] = used
    out["destroyed"] = destroyed
    return out


def raid_record(size: tuple[int, int, int, int], st: Setting, duration_h: float,
                replications: int, seed: int) -> dict[str, Any]:
    """One raid composition: the share defeated with its intervals, by class, layer and
    interceptor, the coalition's and the US's part, the exchange ratio."""
    raid = raid_of(size, st, duration_h)
    shares, s = _outcomes(raid, st, replications, seed)
    total = max(1, raid.total)
    force = sum(v["destroyed"] for k, v in s["layers"].items() if k != "ukraine")
    by_class = {c: {**v, "defeated_share": (v["destroyed"] + v["suppressed"])
                    / max(v["launched"], 1e-9)} for c, v in s["by_class"].items()}
    return {
        "drones": size[0], "decoys": size[1], "cruise": size[2], "ballistic": size[3],
        "threats": raid.total,
        "defeated_share": spread(shares),
        "defeated_by_force_share": force / total,
        "by_class": by_class,
        "layers": s["layers"],
        "interceptors_used": s["interceptors_used"],
        "exchange": exchange(s),
        "replications": int(len(shares)),
    }


def raid_curve(rv: ResolvedVariant, st: Setting, seed: int, replications: int | None = None,
               largest_only: bool = False) -> list[dict[str, Any]]:
    """Every raid size of the scenario (or only the largest), smallest first."""
    raids = rv.scenario.raids
    reps = replications or raids.replications
    sizes = list(enumerate(raids.sizes))
    out = []
    for i, size in sizes[-1:] if largest_only else sizes:
        out.append(raid_record(size, st, raids.duration_h, reps, seed * 1000 + 17 * i + 5))
    return out


def campaign_shares(raid: Raid, st: Setting, raids: int, days_between: float,
                    replications: int, seed: int) -> NDArray:
    """(raids, replications): the share of each raid defeated, magazines carried over with
    their resupply; each block of :data:`CAMPAIGN_BLOCK` replications uses one of the
    calibration's bootstrap draws for Ukraine's layer (a single block, the best fit)."""
    from truceguard.plan.airdefence import engage, full_stocks, resupply
    from truceguard.plan.calibrate import load_calibration, ukraine_layer
    from truceguard.plan.raid import draw_raid

    cal = load_calibration()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    per = max(CAMPAIGN_BLOCK, DRAWS_PER_FIT)
    blocks = max(1, replications // per)
    out = np.zeros((raids, replications))
    col = 0
    for k in range(blocks):
        n = per if k < blocks - 1 else replications - per * k
        fit = cal.best if blocks == 1 else cal.draws[k % len(cal.draws)]
        layers = [ukraine_layer(fit), *st.layers[1:]]
        stocks = full_stocks(layers, n)
        for i in range(raids):
            if i:
                resupply(layers, stocks, days_between)
            d = draw_raid(raid, n, rng, st.warning)
            out[i, col:col + n] = engage(d, layers, stocks, raid.duration_h, rng
                                         ).defeated_share()
        col += n
    return out


def campaign_record(rv: ResolvedVariant, st: Setting, seed: int,
                    replications: int | None = None) -> dict[str, Any]:
    """The scenario's campaign: the share defeated in each raid (median and 95% of the
    replications, at most :data:`CAMPAIGN_REPLICATIONS`) and the last raid's."""
    r = rv.scenario.raids
    comp = r.campaign_composition
    raid = raid_of(comp, st, r.duration_h)
    x = campaign_shares(raid, st, r.campaign_raids, r.campaign_days_between,
                        min(replications or r.replications, CAMPAIGN_REPLICATIONS), seed)
    per = [spread(row) for row in x]
    return {"raid": {"drones": comp[0], "decoys": comp[1], "cruise": comp[2],
                     "ballistic": comp[3]},
            "raids": r.campaign_raids, "days_between": r.campaign_days_between,
            "replications": int(x.shape[1]), "by_raid": per, "last": per[-1]}


def _with_intervals(contained: dict[str, float], samples: int) -> dict[str, dict[str, float]]:
    return {h: {"value": v, "low": wilson(v * samples, samples)[0],
                "high": wilson(v * samples, samples)[1]} for h, v in contained.items()}


def breach_layer(rv: ResolvedVariant, samples: int, seed: int, full: bool = True
                 ) -> dict[str, Any]:
    """The land breach at the pledged size (containment within 6, 24 and 72 h with Wilson
    95% intervals, time to contain and to the first coalition unit); ``full`` adds the
    table by force size."""
    n = max(2, min(samples, BREACH_SAMPLES))
    if full:
        out = breach_report(rv, samples=n, seed=seed)
        for row in out["by_force_size"]:
            row["contained"] = _with_intervals(row["contained"], n)
        return out
    return breach_model(rv, n, seed).as_dict()


def contained_key(hours: float = HORIZONS_H[-1]) -> str:
    return f"{hours:g}h"


def isr_layer(rv: ResolvedVariant, within_min: float, persists_min: float) -> dict[str, Any]:
    """Line watched by the satellites in force and by the alternatives, all day, by day and
    by night, for ground violations that last ``persists_min``: reported within the
    detection time, and within a day; with each system's tasking latency."""
    from truceguard.plan.isr import isr_report, space_system

    out: dict[str, Any] = {}
    for label, within, persists in (
            ("within_detection_time", within_min / 60.0, persists_min / 60.0),
            ("within_a_day", ISR_WITHIN_DAY_H, persists_min / 60.0)):
        rep = isr_report(rv, within_h=within, persists_h=persists)
        for k in ("month", "systems_in_force", "alternative_systems", "us_feed"):
            out[k] = rep[k]
        out[label] = {"within_h": within, "persists_h": persists,
                      **{grp: {t: {"combined": rep[grp][t]["combined"],
                                   "by_system": rep[grp][t]["by_system"]}
                               for t in ("all", "day", "night")}
                         for grp in ("in_force", "alternatives")}}
    out["latency_h"] = {n: space_system(n).latency_h
                        for n in [*out["systems_in_force"], *out["alternative_systems"]]}
    return out


def air_warning(rv: ResolvedVariant) -> dict[str, Any]:
    """Ukraine's air warning before drones and cruise missiles reach its airspace (minutes,
    low and high), with the US feed when the variant keeps US ISR, and without it."""
    from truceguard.plan.isr import AIR_WARNING, air_warning_minutes

    us = bool(rv.conditions.get("us_isr", False))
    lo, hi = air_warning_minutes(us)
    return {"us_feed": us, "low": lo, "high": hi,
            "source": "; ".join(AIR_WARNING[us][c].source for c in ("drone", "cruise"))}


def persists_min(rv: ResolvedVariant) -> float:
    """How long a ground violation stays observable: the ground types' weighted mean (the
    scenario's own threat's when the variant's threat has no ground type)."""
    ground = [t for t in rv.threat.types if t.target_class == "ground"] or [
        t for t in rv.scenario.threat.types if t.target_class == "ground"]
    if not ground:
        return 0.0
    return float(np.average([t.persists_min for t in ground], weights=[t.weight for t in ground]))


__all__ = ["BREACH_SAMPLES", "CLASSES", "air_warning", "breach_layer", "campaign_record",
           "campaign_shares", "exchange", "isr_layer", "persists_min", "raid_curve",
           "raid_of", "raid_record", "raid_setting", "spread", "wilson"]
