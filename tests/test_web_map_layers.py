"""The dashboard's map beyond incidents and violations (real Chromium, a real server): the
operator's PMTiles basemap under the layers, with the marking its operator gave it; text and
icons drawn from this server's glyphs and sprite; the monitors' restrictions of movement; a
plan run's sites, assets and coverage, chosen in the side panel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.pmtiles_fixtures import osm_like_archive, raster_archive
from tests.server_fixtures import Server, serving
from tests.web_fixtures import Page, chromium

MAGENTA = (230, 40, 230)
WATER = (170, 203, 224)  # the colour a vector basemap's water is filled with (basemap.js)
RESTRICTIONS = [  # (user, id, lon, lat, restriction type): gbr's marked REL TO GBR
    ("gbr", "r-gbr", 37.8, 48.0, "checkpoint"), ("ukr", "r-pub", 38.1, 48.2, "uav_jamming")]
PLAN = {"scenario": "reassurance-2026", "variants": ["us-isr-only", "no-us"],
        "samples": 100, "seed": 1}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("layers")
    path = raster_archive(folder / "relief.pmtiles", colour=MAGENTA, attribution=(
        'test tiles (CC0) <a href="https://example.org/">sign in</a><img src="/x.png">'))
    with serving(folder, "--basemap", str(path), "--basemap-marking", "REL TO GBR") as srv:
        for user, ref, lon, lat, kind in RESTRICTIONS:
            body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": {"time": "2021-08-30T10:00:00Z", "category": "other",
                                   "id": ref, "kind": "restriction", "restricted_by": "RUS",
                                   "restriction_type": kind, "text": f"patrol stopped ({ref})"}}
            with srv.client(user) as c:
                r = c.post("/api/v1/observations", content=json.dumps(body).encode(),
                           params={"format": "geojson"})
                assert r.status_code == 200 and r.json()["imported"] == 1, r.text
        yield srv


@pytest.fixture(scope="module")
def plan_run(server: Server) -> str:
    """A plan run of two variants started by gbr through the API, finished."""
    with server.client("gbr") as c:
        started = c.post("/api/v1/plans", json=PLAN)
        assert started.status_code == 202, started.text
        run_id = str(started.json()["run_id"])
        deadline = time.monotonic() + 120
        while (state := c.get(f"/api/v1/plans/{run_id}").json()["state"]) not in (
                "done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
    assert state == "done", state
    return run_id


def _share_of(path: Path, colour: tuple[int, int, int]) -> float:
    """The share of the map's pixels (left of the side panel) within 12 of ``colour``."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)[60:600, :820]
    return float((np.abs(pixels - colour).max(axis=2) <= 12).mean())


def _settled(page: Page) -> None:
    page.page.wait_for_function("() => window.dashboard.map.loaded() && "
                                "window.dashboard.map.areTilesLoaded()", timeout=30_000)


def _jump(page: Page, lon: float, lat: float, zoom: float) -> None:
    """Move the map and wait until it has drawn the place (MapLibre's ``idle``: nothing
    moving or loading, glyphs included)."""
    page.page.evaluate("""([c, z]) => new Promise((resolve) => {
        const m = window.dashboard.map;
        m.once('idle', resolve);
        m.jumpTo({center: c, zoom: z}); })""", [[lon, lat], zoom])


def _rendered(page: Page, layer: str) -> list[dict[str, Any]]:
    """The properties of ``layer``'s features drawn in the view now (a symbol counts only
    once its text and icon were laid out: its glyphs and sprite loaded)."""
    return list(page.page.evaluate(
        "l => window.dashboard.map.queryRenderedFeatures({layers: [l]}).map(f => f.properties)",
        layer))


