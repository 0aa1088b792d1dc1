"""What a reader is handed: paths that are not files, encodings that are not ASCII-safe, and
records that break (a quote left open, a stream cut mid-event) without taking good ones along."""

from __future__ import annotations

import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.io_fixtures import DRONE, MARKER, SA, UCDP_HEADER, ucdp_row
from tests.io_fixtures import compare_ucdp as compare
from truceguard.errors import FormatError, InputError, NotFoundError, RowError
from truceguard.ingest import import_file
from truceguard.io import (
    detect_format,
    read_acled,
    read_cot,
    read_csv_mapped,
    read_geojson,
    read_ucdp,
)
from truceguard.io.base import ChunkedLines, Utf8Recoder, file_sha256
from truceguard.io.cot import split_events
from truceguard.io.ucdp import read_ucdp_columns
from truceguard.model import Observation
from truceguard.store import SQLiteStore
from truceguard.synthetic import write_ucdp_like

READERS: list[Callable[..., Any]] = [read_ucdp, read_ucdp_columns, read_acled, read_csv_mapped,
                                     read_geojson, read_cot]


def split(items: list[Any]) -> tuple[list[Observation], list[RowError]]:
    return ([i for i in items if isinstance(i, Observation)],
            [i for i in items if isinstance(i, RowError)])


