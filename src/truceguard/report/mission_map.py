"""The map of a daily or weekly report: the period's records coloured by kind, on the
boundaries shipped with truceguard (Natural Earth countries, geoBoundaries oblasts) and the
terms' line of contact; no tiles, so it draws offline.

Fire is drawn as dots sized by the violations a record counts; sightings, restrictions,
civilian harm, hazards and the other records each have their own colour and marker. The
hotspots are named (settlement and oblast), never given as coordinates. The drawing helpers
(extent, boundaries, label placement, scale bar, PNG) are the period map's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from truceguard.report.period_map import (
    KM_PER_DEG_LON_EQUATOR,
    _boundaries,
    _extent,
    _place_labels,
    _scale_km,
    png_bytes,
)
from truceguard.text import plural

if TYPE_CHECKING:
    from truceguard.judge.terms import Terms
    from truceguard.report.mission import MissionReport

# kind: (legend label, colour, marker)
KIND_STYLES: dict[str, tuple[str, str, str]] = {
    "fire": ("ceasefire violations (fire)", "#d62728", "o"),
    "sighting": ("weapons and storage sites seen", "#1f77b4", "^"),
    "restriction": ("restrictions of movement", "#9467bd", "s"),
    "harm": ("civilian harm", "#111111", "X"),
    "hazard": ("mines and UXO", "#ff7f0e", "D"),
    "other": ("other records", "#7f7f7f", "."),
}
MAP_HOTSPOTS = 6  # hotspots named on the map


def _kind(report: MissionReport) -> dict[int, str]:
    fire = {f.line.obs.obs_id for f in report.fire}
    return {x.obs.obs_id or 0: "fire" if x.obs.obs_id in fire else x.kind for x in report.lines}


def _draw_terms(ax: Any, terms: Terms, box: tuple[float, float, float, float]) -> list[Any]:
    for part in getattr(terms.line, "geoms", [terms.line]):
        clipped = shapely.clip_by_rect(part, *box)
        for seg in getattr(clipped, "geoms", [clipped]):
            if not seg.is_empty:
                x, y = seg.xy
                ax.plot(x, y, color="black", lw=1.6, zorder=3)
    return [Line2D([], [], color="black", lw=1.6, label="line of contact (terms)")]


def _draw_records(ax: Any, report: MissionReport) -> list[Any]:
    kinds = _kind(report)
    handles = []
    for kind, (label, colour, marker) in KIND_STYLES.items():
        xs = [x for x in report.lines if kinds.get(x.obs.obs_id or 0) == kind]
        if not xs:
            continue
        lon = np.array([x.obs.lon for x in xs], float)
        lat = np.array([x.obs.lat for x in xs], float)
        size = (16 + 12 * np.sqrt(np.array([x.obs.count for x in xs], float))
                if kind == "fire" else np.full(len(xs), 46.0))
        ax.scatter(lon, lat, s=size, c=colour, marker=marker, edgecolors="white",
                   linewidths=0.6, alpha=0.85, zorder=4)
        n = (plural(sum(x.obs.count for x in xs), "violation") if kind == "fire"
             else plural(len(xs), "record"))
        handles.append(Line2D([], [], marker=marker, ls="", color=colour, mec="white", ms=8,
                              label=f"{label}: {n}"))
    return handles


def mission_map_png(report: MissionReport, terms: Terms | None) -> bytes:
    """The map of the report's records as PNG bytes (see the module docstring)."""
    return png_bytes(mission_map_figure(report, terms))


def mission_map_figure(report: MissionReport, terms: Terms | None) -> Figure:
    lon = np.array([x.obs.lon for x in report.lines], float)
    lat = np.array([x.obs.lat for x in report.lines], float)
    w, e, s, n = _extent(lon, lat, terms)
    lat0 = (s + n) / 2
    km_per_deg_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
    fig = Figure(figsize=(11, 8.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("#e8f0f6")
    names = _boundaries(ax, shapely.box(w, s, e, n))
    handles = _draw_terms(ax, terms, (w, s, e, n)) if terms is not None else []
    handles += _draw_records(ax, report)
    if report.fire:
        handles.append(Line2D([], [], marker="o", ls="", ms=11, color="#d62728", alpha=0.5,
                              label="dot size: violations a record counts"))
    ax.set_xlim(w, e)
    ax.set_ylim(s, n)
    ax.set_aspect(1 / math.cos(math.radians(lat0)))
    ax.set_xlabel("longitude, degrees east")
    ax.set_ylabel("latitude, degrees north")
    ax.set_title(f"Records of {report.window.text} (Kyiv time), by kind", fontsize=11)
    length = _scale_km((e - w) * km_per_deg_lon)
    ax.add_artist(AnchoredSizeBar(ax.transData, length / km_per_deg_lon, f"{length} km",
                                  "lower left", pad=0.6, borderpad=0.8, sep=4, frameon=True,
                                  size_vertical=(n - s) / 250, fontproperties={"size": 9}))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="kind: count", title_fontsize=9, alignment="left")
    spots = _hotspot_spots(report)
    note = [] if report.lines else [("no records in this period", (w + e) / 2, (s + n) / 2,
                                     "note")]
    _place_labels(ax, fig, note + spots + sorted(names, key=lambda t: t[3] != "country"))
    return fig


def _hotspot_spots(report: MissionReport) -> list[tuple[str, float, float, str]]:
    """Labels for the busiest named areas, at the count-weighted middle of their records."""
    out = []
    for h in report.hotspots[:MAP_HOTSPOTS]:
        out.append((f"{h.label.split(' (')[0]} ({h.total})", h.lon, h.lat, "hotspot"))
    return out


__all__ = ["KIND_STYLES", "mission_map_figure", "mission_map_png"]
