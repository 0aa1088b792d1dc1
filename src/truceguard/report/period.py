"""Period reports of ceasefire violations: counts, change, hotspots, trend, map and the trail.

A period report covers the inclusive dates ``start``..``end`` (UTC) for one set of terms. It
counts violations per calendar bucket (day, ISO week, month or year, clipped to the window), by
category, weapon class, clause, side and zone; compares the period with the one of the same
length just before it (the way the OSCE SMM compares with the previous period); and names the
hotspots, the named areas with the most violations (``data/places/hotspot_areas.yaml``, else
the oblast: "elsewhere in Donetsk oblast"). A violation whose source placed it only to an
oblast or wider is no hotspot: it is counted apart by its unit (``placed_only_to``), never
at the unit's stand-in point. Records that are no ceasefire violation by default (a source's
lower-clarity or aggregated events, deaths from mines and explosive remnants: the terms'
``OPT_IN_CATEGORIES``) are counted apart too (``apart``), with their observations' counts.

What the numbers mean:

- Coverage. Only the part of the window that both the data and the terms cover is counted:
  from the later of the first observation's day and the time the first clause binds, to the
  day after the last observation (the data are the observations the viewer may see, of the
  sources the filter names). A window that is partly outside is marked partial, and every
  count has a rate per covered day beside it. A window with nothing covered (before the
  terms took effect, outside the data, no data at all, or terms never adjudicated) is stated
  as such, with no figures.
- Comparison. The counted part is compared with the part of the same length just before it,
  and only when that lies wholly inside the data and the terms; otherwise the report says
  there is no comparison, never compares with zeros. A bucket is compared with the calendar
  bucket before it when both are whole and covered. A clause that starts to bind after the
  comparison period starts has no comparison of its own.
- Threshold. A violation counts in the figures, hotspots, breakdowns and map when its
  ``p_location`` (the probability that its true position satisfies the clause's geometry) is
  at least ``min_p``; the others are listed apart as "location too imprecise to judge".
- Review. The summary tells the counted violations that two analysts confirmed (published)
  from those not yet published (new, under review, verified by one analyst, discounted).
- Marking. The report states the most restrictive marking of every violation, incident and
  observation it shows, and the viewer it was made for.

Every figure keeps the ids of the violations behind it, and the report keeps each violation's
incident and that incident's observations (source, file and line, raw text and its SHA-256).
Everything is read through the store's ``violations``, ``incidents`` and ``observations`` (the
same code path as the CLI listings), so releasability is applied by the store.

The renderings (:mod:`truceguard.report.period_render`) open with a summary (the counts by
clause, the map, the trend, the hotspots, the clauses) and end with an appendix of one row per
incident that every figure links down to (:mod:`truceguard.report.period_appendix`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import shapely
import shapely.affinity

from truceguard.config import load_yaml
from truceguard.errors import InputError
from truceguard.geo.shipped import data_path, places
from truceguard.geo.sphere import haversine_m
from truceguard.judge.grading import report_threshold, shipped_location_rules
from truceguard.judge.places import oblast_names
from truceguard.judge.terms import OPT_IN_CATEGORIES, Terms, load_terms
from truceguard.marking import most_restrictive
from truceguard.model import STATUS_PUBLISHED, Incident, Observation, Viewer, Violation, iso
from truceguard.report.dates import (
    DAY,
    PERIODS,
    bucket_edges,
    bucket_label,
    days_text,
    is_edge,
    midnight,
    nearest_midnight,
    when_text,
    window,
)
from truceguard.report.period_render import render_html, render_markdown, write_html
from truceguard.report.period_text import (
    DIMENSION_TITLES,
    ClauseText,
    clause_texts,
    days_phrase,
    dimension_value,
)
from truceguard.report.period_trend import trend_png
from truceguard.store.base import MissionStore, ObservationFilter, Store, ViolationFilter

DIMENSIONS = ("category", "weapon_class", "clause", "side", "zone")
NO_ZONE = "(outside every zone)"
# What a report can say about its window: figures ("full", "partial"), or why there are none.
STATES = ("full", "partial", "before_terms", "outside_data", "no_data", "not_judged")


@dataclass(frozen=True)
class Change:
    """A count against the count before it: the difference and the relative change in %.

    ``before`` is None when there is nothing comparable before (outside the data or the
    terms); ``percent`` is None then, and when there was nothing before."""

    now: int
    before: int | None

    @property
    def absolute(self) -> int | None:
        return None if self.before is None else self.now - self.before

    @property
    def percent(self) -> float | None:
        if not self.before:
            return None
        return 100.0 * (self.now - self.before) / self.before

    def text(self) -> str:
        """"+12 (+35%)", "-3 (-100%)", "+4 (new)", "0", or "n/a" (no comparison)."""
        if self.before is None:
            return "n/a"
        diff = self.now - self.before
        if diff == 0:
            return "0"
        pct = self.percent
        return f"{diff:+d} ({'new' if pct is None else f'{pct:+.0f}%'})"


@dataclass(frozen=True)
class Coverage:
    """What part of the window the data and the terms cover, and what the report says of it.

    ``start``..``end`` is the covered part of the window (epoch seconds, end exclusive; None
    when nothing is covered); ``message`` says why a window is partial or has no figures."""

    state: str  # one of STATES
    message: str
    start: int | None
    end: int | None
    data_first: int | None  # the first and last observation time the viewer may see
    data_last: int | None
    terms_from: int  # when the first clause of the terms binds

    @property
    def floor(self) -> int:
        """The earliest covered time: the later of the first observation's UTC day and the
        terms' start (to the nearest UTC midnight: counts are by whole UTC days)."""
        return max(midnight(self.data_first or 0), nearest_midnight(self.terms_from))

    def floor_reason(self, seen: str = "") -> str:
        """Why nothing before ``floor`` is covered (``seen``: words after 'the data')."""
        if nearest_midnight(self.terms_from) >= midnight(self.data_first or 0):
            return f"the terms took effect on {when_text(self.terms_from)}"
        return f"the data{seen} start on {iso(self.data_first)[:10]}"

    @property
    def days(self) -> float:
        return 0.0 if self.start is None or self.end is None else (self.end - self.start) / DAY


