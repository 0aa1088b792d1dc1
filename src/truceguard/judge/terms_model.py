"""The terms of a ceasefire as typed records: sources, sides, zones, prohibitions, caps and
the clauses they make, each with the provision it quotes (see :mod:`truceguard.judge.terms`
for the file they are read from).

Sides: side 0 lies outside the side polygon, side 1 inside it (for the shipped terms: 0 is the
government-controlled side). Times are UTC epoch seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from truceguard.errors import InputError, suggest
from truceguard.geo.project import LocalProjection, projection_for
from truceguard.model import CATEGORIES, WEAPON_CLASSES

# What each prohibited activity means in terms of observation categories and weapon classes.
LIVE_FIRE_CATEGORIES: tuple[str, ...] = (
    "explosion", "projectile", "muzzle_flash", "illumination_flare", "shots", "armed_clash",
    "shelling", "air_strike", "missile",
)  # fmt: skip
FLIGHT_CATEGORIES: tuple[str, ...] = ("flight", "air_strike", "drone")
# Record kinds that breach no clause unless the clause names them in ``categories``: a
# source's lower-clarity or aggregated event, a death from a mine or an explosive remnant.
OPT_IN_CATEGORIES: tuple[str, ...] = ("low_clarity", "explosive_remnant")
AIR_WEAPON_CLASSES: tuple[str, ...] = ("aircraft", "helicopter", "uav")
ACTIVITIES: tuple[str, ...] = (
    "live_fire", "flight", "mines", "offensive_movement", "military_presence",
)  # fmt: skip
# The kinds of clause judged incident by incident: weapons withdrawal plus the activities.
CLAUSE_KINDS: tuple[str, ...] = ("withdrawal", *ACTIVITIES)
MECHANISMS: tuple[str, ...] = ("ceasefire", "withdrawal_zone", "prohibited_activity", "cap")
CERTAINTY_LEVELS: tuple[str, ...] = ("stated", "reported", "assumed")
ZONE_SHAPES: tuple[str, ...] = ("band", "polygon", "settlements")
ANYWHERE = "anywhere"

@dataclass(frozen=True)
class Source:
    """A document the terms quote: an agreement, an addendum, a report of a proposal."""

    id: str
    title: str
    text: str
    url: str = ""
    date: str = ""


@dataclass(frozen=True)
class Side:
    """One party's side: an identifier for data and the label monitors write."""

    id: str
    label: str


@dataclass(frozen=True)
class Certainty:
    """How certain a geometry is: ``stated`` by the text, ``reported`` second-hand, or
    ``assumed`` here; the note says why."""

    level: str
    note: str


@dataclass(frozen=True)
class Provision:
    """The text a clause encodes: a verbatim quote, or a paraphrase when none was found."""

    source: str
    article: str
    quote: str
    paraphrase: str

    @property
    def verbatim(self) -> bool:
        return bool(self.quote)

    @property
    def text(self) -> str:
        return self.quote or self.paraphrase


def binds_from(effective: int, phase_in_days: float) -> int:
    """When a clause starts to bind: its effective time plus its phase-in (epoch seconds)."""
    return effective + int(round(phase_in_days * 86400))


@dataclass(frozen=True)
class Meta:
    """What every clause carries: its provision, parties, mechanism, period and severity."""

    provision: Provision
    parties: tuple[str, ...]
    mechanism: str
    effective: int
    phase_in_days: float
    end: int | None
    severity: int | None
    note: str
    line: int

    @property
    def binds_from(self) -> int:
        return binds_from(self.effective, self.phase_in_days)


class _Sourced:
    """What a clause's metadata tells of every zone, prohibition, cap and clause."""

    meta: Meta

    @property
    def source(self) -> str:
        return self.meta.provision.source

    @property
    def binds_from(self) -> int:
        return self.meta.binds_from

    @property
    def end(self) -> int | None:
        return self.meta.end


class _HasMeta(_Sourced):
    @property
    def severity(self) -> int | None:
        return self.meta.severity


