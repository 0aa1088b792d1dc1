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

Labels are numbered 0, 1, ... in order of each incident's first observation.

How it is fast
--------------
A grid of cells ``side`` wide (``side = eps_m + 2 * max(w)``, so no link skips a cell) and
four sides tall, observations sorted by (cell, time) with one packed int64 key. An
observation's candidates lie in its own cell (later in the order), the next column's cell, and,
only when it lies within ``side`` of its row's edge, the cells across that edge; each is a time
window found by binary search. Candidates are enumerated in chunks (bounded memory, run on a
thread pool), filtered exactly, and the links go to ``scipy.sparse.csgraph``.
No per-observation Python loop.

Incremental fusion
------------------
:func:`fuse_incremental` takes the existing observations, their incident labels and new
observations. For ``min_samples <= 2`` it looks only at old observations in grid cells next to
the new ones, links them, and merges incidents through the new links: the result is, as a
partition, exactly a full recomputation (tested), old incidents keep their labels, and it says
which old incidents were merged into which. For ``min_samples >= 3`` adding a point can change
core status two links away and reassign border points, so it recomputes in full and carries the
old labels over.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from truceguard.geo.project import LocalProjection, projection_for
from truceguard.judge.grading import Evidence, GradingRules, grade, leading, load_grading

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# Candidates enumerated per chunk: about 16 bytes each in several temporaries.
_CHUNK_POINTS = 65_536
# Cell height in cell widths: taller rows mean fewer binary searches (only observations near a
# row edge look into the next row) and more candidates; 4 is a good middle on lines and areas.
_ROWS = 4.0


@dataclass(frozen=True)
class FusionParams:
    """How close two observations must be to link (see the module docstring)."""

    eps_m: float = 3000.0
    eps_s: float = 3600.0
    min_samples: int = 1
    max_link_uncertainty_m: float = 5000.0

    def __post_init__(self) -> None:
        if not (self.eps_m >= 0 and math.isfinite(self.eps_m)):
            raise ValueError(f"eps_m must be a finite number >= 0, not {self.eps_m!r}")
        if not (self.eps_s >= 0 and math.isfinite(self.eps_s)):
            raise ValueError(f"eps_s must be a finite number >= 0, not {self.eps_s!r}")
        if int(self.min_samples) != self.min_samples or self.min_samples < 1:
            raise ValueError(f"min_samples must be an integer >= 1, not {self.min_samples!r}")
        if not self.max_link_uncertainty_m >= 0:
            raise ValueError("max_link_uncertainty_m must be >= 0")


@dataclass(frozen=True)
class Points:
    """Observations as arrays in projected metres and epoch seconds (one row each)."""

    x: FloatArray
    y: FloatArray
    t_start: FloatArray
    t_end: FloatArray
    uncertainty_m: FloatArray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def of(
        cls,
        x: ArrayLike,
        y: ArrayLike,
        t_start: ArrayLike,
        t_end: ArrayLike | None = None,
        uncertainty_m: ArrayLike | None = None,
    ) -> Points:
        """Checked arrays: same length, finite positions and times, ``t_end >= t_start``."""
        xa = np.ascontiguousarray(x, dtype=np.float64)
        ya = np.ascontiguousarray(y, dtype=np.float64)
        t0 = np.ascontiguousarray(t_start, dtype=np.float64)
        t1 = t0 if t_end is None else np.ascontiguousarray(t_end, dtype=np.float64)
        n = xa.shape[0]
        unc = (
            np.full(n, np.nan)
            if uncertainty_m is None
            else np.ascontiguousarray(uncertainty_m, dtype=np.float64)
        )
        for name, a in (("y", ya), ("t_start", t0), ("t_end", t1), ("uncertainty_m", unc)):
            if a.shape != (n,):
                raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
        if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
            raise ValueError("x and y must be finite")
        if not (np.isfinite(t0).all() and np.isfinite(t1).all()):
            raise ValueError("t_start and t_end must be finite")
        if (t1 < t0).any():
            raise ValueError("t_end must not be before t_start")
        if (unc < 0).any():
            raise ValueError("uncertainty_m must be >= 0 (NaN when unknown)")
        return cls(xa, ya, t0, t1, unc)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, idx: ArrayLike) -> Points:
        i = np.asarray(idx)
        return Points(self.x[i], self.y[i], self.t_start[i], self.t_end[i], self.uncertainty_m[i])

    def concat(self, other: Points) -> Points:
        return Points(
            *(np.concatenate([a, b]) for a, b in zip(self._arrays(), other._arrays(), strict=True))
        )

    def _arrays(self) -> tuple[FloatArray, ...]:
        return (self.x, self.y, self.t_start, self.t_end, self.uncertainty_m)


