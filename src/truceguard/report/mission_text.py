"""Words of the daily and weekly reports: the reporting period in Kyiv time, named areas, and
the "assessed as" phrases for every estimate a monitor makes.

Every estimate is said as an assessment, the way the OSCE SMM wrote it: "assessed as outgoing
122 mm artillery fire (2S1), 3-5 km south-east" (the direction of fire, the weapon from the
shipped weapon list or the weapon class, the distance band as text and the bearing as one of
the eight compass points). A bearing whose error is wider than 45 degrees is not given as a
compass point (it could be either neighbour). Places are named after the nearest shipped
settlement with its oblast ("Avdiivka (Donetsk oblast)"), never as a raw coordinate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from truceguard.errors import InputError
from truceguard.geo.sphere import compass_point
from truceguard.io.reports import weapon_types
from truceguard.judge.places import describe_locations, oblast_names, place_index
from truceguard.judge.terms import Terms
from truceguard.model import MonitorReport

MISSION_KINDS = ("daily", "weekly")
KIND_DAYS = {"daily": 1, "weekly": 7}
CUTOFF = time(19, 30)  # the reporting period ends at 19:30 Kyiv time, as the SMM's did
MAX_BEARING_ERR_DEG = 45.0  # wider than this, a bearing is not said as a compass point

CLASS_NOUNS = {
    "small_arms": "small-arms", "light_weapon": "light-weapon", "mortar_lt120": "mortar",
    "mortar_120": "120 mm mortar", "artillery_lt100": "artillery", "tank": "tank",
    "artillery_ge100": "artillery", "mlrs": "MLRS", "mlrs_long": "long-range MLRS",
    "tactical_missile": "tactical-missile", "aircraft": "aircraft", "helicopter": "helicopter",
    "uav": "UAV", "mine": "mine",
}  # fmt: skip
DIRECTION_WORDS = {"impact": "impacting", "outgoing": "outgoing"}
RESTRICTION_WORDS = {"checkpoint": "at a checkpoint", "mines": "mines on the route",
                     "threat": "a threat to security", "uav_jamming": "UAV jamming",
                     "other": "other"}
HAZARD_WORDS = {"mine": "mines", "uxo": "unexploded ordnance (UXO)"}
STORAGE_WORDS = {"present": "present", "absent": "absent (weapons missing)",
                 "never_verified": "not verified"}


@cache
def kyiv() -> ZoneInfo:
    """Kyiv's time zone (IANA ``Europe/Kyiv``; older databases spell it ``Europe/Kiev``)."""
    for name in ("Europe/Kyiv", "Europe/Kiev"):
        try:
            return ZoneInfo(name)
        except ZoneInfoNotFoundError:
            continue
    raise InputError("no time-zone data for Europe/Kyiv on this machine",
                     hint="install the tzdata package (pip install tzdata)",
                     code="input.no_time_zone")


@dataclass(frozen=True)
class Window:
    """A reporting period: [start, end) in epoch seconds, ending at 19:30 Kyiv time on
    ``day`` and starting at 19:30 one day (daily) or seven days (weekly) before."""

    kind: str
    day: date
    start: int
    end: int

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600.0

    def previous(self) -> Window:
        """The reporting period just before, of the same kind."""
        return mission_window(self.kind, self.day - timedelta(days=KIND_DAYS[self.kind]))

    @property
    def text(self) -> str:
        """'19:30 on 29 August 2021 to 19:30 on 30 August 2021 (Kyiv time)'."""
        return f"{local_text(self.start, year=True)} to {local_text(self.end, year=True)}"


def mission_window(kind: str, day: date) -> Window:
    """The reporting period of ``kind`` ending at 19:30 Kyiv time on ``day``."""
    if kind not in KIND_DAYS:
        raise InputError(f"report kind {kind!r}: expected one of {', '.join(MISSION_KINDS)}",
                         code="input.unknown_value")
    zone = kyiv()
    end = datetime.combine(day, CUTOFF, tzinfo=zone)
    start = datetime.combine(day - timedelta(days=KIND_DAYS[kind]), CUTOFF, tzinfo=zone)
    return Window(kind, day, int(start.timestamp()), int(end.timestamp()))


def latest_day(now: float | None = None) -> date:
    """The last day whose reporting period has ended: today in Kyiv from 19:30, else
    yesterday."""
    t = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    local = t.astimezone(kyiv())
    return local.date() if local.time() >= CUTOFF else local.date() - timedelta(days=1)


def local_text(t: int, *, year: bool = False) -> str:
    """An epoch second in Kyiv time: '19:30 on 30 August' ('... 2021' with ``year``)."""
    d = datetime.fromtimestamp(t, UTC).astimezone(kyiv())
    return f"{d:%H:%M} on {d.day} {d:%B}" + (f" {d.year}" if year else "")


def local_short(t: int) -> str:
    """An epoch second in Kyiv time for a table: '30 Aug 13:00'."""
    d = datetime.fromtimestamp(t, UTC).astimezone(kyiv())
    return f"{d.day} {d:%b} {d:%H:%M}"


def utc_offset_text(t: int) -> str:
    """Kyiv's offset from UTC at ``t``: 'UTC+3'."""
    off = datetime.fromtimestamp(t, UTC).astimezone(kyiv()).utcoffset() or timedelta(0)
    hours = off.total_seconds() / 3600
    return f"UTC{hours:+.0f}" if hours == int(hours) else f"UTC{hours:+.1f}"


# -- places ------------------------------------------------------------------------------


