"""Commands: plan (run a scenario's variants into a report), compare (variants side by side)
and the scenarios group (list and show what ships)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

from truceguard.cli.common import F, db_option, domain_errors
from truceguard.errors import InputError

MAX_SAMPLES = 2_000_000
MAX_WORKERS = 64
DEFAULT_SCENARIO = "reassurance-2026"


class Count(click.ParamType):
    """A whole number in a range, also written 2e4; the message states the range."""

    name = "N"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        try:
            f = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if f != int(f):
            self.fail(f"{value!r} is not a whole number", param, ctx)
        if not self.lo <= f <= self.hi:
            self.fail(f"{value} is out of range: give {self.lo:,} to {self.hi:,}", param, ctx)
        return int(f)


class StepBar:
    """A progress bar for the core's ``progress(step, done, total)`` callback: on stderr,
    only when stderr is a terminal, and gone when done (stdout starts with the results).
    :meth:`echo` prints a line above the bar while it shows, so lines and bar do not mix."""

    def __init__(self, what: str) -> None:
        self.shown = sys.stderr.isatty()
        # fixed columns first; the step's name takes what is left and is cut with an ellipsis,
        # so a long name never squeezes the bar or the counts
        self.bar = Progress(TextColumn(what, markup=False), BarColumn(bar_width=24),
                            MofNCompleteColumn(table_column=Column(min_width=9)),
                            TimeElapsedColumn(),
                            TextColumn("{task.description}", markup=False,
                                       table_column=Column(ratio=1, no_wrap=True,
                                                           overflow="ellipsis")),
                            console=Console(stderr=True), transient=True, expand=True,
                            disable=not self.shown, redirect_stdout=False,
                            redirect_stderr=False)
        self.task = self.bar.add_task("", total=None)

    def __call__(self, step: str, done: int, total: int) -> None:
        self.bar.update(self.task, description=step, completed=done, total=total)

    def echo(self, line: str) -> None:
        if self.shown and sys.stdout.isatty():  # one terminal: print above the bar
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(line)


@contextmanager
def step_bar(what: str) -> Iterator[StepBar]:
    """A :class:`StepBar`, started and stopped."""
    bar = StepBar(what)
    with bar.bar:
        yield bar


def _common(f: F) -> F:
    f = click.option("--dask", "dask_address", metavar="SCHEDULER", default=None,
                     help="Run on this Dask scheduler (host:port); needs the scale extra: "
                     "pip install 'truceguard[scale]'.")(f)
    f = click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=None,
                     help=f"Run on a local Dask cluster of N workers (1 to {MAX_WORKERS}); "
                     "needs the scale extra: pip install 'truceguard[scale]'.")(f)
    f = click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=2025,
                     show_default=True,
                     help="Seed of the Monte Carlo (0 or more); the same seed gives the same "
                     "numbers.")(f)
    f = click.option("--samples", type=Count(1, MAX_SAMPLES), default=20_000,
                     show_default=True,
                     help=f"Violations sampled per variant (at most {MAX_SAMPLES:,}).")(f)
    f = click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
                     help="Directory for index.html, the PNG figures and results.json.")(f)
    return f


def _store_threat(db: str | None, terms_name: str | None, min_p: float | None,
                  releasable_to: str | None
                  ) -> tuple[list[tuple[float, float, int, float]], str, str]:
    """The violations that weight a plan's threat (``--threat-from-store``)."""
    from truceguard.cli.common import open_existing
    from truceguard.pipeline import violation_events
    from truceguard.query import default_min_p, finite, resolve_terms_and_clauses, viewer_from

    if not terms_name:
        raise InputError("--threat-from-store needs --terms NAME (whose violations)",
                         hint="e.g. --terms minsk-2015", code="input.missing")
    min_p = default_min_p() if min_p is None else min_p
    finite(min_p, "--min-p", low=0.0, high=1.0)
    viewer = viewer_from(releasable_to)
    with open_existing(db) as store:
        resolve_terms_and_clauses(store, terms_name, ())
        events, marking = violation_events(store, terms_name, viewer, min_p=min_p)
    return events, f"store: violations of {terms_name}", marking.text


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""

    @group.command("plan")
    @click.argument("scenario", default=DEFAULT_SCENARIO)
    @click.option("--variant", "variants", multiple=True,
                  help="Variant to run (repeatable; default: every variant of the scenario).")
    @click.option("--place-orbits", is_flag=True,
                  help="Place every orbit (AWACS, drones) where it adds most coverage, "
                  "outside its stand-off from hostile territory.")
    @click.option("--no-sensitivity", is_flag=True,
                  help="Skip the one-at-a-time sensitivity analysis of the assumptions.")
    @click.option("--sensitivity-samples", type=Count(100, MAX_SAMPLES), default=2_000,
                  show_default=True,
                  help="Violations per run of the sensitivity analysis (two runs per "
                  "assumption).")
    @click.option("--sensitivity-raid-replications", type=click.IntRange(2, 1000), default=20,
                  show_default=True,
                  help="Replications of the raids per sensitivity run (fewer: faster, "
                  "noisier; the noise is shown beside each swing).")
    @click.option("--sobol-rows", type=click.IntRange(0, 4096), default=32, show_default=True,
                  help="Base rows of the variance-based (Sobol) sensitivity analysis: runs = "
                  "rows x (groups of assumptions + 3); 0 skips it.")
    @click.option("--threat-from-store", is_flag=True,
                  help="Weight the threat by the violations in the database (of --terms, "
                  "judged at --min-p): monitoring feeds planning.")
    @click.option("--terms", "terms_name", metavar="NAME",
                  help="With --threat-from-store: whose violations (e.g. minsk-2015).")
    @click.option("--min-p", type=float, default=None,
                  help="With --threat-from-store: only violations located at least this "
                  "surely (default: the reporting threshold of grading.yaml).")
    @click.option("--releasable-to", metavar="CODES",
                  help="With --threat-from-store: only violations releasable to these codes.")
    @db_option
    @_common
    @domain_errors
    def plan_cmd(scenario: str, variants: tuple[str, ...], place_orbits: bool,
                 no_sensitivity: bool, sensitivity_samples: int,
                 sensitivity_raid_replications: int, sobol_rows: int,
                 threat_from_store: bool,
                 terms_name: str | None, min_p: float | None, releasable_to: str | None,
                 db: str | None, samples: int, seed: int, dask_address: str | None,
                 workers: int | None, out_dir: str) -> None:
        """Is this coalition enough? Simulate SCENARIO (a shipped name or a YAML path;
        default reassurance-2026), rank the assumptions that drive each answer, and write
        the report."""
        from truceguard.plan.sweep import run_plan
        from truceguard.report.planning import summary_line, write_plan_report

        events, label, marking = None, "store", "PUBLIC"
        if threat_from_store:
            events, label, marking = _store_threat(db, terms_name, min_p, releasable_to)
        elif terms_name or releasable_to:
            raise InputError("--terms and --releasable-to go with --threat-from-store",
                             hint="add --threat-from-store, or drop them",
                             code="input.conflicting_options")
        with step_bar("plan") as bar:
            run = run_plan(scenario, list(variants) or None, samples, seed,
                           scheduler=dask_address, workers=workers, place=place_orbits,
                           with_sensitivity=not no_sensitivity,
                           sensitivity_samples=sensitivity_samples, threat_events=events,
                           threat_label=label, progress=bar, sobol_rows=sobol_rows,
                           sensitivity_raid_replications=sensitivity_raid_replications)
        if run.sensitivity_skipped:
            flags = " and ".join(f for f, on in (("--threat-from-store", threat_from_store),
                                                 ("--place-orbits", place_orbits)) if on)
            click.echo(f"Note: the sensitivity analysis was not run ({flags}): "
                       f"{run.sensitivity_skipped}. The report ranks no assumptions; run "
                       f"without {flags} for that, or add --no-sensitivity to silence this.",
                       err=True)
        index = write_plan_report(run.scenario, run.results, out_dir, run.sensitivity,
                                  run.extra, marking=marking,
                                  sensitivity_skipped=run.sensitivity_skipped)
        for r in run.results:
            click.echo(summary_line(r))
        if run.sensitivity is not None:
            for k in ("line_isr_cover_share", "breach_contained_72h_share",
                      "air_intercept_share", "raid_largest_defeated_share"):
                d = run.sensitivity.driver(k)
                if d:
                    click.echo(f"{k} is moved most by {d['assumption']} ({d['metric_low']:.0%} "
                               f"to {d['metric_high']:.0%})")
        click.echo(f"report: {index}")

    @group.command("compare")
    @click.argument("scenario", default=DEFAULT_SCENARIO)
    @click.option("--variants", "variant_list", required=True, metavar="A,B,C",
                  help="Comma-separated variants to compare.")
    @_common
    @domain_errors
    def compare_cmd(scenario: str, variant_list: str, samples: int, seed: int,
                    dask_address: str | None, workers: int | None, out_dir: str) -> None:
        """Compare variants of SCENARIO side by side, with the gap each one leaves."""
        from truceguard.plan.sweep import run_plan
        from truceguard.report.planning import write_compare_report

        names = [v.strip() for v in variant_list.split(",") if v.strip()]
        with step_bar("compare") as bar:
            run = run_plan(scenario, names, samples, seed, scheduler=dask_address,
                           workers=workers, with_sensitivity=False, progress=bar)
        index = write_compare_report(run.scenario, run.results, out_dir)
        for r in run.results:
            gaps = ", ".join(f"{c} {g:,.0f}" for c, g in r.gaps.items() if g) or "none"
            click.echo(f"{r.name}: missing {gaps}")
        click.echo(f"report: {index}")

    @group.group("scenarios")
    def scenarios_group() -> None:
        """The planning scenarios shipped with truceguard."""

    @scenarios_group.command("list")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                  show_default=True, help="Output format.")
    @domain_errors
    def scenarios_list(fmt: str) -> None:
        """List the shipped scenarios: name, title, effective date and variants."""
        from truceguard.plan.scenario import load_scenario, shipped_scenarios

        rows: list[dict[str, Any]] = []
        for name in shipped_scenarios():
            s = load_scenario(name)
            rows.append({"name": s.name, "title": s.title, "effective": s.effective,
                         "default": s.name == DEFAULT_SCENARIO, "variants": list(s.variants)})
        if fmt == "json":
            click.echo(json.dumps(rows, indent=2))
            return
        for r in rows:
            mark = " (default)" if r["default"] else ""
            click.echo(f"{r['name']}{mark}  {r['effective']}  {r['title']}")
            click.echo(f"    variants: {', '.join(r['variants'])}")

    @scenarios_group.command("show")
    @click.argument("name")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                  show_default=True, help="Output format.")
    @domain_errors
    def scenarios_show(name: str, fmt: str) -> None:
        """Show one scenario: its summary, conditions, variants, pledges and assumptions."""
        from truceguard.plan.scenario import describe, load_scenario

        d = describe(load_scenario(name))
        if fmt == "json":
            click.echo(json.dumps(d, indent=2))
            return
        click.echo(f"{d['name']}: {d['title']} (as of {d['effective']})")
        click.echo(d["summary"])
        click.echo(f"baseline variant: {d['baseline_variant']}")
        click.echo("variants:")
        for v, desc in d["variants"].items():
            click.echo(f"  {v}: {desc}")
        click.echo("conditions:")
        for c, v in d["conditions"].items():
            click.echo(f"  {c} ({'holds' if v['holds'] else 'does not hold'}): "
                       f"{v['description']}")
        click.echo("pledges:")
        for p in d["pledges"]:
            req = f" [requires {', '.join(p['requires'])}]" if p["requires"] else ""
            click.echo(f"  {p['id']}: {p['nation']} {p['capability']} x{p['quantity']:g}"
                       f"{req}; {p['source']}")
        click.echo(f"assumptions ({len(d['assumptions'])}, each with its range):")
        for a in d["assumptions"]:
            click.echo(f"  {a['key']} = {a['value']:g} ({a['low']:g} .. {a['high']:g}): "
                       f"{a['reason']}")
