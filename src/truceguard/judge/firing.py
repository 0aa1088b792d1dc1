"""Where fire came from: a firing position as a probability distribution, never a point.

Three kinds of evidence give one (see DESIGN.md, "Words"):

- ``from_bearing``: one observer's report of outgoing fire (or fire heard with a direction):
  the observer's position, the bearing to the firing point and a distance band;
- ``from_crater``: crater analysis at an impact: the direction the round came from (the bearing
  from the crater back toward the firer) and the assessed munition's range band;
- ``triangulate``: several observers' bearings to one event, with their bands where given.

Statistical model (every number here rests on these assumptions):

- The Earth is a sphere of the mean radius (``truceguard.geo.sphere``); a bearing is the initial
  great-circle bearing, degrees clockwise from true north. Positions are WGS84 degrees away from
  the poles and the antimeridian.
- A bearing's error is normal with the reported 1-sigma ``error_deg`` (at most 90 degrees),
  wrapped onto the circle.
- A distance band says "between min and max" and nothing more, so the distance is uniform on it
  (uniform in distance, not in area: the density per square kilometre falls as 1/distance).
- A position's ``uncertainty_m`` is the radius holding 95% of a circular normal about it, as in
  ``judge.location`` (sigma = uncertainty_m / 2.4477). For a sector, the anchor's true position
  is drawn from it and the bearing and distance are laid off from there.
- The errors of different reports are independent.
- Triangulation works in a gnomonic projection of the sphere centred on the observers, where
  every bearing line (a great circle) is straight; its scale differs from 1 by about
  (distance from the centre / R)^2, 1e-5 at 20 km. The fix is the maximum-likelihood point
  (Gauss-Newton on the bearing residuals, started from Stansfield's range-weighted least
  squares). Its covariance is the inverse Fisher information ``(sum_i n_i n_i^T / (d_i^2
  s_i^2))^-1``: n_i the unit normal to line i, d_i the observer's range to the fix, s_i^2 =
  error_i^2 + (sigma_pos_i / d_i)^2 (the observer's position error across its line). The fix is
  reported as that bivariate normal, which holds while the bearings cross at well over their
  errors; when no pair crosses at ``MIN_CROSSING_DEG`` and ``CROSSING_SIGMAS`` times their
  combined error, or the fix lies behind an observer, the answer is ``NoFix``. Distance bands,
  where given, multiply the normal by the probability that the observer's distance lies in its
  band (the observer's position error along the line normal); samples come by rejection.

Every estimate carries ``samples`` (N draws, lon/lat, from a seeded numpy Generator) and a
``region`` polygon (lon/lat) holding 95% of them: the narrowest sector (bearing +- s x 1.96 sigma
over the band, buffered by s x the anchor's 95% radius), the 95% ellipse of the fix, or for a
banded fix the smallest scaled ellipse that, cut by the bands, holds 95%. ``p_in`` is the
fraction of samples inside a geometry; its Monte Carlo standard error is sqrt(p (1 - p) / N)
(``p_in_se``); when no sample (or every one) is inside, the 95% bound on p (or 1 - p) is 3/N.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.special import ndtr

from truceguard.errors import InputError
from truceguard.geo.sphere import EARTH_RADIUS_M, destination, haversine_m
from truceguard.judge.location import SIGMA_PER_R95

LEVEL = 0.95  # the probability the region polygon holds
Z_LEVEL = 1.959963984540054  # two-sided normal quantile of LEVEL
CHI2_LEVEL = -2.0 * math.log(1.0 - LEVEL)  # squared Mahalanobis radius of the 95% ellipse
DEFAULT_SAMPLES = 4000
MAX_ERROR_DEG = 90.0
OBSERVER_SLACK_KM = 50.0  # how far beyond its band's max an observer may be from the event
MIN_CROSSING_DEG = 10.0
CROSSING_SIGMAS = 2.0
ARC_POINTS = 64  # segments of a sector's arc or an ellipse
REJECTION_DRAWS = 200  # at most this many draws per sample kept under distance bands
_GN_STEPS = 50


def _bad(code: str, message: str, hint: str) -> InputError:
    return InputError(message, code=code, hint=hint)


def _num(value: Any) -> float | None:
    """``value`` as a finite float, or None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _field(record: Any, name: str, ok: Callable[[float], bool], code: str, says: str,
           hint: str) -> float:  # fmt: skip
    """Check one numeric field of a record, store it as a float, and return it."""
    raw = getattr(record, name)
    value = _num(raw)
    if value is None or not ok(value):
        raise _bad(code, f"{name} {raw!r} {says}", hint)
    object.__setattr__(record, name, value)
    return value


