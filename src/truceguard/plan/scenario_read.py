"""Validation of scenario documents: every fault is a ConfigError with file, key and line.

Refused, among others: a nation that is not an ISO 3166-1 alpha-3 code (``UK`` gets the hint
``GBR``); an air base that is not in the shipped list; an asset based in a country that is
neither the host nor a member of the alliance (Chișinău, in Moldova, for a German Patriot);
an assumption without its range and reason, or whose value lies outside its range; an orbit
inside its stand-off from hostile air defence; a variant naming a pledge or condition nobody
defines. Nothing is half-run.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from truceguard.config import ConfigList, ConfigMap
from truceguard.errors import ConfigError, suggest
from truceguard.plan.scenario import (
    PATTERNS,
    TARGET_CLASSES,
    THREAT_SOURCES,
    Assumption,
    Capability,
    Condition,
    Location,
    Pledge,
    Raids,
    Scenario,
    Sourced,
    Threat,
    ThreatType,
    UkraineLayer,
    Variant,
)

INF = float("inf")
ROLES: dict[str, tuple[str, ...]] = {  # role -> required parameters
    "sensor": ("height_m", "range_km", "latency_min"),
    "fighter": ("speed_kmh", "react_min", "reach_km", "standoff_km", "sorties_per_day",
                "shots_per_sortie", "pk_drone", "pk_missile", "sortie_h"),
    "air_defence": ("range_km", "radar_range_km", "height_m", "interceptors", "reloads_per_raid",
                    "pk_drone", "pk_missile", "shots_per_drone", "shots_per_missile"),
    "ground_force": ("speed_kmh", "react_min", "reach_km", "unit_size", "qrf_share", "task_h"),
    "support": (),
}
PATTERN_PARAMS: dict[str, tuple[str, ...]] = {
    "mast": (), "orbit": ("on_station_share", "cycle_h", "standoff_km"),
    "satellite": ("revisit_h",),
}
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "height_m": (0.0, 1e6), "range_km": (0.0, 40_000.0), "radar_range_km": (0.0, 40_000.0),
    "latency_min": (0.0, 10_000.0), "speed_kmh": (1.0, 10_000.0), "react_min": (0.0, 10_000.0),
    "reach_km": (0.0, 40_000.0), "standoff_km": (0.0, 2_000.0), "sorties_per_day": (0.0, 10.0),
    "shots_per_sortie": (0.0, 20.0), "pk_drone": (0.0, 1.0), "pk_missile": (0.0, 1.0),
    "sortie_h": (0.1, 24.0), "interceptors": (0.0, 1_000.0), "reloads_per_raid": (0.0, 20.0),
    "shots_per_drone": (1.0, 4.0), "shots_per_missile": (1.0, 4.0), "unit_size": (1.0, 1e6),
    "qrf_share": (0.0, 1.0), "task_h": (0.1, 1_000.0), "on_station_share": (0.0, 1.0),
    "cycle_h": (0.1, 1_000.0), "revisit_h": (0.01, 1_000.0),
}
REQUIRED_KEYS: tuple[str, ...] = (
    "ground_troops_per_km", "fighter_detachments", "fighters_per_detachment",
    "fighter_readiness", "air_defence_reference_range_km", "detect_within_min",
    "answer_within_min",
)
FORCE_KEYS: tuple[str, ...] = ("pool_factor", "tour_months", "horizon_months")
UKRAINE_KEYS: dict[str, tuple[float, float]] = {
    "troops": (0.0, 5e6), "share_at_line": (0.0, 1.0),
}
# ukraine.* keys of earlier scenario files, and what took their place (a clear refusal)
RETIRED_UKRAINE_KEYS: dict[str, str] = {
    "reference_troops_per_km": "the land breach model (the scenario's breach block, "
                               "docs/land-breach.md) replaced the density ratio",
    "react_min": "the land breach model's reserves and arrivals (breach block) replaced it",
    "air_warning_min": "Ukraine's air warning comes from plan/isr.py, with and without the "
                       "US feed (conditions.us_isr)",
    "drone_defeat_share": "Ukraine's air defence is fitted on the 2025 raids "
                          "(docs/raid-calibration.md)",
    "missile_defeat_share": "Ukraine's air defence is fitted on the 2025 raids "
                            "(docs/raid-calibration.md)",
}
RAID_KEYS = ("sizes", "duration_h", "replications", "campaign", "source", "note")
SHIPPED_LINES = ("front_line", "minsk_line")


class Reader:
    """Validation helpers that know the file, so every error names key and line; collects the
    numbers that carry a range (the assumptions)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.assumptions: list[Assumption] = []

    def fail(self, key: str, reason: str, node: Any = None, item: Any = None,
             hint: str | None = None) -> ConfigError:
        line = None
        if isinstance(node, ConfigMap):
            line = node.line_of(item) if item is not None else node.line
        elif isinstance(node, ConfigList):
            line = node.line_of(item) if isinstance(item, int) else node.line
        return ConfigError(self.path, key, reason, line, hint=hint)

    def mapping(self, node: Any, item: str, key: str, required: bool = True) -> ConfigMap:
        value = node.get(item)
        if value is None:
            if required:
                raise self.fail(key, "is required", node)
            empty = ConfigMap()
            empty.line, empty.lines = node.line, {}
            return empty
        if not isinstance(value, ConfigMap):
            raise self.fail(key, "must be a mapping", node, item)
        return value

    def sequence(self, node: Any, item: str, key: str) -> ConfigList:
        value = node.get(item)
        if value is None:
            empty = ConfigList()
            empty.line, empty.lines = node.line, []
            return empty
        if not isinstance(value, ConfigList):
            raise self.fail(key, "must be a list", node, item)
        return value

    def text(self, node: Any, item: str, key: str, default: str | None = None) -> str:
        value = node.get(item, default)
        if value is None:
            raise self.fail(key, "is required", node)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(key, "must be text", node, item)
        return str(value)

    def number(self, node: Any, item: Any, key: str, path: tuple[Any, ...],
               lo: float = 0.0, hi: float = INF, default: float | None = None) -> Sourced:
        """A number, plain or ``{value, source[, low, high, reason]}``; an assumption (its
        source starts with 'assumption') must carry low, high and reason."""
        raw = node.get(item, default)
        source = "default"
        spec = raw if isinstance(raw, ConfigMap) else None
        if spec is not None:
            if "source" not in spec:
                raise self.fail(key + ".source", "every number names its source", spec)
            source = str(spec["source"])
            extra = set(spec) - {"value", "source", "low", "high", "reason"}
            if extra:
                bad = sorted(map(str, extra))[0]
                raise self.fail(f"{key}.{bad}", "unknown field of a number (value, source, "
                                "low, high, reason)", spec, bad)
            raw = spec.get("value")
        if raw is None:
            raise self.fail(key, "is required", node, item if item in node else None)
        value = self._float(raw, key, node, item, lo, hi)
        if spec is not None:
            ranged = "low" in spec or "high" in spec
            if source.lower().startswith("assumption") and not ranged:
                raise self.fail(key, "an assumption carries its plausible range (low, high) and "
                                "a reason", spec, hint="add low: ..., high: ..., reason: ...")
            if ranged:
                if "low" not in spec or "high" not in spec or not str(spec.get("reason", "")):
                    raise self.fail(key, "a range needs low, high and a reason", spec)
                low = self._float(spec["low"], key + ".low", spec, "low", lo, hi)
                high = self._float(spec["high"], key + ".high", spec, "high", lo, hi)
                if not low <= value <= high:
                    raise self.fail(key, f"value {value:g} lies outside its range "
                                    f"[{low:g}, {high:g}]", spec, "value")
                if low < high:
                    self.assumptions.append(Assumption(key, path, value, low, high, source,
                                                       str(spec["reason"]), spec.line))
        return Sourced(value, source)

    def _float(self, raw: Any, key: str, node: Any, item: Any, lo: float, hi: float) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise self.fail(key, f"must be a number, got {raw!r}", node, item)
        if not lo <= raw <= hi:
            if raw < 0 <= lo:
                raise self.fail(key, f"must not be negative, got {raw:g}", node, item)
            raise self.fail(key, f"must be between {lo:g} and {hi:g}, got {raw:g}", node, item)
        return float(raw)

    def code(self, raw: Any, key: str, node: Any, item: Any) -> str:
        """A nation as an ISO 3166-1 alpha-3 code."""
        from truceguard.marking import vocabulary

        voc = vocabulary()
        code = str(raw)
        if code in voc.countries:
            return code
        if code.upper() in voc.alpha2:
            hint = f"use ISO 3166-1 alpha-3 codes: {code} is {voc.alpha2[code.upper()]}"
        else:
            hint = suggest(code, voc.countries)
        raise self.fail(key, f"{code!r} is not an ISO 3166-1 alpha-3 country code", node, item,
                        hint=hint)


