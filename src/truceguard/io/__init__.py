"""Readers and writers, one module per format, and the one registry of readers.

Every format, built-in or from a plugin (entry point group ``truceguard.readers``), is a
``ReaderSpec`` in ``io.registry``: ``reader(name)`` gives it, ``readers()`` lists them,
``detect_format`` asks each one's sniffer. ``READERS`` (name -> reader function) and
``register_reader`` are read-through views of the same registry. ``WRITERS`` maps an output
format to its writer; every writer writes each record's marking and writes nothing its reader
would refuse.
"""

from __future__ import annotations

from truceguard.io.acled import read_acled
from truceguard.io.cot import read_cot
from truceguard.io.csvmap import read_csv_mapped, write_csv
from truceguard.io.geojson import read_geojson, write_geojson
from truceguard.io.registry import (
    READERS,
    ReaderSpec,
    broken_plugins,
    detect_format,
    reader,
    reader_names,
    readers,
    register,
    register_reader,
    reload_plugins,
    unregister,
)
from truceguard.io.ucdp import read_ucdp

WRITERS = {"csv": write_csv, "geojson": write_geojson}

__all__ = [
    "READERS",
    "WRITERS",
    "ReaderSpec",
    "broken_plugins",
    "detect_format",
    "read_acled",
    "read_cot",
    "read_csv_mapped",
    "read_geojson",
    "read_ucdp",
    "reader",
    "reader_names",
    "readers",
    "register",
    "register_reader",
    "reload_plugins",
    "unregister",
    "write_csv",
    "write_geojson",
]
