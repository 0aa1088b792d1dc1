"""Hostile values, reader by reader: nothing a record holds raises past its reader.

Each table is one file: a good record, then each hostile record followed by a good one. Every
hostile record is either refused as a RowError naming its field, or (where it is harmless, like
``-0``) read; every good record lands; and the whole file then imports into a real store with
the same counts (a value the reader let through that the store cannot hold would fail there).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.io_fixtures import DRONE, UCDP_HEADER, acled_row, ucdp_row, write_acled
from truceguard.errors import FormatError, RowError
from truceguard.ingest import import_file
from truceguard.io import read_acled, read_cot, read_csv_mapped, read_geojson, read_ucdp
from truceguard.io.ucdp import read_ucdp_columns
from truceguard.io.values import MAX_COUNT
from truceguard.model import Observation
from truceguard.store import SQLiteStore

DEEP = "[" * 200_000 + "]" * 200_000
READ = {"csv": read_csv_mapped, "geojson": read_geojson, "cot": read_cot, "ucdp": read_ucdp,
        "acled": read_acled}


def check(tmp_path: Path, fmt: str, path: Path, cases: list[tuple[str, object, str | None]],
          good_ref: str = "") -> None:
    """Read ``path`` (the good record, then each case followed by a good record): each case is
    refused naming its field, or read where the expected field is None; then import it."""
    items = list(READ[fmt](path))
    refused = [c for c in cases if c[2] is not None]
    errors = [i for i in items if isinstance(i, RowError)]
    goods = [i for i in items if isinstance(i, Observation)]
    assert [e.field for e in errors] == [c[2] for c in refused], [
        (e.line, e.field, e.reason[:80]) for e in errors]
    assert len(goods) == 1 + len(cases) + len(cases) - len(refused)
    assert all(e.line > 0 and e.reason and e.path == str(path) for e in errors)
    store = SQLiteStore(tmp_path / f"{fmt}.db")
    try:
        s = import_file(store, path, fmt=fmt)
        assert (s.imported + s.duplicates, s.rejected) == (len(goods), len(errors))
    finally:
        store.close()


CSV_CASES: list[tuple[str, object, str | None]] = [
    ("count", "1e30", "count"),
    ("count", "NaN", "count"),
    ("count", "inf", "count"),
    ("count", "-inf", "count"),
    ("count", str(2**63), "count"),
    ("count", str(2**64 + 1), "count"),
    ("count", "9" * 5000, "count"),
    ("count", "1.5", "count"),
    ("count", "-1", "count"),
    ("count", "0x10", "count"),
    ("count", "1_000", "count"),
    ("count", "\u0663", "count"),  # an Arabic-Indic digit
    ("count", str(MAX_COUNT + 1), "count"),
    ("count", "-0", None),
    ("count", "1e3", None),
    ("uncertainty_m", "1e309", "uncertainty_m"),
    ("uncertainty_m", "nan", "uncertainty_m"),
    ("uncertainty_m", "-1", "uncertainty_m"),
    ("uncertainty_m", "1e300", "uncertainty_m"),
    ("uncertainty_m", "-0", None),
    ("time_precision_s", "0", "time_precision_s"),
    ("time_precision_s", "1e300", "time_precision_s"),
    ("time_precision_s", "nan", "time_precision_s"),
    ("lat", "nan", "lat"),
    ("lat", "1e400", "lat"),
    ("lat", "-1e400", "lat"),
    ("lat", "-0", None),
    ("lon", "inf", "lon"),
    ("lon", "1" * 400, "lon"),
    ("time", "0999-12-31", "time"),
    ("time", "10000-01-01", "time"),
    ("time", "99999999999999999999", "time"),
    ("time", "1" * 5000, "time"),
    ("time", "0001-01-01T00:00:00Z", "time"),
    ("time", "9999-12-31T23:59:59-01:00", "time"),  # the year 10000 in UTC
    ("time", "\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "time"),
    ("t_end", "10000-01-01", "t_end"),
    ("releasability", "REL TO %", "releasability"),
    ("releasability", "REL TO XXX", "releasability"),
    ("releasability", "SECRET", "releasability"),
    ("attributes", DEEP, None),  # kept as text in attributes_original
    ("attributes", '{"a": NaN}', None),
    ("attributes", '{"a": 1e999}', None),
    ("attributes", '{"a": ' + "1" * 5000 + "}", None),
]


def test_csv_table(tmp_path: Path) -> None:
    cols = ["time", "lat", "lon", "count", "uncertainty_m", "time_precision_s", "t_end",
            "releasability", "attributes", "id"]
    good = {"time": "2024-03-02T06:40:00Z", "lat": "48.1", "lon": "37.9", "count": "3",
            "uncertainty_m": "500", "time_precision_s": "", "t_end": "", "releasability": "",
            "attributes": "", "id": ""}
    out = io.StringIO()
    w = csv.DictWriter(out, cols, lineterminator="\n")
    w.writeheader()
    w.writerow({**good, "id": "good"})
    for n, (field, value, _) in enumerate(CSV_CASES):
        w.writerow({**good, field: value, "id": f"h{n}"})
        w.writerow({**good, "id": f"g{n}"})
    path = tmp_path / "hostile.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    check(tmp_path, "csv", path, CSV_CASES)
    by_id = {o.source_ref: o for o in read_csv_mapped(path) if isinstance(o, Observation)}
    cases = {f"h{i}": c for i, c in enumerate(CSV_CASES)}
    accepted = {k: c for k, c in cases.items() if c[2] is None}
    assert {k: by_id[k].count for k, c in accepted.items() if c[0] == "count"} == {
        "h13": 0, "h14": 1000}
    deep = next(k for k, c in accepted.items() if c[1] == DEEP)
    assert by_id[deep].attributes == {"attributes_original": DEEP}


GEOJSON_CASES: list[tuple[str, object, str | None]] = [
    # (property, its JSON text, the field refused or None)
    ("count", "1e300", "count"),
    ("count", str(2**63), "count"),
    ("count", "1" + "0" * 5000, "feature"),  # too many digits for an integer
    ("count", "NaN", "feature"),
    ("count", "Infinity", "feature"),
    ("count", "-Infinity", "feature"),
    ("count", "1e999", "feature"),
    ("count", "1.5", "count"),
    ("count", "-1", "count"),
    ("count", "true", "count"),
    ("count", "-0.0", None),
    ("uncertainty_m", "1e300", "uncertainty_m"),
    ("uncertainty_m", "-1e-300", "uncertainty_m"),
    ("time", "1e300", "time"),
    ("time", "-1e300", "time"),
    ("time", str(10**12), "time"),  # epoch seconds in the year 33658
    ("time", '"0001-01-01"', "time"),
    ("time_precision_s", "0", "time_precision_s"),
    ("time_precision_s", "1e300", "time_precision_s"),
    ("text", DEEP, "feature"),  # 200,000 levels deep
    ("text", "[" * 65 + "]" * 65, "feature"),
    ("text", '"\\ud800"', "feature"),  # a lone surrogate
    ("text", '"\\ud83d\\ude00"', None),  # a surrogate pair: an emoji
    ("text", '{"a": 1}', "text"),
    ("releasability", '"REL TO %"', "releasability"),
    ("releasability", '"PUBLIC", "releasability": "REL TO GBR"', "feature"),  # a key twice
    ("text", '"x"}, "properties": {"time": "2024-03-02"', "feature"),  # properties twice
]


def geojson_feature(prop: str, text: str, ident: str) -> str:
    """A feature with the property ``prop`` written as the JSON text ``text`` (for ``time``,
    the only time; for ``coordinates``, the point's)."""
    coords = text if prop == "coordinates" else "[37.9, 48.1]"
    props = {"time": '"2024-03-02T06:40:00Z"'}
    if prop != "coordinates":
        props[prop] = text
    body = ", ".join(f'"{k}": {v}' for k, v in props.items())
    return (f'{{"type": "Feature", "id": "{ident}", "geometry": {{"type": "Point", '
            f'"coordinates": {coords}}}, "properties": {{{body}}}}}')


def test_geojson_table(tmp_path: Path) -> None:
    cases = [*GEOJSON_CASES, ("coordinates", "[1e400, 48]", "feature"),
             ("coordinates", '["37", 48]', "longitude"), ("coordinates", "[-0.0, -0.0]", None)]
    feats = [geojson_feature("count", "2", "good")]
    for i, (prop, text, _) in enumerate(cases):
        feats += [geojson_feature(prop, str(text), f"h{i}"), geojson_feature("count", "1", f"g{i}")]
    path = tmp_path / "hostile.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [\n' + ",\n".join(feats)
                    + "\n]}\n", encoding="utf-8")
    check(tmp_path, "geojson", path, cases)
    by_id = {o.source_ref: o for o in read_geojson(path) if isinstance(o, Observation)}
    assert by_id["h10"].count == 0 and by_id["h22"].text == "\U0001f600"
    zero = by_id[f"h{len(cases) - 1}"]
    assert (zero.lat, zero.lon) == (0.0, 0.0) and str(zero.lat) == "0.0"  # not -0.0