def finishes(call: Callable[[], Any], seconds: float = 10) -> BaseException | None:
    """The error ``call`` raised, in a thread that must end within ``seconds`` (a FIFO that
    were opened would block it for good)."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            out.append(None)
        except BaseException as exc:  # handed to the test
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the call blocked"
    return out[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifos_devices_directories_and_missing_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.csv"
    os.mkfifo(fifo)
    cases: list[tuple[Path, type[BaseException], str]] = [
        (fifo, InputError, "is a FIFO (named pipe), not a regular file"),
        (Path("/dev/zero"), InputError, "is a device, not a regular file"),
        (tmp_path, InputError, "is a directory"),
        (tmp_path / "nope.csv", NotFoundError, "no such file"),
    ]
    for path, kind, message in cases:
        calls: list[Callable[[], Any]] = [lambda r=r, p=path: list(r(p)) for r in READERS]
        calls += [lambda p=path: detect_format(p), lambda p=path: file_sha256(p)]
        for call in calls:
            err = finishes(call)
            assert isinstance(err, kind) and message in str(err), (path, err)
            assert err.hint  # type: ignore[union-attr]


def test_empty_files_are_one_clear_error(tmp_path: Path) -> None:
    for data in (b"", b"\xef\xbb\xbf", b"\xff\xfe"):
        p = tmp_path / "empty.dat"
        p.write_bytes(data)
        for read in READERS:
            with pytest.raises(FormatError, match="empty"):
                list(read(p))


# --- encodings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_a_17_mb_utf16_file_imports_every_row(tmp_path: Path, enc: str) -> None:
    src = tmp_path / "ged.csv"
    write_ucdp_like(src, 18_500, seed=5)
    text = src.read_text(encoding="utf-8")
    path = tmp_path / f"ged-{enc}.csv"
    bom = "\ufeff".encode(enc)
    path.write_bytes(bom + text.encode(enc))
    assert path.stat().st_size > 17_000_000 > 4 * ChunkedLines.CHUNK
    good, bad = split(list(read_ucdp(path)))
    assert bad == [] and len(good) == 18_500
    utf8, _ = split(list(read_ucdp(src)))
    assert [(g.source_line, g.raw) for g in good[::997]] == [
        (g.source_line, g.raw) for g in utf8[::997]]
    store = SQLiteStore(tmp_path / "u.db")
    try:
        summary = import_file(store, path)  # detected, over 16 MB: read in a child process
        assert (summary.fmt, summary.imported, summary.rejected) == ("ucdp", 18_500, 0)
    finally:
        store.close()


def test_code_units_and_surrogate_pairs_survive_every_block_edge(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [ucdp_row(id=str(i), where_description=f"Piski \U0001f4a5 {'é' * (i % 7)} \u2013")
             for i in range(1, 200)]
    text = UCDP_HEADER + "\n" + "\n".join(lines) + "\n"
    utf8 = tmp_path / "u8.csv"
    utf8.write_text(text, encoding="utf-8")
    expected = [(o.source_line, o.raw, o.text) for o in read_ucdp(utf8)
                if isinstance(o, Observation)]
    for enc, block, chunk in [("utf-16", 333, 777), ("utf-16-be", 4097, 1001),
                              ("utf-32", 1031, 4099)]:
        monkeypatch.setattr(Utf8Recoder, "BLOCK", block)
        monkeypatch.setattr(ChunkedLines, "CHUNK", chunk)
        path = tmp_path / f"{enc}.csv"
        path.write_text(text, encoding=enc)
        got = [(o.source_line, o.raw, o.text) for o in read_ucdp(path)
               if isinstance(o, Observation)]
        assert got == expected, enc
        assert compare(path) == (199, 0)  # the fast path reads the recoded text too


def test_multibyte_encodings_and_a_bad_code_unit(tmp_path: Path) -> None:
    path = tmp_path / "sjis.csv"
    # in Shift-JIS the second byte of 表 and ソ is 0x5C, a backslash in ASCII
    path.write_text("time,lat,lon,text\n2024-03-02,48,38,表ソ\n", encoding="shift_jis")
    (o,) = read_csv_mapped(path, encoding="shift_jis")
    assert isinstance(o, Observation) and o.text == "表ソ"
    path = tmp_path / "bad16.csv"
    good = "time,lat,lon,text\n2024-03-02,48,38,a\n".encode("utf-16-le")
    path.write_bytes(b"\xff\xfe" + good + b"\x00\xd8" + ",x\n".encode("utf-16-le")
                     + "2024-03-03,48,38,b\n".encode("utf-16-le"))
    items = list(read_csv_mapped(path))
    assert [type(i).__name__ for i in items] == ["Observation", "RowError", "Observation"]
    assert items[1].reason.startswith("not valid utf-16")  # type: ignore[union-attr]


# --- resynchronising --------------------------------------------------------------------------

def test_a_50_mb_quoted_field_does_not_swallow_the_next_row(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("time,lat,lon,text,id\n2024-03-02,48,38,first,1\n")
        fh.write('2024-03-02,48,38,"opens a quote\n')
        line = "x" * 999 + "\n"
        for _ in range(50_000):  # 50 MB of field
            fh.write(line)
        fh.write('closes it",2\n2024-03-03,48,38,after,3\n2024-03-04,48,38,last,4\n')
    tracemalloc.start()
    try:
        good, bad = split(list(read_csv_mapped(path)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [g.source_ref for g in good] == ["1", "3", "4"]
    assert [(e.line, e.field) for e in bad] == [(3, "record")]
    assert bad[0].reason.startswith("a field is over the limit of 1,048,576 bytes")
    assert "lines 3-50004 were skipped" in bad[0].reason  # the field's lines and its last
    assert len(bad[0].raw) <= 256
    assert peak < 64 << 20


@pytest.mark.parametrize("chunk", [97, 4 << 20])
def test_a_quote_left_open_costs_its_own_row_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(ChunkedLines, "CHUNK", chunk)
    lines = [ucdp_row(id=str(i)) for i in range(1, 40)]
    lines[9] = lines[9].replace("Debaltseve", '"Debaltseve')  # a quote opened, never closed
    lines[19] = lines[19] + ',"extra\nfield"'  # a record of two lines, one field too many
    path = tmp_path / "q.csv"
    path.write_text(UCDP_HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    good, bad = split(list(read_ucdp(path)))
    assert [(e.line, e.field) for e in bad] == [(11, "record"), (21, "record")]
    assert "reading went on at the next line" in bad[0].reason
    assert bad[1].reason.startswith("50 fields, the header has 49")
    assert len(good) == 37
    compare(path)  # the fast path hands these to the row path: the same records


def test_a_cot_stream_cut_mid_event_keeps_the_next_event(tmp_path: Path) -> None:
    cut = SA[: len(SA) // 2]
    big = DRONE.replace("Orlan-10 class", "A" * 200_000)
    text = "\n".join([SA, cut, MARKER, big[:150_000], DRONE, "junk", SA]) + "\n"
    path = tmp_path / "cut.cot"
    path.write_text(text, encoding="utf-8")
    for chunk in (7, 4096, 1 << 16):
        with open(path, "rb") as fh:
            pieces = list(split_events(fh, chunk_bytes=chunk))
        assert [(p.line, p.refused) for p in pieces] == [
            (1, ""), (3, "incomplete"), (5, ""), (16, "incomplete"), (17, ""),
            (18, "incomplete"), (19, "")], chunk
    good, bad = split(list(read_cot(path)))
    assert [g.source_line for g in good] == [1, 5, 17, 19]
    assert [(e.line, e.field) for e in bad] == [(3, "event"), (16, "event"), (18, "event")]
    assert bad[0].reason.startswith("incomplete event: 328 bytes")
    assert bad[1].reason.startswith("incomplete event: 150,001 bytes")
    assert bad[2].reason.startswith("not a CoT event") and bad[2].raw == "junk\n"


def test_duplicate_column_names_refuse_the_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("time,lat,lon,lat\n2024-03-02,48,38,49\n")
    with pytest.raises(FormatError, match="the column 'lat' appears more than once") as info:
        list(read_csv_mapped(path))
    assert info.value.code == "input.duplicate_column"
    path.write_text(UCDP_HEADER + ",latitude\n" + ucdp_row(id="1") + ",48\n")
    for read in (read_ucdp, read_ucdp_columns):
        with pytest.raises(FormatError, match="'latitude' appears more than once"):
            list(read(path))
    path.write_text("time,lat,lon,,\n2024-03-02,48,38,,\n")  # blank names mean nothing
    assert len(list(read_csv_mapped(path))) == 1
