"""Fusion: observations close in space and time become one incident.

Semantics (exact; the tests hold the code to them)
--------------------------------------------------
Inputs are per-observation numpy arrays in a projected metric CRS (metres; project lon/lat with
:func:`points_from_lonlat`, which uses :func:`truceguard.geo.projection_for`): ``x``, ``y``,
the time window ``t_start`` .. ``t_end`` (epoch seconds; ``t_end`` = ``t_start`` when exact) and
the position uncertainty radius ``uncertainty_m`` (NaN = unknown).

Two observations *i* and *j* **link** when both hold (computed in float64, exactly as written):

- space: ``dx*dx + dy*dy <= r*r`` with ``r = eps_m + w_i + w_j``, where
  ``w = min(uncertainty_m, max_link_uncertainty_m)`` and ``w = 0`` when unknown. The cap
  matters: real feeds carry huge radii (UCDP ``where_prec`` 4 is a whole oblast, about 150 km);
  uncapped, such reports would link everything around them. A report's uncertainty widens its
  links by at most ``max_link_uncertainty_m``; its full radius still enters the incident's
  position estimate (see :func:`summarise_incidents`).
- time: the gap between the two windows is at most ``eps_s``:
  ``max(t_start_j - t_end_i, t_start_i - t_end_j) <= eps_s`` (0 when the windows overlap). A
  report dated "some day in March" thus links to anything in March: an honest window is the
  only thing that can be said about it.

The neighbourhood is a cylinder (a disc in space times an interval in time), not the ellipsoid a
single Euclidean distance over scaled (x, y, t) gives.

**Incidents** are the clusters of exact DBSCAN on this link relation with ``min_samples``
(counted with the point itself, as scikit-learn does):

- ``min_samples <= 2``: incidents are exactly the connected components of the link graph (an
  observation with no link is its own incident). This is the default (``min_samples=1``).
- ``min_samples >= 3``: core observations have at least ``min_samples`` members in their
  neighbourhood; clusters are the connected components of core observations over links. A
  border observation (not core, linked to a core) reachable from several clusters joins, of
  those clusters, the one whose lowest-indexed core observation comes first in input order.
  That is the rule scikit-learn's ``DBSCAN`` follows, so labels match it exactly, and it is
  deterministic for a given order (the store uses observation ids).
- Observations DBSCAN calls noise each become a single-observation incident: one report of a
  breach still matters; grading calls it "single source".

**Curated sources** (``curated_group``, optional): an integer per observation, the id (>= 0)
of a curated source whose rows their curators already deduplicated (UCDP GED, ACLED), or -1.
Two observations of one curated group never share an incident, directly or through a chain of
other sources' reports; either can fuse with other sources' reports. Each incident that would
hold two of one group is split: the observations of its most numerous doubled group (ties: the
lowest id) anchor one incident each, and the incident's other observations join the anchor
nearest to them in normalised space-time (``(distance / eps_m)**2 + (gap / eps_s)**2``), ties to
the anchor with the smallest ``(t_start, t_end, x, y, uncertainty_m)`` and then the lowest
index; the pieces are split again while another group is doubled in them (the rule in full:
:mod:`truceguard.judge.fusion_curated`). With ``min_samples <= 2`` the partition is thus a
function of the data, up to exchanging observations equal in all those values (DBSCAN's border
rule, with more, already follows the input order). ``None``, or fewer than two curated
observations, is plain fusion.

Labels are numbered 0, 1, ... in order of each incident's first observation.

How it is fast, in bounded memory
---------------------------------
Spread reports: a grid whose cells are as wide as the longest link, observations sorted by
(cell, duration class, time), each one's candidates found by binary search, enumerated in
bounded batches on a thread pool, filtered exactly; the links go to ``scipy.sparse.csgraph``
(:mod:`truceguard.judge.fusion_links`). A fixed-seed sample of observations estimates the
candidates first; past ``DIRECT_PAIRS_PER_OBSERVATION`` per observation (or as soon as the
enumeration itself passes that), the dense path takes over.

Dense reports (thousands at one district centroid and day): cells small enough that all their
observations link (never enumerated), cell pairs decided from their bounds where possible and
pair by pair only where not, components grown batch by batch
(:mod:`truceguard.judge.fusion_cells`). Memory is O(number of observations) plus a fixed batch
of pairs (``fusion_links.PAIR_BUDGET``) per worker thread, whatever the density: 1,000,000
reports at 2,000 centroids over 8 years fuse in a few seconds within well under a GB
(``benchmarks/bench_fusion.py``). Both paths give the same partition. No per-observation Python
loop.

Incremental fusion
------------------
:func:`fuse_incremental` takes the existing observations, their incident labels and new
observations. For ``min_samples <= 2`` it looks only at old observations in grid cells next to
the new ones, connects them with the new ones (an old incident counts as connected), and merges
incidents through the new links: the result is, as a partition, exactly a full recomputation
(tested), old incidents keep their labels, and it says which old incidents were merged into
which. With curated groups, a new report can change how a whole component is split, so it
gathers every old incident linked (through any chain) to the ones the new reports reach, and
splits that part again by the same rule; the partition is again exactly a full recomputation's,
provided the old and new observations come in the order of the full run (old first).
For ``min_samples >= 3`` adding a point can change core status two links away and reassign
border points, so it recomputes in full and carries the old labels over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from truceguard.errors import InputError
from truceguard.judge.fusion_cells import cell_components, cell_dbscan
from truceguard.judge.fusion_curated import separate_curated
from truceguard.judge.fusion_links import (
    PAIR_BUDGET,
    FusionParams,
    IntArray,
    Points,
    TooDense,
    build_grid,
    estimated_candidates,
    link_pairs,
    link_widening,
    points_from_lonlat,
    sorted_links,
)
from truceguard.judge.incident_summary import canonical_labels, summarise_incidents

__all__ = [
    "DIRECT_PAIRS_PER_OBSERVATION",
    "FusionParams",
    "IncrementalResult",
    "Points",
    "canonical_labels",
    "cluster_labels",
    "fuse_arrays",
    "fuse_incremental",
    "labels_from_links",
    "link_pairs",
    "points_from_lonlat",
    "summarise_incidents",
]

# Candidate pairs per observation (and a floor) above which the spread path gives way to the
# dense one; below it the links themselves fit in memory comfortably.
DIRECT_PAIRS_PER_OBSERVATION = 32
_DIRECT_FLOOR = 1_000_000


# --------------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------------


def _components(n: int, i: IntArray, j: IntArray) -> IntArray:
    graph = coo_matrix((np.ones(i.shape[0]), (i, j)), shape=(n, n)).tocsr()
    _, lab = connected_components(graph, directed=False)
    return np.asarray(lab, dtype=np.int64)


def labels_from_links(n: int, i: IntArray, j: IntArray, min_samples: int) -> IntArray:
    """Exact DBSCAN labels from the link list (no noise: noise becomes singletons)."""
    if n == 0:
        return np.empty(0, np.int64)
    if min_samples <= 2:
        return canonical_labels(_components(n, i, j))
    degree = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    core = degree + 1 >= min_samples
    both = core[i] & core[j]
    comp = _components(n, i[both], j[both])
    # Each core component's seed: its lowest index (the order scikit-learn grows clusters in).
    seed = np.full(n, n, dtype=np.int64)
    core_idx = np.flatnonzero(core)
    np.minimum.at(seed, comp[core_idx], core_idx)
    label = np.where(core, seed[comp], n)  # a cluster is named by its seed
    # Border observations take, of the clusters that reach them, the one seeded first.
    c_to_b = core[i] & ~core[j]
    b_to_c = core[j] & ~core[i]
    border = np.concatenate([j[c_to_b], i[b_to_c]])
    via = np.concatenate([label[i[c_to_b]], label[j[b_to_c]]])
    np.minimum.at(label, border, via)
    noise = label == n
    label[noise] = n + np.flatnonzero(noise)  # each noise observation is its own incident
    return canonical_labels(label)


def _raw_clusters(
    points: Points,
    params: FusionParams,
    threads: int | None,
    *,
    join: IntArray | None = None,
    path: str = "auto",
    budget: int = PAIR_BUDGET,
) -> IntArray:
    """A cluster id per observation (any numbering), by the spread path or the dense one.

    ``join`` (``min_samples <= 2`` only): observations sharing a label >= 0 count as connected.
    ``path``: "auto" (spread, then dense past the candidate limit), "direct" or "cells".
    """
    n = len(points)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    if path != "cells":
        g = build_grid(points, params)
        limit = None if path == "direct" else DIRECT_PAIRS_PER_OBSERVATION * n + _DIRECT_FLOOR
        try:
            # A sample tells dense data at once; the limit stops what the sample missed.
            if limit is not None and estimated_candidates(g) > limit:
                raise TooDense
            si, sj = sorted_links(g, threads, limit)
        except TooDense:
            del g  # the dense path builds its own
        else:
            if params.min_samples > 2:
                return labels_from_links(n, g.order[si], g.order[sj], params.min_samples)
            if join is not None:  # each joined observation to the first of its label
                rank = np.empty(n, np.int64)
                rank[g.order] = np.arange(n)
                have = np.flatnonzero(join >= 0)
                _, first, inv = np.unique(join[have], return_index=True, return_inverse=True)
                si = np.concatenate([si, rank[have]])
                sj = np.concatenate([sj, rank[have[first][inv.reshape(-1)]]])
            # Connected components straight on the grid's sorted positions: neighbours sit
            # close together there, which keeps the sparse graph build cache-friendly.
            graph = coo_matrix(
                (np.ones(si.shape[0], dtype=np.int8), (si, sj)), shape=(n, n)
            ).tocsr()
            _, comp_sorted = connected_components(graph, directed=False)
            comp = np.empty(n, np.int64)
            comp[g.order] = comp_sorted
            return comp
    if params.min_samples > 2:
        return cell_dbscan(points, params, budget, threads)
    return cell_components(points, params, budget, join, threads)


def _curated(curated_group: ArrayLike | None, n: int) -> IntArray | None:
    """Checked ``curated_group``, or None when no observation is curated."""
    if curated_group is None:
        return None
    arr = np.asarray(curated_group)
    if arr.shape != (n,):
        raise InputError(
            f"curated_group has shape {arr.shape}, expected ({n},): one value per observation",
            hint="Give the curated source id (>= 0) of each observation, or -1.",
            code="input.bad_curated_group",
        )
    if arr.size and arr.dtype.kind not in "iu":
        raise InputError(
            f"curated_group must hold integers, not {arr.dtype}",
            hint="Give the curated source id (>= 0) of each observation, or -1.",
            code="input.bad_curated_group",
        )
    out = arr.astype(np.int64)
    if (out < -1).any():
        raise InputError(
            f"curated_group holds {int(out.min())}; ids are >= 0, and -1 means not curated",
            hint="Give the curated source id (>= 0) of each observation, or -1.",
            code="input.bad_curated_group",
        )
    return out if (out >= 0).sum() >= 2 else None


def _cluster_labels(
    points: Points,
    params: FusionParams,
    threads: int | None,
    curated: IntArray | None,
    *,
    path: str = "auto",
    budget: int = PAIR_BUDGET,
) -> IntArray:
    raw = _raw_clusters(points, params, threads, path=path, budget=budget)
    if curated is not None:
        raw = separate_curated(points, raw, curated, params, budget)
    return _renumber(raw)


def _renumber(labels: IntArray) -> IntArray:
    """:func:`canonical_labels` in O(n) when the labels are small non-negative integers."""
    n = labels.shape[0]
    if n == 0 or labels.min() < 0 or labels.max() >= 4 * n + 16:
        return canonical_labels(labels)
    first = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n, dtype=np.int64))
    used = np.flatnonzero(first < n)
    rank = np.empty(first.shape[0], np.int64)
    rank[used[np.argsort(first[used], kind="stable")]] = np.arange(used.shape[0])
    return rank[labels]


def cluster_labels(
    points: Points,
    params: FusionParams,
    threads: int | None = None,
    *,
    curated_group: ArrayLike | None = None,
) -> IntArray:
    """Incident label of every observation (0, 1, ... by first observation).

    ``curated_group``: per observation, the id (>= 0) of its curated source or -1 (see the
    module docstring); None fuses every observation alike.
    """
    return _cluster_labels(points, params, threads, _curated(curated_group, len(points)))


def fuse_arrays(
    x: ArrayLike,
    y: ArrayLike,
    t_start: ArrayLike,
    t_end: ArrayLike | None = None,
    uncertainty_m: ArrayLike | None = None,
    *,
    eps_m: float = 3000.0,
    eps_s: float = 3600.0,
    min_samples: int = 1,
    max_link_uncertainty_m: float = 5000.0,
    threads: int | None = None,
    curated_group: ArrayLike | None = None,
) -> IntArray:
    """:func:`cluster_labels` over plain arrays (projected metres, epoch seconds)."""
    params = FusionParams(eps_m, eps_s, min_samples, max_link_uncertainty_m)
    points = Points.of(x, y, t_start, t_end, uncertainty_m)
    return cluster_labels(points, params, threads, curated_group=curated_group)


# --------------------------------------------------------------------------------------------
# Incremental fusion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncrementalResult:
    """Labels for old + new observations (old first), and what changed.

    ``merged`` maps each absorbed old incident to the one it now belongs to (the lowest old
    label of a merged group survives); ``created`` lists labels of incidents made only of new
    observations (or, with curated groups, of old observations split off); ``examined``
    counts the old observations looked at; ``changed`` lists every label whose set of
    observations is not what it was (created and merged-into ones included).
    """

    labels: IntArray
    merged: dict[int, int]
    created: list[int]
    examined: int
    changed: list[int] = field(default_factory=list)


def _changed(old_labels: IntArray, labels: IntArray) -> list[int]:
    n_old = old_labels.shape[0]
    moved = np.flatnonzero(labels[:n_old] != old_labels)
    still = np.unique(labels)
    lost = np.unique(old_labels[moved])
    lost = lost[np.isin(lost, still)]
    out = np.unique(np.concatenate([labels[n_old:], labels[moved], lost]))
    return [int(v) for v in out]


def _near_new(old: Points, new: Points, params: FusionParams) -> IntArray:
    """Indices of old observations that could link to a new one (a superset, never less)."""
    w_old = link_widening(old, params.max_link_uncertainty_m)
    w_new = link_widening(new, params.max_link_uncertainty_m)
    wmax = max(float(w.max()) if w is not None and w.size else 0.0 for w in (w_old, w_new))
    side = max((params.eps_m + 2.0 * wmax) * (1 + 1e-9), 1e-6)
    # Time: anything whose window comes within eps_s of the new windows' hull.
    cand = np.flatnonzero(
        (old.t_start <= new.t_end.max() + params.eps_s)
        & (old.t_end >= new.t_start.min() - params.eps_s)
    )
    if cand.size == 0:
        return cand
    # Space: old observations in the 3 x 3 grid cells around each new one.
    x0, y0 = float(new.x.min()), float(new.y.min())
    nx = np.floor((new.x - x0) / side).astype(np.int64)
    ny_ = np.floor((new.y - y0) / side).astype(np.int64)
    ox = np.floor((old.x[cand] - x0) / side).astype(np.int64)
    oy = np.floor((old.y[cand] - y0) / side).astype(np.int64)
    lo = min(int(nx.min()), int(ny_.min())) - 2
    hi = max(int(nx.max()), int(ny_.max())) + 2
    # Old points beyond the new points' box are out anyway; clip to keep the keys small.
    inside = (ox >= lo) & (ox <= hi) & (oy >= lo) & (oy <= hi)
    cand, ox, oy = cand[inside], ox[inside], oy[inside]
    width = hi - lo + 1
    wanted = np.unique(
        np.concatenate(
            [(nx + dx - lo) * width + (ny_ + dy - lo) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        )
    )
    okey = (ox - lo) * width + (oy - lo)
    pos = np.searchsorted(wanted, okey)
    hit = wanted[np.minimum(pos, wanted.size - 1)] == okey
    return cand[hit]


def _carry_labels(
    old_labels: IntArray, full: IntArray, start: int
) -> tuple[IntArray, dict[int, int], list[int]]:
    """Relabel a full recomputation so that old incidents keep their labels where they can.

    Each new incident takes the old label most of its old members had (once per old label);
    an old label that survives nowhere is reported as merged into the incident holding most
    of its observations. Fresh labels count up from ``start``.
    """
    n_old = old_labels.shape[0]
    out = np.full(int(full.max()) + 1, -1, dtype=np.int64)
    pair, counts = np.unique(np.stack([full[:n_old], old_labels]), axis=1, return_counts=True)
    order = np.lexsort((pair[1], -counts)).tolist()  # most shared first, then lowest label
    incs, olds = pair[0].tolist(), pair[1].tolist()
    taken: set[int] = set()
    for k in order:  # about one pair per incident: building records, not a hot loop
        if out[incs[k]] == -1 and olds[k] not in taken:
            out[incs[k]] = olds[k]
            taken.add(olds[k])
    fresh = np.flatnonzero(out == -1)
    out[fresh] = start + np.arange(fresh.shape[0])
    merged: dict[int, int] = {}
    for k in order:
        if olds[k] not in taken and olds[k] not in merged:
            merged[olds[k]] = int(out[incs[k]])
    return out[full], merged, (start + np.arange(fresh.shape[0])).tolist()


def fuse_incremental(
    old: Points,
    old_labels: ArrayLike,
    new: Points,
    params: FusionParams,
    threads: int | None = None,
    *,
    curated_group: ArrayLike | None = None,
) -> IncrementalResult:
    """Fuse ``new`` observations into existing incidents without redoing the whole history.

    ``old_labels`` are the incidents of ``old`` as a full fusion (or earlier incremental
    calls) left them, with the same parameters and curated groups. ``curated_group`` covers
    ``old`` then ``new`` (one value each, as :func:`cluster_labels` takes it). The result holds
    labels for ``old`` then ``new``; as a partition it equals :func:`cluster_labels` over
    ``old.concat(new)``.
    """
    labels_old = np.asarray(old_labels, dtype=np.int64)
    if labels_old.shape != (len(old),):
        raise ValueError(f"old_labels has shape {labels_old.shape}, expected ({len(old)},)")
    n_old, n_new = len(old), len(new)
    curated = _curated(curated_group, n_old + n_new)
    if n_new == 0:
        return IncrementalResult(labels_old.copy(), {}, [], 0, [])
    if params.min_samples > 2 or n_old == 0:
        full = _cluster_labels(old.concat(new), params, threads, curated)
        if n_old == 0:
            created = sorted(set(full.tolist()))
            return IncrementalResult(full, {}, created, 0, created)
        labels, merged, created = _carry_labels(labels_old, full, int(labels_old.max()) + 1)
        return IncrementalResult(labels, merged, created, n_old, _changed(labels_old, labels))
    if curated is None:
        return _incremental_links(old, labels_old, new, params, threads)
    return _incremental_curated(old, labels_old, new, params, threads, curated)


def _incremental_links(
    old: Points, labels_old: IntArray, new: Points, params: FusionParams, threads: int | None
) -> IncrementalResult:
    """Merge incidents through the new observations' links (``min_samples <= 2``)."""
    n_new = len(new)
    near = _near_new(old, new, params)
    m = near.shape[0]
    sub = old.take(near).concat(new)
    join = np.concatenate([labels_old[near], np.full(n_new, -1, np.int64)])
    sub_comp = _raw_clusters(sub, params, threads, join=join)
    # Nodes: the old incidents touched, then the new observations. The near members of one
    # old incident were joined, so they share a component.
    touched, node_of_old = np.unique(labels_old[near], return_inverse=True)
    u = touched.shape[0]
    node_comp = np.empty(u + n_new, np.int64)
    node_comp[node_of_old.reshape(-1)] = sub_comp[:m]
    node_comp[u:] = sub_comp[m:]
    comp = np.unique(node_comp, return_inverse=True)[1].reshape(-1)
    # Survivor of each component: its lowest old label; components without one are new.
    big = np.iinfo(np.int64).max
    survivor = np.full(int(comp.max()) + 1, big, dtype=np.int64)
    np.minimum.at(survivor, comp[:u], touched)
    fresh = np.flatnonzero(survivor == big)
    start = int(labels_old.max()) + 1
    # New incidents are numbered in order of their first new observation.
    first_new = np.full(survivor.shape[0], big, dtype=np.int64)
    np.minimum.at(first_new, comp[u:], np.arange(n_new))
    fresh = fresh[np.argsort(first_new[fresh], kind="stable")]
    survivor[fresh] = start + np.arange(fresh.shape[0])
    merged_mask = survivor[comp[:u]] != touched
    merged = dict(
        zip(
            touched[merged_mask].tolist(),
            survivor[comp[:u]][merged_mask].tolist(),
            strict=True,
        )
    )
    out_old = labels_old.copy()
    if merged:
        src = np.fromiter(merged.keys(), dtype=np.int64)
        dst = np.fromiter(merged.values(), dtype=np.int64)
        srt = np.argsort(src)
        src, dst = src[srt], dst[srt]
        pos = np.minimum(np.searchsorted(src, out_old), src.size - 1)
        hit = src[pos] == out_old
        out_old[hit] = dst[pos[hit]]
    labels = np.concatenate([out_old, survivor[comp[u:]]])
    created = (start + np.arange(fresh.shape[0])).tolist()
    return IncrementalResult(labels, merged, created, m, _changed(labels_old, labels))


