"""The register command: weapons seen where the terms forbid them, and storage sites checked."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TextIO

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
)
from truceguard.cli.observe import BANNER_OPTION, say_empty
from truceguard.errors import InputError
from truceguard.io.base import BANNER_PREFIX
from truceguard.io.records import neutralise
from truceguard.judge.register import (
    DEFAULT_GAP_S,
    DEFAULT_LINK_M,
    RegisterEntry,
    RegisterParams,
    StorageSite,
    build_register,
    register_marking,
    register_summary,
    sightings_of,
    storage_sites,
)
from truceguard.judge.terms import load_terms
from truceguard.query import build_filter, finite, viewer_from
from truceguard.store import ObservationFilter
from truceguard.text import plural

ENTRY_COLUMNS = ("system_id", "weapon_type", "count", "side", "zone", "p_location",
                 "first_seen", "last_seen", "n_sightings", "releasability")
SITE_COLUMNS = ("site", "state", "last_checked", "last_present", "n_checks", "weapon_types",
                "count", "side", "releasability")
SUMMARY_COLUMNS = ("weapon_type", "weapon_class", "side", "zone", "systems", "weapons")


def _cell(value: Any) -> Any:
    """A CSV cell: lists as JSON text, text that a spreadsheet would run made inert."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = json.dumps(list(value), ensure_ascii=False)
    return neutralise(value)


def _write_csv(rows: Sequence[dict[str, Any]], out: TextIO, marking: str, banner: bool) -> None:
    if banner:
        out.write(f"{BANNER_PREFIX}{marking}\n")
    if not rows:
        return
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(rows[0]))
    for r in rows:
        w.writerow([_cell(v) for v in r.values()])


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> None:
    table = Table(*columns, title=title)
    for r in rows:
        table.add_row(*("" if r[c] is None else
                        ", ".join(map(str, r[c])) if isinstance(r[c], list) else
                        f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c])[:40]
                        for c in columns))
    Console(width=200).print(table)


def _emit(doc: dict[str, Any], columns: Sequence[str], fmt: str, output: str, db: str | None,
          banner: bool) -> None:
    """Write ``doc`` (its ``rows``, ``marking`` and what it is of) as ``fmt`` to ``output``;
    the marking heads the table, is the JSON's ``marking`` and ends the summary line."""
    rows, marking = doc["rows"], doc["marking"]
    if fmt == "table":
        if output != "-":
            raise InputError("-o needs --format json or csv", hint="a table is for the terminal",
                             code="input.conflicting_options")
        if rows:
            _table(rows, columns, f"[{marking}] {doc['what']} ({doc['terms']})")
        click.echo(f"{plural(len(rows), 'row')} [{marking}]", err=True)
        return
    if output != "-":
        check_output(output, db=resolve_db(db))
    with atomic_output(output) as fh:
        if fmt == "json":
            fh.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        else:
            _write_csv(rows, fh, marking, banner)
    where = f" to {output}" if output != "-" else ""
    click.echo(f"wrote {plural(len(rows), 'row')}{where} [{marking}]", err=True)


def _rows(entries: list[RegisterEntry], sites: list[StorageSite], storage: bool,
          summary: bool) -> tuple[list[dict[str, Any]], Sequence[str], str]:
    if storage:
        return [s.as_dict() for s in sites], SITE_COLUMNS, "storage sites"
    if summary:
        return ([r.as_dict() for r in register_summary(entries)], SUMMARY_COLUMNS,
                "register summary: distinct systems")
    return [e.as_dict() for e in entries], ENTRY_COLUMNS, "register"


@click.command("register")
@click.option("--terms", "terms_name", required=True, metavar="NAME|PATH",
              help="Shipped terms (see `truceguard terms list`) or a terms file.")
@click.option("--since", metavar="DATE", help="Sightings on or after this time (ISO 8601).")
@click.option("--until", metavar="DATE",
              help="Sightings on or before this time (a date, month or year: all of it).")
@click.option("--releasable-to", metavar="CODES",
              help="Build it only from what is releasable to these codes (e.g. 'GBR,FRA' or "
                   "'NATO'); default: the owner's view (all).")
@click.option("--storage", is_flag=True,
              help="The storage-site table instead: each site's last check (present, absent, "
                   "never_verified).")
@click.option("--summary", is_flag=True,
              help="Distinct systems (and weapons) by weapon type, side and zone instead.")
@click.option("--link-km", type=float, default=DEFAULT_LINK_M / 1000.0,
              show_default=True, help="Re-sightings within this distance (widened by position "
                                      "uncertainty) are one system.")
@click.option("--gap-days", type=float, default=DEFAULT_GAP_S / 86400.0,
              show_default=True,
              help="Re-sightings at most this many days apart (and within --link-km) are one "
                   "system.")
@click.option("--min-p", type=float, default=None,
              help="Only sightings in the zone with at least this probability (default: the "
                   "reporting threshold of grading.yaml).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE|-",
              help="Write the listing here (json or csv).")
@BANNER_OPTION
@db_option
@domain_errors
def register_cmd(terms_name: str, since: str | None, until: str | None,
                 releasable_to: str | None, storage: bool, summary: bool, link_km: float,
                 gap_days: float, min_p: float | None, fmt: str, output: str, banner: bool,
                 db: str | None) -> None:
    """List weapons seen where the terms forbid them, re-sightings linked into systems.

    One row per system: weapon type, count, side, zone, first and last seen, the sightings
    behind it. Built only from the sightings the viewer may see; the marking (the most
    restrictive of those behind the rows shown) heads the table, is the JSON's `marking`, and
    ends the summary line on standard error."""
    if storage and summary:
        raise InputError("--storage and --summary do not go together",
                         hint="give one of them", code="input.conflicting_options")
    finite(link_km, "--link-km", low=0.0, high=1000.0)
    finite(gap_days, "--gap-days", low=0.0, high=3650.0)
    finite(min_p, "--min-p", low=0.0, high=1.0)
    flt = replace(build_filter(since, until, None, None, None, (), ()),
                  report_kinds=("sighting",))  # the store picks the sightings
    viewer = viewer_from(releasable_to)
    terms = load_terms(terms_name)
    params = RegisterParams(link_m=link_km * 1000.0, gap_s=gap_days * 86400.0, min_p=min_p)
    with open_existing(db) as store:
        seen = sightings_of(store.observations(flt, viewer))
        empty = not seen and store.count_observations(ObservationFilter(), viewer) == 0
    entries = [] if storage else build_register(terms, seen, params)
    sites = storage_sites(terms, seen) if storage else []
    rows, columns, what = _rows(entries, sites, storage, summary)
    marking = register_marking(sites if storage else entries)
    doc = {"marking": marking, "what": what, "terms": terms.name, "viewer": viewer.text,
           "count": len(rows), "rows": rows}
    _emit(doc, columns, fmt, output, db, banner)
    if empty:
        say_empty("observations", "The database holds none yet: import monitors' reports "
                  "with `truceguard import FILE`.")
    elif not seen:
        say_empty("sightings", "The register is built from monitors' reports of kind "
                  "`sighting` (a weapon type, a count, a position); the store holds none "
                  "this viewer may see in the period.")


def register(group: click.Group) -> None:
    group.add_command(register_cmd)


__all__ = ["register", "register_cmd"]
