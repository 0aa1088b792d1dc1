"""The dashboard (``truceguard.web``) and the read-only API routes it needs beyond the
records: the shipped map layers, the zones of the active terms and the narrowest of a set of
markings.

``/`` is the page and ``/app/...`` its files, without a token (they hold no data); MapLibre GL
JS is served from the installed ``maplibre`` package at ``/app/vendor/``. The page asks for
everything else through ``/api/v1`` with the user's bearer token, like any other client.
``install(app)`` adds them to an app made by ``create_app``.
"""

from __future__ import annotations

import asyncio
import csv
import json
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from truceguard.errors import InputError, NotFoundError, unknown_value
from truceguard.marking import most_restrictive
from truceguard.server.ids import ApiIds
from truceguard.server.routes.deps import Ctx, F, Me
from truceguard.web import MAPLIBRE_FILES, STATIC, maplibre_file

router = APIRouter(tags=["dashboard"])

MAX_MARKINGS = 200  # markings one request may narrow

# The page loads only what this server serves; MapLibre runs its workers from blob: URLs.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data: blob:; worker-src blob:; child-src blob:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

LAYERS = {
    "countries": "country boundaries (Natural Earth)",
    "oblasts": "Ukraine's oblasts (geoBoundaries ADM1)",
    "line_of_contact": "the lines of contact: Minsk-era (2015-2022) and sampled 2022-2026",
    "places": "populated places in Ukraine (GeoNames cities1000)",
}


class LayerDocument(BaseModel):
    """A shipped layer as a GeoJSON FeatureCollection, with its name and marking."""

    type: Literal["FeatureCollection"]
    name: str
    title: str
    marking: str
    features: list[dict[str, Any]]


class LayerItem(BaseModel):
    name: str
    title: str


class LayerList(BaseModel):
    items: list[LayerItem]


class NarrowestMarking(BaseModel):
    """The most restrictive of the markings given: what may be released to someone who may
    see every one of them."""

    marking: str


@router.get("/", include_in_schema=False)
def dashboard_page() -> HTMLResponse:
    """The dashboard's page (no data in it: the page asks the API with the user's token)."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_POLICY,
                                       "Cache-Control": "no-store",
                                       "Referrer-Policy": "no-referrer"})


@router.get("/app/vendor/{name}", include_in_schema=False)
def maplibre_asset(name: str) -> FileResponse:
    """MapLibre GL JS's script or style sheet, from the installed ``maplibre`` package."""
    path = maplibre_file(name)
    if path is None:
        if name in MAPLIBRE_FILES:
            raise NotFoundError(f"{name} is not installed",
                                hint="pip install maplibre (a dependency of truceguard)",
                                code="not_found.route")
        raise unknown_value("file", name, MAPLIBRE_FILES, code="not_found.route",
                            cls=NotFoundError)
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(path, media_type=media)


# The map's glyphs and icons, made from the installed packages (truceguard.web.glyphs and
# .sprites); no token, like the vendor files: they hold no data. Declared on the router,
# which install() includes before the /app mount, so they win over it.
ASSET_CACHE = {"Cache-Control": "public, max-age=86400"}
SPRITE_FILES = {"sprite.json": (1, 0), "sprite.png": (1, 1), "sprite@2x.json": (2, 0),
                "sprite@2x.png": (2, 1)}  # name: (pixel ratio, 0 the index or 1 the PNG)


@router.get("/app/glyphs/{fontstack}/{span}.pbf", include_in_schema=False)
async def map_glyphs(fontstack: str, span: str) -> Response:
    """The glyph PBF of code points START..END (``START-END``, END = START + 255) of a
    fontstack (the first known font of a comma-separated list)."""
    import re

    from truceguard.web.glyphs import glyph_range, resolve_fontstack

    m = re.fullmatch(r"([0-9]{1,5})-([0-9]{1,5})", span)
    start = int(m[1]) if m else -1
    if m is None or int(m[2]) != start + 255 or start % 256 or start >= 65536:
        shown = span if len(span) <= 40 else span[:40] + "..."
        raise InputError(f"glyph range {shown!r} is not START-END with START a multiple "
                         "of 256 below 65536 and END = START + 255",
                         hint="ask for 0-255.pbf, 256-511.pbf ... 65280-65535.pbf",
                         code="input.glyph_range")
    resolve_fontstack(fontstack)  # an unknown font is refused here, not on the maker's thread
    # Made (each range once per process, one at a time: ``web.glyphs``) on the event loop's
    # own executor, not the API's worker threads: a burst of first requests waits there.
    made = await asyncio.to_thread(glyph_range, fontstack, start)
    return Response(made, media_type="application/x-protobuf", headers=ASSET_CACHE)


