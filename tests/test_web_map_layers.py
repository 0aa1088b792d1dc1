"""The dashboard's map beyond incidents and violations (real Chromium, a real server): the
operator's PMTiles basemap (real vector tiles of an OpenStreetMap-like archive) under the
layers, with the marking its operator gave it; text and icons drawn from this server's glyphs
and sprite; the monitors' restrictions of movement; a plan run's sites, assets and coverage,
chosen in the side panel. (The raster path is tested through the API in
``test_web_basemap.py``.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.pmtiles_fixtures import osm_like_archive
from tests.server_fixtures import Server, finished_plan, serving
from tests.web_fixtures import Page, chromium

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
    path = osm_like_archive(folder / "streets.pmtiles", attribution=(
        'test OSM-like <a href="https://example.org/">sign in</a><img src="/x.png">'))
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
    """A plan run of two variants started by gbr through the API, done: its id."""
    return str(finished_plan(server, "gbr", PLAN)["run_id"])


# The pages here are smaller than the dashboard's other tests' (the software renderer's
# cost goes with the pixels drawn).
SIZE = (1000, 660)


def _page(browser: Any, server: Server, user: str, tmp: Path) -> Page:
    return Page(browser, server, user, tmp, size=SIZE)


def _share_of(page: Page, name: str, colour: tuple[int, int, int]) -> float:
    """The share of the map's pixels, in a screenshot, within 12 of ``colour``."""
    box = page.page.locator("#map").bounding_box()
    x, y, w, h = (int(box[k]) for k in ("x", "y", "width", "height"))
    pixels = np.asarray(Image.open(page.shot(name)).convert("RGB"), dtype=np.int16)
    pixels = pixels[y + 30:y + h - 30, x + 50:x + w - 10]  # the controls left out
    return float((np.abs(pixels - colour).max(axis=2) <= 12).mean())


def _settled(page: Page) -> None:
    page.page.wait_for_function("() => window.dashboard.map.loaded() && "
                                "window.dashboard.map.areTilesLoaded()", timeout=30_000)


def _jump(page: Page, lon: float, lat: float, zoom: float) -> None:
    # in braces: jumpTo returns the map, which Playwright would serialize (seconds)
    page.page.evaluate("([c, z]) => { window.dashboard.map.jumpTo({center: c, zoom: z}); }",
                       [[lon, lat], zoom])


def _rendered(page: Page, layer: str) -> list[dict[str, Any]]:
    """The properties of ``layer``'s features drawn in the view now (a symbol counts only
    once its text and icon were laid out: its glyphs and sprite loaded)."""
    return list(page.page.evaluate(
        "l => window.dashboard.map.queryRenderedFeatures({layers: [l]}).map(f => f.properties)",
        layer))


def _drawn(page: Page, layer: str, key: str, wanted: set[Any]) -> set[Any]:
    """Wait until ``layer`` has drawn features whose ``key`` covers ``wanted``; the values
    drawn."""
    page.page.wait_for_function("""([l, k, w]) => {
        const got = new Set(window.dashboard.map.queryRenderedFeatures({layers: [l]})
            .map(f => f.properties[k]));
        return w.every(v => got.has(v)); }""", arg=[layer, key, sorted(wanted)],
        timeout=30_000)
    return {p[key] for p in _rendered(page, layer)}


