"""GeoJSON: a FeatureCollection of Point features, one observation each; and its writer.

Reading streams: the document is never held (``io.jsonscan`` finds each feature's bytes in
bounded blocks), so memory stays bounded whatever the file's size. A document that is not a
GeoJSON FeatureCollection (or a single Feature) is refused as a whole (FormatError) before
anything is yielded: not an object, a ``type`` that is neither, no ``features`` array, a broken
shape before the first feature. Writers put ``type`` first; where a document puts it after
``features``, a first pass over the whole document finds it before any feature is read. Damage
found after features were read (a file cut short, text after the end) is one last RowError
(field ``document``): every feature before it lands. Each feature's ``raw`` is its own JSON text
verbatim and ``source_line`` the line it starts on. A bad feature is a RowError and the others
land: one that is not valid JSON, over ``max_record_bytes``, nested more than
``values.MAX_JSON_DEPTH`` levels, with a key twice in one object, a NaN or infinite number, a
string that is not valid Unicode, or a field out of bounds.

Properties map to Observation fields by name (``FIELD_PROPERTIES``); ``mapping``
({field: property_name}) overrides the name for a field. Times are read with ``parse_time``
(``time``, else ``observed_at`` / ``date`` / ``t_start``) or as epoch seconds, in the years
1000-9999; ``t_end`` defaults to the end of the
time's own precision (a bare date is a whole day). An unknown ``category`` becomes ``other`` and
an unknown ``weapon_class`` ``unknown``, the original kept in ``attributes`` as
``category_original`` / ``weapon_class_original``. A feature's ``id`` (or the ``id`` /
``source_ref`` property) is its ``source_ref``. Other properties go into ``attributes``, and a
property ``attributes`` holding an object is merged into them (that is how the writer keeps
them apart from the fields). Provenance written by ``write_geojson`` (``obs_id``,
``raw_sha256``, ``incident_id``, ``source_file``, ``source_line``) is kept in attributes as
``exported_<name>``: store ids of another store are not ids in this one. A monitor's report is
one property a field, named as ``io.reports.REPORT_FIELDS`` (``kind``, ``direction``,
``bearing_deg`` ...), its numbers JSON numbers; a feature without any has no report.

Bounds: ``count`` a whole number from 0 to ``values.MAX_COUNT``, ``uncertainty_m`` from 0 to
``values.MAX_UNCERTAINTY_M`` metres, ``time_precision_s`` a whole number of seconds from 1.
A feature's ``releasability`` can only narrow the ``releasability`` option (the import's
ceiling): the record gets the intersection of both, in canonical text.

Defaults where a property is absent: ``source`` "geojson:<file name>" (option ``source``),
``how_known`` "open_source", ``count`` 1, ``uncertainty_m`` unknown, ``releasability`` the option.

Writing. ``write_geojson`` streams a FeatureCollection, one feature a line, that
``read_geojson`` reads back to the same fields; each feature carries ``obs_id``,
``raw_sha256``, ``source``, ``source_ref``, ``incident_id`` and its ``releasability``, so an
exported feature traces back to the raw input it came from and keeps its marking.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from truceguard.errors import FormatError, RowError
from truceguard.io.base import MAX_RECORD_BYTES, decode_line, open_input, sha256_hex
from truceguard.io.jsonscan import JsonScanError, Span, scan
from truceguard.io.registry import ReaderSpec, checked_options, starts_or_suffix
from truceguard.io.reports import REPORT_FIELDS, parse_report, report_given, weapon_class_for
from truceguard.io.timeparse import T_MAX, T_MIN, parse_time
from truceguard.io.values import (
    MAX_JSON_DEPTH,
    MAX_UNCERTAINTY_M,
    MAX_WINDOW_S,
    FieldError,
    MarkingCeiling,
    NotFinite,
    check_writable,
    finite_float,
    number,
    real,
    reject_constant,
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

# Observation field -> the property names read for it, in order of preference.
FIELD_PROPERTIES: dict[str, tuple[str, ...]] = {
    "time": ("time", "observed_at", "date", "t_start"),
    "t_end": ("t_end",),
    "time_precision_s": ("time_precision_s",),
    "category": ("category",),
    "weapon_class": ("weapon_class",),
    "count": ("count",),
    "text": ("text",),
    "source": ("source",),
    "origin": ("origin",),
    "how_known": ("how_known",),
    "uncertainty_m": ("uncertainty_m",),
    "releasability": ("releasability",),
    "id": ("id", "source_ref"),
    **{f: (f,) for f in REPORT_FIELDS},  # a monitor's report, one property a field
}
# Written by write_geojson to trace a feature back; read into attributes as exported_<name>.
PROVENANCE = ("obs_id", "raw_sha256", "incident_id", "source_file", "source_line")

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_CATEGORIES = frozenset(CATEGORIES)
_WEAPONS = frozenset(WEAPON_CLASSES)
_HOW = frozenset(HOW_KNOWN)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise FieldError("feature", f"the key {key[:40]!r} appears twice in one object")
            seen.add(key)
    return out


def _number(value: object, field: str) -> float:
    """A JSON number (not text, not a boolean) as a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(field, f"not a number: {str(value)[:40]!r}")
    return number(value, field)


