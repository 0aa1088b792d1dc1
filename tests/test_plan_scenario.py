"""Scenario files: both shipped scenarios load; bad input is refused naming key and line."""

import re
from pathlib import Path

import pytest

from truceguard.errors import ConfigError, NotFoundError
from truceguard.geo.shipped import data_path
from truceguard.plan.scenario import (
    DEFAULT_SCENARIO,
    load_scenario,
    parse_scenario,
    resolve_variant,
    shipped_scenarios,
)

TEXT = data_path("scenarios", "reassurance-2026.yaml").read_text(encoding="utf-8")
TEXT_2025 = data_path("scenarios", "reassurance-2025.yaml").read_text(encoding="utf-8")


def test_both_shipped_scenarios_load_and_2026_is_the_default():
    assert DEFAULT_SCENARIO == "reassurance-2026"
    assert {"reassurance-2025", "reassurance-2026"} <= set(shipped_scenarios())
    s = load_scenario("reassurance-2026")
    assert {"us-isr-only", "us-backstop", "no-us", "no-italy"} <= set(s.variants)
    assert s.baseline == "us-isr-only"
    assert {"GBR", "FRA", "USA", "ITA", "TUR"} <= set(s.nations)
    old = load_scenario("reassurance-2025")
    assert list(old.variants) == ["us-isr-only", "us-backstop", "no-us", "no-italy", "iiss-10k",
                                  "iiss-25k"]
    assert {"NOR", "GBR"} <= set(old.nations)  # NO is not read as false: codes are alpha-3


def test_the_2026_facts():
    s = load_scenario("reassurance-2026")
    troops = {p.nation for p in s.pledges if p.capability == "ground_troops"}
    assert troops == {"GBR", "FRA"}  # the only troop contributors then named
    gbr = next(p for p in s.pledges if p.id == "gbr-troops")
    assert gbr.quantity <= 7500
    assert "fewer than 7,500" in s.assumption("pledges[gbr-troops].quantity").source
    assert all(loc.lon < 31 for p in s.pledges if p.capability == "ground_troops"
               for loc in p.basing)  # hubs in the west and Kyiv, far from the line
    assert any(p.nation == "TUR" and p.capability == "ships" for p in s.pledges)
    assert s.conditions["us_isr"].holds and not s.conditions["us_backstop"].holds


@pytest.mark.parametrize("name", ["reassurance-2025", "reassurance-2026"])
def test_no_italian_troops_and_no_raf_awacs_without_the_e7(name):
    s = load_scenario(name)
    for v in s.variants:
        rv = resolve_variant(s, v)
        assert not [p for p in rv.pledges if p.nation == "ITA" and p.capability ==
                    "ground_troops"], v
        for p in rv.pledges:
            if p.nation == "GBR" and p.capability == "awacs":
                assert rv.conditions.get("uk_e7"), (name, v)


@pytest.mark.parametrize("name", ["reassurance-2025", "reassurance-2026"])
def test_every_number_names_a_source_and_every_assumption_a_range(name):
    s = load_scenario(name)
    assert all(p.source for p in s.pledges)
    assert all(r.source and r.source != "default" for r in s.requirements.values())
    assert len(s.assumptions) > 30
    for a in s.assumptions:
        assert a.low <= a.value <= a.high and a.low < a.high and a.reason, a.key


def test_an_assumption_without_a_range_is_refused():
    text = TEXT.replace("  share_at_line:\n    value: 0.3\n    low: 0.15\n    high: 0.5\n",
                        "  share_at_line:\n    value: 0.3\n", 1)
    with pytest.raises(ConfigError, match="plausible range") as err:
        parse_scenario(text, "x.yaml")
    assert err.value.key == "ukraine.share_at_line"


def test_a_value_outside_its_range_is_refused():
    text = TEXT.replace("    value: 0.3\n    low: 0.15", "    value: 0.9\n    low: 0.15", 1)
    with pytest.raises(ConfigError, match="outside its range"):
        parse_scenario(text, "x.yaml")


def test_german_patriots_at_chisinau_are_refused():
    old = "basing: [{base: EPRZ}, {base: LRCK}], conditions: {outside_host_only: true},\n" \
          "     source: \"facts: Germany ready"
    assert old in TEXT
    text = TEXT.replace(old, old.replace("LRCK", "LUKK"), 1)
    with pytest.raises(ConfigError) as err:
        parse_scenario(text, "x.yaml")
    assert err.value.key == "pledges[deu-patriot].basing"
    assert "Moldova" in err.value.reason and "MDA" in err.value.reason
    assert err.value.line == _line_of(text, "LUKK")


