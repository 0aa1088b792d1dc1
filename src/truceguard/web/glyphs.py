"""The map's text labels: glyph PBFs (signed distance fields) for MapLibre GL JS, made at run
time from the DejaVu fonts that matplotlib ships, so the map draws text with no network and
nothing derived is committed.

MapLibre asks for ``{fontstack}/{range}.pbf``: the glyphs of 256 code points (``0-255``,
``256-511`` ...) of a font, encoded as its ``glyphs.proto`` says (``glyphs`` > ``fontstack``
``name``, ``range``, ``glyphs`` > ``glyph`` ``id``, ``bitmap``, ``width``, ``height``,
``left``, ``top``, ``advance``). ``glyph_range`` writes that message by hand (a few lines of
varints); only the code points the font's ``cmap`` maps are in it. The ``cmap`` and the
advances are read with fontTools (a dependency of matplotlib, so always there with it); the
glyphs are drawn with Pillow's FreeType.

What MapLibre expects of a glyph (the conventions of node-fontnik / sdf-glyph-foundry, which
made the glyphs MapLibre's layout code is tuned for):

- drawn at 24 px (``ONE_EM``), with a 3 px border on each side (``GLYPH_PBF_BORDER``): the
  bitmap is ``(width + 6) * (height + 6)`` bytes, one per pixel, row by row from the top;
- each byte is ``255 - 255 * (d / 8 + 0.25)``, clamped to 0..255, where ``d`` is the signed
  distance in pixels from the pixel's centre to the outline (positive outside): the outline
  is at about 191, 8 px of distance span the 255 values. Each glyph is drawn 5 times larger
  (an odd factor puts every 24 px pixel centre on the centre of a large pixel), the inside
  and the outside are measured with ``scipy.ndimage.distance_transform_edt``, and the
  distances are sampled at the 24 px pixel centres;
- ``width``/``height``: the smallest whole-pixel box around the ink (without the border);
  ``left``: the box's left edge from the pen position; ``advance``: the horizontal advance,
  rounded; a glyph without ink (space) has width and height 0, no bitmap, and its advance;
- ``top``: the box's top edge above the baseline MINUS the font's ascender at 24 px
  (FreeType's scaled ``size->metrics.ascender``, whole pixels: 23 for both DejaVu fonts).
  This is node-fontnik's ``glyph.top - glyph.ascender`` (src/glyphs.cpp). MapLibre GL JS
  places the top of a glyph's ink at ``y = glyph.y - top`` (its bitmap starts the border
  and the atlas's 1 px padding above: src/symbol/quads.ts, ``getGlyphQuads``), where a
  line's glyphs have ``y`` = the line's top + ``-17`` (``SHAPING_DEFAULT_OFFSET``,
  src/symbol/shaping.ts) before the line box (24 px * 1.2 by default) is aligned to the
  anchor: with this ``top`` the baseline lies ``ascender - 17`` px (6 px) below the shaping
  line's origin, as for the glyphs of every tile server built on fontnik, so
  ``text-anchor`` places the text where it says.

One range takes 0.2 to 0.3 s to make on one core (measured: 0-255, 191 glyphs, 0.19 s;
1024-1279, the Cyrillic range's 256 glyphs, 0.28 s; at 7 times 0.31 and 0.5 s, with the
same test results), up to twice that on a loaded machine; ``glyph_range`` makes each range once
per process and keeps it (a range the font has no glyph in is empty and costs nothing; the
two fonts' whole coverage is a few megabytes), one range at a time (a lock).

The fonts: DejaVu Sans and DejaVu Sans Bold, as matplotlib ships them in
``matplotlib/mpl-data/fonts/ttf/`` (``DejaVuSans.ttf``, ``DejaVuSans-Bold.ttf``). Their
licence is in the same folder, ``LICENSE_DEJAVU``: the fonts are (c) Bitstream (the
Bitstream Vera fonts licence: free to use, copy, modify and redistribute, a modified font
must not be called "Bitstream" or "Vera"), the DejaVu changes are in the public domain, and
the glyphs imported from the Arev fonts are (c) Tavmjong Bah (the Arev fonts licence: the
same terms, the reserved names being "Tavmjong Bah" and "Arev"). The glyphs made here are
renderings of those fonts, served with the dashboard.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from truceguard.errors import InputError, NotFoundError, unknown_value

FONTSTACKS = {"DejaVu Sans": "DejaVuSans.ttf", "DejaVu Sans Bold": "DejaVuSans-Bold.ttf"}

SIZE = 24  # px: MapLibre's ONE_EM
BORDER = 3  # px around each bitmap: MapLibre's GLYPH_PBF_BORDER
RADIUS = 8.0  # px of distance that the 255 values of a byte span
CUTOFF = 0.25  # where the outline lies in the span (255 * 0.75 ~ 191)
SUPERSAMPLE = 5  # odd: each 24 px pixel's centre is a large pixel's centre
RANGE_SIZE = 256

_lock = threading.Lock()  # one range made at a time
_made: dict[tuple[str, int], bytes] = {}  # (font, start): its PBF, every range made so far


def font_folder() -> Path | None:
    """matplotlib's folder of TrueType fonts, found without importing matplotlib; None when
    matplotlib is not installed."""
    spec = importlib.util.find_spec("matplotlib")
    roots = list(spec.submodule_search_locations or []) if spec else []
    return Path(roots[0]) / "mpl-data" / "fonts" / "ttf" if roots else None


def font_path(name: str) -> Path:
    """The file of the font ``name`` (a key of ``FONTSTACKS``)."""
    folder = font_folder()
    path = folder / FONTSTACKS[name] if folder is not None else None
    if path is None or not path.is_file():
        raise NotFoundError(f"the font {name!r} is not installed ({FONTSTACKS[name]} of "
                            "matplotlib)", hint="pip install matplotlib (a dependency of "
                            "truceguard)", code="not_found.glyphs")
    return path


def resolve_fontstack(fontstack: str) -> str:
    """The font that serves ``fontstack``: the first known font of a comma-separated list
    (MapLibre joins a layer's ``text-font`` with commas)."""
    for name in fontstack.split(","):
        if name.strip() in FONTSTACKS:
            return name.strip()
    raise unknown_value("fontstack", fontstack, FONTSTACKS, code="not_found.glyphs",
                        cls=NotFoundError)


def glyph_range(fontstack: str, start: int) -> bytes:
    """The glyph PBF of code points ``start`` .. ``start + 255`` of ``fontstack``."""
    if (isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < 65536
            or start % RANGE_SIZE):
        raise InputError(f"glyph range start {start!r} is not a multiple of 256 from 0 to "
                         "65280", hint="ask for START-END.pbf with START a multiple of 256 "
                         "and END = START + 255 (0-255, 256-511 ...)",
                         code="input.glyph_range")
    return _range_pbf(resolve_fontstack(fontstack), start)


def _range_pbf(name: str, start: int) -> bytes:
    """The PBF of font ``name``'s range from ``start``, made once per process (requests for
    a range being made wait for it): what a client can make the server compute is bounded
    by the fonts' coverage, however many it asks for."""
    key = (name, start)
    found = _made.get(key)
    if found is None:
        with _lock:
            found = _made.get(key)
            if found is None:
                glyphs = _render_range(name, start)
                stack = (_field_bytes(1, name.encode()) +
                         _field_bytes(2, f"{start}-{start + RANGE_SIZE - 1}".encode()) +
                         b"".join(_field_bytes(3, _glyph_message(g)) for g in glyphs))
                found = _made[key] = _field_bytes(1, stack)
    return found


# -- the protobuf writer --------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_sint32(number: int, value: int) -> bytes:
    return _field_varint(number, ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF)


def _field_bytes(number: int, data: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def _glyph_message(g: dict[str, Any]) -> bytes:
    out = _field_varint(1, g["id"])
    if g["bitmap"] is not None:
        out += _field_bytes(2, g["bitmap"])
    return (out + _field_varint(3, g["width"]) + _field_varint(4, g["height"]) +
            _field_sint32(5, g["left"]) + _field_sint32(6, g["top"]) +
            _field_varint(7, g["advance"]))


# -- the glyphs -------------------------------------------------------------------------------

@lru_cache(maxsize=len(FONTSTACKS))
def _font_tables(name: str) -> tuple[dict[int, str], dict[str, int], int]:
    """The font's code point -> glyph name map, glyph name -> advance (font units) and units
    per em."""
    from fontTools.ttLib import TTFont

    with TTFont(str(font_path(name)), lazy=True) as font:
        cmap = dict(font.getBestCmap())
        advances = {g: adv for g, (adv, _lsb) in font["hmtx"].metrics.items()}
        return cmap, advances, int(font["head"].unitsPerEm)


def _render_range(name: str, start: int) -> list[dict[str, Any]]:
    from PIL import Image, ImageDraw, ImageFont
    from scipy.ndimage import distance_transform_edt

    cmap, advances, upem = _font_tables(name)
    path = str(font_path(name))
    big = ImageFont.truetype(path, SIZE * SUPERSAMPLE, layout_engine=ImageFont.Layout.BASIC)
    ascender = ImageFont.truetype(path, SIZE, layout_engine=ImageFont.Layout.BASIC
                                  ).getmetrics()[0]
    s = SUPERSAMPLE
    out: list[dict[str, Any]] = []
    for cp in range(start, start + RANGE_SIZE):
        if cp not in cmap:
            continue
        advance = round(advances.get(cmap[cp], 0) * SIZE / upem)
        blank = {"id": cp, "bitmap": None, "width": 0, "height": 0, "left": 0, "top": 0,
                 "advance": advance}
        ch = chr(cp)
        if not ch.isprintable():
            out.append(blank)  # controls, format characters, separators: no ink
            continue
        x0, y0, x1, y1 = big.getbbox(ch, anchor="ls")  # large px, y down from the baseline
        if x1 <= x0 or y1 <= y0:
            out.append(blank)
            continue
        # Where the ink is, drawn once on a canvas with 4 px to spare on each side.
        m = 4 * s
        probe = Image.new("L", (x1 - x0 + 2 * m, y1 - y0 + 2 * m))
        ImageDraw.Draw(probe).text((m - x0, m - y0), ch, font=big, fill=255, anchor="ls")
        rows, cols = np.nonzero(np.asarray(probe))
        if not len(rows):
            out.append(blank)
            continue
        ink_x0, ink_x1 = cols.min() - (m - x0), cols.max() + 1 - (m - x0)
        ink_y0, ink_y1 = rows.min() - (m - y0), rows.max() + 1 - (m - y0)
        left, right = int(np.floor(ink_x0 / s)), int(np.ceil(ink_x1 / s))
        top_px, bottom = int(np.ceil(-ink_y0 / s)), int(np.floor(-ink_y1 / s))  # y up
        width, height = right - left, top_px - bottom
        # The bitmap's grid, drawn large: its top-left corner is (left - 3, top + 3).
        cw, chh = (width + 2 * BORDER) * s, (height + 2 * BORDER) * s
        canvas = Image.new("L", (cw, chh))
        origin = (-(left - BORDER) * s, (top_px + BORDER) * s)
        ImageDraw.Draw(canvas).text(origin, ch, font=big, fill=255, anchor="ls")
        cover = np.asarray(canvas)
        inside = cover >= 128
        if not inside.any():
            inside = cover > 0
        outside_d = distance_transform_edt(~inside)  # outside: to the nearest inside pixel
        inside_d = distance_transform_edt(inside)  # inside: to the nearest outside pixel
        signed = np.where(inside, 0.5 - inside_d, outside_d - 0.5) / s  # 24 px pixels
        mid = (s - 1) // 2
        d = signed[mid::s, mid::s]
        value = np.clip(np.rint(255.0 - 255.0 * (d / RADIUS + CUTOFF)), 0, 255)
        out.append({"id": cp, "bitmap": value.astype(np.uint8).tobytes(), "width": width,
                    "height": height, "left": left, "top": top_px - ascender,
                    "advance": advance})
    return out


__all__ = ["FONTSTACKS", "font_folder", "font_path", "glyph_range", "resolve_fontstack"]
