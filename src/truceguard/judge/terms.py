"""Terms: a ceasefire agreement as data, read from a YAML file and checked key by key.

A terms file holds the agreement's name, its effective date and phase-in periods, the line of
contact (optionally one line per side: each side measures from its own), the polygon that
tells the sides apart, zones by distance and weapon class per side, prohibited activities by
zone, and caps. Geometry is named by file (relative to the terms file or to the shipped data
folder, with a feature index or a property to match) or given inline as GeoJSON. Every clause
cites its source text.

A mistake in the file (unknown key, unknown weapon class, a zone without a distance, invalid
geometry ...) raises :class:`truceguard.errors.ConfigError` naming the key and its line.

Sides: side 0 lies outside the side polygon, side 1 inside it (for the shipped terms: 0 is the
government-controlled side). Times are UTC epoch seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml
from numpy.typing import NDArray

from truceguard.errors import ConfigError, NotFoundError
from truceguard.geo.project import LocalProjection, projection_for
from truceguard.geo.shipped import data_path
from truceguard.model import CATEGORIES, WEAPON_CLASSES

# What each prohibited activity means in terms of observation categories and weapon classes.
LIVE_FIRE_CATEGORIES: tuple[str, ...] = (
    "explosion",
    "projectile",
    "muzzle_flash",
    "illumination_flare",
    "shots",
    "armed_clash",
    "shelling",
    "air_strike",
    "missile",
)
FLIGHT_CATEGORIES: tuple[str, ...] = ("flight", "air_strike", "drone")
AIR_WEAPON_CLASSES: tuple[str, ...] = ("aircraft", "helicopter", "uav")
ACTIVITIES: tuple[str, ...] = ("live_fire", "flight", "mines", "offensive_movement")
# The kinds of clause a terms file can hold: the activities plus weapons withdrawal.
CLAUSE_KINDS: tuple[str, ...] = ("withdrawal", *ACTIVITIES)
ANYWHERE = "anywhere"

_TOP_KEYS = {
    "name",
    "title",
    "effective",
    "sources",
    "line",
    "side_lines",
    "sides",
    "projection",
    "zones",
    "prohibited",
    "caps",
    "severity",
    "notes",
}
_GEOM_KEYS = {"file", "feature", "geojson"}


@dataclass(frozen=True)
class Source:
    """A source text the terms cite (an agreement, an addendum, a published plan)."""

    id: str
    text: str
    url: str = ""


@dataclass(frozen=True)
class Side:
    """One party's side: an identifier for data and the label monitors write."""

    id: str
    label: str


def binds_from(effective: int, phase_in_days: float) -> int:
    """When a clause starts to bind: its effective time plus its phase-in (epoch seconds)."""
    return effective + int(round(phase_in_days * 86400))


@dataclass(frozen=True)
class Zone:
    """A band along the line, ``distance_m[side]`` deep on each side, measured from that
    side's own line. ``weapons`` are the classes to be withdrawn beyond it (none: the zone
    only scopes prohibitions); the withdrawal binds from ``binds_from``."""

    id: str
    distance_m: tuple[float, float]
    weapons: tuple[str, ...]
    effective: int
    phase_in_days: float
    severity: int | None
    source: str
    line: int

    @property
    def binds_from(self) -> int:
        return binds_from(self.effective, self.phase_in_days)


@dataclass(frozen=True)
class Prohibition:
    """An activity (one of ACTIVITIES) prohibited in a zone (or anywhere) from a date."""

    id: str
    activity: str
    zone: str  # a zone id or "anywhere"
    effective: int
    phase_in_days: float
    except_monitors: bool
    severity: int | None
    source: str
    line: int

    @property
    def binds_from(self) -> int:
        return binds_from(self.effective, self.phase_in_days)


@dataclass(frozen=True)
class Cap:
    """At most ``max_count`` of a weapon class in a zone on one side."""

    zone: str
    side: int
    weapon: str
    max_count: int
    line: int


@dataclass(frozen=True)
class Clause:
    """One checkable clause: ``id`` is ``<terms>/<kind>/<zone or prohibition id>``."""

    id: str
    kind: str  # one of CLAUSE_KINDS
    ref: str  # the zone id (withdrawal) or the prohibition id
    binds_from: int
    severity: int
    source: str


