"""The ACLED reader on rows written here in ACLED's own schema (its data may not be shared).

The rows imitate an ACLED export of the Donbas: its 31 columns in its order, its date styles,
its precision codes, its event and sub-event types, several outlets in ``source``.
"""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.io_fixtures import ACLED_COLUMNS as COLUMNS
from tests.io_fixtures import acled_row as row
from tests.io_fixtures import write_acled as write
from truceguard.errors import FormatError, MissingColumnsError, RowError
from truceguard.io.acled import GEO_PRECISION_M, classify, read_acled
from truceguard.io.base import sha256_hex
from truceguard.model import CATEGORIES, WEAPON_CLASSES, Observation

DAY = 86_400


def read(path: Path, **kw: object) -> tuple[list[Observation], list[RowError]]:
    items = list(read_acled(path, **kw))
    return (
        [i for i in items if isinstance(i, Observation)],
        [i for i in items if isinstance(i, RowError)],
    )


def ts(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp())


def test_realistic_rows_map_to_observations(tmp_path: Path) -> None:
    rows = [
        row(),
        row(
            event_id_cnty="UKR100002",
            event_date="2024-01-16",
            sub_event_type="Air/drone strike",
            notes="Russian forces struck Kostiantynivka with a Shahed drone; 2 injured.",
            location="Kostiantynivka",
            latitude="48.5277",
            longitude="37.7069",
            geo_precision="2",
            fatalities="1",
        ),
        row(
            event_id_cnty="UKR100003",
            event_type="Battles",
            sub_event_type="Armed clash",
            actor2="Military Forces of Ukraine (2019-)",
            notes="Clashes near Krynky; small arms fire reported.",
            geo_precision="3",
            time_precision="2",
        ),
        row(
            event_id_cnty="UKR100004",
            sub_event_type="Remote explosive/landmine/IED",
            notes="A tractor hit a landmine near Izium; the driver was killed.",
            fatalities="1",
            time_precision="3",
        ),
        row(event_id_cnty="UKR100005", event_type="Protests", sub_event_type="Peaceful protest"),
    ]
    good, bad = read(write(tmp_path / "acled.csv", rows))
    assert bad == []
    assert [g.source_ref for g in good] == [f"UKR10000{i}" for i in range(1, 6)]
    assert [g.source_line for g in good] == [2, 3, 4, 5, 6]
    shelled, drone, clash, mine, protest = good

    assert shelled.source == "ACLED"
    assert shelled.how_known == "open_source"
    assert shelled.origin == "Ukrinform"
    assert shelled.category == "shelling"
    assert shelled.weapon_class == "artillery_ge100"  # "122mm artillery" in the notes
    assert shelled.t_start == ts(2024, 1, 15)
    assert shelled.t_end == ts(2024, 1, 16) - 1
    assert shelled.time_precision_s == DAY
    assert shelled.uncertainty_m == GEO_PRECISION_M[1] == 2_000.0
    assert shelled.count == 1
    assert shelled.text.startswith("On 15 January 2024, Russian forces shelled Toretsk")
    assert shelled.attributes["admin1"] == "Donetsk"
    assert shelled.attributes["admin2"] == "Bakhmutskyi"
    assert shelled.attributes["admin3"] == "Toretska"
    assert shelled.attributes["location"] == "Toretsk"
    assert shelled.attributes["actor1"] == "Military Forces of Russia (2000-)"
    assert shelled.attributes["sub_event_type"] == "Shelling/artillery/missile attack"
    assert shelled.attributes["fatalities"] == 0
    assert "actor2" not in shelled.attributes  # blank cells are not kept
    assert shelled.releasability == "PUBLIC"

    assert (drone.category, drone.weapon_class) == ("drone", "uav")
    assert drone.t_start == ts(2024, 1, 16)
    assert drone.uncertainty_m == 15_000.0
    assert drone.attributes["fatalities"] == 1

    assert (clash.category, clash.weapon_class) == ("armed_clash", "small_arms")
    assert clash.uncertainty_m == 75_000.0
    # week precision: the coded day +/- 3 days
    assert clash.t_start == ts(2024, 1, 12)
    assert clash.t_end == ts(2024, 1, 19) - 1
    assert clash.time_precision_s == 7 * DAY

    assert (mine.category, mine.weapon_class) == ("mine", "mine")
    assert mine.t_start == ts(2023, 12, 31) and mine.t_end == ts(2024, 1, 31) - 1
    assert mine.time_precision_s == 31 * DAY

    assert (protest.category, protest.weapon_class) == ("other", "unknown")


