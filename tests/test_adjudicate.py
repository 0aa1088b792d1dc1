"""Adjudication of incidents against the shipped terms, on real places and real UCDP events."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely

from truceguard.errors import InputError
from truceguard.geo import shipped
from truceguard.judge.adjudicate import adjudicate, check_caps, encode, place, terms_geometry
from truceguard.judge.terms import load_terms, parse_terms
from truceguard.model import CATEGORIES

UCDP = shipped.data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")

# Real places (GeoNames coordinates) and where they lie for minsk-2015.
SVETLODARSK = (38.22331, 48.43374)  # government side, about 3 km from the line
AVDIIVKA = (37.74255, 48.13989)  # government side, about 5 km
BAKHMUT = (37.99987, 48.59559)  # government side, about 21 km
KRAMATORSK = (37.55629, 48.72305)  # government side, about 48 km
DONETSK = (37.80224, 48.023)  # non-government side, about 8 km
KYIV = (30.52333, 50.45)


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def minsk():
    return load_terms("minsk-2015")


@pytest.fixture(scope="module")
def ucdp():
    with open(UCDP, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def judge(terms, where, when, category, weapon="unknown", **kw):
    lon, lat = zip(*where, strict=True)
    n = len(where)
    return adjudicate(terms, lon, lat, np.full(n, epoch(when)), [category] * n, [weapon] * n, **kw)


def test_minsk_era_events_lie_along_the_line(minsk, ucdp):
    rows = [r for r in ucdp if r["date_start"] >= "2015-02-15" and int(r["where_prec"]) <= 2]
    assert len(rows) > 500
    p = place(minsk, [float(r["longitude"]) for r in rows], [float(r["latitude"]) for r in rows])
    km = np.abs(p.signed_m) / 1000
    assert np.median(km) < 10
    assert (km <= 35).mean() > 0.9
    # Both sides took fire.
    assert (p.side == 0).sum() > 100 and (p.side == 1).sum() > 100


def test_donetsk_is_non_government_and_kyiv_is_in_no_zone(minsk, ucdp):
    # One "Donetsk town" row is Donetsk in Rostov oblast, Russia (39.93 E): left out.
    donetsk = [
        r for r in ucdp if r["where_coordinates"] == "Donetsk town" and float(r["longitude"]) < 38.5
    ]
    kyiv = [r for r in ucdp if r["where_coordinates"] == "Kiev city"]
    assert donetsk and kyiv
    p = place(
        minsk, [float(r["longitude"]) for r in donetsk], [float(r["latitude"]) for r in donetsk]
    )
    assert (p.side == 1).all() and (p.signed_m < 0).all()
    p = place(minsk, [float(r["longitude"]) for r in kyiv], [float(r["latitude"]) for r in kyiv])
    assert (p.side == 0).all() and (p.zone == -1).all() and (p.signed_m > 400_000).all()


def test_distances_agree_with_geos_in_the_terms_projection(minsk, ucdp):
    lon = np.array([float(r["longitude"]) for r in ucdp])
    lat = np.array([float(r["latitude"]) for r in ucdp])
    p = place(minsk, lon, lat)
    geo = terms_geometry(minsk)
    x, y = geo.projection.forward(lon, lat)
    ref = shapely.distance(shapely.points(x, y), geo.projection.project_geometry(minsk.line))
    assert np.abs(np.abs(p.signed_m) - ref).max() < 1e-3
    # Zone = the innermost zone whose depth covers the distance.
    depth = np.array([z.distance_m[0] for z in minsk.zones])
    expect = np.array([np.flatnonzero(d <= depth)[0] if (d <= depth).any() else -1 for d in ref])
    assert (p.zone == expect).all()


def test_nothing_is_breached_before_the_ceasefire(minsk, ucdp):
    rows = [r for r in ucdp if r["date_end"] < "2015-02-14"]
    a = adjudicate(
        minsk,
        [float(r["longitude"]) for r in rows],
        [float(r["latitude"]) for r in rows],
        [epoch(r["date_end"] + "T12:00:00") for r in rows],
        ["armed_clash"] * len(rows),
        ["artillery_ge100"] * len(rows),
    )
    assert a.incident.size == 0
    assert sum(a.breach_counts().values()) == 0


def test_fire_with_an_unknown_weapon_breaks_the_ceasefire(minsk):
    a = judge(minsk, [SVETLODARSK, DONETSK, KYIV], "2017-03-01T20:00:00", "shelling")
    assert [b["clause"] for b in a.breaches_of(0)] == ["minsk-2015/live_fire/ceasefire"]
    assert [b["clause"] for b in a.breaches_of(1)] == ["minsk-2015/live_fire/ceasefire"]
    assert a.breaches_of(2) == []  # Kyiv: beyond the regulated area


def test_withdrawal_binds_after_the_phase_in(minsk):
    where = [AVDIIVKA, BAKHMUT, KRAMATORSK]
    # Day 3 of the ceasefire: withdrawal still under way, only the fire counts.
    early = judge(minsk, where, "2015-02-18T12:00:00", "shelling", "artillery_ge100")
    assert {b["kind"] for i in range(3) for b in early.breaches_of(i)} == {"live_fire"}
    late = judge(minsk, where, "2016-05-01T12:00:00", "weapon_presence", "artillery_ge100")
    got = [[b["clause"] for b in late.breaches_of(i)] for i in range(3)]
    # 25 km each side: Avdiivka (5 km) and Bakhmut (21 km) inside, Kramatorsk (48 km) not.
    assert got == [["minsk-2015/withdrawal/artillery_ge100"]] * 2 + [[]]


def test_the_addendum_zone_binds_from_its_own_date(minsk):
    before = judge(minsk, [AVDIIVKA], "2015-06-01T12:00:00", "weapon_presence", "tank")
    after = judge(minsk, [AVDIIVKA], "2016-06-01T12:00:00", "weapon_presence", "tank")
    assert before.breaches_of(0) == []
    assert [b["clause"] for b in after.breaches_of(0)] == ["minsk-2015/withdrawal/security_15km"]


def test_long_range_systems_and_their_severity(minsk):
    a = judge(minsk, [KRAMATORSK], "2016-01-01T00:00:00", "shelling", "mlrs_long")
    rows = a.breaches_of(0)
    assert [r["clause"] for r in rows] == [
        "minsk-2015/withdrawal/long_range",
        "minsk-2015/live_fire/ceasefire",
    ]
    assert rows[0]["severity"] > rows[1]["severity"]
    assert rows[0]["status"] == "new"


def test_flights_over_the_zone_except_the_monitors(minsk):
    a = judge(
        minsk,
        [SVETLODARSK, SVETLODARSK, KRAMATORSK],
        "2018-01-01T00:00:00",
        "drone",
        "uav",
        monitor=[False, True, False],
    )
    assert [b["kind"] for b in a.breaches_of(0)] == ["flight"]
    assert a.breaches_of(1) == []  # the monitors' own UAV
    assert a.breaches_of(2) == []  # outside the 15 km zone


def test_mines_and_offensive_movement(minsk):
    mines = judge(minsk, [AVDIIVKA, KRAMATORSK], "2018-01-01T00:00:00", "mine", "mine")
    assert [b["kind"] for b in mines.breaches_of(0)] == ["mines"]
    assert mines.breaches_of(1) == []
    # Forces of the non-government side (1) moving on government territory: an advance.
    move = judge(
        minsk,
        [AVDIIVKA, AVDIIVKA, DONETSK],
        "2018-01-01T00:00:00",
        "movement",
        actor_side=[1, 0, 1],
    )
    assert [b["kind"] for b in move.breaches_of(0)] == ["offensive_movement"]
    assert move.breaches_of(1) == [] and move.breaches_of(2) == []
    sev = {c.kind: c.severity for c in minsk.clauses}
    assert move.breaches_of(0)[0]["severity"] == sev["offensive_movement"]


def test_incident_dict_is_plain_data(minsk):
    a = judge(minsk, [DONETSK], "2019-07-01T00:00:00", "explosion", "mortar_120")
    d = a.incident_dict(0)
    assert d["side"] == "non_government"
    assert d["side_label"] == "non-government-controlled"
    assert d["zone"] == "security_15km"
    assert d["signed_distance_m"] == pytest.approx(-d["distance_m"])
    assert {b["clause"] for b in d["breaches"]} == {
        "minsk-2015/withdrawal/security_15km",
        "minsk-2015/live_fire/ceasefire",
    }
    assert len(a.violations()) == 2
    with pytest.raises(IndexError):
        a.incident_dict(1)


def test_each_side_measures_from_its_own_line(tmp_path):
    """With side_lines, a side's zones start at its own line (here shifted 10 km back)."""
    src = shipped.data_path("terms", "minsk-2015.yaml").read_text(encoding="utf-8")
    geo_line = shapely.affinity.translate(shipped.minsk_line(), xoff=-0.135)  # ~10 km west
    (tmp_path / "gov.geojson").write_text(shapely.to_geojson(geo_line), encoding="utf-8")
    text = src.replace("sides:\n", "side_lines:\n  government: {file: gov.geojson}\nsides:\n", 1)
    p = tmp_path / "own.yaml"
    p.write_text(text, encoding="utf-8")
    own = parse_terms(text, path=str(p))
    shared = load_terms("minsk-2015")
    lon, lat = zip(SVETLODARSK, DONETSK, strict=True)
    a, b = place(own, lon, lat), place(shared, lon, lat)
    assert a.signed_m == pytest.approx(b.signed_m)  # the common line is unchanged
    assert a.own_m[1] == pytest.approx(b.own_m[1])  # the other side keeps the common line
    proj = terms_geometry(own).projection
    x, y = proj.forward(lon[0], lat[0])
    expect = shapely.distance(shapely.Point(x, y), proj.project_geometry(geo_line))
    assert a.own_m[0] == pytest.approx(expect, abs=1e-3)  # from the government's own line
    assert abs(a.own_m[0] - b.own_m[0]) > 500