@dataclass(frozen=True)
class Position:
    """A position (WGS84 degrees) and the radius holding 95% of its error, metres."""

    lat: float
    lon: float
    uncertainty_m: float = 0.0

    def __post_init__(self) -> None:
        hint = "give WGS84 degrees: latitude in [-90, 90], longitude in [-180, 180]"
        _field(self, "lat", lambda v: abs(v) <= 90.0, "input.bad_position", "is not a latitude",
               hint)
        _field(self, "lon", lambda v: abs(v) <= 180.0, "input.bad_position",
               "is not a longitude", hint)
        _field(self, "uncertainty_m", lambda v: v >= 0.0, "input.bad_uncertainty",
               "is not a distance in metres", "give the radius holding 95% of the position's "
               "error, 0 or more")  # fmt: skip


def _check_direction(record: Any, anchor: Any, bearing: str) -> None:
    """Check a report's anchor, bearing and bearing error."""
    if not isinstance(anchor, Position):
        raise _bad("input.bad_position", f"{anchor!r} is not a Position",
                   "give the position as Position(lat, lon, uncertainty_m)")
    _field(record, bearing, lambda v: 0.0 <= v < 360.0, "input.bad_bearing",
           "is not in [0, 360) degrees", "give degrees clockwise from true north, 0 <= bearing "
           "< 360")  # fmt: skip
    _field(record, "error_deg", lambda v: 0.0 < v <= MAX_ERROR_DEG, "input.bad_bearing_error",
           "is not in (0, 90] degrees", "give the bearing's 1-sigma error; beyond 90 degrees "
           "it says nothing")  # fmt: skip


def _check_band(record: Any, lo_name: str, hi_name: str) -> None:
    """Check a report's distance band (km)."""
    says, hint = "is not a distance in km", "give distances in kilometres, 0 or more"
    lo = _field(record, lo_name, lambda v: v >= 0.0, "input.bad_distance", says, hint)
    hi = _field(record, hi_name, lambda v: v >= 0.0, "input.bad_distance", says, hint)
    if lo > hi or hi == 0.0:
        raise _bad("input.bad_band", f"distance band {lo!r}-{hi!r} km is empty",
                   "give min <= max, with max above 0")


@dataclass(frozen=True)
class BearingReport:
    """An observer's bearing to fire (outgoing, or heard with a direction), its 1-sigma error in
    degrees, and optionally the distance band to the firing point in kilometres."""

    observer: Position
    bearing_deg: float
    error_deg: float
    distance_min_km: float | None = None
    distance_max_km: float | None = None

    def __post_init__(self) -> None:
        _check_direction(self, self.observer, "bearing_deg")
        lo, hi = self.distance_min_km, self.distance_max_km
        if (lo is None) != (hi is None):
            raise _bad("input.bad_band", f"distance band {lo!r}-{hi!r} km has one end only",
                       "give both distance_min_km and distance_max_km, or neither")
        if lo is not None:
            _check_band(self, "distance_min_km", "distance_max_km")

    @property
    def band(self) -> tuple[float, float] | None:
        """(min, max) km, or None."""
        if self.distance_min_km is None or self.distance_max_km is None:
            return None
        return self.distance_min_km, self.distance_max_km


@dataclass(frozen=True)
class CraterReport:
    """Crater analysis: the impact, the bearing from it back toward the firer with its 1-sigma
    error in degrees, and the assessed munition's range band in kilometres."""

    impact: Position
    from_bearing_deg: float
    error_deg: float
    range_min_km: float
    range_max_km: float
    munition: str = ""

    def __post_init__(self) -> None:
        _check_direction(self, self.impact, "from_bearing_deg")
        _check_band(self, "range_min_km", "range_max_km")


