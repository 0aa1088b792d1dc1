"""Scenarios: the line to protect, the layers that protect it, the threat, and the variants.

A scenario is a YAML file read through :mod:`truceguard.config` and validated by
:mod:`truceguard.plan.scenario_read` before anything runs; every refusal is a
:class:`~truceguard.errors.ConfigError` naming file, key and line. This module holds the typed
records, finds scenarios by name, applies variants and changes one assumption at a time.

The layers, as public reporting describes them: Ukraine's own armed forces at the line
(``ukraine``); the reassurance force in its hubs (``ground_force`` pledges); air power and air
defence on NATO territory and in Ukraine as pledged (``fighter`` and ``air_defence``); the
monitoring mechanism's sensors (``sensor`` pledges, each with a platform pattern: a fixed
``mast``, an ``orbit`` with time on station and a stand-off from hostile air defence, or a
``satellite`` with a revisit interval and a tasking latency).

Numbers are written plain or as ``{value, source}``; a number whose source is ``assumption``
also carries ``low``, ``high`` and a ``reason``, and every number with a range, the ``breach``
and ``air_defence`` blocks' included, is one of the scenario's :attr:`Scenario.assumptions`,
which the sensitivity analyses vary (one at a time, and all together for the Sobol indices).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from truceguard.errors import ConfigError, NotFoundError, suggest

PATTERNS: tuple[str, ...] = ("mast", "orbit", "satellite")
TARGET_CLASSES: tuple[str, ...] = ("ground", "air")
THREAT_SOURCES: tuple[str, ...] = ("history", "uniform", "deep_strike", "events")
UNITS: dict[str, str] = {
    "ground_force": "troops",
    "fighter": "fighters",
    "air_defence": "batteries",
    "sensor": "units",
    "support": "people",
}


@dataclass(frozen=True)
class Sourced:
    """A number (or list) and where it comes from."""

    value: Any
    source: str


@dataclass(frozen=True)
class Assumption:
    """A number with a plausible range: what the sensitivity analysis varies."""

    key: str  # dotted key as written in the file, e.g. "capabilities.fighters.speed_kmh"
    path: tuple[Any, ...]  # the path into the document
    value: float
    low: float
    high: float
    source: str
    reason: str
    line: int


@dataclass(frozen=True)
class Location:
    """Where a unit sits: an air base, a point or a named hub; ``country`` '' at sea."""

    kind: str  # "base" | "point" | "hub"
    ref: str
    lat: float
    lon: float
    country: str


@dataclass(frozen=True)
class Capability:
    """What a kind of asset does in the model, with its parameters."""

    name: str
    role: str  # sensor | fighter | air_defence | ground_force | support
    pattern: str  # sensors: mast | orbit | satellite; others ""
    sees: tuple[str, ...]  # target classes a sensor (or an air-defence radar) detects
    params: dict[str, float]
    source: str


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
    outside_host_only: bool
    source: str
    params: dict[str, float] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True)
class ThreatType:
    name: str
    weight: float
    target_class: str  # "ground" | "air"
    height_m: float
    persists_min: float  # ground: how long the violation stays observable
    speed_kmh: float  # air: speed along its path to the target


@dataclass(frozen=True)
class Threat:
    """Where and how violations happen. ``events`` (lat, lon, weight) for source 'events'."""

    source: str
    violations_per_day: float
    history_radius_km: float
    history_floor: float
    types: tuple[ThreatType, ...]
    note: str
    events: tuple[tuple[float, float, float], ...] = ()
    label: str = ""  # what the events are (e.g. "store: 412 violations of minsk-2015")


@dataclass(frozen=True)
class UkraineLayer:
    """Ukraine's armed forces: the first layer at the line (troops at the line meet a land
    breach first, :mod:`truceguard.plan.breach`). Ukraine's air defence is not here: it is
    fitted on the 2025 raids (:mod:`truceguard.plan.calibrate`), and its air warning comes
    from :func:`truceguard.plan.isr.air_warning_minutes`."""

    troops: float
    share_at_line: float


RAID_CLASSES: tuple[str, ...] = ("drones", "decoys", "cruise", "ballistic")


@dataclass(frozen=True)
class Raids:
    """Raid compositions (drones, decoys, cruise, ballistic missiles) for the raid curve,
    smallest first, how often to repeat each, and a campaign: ``campaign_raid`` (the largest
    size when not given) ``campaign_raids`` times, ``campaign_days_between`` days apart, the
    magazines carried over with their resupply."""

    sizes: tuple[tuple[int, int, int, int], ...]
    duration_h: float
    replications: int
    source: str
    campaign_raids: int = 10
    campaign_days_between: float = 1.0
    campaign_raid: tuple[int, int, int, int] | None = None

    @property
    def campaign_composition(self) -> tuple[int, int, int, int]:
        return self.campaign_raid or self.sizes[-1]


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
    effective: str
    summary: str
    path: str
    line_spec: dict[str, str]
    host: str
    alliance: str
    hostile: tuple[tuple[str, ...], bool, str]  # (countries, occupied territory?, source)
    conditions: dict[str, Condition]
    hubs: dict[str, Location]
    nations: dict[str, str]
    ukraine: UkraineLayer
    capabilities: dict[str, Capability]
    pledges: tuple[Pledge, ...]
    requirements: dict[str, Sourced]
    force_generation: dict[str, Sourced]
    threat: Threat
    raids: Raids
    variants: dict[str, Variant]
    baseline: str
    assumptions: tuple[Assumption, ...] = ()
    doc: Any = field(default=None, repr=False, compare=False)

    def with_value(self, path: tuple[Any, ...], value: float) -> Scenario:
        """This scenario with the number at ``path`` set to ``value``, parsed again; an orbit
        that the new value puts inside its stand-off moves to the nearest place outside it."""
        return self.with_values({path: value})

    def with_values(self, values: dict[tuple[Any, ...], float]) -> Scenario:
        """This scenario with each number at a path set to its value, parsed once. A number
        set this way is no longer uncertain: its range closes on the value, so a model that
        draws a number over its range (the land breach) holds it at the value too."""
        from truceguard.config import copy_tree
        from truceguard.plan.scenario_read import parse_document

        doc = copy_tree(self.doc)
        for path, value in values.items():
            node = doc
            for p in path[:-1]:
                node = node[p]
            last = path[-1]
            if isinstance(node[last], dict):
                node[last]["value"] = value
                for end in ("low", "high"):
                    if end in node[last]:
                        node[last][end] = value
            else:
                node[last] = value
        return parse_document(doc, self.path, relocate_orbits=True)

    def assumption(self, key: str) -> Assumption:
        for a in self.assumptions:
            if a.key == key:
                return a
        raise NotFoundError(f"scenario {self.name!r} has no assumption {key!r}",
                            hint=suggest(key, [a.key for a in self.assumptions]),
                            code="not_found.assumption")


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


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    from truceguard.geo.shipped import data_path

    return sorted(f.stem for f in data_path("scenarios").glob("*.yaml"))


DEFAULT_SCENARIO = "reassurance-2026"


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``reassurance-2026``) or a scenario file by path."""
    from truceguard.config import load_yaml
    from truceguard.geo.shipped import data_path
    from truceguard.plan.scenario_read import parse_document

    p = Path(name_or_path)
    if not p.suffix and not p.exists():
        shipped = data_path("scenarios", f"{name_or_path}.yaml")
        if not shipped.exists():
            raise NotFoundError(
                f"no scenario {str(name_or_path)!r}: not a file, and not a shipped scenario",
                hint=suggest(str(name_or_path), shipped_scenarios())
                + " (`truceguard scenarios list` shows them)",
                code="not_found.scenario")
        p = shipped
    if not p.exists():
        raise NotFoundError(f"scenario file {str(p)!r} does not exist",
                            hint="give a shipped scenario name or the path of a YAML file",
                            code="not_found.scenario")
    return parse_document(load_yaml(p), str(p))


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Validate a scenario document given as text (ConfigError naming key and line)."""
    from truceguard.config import parse_yaml
    from truceguard.plan.scenario_read import parse_document

    return parse_document(parse_yaml(text, path), path)


def resolve_variant(scen: Scenario, name: str | None = None) -> ResolvedVariant:
    """The scenario with variant ``name`` applied (None or 'base': the scenario as written)."""
    from truceguard.plan.scenario_read import PARAM_RANGES

    if name is None or name == "base":
        v = Variant("base", "the scenario as written", {}, (), (), {}, (), {}, None)
    elif name not in scen.variants:
        raise NotFoundError(f"scenario {scen.name!r} has no variant {name!r}",
                            hint=suggest(name, [*scen.variants, "base"]),
                            code="not_found.variant")
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
                if k in PARAM_RANGES:
                    params[k] = changes.pop(k)
            p = replace(p, params=params, **changes)  # type: ignore[arg-type]
        kept.append(p)
    reqs = dict(scen.requirements)
    reqs.update(v.requirements)
    return ResolvedVariant(scen, v.name, v.description, conditions, tuple(kept), tuple(dropped),
                           reqs, v.threat or scen.threat)


def describe(scen: Scenario) -> dict[str, Any]:
    """What ``truceguard scenarios show`` prints: the scenario in plain data."""
    return {
        "name": scen.name,
        "title": scen.title,
        "effective": scen.effective,
        "summary": scen.summary,
        "path": scen.path,
        "baseline_variant": scen.baseline,
        "variants": {n: v.description for n, v in scen.variants.items()},
        "conditions": {n: {"holds": c.holds, "description": c.description, "source": c.source}
                       for n, c in scen.conditions.items()},
        "pledges": [{"id": p.id, "nation": p.nation, "capability": p.capability,
                     "quantity": p.quantity, "requires": list(p.requires),
                     "basing": [f"{b.kind} {b.ref}" for b in p.basing], "source": p.source}
                    for p in scen.pledges],
        "threat": {"source": scen.threat.source,
                   "types": [t.name for t in scen.threat.types]},
        "assumptions": [{"key": a.key, "value": a.value, "low": a.low, "high": a.high,
                         "reason": a.reason} for a in scen.assumptions],
    }


__all__ = [
    "DEFAULT_SCENARIO",
    "RAID_CLASSES",
    "Assumption",
    "Capability",
    "ConfigError",
    "Location",
    "Pledge",
    "ResolvedVariant",
    "Scenario",
    "Sourced",
    "Threat",
    "ThreatType",
    "UkraineLayer",
    "describe",
    "load_scenario",
    "parse_scenario",
    "resolve_variant",
    "shipped_scenarios",
]
