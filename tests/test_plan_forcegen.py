"""Force generation over a 12-month campaign at 1:3 rotation, checked against published
inventories; the cost of interceptors against the threats they defeat."""

from dataclasses import replace

import pytest

from truceguard.errors import NotFoundError
from truceguard.plan import cost
from truceguard.plan.forcegen import campaign_pools, inventories
from truceguard.plan.scenario import load_scenario, resolve_variant

SCEN = load_scenario("reassurance-2026")
BASE = resolve_variant(SCEN, "us-isr-only")


def _row(rows, nation, role):
    return next(r for r in rows if r.nation == nation and r.role == role)


def test_rotation_needs_three_times_the_deployed_pledge_in_the_pool():
    rows = campaign_pools(BASE)
    for r in rows:
        assert r.pool_needed == pytest.approx(3.0 * r.deployed)
    gbr = _row(rows, "GBR", "ground_force")
    assert gbr.deployed == 7500 and gbr.contingents == pytest.approx(7500 * 12 / 6)
    assert _row(campaign_pools(BASE, rotation=4.0), "GBR", "ground_force").pool_needed == 30000


def test_pledges_beyond_inventories_are_flagged():
    rows = campaign_pools(BASE)
    deu = _row(rows, "DEU", "air_defence")  # 2 batteries need 6 of Germany's 9
    assert deu.inventory == inventories()[("DEU", "air_defence_patriot")].value
    assert deu.flag == "strains inventory" and deu.inventory_source
    assert _row(rows, "GBR", "ground_force").flag == "within"
    assert _row(rows, "DNK", "fighter").flag == "no published inventory"
    bigger = replace(BASE, pledges=tuple(replace(p, quantity=4.0) if p.id == "deu-patriot"
                                         else p for p in BASE.pledges))
    assert _row(campaign_pools(bigger), "DEU", "air_defence").flag == "beyond inventory"


def test_interceptors_against_drones_cost_far_more_than_the_drones():
    k = cost.cost_per_kill("pac3", "drone", pk=0.9)
    assert k["exchange_ratio"] > 50
    assert k["exchange_ratio_low"] <= k["exchange_ratio"] <= k["exchange_ratio_high"]
    assert cost.cost_per_kill("pac3", "ballistic", 0.8, shots=2)["exchange_ratio"] < 5
    with pytest.raises(NotFoundError):
        cost.cost_per_kill("laser", "drone", 0.9)


def test_exchange_ratio_prices_a_raid_and_lists_what_has_no_price():
    ex = cost.exchange_ratio({"pac3": 10, "nasams": 2}, {"drone": 100, "decoy": 50})
    assert ex.spent_usd["value"] == 10 * cost.interceptor_costs()["pac3"].value
    assert ex.not_priced == ["decoy", "nasams"]
    r = ex.exchange_ratio
    assert r["low"] <= r["value"] <= r["high"]
    assert cost.exchange_ratio({"pac3": 1}, {}).exchange_ratio["value"] is None
    for c in (*cost.interceptor_costs().values(), *cost.threat_costs().values()):
        assert c.source and c.low <= c.value <= c.high
