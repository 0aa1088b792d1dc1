"""The plan run's new layers: raids that saturate, magazines over a campaign, ballistic
missiles only for Patriot and SAMP/T, Belarus as a launch area, the US feed in the air
warning, a land breach that the force's size moves, and structural switches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from truceguard.errors import ConfigError
from truceguard.plan import layers
from truceguard.plan.raid import simulate as simulate_raid
from truceguard.plan.raid import summarise
from truceguard.plan.run import run_variant
from truceguard.plan.scenario import load_scenario, parse_scenario, resolve_variant
from truceguard.plan.switches import switches

SCEN = load_scenario("reassurance-2026")
BASE = resolve_variant(SCEN, "us-isr-only")


@pytest.fixture(scope="module")
def base():
    return run_variant(BASE, 300, 5, raid_replications=30)


def test_the_raid_curve_falls_with_size_and_over_a_campaign(base):
    raids = base.metrics["raids"]
    shares = [d["defeated_share"]["value"] for d in raids]
    assert [d["threats"] for d in raids] == sorted(d["threats"] for d in raids)
    assert shares[-1] < shares[0] - 0.1  # the largest raid saturates the defence
    for d in raids:
        ds = d["defeated_share"]
        assert ds["low"] <= ds["low90"] <= ds["value"] <= ds["high90"] <= ds["high"]
    camp = base.metrics["campaign"]["by_raid"]
    assert len(camp) == SCEN.raids.campaign_raids
    assert camp[-1]["value"] < camp[0]["value"]  # magazines run down between raids
    assert base.metrics["raid_campaign_last_defeated_share"] == camp[-1]["value"]


def test_ballistic_missiles_fall_only_to_patriot_and_samp_t():
    rv = resolve_variant(SCEN, "us-backstop")
    st = layers.raid_setting(rv)
    engages = {g.system.name for lay in st.layers for g in lay.groups
               if "ballistic" in g.system.engages}
    assert engages == {"patriot", "samp_t"}
    raid = layers.raid_of((0, 0, 0, 60), st, 8.0)
    s = summarise(simulate_raid(raid, st, 40, 3))
    assert s["by_class"]["ballistic"]["destroyed"] > 0
    for lay, entry in s["layers"].items():
        for group, killed in entry["groups"].items():
            if killed > 0:
                assert "atriot" in group or "samp" in group, (lay, group)


def test_belarus_hostile_changes_the_air_results():
    hostile = run_variant(resolve_variant(SCEN, "belarus-hostile"), 200, 5,
                          raid_replications=30, largest_raid_only=True)
    calm = run_variant(BASE, 200, 5, raid_replications=30, largest_raid_only=True)
    assert hostile.metrics["layers"]["air_defence"]["belarus_hostile"]
    assert not calm.metrics["layers"]["air_defence"]["belarus_hostile"]
    a, b = hostile.metrics["raids"][-1]["by_class"], calm.metrics["raids"][-1]["by_class"]
    assert a != b
    # where the short approach matters, a raid aimed at Kyiv: fewer drones defeated
    rows = {r["switch"]: r["air"]["by_class"]["drone"]
            for r in switches(BASE, 5, replications=60)["rows"]}
    share = {k: (v["destroyed"] + v["suppressed"]) / v["launched"] for k, v in rows.items()}
    assert share["belarus_capital"] < share["target_capital"] - 0.01


def test_without_the_us_feed_the_fighters_are_cued_later():
    blind = replace(BASE, conditions={**BASE.conditions, "us_isr": False})  # same pledges
    seen = run_variant(BASE, 1500, 5, raid_replications=4, headlines_only=True)
    unseen = run_variant(blind, 1500, 5, raid_replications=4, headlines_only=True)
    w_seen = seen.metrics["layers"]["air"]["air_warning_min"]
    w_unseen = unseen.metrics["layers"]["air"]["air_warning_min"]
    assert w_unseen["high"] < w_seen["low"]
    assert unseen.metrics["air_intercept_share"] < seen.metrics["air_intercept_share"]
    # the same violations and sensors: only the cue differs
    assert np.array_equal(seen.t_detect, unseen.t_detect)


def test_containment_moves_with_the_reassurance_forces_size(base):
    rows = base.metrics["layers"]["land_breach"]["by_force_size"]
    by = {r["force_scale"]: r for r in rows}
    assert by[0.0]["time_to_first_coalition_unit_h"] is None  # no force, no unit
    assert by[2.0]["contained"]["72h"]["value"] > by[0.0]["contained"]["72h"]["value"]
    values = [by[s]["contained"]["72h"]["value"] for s in sorted(by)]
    assert values == sorted(values)
    for r in rows:
        c = r["contained"]["72h"]
        assert c["low"] <= c["value"] <= c["high"]
    # hubs moved to the line bring the first unit sooner and contain more
    sw = {r["switch"]: r["land"] for r in switches(BASE, 5, replications=10)["rows"]}
    assert sw["hubs_east"]["first_coalition_unit_h"] < sw["baseline"]["first_coalition_unit_h"]
    assert sw["hubs_east"]["contained_72h"]["value"] > sw["baseline"]["contained_72h"]["value"]


def test_the_backstops_patriots_cover_no_target_set():
    r = run_variant(resolve_variant(SCEN, "us-backstop"), 200, 5, raid_replications=4,
                    headlines_only=True)
    groups = {g["group"]: g for g in r.metrics["layers"]["air_defence"]["fire_unit_groups"]}
    assert groups["usa-patriot (patriot)"]["covers_nothing"]
    assert not groups["fra-sampt (samp_t)"]["covers_nothing"]


def test_new_assumptions_are_varied_and_a_set_value_closes_its_range():
    keys = {a.key for a in SCEN.assumptions}
    assert {"breach.decision_delay_h", "air_defence.targeting.capital",
            "air_defence.resupply_per_day.pac3_gemt", "raids.campaign.days_between"} <= keys
    a = SCEN.assumption("breach.decision_delay_h")
    fixed = SCEN.with_value(a.path, 4.0)
    assert "breach.decision_delay_h" not in {x.key for x in fixed.assumptions}
    from truceguard.plan.breach import breach_spec

    n = breach_spec(fixed).numbers["decision_delay_h"]
    assert (n.value, n.low, n.high) == (4.0, 4.0, 4.0)


TEXT = Path(SCEN.path).read_text(encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "key"), [
    ("  share_at_line:\n", "  drone_defeat_share: 0.9\n  share_at_line:\n",
     "ukraine.drone_defeat_share"),
    ("    - [30, 20, 0, 0]\n", "    - [30, 20]\n", "raids.sizes[0]"),
    ("    - [30, 20, 0, 0]\n", "    - [3000, 20, 0, 0]\n", "raids.sizes"),
])
def test_scenario_refusals_name_the_key(old, new, key):
    with pytest.raises(ConfigError) as err:
        parse_scenario(TEXT.replace(old, new, 1), "x.yaml")
    assert err.value.key == key
    assert err.value.hint
