"""The geography shipped inside the package (see ``truceguard/data/DATA.md`` for sources).

Loaded lazily and cached: lines of contact, the side polygons, boundaries, places and air
bases. Nothing here touches the network.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray


def data_path(*parts: str) -> Path:
    """Path of a file shipped in ``truceguard/data``."""
    return Path(str(resources.files("truceguard").joinpath("data", *parts)))


def load_geojson(path: str | Path) -> list[tuple[dict[str, Any], Any]]:
    """(properties, shapely geometry) for every feature of a GeoJSON file."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
    return [(f.get("properties") or {}, shapely.geometry.shape(f["geometry"])) for f in feats]


@cache
def minsk_line() -> Any:
    """The Minsk-era line of contact (2015-2022), a MultiLineString in lon/lat."""
    return load_geojson(data_path("lines", "minsk_line_of_contact_2015_2022.geojson"))[0][1]


@cache
def ordlo_polygon() -> Any:
    """Areas outside government control 2015-2022: inside = the non-government side."""
    return load_geojson(data_path("lines", "minsk_line_of_contact_2015_2022.geojson"))[1][1]


@cache
def front_line(date: str = "2026-08-22") -> Any:
    """A sampled 2022-2026 line of contact (dates: 2022-11-15, 2023-05-31, 2024-01-01,
    2024-12-31, 2026-08-22), a MultiLineString in lon/lat."""
    samples = data_path("lines", "line_of_contact_samples_2022_2026.geojson")
    for props, geom in load_geojson(samples):
        if props.get("date") == date:
            return geom
    raise KeyError(f"no shipped line of contact for {date}")


@cache
def occupied_2026() -> Any:
    """Occupied territory of Ukraine on 2026-08-22: inside = the occupied side."""
    return load_geojson(data_path("lines", "occupied_2026-08-22.geojson"))[0][1]


@cache
def countries() -> dict[str, Any]:
    """Country polygons by ISO 3166-1 alpha-3 (Natural Earth; ``ADM0_A3``)."""
    out = {}
    for props, geom in load_geojson(
        data_path("boundaries", "natural_earth_10m_europe_simplified.geojson")
    ):
        out[str(props.get("ADM0_A3"))] = geom
    return out


@cache
def oblasts() -> list[tuple[str, str, Any]]:
    """(ISO 3166-2 code, name, polygon) for Ukraine's 27 first-level units."""
    return [
        (str(p["shapeISO"]), str(p["shapeName"]), g)
        for p, g in load_geojson(
            data_path("boundaries", "geoboundaries_ukr_adm1_simplified.geojson")
        )
    ]


@cache
def ukraine() -> Any:
    """Ukraine's territory within its internationally recognised borders: the union of the
    shipped first-level units (geoBoundaries ADM1), lon/lat."""
    return shapely.union_all([g for _, _, g in oblasts()])


@dataclass(frozen=True)
class Places:
    """Settlements of 1,000+ people (GeoNames) as parallel arrays."""

    name: NDArray
    lat: NDArray
    lon: NDArray
    admin1: NDArray
    cc: NDArray


@cache
def places() -> Places:
    with open(data_path("places", "geonames_cities1000_flank.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return Places(
        name=np.array([r["name"] for r in rows], dtype=object),
        lat=np.array([float(r["lat"]) for r in rows]),
        lon=np.array([float(r["lon"]) for r in rows]),
        admin1=np.array([r["admin1"] for r in rows], dtype=object),
        cc=np.array([r["cc"] for r in rows], dtype=object),
    )


@dataclass(frozen=True)
class AirBase:
    ident: str
    name: str
    country: str
    lat: float
    lon: float
    elevation_m: float


@cache
def air_bases() -> dict[str, AirBase]:
    """The 50 curated eastern-flank air bases (OurAirports), by ICAO ident."""
    out = {}
    with open(data_path("bases", "flank_airbases_curated.csv"), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[r["ident"]] = AirBase(
                ident=r["ident"],
                name=r["name"],
                country=r["iso_country"],
                lat=float(r["latitude_deg"]),
                lon=float(r["longitude_deg"]),
                elevation_m=float(r["elevation_ft"] or 0.0) * 0.3048,
            )
    return out
