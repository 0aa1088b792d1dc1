"""The dashboard in a real browser: Debian's chromium, driven by Playwright, against a real
`truceguard serve` holding UCDP events of 2015 and patrol reports releasable to GBR only.

Every request the page makes is watched: one to any host but the server's fails the tests.
Screenshots are kept in each test's tmp_path (one is copied to /tmp/dashboard.png).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UCDP_CLEAN
from tests.server_fixtures import Server, list_all, serving
from tests.web_fixtures import Page, chromium
from truceguard.ingest import import_file, ingest_records
from truceguard.judge.terms import load_terms
from truceguard.marking import most_restrictive
from truceguard.model import MonitorReport, Observation, iso, sha256_text
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import open_store

PATROLS = 12  # patrol reports marked REL TO GBR, each at its own place
T_PATROL = 1_426_500_000  # 2015-03-16


def _patrol(k: int) -> Observation:
    raw = f"patrol-7,2015-03-16,{k},shelling heard and seen near checkpoint {k}"
    return Observation(source="patrol", how_known="seen", t_start=T_PATROL + 600 * k,
                       t_end=T_PATROL + 600 * k, time_precision_s=60, lat=47.20 + 0.05 * k,
                       lon=35.20 + 0.35 * k, uncertainty_m=300.0, category="shelling",
                       source_ref=f"p7-{k}", releasability="REL TO GBR", raw=raw,
                       raw_sha256=sha256_text(raw), source_file="patrol-7.csv",
                       source_line=k + 2)


def _sighting() -> Observation:
    """A PUBLIC sighting of heavy artillery 3 km from the Minsk line: in the register."""
    raw = "patrol-7,2015-03-20,2S1 battery of 6 seen at a farm"
    return Observation(source="patrol", how_known="seen", t_start=T_PATROL + 4 * 86400,
                       t_end=T_PATROL + 4 * 86400, time_precision_s=60, lat=48.02,
                       lon=37.70, uncertainty_m=100.0, category="weapon_presence",
                       weapon_class="artillery_ge100", count=6, source_ref="p7-s",
                       releasability="PUBLIC", raw=raw, raw_sha256=sha256_text(raw),
                       source_file="patrol-7.csv", source_line=40,
                       report=MonitorReport(kind="sighting"))


def _mission(db: Path, tmp: Path) -> None:
    """UCDP events of 2015-01 .. 2015-08 (PUBLIC), the patrol reports, fused and judged."""
    subset = tmp / "ucdp_2015.csv"
    with open(UCDP_CLEAN, encoding="utf-8", newline="") as src, \
            open(subset, "w", encoding="utf-8", newline="") as out:
        rows = csv.DictReader(src)
        w = csv.DictWriter(out, fieldnames=list(rows.fieldnames or []))
        w.writeheader()
        w.writerows(r for r in rows if "2015-01" <= r["date_start"][:7] <= "2015-08")
    with open_store(str(db)) as store:
        store.set_owner_nation("GBR")
        import_file(store, subset)
        ingest_records(store, [_patrol(k) for k in range(PATROLS)], source="patrol")
        ingest_records(store, [_sighting()], source="patrol")
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("web")
    _mission(folder / "mission.db", folder)
    with serving(folder) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _all(server: Server, user: str, kind: str, params: dict[str, str]) -> tuple[list, list]:
    """Every item of a list endpoint with ``params``, and its pages' markings."""
    return list_all(server, user, kind, params)


@pytest.fixture()
def gbr(browser: Any, server: Server, tmp_path: Path) -> Iterator[Page]:
    page = Page(browser, server, "gbr", tmp_path)
    yield page
    page.close()


