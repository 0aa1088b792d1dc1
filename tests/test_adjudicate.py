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
    depth = np.array([z.distance_m[0] if z.shape == "band" else -1.0 for z in minsk.zones])
    # (the smallest depth covering it, first listed on a tie), inside Ukraine only.
    covers = np.where(ref[:, None] <= depth[None, :], depth[None, :], np.inf)
    expect = np.where(np.isfinite(covers).any(axis=1), np.argmin(covers, axis=1), -1)
    expect[~shapely.contains_xy(shipped.ukraine(), lon, lat)] = -1
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
    a = judge(minsk, [KRAMATORSK], "2016-01-01T00:00:00", "weapon_presence", "mlrs_long")
    rows = a.breaches_of(0) + judge(minsk, [KRAMATORSK], "2016-01-01T00:00:00", "shelling",
                                    "mlrs_long").breaches_of(0)
    assert [r["clause"] for r in rows] == [
        "minsk-2015/withdrawal/long_range",
        "minsk-2015/live_fire/ceasefire",
    ]
    # A long-range launcher seen inside its withdrawal zone is high; its fire on a city is
    # high too: live fire (low), raised for a heavy weapon and for falling on a settlement.
    assert [r["severity"] for r in rows] == [3, 3]
    assert rows[0]["severity_reasons"] == []
    assert len(rows[1]["severity_reasons"]) == 2
    assert rows[0]["status"] == "new"
    away = judge(minsk, [(37.4, 48.55)], "2016-01-01T00:00:00", "shelling", "mlrs_long")
    assert [r["severity"] for r in away.breaches_of(0)] == [2]  # open country: no town