@dataclass(frozen=True, eq=False)
class Zone(_HasMeta):
    """Where a clause applies. ``band``: ``distance_m[side]`` deep on each side, measured from
    that side's own line; ``polygon``: inside ``polygon`` (lon/lat); ``settlements``: within
    ``radius_m`` of one of ``points`` (lon/lat, the shipped settlements in the area).
    ``weapons`` are the classes withdrawn from it (none: the zone only scopes prohibitions)."""

    id: str
    shape: str
    distance_m: tuple[float, float]
    weapons: tuple[str, ...]
    certainty: Certainty
    meta: Meta
    polygon: Any = None
    points: NDArray[np.float64] | None = None  # (n, 2) lon, lat
    radius_m: float = 0.0


@dataclass(frozen=True)
class Prohibition(_HasMeta):
    """An activity (one of ACTIVITIES) prohibited in a zone (or anywhere in the area) from a
    date; ``weapons`` narrows it to some weapon classes (empty: all); ``categories`` adds the
    record kinds of OPT_IN_CATEGORIES it also counts."""

    id: str
    activity: str
    zone: str
    weapons: tuple[str, ...]
    except_monitors: bool
    meta: Meta
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cap(_HasMeta):
    """At most ``max_count`` of a weapon class in a zone on one side."""

    id: str
    zone: str
    side: int
    weapon: str
    max_count: int
    meta: Meta


@dataclass(frozen=True)
class Clause(_Sourced):
    """One clause: ``id`` is ``<terms>/<kind>/<ref>``, ``code`` the short ``<kind>/<ref>``."""

    id: str
    kind: str  # one of CLAUSE_KINDS, or "cap"
    ref: str  # the zone, prohibition or cap id
    zone: str  # the zone it applies in (ANYWHERE: the terms' area)
    severity: int
    meta: Meta
    certainty: Certainty

    @property
    def code(self) -> str:
        return f"{self.kind}/{self.ref}"


