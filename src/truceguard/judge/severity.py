"""Severity: how grave a breach is, by the kind of clause, the weapon and the harm.

The table (``truceguard/data/severity.yaml``) names the levels (1 low .. 4 critical), a base
level per clause kind (a terms file may override it, see :mod:`truceguard.judge.terms`), and
rules that raise or lower it, each with its reason: fire from a heavy weapon, people killed,
fire on a settlement, a light weapon in a withdrawal zone. Every rule whose conditions hold
adds its step; the sum is kept within the levels. :func:`grade` does this for all breaches of
one clause at once and says which rules applied (a bit mask over ``SeverityTable.rules``), so
that a violation can give its reasons.

Harm: :func:`killed_of` reads the deaths a record reports (UCDP's best estimate ``best``, a
monitor's harm report ``killed``); :func:`view_killed` gives each incident view the most any
of its records reports (several sources of one event report the same deaths: not a sum).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from truceguard.config import ConfigMap, load_yaml
from truceguard.errors import ConfigError, InputError
from truceguard.geo.shipped import data_path
from truceguard.judge.terms_model import FLIGHT_CATEGORIES, LIVE_FIRE_CATEGORIES
from truceguard.model import WEAPON_CLASSES, Observation

if TYPE_CHECKING:
    from truceguard.store.base import Store

_RULE_KEYS = {"id", "kinds", "weapons", "min_killed", "on_settlement", "add", "reason"}
_TOP_KEYS = {"levels", "kinds", "settlement_km", "rules"}
MAX_RULES = 31  # a breach's applied rules are a bit mask in an int32
# The kinds of event whose records may report deaths (``view_killed`` reads only these).
HARM_CATEGORIES: tuple[str, ...] = (
    *LIVE_FIRE_CATEGORIES, *FLIGHT_CATEGORIES, "mine", "explosive_remnant", "low_clarity", "other",
)  # fmt: skip


@dataclass(frozen=True)
class SeverityRule:
    """One step up or down: ``add`` levels where the clause kind is one of ``kinds`` and, when
    given, the weapon class is one of ``weapons``, at least ``min_killed`` people were killed,
    and the position lies on a settlement (``on_settlement``)."""

    id: str
    kinds: tuple[str, ...]
    add: int
    reason: str
    weapons: tuple[str, ...] = ()
    min_killed: int = 0
    on_settlement: bool = False


@dataclass(frozen=True)
class SeverityTable:
    """The levels (number -> name), the base level per clause kind, the rules, and the
    distance (km) within which a position counts as on a settlement."""

    levels: Mapping[int, str]
    kinds: Mapping[str, int]
    rules: tuple[SeverityRule, ...]
    settlement_km: float = 2.0

    @property
    def lowest(self) -> int:
        return min(self.levels)

    @property
    def highest(self) -> int:
        return max(self.levels)

    def reasons(self, mask: int) -> list[str]:
        """The reasons of the rules in a bit mask (as :func:`grade` returns it)."""
        return [r.reason for k, r in enumerate(self.rules) if mask >> k & 1]


def parse_severity(doc: Any, path: str = "<severity>") -> SeverityTable:
    """A severity table from a parsed YAML document (ConfigError naming the key)."""
    def fail(key: str, why: str, line: int | None = None) -> ConfigError:
        return ConfigError(path, key, why, line)

    if not isinstance(doc, ConfigMap):
        raise fail("(file)", "expected a mapping")
    for k in doc:
        if str(k) not in _TOP_KEYS:
            raise fail(str(k), f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})",
                       doc.lines.get(k))  # fmt: skip
    try:
        levels = {int(k): str(v) for k, v in doc["levels"].items()}
        kinds = {str(k): int(v) for k, v in doc["kinds"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise fail("levels", "levels (number: name) and kinds (kind: number) are needed") from None
    for kind, v in kinds.items():
        if v not in levels:
            raise fail(f"kinds.{kind}", f"{v} is not a level ({', '.join(map(str, levels))})")
    raw = doc.get("rules") or []
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise fail("rules", f"expected a list of at most {MAX_RULES} rules")
    rules = tuple(_rule(r, f"rules[{i}]", set(kinds), fail) for i, r in enumerate(raw))
    if len({r.id for r in rules}) != len(rules):
        raise fail("rules", "two rules share an id")
    km = doc.get("settlement_km", 2.0)
    if isinstance(km, bool) or not isinstance(km, int | float) or km <= 0:
        raise fail("settlement_km", f"expected a distance in km > 0, got {km!r}")
    return SeverityTable(levels, kinds, rules, float(km))


def _rule(m: Any, key: str, kinds: set[str], fail: Any) -> SeverityRule:
    if not isinstance(m, ConfigMap):
        raise fail(key, "expected a mapping")
    unknown = set(map(str, m)) - _RULE_KEYS
    if unknown:
        raise fail(f"{key}.{sorted(unknown)[0]}",
                   f"unknown key (known: {', '.join(sorted(_RULE_KEYS))})")
    for need in ("id", "kinds", "add", "reason"):
        if need not in m:
            raise fail(f"{key}.{need}", "missing", m.line)
    names = {"kinds": kinds, "weapons": set(WEAPON_CLASSES)}
    lists: dict[str, tuple[str, ...]] = {}
    for k, known in names.items():
        v = m.get(k) or []
        if not isinstance(v, list) or any(str(x) not in known for x in v):
            raise fail(f"{key}.{k}", f"expected a list of: {', '.join(sorted(known))}",
                       m.lines.get(k))  # fmt: skip
        lists[k] = tuple(str(x) for x in v)
    add, killed, on = m["add"], m.get("min_killed", 0), m.get("on_settlement", False)
    if isinstance(add, bool) or not isinstance(add, int):
        raise fail(f"{key}.add", f"expected a whole number of levels, got {add!r}", m.lines["add"])
    if isinstance(killed, bool) or not isinstance(killed, int) or killed < 0:
        raise fail(f"{key}.min_killed", f"expected a count >= 0, got {killed!r}")
    if not isinstance(on, bool):
        raise fail(f"{key}.on_settlement", "expected true or false")
    return SeverityRule(id=str(m["id"]), kinds=lists["kinds"], add=add,
                        reason=" ".join(str(m["reason"]).split()), weapons=lists["weapons"],
                        min_killed=killed, on_settlement=on)  # fmt: skip


@cache
def shipped_severity() -> SeverityTable:
    """The shipped table, ``data/severity.yaml``."""
    path = data_path("severity.yaml")
    return parse_severity(load_yaml(path), str(path))


def grade(table: SeverityTable, kind: str, base: int, weapon: NDArray[np.int16],
          killed: NDArray[np.int64], on_settlement: NDArray[np.bool_]
          ) -> tuple[NDArray[np.int8], NDArray[np.int32]]:  # fmt: skip
    """Severity and applied rules (bit mask over ``table.rules``) of breaches of one clause
    of ``kind`` whose level before the rules is ``base``: ``weapon`` holds WEAPON_CLASSES
    codes, ``killed`` the deaths reported, ``on_settlement`` whether each lies on one."""
    n = weapon.size
    level = np.full(n, base, np.int64)
    mask = np.zeros(n, np.int32)
    for k, rule in enumerate(table.rules):
        if kind not in rule.kinds:
            continue
        hit = np.ones(n, bool)
        if rule.weapons:
            hit &= np.isin(weapon, [WEAPON_CLASSES.index(w) for w in rule.weapons])
        if rule.min_killed:
            hit &= killed >= rule.min_killed
        if rule.on_settlement:
            hit &= on_settlement
        level += rule.add * hit
        mask |= np.where(hit, np.int32(1 << k), np.int32(0))
    return np.clip(level, table.lowest, table.highest).astype(np.int8), mask


def killed_of(obs: Observation) -> int:
    """The deaths one record reports: a monitor's harm report's ``killed``, else UCDP's best
    estimate (``best``); 0 when it says none."""
    if obs.report is not None and obs.report.killed:
        return int(obs.report.killed)
    best = obs.attributes.get("best")
    try:
        return max(0, int(str(best))) if best not in (None, "") else 0
    except ValueError:
        return 0


def killed_per_view(members: Iterable[Iterable[Observation]]) -> NDArray[np.int64]:
    """Per view (its records), the most deaths any one of its records reports."""
    return np.array([max((killed_of(o) for o in obs), default=0) for obs in members], np.int64)


def view_killed(store: Store, v: Mapping[str, Any],
                categories: Iterable[str] = HARM_CATEGORIES) -> NDArray[np.int64]:  # fmt: skip
    """Per view of ``v`` (``store.view_arrays``): the deaths its records report (the most of
    any one), reading only the records of views of ``categories`` (the kinds of event that
    harm: fire, deadly events; a chained track of sightings is not read)."""
    n = int(np.asarray(v["incident_id"]).size)
    cats = tuple(categories)
    ask: NDArray[np.intp] = (np.flatnonzero(np.isin(np.asarray(v["category"]).astype(str), cats))
                             if n else np.zeros(0, np.intp))  # fmt: skip
    out = np.zeros(n, np.int64)
    if ask.size == 0:
        return out
    parents = sorted({int(v["parent_id"][i]) for i in ask})
    by_parent: dict[int, list[tuple[int, Observation]]] = {}
    for mid, obs in store.evidence_observations(parents, cats):
        by_parent.setdefault(int(obs.incident_id or 0), []).append((mid, obs))
    for i in ask.tolist():
        sig = {int(m) for m in str(v["sig"][i]).split(",")}
        part = {int(m) for m in str(v["members"][i]).split(",") if m}
        mine = [o for mid, o in by_parent.get(int(v["parent_id"][i]), [])
                if mid in sig and (not part or o.obs_id in part)]  # fmt: skip
        out[i] = killed_per_view([mine])[0]
    return out


def killed_array(killed: ArrayLike | None, n: int) -> NDArray[np.int64]:
    """Deaths per incident as a checked array (default: none reported)."""
    if killed is None:
        return np.zeros(n, np.int64)
    arr = np.asarray(killed).ravel()
    if arr.size != n:
        raise InputError(f"killed has {arr.size} values for {n} positions")
    return np.nan_to_num(arr.astype(float), nan=0.0).clip(0).astype(np.int64)
