"""Observations column by column: the batch type of the fast import path.

A reader that parses whole blocks of a file at once (``io.fastcsv``) hands its good records to
the import as one ``ObservationColumns`` per block instead of one ``Observation`` each: a list
per field, in file order, and a single value for a field every record shares (the source, the
releasability, the file). The store inserts it with ``executemany`` over ``rows()``, whose
tuples are built in C, and ``observations()`` turns it back into ``Observation`` objects, equal
field for field to what the row-by-row reader yields for the same records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from truceguard.model import MonitorReport, Observation

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# A monitor's report (``model.MonitorReport``) as stored: the fields searched by, each a column
# (all None when a record has no report), and the rest as one compact JSON object
# (``REPORT_DETAIL``: None for no report, '{}' for a report with nothing more).
REPORT_COLUMNS: tuple[str, ...] = ("kind", "direction", "bearing_deg", "bearing_err_deg",
                                   "distance_min_km", "distance_max_km", "observer_lat",
                                   "observer_lon", "weapon_type")
REPORT_DETAIL = "report_detail"
_DETAIL_FIELDS = tuple(f.name for f in fields(MonitorReport) if f.name not in REPORT_COLUMNS)
_SORTED_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)

# The stored fields, in the order of the store's insert statement. ``attributes`` is the
# compact JSON text ('' for none); ``dedup_key`` is ``f"{source}|{source_ref}"`` (or the digest
# form when a record has no source reference), as ``Observation.dedup_key``. A batch may leave
# ``dedup_key`` out when every record has a source reference and the source is a constant:
# then it is that ``source|source_ref`` (the store may compute it itself). A batch may leave
# the report's fields out too: then no record of it has a report (they are None).
FIELDS: tuple[str, ...] = (
    "dedup_key",
    "source",
    "how_known",
    "t_start",
    "t_end",
    "time_precision_s",
    "lat",
    "lon",
    "uncertainty_m",
    "category",
    "weapon_class",
    "count",
    "text",
    "origin",
    "source_ref",
    "releasability",
    "raw",
    "raw_sha256",
    "source_file",
    "source_line",
    "attributes",
    *REPORT_COLUMNS,
    REPORT_DETAIL,
)


@dataclass(slots=True)
class ObservationColumns:
    """Good records as columns: ``columns[name]`` is a list (one value a record) and
    ``constants[name]`` a value all records share; every name of ``FIELDS`` is in one of them."""

    columns: dict[str, list[Any]]
    constants: dict[str, Any] = field(default_factory=dict)
    raw_chars: int = 0  # the summed length of the raw records (the import's progress measure)

    def __post_init__(self) -> None:
        for name in (*REPORT_COLUMNS, REPORT_DETAIL):  # left out: no record has a report
            if name not in self.columns and name not in self.constants:
                self.constants[name] = None

    def __len__(self) -> int:
        return len(self.columns["raw"])

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle compactly: a text column as one string and its lengths, a number column as
        one array; unpickling then costs a slice a value instead of an object a value."""
        return (_unpack, ({k: _pack(v) for k, v in self.columns.items()}, self.constants,
                          self.raw_chars))

    @property
    def derived_dedup_key(self) -> bool:
        """Whether ``dedup_key`` is left out (it is ``source|source_ref`` of each record)."""
        return "dedup_key" not in self.columns and "dedup_key" not in self.constants

    def column(self, name: str) -> list[Any]:
        """Field ``name`` as a list, one value a record, whichever way the batch holds it."""
        if name in self.columns:
            return self.columns[name]
        if name == "dedup_key" and self.derived_dedup_key:
            return list(map(f"{self.constants['source']}|".__add__, self.columns["source_ref"]))
        return [self.constants[name]] * len(self)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """One tuple a record, its values in ``FIELDS`` order."""
        return zip(*(self.column(f) for f in FIELDS), strict=True)

    def slice(self, start: int, stop: int) -> ObservationColumns:
        cols = {k: v[start:stop] for k, v in self.columns.items()}
        return ObservationColumns(cols, dict(self.constants), sum(map(len, cols["raw"])))

    def observations(self) -> list[Observation]:
        """The records as Observation objects (for callers that iterate records)."""
        out = []
        for row in self.rows():
            d = dict(zip(FIELDS, row, strict=True))
            del d["dedup_key"]
            attrs = d.pop("attributes")
            report = pop_report(d)
            out.append(Observation(**d, attributes=json.loads(attrs) if attrs else {},
                                   report=report))
        return out

    @classmethod
    def from_observations(cls, batch: Sequence[Observation]) -> ObservationColumns:
        cols: dict[str, list[Any]] = {f: [] for f in FIELDS}
        plain = [f for f in FIELDS if f not in _REPORT_STORED and f not in _DERIVED]
        for o in batch:
            cols["dedup_key"].append(o.dedup_key)
            cols["attributes"].append(_JSON.encode(o.attributes) if o.attributes else "")
            for f in plain:
                cols[f].append(getattr(o, f))
            for f, v in zip(_REPORT_STORED, report_stored(o.report), strict=True):
                cols[f].append(v)
        return cls(cols, {}, sum(len(o.raw) for o in batch))

    @classmethod
    def concat(cls, parts: Iterable[ObservationColumns]) -> ObservationColumns:
        """The records of ``parts``, in order, as one batch."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        shared = {
            k: v
            for k, v in parts[0].constants.items()
            if all(k in p.constants and p.constants[k] == v for p in parts[1:])
        }
        derive = "source" in shared and all(p.derived_dedup_key for p in parts)
        cols: dict[str, list[Any]] = {}
        for f in FIELDS:
            if f in shared or (f == "dedup_key" and derive):
                continue
            out: list[Any] = []
            for p in parts:
                out.extend(p.column(f))
            cols[f] = out
        return cls(cols, shared, sum(p.raw_chars for p in parts))


_REPORT_STORED = (*REPORT_COLUMNS, REPORT_DETAIL)
_DERIVED = ("dedup_key", "attributes")


def report_stored(report: MonitorReport | None) -> tuple[Any, ...]:
    """A report's stored values: ``REPORT_COLUMNS`` then ``REPORT_DETAIL``."""
    if report is None:
        return (None,) * len(_REPORT_STORED)
    detail = {f: getattr(report, f) for f in _DETAIL_FIELDS if getattr(report, f) is not None}
    return (*(getattr(report, f) for f in REPORT_COLUMNS), _SORTED_JSON.encode(detail))