@router.get("/app/sprites/{name}", include_in_schema=False)
def map_sprite(name: str) -> Response:
    """The map's sprite sheet: sprite.json and sprite.png, sprite@2x.json and sprite@2x.png."""
    from truceguard.web.sprites import sprite

    if name not in SPRITE_FILES:
        raise unknown_value("sprite file", name, SPRITE_FILES, code="not_found.route",
                            cls=NotFoundError)
    ratio, part = SPRITE_FILES[name]
    media = "image/png" if part else "application/json"
    return Response(sprite(ratio)[part], media_type=media, headers=ASSET_CACHE)


@router.get("/api/v1/layers", response_model=LayerList)
def list_layers(u: Me) -> dict[str, Any]:
    """The map layers shipped with truceguard (public data; see data/DATA.md)."""
    return {"items": [{"name": n, "title": t} for n, t in LAYERS.items()]}


@router.get("/api/v1/layers/{name}", response_model=LayerDocument)
def get_layer(name: str, u: Me) -> Response:
    """One shipped layer as GeoJSON (lon/lat), marked PUBLIC."""
    if name not in LAYERS:
        raise unknown_value("layer", name, LAYERS, code="not_found.layer", cls=NotFoundError)
    return Response(_layer_bytes(name), media_type="application/json",
                    headers={"Cache-Control": "private, max-age=3600"})


class ZoneDocument(BaseModel):
    """The zones of terms as a GeoJSON FeatureCollection (lon/lat), with their marking: one
    feature per zone (and side, for a band), naming the clauses that apply in it."""

    type: Literal["FeatureCollection"]
    marking: str
    terms: list[str]
    features: list[dict[str, Any]]


@router.get("/api/v1/zones", response_model=ZoneDocument)
def terms_zones(ctx: Ctx, u: Me, terms: Annotated[list[str] | None, Query(
        description="shipped terms (repeat the parameter); default: every terms this "
                    "store was judged against")] = None) -> Response:
    """The zones of the active terms, drawn for the map: a band as deep as the terms say on
    each side of that side's own line, a polygon as given, a settlements zone as circles; each
    clipped to the terms' area. Terms are public documents: marked PUBLIC."""
    from truceguard.server.routes.catalog import shipped_terms_name

    names = sorted(set(terms)) if terms else sorted(ctx.store.adjudicated_terms())
    features: list[dict[str, Any]] = []
    for name in names:
        features += json.loads(_zone_bytes(shipped_terms_name(name)))
    doc = {"type": "FeatureCollection", "marking": "PUBLIC", "terms": names,
           "features": features}
    return Response(json.dumps(doc, separators=(",", ":")), media_type="application/json",
                    headers={"Cache-Control": "private, max-age=3600"})


@cache
def _zone_bytes(name: str) -> bytes:
    """The zone features of shipped terms ``name`` as JSON (built once: a second or two)."""
    import shapely

    from truceguard.judge.terms import load_terms

    t = load_terms(name)
    proj = t.projection

    def lonlat(geom: Any) -> Any:
        return shapely.transform(geom, lambda xy: np.column_stack(proj.inverse(xy[:, 0],
                                                                               xy[:, 1])))

    clip = proj.project_geometry(t.area) if t.area is not None else None
    side1 = proj.project_geometry(t.side_polygon)
    out: list[dict[str, Any]] = []
    for z in t.zones:
        clauses = [c.id for c in (*t.clauses, *t.cap_clauses) if c.zone == z.id]
        parts: list[tuple[str, Any]] = []
        if z.shape == "band":
            for s in (0, 1):
                line = t.side_lines[s] if t.side_lines[s] is not None else t.line
                band = proj.project_geometry(line).buffer(z.distance_m[s], quad_segs=4)
                band = band.intersection(side1) if s == 1 else band.difference(side1)
                parts.append((t.sides[s].label, band))
        elif z.shape == "polygon":
            parts.append(("", proj.project_geometry(z.polygon)))
        elif z.points is not None and len(z.points):
            x, y = proj.forward(z.points[:, 0], z.points[:, 1])
            parts.append(("", shapely.union_all(shapely.buffer(shapely.points(x, y),
                                                                z.radius_m, quad_segs=4))))
        for side, geom in parts:
            if clip is not None:
                geom = geom.intersection(clip)
            if geom.is_empty:
                continue
            shape = lonlat(geom.simplify(200.0))
            out.append({"type": "Feature", "geometry": shapely.geometry.mapping(shape),
                        "properties": {"terms": name, "zone": z.id, "shape": z.shape,
                                       "side": side, "weapons": list(z.weapons),
                                       "clauses": clauses, "certainty": z.certainty.level}})
    return json.dumps(out, separators=(",", ":")).encode()


