"""The GeoJSON reader and writer: realistic features, bad features, whole-file refusals, and a
hypothesis round trip (write -> read -> the same fields)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from truceguard.errors import FormatError, RowError
from truceguard.io.base import sha256_hex
from truceguard.io.geojson import read_geojson, write_geojson
from truceguard.io.timeparse import T_MAX, T_MIN
from truceguard.io.values import MAX_COUNT, MAX_UNCERTAINTY_M, MAX_WINDOW_S
from truceguard.model import CATEGORIES, HOW_KNOWN, WEAPON_CLASSES, Observation

DAY = 86_400


def ts(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp())


def read(path: Path, **kw: object) -> tuple[list[Observation], list[RowError]]:
    items = list(read_geojson(path, **kw))
    return (
        [i for i in items if isinstance(i, Observation)],
        [i for i in items if isinstance(i, RowError)],
    )


# A monitoring team's export, pretty-printed the way QGIS and geojson.io write it.
PATROL = """{
  "type": "FeatureCollection",
  "name": "patrol_2024-03-02",
  "crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:OGC:1.3:CRS84" } },
  "features": [
    {
      "type": "Feature",
      "id": "P3-0042",
      "geometry": { "type": "Point", "coordinates": [ 37.9431, 48.0452 ] },
      "properties": {
        "time": "2024-03-02T06:40:00Z",
        "category": "explosion",
        "weapon_class": "artillery_ge100",
        "count": 4,
        "text": "4 undetermined explosions 3-5 km SE of the patrol position",
        "source": "patrol 3",
        "how_known": "heard",
        "uncertainty_m": 3000,
        "heard_bearing_deg": 135
      }
    },
    {
      "type": "Feature",
      "geometry": { "type": "Point", "coordinates": [ 37.801, 48.133, 210.0 ] },
      "properties": {
        "observed_at": "2024-03-02",
        "category": "thermobaric",
        "weapon_class": "TOS-1",
        "text": "Вибухи біля Авдіївки",
        "releasability": "REL TO UK, FR"
      }
    },
    {
      "type": "Feature",
      "geometry": {
        "type": "LineString",
        "coordinates": [ [ 37.7, 48.0 ], [ 37.8, 48.1 ] ]
      },
      "properties": { "time": "2024-03-02T07:00:00Z" }
    },
    { "type": "Feature",
      "geometry": { "type": "Point", "coordinates": [ 37.6, 48.2 ] },
      "properties": { "text": "no time given" } },
    { "type": "Feature", "id": 17,
      "geometry": { "type": "Point", "coordinates": [ 37.6, 48.2 ] },
      "properties": { "date": "2024-03-01", "t_end": "2024-03-02", "category": "shots" } }
  ]
}
"""


def test_realistic_collection(tmp_path: Path) -> None:
    path = tmp_path / "patrol.geojson"
    path.write_text(PATROL, encoding="utf-8")
    good, bad = read(path)
    assert [g.source_line for g in good] == [6, 22, 44]
    assert [(e.line, e.field) for e in bad] == [(33, "geometry"), (41, "time")]
    assert "LineString" in bad[0].reason
    assert str(bad[1]).startswith(f"{path}:41: time: missing")

    heard, flashes, shots = good
    assert heard.source_ref == "P3-0042"
    assert heard.t_start == heard.t_end == ts(2024, 3, 2, 6, 40)
    assert heard.time_precision_s == 1
    assert (heard.lat, heard.lon) == (48.0452, 37.9431)
    assert (heard.category, heard.weapon_class, heard.count) == ("explosion", "artillery_ge100", 4)
    assert heard.how_known == "heard" and heard.source == "patrol 3"
    assert heard.uncertainty_m == 3000.0
    assert heard.attributes == {"heard_bearing_deg": 135}
    assert heard.releasability == "PUBLIC"

    # a bare date is a whole day; unknown vocabulary is kept, not lost
    assert flashes.t_start == ts(2024, 3, 2) and flashes.t_end == ts(2024, 3, 3) - 1
    assert flashes.time_precision_s == DAY
    assert flashes.category == "other" and flashes.attributes["category_original"] == "thermobaric"
    assert flashes.weapon_class == "unknown"
    assert flashes.attributes["weapon_class_original"] == "TOS-1"
    assert flashes.text == "Вибухи біля Авдіївки"
    assert flashes.releasability == "REL TO FRA, GBR"
    assert flashes.source == "geojson:patrol.geojson"
    assert flashes.how_known == "open_source"
    assert flashes.uncertainty_m is None

    assert shots.source_ref == "17"
    assert shots.t_start == ts(2024, 3, 1) and shots.t_end == ts(2024, 3, 3) - 1
    assert shots.time_precision_s == 2 * DAY

    # raw is each feature's own text, verbatim from the file
    for g in good:
        assert g.raw in PATROL and g.raw.startswith("{") and g.raw.endswith("}")
        assert json.loads(g.raw)["type"] == "Feature"
        assert g.raw_sha256 == sha256_hex(g.raw)
        assert g.source_file == str(path)
    assert PATROL.splitlines()[heard.source_line - 1].strip() == "{"
    assert bad[0].raw.count("LineString") == 1


def test_reading_twice_gives_the_same_raw_and_digests(tmp_path: Path) -> None:
    path = tmp_path / "p.geojson"
    path.write_text(PATROL, encoding="utf-8")
    a, _ = read(path)
    b, _ = read(path)
    assert [(x.raw, x.raw_sha256) for x in a] == [(y.raw, y.raw_sha256) for y in b]


def test_compact_single_line_file(tmp_path: Path) -> None:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [37.0 + i / 10, 48.0]},
            "properties": {"time": 1709362800 + i, "category": "shots"},
        }
        for i in range(3)
    ]
    text = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":"))
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    good, bad = read(path)
    assert bad == [] and len(good) == 3
    assert all(g.source_line == 1 for g in good)
    assert [g.t_start for g in good] == [1709362800, 1709362801, 1709362802]
    assert [json.loads(g.raw) for g in good] == feats


def test_a_single_feature_document(tmp_path: Path) -> None:
    path = tmp_path / "one.geojson"
    path.write_text(
        '\n{"type": "Feature", "geometry": {"type": "Point", "coordinates": [30.5, 50.4]},'
        ' "properties": {"time": "2024-01-01T12:00:00Z"}}\n',
        encoding="utf-8",
    )
    good, bad = read(path)
    assert bad == [] and len(good) == 1 and good[0].source_line == 2


def test_mapping_overrides_property_names(tmp_path: Path) -> None:
    path = tmp_path / "m.geojson"
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [36.2, 49.9]},
                "properties": {
                    "when": "2024-05-01T10:00:00Z",
                    "time": "not used",
                    "kind": "drone",
                    "ref": "R-1",
                    "note": "FPV",
                },
            }
        ],
    }
    path.write_text(json.dumps(fc), encoding="utf-8")
    good, bad = read(
        path, mapping={"time": "when", "category": "kind", "source_ref": "ref", "text": "note"}
    )
    assert bad == []
    (g,) = good
    assert g.t_start == ts(2024, 5, 1, 10)
    assert (g.category, g.source_ref, g.text) == ("drone", "R-1", "FPV")
    assert g.attributes == {"time": "not used"}
    with pytest.raises(FormatError, match="unknown field"):
        list(read_geojson(path, mapping={"colour": "c"}))


def feature(
    props: dict[str, object], coords: tuple[object, ...] = (37.5, 48.0)
) -> dict[str, object]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(coords)},
        "properties": props,
    }


def test_bad_features_name_file_line_and_field(tmp_path: Path) -> None:
    t = "2024-03-02T06:40:00Z"
    feats: list[object] = [
        feature({"time": t, "source_ref": "ok1"}),
        feature({"time": t}, (37.5, 91.0)),
        feature({"time": t}, (-181.0, 48.0)),
        feature({"time": t}, ("37.5", 48.0)),
        feature({"time": "02/30/2024"}),
        feature({"time": "last Tuesday"}),
        feature({"time": t, "t_end": "2024-03-01T00:00:00Z"}),
        feature({"time": t, "count": -1}),
        feature({"time": t, "count": 2.5}),
        feature({"time": t, "uncertainty_m": -5}),
        feature({"time": t, "how_known": "rumour"}),
        feature({"time": t, "releasability": "SECRET"}),
        {"type": "Feature", "geometry": None, "properties": {"time": t}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}},
        {"type": "Point", "coordinates": [37.5, 48.0]},
        "not a feature",
        feature({"time": t, "text": {"nested": True}}),
        feature({"time": t}, (37.5,)),
        feature({"time": t, "source_ref": "ok2"}),
    ]
    path = tmp_path / "bad.geojson"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"type": "FeatureCollection", "features": [\n')
        fh.write(",\n".join(json.dumps(f) for f in feats))
        fh.write("\n]}\n")
    good, bad = read(path)
    assert [g.source_ref for g in good] == ["ok1", "ok2"]
    assert [g.source_line for g in good] == [2, 20]
    assert [(e.line, e.field) for e in bad] == [
        (3, "latitude"),
        (4, "longitude"),
        (5, "longitude"),
        (6, "time"),
        (7, "time"),
        (8, "t_end"),
        (9, "count"),
        (10, "count"),
        (11, "uncertainty_m"),
        (12, "how_known"),
        (13, "releasability"),
        (14, "geometry"),
        (15, "geometry"),
        (16, "type"),
        (17, "feature"),
        (18, "text"),
        (19, "coordinates"),
    ]
    assert str(bad[0]) == f"{path}:3: latitude: 91.0 is outside -90..90"
    assert "Polygon" in bad[12].reason
    assert all(e.raw for e in bad)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("   \n", "expected a GeoJSON object"),
        ("[1, 2]", "expected a GeoJSON object"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature",', "not valid JSON"),
        ('{"type": "FeatureCollection", "features": [] } trailing', "end of the document"),
        ('{"type": "Topology", "objects": {}}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection"}', "no 'features' array"),
        ('{"type": "FeatureCollection", "features": {}}', "no 'features' array"),
        ('{"type": "FeatureCollection" "features": []}', "expected ',' or '}'"),
    ],
)
def test_unreadable_documents_are_refused_whole(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "x.geojson"
    path.write_text(text, encoding="utf-8")
    it = read_geojson(path)
    with pytest.raises(FormatError, match=match):
        next(it)


def test_syntax_error_in_a_feature_refuses_that_feature_alone(tmp_path: Path) -> None:
    path = tmp_path / "x.geojson"
    path.write_text(PATROL.replace('"count": 4,', '"count": 4,,'), encoding="utf-8")
    good, bad = read(path)
    assert [g.source_line for g in good] == [22, 44]
    assert [(e.line, e.field) for e in bad] == [(6, "feature"), (33, "geometry"), (41, "time")]
    assert "not valid JSON" in bad[0].reason and "(line 14," in bad[0].reason
    # two features without a comma between them are one bad element, named, not a lost file
    path.write_text('{"type": "FeatureCollection", "features": [1 2]}', encoding="utf-8")
    good, bad = read(path)
    assert good == [] and [(e.line, e.field) for e in bad] == [(1, "feature")]
    assert "not valid JSON" in bad[0].reason


def test_an_empty_collection_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "e.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    assert list(read_geojson(path)) == []


def test_several_megabyte_feature_is_refused_alone(tmp_path: Path) -> None:
    t = "2024-03-02T06:40:00Z"
    feats = [
        feature({"time": t, "source_ref": "a"}),
        feature({"time": t, "source_ref": "huge", "text": "x" * (5 << 20)}),
        feature({"time": t, "source_ref": "b"}),
    ]
    path = tmp_path / "huge.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [\n'
        + ",\n".join(json.dumps(f) for f in feats)
        + "\n]}",
        encoding="utf-8",
    )
    good, bad = read(path)
    assert [g.source_ref for g in good] == ["a", "b"]
    assert (bad[0].line, bad[0].field) == (3, "feature")
    assert "over the limit" in bad[0].reason and len(bad[0].raw) <= 256


def test_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "cp.geojson"
    fc = {
        "type": "FeatureCollection",
        "features": [feature({"time": "2024-01-01", "text": "Mar’inka"})],
    }
    path.write_bytes(json.dumps(fc, ensure_ascii=False, indent=1).encode("cp1252"))
    good, bad = read(path, encoding="utf-8")  # strict: the feature is refused, naming the byte
    assert good == [] and [(e.line, e.field) for e in bad] == [(4, "feature")]
    assert "not valid utf-8: byte 0x92" in bad[0].reason
    good, bad = read(path)  # auto: the spreadsheet encoding is recognised
    assert bad == [] and good[0].text == "Mar’inka"


def test_writer_traces_back_to_the_raw_input() -> None:
    obs = Observation(
        source="ACLED",
        how_known="open_source",
        t_start=ts(2024, 1, 15),
        t_end=ts(2024, 1, 16) - 1,
        time_precision_s=DAY,
        lat=48.3976,
        lon=37.847,
        uncertainty_m=2000.0,
        category="shelling",
        source_ref="UKR100001",
        raw="UKR100001,15 January 2024,...",
        raw_sha256=sha256_hex("UKR100001,15 January 2024,..."),
        obs_id=12,
        incident_id=3,
    )
    buf = io.StringIO()
    assert write_geojson([obs, obs], buf) == 2
    doc = json.loads(buf.getvalue())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2
    f = doc["features"][0]
    assert f["id"] == "UKR100001"
    assert f["geometry"] == {"type": "Point", "coordinates": [37.847, 48.3976]}
    p = f["properties"]
    assert p["obs_id"] == 12 and p["incident_id"] == 3
    assert p["raw_sha256"] == obs.raw_sha256
    assert (p["source"], p["source_ref"]) == ("ACLED", "UKR100001")
    assert p["time"] == "2024-01-15T00:00:00Z"
    empty = io.StringIO()
    assert write_geojson([], empty) == 0
    assert json.loads(empty.getvalue()) == {"type": "FeatureCollection", "features": []}


# --- the round trip ---------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    _text,
)
_attr_key = _text.filter(
    lambda k: (
        not k.startswith("exported_") and k not in ("category_original", "weapon_class_original")
    )
)


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    t0 = draw(st.integers(T_MIN, T_MAX))  # the years 1000 .. 9999
    return Observation(
        source=draw(_text.filter(bool)),
        how_known=draw(st.sampled_from(HOW_KNOWN)),
        t_start=t0,
        t_end=draw(st.integers(t0, T_MAX)),
        time_precision_s=draw(st.integers(1, MAX_WINDOW_S)),
        lat=draw(st.floats(-90, 90, allow_nan=False)),
        lon=draw(st.floats(-180, 180, allow_nan=False)),
        uncertainty_m=draw(st.none() | st.floats(0, MAX_UNCERTAINTY_M, allow_nan=False)),
        category=draw(st.sampled_from(CATEGORIES)),
        weapon_class=draw(st.sampled_from(WEAPON_CLASSES)),
        count=draw(st.integers(0, MAX_COUNT)),
        text=draw(_text),
        origin=draw(_text),
        source_ref=draw(_text),
        releasability=draw(st.sampled_from(["PUBLIC", "REL TO GBR", "REL TO FRA, GBR, POL",
                                            "OWNER ONLY"])),
        raw=draw(_text),
        raw_sha256=draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
        attributes=draw(st.dictionaries(_attr_key, _json_value, max_size=4)),
        obs_id=draw(st.none() | st.integers(1, 10**9)),
        incident_id=draw(st.none() | st.integers(1, 10**9)),
    )


FIELDS = [
    "source",
    "how_known",
    "t_start",
    "t_end",
    "time_precision_s",
    "lat",
    "lon",
    "uncertainty_m",
    "category",
    "weapon_class",
    "count",
    "text",
    "origin",
    "source_ref",
    "releasability",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(obs=st.lists(observations(), max_size=5))
def test_write_then_read_gives_the_same_fields(tmp_path: Path, obs: list[Observation]) -> None:
    path = tmp_path / "rt.geojson"
    with open(path, "w", encoding="utf-8") as fh:
        assert write_geojson(obs, fh) == len(obs)
    back = list(read_geojson(path))
    assert all(isinstance(b, Observation) for b in back), back
    assert len(back) == len(obs)
    for a, b in zip(obs, back, strict=True):
        assert isinstance(b, Observation)
        for name in FIELDS:
            assert getattr(b, name) == getattr(a, name), name
        plain = {k: v for k, v in b.attributes.items() if not k.startswith("exported_")}
        assert plain == a.attributes
        # provenance: the feature says which stored record and which raw input it came from
        assert b.attributes["exported_raw_sha256"] == a.raw_sha256
        assert b.attributes.get("exported_obs_id") == a.obs_id
        assert b.attributes.get("exported_incident_id") == a.incident_id
        assert b.raw_sha256 == sha256_hex(b.raw)
        assert b.obs_id is None and b.incident_id is None
