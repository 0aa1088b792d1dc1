"""One variant, end to end: assets, coverage, force generation, Monte Carlo, statistics.

:func:`run_variant` is the single code path that the local run, the Dask sweep and the tests
share; its result holds plain numbers (``metrics``) and the per-violation arrays for plots.
Confidence intervals: Wilson score intervals for shares, binomial order-statistic intervals
for quantiles (95%).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.plan.coverage import Coverage, build_assets, coverage
from truceguard.plan.forcegen import ForceRow, force_table, gaps
from truceguard.plan.scenario import ResolvedVariant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations

Z95 = 1.959963984540054
QUANTILES = (0.1, 0.5, 0.9)


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


def share(mask: NDArray) -> dict[str, float]:
    k, n = int(mask.sum()), int(mask.size)
    lo, hi = wilson(k, n)
    return {"value": k / n if n else 0.0, "low": lo, "high": hi}


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

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "dropped_pledges": [{"pledge": p, "reason": r} for p, r in self.dropped],
            **self.metrics,
            "gaps": self.gaps,
            "force_generation": [r.as_dict() for r in self.force],
        }


def run_variant(
    rv: ResolvedVariant, samples: int, seed: int, threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> VariantResult:
    """Run one resolved variant with ``samples`` violations; the same seed, the same result.

    Violations come from the seed alone (so every variant of a scenario faces the same
    violations when its threat is the same); availability draws from a second stream.
    """
    if samples <= 0:
        raise ValueError("samples must be positive")
    assets = build_assets(rv)
    cov = coverage(rv, assets)
    rows = force_table(rv, cov)
    viol = sample_violations(rv, samples, np.random.default_rng(np.random.SeedSequence([seed, 1])))
    draws = draw_availability(len(assets), samples,
                              np.random.default_rng(np.random.SeedSequence([seed, 2])))
    kernel = build_kernel(assets, rv.threat.types)
    t_det, t_resp, in_ad = evaluate(kernel, viol.unit, viol.type_idx, draws, threads=threads,
                                     progress=progress)
    detected = np.isfinite(t_det)
    responded = np.isfinite(t_resp)
    air = np.array([t.response == "air" for t in rv.threat.types])[viol.type_idx]
    per_type = {}
    for i, name in enumerate(viol.type_names):
        sel = viol.type_idx == i
        per_type[name] = {
            "samples": int(sel.sum()),
            "detection_probability": share(detected[sel]),
            "response_probability": share(responded[sel]),
            "time_to_response_median_min": quantile_ci(t_resp[sel], 0.5),
        }
    metrics: dict[str, Any] = {
        "samples": samples,
        "seed": seed,
        "assets": len(assets),
        "line_km": float(cov.line_weight.sum() / 1000.0),
        "line_isr_cover_share": cov.share(cov.line_isr),
        "line_response_30min_share": cov.share(cov.line_fighter_min <= 30.0),
        "line_response_60min_share": cov.share(cov.line_fighter_min <= 60.0),
        "line_ground_response_60min_share": cov.share(cov.line_ground_min <= 60.0),
        "protected_sites_air_defence_share": float(cov.sites_covered.mean())
        if len(cov.sites_covered) else 0.0,
        "protected_sites": int(len(cov.sites_covered)),
        "detection_probability": float(detected.mean()),
        "detection_probability_ci": list(wilson(int(detected.sum()), samples)),
        "response_probability": share(responded),
        "response_30min": share(t_resp <= 30.0),
        "response_60min": share(t_resp <= 60.0),
        "air_violations_in_air_defence_cover": share(in_ad[air]) if air.any() else None,
        "time_to_detect_min": {f"p{int(q * 100)}": quantile_ci(t_det, q) for q in QUANTILES},
        "time_to_response_min": {f"p{int(q * 100)}": quantile_ci(t_resp, q) for q in QUANTILES},
        "by_type": per_type,
    }
    return VariantResult(rv.name, rv.description, list(rv.dropped), metrics, rows, gaps(rows),
                         cov, assets, viol.lat, viol.lon, viol.type_idx, t_det, t_resp, in_ad)
