"""ISR with physics: what imaging satellites see of the line, and the air warning the US gives.

Satellites (``data/isr/space_systems.yaml``) are capabilities, not fixed sensors:

- One **access** to the line images only part of it. A swath imager (Sentinel-1 and -2) images
  what passes under its swath: its published revisit already says how often a point is
  imaged, and :func:`swath_line_share` gives the share of the line one pass images. An agile,
  tasked imager (very-high-resolution optical, ICEYE) points ``strips_per_access`` strips of
  ``strip_km`` along the line; a strip ``swath_km`` wide holds the line only where the line's
  wiggles stay inside it (:func:`line_km_per_strip`), so a point is imaged in one access with
  probability ``min(1, strips * line_km_per_strip / line_km)``.
- **Night**: optical accesses happen only while the sun stands above
  ``sun_elevation_min_deg`` (solar geometry at the line's latitude, mid-month); SAR images at
  any hour.
- **Cloud**: an optical image is usable with probability ``1 - cloud_share(month)``
  (``data/isr/cloud_donetsk_monthly.csv``); SAR sees through cloud.
- **Latency**: an image counts when it is taken while the violation persists and reported
  within the detection time: the window is ``min(persists, within - latency)``.

For a violation starting at hour ``h`` the chance that one system reports it is
``readiness * p_image * clear * min(1, rate * usable hours in [h, h + window])``, with
accesses at ``24 / revisit_h`` a day spread over the usable hours (daylight for optical);
systems combine as independent looks. :func:`line_watched` averages this over the hours of
the day, or over day or night only. :func:`satellite_cycle_factor` gives
:mod:`truceguard.plan.coverage` the same physics as a longer effective revisit.

The US intelligence feed enters Ukraine's air warning: :func:`air_warning_minutes`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.errors import ConfigError, NotFoundError, suggest
from truceguard.geo.shipped import data_path

HOURS = np.arange(0.0, 24.0, 0.25)  # violation start times over the day, local solar time
TIMES_OF_DAY = ("all", "day", "night")
DEFAULT_SYSTEM = "us-vhr-optical"
SUN_ELEVATION_MIN_DEG = 10.0  # assumption (5-20): optical imaging needs the sun this high
SYSTEMS_FILE = ("isr", "space_systems.yaml")
CLOUD_FILE = ("isr", "cloud_donetsk_monthly.csv")


@dataclass(frozen=True)
class SpaceSystem:
    """One imaging system of the catalogue; each number is the catalogue's value."""

    name: str
    label: str
    access: str  # us | europe | commercial_europe
    kind: str  # optical | sar
    mode: str  # swath | corridor
    satellites: float
    swath_km: float
    strips_per_access: float
    strip_km: float
    revisit_h: float
    latency_h: float
    resolution_m: float
    source: str
    ranges: dict[str, tuple[float, float]]  # key -> (low, high) where the catalogue has one

    def with_values(self, **values: float) -> SpaceSystem:
        """This system with some numbers changed (for sensitivity and tests)."""
        from dataclasses import replace

        unknown = set(values) - set(NUMBERS)
        if unknown:
            raise NotFoundError(f"no number {sorted(unknown)[0]!r} in an imaging system",
                                hint=suggest(sorted(unknown)[0], NUMBERS),
                                code="not_found.assumption")
        changes: dict[str, Any] = dict(values)
        return replace(self, **changes)


NUMBERS = ("satellites", "swath_km", "strips_per_access", "strip_km", "revisit_h", "latency_h",
           "resolution_m")


@cache
def space_systems() -> dict[str, SpaceSystem]:
    """The shipped catalogue, by name."""
    from truceguard.config import load_yaml

    path = data_path(*SYSTEMS_FILE)
    doc = load_yaml(path)
    out: dict[str, SpaceSystem] = {}
    for name, node in doc["systems"].items():
        vals: dict[str, float] = {}
        ranges: dict[str, tuple[float, float]] = {}
        for k in NUMBERS:
            raw = node[k]
            if isinstance(raw, dict):
                vals[k] = float(raw["value"])
                if "low" in raw:
                    ranges[k] = (float(raw["low"]), float(raw["high"]))
            else:
                vals[k] = float(raw)
        if node["kind"] not in ("optical", "sar") or node["mode"] not in ("swath", "corridor"):
            raise ConfigError(str(path), f"systems.{name}", "kind must be optical or sar, "
                              "mode swath or corridor")
        out[str(name)] = SpaceSystem(str(name), str(node["label"]), str(node["access"]),
                                     str(node["kind"]), str(node["mode"]),
                                     source=str(node["source"]), ranges=ranges, **vals)
    return out


