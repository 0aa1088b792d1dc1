"""A basemap the user supplies: one PMTiles (version 3) archive of raster or vector tiles,
read where it lies and served tile by tile (``server/routes/basemap.py``).

PMTiles is a single file of map tiles with a 127-byte header, a root directory within its
first 16 KiB, leaf directories and the tiles, each found by its offset and length, so any
tile is read with a few ranged reads (``os.pread`` on the open file: a file cut short while
served gives short reads, answered as damage, never a crash). The header is decoded by the
PyPI ``pmtiles`` package; the directories here, bounded: a directory is read only inside its
section of the file and at most ``MAX_DIRECTORY_READ`` bytes, decompressed to at most
``MAX_DIRECTORY_BYTES`` (the metadata ``MAX_METADATA_BYTES``, compressed or not), with at most
``MAX_ENTRIES`` entries of varints of at most 10 bytes; a tile only inside the tiles' section
and at most ``MAX_TILE_BYTES``; decoded directories are kept up to ``CACHED_ENTRIES`` entries
in all, and one thread decodes at a time. A damaged or hostile archive gives
``input.basemap`` at the start, ``basemap.damaged`` (naming the file, not its path) while
served, or ``None`` for a tile it cannot find.

Replace a served archive by renaming the new file over it and restarting the server: the
server reads the file it opened.

What the dashboard needs to draw it (``BasemapInfo``): the tile type, zooms, bounds, centre,
attribution and, for vector tiles, the layers the archive's metadata names.
"""

from __future__ import annotations

import bisect
import json
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
MAX_DIRECTORY_READ = 2 * 2**20  # a directory as stored (leaves are tens of kilobytes)
MAX_DIRECTORY_BYTES = 4 * 2**20  # decompressed
MAX_ENTRIES = 262_144  # a directory's entries (writers split leaves at 4,096 and up)
CACHED_ENTRIES = 2_000_000  # decoded entries kept, all directories together (~ 64 MB)
MAX_METADATA_BYTES = 4 * 2**20
MAX_TILE_BYTES = 16 * 2**20
MAX_LAYERS = 100  # vector layers named to the map
MAX_DEPTH = 4  # root, then at most three levels of leaves (the specification's bound)
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


