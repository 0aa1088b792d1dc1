"""The appendix of a period report: one compact row per incident, reached from the summary.

Every incident behind a violation of the report has exactly one row (its anchor,
``incident-<id>``): the incidents with a counted violation in the first table, grouped by the
report's calendar buckets (each group's header is the anchor its bucket links to), those whose
violations are all too imprecise to judge in a second table, listed apart. A row holds the
incident's time, place, its violations (clause, p_location, severity, status), what was seen,
and each observation's source, the file and line it was read from and the start of its raw
input's SHA-256.

The summary's counts (a clause, a side, a zone, a category, a weapon class, a hotspot) link to
a filter of the first table: a caption whose anchor, when it is the page's target, hides the
rows outside it (CSS ``:target``, no script), so every figure still leads down to the
incidents behind it without listing their ids again under each figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from truceguard.model import Incident, Observation, Violation
from truceguard.report.period_text import DIMENSION_TITLES, dimension_value, source_names

if TYPE_CHECKING:
    from truceguard.report.period import Bucket, PeriodReport

# The class prefix of each filter of the appendix (the summary links to "#f-<prefix><k>").
FILTER_PREFIX = {"clause": "c", "side": "s", "zone": "z", "category": "k",
                 "weapon_class": "w", "hotspot": "h"}
SHA_SHOWN = 12  # hex digits of an observation's SHA-256 the appendix shows


@dataclass(frozen=True)
class ObservationLine:
    """One observation of an incident as the appendix shows it (``file``: a short name)."""

    obs_id: int | None
    source: str
    origin: str
    how_known: str
    t_start: int
    file: str
    line: int
    sha256: str
    text: str
    marking: str

    @property
    def sha_shown(self) -> str:
        return self.sha256[:SHA_SHOWN]


@dataclass(frozen=True)
class AppendixRow:
    """An incident and its violations in the report's window (the counted ones first)."""

    incident_id: int
    incident: Incident | None  # None when the viewer's store gave none (never in practice)
    violations: tuple[Violation, ...]
    observations: tuple[ObservationLine, ...]
    classes: str  # the filters the row belongs to ("c0 s1 z0 k0 w0 h3"); "" when not counted

    @property
    def first(self) -> Violation:
        return self.violations[0]

    @property
    def anchor(self) -> str:
        return f"incident-{self.incident_id}"


@dataclass(frozen=True)
class Filter:
    """A value of a dimension (or a hotspot) that the appendix can be narrowed to."""

    anchor: str  # "f-c0": the summary links here
    cls: str  # "c0": the class of the rows it keeps
    title: str  # "Clause"
    label: str  # "live_fire/ceasefire"
    count: int  # counted violations


@dataclass
class Appendix:
    groups: list[tuple[Bucket, list[AppendixRow]]]
    imprecise: list[AppendixRow]
    filters: dict[str, dict[str, Filter]] = field(default_factory=dict)  # dim -> key -> filter
    latest: dict[str, AppendixRow] = field(default_factory=dict)  # hotspot key -> its latest

    @property
    def css(self) -> str:
        """The rules that hide the rows outside the targeted filter."""
        every = [f for by_key in self.filters.values() for f in by_key.values()]
        if not every:
            return ""
        hide = ",".join(f"#{f.anchor}:target~table tr.r:not(.{f.cls})" for f in every)
        return hide + ",.fl:target~table tr.g{display:none}"

    def rows(self) -> list[AppendixRow]:
        return [row for _, rows in self.groups for row in rows] + self.imprecise


def _order(v: Violation) -> tuple[int, float, float, str]:
    """Time, then place and clause: the same order on every backend (ids are per database)."""
    return (v.t_start, v.lat, v.lon, v.clause)


def _filters(report: PeriodReport) -> dict[str, dict[str, Filter]]:
    out: dict[str, dict[str, Filter]] = {}
    for dim, rows in report.breakdowns.items():
        p = FILTER_PREFIX[dim]
        out[dim] = {row.key: Filter(f"f-{p}{k}", f"{p}{k}", DIMENSION_TITLES[dim], row.label,
                                    row.count)
                    for k, row in enumerate(rows) if row.count}
    out["hotspot"] = {h.key: Filter(f"f-h{k}", f"h{k}", "Hotspot", h.place, h.count)
                      for k, h in enumerate(report.hotspots)}
    return out


def _classes(vs: Sequence[Violation], filters: dict[str, dict[str, Filter]],
             hotspot_of: dict[int, str]) -> str:
    found: dict[str, None] = {}
    for v in vs:
        for dim, by_key in filters.items():
            key = hotspot_of.get(v.violation_id) if dim == "hotspot" else dimension_value(v, dim)
            if key is not None and key in by_key:
                found[by_key[key].cls] = None
    return " ".join(found)


def _observations(obs: Sequence[Observation], names: dict[str, str]
                  ) -> tuple[ObservationLine, ...]:
    return tuple(
        ObservationLine(
            obs_id=o.obs_id,
            source=o.source + (f" #{o.source_ref}" if o.source_ref else ""),
            origin=o.origin, how_known=o.how_known, t_start=o.t_start,
            file=names.get(o.source_file, o.source_file), line=o.source_line,
            sha256=o.raw_sha256, text=o.text, marking=o.releasability)
        for o in obs)


def build_appendix(report: PeriodReport) -> Appendix:
    """The appendix of ``report`` (see the module docstring)."""
    filters = _filters(report)
    hotspot_of = {i: h.key for h in report.hotspots for i in h.violation_ids}
    bucket_of = {i: b for b, bk in enumerate(report.buckets) for i in bk.violation_ids}
    by_incident: dict[int, list[Violation]] = {}
    for v in sorted((*report.violations, *report.imprecise), key=_order):
        by_incident.setdefault(v.incident_id, []).append(v)
    names = source_names(o.source_file for os_ in report.observations_by_incident.values()
                         for o in os_)
    groups: list[list[AppendixRow]] = [[] for _ in report.buckets]
    imprecise: list[AppendixRow] = []
    for iid, vs in by_incident.items():
        counted = [v for v in vs if v.p_location >= report.min_p]
        row = AppendixRow(
            incident_id=iid, incident=report.incidents.get(iid),
            violations=tuple(counted + [v for v in vs if v.p_location < report.min_p]),
            observations=_observations(report.observations_by_incident.get(iid, ()), names),
            classes=_classes(counted, filters, hotspot_of))
        if counted and counted[0].violation_id in bucket_of:
            groups[bucket_of[counted[0].violation_id]].append(row)
        else:
            imprecise.append(row)
    out = Appendix(groups=[(b, rows) for b, rows in zip(report.buckets, groups, strict=True)
                           if rows], imprecise=imprecise, filters=filters)
    row_of = {v.violation_id: (v, row) for row in out.rows() for v in row.violations}
    for h in report.hotspots:
        last = max((row_of[i][0] for i in h.violation_ids), key=_order)
        out.latest[h.key] = row_of[last.violation_id][1]
    return out


__all__ = ["Appendix", "AppendixRow", "Filter", "ObservationLine", "build_appendix"]