@pytest.fixture(scope="module")
def gbr_view(browser: Any, server: Server,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One page of gbr's for the tests that only read it (none moves, filters or clicks),
    loaded once: a page takes about two seconds to load on the software renderer."""
    page = Page(browser, server, "gbr", tmp_path_factory.mktemp("view"))
    yield page
    page.close()


def test_the_map_loads_offline_with_the_shipped_layers(gbr_view: Page) -> None:
    gbr_view.page.wait_for_function("() => window.dashboard.map.loaded()", timeout=30_000)
    state = gbr_view.page.evaluate("""() => {
        const m = window.dashboard.map;
        return {loaded: m.loaded(), layers: m.getLayersOrder(), glyphs: m.getGlyphs() || null,
                lines: m.querySourceFeatures('line_of_contact').length,
                canvas: document.querySelector('#map canvas') !== null}}""")
    assert state["loaded"] and state["canvas"], state
    for layer in ("line-of-contact", "incidents", "incident-clusters", "incident-uncertainty",
                  "violations", "zones-fill", "zones-line"):
        assert layer in state["layers"], state
    assert state["glyphs"].startswith(gbr_view.server.url + "/app/glyphs/")  # this server's text
    assert state["lines"] > 0
    # each cluster drawn says how many incidents it holds (once its text is laid out)
    counts = gbr_view.page.wait_for_function("""() => {
        const n = window.dashboard.map.queryRenderedFeatures(
            {layers: ['incident-cluster-counts']}).map(f => f.properties.point_count);
        return n.length ? n : null; }""", timeout=30_000).json_value()
    assert all(n > 1 for n in counts), counts
    items, markings = _all(gbr_view.server, "gbr", "incidents", {})
    assert gbr_view.count() == len(items)
    violations, vmarkings = _all(gbr_view.server, "gbr", "violations", {})
    assert int(gbr_view.text("#count-violations")) == len(violations) > 0
    # the banner: the narrowest marking of what is shown (the patrols: REL TO GBR)
    banner = most_restrictive(markings + vmarkings).text
    assert banner == "REL TO GBR"
    for where in ("#marking-top", "#marking-bottom"):
        assert gbr_view.page.get_attribute(where, "data-marking") == banner
    gbr_view.shot("map")


def test_zoomed_out_every_incident_is_counted_once_in_its_cluster(gbr_view: Page) -> None:
    """The clusters drawn below zoom 10 (``clusters.js``): at every level each incident of
    the view is in exactly one cluster; a lone one is drawn as itself, at its position; a
    cluster sits at its incidents' mean, inside its cell. Checked on the view and on points
    made to straddle cell edges (two points a metre apart across a cell boundary)."""
    result = gbr_view.page.evaluate("""async () => {
        const { clusterLevels, CELL_PX, CLUSTER_MAX_ZOOM } = await import('/app/js/clusters.js');
        const view = window.dashboard.state.incidents;
        // a cell edge at zoom 9 (x = k * CELL_PX / (512 * 2^9) of the world): 37.46 E
        const edgeLon = (3299 * CELL_PX / (512 * 2 ** 9)) * 360 - 180;
        const made = [{lon: edgeLon - 1e-5, lat: 48}, {lon: edgeLon + 1e-5, lat: 48},
                      {lon: 37.5, lat: 48.5}];
        const check = (items) => {
            const fc = clusterLevels(items, (i) => ({lon: i.lon, lat: i.lat}));
            const sums = {}, problems = [];
            for (const f of fc.features) {
                const p = f.properties;
                sums[p.z] = (sums[p.z] || 0) + p.point_count;
                const [x, y] = f.geometry.coordinates;
                if (p.point_count === 1 && (x !== p.lon || y !== p.lat)) problems.push(p);
            }
            return {sums, problems, levels: CLUSTER_MAX_ZOOM + 1,
                    finest: fc.features.filter(f => f.properties.z === CLUSTER_MAX_ZOOM)
                        .map(f => f.properties.point_count)};
        };
        return {view: check(view), n: view.length, made: check(made), edge: edgeLon,
                drawn: window.dashboard.map.getSource('incident-clusters')._data.features
                    .filter(f => f.properties.z === 0)
                    .reduce((n, f) => n + f.properties.point_count, 0)};
    }""")
    n = result["n"]
    assert n == gbr_view.count() > 0
    view = result["view"]
    assert len(view["sums"]) == view["levels"] == 10
    assert set(view["sums"].values()) == {n} and not view["problems"]
    assert result["drawn"] == n
    made = result["made"]
    assert 37.4 < result["edge"] < 37.5
    # the two points a metre apart across an edge are two lone points at the finest level
    assert sorted(made["finest"]) == [1, 1, 1] and set(made["sums"].values()) == {3}
    assert not made["problems"]


def test_slow_frames_are_moved_on_the_page_instead_of_drawn_while_the_map_moves(gbr: Page
                                                                              ) -> None:
    """``SlidingMotion``: frames within the limit are all drawn; once the frames of a movement
    come slower than it, the rest of that movement and every later one are shown by moving
    a copy of the last frame drawn (a CSS transform that changes at each step), and the map
    is drawn again, and shown instead of the copy, when it stops."""
    result = gbr.page.evaluate("""async () => {
        const m = window.dashboard.map, motion = window.dashboard.motion;
        motion.pauseMs = 1e6;  // no pause within these movements draws
        const move = async (lng, lat, duration = 1500) => {
            const seen = [];  // at each step: frames drawn so far, the copy's transform
            const onRender = () => { if (motion.moving) seen.push([motion.draws,
                                                                   motion.transform]); };
            m.on('render', onRender);
            const ended = m.once('moveend');
            m.easeTo({center: [lng, lat], duration});
            await ended;
            m.off('render', onRender);
            await m.once('idle');
            return {seen, after: [motion.draws, motion.transform]};
        };
        const c = m.getCenter();
        motion.slowFrameMs = 1e6;  // no frame is that slow
        const fast = await move(c.lng + 0.3, c.lat);
        const afterFast = motion.slow;
        motion.slowFrameMs = 0;  // every frame is
        const measured = await move(c.lng, c.lat, 4000);  // four frames even when slow
        const marked = motion.slow;
        const slow = await move(c.lng + 0.3, c.lat);
        return {fast, afterFast, measured, marked, slow};
    }""")
    fast = result["fast"]["seen"]
    assert len(fast) > 3 and not result["afterFast"]
    assert [d for d, _ in fast] == list(range(fast[0][0], fast[0][0] + len(fast)))
    assert {t for _, t in fast} == {""}
    # found slow after three intervals: the rest of that movement is moved, not drawn
    measured = result["measured"]["seen"]
    assert result["marked"] and measured[0][1] == "" and measured[-1][1].startswith("translate")
    drawn_then = measured[-1][0]
    assert drawn_then < measured[0][0] + 6
    for key in ("measured", "slow"):  # drawn once more when it stops, with no transform
        assert result[key]["after"][1] == ""
    assert result["measured"]["after"][0] > drawn_then
    slow = result["slow"]["seen"]
    assert len(slow) > 3 and {d for d, _ in slow} == {result["measured"]["after"][0]}
    transforms = [t for _, t in slow]
    assert all(t.startswith("translate") for t in transforms)
    assert len(set(transforms)) > len(transforms) // 2  # each step moves it further
    assert result["slow"]["after"][0] > slow[0][0]


def _grey(path: Path) -> Any:
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path).convert("L"), dtype=np.float32)


def _best_shift(before: Any, after: Any, near: tuple[int, int], reach: int = 5
                ) -> tuple[tuple[int, int], float, float]:
    """The shift (dx, dy) within ``reach`` of ``near`` that best carries ``before`` onto
    ``after`` (mean absolute difference over the inside of the picture), its difference, and
    the difference with no shift at all."""
    h, w = before.shape
    m = 80  # margin: what came into view at the edges is not compared

    def diff(dx: int, dy: int) -> float:
        return float(abs(after[m + dy:h - m + dy, m + dx:w - m + dx]
                         - before[m:h - m, m:w - m]).mean())

    shifts = [(near[0] + i, near[1] + j) for i in range(-reach, reach + 1)
              for j in range(-reach, reach + 1)]
    best = min(shifts, key=lambda s: diff(*s))
    return best, diff(*best), diff(0, 0)


def test_a_drag_on_a_slow_renderer_moves_the_last_frame_with_the_mouse(gbr: Page) -> None:
    """A real mouse drag once frames are slow: the picture follows the mouse pixel for
    pixel while nothing is drawn (compared with a screenshot from before the drag), a pause
    with the button held draws the map where it now is, and so does the release."""
    page = gbr.page
    page.evaluate("""() => { const motion = window.dashboard.motion;
        motion.slow = true; motion.pauseMs = 1e6; motion.drawNow(); }""")
    page.wait_for_function("() => window.dashboard.motion.drawn !== null")
    box = page.locator("#map").bounding_box()
    assert box is not None
    clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}
    before = gbr.tmp / "before-drag.png"
    page.screenshot(path=str(before), clip=clip)
    draws = page.evaluate("() => window.dashboard.motion.draws")
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x + 6 * k, y + 4 * k)
    page.wait_for_function("""() => window.dashboard.motion.slides > 0 &&
        window.dashboard.motion.transform.includes('60px, 40px')""")
    during = gbr.tmp / "during-drag.png"
    page.screenshot(path=str(during), clip=clip)
    assert page.evaluate("() => window.dashboard.motion.draws") == draws
    shift, moved, unmoved = _best_shift(_grey(before), _grey(during), (60, 40))
    assert shift == (60, 40) and moved < 1.0 < unmoved, (shift, moved, unmoved)
    page.evaluate("() => { window.dashboard.motion.pauseMs = 200 }")
    page.mouse.move(x + 62, y + 41)  # then held still: drawn where the map now is
    page.wait_for_function(f"""() => window.dashboard.motion.draws > {draws} &&
        window.dashboard.motion.moving &&
        window.dashboard.motion.transform === ''""")
    page.mouse.up()
    page.wait_for_function("""() => !window.dashboard.motion.moving &&
        window.dashboard.motion.transform === ''""")


def test_the_zones_of_the_active_terms_are_a_layer(gbr_view: Page) -> None:
    with gbr_view.server.client("gbr") as c:
        doc = c.get("/api/v1/zones").json()
        unknown = c.get("/api/v1/zones", params={"terms": "geneva-1864"})
    assert doc["marking"] == "PUBLIC" and doc["terms"] == ["minsk-2015"]
    zones = {f["properties"]["zone"] for f in doc["features"]}
    assert {"security_15km", "artillery_ge100", "disengagement_zolote"} <= zones
    band = [f for f in doc["features"] if f["properties"]["zone"] == "security_15km"]
    assert {f["properties"]["side"] for f in band} == {"government-controlled",
                                                       "non-government-controlled"}
    assert "minsk-2015/withdrawal/security_15km" in band[0]["properties"]["clauses"]
    assert unknown.status_code == 404 and "'geneva-1864'" in unknown.json()["error"]["message"]
    drawn = gbr_view.page.evaluate("""() => new Set(
        window.dashboard.map.querySourceFeatures('zones').map(f => f.properties.zone)).size""")
    assert drawn == len(zones)
    assert "zone minsk-2015/security_15km" in gbr_view.text("#legend")


def test_counts_per_area_and_day_are_those_of_the_listed_incidents(gbr: Page) -> None:
    import shapely
    from shapely.geometry import shape

    gbr.brush(30, 75)
    items, _ = _all(gbr.server, "gbr", "incidents", gbr.period())
    with gbr.server.client("gbr") as c:
        oblasts = c.get("/api/v1/layers/oblasts").json()["features"]
    areas = [(f["properties"]["name"], shape(f["geometry"])) for f in oblasts]
    want: dict[str, dict[str, int]] = {}
    for i in items:
        point = shapely.Point(i["lon"], i["lat"])
        area = next((n for n, g in areas if g.contains(point)), "outside the oblasts")
        days = want.setdefault(area, {})
        days[i["t_start"][:10]] = days.get(i["t_start"][:10], 0) + 1
    rows = gbr.page.evaluate("""() => [...document.querySelectorAll('#area-counts tbody tr')]
        .map(tr => [...tr.children].map(td => td.textContent))""")
    got = {r[0]: (int(r[1]), int(r[2]), r[3]) for r in rows}
    assert set(got) == set(want)
    for area, days in want.items():
        top = max(days.values())
        busiest = min(d for d, n in days.items() if n == top)
        assert got[area] == (sum(days.values()), len(days), f"{busiest} ({top})"), area
    assert sum(t for t, _, _ in got.values()) == gbr.count() == len(items)


def test_the_weapons_register_is_a_layer_of_the_view(gbr: Page) -> None:
    with gbr.server.client("gbr") as c:
        systems = c.get("/api/v1/register", params={"terms": "minsk-2015"}).json()["items"]
    assert systems and systems[0]["weapon_class"] == "artillery_ge100"
    shown = gbr.page.evaluate("""() => window.dashboard.state.register.map(s => s.system_id)""")
    assert shown == [s["system_id"] for s in systems]
    assert f"weapons in violation (register): {len(systems)} system(s)" in gbr.text("#legend")
    gbr.brush(1, 20)  # January 2015: before the sighting
    assert gbr.page.evaluate("() => window.dashboard.state.register.length") == 0


def test_the_timeline_filters_every_layer_to_what_the_api_answers(gbr: Page) -> None:
    total = gbr.count()
    gbr.brush(30, 75)  # about mid-January to the end of February 2015
    period = gbr.period()
    assert set(period) == {"since", "until"}, period
    items, _ = _all(gbr.server, "gbr", "incidents", period)
    violations, _ = _all(gbr.server, "gbr", "violations", period)
    assert 0 < gbr.count() == len(items) < total
    assert int(gbr.text("#count-violations")) == len(violations)
    shown = gbr.page.evaluate("""() => ({
        incidents: window.dashboard.map.getSource('incidents')._data.features.length,
        violations: window.dashboard.map.getSource('violations')._data.features.length,
        listed: document.querySelectorAll('#incident-list li[data-incident-id]').length})""")
    assert shown == {"incidents": len(items), "violations": len(violations),
                     "listed": min(len(items), 500)}
    gbr.shot("filtered")
    gbr.page.click("#last-24h")  # the 2015 data has nothing in the last day
    gbr.page.wait_for_function("() => document.getElementById('period').textContent === "
                               "'the last 24 h' && document.body.dataset.state === 'ready'")
    assert gbr.count() == len(_all(gbr.server, "gbr", "incidents", gbr.period())[0]) == 0


def test_clicking_an_incident_shows_its_reports_raw_evidence(gbr: Page) -> None:
    items, _ = _all(gbr.server, "gbr", "incidents", {})
    target = next(i for i in items if i["category"] == "shelling"
                  and abs(i["lon"] - 35.55) < 1e-6)  # the patrol's report k=1
    gbr.page.evaluate("""async ([lon, lat]) => {
        const m = window.dashboard.map;
        m.jumpTo({center: [lon, lat], zoom: 12});
        await new Promise(r => m.once('idle', r));}""", [target["lon"], target["lat"]])
    box = gbr.page.locator("#map").bounding_box()
    assert box is not None
    gbr.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    panel = gbr.page.locator(f"#incident[data-incident-id='{target['incident_id']}']")
    panel.wait_for(state="visible", timeout=15_000)
    gbr.ready()
    with gbr.server.client("gbr") as c:
        answer = c.get(f"/api/v1/incidents/{target['incident_id']}").json()
    text = panel.inner_text()
    assert answer["observations"]
    for o in answer["observations"]:
        assert o["raw"] in text and o["raw_sha256"] in text
        assert f"{o['source_file']}:{o['source_line']}" in text
    assert "marking: REL TO GBR" in text
    # the selected incident is ringed with its uncertainty; every incident's on request
    selected = gbr.page.evaluate("""() => window.dashboard.map.getSource('selected')._data
        .features.map(f => f.properties.incident_id)""")
    assert selected == [target["incident_id"]]
    visibility = """() => window.dashboard.map.getLayoutProperty('incident-uncertainty',
        'visibility')"""
    assert gbr.page.evaluate(visibility) == "none"
    gbr.page.check("#show-uncertainty")
    assert gbr.page.evaluate(visibility) == "visible"
    gbr.page.evaluate("""async () => {  // the incident among the others, for the screenshot
        const m = window.dashboard.map;
        m.jumpTo({center: [37.0, 48.0], zoom: 6.3});
        await new Promise(r => m.once('idle', r));}""")
    shot = gbr.shot("incident")
    shutil.copyfile(shot, "/tmp/dashboard.png")


def test_a_user_of_another_nation_sees_fewer_incidents(browser: Any, server: Server,
                                                       gbr: Page, tmp_path: Path) -> None:
    fra = Page(browser, server, "fra", tmp_path)
    try:
        assert fra.count() == len(_all(server, "fra", "incidents", {})[0])
        assert fra.count() < gbr.count()
        assert fra.page.get_attribute("#marking-top", "data-marking") == "PUBLIC"
        assert "REL TO GBR" not in fra.page.content()
        fra.shot("fra")
    finally:
        fra.close()


def _png(size: int = 8) -> bytes:
    """A small red PNG (written here: no image library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xd0\x20\x20" * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _decide(page: Page, vid: str, status: str, why: str) -> Any:
    form = page.page.locator(f"form.decide[data-violation-id='{vid}']")
    form.locator("select").select_option(status)
    form.locator("input[name=why]").fill(why)
    form.locator("button").click()
    return form


def test_analysts_decide_in_the_panel_and_its_photos_show(browser: Any, server: Server,
                                                         tmp_path: Path) -> None:
    violations, _ = _all(server, "gbr", "violations", {})
    v = next(v for v in violations if v["releasability"] == "PUBLIC")
    vid, inc = v["violation_id"], v["incident_id"]
    with server.client("gbr") as c:
        obs = c.get(f"/api/v1/incidents/{inc}").json()["observations"][0]["obs_id"]
        r = c.post(f"/api/v1/observations/{obs}/attachments", content=_png(),
                   headers={"X-Filename": "crater.png"})
        assert r.status_code in (200, 201), r.text
    a = Page(browser, server, "gbr", tmp_path)
    b = Page(browser, server, "fra", tmp_path)
    try:
        a.page.evaluate("id => window.dashboard.select(id)", inc)
        photo = a.page.locator("#incident img.photo")
        photo.wait_for(state="visible", timeout=15_000)
        a.page.wait_for_function("() => [...document.querySelectorAll('#incident img.photo')]"
                                 ".every(i => i.complete && i.naturalWidth === 8)")
        assert (photo.get_attribute("src") or "").startswith("blob:")
        _decide(a, vid, "verified", "craters match the report")
        trail = a.page.locator(f"#incident .violation[data-violation-id='{vid}'] ol.trail")
        trail.get_by_text("verified by gbr: craters match the report").wait_for(timeout=15_000)
        # A publishes what A verified: the server refuses, and the panel says why.
        with server.client("gbr") as c:
            refusal = c.post(f"/api/v1/violations/{vid}/status",
                             json={"status": "published", "why": "x"}).json()["error"]
        form = _decide(a, vid, "published", "confirmed")
        a.page.wait_for_function(f"() => document.querySelector(\"form.decide[data-violation-id"
                                 f"='{vid}']\").dataset.state === 'refused'", timeout=15_000)
        said = form.locator(".said").inner_text()
        assert refusal["message"] in said and refusal["hint"] in said
        a.shot("refused")
        # B, a second analyst, publishes from their own panel.
        b.page.evaluate("id => window.dashboard.select(id)", inc)
        b.page.locator(f"form.decide[data-violation-id='{vid}']").wait_for(timeout=15_000)
        _decide(b, vid, "published", "second look: confirmed")
        b.page.locator(f"#incident .violation[data-violation-id='{vid}'] ol.trail").get_by_text(
            "published by fra: second look: confirmed").wait_for(timeout=15_000)
        with server.client("gbr") as c:
            assert c.get(f"/api/v1/violations/{vid}").json()["item"]["status"] == "published"
        b.shot("published")
    finally:
        b.close()
        a.close()


def _map_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a part of GET /api/v1/map, its columns decoded (times as ISO text)."""
    cols = {name: [c["values"][k] for k in c["codes"]] if isinstance(c, dict) else c
            for name, c in part["columns"].items()}
    assert {len(c) for c in cols.values()} == {part["count"]}
    rows = [dict(zip(cols, r, strict=True)) for r in zip(*cols.values(), strict=True)]
    for r in rows:
        r["t_start"] = iso(r["t_start"])
    return rows


ROUNDED = {"lon": 5e-6, "lat": 5e-6, "uncertainty_m": 0.5, "p_location": 5e-4}  # to 5, 0, 3 places


def _same(row: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether a map view's ``row`` is the list's ``item``: its rounded numbers within half
    their last place, every other field equal."""
    return all(abs(v - item[k]) <= ROUNDED[k] + 1e-9 if k in ROUNDED else v == item[k]
               for k, v in row.items())


def test_the_map_view_is_the_lists_in_columns(server: Server) -> None:
    period = {"since": "2015-02-01T00:00:00Z", "until": "2015-03-31T23:59:59Z"}
    seen = {}
    for user in ("gbr", "fra"):
        incidents, imarks = _all(server, user, "incidents", period)
        violations, vmarks = _all(server, user, "violations", period)
        with server.client(user) as c:
            view = c.get("/api/v1/map", params=period).json()
            parts = [c.get("/api/v1/map", params={**period, "part": p}).json()
                     for p in ("incidents", "violations")]
            refused = c.get("/api/v1/map", params={"cursor": "x"})
            wrong = c.get("/api/v1/map", params={"part": "observations"})
        assert incidents and violations
        for got, want in ((view["incidents"], incidents), (view["violations"], violations)):
            rows = _map_rows(got)
            assert len(rows) == len(want)
            assert all(_same(r, w) for r, w in zip(rows, want, strict=True)), (user, rows[:3])
        seen[user] = {r["incident_id"] for r in _map_rows(view["incidents"])}
        assert view["marking"] == most_restrictive(imarks + vmarks).text
        assert view["terms"] == ["minsk-2015"]
        assert parts[0]["incidents"] == view["incidents"] and "violations" not in parts[0]
        assert parts[1]["violations"] == view["violations"] and "incidents" not in parts[1]
        assert parts[0]["marking"] == most_restrictive(imarks).text
        assert parts[1]["marking"] == most_restrictive(vmarks).text
        assert refused.status_code == 400 and "cursor" in refused.json()["error"]["message"]
        assert wrong.status_code == 400
    assert seen["fra"] < seen["gbr"]  # the patrols are GBR's alone