def _reached(
    old: Points,
    labels_old: IntArray,
    part: IntArray,
    others: Points,
    params: FusionParams,
    threads: int | None,
) -> IntArray:
    """Old labels (outside those of ``part``) of observations connected to ``others``.

    ``part``: old indices that may link to ``others``; connected means through links among
    ``part`` and ``others``, an old incident counting as connected.
    """
    m = part.shape[0]
    if m == 0:
        return np.empty(0, np.int64)
    sub = old.take(part).concat(others)
    join = np.concatenate([labels_old[part], np.full(len(others), -1, np.int64)])
    comp = _raw_clusters(sub, params, threads, join=join)
    hit = np.isin(comp[:m], comp[m:])
    return np.unique(labels_old[part[hit]])


def _incremental_curated(
    old: Points,
    labels_old: IntArray,
    new: Points,
    params: FusionParams,
    threads: int | None,
    curated: IntArray,
) -> IncrementalResult:
    """Split again every old component the new observations reach (``min_samples <= 2``).

    Old incidents of one component before curated splitting are linked to each other; the
    part to split again is the closure, over such links, of the old incidents the new
    observations reach.
    """
    n_old = len(old)
    near = _near_new(old, new, params)
    examined = near.shape[0]
    labels = _reached(old, labels_old, near, new, params, threads)
    in_part = np.isin(labels_old, labels)
    frontier = np.flatnonzero(in_part)
    while frontier.size:
        outside = np.flatnonzero(~in_part)
        if outside.size == 0:
            break
        cand = outside[_near_new(old.take(outside), old.take(frontier), params)]
        examined += cand.shape[0]
        # Old observations outside the part that link to the frontier: their incidents join.
        reached = _reached(old, labels_old, cand, old.take(frontier), params, threads)
        grow = np.isin(labels_old, reached) & ~in_part
        in_part |= grow
        frontier = np.flatnonzero(grow)
    part = np.flatnonzero(in_part)
    examined = max(examined, part.shape[0])
    # Split the part again, in the order of a full run (old first, each in its order).
    sub = old.take(part).concat(new)
    sub_cur = np.concatenate([curated[part], curated[n_old:]])
    sub_labels = _cluster_labels(sub, params, threads, _curated(sub_cur, len(sub)))
    carried, merged, created = _carry_labels(
        labels_old[part], sub_labels, int(labels_old.max()) + 1
    )
    out = np.concatenate([labels_old, carried[part.shape[0] :]])
    out[part] = carried[: part.shape[0]]
    return IncrementalResult(out, merged, created, examined, _changed(labels_old, out))
