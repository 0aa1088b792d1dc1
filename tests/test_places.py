"""Location text the way monitors write it, from the shipped GeoNames places."""

from __future__ import annotations

import time

import numpy as np
import pytest

from truceguard.errors import InputError
from truceguard.geo.sphere import COMPASS_8, destination
from truceguard.judge.places import describe_location, describe_locations, nearest_places
from truceguard.judge.terms import load_terms

SVETLODARSK = (48.43374, 38.22331)  # lat, lon as GeoNames gives them (spelt "Svetlodarsk")


@pytest.fixture(scope="module")
def minsk():
    return load_terms("minsk-2015")


def test_a_point_near_svetlodarsk(minsk):
    lat, lon = destination(SVETLODARSK[0], SVETLODARSK[1], 135.0, 4_000.0)
    text = describe_location(float(lon), float(lat), minsk)
    assert text == "4 km south-east of Svetlodarsk (government-controlled)"


def test_a_point_inside_ordlo_is_non_government(minsk):
    # Central Donetsk, inside the areas outside government control.
    text = describe_location(37.8028, 48.0159, minsk)
    assert text.endswith("(non-government-controlled)")
    assert "Donetsk" in text


def test_the_terms_name_the_sides():
    geneva = load_terms("geneva-2025")
    assert describe_location(37.8028, 48.0159, geneva).endswith("(occupied)")
    assert describe_location(36.2527, 49.9808, geneva) == "in Kharkiv (government-controlled)"


def test_all_eight_directions():
    bearings = np.arange(8) * 45.0
    lat, lon = destination(SVETLODARSK[0], SVETLODARSK[1], bearings, 1_000.0)
    near = nearest_places(lon, lat)
    assert (near.name == "Svetlodarsk").all()
    assert near.compass.tolist() == list(COMPASS_8)
    assert np.allclose(near.distance_m, 1_000.0, atol=1.0)


def test_without_terms_there_is_no_control_label():
    lat, lon = destination(SVETLODARSK[0], SVETLODARSK[1], 0.0, 3_000.0)
    assert describe_locations([lon], [lat]) == ["3 km north of Svetlodarsk"]


def test_thousands_at_once_agree_with_one_at_a_time(minsk):
    rng = np.random.default_rng(3)
    lon = rng.uniform(37.5, 39.8, 5_000)
    lat = rng.uniform(47.1, 48.8, 5_000)
    t0 = time.perf_counter()
    texts = describe_locations(lon, lat, minsk)
    assert time.perf_counter() - t0 < 2.0
    for i in (0, 1234, 4999):
        assert texts[i] == describe_location(lon[i], lat[i], minsk)
    assert any("non-government-controlled" in s for s in texts)
    assert any(s.endswith("(government-controlled)") for s in texts)


def test_bad_positions_are_refused():
    with pytest.raises(InputError):
        nearest_places([np.nan], [48.0])
    with pytest.raises(InputError):
        nearest_places([38.0, 38.1], [48.0])
