"""Links between observations: the checked inputs, the link test and the candidate pairs.

:mod:`truceguard.judge.fusion` states the semantics; this module holds the parts every way of
clustering shares:

- :class:`FusionParams` and :class:`Points`, the checked inputs;
- the link test itself (:func:`linked`), one formula in float64 for every caller;
- a grid that yields every candidate pair once, in batches of bounded size
  (:func:`candidate_ranges`, :func:`expand_ranges`), and :func:`link_pairs` on top of it.

The grid: cells ``side`` wide (``side = eps_m + 2 * max(w)``, so no link skips a cell) and
four sides tall, observations sorted by (cell, duration class, time) with one packed int64
key. An observation's candidates lie in its own cell (later in the order, or in a longer
duration class), the next column's cell, and, only when it lies within ``side`` of its row's
edge, the cells across that edge; each is a time window found by binary search. Duration
classes keep one long window (a report dated "some time in March") from widening every other
observation's window: a class's window reaches back only as far as that class's longest
duration. Candidate ranges are cut into batches of at most ``budget`` pairs, so memory stays
bounded whatever the density; the caller filters each batch with :func:`linked`.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceguard.geo.project import LocalProjection, projection_for

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
T = TypeVar("T")

# Observations whose candidate ranges are computed at once (about 200 bytes each).
CHUNK_POINTS = 65_536
# Candidate pairs expanded at once (about 100 bytes each in the temporaries of one batch).
PAIR_BUDGET = 500_000
# Cell height in cell widths: taller rows mean fewer binary searches (only observations near a
# row edge look into the next row) and more candidates; 4 is a good middle on lines and areas.
ROWS = 4.0
# Duration classes: each holds windows up to this many times the previous class's limit.
_CLASS_RATIO = 8.0
_MAX_CLASSES = 6


@dataclass(frozen=True)
class FusionParams:
    """How close two observations must be to link (see :mod:`truceguard.judge.fusion`)."""

    eps_m: float = 3000.0
    eps_s: float = 3600.0
    min_samples: int = 1
    max_link_uncertainty_m: float = 5000.0

    def __post_init__(self) -> None:
        if not (self.eps_m >= 0 and math.isfinite(self.eps_m)):
            raise ValueError(f"eps_m must be a finite number >= 0, not {self.eps_m!r}")
        if not (self.eps_s >= 0 and math.isfinite(self.eps_s)):
            raise ValueError(f"eps_s must be a finite number >= 0, not {self.eps_s!r}")
        if int(self.min_samples) != self.min_samples or self.min_samples < 1:
            raise ValueError(f"min_samples must be an integer >= 1, not {self.min_samples!r}")
        if not self.max_link_uncertainty_m >= 0:
            raise ValueError("max_link_uncertainty_m must be >= 0")


@dataclass(frozen=True)
class Points:
    """Observations as arrays in projected metres and epoch seconds (one row each)."""

    x: FloatArray
    y: FloatArray
    t_start: FloatArray
    t_end: FloatArray
    uncertainty_m: FloatArray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def of(
        cls,
        x: ArrayLike,
        y: ArrayLike,
        t_start: ArrayLike,
        t_end: ArrayLike | None = None,
        uncertainty_m: ArrayLike | None = None,
    ) -> Points:
        """Checked arrays: same length, finite positions and times, ``t_end >= t_start``."""
        xa = np.ascontiguousarray(x, dtype=np.float64)
        ya = np.ascontiguousarray(y, dtype=np.float64)
        t0 = np.ascontiguousarray(t_start, dtype=np.float64)
        t1 = t0 if t_end is None else np.ascontiguousarray(t_end, dtype=np.float64)
        n = xa.shape[0]
        unc = (
            np.full(n, np.nan)
            if uncertainty_m is None
            else np.ascontiguousarray(uncertainty_m, dtype=np.float64)
        )
        for name, a in (("y", ya), ("t_start", t0), ("t_end", t1), ("uncertainty_m", unc)):
            if a.shape != (n,):
                raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
        if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
            raise ValueError("x and y must be finite")
        if not (np.isfinite(t0).all() and np.isfinite(t1).all()):
            raise ValueError("t_start and t_end must be finite")
        if (t1 < t0).any():
            raise ValueError("t_end must not be before t_start")
        if (unc < 0).any():
            raise ValueError("uncertainty_m must be >= 0 (NaN when unknown)")
        return cls(xa, ya, t0, t1, unc)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, idx: ArrayLike) -> Points:
        i = np.asarray(idx)
        return Points(self.x[i], self.y[i], self.t_start[i], self.t_end[i], self.uncertainty_m[i])

    def concat(self, other: Points) -> Points:
        return Points(
            *(np.concatenate([a, b]) for a, b in zip(self._arrays(), other._arrays(), strict=True))
        )

    def _arrays(self) -> tuple[FloatArray, ...]:
        return (self.x, self.y, self.t_start, self.t_end, self.uncertainty_m)


def points_from_lonlat(
    lon: ArrayLike,
    lat: ArrayLike,
    t_start: ArrayLike,
    t_end: ArrayLike | None = None,
    uncertainty_m: ArrayLike | None = None,
    projection: LocalProjection | None = None,
) -> Points:
    """Points projected with ``projection`` (default: centred on the points' extent)."""
    proj = projection or projection_for(lon, lat)
    x, y = proj.forward(lon, lat)
    return Points.of(x, y, t_start, t_end, uncertainty_m)


def link_widening(p: Points, cap: float) -> FloatArray | None:
    """Each observation's capped uncertainty (0 when unknown); None when every one is 0."""
    unc = p.uncertainty_m
    known = ~np.isnan(unc)
    if not known.any() or cap <= 0:
        return None
    return np.where(known, np.minimum(np.where(known, unc, 0.0), cap), 0.0)


@dataclass(frozen=True)
class LinkArrays:
    """The arrays the link test reads, in one order (``t1``/``w`` None when not needed)."""

    x: FloatArray
    y: FloatArray
    t0: FloatArray
    t1: FloatArray | None  # None when every window is a point in time
    w: FloatArray | None  # capped link uncertainty; None when all are 0
    eps_m: float
    eps_s: float

    def take(self, idx: IntArray) -> LinkArrays:
        return LinkArrays(
            self.x[idx],
            self.y[idx],
            self.t0[idx],
            None if self.t1 is None else self.t1[idx],
            None if self.w is None else self.w[idx],
            self.eps_m,
            self.eps_s,
        )


def link_arrays(p: Points, params: FusionParams) -> LinkArrays:
    intervals = not np.array_equal(p.t_start, p.t_end)
    return LinkArrays(
        p.x,
        p.y,
        p.t_start,
        p.t_end if intervals else None,
        link_widening(p, params.max_link_uncertainty_m),
        float(params.eps_m),
        float(params.eps_s),
    )


def linked(a: LinkArrays, ii: IntArray, jj: IntArray) -> BoolArray:
    """Whether each pair (ii[k], jj[k]) links: the one formula of the module docstring."""
    dx = a.x[jj] - a.x[ii]
    dy = a.y[jj] - a.y[ii]
    d2 = dx * dx + dy * dy
    if a.w is None:
        ok = d2 <= a.eps_m * a.eps_m
    else:
        r = a.eps_m + a.w[ii] + a.w[jj]
        ok = d2 <= r * r
    if a.t1 is None:
        ok &= np.abs(a.t0[jj] - a.t0[ii]) <= a.eps_s
    else:
        gap = np.maximum(a.t0[jj] - a.t1[ii], a.t0[ii] - a.t1[jj])
        ok &= gap <= a.eps_s
    return ok


# --------------------------------------------------------------------------------------------
# Grid and candidate pairs
# --------------------------------------------------------------------------------------------


@dataclass
class Grid:
    """Observations sorted by (cell, duration class, time): what candidate search reads."""

    order: IntArray  # sorted position -> input index
    key: IntArray  # packed ((cell * classes + class) << bits) | quantised t_start, sorted
    links: LinkArrays  # in sorted order
    room_up: FloatArray  # distance from each point up to its cell's top edge
    room_down: FloatArray  # ... and down to its bottom edge
    side: float  # cell width, and the farthest any link reaches
    bits: int
    tmin: float
    quantum: float
    ny: int
    class_reach: FloatArray  # per duration class: its longest window


def duration_classes(dur: FloatArray, eps_s: float) -> tuple[IntArray, FloatArray]:
    """Class of each window (0 = shortest) and each class's longest window."""
    longest = float(dur.max()) if dur.size else 0.0
    base = max(eps_s, float(np.median(dur)), 1.0)
    if longest <= 2.0 * base:
        return np.zeros(dur.shape[0], np.int64), np.array([longest])
    limits = base * _CLASS_RATIO ** np.arange(_MAX_CLASSES - 1)
    cls = np.searchsorted(limits, dur, side="left").astype(np.int64)
    present = np.bincount(cls, minlength=_MAX_CLASSES) > 0
    cls = (np.cumsum(present) - 1)[cls]  # the classes that occur, numbered 0, 1, ...
    reach = np.zeros(int(present.sum()))
    np.maximum.at(reach, cls, dur)
    return cls, reach


def build_grid(p: Points, params: FusionParams, rows: float = ROWS) -> Grid:
    a = link_arrays(p, params)
    wmax = float(a.w.max()) if a.w is not None else 0.0
    # A hair wider than the longest link, so that rounding in floor() cannot hide a link.
    # Cells wider than a link are still exact: widen them so that no axis has over 2**20.
    x0, y0 = float(p.x.min()), float(p.y.min())
    extent = max(float(p.x.max()) - x0, float(p.y.max()) - y0)
    side = max((params.eps_m + 2.0 * wmax) * (1 + 1e-9), extent / 2**20, 1e-6)
    height = side * rows
    ix = np.floor((p.x - x0) / side).astype(np.int64)
    fy = (p.y - y0) / height
    iy = np.floor(fy).astype(np.int64)
    ny = int(iy.max()) + 3  # room for the -1 and +1 offsets
    cls, reach = duration_classes(p.t_end - p.t_start, params.eps_s)
    n_cls = reach.shape[0]
    cell = (ix * ny + (iy + 1)) * n_cls + cls
    cell_bits = (int(cell.max()) + (ny + 1) * n_cls + 1).bit_length()
    tmin = float(p.t_start.min())
    span = float(p.t_start.max()) - tmin
    # Time is quantised only to order the key; exact times decide every link.
    bits = 62 - cell_bits
    if bits < 8:
        raise ValueError("the grid is too large to pack; raise eps_m or split the data")
    quantum = max(span / float((1 << bits) - 2), 1e-6)
    tq = np.floor((p.t_start - tmin) / quantum).astype(np.int64)
    key = (cell << bits) | tq
    order = np.argsort(key, kind="stable")
    key = key[order]
    frac = (fy - iy)[order] * height
    return Grid(
        order=order,
        key=key,
        links=a.take(order),
        room_up=height - frac,
        room_down=frac,
        side=side,
        bits=bits,
        tmin=tmin,
        quantum=quantum,
        ny=ny,
        class_reach=reach,
    )


def _tq(g: Grid, t: FloatArray) -> IntArray:
    hi = (1 << g.bits) - 1
    return np.clip(np.floor((t - g.tmin) / g.quantum), 0, hi).astype(np.int64)


def candidate_ranges(
    g: Grid, a: int, b: int, pos: IntArray | None = None
) -> tuple[IntArray, IntArray, IntArray]:
    """For sorted positions [a, b) (or ``pos``): ``(src, lo, cnt)``, candidates ``lo .. lo +
    cnt - 1``.

    Every pair of sorted positions that may link appears exactly once over all positions.
    """
    key = g.key
    at: slice | IntArray = slice(a, b) if pos is None else pos
    pos = np.arange(a, b, dtype=np.int64) if pos is None else pos
    n_cls = g.class_reach.shape[0]
    slot = key[at] >> g.bits  # cell * n_cls + class
    own_cls = slot % n_cls
    cell_base = slot - own_cls
    t0 = g.links.t0[at]
    t1 = g.links.t1[at] if g.links.t1 is not None else t0
    eps_s = g.links.eps_s
    tq_hi = _tq(g, t1 + eps_s)
    near = g.side * (1 + 1e-6)
    up = np.flatnonzero(g.room_up[at] <= near)
    down = np.flatnonzero(g.room_down[at] <= near)
    srcs = [pos]
    starts = [pos + 1]  # own cell and class: later in (time, position) order only
    stops = [np.searchsorted(key, (slot << g.bits) | tq_hi, side="right")]
    everyone = slice(None)
    for c in range(n_cls):
        tq_lo = _tq(g, t0 - eps_s - g.class_reach[c])
        looks: list[tuple[int, IntArray | slice]] = [(g.ny, everyone)]
        if c > 0:
            looks.append((0, np.flatnonzero(own_cls < c)))  # own cell, longer windows
        looks += [(1, up), (g.ny + 1, up), (g.ny - 1, down)]
        for off, who in looks:
            shifted = (cell_base[who] + off * n_cls + c) << g.bits
            srcs.append(pos[who])
            starts.append(np.searchsorted(key, shifted | tq_lo[who], side="left"))
            stops.append(np.searchsorted(key, shifted | tq_hi[who], side="right"))
    lo = np.concatenate(starts)
    cnt = np.concatenate(stops) - lo
    keep = cnt > 0
    return np.concatenate(srcs)[keep], lo[keep], cnt[keep]


def expand_ranges(
    src: IntArray, lo: IntArray, cnt: IntArray, budget: int
) -> Iterator[tuple[IntArray, IntArray]]:
    """Pairs ``(src[k], lo[k] + m)`` for ``m < cnt[k]``, in batches of about ``budget``.

    A range longer than ``budget`` is cut into pieces, so no batch holds more than
    ``2 * budget`` pairs however long one range is.
    """
    budget = max(int(budget), 1)
    some = cnt > 0
    if not some.all():
        src, lo, cnt = src[some], lo[some], cnt[some]
    long = cnt > budget
    if long.any():
        pieces = (cnt + budget - 1) // budget
        k = np.repeat(np.arange(cnt.shape[0]), pieces)
        first = np.cumsum(pieces) - pieces
        part = np.arange(k.shape[0]) - first[k]
        src, lo = src[k], lo[k] + part * budget
        cnt = np.minimum(cnt[k] - part * budget, budget)
    total = int(cnt.sum())
    if total == 0:
        return
    batch = (np.cumsum(cnt) - 1) // budget
    cuts = np.flatnonzero(np.diff(batch)) + 1
    for s, e in zip(
        np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [cnt.shape[0]]]).tolist(),
        strict=True,
    ):
        yield np.repeat(src[s:e], cnt[s:e]), concat_ranges(lo[s:e], cnt[s:e])