def space_system(name: str) -> SpaceSystem:
    """One system of the catalogue by name (NotFoundError with the names it knows)."""
    systems = space_systems()
    if name not in systems:
        raise NotFoundError(f"no imaging system {name!r} in the catalogue",
                            hint=suggest(name, systems), code="not_found.space_system")
    return systems[name]


@cache
def cloud_climatology() -> tuple[NDArray, NDArray, NDArray]:
    """(cloud share, low, high) for months 1-12 at the line (Donetsk, DATA.md)."""
    with open(data_path(*CLOUD_FILE), encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: int(r["month"]))
    return (np.array([float(r["cloud_share"]) for r in rows]),
            np.array([float(r["cloud_low"]) for r in rows]),
            np.array([float(r["cloud_high"]) for r in rows]))


def cloud_share(month: int) -> float:
    """The share of time the sky over the line is too cloudy for an optical image."""
    if not 1 <= month <= 12:
        raise NotFoundError(f"month {month} is not 1-12", hint="give a month from 1 to 12",
                            code="not_found.month")
    return float(cloud_climatology()[0][month - 1])


def sun_elevation_deg(lat_deg: float, month: int, hours: NDArray = HOURS) -> NDArray:
    """Solar elevation at local solar time ``hours`` on the 15th of ``month`` (declination by
    Cooper's formula; good to about a degree, enough for day and night)."""
    doy = 30.4 * (month - 1) + 15.0
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (284.0 + doy) / 365.0)
    lat = math.radians(lat_deg)
    ha = np.radians(15.0 * (hours - 12.0))
    s = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * np.cos(ha)
    return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))


def daylight(lat_deg: float, month: int, min_elevation_deg: float = SUN_ELEVATION_MIN_DEG,
             hours: NDArray = HOURS) -> NDArray:
    """Per hour of ``hours``: the sun is high enough for an optical image."""
    return sun_elevation_deg(lat_deg, month, hours) >= min_elevation_deg


def _local_km(lat: NDArray, lon: NDArray) -> tuple[NDArray, NDArray]:
    """Equirectangular km about the points' centre (good to a few per cent over the line)."""
    lat0 = float(np.mean(lat))
    x = (lon - float(np.mean(lon))) * 111.32 * math.cos(math.radians(lat0))
    y = (lat - lat0) * 110.57
    return x, y


def swath_line_share(lat: NDArray, lon: NDArray, weight_m: NDArray, swath_km: float,
                     heading_deg: float = -12.0) -> float:
    """Share of the line one pass of a swath imager images, averaged over the passes whose
    swath touches the line (ground track ``heading_deg`` from north: a descending
    sun-synchronous pass near 48 degrees north)."""
    x, y = _local_km(lat, lon)
    h = math.radians(heading_deg)
    cross = x * math.cos(h) - y * math.sin(h)  # distance across the ground track
    order = np.argsort(cross)
    cs, w = cross[order], weight_m[order]
    centres = np.arange(cs[0] - swath_km / 2.0, cs[-1] + swath_km / 2.0, 1.0)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    lo = np.searchsorted(cs, centres - swath_km / 2.0, side="left")
    hi = np.searchsorted(cs, centres + swath_km / 2.0, side="right")
    inside = cw[hi] - cw[lo]
    total = float(w.sum())
    return float(inside.mean() / total) if total > 0 else 0.0