def named_areas(lon: Sequence[float], lat: Sequence[float]) -> list[str]:
    """The nearest shipped settlement of each point with its oblast: 'Avdiivka (Donetsk
    oblast)'; the oblast is that of the settlement (geoBoundaries ADM1)."""
    if not len(lon):
        return []
    idx = place_index("UA")
    lo = np.radians(np.asarray(lon, float))
    la = np.radians(np.asarray(lat, float))
    _, k = idx.tree.query(np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo),
                                           np.sin(la)]))
    regions = oblast_names(idx.lon[k], idx.lat[k])
    return [f"{name} ({region})" if region else str(name)
            for name, region in zip(idx.name[k], regions, strict=True)]


def where_texts(lon: Sequence[float], lat: Sequence[float], unc: Sequence[float | None],
                terms: Terms) -> list[str]:
    """The monitors' location text of each point ('4 km south-east of X (±1 km,
    government-controlled)'); a point of no stated uncertainty is placed as exact, with no
    radius."""
    out = [""] * len(lon)
    known = [i for i, u in enumerate(unc) if u is not None]
    exact = [i for i, u in enumerate(unc) if u is None]
    radii: list[float] | None
    for rows, radii in ((known, [float(unc[i] or 0.0) for i in known]), (exact, None)):
        if rows:
            texts = describe_locations([lon[i] for i in rows], [lat[i] for i in rows], terms,
                                       uncertainty_m=radii)
            for i, text in zip(rows, texts, strict=True):
                out[i] = text
    return out


def region_of(oblast: str | None) -> str:
    """The report's region of an oblast name: 'Donetsk', 'Luhansk' or 'elsewhere'."""
    return {"Donetsk oblast": "Donetsk", "Luhansk oblast": "Luhansk"}.get(oblast or "",
                                                                           "elsewhere")


# -- "assessed as" ---------------------------------------------------------------------


def number(x: float) -> str:
    return f"{x:g}"


def weapon_parts(weapon_type: str | None, weapon_class: str) -> tuple[str, str]:
    """(noun, designation): ('122 mm artillery', '2S1') from the shipped weapon list, else
    the class noun ('mortar', ''), else ('', '')."""
    if weapon_type:
        w = weapon_types().get(weapon_type)
        if w is None:
            return "", weapon_type
        noun = CLASS_NOUNS.get(w.weapon_class, "")
        if w.calibre_mm and "mm" not in noun:
            noun = f"{number(w.calibre_mm)} mm {noun}".strip()
        return noun, w.key
    return CLASS_NOUNS.get(weapon_class, ""), ""


def weapon_phrase(weapon_type: str | None, weapon_class: str) -> str:
    """'122 mm artillery (2S1)', 'mortar', 'T-72' or ''."""
    noun, key = weapon_parts(weapon_type, weapon_class)
    return f"{noun} ({key})" if noun and key else noun or key


def band_text(r: MonitorReport) -> str:
    """The distance band as text: '3-5 km', 'up to 5 km', 'at least 3 km', or ''."""
    lo, hi = r.distance_min_km, r.distance_max_km
    if lo is not None and hi is not None:
        return f"{number(lo)} km" if lo == hi else f"{number(lo)}-{number(hi)} km"
    if hi is not None:
        return f"up to {number(hi)} km"
    if lo is not None:
        return f"at least {number(lo)} km"
    return ""


def compass_text(r: MonitorReport) -> str:
    """The bearing from the observer as a compass point ('south-east'), or '' when there is
    none or its error is wider than MAX_BEARING_ERR_DEG."""
    if r.bearing_deg is None:
        return ""
    if r.bearing_err_deg is not None and r.bearing_err_deg > MAX_BEARING_ERR_DEG:
        return ""
    return compass_point(r.bearing_deg)


def whereabouts(r: MonitorReport) -> str:
    """Band and bearing together: '3-5 km south-east', 'south-east', '3-5 km away', ''."""
    band, point = band_text(r), compass_text(r)
    if band and point:
        return f"{band} {point}"
    return point or (f"{band} away" if band else "")


def assessed_fire(r: MonitorReport | None, weapon_class: str) -> str:
    """'assessed as outgoing 122 mm artillery fire (2S1), 3-5 km south-east'. Fire of no
    assessed direction says so ('assessed as mortar fire, direction undetermined'); with
    nothing but a place assessed: 'direction undetermined; assessed as 3-5 km south-east'."""
    direction = r.direction if r is not None else None
    noun, key = weapon_parts(r.weapon_type if r else None, weapon_class)
    where = whereabouts(r) if r is not None else ""
    known = direction in DIRECTION_WORDS
    if not (known or noun or key):
        return f"direction undetermined; assessed as {where}" if where else \
            "direction undetermined"
    what = " ".join(x for x in (DIRECTION_WORDS.get(direction or "", ""), noun, "fire") if x)
    parts = [f"assessed as {what}" + (f" ({key})" if key else "")]
    if not known:
        parts.append("direction undetermined")
    if where:
        parts.append(where)
    return ", ".join(parts)


def assessed_weapon(weapon_type: str | None, weapon_class: str) -> str:
    """'assessed as T-72 tank' (the shipped list's name), 'assessed as tank', or ''."""
    if weapon_type:
        w = weapon_types().get(weapon_type)
        return f"assessed as {w.name if w is not None else weapon_type}"
    noun = CLASS_NOUNS.get(weapon_class, "")
    return f"assessed as {noun}" if noun else ""


__all__ = [
    "CUTOFF", "KIND_DAYS", "MISSION_KINDS", "Window", "assessed_fire", "assessed_weapon",
    "band_text", "compass_text", "kyiv", "latest_day", "local_short", "local_text",
    "mission_window", "named_areas", "region_of", "utc_offset_text", "weapon_parts",
    "weapon_phrase", "where_texts", "whereabouts",
]  # fmt: skip