def concat_ranges(lo: IntArray, cnt: IntArray) -> IntArray:
    """``lo[0] .. lo[0]+cnt[0]-1, lo[1] .. lo[1]+cnt[1]-1, ...`` (every ``cnt`` >= 1)."""
    total = int(cnt.sum())
    if total == 0:
        return np.empty(0, np.int64)
    # Steps of 1 inside a range, a jump at each range's head; built without a Python loop.
    step = np.ones(total, dtype=np.int64)
    heads = np.cumsum(cnt[:-1])
    step[0] = lo[0]
    step[heads] = lo[1:] - (lo[:-1] + cnt[:-1] - 1)
    return np.cumsum(step)


def estimated_candidates(g: Grid, sample: int = 4096, seed: int = 0) -> float:
    """The number of candidate pairs, estimated from a fixed-seed sample of observations."""
    n = g.key.shape[0]
    if n <= sample:
        return float(candidate_ranges(g, 0, n)[2].sum())
    pos = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    return float(candidate_ranges(g, 0, 0, pos)[2].sum()) * n / sample


def worker_count(threads: int | None) -> int:
    return threads if threads is not None else min(os.cpu_count() or 1, 8)


_DONE = object()


@dataclass
class _Failed:
    error: BaseException


def threaded_batches(
    work: Callable[[int, int], Iterator[T]], n: int, threads: int | None,
    chunk: int = CHUNK_POINTS,
) -> Iterator[T]:
    """``work(a, b)`` over chunks of ``range(n)`` on worker threads, results as they come.

    At most two results per worker wait to be taken, so memory stays bounded however many
    chunks there are; the order of results is not fixed.
    """
    spans = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    workers = min(worker_count(threads), len(spans))
    if workers <= 1:
        for a, b in spans:
            yield from work(a, b)
        return
    out: queue.Queue[object] = queue.Queue(maxsize=2 * workers)
    todo = iter(spans)
    lock = threading.Lock()
    stop = threading.Event()

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def run() -> None:
        try:
            while not stop.is_set():
                with lock:
                    span = next(todo, None)
                if span is None:
                    break
                for item in work(*span):
                    put(item)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))
        finally:
            put(_DONE)

    pool = [threading.Thread(target=run, daemon=True) for _ in range(workers)]
    for t in pool:
        t.start()
    finished = 0
    try:
        while finished < workers:
            item = out.get()
            if item is _DONE:
                finished += 1
            elif isinstance(item, _Failed):
                raise item.error
            else:
                yield item  # type: ignore[misc]
    finally:
        stop.set()
        for t in pool:
            t.join()


