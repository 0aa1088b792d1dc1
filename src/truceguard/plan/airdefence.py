"""Air defence that has a magazine: layers, fire units, interceptors, and raids that saturate them.

A :class:`Layer` (Ukraine's own, the coalition's, the US's) holds fire-unit groups, the
interceptors on hand by type (:class:`Magazine`, with resupply per day) and electronic warfare
that defeats drones without a shot (``ew``: the chance a drone or decoy is *suppressed*, apart
from *destroyed*). A fire-unit group is a system from :data:`SYSTEMS` in one of two modes:

- ``barrier``: mobile fire groups, interceptor drones, helicopters and fighters spread along the
  approaches. A threat meets the barrier with chance ``1 - exp(-meet x km / 100)`` over its
  defended path (:mod:`truceguard.plan.raid`).
- ``point``: batteries at target sets. A battery covers a site of a set when the set's radius
  is within its published range against that class; ``cover[class][set]`` is the covered share.
  Ballistic missiles are engaged only by systems whose :data:`SYSTEMS` entry lists them
  (Patriot, SAMP/T), and only with warning (``need_warning_min``).

Saturation is first come, first served: threats arrive in time order; a group engages at most
``units x rate_per_h`` threats per half hour of the raid at each set, and fires only rounds
that are ready (launchers reloaded every ``reload_h``) and on hand. A campaign carries the
magazines from raid to raid with their resupply. Everything is vectorised over replications
and threats: each group works only on the threats it may engage, and first come, first served
is a count over threats already in time order (:func:`_first_come`, :func:`_running`). Several
blocks of replications, each against its own layers (a bootstrap draw of the calibration a
block), are engaged in one call by :func:`engage_blocks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.plan.raid import CLASSES, TARGET_NAMES, RaidDraws, target_sets

BIN_H = 0.5


@dataclass(frozen=True)
class Engagement:
    """How a system engages one class: kill chance per interceptor, interceptors per
    engagement, published range (point) or meetings per 100 km (barrier), warning needed."""

    pk: float
    shots: int
    range_km: float = 0.0
    meet_per_100km: float = 0.0
    need_warning_min: float = 0.0

    @property
    def p_kill(self) -> float:
        return 1.0 - (1.0 - self.pk) ** self.shots


@dataclass(frozen=True)
class System:
    """A type of fire unit."""

    name: str
    mode: str  # "point" | "barrier"
    engages: dict[str, Engagement]
    rate_per_h: float  # engagements a fire unit conducts per hour
    interceptor: str
    ready_rounds: float  # rounds on its launchers
    reload_h: float
    source: str


_PAT = ("Patriot: up to 160 km against aircraft (tech.wp.pl), PAC-3 about 60 km (Dutch MoD, "
        "coalition facts), about 20-35 km against ballistic missiles (molutor.info, 2025, weak)")
_SAMP = ("SAMP/T: Aster 30 about 100 km against aircraft (tech.wp.pl); first European theatre "
         "ballistic missile intercept, Oct 2010 (DGA via Geneva Global Defence); up to ten targets "
         "at once (journal-aviation.com); ballistic range assumed as Patriot's")
SYSTEMS: dict[str, System] = {s.name: s for s in (
    System("patriot", "point", {
        "ballistic": Engagement(0.5, 2, range_km=25.0, need_warning_min=3.0),
        "cruise": Engagement(0.8, 2, range_km=60.0),
    }, 6.0, "pac3_gemt", 32.0, 1.0, _PAT),
    System("samp_t", "point", {
        "ballistic": Engagement(0.5, 2, range_km=25.0, need_warning_min=3.0),
        "cruise": Engagement(0.8, 2, range_km=100.0),
        "drone": Engagement(0.9, 1, range_km=30.0),
        "decoy": Engagement(0.9, 1, range_km=30.0),
    }, 10.0, "aster30", 48.0, 1.0, _SAMP),
    System("medium_sam", "point", {
        "cruise": Engagement(0.7, 2, range_km=40.0),
    }, 4.0, "medium_sam_missile", 8.0, 1.0,
        "IRIS-T SLM 40 km, NASAMS several tens of km (coalition facts); Buk, S-300 and Hawk "
        "as one pool (assumption)"),
    System("mobile_fire_groups", "barrier", {
        "drone": Engagement(0.9, 1, meet_per_100km=0.5),
        "decoy": Engagement(0.9, 1, meet_per_100km=0.5),
        "cruise": Engagement(0.8, 1, meet_per_100km=0.15),
    }, 2.0, "barrier_rounds", 4.0, 0.25,
        "guns, MANPADS, interceptor drones, helicopters and fighters along the approaches; "
        "meetings per 100 km calibrated on 2025 (calibrate.py)"),
)}


@dataclass(frozen=True)
class Magazine:
    """Interceptors of one type held by a layer."""

    on_hand: float
    resupply_per_day: float


@dataclass(frozen=True)
class UnitGroup:
    """Fire units of one system in a layer: how many, where (units per target set, for
    capacity), and the share of each set they cover per class (point systems)."""

    system: System
    count: float
    units_at: dict[str, float]
    cover: dict[str, dict[str, float]] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Layer:
    """An air-defence layer: fire units, magazines, electronic warfare."""

    name: str
    groups: tuple[UnitGroup, ...]
    magazines: dict[str, Magazine]
    ew: dict[str, float] = field(default_factory=dict)


def placed_group(system: System, count: float, placement: Mapping[str, float],
                 label: str = "") -> UnitGroup:
    """Units spread over target sets by ``placement`` shares; cover from ranges and radii."""
    total = sum(placement.values()) or 1.0
    units_at = {g: count * placement.get(g, 0.0) / total for g in TARGET_NAMES}
    sets = target_sets()
    cover: dict[str, dict[str, float]] = {}
    for cls, e in system.engages.items():
        cover[cls] = {}
        for g in TARGET_NAMES:
            ts = sets[g]
            per_unit = min(1.0, (e.range_km / ts.site_radius_km) ** 2)
            cover[cls][g] = min(1.0, units_at[g] * per_unit / len(ts.points))
    return UnitGroup(system, count, units_at, cover, label or system.name)


def based_group(system: System, count: float, positions: Sequence[tuple[float, float]],
                label: str = "") -> UnitGroup:
    """Units at positions (``count`` split evenly): a site is covered for a class when it lies
    within the system's range for it (plus the site's radius)."""
    from truceguard.geo.sphere import haversine_m

    sets = target_sets()
    per_pos = count / max(1, len(positions))
    units_at = dict.fromkeys(TARGET_NAMES, 0.0)
    cover: dict[str, dict[str, float]] = {c: dict.fromkeys(TARGET_NAMES, 0.0)
                                          for c in system.engages}
    for lat, lon in positions:
        best, best_d = None, np.inf
        for g in TARGET_NAMES:
            ts = sets[g]
            d = np.array([haversine_m(lat, lon, p[0], p[1]) / 1000.0 for p in ts.points])
            for cls, e in system.engages.items():
                reach = (d <= e.range_km + ts.site_radius_km).astype(float)
                cover[cls][g] = min(1.0, cover[cls][g] + per_pos * reach.mean())
            if d.min() < best_d:
                best, best_d = g, float(d.min())
        if best is not None and best_d <= max(e.range_km for e in system.engages.values()):
            units_at[best] += per_pos
    return UnitGroup(system, count, units_at, cover, label or system.name)


def _running(place: NDArray | None, key: NDArray, weight: NDArray | None) -> NDArray:
    """Inclusive running sum of ``weight`` (``None``: one each) within equal (``place``,
    ``key``), in array order (1-D arrays; ``place`` ``None``: one place). ``key`` is
    nondecreasing in array order as a rule (replication, then half hour, of threats in time
    order); then a stable sort by the small ``place`` is all the ordering needed, else one
    stable sort by both."""
    n = key.size
    if n == 0:
        return np.zeros(0)
    order: NDArray | None = None
    k = key
    if place is not None and place.max() != place.min():
        order = np.argsort(place, kind="stable")
        k = key[order] + place[order].astype(np.int64) * (int(key.max()) + 1)
    if n > 1 and not (k[1:] >= k[:-1]).all():
        full = key if place is None else (
            place.astype(np.int64) * (int(key.max()) + 1) + key)
        order = np.argsort(full, kind="stable")
        k = full[order]
    if weight is None:
        cs = np.arange(1.0, n + 1.0)
        before = cs - 1.0
    else:
        w = (weight if order is None else weight[order]).astype(float)
        cs = np.cumsum(w)
        before = cs - w
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(k[1:], k[:-1], out=start[1:])
    cs -= np.maximum.accumulate(np.where(start, before, 0.0))
    if order is None:
        return cs
    out = np.empty(n)
    out[order] = cs
    return out


def _first_come(key: NDArray, place: NDArray | None, counts: NDArray) -> NDArray:
    """Rank (1, 2, ...) of each element among those with its ``key`` and ``place``, in array
    order; ``counts`` is ``bincount(key x places + place)`` shaped (keys, places) (``place``
    ``None``: one place). With ``key`` nondecreasing in array order (threats in time order),
    where each (place, key) starts in a stable sort by place comes from the counts; otherwise
    :func:`_running`."""
    m = key.size
    if m > 1 and not (key[1:] >= key[:-1]).all():
        return _running(place, key, None)
    if place is None:
        flat = counts.reshape(-1)
        return np.arange(1, m + 1) - (np.cumsum(flat) - flat)[key]
    pos = np.empty(m, dtype=np.intp)
    pos[np.argsort(place, kind="stable")] = np.arange(1, m + 1)
    by_place = counts.T.reshape(-1)
    start = np.cumsum(by_place) - by_place
    return pos - start[place.astype(np.intp) * counts.shape[0] + key]


@dataclass
class Outcome:
    """Per replication: counts by class (launched, destroyed, suppressed, leaked), destroyed
    per layer and group, interceptors fired per layer and type."""

    launched: dict[str, NDArray]
    destroyed: dict[str, NDArray]
    suppressed: dict[str, NDArray]
    leaked: dict[str, NDArray]
    by_group: dict[str, NDArray]
    fired: dict[str, dict[str, NDArray]]

    def defeated_share(self) -> NDArray:
        n = sum(self.launched.values())
        d = sum(self.destroyed.values()) + sum(self.suppressed.values())
        return np.asarray(d / np.maximum(n, 1), dtype=float)


_NC, _NT = len(CLASSES), len(TARGET_NAMES)


def _skip(rng: np.random.Generator, n: int) -> None:
    """Move ``rng`` on by ``n`` uniform draws without making them."""
    bg = rng.bit_generator
    if type(bg) is np.random.PCG64 or type(bg) is np.random.PCG64DXSM:
        bg.advance(n)  # one 64-bit step a double: the same state as drawing them
    else:
        rng.random(n)


@dataclass
class _Rules:
    """A fire-unit group's rules as arrays, one row per layer set (one row when they agree):
    per class in :data:`CLASSES` whether it engages it (the same in every set), kill chance,
    interceptors an engagement, minus meetings per 100 km (barrier), warning needed (0: none);
    per class and target set, flat, the share covered (point); per place (one for a barrier,
    the target sets for a point defence) the engagements a half hour (plus 1e-9), the rounds
    ready over the raid and the share of the magazine; the magazine on hand."""

    barrier: bool
    member: NDArray
    pk: NDArray
    shots: NDArray
    neg_meet: NDArray
    need: NDArray
    cover: NDArray
    per_bin: NDArray
    ready: NDArray
    share: NDArray
    on_hand: NDArray

    @property
    def meets_nothing(self) -> bool:
        return not (self.neg_meet.any() if self.barrier else self.cover.any())


def _one(rows: list[list[float]] | NDArray) -> NDArray:
    a = np.asarray(rows, dtype=float)
    return a[:1] if (a == a[:1]).all() else a


def _figures(lay: Layer, grp: UnitGroup) -> tuple[list[Any], ...]:
    """One group's figures as lists (see :class:`_Rules`): engages, kill chance, shots, minus
    meetings, warning needed, cover, units, count, rate, ready rounds, reload, on hand."""
    sysm = grp.system
    barrier = sysm.mode == "barrier"
    eng = [sysm.engages.get(c) for c in CLASSES]
    no: dict[str, float] = {}
    return ([e is not None for e in eng],
            [e.p_kill if e is not None else 0.0 for e in eng],
            [e.shots if e is not None else 0.0 for e in eng],
            [-e.meet_per_100km if e is not None and barrier else 0.0 for e in eng],
            [e.need_warning_min if e is not None and not barrier else 0.0 for e in eng],
            [0.0] * (_NC * _NT) if barrier else [
                grp.cover.get(c, no).get(g, 0.0) if e is not None else 0.0
                for c, e in zip(CLASSES, eng, strict=True) for g in TARGET_NAMES],
            [grp.count] if barrier else [grp.units_at.get(g, 0.0) for g in TARGET_NAMES],
            [grp.count], [sysm.rate_per_h], [sysm.ready_rounds], [sysm.reload_h],
            [lay.magazines.get(sysm.interceptor, Magazine(0.0, 0.0)).on_hand])


def _rules(lays: Sequence[Layer], grps: Sequence[UnitGroup], duration_h: float) -> _Rules:
    """The rules of one group in each layer set (``grps[i]`` in ``lays[i]``)."""
    barrier = grps[0].system.mode == "barrier"
    seen: dict[tuple[int, int], tuple[list[Any], ...]] = {}
    rows = []
    for lay, grp in zip(lays, grps, strict=True):
        f = seen.get((id(lay), id(grp)))
        if f is None:
            f = seen[id(lay), id(grp)] = _figures(lay, grp)
            if (grp.system.mode == "barrier") != barrier:
                raise ValueError(f"group {grp.label!r} has another mode in another layer set")
        rows.append(f)
    member, pk, shots, neg_meet, need, cover, units, count, rate, ready_rounds, reload, \
        on_hand = (np.array(x, dtype=float) for x in zip(*rows, strict=True))
    if not (member == member[:1]).all():
        raise ValueError(f"group {grps[0].label!r} engages other classes in another layer set")
    share = units / np.maximum(count, 1e-12)
    return _Rules(barrier, member[0] > 0, _one(pk), _one(shots), _one(neg_meet), _one(need),
                  _one(cover), _one(units * rate * BIN_H + 1e-9),
                  _one(units * ready_rounds * (1.0 + np.floor(duration_h / reload))),
                  _one(share), _one(on_hand))


def _at(rule: NDArray, blk: NDArray | None, col: NDArray | int) -> NDArray:
    """``rule[set, col]`` for each element, ``blk`` its layer set (unused with one set)."""
    if rule.shape[0] == 1 or blk is None:
        return np.asarray(rule[0][col])
    return np.asarray(rule.reshape(-1)[blk * rule.shape[1] + col])


def engage(d: RaidDraws, layers: Sequence[Layer], stocks: dict[str, dict[str, NDArray]],
           duration_h: float, rng: np.random.Generator) -> Outcome:
    """One raid's replications against the layers; ``stocks`` (layer -> interceptor -> (R,))
    is drawn down in place.

    Electronic warfare first, then the barrier groups, then the point groups, in layer order.
    Each group works only on the threats it may engage (alive, of a class it engages, with a
    chance above zero of meeting it); every step draws one uniform number per threat of the
    raid (a (R, T) array in time order), so a group with nothing to engage still moves the
    random stream on by as much."""
    return engage_blocks(d, [(d.cls.shape[0], layers)], stocks, duration_h, rng)


def engage_blocks(d: RaidDraws, blocks: Sequence[tuple[int, Sequence[Layer]]],
                  stocks: dict[str, dict[str, NDArray]], duration_h: float,
                  rng: np.random.Generator) -> Outcome:
    """:func:`engage` with consecutive blocks of replications each against its own layers
    (``(replications, layers)`` in row order): the same layers, groups and magazines by name
    in every block, their figures free to differ (a bootstrap draw of the calibration a
    block). One block gives what :func:`engage` gives."""
    r, t = d.cls.shape
    n = r * t
    if sum(k for k, _ in blocks) != r:
        raise ValueError(f"blocks of {[k for k, _ in blocks]} replications for {r} drawn")
    sets = [list(lays) for _, lays in blocks]
    layers = sets[0]
    shape = [(lay.name, [(g.label, g.system.interceptor) for g in lay.groups]) for lay in layers]
    for other in sets[1:]:
        if [(lay.name, [(g.label, g.system.interceptor) for g in lay.groups])
                for lay in other] != shape:
            raise ValueError("the blocks' layers differ in their layers or groups")
    row_set = np.repeat(np.arange(len(blocks)), [k for k, _ in blocks])
    cls = d.cls.reshape(n)
    tgt = d.target.reshape(n)
    ew = []
    for lays in sets:
        p_ew = [0.0] * _NC
        for lay in lays:
            for c, pe in lay.ew.items():
                ci = CLASSES.index(c)
                p_ew[ci] = 1.0 - (1.0 - p_ew[ci]) * (1.0 - pe)
        ew.append(p_ew)
    p_ew2 = _one(ew)
    if p_ew2.shape[0] == 1:
        sup = rng.random(n) < p_ew2[0][cls]
    else:
        sup = rng.random(n) < p_ew2.reshape(-1)[np.repeat(row_set * _NC, t) + cls]
    alive = ~sup
    last_bin = int(duration_h / BIN_H) + 1
    nbins = last_bin + 1
    fired: dict[str, dict[str, NDArray]] = {lay.name: {} for lay in layers}
    labels: list[str] = []
    killed: list[NDArray] = []  # flat indices of the threats each group destroyed
    rare: tuple[NDArray, NDArray] | None = None  # rare classes, flat indices of their threats
    ct: NDArray | None = None  # class x target set, flat
    order = [(li, gi) for barrier in (True, False) for li, lay in enumerate(layers)
             for gi, g in enumerate(lay.groups) if (g.system.mode == "barrier") == barrier]
    for li, gi in order:
        lay, grp = layers[li], layers[li].groups[gi]
        sysm = grp.system
        labels.append(f"{lay.name}:{grp.label}")
        g = _rules([s[li] for s in sets], [s[li].groups[gi] for s in sets], duration_h)
        if g.meets_nothing:
            _skip(rng, n)  # its draw of demand, which could never be used
            killed.append(np.zeros(0, dtype=np.intp))
            continue
        # the threats it may engage (alive, of its classes), their chance of meeting it
        if g.barrier:
            idx = np.flatnonzero(g.member[cls] & alive if not g.member.all() else alive)
            cs_ = cls[idx]
            blk = row_set[idx // t] if g.neg_meet.shape[0] > 1 else None
            want = 1.0 - np.exp(_at(g.neg_meet, blk, cs_) * d.path_km.reshape(n)[idx] / 100.0)
        else:
            pos = np.asarray((g.cover > 0.0).any(axis=0))
            if rare is None:  # the classes that together make up less than a quarter
                share = np.bincount(cls, minlength=_NC) / max(n, 1)
                few = np.cumsum(np.sort(share))[np.argsort(np.argsort(share))] < 0.25
                rare = (few, np.flatnonzero(few[cls]))
            if not (g.member & ~rare[0]).any():  # rare classes only: start from their threats
                sub = rare[1]
                sub = sub[g.member[cls[sub]] & alive[sub]]
                code = cls[sub].astype(np.intp) * _NT + tgt[sub]
                keep = pos[code]
                idx, code = sub[keep], code[keep]
            else:
                if ct is None:
                    ct = cls.astype(np.intp) * _NT + tgt
                idx = np.flatnonzero(pos[ct] & alive)
                code = ct[idx]
            cs_ = cls[idx]
            blk = row_set[idx // t] if g.cover.shape[0] > 1 else None
            want = _at(g.cover, blk, code)
            for cn in np.flatnonzero(g.need.any(axis=0)).tolist():
                sel = cs_ == cn
                if sel.any():
                    row_need = g.need[row_set, cn] if g.need.shape[0] > 1 else np.full(
                        r, g.need[0, cn])
                    has = row_need > 0.0
                    warn = np.where(has, np.minimum(
                        1.0, d.warning_min / np.where(has, row_need, 1.0)), 1.0)
                    want[sel] = want[sel] * warn[idx[sel] // t]
        hit = rng.random(n)[idx] < want
        idx = idx[hit]
        if idx.size == 0:
            killed.append(np.zeros(0, dtype=np.intp))
            continue
        cs_ = cs_[hit]
        row = idx // t
        blk = row_set[row] if len(sets) > 1 else None
        # engagements: the first per_bin that demand one at a place in a half hour
        nplace = g.per_bin.shape[1]
        place: NDArray | None = None
        if not g.barrier:
            place = tgt[idx]
            can = _at(g.per_bin, blk, place) >= 1.0  # a place without units engages nothing
            if not can.all():
                idx, row, cs_, place = idx[can], row[can], cs_[can], place[can]
                blk = None if blk is None else blk[can]
        key = row * nbins
        key += np.minimum((d.hour.reshape(n)[idx] / BIN_H).astype(np.int64), last_bin)
        at = key if place is None else key * nplace + place
        counts = np.bincount(at, minlength=r * nbins * nplace).reshape(-1, nplace)
        busiest = counts.reshape(r, nbins, nplace).max(axis=1)
        if (busiest > (g.per_bin if g.per_bin.shape[0] == 1 else g.per_bin[row_set])).any():
            ok = _first_come(key, place, counts) <= _at(g.per_bin, blk,
                                                        0 if place is None else place)
            idx, row, cs_ = idx[ok], row[ok], cs_[ok]
            place = None if place is None else place[ok]
            blk = None if blk is None else blk[ok]
        # rounds: ready on launchers plus reloads during the raid, within what is on hand
        stock = _stock(stocks, lay.name, sysm.interceptor, g, row_set)
        ready, share = ((g.ready, g.share) if g.ready.shape[0] == g.share.shape[0] == 1
                        else (g.ready[row_set % g.ready.shape[0]],
                              g.share[row_set % g.share.shape[0]]))
        rounds = (np.minimum(ready, stock[:, None] * share) + 1e-9).reshape(-1)
        shots = _at(g.shots, blk, cs_)
        at = row if place is None else row * nplace + place
        if not (np.bincount(at, weights=shots, minlength=r * nplace) <= rounds).all():
            ok = _running(place, row, shots) <= rounds[at]
            idx, row, cs_, shots = idx[ok], row[ok], cs_[ok], shots[ok]
            blk = None if blk is None else blk[ok]
        spent = np.bincount(row, weights=shots, minlength=r)
        stock -= np.minimum(stock, spent)
        f = fired[lay.name]
        f[sysm.interceptor] = f.get(sysm.interceptor, np.zeros(r)) + spent
        kill = idx[rng.random(n)[idx] < _at(g.pk, blk, cs_)]
        alive[kill] = False
        killed.append(kill)
    # counts per replication and class: launched and suppressed in one pass, destroyed per group
    both = d.cls.astype(np.intp) * 2 + sup.reshape(r, t)
    both += (np.arange(r) * (2 * _NC))[:, None]
    cnt = np.bincount(both.reshape(-1), minlength=2 * _NC * r).reshape(r, _NC, 2)
    launched, supp = cnt.sum(axis=2), cnt[:, :, 1]
    k = np.concatenate(killed) if killed else np.zeros(0, dtype=np.intp)
    gid = np.repeat(np.arange(len(killed)), [x.size for x in killed])
    per = np.bincount((gid * r + k // t) * _NC + cls[k], minlength=len(killed) * r * _NC
                      ).reshape(len(killed), r, _NC)
    dest = per.sum(axis=0)
    out = Outcome({}, {}, {}, {}, {}, fired)
    for i, lab in enumerate(labels):
        out.by_group[lab] = per[i].sum(axis=1).astype(float)
    for ci, c in enumerate(CLASSES):
        out.launched[c] = launched[:, ci].astype(float)
        out.destroyed[c] = dest[:, ci].astype(float)
        out.suppressed[c] = supp[:, ci].astype(float)
        out.leaked[c] = (launched[:, ci] - dest[:, ci] - supp[:, ci]).astype(float)
    return out


def _stock(stocks: dict[str, dict[str, NDArray]], layer: str, interceptor: str, g: _Rules,
           row_set: NDArray) -> NDArray:
    """The layer's magazine of ``interceptor`` per replication (full where not yet held)."""
    held = stocks.setdefault(layer, {})
    if interceptor not in held:
        held[interceptor] = g.on_hand[row_set % g.on_hand.shape[0], 0]
    return held[interceptor]


