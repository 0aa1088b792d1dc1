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
   joins the anchor *nearest* to it in normalised space-time:
   ``hypot(distance / eps_m, gap / eps_s)``, the gap between the two time windows (0 when
   they overlap) and 0/0 counted as 0, x/0 as infinity. Uncertainty radii do not enter: a
   vague position is no nearer for being vague. Ties go to the anchor with the smallest
   ``(t_start, t_end, x, y, uncertainty_m)`` (unknown uncertainty last), then to the lowest
   index.
3. The pieces are checked again, for the groups still doubled in them, until no incident
   holds two observations of one group (at most one round per curated group).

The outcome depends on the observations' values and, only between anchors equal in every
value above, on their order; it is a function of each component alone, which is what lets
incremental fusion agree with a full one. Memory stays bounded: each member looks at the
anchors of its incident within a time window that widens (eightfold per round) only for the
members whose nearest anchor it does not yet settle, in batches of bounded size.
"""

from __future__ import annotations

import numpy as np

from truceguard.judge.fusion_links import (
    FloatArray,
    FusionParams,
    IntArray,
    Points,
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


def _distance(p: Points, params: FusionParams, m: IntArray, a: IntArray) -> FloatArray:
    """Normalised space-time distance from member ``m[k]`` to anchor ``a[k]``."""
    dx = p.x[a] - p.x[m]
    dy = p.y[a] - p.y[m]
    dist = np.sqrt(dx * dx + dy * dy)
    gap = np.maximum(np.maximum(p.t_start[a] - p.t_end[m], p.t_start[m] - p.t_end[a]), 0.0)
    return np.hypot(_scaled(dist, params.eps_m), _scaled(gap, params.eps_s))


def _scaled(v: FloatArray, eps: float) -> FloatArray:
    if eps > 0:
        return v / eps
    return np.where(v > 0, np.inf, 0.0)


def _nearest_anchor(
    p: Points,
    params: FusionParams,
    m_idx: IntArray,
    m_inc: IntArray,
    a_idx: IntArray,
    a_inc: IntArray,
    budget: int,
) -> IntArray:
    """For each member, the input index of the nearest anchor of its incident."""
    if m_idx.size == 0:
        return np.empty(0, np.int64)
    # Tie-break rank: by value, then by index.
    rank = np.empty(a_idx.shape[0], np.int64)
    unc = p.uncertainty_m[a_idx]
    by_value = (a_idx, unc, p.y[a_idx], p.x[a_idx], p.t_end[a_idx], p.t_start[a_idx])
    rank[np.lexsort(by_value)] = np.arange(a_idx.shape[0])
    # Anchors sorted by (incident, t_start); one int64 key for the window searches.
    ao = np.lexsort((p.t_start[a_idx], a_inc))
    anchors, a_rank = a_idx[ao], rank[ao]
    incs, inc_of = np.unique(a_inc[ao], return_inverse=True)
    times = np.unique(p.t_start[anchors])
    span = times.shape[0] + 1
    key = inc_of.reshape(-1) * span + np.searchsorted(times, p.t_start[anchors])
    block = np.searchsorted(key, np.arange(incs.shape[0] + 1) * span)
    longest = np.maximum.reduceat(p.t_end[anchors] - p.t_start[anchors], block[:-1])
    mi = np.searchsorted(incs, m_inc)
    t0m, t1m = p.t_start[m_idx], p.t_end[m_idx]
    slack = 1e-9 * max(1.0, float(np.abs(p.t_start).max()), float(np.abs(p.t_end).max()))
    best_d = np.full(m_idx.shape[0], np.inf)
    best_r = np.full(m_idx.shape[0], np.iinfo(np.int64).max)
    best = np.full(m_idx.shape[0], -1, np.int64)
    todo = np.arange(m_idx.shape[0])
    radius = 1.0
    while todo.size:
        t = todo
        if np.isfinite(radius):
            half = radius * params.eps_s * (1 + 1e-9) + slack
            lo_t = t0m[t] - half - longest[mi[t]]
            hi_t = t1m[t] + half
            lo = np.searchsorted(key, mi[t] * span + np.searchsorted(times, lo_t, side="left"))
            hi = np.searchsorted(key, mi[t] * span + np.searchsorted(times, hi_t, side="right"))
        else:
            lo, hi = block[mi[t]], block[mi[t] + 1]
        for ii, jj in expand_ranges(t, lo, hi - lo, budget):
            d = _distance(p, params, m_idx[ii], anchors[jj])
            r = a_rank[jj]
            o = np.lexsort((r, d, ii))
            ii, d, r, jj = ii[o], d[o], r[o], jj[o]
            head = np.concatenate([[True], ii[1:] != ii[:-1]])
            ii, d, r, jj = ii[head], d[head], r[head], jj[head]
            better = (d < best_d[ii]) | ((d == best_d[ii]) & (r < best_r[ii]))
            ii, d, r, jj = ii[better], d[better], r[better], jj[better]
            best_d[ii], best_r[ii], best[ii] = d, r, anchors[jj]
        if not np.isfinite(radius):
            break
        # Anchors outside the window are at least `bound` away: members nearer are settled.
        bound = radius if params.eps_s > 0 else np.inf
        todo = t[~(best_d[t] < bound)]
        radius = radius * _WIDEN if params.eps_s > 0 and radius < _LAST_FINITE else np.inf
    return best