@dataclass(frozen=True)
class Bucket:
    """One calendar bucket of the window, [start, end) in epoch seconds (clipped to the window).

    ``observations`` counts the observations behind the bucket's incidents (an incident falls
    in the bucket of its start). ``covered_days`` is the part the data and the terms cover;
    ``note`` says why a bucket is not wholly covered."""

    key: str
    label: str
    start: int
    end: int
    count: int
    observations: int
    change: Change  # against the calendar bucket before, when both are whole and covered
    violation_ids: tuple[int, ...]
    covered_days: float
    partial: bool = False  # cut by the window, or not wholly covered
    note: str = ""

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY

    @property
    def rate(self) -> float | None:
        """Violations per covered day (None when no day of the bucket is covered)."""
        return self.count / self.covered_days if self.covered_days > 0 else None


@dataclass(frozen=True)
class CountRow:
    """One value of one dimension (a clause, a side ...) with its count now and before.

    ``note`` says when a clause binds from a date inside or after the compared periods."""

    key: str
    label: str
    change: Change
    violation_ids: tuple[int, ...]
    note: str = ""

    @property
    def count(self) -> int:
        return self.change.now


@dataclass(frozen=True)
class Hotspot:
    """A named area and the violations in it (``lat``/``lon``: where its label goes)."""

    key: str
    place: str
    lat: float
    lon: float
    count: int
    share: float  # of all counted violations in the window
    cumulative_share: float
    median_distance_km: float
    control: str  # the side that controls the place of most of its violations
    control_share: float  # the share of its violations on that side
    violation_ids: tuple[int, ...]