@dataclass(frozen=True, eq=False)
class Terms:
    """A ceasefire agreement as data. Geometry is in lon/lat; ``geometry`` projects it."""

    name: str
    title: str
    path: str
    effective: int
    sources: tuple[Source, ...]
    line: Any  # shapely (Multi)LineString, lon/lat
    side_polygon: Any  # shapely (Multi)Polygon, lon/lat: inside = side 1
    sides: tuple[Side, Side]
    side_lines: tuple[Any, Any]  # each side's own line, or None: measure from ``line``
    zones: tuple[Zone, ...]
    prohibited: tuple[Prohibition, ...]
    caps: tuple[Cap, ...]
    severity: dict[str, int]
    severity_labels: dict[int, str]
    projection_centre: tuple[float, float] | None = None
    notes: str = ""

    @property
    def zone_ids(self) -> tuple[str, ...]:
        return tuple(z.id for z in self.zones)

    @cached_property
    def clauses(self) -> tuple[Clause, ...]:
        """Every clause, withdrawal zones first, in file order."""
        out = [
            Clause(
                id=f"{self.name}/withdrawal/{z.id}",
                kind="withdrawal",
                ref=z.id,
                binds_from=z.binds_from,
                severity=z.severity if z.severity is not None else self.severity["withdrawal"],
                source=z.source,
            )
            for z in self.zones
            if z.weapons
        ]
        out += [
            Clause(
                id=f"{self.name}/{p.activity}/{p.id}",
                kind=p.activity,
                ref=p.id,
                binds_from=p.binds_from,
                severity=p.severity if p.severity is not None else self.severity[p.activity],
                source=p.source,
            )
            for p in self.prohibited
        ]
        return tuple(out)

    @property
    def clause_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.clauses)

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    @cached_property
    def projection(self) -> LocalProjection:
        """The local metric projection the terms are judged in (centred on the line)."""
        if self.projection_centre is not None:
            return LocalProjection(*self.projection_centre)
        x0, y0, x1, y1 = shapely.bounds(self.line)
        return projection_for([x0, x1], [y0, y1])

    def as_dict(self) -> dict[str, Any]:
        """A plain summary (no geometry) for reports, the store and the CLI."""
        return {
            "name": self.name,
            "title": self.title,
            "path": self.path,
            "effective": self.effective,
            "sides": [{"id": s.id, "label": s.label} for s in self.sides],
            "zones": [
                {
                    "id": z.id,
                    "distance_m": list(z.distance_m),
                    "weapons": list(z.weapons),
                    "binds_from": z.binds_from,
                    "source": z.source,
                }
                for z in self.zones
            ],
            "clauses": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "binds_from": c.binds_from,
                    "severity": c.severity,
                    "severity_label": self.severity_labels.get(c.severity, ""),
                    "source": c.source,
                }
                for c in self.clauses
            ],
            "sources": [{"id": s.id, "text": s.text, "url": s.url} for s in self.sources],
        }


# ---------------------------------------------------------------- YAML with line numbers


class _LineDict(dict):
    """A mapping that remembers the line of each key (1-based) and of itself."""

    lines: dict[str, int]
    start: int


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings carry the line of every key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.lines = {}
    out.start = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[str(key)] = key_node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _join(key: str, k: object) -> str:
    """A dotted key path: ``zones[near]`` + ``weapons`` is ``zones[near].weapons``."""
    return f"{key}.{k}" if key else str(k)