def points_from_lonlat(
    lon: ArrayLike,
    lat: ArrayLike,
    t_start: ArrayLike,
    t_end: ArrayLike | None = None,
    uncertainty_m: ArrayLike | None = None,
    projection: LocalProjection | None = None,
) -> Points:
    """Points projected with ``projection`` (default: centred on the points' extent)."""
    proj = projection or projection_for(lon, lat)
    x, y = proj.forward(lon, lat)
    return Points.of(x, y, t_start, t_end, uncertainty_m)


# --------------------------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------------------------


@dataclass
class _Grid:
    """Observations sorted by (cell, time): the arrays the chunk workers read."""

    order: IntArray  # sorted position -> input index
    key: IntArray  # packed (cell << bits) | quantised t_start, sorted
    x: FloatArray
    y: FloatArray
    t0: FloatArray
    t1: FloatArray | None  # None when every window is a point in time
    w: FloatArray | None  # capped link uncertainty; None when all unknown
    room_up: FloatArray  # distance from each point up to its cell's top edge
    room_down: FloatArray  # ... and down to its bottom edge
    side: float  # cell width, and the farthest any link reaches
    bits: int
    tmin: float
    quantum: float
    ny: int
    eps_m: float
    eps_s: float
    dmax: float


def _link_widening(p: Points, cap: float) -> FloatArray | None:
    unc = p.uncertainty_m
    known = ~np.isnan(unc)
    if not known.any() or cap <= 0:
        return None
    return np.where(known, np.minimum(np.where(known, unc, 0.0), cap), 0.0)


def _build_grid(p: Points, params: FusionParams, rows: float) -> _Grid:
    w = _link_widening(p, params.max_link_uncertainty_m)
    wmax = float(w.max()) if w is not None else 0.0
    # A hair wider than the longest link, so that rounding in floor() cannot hide a link.
    # Cells wider than a link are still exact: widen them so that no axis has over 2**20.
    x0, y0 = float(p.x.min()), float(p.y.min())
    extent = max(float(p.x.max()) - x0, float(p.y.max()) - y0)
    side = max((params.eps_m + 2.0 * wmax) * (1 + 1e-9), extent / 2**20, 1e-6)
    height = side * rows
    ix = np.floor((p.x - x0) / side).astype(np.int64)
    fy = (p.y - y0) / height
    iy = np.floor(fy).astype(np.int64)
    ny = int(iy.max()) + 3  # room for the -1 and +1 offsets
    cell = ix * ny + (iy + 1)
    cell_bits = (int(cell.max()) + ny + 1).bit_length()
    intervals = not np.array_equal(p.t_start, p.t_end)
    tmin = float(p.t_start.min())
    span = float(p.t_start.max()) - tmin
    # Time is quantised only to order the key; exact times decide every link.
    bits = 62 - cell_bits
    if bits < 8:
        raise ValueError("the grid is too large to pack; raise eps_m or split the data")
    quantum = max(span / float((1 << bits) - 2), 1e-6)
    tq = np.floor((p.t_start - tmin) / quantum).astype(np.int64)
    key = (cell << bits) | tq
    order = np.argsort(key, kind="stable")
    key = key[order]
    frac = (fy - iy)[order] * height
    dmax = float((p.t_end - p.t_start).max()) if intervals else 0.0
    return _Grid(
        order=order,
        key=key,
        x=p.x[order],
        y=p.y[order],
        t0=p.t_start[order],
        t1=p.t_end[order] if intervals else None,
        w=w[order] if w is not None else None,
        room_up=height - frac,
        room_down=frac,
        side=side,
        bits=bits,
        tmin=tmin,
        quantum=quantum,
        ny=ny,
        eps_m=float(params.eps_m),
        eps_s=float(params.eps_s),
        dmax=dmax,
    )


def _tq(g: _Grid, t: FloatArray) -> IntArray:
    hi = (1 << g.bits) - 1
    return np.clip(np.floor((t - g.tmin) / g.quantum), 0, hi).astype(np.int64)


