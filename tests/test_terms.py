"""Terms files: the shipped agreements load as data; a wrong file is refused with key and line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely

from truceguard.errors import ConfigError, InputError, NotFoundError
from truceguard.geo import shipped
from truceguard.judge.terms import (
    CERTAINTY_LEVELS,
    CLAUSE_KINDS,
    MECHANISMS,
    load_terms,
    parse_terms,
    resolve_clause,
    shipped_terms,
)
from truceguard.model import WEAPON_CLASSES


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())


def test_the_agreements_and_proposals_are_shipped():
    assert {"minsk-2015", "geneva-2025", "kyiv-dmz-2025"} <= set(shipped_terms())
    for name in shipped_terms():
        t = load_terms(name)
        assert t.version and t.title


def test_minsk_2015_holds_the_package_of_measures():
    t = load_terms("minsk-2015")
    assert t.effective == epoch("2015-02-15T00:00:00+02:00")
    depth_km = {z.id: z.distance_m[0] / 1000 for z in t.zones if z.shape == "band"}
    # 15 km (addendum), then 50 / 70 / 140 km wide zones: half of each on either side.
    assert depth_km == {"security_15km": 15, "artillery_ge100": 25, "mlrs": 35, "long_range": 70,
                        "mortar_120_memorandum": 8}
    assert t.zone("long_range").weapons == ("mlrs_long", "tactical_missile")
    assert set(t.zone("security_15km").weapons) == {
        "tank",
        "artillery_lt100",
        "mortar_lt120",
        "mortar_120",
    }
    # Withdrawal from day 2, within 14 days.
    assert t.zone("mlrs").binds_from == epoch("2015-02-17T00:00:00+02:00") + 14 * 86400
    assert "minsk-2015/withdrawal/artillery_ge100" in t.clause_ids
    assert "minsk-2015/flight/no_flights" in t.clause_ids
    assert [s.label for s in t.sides] == ["government-controlled", "non-government-controlled"]
    # The geometry is the shipped Minsk-era line and ORDLO polygon; the ceasefire covers the
    # Donetsk and Luhansk oblasts.
    assert t.line.equals(shipped.minsk_line())
    assert t.side_polygon.equals(shipped.ordlo_polygon())
    donbas = [g for _, name, g in shipped.oblasts() if name in ("Donetsk Oblast", "Luhansk Oblast")]
    assert t.area.equals(shapely.union_all(donbas))
    ceasefire = next(c for c in t.clauses if c.code == "live_fire/ceasefire")
    assert ceasefire.zone == "anywhere" and ceasefire.meta.provision.verbatim
    assert "certain areas of the Donetsk and Luhansk" in ceasefire.meta.provision.quote


def test_minsk_2015_holds_the_measures_of_july_2020():
    t = load_terms("minsk-2015")
    july = epoch("2020-07-27T00:01:00+03:00")
    codes = {c.code: c for c in t.all_clauses if c.meta.provision.source == "tcg-2020"}
    assert set(codes) == {
        "offensive_movement/no_offensive_2020",
        "flight/no_aircraft_2020",
        "live_fire/no_sniper_2020",
        "withdrawal/near_settlements",
    }
    for c in codes.values():
        assert c.binds_from == july
        assert c.meta.provision.verbatim and c.meta.provision.quote
    assert "sniper fire" in codes["live_fire/no_sniper_2020"].meta.provision.quote
    assert t.prohibition("no_sniper_2020").weapons == ("small_arms",)
    near = t.zone("near_settlements")
    assert near.shape == "settlements" and near.radius_m == 2_000.0
    assert near.certainty.level == "assumed"
    # Every settlement of the zone lies in the area (the Donetsk and Luhansk oblasts).
    assert shapely.contains_xy(t.area, near.points[:, 0], near.points[:, 1]).all()
    assert len(near.points) > 100


def test_geneva_2025_is_on_the_2026_line():
    t = load_terms("geneva-2025")
    depth_km = {z.id: z.distance_m[1] / 1000 for z in t.zones}
    # Per side: a buffer 15 km wide in all, heavy weapons 50 / 75 / 150 km from the line.
    assert depth_km == {"buffer": 7.5, "artillery_ge100": 50, "mlrs": 75, "long_range": 150}
    assert t.line.equals(shipped.front_line("2026-08-22"))
    assert t.side_polygon.equals(shipped.occupied_2026())
    assert t.sides[1].label == "occupied"
    # The buffer bars every military weapon and unit, not only tanks, guns and mortars.
    assert set(t.zone("buffer").weapons) == set(WEAPON_CLASSES) - {"mine", "unknown"}
    assert t.prohibition("no_units").activity == "military_presence"
    assert all(z.certainty.level == "reported" for z in t.zones)


def test_kyiv_proposal_is_a_30_km_zone_of_paraphrases():
    t = load_terms("kyiv-dmz-2025")
    assert t.zone("dmz").distance_m == (15_000.0, 15_000.0)
    assert set(t.zone("dmz").weapons) == set(WEAPON_CLASSES) - {"mine", "unknown"}
    assert t.zone("dmz").certainty.level == "reported"
    # No text of the proposal is public: every clause says so.
    assert all(not c.meta.provision.verbatim for c in t.all_clauses)


@pytest.mark.parametrize("name", ["minsk-2015", "geneva-2025", "kyiv-dmz-2025"])
def test_every_clause_quotes_its_source(name):
    t = load_terms(name)
    sources = {s.id: s for s in t.sources}
    for c in t.all_clauses:
        assert c.kind in CLAUSE_KINDS or c.kind == "cap"
        assert c.meta.mechanism in MECHANISMS
        assert c.certainty.level in CERTAINTY_LEVELS and c.certainty.note
        provision = c.meta.provision
        assert bool(provision.quote) != bool(provision.paraphrase)
        assert len(sources[provision.source].text) > 40
        assert set(c.meta.parties) <= {s.id for s in t.sides}
        assert c.severity in t.severity_labels
        assert c.binds_from >= t.effective
        d = t.clause_dict(c)
        assert d["text"] == provision.text and d["code"] == c.code
    d = t.as_dict()
    assert len(d["clauses"]) == len(t.all_clauses) and d["sources"] and d["version"]
    assert d["line_certainty"]["level"] in CERTAINTY_LEVELS


def test_severity_orders_fire_below_withdrawal_below_advance():
    t = load_terms("minsk-2015")
    sev = {c.kind: c.severity for c in t.clauses}
    assert sev["live_fire"] < sev["withdrawal"] < sev["offensive_movement"]


def test_an_unknown_name_is_not_found_with_a_suggestion():
    with pytest.raises(NotFoundError, match="minsk-2099") as err:
        load_terms("minsk-2099")
    assert "did you mean 'minsk-2015'" in err.value.hint
    assert err.value.code == "not_found.terms"


def test_loading_twice_gives_the_same_terms():
    assert load_terms("minsk-2015") is load_terms("minsk-2015")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("minsk-2015/live_fire/ceasefire", "minsk-2015/live_fire/ceasefire"),
        ("live_fire/ceasefire", "minsk-2015/live_fire/ceasefire"),
        ("flight/no_aircraft_2020", "minsk-2015/flight/no_aircraft_2020"),
    ],
)
def test_a_clause_by_full_id_or_short_code(value, expected):
    assert resolve_clause(value, load_terms("minsk-2015")) == expected


def test_an_unknown_or_ambiguous_clause_is_refused():
    minsk = load_terms("minsk-2015")
    with pytest.raises(InputError, match="'live_fire/ceasfire' matches nothing") as err:
        resolve_clause("live_fire/ceasfire", minsk)
    assert "did you mean 'live_fire/ceasefire'" in err.value.hint
    assert err.value.code == "input.unknown_clause"
    every = [load_terms(n) for n in shipped_terms()]
    sniper = resolve_clause("live_fire/no_sniper_2020", every)
    assert sniper == "minsk-2015/live_fire/no_sniper_2020"
    with pytest.raises(InputError, match="more than one") as err:
        resolve_clause("live_fire/ceasefire", every)
    assert "geneva-2025/live_fire/ceasefire" in err.value.hint
    assert err.value.code == "input.ambiguous_clause"


GOOD = """\
name: test-terms
effective: 2020-07-27T00:00:00+03:00
sources:
  - {id: s, title: T, text: a source text long enough to cite for the test terms file}
