"""Why a figure stays put: for each figure of the plan report that is the same in every
variant (or at every raid size), one sentence saying what fixes it, computed from the model.

Nothing here is written by hand about a scenario. :func:`unchanged` compares the variants'
figures as the report prints them (a share to the whole percent, a count to one decimal); for
each one that does not move it looks up the inputs the figure is computed from
(:data:`DEPENDS`), compares those inputs across the variants, and says which are the same and
which differ without reaching the figure. Where the model itself settles the figure, a
specific check says so with its numbers: Ukraine's layer answering every ground violation,
no hub of the reassurance force near enough to the line, extra batteries that reach no new
protected site, Ukraine's own air defence downing most of a raid, and sites uncovered because
no battery reaches them rather than because stocks ran out. Each such sentence is produced
only when its check holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.geo.radar import cos_of_distance, unit_vectors
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.coverage import Assets
from truceguard.plan.run import METRICS, VariantResult

RAID_SPREAD = 0.02  # across raid sizes, an all-layers share moving less than this "stays put"

# the inputs each figure is computed from (see run.run_variant): keys of INPUTS
DEPENDS: dict[str, tuple[str, ...]] = {
    "line_isr_cover_share": ("ground_sensors", "detect_within", "threat"),
    "detection_probability": ("sensors", "detect_within", "threat"),
    "ground_answered_share": ("ukraine", "hubs", "sensors", "answer_within", "threat"),
    "air_intercept_share": ("fighters", "sensors", "ukraine", "threat"),
    "protected_sites_air_defence_share": ("batteries",),
    "raid_largest_defeated_share": ("batteries", "fighters", "ukraine", "raid_sizes"),
    "layers.ukraine.troops_at_line_per_km": ("ukraine",),
    "layers.ukraine.ground_answered_share": ("ukraine", "answer_within", "threat"),
    "layers.reassurance_force.quick_reaction.units": ("hubs",),
    "layers.reassurance_force.quick_reaction.all_busy": ("hubs", "threat"),
    "layers.reassurance_force.ground_answered_share": ("hubs", "sensors", "answer_within",
                                                       "threat"),
    "layers.reassurance_force.time_to_arrive_min": ("hubs", "sensors", "threat"),
    "layers.air.fighters": ("fighters",),
    "layers.air.time_to_first_intercept_min": ("fighters", "sensors", "ukraine", "threat"),
    "layers.air_defence.batteries": ("batteries",),
}

# the Layers table's columns that are not headlines: key -> (label, how it is shown)
LAYER_COLUMNS: dict[str, tuple[str, str]] = {
    "layers.ukraine.troops_at_line_per_km": ("Ukraine's troops at the line per km", "num"),
    "layers.ukraine.ground_answered_share": ("Ukraine: ground violations answered in time",
                                             "pct"),
    "layers.reassurance_force.quick_reaction.units": ("quick-reaction units", "num"),
    "layers.reassurance_force.quick_reaction.all_busy": ("all units busy (Erlang loss)", "pct"),
    "layers.reassurance_force.ground_answered_share": (
        "reassurance force: answered in time", "pct1"),
    "layers.reassurance_force.time_to_arrive_min": (
        "reassurance force: median time to arrive", "num"),
    "layers.air.fighters": ("fighters", "num"),
    "layers.air.time_to_first_intercept_min": ("median time to first intercept", "num"),
    "layers.air_defence.batteries": ("batteries", "num"),
}


def _rows(a: Assets, cols: Sequence[str]) -> tuple[Any, ...]:
    """The assets as a sorted tuple of rows over ``cols`` (floats rounded): a fingerprint."""
    out = []
    for i in range(len(a)):
        out.append(tuple(round(float(v), 6) if isinstance(v, float | np.floating) else str(v)
                         for v in (getattr(a, c)[i] for c in cols)))
    return tuple(sorted(out))


SENSOR_COLS = ("pledge", "lat", "lon", "readiness", "height_m", "range_m", "latency_min",
               "on_station", "cycle_min", "pattern", "sees_ground", "sees_air")
HUB_COLS = ("pledge", "lat", "lon", "readiness", "troops", "qrf_units", "task_h", "react_min",
            "speed_kmh", "reach_m")
FIGHTER_COLS = ("pledge", "lat", "lon", "readiness", "jets", "speed_kmh", "react_min",
                "reach_m", "standoff_km", "sorties_per_day", "shots_per_sortie", "pk_drone",
                "pk_missile", "sortie_h")
BATTERY_COLS = ("pledge", "lat", "lon", "readiness", "ad_range_m", "interceptors",
                "reloads_per_raid", "pk_drone", "pk_missile", "shots_per_drone",
                "shots_per_missile")
ROLE = {"sensors": ("sensor", SENSOR_COLS), "ground_sensors": ("sensor", SENSOR_COLS),
        "hubs": ("ground_force", HUB_COLS), "fighters": ("fighter", FIGHTER_COLS),
        "batteries": ("air_defence", BATTERY_COLS)}

# input key -> (what the reader calls it, its fingerprint in one variant)
INPUTS: dict[str, tuple[str, Callable[[VariantResult], Any]]] = {
    "sensors": ("the monitoring sensors",
                lambda r: _rows(r.assets.of_role("sensor"), SENSOR_COLS)),
    "ground_sensors": ("the sensors that see ground violations",
                       lambda r: _rows(r.assets.take((r.assets.role == "sensor")
                                                     & r.assets.sees_ground), SENSOR_COLS)),
    "hubs": ("the reassurance force's hubs and quick-reaction units",
             lambda r: _rows(r.assets.of_role("ground_force"), HUB_COLS)),
    "fighters": ("the fighters", lambda r: _rows(r.assets.of_role("fighter"), FIGHTER_COLS)),
    "batteries": ("the air-defence batteries",
                  lambda r: _rows(r.assets.of_role("air_defence"), BATTERY_COLS)),
    "ukraine": ("Ukraine's layer (the scenario's ukraine figures)",
                lambda r: tuple(sorted((k, v) for k, v in r.metrics["layers"]["ukraine"].items()
                                       if not isinstance(v, dict)))),
    "detect_within": ("the detection time",
                      lambda r: r.metrics["detect_within_min"]),
    "answer_within": ("the answer time", lambda r: r.metrics["answer_within_min"]),
    "threat": ("the threat", lambda r: (
        tuple(sorted((k, str(v)) for k, v in r.metrics["threat"].items())),
        tuple((n, t["class"]) for n, t in r.metrics["by_type"].items()),
        tuple(t["samples"] for t in r.metrics["by_type"].values()))),
    "raid_sizes": ("the raid sizes", lambda r: tuple((d["drones"], d["missiles"])
                                                     for d in r.metrics["raids"])),
}


def pct(v: float | None, d: int = 0) -> str:
    return "n/a" if v is None else f"{100 * float(v):.{d}f}%"


def num(v: float | None, d: int = 0) -> str:
    return "n/a" if v is None else f"{float(v):,.{d}f}"


SHOWN: dict[str, Callable[[Any], str]] = {
    "pct": pct, "pct1": lambda v: pct(v, 1), "num": num, "num1": lambda v: num(v, 1)}


def value_at(m: dict[str, Any], key: str) -> Any:
    """A metric by its dotted key; a dict's ``value`` where the figure carries an interval."""
    v: Any = m
    for part in key.split("."):
        v = None if v is None else v.get(part)
    return v["value"] if isinstance(v, dict) and "value" in v else v


