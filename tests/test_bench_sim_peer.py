"""The SimPy peer in benchmarks/bench_sim.py computes the same raid model as ours.

The benchmark times truceguard's vectorised air defence against a SimPy process model of the
same rules; the ratio means something only if both give the same answers. They draw their own
random numbers, so they are compared statistically on a small raid that saturates the barrier
(more drones meet it than it can engage in half an hour) and a short campaign that runs a
magazine down: the mean share defeated per class, and the interceptors fired per layer and type,
within sampling error. Seeds are fixed, so the test is deterministic. (How fast each one is is
measured in the benchmark, never here.)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from truceguard.plan.raid import Raid, Setting, campaign, make_raid, setting_for, simulate
from truceguard.plan.scenario import load_scenario, resolve_variant

Z_MAX = 4.0


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sim.py"
    spec = importlib.util.spec_from_file_location("bench_sim_peer_under_test", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


@pytest.fixture(scope="module")
def setting() -> Setting:
    return setting_for(resolve_variant(load_scenario("reassurance-2026"), "us-backstop"))


def _raid(st: Setting) -> Raid:
    # three hours: Ukraine's barrier engages at most 30 threats a half hour (180 a raid), fewer
    # than meet it; the coalition's SAMP/T at Kyiv 4 a half hour, from a magazine of 57.6
    return make_raid(drones=300, decoys=60, cruise=12, ballistic=6, targeting=st.targeting,
                     duration_h=3.0)


def _check(rows: list[tuple[str, float, float, float]]) -> None:
    bad = [r for r in rows if not abs(r[3]) < Z_MAX]
    assert not bad, f"ours and the SimPy peer differ beyond sampling error: {bad}"


def test_one_raid_agrees_with_the_peer(bench: ModuleType, setting: Setting) -> None:
    raid = _raid(setting)
    ours = bench.ours_samples(simulate(raid, setting, 200, seed=3))
    peer = bench.peer_samples(bench.peer_simulate(raid, setting, 200, seed=3))
    rows = bench.compare(ours, peer)
    assert {r[0] for r in rows} >= {"defeated drone", "defeated decoy", "defeated cruise",
                                    "defeated ballistic", "fired ukraine:barrier_rounds"}
    _check(rows)
    # the barrier saturates on both sides: 6 half hours x 30 engagements, never more
    for s in (ours, peer):
        barrier = s.fired["ukraine:barrier_rounds"]
        assert barrier.max() == pytest.approx(180.0)
        assert barrier.mean() > 0.97 * 180.0


def test_a_campaign_agrees_with_the_peer_as_a_magazine_empties(bench: ModuleType,
                                                                setting: Setting) -> None:
    raid = _raid(setting)
    raids, reps = 3, 120
    ours = bench.our_campaign(raid, setting, raids, 1.0, reps, 5)
    peer = bench.peer_campaign(raid, setting, raids, 1.0, reps, 5)
    # the step-by-step run the comparison needs is campaign() itself
    assert np.allclose([o.defeated_share().mean() for o in ours],
                       campaign(raid, setting, raids=raids, days_between=1.0,
                                replications=reps, seed=5), rtol=0, atol=1e-12)
    fired_o, fired_p = [], []
    for k in range(raids):
        o, p = bench.ours_samples([ours[k]]), bench.peer_samples(peer, k)
        _check(bench.compare(o, p))
        fired_o.append(float(o.fired["coalition:aster30"].mean()))
        fired_p.append(float(p.fired["coalition:aster30"].mean()))
    # the coalition's SAMP/T magazine runs down: fewer rounds each raid, on both sides
    for f in (fired_o, fired_p):
        assert f[0] > f[1] > f[2]
        assert f[-1] < 0.5 * f[0]


def test_z_score_is_zero_for_equal_constants_and_large_for_a_real_difference(
        bench: ModuleType) -> None:
    assert bench.z_score(np.ones(10), np.ones(10)) == 0.0
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 2000), rng.normal(0.3, 1.0, 2000)
    assert abs(bench.z_score(a, b)) > Z_MAX