line:
  file: lines/minsk_line_of_contact_2015_2022.geojson
  feature: 0
sides:
  polygon: {file: lines/minsk_line_of_contact_2015_2022.geojson, feature: 1}
  outside: {id: a, label: side a}
  inside: {id: b, label: side b}
zones:
  - id: near
    distance_km: 10
    weapons: [tank]
    source: s
    certainty: {level: stated, note: the text says 10 km}
    paraphrase: tanks 10 km back
prohibited:
  - {id: fire, activity: live_fire, zone: near, source: s, quote: no fire}
version: "1"
line_certainty: {level: assumed, note: a test}
"""


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "t.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_a_minimal_file_loads(tmp_path):
    t = load_terms(write(tmp_path, GOOD))
    assert t.clause_ids == ("test-terms/withdrawal/near", "test-terms/live_fire/fire")


@pytest.mark.parametrize(
    ("old", "new", "key", "line"),
    [
        ("    weapons: [tank]", "    weapons: [tank, catapult]", "zones[near].weapons", 15),
        ("    paraphrase: tanks 10 km back\n", "", "zones[near].quote", 13),
        ("quote: no fire}", "quote: no fire, paraphrase: none}", "prohibited[fire].quote", 20),
        ("zone: near, source", "zone: near, parties: [c], source", "prohibited[fire].parties",
         20),
        ("zone: near, source", "zone: near, mechanism: truce, source",
         "prohibited[fire].mechanism", 20),
        ("level: stated", "level: sure", "zones[near].certainty.level", 17),
        ('version: "1"\n', "", "version", 1),
        ("    distance_km: 10\n", "", "zones[near].distance_km", 13),
        ("    distance_km: 10", "    distance_km: 10\n    colour: red", "zones[near].colour", 15),
        ("name: test-terms", "name: test-terms\nsignatories: [x]", "signatories", 2),
        ("zone: near, source", "zone: far, source", "prohibited[fire].zone", 20),
        ("activity: live_fire", "activity: singing", "prohibited[fire].activity", 20),
        ("+03:00", "", "effective", 2),
        ("feature: 0", "feature: 5", "line.feature", 7),
        ("    source: s", "    source: nowhere", "zones[near].source", 16),
    ],
)
def test_a_wrong_file_names_key_and_line(tmp_path, old, new, key, line):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_terms(path)
    assert err.value.key == key
    assert err.value.line == line
    assert f"{path}:{line}: {key}:" in str(err.value)


def test_invalid_geometry_is_refused(tmp_path):
    bowtie = (
        "  polygon:\n    geojson: {type: Polygon, coordinates: "
        "[[[37, 47], [39, 49], [39, 47], [37, 49], [37, 47]]]}\n"
    )
    text = GOOD.replace(
        "  polygon: {file: lines/minsk_line_of_contact_2015_2022.geojson, feature: 1}\n", bowtie
    )
    with pytest.raises(ConfigError, match="invalid geometry") as err:
        load_terms(write(tmp_path, text))
    assert err.value.key == "sides.polygon" and err.value.line == 9


def test_a_line_must_be_a_line(tmp_path):
    text = GOOD.replace("  feature: 0\n", "  feature: 1\n", 1)  # the polygon, not the line
    with pytest.raises(ConfigError, match="expected LineString or MultiLineString"):
        load_terms(write(tmp_path, text))


def test_zone_depth_per_side_and_width(tmp_path):
    text = GOOD.replace("    distance_km: 10", "    distance_km: {a: 10, b: 20}")
    assert load_terms(write(tmp_path, text)).zones[0].distance_m == (10_000.0, 20_000.0)
    text = GOOD.replace("    distance_km: 10", "    width_km: 30")
    assert load_terms(write(tmp_path, text)).zones[0].distance_m == (15_000.0, 15_000.0)
    text = GOOD.replace("    distance_km: 10", "    distance_km: {a: 10}")
    with pytest.raises(ConfigError, match="distance_km.b"):
        load_terms(write(tmp_path, text))


def test_geometry_paths_resolve_next_to_the_terms_file(tmp_path):
    src = shipped.data_path("lines", "minsk_line_of_contact_2015_2022.geojson")
    (tmp_path / "mine.geojson").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    text = GOOD.replace("lines/minsk_line_of_contact_2015_2022.geojson", "mine.geojson")
    assert load_terms(write(tmp_path, text)).line.equals(shipped.minsk_line())


def test_severity_can_be_overridden_by_name(tmp_path):
    text = GOOD.replace("    weapons: [tank]", "    weapons: [tank]\n    severity: critical")
    t = load_terms(write(tmp_path, text))
    assert t.clauses[0].severity == 4
    with pytest.raises(ConfigError, match="severity must be one of"):
        load_terms(write(tmp_path, text.replace("critical", "dire")))


def test_weapon_classes_in_shipped_terms_are_known():
    for name in shipped_terms():
        for z in load_terms(name).zones:
            assert set(z.weapons) <= set(WEAPON_CLASSES)


def test_not_yaml_is_a_config_error():
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_terms("name: [unclosed", path="x.yaml")


POLYGON_ZONE = """\
  - id: box
    polygon:
      geojson: {type: Polygon, coordinates: [[[37.5, 48.0], [38.5, 48.0], [38.5, 48.6],
                [37.5, 48.6], [37.5, 48.0]]]}
    source: s
    paraphrase: a box
    certainty: {level: assumed, note: a test box}