def test_deeply_nested_documents_are_refused_whole_or_per_feature(tmp_path: Path) -> None:
    path = tmp_path / "deep.geojson"
    path.write_text(DEEP, encoding="utf-8")
    with pytest.raises(FormatError, match="expected a GeoJSON object"):
        list(read_geojson(path))
    path.write_text('{"type": "FeatureCollection", "crs": ' + DEEP + ', "features": []}')
    with pytest.raises(FormatError, match="crs"):
        list(read_geojson(path))
    path.write_text('{"type": "FeatureCollection", "features": [' + DEEP + "]}")
    (err,) = list(read_geojson(path))
    assert isinstance(err, RowError) and "nested more than 64 levels" in err.reason
    assert len(err.raw) <= 256


COT_CASES: list[tuple[str, object, str | None]] = [
    ('lat="48.2"', 'lat="1e400"', "point.lat"),
    ('lat="48.2"', 'lat="nan"', "point.lat"),
    ('lon="38.1"', 'lon="-inf"', "point.lon"),
    ('lat="48.2"', 'lat="-0"', None),
    ('ce="350"', 'ce="1e400"', None),  # an uncertainty past any bound is unknown
    ('ce="350"', 'ce="nan"', None),
    ('hae="1200"', 'hae="1_0"', "point.hae"),
    ('hae="1200"', 'hae="' + "9" * 5000 + '"', None),  # far away, still a finite number
    ('time="2024-03-02T06:45:00Z"', 'time="0001-01-01T00:00:00Z"', "time"),
    ('time="2024-03-02T06:45:00Z"', 'time="99999-01-01T00:00:00Z"', "time"),
    ('time="2024-03-02T06:45:00Z"', 'time="' + "1" * 5000 + '"', "time"),
    ('access="REL TO UK, FR"', 'access="REL TO %"', "access"),
    ('access="REL TO UK, FR"', 'access="REL TO XXX"', "access"),
]


