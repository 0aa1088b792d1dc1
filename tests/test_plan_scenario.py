"""Scenario files: the shipped scenario loads; bad input is refused naming key and line."""

import re
from pathlib import Path

import pytest

from truceguard.errors import ConfigError, NotFoundError
from truceguard.geo.shipped import data_path
from truceguard.plan.scenario import load_scenario, parse_scenario, resolve_variant

SHIPPED = data_path("scenarios", "reassurance-2025.yaml")
TEXT = SHIPPED.read_text(encoding="utf-8")
VARIANTS = ["us-backstop", "us-isr-only", "no-us", "no-italy", "iiss-10k", "iiss-25k"]


def test_shipped_by_name_with_every_variant():
    s = load_scenario("reassurance-2025")
    assert list(s.variants) == VARIANTS
    assert {"GB", "FR", "US", "IT", "NO"} <= set(s.nations)  # NO stays Norway, not False
    assert all(p.source for p in s.pledges)
    assert all(r.source for r in s.requirements.values())


def test_every_number_names_a_source():
    s = load_scenario("reassurance-2025")
    for cap in s.capabilities.values():
        assert cap.source
    for v in s.force_generation.values():
        assert v.source and v.source != "default"


def test_removing_the_backstop_drops_conditioned_pledges_and_says_which():
    s = load_scenario("reassurance-2025")
    with_us = resolve_variant(s, "us-backstop")
    no_us = resolve_variant(s, "no-us")
    assert with_us.dropped == ()
    dropped = dict(no_us.dropped)
    assert set(dropped) == {p.id for p in s.pledges if p.requires}
    assert "us_backstop" in dropped["it-troops"]
    no_it = dict(resolve_variant(s, "no-italy").dropped)
    assert "nation IT removed" in no_it["it-trainers"]
    assert "us-awacs" in no_it


def test_iiss_variants_set_the_troop_totals():
    s = load_scenario("reassurance-2025")
    for name, total in (("iiss-10k", 10_000), ("iiss-25k", 25_000)):
        rv = resolve_variant(s, name)
        assert sum(p.quantity for p in rv.pledges if p.capability == "ground_troops") == total


def test_unknown_variant_and_scenario():
    s = load_scenario("reassurance-2025")
    with pytest.raises(NotFoundError, match="no variant"):
        resolve_variant(s, "nope")
    with pytest.raises(NotFoundError, match="reassurance-2025"):
        load_scenario("no-such-scenario")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


@pytest.mark.parametrize(
    ("old", "new", "key", "needle"),
    [
        ("basing: {base: LRCK}, source: \"facts: UK planning 18-35 fighters; split with GB",
         "basing: {base: ZZZZ}, source: \"facts: UK planning 18-35 fighters; split with GB",
         "pledges[fr-fighters].basing.base", "ZZZZ"),
        ("{id: nl-troops, nation: NL,", "{id: nl-troops, nation: XX,",
         "pledges[nl-troops].nation", "nation: XX"),
        ("{id: be-troops, nation: BE, capability: ground_troops, quantity: 600,",
         "{id: be-troops, nation: BE, capability: ground_troops, quantity: -600,",
         "pledges[be-troops].quantity", "quantity: -600"),
        ("remove_pledges: [it-troops]", "remove_pledges: [it-troopz]",
         "variants.iiss-25k.remove_pledges[0]", "it-troopz"),
        ("conditions: {requires: [us_isr]},\n     source: \"facts: US ISR hoped",
         "conditions: {requires: [us_sats]},\n     source: \"facts: US ISR hoped",
         "pledges[us-awacs].conditions.requires", "us_sats"),
    ],
)
def test_bad_input_names_key_and_line(tmp_path: Path, old, new, key, needle):
    assert old in TEXT
    text = TEXT.replace(old, new, 1)
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_scenario(f)
    assert err.value.key == key
    assert err.value.line == _line_of(text, needle)
    assert re.search(rf"bad\.yaml:{err.value.line}: ", str(err.value))


def test_uk_is_refused_with_a_hint():
    text = TEXT.replace("  GB: United Kingdom", "  UK: United Kingdom", 1)
    with pytest.raises(ConfigError, match="United Kingdom is GB") as err:
        parse_scenario(text, "x.yaml")
    assert err.value.line == _line_of(text, "UK: United Kingdom")


def test_variant_condition_nobody_defines():
    text = TEXT.replace("conditions: {us_backstop: false, us_isr: false}\n  no-italy",
                        "conditions: {us_nukes: false}\n  no-italy", 1)
    with pytest.raises(ConfigError, match="not defined") as err:
        parse_scenario(text, "x.yaml")
    assert err.value.key == "variants.no-us.conditions.us_nukes"


def test_outside_ukraine_only_is_enforced():
    text = TEXT.replace("basing: {base: LRBC}, conditions: {outside_ukraine_only: true}",
                        "basing: {sector: kyiv}, conditions: {outside_ukraine_only: true}", 1)
    with pytest.raises(ConfigError, match="outside Ukraine only"):
        parse_scenario(text, "x.yaml")


def test_yaml_syntax_error_has_a_line():
    with pytest.raises(ConfigError) as err:
        parse_scenario("name: x\nline: [unclosed\n", "x.yaml")
    assert err.value.line is not None
