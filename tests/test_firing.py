"""Firing positions against synthetic geometry whose truth is known.

Bearings and distances of the samples are measured with ``truceguard.geo.sphere``, the sphere
the module draws on; analytic probabilities come from the error model itself (a wrapped normal
bearing, a distance uniform on its band), so a disagreement is a bug, not a modelling choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from truceguard.errors import InputError
from truceguard.geo.sphere import bearing_deg, destination, haversine_m
from truceguard.judge.firing import (
    BearingReport,
    CraterReport,
    FiringEstimate,
    NoFix,
    Position,
    check_observer_distance,
    from_bearing,
    from_crater,
    p_in,
    p_in_se,
    p_side,
    triangulate,
)

OBSERVER = Position(lat=48.0, lon=37.5)
MANY = 40_000  # standard error of a probability at most 0.0025
TRIALS = 200


def _off(a: np.ndarray, b: float) -> np.ndarray:
    """Signed difference of bearings a - b, degrees in [-180, 180)."""
    return (np.asarray(a) - b + 180.0) % 360.0 - 180.0


def _bearings(est: FiringEstimate, at: Position) -> np.ndarray:
    return bearing_deg(at.lat, at.lon, est.samples[:, 1], est.samples[:, 0])


def _distances_km(est: FiringEstimate, at: Position) -> np.ndarray:
    return haversine_m(at.lat, at.lon, est.samples[:, 1], est.samples[:, 0]) / 1000.0


def _sector(at: Position, bearing: float, half: float, lo_km: float, hi_km: float):
    b = bearing + np.linspace(-half, half, 181)
    olat, olon = destination(at.lat, at.lon, b, hi_km * 1000.0 * 1.001)
    ilat, ilon = destination(at.lat, at.lon, b[::-1], lo_km * 1000.0 * 0.999)
    return shapely.Polygon(np.column_stack([np.r_[olon, ilon], np.r_[olat, ilat]]))


def _west_of(lon: float) -> shapely.Polygon:
    return shapely.box(lon - 5.0, 40.0, lon, 56.0)


def _east_of(lon: float) -> shapely.Polygon:
    return shapely.box(lon, 40.0, lon + 5.0, 56.0)


# (a) one observer, bearing 90, band 2-5 km


def test_bearing_band_sector_holds_the_samples() -> None:
    rep = BearingReport(OBSERVER, 90.0, 3.0, 2.0, 5.0)
    est = from_bearing(rep)
    assert est.method == "bearing_band" and est.samples.shape == (4000, 2)
    d = _distances_km(est, OBSERVER)
    assert d.min() >= 2.0 - 1e-9 and d.max() <= 5.0 + 1e-9
    off = _off(_bearings(est, OBSERVER), 90.0)
    assert abs(off.mean()) < 0.2 and off.std() == pytest.approx(3.0, rel=0.05)
    assert p_in(est, _sector(OBSERVER, 90.0, 4 * 3.0, 2.0, 5.0)) > 0.999
    assert p_in(est, _west_of(OBSERVER.lon)) == 0.0
    assert est.region_p == pytest.approx(0.95, abs=0.003)
    assert p_in(est, est.region) == est.region_p
    assert not est.region.contains(shapely.Point(OBSERVER.lon, OBSERVER.lat))
    assert est.centroid[0] > OBSERVER.lon and est.inputs == (rep,) and est.seed == 0


def test_observer_uncertainty_moves_the_anchor() -> None:
    rep = BearingReport(Position(48.0, 37.5, uncertainty_m=400.0), 90.0, 3.0, 2.0, 5.0)
    est = from_bearing(rep)
    d = _distances_km(est, rep.observer)
    assert d.min() < 2.0 and d.max() > 5.0  # the anchor moved
    assert d.min() > 2.0 - 0.8 and d.max() < 5.0 + 0.8  # by about its 95% radius
    assert est.region_p >= 0.95 and p_in(est, est.region) == est.region_p


# (d) p_in against analytic values


@pytest.mark.parametrize("sigma", [40.0, 60.0])
def test_p_in_half_plane_through_observer(sigma: float) -> None:
    """East of the observer's meridian (the great circle through it, perpendicular to bearing
    90) means a bearing in (0, 180): P = P(|wrapped error| < 90)."""
    est = from_bearing(BearingReport(OBSERVER, 90.0, sigma, 2.0, 5.0), n=MANY, seed=3)
    exact = sum(ndtr((90 + 360 * k) / sigma) - ndtr((-90 + 360 * k) / sigma)
                for k in range(-3, 4))  # the normal wrapped onto the circle
    p, se = p_in_se(est, _east_of(OBSERVER.lon))
    assert 0.0 < se < 0.0025
    assert p == pytest.approx(exact, abs=4 * se)


def test_p_in_half_plane_across_the_band() -> None:
    """Beyond the meridian 3 km east of the observer: P(d cos(error) > 3 km), d uniform on 2-5."""
    sigma = 1.0
    est = from_bearing(BearingReport(OBSERVER, 90.0, sigma, 2.0, 5.0), n=MANY, seed=4)
    _, lon3 = destination(OBSERVER.lat, OBSERVER.lon, 90.0, 3000.0)
    eps = np.radians(np.linspace(-6 * sigma, 6 * sigma, 4001))
    dens = np.exp(-0.5 * (eps / math.radians(sigma)) ** 2)
    frac = np.clip((5.0 - 3.0 / np.cos(eps)) / 3.0, 0.0, 1.0)
    exact = float((dens * frac).sum() / dens.sum())
    p, se = p_in_se(est, _east_of(float(lon3)))
    assert exact == pytest.approx(2 / 3, abs=0.002)
    assert p == pytest.approx(exact, abs=4 * se)


# (c) crater analysis


def test_crater_sector_lies_behind_the_crater() -> None:
    crater = Position(48.1, 37.8, uncertainty_m=10.0)
    rep = CraterReport(crater, 45.0, 5.0, 0.46, 7.2, munition="mortar_120")
    est = from_crater(rep, seed=7)
    assert est.method == "crater" and est.inputs == (rep,)
    d = _distances_km(est, crater)
    assert d.min() > 0.44 and d.max() < 7.22
    assert abs(_off(_bearings(est, crater), 45.0).mean()) < 0.3
    north_east = shapely.box(crater.lon, crater.lat, crater.lon + 1.0, crater.lat + 1.0)
    south_west = shapely.box(crater.lon - 1.0, crater.lat - 1.0, crater.lon, crater.lat)
    assert p_in(est, north_east) > 0.999 and p_in(est, south_west) == 0.0
    at_crater = shapely.Point(crater.lon, crater.lat).buffer(0.004)  # about 300 m
    assert p_in(est, at_crater) == 0.0 and not est.region.intersects(at_crater)
    assert p_side(est, north_east) == p_in(est, north_east)


# (b) triangulation


def _trial(truth: Position, sigma: float, unc_m: float, rng: np.random.Generator
           ) -> FiringEstimate | NoFix:  # fmt: skip
    reps = []
    for az, km in ((200.0, 12.0), (320.0, 9.0), (80.0, 15.0)):
        lat, lon = destination(truth.lat, truth.lon, az, km * 1000.0)
        b = float(bearing_deg(lat, lon, truth.lat, truth.lon)) + sigma * rng.standard_normal()
        if unc_m > 0:  # the reported position is the true one plus its error
            dx, dy = rng.standard_normal(2) * unc_m / math.sqrt(-2 * math.log(0.05))
            lat, lon = destination(lat, lon, math.degrees(math.atan2(dx, dy)), math.hypot(dx, dy))
        reps.append(BearingReport(Position(float(lat), float(lon), unc_m), b % 360.0, sigma))
    return triangulate(reps, n=200, seed=int(rng.integers(1 << 30)))


@pytest.mark.parametrize(("sigma", "unc_m"), [(2.0, 0.0), (1.0, 300.0)])
def test_triangulation_covers_and_is_unbiased(sigma: float, unc_m: float) -> None:
    truth = Position(48.2, 37.6)
    rng = np.random.default_rng(2024)
    inside, err, maha = 0, [], []
    for _ in range(TRIALS):
        est = _trial(truth, sigma, unc_m, rng)
        assert isinstance(est, FiringEstimate) and est.normal is not None
        inside += bool(est.region.contains(shapely.Point(truth.lon, truth.lat)))
        e = np.array([(est.normal.lon - truth.lon) * 1000.0 * 111.195 * math.cos(
            math.radians(truth.lat)), (est.normal.lat - truth.lat) * 1000.0 * 111.195])
        err.append(e)
        maha.append(float(e @ np.linalg.solve(est.normal.cov_m2, e)))
    coverage = inside / TRIALS
    assert 0.90 <= coverage <= 0.99, coverage
    e = np.array(err)
    assert np.all(np.abs(e.mean(axis=0)) < 4 * e.std(axis=0) / math.sqrt(TRIALS))
    assert np.mean(maha) == pytest.approx(2.0, rel=0.25)  # chi-squared with 2 dof


def test_triangulation_fix_and_samples_agree() -> None:
    est = _trial(Position(48.2, 37.6), 2.0, 0.0, np.random.default_rng(5))
    assert isinstance(est, FiringEstimate) and est.normal is not None
    assert est.method == "triangulation" and est.normal.dof == 1 and est.normal.chi2 >= 0
    assert est.centroid == pytest.approx((est.normal.lon, est.normal.lat), abs=2e-3)
    assert 0.90 < est.region_p < 0.99  # 200 samples in the analytic 95% ellipse


def test_triangulation_refuses_parallel_bearings() -> None:
    south = Position(47.95, 37.5)
    res = triangulate([BearingReport(OBSERVER, 90.0, 2.0), BearingReport(south, 92.0, 2.0)])
    assert isinstance(res, NoFix) and res.code == "no_fix.parallel"
    assert res.reason.startswith("no fix: bearings nearly parallel")
    opposite = triangulate([BearingReport(OBSERVER, 90.0, 1.0), BearingReport(south, 275.0, 1.0)])
    assert isinstance(opposite, NoFix) and opposite.code == "no_fix.parallel"


def test_triangulation_refuses_a_crossing_behind_the_observers() -> None:
    _, east_lon = destination(OBSERVER.lat, OBSERVER.lon, 90.0, 10_000.0)
    east = Position(OBSERVER.lat, float(east_lon))
    res = triangulate([BearingReport(OBSERVER, 300.0, 2.0), BearingReport(east, 60.0, 2.0)])
    assert isinstance(res, NoFix) and res.code == "no_fix.behind"
    assert "do not intersect ahead of observers" in res.reason


def test_triangulation_with_distance_bands() -> None:
    truth = Position(48.2, 37.6)
    a = destination(truth.lat, truth.lon, 200.0, 12_000.0)
    b = destination(truth.lat, truth.lon, 320.0, 9_000.0)
    oa, ob = Position(float(a[0]), float(a[1])), Position(float(b[0]), float(b[1]))
    ba = float(bearing_deg(oa.lat, oa.lon, truth.lat, truth.lon))
    bb = float(bearing_deg(ob.lat, ob.lon, truth.lat, truth.lon))
    free = triangulate([BearingReport(oa, ba, 6.0), BearingReport(ob, bb, 6.0)])
    cut = triangulate([BearingReport(oa, ba, 6.0, 11.5, 12.5), BearingReport(ob, bb, 6.0)])
    assert isinstance(free, FiringEstimate) and isinstance(cut, FiringEstimate)
    d = _distances_km(cut, oa)
    assert d.min() >= 11.5 - 1e-6 and d.max() <= 12.5 + 1e-6
    assert cut.region_p >= 0.95 and cut.region.area < free.region.area
    assert cut.region.contains(shapely.Point(truth.lon, truth.lat))
    far = triangulate([BearingReport(oa, ba, 6.0, 40.0, 45.0), BearingReport(ob, bb, 6.0)])
    assert isinstance(far, NoFix) and far.code == "no_fix.bands"


# (e) bad input


def _raises(code: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> InputError:
    with pytest.raises(InputError) as info:
        fn(*args, **kw)
    assert info.value.code == code and info.value.hint
    return info.value


@pytest.mark.parametrize(("kw", "code", "named"), [
    ({"bearing_deg": 360.0}, "input.bad_bearing", "360.0"),
    ({"bearing_deg": -0.5}, "input.bad_bearing", "-0.5"),
    ({"bearing_deg": float("nan")}, "input.bad_bearing", "nan"),
    ({"error_deg": 0.0}, "input.bad_bearing_error", "0.0"),
    ({"error_deg": 90.5}, "input.bad_bearing_error", "90.5"),
    ({"distance_min_km": 5.0, "distance_max_km": 2.0}, "input.bad_band", "5.0"),
    ({"distance_min_km": -1.0}, "input.bad_distance", "-1.0"),
    ({"distance_max_km": -3.0}, "input.bad_distance", "-3.0"),
    ({"distance_max_km": None}, "input.bad_band", "None"),
    ({"observer": "here"}, "input.bad_position", "here"),
])  # fmt: skip
def test_bad_bearing_reports_are_refused(kw: dict, code: str, named: str) -> None:
    args = {"observer": OBSERVER, "bearing_deg": 90.0, "error_deg": 2.0,
            "distance_min_km": 1.0, "distance_max_km": 4.0} | kw  # fmt: skip
    assert named in _raises(code, BearingReport, **args).message


def test_other_bad_inputs_are_refused() -> None:
    assert "95.0" in _raises("input.bad_position", Position, 95.0, 37.5).message
    assert "-1" in _raises("input.bad_uncertainty", Position, 48.0, 37.5, -1).message
    assert "400" in _raises("input.bad_bearing", CraterReport, OBSERVER, 400, 5, 0.5, 7).message
    assert "8" in _raises("input.bad_band", CraterReport, OBSERVER, 40, 5, 8, 7).message
    _raises("input.missing_band", from_bearing, BearingReport(OBSERVER, 90.0, 2.0))
    _raises("input.too_few_bearings", triangulate, [BearingReport(OBSERVER, 90.0, 2.0)])
    _raises("input.bad_sample_count", from_bearing, BearingReport(OBSERVER, 90, 2, 1, 4), n=0)
    est = from_bearing(BearingReport(OBSERVER, 90.0, 2.0, 1.0, 4.0), n=100)
    _raises("input.bad_geometry", p_side, est, shapely.LineString([(37, 48), (38, 48)]))
    _raises("input.bad_geometry", p_in, est, "POLYGON")


def test_reports_hold_floats() -> None:
    rep = BearingReport(Position("48", "37.5", "20"), "90", "2", "1", 4)  # type: ignore[arg-type]
    assert rep.observer == Position(48.0, 37.5, 20.0) and rep.band == (1.0, 4.0)
    assert isinstance(rep.bearing_deg, float) and isinstance(rep.error_deg, float)
    _raises("input.bad_position", Position, "here", 37.5)


def test_observer_far_from_the_event_is_refused() -> None:
    lat, lon = destination(OBSERVER.lat, OBSERVER.lon, 90.0, 60_000.0)
    event = Position(float(lat), float(lon))
    assert check_observer_distance(OBSERVER, event, 10.0) == pytest.approx(60.0)
    err = _raises("input.observer_too_far", check_observer_distance, OBSERVER, event, 9.0)
    assert "60.0 km" in err.message and "9 km" in err.message
    swapped = Position(OBSERVER.lon, OBSERVER.lat)  # latitude and longitude swapped
    _raises("input.observer_too_far", from_bearing, BearingReport(swapped, 90, 2, 1, 4),
            event=OBSERVER)
    _raises("input.bad_distance", check_observer_distance, OBSERVER, event, -1.0)


# (f) determinism


def test_same_seed_same_samples() -> None:
    rep = BearingReport(Position(48.0, 37.5, 200.0), 10.0, 4.0, 1.0, 6.0)
    a, b, c = from_bearing(rep, seed=11), from_bearing(rep, seed=11), from_bearing(rep, seed=12)
    assert np.array_equal(a.samples, b.samples) and a.region.equals(b.region)
    assert not np.array_equal(a.samples, c.samples)
    assert not a.samples.flags.writeable
    reps = [BearingReport(OBSERVER, 45.0, 2.0, 3.0, 20.0),
            BearingReport(Position(48.0, 37.7), 315.0, 2.0)]  # fmt: skip
    t1, t2 = triangulate(reps, seed=5), triangulate(reps, seed=5)
    assert isinstance(t1, FiringEstimate) and isinstance(t2, FiringEstimate)
    assert np.array_equal(t1.samples, t2.samples)
    gen = from_bearing(rep, seed=np.random.default_rng(11))
    assert np.array_equal(gen.samples, a.samples) and gen.seed is None


# a property over every valid bearing and band


@settings(max_examples=50, deadline=None)
@given(bearing=st.floats(0.0, 360.0, exclude_max=True), sigma=st.floats(0.1, 90.0),
       lo=st.floats(0.0, 50.0), width=st.floats(0.1, 50.0), lat=st.floats(-60.0, 60.0))
def test_samples_within_four_sigma_of_the_bearing(bearing: float, sigma: float, lo: float,
                                                  width: float, lat: float) -> None:
    """With the default seed the largest of the 4000 normal draws is 3.90 sigma, so every sample's
    bearing lies within 4 sigma of the reported one, across north and at any band."""
    at = Position(lat, 30.0)
    est = from_bearing(BearingReport(at, bearing, sigma, lo, lo + width))
    assert np.all(np.abs(_off(_bearings(est, at), bearing)) <= 4.0 * sigma + 1e-6)
    d = _distances_km(est, at)
    assert d.min() >= lo - 1e-6 and d.max() <= lo + width + 1e-6
    assert est.region_p >= 0.95 and np.isfinite(est.centroid).all()