def _span(values: Sequence[float], d: int = 1, shown: Callable[[float, int], str] = pct
          ) -> str:
    """``a`` when all values show alike, else ``a to b`` (shares by default)."""
    lo, hi = shown(min(values), d), shown(max(values), d)
    return lo if lo == hi else f"{lo} to {hi}"


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pledge_differences(results: Sequence[VariantResult], role: str) -> str:
    """Pledges of a role present in some variants only, grouped by where they are."""
    sets = {r.name: set(r.assets.pledge[r.assets.role == role]) for r in results}
    every = set.intersection(*sets.values())
    where: dict[tuple[str, ...], list[str]] = {}
    for p in sorted(set.union(*sets.values()) - every):
        where.setdefault(tuple(n for n, s in sets.items() if p in s), []).append(p)
    return "; ".join(f"{_join(ps)} only in {_join(list(vs))}" for vs, ps in where.items())


def _input_sentence(results: Sequence[VariantResult], inputs: Sequence[str]) -> str:
    """Which of ``inputs`` are the same in every variant and which differ (and how)."""
    same: list[str] = []
    diff: list[str] = []
    for k in inputs:
        prints = [INPUTS[k][1](r) for r in results]
        (same if all(p == prints[0] for p in prints) else diff).append(k)
    if not diff:
        which = ("which does not differ between variants" if len(same) == 1
                 else "none of which differs between variants")
        return f"It is computed only from {_join([INPUTS[k][0] for k in same])}, {which}."
    said = []
    for k in diff:
        role = ROLE.get(k, ("", ()))[0]
        extra = _pledge_differences(results, role) if role else ""
        said.append(INPUTS[k][0] + (f" ({extra})" if extra else ""))
    out = f"Of the inputs it is computed from, {_join(said)} differ between variants"
    if same:
        out += f" while {_join([INPUTS[k][0] for k in same])} do not"
    return out + "; those differences do not change it at the precision shown."


