"""Commands that see: init, import, observations, export, conflicts, remark, markings."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from truceguard.cli.common import (
    atomic_output,
    check_output,
    db_option,
    domain_errors,
    open_existing,
    resolve_db,
)
from truceguard.errors import InputError
from truceguard.ingest import import_file
from truceguard.io import WRITERS, detect_format, write_csv, write_geojson
from truceguard.io.csvmap import FIELDS as MAP_FIELDS
from truceguard.io.csvmap import parse_mapping
from truceguard.io.records import write_json
from truceguard.io.registry import broken_plugins, reader_names
from truceguard.marking import parse_code, parse_marking, vocabulary
from truceguard.model import CATEGORIES, WEAPON_CLASSES, iso
from truceguard.query import build_filter, check_limit, check_sources, viewer_from
from truceguard.store import ObservationFilter, open_store

F = Callable[..., Any]


def filter_options(f: F) -> F:
    """The filter options shared by observations, export, incidents and violations."""
    opts = [
        click.option("--since", metavar="DATE", help="On or after this time (ISO 8601: "
                     "2020-07-27, 2020-07, 2020, 2020-07-27T06:00Z)."),
        click.option("--until", metavar="DATE",
                     help="On or before this time (a date, month or year: all of it)."),
        click.option("--bbox", metavar="W,S,E,N", help="Inside this box, degrees."),
        click.option("--near", metavar="LAT,LON", help="Within --within-km of this point."),
        click.option("--within-km", type=float, metavar="K", help="Radius for --near, km."),
        click.option("--category", multiple=True,
                     help="Only this category (repeatable): " + ", ".join(CATEGORIES) + "."),
        click.option("--weapon-class", multiple=True,
                     help="Only this weapon class (repeatable): " + ", ".join(WEAPON_CLASSES)
                     + "."),
        click.option("--source", multiple=True, help="Only this source (repeatable)."),
        click.option(
            "--releasable-to",
            metavar="CODES",
            help="Show only what is releasable to these codes (ISO 3166-1 alpha-3 countries "
                 "or groups, e.g. 'GBR,FRA' or 'NATO'); default: the owner's view (all).",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _progress_for(path: str) -> tuple[Progress, Callable[[int], None]]:
    """A progress bar redrawn on each committed batch: it runs no thread of its own, so the
    import may still fork its reader process (see ``truceguard.ingest``)."""
    total = os.path.getsize(path) if os.path.isfile(path) else 0
    progress = Progress(
        TextColumn("[bold]importing[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        auto_refresh=False,
        disable=total < (4 << 20) or not sys.stderr.isatty(),
    )
    task = progress.add_task(os.path.basename(path), total=total)

    def advance(n: int) -> None:
        progress.advance(task, n)
        progress.refresh()

    return progress, advance


@click.command("init")
@click.option("--nation", metavar="CODE",
              help="The nation that owns the database (ISO 3166-1 alpha-3, e.g. GBR).")
@click.option("--audit-key", "audit_key", type=click.Path(dir_okay=False), metavar="FILE",
              help="Key the audit log with the key in FILE (created, mode 0600, if absent; "
                   "keep it outside the database): its chain is HMAC-keyed from now on.")
@db_option
@domain_errors
def init_cmd(nation: str | None, audit_key: str | None, db: str | None) -> None:
    """Create (or migrate) the database, owned by --nation."""
    code = parse_code(nation, what="--nation") if nation else None
    if code and code not in vocabulary().countries:
        raise InputError(f"--nation {nation!r} is a group, not a nation",
                         hint="give a country's ISO 3166-1 alpha-3 code, e.g. GBR",
                         code="input.bad_nation")
    location = resolve_db(db)
    with open_store(location) as store:
        if code:
            store.set_owner_nation(code)
        owner = store.owner_nation() or "not set (init --nation CODE)"
        click.echo(f"{store.path}: schema version {store.schema_version()}, owner {owner}")
        if audit_key:
            from truceguard.audit import create_key_file, key_id, load_key

            created = create_key_file(audit_key)
            key = load_key(audit_key)
            store.set_audit_key(key)
            seq = store.key_audit_log()
            click.echo(f"audit key {audit_key} ({'created' if created else 'existing'}, key id "
                       f"{key_id(key)}): the audit log is keyed from entry {seq}")


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(reader_names()),
              help="The format (default: detected from the file). Plugins add formats "
                   "through the entry point group truceguard.readers.")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Column mapping for a CSV; FIELD is one of: " + ", ".join(MAP_FIELDS)
              + ".")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write refused rows here (CSV).")
@click.option("--encoding", default="auto", show_default=True,
              help="auto: UTF-16/32 by their byte-order mark, else UTF-8, else cp1252 line by "
                   "line; or a codec name.")
@click.option("--releasability", default="PUBLIC", show_default=True,
              help="The import's marking, a ceiling: PUBLIC or 'REL TO GBR, FRA, NATO'. A row's "
                   "own marking can only narrow it.")
@click.option("--source", "source_name", help="Source name for records that carry none.")
@click.option("--curated/--not-curated", default=None,
              help="Whether the source's records were already deduplicated by its curators "
                   "(default: yes for UCDP and ACLED): a curated source's records never fuse "
                   "with each other.")
@click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row is refused.")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=5000,
              show_default=True, help="Records per transaction.")
@db_option
@domain_errors
def import_cmd(path: str, fmt: str | None, maps: tuple[str, ...], rejects: str | None,
               encoding: str, releasability: str, source_name: str | None,
               curated: bool | None, all_or_nothing: bool, batch_size: int,
               db: str | None) -> None:
    """Import observations from PATH (UCDP, ACLED, GeoJSON, CSV with --map, CoT XML)."""
    # Everything that can be checked without the store is checked first: a refused import
    # creates no database.
    for broken in broken_plugins():
        click.echo(f"Warning: {broken.message}", err=True)
    mapping = parse_mapping(maps) if maps else None
    parse_marking(releasability, legacy=False)
    location = resolve_db(db)
    fmt = fmt or detect_format(path, mapping)
    if rejects:
        check_output(rejects, db=location, inputs=(path,), option="--rejects")
    with open_store(location) as store:
        progress, advance = _progress_for(path)
        with progress:
            summary = import_file(
                store, path, fmt=fmt, mapping=mapping, rejects=rejects, encoding=encoding,
                releasability=releasability, source=source_name, curated=curated,
                all_or_nothing=all_or_nothing, batch_size=batch_size, progress=advance,
            )
    for err in summary.errors[:10]:
        click.echo(f"rejected: {err}", err=True)
    if summary.rejected > 10:
        more = f" (all of them in {rejects})" if rejects else " (use --rejects FILE for all)"
        click.echo(f"... and {summary.rejected - 10} more{more}", err=True)
    if summary.conflicts:
        click.echo(f"{summary.conflicts} record(s) claim an identity already held by other "
                   "content: kept for review (truceguard conflicts)", err=True)
    click.echo(summary.line)


def _table(observations: list[Any], marking: str) -> None:
    table = Table("obs_id", "time", "lat", "lon", "±m", "category", "source", "incident",
                  "marking", "text", title=f"[{marking}]")
    for o in observations:
        table.add_row(str(o.obs_id), iso(o.t_start)[:16], f"{o.lat:.4f}", f"{o.lon:.4f}",
                      "" if o.uncertainty_m is None else f"{o.uncertainty_m:,.0f}",
                      o.category, o.source, "" if o.incident_id is None else str(o.incident_id),
                      o.releasability, o.text[:50])
    Console(width=180).print(table)


def say_empty(what: str, hint: str) -> None:
    click.echo(f"0 {what}. {hint}", err=True)


BANNER_OPTION = click.option(
    "--banner", is_flag=True,
    help="CSV: write the file's marking as a first comment line '# marking: ...' (truceguard "
         "reads it back; other tools want plain CSV, the default).")
GIS_FORMATS = ("gpkg", "kml")
EXPORT_FORMATS = (*sorted(WRITERS), *GIS_FORMATS)


def write_gis(fmt: str, records: Any, output: str, marking: str, layer: str) -> int:
    """Write ``records`` as a GeoPackage or KML file (``fmt``) at ``output``; returns N."""
    if output == "-":
        raise InputError(f"--format {fmt} writes a file, not standard output",
                         hint=f"give -o FILE.{fmt}", code="output.not_a_file")
    from truceguard.io.gis import write_gpkg, write_kml

    writer = write_gpkg if fmt == "gpkg" else write_kml
    return int(writer(records, output, marking=marking, layer=layer))


def say_marking(n: int, marking: str, output: str | None = None) -> None:
    """The summary line of a written listing: how many rows, where, and their banner."""
    where = f" to {output}" if output and output != "-" else ""
    noun = "row" if n == 1 else "rows"
    click.echo(f"wrote {n} {noun}{where} [{marking}]", err=True)


@click.command("observations")
@filter_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "geojson"]),
              default="table", show_default=True)
@click.option("--count", is_flag=True, help="Print only how many match.")
@click.option("--limit", type=int, help="At most this many (not with --count).")
@BANNER_OPTION
@db_option
@domain_errors
def observations_cmd(fmt: str, count: bool, limit: int | None, banner: bool, db: str | None,
                     releasable_to: str | None, **filters: Any) -> None:
    """List the observations that match the filters.

    The banner, the most restrictive marking of exactly the rows listed, heads the table, is
    the JSON's `marking`, and follows CSV on standard error."""
    limit = check_limit(limit, count)
    flt = build_filter(**filters)
    viewer = viewer_from(releasable_to)
    with open_existing(db) as store:
        check_sources(store, flt, viewer)
        marking = store.observation_marking(flt, viewer, limit=limit).text
        if count:
            n = store.count_observations(flt, viewer)
            click.echo(json.dumps({"count": n, "marking": marking}) if fmt == "json"
                       else str(n))
            return
        rows = store.observations(flt, viewer, limit=limit)
        if fmt == "csv":
            n = write_csv(rows, sys.stdout, marking=marking, banner=banner)
            say_marking(n, marking)
        elif fmt == "geojson":
            n = write_geojson(rows, sys.stdout, marking=marking)
        elif fmt == "json":
            n = write_json(rows, sys.stdout, marking=marking)
        else:
            got = list(rows)
            if got:
                _table(got, marking)
            n = len(got)
        if n == 0 and store.count_observations(ObservationFilter(), viewer) == 0:
            say_empty("observations", "The database holds none yet: import a file with "
                      "`truceguard import FILE`.")


