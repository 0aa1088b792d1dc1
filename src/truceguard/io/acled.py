"""ACLED (Armed Conflict Location & Event Data) CSV: one coded event a row.

ACLED's terms forbid redistributing its data, so nothing of it ships here; users import their own
export. Columns are ACLED's own names (``event_id_cnty``, ``event_date``, ``latitude`` ...);
``mapping`` ({acled_column: column_in_file}) renames them for reshaped exports.

Precision codes become honest uncertainties:

- ``geo_precision`` -> a radius in metres, ``GEO_PRECISION_M``: 1 (the town itself) 2 km,
  2 (near a town, or a part of a region) 15 km, 3 (a larger area, a region) 75 km;
  blank -> unknown (None).
- ``time_precision`` -> the time window, ``TIME_PRECISION_HALF_WINDOW``: 1 the day itself;
  2 a week, coded on a day in that week: the window is that day +/- 3 days; 3 a month, coded
  on a day in that month: the window is that day +/- 15 days. Blank counts as 1.

``event_date`` is read as ACLED writes it: ``15 January 2024`` (its export tool), ``2024-01-15``
(its API), ``15-Jan-2024`` or ``15-01-2024`` (day first, the codebook's dd-mm-yyyy).

Category and weapon class come from ``sub_event_type`` (``CATEGORY_BY_SUB_EVENT``), and, for
strikes and shelling, from words in ``notes`` (``WEAPON_WORDS``: "Grad" -> mlrs, "mortar" ->
mortar_lt120, "drone" -> uav ...). ``event_id_cnty`` is the source's own id, so a re-import of an
updated ACLED export replaces nothing and duplicates nothing. ``fatalities`` is a whole number
from 0 to ``values.MAX_COUNT``; the time window lies in the years 1000-9999. Every record
carries the ``releasability`` option's marking (canonical text). ACLED's events are curated:
its coders have already merged the reports of one event (``curated=True`` in the registry).
"""

from __future__ import annotations

import os
import re
from collections.abc import Container, Iterator
from pathlib import Path

from truceguard.errors import MissingColumnsError, RowError
from truceguard.io.base import (
    MAX_RECORD_BYTES,
    open_csv,
    parse_lat_lon,
    require_columns,
    row_error,
    sha256_hex,
)
from truceguard.io.registry import ReaderSpec, checked_options, csv_columns
from truceguard.io.timeparse import DAY, parse_date_iso, parse_time
from truceguard.io.values import FieldError, MarkingCeiling, time_in_range, whole
from truceguard.model import Observation

SOURCE = "ACLED"
REQUIRED = ["event_id_cnty", "event_date", "latitude", "longitude"]

# geo_precision code -> radius of position uncertainty, metres.
GEO_PRECISION_M = {1: 2_000.0, 2: 15_000.0, 3: 75_000.0}
# time_precision code -> days either side of event_date that the event may have happened on.
TIME_PRECISION_HALF_WINDOW = {1: 0, 2: 3, 3: 15}

