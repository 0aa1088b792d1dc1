"""Raids: the curve against raid size, Belarus as a switch, and `truceguard raid`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from truceguard.cli import main
from truceguard.plan.raid import (
    LAUNCH_AREAS,
    Raid,
    _cdf,
    _pick,
    _time_order,
    defended_km,
    draw_raid,
    launch_mix,
    make_raid,
    setting,
    simulate,
    summarise,
)


def _share(drones: int, **kw: object) -> float:
    st = setting(**kw)
    raid = make_raid(drones=drones, belarus_hostile=st.belarus_hostile, targeting=st.targeting)
    return float(summarise(simulate(raid, st, 60, seed=4))["defeated_share"]["mean"])  # type: ignore[index]


def test_the_share_defeated_falls_as_the_raid_grows() -> None:
    shares = [_share(n) for n in (200, 800, 1600, 3200)]
    assert all(b < a for a, b in zip(shares, shares[1:], strict=False)), shares
    assert shares[0] - shares[-1] > 0.15


def test_belarus_reaches_kyiv_over_a_short_defended_path() -> None:
    assert LAUNCH_AREAS["belarus"].region == "belarus"
    assert defended_km("belarus", "capital") < 0.5 * defended_km("kursk", "capital")


def test_belarus_hostile_changes_the_air_results() -> None:
    base = setting(variant="us-isr-only")
    hostile = setting(variant="belarus-hostile")
    assert not base.belarus_hostile and hostile.belarus_hostile
    at_kyiv = {"capital": 1.0}  # Belarus is 88 km from Kyiv
    raid_b = make_raid(drones=600, decoys=200, cruise=20, ballistic=10, targeting=at_kyiv)
    raid_h = make_raid(drones=600, decoys=200, cruise=20, ballistic=10, belarus_hostile=True,
                       targeting=at_kyiv)
    assert "belarus" in raid_h.launch_mix["drone"] and "belarus" not in raid_b.launch_mix["drone"]
    sb = summarise(simulate(raid_b, base, 80, seed=9))["defeated_share"]
    sh = summarise(simulate(raid_h, hostile, 80, seed=9))["defeated_share"]
    assert sh["mean"] < sb["mean"] - 0.02  # type: ignore[index]


def test_raid_json_has_the_keys_and_an_interval_around_the_value() -> None:
    res = CliRunner().invoke(main, ["raid", "--drones", "500", "--decoys", "200", "--cruise",
                                    "20", "--ballistic", "8", "--replications", "60",
                                    "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    ds = doc["defeated_share"]
    assert ds["low"] <= ds["value"] <= ds["high"] and ds["low"] < ds["high"]
    assert set(doc["by_class"]) == {"drone", "decoy", "cruise", "ballistic"}
    for row in doc["by_class"].values():
        assert set(row) == {"launched", "destroyed", "suppressed", "leaked"}
        total = row["destroyed"] + row["suppressed"] + row["leaked"]
        assert np.isclose(total, row["launched"], atol=0.05)
    assert "ukraine" in doc["layers"] and "ukraine" in doc["interceptors_used"]
    assert doc["marking"] == "PUBLIC" and doc["assumptions"]


def test_raid_text_names_the_marking_and_assumptions() -> None:
    res = CliRunner().invoke(main, ["raid", "--drones", "100", "--replications", "20"])
    assert res.exit_code == 0, res.output
    assert "Defeated" in res.output and "Marking: PUBLIC" in res.output


def test_bad_raid_input_is_a_domain_error_envelope() -> None:
    cases = [
        (["--drones", "-5"], "input.bad_raid"),
        (["--drones", "10", "--scenario", "nope"], "not_found.scenario"),
        (["--drones", "10", "--variant", "nope"], "not_found.variant"),
        (["--drones", "10", "--date", "2024-06-01"], "input.bad_date"),
        (["--drones", "10", "--date", "2025-13-01"], "input.bad_date"),
        ([], "input.bad_raid"),
    ]
    for args, code in cases:
        res = CliRunner().invoke(main, ["raid", *args, "--format", "json"])
        assert res.exit_code != 0, args
        env = json.loads(res.output)
        assert env["error"]["code"] == code, (args, env)
        assert env["error"]["hint"]


def test_a_date_before_the_scenario_leaves_ukraine_alone() -> None:
    st = setting(date="2025-06-01")
    assert [lay.name for lay in st.layers] == ["ukraine"]
    paused = setting(date="2025-03-07")
    assert paused.warning[1] < setting(date="2025-06-01").warning[1]


def test_time_order_is_a_stable_sort_of_the_hours() -> None:
    rng = np.random.default_rng(8)
    hour = np.concatenate([rng.uniform(0.0, 10.0, (6, 300)), np.full((6, 20), 9.5),
                           rng.uniform(9.5, 10.0, (6, 30))], axis=1)
    hour[0, :5] = [3.0, np.nextafter(3.0, 0.0), 3.0, np.nextafter(3.0, 4.0), 3.0]
    hour[1] = 2.0  # every threat at once
    flat, ordered = _time_order(hour)
    want = np.argsort(hour, axis=1, kind="stable")
    assert np.array_equal(flat, (want + (np.arange(6) * hour.shape[1])[:, None]).reshape(-1))
    assert np.array_equal(ordered, np.take_along_axis(hour, want, 1))
    assert _time_order(np.zeros((0, 4)))[0].size == 0


@pytest.mark.parametrize("weights", [(0.18, 0.17, 0.16, 0.15, 0.12, 0.13, 0.06, 0.03),
                                     (0.3, 0.0, 0.7), (1.0,), (2.0, 0.0, 0.0, 5.0)])
def test_pick_draws_what_rng_choice_draws(weights: tuple[float, ...]) -> None:
    w = np.array(weights)
    a = _pick(np.random.default_rng(4), _cdf(weights), (7, 500))
    b = np.random.default_rng(4).choice(len(w), size=(7, 500), p=w / w.sum())
    assert np.array_equal(a, b)


def test_draw_raid_puts_threats_in_time_order_with_their_own_figures() -> None:
    raid = Raid({"drone": 200, "decoy": 0, "cruise": 30, "ballistic": 10}, launch_mix(True),
                duration_h=4.0)
    d = draw_raid(raid, 9, np.random.default_rng(2), (1.0, 3.0))
    assert d.cls.shape == d.target.shape == d.path_km.shape == d.hour.shape == (9, 240)
    assert (np.diff(d.hour, axis=1) >= 0).all()
    assert ((d.cls == 0).sum(axis=1) == 200).all() and ((d.cls == 3).sum(axis=1) == 10).all()
    assert (d.hour[d.cls == 3] >= 3.5).all() and (d.hour[d.cls == 2] >= 2.5).all()
    for ci, cls in enumerate(("drone", "decoy", "cruise", "ballistic")):
        m = d.cls == ci
        if m.any():
            km = {round(defended_km(a, t), 9) for a in raid.launch_mix[cls]
                  for t in ("capital", "energy", "ports", "front_cities", "cities")}
            assert {round(float(x), 9) for x in d.path_km[m]} <= km
    assert ((d.warning_min >= 1.0) & (d.warning_min <= 3.0)).all()


def test_simulate_gives_an_outcome_a_block_of_replications() -> None:
    st = setting()
    raid = make_raid(drones=300, decoys=50, cruise=10, ballistic=5, targeting=st.targeting)
    outs = simulate(raid, st, 95, seed=6, draws_per_fit=10)
    assert [len(o.launched["drone"]) for o in outs] == [10] * 8 + [15]
    assert all((o.launched["drone"] == 300).all() for o in outs)
    again = simulate(raid, st, 95, seed=6, draws_per_fit=10)
    assert all(np.array_equal(a.destroyed["drone"], b.destroyed["drone"])
               for a, b in zip(outs, again, strict=True))
