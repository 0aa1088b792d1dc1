"""A monitor's report as typed data, end to end: the shipped weapon list, every reader and
writer (CSV, GeoJSON, CoT, the JSON of the API), the store (columns, duplicates, migration)
and the rules that refuse a bad row with its file, line and field while the good rows land."""

from __future__ import annotations

import io
import json
import pickle
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_fixtures import make_users, running
from truceguard.cli import main
from truceguard.errors import InputError, RowError
from truceguard.geo.shipped import data_path
from truceguard.io.columns import FIELDS, REPORT_COLUMNS, ObservationColumns
from truceguard.io.cot import parse_cot_event
from truceguard.io.csvmap import FIELDS as CSV_FIELDS
from truceguard.io.csvmap import parse_mapping, read_csv_mapped, write_csv
from truceguard.io.geojson import read_geojson, write_geojson
from truceguard.io.records import record_dict
from truceguard.io.reports import (
    REPORT_FIELDS,
    parse_report,
    report_attributes,
    weapon_class_for,
    weapon_types,
)
from truceguard.io.values import FieldError, check_writable
from truceguard.marking import Viewer
from truceguard.model import (
    FIRE_DIRECTIONS,
    HAZARD_TYPES,
    KIND_FIELDS,
    REPORT_KINDS,
    RESTRICTION_TYPES,
    STORAGE_STATES,
    WEAPON_CLASSES,
    MonitorReport,
    Observation,
)
from truceguard.store import ObservationFilter, Store, open_store
from truceguard.store.schema import MIGRATIONS

OWNER = Viewer.owner()
T0 = 1630317600  # 2021-08-30T10:00:00Z
HEADER = ("time,lat,lon,category,kind,direction,bearing_deg,bearing_err_deg,distance_min_km,"
          "distance_max_km,observer_lat,observer_lon,weapon_type")
GOOD = "2021-08-30T10:00:00Z,48.0,37.8,shelling,fire,outgoing,135,11.25,3,5,48.02,37.78,2A65"


# -- the weapon list -----------------------------------------------------------------------

def test_the_shipped_weapon_list() -> None:
    """About twenty types, each with a weapon class of the vocabulary and a source; each range
    it gives is cited in DATA.md."""
    types = weapon_types()
    assert len(types) >= 20
    data_md = data_path("DATA.md").read_text(encoding="utf-8")
    for key, w in types.items():
        assert w.key == key and w.name and w.weapon_class in WEAPON_CLASSES
        assert w.source.startswith(("http://", "https://"))
        assert w.max_range_km is None or 0 < w.max_range_km <= 500
        assert w.range_note, key
        assert w.source in data_md, f"{key}: its source is not cited in DATA.md"
    assert types["2A65"].weapon_class == "artillery_ge100" and types["2A65"].calibre_mm == 152
    assert types["BM-21"].weapon_class == "mlrs" and types["BM-21"].max_range_km == 20.4
    assert types["2B11"].weapon_class == "mortar_120"
    assert types["T-72"].weapon_class == "tank"


def test_a_weapon_type_decides_the_weapon_class() -> None:
    r = MonitorReport("fire", weapon_type="BM-21")
    assert weapon_class_for("unknown", r) == "mlrs"
    assert weapon_class_for(None, r) == "mlrs"
    assert weapon_class_for("mlrs", r) == "mlrs"
    assert weapon_class_for("tank", None) == "tank"
    with pytest.raises(FieldError, match="mlrs weapon") as exc:
        weapon_class_for("tank", r)
    assert exc.value.field == "weapon_type"


# -- reading: the rules -----------------------------------------------------------------------

def test_no_report_fields_no_report_and_a_kind_is_needed() -> None:
    assert parse_report({"kind": "", "bearing_deg": "  "}, 48.0, 37.8) is None
    with pytest.raises(FieldError, match="needs a kind") as exc:
        parse_report({"bearing_deg": "10"}, 48.0, 37.8, lambda f: f"col_{f}")
    assert exc.value.field == "col_kind"
    r = parse_report({"kind": " harm ", "killed": "2", "damage": " roof "}, 48.0, 37.8)
    assert r == MonitorReport("harm", killed=2, damage="roof")