@dataclass(frozen=True, eq=False)
class BivariateNormal:
    """A bearings fix: mean (lon, lat) and covariance (m^2; east, north) in the gnomonic plane
    centred at ``origin`` (lon, lat); ``chi2`` sums the squared normalised bearing residuals at
    the fix, with ``dof`` = bearings - 2 degrees of freedom."""

    lon: float
    lat: float
    cov_m2: NDArray[np.float64]
    origin: tuple[float, float]
    chi2: float
    dof: int


Report = BearingReport | CraterReport


@dataclass(frozen=True, eq=False)
class FiringEstimate:
    """A firing position: ``samples`` (N, 2) lon/lat (read-only), the ``region`` polygon (lon/lat)
    that holds ``region_p`` (at least 0.95) of them, their mean ``centroid`` (lon, lat), the
    ``inputs``, the ``normal`` form of a triangulation, and the ``seed`` (None for a Generator)."""

    method: str  # "bearing_band", "crater" or "triangulation"
    samples: NDArray[np.float64]
    region: Any
    region_p: float
    centroid: tuple[float, float]
    inputs: tuple[Report, ...]
    normal: BivariateNormal | None = None
    seed: int | None = None


@dataclass(frozen=True)
class NoFix:
    """A triangulation refused: ``code`` (no_fix.parallel, no_fix.behind, no_fix.bands) and a
    ``reason`` that starts "no fix:"."""

    code: str
    reason: str
    inputs: tuple[BearingReport, ...]
    method: str = "triangulation"


@dataclass(frozen=True)
class _Gnomonic:
    """The sphere's gnomonic projection centred on (lon0, lat0), metres east and north."""

    lon0: float
    lat0: float

    def forward(self, lon: Any, lat: Any) -> tuple[NDArray, NDArray]:
        p, dl = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float) - self.lon0)
        p0 = math.radians(self.lat0)
        cos_c = math.sin(p0) * np.sin(p) + math.cos(p0) * np.cos(p) * np.cos(dl)
        x = EARTH_RADIUS_M * np.cos(p) * np.sin(dl) / cos_c
        y = EARTH_RADIUS_M * (math.cos(p0) * np.sin(p) - math.sin(p0) * np.cos(p) * np.cos(dl))
        return x, y / cos_c

    def inverse(self, x: Any, y: Any) -> tuple[NDArray, NDArray]:
        x, y = np.asarray(x, float), np.asarray(y, float)
        rho = np.hypot(x, y)
        c = np.arctan(rho / EARTH_RADIUS_M)
        p0 = math.radians(self.lat0)
        ratio = np.divide(y * np.sin(c), rho, out=np.zeros_like(rho), where=rho > 0)
        lat = np.arcsin(np.clip(np.cos(c) * math.sin(p0) + ratio * math.cos(p0), -1.0, 1.0))
        dl = np.arctan2(x * np.sin(c), rho * math.cos(p0) * np.cos(c)
                        - y * math.sin(p0) * np.sin(c))  # fmt: skip
        return self.lon0 + np.degrees(dl), np.degrees(lat)

    def geometry(self, geom: Any, inverse: bool = False) -> Any:
        f = self.inverse if inverse else self.forward
        return shapely.transform(geom, lambda xy: np.column_stack(f(xy[:, 0], xy[:, 1])))


