"""Scenario files: the line to protect, the coalition's pledges, requirements, threat, variants.

A scenario is YAML. Loading validates everything before anything runs, and every refusal is a
:class:`~truceguard.errors.ConfigError` naming the key and its line in the file: an unknown air
base, a nation code that is not ISO 3166-1 alpha-2, a negative quantity, a variant naming a
pledge that does not exist, a condition nobody defines. Nothing is half-run.

Numbers are written either plain or as ``{value: ..., source: ...}``; every pledge, capability
and requirement carries a ``source`` (a citation, or ``assumption``).

A variant changes the scenario: it sets conditions (``us_backstop: false``), removes nations or
pledges, changes pledge fields, adds pledges, overrides requirements or the threat.
:func:`resolve_variant` applies it and reports every pledge it dropped, and why.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from truceguard.errors import ConfigError, NotFoundError
from truceguard.geo.shipped import air_bases, countries, data_path, places

CAPABILITIES: tuple[str, ...] = (
    "ground_troops",
    "fighters",
    "air_defence",
    "radar",
    "awacs",
    "drones",
    "satellites",
    "ships",
    "trainers",
)
ROLES: tuple[str, ...] = ("sensor", "responder", "air_defence", "support")
UNITS: dict[str, str] = {
    "ground_troops": "troops",
    "fighters": "fighters",
    "air_defence": "batteries",
    "radar": "radars",
    "awacs": "orbits",
    "drones": "orbits",
    "satellites": "satellites",
    "ships": "ships",
    "trainers": "trainers",
}
# Parameters a capability (or a pledge, overriding it) may set, with their allowed range.
PARAMS: dict[str, tuple[float, float]] = {
    "height_m": (0.0, 1_000_000.0),
    "range_km": (0.0, 40_000.0),
    "radar_range_km": (0.0, 40_000.0),
    "latency_min": (0.0, 10_000.0),
    "revisit_min": (0.0, 10_000.0),
    "speed_kmh": (1.0, 10_000.0),
    "react_min": (0.0, 10_000.0),
    "reach_km": (0.0, 40_000.0),
    "unit_size": (1.0, 1_000_000.0),
}
SHIPPED_LINES = ("front_line", "minsk_line")


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key (1-based)."""

    line: int = 0
    lines: dict[Any, int]


class _Seq(list[Any]):
    """A YAML sequence that remembers the line of each item (1-based)."""

    line: int = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps node start lines, so errors can name them."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError(
                str(getattr(loader, "name", "")), str(key), "duplicate key",
                key_node.start_mark.line + 1,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


# YAML 1.1 reads NO (Norway), yes, on, off as booleans; only true and false are booleans here.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


@lru_cache(maxsize=1)
def iso_alpha2() -> frozenset[str]:
    """The officially assigned ISO 3166-1 alpha-2 codes shipped with the package."""
    text = data_path("scenarios", "iso3166_alpha2.txt").read_text(encoding="utf-8")
    return frozenset(
        ln.split()[0] for ln in text.splitlines() if ln.strip() and not ln.startswith("#")
    )


@dataclass(frozen=True)
class Sourced:
    """A number (or list) and where it comes from."""

    value: Any
    source: str


@dataclass(frozen=True)
class Location:
    """Where a unit sits: an air base, a point, or a named sector in Ukraine."""

    kind: str  # "base" | "point" | "sector"
    ref: str
    lat: float
    lon: float
    in_ukraine: bool


@dataclass(frozen=True)
class Pledge:
    """One nation's offer of one capability, with its conditions."""

    id: str
    nation: str
    capability: str
    quantity: float
    basing: tuple[Location, ...]
    readiness: float
    requires: tuple[str, ...]
    outside_ukraine_only: bool
    source: str
    params: dict[str, float] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class Capability:
    """What a kind of asset does in the model, with sourced default parameters."""

    name: str
    role: str
    params: dict[str, float]
    detects: tuple[str, ...]
    responds_to: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ThreatType:
    name: str
    weight: float
    height_m: float
    response: str  # "air" | "ground"