def test_cot_table(tmp_path: Path) -> None:
    events = [DRONE]
    for i, (old, new, _) in enumerate(COT_CASES):
        events += [DRONE.replace(old, new).replace("RADAR-7.trk-1182", f"h{i}"),
                   DRONE.replace("RADAR-7.trk-1182", f"g{i}")]
    path = tmp_path / "hostile.cot"
    path.write_text("\n".join(events) + "\n", encoding="utf-8")
    check(tmp_path, "cot", path, COT_CASES)
    by_uid = {o.source_ref.split("@")[0]: o for o in read_cot(path) if isinstance(o, Observation)}
    assert by_uid["h4"].uncertainty_m is None and by_uid["h3"].lat == 0.0


UCDP_CASES: list[tuple[str, object, str | None]] = [
    ("latitude", "1e400", "latitude"),
    ("latitude", "nan", "latitude"),
    ("longitude", "-inf", "longitude"),
    ("latitude", "1" * 400, "latitude"),
    ("date_start", "0999-01-01", "date_start"),
    ("date_start", "1/1/0999", "date_start"),
    ("date_end", "10000-01-01", "date_end"),
    ("where_prec", "1e30", "where_prec"),
    ("date_prec", "nan", "date_prec"),
    ("latitude", "-0", None),
    ("date_start", "1000-01-01", None),
]


