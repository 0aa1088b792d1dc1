"""UCDP Georeferenced Event Dataset (GED) CSV: one deadly event a row.

Precision codes become honest uncertainties:

- ``where_prec`` (1 exact place .. 7 international waters) -> a radius in metres,
  ``WHERE_PREC_M`` below (e.g. 2 = "within 25 km of a known point" -> 25,000 m);
- ``date_prec`` (1 exact day .. 5 more than a month) -> the minimum width of the time window,
  widened further to cover ``date_start``..``date_end``.

Dates are ISO (``2015-02-15``) in current exports and US month-first (``2/15/2015 12:00:00 AM``
or ``02/15/2015 00:00``) in older spreadsheet exports; both are read. The source's ``id`` is the
deduplication key, so re-importing the same event from another export stores it once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from truceguard.errors import RowError
from truceguard.io.base import (
    MAX_RECORD_BYTES,
    CsvRecord,
    open_csv,
    parse_lat_lon,
    require_columns,
    row_error,
    sha256_hex,
)
from truceguard.io.timeparse import DAY, parse_date_iso, parse_time
from truceguard.model import Observation

REQUIRED = ["id", "latitude", "longitude", "date_start", "date_end", "where_prec", "date_prec"]

# UCDP GED codebook, where_prec: the radius the location is honest to.
WHERE_PREC_M = {
    1: 1_000.0,  # exact location
    2: 25_000.0,  # within 25 km of a known point
    3: 50_000.0,  # second-order administrative division
    4: 150_000.0,  # first-order administrative division (oblast)
    5: 50_000.0,  # a linear feature (road, river, front) or a named area
    6: 500_000.0,  # country only
    7: 500_000.0,  # international waters or airspace
}
# date_prec: the smallest honest time window.
DATE_PREC_S = {1: DAY, 2: 6 * DAY, 3: 7 * DAY, 4: 31 * DAY, 5: 366 * DAY}
CATEGORY_BY_VIOLENCE = {"1": "armed_clash", "2": "armed_clash", "3": "other"}
SOURCE = "UCDP GED"
# Parsed columns kept as attributes (the raw record keeps every column anyway).
KEPT = ("side_a", "side_b", "adm_1", "adm_2", "best", "low", "high")
_WHERE = {str(k): (k, v) for k, v in WHERE_PREC_M.items()}
_DATE_PREC = {str(k): (k, v) for k, v in DATE_PREC_S.items()}


def _date(text: str, cache: dict[str, int]) -> int:
    t = cache.get(text)
    if t is None:
        if len(text) == 10 and text[4] == "-":
            t = parse_date_iso(text)
        else:
            t = parse_time(text)[0] // DAY * DAY
        cache[text] = t
    return t


def read_ucdp(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
    **_: object,
) -> Iterator[Observation | RowError]:
    header, records, lines = open_csv(path, encoding, max_record_bytes)
    try:
        yield from _read(str(path), header, records, releasability)
    finally:
        lines.close()


def _read(
    fname: str, header: list[str], records: Iterator[CsvRecord], releasability: str
) -> Iterator[Observation | RowError]:
    require_columns(fname, header, REQUIRED)
    idx = {name: i for i, name in enumerate(header)}
    i_id, i_lat, i_lon = idx["id"], idx["latitude"], idx["longitude"]
    i_ds, i_de, i_wp, i_dp = idx["date_start"], idx["date_end"], idx["where_prec"], idx["date_prec"]
    i_tv = idx.get("type_of_violence")
    i_office = idx.get("source_office")
    i_desc = idx.get("where_description")
    kept = [(k, idx[k]) for k in KEPT if k in idx]
    ncol = len(header)
    dates: dict[str, int] = {}
    for rec in records:
        if rec.error:
            yield row_error(fname, rec, "record", rec.error)
            continue
        f = rec.fields
        if len(f) != ncol:
            yield row_error(fname, rec, "record", f"{len(f)} fields, the header has {ncol}")
            continue
        lat, lon, bad, why = parse_lat_lon(f[i_lat], f[i_lon])
        if bad:
            yield row_error(fname, rec, bad, why)
            continue
        try:
            t0 = _date(f[i_ds], dates)
        except ValueError as exc:
            yield row_error(fname, rec, "date_start", str(exc))
            continue
        try:
            t1 = _date(f[i_de], dates) + DAY - 1
        except ValueError as exc:
            yield row_error(fname, rec, "date_end", str(exc))
            continue
        if t1 < t0:
            yield row_error(fname, rec, "date_end", f"{f[i_de]!r} is before date_start")
            continue
        try:
            wp, unc = _WHERE[f[i_wp]]
        except KeyError:
            yield row_error(fname, rec, "where_prec", f"{f[i_wp][:20]!r} is not a code 1-7")
            continue
        try:
            dp, min_window = _DATE_PREC[f[i_dp]]
        except KeyError:
            yield row_error(fname, rec, "date_prec", f"{f[i_dp][:20]!r} is not a code 1-5")
            continue
        ident = f[i_id]
        if not ident:
            yield row_error(fname, rec, "id", "empty")
            continue
        attrs: dict[str, object] = {k: f[i] for k, i in kept if f[i] != ""}
        attrs["where_prec"] = wp
        attrs["date_prec"] = dp
        origin = f[i_office].split(";", 1)[0].strip() if i_office is not None else ""
        yield Observation(
            source=SOURCE,
            how_known="open_source",
            t_start=t0,
            t_end=t1,
            time_precision_s=max(t1 - t0 + 1, min_window),
            lat=lat,
            lon=lon,
            uncertainty_m=unc,
            category=CATEGORY_BY_VIOLENCE.get(f[i_tv] if i_tv is not None else "1", "other"),
            text=f[i_desc] if i_desc is not None else "",
            origin=origin,
            source_ref=ident,
            releasability=releasability,
            raw=rec.raw,
            raw_sha256=sha256_hex(rec.raw),
            source_file=fname,
            source_line=rec.line,
            attributes=attrs,
        )