@pytest.mark.parametrize(("values", "field", "why"), [
    ({"kind": "fire", "bearing_deg": "360"}, "bearing_deg", "360"),
    ({"kind": "fire", "bearing_deg": "-0.5"}, "bearing_deg", "outside"),
    ({"kind": "fire", "bearing_deg": "10", "bearing_err_deg": "0"}, "bearing_err_deg", "0"),
    ({"kind": "fire", "bearing_deg": "10", "bearing_err_deg": "90.5"}, "bearing_err_deg", "90"),
    ({"kind": "fire", "bearing_err_deg": "5"}, "bearing_err_deg", "without a bearing"),
    ({"kind": "fire", "distance_min_km": "6", "distance_max_km": "5"}, "distance_min_km",
     "more than"),
    ({"kind": "fire", "distance_min_km": "-1"}, "distance_min_km", "outside"),
    ({"kind": "volley"}, "kind", "not one of"),
    ({"kind": "fire", "direction": "sideways"}, "direction", "not one of"),
    ({"kind": "sighting", "direction": "impact"}, "direction", "fire reports"),
    ({"kind": "fire", "hazard_type": "mine"}, "hazard_type", "hazard reports"),
    ({"kind": "fire", "weapon_type": "2A66"}, "weapon_type", "did you mean '2A65'"),
    ({"kind": "fire", "observer_lat": "48.1"}, "observer_lon", "both"),
    ({"kind": "fire", "observer_uncertainty_m": "5"}, "observer_uncertainty_m", "without"),
    ({"kind": "fire", "distance_max_km": "5", "observer_lat": "48.6", "observer_lon": "37.8"},
     "observer_lat", r"distance_max_km \+ 50 km"),
    ({"kind": "fire", "observer_lat": "49.0", "observer_lon": "37.8"}, "observer_lat",
     "100 km"),
    ({"kind": "harm", "killed": "1.5"}, "killed", "whole"),
    ({"kind": "sighting", "storage_present": "maybe"}, "storage_present", "not one of"),
    ({"kind": "restriction", "restriction_type": "rain"}, "restriction_type", "not one of"),
    ({"kind": "hazard", "hazard_type": "ied"}, "hazard_type", "not one of"),
    ({"kind": "sighting", "in_zone": "a\x01b"}, "in_zone", "control character"),
])
def test_bad_report_values(values: dict[str, str], field: str, why: str) -> None:
    with pytest.raises(FieldError, match=why) as exc:
        parse_report(values, 48.0, 37.8)
    assert exc.value.field == field


def test_the_observer_band_rule_allows_a_near_observer() -> None:
    r = parse_report({"kind": "fire", "distance_max_km": "5", "observer_lat": "48.4",
                      "observer_lon": "37.8"}, 48.0, 37.8)  # 44 km < 5 + 50
    assert r is not None and r.observer_lat == 48.4
    assert parse_report({"kind": "fire", "observer_lat": "48.85", "observer_lon": "37.8"},
                        48.0, 37.8) is not None  # 95 km < 100 with no band


# -- import through the CLI: the bad row refused with file, line and field ------------------

@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _import(runner: CliRunner, tmp_path: Path, rows: list[str], *args: str,
            header: str = HEADER) -> tuple[Any, Path, str]:
    p = tmp_path / "feed.csv"
    p.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    db = str(tmp_path / "t.db")
    r = runner.invoke(main, ["import", str(p), "--db", db, *args])
    return r, p, db


def _landed(db: str) -> list[Observation]:
    with open_store(db) as store:
        return list(store.observations(ObservationFilter(), OWNER))


BAD_ROWS = {
    "bearing_deg": GOOD.replace(",135,", ",360,"),
    "bearing_err_deg": GOOD.replace(",11.25,", ",0,"),
    "distance_min_km": GOOD.replace(",3,5,", ",6,5,"),
    "kind": GOOD.replace(",fire,", ",volley,"),
    "direction": GOOD.replace(",outgoing,", ",sideways,"),
    "weapon_type": GOOD.replace(",2A65", ",2A66"),
    "observer_lat": GOOD.replace(",48.02,", ",48.9,"),
}


