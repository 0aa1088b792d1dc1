"""Adjudication: incidents judged against ceasefire terms, millions in one pass.

For every incident: which side's territory it lies in, its signed distance to the line of
contact, the zone it falls in (see :class:`truceguard.judge.location.Placement`), the
probability of each of those given how well its position is known
(:mod:`truceguard.judge.location`), and every clause it breaches with a severity and the
probability ``p_location`` that its true position satisfies the clause's geometry.
Everything is numpy arrays; :meth:`Adjudication.incident_dict` and
:meth:`Adjudication.violations` turn results into plain dicts for the store, reports and the
CLI. A breach starts with status ``new``; status changes are the store's log.

What breaches what (a clause binds from its effective date plus its phase-in until its end,
so an incident before the ceasefire breaches nothing; a clause's prohibition may be narrowed
to some weapon classes):
- withdrawal (zones by distance, heavy weapons in settlements): judged only on evidence of
  where the weapon *was*: a weapon or force seen there (a sighting: ``sighting``, by default
  the ``weapon_presence`` and ``movement`` categories), with ``p_location`` from the
  sighting's position; or an estimated firing position (``firing``: a
  ``judge.firing.FiringEstimate``), with ``p_location`` the probability that the firing
  position lies in the zone. Where a round landed, or where fighting was reported, is not
  where the weapon stood: such an incident breaches no withdrawal clause, whatever its
  weapon class;
- live_fire: a firing category (``terms.LIVE_FIRE_CATEGORIES``) in the prohibition's zone,
  whatever the weapon class (``unknown`` included). A source's lower-clarity or aggregated
  event (``low_clarity``) and a death from a mine or an explosive remnant
  (``explosive_remnant``) are their own categories and breach nothing unless a prohibition
  opts in (its ``categories`` adds them to what it counts);
- flight: a flight category or an air weapon class in the zone, unless flagged as a monitors'
  flight (``monitor``);
- mines: category or weapon class ``mine`` in the zone;
- offensive_movement: a ``movement`` incident whose forces (``actor_side``) stand on the other
  side's territory;
- military_presence: a ``movement`` incident (forces of either side) in the zone.

Who fired: ``controlled_by`` is the side whose territory the judged position (the incident's
own position) more probably lies in (``p_side``; for an incident placed only to a unit, the
side holding more of the unit's area); for an impact that is the side that was hit, so it
attributes nothing.
``fired_from`` is the side controlling the estimated firing region (with ``p_fired_from``),
None without a firing estimate.

A clause with no zone (``anywhere``) holds in the terms' area. A breach is recorded only where
``p_location`` reaches the floor (``grading.yaml``, ``location.p_floor``): where the whole
uncertainty disc misses the clause's geometry there is no breach at all. Exact positions give
the crisp answer (``p_location`` 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceguard.errors import InputError
from truceguard.judge.grading import shipped_location_rules
from truceguard.judge.location import (
    LocationProbabilities,
    Placement,
    TermsGeometry,
    locate,
    place,
    terms_geometry,
)
from truceguard.judge.places import nearest_places
from truceguard.judge.severity import SeverityTable, grade, killed_array, shipped_severity
from truceguard.judge.terms import (
    AIR_WEAPON_CLASSES,
    ANYWHERE,
    FLIGHT_CATEGORIES,
    LIVE_FIRE_CATEGORIES,
    Terms,
    category_mask,
    weapon_mask,
)
from truceguard.model import CATEGORIES, REVIEW_STATUSES, WEAPON_CLASSES

if TYPE_CHECKING:
    from truceguard.judge.firing import FiringEstimate

# Categories that are sightings: weapons or forces seen where they stand (not fire, whose
# reported position is where it was heard, seen or landed).
SIGHTING_CATEGORIES: tuple[str, ...] = ("weapon_presence", "movement")
SIGHTING_CODES = np.array([CATEGORIES.index(c) for c in SIGHTING_CATEGORIES], np.int16)

# The statuses a review may give a violation (``model.REVIEW_STATUSES``).
VIOLATION_STATUSES: tuple[str, ...] = REVIEW_STATUSES
STATUS_NEW = "new"

__all__ = [
    "Adjudication", "Placement", "STATUS_NEW", "TermsGeometry", "VIOLATION_STATUSES",
    "adjudicate", "check_caps", "encode", "place", "terms_geometry",
]  # fmt: skip


def encode(values: ArrayLike, vocabulary: tuple[str, ...], name: str) -> NDArray[np.int16]:
    """Codes (indices into ``vocabulary``) for strings; integer input is checked and kept."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() >= len(vocabulary)):
            raise InputError(f"{name}: codes must lie in 0..{len(vocabulary) - 1}")
        return arr.astype(np.int16).ravel()
    lut = {v: i for i, v in enumerate(vocabulary)}
    try:
        return np.fromiter((lut[v] for v in arr.ravel().tolist()), dtype=np.int16, count=arr.size)
    except KeyError as exc:
        raise InputError(
            f"{name}: unknown value {exc.args[0]!r} (known: {', '.join(vocabulary)})"
        ) from None