"""


def test_a_polygon_zone_and_a_prohibition_for_some_weapons(tmp_path):
    text = GOOD.replace("prohibited:\n", POLYGON_ZONE + "prohibited:\n").replace(
        "{id: fire, activity: live_fire, zone: near, source: s, quote: no fire}",
        "{id: fire, activity: live_fire, zone: box, weapons: [small_arms], source: s, "
        "quote: no fire}",
    )
    t = load_terms(write(tmp_path, text))
    box = t.zone("box")
    assert box.shape == "polygon" and box.polygon.bounds == (37.5, 48.0, 38.5, 48.6)
    assert t.prohibition("fire").weapons == ("small_arms",)
    assert t.clause_ids == ("test-terms/withdrawal/near", "test-terms/live_fire/fire")
    assert t.area is None  # no area: the terms hold everywhere


def test_an_area_from_named_features_and_a_settlements_zone(tmp_path):
    area = (
        "area:\n  file: boundaries/geoboundaries_ukr_adm1_simplified.geojson\n"
        "  feature: {shapeName: [Donetsk Oblast, Luhansk Oblast]}\n"
        "  certainty: {level: stated, note: the two oblasts}\n"
    )
    settled = (
        "  - {id: towns, settlements: {within_km: 3}, weapons: [mlrs], source: s,"
        " paraphrase: no rockets near towns, certainty: {level: assumed, note: 3 km}}\n"
    )
    text = GOOD + area
    text = text.replace("prohibited:\n", settled + "prohibited:\n")
    t = load_terms(write(tmp_path, text))
    assert t.zone("towns").radius_m == 3_000.0
    assert shapely.contains_xy(t.area, *t.zone("towns").points.T).all()
    wrong = GOOD + area.replace("Luhansk Oblast]", "Luhansk]")
    with pytest.raises(ConfigError, match="no feature with shapeName = Luhansk") as err:
        load_terms(write(tmp_path, wrong))
    assert err.value.key == "area.feature"
    with pytest.raises(ConfigError, match="needs the terms' area"):
        load_terms(write(tmp_path, GOOD.replace("prohibited:\n", settled + "prohibited:\n")))


def test_dates_stay_strings_until_read_as_iso(tmp_path):
    # YAML 1.2 through the one loader: a date without an offset is refused, not guessed.
    text = GOOD.replace("2020-07-27T00:00:00+03:00", "2020-07-27")
    with pytest.raises(ConfigError, match="UTC offset") as err:
        load_terms(write(tmp_path, text))
    assert err.value.key == "effective"
    with pytest.raises(ConfigError, match="duplicate key"):
        load_terms(write(tmp_path, GOOD + "name: again\n"))