def line_km_per_strip(lat: NDArray, lon: NDArray, weight_m: NDArray, swath_km: float,
                      strip_km: float, starts: int = 64) -> float:
    """Line length (km) inside one straight strip ``swath_km`` wide and ``strip_km`` long laid
    along the line's chord, averaged over ``starts`` places along the line. A wiggly line
    leaves a narrow strip sooner: this is where the swath enters."""
    if strip_km <= 0 or swath_km <= 0 or len(lat) < 2:
        return 0.0
    x, y = _local_km(lat, lon)
    c = np.linspace(0, len(x) - 1, min(starts, len(x))).astype(int)  # strip centres
    px, py = x[None, :] - x[c][:, None], y[None, :] - y[c][:, None]
    # the strip follows the line's main direction within half a strip of its centre
    near = (np.hypot(px, py) <= max(strip_km / 2.0, 1.0)) * weight_m[None, :]
    sxx, syy, sxy = (near * px * px).sum(1), (near * py * py).sum(1), (near * px * py).sum(1)
    theta = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)
    ux, uy = np.cos(theta), np.sin(theta)
    along = px * ux[:, None] + py * uy[:, None]
    across = -px * uy[:, None] + py * ux[:, None]
    inside = (np.abs(along) <= strip_km / 2.0) & (np.abs(across) <= swath_km / 2.0)
    return float((inside * (weight_m[None, :] / 1000.0)).sum(axis=1).mean())


def image_probability(system: SpaceSystem, lat: NDArray, lon: NDArray,
                      weight_m: NDArray) -> float:
    """Chance that one access images a given point of the line (swath mode: 1, the published
    revisit is already per point; corridor mode: the line its strips hold over the line)."""
    if system.mode == "swath":
        return 1.0
    line_km = float(weight_m.sum()) / 1000.0
    per_strip = line_km_per_strip(lat, lon, weight_m, system.swath_km, system.strip_km)
    return min(1.0, system.strips_per_access * per_strip / max(line_km, 1e-9))


@dataclass(frozen=True)
class LineWatch:
    """What the satellites watch of the line in a month, at a time of day."""

    month: int
    time_of_day: str
    within_h: float
    persists_h: float
    by_system: dict[str, float]  # system -> probability a violation is reported in time
    combined: float
    image_probability: dict[str, float]
    line_share_per_pass: dict[str, float]
    cloud_share: float

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "time_of_day": self.time_of_day,
                "within_h": self.within_h, "persists_h": self.persists_h,
                "by_system": self.by_system, "combined": self.combined,
                "image_probability": self.image_probability,
                "line_share_per_pass": self.line_share_per_pass,
                "cloud_share": self.cloud_share}


def report_probability(system: SpaceSystem, p_image: float, month: int, lat_deg: float,
                       persists_h: float, within_h: float, readiness: float = 1.0,
                       cloud: float | None = None,
                       min_elevation_deg: float = SUN_ELEVATION_MIN_DEG) -> NDArray:
    """Per violation start hour (``HOURS``): the chance the system images it while it
    persists and reports it within ``within_h`` (module docstring)."""
    window = min(persists_h, within_h - system.latency_h)
    if window <= 0:
        return np.zeros(len(HOURS))
    optical = system.kind == "optical"
    step = float(HOURS[1] - HOURS[0])
    usable = (daylight(lat_deg, month, min_elevation_deg) if optical
              else np.ones(len(HOURS), dtype=bool)).astype(float)
    usable_h = usable.sum() * step
    if usable_h <= 0:
        return np.zeros(len(HOURS))
    rate = (24.0 / system.revisit_h) / usable_h  # accesses per usable hour
    # usable hours in [h, h + window], the day repeating
    n = int(math.ceil(window / step))
    rolled = sum(np.roll(usable, -k) for k in range(n)) * step
    rolled = np.minimum(rolled, window) if n else rolled
    clear = 1.0 - (cloud_share(month) if cloud is None else cloud) if optical else 1.0
    return readiness * p_image * clear * np.minimum(1.0, rate * rolled)


