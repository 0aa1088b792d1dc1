"""Commands: plan (run a scenario's variants into a report) and compare (variants side by side)."""

from __future__ import annotations

import click
from rich.progress import Progress

from truceguard.cli.common import domain_errors


def _run(scenario: str, variants: list[str] | None, samples: int, seed: int,
         dask_address: str | None, workers: int | None):  # type: ignore[no-untyped-def]
    from truceguard.plan import load_scenario, resolve_all, sweep

    scen = load_scenario(scenario)
    resolved = resolve_all(scen, variants)
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating variants", total=len(resolved))
        results = sweep(resolved, samples, seed, scheduler=dask_address, workers=workers,
                        progress=lambda _name: bar.advance(task))
    return scen, results


def _common(f):  # type: ignore[no-untyped-def]
    f = click.option("--dask", "dask_address", metavar="SCHEDULER", default=None,
                     help="Run the variants on this Dask scheduler (host:port).")(f)
    f = click.option("--workers", type=click.IntRange(1), default=None,
                     help="Run the variants on a local Dask cluster of N workers.")(f)
    f = click.option("--seed", type=int, default=2025, show_default=True,
                     help="Seed of the Monte Carlo; the same seed gives the same numbers.")(f)
    f = click.option("--samples", type=click.IntRange(1), default=20_000, show_default=True,
                     help="Violations sampled per variant.")(f)
    f = click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
                     help="Directory for index.html, the PNG plots and results.json.")(f)
    return f


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""

    @group.command("plan")
    @click.argument("scenario")
    @click.option("--variant", "variants", multiple=True,
                  help="Variant to run (repeatable; default: every variant of the scenario).")
    @_common
    @domain_errors
    def plan_cmd(scenario: str, variants: tuple[str, ...], samples: int, seed: int,
                 dask_address: str | None, workers: int | None, out_dir: str) -> None:
        """Is this coalition enough? Simulate SCENARIO (a shipped name or a YAML path)."""
        from truceguard.report.planning import write_plan_report

        scen, results = _run(scenario, list(variants) or None, samples, seed, dask_address,
                             workers)
        index = write_plan_report(scen, results, out_dir)
        for r in results:
            m = r.metrics
            click.echo(f"{r.name}: ISR {m['line_isr_cover_share']:.0%} of line, fighters within "
                       f"60 min {m['line_response_60min_share']:.0%}, detection "
                       f"{m['detection_probability']:.1%}, sites under air defence "
                       f"{m['protected_sites_air_defence_share']:.0%}")
        click.echo(f"report: {index}")

    @group.command("compare")
    @click.argument("scenario")
    @click.option("--variants", "variant_list", required=True, metavar="A,B,C",
                  help="Comma-separated variants to compare.")
    @_common
    @domain_errors
    def compare_cmd(scenario: str, variant_list: str, samples: int, seed: int,
                    dask_address: str | None, workers: int | None, out_dir: str) -> None:
        """Compare variants of SCENARIO side by side, with the gap each one leaves."""
        from truceguard.report.planning import write_compare_report

        names = [v.strip() for v in variant_list.split(",") if v.strip()]
        scen, results = _run(scenario, names, samples, seed, dask_address, workers)
        index = write_compare_report(scen, results, out_dir)
        for r in results:
            gaps = ", ".join(f"{c} {g:,.0f}" for c, g in r.gaps.items() if g) or "none"
            click.echo(f"{r.name}: missing {gaps}")
        click.echo(f"report: {index}")
