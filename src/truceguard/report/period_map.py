"""The map of a period report: where its violations were, coloured by clause, with their
uncertainty, on the boundaries shipped with truceguard (no tiles: it draws offline).

The map is in longitude and latitude with the aspect of the map's middle latitude (a plate
carrée that is true to scale east-west there; over the few hundred kilometres of a line of
contact the error of the scale bar elsewhere on the map stays under 2%). It shows:

- Natural Earth countries and the Ukrainian oblasts (geoBoundaries), named where they fit;
  the terms' line of contact, and the side polygon of the terms tinted;
- each counted violation as a dot coloured by its clause, sized by how many sit at the same
  point, inside a thin ring of its 95% uncertainty radius;
- the violations whose location is too imprecise to judge as hollow grey diamonds (not
  counted);
- the hotspots' settlement names, placed so that no two labels overlap, and a scale bar.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from PIL import Image

from truceguard.geo.shipped import countries, oblasts

if TYPE_CHECKING:
    from truceguard.judge.terms import Terms
    from truceguard.report.period import PeriodReport

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
CLAUSE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
                  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
HALO = [patheffects.withStroke(linewidth=3, foreground="white")]
# Where a label may go relative to its point: offsets in points and the alignment.
LABEL_SPOTS = ((6, 4, "left", "bottom"), (6, -4, "left", "top"), (-6, 4, "right", "bottom"),
               (-6, -4, "right", "top"), (0, 8, "center", "bottom"), (0, -8, "center", "top"),
               (10, 0, "left", "center"), (-10, 0, "right", "center"),
               (14, 14, "left", "bottom"), (-14, -14, "right", "top"),
               (-14, 14, "right", "bottom"), (14, -14, "left", "top"))


def _extent(lon: np.ndarray, lat: np.ndarray, terms: Terms | None
            ) -> tuple[float, float, float, float]:
    """(west, east, south, north): the points and the line, padded, at least 2 by 1.5 deg."""
    xs = [lon] if lon.size else []
    ys = [lat] if lat.size else []
    if terms is not None:
        x0, y0, x1, y1 = shapely.bounds(terms.line)
        xs.append(np.array([x0, x1]))
        ys.append(np.array([y0, y1]))
    if not xs:  # neither points nor a line: the east of Ukraine
        return 35.0, 41.0, 46.5, 50.5
    x, y = np.concatenate(xs), np.concatenate(ys)
    w, e, s, n = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    cx, cy = (w + e) / 2, (s + n) / 2
    half_w, half_h = max((e - w) / 2 + 0.35, 1.0), max((n - s) / 2 + 0.25, 0.75)
    return cx - half_w, cx + half_w, cy - half_h, cy + half_h


def _polygons(geom: Any) -> list[Any]:
    return [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]


def _draw_area(ax: Any, geom: Any, **style: Any) -> None:
    for poly in _polygons(geom):
        for ring in (poly.exterior, *poly.interiors):
            x, y = ring.xy
            ax.plot(x, y, **style)


def _boundaries(ax: Any, box: Any) -> list[tuple[str, float, float, str]]:
    """Draw countries and oblasts within ``box``; the names to place: (text, lon, lat, kind)."""
    names: list[tuple[str, float, float, str]] = []
    for code, geom in countries().items():
        if not shapely.intersects(geom, box):
            continue
        part = shapely.clip_by_rect(geom, *box.bounds)
        for poly in _polygons(part):
            x, y = poly.exterior.xy
            ax.fill(x, y, color="#f4f1ea" if code == "UKR" else "#fafafa", lw=0, zorder=0)
        _draw_area(ax, part, color="0.35", lw=0.9, zorder=2)
        if part.area > 0.05 * box.area:
            p = shapely.point_on_surface(part)
            names.append((code_name(code), p.x, p.y, "country"))
    for _iso, name, geom in oblasts():
        if not shapely.intersects(geom, box):
            continue
        part = shapely.clip_by_rect(geom, *box.bounds)
        _draw_area(ax, part, color="0.65", lw=0.5, ls=(0, (4, 2)), zorder=2)
        if part.area > 0.03 * box.area:
            p = shapely.point_on_surface(part)
            names.append((name.replace(" Oblast", " oblast"), p.x, p.y, "oblast"))
    return names


def code_name(code: str) -> str:
    """A country's short name for a map label (from the shipped ISO 3166-1 table)."""
    from truceguard.marking import vocabulary

    name = vocabulary().countries.get(code, code)
    return {"Russian Federation": "Russia"}.get(name, name.split(",")[0]).upper()


