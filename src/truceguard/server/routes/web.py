"""The dashboard (``truceguard.web``) and the two read-only API routes it needs beyond the
records: the shipped map layers and the narrowest of a set of markings.

``/`` is the page and ``/app/...`` its files, without a token (they hold no data); MapLibre GL
JS is served from the installed ``maplibre`` package at ``/app/vendor/``. The page asks for
everything else through ``/api/v1`` with the user's bearer token, like any other client.
``install(app)`` adds them to an app made by ``create_app``.
"""

from __future__ import annotations

import csv
import json
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from truceguard.errors import InputError, NotFoundError, unknown_value
from truceguard.marking import most_restrictive
from truceguard.server.routes.deps import Me
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
