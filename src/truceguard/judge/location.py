"""Where an incident lies with respect to the terms, given how well its position is known.

Error model. An incident's reported position is the centre of a circular (isotropic)
bivariate normal distribution of its true position, in the terms' local transverse Mercator
metres (scale error under 0.4% within 600 km of the projection's centre); ``uncertainty_m`` is
the radius that holds 95% of it, so each coordinate has the standard deviation
``sigma = uncertainty_m / sqrt(-2 ln 0.05)`` (``uncertainty_m / 2.4477``). The probability that
an incident satisfies a clause's geometry (``p_location``) is this distribution integrated over
the clause's region: a zone (a band measured from each side's own line, a polygon, or the
surroundings of the settlements; zones are not cut to the area, but are to the terms'
``territory`` where they have one), the terms' ``area`` for a
clause without geometry (the whole plane when the terms have none), or one side of the line
(``p_side``).

How it is computed, without a loop over incidents:

1. Certain incidents. At the centre, the exact distance to every boundary that matters (the
   side polygon's, the area's, each zone's edge) is measured. Zone depths and the settlement
   radius are distances to a line or a point, so they change by at most one metre per metre;
   if every boundary is at least ``CERTAIN_SIGMAS`` standard deviations away, the answer at
   the centre holds for all but ``exp(-CERTAIN_SIGMAS**2 / 2)`` (under 0.0005) of the
   probability, and the crisp answer is returned. Exact positions (uncertainty 0) always are.
2. The others are integrated numerically with ``QUADRATURE_POINTS`` points that cover the
   normal distribution evenly (a "sunflower": the i-th point at the radius that holds the
   fraction (i + 1/2)/K of the probability, turned by the golden angle from the one before;
   each carries weight 1/K). A point does not count as simply in or out: it counts for the
   fraction of its own cell (about ``sqrt(1 / (K f))`` across, f the density there) that lies
   inside, from its signed distance to the boundary (a linear ramp across the cell). On the
   shipped lines this agrees with Monte Carlo estimates to within 0.01 (see the tests) with
   ``QUADRATURE_POINTS_TINY`` points up to ``TINY_SIGMA_M``, ``QUADRATURE_POINTS`` up to
   ``SMALL_SIGMA_M`` and ``QUADRATURE_POINTS_WIDE`` above. There, a distance beyond a
   distance index's reach (farther than the deepest zone from every line) is replaced by a
   lower bound, the distance to the line's bounding box: it only decides that the point is
   far outside.
   Incidents with the same position and uncertainty are integrated once.
3. A settlements zone is many small discs: once the standard deviation exceeds half their
   radius the points above no longer resolve them, and the zone's probability is the normal
   density integrated over each disc with a fixed rule of ``DISC_POINTS`` points, each point
   divided by the number of discs that cover it, so that overlapping discs count once.
4. Many uncertain incidents with about the same standard deviation (within
   ``SIGMA_BIN_RATIO``; they share the group's geometric mean, which moves a probability by
   under 0.0025) share one raster where that is cheaper than integrating each: the same
   coverages on a grid of ``RASTER_CELLS_PER_SIGMA`` cells per standard deviation (finer
   where a band zone is narrower), blurred with the normal kernel and read at each incident
   bilinearly (under 0.002); the settlement discs' points are spread onto the grid and
   blurred likewise.
5. Regions. An incident whose source placed it only to a unit (an oblast, the country, a
   named part of it: ``judge.places.precision_region``) sits at the unit's stand-in point,
   which says nothing of where in the unit it happened. Its true position is taken as
   uniform over the unit's polygon: every probability is the share of the polygon's area in
   the region (on side 1, in the area, in each zone), measured on a regular grid of about
   ``REGION_POINTS`` points inside the polygon (one per ``sqrt(area / REGION_POINTS)``
   metres; for an oblast, a point every 1.2 km). Polygons are integrated once per terms.

The side an incident is given (``LocationProbabilities.side``) is the more probable one, not
the side of the reported point when that is the less likely.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from truceguard.errors import InputError
from truceguard.geo.lines import SegmentGrid, build_segment_grid, distance_to_line, side_of
from truceguard.geo.project import LocalProjection
from truceguard.judge.terms import Terms

SIGMA_PER_R95 = 1.0 / float(np.sqrt(-2.0 * np.log(0.05)))  # sigma / 95% radius
CERTAIN_SIGMAS = 3.9
# Quadrature points by standard deviation: up to TINY_SIGMA_M, up to SMALL_SIGMA_M, above.
QUADRATURE_POINTS_TINY = 128
QUADRATURE_POINTS = 256
QUADRATURE_POINTS_WIDE = 512
TINY_SIGMA_M = 500.0
SMALL_SIGMA_M = 2_000.0
# Points of the rule that integrates over each settlement's disc (see _SettlementDiscs).
DISC_POINTS = 128
# Shared rasters (step 4): cells per standard deviation, the ratio between neighbouring
# standard deviations that share one raster, and the largest raster.
RASTER_CELLS_PER_SIGMA = 4.0
SLIVER_M = 500.0  # half the width of the narrowest strip of a side's territory kept
SIGMA_BIN_RATIO = 1.02
MAX_RASTER_CELLS = 1_000_000
# Points per block in the numerical integration (bounds memory: a few arrays of this size).
_BLOCK_POINTS = 1 << 19
# Points of the grid that measures the area shares of a region (step 5).
REGION_POINTS = 20_000
# Grid cells for the distance indexes; see truceguard.geo.lines.
GRID_CELL_M = 1_500.0
GRID_LEVELS = 5


def _grid(line: Any, margin_m: float) -> SegmentGrid:
    return build_segment_grid(line, cell_m=GRID_CELL_M, margin_m=margin_m, levels=GRID_LEVELS)


@dataclass(frozen=True, eq=False)
class TermsGeometry:
    """The terms' geometry projected to metres and indexed for fast queries. The indexes that
    only the location probabilities need are built on first use."""

    terms: Terms
    projection: LocalProjection
    polygon: Any  # projected, prepared side polygon
    grid: SegmentGrid  # the common line
    own_grids: tuple[SegmentGrid | None, SegmentGrid | None]  # each side's own line, if any
    depth_m: NDArray[np.float64]  # (2, n_zones): band depth per side; -inf for other shapes
    margin_m: float
    regions: dict[bytes, tuple[NDArray, ...]] = field(default_factory=dict)  # by polygon WKB

    @cached_property
    def boundary(self) -> SegmentGrid:
        """The side polygon's boundary (where the side changes)."""
        return _grid(shapely.boundary(self.polygon), self.margin_m)

    @cached_property
    def area(self) -> tuple[Any, SegmentGrid] | None:
        """The projected, prepared area and its boundary; None when the terms have none."""
        if self.terms.area is None:
            return None
        poly = self.projection.project_geometry(self.terms.area)
        shapely.prepare(poly)
        return poly, _grid(shapely.boundary(poly), self.margin_m)

    @cached_property
    def territory(self) -> tuple[Any, SegmentGrid] | None:
        """The projected, prepared territory the zones hold in and its boundary; None when
        the terms have none."""
        if self.terms.territory is None:
            return None
        poly = self.projection.project_geometry(self.terms.territory)
        poly = shapely.intersection(poly, self.reach)  # beyond every zone it decides nothing
        shapely.prepare(poly)
        return poly, _grid(shapely.boundary(poly), self.margin_m)

    @cached_property
    def reach(self) -> Any:
        """A box (projected) holding every zone and the area with ``margin_m`` to spare:
        the territory beyond it is never within reach of a zone, so it is cut away before
        its boundary is indexed (a whole state's border would cost seconds to index)."""
        parts = [shapely.buffer(shapely.envelope(self.projection.project_geometry(g)),
                                self.margin_m)
                 for g in (self.terms.line, self.terms.area) if g is not None]  # fmt: skip
        for shape in self.shaped.values():
            parts.append(shapely.buffer(shapely.envelope(
                shape[0] if isinstance(shape, tuple) else shapely.multipoints(shape.points)),
                self.margin_m))
        return shapely.envelope(shapely.union_all(parts))

    @cached_property
    def held(self) -> tuple[tuple[Any, SegmentGrid], tuple[Any, SegmentGrid]]:
        """Each side's part of the territory (side 0: the territory outside the side polygon;
        side 1: inside it), projected and prepared, with its boundary; needs a territory.
        Strips narrower than ``2 * SLIVER_M`` of side 0's part along the territory's edge
        go to side 1's: where the side polygon and the territory come from different maps (a
        line of contact that runs to the state border), the strips between their edges are
        artefacts, and a ramp across a strip would count half of every cell near it. The two
        parts share their boundary exactly, so that their ramps sum to one across it."""
        assert self.territory is not None
        terr = self.territory[0]
        out = []
        gov = shapely.difference(terr, self.polygon)
        opened = shapely.buffer(shapely.buffer(gov, -SLIVER_M, join_style="mitre"), SLIVER_M,
                                join_style="mitre")  # mitred corners: no arcs of vertices
        # the strips the opening removed, where they lie along the territory's own edge
        edge = shapely.buffer(shapely.boundary(terr), 2 * SLIVER_M, quad_segs=2)
        gov = shapely.difference(gov, shapely.intersection(shapely.difference(gov, opened),
                                                           edge))
        for poly in (gov, shapely.difference(terr, gov)):  # no gap between the two parts
            shapely.prepare(poly)
            out.append((poly, _grid(shapely.boundary(poly), self.margin_m)))
        return out[0], out[1]

    @cached_property
    def shaped(self) -> dict[int, Any]:
        """Per non-band zone index: (prepared polygon, boundary grid) or the settlements'
        discs."""
        out: dict[int, Any] = {}
        for k, z in enumerate(self.terms.zones):
            if z.shape == "polygon":
                poly = self.projection.project_geometry(z.polygon)
                shapely.prepare(poly)
                out[k] = (poly, _grid(shapely.boundary(poly), self.margin_m))
            elif z.shape == "settlements":
                assert z.points is not None
                x, y = self.projection.forward(z.points[:, 0], z.points[:, 1])
                out[k] = _SettlementDiscs.of(np.column_stack([x, y]), z.radius_m, self.polygon)
        return out


