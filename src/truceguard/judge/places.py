"""Location text the way ceasefire monitors write it.

OSCE SMM reports place an event relative to a settlement and say who controls the area:
"4 km south-east of Svetlodarsk (government-controlled)". Here the settlement is the nearest
one in the shipped GeoNames list (places of 1,000 people or more, spelt as GeoNames spells
them), the distance is rounded to whole kilometres, the direction is one of the eight compass
points from the settlement to the event, and the control label comes from the terms' side
polygon and side labels.

The nearest-settlement search is a k-d tree over points on the unit sphere (chord distance
orders places exactly as great-circle distance does), so it needs no projection and works for
thousands of events at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from truceguard.errors import InputError
from truceguard.geo.shipped import places
from truceguard.geo.sphere import COMPASS_8, bearing_deg, haversine_m
from truceguard.judge.terms import Terms


@dataclass(frozen=True, eq=False)
class PlaceIndex:
    """Settlements (parallel arrays) with a k-d tree over their unit-sphere positions."""

    name: NDArray[Any]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    tree: cKDTree


def _unit_xyz(lon: NDArray, lat: NDArray) -> NDArray[np.float64]:
    lo = np.radians(lon)
    la = np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@lru_cache(maxsize=8)
def place_index(country: str | None = "UA") -> PlaceIndex:
    """The shipped settlements of one country (ISO alpha-2; None for all) with their tree."""
    p = places()
    keep = np.ones(p.name.size, bool) if country is None else p.cc == country
    if not keep.any():
        raise InputError(f"no shipped places for country {country!r}")
    lon = p.lon[keep].astype(float)
    lat = p.lat[keep].astype(float)
    return PlaceIndex(name=p.name[keep], lat=lat, lon=lon, tree=cKDTree(_unit_xyz(lon, lat)))


@dataclass(frozen=True)
class NearestPlaces:
    """For each point: the nearest settlement's name, its distance, and the direction."""

    name: NDArray[Any]
    distance_m: NDArray[np.float64]
    bearing_deg: NDArray[np.float64]  # from the settlement to the point, clockwise from north

    @property
    def compass(self) -> NDArray[Any]:
        """The eight-point compass direction ("south-east") from settlement to point."""
        k = (((self.bearing_deg % 360.0) + 22.5) // 45.0).astype(np.int64) % 8
        return np.array(COMPASS_8, dtype=object)[k]


def nearest_places(lon: ArrayLike, lat: ArrayLike, *, country: str | None = "UA") -> NearestPlaces:
    """The nearest shipped settlement to every point (WGS84 degrees)."""
    lo = np.atleast_1d(np.asarray(lon, dtype=float))
    la = np.atleast_1d(np.asarray(lat, dtype=float))
    if lo.shape != la.shape:
        raise InputError("lon and lat differ in length")
    if not (np.isfinite(lo).all() and np.isfinite(la).all()):
        raise InputError("positions must be finite numbers")
    idx = place_index(country)
    _, k = idx.tree.query(_unit_xyz(lo, la))
    plat = idx.lat[k]
    plon = idx.lon[k]
    return NearestPlaces(
        name=idx.name[k],
        distance_m=haversine_m(plat, plon, la, lo),
        bearing_deg=bearing_deg(plat, plon, la, lo),
    )


def control_labels(terms: Terms, lon: ArrayLike, lat: ArrayLike) -> NDArray[Any]:
    """Who controls each point, as the terms label the sides ("government-controlled")."""
    poly = terms.side_polygon
    shapely.prepare(poly)
    inside = shapely.contains_xy(poly, np.asarray(lon, float), np.asarray(lat, float))
    labels = np.array([terms.sides[0].label, terms.sides[1].label], dtype=object)
    return labels[np.atleast_1d(inside).astype(np.int64)]


def describe_locations(
    lon: ArrayLike,
    lat: ArrayLike,
    terms: Terms | None = None,
    *,
    country: str | None = "UA",
) -> list[str]:
    """Monitors' location text for every point: "4 km south-east of Svetlodarsk
    (government-controlled)"; "in Donetsk (...)" within half a kilometre. Without terms the
    control label is left out."""
    near = nearest_places(lon, lat, country=country)
    km = np.rint(near.distance_m / 1000.0).astype(np.int64)
    compass = near.compass
    if terms is not None:
        label = control_labels(terms, np.atleast_1d(lon), np.atleast_1d(lat))
        suffix = [f" ({s})" for s in label]
    else:
        suffix = [""] * km.size
    return [
        f"in {n}{s}" if k == 0 else f"{k} km {c} of {n}{s}"
        for n, k, c, s in zip(near.name, km, compass, suffix, strict=True)
    ]


def describe_location(lon: float, lat: float, terms: Terms | None = None) -> str:
    """:func:`describe_locations` for one point."""
    return describe_locations([lon], [lat], terms)[0]
