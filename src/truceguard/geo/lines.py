"""Side of a line of contact and distance to it, for millions of points at once.

Everything here works in planar metres (project first with ``truceguard.geo.project``).

Distance to a polyline is the smallest distance to any of its segments. Testing every point
against every segment is too slow for millions of points and a 1,500 km line, and a spatial
tree walked point by point is slow in Python, so :class:`SegmentGrid` cuts the plane into
square cells and keeps, for each cell, only the segments that can be the nearest one for *some*
point of that cell. For a cell with centre ``c`` and half-diagonal ``r``, segment ``j`` can be
the nearest for a point ``p`` of the cell only if ``d(c, j) - r <= d(p, j) <= d(p, k) <=
d(c, k) + r`` for the segment ``k`` nearest to the centre, that is ``d(c, j) <= d(c, k) + 2r``.
The lists are refined from coarse cells to fine ones (a child cell can only keep what its
parent kept), so building them is cheap. A query then computes exact point-to-segment
distances for each point against its cell's short list only, in flat numpy arrays; the result
is exact (the same as ``shapely.distance`` to rounding). Points outside the grid (far beyond
every zone) fall back to ``shapely.distance``.

Sign convention: :func:`signed_distance` is positive outside the side polygon and negative
inside it (for the shipped terms: positive on the government-controlled side).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

# Points per block in queries: bounds the memory of the (point, candidate segment) pairs.
QUERY_CHUNK = 131_072
# (point, segment) pairs per step of a distance computation: a step's arrays stay in the
# CPU's cache, several times faster than one pass over millions of pairs.
PAIR_CHUNK = 65_536


@dataclass(frozen=True, eq=False)
class SegmentGrid:
    """A polyline's segments with, per grid cell, the segments that can be nearest there.

    Build with :func:`build_segment_grid`; query with :func:`distance_to_line`.
    ``ptr``/``seg`` are the per-cell lists in compressed form: cell ``i`` holds
    ``seg[ptr[i]:ptr[i + 1]]``. Cells are numbered row by row (``iy * nx + ix``).
    """

    ax: NDArray[np.float64]  # segment start x
    ay: NDArray[np.float64]  # segment start y
    ex: NDArray[np.float64]  # segment vector x (end - start)
    ey: NDArray[np.float64]  # segment vector y
    inv_len2: NDArray[np.float64]  # 1 / squared length (0 for a zero-length segment)
    x0: float  # grid origin (lower left), metres
    y0: float
    cell_m: float  # cell size, metres
    nx: int
    ny: int
    ptr: NDArray[np.int64]
    seg: NDArray[np.int32]
    line: Any  # the projected shapely line, for points outside the grid

    @property
    def n_segments(self) -> int:
        return int(self.ax.size)

    @property
    def mean_candidates(self) -> float:
        """Average length of the per-cell lists (a measure of query cost)."""
        return float(self.seg.size) / max(1, self.nx * self.ny)


def line_segments(line: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(starts, ends) as (n, 2) arrays for every segment of a (Multi)LineString."""
    parts = shapely.get_parts(line)
    coords, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    return coords[:-1][same], coords[1:][same]


def _pair_distance(
    px: NDArray, py: NDArray, grid: SegmentGrid, seg: NDArray
) -> NDArray[np.float64]:
    """Squared distance from each point (px[i], py[i]) to segment seg[i]."""
    ax = grid.ax[seg]
    ay = grid.ay[seg]
    ex = grid.ex[seg]
    ey = grid.ey[seg]
    dx = px - ax
    dy = py - ay
    t = (dx * ex + dy * ey) * grid.inv_len2[seg]
    np.clip(t, 0.0, 1.0, out=t)
    dx -= t * ex
    dy -= t * ey
    return dx * dx + dy * dy


def _owner_distance(px: NDArray, py: NDArray, owner: NDArray, grid: SegmentGrid,
                    seg: NDArray) -> NDArray[np.float64]:
    """Squared distance from each point (px[owner[i]], py[owner[i]]) to segment seg[i]:
    :func:`_pair_distance`, ``PAIR_CHUNK`` pairs at a time."""
    d = np.empty(seg.size)
    for lo in range(0, seg.size, PAIR_CHUNK):
        step = owner[lo:lo + PAIR_CHUNK]
        d[lo:lo + step.size] = _pair_distance(px[step], py[step], grid,
                                              seg[lo:lo + step.size])
    return d