def _rng(n: int, seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise _bad("input.bad_sample_count", f"sample count {n!r} is not a positive integer",
                   f"give n >= 1 (the default is {DEFAULT_SAMPLES})")
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _calibrate(build: Callable[[float], Any], x: NDArray, y: NDArray) -> tuple[Any, float]:
    """``build(s)`` for the smallest scale s (by bisection, from 1) holding LEVEL of the points,
    and the fraction it holds; ``build`` must grow with s."""
    def frac(s: float) -> float:
        return float(shapely.contains_xy(build(s), x, y).mean())

    lo, hi = 0.0, 1.0
    for _ in range(8):
        if frac(hi) >= LEVEL:
            break
        lo, hi = hi, 2.0 * hi
    for _ in range(18):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if frac(mid) >= LEVEL else (mid, hi)
    region = build(hi)
    return region, float(shapely.contains_xy(region, x, y).mean())


def _estimate(method: str, lonlat: NDArray, region: Any, region_p: float,
              inputs: tuple[Report, ...], seed: int | np.random.Generator,
              normal: BivariateNormal | None = None) -> FiringEstimate:  # fmt: skip
    lonlat.setflags(write=False)
    return FiringEstimate(method, lonlat, region, region_p,
                          (float(lonlat[:, 0].mean()), float(lonlat[:, 1].mean())), inputs,
                          normal, None if isinstance(seed, np.random.Generator) else int(seed))


def _sector_polygon(anchor: Position, bearing: float, half_deg: float, lo_m: float, hi_m: float,
                    buffer_m: float) -> Any:  # fmt: skip
    """The annular sector bearing +- half_deg, lo_m..hi_m from the anchor (its chords outside the
    outer arc), buffered by buffer_m metres; lon/lat."""
    half = min(half_deg, 179.0)
    b = bearing + np.linspace(-half, half, ARC_POINTS + 1)
    outer = hi_m / math.cos(math.radians(half / ARC_POINTS))
    olat, olon = destination(anchor.lat, anchor.lon, b, outer)
    if lo_m > 0.0:
        ilat, ilon = destination(anchor.lat, anchor.lon, b[::-1], lo_m)
    else:
        ilat, ilon = np.array([anchor.lat]), np.array([anchor.lon])
    poly = shapely.Polygon(np.column_stack([np.r_[olon, ilon], np.r_[olat, ilat]]))
    if buffer_m <= 0.0:
        return poly
    plane = _Gnomonic(anchor.lon, anchor.lat)
    return plane.geometry(plane.geometry(poly).buffer(buffer_m, quad_segs=16), inverse=True)


def _sector(method: str, anchor: Position, bearing: float, error: float, band_km: tuple[float,
            float], n: int, seed: int | np.random.Generator, inputs: tuple[Report, ...]
            ) -> FiringEstimate:  # fmt: skip
    rng = _rng(n, seed)
    z = rng.standard_normal(n)
    dist = 1000.0 * (band_km[0] + (band_km[1] - band_km[0]) * rng.random(n))
    lat0, lon0 = np.full(n, anchor.lat), np.full(n, anchor.lon)
    if anchor.uncertainty_m > 0:
        off = rng.standard_normal((n, 2)) * anchor.uncertainty_m * SIGMA_PER_R95
        lat0, lon0 = destination(lat0, lon0, np.degrees(np.arctan2(off[:, 0], off[:, 1])),
                                 np.hypot(off[:, 0], off[:, 1]))  # fmt: skip
    lat, lon = destination(lat0, lon0, (bearing + error * z) % 360.0, dist)
    lonlat = np.column_stack([lon, lat])

    def build(s: float) -> Any:
        return _sector_polygon(anchor, bearing, s * Z_LEVEL * error, 1000.0 * band_km[0],
                               1000.0 * band_km[1], s * anchor.uncertainty_m)  # fmt: skip

    region, region_p = _calibrate(build, lon, lat)
    return _estimate(method, lonlat, region, region_p, inputs, seed)


def from_bearing(report: BearingReport, *, n: int = DEFAULT_SAMPLES,
                 seed: int | np.random.Generator = 0, event: Position | None = None
                 ) -> FiringEstimate:  # fmt: skip
    """The firing position from one observer's bearing and distance band: the annular sector.
    With ``event`` (the reported event position), the observer is first checked to be within the
    band's max + ``OBSERVER_SLACK_KM`` of it (``check_observer_distance``)."""
    band = report.band
    if band is None:
        raise _bad("input.missing_band", f"bearing {report.bearing_deg!r} from one observer has "
                   "no distance band", "give distance_min_km and distance_max_km, or "
                   "triangulate with other observers' bearings")  # fmt: skip
    if event is not None:
        check_observer_distance(report.observer, event, band[1])
    return _sector("bearing_band", report.observer, report.bearing_deg, report.error_deg, band, n,
                   seed, (report,))


def from_crater(report: CraterReport, *, n: int = DEFAULT_SAMPLES,
                seed: int | np.random.Generator = 0) -> FiringEstimate:  # fmt: skip
    """The firing position from crater analysis: the sector behind the crater along the
    direction of fire, over the munition's range band."""
    return _sector("crater", report.impact, report.from_bearing_deg, report.error_deg,
                   (report.range_min_km, report.range_max_km), n, seed, (report,))


def _wls(o: NDArray, u: NDArray, w: NDArray) -> NDArray:
    """Stansfield's point: lines (o, u) weighted by w, least squares across them."""
    nrm = np.column_stack([u[:, 1], -u[:, 0]])
    a = (w[:, None, None] * nrm[:, :, None] * nrm[:, None, :]).sum(axis=0)
    return np.linalg.solve(a, (w * (nrm * o).sum(axis=1)) @ nrm)


def _bearing_terms(p: NDArray, o: NDArray, theta: NDArray, sig: NDArray, spos: NDArray
                   ) -> tuple[NDArray, NDArray, NDArray]:  # fmt: skip
    """Residuals (rad), Jacobian of the bearing to p, and the weights, at p."""
    v = p - o
    d2 = np.maximum((v * v).sum(axis=1), 1.0)
    res = (theta - np.arctan2(v[:, 0], v[:, 1]) + np.pi) % (2.0 * np.pi) - np.pi
    jac = np.column_stack([v[:, 1], -v[:, 0]]) / d2[:, None]
    return res, jac, 1.0 / (sig**2 + spos**2 / d2)


def _ml_fix(o: NDArray, u: NDArray, sig: NDArray, spos: NDArray
            ) -> tuple[NDArray, NDArray, float] | None:  # fmt: skip
    """The maximum-likelihood fix, its covariance and chi2; None if it cannot be solved."""
    theta = np.arctan2(u[:, 0], u[:, 1])
    try:
        p = _wls(o, u, 1.0 / sig**2)
        for _ in range(2):
            d2 = np.maximum(((p - o) ** 2).sum(axis=1), 1.0)
            p = _wls(o, u, 1.0 / (d2 * sig**2 + spos**2))
        for _ in range(_GN_STEPS):
            res, jac, w = _bearing_terms(p, o, theta, sig, spos)
            step = np.linalg.solve(jac.T @ (w[:, None] * jac), jac.T @ (w * res))
            cost = float((w * res**2).sum())
            for _ in range(10):  # halve the step until the cost falls
                r2, _, w2 = _bearing_terms(p + step, o, theta, sig, spos)
                if float((w2 * r2**2).sum()) <= cost:
                    break
                step = step / 2.0
            p = p + step
            if float(np.hypot(*step)) < 1e-3:
                break
        res, jac, w = _bearing_terms(p, o, theta, sig, spos)
        cov = np.linalg.inv(jac.T @ (w[:, None] * jac))
    except np.linalg.LinAlgError:
        return None
    ok = np.all(np.isfinite(p)) and np.all(np.isfinite(cov))
    return (p, cov, float((w * res**2).sum())) if ok else None


def _ellipse(p: NDArray, cov: NDArray, radius: float) -> Any:
    """The ellipse of Mahalanobis ``radius`` about p (its polygon outside the curve)."""
    t = np.linspace(0.0, 2.0 * np.pi, 2 * ARC_POINTS, endpoint=False)
    k = radius / math.cos(math.pi / (2 * ARC_POINTS))
    pts = p + k * np.column_stack([np.cos(t), np.sin(t)]) @ np.linalg.cholesky(cov).T
    return shapely.Polygon(pts)


def _band_weight(reps: tuple[BearingReport, ...], lonlat: NDArray) -> NDArray:
    """The probability that every banded observer's true distance to each point is in its band."""
    w = np.ones(lonlat.shape[0])
    for r in reps:
        if r.band is None:
            continue
        d = haversine_m(r.observer.lat, r.observer.lon, lonlat[:, 1], lonlat[:, 0])
        lo, hi = 1000.0 * r.band[0], 1000.0 * r.band[1]
        s = r.observer.uncertainty_m * SIGMA_PER_R95
        w *= ndtr((hi - d) / s) - ndtr((lo - d) / s) if s > 0 else (d >= lo) & (d <= hi)
    return w


def _banded(reps: tuple[BearingReport, ...], plane: _Gnomonic, p: NDArray, cov: NDArray, n: int,
            rng: np.random.Generator) -> tuple[NDArray, Any, float] | None:  # fmt: skip
    """Samples of the fix times the distance bands (by rejection) and their region."""
    chol, kept, have, drawn = np.linalg.cholesky(cov), [], 0, 0
    while have < n and drawn < REJECTION_DRAWS * n:
        xy = p + rng.standard_normal((4 * n, 2)) @ chol.T
        lonlat = np.column_stack(plane.inverse(xy[:, 0], xy[:, 1]))
        keep = rng.random(4 * n) < _band_weight(reps, lonlat)
        kept.append(np.hstack([xy[keep], lonlat[keep]]))
        have, drawn = have + int(keep.sum()), drawn + 4 * n
    if have < n:
        return None
    got = np.vstack(kept)[:n]
    cut = shapely.Polygon()
    for r in reps:
        if r.band is not None:
            two = 2.0 * r.observer.uncertainty_m * SIGMA_PER_R95
            o = shapely.Point(*(float(c) for c in plane.forward(r.observer.lon, r.observer.lat)))
            ring = o.buffer(1000.0 * r.band[1] + two + 1.0, quad_segs=32).difference(
                o.buffer(max(0.0, 1000.0 * r.band[0] - two - 1.0), quad_segs=32))
            cut = ring if cut.is_empty else cut.intersection(ring)
    region, frac = _calibrate(lambda s: _ellipse(p, cov, s * math.sqrt(CHI2_LEVEL))
                              .intersection(cut), got[:, 0], got[:, 1])  # fmt: skip
    return got[:, 2:], plane.geometry(region, inverse=True), frac


def _no_fix_geometry(reps: tuple[BearingReport, ...], u: NDArray) -> NoFix | None:
    """NoFix when no two bearing lines cross clearly (see the module docstring)."""
    ang = np.arctan2(u[:, 0], u[:, 1])
    err = np.array([r.error_deg for r in reps])
    need = np.minimum(np.maximum(MIN_CROSSING_DEG,
                                 CROSSING_SIGMAS * np.hypot(err[:, None], err[None, :])), 90.0)
    crossing = np.abs(np.sin(ang[:, None] - ang[None, :])) >= np.sin(np.radians(need)) - 1e-12
    np.fill_diagonal(crossing, False)
    if crossing.any():
        return None
    return NoFix("no_fix.parallel", "no fix: bearings nearly parallel (no two cross at "
                 f"{MIN_CROSSING_DEG:g} degrees and {CROSSING_SIGMAS:g} times their combined "
                 "error)", reps)  # fmt: skip


def triangulate(reports: Sequence[BearingReport], *, n: int = DEFAULT_SAMPLES,
                seed: int | np.random.Generator = 0) -> FiringEstimate | NoFix:  # fmt: skip
    """The firing position from two or more observers' bearings to one event: the
    maximum-likelihood fix as a bivariate normal, cut by the distance bands given; ``NoFix``
    when the bearings are nearly parallel or do not meet ahead of every observer."""
    reps = tuple(reports)
    if len(reps) < 2:
        raise _bad("input.too_few_bearings", f"{len(reps)} bearing(s) cannot be triangulated",
                   "give two or more observers' bearings, or use from_bearing with a band")
    rng = _rng(n, seed)
    lon = np.array([r.observer.lon for r in reps])
    lat = np.array([r.observer.lat for r in reps])
    bear = np.array([r.bearing_deg for r in reps])
    plane = _Gnomonic(float(lon.mean()), float(lat.mean()))
    o = np.column_stack(plane.forward(lon, lat))
    far = np.column_stack(plane.forward(*destination(lat, lon, bear, 10_000.0)[::-1]))
    u = (far - o) / np.hypot(*(far - o).T)[:, None]
    refused = _no_fix_geometry(reps, u)
    if refused is not None:
        return refused
    sig = np.radians([r.error_deg for r in reps])
    spos = np.array([r.observer.uncertainty_m * SIGMA_PER_R95 for r in reps])
    fix = _ml_fix(o, u, sig, spos)
    if fix is None or np.any(((fix[0] - o) * u).sum(axis=1) <= 0.0):
        return NoFix("no_fix.behind", "no fix: bearings do not intersect ahead of observers",
                     reps)
    p, cov, chi2 = fix
    mlon, mlat = plane.inverse(p[0], p[1])
    normal = BivariateNormal(float(mlon), float(mlat), cov, (plane.lon0, plane.lat0), chi2,
                             len(reps) - 2)
    if any(r.band is not None for r in reps):
        banded = _banded(reps, plane, p, cov, n, rng)
        if banded is None:
            return NoFix("no_fix.bands", "no fix: the distance bands exclude the bearings' fix",
                         reps)
        return _estimate("triangulation", *banded, reps, seed, normal)
    xy = p + rng.standard_normal((n, 2)) @ np.linalg.cholesky(cov).T
    lonlat = np.column_stack(plane.inverse(xy[:, 0], xy[:, 1]))
    region = _ellipse(p, cov, math.sqrt(CHI2_LEVEL))
    frac = float(shapely.contains_xy(region, xy[:, 0], xy[:, 1]).mean())
    return _estimate("triangulation", lonlat, plane.geometry(region, inverse=True), frac, reps,
                     seed, normal)


def p_in_se(estimate: FiringEstimate, geometry: Any) -> tuple[float, float]:
    """(p, standard error): the fraction of the estimate's samples inside ``geometry`` (a shapely
    geometry in lon/lat) and its Monte Carlo standard error sqrt(p (1 - p) / N)."""
    if not isinstance(geometry, shapely.Geometry):
        raise _bad("input.bad_geometry", f"{geometry!r} is not a shapely geometry",
                   "give a shapely geometry in lon/lat (WGS84 degrees)")
    s = estimate.samples
    p = float(np.mean(shapely.contains_xy(geometry, s[:, 0], s[:, 1])))
    return p, math.sqrt(p * (1.0 - p) / s.shape[0])


def p_in(estimate: FiringEstimate, geometry: Any) -> float:
    """The probability that the firing position lies in ``geometry`` (lon/lat)."""
    return p_in_se(estimate, geometry)[0]


def p_side(estimate: FiringEstimate, controlled_area_polygon: Any) -> float:
    """The probability that the fire came from inside a side's controlled area (a polygon or
    multipolygon in lon/lat)."""
    if not isinstance(controlled_area_polygon, shapely.Polygon | shapely.MultiPolygon):
        raise _bad("input.bad_geometry", f"{controlled_area_polygon!r} is not a polygon",
                   "give the side's controlled area as a shapely (Multi)Polygon in lon/lat")
    return p_in(estimate, controlled_area_polygon)


def check_observer_distance(observer: Position, event: Position, max_km: float) -> float:
    """The distance (km) from the observer to the reported event; raises when it exceeds the
    band's ``max_km`` by more than ``OBSERVER_SLACK_KM``."""
    top = _num(max_km)
    if top is None or top < 0.0:
        raise _bad("input.bad_distance", f"distance {max_km!r} km is not a distance",
                   "give distances in kilometres, 0 or more")
    d = float(haversine_m(observer.lat, observer.lon, event.lat, event.lon)) / 1000.0
    if d > top + OBSERVER_SLACK_KM:
        raise _bad("input.observer_too_far", f"observer at ({observer.lat}, {observer.lon}) is "
                   f"{d:.1f} km from the event at ({event.lat}, {event.lon}), beyond the band's "
                   f"{top:g} km + {OBSERVER_SLACK_KM:g} km", "check both positions (latitude "
                   "and longitude swapped?) and the distance band")  # fmt: skip
    return d
