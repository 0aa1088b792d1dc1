"""The cost of interceptors spent against the threats they defeat: the exchange ratio.

``data/forces/costs.yaml`` holds unit costs (US dollars, each with its source and, where the
sources differ, a range) of interceptors (Patriot PAC-3 MSE, Aster 30, SM-2, Coyote) and of
the threats (Shahed-type drones, Kh-101 cruise missiles, Iskander-M ballistic missiles).
:func:`exchange_ratio` prices what a raid spent and what it defeated: the ratio is dollars of
interceptors per dollar of threat defeated (above 1, the defender pays more), with the low and
high ends from the cost ranges. :func:`cost_per_kill` prices one kill from a kill chance and
the shots fired per engagement. Costs say nothing of the value of what an interception saves
(CSIS, 2024, warns against reading the ratio alone); decoys carry no published cost and are
reported, not priced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from truceguard.errors import NotFoundError, suggest


@dataclass(frozen=True)
class UnitCost:
    """One item's unit cost in US dollars, with its range and source."""

    name: str
    label: str
    value: float
    low: float
    high: float
    source: str


@cache
def _costs() -> tuple[dict[str, UnitCost], dict[str, UnitCost]]:
    from truceguard.config import load_yaml
    from truceguard.geo.shipped import data_path

    doc = load_yaml(data_path("forces", "costs.yaml"))
    out: list[dict[str, UnitCost]] = []
    for part in ("interceptors", "threats"):
        items = {}
        for name, node in doc[part].items():
            c = node["cost_usd"]
            v = float(c["value"])
            items[str(name)] = UnitCost(str(name), str(node["label"]), v,
                                        float(c.get("low", v)), float(c.get("high", v)),
                                        str(c["source"]))
        out.append(items)
    return out[0], out[1]


def interceptor_costs() -> dict[str, UnitCost]:
    """Interceptor unit costs by name (pac3, aster30, sm2, coyote)."""
    return dict(_costs()[0])


def threat_costs() -> dict[str, UnitCost]:
    """Threat unit costs by class (drone, cruise, ballistic)."""
    return dict(_costs()[1])


def _get(table: dict[str, UnitCost], name: str, what: str) -> UnitCost:
    if name not in table:
        raise NotFoundError(f"no published cost for {what} {name!r}",
                            hint=suggest(name, table), code="not_found.cost")
    return table[name]


def cost_per_kill(interceptor: str, threat: str, pk: float, shots: float = 1.0
                  ) -> dict[str, float]:
    """Dollars of interceptors per threat killed (``shots`` per engagement, each engagement
    killing with probability ``1 - (1 - pk)^shots``), and that over the threat's cost."""
    if not 0.0 < pk <= 1.0 or shots < 1:
        raise ValueError("pk must be in (0, 1] and shots at least 1")
    i = _get(interceptor_costs(), interceptor, "interceptor")
    t = _get(threat_costs(), threat, "threat")
    p_kill = 1.0 - (1.0 - pk) ** shots
    per_kill = i.value * shots / p_kill
    return {"usd_per_kill": per_kill, "threat_usd": t.value,
            "exchange_ratio": per_kill / t.value,
            "exchange_ratio_low": i.low * shots / p_kill / t.high,
            "exchange_ratio_high": i.high * shots / p_kill / t.low}


@dataclass
class Exchange:
    """What a raid (or a campaign of raids) spent and what it defeated, priced."""

    spent_usd: dict[str, float]  # value, low, high
    defeated_usd: dict[str, float]
    exchange_ratio: dict[str, float | None]
    by_interceptor: dict[str, float]  # dollars at the central cost
    by_threat: dict[str, float]
    not_priced: list[str] = field(default_factory=list)  # names with no published cost

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def exchange_ratio(interceptors_used: dict[str, float], defeated: dict[str, float]) -> Exchange:
    """Price ``interceptors_used`` (name -> count) against ``defeated`` (threat class ->
    count destroyed or suppressed). Names without a published cost are listed in
    ``not_priced`` and left out of the sums."""
    icost, tcost = interceptor_costs(), threat_costs()
    not_priced: list[str] = []
    spent = {"value": 0.0, "low": 0.0, "high": 0.0}
    worth = {"value": 0.0, "low": 0.0, "high": 0.0}
    by_i: dict[str, float] = {}
    by_t: dict[str, float] = {}
    for table, counts, acc, by in ((icost, interceptors_used, spent, by_i),
                                   (tcost, defeated, worth, by_t)):
        for name, n in counts.items():
            if n < 0:
                raise ValueError(f"count for {name!r} is negative")
            c = table.get(name)
            if c is None:
                if n:
                    not_priced.append(name)
                continue
            acc["value"] += n * c.value
            acc["low"] += n * c.low
            acc["high"] += n * c.high
            by[name] = n * c.value
    ratio: dict[str, float | None] = {"value": None, "low": None, "high": None}
    if worth["value"] > 0:
        ratio = {"value": spent["value"] / worth["value"],
                 "low": spent["low"] / worth["high"],
                 "high": spent["high"] / worth["low"] if worth["low"] > 0 else None}
    return Exchange(spent, worth, ratio, by_i, by_t, sorted(not_priced))
