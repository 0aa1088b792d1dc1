"""The land breach: containment within 6, 24 and 72 hours moves with the reassurance force's
size and with the decision delay in capitals; the first coalition unit arrives with a spread."""

import pytest

from truceguard.errors import ConfigError, NotFoundError
from truceguard.geo.shipped import data_path
from truceguard.plan.breach import breach_by_force_size, breach_model, breach_spec
from truceguard.plan.scenario import load_scenario, parse_scenario, resolve_variant

SCEN = load_scenario("reassurance-2026")
BASE = resolve_variant(SCEN, "us-isr-only")
TEXT = data_path("scenarios", "reassurance-2026.yaml").read_text(encoding="utf-8")
N = 3000


def _p(result, horizon):
    return result.contained[horizon]["value"]


def test_containment_rises_with_the_reassurance_force_size():
    rows = breach_by_force_size(BASE, (0.0, 1.0, 3.0), samples=N, seed=1)
    p72 = [r["contained"]["72h"] for r in rows]
    assert p72[0] < p72[1] < p72[2]
    assert rows[0]["coalition_troops"] == 0.0 < rows[1]["coalition_troops"]
    # the first six hours are Ukraine's own: the force is days away
    assert rows[0]["contained"]["6h"] == rows[2]["contained"]["6h"]


def test_containment_falls_as_the_decision_in_capitals_takes_longer():
    fast = breach_model(BASE, N, 2, overrides={"decision_delay_h": 4.0})
    slow = breach_model(BASE, N, 2, overrides={"decision_delay_h": 96.0})
    assert _p(fast, "72h") > _p(slow, "72h")
    assert (fast.time_to_first_coalition_unit_h["p50"]
            < slow.time_to_first_coalition_unit_h["p50"])


def test_time_to_the_first_coalition_unit_has_a_spread_and_intervals_hold_the_value():
    r = breach_model(BASE, N, 3)
    q = r.time_to_first_coalition_unit_h
    assert q["p10"] < q["p50"] < q["p90"]
    for c in r.contained.values():
        assert c["low"] <= c["value"] <= c["high"]
    assert _p(r, "6h") <= _p(r, "24h") <= _p(r, "72h")
    assert 0.0 < r.coalition_never_arrives_share < 1.0  # capitals commit with a probability


def test_without_the_force_no_coalition_unit_ever_arrives():
    r = breach_model(BASE, N, 4, force_scale=0.0)
    assert r.coalition_never_arrives_share == 1.0
    assert r.time_to_first_coalition_unit_h["p50"] is None
    assert r.coalition_decisive_share == 0.0


def test_a_tripwire_at_the_line_brings_the_force_sooner():
    text = TEXT.replace(
        "  tripwire: []",
        "  tripwire:\n"
        + "".join(f"    - {{name: post{i}, point: [{lat}, {lon}], troops: 300}}\n"
                  for i, (lat, lon) in enumerate([(48.6, 37.9), (47.6, 36.0), (47.4, 35.0),
                                                  (48.9, 37.5), (49.6, 37.7)])))
    rv = resolve_variant(parse_scenario(text, "tripwire.yaml"), "us-isr-only")
    assert len(breach_spec(rv.scenario).tripwire) == 5
    near, far = breach_model(rv, N, 5), breach_model(BASE, N, 5)
    assert near.time_to_first_coalition_unit_h["p10"] == 0.0  # a post is at the breach
    assert _p(near, "72h") > _p(far, "72h")


def test_the_same_seed_gives_the_same_answer():
    a, b = breach_model(BASE, 500, 9), breach_model(BASE, 500, 9)
    assert a.as_dict() == b.as_dict()


def test_a_scenario_without_a_breach_block_is_refused_with_a_hint():
    start = TEXT.index("\nbreach:")
    end = TEXT.index("\nisr:")
    rv = resolve_variant(parse_scenario(TEXT[:start] + TEXT[end:], "nobreach.yaml"))
    with pytest.raises(ConfigError, match="no breach block") as e:
        breach_model(rv, 100)
    assert "docs/land-breach.md" in (e.value.hint or "")


def test_a_bad_breach_field_names_its_key_and_line():
    bad = TEXT.replace("  frontage_km:", "  frontage_kms:")
    with pytest.raises(ConfigError, match=r"breach\.frontage_kms") as e:
        parse_scenario(bad, "bad.yaml")  # refused when the scenario is read, not at run time
    assert e.value.line is not None
    with pytest.raises(NotFoundError, match="decision_delay"):
        breach_model(BASE, 100, overrides={"decision_delay": 3.0})


def test_breach_assumptions_carry_paths_the_scenario_can_change():
    spec = breach_spec(SCEN)
    keys = {a.key for a in spec.assumptions}
    assert {"breach.decision_delay_h", "breach.hold_ratio",
            "breach.staging[0].share_of_pledged"} <= keys
    a = next(a for a in spec.assumptions if a.key == "breach.decision_delay_h")
    changed = SCEN.with_value(a.path, 4.0)
    assert breach_spec(changed).numbers["decision_delay_h"].value == 4.0
