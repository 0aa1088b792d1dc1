"""Adjudication: incidents judged against ceasefire terms, millions in one pass.

For every incident: which side's territory it lies in (the terms' side polygon), its signed
distance to the line of contact, the zone it falls in, and every clause it breaches with a
severity. Everything is numpy arrays; :meth:`Adjudication.incident_dict` and
:meth:`Adjudication.violations` turn results into plain dicts for the store, reports and the
CLI. A breach starts with status ``new``; status changes are the store's log.

Conventions:
- ``side``: 0 outside the side polygon (``terms.sides[0]``, the government side in the
  shipped terms), 1 inside it.
- ``signed_m``: distance to the common line in metres, positive on side 0, negative on side 1.
- ``own_m``: distance to the incident's own side's line (``terms.side_lines``), which is what
  zones are measured from; equal to ``abs(signed_m)`` when the sides share one line.
- ``zone``: index into ``terms.zone_ids`` of the innermost zone containing the incident on
  its side, -1 for none.

What breaches what (a clause binds only from its effective date plus its phase-in, so an
incident before the ceasefire breaches nothing):
- withdrawal: the incident's weapon class is one the zone withdraws and it lies within the
  zone's depth on its own side (a weapon seen there, or fire from or at it);
- live_fire: a firing category (``terms.LIVE_FIRE_CATEGORIES``) in the prohibition's zone,
  whatever the weapon class (``unknown`` included);
- flight: a flight category or an air weapon class in the zone, unless flagged as a monitors'
  flight (``monitor``);
- mines: category or weapon class ``mine`` in the zone;
- offensive_movement: a ``movement`` incident whose forces (``actor_side``) stand on the other
  side's territory.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceguard.errors import InputError
from truceguard.geo.lines import SegmentGrid, build_segment_grid, distance_to_line, side_of
from truceguard.geo.project import LocalProjection
from truceguard.judge.terms import (
    AIR_WEAPON_CLASSES,
    ANYWHERE,
    FLIGHT_CATEGORIES,
    LIVE_FIRE_CATEGORIES,
    Terms,
    category_mask,
    weapon_mask,
)
from truceguard.model import CATEGORIES, WEAPON_CLASSES

VIOLATION_STATUSES: tuple[str, ...] = ("new", "under_review", "verified", "discounted")
STATUS_NEW = "new"

# Grid cells for the distance index; see truceguard.geo.lines.
GRID_CELL_M = 1_500.0
GRID_LEVELS = 5


@dataclass(frozen=True, eq=False)
class TermsGeometry:
    """The terms' geometry projected to metres and indexed for fast queries."""

    projection: LocalProjection
    polygon: Any  # projected, prepared side polygon
    grid: SegmentGrid  # the common line
    own_grids: tuple[SegmentGrid | None, SegmentGrid | None]  # each side's own line, if any
    depth_m: NDArray[np.float64]  # (2, n_zones): zone depth per side


_GEOMETRY: weakref.WeakKeyDictionary[Terms, TermsGeometry] = weakref.WeakKeyDictionary()


def terms_geometry(terms: Terms) -> TermsGeometry:
    """Projected and indexed geometry for ``terms``, built once per Terms object."""
    geo = _GEOMETRY.get(terms)
    if geo is not None:
        return geo
    proj = terms.projection
    depth = np.array([[z.distance_m[s] for z in terms.zones] for s in (0, 1)], dtype=float)
    depth = depth.reshape(2, len(terms.zones))
    margin = float(depth.max(initial=0.0)) + 20_000.0

    def grid_for(line: Any) -> SegmentGrid:
        return build_segment_grid(
            proj.project_geometry(line), cell_m=GRID_CELL_M, margin_m=margin, levels=GRID_LEVELS
        )

    polygon = proj.project_geometry(terms.side_polygon)
    own0, own1 = (None if ln is None else grid_for(ln) for ln in terms.side_lines)
    geo = TermsGeometry(
        projection=proj,
        polygon=polygon,
        grid=grid_for(terms.line),
        own_grids=(own0, own1),
        depth_m=depth,
    )
    _GEOMETRY[terms] = geo
    return geo


@dataclass(frozen=True)
class Placement:
    """Where incidents lie with respect to the terms (see the module docstring)."""

    side: NDArray[np.int8]
    signed_m: NDArray[np.float64]
    own_m: NDArray[np.float64]
    zone: NDArray[np.int16]