@pytest.mark.parametrize("field", [*BAD_ROWS, "negative", "non-fire", "no band"])
def test_import_refuses_the_bad_row_and_keeps_the_good(runner: CliRunner, tmp_path: Path,
                                                       field: str) -> None:
    bad = {"negative": GOOD.replace(",3,5,", ",-1,5,"),
           "non-fire": GOOD.replace(",fire,outgoing,", ",sighting,outgoing,"),
           "no band": GOOD.replace(",3,5,48.02,", ",,,48.95,")}.get(field, BAD_ROWS.get(field))
    named = {"negative": "distance_min_km", "non-fire": "direction",
             "no band": "observer_lat"}.get(field, field)
    r, p, db = _import(runner, tmp_path, [GOOD, str(bad)])
    assert r.exit_code == 0, r.output
    assert "imported 1, duplicates 0, conflicts 0, rejected 1" in r.output
    assert f"{p}:3: {named}:" in r.output
    (got,) = _landed(db)
    assert got.source_line == 2 and got.weapon_class == "artillery_ge100"
    assert got.report == MonitorReport("fire", "outgoing", 135.0, 11.25, 3.0, 5.0, 48.02, 37.78,
                                       weapon_type="2A65")


def test_map_reaches_every_report_field(runner: CliRunner, tmp_path: Path) -> None:
    assert set(REPORT_FIELDS) <= set(CSV_FIELDS)
    assert parse_mapping([f"{f}=Col {f}" for f in REPORT_FIELDS]) == {
        f: f"Col {f}" for f in REPORT_FIELDS}
    header = "when,lat,lon,Type,Dir,Brg,Err,Who"
    row = "2021-08-30T10:00:00Z,48.0,37.8,fire,impact,270.5,5.625,2S1"
    r, p, db = _import(runner, tmp_path, [row, row.replace(",270.5,", ",400,")], "--map",
                       "time=when", "--map", "kind=Type", "--map", "direction=Dir", "--map",
                       "bearing_deg=Brg", "--map", "bearing_err_deg=Err", "--map",
                       "weapon_type=Who", header=header)
    assert r.exit_code == 0, r.output
    assert f"{p}:3: Brg:" in r.output  # the refused field is named as the file names it
    (got,) = _landed(db)
    assert got.report == MonitorReport("fire", "impact", 270.5, 5.625, weapon_type="2S1")
    assert got.weapon_class == "artillery_ge100"


def test_every_kind_imports_and_exports(runner: CliRunner, tmp_path: Path) -> None:
    header = "time,lat,lon," + ",".join(REPORT_FIELDS)
    reports = [
        MonitorReport("fire", "impact", duration_s=30, crater_bearing_deg=80.0,
                      crater_bearing_err_deg=10.0),
        MonitorReport("sighting", weapon_type="T-72", in_zone="withdrawal_line",
                      storage_site="site 7", storage_present="absent"),
        MonitorReport("restriction", restricted_by="RUS", restriction_type="uav_jamming",
                      delay_min=45),
        MonitorReport("harm", killed=1, injured=2, damage="house, roof", corroboration="=visit"),
        MonitorReport("hazard", hazard_type="uxo", observer_lat=48.01, observer_lon=37.81,
                      observer_uncertainty_m=10.0),
    ]
    rows = []
    for i, rep in enumerate(reports):
        cells = ["" if v is None else str(v) for v in (getattr(rep, f) for f in REPORT_FIELDS)]
        rows.append(f"2021-08-30T10:0{i}:00Z,48.0,37.8," + ",".join(
            f'"{c}"' if "," in c else c for c in cells))
    r, _, db = _import(runner, tmp_path, rows, header=header)
    assert r.exit_code == 0 and "imported 5" in r.output, r.output
    got = _landed(db)
    assert [o.report for o in got] == reports
    assert got[1].weapon_class == "tank"
    out = tmp_path / "out.csv"
    assert runner.invoke(main, ["export", "--db", db, "--format", "csv", "-o", str(out)]
                         ).exit_code == 0
    assert [o.report for o in read_csv_mapped(out) if isinstance(o, Observation)] == reports


# -- round trips: any valid report survives CSV, GeoJSON and CoT ---------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=1,
                max_size=20).map(str.strip).filter(bool)
_ANGLE = st.floats(0.0, 360.0, exclude_max=True, allow_nan=False)
_ERR = st.floats(0.0, 90.0, exclude_min=True, allow_nan=False)


