"""Force generation: what the pledges deploy, what the requirements ask, what rotation costs.

The rule of thirds: keeping N deployed takes a pool of about ``pool_factor`` x N (one deployed,
one preparing, one recovering). Over a horizon of H months with tours of T months, a force of N
deployed sends N x H / T people in turn (64,000 for two years in 6-month tours: 256,000).

:func:`campaign_pools` checks a 12-month campaign at 1:3 rotation against published
inventories (``data/forces/inventories.yaml``: army sizes, fighter fleets, air-defence
batteries by nation): each nation's pool is within, strains (half or more), or is beyond its
inventory, or no inventory was checked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from truceguard.plan.coverage import Coverage
from truceguard.plan.scenario import UNITS, ResolvedVariant

PERSONNEL = ("ground_force", "support")


def pool_needed(deployed: float, pool_factor: float = 3.0) -> float:
    """The pool that sustains ``deployed`` under the rule of thirds (or another factor)."""
    return deployed * pool_factor


def over_horizon(deployed: float, tour_months: float = 6.0, horizon_months: float = 24.0) -> float:
    """People sent in turn to keep ``deployed`` in place for the horizon (each tour a new
    contingent): deployed x horizon / tour."""
    if tour_months <= 0:
        raise ValueError("tour_months must be positive")
    return deployed * horizon_months / tour_months


@dataclass(frozen=True)
class ForceRow:
    """One line of the force-generation table (by role: ground_force, fighter, air_defence,
    sensor, support); nation '' is the total for the role."""

    capability: str
    unit: str
    nation: str
    pledged: float  # deployed at any one time, as pledged
    pool_needed: float  # pool that sustains the pledged number
    over_horizon: float | None  # people sent in turn over the horizon (personnel only)
    required: float | None  # deployed, per the requirements (totals only)
    pool_for_required: float | None
    gap: float | None  # required - pledged, never below 0 (totals only)
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def required_deployed(rv: ResolvedVariant, cov: Coverage) -> dict[str, tuple[float, str]]:
    """Required deployed units per capability, each with the arithmetic that produced it."""
    req = rv.requirements
    line_km = float(cov.line_weight.sum()) / 1000.0
    per_km = float(req["ground_troops_per_km"].value)
    det = float(req["fighter_detachments"].value)
    per_det = float(req["fighters_per_detachment"].value)
    ready = float(req["fighter_readiness"].value)
    fighters = math.ceil(det * per_det / ready) if ready > 0 else float("inf")
    out: dict[str, tuple[float, str]] = {
        "ground_force": (math.ceil(per_km * line_km),
                         f"{per_km:g} per km x {line_km:,.0f} km of line"),
        "fighter": (fighters, f"{det:g} detachments x {per_det:g} / {ready:.0%} readiness"),
    }
    ad_have = sum(p.quantity for p in rv.pledges
                  if rv.scenario.capabilities[p.capability].role == "air_defence")
    out["air_defence"] = (ad_have + cov.air_defence_gap_batteries,
                          f"pledged plus {cov.air_defence_gap_batteries} to cover every "
                          "protected site (greedy)")
    return out


def force_table(rv: ResolvedVariant, cov: Coverage) -> list[ForceRow]:
    """Per capability and nation: pledged, pool needed, over the horizon; totals with gaps."""
    fg = rv.scenario.force_generation
    factor = float(fg["pool_factor"].value)
    tour = float(fg["tour_months"].value)
    horizon = float(fg["horizon_months"].value)
    required = required_deployed(rv, cov)
    rows: list[ForceRow] = []
    caps = rv.scenario.capabilities
    for role in UNITS:
        pledges = [p for p in rv.pledges if caps[p.capability].role == role]
        req = required.get(role)
        if not pledges and req is None:
            continue
        cap = role
        by_nation: dict[str, float] = {}
        for p in pledges:
            by_nation[p.nation] = by_nation.get(p.nation, 0.0) + p.quantity
        personnel = role in PERSONNEL
        for nation, qty in sorted(by_nation.items()):
            rows.append(ForceRow(cap, UNITS[cap], nation, qty, pool_needed(qty, factor),
                                 over_horizon(qty, tour, horizon) if personnel else None,
                                 None, None, None))
        total = sum(by_nation.values())
        need = req[0] if req else None
        rows.append(ForceRow(
            cap, UNITS[cap], "", total, pool_needed(total, factor),
            over_horizon(total, tour, horizon) if personnel else None,
            need, pool_needed(need, factor) if need is not None else None,
            max(0.0, need - total) if need is not None else None,
            req[1] if req else "",
        ))
    return rows


def gaps(rows: list[ForceRow]) -> dict[str, float]:
    """What is missing, in units, per capability with a requirement (from the total rows)."""
    return {r.capability: float(r.gap) for r in rows if r.nation == "" and r.gap is not None}


# --- A 12-month campaign at 1:3 rotation, checked against published inventories -----------

STRAIN_SHARE = 0.5  # assumption (0.33-0.67): a nation keeps at least half for home and NATO
CAMPAIGN_MONTHS = 12.0
ROTATION = 3.0  # 1:3: one deployed, one preparing, one recovering (the rule of thirds)
PLEDGE_ROLES = ("ground_force", "fighter", "air_defence")


@dataclass(frozen=True)
class Inventory:
    """A published count: what it counts, when, and where it is from."""

    nation: str
    category: str
    value: float
    as_of: str
    source: str


def inventories() -> dict[tuple[str, str], Inventory]:
    """The shipped inventories (``data/forces/inventories.yaml``), by (nation, category)."""
    return dict(_inventories()[0])


@lru_cache(maxsize=1)
def _inventories() -> tuple[dict[tuple[str, str], Inventory], dict[str, Any]]:
    """The shipped file read once (a plan asks for it for every pledge); not to be changed."""
    from truceguard.config import load_yaml
    from truceguard.geo.shipped import data_path

    doc = load_yaml(data_path("forces", "inventories.yaml"))
    out = {}
    for nation, cats in doc["inventories"].items():
        for cat, node in cats.items():
            out[(str(nation), str(cat))] = Inventory(str(nation), str(cat), float(node["value"]),
                                                     str(node["as_of"]), str(node["source"]))
    return out, dict(doc["categories"])


def inventory_category(role: str, nation: str) -> str | None:
    """The inventory a pledge of ``role`` by ``nation`` draws on (None: none published)."""
    cat = _inventories()[1].get(role)
    if isinstance(cat, dict):
        return cat.get(nation)
    return cat


@dataclass(frozen=True)
class PoolCheck:
    """One nation's pledges of one kind over the campaign: what is deployed, the pool the
    rotation needs behind it, and how that compares with the published inventory."""

    nation: str
    role: str
    unit: str
    pledges: tuple[str, ...]
    deployed: float
    pool_needed: float
    months: float
    rotation: float
    contingents: float | None  # personnel: tours sent over the campaign
    inventory: float | None
    inventory_as_of: str
    inventory_source: str
    share_of_inventory: float | None
    flag: str  # within | strains inventory | beyond inventory | no published inventory

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def campaign_pools(rv: ResolvedVariant, months: float = CAMPAIGN_MONTHS,
                   rotation: float = ROTATION) -> list[PoolCheck]:
    """Per nation and kind of pledge (troops, fighters, air-defence batteries): the pool a
    ``months``-long campaign at 1:``rotation`` needs (deployed x rotation), against the
    published inventory: beyond it, or above :data:`STRAIN_SHARE` of it, is flagged; so is a
    pledge with no inventory checked."""
    if months <= 0 or rotation < 1:
        raise ValueError("months must be positive and rotation at least 1")
    tour = float(rv.scenario.force_generation["tour_months"].value)
    caps = rv.scenario.capabilities
    groups: dict[tuple[str, str], list[Any]] = {}
    for p in rv.pledges:
        role = caps[p.capability].role
        if role in PLEDGE_ROLES:
            groups.setdefault((p.nation, role), []).append(p)
    inv = inventories()
    rows = []
    for (nation, role), ps in sorted(groups.items()):
        deployed = float(sum(p.quantity for p in ps))
        pool = pool_needed(deployed, rotation)
        cat = inventory_category(role, nation)
        have = inv.get((nation, cat)) if cat else None
        share = pool / have.value if have and have.value > 0 else None
        if have is None:
            flag = "no published inventory"
        elif share is not None and share > 1.0:
            flag = "beyond inventory"
        elif share is not None and share >= STRAIN_SHARE:
            flag = "strains inventory"
        else:
            flag = "within"
        rows.append(PoolCheck(
            nation, role, UNITS[role], tuple(p.id for p in ps), deployed, pool, months,
            rotation, deployed * months / tour if role in PERSONNEL else None,
            have.value if have else None, have.as_of if have else "",
            have.source if have else "", share, flag))
    return rows