def test_raw_is_the_row_verbatim_and_reading_is_idempotent(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        [row(notes='He said "ceasefire",\nthen left.'), row(event_id_cnty="UKR2")],
    )
    first, _ = read(path)
    again, _ = read(path)
    text = path.read_text(encoding="utf-8")
    for a, b in zip(first, again, strict=True):
        assert a.raw == b.raw and a.raw_sha256 == b.raw_sha256 == sha256_hex(a.raw)
        assert a.raw in text
    assert first[0].raw.count("\n") == 2  # a quoted newline keeps the record whole
    assert first[1].source_line == 4
    assert next(csv.reader(io.StringIO(first[0].raw)))[0] == "UKR100001"


@pytest.mark.parametrize(
    ("sub_event", "notes", "expected"),
    [
        ("Shelling/artillery/missile attack", "Grad MLRS fire on Avdiivka", ("shelling", "mlrs")),
        (
            "Shelling/artillery/missile attack",
            "shelled with Uragan rockets",
            ("shelling", "mlrs_long"),
        ),
        ("Shelling/artillery/missile attack", "82mm mortar rounds", ("shelling", "mortar_lt120")),
        ("Shelling/artillery/missile attack", "120mm mortar fire", ("shelling", "mortar_120")),
        (
            "Shelling/artillery/missile attack",
            "an Iskander strike",
            ("missile", "tactical_missile"),
        ),
        ("Shelling/artillery/missile attack", "", ("shelling", "unknown")),
        ("Air/drone strike", "a KAB guided bomb dropped on the town", ("air_strike", "aircraft")),
        ("Air/drone strike", "an air strike", ("air_strike", "unknown")),
        ("Air/drone strike", "an FPV drone hit a car", ("drone", "uav")),
        ("Grenade", "a grenade thrown from a drone", ("explosion", "light_weapon")),
        ("Government regains territory", "", ("movement", "unknown")),
        ("Attack", "", ("other", "unknown")),
        ("Something new", "tanks", ("other", "unknown")),
    ],
)
def test_classification(sub_event: str, notes: str, expected: tuple[str, str]) -> None:
    got = classify(sub_event, notes)
    assert got == expected
    assert got[0] in CATEGORIES and got[1] in WEAPON_CLASSES


@pytest.mark.parametrize(
    "date", ["15 January 2024", "2024-01-15", "15-Jan-2024", "15-01-2024", " 15 January 2024 "]
)
def test_event_date_styles(tmp_path: Path, date: str) -> None:
    good, bad = read(write(tmp_path / "d.csv", [row(event_date=date)]))
    assert bad == []
    assert good[0].t_start == ts(2024, 1, 15)


def test_missing_columns_name_all_and_yield_nothing(tmp_path: Path) -> None:
    cols = [c for c in COLUMNS if c not in ("event_date", "longitude")]
    path = write(tmp_path / "m.csv", [row()], cols)
    it = read_acled(path)
    with pytest.raises(MissingColumnsError) as info:
        next(it)
    assert info.value.missing == ["event_date", "longitude"]
    assert "event_date" in str(info.value) and "longitude" in str(info.value)


def test_mapping_renames_columns(tmp_path: Path) -> None:
    cols = ["id", "date", "lat", "lon", "notes"]
    path = tmp_path / "mapped.csv"
    path.write_text("id,date,lat,lon,notes\nX1,2024-02-01,48.1,37.9,quiet\n", encoding="utf-8")
    good, bad = read(
        path,
        mapping={
            "event_id_cnty": "id",
            "event_date": "date",
            "latitude": "lat",
            "longitude": "lon",
        },
    )
    assert bad == [] and len(good) == 1
    assert good[0].source_ref == "X1" and good[0].lat == 48.1 and good[0].text == "quiet"
    assert good[0].uncertainty_m is None  # no geo_precision column: unknown
    assert cols  # the mapped header is a real one


