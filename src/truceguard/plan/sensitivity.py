"""Which assumption drives each answer: a one-at-a-time sensitivity analysis.

Every number of a scenario that carries a range (each ``assumption``, and each published
figure given with its spread, including the ``breach`` and ``air_defence`` blocks) is set to
its low and then its high end, all else as written (a number set so is held there: the land
breach no longer draws it over its range); the baseline variant is run again with a modest
sample (:data:`DEFAULT_SAMPLES` violations, :data:`DEFAULT_RAID_REPLICATIONS` replications
of the largest raid and of the campaign, what no headline needs left out, the same seed
throughout, so the swing is the assumption's and not the sampling's). For each headline
metric the assumptions are ranked by swing, ``|metric_high - metric_low|``: the rows of the
tornado chart.

A swing is compared with the Monte Carlo's own noise: the baseline is also run with
:data:`NOISE_SEEDS` other seeds, and a metric's noise is the range of those runs. A row whose
swing is within that range is marked ``beyond_noise: false`` and is never named the driver
(:meth:`Sensitivity.driver`); the variance-based analysis in :mod:`truceguard.plan.sobol`
gives intervals and interactions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from truceguard.plan.run import HEADLINE, run_variant
from truceguard.plan.scenario import Assumption, Scenario, resolve_variant

DEFAULT_SAMPLES = 2_000
DEFAULT_RAID_REPLICATIONS = 20
NOISE_SEEDS = 4  # extra baseline runs with other seeds: the noise a swing must exceed
MIN_SWING = 0.005  # and half a percentage point, for metrics that have no noise


@dataclass(frozen=True)
class Sensitivity:
    """The baseline's metrics and, per metric, the assumptions ranked by swing."""

    variant: str
    samples: int
    base: dict[str, float]
    rows: dict[str, list[dict[str, Any]]]  # metric -> [{assumption, low, high, metric_low,
    #                                          metric_high, swing, beyond_noise, reason}]
    noise: dict[str, float]  # metric -> range of the baseline over NOISE_SEEDS + 1 seeds

    def as_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "samples": self.samples, "base": self.base,
                "noise": self.noise, **{m: rows for m, rows in self.rows.items()}}

    def driver(self, metric: str) -> dict[str, Any] | None:
        """The assumption that moves ``metric`` most, when its swing exceeds the noise
        (None when nothing does)."""
        rows = [r for r in self.rows.get(metric) or [] if r["beyond_noise"]]
        return rows[0] if rows else None


def runs_for(scen: Scenario, variant: str, only: Sequence[str] | None = None) -> int:
    """How many runs :func:`sensitivity` makes: the baseline at ``1 + NOISE_SEEDS`` seeds and
    two per assumption."""
    n = len(only) if only is not None else len(assumptions_for(scen, variant))
    return 1 + NOISE_SEEDS + 2 * n


def assumptions_for(scen: Scenario, variant: str) -> list[Assumption]:
    """The scenario's ranged numbers that bear on ``variant`` (not those of other variants)."""
    return [a for a in scen.assumptions
            if a.path[0] != "variants" or a.path[1] == variant]


def _one(scen: Scenario, variant: str, path: tuple[Any, ...] | None, value: float | None,
         samples: int, seed: int, raid_replications: int) -> dict[str, float]:
    s = scen if path is None else scen.with_value(path, float(value))  # type: ignore[arg-type]
    if path is None and value is not None:  # the baseline again, with another seed
        seed = seed + int(value)
    return run_variant(resolve_variant(s, variant), samples, seed, threads=1,
                       raid_replications=raid_replications, headlines_only=True).headline()


def sensitivity(
    scen: Scenario, variant: str | None = None, samples: int = DEFAULT_SAMPLES, seed: int = 2025,
    raid_replications: int = DEFAULT_RAID_REPLICATIONS, client: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
    only: Sequence[str] | None = None,
) -> Sensitivity:
    """Run the baseline and both ends of every assumption (or of those keyed in ``only``);
    on Dask when ``client`` is given. ``progress(step, done, total)`` names each run
    (``baseline``, ``KEY = LOW``, ``KEY = HIGH``) as :data:`truceguard.plan.sweep.Progress`
    does."""
    name = variant or scen.baseline
    resolve_variant(scen, name)  # a bad name fails before anything runs
    items = assumptions_for(scen, name)
    if only is not None:
        items = [scen.assumption(k) for k in only]
    tasks: list[tuple[tuple[Any, ...] | None, float | None]] = [(None, None)]
    labels = ["baseline"]
    for k in range(1, NOISE_SEEDS + 1):
        tasks.append((None, float(k)))
        labels.append(f"baseline, seed {seed + k}")
    for a in items:
        tasks += [(a.path, a.low), (a.path, a.high)]
        labels += [f"{a.key} = {a.low:g}", f"{a.key} = {a.high:g}"]
    n = len(tasks)
    if client is None:
        results = []
        for i, ((path, value), label) in enumerate(zip(tasks, labels, strict=True)):
            if progress:
                progress(label, i, n)
            results.append(_one(scen, name, path, value, samples, seed, raid_replications))
        if progress:
            progress(labels[-1], n, n)
    else:
        from dask.distributed import as_completed

        futures = [client.submit(_one, scen, name, path, value, samples, seed,
                                 raid_replications, pure=False) for path, value in tasks]
        if progress:
            label_of = {f.key: label for f, label in zip(futures, labels, strict=True)}
            progress(f"{n} runs on Dask", 0, n)
            for done, fut in enumerate(as_completed(futures), 1):
                progress(label_of[fut.key], done, n)
        results = list(client.gather(futures))
    base = results[0]
    first = 1 + NOISE_SEEDS
    noise = {m: float(max(r[m] for r in results[:first]) - min(r[m] for r in results[:first]))
             for m in HEADLINE}
    rows: dict[str, list[dict[str, Any]]] = {}
    for m in HEADLINE:
        out: list[dict[str, Any]] = []
        for i, a in enumerate(items):
            lo, hi = results[first + 2 * i][m], results[first + 1 + 2 * i][m]
            swing = abs(hi - lo)
            out.append({"assumption": a.key, "low": a.low, "high": a.high, "value": a.value,
                        "metric_low": lo, "metric_high": hi, "swing": swing,
                        "beyond_noise": swing > max(noise[m], MIN_SWING),
                        "reason": a.reason, "line": a.line})
        out.sort(key=lambda r: -float(r["swing"]))
        rows[m] = out
    return Sensitivity(name, samples, base, rows, noise)