@dataclass(frozen=True)
class Adjudication:
    """The result of :func:`adjudicate`: per incident a placement, its location
    probabilities and its ``uncertainty_m``; per breach (parallel arrays sorted by incident
    then clause) ``incident`` (index into the input), ``clause`` (index into ``clause_ids``),
    ``severity``, the severity rules that raised or lowered it (``severity_rules``, a bit
    mask over ``severity_table.rules``) and ``p_location``."""

    terms_name: str
    terms_version: str
    clause_ids: tuple[str, ...]
    clause_kinds: tuple[str, ...]
    zone_ids: tuple[str, ...]
    side_ids: tuple[str, str]
    side_labels: tuple[str, str]
    severity_labels: dict[int, str]
    placement: Placement
    location: LocationProbabilities
    uncertainty_m: NDArray[np.float64]
    p_floor: float
    incident: NDArray[np.int64]
    clause: NDArray[np.int32]
    severity: NDArray[np.int8]
    p_location: NDArray[np.float64]
    p_fired_side1: NDArray[np.float64]  # per incident; NaN without a firing estimate
    severity_rules: NDArray[np.int32]  # per breach: the severity rules applied (bit mask)
    severity_table: SeverityTable

    @property
    def n_incidents(self) -> int:
        return int(self.placement.side.size)

    @property
    def p_side(self) -> NDArray[np.float64]:
        """Per incident: the probability that ``controlled_by`` controls its true position."""
        return self.location.p_side

    @property
    def controlled_by(self) -> NDArray[Any]:
        """Per incident: the side id of the side its position more probably lies on."""
        return np.array(self.side_ids, dtype=object)[self.location.side.astype(np.intp)]

    def fired_from(self, i: int) -> tuple[str | None, float | None]:
        """Incident ``i``: the side that more probably controls its estimated firing region,
        and that probability; (None, None) without a firing estimate."""
        p1 = float(self.p_fired_side1[i])
        if np.isnan(p1):
            return None, None
        side = 1 if p1 >= 0.5 else 0
        return self.side_ids[side], round(p1 if side == 1 else 1.0 - p1, 4)

    def breach_counts(self) -> dict[str, int]:
        """Number of breaches per clause id (every clause listed, zeros included)."""
        counts = np.bincount(self.clause, minlength=len(self.clause_ids))
        return {cid: int(n) for cid, n in zip(self.clause_ids, counts, strict=True)}

    def breaches_of(self, i: int) -> list[dict[str, Any]]:
        """The clauses incident ``i`` breaches, gravest first."""
        lo, hi = np.searchsorted(self.incident, [i, i + 1])
        rows = [
            {
                "clause": self.clause_ids[int(c)],
                "kind": self.clause_kinds[int(c)],
                "severity": int(s),
                "severity_label": self.severity_labels.get(int(s), ""),
                "severity_reasons": self.severity_table.reasons(int(m)),
                "p_location": float(p),
                "status": STATUS_NEW,
            }
            for c, s, m, p in zip(self.clause[lo:hi], self.severity[lo:hi],
                                  self.severity_rules[lo:hi], self.p_location[lo:hi],
                                  strict=True)  # fmt: skip
        ]
        return sorted(rows, key=lambda r: -r["severity"])

    def incident_dict(self, i: int) -> dict[str, Any]:
        """One incident's judgement as plain data."""
        if not 0 <= i < self.n_incidents:
            raise IndexError(i)
        p = self.placement
        side = int(self.location.side[i])
        zone = int(p.zone[i])
        return {
            "index": i,
            "terms": self.terms_name,
            "terms_version": self.terms_version,
            "side": self.side_ids[side],
            "side_label": self.side_labels[side],
            "controlled_by": self.side_ids[side],
            "p_side": float(self.p_side[i]),
            "uncertainty_m": float(self.uncertainty_m[i]),
            "signed_distance_m": float(p.signed_m[i]),
            "distance_m": float(p.own_m[i]),
            "zone": self.zone_ids[zone] if zone >= 0 else None,
            "fired_from": self.fired_from(i)[0],
            "p_fired_from": self.fired_from(i)[1],
            "breaches": self.breaches_of(i),
        }

    def violations(self) -> list[dict[str, Any]]:
        """Every breach as a row for the store: incident index, clause, severity, status, the
        location probabilities, the side, the uncertainty, the terms version and the reasons
        for the severity."""
        side = self.placement.side
        p_side = self.p_side
        return [
            {
                "index": int(i),
                "clause": self.clause_ids[int(c)],
                "severity": int(s),
                "severity_reasons": self.severity_table.reasons(int(m)),
                "status": STATUS_NEW,
                "p_location": float(p),
                "p_side": float(p_side[i]),
                "controlled_by": self.side_ids[int(side[i])],
                "fired_from": self.fired_from(int(i))[0],
                "p_fired_from": self.fired_from(int(i))[1],
                "uncertainty_m": float(self.uncertainty_m[i]),
                "terms_version": self.terms_version,
            }
            for i, c, s, m, p in zip(self.incident, self.clause, self.severity,
                                     self.severity_rules, self.p_location,
                                     strict=True)  # fmt: skip
        ]