def _pairs_for_chunk(g: _Grid, a: int, b: int) -> tuple[IntArray, IntArray]:
    """Links (sorted positions) whose first member's sorted position lies in [a, b)."""
    key = g.key
    cell_hi = (key[a:b] >> g.bits) << g.bits
    t0 = g.t0[a:b]
    t1 = g.t1[a:b] if g.t1 is not None else t0
    tq_hi = _tq(g, t1 + g.eps_s)
    tq_lo = _tq(g, t0 - g.eps_s - g.dmax)
    pos = np.arange(a, b, dtype=np.int64)
    near = g.side * (1 + 1e-6)
    up = np.flatnonzero(g.room_up[a:b] <= near)
    down = np.flatnonzero(g.room_down[a:b] <= near)
    srcs = [pos]
    starts = [pos + 1]  # own cell: later in (time, position) order only
    stops = [np.searchsorted(key, cell_hi | tq_hi, side="right")]
    everyone = slice(None)
    for off, who in ((g.ny, everyone), (1, up), (g.ny + 1, up), (g.ny - 1, down)):
        shifted = cell_hi[who] + (off << g.bits)
        srcs.append(pos[who])
        starts.append(np.searchsorted(key, shifted | tq_lo[who], side="left"))
        stops.append(np.searchsorted(key, shifted | tq_hi[who], side="right"))
    lo = np.concatenate(starts)
    cnt = np.concatenate(stops) - lo
    keep = cnt > 0
    lo, cnt, src = lo[keep], cnt[keep], np.concatenate(srcs)[keep]
    total = int(cnt.sum())
    if total == 0:
        empty = np.empty(0, np.int64)
        return empty, empty
    ii = np.repeat(src, cnt)
    # j runs lo .. lo+cnt-1 for each candidate range, built without a Python loop.
    step = np.ones(total, dtype=np.int64)
    heads = np.cumsum(cnt[:-1])
    step[0] = lo[0]
    step[heads] = lo[1:] - (lo[:-1] + cnt[:-1] - 1)
    jj = np.cumsum(step)
    dx = g.x[jj] - g.x[ii]
    dy = g.y[jj] - g.y[ii]
    d2 = dx * dx + dy * dy
    if g.w is None:
        ok = d2 <= g.eps_m * g.eps_m
    else:
        r = g.eps_m + g.w[ii] + g.w[jj]
        ok = d2 <= r * r
    if g.t1 is None:
        ok &= np.abs(g.t0[jj] - g.t0[ii]) <= g.eps_s
    else:
        gap = np.maximum(g.t0[jj] - g.t1[ii], g.t0[ii] - g.t1[jj])
        ok &= gap <= g.eps_s
    return ii[ok], jj[ok]


def _sorted_links(g: _Grid, threads: int | None) -> tuple[IntArray, IntArray]:
    n = g.key.shape[0]
    bounds = list(range(0, n, _CHUNK_POINTS)) + [n]
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    workers = threads if threads is not None else min(os.cpu_count() or 1, 8)
    if workers > 1 and len(spans) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda s: _pairs_for_chunk(g, s[0], s[1]), spans))
    else:
        parts = [_pairs_for_chunk(g, a, b) for a, b in spans]
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty
    return np.concatenate([q[0] for q in parts]), np.concatenate([q[1] for q in parts])


def link_pairs(
    points: Points, params: FusionParams, threads: int | None = None
) -> tuple[IntArray, IntArray]:
    """Every linked pair once, as input indices ``(i, j)`` (order within a pair arbitrary)."""
    if len(points) < 2:
        empty = np.empty(0, np.int64)
        return empty, empty
    g = _build_grid(points, params, _ROWS)
    si, sj = _sorted_links(g, threads)
    return g.order[si], g.order[sj]


# --------------------------------------------------------------------------------------------
# Clusters
# --------------------------------------------------------------------------------------------


def canonical_labels(labels: ArrayLike) -> IntArray:
    """Labels renumbered 0, 1, ... in order of first appearance (same partition)."""
    lab = np.asarray(labels)
    if lab.size == 0:
        return np.empty(0, np.int64)
    _, first, inverse = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    return rank[inverse.reshape(-1)]


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


