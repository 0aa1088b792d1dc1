"""Listings of observations, incidents and violations as JSON, CSV and GeoJSON: one shape.

- Numbers are numbers, a missing value is ``null`` (JSON) or an empty cell (CSV).
- An observation's monitor's report is one nested object, ``report``: every field of
  ``model.MonitorReport`` by name (``kind``, ``direction``, ``bearing_deg`` ...), ``null`` where
  not given; ``report`` itself is ``null`` for a record that is not a monitor's report. The
  HTTP API answers with this shape; CSV holds the object as JSON text in one cell.
- Times (``t_start``, ``t_end``, ``at``) are ISO 8601 UTC strings.
- Every row carries its own marking (``releasability``) and every document states on its
  banner the most restrictive marking of what it holds: ``marking`` in JSON and GeoJSON. CSV
  is plain (the header first); its banner goes to the command's summary line, and, when asked
  (``banner=True``), to a first comment line ``# marking: ...`` that the readers pass over.
- CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return) get a leading apostrophe unless ``raw=True``; numbers stay
  numbers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, fields, is_dataclass
from typing import Any, TextIO

from truceguard.io.base import BANNER_PREFIX
from truceguard.io.csvmap import neutralise_cell
from truceguard.marking import most_restrictive
from truceguard.model import Incident, Observation, StatusChange, Violation, iso

TIME_FIELDS = ("t_start", "t_end", "at")
Record = Observation | Incident | Violation


def record_dict(rec: Record | StatusChange) -> dict[str, Any]:
    """A record as plain JSON-ready data: times as ISO strings, missing values None."""
    d = asdict(rec) if is_dataclass(rec) else dict(rec)
    for k in TIME_FIELDS:
        if k in d and d[k] is not None:
            d[k] = iso(d[k])
    return d


def columns_of(kind: type) -> list[str]:
    return [f.name for f in fields(kind)]


def neutralise(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (numbers are left alone; the rule of
    ``io.csvmap.neutralise_cell``, which the CSV reader undoes)."""
    return neutralise_cell(value) if isinstance(value, str) else value


def _cell(value: Any, raw: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value if raw else neutralise(value)


def banner(records: list[Record]) -> str:
    """The most restrictive marking of ``records`` (PUBLIC for none)."""
    return most_restrictive(r.releasability for r in records).text


def write_json(records: Iterable[Record], out: TextIO, *, marking: str | None = None) -> int:
    """``{"marking": ..., "count": N, "rows": [...]}``; returns N."""
    rows = list(records)
    doc = {"marking": marking or banner(rows), "count": len(rows),
           "rows": [record_dict(r) for r in rows]}
    out.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    return len(rows)


def write_csv(records: Iterable[Record], out: TextIO, kind: type, *, raw: bool = False,
              marking: str | None = None, banner_line: bool = False) -> int:
    """A header and a row a record (after a ``# marking:`` line if ``banner_line``); returns
    the number of rows."""
    rows = list(records)
    cols = columns_of(kind)
    if banner_line:
        out.write(f"{BANNER_PREFIX}{marking or banner(rows)}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        d = record_dict(r)
        w.writerow([_cell(d.get(c), raw) for c in cols])
    return len(rows)


def write_geojson(records: Iterable[Record], out: TextIO, *, marking: str | None = None) -> int:
    """A FeatureCollection of Points with every other field as properties; returns N."""
    rows = list(records)
    feats = []
    for r in rows:
        d = record_dict(r)
        lon, lat = d.pop("lon"), d.pop("lat")
        feats.append({"type": "Feature", "geometry": {"type": "Point",
                                                      "coordinates": [lon, lat]},
                      "properties": d})
    doc = {"type": "FeatureCollection", "marking": marking or banner(rows), "features": feats}
    out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return len(rows)


__all__ = ["banner", "neutralise", "record_dict", "write_csv", "write_geojson", "write_json"]
