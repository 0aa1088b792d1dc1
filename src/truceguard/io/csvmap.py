"""Any CSV, with a column mapping; and the CSV writer whose output reads back the same.

A feed we have never seen maps its columns onto observation fields on the command line
(``--map time=date --map lat=latitude --map lon=longitude``). Without a mapping, columns named
like the fields themselves are used, so ``truceguard export --format csv`` reads back unchanged.

Fields: ``time`` (required), ``lat``, ``lon`` (required), ``t_end``, ``category``,
``weapon_class``, ``count``, ``text``, ``source``, ``origin``, ``how_known``, ``uncertainty_m``,
``time_precision_s``, ``releasability``, ``id`` (the source's own identifier), ``attributes``
(a JSON object), and a monitor's report, one column a field (``io.reports.REPORT_FIELDS``:
``kind``, ``direction``, ``bearing_deg`` ...; its rules are that module's). A category or
weapon class outside the vocabulary is kept as ``other``/``unknown`` with the original value in
the attributes; a how_known outside the vocabulary is an error (it decides how much we trust it).

Values: ``text``, ``source``, ``origin`` and ``id`` are kept exactly as written (white space
too); the other fields are read without surrounding white space. ``count`` is a whole number
from 0 to ``values.MAX_COUNT``, ``uncertainty_m`` a finite number of metres from 0 to
``values.MAX_UNCERTAINTY_M``, ``time_precision_s`` a whole number of seconds from 1; times lie
in the years 1000-9999. A row's ``releasability`` can only narrow the ``releasability`` option
(the import's ceiling): the record gets the intersection of both, in canonical text; a row
without one gets the ceiling. An ``attributes`` cell that is not a JSON object of finite
numbers, nested at most ``values.MAX_JSON_DEPTH`` deep, is kept as text in
``attributes_original``.

Formula cells: spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return. ``write_csv`` writes such a text cell with a leading apostrophe (OWASP's rule
for CSV injection), and so any text cell that is apostrophes followed by one of those; numbers
are written as numbers, never changed. ``raw=True`` writes every cell as it is. The reader takes
one leading apostrophe off a cell of that shape, so what the writer wrote reads back exactly.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from truceguard.errors import ConfigError, RowError
from truceguard.io.base import (
    BANNER_PREFIX,
    MAX_RECORD_BYTES,
    CsvRecord,
    open_csv,
    parse_lat_lon,
    require_columns,
    row_error,
    sha256_hex,
)
from truceguard.io.registry import ReaderSpec, checked_options, csv_columns
from truceguard.io.reports import REPORT_FIELDS, parse_report, report_values, weapon_class_for
from truceguard.io.timeparse import parse_time
from truceguard.io.values import (
    MAX_UNCERTAINTY_M,
    MAX_WINDOW_S,
    FieldError,
    MarkingCeiling,
    check_writable,
    load_json,
    real,
    whole,
)
from truceguard.model import (
    CATEGORIES,
    HOW_KNOWN,
    WEAPON_CLASSES,
    MonitorReport,
    Observation,
    iso,
)

FIELDS = (
    "time",
    "t_end",
    "lat",
    "lon",
    "category",
    "weapon_class",
    "count",
    "text",
    "source",
    "origin",
    "how_known",
    "uncertainty_m",
    "time_precision_s",
    "releasability",
    "id",
    "attributes",
    *REPORT_FIELDS,
)
REQUIRED = ("time", "lat", "lon")
# Columns written by write_csv, in order; the mapped fields read them back.
EXPORT_COLUMNS = (
    "obs_id",
    "incident_id",
    "time",
    "t_end",
    "time_precision_s",
    "lat",
    "lon",
    "uncertainty_m",
    "category",
    "weapon_class",
    "count",
    "how_known",
    "source",
    "origin",
    "id",
    "releasability",
    "text",
    "source_file",
    "source_line",
    "raw_sha256",
    "attributes",
    *REPORT_FIELDS,
)
# Kept exactly as written; every other field is read without surrounding white space.
VERBATIM = frozenset({"text", "source", "origin", "id"})
# A cell a spreadsheet would run as a formula, and the same with apostrophes before it.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_ALIASES = {"time": ("time", "t_start", "observed_at", "date", "datetime", "timestamp"),
            "lat": ("lat", "latitude"), "lon": ("lon", "lng", "long", "longitude")}


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``["time=date", "lat=latitude"]`` -> ``{"time": "date", "lat": "latitude"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        field = field.strip()
        if not sep or not field or not column.strip():
            raise ConfigError("--map", pair, "expected FIELD=COLUMN, e.g. time=event_date")
        if field not in FIELDS:
            raise ConfigError("--map", field, f"unknown field; the fields are {', '.join(FIELDS)}")
        out[field] = column.strip()
    return out


def resolve_mapping(header: list[str], mapping: dict[str, str] | None) -> dict[str, str]:
    """Mapping given by the user, completed with columns named like the fields."""
    out = dict(mapping or {})
    for field in FIELDS:
        if field in out:
            continue
        for name in _ALIASES.get(field, (field,)):
            if name in header:
                out[field] = name
                break
    return out


@checked_options("csv")
def read_csv_mapped(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
    mapping: dict[str, str] | None = None,
    source: str | None = None,
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad rows) of a CSV file with mapped columns."""
    ceiling = MarkingCeiling(releasability)
    header, records, lines = open_csv(path, encoding, max_record_bytes)
    try:
        yield from _read(str(path), header, records, ceiling, mapping, source)
    finally:
        lines.close()