def _expand(ptr: NDArray[np.int64], owners: NDArray[np.int64]) -> tuple[NDArray, NDArray]:
    """For each owner cell, the positions of its list entries: (pair owner index, entry)."""
    counts = ptr[owners + 1] - ptr[owners]
    starts = np.cumsum(counts) - counts
    total = int(counts.sum())
    who = np.repeat(np.arange(owners.size), counts)
    entry = (
        np.arange(total, dtype=np.int64)
        - np.repeat(starts, counts)
        + np.repeat(ptr[owners], counts)
    )
    return who, entry


def build_segment_grid(
    line: Any, *, cell_m: float = 1_500.0, margin_m: float = 200_000.0, levels: int = 5
) -> SegmentGrid:
    """Index a projected (Multi)LineString for :func:`distance_to_line`.

    The grid covers the line's bounds plus ``margin_m`` on every side with cells of
    ``cell_m``; the lists are refined over ``levels`` halvings from cells of
    ``cell_m * 2**levels``.
    """
    if shapely.is_empty(line) or shapely.get_num_coordinates(line) < 2:
        raise ValueError("a line needs at least one segment")
    a, b = line_segments(line)
    ex = b[:, 0] - a[:, 0]
    ey = b[:, 1] - a[:, 1]
    len2 = ex * ex + ey * ey
    inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
    root = cell_m * 2**levels
    bx0, by0, bx1, by1 = shapely.bounds(line)
    rx = max(1, int(np.ceil((bx1 - bx0 + 2 * margin_m) / root)))
    ry = max(1, int(np.ceil((by1 - by0 + 2 * margin_m) / root)))
    x0 = (bx0 + bx1) / 2 - rx * root / 2
    y0 = (by0 + by1) / 2 - ry * root / 2
    proto = SegmentGrid(
        ax=a[:, 0].copy(),
        ay=a[:, 1].copy(),
        ex=ex,
        ey=ey,
        inv_len2=inv_len2,
        x0=x0,
        y0=y0,
        cell_m=cell_m,
        nx=rx * 2**levels,
        ny=ry * 2**levels,
        ptr=np.zeros(1, dtype=np.int64),
        seg=np.zeros(0, dtype=np.int32),
        line=line,
    )
    # Root cells hold every segment; each level splits a cell into four children.
    iy, ix = np.divmod(np.arange(rx * ry, dtype=np.int64), rx)
    cx = x0 + (ix + 0.5) * root
    cy = y0 + (iy + 0.5) * root
    nseg = a.shape[0]
    ptr = np.arange(0, (rx * ry + 1) * nseg, nseg, dtype=np.int64)
    seg = np.tile(np.arange(nseg, dtype=np.int32), rx * ry)
    size = root
    for _ in range(levels + 1):
        ptr, seg = _keep_possible_nearest(proto, cx, cy, size, ptr, seg)
        if size <= cell_m * 1.000001:
            break
        size /= 2
        q = size / 2
        cx = (cx[:, None] + np.array([-q, q, -q, q])).ravel()
        cy = (cy[:, None] + np.array([-q, -q, q, q])).ravel()
        counts = np.repeat(np.diff(ptr), 4)
        parent = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), 4)
        _, entry = _expand(ptr, parent)
        seg = seg[entry]
        ptr = np.concatenate([[0], np.cumsum(counts)])
    # Reorder the finest cells row by row on the regular grid.
    gx = np.floor((cx - x0) / cell_m).astype(np.int64)
    gy = np.floor((cy - y0) / cell_m).astype(np.int64)
    order = np.argsort(gy * proto.nx + gx, kind="stable")
    who, entry = _expand(ptr, order)
    counts = (ptr[1:] - ptr[:-1])[order]
    return SegmentGrid(
        ax=proto.ax,
        ay=proto.ay,
        ex=ex,
        ey=ey,
        inv_len2=inv_len2,
        x0=x0,
        y0=y0,
        cell_m=cell_m,
        nx=proto.nx,
        ny=proto.ny,
        ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        seg=seg[entry].astype(np.int32),
        line=line,
    )