def _floats(values: ArrayLike | None, n: int, default: float, name: str) -> NDArray[np.float64]:
    if values is None:
        return np.full(n, default)
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 1 and n != 1:
        arr = np.full(n, float(arr[0]))
    if arr.size != n:
        raise InputError(f"{name} has {arr.size} values for {n} positions")
    return arr


def adjudicate(
    terms: Terms,
    lon: ArrayLike,
    lat: ArrayLike,
    t: ArrayLike,
    category: ArrayLike,
    weapon_class: ArrayLike,
    *,
    uncertainty_m: ArrayLike | None = None,
    monitor: ArrayLike | None = None,
    actor_side: ArrayLike | None = None,
    sighting: ArrayLike | None = None,
    firing: Sequence[FiringEstimate | None] | None = None,
    region: Sequence[Any | None] | None = None,
    killed: ArrayLike | None = None,
    p_floor: float | None = None,
    severity: SeverityTable | None = None,
) -> Adjudication:
    """Judge incidents against ``terms``.

    ``lon``/``lat``: WGS84 degrees; ``uncertainty_m``: each position's 95% radius in metres
    (default 0: exact); ``t``: UTC epoch seconds (the incident's time; pass the end of its
    window to judge uncertain times leniently, the start to judge strictly);
    ``category``/``weapon_class``: strings of ``CATEGORIES``/``WEAPON_CLASSES`` or their
    indices; ``monitor``: true for the monitors' own flights; ``actor_side``: the side
    (0, 1, or -1 unknown) whose forces an incident involves, for offensive movement;
    ``sighting``: true where the incident is a weapon or force seen at its position (default:
    ``SIGHTING_CATEGORIES``); ``firing``: per incident, its estimated firing position or
    None; ``region``: per incident, the polygon (lon/lat) its source placed it in when the
    source gave only a unit (``judge.places.precision_region``), or None; ``killed``: the
    deaths each incident's sources report (default none; ``judge.severity.view_killed``);
    ``p_floor``: the smallest ``p_location`` recorded (default: ``grading.yaml``);
    ``severity``: the rules that grade each breach by weapon and harm (default:
    ``severity.yaml``).
    """
    lon_a = np.asarray(lon, dtype=float).ravel()
    n = lon_a.size
    unc = _floats(uncertainty_m, n, 0.0, "uncertainty_m")
    placement, loc = locate(terms, lon_a, lat, unc, regions=region)
    t_a = np.asarray(t, dtype=float).ravel()
    if t_a.size == n:
        placement = zones_in_force(terms, placement, t_a)
    cat = encode(category, CATEGORIES, "category")
    wpn = encode(weapon_class, WEAPON_CLASSES, "weapon_class")
    for name, arr in (("t", t_a), ("category", cat), ("weapon_class", wpn)):
        if arr.size != n:
            raise InputError(f"{name} has {arr.size} values for {n} positions")
    mon = np.zeros(n, bool) if monitor is None else np.asarray(monitor, bool).ravel()
    actor = np.full(n, -1, np.int8) if actor_side is None else np.asarray(actor_side).ravel()
    if mon.size != n or actor.size != n:
        raise InputError(f"monitor and actor_side need {n} values")
    floor = shipped_location_rules().p_floor if p_floor is None else float(p_floor)
    if not 0.0 < floor <= 1.0:
        raise InputError(f"p_floor must lie in (0, 1], not {floor!r}", code="input.bad_p_floor")

    zone_index = {z: i for i, z in enumerate(terms.zone_ids)}

    def where(zone_id: str) -> NDArray[np.float64]:
        return loc.p_area if zone_id == ANYWHERE else loc.p_zone[:, zone_index[zone_id]]

    def other_side(zone_id: str) -> NDArray[np.float64]:
        """P(on the side opposite the actor's, in the region)."""
        if zone_id == ANYWHERE:
            on1, total = loc.p_side1_area, loc.p_area
        else:
            on1, total = loc.p_zone_side1[:, zone_index[zone_id]], where(zone_id)
        return np.where(actor == 0, on1, total - on1)

    seen = np.isin(cat, SIGHTING_CODES) if sighting is None \
        else np.asarray(sighting, bool).ravel()  # fmt: skip
    if seen.size != n or (firing is not None and len(firing) != n):
        raise InputError(f"sighting and firing need {n} values")
    fired = firing_placement(terms, firing, n)
    is_fire = category_mask(LIVE_FIRE_CATEGORIES)[cat]
    is_flight = category_mask(FLIGHT_CATEGORIES)[cat] | weapon_mask(AIR_WEAPON_CLASSES)[wpn]
    is_mine = (cat == CATEGORIES.index("mine")) | (wpn == WEAPON_CLASSES.index("mine"))
    is_move = cat == CATEGORIES.index("movement")
    table = shipped_severity() if severity is None else severity
    dead = killed_array(killed, n)
    on_town = on_settlement(lon_a, np.asarray(lat, float).ravel(), unc, region,
                            table.settlement_km * 1000.0)

    rows: list[tuple[NDArray[np.int64], int, NDArray[np.int8], NDArray[np.int32],
                     NDArray[np.float64]]] = []
    for ci, clause in enumerate(terms.clauses):
        bound = t_a >= clause.binds_from
        if clause.end is not None:
            bound &= t_a < clause.end
        if clause.kind == "withdrawal":
            k = zone_index[clause.ref]
            what = weapon_mask(terms.zone(clause.ref).weapons)[wpn] & (seen | fired.has)
            p = np.where(seen, where(clause.ref), fired.p_zone[:, k])
        else:
            pr = terms.prohibition(clause.ref)
            p = where(pr.zone)
            if pr.activity == "live_fire":
                what = is_fire
            elif pr.activity == "flight":
                what = is_flight & ~mon if pr.except_monitors else is_flight
            elif pr.activity == "mines":
                what = is_mine
            elif pr.activity == "military_presence":
                what = is_move
            else:
                what = is_move & (actor >= 0)
                p = other_side(pr.zone)
            if pr.weapons:
                what = what & weapon_mask(pr.weapons)[wpn]
            if pr.categories:  # the categories a clause opts in to
                what = what | category_mask(pr.categories)[cat]
        idx = np.flatnonzero(what & bound & (p >= floor))
        sev, why = grade(table, clause.kind, clause.severity, wpn[idx], dead[idx], on_town[idx])
        rows.append((idx.astype(np.int64), ci, sev, why, p[idx]))

    inc = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
    cla = np.concatenate([np.full(r[0].size, r[1], np.int32) for r in rows]) if rows \
        else np.zeros(0, np.int32)  # fmt: skip
    sev = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int8)
    why = np.concatenate([r[3] for r in rows]) if rows else np.zeros(0, np.int32)
    pl = np.concatenate([r[4] for r in rows]) if rows else np.zeros(0)
    order = np.argsort(inc, kind="stable")
    return Adjudication(
        terms_name=terms.name,
        terms_version=terms.version,
        clause_ids=terms.clause_ids,
        clause_kinds=tuple(c.kind for c in terms.clauses),
        zone_ids=terms.zone_ids,
        side_ids=(terms.sides[0].id, terms.sides[1].id),
        side_labels=(terms.sides[0].label, terms.sides[1].label),
        severity_labels=dict(terms.severity_labels),
        placement=placement,
        location=loc,
        uncertainty_m=unc,
        p_floor=floor,
        incident=inc[order],
        clause=cla[order],
        severity=sev[order],
        p_location=np.clip(pl[order], 0.0, 1.0),
        p_fired_side1=fired.p_side1,
        severity_rules=why[order],
        severity_table=table,
    )