class TooDense(Exception):
    """Raised by :func:`sorted_links` when the candidates exceed the allowed number."""


def sorted_links(
    g: Grid, threads: int | None, max_candidates: int | None = None
) -> tuple[IntArray, IntArray]:
    """Every link once, as sorted positions; :class:`TooDense` past ``max_candidates``."""
    n = g.key.shape[0]
    bounds = list(range(0, n, CHUNK_POINTS)) + [n]
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    seen = [0]
    stop = [False]

    def work(span: tuple[int, int]) -> tuple[IntArray, IntArray]:
        if stop[0]:
            raise TooDense
        src, lo, cnt = candidate_ranges(g, *span)
        if max_candidates is not None:
            seen[0] += int(cnt.sum())  # a racy sum is still a bound that grows with the work
            if seen[0] > max_candidates:
                stop[0] = True
                raise TooDense
        out_i, out_j = [], []
        for ii, jj in expand_ranges(src, lo, cnt, PAIR_BUDGET):
            ok = linked(g.links, ii, jj)
            out_i.append(ii[ok])
            out_j.append(jj[ok])
        if not out_i:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(out_i), np.concatenate(out_j)

    workers = worker_count(threads)
    if workers > 1 and len(spans) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(work, spans))
    else:
        parts = [work(s) for s in spans]
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty
    return np.concatenate([q[0] for q in parts]), np.concatenate([q[1] for q in parts])


def link_pairs(
    points: Points, params: FusionParams, threads: int | None = None
) -> tuple[IntArray, IntArray]:
    """Every linked pair once, as input indices ``(i, j)`` (order within a pair arbitrary).

    The result is as large as the number of links, which grows with the square of the
    density; :func:`truceguard.judge.fusion.cluster_labels` never materialises it.
    """
    if len(points) < 2:
        empty = np.empty(0, np.int64)
        return empty, empty
    g = build_grid(points, params)
    si, sj = sorted_links(g, threads)
    return g.order[si], g.order[sj]