def _flat(results: Sequence[VariantResult], key: str, shown: Callable[[Any], str]
          ) -> tuple[str, list[VariantResult]] | None:
    """The shown value when it is the same in every variant that has one (at least two)."""
    have = [r for r in results if value_at(r.metrics, key) is not None]
    if len(have) < 2:
        return None
    texts = {shown(value_at(r.metrics, key)) for r in have}
    return (texts.pop(), have) if len(texts) == 1 else None


def _without(results: Sequence[VariantResult], have: Sequence[VariantResult]) -> str:
    missing = [r.name for r in results if r not in have]
    return f" (not applicable in {', '.join(missing)})" if missing else ""


# -- checks that settle a figure ---------------------------------------------------------

def _ukraine_answers_all(have: Sequence[VariantResult]) -> str | None:
    """Ground violations answered: Ukraine's layer answers every one in time."""
    uas = [r.metrics["layers"]["ukraine"] for r in have]
    answer = [r.metrics["answer_within_min"] for r in have]
    if not all(u["answer_probability"] >= 1.0 and u["react_min"] <= a
               for u, a in zip(uas, answer, strict=True)):
        return None
    u, r = uas[0], have[0]
    return (f"Ukraine's forces at the line answer every sampled ground violation in time: "
            f"{num(u['troops_at_line_per_km'])} troops per km at the line (ukraine.troops "
            f"{num(u['troops'])} x ukraine.share_at_line {u['share_at_line']:g} over "
            f"{num(r.metrics['line_km'])} km of line) is at or above the reference density of "
            f"{num(u['reference_troops_per_km'])} per km, so they always answer, and they "
            f"react in {num(u['react_min'])} min, within the {num(answer[0])}-min answer time. "
            "No pledge enters this figure while that holds; the reassurance force's own share "
            "is in the plan report's Layers table.")


def _quickest_arrival(r: VariantResult) -> tuple[float, str, float, float, float] | None:
    """The earliest a quick-reaction unit can reach any point of the line (reaction plus the
    move at its speed, within its reach), with the hub, distance, speed and reaction."""
    hubs = r.assets.take((r.assets.role == "ground_force") & (r.assets.qrf_units > 0))
    cov = r.coverage
    if not len(hubs) or not len(cov.line_lat):
        return None
    c = np.clip(unit_vectors(cov.line_lat, cov.line_lon) @ unit_vectors(hubs.lat, hubs.lon).T,
                -1.0, 1.0)
    km: NDArray = np.arccos(c) * EARTH_RADIUS_M / 1000.0
    t = hubs.react_min[None, :] + km / np.maximum(hubs.speed_kmh, 1e-9)[None, :] * 60.0
    t = np.where(km * 1000.0 <= hubs.reach_m[None, :], t, np.inf)
    i, j = np.unravel_index(int(np.argmin(t)), t.shape)
    where = f"{hubs.place[j]} ({hubs.pledge[j]})" if hubs.place[j] else str(hubs.pledge[j])
    return (float(t[i, j]), where, float(km[i, j]), float(hubs.speed_kmh[j]),
            float(hubs.react_min[j]))


def _hubs_too_far(have: Sequence[VariantResult]) -> str | None:
    """The reassurance force answers nothing in time: no hub is near enough to the line."""
    quick = [_quickest_arrival(r) for r in have]
    answer = [r.metrics["answer_within_min"] for r in have]
    if not all(q is not None and q[0] > a for q, a in zip(quick, answer, strict=True)):
        return None
    t, where, km, speed, react = min((q for q in quick if q is not None), key=lambda q: q[0])
    return (f"No quick-reaction unit can reach any point of the line within the "
            f"{num(answer[0])}-min answer time in any variant: the quickest arrival anywhere "
            f"on the line is {num(t)} min, from {where}, {num(km)} km from the nearest point "
            f"of the line, at {num(speed)} km/h after {num(react)} min to react.")