# The map's columns and how each is written: "id" an integer, "token" the API's token of a
# violation, "time" integer epoch seconds, ("round", d) a number to d decimals, "coded" text
# as {"values": distinct texts, "codes": an index into them per record}.
INCIDENT_COLUMNS: dict[str, Any] = {
    "incident_id": "id", "t_start": "time", "lon": ("round", 5), "lat": ("round", 5),
    "uncertainty_m": ("round", 0), "category": "coded", "grade": "coded"}
VIOLATION_COLUMNS: dict[str, Any] = {
    "violation_id": "token", "incident_id": "id", "t_start": "time", "lon": ("round", 5),
    "lat": ("round", 5), "clause": "coded", "p_location": ("round", 3), "status": "coded"}
MapPart = Literal["incidents", "violations"]


class CodedColumn(BaseModel):
    """A text column, coded: record ``k``'s text is ``values[codes[k]]``."""

    values: list[str]
    codes: list[int]


class MapColumns(BaseModel):
    """Records as columns: ``count`` records; ``columns`` maps each field to its list of
    ``count`` values (record ``k``'s field is at ``k``), or to a :class:`CodedColumn`."""

    count: int
    columns: dict[str, list[int | float | str] | CodedColumn]


class MapView(BaseModel):
    """What the map draws of a filtered view, compact: the incidents and violations that
    ``GET /incidents`` and ``GET /violations`` list with the same filters (every page, in
    their order), only the fields the map, the timeline and the list use, as columns; marked
    as the narrowest of them. Times are epoch seconds (UTC), ``lon``/``lat`` have 5
    decimals (about a metre), ``uncertainty_m`` is whole metres and ``p_location`` has 3
    decimals; ``category``, ``grade``, ``clause`` and ``status`` are coded; violation ids are
    the API's tokens. A part left out by ``part`` is absent."""

    marking: str
    terms: list[str] = Field(description="the terms this store was judged against (those "
                             "GET /zones draws by default)")
    incidents: MapColumns | None = None
    violations: MapColumns | None = None


