"""Period reports on the real shipped UCDP events judged against the Minsk II terms."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import shapely

from truceguard.cli import main
from truceguard.errors import InputError
from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.model import Incident, Observation, Viewer, Violation
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.report.period import (
    DAY,
    DIMENSIONS,
    Change,
    bucket_edges,
    build_period_report,
    hotspot_areas,
    render_html,
    render_markdown,
    write_html,
)
from truceguard.report.period_text import days_phrase, plural, source_names
from truceguard.store import SQLiteStore, open_store

from .conftest import UCDP_CLEAN
from .report_fixtures import MINSK, epoch, judged_minsk, violation_ids


def _count(store: SQLiteStore, t0: int, t1: int, viewer: Viewer | None = None) -> int:
    """Violations counted at the report's threshold (p_location >= 0.5)."""
    return len(violation_ids(store, t0, t1, viewer, min_p=0.5))


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """The shipped UCDP events, fused and judged against minsk-2015."""
    with judged_minsk(tmp_path_factory.mktemp("report") / "judged.db") as store:
        yield store


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [("year", "2015-02-15", "2022-02-23"), ("month", "2020-01-01", "2020-12-31"),
     ("week", "2019-12-30", "2020-03-01"), ("day", "2017-01-01", "2017-01-31")],
)
def test_counts_equal_the_violations_query(judged, period, start, end):
    r = build_period_report(judged, MINSK, period, start, end)
    t0, t1 = epoch(start), epoch(end) + 86400
    assert r.total.now == _count(judged, t0, t1) > 0
    assert sum(b.count for b in r.buckets) == r.total.now
    for b in r.buckets:
        assert b.count == _count(judged, b.start, b.end) == len(b.violation_ids)
    assert r.buckets[0].start == t0 and r.buckets[-1].end == t1
    for dim in DIMENSIONS:
        ids = [i for row in r.breakdowns[dim] for i in row.violation_ids]
        assert sorted(ids) == sorted(v.violation_id for v in r.violations), dim
    assert all(isinstance(v, Violation) for v in r.violations)
    assert all(isinstance(i, Incident) for i in r.incidents.values())


def test_change_against_the_previous_period_of_the_same_length(judged):
    r = build_period_report(judged, MINSK, "month", "2020-01-01", "2020-12-31")
    before = _count(judged, epoch("2018-12-31"), epoch("2020-01-01"))  # 366 days before
    assert r.days == 366 and r.previous_first_date == "2018-12-31"
    assert r.coverage.state == "full" and r.no_comparison == ""
    assert r.total.before == before > 0
    assert r.total.absolute == r.total.now - before
    assert r.total.percent == pytest.approx(100 * (r.total.now - before) / before)
    assert r.rate_per_day == pytest.approx(r.total.now / 366)
    assert r.previous_rate_per_day == pytest.approx(before / 366)
    # Each bucket against the one before; the first against December 2019.
    dec = _count(judged, epoch("2019-12-01"), epoch("2020-01-01"))
    assert r.buckets[0].change.before == dec
    for a, b in zip(r.buckets, r.buckets[1:], strict=False):
        assert b.change.before == a.count
    side = {row.key: row for row in r.breakdowns["side"]}
    assert sum(row.change.before for row in side.values()) == before
    assert Change(5, 0).percent is None and Change(5, 0).text() == "+5 (new)"
    assert Change(3, 4).text() == "-1 (-25%)"
    assert Change(3, None).text() == "n/a" and Change(3, None).absolute is None