def zones_in_force(terms: Terms, placement: Placement, t: NDArray[np.float64]) -> Placement:
    """``placement`` with each incident's ``zone`` the innermost band zone that binds at its
    time ``t`` (a zone a later text replaced, such as the memorandum's 8 km for 120 mm
    mortars, is not where a 2019 incident lies)."""
    zones = terms.zones
    if not zones:
        return placement
    depth = terms_geometry(terms).depth_m[placement.side.astype(np.intp)]  # (n, Z)
    start = np.array([z.binds_from for z in zones], float)
    end = np.array([np.inf if z.meta.end is None else z.meta.end for z in zones], float)
    live = (t[:, None] >= start) & (t[:, None] < end)
    ok = placement.in_zone & np.isfinite(depth) & live
    zone = np.where(ok.any(axis=1), np.argmin(np.where(ok, depth, np.inf), axis=1), -1)
    return replace(placement, zone=zone.astype(np.int16))


def on_settlement(lon: NDArray[np.float64], lat: NDArray[np.float64],
                  uncertainty_m: NDArray[np.float64], region: Sequence[Any | None] | None,
                  within_m: float) -> NDArray[np.bool_]:  # fmt: skip
    """Per incident: its reported position lies within ``within_m`` of a shipped settlement
    and is known to within that distance (an incident placed only to a unit never is)."""
    n = lon.size
    out = np.zeros(n, bool)
    sharp = uncertainty_m <= within_m
    if region is not None:
        sharp &= np.array([r is None for r in region], bool)
    if sharp.any():
        near = nearest_places(lon[sharp], lat[sharp], country=None)
        out[sharp] = near.distance_m <= within_m
    return out


