"""The report command: a period report of ceasefire violations, or the daily or weekly report of
a monitoring mission, as HTML or Markdown."""

from __future__ import annotations

from datetime import date

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
from truceguard.errors import InputError
from truceguard.judge.terms import Terms, load_terms
from truceguard.marking import Viewer
from truceguard.query import finite, parse_date_option, viewer_from
from truceguard.report.mission import REGIONS, MissionReport, build_mission_report
from truceguard.report.mission_render import render_mission_html, render_mission_markdown
from truceguard.report.mission_text import MISSION_KINDS, latest_day
from truceguard.report.period import PERIODS, build_period_report, render_html, render_markdown
from truceguard.text import plural

KINDS = ("period", *MISSION_KINDS)
FORMATS = ("html", "md", *MISSION_KINDS)


@click.command("report")
@click.option("--terms", "terms_name", required=True, metavar="NAME|PATH",
              help="Shipped terms (see `truceguard terms list`) or a terms file.")
@click.option("--kind", type=click.Choice(KINDS), default=None,
              help="period (default): violations over --from..--to, by --period. daily: the "
                   "mission's daily report for the 24 hours to 19:30 Kyiv time on --date. "
                   "weekly: the seven days to 19:30 Kyiv time on --date.")
@click.option("--period", type=click.Choice(PERIODS), default=None,
              help="Period report: bucket size of the trend (UTC calendar days, ISO weeks, "
                   "months, years). Default: month.")
@click.option("--from", "start", metavar="DATE",
              help="Period report (needed): first day (ISO 8601: 2020-01-01, 2020-01 or 2020).")
@click.option("--to", "end", metavar="DATE",
              help="Period report (needed): last day, included (a month or year: all of it).")
@click.option("--date", "day", metavar="YYYY-MM-DD",
              help="Daily or weekly report: the day its reporting period ends on, at 19:30 "
                   "Kyiv time. Default: the last period that has ended.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output: html or md (default: html with -o, md without). 'daily' or "
                   "'weekly' is short for --kind daily or --kind weekly, output as by default.")
@click.option("-o", "--output", metavar="PATH",
              help="Write the report here (default: Markdown on standard output). Never the "
                   "database.")
@click.option("--hotspots", default=10, show_default=True, type=click.IntRange(0, 1000),
              help="How many hotspots to list.")
@click.option("--min-p", type=float, default=DEFAULT_MIN_P, show_default=True,
              help="Count violations whose p_location (the probability that the position "
                   "satisfies the clause's geometry) is at least this; the others are listed "
                   "apart as too imprecise to judge. 0 counts all.")
@click.option("--include-unpublished", is_flag=True,
              help="Daily or weekly report: show findings (violations) of every status, not "
                   "only those published by a second analyst. Observations (the monitors' own "
                   "records) are always all shown.")
@click.option("--releasable-to", metavar="CODES",
              help="Report only what is releasable to these codes (e.g. 'GBR,FRA'); "
                   "default: the owner's view (all).")
@db_option
@domain_errors
def report_cmd(terms_name: str, kind: str | None, period: str | None, start: str | None,
               end: str | None, day: str | None, fmt: str | None, output: str | None,
               hotspots: int, min_p: float, include_unpublished: bool,
               releasable_to: str | None, db: str | None) -> None:
    """Period report (counts by category, weapon, clause, side and zone, change, hotspots,
    map), or a monitoring mission's daily or weekly report.

    The period report (--kind period, the default) counts only the part of the period that
    the data and the terms cover (a partial period says so); it is compared with the part of
    the same length just before it when that lies inside the data and the terms.

    The daily and weekly reports (--kind daily|weekly, or --format daily|weekly) follow the
    OSCE SMM's: the reporting period ends at 19:30 Kyiv time on --date; ceasefire violations
    by region (Donetsk, Luhansk, elsewhere) against the period before, explosions apart,
    impact, outgoing or undetermined, day or night; hotspots named by settlement; weapons in
    violation, storage sites, restrictions of movement, civilian harm, mines and UXO,
    disengagement areas; and the findings, published only unless --include-unpublished."""
    if fmt in MISSION_KINDS:
        if kind not in (None, fmt):
            raise click.UsageError(f"--format {fmt} asks for a {fmt} report and --kind {kind} "
                                   "for another: give one of them")
        kind, fmt = fmt, None
    kind = kind or "period"
    fmt = fmt or ("html" if output else "md")
    _check_options(kind, period, start, end, day, include_unpublished)
    if kind == "period":
        assert start is not None and end is not None
        dates = (parse_date_option(start, "--from"), parse_date_option(end, "--to", end=True))
    else:
        when = _day(day) if day else latest_day()
    finite(min_p, "--min-p", low=0.0, high=1.0)
    viewer = viewer_from(releasable_to)
    terms = load_terms(terms_name)
    if fmt == "html" and not output:
        raise click.UsageError("--format html needs -o PATH")
    if output:
        check_output(output, db=resolve_db(db))
    if kind == "period":
        _period(terms, period or "month", *dates, fmt, output, hotspots, min_p, viewer, db)
    else:
        _mission(terms, kind, when, fmt, output, hotspots, min_p, include_unpublished, viewer,
                 db)


