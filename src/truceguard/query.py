"""Queries as users write them (option values, URL parameters) turned into store filters.

The CLI and the HTTP API call these same functions, so a filter means the same everywhere and a
bad value gets the same error: a value that cannot match anything is an error naming it (with
the valid values), never an empty answer.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

from truceguard.errors import InputError, NotFoundError, unknown_value
from truceguard.judge.terms import load_terms, resolve_clause, shipped_terms
from truceguard.marking import Viewer
from truceguard.model import CATEGORIES, WEAPON_CLASSES
from truceguard.store import JudgingStore, ObservationFilter, ObservationStore

# -- strict values ----------------------------------------------------------------------------

MAX_LIMIT = 10_000_000


def default_min_p() -> float:
    """The default of ``--min-p``: the reporting threshold of ``grading.yaml``."""
    from truceguard.judge.grading import report_threshold

    return report_threshold()

_ISO = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?)?$"
)
DATE_HINT = ("write dates as ISO 8601: 2020-07-27, 2020-07 (a month), 2020 (a year) or "
             "2020-07-27T06:00Z")


def parse_time_option(value: str, option: str, *, end: bool = False) -> int:
    """An ISO 8601 date or date-time (UTC unless it says otherwise) as epoch seconds.

    A date stands for its whole day, month or year: ``end=True`` gives its last second (so
    ``--until 2020-12-31`` includes all of that day). Anything else (``05/07/2020``, whose day
    and month nobody can tell apart) is an InputError naming the value.
    """
    text = value.strip()
    m = _ISO.match(text)
    if not m:
        raise InputError(f"{option} {value!r} is not an ISO 8601 date", hint=DATE_HINT,
                         code="input.bad_date")
    g = m.groupdict()
    try:
        y, mo, d = int(g["y"]), int(g["m"] or 1), int(g["d"] or 1)
        start = datetime(y, mo, d, int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0),
                         tzinfo=UTC)
        if y < 1000:
            raise ValueError("year before 1000")
    except ValueError as exc:
        raise InputError(f"{option} {value!r} is not a valid date ({exc})", hint=DATE_HINT,
                         code="input.bad_date") from None
    if g["tz"] and g["tz"] != "Z":
        tz = g["tz"].replace(":", "")
        sign = 1 if tz[0] == "+" else -1
        start -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
    if not end:
        return int(start.timestamp())
    if g["S"] is not None:
        stop = start + timedelta(seconds=1)
    elif g["M"] is not None:
        stop = start + timedelta(minutes=1)
    elif g["d"] is not None:
        stop = start + timedelta(days=1)
    elif g["m"] is not None:
        stop = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
    else:
        stop = datetime(y + 1, 1, 1, tzinfo=UTC)
    return int(stop.timestamp()) - 1


def parse_date_option(value: str, option: str, *, end: bool = False) -> date:
    """A calendar date (UTC) from the same forms as ``parse_time_option``."""
    t = parse_time_option(value, option, end=end)
    return datetime.fromtimestamp(t, UTC).date()


def finite(value: float | None, option: str, *, low: float | None = None,
           high: float | None = None, low_open: bool = False) -> float | None:
    """A finite number within bounds, or an InputError naming it."""
    if value is None:
        return None
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        lo = "" if low is None else (f"> {low:g}" if low_open else f">= {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        want = " and ".join(x for x in (lo, hi) if x) or "finite"
        raise InputError(f"{option} {value!r} is out of range", hint=f"give a number {want}",
                         code="input.out_of_range")
    return value


def check_limit(limit: int | None, count: bool) -> int | None:
    if limit is None:
        return None
    if count:
        raise InputError("--count and --limit do not go together",
                         hint="--count counts every match; drop --limit (or --count)",
                         code="input.conflicting_options")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit {limit} is out of range",
                         hint=f"give a number from 1 to {MAX_LIMIT:,}",
                         code="input.out_of_range")
    return limit


def parse_floats(text: str, n: int, what: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != n or not all(v == v and abs(v) != float("inf") for v in vals):
        raise InputError(f"{what} {text!r}: expected {n} numbers separated by commas",
                         hint=f"e.g. {what.split()[0]} " + ",".join(["1.5"] * n),
                         code="input.bad_number")
    return vals


def option_name(name: str, style: str = "cli") -> str:
    """How a user wrote a parameter: ``--within-km`` on the command line, ``within_km`` in a
    URL; errors name it the way the user wrote it."""
    return "--" + name.replace("_", "-") if style == "cli" else name


def build_filter(
    since: str | None,
    until: str | None,
    bbox: str | None,
    near: str | None,
    within_km: float | None,
    category: tuple[str, ...],
    source: tuple[str, ...],
    weapon_class: tuple[str, ...] = (),
    *,
    style: str = "cli",
) -> ObservationFilter:
    """The ObservationFilter the options (or URL parameters, ``style="api"``) describe, shared
    by every listing. Every value is checked: a value that cannot match anything is an error,
    not zero rows."""
    o_since, o_until, o_bbox, o_near, o_km, o_cat, o_wpn = (
        option_name(n, style) for n in ("since", "until", "bbox", "near", "within_km",
                                         "category", "weapon_class"))
    t0 = parse_time_option(since, o_since) if since else None
    t1 = parse_time_option(until, o_until, end=True) if until else None
    if t0 is not None and t1 is not None and t1 < t0:
        raise InputError(f"{o_until} {until!r} is before {o_since} {since!r}",
                         hint="swap them, or widen the period", code="input.bad_period")
    box = None
    if bbox:
        w, s, e, n = parse_floats(bbox, 4, f"{o_bbox} W,S,E,N")
        if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
            raise InputError(f"{o_bbox} {bbox!r}: degrees out of range",
                             hint="longitudes -180..180, latitudes -90..90",
                             code="input.bad_bbox")
        if w > e or s > n:
            raise InputError(f"{o_bbox} {bbox!r}: the west edge is east of the east edge or "
                             "the south edge north of the north edge",
                             hint="give W,S,E,N with W <= E and S <= N", code="input.bad_bbox")
        box = (w, s, e, n)
    near_t = None
    if near or within_km is not None:
        if not (near and within_km is not None):
            raise InputError(f"{o_near} LAT,LON and {o_km} K go together",
                             hint=f"give both, e.g. {o_near} 48.0,37.8 {o_km} 25",
                             code="input.conflicting_options")
        lat, lon = parse_floats(near, 2, f"{o_near} LAT,LON")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"{o_near} {near!r}: latitude must be -90..90 and longitude "
                             "-180..180", hint="give LAT,LON in degrees (latitude first)",
                             code="input.bad_position")
        km = finite(within_km, o_km, low=0.0, high=20_000.0, low_open=True)
        near_t = (lat, lon, float(km or 0))
    for c in category:
        if c not in CATEGORIES:
            raise unknown_value(o_cat, c, CATEGORIES)
    for w_ in weapon_class:
        if w_ not in WEAPON_CLASSES:
            raise unknown_value(o_wpn, w_, WEAPON_CLASSES)
    return ObservationFilter(since=t0, until=t1, bbox=box, near=near_t, categories=category,
                             sources=source, weapon_classes=weapon_class)


def check_sources(store: ObservationStore, flt: ObservationFilter, viewer: Viewer, *,
                  style: str = "cli") -> None:
    """A source the store does not hold (for this viewer) is an error listing those it does."""
    if not flt.sources:
        return
    known = store.sources(viewer)
    for s in flt.sources:
        if s not in known:
            raise unknown_value(option_name("source", style), s, known)


def viewer_from(releasable_to: str | None) -> Viewer:
    return Viewer.parse(releasable_to)


def resolve_terms_and_clauses(store: JudgingStore, terms_name: str | None, clauses: tuple[str, ...]
                              ) -> tuple[str | None, tuple[str, ...]]:
    """--terms and --clause checked against what exists; a clause may be its full id or the
    short code reports print (``live_fire/ceasefire``), which without --terms means that
    clause of every terms that has it."""
    judged = store.adjudicated_terms()
    if terms_name is not None and terms_name not in judged and terms_name not in shipped_terms():
        raise unknown_value("--terms", terms_name, set(judged) | set(shipped_terms()))
    if not clauses:
        return terms_name, ()
    names = [terms_name] if terms_name else sorted(set(judged) | set(shipped_terms()))
    pool = []
    for name in names:
        try:
            pool.append(load_terms(name))
        except NotFoundError:
            continue
    full: list[str] = []
    for c in clauses:
        matches = sorted(k.id for t in pool for k in t.all_clauses if c in (k.id, k.code))
        full += matches or [resolve_clause(c, pool)]  # no match: the error naming it
    return terms_name, tuple(full)