@dataclass(frozen=True)
class Threat:
    """Where and how violations happen."""

    distribution: str  # "uniform" | "history"
    history_radius_km: float
    history_floor: float
    types: tuple[ThreatType, ...]
    source: str


@dataclass(frozen=True)
class Condition:
    holds: bool
    description: str
    source: str


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    conditions: dict[str, bool]
    remove_nations: tuple[str, ...]
    remove_pledges: tuple[str, ...]
    set_pledges: dict[str, dict[str, float]]
    add_pledges: tuple[Pledge, ...]
    requirements: dict[str, Sourced]
    threat: Threat | None


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file, validated."""

    name: str
    title: str
    path: str
    line_spec: dict[str, str]
    conditions: dict[str, Condition]
    sectors: dict[str, Location]
    nations: dict[str, str]
    capabilities: dict[str, Capability]
    pledges: tuple[Pledge, ...]
    requirements: dict[str, Sourced]
    force_generation: dict[str, Sourced]
    threat: Threat
    variants: dict[str, Variant]

    def line(self) -> Any:
        """The protected line as a lon/lat (Multi)LineString."""
        from truceguard.geo import shipped

        if self.line_spec["shipped"] == "minsk_line":
            return shipped.minsk_line()
        return shipped.front_line(self.line_spec.get("date", "2026-08-22"))


@dataclass(frozen=True)
class ResolvedVariant:
    """A scenario with one variant applied: the pledges in force and those dropped, and why."""

    scenario: Scenario
    name: str
    description: str
    conditions: dict[str, bool]
    pledges: tuple[Pledge, ...]
    dropped: tuple[tuple[str, str], ...]  # (pledge id, reason)
    requirements: dict[str, Sourced]
    threat: Threat


REQUIRED_KEYS: tuple[str, ...] = (
    "ground_troops_per_km",
    "fighter_detachments",
    "fighters_per_detachment",
    "fighters_on_alert_per_detachment",
    "fighter_readiness",
    "scramble_minutes",
    "protected_power_plants_min_mw",
    "protected_cities",
    "air_defence_reference_range_km",
    "isr_target_height_m",
    "isr_reference_height_m",
    "isr_reference_range_km",
)
FORCE_KEYS: tuple[str, ...] = ("pool_factor", "tour_months", "horizon_months")


class _Reader:
    """Validation helpers that know the file path, so every error names key and line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, reason: str, node: Any = None, item: Any = None) -> ConfigError:
        line = None
        if isinstance(node, _Map):
            line = node.lines.get(item, node.line) if item is not None else node.line
        elif isinstance(node, _Seq):
            line = node.lines[item] if isinstance(item, int) else node.line
        return ConfigError(self.path, key, reason, line)

    def mapping(self, node: _Map, item: str, key: str, required: bool = True) -> _Map:
        value = node.get(item)
        if value is None:
            if required:
                raise self.fail(key, "is required", node)
            empty = _Map()
            empty.line, empty.lines = node.line, {}
            return empty
        if not isinstance(value, _Map):
            raise self.fail(key, "must be a mapping", node, item)
        return value

    def sequence(self, node: _Map, item: str, key: str) -> _Seq:
        value = node.get(item)
        if value is None:
            empty = _Seq()
            empty.line, empty.lines = node.line, []
            return empty
        if not isinstance(value, _Seq):
            raise self.fail(key, "must be a list", node, item)
        return value

    def text(self, node: _Map, item: str, key: str, default: str | None = None) -> str:
        value = node.get(item, default)
        if value is None:
            raise self.fail(key, "is required", node)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(key, "must be text", node, item)
        return str(value)

    def number(
        self, node: _Map, item: str, key: str, lo: float = 0.0, hi: float = float("inf"),
        default: float | None = None,
    ) -> Sourced:
        raw = node.get(item, default)
        source = "default"
        if isinstance(raw, _Map):
            if "source" not in raw:
                raise self.fail(key + ".source", "every number names its source", raw)
            source = str(raw["source"])
            raw = raw.get("value")
        if raw is None:
            raise self.fail(key, "is required", node, item if item in node else None)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise self.fail(key, f"must be a number, got {raw!r}", node, item)
        if raw < 0 and lo >= 0:
            raise self.fail(key, f"must not be negative, got {raw}", node, item)
        if not lo <= raw <= hi:
            raise self.fail(key, f"must be between {lo:g} and {hi:g}, got {raw}", node, item)
        return Sourced(float(raw), source)