def test_hotspots_are_named_areas_busiest_first_and_never_a_stand_in_point(judged):
    r = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23", hotspots=10)
    counts = [h.count for h in r.hotspots]
    assert counts and counts == sorted(counts, reverse=True)
    by_id = {v.violation_id: v for v in r.violations}
    areas = {name: geom for name, geom, _, _ in hotspot_areas()}
    placed = [v for v in r.violations if v.uncertainty_m <= 30_000]
    assert sum(counts) == len(placed)  # those placed only to a unit are no hotspot
    assert sum(r.placed_only_to.values()) == r.total.now - len(placed)
    assert r.placed_only_to["Donetsk oblast"] > 100
    for h in r.hotspots:
        vs = [by_id[i] for i in h.violation_ids]
        assert all(v.uncertainty_m <= 30_000 for v in vs)
        if h.place in areas:
            assert all(areas[h.place].contains(shapely.Point(v.lon, v.lat)) for v in vs)
        else:
            assert h.place.startswith("elsewhere in ")
        assert h.share == pytest.approx(h.count / r.total.now)
        sides = [v.controlled_by for v in vs]
        top = max(set(sides), key=sides.count)
        assert h.control_share == pytest.approx(sides.count(top) / len(vs))
    names = [h.place for h in r.hotspots]
    assert "Avdiivka-Yasynuvata-Donetsk airport" in names
    assert not {"Avdiyivka", "Rozsypne", "Novoaydar"} & set(names)


def test_records_that_are_no_violation_are_counted_apart(judged):
    r = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23")
    assert r.apart == {"low_clarity": 206, "explosive_remnant": 27}
    assert {v.category for v in r.violations} == {"armed_clash"}


def test_bucket_edges_follow_the_calendar():
    t0, t1 = epoch("2020-02-12"), epoch("2020-03-04")
    weeks = bucket_edges("week", t0, t1)
    assert all(datetime.fromtimestamp(int(t), UTC).weekday() == 0 for t in weeks[1:-1])
    assert bucket_edges("month", t0, t1).tolist() == [t0, epoch("2020-03-01"), t1]
    assert len(bucket_edges("day", t0, t1)) == 22  # 21 days, leap February
    assert bucket_edges("year", epoch("2019-01-01"), epoch("2021-01-01")).tolist() == [
        epoch("2019-01-01"), epoch("2020-01-01"), epoch("2021-01-01")]


def test_partial_buckets_are_marked(judged):
    r = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23", trail=False)
    assert [b.label for b in r.buckets] == [str(y) for y in range(2015, 2023)]
    assert [b.partial for b in r.buckets] == [True] + [False] * 6 + [True]
    assert r.buckets[0].days == 320 and r.buckets[-1].days == 54
    assert [b.covered_days for b in r.buckets] == [b.days for b in r.buckets]
    for b in r.buckets:
        assert b.rate == pytest.approx(b.count / b.days)
    # A partial bucket is compared with nothing, and the whole year after it neither.
    assert r.buckets[0].change.before is None and r.buckets[1].change.before is None
    assert r.buckets[2].change.before == r.buckets[1].count
    assert r.buckets[-1].change.before is None


SUMMARY_ORDER = ('id="summary"', 'id="counts"', 'id="map"', 'id="trend"', 'id="hotspots"',
                 'id="breakdown"', 'id="clauses"', 'id="appendix"', 'id="imprecise"')
# The HTML of the shipped data's report over the whole ceasefire (the demo's report) was
# 893 kB when this bound was set (3.9 MB before the summary and appendix were split).
DEMO_HTML_BYTES = 1_000_000


def _links_resolve(html: str) -> set[str]:
    """Every in-page link's target, after checking that each has its anchor, exactly once."""
    targets = set(re.findall(r'href="#([^"]+)"', html))
    for t in targets:
        assert html.count(f'id="{t}"') == 1, t
    return targets


