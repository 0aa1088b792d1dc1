"""Judging from the right evidence, through the real chain (import, fuse, adjudicate): an
impact breaches the ceasefire and names no side; an outgoing report with a bearing and a
distance band, or two observers' crossing bearings, give a firing region judged against the
withdrawal zones, and the side that fired."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from truceguard.geo.sphere import bearing_deg
from truceguard.ingest import import_file
from truceguard.judge.adjudicate import place
from truceguard.judge.evidence import view_evidence
from truceguard.judge.firing import BearingReport, Position, triangulate
from truceguard.judge.terms import load_terms
from truceguard.marking import Viewer
from truceguard.model import MonitorReport, Observation
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import Store, ViolationFilter

MINSK = load_terms("minsk-2015")
HEADER = ("id,time,lat,lon,category,kind,direction,bearing_deg,bearing_err_deg,"
          "distance_min_km,distance_max_km,observer_lat,observer_lon,weapon_type")
TARGET = (48.023, 37.80224)  # Donetsk, non-government-controlled, about 8 km from the line
OBSERVERS = [(48.12, 37.76), (48.10, 37.70)]  # Avdiivka and west of it: government-controlled


def _judge(store: Store, tmp_path: Path, rows: list[str]) -> dict[str, list]:
    p = tmp_path / "reports.csv"
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    s = import_file(store, p, source="monitors")
    assert s.rejected == 0, s.errors
    fuse_store(store)
    adjudicate_store(store, MINSK)
    out: dict[str, list] = {}
    for v in store.violations(ViolationFilter(terms="minsk-2015"), Viewer.owner()):
        out.setdefault(v.clause.split("/", 1)[1], []).append(v)
    return out


def _bearing(frm: tuple[float, float], to: tuple[float, float]) -> float:
    return float(bearing_deg(frm[0], frm[1], to[0], to[1]))


def test_an_impact_breaches_the_ceasefire_only_and_names_no_side(store: Store,
                                                                  tmp_path: Path) -> None:
    """A 152 mm shell landing in government-controlled Avdiivka in September 2020: the
    ceasefire is breached where it landed; no withdrawal clause, no side named as firing."""
    got = _judge(store, tmp_path, [
        "imp,2020-09-10T10:00:00Z,48.139,37.742,shelling,fire,impact,,,,,,,2A65"])
    assert set(got) == {"live_fire/ceasefire"}
    (v,) = got["live_fire/ceasefire"]
    assert v.controlled_by == "government"  # the side that was hit: it attributes nothing
    assert v.fired_from is None and v.p_fired_from is None


def test_an_outgoing_report_yields_a_firing_region_and_withdrawal_verdicts(store: Store,
                                                                           tmp_path: Path
                                                                           ) -> None:
    obs = OBSERVERS[0]
    b = _bearing(obs, TARGET)
    got = _judge(store, tmp_path, [
        f"out,2020-09-10T10:00:00Z,{obs[0]},{obs[1]},shelling,fire,outgoing,{b:.1f},5,"
        f"8,14,{obs[0]},{obs[1]},2A65"])
    (w,) = got["withdrawal/artillery_ge100"]
    assert 0.5 <= w.p_location <= 1.0  # the firing region, 8-14 km out, in the 25 km zone
    assert w.fired_from == "non_government" and w.p_fired_from > 0.9
    (c,) = got["live_fire/ceasefire"]
    assert c.controlled_by == "government"  # heard from there
    assert c.fired_from == "non_government"


def test_two_observers_bearings_are_triangulated(store: Store, tmp_path: Path) -> None:
    rows = []
    for k, obs in enumerate(OBSERVERS):
        b = _bearing(obs, TARGET)
        rows.append(f"tri{k},2020-09-10T10:0{k}:00Z,{TARGET[0]},{TARGET[1]},shelling,fire,"
                    f"outgoing,{b:.2f},2,5,15,{obs[0]},{obs[1]},2A65")
    got = _judge(store, tmp_path, rows)
    (w,) = got["withdrawal/artillery_ge100"]
    assert w.p_location > 0.95 and w.fired_from == "non_government" and w.p_fired_from > 0.95


def _report(obs: tuple[float, float], b: float, lo: float, hi: float) -> Observation:
    return Observation(source="m", how_known="heard", t_start=0, t_end=0, time_precision_s=60,
                       lat=obs[0], lon=obs[1], uncertainty_m=None, category="shelling",
                       report=MonitorReport(kind="fire", direction="outgoing", bearing_deg=b,
                                            bearing_err_deg=2.0, distance_min_km=lo,
                                            distance_max_km=hi, observer_lat=obs[0],
                                            observer_lon=obs[1]))


def test_a_view_prefers_crossing_bearings_and_says_why_when_they_do_not_cross() -> None:
    both = [_report(o, _bearing(o, TARGET), 5, 15) for o in OBSERVERS]
    e = view_evidence(both, seed=3)
    fix = triangulate([BearingReport(Position(*o), _bearing(o, TARGET), 2.0 / 1.96, 5, 15)
                       for o in OBSERVERS], seed=3)
    assert e.firing is not None and e.firing.method == fix.method == "triangulation"
    assert np.allclose(e.firing.samples, fix.samples)
    side = place(MINSK, e.firing.samples[:, 0], e.firing.samples[:, 1]).side
    assert (side == 1).mean() > 0.95
    apart = [_report(OBSERVERS[0], 0.0, 1, 3), _report(OBSERVERS[1], 180.0, 1, 3)]
    e = view_evidence(apart, seed=3)
    assert e.firing is None and e.note.startswith("no fix")
    one = view_evidence(both[:1], seed=3)
    assert one.firing is not None and one.firing.method == "bearing_band"


def test_a_sighting_in_a_zone_breaches_it_at_its_position(store: Store, tmp_path: Path
                                                          ) -> None:
    got = _judge(store, tmp_path, [
        "s,2020-09-10T10:00:00Z,48.05,37.76,weapon_presence,sighting,,,,,,,,2A65"])
    (w,) = got["withdrawal/artillery_ge100"]
    assert w.p_location == pytest.approx(1.0) and w.fired_from is None
    assert "live_fire/ceasefire" not in got


def test_who_acted_and_the_monitors_own_flights_are_read_from_the_record(
        store: Store, tmp_path: Path) -> None:
    """An advance needs the side whose forces moved: a movement of non-government forces into
    government-controlled ground breaches no_advance; the same movement with no side named
    breaches nothing. A UAV of the monitors' own over the security zone breaches no ban on
    flights that excepts them; another UAV there breaches the 2020 ban."""
    header = HEADER + ",actor_side,by_monitors"
    rows = ["adv,2020-09-10T10:00:00Z,48.139,37.742,movement,sighting,,,,,,,,,"
            "non_government,",
            "anon,2020-09-11T10:00:00Z,48.139,37.742,movement,sighting,,,,,,,,,,",
            "osce,2020-09-12T10:00:00Z,48.10,37.76,drone,sighting,,,,,,,,,,yes",
            "uav,2020-09-13T10:00:00Z,48.10,37.76,drone,sighting,,,,,,,,,,"]
    p = tmp_path / "who.csv"
    p.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    assert import_file(store, p, source="monitors").rejected == 0
    fuse_store(store)
    adjudicate_store(store, MINSK)
    by_day: dict[int, set[str]] = {}
    for v in store.violations(ViolationFilter(terms="minsk-2015"), Viewer.owner()):
        day = int(v.t_start // 86400) % 100
        by_day.setdefault(day, set()).add(v.clause.split("/", 1)[1])
    adv, anon, osce, uav = (int(n // 86400) % 100 for n in (1599732000, 1599818400,
                                                           1599904800, 1599991200))
    assert "offensive_movement/no_advance" in by_day[adv]
    assert not any(c.startswith("offensive_movement") for c in by_day.get(anon, set()))
    assert not any(c.startswith("flight") for c in by_day.get(osce, set()))
    # Any UAV of the sides breaches the 2020 ban on all aircraft; point 7 of the memorandum
    # bans combat and foreign aircraft, not a side's own reconnaissance UAV.
    assert "flight/no_aircraft_2020" in by_day[uav] and "flight/no_flights" not in by_day[uav]
