"""Dates and calendar buckets of the reports: UTC days, ISO weeks, months and years.

Times are UTC epoch seconds; a report's window is [start, end) between two UTC midnights.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from truceguard.errors import InputError
from truceguard.model import iso

PERIODS = ("day", "week", "month", "year")
DAY = 86400


def parse_date(value: date | str, what: str) -> date:
    """A calendar date from a ``date`` or an ISO 8601 'YYYY-MM-DD' string."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{what} {value!r}: expected a date as YYYY-MM-DD",
                         code="input.bad_date") from None


def epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def midnight(t: int) -> int:
    return t - t % DAY


def nearest_midnight(t: int) -> int:
    return midnight(t + DAY // 2)


def when_text(t: int) -> str:
    """'2015-02-15', or '2015-02-14 22:00 UTC' for a time that is not a UTC midnight."""
    return iso(t)[:10] if t % DAY == 0 else iso(t)[:16].replace("T", " ") + " UTC"


def days_text(days: float) -> str:
    """'366', or '0.1' for a part of a day."""
    return f"{days:.0f}" if abs(days - round(days)) < 1e-9 else f"{days:.1f}"


def bucket_edges(period: str, start: int, end: int) -> NDArray[np.int64]:
    """Calendar bucket edges (UTC epoch seconds) covering [start, end), clipped to it.

    Weeks are ISO weeks (Monday to Sunday); start and end are midnights."""
    if period not in PERIODS:
        raise InputError(f"period {period!r}: expected one of {', '.join(PERIODS)}",
                         code="input.unknown_value")
    d0 = np.datetime64(start, "s").astype("datetime64[D]")
    d1 = np.datetime64(end, "s").astype("datetime64[D]")
    if period == "day":
        inner = np.arange(d0 + 1, d1, dtype="datetime64[D]")
    elif period == "week":
        days = np.arange(d0 + 1, d1, dtype="datetime64[D]")
        # 1970-01-01 was a Thursday: day number + 3 is 0 on Mondays (mod 7).
        inner = days[(days.astype(np.int64) + 3) % 7 == 0]
    else:
        unit = "M" if period == "month" else "Y"
        m0 = d0.astype(f"datetime64[{unit}]")
        m1 = (d1 - 1).astype(f"datetime64[{unit}]")
        inner = np.arange(m0 + 1, m1 + 1, dtype=f"datetime64[{unit}]").astype("datetime64[D]")
    secs = inner.astype("datetime64[s]").astype(np.int64)
    return np.concatenate([[start], secs, [end]]).astype(np.int64)


def is_edge(period: str, t: int) -> bool:
    """Whether ``t`` (a UTC midnight) starts a calendar day, ISO week, month or year."""
    d = datetime.fromtimestamp(t, UTC).date()
    return (
        period == "day"
        or (period == "week" and d.weekday() == 0)
        or (period == "month" and d.day == 1)
        or (period == "year" and d.month == 1 and d.day == 1)
    )


def bucket_label(period: str, t: int) -> str:
    """'2020-07-27', '2020-W31', '2020-07' or '2020' for the bucket starting at ``t``."""
    d = datetime.fromtimestamp(t, UTC).date()
    if period == "day":
        return d.isoformat()
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        return f"{d.year}-{d.month:02d}"
    return str(d.year)


def window(start: date | str, end: date | str) -> tuple[int, int]:
    """Inclusive dates as epoch seconds [start, end + 1 day); InputError if start is after end."""
    d0 = parse_date(start, "--from")
    d1 = parse_date(end, "--to")
    if d0 > d1:
        raise InputError(
            f"--from {d0} is after --to {d1}: the period must not end before it starts",
            hint="swap them", code="input.bad_period",
        )
    return epoch(d0), epoch(d1 + timedelta(days=1))
