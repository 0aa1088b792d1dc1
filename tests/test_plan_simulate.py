"""The model behind each headline, with a fixed seed: each test fails if a reviewed artefact
comes back (a satellite seen as a fixed sensor, air-only sensors counted for ground targets,
a pledge whose size changes nothing, a drone response measured at the line)."""

import math
from dataclasses import replace

import numpy as np
import pytest

from truceguard.geo.radar import radar_horizon_m, unit_vectors
from truceguard.geo.sphere import haversine_m
from truceguard.plan.coverage import (
    assets_from_rows,
    build_assets,
    coverage,
    detection_probability,
    line_points,
)
from truceguard.plan.forcegen import over_horizon, pool_needed
from truceguard.plan.hostile import hostile_distance_km
from truceguard.plan.run import run_variant, wilson
from truceguard.plan.scenario import ThreatType, load_scenario, resolve_variant
from truceguard.plan.simulate import build_kernel, draw_availability, evaluate, sample_violations

SEED = 11
SCEN = load_scenario("reassurance-2026")
BASE = resolve_variant(SCEN, "us-isr-only")
HEADLINE = ("line_isr_cover_share", "detection_probability", "breach_contained_72h_share",
            "air_intercept_share", "raid_largest_defeated_share",
            "raid_campaign_last_defeated_share")


def row(**kw):
    base = dict(pledge="p", nation="GBR", capability="c", role="sensor", pattern="mast",
                sees_ground=True, sees_air=False, lat=48.0, lon=37.0, readiness=1.0,
                height_m=10.0, range_m=1e5, latency_min=1.0, on_station=1.0, cycle_min=0.0)
    base.update(kw)
    from truceguard.plan.coverage import FIELDS_FLOAT

    for k in FIELDS_FLOAT:
        base.setdefault(k, 0.0)
    return base


@pytest.fixture(scope="module")
def results():
    return {v: run_variant(resolve_variant(SCEN, v), 1500, SEED, raid_replications=10)
            for v in ("us-isr-only", "us-backstop", "no-us")}


def test_published_force_generation_arithmetic():
    assert over_horizon(64_000, 6, 24) == 256_000
    assert pool_needed(10_000) == 30_000 and pool_needed(25_000) == 75_000


def test_every_variant_reports_layers_raids_and_threat(results):
    for r in results.values():
        m = r.metrics
        for k in HEADLINE:
            assert 0.0 <= m[k] <= 1.0, (r.name, k)
        assert set(m["layers"]) == {"ukraine", "reassurance_force", "land_breach",
                                    "monitoring", "air", "air_defence"}
        assert [x["threats"] for x in m["raids"]] == [sum(s) for s in SCEN.raids.sizes]
        assert (m["raids"][-2]["drones"] + m["raids"][-2]["decoys"],
                m["raids"][-2]["cruise"] + m["raids"][-2]["ballistic"]) == (805, 13)
        assert m["threat"]["source"] == "history" and m["threat"]["n_events"] > 3000


def test_us_monitoring_makes_the_difference_to_detection(results):
    # a satellite images only its strips of the line, in daylight and clear sky (plan/isr.py):
    # the US adds points of detection, not the tens it added when it imaged the whole line
    assert (results["us-isr-only"].metrics["detection_probability"]
            > results["no-us"].metrics["detection_probability"] + 0.01)


def test_a_satellite_is_not_a_fixed_sensor():
    sat = assets_from_rows([row(pattern="satellite", height_m=500_000.0, range_m=3e6,
                                latency_min=30.0, on_station=0.0, cycle_min=360.0,
                                readiness=0.9)])
    short = ThreatType("artillery", 1.0, "ground", 3.0, 20.0, 1.0)
    long_ = replace(short, persists_min=240.0)
    lat, lon = np.array([48.0, 50.0]), np.array([37.0, 25.0])
    # a pass every 6 h: a 20-minute event is seen with 0.9 x 20/360, not 0.9
    p = detection_probability(sat, lat, lon, short, within_min=120.0)
    assert p == pytest.approx([0.9 * 20 / 360] * 2)
    p = detection_probability(sat, lat, lon, long_, within_min=120.0)
    assert p == pytest.approx([0.9 * 90 / 360] * 2)
    # the Monte Carlo draws agree with the time average
    k = build_kernel(sat, (short,))
    n = 40_000
    x = unit_vectors(np.full(n, 48.0), np.full(n, 37.0))
    det, _, _ = evaluate(k, x, np.zeros(n, np.int8),
                         draw_availability(1, n, np.random.default_rng(3)))
    assert abs(float((det <= 120).mean()) - 0.9 * 20 / 360) < 0.005
    assert np.nanmax(det[np.isfinite(det)]) <= 30 + 20 + 1e-9