def test_codes_and_strings_give_the_same_result(minsk):
    lon, lat = zip(SVETLODARSK, DONETSK, strict=True)
    t = [epoch("2018-01-01T00:00:00")] * 2
    by_name = adjudicate(minsk, lon, lat, t, ["shelling", "mine"], ["tank", "mine"])
    by_code = adjudicate(minsk, lon, lat, t, encode(["shelling", "mine"], CATEGORIES, "c"), [5, 13])
    assert by_name.violations() == by_code.violations()


def test_bad_input_is_refused(minsk):
    with pytest.raises(InputError, match="unknown value 'barrage'"):
        adjudicate(minsk, [38.0], [48.0], [0], ["barrage"], ["tank"])
    with pytest.raises(InputError, match="not finite"):
        place(minsk, [np.nan], [48.0])
    with pytest.raises(InputError, match="values for"):
        adjudicate(minsk, [38.0, 38.1], [48.0, 48.1], [0], ["shelling"] * 2, ["tank"] * 2)


def test_geneva_zones_on_the_2026_line():
    t = load_terms("geneva-2025")
    # Kramatorsk (government side, ~17 km) and Mariupol (occupied, ~53 km): zones by depth.
    p = place(t, [37.55629, 37.543], [48.72305, 47.097])
    assert p.side.tolist() == [0, 1]
    assert [t.zone_ids[z] for z in p.zone] == ["artillery_ge100", "mlrs"]
    a = judge(t, [(30.52333, 50.45)], "2026-09-01T00:00:00", "missile", "tactical_missile")
    assert [b["clause"] for b in a.breaches_of(0)] == ["geneva-2025/live_fire/ceasefire"]