@st.composite
def monitored(draw: st.DrawFn) -> Observation:
    """An observation carrying any valid monitor's report."""
    lat = draw(st.floats(-60.0, 60.0))
    lon = draw(st.floats(-170.0, 170.0))

    def opt(s: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | s)

    kind = draw(st.sampled_from(REPORT_KINDS))
    f: dict[str, Any] = {"kind": kind, "bearing_deg": opt(_ANGLE)}
    f["bearing_err_deg"] = opt(_ERR) if f["bearing_deg"] is not None else None
    lo, hi = sorted(draw(st.lists(st.floats(0.0, 500.0), min_size=2, max_size=2)))
    f["distance_min_km"], f["distance_max_km"] = opt(st.just(lo)), opt(st.just(hi))
    if draw(st.booleans()):  # within 47 km: inside every allowance
        f["observer_lat"] = lat + draw(st.floats(-0.3, 0.3))
        f["observer_lon"] = lon + draw(st.floats(-0.3, 0.3))
        f["observer_uncertainty_m"] = opt(st.floats(0.0, 1e5))
    f["weapon_type"] = opt(st.sampled_from(sorted(weapon_types())))
    own = {"fire": {"direction": st.sampled_from(FIRE_DIRECTIONS),
                    "duration_s": st.integers(0, 86_400), "crater_bearing_deg": _ANGLE},
           "sighting": {"in_zone": _TEXT, "storage_site": _TEXT,
                        "storage_present": st.sampled_from(STORAGE_STATES)},
           "restriction": {"restricted_by": _TEXT, "delay_min": st.integers(0, 10_000),
                           "restriction_type": st.sampled_from(RESTRICTION_TYPES)},
           "harm": {"killed": st.integers(0, 500), "injured": st.integers(0, 500),
                    "damage": _TEXT, "corroboration": _TEXT},
           "hazard": {"hazard_type": st.sampled_from(HAZARD_TYPES)}}[kind]
    assert set(own) <= set(KIND_FIELDS[kind])
    f.update({name: opt(s) for name, s in own.items()})
    if f.get("crater_bearing_deg") is not None:
        f["crater_bearing_err_deg"] = opt(_ERR)
    report = MonitorReport(**f)
    wt = report.weapon_type
    wc = weapon_types()[wt].weapon_class if wt else draw(st.sampled_from(WEAPON_CLASSES))
    return Observation(source="patrol 3", how_known="seen", t_start=T0, t_end=T0,
                       time_precision_s=1, lat=lat, lon=lon, uncertainty_m=None,
                       category="shelling", weapon_class=wc, source_ref="r1", report=report)


ROUND_TRIP = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(monitored())
def test_round_trip_csv(o: Observation) -> None:
    check_writable(o)
    buf = io.StringIO()
    write_csv([o], buf)
    (back,) = _read_back(buf.getvalue(), ".csv", read_csv_mapped)
    assert back.report == o.report and back.weapon_class == o.weapon_class


@ROUND_TRIP
@given(monitored())
def test_round_trip_geojson(o: Observation) -> None:
    buf = io.StringIO()
    write_geojson([o], buf)
    (back,) = _read_back(buf.getvalue(), ".geojson", read_geojson)
    assert back.report == o.report and back.weapon_class == o.weapon_class


def cot_event(o: Observation) -> bytes:
    """A CoT event for an observation (no writer of observations as CoT ships)."""
    ev = ET.Element("event", version="2.0", uid="OP-7", type="b-m-p-s-m", how="h-e",
                    time="2021-08-30T10:00:00Z", start="2021-08-30T10:00:00Z",
                    stale="2021-08-30T11:00:00Z")
    ET.SubElement(ev, "point", lat=repr(o.lat), lon=repr(o.lon), hae="0", ce="10",
                  le="9999999")
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "truceguard", category=o.category, weapon_class=o.weapon_class,
                  **report_attributes(o.report))
    return ET.tostring(ev)


@ROUND_TRIP
@given(monitored())
def test_round_trip_cot(o: Observation) -> None:
    back = parse_cot_event(cot_event(o))
    assert back.report == o.report and back.weapon_class == o.weapon_class


def _read_back(text: str, suffix: str, reader: Callable[..., Iterator[Any]]
               ) -> list[Observation]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / f"x{suffix}"
        p.write_text(text, encoding="utf-8")
        got = list(reader(p))
    assert all(isinstance(g, Observation) for g in got), got
    return got


