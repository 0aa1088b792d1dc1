"""Any CSV with a column mapping; the CSV writer reads back unchanged."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from truceguard.errors import ConfigError, MissingColumnsError, RowError
from truceguard.io import detect_format, read_csv_mapped, write_csv
from truceguard.io.csvmap import parse_mapping, restore_cell
from truceguard.io.timeparse import T_MAX, T_MIN
from truceguard.io.values import MAX_COUNT, MAX_UNCERTAINTY_M, MAX_WINDOW_S
from truceguard.model import CATEGORIES, HOW_KNOWN, WEAPON_CLASSES, Observation


def test_mapping_from_the_command_line(tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text(
        "when,y,x,what,who\n"
        "2020-07-28T10:15Z,48.3,38.0,shelling,patrol 3\n"
        "2020-07-28T11:00Z,95,38.0,shelling,patrol 3\n"
        "yesterday,48.3,38.0,shots,patrol 4\n"
    )
    m = parse_mapping(["time=when", "lat=y", "lon=x", "category=what", "origin=who"])
    items = list(read_csv_mapped(p, mapping=m))
    good = [i for i in items if isinstance(i, Observation)]
    bad = [i for i in items if isinstance(i, RowError)]
    assert len(good) == 1 and good[0].category == "shelling" and good[0].origin == "patrol 3"
    assert good[0].time_precision_s == 60
    assert [(e.line, e.field) for e in bad] == [(3, "y"), (4, "when")]
    assert detect_format(p, m) == "csv"


def test_missing_mapping_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text("when,y,x\n2020-01-01,1,2\n")
    with pytest.raises(MissingColumnsError, match="--map time=COLUMN"):
        list(read_csv_mapped(p))
    with pytest.raises(MissingColumnsError, match="nope"):
        list(read_csv_mapped(p, mapping={"time": "when", "lat": "y", "lon": "nope"}))


@pytest.mark.parametrize("bad", ["time", "time=", "colour=red"])
def test_bad_map_option(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_mapping([bad])


def test_unknown_vocabulary_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text("time,lat,lon,category,weapon_class\n2020-01-01,48,38,Beschuss,Haubitze\n")
    (o,) = list(read_csv_mapped(p))
    assert isinstance(o, Observation)
    assert (o.category, o.weapon_class) == ("other", "unknown")
    assert o.attributes == {"category_original": "Beschuss", "weapon_class_original": "Haubitze"}


# Text as users and attackers write it: any character but lone surrogates, and cells a
# spreadsheet would run as formulas (the writer neutralises them, the reader restores them).
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)",
            "\tx", "\rx", "'=x", "''-x", "'", "'Tis", " padded ", "a\r\nb", "\x00", ""]
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    FORMULAS)
MARKINGS = ["PUBLIC", "REL TO GBR", "REL TO FRA, GBR", "REL TO FRA, GBR, NATO", "OWNER ONLY"]


@st.composite
def observations(draw: st.DrawFn) -> Observation:
    t0 = draw(st.integers(T_MIN, T_MAX))
    return Observation(
        source=draw(text.filter(bool)),
        how_known=draw(st.sampled_from(HOW_KNOWN)),
        t_start=t0,
        t_end=draw(st.integers(t0, T_MAX)),
        time_precision_s=draw(st.integers(1, MAX_WINDOW_S)),
        lat=draw(st.floats(-90, 90)),
        lon=draw(st.floats(-180, 180)),
        uncertainty_m=draw(st.none() | st.floats(0, MAX_UNCERTAINTY_M)),
        category=draw(st.sampled_from(CATEGORIES)),
        weapon_class=draw(st.sampled_from(WEAPON_CLASSES)),
        count=draw(st.integers(0, MAX_COUNT)),
        text=draw(text),
        origin=draw(text),
        source_ref=draw(text),
        releasability=draw(st.sampled_from(MARKINGS)),
        attributes=draw(st.dictionaries(st.text(max_size=5), text | st.integers(), max_size=3)),
        obs_id=draw(st.none() | st.integers(1, 10**9)),
    )


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(observations(), min_size=1, max_size=5), st.booleans())
def test_write_then_read_round_trip(tmp_path: Path, obs: list[Observation], raw: bool) -> None:
    buf = io.StringIO()
    assert write_csv(obs, buf, raw=raw) == len(obs)
    p = tmp_path / "rt.csv"
    p.write_text(buf.getvalue(), encoding="utf-8", newline="")
    back = list(read_csv_mapped(p))
    assert all(isinstance(b, Observation) for b in back), back
    for a, b in zip(obs, back, strict=True):
        assert isinstance(b, Observation)
        for f in ("how_known", "t_start", "t_end", "time_precision_s", "lat", "lon",
                  "uncertainty_m", "category", "weapon_class", "count", "releasability",
                  "attributes"):
            assert getattr(a, f) == getattr(b, f), f
        for f in ("source", "text", "origin", "source_ref"):
            # raw: a cell shaped like a neutralised formula reads as the neutralised one
            value = getattr(a, f)
            expected = restore_cell(value) if raw else value
            assert getattr(b, f) == expected, f