def full_stocks(layers: Sequence[Layer], replications: int) -> dict[str, dict[str, NDArray]]:
    """Every layer's magazines, full, per replication."""
    return {lay.name: {k: np.full(replications, m.on_hand) for k, m in lay.magazines.items()}
            for lay in layers}


def resupply(layers: Sequence[Layer], stocks: dict[str, dict[str, NDArray]], days: float,
             caps: dict[str, dict[str, float]] | None = None) -> None:
    """Add ``days`` of resupply to every magazine, up to its on-hand level (or ``caps``)."""
    for lay in layers:
        for k, m in lay.magazines.items():
            s = stocks[lay.name][k]
            cap = (caps or {}).get(lay.name, {}).get(k, m.on_hand)
            np.minimum(s + m.resupply_per_day * days, cap, out=s)


def with_ew(layer: Layer, **ew: float) -> Layer:
    return replace(layer, ew={**layer.ew, **ew})


# --- scenarios: the coalition's and the US's layers, and the ``air_defence:`` block ---------

@dataclass(frozen=True)
class AirDefenceSpec:
    """The scenario's ``air_defence:`` block (every key optional)."""

    systems: dict[str, str] = field(default_factory=dict)  # pledge id -> SYSTEMS name
    resupply_per_day: dict[str, float] = field(default_factory=dict)  # interceptor -> a day
    targeting: dict[str, float] = field(default_factory=dict)
    belarus_hostile_variants: tuple[str, ...] = ()
    source: str = ""


