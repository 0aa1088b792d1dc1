"""GeoJSON: a FeatureCollection of Point features, one observation each; and its writer.

Reading. GeoJSON is one document, so the file is held whole: a file over ``max_file_bytes``
(``MAX_FILE_BYTES``) is refused before any of it is read. The top level is walked with
``json.JSONDecoder.raw_decode`` one member at a time, so each feature's span in the text is
known: its ``raw`` is its own JSON text verbatim and ``source_line`` the line it starts on. A
document that is not JSON, or not a FeatureCollection (or a single Feature), is refused as a
whole (FormatError) before anything is yielded; a bad feature is a RowError and the others land.

Properties map to Observation fields by name (``FIELD_PROPERTIES``); ``mapping``
({field: property_name}) overrides the name for a field. Times are read with ``parse_time``
(``time``, else ``observed_at`` / ``date`` / ``t_start``); ``t_end`` defaults to the end of the
time's own precision (a bare date is a whole day). An unknown ``category`` becomes ``other`` and
an unknown ``weapon_class`` ``unknown``, the original kept in ``attributes`` as
``category_original`` / ``weapon_class_original``. A feature's ``id`` (or the ``id`` /
``source_ref`` property) is its ``source_ref``. Other properties go into ``attributes``, and a
property ``attributes`` holding an object is merged into them (that is how the writer keeps
them apart from the fields). Provenance written by ``write_geojson`` (``obs_id``,
``raw_sha256``, ``incident_id``, ``source_file``, ``source_line``) is kept in attributes as
``exported_<name>``: store ids of another store are not ids in this one.

Defaults where a property is absent: ``source`` "geojson:<file name>" (option ``source``),
``how_known`` "open_source", ``count`` 1, ``uncertainty_m`` unknown, ``releasability`` the option.

Writing. ``write_geojson`` streams a FeatureCollection, one feature a line, that
``read_geojson`` reads back to the same fields; each feature carries ``obs_id``,
``raw_sha256``, ``source``, ``source_ref`` and ``incident_id`` so an exported feature traces back
to the raw input it came from.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from truceguard.errors import FormatError, MarkingError, RowError
from truceguard.io.base import MAX_FILE_BYTES, MAX_RECORD_BYTES, sha256_hex
from truceguard.io.timeparse import parse_time
from truceguard.model import (
    CATEGORIES,
    HOW_KNOWN,
    WEAPON_CLASSES,
    Observation,
    iso,
    normalise_releasability,
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
}
# Written by write_geojson to trace a feature back; read into attributes as exported_<name>.
PROVENANCE = ("obs_id", "raw_sha256", "incident_id", "source_file", "source_line")

_WS = re.compile(r"[ \t\r\n]*")
_CATEGORIES = frozenset(CATEGORIES)
_WEAPONS = frozenset(WEAPON_CLASSES)
_HOW = frozenset(HOW_KNOWN)


class _Bad(Exception):
    """One feature is bad: which field and why (turned into a RowError by the reader)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _decode(data: bytes, encoding: str, path: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if encoding == "auto":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                return data.decode("latin-1")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        hint = " (try --encoding cp1252, or --encoding auto)" if encoding.startswith("utf") else ""
        raise FormatError(f"{path}:{line}: not valid {encoding}: byte 0x{bad}{hint}") from None
    except LookupError as exc:
        raise FormatError(f"unknown encoding {encoding!r}") from exc


class _Walker:
    """Walks a JSON document member by member, keeping track of offsets and line numbers."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.line = 1  # the line number at ``line_pos``
        self.line_pos = 0
        self.decoder = json.JSONDecoder()

    def line_at(self, pos: int) -> int:
        """Line number of offset ``pos`` (offsets are asked for in increasing order)."""
        self.line += self.text.count("\n", self.line_pos, pos)
        self.line_pos = pos
        return self.line

    def skip_ws(self) -> None:
        m = _WS.match(self.text, self.pos)
        self.pos = m.end() if m else self.pos

    def fail(self, what: str) -> FormatError:
        line = self.line_at(self.pos)
        got = self.text[self.pos : self.pos + 20]
        return FormatError(f"{self.path}:{line}: not GeoJSON: expected {what}, found {got!r}")

    def expect(self, char: str) -> None:
        self.skip_ws()
        if self.text.startswith(char, self.pos):
            self.pos += 1
        else:
            raise self.fail(repr(char))

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos : self.pos + 1]

    def value(self) -> tuple[Any, int, int]:
        """(value, start, end) of the JSON value at the current position."""
        self.skip_ws()
        start = self.pos
        try:
            obj, end = self.decoder.raw_decode(self.text, start)
        except json.JSONDecodeError as exc:
            self.pos = exc.pos
            raise FormatError(
                f"{self.path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        self.pos = end
        return obj, start, end

    def members(self) -> Iterator[str]:
        """Keys of the object at the current position; the caller consumes each value."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key, _, _ = self.value()
            if not isinstance(key, str):
                raise self.fail("an object key")
            self.expect(":")
            yield key
            c = self.peek()
            self.pos += 1
            if c == "}":
                return
            if c != ",":
                self.pos -= 1
                raise self.fail("',' or '}'")

    def array_items(self) -> Iterator[tuple[Any, int, int]]:
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            c = self.peek()
            self.pos += 1
            if c == "]":
                return
            if c != ",":
                self.pos -= 1
                raise self.fail("',' or ']'")


def _features(text: str, path: str) -> list[tuple[Any, int, int, int]]:
    """(feature, start, end, line) for each feature; FormatError if the document is not one."""
    w = _Walker(text, path)
    if w.peek() != "{":
        raise w.fail("a GeoJSON object")
    found: list[tuple[Any, int, int, int]] = []
    top: dict[str, Any] = {}
    have_features = False
    start = w.pos
    for key in w.members():
        if key == "features" and w.peek() == "[":
            have_features = True
            for obj, s, e in w.array_items():
                found.append((obj, s, e, w.line_at(s)))
        else:
            top[key], _, _ = w.value()
    end = w.pos
    w.skip_ws()
    if w.pos != len(text):
        raise w.fail("the end of the document")
    kind = top.get("type")
    if kind == "Feature":
        return [(top, start, end, 1 + text.count("\n", 0, start))]
    if kind != "FeatureCollection":
        raise FormatError(
            f"{path}: not a GeoJSON FeatureCollection (top-level type is {str(kind)[:40]!r})"
        )
    if not have_features:
        raise FormatError(f"{path}: the FeatureCollection has no 'features' array")
    return found


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(field, f"not a number: {str(value)[:40]!r}")
    x = float(value)
    if not math.isfinite(x):
        raise _Bad(field, f"{value} is not a finite number")
    return x


def _time(value: object, field: str) -> tuple[int, int]:
    """(epoch seconds, precision seconds) of a time property: text or epoch seconds."""
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError as exc:
            raise _Bad(field, str(exc)) from None
    return int(_number(value, field)), 1


def _text(value: object, field: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Bad(field, f"expected text, found {type(value).__name__}")


def _observation(
    feat: object,
    props_for: dict[str, tuple[str, ...]],
    default_source: str,
    releasability: str,
) -> Observation:
    """The Observation of one feature (source/raw fields left for the caller); raises _Bad."""
    if not isinstance(feat, dict):
        raise _Bad("feature", f"expected an object, found {type(feat).__name__}")
    if feat.get("type") != "Feature":
        raise _Bad("type", f"{str(feat.get('type'))[:40]!r} is not 'Feature'")
    geom = feat.get("geometry")
    if not isinstance(geom, dict):
        raise _Bad("geometry", "no geometry (a Point is needed)")
    if geom.get("type") != "Point":
        raise _Bad(
            "geometry", f"geometry type {str(geom.get('type'))[:40]} is not supported (only Point)"
        )
    coords = geom.get("coordinates")
    if not isinstance(coords, list) or not 2 <= len(coords) <= 3:
        raise _Bad("coordinates", "expected [longitude, latitude] or [lon, lat, altitude]")
    lon = _number(coords[0], "longitude")
    lat = _number(coords[1], "latitude")
    if not -90.0 <= lat <= 90.0:
        raise _Bad("latitude", f"{lat} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise _Bad("longitude", f"{lon} is outside -180..180")
    props = feat.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise _Bad("properties", f"expected an object, found {type(props).__name__}")
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
        raise _Bad("time", f"missing (a property {' / '.join(props_for['time'])} is needed)")
    t0, prec = _time(value, name)
    name, value = take("t_end")
    if value is None:
        t1 = t0 + prec - 1
    else:
        t1, end_prec = _time(value, name)
        t1 += end_prec - 1
        if t1 < t0:
            raise _Bad(name, f"{str(value)[:40]!r} is before the start time")
    name, value = take("time_precision_s")
    if value is None:
        window = t1 - t0 + 1
    else:
        window = int(_number(value, name))
        if window < 1:
            raise _Bad(name, f"{window} is not a positive number of seconds")
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
    name, value = take("how_known")
    how = "open_source" if value is None else _text(value, name)
    if how not in _HOW:
        raise _Bad(name, f"{how[:40]!r} is not one of {', '.join(HOW_KNOWN)}")
    name, value = take("count")
    count = 1
    if value is not None:
        x = _number(value, name)
        if x < 0 or x != int(x):
            raise _Bad(name, f"{value} is not a whole number of 0 or more")
        count = int(x)
    name, value = take("uncertainty_m")
    unc = None
    if value is not None:
        unc = _number(value, name)
        if unc < 0:
            raise _Bad(name, f"{unc} is negative")
    name, value = take("releasability")
    try:
        marking = normalise_releasability(releasability if value is None else _text(value, name))
    except (ValueError, MarkingError) as exc:
        raise _Bad(name, str(exc)) from None
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
    )


def read_geojson(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
    mapping: dict[str, str] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    source: str | None = None,
    **_: object,
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad features) of a GeoJSON file, in file order."""
    p = Path(path)
    fname = str(path)
    size = p.stat().st_size
    if size > max_file_bytes:
        raise FormatError(
            f"{fname}: the file is {size:,} bytes, over the limit of {max_file_bytes:,} bytes "
            "for a GeoJSON document (split it, or convert it to CSV)"
        )
    if size == 0:
        raise FormatError(f"{fname}: the file is empty")
    text = _decode(p.read_bytes(), encoding, fname)
    props_for = dict(FIELD_PROPERTIES)
    for field, prop in (mapping or {}).items():
        key = "id" if field == "source_ref" else field
        if key not in props_for:
            raise FormatError(
                f"mapping names an unknown field {field!r}; known: {', '.join(props_for)}"
            )
        props_for[key] = (prop,)
    features = _features(text, fname)
    default_source = source or f"geojson:{p.name}"
    try:
        default_marking = normalise_releasability(releasability)
    except (ValueError, MarkingError) as exc:
        raise FormatError(str(exc)) from None
    yield from _yield(
        features, text, fname, props_for, default_source, default_marking, max_record_bytes
    )


def _yield(
    features: list[tuple[Any, int, int, int]],
    text: str,
    fname: str,
    props_for: dict[str, tuple[str, ...]],
    default_source: str,
    marking: str,
    max_record_bytes: int,
) -> Iterator[Observation | RowError]:
    for feat, start, end, line in features:
        if end - start > max_record_bytes:
            yield RowError(
                fname,
                line,
                "feature",
                f"{end - start:,} characters, over the limit of {max_record_bytes:,}",
                text[start : min(end, start + 256)],
            )
            continue
        raw = text[start:end]
        try:
            obs = _observation(feat, props_for, default_source, marking)
        except _Bad as bad:
            yield RowError(fname, line, bad.field, bad.reason, raw)
            continue
        obs.raw = raw
        obs.raw_sha256 = sha256_hex(raw)
        obs.source_file = fname
        obs.source_line = line
        yield obs


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
    feat: dict[str, object] = {"type": "Feature"}
    if obs.source_ref:
        feat["id"] = obs.source_ref
    feat["geometry"] = {"type": "Point", "coordinates": [obs.lon, obs.lat]}
    feat["properties"] = props
    return feat


def write_geojson(observations: Iterable[Observation], fh: TextIO) -> int:
    """Write observations as a FeatureCollection, one feature a line; returns how many.

    Streams: nothing but the current observation is held. Attribute values JSON cannot hold
    are written as their text.
    """
    fh.write('{"type": "FeatureCollection", "features": [')
    n = 0
    for obs in observations:
        fh.write(",\n" if n else "\n")
        fh.write(json.dumps(feature_of(obs), ensure_ascii=False, allow_nan=False, default=str))
        n += 1
    fh.write("\n]}\n")
    return n
