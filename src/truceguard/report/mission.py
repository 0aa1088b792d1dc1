"""Daily and weekly reports in the shape monitoring missions used (the OSCE SMM's daily report).

A report covers one reporting period that ends at 19:30 Kyiv time (Europe/Kyiv), as the SMM's
did: a daily report from 19:30 the day before to 19:30 on its date, a weekly one the seven
days to 19:30 on its date. Each count is set beside the period just before, of the same kind.

Two kinds of record, kept apart:

- Observations are the monitors' own records (``Observation``, with its ``MonitorReport``):
  every one the viewer may see is shown, whatever any analyst decided, and their counts are
  "recorded". Releasability is applied by the store.
- Findings are violations judged against the terms (``Violation``): only those published
  (confirmed by a second analyst) unless ``include_unpublished``; the report says which, and
  how many it left out. Those below the reporting threshold (``min_p``) are not shown.

What each section counts:

- Ceasefire violations: fire reports (kind ``fire``) and observations of a live-fire category
  (as the terms count live fire) with no monitor's report, each counting its ``count`` (one
  record may be ten explosions). By region (the geoBoundaries oblast holding the record's
  position: Donetsk, Luhansk, anything else "elsewhere"); explosions (categories explosion
  and shelling, and air strikes and missiles) apart from the other violations (shots, muzzle
  flashes, illumination flares, projectiles, armed clashes, and fire reports of other
  categories); impact / outgoing / undetermined (a record with no direction is
  undetermined); day / night (the sun at the record's place and time, night below civil
  twilight, :func:`truceguard.sun.day_or_night`), or unknown when the record's time is known
  too loosely (see :func:`light_of`).
- Hotspots: the ceasefire violations grouped by the area the SMM named that holds them
  (``places/hotspot_areas.yaml``), else by the nearest shipped settlement, named with its
  oblast.
- Weapons in violation, storage sites, restrictions of movement, civilian harm, hazards and the
  disengagement areas: see :mod:`truceguard.report.mission_sections`.
- Findings: the violations of the terms in the period, by region and clause.

The marking banner is the most restrictive marking of every record and finding the report
counts (both periods), with the viewer it was made for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import shapely

from truceguard.errors import InputError
from truceguard.judge.grading import report_threshold
from truceguard.judge.places import oblast_names
from truceguard.judge.terms import Terms, load_terms
from truceguard.judge.terms_model import LIVE_FIRE_CATEGORIES
from truceguard.marking import most_restrictive
from truceguard.model import STATUS_PUBLISHED, Observation, Viewer, Violation, iso
from truceguard.report.mission_sections import (
    STORAGE_LOOKBACK_DAYS,
    AreaCount,
    Harm,
    Hazards,
    Line,
    Restrictions,
    StorageSite,
    Weapons,
    counted,
    disengagement_section,
    harm_section,
    hazards_section,
    restrictions_section,
    storage_section,
    weapons_section,
)
from truceguard.report.mission_text import (
    MISSION_KINDS,
    Window,
    assessed_fire,
    mission_window,
    named_areas,
    region_of,
    where_texts,
)
from truceguard.report.period import Change, _viewer_text, hotspot_areas
from truceguard.store.base import (
    JudgingStore,
    ObservationFilter,
    ObservationStore,
    Store,
    ViolationFilter,
)
from truceguard.sun import day_or_night

# Live fire as the terms count it (``LIVE_FIRE_CATEGORIES``): explosions apart from the rest.
EXPLOSION_CATEGORIES = ("explosion", "shelling", "air_strike", "missile")
OTHER_FIRE_CATEGORIES = tuple(c for c in LIVE_FIRE_CATEGORIES if c not in EXPLOSION_CATEGORIES)
FIRE_CATEGORIES = (*EXPLOSION_CATEGORIES, *OTHER_FIRE_CATEGORIES)
REGIONS = ("Donetsk", "Luhansk", "elsewhere")
DIRECTIONS = ("impact", "outgoing", "undetermined")
LIGHTS = ("day", "night", "unknown")
MAX_LIGHT_WINDOW_S = 6 * 3600  # a record's time known more loosely: day or night unknown
HOTSPOTS = 10
DAY_S = 86400


def is_fire(o: Observation) -> bool:
    """A ceasefire violation: a fire report, or a fire-category record with no report."""
    return o.report.kind == "fire" if o.report is not None else o.category in FIRE_CATEGORIES


@dataclass(frozen=True)
class FireRecord:
    """A record of fire placed and assessed: what the fire sections count."""

    line: Line
    explosion: bool
    direction: str  # one of DIRECTIONS
    light: str  # 'day', 'night' or 'unknown' at the record's place and time (light_of)
    assessed: str  # 'assessed as ...'

    @property
    def count(self) -> int:
        return self.line.obs.count


@dataclass(frozen=True)
class FireCounts:
    """Ceasefire violations (the sum of the records' counts) and the records behind them."""

    records: int = 0
    total: int = 0
    explosions: int = 0
    impact: int = 0
    outgoing: int = 0
    undetermined: int = 0
    day: int = 0
    night: int = 0
    time_unknown: int = 0  # time known too loosely to tell day from night

    @property
    def other(self) -> int:
        return self.total - self.explosions

    @classmethod
    def of(cls, rows: Sequence[tuple[int, bool, str, str]]) -> FireCounts:
        """From (count, explosion, direction, light) rows."""
        n = dict.fromkeys((*DIRECTIONS, *LIGHTS), 0)
        for count, _, direction, light in rows:
            n[direction] += count
            n[light] += count
        return cls(records=len(rows), total=sum(r[0] for r in rows),
                   explosions=sum(r[0] for r in rows if r[1]), impact=n["impact"],
                   outgoing=n["outgoing"], undetermined=n["undetermined"], day=n["day"],
                   night=n["night"], time_unknown=n["unknown"])


@dataclass(frozen=True)
class RegionRow:
    """One region's ceasefire violations in the period and the period before."""

    region: str
    now: FireCounts
    before: FireCounts

    @property
    def change(self) -> Change:
        return Change(self.now.total, self.before.total)

    @property
    def explosions_change(self) -> Change:
        return Change(self.now.explosions, self.before.explosions)


@dataclass(frozen=True)
class NamedArea:
    """A hotspot: the ceasefire violations inside one of the areas the SMM named
    (``places/hotspot_areas.yaml``), else nearest to one settlement; ``lon``/``lat``: the
    count-weighted middle of its records (where the map labels it)."""

    label: str  # 'Avdiivka-Yasynuvata-Donetsk airport', 'Popasna (Luhansk oblast)'
    total: int
    explosions: int
    records: int
    share: float  # of all ceasefire violations of the period
    lon: float = 0.0
    lat: float = 0.0


@dataclass
class Findings:
    """The violations of the terms in the period that the report shows."""

    shown: list[Violation]
    by_region: list[tuple[str, Change]]
    by_clause: list[tuple[str, int]]
    published_only: bool
    not_published: int  # left out (published only) or shown among them
    imprecise: int  # below the reporting threshold: not shown

    @property
    def published(self) -> int:
        return sum(1 for v in self.shown if v.status == STATUS_PUBLISHED)


@dataclass
class MissionReport:
    """A daily or weekly report as plain data: what the HTML and Markdown show."""

    window: Window
    previous: Window
    terms: str
    terms_title: str
    viewer: str
    marking: str
    min_p: float
    include_unpublished: bool
    records: int  # every observation of the period the viewer may see
    regions: list[RegionRow]
    fire: list[FireRecord]
    hotspots: list[NamedArea]
    weapons: Weapons
    storage: list[StorageSite]
    restrictions: Restrictions
    harm: Harm
    hazards: Hazards
    other: list[tuple[str, int]]  # records of no monitor's kind and no fire, by category
    disengagement: list[AreaCount]
    disengagement_note: str
    findings: Findings
    lines: list[Line] = field(default_factory=list)  # every record of the period, placed
    note: str = ""  # why the period has no record, when it has none

    @property
    def kind(self) -> str:
        return self.window.kind

    @property
    def date(self) -> str:
        return self.window.day.isoformat()

    @property
    def total(self) -> RegionRow:
        """All regions together."""
        def add(part: str) -> FireCounts:
            rows = [getattr(r, part) for r in self.regions]
            return FireCounts(**{k: sum(getattr(c, k) for c in rows)
                                 for k in FireCounts.__dataclass_fields__})
        return RegionRow("all regions", add("now"), add("before"))

    @property
    def banner(self) -> str:
        return f"{self.marking}. Made for: {self.viewer}."


# ---------------------------------------------------------------- placing the records


def place_lines(records: Sequence[Observation], terms: Terms) -> list[Line]:
    """Each record with its region, named area and location text (all at once)."""
    if not records:
        return []
    lon = [o.lon for o in records]
    lat = [o.lat for o in records]
    where = where_texts(lon, lat, [o.uncertainty_m for o in records], terms)
    areas = named_areas(lon, lat)
    regions = oblast_names(lon, lat)
    return [Line(o, region_of(r), a, w)
            for o, r, a, w in zip(records, regions, areas, where, strict=True)]


def regions_of(records: Sequence[Observation] | Sequence[Violation]) -> list[str]:
    """The report's region of each record's position."""
    if not records:
        return []
    return [region_of(r) for r in oblast_names([o.lon for o in records],
                                               [o.lat for o in records])]


def light_of(o: Observation) -> str:
    """'day' or 'night' when the sun was on the same side of civil twilight at both ends of
    the record's time window, and the window is under MAX_LIGHT_WINDOW_S (shorter than any
    night or day here, so nothing changed twice inside it); else 'unknown'."""
    end = o.t_start + max(o.time_precision_s, o.t_end - o.t_start + 1) - 1
    if end - o.t_start >= MAX_LIGHT_WINDOW_S:
        return "unknown"
    first, last = day_or_night(o.lat, o.lon, o.t_start), day_or_night(o.lat, o.lon, end)
    return first if first == last else "unknown"


def _fire_row(o: Observation) -> tuple[int, bool, str, str]:
    """(count, explosion, direction, light) of a fire record."""
    direction = (o.report.direction if o.report is not None else None) or "undetermined"
    return o.count, o.category in EXPLOSION_CATEGORIES, direction, light_of(o)


def fire_records(lines: Sequence[Line]) -> list[FireRecord]:
    out = []
    for x in lines:
        if is_fire(x.obs):
            _, explosion, direction, light = _fire_row(x.obs)
            assessed = assessed_fire(x.obs.report, x.obs.weapon_class)
            out.append(FireRecord(x, explosion, direction, light, assessed))
    return sorted(out, key=lambda f: (f.line.obs.t_start, f.line.obs.obs_id or 0))


def region_rows(now: Sequence[FireRecord], before: Sequence[Observation]) -> list[RegionRow]:
    """The ceasefire violations of each region, now and in the period before."""
    before_fire = [o for o in before if is_fire(o)]
    before_regions = regions_of(before_fire)
    out = []
    for region in REGIONS:
        cur = [(f.count, f.explosion, f.direction, f.light) for f in now
               if f.line.region == region]
        prev = [_fire_row(o) for o, r in zip(before_fire, before_regions, strict=True)
                if r == region]
        out.append(RegionRow(region, FireCounts.of(cur), FireCounts.of(prev)))
    return out


def hotspots(fire: Sequence[FireRecord], top: int) -> list[NamedArea]:
    """The ceasefire violations grouped by the hotspot area the SMM named that holds them,
    else by their nearest settlement; the most first."""
    total = sum(f.count for f in fire)
    lon = np.array([f.line.obs.lon for f in fire], float)
    lat = np.array([f.line.obs.lat for f in fire], float)
    label = [f.line.area for f in fire]
    named = np.zeros(len(fire), bool)
    for name, geom, _, _ in hotspot_areas():
        inside = np.flatnonzero(shapely.contains_xy(geom, lon, lat) & ~named)
        named[inside] = True
        for i in inside.tolist():
            label[i] = name
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(label):
        groups.setdefault(key, []).append(i)
    areas = []
    for key, members in groups.items():
        fs = [fire[i] for i in members]
        n = sum(f.count for f in fs)
        w = np.array([f.count for f in fs], float)
        areas.append(NamedArea(key, n, sum(f.count for f in fs if f.explosion), len(fs),
                               n / total if total else 0.0,
                               float(np.average(lon[members], weights=w)),
                               float(np.average(lat[members], weights=w))))
    return sorted(areas, key=lambda a: (-a.total, a.label))[:top]


# ---------------------------------------------------------------- findings


def findings(store: JudgingStore, terms: Terms, viewer: Viewer, w: Window, prev: Window,
             min_p: float, include_unpublished: bool) -> tuple[Findings, list[Violation]]:
    """The violations shown, and every violation counted (both periods) for the banner."""
    def listed(a: int, b: int) -> list[Violation]:
        return store.violations(ViolationFilter(
            records=ObservationFilter(since=a, until=b - 1), terms=terms.name), viewer)

    def keep(rows: list[Violation]) -> list[Violation]:
        return [v for v in rows if v.p_location >= min_p
                and (include_unpublished or v.status == STATUS_PUBLISHED)]

    every = listed(w.start, w.end)
    now_all = [v for v in every if v.p_location >= min_p]
    shown = keep(every)
    before = keep(listed(prev.start, prev.end))
    reg_now, reg_before = regions_of(shown), regions_of(before)
    by_region = [(r, Change(reg_now.count(r), reg_before.count(r))) for r in REGIONS]
    unpublished = sum(1 for v in now_all if v.status != STATUS_PUBLISHED)
    out = Findings(
        shown=shown, by_region=by_region,
        by_clause=counted((v.clause.split("/", 1)[-1], 1) for v in shown),
        published_only=not include_unpublished, not_published=unpublished,
        imprecise=len(every) - len(now_all))
    return out, [*shown, *before]


# ---------------------------------------------------------------- building the report


def _records(store: ObservationStore, viewer: Viewer, a: int, b: int) -> list[Observation]:
    return list(store.observations(ObservationFilter(since=a, until=b - 1), viewer))


def build_mission_report(
    store: Store,
    terms: str | Terms,
    kind: str,
    day: date | str,
    viewer: Viewer | None = None,
    *,
    include_unpublished: bool = False,
    min_p: float | None = None,
    top: int = HOTSPOTS,
) -> MissionReport:
    """The ``kind`` ('daily' or 'weekly') report for the period ending at 19:30 Kyiv time on
    ``day``, as ``viewer`` (default: the owner) may see it (see the module docstring)."""
    if kind not in MISSION_KINDS:
        raise InputError(f"report kind {kind!r}: expected one of {', '.join(MISSION_KINDS)}",
                         code="input.unknown_value")
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day.strip())
        except ValueError:
            raise InputError(f"--date {day!r}: expected a date as YYYY-MM-DD",
                             code="input.bad_date") from None
    min_p = report_threshold() if min_p is None else min_p
    if not 0.0 <= min_p <= 1.0:  # also refuses NaN
        raise InputError(f"--min-p {min_p!r} is out of range", hint="give a number from 0 to 1",
                         code="input.out_of_range")
    t = terms if isinstance(terms, Terms) else load_terms(terms)
    viewer = viewer or Viewer.owner()
    w = mission_window(kind, day)
    prev = w.previous()
    now = _records(store, viewer, w.start, w.end)
    before = _records(store, viewer, prev.start, prev.end)
    earlier = _records(store, viewer, w.start - STORAGE_LOOKBACK_DAYS * DAY_S, w.start)
    lines = place_lines(now, t)
    fire = fire_records(lines)
    found, judged = findings(store, t, viewer, w, prev, min_p, include_unpublished)
    storage_before = [o for o in earlier if o.report is not None and o.report.storage_site]
    areas, area_note = disengagement_section(
        t, lines, {f.line.obs.obs_id or 0: f.count for f in fire})
    marking = most_restrictive({*(o.releasability for o in (*now, *before, *storage_before)),
                                *(v.releasability for v in judged)}).text
    return MissionReport(
        window=w, previous=prev, terms=t.name, terms_title=t.title,
        viewer=_viewer_text(store, viewer), marking=marking, min_p=min_p,
        include_unpublished=include_unpublished, records=len(now),
        regions=region_rows(fire, before), fire=fire, hotspots=hotspots(fire, top),
        weapons=weapons_section(lines, t, min_p), storage=storage_section(lines, storage_before),
        restrictions=restrictions_section(lines), harm=harm_section(lines),
        hazards=hazards_section(lines),
        other=counted((x.obs.category, 1) for x in lines
                      if x.obs.report is None and not is_fire(x.obs)),
        disengagement=areas, disengagement_note=area_note, findings=found, lines=lines,
        note="" if now else _no_records(store, viewer))


def _no_records(store: ObservationStore, viewer: Viewer) -> str:
    """Why a period has no record: the store holds none the viewer may see, or they lie
    elsewhere in time."""
    who = "" if viewer.sees_all else " that this viewer may see"
    span = store.observation_span(ObservationFilter(), viewer)
    if span is None:
        return (f"The store holds no records{who}: nothing to report. Import monitors' "
                "reports (`truceguard import FILE`)"
                + ("." if viewer.sees_all else ", or report for a viewer who may see them."))
    return (f"No record{who} in this reporting period: the records{who} run from "
            f"{iso(span[0])[:10]} to {iso(span[1])[:10]} (UTC). Choose a --date inside them.")


__all__ = [
    "DIRECTIONS", "EXPLOSION_CATEGORIES", "FIRE_CATEGORIES", "LIGHTS", "MISSION_KINDS",
    "OTHER_FIRE_CATEGORIES", "REGIONS", "Findings", "FireCounts", "FireRecord",
    "MissionReport", "NamedArea", "RegionRow", "build_mission_report", "is_fire", "light_of",
]  # fmt: skip