def _read(
    fname: str,
    header: list[str],
    records: Iterator[CsvRecord],
    ceiling: MarkingCeiling,
    mapping: dict[str, str] | None,
    source: str | None,
) -> Iterator[Observation | RowError]:
    cols = resolve_mapping(header, mapping)
    missing_fields = [f for f in REQUIRED if f not in cols]
    if missing_fields:
        require_columns(fname, header, [f"{f} (map it with --map {f}=COLUMN)" for f in
                                       missing_fields])
    require_columns(fname, header, sorted(set(cols.values())))
    idx = {f: header.index(c) for f, c in cols.items()}
    default_source = source or os.path.basename(fname)
    ncol = len(header)
    for rec in records:
        if rec.error:
            yield row_error(fname, rec, "record", rec.error)
            continue
        f = rec.fields
        if len(f) != ncol:
            yield row_error(fname, rec, "record", f"{len(f)} fields, the header has {ncol}")
            continue
        try:
            yield _observation(fname, rec, f, idx, cols, default_source, ceiling)
        except FieldError as bad:
            yield row_error(fname, rec, bad.field, bad.reason)


def restore_cell(cell: str) -> str:
    """A cell as it was before ``neutralise_cell`` (one leading apostrophe off a cell that is
    apostrophes followed by a formula character)."""
    return cell[1:] if cell[:1] == "'" and _FORMULA.match(cell) else cell


def neutralise_cell(cell: str) -> str:
    """A text cell no spreadsheet runs as a formula (a leading apostrophe where needed)."""
    return "'" + cell if _FORMULA.match(cell) else cell


def _observation(
    fname: str,
    rec: CsvRecord,
    f: list[str],
    idx: dict[str, int],
    cols: dict[str, str],
    default_source: str,
    ceiling: MarkingCeiling,
) -> Observation | RowError:
    """The Observation of one record; raises FieldError (naming the column) when it is bad."""

    def get(field: str) -> str:
        i = idx.get(field)
        if i is None:
            return ""
        cell = restore_cell(f[i])
        return cell if field in VERBATIM else cell.strip()

    lat, lon, bad, why = parse_lat_lon(get("lat"), get("lon"))
    if bad:
        raise FieldError(cols["lat" if bad == "latitude" else "lon"], why)
    try:
        t0, prec = parse_time(get("time"))
    except ValueError as exc:
        raise FieldError(cols["time"], str(exc)) from None
    t1 = t0 + prec - 1
    if get("t_end"):
        try:
            t1 = parse_time(get("t_end"))[0]
        except ValueError as exc:
            raise FieldError(cols["t_end"], str(exc)) from None
        if t1 < t0:
            raise FieldError(cols["t_end"], "before the start time")
    attrs: dict[str, object] = {}
    if get("attributes"):
        try:
            loaded = load_json(get("attributes"), cols["attributes"])
        except FieldError:
            loaded = None
        attrs = loaded if isinstance(loaded, dict) else {"attributes_original": get("attributes")}
    category, weapon, report = _what(get, cols, attrs, lat, lon)
    how = get("how_known") or "open_source"
    if how not in HOW_KNOWN:
        raise FieldError(cols["how_known"], f"{how[:30]!r} is not one of {', '.join(HOW_KNOWN)}")
    count = whole(get("count"), cols["count"]) if get("count") else 1
    unc = (real(get("uncertainty_m"), cols["uncertainty_m"], 0.0, MAX_UNCERTAINTY_M)
           if get("uncertainty_m") else None)
    window = (whole(get("time_precision_s"), cols["time_precision_s"], 1, MAX_WINDOW_S)
              if get("time_precision_s") else max(t1 - t0 + 1, prec))
    marking = ceiling.apply(get("releasability"), cols.get("releasability", "releasability"))
    return Observation(
        source=get("source") or default_source,
        how_known=how,
        t_start=t0,
        t_end=max(t1, t0),
        time_precision_s=window,
        lat=lat,
        lon=lon,
        uncertainty_m=unc,
        category=category,
        weapon_class=weapon,
        count=count,
        text=get("text"),
        origin=get("origin"),
        source_ref=get("id"),
        releasability=marking,
        raw=rec.raw,
        raw_sha256=sha256_hex(rec.raw),
        source_file=fname,
        source_line=rec.line,
        attributes=attrs,
        report=report,
    )


