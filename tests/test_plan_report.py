"""The plan report shows the 95% intervals it promises, says why a figure does not move
across variants or raid sizes, and the core reports progress through a plain callback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from truceguard.plan.capacity import mean_ci
from truceguard.plan.explain import across_gaps, across_raid_sizes, across_variants, num, pct
from truceguard.plan.run import HEADLINE, HEADLINE_METHOD, run_variant, wilson
from truceguard.plan.scenario import load_scenario, resolve_variant
from truceguard.plan.sensitivity import NOISE_SEEDS, runs_for, sensitivity
from truceguard.plan.sweep import plan_steps, run_plan
from truceguard.report.planning import _interval, write_plan_report

SCEN = load_scenario("reassurance-2026")
VARIANTS = ("us-isr-only", "us-backstop", "no-us")


@pytest.fixture(scope="module")
def results():
    return [run_variant(resolve_variant(SCEN, v), 600, 3, raid_replications=12)
            for v in VARIANTS]


def _classes(r):
    kinds = np.array([t["class"] for t in r.metrics["by_type"].values()])
    return kinds[r.v_type]


def test_every_sampled_headline_carries_its_95_interval(results):
    for r in results:
        iv = r.metrics["intervals"]
        assert set(iv) == set(HEADLINE)
        assert {k: d["method"] for k, d in iv.items()} == HEADLINE_METHOD
        # recomputed from the per-violation results of the Monte Carlo
        det = r.t_detect <= r.metrics["detect_within_min"]
        assert (iv["detection_probability"]["low"], iv["detection_probability"]["high"]) == (
            wilson(int(det.sum()), det.size))
        c72 = r.metrics["layers"]["land_breach"]["contained"]["72h"]
        assert (iv["breach_contained_72h_share"]["low"],
                iv["breach_contained_72h_share"]["high"]) == (c72["low"], c72["high"])
        n = r.metrics["layers"]["land_breach"]["samples"]
        assert (c72["low"], c72["high"]) == pytest.approx(wilson(round(c72["value"] * n), n))
        air = np.isfinite(r.t_intercept[_classes(r) == "air"])
        assert iv["air_intercept_share"]["low"] == wilson(int(air.sum()), air.size)[0]
        for k, d in iv.items():
            if d["method"] == "exact":
                assert d["low"] is None and d["high"] is None
            else:
                assert d["low"] <= d["value"] <= d["high"], (r.name, k)
        raid = r.metrics["raids"][-1]
        assert raid["replications"] == 12
        assert [iv["raid_largest_defeated_share"]["low"],
                iv["raid_largest_defeated_share"]["high"]] == [
            raid["defeated_share"]["low"], raid["defeated_share"]["high"]]
        last = r.metrics["campaign"]["last"]
        assert iv["raid_campaign_last_defeated_share"]["low"] == last["low"] <= last["value"]


def test_mean_interval_over_replications():
    x = np.array([0.2, 0.4, 0.6, 0.8])
    lo, hi = mean_ci(x)
    half = 1.959963984540054 * x.std(ddof=1) / 2.0
    assert lo == pytest.approx(0.5 - half) and hi == pytest.approx(0.5 + half)
    assert mean_ci(x, lo=0.3)[0] == 0.3  # clipped to the figure's range
    assert mean_ci(np.array([0.5])) == [None, None]


def test_report_shows_the_intervals_it_promises(results, tmp_path: Path):
    index = write_plan_report(SCEN, results, tmp_path)
    html = index.read_text(encoding="utf-8")
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["confidence"] == 0.95
    assert set(doc["headline_interval_methods"].values()) <= set(doc["interval_methods"])
    assert "intervals are 95%" not in html and "95% interval" in html
    for r in results:
        assert doc["variants"][r.name]["intervals"]["detection_probability"]["low"] == (
            r.metrics["intervals"]["detection_probability"]["low"])
        for k in HEADLINE:
            d = r.metrics["intervals"][k]
            if d["method"] != "exact" and d["value"] is not None:
                assert _interval((d["low"], d["high"])) in html, (r.name, k)
        big = r.metrics["raids"][-1]["defeated_share"]
        assert _interval((big["low"], big["high"])) in html
        for h, c in r.metrics["layers"]["land_breach"]["contained"].items():
            assert _interval((c["low"], c["high"])) in html, h
        layers = r.metrics["layers"]
        assert _interval((layers["monitoring"]["detection_probability"]["low"],
                          layers["monitoring"]["detection_probability"]["high"])) in html
    assert html.count('<span class="ci">exact</span>') >= 2 * len(results)


def test_interval_text_never_shows_two_equal_ends():
    assert _interval((0.0, 0.00024)) == "0.00% to 0.02%"
    assert _interval((0.2554, 0.2691)) == "25.5% to 26.9%"
    assert _interval((15.0, 15.0), "num", 1, "alike") == "alike"
    assert _interval((None, None)) == ""


def test_figures_that_do_not_move_say_why(results):
    why = across_variants(results)
    for k in HEADLINE:  # a sentence exactly for the headlines shown alike in every variant
        shown = {pct(r.metrics[k]) for r in results if r.metrics[k] is not None}
        assert (k in why) == (len(shown) == 1), k
    assert "line_isr_cover_share" not in why  # the US sensors move it
    sites = results[0].coverage.sites_covered
    text = why["layers.air_defence.sites_in_range_share"]
    assert f"The same {int(sites.sum())} of the {len(sites)} protected sites" in text
    assert "usa-patriot (in us-backstop" in text  # the extra batteries, and what they reach
    # the breach: the coalition comes after the 72 hours, so its size moves little
    assert "The first coalition unit reaches a breach after" in why["breach_contained_72h_share"]
    # the US backstop's Patriots: a finding about basing, said where the raid does not move
    if "raid_largest_defeated_share" in why:
        assert "usa-patriot (in us-backstop" in why["raid_largest_defeated_share"]
        assert "finding about basing" in why["raid_largest_defeated_share"]
    # the reassurance force's zero: no hub reaches the line within the answer time
    assert all(r.metrics["layers"]["reassurance_force"]["ground_answered_share"]["value"] == 0
               for r in results)
    assert "No quick-reaction unit can reach any point of the line" in (
        why["layers.reassurance_force.ground_answered_share"])


def test_a_settling_sentence_speaks_only_when_its_check_holds(results):
    fake = []
    for r in results:
        c = copy.copy(r)
        c.metrics = copy.deepcopy(r.metrics)
        rows = c.metrics["layers"]["land_breach"]["by_force_size"]
        rows[-1]["contained"]["72h"]["value"] = 0.99  # as if the force's size decided it
        fake.append(c)
    text = across_variants(fake)["breach_contained_72h_share"]
    assert "first coalition unit" not in text and "breach block" in text
    one = across_variants(results[:1])
    assert one == {}  # one variant: nothing to compare


def test_raid_curve_and_campaign_say_why(results):
    why = across_raid_sizes(results)
    falls = all(r.metrics["raids"][0]["defeated_share"]["value"]
                > r.metrics["raids"][-1]["defeated_share"]["value"] + 0.02 for r in results)
    assert ("defeated_share" in why) == falls
    assert falls and "saturated" in why["defeated_share"]
    assert "campaign" in why and "10 raids of 818 threats" in why["campaign"]


def test_gaps_that_do_not_move_say_why(results):
    why = across_gaps(results)
    for role in results[0].gaps:
        assert (role in why) == (len({r.gaps[role] for r in results}) == 1), role
    assert "fighter" not in why  # the US backstop brings fighters
    total = next(f for f in results[0].force if f.capability == "ground_force" and not f.nation)
    assert (f"Every variant pledges {num(total.pledged)} and requires {num(total.required)}"
            in why["ground_force"])


def test_run_plan_reports_every_run_with_counts_that_only_grow():
    seen: list[tuple[str, int, int]] = []
    run_plan(SCEN, ["no-us", "us-isr-only"], 200, 1, with_sensitivity=False,
             progress=lambda *a: seen.append(a))
    assert seen[0] == ("variant no-us", 0, 3) and seen[-1][1:] == (3, 3)
    assert {"variant us-isr-only", "structural switches"} <= {s for s, _d, _t in seen}
    done = [d for _s, d, _t in seen]
    assert done == sorted(done)
    assert plan_steps(SCEN, ["no-us", "us-isr-only"], with_sensitivity=False) == 3
    assert plan_steps(SCEN) == len(SCEN.variants) + 1 + runs_for(SCEN, SCEN.baseline)
    assert plan_steps(SCEN, threat_events=[(48.0, 37.0, 1.0)]) == len(SCEN.variants) + 1


def test_sensitivity_names_each_run():
    keys = ["ukraine.share_at_line", "capabilities.satellites.revisit_h"]
    seen: list[tuple[str, int, int]] = []
    sensitivity(SCEN, samples=150, raid_replications=2, only=keys,
                progress=lambda *a: seen.append(a))
    a = SCEN.assumption(keys[0])
    labels = [s for s, _d, _t in seen]
    assert labels[0] == "baseline"
    assert labels[1:1 + NOISE_SEEDS] == [f"baseline, seed {2025 + k}"
                                         for k in range(1, NOISE_SEEDS + 1)]
    assert labels[1 + NOISE_SEEDS:3 + NOISE_SEEDS] == [f"{a.key} = {a.low:g}",
                                                       f"{a.key} = {a.high:g}"]
    n = 5 + NOISE_SEEDS
    assert [d for _s, d, _t in seen] == list(range(n + 1))
    assert {t for _s, _d, t in seen} == {runs_for(SCEN, SCEN.baseline, keys)} == {n}


def test_step_bar_shows_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch):
    from truceguard.cli.plan import StepBar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert StepBar("plan").bar.disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = StepBar("plan")
    assert not bar.bar.disable
    bar("variant no-us", 1, 3)
    task = bar.bar.tasks[0]
    assert (task.description, task.completed, task.total) == ("variant no-us", 1, 3)


def test_the_core_imports_no_front_end():
    code = ("import sys, truceguard.demo, truceguard.plan.sweep, truceguard.plan.explain, "
            "truceguard.report.planning; "
            "print([m for m in sys.modules if m.startswith(('truceguard.cli', 'rich', "
            "'click'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
