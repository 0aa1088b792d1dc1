"""Capacity: what a pledge's size buys. Erlang loss for pools, and raids shot by shot.

- A pool of ``c`` units, each busy ``h`` hours per task, facing tasks at ``lam`` a day, is
  all busy (a new task finds no unit) with the Erlang B probability ``B(c, lam * h / 24)``.
  Quick-reaction units of the reassurance force and fighter pairs are such pools.
- A raid of N drones and M missiles against the protected sites is answered shot by shot in
  the order the threats arrive: fighters spend their shots on the threats whose path they
  can reach (within their stand-off), Ukraine's own air defence downs its share of the rest,
  and the battery covering the target site fires until it kills or runs out of interceptors.
  The result per raid size: the share defeated, the share the force defeated, the sites left
  uncovered (no battery in range, or every battery in range empty) at the end.

:func:`run_raids` works on ``R`` replications at once: one pass over the threats, each step
vectorised over replications and batteries; every random number is drawn up front
(:func:`raid_draws`), so another implementation given the same draws gives the same answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from truceguard.plan.stats import Z95

DRONE, MISSILE = 0, 1
MAX_SHOTS = 4


def erlang_b(servers: int, load: float) -> float:
    """Probability that all ``servers`` are busy when a task arrives (offered ``load`` in
    erlangs); 1 with no server, 0 with no load."""
    if servers <= 0:
        return 1.0
    if load <= 0:
        return 0.0
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b


@dataclass(frozen=True)
class RaidForce:
    """What answers a raid: per-battery stocks and kill chances, the fighters' shots, and
    Ukraine's own air defence."""

    cover: NDArray  # (sites, batteries) bool: the battery's range reaches the site
    stock: NDArray  # (batteries,) interceptors for the whole raid (ready x (1 + reloads))
    pk: NDArray  # (batteries, 2) kill chance per shot, drone / missile
    shots: NDArray  # (batteries, 2) interceptors fired at one drone / missile
    fighter_shots: int  # air-to-air shots for the whole raid
    fighter_pk: NDArray  # (2,) kill chance per fighter shot
    reachable: NDArray  # (2, entries, sites) bool: fighters can meet the threat's path
    ukraine_pk: NDArray  # (2,) Ukraine's own defence, share downed


@dataclass(frozen=True)
class RaidDraws:
    """Every random number of ``R`` replications of one raid of ``T`` threats, laid out
    threat by threat (one contiguous row of replications per threat)."""

    kind: NDArray  # (T, R) int8: DRONE or MISSILE, in arrival order
    site: NDArray  # (T, R) int: target site
    entry: NDArray  # (T, R) int: entry point index
    u_fighter: NDArray  # (T, R)
    u_ukraine: NDArray  # (T, R)
    u_battery: NDArray  # (T, MAX_SHOTS, R)


def raid_draws(rng: np.random.Generator, replications: int, drones: int, missiles: int,
               site_weights: NDArray, n_entries: int) -> RaidDraws:
    """Arrival order, targets, entry points and every kill draw, for ``replications`` raids."""
    r, t = replications, drones + missiles
    kinds = np.concatenate([np.full(drones, DRONE), np.full(missiles, MISSILE)]).astype(np.int8)
    kind = (np.stack([rng.permutation(kinds) for _ in range(r)], axis=1) if t and r
            else np.empty((t, r), np.int8))
    p = np.asarray(site_weights, dtype=float)
    site = rng.choice(len(p), size=(t, r), p=p / p.sum())
    entry = rng.integers(0, max(1, n_entries), size=(t, r))
    return RaidDraws(kind, site, entry, rng.random((t, r)), rng.random((t, r)),
                     rng.random((t, MAX_SHOTS, r)))


@dataclass(frozen=True)
class RaidOutcome:
    """Per replication: threats defeated (all layers, and by the force), interceptors left,
    and which sites end the raid uncovered."""

    defeated: NDArray  # (R,)
    defeated_by_force: NDArray  # (R,)
    uncovered: NDArray  # (R, sites) bool
    stock_left: NDArray  # (R, batteries)
    threats: int


