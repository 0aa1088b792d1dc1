"""GeoPackage and KML files of observations, incidents and violations, written through GDAL.

``write_gpkg`` and ``write_kml`` write one layer of one record kind (the dataclass's fields, in
order) with a Point(lon, lat) in EPSG:4326 a record, and return how many they wrote. Values
are ``io.records.record_dict``'s: times as ISO 8601 UTC text, dicts and lists as JSON text,
None as null; ``lat`` and ``lon`` stay fields besides the geometry. An integer field whose
values are text (the HTTP API shows record ids as tokens, ``server.ids``) is a text column.

Markings: every feature carries its ``releasability``; the file states ``marking`` (canonical
text): in a GeoPackage as the dataset and layer metadata item ``marking`` (and in the layer's
description); in KML as the document's name and description, and each placemark's description
starts with the record's marking, on a line of its own, then its name (``observation 42:
explosion, 2024-03-02T06:40:00Z``).

What ``read_gis_records`` gives back: from a GeoPackage every value and type (INTEGER, REAL,
text, null). From KML (written by GDAL's KML driver; its fields are read by GDAL's LIBKML
driver, as GDAL's own KML reader gives names and descriptions only) text, '' and nulls (an
absent value), floats and coordinates to 15 significant digits, integers as decimal text (GDAL
declares 64-bit integers as KML ``string``); XML turns CR and CRLF into LF, and LIBKML trims a
value's leading and trailing whitespace. Text a format cannot hold is refused (InputError
``output.unwritable``): NUL for GeoPackage (GDAL's strings end there); for KML the control
characters other than tab, LF and CR, and U+FFFE / U+FFFF, which XML cannot hold.

An empty list writes a GeoPackage with the layer and all its fields, the kind taken from the
layer name (``observations``, ``incidents``, ``violations``); KML cannot (GDAL's KML writer
declares the fields with the first placemark), so it is refused (InputError ``output.empty``).
Files are written in a temporary folder beside the target and moved into place when complete;
``-`` (standard output) is refused: GDAL writes real files.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import types
from collections.abc import Callable, Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints
from xml.sax.saxutils import escape

import numpy as np
import pyogrio
import shapely
from pyogrio import raw

from truceguard.errors import InputError
from truceguard.io.base import check_output_path
from truceguard.io.records import TIME_FIELDS, Record, record_dict
from truceguard.io.values import check_writable
from truceguard.marking import parse_marking
from truceguard.model import Incident, Observation, Violation

# Layer name -> record kind; the default layer of a kind is its name here.
KINDS: dict[str, type] = {"observations": Observation, "incidents": Incident,
                          "violations": Violation}
# Record kind -> (the word for one, its identifier field).
_LABELS: dict[type, tuple[str, str]] = {Observation: ("observation", "obs_id"),
                                        Incident: ("incident", "incident_id"),
                                        Violation: ("violation", "violation_id")}
# Fields GDAL's KML readers add to every placemark; not record fields.
KML_FIELDS = frozenset({"id", "Name", "description", "Description", "timestamp", "begin", "end",
                        "altitudeMode", "tessellate", "extrude", "visibility", "drawOrder",
                        "icon", "snippet"})
_LAYER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,62}")
_UNWRITABLE = {  # characters each format cannot hold
    "GPKG": re.compile("[\x00\ud800-\udfff]"),
    "KML": re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"),
}
_KML_DOCUMENT = "root_doc"
_INT64 = (-(2**63), 2**63 - 1)


def columns(kind: type) -> list[tuple[str, str]]:
    """(field, column type) for each field of a record kind: ``int``, ``float``, ``text`` or
    ``json`` (dicts and lists); times are ``text``."""
    hints = get_type_hints(kind)
    out = []
    for f in fields(kind):
        hint = hints[f.name]
        if get_origin(hint) in (types.UnionType, Union):
            hint = next(a for a in get_args(hint) if a is not type(None))
        base = get_origin(hint) or hint
        ctype = {int: "int", float: "float", str: "text"}.get(base, "json")
        out.append((f.name, "text" if f.name in TIME_FIELDS else ctype))
    return out


def _target(path: str | os.PathLike[str], what: str) -> Path:
    if str(path) == "-":
        raise InputError(f"{what} is written to a file, not to standard output",
                         hint=f"give a file name (-o FILE.{what.lower()})",
                         code="output.not_a_file")
    return check_output_path(path)


def _kind_and_layer(rows: list[Record], layer: str | None) -> tuple[type, str]:
    kinds = {type(r) for r in rows}
    if len(kinds) > 1 or not kinds <= _LABELS.keys():
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise InputError(f"one layer holds one kind of record (observations, incidents or "
                         f"violations); got {names}", hint="write each kind to its own file",
                         code="output.mixed_kinds")
    if kinds:
        kind = kinds.pop()
    elif layer in KINDS:
        kind = KINDS[layer]
    else:
        raise InputError(f"no records, and the layer name {layer!r} does not say their kind, "
                         "so the layer's fields are unknown",
                         hint="name the layer observations, incidents or violations",
                         code="output.unknown_kind")
    name = layer or next(k for k, v in KINDS.items() if v is kind)
    if not _LAYER_NAME.fullmatch(name):
        raise InputError(f"layer name {name!r} is not valid", code="input.bad_layer",
                         hint="letters, digits, '_' and '-', starting with a letter or '_'")
    return kind, name


def _which(kind: type, d: dict[str, Any]) -> str:
    """``observation 42`` (the identifier when it has one)."""
    word, id_field = _LABELS[kind]
    ident = d.get(id_field)
    return f"{word} {ident}" if ident is not None else f"an unnumbered {word}"


def _label(kind: type, d: dict[str, Any]) -> str:
    """``observation 42: explosion, 2024-03-02T06:40:00Z``."""
    return f"{_which(kind, d)}: {d.get('category')}, {d.get('t_start')}"


def _cells(rec: Record, cols: list[tuple[str, str]], fmt: str) -> dict[str, Any]:
    """One record as column values: dicts and lists as JSON text; InputError
    (``output.unwritable``) for a value the format cannot hold."""
    if isinstance(rec, Observation):
        check_writable(rec)
    d = record_dict(rec)
    out: dict[str, Any] = {}
    for name, ctype in cols:
        v = d[name]
        if ctype == "json" and v is not None:
            v = json.dumps(v, ensure_ascii=False, sort_keys=True)
        reason = ""
        if isinstance(v, str) and (bad := _UNWRITABLE[fmt].search(v)):
            reason = f"holds the character U+{ord(bad.group()):04X}, which {fmt} cannot hold"
        elif ctype == "int" and v is not None and not _INT64[0] <= v <= _INT64[1]:
            reason = f"{v} is beyond a 64-bit integer"
        if reason:
            raise InputError(
                f"{_which(type(rec), d)} cannot be written as {fmt}: {name}: {reason}",
                code="output.unwritable",
                hint="correct or leave out that record (a filter), or export another format "
                     "(GeoPackage holds any text but NUL)")
        out[name] = v
    return out


def _arrays(rows: list[dict[str, Any]], cols: list[tuple[str, str]]
            ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """One numpy array per column, and its null mask (None when nothing is null)."""
    data: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    for name, ctype in cols:
        values = [r[name] for r in rows]
        missing = np.array([v is None for v in values], dtype=bool)
        if ctype in ("int", "float"):
            fill, dtype = (0, np.int64) if ctype == "int" else (math.nan, np.float64)
            arr = np.array([fill if v is None else v for v in values], dtype=dtype)
        else:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
        data.append(arr)
        masks.append(missing if missing.any() else None)
    return data, masks


def _atomic(target: Path, write: Callable[[Path], None]) -> None:
    """``write`` a file in a temporary folder beside ``target``, then move it into place."""
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
            part = Path(tmp) / target.name
            write(part)
            os.replace(part, target)
    except PermissionError:
        raise InputError(f"cannot write {str(target)!r}: permission denied",
                         hint="write somewhere you may write", code="output.denied") from None


def _prepare(records: Iterable[Record], layer: str | None, fmt: str
             ) -> tuple[type, str, list[dict[str, Any]], list[tuple[str, str]], np.ndarray]:
    """The kind, the layer name, the rows' cells, the columns, and the WKB points."""
    recs = list(records)
    kind, name = _kind_and_layer(recs, layer)
    cols = [(n, "text" if t == "int" and any(isinstance(getattr(r, n), str) for r in recs)
             else t) for n, t in columns(kind)]  # ids shown as the API's tokens are text
    rows = [_cells(r, cols, fmt) for r in recs]
    xy = np.array([(r["lon"], r["lat"]) for r in rows], dtype=np.float64).reshape(-1, 2)
    return kind, name, rows, cols, np.asarray(shapely.to_wkb(shapely.points(xy)), dtype=object)