@dataclass
class PeriodReport:
    """A period report as plain data: what the HTML, Markdown and JSON renderings show.

    ``violations`` are those counted (``p_location >= min_p``); ``imprecise`` those whose
    location is too imprecise to judge. ``marking`` is the most restrictive marking of every
    violation, incident and observation the report holds; ``viewer`` who it was made for."""

    terms: str
    terms_title: str
    period: str
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive (the day after the last date)
    viewer: str
    marking: str
    min_p: float
    coverage: Coverage
    previous_start: int | None  # the comparison period [previous_start, coverage.start)
    no_comparison: str  # why there is none ('' when there is one)
    total: Change
    observations: int
    buckets: list[Bucket]
    breakdowns: dict[str, list[CountRow]]
    hotspots: list[Hotspot]
    violations: list[Violation]
    imprecise: list[Violation] = field(default_factory=list)
    incidents: dict[int, Incident] = field(default_factory=dict)
    observations_by_incident: dict[int, list[Observation]] = field(default_factory=dict)
    clauses: list[ClauseText] = field(default_factory=list)  # every clause of the terms
    # Of the counted violations: published (confirmed by a second analyst) and the others
    # (new, under review, verified by one analyst, discounted).
    published: int = 0
    not_published: int = 0
    # Counted violations placed only to a unit (an oblast or wider): unit -> count.
    placed_only_to: dict[str, int] = field(default_factory=dict)
    # Observations of the window that breach nothing by default, by category (lower-clarity
    # and aggregated events, deaths from mines and explosive remnants): category -> count.
    apart: dict[str, int] = field(default_factory=dict)

    @property
    def first_date(self) -> str:
        return iso(self.start)[:10]

    @property
    def last_date(self) -> str:
        return iso(self.end - DAY)[:10]

    @property
    def days(self) -> int:
        return (self.end - self.start) // DAY

    @property
    def has_figures(self) -> bool:
        return self.coverage.state in ("full", "partial")

    @property
    def previous_first_date(self) -> str:
        return "" if self.previous_start is None else iso(self.previous_start)[:10]

    @property
    def rate_per_day(self) -> float | None:
        """Counted violations per covered day."""
        days = self.coverage.days
        return self.total.now / days if days > 0 else None

    @property
    def previous_rate_per_day(self) -> float | None:
        if self.total.before is None:
            return None
        return self.total.before / self.coverage.days

    @property
    def banner(self) -> str:
        return f"{self.marking}. Made for: {self.viewer}."

    def violation(self, violation_id: int) -> Violation:
        for v in (*self.violations, *self.imprecise):
            if v.violation_id == violation_id:
                return v
        raise KeyError(violation_id)


# ---------------------------------------------------------------- coverage


def terms_in_force_from(terms: Terms) -> int:
    """When the first clause of the terms binds (the terms' effective time if none)."""
    return min((c.binds_from for c in terms.clauses), default=terms.effective)


def _seen(viewer: Viewer) -> str:
    return "" if viewer.sees_all else " this viewer may see"


