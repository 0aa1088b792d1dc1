"""Times as feeds write them, turned into UTC epoch seconds with an honest precision.

``parse_time(text)`` returns ``(epoch_seconds, precision_seconds)``: a bare date is a whole day
(86,400 s), a time to the minute is 60 s, to the second 1 s. Accepted:

- ISO 8601: ``2015-02-15``, ``2015-02-15T06:30``, ``2015-02-15 06:30:00Z``, ``...+02:00``
  (a time without an offset is taken as UTC);
- US month-first dates as spreadsheet exports write them: ``2/15/2015 12:00:00 AM``,
  ``02/15/2015 00:00`` (UCDP's older exports; month first, always);
- ``15 February 2015`` / ``15-Feb-2015`` (ACLED);
- epoch seconds: ``1423958400`` (9 digits or more).

Every time read lies in the years 1000-9999 (UTC), the range ISO 8601 writes with four digits
and every writer here writes back exactly (``T_MIN`` .. ``T_MAX``). Anything else raises
ValueError with a message that says what was expected.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

DAY = 86_400

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)
_DMY_TEXT = re.compile(r"^(\d{1,2})[ -]([A-Za-z]{3,9})[ -](\d{4})$")
_EPOCH0 = date(1970, 1, 1)
YEAR_MIN, YEAR_MAX = 1000, 9999
T_MIN = (date(YEAR_MIN, 1, 1) - _EPOCH0).days * DAY  # 1000-01-01T00:00:00Z
T_MAX = (date(YEAR_MAX, 12, 31) - _EPOCH0).days * DAY + DAY - 1  # 9999-12-31T23:59:59Z
_RANGE = f"outside the years {YEAR_MIN}-{YEAR_MAX}"


def in_range(t: int) -> bool:
    """Whether epoch second ``t`` lies in the years 1000-9999 UTC."""
    return T_MIN <= t <= T_MAX


def _day_seconds(y: int, m: int, d: int) -> int:
    return (date(y, m, d) - _EPOCH0).days * DAY


def parse_date_iso(text: str) -> int:
    """Fast path for ``YYYY-MM-DD``: epoch seconds of its midnight UTC."""
    d = date.fromisoformat(text)
    if d.year < YEAR_MIN:
        raise ValueError(f"{text!r}: the year {d.year} is {_RANGE}")
    return (d - _EPOCH0).days * DAY


def parse_time(text: str) -> tuple[int, int]:
    """(epoch seconds UTC, precision seconds) of a time as feeds write it; ValueError if not."""
    t, precision = _parse(text)
    if not in_range(t):
        raise ValueError(f"{text.strip()[:40]!r} is {_RANGE}")
    return t, precision


def _parse(text: str) -> tuple[int, int]:
    s = text.strip()
    if not s:
        raise ValueError("empty time")
    if len(s) == 10 and s[4] == "-" and s[7] == "-":
        return parse_date_iso(s), DAY
    if s[:4].isdigit() and len(s) > 10 and s[4] == "-":
        iso = s.replace("Z", "+00:00").replace("z", "+00:00")
        try:
            dt = datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(f"{s!r} is not an ISO 8601 time") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        precision = 1 if dt.second or dt.microsecond or s.count(":") >= 2 else 60
        return int(dt.timestamp()), precision
    m = _US.match(s)
    if m:
        mo, d, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if m.group(4) is None:
            return _check(y, mo, d, s), DAY
        hh, mm, ss = int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
        ampm = (m.group(7) or "").lower()
        if ampm:
            if not 1 <= hh <= 12:
                raise ValueError(f"{s!r}: hour {hh} with AM/PM")
            hh = hh % 12 + (12 if ampm == "pm" else 0)
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError(f"{s!r}: no such time of day")
        base = _check(y, mo, d, s)
        secs = hh * 3600 + mm * 60 + ss
        # Spreadsheet exports write a bare date as midnight: keep it a whole day.
        return base + secs, (DAY if secs == 0 else (1 if m.group(6) else 60))
    m = _DMY_TEXT.match(s)
    if m:
        mon = _MONTHS.get(m.group(2)[:3].lower())
        if mon is None:
            raise ValueError(f"{s!r}: unknown month {m.group(2)!r}")
        return _check(int(m.group(3)), mon, int(m.group(1)), s), DAY
    if s.isascii() and s.isdigit() and len(s) >= 9:
        if len(s) > 12:  # beyond any second of the years 1000-9999
            raise ValueError(f"{s[:40]!r}: epoch seconds {_RANGE}")
        return int(s), 1
    raise ValueError(
        f"{s[:40]!r} is not a time (expected ISO 8601 like 2015-02-15 or 2015-02-15T06:30Z, "
        "M/D/YYYY, '15 February 2015', or epoch seconds)"
    )


def _check(y: int, mo: int, d: int, s: str) -> int:
    try:
        return _day_seconds(y, mo, d)
    except ValueError:
        raise ValueError(f"{s!r}: no such date (month {mo}, day {d}, year {y})") from None
