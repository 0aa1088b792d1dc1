"""Air defence with magazines: saturation, campaigns, who may engage ballistic missiles."""

from __future__ import annotations

import numpy as np
import pytest

from truceguard.plan.airdefence import (
    SYSTEMS,
    Layer,
    Magazine,
    _ranked,
    engage,
    full_stocks,
    placed_group,
)
from truceguard.plan.raid import CLASSES, campaign, draw_raid, make_raid, setting


def test_ranked_counts_within_groups_in_time_order() -> None:
    group = np.array([[1, 0, 1, 1, 0]])
    weight = np.array([[1.0, 2.0, 1.0, 3.0, 1.0]])
    assert _ranked(group, weight).tolist() == [[1.0, 2.0, 2.0, 5.0, 3.0]]


def test_ballistic_missiles_are_engaged_only_by_patriot_and_samp_t() -> None:
    assert sorted(n for n, s in SYSTEMS.items() if "ballistic" in s.engages) == [
        "patriot", "samp_t"]
    st = setting()
    raid = make_raid(ballistic=40)
    rng = np.random.default_rng(3)
    d = draw_raid(raid, 50, rng, (4.0, 5.0))
    layers = list(st.layers)
    out = engage(d, layers, full_stocks(layers, 50), raid.duration_h, rng)
    ballistic_capable = [f"{lay.name}:{g.label}" for lay in layers for g in lay.groups
                         if "ballistic" in g.system.engages]
    others = [k for k in out.by_group if k not in ballistic_capable]
    assert others and all(out.by_group[k].sum() == 0 for k in others)
    assert sum(out.by_group[k].sum() for k in ballistic_capable) > 0
    # without any Patriot or SAMP/T, no ballistic missile is destroyed
    only_barrier = [Layer("ukraine", (layers[0].groups[0],), layers[0].magazines)]
    out = engage(d, only_barrier, full_stocks(only_barrier, 50), raid.duration_h, rng)
    assert out.destroyed["ballistic"].sum() == 0


def test_a_battery_engages_nothing_once_its_magazine_is_empty() -> None:
    pat = placed_group(SYSTEMS["patriot"], 4, {"capital": 1.0})
    layer = Layer("x", (pat,), {"pac3_gemt": Magazine(10.0, 0.0)})
    raid = make_raid(ballistic=30, targeting={"capital": 1.0})
    rng = np.random.default_rng(5)
    stocks = full_stocks([layer], 20)
    out = engage(draw_raid(raid, 20, rng, (5.0, 5.0)), [layer], stocks, 10.0, rng)
    assert (out.fired["x"]["pac3_gemt"] <= 10).all() and out.fired["x"]["pac3_gemt"].max() > 0
    assert (out.destroyed["ballistic"] <= 5).all()  # two interceptors an engagement
    assert (stocks["x"]["pac3_gemt"] >= 0).all()
    again = engage(draw_raid(raid, 20, rng, (5.0, 5.0)), [layer], stocks, 10.0, rng)
    assert again.fired["x"]["pac3_gemt"][stocks["x"]["pac3_gemt"] < 2].sum() == 0


def test_counts_add_up_by_class() -> None:
    st = setting()
    raid = make_raid(drones=300, decoys=100, cruise=20, ballistic=10)
    rng = np.random.default_rng(11)
    layers = list(st.layers)
    out = engage(draw_raid(raid, 30, rng, st.warning), layers,
                 full_stocks(layers, 30), raid.duration_h, rng)
    for c in CLASSES:
        total = out.destroyed[c] + out.suppressed[c] + out.leaked[c]
        assert np.array_equal(total, out.launched[c])
    assert out.suppressed["cruise"].sum() == 0 and out.suppressed["ballistic"].sum() == 0


def test_the_share_defeated_falls_over_a_campaign_of_raids() -> None:
    st = setting()
    raid = make_raid(drones=400, decoys=200, cruise=30, ballistic=15)
    shares = campaign(raid, st, raids=8, days_between=1.0, replications=30, seed=2)
    assert shares[-1] < shares[0] - 0.02
    assert np.mean(shares[-3:]) < np.mean(shares[:3])


@pytest.mark.parametrize("bad", [-1, 10_001, 2.5, True])
def test_bad_counts_are_domain_errors(bad: object) -> None:
    from truceguard.errors import InputError

    with pytest.raises(InputError) as e:
        make_raid(drones=bad)
    assert e.value.code == "input.bad_raid"