def _what(get: Callable[[str], str], cols: dict[str, str], attrs: dict[str, object],
          lat: float, lon: float) -> tuple[str, str, MonitorReport | None]:
    """(category, weapon class, monitor's report) of a record; an unknown category or weapon
    class is kept in ``attrs`` (the module docstring); FieldError for a bad report."""
    category = get("category") or "other"
    if category not in CATEGORIES:
        attrs["category_original"] = category
        category = "other"
    weapon = get("weapon_class") or "unknown"
    if weapon not in WEAPON_CLASSES:
        attrs["weapon_class_original"] = weapon
        weapon = "unknown"
    report = parse_report({f: get(f) for f in REPORT_FIELDS if f in cols}, lat, lon,
                          lambda f: cols.get(f, f))
    try:
        weapon = weapon_class_for(weapon, report) or weapon
    except FieldError as bad:
        raise FieldError(cols.get(bad.field, bad.field), bad.reason) from None
    return category, weapon, report


def observation_row(o: Observation) -> list[object]:
    """One observation as the values of EXPORT_COLUMNS: times as ISO 8601 UTC text, numbers as
    numbers, None where a value is missing (an empty CSV cell, a JSON null)."""
    return [
        o.obs_id,
        o.incident_id,
        iso(o.t_start),
        iso(o.t_end),
        o.time_precision_s,
        o.lat,
        o.lon,
        o.uncertainty_m,
        o.category,
        o.weapon_class,
        o.count,
        o.how_known,
        o.source,
        o.origin,
        o.source_ref,
        o.releasability,
        o.text,
        o.source_file,
        o.source_line,
        o.raw_sha256,
        json.dumps(o.attributes, ensure_ascii=False, sort_keys=True) if o.attributes else None,
        *report_values(o.report),
    ]


def write_csv(observations: Iterable[Observation], fh: TextIO, *, raw: bool = False,
              marking: str | None = None, banner: bool = False) -> int:
    """Write observations as CSV (EXPORT_COLUMNS, each row with its ``releasability``);
    returns how many were written. Plain CSV: the header is the first line, so spreadsheets,
    QGIS and ``pandas.read_csv`` read it as is. With ``banner`` the file's marking (the most
    restrictive marking of the rows) comes first as a comment line, ``# marking: ...``, which
    the CSV readers pass over. Text cells a spreadsheet would run as formulas get a leading
    apostrophe unless ``raw`` (the module docstring). InputError, before the row is written,
    for an observation the readers would refuse (``values.check_writable``)."""
    if banner and marking:
        fh.write(f"{BANNER_PREFIX}{marking}\r\n")
    w = csv.writer(fh)  # RFC 4180: CRLF, and any field holding CR or LF is quoted
    w.writerow(EXPORT_COLUMNS)
    n = 0
    for o in observations:
        check_writable(o)
        row = observation_row(o)
        if not raw:
            row = [neutralise_cell(v) if isinstance(v, str) else v for v in row]
        w.writerow(row)
        n += 1
    return n


def sniff_csv(path: Path, head: bytes) -> int:
    """2 for a CSV header with coordinate columns (``time,lat,lon`` or ``latitude`` /
    ``longitude``), 1 for a ``.csv`` file."""
    columns = csv_columns(head)
    if {"time", "lat", "lon"} <= columns or {"latitude", "longitude"} & columns:
        return 2
    return 1 if path.suffix.lower() == ".csv" else 0


CSV_READER = ReaderSpec(
    "csv",
    read_csv_mapped,
    sniff_csv,
    description="any CSV, its columns mapped onto observation fields (--map FIELD=COLUMN)",
)
