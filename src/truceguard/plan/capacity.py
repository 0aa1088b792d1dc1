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
    """Every random number of ``R`` replications of one raid of ``T`` threats."""

    kind: NDArray  # (R, T) int8: DRONE or MISSILE, in arrival order
    site: NDArray  # (R, T) int: target site
    entry: NDArray  # (R, T) int: entry point index
    u_fighter: NDArray  # (R, T)
    u_ukraine: NDArray  # (R, T)
    u_battery: NDArray  # (R, T, MAX_SHOTS)


def raid_draws(rng: np.random.Generator, replications: int, drones: int, missiles: int,
               site_weights: NDArray, n_entries: int) -> RaidDraws:
    """Arrival order, targets, entry points and every kill draw, for ``replications`` raids."""
    r, t = replications, drones + missiles
    kinds = np.concatenate([np.full(drones, DRONE), np.full(missiles, MISSILE)]).astype(np.int8)
    kind = np.stack([rng.permutation(kinds) for _ in range(r)]) if t else np.empty((r, 0),
                                                                                    np.int8)
    p = np.asarray(site_weights, dtype=float)
    site = rng.choice(len(p), size=(r, t), p=p / p.sum())
    entry = rng.integers(0, max(1, n_entries), size=(r, t))
    return RaidDraws(kind, site, entry, rng.random((r, t)), rng.random((r, t)),
                     rng.random((r, t, MAX_SHOTS)))


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
    r, t = d.kind.shape
    nb = force.stock.shape[0]
    stock = np.tile(force.stock.astype(float), (r, 1))
    fshots = np.full(r, float(force.fighter_shots))
    defeated = np.zeros(r)
    by_force = np.zeros(r)
    rows = np.arange(r)
    kmax = force.shots.max(axis=0) if nb else np.zeros(2, dtype=int)  # per kind
    step_shots = np.where((d.kind == MISSILE).any(axis=0), kmax.max(), kmax[DRONE])
    use_fighters = force.fighter_shots > 0
    for i in range(t):
        kind = d.kind[:, i]
        site = d.site[:, i]
        alive = np.ones(r, dtype=bool)
        if use_fighters:
            engage = force.reachable[kind, d.entry[:, i], site] & (fshots >= 1)
            fshots -= engage
            kill = engage & (d.u_fighter[:, i] < force.fighter_pk[kind])
            by_force += kill
            alive &= ~kill
        alive &= ~(d.u_ukraine[:, i] < force.ukraine_pk[kind])
        if nb:
            avail = force.cover[site] & (stock >= 1)
            b = np.argmax(np.where(avail, stock, -1.0), axis=1)
            has = avail[rows, b]
            pk = force.pk[b, kind]
            shots = force.shots[b, kind]
            for k in range(int(step_shots[i])):
                fire = alive & has & (k < shots) & (stock[rows, b] >= 1)
                stock[rows, b] -= fire
                kill = fire & (d.u_battery[:, i, k] < pk)
                by_force += kill
                alive &= ~kill
        defeated += ~alive
    uncovered = np.asarray(~(force.cover[None, :, :] & (stock[:, None, :] >= 1)).any(axis=2))
    return RaidOutcome(defeated, by_force, uncovered, stock, t)


def summarise(outcome: RaidOutcome, drones: int, missiles: int, site_names: NDArray,
              ) -> dict[str, object]:
    """The figures ``results.json`` gives per raid size."""
    n = max(1, outcome.threats)
    unc = outcome.uncovered.mean(axis=0)
    return {
        "drones": drones,
        "missiles": missiles,
        "defeated_share": float(outcome.defeated.mean() / n),
        "defeated_by_force_share": float(outcome.defeated_by_force.mean() / n),
        "sites_uncovered": float(outcome.uncovered.sum(axis=1).mean()),
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
