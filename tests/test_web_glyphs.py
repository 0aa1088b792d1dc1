"""The map's glyph PBFs and sprite sheet (truceguard.web.glyphs, .sprites) and their routes.

The PBFs are read back with a decoder written here, independent of the module's encoder."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from truceguard.errors import InputError, NotFoundError
from truceguard.server.api import create_app
from truceguard.store import SQLiteStore
from truceguard.web import glyphs, sprites
from truceguard.web.glyphs import FONTSTACKS, glyph_range
from truceguard.web.sprites import ICONS, sprite

EDGE = 191  # the SDF's value on the outline
BORDER = 3
UKRAINIAN = ([*range(0x0410, 0x0450)]  # А-Я, а-я
             + [ord(c) for c in "ЄІЇҐєіїґ"])


# -- an independent reader of glyphs.proto ------------------------------------------------------

def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a message: an int for a varint, bytes for a length-delimited
    field; any other wire type fails."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
            assert i <= len(data), "a field runs past the end"
        else:
            raise AssertionError(f"unexpected wire type {wire} (field {number})")
        yield number, value


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def decode(pbf: bytes) -> dict[str, Any]:
    """The one fontstack of a glyphs message: its name, range and glyphs by code point."""
    stacks = [v for n, v in _fields(pbf) if n == 1]
    assert len(stacks) == 1 and all(n == 1 for n, _ in _fields(pbf))
    out: dict[str, Any] = {"glyphs": {}}
    for n, v in _fields(stacks[0]):
        if n == 1:
            out["name"] = v.decode()
        elif n == 2:
            out["range"] = v.decode()
        else:
            assert n == 3, n
            g: dict[str, Any] = {"bitmap": None}
            names = {1: "id", 2: "bitmap", 3: "width", 4: "height", 5: "left", 6: "top",
                     7: "advance"}
            for fn, fv in _fields(v):
                g[names[fn]] = _unzigzag(fv) if fn in (5, 6) else fv
            assert {"id", "width", "height", "left", "top", "advance"} <= set(g), g
            assert g["id"] not in out["glyphs"], f"glyph {g['id']} twice"
            out["glyphs"][g["id"]] = g
    return out


def sdf(g: dict[str, Any]) -> np.ndarray:
    """A glyph's bitmap as rows of pixels (its border included)."""
    return np.frombuffer(g["bitmap"], np.uint8).reshape(g["height"] + 2 * BORDER,
                                                        g["width"] + 2 * BORDER)


@pytest.fixture(scope="module")
def latin() -> dict[str, Any]:
    return decode(glyph_range("DejaVu Sans", 0))


@pytest.fixture(scope="module")
def latin_bold() -> dict[str, Any]:
    return decode(glyph_range("DejaVu Sans Bold", 0))


@pytest.fixture(scope="module")
def cyrillic() -> dict[str, Any]:
    return decode(glyph_range("DejaVu Sans", 0x0400))


def test_the_stack_name_and_range_are_the_font_and_its_256_code_points(
        latin: dict[str, Any], cyrillic: dict[str, Any], latin_bold: dict[str, Any]) -> None:
    assert (latin["name"], latin["range"]) == ("DejaVu Sans", "0-255")
    assert (cyrillic["name"], cyrillic["range"]) == ("DejaVu Sans", "1024-1279")
    assert (latin_bold["name"], latin_bold["range"]) == ("DejaVu Sans Bold", "0-255")
    assert all(0 <= cp < 256 for cp in latin["glyphs"])
    assert all(0x400 <= cp < 0x500 for cp in cyrillic["glyphs"])


