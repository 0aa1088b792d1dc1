"""A live step's fusion without reading whole incidents again.

``fuse_store`` (incremental) hands its step here first. The new reports are linked to the
fused reports within link reach of them (a window query around each half-degree cell of new
reports), never to the other members of the incidents those belong to: with ``min_samples``
of 1 or 2 and no curated source involved, links to the reports in reach decide the partition
(``judge.fusion.fuse_incremental``). Each incident the new reports join, or merge, is then
summarised from the summary states stored for it (``store.summary_states``) merged with the
state of its new reports (``judge.incident_summary``): the same record, bit for bit, as a full
recomputation from all its reports. Members of an incident merged into another, or whose
anchor (smallest observation id) a new report takes, are pointed at the new id by one
``UPDATE`` in the store, not read.

Where that does not hold, :func:`fuse_step` returns None and ``fuse_store`` does the general
step (reading the incidents in reach in full): ``min_samples`` of 3 or more, a curated report
among the new or in an incident reached, an incident without stored states (fused before
they were kept, or whose views a marking change dropped), or an incident whose reports would
carry more than one marking (its views then depend on which of its reports link on their own).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from truceguard.geo.project import LocalProjection
from truceguard.judge.fusion import FusionParams, fuse_incremental
from truceguard.judge.grading import GradingRules
from truceguard.judge.incident_summary import SummaryState, merge_states, state_records
from truceguard.pipeline import (
    FUSION_STEPS,
    FusionSummary,
    _key,
    _points,
    _states,
    cell_groups,
    incident_id_for,
    incident_of,
    subset,
)
from truceguard.store.base import FusionRun, IncidentView, Store
from truceguard.store.incidents import IncidentTables


def reach_of(params: FusionParams) -> tuple[float, float]:
    """How far (metres, seconds) a new report may link, for ``min_samples`` <= 2."""
    return (params.eps_m + 2.0 * params.max_link_uncertainty_m + 1.0, params.eps_s + 1.0)


def fused_in_reach(store: IncidentTables, a: dict[str, np.ndarray], reach_m: float,
                   reach_s: float) -> dict[str, np.ndarray]:
    """The fused observations within reach of observations ``a`` (a superset: a box around
    each half-degree cell of them), by obs_id."""
    dlat = reach_m / 111_000.0
    found: list[dict[str, np.ndarray]] = []
    for idx in cell_groups(a["lat"], a["lon"]):
        lat, lon = a["lat"][idx], a["lon"][idx]
        coslat = max(np.cos(np.radians(min(89.0, float(np.nanmax(np.abs(lat))) + dlat))), 1e-3)
        dlon = dlat / coslat
        found.append(store.fusion_arrays(window=(
            float(np.nanmin(lon)) - dlon, float(np.nanmin(lat)) - dlat,
            float(np.nanmax(lon)) + dlon, float(np.nanmax(lat)) + dlat,
            float(np.nanmin(a["t_start"][idx])) - reach_s,
            float(np.nanmax(a["t_end"][idx])) + reach_s)))
    both = {k: np.concatenate([f[k] for f in found]) for k in found[0]}
    _, first = np.unique(both["obs_id"], return_index=True)
    return subset(both, first)


def fuse_step(store: Store, params: FusionParams, params_json: str,
              new: dict[str, np.ndarray], rules: GradingRules, projection: LocalProjection,
              step: Callable[[str], None]) -> FusionSummary | None:
    """Fuse the unfused observations ``new`` (rows of ``fusion_arrays(unfused=True)``) as
    the module docstring says, or None where the general step must do it (nothing written)."""
    started = time.perf_counter()
    if not isinstance(store, IncidentTables):
        return None
    if new["obs_id"].size == 0 or params.min_samples > 2 or new["curated"].any():
        return None
    near = fused_in_reach(store, new, *reach_of(params))
    touched = sorted(set(near["incident_id"].tolist()))
    stored = SummaryState.stored(store.summary_states(touched))
    if len(stored) < len(touched) or any(
            st.curated for by_mark in stored.values() for st in by_mark.values()):
        return None
    step(FUSION_STEPS[1])
    res = fuse_incremental(_points(near, np.arange(near["obs_id"].size), projection),
                           near["incident_id"],
                           _points(new, np.arange(new["obs_id"].size), projection), params)
    n_old = near["obs_id"].size
    new_labels = res.labels[n_old:]
    step(FUSION_STEPS[2])
    groups, local = np.unique(new_labels, return_inverse=True)
    local = local.reshape(-1)
    new_states = _states(new, np.arange(new["obs_id"].size), local, rules, projection)
    members: dict[int, list[int]] = {int(g): [] for g in groups.tolist()}
    for old, into in res.merged.items():
        members[int(into)].append(int(old))
    for g in members:
        if g in stored:  # an old incident the new reports joined
            members[g].append(g)
    totals: list[SummaryState] = []
    marks: list[int] = []
    for k, g in enumerate(groups.tolist()):
        new_marks = set(new["marking_id"][local == k].tolist())
        old_marks = {m for inc in members[g] for m in stored[inc]}
        if len(new_marks | old_marks) != 1:
            return None  # views of several markings: the general step
        totals.append(merge_states([new_states[k], *(st for inc in members[g]
                                                     for st in stored[inc].values())]))
        marks.append(new_marks.pop())
    step(FUSION_STEPS[3])
    key = store.incident_key()
    ids = incident_id_for(key, np.array([t.anchor for t in totals], np.int64)).tolist()
    markings = store.markings()
    views: list[IncidentView] = []
    states: list[tuple[int, int, SummaryState]] = []
    relabel: list[tuple[int, int]] = []
    removed: set[int] = set()
    for rec, total, mark, g, own in zip(state_records(totals, rules, projection), totals, marks,
                                        groups.tolist(), ids, strict=True):
        sig = _key((mark,))
        views.append(IncidentView(incident_of(own, rec, markings[mark]), sig, sig,
                                  store.marking_id(markings[mark]), own))
        states.append((own, mark, total))
        for inc in members[g]:
            if inc != own:
                relabel.append((inc, own))
                removed.add(inc)
    new_ids = np.array(ids, np.int64)[local]
    n_inc = store.write_fusion(FusionRun(params_json, "incremental", int(new["obs_id"].size)),
                               sorted(removed), new["obs_id"], new_ids, views, states=states,
                               relabel=relabel)
    return FusionSummary(
        mode="incremental", observations=n_old + int(new["obs_id"].size), incidents=n_inc,
        changed_incidents=len(views), new_observations=int(new["obs_id"].size),
        merged=len(res.merged), seconds=time.perf_counter() - started,
        written=sorted(ids), removed=sorted(removed))


__all__ = ["fuse_step", "fused_in_reach", "reach_of"]
