"""Structural choices as switches, side by side: the baseline and each choice flipped.

A structural choice is not a number with a range, so neither sensitivity analysis varies it;
:func:`switches` runs the baseline variant's largest raid and its land breach again with one
choice changed at a time, on the same random numbers. The raid is the scenario's campaign
raid (the raid of 7 September 2025 in the shipped scenarios): at twice that raid the barrier
saturates, and saturation, not direction or aim, then sets the share defeated.

- **Belarus**: raids also launched from Belarus (Mazyr, about 90 km of defended path to Kyiv),
  or not, whichever the variant does not already assume; and Belarus hostile with the whole
  raid aimed at the capital (where the short approach matters);
- **launch areas**: every threat launched from the occupied territory, Crimea and the seas
  (short approaches over little defended territory) instead of the 2025 mix;
- **targeting**: the raid concentrated on the capital, or spread evenly over the target sets,
  instead of the scenario's weights;
- **air-defence basing**: the coalition's and the US's fire units placed at the capital and
  the energy sites inside Ukraine instead of where the pledges base them;
- **land basing**: the reassurance force's hubs moved east, to Kharkiv, Dnipro and
  Zaporizhzhia (near the line), instead of the pledged hubs.

Each row carries that raid's share defeated (median, central 95% of replications) and
its ballistic missiles destroyed, and the breach contained within 72 hours (Wilson 95%) with
the median time to the first coalition unit; a switch that does not touch a model repeats the
baseline's figures and says so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from truceguard.plan import layers
from truceguard.plan.airdefence import Layer, placed_group
from truceguard.plan.breach import breach_model
from truceguard.plan.raid import CLASSES, LAUNCH_AREAS, TARGET_NAMES, Raid, Setting, launch_mix
from truceguard.plan.scenario import Location, ResolvedVariant

NEAR_REGIONS = ("crimea", "occupied", "sea")
EAST_HUBS = (("kharkiv", 49.99, 36.23), ("dnipro", 48.45, 34.98),
             ("zaporizhzhia", 47.84, 35.14))  # shipped protected sites (cities)
IN_UKRAINE = {"capital": 0.5, "energy": 0.5}


def _near_mix() -> dict[str, dict[str, float]]:
    """Launch shares restricted to the occupied territory, Crimea and the seas."""
    out = {}
    for cls, mix in launch_mix(False).items():
        near = {a: w for a, w in mix.items() if LAUNCH_AREAS[a].region in NEAR_REGIONS}
        total = sum(near.values())
        out[cls] = {a: w / total for a, w in near.items()} if total else {"crimea": 1.0}
    return out


def _based_in_ukraine(st: Setting) -> Setting:
    """The coalition's and the US's fire units at the capital and energy sites."""
    moved = [st.layers[0]]
    for lay in st.layers[1:]:
        groups = tuple(placed_group(g.system, g.count, IN_UKRAINE, g.label) for g in lay.groups)
        moved.append(Layer(lay.name, groups, lay.magazines, lay.ew))
    return replace(st, layers=tuple(moved))


def _hubs_east(rv: ResolvedVariant) -> ResolvedVariant:
    east = tuple(Location("hub", n, la, lo, "UKR") for n, la, lo in EAST_HUBS)
    caps = rv.scenario.capabilities
    pledges = tuple(replace(p, basing=east) if caps[p.capability].role == "ground_force" else p
                    for p in rv.pledges)
    return replace(rv, pledges=pledges)


def _air(raid: Raid, st: Setting, replications: int, seed: int) -> dict[str, Any]:
    from truceguard.plan.raid import simulate, summarise

    outs = simulate(raid, st, replications, seed, layers.DRAWS_PER_FIT)
    shares = np.concatenate([o.defeated_share() for o in outs])
    s = summarise(outs, 0.90)
    bal = s["by_class"].get("ballistic")
    return {"defeated_share": layers.spread(shares),
            "ballistic_destroyed": bal["destroyed"] if bal else None,
            "ballistic_launched": bal["launched"] if bal else None,
            "by_class": s["by_class"]}


def _land(rv: ResolvedVariant, samples: int, seed: int) -> dict[str, Any]:
    r = breach_model(rv, samples, seed)
    return {"contained_72h": r.contained["72h"],
            "first_coalition_unit_h": r.time_to_first_coalition_unit_h["p50"]}


def switches(rv: ResolvedVariant, seed: int, replications: int | None = None,
             breach_samples: int = layers.BREACH_SAMPLES) -> dict[str, Any]:
    """The switch table for one variant (module docstring)."""
    raids = rv.scenario.raids
    reps = replications or raids.replications
    size = raids.campaign_composition
    st = layers.raid_setting(rv)
    raid_seed = seed * 1000 + 3
    base_raid = layers.raid_of(size, st, raids.duration_h)
    flip = not st.belarus_hostile
    capital = dict.fromkeys(TARGET_NAMES, 0.0) | {"capital": 1.0}
    even = dict.fromkeys(TARGET_NAMES, 1.0 / len(TARGET_NAMES))

    def raid_with(**kw: Any) -> Raid:
        return replace(base_raid, **kw)

    air_cases: list[tuple[str, str, str, Raid, Setting]] = [
        ("baseline", "", "as the variant assumes", base_raid, st),
        ("belarus", "Belarus", ("raids also launched from Belarus" if flip else
                                "no raid launched from Belarus"),
         raid_with(launch_mix=launch_mix(flip)), replace(st, belarus_hostile=flip)),
        ("belarus_capital", "Belarus", "Belarus hostile and the whole raid aimed at the capital",
         raid_with(launch_mix=launch_mix(True), targeting=capital),
         replace(st, belarus_hostile=True)),
        ("launch_near", "launch areas", "every threat launched from the occupied territory, "
         "Crimea and the seas", raid_with(launch_mix=_near_mix()), st),
        ("target_capital", "targeting", "the whole raid aimed at the capital",
         raid_with(targeting=capital), st),
        ("target_even", "targeting", "the raid spread evenly over the five target sets",
         raid_with(targeting=even), st),
        ("ad_in_ukraine", "air-defence basing", "the coalition's and the US's fire units at "
         "the capital and the energy sites instead of where pledged", base_raid,
         _based_in_ukraine(st)),
    ]
    n = max(2, min(breach_samples, layers.BREACH_SAMPLES))
    land = _land(rv, n, seed)
    rows = []
    base_air = None
    for key, kind, what, raid, setting in air_cases:
        air = _air(raid, setting, reps, raid_seed)
        base_air = base_air or air
        rows.append({"switch": key, "choice": kind or "baseline", "what": what,
                     "air": air, "land": land, "land_changed": False,
                     "air_changed": key != "baseline"})
    rows.append({"switch": "hubs_east", "choice": "land basing",
                 "what": "the reassurance force's hubs at Kharkiv, Dnipro and Zaporizhzhia "
                         "instead of the pledged hubs",
                 "air": base_air, "land": _land(_hubs_east(rv), n, seed),
                 "land_changed": True, "air_changed": False})
    return {"variant": rv.name, "raid": dict(zip(("drones", "decoys", "cruise", "ballistic"),
                                                 size, strict=True)),
            "classes": list(CLASSES), "replications": reps, "breach_samples": n, "rows": rows}


__all__ = ["EAST_HUBS", "switches"]
