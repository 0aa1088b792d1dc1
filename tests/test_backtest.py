"""The Minsk backtest: its figures hold together, agree with the shipped file read on its own,
every published figure is cited, and the published page is not stale."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from types import ModuleType

import pytest

from truceguard.io.ucdp import EXPLOSIVE_REMNANT_WORDS

from .conftest import REPO, UCDP_CLEAN

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


@pytest.fixture(scope="module")
def page(bt, bt_mod) -> str:
    return bt_mod.render(bt)


@pytest.fixture(scope="module")
def ucdp_rows() -> list[dict[str, str]]:
    """The shipped UCDP file read with the csv module alone, not through truceguard."""
    with UCDP_CLEAN.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _in(rows: list[dict[str, str]], first: str, last: str) -> list[dict[str, str]]:
    return [r for r in rows if first <= r["date_start"][:10] <= last]


def test_years_and_months_sum_to_the_total(bt):
    assert [w.label for w in bt.years] == [str(y) for y in range(2015, 2023)]
    assert sum(w.violations for w in bt.years) == bt.total.violations == sum(bt.months.values())
    assert sum(w.events for w in bt.years) == bt.total.events == sum(bt.month_events.values())
    assert sum(w.civilians for w in bt.years) == bt.total.civilians
    assert sum(w.days for w in bt.years) == bt.total.days == 2566
    assert bt.total.violations <= bt.violations_all and bt.total.events <= bt.events_in_range
    assert bt.total.violations <= bt.total.events  # fusion only merges
    y = {w.label: w for w in bt.years}
    assert y["2019"].violations == bt.y2019.violations
    assert y["2020"].violations == bt.y2020.violations
    assert bt.before.violations + bt.after.violations == bt.y2020.violations
    assert bt.before.days == 208 and bt.after.days == 158


def test_fusion_change_is_counted_both_ways(bt):
    # UCDP curated: every event its own incident, and each is counted or too imprecise.
    assert bt.incidents == bt.imported
    assert sum(f.events for f in bt.fusion) == bt.events_in_range
    for f in bt.fusion:
        assert f.violations + f.imprecise + f.apart == f.events, f.label
        assert f.old_violations + f.old_imprecise <= f.events, f.label
    # The old self-fusion merged events: fewer incidents and violations from the same file.
    assert bt.old_incidents < bt.incidents
    assert sum(f.old_violations + f.old_imprecise for f in bt.fusion) == bt.old_violations_all
    assert bt.old_violations_all < bt.violations_all
    assert sum(bt.old_months.values()) == sum(f.old_violations for f in bt.fusion)
    assert len(bt.imprecise) == bt.total.imprecise == sum(f.imprecise for f in bt.fusion)
    assert all(p < bt.min_p for _, _, _, p in bt.imprecise)


def test_windows_agree_with_the_file_read_on_its_own(bt, bt_mod, ucdp_rows):
    """Every UCDP event and civilian death the page sets beside OHCHR and the SMM is the
    shipped file's own, read with csv alone (date_start in the window)."""
    windows = [*zip(bt_mod.OHCHR, bt.ohchr, strict=True),
               *zip(bt_mod.SMM_BEFORE, bt.smm_before, strict=True),
               *zip(bt_mod.SMM_SINCE_MEASURES, bt.smm_since, strict=True)]
    for pub, w in windows:
        rows = _in(ucdp_rows, pub.first, pub.last)
        assert (w.first, w.last) == (pub.first, pub.last)
        assert w.all_events == len(rows), pub
        assert w.all_civilians == sum(int(r["deaths_civilians"]) for r in rows), pub
        # each UCDP event judged once, or counted apart (lower clarity, mines/ERW)
        assert w.violations + w.imprecise + w.apart == w.all_events
        assert w.civilians <= w.all_civilians and w.events <= w.all_events
    y2018 = _in(ucdp_rows, "2018-01-01", "2018-12-31")
    erw = re.compile(EXPLOSIVE_REMNANT_WORDS, re.IGNORECASE)
    counts = [r for r in y2018 if r["event_clarity"] != "2" and not any(
        erw.search(r[c]) for c in ("source_headline", "source_original", "where_description"))]
    assert len(counts) < len(y2018)  # mines, explosive remnants, lower clarity: apart
    assert {w.label: w for w in bt.years}["2018"].civilians == sum(
        int(r["deaths_civilians"]) for r in counts)


def test_smm_windows_and_stretches(bt, bt_mod):
    since = bt_mod.SMM_SINCE_MEASURES
    assert [s.days for s in since] == [155, 175, 343]
    assert [(s.violations, s.explosions) for s in since[:2]] == [(4_960, 2_080), (6_294, 2_660)]
    rows = bt_mod.explosion_rows(bt)
    before, after = rows[0], rows[1:]
    assert (before.days, before.explosions, before.violations) == (28, 4_750, 20_300)
    assert before.events == sum(w.events for w in bt.smm_before)
    # The stretches between running totals add back up to the last total.
    assert sum(r.days for r in after) == since[-1].days
    assert sum(r.explosions for r in after) == since[-1].explosions
    assert sum(r.violations for r in after) == since[-1].violations
    assert sum(r.events for r in after) == bt.smm_since[-1].events
    v, lo, hi = after[0].per_1000()
    assert v == pytest.approx(1000 * after[0].events / 2_080) and lo < v < hi


