"""Fusion: exactness against DBSCAN, incremental == full, incident summaries on UCDP data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fusion_fixtures import (
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
    canonical_labels,
    cluster_labels,
    fuse_arrays,
    fuse_incremental,
    link_pairs,
    summarise_incidents,
)
from truceguard.judge.grading import load_grading


@pytest.fixture(scope="module")
def ucdp() -> dict[str, np.ndarray]:
    return ucdp_arrays()


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_labels_equal_exact_dbscan(case: tuple[Points, FusionParams]) -> None:
    p, prm = case
    assert np.array_equal(cluster_labels(p, prm, threads=1), reference_labels(p, prm))


@settings(max_examples=100, deadline=None)
@given(point_sets())
def test_links_equal_brute_force(case: tuple[Points, FusionParams]) -> None:
    p, prm = case
    i, j = link_pairs(p, prm)
    got = {(min(a, b), max(a, b)) for a, b in zip(i.tolist(), j.tolist(), strict=True)}
    bi, bj = brute_links(p, prm)
    assert got == set(zip(bi.tolist(), bj.tolist(), strict=True))
    assert len(got) == len(i)  # each link once


def test_chunks_and_threads_give_the_same_labels() -> None:
    rng = np.random.default_rng(7)
    n = 150_000  # more than two chunks
    x = rng.uniform(0, 300_000, n)
    y = rng.uniform(0, 50_000, n)
    t = rng.uniform(0, 86_400 * 3, n)
    one = fuse_arrays(x, y, t, eps_m=1500, eps_s=900, threads=1)
    two = fuse_arrays(x, y, t, eps_m=1500, eps_s=900, threads=2)
    assert np.array_equal(one, two)
    assert 1 < one.max() + 1 < n


def test_uncertainty_widens_links_up_to_the_cap() -> None:
    x = np.array([0.0, 3000.0])
    t = np.zeros(2)
    prm = FusionParams(eps_m=1000, eps_s=60, max_link_uncertainty_m=1000)
    assert cluster_labels(Points.of(x, np.zeros(2), t), prm).tolist() == [0, 1]
    both_1500 = Points.of(x, np.zeros(2), t, uncertainty_m=[1500.0, 1500.0])
    assert cluster_labels(both_1500, prm).tolist() == [0, 0]  # 1000 + 2 x 1000 (capped) >= 3000
    oblast = Points.of(x, np.zeros(2), t, uncertainty_m=[150_000.0, np.nan])
    assert cluster_labels(oblast, prm).tolist() == [0, 1]  # 1000 + 1000 + 0 < 3000


def test_time_gap_is_between_windows() -> None:
    p = Points.of([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0, 10_000, 30_000], [9_000, 10_000, 30_000])
    prm = FusionParams(eps_m=100, eps_s=1_000)
    assert cluster_labels(p, prm).tolist() == [0, 0, 1]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="t_end"):
        Points.of([0.0], [0.0], [10.0], [5.0])
    with pytest.raises(ValueError, match="finite"):
        Points.of([np.nan], [0.0], [0.0])
    with pytest.raises(ValueError, match="min_samples"):
        FusionParams(min_samples=0)


@pytest.mark.parametrize("batches", [2, 7])
def test_incremental_equals_full_on_ucdp(ucdp: dict[str, np.ndarray], batches: int) -> None:
    p = as_points(ucdp)
    prm = FusionParams(eps_m=10_000, eps_s=86_400, max_link_uncertainty_m=5_000)
    full = cluster_labels(p, prm)
    # Batches in file order (roughly chronological): the way a feed arrives.
    cuts = np.linspace(0, len(p), batches + 1).astype(int)
    labels = cluster_labels(p.take(np.arange(cuts[1])), prm)
    any_merge = False
    for a, b in zip(cuts[1:-1], cuts[2:], strict=True):
        res = fuse_incremental(p.take(np.arange(a)), labels, p.take(np.arange(a, b)), prm)
        # Old incidents keep their labels unless merged, and merges are reported.
        kept = np.array([res.merged.get(v, v) for v in labels.tolist()])
        assert np.array_equal(res.labels[:a], kept)
        assert res.examined < a
        any_merge |= bool(res.merged)
        labels = res.labels
    assert np.array_equal(canonical_labels(labels), full)
    assert full.max() + 1 < len(p)  # the data really fuses
    assert any_merge or batches == 2


@settings(max_examples=100, deadline=None)
@given(st.one_of(point_sets(), coarse_sets()), st.integers(0, 80), st.data())
def test_incremental_equals_full_on_random_points(
    case: tuple[Points, FusionParams], cut: int, data: st.DataObject
) -> None:
    p, prm = case
    cut = min(cut, len(p))
    perm = np.array(data.draw(st.permutations(range(len(p)))), dtype=np.int64)
    p = p.take(perm)
    old, new = p.take(np.arange(cut)), p.take(np.arange(cut, len(p)))
    res = fuse_incremental(old, cluster_labels(old, prm), new, prm)
    assert np.array_equal(canonical_labels(res.labels), cluster_labels(p, prm))


def test_summaries_on_ucdp(ucdp: dict[str, np.ndarray]) -> None:
    p = as_points(ucdp)
    prm = FusionParams(eps_m=10_000, eps_s=86_400)
    labels = cluster_labels(p, prm)
    keys = ("lat", "lon", "uncertainty_m", "t_start", "t_end", "category", "weapon_class")
    recs = summarise_incidents(
        labels,
        **{k: ucdp[k] for k in keys},
        source=ucdp["source"],
        origin=ucdp["origin"],
        how_known=ucdp["how_known"],
    )
    assert len(recs) == labels.max() + 1
    members = sorted(i for r in recs for i in r["observations"])
    assert members == list(range(len(labels)))  # every observation in exactly one incident
    for r in recs:
        obs = np.array(r["observations"])
        assert (labels[obs] == r["incident"]).all()  # and each knows its incident
        assert r["t_start"] == ucdp["t_start"][obs].min()
        assert r["t_end"] == ucdp["t_end"][obs].max()
        assert r["independent_sources"] == len(set(ucdp["origin"][obs].tolist()))
        assert sum(r["category_votes"].values()) == len(obs)
        lo, hi = ucdp["lat"][obs].min(), ucdp["lat"][obs].max()
        assert lo - 1e-6 <= r["lat"] <= hi + 1e-6
    grades = {r["grade"] for r in recs}
    assert {"verified", "single_source"} <= grades
    multi = [r for r in recs if len(r["observations"]) > 1]
    assert multi
    # The incident position leans to the precise reports (inverse-variance weighting).
    r = next(
        r for r in multi if len({float(v) for v in ucdp["uncertainty_m"][r["observations"]]}) > 1
    )
    obs = np.array(r["observations"])
    best = obs[np.argmin(ucdp["uncertainty_m"][obs])]
    worst = obs[np.argmax(ucdp["uncertainty_m"][obs])]
    d_best = np.hypot(r["lat"] - ucdp["lat"][best], r["lon"] - ucdp["lon"][best])
    d_worst = np.hypot(r["lat"] - ucdp["lat"][worst], r["lon"] - ucdp["lon"][worst])
    assert d_best <= d_worst


def test_summary_votes_and_sources() -> None:
    n = 4
    recs = summarise_incidents(
        np.zeros(n, dtype=int),
        lat=np.full(n, 48.0),
        lon=np.full(n, 37.0),
        uncertainty_m=np.array([100.0, np.nan, 100.0, 100.0]),
        t_start=np.arange(n) * 60.0,
        t_end=np.arange(n) * 60.0 + 30,
        category=["shelling", "shelling", "shelling", "shots"],
        weapon_class=["artillery_ge100", "unknown", "artillery_ge100", "small_arms"],
        source=["patrol", "patrol", "web", "web"],
        origin=["patrol 3", "patrol 3", "", ""],
        how_known=["heard", "heard", "open_source", "open_source"],
        rules=load_grading(),
    )
    (r,) = recs
    assert r["category"] == "shelling"
    assert r["category_votes"] == {"shelling": 3, "shots": 1}
    assert r["independent_sources"] == 2  # "patrol 3" twice counts once, plus "web"
    assert sorted(r["sources"]) == ["patrol 3", "web"]
    assert r["grade"] == "verified"
    assert "2 independent sources" in r["grade_reason"]
    assert (r["t_start"], r["t_end"]) == (0.0, 210.0)
    assert r["uncertainty_m"] < 100.0  # three precise reports at one place


def test_noise_becomes_single_incidents_with_min_samples() -> None:
    x = np.array([0.0, 100.0, 200.0, 50_000.0])
    p = Points.of(x, np.zeros(4), np.zeros(4))
    labels = cluster_labels(p, FusionParams(eps_m=150, eps_s=10, min_samples=3))
    assert labels.tolist() == [0, 0, 0, 1]
