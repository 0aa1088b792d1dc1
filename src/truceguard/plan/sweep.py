"""Many variants (or parameter grids) at once: locally, or on a Dask cluster when asked.

One code path: every task is :func:`truceguard.plan.run.run_variant` on one resolved variant
with the same seed, so a sweep on Dask gives the same numbers as the local run. Workers get the
scenario (plain data) and return plain results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from truceguard.plan.run import VariantResult, run_variant
from truceguard.plan.scenario import ResolvedVariant, Scenario, Sourced, resolve_variant


def resolve_all(scen: Scenario, variants: Sequence[str] | None) -> list[ResolvedVariant]:
    """The named variants (default: every variant of the scenario, or the base if none)."""
    names = list(variants) if variants else (list(scen.variants) or ["base"])
    return [resolve_variant(scen, v) for v in names]


def grid(rv: ResolvedVariant, requirement: str, values: Sequence[float]) -> list[ResolvedVariant]:
    """Copies of a variant with one requirement set to each value (a parameter grid)."""
    if requirement not in rv.requirements:
        raise KeyError(f"no requirement {requirement!r}")
    return [
        replace(rv, name=f"{rv.name}[{requirement}={v:g}]",
                requirements={**rv.requirements, requirement: Sourced(v, "sweep")})
        for v in values
    ]


def _run(rv: ResolvedVariant, samples: int, seed: int) -> VariantResult:
    return run_variant(rv, samples, seed, threads=1)


def sweep(
    resolved: Sequence[ResolvedVariant],
    samples: int,
    seed: int,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    client: Any = None,
) -> list[VariantResult]:
    """Run every resolved variant; on Dask when ``scheduler`` (an address), ``workers`` (a
    LocalCluster of that many workers) or ``client`` is given, else in this process."""
    if client is None and scheduler is None and not workers:
        out = []
        for rv in resolved:
            out.append(run_variant(rv, samples, seed))
            if progress:
                progress(rv.name)
        return out
    from dask.distributed import Client, LocalCluster, as_completed

    own_cluster = None
    own_client = None
    if client is None:
        if scheduler:
            own_client = Client(scheduler)
        else:
            own_cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1,
                                       processes=True, dashboard_address=None)
            own_client = Client(own_cluster)
        client = own_client
    try:
        futures = [client.submit(_run, rv, samples, seed, pure=False) for rv in resolved]
        if progress:
            for fut in as_completed(futures):
                progress(fut.result().name)
        return list(client.gather(futures))
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