def _coverage(store: Store, terms: Terms, t0: int, t1: int, viewer: Viewer,
              sources: tuple[str, ...]) -> Coverage:
    """Which part of [t0, t1) the viewer's data and the terms cover (see the module)."""
    span = store.observation_span(ObservationFilter(sources=sources), viewer)
    first, last = span if span else (None, None)
    t_from = terms_in_force_from(terms)
    period = f"{iso(t0)[:10]} to {iso(t1 - DAY)[:10]}"
    seen = _seen(viewer)

    def none(state: str, message: str) -> Coverage:
        return Coverage(state, message, None, None, first, last, t_from)

    if t1 <= t_from:
        return none("before_terms", f"The period {period} ends before the terms {terms.name} "
                    f"took effect ({when_text(t_from)}): nothing in it can violate them. Report "
                    f"on {iso(nearest_midnight(t_from))[:10]} or later.")
    if first is None or last is None:
        return none("no_data", "No observations"
                    + (f" from {', '.join(sources)}" if sources else "")
                    + " that this viewer may see are in the store: nothing to report. Import "
                    "data (`truceguard import FILE`), or report for a viewer who may see it.")
    lo = max(midnight(first), nearest_midnight(t_from))
    hi = midnight(last) + DAY
    c0, c1 = max(t0, lo), min(t1, hi)
    if c0 >= c1:
        return none("outside_data", f"The data{seen} cover {iso(first)[:10]} to "
                    f"{iso(last)[:10]}, and the terms bind from {when_text(t_from)}: the period "
                    f"{period} lies outside them. Choose dates inside them, or import data for "
                    "the period.")
    judged = store.adjudicated_terms()
    if terms.name not in judged:
        what = ("Nothing has been fused yet: run `truceguard fuse`, then `truceguard "
                f"adjudicate --terms {terms.name}`." if store.count_incidents() == 0 else
                f"The store has not been judged against {terms.name}: run `truceguard "
                f"adjudicate --terms {terms.name}`.")
        return none("not_judged", what)
    if (c0, c1) == (t0, t1):
        return Coverage("full", "", c0, c1, first, last, t_from)
    cov = Coverage("partial", "", c0, c1, first, last, t_from)
    why = [cov.floor_reason(seen)] if c0 > t0 else []
    if c1 < t1:
        end_text = f"end on {iso(last)[:10]}"
        if why and why[0].startswith("the data"):
            why[0] += " and " + end_text
        else:
            why.append(f"the data{seen} {end_text}")
    return replace(cov, message=(
        f"Partial period: only {iso(c0)[:10]} to {iso(c1 - DAY)[:10]} ({(c1 - c0) // DAY} of "
        f"{(t1 - t0) // DAY} days) is counted, because {' and '.join(why)}. Rates are per "
        "counted day."))


# ---------------------------------------------------------------- building the report