class _Reader:
    """Reads values out of the parsed file, raising ConfigError with key path and line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, reason: str, line: int | None) -> ConfigError:
        return ConfigError(self.path, key, reason, line)

    def line_of(self, m: Any, key: str) -> int | None:
        if isinstance(m, _LineDict):
            return m.lines.get(key, m.start)
        return None

    def mapping(self, value: Any, key: str, line: int | None, allowed: set[str]) -> _LineDict:
        if not isinstance(value, _LineDict):
            raise self.fail(key, "expected a mapping", line)
        for k in value:
            if str(k) not in allowed:
                raise self.fail(
                    _join(key, k),
                    f"unknown key (known: {', '.join(sorted(allowed))})",
                    value.lines.get(str(k)),
                )
        return value

    def require(self, m: _LineDict, k: str, key: str) -> Any:
        if k not in m or m[k] is None:
            raise self.fail(_join(key, k), "missing", m.start)
        return m[k]

    def text(self, m: _LineDict, k: str, key: str, default: str | None = None) -> str:
        if k not in m and default is not None:
            return default
        v = self.require(m, k, key)
        if not isinstance(v, str | int | float) or isinstance(v, bool) or str(v).strip() == "":
            raise self.fail(_join(key, k), "expected text", self.line_of(m, k))
        return str(v).strip()

    def number(self, m: _LineDict, k: str, key: str, *, minimum: float = 0.0) -> float:
        v = self.require(m, k, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum:
            raise self.fail(
                _join(key, k), f"expected a number >= {minimum:g}, got {v!r}", self.line_of(m, k)
            )
        return float(v)

    def when(self, m: _LineDict, k: str, key: str, default: int | None = None) -> int:
        if k not in m and default is not None:
            return default
        v = self.require(m, k, key)
        line = self.line_of(m, k)
        if isinstance(v, datetime):
            dt = v
        elif isinstance(v, date):
            dt = datetime(v.year, v.month, v.day)
        else:
            try:
                dt = datetime.fromisoformat(str(v))
            except ValueError:
                raise self.fail(_join(key, k), f"not an ISO 8601 date-time: {v!r}", line) from None
        if dt.tzinfo is None:
            raise self.fail(
                _join(key, k), "give a UTC offset (e.g. 2015-02-15T00:00:00+02:00)", line
            )
        return int(dt.astimezone(UTC).timestamp())


def _load_geometry(r: _Reader, value: Any, key: str, line: int | None, base: Path) -> Any:
    """A geometry from ``{file, feature}`` or ``{geojson}``; file paths relative to the terms
    file, else to the shipped data folder."""
    m = r.mapping(value, key, line, _GEOM_KEYS)
    if "geojson" in m:
        try:
            geom = shapely.geometry.shape(m["geojson"])
        except Exception as exc:  # shapely raises several kinds for bad GeoJSON
            raise r.fail(
                f"{key}.geojson", f"not a GeoJSON geometry: {exc}", m.lines["geojson"]
            ) from None
        return geom
    name = r.text(m, "file", key)
    candidates = [base / name, data_path(name)]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise r.fail(f"{key}.file", f"no such file: {name}", m.lines.get("file"))
    try:
        with open(found, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise r.fail(f"{key}.file", f"cannot read GeoJSON: {exc}", m.lines.get("file")) from None
    feats = doc.get("features", [doc]) if isinstance(doc, dict) else []
    sel = m.get("feature", 0)
    fline = m.lines.get("feature", m.start)
    if isinstance(sel, int) and not isinstance(sel, bool):
        if not 0 <= sel < len(feats):
            raise r.fail(f"{key}.feature", f"{found.name} has {len(feats)} features", fline)
        feat = feats[sel]
    elif isinstance(sel, dict) and len(sel) == 1:
        ((pk, pv),) = sel.items()
        match = [f for f in feats if str((f.get("properties") or {}).get(pk)) == str(pv)]
        if not match:
            raise r.fail(f"{key}.feature", f"no feature with {pk} = {pv} in {found.name}", fline)
        feat = match[0]
    else:
        raise r.fail(f"{key}.feature", "expected an index or {property: value}", fline)
    try:
        return shapely.geometry.shape(feat.get("geometry") if "geometry" in feat else feat)
    except Exception as exc:
        raise r.fail(f"{key}.file", f"not a GeoJSON geometry: {exc}", m.lines.get("file")) from None


def _check_geometry(
    r: _Reader, geom: Any, key: str, line: int | None, kinds: tuple[str, ...]
) -> Any:
    if geom.geom_type not in kinds:
        raise r.fail(key, f"expected {' or '.join(kinds)}, got {geom.geom_type}", line)
    if geom.is_empty:
        raise r.fail(key, "empty geometry", line)
    if not shapely.is_valid(geom):
        raise r.fail(key, f"invalid geometry: {shapely.is_valid_reason(geom)}", line)
    x0, y0, x1, y1 = shapely.bounds(geom)
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise r.fail(key, "coordinates must be lon/lat degrees (WGS84)", line)
    return geom


_SEVERITY_TABLE: dict[str, Any] | None = None


def default_severity() -> tuple[dict[str, int], dict[int, str]]:
    """The shipped severity table (``data/severity.yaml``): by clause kind, and level names."""
    global _SEVERITY_TABLE
    if _SEVERITY_TABLE is None:
        with open(data_path("severity.yaml"), encoding="utf-8") as fh:
            _SEVERITY_TABLE = yaml.safe_load(fh)
    table = _SEVERITY_TABLE
    return (
        {str(k): int(v) for k, v in table["kinds"].items()},
        {int(k): str(v) for k, v in table["levels"].items()},
    )


def shipped_terms() -> list[str]:
    """Names of the terms files shipped with truceguard."""
    return sorted(p.stem for p in data_path("terms").glob("*.yaml"))


def load_terms(name_or_path: str | Path) -> Terms:
    """Terms by shipped name (``minsk-2015``) or from a YAML file path."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        shipped = data_path("terms", f"{name_or_path}.yaml")
        if not shipped.is_file():
            raise NotFoundError(
                f"no terms named {name_or_path!r}; shipped: {', '.join(shipped_terms())}"
            )
        p = shipped
    if not p.is_file():
        raise NotFoundError(f"no terms file {str(p)!r}")
    return parse_terms(p.read_text(encoding="utf-8"), path=str(p))


