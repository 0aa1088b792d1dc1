"""The register: weapons seen where the terms forbid them, re-sightings linked, storage sites
checked.

It is built from the monitors' sightings a viewer may see (``Observation.report`` of kind
``sighting``), so every entry, every count and every marking is computed from that view alone
(``releasability``: the most restrictive marking of the sightings behind a row).

What enters. A sighting places ``count`` weapons of its ``weapon_type`` (or, without a type, of
its weapon class) at its position, unless it is a storage-site check that found them
``absent`` or ``never_verified`` (those say where weapons are *not* known to be; they go to the
storage table only). It enters the register when the terms forbid that weapon there and then:
some withdrawal zone withdraws its class, the zone's clause binds at the sighting's start time
(from its effective date plus phase-in, until its end) and binds the side it stands on (the
clause's ``parties``), and the probability that its true position lies in the zone
(``p_location``, ``judge.location``: exact positions give 0 or 1) reaches ``min_p`` (default:
the reporting threshold of ``grading.yaml``, as for violations).
Its zone is the innermost of those: the one of least extent around the point (a band zone's
depth on the point's side, a settlements zone's radius, a polygon's equal-area radius; ties to
the first listed). Its side is the side whose territory its reported position lies in, with
``p_side`` the probability that side controls its true position (1 for an exact position).

Linking. Two registered sightings are the same system when they name the same weapon type (the
class, when neither names a type), lie on the same side, stand within ``link_m`` (default 2 km)
widened by both positions' 95% radii (each capped at ``max_link_uncertainty_m``, 0 when
unknown), and their time windows are at most ``gap_s`` apart (default 7 days). Systems are the
connected groups of that relation (chained: a tank seen each day for a month, moving a little
each day, is one system). ``system_id`` is ``S`` and the observation id of the system's first
sighting.

Counting. A sighting of N weapons is N weapons; a re-sighting is not N more. An entry's count is
the largest count any one of its sightings gives: linked sightings (re-sightings on later days,
or two patrols reporting the same group at one time) are the same weapons, never summed. Two
groups seen at once closer than the link distance count as the larger of them: the register
never counts a weapon twice, at the cost of undercounting groups that stand together.

Storage sites. Sightings that name a ``storage_site`` and a ``storage_present`` state are
checks of that site. A check is the site's sightings of one UTC day; its state is ``absent``
when any of them reports weapons absent (missing from the site), else ``never_verified`` when
any says so, else ``present``. Each site's row gives its last check's state, weapon types and
count, its first and last check, the last check that found weapons present, and the side its
position lies on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from truceguard.errors import InputError
from truceguard.judge.grading import report_threshold
from truceguard.judge.location import locate, place
from truceguard.judge.terms import Terms
from truceguard.marking import most_restrictive
from truceguard.model import Observation, iso

DAY_S = 86_400
DEFAULT_LINK_M = 2_000.0
DEFAULT_GAP_S = 7.0 * DAY_S
# A check's state when its sightings differ: the first of these that any of them reports.
STATE_ORDER: tuple[str, ...] = ("absent", "never_verified", "present")
# Storage states that do not place weapons at the sighting's position.
NOT_SEEN_STATES = frozenset({"absent", "never_verified"})


@dataclass(frozen=True, slots=True)
class RegisterParams:
    """How sightings are linked into systems and which enter (see the module docstring)."""

    link_m: float = DEFAULT_LINK_M
    gap_s: float = DEFAULT_GAP_S
    max_link_uncertainty_m: float = 5_000.0
    min_p: float | None = None  # None: the reporting threshold of grading.yaml

    def checked(self) -> RegisterParams:
        """These parameters, or an InputError naming the one out of range."""
        bounds = {"link_m": (0.0, 1e6), "gap_s": (0.0, 3650.0 * DAY_S),
                  "max_link_uncertainty_m": (0.0, 1e6), "min_p": (0.0, 1.0)}
        for name, (lo, hi) in bounds.items():
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and lo <= v <= hi):
                raise InputError(f"{name} {v!r} is out of range",
                                 hint=f"give a number from {lo:g} to {hi:g}",
                                 code="input.out_of_range")
        return self


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One system: weapons of one type seen, and seen again, where the terms forbid them.

    ``lat``/``lon``/``uncertainty_m`` are where it was last seen; ``p_side`` and
    ``p_location`` the strongest of its sightings'; ``obs_ids`` its sightings, oldest first."""

    system_id: str
    weapon_type: str | None
    weapon_class: str
    count: int
    side: str
    side_label: str
    p_side: float
    zone: str
    clause: str
    p_location: float
    first_seen: int
    last_seen: int
    lat: float
    lon: float
    uncertainty_m: float | None
    n_sightings: int
    obs_ids: tuple[int, ...]
    releasability: str

    @property
    def t_start(self) -> int:
        """When it was first seen (the time every listed record is paged by)."""
        return self.first_seen

    @property
    def first_obs_id(self) -> int:
        return self.obs_ids[0]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: times as ISO 8601 UTC."""
        d = asdict(self)
        d["first_seen"], d["last_seen"] = iso(self.first_seen), iso(self.last_seen)
        d["obs_ids"] = list(self.obs_ids)
        return d


@dataclass(frozen=True, slots=True)
class StorageSite:
    """A storage site as its checks found it: ``state`` is the last check's (``present``,
    ``absent``: weapons missing from the site, ``never_verified``)."""

    site: str
    state: str
    last_checked: int
    first_checked: int
    n_checks: int
    last_present: int | None  # the last check that found weapons present
    weapon_types: tuple[str, ...]  # named by the last check
    count: int  # weapons the last check counted (present, or missing when absent)
    side: str
    lat: float
    lon: float
    obs_ids: tuple[int, ...]  # the last check's sightings
    releasability: str  # of every check of the site

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("last_checked", "first_checked", "last_present"):
            d[k] = iso(d[k]) or None
        d["weapon_types"], d["obs_ids"] = list(self.weapon_types), list(self.obs_ids)
        return d


@dataclass(frozen=True, slots=True)
class RegisterSummaryRow:
    """Distinct systems (and the weapons they count) of one type, side and zone."""

    weapon_type: str | None
    weapon_class: str
    side: str
    zone: str
    systems: int
    weapons: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -------------------------------------------------------------------------- which enter


def sightings_of(observations: Iterable[Observation]) -> list[Observation]:
    """The monitors' sightings among ``observations``: reports of kind ``sighting``."""
    return [o for o in observations if o.report is not None and o.report.kind == "sighting"]


