"""Any CSV, with a column mapping; and the CSV writer whose output reads back the same.

A feed we have never seen maps its columns onto observation fields on the command line
(``--map time=date --map lat=latitude --map lon=longitude``). Without a mapping, columns named
like the fields themselves are used, so ``truceguard export --format csv`` reads back unchanged.

Fields: ``time`` (required), ``lat``, ``lon`` (required), ``t_end``, ``category``,
``weapon_class``, ``count``, ``text``, ``source``, ``origin``, ``how_known``, ``uncertainty_m``,
``time_precision_s``, ``releasability``, ``id`` (the source's own identifier), ``attributes``
(a JSON object). A category or
weapon class outside the vocabulary is kept as ``other``/``unknown`` with the original value in
the attributes; a how_known outside the vocabulary is an error (it decides how much we trust it).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from typing import TextIO

from truceguard.errors import ConfigError, MarkingError, RowError
from truceguard.io.base import (
    MAX_RECORD_BYTES,
    CsvRecord,
    open_csv,
    parse_lat_lon,
    require_columns,
    row_error,
    sha256_hex,
)
from truceguard.io.timeparse import parse_time
from truceguard.model import (
    CATEGORIES,
    HOW_KNOWN,
    WEAPON_CLASSES,
    Observation,
    iso,
    normalise_releasability,
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
)
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


def read_csv_mapped(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    **_: object,
) -> Iterator[Observation | RowError]:
    header, records, lines = open_csv(path, encoding, max_record_bytes)
    try:
        yield from _read(str(path), header, records, releasability, mapping, source)
    finally:
        lines.close()


def _read(
    fname: str,
    header: list[str],
    records: Iterator[CsvRecord],
    releasability: str,
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
        obs_or_err = _observation(fname, rec, f, idx, cols, default_source, releasability)
        yield obs_or_err


def _observation(
    fname: str,
    rec: CsvRecord,
    f: list[str],
    idx: dict[str, int],
    cols: dict[str, str],
    default_source: str,
    releasability: str,
) -> Observation | RowError:
    def get(field: str) -> str:
        i = idx.get(field)
        return f[i].strip() if i is not None else ""

    lat, lon, bad, why = parse_lat_lon(get("lat"), get("lon"))
    if bad:
        return row_error(fname, rec, cols["lat" if bad == "latitude" else "lon"], why)
    try:
        t0, prec = parse_time(get("time"))
    except ValueError as exc:
        return row_error(fname, rec, cols["time"], str(exc))
    t1 = t0 + prec - 1
    if get("t_end"):
        try:
            t1 = parse_time(get("t_end"))[0]
        except ValueError as exc:
            return row_error(fname, rec, cols["t_end"], str(exc))
        if t1 < t0:
            return row_error(fname, rec, cols["t_end"], "before the start time")
    attrs: dict[str, object] = {}
    if get("attributes"):
        try:
            attrs = dict(json.loads(get("attributes")))
        except (ValueError, TypeError):
            attrs = {"attributes_original": get("attributes")}
    category = get("category") or "other"
    if category not in CATEGORIES:
        attrs["category_original"] = category
        category = "other"
    weapon = get("weapon_class") or "unknown"
    if weapon not in WEAPON_CLASSES:
        attrs["weapon_class_original"] = weapon
        weapon = "unknown"
    how = get("how_known") or "open_source"
    if how not in HOW_KNOWN:
        return row_error(fname, rec, cols["how_known"],
                         f"{how[:30]!r} is not one of {', '.join(HOW_KNOWN)}")
    numbers: dict[str, float] = {}
    for field in ("count", "uncertainty_m", "time_precision_s"):
        text = get(field)
        if not text:
            continue
        try:
            numbers[field] = float(text)
        except ValueError:
            return row_error(fname, rec, cols[field], f"not a number: {text[:30]!r}")
        if numbers[field] < 0:
            return row_error(fname, rec, cols[field], "negative")
    try:
        marking = normalise_releasability(get("releasability") or releasability)
    except (ValueError, MarkingError) as exc:
        return row_error(fname, rec, cols.get("releasability", "releasability"), str(exc))
    return Observation(
        source=get("source") or default_source,
        how_known=how,
        t_start=t0,
        t_end=max(t1, t0),
        time_precision_s=int(numbers.get("time_precision_s", max(t1 - t0 + 1, prec))),
        lat=lat,
        lon=lon,
        uncertainty_m=numbers.get("uncertainty_m"),
        category=category,
        weapon_class=weapon,
        count=int(numbers.get("count", 1)),
        text=get("text"),
        origin=get("origin"),
        source_ref=get("id"),
        releasability=marking,
        raw=rec.raw,
        raw_sha256=sha256_hex(rec.raw),
        source_file=fname,
        source_line=rec.line,
        attributes=attrs,
    )


def observation_row(o: Observation) -> list[object]:
    """One observation as the values of EXPORT_COLUMNS."""
    return [
        o.obs_id if o.obs_id is not None else "",
        o.incident_id if o.incident_id is not None else "",
        iso(o.t_start),
        iso(o.t_end),
        o.time_precision_s,
        repr(o.lat),
        repr(o.lon),
        "" if o.uncertainty_m is None else repr(o.uncertainty_m),
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
        json.dumps(o.attributes, ensure_ascii=False, sort_keys=True) if o.attributes else "",
    ]


def write_csv(observations: Iterable[Observation], fh: TextIO) -> int:
    """Write observations as CSV (EXPORT_COLUMNS); returns how many were written."""
    w = csv.writer(fh)  # RFC 4180: CRLF, and any field holding CR or LF is quoted
    w.writerow(EXPORT_COLUMNS)
    n = 0
    for o in observations:
        w.writerow(observation_row(o))
        n += 1
    return n