def test_the_summary_comes_first_and_every_link_reaches_its_incident(judged, tmp_path):
    r = build_period_report(judged, MINSK, "month", "2020-01-01", "2020-12-31")
    html = write_html(r, tmp_path / "report.html").read_text(encoding="utf-8")
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert png and base64.b64decode(png.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:)?//', html)  # offline: nothing fetched
    at = [html.index(k) for k in SUMMARY_ORDER]
    assert at == sorted(at), "the summary's parts, then the appendix"
    summary, appendix = html[:at[-2]], html[at[-2]:]
    assert "incident-" not in summary.replace('href="#incident-', "")
    targets = _links_resolve(html)
    # Every incident has one row, with its anchor, its id once and each violation's id once.
    for iid in r.incidents:
        assert appendix.count(f'<tr id="incident-{iid}"') == 1
        assert appendix.count(f">{iid}<") == 1
    for v in r.violations:
        assert appendix.count(f">v{v.violation_id} · ") + appendix.count(
            f"<br>v{v.violation_id} · ") == 1
    # The summary's incident ids (each hotspot's latest) all lead to their row.
    linked = {t for t in targets if t.startswith("incident-")}
    assert linked and linked <= {f"incident-{i}" for i in r.incidents}
    # Each count leads down: a bucket to its group, a clause or hotspot to the rows behind it.
    b = next(b for b in r.buckets if b.count)
    assert f'href="#{b.key}"' in summary and f'<tr class="g" id="{b.key}">' in appendix
    for k, h in enumerate(r.hotspots):
        assert f'<a href="#f-h{k}">{h.count}</a>' in summary
        assert f"#f-h{k}:target~table tr.r:not(.h{k})" in html
        rows = re.findall(rf'<tr id="incident-(\d+)" class="r [^"]*\bh{k}\b', appendix)
        behind = {v.incident_id for v in r.violations if v.violation_id in h.violation_ids}
        assert {int(i) for i in rows} == behind, h.place
    obs = r.observations_by_incident[r.violations[0].incident_id][0]
    assert isinstance(obs, Observation)
    name = Path(obs.source_file).name
    assert f"<code>{name}:{obs.source_line}</code> <small>{obs.raw_sha256[:12]}</small>" in html
    assert sum(len(o) for o in r.observations_by_incident.values()) == r.observations