def _location(rd: _Reader, raw: Any, key: str, parent: Any, item: Any,
              sectors: dict[str, Location]) -> Location:
    if not isinstance(raw, _Map) or len(raw) != 1:
        raise rd.fail(key, "basing must be one of {base: ICAO}, {point: [lat, lon]}, "
                      "{sector: NAME}", parent, item)
    kind, ref = next(iter(raw.items()))
    if kind == "base":
        bases = air_bases()
        if str(ref) not in bases:
            raise rd.fail(key + ".base", f"unknown air base {ref!r} (not in the shipped list of "
                          f"{len(bases)} eastern-flank bases)", raw, "base")
        b = bases[str(ref)]
        return Location("base", b.ident, b.lat, b.lon, b.country == "UA")
    if kind == "point":
        if (not isinstance(ref, list) or len(ref) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in ref)):
            raise rd.fail(key + ".point", "must be [lat, lon] in degrees", raw, "point")
        lat, lon = float(ref[0]), float(ref[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise rd.fail(key + ".point", f"[{lat}, {lon}] is not a WGS84 position", raw, "point")
        return Location("point", f"{lat:.3f},{lon:.3f}", lat, lon, _in_ukraine(lat, lon))
    if kind == "sector":
        if str(ref) not in sectors:
            raise rd.fail(key + ".sector", f"unknown sector {ref!r}; defined: "
                          f"{', '.join(sorted(sectors)) or 'none'}", raw, "sector")
        return sectors[str(ref)]
    raise rd.fail(key, f"unknown basing kind {kind!r} (base, point or sector)", raw, kind)


def _in_ukraine(lat: float, lon: float) -> bool:
    import shapely

    ukr = countries().get("UKR")
    return bool(ukr is not None and shapely.contains_xy(ukr, lon, lat))


def _pledge(rd: _Reader, raw: Any, key: str, parent: Any, item: Any, nations: dict[str, str],
            caps: dict[str, Capability], conditions: dict[str, Condition],
            sectors: dict[str, Location]) -> Pledge:
    if not isinstance(raw, _Map):
        raise rd.fail(key, "a pledge must be a mapping", parent, item)
    pid = rd.text(raw, "id", key + ".id")
    key = f"{key}[{pid}]"
    nation = rd.text(raw, "nation", key + ".nation")
    if nation not in iso_alpha2():
        hint = " (the United Kingdom is GB)" if nation.upper() == "UK" else ""
        raise rd.fail(key + ".nation", f"{nation!r} is not an ISO 3166-1 alpha-2 code{hint}",
                      raw, "nation")
    if nations and nation not in nations:
        raise rd.fail(key + ".nation", f"{nation} is not listed under nations", raw, "nation")
    cap = rd.text(raw, "capability", key + ".capability")
    if cap not in caps:
        raise rd.fail(key + ".capability", f"unknown capability {cap!r}; one of "
                      f"{', '.join(sorted(caps))}", raw, "capability")
    qty = rd.number(raw, "quantity", key + ".quantity").value
    readiness = rd.number(raw, "readiness", key + ".readiness", 0.0, 1.0, default=1.0).value
    if "source" not in raw:
        raise rd.fail(key + ".source", "every pledge names its source (or 'assumption')", raw)
    basing_raw = raw.get("basing")
    if basing_raw is None:
        raise rd.fail(key + ".basing", "is required", raw)
    items = basing_raw if isinstance(basing_raw, _Seq) else [basing_raw]
    basing = tuple(
        _location(rd, b, key + ".basing", basing_raw if isinstance(basing_raw, _Seq) else raw,
                  i if isinstance(basing_raw, _Seq) else "basing", sectors)
        for i, b in enumerate(items)
    )
    if not basing:
        raise rd.fail(key + ".basing", "names no location", raw, "basing")
    cond = rd.mapping(raw, "conditions", key + ".conditions", required=False)
    requires_raw = cond.get("requires", [])
    requires = tuple(str(r) for r in (requires_raw if isinstance(requires_raw, list)
                                      else [requires_raw]))
    for r in requires:
        if r not in conditions:
            raise rd.fail(key + ".conditions.requires", f"condition {r!r} is not defined under "
                          f"conditions ({', '.join(sorted(conditions)) or 'none defined'})",
                          cond, "requires")
    unknown = set(cond) - {"requires", "outside_ukraine_only"}
    if unknown:
        bad = sorted(unknown)[0]
        raise rd.fail(key + ".conditions." + bad, "unknown condition kind (requires, "
                      "outside_ukraine_only)", cond, bad)
    outside = bool(cond.get("outside_ukraine_only", False))
    if outside and any(loc.in_ukraine for loc in basing):
        raise rd.fail(key + ".basing", "pledged outside Ukraine only, but based in Ukraine",
                      raw, "basing")
    params: dict[str, float] = {}
    for p in PARAMS:
        if p in raw:
            lo, hi = PARAMS[p]
            params[p] = rd.number(raw, p, f"{key}.{p}", lo, hi).value
    extra = set(raw) - set(PARAMS) - {"id", "nation", "capability", "quantity", "readiness",
                                      "source", "basing", "conditions", "note"}
    if extra:
        bad = sorted(extra)[0]
        raise rd.fail(f"{key}.{bad}", "unknown pledge field", raw, bad)
    return Pledge(pid, nation, cap, qty, basing, readiness, requires, outside,
                  str(raw["source"]), params, raw.line)


def _threat(rd: _Reader, node: _Map, key: str) -> Threat:
    dist = rd.text(node, "distribution", key + ".distribution", "uniform")
    if dist not in ("uniform", "history"):
        raise rd.fail(key + ".distribution", "must be 'uniform' or 'history'", node,
                      "distribution")
    types_node = rd.mapping(node, "types", key + ".types")
    types = []
    for name, t in types_node.items():
        tk = f"{key}.types.{name}"
        if not isinstance(t, _Map):
            raise rd.fail(tk, "must be a mapping", types_node, name)
        response = rd.text(t, "response", tk + ".response")
        if response not in ("air", "ground"):
            raise rd.fail(tk + ".response", "must be 'air' or 'ground'", t, "response")
        types.append(ThreatType(str(name), rd.number(t, "weight", tk + ".weight").value,
                                rd.number(t, "height_m", tk + ".height_m").value, response))
    if not types or sum(t.weight for t in types) <= 0:
        raise rd.fail(key + ".types", "needs at least one type with a positive weight", node,
                      "types")
    return Threat(
        dist,
        rd.number(node, "history_radius_km", key + ".history_radius_km", default=25.0).value,
        rd.number(node, "history_floor", key + ".history_floor", 0.0, 1.0, default=0.05).value,
        tuple(types),
        str(node.get("source", "assumption")),
    )


def _requirements(rd: _Reader, node: _Map, key: str, partial: bool) -> dict[str, Sourced]:
    out: dict[str, Sourced] = {}
    for k in node:
        if k not in REQUIRED_KEYS:
            raise rd.fail(f"{key}.{k}", "unknown requirement", node, k)
    for k in REQUIRED_KEYS:
        if k not in node:
            if partial:
                continue
            raise rd.fail(f"{key}.{k}", "is required", node)
        if k == "protected_cities":
            raw = node[k]
            if not isinstance(raw, _Map) or not isinstance(raw.get("value"), list):
                raise rd.fail(f"{key}.{k}", "must be {value: [city, ...], source: ...}", node, k)
            for i, city in enumerate(raw["value"]):
                if not _find_city(str(city)):
                    raise rd.fail(f"{key}.{k}[{i}]", f"no shipped place named {city!r} in "
                                  "Ukraine (write 'Name, Admin1' if ambiguous)", raw["value"], i)
            out[k] = Sourced(list(raw["value"]), str(raw.get("source", "assumption")))
        else:
            out[k] = rd.number(node, k, f"{key}.{k}")
    return out


def _find_city(spec: str) -> tuple[float, float] | None:
    """(lat, lon) of a Ukrainian place written 'Name' or 'Name, Admin1'; None if not found."""
    name, _, admin = (s.strip() for s in spec.partition(","))
    p = places()
    hit = (p.name == name) & (p.cc == "UA")
    if admin:
        hit &= p.admin1 == admin
    idx = hit.nonzero()[0]
    if len(idx) == 0:
        return None
    return float(p.lat[idx[0]]), float(p.lon[idx[0]])


def city_position(spec: str) -> tuple[float, float]:
    pos = _find_city(spec)
    if pos is None:
        raise NotFoundError(f"no shipped place {spec!r} in Ukraine")
    return pos


def _capabilities(rd: _Reader, node: _Map, threat_names: set[str]) -> dict[str, Capability]:
    out = {}
    for name, c in node.items():
        ck = f"capabilities.{name}"
        if name not in CAPABILITIES:
            raise rd.fail(ck, f"unknown capability; one of {', '.join(CAPABILITIES)}", node, name)
        if not isinstance(c, _Map):
            raise rd.fail(ck, "must be a mapping", node, name)
        role = rd.text(c, "role", ck + ".role")
        if role not in ROLES:
            raise rd.fail(ck + ".role", f"one of {', '.join(ROLES)}", c, "role")
        if "source" not in c:
            raise rd.fail(ck + ".source", "every capability names its sources", c)
        params = {p: rd.number(c, p, f"{ck}.{p}", *PARAMS[p]).value for p in PARAMS if p in c}
        lists = {}
        for lk in ("detects", "responds_to"):
            vals = [str(v) for v in rd.sequence(c, lk, f"{ck}.{lk}")]
            for i, v in enumerate(vals):
                if v not in threat_names:
                    raise rd.fail(f"{ck}.{lk}[{i}]", f"unknown threat type {v!r}", c[lk], i)
            lists[lk] = tuple(vals)
        needed = {"sensor": ("height_m", "range_km"),
                  "responder": ("speed_kmh", "react_min", "reach_km"),
                  "air_defence": ("range_km",), "support": ()}[role]
        for p in needed:
            if p not in params:
                raise rd.fail(f"{ck}.{p}", f"is required for role {role}", c)
        out[str(name)] = Capability(str(name), role, params, lists["detects"],
                                    lists["responds_to"], str(c["source"]))
    return out


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Validate a scenario document; raise ConfigError naming key and line on the first fault."""
    rd = _Reader(path)
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, "(yaml)", str(getattr(exc, "problem", exc)),
                          mark.line + 1 if mark else None) from None
    if not isinstance(doc, _Map):
        raise ConfigError(path, "(document)", "a scenario is a YAML mapping", 1)
    known = {"name", "title", "line", "conditions", "sectors", "nations", "capabilities",
             "pledges", "requirements", "force_generation", "threat", "variants"}
    for k in doc:
        if k not in known:
            raise rd.fail(str(k), "unknown top-level key", doc, k)
    name = rd.text(doc, "name", "name")
    line_node = rd.mapping(doc, "line", "line")
    shipped_line = rd.text(line_node, "shipped", "line.shipped")
    if shipped_line not in SHIPPED_LINES:
        raise rd.fail("line.shipped", f"one of {', '.join(SHIPPED_LINES)}", line_node, "shipped")
    line_spec = {"shipped": shipped_line, "date": str(line_node.get("date", "2026-08-22"))}

    conditions = {}
    cnode = rd.mapping(doc, "conditions", "conditions", required=False)
    for cname, c in cnode.items():
        if not isinstance(c, _Map) or not isinstance(c.get("holds"), bool):
            raise rd.fail(f"conditions.{cname}", "needs holds: true|false", cnode, cname)
        conditions[str(cname)] = Condition(c["holds"], str(c.get("description", "")),
                                           str(c.get("source", "assumption")))
    sectors = {}
    snode = rd.mapping(doc, "sectors", "sectors", required=False)
    for sname, s in snode.items():
        sk = f"sectors.{sname}"
        if not isinstance(s, _Map):
            raise rd.fail(sk, "must be {lat, lon, source}", snode, sname)
        lat = rd.number(s, "lat", sk + ".lat", -90, 90).value
        lon = rd.number(s, "lon", sk + ".lon", -180, 180).value
        sectors[str(sname)] = Location("sector", str(sname), lat, lon, True)
    nations: dict[str, str] = {}
    nnode = rd.mapping(doc, "nations", "nations", required=False)
    for code, label in nnode.items():
        if str(code) not in iso_alpha2():
            hint = " (the United Kingdom is GB)" if str(code).upper() == "UK" else ""
            raise rd.fail(f"nations.{code}", f"not an ISO 3166-1 alpha-2 code{hint}", nnode, code)
        nations[str(code)] = str(label)
    threat = _threat(rd, rd.mapping(doc, "threat", "threat"), "threat")
    tnames = {t.name for t in threat.types}
    caps = _capabilities(rd, rd.mapping(doc, "capabilities", "capabilities"), tnames)
    pnode = rd.sequence(doc, "pledges", "pledges")
    pledges = tuple(_pledge(rd, p, "pledges", pnode, i, nations, caps, conditions, sectors)
                    for i, p in enumerate(pnode))
    ids = [p.id for p in pledges]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        first = sorted(dup)[0]
        raise rd.fail(f"pledges[{first}]", "duplicate pledge id", pnode, ids.index(first))
    requirements = _requirements(rd, rd.mapping(doc, "requirements", "requirements"),
                                 "requirements", partial=False)
    fnode = rd.mapping(doc, "force_generation", "force_generation")
    force = {k: rd.number(fnode, k, f"force_generation.{k}", 0.0) for k in FORCE_KEYS}
    if force["tour_months"].value <= 0:
        raise rd.fail("force_generation.tour_months", "must be positive", fnode, "tour_months")
    scen = Scenario(name, str(doc.get("title", name)), path, line_spec, conditions, sectors,
                    nations, caps, pledges, requirements, force, threat, {})
    variants = {}
    vnode = rd.mapping(doc, "variants", "variants", required=False)
    for vname, v in vnode.items():
        variants[str(vname)] = _variant(rd, str(vname), v, vnode, scen)
    return replace(scen, variants=variants)


def _variant(rd: _Reader, name: str, v: Any, parent: _Map, scen: Scenario) -> Variant:
    vk = f"variants.{name}"
    if not isinstance(v, _Map):
        raise rd.fail(vk, "must be a mapping", parent, name)
    allowed = {"description", "conditions", "remove_nations", "remove_pledges", "set_pledges",
               "add_pledges", "requirements", "threat"}
    for k in v:
        if k not in allowed:
            raise rd.fail(f"{vk}.{k}", f"unknown variant key; one of {', '.join(sorted(allowed))}",
                          v, k)
    conds = {}
    cnode = rd.mapping(v, "conditions", vk + ".conditions", required=False)
    for c, val in cnode.items():
        if c not in scen.conditions:
            raise rd.fail(f"{vk}.conditions.{c}", "condition is not defined under conditions",
                          cnode, c)
        if not isinstance(val, bool):
            raise rd.fail(f"{vk}.conditions.{c}", "must be true or false", cnode, c)
        conds[str(c)] = val
    rn = rd.sequence(v, "remove_nations", vk + ".remove_nations")
    for i, code in enumerate(rn):
        if str(code) not in iso_alpha2():
            raise rd.fail(f"{vk}.remove_nations[{i}]", f"{code!r} is not ISO 3166-1 alpha-2",
                          rn, i)
    ids = {p.id for p in scen.pledges}
    rp = rd.sequence(v, "remove_pledges", vk + ".remove_pledges")
    for i, pid in enumerate(rp):
        if str(pid) not in ids:
            raise rd.fail(f"{vk}.remove_pledges[{i}]", f"no pledge with id {pid!r}", rp, i)
    sp = rd.mapping(v, "set_pledges", vk + ".set_pledges", required=False)
    sets: dict[str, dict[str, float]] = {}
    for pid, fields in sp.items():
        pk = f"{vk}.set_pledges.{pid}"
        if str(pid) not in ids:
            raise rd.fail(pk, f"no pledge with id {pid!r}", sp, pid)
        if not isinstance(fields, _Map):
            raise rd.fail(pk, "must be a mapping of fields", sp, pid)
        sets[str(pid)] = {}
        for f in fields:
            if f not in ("quantity", "readiness", *PARAMS):
                raise rd.fail(f"{pk}.{f}", "only quantity, readiness or a parameter", fields, f)
            lo, hi = PARAMS.get(str(f), (0.0, 1.0 if f == "readiness" else float("inf")))
            sets[str(pid)][str(f)] = rd.number(fields, f, f"{pk}.{f}", lo, hi).value
    ap = rd.sequence(v, "add_pledges", vk + ".add_pledges")
    added = tuple(_pledge(rd, p, vk + ".add_pledges", ap, i, scen.nations, scen.capabilities,
                          scen.conditions, scen.sectors) for i, p in enumerate(ap))
    for p in added:
        if p.id in ids:
            raise rd.fail(f"{vk}.add_pledges[{p.id}]", "pledge id already used", ap)
    reqs = _requirements(rd, rd.mapping(v, "requirements", vk + ".requirements", required=False),
                         vk + ".requirements", partial=True)
    threat = _threat(rd, v["threat"], vk + ".threat") if isinstance(v.get("threat"), _Map) else None
    return Variant(name, str(v.get("description", "")), conds, tuple(str(c) for c in rn),
                   tuple(str(p) for p in rp), sets, added, reqs, threat)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``reassurance-2025``) or a scenario file by path."""
    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        shipped = data_path("scenarios", f"{name_or_path}.yaml")
        if not shipped.exists():
            raise NotFoundError(f"no scenario {str(name_or_path)!r}: not a file, and not one of "
                                f"the shipped scenarios ({', '.join(shipped_scenarios())})")
        p = shipped
    if not p.exists():
        raise NotFoundError(f"scenario file {str(p)!r} does not exist")
    return parse_scenario(p.read_text(encoding="utf-8"), str(p))


def shipped_scenarios() -> list[str]:
    return sorted(f.stem for f in data_path("scenarios").glob("*.yaml"))


def resolve_variant(scen: Scenario, name: str | None = None) -> ResolvedVariant:
    """The scenario with variant ``name`` applied (None: the scenario as written)."""
    if name is None or name == "base":
        v = Variant("base", "the scenario as written", {}, (), (), {}, (), {}, None)
    elif name not in scen.variants:
        raise NotFoundError(f"scenario {scen.name!r} has no variant {name!r}; variants: "
                            f"{', '.join(scen.variants) or 'none'}")
    else:
        v = scen.variants[name]
    conditions = {c: cond.holds for c, cond in scen.conditions.items()}
    conditions.update(v.conditions)
    kept: list[Pledge] = []
    dropped: list[tuple[str, str]] = []
    for p in (*scen.pledges, *v.add_pledges):
        if p.nation in v.remove_nations:
            dropped.append((p.id, f"nation {p.nation} removed by the variant"))
            continue
        if p.id in v.remove_pledges:
            dropped.append((p.id, "removed by the variant"))
            continue
        unmet = [c for c in p.requires if not conditions[c]]
        if unmet:
            dropped.append((p.id, f"requires {', '.join(unmet)}, which does not hold"))
            continue
        if p.id in v.set_pledges:
            changes = dict(v.set_pledges[p.id])
            params = dict(p.params)
            for k in list(changes):
                if k in PARAMS:
                    params[k] = changes.pop(k)
            p = replace(p, params=params, **changes)  # type: ignore[arg-type]
        kept.append(p)
    reqs = dict(scen.requirements)
    reqs.update(v.requirements)
    return ResolvedVariant(scen, v.name, v.description, conditions, tuple(kept), tuple(dropped),
                           copy.copy(reqs), v.threat or scen.threat)