def _place_labels(ax: Any, fig: Figure, items: list[tuple[str, float, float, str]]) -> None:
    """Put each label at the first spot where it overlaps no earlier label and stays inside the
    axes; a label with no such spot is left out (items come most important first)."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    inside = ax.get_window_extent(renderer)
    taken: list[Any] = []
    styles = {
        "hotspot": {"fontsize": 9, "fontweight": "bold", "color": "#111"},
        "oblast": {"fontsize": 8, "fontstyle": "italic", "color": "0.4"},
        "country": {"fontsize": 10, "color": "0.5"},
        "note": {"fontsize": 12, "color": "0.3"},
    }
    for text, x, y, kind in items:
        spots = LABEL_SPOTS if kind == "hotspot" else ((0, 0, "center", "center"),)
        for dx, dy, ha, va in spots:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha,
                            va=va, path_effects=HALO, zorder=6, **styles[kind])
            box = t.get_window_extent(renderer).expanded(1.05, 1.1)
            fits = (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)
                    and not any(box.overlaps(b) for b in taken))
            if fits:
                taken.append(box)
                break
            t.remove()


def _scale_km(width_km: float) -> int:
    """A round length near a fifth of the map's width."""
    nice = [n * 10**k for k in range(0, 4) for n in (1, 2, 5)]
    return max([n for n in nice if n <= width_km / 5] or [1])


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """``fig`` as a PNG of at most 256 colours: a third of the size of a full-colour one, and
    the same to the eye for a map or a chart of flat colours."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    with Image.open(buf) as img:
        flat = img.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                           dither=Image.Dither.NONE)
    palette = flat.getpalette() or []
    # The octree averages white with its neighbours: the page's white stays white.
    flat.putpalette([255 if all(c >= 252 for c in palette[k - k % 3:k - k % 3 + 3]) else c
                     for k, c in enumerate(palette)])
    out = io.BytesIO()
    flat.save(out, format="png", optimize=True)
    return out.getvalue()


def clause_colours(report: PeriodReport) -> dict[str, str]:
    """The colour of each clause of the counted violations, in the order of the terms (the
    report's clauses), the same on the map and the trend."""
    order = {c.key: k for k, c in enumerate(report.clauses)}
    present = sorted({v.clause for v in report.violations},
                     key=lambda c: (order.get(c, len(order)), c))
    return {c: CLAUSE_COLOURS[k % len(CLAUSE_COLOURS)] for k, c in enumerate(present)}


def map_png(report: PeriodReport, terms: Terms | None) -> bytes:
    """The map of the report's violations as PNG bytes (see the module docstring)."""
    return png_bytes(map_figure(report, terms))


def map_figure(report: PeriodReport, terms: Terms | None) -> Figure:
    """The map of the report's violations (see the module docstring); ``terms`` draws the line
    and the sides (None: boundaries only)."""
    vs, vague = report.violations, report.imprecise
    lon = np.array([v.lon for v in vs], float)
    lat = np.array([v.lat for v in vs], float)
    unc_km = np.array([v.uncertainty_m for v in vs], float) / 1000.0
    clause = np.array([v.clause for v in vs], dtype=object)
    vlon = np.array([v.lon for v in vague], float)
    vlat = np.array([v.lat for v in vague], float)
    w, e, s, n = _extent(np.concatenate([lon, vlon]), np.concatenate([lat, vlat]), terms)
    lat0 = (s + n) / 2
    km_per_deg_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))

    fig = Figure(figsize=(11, 8.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#e8f0f6")  # the sea, where there is no country
    box = shapely.box(w, s, e, n)
    names = _boundaries(ax, box)
    handles: list[Any] = []
    if terms is not None:
        side = shapely.clip_by_rect(terms.side_polygon, w, s, e, n)
        for poly in _polygons(side):
            x, y = poly.exterior.xy
            ax.fill(x, y, color="#c9b8a6", alpha=0.35, lw=0, zorder=1)
        for part in getattr(terms.line, "geoms", [terms.line]):
            x, y = part.xy
            ax.plot(x, y, color="black", lw=1.8, zorder=3)
        handles.append(Line2D([], [], color="black", lw=1.8, label="line of contact (terms)"))
        handles.append(Line2D([], [], marker="s", ls="", ms=10, color="#c9b8a6", alpha=0.6,
                              label=terms.sides[1].label))

    for c, colour in clause_colours(report).items():
        mine = clause == c
        pts, counts = np.unique(
            np.column_stack([lon[mine], lat[mine], unc_km[mine]]), axis=0,
            return_counts=True)
        ax.add_collection(EllipseCollection(
            widths=2 * pts[:, 2] / (KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(pts[:, 1]))),
            heights=2 * pts[:, 2] / KM_PER_DEG_LAT, angles=0, units="xy", offsets=pts[:, :2],
            offset_transform=ax.transData, facecolors="none", edgecolors=colour,
            alpha=0.3, linewidths=0.6, zorder=3))
        ax.scatter(pts[:, 0], pts[:, 1], s=10 + 14 * np.sqrt(counts), color=colour,
                   edgecolors="white", linewidths=0.5, zorder=4)
        handles.append(Line2D([], [], marker="o", ls="", color=colour, mec="white",
                              label=f"{c.split('/', 1)[-1]}: {int(mine.sum())}"))
    if vague:
        ax.scatter(vlon, vlat, s=28, marker="D", facecolors="none", edgecolors="0.25",
                   linewidths=0.9, zorder=4)
        handles.append(Line2D([], [], marker="D", ls="", mfc="none", mec="0.25",
                              label=f"location too imprecise (p_location < {report.min_p:g}): "
                                    f"{len(vague)}, not counted"))
    if vs:
        handles.append(Line2D([], [], marker="o", ls="", ms=12, mfc="none", mec="0.5",
                              alpha=0.6, label="ring: 95% uncertainty radius"))
        handles.append(Line2D([], [], marker="o", ls="", ms=9, color="0.4",
                              label="dot size: violations at the same point"))
    note = [] if vs else [("no violations counted in this period", (w + e) / 2, (s + n) / 2,
                           "note")]

    ax.set_xlim(w, e)
    ax.set_ylim(s, n)
    ax.set_aspect(1 / math.cos(math.radians(lat0)))
    ax.set_xlabel("longitude, degrees east")
    ax.set_ylabel("latitude, degrees north")
    ax.set_title(f"Violations counted, {report.first_date} to {report.last_date} "
                 f"(p_location \u2265 {report.min_p:g}), by clause", fontsize=11)
    length = _scale_km((e - w) * km_per_deg_lon)
    ax.add_artist(AnchoredSizeBar(ax.transData, length / km_per_deg_lon, f"{length} km",
                                  "lower left", pad=0.6, borderpad=0.8, sep=4, frameon=True,
                                  size_vertical=(n - s) / 250, fontproperties={"size": 9}))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="clause: violations", title_fontsize=9,
              alignment="left")
    spots = [(f"{h.place} ({h.count})", h.lon, h.lat, "hotspot") for h in report.hotspots]
    for h in report.hotspots:
        ax.plot(h.lon, h.lat, marker="+", color="black", ms=7, mew=1.2, zorder=5)
    _place_labels(ax, fig, note + spots + sorted(names, key=lambda t: t[3] != "country"))
    return fig