def test_no_absolute_path_and_every_count_in_its_number(judged):
    """The shipped data are read from the installed package: the report names the file only.
    No count phrase is in the wrong number, in a window of one violation or of many."""
    r = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23")
    files = {o.source_file for os_ in r.observations_by_incident.values() for o in os_}
    assert files and all(Path(f).is_absolute() for f in files)
    html, md = render_html(r), render_markdown(r)
    for text in (html, md):
        for f in files:
            assert f not in text and str(Path(f).parent) not in text
        assert not re.search(r"site-packages|/root/|/home/|/work/", text)
        assert not re.search(r"(?<![\d.,])1 (observation|violation|incident|day|independent "
                             r"source|source)s\b", text)
    day = next(v.t_start for v in r.violations
               if sum(w.t_start // DAY == v.t_start // DAY for w in r.violations) == 1)
    first = datetime.fromtimestamp(day, UTC).date()
    one = build_period_report(judged, MINSK, "day", first, first)
    assert one.total.now == 1 and len(one.buckets) == 1
    html, md = render_html(one), render_markdown(one)
    assert "<b>1 violation counted</b> in 1 day" in html
    assert "**1 violation counted** in 1 day" in md
    assert "1 incident and 1 observation behind them" in html
    assert "(1 day, UTC)" in md and "one row each" not in html
    assert html.count("data:image/png;base64,") == 1  # one bucket: the table, no trend plot
    for text in (html, md):
        assert not re.search(r"(?<![\d.,])1 (observation|violation|incident|day)s\b", text)


def test_source_names_are_short_and_never_absolute():
    names = source_names(["/usr/lib/site-packages/truceguard/data/events/ucdp.csv",
                          "/home/ana/field/ucdp.csv", "/home/ana/field/patrol.geojson",
                          "reports/day1.csv", "C:\\data\\cot.xml", "<cot>",
                          "tcp://10.0.0.5:8087", "ucdp.csv"])
    assert names["/home/ana/field/patrol.geojson"] == "patrol.geojson"
    assert names["/usr/lib/site-packages/truceguard/data/events/ucdp.csv"] == "events/ucdp.csv"
    assert names["/home/ana/field/ucdp.csv"] == "field/ucdp.csv"
    assert names["reports/day1.csv"] == "day1.csv" and names["C:\\data\\cot.xml"] == "cot.xml"
    assert names["<cot>"] == "<cot>" and names["tcp://10.0.0.5:8087"] == "tcp://10.0.0.5:8087"
    assert names["ucdp.csv"] == "ucdp.csv"
    assert not any(n.startswith("/") for n in names.values())
    assert plural(1, "observation") == "1 observation" and plural(2, "observation") == (
        "2 observations")
    assert days_phrase(1) == "1 day" and days_phrase(2566) == "2,566 days"
    assert days_phrase(0.5) == "0.5 days"


def test_the_demo_report_is_compact(judged, tmp_path):
    """The shipped events over the whole ceasefire by year, as `truceguard demo` writes it."""
    r = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23", Viewer.owner())
    path = write_html(r, tmp_path / "violations-minsk-2015.html")
    html = path.read_text("utf-8")
    assert path.stat().st_size < DEMO_HTML_BYTES
    assert html.count('<tr id="incident-') == len(r.incidents) == len(
        {v.incident_id for v in (*r.violations, *r.imprecise)})
    assert html.count("<section") == 2  # the counted incidents and those too imprecise
    assert "<pre>" not in html and "<details>" not in html  # no raw input pasted in
    _links_resolve(html)


def test_markdown_holds_the_figures(judged):
    r = build_period_report(judged, MINSK, "year", "2015-02-15", "2022-02-23", trail=False)
    md = render_markdown(r)
    assert (f"| violations counted (2,566 days) | {r.total.now} | {r.rate_per_day:.2f} | n/a | "
            "n/a |") in md
    for b in r.buckets:
        assert f"| {b.count} | {b.rate:.2f} | {b.observations} |" in md
    assert "## Hotspots" in md and f"| {r.hotspots[0].place} |" in md
    assert "| clause live_fire/ceasefire |" in md
    assert md.index("## Summary") < md.index("## Clauses") < md.index("## Appendix")
    assert '"An immediate and comprehensive cease-fire' in md
    appendix = md[md.index("## Appendix"):]
    for iid in {v.incident_id for v in (*r.violations, *r.imprecise)}:
        assert len(re.findall(rf"^\| {iid} \|", appendix, re.M)) == 1
    assert md.count(f"{r.buckets[0].count} violations") >= 1
    days = render_markdown(build_period_report(judged, MINSK, "day", "2020-01-01", "2020-12-31",
                                               trail=False))
    assert "only those with violations are listed" in days


def test_bad_period_and_dates_are_input_errors(judged):
    with pytest.raises(InputError, match="expected one of day, week, month, year"):
        build_period_report(judged, MINSK, "fortnight", "2020-01-01", "2020-02-01")
    with pytest.raises(InputError, match="is after --to"):
        build_period_report(judged, MINSK, "day", "2020-02-01", "2020-01-01")
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        build_period_report(judged, MINSK, "day", "2020-02-30", "2020-03-01")


def test_full_range_is_fast(judged, tmp_path):
    """The whole Minsk period by day, with the trail, the trend and the map."""
    started = time.perf_counter()
    r = build_period_report(judged, MINSK, "day", "2015-02-15", "2022-02-23")
    html = write_html(r, tmp_path / "full.html").read_text("utf-8")
    render_markdown(r)
    assert time.perf_counter() - started < 8.0
    assert html.count("data:image/png;base64,") == 2 and len(r.buckets) == 2566


def _restricted_features(rows: list[Violation], path: Path) -> Path:
    """Patrol reports, releasable to the UK only, at five real violations' places and days."""
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
            "properties": {
                "time": datetime.fromtimestamp(v.t_start + 3600, UTC).isoformat(),
                "source": "patrol-uk",
                "how_known": "heard",
                "category": "shelling",
                "weapon_class": "unknown",
                "uncertainty_m": 500,
                "text": f"<script>alert({k})</script> heard shelling",
                "id": f"uk-{k}",
            },
        }
        for k, v in enumerate(rows)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path


def test_releasability_shows_each_viewer_its_own_view(tmp_path):
    """UK-only patrol reports join five incidents: the UK sees them in those incidents; a
    PUBLIC viewer sees the same violations, computed from the public reports alone."""
    with open_store(tmp_path / "rel.db") as store:
        import_file(store, UCDP_CLEAN)
        fuse_store(store)
        terms = load_terms(MINSK)
        adjudicate_store(store, terms)
        public = build_period_report(store, terms, "month", "2020-01-01", "2020-12-31")
        marked = public.violations[:5]
        s = import_file(store, _restricted_features(marked, tmp_path / "uk.geojson"),
                        releasability="REL TO GBR")
        assert s.imported == 5
        fuse_store(store)
        adjudicate_store(store, terms)
        owner = build_period_report(store, terms, "month", "2020-01-01", "2020-12-31")
        uk = build_period_report(store, terms, "month", "2020-01-01", "2020-12-31",
                                 Viewer.of("GBR"))
        nobody = build_period_report(store, terms, "month", "2020-01-01", "2020-12-31",
                                     Viewer())
        restricted = {v.incident_id for v in owner.violations if v.releasability != "PUBLIC"}
        # each patrol report joined a UCDP event's incident (the nearest, when two events
        # of one place and day compete for it)
        assert 0 < len(restricted) <= len(marked)
        assert uk.total.now == owner.total.now
        assert nobody.total.now == owner.total.now == public.total.now
        assert ([(v.violation_id, v.lat) for v in nobody.violations]
                == [(v.violation_id, v.lat) for v in public.violations])
        assert nobody.total.now == _count(store, epoch("2020-01-01"), epoch("2021-01-01"),
                                          Viewer())
        assert all(v.releasability == "PUBLIC" for v in nobody.violations)
        assert not any(o.source == "patrol-uk"
                       for os_ in nobody.observations_by_incident.values() for o in os_)
        html_nobody = render_html(nobody)
        assert "patrol-uk" not in html_nobody
        html = render_html(uk)
        assert "patrol-uk" in html and "REL TO GBR" in html
        assert "<script>" not in html
        assert "&lt;script&gt;alert(" in html
        # The banner: the most restrictive marking of what each report holds, and for whom.
        assert (public.marking, nobody.marking, uk.marking, owner.marking) == (
            "PUBLIC", "PUBLIC", "REL TO GBR", "REL TO GBR")
        assert uk.viewer == "a viewer holding FVEY, GBR, NATO"
        banner = "REL TO GBR. Made for: a viewer holding FVEY, GBR, NATO."
        assert html.count(f'">{banner}</div>') == 2
        assert html.index(banner) < html.index("<h1>") and html.rindex(banner) > html.index(
            'id="imprecise"')
        assert 'PUBLIC. Made for: a viewer holding no code (PUBLIC only).</div>' in html_nobody
        assert render_markdown(uk).splitlines()[0] == f"**{banner}**"
        assert asdict(uk)["marking"] == "REL TO GBR"
        assert json.loads(json.dumps(asdict(nobody), default=str))["marking"] == "PUBLIC"


def test_report_command(judged, runner, tmp_path):
    db = judged.path
    out = tmp_path / "r.html"
    res = runner.invoke(main, ["report", "--db", db, "--terms", MINSK, "--period", "month",
                               "--from", "2020-01-01", "--to", "2020-12-31", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and "data:image/png;base64," in out.read_text("utf-8")
    n = _count(judged, epoch("2020-01-01"), epoch("2021-01-01"))
    assert f"{n} violations counted, 0 too imprecise (p_location < 0.5)" in res.output
    assert res.output.rstrip().endswith("; PUBLIC") and not res.stderr
    res = runner.invoke(main, ["report", "--db", db, "--terms", MINSK, "--period", "year",
                               "--from", "2019-01-01", "--to", "2020-12-31", "--format", "md"])
    assert res.exit_code == 0
    assert res.output.startswith("**PUBLIC. Made for: the database owner, who sees everything.")
    res = runner.invoke(main, ["report", "--db", db, "--terms", MINSK, "--from", "2020",
                               "--to", "2020", "--min-p", "1.5"])
    assert res.exit_code == 1 and "--min-p 1.5 is out of range" in res.output
    res = runner.invoke(main, ["report", "--db", db, "--terms", MINSK, "--period", "decade",
                               "--from", "2019-01-01", "--to", "2020-12-31"])
    assert res.exit_code == 2 and "'decade'" in res.output  # the choices are listed
    res = runner.invoke(main, ["report", "--db", db, "--terms", MINSK,
                               "--from", "2021-01-01", "--to", "2020-12-31"])
    assert res.exit_code == 1 and "is after --to" in res.output
