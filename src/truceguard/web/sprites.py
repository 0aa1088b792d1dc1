"""The map's icons: a sprite sheet for MapLibre GL JS (``sprite.json`` and ``sprite.png``,
``sprite@2x.json`` and ``sprite@2x.png`` for screens of pixel ratio 2), drawn with Pillow at
run time, so nothing derived is committed.

Each icon is 20 x 20 px at ratio 1 (40 x 40 at ratio 2), on a transparent background, drawn
four times larger and reduced (smooth, crisp edges), with a dark rim or outline so it reads
on a light map and on a satellite image alike:

- ``register``: a weapon in violation: a yellow triangle, black outline, a black "!";
- ``restriction``: a restriction of the freedom of movement: a red no-entry sign;
- ``site``: a protected site: a blue square with a white outline;
- ``site-exposed``: a protected site that no air defence covers: the square hollow (white,
  blue outline) and struck through in red;
- ``asset``: a coalition asset (a base or a sensor): a dark green diamond, white outline.

The icons lie in one row, 2 px apart (at ratio 1); the index gives each its box, as
MapLibre's sprite index format says: ``{name: {"x", "y", "width", "height",
"pixelRatio"}}`` in the PNG's pixels. The same bytes come out on every call (no time in the
PNG); ``sprite`` keeps both ratios once made.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from truceguard.errors import InputError

ICONS = ("register", "restriction", "site", "site-exposed", "asset")
ICON_SIZE = 20  # px at pixel ratio 1
GAP = 2  # px between icons at pixel ratio 1
PIXEL_RATIOS = (1, 2)
DRAW_SCALE = 4  # icons are drawn this much larger than their pixels, then reduced

YELLOW, BLACK, WHITE = (255, 214, 0, 255), (0, 0, 0, 255), (255, 255, 255, 255)
RED, BLUE, GREEN = (198, 40, 40, 255), (21, 101, 192, 255), (46, 125, 50, 255)
RIM = (20, 20, 20, 255)  # the dark rim around light-outlined icons

Point = tuple[float, float]


def sprite(pixel_ratio: int) -> tuple[bytes, bytes]:
    """The sprite sheet for ``pixel_ratio`` 1 or 2: (its JSON index, its PNG)."""
    if isinstance(pixel_ratio, bool) or pixel_ratio not in PIXEL_RATIOS:
        raise InputError(f"sprite pixel ratio {pixel_ratio!r} is not 1 or 2",
                         hint="ask for sprite.json / sprite.png (ratio 1) or sprite@2x.json "
                              "/ sprite@2x.png (ratio 2)", code="input.sprite")
    return _sheet(int(pixel_ratio))


@lru_cache(maxsize=len(PIXEL_RATIOS))
def _sheet(ratio: int) -> tuple[bytes, bytes]:
    from PIL import Image

    size, gap = ICON_SIZE * ratio, GAP * ratio
    sheet = Image.new("RGBA", (len(ICONS) * (size + gap) - gap, size), (0, 0, 0, 0))
    index: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(ICONS):
        x = k * (size + gap)
        sheet.paste(_icon(name, size), (x, 0))
        index[name] = {"x": x, "y": 0, "width": size, "height": size, "pixelRatio": ratio}
    png = io.BytesIO()
    sheet.save(png, format="PNG", optimize=False, compress_level=9)
    return json.dumps(index, separators=(",", ":")).encode(), png.getvalue()


def _icon(name: str, size: int) -> Any:
    """Icon ``name``, ``size`` px square: drawn ``DRAW_SCALE`` times larger in a 20-unit
    frame, then reduced (Pillow reduces RGBA premultiplied: no dark fringes)."""
    from PIL import Image, ImageDraw

    big = size * DRAW_SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / ICON_SIZE
    _DRAWERS[name](draw, lambda pts: [(x * unit, y * unit) for x, y in pts], unit)
    return image.resize((size, size), Image.Resampling.BOX)


Scale = Callable[[list[Point]], list[Point]]


def _circle(draw: Any, at: Scale, c: Point, r: float, fill: tuple[int, ...]) -> None:
    (x0, y0), (x1, y1) = at([(c[0] - r, c[1] - r), (c[0] + r, c[1] + r)])
    draw.ellipse([x0, y0, x1 - 1, y1 - 1], fill=fill)  # Pillow's end is inclusive


def _polygon(draw: Any, at: Scale, pts: list[Point], fill: tuple[int, ...]) -> None:
    draw.polygon(at(pts), fill=fill)


def _inset(pts: list[Point], centre: Point, inradius: float, by: float) -> list[Point]:
    """A convex polygon whose edges all lie ``inradius`` from ``centre``, moved ``by`` units
    inwards (scaled about that centre)."""
    k = (inradius - by) / inradius
    return [(centre[0] + (x - centre[0]) * k, centre[1] + (y - centre[1]) * k) for x, y in pts]


def _register(draw: Any, at: Scale, unit: float) -> None:
    a, b, c = (10.0, 1.0), (19.5, 18.0), (0.5, 18.0)  # an upward triangle
    la, lb, lc = math.dist(b, c), math.dist(a, c), math.dist(a, b)
    per = la + lb + lc
    centre = ((la * a[0] + lb * b[0] + lc * c[0]) / per, (la * a[1] + lb * b[1] + lc * c[1]) / per)
    s = per / 2
    inradius = math.sqrt((s - la) * (s - lb) * (s - lc) / s)
    _polygon(draw, at, [a, b, c], BLACK)
    _polygon(draw, at, _inset([a, b, c], centre, inradius, 1.6), YELLOW)
    (x0, y0), (x1, y1) = at([(9.0, 6.0), (11.0, 12.5)])  # the "!": a bar and a dot
    draw.rounded_rectangle([x0, y0, x1 - 1, y1 - 1], radius=unit * 0.9, fill=BLACK)
    _circle(draw, at, (10.0, 15.3), 1.15, BLACK)


def _restriction(draw: Any, at: Scale, unit: float) -> None:
    _circle(draw, at, (10.0, 10.0), 9.5, RIM)
    _circle(draw, at, (10.0, 10.0), 8.5, RED)
    (x0, y0), (x1, y1) = at([(5.0, 8.0), (15.0, 12.0)])
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=WHITE)


def _square(draw: Any, at: Scale, inset: int, fill: tuple[int, ...]) -> None:
    (x0, y0), (x1, y1) = at([(inset, inset), (ICON_SIZE - inset, ICON_SIZE - inset)])
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=fill)


def _site(draw: Any, at: Scale, unit: float) -> None:
    _square(draw, at, 1, RIM)  # whole pixels at ratio 1: crisp edges
    _square(draw, at, 2, WHITE)
    _square(draw, at, 4, BLUE)


def _site_exposed(draw: Any, at: Scale, unit: float) -> None:
    _square(draw, at, 1, RIM)
    _square(draw, at, 2, BLUE)
    _square(draw, at, 4, WHITE)
    draw.line(at([(5.0, 15.0), (15.0, 5.0)]), fill=RED, width=round(2.2 * unit))


def _asset(draw: Any, at: Scale, unit: float) -> None:
    diamond = [(10.0, 0.5), (19.5, 10.0), (10.0, 19.5), (0.5, 10.0)]
    inradius = 9.5 / math.sqrt(2)
    _polygon(draw, at, diamond, RIM)
    _polygon(draw, at, _inset(diamond, (10.0, 10.0), inradius, 1.0), WHITE)
    _polygon(draw, at, _inset(diamond, (10.0, 10.0), inradius, 2.5), GREEN)


_DRAWERS: dict[str, Callable[[Any, Scale, float], None]] = {
    "register": _register, "restriction": _restriction, "site": _site,
    "site-exposed": _site_exposed, "asset": _asset}


__all__ = ["ICONS", "PIXEL_RATIOS", "sprite"]