@router.get("/api/v1/map", response_model=MapView, response_model_exclude_none=True)
def map_view(ctx: Ctx, u: Me, f: F, clause: Annotated[list[str] | None, Query(
        description="violations of these clauses only (as GET /violations)")] = None,
             part: Annotated[list[MapPart] | None, Query(
        description="only these parts of the view (repeat the parameter); default: both. "
                    "A page may ask for the incidents first and draw them while the "
                    "violations are read")] = None,
             ) -> Response:
    """The filtered view for the map in one answer (100,000 incidents in about 5 MB): the
    records the list endpoints give with the same filters, releasable to you, as columns
    read straight from the store (``incident_columns``, ``violation_columns``)."""
    from truceguard.pipeline import listed_statuses
    from truceguard.query import check_sources, default_min_p, resolve_terms_and_clauses
    from truceguard.store import ViolationFilter

    if f.after is not None:
        raise InputError("cursor is not taken by GET /api/v1/map: it answers every record "
                         "of the view at once", hint="leave cursor out",
                         code="input.unknown_parameter")
    parts = set(part or ("incidents", "violations"))
    flt = f.flt
    check_sources(ctx.store, flt, u.viewer, style="api")
    doc: dict[str, Any] = {"marking": None, "terms": sorted(ctx.store.adjudicated_terms())}
    markings: set[str] = set()
    if "incidents" in parts:
        cols = ctx.store.incident_columns(flt, u.viewer)
        markings.update(cols["releasability"].tolist())
        doc["incidents"] = _columns(ctx.ids, cols, INCIDENT_COLUMNS)
    if "violations" in parts:
        terms, clauses = resolve_terms_and_clauses(ctx.store, None, tuple(clause or ()))
        vf = ViolationFilter(records=flt, terms=terms, clauses=clauses,
                             statuses=listed_statuses((), False, style="api"),
                             min_p_location=default_min_p())
        cols = ctx.store.violation_columns(vf, u.viewer)
        markings.update(cols["releasability"].tolist())
        doc["violations"] = _columns(ctx.ids, cols, VIOLATION_COLUMNS)
    doc["marking"] = most_restrictive(sorted(markings)).text
    return Response(json.dumps(doc, separators=(",", ":")), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _columns(ids: ApiIds, cols: dict[str, np.ndarray], how: dict[str, Any]
             ) -> dict[str, Any]:
    """The answer's form of the store's ``cols`` (``MapColumns``), each written as ``how``
    says (violation ids as ``ids`` shows them)."""
    out: dict[str, Any] = {}
    for name, form in how.items():
        col = cols[name]
        if form in ("id", "time"):
            out[name] = col.astype(np.int64).tolist()
        elif form == "token":
            out[name] = ids.shown({"violation_ids": col.tolist()})["violation_ids"]
        elif form == "coded":  # values in the order they first appear
            index: dict[str, int] = {}
            codes = [index.setdefault(v, len(index)) for v in col.tolist()]
            out[name] = {"values": list(index), "codes": codes}
        elif form == ("round", 0):
            out[name] = np.rint(col).astype(np.int64).tolist()
        else:
            out[name] = np.round(col, form[1]).tolist()
    return {"count": len(next(iter(cols.values()))), "columns": out}


@router.get("/api/v1/markings/narrowest", response_model=NarrowestMarking)
def narrowest_marking(u: Me, marking: Annotated[list[str] | None, Query(
        description="a marking (repeat the parameter); PUBLIC when none is given")] = None,
        ) -> dict[str, Any]:
    """The most restrictive of the markings given, as the API's banners compute it: what a
    page showing records of all of them is marked."""
    given = marking or []
    if len(given) > MAX_MARKINGS:
        raise InputError(f"{len(given)} markings given, over the limit of {MAX_MARKINGS}",
                         hint="give each distinct marking once", code="input.too_many")
    return {"marking": most_restrictive(given).text}


@cache
def _layer_bytes(name: str) -> bytes:
    doc = {"type": "FeatureCollection", "name": name, "title": LAYERS[name],
           "marking": "PUBLIC", "features": _features(name)}
    return json.dumps(doc, separators=(",", ":")).encode()


def _features(name: str) -> list[dict[str, Any]]:
    from truceguard.geo.shipped import data_path

    def read(*parts: str) -> list[dict[str, Any]]:
        with open(data_path(*parts), encoding="utf-8") as fh:
            feats: list[dict[str, Any]] = json.load(fh)["features"]
            return feats

    def feature(geometry: Any, **props: Any) -> dict[str, Any]:
        return {"type": "Feature", "geometry": geometry, "properties": props}

    if name == "countries":
        return [feature(f["geometry"], name=f["properties"].get("NAME"),
                        iso=f["properties"].get("ADM0_A3"))
                for f in read("boundaries", "natural_earth_10m_europe_simplified.geojson")]
    if name == "oblasts":
        return [feature(f["geometry"], name=f["properties"].get("shapeName"),
                        iso=f["properties"].get("shapeISO"))
                for f in read("boundaries", "geoboundaries_ukr_adm1_simplified.geojson")]
    if name == "line_of_contact":
        minsk = read("lines", "minsk_line_of_contact_2015_2022.geojson")[0]
        out = [feature(minsk["geometry"], name="Minsk-era line of contact",
                       valid_from="2015-02-15", valid_to="2022-02-23")]
        samples = read("lines", "line_of_contact_samples_2022_2026.geojson")
        dates = [str(f["properties"]["date"]) for f in samples]
        for i, f in enumerate(samples):
            out.append(feature(f["geometry"], name=f"line of contact on {dates[i]}",
                               valid_from="2022-02-24" if i == 0 else dates[i],
                               valid_to=dates[i + 1] if i + 1 < len(dates) else None))
        return out
    with open(data_path("places", "geonames_cities1000_flank.csv"), encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["cc"] == "UA"]
    return [feature({"type": "Point", "coordinates": [float(r["lon"]), float(r["lat"])]},
                    name=r["name"], admin1=r["admin1"]) for r in rows]


def install(app: FastAPI, responses: dict[int | str, dict[str, Any]] | None = None) -> None:
    """Serve the dashboard from ``app``: the page, the shipped layers, the markings' narrowing
    (through ``router``, its operations documenting ``responses``) and the page's files under
    ``/app``."""
    app.include_router(router, responses=responses)
    app.mount("/app", StaticFiles(directory=STATIC), name="dashboard-files")


__all__ = ["LAYERS", "install", "router"]
