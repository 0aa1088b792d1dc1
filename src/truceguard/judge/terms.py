"""Terms: a ceasefire agreement as data, read from a YAML file and checked key by key.

A terms file holds the agreement's name, title, ``version`` and effective period, the sources
it quotes, the line of contact (optionally one line per side: each side measures from its own)
with how certain that line is, the polygon that tells the sides apart, the ``area`` the terms
cover (where a clause without geometry applies; everywhere when absent), the ``territory``
the sides and zones hold in (a state's own territory: nothing beyond its border lies in a
zone; everywhere when absent), and its clauses:

- zones: a band along the line (``distance_km`` per side or ``width_km`` in all), a polygon
  (``polygon``), or the surroundings of the shipped settlements inside the area
  (``settlements: {within_km}``); a zone that names ``weapons`` is a withdrawal clause;
- prohibitions: an activity (``ACTIVITIES``) in a zone or anywhere in the area, optionally
  only for some weapon classes; ``categories`` opts in to record kinds that count as no
  breach by default (``OPT_IN_CATEGORIES``: lower-clarity events, deaths from mines and
  explosive remnants);
- caps: at most so many of a weapon class in a zone on one side.

Every clause quotes the provision it encodes (``quote``: verbatim, or ``paraphrase`` where no
verbatim text could be checked, never both) with its ``source`` and ``article``, names the
``parties`` it binds (side ids; both when absent), its ``mechanism`` (``MECHANISMS``) and its
period (``effective``, ``phase_in_days``, ``end``). Every zone says how certain its geometry
is (``certainty: {level, note}``, ``CERTAINTY_LEVELS``). A clause's id is
``<terms>/<kind>/<id>``; ``<kind>/<id>`` is its short code, stable across versions.

The file is read by :mod:`truceguard.config` (YAML 1.2 scalars, duplicate keys refused); a
mistake raises :class:`truceguard.errors.ConfigError` naming the key and its line.

Sides: side 0 lies outside the side polygon, side 1 inside it (for the shipped terms: 0 is the
government-controlled side). Times are UTC epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from truceguard.config import ConfigList, ConfigMap, parse_yaml
from truceguard.errors import ConfigError, NotFoundError, suggest
from truceguard.geo.shipped import data_path, places
from truceguard.judge.severity import shipped_severity
from truceguard.judge.terms_model import (
    ACTIVITIES,
    AIR_WEAPON_CLASSES,
    ANYWHERE,
    CERTAINTY_LEVELS,
    CLAUSE_KINDS,
    FLIGHT_CATEGORIES,
    LIVE_FIRE_CATEGORIES,
    MECHANISMS,
    OPT_IN_CATEGORIES,
    ZONE_SHAPES,
    Cap,
    Certainty,
    Clause,
    Meta,
    Prohibition,
    Provision,
    Side,
    Source,
    Terms,
    Zone,
    binds_from,
    category_mask,
    resolve_clause,
    weapon_mask,
)
from truceguard.model import WEAPON_CLASSES

__all__ = [
    "ACTIVITIES", "AIR_WEAPON_CLASSES", "ANYWHERE", "CERTAINTY_LEVELS", "CLAUSE_KINDS",
    "FLIGHT_CATEGORIES", "LIVE_FIRE_CATEGORIES", "MECHANISMS", "OPT_IN_CATEGORIES",
    "ZONE_SHAPES", "Cap",
    "Certainty", "Clause", "Meta", "Prohibition", "Provision", "Side", "Source", "Terms", "Zone",
    "binds_from", "category_mask", "default_severity", "load_terms", "parse_terms",
    "resolve_clause", "shipped_terms", "weapon_mask",
]  # fmt: skip

_TOP_KEYS = {
    "name", "title", "version", "effective", "end", "sources", "line", "line_certainty",
    "side_lines", "sides", "area", "territory", "projection", "zones", "prohibited", "caps",
    "severity", "notes",
}  # fmt: skip
_GEOM_KEYS = {"file", "feature", "geojson"}
_META_KEYS = {
    "id", "source", "article", "quote", "paraphrase", "parties", "mechanism", "effective",
    "phase_in_days", "end", "severity", "note",
}  # fmt: skip
_ZONE_KEYS = _META_KEYS | {
    "distance_km", "width_km", "polygon", "settlements", "weapons", "certainty",
}  # fmt: skip
_PROHIBITION_KEYS = _META_KEYS | {"activity", "zone", "weapons", "except_monitors",
                                  "categories"}
_CAP_KEYS = _META_KEYS | {"zone", "side", "weapon", "max"}


# ------------------------------------------------------------------------------- reading


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
        return m.line_of(key) if isinstance(m, ConfigMap) else None

    def mapping(self, value: Any, key: str, line: int | None, allowed: set[str]) -> ConfigMap:
        if not isinstance(value, ConfigMap):
            raise self.fail(key, "expected a mapping", line)
        for k in value:
            if str(k) not in allowed:
                raise self.fail(_join(key, k), f"unknown key (known: {', '.join(sorted(allowed))})",
                                value.lines.get(k))  # fmt: skip
        return value

    def require(self, m: ConfigMap, k: str, key: str) -> Any:
        if k not in m or m[k] is None:
            raise self.fail(_join(key, k), "missing", m.line)
        return m[k]

    def text(self, m: ConfigMap, k: str, key: str, default: str | None = None) -> str:
        if k not in m and default is not None:
            return default
        v = self.require(m, k, key)
        if not isinstance(v, str | int | float) or isinstance(v, bool) or str(v).strip() == "":
            raise self.fail(_join(key, k), "expected text", self.line_of(m, k))
        return " ".join(str(v).split())

    def number(self, m: ConfigMap, k: str, key: str, *, minimum: float = 0.0) -> float:
        v = self.require(m, k, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < minimum:
            raise self.fail(_join(key, k), f"expected a number >= {minimum:g}, got {v!r}",
                            self.line_of(m, k))  # fmt: skip
        return float(v)

    def names(self, m: ConfigMap, k: str, key: str, known: Iterable[str]) -> tuple[str, ...]:
        """A list of names, each one of ``known``."""
        v = m.get(k) or []
        known = tuple(known)
        if not isinstance(v, list):
            raise self.fail(_join(key, k), "expected a list", self.line_of(m, k))
        for w in v:
            if w not in known:
                raise self.fail(_join(key, k), f"unknown value {w!r} (known: {', '.join(known)})",
                                self.line_of(m, k))  # fmt: skip
        return tuple(v)

    def choice(self, m: ConfigMap, k: str, key: str, known: tuple[str, ...]) -> str:
        v = self.text(m, k, key)
        if v not in known:
            raise self.fail(_join(key, k), f"{v!r} is not one of {', '.join(known)}",
                            self.line_of(m, k))  # fmt: skip
        return v

    def when(self, m: ConfigMap, k: str, key: str) -> int:
        v = self.require(m, k, key)
        line = self.line_of(m, k)
        try:
            dt = datetime.fromisoformat(str(v))
        except ValueError:
            raise self.fail(_join(key, k), f"not an ISO 8601 date-time: {v!r}", line) from None
        if dt.tzinfo is None:
            raise self.fail(_join(key, k), "give a UTC offset (e.g. 2015-02-15T00:00:00+02:00)",
                            line)  # fmt: skip
        return int(dt.astimezone(UTC).timestamp())


def _load_geometry(r: _Reader, value: Any, key: str, line: int | None, base: Path,
                   extra: frozenset[str] = frozenset()) -> Any:
    """A geometry from ``{file, feature}`` or ``{geojson}``; file paths relative to the terms
    file, else to the shipped data folder. ``feature`` is an index, ``{property: value}``,
    ``{property: [values]}`` (the union of the matching features) or ``all`` (the union of
    every feature)."""
    m = r.mapping(value, key, line, _GEOM_KEYS | extra)
    if "geojson" in m:
        try:
            return shapely.geometry.shape(m["geojson"])
        except Exception as exc:  # shapely raises several kinds for bad GeoJSON
            raise r.fail(f"{key}.geojson", f"not a GeoJSON geometry: {exc}",
                         m.lines["geojson"]) from None  # fmt: skip
    name = r.text(m, "file", key)
    found = next((p for p in (base / name, data_path(name)) if p.is_file()), None)
    if found is None:
        raise r.fail(f"{key}.file", f"no such file: {name}", m.lines.get("file"))
    try:
        with open(found, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise r.fail(f"{key}.file", f"cannot read GeoJSON: {exc}", m.lines.get("file")) from None
    feats = doc.get("features", [doc]) if isinstance(doc, dict) else []
    sel = m.get("feature", 0)
    fline = m.lines.get("feature", m.line)
    if sel == "all":
        chosen = list(feats)
    elif isinstance(sel, int) and not isinstance(sel, bool):
        if not 0 <= sel < len(feats):
            raise r.fail(f"{key}.feature", f"{found.name} has {len(feats)} features", fline)
        chosen = [feats[sel]]
    elif isinstance(sel, dict) and len(sel) == 1:
        ((pk, pv),) = sel.items()
        wanted = {str(v) for v in (pv if isinstance(pv, list) else [pv])}
        chosen = [f for f in feats if str((f.get("properties") or {}).get(pk)) in wanted]
        got = {str((f.get("properties") or {}).get(pk)) for f in chosen}
        if not chosen or got != wanted:
            raise r.fail(f"{key}.feature", f"no feature with {pk} = "
                         f"{', '.join(sorted(wanted - got)) or pv} in {found.name}", fline)
    else:
        raise r.fail(f"{key}.feature", "expected an index or {property: value}", fline)
    try:
        geoms = [shapely.geometry.shape(f.get("geometry") if "geometry" in f else f)
                 for f in chosen]  # fmt: skip
    except Exception as exc:
        raise r.fail(f"{key}.file", f"not a GeoJSON geometry: {exc}", m.lines.get("file")) from None
    return geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)


def _check_geometry(r: _Reader, geom: Any, key: str, line: int | None,
                    kinds: tuple[str, ...]) -> Any:  # fmt: skip
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


@cache
def default_severity() -> tuple[tuple[tuple[str, int], ...], tuple[tuple[int, str], ...]]:
    """The shipped severity table (``data/severity.yaml``): by clause kind, and level names."""
    table = shipped_severity()
    return tuple(table.kinds.items()), tuple(table.levels.items())


def shipped_terms() -> list[str]:
    """Names of the terms files shipped with truceguard."""
    return sorted(p.stem for p in data_path("terms").glob("*.yaml"))


def load_terms(name_or_path: str | Path) -> Terms:
    """Terms by shipped name (``minsk-2015``) or from a YAML file path."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        shipped = data_path("terms", f"{name_or_path}.yaml")
        if not shipped.is_file():
            raise NotFoundError(f"no terms named {str(name_or_path)!r}",
                                hint=suggest(str(name_or_path), shipped_terms()),
                                code="not_found.terms")  # fmt: skip
        p = shipped
    if not p.is_file():
        raise NotFoundError(f"no terms file {str(p)!r}", code="not_found.terms",
                            hint=f"give a file path or one of: {', '.join(shipped_terms())}")
    st = p.stat()
    return _load_file(str(p.resolve()), str(p), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _load_file(resolved: str, shown: str, mtime_ns: int, size: int) -> Terms:
    """Terms are immutable: one object per unchanged file, so that its indexes (built once
    per Terms object) are shared by every caller."""
    from truceguard.config import read_config_text

    return parse_terms(read_config_text(Path(resolved), shown), path=shown)


def parse_terms(text: str, path: str = "<terms>") -> Terms:
    """Terms from YAML text; ``path`` names the file in errors and anchors relative paths."""
    r = _Reader(path)
    doc = r.mapping(parse_yaml(text, path), "", 1, _TOP_KEYS)
    name = r.text(doc, "name", "")
    sources = _parse_sources(r, doc)
    kinds, levels = default_severity()
    severity, labels = dict(kinds), dict(levels)
    if "severity" in doc:
        sv = r.mapping(doc["severity"], "severity", r.line_of(doc, "severity"), set(severity))
        for k in sv:
            severity[str(k)] = _severity(r, sv, str(k), "severity", labels)
    effective = r.when(doc, "effective", "")
    end = r.when(doc, "end", "") if doc.get("end") is not None else None
    ctx = _Context(r=r, base=Path(path).parent, effective=effective, end=end,
                   source_ids={s.id for s in sources}, labels=labels)  # fmt: skip
    line, polygon, sides, own_lines = _parse_geometry(ctx, doc)
    ctx.side_ids = [s.id for s in sides]
    area, area_certainty = _parse_area(ctx, doc)
    territory = _parse_territory(ctx, doc)
    zones = _parse_zones(ctx, doc, area)
    prohibited = _parse_prohibited(ctx, doc, {z.id for z in zones})
    caps = _parse_caps(ctx, doc, {z.id for z in zones})
    centre = None
    if "projection" in doc:
        pm = r.mapping(doc["projection"], "projection", r.line_of(doc, "projection"),
                       {"lon0", "lat0"})  # fmt: skip
        centre = (r.number(pm, "lon0", "projection", minimum=-180),
                  r.number(pm, "lat0", "projection", minimum=-90))  # fmt: skip
    return Terms(
        name=name, title=r.text(doc, "title", "", default=name),
        version=r.text(doc, "version", ""), path=path, effective=effective, end=end,
        sources=sources, line=line, line_certainty=_certainty(r, doc, "line_certainty", ""),
        side_polygon=polygon, sides=sides, side_lines=own_lines, area=area,
        area_certainty=area_certainty, zones=zones, prohibited=prohibited, caps=caps,
        severity=severity, severity_labels=labels, projection_centre=centre, territory=territory,
        notes=" ".join(str(doc.get("notes") or "").split()),
        effective_text=str(doc["effective"]),
    )  # fmt: skip


@dataclass
class _Context:
    """What the parts of a terms file need to know about the whole while being read."""

    r: _Reader
    base: Path
    effective: int
    end: int | None
    source_ids: set[str]
    labels: dict[int, str]
    side_ids: list[str] | None = None

    def meta(self, m: ConfigMap, key: str, default_mechanism: str) -> Meta:
        """The provision, parties, mechanism, period and severity of a clause. A clause never
        binds before the terms take effect, nor after they end."""
        r = self.r
        sid = r.text(m, "source", key)
        if sid not in self.source_ids:
            raise r.fail(f"{key}.source", f"unknown source {sid!r}", m.lines.get("source"))
        if ("quote" in m) == ("paraphrase" in m):
            raise r.fail(f"{key}.quote", "give the provision as quote (verbatim) or paraphrase "
                         "(no verbatim text found), exactly one of them", m.line)
        eff = self.effective
        if "effective" in m:
            eff = max(eff, r.when(m, "effective", key))
        end = r.when(m, "end", key) if m.get("end") is not None else self.end
        if end is not None and self.end is not None:
            end = min(end, self.end)
        assert self.side_ids is not None
        return Meta(
            provision=Provision(source=sid, article=r.text(m, "article", key, default=""),
                                quote=r.text(m, "quote", key, default=""),
                                paraphrase=r.text(m, "paraphrase", key, default="")),
            parties=r.names(m, "parties", key, self.side_ids) or tuple(self.side_ids),
            mechanism=(r.choice(m, "mechanism", key, MECHANISMS) if "mechanism" in m
                       else default_mechanism),
            effective=eff,
            phase_in_days=r.number(m, "phase_in_days", key) if "phase_in_days" in m else 0.0,
            end=end,
            severity=_severity(r, m, "severity", key, self.labels) if "severity" in m else None,
            note=r.text(m, "note", key, default=""),
            line=m.line,
        )  # fmt: skip

    def items(self, doc: ConfigMap, k: str) -> list[tuple[str, Any, int]]:
        """The entries of a top-level list, each with its key path (by id) and its line."""
        raw = doc.get(k)
        if raw is None:
            return []
        if not isinstance(raw, ConfigList):
            raise self.r.fail(k, "expected a list", self.r.line_of(doc, k))
        return [
            (f"{k}[{v.get('id', i) if isinstance(v, dict) else i}]", v, raw.line_of(i))
            for i, v in enumerate(raw)
        ]

    def geometry(self, m: ConfigMap, k: str, key: str, kinds: tuple[str, ...]) -> Any:
        line = self.r.line_of(m, k)
        geom = _load_geometry(self.r, self.r.require(m, k, ""), key, line, self.base)
        return _check_geometry(self.r, geom, key, line, kinds)


_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")


def _certainty(r: _Reader, m: ConfigMap, k: str, key: str) -> Certainty:
    c = r.mapping(r.require(m, k, key), _join(key, k), r.line_of(m, k), {"level", "note"})
    return Certainty(r.choice(c, "level", _join(key, k), CERTAINTY_LEVELS),
                     r.text(c, "note", _join(key, k)))  # fmt: skip


def _parse_sources(r: _Reader, doc: ConfigMap) -> tuple[Source, ...]:
    raw = r.require(doc, "sources", "")
    if not isinstance(raw, ConfigList) or not raw:
        raise r.fail("sources", "expected a list of source texts", r.line_of(doc, "sources"))
    out = []
    for i, s in enumerate(raw):
        key = f"sources[{i}]"
        m = r.mapping(s, key, raw.line_of(i), {"id", "title", "text", "url", "date"})
        out.append(Source(r.text(m, "id", key), r.text(m, "title", key), r.text(m, "text", key),
                          str(m.get("url") or ""), str(m.get("date") or "")))  # fmt: skip
    ids = [s.id for s in out]
    if len(set(ids)) != len(ids):
        raise r.fail("sources", "two sources share an id", r.line_of(doc, "sources"))
    return tuple(out)


def _parse_geometry(ctx: _Context, doc: ConfigMap
                    ) -> tuple[Any, Any, tuple[Side, Side], tuple[Any, Any]]:  # fmt: skip
    """The line, the side polygon, the two sides and each side's own line (or None)."""
    r = ctx.r
    line = ctx.geometry(doc, "line", "line", _LINES)
    sides_m = r.mapping(r.require(doc, "sides", ""), "sides", r.line_of(doc, "sides"),
                        {"polygon", "outside", "inside"})  # fmt: skip
    polygon = ctx.geometry(sides_m, "polygon", "sides.polygon", _POLYGONS)
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
        sl = r.mapping(doc["side_lines"], "side_lines", r.line_of(doc, "side_lines"),
                       {s.id for s in sides})  # fmt: skip
        for i, side in enumerate(sides):
            if side.id in sl:
                own[i] = ctx.geometry(sl, side.id, f"side_lines.{side.id}", _LINES)
    return line, polygon, sides, (own[0], own[1])


def _parse_area(ctx: _Context, doc: ConfigMap) -> tuple[Any, Certainty]:
    """Where the terms apply (clauses without geometry hold there): a polygon, or everywhere."""
    r = ctx.r
    if doc.get("area") is None:
        return None, Certainty("stated", "the terms apply everywhere")
    m = r.mapping(doc["area"], "area", r.line_of(doc, "area"), _GEOM_KEYS | {"certainty"})
    geom = _load_geometry(r, m, "area", r.line_of(doc, "area"), ctx.base, frozenset({"certainty"}))
    certainty = _certainty(r, m, "certainty", "area")
    return _check_geometry(r, geom, "area", m.line, _POLYGONS), certainty


def _parse_territory(ctx: _Context, doc: ConfigMap) -> Any:
    """The territory the sides and zones hold in (``territory``: a polygon, e.g. the state's
    own territory, so that nothing across its border is judged on a side or in a zone)."""
    if doc.get("territory") is None:
        return None
    r = ctx.r
    line = r.line_of(doc, "territory")
    geom = _load_geometry(r, doc["territory"], "territory", line, ctx.base)
    return _check_geometry(r, geom, "territory", line, _POLYGONS)


def _parse_zones(ctx: _Context, doc: ConfigMap, area: Any) -> tuple[Zone, ...]:
    r = ctx.r
    zones: list[Zone] = []
    for key, z, line in ctx.items(doc, "zones"):
        m = r.mapping(z, key, line, _ZONE_KEYS)
        zid = r.text(m, "id", key)
        if zid in {x.id for x in zones} or zid == ANYWHERE:
            raise r.fail(f"{key}.id", "duplicate or reserved zone id", m.lines["id"])
        given = [k for k in ("distance_km", "width_km", "polygon", "settlements") if k in m]
        if len(given) > 1:
            raise r.fail(f"{key}.{given[1]}", f"give one of distance_km, width_km, polygon, "
                         f"settlements, not {' and '.join(given)}", m.lines[given[1]])
        weapons = r.names(m, "weapons", key, WEAPON_CLASSES)
        mech = "withdrawal_zone" if weapons else "prohibited_activity"
        common: dict[str, Any] = dict(id=zid, weapons=weapons, meta=ctx.meta(m, key, mech),
                                      certainty=_certainty(r, m, "certainty", key))
        if "polygon" in m:
            poly = ctx.geometry(m, "polygon", f"{key}.polygon", _POLYGONS)
            zones.append(Zone(shape="polygon", distance_m=(0.0, 0.0), polygon=poly, **common))
        elif "settlements" in m:
            zones.append(_settlement_zone(ctx, m, key, area, common))
        else:
            zones.append(Zone(shape="band", distance_m=_zone_distance(ctx, m, key), **common))
    return tuple(zones)


def _settlement_zone(ctx: _Context, m: ConfigMap, key: str, area: Any,
                     common: dict[str, Any]) -> Zone:  # fmt: skip
    """The surroundings of every shipped settlement (GeoNames, 1,000+ people) in the area."""
    r = ctx.r
    sk = f"{key}.settlements"
    sm = r.mapping(m["settlements"], sk, m.lines["settlements"], {"within_km"})
    radius = r.number(sm, "within_km", sk) * 1000.0
    if area is None:
        raise r.fail(sk, "a settlements zone needs the terms' area (which settlements?)",
                     m.lines["settlements"])  # fmt: skip
    p = places()
    shapely.prepare(area)
    inside = shapely.contains_xy(area, p.lon, p.lat)
    pts = np.column_stack([p.lon[inside], p.lat[inside]]).astype(float)
    return Zone(shape="settlements", distance_m=(0.0, 0.0), points=pts, radius_m=radius, **common)


def _parse_prohibited(ctx: _Context, doc: ConfigMap, zone_ids: set[str]) -> tuple[Prohibition, ...]:
    r = ctx.r
    out: list[Prohibition] = []
    for key, pz, line in ctx.items(doc, "prohibited"):
        m = r.mapping(pz, key, line, _PROHIBITION_KEYS)
        pid = r.text(m, "id", key)
        if pid in {x.id for x in out}:
            raise r.fail(f"{key}.id", "duplicate id", m.lines["id"])
        activity = r.choice(m, "activity", key, ACTIVITIES)
        zone = r.text(m, "zone", key, default=ANYWHERE)
        if zone != ANYWHERE and zone not in zone_ids:
            raise r.fail(f"{key}.zone", f"unknown zone {zone!r}", m.lines.get("zone"))
        exc_mon = m.get("except_monitors", activity == "flight")
        if not isinstance(exc_mon, bool):
            raise r.fail(f"{key}.except_monitors", "expected true or false",
                         m.lines.get("except_monitors"))  # fmt: skip
        mech = "ceasefire" if activity == "live_fire" else "prohibited_activity"
        out.append(Prohibition(id=pid, activity=activity, zone=zone,
                               weapons=r.names(m, "weapons", key, WEAPON_CLASSES),
                               except_monitors=exc_mon, meta=ctx.meta(m, key, mech),
                               categories=r.names(m, "categories", key, OPT_IN_CATEGORIES)))
    return tuple(out)


def _parse_caps(ctx: _Context, doc: ConfigMap, zone_ids: set[str]) -> tuple[Cap, ...]:
    r = ctx.r
    assert ctx.side_ids is not None
    out: list[Cap] = []
    for key, c, line in ctx.items(doc, "caps"):
        m = r.mapping(c, key, line, _CAP_KEYS)
        zone = r.text(m, "zone", key)
        if zone not in zone_ids:
            raise r.fail(f"{key}.zone", f"unknown zone {zone!r}", m.lines.get("zone"))
        side = r.choice(m, "side", key, tuple(ctx.side_ids))
        weapon = r.choice(m, "weapon", key, WEAPON_CLASSES)
        cid = r.text(m, "id", key)
        if cid in {x.id for x in out}:
            raise r.fail(f"{key}.id", "duplicate id", m.lines["id"])
        out.append(Cap(id=cid, zone=zone, side=ctx.side_ids.index(side), weapon=weapon,
                       max_count=int(r.number(m, "max", key)), meta=ctx.meta(m, key, "cap")))
    return tuple(out)


def _zone_distance(ctx: _Context, m: ConfigMap, key: str) -> tuple[float, float]:
    """Per-side depth in metres from ``distance_km`` (each side; a number or {side: km}) or
    ``width_km`` (the whole zone, split equally between the sides)."""
    r, side_ids = ctx.r, ctx.side_ids or []
    if "width_km" in m:
        w = r.number(m, "width_km", key)
        return (w * 500.0, w * 500.0)
    if "distance_km" not in m:
        raise r.fail(f"{key}.distance_km", "a zone needs a distance (distance_km or width_km), "
                     "a polygon or settlements", m.line)
    v = m["distance_km"]
    if isinstance(v, ConfigMap):
        r.mapping(v, f"{key}.distance_km", m.lines["distance_km"], set(side_ids))
        out = []
        for sid in side_ids:
            if sid not in v:
                raise r.fail(f"{key}.distance_km.{sid}", "missing", v.line)
            out.append(r.number(v, sid, f"{key}.distance_km") * 1000.0)
        return (out[0], out[1])
    d = r.number(m, "distance_km", key) * 1000.0
    if d <= 0:
        raise r.fail(f"{key}.distance_km", "must be more than 0", m.lines["distance_km"])
    return (d, d)


def _severity(r: _Reader, m: ConfigMap, k: str, key: str, labels: dict[int, str]) -> int:
    v = m[k]
    if isinstance(v, str):
        names = {name: lvl for lvl, name in labels.items()}
        if v in names:
            return names[v]
    if isinstance(v, int) and not isinstance(v, bool) and v in labels:
        return v
    levels = ", ".join(f"{n} ({i})" for i, n in sorted(labels.items()))
    raise r.fail(_join(key, k), f"severity must be one of {levels}", m.lines.get(k))


