"""The daily and weekly reports of a monitoring mission, on a store of monitors' reports over
two reporting periods in Donetsk and Luhansk oblasts (and one record elsewhere).

The report of 2021-08-30 covers 19:30 on 29 August to 19:30 on 30 August, Kyiv time (UTC+3
in summer): 16:30Z to 16:30Z. Day times are 06:00Z-13:00Z (the sun 30 degrees and more up),
night times 20:00Z-23:00Z (the sun 29 degrees and more down)."""

from __future__ import annotations

import base64
import csv
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner

from truceguard.cli import main
from truceguard.geo.shipped import data_path
from truceguard.ingest import import_file
from truceguard.judge.places import nearest_places, oblast_names
from truceguard.judge.terms import load_terms, parse_terms
from truceguard.model import MonitorReport, Observation, Viewer
from truceguard.pipeline import adjudicate_store, fuse_store, set_violation_status
from truceguard.report import mission_sections
from truceguard.report.mission import FireCounts, MissionReport, build_mission_report, light_of
from truceguard.report.mission_render import render_mission_html, render_mission_markdown
from truceguard.report.mission_sections import REGISTER_MODULE, register_module
from truceguard.report.mission_text import assessed_fire, latest_day, mission_window
from truceguard.store import ObservationFilter, SQLiteStore, ViolationFilter, open_store

TERMS = "minsk-2015"
DAY = "2021-08-30"
OWNER = Viewer.owner()
COLUMNS = ("id", "time", "lat", "lon", "category", "count", "how_known", "releasability",
           "text", "kind", "direction", "bearing_deg", "bearing_err_deg", "distance_min_km",
           "distance_max_km", "observer_lat", "observer_lon", "weapon_type", "in_zone",
           "storage_site", "storage_present", "restricted_by", "restriction_type", "delay_min",
           "killed", "injured", "damage", "corroboration", "hazard_type")
P = "PUBLIC"
# id, time, lat, lon, category, count, how known, marking, text, then the report's fields
ROWS: list[tuple[object, ...]] = [
    # the period of 2021-08-30: Donetsk oblast
    ("f1", "2021-08-30T10:00:00Z", 48.14, 37.74, "shelling", 3, "heard", P, "three rounds",
     "fire", "outgoing", 135, 11.25, 3, 5, 48.16, 37.71, "2S1"),
    ("f2", "2021-08-29T22:00:00Z", 48.30, 38.05, "explosion", 2, "heard", P, "", "fire",
     "impact"),
    ("f3", "2021-08-29T23:00:00Z", 48.145, 37.745, "shots", 10, "heard", P, "", "fire",
     "undetermined"),
    ("f4", "2021-08-30T09:00:00Z", 47.94, 37.50, "muzzle_flash", 1, "recorded", P, "camera"),
    ("f5", "2021-08-30T11:00:00Z", 48.15, 37.75, "explosion", 5, "recorded", "REL TO GBR",
     "five impacts on the camera", "fire", "impact"),
    # Luhansk oblast
    ("f6", "2021-08-30T11:00:00Z", 48.69, 38.51, "shelling", 4, "heard", P, "", "fire",
     "impact", "", "", "", "", "", "", "2B11"),
    ("f7", "2021-08-29T21:00:00Z", 48.63, 38.38, "illumination_flare", 2, "seen", P, "",
     "fire"),
    ("c1", "2021-08-30", 48.55, 39.30, "armed_clash", 1, "open_source", P, "a clash"),
    # elsewhere (Kharkiv oblast)
    ("f8", "2021-08-30T10:00:00Z", 49.99, 36.23, "explosion", 1, "heard", P, "", "fire",
     "undetermined"),
    # the period before (2021-08-29)
    ("p1", "2021-08-29T10:00:00Z", 48.30, 38.05, "explosion", 4, "heard", P, "", "fire",
     "impact"),
    ("p2", "2021-08-28T22:00:00Z", 48.65, 39.49, "shots", 6, "heard", P, "", "fire",
     "undetermined"),
    ("s0", "2021-08-29T08:00:00Z", 48.02, 37.78, "weapon_presence", 3, "seen", P, "",
     "sighting", *[""] * 7, "D-30", "", "site 7", "present"),
    # the other kinds, in the period of 2021-08-30
    ("s1", "2021-08-30T08:00:00Z", 48.02, 37.78, "weapon_presence", 3, "seen", P, "",
     "sighting", *[""] * 7, "D-30", "", "site 7", "absent"),
    ("w1", "2021-08-30T07:00:00Z", 48.20, 37.90, "weapon_presence", 2, "seen", P, "",
     "sighting", *[""] * 7, "T-72", "withdrawal_line"),
    ("w2", "2021-08-30T09:00:00Z", 48.205, 37.905, "weapon_presence", 2, "seen", P,
     "the same two tanks again", "sighting", *[""] * 7, "T-72", "withdrawal_line"),
    ("r1", "2021-08-30T06:30:00Z", 48.70, 38.60, "other", 1, "seen", P, "turned back",
     "restriction", *[""] * 11, "armed formations", "checkpoint", 45),
    ("h1", "2021-08-30T12:00:00Z", 48.31, 38.06, "other", 1, "seen", P, "", "harm",
     *[""] * 14, 1, 2, "house roof", "site visit"),
    ("z1", "2021-08-30T12:30:00Z", 48.66, 39.48, "mine", 1, "seen", P, "", "hazard",
     *[""] * 18, "uxo"),
    ("z2", "2021-08-30T13:00:00Z", 48.13, 37.73, "mine", 4, "seen", P, "", "hazard",
     *[""] * 18, "mine"),
    ("o1", "2021-08-30T10:30:00Z", 48.40, 38.20, "drone", 1, "seen", P, ""),
]
FIRE_NOW = ("f1", "f2", "f3", "f4", "f5", "f6", "f7", "c1", "f8")