def _counts(rows: Sequence[Violation], dim: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for v in rows:
        out.setdefault(dimension_value(v, dim), []).append(v.violation_id)
    return out


def _labels(terms: Terms) -> dict[str, dict[str, str]]:
    return {
        "clause": {c.id: c.id.split("/", 1)[-1] for c in terms.clauses},
        "side": {s.id: f"{s.label} ({s.id})" for s in terms.sides},
        "zone": {z.id: z.id for z in terms.zones} | {"": NO_ZONE},
    }


def _clause_note(binds: int, prev0: int | None, c0: int, c1: int) -> tuple[str, bool]:
    """(note, comparable) for a clause that binds from ``binds``."""
    if binds >= c1:
        return f"not in force: binds from {when_text(binds)}", False
    if binds > c0:
        return f"binds from {when_text(binds)}", False
    if prev0 is not None and binds > prev0:
        return f"binds from {when_text(binds)}, inside the comparison period", False
    return "", True


def _breakdowns(terms: Terms, now: list[Violation], before: list[Violation] | None,
                prev0: int | None, c0: int, c1: int) -> dict[str, list[CountRow]]:
    labels = _labels(terms)
    binds = {c.id: c.binds_from for c in terms.clauses}
    always = {
        "clause": list(labels["clause"]),
        "side": list(labels["side"]),
        "zone": [z.id for z in terms.zones],
    }
    out: dict[str, list[CountRow]] = {}
    for dim in DIMENSIONS:
        cur = _counts(now, dim)
        prev = _counts(before, dim) if before is not None else {}
        keys = list(dict.fromkeys([*always.get(dim, []), *cur, *prev]))
        rows = []
        for k in keys:
            note, comparable = "", before is not None
            if dim == "clause" and k in binds:
                note, ok = _clause_note(binds[k], prev0, c0, c1)
                comparable = comparable and ok
            rows.append(CountRow(
                key=k,
                label=labels.get(dim, {}).get(k, k or "(none)"),
                change=Change(len(cur.get(k, [])), len(prev.get(k, [])) if comparable else None),
                violation_ids=tuple(cur.get(k, [])),
                note=note,
            ))
        rows.sort(key=lambda r: (-r.count, -(r.change.before or 0), r.label))
        out[dim] = rows
    return out


@cache
def hotspot_areas() -> tuple[tuple[str, Any, float, float], ...]:
    """The shipped hotspot areas: (name, polygon lon/lat, label lon, label lat)."""
    doc = load_yaml(data_path("places", "hotspot_areas.yaml"))
    p = places()
    out = []
    for a in doc["areas"]:
        found = [k for k in np.flatnonzero(p.cc == "UA") if p.name[k] in a["settlements"]]
        pts = shapely.points(p.lon[found].astype(float), p.lat[found].astype(float))
        deg = float(a["radius_km"]) / 111.0  # discs drawn in degrees of latitude
        lat0 = float(np.mean(p.lat[found]))
        disc = [shapely.affinity.scale(shapely.buffer(pt, deg, quad_segs=16),
                                       1.0 / np.cos(np.radians(lat0)), 1.0) for pt in pts]
        geom = shapely.union_all(disc)
        c = shapely.get_coordinates(shapely.centroid(geom))[0]
        out.append((str(a["name"]), geom, float(c[0]), float(c[1])))
    return tuple(out)


def _unit_of(v: Violation) -> str | None:
    """The unit a violation was placed only to ("Donetsk oblast"), from its location text
    (``judge.places.describe_locations`` writes "in <unit> (...)" for those), else None."""
    rules = shipped_location_rules()
    if v.uncertainty_m <= rules.near_max_m or not v.location_text.startswith("in "):
        return None
    return v.location_text[3:].split(" (", 1)[0]


def _hotspots(rows: list[Violation], terms: Terms, top: int) -> list[Hotspot]:
    """Group violations by named area (else "elsewhere in" their oblast); the busiest first.
    Violations placed only to a unit are left out (``_unit_of``); shares are of all of
    ``rows``."""
    total = len(rows)
    rows = [r for r in rows if _unit_of(r) is None]
    if not rows or top <= 0:
        return []
    lon = np.array([r.lon for r in rows], float)
    lat = np.array([r.lat for r in rows], float)
    areas = hotspot_areas()
    key = np.full(len(rows), "", dtype=object)
    for name, geom, _, _ in areas:
        inside = shapely.contains_xy(geom, lon, lat) & (key == "")
        key[inside] = name
    rest = key == ""
    if rest.any():
        oblast = oblast_names(lon[rest], lat[rest])
        key[rest] = [f"elsewhere in {o}" if o else "outside Ukraine" for o in oblast]
    label_at = {name: (x, y) for name, _, x, y in areas}
    names, inverse, counts = np.unique(key.astype(str), return_inverse=True, return_counts=True)
    order = np.lexsort((names, -counts))[:top]
    side_label = {s.id: s.label for s in terms.sides}
    sides = np.array([r.controlled_by for r in rows], dtype=object)
    ids = np.array([r.violation_id for r in rows], np.int64)
    out: list[Hotspot] = []
    cum = 0
    for j in order:
        members = np.flatnonzero(inverse == j)
        cum += int(counts[j])
        side_names, n_side = np.unique(sides[members].astype(str), return_counts=True)
        best = int(np.argmax(n_side))
        name = str(names[j])
        x, y = label_at.get(name, (float(np.median(lon[members])),
                                   float(np.median(lat[members]))))
        dist = haversine_m(y, x, lat[members], lon[members]) / 1000.0
        out.append(
            Hotspot(
                key=f"a{int(j)}",
                place=name,
                lat=float(y),
                lon=float(x),
                count=int(counts[j]),
                share=float(counts[j]) / total,
                cumulative_share=cum / total,
                median_distance_km=float(np.median(dist)),
                control=side_label.get(str(side_names[best]), str(side_names[best])),
                control_share=float(n_side[best]) / members.size,
                violation_ids=tuple(int(i) for i in ids[members]),
            )
        )
    return out


def _viewer_text(store: MissionStore, viewer: Viewer) -> str:
    if viewer.sees_all:
        nation = store.owner_nation()
        return f"the database owner{f' ({nation})' if nation else ''}, who sees everything"
    if not viewer.names:
        return "a viewer holding no code (PUBLIC only)"
    if len(viewer.names) == 1:
        return "a viewer holding " + ", ".join(sorted(viewer.codes))
    return "a viewer who is " + " and ".join(viewer.names) + " at once"


def _previous_bucket_start(period: str, t0: int) -> int:
    """The start of the calendar bucket that ends at ``t0`` (a bucket edge)."""
    return int(bucket_edges(period, t0 - 400 * DAY, t0)[-2])


def _buckets(period: str, t0: int, t1: int, cov: Coverage, now: list[Violation],
             before: list[Violation], n_obs_of: dict[int, int]) -> list[Bucket]:
    """The calendar buckets of [t0, t1) with their counts, rates and comparisons."""
    assert cov.start is not None and cov.end is not None
    edges = bucket_edges(period, t0, t1)
    times = np.array([v.t_start for v in now], np.int64)
    which = np.searchsorted(edges, times, side="right") - 1
    counts = np.bincount(which, minlength=edges.size - 1)
    lo = cov.floor
    pb = _previous_bucket_start(period, t0)
    # The bucket before the first, when it is whole and covered; else no comparison.
    prior: int | None = (sum(1 for v in before if pb <= v.t_start < t0)
                         if pb >= lo and is_edge(period, t0) else None)
    out: list[Bucket] = []
    for b in range(edges.size - 1):
        s, e = int(edges[b]), int(edges[b + 1])
        covered = max(0, min(e, cov.end) - max(s, cov.start)) / DAY
        cut = (b == 0 and not is_edge(period, t0)) or (b == edges.size - 2
                                                        and not is_edge(period, t1))
        partial = cut or covered < (e - s) / DAY
        note = ""
        if covered == 0:
            note = ("before the terms took effect" if e <= nearest_midnight(cov.terms_from)
                    else "no data")
        elif covered < (e - s) / DAY:
            note = f"{days_text(covered)} of {days_text((e - s) / DAY)} days counted"
        members = [now[i] for i in np.flatnonzero(which == b)]
        n = int(counts[b])
        out.append(Bucket(
            key=f"b{b}",
            label=bucket_label(period, s),
            start=s,
            end=e,
            count=n,
            observations=sum(n_obs_of.get(i, 0) for i in {v.incident_id for v in members}),
            change=Change(n, None if partial else prior),
            violation_ids=tuple(v.violation_id for v in members),
            covered_days=covered,
            partial=partial,
            note=note,
        ))
        prior = None if partial else n
    return out


def _trail(store: Store, base: ObservationFilter, viewer: Viewer, shown: list[Violation],
           trail: bool) -> tuple[dict[int, Incident], dict[int, list[Observation]]]:
    """The incidents behind the shown violations, and (with ``trail``) their observations."""
    incs: dict[int, Incident] = {}
    obs: dict[int, list[Observation]] = {}
    if not shown:
        return incs, obs
    wanted = {v.incident_id for v in shown}
    lo = min(v.t_start for v in shown)
    hi = max(v.t_start for v in shown)
    for inc in store.incidents(replace(base, since=lo, until=hi), viewer):
        if inc.incident_id in wanted:
            incs[inc.incident_id] = inc
    if trail:
        for iid in incs:
            obs[iid] = list(store.observations(ObservationFilter(incident_id=iid), viewer))
    return incs, obs


def build_period_report(
    store: Store,
    terms: str | Terms,
    period: str,
    start: date | str,
    end: date | str,
    viewer: Viewer | None = None,
    *,
    flt: ObservationFilter | None = None,
    hotspots: int = 10,
    trail: bool = True,
    min_p: float | None = None,
) -> PeriodReport:
    """The period report of ``terms`` over the inclusive dates ``start``..``end`` (UTC).

    ``viewer`` defaults to the owner (sees everything). ``flt`` narrows the violations further
    (a box, categories, sources; its times are replaced by the window). ``trail`` loads each
    violation's incident observations for the drill-down (the HTML needs it). Violations
    with ``p_location >= min_p`` are counted; the others are listed as too imprecise.
    """
    if period not in PERIODS:
        raise InputError(f"--period {period!r}: expected one of {', '.join(PERIODS)}",
                         code="input.unknown_value")
    if min_p is None:
        min_p = report_threshold()
    if not 0.0 <= min_p <= 1.0:  # also refuses NaN
        raise InputError(f"--min-p {min_p!r} is out of range", hint="give a number from 0 to 1",
                         code="input.out_of_range")
    t = terms if isinstance(terms, Terms) else load_terms(terms)
    viewer = viewer or Viewer.owner()
    t0, t1 = window(start, end)
    base = flt or ObservationFilter()
    cov = _coverage(store, t, t0, t1, viewer, base.sources)
    report = PeriodReport(
        terms=t.name, terms_title=t.title, period=period, start=t0, end=t1,
        viewer=_viewer_text(store, viewer), marking="PUBLIC", min_p=min_p, coverage=cov,
        previous_start=None, no_comparison="", total=Change(0, None), observations=0,
        buckets=[], breakdowns={}, hotspots=[], violations=[], clauses=clause_texts(t))
    if cov.start is None or cov.end is None:
        return report
    c0, c1 = cov.start, cov.end

    def judged(a: int, b: int) -> list[Violation]:
        return store.violations(ViolationFilter(records=replace(base, since=a, until=b - 1),
                                                terms=t.name), viewer)

    every = judged(t0, t1)
    now = [v for v in every if v.p_location >= min_p]
    report.imprecise = [v for v in every if v.p_location < min_p]
    lo = cov.floor
    prev0: int | None = c0 - (c1 - c0)
    if c0 - (c1 - c0) < lo:
        n, first = (c1 - c0) // DAY, iso(c0)[:10]
        gap = (f"the day before {first} is not covered" if n == 1 else
               f"the {days_phrase(n)} before {first} are not all covered")
        report.no_comparison = f"No comparison: {gap} ({cov.floor_reason(_seen(viewer))})."
        prev0 = None
    # One read for the comparison period and the calendar bucket before the first.
    fetch_from = max(lo, min(c0 - (c1 - c0), _previous_bucket_start(period, t0)))
    before_all = [v for v in judged(fetch_from, c0) if v.p_location >= min_p]
    before = None if prev0 is None else [v for v in before_all if v.t_start >= prev0]

    incs, obs = _trail(store, base, viewer, now + report.imprecise, trail)
    n_obs_of = {iid: (len(obs[iid]) if iid in obs else inc.n_observations)
                for iid, inc in incs.items()}
    counted = {v.incident_id for v in now}
    report.previous_start = prev0
    report.total = Change(len(now), None if before is None else len(before))
    report.observations = sum(n for iid, n in n_obs_of.items() if iid in counted)
    report.buckets = _buckets(period, t0, t1, cov, now, before_all, n_obs_of)
    report.breakdowns = _breakdowns(t, now, before, prev0, c0, c1)
    report.hotspots = _hotspots(now, t, hotspots)
    for v in now:
        unit = _unit_of(v)
        if unit is not None:
            report.placed_only_to[unit] = report.placed_only_to.get(unit, 0) + 1
    report.apart = {c: store.count_observations(
        replace(base, since=c0, until=c1 - 1, categories=(c,)), viewer)
        for c in OPT_IN_CATEGORIES}
    report.violations = now
    report.published = sum(1 for v in now if v.status == STATUS_PUBLISHED)
    report.not_published = len(now) - report.published
    report.incidents = incs
    report.observations_by_incident = obs
    report.marking = most_restrictive(
        {*(v.releasability for v in every), *(i.releasability for i in incs.values()),
         *(o.releasability for os_ in obs.values() for o in os_)}).text
    return report


__all__ = [
    "DAY", "DIMENSIONS", "DIMENSION_TITLES", "PERIODS", "STATES", "Bucket", "Change", "CountRow",
    "Coverage", "Hotspot", "PeriodReport", "bucket_edges", "build_period_report", "render_html",
    "render_markdown", "terms_in_force_from", "trend_png", "write_html",
]  # fmt: skip