def test_a_non_member_may_not_base_on_alliance_territory():
    text = TEXT.replace("  USA: United States\n", "  USA: United States\n  AUS: Australia\n", 1)
    text = text.replace("  - {id: nld-fighters, nation: NLD,",
                        "  - {id: nld-fighters, nation: AUS,", 1)
    with pytest.raises(ConfigError, match="neither the host"):
        parse_scenario(text, "x.yaml")


def test_an_orbit_inside_its_standoff_is_refused():
    text = TEXT.replace("basing: {point: [49.3, 32.0]}", "basing: {point: [48.0, 36.0]}", 1)
    with pytest.raises(ConfigError, match="inside its 200 km stand-off") as err:
        parse_scenario(text, "x.yaml")
    assert err.value.key == "pledges[fra-awacs].basing"


def test_widening_a_standoff_in_a_sensitivity_run_moves_the_orbit():
    s = load_scenario("reassurance-2026")
    a = s.assumption("capabilities.awacs.standoff_km")
    wide = s.with_value(a.path, a.high)
    moved = next(p for p in wide.pledges if p.id == "fra-awacs").basing[0]
    assert "moved" in moved.ref
    from truceguard.plan.hostile import hostile_distance_km

    assert hostile_distance_km(s.hostile, [moved.lat], [moved.lon])[0] >= a.high


def test_unknown_variant_and_scenario_suggest():
    s = load_scenario("reassurance-2026")
    with pytest.raises(NotFoundError) as err:
        resolve_variant(s, "no-usa")
    assert "no-us" in err.value.hint and err.value.code == "not_found.variant"
    with pytest.raises(NotFoundError) as err:
        load_scenario("reassurance-2027")
    assert "reassurance-2026" in err.value.hint


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


@pytest.mark.parametrize(
    ("old", "new", "key", "needle"),
    [
        ("basing: {base: LRCK}, source: \"assumption: Rafales",
         "basing: {base: ZZZZ}, source: \"assumption: Rafales",
         "pledges[fra-fighters].basing.base", "ZZZZ"),
        ("{id: nld-fighters, nation: NLD,", "{id: nld-fighters, nation: XXX,",
         "pledges[nld-fighters].nation", "nation: XXX"),
        ("{id: dnk-fighters, nation: DNK, capability: fighters, quantity: 4,",
         "{id: dnk-fighters, nation: DNK, capability: fighters, quantity: -4,",
         "pledges[dnk-fighters].quantity", "quantity: -4"),
        ("    remove_nations: [ITA]", "    remove_nations: [ITA]\n    remove_pledges: [ita-troopz]",
         "variants.no-italy.remove_pledges[0]", "ita-troopz"),
        ("conditions: {requires: [us_isr]},\n     source: \"facts: a US-led",
         "conditions: {requires: [us_sats]},\n     source: \"facts: a US-led",
         "pledges[usa-satellites].conditions.requires", "us_sats"),
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


def test_uk_is_refused_with_the_alpha3_hint():
    text = TEXT.replace("  GBR: United Kingdom", "  UK: United Kingdom", 1)
    with pytest.raises(ConfigError) as err:
        parse_scenario(text, "x.yaml")
    assert "GBR" in err.value.hint
    assert err.value.line == _line_of(text, "UK: United Kingdom")


def test_outside_host_only_is_enforced():
    text = TEXT.replace("basing: {base: LRBC}, conditions: {outside_host_only: true}",
                        "basing: {hub: lviv}, conditions: {outside_host_only: true}", 1)
    with pytest.raises(ConfigError, match="outside the host only"):
        parse_scenario(text, "x.yaml")


def test_duplicate_keys_and_yaml_errors_have_a_line():
    with pytest.raises(ConfigError) as err:
        parse_scenario("name: x\nname: y\n", "x.yaml")
    assert err.value.line == 2
    with pytest.raises(ConfigError) as err:
        parse_scenario("name: x\nline: [unclosed\n", "x.yaml")
    assert err.value.line is not None


def test_2025_is_read_through_the_same_loader():
    assert "LUKK" not in TEXT_2025
    s = load_scenario("reassurance-2025")
    deu = next(p for p in s.pledges if p.id == "deu-patriot")
    assert {loc.country for loc in deu.basing} <= {"POL", "ROU"}