def parse_terms(text: str, path: str = "<terms>") -> Terms:
    """Terms from YAML text; ``path`` names the file in errors and anchors relative paths."""
    r = _Reader(path)
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise r.fail("(file)", f"not valid YAML: {exc}", mark.line + 1 if mark else None) from None
    doc = r.mapping(doc, "", 1, _TOP_KEYS)
    name = r.text(doc, "name", "")
    sources = _parse_sources(r, doc)
    severity, labels = default_severity()
    if "severity" in doc:
        sv = r.mapping(doc["severity"], "severity", r.line_of(doc, "severity"), set(CLAUSE_KINDS))
        for k in sv:
            severity[str(k)] = _severity(r, sv, str(k), "severity", labels)
    ctx = _Context(
        r=r,
        base=Path(path).parent,
        effective=r.when(doc, "effective", ""),
        source_ids={s.id for s in sources},
        labels=labels,
    )
    line, polygon, sides, own_lines = _parse_geometry(ctx, doc)
    side_ids = [s.id for s in sides]
    zones = _parse_zones(ctx, doc, side_ids)
    prohibited = _parse_prohibited(ctx, doc, {z.id for z in zones})
    caps = _parse_caps(ctx, doc, {z.id for z in zones}, side_ids)
    centre = None
    if "projection" in doc:
        pm = r.mapping(
            doc["projection"], "projection", r.line_of(doc, "projection"), {"lon0", "lat0"}
        )
        centre = (
            r.number(pm, "lon0", "projection", minimum=-180),
            r.number(pm, "lat0", "projection", minimum=-90),
        )
    return Terms(
        name=name,
        title=r.text(doc, "title", "", default=name),
        path=path,
        effective=ctx.effective,
        sources=sources,
        line=line,
        side_polygon=polygon,
        sides=sides,
        side_lines=own_lines,
        zones=zones,
        prohibited=prohibited,
        caps=caps,
        severity=severity,
        severity_labels=labels,
        projection_centre=centre,
        notes=str(doc.get("notes") or ""),
    )


@dataclass(frozen=True)
class _Context:
    """What the parts of a terms file need to know about the whole while being read."""

    r: _Reader
    base: Path
    effective: int
    source_ids: set[str]
    labels: dict[int, str]

    def source_of(self, m: _LineDict, key: str) -> str:
        sid = self.r.text(m, "source", key)
        if sid not in self.source_ids:
            raise self.r.fail(f"{key}.source", f"unknown source {sid!r}", m.lines.get("source"))
        return sid

    def binding(self, m: _LineDict, key: str) -> tuple[int, float, int | None]:
        """(effective, phase-in days, severity) of a zone or prohibition; never before the
        terms themselves take effect."""
        r = self.r
        eff = max(self.effective, r.when(m, "effective", key, default=self.effective))
        phase = r.number(m, "phase_in_days", key) if "phase_in_days" in m else 0.0
        sev = _severity(r, m, "severity", key, self.labels) if "severity" in m else None
        return eff, phase, sev

    def items(self, doc: _LineDict, k: str) -> list[tuple[str, Any]]:
        """The entries of a top-level list, each with its key path (by id where it has one)."""
        raw = doc.get(k) or []
        if not isinstance(raw, list):
            raise self.r.fail(k, "expected a list", self.r.line_of(doc, k))
        return [
            (f"{k}[{v.get('id', i) if isinstance(v, dict) else i}]", v) for i, v in enumerate(raw)
        ]

    def geometry(self, m: _LineDict, k: str, key: str, kinds: tuple[str, ...]) -> Any:
        line = self.r.line_of(m, k)
        geom = _load_geometry(self.r, self.r.require(m, k, ""), key, line, self.base)
        return _check_geometry(self.r, geom, key, line, kinds)


