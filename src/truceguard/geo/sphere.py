"""Great-circle geometry on a spherical Earth, vectorised with numpy.

Distances use the mean Earth radius (IUGG, 6,371,008.8 m); over the distances truceguard works
with (metres to 2,000 km) the sphere differs from the WGS84 ellipsoid by at most about 0.5%.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_008.8

COMPASS_8: tuple[str, ...] = (
    "north",
    "north-east",
    "east",
    "south-east",
    "south",
    "south-west",
    "west",
    "north-west",
)


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray:
    """Great-circle distance in metres; arguments broadcast like numpy arrays."""
    p1 = np.radians(np.asarray(lat1, dtype=float))
    p2 = np.radians(np.asarray(lat2, dtype=float))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north."""
    p1 = np.radians(np.asarray(lat1, dtype=float))
    p2 = np.radians(np.asarray(lat2, dtype=float))
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    x = np.sin(dl) * np.cos(p2)
    y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(x, y)) % 360.0


def compass_point(bearing: float) -> str:
    """The nearest of the eight compass points ("south-east") for a bearing in degrees."""
    return COMPASS_8[int(((bearing % 360.0) + 22.5) // 45.0) % 8]


def destination(
    lat: ArrayLike, lon: ArrayLike, bearing: ArrayLike, distance_m: ArrayLike
) -> tuple[NDArray, NDArray]:
    """The point reached going ``distance_m`` along ``bearing`` from (lat, lon)."""
    p1 = np.radians(np.asarray(lat, dtype=float))
    l1 = np.radians(np.asarray(lon, dtype=float))
    b = np.radians(np.asarray(bearing, dtype=float))
    d = np.asarray(distance_m, dtype=float) / EARTH_RADIUS_M
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 540.0) % 360.0 - 180.0


def bbox_around(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """A (west, south, east, north) box that contains the circle of ``radius_m`` around a point."""
    dlat = np.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(np.cos(np.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
    dlon = min(180.0, float(dlat / coslat))
    return (lon - dlon, max(-90.0, lat - dlat), lon + dlon, min(90.0, lat + dlat))