def _sites(r: VariantResult, mask: NDArray) -> list[str]:
    return [str(n) for n, m in zip(r.coverage.sites.name, mask, strict=True) if m]


def _same_sites_in_range(have: Sequence[VariantResult]) -> str | None:
    """Sites in battery range: the same sites in range everywhere, and why extra batteries
    add none."""
    covered = [tuple(r.coverage.sites_covered.tolist()) for r in have]
    if any(c != covered[0] for c in covered):
        return None
    r0 = have[0]
    n, k = len(covered[0]), int(sum(covered[0]))
    out = (f"The same {k} of the {n} protected sites are within range of a battery in every "
           f"variant ({_join(_sites(r0, r0.coverage.sites_covered))}); this figure is "
           "geometry only, so stocks and readiness do not enter it.")
    sets = {r.name: set(r.assets.pledge[r.assets.role == "air_defence"]) for r in have}
    extra = sorted(set.union(*sets.values()) - set.intersection(*sets.values()))
    if not extra:
        return out + f" Every variant has the same batteries ({_join(sorted(sets[r0.name]))})."
    said = []
    for p in extra:
        r = next(r for r in have if p in sets[r.name])
        b = r.assets.take((r.assets.role == "air_defence") & (r.assets.pledge == p))
        s = r.coverage.sites
        reach = ((unit_vectors(s.lat, s.lon) @ unit_vectors(b.lat, b.lon).T)
                 >= cos_of_distance(b.ad_range_m)).any(axis=1)
        names = _sites(r, reach)
        places = _join(sorted({str(x) for x in b.place}))
        said.append(f"{p} (in {', '.join(n for n, v in sets.items() if p in v)}: {len(b)} "
                    f"batteries at {places}, range {num(float(b.ad_range_m.max()) / 1000)} km) "
                    + (f"reaches only sites already in range ({_join(names)})" if names
                       else "reaches no protected site"))
    return out + " The batteries that only some variants have add none: " + "; ".join(
        said) + "."


def _ukraine_alone(u: dict[str, Any], raid: dict[str, Any]) -> float:
    """The share of a raid Ukraine's own air defence downs by itself (expected)."""
    d, m = raid["drones"], raid["missiles"]
    return float((d * u["drone_defeat_share"] + m * u["missile_defeat_share"]) / max(1, d + m))


def _ukraine_downs_most(have: Sequence[VariantResult]) -> str | None:
    """Largest raid defeated: Ukraine's own air defence, the same everywhere, downs most of
    it by itself, which leaves the force little to change."""
    uas = [r.metrics["layers"]["ukraine"] for r in have]
    keys = ("drone_defeat_share", "missile_defeat_share")
    if any(tuple(u[k] for k in keys) != tuple(uas[0][k] for k in keys) for u in uas):
        return None
    raid = have[0].metrics["raids"][-1]
    alone = _ukraine_alone(uas[0], raid)
    total = [r.metrics["raids"][-1]["defeated_share"] for r in have]
    force = [r.metrics["raids"][-1]["defeated_by_force_share"] for r in have]
    if alone < 0.5 or min(total) < alone - 0.01:  # the bound below must hold as measured
        return None
    return (f"Ukraine's own air defence, the same in every variant (ukraine.drone_defeat_share "
            f"{uas[0]['drone_defeat_share']:g}, ukraine.missile_defeat_share "
            f"{uas[0]['missile_defeat_share']:g}), downs {pct(alone, 1)} of this raid of "
            f"{raid['drones']:,} drones and {raid['missiles']:,} missiles by itself, whatever "
            "the force does (every layer draws its kills independently), so the all-layers "
            f"share lies between {pct(alone, 1)} and 100% in any variant: the force's part "
            f"(defeated by the force: {_span(force)} across variants) "
            + (f"moves it only from {_span(total)}." if " to " in _span(total)
               else f"leaves it at {_span(total)}."))


def _classes(r: VariantResult) -> NDArray:
    """Each sampled violation's class (ground or air)."""
    kinds = np.array([t["class"] for t in r.metrics["by_type"].values()])
    return kinds[r.v_type] if len(r.v_type) else np.array([], dtype=str)


