"""The report command: a period report of ceasefire violations, as HTML or Markdown."""

from __future__ import annotations

import click

from truceguard.cli.common import (
    atomic_output,
    check_output,
    db_option,
    domain_errors,
    open_existing,
    resolve_db,
)
from truceguard.cli.judge import DEFAULT_MIN_P
from truceguard.judge.terms import load_terms
from truceguard.query import finite, parse_date_option, viewer_from
from truceguard.report.period import PERIODS, build_period_report, render_html, render_markdown
from truceguard.text import plural


@click.command("report")
@click.option("--terms", "terms_name", required=True, metavar="NAME|PATH",
              help="Shipped terms (see `truceguard terms list`) or a terms file.")
@click.option("--period", default="month", show_default=True, type=click.Choice(PERIODS),
              help="Bucket size of the trend (UTC calendar days, ISO weeks, months, years).")
@click.option("--from", "start", required=True, metavar="DATE",
              help="First day of the report (ISO 8601: 2020-01-01, 2020-01 or 2020).")
@click.option("--to", "end", required=True, metavar="DATE",
              help="Last day of the report, included (a month or year: all of it).")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default=None,
              help="Default: html with -o, md without.")
@click.option("-o", "--output", metavar="PATH",
              help="Write the report here (default: Markdown on standard output). Never the "
                   "database.")
@click.option("--hotspots", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="How many hotspots to list.")
@click.option("--min-p", type=float, default=DEFAULT_MIN_P, show_default=True,
              help="Count violations whose p_location (the probability that the position "
                   "satisfies the clause's geometry) is at least this; the others are listed "
                   "apart as too imprecise to judge. 0 counts all.")
@click.option("--releasable-to", metavar="CODES",
              help="Report only what is releasable to these codes (e.g. 'GBR,FRA'); "
                   "default: the owner's view (all).")
@db_option
@domain_errors
def report_cmd(terms_name: str, period: str, start: str, end: str, fmt: str | None,
               output: str | None, hotspots: int, min_p: float, releasable_to: str | None,
               db: str | None) -> None:
    """Period report: counts by category, weapon, clause, side and zone, change, hotspots, map.

    Only the part of the period that the data and the terms cover is counted (a partial
    period says so); it is compared with the part of the same length just before it when
    that lies inside the data and the terms."""
    fmt = fmt or ("html" if output else "md")
    first = parse_date_option(start, "--from")
    last = parse_date_option(end, "--to", end=True)
    finite(min_p, "--min-p", low=0.0, high=1.0)
    viewer = viewer_from(releasable_to)
    terms = load_terms(terms_name)
    if fmt == "html" and not output:
        raise click.UsageError("--format html needs -o PATH")
    if output:
        check_output(output, db=resolve_db(db))
    with open_existing(db) as store:
        report = build_period_report(store, terms, period, first, last, viewer,
                                     hotspots=hotspots, trail=fmt == "html", min_p=min_p)
    if report.coverage.message:
        click.echo(f"Note: {report.coverage.message}", err=True)
    text = render_html(report, terms) if fmt == "html" else render_markdown(report)
    if not output:
        click.echo(text, nl=False)
        return
    with atomic_output(output) as fh:
        fh.write(text)
    if not report.has_figures:
        click.echo(f"{output}: no figures ({report.coverage.state}); {report.marking}")
        return
    compared = (f"previous period: {report.total.before}, {report.total.text()}"
                if report.total.before is not None else "no comparison")
    click.echo(f"{output}: {plural(report.total.now, 'violation')} counted, "
               f"{len(report.imprecise)} too "
               f"imprecise (p_location < {min_p:g}), {report.first_date} to "
               f"{report.last_date} by {report.period} ({compared}); {report.marking}")


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(report_cmd)
