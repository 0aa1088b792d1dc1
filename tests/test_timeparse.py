from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from truceguard.io.timeparse import DAY, parse_time


def ts(*a: int) -> int:
    return int(datetime(*a, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "text, expected, precision",
    [
        ("2015-02-15", ts(2015, 2, 15), DAY),
        ("2015-02-15T06:30Z", ts(2015, 2, 15, 6, 30), 60),
        ("2015-02-15 06:30:10+02:00", ts(2015, 2, 15, 4, 30, 10), 1),
        ("2/15/2015 12:00:00 AM", ts(2015, 2, 15), DAY),
        ("08/05/2014 00:00", ts(2014, 8, 5), DAY),  # month first, as UCDP's exports
        ("1/22/2014 1:05:00 PM", ts(2014, 1, 22, 13, 5), 1),
        ("15 February 2015", ts(2015, 2, 15), DAY),
        ("15-Feb-2015", ts(2015, 2, 15), DAY),
        ("1423958400", ts(2015, 2, 15), 1),
    ],
)
def test_formats(text: str, expected: int, precision: int) -> None:
    assert parse_time(text) == (expected, precision)


@pytest.mark.parametrize("text", ["", "yesterday", "2015-13-01", "2/30/2015", "31 Foo 2015",
                                  "13/45/2015 10:00", "2015-02-15T25:00"])
def test_refuses_with_reason(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))
def test_iso_round_trip(dt: datetime) -> None:
    dt = dt.replace(microsecond=0, tzinfo=UTC)
    assert parse_time(dt.strftime("%Y-%m-%dT%H:%M:%SZ"))[0] == int(dt.timestamp())