class _Damage(Exception):
    """What is wrong with an archive (said to its operator at the start, with the path; to
    users while served, with the file's name only)."""


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
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise InputError(f"basemap {self.path!r} cannot be read: {exc.strerror or exc}",
                             hint="give the path of a PMTiles file you may read",
                             code="input.basemap") from None
        self.size = os.fstat(self._fd).st_size
        self._lock = threading.Lock()  # the cache
        self._decoding = threading.Lock()  # one directory decoded at a time
        self._directories: OrderedDict[tuple[int, int], tuple[list[int], list[tuple[
            int, int, int]]]] = OrderedDict()
        self._cached = 0
        try:
            head = self._read(0, HEADER_BYTES) or b""
            if len(head) < HEADER_BYTES:
                raise _Damage(f"{self.size} bytes, shorter than a header")
            if head[:7] != b"PMTiles":
                raise _Damage("it does not start with 'PMTiles'")
            if head[7] != 3:
                raise _Damage(f"version {head[7]} (only version 3 is read)")
            try:
                self._header = deserialize_header(head)
            except ValueError as exc:  # an unknown compression or tile type code
                raise _Damage(str(exc)) from None
            self.info = self._read_info()
            h = self._header
            self._directory(h["root_offset"], h["root_length"], (0, self.size))
        except _Damage as exc:
            self.close()
            raise _bad(self.path, str(exc)) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _read_info(self) -> BasemapInfo:
        h = self._header
        tile_type = TILE_TYPES.get(int(h["tile_type"].value))
        if tile_type is None:
            raise _Damage(f"tile type {h['tile_type'].name.lower()} is not drawn by a "
                          f"browser map (one of {', '.join(TILE_TYPES.values())})")
        if h["root_length"] > ROOT_MAX_BYTES or h["root_offset"] + h["root_length"] > self.size:
            raise _Damage("its root directory lies outside the file")
        if not h["min_zoom"] <= h["max_zoom"] <= MAX_ZOOM:
            raise _Damage(f"zooms {h['min_zoom']}-{h['max_zoom']}")
        meta = self._metadata()
        bounds = tuple(round(h[k] / 1e7, 7) for k in ("min_lon_e7", "min_lat_e7",
                                                      "max_lon_e7", "max_lat_e7"))
        w, s, e, n = bounds
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise _Damage(f"bounds {list(bounds)}")
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
            vector_layers=_layers(layers))

    def _metadata(self) -> dict[str, Any]:
        h = self._header
        length = h["metadata_length"]
        if length > MAX_METADATA_BYTES:
            raise _Damage(f"its metadata is over {MAX_METADATA_BYTES:,} bytes")
        raw = self._read(h["metadata_offset"], length)
        if raw is None:
            raise _Damage("its metadata lies outside the file")
        try:
            text = self._inflate(raw, MAX_METADATA_BYTES)
            meta = json.loads(text) if text.strip() else {}
        except (ValueError, zlib.error, EOFError, RecursionError) as exc:
            raise _Damage(f"its metadata cannot be read ({type(exc).__name__})") from None
        return meta if isinstance(meta, dict) else {}

    def _read(self, offset: int, length: int) -> bytes | None:
        """``length`` bytes at ``offset``, or None when they are not all in the file (as it
        was at the start, and as it is now)."""
        if offset < 0 or length < 0 or offset + length > self.size:
            return None
        try:
            data = os.pread(self._fd, length, offset)
        except OSError:
            return None
        return data if len(data) == length else None

    def _inflate(self, raw: bytes, limit: int) -> bytes:
        """``raw`` decompressed as the archive's internal compression says, at most
        ``limit`` bytes (more: damage)."""
        how = int(self._header["internal_compression"].value)
        if how not in (1, 2):
            raise _Damage(f"internal compression {COMPRESSIONS.get(how, how)} (gzip or none "
                          "are read)")
        out = raw if how == 1 else zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
            raw, limit + 1)
        if len(out) > limit:
            raise _Damage(f"a directory or its metadata is over {limit:,} bytes decompressed")
        return out

    def _directory(self, offset: int, length: int, within: tuple[int, int]
                   ) -> tuple[list[int], list[tuple[int, int, int]]]:
        """The directory at ``offset`` (inside ``within``, a section of the file): its tile
        ids, and each entry's (run length, offset, length); decoded once and kept."""
        key = (offset, length)
        with self._lock:
            if key in self._directories:
                self._directories.move_to_end(key)
                return self._directories[key]
        start, end = within
        if not (start <= offset and offset + length <= end) or length > MAX_DIRECTORY_READ:
            raise _Damage(f"a directory at byte {offset} ({length:,} bytes) lies outside its "
                          "section or is too long")
        raw = self._read(offset, length)
        if raw is None:
            raise _Damage(f"a directory at byte {offset} lies outside the file")
        with self._decoding:
            try:
                decoded = _entries(self._inflate(raw, MAX_DIRECTORY_BYTES))
            except (zlib.error, EOFError, IndexError, ValueError) as exc:
                raise _Damage(f"a directory at byte {offset} cannot be read ({exc})") from None
        with self._lock:
            if key not in self._directories:
                self._directories[key] = decoded
                self._cached += len(decoded[0])
            while self._cached > CACHED_ENTRIES and len(self._directories) > 1:
                self._cached -= len(self._directories.popitem(last=False)[1][0])
        return decoded

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at ``z/x/y`` (XYZ numbering, y down) as stored, or None."""
        from pmtiles.tile import zxy_to_tileid

        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z):
            return None
        if not self.info.min_zoom <= z <= self.info.max_zoom:
            return None
        tile_id = zxy_to_tileid(z, x, y)
        h = self._header
        leaves = (h["leaf_directory_offset"],
                  h["leaf_directory_offset"] + h["leaf_directory_length"])
        tiles = (h["tile_data_offset"], h["tile_data_offset"] + h["tile_data_length"])
        offset, length, within = h["root_offset"], h["root_length"], (0, self.size)
        try:
            for _ in range(MAX_DEPTH):
                entry = _find(self._directory(offset, length, within), tile_id)
                if entry is None:
                    return None
                run_length, e_offset, e_length = entry
                if run_length == 0:  # a leaf directory
                    offset, length, within = leaves[0] + e_offset, e_length, leaves
                    continue
                at = tiles[0] + e_offset
                if not (tiles[0] <= at and at + e_length <= tiles[1]) or (
                        e_length > MAX_TILE_BYTES):
                    raise _Damage(f"tile {z}/{x}/{y} lies outside the tiles or is too long")
                data = self._read(at, e_length)
                if data is None:
                    raise _Damage(f"tile {z}/{x}/{y} lies outside the file")
                return data
        except _Damage as exc:
            raise BasemapDamagedError(f"the basemap {Path(self.path).name} is damaged: {exc}"
                                      ) from None
        return None


def _text(value: Any) -> str:
    return value.strip()[:2000] if isinstance(value, str) else ""


def _layers(layers: Any) -> list[dict[str, Any]]:
    """The vector layers the metadata names that a map can draw: each a dict with a
    non-empty text ``id`` (at most 100 characters), each id once, at most ``MAX_LAYERS``."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for v in layers if isinstance(layers, list) else []:
        lid = v.get("id") if isinstance(v, dict) else None
        if isinstance(lid, str) and 0 < len(lid) <= 100 and lid not in seen:
            seen.add(lid)
            out.append({"id": lid, "fields": v.get("fields") if isinstance(
                v.get("fields"), dict) else {}})
        if len(out) == MAX_LAYERS:
            break
    return out


