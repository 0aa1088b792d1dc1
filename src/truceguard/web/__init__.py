"""The dashboard: a static web app (``static/``: the page, its CSS and plain JavaScript modules)
that reads everything through the HTTP API with the user's bearer token, so that what it
shows is what the API releases to that user.

MapLibre GL JS is not part of this package: it comes from the ``maplibre`` package on PyPI,
whose ``srcjs`` folder ships ``maplibre-gl.js`` and ``maplibre-gl.css``; the server serves those
two files from the installed package (``maplibre_file``). Nothing is fetched from the network:
the map's style is built in the page from the shipped layers (``/api/v1/layers/...``), without
a tile server; its text is drawn from glyphs made here of the DejaVu fonts matplotlib ships
(``glyphs``), its icons from a sprite drawn here (``sprites``), and a basemap is an operator's
own PMTiles archive (``basemap``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
MAPLIBRE_FILES = ("maplibre-gl.js", "maplibre-gl.css")


def maplibre_folder() -> Path | None:
    """The folder of the installed ``maplibre`` package that holds MapLibre GL JS, found
    without importing the package; None when it is not installed."""
    spec = importlib.util.find_spec("maplibre")
    roots = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(roots[0]) / "srcjs" if roots else None
    if folder is None or not all((folder / f).is_file() for f in MAPLIBRE_FILES):
        return None
    return folder


def maplibre_file(name: str) -> Path | None:
    """``maplibre-gl.js`` or ``maplibre-gl.css`` from the installed package; None otherwise."""
    folder = maplibre_folder()
    if name not in MAPLIBRE_FILES or folder is None:
        return None
    return folder / name


__all__ = ["MAPLIBRE_FILES", "STATIC", "maplibre_file", "maplibre_folder"]
