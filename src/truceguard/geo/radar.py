"""Planning geometry: radar horizon, unit vectors for fast great-circle work, line sampling.

The radar horizon uses the 4/3-Earth model (standard atmospheric refraction): a sensor at
height h1 sees a target at height h2 out to sqrt(2 k R h1) + sqrt(2 k R h2), which with
k = 4/3 is about 4.12 (sqrt(h1_m) + sqrt(h2_m)) km.

For many-to-many distance work (violations x assets) points become unit vectors on the sphere:
the cosine of the central angle is one dot product, so "within range" is a comparison against a
precomputed cosine, with no trigonometry per pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from truceguard.geo.project import UKRAINE_EAST, LocalProjection
from truceguard.geo.sphere import EARTH_RADIUS_M, destination

EFFECTIVE_EARTH_K = 4.0 / 3.0


def radar_horizon_m(
    sensor_height_m: ArrayLike, target_height_m: ArrayLike, k: float = EFFECTIVE_EARTH_K
) -> NDArray:
    """Line-of-sight range in metres between a sensor and a target over a smooth Earth.

    ``k`` is the effective-Earth factor (4/3 for standard refraction, 1 for geometric).
    """
    h1 = np.clip(np.asarray(sensor_height_m, dtype=float), 0.0, None)
    h2 = np.clip(np.asarray(target_height_m, dtype=float), 0.0, None)
    two_kr = 2.0 * k * EARTH_RADIUS_M
    return np.sqrt(two_kr * h1) + np.sqrt(two_kr * h2)


def unit_vectors(lat: ArrayLike, lon: ArrayLike) -> NDArray:
    """Points on the sphere as (n, 3) float64 unit vectors (x towards 0E, z towards the pole)."""
    p = np.radians(np.asarray(lat, dtype=float)).reshape(-1)
    lam = np.radians(np.asarray(lon, dtype=float)).reshape(-1)
    cp = np.cos(p)
    return np.column_stack((cp * np.cos(lam), cp * np.sin(lam), np.sin(p)))


def cos_of_distance(distance_m: ArrayLike) -> NDArray:
    """Cosine of the central angle for a great-circle distance; beyond half the globe, -1."""
    ang = np.asarray(distance_m, dtype=float) / EARTH_RADIUS_M
    return np.where(ang >= np.pi, -1.0, np.cos(np.clip(ang, 0.0, np.pi)))


def distance_from_cos(cos_angle: ArrayLike) -> NDArray:
    """Great-circle distance in metres from the cosine of the central angle."""
    return EARTH_RADIUS_M * np.arccos(np.clip(np.asarray(cos_angle, dtype=float), -1.0, 1.0))


def flight_minutes(distance_m: ArrayLike, speed_kmh: ArrayLike) -> NDArray:
    """Minutes to cover a great-circle distance at a constant speed."""
    return np.asarray(distance_m, dtype=float) / 1000.0 / np.asarray(speed_kmh, dtype=float) * 60.0


def line_length_m(line: Any, projection: LocalProjection = UKRAINE_EAST) -> float:
    """Length of a lon/lat (Multi)LineString in metres, measured in a local projection."""
    return float(shapely.length(projection.project_geometry(line)))


def sample_line(
    line: Any, spacing_m: float, projection: LocalProjection = UKRAINE_EAST
) -> tuple[NDArray, NDArray, NDArray]:
    """Evenly spaced points along every part of a lon/lat (Multi)LineString.

    Returns (lat, lon, weight_m): each point stands for ``weight_m`` metres of line, so shares
    of the line are weighted sums. Parts shorter than the spacing still get one point.
    """
    if spacing_m <= 0:
        raise ValueError("spacing_m must be positive")
    projected = projection.project_geometry(line)
    parts = list(getattr(projected, "geoms", [projected]))
    xs: list[NDArray] = []
    ys: list[NDArray] = []
    ws: list[NDArray] = []
    for part in parts:
        length = float(part.length)
        if length <= 0:
            continue
        n = max(1, int(np.ceil(length / spacing_m)))
        at = (np.arange(n) + 0.5) * (length / n)
        pts = shapely.line_interpolate_point(part, at)
        xs.append(shapely.get_x(pts))
        ys.append(shapely.get_y(pts))
        ws.append(np.full(n, length / n))
    if not xs:
        empty = np.empty(0)
        return empty, empty, empty
    lon, lat = projection.inverse(np.concatenate(xs), np.concatenate(ys))
    return lat, lon, np.concatenate(ws)


def circle_lonlat(lat: float, lon: float, radius_m: float, n: int = 72) -> tuple[NDArray, NDArray]:
    """A geodesic circle as (lon, lat) arrays, closed, for drawing coverage on a map."""
    bearings = np.linspace(0.0, 360.0, n + 1)
    la, lo = destination(np.full(n + 1, lat), np.full(n + 1, lon), bearings, radius_m)
    return lo, la


def greedy_cover_count(
    targets: NDArray, candidates: NDArray, cos_range: float, weights: NDArray | None = None
) -> tuple[int, NDArray]:
    """How many extra sites (chosen among ``candidates``) cover every target, greedily.

    ``targets`` and ``candidates`` are unit vectors; a candidate covers a target when the cosine
    of their central angle is at least ``cos_range``. Returns the count and the chosen indices.
    Greedy set cover is within a factor ln(n) of the optimum: a planning estimate, not a proof.
    """
    if len(targets) == 0:
        return 0, np.empty(0, dtype=int)
    w = np.ones(len(targets)) if weights is None else np.asarray(weights, dtype=float)
    covers = (candidates @ targets.T) >= cos_range  # candidates x targets
    left = np.ones(len(targets), dtype=bool)
    chosen: list[int] = []
    while left.any():
        gain = covers[:, left] @ w[left]
        best = int(np.argmax(gain))
        if gain[best] <= 0:  # a target no candidate reaches: cover it by itself
            break
        chosen.append(best)
        left &= ~covers[best]
    return len(chosen) + int(left.sum()), np.asarray(chosen, dtype=int)