_LINES = ("LineString", "MultiLineString")


def _parse_sources(r: _Reader, doc: _LineDict) -> tuple[Source, ...]:
    raw = r.require(doc, "sources", "")
    if not isinstance(raw, list) or not raw:
        raise r.fail("sources", "expected a list of source texts", r.line_of(doc, "sources"))
    out = []
    for i, s in enumerate(raw):
        key = f"sources[{i}]"
        m = r.mapping(s, key, r.line_of(doc, "sources"), {"id", "text", "url"})
        out.append(Source(r.text(m, "id", key), r.text(m, "text", key), m.get("url") or ""))
    return tuple(out)


def _parse_geometry(
    ctx: _Context, doc: _LineDict
) -> tuple[Any, Any, tuple[Side, Side], tuple[Any, Any]]:
    """The line, the side polygon, the two sides and each side's own line (or None)."""
    r = ctx.r
    line = ctx.geometry(doc, "line", "line", _LINES)
    sides_m = r.mapping(
        r.require(doc, "sides", ""),
        "sides",
        r.line_of(doc, "sides"),
        {"polygon", "outside", "inside"},
    )
    polygon = ctx.geometry(sides_m, "polygon", "sides.polygon", ("Polygon", "MultiPolygon"))
    found = []
    for k in ("outside", "inside"):
        key = f"sides.{k}"
        sm = r.mapping(r.require(sides_m, k, "sides"), key, sides_m.lines.get(k), {"id", "label"})
        found.append(Side(r.text(sm, "id", key), r.text(sm, "label", key)))
    sides = (found[0], found[1])
    if sides[0].id == sides[1].id:
        raise r.fail("sides.inside.id", "the two sides need different ids", sides_m.lines["inside"])
    own: list[Any] = [None, None]
    if "side_lines" in doc:
        ids = {s.id for s in sides}
        sl = r.mapping(doc["side_lines"], "side_lines", r.line_of(doc, "side_lines"), ids)
        for i, side in enumerate(sides):
            if side.id in sl:
                own[i] = ctx.geometry(sl, side.id, f"side_lines.{side.id}", _LINES)
    return line, polygon, sides, (own[0], own[1])


_ZONE_KEYS = {
    "id", "distance_km", "width_km", "weapons", "effective", "phase_in_days", "severity",
    "source", "note",
}  # fmt: skip
_PROHIBITION_KEYS = {
    "id", "activity", "zone", "effective", "phase_in_days", "except_monitors", "severity",
    "source", "note",
}  # fmt: skip


def _parse_zones(ctx: _Context, doc: _LineDict, side_ids: list[str]) -> tuple[Zone, ...]:
    r = ctx.r
    zones: list[Zone] = []
    for key, z in ctx.items(doc, "zones"):
        m = r.mapping(z, key, r.line_of(doc, "zones"), _ZONE_KEYS)
        zid = r.text(m, "id", key)
        if zid in {x.id for x in zones} or zid == ANYWHERE:
            raise r.fail(f"{key}.id", "duplicate or reserved zone id", m.lines["id"])
        weapons = m.get("weapons") or []
        if not isinstance(weapons, list):
            raise r.fail(f"{key}.weapons", "expected a list", m.lines.get("weapons"))
        for w in weapons:
            if w not in WEAPON_CLASSES:
                raise r.fail(
                    f"{key}.weapons",
                    f"unknown weapon class {w!r} (known: {', '.join(WEAPON_CLASSES)})",
                    m.lines.get("weapons"),
                )
        eff, phase, sev = ctx.binding(m, key)
        zones.append(
            Zone(
                id=zid,
                distance_m=_zone_distance(r, m, key, side_ids),
                weapons=tuple(weapons),
                effective=eff,
                phase_in_days=phase,
                severity=sev,
                source=ctx.source_of(m, key),
                line=m.start,
            )
        )
    return tuple(zones)