# sub_event_type -> (category, weapon class before notes are read).
CATEGORY_BY_SUB_EVENT: dict[str, tuple[str, str]] = {
    "armed clash": ("armed_clash", "unknown"),
    "shelling/artillery/missile attack": ("shelling", "unknown"),
    "air/drone strike": ("air_strike", "unknown"),
    "remote explosive/landmine/ied": ("mine", "mine"),
    "grenade": ("explosion", "light_weapon"),
    "suicide bomb": ("explosion", "unknown"),
    "government regains territory": ("movement", "unknown"),
    "non-state actor overtakes territory": ("movement", "unknown"),
    "non-violent transfer of territory": ("movement", "unknown"),
}
# Sub-event types whose notes say which weapon was used.
_WEAPON_FROM_NOTES = {"shelling", "air_strike", "armed_clash", "explosion"}
# Words in notes -> weapon class; the first match in this order wins (specific before general).
WEAPON_WORDS: tuple[tuple[str, str], ...] = (
    (r"tornado-s|uragan|smerch|himars", "mlrs_long"),
    (r"\bmlrs\b|\bgrad\b|multiple[- ]launch|multiple rocket", "mlrs"),
    (r"iskander|tochka|ballistic missile", "tactical_missile"),
    (r"120[- ]?mm mortar|120mm mortar", "mortar_120"),
    (r"mortar", "mortar_lt120"),
    (r"\btanks?\b", "tank"),
    (r"\bdrones?\b|\buavs?\b|shahed|geran|lancet|loitering|\bfpv\b", "uav"),
    (r"helicopter", "helicopter"),
    (r"aircraft|\bjets?\b|warplane|guided (aerial )?bomb|\bkab\b|glide bomb|\bsu-\d", "aircraft"),
    (r"artillery|howitzer|152[- ]?mm|122[- ]?mm|\bguns?\b", "artillery_ge100"),
    (r"\bagl\b|grenade launcher|heavy machine gun|\bspg-9\b|recoilless", "light_weapon"),
    (r"small arms|small-arms|rifle|machine gun|gunfire", "small_arms"),
)
_WEAPON_RES = tuple((re.compile(p, re.IGNORECASE), w) for p, w in WEAPON_WORDS)
# Columns kept as attributes, beside the ones the Observation fields take.
KEPT = (
    "event_type",
    "sub_event_type",
    "disorder_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "source",
    "source_scale",
    "tags",
    "timestamp",
)
_DMY_NUMERIC = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")


def parse_event_date(text: str) -> int:
    """Epoch seconds of the midnight UTC that begins ``event_date``; ValueError if unreadable."""
    s = text.strip()
    if len(s) == 10 and s[4] == "-":
        try:
            return parse_date_iso(s)
        except ValueError:
            raise ValueError(f"{s!r}: no such date") from None
    m = _DMY_NUMERIC.match(s)
    if m:
        return parse_time(f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}")[0]
    return parse_time(s)[0] // DAY * DAY


def weapon_from_notes(notes: str) -> str:
    """The weapon class the notes name first in ``WEAPON_WORDS`` order; 'unknown' if none."""
    for pattern, weapon in _WEAPON_RES:
        if pattern.search(notes):
            return weapon
    return "unknown"


def classify(sub_event_type: str, notes: str) -> tuple[str, str]:
    """(category, weapon class) for one ACLED event."""
    category, weapon = CATEGORY_BY_SUB_EVENT.get(
        sub_event_type.strip().lower(), ("other", "unknown")
    )
    if category in _WEAPON_FROM_NOTES and weapon == "unknown" and notes:
        weapon = weapon_from_notes(notes)
    if category == "air_strike" and weapon == "uav":
        category = "drone"
    elif category == "shelling" and weapon == "tactical_missile":
        category = "missile"
    return category, weapon


def _code(text: str, allowed: Container[int]) -> int | None:
    """An ACLED precision code; None when blank; ValueError when not one of ``allowed``."""
    s = text.strip()
    if not s:
        return None
    try:
        code = int(float(s))  # spreadsheets write "1.0"
    except OverflowError:
        raise ValueError(s) from None
    if code not in allowed:
        raise ValueError(s)
    return code


