"""Distance to a line of contact and side of it (truceguard.geo.lines), checked against GEOS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from truceguard.geo import shipped
from truceguard.geo.lines import (
    build_segment_grid,
    distance_to_line,
    line_segments,
    side_of,
    signed_distance,
)
from truceguard.geo.project import projection_for


@pytest.fixture(scope="module")
def front_2026():
    line = shipped.front_line("2026-08-22")
    x0, y0, x1, y1 = line.bounds
    proj = projection_for([x0, x1], [y0, y1])
    return proj, proj.project_geometry(line), proj.project_geometry(shipped.occupied_2026())


@pytest.fixture(scope="module")
def grid_2026(front_2026):
    return build_segment_grid(front_2026[1], margin_m=100_000.0)


def test_distance_matches_geos_on_the_2026_line(front_2026, grid_2026):
    _, line, _ = front_2026
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = line.bounds
    # Uniform over a box wider than the grid (so far points take the fallback), plus points
    # close to the line where segments compete.
    xu = rng.uniform(x0 - 250e3, x1 + 250e3, 20_000)
    yu = rng.uniform(y0 - 250e3, y1 + 250e3, 20_000)
    on = shapely.line_interpolate_point(line, rng.uniform(0, line.length, 20_000))
    xn = shapely.get_x(on) + rng.normal(0, 3e3, 20_000)
    yn = shapely.get_y(on) + rng.normal(0, 3e3, 20_000)
    x = np.concatenate([xu, xn])
    y = np.concatenate([yu, yn])
    ours = distance_to_line(grid_2026, x, y)
    geos = shapely.distance(shapely.points(x, y), line)
    assert np.abs(ours - geos).max() < 1e-6
    outside = (x < grid_2026.x0) | (y < grid_2026.y0)
    assert outside.any()  # the fallback path was exercised


def test_points_on_the_line_are_at_zero(front_2026, grid_2026):
    _, line, _ = front_2026
    coords = shapely.get_coordinates(line)[::17]
    assert np.abs(distance_to_line(grid_2026, coords[:, 0], coords[:, 1])).max() < 1e-6


def test_segments_do_not_join_separate_parts():
    line = shapely.MultiLineString([[(0, 0), (10, 0)], [(100, 100), (110, 100)]])
    a, b = line_segments(line)
    assert a.tolist() == [[0.0, 0.0], [100.0, 100.0]]
    assert b.tolist() == [[10.0, 0.0], [110.0, 100.0]]
    g = build_segment_grid(line, cell_m=5.0, margin_m=50.0, levels=2)
    # Half-way between the parts' facing ends the gap between them is not part of the line.
    assert distance_to_line(g, [55.0], [50.0])[0] == pytest.approx(
        shapely.distance(shapely.Point(55, 50), line)
    )


def test_signed_distance_is_negative_inside_the_side_polygon(front_2026, grid_2026):
    proj, _, occupied = front_2026
    # Donetsk city (occupied) and Zaporizhzhia city (government-controlled).
    x, y = proj.forward([37.8028, 35.1396], [48.0159, 47.8388])
    s = signed_distance(grid_2026, occupied, x, y)
    assert s[0] < -10_000 and s[1] > 10_000
    assert side_of(occupied, x, y).tolist() == [True, False]


def test_an_empty_line_is_refused():
    with pytest.raises(ValueError):
        build_segment_grid(shapely.LineString())


@settings(max_examples=40, deadline=None)
@given(
    pts=st.lists(
        st.tuples(st.integers(-50_000, 50_000), st.integers(-50_000, 50_000)),
        min_size=2,
        max_size=30,
    ),
    seed=st.integers(0, 2**31 - 1),
    cell=st.sampled_from([250.0, 1_000.0, 3_000.0]),
)
def test_distance_equals_geos_for_any_polyline(pts, seed, cell):
    line = shapely.LineString(pts)
    if line.length == 0:
        return
    g = build_segment_grid(line, cell_m=cell, margin_m=20_000.0, levels=3)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1e5, 1e5, 500)
    y = rng.uniform(-1e5, 1e5, 500)
    geos = shapely.distance(shapely.points(x, y), line)
    assert np.allclose(distance_to_line(g, x, y), geos, rtol=0, atol=1e-6)


# The Minsk-era line: where the front met Russia's border (its northern end, on the Siverskyi
# Donets near the Luhansk-Rostov border) is the one place the line may come within 3 km of it.
MINSK_LINE_MEETS_BORDER = (39.60214, 48.59175)


def test_minsk_line_keeps_away_from_the_state_border_except_where_the_front_met_it():
    line = shipped.minsk_line()
    proj = projection_for([37.0, 40.0], [47.0, 49.0])
    border = proj.project_geometry(shipped.countries()["RUS"].boundary)
    parts = shapely.get_parts(proj.project_geometry(line))
    # every part, sampled every few hundred metres
    samples = np.concatenate([
        shapely.get_coordinates(shapely.line_interpolate_point(
            p, np.linspace(0.0, p.length, max(2, int(p.length // 200))))) for p in parts])
    near = shapely.distance(shapely.points(samples), border) < 3_000.0
    mx, my = proj.forward(np.array([MINSK_LINE_MEETS_BORDER[0]]),
                          np.array([MINSK_LINE_MEETS_BORDER[1]]))
    off_end = np.hypot(samples[:, 0] - mx[0], samples[:, 1] - my[0]) > 5_000.0
    assert not (near & off_end).any(), samples[near & off_end][:3]
    assert len(parts) == 1  # one line: no stray fragments along the border


def test_a_tank_near_the_russian_border_is_far_from_the_minsk_line():
    # 47.45 N 38.25 E was judged 3.9 km from a stray piece of border; the line runs ~35 km west.
    proj = projection_for([37.0, 40.0], [47.0, 49.0])
    x, y = proj.forward(np.array([38.25]), np.array([47.45]))
    d = shapely.distance(shapely.points(x, y), proj.project_geometry(shipped.minsk_line()))
    assert d[0] > 20_000.0
