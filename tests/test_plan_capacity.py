"""Capacity: Erlang loss, raids shot by shot, orbit placement, threats from events,
and the one-at-a-time sensitivity."""

from dataclasses import replace

import numpy as np
import pytest

from truceguard.errors import InputError
from truceguard.plan import capacity
from truceguard.plan.coverage import build_assets, coverage
from truceguard.plan.hostile import hostile_distance_km
from truceguard.plan.orbits import place_orbits
from truceguard.plan.run import run_variant
from truceguard.plan.scenario import load_scenario, resolve_variant
from truceguard.plan.sensitivity import sensitivity
from truceguard.plan.threat import threat_from_events, with_threat

SCEN = load_scenario("reassurance-2026")
BASE = resolve_variant(SCEN, "us-isr-only")


def test_erlang_b_known_values():
    assert capacity.erlang_b(1, 1.0) == pytest.approx(0.5)
    assert capacity.erlang_b(2, 1.0) == pytest.approx(0.2)
    assert capacity.erlang_b(0, 1.0) == 1.0 and capacity.erlang_b(3, 0.0) == 0.0
    assert capacity.erlang_b(10, 5.0) < capacity.erlang_b(5, 5.0)


def _force(stock, fighter_shots=0, ukraine=(0.0, 0.0)):
    return capacity.RaidForce(
        cover=np.array([[True], [False]]), stock=np.array([float(stock)]),
        pk=np.array([[1.0, 1.0]]), shots=np.array([[1, 2]]), fighter_shots=fighter_shots,
        fighter_pk=np.array([1.0, 1.0]), reachable=np.ones((2, 1, 2), dtype=bool),
        ukraine_pk=np.array(ukraine))


def test_a_raid_is_answered_until_the_interceptors_run_out():
    rng = np.random.default_rng(0)
    d = capacity.raid_draws(rng, 5, 10, 0, np.array([1.0, 0.0]), 1)  # all at site 0
    out = capacity.run_raids(_force(4), d)
    assert (out.defeated == 4).all() and (out.defeated_by_force == 4).all()
    assert out.uncovered[:, 0].all() and out.uncovered[:, 1].all()  # empty, and never covered
    more = capacity.run_raids(_force(20), d)
    assert (more.defeated == 10).all() and not more.uncovered[:, 0].any()


def test_fighters_spend_their_shots_first_and_ukraine_downs_its_share():
    rng = np.random.default_rng(1)
    d = capacity.raid_draws(rng, 200, 20, 0, np.array([0.0, 1.0]), 1)  # all at the bare site
    out = capacity.run_raids(_force(0, fighter_shots=5), d)
    assert (out.defeated_by_force == 5).all()
    half = capacity.run_raids(_force(0, ukraine=(0.5, 0.0)), d)
    assert half.defeated.mean() / 20 == pytest.approx(0.5, abs=0.03)


def test_missiles_take_two_interceptors():
    rng = np.random.default_rng(2)
    d = capacity.raid_draws(rng, 3, 0, 3, np.array([1.0, 0.0]), 1)
    f = replace(_force(4), pk=np.array([[1.0, 0.0]]))  # every shot at a missile misses
    out = capacity.run_raids(f, d)
    assert (out.defeated == 0).all() and (out.stock_left == 0).all()


def test_placed_orbits_keep_their_standoff_and_add_coverage():
    placed, moves = place_orbits(BASE)
    assert moves and all(m["adds_share"] >= 0 for m in moves)
    for p in placed.pledges:
        cap = SCEN.capabilities[p.capability]
        if cap.pattern == "orbit":
            stand = {**cap.params, **p.params}["standoff_km"]
            d = hostile_distance_km(SCEN.hostile, [b.lat for b in p.basing],
                                    [b.lon for b in p.basing])
            assert (d >= stand).all(), p.id
    before = coverage(BASE, build_assets(BASE))
    after = coverage(placed, build_assets(placed))
    assert after.share(after.line_ground_detect) > before.share(before.line_ground_detect)
    assert after.share(after.line_detect["drone"]) >= before.share(before.line_detect["drone"])


def test_a_threat_from_events_weights_the_line_where_they_happened():
    events = [(48.0 + 0.01 * i, 37.7, "2026-01-01T00:00:00Z", 1.0) for i in range(50)]
    [rv] = with_threat([BASE], events, "store")
    r = run_variant(rv, 2000, 3, raid_replications=2)
    assert r.metrics["threat"]["source"] == "store" and r.metrics["threat"]["n_events"] == 50
    near = np.hypot(r.v_lat - 48.25, r.v_lon - 37.7) < 0.6
    assert near.mean() > 0.5
    with pytest.raises(InputError) as err:
        threat_from_events(BASE.threat, [(None, None, "t", 1.0)])
    assert "adjudicate" in err.value.hint


def test_sensitivity_ranks_assumptions_by_swing():
    keys = ["capabilities.satellites.revisit_h", "capabilities.fighters.standoff_km",
            "breach.decision_delay_h"]
    s = sensitivity(SCEN, samples=600, raid_replications=4, only=keys)
    assert s.variant == "us-isr-only"
    assert set(s.rows) >= {"line_isr_cover_share", "air_intercept_share",
                           "breach_contained_72h_share", "raid_largest_defeated_share"}
    assert s.driver("line_isr_cover_share")["assumption"] == keys[0]
    assert s.driver("air_intercept_share")["assumption"] == keys[1]
    assert s.driver("breach_contained_72h_share")["assumption"] == keys[2]
    slow = s.rows["breach_contained_72h_share"][0]
    assert slow["metric_low"] > slow["metric_high"]  # a slower decision contains fewer
    row = s.rows["line_isr_cover_share"][0]
    assert row["metric_low"] > s.base["line_isr_cover_share"] > row["metric_high"]
    assert {"assumption", "low", "high", "metric_low", "metric_high"} <= set(row)