def _first_appearance(labels: IntArray, n_labels: int) -> IntArray:
    """``labels`` renumbered 0, 1, ... in order of first appearance (labels in 0..n_labels-1)."""
    first = np.full(n_labels, labels.shape[0], dtype=np.int64)
    np.minimum.at(first, labels, np.arange(labels.shape[0], dtype=np.int64))
    rank = np.empty(n_labels, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(n_labels)
    return rank[labels]


def cluster_labels(points: Points, params: FusionParams, threads: int | None = None) -> IntArray:
    """Incident label of every observation (0, 1, ... by first observation)."""
    n = len(points)
    if params.min_samples > 2 or n < 2:
        i, j = link_pairs(points, params, threads)
        return labels_from_links(n, i, j, params.min_samples)
    # Connected components straight on the grid's sorted positions: neighbours sit close
    # together there, which keeps the sparse graph build cache-friendly.
    g = _build_grid(points, params, _ROWS)
    si, sj = _sorted_links(g, threads)
    graph = coo_matrix(
        (np.ones(si.shape[0], dtype=np.int8), (si, sj)), shape=(n, n)
    ).tocsr()
    n_comp, comp_sorted = connected_components(graph, directed=False)
    comp = np.empty(n, np.int64)
    comp[g.order] = comp_sorted
    return _first_appearance(comp, int(n_comp))


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
) -> IntArray:
    """:func:`cluster_labels` over plain arrays (projected metres, epoch seconds)."""
    params = FusionParams(eps_m, eps_s, min_samples, max_link_uncertainty_m)
    return cluster_labels(Points.of(x, y, t_start, t_end, uncertainty_m), params, threads)


# --------------------------------------------------------------------------------------------
# Incremental fusion
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncrementalResult:
    """Labels for old + new observations (old first), and what changed.

    ``merged`` maps each absorbed old incident to the one it now belongs to (the lowest old
    label of a merged group survives); ``created`` lists labels of incidents made only of new
    observations; ``examined`` counts the old observations looked at.
    """

    labels: IntArray
    merged: dict[int, int]
    created: list[int]
    examined: int