def test_cot_example_and_its_errors() -> None:
    xml = (b'<event version="2.0" uid="OP-7" type="b-m-p-s-m" how="h-e" '
           b'time="2021-08-30T10:00:00Z"><point lat="48.0" lon="37.8" ce="10"/><detail>'
           b'<truceguard kind="fire" direction="outgoing" bearing_deg="135" '
           b'bearing_err_deg="11.25" distance_min_km="3" distance_max_km="5" '
           b'observer_lat="48.02" observer_lon="37.78" weapon_type="2A65"/></detail></event>')
    o = parse_cot_event(xml)
    assert o.report == MonitorReport("fire", "outgoing", 135.0, 11.25, 3.0, 5.0, 48.02, 37.78,
                                     weapon_type="2A65")
    assert o.weapon_class == "artillery_ge100"  # from the weapon type, over the CoT type's
    with pytest.raises(RowError) as exc:
        parse_cot_event(xml.replace(b'"135"', b'"361"'), source_file="f.cot")
    assert exc.value.field == "detail.truceguard.bearing_deg"
    with pytest.raises(RowError) as exc:
        parse_cot_event(xml.replace(b'kind="fire"', b'kind="fire" weapon_class="tank"'))
    assert exc.value.field == "detail.truceguard.weapon_type"


def test_geojson_numbers_are_numbers(tmp_path: Path) -> None:
    feat = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.8, 48.0]},
            "properties": {"time": "2021-08-30T10:00:00Z", "kind": "fire",
                           "bearing_deg": "135"}}
    p = tmp_path / "f.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
    (err,) = read_geojson(p)
    assert isinstance(err, RowError) and err.field == "bearing_deg"
    feat["properties"]["bearing_deg"] = 135  # type: ignore[index]
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
    (o,) = read_geojson(p)
    assert isinstance(o, Observation) and o.report == MonitorReport("fire", bearing_deg=135.0)
    assert "kind" not in o.attributes


def test_writers_refuse_a_report_the_readers_would() -> None:
    o = Observation("s", "seen", T0, T0, 1, 48.0, 37.8, None, "shelling",
                    report=MonitorReport("sighting", direction="impact"))
    with pytest.raises(InputError, match="direction"):
        check_writable(o)
    o.report = MonitorReport("fire", weapon_type="BM-21")
    o.weapon_class = "tank"
    with pytest.raises(InputError, match="weapon_type"):
        check_writable(o)


# -- the JSON shape and the API ------------------------------------------------------------

def test_record_dict_nests_the_report() -> None:
    o = Observation("s", "seen", T0, T0, 1, 48.0, 37.8, None, "shelling",
                    report=MonitorReport("fire", bearing_deg=90.0))
    d = record_dict(o)
    assert d["report"]["kind"] == "fire" and d["report"]["bearing_deg"] == 90.0
    assert set(d["report"]) == set(REPORT_FIELDS)
    assert record_dict(Observation("s", "seen", T0, T0, 1, 48.0, 37.8, None, "x"))["report"] \
        is None
    json.dumps(d)


def test_api_takes_and_gives_reports(tmp_path: Path) -> None:
    """POST a CSV body with a report (a bad row refused by field), GET it back nested."""
    db = str(tmp_path / "api.db")
    tokens = make_users(db)
    with running(db, tmp_path / "server.log") as srv:
        srv.tokens = tokens
        with srv.client("ukr") as c:
            body = f"{HEADER}\n{GOOD}\n{BAD_ROWS['direction']}\n"
            got = c.post("/api/v1/observations", content=body.encode()).json()
            assert got["imported"] == 1 and got["rejected"] == 1, got
            assert got["errors"][0]["field"] == "direction" and got["errors"][0]["line"] == 3
            items = c.get("/api/v1/observations").json()["items"]
            assert items[0]["report"]["weapon_type"] == "2A65"
            assert items[0]["report"]["bearing_deg"] == 135.0
            assert items[0]["weapon_class"] == "artillery_ge100"
            one = c.get(f"/api/v1/observations/{items[0]['obs_id']}").json()["item"]
            assert one["report"] == items[0]["report"]


# -- the store -----------------------------------------------------------------------------

