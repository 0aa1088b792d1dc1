"""Location text the way ceasefire monitors write it, never more precise than the position.

OSCE SMM reports place an event relative to a settlement and say who controls the area:
"4 km south-east of Svetlodarsk (government-controlled)". Here the settlement is the nearest
one in the shipped GeoNames list (places of 1,000 people or more, spelt as GeoNames spells
them), the distance is rounded to whole kilometres, the direction is one of the eight compass
points from the settlement to the event, and the control label comes from the terms' side
polygon and side labels.

With the position's 95% radius (``uncertainty_m``) the text says no more than the position
supports (thresholds in ``grading.yaml``, ``location``): up to ``precise_max_m`` the distance
and direction, "4 km south-east of Svetlodarsk (±1 km, government-controlled)"; up to
``near_max_m`` the nearest settlement, "near Horlivka (±5 km, ...)"; beyond, the oblast
(shipped geoBoundaries ADM1) that holds the reported position, "in Luhansk oblast (±150 km,
...)", or the nearest settlement outside Ukraine. The radius is rounded up. Where the
controlling side's probability (``p_side``) is below ``side_certain_p`` the text gives it:
"(±25 km, government-controlled p 0.70)".

A position its source gave only to a unit (``precision_region``: UCDP ``where_prec`` 3 to 6,
ACLED ``geo_precision`` 3) sits at the unit's stand-in point; its text names the unit ("in
Donetsk oblast"), never the settlement nearest the stand-in point, and gives no radius (the
unit is the uncertainty). The side written is the more probable one (``side``, from the
adjudication); below ``side_certain_p`` with its probability: "likely non-government-
controlled, p 0.62".

The nearest-settlement search is a k-d tree over points on the unit sphere (chord distance
orders places exactly as great-circle distance does), so it needs no projection and works for
thousands of events at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from truceguard.errors import InputError
from truceguard.geo.shipped import oblasts, ordlo_polygon, places, ukraine
from truceguard.geo.sphere import COMPASS_8, bearing_deg, haversine_m
from truceguard.judge.grading import LocationRules, shipped_location_rules
from truceguard.judge.terms import Terms
from truceguard.model import CATEGORIES

if TYPE_CHECKING:
    from truceguard.store.base import Store

# A view whose uncertainty is below this is judged by its circle; only wider ones are looked up
# for a region (every unit-level precision code gives a wider radius).
REGION_MIN_M = 25_000.0
# UCDP where_prec 5 areas by words of where_description: (key, name, oblasts, side polygon
# only). "Donets Basin Area": the Donbas, the Donetsk and Luhansk oblasts; "DPR/LPR controlled
# territory": the areas outside government control in that oblast.
NAMED_AREAS: tuple[tuple[str, str, str, tuple[str, ...], bool], ...] = (
    ("donets basin", "donbas", "the Donbas (Donetsk and Luhansk oblasts)",
     ("Donetsk Oblast", "Luhansk Oblast"), False),
    ("dpr controlled", "dpr", "non-government-controlled Donetsk oblast", ("Donetsk Oblast",),
     True),
    ("lpr controlled", "lpr", "non-government-controlled Luhansk oblast", ("Luhansk Oblast",),
     True),
)  # fmt: skip


@dataclass(frozen=True)
class PlaceRegion:
    """The unit a source placed an event in: ``key`` identifies it, ``name`` is written ("in
    Donetsk oblast"), ``polygon`` (lon/lat) is where the event may lie."""

    key: str
    name: str
    polygon: Any = field(compare=False, hash=False, repr=False)


@cache
def _oblast_region(name: str) -> PlaceRegion:
    code, shape_name, geom = next(o for o in oblasts() if o[1] == name)
    return PlaceRegion(code, shape_name.replace(" Oblast", " oblast"), geom)


@cache
def _named_region(key: str) -> PlaceRegion:
    if key == "UKR":
        return PlaceRegion("UKR", "Ukraine", ukraine())
    _, k, name, units, occupied = next(a for a in NAMED_AREAS if a[1] == key)
    geom = shapely.union_all([_oblast_region(u).polygon for u in units])
    if occupied:
        geom = shapely.intersection(geom, ordlo_polygon())
    return PlaceRegion(k, name, geom)


def _oblast_at(lon: float, lat: float) -> PlaceRegion | None:
    tree, _ = _oblast_index()
    hit = tree.query(shapely.points(lon, lat), predicate="within")
    if hit.size == 0:
        return None
    return _oblast_region(oblasts()[int(hit[0])][1])


def precision_region(source: str, attributes: Mapping[str, object], lon: float, lat: float,
                     text: str = "") -> PlaceRegion | None:  # fmt: skip
    """The polygon an event's precision code stands for, None where it stands for a circle.

    UCDP GED ``where_prec`` (codebook): 3, a second-order unit, and 4, a first-order unit,
    at the unit's centroid: the oblast that holds the stand-in point (the raion's own
    boundary is not shipped, so its oblast bounds it); 5, a part of the country larger than
    a first-order unit or a place given only relative to others: the named area
    (``NAMED_AREAS``) where ``where_description`` names one, else the circle; 6, the country:
    Ukraine; 7 (waters, airspace): the circle. ACLED ``geo_precision`` 3 (a larger region,
    coded to its capital or centre): the oblast that holds the point."""
    if source == "UCDP GED":
        code = attributes.get("where_prec")
        if code in (3, 4):
            return _oblast_at(lon, lat)
        if code == 5:
            low = text.lower()
            for words, key, *_ in NAMED_AREAS:
                if words in low:
                    return _named_region(key)
            return None
        if code == 6:
            return _named_region("UKR")
        return None
    if source == "ACLED" and attributes.get("geo_precision") == 3:
        return _oblast_at(lon, lat)
    return None


def view_regions(store: Store, v: Mapping[str, Any]) -> list[PlaceRegion | None]:
    """Per view of ``v`` (``store.view_arrays``): the region all its reports were placed in
    by their sources (``precision_region``), None where any report gives a position (the
    fused position then rests on it) or none is wider than ``REGION_MIN_M``."""
    n = int(v["incident_id"].size)
    out: list[PlaceRegion | None] = [None] * n
    wide = np.flatnonzero(np.asarray(v["uncertainty_m"], float) > REGION_MIN_M)
    if wide.size == 0:
        return out
    parents = sorted({int(v["parent_id"][i]) for i in wide})
    by_parent: dict[int, list[tuple[int, Any]]] = {}
    for mid, obs in store.evidence_observations(parents, CATEGORIES):
        by_parent.setdefault(int(obs.incident_id or 0), []).append((mid, obs))
    for i in wide.tolist():
        sig = {int(m) for m in str(v["sig"][i]).split(",")}
        part = {int(m) for m in str(v["members"][i]).split(",") if m}
        mine = [o for mid, o in by_parent.get(int(v["parent_id"][i]), [])
                if mid in sig and (not part or o.obs_id in part)]  # fmt: skip
        found = {precision_region(o.source, o.attributes, o.lon, o.lat, o.text) for o in mine}
        if len(found) == 1:
            out[i] = found.pop()
    return out


@dataclass(frozen=True, eq=False)
class PlaceIndex:
    """Settlements (parallel arrays) with a k-d tree over their unit-sphere positions."""

    name: NDArray[Any]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    tree: cKDTree


def _unit_xyz(lon: NDArray, lat: NDArray) -> NDArray[np.float64]:
    lo = np.radians(lon)
    la = np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@lru_cache(maxsize=8)
def place_index(country: str | None = "UA") -> PlaceIndex:
    """The shipped settlements of one country (ISO alpha-2; None for all) with their tree."""
    p = places()
    keep = np.ones(p.name.size, bool) if country is None else p.cc == country
    if not keep.any():
        raise InputError(f"no shipped places for country {country!r}")
    lon = p.lon[keep].astype(float)
    lat = p.lat[keep].astype(float)
    return PlaceIndex(name=p.name[keep], lat=lat, lon=lon, tree=cKDTree(_unit_xyz(lon, lat)))


@dataclass(frozen=True)
class NearestPlaces:
    """For each point: the nearest settlement's name, its distance, and the direction."""

    name: NDArray[Any]
    distance_m: NDArray[np.float64]
    bearing_deg: NDArray[np.float64]  # from the settlement to the point, clockwise from north

    @property
    def compass(self) -> NDArray[Any]:
        """The eight-point compass direction ("south-east") from settlement to point."""
        k = (((self.bearing_deg % 360.0) + 22.5) // 45.0).astype(np.int64) % 8
        return np.array(COMPASS_8, dtype=object)[k]


def nearest_places(lon: ArrayLike, lat: ArrayLike, *, country: str | None = "UA") -> NearestPlaces:
    """The nearest shipped settlement to every point (WGS84 degrees)."""
    lo = np.atleast_1d(np.asarray(lon, dtype=float))
    la = np.atleast_1d(np.asarray(lat, dtype=float))
    if lo.shape != la.shape:
        raise InputError("lon and lat differ in length")
    if not (np.isfinite(lo).all() and np.isfinite(la).all()):
        raise InputError("positions must be finite numbers")
    idx = place_index(country)
    _, k = idx.tree.query(_unit_xyz(lo, la))
    plat = idx.lat[k]
    plon = idx.lon[k]
    return NearestPlaces(
        name=idx.name[k],
        distance_m=haversine_m(plat, plon, la, lo),
        bearing_deg=bearing_deg(plat, plon, la, lo),
    )


def control_labels(terms: Terms, lon: ArrayLike, lat: ArrayLike) -> NDArray[Any]:
    """Who controls each point, as the terms label the sides ("government-controlled")."""
    poly = terms.side_polygon
    shapely.prepare(poly)
    inside = shapely.contains_xy(poly, np.asarray(lon, float), np.asarray(lat, float))
    labels = np.array([terms.sides[0].label, terms.sides[1].label], dtype=object)
    return labels[np.atleast_1d(inside).astype(np.int64)]


@lru_cache(maxsize=1)
def _oblast_index() -> tuple[shapely.STRtree, NDArray[Any]]:
    names = [name.replace(" Oblast", " oblast") for _, name, _ in oblasts()]
    return shapely.STRtree([g for _, _, g in oblasts()]), np.array(names, dtype=object)


def oblast_names(lon: ArrayLike, lat: ArrayLike) -> NDArray[Any]:
    """The Ukrainian oblast (geoBoundaries ADM1, "Luhansk oblast") holding each point; None
    outside Ukraine."""
    tree, names = _oblast_index()
    pts = shapely.points(np.atleast_1d(np.asarray(lon, float)),
                         np.atleast_1d(np.asarray(lat, float)))  # fmt: skip
    out = np.full(pts.size, None, dtype=object)
    where, which = tree.query(pts, predicate="within")
    out[where] = names[which]
    return out


def radius_text(uncertainty_m: ArrayLike) -> list[str]:
    """A 95% radius rounded up to what can be said: "±300 m", "±2 km", "±25 km", "±150 km"."""
    r = np.atleast_1d(np.asarray(uncertainty_m, dtype=float)) * (1.0 - 1e-9)
    metres = np.ceil(r / 100.0) * 100.0
    km = np.where(r < 10_000, np.ceil(r / 1000.0), np.where(r < 100_000, np.ceil(r / 5000.0) * 5,
                                                               np.ceil(r / 10_000.0) * 10))
    return [f"±{m:.0f} m" if m < 1000 else f"±{k:.0f} km"
            for m, k in zip(metres, km, strict=True)]  # fmt: skip


def describe_locations(
    lon: ArrayLike,
    lat: ArrayLike,
    terms: Terms | None = None,
    *,
    uncertainty_m: ArrayLike | None = None,
    p_side: ArrayLike | None = None,
    rules: LocationRules | None = None,
    country: str | None = "UA",
    regions: Sequence[PlaceRegion | None] | None = None,
    side: ArrayLike | None = None,
) -> list[str]:
    """Monitors' location text for every point (see the module docstring). Without
    ``uncertainty_m`` the position is taken as exact and no radius is written; without terms
    the control label is left out; ``side`` is the side written (0/1, the more probable one
    from the adjudication; default: the reported position's), ``p_side`` its probability;
    ``regions`` the unit each point was placed in by its source, or None."""
    rules = rules or shipped_location_rules()
    near = nearest_places(lon, lat, country=country)
    n = near.name.size
    km = np.rint(near.distance_m / 1000.0).astype(np.int64)
    compass = near.compass
    exact = uncertainty_m is None
    unc = np.zeros(n) if exact else np.broadcast_to(np.asarray(uncertainty_m, float), (n,))
    if not exact and not (np.isfinite(unc).all() and (unc >= 0).all()):
        raise InputError("uncertainty_m must be finite numbers >= 0", code="input.bad_uncertainty")
    radius = [""] * n if exact else radius_text(unc)
    wide = unc > rules.near_max_m
    oblast = np.full(n, None, dtype=object)
    if wide.any():
        oblast[wide] = oblast_names(np.atleast_1d(lon)[wide], np.atleast_1d(lat)[wide])
    labels = [""] * n
    if terms is not None:
        if side is None:
            labels = list(control_labels(terms, np.atleast_1d(lon), np.atleast_1d(lat)))
        else:
            names = np.array([s_.label for s_ in terms.sides], dtype=object)
            labels = list(names[np.broadcast_to(np.asarray(side, np.intp), (n,))])
        if p_side is not None:
            ps = np.broadcast_to(np.asarray(p_side, float), (n,))
            labels = [lab if p >= rules.side_certain_p else f"likely {lab}, p {p:.2f}"
                      for lab, p in zip(labels, ps, strict=True)]  # fmt: skip
    reg = list(regions) if regions is not None else [None] * n
    out = []
    for i in range(n):  # formatting text, one string per point: not a hot loop
        unit = reg[i]
        if unit is not None:
            out.append(f"in {unit.name} ({labels[i]})" if labels[i] else f"in {unit.name}")
            continue
        if unc[i] <= rules.precise_max_m:
            where = (f"in {near.name[i]}" if km[i] == 0
                     else f"{km[i]} km {compass[i]} of {near.name[i]}")  # fmt: skip
        elif unc[i] <= rules.near_max_m or oblast[i] is None:
            where = f"near {near.name[i]}"
        else:
            where = f"in {oblast[i]}"
        extra = ", ".join(x for x in (radius[i], labels[i]) if x)
        out.append(f"{where} ({extra})" if extra else where)
    return out


def describe_location(lon: float, lat: float, terms: Terms | None = None,
                      uncertainty_m: float | None = None) -> str:  # fmt: skip
    """:func:`describe_locations` for one point."""
    return describe_locations([lon], [lat], terms, uncertainty_m=uncertainty_m)[0]
