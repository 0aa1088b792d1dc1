"""Incident records: what fusion's labels say about each incident.

:func:`summarise_incidents` turns per-observation arrays and incident labels into one record per
incident: position with its uncertainty, time window, votes on category and weapon class,
independent sources and a confidence grade (:mod:`truceguard.judge.grading`).

A record is a function of its incident's :class:`SummaryState`: counts, votes, distinct source
keys, the time hull, and the exact sums of the weights and weighted coordinates (each kept as
the few floats whose exact sum it is, ``exact_sum``). States of disjoint sets of observations
merge exactly (``SummaryState.merge``), so a live step that adds reports to an incident updates
its stored state from the new reports alone (:func:`incident_states`, then ``merge``), and the
record it gives is identical, bit for bit, to the one a full recomputation gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceguard.geo.project import LocalProjection, projection_for
from truceguard.judge.fusion_links import IntArray
from truceguard.judge.grading import Evidence, GradingRules, grade, leading, load_grading

# Categories whose plain reports (not monitors' reports) count as a sighting in a view's
# evidence (``judge.adjudicate.SIGHTING_CATEGORIES``, repeated here to keep this module light).
SIGHTING_CATEGORIES: tuple[str, ...] = ("weapon_presence", "movement")
# Sources whose precision codes may place a report in a region rather than at a point
# (``judge.places.precision_region``); a report of any other source gives a position.
REGION_SOURCES: tuple[str, ...] = ("UCDP GED", "ACLED")


def exact_sum(values: Iterable[float]) -> tuple[float, ...]:
    """The exact sum of ``values`` as non-overlapping floats, largest first: the first is the
    correctly rounded sum (``math.fsum``), each next one the correctly rounded remainder.
    A function of the exact sum alone (whatever the order or grouping of the values), so sums
    kept this way add up exactly: ``exact_sum(a + b)`` of two such tuples is that of all."""
    rest = list(values)
    out: list[float] = []
    while True:
        s = math.fsum(rest)
        if s == 0.0:
            return tuple(out)
        out.append(s)
        if not math.isfinite(s):
            return tuple(out)
        rest.append(-s)


@dataclass
class SummaryState:
    """What an incident's record is computed from, for one set of its observations; states of
    disjoint sets merge exactly (:meth:`merge`).

    ``anchor``: the smallest observation id (-1 when ids were not given); ``s0``, ``sx``,
    ``sy``, ``s2``: the exact sums (``exact_sum``) of the weights ``w``, of ``w*x``, ``w*y``
    and ``w*(x*x + y*y)`` in the projection; ``keys``: the distinct independent-source keys
    (origin, or the source where there is none); ``party``: those among reports a party
    gave; ``trusted``: reports known in a trusted way; ``curated``: reports of curated
    sources; ``reports``: monitors' reports; ``plain_sightings``: other reports of one of
    ``SIGHTING_CATEGORIES``; ``regional``: reports of ``REGION_SOURCES``."""

    n: int = 0
    anchor: int = -1
    s0: tuple[float, ...] = ()
    sx: tuple[float, ...] = ()
    sy: tuple[float, ...] = ()
    s2: tuple[float, ...] = ()
    t_lo: float = math.inf
    t_hi: float = -math.inf
    category_votes: dict[str, int] = field(default_factory=dict)
    weapon_votes: dict[str, int] = field(default_factory=dict)
    keys: frozenset[str] = frozenset()
    party: frozenset[str] = frozenset()
    trusted: int = 0
    curated: int = 0
    reports: int = 0
    plain_sightings: int = 0
    regional: int = 0

    def merge(self, other: SummaryState) -> SummaryState:
        """The state of both sets of observations together (they must be disjoint)."""
        anchors = [a for a in (self.anchor, other.anchor) if a >= 0]
        return SummaryState(
            n=self.n + other.n, anchor=min(anchors) if anchors else -1,
            s0=exact_sum(self.s0 + other.s0), sx=exact_sum(self.sx + other.sx),
            sy=exact_sum(self.sy + other.sy), s2=exact_sum(self.s2 + other.s2),
            t_lo=min(self.t_lo, other.t_lo), t_hi=max(self.t_hi, other.t_hi),
            category_votes=_add_votes(self.category_votes, other.category_votes),
            weapon_votes=_add_votes(self.weapon_votes, other.weapon_votes),
            keys=self.keys | other.keys, party=self.party | other.party,
            trusted=self.trusted + other.trusted, curated=self.curated + other.curated,
            reports=self.reports + other.reports,
            plain_sightings=self.plain_sightings + other.plain_sightings,
            regional=self.regional + other.regional)

    def as_json(self) -> dict[str, Any]:
        """The state as JSON values (floats as Python writes them: they read back exactly)."""
        return {"n": self.n, "anchor": self.anchor, "s0": list(self.s0), "sx": list(self.sx),
                "sy": list(self.sy), "s2": list(self.s2), "t_lo": self.t_lo,
                "t_hi": self.t_hi, "category_votes": self.category_votes,
                "weapon_votes": self.weapon_votes, "keys": sorted(self.keys),
                "party": sorted(self.party), "trusted": self.trusted, "curated": self.curated,
                "reports": self.reports, "plain_sightings": self.plain_sightings,
                "regional": self.regional}

    @classmethod
    def stored(cls, raw: dict[int, dict[int, dict[str, Any]]]
               ) -> dict[int, dict[int, SummaryState]]:
        """States as ``Store.summary_states`` gives them (JSON by incident and marking)."""
        return {p: {m: cls.from_json(d) for m, d in by_mark.items()}
                for p, by_mark in raw.items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SummaryState:
        """The state :meth:`as_json` wrote."""
        return cls(n=int(d["n"]), anchor=int(d["anchor"]), s0=tuple(d["s0"]),
                   sx=tuple(d["sx"]), sy=tuple(d["sy"]), s2=tuple(d["s2"]),
                   t_lo=float(d["t_lo"]), t_hi=float(d["t_hi"]),
                   category_votes=dict(d["category_votes"]),
                   weapon_votes=dict(d["weapon_votes"]), keys=frozenset(d["keys"]),
                   party=frozenset(d["party"]), trusted=int(d["trusted"]),
                   curated=int(d["curated"]), reports=int(d["reports"]),
                   plain_sightings=int(d["plain_sightings"]), regional=int(d["regional"]))


def merge_states(states: Iterable[SummaryState]) -> SummaryState:
    """The state of the union of disjoint sets of observations."""
    out = SummaryState()
    for s in states:
        out = out.merge(s)
    return out


def _add_votes(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def canonical_labels(labels: ArrayLike) -> IntArray:
    """Labels renumbered 0, 1, ... in order of first appearance (same partition)."""
    lab = np.asarray(labels)
    if lab.size == 0:
        return np.empty(0, np.int64)
    _, first, inverse = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    return rank[inverse.reshape(-1)]


def _codes(values: Sequence[str] | NDArray[Any]) -> tuple[NDArray[np.str_], IntArray]:
    arr = np.asarray(values, dtype=str)
    uniq, inv = np.unique(arr, return_inverse=True)
    return uniq, inv.reshape(-1).astype(np.int64)


def _votes(labels: IntArray, values: Sequence[str] | NDArray[Any]) -> list[dict[str, int]]:
    """Per incident, {value: count} (empty values do not vote)."""
    names, code = _codes(values)
    n_inc = int(labels.max()) + 1
    pair, counts = np.unique(labels * len(names) + code, return_counts=True)
    inc, val = np.divmod(pair, len(names))
    out: list[dict[str, int]] = [{} for _ in range(n_inc)]
    for a, b, c in zip(inc.tolist(), val.tolist(), counts.tolist(), strict=True):
        name = str(names[b])
        if name:
            out[a][name] = c
    return out


def _key_sets(lab: IntArray, key_names: NDArray[np.str_], key_code: IntArray, n_inc: int,
              mask: NDArray[np.bool_] | None = None) -> list[frozenset[str]]:
    """Per incident, the distinct keys of its observations (those of ``mask``)."""
    if mask is not None:
        lab, key_code = lab[mask], key_code[mask]
    out: list[frozenset[str]] = [frozenset() for _ in range(n_inc)]
    if lab.size == 0:
        return out
    pair = np.unique(lab * len(key_names) + key_code)
    p_inc, p_key = np.divmod(pair, len(key_names))
    bounds = np.searchsorted(p_inc, np.arange(n_inc + 1))
    names = key_names.tolist()
    for k in np.unique(p_inc).tolist():
        out[k] = frozenset(names[c] for c in p_key[bounds[k] : bounds[k + 1]].tolist())
    return out


def incident_states(
    labels: ArrayLike,
    *,
    lat: ArrayLike,
    lon: ArrayLike,
    uncertainty_m: ArrayLike,
    t_start: ArrayLike,
    t_end: ArrayLike,
    category: Sequence[str] | NDArray[Any],
    weapon_class: Sequence[str] | NDArray[Any],
    source: Sequence[str] | NDArray[Any],
    origin: Sequence[str] | NDArray[Any],
    how_known: Sequence[str] | NDArray[Any],
    obs_id: ArrayLike | None = None,
    curated: ArrayLike | None = None,
    report: ArrayLike | None = None,
    rules: GradingRules | None = None,
    projection: LocalProjection | None = None,
) -> list[SummaryState]:
    """One :class:`SummaryState` per label (labels 0, 1, ..., each used), from per-observation
    arrays as :func:`summarise_incidents` takes them; ``obs_id`` gives the anchors,
    ``curated`` and ``report`` (truthy for a monitor's report) their counts."""
    rules = rules or load_grading()
    lab = np.asarray(labels, dtype=np.int64)
    n = lab.shape[0]
    if n == 0:
        return []
    n_inc = int(lab.max()) + 1
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    proj = projection or projection_for(lon_a, lat_a)
    x, y = proj.forward(lon_a, lat_a)
    unc = np.asarray(uncertainty_m, dtype=np.float64)
    sigma = np.where(np.isnan(unc), rules.default_uncertainty_m, np.maximum(unc, 1.0))
    w = 1.0 / (sigma * sigma)
    terms = [w, w * x, w * y, w * (x * x + y * y)]
    order = np.argsort(lab, kind="stable")
    size = np.bincount(lab, minlength=n_inc)
    bounds = np.concatenate([[0], np.cumsum(size)]).tolist()
    sorted_terms = [t[order].tolist() for t in terms]
    t_lo = np.full(n_inc, np.inf)
    t_hi = np.full(n_inc, -np.inf)
    np.minimum.at(t_lo, lab, np.asarray(t_start, dtype=np.float64))
    np.maximum.at(t_hi, lab, np.asarray(t_end, dtype=np.float64))
    anchor = np.full(n_inc, -1, np.int64)
    if obs_id is not None:
        anchor[:] = np.iinfo(np.int64).max
        np.minimum.at(anchor, lab, np.asarray(obs_id, dtype=np.int64))
    org = np.asarray(origin, dtype=str)
    src = np.asarray(source, dtype=str)
    key_names, key_code = _codes(np.where(org != "", org, src))
    hk = np.asarray(how_known, dtype=str)
    keys = _key_sets(lab, key_names, key_code, n_inc)
    party = _key_sets(lab, key_names, key_code, n_inc, np.isin(hk, list(rules.party_how_known)))
    trusted = np.bincount(lab, weights=np.isin(hk, list(rules.trusted_how_known)),
                          minlength=n_inc).astype(np.int64).tolist()

    def count(flags: ArrayLike | None) -> list[int]:
        if flags is None:
            return [0] * n_inc
        return np.bincount(lab, weights=np.asarray(flags, dtype=bool),
                           minlength=n_inc).astype(np.int64).tolist()

    is_report = (np.zeros(n, dtype=bool) if report is None
                 else np.asarray(report, dtype=bool))
    plain = ~is_report & np.isin(np.asarray(category, dtype=str), SIGHTING_CATEGORIES)
    n_curated, n_reports, n_plain = count(curated), count(is_report), count(plain)
    n_regional = count(np.isin(src, REGION_SOURCES))
    cat_votes = _votes(lab, category)
    weapon_votes = _votes(lab, weapon_class)
    out: list[SummaryState] = []
    for k in range(n_inc):  # one state per incident: building records, not a hot loop
        a, b = bounds[k], bounds[k + 1]
        sums: list[tuple[float, ...]]
        if b - a == 1:  # the sum of one value is that value
            sums = [(t[a],) if t[a] != 0.0 else () for t in sorted_terms]
        else:
            sums = [exact_sum(t[a:b]) for t in sorted_terms]
        out.append(SummaryState(
            n=b - a, anchor=int(anchor[k]), s0=sums[0], sx=sums[1], sy=sums[2], s2=sums[3],
            t_lo=float(t_lo[k]), t_hi=float(t_hi[k]), category_votes=cat_votes[k],
            weapon_votes=weapon_votes[k], keys=keys[k], party=party[k], trusted=trusted[k],
            curated=n_curated[k], reports=n_reports[k], plain_sightings=n_plain[k],
            regional=n_regional[k]))
    return out


def _spread(s: SummaryState) -> float:
    """The weighted RMS distance of the reports from their weighted mean, from the exact sums
    (sum w*d^2 = S2 - (Sx^2 + Sy^2) / S0), computed exactly; 0 for one report."""
    if s.n <= 1:
        return 0.0
    s0 = sum(map(Fraction, s.s0), Fraction(0))
    sx = sum(map(Fraction, s.sx), Fraction(0))
    sy = sum(map(Fraction, s.sy), Fraction(0))
    s2 = sum(map(Fraction, s.s2), Fraction(0))
    var = (s2 * s0 - sx * sx - sy * sy) / (s0 * s0)
    return math.sqrt(max(0.0, float(var)))


def state_records(states: Sequence[SummaryState], rules: GradingRules | None = None,
                  projection: LocalProjection | None = None) -> list[dict[str, Any]]:
    """One record per state, as :func:`summarise_incidents` describes them (without
    ``incident`` and ``observations``). ``projection`` must be the one the states were built
    in (the default: the one :func:`truceguard.geo.projection_for` picks for the means)."""
    rules = rules or load_grading()
    if not states:
        return []
    sw = np.array([s.s0[0] if s.s0 else 0.0 for s in states])
    mx = np.array([s.sx[0] if s.sx else 0.0 for s in states]) / sw
    my = np.array([s.sy[0] if s.sy else 0.0 for s in states]) / sw
    spread = np.array([_spread(s) for s in states])
    radius = np.maximum(np.sqrt(1.0 / sw), spread)
    proj = projection or projection_for(mx, my)
    c_lon, c_lat = proj.inverse(mx, my)
    records: list[dict[str, Any]] = []
    for k, s in enumerate(states):
        ev = Evidence(n_observations=s.n, independent_sources=len(s.keys), trusted=s.trusted,
                      party_origins=len(s.party), category_votes=s.category_votes,
                      weapon_votes=s.weapon_votes)
        g, reason = grade(ev, rules)
        records.append({
            "lat": float(c_lat[k]), "lon": float(c_lon[k]),
            "uncertainty_m": float(radius[k]), "t_start": s.t_lo, "t_end": s.t_hi,
            "category": leading(s.category_votes), "category_votes": s.category_votes,
            "weapon_class": leading(s.weapon_votes), "weapon_votes": s.weapon_votes,
            "independent_sources": ev.independent_sources, "sources": sorted(s.keys),
            "trusted": ev.trusted, "party_origins": ev.party_origins, "grade": g,
            "grade_reason": reason, "n_observations": s.n})
    return records


def summarise_incidents(
    labels: ArrayLike,
    *,
    lat: ArrayLike,
    lon: ArrayLike,
    uncertainty_m: ArrayLike,
    t_start: ArrayLike,
    t_end: ArrayLike,
    category: Sequence[str] | NDArray[Any],
    weapon_class: Sequence[str] | NDArray[Any],
    source: Sequence[str] | NDArray[Any],
    origin: Sequence[str] | NDArray[Any],
    how_known: Sequence[str] | NDArray[Any],
    rules: GradingRules | None = None,
    projection: LocalProjection | None = None,
) -> list[dict[str, Any]]:
    """One record per incident (in label order) from per-observation arrays.

    Each record: ``incident`` (label), ``observations`` (input indices), ``lat``/``lon`` (the
    inverse-variance weighted position; a report without uncertainty counts with the rules'
    ``default_uncertainty_m``), ``uncertainty_m`` (the larger of the weighted mean's standard
    error and the weighted RMS spread of the reports around it, so that disagreeing reports
    widen it), ``t_start``/``t_end`` (the hull of the windows), ``category`` and
    ``weapon_class`` (the leading vote) with ``category_votes`` and ``weapon_votes`` (every
    vote, so conflicts stay visible), ``independent_sources`` (distinct origins, the source
    standing in for a missing origin) with ``sources``, ``trusted``, ``party_origins``, and
    ``grade`` with ``grade_reason`` from :mod:`truceguard.judge.grading`. Computed from each
    incident's :class:`SummaryState` (:func:`state_records`).
    """
    lab = canonical_labels(labels)
    if lab.shape[0] == 0:
        return []
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    proj = projection or projection_for(lon_a, lat_a)
    states = incident_states(lab, lat=lat_a, lon=lon_a, uncertainty_m=uncertainty_m,
                             t_start=t_start, t_end=t_end, category=category,
                             weapon_class=weapon_class, source=source, origin=origin,
                             how_known=how_known, rules=rules, projection=proj)
    order = np.argsort(lab, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(lab))]).tolist()
    records = state_records(states, rules, proj)
    for k, r in enumerate(records):
        r["incident"] = k
        r["observations"] = order[bounds[k] : bounds[k + 1]].tolist()
        del r["n_observations"]
    return records
