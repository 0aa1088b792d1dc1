"""The UCDP GED reader on the real files, clean and messy, and on every kind of bad row."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import UCDP_CLEAN
from truceguard.errors import FormatError, MissingColumnsError, RowError
from truceguard.io import detect_format, read_ucdp
from truceguard.io.base import sha256_hex
from truceguard.model import Observation


def split(items: list[Observation | RowError]) -> tuple[list[Observation], list[RowError]]:
    good = [i for i in items if isinstance(i, Observation)]
    bad = [i for i in items if isinstance(i, RowError)]
    return good, bad


def test_real_file_reads_completely() -> None:
    good, bad = split(list(read_ucdp(UCDP_CLEAN)))
    assert bad == []
    assert len(good) == 3077
    first = good[0]
    assert first.source_ref == "147997"
    assert first.source_line == 2
    assert first.raw.startswith("147997,UKR-2014-1-14085-0,")
    assert first.raw_sha256 == sha256_hex(first.raw)
    assert first.t_start == int(datetime(2014, 1, 22, tzinfo=UTC).timestamp())
    assert first.uncertainty_m == 1000.0  # where_prec 1
    assert first.attributes["best"] == "5"
    assert first.origin == "Agence France Presse"
    # every raw record, parsed again on its own, is the same CSV row as in the file
    with open(UCDP_CLEAN, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [next(csv.reader([g.raw])) for g in good[:50]] == rows[:50]


def test_precision_codes_become_uncertainties() -> None:
    good, _ = split(list(read_ucdp(UCDP_CLEAN)))
    by_wp = {}
    for g in good:
        by_wp.setdefault(g.attributes["where_prec"], g.uncertainty_m)
    assert by_wp[1] < by_wp[2] < by_wp[4]
    wide = [g for g in good if g.attributes["date_prec"] == 4]
    assert wide and all(g.time_precision_s >= 31 * 86400 for g in wide)


def test_messy_cp1252_export_reads_completely(test_data: Path) -> None:
    path = test_data / "events" / "ucdp_ged_ukraine_2014-2023_partial_cp1252.csv"
    good, bad = split(list(read_ucdp(path)))
    assert bad == [], bad[:3]
    assert len(good) == 3883
    by_id = {g.source_ref: g for g in good}
    # "08/05/2014 00:00" is month-first: 5 August 2014, as the clean export has it
    assert by_id["410220"].t_start == int(datetime(2014, 8, 5, tzinfo=UTC).timestamp())
    # "1/24/2023 12:00:00 AM" .. "02/06/2023 00:00"
    assert by_id["467187"].t_start == int(datetime(2023, 1, 24, tzinfo=UTC).timestamp())
    assert by_id["467187"].t_end == int(datetime(2023, 2, 6, 23, 59, 59, tzinfo=UTC).timestamp())
    # cp1252 text decoded, not mangled
    clean = {g.source_ref: g for g in split(list(read_ucdp(UCDP_CLEAN)))[0]}
    same = [i for i in by_id if i in clean]
    assert len(same) == 2987
    # both date formats agree with the clean export, bar 3 events UCDP itself revised
    differ = sorted(i for i in same if by_id[i].t_start != clean[i].t_start)
    assert differ == ["205066", "211921", "429358"]


def write(tmp_path: Path, text: str, name: str = "x.csv", enc: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(enc))
    return p


with open(UCDP_CLEAN, encoding="utf-8") as _fh:
    HEADER = _fh.readline()
GOOD = (
    "1,r,2015,True,Clear,1,1,1,c,1,1,d,1,1,Government of Ukraine,1,1,DPR,1,a,Reuters,2015-02-16,"
    "h,o,1,x,Debaltseve,Donetsk,,48.34,38.40,POINT (38.40 48.34),1,Ukraine,369,Europe,1,1,"
    "2015-02-16,2015-02-16,1,0,0,0,1,1,1,369,\n"
)


def row(**changes: str) -> str:
    cols = HEADER.strip().split(",")
    vals = next(csv.reader([GOOD]))
    for k, v in changes.items():
        vals[cols.index(k)] = v
    return ",".join(vals) + "\n"


def test_bad_rows_are_named_and_good_rows_still_come(tmp_path: Path) -> None:
    text = (
        HEADER
        + row(id="1")
        + row(id="2", latitude="91.5")
        + row(id="3", longitude="-200")
        + row(id="4", date_start="the day after")
        + row(id="5", date_start="2015-02-30")
        + row(id="6", where_prec="9")
        + row(id="7", latitude="abc")
        + row(id="8", date_end="2015-02-01")
        + row(id="9")
    )
    p = write(tmp_path, text)
    good, bad = split(list(read_ucdp(p)))
    assert [g.source_ref for g in good] == ["1", "9"]
    assert [(e.line, e.field) for e in bad] == [
        (3, "latitude"),
        (4, "longitude"),
        (5, "date_start"),
        (6, "date_start"),
        (7, "where_prec"),
        (8, "latitude"),
        (9, "date_end"),
    ]
    assert str(bad[0]).startswith(f"{p}:3: latitude: 91.5 is outside -90..90")
    assert "91.5" in bad[0].raw


def test_missing_required_columns_is_one_error(tmp_path: Path) -> None:
    p = write(tmp_path, "id,latitude,foo\n1,48,x\n")
    with pytest.raises(MissingColumnsError) as info:
        list(read_ucdp(p))
    assert info.value.missing == ["longitude", "date_start", "date_end", "where_prec", "date_prec"]
    assert "longitude" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    p = write(tmp_path, "")
    with pytest.raises(FormatError, match="empty"):
        list(read_ucdp(p))
    with pytest.raises(FormatError, match="empty"):
        detect_format(p)


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    east = row(id="2", where_description="Mariinka \u2013 east")
    text = HEADER + row(id="1") + east + row(id="3")
    p = write(tmp_path, text, enc="cp1252")
    good, bad = split(list(read_ucdp(p, encoding="utf-8")))
    assert [g.source_ref for g in good] == ["1", "3"]
    assert len(bad) == 1 and bad[0].line == 3
    assert "not valid utf-8: byte 0x96" in bad[0].reason and "cp1252" in bad[0].reason
    # the default, auto, reads it right
    good, bad = split(list(read_ucdp(p)))
    assert not bad and "\u2013" in good[1].text


@pytest.mark.parametrize("enc", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_read_like_utf8(tmp_path: Path, enc: str) -> None:
    text = HEADER + row(id="1", where_description="Mariinka \u2013 east") + row(id="2")
    p = write(tmp_path, text, enc=enc)  # utf-16/utf-32 write a byte-order mark; -le/-be none
    good, bad = split(list(read_ucdp(p)))
    assert bad == [] and [g.source_ref for g in good] == ["1", "2"]
    assert good[0].text == "Mariinka \u2013 east" and good[1].source_line == 3
    same, _ = split(list(read_ucdp(write(tmp_path, text, "u8.csv"))))
    assert [g.raw for g in good] == [g.raw for g in same]


def test_line_of_several_megabytes_is_refused_alone(tmp_path: Path) -> None:
    huge = row(id="2", where_description="x" * (5 << 20))
    p = write(tmp_path, HEADER + row(id="1") + huge + row(id="3"))
    good, bad = split(list(read_ucdp(p)))
    assert [g.source_ref for g in good] == ["1", "3"]
    assert bad[0].line == 3 and "over the limit" in bad[0].reason
    assert len(bad[0].raw) < 1000  # the oversize line is not held


def test_ragged_row(tmp_path: Path) -> None:
    p = write(tmp_path, HEADER + "1,2,3\n" + row(id="9"))
    good, bad = split(list(read_ucdp(p)))
    assert len(good) == 1 and bad[0].field == "record" and "3 fields" in bad[0].reason
