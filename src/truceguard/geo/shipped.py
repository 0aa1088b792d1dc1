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
    """Settlements as parallel arrays: GeoNames places of 1,000+ people, and the front-line
    villages it lacks (``places/frontline_settlements.csv``, each with its source);
    ``alternates`` holds the other spellings of each (monitors', Russian), a tuple per place."""

    name: NDArray
    lat: NDArray
    lon: NDArray
    admin1: NDArray
    cc: NDArray
    alternates: NDArray

    def find(self, name: str) -> int | None:
        """The index of the place called ``name`` (any of its spellings, case and apostrophes
        ignored; the first in the list), None for none."""
        return _name_index(self).get(_fold(name))


def _fold(name: str) -> str:
    return name.casefold().replace("'", "").replace("\u2019", "").replace("-", " ").strip()


_NAME_INDEX: dict[int, dict[str, int]] = {}


def _name_index(p: Places) -> dict[str, int]:
    found = _NAME_INDEX.get(id(p))
    if found is None:
        found = {}
        for i in range(p.name.size - 1, -1, -1):  # the first listed wins
            for n in (p.name[i], *p.alternates[i]):
                found[_fold(str(n))] = i
        _NAME_INDEX[id(p)] = found
    return found


def _rows(*parts: str) -> list[dict[str, str]]:
    with open(data_path("places", *parts), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@cache
def places() -> Places:
    rows = _rows("geonames_cities1000_flank.csv")
    have = {(r["name"], r["cc"]) for r in rows}
    rows += [r for r in _rows("frontline_settlements.csv") if (r["name"], r["cc"]) not in have]
    alt = {r["name"]: r["alternates"] for r in _rows("alternate_names.csv")}
    alternates = np.empty(len(rows), dtype=object)
    alternates[:] = [tuple(a for a in (r.get("alternates") or alt.get(r["name"], "")).split(";")
                           if a) for r in rows]  # fmt: skip
    return Places(
        name=np.array([r["name"] for r in rows], dtype=object),
        lat=np.array([float(r["lat"]) for r in rows]),
        lon=np.array([float(r["lon"]) for r in rows]),
        admin1=np.array([r["admin1"] for r in rows], dtype=object),
        cc=np.array([r["cc"] for r in rows], dtype=object),
        alternates=alternates,
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
