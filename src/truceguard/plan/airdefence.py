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
and threats (:func:`_ranked`: ranks within groups by one stable sort).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

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


def _ranked(group: NDArray, weight: NDArray) -> NDArray:
    """Inclusive running sum of ``weight`` within each ``group`` in time order (axis 1)."""
    order = np.argsort(group, axis=1, kind="stable")
    g = np.take_along_axis(group, order, 1)
    w = np.take_along_axis(weight, order, 1).astype(float)
    cs = np.cumsum(w, axis=1)
    start = np.ones(g.shape, dtype=bool)
    start[:, 1:] = g[:, 1:] != g[:, :-1]
    base = np.maximum.accumulate(np.where(start, cs - w, 0.0), axis=1)
    out = np.empty_like(cs)
    np.put_along_axis(out, order, cs - base, 1)
    return out


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


def engage(d: RaidDraws, layers: Sequence[Layer], stocks: dict[str, dict[str, NDArray]],
           duration_h: float, rng: np.random.Generator) -> Outcome:
    """One raid's replications against the layers; ``stocks`` (layer -> interceptor -> (R,))
    is drawn down in place."""
    r, t = d.cls.shape
    alive = np.ones((r, t), dtype=bool)
    killed_by = np.full((r, t), -1, dtype=np.int16)
    suppressed = np.zeros((r, t), dtype=bool)
    is_cls = {c: d.cls == i for i, c in enumerate(CLASSES)}
    ew = np.zeros((r, t))
    for lay in layers:
        for c, p_ew in lay.ew.items():
            ew = np.where(is_cls[c], 1.0 - (1.0 - ew) * (1.0 - p_ew), ew)
    sup = rng.random((r, t)) < ew
    suppressed |= sup
    alive &= ~sup
    tbin = np.minimum((d.hour / BIN_H).astype(np.int64), int(duration_h / BIN_H) + 1)
    nbins = int(duration_h / BIN_H) + 2
    fired: dict[str, dict[str, NDArray]] = {lay.name: {} for lay in layers}
    labels: list[str] = []
    gi = 0
    barrier_first = [(lay, g) for lay in layers for g in lay.groups if g.system.mode == "barrier"]
    points = [(lay, g) for lay in layers for g in lay.groups if g.system.mode == "point"]
    for lay, grp in barrier_first + points:
        sysm = grp.system
        pk = np.zeros((r, t))
        shots = np.zeros((r, t))
        want = np.zeros((r, t))
        for c, e in sysm.engages.items():
            m = is_cls[c]
            if sysm.mode == "barrier":
                p = 1.0 - np.exp(-e.meet_per_100km * d.path_km / 100.0)
            else:
                cov = np.array([grp.cover.get(c, {}).get(g, 0.0) for g in TARGET_NAMES])
                p = cov[d.target]
                if e.need_warning_min > 0:
                    p = p * np.minimum(1.0, d.warning_min / e.need_warning_min)[:, None]
            want = np.where(m, p, want)
            pk = np.where(m, e.p_kill, pk)
            shots = np.where(m, e.shots, shots)
        demand = alive & (rng.random((r, t)) < want)
        if not demand.any():
            labels.append(f"{lay.name}:{grp.label}")
            gi += 1
            continue
        if sysm.mode == "barrier":
            where = np.zeros((r, t), dtype=np.int64)
            units = np.full(1, grp.count)
        else:
            where = d.target.astype(np.int64)
            units = np.array([grp.units_at.get(g, 0.0) for g in TARGET_NAMES])
        per_bin = units * sysm.rate_per_h * BIN_H
        rank = _ranked(where * nbins + tbin, demand)
        ok = demand & (rank <= per_bin[where] + 1e-9)
        # rounds: ready on launchers plus reloads during the raid, within what is on hand
        share = units / max(grp.count, 1e-12)
        ready = units * sysm.ready_rounds * (1.0 + np.floor(duration_h / sysm.reload_h))
        stock = stocks.setdefault(lay.name, {}).setdefault(
            sysm.interceptor, np.full(r, lay.magazines.get(sysm.interceptor,
                                                              Magazine(0.0, 0.0)).on_hand))
        rounds = np.minimum(ready[None, :], stock[:, None] * share[None, :])  # (R, sets)
        used = _ranked(where, np.where(ok, shots, 0.0))
        ok &= used <= np.take_along_axis(rounds, where, 1) + 1e-9
        spent = np.where(ok, shots, 0.0).sum(axis=1)
        stock -= np.minimum(stock, spent)
        f = fired[lay.name]
        f[sysm.interceptor] = f.get(sysm.interceptor, np.zeros(r)) + spent
        kill = ok & (rng.random((r, t)) < pk)
        killed_by[kill] = gi
        alive &= ~kill
        labels.append(f"{lay.name}:{grp.label}")
        gi += 1
    out = Outcome({}, {}, {}, {}, {}, fired)
    for c in CLASSES:
        m = is_cls[c]
        out.launched[c] = m.sum(axis=1).astype(float)
        out.destroyed[c] = (m & (killed_by >= 0)).sum(axis=1).astype(float)
        out.suppressed[c] = (m & suppressed).sum(axis=1).astype(float)
        out.leaked[c] = (m & alive).sum(axis=1).astype(float)
    for i, lab in enumerate(labels):
        out.by_group[lab] = (killed_by == i).sum(axis=1).astype(float)
    return out


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
