"""Exact fusion in memory bounded by the number of observations, whatever their density.

Real feeds put many reports at one place: UCDP and ACLED give district or province centroids,
so thousands of events share a coordinate and a day. Enumerating their pairs (the links of a
place with n reports on one day number n**2 / 2) is what makes plain grid clustering run out
of memory. This module clusters without ever holding more than O(number of observations)
plus a fixed budget of pairs, and gives exactly the partition of
:mod:`truceguard.judge.fusion`'s semantics:

1. **Cells that are cliques.** Observations are binned into cells ``eps_m / sqrt(2)`` wide
   in x and y and ``eps_s`` long in ``t_start`` (identical values only, on an axis whose eps
   is 0). Two observations of one cell are within ``eps_m`` in space and their windows' gap
   is at most the difference of their starts, so they link. Each cell's extents are checked
   with the link formula itself (in float64); a cell that fails, through rounding at an edge,
   is split into single observations. Cells are split further by window length and by link
   widening (sixteenths of the cap), which keeps their bounds tight. A cell's pairs are never
   enumerated.
2. **Cell pairs.** Each cell is summarised by a reference position (its first member), the
   radius around it that holds every member, its widest link widening, and the hull of its
   windows. The candidate search of :mod:`truceguard.judge.fusion_links` on these summaries,
   with every radius added to the widening, yields every pair of cells that may hold a link
   (a necessary condition, from the triangle inequality), in batches of bounded size, on
   worker threads that hand over at most two batches each at a time.
3. **Certain or undecided.** A cell pair is *certain* when even its farthest members link
   (farthest positions against the narrowest widenings, widest time gap). Coarse places
   make nearly all pairs certain. Only undecided pairs have their members' pairs checked,
   again in bounded batches, and, when only connectivity is asked, only while the two cells
   are not already connected (the members of the smaller cell 1, 2, 4, ... at a time). The
   undecided pairs of the first pass are kept for the next one when they number at most the
   batch budget, and found again otherwise.
4. **DBSCAN.** With ``min_samples >= 3``: a cell with at least ``min_samples`` members holds
   only core observations; the others count their neighbours (certain cells by their size,
   undecided ones pair by pair). Core observations come first in each cell; clusters are
   the connected core subsets; border observations take, of the clusters that reach them,
   the one whose lowest input index comes first (scikit-learn's rule), and the rest become
   single-observation incidents.

Connected components grow through :class:`Merger`, which folds each batch of edges into one
label array and keeps no edge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from truceguard.judge.fusion_links import (
    BoolArray,
    FloatArray,
    FusionParams,
    Grid,
    IntArray,
    LinkArrays,
    Points,
    build_grid,
    candidate_ranges,
    concat_ranges,
    expand_ranges,
    link_arrays,
    linked,
    threaded_batches,
)


class Merger:
    """Connected components over ``m`` nodes, grown batch by batch of edges.

    Edges wait in a buffer of at most ``budget`` (each already reduced to the components
    known so far) and are folded in when it fills or when :attr:`comp` is read; after that,
    ``comp[k]`` is the smallest node of ``k``'s component. No edge is kept longer.
    """

    def __init__(self, m: int, budget: int) -> None:
        self._comp = np.arange(m, dtype=np.int64)
        self._budget = max(int(budget), 1)
        self._a: list[IntArray] = []
        self._b: list[IntArray] = []
        self._held = 0

    @property
    def comp(self) -> IntArray:
        self._fold()
        return self._comp

    def union(self, a: IntArray, b: IntArray) -> None:
        if a.size == 0:
            return
        ca, cb = self._comp[a], self._comp[b]
        differ = ca != cb
        if not differ.any():
            return
        self._a.append(ca[differ])
        self._b.append(cb[differ])
        self._held += int(differ.sum())
        if self._held >= self._budget:
            self._fold()

    def _fold(self) -> None:
        if not self._a:
            return
        ca, cb = np.concatenate(self._a), np.concatenate(self._b)
        self._a, self._b, self._held = [], [], 0
        m = self._comp.shape[0]
        graph = coo_matrix((np.ones(ca.shape[0], dtype=np.float32), (ca, cb)), shape=(m, m))
        _, lab = connected_components(graph.tocsr(), directed=False)
        # Name each component by its smallest node (labels follow node order: first seen).
        _, first = np.unique(lab, return_index=True)
        self._comp = first[lab][self._comp]


@dataclass
class Cells:
    """Observations sorted by clique cell, with each cell's summary."""

    order: IntArray  # sorted position -> input index
    start: IntArray  # (m + 1,): cell k holds sorted positions start[k] .. start[k+1]-1
    cell_of: IntArray  # cell of each sorted position
    links: LinkArrays  # the members' link arrays, in sorted order
    x: FloatArray  # reference position: the cell's first member
    y: FloatArray
    rad: FloatArray  # every member lies within rad of the reference
    point: BoolArray  # every member at exactly the reference position
    t0max: FloatArray
    t1min: FloatArray
    wmin: FloatArray
    grid: Grid  # candidate search over the cells' summaries
    tol: float  # absolute slack (metres) that covers rounding in the bounds

    @property
    def size(self) -> IntArray:
        return np.diff(self.start)

    def reorder(self, perm: IntArray) -> None:
        """Permute members within their cells (``perm`` keeps every cell's positions)."""
        self.order = self.order[perm]
        self.links = self.links.take(perm)

    def pairs(
        self, budget: int, threads: int | None
    ) -> Iterator[tuple[IntArray, IntArray, BoolArray]]:
        """Every pair of cells that may hold a link, once, in batches: ``(g, h, certain)``."""
        grid = self.grid

        def work(a: int, b: int) -> Iterator[tuple[IntArray, IntArray, BoolArray]]:
            for si, sj in expand_ranges(*candidate_ranges(grid, a, b), budget):
                ok = linked(grid.links, si, sj)
                g, h = grid.order[si[ok]], grid.order[sj[ok]]
                yield g, h, self.certain(g, h)

        return threaded_batches(work, grid.key.shape[0], threads)

    def certain(self, g: IntArray, h: IntArray) -> BoolArray:
        """Whether every member of cell ``g[k]`` links every member of ``h[k]``."""
        a = self.links
        t1min = self.t1min
        ok = np.maximum(self.t0max[h] - t1min[g], self.t0max[g] - t1min[h]) <= a.eps_s
        # The narrowest reach, in both orders of summation (float addition is not associative).
        r = np.minimum(a.eps_m + self.wmin[g] + self.wmin[h], a.eps_m + self.wmin[h] + self.wmin[g])
        dx = self.x[h] - self.x[g]
        dy = self.y[h] - self.y[g]
        d2 = dx * dx + dy * dy
        exact = self.point[g] & self.point[h]  # members' d2 is this very float
        bound = (np.sqrt(d2) + self.rad[g] + self.rad[h]) * (1 + 1e-9) + self.tol
        return ok & np.where(exact, d2 <= r * r, bound <= r)

    def member_pairs(
        self, gs: IntArray, gl: IntArray, hs: IntArray, hl: IntArray, budget: int
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Sorted positions ``gs[k] .. gs[k]+gl[k]-1`` against ``hs[k] .. hs[k]+hl[k]-1``."""
        keep = (gl > 0) & (hl > 0)
        gs, gl, hs, hl = gs[keep], gl[keep], hs[keep], hl[keep]
        swap = gl > hl  # one range per member of the smaller side
        for flip in (False, True):
            sel = swap == flip
            if not sel.any():
                continue
            a_s, a_l, b_s, b_l = gs[sel], gl[sel], hs[sel], hl[sel]
            if flip:
                a_s, a_l, b_s, b_l = b_s, b_l, a_s, a_l
            batch = (np.cumsum(a_l) - 1) // max(budget, 1)
            cuts = np.flatnonzero(np.diff(batch)) + 1
            for part in np.split(np.arange(a_s.shape[0]), cuts):
                src = concat_ranges(a_s[part], a_l[part])
                lo = np.repeat(b_s[part], a_l[part])
                cnt = np.repeat(b_l[part], a_l[part])
                for ii, jj in expand_ranges(src, lo, cnt, budget):
                    yield (jj, ii) if flip else (ii, jj)


def _bins(v: FloatArray, width: float) -> IntArray:
    """Bin of each value: ``width`` wide, or one bin per distinct value when ``width`` is 0."""
    if width > 0:
        return np.floor((v - v.min()) / width).astype(np.int64)
    return np.unique(v, return_inverse=True)[1].reshape(-1).astype(np.int64)


def build_cells(p: Points, params: FusionParams) -> Cells:
    n = len(p)
    a = link_arrays(p, params)
    eps_m, eps_s = float(params.eps_m), float(params.eps_s)
    side = eps_m / math.sqrt(2.0) * (1 - 1e-6)
    tick = eps_s * (1 - 1e-6)
    w_all = a.w if a.w is not None else np.zeros(n)
    # Position and start time make the cliques; window length and widening only split them
    # further, so that a cell's bounds are tight and most cell pairs come out certain.
    bins = [
        _bins(p.x, side),
        _bins(p.y, side),
        _bins(p.t_start, tick),
        _bins(p.t_end - p.t_start, tick),
        _bins(w_all, params.max_link_uncertainty_m / 16),
    ]
    sizes = [int(b.max()) + 1 for b in bins]
    if math.prod(sizes) < 2**62:
        key = bins[0]
        for b, k in zip(bins[1:], sizes[1:], strict=True):
            key = key * k + b
        order = np.argsort(key, kind="stable")
        ks = key[order]
        head = np.concatenate([[True], ks[1:] != ks[:-1]])
    else:
        order = np.lexsort(bins[::-1])
        head = np.zeros(n, dtype=bool)
        head[0] = True
        for b in bins:
            bs = b[order]
            head[1:] |= bs[1:] != bs[:-1]
    links = a.take(order)
    xs, ys, t0s = links.x, links.y, links.t0
    t1s = links.t1 if links.t1 is not None else t0s
    # Check each cell with the link formula; split any that fails (rounding at an edge).
    start = np.flatnonzero(head)
    ex = np.maximum.reduceat(xs, start) - np.minimum.reduceat(xs, start)
    ey = np.maximum.reduceat(ys, start) - np.minimum.reduceat(ys, start)
    et = np.maximum.reduceat(t0s, start) - np.minimum.reduceat(t0s, start)
    clique = (ex * ex + ey * ey <= eps_m * eps_m) & (et <= eps_s)
    if not clique.all():
        head |= np.repeat(~clique, np.diff(np.append(start, n)))
        start = np.flatnonzero(head)
    size = np.diff(np.append(start, n))
    m = start.shape[0]
    cell_of = np.repeat(np.arange(m, dtype=np.int64), size)
    xr, yr = xs[start], ys[start]
    ddx, ddy = xs - xr[cell_of], ys - yr[cell_of]
    rad = np.sqrt(np.maximum.reduceat(ddx * ddx + ddy * ddy, start))
    point = (np.maximum.reduceat(xs, start) == np.minimum.reduceat(xs, start)) & (
        np.maximum.reduceat(ys, start) == np.minimum.reduceat(ys, start)
    )
    w = w_all[order]
    wmax = np.maximum.reduceat(w, start)
    scale = max(1.0, float(np.abs(p.x).max()), float(np.abs(p.y).max()), eps_m + 2 * wmax.max())
    tol = 1e-9 * scale
    # The cells as points: a link between members implies a link between their cells when
    # each cell's radius (and the slack) is added to its widening.
    summary = Points(
        xr, yr, np.minimum.reduceat(t0s, start), np.maximum.reduceat(t1s, start),
        wmax + rad + tol,
    )
    grid = build_grid(summary, FusionParams(eps_m, eps_s, 1, math.inf))
    return Cells(
        order=order,
        start=np.append(start, n),
        cell_of=cell_of,
        links=links,
        x=xr,
        y=yr,
        rad=rad,
        point=point,
        t0max=np.maximum.reduceat(t0s, start),
        t1min=np.minimum.reduceat(t1s, start),
        wmin=np.minimum.reduceat(w, start),
        grid=grid,
        tol=tol,
    )


def _join_cells(c: Cells, join: IntArray, merger: Merger) -> None:
    """Connect the cells of observations that share a ``join`` label (>= 0)."""
    js = join[c.order]
    have = np.flatnonzero(js >= 0)
    if have.size == 0:
        return
    _, first, inv = np.unique(js[have], return_index=True, return_inverse=True)
    cells = c.cell_of[have]
    merger.union(cells, cells[first][inv.reshape(-1)])


def cell_components(
    p: Points,
    params: FusionParams,
    budget: int,
    join: IntArray | None = None,
    threads: int | None = None,
) -> IntArray:
    """Connected components of the link graph (an id per input observation).

    ``join``: observations with the same label >= 0 count as connected beforehand.
    """
    n = len(p)
    if n == 0:
        return np.empty(0, np.int64)
    c = build_cells(p, params)
    merger = Merger(c.start.shape[0] - 1, budget)
    if join is not None:
        _join_cells(c, join, merger)
    first, count = c.start[:-1], c.size
    held = _Undecided(budget)
    for g, h, cert in c.pairs(budget, threads):
        merger.union(g[cert], h[cert])
        held.add(g[~cert], h[~cert])
    _connect_undecided(c, merger, budget, first, count, held.batches(c, budget, threads))
    comp = np.empty(n, np.int64)
    comp[c.order] = merger.comp[c.cell_of]
    return comp


class _Undecided:
    """Undecided cell pairs met in one pass, kept up to ``budget`` (else found again)."""

    def __init__(self, budget: int) -> None:
        self._g: list[IntArray] = []
        self._h: list[IntArray] = []
        self._held = 0
        self._budget = budget
        self.overflow = False

    def add(self, g: IntArray, h: IntArray) -> None:
        if self.overflow or g.size == 0:
            return
        self._g.append(g)
        self._h.append(h)
        self._held += g.shape[0]
        if self._held > self._budget:
            self.overflow, self._g, self._h = True, [], []

    def batches(
        self, c: Cells, budget: int, threads: int | None, keep: BoolArray | None = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """The undecided pairs (those where ``keep`` holds on both cells, when given)."""
        if self.overflow:
            for g, h, cert in c.pairs(budget, threads):
                sel = ~cert if keep is None else ~cert & keep[g] & keep[h]
                yield g[sel], h[sel]
        elif self._g:
            g, h = np.concatenate(self._g), np.concatenate(self._h)
            if keep is not None:
                both = keep[g] & keep[h]
                g, h = g[both], h[both]
            yield g, h


def _connect_undecided(
    c: Cells,
    merger: Merger,
    budget: int,
    first: IntArray,
    count: IntArray,
    undecided: Iterable[tuple[IntArray, IntArray]],
) -> None:
    """Check member pairs of undecided cell pairs while the two cells are not connected.

    ``first``/``count``: the members that take part (all, or the core ones). The smaller cell's
    members are tried 1, 2, 4, ... at a time against all of the other's, and a pair drops out
    as soon as a link (anywhere) connects it.
    """
    for g, h in undecided:
        both = (count[g] > 0) & (count[h] > 0)
        g, h = g[both], h[both]
        flip = count[g] > count[h]
        g, h = np.where(flip, h, g), np.where(flip, g, h)
        done = np.zeros(g.shape[0], np.int64)
        step = 1
        while g.size:
            apart = merger.comp[g] != merger.comp[h]
            g, h, done = g[apart], h[apart], done[apart]
            take = np.minimum(step, count[g] - done)
            for ii, jj in c.member_pairs(first[g] + done, take, first[h], count[h], budget):
                ok = linked(c.links, ii, jj)
                merger.union(c.cell_of[ii[ok]], c.cell_of[jj[ok]])
            done = done + take
            more = done < count[g]
            g, h, done = g[more], h[more], done[more]
            step *= 2


def cell_dbscan(
    p: Points, params: FusionParams, budget: int, threads: int | None = None
) -> IntArray:
    """Exact DBSCAN labels for ``min_samples >= 3`` (noise as single incidents, not renumbered).

    Labels are the lowest input index of each cluster's core observations, ``n + i`` for
    noise observation ``i``: the same values :func:`truceguard.judge.fusion.labels_from_links`
    builds before renumbering.
    """
    n = len(p)
    ms = int(params.min_samples)
    c = build_cells(p, params)
    m = c.start.shape[0] - 1
    size = c.size
    small = size < ms
    # Neighbour counts (with the observation itself) where a cell's size does not settle them.
    count = size.astype(np.int64)
    extra = np.zeros(n, np.int64)
    held = _Undecided(budget)
    for g, h, cert in c.pairs(budget, threads):
        gc, hc = g[cert], h[cert]
        np.add.at(count, gc, size[hc])
        np.add.at(count, hc, size[gc])
        held.add(g[~cert], h[~cert])
        und = ~cert & (small[g] | small[h])
        gu, hu = g[und], h[und]
        for ii, jj in c.member_pairs(c.start[gu], size[gu], c.start[hu], size[hu], budget):
            ok = linked(c.links, ii, jj)
            np.add.at(extra, ii[ok], 1)
            np.add.at(extra, jj[ok], 1)
    core = ~small[c.cell_of] | (count[c.cell_of] + extra >= ms)
    # Core observations first in each cell (cells and their summaries stay as they are).
    perm = np.lexsort((~core, c.cell_of))
    c.reorder(perm)
    core = core[perm]
    ncore = np.add.reduceat(core.astype(np.int64), c.start[:-1])
    first = c.start[:-1]
    # Clusters: connected core subsets.
    merger = Merger(m, budget)
    has_core = ncore > 0
    for g, h, cert in c.pairs(budget, threads):
        sel = cert & has_core[g] & has_core[h]
        merger.union(g[sel], h[sel])
    undecided = held.batches(c, budget, threads, keep=has_core)
    _connect_undecided(c, merger, budget, first, ncore, undecided)
    seed_cell = np.full(m, n, np.int64)
    np.minimum.at(seed_cell, c.cell_of[core], c.order[core])
    seed = np.full(m, n, np.int64)
    np.minimum.at(seed, merger.comp, seed_cell)
    cluster = seed[merger.comp]  # per cell: its cores' cluster, n when it has no core
    # Borders: the first-seeded cluster that reaches them (own cell's cores link them all).
    label = np.where(core, cluster[c.cell_of], n)
    border_cell = cluster.copy()
    n_border = size - ncore
    for g, h, cert in c.pairs(budget, threads):
        for a, b in ((g, h), (h, g)):
            sel = (n_border[a] > 0) & has_core[b]
            sc = sel & cert
            np.minimum.at(border_cell, a[sc], cluster[b[sc]])
            su = sel & ~cert
            au, bu = a[su], b[su]
            pairs = c.member_pairs(
                first[au] + ncore[au], n_border[au], first[bu], ncore[bu], budget
            )
            for ii, jj in pairs:
                ok = linked(c.links, ii, jj)
                np.minimum.at(label, ii[ok], cluster[c.cell_of[jj[ok]]])
    label = np.where(core, label, np.minimum(label, border_cell[c.cell_of]))
    noise = label == n
    label[noise] = n + c.order[noise]
    out = np.empty(n, np.int64)
    out[c.order] = label
    return out
