"""Grading rules: the shipped file, each rule, a user file, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from truceguard.errors import ConfigError
from truceguard.judge.grading import (
    LOCATION_KEYS,
    Evidence,
    grade,
    is_conflict,
    leading,
    load_grading,
    shipped_location_rules,
)


@pytest.fixture(scope="module")
def rules():
    return load_grading()


def test_shipped_rules_load(rules) -> None:
    assert rules.grades == ("contested", "verified", "probable", "single_source")
    assert rules.trusted_how_known == {"sensor", "recorded"}
    assert rules.rules[-1].when == {}


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        (Evidence(1, 1), "single_source"),
        (Evidence(3, 1, category_votes={"shelling": 3}), "probable"),
        (Evidence(2, 2, category_votes={"shelling": 2}), "verified"),
        (Evidence(1, 1, trusted=1), "verified"),
        (Evidence(2, 2, party_origins=2), "contested"),
        (Evidence(4, 3, category_votes={"shelling": 2, "shots": 2}), "contested"),
        # One dissenting vote in five is not a conflict at the shipped share (0.34).
        (Evidence(5, 3, category_votes={"shelling": 4, "shots": 1}), "verified"),
    ],
)
def test_rules_in_order(rules, evidence: Evidence, expected: str) -> None:
    g, reason = grade(evidence, rules)
    assert g == expected
    assert reason and "{" not in reason


def test_reason_names_the_evidence(rules) -> None:
    _, reason = grade(Evidence(4, 3, category_votes={"shelling": 2, "shots": 2}), rules)
    assert reason == "reports disagree on what happened (shelling 2, shots 2)"
    assert grade(Evidence(3, 3), rules)[1] == "3 independent sources"


def test_votes_helpers() -> None:
    assert leading({"shots": 2, "shelling": 2, "drone": 1}) == "shelling"
    assert leading({}) == ""
    assert is_conflict({"a": 2, "b": 1}, 0.33)
    assert not is_conflict({"a": 3, "b": 1}, 0.34)
    assert not is_conflict({"a": 3}, 0.0)


def test_user_file_replaces_shipped(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(
        "trusted_how_known: [seen]\n"
        "grades:\n"
        "  - grade: confirmed\n"
        "    when: {min_trusted: 1}\n"
        "    reason: seen by {trusted} patrol(s)\n"
        "  - grade: weak\n"
        "    reason: not seen\n",
        encoding="utf-8",
    )
    mine = load_grading(f)
    assert grade(Evidence(1, 1, trusted=2), mine) == ("confirmed", "seen by 2 patrol(s)")
    assert grade(Evidence(5, 5), mine)[0] == "weak"


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (
            "grades:\n  - grade: a\n    reason: r\n    when: {min_sources: 2}\n"
            "  - grade: b\n    reason: r\n",
            "grades[0].when.min_sources",
            4,
        ),
        (
            "grades:\n  - grade: a\n    reason: r\n    when:\n      min_trusted: -1\n"
            "  - grade: b\n    reason: r\n",
            "grades[0].when.min_trusted",
            5,
        ),
        ("grades:\n  - grade: a\n    reason: r\n    when: {min_trusted: 1}\n", "grades[0]", 2),
        (
            "trusted_how_known: [rumour]\ngrades:\n  - grade: b\n    reason: r\n",
            "trusted_how_known",
            1,
        ),
        ("grades:\n  - grade: b\n    reason: '{nobody}'\n", "grades[0].reason", 3),
        ("colour: blue\ngrades: []\n", "colour", 1),
        ("conflict_share: 2\ngrades:\n  - grade: b\n    reason: r\n", "conflict_share", 1),
        ("grades:\n  - grade: b\n    reason: r\n  - [1, 2\n", "(yaml)", 5),
        ("grades:\n  - grade: b\n    reason: r\n  - grade: c\n    grade: d\n", "grade", 5),
        (
            "location:\n  p_floor: {value: 2, reason: r}\ngrades:\n  - grade: b\n    reason: r\n",
            "location.p_floor.value",
            2,
        ),
        (
            "location:\n  p_floor: 0.01\ngrades:\n  - grade: b\n    reason: r\n",
            "location.p_floor",
            2,
        ),
        (
            "location:\n  p_floor: {value: 0.1, reason: ''}\ngrades:\n  - grade: b\n"
            "    reason: r\n",
            "location.p_floor.reason",
            2,
        ),
        (
            "location:\n  nearby_m: {value: 1, reason: r}\ngrades:\n  - grade: b\n"
            "    reason: r\n",
            "location.nearby_m",
            2,
        ),
        ("grades: []\n", "grades", 1),
    ],
)
def test_bad_files_name_key_and_line(tmp_path: Path, text: str, key: str, line: int) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_grading(f)
    assert info.value.key == key
    assert info.value.line == line
    assert str(f) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_grading(tmp_path / "absent.yaml")


def test_the_location_thresholds_and_their_reasons(rules) -> None:
    loc = rules.location
    assert (loc.p_floor, loc.report_threshold) == (0.01, 0.5)
    assert (loc.precise_max_m, loc.near_max_m, loc.side_certain_p) == (2_000.0, 30_000.0, 0.9)
    assert set(loc.reasons) == set(LOCATION_KEYS)
    assert all(len(r) > 60 for r in loc.reasons.values())
    assert shipped_location_rules() == loc


def test_yaml_1_2_scalars_in_a_grading_file(tmp_path: Path) -> None:
    # "NO" is a string (not false) and cannot pose as a boolean condition.
    f = tmp_path / "no.yaml"
    f.write_text(
        "grades:\n  - grade: a\n    when: {conflicting_categories: NO}\n    reason: r\n"
        "  - grade: b\n    reason: r\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="true or false, not 'NO'"):
        load_grading(f)