def test_an_orbit_looks_only_while_on_station():
    orbit = assets_from_rows([row(pattern="orbit", on_station=0.5, cycle_min=1440.0,
                                  latency_min=5.0)])
    t = ThreatType("g", 1.0, "ground", 3.0, 60.0, 1.0)
    p = detection_probability(orbit, np.array([48.0]), np.array([37.0]), t, 120.0)
    assert p[0] == pytest.approx(0.5 + 60 / 1440)


def test_air_only_sensors_never_count_for_ground_targets():
    with_awacs = BASE
    without = replace(BASE, pledges=tuple(p for p in BASE.pledges if p.capability != "awacs"))
    a, b = build_assets(with_awacs), build_assets(without)
    ca, cb = coverage(with_awacs, a), coverage(without, b)
    assert ca.share(ca.line_ground_detect) == cb.share(cb.line_ground_detect)
    assert ca.share(ca.line_detect["drone"]) > cb.share(cb.line_detect["drone"])


def test_the_size_of_a_troop_pledge_changes_the_answer():
    def reassurance(q: float) -> float:
        rv = replace(BASE, pledges=tuple(replace(p, quantity=q) if p.id == "gbr-troops" else p
                                         for p in BASE.pledges),
                     requirements={**BASE.requirements,
                                   "answer_within_min": replace(
                                       BASE.requirements["answer_within_min"], value=2000.0)})
        m = run_variant(rv, 1500, SEED, raid_replications=2).metrics
        return m["layers"]["reassurance_force"]["ground_answered_share"]["value"]

    small, large = reassurance(1500.0), reassurance(15000.0)
    # only detected violations are answered, and satellites detect far less than they did
    # when they imaged the whole line (plan/isr.py): the pledge's size still doubles the share
    assert large > 1.5 * small > 0.0


def test_the_number_of_batteries_changes_the_raid():
    def defeated_by_force(q: float) -> float:
        rv = replace(BASE, pledges=tuple(replace(p, quantity=q) if p.id == "fra-sampt" else p
                                         for p in BASE.pledges))
        m = run_variant(rv, 300, SEED, raid_replications=10).metrics
        return m["raids"][-1]["defeated_by_force_share"]

    assert defeated_by_force(2.0) > defeated_by_force(0.0)


def test_air_response_is_on_the_path_beyond_the_standoff_not_at_the_line(results):
    r = results["us-isr-only"]
    fighters = r.assets.of_role("fighter")
    assert (fighters.standoff_km >= 100).all()
    air = np.isfinite(r.t_intercept)
    assert air.any()
    # the crossing points are inside the stand-off: nobody meets a threat at the line
    d = hostile_distance_km(SCEN.hostile, r.v_lat[air], r.v_lon[air])
    assert (d < fighters.standoff_km.min()).mean() > 0.9
    assert (r.t_intercept[air] > 0).all()


def test_a_path_inside_the_standoff_is_never_intercepted():
    from truceguard.plan.intercept import intercept_minutes

    fighters = BASE and build_assets(BASE).of_role("fighter")
    # from the line near Zaporizhzhia to the city: the whole path is within 60 km of it
    t = intercept_minutes(fighters, SCEN.hostile, np.array([47.6]), np.array([35.6]),
                          np.array([47.82]), np.array([35.19]), np.array([185.0]),
                          np.array([0.0]))
    assert np.isinf(t[0])
    # a long path to Rivne is intercepted, well beyond the stand-off
    t = intercept_minutes(fighters, SCEN.hostile, np.array([47.6]), np.array([35.6]),
                          np.array([51.32]), np.array([25.9]), np.array([185.0]),
                          np.array([0.0]))
    assert np.isfinite(t[0])
    km = t[0] / 60 * 185
    assert km > 150