def write_gpkg(records: Iterable[Record], path: str | os.PathLike[str], *, marking: str,
               layer: str | None = None) -> int:
    """Write ``records`` (one kind) as a GeoPackage layer at ``path``; returns how many.

    ``marking`` goes into the dataset and layer metadata (item ``marking``) and the layer's
    description; ``layer`` defaults to the kind (``observations``...)."""
    target = _target(path, "GPKG")
    mark = parse_marking(marking).text
    _, name, rows, cols, points = _prepare(records, layer, "GPKG")
    data, masks = _arrays(rows, cols)
    meta = {"marking": mark}
    layer_meta = {"marking": mark, "DESCRIPTION": f"truceguard {name}; marking: {mark}"}
    _atomic(target, lambda part: raw.write(
        str(part), points, data, [c for c, _ in cols], field_mask=masks, layer=name,
        driver="GPKG", geometry_type="Point", crs="EPSG:4326", dataset_metadata=meta,
        layer_metadata=layer_meta))
    return len(rows)


def _name_kml_document(path: Path, name: str, description: str) -> None:
    """Give the KML document at ``path`` a name and a description (GDAL's KML writer has no
    option for them)."""
    anchor = f'<Document id="{_KML_DOCUMENT}">'.encode()
    named = path.with_name(path.name + ".named")
    with open(path, "rb") as src, open(named, "wb") as dst:
        head = src.read(65536)
        at = head.find(anchor)
        if at < 0:
            raise RuntimeError("GDAL's KML writer wrote no root Document")
        cut = at + len(anchor)
        tags = f"<name>{escape(name)}</name><description>{escape(description)}</description>"
        dst.write(head[:cut] + tags.encode("utf-8") + head[cut:])
        shutil.copyfileobj(src, dst)
    os.replace(named, path)


