"""GeoPackage and KML export (``io.gis``): every field back as written, the marking in the file
and in every feature, empty listings, refusals; and a hypothesis round trip of observations
through GeoPackage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from truceguard.errors import InputError, MarkingError
from truceguard.io.gis import KINDS, columns, read_gis_records, write_gpkg, write_kml
from truceguard.io.records import record_dict
from truceguard.io.timeparse import T_MAX, T_MIN
from truceguard.io.values import MAX_COUNT, MAX_UNCERTAINTY_M, MAX_WINDOW_S
from truceguard.model import (
    CATEGORIES,
    HOW_KNOWN,
    WEAPON_CLASSES,
    Incident,
    Observation,
    Violation,
)

KML_NS = "{http://www.opengis.net/kml/2.2}"


def test_gdal_reads_kml_fields() -> None:
    """The KML round trips read fields back through GDAL's LIBKML driver, which the pyogrio
    wheels the project requires (0.13 and newer) carry: fail loudly, never skip, without it."""
    assert "LIBKML" in pyogrio.list_drivers()


def observation(**over: Any) -> Observation:
    base: dict[str, Any] = dict(
        source="patrol 3", how_known="heard", t_start=1709361600, t_end=1709361659,
        time_precision_s=60, lat=-12.5, lon=37.9, uncertainty_m=None, category="explosion",
        weapon_class="mortar_120", count=3, text="Донецьк: вибух, 2 км північніше 🙂 <&>",
        origin="", releasability="REL TO FRA, GBR", raw='{"a": "b"}', raw_sha256="ab" * 32,
        source_file="in.geojson", source_line=7, attributes={"é": [1, None, 2.5]}, obs_id=42,
        incident_id=None)
    base.update(over)
    return Observation(**base)


def incident(**over: Any) -> Incident:
    base: dict[str, Any] = dict(
        incident_id=7, t_start=1709361600, t_end=1709365200, lat=48.0159, lon=37.8028,
        uncertainty_m=1234.5678901234, category="shelling", category_votes={"shelling": 2},
        weapon_class="artillery_ge100", weapon_votes={}, n_observations=2, n_sources=1,
        grade="B2", grade_reason="two reports, one source; «confirmed»",
        releasability="REL TO GBR")
    base.update(over)
    return Incident(**base)


def violation(**over: Any) -> Violation:
    base: dict[str, Any] = dict(
        violation_id=3, terms="minsk2", terms_version="2015-02-12", clause="IV.2",
        severity=2, status="new", incident_id=7, t_start=1709361600, t_end=1709365200,
        lat=48.0159, lon=37.8028, uncertainty_m=500.0, controlled_by="UA", p_side=0.97,
        signed_distance_m=-1523.25, zone="withdrawal_zone", p_location=0.8125,
        location_text="Авдіївка, 3 km NE", category="shelling", weapon_class="mlrs",
        releasability="PUBLIC")
    base.update(over)
    return Violation(**base)


RECORDS: dict[str, list[Observation | Incident | Violation]] = {
    "observations": [observation(), observation(obs_id=None, text="", uncertainty_m=25.0,
                                                attributes={}, incident_id=9, lon=-0.0001)],
    "incidents": [incident(), incident(incident_id=8, lat=-33.8688, lon=151.2093)],
    "violations": [violation(), violation(violation_id=4, status="verified", p_side=1e-9)],
}


def expected(rec: Observation | Incident | Violation) -> dict[str, Any]:
    """What a GeoPackage gives back: ``record_dict``, dicts and lists as JSON text."""
    d = record_dict(rec)
    return {k: json.dumps(v, ensure_ascii=False, sort_keys=True)
            if isinstance(v, dict | list) else v for k, v in d.items()}


def expected_kml(rec: Observation | Incident | Violation) -> dict[str, Any]:
    """What KML gives back (LIBKML reading GDAL's KML): integers as decimal text, floats to 15
    significant digits, text, '' and None as they are."""
    out: dict[str, Any] = {}
    for k, v in expected(rec).items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            out[k] = v
        elif isinstance(v, int):
            out[k] = str(v)
        else:
            out[k] = float(format(v, ".15g"))
    return out


def kml_document(path: Path) -> tuple[str, str]:
    doc = ElementTree.parse(path).getroot().find(f"{KML_NS}Document")
    return doc.findtext(f"{KML_NS}name"), doc.findtext(f"{KML_NS}description")


@pytest.mark.parametrize("layer", list(KINDS))
def test_geopackage_keeps_every_field_type_and_marking(tmp_path: Path, layer: str) -> None:
    recs = RECORDS[layer]
    path = tmp_path / "out.gpkg"
    assert write_gpkg(recs, path, marking="rel to gbr") == len(recs)
    rows, meta = read_gis_records(path)
    assert rows == [expected(r) for r in recs]
    assert meta["fields"] == [name for name, _ in columns(type(recs[0]))]
    assert (meta["driver"], meta["layer"], meta["crs"]) == ("GPKG", layer, "EPSG:4326")
    assert meta["points"] == [(r.lon, r.lat) for r in recs]
    assert meta["dataset_metadata"]["marking"] == "REL TO GBR"  # canonical text
    assert meta["layer_metadata"]["marking"] == "REL TO GBR"
    assert "marking: REL TO GBR" in meta["layer_metadata"]["DESCRIPTION"]
    for row, rec in zip(rows, recs, strict=True):
        assert row["releasability"] == rec.releasability
        for name, ctype in columns(type(rec)):
            want = {"int": int, "float": float, "text": str, "json": str}[ctype]
            assert row[name] is None or type(row[name]) is want, name
    assert sorted(os.listdir(tmp_path)) == ["out.gpkg"]  # no temporary file, no .aux.xml


@pytest.mark.parametrize("layer", list(KINDS))
def test_kml_keeps_text_nulls_and_fifteen_digits(tmp_path: Path, layer: str) -> None:
    recs = RECORDS[layer]
    path = tmp_path / "out.kml"
    assert write_kml(recs, path, marking="REL TO GBR") == len(recs)
    rows, meta = read_gis_records(path)
    assert rows == [expected_kml(r) for r in recs]
    assert meta["fields"] == [name for name, _ in columns(type(recs[0]))]
    assert (meta["layer"], meta["crs"]) == (layer, "EPSG:4326")
    assert meta["points"] == [(float(format(r.lon, ".15g")), float(format(r.lat, ".15g")))
                              for r in recs]
    assert kml_document(path) == (f"{layer} [REL TO GBR]", "marking: REL TO GBR")
    for desc, name, rec in zip(meta["descriptions"], meta["names"], recs, strict=True):
        assert desc.split("\n")[0] == rec.releasability
        assert desc.split("\n")[1] == name
        assert name.endswith(f": {rec.category}, {record_dict(rec)['t_start']}")
    assert sorted(os.listdir(tmp_path)) == ["out.kml"]


def test_kml_loses_what_xml_and_libkml_change(tmp_path: Path) -> None:
    o = observation(text="  padded\r\nline two  ", origin="a\rb", source_ref="", obs_id=2**62,
                    uncertainty_m=0.1 + 0.2)
    path = tmp_path / "o.kml"
    write_kml([o], path, marking="PUBLIC")
    (row,), meta = read_gis_records(path)
    assert row["text"] == "padded\nline two"  # CRLF becomes LF, the ends are trimmed
    assert row["origin"] == "a\nb"
    assert row["source_ref"] == "" and row["incident_id"] is None  # '' and null kept apart
    assert row["obs_id"] == str(2**62) and row["count"] == "3"  # integers as text
    assert row["uncertainty_m"] == 0.3 != 0.1 + 0.2  # 15 significant digits
    assert meta["names"] == [f"observation {2**62}: explosion, 2024-03-02T06:40:00Z"]


def test_gdal_kml_reader_without_libkml_keeps_names_descriptions_points(tmp_path: Path) -> None:
    path = tmp_path / "o.kml"
    write_kml(RECORDS["observations"], path, marking="REL TO FRA, GBR")
    code = ("import json, sys; from truceguard.io.gis import read_gis_records; "
            "rows, meta = read_gis_records(sys.argv[1]); "
            "print(json.dumps([rows, meta['driver'], meta['descriptions'], meta['points']]))")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code, str(path)],
                         env={**os.environ, "GDAL_SKIP": "LIBKML"}, check=True,
                         capture_output=True, text=True).stdout
    rows, driver, descriptions, points = json.loads(out)
    assert driver == "KML"
    assert rows == [{}, {}]  # GDAL's own KML reader gives no record fields back
    assert [d.split("\n")[0] for d in descriptions] == ["REL TO FRA, GBR"] * 2
    assert points == [[37.9, -12.5], [-0.0001, -12.5]]


@pytest.mark.parametrize("layer", list(KINDS))
def test_an_empty_geopackage_has_the_layer_and_its_fields(tmp_path: Path, layer: str) -> None:
    path = tmp_path / "empty.gpkg"
    assert write_gpkg([], path, marking="PUBLIC", layer=layer) == 0
    rows, meta = read_gis_records(path)
    assert rows == [] and meta["points"] == []
    assert meta["layer"] == layer
    assert meta["fields"] == [name for name, _ in columns(KINDS[layer])]
    assert meta["dataset_metadata"]["marking"] == "PUBLIC"


def test_empty_lists_that_cannot_be_written_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as kml:
        write_kml(iter([]), tmp_path / "e.kml", marking="PUBLIC", layer="observations")
    assert kml.value.code == "output.empty" and "GeoPackage" in kml.value.hint
    with pytest.raises(InputError) as unknown:
        write_gpkg([], tmp_path / "e.gpkg", marking="PUBLIC")
    assert unknown.value.code == "output.unknown_kind"
    assert "observations, incidents or violations" in unknown.value.hint
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("write", [write_gpkg, write_kml])
def test_standard_output_and_bad_arguments_are_refused(tmp_path: Path, write: Any) -> None:
    with pytest.raises(InputError) as dash:
        write([observation()], "-", marking="PUBLIC")
    assert dash.value.code == "output.not_a_file" and dash.value.hint
    with pytest.raises(InputError) as mixed:
        write([observation(), incident()], tmp_path / "m", marking="PUBLIC")
    assert mixed.value.code == "output.mixed_kinds"
    with pytest.raises(InputError) as bad_layer:
        write([observation()], tmp_path / "m", marking="PUBLIC", layer="two words")
    assert bad_layer.value.code == "input.bad_layer"
    with pytest.raises(MarkingError):
        write([observation()], tmp_path / "m", marking="REL TO NARNIA")
    with pytest.raises(InputError) as folder:
        write([observation()], tmp_path / "no" / "m", marking="PUBLIC")
    assert folder.value.code == "output.no_folder"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("write", "name", "bad", "char"),
    [(write_gpkg, "o.gpkg", {"text": "cut\x00here"}, "U+0000"),
     (write_kml, "o.kml", {"raw": "bell\x07"}, "U+0007"),
     (write_kml, "o.kml", {"attributes": {"k": "\ufffe"}}, "U+FFFE"),
     (write_gpkg, "o.gpkg", {"lat": float("nan")}, "lat")])
def test_a_value_the_format_cannot_hold_leaves_the_old_file(
        tmp_path: Path, write: Any, name: str, bad: dict[str, Any], char: str) -> None:
    path = tmp_path / name
    write([observation()], path, marking="PUBLIC")
    before = path.read_bytes()
    with pytest.raises(InputError) as info:
        write([observation(), observation(obs_id=43, **bad)], path, marking="PUBLIC")
    assert info.value.code == "output.unwritable"
    assert "observation 43 cannot be written" in info.value.message
    assert char in info.value.message
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [name]


# --- the round trip ---------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                max_size=30)
_json_value = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12),
                        st.floats(allow_nan=False, allow_infinity=False), _text)


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    t0 = draw(st.integers(T_MIN, T_MAX))
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
        source_line=draw(st.integers(0, 2**53)),
        attributes=draw(st.dictionaries(_text, _json_value, max_size=4)),
        obs_id=draw(st.none() | st.integers(1, 2**53)),
        incident_id=draw(st.none() | st.integers(1, 2**53)),
    )


@settings(max_examples=25, deadline=None)
@given(obs=st.lists(observations(), max_size=5),
       marking=st.sampled_from(["PUBLIC", "REL TO FRA, GBR", "OWNER ONLY"]))
def test_observations_round_trip_through_geopackage(obs: list[Observation],
                                                    marking: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rt.gpkg"
        assert write_gpkg(obs, path, marking=marking, layer="observations") == len(obs)
        rows, meta = read_gis_records(path)
    assert rows == [expected(o) for o in obs]
    assert [json.loads(r["attributes"]) for r in rows] == [o.attributes for o in obs]
    assert meta["points"] == [(o.lon, o.lat) for o in obs]
    assert meta["dataset_metadata"] == {"marking": marking}
    assert meta["layer_metadata"]["marking"] == marking