def pop_report(d: dict[str, Any]) -> MonitorReport | None:
    """The report held by the stored values ``d`` (its report fields removed from ``d``)."""
    own = {f: d.pop(f) for f in REPORT_COLUMNS}
    detail = d.pop(REPORT_DETAIL)
    if own["kind"] is None:
        return None
    return MonitorReport(**own, **(json.loads(detail) if detail else {}))


def _pack(values: list[Any]) -> tuple[str, Any, Any]:
    kinds = {type(v) for v in values}
    if kinds == {str}:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        return ("s", "".join(values), lengths)
    if kinds == {int}:
        try:
            return ("i", np.array(values, dtype=np.int64), None)
        except OverflowError:
            return ("o", values, None)
    if kinds == {float}:
        return ("f", np.array(values, dtype=np.float64), None)
    return ("o", values, None)


def _unpack_column(kind: str, data: Any, lengths: Any) -> list[Any]:
    if kind == "s":
        ends = np.cumsum(lengths).tolist()
        starts = [0, *ends[:-1]]
        return [data[a:b] for a, b in zip(starts, ends, strict=True)]
    if kind in ("i", "f"):
        return list(data.tolist())
    return list(data)


def _unpack(
    packed: dict[str, tuple[str, Any, Any]], constants: dict[str, Any], raw_chars: int
) -> ObservationColumns:
    return ObservationColumns(
        {k: _unpack_column(*v) for k, v in packed.items()}, constants, raw_chars
    )