@click.command("export")
@filter_options
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="csv, geojson, gpkg (GeoPackage, for QGIS) or kml (Google Earth); every "
                   "field kept, each row with its marking.")
@click.option("-o", "--output", required=True, metavar="FILE|-",
              help="Output file (- for standard output: csv and geojson). Never the database "
                   "or an input.")
@click.option("--raw", is_flag=True,
              help="CSV: write cells verbatim (by default a cell a spreadsheet would run as a "
                   "formula gets a leading apostrophe, which import takes off again).")
@BANNER_OPTION
@db_option
@domain_errors
def export_cmd(fmt: str, output: str, raw: bool, banner: bool, db: str | None,
               releasable_to: str | None, **filters: Any) -> None:
    """Export exactly the observations that `observations` lists with the same filters."""
    flt = build_filter(**filters)
    viewer = viewer_from(releasable_to)
    location = resolve_db(db)
    if fmt in GIS_FORMATS and output == "-":
        write_gis(fmt, [], output, "", "observations")  # the error naming the format
    if output != "-":
        check_output(output, db=location)
    with open_existing(db) as store:
        check_sources(store, flt, viewer)
        marking = store.observation_marking(flt, viewer).text
        rows = store.observations(flt, viewer)
        if fmt in GIS_FORMATS:
            n = write_gis(fmt, rows, output, marking, "observations")
        else:
            with atomic_output(output) as fh:
                if fmt == "csv":
                    n = write_csv(rows, fh, raw=raw, marking=marking, banner=banner)
                else:
                    n = write_geojson(rows, fh, marking=marking)
    if output != "-":
        click.echo(f"exported {n} to {output} [{marking}]")
    elif fmt == "csv":
        say_marking(n, marking)