@checked_options("acled")
def read_acled(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
    mapping: dict[str, str] | None = None,
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad rows) of an ACLED CSV export, in file order."""
    marking = MarkingCeiling(releasability).text
    header, records, src = open_csv(path, encoding, max_record_bytes)
    names = dict(mapping or {})

    def col(name: str) -> str:
        return names.get(name, name)

    try:
        require_columns(path, header, [col(c) for c in REQUIRED])
    except MissingColumnsError:
        src.fh.close()  # the record iterator that owns it never started
        raise
    idx = {name: i for i, name in enumerate(header)}

    def opt(name: str) -> int | None:
        return idx.get(col(name))

    i_id, i_date = idx[col("event_id_cnty")], idx[col("event_date")]
    i_lat, i_lon = idx[col("latitude")], idx[col("longitude")]
    i_tp, i_gp = opt("time_precision"), opt("geo_precision")
    i_sub, i_notes, i_src, i_fat = (
        opt("sub_event_type"),
        opt("notes"),
        opt("source"),
        opt("fatalities"),
    )
    kept = [(k, i) for k in KEPT if (i := opt(k)) is not None]
    ncol = len(header)
    fname = str(path)
    for rec in records:
        if rec.error:
            yield row_error(fname, rec, "record", rec.error)
            continue
        f = rec.fields
        if len(f) != ncol:
            yield row_error(fname, rec, "record", f"{len(f)} fields, the header has {ncol}")
            continue
        ident = f[i_id].strip()
        if not ident:
            yield row_error(fname, rec, col("event_id_cnty"), "empty")
            continue
        lat, lon, bad, why = parse_lat_lon(f[i_lat], f[i_lon])
        if bad:
            yield row_error(fname, rec, col(bad), why)
            continue
        try:
            day = parse_event_date(f[i_date])
        except ValueError as exc:
            yield row_error(fname, rec, col("event_date"), str(exc))
            continue
        tp_s = f[i_tp] if i_tp is not None else ""
        try:
            tp = _code(tp_s, TIME_PRECISION_HALF_WINDOW)
        except ValueError:
            yield row_error(fname, rec, col("time_precision"), f"{tp_s[:20]!r} is not 1, 2 or 3")
            continue
        gp_s = f[i_gp] if i_gp is not None else ""
        try:
            gp = _code(gp_s, GEO_PRECISION_M)
        except ValueError:
            yield row_error(fname, rec, col("geo_precision"), f"{gp_s[:20]!r} is not 1, 2 or 3")
            continue
        fatalities: int | None = None
        half = TIME_PRECISION_HALF_WINDOW[tp or 1] * DAY
        t0 = day - half
        t1 = day + half + DAY - 1
        try:
            if i_fat is not None and f[i_fat].strip():
                fatalities = whole(f[i_fat], col("fatalities"))
            time_in_range(t0, col("event_date"))
            time_in_range(t1, col("event_date"))
        except FieldError as fault:
            yield row_error(fname, rec, fault.field, fault.reason)
            continue
        notes = f[i_notes] if i_notes is not None else ""
        category, weapon = classify(f[i_sub] if i_sub is not None else "", notes)
        attrs: dict[str, object] = {k: f[i] for k, i in kept if f[i] != ""}
        if fatalities is not None:
            attrs["fatalities"] = fatalities
        if tp is not None:
            attrs["time_precision"] = tp
        if gp is not None:
            attrs["geo_precision"] = gp
        origin = f[i_src].split(";", 1)[0].strip() if i_src is not None else ""
        yield Observation(
            source=SOURCE,
            how_known="open_source",
            t_start=t0,
            t_end=t1,
            time_precision_s=t1 - t0 + 1,
            lat=lat,
            lon=lon,
            uncertainty_m=GEO_PRECISION_M[gp] if gp is not None else None,
            category=category,
            weapon_class=weapon,
            count=1,
            text=notes,
            origin=origin,
            source_ref=ident,
            releasability=marking,
            raw=rec.raw,
            raw_sha256=sha256_hex(rec.raw),
            source_file=fname,
            source_line=rec.line,
            attributes=attrs,
        )


def sniff_acled(path: Path, head: bytes) -> int:
    """3 for a CSV whose header has ACLED's own id, date and precision columns."""
    return 3 if {"event_id_cnty", "event_date", "geo_precision"} <= csv_columns(head) else 0


ACLED_READER = ReaderSpec(
    "acled",
    read_acled,
    sniff_acled,
    curated=True,
    description="ACLED (Armed Conflict Location & Event Data) CSV export",
)
