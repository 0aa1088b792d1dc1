"""The sections of a daily or weekly report beyond the ceasefire violations: weapons in
violation, storage sites, freedom-of-movement restrictions, civilian harm, hazards, the
disengagement areas and the other records (see :mod:`truceguard.report.mission`).

Each section is built from the monitors' own records of the period (the observations the
viewer may see), already placed: a :class:`Line` carries the record, its region, its named
area and its location text.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from truceguard.judge.location import place
from truceguard.judge.terms import Terms
from truceguard.model import MonitorReport, Observation
from truceguard.report.mission_text import (
    HAZARD_WORDS,
    RESTRICTION_WORDS,
    STORAGE_WORDS,
    assessed_weapon,
    local_short,
    named_areas,
    where_texts,
)

STORAGE_LOOKBACK_DAYS = 30  # how far back a storage site's earlier state is looked for
REGISTER_MODULE = "truceguard.judge.register"


@dataclass(frozen=True)
class Line:
    """One record of the period as a report lists it: never a raw coordinate."""

    obs: Observation
    region: str  # 'Donetsk', 'Luhansk' or 'elsewhere'
    area: str  # the nearest settlement with its oblast
    where: str  # the monitors' location text ('4 km south-east of X (government-controlled)')

    @property
    def r(self) -> MonitorReport:
        assert self.obs.report is not None
        return self.obs.report

    @property
    def when(self) -> str:
        return local_short(self.obs.t_start)

    @property
    def kind(self) -> str:
        return self.obs.report.kind if self.obs.report is not None else "other"


def counted(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """(label, total) for each label, the largest first (ties by label)."""
    c: Counter[str] = Counter()
    for k, n in pairs:
        c[k] += n
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))


# -- weapons in violation ------------------------------------------------------------------


@dataclass(frozen=True)
class WeaponRow:
    """Weapons seen where they may not be: one system of the register, or one sighting."""

    when: str
    where: str
    zone: str
    count: int
    assessed: str  # 'assessed as T-72 main battle tank ...'
    seen: str  # how known, or the system and its sightings
    releasability: str


@dataclass
class Weapons:
    """Weapons in violation: rows, and their weapons by type and by place.

    ``source`` says which records these are: ``register`` (the register's systems, judged
    against the terms' withdrawal zones) or ``in_zone`` (sightings whose zone the monitor set).
    ``summary`` is the register's (type, side, zone, systems, weapons)."""

    source: str
    note: str
    rows: list[WeaponRow] = field(default_factory=list)
    by_type: list[tuple[str, int]] = field(default_factory=list)
    by_place: list[tuple[str, int]] = field(default_factory=list)
    summary: list[tuple[str, str, str, int, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.by_type)


def register_module() -> ModuleType | None:
    """The weapons register (``truceguard.judge.register``) when it is installed, else None."""
    try:
        return importlib.import_module(REGISTER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != REGISTER_MODULE:
            raise
        return None


def weapons_section(lines: Sequence[Line], terms: Terms, min_p: float) -> Weapons:
    """From the register when it is installed (its systems among the period's sightings),
    else the sightings with a weapon type whose ``in_zone`` is set."""
    mod = register_module()
    if mod is not None:
        return _from_register(mod, lines, terms, min_p)
    shown = [x for x in lines if x.kind == "sighting" and x.r.weapon_type and x.r.in_zone]
    return Weapons(
        source="in_zone",
        note=(f"The weapons register ({REGISTER_MODULE}) is not installed: listed are the "
              "sightings with a weapon type whose zone (in_zone) the monitor set, as the "
              "monitors recorded them, not judged against the terms."),
        rows=[WeaponRow(x.when, x.where, x.r.in_zone or "", x.obs.count,
                        assessed_weapon(x.r.weapon_type, x.obs.weapon_class),
                        x.obs.how_known.replace("_", " "), x.obs.releasability)
              for x in shown],
        by_type=counted((x.r.weapon_type or "", x.obs.count) for x in shown),
        by_place=counted((x.area, x.obs.count) for x in shown))


def _from_register(mod: ModuleType, lines: Sequence[Line], terms: Terms,
                   min_p: float) -> Weapons:
    entries = mod.build_register(terms, [x.obs for x in lines],
                                 mod.RegisterParams(min_p=min_p))
    lon, lat = [e.lon for e in entries], [e.lat for e in entries]
    where = where_texts(lon, lat, [e.uncertainty_m for e in entries], terms)
    areas = named_areas(lon, lat)
    rows = [WeaponRow(
        local_short(e.last_seen), w, e.zone, e.count,
        assessed_weapon(e.weapon_type, e.weapon_class),
        f"system {e.system_id}: " + ("1 sighting" if e.n_sightings == 1
                                     else f"{e.n_sightings} sightings, linked"),
        e.releasability) for e, w in zip(entries, where, strict=True)]
    sides = {s.id: s.label for s in terms.sides}
    summary = [(r.weapon_type or r.weapon_class, sides.get(r.side, r.side), r.zone, r.systems,
                r.weapons) for r in mod.register_summary(entries)]
    return Weapons(
        source="register",
        note=(f"From the weapons register ({REGISTER_MODULE}): the period's sightings judged "
              f"against the withdrawal zones of {terms.name} (p_location >= {min_p:g}), "
              "re-sightings linked into systems, each system counted once (its largest "
              "count)."),
        rows=rows,
        by_type=counted((e.weapon_type or e.weapon_class, e.count) for e in entries),
        by_place=counted((a, e.count) for e, a in zip(entries, areas, strict=True)),
        summary=summary)


# -- storage sites -------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageSite:
    """A storage site visited in the period: its last state then, and the state at the visit
    before (within STORAGE_LOOKBACK_DAYS before the period), if any."""

    site: str
    last: Line
    visits: int
    earlier_state: str | None
    earlier_when: str

    @property
    def state(self) -> str:
        return self.last.r.storage_present or ""

    @property
    def state_text(self) -> str:
        return STORAGE_WORDS.get(self.state, "state not given")

    @property
    def missing(self) -> bool:
        """Weapons present at the visit before and absent now: missing on a repeat visit."""
        return self.earlier_state == "present" and self.state == "absent"


def storage_section(lines: Sequence[Line], earlier: Sequence[Observation]) -> list[StorageSite]:
    """The storage sites visited in the period (sightings naming a storage site)."""
    visits: dict[str, list[Line]] = {}
    for x in lines:
        if x.kind == "sighting" and x.r.storage_site:
            visits.setdefault(x.r.storage_site, []).append(x)
    before: dict[str, Observation] = {}
    for o in sorted(earlier, key=lambda o: o.t_start):
        if o.report is not None and o.report.kind == "sighting" and o.report.storage_site:
            before[o.report.storage_site] = o
    out = []
    for site, xs in sorted(visits.items()):
        last = max(xs, key=lambda x: (x.obs.t_start, x.obs.obs_id or 0))
        prior = before.get(site)
        out.append(StorageSite(
            site=site, last=last, visits=len(xs),
            earlier_state=prior.report.storage_present if prior and prior.report else None,
            earlier_when=local_short(prior.t_start) if prior else ""))
    return out


# -- restrictions, harm, hazards, other ------------------------------------------------------


@dataclass
class Restrictions:
    lines: list[Line]
    by_side: list[tuple[str, int]]
    by_type: list[tuple[str, int]]


def restrictions_section(lines: Sequence[Line]) -> Restrictions:
    shown = [x for x in lines if x.kind == "restriction"]
    return Restrictions(
        lines=shown,
        by_side=counted((x.r.restricted_by or "side not given", 1) for x in shown),
        by_type=counted((RESTRICTION_WORDS.get(x.r.restriction_type or "", "type not given"), 1)
                        for x in shown))


@dataclass
class Harm:
    lines: list[Line]
    killed: int
    injured: int
    by_corroboration: list[tuple[str, int]]


def harm_section(lines: Sequence[Line]) -> Harm:
    shown = [x for x in lines if x.kind == "harm"]
    return Harm(lines=shown, killed=sum(x.r.killed or 0 for x in shown),
                injured=sum(x.r.injured or 0 for x in shown),
                by_corroboration=counted((x.r.corroboration or "not corroborated", 1)
                                         for x in shown))


@dataclass
class Hazards:
    lines: list[Line]
    by_type: list[tuple[str, int]]


def hazards_section(lines: Sequence[Line]) -> Hazards:
    shown = [x for x in lines if x.kind == "hazard"]
    return Hazards(lines=shown, by_type=counted(
        (HAZARD_WORDS.get(x.r.hazard_type or "", "type not given"), x.obs.count) for x in shown))


# -- disengagement areas -----------------------------------------------------------------


@dataclass(frozen=True)
class AreaCount:
    """What was recorded inside one disengagement area of the terms."""

    zone: str
    fire: int  # ceasefire violations (the sum of the fire records' counts)
    by_kind: list[tuple[str, int]]  # records by kind


def disengagement_section(terms: Terms, lines: Sequence[Line], fire_count: dict[int, int]
                          ) -> tuple[list[AreaCount], str]:
    """Counts inside each zone of the terms whose id contains 'disengagement'; or a note
    that the terms define none. ``fire_count``: the violations each fire record counts, by
    obs_id."""
    zones = [z.id for z in terms.zones if "disengagement" in z.id]
    if not zones:
        return [], (f"The terms ({terms.name}) define no disengagement area (no zone whose id "
                    "contains 'disengagement').")
    inside = np.zeros((len(lines), len(terms.zones)), bool)
    if lines:
        inside = place(terms, [x.obs.lon for x in lines], [x.obs.lat for x in lines]).in_zone
    out = []
    for zid in zones:
        k = terms.zone_ids.index(zid)
        members = [x for x, yes in zip(lines, inside[:, k], strict=True) if yes]
        out.append(AreaCount(
            zone=zid, fire=sum(fire_count.get(x.obs.obs_id or 0, 0) for x in members),
            by_kind=counted(("fire" if (x.obs.obs_id or 0) in fire_count else x.kind, 1)
                            for x in members)))
    return out, ""


__all__ = [
    "STORAGE_LOOKBACK_DAYS", "AreaCount", "Harm", "Hazards", "Line", "Restrictions",
    "StorageSite", "WeaponRow", "Weapons", "counted", "disengagement_section", "harm_section",
    "hazards_section", "register_module", "restrictions_section", "storage_section",
    "weapons_section",
]  # fmt: skip
