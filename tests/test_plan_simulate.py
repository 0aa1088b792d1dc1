"""Force generation, coverage and the Monte Carlo on the shipped scenario, with a fixed seed."""

import math

import numpy as np
import pytest

from truceguard.plan.coverage import assets_from_rows, build_assets
from truceguard.plan.forcegen import over_horizon, pool_needed
from truceguard.plan.run import run_variant, wilson
from truceguard.plan.scenario import load_scenario, resolve_variant
from truceguard.plan.simulate import (
    build_kernel,
    draw_availability,
    evaluate,
    sample_violations,
)
from truceguard.plan.sweep import grid, resolve_all, sweep

SEED = 11
SAMPLES = 1500
SCEN = load_scenario("reassurance-2025")
KEYS = ("line_isr_cover_share", "line_response_30min_share", "line_response_60min_share",
        "detection_probability", "protected_sites_air_defence_share")


@pytest.fixture(scope="module")
def results():
    return {rv.name: run_variant(rv, SAMPLES, SEED) for rv in resolve_all(SCEN, None)}


def test_published_force_generation_arithmetic():
    assert over_horizon(64_000, 6, 24) == 256_000
    assert pool_needed(10_000) == 30_000 and pool_needed(25_000) == 75_000


def test_every_variant_runs_and_reports_shares(results):
    assert set(results) == set(SCEN.variants)
    for r in results.values():
        for k in KEYS:
            assert 0.0 <= r.metrics[k] <= 1.0, (r.name, k)
        totals = {f.capability: f for f in r.force if f.nation == ""}
        assert totals["ground_troops"].pool_needed == 3 * totals["ground_troops"].pledged


def test_the_us_makes_the_difference(results):
    us, no_us = results["us-backstop"].metrics, results["no-us"].metrics
    assert us["detection_probability"] > no_us["detection_probability"] + 0.3
    assert us["line_isr_cover_share"] > no_us["line_isr_cover_share"]
    assert (us["protected_sites_air_defence_share"]
            > results["us-isr-only"].metrics["protected_sites_air_defence_share"])
    assert results["no-us"].gaps["air_defence"] >= results["us-backstop"].gaps["air_defence"]
    assert results["iiss-10k"].gaps["ground_troops"] > 0
    assert results["iiss-25k"].gaps["ground_troops"] == 0


def test_same_seed_same_result_and_other_seed_differs():
    rv = resolve_variant(SCEN, "us-isr-only")
    a = run_variant(rv, 800, 3)
    b = run_variant(rv, 800, 3, threads=1)
    c = run_variant(rv, 800, 4)
    assert np.array_equal(a.t_response, b.t_response)
    assert a.metrics == b.metrics
    assert not np.array_equal(a.v_lat, c.v_lat)


def test_history_weighting_concentrates_on_minsk_hotspots():
    rv = resolve_variant(SCEN, "us-backstop")
    v = sample_violations(rv, 4000, np.random.default_rng(1))
    donbas = (v.lat > 47.0) & (v.lat < 49.2) & (v.lon > 37.3) & (v.lon < 39.9)
    assert donbas.mean() > 0.5
    assert np.all(np.diff(v.type_idx) >= 0)


def _brute_force(assets, types, lat, lon, vtype, draws):
    """The model, written pair by pair (slow and obvious) to check the vectorised kernel."""
    from truceguard.geo.radar import radar_horizon_m
    from truceguard.geo.sphere import haversine_m

    out = []
    for v in range(len(lat)):
        t = vtype[v]
        det = math.inf
        for a in range(len(assets)):
            if not (assets.detects[a, t] and assets.sensor_range_m[a] > 0):
                continue
            rng = min(assets.sensor_range_m[a], radar_horizon_m(assets.height_m[a],
                                                                 types[t].height_m))
            d = haversine_m(lat[v], lon[v], assets.lat[a], assets.lon[a])
            if d <= rng and draws[a, v] < assets.readiness[a]:
                det = min(det, assets.latency_min[a]
                          + draws[a, v] / assets.readiness[a] * assets.revisit_min[a])
        resp = math.inf
        for a in range(len(assets)):
            d = haversine_m(lat[v], lon[v], assets.lat[a], assets.lon[a])
            if assets.responds[a, t] and d <= assets.reach_m[a] and \
                    draws[a, v] < assets.readiness[a]:
                resp = min(resp, assets.react_min[a] + d / 1000 / assets.speed_kmh[a] * 60)
        out.append((det, det + resp))
    return np.array(out)


def test_kernel_matches_a_pair_by_pair_model():
    rv = resolve_variant(SCEN, "us-backstop")
    assets = build_assets(rv)
    v = sample_violations(rv, 300, np.random.default_rng(5))
    draws = draw_availability(len(assets), len(v), np.random.default_rng(6))
    det, resp, _ = evaluate(build_kernel(assets, rv.threat.types), v.unit, v.type_idx, draws,
                            chunk=64)
    ref = _brute_force(assets, rv.threat.types, v.lat, v.lon, v.type_idx, draws)
    assert np.array_equal(np.isfinite(det), np.isfinite(ref[:, 0]))
    assert np.allclose(det[np.isfinite(det)], ref[np.isfinite(ref[:, 0]), 0], atol=1e-6)
    assert np.array_equal(np.isfinite(resp), np.isfinite(ref[:, 1]))
    assert np.allclose(resp[np.isfinite(resp)], ref[np.isfinite(ref[:, 1]), 1], atol=1e-3)


def test_unavailable_asset_never_detects():
    rows = [dict(pledge="p", nation="GB", capability="radar", lat=48.0, lon=37.0, readiness=0.0,
                 height_m=10.0, sensor_range_m=1e5, latency_min=1.0, revisit_min=0.0,
                 detects=[True], ad_range_m=0.0, speed_kmh=1.0, react_min=0.0, reach_m=0.0,
                 responds=[False])]
    a = assets_from_rows(rows, 1)
    rv = resolve_variant(SCEN, "us-backstop")
    k = build_kernel(a, rv.threat.types[:1])
    x = np.array([[48.0, 37.0]])
    from truceguard.geo.radar import unit_vectors

    det, _, _ = evaluate(k, unit_vectors(x[:, 0], x[:, 1]), np.zeros(1, np.int8),
                         np.zeros((1, 1), np.float32))
    assert np.isinf(det[0])


def test_wilson_interval_contains_the_share():
    lo, hi = wilson(30, 100)
    assert lo < 0.3 < hi
    assert lo >= 0 and hi <= 1


def test_parameter_grid_changes_the_requirement():
    rv = resolve_variant(SCEN, "iiss-10k")
    g = grid(rv, "ground_troops_per_km", [5.0, 14.0])
    out = sweep(g, 200, SEED)
    assert out[0].gaps["ground_troops"] < out[1].gaps["ground_troops"]
