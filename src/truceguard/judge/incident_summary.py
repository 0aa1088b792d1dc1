"""Incident records: what fusion's labels say about each incident.

:func:`summarise_incidents` turns per-observation arrays and incident labels into one record per
incident: position with its uncertainty, time window, votes on category and weapon class,
independent sources and a confidence grade (:mod:`truceguard.judge.grading`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceguard.geo.project import LocalProjection, projection_for
from truceguard.judge.fusion_links import IntArray
from truceguard.judge.grading import Evidence, GradingRules, grade, leading, load_grading


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
