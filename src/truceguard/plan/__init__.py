"""Plan the force: scenarios, layers, sensors and coverage, capacity, Monte Carlo, sensitivity.

- ``scenario`` / ``scenario_read``: load and validate scenario files; apply variants.
- ``hostile``: hostile territory and the distance from it (stand-offs).
- ``sites``: the protected sites, shipped with their status.
- ``coverage``: pledges as positioned assets; time-averaged detection along the line.
- ``capacity``: Erlang loss of pools (and the earlier shot-by-shot raid model, no longer run
  by the plan).
- ``intercept``: fighters meeting drones and missiles on their path, beyond their stand-off.
- ``simulate``: sampling violations and the vectorised detect-and-respond kernel.
- ``threat``: threats built from events (the store's violations).
- ``orbits``: placing orbits where they add most coverage.
- ``raid``, ``airdefence``, ``calibrate``: raids from where they come, air defence with
  magazines and saturation, Ukraine's layer fitted on the raids of 2025.
- ``breach``, ``isr``, ``cost``: a land breach, satellites with physics and the US feed in
  the air warning, the exchange ratio.
- ``layers``: the plan's glue to those models (raid curve, campaign, breach, satellites).
- ``run``: one variant end to end, with per-layer figures, raids and the breach.
- ``switches``: structural choices (Belarus, launch areas, targeting, basing) side by side.
- ``sensitivity``, ``sobol``: one assumption at a time, ranked by swing; all at once.
- ``explain``: why a figure stays put; the checks that are not circular.
- ``sweep``: many variants, locally or on Dask.
"""

from truceguard.plan.forcegen import ForceRow, force_table, over_horizon, pool_needed
from truceguard.plan.run import HEADLINE, METRICS, VariantResult, run_variant
from truceguard.plan.scenario import (
    DEFAULT_SCENARIO,
    ResolvedVariant,
    Scenario,
    describe,
    load_scenario,
    parse_scenario,
    resolve_variant,
    shipped_scenarios,
)
from truceguard.plan.sweep import grid, resolve_all, sweep

__all__ = [
    "DEFAULT_SCENARIO",
    "HEADLINE",
    "METRICS",
    "ForceRow",
    "ResolvedVariant",
    "Scenario",
    "VariantResult",
    "describe",
    "force_table",
    "grid",
    "load_scenario",
    "over_horizon",
    "parse_scenario",
    "pool_needed",
    "resolve_all",
    "resolve_variant",
    "run_variant",
    "shipped_scenarios",
    "sweep",
]
