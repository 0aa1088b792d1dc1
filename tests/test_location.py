"""Location probabilities against Monte Carlo estimates, on the shipped lines and places.

The Monte Carlo reference draws positions from the error model and classifies each with
GEOS directly (shapely's own point-in-polygon and distance on the projected geometry), not
with the distance index the module uses, so the two computations share nothing but the terms.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree
from scipy.stats import ncx2

from truceguard.errors import InputError
from truceguard.geo.sphere import destination
from truceguard.judge.location import (
    CERTAIN_SIGMAS,
    SIGMA_PER_R95,
    _raster_groups,
    locate,
    place,
    sigma_of,
    sunflower,
    terms_geometry,
)
from truceguard.judge.terms import load_terms

MC_DRAWS = 40_000  # standard error of a Monte Carlo probability at most 0.0025
TOLERANCE = 0.01

# Real places (GeoNames coordinates, lon/lat) around the Minsk-era line.
SVETLODARSK = (38.22331, 48.43374)  # government side, about 3 km from the line
DONETSK = (37.80224, 48.023)  # non-government side, about 8 km from the line
NOVOAYDAR = (39.00583, 48.96391)  # government side, about 25 km from the line
HORLIVKA = (38.05325, 48.33576)  # non-government side, about 8 km from the line
KRAMATORSK = (37.55629, 48.72305)  # government side, 28 km from the Kharkiv oblast border
STAROBILSK = (38.91069, 49.27832)  # Luhansk oblast, about 59 km from the line
OPEN_STEPPE = (38.42, 49.18)  # Luhansk oblast, 53 km from the line, no settlement near
# Where the shipped UCDP events known only to the oblast (where_prec 4) are placed.
LUHANSK_OBLAST = (39.02, 48.92)
DONETSK_OBLAST = (37.74, 48.14)


@pytest.fixture(scope="module")
def minsk():
    return load_terms("minsk-2015")


@pytest.fixture(scope="module")
def geneva():
    return load_terms("geneva-2025")


def monte_carlo(terms, lon: float, lat: float, r95: float, seed: int) -> dict[str, object]:
    """Probabilities of side 1, the area and each zone by drawing positions and asking GEOS."""
    proj = terms.projection
    cx, cy = proj.forward([lon], [lat])
    rng = np.random.default_rng(seed)
    sigma = r95 * SIGMA_PER_R95
    x = cx[0] + rng.normal(0.0, sigma, MC_DRAWS)
    y = cy[0] + rng.normal(0.0, sigma, MC_DRAWS)
    side1 = shapely.contains_xy(proj.project_geometry(terms.side_polygon), x, y)
    lon_s, lat_s = proj.inverse(x, y)
    area = (np.ones(MC_DRAWS, bool) if terms.area is None
            else shapely.contains_xy(terms.area, lon_s, lat_s))  # fmt: skip
    # Only the line near the draws matters: a zone reaches at most `deepest` from it, so
    # clipping it to that much beyond the draws changes no distance that decides a zone.
    deepest = max(max(z.distance_m) for z in terms.zones) + 1_000.0
    box = (x.min() - deepest, y.min() - deepest, x.max() + deepest, y.max() + deepest)
    d = shapely.distance(shapely.points(x, y),
                         shapely.clip_by_rect(proj.project_geometry(terms.line), *box))
    zones = []
    for z in terms.zones:
        if z.shape == "band":
            zones.append(np.where(side1, d <= z.distance_m[1], d <= z.distance_m[0]))
        elif z.shape == "settlements":
            px, py = proj.forward(z.points[:, 0], z.points[:, 1])
            near, _ = cKDTree(np.column_stack([px, py])).query(np.column_stack([x, y]))
            zones.append(near <= z.radius_m)
        else:
            zones.append(shapely.contains_xy(proj.project_geometry(z.polygon), x, y))
    if terms.territory is not None:  # no zone reaches beyond the territory
        inside = shapely.contains_xy(terms.territory, lon_s, lat_s)
        zones = [zz & inside for zz in zones]
    return {"side1": side1.mean(), "area": area.mean(),
            "zones": np.array([zz.mean() for zz in zones]),
            "zones_side1": np.array([(zz & side1).mean() for zz in zones])}  # fmt: skip


def assert_agrees(terms, cases: list[tuple[tuple[float, float], float]]) -> None:
    lon = [c[0][0] for c in cases]
    lat = [c[0][1] for c in cases]
    r95 = [c[1] for c in cases]
    _, got = locate(terms, lon, lat, r95)
    for i, (where, radius) in enumerate(cases):
        mc = monte_carlo(terms, where[0], where[1], radius, seed=100 + i)
        label = f"{terms.name} case {i} {where} ±{radius:g} m"
        assert got.p_side1[i] == pytest.approx(mc["side1"], abs=TOLERANCE), label
        assert got.p_area[i] == pytest.approx(mc["area"], abs=TOLERANCE), label
        assert got.p_zone[i] == pytest.approx(mc["zones"], abs=TOLERANCE), label
        assert got.p_zone_side1[i] == pytest.approx(mc["zones_side1"], abs=TOLERANCE), label


def test_minsk_probabilities_agree_with_monte_carlo(minsk):
    settlement = minsk.zone("near_settlements").points[40]
    assert_agrees(minsk, [
        (SVETLODARSK, 1_000.0),  # UCDP where_prec 1: a precise place near the line
        (SVETLODARSK, 5_000.0),
        (HORLIVKA, 25_000.0),  # where_prec 2: within 25 km of a known point
        (NOVOAYDAR, 25_000.0),
        (DONETSK, 50_000.0),  # where_prec 3: a district
        (KRAMATORSK, 50_000.0),  # straddles the area's edge (Kharkiv oblast)
        (LUHANSK_OBLAST, 150_000.0),  # where_prec 4: the oblast
        (DONETSK_OBLAST, 150_000.0),
        ((float(settlement[0]), float(settlement[1])), 1_500.0),  # on a settlement's disc
        ((float(settlement[0]) + 0.02, float(settlement[1])), 4_000.0),  # beside it, wider
    ])  # fmt: skip


def test_geneva_probabilities_agree_with_monte_carlo(geneva):
    # The 2026 line: near Kupiansk, south of Zaporizhzhia, at the Crimean isthmus, in the
    # occupied south far from the line.
    assert_agrees(geneva, [
        ((37.61, 49.71), 1_000.0),
        ((35.60, 47.55), 10_000.0),
        ((33.70, 46.10), 25_000.0),
        ((34.10, 45.30), 150_000.0),
        ((37.55, 48.72), 50_000.0),
    ])  # fmt: skip


def test_exact_positions_give_the_crisp_answer(minsk):
    lon, lat = zip(SVETLODARSK, DONETSK, NOVOAYDAR, KRAMATORSK, OPEN_STEPPE, strict=True)
    placement, probs = locate(minsk, lon, lat, 0.0)
    crisp = place(minsk, lon, lat)
    assert probs.certain.all()
    assert (placement.side == crisp.side).all() and (placement.zone == crisp.zone).all()
    assert probs.p_side1.tolist() == crisp.side.astype(float).tolist()
    assert (probs.p_zone == placement.in_zone).all()
    # All five lie in the area; the open steppe only in the 70 km zone.
    assert probs.p_area.tolist() == [1.0] * 5
    assert probs.p_zone[4].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    # A metre of uncertainty changes nothing away from the boundaries.
    _, one_metre = locate(minsk, lon, lat, 1.0)
    assert (one_metre.p_zone == probs.p_zone).all() and one_metre.certain.all()


def test_far_from_every_boundary_is_certain(minsk):
    # 53 km from the line, inside the 70 km zone and 17 km from its edges, away from every
    # settlement disc and the oblast's edge: a 10 km radius (sigma 4.1 km, certain beyond
    # 16 km) gives the crisp answer; a 150 km radius does not.
    assert 15_000 < CERTAIN_SIGMAS * 10_000 * SIGMA_PER_R95 < 16_000
    placement, probs = locate(minsk, [OPEN_STEPPE[0]], [OPEN_STEPPE[1]], [10_000.0])
    assert 52_000 < placement.own_m[0] < 54_000
    assert probs.certain[0]
    assert probs.p_side1[0] == 0.0 and probs.p_area[0] == 1.0
    assert probs.p_zone[0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    _, wide = locate(minsk, [OPEN_STEPPE[0]], [OPEN_STEPPE[1]], [150_000.0])
    assert not wide.certain[0] and 0.0 < wide.p_zone[0, 3] < 1.0


def test_the_side_of_the_line_is_a_probability(minsk):
    # Points 1 km either side of the line near Svetlodarsk, with a 5 km radius: the side is
    # no longer certain, and the two probabilities mirror each other roughly.
    geo = terms_geometry(minsk)
    x, y = geo.projection.forward(*SVETLODARSK)
    line = geo.projection.project_geometry(minsk.line)
    foot = shapely.get_coordinates(shapely.shortest_line(shapely.Point(x, y), line))[1]
    normal = (np.array([x, y]) - foot) / np.hypot(*(np.array([x, y]) - foot))
    pts = np.array([foot + 1_000 * normal, foot - 1_000 * normal])
    lon, lat = geo.projection.inverse(pts[:, 0], pts[:, 1])
    placement, probs = locate(minsk, lon, lat, 5_000.0)
    assert placement.side.tolist() == [0, 1]
    assert 0.5 < probs.p_side[0] < 0.9 and 0.5 < probs.p_side[1] < 0.9


def test_identical_incidents_are_integrated_once_and_agree(minsk):
    lon = [NOVOAYDAR[0]] * 3 + [HORLIVKA[0]]
    lat = [NOVOAYDAR[1]] * 3 + [HORLIVKA[1]]
    _, together = locate(minsk, lon, lat, 25_000.0)
    _, alone = locate(minsk, [HORLIVKA[0]], [HORLIVKA[1]], 25_000.0)
    assert together.p_zone[0].tolist() == together.p_zone[2].tolist()
    assert together.p_zone[3].tolist() == alone.p_zone[0].tolist()


def test_a_settlement_disc_matches_the_non_central_chi_square(minsk):
    # One isolated settlement: the probability of its 2 km disc is a non-central chi-square.
    z = minsk.zone("near_settlements")
    geo = terms_geometry(minsk)
    px, py = geo.projection.forward(z.points[:, 0], z.points[:, 1])
    tree = cKDTree(np.column_stack([px, py]))
    gaps, _ = tree.query(np.column_stack([px, py]), k=2)
    lonely = int(np.argmax(gaps[:, 1]))
    assert gaps[lonely, 1] > 30_000
    sigma = 6_000.0
    offset = 3_000.0
    lon, lat = geo.projection.inverse([px[lonely] + offset], [py[lonely]])
    _, probs = locate(minsk, lon, lat, sigma / SIGMA_PER_R95)
    k = minsk.zone_ids.index("near_settlements")
    expected = ncx2.cdf((z.radius_m / sigma) ** 2, 2, (offset / sigma) ** 2)
    assert probs.p_zone[0, k] == pytest.approx(expected, abs=0.002)


def test_the_quadrature_rule_has_the_normal_moments():
    for k in (256, 512):
        rule = sunflower(k)
        assert rule.u.mean(axis=0) == pytest.approx([0.0, 0.0], abs=0.02)
        assert np.cov(rule.u.T, bias=True) == pytest.approx(np.eye(2), abs=0.05)


def test_bad_uncertainties_are_refused(minsk):
    with pytest.raises(InputError, match="uncertainty_m") as err:
        sigma_of([1.0, np.nan], 2)
    assert err.value.code == "input.bad_uncertainty"
    with pytest.raises(InputError):
        locate(minsk, [38.0], [48.0], [-5.0])
    with pytest.raises(InputError):
        locate(minsk, [38.0, 38.1], [48.0], 0.0)


def test_positions_given_as_destinations_stay_consistent(minsk):
    # 4 km south-east of Svetlodarsk, exact and with a kilometre: the same side either way.
    lat, lon = destination(SVETLODARSK[1], SVETLODARSK[0], 135.0, 4_000.0)
    exact = place(minsk, [lon], [lat])
    _, probs = locate(minsk, [lon], [lat], [1_000.0])
    assert probs.side[0] == exact.side[0]
    assert probs.p_side[0] > 0.5


def test_shared_rasters_agree_with_monte_carlo_and_the_quadrature(minsk, monkeypatch):
    # 2,000 incidents within 25 km of points along the line, all with a 25 km radius: one
    # raster serves them all (step 4); five are checked against Monte Carlo, forty against
    # the one-by-one quadrature.
    geo = terms_geometry(minsk)
    line = geo.projection.project_geometry(minsk.line)
    rng = np.random.default_rng(11)
    on = shapely.line_interpolate_point(line, rng.uniform(0, line.length, 2_000))
    x = shapely.get_x(on) + rng.normal(0, 10_000, 2_000)
    y = shapely.get_y(on) + rng.normal(0, 10_000, 2_000)
    sigma = np.full(2_000, 25_000.0 * SIGMA_PER_R95)
    (group,) = _raster_groups(geo, x, y, sigma)
    assert group[0].size == 2_000
    lon, lat = geo.projection.inverse(x, y)
    _, shared = locate(minsk, lon, lat, 25_000.0)
    for i in range(5):
        mc = monte_carlo(minsk, lon[i], lat[i], 25_000.0, seed=300 + i)
        assert shared.p_side1[i] == pytest.approx(mc["side1"], abs=TOLERANCE)
        assert shared.p_area[i] == pytest.approx(mc["area"], abs=TOLERANCE)
        assert shared.p_zone[i] == pytest.approx(mc["zones"], abs=TOLERANCE)
        assert shared.p_zone_side1[i] == pytest.approx(mc["zones_side1"], abs=TOLERANCE)
    monkeypatch.setattr("truceguard.judge.location.MAX_RASTER_CELLS", 0)
    _, alone = locate(minsk, lon[:40], lat[:40], 25_000.0)
    assert np.abs(alone.p_zone - shared.p_zone[:40]).max() < TOLERANCE
    assert np.abs(alone.p_side1 - shared.p_side1[:40]).max() < TOLERANCE