def _warning_cues(have: Sequence[VariantResult]) -> str | None:
    """Air threats intercepted: the fighters are the same everywhere; the sensors that differ
    only cue them, and Ukraine's air warning cues them first for most threats."""
    fighters = [INPUTS["fighters"][1](r) for r in have]
    sensors = [INPUTS["sensors"][1](r) for r in have]
    if any(f != fighters[0] for f in fighters) or all(s == sensors[0] for s in sensors):
        return None
    warning = [r.metrics["layers"]["ukraine"]["air_warning_min"] for r in have]
    sooner = []
    for r, w in zip(have, warning, strict=True):
        air = _classes(r) == "air"
        if not air.any():
            return None
        sooner.append(float((r.t_detect[air] < w).mean()))
    if max(sooner) >= 0.5:
        return None
    pledges = _join(sorted(set(have[0].assets.pledge[have[0].assets.role == "fighter"])))
    return (f"The fighters, which make the intercepts, are the same in every variant "
            f"({pledges}). The monitoring sensors, which differ "
            f"({_pledge_differences(have, 'sensor')}), only cue them, and Ukraine's air "
            f"warning (ukraine.air_warning_min {_span(warning, 0, num)} min) cues them "
            f"anyway: the sensors report sooner than the warning for only {_span(sooner)} of "
            "the sampled air threats.")


SETTLES: dict[str, Callable[[Sequence[VariantResult]], str | None]] = {
    "ground_answered_share": _ukraine_answers_all,
    "layers.ukraine.ground_answered_share": _ukraine_answers_all,
    "layers.reassurance_force.ground_answered_share": _hubs_too_far,
    "protected_sites_air_defence_share": _same_sites_in_range,
    "raid_largest_defeated_share": _ukraine_downs_most,
    "air_intercept_share": _warning_cues,
    "layers.air.time_to_first_intercept_min": _warning_cues,
}


def _explain(results: Sequence[VariantResult], key: str, label: str,
             shown: Callable[[Any], str]) -> tuple[str, str] | None:
    """(what is shown alike, why) for a figure the same in every variant, else None."""
    flat = _flat(results, key, shown)
    if flat is None:
        return None
    value, have = flat
    head = f"{label[0].upper()}{label[1:]}: {value} in every variant{_without(results, have)}."
    settle = SETTLES.get(key)
    why = settle(have) if settle else None
    return head, why or _input_sentence(have, DEPENDS[key])


def across_variants(results: Sequence[VariantResult]) -> dict[str, str]:
    """One sentence per headline and Layers column that is the same in every variant; a
    Layers column with a headline's reason refers to it rather than repeat it."""
    out: dict[str, str] = {}
    if len(results) < 2:
        return out
    given: dict[str, str] = {}  # reason -> the headline it was given for
    for k, (label, *_rest) in METRICS.items():
        found = _explain(results, k, label, pct)
        if found:
            out[k] = f"{found[0]} {found[1]}"
            given.setdefault(found[1], label)
    for k, (label, how) in LAYER_COLUMNS.items():
        found = _explain(results, k, label, SHOWN[how])
        if found:
            head, why = found
            out[k] = (f"{head} The reason is the one given for {given[why]} in the Summary."
                      if why in given else f"{head} {why}")
    return out