def write_rows(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for row in ROWS:
            w.writerow(list(row) + [""] * (len(COLUMNS) - len(row)))
    return path


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SQLiteStore, int, Path]]:
    """The store with the rows imported, fused and judged; one violation of the period
    published by two analysts. Yields (store, the published id, the database path)."""
    tmp = tmp_path_factory.mktemp("mission")
    db = tmp / "mission.db"
    with open_store(db) as store:
        summary = import_file(store, write_rows(tmp / "reports.csv"), source="patrol")
        assert summary.imported == len(ROWS) and summary.rejected == 0, summary.errors
        fuse_store(store)
        adjudicate_store(store, load_terms(TERMS))
        w = mission_window("daily", date(2021, 8, 30))
        rows = store.violations(ViolationFilter(records=ObservationFilter(
            since=w.start, until=w.end - 1), terms=TERMS), OWNER)
        vid = next(v.violation_id for v in rows if v.p_location >= 0.5
                   and v.releasability == P)
        set_violation_status(store, vid, "under_review", "anna", "two patrols heard it")
        set_violation_status(store, vid, "verified", "anna", "craters seen")
        set_violation_status(store, vid, "published", "boris", "footage checked")
        yield store, vid, db


@pytest.fixture(scope="module")
def daily(judged: tuple[SQLiteStore, int, Path]) -> MissionReport:
    return build_mission_report(judged[0], TERMS, "daily", DAY)


def by_region(r: MissionReport, part: str = "now") -> dict[str, FireCounts]:
    return {row.region: getattr(row, part) for row in r.regions}


# -- the period ------------------------------------------------------------------------------

def test_the_period_ends_at_1930_kyiv_time() -> None:
    w = mission_window("daily", date(2021, 8, 30))
    assert (w.start, w.end) == (_t("2021-08-29T16:30:00"), _t("2021-08-30T16:30:00"))
    assert w.text == "19:30 on 29 August 2021 to 19:30 on 30 August 2021"
    assert w.previous() == mission_window("daily", date(2021, 8, 29))
    winter = mission_window("daily", date(2021, 12, 1))  # UTC+2 in winter
    assert winter.end == _t("2021-12-01T17:30:00")
    week = mission_window("weekly", date(2021, 11, 3))  # clocks went back on 31 October
    assert week.hours == 7 * 24 + 1 and week.previous().end == week.start
    # before 19:30 Kyiv time the last period that has ended is yesterday's
    assert latest_day(_t("2021-08-30T16:00:00")) == date(2021, 8, 29)
    assert latest_day(_t("2021-08-30T16:30:00")) == date(2021, 8, 30)


def _t(utc: str) -> int:
    return int(datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp())


# -- ceasefire violations by region ----------------------------------------------------------