def line_watched(systems: list[SpaceSystem], lat: NDArray, lon: NDArray, weight_m: NDArray,
                 month: int, within_h: float, persists_h: float, time_of_day: str = "all",
                 readiness: float | dict[str, float] = 1.0, cloud: float | None = None,
                 min_elevation_deg: float = SUN_ELEVATION_MIN_DEG) -> LineWatch:
    """The probability that a ground violation of the line is reported in time by each
    system and by all of them together, averaged over the violation's start hour (all day,
    by day or by night)."""
    if time_of_day not in TIMES_OF_DAY:
        raise NotFoundError(f"no time of day {time_of_day!r}",
                            hint="one of " + ", ".join(TIMES_OF_DAY), code="not_found.time")
    lat0 = float(np.mean(lat))
    day = daylight(lat0, month, min_elevation_deg)
    sel = {"all": np.ones(len(HOURS), dtype=bool), "day": day, "night": ~day}[time_of_day]
    if not sel.any():
        sel = np.ones(len(HOURS), dtype=bool)
    by_system: dict[str, float] = {}
    pimg: dict[str, float] = {}
    per_pass: dict[str, float] = {}
    miss = np.ones(int(sel.sum()))
    for s in systems:
        r = readiness.get(s.name, 1.0) if isinstance(readiness, dict) else readiness
        pimg[s.name] = image_probability(s, lat, lon, weight_m)
        per_pass[s.name] = (swath_line_share(lat, lon, weight_m, s.swath_km) if s.mode == "swath"
                            else pimg[s.name])
        p = report_probability(s, pimg[s.name], month, lat0, persists_h, within_h, r, cloud,
                               min_elevation_deg)[sel]
        by_system[s.name] = float(p.mean())
        miss *= 1.0 - p
    return LineWatch(month, time_of_day, within_h, persists_h, by_system,
                     float((1.0 - miss).mean()), pimg, per_pass,
                     cloud_share(month) if cloud is None else cloud)


@lru_cache(maxsize=32)
def _cycle_factor(name: str, shipped: str, date: str, month: int) -> float:
    from truceguard.plan.coverage import _line_points

    lat, lon, w = _line_points(shipped, date)
    s = space_system(name)
    clear = 1.0 - cloud_share(month) if s.kind == "optical" else 1.0
    return image_probability(s, lat, lon, w) * clear


def satellite_cycle_factor(rv: Any, capability: str) -> float:
    """What share of a satellite pledge's accesses yield a usable image of a given point
    (image probability x clear sky for optical), for the system the scenario's ``isr`` block
    names for ``capability`` (``us-vhr-optical`` when it names none). Coverage divides the
    revisit by it."""
    month, systems = isr_settings(rv.scenario)
    spec = rv.scenario.line_spec
    return _cycle_factor(systems.get(capability, DEFAULT_SYSTEM), spec["shipped"],
                         spec.get("date", ""), month)


def isr_settings(scen: Any) -> tuple[int, dict[str, str]]:
    """(month, capability -> catalogue system) from the scenario's optional ``isr`` block::

        isr:
          month: 1                       # the month the plan is for (cloud, daylight)
          capabilities: {satellites: us-vhr-optical}
    """
    node = (scen.doc or {}).get("isr") if getattr(scen, "doc", None) is not None else None
    if node is None:
        return 1, {}
    path = scen.path
    if not isinstance(node, dict):
        raise ConfigError(path, "isr", "must be a mapping (month, capabilities, alternatives)")
    month = node.get("month", 1)
    if isinstance(month, dict):
        month = month.get("value", 1)
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ConfigError(path, "isr.month", f"must be a month 1-12, got {month!r}")
    caps = node.get("capabilities", {}) or {}
    if not isinstance(caps, dict):
        raise ConfigError(path, "isr.capabilities", "must map capability -> system")
    out: dict[str, str] = {}
    for cap, sysname in caps.items():
        if str(sysname) not in space_systems():
            raise ConfigError(path, f"isr.capabilities.{cap}",
                              f"unknown imaging system {sysname!r}",
                              hint=suggest(str(sysname), space_systems()))
        if cap not in scen.capabilities:
            raise ConfigError(path, f"isr.capabilities.{cap}", "no such capability",
                              hint=suggest(str(cap), scen.capabilities))
        out[str(cap)] = str(sysname)
    for k in node:
        if k not in ("month", "capabilities", "alternatives", "note"):
            raise ConfigError(path, f"isr.{k}", "unknown field (month, capabilities, "
                              "alternatives)", hint=suggest(str(k), ("month", "capabilities",
                                                                      "alternatives")))
    return month, out