def _near_new(old: Points, new: Points, params: FusionParams) -> IntArray:
    """Indices of old observations that could link to a new one (a superset, never less)."""
    w_old = _link_widening(old, params.max_link_uncertainty_m)
    w_new = _link_widening(new, params.max_link_uncertainty_m)
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
    old_labels: IntArray, full: IntArray
) -> tuple[IntArray, dict[int, int], list[int]]:
    """Relabel a full recomputation so that old incidents keep their labels where they can.

    Each new incident takes the old label most of its old members had (once per old label);
    an old label that survives nowhere is reported as merged into the incident holding most
    of its observations.
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
    start = int(old_labels.max()) + 1
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
) -> IncrementalResult:
    """Fuse ``new`` observations into existing incidents without redoing the whole history.

    ``old_labels`` are the incidents of ``old`` as a full fusion (or earlier incremental
    calls) left them, with the same parameters. The result holds labels for ``old`` then
    ``new``; as a partition it equals :func:`cluster_labels` over all observations.
    """
    labels_old = np.asarray(old_labels, dtype=np.int64)
    if labels_old.shape != (len(old),):
        raise ValueError(f"old_labels has shape {labels_old.shape}, expected ({len(old)},)")
    n_old, n_new = len(old), len(new)
    if n_new == 0:
        return IncrementalResult(labels_old.copy(), {}, [], 0)
    if params.min_samples > 2 or n_old == 0:
        full = cluster_labels(old.concat(new), params, threads)
        if n_old == 0:
            return IncrementalResult(full, {}, sorted(set(full.tolist())), 0)
        labels, merged, created = _carry_labels(labels_old, full)
        return IncrementalResult(labels, merged, created, n_old)
    near = _near_new(old, new, params)
    sub = old.take(near).concat(new)
    i, j = link_pairs(sub, params, threads)
    m = near.shape[0]
    keep = (i >= m) | (j >= m)  # old-old links are already in the old labels
    i, j = i[keep], j[keep]
    # Nodes: the old incidents touched, then the new observations.
    touched, node_of_old = np.unique(labels_old[near], return_inverse=True)
    u = touched.shape[0]
    node = np.concatenate([node_of_old.reshape(-1), u + np.arange(n_new)])
    comp = _components(u + n_new, node[i], node[j])
    # Survivor of each component: its lowest old label; components without one are new.
    big = np.iinfo(np.int64).max
    survivor = np.full(int(comp.max()) + 1, big, dtype=np.int64)
    np.minimum.at(survivor, comp[:u], touched)
    fresh = np.flatnonzero(survivor == big)
    start = int(labels_old.max()) + 1 if n_old else 0
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
    return IncrementalResult(labels, merged, (start + np.arange(fresh.shape[0])).tolist(), m)


# --------------------------------------------------------------------------------------------
# Incident summaries
# --------------------------------------------------------------------------------------------


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


def _distinct_per_incident(labels: IntArray, code: IntArray, mask: NDArray[np.bool_]) -> IntArray:
    n_inc = int(labels.max()) + 1
    if not mask.any():
        return np.zeros(n_inc, dtype=np.int64)
    width = int(code.max()) + 1
    pair = np.unique(labels[mask] * width + code[mask])
    return np.bincount(pair // width, minlength=n_inc).astype(np.int64)


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
    ``grade`` with ``grade_reason`` from :mod:`truceguard.judge.grading`.
    """
    rules = rules or load_grading()
    lab = canonical_labels(labels)
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
    sw = np.bincount(lab, weights=w, minlength=n_inc)
    mx = np.bincount(lab, weights=w * x, minlength=n_inc) / sw
    my = np.bincount(lab, weights=w * y, minlength=n_inc) / sw
    d2 = (x - mx[lab]) ** 2 + (y - my[lab]) ** 2
    spread = np.sqrt(np.bincount(lab, weights=w * d2, minlength=n_inc) / sw)
    radius = np.maximum(np.sqrt(1.0 / sw), spread)
    c_lon, c_lat = proj.inverse(mx, my)
    t0 = np.asarray(t_start, dtype=np.float64)
    t1 = np.asarray(t_end, dtype=np.float64)
    t_lo = np.full(n_inc, np.inf)
    t_hi = np.full(n_inc, -np.inf)
    np.minimum.at(t_lo, lab, t0)
    np.maximum.at(t_hi, lab, t1)
    # Independent sources: distinct origin, the source standing in where origin is empty.
    org = np.asarray(origin, dtype=str)
    src = np.asarray(source, dtype=str)
    key_names, key_code = _codes(np.where(org != "", org, src))
    independent = _distinct_per_incident(lab, key_code, np.ones(n, dtype=bool))
    hk = np.asarray(how_known, dtype=str)
    trusted = np.bincount(
        lab, weights=np.isin(hk, list(rules.trusted_how_known)), minlength=n_inc
    ).astype(np.int64)
    party = _distinct_per_incident(lab, key_code, np.isin(hk, list(rules.party_how_known)))
    cat_votes = _votes(lab, category)
    weapon_votes = _votes(lab, weapon_class)
    order = np.argsort(lab, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(lab, minlength=n_inc))])
    # Sources per incident, for the record.
    pair = np.unique(lab * len(key_names) + key_code)
    p_inc, p_key = np.divmod(pair, len(key_names))
    p_bounds = np.searchsorted(p_inc, np.arange(n_inc + 1))
    records: list[dict[str, Any]] = []
    for k in range(n_inc):  # one record per incident: building output, not a hot loop
        ev = Evidence(
            n_observations=int(bounds[k + 1] - bounds[k]),
            independent_sources=int(independent[k]),
            trusted=int(trusted[k]),
            party_origins=int(party[k]),
            category_votes=cat_votes[k],
            weapon_votes=weapon_votes[k],
        )
        g, reason = grade(ev, rules)
        records.append(
            {
                "incident": k,
                "observations": order[bounds[k] : bounds[k + 1]].tolist(),
                "lat": float(c_lat[k]),
                "lon": float(c_lon[k]),
                "uncertainty_m": float(radius[k]),
                "t_start": float(t_lo[k]),
                "t_end": float(t_hi[k]),
                "category": leading(cat_votes[k]),
                "category_votes": cat_votes[k],
                "weapon_class": leading(weapon_votes[k]),
                "weapon_votes": weapon_votes[k],
                "independent_sources": ev.independent_sources,
                "sources": [str(key_names[c]) for c in p_key[p_bounds[k] : p_bounds[k + 1]]],
                "trusted": ev.trusted,
                "party_origins": ev.party_origins,
                "grade": g,
                "grade_reason": reason,
            }
        )
    return records
