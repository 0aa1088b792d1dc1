"""Confidence grades for incidents, from ordered rules kept as configuration.

The shipped rules (``truceguard/data/grading.yaml``) follow the practice described in the
project's monitoring notes: Airwars grades incidents confirmed / fair / weak / contested, the
OSCE SMM says how each observation was known. An incident is *verified* with two or more
independent sources or one trusted sensor, *probable* with several reports from one origin,
*single_source* with one report, *contested* when parties contradict each other or the reports
disagree on what happened. A user file with the same keys replaces the shipped one.

Rules are tried in order; the first whose conditions all hold wins and its reason (a format
string over the evidence) says why. Loading a bad file raises
:class:`truceguard.errors.ConfigError` naming the key and its line.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
        "grades",
    }
)


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


class _Lines:
    """Line numbers of keys in a YAML document, by path (("grades", 2, "when"), ...)."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.root = node

    def line(self, *path: str | int) -> int | None:
        node = self.root
        found = node.start_mark.line + 1 if node is not None else None
        for step in path:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == step:
                        found, nxt = k.start_mark.line + 1, v
                        break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if step >= len(node.value):
                    return found
                node = node.value[step]
                found = node.start_mark.line + 1
            else:
                return found
            if node is None:
                return found
        return found


def load_grading(path: str | Path | None = None) -> GradingRules:
    """Rules from ``path`` (a user file) or the shipped ``grading.yaml``."""
    p = Path(path) if path is not None else shipped_grading_path()
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(where, "file", f"cannot read it: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
        lines = _Lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(where, "yaml", f"not valid YAML: {exc}", line) from exc
    return parse_grading(doc, where, lines)


def parse_grading(doc: Any, where: str = "<grading>", lines: _Lines | None = None) -> GradingRules:
    """Rules from an already-parsed document (a mapping as in ``grading.yaml``)."""
    ln = lines or _Lines(None)

    def fail(key: str, reason: str, *path: str | int) -> ConfigError:
        return ConfigError(where, key, reason, ln.line(*path) if path else None)

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
        path=where,
    )