def parse_air_defence(doc: object, path: str) -> AirDefenceSpec:
    """Read the ``air_defence:`` block of a scenario document (ConfigError naming the key);
    numbers may be ``{value, source, low, high, reason}`` as elsewhere in a scenario."""
    from truceguard.config import ConfigList, ConfigMap
    from truceguard.errors import suggest
    from truceguard.plan.scenario_read import Reader

    if not isinstance(doc, ConfigMap) or "air_defence" not in doc:
        return AirDefenceSpec()
    rd = Reader(path)
    node = rd.mapping(doc, "air_defence", "air_defence")
    known = {"systems", "resupply_per_day", "targeting", "belarus_hostile_variants", "source",
             "note"}
    for k in node:
        if k not in known:
            raise rd.fail(f"air_defence.{k}", "unknown key", node, k, hint=suggest(str(k), known))
    systems = {}
    snode = rd.mapping(node, "systems", "air_defence.systems", required=False)
    for pid, name in snode.items():
        if str(name) not in SYSTEMS:
            raise rd.fail(f"air_defence.systems.{pid}", f"unknown system {name!r}", snode, pid,
                          hint=suggest(str(name), SYSTEMS))
        systems[str(pid)] = str(name)
    rnode = rd.mapping(node, "resupply_per_day", "air_defence.resupply_per_day", required=False)
    resupply = {str(k): rd.number(rnode, k, f"air_defence.resupply_per_day.{k}",
                                  ("air_defence", "resupply_per_day", k), 0.0, 10_000.0).value
                for k in rnode}
    tnode = rd.mapping(node, "targeting", "air_defence.targeting", required=False)
    targeting = {}
    for k in tnode:
        if k not in TARGET_NAMES:
            raise rd.fail(f"air_defence.targeting.{k}", "unknown target set", tnode, k,
                          hint=suggest(str(k), TARGET_NAMES))
        targeting[str(k)] = rd.number(tnode, k, f"air_defence.targeting.{k}",
                                      ("air_defence", "targeting", k), 0.0, 1.0).value
    bv = node.get("belarus_hostile_variants", [])
    if not isinstance(bv, ConfigList | list):
        raise rd.fail("air_defence.belarus_hostile_variants", "must be a list", node,
                      "belarus_hostile_variants")
    return AirDefenceSpec(systems, resupply, targeting, tuple(str(v) for v in bv),
                          str(node.get("source", "")))


