"""Protected sites, shipped with their status: what air defence is asked to cover.

``data/infrastructure/protected_sites.csv`` lists Ukraine's power plants of 1 GW and more and
its nuclear plants (positions from the WRI Global Power Plant Database) and its ten largest
government-held cities (GeoNames), each with a status and its source: ``operating``,
``in service`` (no destruction found in the sources checked), ``damaged`` or ``destroyed``.
Sites inside the occupied territory are marked ``occupied`` on loading. Destroyed and occupied
sites are shown but not protected.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from numpy.typing import NDArray

from truceguard.geo.shipped import data_path, occupied_2026

PROTECTED_STATUSES = ("operating", "in service", "damaged")


@dataclass(frozen=True)
class Sites:
    """Sites as parallel arrays."""

    name: NDArray
    kind: NDArray
    status: NDArray
    status_date: NDArray
    status_source: NDArray
    lat: NDArray
    lon: NDArray

    def __len__(self) -> int:
        return len(self.lat)

    def take(self, mask: NDArray) -> Sites:
        return Sites(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    @property
    def protected(self) -> NDArray:
        """True where the site is still to be protected (not destroyed, not occupied)."""
        return np.isin(self.status, PROTECTED_STATUSES)


@cache
def all_sites() -> Sites:
    """Every shipped site with its status (``occupied`` where the 2026 polygon holds it)."""
    with open(data_path("infrastructure", "protected_sites.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    status = np.array([r["status"] for r in rows], dtype=object)
    occupied = shapely.contains_xy(occupied_2026(), lon, lat)
    status[occupied] = "occupied"

    def col(k: str) -> NDArray:
        return np.array([r[k] for r in rows], dtype=object)

    return Sites(col("name"), col("kind"), status, col("status_date"), col("status_source"),
                 lat, lon)


def protected_sites() -> Sites:
    """The sites air defence is asked to cover: operating, in service or damaged, and held."""
    s = all_sites()
    return s.take(s.protected)