def _obs(ref: str, report: MonitorReport | None) -> Observation:
    return Observation("patrol 3", "seen", T0, T0, 1, 48.0, 37.8, 50.0, "shelling",
                       weapon_class="artillery_ge100", source_ref=ref, raw=f"raw {ref}",
                       report=report)


FIRE = MonitorReport("fire", "outgoing", 135.0, 11.25, 3.0, 5.0, 48.02, 37.78, 25.0, "2A65",
                     duration_s=40, crater_bearing_deg=300.0, crater_bearing_err_deg=15.0)


def test_store_keeps_reports_and_they_decide_duplicates(new_store: Callable[[], Store]
                                                        ) -> None:
    store = new_store()
    harm = MonitorReport("harm", killed=0, injured=3, damage="school", corroboration="photos")
    with store.transaction():
        n = store.add_observations([_obs("a", FIRE), _obs("b", harm), _obs("c", None)],
                                   reader="csv")
    assert n.inserted == 3
    back = {o.source_ref: o for o in store.observations(ObservationFilter(), OWNER)}
    assert back["a"].report == FIRE and back["b"].report == harm and back["c"].report is None
    with store.transaction():
        again = store.add_observations([_obs("a", FIRE), _obs("b", harm)], reader="csv")
    assert again.duplicates == 2
    other = MonitorReport("fire", "impact", 135.0, 11.25, 3.0, 5.0, 48.02, 37.78, 25.0, "2A65")
    with store.transaction():
        changed = store.add_observations([_obs("a", other), _obs("c", harm)], reader="csv")
    assert changed.conflicts == 2 and changed.inserted == 0
    store.close()


def test_columns_carry_reports_and_leave_them_out() -> None:
    recs = [_obs("a", FIRE), _obs("c", None)]
    cols = ObservationColumns.from_observations(recs)
    assert set(REPORT_COLUMNS) <= set(FIELDS)
    assert cols.observations() == recs
    assert pickle.loads(pickle.dumps(cols)).observations() == recs
    bare = ObservationColumns({k: v for k, v in cols.columns.items()
                               if k not in FIELDS[FIELDS.index("kind"):]})
    assert all(o.report is None for o in bare.observations())
    assert ObservationColumns.concat([cols, bare]).observations()[:2] == recs


class _Raw:
    """A connection outside the store, to build a database of an older schema."""

    def __init__(self, where: str) -> None:
        self.pg = where.startswith("postgresql")
        self.conn: Any = (psycopg.connect(where, autocommit=True) if self.pg
                          else sqlite3.connect(where, isolation_level=None))

    def __call__(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(sql.replace("?", "%s") if self.pg else sql, params)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []


def test_a_version_7_database_migrates(backend: str, location: Callable[[], str]) -> None:
    """Migration 8 adds the report's columns to a store of version 7; its rows have none."""
    where = location()
    if not where.startswith("postgresql"):
        Path(where).touch()
    raw = _Raw(where)
    for version in range(1, 8):
        migration = MIGRATIONS[version - 1]
        for statement in migration.statements(backend):
            raw(statement)
        if migration.python is not None:
            migration.python(raw)
        raw("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    o = _obs("old", None)
    raw("INSERT INTO observations (dedup_key, source, how_known, t_start, t_end, "
        "time_precision_s, lat, lon, uncertainty_m, category, weapon_class, count, text, "
        "origin, source_ref, raw, raw_sha256, source_file, source_line, attributes, reader) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ("csv|" + o.dedup_key, o.source, o.how_known, o.t_start, o.t_end, o.time_precision_s,
         o.lat, o.lon, o.uncertainty_m, o.category, o.weapon_class, o.count, o.text, o.origin,
         o.source_ref, o.raw, o.raw_sha256, "", 0, "", "csv"))
    raw.conn.close()
    store = open_store(where)
    assert store.schema_version() == len(MIGRATIONS) >= 8
    (back,) = store.observations(ObservationFilter(), OWNER)
    assert back.report is None and back.source_ref == "old"
    with store.transaction():
        assert store.add_observations([_obs("old", None)], reader="csv").duplicates == 1
        assert store.add_observations([_obs("new", FIRE)], reader="csv").inserted == 1
    assert {o.source_ref: o.report for o in store.observations(ObservationFilter(), OWNER)
            } == {"old": None, "new": FIRE}
    store.close()