def _day(value: str) -> date:
    """``--date``: one calendar day, YYYY-MM-DD."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"--date {value!r} is not a day as YYYY-MM-DD",
                         hint="give the day the reporting period ends on, e.g. --date "
                              "2021-08-30", code="input.bad_date") from None


def _check_options(kind: str, period: str | None, start: str | None, end: str | None,
                   day: str | None, include_unpublished: bool) -> None:
    """Each kind of report takes its own options: a clear error for one given to another."""
    if kind == "period":
        missing = [o for o, v in (("--from", start), ("--to", end)) if v is None]
        if missing:
            raise click.UsageError(f"the period report needs {' and '.join(missing)} (or give "
                                   "--kind daily|weekly with --date)")
        stray = [o for o, v in (("--date", day), ("--include-unpublished",
                                                  include_unpublished or None)) if v]
        if stray:
            raise click.UsageError(f"{' and '.join(stray)} belong to the daily and weekly "
                                   "reports: add --kind daily or --kind weekly")
        return
    stray = [o for o, v in (("--from", start), ("--to", end), ("--period", period)) if v]
    if stray:
        raise click.UsageError(f"{' and '.join(stray)} belong to the period report; the "
                               f"{kind} report takes --date (the day its period ends on)")


def _write(text: str, output: str | None) -> bool:
    """Print ``text`` (no output path) or write it to ``output``; True when written."""
    if not output:
        click.echo(text, nl=False)
        return False
    with atomic_output(output) as fh:
        fh.write(text)
    return True


def _period(terms: Terms, period: str, first: date, last: date, fmt: str, output: str | None,
            hotspots: int, min_p: float, viewer: Viewer, db: str | None) -> None:
    with open_existing(db) as store:
        report = build_period_report(store, terms, period, first, last, viewer,
                                     hotspots=hotspots, trail=fmt == "html", min_p=min_p)
    if report.coverage.message:
        click.echo(f"Note: {report.coverage.message}", err=True)
    text = render_html(report, terms) if fmt == "html" else render_markdown(report)
    if not _write(text, output):
        return
    if not report.has_figures:
        click.echo(f"{output}: no figures ({report.coverage.state}); {report.marking}")
        return
    compared = (f"previous period: {report.total.before}, {report.total.text()}"
                if report.total.before is not None else "no comparison")
    click.echo(f"{output}: {plural(report.total.now, 'violation')} counted, "
               f"{len(report.imprecise)} too "
               f"imprecise (p_location < {min_p:g}), {report.first_date} to "
               f"{report.last_date} by {report.period} ({compared}); {report.marking}")


def _mission(terms: Terms, kind: str, day: date, fmt: str, output: str | None, hotspots: int,
             min_p: float, include_unpublished: bool, viewer: Viewer, db: str | None) -> None:
    with open_existing(db) as store:
        report = build_mission_report(store, terms, kind, day, viewer,
                                      include_unpublished=include_unpublished, min_p=min_p,
                                      top=hotspots)
    if report.note:
        click.echo(f"Note: {report.note}", err=True)
    text = render_mission_html(report, terms) if fmt == "html" else \
        render_mission_markdown(report)
    if _write(text, output):
        click.echo(f"{output}: {mission_summary(report)}")


def mission_summary(report: MissionReport) -> str:
    """One line: the period, the violations recorded by region against the period before,
    the findings shown and the marking."""
    total = report.total
    by_region = ", ".join(f"{r.region} {r.now.total}" for r in report.regions
                          if r.region in REGIONS)
    shown = ("published only" if report.findings.published_only else "every status")
    return (f"{report.kind} report to 19:30 Kyiv time on {report.date}: "
            f"{plural(total.now.total, 'ceasefire violation')} recorded ({by_region}; "
            f"previous period {total.before.total}, {total.change.text()}), "
            f"{plural(len(report.findings.shown), 'finding')} shown ({shown}); "
            f"{report.marking}")


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(report_cmd)
