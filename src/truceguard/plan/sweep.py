"""Many variants (or parameter grids) at once: locally, or on a Dask cluster when asked.

One code path: every task is :func:`truceguard.plan.run.run_variant` on one resolved variant
with the same seed, so a sweep on Dask gives the same numbers as the local run. Workers get the
scenario (plain data) and return plain results. :func:`dask_client` is the one way in to Dask
(for the sweeps and the sensitivity analysis): a clean error when the ``scale`` extra is not
installed, and when a scheduler does not answer within :data:`CONNECT_TIMEOUT_S`.

Progress is a plain callback, :data:`Progress`: ``progress(step, done, total)``, with ``step``
the name of the run now under way (on Dask: the one that just ended), ``done`` the runs
finished and ``total`` all runs; ``done`` never decreases and ends at ``total``. Whoever shows
it (a progress bar in the CLI) is the caller's business: nothing here imports a front end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from truceguard.errors import InputError, MissingExtraError, NotFoundError, suggest
from truceguard.plan.run import VariantResult, run_variant
from truceguard.plan.scenario import ResolvedVariant, Scenario, Sourced, resolve_variant

MAX_WORKERS = 64
CONNECT_TIMEOUT_S = 10.0

Progress = Callable[[str, int, int], None]


def resolve_all(scen: Scenario, variants: Sequence[str] | None) -> list[ResolvedVariant]:
    """The named variants (default: every variant of the scenario, or the base if none)."""
    names = list(variants) if variants else (list(scen.variants) or ["base"])
    return [resolve_variant(scen, v) for v in names]


def grid(rv: ResolvedVariant, requirement: str, values: Sequence[float]) -> list[ResolvedVariant]:
    """Copies of a variant with one requirement set to each value (a parameter grid)."""
    if requirement not in rv.requirements:
        raise NotFoundError(f"no requirement {requirement!r}",
                            hint=suggest(requirement, rv.requirements),
                            code="not_found.requirement")
    return [
        replace(rv, name=f"{rv.name}[{requirement}={v:g}]",
                requirements={**rv.requirements, requirement: Sourced(v, "sweep")})
        for v in values
    ]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                feature: str = "--workers") -> Iterator[Any]:
    """A Dask client on ``scheduler`` (host:port) or on a local cluster of ``workers``
    processes; closed on exit."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MissingExtraError(feature, "scale", "dask") from None
    if workers is not None and not 1 <= int(workers) <= MAX_WORKERS:
        raise InputError(f"--workers {workers} is out of range",
                         hint=f"give 1 to {MAX_WORKERS} workers", code="input.bad_workers")
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"no Dask scheduler answered at {scheduler!r} within {CONNECT_TIMEOUT_S:g} s",
                hint="start one (`dask scheduler`) or check the address (host:port); "
                f"{type(exc).__name__}", code="input.dask_unreachable") from None
    else:
        cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run(rv: ResolvedVariant, samples: int, seed: int) -> VariantResult:
    return run_variant(rv, samples, seed, threads=1)


def sweep(
    resolved: Sequence[ResolvedVariant],
    samples: int,
    seed: int,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    client: Any = None,
) -> list[VariantResult]:
    """Run every resolved variant; on Dask when ``scheduler`` (an address), ``workers`` (a
    LocalCluster of that many workers) or ``client`` is given, else in this process.
    ``progress`` (module docstring) names each variant."""
    if client is None and scheduler is None and not workers:  # in this process
        out = []
        n = len(resolved)
        for i, rv in enumerate(resolved):
            if progress:
                progress(rv.name, i, n)
            out.append(run_variant(rv, samples, seed))
        if progress and n:
            progress(resolved[-1].name, n, n)
        return out
    if client is None:
        with dask_client(scheduler, workers, "--dask" if scheduler else "--workers") as own:
            return _on_dask(own, resolved, samples, seed, progress)
    return _on_dask(client, resolved, samples, seed, progress)


def _on_dask(client: Any, resolved: Sequence[ResolvedVariant], samples: int, seed: int,
             progress: Progress | None) -> list[VariantResult]:
    from dask.distributed import as_completed

    futures = [client.submit(_run, rv, samples, seed, pure=False) for rv in resolved]
    if progress:
        n = len(futures)
        progress(f"{n} variants on Dask", 0, n)
        for done, fut in enumerate(as_completed(futures), 1):
            progress(fut.result().name, done, n)
    return list(client.gather(futures))


def _shifted(progress: Progress | None, prefix: str, before: int, total: int
             ) -> Progress | None:
    """A stage's progress as steps ``before + 1 ..`` of ``total``, its names prefixed."""
    if progress is None:
        return None
    return lambda step, done, _n: progress(f"{prefix}{step}", before + done, total)


@dataclass
class PlanRun:
    """What :func:`run_plan` produced: the scenario, one result per variant, the sensitivity
    (None when not asked) and extra results.json keys (orbit moves)."""

    scenario: Scenario
    results: list[VariantResult]
    sensitivity: Any
    extra: dict[str, Any] = field(default_factory=dict)
    sensitivity_skipped: str | None = None  # why it was asked for and not run


def sensitivity_skipped(place: bool, threat_events: object) -> str | None:
    """Why the sensitivity analysis cannot run on this plan (None when it can): it varies the
    scenario as written, which placed orbits or a threat drawn from events are not."""
    why = []
    if threat_events is not None:
        why.append("the threat is weighted by the given events (the store's violations), "
                   "not the scenario's own threat")
    if place:
        why.append("the orbits are placed by the optimiser, not where the scenario puts them")
    if not why:
        return None
    return ("it varies the scenario as written, and here " + "; and ".join(why))


