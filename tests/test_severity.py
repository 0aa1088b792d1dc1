"""Severity by weapon and harm (truceguard.judge.severity), the front-line settlements the
GeoNames list lacks, and the zones cut to Ukraine's territory (minsk-2015 version 3)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from truceguard.config import parse_yaml
from truceguard.errors import ConfigError, InputError
from truceguard.geo.shipped import places
from truceguard.judge.adjudicate import adjudicate
from truceguard.judge.severity import (
    grade,
    killed_array,
    killed_of,
    parse_severity,
    shipped_severity,
)
from truceguard.judge.terms import load_terms
from truceguard.model import WEAPON_CLASSES, Observation

DONETSK_CENTRE = (37.80224, 48.023)  # lon, lat (GeoNames)
OPEN_COUNTRY = (37.4, 48.55)  # 14 km from any settlement of 1,000 people


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def minsk():
    return load_terms("minsk-2015")


def judge(terms, where, when, category, weapon, **kw):
    lon, lat = zip(*where, strict=True)
    n = len(where)
    return adjudicate(terms, lon, lat, np.full(n, epoch(when)), [category] * n, [weapon] * n,
                      **kw)


def codes(*names: str) -> np.ndarray:
    return np.array([WEAPON_CLASSES.index(n) for n in names], np.int16)


def test_each_rule_adds_its_step_and_the_level_stays_within_bounds():
    table = shipped_severity()
    sev, why = grade(table, "live_fire", 1, codes("artillery_ge100", "artillery_ge100",
                                                  "small_arms", "mlrs"),
                     np.array([7, 0, 0, 2]), np.array([True, False, False, True]))
    assert sev.tolist() == [4, 2, 1, 4]  # 1+1+1+1+1 = 5 kept at 4 (critical)
    assert len(table.reasons(int(why[0]))) == 4
    assert table.reasons(int(why[2])) == []
    # A tank in a withdrawal zone is lowered one step; an MLRS is not.
    sev, _ = grade(table, "withdrawal", 3, codes("tank", "mlrs"), np.zeros(2, np.int64),
                   np.zeros(2, bool))
    assert sev.tolist() == [2, 3]


def test_a_deadly_barrage_on_a_town_outranks_a_tank_far_from_the_line(minsk):
    barrage = judge(minsk, [DONETSK_CENTRE], "2018-03-01T12:00:00", "shelling", "mlrs",
                    killed=[6])
    (row,) = barrage.breaches_of(0)
    assert row["severity"] == 4 and row["severity_label"] == "critical"
    assert any("killed" in r for r in row["severity_reasons"])
    # The same fire in open country, nobody hurt: the heavy weapon raises it, nothing else.
    quiet = judge(minsk, [OPEN_COUNTRY], "2018-03-01T12:00:00", "shelling", "mlrs")
    assert [r["severity"] for r in quiet.breaches_of(0)] == [2]
    tank = judge(minsk, [OPEN_COUNTRY], "2018-03-01T12:00:00", "weapon_presence", "tank")
    assert {r["severity"] for r in tank.breaches_of(0)} <= {2}


def test_an_event_placed_only_to_a_district_is_not_fire_on_a_settlement(minsk):
    lon, lat = DONETSK_CENTRE
    vague = adjudicate(minsk, [lon], [lat], [epoch("2018-03-01T12:00:00")], ["shelling"],
                       ["unknown"], uncertainty_m=[25_000.0])
    sharp = adjudicate(minsk, [lon], [lat], [epoch("2018-03-01T12:00:00")], ["shelling"],
                       ["unknown"], uncertainty_m=[500.0])
    assert vague.breaches_of(0)[0]["severity"] == 1
    assert sharp.breaches_of(0)[0]["severity"] == 2


def test_deaths_are_read_from_each_source_kind():
    ucdp = Observation.__new__(Observation)
    object.__setattr__(ucdp, "report", None)
    object.__setattr__(ucdp, "attributes", {"best": "3"})
    assert killed_of(ucdp) == 3
    object.__setattr__(ucdp, "attributes", {"best": "n/a"})
    assert killed_of(ucdp) == 0
    assert killed_array(None, 2).tolist() == [0, 0]
    assert killed_array([np.nan, -1, 4], 3).tolist() == [0, 0, 4]
    with pytest.raises(InputError):
        killed_array([1, 2], 3)


@pytest.mark.parametrize(("text", "key"), [
    ("levels: {1: low}\nkinds: {live_fire: 1}\nsurprise: 1\n", "surprise"),
    ("levels: {1: low}\nkinds: {live_fire: 5}\n", "kinds.live_fire"),
    ("levels: {1: low}\nkinds: {live_fire: 1}\nrules:\n  - {id: a, kinds: [flight], add: 1,"
     " reason: r}\n", "rules[0].kinds"),
    ("levels: {1: low}\nkinds: {live_fire: 1}\nrules:\n  - {id: a, kinds: [live_fire],"
     " add: one, reason: r}\n", "rules[0].add"),
    ("levels: {1: low}\nkinds: {live_fire: 1}\nrules:\n  - {id: a, kinds: [live_fire],"
     " weapons: [catapult], add: 1, reason: r}\n", "rules[0].weapons"),
    ("levels: {1: low}\nkinds: {live_fire: 1}\nsettlement_km: -2\n", "settlement_km"),
])  # fmt: skip
def test_a_bad_severity_table_names_the_key(text, key):
    with pytest.raises(ConfigError) as err:
        parse_severity(parse_yaml(text, "s.yaml"), "s.yaml")
    assert key in str(err.value)


def test_front_line_villages_and_the_spellings_monitors_used():
    p = places()
    for name in ("Pisky", "Zaitseve", "Shyrokyne", "Zolote"):
        assert p.find(name) is not None, name
    assert p.find("Avdiivka") == p.find("Avdiyivka") == p.find("AVDEEVKA")
    assert p.find("Debaltseve") == p.find("Debal'tseve")
    assert p.find("Shirokino") == p.find("Shyrokyne")
    assert p.find("Atlantis") is None
    # The settlements clause now reaches them: Pisky is a settlement of the 2 km zone.
    near = load_terms("minsk-2015").zone("near_settlements")
    i = p.find("Pisky")
    assert np.hypot(near.points[:, 0] - p.lon[i], near.points[:, 1] - p.lat[i]).min() < 1e-6


def test_no_zone_reaches_into_russia(minsk):
    # In Russia, 9 km east of the state border near Novoazovsk and about 40 km from the
    # line's southern end: within the 50 km artillery zone's reach, but not in Ukraine.
    inside_russia = (38.35, 47.16)
    a = judge(minsk, [inside_russia], "2018-03-01T12:00:00", "weapon_presence",
              "artillery_ge100")
    assert a.placement.zone[0] == -1
    assert a.breaches_of(0) == []
    same_distance_in_ukraine = (37.95, 47.35)
    b = judge(minsk, [same_distance_in_ukraine], "2018-03-01T12:00:00", "weapon_presence",
              "artillery_ge100")
    assert b.placement.zone[0] != -1


def test_a_zone_a_later_text_replaced_is_not_where_an_incident_lies(minsk):
    near_line = (38.22, 48.47)  # about 4 km from the line near Svitlodarsk
    old = judge(minsk, [near_line], "2015-03-01T12:00:00", "weapon_presence", "mortar_120")
    new = judge(minsk, [near_line], "2019-03-01T12:00:00", "weapon_presence", "mortar_120")
    zones = minsk.zone_ids
    assert zones[old.placement.zone[0]] == "mortar_120_memorandum"
    assert zones[new.placement.zone[0]] == "security_15km"