def _click_at(page: Page, lon: float, lat: float) -> None:
    """A real mouse click where ``lon``, ``lat`` is drawn."""
    x, y = page.page.evaluate("""([lon, lat]) => {
        const m = window.dashboard.map, p = m.project([lon, lat]);
        const r = m.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", [lon, lat])
    page.page.mouse.click(x, y)


def test_the_basemap_is_drawn_under_the_layers_for_those_who_may_see_it(
        browser: Any, server: Server, tmp_path: Path) -> None:
    tiles: list[tuple[int, str]] = []
    gbr = Page(browser, server, "gbr", tmp_path)
    gbr.page.on("response", lambda r: tiles.append((r.status, r.url))
                if "/api/v1/basemap/tiles/" in r.url else None)
    try:
        gbr.page.reload()
        gbr.ready()
        _settled(gbr)
        order = gbr.page.evaluate("() => window.dashboard.map.getStyle().layers.map(l => l.id)")
        assert order.index("basemap") < order.index("country-borders") < order.index(
            "line-of-contact"), order
        assert tiles and all(status == 200 for status, _ in tiles), tiles  # the token went
        said = gbr.text(".maplibregl-ctrl-attrib")
        assert "test tiles (CC0) sign in" in said and "basemap: test raster (REL TO GBR)" in said
        # the archive's markup is shown as text: no link, no image on the page from it
        assert gbr.page.locator(".maplibregl-ctrl-attrib a, .maplibregl-ctrl-attrib img"
                                ).count() == 0
        # the banner states the narrowest marking of what is shown: the basemap's
        assert gbr.page.get_attribute("#marking-top", "data-marking") == "REL TO GBR"
        assert _share_of(gbr.shot("basemap-gbr"), MAGENTA) > 0.3
    finally:
        gbr.close()
    fra = Page(browser, server, "fra", tmp_path)
    try:
        _settled(fra)
        order = fra.page.evaluate("() => window.dashboard.map.getStyle().layers.map(l => l.id)")
        assert "basemap" not in order
        assert _share_of(fra.shot("basemap-fra"), MAGENTA) == 0
        assert fra.page.get_attribute("#marking-top", "data-marking") == "PUBLIC"
        seen = [r["properties"]["restriction_type"] for r in fra.page.evaluate(
            "() => window.dashboard.map.getSource('restrictions')._data.features")]
        assert "uav_jamming" in seen and "checkpoint" not in seen, seen  # gbr's is REL TO GBR
    finally:
        fra.close()


def test_text_and_icons_are_drawn_from_this_servers_glyphs_and_sprite(
        browser: Any, server: Server, tmp_path: Path) -> None:
    gbr = Page(browser, server, "gbr", tmp_path)
    try:
        style = gbr.page.evaluate("() => window.dashboard.map.getStyle()")
        assert style["glyphs"] == server.url + "/app/glyphs/{fontstack}/{range}.pbf"
        assert style["sprite"] == server.url + "/app/sprites/sprite"
        _jump(gbr, 37.8, 48.0, 8.5)
        names = {p["name"] for p in _rendered(gbr, "place-labels")}
        assert {"Donetsk", "Makiyivka"} <= names, names
        assert {p["restriction_type"] for p in _rendered(gbr, "restrictions")} >= {
            "checkpoint", "uav_jamming"}
        fetched = gbr.page.evaluate("""() => performance.getEntriesByType('resource')
            .filter(e => e.name.includes('/app/glyphs/') || e.name.includes('/app/sprites/'))
            .map(e => [e.responseStatus, e.name])""")
        assert fetched and all(status == 200 for status, _ in fetched), fetched
        assert any(".pbf" in u for _, u in fetched) and any("sprite" in u for _, u in fetched)
        gbr.shot("labels")
    finally:
        gbr.close()


def test_restrictions_are_a_layer_with_what_each_one_says(browser: Any, server: Server,
                                                          tmp_path: Path) -> None:
    gbr = Page(browser, server, "gbr", tmp_path)
    try:
        assert "restrictions of the monitors' movement: 2" in gbr.text("#legend")
        _settled(gbr)
        _click_at(gbr, 37.8, 48.0)
        gbr.page.wait_for_selector(".overlay-popup", timeout=10_000)
        said = gbr.text(".overlay-popup")
        assert said.startswith("restriction") and "restriction_type: checkpoint" in said
        assert "marking: REL TO GBR" in said and "obs_id: obs_" in said
        # a restriction reported now is on the page within seconds (the live events)
        gbr.page.wait_for_function("() => document.body.dataset.live === 'on'",
                                   timeout=15_000)
        reports = gbr.page.evaluate("() => window.dashboard.state.liveReports")
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.6, 48.3]},
                "properties": {"time": "2021-08-30T12:00:00Z", "category": "other",
                               "id": "r-live", "kind": "restriction", "restricted_by": "RUS",
                               "restriction_type": "mines"}}
        with server.client("ukr") as c:
            r = c.post("/api/v1/observations", content=json.dumps(body).encode(),
                       params={"format": "geojson"})
            assert r.status_code == 200 and r.json()["imported"] == 1, r.text
        gbr.page.wait_for_function("n => window.dashboard.state.liveReports > n", arg=reports,
                                   timeout=15_000)
        gbr.page.wait_for_function(
            "() => window.dashboard.map.getSource('restrictions')._data.features"
            ".some(f => f.properties.restriction_type === 'mines')", timeout=15_000)
        assert "restrictions of the monitors' movement: 3" in gbr.text("#legend")
    finally:
        gbr.close()


def test_a_plan_runs_sites_assets_and_coverage_are_chosen_and_drawn(
        browser: Any, server: Server, plan_run: str, tmp_path: Path) -> None:
    with server.client("gbr") as c:
        docs = {v: c.get(f"/api/v1/plans/{plan_run}/map", params={"variant": v}).json()
                for v in PLAN["variants"]}
    gbr = Page(browser, server, "gbr", tmp_path)
    try:
        assert not gbr.page.is_hidden("#plan") and gbr.page.is_hidden("#plan-variant")
        gbr.page.select_option("#plan-run", plan_run)
        for variant in PLAN["variants"]:
            if variant != PLAN["variants"][0]:
                gbr.page.select_option("#plan-variant", variant)
            gbr.page.wait_for_function(
                "v => (document.querySelector('#plan-summary li') || {}).textContent"
                "?.includes('variant ' + v)", arg=variant, timeout=30_000)
            doc = docs[variant]
            sites = [f for f in doc["features"] if f["properties"]["layer"] == "site"]
            covered = sum(f["properties"]["covered"] for f in sites)
            summary = gbr.text("#plan-summary")
            assert f"covered by air defence: {covered} of {len(sites)}" in summary
            shown = gbr.page.evaluate("() => window.dashboard.map.getSource('plan')"
                                      "._data.features.length")
            assert shown == len(doc["features"])
        _jump(gbr, 33, 48.5, 5)
        drawn = _rendered(gbr, "plan-sites")
        assert drawn and {p["name"] for p in drawn} <= {f["properties"]["name"] for f in sites}
        assert _rendered(gbr, "plan-coverage") and _rendered(gbr, "plan-assets")
        assert "protected site no battery reaches" in gbr.text("#legend")
        gbr.shot("plan")
        gbr.page.select_option("#plan-run", "")
        gbr.page.wait_for_function("() => window.dashboard.map.getSource('plan')"
                                   "._data.features.length === 0", timeout=10_000)
    finally:
        gbr.close()


def test_a_vector_basemap_is_drawn_with_its_water_roads_and_names(browser: Any,
                                                                  tmp_path: Path) -> None:
    """An OpenStreetMap-like vector archive (real vector tiles): water filled blue, roads
    drawn, places named in their own script (Cyrillic glyphs made by this server)."""
    path = osm_like_archive(tmp_path / "osm.pmtiles")
    with serving(tmp_path, "--basemap", str(path)) as srv:
        page = Page(browser, srv, "gbr", tmp_path)
        try:
            _settled(page)
            assert _share_of(page.shot("vector-basemap"), WATER) > 0.3
            _jump(page, 37.25, 48.25, 7)
            assert {p["name"] for p in _rendered(page, "basemap-places-label")} == {"Донецьк"}
            assert _rendered(page, "basemap-roads-line")
            ranges = page.page.evaluate("""() => performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/app/glyphs/'))
                .map(e => [e.responseStatus, decodeURIComponent(e.name).split('/').pop()])""")
            assert [200, "1024-1279.pbf"] in ranges, ranges
            page.shot("vector-basemap-names")
        finally:
            page.close()