def test_flights_over_the_zone_except_the_monitors(minsk):
    a = judge(
        minsk,
        [SVETLODARSK, SVETLODARSK, KRAMATORSK],
        "2018-01-01T00:00:00",
        "flight",
        "aircraft",
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
    # An explosion heard or seen where it happened is not where the mortar stood: it breaches
    # the ceasefire, no withdrawal zone, and names no side as the one that fired.
    assert {b["clause"] for b in d["breaches"]} == {"minsk-2015/live_fire/ceasefire"}
    assert (d["fired_from"], d["p_fired_from"]) == (None, None)
    assert len(a.violations()) == 1 and a.violations()[0]["fired_from"] is None
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
    text = src + (
        "caps:\n  - {id: mlrs_tanks, zone: mlrs, side: government, weapon: tank, max: 3,\n"
        "     source: package-of-measures, paraphrase: at most three tanks in the zone}\n"
    )
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
            "clause": "minsk-2015/cap/mlrs_tanks",
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
    assert [c.code for c in t.cap_clauses] == ["cap/mlrs_tanks"]
    assert t.cap_clauses[0].meta.mechanism == "cap"


def test_no_incidents_no_breaches(minsk):
    a = adjudicate(minsk, [], [], [], [], [])
    assert a.n_incidents == 0 and a.violations() == []
    assert set(a.breach_counts()) == set(minsk.clause_ids)


# ------------------------------------------------------------------ uncertain positions

# Where the shipped UCDP events known only to the oblast (where_prec 4) are placed.
LUHANSK_OBLAST = (39.02, 48.92)


def test_every_breach_carries_its_location_probability(minsk, ucdp):
    rows = [r for r in ucdp if r["date_start"] >= "2015-03-01"]
    lon = [float(r["longitude"]) for r in rows]
    lat = [float(r["latitude"]) for r in rows]
    radius = {"1": 1_000.0, "2": 25_000.0, "3": 50_000.0, "4": 150_000.0, "5": 50_000.0,
              "6": 500_000.0, "7": 500_000.0}  # fmt: skip
    unc = [radius[r["where_prec"]] for r in rows]
    t = [epoch(r["date_end"] + "T12:00:00") for r in rows]
    n = len(rows)
    exact = adjudicate(minsk, lon, lat, t, ["armed_clash"] * n, ["unknown"] * n)
    judged = adjudicate(minsk, lon, lat, t, ["armed_clash"] * n, ["unknown"] * n,
                        uncertainty_m=unc)  # fmt: skip
    assert (exact.p_location == 1.0).all()
    assert judged.p_location.min() >= judged.p_floor == 0.01
    assert judged.p_location.max() <= 1.0
    # Imprecise events are no longer all sure to lie in the ceasefire's oblasts; a few are
    # less likely than not to.
    assert (judged.p_location < 0.9).sum() > 100
    assert (judged.p_location < 0.5).sum() >= 1
    # Precise events keep the crisp answer wherever their disc is clear of the area's edge.
    precise = np.array(unc) == 1_000.0
    both = np.isin(exact.incident, np.flatnonzero(precise))
    assert set(exact.incident[both].tolist()) <= set(judged.incident.tolist())
    rows_out = judged.violations()
    assert {"p_location", "p_side", "controlled_by", "uncertainty_m", "terms_version"} <= set(
        rows_out[0]
    )
    assert rows_out[0]["terms_version"] == minsk.version == "3"


def test_an_oblast_level_event_is_judged_with_its_uncertainty(minsk):
    a = judge(minsk, [LUHANSK_OBLAST], "2019-06-01T12:00:00", "weapon_presence", "mlrs")
    sure = {b["clause"]: b["p_location"] for b in a.breaches_of(0)}
    assert sure == {"minsk-2015/withdrawal/mlrs": 1.0}
    a = judge(minsk, [LUHANSK_OBLAST], "2019-06-01T12:00:00", "shelling", "mlrs")
    sure = {b["clause"]: b["p_location"] for b in a.breaches_of(0)}
    assert sure == {"minsk-2015/live_fire/ceasefire": 1.0}
    lon, lat = LUHANSK_OBLAST
    t = epoch("2019-06-01T12:00:00")
    b = adjudicate(minsk, [lon, lon], [lat, lat], [t, t], ["shelling", "weapon_presence"],
                   ["mlrs", "mlrs"], uncertainty_m=[150_000.0, 150_000.0])
    p = {r["clause"]: r["p_location"] for r in b.breaches_of(0)}
    # Within 150 km the event may lie anywhere around the line: the 35 km zone is a toss-up,
    # the oblasts of the ceasefire likely but not sure, the side itself uncertain.
    p.update({r["clause"]: r["p_location"] for r in b.breaches_of(1)})
    assert 0.2 < p["minsk-2015/withdrawal/mlrs"] < 0.8
    assert 0.5 < p["minsk-2015/live_fire/ceasefire"] < 1.0
    assert p["minsk-2015/live_fire/ceasefire"] == pytest.approx(b.location.p_area[0])
    assert 0.5 < b.p_side[0] < 0.95 and b.controlled_by[0] == "government"
    d = b.incident_dict(0)
    assert d["uncertainty_m"] == 150_000.0 and d["controlled_by"] == "government"
    assert d["p_side"] == pytest.approx(b.p_side[0]) and d["terms_version"] == "3"


def test_no_breach_where_the_whole_disc_misses_the_zone(minsk):
    # Kramatorsk lies 48 km from the line, 13 km beyond the 35 km MLRS zone.
    t = epoch("2019-06-01T12:00:00")
    args = ([KRAMATORSK[0]], [KRAMATORSK[1]], [t], ["weapon_presence"], ["mlrs"])
    for radius, expect in ((1_000.0, []), (10_000.0, [])):
        a = adjudicate(minsk, *args, uncertainty_m=[radius])
        assert [r["clause"] for r in a.breaches_of(0)] == expect
    wide = adjudicate(minsk, *args, uncertainty_m=[30_000.0])
    (row,) = wide.breaches_of(0)
    assert row["clause"] == "minsk-2015/withdrawal/mlrs" and 0.01 <= row["p_location"] < 0.5
    # A higher floor drops the unlikely breach.
    assert adjudicate(minsk, *args, uncertainty_m=[30_000.0], p_floor=0.5).incident.size == 0
    with pytest.raises(InputError, match="p_floor"):
        adjudicate(minsk, *args, p_floor=0.0)


def test_an_advance_is_as_likely_as_the_other_side(minsk):
    # Forces of the non-government side near Svetlodarsk (3 km inside government territory):
    # with a 5 km radius they may still be on their own side.
    t = epoch("2019-06-01T12:00:00")
    a = adjudicate(minsk, [SVETLODARSK[0]], [SVETLODARSK[1]], [t], ["movement"], ["unknown"],
                   actor_side=[1], uncertainty_m=[5_000.0])  # fmt: skip
    (row,) = [r for r in a.breaches_of(0) if r["clause"].endswith("no_advance")]
    assert row["p_location"] == pytest.approx(1.0 - a.location.p_side1_area[0])
    assert 0.5 < row["p_location"] < 1.0


def test_the_measures_of_july_2020(minsk):
    where = [SVETLODARSK, KRAMATORSK]
    before = judge(minsk, where, "2020-07-20T12:00:00", "shots", "small_arms")
    after = judge(minsk, where, "2020-08-20T12:00:00", "shots", "small_arms")
    assert [b["clause"] for b in before.breaches_of(0)] == ["minsk-2015/live_fire/ceasefire"]
    assert {b["clause"] for b in after.breaches_of(0)} == {
        "minsk-2015/live_fire/ceasefire", "minsk-2015/live_fire/no_sniper_2020",
    }  # fmt: skip
    # Mortar fire is no sniper fire.
    mortar = judge(minsk, where, "2020-08-20T12:00:00", "shelling", "mortar_120")
    assert mortar.breach_counts()["minsk-2015/live_fire/no_sniper_2020"] == 0
    # Any aircraft of the sides anywhere in the area, beyond the 15 km security zone too.
    # A side's own UAV breaches the 2020 ban (all aircraft) but not point 7 of the
    # memorandum, which bans combat and foreign aircraft; a helicopter breaches both.
    uav = judge(minsk, where, "2020-08-20T12:00:00", "drone", "uav")
    assert [b["clause"] for b in uav.breaches_of(1)] == ["minsk-2015/flight/no_aircraft_2020"]
    assert [b["clause"] for b in uav.breaches_of(0)] == ["minsk-2015/flight/no_aircraft_2020"]
    heli = judge(minsk, where, "2020-08-20T12:00:00", "flight", "helicopter")
    assert {b["clause"] for b in heli.breaches_of(0)} == {
        "minsk-2015/flight/no_flights", "minsk-2015/flight/no_aircraft_2020",
    }  # fmt: skip
    early_uav = judge(minsk, where, "2020-07-20T12:00:00", "drone", "uav")
    assert early_uav.breaches_of(1) == []


def test_heavy_weapons_near_settlements_after_july_2020(minsk):
    near = minsk.zone("near_settlements")
    # Starobilsk is a settlement 59 km from the line: inside the 70 km zone only.
    lon, lat = 38.91069, 49.27832
    assert np.hypot(*(near.points - [lon, lat]).T).min() < 1e-6
    before = judge(minsk, [(lon, lat)], "2020-07-01T12:00:00", "weapon_presence", "artillery_ge100")
    after = judge(minsk, [(lon, lat)], "2020-08-01T12:00:00", "weapon_presence", "artillery_ge100")
    assert before.breaches_of(0) == []
    assert [b["clause"] for b in after.breaches_of(0)] == ["minsk-2015/withdrawal/near_settlements"]
    tank = judge(minsk, [(lon, lat)], "2020-08-01T12:00:00", "weapon_presence", "tank")
    assert tank.breaches_of(0) == []  # a tank is no heavy weapon in the Package of Measures


def test_units_in_the_geneva_buffer():
    t = load_terms("geneva-2025")
    # Kupiansk area, about 1-2 km from the 2026 line; Kharkiv far behind it.
    a = judge(t, [(37.61, 49.71), (36.2527, 49.9808)], "2026-10-01T00:00:00", "movement",
              "small_arms")  # fmt: skip
    assert {b["clause"] for b in a.breaches_of(0)} == {
        "geneva-2025/withdrawal/buffer", "geneva-2025/military_presence/no_units",
    }  # fmt: skip
    assert a.breaches_of(1) == []


def test_a_clause_ends_when_the_terms_say(tmp_path):
    src = shipped.data_path("terms", "minsk-2015.yaml").read_text(encoding="utf-8")
    text = src.replace('version: "3"\n', 'version: "3"\nend: 2022-02-24T04:00:00+02:00\n', 1)
    path = tmp_path / "ended.yaml"
    path.write_text(text, encoding="utf-8")
    t = parse_terms(text, path=str(path))
    # Every clause ends by then; one the texts already ended earlier keeps its own end.
    assert all(c.end == epoch("2022-02-24T02:00:00") for c in t.clauses
               if c.id != "minsk-2015/withdrawal/mortar_120_memorandum")  # fmt: skip
    (mortar,) = [c for c in t.clauses if c.id == "minsk-2015/withdrawal/mortar_120_memorandum"]
    assert mortar.end == epoch("2015-11-08T22:00:00")
    inside = judge(t, [SVETLODARSK], "2022-02-23T12:00:00", "shelling")
    after = judge(t, [SVETLODARSK], "2022-03-01T12:00:00", "shelling")
    assert inside.breaches_of(0) and after.breaches_of(0) == []


def test_fire_judged_where_it_came_from_not_where_it_landed(minsk):
    """Outgoing fire heard by a monitor on the government side, bearing and distance band
    pointing across the line: its estimated firing region, not the observer's position, is
    judged against the withdrawal zones, with the probability that it lies in each; the side
    that fired is the one controlling that region. The same report without a firing estimate
    breaches the ceasefire only and names no side."""
    from truceguard.judge.firing import BearingReport, Position, from_bearing

    observer = Position(lat=48.12, lon=37.76, uncertainty_m=50.0)  # Avdiivka, 3 km from the line
    out = from_bearing(BearingReport(observer, bearing_deg=120.0, error_deg=11.25,
                                     distance_min_km=3.0, distance_max_km=6.0), seed=1)
    place_of = place(minsk, out.samples[:, 0], out.samples[:, 1])
    truth_in_zone = float(place_of.in_zone[:, minsk.zone_ids.index("security_15km")].mean())
    truth_ngca = float((place_of.side == 1).mean())
    when = [epoch("2019-07-01T00:00:00")]
    a = adjudicate(minsk, [observer.lon], [observer.lat], when, ["explosion"], ["mortar_120"],
                   firing=[out])
    got = {b["clause"]: b["p_location"] for b in a.breaches_of(0)}
    assert got["minsk-2015/withdrawal/security_15km"] == pytest.approx(truth_in_zone)
    assert truth_in_zone > 0.9
    side, p = a.fired_from(0)
    assert side == minsk.sides[1].id and p == pytest.approx(truth_ngca, abs=1e-4) and p > 0.5
    assert a.incident_dict(0)["controlled_by"] == minsk.sides[0].id  # where it was heard
    bare = adjudicate(minsk, [observer.lon], [observer.lat], when, ["explosion"], ["mortar_120"])
    assert [b["clause"] for b in bare.breaches_of(0)] == ["minsk-2015/live_fire/ceasefire"]
    assert bare.fired_from(0) == (None, None)