def test_counts_by_region_and_kind_equal_what_was_imported(daily: MissionReport) -> None:
    got = by_region(daily)
    assert got["Donetsk"] == FireCounts(records=5, total=21, explosions=10, impact=7,
                                        outgoing=3, undetermined=11, day=9, night=12)
    assert got["Luhansk"] == FireCounts(records=3, total=7, explosions=4, impact=4,
                                        outgoing=0, undetermined=3, day=4, night=2,
                                        time_unknown=1)  # c1: known to the day only
    assert got["elsewhere"] == FireCounts(records=1, total=1, explosions=1, undetermined=1,
                                          day=1)
    assert got["Donetsk"].other == 11 and got["Luhansk"].other == 3
    imported = {r[0]: r for r in ROWS}
    assert daily.total.now.total == sum(int(imported[k][5]) for k in FIRE_NOW)  # type: ignore[call-overload]
    assert daily.records == len(ROWS) - 3  # all but p1, p2 and s0
    for c in got.values():
        assert c.explosions + c.other == c.total
        assert c.impact + c.outgoing + c.undetermined == c.total
        assert c.total == c.day + c.night + c.time_unknown


def test_day_or_night_unknown_when_the_time_is_loose() -> None:
    def seen(utc: str, window_s: int) -> Observation:
        t = _t(utc)
        return Observation("s", "seen", t, t + window_s - 1, window_s, 48.5, 38.0, None,
                           "shots")

    assert light_of(seen("2021-08-30T10:00:00", 1)) == "day"
    assert light_of(seen("2021-08-29T22:00:00", 3600)) == "night"
    assert light_of(seen("2021-08-30T16:30:00", 1800)) == "unknown"  # dusk: -3 to -8 deg
    assert light_of(seen("2021-08-30T01:00:00", 6 * 3600)) == "unknown"  # too loose


def test_compared_with_the_previous_period(daily: MissionReport) -> None:
    before = by_region(daily, "before")
    assert before["Donetsk"] == FireCounts(records=1, total=4, explosions=4, impact=4, day=4)
    assert before["Luhansk"] == FireCounts(records=1, total=6, undetermined=6, night=6)
    assert before["elsewhere"] == FireCounts()
    rows = {row.region: row for row in daily.regions}
    assert rows["Donetsk"].change.text() == "+17 (+425%)"
    assert rows["Luhansk"].change.text() == "+1 (+17%)"
    assert rows["elsewhere"].change.text() == "+1 (new)"
    md = render_mission_markdown(daily)
    assert ("In Donetsk region, the mission recorded 21 ceasefire violations, including 10 "
            "explosions, compared with 4 ceasefire violations (4 explosions) in the previous "
            "reporting period.") in md


def test_hotspots_are_named_areas_never_coordinates(daily: MissionReport) -> None:
    fire = [r for r in ROWS if r[0] in FIRE_NOW]
    lon = [float(r[3]) for r in fire]  # type: ignore[arg-type]
    lat = [float(r[2]) for r in fire]  # type: ignore[arg-type]
    near = nearest_places(lon, lat)
    from truceguard.judge.places import place_index

    idx = place_index("UA")
    names = list(idx.name)
    from truceguard.report.period import hotspot_areas

    expect: dict[str, int] = {}
    for name, row, x, y in zip(near.name, fire, lon, lat, strict=True):
        # the area the SMM named that holds the record, else its nearest settlement
        areas = [a for a, geom, _, _ in hotspot_areas() if shapely.contains_xy(geom, x, y)]
        k = names.index(name)
        (oblast,) = oblast_names([idx.lon[k]], [idx.lat[k]])
        label = areas[0] if areas else f"{name} ({oblast})"
        expect[label] = expect.get(label, 0) + int(row[5])  # type: ignore[call-overload]
    got = {h.label: h.total for h in daily.hotspots}
    assert got == expect
    top = daily.hotspots[0]
    assert top.label == "Avdiivka-Yasynuvata-Donetsk airport"
    assert top.total == 18 and top.explosions == 8
    assert any(h.label.endswith("oblast)") for h in daily.hotspots)  # outside every area
    html = re.sub(r'src="data:image/png;base64,[^"]+"', "", render_mission_html(daily))
    for text in (render_mission_markdown(daily), html):
        assert "Avdiivka-Yasynuvata-Donetsk airport" in text
        for row in ROWS:  # no record's latitude or longitude anywhere
            for x in (row[2], row[3]):
                assert not re.search(rf"(?<![\d.]){re.escape(str(x))}(?!\d)", text), x


