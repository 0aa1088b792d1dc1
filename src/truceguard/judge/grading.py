"""Confidence grades for incidents, from ordered rules kept as configuration.

The shipped rules (``truceguard/data/grading.yaml``) follow the practice described in the
project's monitoring notes: Airwars grades incidents confirmed / fair / weak / contested, the
OSCE SMM says how each observation was known. An incident is *verified* with two or more
independent sources or one trusted sensor, *probable* with several reports from one origin,
*single_source* with one report, *contested* when parties contradict each other or the reports
disagree on what happened. A user file with the same keys replaces the shipped one.

Rules are tried in order; the first whose conditions all hold wins and its reason (a format
string over the evidence) says why. The same file holds the thresholds for judging and
writing uncertain positions (``location``: :class:`LocationRules`), each with its reason.
The file is read by :mod:`truceguard.config`; a bad file raises
:class:`truceguard.errors.ConfigError` naming the key and its line.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from truceguard.config import ConfigList, ConfigMap, load_yaml
from truceguard.errors import ConfigError
from truceguard.geo.shipped import data_path
from truceguard.model import HOW_KNOWN

# Condition name -> the type its value must have.
CONDITIONS: dict[str, type] = {
    "min_independent_sources": int,
    "max_independent_sources": int,
    "min_trusted": int,
    "min_observations": int,
    "max_observations": int,
    "min_party_origins": int,
    "conflicting_categories": bool,
    "conflicting_weapon_classes": bool,
}

# Names a reason may use.
REASON_FIELDS = frozenset(
    {
        "n_observations",
        "independent_sources",
        "trusted",
        "party_origins",
        "category",
        "categories",
        "weapon_class",
        "weapon_classes",
    }
)

_TOP_KEYS = frozenset(
    {
        "version",
        "trusted_how_known",
        "party_how_known",
        "conflict_share",
        "default_uncertainty_m",
        "location",
        "grades",
    }
)

# The location thresholds: name -> (lowest, highest) allowed value.
LOCATION_KEYS: dict[str, tuple[float, float]] = {
    "p_floor": (1e-6, 1.0),
    "report_threshold": (0.0, 1.0),
    "precise_max_m": (0.0, 1e7),
    "near_max_m": (0.0, 1e7),
    "side_certain_p": (0.5, 1.0),
}


@dataclass(frozen=True)
class LocationRules:
    """How uncertain positions are judged and written (``location`` in ``grading.yaml``).

    ``p_floor``: the smallest ``p_location`` a breach is recorded with; ``report_threshold``:
    the ``p_location`` from which a violation is listed and counted by default;
    ``precise_max_m`` / ``near_max_m``: the largest 95% radius written as a distance from a
    settlement / as "near" a settlement (beyond: the oblast); ``side_certain_p``: the
    ``p_side`` from which the controlling side is written without its probability.
    ``reasons`` holds the reason the file gives for each."""

    p_floor: float = 0.01
    report_threshold: float = 0.5
    precise_max_m: float = 2_000.0
    near_max_m: float = 30_000.0
    side_certain_p: float = 0.9
    reasons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GradeRule:
    """One rule: the grade it gives, when it applies, and the reason shown."""

    grade: str
    reason: str
    when: Mapping[str, int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class GradingRules:
    """The whole grading configuration."""

    rules: tuple[GradeRule, ...]
    trusted_how_known: frozenset[str]
    party_how_known: frozenset[str]
    conflict_share: float
    default_uncertainty_m: float
    location: LocationRules = field(default_factory=LocationRules)
    path: str = ""

    @property
    def grades(self) -> tuple[str, ...]:
        """Every grade the rules can give, in rule order, once each."""
        return tuple(dict.fromkeys(r.grade for r in self.rules))


@dataclass(frozen=True)
class Evidence:
    """What is known about one incident, as grading sees it."""

    n_observations: int
    independent_sources: int
    trusted: int = 0
    party_origins: int = 0
    category_votes: Mapping[str, int] = field(default_factory=dict)
    weapon_votes: Mapping[str, int] = field(default_factory=dict)


def leading(votes: Mapping[str, int]) -> str:
    """The value with most votes; ties go to the alphabetically first ('' when none)."""
    if not votes:
        return ""
    return min(votes, key=lambda k: (-votes[k], k))


def is_conflict(votes: Mapping[str, int], share: float) -> bool:
    """True when the votes against the leading value reach ``share`` of all votes."""
    total = sum(votes.values())
    if total == 0 or len(votes) < 2:
        return False
    return (total - votes[leading(votes)]) / total >= share


def _holds(rule: GradeRule, ev: Evidence, conflict_share: float) -> bool:
    w = rule.when
    checks = (
        ("min_independent_sources", lambda v: ev.independent_sources >= v),
        ("max_independent_sources", lambda v: ev.independent_sources <= v),
        ("min_trusted", lambda v: ev.trusted >= v),
        ("min_observations", lambda v: ev.n_observations >= v),
        ("max_observations", lambda v: ev.n_observations <= v),
        ("min_party_origins", lambda v: ev.party_origins >= v),
        ("conflicting_categories", lambda v: is_conflict(ev.category_votes, conflict_share) == v),
        (
            "conflicting_weapon_classes",
            lambda v: is_conflict(ev.weapon_votes, conflict_share) == v,
        ),
    )
    return all(test(w[name]) for name, test in checks if name in w)


def _votes_text(votes: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])))


def grade(ev: Evidence, rules: GradingRules) -> tuple[str, str]:
    """(grade, reason) for one incident: the first rule that holds."""
    for rule in rules.rules:
        if _holds(rule, ev, rules.conflict_share):
            reason = rule.reason.format(
                n_observations=ev.n_observations,
                independent_sources=ev.independent_sources,
                trusted=ev.trusted,
                party_origins=ev.party_origins,
                category=leading(ev.category_votes),
                categories=_votes_text(ev.category_votes),
                weapon_class=leading(ev.weapon_votes),
                weapon_classes=_votes_text(ev.weapon_votes),
            )
            return rule.grade, reason
    return "ungraded", "no grading rule applies"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def shipped_grading_path() -> Path:
    return data_path("grading.yaml")


def _line(doc: Any, *path: str | int) -> int | None:
    """The line of the last step of ``path`` found in a ConfigMap/ConfigList tree."""
    node, found = doc, getattr(doc, "line", None)
    for step in path:
        in_map = isinstance(node, ConfigMap) and step in node
        in_list = isinstance(node, ConfigList) and isinstance(step, int) and step < len(node)
        if in_map or in_list:
            found, node = node.line_of(step), node[step]
        else:
            break
    return found


def load_grading(path: str | Path | None = None) -> GradingRules:
    """Rules from ``path`` (a user file) or the shipped ``grading.yaml`` (read once)."""
    if path is None:
        return _shipped_grading()
    p = Path(path)
    return parse_grading(load_yaml(p), str(p))


@cache
def _shipped_grading() -> GradingRules:
    p = shipped_grading_path()
    return parse_grading(load_yaml(p), str(p))


@cache
def report_threshold() -> float:
    """The reporting threshold of location probability (``grading.yaml``, with its reason):
    violations below it are listed as too imprecise to judge, not counted."""
    return float(shipped_location_rules().report_threshold)


def shipped_location_rules() -> LocationRules:
    """The shipped location thresholds (read once)."""
    return load_grading().location


def _location(doc: Any, fail: Any) -> LocationRules:
    """The ``location`` section: each threshold as ``{value, reason}``."""
    sec = doc.get("location")
    if sec is None:
        return LocationRules()
    if not isinstance(sec, dict):
        raise fail("location", "must be a mapping of thresholds", "location")
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for key, item in sec.items():
        where = ("location", key)
        if key not in LOCATION_KEYS:
            raise fail(f"location.{key}", f"unknown key (expected one of "
                       f"{', '.join(LOCATION_KEYS)})", *where)
        if not isinstance(item, dict) or set(item) != {"value", "reason"}:
            raise fail(f"location.{key}", "must be {value: NUMBER, reason: TEXT}", *where)
        low, high = LOCATION_KEYS[key]
        val = item["value"]
        if isinstance(val, bool) or not isinstance(val, int | float) or not low <= val <= high:
            raise fail(f"location.{key}.value", f"must be a number from {low:g} to {high:g}, "
                       f"not {val!r}", *where, "value")
        if not isinstance(item["reason"], str) or not item["reason"].strip():
            raise fail(f"location.{key}.reason", "must say why, in words", *where, "reason")
        values[key] = float(val)
        reasons[key] = " ".join(item["reason"].split())
    rules = LocationRules(**values, reasons=reasons)
    if rules.near_max_m < rules.precise_max_m:
        raise fail("location.near_max_m", "must not be below precise_max_m", "location",
                   "near_max_m")
    return rules


def parse_grading(doc: Any, where: str = "<grading>") -> GradingRules:
    """Rules from an already-parsed document (a mapping as in ``grading.yaml``; line numbers
    where it was read by :mod:`truceguard.config`)."""

    def fail(key: str, reason: str, *path: str | int) -> ConfigError:
        return ConfigError(where, key, reason, _line(doc, *path) if path else None)

    if not isinstance(doc, dict):
        raise fail("grading", "the file must be a mapping with a 'grades' list")
    for key in doc:
        if key not in _TOP_KEYS:
            known = ", ".join(sorted(_TOP_KEYS))
            raise fail(str(key), f"unknown key (expected one of {known})", key)
    if doc.get("version", 1) != 1:
        raise fail("version", f"unsupported version {doc.get('version')!r} (expected 1)", "version")

    def how_known_set(key: str, default: list[str]) -> frozenset[str]:
        val = doc.get(key, default)
        if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
            raise fail(key, "must be a list of how_known values", key)
        for v in val:
            if v not in HOW_KNOWN:
                raise fail(key, f"{v!r} is not a how_known value ({', '.join(HOW_KNOWN)})", key)
        return frozenset(val)

    trusted = how_known_set("trusted_how_known", ["sensor", "recorded"])
    party = how_known_set("party_how_known", ["party_report"])

    def number(key: str, default: float, low: float, high: float) -> float:
        val = doc.get(key, default)
        if isinstance(val, bool) or not isinstance(val, int | float) or not low <= val <= high:
            raise fail(key, f"must be a number from {low:g} to {high:g}, not {val!r}", key)
        return float(val)

    share = number("conflict_share", 0.34, 0.0, 1.0)
    default_unc = number("default_uncertainty_m", 5000.0, 1.0, 1e7)
    location = _location(doc, fail)

    grades = doc.get("grades")
    if not isinstance(grades, list) or not grades:
        raise fail("grades", "must be a non-empty list of rules", "grades")
    rules: list[GradeRule] = []
    for n, item in enumerate(grades):
        at: tuple[str | int, ...] = ("grades", n)
        if not isinstance(item, dict):
            raise fail(f"grades[{n}]", "each rule must be a mapping with grade and reason", *at)
        for key in item:
            if key not in ("grade", "reason", "when"):
                raise fail(f"grades[{n}].{key}", "unknown key (grade, reason, when)", *at, key)
        g = item.get("grade")
        if not isinstance(g, str) or not g.strip():
            raise fail(f"grades[{n}].grade", "must be a non-empty name", *at)
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise fail(f"grades[{n}].reason", "must be a non-empty text", *at)
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(reason) if f is not None}
        except ValueError as exc:
            raise fail(f"grades[{n}].reason", f"bad braces: {exc}", *at, "reason") from exc
        unknown = sorted(names - REASON_FIELDS)
        if unknown:
            raise fail(
                f"grades[{n}].reason",
                f"unknown field(s) {', '.join(unknown)} (use {', '.join(sorted(REASON_FIELDS))})",
                *at,
                "reason",
            )
        when = item.get("when") or {}
        if not isinstance(when, dict):
            raise fail(f"grades[{n}].when", "must be a mapping of conditions", *at, "when")
        for cond, val in when.items():
            want = CONDITIONS.get(cond)
            if want is None:
                raise fail(
                    f"grades[{n}].when.{cond}",
                    f"unknown condition (expected one of {', '.join(CONDITIONS)})",
                    *at,
                    "when",
                    cond,
                )
            ok = (
                isinstance(val, bool)
                if want is bool
                else (isinstance(val, int) and not isinstance(val, bool) and val >= 0)
            )
            if not ok:
                kind = "true or false" if want is bool else "a whole number >= 0"
                raise fail(
                    f"grades[{n}].when.{cond}", f"must be {kind}, not {val!r}", *at, "when", cond
                )
        rules.append(GradeRule(grade=g.strip(), reason=reason, when=dict(when)))
    if rules[-1].when:
        raise fail(
            f"grades[{len(rules) - 1}]",
            "the last rule must have no conditions, so that every incident gets a grade",
            "grades",
            len(rules) - 1,
        )
    return GradingRules(
        rules=tuple(rules),
        trusted_how_known=trusted,
        party_how_known=party,
        conflict_share=share,
        default_uncertainty_m=default_unc,
        location=location,
        path=where,
    )
