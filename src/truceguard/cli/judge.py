"""Commands that judge: fuse, adjudicate, incidents, violations, review."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from truceguard.cli.common import (
    atomic_output,
    check_output,
    db_option,
    domain_errors,
    open_existing,
    resolve_db,
    step_progress,
)
from truceguard.cli.observe import (
    BANNER_OPTION,
    GIS_FORMATS,
    filter_options,
    say_empty,
    write_gis,
)
from truceguard.errors import InputError, unknown_value
from truceguard.io.records import banner as banner_of
from truceguard.io.records import record_dict, write_csv, write_geojson, write_json
from truceguard.judge.fusion import FusionParams
from truceguard.judge.grading import load_grading
from truceguard.judge.terms import load_terms, shipped_terms
from truceguard.model import (
    REVIEW_DECISIONS,
    VIOLATION_STATUSES,
    Incident,
    Viewer,
    Violation,
    iso,
)
from truceguard.pipeline import (
    FUSION_STEPS,
    MAX_REASON,
    Awaiting,
    adjudicate_store,
    fuse_store,
    listed_statuses,
    review_queue,
    set_violation_status,
)
from truceguard.query import (
    build_filter,
    check_limit,
    check_sources,
    default_min_p,
    finite,
    resolve_terms_and_clauses,
    viewer_from,
)
from truceguard.store import JudgingStore, ViolationFilter
from truceguard.text import plural

FORMATS = click.Choice(["table", "json", "csv", "geojson", *GIS_FORMATS])
DEFAULT_MIN_P = default_min_p()


def _emit(rows: list[Any], kind: type, fmt: str, count: bool, output: str, db: str,
          columns: tuple[str, ...], banner_line: bool = False) -> None:
    """Write a listing (or, with ``count``, its size) in ``fmt`` to ``output`` (- for standard
    output); its banner is the most restrictive marking of exactly these rows."""
    marking = banner_of(rows)
    if count:
        click.echo(json.dumps({"count": len(rows), "marking": marking})
                   if fmt == "json" else str(len(rows)))
        return
    if fmt == "table":
        if output != "-":
            raise InputError("-o needs --format json, csv, geojson, gpkg or kml",
                             hint="a table is for the terminal", code="input.conflicting_options")
        if not rows:
            return
        table = Table(*columns, title=f"[{marking}]")
        for r in rows:
            table.add_row(*(_short(c, getattr(r, c)) for c in columns))
        Console(width=200).print(table)
        return
    if output != "-":
        check_output(output, db=db)
    if fmt in GIS_FORMATS:
        n = write_gis(fmt, rows, output, marking, kind.__name__.lower() + "s")
    else:
        with atomic_output(output) as fh:
            if fmt == "json":
                n = write_json(rows, fh, marking=marking)
            elif fmt == "csv":
                n = write_csv(rows, fh, kind, marking=marking, banner_line=banner_line)
            else:
                n = write_geojson(rows, fh, marking=marking)
    if output != "-" or fmt == "csv":
        where = f" to {output}" if output != "-" else ""
        click.echo(f"wrote {plural(n, 'row')}{where} [{marking}]", err=True)


def _short(column: str, value: Any) -> str:
    if column in ("t_start", "t_end"):
        return iso(value)[:16]
    if column in ("p_location", "p_side"):
        return f"{value:.2f}"
    if column == "uncertainty_m":
        return f"±{value / 1000:,.1f} km" if value >= 1000 else f"±{value:,.0f} m"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)[:60]


@click.command("fuse")
@click.option("--eps-m", type=float, default=FusionParams.eps_m, show_default=True,
              help="Link distance, metres (widened by position uncertainty).")
@click.option("--eps-s", type=float, default=FusionParams.eps_s, show_default=True,
              help="Link time gap, seconds.")
@click.option("--min-samples", type=click.IntRange(1, 10_000), default=FusionParams.min_samples,
              show_default=True, help="DBSCAN min_samples (1: incidents are connected groups).")
@click.option("--max-link-uncertainty-m", type=float,
              default=FusionParams.max_link_uncertainty_m, show_default=True,
              help="Cap on how far a report's uncertainty widens its links.")
@click.option("--full", is_flag=True, help="Recompute every incident (default: incremental).")
@click.option("--grading", type=click.Path(dir_okay=False),
              help="Grading rules file (default: the shipped grading.yaml).")
@db_option
@domain_errors
def fuse_cmd(eps_m: float, eps_s: float, min_samples: int, max_link_uncertainty_m: float,
             full: bool, grading: str | None, db: str | None) -> None:
    """Fuse observations into incidents (new observations join or merge incidents)."""
    finite(eps_m, "--eps-m", low=0.0, high=1_000_000.0)
    finite(eps_s, "--eps-s", low=0.0, high=365 * 86400.0)
    finite(max_link_uncertainty_m, "--max-link-uncertainty-m", low=0.0, high=1_000_000.0)
    params = FusionParams(eps_m=eps_m, eps_s=eps_s, min_samples=min_samples,
                          max_link_uncertainty_m=max_link_uncertainty_m)
    rules = load_grading(grading)
    with open_existing(db) as store, step_progress("fusing", len(FUSION_STEPS)) as advance:
        s = fuse_store(store, params, full=full, rules=rules, progress=advance)
    click.echo(f"{s.mode} fusion: {plural(s.observations, 'observation')} -> "
               f"{plural(s.incidents, 'incident')} ({s.new_observations} new, "
               f"{s.changed_incidents} written, {s.merged} merged) in {s.seconds:.2f} s")
    if s.observations == 0:
        say_empty("observations to fuse", "Import some first: `truceguard import FILE`.")


@click.command("adjudicate")
@click.option("--terms", "terms_name", required=True, metavar="NAME|PATH",
              help="Shipped terms (see `truceguard terms list`) or a terms file.")
@db_option
@domain_errors
def adjudicate_cmd(terms_name: str, db: str | None) -> None:
    """Judge every incident against the terms: which clauses it breaches."""
    terms = load_terms(terms_name)
    with open_existing(db) as store:
        if store.count_incidents() == 0:
            raise InputError("there are no incidents to judge",
                             hint="run `truceguard fuse` first (after `truceguard import`)",
                             code="pipeline.not_fused")
        s = adjudicate_store(store, terms)
    below = s.n_below_threshold
    click.echo(f"{s.terms} (version {s.terms_version}): {plural(s.incidents, 'incident')}, "
               f"{plural(s.violations, 'violation')} ({s.new} new, {s.withdrawn} withdrawn) in "
               f"{s.seconds:.2f} s; {below} of them below the reporting threshold "
               f"(p_location < {s.threshold:g}: location too imprecise to count; "
               "`violations --min-p 0` lists them)")
    for clause, n in sorted(s.by_clause.items()):
        under = s.below_threshold.get(clause, 0)
        click.echo(f"  {clause}: {n}" + (f" ({under} below the threshold)" if under else ""))


def _output_option(f: Any) -> Any:
    return click.option("-o", "--output", default="-", show_default=True, metavar="FILE|-",
                        help="Write the listing here (json, csv, geojson; gpkg and kml need "
                             "a file).")(f)


@click.command("incidents")
@filter_options
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--count", is_flag=True, help="Print only how many match.")
@click.option("--limit", type=int, help="At most this many (not with --count).")
@_output_option
@BANNER_OPTION
@db_option
@domain_errors
def incidents_cmd(fmt: str, count: bool, limit: int | None, output: str, banner: bool,
                  db: str | None, releasable_to: str | None, **filters: Any) -> None:
    """List incidents (fused observations) matching the filters, as the viewer sees them."""
    limit = check_limit(limit, count)
    flt = build_filter(**filters)
    viewer = viewer_from(releasable_to)
    with open_existing(db) as store:
        check_sources(store, flt, viewer)
        rows = store.incidents(flt, viewer, limit=limit)
        _emit(rows, Incident, fmt, count, output, resolve_db(db),
              ("incident_id", "t_start", "lat", "lon", "uncertainty_m", "category",
               "n_observations", "n_sources", "grade", "releasability"), banner)
        if not rows and store.count_incidents() == 0:
            say_empty("incidents", "Nothing has been fused yet: run `truceguard fuse`.")


@click.command("violations")
@filter_options
@click.option("--terms", "terms_name", help="Only violations of these terms.")
@click.option("--clause", multiple=True,
              help="Only this clause (repeatable): its full id (minsk-2015/live_fire/ceasefire) "
                   "or the short form reports print (live_fire/ceasefire).")
@click.option("--status", multiple=True,
              help="Only this current status (repeatable): " + ", ".join(VIOLATION_STATUSES)
              + ".")
@click.option("--published-only", is_flag=True,
              help="Only published violations: those a second analyst confirmed.")
@click.option("--min-p", type=float, default=DEFAULT_MIN_P, show_default=True,
              help="Only violations whose location satisfies the clause with at least this "
                   "probability (0 shows all; the default is the reporting threshold of "
                   "grading.yaml).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--count", is_flag=True, help="Print only how many match.")
@click.option("--limit", type=int, help="At most this many (not with --count).")
@_output_option
@BANNER_OPTION
@db_option
@domain_errors
def violations_cmd(terms_name: str | None, clause: tuple[str, ...], status: tuple[str, ...],
                   published_only: bool, min_p: float, fmt: str, count: bool,
                   limit: int | None, output: str, banner: bool, db: str | None,
                   releasable_to: str | None, **filters: Any) -> None:
    """List violations (incidents judged against terms) matching the filters."""
    limit = check_limit(limit, count)
    finite(min_p, "--min-p", low=0.0, high=1.0)
    for s in status:
        if s not in VIOLATION_STATUSES:
            raise unknown_value("--status", s, VIOLATION_STATUSES)
    status = listed_statuses(status, published_only)
    flt = build_filter(**filters)
    viewer = viewer_from(releasable_to)
    with open_existing(db) as store:
        check_sources(store, flt, viewer)
        terms_name, clauses = resolve_terms_and_clauses(store, terms_name, clause)
        vf = ViolationFilter(records=flt, terms=terms_name, clauses=clauses, statuses=status,
                             min_p_location=min_p)
        rows = store.violations(vf, viewer, limit=limit)
        _emit(rows, Violation, fmt, count, output, resolve_db(db),
              ("violation_id", "t_start", "clause", "severity", "status", "p_location",
               "uncertainty_m", "location_text", "releasability"), banner)
        if min_p > 0:
            vague = len(store.violations(
                ViolationFilter(records=flt, terms=terms_name, clauses=clauses,
                                statuses=status), viewer)) - len(
                store.violations(vf, viewer))
            if vague:
                click.echo(f"{vague} more violation(s): location too imprecise to judge "
                           f"(p_location < {min_p:g}); --min-p 0 lists them", err=True)
        if not rows:
            _explain_no_violations(store, terms_name)


def _explain_no_violations(store: JudgingStore, terms_name: str | None) -> None:
    judged = store.adjudicated_terms()
    if store.count_incidents() == 0:
        say_empty("violations", "Nothing has been fused yet: run `truceguard fuse`, then "
                  "`truceguard adjudicate --terms NAME`.")
    elif terms_name and terms_name not in judged:
        say_empty("violations", f"The store has not been judged against {terms_name}: run "
                  f"`truceguard adjudicate --terms {terms_name}`.")
    elif not judged:
        say_empty("violations", "Nothing has been adjudicated yet: run `truceguard adjudicate "
                  f"--terms NAME` (shipped: {', '.join(shipped_terms())}).")


@click.command("review")
@click.argument("violation_id", required=False, type=click.IntRange(1, 2**63 - 1))
@click.option("--status", metavar="|".join(REVIEW_DECISIONS),
              help="The decision: " + ", ".join(REVIEW_DECISIONS) + ".")
@click.option("--by", "who", metavar="WHO",
              help="Who decides (with --queue: leave out what WHO verified).")
@click.option("--why", metavar="WHY", help=f"Why (at most {MAX_REASON:,} characters).")
@click.option("--queue", is_flag=True,
              help="List the verified violations that await a second analyst.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="The trail (or the queue) as text or JSON.")
@db_option
@domain_errors
def review_cmd(violation_id: int | None, status: str | None, who: str | None, why: str | None,
               queue: bool, fmt: str, db: str | None) -> None:
    """Change a violation's status; the trail keeps every earlier decision.

    With --queue: list the verified violations that await a second analyst.

    \b
    The flow: new -> under_review -> verified (analyst A) -> published (analyst B, not A).
    B may instead return it (--status returned) to under_review, with the reason;
    discounted is possible at any step before published. Withdrawn is set by
    re-adjudication only. Every decision needs --by and --why and is written to the
    status trail and the audit log.

    \b
      truceguard review 12 --status verified --by anna --why "two cameras, crater seen"
      truceguard review --queue --by boris
      truceguard review 12 --status published --by boris --why "footage checked"
    """
    if queue:
        if violation_id is not None or status is not None or why is not None:
            raise InputError("--queue lists what awaits a second analyst; it takes no "
                             "VIOLATION_ID, --status or --why",
                             hint="`truceguard review --queue [--by WHO]`",
                             code="input.conflicting_options")
        with open_existing(db) as store:
            waiting = review_queue(store, Viewer.owner(), who)
        _print_queue(waiting, who, fmt)
        return
    missing = [n for n, v in (("VIOLATION_ID", violation_id), ("--status", status),
                              ("--by", who), ("--why", why)) if v is None]
    if missing:
        raise InputError(f"review needs {', '.join(missing)}",
                         hint="`truceguard review VIOLATION_ID --status S --by WHO --why WHY`, "
                              "or `truceguard review --queue`", code="input.missing")
    assert violation_id is not None and status is not None and who is not None
    with open_existing(db) as store:
        trail = set_violation_status(store, violation_id, status, who, why or "")
    if fmt == "json":
        click.echo(json.dumps({"violation_id": violation_id, "status": trail[-1].status,
                               "trail": [record_dict(s) for s in trail]}, ensure_ascii=False))
        return
    for step in trail:
        click.echo(f"{iso(step.at)}  {step.status:<13} {step.who}: {step.why}")


def _print_queue(waiting: list[Awaiting], who: str | None, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps({
            "marking": banner_of([w.violation for w in waiting]), "count": len(waiting),
            "rows": [w.as_dict() for w in waiting]}, ensure_ascii=False))
    if not waiting:
        say_empty("violations", "Nothing awaits a second analyst"
                  + (f" (leaving out what {who} verified)" if who else "") + ".")
        return
    if fmt == "json":
        return
    table = Table("violation_id", "t_start", "clause", "p_location", "location_text",
                  "verified_by", "verified_at", "why", "releasability",
                  title=f"[{banner_of([w.violation for w in waiting])}] awaiting a second "
                        "analyst")
    for w in waiting:
        v = w.violation
        table.add_row(str(v.violation_id), iso(v.t_start), v.clause, f"{v.p_location:.2f}",
                      v.location_text, w.verified.who, iso(w.verified.at), w.verified.why,
                      v.releasability)
    Console(width=200).print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for cmd in (fuse_cmd, adjudicate_cmd, incidents_cmd, violations_cmd, review_cmd):
        group.add_command(cmd)