def _weapons_seen(o: Observation) -> bool:
    r = o.report
    assert r is not None
    named = r.weapon_type is not None or o.weapon_class != "unknown"
    return named and r.storage_present not in NOT_SEEN_STATES and o.count > 0


def zone_extent_m(terms: Terms) -> NDArray[np.float64]:
    """Per zone and side (Z, 2): how far the zone reaches around a point inside it, metres
    (what "innermost" compares)."""
    out = np.zeros((len(terms.zones), 2))
    for k, z in enumerate(terms.zones):
        if z.shape == "band":
            out[k] = z.distance_m
        elif z.shape == "settlements":
            out[k] = z.radius_m
        else:
            area = shapely.area(terms.projection.project_geometry(z.polygon))
            out[k] = float(np.sqrt(area / np.pi))
    return out


@dataclass(frozen=True)
class _Placed:
    """Registered sightings with their zone (index), p_location, side and p_side."""

    obs: list[Observation]
    zone: NDArray[np.intp]
    p_location: NDArray[np.float64]
    side: NDArray[np.int8]
    p_side: NDArray[np.float64]


def _unc(obs: Sequence[Observation]) -> NDArray[np.float64]:
    return np.array([np.nan if o.uncertainty_m is None else o.uncertainty_m for o in obs])


def place_sightings(terms: Terms, sightings: Sequence[Observation], min_p: float) -> _Placed:
    """The sightings that place weapons where the terms forbid them, each with its innermost
    forbidding zone (see the module docstring)."""
    obs = [o for o in sightings if _weapons_seen(o)]
    n, zones = len(obs), terms.zones
    if n == 0 or not zones:
        e = np.zeros(0)
        return _Placed([], e.astype(np.intp), e, e.astype(np.int8), e)
    lon = np.array([o.lon for o in obs])
    lat = np.array([o.lat for o in obs])
    unc = np.nan_to_num(_unc(obs), nan=0.0)
    t = np.array([o.t_start for o in obs], dtype=float)
    cls = np.array([o.weapon_class for o in obs], dtype=object)
    placement, loc = locate(terms, lon, lat, unc)
    side_ids = np.array([s.id for s in terms.sides], dtype=object)[placement.side]
    forbids = np.zeros((n, len(zones)), bool)
    for k, z in enumerate(zones):
        if not z.weapons:
            continue
        binds = (t >= z.binds_from) & np.isin(side_ids, z.meta.parties)
        if z.end is not None:
            binds &= t < z.end
        forbids[:, k] = np.isin(cls, z.weapons) & binds & (loc.p_zone[:, k] >= min_p)
    extent = zone_extent_m(terms)[:, placement.side.astype(np.intp)].T  # (n, Z)
    zone = np.argmin(np.where(forbids, extent, np.inf), axis=1)
    keep = np.flatnonzero(forbids.any(axis=1))
    return _Placed([obs[i] for i in keep], zone[keep], loc.p_zone[keep, zone[keep]],
                   placement.side[keep], loc.p_side[keep])