def place(terms: Terms, lon: ArrayLike, lat: ArrayLike) -> Placement:
    """Side, signed distance, own-line distance and zone for every point (WGS84 degrees)."""
    geo = terms_geometry(terms)
    lon_a = np.asarray(lon, dtype=float).ravel()
    lat_a = np.asarray(lat, dtype=float).ravel()
    if lon_a.shape != lat_a.shape:
        raise InputError(f"lon and lat differ in length ({lon_a.size} and {lat_a.size})")
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} position(s) are not finite, e.g. index {int(np.flatnonzero(bad)[0])}"
        )
    x, y = geo.projection.forward(lon_a, lat_a)
    side = side_of(geo.polygon, x, y).astype(np.int8)
    d = distance_to_line(geo.grid, x, y)
    own = d.copy()
    for s, g in enumerate(geo.own_grids):
        if g is not None:
            m = side == s
            own[m] = distance_to_line(g, x[m], y[m])
    zone = np.full(d.size, -1, dtype=np.int16)
    for s in (0, 1):
        on_side = side == s
        # Widest first, so the innermost zone is written last (ties: the first listed wins).
        depth = geo.depth_m[s]
        for z in sorted(range(depth.size), key=lambda k: (-depth[k], -k)):
            zone[on_side & (own <= geo.depth_m[s, z])] = z
    return Placement(side=side, signed_m=np.where(side == 1, -d, d), own_m=own, zone=zone)


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
    """The result of :func:`adjudicate`: a placement per incident plus breach rows.

    Breach rows are parallel arrays sorted by incident then clause: ``incident`` (index into
    the input), ``clause`` (index into ``clause_ids``) and ``severity``.
    """

    terms_name: str
    clause_ids: tuple[str, ...]
    clause_kinds: tuple[str, ...]
    zone_ids: tuple[str, ...]
    side_ids: tuple[str, str]
    side_labels: tuple[str, str]
    severity_labels: dict[int, str]
    placement: Placement
    incident: NDArray[np.int64]
    clause: NDArray[np.int32]
    severity: NDArray[np.int8]

    @property
    def n_incidents(self) -> int:
        return int(self.placement.side.size)

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
                "status": STATUS_NEW,
            }
            for c, s in zip(self.clause[lo:hi], self.severity[lo:hi], strict=True)
        ]
        return sorted(rows, key=lambda r: -r["severity"])

    def incident_dict(self, i: int) -> dict[str, Any]:
        """One incident's judgement as plain data."""
        if not 0 <= i < self.n_incidents:
            raise IndexError(i)
        p = self.placement
        side = int(p.side[i])
        zone = int(p.zone[i])
        return {
            "index": i,
            "terms": self.terms_name,
            "side": self.side_ids[side],
            "side_label": self.side_labels[side],
            "signed_distance_m": float(p.signed_m[i]),
            "distance_m": float(p.own_m[i]),
            "zone": self.zone_ids[zone] if zone >= 0 else None,
            "breaches": self.breaches_of(i),
        }

    def violations(self) -> list[dict[str, Any]]:
        """Every breach as a row for the store: incident index, clause, severity, status."""
        return [
            {
                "index": int(i),
                "clause": self.clause_ids[int(c)],
                "severity": int(s),
                "status": STATUS_NEW,
            }
            for i, c, s in zip(self.incident, self.clause, self.severity, strict=True)
        ]


