"""Air response: fighters intercept drones and missiles along their path, within their stand-off.

A drone or missile crosses the line and flies a great circle to the protected site it aims
at. A fighter base can intercept it at a point of that path when the point is at least the
fighter's stand-off from hostile territory (no allied jet flies inside hostile air-defence
cover), within the fighter's reach of its base, and the fighter gets there first:
``cue + reaction + flight <= time the threat reaches the point``. The metric is whether that
happens before the target, and when (minutes after the crossing): never the time to reach
the line. Paths are sampled at ``K`` points; all arithmetic is vectorised over violations,
path points and bases, in chunks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from truceguard.geo.radar import unit_vectors
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.coverage import Assets
from truceguard.plan.hostile import Hostile, hostile_distance_km

PATH_POINTS = 32


def path_points(elat: NDArray, elon: NDArray, tlat: NDArray, tlon: NDArray,
                k: int = PATH_POINTS) -> tuple[NDArray, NDArray, NDArray]:
    """Unit vectors (n, k, 3) at fractions 0, 1/k, ... (k-1)/k of each great circle from
    entry to target, and the path lengths in km (n,) and fractions (k,)."""
    e = unit_vectors(elat, elon)
    t = unit_vectors(tlat, tlon)
    cos_om = np.clip((e * t).sum(axis=1), -1.0, 1.0)
    om = np.arccos(cos_om)
    frac = np.arange(k) / k
    s = np.sin(om)
    safe = s > 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(safe[:, None], np.sin((1 - frac)[None, :] * om[:, None]) / s[:, None],
                     1 - frac[None, :])
        b = np.where(safe[:, None], np.sin(frac[None, :] * om[:, None]) / s[:, None],
                     frac[None, :])
    pts = a[:, :, None] * e[:, None, :] + b[:, :, None] * t[:, None, :]
    pts /= np.linalg.norm(pts, axis=2, keepdims=True)
    return pts, om * EARTH_RADIUS_M / 1000.0, frac


def intercept_minutes(
    fighters: Assets, hostile: Hostile, elat: NDArray, elon: NDArray, tlat: NDArray,
    tlon: NDArray, speed_kmh: NDArray, cue_min: NDArray, available: NDArray | None = None,
    chunk: int = 2048,
) -> NDArray:
    """Minutes from the crossing to the first intercept, per threat; inf when no available
    fighter base can intercept it before its target. ``available`` is (bases, threats)."""
    n = len(elat)
    out = np.full(n, np.inf)
    if n == 0 or len(fighters) == 0:
        return out
    bu = unit_vectors(fighters.lat, fighters.lon)  # (J, 3)
    min_per_rad = EARTH_RADIUS_M / 1000.0 / fighters.speed_kmh * 60.0  # (J,)
    cos_reach = np.cos(np.minimum(fighters.reach_m / EARTH_RADIUS_M, np.pi))
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        pts, length_km, frac = path_points(elat[c0:c1], elon[c0:c1], tlat[c0:c1], tlon[c0:c1])
        m, k = pts.shape[:2]
        flat = pts.reshape(-1, 3)
        plat = np.degrees(np.arcsin(np.clip(flat[:, 2], -1, 1)))
        plon = np.degrees(np.arctan2(flat[:, 1], flat[:, 0]))
        dist_h = hostile_distance_km(hostile, plat, plon).reshape(m, k)
        cosd = np.clip(flat @ bu.T, -1.0, 1.0).reshape(m, k, -1)  # (m, k, J)
        arrive = (cue_min[c0:c1, None, None] + fighters.react_min[None, None, :]
                  + np.arccos(cosd) * min_per_rad[None, None, :])
        tau = (frac[None, :] * length_km[:, None] / speed_kmh[c0:c1, None] * 60.0)  # (m, k)
        ok = ((arrive <= tau[:, :, None]) & (cosd >= cos_reach[None, None, :])
              & (dist_h[:, :, None] >= fighters.standoff_km[None, None, :]))
        if available is not None:
            ok &= available[:, c0:c1].T[:, None, :]
        t = np.where(ok.any(axis=2), tau, np.inf)
        out[c0:c1] = t.min(axis=1)
    return out
