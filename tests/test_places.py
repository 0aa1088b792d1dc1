"""Location text the way monitors write it, from the shipped GeoNames places."""

from __future__ import annotations

import numpy as np
import pytest

from truceguard.errors import InputError
from truceguard.geo.sphere import COMPASS_8, destination
from truceguard.judge.adjudicate import adjudicate
from truceguard.judge.grading import LocationRules
from truceguard.judge.places import (
    describe_location,
    describe_locations,
    nearest_places,
    oblast_names,
    radius_text,
)
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
    texts = describe_locations(lon, lat, minsk)
    for i in (0, 1234, 4999):
        assert texts[i] == describe_location(lon[i], lat[i], minsk)
    assert any("non-government-controlled" in s for s in texts)
    assert any(s.endswith("(government-controlled)") for s in texts)


def test_bad_positions_are_refused():
    with pytest.raises(InputError):
        nearest_places([np.nan], [48.0])
    with pytest.raises(InputError):
        nearest_places([38.0, 38.1], [48.0])


# Where the shipped UCDP events known only to the oblast (where_prec 4) are placed: beside
# Novoaydar, which is why "5 km south of Novoaydar" was written for them.
LUHANSK_OBLAST = (39.02, 48.92)


def test_the_text_never_claims_more_precision_than_the_position(minsk):
    lon, lat = LUHANSK_OBLAST
    texts = describe_locations([lon] * 4, [lat] * 4, minsk,
                               uncertainty_m=[150_000, 25_000, 1_000, 0])  # fmt: skip
    assert texts[0] == "in Luhansk oblast (±150 km, government-controlled)"
    assert texts[1] == "near Novoaydar (±25 km, government-controlled)"
    assert texts[2].endswith("of Novoaydar (±1 km, government-controlled)")
    assert texts[2][0].isdigit()
    assert texts[3] == texts[2].replace("±1 km", "±0 m")
    exact = describe_locations([lon], [lat], minsk)[0]
    assert exact.endswith("of Novoaydar (government-controlled)")


def test_near_horlivka_and_a_precise_svetlodarsk(minsk):
    assert describe_location(38.05325, 48.34, minsk, uncertainty_m=5_000) == (
        "near Horlivka (±5 km, non-government-controlled)"
    )
    lat, lon = destination(SVETLODARSK[0], SVETLODARSK[1], 135.0, 4_000.0)
    assert describe_location(float(lon), float(lat), minsk, uncertainty_m=1_000) == (
        "4 km south-east of Svetlodarsk (±1 km, government-controlled)"
    )


def test_an_uncertain_side_is_written_with_its_probability(minsk):
    lon, lat = LUHANSK_OBLAST
    a = adjudicate(minsk, [lon], [lat], [0], ["shelling"], ["unknown"], uncertainty_m=[150_000])
    text = describe_locations([lon], [lat], minsk, uncertainty_m=[150_000], p_side=a.p_side)[0]
    assert text == f"in Luhansk oblast (±150 km, likely government-controlled, p {a.p_side[0]:.2f})"
    assert a.p_side[0] < 0.95
    sure = describe_locations([lon], [lat], minsk, uncertainty_m=[150_000], p_side=[0.99])[0]
    assert sure.endswith("(±150 km, government-controlled)")


def test_the_thresholds_come_from_the_rules(minsk):
    lon, lat = LUHANSK_OBLAST
    strict = LocationRules(precise_max_m=500.0, near_max_m=20_000.0)
    assert describe_locations([lon], [lat], uncertainty_m=[1_000], rules=strict) == [
        "near Novoaydar (±1 km)"
    ]
    assert describe_locations([lon], [lat], uncertainty_m=[25_000], rules=strict) == [
        "in Luhansk oblast (±25 km)"
    ]


def test_outside_ukraine_the_text_names_the_nearest_settlement():
    # Belgorod, Russia: no Ukrainian oblast holds it.
    assert oblast_names([36.58], [50.6]).tolist() == [None]
    text = describe_locations([36.58], [50.6], uncertainty_m=[150_000], country=None)[0]
    assert text.startswith("near ") and text.endswith("(±150 km)")


def test_oblasts_and_radii():
    assert oblast_names([39.02, 37.74, 30.52], [48.92, 48.14, 50.45]).tolist() == [
        "Luhansk oblast", "Donetsk oblast", "Kyiv",
    ]  # fmt: skip
    assert radius_text([250, 1_000, 1_500, 25_000, 25_001, 150_000]) == [
        "±300 m", "±1 km", "±2 km", "±25 km", "±30 km", "±150 km",
    ]  # fmt: skip
    with pytest.raises(InputError, match="uncertainty_m"):
        describe_locations([38.0], [48.0], uncertainty_m=[np.nan])
