"""The dashboard's map beyond the records (real Chromium, a real server): the operator's
PMTiles basemap drawn under the layers, with the marking its operator gave it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.pmtiles_fixtures import raster_archive
from tests.server_fixtures import Server, serving
from tests.web_fixtures import Page, chromium

MAGENTA = (230, 40, 230)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("layers")
    path = raster_archive(folder / "relief.pmtiles", colour=MAGENTA)
    with serving(folder, "--basemap", str(path), "--basemap-marking", "REL TO GBR") as srv:
        yield srv


def _share_of(path: Path, colour: tuple[int, int, int]) -> float:
    """The share of the map's pixels (left of the side panel) within 12 of ``colour``."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)[60:600, :820]
    return float((np.abs(pixels - colour).max(axis=2) <= 12).mean())


def _settled(page: Page) -> None:
    page.page.wait_for_function("() => window.dashboard.map.loaded() && "
                                "window.dashboard.map.areTilesLoaded()", timeout=30_000)


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
        assert "test tiles (CC0)" in said and "basemap: test raster (REL TO GBR)" in said
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
    finally:
        fra.close()