# ------------------------------------------------------------------------------- linking


def link_labels(x: NDArray, y: NDArray, t0: NDArray, t1: NDArray, widen: NDArray,
                link_m: float, gap_s: float) -> NDArray[np.intp]:
    """Connected groups of points (metres; time windows ``t0``..``t1``; ``widen``: each one's
    capped 95% radius): i and j link when ``dist <= link_m + widen_i + widen_j`` and their
    windows are at most ``gap_s`` apart. Candidates come from a k-d tree in space-time scaled so
    that the widest possible link is 1 (Chebyshev), then the exact test."""
    n = x.size
    if n < 2:
        return np.zeros(n, np.intp)
    reach_m = max(link_m + 2.0 * float(widen.max()), 1e-6)
    half = (t1 - t0) / 2.0
    reach_s = max(gap_s + 2.0 * float(half.max()), 1e-6)
    pts = np.column_stack([x / reach_m, y / reach_m, (t0 + half) / reach_s])
    pairs = cKDTree(pts).query_pairs(1.0 + 1e-9, p=np.inf, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    near = np.hypot(x[i] - x[j], y[i] - y[j]) <= link_m + widen[i] + widen[j]
    gap = np.maximum(0.0, np.maximum(t0[i], t0[j]) - np.minimum(t1[i], t1[j]))
    ok = near & (gap <= gap_s)
    graph = coo_matrix((np.ones(int(ok.sum())), (i[ok], j[ok])), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.intp)


def _widening(obs: Sequence[Observation], cap: float) -> NDArray[np.float64]:
    """Each sighting's 95% radius capped at ``cap``; 0 when unknown."""
    unc = _unc(obs)
    return np.where(np.isnan(unc), 0.0, np.minimum(np.nan_to_num(unc), cap))


def _systems(terms: Terms, placed: _Placed, params: RegisterParams) -> list[NDArray[np.intp]]:
    """The registered sightings grouped into systems (indices into ``placed.obs``)."""
    obs = placed.obs
    if not obs:
        return []
    x, y = terms.projection.forward([o.lon for o in obs], [o.lat for o in obs])
    t0 = np.array([o.t_start for o in obs], dtype=float)
    t1 = np.array([o.t_end for o in obs], dtype=float)
    widen = _widening(obs, params.max_link_uncertainty_m)
    keys: dict[tuple[str, int], list[int]] = {}
    for k, o in enumerate(obs):
        keys.setdefault((_link_key(o), int(placed.side[k])), []).append(k)
    groups: list[NDArray[np.intp]] = []
    for members in keys.values():
        m = np.asarray(members, np.intp)
        labels = link_labels(x[m], y[m], t0[m], t1[m], widen[m], params.link_m, params.gap_s)
        groups += [m[labels == g] for g in np.unique(labels)]
    return groups


def _link_key(o: Observation) -> str:
    """What must be the same for two sightings to be one system: the weapon type, else the
    class (``class:tank``, never equal to a type)."""
    wt = o.report.weapon_type if o.report is not None else None
    return wt if wt is not None else f"class:{o.weapon_class}"


def _order(o: Observation) -> tuple[int, int]:
    return o.t_start, o.obs_id or 0


def _entry(terms: Terms, placed: _Placed, members: NDArray[np.intp],
           extent: NDArray[np.float64]) -> RegisterEntry:
    """One system's entry from its sightings (``members``); ``extent`` of ``zone_extent_m``."""
    order = sorted(members.tolist(), key=lambda k: _order(placed.obs[k]))
    obs = [placed.obs[k] for k in order]
    side = int(placed.side[order[0]])
    z = min((int(placed.zone[k]) for k in order), key=lambda zi: (extent[zi, side], zi))
    in_zone = [k for k in order if placed.zone[k] == z]
    last = max(obs, key=_order)
    wt = obs[0].report.weapon_type if obs[0].report is not None else None
    return RegisterEntry(
        system_id=f"S{obs[0].obs_id}", weapon_type=wt, weapon_class=obs[0].weapon_class,
        count=max(o.count for o in obs), side=terms.sides[side].id,
        side_label=terms.sides[side].label, p_side=round(float(placed.p_side[order].max()), 4),
        zone=terms.zones[z].id, clause=f"{terms.name}/withdrawal/{terms.zones[z].id}",
        p_location=round(float(placed.p_location[in_zone].max()), 4),
        first_seen=obs[0].t_start, last_seen=last.t_start, lat=last.lat, lon=last.lon,
        uncertainty_m=last.uncertainty_m, n_sightings=len(obs),
        obs_ids=tuple(int(o.obs_id or 0) for o in obs),
        releasability=most_restrictive(o.releasability for o in obs).text)


def build_register(terms: Terms, observations: Iterable[Observation],
                   params: RegisterParams | None = None) -> list[RegisterEntry]:
    """The register of ``observations`` (one viewer's view; any records, sightings are picked
    out) against ``terms``: one entry per system, ordered by first sighting."""
    params = (params or RegisterParams()).checked()
    min_p = report_threshold() if params.min_p is None else params.min_p
    placed = place_sightings(terms, sightings_of(observations), min_p)
    extent = zone_extent_m(terms)
    entries = [_entry(terms, placed, m, extent) for m in _systems(terms, placed, params)]
    return sorted(entries, key=lambda e: (e.first_seen, e.first_obs_id))


def register_summary(entries: Iterable[RegisterEntry]) -> list[RegisterSummaryRow]:
    """Distinct systems and their weapons by weapon type, side and zone, for reports."""
    acc: dict[tuple[str, str, str, str], list[int]] = {}
    for e in entries:
        key = (e.weapon_type or "", e.weapon_class, e.side, e.zone)
        acc.setdefault(key, [0, 0])
        acc[key][0] += 1
        acc[key][1] += e.count
    return [RegisterSummaryRow(wt or None, wc, side, zone, n, w)
            for (wt, wc, side, zone), (n, w) in sorted(acc.items())]


# ------------------------------------------------------------------------- storage sites


def _check_state(states: Iterable[str | None]) -> str:
    seen = set(states)
    return next(s for s in STATE_ORDER if s in seen)


def storage_checks(observations: Iterable[Observation]) -> dict[str, list[Observation]]:
    """The storage-site checks among ``observations``: sightings that name a site and a
    state, by site name."""
    by_site: dict[str, list[Observation]] = {}
    for o in sightings_of(observations):
        r = o.report
        if r is not None and r.storage_site is not None and r.storage_present is not None:
            by_site.setdefault(r.storage_site, []).append(o)
    return by_site


def storage_sites(terms: Terms, observations: Iterable[Observation]) -> list[StorageSite]:
    """Each storage site's last check (see the module docstring), by site name; the side is
    that of the site's last reported position."""
    by_site = storage_checks(observations)
    names = sorted(by_site)
    lasts = [max(by_site[n], key=_order) for n in names]
    if not lasts:
        return []
    side = place(terms, [o.lon for o in lasts], [o.lat for o in lasts]).side
    return [_site(n, by_site[n], terms.sides[int(s)].id) for n, s in zip(names, side, strict=True)]


def _site(name: str, every: list[Observation], side: str) -> StorageSite:
    """One site's row from all its checks."""
    checks: dict[int, list[Observation]] = {}
    for o in sorted(every, key=_order):
        checks.setdefault(o.t_start // DAY_S, []).append(o)
    days = sorted(checks)
    states = {d: _check_state(o.report.storage_present for o in checks[d] if o.report)
              for d in days}
    final = checks[days[-1]]
    state = states[days[-1]]
    present = [d for d in days if states[d] == "present"]
    types = {o.report.weapon_type for o in final if o.report and o.report.weapon_type}
    return StorageSite(
        site=name, state=state, last_checked=final[-1].t_start,
        first_checked=checks[days[0]][0].t_start, n_checks=len(days),
        last_present=checks[present[-1]][-1].t_start if present else None,
        weapon_types=tuple(sorted(types)),
        count=sum(o.count for o in final if o.report and o.report.storage_present == state),
        side=side, lat=final[-1].lat, lon=final[-1].lon,
        obs_ids=tuple(int(o.obs_id or 0) for o in final),
        releasability=most_restrictive(o.releasability for o in every).text)


def register_marking(rows: Iterable[RegisterEntry | StorageSite]) -> str:
    """The banner of ``rows``: the most restrictive marking of the sightings behind them."""
    return most_restrictive(r.releasability for r in rows).text


__all__ = [
    "DEFAULT_GAP_S", "DEFAULT_LINK_M", "RegisterEntry", "RegisterParams", "RegisterSummaryRow",
    "StorageSite", "build_register", "link_labels", "place_sightings", "register_marking",
    "register_summary", "sightings_of", "storage_checks", "storage_sites", "zone_extent_m",
]  # fmt: skip
