"""Day or night from the sun's elevation (``truceguard.sun``), against published tables.

Published times used (UTC):

- London (51.50853 N, 0.12574 W), 1 December 2015: civil dawn 07:04:18, sunrise 07:43:17,
  sunset 15:55:13, civil dusk 16:34. Source: timeanddate.com, "Sunrise and sunset times in
  London" (https://www.timeanddate.com/sun/uk/london, December 2015), as tabulated in the test
  suite of the astral package (sffjunkie/astral, test_sun.py).
- Moscow (55.7522222 N, 37.6155556 E), 12 April 2015: sunrise 02:34, sunset 16:29. Source:
  voshod-solnca.ru, as tabulated in the sunrise tests of the Organic Maps project
  (base/base_tests/sunrise_sunset_test.cpp).

Sunrise and sunset are the moments the sun's upper limb touches the horizon, with standard
refraction: a geometric elevation of the centre of -0.833 degrees. Civil dawn and dusk are
the sun's centre at -6 degrees, the line ``day_or_night`` draws.

Donetsk, 30 August 2021: no published table for that day was found in the material searched,
so the Donetsk test checks only what is not in doubt (local noon is day, local midnight night)
and that the night ends between 02:00 and 02:30 UTC (the formula, checked above against the
published tables, puts civil dawn at 02:11:40 UTC and sunrise at 02:44 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from truceguard.sun import CIVIL_TWILIGHT_DEG, day_or_night, solar_elevation_deg

LONDON = (51.50853, -0.12574)
MOSCOW = (55.7522222, 37.6155556)
DONETSK = (48.0159, 37.8028)


def ts(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(("place", "when", "elevation"), [
    (LONDON, (2015, 12, 1, 7, 4, 18), CIVIL_TWILIGHT_DEG),
    (LONDON, (2015, 12, 1, 7, 43, 17), -0.833),
    (LONDON, (2015, 12, 1, 15, 55, 13), -0.833),
    (LONDON, (2015, 12, 1, 16, 34, 0), CIVIL_TWILIGHT_DEG),
    (MOSCOW, (2015, 4, 12, 2, 34, 0), -0.833),
    (MOSCOW, (2015, 4, 12, 16, 29, 0), -0.833),
])
def test_elevation_at_published_times(place: tuple[float, float], when: tuple[int, ...],
                                      elevation: float) -> None:
    """At a published sunrise, sunset, dawn or dusk the sun is where the definition puts it
    (0.15 degrees is well under a minute of the sun's motion at these latitudes)."""
    assert solar_elevation_deg(*place, ts(*when)) == pytest.approx(elevation, abs=0.15)


def test_day_and_night_flip_at_civil_dawn_and_dusk() -> None:
    """London, 1 December 2015: night until civil dawn (07:04:18), day until civil dusk
    (16:34), each to within two minutes."""
    assert day_or_night(*LONDON, ts(2015, 12, 1, 7, 2, 0)) == "night"
    assert day_or_night(*LONDON, ts(2015, 12, 1, 7, 6, 30)) == "day"
    assert day_or_night(*LONDON, ts(2015, 12, 1, 7, 44, 0)) == "day"  # after sunrise
    assert day_or_night(*LONDON, ts(2015, 12, 1, 16, 32, 0)) == "day"  # twilight is day
    assert day_or_night(*LONDON, ts(2015, 12, 1, 16, 36, 0)) == "night"


def test_donetsk_2021_08_30() -> None:
    assert day_or_night(*DONETSK, ts(2021, 8, 30, 9, 30, 0)) == "day"  # local noon 12:30
    assert day_or_night(*DONETSK, ts(2021, 8, 29, 21, 30, 0)) == "night"  # local midnight
    assert day_or_night(*DONETSK, ts(2021, 8, 30, 2, 0, 0)) == "night"
    assert day_or_night(*DONETSK, ts(2021, 8, 30, 2, 30, 0)) == "day"
    assert solar_elevation_deg(*DONETSK, ts(2021, 8, 30, 9, 30, 0)) > 45


def test_polar_day_and_night_and_the_date_line() -> None:
    assert day_or_night(78.2232, 15.6267, ts(2021, 6, 21, 0, 0, 0)) == "day"  # Longyearbyen
    assert day_or_night(78.2232, 15.6267, ts(2021, 12, 21, 12, 0, 0)) == "night"
    assert day_or_night(-17.7, 178.0, ts(2021, 1, 1, 0, 0, 0)) == "day"  # Fiji, local noon
    assert day_or_night(-17.7, -178.0, ts(2021, 1, 1, 12, 0, 0)) == "night"
