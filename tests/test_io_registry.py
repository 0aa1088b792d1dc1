"""One registry of readers: the built-in formats, options checked by name, format detection,
and plugins found through a real entry point (a distribution installed on sys.path)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UCDP_CLEAN
from truceguard.errors import FormatError, InputError, NotFoundError, TruceguardError
from truceguard.ingest import import_file
from truceguard.io import (
    READERS,
    ReaderSpec,
    broken_plugins,
    detect_format,
    read_acled,
    read_cot,
    read_csv_mapped,
    read_geojson,
    read_ucdp,
    reader,
    reader_names,
    readers,
    register,
    register_reader,
    reload_plugins,
    unregister,
)
from truceguard.io.ucdp import read_ucdp_columns
from truceguard.marking import Viewer
from truceguard.model import Observation
from truceguard.store import SQLiteStore
from truceguard.store.base import ObservationFilter


def test_built_in_formats_are_registered_specs() -> None:
    specs = readers()
    assert list(specs) == reader_names() == ["acled", "cot", "csv", "geojson", "ucdp"]
    assert {n for n, s in specs.items() if s.curated} == {"acled", "ucdp"}
    assert specs["ucdp"].columnar is read_ucdp_columns
    assert all(s.columnar is None for n, s in specs.items() if n != "ucdp")
    assert specs["ucdp"].options == {"encoding", "max_record_bytes", "releasability"}
    assert specs["csv"].options == {"encoding", "max_record_bytes", "releasability", "mapping",
                                    "source"}
    assert specs["cot"].options == {"encoding", "max_record_bytes", "releasability"}
    assert all(s.origin == "built-in" and s.description for s in specs.values())
    # the compatibility view reads through to the same functions
    assert READERS["ucdp"] is read_ucdp and "geojson" in READERS and "nope" not in READERS
    assert sorted(READERS) == reader_names()


@pytest.mark.parametrize("read", [read_ucdp, read_ucdp_columns, read_acled, read_csv_mapped,
                                  read_geojson, read_cot])
def test_an_unknown_option_is_named_before_anything_is_read(read: object) -> None:
    with pytest.raises(InputError) as info:
        read(UCDP_CLEAN, encodnig="utf-8")  # type: ignore[operator]
    err = info.value
    assert err.code == "input.unknown_option"
    assert "'encodnig'" in err.message and "encoding" in err.message
    assert "did you mean 'encoding'" in err.hint


def test_options_given_as_none_count_as_not_given() -> None:
    items = list(read_ucdp(UCDP_CLEAN, mapping=None, source=None, releasability="PUBLIC"))
    assert len(items) == 3077
    with pytest.raises(InputError, match="no option 'mapping'"):
        read_ucdp(UCDP_CLEAN, mapping={"time": "date_start"})
    with pytest.raises(InputError, match="no option 'max_file_bytes'"):
        reader("geojson").open(UCDP_CLEAN, max_file_bytes=10)


def test_unknown_format_and_taken_name() -> None:
    with pytest.raises(InputError) as info:
        reader("geojsn")
    assert info.value.code == "input.unknown_format" and "did you mean 'geojson'" in info.value.hint
    with pytest.raises(InputError, match="already registered"):
        register(ReaderSpec("csv", read_csv_mapped))
    with pytest.raises(InputError, match="not valid"):
        ReaderSpec("Bad Name!", read_csv_mapped)


def test_a_reader_registered_in_code_detects_and_reads(tmp_path: Path) -> None:
    def read_tsv(path: str | os.PathLike[str], *, releasability: str = "PUBLIC"
                 ) -> Iterator[Observation]:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                lat, lon, t = line.rstrip("\n").split("\t")
                yield Observation("tsv", "seen", int(t), int(t), 1, float(lat), float(lon), None,
                                  "shots", releasability=releasability, source_line=n)

    p = tmp_path / "obs.tsv"
    p.write_text("48.1\t37.9\t1709362800\n")
    register_reader("tsv", read_tsv)
    try:
        assert reader("tsv").options == {"releasability"}
        (o,) = READERS["tsv"](p, releasability="REL TO GBR", mapping=None)
        assert o.releasability == "REL TO GBR"
        with pytest.raises(InputError, match="no option 'encoding'"):
            READERS["tsv"](p, encoding="utf-8")
        with pytest.raises(FormatError):  # it sniffs nothing, so detection does not pick it
            detect_format(p)
    finally:
        unregister("tsv")
    assert "tsv" not in reader_names()


# --- plugins through a real entry point ------------------------------------------------------

PLUGIN = '''
"""A reader of "#PIPE" files: lat|lon|ISO time|text, one observation a line."""
from truceguard.io.registry import ReaderSpec
from truceguard.io.timeparse import parse_time
from truceguard.io.base import sha256_hex
from truceguard.errors import RowError
from truceguard.model import Observation


def read_pipe(path, *, encoding="utf-8", releasability="PUBLIC"):
    with open(path, encoding="utf-8" if encoding == "auto" else encoding) as fh:
        for n, line in enumerate(fh, 1):
            if n == 1:
                continue
            lat, lon, when, text = line.rstrip("\\n").split("|")
            if not -90 <= float(lat) <= 90:
                yield RowError(str(path), n, "lat", "outside -90..90", line)
                continue
            t, prec = parse_time(when)
            yield Observation("pipe", "seen", t, t + prec - 1, prec, float(lat), float(lon),
                              None, "shots", text=text, releasability=releasability,
                              raw=line, raw_sha256=sha256_hex(line), source_file=str(path),
                              source_line=n)


def sniff_pipe(path, head):
    return 3 if head.startswith(b"#PIPE") else 0


def spec():
    return ReaderSpec("pipe", read_pipe, sniff_pipe, description="pipe-separated test format")
'''


def install(site: Path, dist: str, module: str | None, entry_points: str) -> None:
    """A distribution as pip leaves it: a module and a .dist-info with its entry points."""
    if module is not None:
        (site / f"{dist}.py").write_text(textwrap.dedent(module), encoding="utf-8")
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[truceguard.readers]\n" + entry_points)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    monkeypatch.undo()
    reload_plugins()


def test_a_plugin_registers_through_its_entry_point_and_imports(site: Path, tmp_path: Path
                                                                ) -> None:
    install(site, "tg_pipe", PLUGIN, "pipe = tg_pipe:spec\n")
    reload_plugins()
    spec = reader("pipe")
    assert spec.origin.startswith("plugin 'pipe' (tg_pipe:spec, from tg_pipe 1.0")
    assert spec.options == {"encoding", "releasability"} and not spec.curated
    data = tmp_path / "feed.txt"
    data.write_text("#PIPE\n48.1|37.9|2024-03-02T06:40:00Z|3 bursts\n95|37.9|2024-03-02|x\n"
                    "48.2|38.0|2024-03-02T07:00Z|flash\n")
    assert detect_format(data) == "pipe"
    with pytest.raises(InputError, match="no option 'mapping'"):
        spec.open(data, mapping={"time": "x"})
    store = SQLiteStore(tmp_path / "p.db")
    try:
        summary = import_file(store, data, fmt="pipe", releasability="REL TO GBR")
        assert (summary.imported, summary.rejected) == (2, 1)
        assert summary.errors[0].line == 3
        stored = list(store.observations(ObservationFilter(), Viewer.owner()))
        assert [o.text for o in stored] == ["3 bursts", "flash"]
        assert {o.releasability for o in stored} == {"REL TO GBR"}
    finally:
        store.close()


def test_a_broken_plugin_is_a_clear_error_naming_it(site: Path, tmp_path: Path) -> None:
    install(site, "tg_broken", "raise RuntimeError('the plugin fails at import')\n",
            "broken = tg_broken:spec\n")
    install(site, "tg_gone", None, "gone = tg_no_such_module:spec\n")
    install(site, "tg_clash", "from truceguard.io.registry import ReaderSpec\n"
            "spec = ReaderSpec('csv', lambda path: iter(()))\n", "clash = tg_clash:spec\n")
    install(site, "tg_wrong", "spec = 42\n", "wrong = tg_wrong:spec\n")
    reload_plugins()  # none of them raises here
    problems = {e.message.split("'")[1]: e for e in broken_plugins()}
    assert set(problems) == {"broken", "gone", "clash", "wrong"}
    assert all(e.code == "install.broken_plugin" for e in problems.values())
    assert "RuntimeError: the plugin fails at import" in problems["broken"].message
    assert "tg_broken" in problems["broken"].hint
    assert "ModuleNotFoundError" in problems["gone"].message
    assert "taken by the built-in reader" in problems["clash"].message
    assert "not a ReaderSpec" in problems["wrong"].message
    with pytest.raises(TruceguardError, match="reader plugin 'broken'"):
        reader("broken")
    assert reader("csv").origin == "built-in"  # the built-in kept its name
    # the other formats work, and detection says what is broken when it cannot decide
    assert detect_format(UCDP_CLEAN) == "ucdp"
    odd = tmp_path / "odd.dat"
    odd.write_text("what,ever\n1,2\n")
    with pytest.raises(FormatError, match="plugin 'broken'"):
        detect_format(odd)


# --- detection --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", "id,where_prec,date_prec,date_start,latitude,longitude\n", "ucdp"),
        ("a.txt", "event_id_cnty,event_date,geo_precision,latitude,longitude\n", "acled"),
        ("a.csv", "time,lat,lon\n", "csv"),
        ("a.json", "time,lat,lon\n", "csv"),  # the content outweighs the suffix
        ("a.dat", "\ufeff{\"type\": \"FeatureCollection\"", "geojson"),
        ("a.geojson", "not json at all", "geojson"),
        ("a.dat", "  <?xml version='1.0'?><event/>", "cot"),
        ("a.cot", "junk", "cot"),
    ],
)
def test_detection(tmp_path: Path, name: str, content: str, expected: str) -> None:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8")
    assert detect_format(p) == expected


def test_detection_reads_utf16_headers_and_names_ties(tmp_path: Path) -> None:
    p = tmp_path / "u.csv"
    p.write_text("time,lat,lon\n2024-01-01,48,38\n", encoding="utf-16")
    assert detect_format(p) == "csv"
    both = tmp_path / "both.dat"
    both.write_text("x", encoding="utf-8")
    register(ReaderSpec("zz-tie", read_csv_mapped, lambda path, head: 2))
    register(ReaderSpec("zz-tie2", read_csv_mapped, lambda path, head: True + 1))
    try:
        with pytest.raises(FormatError, match="could be read as zz-tie or zz-tie2"):
            detect_format(both)
    finally:
        unregister("zz-tie")
        unregister("zz-tie2")


def test_detection_of_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        detect_format(tmp_path / "none.csv")
    with pytest.raises(InputError, match="is a directory"):
        detect_format(tmp_path)
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"\xef\xbb\xbf  \n")
    with pytest.raises(FormatError, match="empty"):
        detect_format(empty)