@dataclass(frozen=True, eq=False)
class Terms:
    """A ceasefire agreement as data. Geometry is in lon/lat; ``projection`` measures it."""

    name: str
    title: str
    version: str
    path: str
    effective: int
    end: int | None
    sources: tuple[Source, ...]
    line: Any  # shapely (Multi)LineString, lon/lat
    line_certainty: Certainty
    side_polygon: Any  # shapely (Multi)Polygon, lon/lat: inside = side 1
    sides: tuple[Side, Side]
    side_lines: tuple[Any, Any]  # each side's own line, or None: measure from ``line``
    area: Any  # shapely (Multi)Polygon where the terms apply, or None: everywhere
    area_certainty: Certainty
    zones: tuple[Zone, ...]
    prohibited: tuple[Prohibition, ...]
    caps: tuple[Cap, ...]
    severity: dict[str, int]
    severity_labels: dict[int, str]
    projection_centre: tuple[float, float] | None = None
    territory: Any = None  # (Multi)Polygon the sides and zones hold in (None: everywhere)
    notes: str = ""
    effective_text: str = ""  # the effective date-time as the file gives it (local offset)

    @property
    def zone_ids(self) -> tuple[str, ...]:
        return tuple(z.id for z in self.zones)

    def _sev(self, kind: str, own: int | None) -> int:
        return own if own is not None else self.severity[kind]

    @cached_property
    def clauses(self) -> tuple[Clause, ...]:
        """The clauses judged incident by incident: withdrawal zones first, then the
        prohibitions, in file order."""
        zc = {z.id: z.certainty for z in self.zones}
        out = [
            Clause(f"{self.name}/withdrawal/{z.id}", "withdrawal", z.id, z.id,
                   self._sev("withdrawal", z.severity), z.meta, z.certainty)
            for z in self.zones
            if z.weapons
        ]  # fmt: skip
        out += [
            Clause(f"{self.name}/{p.activity}/{p.id}", p.activity, p.id, p.zone,
                   self._sev(p.activity, p.severity), p.meta, zc.get(p.zone, self.area_certainty))
            for p in self.prohibited
        ]  # fmt: skip
        return tuple(out)

    @cached_property
    def cap_clauses(self) -> tuple[Clause, ...]:
        zc = {z.id: z.certainty for z in self.zones}
        return tuple(
            Clause(f"{self.name}/cap/{c.id}", "cap", c.id, c.zone, self._sev("cap", c.severity),
                   c.meta, zc[c.zone])
            for c in self.caps
        )  # fmt: skip

    @property
    def all_clauses(self) -> tuple[Clause, ...]:
        """Every clause, caps included (for listing; adjudication judges ``clauses``)."""
        return self.clauses + self.cap_clauses

    @property
    def clause_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.clauses)

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    def prohibition(self, pid: str) -> Prohibition:
        for p in self.prohibited:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def source(self, sid: str) -> Source:
        return next(s for s in self.sources if s.id == sid)

    @cached_property
    def projection(self) -> LocalProjection:
        """The local metric projection the terms are judged in (centred on the line)."""
        if self.projection_centre is not None:
            return LocalProjection(*self.projection_centre)
        x0, y0, x1, y1 = shapely.bounds(self.line)
        return projection_for([x0, x1], [y0, y1])

    def clause_dict(self, c: Clause) -> dict[str, Any]:
        """One clause as plain data: its quoted text, parties, mechanism, period, geometry."""
        m = c.meta
        src = self.source(m.provision.source)
        return {
            "id": c.id, "code": c.code, "kind": c.kind, "zone": c.zone,
            "mechanism": m.mechanism, "parties": list(m.parties),
            "severity": c.severity, "severity_label": self.severity_labels.get(c.severity, ""),
            "text": m.provision.text, "verbatim": m.provision.verbatim,
            "source": src.id, "source_title": src.title, "source_url": src.url,
            "source_date": src.date, "article": m.provision.article,
            "effective": m.effective, "phase_in_days": m.phase_in_days,
            "binds_from": c.binds_from, "end": m.end, "note": m.note,
            "geometry_certainty": c.certainty.level, "geometry_note": c.certainty.note,
        }  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """A plain summary (no geometry) for reports, the store and the CLI."""
        return {
            "name": self.name, "title": self.title, "version": self.version,
            "path": self.path, "effective": self.effective, "end": self.end,
            "sides": [{"id": s.id, "label": s.label} for s in self.sides],
            "line_certainty": {"level": self.line_certainty.level,
                               "note": self.line_certainty.note},
            "area": None if self.area is None else {"level": self.area_certainty.level,
                                                     "note": self.area_certainty.note},
            "zones": [
                {"id": z.id, "shape": z.shape, "distance_m": list(z.distance_m),
                 "radius_m": z.radius_m, "weapons": list(z.weapons),
                 "binds_from": z.binds_from, "source": z.source,
                 "geometry_certainty": z.certainty.level}
                for z in self.zones
            ],
            "clauses": [self.clause_dict(c) for c in self.all_clauses],
            "sources": [{"id": s.id, "title": s.title, "text": s.text, "url": s.url,
                         "date": s.date} for s in self.sources],
            "notes": self.notes,
        }  # fmt: skip


# ------------------------------------------------------------------------------- clauses


def resolve_clause(value: str, terms: Terms | Iterable[Terms]) -> str:
    """The full id of a clause given as its full id (``minsk-2015/live_fire/ceasefire``) or
    its short code (``live_fire/ceasefire``, as reports print it). An unknown value, or a
    short code that more than one of ``terms`` holds, is an InputError listing valid ids."""
    pool = [terms] if isinstance(terms, Terms) else list(terms)
    full = {c.id for t in pool for c in t.all_clauses}
    if value in full:
        return value
    matches = sorted(c.id for t in pool for c in t.all_clauses if c.code == value)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputError(f"clause {value!r} is in more than one terms file",
                         hint=f"give the full id: {', '.join(matches)}",
                         code="input.ambiguous_clause")  # fmt: skip
    codes = {c.code for t in pool for c in t.all_clauses}
    raise InputError(f"clause {value!r} matches nothing", hint=suggest(value, full | codes),
                     code="input.unknown_clause")  # fmt: skip


def category_mask(names: tuple[str, ...]) -> NDArray[np.bool_]:
    """A boolean table over CATEGORIES, true for ``names`` (for lookups by code)."""
    return np.isin(np.array(CATEGORIES, dtype=object), np.array(names, dtype=object))


def weapon_mask(names: tuple[str, ...]) -> NDArray[np.bool_]:
    """A boolean table over WEAPON_CLASSES, true for ``names``."""
    return np.isin(np.array(WEAPON_CLASSES, dtype=object), np.array(names, dtype=object))

