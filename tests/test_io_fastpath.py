"""The vectorised UCDP path gives exactly the row path's records: same observations, same
errors, same order, on real files, synthetic files and every kind of awkward input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import UCDP_CLEAN, UCDP_MESSY
from tests.io_fixtures import UCDP_COLS as COLS
from tests.io_fixtures import UCDP_GOOD as GOOD
from tests.io_fixtures import UCDP_HEADER as HEADER
from tests.io_fixtures import compare_ucdp as compare
from tests.io_fixtures import ucdp_row as row
from truceguard.ingest import import_file
from truceguard.io.base import ChunkedLines
from truceguard.io.fastcsv import Block, read_blocks
from truceguard.io.ucdp import read_ucdp
from truceguard.model import Observation
from truceguard.store import SQLiteStore
from truceguard.synthetic import write_ucdp_like


def raw_row(**changes: str) -> str:
    """One line with fields put in verbatim (for quoting the csv module would not write)."""
    vals = list(GOOD)
    for k, v in changes.items():
        vals[COLS.index(k)] = v
    return ",".join(vals)


def write(tmp_path: Path, lines: list[str], *, end: str = "\n", last_end: bool = True,
          enc: str = "utf-8", bom: bool = False, name: str = "f.csv") -> Path:
    text = end.join([HEADER, *lines]) + (end if last_end else "")
    data = text.encode(enc)
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return p


def test_real_shipped_file(tmp_path: Path) -> None:
    columnar, errors = compare(UCDP_CLEAN)
    assert errors == 0 and columnar == 3077


def test_real_messy_cp1252_export(test_data: Path) -> None:
    assert UCDP_MESSY.is_file()
    columnar, errors = compare(UCDP_MESSY)
    assert errors == 0 and columnar > 0
    # strict UTF-8: the cp1252 lines are refused, identically
    _, errors = compare(UCDP_MESSY, encoding="utf-8")
    assert errors > 0


def test_synthetic_file_goes_all_columnar(tmp_path: Path) -> None:
    p = tmp_path / "syn.csv"
    write_ucdp_like(p, 3000, seed=3)
    assert compare(p) == (3000, 0)


def test_many_small_blocks_with_records_across_block_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ChunkedLines, "CHUNK", 777)
    lines = []
    for i in range(300):
        desc = f'Town {i}, "north"\nsecond line' if i % 7 == 0 else f"Town {i}"
        lines.append(row(id=str(i + 1), where_description=desc))
    p = write(tmp_path, lines)
    columnar, errors = compare(p)
    assert errors == 0 and columnar == 300
    p = tmp_path / "syn.csv"
    write_ucdp_like(p, 500, seed=4)
    assert compare(p) == (500, 0)


BAD_FIELDS: list[dict[str, str]] = [
    {"latitude": "91.5"},
    {"longitude": "-200"},
    {"latitude": "abc"},
    {"latitude": ""},
    {"latitude": "nan"},
    {"latitude": "1e1"},
    {"latitude": " 48.3"},
    {"latitude": "+48.3"},
    {"latitude": "48.3.1"},
    {"latitude": "-"},
    {"latitude": "1_0"},
    {"longitude": "38." + "1" * 40},
    {"date_start": "the day after"},
    {"date_start": "2015-02-30"},
    {"date_start": "2015-W07-1"},
    {"date_start": "0000-01-01"},
    {"date_start": "2015-13-01"},
    {"date_start": "2/15/2015 12:00:00 AM"},
    {"date_start": "02/15/2015 00:00", "date_end": "2/16/2015 12:00:00 AM"},
    {"date_end": "2015-02-01"},
    {"date_end": "2015-2-17"},
    {"where_prec": "9"},
    {"where_prec": " 1"},
    {"where_prec": "01"},
    {"date_prec": "0"},
    {"date_prec": "5"},
    {"id": ""},
    {"id": "a,b"},
    {"id": "x\u00e9"},
    {"type_of_violence": "3"},
    {"type_of_violence": "2"},
    {"type_of_violence": "12"},
    {"side_a": "tab\there"},
    {"adm_1": "back\\slash"},
    {"side_b": "\u0414\u041d\u0420"},
    {"side_b": "", "adm_2": "", "best": ""},
    {"best": 'say "5"'},
    {"source_office": " OSCE SMM ; Reuters"},
    {"source_office": ";"},
    {"source_office": "A,B;C"},
    {"where_description": 'Avdiivka, "industrial zone"\r\nline two'},
    {"where_description": ""},
    {"where_description": "\u00a0Mariinka\u00a0"},
    {"where_description": "form\x0cfeed, vertical\x0btab, separators\x1c\x1d\x1e"},
    {"where_description": "next\x85line\u2028and\u2029paragraph"},
]


def test_every_kind_of_bad_or_awkward_row(tmp_path: Path) -> None:
    lines = [row(id="1")]
    for i, change in enumerate(BAD_FIELDS):
        lines.append(row(**{"id": str(100 + i), **change}))
        lines.append(row(id=str(1000 + i)))
    lines += [
        "1,2,3",  # ragged
        "",  # blank line: skipped
        "   ",  # one field of spaces
        row(id="7") + ",extra",
        raw_row(id='"8"', latitude='"48.5"'),  # quoted needed fields
        raw_row(id="9", latitude='"48,5"'),
        row(id="1"),  # a duplicate id: both paths keep it (the store drops it)
    ]
    p = write(tmp_path, lines)
    columnar, errors = compare(p)
    assert columnar > len(BAD_FIELDS) and errors > 20


@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize("last_end", [True, False])
@pytest.mark.parametrize("bom", [False, True])
def test_line_ends_bom_and_last_line(tmp_path: Path, end: str, last_end: bool,
                                     bom: bool) -> None:
    lines = [row(id=str(i), where_description=f"P{i}, south") for i in range(1, 40)]
    lines.append(row(id="40", latitude="91"))
    lines.append(row(id="41"))
    p = write(tmp_path, lines, end=end, last_end=last_end, bom=bom)
    columnar, errors = compare(p)
    assert (columnar, errors) == (40, 1)


def test_over_long_lines(tmp_path: Path) -> None:
    huge = row(id="2", where_description="x" * 5000)
    lines = [row(id="1"), huge, row(id="3"), huge.replace(",2,", ",4,", 1)]
    p = write(tmp_path, [*lines, row(id="5"), huge], last_end=False)
    columnar, errors = compare(p, max_record_bytes=2000)
    assert (columnar, errors) == (3, 3)
    p = write(tmp_path, [row(id="1"), "z" * 3000, row(id="3")], name="g.csv")
    assert compare(p, max_record_bytes=2000) == (2, 1)


def test_undecodable_bytes(tmp_path: Path) -> None:
    lines = [row(id="1"), row(id="2", where_description="Mariinka \u2013 east"), row(id="3")]
    p = write(tmp_path, lines, enc="cp1252")
    assert compare(p, encoding="utf-8") == (2, 1)
    # auto: the row path reads the cp1252 line; its record joins the block's columns
    assert compare(p) == (3, 0)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(write(tmp_path, [row(id="1")]).read_bytes() + b"\x81\x8d\xff,x\n"
                    + row(id="2").encode() + b"\n")
    compare(bad)
    compare(bad, encoding="utf-8")
    compare(bad, encoding="cp1252")  # not a fast-path encoding: the row path throughout


@pytest.mark.parametrize(
    "junk",
    [
        raw_row(id="5", side_a='Gov"ernment'),  # a quote inside an unquoted field
        raw_row(id="5", side_a='"Gov"ernment'),  # text after a closing quote
        raw_row(id="5", side_a="a\rb"),  # a carriage return alone
        raw_row(id="5", side_a="a\x00b"),  # a NUL byte
        raw_row(id="5", side_a='"never closed'),  # a quote left open to the end
    ],
)
def test_malformed_csv_hands_the_rest_to_the_row_path(tmp_path: Path, junk: str) -> None:
    lines = [row(id=str(i)) for i in range(1, 5)] + [junk]
    lines += [row(id=str(i)) for i in range(6, 12)]
    p = write(tmp_path, lines)
    compare(p)
    header_lines, ncol = 1, len(COLS)
    parts = list(read_blocks(p, "auto", 1 << 20, header_lines, ncol))
    assert not isinstance(parts[-1], Block)  # the row path read the rest
    assert list(parts[-1])  # type: ignore[arg-type]


def test_seeded_random_mix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChunkedLines, "CHUNK", 2048)
    rng = random.Random(11)
    lines = []
    for i in range(600):
        change = dict(rng.choice(BAD_FIELDS)) if rng.random() < 0.3 else {}
        change.setdefault("id", str(i))
        lines.append(row(**change))
        if rng.random() < 0.05:
            lines.append("")
    p = write(tmp_path, lines, end=rng.choice(["\n", "\r\n"]))
    columnar, _ = compare(p)
    assert columnar > 300


def test_import_stores_the_same_rows_as_the_row_path(tmp_path: Path, test_data: Path) -> None:
    """The store holds the same rows whichever path and insert method fed it."""
    src = write(tmp_path, [row(id=str(i % 150), where_description=f"W{i}") for i in range(400)])
    cols = ("dedup_key, source, how_known, t_start, t_end, time_precision_s, lat, lon, "
            "uncertainty_m, category, weapon_class, count, text, origin, source_ref, "
            "marking_id, reader, curated, raw, raw_sha256, source_file, source_line, attributes")
    for path in (UCDP_MESSY, src):
        fast = SQLiteStore(tmp_path / "fast.db")
        s = import_file(fast, path, batch_size=64)
        slow = SQLiteStore(tmp_path / "slow.db")
        with slow.transaction():
            got = slow.add_observations(
                [o for o in read_ucdp(path) if isinstance(o, Observation)], reader="ucdp",
                curated=True)
        assert (s.imported, s.duplicates, s.conflicts) == (got.inserted, got.duplicates,
                                                           got.conflicts)
        q = f"SELECT obs_id, {cols}, typeof(lat), typeof(t_start) FROM observations ORDER BY obs_id"
        assert fast.execute(q).fetchall() == slow.execute(q).fetchall()
        fast.close()
        slow.close()
        (tmp_path / "fast.db").unlink()
        (tmp_path / "slow.db").unlink()
