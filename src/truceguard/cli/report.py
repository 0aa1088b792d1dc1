"""The report command: a period report of ceasefire violations, as HTML or Markdown."""

from __future__ import annotations

import click

from truceguard.cli.common import db_option, domain_errors, resolve_db
from truceguard.cli.observe import viewer_from
from truceguard.report.period import PERIODS, build_period_report, render_markdown, write_html
from truceguard.store import open_store


@click.command("report")
@click.option("--terms", "terms_name", required=True, metavar="NAME|PATH",
              help="Shipped terms (minsk-2015, geneva-2025) or a terms file.")
@click.option("--period", default="month", show_default=True, metavar="|".join(PERIODS),
              help="Bucket size of the trend (UTC calendar days, ISO weeks, months, years).")
@click.option("--from", "start", required=True, metavar="DATE",
              help="First day of the report (YYYY-MM-DD, included).")
@click.option("--to", "end", required=True, metavar="DATE",
              help="Last day of the report (YYYY-MM-DD, included).")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default=None,
              help="Default: html with -o, md without.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="PATH",
              help="Write the report here (default: Markdown on standard output).")
@click.option("--hotspots", default=10, show_default=True, help="How many hotspots to list.")
@click.option("--releasable-to", metavar="CODES",
              help="Report only what is releasable to these codes (e.g. 'UK,FR'); default: all.")
@db_option
@domain_errors
def report_cmd(terms_name: str, period: str, start: str, end: str, fmt: str | None,
               output: str | None, hotspots: int, releasable_to: str | None,
               db: str | None) -> None:
    """Period report: counts by category, weapon, clause, side and zone, change, hotspots."""
    fmt = fmt or ("html" if output else "md")
    with open_store(resolve_db(db), create=False) as store:
        report = build_period_report(store, terms_name, period, start, end,
                                     viewer_from(releasable_to), hotspots=hotspots,
                                     trail=fmt == "html")
    if fmt == "html":
        if not output:
            raise click.UsageError("--format html needs -o PATH")
        write_html(report, output)
        click.echo(f"{output}: {report.total.now} violations, {report.first_date} to "
                   f"{report.last_date} by {report.period} (previous period: "
                   f"{report.total.before}, {report.total.text()})")
    elif output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(render_markdown(report))
        click.echo(f"{output}: {report.total.now} violations")
    else:
        click.echo(render_markdown(report), nl=False)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(report_cmd)
