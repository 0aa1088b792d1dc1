"""The judging pipeline over a store: fuse observations into incidents, adjudicate them
against terms, and change a violation's status. The CLI, the server and the tests call these.

The pure functions (``judge.fusion``, ``judge.adjudicate``) work on arrays; this module feeds
them from the store through the ``Store`` protocol and writes their results back.

Identity: an incident is anchored on the smallest ``obs_id`` among its observations, so a full
recomputation and any sequence of incremental fusions give the same incidents; its id is a
keyed hash of that anchor (``incident_id_for``) with the database's secret, so the id reveals
nothing about the observations behind it (no viewer can tell from it that a hidden report
exists). A violation, keyed by terms version, incident, view and clause, keeps its status
trail across re-fusion as long as its incident keeps its anchor.

Releasability (views): a viewer sees an incident as computed from exactly the observations
releasable to them. For each incident the store keeps one summary ("view") per set of its
observations that some viewer may see: with markings D among its observations, the views are
the subsets of D a viewer can hold (the owner's, each nation's and group's, and those of
viewers of several nations at once, ``marking.Viewer``: see ``_view_sigs``). Each view
is adjudicated on its own; a view's marking is the narrowing of its observations' markings. So
a PUBLIC viewer's incident, and its violations, stay exactly what the PUBLIC reports say when a
restricted report joins the incident later. Fusion itself groups all observations (the owner's
truth): which reports form one incident is decided on everything.

Violations are never deleted and their status trail is append-only: adjudicating again appends
``withdrawn`` to a violation whose view no longer breaches the clause (re-fused, moved, judged
under a newer terms version), and ``new`` again if it comes back.

Review (``set_violation_status``, ``REVIEW_FLOW``): two-person sign-off. One analyst verifies
a violation; it is published only when a second analyst, not the one who verified it, confirms
it, or that analyst returns it to ``under_review`` with the reason. Every decision names who
made it and why, and goes to the status trail and the audit log in one transaction.
``review_queue`` lists what awaits a second analyst.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from truceguard.errors import ForbiddenError, InputError, unknown_value
from truceguard.geo.project import UKRAINE_EAST, LocalProjection
from truceguard.judge.adjudicate import adjudicate
from truceguard.judge.evidence import ViewEvidence, view_evidence, view_seed
from truceguard.judge.fusion import FusionParams, Points, cluster_labels, fuse_incremental
from truceguard.judge.grading import GradingRules, load_grading
from truceguard.judge.incident_summary import (
    SummaryState,
    incident_states,
    merge_states,
    state_records,
)
from truceguard.judge.places import PlaceRegion, describe_locations, view_regions
from truceguard.judge.severity import view_killed
from truceguard.judge.terms import Terms
from truceguard.marking import Marking, Viewer, most_restrictive, vocabulary
from truceguard.model import (
    DECISION_RETURNED,
    REVIEW_DECISIONS,
    STATUS_PUBLISHED,
    STATUS_VERIFIED,
    STATUS_WITHDRAWN,
    Incident,
    Observation,
    StatusChange,
    Violation,
    iso,
    utc_now,
)
from truceguard.store.base import (
    FusionRun,
    IncidentView,
    JudgedViolation,
    ObservationFilter,
    Store,
    ViolationFilter,
)
from truceguard.store.incidents import IncidentTables

FUSION_STEPS = ("reading observations", "linking reports", "summarising incidents",
                "writing incidents")
MAX_VIEWS = 256  # views kept per incident (see _view_sigs)


@dataclass
class FusionSummary:
    """What a fusion did. ``observations`` counts those it looked at (all for a full fusion;
    the new ones and their neighbourhood for an incremental one)."""

    mode: str
    observations: int
    incidents: int
    changed_incidents: int
    new_observations: int
    merged: int
    seconds: float
    written: list[int] = field(default_factory=list)  # incidents whose views were (re)written
    removed: list[int] = field(default_factory=list)  # incidents merged away


@dataclass
class AdjudicationSummary:
    terms: str
    terms_version: str
    incidents: int
    violations: int
    new: int
    withdrawn: int
    by_clause: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    new_ids: list[int] = field(default_factory=list)  # violations that became "new" now
    threshold: float = 0.0  # the reporting threshold of p_location (grading.yaml)
    below_threshold: dict[str, int] = field(default_factory=dict)  # of by_clause, p < threshold

    @property
    def n_below_threshold(self) -> int:
        return sum(self.below_threshold.values())


def incident_id_for(key: bytes, anchors: np.ndarray) -> np.ndarray:
    """Opaque incident ids: a keyed BLAKE2b hash of each anchor observation id, 53 bits (so a
    JSON number holds it exactly). One hash per incident, not per observation."""
    out = np.empty(anchors.size, dtype=np.int64)
    for i, a in enumerate(anchors.tolist()):
        d = hashlib.blake2b(int(a).to_bytes(8, "big"), key=key[:64], digest_size=8).digest()
        out[i] = (int.from_bytes(d, "big") >> 11) or 1
    return out


def _points(a: dict[str, np.ndarray], idx: np.ndarray, proj: LocalProjection) -> Points:
    x, y = proj.forward(a["lon"][idx], a["lat"][idx])
    return Points.of(x, y, a["t_start"][idx], a["t_end"][idx], a["uncertainty_m"][idx])


def _view_sigs(d: tuple[int, ...], markings: dict[int, Marking]) -> list[tuple[int, ...]]:
    """The observation marking sets some viewer of an incident with markings ``d`` may hold.

    One audience (a nation with its groups, or one group) sees the markings of ``d`` that share
    a code with it; only the codes ``d`` names (and the countries of its groups) can see more
    than the PUBLIC ones. A viewer of several audiences sees what all of them see: the
    intersection of their sets. So the sets are the owner's (all of ``d``), each audience's,
    and their intersections (closed under intersection, at most ``MAX_VIEWS`` of them; past
    that, the owner's and each single audience's)."""
    voc = vocabulary()
    named: set[str] = set()
    for m in d:
        codes = markings[m].codes or frozenset()
        for c in codes:
            named |= voc.expand(c) | {c}
    audiences = {Viewer.of(c) for c in sorted(named)}
    singles = {tuple(m for m in d if v.may_see(markings[m])) for v in audiences}
    singles.add(tuple(m for m in d if markings[m].is_public))  # any other audience
    sigs = set(singles) | {d}
    frontier = set(sigs)
    while frontier and len(sigs) <= MAX_VIEWS:
        new = {tuple(sorted(set(a) & set(b))) for a in frontier for b in singles} - sigs
        sigs |= new
        frontier = new
    if len(sigs) > MAX_VIEWS:
        sigs = set(singles) | {d}
    return sorted(s for s in sigs if s)


def _key(sig: Sequence[int]) -> str:
    return ",".join(str(m) for m in sig)


def fuse_store(
    store: Store,
    params: FusionParams | None = None,
    *,
    full: bool = False,
    rules: GradingRules | None = None,
    projection: LocalProjection = UKRAINE_EAST,
    pending: dict[str, np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
) -> FusionSummary:
    """Fuse the store's observations into incidents (incrementally unless ``full``).

    ``pending`` (incremental only): fuse just these unfused observations (rows of
    ``store.fusion_arrays(unfused=True)``) now, the others later; fusion is exact whatever
    the order, so a live loop may fuse light work before heavy work. ``progress`` is called
    with the name of each of the ``FUSION_STEPS`` as it starts."""
    step = progress or (lambda _name: None)
    step(FUSION_STEPS[0])
    started = time.perf_counter()
    params = params or FusionParams()
    rules = rules or load_grading()
    # The curated-source rule is part of the parameters: incidents fused before it do not hold.
    params_json = json.dumps({**vars(params), "curated_sources_never_self_fuse": True},
                             sort_keys=True)
    last = store.last_fusion_params()
    if last is not None and last != params_json:
        full = True  # other parameters: earlier incidents do not hold any more
    if not full and last is not None:
        from truceguard.pipeline_incremental import fuse_step

        if pending is None:
            pending = store.fusion_arrays(unfused=True)
        quick = fuse_step(store, params, params_json, pending, rules, projection, step)
        if quick is not None:  # a live step that read no incident in full
            return quick
    a = (store.fusion_arrays() if full or last is None
         else _neighbourhood(store, params, pending))
    n = a["obs_id"].size
    old = np.flatnonzero(a["incident_id"] >= 0)
    new = np.flatnonzero(a["incident_id"] < 0)
    mode = "full" if full or last is None else "incremental"
    merged = 0
    step(FUSION_STEPS[1])
    if n == 0 or (mode == "incremental" and new.size == 0):
        labels = np.zeros(0, np.int64)
        affected = np.zeros(0, np.int64)
        a = {k: v[:0] for k, v in a.items()}
        n = 0
    elif mode == "full" or old.size == 0:
        labels = cluster_labels(_points(a, np.arange(n), projection), params,
                                curated_group=_curated_groups(a, np.arange(n)))
        affected = np.arange(n)
    else:
        order = np.concatenate([old, new])
        res = fuse_incremental(_points(a, old, projection), a["incident_id"][old],
                               _points(a, new, projection), params,
                               curated_group=_curated_groups(a, order))
        merged = len(res.merged)
        labels = np.empty(n, np.int64)
        labels[order] = res.labels
        touched = (set(res.labels[old.size :].tolist()) | set(res.merged.values())
                   | set(res.changed))
        affected = np.flatnonzero(np.isin(labels, np.fromiter(touched, np.int64, len(touched))))
    # The anchor of each group: its smallest obs_id; the id: the anchor's keyed hash.
    if n:
        uniq, inverse = np.unique(labels, return_inverse=True)
        anchors = np.full(uniq.size, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(anchors, inverse, a["obs_id"])
        inc_of = incident_id_for(store.incident_key(), anchors)[inverse]
    else:
        inc_of = labels
    step(FUSION_STEPS[2])
    views, states = _views(store, a, affected, inc_of[affected] if n else affected, rules,
                           projection, params)
    step(FUSION_STEPS[3])
    changed = affected[a["incident_id"][affected] != inc_of[affected]] if n else affected
    before = set(a["incident_id"][old].tolist()) if n else set()
    removed = sorted(before - set(inc_of.tolist()))
    run = FusionRun(params_json, mode, int(new.size) if mode == "incremental" else n)
    if isinstance(store, IncidentTables):  # a SQL store keeps the states for the live steps
        n_inc = store.write_fusion(run, removed, a["obs_id"][changed], inc_of[changed], views,
                                   states=states)
    else:
        n_inc = store.write_fusion(run, removed, a["obs_id"][changed], inc_of[changed], views)
    written = sorted({v.incident.incident_id for v in views})
    return FusionSummary(
        mode=mode, observations=n, incidents=n_inc, changed_incidents=len(written),
        new_observations=int(new.size), merged=merged, seconds=time.perf_counter() - started,
        written=written, removed=removed)


def stored_params(store: Store) -> FusionParams | None:
    """The parameters of the store's last fusion (None before the first), so that a live
    loop fuses on as the analyst last chose."""
    last = store.last_fusion_params()
    if last is None:
        return None
    given = json.loads(last)
    return FusionParams(**{k: given[k] for k in vars(FusionParams()) if k in given})


def _curated_groups(a: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Per observation of ``idx``: its curated source's group (one per source name), or -1
    for a report that is not from a curated source. Two reports of one curated group never
    share an incident (``judge.fusion``)."""
    curated = a["curated"][idx].astype(bool)
    out = np.full(idx.size, -1, np.int64)
    if curated.any():
        _, codes = np.unique(a["source"][idx][curated].astype(str), return_inverse=True)
        out[curated] = codes
    return out


