"""Which assumptions drive each answer, all varied at once: Sobol indices with intervals.

The one-at-a-time analysis (:mod:`truceguard.plan.sensitivity`) moves one number with the rest
held as written; it misses interactions and cannot say whether a swing is larger than the
Monte Carlo's own noise. This module varies every ranged number of the scenario together,
uniformly over its stated range, and apportions each headline's variance between them
(variance-based global sensitivity analysis):

- **first-order index** ``S``: the share of the headline's variance a factor explains alone
  (Saltelli et al. 2010 estimator);
- **total index** ``ST``: its share including every interaction with other factors (Jansen's
  estimator); ``ST - S`` is what it does only together with others;
- **the seed** is a factor too: each base row runs with its own random seed, and swapping only
  the seed gives the seed's total index, the share of the variance that is Monte Carlo noise.

A factor is *named a driver* of a headline only when the lower end of its total index's 95%
interval exceeds the seed's total index: an effect that the noise could produce is reported,
never named. Intervals are percentile bootstrap intervals over the base rows (the rows are
independent, so resampling them resamples the estimator).

Factors are the scenario's assumptions, or by default their groups (``capabilities.fighters``,
``ukraine``, ``threat``...): a few groups need far fewer runs than sixty single numbers, and a
group's total index bounds what any of its members can do. Runs: ``n_base * (factors + 3)``.

Sampling uses a scrambled Sobol' low-discrepancy sequence (:class:`scipy.stats.qmc.Sobol`) over
``2 * factors`` dimensions: the first half gives matrix A, the second matrix B (Saltelli 2002).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.errors import InputError
from truceguard.plan.scenario import Assumption, Scenario, resolve_variant

DEFAULT_BASE_ROWS = 32
DEFAULT_SAMPLES = 1_000
DEFAULT_RAID_REPLICATIONS = 10
BOOTSTRAP = 400
SEED_FACTOR = "seed (Monte Carlo noise)"
MIN_DRIVER_SHARE = 0.05  # a driver explains at least this share of the variance
GROUPINGS = ("group", "assumption")

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SobolIndex:
    """One factor's first-order and total index for one headline, each with its 95%
    bootstrap interval; ``named`` when the total index's interval lies above the seed's."""

    factor: str
    first: float
    first_low: float
    first_high: float
    total: float
    total_low: float
    total_high: float
    named: bool

    def as_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "first": _round(self.first),
                "first_interval": [_round(self.first_low), _round(self.first_high)],
                "total": _round(self.total),
                "total_interval": [_round(self.total_low), _round(self.total_high)],
                "interactions": _round(max(0.0, self.total - self.first)),
                "named": self.named}


@dataclass(frozen=True)
class MetricSobol:
    """A headline's variance over the factors' ranges, the seed's share of it, and each
    factor's indices, largest total first."""

    metric: str
    mean: float
    variance: float
    seed: SobolIndex
    indices: list[SobolIndex]

    def drivers(self) -> list[str]:
        return [i.factor for i in self.indices if i.named]

    def as_json(self) -> dict[str, Any]:
        return {"mean": _round(self.mean), "variance": _round(self.variance, 8),
                "seed": self.seed.as_json(), "drivers": self.drivers(),
                "indices": [i.as_json() for i in self.indices]}


@dataclass(frozen=True)
class SobolResult:
    """What :func:`sobol` found for one variant."""

    variant: str
    grouping: str
    base_rows: int
    samples: int
    runs: int
    factors: dict[str, list[str]]  # factor -> the assumption keys it moves
    metrics: dict[str, MetricSobol] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"method": "Sobol indices (Saltelli 2010 first order, Jansen total), "
                          "scrambled Sobol' sampling, uniform over each stated range; 95% "
                          "percentile bootstrap intervals over the base rows; a factor is "
                          "named a driver when its total index's interval lies above the "
                          "seed's total index and the index is at least 0.05",
                "variant": self.variant, "grouping": self.grouping,
                "base_rows": self.base_rows, "samples_per_run": self.samples,
                "runs": self.runs, "factors": self.factors,
                "metrics": {m: r.as_json() for m, r in self.metrics.items()}}