def plan_steps(scen: Scenario, variants: Sequence[str] | None = None, *,
               with_sensitivity: bool = True, place: bool = False,
               threat_events: object = None, sobol_rows: int = 0) -> int:
    """How many runs :func:`run_plan` makes (the ``total`` its progress reports): one per
    variant, one for the structural switches, and the sensitivity analyses' runs when they
    run."""
    from truceguard.plan.sensitivity import runs_for

    resolved = resolve_all(scen, variants)
    n = len(resolved) + 1  # the variants and the structural switches
    if with_sensitivity and sensitivity_skipped(place, threat_events) is None:
        names = [rv.name for rv in resolved]
        base = scen.baseline if scen.baseline in names else names[0]
        n += runs_for(scen, base) + _sobol_runs(scen, base, sobol_rows)
    return n


def _sobol_runs(scen: Scenario, variant: str, rows: int) -> int:
    from truceguard.plan import sobol
    from truceguard.plan.sensitivity import assumptions_for

    if rows <= 0:
        return 0
    if rows < 8:
        raise InputError(f"{rows} Sobol base rows are too few for an interval",
                         hint="give 8 or more (32 is the default), or 0 to skip it",
                         code="input.out_of_range")
    factors = sobol.factors_for([a for a in assumptions_for(scen, variant) if a.high > a.low],
                                "group")
    return sobol.runs_for(len(factors), rows) if factors else 0


def run_plan(
    scenario: str | Scenario, variants: Sequence[str] | None = None, samples: int = 20_000,
    seed: int = 2025, *, scheduler: str | None = None, workers: int | None = None,
    place: bool = False, with_sensitivity: bool = True, sensitivity_samples: int | None = None,
    threat_events: Sequence[Sequence[Any]] | None = None, threat_label: str = "store",
    progress: Progress | None = None, sobol_rows: int = 0,
    sensitivity_raid_replications: int | None = None,
) -> PlanRun:
    """Everything ``truceguard plan`` does, as one core function: resolve the variants,
    optionally place their orbits and weight their threat by events (``threat_events``:
    (lat, lon, time, weight) rows, e.g. the store's violations), run them, and run the
    sensitivity analysis on the baseline variant (or the first one run). The sensitivity
    varies the scenario as written, so it is not run when orbits are placed or the threat
    comes from events: ``PlanRun.sensitivity_skipped`` then says why. ``progress`` (module
    docstring) counts every run, the variants' (``variant NAME``) and the sensitivity's
    (``sensitivity KEY = VALUE``), out of :func:`plan_steps`. With ``sobol_rows`` > 0 the
    variance-based analysis (:mod:`truceguard.plan.sobol`) runs too, on the same variant,
    and its indices go to ``extra["sobol"]`` (results.json's ``sobol``). The structural
    switches of the baseline variant (:mod:`truceguard.plan.switches`) go to
    ``extra["switches"]``."""
    from truceguard.plan.orbits import place_orbits
    from truceguard.plan.scenario import load_scenario
    from truceguard.plan.sensitivity import (
        DEFAULT_RAID_REPLICATIONS,
        DEFAULT_SAMPLES,
        runs_for,
        sensitivity,
    )
    from truceguard.plan.switches import switches
    from truceguard.plan.threat import with_threat

    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    resolved = resolve_all(scen, variants)
    extra: dict[str, Any] = {}
    if threat_events is not None:
        resolved = with_threat(resolved, threat_events, threat_label)
    if place:
        placed = [place_orbits(rv) for rv in resolved]
        resolved = [rv for rv, _ in placed]
        extra["orbit_moves"] = {rv.name: moves for rv, moves in placed}
    base = scen.baseline if scen.baseline in [rv.name for rv in resolved] else resolved[0].name
    skipped = sensitivity_skipped(place, threat_events) if with_sensitivity else None
    run_sens = with_sensitivity and skipped is None
    n_sobol = _sobol_runs(scen, base, sobol_rows) if run_sens else 0
    total = len(resolved) + 1 + (runs_for(scen, base) if run_sens else 0) + n_sobol
    use_dask = scheduler is not None or bool(workers)
    with (dask_client(scheduler, workers, "--dask" if scheduler else "--workers") if use_dask
          else contextlib.nullcontext()) as client:
        results = sweep(resolved, samples, seed, client=client,
                        progress=_shifted(progress, "variant ", 0, total))
        if progress:
            progress("structural switches", len(resolved), total)
        base_rv = next(rv for rv in resolved if rv.name == base)
        extra["switches"] = switches(base_rv, seed)
        if progress:
            progress("structural switches", len(resolved) + 1, total)
        sens = None
        if run_sens:
            sens = sensitivity(scen, base, sensitivity_samples or DEFAULT_SAMPLES, seed,
                               raid_replications=(sensitivity_raid_replications
                                                  or DEFAULT_RAID_REPLICATIONS),
                               client=client,
                               progress=_shifted(progress, "sensitivity ", len(resolved) + 1,
                                                 total))
        if n_sobol:
            from truceguard.plan import sobol as so

            extra["sobol"] = so.sobol(
                scen, base, base_rows=sobol_rows, seed=seed, client=client,
                samples=min(sensitivity_samples or so.DEFAULT_SAMPLES, so.DEFAULT_SAMPLES),
                raid_replications=min(sensitivity_raid_replications
                                      or so.DEFAULT_RAID_REPLICATIONS,
                                      so.DEFAULT_RAID_REPLICATIONS),
                progress=_shifted(progress, "Sobol ", total - n_sobol, total)).as_json()
    return PlanRun(scen, results, sens, extra, skipped)
