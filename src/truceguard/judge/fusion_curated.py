"""Curated sources: observations of one curated source never share an incident.

UCDP GED and ACLED publish events their curators have already deduplicated; two of their rows
that fall near each other on one day are two events. ``curated_group`` gives each observation
the id (>= 0) of its curated source, or -1. After clustering (the components, or DBSCAN's
clusters), :func:`separate_curated` splits every incident that holds two observations of one
curated group:

1. Of the groups with two or more observations in the incident, the one with the most
   (ties: the lowest group id) supplies the *anchors*: each of its observations starts its own
   incident.
2. Every other observation of the incident (other sources' reports, other curated groups)
   joins the anchor *nearest* to it in normalised space-time, by the squared distance
   ``(dx*dx + dy*dy) / eps_m**2 + gap**2 / eps_s**2`` (float64, as written), the gap between
   the two time windows (0 when they overlap), 0/0 counted as 0 and x/0 as infinity.
   Uncertainty radii do not enter: a vague position is no nearer for being vague. Ties go
   to the anchor with the smallest ``(t_start, t_end, x, y, uncertainty_m)`` (unknown
   uncertainty last), then to the lowest index.
3. The pieces are checked again, for the groups still doubled in them, until no incident
   holds two observations of one group (at most one round per curated group).

The outcome depends on the observations' values and, only between anchors equal in every
value above, on their order; it is a function of each component alone, which is what lets
incremental fusion agree with a full one. Memory stays bounded: each member looks at the
anchors of its incident within a radius ``R`` in both terms (squares in space, a window in
time per duration class) that grows eightfold per round only for the members whose nearest
anchor it does not yet settle, in batches of bounded size; members (and anchors) equal in
position and window are looked up once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.judge.fusion_links import (
    FloatArray,
    FusionParams,
    IntArray,
    Points,
    duration_classes,
    expand_ranges,
)

_WIDEN = 8.0
_LAST_FINITE = 1e6


def separate_curated(
    p: Points, labels: IntArray, curated: IntArray, params: FusionParams, budget: int
) -> IntArray:
    """``labels`` with every incident split until no curated group appears twice in one."""
    lab = np.asarray(labels, dtype=np.int64).copy()
    cur = np.flatnonzero(curated >= 0)
    if cur.size < 2:
        return lab
    while True:
        li, gi = lab[cur], curated[cur]
        o = np.lexsort((gi, li))
        ls, gs = li[o], gi[o]
        head = np.concatenate([[True], (ls[1:] != ls[:-1]) | (gs[1:] != gs[:-1])])
        starts = np.flatnonzero(head)
        counts = np.diff(np.append(starts, ls.shape[0]))
        twice = counts >= 2
        if not twice.any():
            return lab
        c_inc, c_grp, c_cnt = ls[starts][twice], gs[starts][twice], counts[twice]
        # Per incident, the anchoring group: the most observations, then the lowest id.
        pick = np.lexsort((c_grp, -c_cnt, c_inc))
        c_inc, c_grp = c_inc[pick], c_grp[pick]
        first = np.concatenate([[True], c_inc[1:] != c_inc[:-1]])
        inc, grp = c_inc[first], c_grp[first]
        at = np.minimum(np.searchsorted(inc, lab), inc.shape[0] - 1)
        inside = inc[at] == lab
        anchor = inside & (curated == grp[at])
        member = inside & ~anchor
        a_idx, m_idx = np.flatnonzero(anchor), np.flatnonzero(member)
        nearest = _nearest_anchor(p, params, m_idx, lab[m_idx], a_idx, lab[a_idx], budget)
        base = int(lab.max()) + 1
        lab[a_idx] = base + a_idx
        lab[m_idx] = base + nearest


def _distance2(p: Points, params: FusionParams, m: IntArray, a: IntArray) -> FloatArray:
    """Squared normalised space-time distance from member ``m[k]`` to anchor ``a[k]``."""
    dx = p.x[a] - p.x[m]
    dy = p.y[a] - p.y[m]
    gap = np.maximum(np.maximum(p.t_start[a] - p.t_end[m], p.t_start[m] - p.t_end[a]), 0.0)
    return _scaled2(dx * dx + dy * dy, params.eps_m) + _scaled2(gap * gap, params.eps_s)


def _scaled2(v2: FloatArray, eps: float) -> FloatArray:
    if eps > 0:
        return v2 / (eps * eps)
    return np.where(v2 > 0, np.inf, 0.0)


def _squares(dx: FloatArray, dy: FloatArray, side: float, n_sq: int) -> tuple[IntArray, IntArray]:
    """Square of each offset from the origin (1-based, room for a neighbour each side)."""
    if n_sq == 1:
        zero = np.zeros(dx.shape[0], np.int64)
        return zero, zero
    return np.floor(dx / side).astype(np.int64) + 1, np.floor(dy / side).astype(np.int64) + 1


def _distinct(*keys: NDArray[Any]) -> tuple[IntArray, IntArray]:
    """Rows equal in every key: ``(order, group)``, ``order`` sorting them together and
    ``group`` numbering each run of equal rows in that order (0, 1, ...)."""
    order = np.lexsort(keys[::-1])
    head = np.zeros(order.shape[0], dtype=bool)
    head[:1] = True
    for k in keys:
        ks = k[order]
        head[1:] |= ks[1:] != ks[:-1]
    return order, np.cumsum(head) - 1


def _nearest_anchor(
    p: Points,
    params: FusionParams,
    m_idx: IntArray,
    m_inc: IntArray,
    a_idx: IntArray,
    a_inc: IntArray,
    budget: int,
) -> IntArray:
    """For each member, the input index of the nearest anchor of its incident.

    Members equal in position and window have the same nearest anchor, and of anchors equal
    in position and window only the first by rank can win: each is looked up once. Round k
    looks, for each member not yet settled, at the anchors of its incident within ``R = 8**k``
    in both terms (squares ``2 R eps_m`` wide, the time window widened by each duration
    class's longest window); a member whose nearest so far is nearer than ``R`` is settled.
    """
    if m_idx.size == 0:
        return np.empty(0, np.int64)
    x, y, t0, t1 = p.x, p.y, p.t_start, p.t_end
    # Tie-break rank: by value, then by index.
    rank = np.empty(a_idx.shape[0], np.int64)
    by_value = (a_idx, p.uncertainty_m[a_idx], y[a_idx], x[a_idx], t1[a_idx], t0[a_idx])
    rank[np.lexsort(by_value)] = np.arange(a_idx.shape[0])
    order, group = _distinct(a_inc, x[a_idx], y[a_idx], t0[a_idx], t1[a_idx], rank)
    keep = order[np.concatenate([[True], group[1:] != group[:-1]])]
    anchors, a_inc, a_rank = a_idx[keep], a_inc[keep], rank[keep]
    m_order, m_group = _distinct(m_inc, x[m_idx], y[m_idx], t0[m_idx], t1[m_idx])
    m_first = m_order[np.concatenate([[True], m_group[1:] != m_group[:-1]])]
    members, m_inc = m_idx[m_first], m_inc[m_first]
    cls, reach = duration_classes(t1[anchors] - t0[anchors], params.eps_s)
    incs, a_inc_r = np.unique(a_inc, return_inverse=True)
    a_inc_r = a_inc_r.reshape(-1)
    m_inc_r = np.searchsorted(incs, m_inc)
    times = np.unique(t0[anchors])
    t_rank = np.searchsorted(times, t0[anchors])
    x0 = float(min(x[anchors].min(), x[members].min()))
    y0 = float(min(y[anchors].min(), y[members].min()))
    extent = max(
        float(max(x[anchors].max(), x[members].max())) - x0,
        float(max(y[anchors].max(), y[members].max())) - y0,
    )
    slack = 1e-9 * max(1.0, float(np.abs(t0).max()), float(np.abs(t1).max()))
    best_d = np.full(members.shape[0], np.inf)
    best_r = np.full(members.shape[0], np.iinfo(np.int64).max)
    best = np.full(members.shape[0], -1, np.int64)
    todo = np.arange(members.shape[0])
    radius = 1.0
    while todo.size:
        t = todo
        finite = bool(np.isfinite(radius))
        # Squares 2 R eps_m wide: the disc of radius R eps_m around a member meets at most
        # the square it lies in and the neighbours on its nearer sides.
        side = 2.0 * radius * params.eps_m * (1 + 1e-9) if finite else 0.0
        n_sq = int(extent / side) + 3 if side > 0 and extent / side < 2**20 else 1
        n_cls = reach.shape[0] if finite else 1
        span = times.shape[0] + 1
        if incs.shape[0] * n_sq * n_sq * n_cls * span >= 2**62:
            n_sq = 1
        a_cls = cls if finite else np.zeros(anchors.shape[0], np.int64)
        ax, ay = _squares(x[anchors] - x0, y[anchors] - y0, side, n_sq)
        key = (((a_inc_r * n_sq + ax) * n_sq + ay) * n_cls + a_cls) * span + t_rank
        ao = np.argsort(key, kind="stable")
        key_s = key[ao]
        mx, my = x[members[t]] - x0, y[members[t]] - y0
        cx, cy = _squares(mx, my, side, n_sq)
        if n_sq > 1:
            # The neighbour on the nearer side, in x and in y.
            nx_ = np.where(mx / side - (cx - 1) < 0.5, cx - 1, cx + 1)
            ny_ = np.where(my / side - (cy - 1) < 0.5, cy - 1, cy + 1)
            squares = [(cx, cy), (nx_, cy), (cx, ny_), (nx_, ny_)]
        else:
            squares = [(cx, cy)]
        half = radius * params.eps_s * (1 + 1e-9) + slack if finite else 0.0
        src, lo, hi = [], [], []
        if finite:
            t_hi = np.searchsorted(times, t1[members[t]] + half, side="right")
            t_lo = [
                np.searchsorted(times, t0[members[t]] - half - reach[c], side="left")
                for c in range(n_cls)
            ]
        else:
            t_hi, t_lo = np.full(t.shape[0], span), [np.zeros(t.shape[0], np.int64)]
        for sx, sy in squares:
            block = ((m_inc_r[t] * n_sq + sx) * n_sq + sy) * n_cls
            for c in range(n_cls):
                base = (block + c) * span
                src.append(t)
                lo.append(np.searchsorted(key_s, base + t_lo[c]))
                hi.append(np.searchsorted(key_s, base + t_hi))
        src_a, lo_a, hi_a = np.concatenate(src), np.concatenate(lo), np.concatenate(hi)
        for ii, kk in expand_ranges(src_a, lo_a, hi_a - lo_a, budget):
            jj = ao[kk]
            d = _distance2(p, params, members[ii], anchors[jj])
            # Nearest first, then lowest rank (unique per anchor): reduced per member in place.
            before = best_d[ii]
            np.minimum.at(best_d, ii, d)
            now = best_d[ii]
            best_r[ii[now < before]] = np.iinfo(np.int64).max
            on = d == now
            ii, jj = ii[on], jj[on]
            r = a_rank[jj]
            np.minimum.at(best_r, ii, r)
            win = r == best_r[ii]
            best[ii[win]] = anchors[jj[win]]
        if not finite:
            break
        # Anchors outside the squares or the window are farther than R: nearer is settled.
        bound = radius if params.eps_s > 0 else np.inf
        todo = t[~(best_d[t] < bound * bound)]
        radius = radius * _WIDEN if bound < _LAST_FINITE else np.inf
    out = np.empty(m_idx.shape[0], np.int64)
    out[m_order] = best[m_group]
    return out
