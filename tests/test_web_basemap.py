"""The basemap an operator gives (``serve --basemap FILE``): a PMTiles archive read tile by
tile (``truceguard.web.basemap``) and served by ``/api/v1/basemap`` with the server's tokens
and the marking its operator gave it; damaged or hostile archives are refused at the start."""

from __future__ import annotations

import asyncio
import gzip
import json
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.pmtiles_fixtures import (
    BOUNDS,
    many_tiles,
    png_tile,
    raster_archive,
    tiles_over,
    vector_archive,
    write_archive,
)
from tests.server_fixtures import Server, serving
from truceguard.errors import InputError
from truceguard.marking import parse_marking
from truceguard.server.routes.basemap import ServedBasemap
from truceguard.store import open_store
from truceguard.users import add_user
from truceguard.web.basemap import Basemap, BasemapDamagedError


# -- reading an archive --------------------------------------------------------------------------
def test_every_tile_reads_back_as_written_and_tiles_not_written_are_none(tmp_path: Path):
    tiles = {k: png_tile((k[0] * 20, k[1] % 256, k[2] % 256), size=8)
             for k in tiles_over(BOUNDS, range(0, 7))}
    archive = Basemap(write_archive(tmp_path / "a.pmtiles", tiles, tile_type="png"))
    assert archive.info.tile_type == "png" and archive.info.bounds == BOUNDS
    assert (archive.info.min_zoom, archive.info.max_zoom) == (0, 6)
    for k, data in tiles.items():
        assert archive.tile(*k) == data, k
    assert archive.tile(6, 0, 0) is None  # inside the zooms, outside the bounds
    assert archive.tile(7, *next(iter(tiles))[1:]) is None  # beyond the zooms
    assert archive.tile(3, 8, 0) is None  # not a tile at all


def test_tiles_behind_leaf_directories_are_found(tmp_path: Path):
    """An archive whose directory does not fit its root (over 16 KiB) keeps leaves; every
    tile is found through them, as the package's own reader finds it."""
    from pmtiles.reader import MmapSource, Reader

    tiles = many_tiles()
    keys = sorted(tiles)
    path = write_archive(tmp_path / "big.pmtiles", tiles, tile_type="png")
    with open(path, "rb") as fh:
        theirs = Reader(MmapSource(fh))
        assert theirs.header()["leaf_directory_length"] > 0, "no leaves: test not testing"
        archive = Basemap(path)
        for k in keys[::331]:
            assert archive.tile(*k) == theirs.get(*k) == tiles[k], k


