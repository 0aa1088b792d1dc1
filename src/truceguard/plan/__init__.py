"""Plan the force: scenarios, force generation, coverage geometry and the Monte Carlo.

- ``scenario``: load and validate scenario files; apply variants (``resolve_variant``).
- ``forcegen``: the rule of thirds, tours, required vs pledged, gaps in units.
- ``coverage``: pledges as positioned assets; deterministic line and site coverage.
- ``simulate``: sampling violations and the vectorised detect-and-respond kernel.
- ``run``: one variant end to end, with confidence intervals.
- ``sweep``: many variants, locally or on Dask.
"""

from truceguard.plan.forcegen import ForceRow, force_table, over_horizon, pool_needed
from truceguard.plan.run import VariantResult, run_variant
from truceguard.plan.scenario import (
    ResolvedVariant,
    Scenario,
    load_scenario,
    parse_scenario,
    resolve_variant,
    shipped_scenarios,
)
from truceguard.plan.sweep import grid, resolve_all, sweep

__all__ = [
    "ForceRow",
    "ResolvedVariant",
    "Scenario",
    "VariantResult",
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