def _parse_prohibited(ctx: _Context, doc: _LineDict, zone_ids: set[str]) -> tuple[Prohibition, ...]:
    r = ctx.r
    out: list[Prohibition] = []
    for key, pz in ctx.items(doc, "prohibited"):
        m = r.mapping(pz, key, r.line_of(doc, "prohibited"), _PROHIBITION_KEYS)
        pid = r.text(m, "id", key)
        if pid in {x.id for x in out}:
            raise r.fail(f"{key}.id", "duplicate id", m.lines["id"])
        activity = r.text(m, "activity", key)
        if activity not in ACTIVITIES:
            raise r.fail(
                f"{key}.activity",
                f"unknown activity {activity!r} (known: {', '.join(ACTIVITIES)})",
                m.lines.get("activity"),
            )
        zone = r.text(m, "zone", key, default=ANYWHERE)
        if zone != ANYWHERE and zone not in zone_ids:
            raise r.fail(f"{key}.zone", f"unknown zone {zone!r}", m.lines.get("zone"))
        exc_mon = m.get("except_monitors", activity == "flight")
        if not isinstance(exc_mon, bool):
            raise r.fail(
                f"{key}.except_monitors", "expected true or false", m.lines.get("except_monitors")
            )
        eff, phase, sev = ctx.binding(m, key)
        out.append(
            Prohibition(
                id=pid,
                activity=activity,
                zone=zone,
                effective=eff,
                phase_in_days=phase,
                except_monitors=exc_mon,
                severity=sev,
                source=ctx.source_of(m, key),
                line=m.start,
            )
        )
    return tuple(out)


def _parse_caps(
    ctx: _Context, doc: _LineDict, zone_ids: set[str], side_ids: list[str]
) -> tuple[Cap, ...]:
    r = ctx.r
    out = []
    for key, c in ctx.items(doc, "caps"):
        m = r.mapping(c, key, r.line_of(doc, "caps"), {"zone", "side", "weapon", "max", "note"})
        zone = r.text(m, "zone", key)
        if zone not in zone_ids:
            raise r.fail(f"{key}.zone", f"unknown zone {zone!r}", m.lines.get("zone"))
        side = r.text(m, "side", key)
        if side not in side_ids:
            raise r.fail(f"{key}.side", f"unknown side {side!r}", m.lines.get("side"))
        weapon = r.text(m, "weapon", key)
        if weapon not in WEAPON_CLASSES:
            raise r.fail(f"{key}.weapon", f"unknown weapon class {weapon!r}", m.lines.get("weapon"))
        out.append(Cap(zone, side_ids.index(side), weapon, int(r.number(m, "max", key)), m.start))
    return tuple(out)


def _zone_distance(r: _Reader, m: _LineDict, key: str, side_ids: list[str]) -> tuple[float, float]:
    """Per-side depth in metres from ``distance_km`` (each side; a number or {side: km}) or
    ``width_km`` (the whole zone, split equally between the sides)."""
    if "distance_km" in m and "width_km" in m:
        raise r.fail(
            f"{key}.width_km", "give distance_km or width_km, not both", m.lines["width_km"]
        )
    if "width_km" in m:
        w = r.number(m, "width_km", key)
        return (w * 500.0, w * 500.0)
    if "distance_km" not in m:
        raise r.fail(
            f"{key}.distance_km", "a zone needs a distance (distance_km or width_km)", m.start
        )
    v = m["distance_km"]
    if isinstance(v, _LineDict):
        r.mapping(v, f"{key}.distance_km", m.lines["distance_km"], set(side_ids))
        out = []
        for sid in side_ids:
            if sid not in v:
                raise r.fail(f"{key}.distance_km.{sid}", "missing", v.start)
            out.append(r.number(v, sid, f"{key}.distance_km") * 1000.0)
        return (out[0], out[1])
    d = r.number(m, "distance_km", key) * 1000.0
    if d <= 0:
        raise r.fail(f"{key}.distance_km", "must be more than 0", m.lines["distance_km"])
    return (d, d)


def _severity(r: _Reader, m: _LineDict, k: str, key: str, labels: dict[int, str]) -> int:
    v = m[k]
    if isinstance(v, str):
        names = {name: lvl for lvl, name in labels.items()}
        if v in names:
            return names[v]
    if isinstance(v, int) and not isinstance(v, bool) and v in labels:
        return v
    raise r.fail(
        _join(key, k),
        f"severity must be one of {', '.join(f'{n} ({i})' for i, n in sorted(labels.items()))}",
        m.lines.get(k),
    )


def category_mask(names: tuple[str, ...]) -> NDArray[np.bool_]:
    """A boolean table over CATEGORIES, true for ``names`` (for lookups by code)."""
    return np.isin(np.array(CATEGORIES, dtype=object), np.array(names, dtype=object))


def weapon_mask(names: tuple[str, ...]) -> NDArray[np.bool_]:
    """A boolean table over WEAPON_CLASSES, true for ``names``."""
    return np.isin(np.array(WEAPON_CLASSES, dtype=object), np.array(names, dtype=object))