def across_raid_sizes(results: Sequence[VariantResult]) -> dict[str, str]:
    """Sentences for the raid table's columns that do not move with the raid's size."""
    out: dict[str, str] = {}
    raids = [r for r in results if len(r.metrics["raids"]) >= 2]
    if not raids:
        return out
    # sites uncovered: exactly the sites no battery reaches, at every size
    flat = all(len({num(d["sites_uncovered"], 1) for d in r.metrics["raids"]}) == 1
               for r in raids)
    if flat:
        if all(all(d["sites_uncovered"] == len(r.metrics["layers"]["air_defence"][
                "sites_out_of_range"]) for d in r.metrics["raids"]) for r in raids):
            fars = {r.name: r.metrics["layers"]["air_defence"]["sites_out_of_range"]
                    for r in raids}
            far = next(iter(fars.values()))
            which = (f"the same {len(far)} in every variant" if all(
                f == far for f in fars.values()) else f"{len(far)} in {raids[0].name}")
            left = min(r.metrics["raids"][-1]["interceptors_left"] for r in raids)
            out["sites_uncovered"] = (
                "The count of sites uncovered at the end does not change with the raid's "
                "size: in every variant and at every size the uncovered sites are exactly "
                f"those no battery reaches ({which}: {_join(far)}). Every site in a battery's "
                "range kept a battery with interceptors to the end of every replication, even "
                f"of the largest raid ({num(left)} interceptors left on average in the variant "
                "with fewest), so more threats do not uncover more sites.")
        else:
            out["sites_uncovered"] = (
                "The count of sites uncovered at the end does not change with the raid's size "
                "in any variant.")
    # defeated (all layers): Ukraine's share of each threat does not depend on the raid's size
    spread = max(max(d["defeated_share"] for d in r.metrics["raids"])
                 - min(d["defeated_share"] for d in r.metrics["raids"]) for r in raids)
    if spread < RAID_SPREAD:
        u = raids[0].metrics["layers"]["ukraine"]
        every = [d for r in raids for d in r.metrics["raids"]]
        lo = min(d["defeated_share"] for d in every)
        hi = max(d["defeated_share"] for d in every)
        alone = [_ukraine_alone(r.metrics["layers"]["ukraine"], d) for r in raids
                 for d in r.metrics["raids"]]
        text = (f"Defeated (all layers) stays between {pct(lo, 1)} and {pct(hi, 1)} at every "
                "raid size: Ukraine's own air defence downs the same share of each threat "
                f"whatever the raid's size ({u['drone_defeat_share']:g} of drones, "
                f"{u['missile_defeat_share']:g} of missiles; {pct(min(alone), 1)} to "
                f"{pct(max(alone), 1)} of these raids by itself).")
        first = [r.metrics["raids"][0]["defeated_by_force_share"] for r in raids]
        last = [r.metrics["raids"][-1]["defeated_by_force_share"] for r in raids]
        if all(f > la for f, la in zip(first, last, strict=True)):
            text += (f" The force's part falls from {_span(first)} at the smallest raid to "
                     f"{_span(last)} at the largest, since its interceptors and air-to-air "
                     "shots per raid are fixed whatever the raid's size.")
        out["defeated_share"] = text
    return out


def across_gaps(results: Sequence[VariantResult]) -> dict[str, str]:
    """One sentence per role whose gap (what is missing) is the same in every variant."""
    out: dict[str, str] = {}
    if len(results) < 2:
        return out
    totals = [{f.capability: f for f in r.force if f.nation == ""} for r in results]
    for role in sorted(set.intersection(*(set(r.gaps) for r in results))):
        rows = [t[role] for t in totals]
        if len({num(r.gaps[role]) for r in results}) != 1:
            continue
        name = role.replace("_", " ")
        head = f"Missing {name}: {num(rows[0].gap)} {rows[0].unit} in every variant."
        if all((f.required, f.pledged) == (rows[0].required, rows[0].pledged) for f in rows):
            out[role] = (f"{head} Every variant pledges {num(rows[0].pledged)} and requires "
                         f"{num(rows[0].required)} ({rows[0].note}).")
        elif role == "air_defence" and all(
                tuple(r.coverage.sites_covered) == tuple(results[0].coverage.sites_covered)
                for r in results):
            out[role] = (f"{head} What is missing is the batteries it takes to bring the "
                         "protected sites out of range into range (greedy cover), and the "
                         f"same {int((~results[0].coverage.sites_covered).sum())} sites are "
                         "out of range in every variant, whatever the number of batteries "
                         f"pledged ({_span([f.pledged for f in rows], 0, num)}).")
        else:
            pledged = _span([f.pledged for f in rows], 0, num)
            required = _span([f.required or 0.0 for f in rows], 0, num)
            out[role] = f"{head} " + (
                f"In every variant the pledges ({pledged}) meet the requirement ({required})."
                if not rows[0].gap else
                f"The pledged ({pledged}) and required ({required}) numbers differ between "
                "variants by the same amount.")
    return out


def unchanged(results: Sequence[VariantResult]) -> dict[str, dict[str, str]]:
    """Every explanation: ``variants`` (headlines and Layers columns the same in every
    variant), ``raid_sizes`` (raid columns that do not move with size) and ``gaps`` (what is
    missing, per role, when it is the same in every variant)."""
    return {"variants": across_variants(results), "raid_sizes": across_raid_sizes(results),
            "gaps": across_gaps(results)}
