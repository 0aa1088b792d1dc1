"""Day or night at a place and time, from the sun's elevation.

``solar_elevation_deg`` is NOAA's solar position formula (the NOAA Global Monitoring
Laboratory's solar calculator, after Meeus, "Astronomical Algorithms"): the geometric elevation
of the sun's centre, good to a small fraction of a degree for the years 1800-2100, which is
far finer than the minute a report's time is known to. ``day_or_night`` calls it night when
the sun is 6 degrees or more under the horizon: the end of civil twilight, the line military
usage draws between day and night (civil twilight itself counts as day; at -6 degrees it is
night). Pure functions of (lat, lon, epoch seconds UTC).
"""

from __future__ import annotations

import math

CIVIL_TWILIGHT_DEG = -6.0
_J2000 = 2451545.0
_UNIX_EPOCH_JD = 2440587.5


def _sun(jc: float) -> tuple[float, float]:
    """(declination, equation of time in minutes) at ``jc`` Julian centuries after J2000."""
    mean_long = (280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360.0
    mean_anom = 357.52911 + jc * (35999.05029 - 0.0001537 * jc)
    ecc = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    m = math.radians(mean_anom)
    centre = (math.sin(m) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
              + math.sin(2 * m) * (0.019993 - 0.000101 * jc) + math.sin(3 * m) * 0.000289)
    omega = math.radians(125.04 - 1934.136 * jc)
    app_long = mean_long + centre - 0.00569 - 0.00478 * math.sin(omega)
    seconds = 21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))
    obliquity = 23.0 + (26.0 + seconds / 60.0) / 60.0 + 0.00256 * math.cos(omega)
    eps = math.radians(obliquity)
    decl = math.asin(math.sin(eps) * math.sin(math.radians(app_long)))
    y = math.tan(eps / 2.0) ** 2
    l0 = math.radians(mean_long)
    eq_time = 4.0 * math.degrees(
        y * math.sin(2 * l0) - 2 * ecc * math.sin(m) + 4 * ecc * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0) - 1.25 * ecc * ecc * math.sin(2 * m))
    return decl, eq_time


def solar_elevation_deg(lat: float, lon: float, t: float) -> float:
    """The geometric elevation of the sun's centre, degrees above the horizon, at ``lat``,
    ``lon`` (WGS84 degrees, east positive) and ``t`` (epoch seconds UTC); no refraction."""
    jc = (t / 86400.0 + _UNIX_EPOCH_JD - _J2000) / 36525.0
    decl, eq_time = _sun(jc)
    minutes = (t % 86400.0) / 60.0
    true_solar = (minutes + eq_time + 4.0 * lon) % 1440.0
    hour_angle = math.radians(true_solar / 4.0 - 180.0)
    phi = math.radians(lat)
    cos_zenith = (math.sin(phi) * math.sin(decl)
                  + math.cos(phi) * math.cos(decl) * math.cos(hour_angle))
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def day_or_night(lat: float, lon: float, t: float) -> str:
    """``"day"`` or ``"night"`` at a place and time: night when the sun is at or below
    ``CIVIL_TWILIGHT_DEG`` (6 degrees under the horizon), day otherwise."""
    return "day" if solar_elevation_deg(lat, lon, t) > CIVIL_TWILIGHT_DEG else "night"


__all__ = ["CIVIL_TWILIGHT_DEG", "day_or_night", "solar_elevation_deg"]