def test_ucdp_table_on_both_paths(tmp_path: Path) -> None:
    lines = [ucdp_row(id="good")]
    for i, (field, value, _) in enumerate(UCDP_CASES):
        change = {field: str(value)}
        if field == "date_start" and value == "1000-01-01":
            change["date_end"] = "1000-01-02"
        lines += [ucdp_row(id=f"h{i}", **change), ucdp_row(id=f"g{i}")]
    path = tmp_path / "hostile.csv"
    path.write_text(UCDP_HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    check(tmp_path, "ucdp", path, UCDP_CASES)
    slow = [(type(i).__name__, getattr(i, "field", ""), i.source_line if isinstance(
        i, Observation) else i.line) for i in read_ucdp(path)]
    fast: list[tuple[str, str, int]] = []
    for item in read_ucdp_columns(path):
        if isinstance(item, RowError):
            fast.append(("RowError", item.field, item.line))
        elif isinstance(item, Observation):
            fast.append(("Observation", "", item.source_line))
        else:
            fast += [("Observation", "", o.source_line) for o in item.observations()]
    assert sorted(fast, key=lambda x: x[2]) == sorted(slow, key=lambda x: x[2])


ACLED_CASES: list[tuple[str, object, str | None]] = [
    ("fatalities", "1e30", "fatalities"),
    ("fatalities", "nan", "fatalities"),
    ("fatalities", "inf", "fatalities"),
    ("fatalities", str(2**63), "fatalities"),
    ("fatalities", "1.5", "fatalities"),
    ("fatalities", "-0", None),
    ("event_date", "01-01-0999", "event_date"),
    ("event_date", "31 December 9999", None),
    ("latitude", "inf", "latitude"),
    ("geo_precision", "1e999", "geo_precision"),
    ("time_precision", "nan", "time_precision"),
]


def test_acled_table(tmp_path: Path) -> None:
    rows = [acled_row(event_id_cnty="good")]
    for i, (field, value, _) in enumerate(ACLED_CASES):
        rows += [acled_row(event_id_cnty=f"h{i}", **{field: str(value)}),
                 acled_row(event_id_cnty=f"g{i}")]
    rows.append(acled_row(event_id_cnty="late", event_date="31 December 9999",
                          time_precision="3"))  # its window runs past the year 9999
    path = write_acled(tmp_path / "hostile.csv", rows)
    items = list(read_acled(path))
    assert [(e.line, e.field) for e in items if isinstance(e, RowError)][-1] == (
        len(rows) + 1, "event_date")
    rows.pop()
    write_acled(path, rows)
    check(tmp_path, "acled", path, ACLED_CASES)


def test_whole_file_hostility_is_one_clear_error(tmp_path: Path) -> None:
    """A file whose shape is wrong is refused whole with a FormatError, never a traceback."""
    for name, data in [
        ("a.geojson", b"{" * 300_000),
        ("b.geojson", b'{"type": "FeatureCollection", "features": [' + b"{" * 300_000),
        ("c.geojson", b'{"type": "FeatureCollection", "features": "' + b"x" * 100),
        ("d.geojson", b'{"type": ' + json.dumps("x" * 3_000_000).encode() + b"}"),
        ("e.geojson", b"\x00" * 1000),
        ("f.cot", b"<" * 100_000),
        ("g.csv", b'"' * 100_000),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        read = read_cot if name.endswith(".cot") else (
            read_csv_mapped if name.endswith(".csv") else read_geojson)
        try:
            items = list(read(path))
        except FormatError:
            continue
        assert all(isinstance(i, RowError) for i in items), name