NEIGHBOURHOOD_CELL_DEG = 0.5


def _neighbourhood(store: Store, params: FusionParams,
                   pending: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The unfused observations (or ``pending``) and every incident they could join or merge:
    the fused observations within link reach of them (two links for min_samples > 1, where a
    new report can make an old one a core point), with all the members of those incidents.
    Reach is looked up around each half-degree cell of new reports, so reports far apart do
    not load everything between them."""
    new = store.fusion_arrays(unfused=True) if pending is None else pending
    if new["obs_id"].size == 0:
        return new
    hops = 1 if params.min_samples == 1 else 2
    reach_m = hops * (params.eps_m + 2.0 * params.max_link_uncertainty_m) + 1.0
    reach_s = hops * params.eps_s + 1.0
    touched = _within_reach(store, new, reach_m, reach_s)
    if not touched:
        return new
    members = store.fusion_arrays(incident_ids=sorted(touched))
    # The curated rule may have split a chain of reports into several incidents; whether it
    # splits them differently now depends on all of them: take every incident within reach
    # of the ones loaded, until no more come.
    while members["curated"].any() or new["curated"].any():
        more = _within_reach(store, members, reach_m, reach_s) - touched
        if not more:
            break
        touched |= more
        members = store.fusion_arrays(incident_ids=sorted(touched))
    members = subset(members, np.flatnonzero(~np.isin(members["obs_id"], new["obs_id"])))
    both = np.concatenate([new["obs_id"], members["obs_id"]])
    order = np.argsort(both, kind="stable")
    return {k: np.concatenate([new[k], members[k]])[order] for k in new}


def _within_reach(store: Store, a: dict[str, np.ndarray], reach_m: float, reach_s: float
                  ) -> set[int]:
    """The incidents with a fused observation within reach of the observations ``a``,
    looked up around each half-degree cell of them."""
    dlat = reach_m / 111_000.0
    touched: set[int] = set()
    for idx in cell_groups(a["lat"], a["lon"]):
        lat, lon = a["lat"][idx], a["lon"][idx]
        coslat = max(np.cos(np.radians(min(89.0, float(np.nanmax(np.abs(lat))) + dlat))), 1e-3)
        dlon = dlat / coslat
        window = (float(np.nanmin(lon)) - dlon, float(np.nanmin(lat)) - dlat,
                  float(np.nanmax(lon)) + dlon, float(np.nanmax(lat)) + dlat,
                  float(np.nanmin(a["t_start"][idx])) - reach_s,
                  float(np.nanmax(a["t_end"][idx])) + reach_s)
        touched |= set(store.fusion_arrays(window=window)["incident_id"].tolist())
    touched.discard(-1)
    return touched


def cell_groups(lat: np.ndarray, lon: np.ndarray,
                size_deg: float = NEIGHBOURHOOD_CELL_DEG) -> list[np.ndarray]:
    """Indices of the points in each cell of ``size_deg`` degrees (the cells that hold any)."""
    key = (np.floor(np.nan_to_num(lat) / size_deg).astype(np.int64) * 100_000
           + np.floor(np.nan_to_num(lon) / size_deg).astype(np.int64))
    _, inverse = np.unique(key, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def subset(a: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """Rows ``idx`` of column arrays ``a``."""
    return {k: v[idx] for k, v in a.items()}


def _views(store: Store, a: dict[str, np.ndarray], idx: np.ndarray, incident_ids: np.ndarray,
           rules: GradingRules, projection: LocalProjection, params: FusionParams
           ) -> tuple[list[IncidentView], list[tuple[int, int, SummaryState]]]:
    """The views of the incidents of observations ``idx`` (see the module docstring), and the
    summary states of those incidents per marking (what ``store.write_fusion`` keeps for the
    next live step). A view whose reports do not link on their own (the reports only others
    may see bridged them) is split into its connected parts, each with its own opaque id
    (that of its smallest observation), so that no viewer learns of a bridge they may not
    see. Every view's record is computed from a summary state: the merge of its markings'
    states, or a part's own."""
    if idx.size == 0:
        return [], []
    mid = a["marking_id"][idx]
    markings = store.markings()
    uniq, local = np.unique(incident_ids, return_inverse=True)
    local = local.reshape(-1)
    width = int(mid.max()) + 1
    code = local * width + mid
    pair, pair_lab = np.unique(code, return_inverse=True)
    per_states = _states(a, idx, pair_lab.reshape(-1), rules, projection)
    per = np.split(pair % width, np.searchsorted(pair // width, np.arange(1, uniq.size)))
    first = np.searchsorted(pair // width, np.arange(uniq.size))
    # (incident number, all its markings, the view's markings, a part's rows or None), state
    made: list[tuple[int, tuple[int, ...], tuple[int, ...], np.ndarray | None]] = []
    states: list[SummaryState] = []
    kept: list[tuple[int, int, SummaryState]] = []
    order = np.argsort(local, kind="stable")
    bounds = np.searchsorted(local[order], np.arange(uniq.size + 1))
    for k in range(uniq.size):  # one incident at a time: building records, not a hot loop
        d = tuple(int(m) for m in per[k])
        mine = {m: per_states[int(first[k]) + n] for n, m in enumerate(d)}
        kept += [(int(uniq[k]), m, st) for m, st in mine.items()]
        for sig in ([d] if len(d) == 1 else _view_sigs(d, markings)):
            parts: list[np.ndarray] = []
            if sig != d:
                rows = order[bounds[k] : bounds[k + 1]]
                keep = rows[np.isin(mid[rows], sig)]
                found = _parts(a, idx[keep], params, projection)
                parts = [keep[part] for part in found] if len(found) > 1 else []
            if not parts:
                made.append((k, d, sig, None))
                states.append(merge_states(mine[m] for m in sig))
                continue
            for rows_of_part in parts:
                made.append((k, d, sig, idx[rows_of_part]))
                states.append(_states(a, idx[rows_of_part], np.zeros(rows_of_part.size,
                                                                     np.int64),
                                      rules, projection)[0])
    recs = state_records(states, rules, projection)
    out: list[IncidentView] = []
    mark_cache: dict[tuple[int, ...], tuple[int, Marking]] = {}
    key = store.incident_key()
    for r, (k, d, sig, part_rows) in zip(recs, made, strict=True):
        if sig not in mark_cache:
            narrowed = most_restrictive(markings[m] for m in sig)
            mark_cache[sig] = (store.marking_id(narrowed), narrowed)
        mark, marking = mark_cache[sig]
        own_id, members_of = int(uniq[k]), tuple[int, ...]()
        if part_rows is not None:  # a part: its own id, from its smallest observation
            ids = np.sort(a["obs_id"][part_rows])
            own_id = int(incident_id_for(key, ids[:1])[0])
            members_of = tuple(int(i) for i in ids)
        out.append(IncidentView(incident_of(own_id, r, marking), _key(sig), _key(d), mark,
                                int(uniq[k]), members_of))
    return out, kept


def incident_of(incident_id: int, r: dict[str, Any], marking: Marking) -> Incident:
    """The stored incident of a summary record (``state_records``) under ``marking``."""
    return Incident(
        incident_id=incident_id, t_start=int(r["t_start"]), t_end=int(r["t_end"]),
        lat=round(r["lat"], 7), lon=round(r["lon"], 7),
        uncertainty_m=round(r["uncertainty_m"], 1),
        category=r["category"] or "other", category_votes=r["category_votes"],
        weapon_class=r["weapon_class"] or "unknown", weapon_votes=r["weapon_votes"],
        n_observations=r["n_observations"], n_sources=r["independent_sources"],
        grade=r["grade"], grade_reason=r["grade_reason"], releasability=marking.text)


def _states(a: dict[str, np.ndarray], rows: np.ndarray, labels: np.ndarray,
            rules: GradingRules, projection: LocalProjection) -> list[SummaryState]:
    """Summary states of observations ``rows`` of ``a`` by ``labels`` (0, 1, ...)."""
    return incident_states(
        labels, lat=a["lat"][rows], lon=a["lon"][rows], uncertainty_m=a["uncertainty_m"][rows],
        t_start=a["t_start"][rows], t_end=a["t_end"][rows],
        category=a["category"][rows].astype(str), weapon_class=a["weapon_class"][rows].astype(str),
        source=a["source"][rows].astype(str), origin=a["origin"][rows].astype(str),
        how_known=a["how_known"][rows].astype(str), obs_id=a["obs_id"][rows],
        curated=a["curated"][rows], report=a["report"][rows], rules=rules, projection=projection)


def _parts(a: dict[str, np.ndarray], rows: np.ndarray, params: FusionParams,
           projection: LocalProjection) -> list[np.ndarray]:
    """The connected parts (positions into ``rows``) of observations ``rows`` fused on their
    own, with the same parameters and curated rule; one part when they link without help."""
    if rows.size <= 1:
        return [np.arange(rows.size)]
    labels = cluster_labels(_points(a, rows, projection), params,
                            curated_group=_curated_groups(a, rows))
    if np.all(labels == labels[0]):
        return [np.arange(rows.size)]
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)


def _side_codes(terms: Terms, sides: Sequence[str | None]) -> np.ndarray:
    """Side ids as ``adjudicate``'s actor codes: 0, 1, or -1 (unknown, or not a side of
    ``terms``)."""
    ids = {side.id: k for k, side in enumerate(terms.sides)}
    return np.array([ids.get(s or "", -1) for s in sides], dtype=np.int8)


def views_evidence(store: Store, v: dict[str, np.ndarray]) -> list[ViewEvidence]:
    """Per view of ``v`` (``store.view_arrays``): its sighting and firing evidence, from the
    reports of that view alone (its markings; a part's own members).

    What a view's evidence reads: its monitors' reports, and whether any other report of it
    is of a sighting category (that one makes it a sighting and not the monitors' own). An
    incident with stored summary states answers the second from them, so only its monitors'
    reports are read (a chained track of thousands of sightings is not); the others read
    every report of theirs that is a monitor's or a sighting."""
    from truceguard.judge.adjudicate import SIGHTING_CATEGORIES

    n = v["incident_id"].size
    sights = np.isin(v["category"].astype(str), SIGHTING_CATEGORIES)
    parents = sorted({int(x) for x in v["parent_id"]})
    stored: dict[int, dict[int, SummaryState]] = {}
    if isinstance(store, IncidentTables):
        split = {int(p) for p, m in zip(v["parent_id"], v["members"], strict=True) if m}
        stored = {p: st for p, st in SummaryState.stored(store.summary_states(parents)).items()
                  if p not in split}
    by_parent: dict[int, list[tuple[int, Observation]]] = {}
    slow = [p for p in parents if p not in stored]
    quick = [p for p in stored if any(st.reports for st in stored[p].values())]
    found_rows = (store.evidence_observations(slow, SIGHTING_CATEGORIES) if slow else [])
    if quick and isinstance(store, IncidentTables):
        found_rows += store.monitor_reports(quick)
    for mid, obs in found_rows:
        by_parent.setdefault(int(obs.incident_id or 0), []).append((mid, obs))
    out = []
    for i in range(n):
        parent = int(v["parent_id"][i])
        sig = {int(m) for m in str(v["sig"][i]).split(",")}
        members = by_parent.get(parent, [])
        plain = (sum(st.plain_sightings for m, st in stored[parent].items() if m in sig)
                 if parent in stored else 0)
        if not members and not plain:
            out.append(ViewEvidence(bool(sights[i]), None))
            continue
        part = {int(m) for m in str(v["members"][i]).split(",") if m}
        mine = [o for mid, o in members if mid in sig and (not part or o.obs_id in part)]
        found = view_evidence(mine, seed=view_seed(int(v["incident_id"][i]), str(v["sig"][i])),
                              sighting_categories=SIGHTING_CATEGORIES)
        if plain:  # a plain sighting report: a sighting, and not the monitors' own activity
            found = replace(found, sighting=True, by_monitors=False)
        if sights[i] and not found.sighting:
            found = replace(found, sighting=True)
        out.append(found)
    return out


def _view_regions(store: Store, v: dict[str, np.ndarray]) -> list[PlaceRegion | None]:
    """``view_regions`` of the views of ``v``, asked only of those that may have one: a view
    (not a part) whose summary states count a report of a source other than
    ``REGION_SOURCES`` has none (that report gives a position), found without reading its
    reports (a chained track of thousands is not read)."""
    n = int(v["incident_id"].size)
    parents = sorted({int(p) for p in v["parent_id"]})
    stored = (SummaryState.stored(store.summary_states(parents))
              if isinstance(store, IncidentTables) else {})
    ask = []
    for i in range(n):
        by_mark = stored.get(int(v["parent_id"][i]))
        if by_mark is None or v["members"][i]:
            ask.append(i)
            continue
        mine = [st for m, st in by_mark.items() if str(m) in str(v["sig"][i]).split(",")]
        if sum(st.n for st in mine) == sum(st.regional for st in mine):
            ask.append(i)
    out: list[PlaceRegion | None] = [None] * n
    if ask:
        idx = np.array(ask, np.int64)
        for i, r in zip(ask, view_regions(store, subset(v, idx)), strict=True):
            out[i] = r
    return out


def adjudicate_store(store: Store, terms: Terms, incident_ids: Sequence[int] | None = None
                     ) -> AdjudicationSummary:
    """Judge incident views against ``terms`` (all of them, or those of ``incident_ids``, e.g.
    what a fusion wrote or removed); record new and withdrawn violations (appended to their
    trails, never edited away)."""
    started = time.perf_counter()
    version = str(terms.version)
    v = store.view_arrays(incident_ids)
    existing = store.violation_keys(terms.name, incident_ids)
    from truceguard.judge.grading import report_threshold

    summary = AdjudicationSummary(terms=terms.name, terms_version=version,
                                  incidents=int(np.unique(v["incident_id"]).size),
                                  violations=0, new=0, withdrawn=0,
                                  threshold=report_threshold())
    current: set[tuple[str, int, str, str]] = set()
    inserts: list[JudgedViolation] = []
    updates: list[tuple[int, JudgedViolation]] = []
    trail: list[tuple[int | tuple[str, int, str, str], StatusChange]] = []
    now = utc_now()
    why_new = f"adjudicated against {terms.name} version {version}"
    if v["incident_id"].size:
        lon, lat, unc = v["lon"], v["lat"], v["uncertainty_m"]
        evidence = views_evidence(store, v)
        regions = _view_regions(store, v)
        adj = adjudicate(terms, lon, lat, v["t_start"], v["category"], v["weapon_class"],
                         uncertainty_m=unc, sighting=[e.sighting for e in evidence],
                         firing=[e.firing for e in evidence],
                         monitor=[e.by_monitors for e in evidence],
                         actor_side=_side_codes(terms, [e.actor_side for e in evidence]),
                         region=[r.polygon if r else None for r in regions],
                         killed=view_killed(store, v))
        hit = np.unique(adj.incident)
        texts = dict(zip(hit.tolist(), describe_locations(
            lon[hit], lat[hit], terms, uncertainty_m=unc[hit], p_side=adj.p_side[hit],
            regions=[regions[i] for i in hit.tolist()], side=adj.location.side[hit]),
            strict=True))
        p = adj.placement
        controlled_by = adj.controlled_by
        for i, c, s, pl in zip(adj.incident.tolist(), adj.clause.tolist(),
                               adj.severity.tolist(), adj.p_location.tolist(), strict=True):
            clause = adj.clause_ids[c]
            key = (version, int(v["incident_id"][i]), str(v["sig"][i]), clause)
            current.add(key)
            viol = Violation(
                violation_id=0, terms=terms.name, terms_version=version, clause=clause,
                severity=int(s), status="new", incident_id=key[1], t_start=int(v["t_start"][i]),
                t_end=int(v["t_end"][i]), lat=float(lat[i]), lon=float(lon[i]),
                uncertainty_m=float(unc[i]), controlled_by=str(controlled_by[i]),
                p_side=round(float(adj.p_side[i]), 4),
                signed_distance_m=float(p.signed_m[i]),
                zone=adj.zone_ids[int(p.zone[i])] if p.zone[i] >= 0 else "",
                p_location=round(float(pl), 4), location_text=texts[i],
                category=str(v["category"][i]), weapon_class=str(v["weapon_class"][i]),
                fired_from=adj.fired_from(i)[0], p_fired_from=adj.fired_from(i)[1])
            judged = JudgedViolation(viol, key[2], int(v["marking_id"][i]),
                                     int(v["parent_id"][i]))
            prior = existing.get(key)
            if prior is None:
                inserts.append(judged)
                trail.append((key, StatusChange(0, now, "new", "truceguard", why_new)))
                summary.new += 1
            else:
                updates.append((prior[0], judged))
                if prior[1] == STATUS_WITHDRAWN:
                    trail.append((prior[0], StatusChange(0, now, "new", "truceguard", why_new)))
                    summary.new += 1
            summary.by_clause[clause] = summary.by_clause.get(clause, 0) + 1
            if viol.p_location < summary.threshold:
                summary.below_threshold[clause] = summary.below_threshold.get(clause, 0) + 1
    for key, (vid, status) in existing.items():
        if key not in current and status != STATUS_WITHDRAWN:
            why = (f"superseded: {terms.name} version {version} replaces version {key[0]}"
                   if key[0] != version else
                   "the incident no longer breaches this clause (re-fused or moved)")
            trail.append((vid, StatusChange(0, now, STATUS_WITHDRAWN, "truceguard", why)))
            summary.withdrawn += 1
    store.write_violations(inserts, updates, trail)
    store.record_judged(terms.name, version)
    fresh = {ref for ref, change in trail if change.status == "new"}
    if fresh:
        keys = store.violation_keys(terms.name, sorted({int(p) for p in v["parent_id"]}))
        summary.new_ids = sorted(ref if isinstance(ref, int) else keys[ref][0] for ref in fresh)
    summary.violations = len(current)
    summary.seconds = time.perf_counter() - started
    return summary


# The review, as data: what each decision (``truceguard review --status``) may follow, and the
# status it gives. ``returned`` is a second analyst's disagreement: back to ``under_review``.
# A published violation, and a withdrawn one, change only when re-adjudication changes them.
REVIEW_FLOW: dict[str, tuple[tuple[str, ...], str]] = {
    "under_review": (("new", "verified", "discounted"), "under_review"),
    "verified": (("new", "under_review", "discounted"), STATUS_VERIFIED),
    "published": ((STATUS_VERIFIED,), STATUS_PUBLISHED),
    DECISION_RETURNED: ((STATUS_VERIFIED,), "under_review"),
    "discounted": (("new", "under_review", "verified"), "discounted"),
}
MAX_REASON = 2000  # characters of a status change's reason (--why)


def same_person(a: str, b: str) -> bool:
    """Whether two names of deciders are the same person (case and spacing aside)."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _check_reason(who: str, why: str) -> None:
    if not who:
        raise InputError(f"--by {who!r}: a status change needs who decides it",
                         hint="give your name with --by (the API takes it from your token)",
                         code="input.missing_reviewer")
    if not why:
        raise InputError(f"--why {why!r}: a status change needs a reason",
                         hint="say why, in up to 2,000 characters", code="input.missing_reason")
    if len(why) > MAX_REASON:
        raise InputError(f"--why {why[:40]!r}... is {len(why):,} characters long; at most "
                         f"{MAX_REASON:,}", hint="say why in short; put the long account in "
                         "an observation's text", code="input.reason_too_long")


def _next_status(violation_id: int, decision: str, current: str, trail: list[StatusChange],
                 who: str) -> str:
    """The status ``decision`` gives a violation that is ``current`` now, or the error that
    refuses it."""
    follows, to = REVIEW_FLOW[decision]
    review = f"`truceguard review {violation_id}`"
    if current == STATUS_PUBLISHED:
        raise InputError(f"violation {violation_id} is already published; {decision!r} cannot "
                         "follow", hint="a published finding changes only when re-adjudication "
                         "withdraws it", code="input.already_published")
    if current == STATUS_WITHDRAWN:
        raise InputError(f"violation {violation_id} is withdrawn; {decision!r} cannot follow",
                         hint="re-adjudication withdrew it: the incident no longer breaches "
                         "the clause; it comes back as new if it breaches again",
                         code="input.withdrawn")
    if current not in follows:
        if decision in (STATUS_PUBLISHED, DECISION_RETURNED):
            raise InputError(f"violation {violation_id} is {current!r}, not verified: only a "
                             f"verified violation can be {decision}",
                             hint=f"one analyst verifies it first ({review} --status "
                                  "verified), then a second one publishes or returns it",
                             code="input.not_verified")
        raise InputError(f"violation {violation_id} is {current!r} already", hint=(
            "to confirm a verified violation, a second analyst publishes it"
            if current == STATUS_VERIFIED else f"from {current} it may become: " + ", ".join(
                d for d, (f, _) in REVIEW_FLOW.items() if current in f)),
            code="input.same_status")
    if decision == STATUS_PUBLISHED:
        verifier = next((c.who for c in reversed(trail) if c.status == STATUS_VERIFIED), "")
        if same_person(verifier, who):
            raise ForbiddenError(f"{who!r} verified violation {violation_id} and so cannot "
                                 "also publish it", hint="a second analyst, not the one who "
                                 "verified it, publishes it (`truceguard review --queue` "
                                 "lists what awaits one)", code="forbidden.same_analyst")
    return to


def set_violation_status(store: Store, violation_id: int, status: str, who: str, why: str
                         ) -> list[StatusChange]:
    """Append a person's decision (who, and why) to a violation's status trail; the trail.

    ``status`` is one of ``REVIEW_DECISIONS``, allowed as ``REVIEW_FLOW`` says: a violation
    is published only by a second analyst, not the one who verified it. The trail entry, the
    audit log entry (``violation.status``: violation id, from, to, the decision and the
    reason) and, on publication, the alerts owed beyond the team (``store.owe_published``)
    are written in one transaction, with the violation held against other writers."""
    if status not in REVIEW_DECISIONS:
        raise unknown_value("status", status, REVIEW_DECISIONS, code="input.bad_status")
    who, why = who.strip(), why.strip()
    _check_reason(who, why)
    with store.transaction():
        current = store.lock_violation(violation_id)
        to = _next_status(violation_id, status, current, store.status_trail(violation_id), who)
        store.append_status(violation_id, StatusChange(0, utc_now(), to, who, why))
        if to == STATUS_PUBLISHED:
            store.owe_published(violation_id, time.time())
        returned = current == STATUS_VERIFIED and to == "under_review"
        store.audit(who, "violation.status", {"violation_id": violation_id, "from": current,
                    "to": to, "decision": DECISION_RETURNED if returned else status, "reason": why})
    return store.status_trail(violation_id)


def listed_statuses(statuses: Sequence[str], published_only: bool, *, style: str = "cli"
                    ) -> tuple[str, ...]:
    """The statuses a listing keeps: those asked for, or with ``published_only`` the published
    ones (the findings two analysts confirmed). ``style`` names the options as the CLI or the
    API spells them."""
    if not published_only:
        return tuple(statuses)
    other = [s for s in statuses if s != STATUS_PUBLISHED]
    if other:
        flag, opt = (("--published-only", "--status") if style == "cli" else
                     ("published_only=true", "status"))
        raise InputError(f"{flag} lists published violations only, and {opt} asks for "
                         f"{other[0]!r}", hint=f"give {flag} or {opt}, not both",
                         code="input.conflicting_options")
    return (STATUS_PUBLISHED,)


@dataclass(frozen=True)
class Awaiting:
    """A verified violation awaiting a second analyst, and who verified it (when, why)."""

    violation: Violation
    verified: StatusChange

    def as_dict(self) -> dict[str, object]:
        """The violation as the listings show it, with ``verified_by``, ``verified_at`` and
        ``verified_why``."""
        from truceguard.io.records import record_dict

        return {**record_dict(self.violation), "verified_by": self.verified.who,
                "verified_at": iso(self.verified.at), "verified_why": self.verified.why}


def review_queue(store: Store, viewer: Viewer, who: str | None = None, *,
                 after: tuple[int, int] | None = None, limit: int | None = None
                 ) -> list[Awaiting]:
    """Verified violations ``viewer`` may see that await a second analyst: those ``who`` did
    not verify (all of them when ``who`` is None), oldest first; ``after`` and ``limit`` page
    them as the listings do."""
    out: list[Awaiting] = []
    while True:
        rows = store.violations(ViolationFilter(records=ObservationFilter(after=after),
                                                statuses=(STATUS_VERIFIED,)), viewer, limit)
        latest = store.latest_status([v.violation_id for v in rows])
        for v in rows:
            ch = latest[v.violation_id]
            if who is not None and same_person(ch.who, who):
                continue
            out.append(Awaiting(v, ch))
            if limit is not None and len(out) >= limit:
                return out
        if limit is None or len(rows) < limit:
            return out
        after = (rows[-1].t_start, rows[-1].violation_id)


def violation_events(store: Store, terms: str, viewer: Viewer, *, min_p: float
                     ) -> tuple[list[tuple[float, float, int, float]], Marking]:
    """The store's violations of ``terms`` that ``viewer`` may see, judged at the threshold,
    as (lat, lon, time, weight) rows for planning (``plan --threat-from-store``): monitoring
    feeds planning. The weight is the location probability; the marking is the most
    restrictive of the violations used (the plan report's banner)."""
    from truceguard.store import ViolationFilter

    rows = store.violations(ViolationFilter(terms=terms, min_p_location=min_p), viewer)
    return ([(v.lat, v.lon, v.t_start, v.p_location) for v in rows],
            most_restrictive(v.releasability for v in rows))


__all__ = [
    "MAX_REASON",
    "REVIEW_FLOW",
    "AdjudicationSummary",
    "Awaiting",
    "FusionSummary",
    "adjudicate_store",
    "fuse_store",
    "incident_id_for",
    "listed_statuses",
    "review_queue",
    "same_person",
    "set_violation_status",
    "violation_events",
]
