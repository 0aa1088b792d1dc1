"""``/api/v1/export/{incidents|violations}``: exactly what the list endpoint answers for the
same filters, as one file in CSV, GeoJSON, GeoPackage or KML, every field kept.

The filters are the list endpoints' own (``deps.filters`` for the records' filters, and for
violations ``terms``, ``clause``, ``status``, ``published_only`` and ``min_p`` meaning what they
mean on ``/api/v1/violations``); the rows come from the same store queries with the user's
``Viewer``, their ids shown as the API's tokens. Paging parameters (``limit``, ``cursor``) are
not taken: the file holds the whole filtered view, up to ``MAX_EXPORT_ROWS`` records (more is
refused with a hint to narrow the filter, never cut short).

The files are written by the same writers as the CLI's ``incidents``/``violations --format
... -o FILE`` (``io.records`` for CSV and GeoJSON, ``io.gis`` for GeoPackage and KML), into a
temporary folder that is removed once the answer is sent. The marking, the most restrictive
of the rows (``PUBLIC`` for none), is in the file (CSV: a first line ``# marking: ...``;
GeoJSON: the collection's ``marking``; GeoPackage: the metadata item ``marking``; KML: the
document's name and description) and in the ``X-Marking`` header; every row keeps its own
``releasability``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from truceguard.errors import TooLargeError, unknown_value
from truceguard.io.records import banner, write_csv, write_geojson
from truceguard.model import Incident, User, Violation
from truceguard.query import check_sources
from truceguard.server.routes.deps import Ctx, Me, ServerContext, filters
from truceguard.server.routes.violations import violation_filter
from truceguard.store import ObservationFilter

router = APIRouter(prefix="/api/v1/export", tags=["export"])

MAX_EXPORT_ROWS = 200_000  # records one file may hold
FORMATS: dict[str, str] = {  # format -> media type
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "kml": "application/vnd.google-earth.kml+xml",
}
FORMAT_DOC = "csv, geojson, gpkg (GeoPackage) or kml"
FILE_ANSWER: dict[int | str, dict[str, Any]] = {200: {
    "description": "the file; its marking is in it and in the X-Marking header",
    "content": {media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                for media in FORMATS.values()}}}

Format = Annotated[str, Query(description=FORMAT_DOC)]
Strings = Annotated[list[str] | None, Query()]


def export_filter(request: Request, since: str | None = None, until: str | None = None,
                  bbox: str | None = None, near: str | None = None,
                  within_km: float | None = None, category: Strings = None,
                  weapon_class: Strings = None, source: Strings = None) -> ObservationFilter:
    """The list endpoints' filters (``deps.filters``), without their paging."""
    return filters(request, since, until, bbox, near, within_km, category, weapon_class,
                   source).flt


Records = Annotated[ObservationFilter, Depends(export_filter)]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise unknown_value("format", fmt, FORMATS)


def _bounded(rows: list[Any], what: str) -> list[Any]:
    if len(rows) > MAX_EXPORT_ROWS:
        raise TooLargeError(f"the view holds over {MAX_EXPORT_ROWS:,} {what}, more than one "
                            "export may hold", code="export.too_large",
                            hint="narrow the filter (a shorter period, a bbox or a category) "
                                 "and export the parts")
    return rows


def write_export(rows: list[Any], kind: type, fmt: str, path: Path, marking: str) -> int:
    """Write ``rows`` (one kind) in ``fmt`` at ``path``, stating ``marking``; how many."""
    layer = kind.__name__.lower() + "s"
    if fmt in ("gpkg", "kml"):  # GDAL's bindings load on first use, not at the server's start
        from truceguard.io.gis import write_gpkg, write_kml
    if fmt == "gpkg":
        return write_gpkg(rows, path, marking=marking, layer=layer)
    if fmt == "kml":
        return write_kml(rows, path, marking=marking, layer=layer)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            return write_csv(rows, fh, kind, marking=marking, banner_line=True)
        return write_geojson(rows, fh, marking=marking)


def _answer(ctx: ServerContext, u: User, rows: list[Any], kind: type, fmt: str
            ) -> FileResponse:
    """The file of ``rows`` (ids shown as tokens), sent from a temporary folder removed
    after the answer; audited as ``export``."""
    marking = banner(rows)
    shown = ctx.ids.shown(rows)
    layer = kind.__name__.lower() + "s"
    name = f"{layer}.{fmt}"
    folder = Path(tempfile.mkdtemp(prefix="truceguard-export-"))
    try:
        n = write_export(shown, kind, fmt, folder / name, marking)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    ctx.store.audit(u.name, "export", {"kind": layer, "format": fmt, "rows": n,
                                       "marking": marking})
    return FileResponse(folder / name, media_type=FORMATS[fmt], filename=name,
                        headers={"X-Marking": marking, "X-Count": str(n),
                                 "Cache-Control": "no-store"},
                        background=BackgroundTask(shutil.rmtree, folder, True))


@router.get("/incidents", status_code=200, response_class=FileResponse,
             responses=FILE_ANSWER)
def export_incidents(ctx: Ctx, u: Me, flt: Records, format: Format) -> FileResponse:
    """The incidents ``/api/v1/incidents`` lists for the same filters, as one file."""
    _check_format(format)
    check_sources(ctx.store, flt, u.viewer, style="api")
    rows = _bounded(ctx.store.incidents(flt, u.viewer, limit=MAX_EXPORT_ROWS + 1),
                    "incidents")
    return _answer(ctx, u, rows, Incident, format)


@router.get("/violations", status_code=200, response_class=FileResponse,
             responses=FILE_ANSWER)
def export_violations(ctx: Ctx, u: Me, flt: Records, format: Format,
                      terms: str | None = None, clause: Strings = None,
                      status: Strings = None, published_only: bool = False,
                      min_p: float | None = None) -> FileResponse:
    """The violations ``/api/v1/violations`` lists for the same filters, as one file."""
    _check_format(format)
    check_sources(ctx.store, flt, u.viewer, style="api")
    vf = violation_filter(ctx, flt, terms, clause, status, published_only, min_p)
    rows = _bounded(ctx.store.violations(vf, u.viewer, limit=MAX_EXPORT_ROWS + 1),
                    "violations")
    return _answer(ctx, u, rows, Violation, format)


__all__ = ["FORMATS", "MAX_EXPORT_ROWS", "router", "write_export"]