def run_raids(force: RaidForce, d: RaidDraws) -> RaidOutcome:
    """Answer every replication's raid, threat by threat (module docstring)."""
    t, r = d.kind.shape
    active = np.flatnonzero(force.cover.any(axis=0))  # batteries that cover some site
    nb = len(active)
    stock_all = np.tile(force.stock.astype(float), (r, 1))
    stock = stock_all[:, active]
    fshots = np.full(r, float(force.fighter_shots))
    alive_all = np.ones((t, r), dtype=bool)
    by_force = np.zeros(r)
    kind = d.kind
    if force.fighter_shots > 0:
        reach = force.reachable[kind, d.entry, d.site]
        f_kill = d.u_fighter < force.fighter_pk[kind]
    ua_kill = d.u_ukraine < force.ukraine_pk[kind]
    pk_all, shots_all = force.pk[active], force.shots[active]
    if nb:
        covers = force.cover[:, active][d.site]  # (T, R, active batteries)
        covered = covers.any(axis=2)
        u_bat = d.u_battery
        kmax = shots_all.max(axis=0)
        step_shots = np.where((kind == MISSILE).any(axis=1), kmax.max(), kmax[DRONE])
    for i in range(t):
        alive = alive_all[i]
        if force.fighter_shots > 0:
            engage = reach[i] & (fshots >= 1)
            fshots -= engage
            kill = engage & f_kill[i]
            by_force += kill
            alive &= ~kill
        alive &= ~ua_kill[i]
        if nb:  # only the replications whose threat still flies at a covered site
            sel = np.flatnonzero(alive & covered[i])
            if len(sel):
                st = stock[sel]
                avail = covers[i, sel] & (st >= 1)
                b = np.argmax(np.where(avail, st, -1.0), axis=1)
                at = np.arange(len(sel))
                has = avail[at, b]
                fire_ok = has.copy()
                ks = kind[i, sel]
                pk, shots = pk_all[b, ks], shots_all[b, ks]
                for k in range(int(step_shots[i])):
                    fire = fire_ok & (k < shots) & (st[at, b] >= 1)
                    st[at, b] -= fire
                    kill = fire & (u_bat[i, k, sel] < pk)
                    by_force[sel] += kill
                    fire_ok &= ~kill
                stock[sel] = st
                alive[sel[has & ~fire_ok]] = False
    stock_all[:, active] = stock
    defeated = t - alive_all.sum(axis=0)
    uncovered = np.asarray(~(force.cover[None, :, :] & (stock_all[:, None, :] >= 1)).any(
        axis=2))
    return RaidOutcome(defeated.astype(float), by_force, uncovered, stock_all, t)




def mean_ci(x: NDArray, z: float = Z95, lo: float = -math.inf, hi: float = math.inf
            ) -> list[float | None]:
    """The 95% interval of the mean of the replications ``x``: mean plus or minus ``z``
    standard errors (sample standard deviation over the square root of the count), clipped
    to [lo, hi]; [None, None] with fewer than two replications."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return [None, None]
    m, se = float(x.mean()), float(x.std(ddof=1)) / math.sqrt(len(x))
    return [max(lo, m - z * se), min(hi, m + z * se)]


def summarise(outcome: RaidOutcome, drones: int, missiles: int, site_names: NDArray,
              ) -> dict[str, object]:
    """The figures ``results.json`` gives per raid size: means over the replications, each
    with its 95% interval (``*_ci``, :func:`mean_ci`)."""
    n = max(1, outcome.threats)
    unc = outcome.uncovered.mean(axis=0)
    per_rep = outcome.uncovered.sum(axis=1)
    return {
        "drones": drones,
        "missiles": missiles,
        "replications": int(len(outcome.defeated)),
        "defeated_share": float(outcome.defeated.mean() / n),
        "defeated_share_ci": mean_ci(outcome.defeated / n, lo=0.0, hi=1.0),
        "defeated_by_force_share": float(outcome.defeated_by_force.mean() / n),
        "defeated_by_force_share_ci": mean_ci(outcome.defeated_by_force / n, lo=0.0, hi=1.0),
        "sites_uncovered": float(per_rep.mean()),
        "sites_uncovered_ci": mean_ci(per_rep, lo=0.0, hi=float(len(site_names))),
        "sites_uncovered_names": [str(s) for s, u in zip(site_names, unc, strict=True)
                                  if u >= 0.5],
        "interceptors_left": float(outcome.stock_left.sum(axis=1).mean()),
    }


def raid_stock(interceptors: NDArray, reloads: NDArray) -> NDArray:
    """Interceptors a battery can fire in one raid: ready ones plus the reloads it completes."""
    return np.floor(interceptors * (1.0 + reloads))


def fighter_shots(jets: NDArray, readiness: NDArray, sorties_per_day: NDArray,
                  shots_per_sortie: NDArray, duration_h: float) -> int:
    """Air-to-air shots the fighters can fire during a raid of ``duration_h`` hours."""
    sorties = jets * readiness * sorties_per_day * duration_h / 24.0
    return int(math.floor(float((sorties * shots_per_sortie).sum())))
