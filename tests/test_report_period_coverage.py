"""What the period report's numbers mean: coverage, comparison, threshold, map and banner.

On the real shipped UCDP events judged against the Minsk II terms. ``p_location`` is set through
the store where a test needs violations whose location is too imprecise to judge.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from truceguard.cli import main
from truceguard.geo.sphere import haversine_m
from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.marking import PUBLIC
from truceguard.model import Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.report.period import (
    DAY,
    build_period_report,
    render_html,
    render_markdown,
)
from truceguard.report.period_map import map_figure
from truceguard.store import ObservationFilter, SQLiteStore, open_store

from .conftest import UCDP_CLEAN
from .report_fixtures import MINSK, epoch, judged_minsk, violation_ids


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    with judged_minsk(tmp_path_factory.mktemp("coverage") / "judged.db") as store:
        yield store


@pytest.fixture(scope="module")
def vague(judged: SQLiteStore, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[SQLiteStore]:
    """A copy of ``judged`` whose violations carry a p_location that falls with the position's
    uncertainty: 0.9 under 5 km, 0.5 (exactly the threshold) under 30 km, 0.3 beyond."""
    path = tmp_path_factory.mktemp("vague") / "vague.db"
    copy = sqlite3.connect(path)
    judged.conn.backup(copy)
    copy.close()
    with open_store(path) as store:
        store.execute("UPDATE violations SET p_location = CASE WHEN uncertainty_m >= 30000 "
                      "THEN 0.3 WHEN uncertainty_m >= 5000 THEN 0.5 ELSE 0.9 END")
        yield store


@pytest.fixture(scope="module")
def sees_little(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """The UCDP events releasable to GBR only, but for March to June 2020, made PUBLIC."""
    with open_store(tmp_path_factory.mktemp("little") / "little.db") as store:
        import_file(store, UCDP_CLEAN, releasability="REL TO GBR")
        spring = ObservationFilter(since=epoch("2020-03-01"), until=epoch("2020-07-01") - 1)
        ids = [o.obs_id for o in store.observations(spring, Viewer.owner())]
        assert store.remark([i for i in ids if i is not None], PUBLIC, "test", "released") > 0
        fuse_store(store)
        adjudicate_store(store, load_terms(MINSK))
        yield store


def test_observation_span_is_the_viewers_data(judged, sees_little, tmp_path):
    times = [o.t_start for o in judged.observations(ObservationFilter(), Viewer.owner())]
    assert judged.observation_span(ObservationFilter(), Viewer.owner()) == (min(times),
                                                                            max(times))
    fra = sees_little.observation_span(ObservationFilter(), Viewer.of("FRA"))
    assert fra is not None and fra[0] >= epoch("2020-03-01") and fra[1] < epoch("2020-07-01")
    assert sees_little.observation_span(ObservationFilter(sources=("nobody",)),
                                        Viewer.owner()) is None
    with open_store(tmp_path / "empty.db") as empty:
        assert empty.observation_span(ObservationFilter(), Viewer.owner()) is None


def test_no_comparison_before_the_terms_took_effect(judged):
    whole = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23", trail=False)
    assert whole.coverage.state == "full" and whole.total.before is None
    assert whole.previous_start is None
    assert "not all covered (the terms took effect on 2015-02-14 22:00 UTC)" in (
        whole.no_comparison)
    assert all(row.change.before is None for rows in whole.breakdowns.values() for row in rows)
    # 2016 reaches back to 2015-01-01, before the terms: no comparison either.
    y2016 = build_period_report(judged, MINSK, "month", "2016-01-01", "2016-12-31", trail=False)
    assert y2016.total.before is None
    # Its January is a whole month, as is December 2015 before it: those two compare.
    assert y2016.buckets[0].change.before == len(
        violation_ids(judged, epoch("2015-12-01"), epoch("2016-01-01")))
    assert y2016.buckets[1].change.before == y2016.buckets[0].count
    # 2017 against 2016, wholly inside the terms and the data.
    y2017 = build_period_report(judged, MINSK, "month", "2017-01-01", "2017-12-31", trail=False)
    assert y2017.total.before == len(
        violation_ids(judged, epoch("2016-01-01"), epoch("2017-01-01")))
    assert y2017.buckets[0].change.before == len(
        violation_ids(judged, epoch("2016-12-01"), epoch("2017-01-01")))
    md = render_markdown(whole)
    assert (f"| violations counted (2,566 days) | {whole.total.now} | {whole.rate_per_day:.2f} "
            "| n/a | n/a |") in md and whole.no_comparison in md
    assert "| previous" not in md and "days before 2015-02-15 are not all covered" in md


def test_a_period_cut_by_the_terms_is_partial_with_rates_per_counted_day(judged):
    r = build_period_report(judged, MINSK, "month", "2015-01-01", "2015-12-31", trail=False)
    assert r.coverage.state == "partial"
    assert (r.coverage.start, r.coverage.end) == (epoch("2015-02-15"), epoch("2016-01-01"))
    assert r.coverage.message.startswith("Partial period: only 2015-02-15 to 2015-12-31 (320 "
                                         "of 365 days) is counted, because the terms took "
                                         "effect on 2015-02-14 22:00 UTC.")
    assert r.rate_per_day == pytest.approx(r.total.now / 320)
    jan, feb = r.buckets[0], r.buckets[1]
    assert (jan.count, jan.covered_days, jan.rate, jan.note) == (
        0, 0, None, "before the terms took effect")
    assert feb.partial and feb.covered_days == 14 and feb.rate == pytest.approx(feb.count / 14)
    assert feb.note == "14 of 28 days counted" and feb.change.before is None
    md = render_markdown(r)
    assert "| 2015-01 | - | - | - | - | before the terms took effect |" in md
    assert f"| 2015-02 | {feb.count} | {feb.count / 14:.2f} |" in md
    assert "**Partial period: only 2015-02-15" in md
    # A clause that binds later in the period is said so, and is compared with nothing.
    clause = {row.key: row for row in r.breakdowns["clause"]}
    late = clause[f"{MINSK}/withdrawal/security_15km"]
    assert late.note == "binds from 2015-11-08 21:00 UTC" and late.change.before is None
    spring = build_period_report(judged, MINSK, "month", "2015-03-01", "2015-06-30",
                                 trail=False)
    row = next(x for x in spring.breakdowns["clause"] if x.key.endswith("security_15km"))
    assert row.note.startswith("not in force: binds from 2015-11-08") and row.count == 0


def test_a_period_past_the_data_is_partial_and_compared_inside_the_data(judged):
    r = build_period_report(judged, MINSK, "month", "2021-06-01", "2022-12-31")
    assert r.coverage.state == "partial"
    assert (r.coverage.start, r.coverage.end) == (epoch("2021-06-01"), epoch("2022-02-24"))
    assert "because the data end on 2022-02-23" in r.coverage.message
    counted_days = (epoch("2022-02-24") - epoch("2021-06-01")) // DAY
    assert r.coverage.days == counted_days == 268
    before = violation_ids(judged, epoch("2021-06-01") - counted_days * DAY, epoch("2021-06-01"))
    assert r.previous_first_date == "2020-09-06" and r.total.before == len(before)
    assert r.previous_rate_per_day == pytest.approx(len(before) / 268)
    feb = next(b for b in r.buckets if b.label == "2022-02")
    assert feb.partial and feb.covered_days == 23 and feb.note == "23 of 28 days counted"
    after = [b for b in r.buckets if b.start >= epoch("2022-03-01")]
    assert len(after) == 10 and all(b.note == "no data" and b.rate is None for b in after)
    html = render_html(r)
    assert 'class="partial"' in html and r.coverage.message in html
    assert html.count('<td class="na">&mdash;</td>') == 4 * len(after)


@pytest.mark.parametrize(("start", "end", "state", "words"), [
    ("2014-01-01", "2014-12-31", "before_terms",
     "ends before the terms minsk-2015 took effect (2015-02-14 22:00 UTC)"),
    ("2023-01-01", "2023-12-31", "outside_data", "The data cover 2014-01-22 to 2022-02-23"),
])
def test_no_figures_where_nothing_is_covered(judged, runner, tmp_path, start, end, state,
                                             words):
    r = build_period_report(judged, MINSK, "month", start, end)
    assert r.coverage.state == state and words in r.coverage.message
    assert not r.has_figures and r.buckets == [] and r.breakdowns == {} and r.violations == []
    html = render_html(r)
    assert "<table" not in html and "data:image/png" not in html
    assert r.coverage.message in html
    md = render_markdown(r)
    assert "|" not in md and r.coverage.message in md
    res = runner.invoke(main, ["report", "--db", judged.path, "--terms", MINSK,
                               "--from", start, "--to", end])
    assert res.exit_code == 0 and res.stderr.startswith("Note: ") and words in res.stderr
    out = tmp_path / "r.html"
    res = runner.invoke(main, ["report", "--db", judged.path, "--terms", MINSK,
                               "--from", start, "--to", end, "-o", str(out)])
    assert res.exit_code == 0 and f"no figures ({state})" in res.stdout and out.is_file()


def test_no_data_and_not_judged_say_what_to_run(tmp_path):
    with open_store(tmp_path / "empty.db") as empty:
        r = build_period_report(empty, MINSK, "month", "2020-01-01", "2020-12-31")
        assert r.coverage.state == "no_data" and "truceguard import FILE" in r.coverage.message
    with open_store(tmp_path / "unjudged.db") as store:
        import_file(store, UCDP_CLEAN)
        r = build_period_report(store, MINSK, "month", "2020-01-01", "2020-12-31")
        assert r.coverage.state == "not_judged"
        assert "run `truceguard fuse`, then `truceguard adjudicate --terms minsk-2015`" in (
            r.coverage.message)
        fuse_store(store)
        r = build_period_report(store, MINSK, "month", "2020-01-01", "2020-12-31")
        assert r.coverage.message == ("The store has not been judged against minsk-2015: run "
                                      "`truceguard adjudicate --terms minsk-2015`.")
        assert "<table" not in render_html(r)


def test_a_viewer_who_sees_little(sees_little):
    """FRA sees only the spring 2020 events released to all: its year is partial, its
    comparison would reach before its data, and its banner is PUBLIC."""
    fra = Viewer.of("FRA")
    r = build_period_report(sees_little, MINSK, "month", "2020-01-01", "2020-12-31", fra)
    assert r.coverage.state == "partial"
    assert "the data this viewer may see start on 2020-03-01 and end on 2020-06" in (
        r.coverage.message)
    assert r.total.before is None and "the data this viewer may see start" in r.no_comparison
    assert r.total.now == len(violation_ids(sees_little, epoch("2020-01-01"), epoch("2021-01-01"),
                                   fra)) > 0
    assert r.marking == "PUBLIC" and r.viewer == "a viewer holding EU, FRA, NATO"
    assert [b.note for b in r.buckets[:2]] == ["no data", "no data"]
    owner = build_period_report(sees_little, MINSK, "month", "2020-01-01", "2020-12-31")
    assert owner.coverage.state == "full" and owner.marking == "REL TO GBR"
    assert owner.total.now > r.total.now
    html = render_html(r)
    assert html.count("PUBLIC. Made for: a viewer holding EU, FRA, NATO.</div>") == 2
    gone = build_period_report(sees_little, MINSK, "month", "2021-01-01", "2021-12-31", fra)
    assert gone.coverage.state == "outside_data"
    assert gone.coverage.message.startswith("The data this viewer may see cover 2020-03")


def test_only_violations_at_the_threshold_count(vague):
    t0, t1 = epoch("2020-01-01"), epoch("2021-01-01")
    r = build_period_report(vague, MINSK, "month", "2020-01-01", "2020-12-31", hotspots=50)
    counted = violation_ids(vague, t0, t1, min_p=0.5)
    every = violation_ids(vague, t0, t1)
    assert 0 < len(counted) < len(every)
    assert [v.violation_id for v in r.violations] == counted
    assert {v.p_location for v in r.violations} == {0.5, 0.9}  # the threshold itself counts
    assert sorted(v.violation_id for v in r.imprecise) == sorted(set(every) - set(counted))
    assert all(v.p_location < 0.5 for v in r.imprecise)
    assert r.total.now == len(counted) == sum(b.count for b in r.buckets)
    assert r.total.before == len(violation_ids(vague, epoch("2018-12-31"), t0, min_p=0.5))
    for dim, rows in r.breakdowns.items():
        assert sorted(i for row in rows for i in row.violation_ids) == sorted(counted), dim
    assert sorted(i for h in r.hotspots for i in h.violation_ids) == sorted(counted)
    zones = {row.key: row.count for row in r.breakdowns["zone"]}
    assert sum(zones.values()) == len(counted)
    assert r.observations == sum(r.incidents[i].n_observations
                                 for i in {v.incident_id for v in r.violations})
    # Those too imprecise are listed apart: in the summary (the first ten) and in the appendix,
    # each incident in one row of its own table, never among the counted ones.
    html = render_html(r)
    vague_incidents = {v.incident_id for v in r.imprecise}
    assert not vague_incidents & {v.incident_id for v in r.violations}
    assert (f"Not counted and listed apart: {len(r.imprecise)} violations whose location is "
            "too imprecise to judge.") in html
    summary = html[html.index('id="imprecise-summary"'):html.index('id="map"')]
    assert summary.count('<td class="vague">') == min(10, len(r.imprecise))
    for v in r.imprecise[:10]:
        assert f'<a href="#incident-{v.incident_id}">' in summary
    assert f"Location too imprecise to judge: {len(vague_incidents)} incidents" in html
    counted_part = html[html.index('id="counted"'):html.index('id="imprecise"')]
    imprecise_part = html[html.index('id="imprecise-table"'):]
    for v in r.imprecise:
        assert f'<tr id="incident-{v.incident_id}">' in imprecise_part
        assert f"v{v.violation_id} · p {v.p_location:.2f}" in imprecise_part
        assert f'id="incident-{v.incident_id}"' not in counted_part
    vague_one = r.imprecise[0]
    assert vague_one.location_text.split(" (")[0] in imprecise_part
    md = render_markdown(r)
    assert (f"| location too imprecise to judge (p_location < 0.5), not counted | "
            f"{len(r.imprecise)} |") in md
    apart = md.split("### Location too imprecise")[1]
    assert f"| {vague_one.incident_id} |" in apart and "too imprecise) |" in apart
    everything = build_period_report(vague, MINSK, "month", "2020-01-01", "2020-12-31",
                                     min_p=0.0, trail=False)
    assert everything.total.now == len(every) and everything.imprecise == []
    strict = build_period_report(vague, MINSK, "month", "2020-01-01", "2020-12-31",
                                 min_p=0.6, trail=False)
    assert {v.p_location for v in strict.violations} == {0.9}


def test_the_map_draws_what_is_counted(vague):
    r = build_period_report(vague, MINSK, "month", "2020-01-01", "2020-12-31", trail=False)
    fig = map_figure(r, load_terms(MINSK))
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"live_fire/ceasefire: {r.total.now}" in legend
    assert (f"location too imprecise (p_location < 0.5): {len(r.imprecise)}, not counted"
            in legend)
    assert "line of contact (terms)" in legend and "non-government-controlled" in legend
    texts = [t.get_text() for t in ax.texts]
    for h in r.hotspots:
        assert f"{h.place} ({h.count})" in texts, h.place
    assert "RUSSIA" in texts and any(t.endswith(" oblast") for t in texts)
    bars = [c for c in ax.artists if isinstance(c, AnchoredSizeBar)]
    assert len(bars) == 1, "no scale bar"
    label = bars[0].txt_label.get_text()
    assert label.endswith(" km") and int(label.split()[0]) in (10, 20, 50, 100)
    # The bar is as long as it says, east-west at the map's middle latitude (within 0.5%).
    width_deg = bars[0].size_bar.get_children()[0].get_width()
    lat0 = sum(ax.get_ylim()) / 2
    km = haversine_m(lat0, 38.0, lat0, 38.0 + width_deg) / 1000
    assert km == pytest.approx(int(label.split()[0]), rel=0.005)
    assert ax.get_xlabel().startswith("longitude") and ax.get_ylabel().startswith("latitude")
    # Every counted position lies inside the map.
    w, e = ax.get_xlim()
    s, n = ax.get_ylim()
    assert all(w < v.lon < e and s < v.lat < n for v in (*r.violations, *r.imprecise))


def test_the_json_form_carries_the_marking_and_the_coverage(vague):
    r = build_period_report(vague, MINSK, "month", "2015-01-01", "2015-12-31")
    doc = json.loads(json.dumps(asdict(r), default=str))
    assert doc["marking"] == "PUBLIC" and doc["min_p"] == 0.5
    assert doc["coverage"]["state"] == "partial" and doc["total"]["before"] is None
    assert doc["violations"][0]["p_location"] >= 0.5 and "uncertainty_m" in doc["violations"][0]
    assert len(doc["imprecise"]) == len(r.imprecise) > 0


def test_report_command_min_p(vague, runner, tmp_path: Path):
    out = tmp_path / "r.html"
    res = runner.invoke(main, ["report", "--db", vague.path, "--terms", MINSK, "--from", "2020",
                               "--to", "2020", "--min-p", "0.6", "-o", str(out)])
    assert res.exit_code == 0, res.output
    t0, t1 = epoch("2020-01-01"), epoch("2021-01-01")
    n, everything = len(violation_ids(vague, t0, t1, min_p=0.6)), len(violation_ids(vague, t0, t1))
    assert (f"{n} violations counted, {everything - n} too imprecise (p_location < 0.6)"
            in res.stdout)
    assert "p_location &ge; 0.6" in out.read_text("utf-8")