@click.command("conflicts")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--releasable-to", metavar="CODES", help="As for `observations`.")
@db_option
@domain_errors
def conflicts_cmd(fmt: str, releasable_to: str | None, db: str | None) -> None:
    """Records kept for review: each claims the identity of a stored record with other
    content (a revised event, or a forged id)."""
    viewer = viewer_from(releasable_to)
    with open_existing(db) as store:
        rows = store.conflicts(viewer)
    if fmt == "json":
        click.echo(json.dumps([{"conflict_id": c.conflict_id, "at": iso(c.at),
                                "dedup_key": c.dedup_key, "existing_obs_id": c.existing_obs_id,
                                "releasability": c.releasability, "source_file": c.source_file,
                                "source_line": c.source_line, "record": c.record}
                               for c in rows], ensure_ascii=False, indent=1))
        return
    table = Table("conflict", "identity", "stored obs", "file:line", "marking", "raw")
    for c in rows:
        table.add_row(str(c.conflict_id), c.dedup_key, str(c.existing_obs_id),
                      f"{Path(c.source_file).name}:{c.source_line}", c.releasability,
                      str(c.record.get("raw", ""))[:60])
    Console(width=180).print(table)
    if not rows:
        say_empty("conflicts", "Every record's identity is held by one content.")


@click.command("remark")
@click.argument("obs_ids", nargs=-1, required=True, type=click.IntRange(1, 2**63 - 1))
@click.option("--marking", required=True, help="The new marking: PUBLIC or 'REL TO ...'.")
@click.option("--by", "who", required=True, help="Who decides.")
@click.option("--why", required=True, help="Why.")
@db_option
@domain_errors
def remark_cmd(obs_ids: tuple[int, ...], marking: str, who: str, why: str,
               db: str | None) -> None:
    """Change the marking of observations (wider or narrower), logged with who and why.
    Run `truceguard fuse` and `adjudicate` afterwards: their incidents change."""
    m = parse_marking(marking, legacy=False)
    with open_existing(db) as store:
        n = store.remark(list(obs_ids), m, who, why)
    click.echo(f"{n} observation(s) now {m.text}; run `truceguard fuse` to update incidents")


@click.command("markings")
def markings_cmd() -> None:
    """The codes a marking may name: ISO 3166-1 alpha-3 countries and the groups."""
    voc = vocabulary()
    click.echo("Syntax: PUBLIC, or REL TO CODE[, CODE ...] (e.g. REL TO GBR, FRA, NATO).")
    click.echo(f"Countries: {len(voc.countries)} ISO 3166-1 alpha-3 codes (GBR, FRA, UKR ...).")
    for g, members in sorted(voc.groups.items()):
        click.echo(f"{g} ({voc.titles[g]}): {', '.join(sorted(members))}")


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for cmd in (init_cmd, import_cmd, observations_cmd, export_cmd, conflicts_cmd, remark_cmd,
                markings_cmd):
        group.add_command(cmd)
