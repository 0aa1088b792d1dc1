"""Hostile territory and the distance from it: what stand-offs from hostile air defence rest on.

Hostile territory is the union of the scenario's hostile countries (Natural Earth polygons) and,
when asked, the occupied territory of Ukraine shipped with the package. Distances are measured
in a transverse Mercator centred on Ukraine. For many points (line samples, threat paths,
candidate orbits) the distance comes from a cached grid of 0.05 degrees over the planning area,
read by nearest cell; the distance is to the border simplified to 200 m and sampled every
kilometre: within about 3 km of the exact figure, far below any stand-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from truceguard.geo.project import LocalProjection

EXTENT = (18.0, 44.0, 42.0, 57.0)  # lon min, lon max, lat min, lat max
STEP_DEG = 0.05
UKRAINE_CENTRAL = LocalProjection(31.0, 48.5)

Hostile = tuple[tuple[str, ...], bool, str]  # (countries, occupied?, source), as in Scenario


@lru_cache(maxsize=8)
def hostile_geometry(countries: tuple[str, ...], occupied: bool) -> Any:
    """The hostile territory as one projected (metres) geometry."""
    from truceguard.geo import shipped

    parts = [shipped.countries()[c] for c in countries if c in shipped.countries()]
    if occupied:
        parts.append(shipped.occupied_2026())
    if not parts:
        return shapely.Point()
    return UKRAINE_CENTRAL.project_geometry(shapely.union_all(parts))


@lru_cache(maxsize=8)
def _grid(countries: tuple[str, ...], occupied: bool) -> NDArray:
    """Distance in km from hostile territory at every grid cell (0 inside it)."""
    lons = np.arange(EXTENT[0], EXTENT[1] + STEP_DEG / 2, STEP_DEG)
    lats = np.arange(EXTENT[2], EXTENT[3] + STEP_DEG / 2, STEP_DEG)
    glon, glat = np.meshgrid(lons, lats)
    geom = hostile_geometry(countries, occupied)
    if geom.is_empty:
        return np.full(glon.shape, np.inf)
    from scipy.spatial import cKDTree

    x, y = UKRAINE_CENTRAL.forward(glon.ravel(), glat.ravel())
    edge = shapely.segmentize(shapely.simplify(geom.boundary, 200.0), 1000.0)
    tree = cKDTree(shapely.get_coordinates(edge))
    d, _ = tree.query(np.column_stack([x, y]))
    shapely.prepare(geom)
    d[shapely.contains_xy(geom, x, y)] = 0.0
    return np.asarray(d / 1000.0, dtype=float).reshape(glon.shape)


def hostile_distance_km(hostile: Hostile | Sequence[Any], lat: ArrayLike, lon: ArrayLike
                        ) -> NDArray:
    """Distance in km from hostile territory for each point (nearest grid cell; points
    outside the planning area count as far away)."""
    countries, occupied = tuple(hostile[0]), bool(hostile[1])
    grid = _grid(countries, occupied)
    la = np.asarray(lat, dtype=float).reshape(-1)
    lo = np.asarray(lon, dtype=float).reshape(-1)
    i = np.rint((la - EXTENT[2]) / STEP_DEG).astype(int)
    j = np.rint((lo - EXTENT[0]) / STEP_DEG).astype(int)
    inside = (i >= 0) & (i < grid.shape[0]) & (j >= 0) & (j < grid.shape[1])
    out = np.full(la.shape, np.inf)
    out[inside] = grid[i[inside], j[inside]]
    return out


def grid_axes() -> tuple[NDArray, NDArray]:
    """(lons, lats) of the distance grid, for drawing stand-off lines on maps."""
    return (np.arange(EXTENT[0], EXTENT[1] + STEP_DEG / 2, STEP_DEG),
            np.arange(EXTENT[2], EXTENT[3] + STEP_DEG / 2, STEP_DEG))


def distance_grid(hostile: Hostile) -> NDArray:
    """The cached distance grid (km) for a scenario's hostile territory."""
    return _grid(tuple(hostile[0]), bool(hostile[1]))


def nearest_clear(hostile: Hostile, lat: float, lon: float, standoff_km: float
                  ) -> tuple[float, float]:
    """The grid cell nearest to (lat, lon) at least ``standoff_km`` from hostile territory."""
    return _nearest_clear(tuple(hostile[0]), bool(hostile[1]), float(lat), float(lon),
                          float(standoff_km))


@lru_cache(maxsize=1024)
def _nearest_clear(countries: tuple[str, ...], occupied: bool, lat: float, lon: float,
                   standoff_km: float) -> tuple[float, float]:
    """:func:`nearest_clear`, kept per question: a scan of the whole grid, which a sensitivity
    run would otherwise repeat for the same orbit and stand-off in every run it parses."""
    from truceguard.geo.sphere import haversine_m

    grid = _grid(countries, occupied)
    lons, lats = grid_axes()
    ii, jj = np.nonzero(grid >= standoff_km)
    if len(ii) == 0:
        return lat, lon
    d = haversine_m(lat, lon, lats[ii], lons[jj])
    k = int(np.argmin(d))
    return float(lats[ii[k]]), float(lons[jj[k]])