def _click_at(page: Page, lon: float, lat: float) -> None:
    """A real mouse click where ``lon``, ``lat`` is drawn."""
    x, y = page.page.evaluate("""([lon, lat]) => {
        const m = window.dashboard.map, p = m.project([lon, lat]);
        const r = m.getCanvas().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", [lon, lat])
    page.page.mouse.click(x, y)


def _fetched(page: Page, part: str) -> list[list[Any]]:
    """[status, last part of the address] of every request of the page to ``part``."""
    return list(page.page.evaluate("""p => performance.getEntriesByType('resource')
        .filter(e => e.name.includes(p))
        .map(e => [e.responseStatus, decodeURIComponent(e.name).split('/').pop()])""", part))


def test_the_basemap_text_and_icons_are_drawn_from_this_server(browser: Any, server: Server,
                                                               tmp_path: Path) -> None:
    """Water filled blue, roads drawn, under the shipped layers; the tiles, glyphs and
    sprite all from this server (the tiles with the token); place names of the shipped
    places and of the archive in its own script (Cyrillic glyphs made by this server), the
    restriction icons; the archive's attribution as text, its marking on the banner."""
    gbr = _page(browser, server, "gbr", tmp_path)
    try:
        _settled(gbr)
        # (not getStyle(): it serializes every source's data, 2.4 MB here, in seconds)
        style = gbr.page.evaluate("""() => { const m = window.dashboard.map;
            return {order: m.getLayersOrder(), glyphs: m.getGlyphs(), sprite: m.getSprite()}}""")
        order = style["order"]
        assert order.index("basemap-water-fill") < order.index("country-borders") < (
            order.index("line-of-contact")), order
        assert style["glyphs"] == server.url + "/app/glyphs/{fontstack}/{range}.pbf"
        assert style["sprite"] == [{"id": "default", "url": server.url + "/app/sprites/sprite"}]
        assert _share_of(gbr, "vector-basemap", WATER) > 0.3
        said = gbr.text(".maplibregl-ctrl-attrib")
        assert "test OSM-like sign in" in said and "basemap: test streets (REL TO GBR)" in said
        assert gbr.page.locator(".maplibregl-ctrl-attrib a, .maplibregl-ctrl-attrib img"
                                ).count() == 0  # the archive's markup shown as text only
        assert gbr.page.get_attribute("#marking-top", "data-marking") == "REL TO GBR"
        # the first view is the incidents' (the restrictions' reports, near Donetsk, zoom 9)
        _drawn(gbr, "place-labels", "name", {"Donetsk", "Makiyivka"})
        _drawn(gbr, "restrictions", "restriction_type", {"checkpoint", "uav_jamming"})
        _drawn(gbr, "basemap-roads-line", "kind", {"major_road"})
        _jump(gbr, 37.25, 48.25, 7)  # a tile's centre, where the archive names its place
        assert _drawn(gbr, "basemap-places-label", "name", {"Донецьк"}) == {"Донецьк"}
        assets = _fetched(gbr, "/app/glyphs/") + _fetched(gbr, "/app/sprites/")
        tiles = gbr.page.evaluate("""() => Object.values(
            window.dashboard.map.style.sourceCaches.basemap._tiles).map(t => t.state)""")
        # asked with the token: some drawn, none refused (a 401 leaves a tile "errored")
        assert "loaded" in tiles and "errored" not in tiles, tiles
        assert assets and all(status == 200 for status, _ in assets), assets
        assert [200, "1024-1279.pbf"] in assets, assets
        gbr.shot("names")
    finally:
        gbr.close()


def test_a_user_who_may_not_see_the_basemap_gets_none(browser: Any, server: Server,
                                                      tmp_path: Path) -> None:
    fra = _page(browser, server, "fra", tmp_path)
    try:
        _settled(fra)
        order = fra.page.evaluate("() => window.dashboard.map.getLayersOrder()")
        assert not [layer for layer in order if layer.startswith("basemap")], order
        assert _share_of(fra, "no-basemap", WATER) == 0
        assert fra.page.get_attribute("#marking-top", "data-marking") == "PUBLIC"
        seen = [r["properties"]["restriction_type"] for r in fra.page.evaluate(
            "() => window.dashboard.map.getSource('restrictions')._data.features")]
        assert "uav_jamming" in seen and "checkpoint" not in seen, seen  # gbr's is REL TO GBR
    finally:
        fra.close()


def _restrictions_shown(gbr: Page, server: Server) -> None:
    """The restrictions in gbr's view: counted, a click shows one's report, and one reported
    now is drawn within seconds (the live events)."""
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


def test_restrictions_and_a_plan_run_are_layers_of_the_view(
        browser: Any, server: Server, plan_run: str, tmp_path: Path) -> None:
    """The monitors' restrictions (``_restrictions_shown``); a plan run chosen in the side
    panel, each of its variants drawn with its sites, assets and coverage, and a summary
    equal to the API's."""
    with server.client("gbr") as c:
        docs = {v: c.get(f"/api/v1/plans/{plan_run}/map", params={"variant": v}).json()
                for v in PLAN["variants"]}
    gbr = _page(browser, server, "gbr", tmp_path)
    try:
        _restrictions_shown(gbr, server)
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
        names = {f["properties"]["name"] for f in sites}
        assert _drawn(gbr, "plan-sites", "name", {"Kyiv"}) <= names
        _drawn(gbr, "plan-coverage", "layer", {"coverage"})
        _drawn(gbr, "plan-assets", "layer", {"asset"})
        assert "protected site no battery reaches" in gbr.text("#legend")
        gbr.shot("plan")
        gbr.page.select_option("#plan-run", "")
        gbr.page.wait_for_function("() => window.dashboard.map.getSource('plan')"
                                   "._data.features.length === 0", timeout=10_000)
    finally:
        gbr.close()
