"""Curated sources: two observations of one curated group never share an incident."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fusion_fixtures import DAY, as_points, coarse_sets, point_sets, ucdp_arrays
from truceguard.errors import InputError
from truceguard.judge.fusion import (
    FusionParams,
    Points,
    _cluster_labels,
    canonical_labels,
    cluster_labels,
    fuse_arrays,
    fuse_incremental,
)

any_points = st.one_of(point_sets(), coarse_sets())


@st.composite
def curated_sets(draw: st.DrawFn) -> tuple[Points, FusionParams, np.ndarray]:
    p, prm = draw(any_points)
    groups = st.sampled_from([-1, -1, 0, 0, 0, 1, 1, 2])
    cur = np.array(draw(st.lists(groups, min_size=len(p), max_size=len(p))), dtype=np.int64)
    return p, prm, cur


def _doubled(labels: np.ndarray, cur: np.ndarray) -> bool:
    """Whether any incident holds two observations of one curated group."""
    mask = cur >= 0
    pairs = np.stack([labels[mask], cur[mask]])
    return np.unique(pairs, axis=1).shape[1] < int(mask.sum())


def _as_rows(p: Points, cur: np.ndarray, labels: np.ndarray) -> list[tuple[tuple[float, ...], ...]]:
    """The partition as incidents of observation values (equal observations interchangeable)."""
    unc = np.nan_to_num(p.uncertainty_m, nan=-1.0)
    rows = list(zip(p.x, p.y, p.t_start, p.t_end, unc, cur, strict=True))
    incidents: dict[int, list[tuple[float, ...]]] = {}
    for k, row in zip(labels.tolist(), rows, strict=True):
        incidents.setdefault(k, []).append(tuple(float(v) for v in row))
    return sorted(tuple(sorted(v)) for v in incidents.values())


@settings(max_examples=200, deadline=None)
@given(curated_sets(), st.sampled_from(["auto", "cells"]), st.sampled_from([1, 7, 500_000]))
def test_no_incident_holds_two_of_one_curated_group(
    case: tuple[Points, FusionParams, np.ndarray], path: str, budget: int
) -> None:
    p, prm, cur = case
    plain = cluster_labels(p, prm)
    got = _cluster_labels(p, prm, 1, cur if (cur >= 0).sum() >= 2 else None, path=path,
                          budget=budget)
    assert np.array_equal(got, cluster_labels(p, prm, curated_group=cur))
    assert not _doubled(got, cur)
    # Only splits: each incident lies inside one incident of plain fusion.
    assert np.unique(np.stack([got, plain]), axis=1).shape[1] == got.max() + 1
    # Incidents without a doubled group are left whole.
    for k in np.unique(plain):
        members = plain == k
        if not _doubled(np.zeros(int(members.sum()), np.int64), cur[members]):
            assert np.unique(got[members]).size == 1


@settings(max_examples=150, deadline=None)
@given(any_points)
def test_none_and_no_curated_observation_give_plain_fusion(
    case: tuple[Points, FusionParams],
) -> None:
    p, prm = case
    plain = cluster_labels(p, prm)
    n = len(p)
    assert np.array_equal(cluster_labels(p, prm, curated_group=None), plain)
    assert np.array_equal(cluster_labels(p, prm, curated_group=np.full(n, -1)), plain)
    # Each observation its own curated group: nothing is doubled, nothing changes.
    assert np.array_equal(cluster_labels(p, prm, curated_group=np.arange(n)), plain)


@settings(max_examples=150, deadline=None)
@given(curated_sets(), st.integers(0, 80), st.data())
def test_incremental_equals_full_with_curated_groups(
    case: tuple[Points, FusionParams, np.ndarray], cut: int, data: st.DataObject
) -> None:
    p, prm, cur = case
    cut = min(cut, len(p))
    perm = np.array(data.draw(st.permutations(range(len(p)))), dtype=np.int64)
    p, cur = p.take(perm), cur[perm]
    old, new = p.take(np.arange(cut)), p.take(np.arange(cut, len(p)))
    old_labels = cluster_labels(old, prm, curated_group=cur[:cut])
    res = fuse_incremental(old, old_labels, new, prm, curated_group=cur)
    full = cluster_labels(p, prm, curated_group=cur)
    assert np.array_equal(canonical_labels(res.labels), full)
    # Every incident whose observations changed is listed.
    before = np.concatenate([old_labels, np.full(len(new), -1)])
    for k in np.unique(res.labels):
        if not np.array_equal(before[res.labels == k], np.full((res.labels == k).sum(), k)):
            assert k in res.changed


@settings(max_examples=150, deadline=None)
@given(curated_sets(), st.data())
def test_curated_partition_is_a_function_of_the_data(
    case: tuple[Points, FusionParams, np.ndarray], data: st.DataObject
) -> None:
    p, prm, cur = case
    prm = FusionParams(prm.eps_m, prm.eps_s, 1, prm.max_link_uncertainty_m)
    perm = np.array(data.draw(st.permutations(range(len(p)))), dtype=np.int64)
    one = cluster_labels(p, prm, curated_group=cur)
    two = cluster_labels(p.take(perm), prm, curated_group=cur[perm])
    assert _as_rows(p, cur, one) == _as_rows(p.take(perm), cur[perm], two)


def test_a_report_between_two_curated_events_joins_the_nearer() -> None:
    # Two UCDP events 4 km apart on one day, bridged by a report 1 km from the first; an ACLED
    # event (another curated group) 500 m from the second.
    x = np.array([0.0, 4000.0, 1000.0, 4500.0])
    t = np.zeros(4)
    prm = FusionParams(eps_m=3000, eps_s=3600)
    cur = np.array([0, 0, -1, 1])
    assert fuse_arrays(x, np.zeros(4), t, eps_m=3000).tolist() == [0, 0, 0, 0]
    got = cluster_labels(Points.of(x, np.zeros(4), t), prm, curated_group=cur)
    assert got.tolist() == [0, 1, 0, 1]
    # Equidistant: the tie goes to the anchor with the earlier start, whatever the order.
    x = np.array([0.0, 4000.0, 2000.0])
    t = np.array([60.0, 0.0, 0.0])
    got = cluster_labels(Points.of(x, np.zeros(3), t, t), prm, curated_group=[0, 0, -1])
    assert got.tolist() == [0, 1, 1]
    got = cluster_labels(Points.of(x[::-1], np.zeros(3), t[::-1]), prm, curated_group=[-1, 0, 0])
    assert got.tolist() == [0, 0, 1]


def test_the_most_numerous_doubled_group_anchors() -> None:
    # Three ACLED events and two UCDP events in one chain: ACLED anchors, and each UCDP event
    # joins the ACLED event it is nearest to, so no group is doubled.
    x = np.array([0.0, 2500.0, 5000.0, 200.0, 4900.0])
    cur = np.array([1, 1, 1, 0, 0])
    got = fuse_arrays(x, np.zeros(5), np.zeros(5), eps_m=3000, curated_group=cur)
    assert got.tolist() == [0, 1, 2, 0, 2]


def test_ucdp_events_stay_apart_and_other_reports_still_fuse() -> None:
    ev = ucdp_arrays()
    base = as_points(ev)
    prm = FusionParams(eps_m=3000, eps_s=3600)
    plain = cluster_labels(base, prm)
    assert plain.max() + 1 < len(base)  # plain fusion merges distinct UCDP events
    curated = cluster_labels(base, prm, curated_group=np.zeros(len(base), np.int64))
    assert np.array_equal(curated, np.arange(len(base)))
    # A second, uncurated feed reporting a tenth of the events 500 m off: each report joins an
    # event at the place it reports, in a window that overlaps its own (the event it copies,
    # or one that shares its place and time), and events stay apart.
    rng = np.random.default_rng(5)
    pick = rng.choice(len(base), len(base) // 10, replace=False)
    rep = base.take(pick)
    rep = Points(rep.x + 500.0, rep.y, rep.t_start, rep.t_end, np.full(len(rep), 500.0))
    both = base.concat(rep)
    cur = np.concatenate([np.zeros(len(base), np.int64), np.full(len(rep), -1)])
    got = cluster_labels(both, prm, curated_group=cur)
    assert got.max() + 1 == len(base)
    joined = got[len(base) :]  # labels of events are their indices
    assert (base.x[joined] == base.x[pick]).all() and (base.y[joined] == base.y[pick]).all()
    gap = np.maximum(base.t_start[joined] - rep.t_end, rep.t_start - base.t_end[joined])
    assert (gap <= 0).all()
    # Where the copied event is the only one there and then, the report joins exactly it.
    alone = np.array([
        np.sum(
            (base.x == base.x[i]) & (base.y == base.y[i])
            & (np.maximum(base.t_start - base.t_end[i], base.t_start[i] - base.t_end) <= 0)
        ) == 1
        for i in pick
    ])
    assert alone.sum() > len(pick) / 3
    assert np.array_equal(joined[alone], pick[alone])


@pytest.mark.parametrize("batches", [3, 8])
def test_incremental_equals_full_on_ucdp_with_a_second_feed(batches: int) -> None:
    base = as_points(ucdp_arrays())
    rng = np.random.default_rng(6)
    pick = rng.choice(len(base), len(base) // 4, replace=False)
    rep = base.take(pick)
    rep = Points(rep.x + rng.uniform(-2000, 2000, len(rep)), rep.y, rep.t_start + 3600,
                 rep.t_end, np.full(len(rep), 2000.0))
    p = base.concat(rep)
    cur = np.concatenate([np.zeros(len(base), np.int64), np.full(len(rep), -1)])
    order = np.argsort(p.t_start, kind="stable")  # a feed arrives roughly in time order
    p, cur = p.take(order), cur[order]
    prm = FusionParams(eps_m=3000, eps_s=3600)
    full = cluster_labels(p, prm, curated_group=cur)
    cuts = np.linspace(0, len(p), batches + 1).astype(int)
    labels = cluster_labels(p.take(np.arange(cuts[1])), prm, curated_group=cur[: cuts[1]])
    for a, b in zip(cuts[1:-1], cuts[2:], strict=True):
        res = fuse_incremental(
            p.take(np.arange(a)), labels, p.take(np.arange(a, b)), prm, curated_group=cur[:b]
        )
        labels = res.labels
    assert np.array_equal(canonical_labels(labels), full)
    assert not _doubled(full, cur)


def test_curated_group_is_checked() -> None:
    p = Points.of([0.0, 1.0], [0.0, 0.0], [0.0, 0.0])
    prm = FusionParams()
    for bad, what in (([0], "shape"), ([0.5, 1.0], "integers"), ([0, -2], "-2")):
        with pytest.raises(InputError, match=what) as err:
            cluster_labels(p, prm, curated_group=bad)
        assert err.value.code == "input.bad_curated_group"


def test_days_at_one_centroid_are_events_not_one_incident() -> None:
    # UCDP at one centroid on consecutive days: day windows link (1 s apart), so plain fusion
    # chains a month into one incident; curated, each event stays its own.
    days = np.arange(30) * DAY
    p = Points.of(np.zeros(30), np.zeros(30), days, days + DAY - 1, np.full(30, 25_000.0))
    prm = FusionParams()
    assert cluster_labels(p, prm).max() == 0
    assert cluster_labels(p, prm, curated_group=np.zeros(30, np.int64)).max() == 29
