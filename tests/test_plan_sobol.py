"""Variance-based sensitivity: the estimators on functions whose indices are known, and the
analysis on the shipped scenario (drivers named only beyond the Monte Carlo noise)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from truceguard.cli import main
from truceguard.plan import sobol as so
from truceguard.plan.scenario import load_scenario
from truceguard.plan.sensitivity import NOISE_SEEDS, sensitivity


def _outputs(f, n: int = 4096, d: int = 3, seed: int = 7):
    from scipy.stats import qmc

    u = qmc.Sobol(d=2 * d, scramble=True, seed=seed).random_base2(int(np.log2(n)))
    a, b = u[:, :d], u[:, d:]
    fa, fb = f(a), f(b)
    fabs = []
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        fabs.append(f(ab))
    return fa, fb, fabs


def test_indices_of_an_additive_function_match_the_analytic_ones():
    # y = 4 x1 + 2 x2 + 0 x3 on uniform inputs: variances 16/12, 4/12, 0 -> S = 0.8, 0.2, 0
    fa, fb, fabs = _outputs(lambda x: 4 * x[:, 0] + 2 * x[:, 1])
    rng = np.random.default_rng(1)
    expected = [0.8, 0.2, 0.0]
    for fab, want in zip(fabs, expected, strict=True):
        (s1, lo1, hi1), (st, lo, hi) = so.indices(fa, fb, fab, rng)
        assert lo1 - 0.02 <= want <= hi1 + 0.02
        assert lo - 0.02 <= want <= hi + 0.02
        assert abs(st - want) < 0.03


def test_an_interaction_shows_as_total_above_first_order():
    # y = x1 * x2 (centred): no first-order effect at all, everything is interaction
    fa, fb, fabs = _outputs(lambda x: (x[:, 0] - 0.5) * (x[:, 1] - 0.5))
    rng = np.random.default_rng(2)
    (s1, _, _), (st, lo, _) = so.indices(fa, fb, fabs[0], rng)
    assert abs(s1) < 0.05
    assert st > 0.4 and lo > 0.3


def test_assumptions_are_grouped_by_what_they_describe():
    assert so.factor_of("capabilities.fighters.speed_kmh") == "capabilities.fighters"
    assert so.factor_of("pledges[gbr-troops].quantity") == "pledges"
    assert so.factor_of("threat.types.drone.speed_kmh") == "threat.types"
    assert so.factor_of("threat.violations_per_day") == "threat"
    assert so.factor_of("ukraine.troops") == "ukraine"


@pytest.fixture(scope="module")
def small_sobol():
    scen = load_scenario("reassurance-2026")
    return so.sobol(scen, base_rows=8, samples=100, raid_replications=2)


def test_sobol_on_the_scenario_names_drivers_only_beyond_the_noise(small_sobol):
    r = small_sobol
    assert r.runs == so.runs_for(len(r.factors), 8)
    doc = json.loads(json.dumps(r.as_json()))
    for m, res in r.metrics.items():
        for i in res.indices:
            assert i.total_low <= i.total + 1e-9 <= i.total_high + 2e-9
            if i.named:
                assert i.total_low > max(res.seed.total, 0.0)
                assert i.total >= so.MIN_DRIVER_SHARE
        assert doc["metrics"][m]["drivers"] == res.drivers()
    # the breach and air-defence blocks are factors; the breach moves over their ranges
    assert {"breach", "air_defence", "raids"} <= set(r.factors)
    assert r.metrics["breach_contained_72h_share"].variance > 0
    # the line watched has no sampling at all: its seed index is zero
    assert r.metrics["line_isr_cover_share"].seed.total == 0


def test_too_few_rows_and_a_bad_grouping_are_domain_errors():
    scen = load_scenario("reassurance-2026")
    with pytest.raises(so.InputError, match="too few"):
        so.sobol(scen, base_rows=4)
    with pytest.raises(so.InputError, match="grouping"):
        so.factors_for(scen.assumptions, "nation")


def test_one_at_a_time_swings_within_the_noise_are_never_the_driver():
    scen = load_scenario("reassurance-2026")
    sens = sensitivity(scen, samples=300, raid_replications=4,
                       only=["capabilities.fighters.standoff_km", "threat.history_floor"])
    for m, rows in sens.rows.items():
        for row in rows:
            assert row["beyond_noise"] == (row["swing"] > max(sens.noise[m], 0.005))
        d = sens.driver(m)
        assert d is None or d["beyond_noise"]
    # the sampled metrics have noise; the exact ones none
    assert sens.noise["air_intercept_share"] > 0
    assert sens.noise["line_isr_cover_share"] == 0
    assert NOISE_SEEDS >= 2


def test_plan_cli_refuses_too_few_sobol_rows(tmp_path):
    res = CliRunner().invoke(main, ["plan", "--variant", "no-us", "--samples", "200",
                                    "--sobol-rows", "4", "-o", str(tmp_path / "out")])
    assert res.exit_code != 0
    assert "too few" in res.output and "Traceback" not in res.output