def test_a_file_that_is_not_an_archive_is_refused_naming_it(tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("not a map\n" * 20)
    with pytest.raises(InputError) as err:
        Basemap(text)
    assert err.value.code == "input.basemap" and "notes.txt" in err.value.message
    assert "PMTiles" in err.value.message and err.value.hint
    with pytest.raises(InputError, match="cannot be read"):
        Basemap(tmp_path / "missing.pmtiles")
    short = tmp_path / "short.pmtiles"
    short.write_bytes(b"PMTiles\x03")
    with pytest.raises(InputError, match="shorter than a header"):
        Basemap(short)
    old = tmp_path / "v2.pmtiles"
    old.write_bytes(b"PMTiles\x02" + bytes(200))
    with pytest.raises(InputError, match="version 2"):
        Basemap(old)


def _patched(src: Path, dst: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(src.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    dst.write_bytes(bytes(data))
    return dst


def test_offsets_outside_the_file_and_bombs_are_refused_not_read(tmp_path: Path):
    good = raster_archive(tmp_path / "good.pmtiles")
    # root directory 1 MiB long (over the 16 KiB the format allows)
    with pytest.raises(InputError, match="root directory"):
        Basemap(_patched(good, tmp_path / "root.pmtiles", 16, "<Q", 2**20))
    # metadata past the end of the file
    with pytest.raises(InputError, match="metadata lies outside"):
        Basemap(_patched(good, tmp_path / "meta.pmtiles", 24, "<Q", 2**40))
    # a tile type a browser does not draw (0: unknown)
    with pytest.raises(InputError, match="tile type"):
        Basemap(_patched(good, tmp_path / "type.pmtiles", 99, "<B", 0))
    # metadata that inflates to 64 MiB from a few kilobytes: stopped at its bound
    bomb = write_archive(tmp_path / "bomb.pmtiles", {(0, 0, 0): png_tile((0, 0, 0))},
                         tile_type="png", metadata={"name": "x" * (64 * 2**20)})
    assert bomb.stat().st_size < 200_000
    with pytest.raises(InputError, match="over 4,194,304 bytes"):
        Basemap(bomb)


def test_a_directory_damaged_after_the_start_is_a_server_error_not_a_crash(tmp_path: Path):
    tiles = many_tiles()
    keys = sorted(tiles)
    path = write_archive(tmp_path / "big.pmtiles", tiles, tile_type="png")
    archive = Basemap(path)
    leaves = archive._header["leaf_directory_offset"]
    with open(path, "r+b") as fh:  # the memory map sees the file's bytes as they are now
        fh.seek(leaves)
        fh.write(b"\xff" * 64)
    with pytest.raises(BasemapDamagedError) as err:
        for k in keys:
            archive.tile(*k)
    assert err.value.code == "basemap.damaged" and err.value.http_status == 500


def test_a_file_cut_short_while_served_is_damage_named_by_its_file_not_a_crash(tmp_path: Path):
    """Overwritten in place (``cp`` truncates first) while the server reads it: the tiles
    past the new end are answered as damage, naming the file but not where it lies."""
    tiles = many_tiles()
    path = write_archive(tmp_path / "big.pmtiles", tiles, tile_type="png")
    archive = Basemap(path)
    keys = sorted(tiles)
    assert archive.tile(*keys[-1]) == tiles[keys[-1]]
    with open(path, "r+b") as fh:
        fh.truncate(archive._header["tile_data_offset"] + 10)
    with pytest.raises(BasemapDamagedError) as err:
        for k in keys:
            archive.tile(*k)
    assert "big.pmtiles" in err.value.message and str(tmp_path) not in err.value.message


def _directory_bytes(entries: list[tuple[int, int, int, int]]) -> bytes:
    """A directory as stored uncompressed: count, id deltas, runs, lengths, offsets + 1."""
    from pmtiles.tile import Entry, serialize_directory

    return gzip.decompress(serialize_directory([Entry(*e) for e in entries]))


def _uncompressed(tmp_path: Path, name: str, root: bytes, meta: bytes = b"{}") -> Path:
    """An archive with internal compression none, this root and no tiles."""
    from pmtiles.tile import Compression, TileType, serialize_header

    header = {"root_offset": 127, "root_length": len(root), "metadata_offset": 127 + len(root),
              "metadata_length": len(meta), "leaf_directory_offset": 127 + len(root) + len(meta),
              "leaf_directory_length": 0, "tile_data_offset": 127 + len(root) + len(meta),
              "tile_data_length": 0, "addressed_tiles_count": 0, "tile_entries_count": 0,
              "tile_contents_count": 0, "clustered": True,
              "internal_compression": Compression.NONE, "tile_compression": Compression.NONE,
              "tile_type": TileType.PNG, "min_zoom": 0, "max_zoom": 2,
              "min_lon_e7": int(BOUNDS[0] * 1e7), "min_lat_e7": int(BOUNDS[1] * 1e7),
              "max_lon_e7": int(BOUNDS[2] * 1e7), "max_lat_e7": int(BOUNDS[3] * 1e7),
              "center_zoom": 0, "center_lon_e7": 0, "center_lat_e7": 0}
    path = tmp_path / name
    path.write_bytes(serialize_header(header) + root + meta)
    return path


def test_uncompressed_directories_and_their_varints_are_bounded(tmp_path: Path):
    """Directories stored without compression meet the same bounds: metadata over its
    limit, a varint over 10 bytes, more entries than bytes, a first entry with no offset."""
    root = _directory_bytes([(0, 0, 1, 1)])  # tile 0: one byte, but the tiles hold none
    with pytest.raises(BasemapDamagedError, match="lies outside the tiles"):
        Basemap(_uncompressed(tmp_path, "ok.pmtiles", root)).tile(0, 0, 0)
    with pytest.raises(InputError, match="metadata is over"):
        Basemap(_uncompressed(tmp_path, "meta.pmtiles", root,
                              b'{"name": "' + b"x" * (5 * 2**20) + b'"}'))
    with pytest.raises(InputError, match="over 10 bytes"):
        Basemap(_uncompressed(tmp_path, "varint.pmtiles", b"\x01" + b"\xff" * 2000))
    with pytest.raises(InputError, match="entries in"):
        Basemap(_uncompressed(tmp_path, "count.pmtiles", b"\xff\xff\x03" + bytes(40)))
    with pytest.raises(InputError, match="no offset"):
        Basemap(_uncompressed(tmp_path, "offset.pmtiles", b"\x01\x00\x01\x05\x00"))


def test_only_well_formed_vector_layers_reach_the_map(tmp_path: Path):
    layers = [{"id": ""}, {"id": 7}, {"id": "water"}, {"id": "water"}, "roads", {"id": "x" * 101},
              {"id": "roads", "fields": "not a dict"}]
    layers += [{"id": f"l{k}"} for k in range(200)]
    path = write_archive(tmp_path / "v.pmtiles", {(0, 0, 0): b"x"}, tile_type="mvt",
                         metadata={"vector_layers": layers})
    named = Basemap(path).info.vector_layers
    assert named[:2] == [{"id": "water", "fields": {}}, {"id": "roads", "fields": {}}]
    assert len(named) == 100 and len({v["id"] for v in named}) == 100


# -- serving it ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("basemap")
    path = raster_archive(folder / "relief.pmtiles")
    with serving(folder, "--basemap", str(path)) as srv:
        yield srv, path


def test_the_basemap_is_described_and_each_tile_served_as_stored(raster):
    srv, path = raster
    with srv.client("fra") as c:
        info = c.get("/api/v1/basemap").json()
        assert info["marking"] == "PUBLIC" and info["tile_type"] == "png"
        assert info["bounds"] == list(BOUNDS) and info["file"] == "relief.pmtiles"
        assert info["attribution"] == "test tiles (CC0)" and str(path) not in json.dumps(info)
        assert info["tiles"] == "/api/v1/basemap/tiles/{z}/{x}/{y}"
        archive = Basemap(path)
        for z, x, y in tiles_over(BOUNDS, range(0, 9))[::5]:
            r = c.get(f"/api/v1/basemap/tiles/{z}/{x}/{y}")
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.content == archive.tile(z, x, y) and r.headers["x-marking"] == "PUBLIC"
        assert c.get("/api/v1/basemap/tiles/8/0/0").status_code == 204
        bad = c.get("/api/v1/basemap/tiles/3/8/0")
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "input.out_of_range"
        assert "3/8/0" in bad.json()["error"]["message"]
        deep = c.get("/api/v1/basemap/tiles/31/0/0")
        assert deep.status_code == 400 and deep.json()["error"]["code"].startswith("input.")
    with srv.client(None) as anon:
        for url in ("/api/v1/basemap", "/api/v1/basemap/tiles/0/0/0", "/api/v1/basemap/archive"):
            assert anon.get(url).status_code == 401, url


def test_the_archive_is_served_with_range_and_a_client_reads_its_tiles_by_range(raster):
    """A PMTiles client that reads the archive over HTTP only by Range requests (the
    package's Reader, its bytes fetched from the server) finds every tile."""
    from pmtiles.reader import Reader

    srv, path = raster
    whole = path.read_bytes()
    asked: list[int] = []
    with srv.client("gbr") as c:
        def get_bytes(offset: int, length: int) -> bytes:
            r = c.get("/api/v1/basemap/archive",
                      headers={"Range": f"bytes={offset}-{offset + length - 1}"})
            assert r.status_code == 206, r.text
            last = offset + length - 1
            assert r.headers["content-range"] == f"bytes {offset}-{last}/{len(whole)}"
            asked.append(length)
            return r.content

        reader = Reader(get_bytes)
        assert reader.metadata()["name"] == "test raster"
        for k in tiles_over(BOUNDS, range(0, 9)):
            assert reader.get(*k) == Basemap(path).tile(*k)
        full = c.get("/api/v1/basemap/archive")
        assert full.status_code == 200 and full.content == whole
        assert full.headers["accept-ranges"] == "bytes"
    assert max(asked) < len(whole)


@contextmanager
def in_process(folder: Path, basemap: ServedBasemap | None
               ) -> Iterator[Callable[[str, str], httpx.Response]]:
    """The API in this process over a new store in ``folder`` serving ``basemap``: a
    function that GETs a URL as gbr or fra (analysts of GBR and FRA)."""
    from truceguard.server.api import create_app

    with open_store(str(folder / "m.db")) as store:
        tokens = {u: add_user(store, u, u.upper(), "analyst", by="test")[1]
                  for u in ("gbr", "fra")}
        app = create_app(store, basemap=basemap)

        def get(user: str, url: str) -> httpx.Response:
            async def go() -> httpx.Response:
                async with httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://test",
                        headers={"Authorization": f"Bearer {tokens[user]}"}) as client:
                    return await client.get(url)
            return asyncio.run(go())

        yield get


def test_vector_tiles_keep_their_compression_for_the_browser(tmp_path: Path):
    archive = Basemap(vector_archive(tmp_path / "streets.pmtiles"))
    served = ServedBasemap(archive, parse_marking("REL TO GBR"))
    with in_process(tmp_path, served) as get:
        info = get("gbr", "/api/v1/basemap").json()
        assert info["tile_type"] == "mvt" and info["marking"] == "REL TO GBR"
        assert [v["id"] for v in info["vector_layers"]] == ["water", "roads"]
        r = get("gbr", "/api/v1/basemap/tiles/1/1/0")
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert r.content == b"tile (1, 1, 0)"  # as the browser reads it: inflated
        hidden = {url: get("fra", url) for url in (
            "/api/v1/basemap", "/api/v1/basemap/tiles/1/1/0", "/api/v1/basemap/archive")}
    # to a user who may not see its marking there is no basemap, exactly as on a server
    # without one
    (tmp_path / "plain").mkdir()
    with in_process(tmp_path / "plain", None) as get:
        for url, r in hidden.items():
            none = get("fra", url)
            assert r.status_code == none.status_code == 404, url
            assert r.json() == none.json(), url
            assert none.json()["error"]["code"] == "not_found.basemap"
            assert "--basemap" in none.json()["error"]["hint"]
            assert "GBR" not in r.text


@pytest.mark.parametrize(("command", "fault"), [("serve", "not an archive"),
                                                ("dashboard", "bad marking")])
def test_a_bad_basemap_stops_the_command_before_it_starts_with_the_envelope(
        tmp_path: Path, command: str, fault: str):
    db = tmp_path / "m.db"
    with open_store(str(db)) as store:
        store.set_owner_nation("GBR")
    if fault == "not an archive":
        given = tmp_path / "map.png"
        given.write_bytes(png_tile((1, 2, 3)))
        extra, said = [], ["is not a readable PMTiles archive", "map.png", "'PMTiles'"]
    else:
        given = raster_archive(tmp_path / "ok.pmtiles")
        extra, said = ["--basemap-marking", "REL TO XQZ"], ["'XQZ' is not a country"]
    args = [sys.executable, "-m", "truceguard", command, "--db", str(db), "--port",
            "8765", "--basemap", str(given), *extra]
    if command == "dashboard":
        args.append("--no-browser")
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("Error: ") and "Hint: " in out.stderr, out.stderr
    assert all(s in out.stderr for s in said), out.stderr
    with open_store(str(db)) as store:  # the dashboard made no session user
        assert store.users() == []