def _round(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def factor_of(key: str) -> str:
    """The group an assumption belongs to: ``capabilities.X``, ``pledges``, ``threat.types``
    and the like keep their second part when it names a thing; otherwise the first part."""
    head, _, rest = key.partition(".")
    if head.startswith("pledges"):
        return "pledges"
    if head in ("capabilities", "variants") and rest:
        return f"{head}.{rest.split('.')[0]}"
    if head == "threat" and rest.startswith("types."):
        return "threat.types"
    return head


def factors_for(items: Sequence[Assumption], grouping: str) -> dict[str, list[Assumption]]:
    if grouping not in GROUPINGS:
        raise InputError(f"Sobol grouping {grouping!r} is not one of {', '.join(GROUPINGS)}",
                         hint="group (the default: one factor per group of assumptions) or "
                              "assumption (one factor per assumption: more runs)",
                         code="input.bad_choice")
    out: dict[str, list[Assumption]] = {}
    for a in items:
        out.setdefault(a.key if grouping == "assumption" else factor_of(a.key), []).append(a)
    return out


def runs_for(n_factors: int, base_rows: int) -> int:
    """A, B, one matrix per factor and one for the seed: ``base_rows * (factors + 3)``."""
    return base_rows * (n_factors + 3)


def _design(n: int, groups: list[list[Assumption]], seed: int
            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Matrices A and B of uniform draws in [0, 1), one column per assumption."""
    from scipy.stats import qmc

    d = sum(len(g) for g in groups)
    m = int(np.ceil(np.log2(max(n, 2))))
    u = qmc.Sobol(d=2 * d, scramble=True, seed=seed).random_base2(m)[:n]
    return u[:, :d], u[:, d:]


def _values(items: list[Assumption], row: NDArray[np.float64]) -> dict[tuple[Any, ...], float]:
    return {a.path: a.low + float(u) * (a.high - a.low) for a, u in zip(items, row, strict=True)}


def _evaluate(scen: Scenario, variant: str, values: dict[tuple[Any, ...], float], seed: int,
              samples: int, raid_replications: int) -> dict[str, float]:
    from truceguard.plan.run import run_variant

    s = scen.with_values(values)
    return run_variant(resolve_variant(s, variant), samples, seed, threads=1,
                       raid_replications=raid_replications, headlines_only=True).headline()


def _bootstrap(stat: Callable[[NDArray[np.int64]], NDArray[np.float64]], n: int,
               rng: np.random.Generator) -> tuple[float, float, float]:
    """The statistic on all rows and its 95% percentile interval over resampled rows.

    ``stat`` takes row indices, one resample a row (``(k, n)``), and gives one value per
    resample. The resamples are drawn one at a time (one ``integers`` call each, so the random
    stream, and every interval, is what it always was) and evaluated a block at a time."""
    point = float(stat(np.arange(n)[None, :])[0])
    draws = np.array([rng.integers(0, n, n) for _ in range(BOOTSTRAP)]).reshape(BOOTSTRAP, n)
    block = max(1, (1 << 16) // max(n, 1))
    boots = np.concatenate([stat(draws[k:k + block]) for k in range(0, BOOTSTRAP, block)])
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return point, point, point
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return point, float(lo), float(hi)


def indices(fa: NDArray[np.float64], fb: NDArray[np.float64], fab: NDArray[np.float64],
            rng: np.random.Generator) -> tuple[tuple[float, float, float],
                                               tuple[float, float, float]]:
    """First-order and total index, each (value, low, high), from the outputs of A, B and
    A with one factor's columns taken from B."""
    n = fa.size

    def var(ix: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(np.var(np.concatenate([fa[ix], fb[ix]], axis=1), axis=1))

    def ratio(num: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.divide(num, v, out=np.zeros_like(num), where=v > 0)

    def first(ix: NDArray[np.int64]) -> NDArray[np.float64]:
        return ratio(np.mean(fb[ix] * (fab[ix] - fa[ix]), axis=1), var(ix))

    def total(ix: NDArray[np.int64]) -> NDArray[np.float64]:
        return ratio(0.5 * np.mean((fa[ix] - fab[ix]) ** 2, axis=1), var(ix))

    return _bootstrap(first, n, rng), _bootstrap(total, n, rng)


def sobol(scen: Scenario, variant: str | None = None, *, base_rows: int = DEFAULT_BASE_ROWS,
          samples: int = DEFAULT_SAMPLES, seed: int = 2025, grouping: str = "group",
          raid_replications: int = DEFAULT_RAID_REPLICATIONS, client: Any = None,
          progress: Progress | None = None) -> SobolResult:
    """Sobol indices of every headline of ``variant`` (the baseline by default) over the
    ranges of its assumptions, on Dask when ``client`` is given. ``progress(step, done,
    total)`` counts the runs (:func:`runs_for`)."""
    from truceguard.plan.run import HEADLINE
    from truceguard.plan.sensitivity import assumptions_for

    if base_rows < 8:
        raise InputError(f"{base_rows} Sobol base rows are too few for an interval",
                         hint="give 8 or more (32 is the default)", code="input.out_of_range")
    name = variant or scen.baseline
    resolve_variant(scen, name)
    groups = factors_for([a for a in assumptions_for(scen, name) if a.high > a.low], grouping)
    if not groups:
        raise InputError(f"variant {name!r} of scenario {scen.name!r} has no ranged "
                         "assumptions to vary", hint="give assumptions a low and a high",
                         code="input.missing")
    names = list(groups)
    items = [a for g in groups.values() for a in g]
    cols: dict[str, list[int]] = {}
    i = 0
    for f, g in groups.items():
        cols[f] = list(range(i, i + len(g)))
        i += len(g)
    a_u, b_u = _design(base_rows, list(groups.values()), seed)
    rng = np.random.default_rng(seed)
    seeds_a = rng.integers(1, 2**31 - 1, base_rows)
    seeds_b = rng.integers(1, 2**31 - 1, base_rows)
    # every run: (label, values, seed); order: A, B, seed swap, then one block per factor
    tasks: list[tuple[str, dict[tuple[Any, ...], float], int]] = []
    for j in range(base_rows):
        tasks.append((f"A row {j + 1}", _values(items, a_u[j]), int(seeds_a[j])))
    for j in range(base_rows):
        tasks.append((f"B row {j + 1}", _values(items, b_u[j]), int(seeds_b[j])))
    for j in range(base_rows):
        tasks.append((f"seed swap row {j + 1}", _values(items, a_u[j]), int(seeds_b[j])))
    for f in names:
        for j in range(base_rows):
            row = a_u[j].copy()
            row[cols[f]] = b_u[j][cols[f]]
            tasks.append((f"{f} row {j + 1}", _values(items, row), int(seeds_a[j])))
    total = len(tasks)
    outputs = _run_all(scen, name, tasks, samples, raid_replications, client, progress)
    out = np.array([[o[m] for m in HEADLINE] for o in outputs], dtype=float)
    n = base_rows
    fa, fb, fseed = out[:n], out[n:2 * n], out[2 * n:3 * n]
    metrics: dict[str, MetricSobol] = {}
    for k, m in enumerate(HEADLINE):
        brng = np.random.default_rng(seed + k)
        (s1, s1l, s1h), (st, stl, sth) = indices(fa[:, k], fb[:, k], fseed[:, k], brng)
        seed_index = SobolIndex(SEED_FACTOR, s1, s1l, s1h, st, stl, sth, False)
        rows = []
        for fi, f in enumerate(names):
            fab = out[(3 + fi) * n:(4 + fi) * n, k]
            (f1, f1l, f1h), (ft, ftl, fth) = indices(fa[:, k], fb[:, k], fab, brng)
            rows.append(SobolIndex(f, f1, f1l, f1h, ft, ftl, fth,
                                   named=ftl > max(st, 0.0) and ft >= MIN_DRIVER_SHARE))
        rows.sort(key=lambda r: -r.total)
        both = np.concatenate([fa[:, k], fb[:, k]])
        metrics[m] = MetricSobol(m, float(np.mean(both)), float(np.var(both)), seed_index, rows)
    return SobolResult(name, grouping, base_rows, samples, total,
                       {f: [a.key for a in g] for f, g in groups.items()}, metrics)


def _run_all(scen: Scenario, name: str,
             tasks: list[tuple[str, dict[tuple[Any, ...], float], int]], samples: int,
             raid_replications: int, client: Any, progress: Progress | None
             ) -> list[dict[str, float]]:
    total = len(tasks)
    if client is None:
        results = []
        for i, (label, values, s) in enumerate(tasks):
            if progress:
                progress(label, i, total)
            results.append(_evaluate(scen, name, values, s, samples, raid_replications))
        if progress:
            progress(tasks[-1][0], total, total)
        return results
    from dask.distributed import as_completed

    futures = [client.submit(_evaluate, scen, name, values, s, samples, raid_replications,
                             pure=False) for _, values, s in tasks]
    if progress:
        progress(f"{total} runs on Dask", 0, total)
        for done, _ in enumerate(as_completed(futures), 1):
            progress("Sobol run", done, total)
    return list(client.gather(futures))


__all__ = ["SEED_FACTOR", "MetricSobol", "SobolIndex", "SobolResult", "factor_of",
           "factors_for", "indices", "runs_for", "sobol"]