def write_kml(records: Iterable[Record], path: str | os.PathLike[str], *, marking: str,
              layer: str | None = None) -> int:
    """Write ``records`` (one kind) as a KML folder of placemarks at ``path``; returns how
    many. The document's name and description state ``marking``; each placemark's description
    starts with the record's own marking. InputError (``output.empty``) for no records."""
    target = _target(path, "KML")
    mark = parse_marking(marking).text
    kind, name, rows, cols, points = _prepare(records, layer, "KML")
    if not rows:
        raise InputError(
            "a KML file cannot be written without records: GDAL's KML writer declares the "
            "fields with the first placemark only", code="output.empty",
            hint="widen the filter, or export GeoPackage, which keeps an empty layer and its "
                 "fields")
    data, masks = _arrays(rows, cols)
    labels = [_label(kind, r) for r in rows]
    descriptions = [f"{r['releasability']}\n{lab}" for r, lab in zip(rows, labels, strict=True)]
    data += [np.array(labels, dtype=object), np.array(descriptions, dtype=object)]
    masks += [None, None]
    options = {"NameField": "Name", "DescriptionField": "description",
               "DOCUMENT_ID": _KML_DOCUMENT}

    def write(part: Path) -> None:
        raw.write(str(part), points, data, [c for c, _ in cols] + ["Name", "description"],
                  field_mask=masks, layer=name, driver="KML", geometry_type="Point",
                  crs="EPSG:4326", dataset_options=options)
        _name_kml_document(part, f"{name} [{mark}]", f"marking: {mark}")

    _atomic(target, write)
    return len(rows)


def _values(arr: np.ndarray, declared: str) -> list[Any]:
    """A column read back as Python values: NaN as None, integers (which come back as floats
    when a null shares their column; exact up to 2**53) as int."""
    if arr.dtype.kind != "f":
        return list(arr.tolist())
    out = [None if math.isnan(v) else v for v in arr.tolist()]
    if declared.startswith("int"):
        return [None if v is None else int(v) for v in out]
    return out


def read_gis_records(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]],
                                                             dict[str, Any]]:
    """Read a file written by ``write_gpkg`` or ``write_kml`` (its first layer) back.

    Returns the rows, one dict of record fields each, and the metadata: ``driver`` (the GDAL
    driver that read it), ``layer``, ``crs``, ``fields``, ``dataset_metadata`` and
    ``layer_metadata`` (None where the format keeps none), ``points`` ((lon, lat) of each
    feature) and, for KML, the placemarks' ``names`` and ``descriptions``."""
    before = pyogrio.get_gdal_config_option("GDAL_PAM_ENABLED")
    pyogrio.set_gdal_config_options({"GDAL_PAM_ENABLED": "NO"})  # no .aux.xml beside the file
    try:
        info = pyogrio.read_info(path, layer=0)
        meta, _, geometry, data = raw.read(path, layer=0, force_2d=True)
    finally:
        pyogrio.set_gdal_config_options({"GDAL_PAM_ENABLED": before})
    kml = info["driver"] in ("KML", "LIBKML")
    columns_read = {str(n): _values(a, str(t))
                    for n, t, a in zip(meta["fields"], meta["dtypes"], data, strict=True)}
    names = [n for n in columns_read if not (kml and n in KML_FIELDS)]
    count = len(geometry) if geometry is not None else 0
    rows = [{n: columns_read[n][i] for n in names} for i in range(count)]
    points = [(float(shapely.get_x(p)), float(shapely.get_y(p)))
              for p in shapely.from_wkb(geometry)] if count else []
    out: dict[str, Any] = {
        "driver": info["driver"], "layer": info.get("layer_name"), "crs": meta["crs"],
        "fields": names, "dataset_metadata": info.get("dataset_metadata"),
        "layer_metadata": info.get("layer_metadata"), "points": points}
    if kml:
        out["names"] = columns_read.get("Name", [None] * count)
        out["descriptions"] = columns_read.get("description",
                                               columns_read.get("Description", [None] * count))
    return rows, out


__all__ = ["KINDS", "columns", "read_gis_records", "write_gpkg", "write_kml"]