def adjudicate(
    terms: Terms,
    lon: ArrayLike,
    lat: ArrayLike,
    t: ArrayLike,
    category: ArrayLike,
    weapon_class: ArrayLike,
    *,
    monitor: ArrayLike | None = None,
    actor_side: ArrayLike | None = None,
) -> Adjudication:
    """Judge incidents against ``terms``.

    ``lon``/``lat``: WGS84 degrees; ``t``: UTC epoch seconds (the incident's time; pass the
    end of its window to judge uncertain times leniently, the start to judge strictly);
    ``category``/``weapon_class``: strings of ``CATEGORIES``/``WEAPON_CLASSES`` or their
    indices; ``monitor``: true for the monitors' own flights; ``actor_side``: the side
    (0, 1, or -1 unknown) whose forces an incident involves, for offensive movement.
    """
    placement = place(terms, lon, lat)
    n = placement.side.size
    t_a = np.asarray(t, dtype=float).ravel()
    cat = encode(category, CATEGORIES, "category")
    wpn = encode(weapon_class, WEAPON_CLASSES, "weapon_class")
    for name, arr in (("t", t_a), ("category", cat), ("weapon_class", wpn)):
        if arr.size != n:
            raise InputError(f"{name} has {arr.size} values for {n} positions")
    mon = np.zeros(n, bool) if monitor is None else np.asarray(monitor, bool).ravel()
    actor = np.full(n, -1, np.int8) if actor_side is None else np.asarray(actor_side).ravel()
    if mon.size != n or actor.size != n:
        raise InputError(f"monitor and actor_side need {n} values")

    geo = terms_geometry(terms)
    side = placement.side.astype(np.intp)
    own = placement.own_m
    zone_index = {z: i for i, z in enumerate(terms.zone_ids)}

    def in_zone(zone_id: str) -> NDArray[np.bool_]:
        if zone_id == ANYWHERE:
            return np.ones(n, bool)
        return own <= geo.depth_m[side, zone_index[zone_id]]

    is_fire = category_mask(LIVE_FIRE_CATEGORIES)[cat]
    is_flight = category_mask(FLIGHT_CATEGORIES)[cat] | weapon_mask(AIR_WEAPON_CLASSES)[wpn]
    is_mine = (cat == CATEGORIES.index("mine")) | (wpn == WEAPON_CLASSES.index("mine"))
    is_move = cat == CATEGORIES.index("movement")
    across = (actor >= 0) & (actor != placement.side)

    rows_i: list[NDArray[np.int64]] = []
    rows_c: list[NDArray[np.int32]] = []
    rows_s: list[NDArray[np.int8]] = []
    for ci, clause in enumerate(terms.clauses):
        bound = t_a >= clause.binds_from
        if clause.kind == "withdrawal":
            z = terms.zone(clause.ref)
            hit = weapon_mask(z.weapons)[wpn] & in_zone(z.id)
        else:
            p = next(q for q in terms.prohibited if q.id == clause.ref)
            if p.activity == "live_fire":
                what = is_fire
            elif p.activity == "flight":
                what = is_flight & ~mon if p.except_monitors else is_flight
            elif p.activity == "mines":
                what = is_mine
            else:
                what = is_move & across
            hit = what & in_zone(p.zone)
        idx = np.flatnonzero(hit & bound)
        rows_i.append(idx.astype(np.int64))
        rows_c.append(np.full(idx.size, ci, np.int32))
        rows_s.append(np.full(idx.size, clause.severity, np.int8))

    inc = np.concatenate(rows_i) if rows_i else np.zeros(0, np.int64)
    cla = np.concatenate(rows_c) if rows_c else np.zeros(0, np.int32)
    sev = np.concatenate(rows_s) if rows_s else np.zeros(0, np.int8)
    order = np.argsort(inc, kind="stable")
    return Adjudication(
        terms_name=terms.name,
        clause_ids=terms.clause_ids,
        clause_kinds=tuple(c.kind for c in terms.clauses),
        zone_ids=terms.zone_ids,
        side_ids=(terms.sides[0].id, terms.sides[1].id),
        side_labels=(terms.sides[0].label, terms.sides[1].label),
        severity_labels=dict(terms.severity_labels),
        placement=placement,
        incident=inc[order],
        clause=cla[order],
        severity=sev[order],
    )


def check_caps(
    terms: Terms,
    placement: Placement,
    category: ArrayLike,
    weapon_class: ArrayLike,
    count: ArrayLike | None = None,
) -> list[dict[str, Any]]:
    """Weapons seen in each capped zone against the terms' caps.

    Counts ``weapon_presence`` incidents (their ``count``, default 1) of the capped class on
    the capped side within the zone's depth. The caller chooses the incidents: a snapshot
    (one verification round), not a running total of sightings of the same weapons.
    Returns one row per cap: zone, side, weapon, max, counted, exceeded.
    """
    cat = encode(category, CATEGORIES, "category")
    wpn = encode(weapon_class, WEAPON_CLASSES, "weapon_class")
    n = placement.side.size
    cnt = np.ones(n) if count is None else np.asarray(count, dtype=float).ravel()
    if cat.size != n or wpn.size != n or cnt.size != n:
        raise InputError(f"category, weapon_class and count need {n} values")
    present = cat == CATEGORIES.index("weapon_presence")
    geo = terms_geometry(terms)
    rows = []
    for cap in terms.caps:
        depth = geo.depth_m[cap.side, terms.zone_ids.index(cap.zone)]
        hit = (
            present
            & (wpn == WEAPON_CLASSES.index(cap.weapon))
            & (placement.side == cap.side)
            & (placement.own_m <= depth)
        )
        counted = float(cnt[hit].sum())
        rows.append(
            {
                "zone": cap.zone,
                "side": terms.sides[cap.side].id,
                "weapon": cap.weapon,
                "max": cap.max_count,
                "counted": counted,
                "exceeded": counted > cap.max_count,
            }
        )
    return rows