@dataclass(frozen=True, eq=False)
class _SettlementDiscs:
    """Discs of one radius around settlements: a k-d tree of the centres, and a rule over the
    union of the discs (points, weights that make ``sum(weights * density)`` the integral of
    a density over the union, and each point's side)."""

    tree: cKDTree
    radius_m: float
    points: NDArray[np.float64]  # (Q, 2)
    weights: NDArray[np.float64]  # (Q,)
    side1: NDArray[np.bool_]  # (Q,)

    @classmethod
    def of(cls, centres: NDArray, radius_m: float, polygon: Any) -> _SettlementDiscs:
        tree = cKDTree(centres)
        j = np.arange(DISC_POINTS)
        rho = radius_m * np.sqrt((j + 0.5) / DISC_POINTS)
        theta = j * np.pi * (3.0 - np.sqrt(5.0))
        pts = (centres[:, None, :] + np.stack([rho * np.cos(theta), rho * np.sin(theta)],
                                              axis=-1)[None]).reshape(-1, 2)  # fmt: skip
        cover = np.asarray(tree.query_ball_point(pts, radius_m, return_length=True))
        weights = np.pi * radius_m**2 / DISC_POINTS / np.maximum(cover, 1)
        return cls(tree, radius_m, pts, weights, side_of(polygon, pts[:, 0], pts[:, 1]))

    def probabilities(self, x: NDArray, y: NDArray, sigma: NDArray
                      ) -> tuple[NDArray, NDArray]:  # fmt: skip
        """(P(in a disc), P(in a disc on side 1)) for normal positions (x, y, sigma)."""
        n = x.size
        p, p1 = np.empty(n), np.empty(n)
        step = max(1, _BLOCK_POINTS // max(1, self.weights.size))
        for lo in range(0, n, step):  # blocks of incidents, each vectorised
            hi = min(n, lo + step)
            s2 = (sigma[lo:hi] ** 2)[:, None]
            d2 = (x[lo:hi, None] - self.points[None, :, 0]) ** 2 \
                + (y[lo:hi, None] - self.points[None, :, 1]) ** 2  # fmt: skip
            dens = np.exp(-d2 / (2.0 * s2)) / (2.0 * np.pi * s2) * self.weights[None, :]
            p[lo:hi] = dens.sum(axis=1)
            p1[lo:hi] = dens[:, self.side1].sum(axis=1)
        return np.minimum(p, 1.0), np.minimum(p1, 1.0)


_GEOMETRY: weakref.WeakKeyDictionary[Terms, TermsGeometry] = weakref.WeakKeyDictionary()


def terms_geometry(terms: Terms) -> TermsGeometry:
    """Projected and indexed geometry for ``terms``, built once per Terms object."""
    geo = _GEOMETRY.get(terms)
    if geo is not None:
        return geo
    proj = terms.projection
    band = [z.shape == "band" for z in terms.zones]
    depth = np.array([[z.distance_m[s] if b else -np.inf for z, b in zip(terms.zones, band,
                                                                          strict=True)]
                      for s in (0, 1)], dtype=float).reshape(2, len(terms.zones))  # fmt: skip
    margin = float(np.max(depth, initial=0.0)) + 20_000.0
    polygon = proj.project_geometry(terms.side_polygon)
    shapely.prepare(polygon)
    own0, own1 = (None if ln is None else _grid(proj.project_geometry(ln), margin)
                  for ln in terms.side_lines)  # fmt: skip
    geo = TermsGeometry(terms=terms, projection=proj, polygon=polygon,
                        grid=_grid(proj.project_geometry(terms.line), margin),
                        own_grids=(own0, own1), depth_m=depth, margin_m=margin)  # fmt: skip
    _GEOMETRY[terms] = geo
    return geo


def _distance(grid: SegmentGrid, x: NDArray, y: NDArray, exact: bool) -> NDArray[np.float64]:
    """The distance to the grid's line; where not ``exact``, points beyond the grid get a
    lower bound (the distance to the line's bounding box) instead."""
    if exact:
        return distance_to_line(grid, x, y)
    inside = ((x >= grid.x0) & (y >= grid.y0) & (x < grid.x0 + grid.nx * grid.cell_m)
              & (y < grid.y0 + grid.ny * grid.cell_m))  # fmt: skip
    if inside.all():
        return distance_to_line(grid, x, y)
    x0, y0, x1, y1 = shapely.bounds(grid.line)
    out = np.hypot(np.maximum(np.maximum(x0 - x, x - x1), 0.0),
                   np.maximum(np.maximum(y0 - y, y - y1), 0.0))  # fmt: skip
    out[inside] = distance_to_line(grid, x[inside], y[inside])
    return out


def own_distances(geo: TermsGeometry, x: NDArray, y: NDArray, d: NDArray,
                  exact: bool = True) -> tuple[NDArray, NDArray]:  # fmt: skip
    """Distance to side 0's and side 1's own lines (``d``, the common line's, where a side
    has none)."""
    g0, g1 = geo.own_grids
    return (d if g0 is None else _distance(g0, x, y, exact),
            d if g1 is None else _distance(g1, x, y, exact))  # fmt: skip


def _signed(inside: NDArray[np.bool_], dist: NDArray) -> NDArray[np.float64]:
    return np.where(inside, dist, -dist)


@dataclass(frozen=True)
class Fields:
    """The geometry at a set of points: distances to the lines, and signed margins, positive
    inside (metres)."""

    d: NDArray[np.float64]  # to the common line
    own0: NDArray[np.float64]  # to side 0's own line
    own1: NDArray[np.float64]  # to side 1's own line
    side: NDArray[np.float64]  # to the side polygon's boundary: > 0 on side 1
    zone0: NDArray[np.float64]  # (n, Z): inside zone z if the point is on side 0
    zone1: NDArray[np.float64]  # (n, Z): inside zone z if the point is on side 1
    area: NDArray[np.float64] | None  # to the area's boundary; None: everywhere
    held0: NDArray[np.float64] | None = None  # to side 0's part of the territory; None: no
    held1: NDArray[np.float64] | None = None  # territory (the sides are not cut to one)


def fields(geo: TermsGeometry, x: NDArray, y: NDArray, *, need_side: bool = True,
           exact: bool = True) -> Fields:  # fmt: skip
    """Distances and signed margins at projected points (see :class:`Fields`); where not
    ``exact``, distances beyond the indexes' reach are lower bounds."""
    inside = side_of(geo.polygon, x, y)
    side = (_signed(inside, _distance(geo.boundary, x, y, exact)) if need_side
            else np.where(inside, np.inf, -np.inf))  # fmt: skip
    d = _distance(geo.grid, x, y, exact)
    own0, own1 = own_distances(geo, x, y, d, exact)
    zone0 = geo.depth_m[0][None, :] - own0[:, None]
    zone1 = geo.depth_m[1][None, :] - own1[:, None]
    for k, shape in geo.shaped.items():
        if isinstance(shape, _SettlementDiscs):
            dist, _ = shape.tree.query(np.column_stack([x, y]))
            m = shape.radius_m - dist
        else:
            poly, grid = shape
            m = _signed(shapely.contains_xy(poly, x, y), _distance(grid, x, y, exact))
        zone0[:, k] = m
        zone1[:, k] = m
    held: list[NDArray[np.float64] | None] = [None, None]
    if geo.territory is not None:  # no zone reaches beyond the territory
        poly, grid = geo.territory
        terr = _signed(shapely.contains_xy(poly, x, y), _distance(grid, x, y, exact))
        zone0 = np.minimum(zone0, terr[:, None])
        zone1 = np.minimum(zone1, terr[:, None])
        if need_side:
            held = [_signed(shapely.contains_xy(p, x, y), _distance(g, x, y, exact))
                    for p, g in geo.held]  # fmt: skip
    area = None
    if geo.area is not None:
        poly, grid = geo.area
        area = _signed(shapely.contains_xy(poly, x, y), _distance(grid, x, y, exact))
    return Fields(d=d, own0=own0, own1=own1, side=side, zone0=zone0, zone1=zone1, area=area,
                  held0=held[0], held1=held[1])


@dataclass(frozen=True)
class LocationProbabilities:
    """Per incident: the probability of each region under the error model.

    ``side``: the more probable side (0/1; ``controlled_by`` indexes ``terms.sides`` with
    it; the centre's side on a tie);
    ``p_side1``: of lying on side 1; ``p_area``: in the terms' area; ``p_side1_area``: both;
    ``p_zone[:, z]``: in zone z; ``p_zone_side1[:, z]``: in zone z on side 1; ``certain``: the
    crisp answer was used (step 1)."""

    side: NDArray[np.int8]
    p_side1: NDArray[np.float64]
    p_area: NDArray[np.float64]
    p_side1_area: NDArray[np.float64]
    p_zone: NDArray[np.float64]
    p_zone_side1: NDArray[np.float64]
    certain: NDArray[np.bool_]

    @property
    def p_side(self) -> NDArray[np.float64]:
        """The probability that ``side`` is the true one (at least 0.5)."""
        return np.where(self.side == 1, self.p_side1, 1.0 - self.p_side1)


def sigma_of(uncertainty_m: ArrayLike, n: int) -> NDArray[np.float64]:
    """The per-coordinate standard deviation for 95% radii (checked: finite, >= 0)."""
    unc = np.broadcast_to(np.asarray(uncertainty_m, dtype=float), (n,)).copy()
    bad = ~np.isfinite(unc) | (unc < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"uncertainty_m must be a finite number >= 0, not {unc[i]!r} "
                         f"(index {i})", hint="give the 95% radius of each position in metres",
                         code="input.bad_uncertainty")  # fmt: skip
    return unc * SIGMA_PER_R95


def _crisp(f: Fields) -> tuple[NDArray, ...]:
    on1 = f.side > 0
    area = np.ones(on1.size) if f.area is None else (f.area > 0).astype(float)
    zone = np.where(on1[:, None], f.zone1 >= 0, f.zone0 >= 0).astype(float)
    return on1.astype(float), area, on1 * area, zone, zone * on1[:, None]


def _ramp(m: NDArray, width: NDArray) -> NDArray[np.float64]:
    """The fraction of a cell ``width`` across inside a boundary ``m`` from its centre."""
    return np.clip(0.5 + m / width, 0.0, 1.0)


def _side_ramps(f: Fields, width: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """The fractions of each cell (``width`` across) on side 1 and in the area, and in each
    zone on side 0 and on side 1: (side 1 and area, zone on side 0, zone on side 1). Without
    a territory, products of one ramp per boundary; with one, a ramp on the nearer boundary
    of each side's part of the territory: a side that ends at the state border shares that
    boundary with the territory, and a product of two half-covered ramps there would count a
    quarter of the cell instead of a half."""
    c1 = _ramp(f.side, width)
    w = width[:, None]
    if f.held1 is None or f.held0 is None:
        c1a = c1 if f.area is None else c1 * _ramp(f.area, width)
        return c1a, (1.0 - c1)[:, None] * _ramp(f.zone0, w), c1[:, None] * _ramp(f.zone1, w)
    c1a = (_ramp(f.held1, width) if f.area is None
           else _ramp(np.minimum(f.held1, f.area), width))  # fmt: skip
    return (c1a, _ramp(np.minimum(f.held0[:, None], f.zone0), w),
            _ramp(np.minimum(f.held1[:, None], f.zone1), w))


@dataclass(frozen=True)
class _Rule:
    u: NDArray[np.float64]  # (K, 2) offsets in standard deviations
    cell: NDArray[np.float64]  # (K,) cell width in standard deviations


def sunflower(k: int) -> _Rule:
    """``k`` points covering the standard bivariate normal evenly (see the module docstring)."""
    i = np.arange(k)
    u = (i + 0.5) / k
    r = np.sqrt(-2.0 * np.log1p(-u))
    theta = i * np.pi * (3.0 - np.sqrt(5.0))
    cell = np.sqrt(2.0 * np.pi * np.exp(r * r / 2.0) / k)
    return _Rule(np.column_stack([r * np.cos(theta), r * np.sin(theta)]), cell)


def _integrate(geo: TermsGeometry, x: NDArray, y: NDArray, sigma: NDArray,
               rule: _Rule) -> tuple[NDArray, ...]:  # fmt: skip
    """(p_side1, p_area, p_side1_area, p_zone, p_zone_side1) by the quadrature rule, in
    blocks."""
    n, k = x.size, rule.cell.size
    nz = geo.depth_m.shape[1]
    out = [np.empty(n), np.empty(n), np.empty(n), np.empty((n, nz)), np.empty((n, nz))]
    step = max(1, _BLOCK_POINTS // k)
    for lo in range(0, n, step):  # blocks of incidents, each vectorised
        hi = min(n, lo + step)
        s = sigma[lo:hi, None]
        px = (x[lo:hi, None] + s * rule.u[None, :, 0]).ravel()
        py = (y[lo:hi, None] + s * rule.u[None, :, 1]).ravel()
        width = (s * rule.cell[None, :]).ravel()
        f = fields(geo, px, py, exact=False)
        c1 = _ramp(f.side, width)
        ca = np.ones_like(c1) if f.area is None else _ramp(f.area, width)
        c1a, z0, z1 = _side_ramps(f, width)
        m = hi - lo
        out[0][lo:hi] = c1.reshape(m, k).mean(axis=1)
        out[1][lo:hi] = ca.reshape(m, k).mean(axis=1)
        out[2][lo:hi] = c1a.reshape(m, k).mean(axis=1)
        out[3][lo:hi] = (z0 + z1).reshape(m, k, nz).mean(axis=1)
        out[4][lo:hi] = z1.reshape(m, k, nz).mean(axis=1)
    return tuple(out)


def _rule_size(sigma: float) -> int:
    if sigma <= TINY_SIGMA_M:
        return QUADRATURE_POINTS_TINY
    return QUADRATURE_POINTS if sigma <= SMALL_SIGMA_M else QUADRATURE_POINTS_WIDE


def _uncertain(geo: TermsGeometry, x: NDArray, y: NDArray, sigma: NDArray) -> list[NDArray]:
    """(p_side1, p_area, p_side1_area, p_zone, p_zone_side1) for distinct uncertain incidents:
    shared rasters where cheaper (step 4), else quadrature (steps 2 and 3)."""
    n, nz = x.size, geo.depth_m.shape[1]
    res = [np.empty(n), np.empty(n), np.empty(n), np.empty((n, nz)), np.empty((n, nz))]
    left = np.ones(n, bool)
    for members, s_b, h in _raster_groups(geo, x, y, sigma):
        for dest, src in zip(res, _integrate_raster(geo, x[members], y[members], s_b, h),
                             strict=True):  # fmt: skip
            dest[members] = src
        left[members] = False
    size = np.array([_rule_size(float(v)) for v in sigma], dtype=np.int64) if n else sigma
    for k in (QUADRATURE_POINTS_TINY, QUADRATURE_POINTS, QUADRATURE_POINTS_WIDE):
        sel = left & (size == k)
        if sel.any():
            for dest, src in zip(res, _integrate(geo, x[sel], y[sel], sigma[sel], sunflower(k)),
                                 strict=True):  # fmt: skip
                dest[sel] = src
    for k, shape in geo.shaped.items():
        if isinstance(shape, _SettlementDiscs):
            wide = left & (sigma > shape.radius_m / 2)
            if wide.any():
                res[3][wide, k], res[4][wide, k] = shape.probabilities(x[wide], y[wide],
                                                                       sigma[wide])
    return res


def _raster_groups(geo: TermsGeometry, x: NDArray, y: NDArray, sigma: NDArray
                   ) -> list[tuple[NDArray[np.intp], float, float]]:  # fmt: skip
    """Groups of incidents (indices, shared sigma, cell size) for which one raster costs less
    than integrating each incident."""
    depth = geo.depth_m[np.isfinite(geo.depth_m)]
    finest = float(depth.min()) / 2.0 if depth.size else np.inf
    fields_per_cell = 3 + 2 * geo.depth_m.shape[1]
    bins = np.round(np.log(sigma) / np.log(SIGMA_BIN_RATIO)).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(bins[order]) != 0])
    out = []
    for members in np.split(order, starts[1:]):  # one entry per group of similar sigma
        s_b = float(np.exp(np.log(sigma[members]).mean()))
        h = min(s_b / RASTER_CELLS_PER_SIGMA, finest)
        pad = CERTAIN_SIGMAS * s_b + 2 * h
        cells = (np.ptp(x[members]) + 2 * pad) / h * (np.ptp(y[members]) + 2 * pad) / h
        cost = cells * (1.0 + 0.2 * fields_per_cell)
        if cells <= MAX_RASTER_CELLS and cost < members.size * _rule_size(s_b):
            out.append((members, s_b, h))
    return out


def _integrate_raster(geo: TermsGeometry, x: NDArray, y: NDArray, sigma: float, h: float
                      ) -> tuple[NDArray, ...]:  # fmt: skip
    """The probabilities of incidents sharing one standard deviation, from one raster."""
    pad = CERTAIN_SIGMAS * sigma + 2 * h
    x0, y0 = x.min() - pad, y.min() - pad
    nx = int(np.ceil((x.max() + pad - x0) / h)) + 1
    ny = int(np.ceil((y.max() + pad - y0) / h)) + 1
    gx, gy = np.meshgrid(x0 + h * np.arange(nx), y0 + h * np.arange(ny))
    f = fields(geo, gx.ravel(), gy.ravel(), exact=False)
    width = np.full(gx.size, h)
    c1 = _ramp(f.side, width)
    ca = np.ones_like(c1) if f.area is None else _ramp(f.area, width)
    c1a, z0, z1 = _side_ramps(f, width)
    zt = z0 + z1
    layers = [c1, ca, c1a, *zt.T, *z1.T]
    nz = zt.shape[1]
    for k, shape in geo.shaped.items():
        if isinstance(shape, _SettlementDiscs) and sigma > shape.radius_m / 2:
            layers[3 + k] = _splat(shape.points, shape.weights, x0, y0, h, ny, nx)
            layers[3 + nz + k] = _splat(shape.points[shape.side1], shape.weights[shape.side1],
                                        x0, y0, h, ny, nx)  # fmt: skip
    at = np.vstack([(y - y0) / h, (x - x0) / h])
    from scipy.ndimage import gaussian_filter, map_coordinates  # 0.25 s to load: on first use

    vals = [map_coordinates(gaussian_filter(layer.reshape(ny, nx), sigma / h, mode="nearest",
                                            truncate=CERTAIN_SIGMAS), at, order=1)
            for layer in layers]  # fmt: skip
    clip = [np.clip(v, 0.0, 1.0) for v in vals]
    zone = np.column_stack(clip[3:3 + nz]) if nz else np.empty((x.size, 0))
    zone1 = np.column_stack(clip[3 + nz:]) if nz else np.empty((x.size, 0))
    return clip[0], clip[1], clip[2], zone, zone1


def _splat(points: NDArray, weights: NDArray, x0: float, y0: float, h: float, ny: int,
           nx: int) -> NDArray[np.float64]:  # fmt: skip
    """Point masses spread bilinearly onto the raster's cells, as a density per cell."""
    grid = np.zeros((ny, nx))
    fx, fy = (points[:, 0] - x0) / h, (points[:, 1] - y0) / h
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    tx, ty = fx - ix, fy - iy
    for dx, dy, w in ((0, 0, (1 - tx) * (1 - ty)), (1, 0, tx * (1 - ty)),
                      (0, 1, (1 - tx) * ty), (1, 1, tx * ty)):  # the four corners
        cx, cy = ix + dx, iy + dy
        ok = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
        np.add.at(grid, (cy[ok], cx[ok]), weights[ok] * w[ok])
    return (grid / (h * h)).ravel()


@dataclass(frozen=True)
class Placement:
    """Where incidents lie, from their reported positions alone.

    ``side``: 0 outside the side polygon (``terms.sides[0]``), 1 inside it; ``signed_m``: the
    distance to the common line, positive on side 0, negative on side 1; ``own_m``: the
    distance to the incident's own side's line (``terms.side_lines``), which is what band zones
    are measured from; ``zone``: index into ``terms.zone_ids`` of the innermost band zone
    containing the incident on its side, -1 for none; ``in_zone[:, z]``: inside zone z (any
    shape)."""

    side: NDArray[np.int8]
    signed_m: NDArray[np.float64]
    own_m: NDArray[np.float64]
    zone: NDArray[np.int16]
    in_zone: NDArray[np.bool_]


def _placement(geo: TermsGeometry, f: Fields) -> Placement:
    side = (f.side > 0).astype(np.int8)
    own = np.where(side == 1, f.own1, f.own0)
    zone = np.full(side.size, -1, dtype=np.int16)
    depth = geo.depth_m[side.astype(np.intp)]  # (n, Z)
    in_zone = np.where(side[:, None] == 1, f.zone1 >= 0, f.zone0 >= 0)
    inside = (own[:, None] <= depth) & in_zone  # in_zone: cut to the territory
    # The innermost zone: the smallest depth containing the point (ties: the first listed).
    order = np.where(inside, depth, np.inf)
    has = inside.any(axis=1)
    if has.any():
        zone[has] = np.argmin(order[has], axis=1)
    return Placement(side=side, signed_m=np.where(side == 1, -f.d, f.d), own_m=own, zone=zone,
                     in_zone=in_zone)


def _positions(geo: TermsGeometry, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    lon_a = np.asarray(lon, dtype=float).ravel()
    lat_a = np.asarray(lat, dtype=float).ravel()
    if lon_a.shape != lat_a.shape:
        raise InputError(f"lon and lat differ in length ({lon_a.size} and {lat_a.size})")
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    if bad.any():
        raise InputError(f"{int(bad.sum())} position(s) are not finite, e.g. index "
                         f"{int(np.flatnonzero(bad)[0])}", code="input.bad_position")
    return geo.projection.forward(lon_a, lat_a)


def place(terms: Terms, lon: ArrayLike, lat: ArrayLike) -> Placement:
    """Side, signed distance, own-line distance and zone for every point (WGS84 degrees)."""
    geo = terms_geometry(terms)
    x, y = _positions(geo, lon, lat)
    return _placement(geo, fields(geo, x, y, need_side=False))


def region_probabilities(geo: TermsGeometry, polygon: Any) -> tuple[NDArray, ...]:
    """(p_side1, p_area, p_side1_area, p_zone, p_zone_side1) of a position uniform over
    ``polygon`` (lon/lat): the shares of its area (step 5), computed once per polygon."""
    key = shapely.to_wkb(polygon)
    found = geo.regions.get(key)
    if found is not None:
        return found
    poly = geo.projection.project_geometry(polygon)
    x0, y0, x1, y1 = shapely.bounds(poly)
    step = float(np.sqrt(max(poly.area, 1.0) / REGION_POINTS))
    gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    inside = shapely.contains_xy(poly, gx.ravel(), gy.ravel())
    px, py = gx.ravel()[inside], gy.ravel()[inside]
    if px.size == 0:  # a sliver: its representative point
        c = shapely.get_coordinates(shapely.point_on_surface(poly))
        px, py = c[:, 0], c[:, 1]
    shares = tuple(np.asarray(a, float).mean(axis=0) for a in _crisp(fields(geo, px, py)))
    geo.regions[key] = shares
    return shares


def locate(terms: Terms, lon: ArrayLike, lat: ArrayLike, uncertainty_m: ArrayLike = 0.0,
           regions: Sequence[Any | None] | None = None
           ) -> tuple[Placement, LocationProbabilities]:  # fmt: skip
    """The placement of every incident (WGS84 degrees) and its location probabilities given
    the 95% radii ``uncertainty_m`` (metres), or, where ``regions`` gives one, the polygon
    (lon/lat) the incident may lie anywhere in; see the module docstring for the error model
    and the method."""
    geo = terms_geometry(terms)
    x, y = _positions(geo, lon, lat)
    sigma = sigma_of(uncertainty_m, x.size)
    exact = sigma <= 0
    f = fields(geo, x, y, need_side=not exact.all())
    placement = _placement(geo, f)
    p1, pa, p1a, pz, pz1 = (np.array(a, dtype=float) for a in _crisp(f))
    certain = exact.copy()
    if not exact.all():
        own = np.where(placement.side[:, None] == 1, f.zone1, f.zone0)
        margin = np.min(np.abs(own), axis=1, initial=np.inf)
        margin = np.minimum(margin, np.abs(f.side))
        if f.area is not None:
            margin = np.minimum(margin, np.abs(f.area))
        certain |= margin >= CERTAIN_SIGMAS * sigma
    todo = np.flatnonzero(~certain)
    if todo.size:
        key = np.column_stack([x[todo], y[todo], sigma[todo]])
        uniq, back = np.unique(key, axis=0, return_inverse=True)
        res = _uncertain(geo, uniq[:, 0], uniq[:, 1], uniq[:, 2])
        for dest, src in zip((p1, pa, p1a, pz, pz1), res, strict=True):
            dest[todo] = src[back.ravel()]
    if regions is not None:
        if len(regions) != x.size:
            raise InputError(f"regions has {len(regions)} values for {x.size} positions")
        for i, poly in enumerate(regions):
            if poly is not None:
                shares = region_probabilities(geo, poly)
                for dest, src in zip((p1, pa, p1a, pz, pz1), shares, strict=True):
                    dest[i] = src
                certain[i] = False
    side = np.where(p1 > 0.5, 1, np.where(p1 < 0.5, 0, placement.side)).astype(np.int8)
    probs = LocationProbabilities(side=side, p_side1=p1, p_area=pa, p_side1_area=p1a,
                                  p_zone=pz, p_zone_side1=pz1, certain=certain)  # fmt: skip
    return placement, probs
