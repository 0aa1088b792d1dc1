"""``/api/v1/basemap``: the basemap the server was started with (``truceguard serve
--basemap FILE``, a PMTiles archive, ``truceguard.web.basemap``): what it is, its tiles one by
one for the dashboard's map, and the whole archive with HTTP Range for clients that read
PMTiles themselves (the ``pmtiles`` JavaScript library, QGIS, GDAL).

Each route needs a token like the rest of the API (the page adds it to the map's tile
requests). The basemap has the marking its operator gave it (``--basemap-marking``, default
``PUBLIC``): to a user who may not see it, it does not exist, exactly as on a server
without one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from truceguard.errors import InputError, NotFoundError
from truceguard.marking import Marking
from truceguard.server.routes.attachments import BINARY
from truceguard.server.routes.deps import Me
from truceguard.web.basemap import CONTENT_ENCODINGS, MAX_ZOOM, MEDIA_TYPES, Basemap

router = APIRouter(prefix="/api/v1/basemap", tags=["basemap"])

TILES_PATH = "/api/v1/basemap/tiles/{z}/{x}/{y}"
ARCHIVE_PATH = "/api/v1/basemap/archive"


@dataclass(frozen=True)
class ServedBasemap:
    """The archive a server serves and the marking its operator gave it."""

    archive: Basemap
    marking: Marking


class BasemapAnswer(BaseModel):
    """The server's basemap: what a map needs to draw it, and where its tiles are."""

    marking: str
    name: str
    file: str = Field(description="the archive's file name (not its path)")
    size_bytes: int
    tile_type: str = Field(description="mvt (vector tiles), png, jpeg, webp or avif")
    tile_compression: str
    min_zoom: int
    max_zoom: int
    bounds: list[float] = Field(description="west, south, east, north (degrees)")
    center: list[float] = Field(description="longitude, latitude, zoom")
    attribution: str = Field(description="the archive's attribution: shown on the map")
    description: str
    vector_layers: list[dict[str, Any]] = Field(
        description="for vector tiles, the layers the archive's metadata names")
    tiles: str = Field(description="the tiles' address, {z}/{x}/{y} filled in by the map")
    archive: str = Field(description="the whole archive, read with HTTP Range")


def _served(request: Request, u: Any) -> ServedBasemap:
    served: ServedBasemap | None = getattr(request.app.state, "basemap", None)
    if served is None or not u.viewer.may_see(served.marking):
        raise NotFoundError("this server has no basemap",
                            hint="its operator starts it with --basemap FILE (a PMTiles "
                                 "archive); the map is drawn without one",
                            code="not_found.basemap")
    return served


@router.get("", response_model=BasemapAnswer)
def basemap(request: Request, u: Me) -> dict[str, Any]:
    """The basemap this server was started with: its tile type, zooms, bounds, attribution
    and where to read its tiles (404 ``not_found.basemap`` when it has none)."""
    served = _served(request, u)
    return {**served.archive.info.as_json(), "marking": served.marking.text,
            "tiles": TILES_PATH, "archive": ARCHIVE_PATH}


Coordinate = Annotated[int, Path(ge=0, le=2**MAX_ZOOM - 1)]


@router.get("/tiles/{z}/{x}/{y}", response_class=Response,
            responses={200: {"content": {t: BINARY for t in MEDIA_TYPES.values()},
                             "description": "the tile as the archive stores it (204, no "
                                            "content, where the archive has none)"}})
async def basemap_tile(request: Request, u: Me, z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
                       x: Coordinate, y: Coordinate) -> Response:
    """One tile of the basemap (XYZ numbering, y down), as the archive stores it: a vector
    tile with the Content-Encoding of its compression, or an image; 204 where it has none."""
    served = _served(request, u)
    if x >= 2**z or y >= 2**z:
        raise InputError(f"tile {z}/{x}/{y} does not exist: at zoom {z}, x and y are "
                         f"0-{2**z - 1}", hint="ask for tiles the map's zoom has",
                         code="input.out_of_range")
    data = await asyncio.to_thread(served.archive.tile, z, x, y)
    info = served.archive.info
    headers = {"Cache-Control": "private, max-age=3600", "X-Marking": served.marking.text}
    if data is None:
        return Response(status_code=204, headers=headers)
    encoding = CONTENT_ENCODINGS.get(info.tile_compression)
    if encoding:
        headers["Content-Encoding"] = encoding
    return Response(data, media_type=MEDIA_TYPES[info.tile_type], headers=headers)


@router.get("/archive", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": BINARY},
                             "description": "the archive (206 for a Range request)"}})
def basemap_archive(request: Request, u: Me) -> FileResponse:
    """The whole PMTiles archive; a Range request gets the bytes it names (206), so a client
    reads only the header, the directories and the tiles it needs."""
    served = _served(request, u)
    return FileResponse(served.archive.path, media_type="application/octet-stream",
                        headers={"Cache-Control": "private, max-age=3600",
                                 "X-Marking": served.marking.text})


__all__ = ["ARCHIVE_PATH", "TILES_PATH", "BasemapAnswer", "ServedBasemap", "router"]