def _system_for(pledge_id: str, spec: AirDefenceSpec) -> System:
    name = spec.systems.get(pledge_id)
    if name is None:
        low = pledge_id.lower()
        name = "patriot" if "patriot" in low else "samp_t" if "samp" in low else "medium_sam"
    return SYSTEMS[name]


def pledged_layers(rv: object, spec: AirDefenceSpec) -> list[Layer]:
    """The coalition's and the US's air-defence layers from a resolved variant's pledges:
    batteries at their basing, ``quantity x readiness`` of them, magazines from the
    capability's ``interceptors`` (per battery) with the block's resupply."""
    from truceguard.plan.scenario import ResolvedVariant

    assert isinstance(rv, ResolvedVariant)
    caps = rv.scenario.capabilities
    out: dict[str, tuple[list[UnitGroup], dict[str, Magazine]]] = {}
    for p in rv.pledges:
        cap = caps[p.capability]
        if cap.role != "air_defence":
            continue
        sysm = _system_for(p.id, spec)
        params = {**cap.params, **p.params}
        count = p.quantity * p.readiness
        layer = "us" if p.nation == "USA" else "coalition"
        groups, mags = out.setdefault(layer, ([], {}))
        groups.append(based_group(sysm, count, [(b.lat, b.lon) for b in p.basing],
                                  f"{p.id} ({sysm.name})"))
        per = float(params.get("interceptors", sysm.ready_rounds))
        old = mags.get(sysm.interceptor, Magazine(0.0, spec.resupply_per_day.get(
            sysm.interceptor, 0.0)))
        mags[sysm.interceptor] = Magazine(old.on_hand + per * count, old.resupply_per_day)
    return [Layer(name, tuple(g), m) for name, (g, m) in out.items()]
