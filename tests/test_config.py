"""The one YAML loader: YAML 1.2 scalars, duplicate keys refused, lines named."""

from __future__ import annotations

from pathlib import Path

import pytest

from truceguard.config import ConfigList, ConfigMap, copy_tree, load_yaml, parse_yaml
from truceguard.errors import ConfigError


def test_yaml_12_scalars() -> None:
    doc = parse_yaml("a: NO\nb: yes\nc: off\nd: true\ne: 1_000\nf: 12:30\ng: 0o17\nh: 2015-02-15\n")
    assert doc == {"a": "NO", "b": "yes", "c": "off", "d": True, "e": "1_000", "f": "12:30",
                   "g": 15, "h": "2015-02-15"}


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("zones:\n  a: 1\n  b: 2\n  a: 3\n", "t.yaml")
    assert err.value.line == 4 and err.value.key == "a"
    assert "line 2" in str(err.value)


def test_lines_are_kept() -> None:
    doc = parse_yaml("x: 1\nitems:\n  - a\n  - b\n")
    assert isinstance(doc, ConfigMap) and isinstance(doc["items"], ConfigList)
    assert doc.line_of("items") == 2 and doc["items"].line_of(1) == 4


def test_bad_yaml_and_missing_files_name_the_place(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("a: [1,\n", "bad.yaml")
    assert "bad.yaml" in str(err.value)
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="directory"):
        load_yaml(tmp_path)


def test_binary_and_unprintable_files_are_config_errors(tmp_path: Path) -> None:
    from truceguard.judge.terms import load_terms

    with pytest.raises(ConfigError, match="not UTF-8"):
        (tmp_path / "t.yaml").write_bytes(b"name: \xff\xfe\x00")
        load_terms(tmp_path / "t.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_yaml("a: \x07bell\n", "b.yaml")


def test_copy_tree_copies_as_deepcopy_does() -> None:
    """The copy a sensitivity run changes: equal values and lines, nothing shared with the
    original, and a node reached twice through an alias still one node in the copy."""
    import copy

    doc = parse_yaml("base: &b {value: 1.5, low: 1, high: 2}\nuse: *b\nlist: [1, {x: null}]\n"
                     "name: NO\n")
    got = copy_tree(doc)
    want = copy.deepcopy(doc)
    assert got == want == doc and type(got["list"]) is ConfigList
    for a, b in ((got, want), (got["base"], want["base"]), (got["list"], want["list"]),
                 (got["list"][1], want["list"][1])):
        assert type(a) is type(b) and vars(a) == vars(b) and a.line > 0
    assert got["use"] is got["base"] and got["base"] is not doc["base"]
    got["base"]["value"] = 1.8
    got["list"][1]["x"] = 3
    assert doc["base"]["value"] == doc["use"]["value"] == 1.5 and doc["list"][1]["x"] is None
    assert got["use"]["value"] == 1.8