def test_caps_count_weapons_in_the_zone(tmp_path):
    src = shipped.data_path("terms", "minsk-2015.yaml").read_text(encoding="utf-8")
    text = src + "caps:\n  - {zone: mlrs, side: government, weapon: tank, max: 3}\n"
    path = tmp_path / "capped.yaml"
    path.write_text(text, encoding="utf-8")
    t = parse_terms(text, path=str(path))
    # Two sightings in the zone (Avdiivka, Bakhmut), one beyond it (Kramatorsk), one on the
    # other side (Donetsk), one not a sighting.
    lon, lat = zip(AVDIIVKA, BAKHMUT, KRAMATORSK, DONETSK, AVDIIVKA, strict=True)
    p = place(t, lon, lat)
    cats = ["weapon_presence"] * 4 + ["shelling"]
    rows = check_caps(t, p, cats, ["tank"] * 5, count=[2, 1, 9, 9, 9])
    assert rows == [
        {
            "zone": "mlrs",
            "side": "government",
            "weapon": "tank",
            "max": 3,
            "counted": 3.0,
            "exceeded": False,
        }
    ]
    rows = check_caps(t, p, cats, ["tank"] * 5, count=[3, 1, 9, 9, 9])
    assert rows[0]["exceeded"] is True


def test_no_incidents_no_breaches(minsk):
    a = adjudicate(minsk, [], [], [], [], [])
    assert a.n_incidents == 0 and a.violations() == []
    assert set(a.breach_counts()) == set(minsk.clause_ids)