def test_bad_rows_name_file_line_and_field(tmp_path: Path) -> None:
    rows = [
        row(event_id_cnty="OK1"),
        row(event_id_cnty="B1", latitude="91.5"),
        row(event_id_cnty="B2", longitude="-181"),
        row(event_id_cnty="B3", latitude="north"),
        row(event_id_cnty="B4", event_date="31 February 2024"),
        row(event_id_cnty="B5", event_date="yesterday"),
        row(event_id_cnty="B6", time_precision="4"),
        row(event_id_cnty="B7", geo_precision="x"),
        row(event_id_cnty="B8", fatalities="many"),
        row(event_id_cnty=""),
        row(event_id_cnty="B9", event_date="2024-13-01"),
        row(event_id_cnty="B10", fatalities="-2"),
        row(event_id_cnty="OK2"),
    ]
    path = write(tmp_path / "bad.csv", rows)
    good, bad = read(path)
    assert [g.source_ref for g in good] == ["OK1", "OK2"]
    assert [(e.line, e.field) for e in bad] == [
        (3, "latitude"),
        (4, "longitude"),
        (5, "latitude"),
        (6, "event_date"),
        (7, "event_date"),
        (8, "time_precision"),
        (9, "geo_precision"),
        (10, "fatalities"),
        (11, "event_id_cnty"),
        (12, "event_date"),
        (13, "fatalities"),
    ]
    assert str(bad[0]).startswith(f"{path}:3: latitude: 91.5 is outside -90..90")
    assert "no such date" in bad[3].reason
    assert all(e.raw and e.path == str(path) for e in bad)


def test_short_row_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    good_line = ",".join(f'"{v}"' for v in row().values())
    path.write_text(
        ",".join(COLUMNS) + "\nUKR9,15 January 2024,48,37\n" + good_line + "\n", encoding="utf-8"
    )
    good, bad = read(path)
    assert len(good) == 1 and good[0].source_line == 3
    assert (bad[0].line, bad[0].field) == (2, "record")
    assert "4 fields" in bad[0].reason


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        list(read_acled(empty))
    header_only = write(tmp_path / "h.csv", [])
    assert list(read_acled(header_only)) == []


def test_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    r = row(location="Mar’inka", notes="Shelling near Mar’inka – 2 injured")
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerow(r)
    path.write_bytes(buf.getvalue().encode("cp1252"))
    # strict UTF-8: the row is refused and the message says which byte and what to pass
    good, bad = read(path, encoding="utf-8")
    assert good == []
    assert (bad[0].line, bad[0].field) == (2, "record")
    assert "0x92" in bad[0].reason and "cp1252" in bad[0].reason
    # auto: the spreadsheet encoding is recognised
    good, bad = read(path)
    assert bad == [] and good[0].attributes["location"] == "Mar’inka"


def test_several_megabyte_line_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", [row(event_id_cnty="OK1")])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("UKR666,15 January 2024," + "x" * (48 << 20) + "\n")
    write_rows = io.StringIO()
    csv.DictWriter(write_rows, COLUMNS, lineterminator="\n").writerow(row(event_id_cnty="OK2"))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(write_rows.getvalue())
    tracemalloc.start()
    try:
        good, bad = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [g.source_ref for g in good] == ["OK1", "OK2"]
    assert [g.source_line for g in good] == [2, 4]
    assert (bad[0].line, bad[0].field) == (3, "record")
    assert "over the limit" in bad[0].reason
    assert peak < 24 << 20  # the 48 MB line was never held whole


def test_releasability_option(tmp_path: Path) -> None:
    good, _ = read(write(tmp_path / "r.csv", [row()]), releasability="REL UK FR")
    assert good[0].releasability == "REL TO FRA, GBR"  # canonical text