@dataclass(frozen=True)
class FiringPlacement:
    """Per incident, where its estimated firing position lies: ``has`` an estimate,
    ``p_zone[:, z]`` the probability it lies in zone z, ``p_side1`` that side 1 controls it
    (NaN without an estimate). From the estimate's samples, placed as incidents are."""

    has: NDArray[np.bool_]
    p_zone: NDArray[np.float64]
    p_side1: NDArray[np.float64]


def firing_placement(terms: Terms, firing: Sequence[FiringEstimate | None] | None,
                     n: int) -> FiringPlacement:
    """The zones and sides of ``n`` incidents' firing estimates (all samples placed at once)."""
    n_zones = len(terms.zone_ids)
    has = np.zeros(n, bool)
    p_zone = np.zeros((n, n_zones))
    p_side1 = np.full(n, np.nan)
    with_estimate = [i for i, f in enumerate(firing or ()) if f is not None]
    if not with_estimate:
        return FiringPlacement(has, p_zone, p_side1)
    samples = [np.asarray(firing[i].samples) for i in with_estimate]  # type: ignore[index,union-attr]
    sizes = np.array([s.shape[0] for s in samples])
    both = np.concatenate(samples)
    placed = place(terms, both[:, 0], both[:, 1])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    zone_sums = np.add.reduceat(placed.in_zone.astype(float), starts, axis=0)
    side_sums = np.add.reduceat((placed.side == 1).astype(float), starts)
    idx = np.asarray(with_estimate)
    has[idx] = True
    p_zone[idx] = zone_sums / sizes[:, None]
    p_side1[idx] = side_sums / sizes
    return FiringPlacement(has, p_zone, p_side1)


def check_caps(
    terms: Terms,
    placement: Placement,
    category: ArrayLike,
    weapon_class: ArrayLike,
    count: ArrayLike | None = None,
) -> list[dict[str, Any]]:
    """Weapons seen in each capped zone against the terms' caps.

    Counts ``weapon_presence`` incidents (their ``count``, default 1) of the capped class on
    the capped side within the zone (at their reported positions). The caller chooses the
    incidents: a snapshot (one verification round), not a running total of sightings of the
    same weapons. Returns one row per cap: clause, zone, side, weapon, max, counted, exceeded.
    """
    cat = encode(category, CATEGORIES, "category")
    wpn = encode(weapon_class, WEAPON_CLASSES, "weapon_class")
    n = placement.side.size
    cnt = np.ones(n) if count is None else np.asarray(count, dtype=float).ravel()
    if cat.size != n or wpn.size != n or cnt.size != n:
        raise InputError(f"category, weapon_class and count need {n} values")
    present = cat == CATEGORIES.index("weapon_presence")
    rows = []
    for cap, clause in zip(terms.caps, terms.cap_clauses, strict=True):
        hit = (
            present
            & (wpn == WEAPON_CLASSES.index(cap.weapon))
            & (placement.side == cap.side)
            & placement.in_zone[:, terms.zone_ids.index(cap.zone)]
        )
        counted = float(cnt[hit].sum())
        rows.append(
            {
                "clause": clause.id,
                "zone": cap.zone,
                "side": terms.sides[cap.side].id,
                "weapon": cap.weapon,
                "max": cap.max_count,
                "counted": counted,
                "exceeded": counted > cap.max_count,
            }
        )
    return rows