def isr_alternatives(scen: Any) -> list[str]:
    """The catalogue systems the scenario's ``isr.alternatives`` lists (European and
    commercial imagery that could stand in for the US), checked against the catalogue."""
    node = (scen.doc or {}).get("isr") or {}
    names = [str(n) for n in (node.get("alternatives") or [])]
    for n in names:
        space_system(n)
    return names


def isr_report(rv: Any, within_h: float = 2.0, persists_h: float = 4.0,
               month: int | None = None) -> dict[str, Any]:
    """What ``results.json`` can carry: the line watched by the variant's satellites and by
    the European and commercial alternatives, all day, by day and by night."""
    from truceguard.plan.coverage import line_points

    m, caps = isr_settings(rv.scenario)
    m = month or m
    lat, lon, w = line_points(rv)
    in_force = sorted({caps.get(p.capability, DEFAULT_SYSTEM) for p in rv.pledges
                       if rv.scenario.capabilities[p.capability].pattern == "satellite"})
    alts = isr_alternatives(rv.scenario)
    out: dict[str, Any] = {"month": m, "systems_in_force": in_force, "alternative_systems": alts,
                           "us_feed": bool(rv.conditions.get("us_isr", False)),
                           "air_warning_minutes": list(air_warning_minutes(
                               bool(rv.conditions.get("us_isr", False))))}
    for label, names in (("in_force", in_force), ("alternatives", alts)):
        systems = [space_system(n) for n in names]
        out[label] = {t: line_watched(systems, lat, lon, w, m, within_h, persists_h,
                                      t).as_dict() for t in TIMES_OF_DAY}
    return out


# --- The US feed in Ukraine's air warning --------------------------------------------------

@dataclass(frozen=True)
class Warning:
    """Minutes of warning before a threat class reaches Ukraine's airspace, as a range."""

    low: float
    high: float
    source: str


AIR_WARNING: dict[bool, dict[str, Warning]] = {
    True: {
        "cruise": Warning(40.0, 60.0, "facts: bombers are tracked from take-off, hours before "
                          "launch, and cruise missiles then fly 40 minutes to an hour to Ukraine "
                          "(Ukrainian Air Force practice as reported in 2024, aussiedlerbote.de)"),
        "drone": Warning(30.0, 90.0, "assumption: launches seen at the launch areas; drones "
                         "at 150-185 km/h take over half an hour from launch to the border"),
        "ballistic": Warning(2.0, 5.0, "facts: ballistic missiles leave a few minutes to react "
                             "(Air Force spokesman Ihnat, Censor.net, 11 Dec 2023); launch "
                             "detection from space (SBIRS, Space.com 2014) adds the boost "
                             "phase (assumption)"),
    },
    False: {
        "cruise": Warning(5.0, 20.0, "facts: without the US feed Ukraine lost the detection of "
                          "bombers taking off and warned later (Time, via Daily Wrap, Mar "
                          "2025); the range is an assumption: Ukraine's own radars at the "
                          "border"),
        "drone": Warning(5.0, 30.0, "assumption: Ukraine's own radars and acoustic sensors "
                         "at the border; no launch warning"),
        "ballistic": Warning(1.0, 3.0, "facts: a few minutes at most (Ihnat, Censor.net, 11 "
                             "Dec 2023); the range is an assumption"),
    },
}


def air_warning_by_class(us_feed: bool) -> dict[str, Warning]:
    """Minutes of warning per threat class (cruise, drone, ballistic), with and without the
    US intelligence feed, each range with its source."""
    return dict(AIR_WARNING[bool(us_feed)])


def air_warning_minutes(us_feed: bool) -> tuple[float, float]:
    """Ukraine's air warning before cruise missiles and drones reach its airspace, in minutes
    (low, high): with the US feed launches are seen at their source; without it, Ukraine's
    own sensors at the border (:data:`AIR_WARNING` has each class and its source). The
    narrowest of the two air-breathing classes' ranges that both hold: their overlap."""
    w = AIR_WARNING[bool(us_feed)]
    lo = max(w["cruise"].low, w["drone"].low)
    hi = min(w["cruise"].high, w["drone"].high)
    if lo > hi:  # no overlap: the span of both
        lo, hi = min(w["cruise"].low, w["drone"].low), max(w["cruise"].high, w["drone"].high)
    return (lo, hi)