def test_estimates_are_said_as_assessed(daily: MissionReport) -> None:
    md = render_mission_markdown(daily)
    assert "assessed as outgoing 122 mm artillery fire (2S1), 3-5 km south-east" in md
    assert "assessed as impacting 120 mm mortar fire (2B11), direction" not in md
    assert "assessed as impacting 120 mm mortar fire (2B11)" in md
    assert "assessed as T-72" in md  # the sighting's weapon
    r = MonitorReport("fire", "undetermined", 10.0, 80.0, 1.0, 2.0)
    assert assessed_fire(r, "unknown") == "direction undetermined; assessed as 1-2 km away"


# -- who may see what, and which findings ----------------------------------------------------

def test_restricted_records_absent_for_a_viewer_who_may_not_see_them(
        judged: tuple[SQLiteStore, int, Path], daily: MissionReport) -> None:
    store = judged[0]
    fra = build_mission_report(store, TERMS, "daily", DAY, Viewer.of("FRA"))
    assert by_region(fra)["Donetsk"] == FireCounts(records=4, total=16, explosions=5,
                                                   impact=2, outgoing=3, undetermined=11,
                                                   day=4, night=12)
    assert fra.marking == "PUBLIC" and daily.marking == "REL TO GBR"
    assert fra.banner == "PUBLIC. Made for: a viewer holding EU, FRA, NATO."
    md_fra, md_owner = render_mission_markdown(fra), render_mission_markdown(daily)
    assert "five impacts on the camera" not in md_fra
    assert "five impacts on the camera" in md_owner
    lines = md_fra.strip().splitlines()
    assert lines[0] == lines[-1] == "**PUBLIC. Made for: a viewer holding EU, FRA, NATO.**"
    gbr = build_mission_report(store, TERMS, "daily", DAY, Viewer.of("GBR"))
    assert by_region(gbr)["Donetsk"].total == 21 and gbr.marking == "REL TO GBR"


def test_published_findings_only_unless_asked(judged: tuple[SQLiteStore, int, Path],
                                              daily: MissionReport) -> None:
    store, vid, _ = judged
    assert [v.violation_id for v in daily.findings.shown] == [vid]
    assert daily.findings.published_only and daily.findings.published == 1
    w = mission_window("daily", date(2021, 8, 30))
    every = [v for v in store.violations(ViolationFilter(records=ObservationFilter(
        since=w.start, until=w.end - 1), terms=TERMS), OWNER) if v.p_location >= 0.5]
    assert len(every) > 1 and daily.findings.not_published == len(every) - 1
    md = render_mission_markdown(daily)
    assert "**published findings only**" in md
    assert f"{len(every) - 1} not yet published left out" in md or \
        f"{len(every) - 1} findings not yet published left out" in md
    full = build_mission_report(store, TERMS, "daily", DAY, include_unpublished=True)
    assert sorted(v.violation_id for v in full.findings.shown) == sorted(
        v.violation_id for v in every)
    assert "**every status**" in render_mission_markdown(full)
    # observations are the monitors' own: all of them either way
    assert full.records == daily.records and full.regions == daily.regions


# -- the other sections ----------------------------------------------------------------------

def test_weapons_from_the_register(daily: MissionReport) -> None:
    """Two sightings of the same two tanks are one system of two in the register."""
    if register_module() is None:
        pytest.skip(f"{REGISTER_MODULE} is not installed")
    w = daily.weapons
    assert w.source == "register" and w.total == 2 and w.by_type == [("T-72", 2)]
    assert w.summary == [("T-72", "non-government-controlled", "security_15km", 1, 2)]
    (row,) = w.rows
    assert row.seen.endswith("2 sightings, linked") and row.count == 2
    assert "From the weapons register" in render_mission_markdown(daily)


