"""A basemap the user supplies: one PMTiles (version 3) archive of raster or vector tiles,
read where it lies and served tile by tile (``server/routes/basemap.py``).

PMTiles is a single file of map tiles with a 127-byte header, a root directory within its
first 16 KiB, leaf directories and the tiles, each found by its offset and length, so any
tile is read with a few ranged reads (here, from a read-only memory map of the file). The
header and varints are decoded by the PyPI ``pmtiles`` package's functions; the directories
are decompressed here, bounded (``MAX_DIRECTORY_BYTES``), and every offset and length is
checked against the file before it is read: a damaged or hostile archive gives
``input.basemap`` (or ``None`` for a tile it cannot find), never a read outside the file or an
unbounded decompression.

What the dashboard needs to draw it (``BasemapInfo``): the tile type, zooms, bounds, centre,
attribution and, for vector tiles, the layers the archive's metadata names.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from truceguard.errors import InputError, TruceguardError

HEADER_BYTES = 127
ROOT_MAX_BYTES = 16_384  # the specification: the header and root directory fit in 16 KiB
MAX_DIRECTORY_BYTES = 32 * 2**20  # a decompressed directory (a leaf holds ~ 20 B an entry)
MAX_METADATA_BYTES = 4 * 2**20
MAX_DEPTH = 4  # root, then at most three levels of leaves (the specification's bound)
DIRECTORY_CACHE = 64  # directories kept decoded
MAX_ZOOM = 30

# The tile types a browser map draws, and how each is answered.
TILE_TYPES = {1: "mvt", 2: "png", 3: "jpeg", 4: "webp", 5: "avif"}
MEDIA_TYPES = {"mvt": "application/vnd.mapbox-vector-tile", "png": "image/png",
               "jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}
# PMTiles' compression codes; tiles compressed as a whole are answered as such, with this
# Content-Encoding, and the browser decompresses them.
COMPRESSIONS = {0: "unknown", 1: "none", 2: "gzip", 3: "br", 4: "zstd"}
CONTENT_ENCODINGS = {"gzip": "gzip", "br": "br", "zstd": "zstd"}


@dataclass(frozen=True)
class BasemapInfo:
    """What a map needs to draw an archive: ``tile_type`` (``mvt`` for vector tiles, else
    the image format), the zooms it holds, ``bounds`` (west, south, east, north, degrees),
    ``center`` (lon, lat, zoom), its name, attribution and description from its metadata,
    and for vector tiles ``vector_layers`` (each ``{"id", "fields"...}`` as the metadata
    gives them)."""

    path: str
    size_bytes: int
    tile_type: str
    tile_compression: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]
    center: tuple[float, float, int]
    name: str
    attribution: str
    description: str
    vector_layers: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "tile_type": self.tile_type,
                "tile_compression": self.tile_compression, "min_zoom": self.min_zoom,
                "max_zoom": self.max_zoom, "bounds": list(self.bounds),
                "center": list(self.center), "attribution": self.attribution,
                "description": self.description, "vector_layers": self.vector_layers,
                "size_bytes": self.size_bytes, "file": Path(self.path).name}


class BasemapDamagedError(TruceguardError):
    """A part of the basemap read while serving (a directory) is damaged: the file changed
    or was broken after the server checked it at its start."""

    code = "basemap.damaged"
    http_status = 500
    default_hint = "the server's basemap file is damaged: its operator should replace it"


def _bad(path: str, what: str) -> InputError:
    return InputError(f"basemap {path!r} is not a readable PMTiles archive: {what}",
                      hint="give a PMTiles version 3 file (e.g. made by `pmtiles convert` "
                           "or `pmtiles extract`) of raster or vector tiles",
                      code="input.basemap")


class Basemap:
    """A PMTiles archive opened read-only; ``tile(z, x, y)`` gives a tile's bytes as stored
    (None where the archive has none). Safe to call from several threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from pmtiles.tile import deserialize_header

        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < HEADER_BYTES:
                    raise _bad(self.path, f"{size} bytes, shorter than a header")
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise InputError(f"basemap {self.path!r} cannot be read: {exc.strerror}",
                             hint="give the path of a PMTiles file you may read",
                             code="input.basemap") from None
        self.size = size
        self._lock = threading.Lock()
        self._directories: OrderedDict[tuple[int, int], list[tuple[int, int, int, int]]] = (
            OrderedDict())
        head = self._map[:HEADER_BYTES]
        problem = ("it does not start with 'PMTiles'" if head[:7] != b"PMTiles" else
                   f"version {head[7]} (only version 3 is read)" if head[7] != 3 else None)
        if problem is None:
            try:
                self._header = deserialize_header(head)
            except ValueError as exc:  # an unknown compression or tile type code
                problem = str(exc)
        if problem is not None:
            self.close()
            raise _bad(self.path, problem)
        try:
            self.info = self._read_info()
            self._directory(self._header["root_offset"], self._header["root_length"])
        except InputError:
            self.close()
            raise

    def close(self) -> None:
        self._map.close()

    def _read_info(self) -> BasemapInfo:
        h = self._header
        tile_type = TILE_TYPES.get(int(h["tile_type"].value))
        if tile_type is None:
            raise _bad(self.path, f"tile type {h['tile_type'].name.lower()} is not drawn "
                                  f"by a browser map (one of {', '.join(TILE_TYPES.values())})")
        if h["root_length"] > ROOT_MAX_BYTES or h["root_offset"] + h["root_length"] > self.size:
            raise _bad(self.path, "its root directory lies outside the file")
        if not h["min_zoom"] <= h["max_zoom"] <= MAX_ZOOM:
            raise _bad(self.path, f"zooms {h['min_zoom']}-{h['max_zoom']}")
        meta = self._metadata()
        bounds = tuple(round(h[k] / 1e7, 7) for k in ("min_lon_e7", "min_lat_e7",
                                                      "max_lon_e7", "max_lat_e7"))
        w, s, e, n = bounds
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise _bad(self.path, f"bounds {list(bounds)}")
        layers = meta.get("vector_layers") if tile_type == "mvt" else None
        return BasemapInfo(
            path=self.path, size_bytes=self.size, tile_type=tile_type,
            tile_compression=COMPRESSIONS.get(int(h["tile_compression"].value), "unknown"),
            min_zoom=int(h["min_zoom"]), max_zoom=int(h["max_zoom"]),
            bounds=(w, s, e, n), center=(round(h["center_lon_e7"] / 1e7, 7),
                                         round(h["center_lat_e7"] / 1e7, 7),
                                         int(h["center_zoom"])),
            name=_text(meta.get("name")) or Path(self.path).stem,
            attribution=_text(meta.get("attribution")),
            description=_text(meta.get("description")),
            vector_layers=[dict(v) for v in layers if isinstance(v, dict) and "id" in v]
            if isinstance(layers, list) else [])

    def _metadata(self) -> dict[str, Any]:
        h = self._header
        raw = self._bytes(h["metadata_offset"], h["metadata_length"])
        if raw is None:
            raise _bad(self.path, "its metadata lies outside the file")
        try:
            text = self._inflate(raw, MAX_METADATA_BYTES)
            meta = json.loads(text) if text.strip() else {}
        except (ValueError, zlib.error, EOFError) as exc:
            raise _bad(self.path, f"its metadata cannot be read ({exc})") from None
        return meta if isinstance(meta, dict) else {}

    def _bytes(self, offset: int, length: int) -> bytes | None:
        """``length`` bytes at ``offset``, or None when they are not all in the file."""
        if offset < 0 or length < 0 or offset + length > self.size:
            return None
        return self._map[offset:offset + length]

    def _inflate(self, raw: bytes, limit: int) -> bytes:
        """``raw`` decompressed as the archive's internal compression says, at most
        ``limit`` bytes (more: ``input.basemap``)."""
        how = int(self._header["internal_compression"].value)
        if how == 1:
            return raw
        if how != 2:
            raise _bad(self.path, f"internal compression {COMPRESSIONS.get(how, how)} "
                                  "(gzip or none are read)")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(raw, limit + 1)
        if len(out) > limit:
            raise _bad(self.path, f"a directory or its metadata is over {limit:,} bytes "
                                  "decompressed")
        return out

    def _directory(self, offset: int, length: int) -> list[tuple[int, int, int, int]]:
        """The entries (tile id, run length, offset, length) of the directory at ``offset``,
        decoded once and kept (the last ``DIRECTORY_CACHE``)."""
        key = (offset, length)
        with self._lock:
            if key in self._directories:
                self._directories.move_to_end(key)
                return self._directories[key]
        raw = self._bytes(offset, length)
        if raw is None:
            raise _bad(self.path, f"a directory at {offset} lies outside the file")
        try:
            entries = _entries(self._inflate(raw, MAX_DIRECTORY_BYTES))
        except (zlib.error, EOFError, IndexError, ValueError) as exc:
            raise _bad(self.path, f"a directory at {offset} cannot be read ({exc})") from None
        with self._lock:
            self._directories[key] = entries
            while len(self._directories) > DIRECTORY_CACHE:
                self._directories.popitem(last=False)
        return entries

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at ``z/x/y`` (XYZ numbering, y down) as stored, or None."""
        from pmtiles.tile import zxy_to_tileid

        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        if not self.info.min_zoom <= z <= self.info.max_zoom:
            return None
        tile_id = zxy_to_tileid(z, x, y)
        h = self._header
        offset, length = h["root_offset"], h["root_length"]
        for _ in range(MAX_DEPTH):
            try:
                directory = self._directory(offset, length)
            except InputError as exc:
                raise BasemapDamagedError(exc.message) from None
            entry = _find(directory, tile_id)
            if entry is None:
                return None
            _, run_length, e_offset, e_length = entry
            if run_length == 0:  # a leaf directory
                offset, length = h["leaf_directory_offset"] + e_offset, e_length
                continue
            return self._bytes(h["tile_data_offset"] + e_offset, e_length)
        return None


def _text(value: Any) -> str:
    return value.strip()[:2000] if isinstance(value, str) else ""


def _entries(buf: bytes) -> list[tuple[int, int, int, int]]:
    """A directory's entries, decoded from its (decompressed) bytes."""
    from pmtiles.tile import read_varint

    b = io.BytesIO(buf)
    n = read_varint(b)
    if n > len(buf):  # every entry takes at least one byte in each of four columns
        raise ValueError(f"{n} entries in {len(buf)} bytes")
    ids, last = [], 0
    for _ in range(n):
        last += read_varint(b)
        ids.append(last)
    runs = [read_varint(b) for _ in range(n)]
    lengths = [read_varint(b) for _ in range(n)]
    offsets: list[int] = []
    for i in range(n):
        v = read_varint(b)
        offsets.append(offsets[i - 1] + lengths[i - 1] if i > 0 and v == 0 else v - 1)
    return list(zip(ids, runs, offsets, lengths, strict=True))


def _find(entries: list[tuple[int, int, int, int]], tile_id: int
          ) -> tuple[int, int, int, int] | None:
    """The entry holding ``tile_id``: its own, the run it falls in, or the leaf directory
    that covers it (the last entry before it with run length 0)."""
    import bisect

    k = bisect.bisect_right(entries, (tile_id, float("inf"))) - 1
    if k < 0:
        return None
    entry = entries[k]
    if entry[0] == tile_id:
        return entry
    if entry[1] == 0 or tile_id < entry[0] + entry[1]:
        return entry
    return None


__all__ = ["CONTENT_ENCODINGS", "MEDIA_TYPES", "Basemap", "BasemapDamagedError", "BasemapInfo"]
