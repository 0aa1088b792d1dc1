"""Fusion at real density: exact labels, and memory bounded whatever the density.

UCDP and ACLED place many events at one district or province centroid on one day; the dense
path must give exactly the partition of exact DBSCAN there, without enumerating pairs.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from tests.fusion_fixtures import (
    DAY,
    as_points,
    brute_links,
    coarse_sets,
    point_sets,
    reference_labels,
    ucdp_arrays,
)
from truceguard.judge.fusion import (
    FusionParams,
    Points,
    _cluster_labels,
    canonical_labels,
    cluster_labels,
)
from truceguard.judge.fusion_cells import build_cells
from truceguard.judge.fusion_links import linked, threaded_batches

budgets = st.sampled_from([1, 3, 50, 2_000_000])


@settings(max_examples=200, deadline=None)
@given(coarse_sets(), budgets)
def test_dense_path_equals_exact_dbscan_at_centroids(
    case: tuple[Points, FusionParams], budget: int
) -> None:
    p, prm = case
    got = _cluster_labels(p, prm, 1, None, path="cells", budget=budget)
    assert np.array_equal(got, reference_labels(p, prm))


@settings(max_examples=200, deadline=None)
@given(point_sets(), budgets)
def test_dense_path_equals_exact_dbscan_on_spread_points(
    case: tuple[Points, FusionParams], budget: int
) -> None:
    p, prm = case
    got = _cluster_labels(p, prm, 1, None, path="cells", budget=budget)
    assert np.array_equal(got, reference_labels(p, prm))


@settings(max_examples=100, deadline=None)
@given(coarse_sets())
def test_spread_path_equals_exact_dbscan_at_centroids(case: tuple[Points, FusionParams]) -> None:
    p, prm = case
    assert np.array_equal(_cluster_labels(p, prm, 1, None, path="direct"), reference_labels(p, prm))


def _weighted_reference(p: Points, prm: FusionParams) -> np.ndarray:
    """Exact DBSCAN on the distinct rows, each weighted by how often it occurs.

    Identical rows link each other and have the same neighbours, so this is exact DBSCAN on
    all rows; distinct rows are kept in order of first occurrence, so the border rule (lowest
    index first) is unchanged. Noise copies become one incident each, as fusion makes them.
    """
    rows = np.column_stack([p.x, p.y, p.t_start, p.t_end, np.nan_to_num(p.uncertainty_m, nan=-1)])
    _, first, inverse, counts = np.unique(
        rows, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0])
    uniq = p.take(first[order])
    n = len(uniq)
    i, j = brute_links(uniq, prm)
    dist = np.full((n, n), 2.0)
    np.fill_diagonal(dist, 0.0)
    dist[i, j] = dist[j, i] = 0.0
    lab = DBSCAN(eps=1.0, min_samples=prm.min_samples, metric="precomputed").fit_predict(
        dist, sample_weight=counts[order]
    )
    full = lab[rank[inverse.reshape(-1)]]
    noise = full < 0  # noise is one incident per observation, copies included
    full[noise] = full.max() + 1 + np.arange(noise.sum())
    return canonical_labels(full)


@pytest.mark.parametrize("min_samples", [1, 3])
def test_ucdp_copies_equal_exact_dbscan(ucdp: dict[str, np.ndarray], min_samples: int) -> None:
    """The shipped UCDP events, each copied 1 to 4 times (new ids, same place and day)."""
    base = as_points(ucdp)
    rng = np.random.default_rng(8)
    copies = rng.integers(1, 5, len(base))
    p = base.take(np.repeat(np.arange(len(base)), copies)[rng.permutation(int(copies.sum()))])
    prm = FusionParams(eps_m=3000, eps_s=3600, min_samples=min_samples)
    dense = _cluster_labels(p, prm, None, None, path="cells", budget=10_000)
    assert np.array_equal(dense, _weighted_reference(p, prm))
    assert np.array_equal(cluster_labels(p, prm), dense)
    assert dense.max() + 1 < len(base)  # copies and neighbours really fuse


def test_memory_stays_bounded_at_one_centroid() -> None:
    """40,000 reports at three centroids over two days: about 440 million links, never listed."""
    rng = np.random.default_rng(3)
    n = 40_000
    place = rng.integers(0, 3, n)
    x = np.array([0.0, 20_000.0, 21_000.0])[place]
    y = np.zeros(n)
    t = rng.integers(0, 2, n) * DAY
    # Most windows are the day; some run three days, some are minutes at a jittered spot.
    dur = rng.choice([DAY - 1, 3 * DAY, 600.0], n, p=[0.8, 0.1, 0.1])
    x = x + np.where(dur == 600.0, rng.uniform(0, 900, n), 0.0)
    unc = rng.choice([25_000.0, 150_000.0, np.nan], n)
    p = Points.of(x, y, t, t + dur, unc)
    prm = FusionParams(eps_m=3000, eps_s=3600, min_samples=1)
    tracemalloc.start()
    try:
        labels = cluster_labels(p, prm, threads=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6  # bytes: a few arrays of n, and one batch of pairs
    # Exactness on the same data: the distinct rows carry every link.
    rows = np.column_stack([p.x, p.t_start, p.t_end, np.nan_to_num(p.uncertainty_m)])
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    small = cluster_labels(p.take(first), prm)
    assert np.array_equal(labels, canonical_labels(small[inverse.reshape(-1)]))
    assert labels.max() + 1 == len(np.unique(small))


@pytest.fixture(scope="module")
def ucdp() -> dict[str, np.ndarray]:
    return ucdp_arrays()


def test_threaded_batches_yield_every_result_and_pass_errors_on() -> None:
    def work(a: int, b: int) -> Iterator[int]:
        yield from range(a, b)

    got = sorted(threaded_batches(work, 1000, threads=3, chunk=7))
    assert got == list(range(1000))

    def failing(a: int, b: int) -> Iterator[int]:
        if a >= 70:
            raise KeyError(a)
        yield a

    with pytest.raises(KeyError):
        list(threaded_batches(failing, 1000, threads=3, chunk=7))
    # A consumer that stops early does not leave workers behind.
    first = threaded_batches(work, 10_000, threads=3, chunk=7)
    assert next(first) >= 0
    first.close()


def test_dense_path_on_threads_equals_one_thread() -> None:
    """More cells than one chunk: the cell pairs are found on worker threads."""
    rng = np.random.default_rng(11)
    n = 200_000
    x = rng.uniform(0, 400_000, n).round(-2)  # 100 m grid: many shared positions
    y = rng.uniform(0, 60_000, n).round(-2)
    t = rng.integers(0, 20, n) * 3600.0
    p = Points.of(x, y, t, t + rng.choice([0.0, 1800.0, 86_399.0], n))
    prm = FusionParams(eps_m=800, eps_s=900)
    one = _cluster_labels(p, prm, 1, None, path="cells", budget=100_000)
    two = _cluster_labels(p, prm, 2, None, path="cells", budget=100_000)
    assert np.array_equal(one, two)
    assert np.array_equal(one, _cluster_labels(p, prm, 2, None, path="direct"))
    assert 1 < one.max() + 1 < n
    prm3 = FusionParams(eps_m=800, eps_s=900, min_samples=3)
    three = _cluster_labels(p, prm3, 2, None, path="cells", budget=100_000)
    assert np.array_equal(three, _cluster_labels(p, prm3, 1, None, path="direct"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(coarse_sets(), point_sets()))
def test_cell_pairs_hold_every_link_and_certain_ones_only_links(
    case: tuple[Points, FusionParams],
) -> None:
    """The bounds behind the dense path: no link is missed, and "certain" is never wrong."""
    p, prm = case
    cells = build_cells(p, prm)
    members = [np.arange(a, b) for a, b in zip(cells.start[:-1], cells.start[1:], strict=True)]
    found: dict[tuple[int, int], bool] = {}
    for g, h, cert in cells.pairs(budget=5, threads=1):
        for a, b, c in zip(g.tolist(), h.tolist(), cert.tolist(), strict=True):
            found[(min(a, b), max(a, b))] = c
            if c:
                ii, jj = np.meshgrid(members[a], members[b])
                assert linked(cells.links, ii.ravel(), jj.ravel()).all()
    # Every link between observations of two cells lies in a cell pair that was found.
    n = len(p)
    ii, jj = np.triu_indices(n, k=1)
    ok = linked(cells.links, ii, jj)
    ca, cb = cells.cell_of[ii[ok]], cells.cell_of[jj[ok]]
    inside = ca == cb
    assert set(zip(np.minimum(ca, cb)[~inside].tolist(), np.maximum(ca, cb)[~inside].tolist(),
                   strict=True)) <= set(found)
    # Observations of one cell all link each other.
    same = cells.cell_of[ii] == cells.cell_of[jj]
    assert linked(cells.links, ii[same], jj[same]).all()
