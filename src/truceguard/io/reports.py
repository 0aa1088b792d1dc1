"""A monitor's report (``model.MonitorReport``) as every format reads and writes it.

The fields keep one name everywhere (``REPORT_FIELDS``): CSV columns (``--map`` reaches each),
GeoJSON properties, the attributes of CoT's ``<detail><truceguard .../>`` and, nested as the
``report`` object, the JSON of listings and of the HTTP API. A record has a report when any of
them is given; then ``kind`` is required.

Values: ``kind``, ``direction``, ``storage_present``, ``restriction_type`` and ``hazard_type``
are words of their vocabularies (``model``); ``weapon_type`` an entry of the shipped weapon
list (``weapon_types``), matched exactly, with a did-you-mean when it is not; bearings are
degrees from 0 up to (not including) 360, their errors more than 0 and at most 90; distances
are km from 0 to ``MAX_DISTANCE_KM`` with ``distance_min_km <= distance_max_km``; the
observer's position is both of ``observer_lat`` and ``observer_lon`` (and
``observer_uncertainty_m`` only with them); counts (``killed``, ``injured``), ``duration_s`` and
``delay_min`` are whole numbers from 0. Free text (``in_zone``, ``storage_site``,
``restricted_by``, ``damage``, ``corroboration``) is read without surrounding white space: one
line, no control characters, nothing XML cannot hold. A field of ``model.KIND_FIELDS`` belongs
to its kind alone (a direction on a sighting is refused). The observer may be no farther from
the observed point than ``distance_max_km`` + ``OBSERVER_SLACK_KM`` (``OBSERVER_MAX_KM`` when
there is no band).

A weapon type decides the record's weapon class: a record that names no class (or
``unknown``) gets the type's; one that names another class is refused (``weapon_class_for``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache

from truceguard.errors import ConfigError, suggest
from truceguard.io.values import MAX_COUNT, MAX_UNCERTAINTY_M, MAX_WINDOW_S, FieldError, number
from truceguard.io.values import real as _real
from truceguard.io.values import whole as _whole
from truceguard.model import (
    FIRE_DIRECTIONS,
    HAZARD_TYPES,
    KIND_FIELDS,
    REPORT_KINDS,
    RESTRICTION_TYPES,
    STORAGE_STATES,
    WEAPON_CLASSES,
    MonitorReport,
)

REPORT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MonitorReport))
REAL_FIELDS = frozenset({"bearing_deg", "bearing_err_deg", "distance_min_km", "distance_max_km",
                         "observer_lat", "observer_lon", "observer_uncertainty_m",
                         "crater_bearing_deg", "crater_bearing_err_deg"})
WHOLE_FIELDS: dict[str, int] = {"duration_s": MAX_WINDOW_S, "delay_min": MAX_COUNT,
                                "killed": MAX_COUNT, "injured": MAX_COUNT}
CHOICES: dict[str, tuple[str, ...]] = {
    "kind": REPORT_KINDS, "direction": FIRE_DIRECTIONS, "storage_present": STORAGE_STATES,
    "restriction_type": RESTRICTION_TYPES, "hazard_type": HAZARD_TYPES,
    "by_monitors": ("yes", "no")}
TEXT_FIELDS = ("in_zone", "storage_site", "restricted_by", "damage", "corroboration",
               "actor_side")
MAX_DISTANCE_KM = 20_038.0  # half the Earth's circumference
OBSERVER_SLACK_KM = 50.0
OBSERVER_MAX_KM = 100.0
MAX_TEXT = 2000
_EARTH_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class WeaponType:
    """One entry of the shipped weapon list."""

    key: str  # what a report names: "2A65"
    name: str
    weapon_class: str
    calibre_mm: float | None
    max_range_km: float | None  # the longest range its source gives; None where none found
    range_note: str
    source: str


@lru_cache(maxsize=1)
def weapon_types() -> dict[str, WeaponType]:
    """The shipped weapon list (``data/weapons/weapon_types.yaml``), by key."""
    from truceguard.config import load_yaml
    from truceguard.geo.shipped import data_path

    path = data_path("weapons", "weapon_types.yaml")
    doc = load_yaml(path)
    out: dict[str, WeaponType] = {}
    for key, entry in doc["types"].items():
        wc = entry["weapon_class"]
        if wc not in WEAPON_CLASSES:
            raise ConfigError(str(path), f"types.{key}.weapon_class", f"{wc!r} is not a weapon "
                              f"class ({', '.join(WEAPON_CLASSES)})")
        rng = entry.get("max_range_km")
        calibre = entry.get("calibre_mm")
        out[str(key)] = WeaponType(str(key), str(entry["name"]), str(wc),
                                   None if calibre is None else float(calibre),
                                   None if rng is None else float(rng),
                                   str(entry.get("range_note", "")), str(entry["source"]))
    return out


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius), km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _text(value: str, field: str) -> None:
    if not value or value != value.strip():
        raise FieldError(field, f"{value[:40]!r} is empty or has white space around it")
    if len(value) > MAX_TEXT:
        raise FieldError(field, f"{len(value):,} characters, over the limit of {MAX_TEXT:,}")
    if any(unicodedata.category(c) in ("Cc", "Cs") or c in "\ufffe\uffff" for c in value):
        raise FieldError(field, "holds a control character, a lone surrogate or U+FFFE/U+FFFF "
                                "(one line of text that XML can hold is expected)")


def _bearing(r: MonitorReport, field: str, err_field: str) -> None:
    b, e = getattr(r, field), getattr(r, err_field)
    if b is not None and not 0.0 <= _real(b, field, 0.0, 360.0) < 360.0:
        raise FieldError(field, f"{b!r} is not from 0 up to (not including) 360")
    if e is not None:
        if b is None:
            raise FieldError(err_field, f"an error without a bearing ({field} is missing)")
        if not 0.0 < _real(e, err_field, 0.0, 90.0) <= 90.0:
            raise FieldError(err_field, f"{e!r} is not more than 0 and at most 90 degrees")


def _check_values(r: MonitorReport) -> None:
    for name, words in CHOICES.items():
        value = getattr(r, name)
        if value is not None and value not in words:
            raise FieldError(name, f"{str(value)[:40]!r} is not one of {', '.join(words)}")
    for kind, names in KIND_FIELDS.items():
        for name in names:
            if kind != r.kind and getattr(r, name) is not None:
                raise FieldError(name, f"is for {kind} reports; this is a {r.kind} report")
    if r.weapon_type is not None and r.weapon_type not in weapon_types():
        raise FieldError("weapon_type", f"{r.weapon_type[:40]!r} is not a known weapon type "
                         f"({suggest(r.weapon_type, weapon_types())})")
    for name in TEXT_FIELDS:
        if getattr(r, name) is not None:
            _text(getattr(r, name), name)
    for name, hi in WHOLE_FIELDS.items():
        if getattr(r, name) is not None:
            _whole(getattr(r, name), name, 0, hi)
    _bearing(r, "bearing_deg", "bearing_err_deg")
    _bearing(r, "crater_bearing_deg", "crater_bearing_err_deg")


def check_report(r: MonitorReport, lat: float, lon: float) -> None:
    """FieldError (naming the report field) if ``r``, reported at ``lat``/``lon``, breaks a
    rule of the module docstring."""
    _check_values(r)
    lo, hi = r.distance_min_km, r.distance_max_km
    for name, value in (("distance_min_km", lo), ("distance_max_km", hi)):
        if value is not None:
            _real(value, name, 0.0, MAX_DISTANCE_KM)
    if lo is not None and hi is not None and lo > hi:
        raise FieldError("distance_min_km", f"{lo!r} is more than distance_max_km ({hi!r})")
    olat, olon = r.observer_lat, r.observer_lon
    if (olat is None) != (olon is None):
        missing = "observer_lon" if olon is None else "observer_lat"
        raise FieldError(missing, "missing: the observer's position needs both observer_lat "
                                  "and observer_lon")
    if r.observer_uncertainty_m is not None:
        if olat is None:
            raise FieldError("observer_uncertainty_m", "an uncertainty without the observer's "
                                                       "position")
        _real(r.observer_uncertainty_m, "observer_uncertainty_m", 0.0, MAX_UNCERTAINTY_M)
    if olat is not None and olon is not None:
        _real(olat, "observer_lat", -90.0, 90.0)
        _real(olon, "observer_lon", -180.0, 180.0)
        limit = OBSERVER_MAX_KM if hi is None else hi + OBSERVER_SLACK_KM
        far = distance_km(olat, olon, lat, lon)
        if far > limit:
            why = ("distance_max_km + 50 km" if hi is not None
                   else "100 km, with no distance band")
            raise FieldError("observer_lat", f"the observer is {far:,.1f} km from the observed "
                                             f"point, farther than {limit:,.1f} km ({why})")


def parse_report(raw: Mapping[str, object], lat: float, lon: float,
                 name: Callable[[str], str] = str, *, text_numbers: bool = True
                 ) -> MonitorReport | None:
    """The report of one record from its raw values by field (text from CSV and CoT, JSON
    values from GeoJSON; None or blank where absent); None when none is given. FieldError
    names the field as ``name(field)`` (the record's own column or attribute name).
    ``text_numbers``: whether a number may be written as text (CSV, CoT) or must be a number
    (GeoJSON)."""
    given: dict[str, object] = {}
    for field, value in raw.items():
        if isinstance(value, str):
            value = value.strip()
        if value is not None and value != "":
            given[field] = value
    if not given:
        return None
    try:
        values = {f: _convert(f, v, text_numbers) for f, v in given.items()}
        if "kind" not in values:
            raise FieldError("kind", f"missing: a monitor's report (it has {min(values)}) "
                                     f"needs a kind ({', '.join(REPORT_KINDS)})")
        report = MonitorReport(**values)  # type: ignore[arg-type]
        check_report(report, lat, lon)
    except FieldError as bad:
        raise FieldError(name(bad.field), bad.reason) from None
    return report


def _convert(field: str, value: object, text_numbers: bool) -> object:
    if field in REAL_FIELDS or field in WHOLE_FIELDS:
        if isinstance(value, str) and not text_numbers:
            raise FieldError(field, f"expected a number, found text {value[:40]!r}")
        if field in WHOLE_FIELDS:
            return _whole(value, field, 0, WHOLE_FIELDS[field])
        return number(value, field)
    if not isinstance(value, str):
        raise FieldError(field, f"expected text, found {type(value).__name__}")
    return value


def weapon_class_for(weapon_class: str | None, report: MonitorReport | None) -> str | None:
    """The record's weapon class once its report's weapon type is known: the type's class when
    the record names none (None or ``unknown``), the record's own otherwise; FieldError
    (``weapon_type``) when the two differ."""
    if report is None or report.weapon_type is None:
        return weapon_class
    implied = weapon_types()[report.weapon_type].weapon_class
    if weapon_class not in (None, "unknown", implied):
        raise FieldError("weapon_type", f"{report.weapon_type!r} is a {implied} weapon; the "
                                        f"record says weapon_class {weapon_class}")
    return implied


def report_values(report: MonitorReport | None) -> list[object]:
    """The report's values in ``REPORT_FIELDS`` order (all None for no report)."""
    if report is None:
        return [None] * len(REPORT_FIELDS)
    return [getattr(report, f) for f in REPORT_FIELDS]


def report_given(report: MonitorReport | None) -> dict[str, object]:
    """The report's fields that are given (not None), in ``REPORT_FIELDS`` order."""
    return {f: v for f, v in zip(REPORT_FIELDS, report_values(report), strict=True)
            if v is not None}


def report_attributes(report: MonitorReport | None) -> dict[str, str]:
    """The given fields as text (XML attributes): numbers as ``repr`` reads back exactly."""
    return {f: v if isinstance(v, str) else repr(v) for f, v in report_given(report).items()}


__all__ = ["REPORT_FIELDS", "WeaponType", "check_report", "distance_km", "parse_report",
           "report_attributes", "report_given", "report_values", "weapon_class_for",
           "weapon_types"]
