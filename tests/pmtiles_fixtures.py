"""PMTiles archives for the basemap tests, written with the ``pmtiles`` package's writer:
raster tiles (PNG, each one colour) and vector tiles (bytes stored gzipped, as vector
archives are)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

# Where the test archives lie: eastern Ukraine (west, south, east, north).
BOUNDS = (34.0, 46.0, 40.5, 50.5)


def png_tile(colour: tuple[int, int, int], size: int = 256) -> bytes:
    """A PNG tile of one colour."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format="PNG")
    return buf.getvalue()


def tiles_over(bounds: tuple[float, float, float, float], zooms: Iterable[int]
               ) -> list[tuple[int, int, int]]:
    """Every XYZ tile (z, x, y) that ``bounds`` touches at each of ``zooms``."""
    import math

    def xy(lon: float, lat: float, z: int) -> tuple[int, int]:
        n = 2**z
        x = int((lon + 180) / 360 * n)
        r = math.radians(lat)
        y = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
        return min(x, n - 1), min(y, n - 1)

    out = []
    for z in zooms:
        x0, y0 = xy(bounds[0], bounds[3], z)
        x1, y1 = xy(bounds[2], bounds[1], z)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def write_archive(path: Path, tiles: dict[tuple[int, int, int], bytes], *, tile_type: str,
                  metadata: dict[str, Any] | None = None,
                  bounds: tuple[float, float, float, float] = BOUNDS) -> Path:
    """Write ``tiles`` ({(z, x, y): bytes as stored}) as a PMTiles version 3 archive."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    types = {"png": TileType.PNG, "mvt": TileType.MVT, "jpeg": TileType.JPEG,
             "webp": TileType.WEBP}
    with open(path, "wb") as fh:
        w = Writer(fh)
        for tile_id, data in sorted((zxy_to_tileid(*k), v) for k, v in tiles.items()):
            w.write_tile(tile_id, data)
        zs = [k[0] for k in tiles]
        w.finalize({
            "tile_type": types[tile_type],
            "tile_compression": Compression.GZIP if tile_type == "mvt" else Compression.NONE,
            "min_lon_e7": int(bounds[0] * 1e7), "min_lat_e7": int(bounds[1] * 1e7),
            "max_lon_e7": int(bounds[2] * 1e7), "max_lat_e7": int(bounds[3] * 1e7),
            "center_zoom": min(zs), "center_lon_e7": int((bounds[0] + bounds[2]) / 2 * 1e7),
            "center_lat_e7": int((bounds[1] + bounds[3]) / 2 * 1e7)}, metadata or {})
    return path


def raster_archive(path: Path, colour: tuple[int, int, int] = (255, 0, 255),
                   zooms: Iterable[int] = range(0, 9),
                   attribution: str = "test tiles (CC0)") -> Path:
    """An archive of PNG tiles of one colour over ``BOUNDS`` at ``zooms``."""
    tile = png_tile(colour)
    return write_archive(path, {k: tile for k in tiles_over(BOUNDS, zooms)},
                         tile_type="png",
                         metadata={"name": "test raster", "attribution": attribution})


def vector_archive(path: Path, zooms: Iterable[int] = range(0, 4)) -> Path:
    """An archive of 'vector tiles' over ``BOUNDS`` (distinct bytes, stored gzipped)."""
    tiles = {k: gzip.compress(f"tile {k}".encode(), mtime=0)
             for k in tiles_over(BOUNDS, zooms)}
    return write_archive(path, tiles, tile_type="mvt", metadata={
        "name": "test vector", "attribution": "test vector tiles",
        "vector_layers": [{"id": "water", "fields": {}}, {"id": "roads", "fields": {}}]})


def many_tiles(zooms: Iterable[int] = range(0, 14)) -> dict[tuple[int, int, int], bytes]:
    """Distinct short tiles of varied lengths over ``BOUNDS``: enough entries (about 30,000)
    that the archive's directory does not fit its root and is split into leaves."""
    import hashlib

    out = {}
    for k in tiles_over(BOUNDS, zooms):
        digest = hashlib.sha256(repr(k).encode()).digest()
        out[k] = digest[:1 + digest[0] % 31]
    return out


# -- vector tiles (Mapbox Vector Tile 2.1, protobuf), written by hand for the tests -----------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = _varint(number << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 31)


def _geometry(kind: str, points: list[tuple[int, int]]) -> list[int]:
    """The command integers of one point, line or ring (closed) in tile coordinates."""
    out, x, y = [], 0, 0
    for i, (px, py) in enumerate(points):
        if i == 0:
            out.append(1 | 1 << 3)  # MoveTo, 1
        elif i == 1:
            out.append(2 | (len(points) - 1) << 3)  # LineTo, the rest
        out += [_zigzag(px - x), _zigzag(py - y)]
        x, y = px, py
    if kind == "polygon":
        out.append(7 | 1 << 3)  # ClosePath
    return out


def mvt_tile(layers: dict[str, list[tuple[str, list[tuple[int, int]], dict[str, str]]]]
             ) -> bytes:
    """A vector tile of ``layers``: {name: [(point|line|polygon, tile coordinates 0-4096,
    string properties)]}."""
    types = {"point": 1, "line": 2, "polygon": 3}
    out = b""
    for name, features in layers.items():
        keys: list[str] = []
        values: list[str] = []
        body = _field(15, 0, _varint(2)) + _field(1, 2, name.encode())
        for kind, points, props in features:
            tags = []
            for k, v in props.items():
                if k not in keys:
                    keys.append(k)
                if v not in values:
                    values.append(v)
                tags += [keys.index(k), values.index(v)]
            packed = b"".join(_varint(t) for t in tags)
            geom = b"".join(_varint(c) for c in _geometry(kind, points))
            feature = (_field(2, 2, packed) + _field(3, 0, _varint(types[kind]))
                       + _field(4, 2, geom))
            body += _field(2, 2, feature)
        body += b"".join(_field(3, 2, k.encode()) for k in keys)
        body += b"".join(_field(4, 2, _field(1, 2, v.encode())) for v in values)
        body += _field(5, 0, _varint(4096))
        out += _field(3, 2, body)
    return out


def osm_like_archive(path: Path, zooms: Iterable[int] = range(0, 9),
                     attribution: str = "test OSM-like") -> Path:
    """An archive of real vector tiles over ``BOUNDS`` in the shape of an OpenStreetMap
    extract: each tile wholly water, a road across it and a named place at its centre."""
    tile = gzip.compress(mvt_tile({
        "water": [("polygon", [(0, 0), (4096, 0), (4096, 4096), (0, 4096)], {})],
        "roads": [("line", [(0, 0), (4096, 4096)], {"kind": "major_road"})],
        "places": [("point", [(2048, 2048)], {"name": "Донецьк", "kind": "locality"})],
    }), mtime=0)
    return write_archive(path, {k: tile for k in tiles_over(BOUNDS, zooms)}, tile_type="mvt",
                         metadata={"name": "test streets", "attribution": attribution,
                                   "vector_layers": [{"id": "water", "fields": {}},
                                                     {"id": "roads", "fields": {"kind": "String"}},
                                                     {"id": "places",
                                                      "fields": {"name": "String"}}]})