@lru_cache(maxsize=4096)
def _country_at(lat: float, lon: float) -> str:
    """The country (alpha-3) at a point, "" outside every shipped polygon; kept per point, as
    a sensitivity run parses the same hubs and orbits again for every number it changes."""
    import shapely

    from truceguard.geo.shipped import countries

    for code, geom in countries().items():
        if shapely.contains_xy(geom, lon, lat):
            return code
    return ""


def _location(rd: Reader, raw: Any, key: str, parent: Any, item: Any,
              hubs: dict[str, Location]) -> Location:
    from truceguard.geo.shipped import air_bases
    from truceguard.marking import vocabulary

    if not isinstance(raw, ConfigMap) or len(raw) != 1:
        raise rd.fail(key, "basing must be one of {base: ICAO}, {point: [lat, lon]}, "
                      "{hub: NAME}", parent, item)
    kind, ref = next(iter(raw.items()))
    if kind == "base":
        bases = air_bases()
        if str(ref) not in bases:
            raise rd.fail(key + ".base", f"unknown air base {ref!r} (not in the shipped list of "
                          f"{len(bases)} eastern-flank bases)", raw, "base",
                          hint=suggest(str(ref), bases))
        b = bases[str(ref)]
        return Location("base", b.ident, b.lat, b.lon, vocabulary().alpha2.get(b.country, ""))
    if kind == "point":
        if (not isinstance(ref, list) or len(ref) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in ref)):
            raise rd.fail(key + ".point", "must be [lat, lon] in degrees", raw, "point")
        lat, lon = float(ref[0]), float(ref[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise rd.fail(key + ".point", f"[{lat}, {lon}] is not a WGS84 position", raw, "point")
        return Location("point", f"{lat:.2f}N {lon:.2f}E", lat, lon, _country_at(lat, lon))
    if kind == "hub":
        if str(ref) not in hubs:
            raise rd.fail(key + ".hub", f"unknown hub {ref!r}", raw, "hub",
                          hint=suggest(str(ref), hubs))
        return hubs[str(ref)]
    raise rd.fail(key, f"unknown basing kind {kind!r} (base, point or hub)", raw, kind)


def _pledge(rd: Reader, raw: Any, key: str, path: tuple[Any, ...], parent: Any, item: Any,
            ctx: dict[str, Any]) -> Pledge:
    from truceguard.marking import vocabulary

    if not isinstance(raw, ConfigMap):
        raise rd.fail(key, "a pledge must be a mapping", parent, item)
    pid = rd.text(raw, "id", key + ".id")
    key = f"{key}[{pid}]"
    nation = rd.code(rd.text(raw, "nation", key + ".nation"), key + ".nation", raw, "nation")
    if nation not in ctx["nations"]:
        raise rd.fail(key + ".nation", f"{nation} is not listed under nations", raw, "nation")
    caps = ctx["capabilities"]
    cap = rd.text(raw, "capability", key + ".capability")
    if cap not in caps:
        raise rd.fail(key + ".capability", f"unknown capability {cap!r}", raw, "capability",
                      hint=suggest(cap, caps))
    qty = rd.number(raw, "quantity", key + ".quantity", (*path, "quantity")).value
    readiness = rd.number(raw, "readiness", key + ".readiness", (*path, "readiness"), 0.0, 1.0,
                          default=1.0).value
    if "source" not in raw:
        raise rd.fail(key + ".source", "every pledge names its source (or 'assumption')", raw)
    cond = rd.mapping(raw, "conditions", key + ".conditions", required=False)
    requires = tuple(str(c) for c in rd.sequence(cond, "requires", key + ".conditions.requires"))
    for i, c in enumerate(requires):
        if c not in ctx["conditions"]:
            raise rd.fail(key + ".conditions.requires", f"condition {c!r} is not defined "
                          "under conditions", cond["requires"], i)
    outside = bool(cond.get("outside_host_only", False))
    braw = raw.get("basing")
    if braw is None:
        raise rd.fail(key + ".basing", "is required", raw)
    blist = braw if isinstance(braw, ConfigList) else [braw]
    basing = tuple(_location(rd, b, key + ".basing", raw, "basing", ctx["hubs"]) for b in blist)
    if not basing:
        raise rd.fail(key + ".basing", "needs at least one location", raw, "basing")
    members = vocabulary().groups.get(ctx["alliance"], frozenset())
    for loc in basing:
        if loc.country and loc.country != ctx["host"] and not (
                loc.country in members and nation in members):
            where = vocabulary().countries.get(loc.country, loc.country)
            raise rd.fail(key + ".basing", f"{nation} may not base an asset at {loc.ref} in "
                          f"{where} ({loc.country}): neither the host ({ctx['host']}) nor "
                          f"territory of the {ctx['alliance']} alliance that bases it", raw,
                          "basing", hint=f"base it in {ctx['host']} or on the territory of a "
                          f"{ctx['alliance']} member")
        if outside and loc.country == ctx["host"]:
            raise rd.fail(key + ".basing", f"{pid} is outside the host only, but {loc.ref} is in "
                          f"{ctx['host']}", raw, "basing")
    params = {}
    for p, (lo, hi) in PARAM_RANGES.items():
        if p in raw:
            params[p] = rd.number(raw, p, f"{key}.{p}", (*path, p), lo, hi).value
    extra = set(raw) - set(PARAM_RANGES) - {"id", "nation", "capability", "quantity",
                                            "readiness", "source", "basing", "conditions",
                                            "note"}
    if extra:
        bad = sorted(map(str, extra))[0]
        raise rd.fail(f"{key}.{bad}", "unknown pledge field", raw, bad)
    if caps[cap].role == "sensor" and caps[cap].pattern == "orbit":
        basing = _check_standoff(rd, key, raw, basing, {**caps[cap].params, **params}, ctx)
    return Pledge(pid, nation, cap, qty, basing, readiness, requires, outside,
                  str(raw["source"]), params, raw.line)


def _check_standoff(rd: Reader, key: str, raw: ConfigMap, basing: tuple[Location, ...],
                    params: dict[str, float], ctx: dict[str, Any]) -> tuple[Location, ...]:
    """Refuse an orbit inside its stand-off; or, when ``ctx['relocate']`` (a sensitivity run
    that widened the stand-off), move it to the nearest place that keeps it."""
    from truceguard.plan.hostile import hostile_distance_km, nearest_clear

    standoff = params.get("standoff_km", 0.0)
    out = []
    for loc in basing:
        d = float(hostile_distance_km(ctx["hostile"], [loc.lat], [loc.lon])[0])
        if d >= standoff:
            out.append(loc)
        elif ctx.get("relocate"):
            lat, lon = nearest_clear(ctx["hostile"], loc.lat, loc.lon, standoff)
            out.append(Location("point", f"{lat:.2f}N {lon:.2f}E (moved)", lat, lon,
                                _country_at(lat, lon)))
        else:
            raise rd.fail(key + ".basing", f"orbit at {loc.ref} is {d:.0f} km from hostile "
                          f"territory, inside its {standoff:.0f} km stand-off", raw, "basing",
                          hint="move the orbit, or let `truceguard plan --place-orbits` place it")
    return tuple(out)


def _threat(rd: Reader, node: ConfigMap, key: str, path: tuple[Any, ...]) -> Threat:
    src = rd.text(node, "source", key + ".source", "uniform")
    if src not in THREAT_SOURCES or src == "events":
        raise rd.fail(key + ".source", f"unknown threat source {src!r}; one of history, "
                      "uniform, deep_strike (the store's violations come with "
                      "--threat-from-store)", node, "source")
    types_node = rd.mapping(node, "types", key + ".types")
    types = []
    for name, t in types_node.items():
        tk, tp = f"{key}.types.{name}", (*path, "types", name)
        if not isinstance(t, ConfigMap):
            raise rd.fail(tk, "must be a mapping", types_node, name)
        cls = rd.text(t, "class", tk + ".class")
        if cls not in TARGET_CLASSES:
            raise rd.fail(tk + ".class", "must be 'ground' or 'air'", t, "class")
        persists = rd.number(t, "persists_min", tk + ".persists_min", (*tp, "persists_min"),
                             default=0.0 if cls == "air" else None).value
        speed = rd.number(t, "speed_kmh", tk + ".speed_kmh", (*tp, "speed_kmh"), 1.0, 50_000.0,
                          default=1.0 if cls == "ground" else None).value
        types.append(ThreatType(str(name), rd.number(t, "weight", tk + ".weight",
                                                     (*tp, "weight")).value,
                                cls, rd.number(t, "height_m", tk + ".height_m",
                                               (*tp, "height_m")).value, persists, speed))
    if not types or sum(t.weight for t in types) <= 0:
        raise rd.fail(key + ".types", "needs at least one type with a positive weight", node,
                      "types")
    return Threat(
        src,
        rd.number(node, "violations_per_day", key + ".violations_per_day",
                  (*path, "violations_per_day"), 0.0, 1e6).value,
        rd.number(node, "history_radius_km", key + ".history_radius_km",
                  (*path, "history_radius_km"), default=25.0).value,
        rd.number(node, "history_floor", key + ".history_floor", (*path, "history_floor"),
                  0.0, 1.0, default=0.05).value,
        tuple(types), str(node.get("note", "")),
    )


def _capabilities(rd: Reader, node: ConfigMap) -> dict[str, Capability]:
    out = {}
    for name, c in node.items():
        ck, cp = f"capabilities.{name}", ("capabilities", name)
        if not isinstance(c, ConfigMap):
            raise rd.fail(ck, "must be a mapping", node, name)
        role = rd.text(c, "role", ck + ".role")
        if role not in ROLES:
            raise rd.fail(ck + ".role", f"unknown role {role!r}", c, "role",
                          hint=suggest(role, ROLES))
        if "source" not in c:
            raise rd.fail(ck + ".source", "every capability names its sources", c)
        pattern = ""
        needed = list(ROLES[role])
        if role == "sensor":
            pattern = rd.text(c, "pattern", ck + ".pattern")
            if pattern not in PATTERNS:
                raise rd.fail(ck + ".pattern", f"unknown pattern {pattern!r}", c, "pattern",
                              hint=suggest(pattern, PATTERNS))
            needed += PATTERN_PARAMS[pattern]
        sees = tuple(str(v) for v in rd.sequence(c, "sees", ck + ".sees"))
        for i, v in enumerate(sees):
            if v not in TARGET_CLASSES:
                raise rd.fail(f"{ck}.sees[{i}]", f"unknown target class {v!r} (ground, air)",
                              c["sees"], i)
        if role in ("sensor", "air_defence") and not sees:
            raise rd.fail(ck + ".sees", "name the target classes it sees (ground, air)", c)
        params = {p: rd.number(c, p, f"{ck}.{p}", (*cp, p), *PARAM_RANGES[p]).value
                  for p in PARAM_RANGES if p in c}
        for p in needed:
            if p not in params:
                raise rd.fail(f"{ck}.{p}", f"is required for a {pattern or role}", c)
        extra = set(c) - set(PARAM_RANGES) - {"role", "pattern", "sees", "source", "note"}
        if extra:
            bad = sorted(map(str, extra))[0]
            raise rd.fail(f"{ck}.{bad}", "unknown capability field", c, bad)
        out[str(name)] = Capability(str(name), role, pattern, sees, params, str(c["source"]))
    return out


def _requirements(rd: Reader, node: ConfigMap, key: str, path: tuple[Any, ...],
                  partial: bool) -> dict[str, Sourced]:
    out: dict[str, Sourced] = {}
    for k in node:
        if k not in REQUIRED_KEYS:
            raise rd.fail(f"{key}.{k}", "unknown requirement", node, k,
                          hint=suggest(str(k), REQUIRED_KEYS))
    for k in REQUIRED_KEYS:
        if k not in node:
            if partial:
                continue
            raise rd.fail(f"{key}.{k}", "is required", node)
        out[k] = rd.number(node, k, f"{key}.{k}", (*path, k))
    return out


def _ukraine(rd: Reader, node: ConfigMap) -> UkraineLayer:
    for k in node:
        if k in RETIRED_UKRAINE_KEYS:
            raise rd.fail(f"ukraine.{k}", f"is no longer read: {RETIRED_UKRAINE_KEYS[k]}",
                          node, k, hint=f"remove ukraine.{k} from the scenario")
    vals = {k: rd.number(node, k, f"ukraine.{k}", ("ukraine", k), lo, hi).value
            for k, (lo, hi) in UKRAINE_KEYS.items()}
    extra = set(node) - set(UKRAINE_KEYS) - {"source", "note"}
    if extra:
        bad = sorted(map(str, extra))[0]
        raise rd.fail(f"ukraine.{bad}", "unknown field", node, bad,
                      hint=suggest(bad, UKRAINE_KEYS))
    return UkraineLayer(**vals)


def _raids(rd: Reader, node: ConfigMap) -> Raids:
    """``raids: {sizes: [[drones, decoys, cruise, ballistic], ...], duration_h, replications,
    campaign: {raids, days_between}}``; sizes run from small to large."""
    for k in node:
        if k not in RAID_KEYS:
            raise rd.fail(f"raids.{k}", "unknown field", node, k, hint=suggest(str(k), RAID_KEYS))
    seq = rd.sequence(node, "sizes", "raids.sizes")
    sizes = [_composition(rd, s, f"raids.sizes[{i}]", seq, i) for i, s in enumerate(seq)]
    if not sizes:
        raise rd.fail("raids.sizes", "needs at least one raid", node)
    totals = [sum(s) for s in sizes]
    if totals != sorted(totals):
        raise rd.fail("raids.sizes", "list the raids from the smallest to the largest (the "
                      "last is the headline's largest raid)", node, "sizes")
    reps = rd.number(node, "replications", "raids.replications", ("raids", "replications"),
                     1, 100_000, default=100).value
    camp = rd.mapping(node, "campaign", "raids.campaign", required=False)
    for k in camp:
        if k not in ("raid", "raids", "days_between", "note"):
            raise rd.fail(f"raids.campaign.{k}", "unknown field (raid, raids, days_between)",
                          camp, k)
    one = (_composition(rd, camp["raid"], "raids.campaign.raid", camp, "raid")
           if "raid" in camp else None)
    n_camp = rd.number(camp, "raids", "raids.campaign.raids", ("raids", "campaign", "raids"),
                       1, 100, default=10).value
    if n_camp != int(n_camp):
        raise rd.fail("raids.campaign.raids", f"must be a whole number, got {n_camp:g}", camp,
                      "raids")
    days = rd.number(camp, "days_between", "raids.campaign.days_between",
                     ("raids", "campaign", "days_between"), 0.0, 365.0, default=1.0).value
    return Raids(tuple(sizes), rd.number(node, "duration_h", "raids.duration_h",
                                         ("raids", "duration_h"), 0.1, 48.0).value,
                 int(reps), str(node.get("source", "")), int(n_camp), float(days), one)


def _composition(rd: Reader, s: Any, key: str, parent: Any, item: Any
                 ) -> tuple[int, int, int, int]:
    if (not isinstance(s, list) or len(s) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10_000
                       for v in s) or sum(s) == 0):
        raise rd.fail(key, "a raid is [drones, decoys, cruise, ballistic], whole numbers from "
                      f"0 to 10,000, not all 0; got {s!r}", parent, item,
                      hint="e.g. [483, 322, 9, 4] for the raid of 7 Sep 2025")
    return (int(s[0]), int(s[1]), int(s[2]), int(s[3]))


def _model_block_assumptions(rd: Reader, doc: ConfigMap, scen: Scenario) -> None:
    """Validate the ``breach`` and ``air_defence`` blocks and add their ranged numbers to the
    scenario's assumptions (what the sensitivity analyses vary), with the paths
    :meth:`Scenario.with_value` changes."""
    from truceguard.plan.airdefence import parse_air_defence
    from truceguard.plan.breach import breach_spec

    if "breach" in doc:
        rd.assumptions.extend(breach_spec(scen).assumptions)
    if "air_defence" in doc:
        parse_air_defence(doc, rd.path)
        node = rd.mapping(doc, "air_defence", "air_defence")
        for block, hi in (("resupply_per_day", 10_000.0), ("targeting", 1.0)):
            sub = rd.mapping(node, block, f"air_defence.{block}", required=False)
            for k in sub:
                rd.number(sub, k, f"air_defence.{block}.{k}", ("air_defence", block, k), 0.0, hi)


def parse_document(doc: Any, path: str, *, relocate_orbits: bool = False) -> Scenario:
    """Validate a loaded scenario document; ConfigError naming key and line on the first fault.

    ``relocate_orbits``: move an orbit that lies inside its stand-off to the nearest place
    outside it, instead of refusing the file (what a sensitivity run needs)."""
    from truceguard.marking import vocabulary

    rd = Reader(path)
    if not isinstance(doc, ConfigMap):
        raise ConfigError(path, "(document)", "a scenario is a YAML mapping", 1)
    known = {"name", "title", "effective", "summary", "line", "host", "alliance", "hostile",
             "conditions", "hubs", "nations", "ukraine", "capabilities", "pledges",
             "requirements", "force_generation", "threat", "raids", "variants",
             "baseline_variant",
             "breach", "isr",  # parsed by plan/breach.py and plan/isr.py
             "air_defence"}  # parsed by plan/airdefence.py
    for k in doc:
        if k not in known:
            raise rd.fail(str(k), "unknown top-level key", doc, k, hint=suggest(str(k), known))
    name = rd.text(doc, "name", "name")
    line_node = rd.mapping(doc, "line", "line")
    shipped_line = rd.text(line_node, "shipped", "line.shipped")
    if shipped_line not in SHIPPED_LINES:
        raise rd.fail("line.shipped", f"one of {', '.join(SHIPPED_LINES)}", line_node, "shipped")
    line_spec = {"shipped": shipped_line, "date": str(line_node.get("date", "2026-08-22"))}
    host = rd.code(rd.text(doc, "host", "host", "UKR"), "host", doc, "host")
    alliance = rd.text(doc, "alliance", "alliance", "NATO")
    if alliance not in vocabulary().groups:
        raise rd.fail("alliance", f"unknown alliance {alliance!r}", doc, "alliance",
                      hint=suggest(alliance, vocabulary().groups))
    hnode = rd.mapping(doc, "hostile", "hostile")
    hseq = rd.sequence(hnode, "countries", "hostile.countries")
    hostile = (tuple(rd.code(c, f"hostile.countries[{i}]", hseq, i) for i, c in enumerate(hseq)),
               bool(hnode.get("occupied", True)), str(hnode.get("source", "")))
    conditions = {}
    cnode = rd.mapping(doc, "conditions", "conditions", required=False)
    for cname, c in cnode.items():
        if not isinstance(c, ConfigMap) or not isinstance(c.get("holds"), bool):
            raise rd.fail(f"conditions.{cname}", "needs holds: true|false", cnode, cname)
        conditions[str(cname)] = Condition(c["holds"], str(c.get("description", "")),
                                           str(c.get("source", "assumption")))
    hubs = {}
    snode = rd.mapping(doc, "hubs", "hubs", required=False)
    for sname, s in snode.items():
        sk = f"hubs.{sname}"
        if not isinstance(s, ConfigMap):
            raise rd.fail(sk, "must be {lat, lon, source}", snode, sname)
        lat = rd.number(s, "lat", sk + ".lat", ("hubs", sname, "lat"), -90, 90).value
        lon = rd.number(s, "lon", sk + ".lon", ("hubs", sname, "lon"), -180, 180).value
        hubs[str(sname)] = Location("hub", str(sname), lat, lon, _country_at(lat, lon))
    nations: dict[str, str] = {}
    nnode = rd.mapping(doc, "nations", "nations")
    for code, label in nnode.items():
        nations[rd.code(code, f"nations.{code}", nnode, code)] = str(label)
    ukraine = _ukraine(rd, rd.mapping(doc, "ukraine", "ukraine"))
    threat = _threat(rd, rd.mapping(doc, "threat", "threat"), "threat", ("threat",))
    caps = _capabilities(rd, rd.mapping(doc, "capabilities", "capabilities"))
    ctx = {"nations": nations, "capabilities": caps, "conditions": conditions, "hubs": hubs,
           "host": host, "alliance": alliance, "hostile": hostile,
           "relocate": relocate_orbits}
    pnode = rd.sequence(doc, "pledges", "pledges")
    pledges = tuple(_pledge(rd, p, "pledges", ("pledges", i), pnode, i, ctx)
                    for i, p in enumerate(pnode))
    ids = [p.id for p in pledges]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise rd.fail(f"pledges[{dup[0]}]", "duplicate pledge id", pnode, ids.index(dup[0]))
    requirements = _requirements(rd, rd.mapping(doc, "requirements", "requirements"),
                                 "requirements", ("requirements",), partial=False)
    fnode = rd.mapping(doc, "force_generation", "force_generation")
    force = {k: rd.number(fnode, k, f"force_generation.{k}", ("force_generation", k))
             for k in FORCE_KEYS}
    if force["tour_months"].value <= 0:
        raise rd.fail("force_generation.tour_months", "must be positive", fnode, "tour_months")
    raids = _raids(rd, rd.mapping(doc, "raids", "raids"))
    scen = Scenario(name, str(doc.get("title", name)), str(doc.get("effective", "")),
                    " ".join(str(doc.get("summary", "")).split()), path, line_spec, host,
                    alliance, hostile, conditions, hubs, nations, ukraine, caps, pledges,
                    requirements, force, threat, raids, {}, "")
    _model_block_assumptions(rd, doc, replace(scen, doc=doc))
    variants = {}
    vnode = rd.mapping(doc, "variants", "variants", required=False)
    for vname, v in vnode.items():
        variants[str(vname)] = _variant(rd, str(vname), v, vnode, scen, ctx)
    baseline = rd.text(doc, "baseline_variant", "baseline_variant",
                       next(iter(variants), "base"))
    if baseline not in variants and baseline != "base":
        raise rd.fail("baseline_variant", f"no variant {baseline!r}", doc, "baseline_variant",
                      hint=suggest(baseline, variants))
    return Scenario(**{**scen.__dict__, "variants": variants, "baseline": baseline,
                       "assumptions": tuple(rd.assumptions), "doc": doc})


def _variant(rd: Reader, name: str, v: Any, parent: ConfigMap, scen: Scenario,
             ctx: dict[str, Any]) -> Variant:
    vk, vp = f"variants.{name}", ("variants", name)
    if not isinstance(v, ConfigMap):
        raise rd.fail(vk, "must be a mapping", parent, name)
    allowed = {"description", "conditions", "remove_nations", "remove_pledges", "set_pledges",
               "add_pledges", "requirements", "threat"}
    for k in v:
        if k not in allowed:
            raise rd.fail(f"{vk}.{k}", "unknown variant key", v, k, hint=suggest(str(k), allowed))
    conds = {}
    cnode = rd.mapping(v, "conditions", vk + ".conditions", required=False)
    for c, val in cnode.items():
        if c not in scen.conditions:
            raise rd.fail(f"{vk}.conditions.{c}", "condition is not defined under conditions",
                          cnode, c, hint=suggest(str(c), scen.conditions))
        if not isinstance(val, bool):
            raise rd.fail(f"{vk}.conditions.{c}", "must be true or false", cnode, c)
        conds[str(c)] = val
    rn = rd.sequence(v, "remove_nations", vk + ".remove_nations")
    removed = tuple(rd.code(c, f"{vk}.remove_nations[{i}]", rn, i) for i, c in enumerate(rn))
    ids = {p.id for p in scen.pledges}
    rp = rd.sequence(v, "remove_pledges", vk + ".remove_pledges")
    for i, pid in enumerate(rp):
        if str(pid) not in ids:
            raise rd.fail(f"{vk}.remove_pledges[{i}]", f"no pledge with id {pid!r}", rp, i,
                          hint=suggest(str(pid), ids))
    sp = rd.mapping(v, "set_pledges", vk + ".set_pledges", required=False)
    sets: dict[str, dict[str, float]] = {}
    for pid, fields in sp.items():
        pk = f"{vk}.set_pledges.{pid}"
        if str(pid) not in ids:
            raise rd.fail(pk, f"no pledge with id {pid!r}", sp, pid, hint=suggest(str(pid), ids))
        if not isinstance(fields, ConfigMap):
            raise rd.fail(pk, "must be a mapping of fields", sp, pid)
        sets[str(pid)] = {}
        for f in fields:
            if f not in ("quantity", "readiness", *PARAM_RANGES):
                raise rd.fail(f"{pk}.{f}", "only quantity, readiness or a parameter", fields, f)
            lo, hi = PARAM_RANGES.get(str(f), (0.0, 1.0 if f == "readiness" else INF))
            sets[str(pid)][str(f)] = rd.number(fields, f, f"{pk}.{f}",
                                               (*vp, "set_pledges", pid, f), lo, hi).value
    ap = rd.sequence(v, "add_pledges", vk + ".add_pledges")
    added = tuple(_pledge(rd, p, vk + ".add_pledges", (*vp, "add_pledges", i), ap, i, ctx)
                  for i, p in enumerate(ap))
    for i, p in enumerate(added):
        if p.id in ids:
            raise rd.fail(f"{vk}.add_pledges[{p.id}]", "pledge id already used", ap, i)
    reqs = _requirements(rd, rd.mapping(v, "requirements", vk + ".requirements", required=False),
                         vk + ".requirements", (*vp, "requirements"), partial=True)
    threat = (_threat(rd, v["threat"], vk + ".threat", (*vp, "threat"))
              if isinstance(v.get("threat"), ConfigMap) else None)
    return Variant(name, str(v.get("description", "")), conds, removed,
                   tuple(str(p) for p in rp), sets, added, reqs, threat)
