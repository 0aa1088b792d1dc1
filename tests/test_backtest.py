"""The Minsk backtest: its figures hold together, and the published page is not stale."""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest

from .conftest import REPO

SCRIPT = REPO / "scripts" / "backtest_minsk.py"
PAGE = REPO / "docs" / "backtest-minsk.md"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("backtest_minsk", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bt_mod() -> ModuleType:
    return _load()


@pytest.fixture(scope="module")
def bt(bt_mod, tmp_path_factory):
    return bt_mod.run_backtest(tmp_path_factory.mktemp("backtest"))


def test_years_and_months_sum_to_the_total(bt):
    assert [w.label for w in bt.years] == [str(y) for y in range(2015, 2023)]
    assert sum(w.violations for w in bt.years) == bt.total.violations == sum(bt.months.values())
    assert sum(w.events for w in bt.years) == bt.total.events == sum(bt.month_events.values())
    assert sum(w.days for w in bt.years) == bt.total.days == 2566
    assert bt.total.violations <= bt.violations_all and bt.total.events <= bt.events_in_range
    assert bt.total.violations <= bt.total.events  # fusion only merges
    y = {w.label: w for w in bt.years}
    assert y["2019"].violations == bt.y2019.violations
    assert y["2020"].violations == bt.y2020.violations
    assert bt.before.violations + bt.after.violations == bt.y2020.violations
    assert bt.before.days == 208 and bt.after.days == 158


def test_changes_are_computed_right(bt, bt_mod):
    assert bt_mod.pct(bt_mod.SMM_2020, bt_mod.SMM_2019) == pytest.approx(-55.02, abs=0.01)
    assert round(bt_mod.pct(bt_mod.SMM_2020, bt_mod.SMM_2019)) == bt_mod.SMM_CHANGE_PCT
    assert bt_mod.pct(33, 623) == pytest.approx(-94.70, abs=0.01)
    lo, hi = bt_mod.rate_ratio_interval(bt.after.violations, bt.after.days,
                                        bt.before.violations, bt.before.days)
    ratio = bt.after.per_day("violations") / bt.before.per_day("violations")
    assert lo < ratio < hi
    # Equal rates over equal days: the interval holds 1.
    lo1, hi1 = bt_mod.rate_ratio_interval(50, 100, 50, 100)
    assert lo1 < 1.0 < hi1 and lo1 == pytest.approx(1 / hi1, rel=1e-9)


def test_page_figures_match_the_run(bt, bt_mod):
    page = bt_mod.render(bt)
    change = bt_mod.pct(bt.y2020.violations, bt.y2019.violations)
    assert (f"| UCDP violations | {bt.y2019.violations} | {bt.y2020.violations} | "
            f"{change:+.0f}% |") in page
    assert f"| **total** | 2566 | **{bt.total.violations}** |" in page
    months = page[page.index("## Per month"):page.index("## 2019 against 2020")]
    row = re.search(r"^\| 2020 \|(.*)\| (\d+) \|$", months, re.M)
    assert row and int(row.group(2)) == bt.y2020.violations
    cells = [int(c) for c in row.group(1).split("|") if c.strip()]
    assert sum(cells) == bt.y2020.violations
    assert "299,633" in page and "134,767" in page and "| 623 | 33 |" in page


def test_committed_page_is_what_the_script_writes_now(bt, bt_mod):
    assert PAGE.is_file(), "run: python scripts/backtest_minsk.py"
    assert PAGE.read_text(encoding="utf-8") == bt_mod.render(bt), (
        "docs/backtest-minsk.md is stale: run python scripts/backtest_minsk.py"
    )
    assert (PAGE.parent / bt_mod.PNG_NAME).is_file()