def test_intervals(bt, bt_mod):
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
    # Garwood's exact Poisson interval, as tabulated: 0 -> (0, 3.689), 10 -> (4.795, 18.39).
    assert bt_mod.poisson_interval(0) == (0.0, pytest.approx(3.689, abs=1e-3))
    lo10, hi10 = bt_mod.poisson_interval(10)
    assert lo10 == pytest.approx(4.795, abs=1e-3) and hi10 == pytest.approx(18.39, abs=1e-2)


def test_ohchr_pool_does_not_overlap(bt_mod):
    pool = [bt_mod.OHCHR[i] for i in bt_mod.outermost(bt_mod.OHCHR)]
    assert len(pool) >= 5
    spans = sorted((c.first, c.last) for c in pool)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    # Every window lies inside one of the pooled ones.
    assert all(any(p.first <= c.first and c.last <= p.last for p in pool)
               for c in bt_mod.OHCHR)
    y2019 = next(c for c in bt_mod.OHCHR if (c.first, c.last) == ("2019-01-01", "2019-12-31"))
    assert y2019.killed == pytest.approx(2.3 * 12) and "11.7" in y2019.injured


def test_page_figures_match_the_run(bt, page):
    change = (bt.y2020.violations - bt.y2019.violations) / bt.y2019.violations * 100
    assert (f"| UCDP violations | {bt.y2019.violations} | {bt.y2020.violations} | "
            f"{change:+.0f}% |") in page
    assert f"| **total** | 2566 | **{bt.total.violations}** |" in page
    months = page[page.index("## Per month"):page.index("## 2019 against 2020")]
    row = re.search(r"^\| 2020 \|(.*)\| (\d+) \|$", months, re.M)
    assert row and int(row.group(2)) == bt.y2020.violations
    cells = [int(c) for c in row.group(1).split("|") if c.strip()]
    assert sum(cells) == bt.y2020.violations
    assert "299,633" in page and "134,767" in page and "| 623 | 33 |" in page
    fusion = page[page.index("## What treating UCDP"):page.index("## Per month")]
    for f in bt.fusion:
        assert (f"| {f.label} | {f.events} | {f.old_violations} | {f.old_imprecise} | "
                f"{f.violations} | {f.imprecise} |") in fusion


def test_every_published_figure_is_on_the_page_with_its_source(bt_mod, page):
    sources = page[page.index("## Sources of the published figures"):]
    for s in (*bt_mod.SMM_BEFORE, *bt_mod.SMM_SINCE_MEASURES):
        assert s.cited.url.startswith("https://") and s.cited.url in page
        assert f"{s.cited.url})" in sources
    for s in bt_mod.SMM_SINCE_MEASURES:
        assert f"| {s.first} | {s.last} | {s.days} | {s.violations:,} | {s.explosions:,} |" in page
    for o in bt_mod.OHCHR:
        assert o.cited.url.startswith("https://") and f"{o.cited.url})" in sources
        assert f"| {o.first} | {o.last} | {o.killed:g}" in page
    assert f"{bt_mod.KYIV_POST.url})" in sources
    for item in bt_mod.NOT_VERIFIED:
        assert item[1:] in sources


def test_committed_page_is_what_the_script_writes_now(bt_mod, page):
    assert PAGE.is_file(), "run: python scripts/backtest_minsk.py"
    assert PAGE.read_text(encoding="utf-8") == page, (
        "docs/backtest-minsk.md is stale: run python scripts/backtest_minsk.py"
    )
    assert (PAGE.parent / bt_mod.PNG_NAME).is_file()


def test_the_ohchr_comparison_leaves_out_the_events_that_cite_ohchr(bt, bt_mod, ucdp_rows):
    """UCDP events naming OHCHR among their sources are not independent of OHCHR's series:
    the page counts them and compares OHCHR with the others' civilian deaths."""
    for pub, w in zip(bt_mod.OHCHR, bt.ohchr, strict=True):
        rows = _in(ucdp_rows, pub.first, pub.last)
        cited = [r for r in rows if bt_mod.OHCHR_CITED.search(
            r["source_office"] + " " + r["source_original"])]
        assert w.ohchr_cited == len(cited), pub
        assert w.civilians_not_ohchr == w.all_civilians - sum(
            int(r["deaths_civilians"]) for r in cited), pub
    assert sum(w.ohchr_cited for w in bt.ohchr) > 0
    assert "name OHCHR among their sources" in bt_mod.render(bt)
