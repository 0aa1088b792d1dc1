"""Commands that judge: fuse, adjudicate, incidents, violations, review."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict, fields
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from truceguard.cli.common import db_option, domain_errors, resolve_db
from truceguard.cli.observe import build_filter, filter_options, viewer_from
from truceguard.judge.fusion import FusionParams
from truceguard.judge.grading import load_grading
from truceguard.judge.terms import load_terms
from truceguard.model import Incident, Violation, iso
from truceguard.pipeline import adjudicate_store, fuse_store, set_violation_status
from truceguard.store import ViolationFilter, open_store

INCIDENT_COLUMNS = tuple(f.name for f in fields(Incident))
VIOLATION_COLUMNS = tuple(f.name for f in fields(Violation))


def _print_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], fmt: str,
                table_cols: tuple[str, ...]) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(columns)
        for r in rows:
            w.writerow([json.dumps(r[c]) if isinstance(r[c], dict) else r[c] for c in columns])
    else:
        table = Table(*table_cols)
        for r in rows:
            table.add_row(*(iso(r[c])[:10] if c == "t_start" else str(r[c])[:48]
                            for c in table_cols))
        Console(width=180).print(table)


@click.command("fuse")
@click.option("--eps-m", type=float, default=FusionParams.eps_m, show_default=True,
              help="Link distance, metres (widened by position uncertainty).")
@click.option("--eps-s", type=float, default=FusionParams.eps_s, show_default=True,
              help="Link time gap, seconds.")
@click.option("--min-samples", type=int, default=FusionParams.min_samples, show_default=True,
              help="DBSCAN min_samples (1: incidents are connected groups).")
@click.option("--max-link-uncertainty-m", type=float,
              default=FusionParams.max_link_uncertainty_m, show_default=True,
              help="Cap on how far a report's uncertainty widens its links.")
@click.option("--full", is_flag=True, help="Recompute every incident (default: incremental).")
@click.option("--grading", type=click.Path(exists=True, dir_okay=False),
              help="Grading rules file (default: the shipped grading.yaml).")
@db_option
@domain_errors
def fuse_cmd(eps_m: float, eps_s: float, min_samples: int, max_link_uncertainty_m: float,
             full: bool, grading: str | None, db: str | None) -> None:
    """Fuse observations into incidents (new observations join or merge incidents)."""
    params = FusionParams(eps_m=eps_m, eps_s=eps_s, min_samples=min_samples,
                          max_link_uncertainty_m=max_link_uncertainty_m)
    with open_store(resolve_db(db), create=False) as store:
        s = fuse_store(store, params, full=full, rules=load_grading(grading))
    click.echo(f"{s.mode} fusion: {s.observations} observations -> {s.incidents} incidents "
               f"({s.new_observations} new observations, {s.changed_incidents} incidents "
               f"written, {s.merged} merged) in {s.seconds:.2f} s")


@click.command("adjudicate")
@click.option("--terms", "terms_name", required=True, metavar="NAME|PATH",
              help="Shipped terms (minsk-2015, geneva-2025) or a terms file.")
@db_option
@domain_errors
def adjudicate_cmd(terms_name: str, db: str | None) -> None:
    """Judge every incident against the terms: which clauses it breaches."""
    terms = load_terms(terms_name)
    with open_store(resolve_db(db), create=False) as store:
        s = adjudicate_store(store, terms)
    click.echo(f"{s.terms}: {s.incidents} incidents, {s.violations} violations "
               f"({s.new} new, {s.withdrawn} withdrawn) in {s.seconds:.2f} s")
    for clause, n in sorted(s.by_clause.items()):
        click.echo(f"  {clause}: {n}")


FORMATS = click.Choice(["table", "json", "csv"])


@click.command("incidents")
@filter_options
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--count", is_flag=True, help="Print only how many match.")
@click.option("--limit", type=int, help="At most this many.")
@db_option
@domain_errors
def incidents_cmd(fmt: str, count: bool, limit: int | None, db: str | None,
                  releasable_to: str | None, **filters: Any) -> None:
    """List incidents (fused observations) matching the filters."""
    flt = build_filter(**filters)
    with open_store(resolve_db(db), create=False) as store:
        rows = [asdict(i) for i in store.incidents(flt, viewer_from(releasable_to),
                                                   limit=None if count else limit)]
    if count:
        click.echo(json.dumps({"count": len(rows)}) if fmt == "json" else str(len(rows)))
        return
    _print_rows(rows, INCIDENT_COLUMNS, fmt,
                ("incident_id", "t_start", "lat", "lon", "category", "n_sources", "grade"))


@click.command("violations")
@filter_options
@click.option("--terms", "terms_name", help="Only violations of these terms.")
@click.option("--clause", multiple=True, help="Only this clause id (repeatable).")
@click.option("--status", multiple=True, help="Only this current status (repeatable).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--count", is_flag=True, help="Print only how many match.")
@click.option("--limit", type=int, help="At most this many.")
@db_option
@domain_errors
def violations_cmd(terms_name: str | None, clause: tuple[str, ...], status: tuple[str, ...],
                   fmt: str, count: bool, limit: int | None, db: str | None,
                   releasable_to: str | None, **filters: Any) -> None:
    """List violations (incidents judged against terms) matching the filters."""
    flt = build_filter(**filters)
    with open_store(resolve_db(db), create=False) as store:
        vf = ViolationFilter(records=flt, terms=terms_name, clauses=clause, statuses=status)
        rows = [asdict(v) for v in store.violations(vf, viewer_from(releasable_to),
                                                    limit=None if count else limit)]
    if count:
        click.echo(json.dumps({"count": len(rows)}) if fmt == "json" else str(len(rows)))
        return
    _print_rows(rows, VIOLATION_COLUMNS, fmt,
                ("violation_id", "t_start", "clause", "severity", "status", "location_text"))


@click.command("review")
@click.argument("violation_id", type=int)
@click.option("--status", required=True,
              type=click.Choice(["new", "under_review", "verified", "discounted"]))
@click.option("--by", "who", required=True, help="Who decides.")
@click.option("--why", required=True, help="Why.")
@db_option
@domain_errors
def review_cmd(violation_id: int, status: str, who: str, why: str, db: str | None) -> None:
    """Change a violation's status; the trail keeps every earlier decision."""
    with open_store(resolve_db(db), create=False) as store:
        trail = set_violation_status(store, violation_id, status, who, why)
    for step in trail:
        click.echo(f"{iso(step.at)}  {step.status:<13} {step.who}: {step.why}")


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for cmd in (fuse_cmd, adjudicate_cmd, incidents_cmd, violations_cmd, review_cmd):
        group.add_command(cmd)