def _keep_possible_nearest(
    grid: SegmentGrid, cx: NDArray, cy: NDArray, size: float, ptr: NDArray, seg: NDArray
) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Drop from each cell's list the segments that cannot be nearest anywhere in the cell."""
    counts = np.diff(ptr)
    owner = np.repeat(np.arange(cx.size), counts)
    d = np.sqrt(_owner_distance(cx, cy, owner, grid, seg))
    dmin = np.minimum.reduceat(d, ptr[:-1]) if d.size else np.zeros(0)
    slack = size * np.sqrt(2.0) * (1 + 1e-9) + 1e-6  # twice the half-diagonal
    keep = d <= dmin[owner] + slack
    kept = np.bincount(owner[keep], minlength=cx.size)
    return np.concatenate([[0], np.cumsum(kept)]).astype(np.int64), seg[keep]


def distance_to_line(
    grid: SegmentGrid, x: ArrayLike, y: ArrayLike, *, workers: int | None = None
) -> NDArray[np.float64]:
    """Distance in metres from each point (x, y) to the grid's line; exact.

    Blocks of points run on ``workers`` threads (numpy releases the GIL in the heavy
    steps); the default is one per CPU core, at most 4.
    """
    xa = np.ascontiguousarray(x, dtype=float).ravel()
    ya = np.ascontiguousarray(y, dtype=float).ravel()
    out = np.empty(xa.size)
    blocks = [(lo, min(lo + QUERY_CHUNK, xa.size)) for lo in range(0, xa.size, QUERY_CHUNK)]

    def run(block: tuple[int, int]) -> None:
        lo, hi = block
        out[lo:hi] = _distance_block(grid, xa[lo:hi], ya[lo:hi])

    n_workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if n_workers <= 1 or len(blocks) <= 1:
        for b in blocks:
            run(b)
    else:
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            list(pool.map(run, blocks))
    return out


def _distance_block(grid: SegmentGrid, x: NDArray, y: NDArray) -> NDArray[np.float64]:
    gx = ((x - grid.x0) * (1.0 / grid.cell_m)).astype(np.int64)
    gy = ((y - grid.y0) * (1.0 / grid.cell_m)).astype(np.int64)
    # Truncation rounds towards zero: points within one cell outside the grid need the test
    # on x and y themselves.
    inside = (x >= grid.x0) & (y >= grid.y0) & (gx < grid.nx) & (gy < grid.ny)
    out = np.empty(x.size)
    all_in = bool(inside.all())
    idx = None if all_in else np.flatnonzero(inside)
    if all_in or (idx is not None and idx.size):
        xi, yi = (x, y) if idx is None else (x[idx], y[idx])
        cell = gy * grid.nx + gx if idx is None else gy[idx] * grid.nx + gx[idx]
        counts = grid.ptr[cell + 1] - grid.ptr[cell]
        who, entry = _expand(grid.ptr, cell)
        d2 = _owner_distance(xi, yi, who, grid, grid.seg[entry])
        starts = np.cumsum(counts) - counts
        d = np.sqrt(np.minimum.reduceat(d2, starts))
        if idx is None:
            return d
        out[idx] = d
    far = np.flatnonzero(~inside)
    with np.errstate(divide="ignore", invalid="ignore"):  # GEOS on zero-length segments
        out[far] = shapely.distance(shapely.points(x[far], y[far]), grid.line)
    return out


def side_of(polygon: Any, x: ArrayLike, y: ArrayLike) -> NDArray[np.bool_]:
    """True where (x, y) lies inside ``polygon`` (same CRS); the polygon is prepared once."""
    shapely.prepare(polygon)
    return np.asarray(shapely.contains_xy(polygon, np.asarray(x, float), np.asarray(y, float)))


def signed_distance(
    grid: SegmentGrid, polygon: Any, x: ArrayLike, y: ArrayLike
) -> NDArray[np.float64]:
    """Distance to the line, positive outside ``polygon`` and negative inside it."""
    d = distance_to_line(grid, x, y)
    return np.where(side_of(polygon, x, y), -d, d)