def _varints(buf: bytes, pos: int, count: int) -> tuple[list[int], int]:
    """``count`` varints of ``buf`` from ``pos`` (each at most 10 bytes), and the position
    after them."""
    out = []
    for _ in range(count):
        value = shift = 0
        while True:
            if pos >= len(buf) or shift > 63:
                raise ValueError("a varint runs past its directory or over 10 bytes")
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        out.append(value)
    return out, pos


def _entries(buf: bytes) -> tuple[list[int], list[tuple[int, int, int]]]:
    """A directory's tile ids and entries (run length, offset, length), decoded from its
    (decompressed) bytes."""
    (n,), pos = _varints(buf, 0, 1)
    if n > MAX_ENTRIES or 4 * n > len(buf):  # every entry takes a byte in each column
        raise ValueError(f"{n:,} entries in {len(buf):,} bytes")
    deltas, pos = _varints(buf, pos, n)
    runs, pos = _varints(buf, pos, n)
    lengths, pos = _varints(buf, pos, n)
    stored, pos = _varints(buf, pos, n)
    ids, offsets, last = [], [], 0
    for i in range(n):
        last += deltas[i]
        ids.append(last)
        if stored[i] == 0 and i == 0:
            raise ValueError("the first entry has no offset")
        offsets.append(offsets[i - 1] + lengths[i - 1] if stored[i] == 0 else stored[i] - 1)
    return ids, list(zip(runs, offsets, lengths, strict=True))


def _find(directory: tuple[list[int], list[tuple[int, int, int]]], tile_id: int
          ) -> tuple[int, int, int] | None:
    """The entry holding ``tile_id``: its own, the run it falls in, or the leaf directory
    that covers it (the last entry before it with run length 0)."""
    ids, entries = directory
    k = bisect.bisect_right(ids, tile_id) - 1
    if k < 0:
        return None
    run_length = entries[k][0]
    if ids[k] == tile_id or run_length == 0 or tile_id < ids[k] + run_length:
        return entries[k]
    return None


__all__ = ["CONTENT_ENCODINGS", "MEDIA_TYPES", "Basemap", "BasemapDamagedError", "BasemapInfo"]
