"""All of truceguard's geometry lives in this package.

- ``sphere``: great-circle distance, bearing, destination, compass points (numpy).
- ``project``: a local transverse Mercator for planar work in metres (pyproj).
- ``shipped``: the boundaries, lines and places shipped in ``truceguard/data``.
"""

from truceguard.geo.project import UKRAINE_EAST, LocalProjection, projection_for
from truceguard.geo.sphere import (
    EARTH_RADIUS_M,
    bbox_around,
    bearing_deg,
    compass_point,
    destination,
    haversine_m,
)

__all__ = [
    "EARTH_RADIUS_M",
    "UKRAINE_EAST",
    "LocalProjection",
    "bbox_around",
    "bearing_deg",
    "compass_point",
    "destination",
    "haversine_m",
    "projection_for",
]
