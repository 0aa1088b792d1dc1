"""Readers and writers, one module per format, and format detection.

``READERS`` maps a format name to its reader (see ``io.base`` for the reader contract); new
formats register here, the same way the built-in ones do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from truceguard.errors import FormatError, RowError
from truceguard.io.acled import read_acled
from truceguard.io.cot import read_cot
from truceguard.io.csvmap import read_csv_mapped, write_csv
from truceguard.io.geojson import read_geojson, write_geojson
from truceguard.io.ucdp import read_ucdp
from truceguard.model import Observation

Reader = Callable[..., Iterator[Observation | RowError]]

READERS: dict[str, Reader] = {
    "ucdp": read_ucdp,
    "acled": read_acled,
    "geojson": read_geojson,
    "csv": read_csv_mapped,
    "cot": read_cot,
}
WRITERS = {"csv": write_csv, "geojson": write_geojson}


def register_reader(name: str, reader: Reader) -> None:
    """Make a reader available to ``truceguard import --format NAME``."""
    READERS[name] = reader


def _first_bytes(path: Path, n: int = 64 << 10) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def detect_format(path: str | os.PathLike[str], mapping: dict[str, Any] | None = None) -> str:
    """The format of a file, from its extension and first bytes; FormatError if unsure."""
    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p}: no such file")
    if p.is_dir():
        raise FormatError(f"{p}: is a directory, not a file")
    head = _first_bytes(p).lstrip(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise FormatError(f"{p}: the file is empty")
    suffix = p.suffix.lower()
    if suffix in (".geojson", ".json") or head.startswith(b"{"):
        return "geojson"
    if suffix in (".cot", ".xml") or head.startswith(b"<"):
        return "cot"
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    columns = {c.strip().strip('"') for c in first_line.split(",")}
    if {"where_prec", "date_prec", "date_start"} <= columns:
        return "ucdp"
    if {"event_id_cnty", "event_date", "geo_precision"} <= columns:
        return "acled"
    if mapping or {"time", "lat", "lon"} <= columns or {"latitude", "longitude"} & columns:
        return "csv"
    raise FormatError(
        f"{p}: cannot tell the format from its first line ({first_line[:120]!r}); "
        "give --format ucdp|acled|geojson|csv|cot, and for an unknown CSV "
        "--map time=COLUMN --map lat=COLUMN --map lon=COLUMN"
    )


__all__ = [
    "READERS",
    "WRITERS",
    "detect_format",
    "read_acled",
    "read_cot",
    "read_csv_mapped",
    "read_geojson",
    "read_ucdp",
    "register_reader",
    "write_csv",
    "write_geojson",
]
