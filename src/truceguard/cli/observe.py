"""Commands that see: init, import, observations, export."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from truceguard.cli.common import db_option, domain_errors, resolve_db
from truceguard.errors import InputError
from truceguard.ingest import import_file
from truceguard.io import READERS, WRITERS
from truceguard.io.csvmap import EXPORT_COLUMNS, observation_row, parse_mapping
from truceguard.io.timeparse import parse_time
from truceguard.model import Observation, Viewer, iso
from truceguard.store import ObservationFilter, open_store

F = Callable[..., Any]


def _floats(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(
            f"{what}: expected {n} numbers separated by commas, got {text!r}"
        ) from None
    if len(vals) != n:
        raise InputError(f"{what}: expected {n} numbers separated by commas, got {text!r}")
    return vals


def build_filter(
    since: str | None,
    until: str | None,
    bbox: str | None,
    near: str | None,
    within_km: float | None,
    category: tuple[str, ...],
    source: tuple[str, ...],
) -> ObservationFilter:
    """The ObservationFilter the command-line options describe (shared by every listing)."""
    try:
        t0 = parse_time(since)[0] if since else None
        t1 = None
        if until:
            u, prec = parse_time(until)
            t1 = u + prec - 1  # --until 2020-12-31 includes that whole day
    except ValueError as exc:
        raise InputError(f"--since/--until: {exc}") from None
    box = None
    if bbox:
        w, s, e, n = _floats(bbox, 4, "--bbox W,S,E,N")
        if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
            raise InputError(f"--bbox {bbox}: expected W,S,E,N in degrees with S <= N")
        box = (w, s, e, n)
    near_t = None
    if near or within_km is not None:
        if not (near and within_km is not None):
            raise InputError("--near LAT,LON and --within-km K go together")
        lat, lon = _floats(near, 2, "--near LAT,LON")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or within_km <= 0:
            raise InputError("--near: latitude -90..90, longitude -180..180, --within-km > 0")
        near_t = (lat, lon, float(within_km))
    return ObservationFilter(
        since=t0, until=t1, bbox=box, near=near_t, categories=category, sources=source
    )


def viewer_from(releasable_to: str | None) -> Viewer:
    return Viewer.parse(releasable_to)


def filter_options(f: F) -> F:
    """The filter options shared by observations, export, incidents and violations."""
    opts = [
        click.option("--since", metavar="DATE", help="On or after this time (ISO 8601)."),
        click.option("--until", metavar="DATE", help="On or before this time (a date: all of it)."),
        click.option("--bbox", metavar="W,S,E,N", help="Inside this box, degrees."),
        click.option("--near", metavar="LAT,LON", help="Within --within-km of this point."),
        click.option("--within-km", type=float, metavar="K", help="Radius for --near, km."),
        click.option("--category", multiple=True, help="Only this category (repeatable)."),
        click.option("--source", multiple=True, help="Only this source (repeatable)."),
        click.option(
            "--releasable-to",
            metavar="CODES",
            help="Show only what is releasable to these codes (e.g. 'UK,FR'); default: all.",
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
@db_option
@domain_errors
def init_cmd(db: str | None) -> None:
    """Create (or migrate) the database."""
    path = resolve_db(db)
    with open_store(path) as store:
        click.echo(f"{path}: schema version {store.schema_version()}")


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(READERS)), help="Default: detected.")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN", help="Column mapping.")
@click.option("--rejects", type=click.Path(dir_okay=False), help="Write refused rows here (CSV).")
@click.option("--encoding", default="auto", show_default=True, help="auto: UTF-8, else cp1252.")
@click.option("--releasability", default="PUBLIC", show_default=True,
              help="Marking for every record: PUBLIC or 'REL UK FR'.")
@click.option("--source", "source_name", help="Source name for records that carry none.")
@click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row is refused.")
@click.option("--batch-size", default=5000, show_default=True, help="Records per transaction.")
@db_option
@domain_errors
def import_cmd(path: str, fmt: str | None, maps: tuple[str, ...], rejects: str | None,
               encoding: str, releasability: str, source_name: str | None, all_or_nothing: bool,
               batch_size: int, db: str | None) -> None:
    """Import observations from PATH (UCDP, ACLED, GeoJSON, CSV with --map, CoT XML)."""
    mapping = parse_mapping(maps) if maps else None
    with open_store(resolve_db(db)) as store:
        progress, advance = _progress_for(path)
        with progress:
            summary = import_file(
                store, path, fmt=fmt, mapping=mapping, rejects=rejects, encoding=encoding,
                releasability=releasability, source=source_name, all_or_nothing=all_or_nothing,
                batch_size=batch_size, progress=advance,
            )
    for err in summary.errors[:10]:
        click.echo(f"rejected: {err}", err=True)
    if summary.rejected > 10:
        more = f" (all of them in {rejects})" if rejects else " (use --rejects FILE for all)"
        click.echo(f"... and {summary.rejected - 10} more{more}", err=True)
    click.echo(summary.line)


def _emit(observations: Iterator[Observation], fmt: str, out: Any) -> int:
    if fmt in WRITERS:
        return int(WRITERS[fmt](observations, out))
    if fmt == "json":
        n = 0
        out.write("[")
        for o in observations:
            row = dict(zip(EXPORT_COLUMNS, observation_row(o), strict=True))
            row["attributes"] = o.attributes
            out.write(("," if n else "") + "\n" + json.dumps(row, ensure_ascii=False))
            n += 1
        out.write("\n]\n")
        return n
    table = Table("obs_id", "time", "lat", "lon", "category", "source", "incident", "text")
    n = 0
    for o in observations:
        table.add_row(str(o.obs_id), iso(o.t_start)[:16], f"{o.lat:.4f}", f"{o.lon:.4f}",
                      o.category, o.source, "" if o.incident_id is None else str(o.incident_id),
                      o.text[:60])
        n += 1
    Console(file=out, width=160).print(table)
    return n


@click.command("observations")
@filter_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "geojson"]),
              default="table", show_default=True)
@click.option("--count", is_flag=True, help="Print only how many match.")
@click.option("--limit", type=int, help="At most this many (not with --count).")
@db_option
@domain_errors
def observations_cmd(fmt: str, count: bool, limit: int | None, db: str | None,
                     releasable_to: str | None, **filters: Any) -> None:
    """List the observations that match the filters."""
    flt = build_filter(**filters)
    viewer = viewer_from(releasable_to)
    with open_store(resolve_db(db), create=False) as store:
        if count:
            n = store.count_observations(flt, viewer)
            click.echo(json.dumps({"count": n}) if fmt == "json" else str(n))
            return
        _emit(store.observations(flt, viewer, limit=limit), fmt, sys.stdout)


@click.command("export")
@filter_options
@click.option("--format", "fmt", type=click.Choice(sorted(WRITERS)), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="File.")
@db_option
@domain_errors
def export_cmd(fmt: str, output: str, db: str | None, releasable_to: str | None,
               **filters: Any) -> None:
    """Export exactly the observations that `observations` lists with the same filters."""
    flt = build_filter(**filters)
    viewer = viewer_from(releasable_to)
    with open_store(resolve_db(db), create=False) as store, open(
        output, "w", encoding="utf-8", newline=""
    ) as fh:
        n = WRITERS[fmt](store.observations(flt, viewer), fh)
    click.echo(f"exported {n} to {output}")


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for cmd in (init_cmd, import_cmd, observations_cmd, export_cmd):
        group.add_command(cmd)
