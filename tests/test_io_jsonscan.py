"""The streaming JSON scanner against the json module: the same members and elements, whatever
the block size, the white space and the escapes; and nothing but JsonScanError on damage."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truceguard.io import jsonscan
from truceguard.io.jsonscan import JsonScanError, scan

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
    | st.sampled_from(['a"b', "back\\slash", "\\", '\\"', "{[,:]}", "\n"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
keys = st.text(max_size=8).filter(lambda k: k != "features")


def events(doc: bytes, block: int, **kw: Any) -> list[tuple[str, Any, Any]]:
    old = jsonscan.BLOCK
    jsonscan.BLOCK = block
    try:
        return [(kind, name, span) for kind, name, span in scan(io.BytesIO(doc), **kw)]
    finally:
        jsonscan.BLOCK = old


@settings(max_examples=150, deadline=None)
@given(
    before=st.dictionaries(keys, values, max_size=3),
    features=st.lists(values, max_size=6),
    after=st.dictionaries(keys, values, max_size=3),
    indent=st.sampled_from([None, 0, 1, 2, "\t"]),
    ascii_only=st.booleans(),
    block=st.sampled_from([1, 2, 3, 7, 64, 1 << 20]),
)
def test_the_scanner_agrees_with_the_json_module(before: dict[str, Any], features: list[Any],
                                                  after: dict[str, Any], indent: Any,
                                                  ascii_only: bool, block: int) -> None:
    after = {k: v for k, v in after.items() if k not in before}
    doc = {**before, "features": features, **after}
    text = json.dumps(doc, indent=indent, ensure_ascii=ascii_only)
    found = events(text.encode(), block)
    members = {n: json.loads(s.data) for k, n, s in found if k == "member"}
    elements = [s for k, _, s in found if k == "element"]
    assert members == {**before, **after}
    assert [json.loads(s.data) for s in elements] == features
    lines = text.split("\n")
    for s in elements:
        first = s.data.decode().split("\n", 1)[0]
        assert first in lines[s.line - 1]
    assert [k for k, _, _ in found].count("array") == 1


@settings(max_examples=150, deadline=None)
@given(
    doc=st.dictionaries(keys, values, max_size=3).map(
        lambda d: json.dumps({**d, "features": [d, 1, "x"]}).encode()),
    at=st.integers(0, 10_000),
    byte=st.sampled_from(list(b'{}[],:"\\ x\n')),
    block=st.sampled_from([1, 5, 1 << 20]),
)
def test_damage_is_a_scan_error_or_is_read(doc: bytes, at: int, byte: int, block: int) -> None:
    at %= len(doc)
    broken = doc[:at] + bytes([byte]) + doc[at + 1:]
    try:
        found = events(broken, block)
    except JsonScanError as exc:
        assert exc.line >= 1 and exc.message
        return
    assert [k for k, _, _ in found if k in ("array", "array_end")] in ([], ["array", "array_end"])


def test_bounds_hold_across_blocks() -> None:
    doc = json.dumps({"features": ["x" * 5000, [[[[1]]]], 7]}).encode()
    for block in (3, 100, 1 << 20):
        spans = [s for k, _, s in events(doc, block, max_bytes=1000, max_depth=3)
                 if k == "element"]
        assert [s.problem for s in spans] == ["5,002 bytes, over the limit of 1,000",
                                              "nested more than 3 levels deep", ""]
        assert len(spans[0].data) <= jsonscan.HEAD and spans[2].data == b"7"


@pytest.mark.parametrize("block", [2, 3, 1 << 20])
def test_a_long_run_of_backslashes_is_never_held_whole(block: int) -> None:
    doc = b'{"features": ["' + b"\\\\" * 50_000 + b'", "' + b"\\\\" * 3 + b'\\""]}'
    spans = [s for k, _, s in events(doc, block) if k == "element"]
    assert json.loads(spans[1].data) == "\\\\\\" + '"'
    assert spans[0].size == 100_002