def test_weapons_without_the_register(judged: tuple[SQLiteStore, int, Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the register: the sightings whose in_zone the monitor set, each counted."""
    monkeypatch.setattr(mission_sections, "register_module", lambda: None)
    r = build_mission_report(judged[0], TERMS, "daily", DAY)
    w = r.weapons
    assert w.source == "in_zone" and w.by_type == [("T-72", 4)] and len(w.rows) == 2
    assert "in_zone" in w.note and "not installed" in w.note
    assert [x.zone for x in w.rows] == ["withdrawal_line"] * 2
    assert "(in_zone) the monitor set" in render_mission_markdown(r)


def test_storage_movement_harm_hazards(daily: MissionReport) -> None:
    ((site,),) = [[s for s in daily.storage]]
    assert site.site == "site 7" and site.state == "absent" and site.missing
    assert site.earlier_state == "present" and site.visits == 1
    assert daily.restrictions.by_side == [("armed formations", 1)]
    assert daily.restrictions.by_type == [("at a checkpoint", 1)]
    assert daily.restrictions.lines[0].r.delay_min == 45
    assert (daily.harm.killed, daily.harm.injured) == (1, 2)
    assert daily.harm.by_corroboration == [("site visit", 1)]
    assert dict(daily.hazards.by_type) == {"mines": 4, "unexploded ordnance (UXO)": 1}
    assert daily.other == [("drone", 1)]
    # The two disengagement areas of 2016 the shipped terms draw, quiet on this day.
    assert [(a.zone, a.fire) for a in daily.disengagement] == [
        ("disengagement_stanytsia_luhanska", 0), ("disengagement_zolote", 0)]
    assert daily.disengagement_note == ""
    md = render_mission_markdown(daily)
    for text in ("missing on a repeat visit", "| armed formations | checkpoint | 45 min |",
                 "house roof", "site visit", "UXO", "disengagement_zolote"):
        assert text in md, text


def test_disengagement_areas_of_the_terms(judged: tuple[SQLiteStore, int, Path]) -> None:
    text = data_path("terms", "minsk-2015.yaml").read_text(encoding="utf-8")
    zone = ("zones:\n  - id: disengagement_zolote_wide\n"
            "    polygon: {geojson: {type: Polygon, coordinates: [[[38.45, 48.65], "
            "[38.58, 48.65], [38.58, 48.73], [38.45, 48.73], [38.45, 48.65]]]}}\n"
            "    effective: 2016-09-21T00:00:00+03:00\n"
            "    source: package-of-measures\n"
            "    paraphrase: A disengagement area around Zolote (for the tests).\n"
            "    certainty: {level: assumed, note: drawn for the tests}\n")
    terms = parse_terms(text.replace("zones:\n", zone, 1),
                        str(data_path("terms", "minsk-2015.yaml")))
    r = build_mission_report(judged[0], terms, "daily", DAY)
    (area,) = [a for a in r.disengagement if a.zone == "disengagement_zolote_wide"]
    assert area.fire == 4  # f6 only
    assert area.by_kind == [("fire", 1)] and r.disengagement_note == ""


def test_a_period_with_no_records_says_why(judged: tuple[SQLiteStore, int, Path],
                                           tmp_path: Path) -> None:
    r = build_mission_report(judged[0], TERMS, "daily", "2020-01-01")
    assert r.records == 0 and r.total.now == FireCounts()
    assert r.note == ("No record in this reporting period: the records run from 2021-08-28 to "
                      "2021-08-30 (UTC). Choose a --date inside them.")
    assert f"**{r.note}**" in render_mission_markdown(r)
    fra = build_mission_report(judged[0], TERMS, "daily", "2020-01-01", Viewer.of("FRA"))
    assert "records that this viewer may see run from" in fra.note
    with open_store(tmp_path / "empty.db") as empty:
        none = build_mission_report(empty, TERMS, "weekly", DAY)
    assert none.note.startswith("The store holds no records: nothing to report. Import")
    html = render_mission_html(none)
    assert "none in this period" in html and f'id="no-records">{none.note}' in html.replace(
        "&#39;", "'")


# -- the renderings --------------------------------------------------------------------------

def test_html_has_both_banners_and_a_map(daily: MissionReport) -> None:
    html = render_mission_html(daily)
    banner = '<div class="banner top">REL TO GBR. Made for: the database owner'
    assert html.count("REL TO GBR. Made for: the database owner") == 2
    assert banner in html and html.rstrip().endswith("</div>\n</body></html>")
    assert html.index('class="banner bottom"') > html.index('id="findings"')
    (uri,) = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert base64.b64decode(uri)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "19:30" in html and "Kyiv time" in html
    assert "http://" not in html.split("<body>")[1] and "https://" not in html


def test_markdown_reads(daily: MissionReport) -> None:
    md = render_mission_markdown(daily)
    lines = md.strip().splitlines()
    assert lines[0] == lines[-1] == f"**{daily.banner}**"
    assert "# Daily report: 2021-08-30" in md
    assert ("**Reporting period: 19:30 on 29 August 2021 to 19:30 on 30 August 2021**, Kyiv "
            "time (UTC+3): the period ends at 19:30 local time") in md
    assert "| Donetsk region | 21 | 4 | +17 (+425%) | 10 | 4 | +6 (+150%) | 11 | 7 | 3 | 11 | 9 " \
           "| 12 | 0 | 5 |" in md
    assert "| All regions | 29 | 10 |" in md
    assert "\n\n\n\n" not in md  # no runs of blank lines
    for table in re.findall(r"((?:^\|.*\|\n)+)", md, flags=re.M):
        widths = {row.count("|") - row.count("\\|") for row in table.splitlines()}
        assert len(widths) == 1, table  # every row of a table has the same cells


def test_weekly_report_adds_the_days(judged: tuple[SQLiteStore, int, Path]) -> None:
    week = build_mission_report(judged[0], TERMS, "weekly", DAY)
    assert week.window.hours == 7 * 24
    assert week.total.now.total == 21 + 7 + 1 + 4 + 6  # both days, p1 and p2 too
    assert week.total.before.total == 0
    assert "# Weekly report: 2021-08-30" in render_mission_markdown(week)


# -- the command -----------------------------------------------------------------------------

def test_cli_daily_weekly_and_the_period_report(judged: tuple[SQLiteStore, int, Path],
                                                tmp_path: Path) -> None:
    db = str(judged[2])
    runner = CliRunner()
    r = runner.invoke(main, ["report", "--terms", TERMS, "--kind", "daily", "--date", DAY,
                             "--db", db])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("**REL TO GBR.") and "# Daily report: 2021-08-30" in r.output
    out = tmp_path / "d.html"
    r = runner.invoke(main, ["report", "--terms", TERMS, "--format", "daily", "--date", DAY,
                             "--releasable-to", "FRA", "--include-unpublished", "-o", str(out),
                             "--db", db])
    assert r.exit_code == 0, r.output
    assert "daily report to 19:30 Kyiv time on 2021-08-30: 24 ceasefire violations recorded" \
        in r.output and "every status" in r.output and r.output.rstrip().endswith("PUBLIC")
    banner = "PUBLIC. Made for: a viewer holding EU, FRA, NATO."
    assert out.read_text(encoding="utf-8").count(banner) == 2
    r = runner.invoke(main, ["report", "--terms", TERMS, "--kind", "weekly", "--date", DAY,
                             "--format", "md", "-o", str(tmp_path / "w.md"), "--db", db])
    assert r.exit_code == 0 and "weekly report" in r.output, r.output
    # the period report as before
    r = runner.invoke(main, ["report", "--terms", TERMS, "--period", "day", "--from",
                             "2021-08-28", "--to", "2021-08-30", "-o", str(tmp_path / "p.html"),
                             "--db", db])
    assert r.exit_code == 0 and " counted, " in r.output and "by day" in r.output, r.output


@pytest.mark.parametrize(("args", "said"), [
    (["--kind", "daily", "--from", "2021-08-01"], "--from belong to the period report"),
    (["--kind", "weekly", "--period", "day"], "--period belong to the period report"),
    (["--from", "2021-08-01", "--to", "2021-08-30", "--date", DAY], "--date belong to the "
     "daily and weekly reports"),
    (["--from", "2021-08-01", "--to", "2021-08-30", "--include-unpublished"],
     "--include-unpublished belong"),
    ([], "the period report needs --from and --to"),
    (["--kind", "weekly", "--format", "daily"], "give one of them"),
    (["--kind", "daily", "--date", "2021-08"], "'2021-08' is not a day"),
])
def test_cli_options_that_do_not_go_together(judged: tuple[SQLiteStore, int, Path],
                                             args: list[str], said: str) -> None:
    r = CliRunner().invoke(main, ["report", "--terms", TERMS, *args, "--db", str(judged[2])])
    assert r.exit_code != 0 and said in r.output, r.output
    assert "Traceback" not in r.output