def test_same_seed_same_result_and_other_seed_differs():
    a = run_variant(BASE, 800, 3, raid_replications=4)
    b = run_variant(BASE, 800, 3, threads=1, raid_replications=4)
    c = run_variant(BASE, 800, 4, raid_replications=4)
    assert np.array_equal(a.t_response, b.t_response)
    assert a.metrics == b.metrics
    assert not np.array_equal(a.v_lat, c.v_lat)


def test_history_weighting_concentrates_on_minsk_hotspots():
    v = sample_violations(BASE, 4000, np.random.default_rng(1))
    donbas = (v.lat > 47.0) & (v.lat < 49.2) & (v.lon > 37.3) & (v.lon < 39.9)
    assert donbas.mean() > 0.4
    assert np.all(np.diff(v.type_idx) >= 0)
    air = np.array([t.target_class == "air" for t in BASE.threat.types])[v.type_idx]
    assert (v.target[air] >= 0).all() and (v.target[~air] == -1).all()


def _brute_force(assets, types, lat, lon, vtype, draws, free):
    """The model written pair by pair (slow and obvious) to check the vectorised kernel."""
    out = []
    for v in range(len(lat)):
        tt = types[vtype[v]]
        det = math.inf
        for a in range(len(assets)):
            sees = assets.sees_air[a] if tt.target_class == "air" else assets.sees_ground[a]
            if not (sees and assets.range_m[a] > 0):
                continue
            hor = math.inf if assets.pattern[a] == "satellite" else radar_horizon_m(
                assets.height_m[a], tt.height_m)
            rng = min(assets.range_m[a], hor)
            d = haversine_m(lat[v], lon[v], assets.lat[a], assets.lon[a])
            r, f, c = float(assets.readiness[a]), assets.on_station[a], assets.cycle_min[a]
            look = 1.0 if c == 0 else min(1.0, f + tt.persists_min / c)
            if d <= rng and draws[a, v] < r * look:
                wait = 0.0 if c == 0 else max(0.0, draws[a, v] / r - f) * c
                det = min(det, assets.latency_min[a] + wait)
        resp = math.inf
        if tt.target_class == "ground":
            for a in range(len(assets)):
                if assets.role[a] != "ground_force" or assets.qrf_units[a] <= 0:
                    continue
                d = haversine_m(lat[v], lon[v], assets.lat[a], assets.lon[a])
                if d <= assets.reach_m[a] and draws[a, v] < assets.readiness[a] * free[a]:
                    resp = min(resp, assets.react_min[a] + d / 1000 / assets.speed_kmh[a] * 60)
        out.append((det, det + resp))
    return np.array(out)


def test_kernel_matches_a_pair_by_pair_model():
    assets = build_assets(BASE)
    v = sample_violations(BASE, 300, np.random.default_rng(5))
    draws = draw_availability(len(assets), len(v), np.random.default_rng(6))
    free = np.where(assets.role == "ground_force", 0.7, 1.0)
    det, resp, _ = evaluate(build_kernel(assets, BASE.threat.types, free), v.unit, v.type_idx,
                            draws, chunk=64)
    ref = _brute_force(assets, BASE.threat.types, v.lat, v.lon, v.type_idx, draws, free)
    assert np.array_equal(np.isfinite(det), np.isfinite(ref[:, 0]))
    assert np.allclose(det[np.isfinite(det)], ref[np.isfinite(ref[:, 0]), 0], atol=1e-6)
    assert np.array_equal(np.isfinite(resp), np.isfinite(ref[:, 1]))
    assert np.allclose(resp[np.isfinite(resp)], ref[np.isfinite(ref[:, 1]), 1], atol=1e-3)


def test_unavailable_asset_never_detects():
    a = assets_from_rows([row(readiness=0.0)])
    k = build_kernel(a, BASE.threat.types[:1])
    det, _, _ = evaluate(k, unit_vectors(48.0, 37.0), np.zeros(1, np.int8),
                         np.zeros((1, 1), np.float32))
    assert np.isinf(det[0])


def test_wilson_interval_contains_the_share():
    lo, hi = wilson(30, 100)
    assert lo < 0.3 < hi
    assert lo >= 0 and hi <= 1


def test_line_points_cover_the_2026_line():
    lat, lon, w = line_points(BASE)
    assert 1300 < w.sum() / 1000 < 1600
