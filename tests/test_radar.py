"""Radar horizon and planning geometry (geo.radar)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from truceguard.geo.radar import (
    circle_lonlat,
    cos_of_distance,
    distance_from_cos,
    greedy_cover_count,
    line_length_m,
    radar_horizon_m,
    sample_line,
    unit_vectors,
)
from truceguard.geo.shipped import front_line
from truceguard.geo.sphere import haversine_m


def test_horizon_matches_the_published_rule_of_thumb():
    # published rule of thumb: a 10 m mast sees a 50 m target at about 42 km;
    # an AWACS at 9 km about 420 km
    assert radar_horizon_m(10, 50) / 1000 == pytest.approx(4.12 * (10**0.5 + 50**0.5), rel=0.002)
    assert radar_horizon_m(10, 50) / 1000 == pytest.approx(42, abs=1)
    assert radar_horizon_m(9000, 50) / 1000 == pytest.approx(420, abs=5)


def test_horizon_geometric_earth_is_shorter():
    assert radar_horizon_m(100, 0, k=1.0) < radar_horizon_m(100, 0)


@given(st.floats(-60, 60), st.floats(-170, 170), st.floats(-60, 60), st.floats(-170, 170))
def test_unit_vector_distance_equals_haversine(lat1, lon1, lat2, lon2):
    c = float((unit_vectors(lat1, lon1) @ unit_vectors(lat2, lon2).T)[0, 0])
    assert float(distance_from_cos(c)) == pytest.approx(
        float(haversine_m(lat1, lon1, lat2, lon2)), abs=1.0)


def test_cos_of_distance_round_trip():
    d = np.array([0.0, 1e3, 4.2e4, 1.5e6])
    assert np.allclose(distance_from_cos(cos_of_distance(d)), d, atol=0.5)


def test_sample_line_weights_add_to_length():
    line = front_line("2026-08-22")
    lat, lon, w = sample_line(line, 2000.0)
    assert w.sum() == pytest.approx(line_length_m(line), rel=1e-6)
    assert 1_300_000 < w.sum() < 1_550_000  # data/lines: 1,370-1,510 km
    assert np.all((lat > 44) & (lat < 53) & (lon > 30) & (lon < 41))


def test_circle_radius_is_the_asked_one():
    lon, lat = circle_lonlat(50.0, 30.0, 60_000.0)
    assert np.allclose(haversine_m(50.0, 30.0, lat, lon), 60_000.0, rtol=1e-6)


def test_greedy_cover_counts_clusters():
    # two clusters 500 km apart, 100 km range: two sites suffice
    lat = np.array([50.0, 50.1, 50.2, 50.0, 50.1])
    lon = np.array([30.0, 30.1, 30.0, 37.0, 37.1])
    u = unit_vectors(lat, lon)
    n, chosen = greedy_cover_count(u, u, float(cos_of_distance(100_000.0)))
    assert n == 2 and len(chosen) == 2
    assert greedy_cover_count(u[:0], u, 0.5)[0] == 0