def _time(value: object, field: str) -> tuple[int, int]:
    """(epoch seconds, precision seconds) of a time property: text or epoch seconds."""
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError as exc:
            raise FieldError(field, str(exc)) from None
    x = _number(value, field)
    if not T_MIN <= x <= T_MAX:
        raise FieldError(field, f"{value} epoch seconds is outside the years 1000-9999")
    return int(x), 1


def _text(value: object, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FieldError(field, f"expected text, found {type(value).__name__}")


def _observation(
    feat: object,
    props_for: dict[str, tuple[str, ...]],
    default_source: str,
    ceiling: MarkingCeiling,
) -> Observation:
    """The Observation of one feature (raw fields left for the caller); raises FieldError."""
    if not isinstance(feat, dict):
        raise FieldError("feature", f"expected an object, found {type(feat).__name__}")
    if feat.get("type") != "Feature":
        raise FieldError("type", f"{str(feat.get('type'))[:40]!r} is not 'Feature'")
    geom = feat.get("geometry")
    if not isinstance(geom, dict):
        raise FieldError("geometry", "no geometry (a Point is needed)")
    if geom.get("type") != "Point":
        raise FieldError(
            "geometry", f"geometry type {str(geom.get('type'))[:40]} is not supported (only Point)"
        )
    coords = geom.get("coordinates")
    if not isinstance(coords, list) or not 2 <= len(coords) <= 3:
        raise FieldError("coordinates", "expected [longitude, latitude] or [lon, lat, altitude]")
    lon = _number(coords[0], "longitude")
    lat = _number(coords[1], "latitude")
    if not -90.0 <= lat <= 90.0:
        raise FieldError("latitude", f"{lat} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise FieldError("longitude", f"{lon} is outside -180..180")
    props = feat.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise FieldError("properties", f"expected an object, found {type(props).__name__}")
    rest = dict(props)

    def take(field: str) -> tuple[str, object]:
        """(property name, value) for a field, removed from ``rest``; value None if absent."""
        name, value = props_for[field][0], None
        for candidate in props_for[field]:
            if candidate in rest:
                v = rest.pop(candidate)
                if value is None and v is not None:
                    name, value = candidate, v
        return name, value

    name, value = take("time")
    if value is None:
        raise FieldError("time", f"missing (a property {' / '.join(props_for['time'])} is needed)")
    t0, prec = _time(value, name)
    name, value = take("t_end")
    if value is None:
        t1 = t0 + prec - 1
    else:
        t1, end_prec = _time(value, name)
        t1 += end_prec - 1
        if t1 < t0:
            raise FieldError(name, f"{str(value)[:40]!r} is before the start time")
    name, value = take("time_precision_s")
    if value is None:
        window = t1 - t0 + 1
    else:
        _number(value, name)
        window = whole(value, name, 1, MAX_WINDOW_S)
    attrs: dict[str, object] = {}
    name, value = take("category")
    category = "other" if value is None else _text(value, name)
    if category not in _CATEGORIES:
        attrs["category_original"] = category
        category = "other"
    name, value = take("weapon_class")
    weapon = "unknown" if value is None else _text(value, name)
    if weapon not in _WEAPONS:
        attrs["weapon_class_original"] = weapon
        weapon = "unknown"
    report, weapon = _report(take, lat, lon, weapon)
    name, value = take("how_known")
    how = "open_source" if value is None else _text(value, name)
    if how not in _HOW:
        raise FieldError(name, f"{how[:40]!r} is not one of {', '.join(HOW_KNOWN)}")
    name, value = take("count")
    count = 1
    if value is not None:
        _number(value, name)
        count = whole(value, name)
    name, value = take("uncertainty_m")
    unc = None
    if value is not None:
        _number(value, name)
        unc = real(value, name, 0.0, MAX_UNCERTAINTY_M)
    name, value = take("releasability")
    marking = ceiling.apply(None if value is None else _text(value, name), name)
    ident = feat.get("id")
    name, value = take("id")
    if ident is None:
        ident = value
    source_ref = "" if ident is None else _text(ident, "id")
    name, value = take("source")
    source = default_source if value is None else _text(value, name)
    name, value = take("text")
    text = "" if value is None else _text(value, name)
    name, value = take("origin")
    origin = "" if value is None else _text(value, name)
    for key in PROVENANCE:
        if key in rest:
            v = rest.pop(key)
            if v is not None:
                attrs[f"exported_{key}"] = v
    nested = rest.pop("attributes", None)
    if isinstance(nested, dict):
        attrs.update(nested)
    elif nested is not None:
        attrs["attributes"] = nested
    attrs.update(rest)
    return Observation(
        source=source,
        how_known=how,
        t_start=t0,
        t_end=t1,
        time_precision_s=window,
        lat=lat,
        lon=lon,
        uncertainty_m=unc,
        category=category,
        weapon_class=weapon,
        count=count,
        text=text,
        origin=origin,
        source_ref=source_ref,
        releasability=marking,
        attributes=attrs,
        report=report,
    )


def _report(take: Callable[[str], tuple[str, object]], lat: float, lon: float, weapon: str
            ) -> tuple[MonitorReport | None, str]:
    """(the feature's monitor's report, its weapon class after the report's weapon type)."""
    names: dict[str, str] = {}
    raw: dict[str, object] = {}
    for field in REPORT_FIELDS:
        names[field], raw[field] = take(field)
    report = parse_report(raw, lat, lon, names.__getitem__, text_numbers=False)
    try:
        return report, weapon_class_for(weapon, report) or weapon
    except FieldError as bad:
        raise FieldError(names.get(bad.field, bad.field), bad.reason) from None


@checked_options("geojson")
def read_geojson(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
    mapping: dict[str, str] | None = None,
    source: str | None = None,
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad features) of a GeoJSON file, in file order."""
    fname = str(path)
    ceiling = MarkingCeiling(releasability)
    props_for = dict(FIELD_PROPERTIES)
    for field, prop in (mapping or {}).items():
        key = "id" if field == "source_ref" else field
        if key not in props_for:
            raise FormatError(
                f"mapping names an unknown field {field!r}; known: {', '.join(props_for)}"
            )
        props_for[key] = (prop,)
    default_source = source or f"geojson:{Path(path).name}"
    src = open_input(path, encoding)
    with src.fh:
        if not src.fh.read(4).strip(b"\xef\xbb\xbf\xff\xfe\x00"):
            raise FormatError(f"{fname}: the file is empty")
    src = open_input(path, encoding)
    kind: str | None = None  # the top-level type, once known
    has_array = yielded = False
    with src.fh:
        try:
            for event, name, span in scan(src.fh, max_bytes=max_record_bytes,
                                          max_depth=MAX_JSON_DEPTH, whole=True):
                if event == "member" and span is not None and name is not None:
                    value = _member(span, name, fname, src.encoding, src.label)
                    if name == "type":
                        kind = _kind(value, fname)
                elif event == "array":
                    has_array = True
                    if kind is None:  # "features" before "type": read the document once first
                        kind = _check_document(path, encoding, max_record_bytes)
                elif span is not None and event == ("element" if kind != "Feature"
                                                    else "document"):
                    yielded = True
                    yield _feature(span, fname, src.encoding, src.label, props_for,
                                   default_source, ceiling)
        except JsonScanError as exc:
            message = exc.message.replace("a JSON object", "a GeoJSON object")
            if not yielded:
                raise FormatError(f"{fname}:{exc.line}: not valid JSON: {message}") from None
            yield RowError(fname, exc.line, "document",
                           f"not valid JSON: {message}; every feature before it was read")
            return
        except FormatError as exc:
            if not yielded:
                raise
            yield RowError(fname, 0, "document",
                           f"{exc.message}; every feature before it was read")
            return
    if kind is None:
        _kind(None, fname)
    if kind == "FeatureCollection" and not has_array:
        raise FormatError(f"{fname}: the FeatureCollection has no 'features' array")


def _kind(value: object, fname: str) -> str:
    """'FeatureCollection' or 'Feature'; FormatError for any other top-level type."""
    if value in ("FeatureCollection", "Feature"):
        return str(value)
    raise FormatError(
        f"{fname}: not a GeoJSON FeatureCollection (top-level type is {str(value)[:40]!r})"
    )


def _check_document(path: str | os.PathLike[str], encoding: str, max_bytes: int) -> str:
    """'FeatureCollection' or 'Feature': a first pass over the whole document, for one that
    names its type after its features; FormatError if it is not a GeoJSON document."""
    fname = str(path)
    src = open_input(path, encoding)
    top: dict[str, object] = {}
    has_array = False
    with src.fh:
        try:
            for kind, key, span in scan(src.fh, max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH,
                                        keep=False):
                if kind == "array":
                    has_array = True
                elif kind == "member" and span is not None and key is not None:
                    top[key] = _member(span, key, fname, src.encoding, src.label)
        except JsonScanError as exc:
            message = exc.message.replace("a JSON object", "a GeoJSON object")
            raise FormatError(f"{fname}:{exc.line}: not valid JSON: {message}") from None
    kind = _kind(top.get("type"), fname)
    if kind == "FeatureCollection" and not has_array:
        raise FormatError(f"{fname}: the FeatureCollection has no 'features' array")
    return kind


def _member(span: Span, key: str, fname: str, encoding: str, label: str) -> object:
    """A top-level member's value (None when it is over the bound: only ``type`` matters)."""
    if span.problem:
        return None
    text, err = decode_line(span.data, encoding, label)
    if err:
        raise FormatError(f"{fname}:{span.line}: {key}: {err}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"{fname}:{span.line}: not valid JSON in {key!r}: "
                          f"{str(exc)[:80]}") from None


def _feature(
    span: Span,
    fname: str,
    encoding: str,
    label: str,
    props_for: dict[str, tuple[str, ...]],
    default_source: str,
    ceiling: MarkingCeiling,
) -> Observation | RowError:
    """The record of one feature's span: an Observation, or a RowError saying why not."""
    if span.problem:
        head = span.data.decode("utf-8", "replace")
        return RowError(fname, span.line, "feature", span.problem, head)
    raw, err = decode_line(span.data, encoding, label)
    if err:
        return RowError(fname, span.line, "feature", err, raw)
    try:
        feat = json.loads(raw, object_pairs_hook=_unique, parse_constant=reject_constant,
                          parse_float=finite_float)
        if "\\u" in raw and _SURROGATE_ESCAPE.search(raw):
            try:
                json.dumps(feat, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise FieldError("feature", "a string is not valid Unicode (a lone surrogate "
                                 "escape)") from None
        obs = _observation(feat, props_for, default_source, ceiling)
    except FieldError as bad:
        return RowError(fname, span.line, bad.field, bad.reason, raw)
    except NotFinite as exc:
        return RowError(fname, span.line, "feature", str(exc), raw)
    except json.JSONDecodeError as exc:
        return RowError(fname, span.line, "feature", f"not valid JSON: {exc.msg} (line "
                        f"{span.line + exc.lineno - 1}, column {exc.colno})", raw)
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits
        return RowError(fname, span.line, "feature", f"not valid JSON: {str(exc)[:80]}", raw)
    obs.raw = raw
    obs.raw_sha256 = sha256_hex(raw)
    obs.source_file = fname
    obs.source_line = span.line
    return obs


def feature_of(obs: Observation) -> dict[str, object]:
    """The GeoJSON Feature of one observation, as ``write_geojson`` writes it."""
    props: dict[str, object] = {
        "time": iso(obs.t_start),
        "t_end": iso(obs.t_end),
        "time_precision_s": obs.time_precision_s,
        "category": obs.category,
        "weapon_class": obs.weapon_class,
        "count": obs.count,
        "text": obs.text,
        "source": obs.source,
        "origin": obs.origin,
        "how_known": obs.how_known,
        "uncertainty_m": obs.uncertainty_m,
        "releasability": obs.releasability,
        "source_ref": obs.source_ref,
        "obs_id": obs.obs_id,
        "raw_sha256": obs.raw_sha256,
    }
    if obs.incident_id is not None:
        props["incident_id"] = obs.incident_id
    if obs.attributes:
        props["attributes"] = obs.attributes
    props.update(report_given(obs.report))
    feat: dict[str, object] = {"type": "Feature"}
    if obs.source_ref:
        feat["id"] = obs.source_ref
    feat["geometry"] = {"type": "Point", "coordinates": [obs.lon, obs.lat]}
    feat["properties"] = props
    return feat


def write_geojson(observations: Iterable[Observation], fh: TextIO, *,
                  marking: str | None = None) -> int:
    """Write observations as a FeatureCollection, one feature a line; returns how many.
    ``marking`` (the most restrictive marking of the features) goes on the collection as its
    banner, a ``marking`` member that readers pass over.

    Streams: nothing but the current observation is held. Attribute values JSON cannot hold
    are written as their text. InputError, before the feature is written, for an observation
    the reader would refuse (``values.check_writable``).
    """
    banner = f', "marking": {json.dumps(marking)}' if marking else ""
    fh.write('{"type": "FeatureCollection"' + banner + ', "features": [')
    n = 0
    for obs in observations:
        check_writable(obs)
        fh.write(",\n" if n else "\n")
        fh.write(json.dumps(feature_of(obs), ensure_ascii=False, allow_nan=False, default=str))
        n += 1
    fh.write("\n]}\n")
    return n


def sniff_geojson(path: Path, head: bytes) -> int:
    """2 for a file that starts with a JSON object, 1 for a ``.geojson`` / ``.json`` file."""
    return starts_or_suffix(path, head, "{", (".geojson", ".json"))


GEOJSON_READER = ReaderSpec(
    "geojson",
    read_geojson,
    sniff_geojson,
    description="GeoJSON FeatureCollection of Point features (or one Feature)",
)
