"""Raids: what is launched, from where, at what, and with how much warning.

A raid has a composition (one-way attack drones, decoys, cruise and ballistic missiles), launch
areas with their directions of approach, and targeting that concentrates on target sets (the
capital, energy, ports, front-line cities, other cities) rather than spreading evenly.

- Launch areas (:data:`LAUNCH_AREAS`) are the airfields and regions the Ukrainian Air Force
  named in its 2025 reports (Kursk, Bryansk, Oryol, Shatalovo, Millerovo, Primorsko-Akhtarsk,
  Crimea, the Black and Caspian Seas, bombers over the Volga, MiG-31K over central Russia,
  occupied Donetsk and Zaporizhzhia) and, as a scenario switch, Belarus. Positions are the towns
  in the shipped GeoNames file, or a representative point of a sea or region (marked so).
- Target sets (:data:`TARGET_SETS`) are groups of points with the radius a defended site spans;
  energy takes the shipped protected power and nuclear plants.
- The *defended path* of a threat is the part of its great circle from the launch point to the
  target that lies over government-held Ukraine (shipped borders minus the occupied territory):
  the distance along which barrier defences (mobile fire groups, interceptor drones, fighters)
  can meet it. A raid from Belarus to Kyiv crosses about 90 km of it; one from Crimea to Kyiv
  several hundred.
- Warning time (of ballistic missiles, whose engagement turns on minutes): :func:`warning_minutes`
  asks :mod:`truceguard.plan.isr` (``air_warning_by_class``, else ``air_warning_minutes``) and
  falls back on :data:`DEFAULT_WARNING_MIN`. Without the US feed it is shorter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date as _date
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from truceguard.errors import InputError

if TYPE_CHECKING:
    from truceguard.plan.airdefence import Layer, Outcome
    from truceguard.plan.scenario import ResolvedVariant

CLASSES: tuple[str, ...] = ("drone", "decoy", "cruise", "ballistic")
MAX_PER_CLASS = 10_000


@dataclass(frozen=True)
class LaunchArea:
    """A place raids are launched from; ``region`` is russia, crimea, occupied, sea, belarus."""

    name: str
    lat: float
    lon: float
    region: str
    source: str


_GN = "GeoNames cities1000 (shipped places file)"
LAUNCH_AREAS: dict[str, LaunchArea] = {a.name: a for a in (
    LaunchArea("kursk", 51.74, 36.19, "russia", _GN),
    LaunchArea("bryansk", 53.25, 34.37, "russia", _GN),
    LaunchArea("oryol", 52.97, 36.07, "russia", "Oryol city, approximate"),
    LaunchArea("shatalovo", 54.34, 32.47, "russia", "Shatalovo air base, approximate"),
    LaunchArea("millerovo", 48.92, 40.40, "russia", _GN),
    LaunchArea("primorsko_akhtarsk", 46.05, 38.17, "russia", _GN),
    LaunchArea("belgorod", 50.61, 36.58, "russia", _GN),
    LaunchArea("voronezh", 51.67, 39.18, "russia", _GN),
    LaunchArea("rostov", 47.23, 39.72, "russia", _GN),
    LaunchArea("crimea", 45.10, 34.50, "crimea", "centre of Chauda, Hvardiiske and Kacha, approx."),
    LaunchArea("occupied_donetsk", 48.00, 37.80, "occupied", "Donetsk city, approximate"),
    LaunchArea("occupied_zaporizhzhia", 46.85, 36.00, "occupied", "Prymorsk district, approx."),
    LaunchArea("black_sea", 44.40, 36.50, "sea", "representative point off Novorossiysk"),
    LaunchArea("caspian", 43.50, 48.50, "sea", "representative point of the Caspian Sea"),
    LaunchArea("bombers_volga", 51.50, 46.20, "russia", "Engels air base area, approximate"),
    LaunchArea("bombers_north", 59.20, 39.90, "russia", "Vologda region, approximate"),
    LaunchArea("mig31k_central", 53.50, 40.50, "russia", "Tambov-Ryazan-Lipetsk, approximate"),
    LaunchArea("belarus", 52.05, 29.25, "belarus", f"Mazyr, {_GN}"),
)}

# Launch-area mix per class when a raid does not name its own: the share of 2025 reports that
# named each area for that class (counted in calibrate.launch_mix over the fit window), with
# these figures as the fallback when the data file is absent.
DEFAULT_LAUNCH_MIX: dict[str, dict[str, float]] = {
    "drone": {"primorsko_akhtarsk": 0.18, "kursk": 0.17, "millerovo": 0.16, "oryol": 0.15,
              "bryansk": 0.12, "crimea": 0.13, "shatalovo": 0.06, "occupied_donetsk": 0.03},
    "cruise": {"black_sea": 0.27, "kursk": 0.17, "bombers_volga": 0.18, "crimea": 0.11,
               "caspian": 0.07, "rostov": 0.06, "bryansk": 0.06, "occupied_zaporizhzhia": 0.08},
    "ballistic": {"crimea": 0.2, "kursk": 0.19, "rostov": 0.2, "voronezh": 0.16, "bryansk": 0.15,
                  "mig31k_central": 0.1},
}
DEFAULT_LAUNCH_MIX["decoy"] = DEFAULT_LAUNCH_MIX["drone"]
BELARUS_SHARE: dict[str, float] = {"drone": 0.2, "decoy": 0.2, "cruise": 0.0, "ballistic": 0.2}


@dataclass(frozen=True)
class TargetSet:
    """Points a raid aims at, each defended site spanning ``site_radius_km``."""

    name: str
    points: tuple[tuple[float, float], ...]
    site_radius_km: float
    source: str


def _energy_points() -> tuple[tuple[float, float], ...]:
    from truceguard.plan.sites import protected_sites

    s = protected_sites()
    keep = s.kind != "city"
    return tuple(zip(s.lat[keep].tolist(), s.lon[keep].tolist(), strict=True))


@cache
def target_sets() -> dict[str, TargetSet]:
    """The target sets: capital, energy, ports, front-line cities, other cities."""
    return {t.name: t for t in (
        TargetSet("capital", ((50.45, 30.52),), 20.0, "Kyiv, shipped protected sites"),
        TargetSet("energy", _energy_points(), 3.0, "power and nuclear plants of 1 GW and more, "
                  "shipped protected sites (WRI)"),
        TargetSet("ports", ((46.48, 30.73), (46.97, 32.00), (45.35, 28.84)), 8.0,
                  "Odesa, Mykolaiv (shipped protected sites), Izmayil (GeoNames)"),
        TargetSet("front_cities", ((49.98, 36.25), (47.82, 35.19), (48.45, 34.98),
                                   (50.92, 34.80), (47.91, 33.38)), 12.0,
                  "Kharkiv, Zaporizhzhia, Dnipro, Kryvyi Rih (shipped sites), Sumy (GeoNames)"),
        TargetSet("cities", ((49.84, 24.02), (49.23, 28.48), (49.59, 34.54)), 10.0,
                  "Lviv, Vinnytsia, Poltava, shipped protected sites"),
    )}


TARGET_NAMES: tuple[str, ...] = ("capital", "energy", "ports", "front_cities", "cities")
DEFAULT_TARGETING: dict[str, float] = {"capital": 0.3, "energy": 0.35, "ports": 0.1,
                                       "front_cities": 0.15, "cities": 0.1}
# warning of ballistic missiles (minutes), with and without the US intelligence feed, when the
# ISR model does not give its own: a few minutes at most (Air Force spokesman Ihnat, Censor.net,
# 11 Dec 2023, as the ISR model cites it); launch detection from space adds the boost phase
DEFAULT_WARNING_MIN: dict[bool, tuple[float, float]] = {True: (2.0, 5.0), False: (1.0, 3.0)}


def warning_minutes(us_feed: bool) -> tuple[float, float]:
    """(low, high) minutes of warning of ballistic missiles (the class whose engagement turns
    on minutes), from the ISR model when it provides them (``air_warning_by_class``, else
    ``air_warning_minutes``), else :data:`DEFAULT_WARNING_MIN`."""
    import importlib

    try:
        isr = importlib.import_module("truceguard.plan.isr")
    except ImportError:
        return DEFAULT_WARNING_MIN[bool(us_feed)]
    by_class = getattr(isr, "air_warning_by_class", None)
    if by_class is not None and "ballistic" in by_class(bool(us_feed)):
        w = by_class(bool(us_feed))["ballistic"]
        return float(w.low), float(w.high)
    fn = getattr(isr, "air_warning_minutes", None)
    if fn is None:
        return DEFAULT_WARNING_MIN[bool(us_feed)]
    low, high = fn(bool(us_feed))
    return float(low), float(high)


@cache
def _defended_area() -> Any:
    import shapely

    from truceguard.geo.shipped import countries, occupied_2026

    geom = shapely.difference(countries()["UKR"], occupied_2026())
    shapely.prepare(geom)
    return geom


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from truceguard.geo.sphere import haversine_m

    return float(haversine_m(lat1, lon1, lat2, lon2)) / 1000.0


@cache
def defended_km(area: str, target: str) -> float:
    """Mean km over government-held Ukraine along the great circles from ``area`` to the
    points of ``target`` (64 samples a path)."""
    import shapely

    from truceguard.plan.intercept import path_points

    a = LAUNCH_AREAS[area]
    pts = target_sets()[target].points
    tlat = np.array([p[0] for p in pts])
    tlon = np.array([p[1] for p in pts])
    n = len(pts)
    u, length, _ = path_points(np.full(n, a.lat), np.full(n, a.lon), tlat, tlon, 64)
    lat = np.degrees(np.arcsin(np.clip(u[..., 2], -1, 1)))
    lon = np.degrees(np.arctan2(u[..., 1], u[..., 0]))
    inside = shapely.contains_xy(_defended_area(), lon, lat)
    return float((inside.mean(axis=1) * length).mean())


def approach_bearing(area: str, target: str) -> float:
    """Initial bearing (degrees from north) from the target towards the launch area: the
    direction the threat comes from."""
    t = target_sets()[target].points[0]
    a = LAUNCH_AREAS[area]
    p1, p2 = math.radians(t[0]), math.radians(a.lat)
    dl = math.radians(a.lon - t[1])
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


def compass(bearing: float) -> str:
    return ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int((bearing + 22.5) // 45) % 8]


@dataclass(frozen=True)
class Raid:
    """One raid: counts by class, launch-area mix per class, targeting weights, duration."""

    counts: dict[str, int]
    launch_mix: dict[str, dict[str, float]] = field(default_factory=dict)
    targeting: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TARGETING))
    duration_h: float = 10.0
    salvo_h: dict[str, float] = field(default_factory=lambda: {"cruise": 1.5, "ballistic": 0.5})

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))


def make_raid(drones: int = 0, decoys: int = 0, cruise: int = 0, ballistic: int = 0, *,
              belarus_hostile: bool = False, targeting: Mapping[str, float] | None = None,
              duration_h: float = 10.0) -> Raid:
    """A raid with the default launch areas (Belarus added when hostile); counts checked."""
    counts = {"drone": drones, "decoy": decoys, "cruise": cruise, "ballistic": ballistic}
    for name, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not (
                0 <= n <= MAX_PER_CLASS):
            raise InputError(f"{name} count {n!r} is not a whole number from 0 to "
                             f"{MAX_PER_CLASS:,}", hint="give counts such as --drones 400",
                             code="input.bad_raid")
    if sum(counts.values()) == 0:
        raise InputError("the raid launches nothing (every count is 0)",
                         hint="give at least one of --drones, --decoys, --cruise, --ballistic",
                         code="input.bad_raid")
    weights = dict(targeting or DEFAULT_TARGETING)
    bad = [k for k in weights if k not in TARGET_NAMES]
    if bad or sum(weights.values()) <= 0 or min(weights.values()) < 0:
        raise InputError(f"targeting weights {weights!r} are not usable",
                         hint=f"non-negative weights on {', '.join(TARGET_NAMES)}",
                         code="input.bad_raid")
    return Raid({k: int(v) for k, v in counts.items()}, launch_mix(belarus_hostile), weights,
                duration_h)


def launch_mix(belarus_hostile: bool, base: Mapping[str, Mapping[str, float]] | None = None
               ) -> dict[str, dict[str, float]]:
    """Launch-area shares per class; Belarus takes :data:`BELARUS_SHARE` when hostile."""
    src = base or _data_launch_mix()
    out = {}
    for cls in CLASSES:
        mix = dict(src.get(cls) or DEFAULT_LAUNCH_MIX[cls])
        total = sum(mix.values())
        mix = {k: v / total for k, v in mix.items()}
        if belarus_hostile and BELARUS_SHARE[cls] > 0:
            mix = {k: v * (1 - BELARUS_SHARE[cls]) for k, v in mix.items()}
            mix["belarus"] = BELARUS_SHARE[cls]
        out[cls] = mix
    return out


@cache
def _data_launch_mix() -> dict[str, dict[str, float]]:
    try:
        from truceguard.plan.calibrate import launch_mix_2025
    except ImportError:  # pragma: no cover - calibrate ships with the package
        return DEFAULT_LAUNCH_MIX
    return launch_mix_2025()


@dataclass(frozen=True)
class RaidDraws:
    """``R`` replications of one raid, threats in arrival order along axis 1."""

    cls: NDArray  # (R, T) int8 index into CLASSES
    target: NDArray  # (R, T) int8 index into TARGET_NAMES
    path_km: NDArray  # (R, T) defended km
    hour: NDArray  # (R, T) arrival hour within the raid
    warning_min: NDArray  # (R,) warning of this replication


def _cdf(weights: tuple[float, ...]) -> NDArray:
    """The cumulative distribution ``rng.choice`` builds from ``p = weights / sum``."""
    w = np.array(weights, dtype=float)
    p = w / w.sum()
    if not (np.isfinite(p).all() and (p >= 0).all()):
        raise ValueError(f"probabilities {p!r} are not non-negative and finite")
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return cdf


@dataclass(frozen=True)
class _Tables:
    """What :func:`draw_raid` needs of a raid besides the random numbers: per class drawn
    (index, count, launch areas' and target sets' cumulative distributions, first number of
    its (area, target set) pairs, arrival window), and per pair its class, target set and
    defended km."""

    classes: tuple[tuple[int, int, NDArray, NDArray, int, float, float], ...]
    cls: NDArray
    target: NDArray
    km: NDArray


@lru_cache(maxsize=256)
def _tables(counts: tuple[int, ...], mixes: tuple[tuple[tuple[str, float], ...], ...],
            targeting: tuple[float, ...], windows: tuple[tuple[float, float], ...]) -> _Tables:
    nt = len(TARGET_NAMES)
    tcdf = _cdf(targeting)
    classes, cls_l, km_l = [], [], []
    base = 0
    for ci, (n, mix, window) in enumerate(zip(counts, mixes, windows, strict=True)):
        if n == 0:
            continue
        areas = tuple(a for a, _ in mix)
        classes.append((ci, n, _cdf(tuple(w for _, w in mix)), tcdf, base, *window))
        km_l.append(np.array([[defended_km(a, t) for t in TARGET_NAMES] for a in areas]))
        cls_l.append(np.full(len(areas) * nt, ci, dtype=np.int8))
        base += len(areas) * nt
    if not classes:
        raise ValueError("the raid launches nothing")
    return _Tables(tuple(classes), np.concatenate(cls_l),
                   np.tile(np.arange(nt, dtype=np.int8), base // nt),
                   np.concatenate([k.reshape(-1) for k in km_l]))


def _pick(rng: np.random.Generator, cdf: NDArray, shape: tuple[int, int]) -> NDArray:
    """Indices drawn from the cumulative distribution ``cdf``: what ``rng.choice`` returns for
    the same probabilities (one uniform a draw; the index is the number of steps at or below
    it), counted with one comparison per step rather than a search per draw."""
    u = rng.random(shape)
    out = np.zeros(shape, dtype=np.int16)
    for step in cdf[:-1]:  # the last step is 1, above every draw
        out += u >= step
    return out


def _time_order(hour: NDArray) -> tuple[NDArray, NDArray]:
    """Flat indices that put each row of ``hour`` in time order, ties in column order (what a
    stable argsort along axis 1 gives), and the hours in that order. First a counting sort
    into 65,536 equal steps of time, then a stable sort of the hours, which are then nearly in
    order; hours that are equal share a step, so ties keep their column order."""
    r, t = hour.shape
    rows = (np.arange(r) * t)[:, None]
    if hour.size == 0:
        return np.zeros(0, dtype=np.intp), hour.copy()
    lo, hi = float(hour.min()), float(hour.max())
    span = hi - lo
    scale = 65536.0 * (1.0 - 2.0 ** -40) / span if span > 0 else 0.0  # below 65,536
    first = np.argsort(((hour - lo) * scale).astype(np.uint16), axis=1, kind="stable")
    first += rows
    flat = first.reshape(-1)
    near = hour.reshape(-1)[flat]
    then = np.argsort(near.reshape(r, t), axis=1, kind="stable")
    then += rows
    then = then.reshape(-1)
    return flat[then], near[then].reshape(r, t)


def draw_raid(raid: Raid, replications: int, rng: np.random.Generator,
              warning: tuple[float, float]) -> RaidDraws:
    """Sample targets, launch areas, arrival times and warning, replication by replication.

    Per class in :data:`CLASSES` order: a launch area per threat, a target set per threat
    (each as ``rng.choice`` with the raid's weights would), an arrival hour per threat
    (uniform over the raid, or over the salvo at its end); then the warning per replication.
    Threats are then put in time order."""
    r = replications
    nt = len(TARGET_NAMES)
    mixes, windows = [], []
    for cls in CLASSES:
        mix = raid.launch_mix.get(cls) or (launch_mix(False)[cls] if raid.counts.get(cls, 0)
                                           else {})
        mixes.append(tuple(mix.items()))
        salvo = raid.salvo_h.get(cls)
        windows.append((0.0 if salvo is None else max(0.0, raid.duration_h - salvo),
                        raid.duration_h))
    tab = _tables(tuple(raid.counts.get(c, 0) for c in CLASSES), tuple(mixes),
                  tuple(raid.targeting.get(n, 0.0) for n in TARGET_NAMES), tuple(windows))
    code_l, hr_l = [], []
    for _, n, area_cdf, target_cdf, base, start, end in tab.classes:
        code = _pick(rng, area_cdf, (r, n))
        code *= nt
        code += _pick(rng, target_cdf, (r, n))
        code += base  # the (area, target set) pair, numbered over all classes
        code_l.append(code)
        hr_l.append(rng.uniform(start, end, size=(r, n)))
    hour = np.concatenate(hr_l, axis=1)
    t = hour.shape[1]
    order, hour = _time_order(hour)
    code = np.concatenate(code_l, axis=1).reshape(-1)[order]
    return RaidDraws(tab.cls[code].reshape(r, t), tab.target[code].reshape(r, t),
                     tab.km[code].reshape(r, t), hour,
                     rng.uniform(warning[0], warning[1], size=r))


def approaches(raid: Raid) -> list[dict[str, Any]]:
    """Per launch area in the raid: its region, share per class and the compass direction it
    comes from towards each target set."""
    out = []
    areas = sorted({a for mix in raid.launch_mix.values() for a in mix})
    for a in areas:
        la = LAUNCH_AREAS[a]
        out.append({"area": a, "region": la.region,
                    "share": {c: round(raid.launch_mix.get(c, {}).get(a, 0.0), 3)
                              for c in CLASSES if raid.counts.get(c)},
                    "from": {t: compass(approach_bearing(a, t)) for t in TARGET_NAMES},
                    "defended_km": {t: round(defended_km(a, t)) for t in TARGET_NAMES}})
    return out


# --- predicting a raid, and a campaign of raids ----------------------------------------------

MODEL_DATES = ("2025-01-01", "2027-12-31")  # Ukraine's layer is calibrated on 2025


@dataclass(frozen=True)
class Setting:
    """Everything a prediction needs besides the raid: the layers and the warning."""

    layers: tuple[Layer, ...]  # Ukraine's first
    warning: tuple[float, float]
    belarus_hostile: bool
    targeting: dict[str, float]
    notes: tuple[str, ...]


def setting(scenario: str | None = None, variant: str | None = None, date: str | None = None,
            belarus_hostile: bool | None = None) -> Setting:
    """The layers in force on ``date`` for a scenario's variant: Ukraine's calibrated layer
    always; the coalition's and the US's from the date the scenario takes effect."""
    from truceguard.plan.scenario import DEFAULT_SCENARIO, load_scenario, resolve_variant

    try:
        day = _date.fromisoformat(date) if date else None
    except ValueError:
        raise InputError(f"date {date!r} is not YYYY-MM-DD", hint="e.g. --date 2026-03-01",
                         code="input.bad_date") from None
    if day is not None and not (MODEL_DATES[0] <= day.isoformat() <= MODEL_DATES[1]):
        raise InputError(f"date {date} is outside the model ({MODEL_DATES[0]} to "
                         f"{MODEL_DATES[1]}): Ukraine's layer is calibrated on the raids of 2025",
                         hint=f"give a date from {MODEL_DATES[0]} to {MODEL_DATES[1]}",
                         code="input.bad_date")
    scen = load_scenario(scenario or DEFAULT_SCENARIO)
    return setting_for(resolve_variant(scen, variant or scen.baseline), day, belarus_hostile)


def setting_for(rv: ResolvedVariant, day: _date | None = None,
                belarus_hostile: bool | None = None) -> Setting:
    """:func:`setting` for a variant already resolved (what a plan run holds)."""
    from truceguard.plan.airdefence import parse_air_defence, pledged_layers
    from truceguard.plan.calibrate import US_PAUSE, load_calibration, ukraine_layer

    scen = rv.scenario
    spec = parse_air_defence(scen.doc, scen.path)
    notes = [f"Ukraine's layer: fitted on {load_calibration().raids} raids of 2025 "
             f"({load_calibration().data})"]
    layers: list[Layer] = [ukraine_layer(load_calibration().best)]
    effective = scen.effective or MODEL_DATES[0]
    if day is None or day.isoformat() >= effective:
        layers += pledged_layers(rv, spec)
    else:
        notes.append(f"{day} is before the scenario takes effect ({effective}): Ukraine alone")
    us_feed = bool(rv.conditions.get("us_isr", True))
    if day is not None and US_PAUSE[0].date() <= day <= US_PAUSE[1].date():
        us_feed = False
        notes.append("US intelligence sharing paused 5-12 March 2025")
    hostile = ("BLR" in scen.hostile[0] or rv.name in spec.belarus_hostile_variants
               if belarus_hostile is None else belarus_hostile)
    return Setting(tuple(layers), warning_minutes(us_feed), bool(hostile),
                   dict(spec.targeting or DEFAULT_TARGETING), tuple(notes))


SIMULATE_CHUNK = 200_000  # threats x replications engaged at once by simulate()


def simulate(raid: Raid, st: Setting, replications: int = 400, seed: int = 1,
             draws_per_fit: int = 10) -> list[Outcome]:
    """Replications of one raid, the calibration's bootstrap draws spread over them (each
    block of ``draws_per_fit`` replications uses one fitted parameter set); an outcome a
    block. Blocks are drawn and engaged together, about :data:`SIMULATE_CHUNK` threats x
    replications at a time, each against its own layers."""
    from truceguard.plan.airdefence import engage_blocks, full_stocks
    from truceguard.plan.calibrate import load_calibration, ukraine_layer

    cal = load_calibration()
    rng = np.random.default_rng(seed)
    blocks = max(1, replications // draws_per_fit)
    sizes = [draws_per_fit if k < blocks - 1 else replications - draws_per_fit * k
             for k in range(blocks)]
    per_call = max(1, SIMULATE_CHUNK // max(1, raid.total * draws_per_fit))
    outs: list[Outcome] = []
    ukraine: dict[int, Layer] = {}  # per bootstrap draw: the layers are the same each time
    for first in range(0, blocks, per_call):
        chunk = []
        for k in range(first, min(blocks, first + per_call)):
            j = k % len(cal.draws)
            if j not in ukraine:
                ukraine[j] = ukraine_layer(cal.draws[j])
            chunk.append((sizes[k], [ukraine[j], *st.layers[1:]]))
        rows = sum(n for n, _ in chunk)
        d = draw_raid(raid, rows, rng, st.warning)
        stocks: dict[str, dict[str, NDArray]] = {}
        for n, layers in chunk:
            for lay, kinds in full_stocks(layers, n).items():
                for kind, v in kinds.items():
                    have = stocks.setdefault(lay, {}).get(kind)
                    stocks[lay][kind] = v if have is None else np.concatenate([have, v])
        o = engage_blocks(d, chunk, stocks, raid.duration_h, rng)
        at = 0
        for n, _ in chunk:
            outs.append(_rows(o, at, at + n))
            at += n
    return outs


def _rows(o: Outcome, a: int, b: int) -> Outcome:
    """Replications ``a`` to ``b`` of an outcome."""
    from truceguard.plan.airdefence import Outcome

    def cut(x: dict[str, NDArray]) -> dict[str, NDArray]:
        return {k: v[a:b] for k, v in x.items()}

    return Outcome(cut(o.launched), cut(o.destroyed), cut(o.suppressed), cut(o.leaked),
                   cut(o.by_group), {lay: cut(f) for lay, f in o.fired.items()})


def _pooled(outs: list[Outcome], attr: str) -> dict[str, NDArray]:
    keys = sorted({k for o in outs for k in getattr(o, attr)})
    return {k: np.concatenate([getattr(o, attr).get(k, np.zeros(len(o.launched["drone"])))
                               for o in outs]) for k in keys}


def _total(parts: dict[str, NDArray]) -> NDArray:
    return np.asarray(np.sum(np.stack(list(parts.values())), axis=0), dtype=float)


def summarise(outs: list[Outcome], level: float = 0.90) -> dict[str, Any]:
    """The answer ``truceguard raid`` gives: the share defeated (median and the central
    ``level`` interval over parameter draws and replications), means by class, layer and
    interceptor type."""
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    launched, destroyed = _pooled(outs, "launched"), _pooled(outs, "destroyed")
    suppressed, leaked = _pooled(outs, "suppressed"), _pooled(outs, "leaked")
    share = (_total(destroyed) + _total(suppressed)) / np.maximum(_total(launched), 1)
    by_group = _pooled(outs, "by_group")
    layers: dict[str, dict[str, Any]] = {}
    for lab, v in by_group.items():
        lay, grp = lab.split(":", 1)
        entry = layers.setdefault(lay, {"destroyed": 0.0, "groups": {}})
        entry["destroyed"] += float(v.mean())
        entry["groups"][grp] = round(float(v.mean()), 2)
    if "ukraine" in layers:
        layers["ukraine"]["suppressed"] = round(float(_total(suppressed).mean()), 2)
    used: dict[str, dict[str, float]] = {}
    for o in outs:
        for lay, kinds in o.fired.items():
            for k, v in kinds.items():
                used.setdefault(lay, {})
                used[lay][k] = used[lay].get(k, 0.0) + float(v.sum())
    reps = len(share)
    return {
        "defeated_share": {"value": round(float(np.median(share)), 4),
                           "mean": round(float(share.mean()), 4),
                           "low": round(float(np.quantile(share, lo_q)), 4),
                           "high": round(float(np.quantile(share, hi_q)), 4),
                           "interval": f"{level:.0%} of replications over the calibration's "
                                       "bootstrap draws"},
        "by_class": {c: {"launched": round(float(launched[c].mean()), 2),
                         "destroyed": round(float(destroyed[c].mean()), 2),
                         "suppressed": round(float(suppressed[c].mean()), 2),
                         "leaked": round(float(leaked[c].mean()), 2)}
                     for c in CLASSES if launched[c].max() > 0},
        "layers": {k: {**v, "destroyed": round(float(v["destroyed"]), 2)}
                   for k, v in layers.items()},
        "interceptors_used": {lay: {k: round(v / reps, 2) for k, v in kinds.items()}
                              for lay, kinds in used.items()},
        "replications": reps,
    }


def campaign(raid: Raid, st: Setting, raids: int, days_between: float = 1.0,
             replications: int = 100, seed: int = 1) -> list[float]:
    """Mean share defeated in each of ``raids`` raids, ``days_between`` apart: magazines
    carry over with their resupply (the best fit's parameters)."""
    from truceguard.plan.airdefence import engage, full_stocks, resupply
    from truceguard.plan.calibrate import load_calibration, ukraine_layer

    layers = [ukraine_layer(load_calibration().best), *st.layers[1:]]
    rng = np.random.default_rng(seed)
    stocks = full_stocks(layers, replications)
    out = []
    for i in range(raids):
        if i:
            resupply(layers, stocks, days_between)
        d = draw_raid(raid, replications, rng, st.warning)
        o = engage(d, layers, stocks, raid.duration_h, rng)
        out.append(float(o.defeated_share().mean()))
    return out