def test_printable_ascii_and_ukrainian_are_all_there_with_whole_bitmaps(
        latin: dict[str, Any], cyrillic: dict[str, Any], latin_bold: dict[str, Any]) -> None:
    for doc, wanted in ((latin, range(0x20, 0x7F)), (latin_bold, range(0x21, 0x7F)),
                        (cyrillic, UKRAINIAN)):
        missing = [chr(cp) for cp in wanted if cp not in doc["glyphs"]]
        assert not missing, missing
        for cp in wanted:
            g = doc["glyphs"][cp]
            if cp == 0x20:
                continue
            assert g["width"] > 0 and g["height"] > 0, chr(cp)
            assert len(g["bitmap"]) == (g["width"] + 6) * (g["height"] + 6), chr(cp)
            assert sdf(g).max() >= EDGE, chr(cp)  # ink in it
            assert g["advance"] > 0, chr(cp)
    for doc in (latin, cyrillic):  # every glyph of the file, blank or not
        for g in doc["glyphs"].values():
            if g["bitmap"] is None:
                assert g["width"] == g["height"] == 0, g["id"]
            else:
                assert len(g["bitmap"]) == (g["width"] + 6) * (g["height"] + 6), g["id"]


def test_the_sdf_of_I_is_inside_along_its_stem_and_outside_around_it(
        latin: dict[str, Any]) -> None:
    g = latin["glyphs"][ord("I")]
    field = sdf(g)
    centre = field[:, field.shape[1] // 2]
    ink_rows = centre[BORDER + 1:BORDER + g["height"] - 1]  # the stem, its ends left out
    assert len(ink_rows) >= 15 and (ink_rows >= EDGE).all(), centre
    assert centre.max() > 215  # well inside on the stem's axis
    assert (field[0] < EDGE).all() and (field[-1] < EDGE).all()  # the border rows
    assert (field[:, 0] < 120).all() and (field[:, -1] < 120).all()  # 3 px off the stem
    assert field[0, 0] < 100


def test_the_sdf_measures_the_distance_to_the_outline_at_pixel_centres(
        latin: dict[str, Any]) -> None:
    """DejaVu Sans's I is a bar from x = 201 to 403 units (of 2048) at 24 px: across its
    middle row, each pixel's value is 255 - 255 * (d / 8 + 0.25) of its centre's distance
    ``d`` to the nearer side (negative inside), within a quarter pixel."""
    g = latin["glyphs"][ord("I")]
    row = sdf(g)[sdf(g).shape[0] // 2].astype(float)
    x0, x1 = 201 / 2048 * 24, 403 / 2048 * 24
    centres = g["left"] - BORDER + np.arange(len(row)) + 0.5
    d = np.where(centres < x0, x0 - centres, np.where(centres > x1, centres - x1, 0.0))
    inside = (centres >= x0) & (centres <= x1)
    d[inside] = -np.minimum(centres - x0, x1 - centres)[inside]
    expected = np.clip(255 - 255 * (d / 8 + 0.25), 0, 255)
    assert np.abs(row - expected).max() < 255 / 32, (row, expected.round())


def test_O_has_a_hole(latin: dict[str, Any]) -> None:
    field = sdf(latin["glyphs"][ord("O")])
    h, w = field.shape
    assert field[h // 2, w // 2] < 120  # far below the edge: outside, inside the ring
    assert field[h // 2].max() >= EDGE  # while the ring itself is ink


def test_metrics_follow_the_font(latin: dict[str, Any], latin_bold: dict[str, Any]) -> None:
    by = latin["glyphs"]
    assert by[ord("W")]["advance"] > by[ord("i")]["advance"]
    assert by[ord("W")]["width"] > by[ord("i")]["width"]
    # top: the ink box's top above the baseline minus the ascender at 24 px (23 for DejaVu,
    # FreeType's rounding up of 0.928 em), node-fontnik's convention that MapLibre's layout
    # expects: a glyph on the baseline ends 23 px below its top, a descender goes lower.
    for c in "IHEx":
        assert by[ord(c)]["top"] - by[ord(c)]["height"] == -23, c
    assert by[ord("I")]["top"] == -5  # cap height 17.5 px, rounded up to 18
    assert by[ord("g")]["top"] - by[ord("g")]["height"] < -27  # below the baseline
    assert by[ord("'")]["top"] == by[ord("I")]["top"]  # an apostrophe hangs from the top
    assert by[ord("I")]["left"] == 2  # DejaVu's I: 201/2048 em of left bearing
    assert by[ord("I")]["advance"] == 7  # 604/2048 em


def test_bold_strokes_are_wider(latin: dict[str, Any], latin_bold: dict[str, Any]) -> None:
    def stem(g: dict[str, Any]) -> int:
        field = sdf(g)
        return int((field[field.shape[0] // 2] >= EDGE).sum())

    regular, bold = stem(latin["glyphs"][ord("l")]), stem(latin_bold["glyphs"][ord("l")])
    assert 1 <= regular < bold, (regular, bold)
    assert (latin_bold["glyphs"][ord("W")]["advance"]
            > latin["glyphs"][ord("W")]["advance"])


def test_space_has_an_advance_and_no_bitmap(latin: dict[str, Any]) -> None:
    g = latin["glyphs"][0x20]
    assert g["bitmap"] is None and g["width"] == g["height"] == 0 and g["advance"] >= 6


def test_a_range_the_font_lacks_answers_an_empty_fontstack() -> None:
    doc = decode(glyph_range("DejaVu Sans", 0xE000))
    assert doc == {"name": "DejaVu Sans", "range": "57344-57599", "glyphs": {}}


def test_a_list_of_fonts_takes_the_first_known_one(latin_bold: dict[str, Any]) -> None:
    assert glyph_range("Noto Sans, DejaVu Sans Bold,DejaVu Sans", 0) == glyph_range(
        "DejaVu Sans Bold", 0)
    assert glyph_range("DejaVu Sans,DejaVu Sans Bold", 0) != glyph_range(
        "DejaVu Sans Bold", 0)


def test_unknown_fontstacks_and_bad_starts_are_refused() -> None:
    with pytest.raises(NotFoundError) as err:
        glyph_range("Comic Sans", 0)
    assert err.value.code == "not_found.glyphs" and "Comic Sans" in err.value.message
    assert "DejaVu Sans" in err.value.hint
    for bad in (-256, 1, 255, 65536, 70000):
        with pytest.raises(InputError) as err2:
            glyph_range("DejaVu Sans", bad)
        assert err2.value.code == "input.glyph_range" and err2.value.hint
    assert set(FONTSTACKS) == {"DejaVu Sans", "DejaVu Sans Bold"}


def test_the_fonts_are_matplotlibs_with_their_licence() -> None:
    folder = glyphs.font_folder()
    assert folder is not None and folder.parts[-4:] == ("matplotlib", "mpl-data", "fonts", "ttf")
    assert (folder / "LICENSE_DEJAVU").is_file()
    assert "LICENSE_DEJAVU" in (glyphs.__doc__ or "")


# -- the sprite sheet ----------------------------------------------------------------------------

def test_sprite_sheets_are_deterministic_and_ratios_are_checked() -> None:
    first = sprite(2)
    sprites._sheet.cache_clear()
    assert sprite(2) == first  # drawn again: the same bytes
    for bad in (0, 3, 1.5, True):
        with pytest.raises(InputError) as err:
            sprite(bad)  # type: ignore[arg-type]
        assert err.value.code == "input.sprite"


# -- the routes, through the app that `truceguard serve` runs -------------------------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = SQLiteStore(Path(tmp_path_factory.mktemp("glyphs")) / "g.db")
    yield create_app(store)
    store.close()


def get(app: Any, path: str) -> httpx.Response:
    """``GET path`` without a token."""
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get(path)

    return asyncio.run(go())


def test_the_glyph_route_answers_protobuf_without_a_token(app: Any) -> None:
    r = get(app, "/app/glyphs/DejaVu%20Sans/1024-1279.pbf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-protobuf"
    assert r.headers["cache-control"] == "public, max-age=86400"
    doc = decode(r.content)
    assert doc["range"] == "1024-1279" and ord("Ї") in doc["glyphs"]
    r = get(app, "/app/glyphs/DejaVu%20Sans%20Bold,DejaVu%20Sans/0-255.pbf")
    assert r.status_code == 200 and decode(r.content)["name"] == "DejaVu Sans Bold"


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/app/glyphs/Comic%20Sans/0-255.pbf", 404, "not_found.glyphs"),
    ("/app/glyphs/DejaVu%20Sans/0-99.pbf", 400, "input.glyph_range"),
    ("/app/glyphs/DejaVu%20Sans/256-511x.pbf", 400, "input.glyph_range"),
    ("/app/glyphs/DejaVu%20Sans/1-256.pbf", 400, "input.glyph_range"),
    ("/app/glyphs/DejaVu%20Sans/65536-65791.pbf", 400, "input.glyph_range"),
    # a number past Python's 4,300-digit limit for int(): refused, never a 500
    ("/app/glyphs/DejaVu%20Sans/" + "9" * 5000 + "-255.pbf", 400, "input.glyph_range"),
    ("/app/sprites/sprite@3x.png", 404, "not_found.route"),
])
def test_bad_asset_requests_answer_the_envelope(app: Any, path: str, status: int,
                                                code: str) -> None:
    r = get(app, path)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["hint"]
    if "glyphs" in path and status == 400:  # named (its first 40 characters: bounded)
        assert path.rsplit("/", 1)[1].removesuffix(".pbf")[:40] in err["message"]
        assert len(err["message"]) < 200


def _sheet(app: Any, suffix: str) -> tuple[dict[str, Any], np.ndarray]:
    r = get(app, f"/app/sprites/sprite{suffix}.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
    index = r.json()
    r = get(app, f"/app/sprites/sprite{suffix}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    assert r.headers["cache-control"] == "public, max-age=86400"
    image = Image.open(io.BytesIO(r.content))
    assert image.mode == "RGBA"
    return index, np.asarray(image)


def test_the_sprite_sheets_hold_every_icon_in_its_box(app: Any) -> None:
    sizes = {}
    colours = {"register": (255, 214, 0), "restriction": (198, 40, 40),
               "site": (21, 101, 192), "site-exposed": (21, 101, 192), "asset": (46, 125, 50)}
    for ratio, suffix in ((1, ""), (2, "@2x")):
        index, pixels = _sheet(app, suffix)
        assert list(index) == list(ICONS)
        height, width = pixels.shape[:2]
        outside = np.ones((height, width), bool)
        for name, box in index.items():
            assert set(box) == {"x", "y", "width", "height", "pixelRatio"}
            assert box["pixelRatio"] == ratio
            assert box["width"] == box["height"] == 20 * ratio
            x, y, w, h = box["x"], box["y"], box["width"], box["height"]
            assert x + w <= width and y + h <= height, (name, box, pixels.shape)
            icon = pixels[y:y + h, x:x + w]
            opaque = icon[..., 3] == 255
            assert opaque.sum() > 0.3 * w * h, name  # a solid icon, not a speck
            rgb = icon[..., :3][opaque].astype(int)
            assert (np.abs(rgb - colours[name]).sum(axis=1) < 30).sum() > 0.05 * w * h, name
            outside[y:y + h, x:x + w] = False
        assert outside.any() and (pixels[..., 3][outside] == 0).all()
        sizes[ratio] = (width, height)
        boxes = sorted((b["x"], b["x"] + b["width"]) for b in index.values())
        assert all(a[1] <= b[0] for a, b in zip(boxes, boxes[1:], strict=False))  # no overlap
    assert sizes[2] == (2 * sizes[1][0], 2 * sizes[1][1])
    assert json.loads(sprite(1)[0]) == _sheet(app, "")[0]


def test_each_range_is_made_once_whatever_stack_names_a_client_sends():
    """A client cannot make the server draw a range again (or keep more of them) by naming
    the font in other ways: every spelling resolves to the font, and its range is kept."""
    from truceguard.web import glyphs

    first = glyphs.glyph_range("DejaVu Sans", 256)
    for spelling in ("DejaVu Sans,Noto Sans", "Arial Unicode MS,DejaVu Sans",
                     "DejaVu Sans,DejaVu Sans Bold"):
        assert glyphs.glyph_range(spelling, 256) is first
    assert set(glyphs._made) <= {(n, s) for n in glyphs.FONTSTACKS for s in range(0, 65536, 256)}
