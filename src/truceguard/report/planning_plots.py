"""The planning report's figures: maps, response curves, the raid curve and campaign, land
breach containment by force size, satellites by day and night, tornado charts and gaps.

Maps draw from the shipped boundaries only (no tile server), with axis labels, country and
place names and a scale bar. Plots use matplotlib's object API on the Agg canvas, so nothing
depends on a display and no global state is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from numpy.typing import NDArray

from truceguard.geo.radar import circle_lonlat
from truceguard.geo.shipped import countries, oblasts, occupied_2026
from truceguard.plan.hostile import distance_grid, grid_axes
from truceguard.plan.run import METRICS, VariantResult
from truceguard.plan.scenario import Scenario
from truceguard.plan.sites import all_sites

EXTENT = (21.0, 41.0, 43.8, 53.2)  # lon min, lon max, lat min, lat max
COUNTRY_LABELS = {"UKR": (49.2, 31.5), "POL": (52.3, 22.0), "ROU": (45.6, 24.5),
                  "MDA": (47.3, 28.4), "BLR": (52.8, 27.5), "RUS": (51.8, 39.0),
                  "HUN": (47.0, 21.4), "SVK": (48.8, 21.4), "BGR": (44.05, 25.5)}
PLACES = {"Kyiv": (50.45, 30.52), "Lviv": (49.84, 24.03), "Odesa": (46.48, 30.73),
          "Kharkiv": (49.99, 36.23), "Dnipro": (48.45, 34.98), "Rzeszów": (50.04, 22.0),
          "Constanța": (44.18, 28.63), "Chișinău": (47.01, 28.86), "Minsk": (53.9, 27.56)}
STYLES = ("-", "--", "-.", ":")


def _save(fig: Figure, path: Path) -> str:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path.name


def _rings(geoms: tuple[Any, ...]) -> list[NDArray]:
    """The exterior rings of (multi)polygons as coordinate arrays, for one LineCollection."""
    return [np.asarray(poly.exterior.coords) for geom in geoms
            for poly in getattr(geom, "geoms", [geom])]


def _base_map(ax: Any, scen: Scenario) -> None:
    """Boundaries, occupied territory, the stand-off line, names, axes and a scale bar."""
    ax.add_collection(LineCollection(_rings(tuple(countries().values())), colors="0.45",
                                     linewidths=0.6, zorder=1))
    ax.add_collection(LineCollection(_rings(tuple(g for _c, _n, g in oblasts())),
                                     colors="0.85", linewidths=0.3, zorder=1))
    for poly in getattr(occupied_2026(), "geoms", [occupied_2026()]):
        x, y = poly.exterior.xy
        ax.fill(x, y, color="0.8", lw=0, zorder=0)
    lons, lats = grid_axes()
    stand = sorted({float(c.params["standoff_km"]) for c in scen.capabilities.values()
                    if c.params.get("standoff_km", 0) > 0})
    if stand:
        cs = ax.contour(lons, lats, distance_grid(scen.hostile), levels=stand,
                        colors="purple", linewidths=0.8, linestyles="--", zorder=2)
        for level, segs in zip(stand, cs.allsegs, strict=True):
            inside = [p for seg in segs for p in seg
                      if EXTENT[0] + 1 < p[0] < EXTENT[1] - 1 and 46.5 < p[1] < 50.5]
            if inside:
                x, y = inside[len(inside) // 2]
                ax.text(x + 0.1, y, f"{level:.0f} km from hostile territory", fontsize=7,
                        color="purple", rotation=80, va="center", zorder=4)
    for code, (la, lo) in COUNTRY_LABELS.items():
        ax.text(lo, la, code, fontsize=10, color="0.35", ha="center", va="center",
                fontweight="bold", zorder=3)
    for name, (la, lo) in PLACES.items():
        if not (EXTENT[0] < lo < EXTENT[1] and EXTENT[2] < la < EXTENT[3]):
            continue
        ax.plot(lo, la, "o", color="0.2", ms=2.5, zorder=4)
        ax.text(lo + 0.12, la + 0.08, name, fontsize=7, color="0.15", zorder=4)
    ax.set_xlim(*EXTENT[:2])
    ax.set_ylim(*EXTENT[2:])
    ax.set_aspect(1 / math.cos(math.radians(48.5)))
    ax.set_xlabel("longitude, degrees east")
    ax.set_ylabel("latitude, degrees north")
    # scale bar: 200 km at 44.4N, drawn as its true length in degrees of longitude there
    lat0, lon0, km = 44.4, 34.6, 200.0
    dlon = km / (111.32 * math.cos(math.radians(lat0)))
    ax.plot([lon0, lon0 + dlon], [lat0, lat0], color="k", lw=3, solid_capstyle="butt", zorder=5)
    ax.text(lon0 + dlon / 2, lat0 + 0.15, f"{km:.0f} km", ha="center", fontsize=8, zorder=5)


def plot_map(scen: Scenario, res: VariantResult, path: Path) -> str:
    """The line coloured by the chance the monitoring sensors report a ground violation in
    time; sensors, fighter bases, batteries with their range, and the protected sites."""
    fig = Figure(figsize=(10, 7.2))
    ax = fig.add_subplot()
    _base_map(ax, scen)
    cov, a = res.coverage, res.assets
    for i in np.flatnonzero(a.ad_range_m > 0):
        x, y = circle_lonlat(float(a.lat[i]), float(a.lon[i]), float(a.ad_range_m[i]))
        ax.plot(x, y, color="tab:red", lw=1.0, zorder=3)
    pts = np.column_stack([cov.line_lon, cov.line_lat])
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    close = np.hypot(*(segs[:, 1] - segs[:, 0]).T) < 0.1  # do not bridge separate parts
    lc = LineCollection(segs[close], cmap="RdYlGn", linewidths=3.5, zorder=4)
    lc.set_array(cov.line_ground_detect[:-1][close])
    lc.set_clim(0, 1)
    ax.add_collection(lc)
    fig.colorbar(lc, ax=ax, shrink=0.7, label="chance a ground violation is reported in time "
                 "(monitoring sensors)")
    marks = {"mast": ("s", "tab:blue"), "orbit": ("o", "tab:cyan")}  # satellites: everywhere
    for pattern, (m, c) in marks.items():
        sel = (a.role == "sensor") & (a.pattern == pattern)
        if sel.any():
            ax.scatter(a.lon[sel], a.lat[sel], marker=m, color=c, s=36, edgecolor="k", lw=0.4,
                       label=f"sensor: {pattern}", zorder=6)
    f = a.role == "fighter"
    if f.any():
        ax.scatter(a.lon[f], a.lat[f], marker="^", color="k", s=50, label="fighter base",
                   zorder=6)
    g = a.role == "ground_force"
    if g.any():
        ax.scatter(a.lon[g], a.lat[g], marker="P", color="tab:green", s=60, edgecolor="k",
                   lw=0.4, label="reassurance force hub", zorder=6)
    sites = all_sites()
    colours = {"operating": "tab:green", "in service": "tab:green", "damaged": "tab:orange",
               "destroyed": "k", "occupied": "0.5"}
    for status, colour in colours.items():
        sel = sites.status == status
        if sel.any():
            ax.scatter(sites.lon[sel], sites.lat[sel], marker="D", s=18, color=colour,
                       edgecolor="k", lw=0.3, label=f"site: {status}", zorder=5)
    ax.plot([], [], color="tab:red", lw=1, label="air-defence battery range")
    ax.plot([], [], color="purple", lw=0.8, ls="--", label="stand-off from hostile territory")
    ax.set_title(f"{res.name}: who watches the line, and what is defended")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=7.5, ncol=4,
              frameon=False)
    return _save(fig, path)


def plot_response(results: Sequence[VariantResult], path: Path) -> str:
    """Two panels of cumulative curves per variant: ground violations answered, and air
    threats intercepted, against minutes after the violation (never-answered ones keep the
    curve below 1). The axis runs to the data; identical curves are named together."""
    fig = Figure(figsize=(11, 4.6))
    panels = (("t_response", "ground violations reached by a quick-reaction unit"),
              ("t_intercept", "air threats met by a fighter before their target"))
    for j, (attr, title) in enumerate(panels):
        ax = fig.add_subplot(1, 2, j + 1)
        seen: dict[bytes, list[str]] = {}
        curves = []
        tmax = 90.0
        for r in results:
            t = getattr(r, attr)
            kind = (r.metrics["by_type"][n]["class"] for n in r.metrics["by_type"])
            classes = np.array(list(kind))[r.v_type] if len(r.v_type) else np.array([])
            want = "air" if attr == "t_intercept" else "ground"
            t = t[classes == want] if len(t) == len(classes) else t
            n = len(t)
            v = np.sort(t[np.isfinite(t)])
            if len(v):
                tmax = max(tmax, float(np.quantile(v, 0.99)))
            key = np.round(v, 3).tobytes() + bytes(str(n), "ascii")
            seen.setdefault(key, []).append(r.name)
            curves.append((key, v, n))
        drawn = set()
        for i, (key, v, n) in enumerate(curves):
            if key in drawn or n == 0:
                continue
            drawn.add(key)
            ax.step(np.concatenate([[0.0], v, [tmax * 1.05]]),
                    np.concatenate([np.arange(len(v) + 1) / n, [len(v) / n]]), where="post",
                    ls=STYLES[i % len(STYLES)], lw=2.2 - 0.3 * (i % 4),
                    label=" = ".join(seen[key]))
        marks = (30, 60) if tmax < 400 else (60, 240, 720)
        for x in marks:
            ax.axvline(x, color="0.5", ls=":", lw=1)
            ax.text(x, 1.01, f"{x} min", ha="center", va="bottom", fontsize=8, color="0.3")
        ax.set_xlim(0, tmax * 1.05)
        ax.set_ylim(0, 1.08)
        ax.set_xlabel("minutes after the violation (air: after it crosses the line)")
        ax.set_xlim(left=0)
        ax.set_ylabel("share of sampled violations")
        ax.set_title(title, fontsize=10, pad=14)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.93))
    return _save(fig, path)


def _groups(results: Sequence[VariantResult], key: Any) -> list[tuple[str, VariantResult]]:
    """Variants with the same figures (``key(result)``) drawn once, named together."""
    groups: dict[Any, list[VariantResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return [(" = ".join(m.name for m in members), members[0]) for members in groups.values()]


def plot_raids(results: Sequence[VariantResult], path: Path) -> str:
    """Left: the share of each raid defeated against its size (median, with the central 95%
    of replications as a band). Right: the share defeated in each raid of the campaign."""
    fig = Figure(figsize=(12, 4.6))
    ax, bx = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    curve = _groups(results, lambda r: tuple(round(d["defeated_share"]["value"], 4)
                                             for d in r.metrics["raids"]))
    for i, (name, r) in enumerate(curve):
        raids = r.metrics["raids"]
        x = [d["threats"] for d in raids]
        line, = ax.plot(x, [d["defeated_share"]["value"] for d in raids], marker="o",
                        ls=STYLES[i % len(STYLES)], label=name)
        ax.fill_between(x, [d["defeated_share"]["low"] for d in raids],
                        [d["defeated_share"]["high"] for d in raids], color=line.get_color(),
                        alpha=0.15, lw=0)
    ax.set_xscale("log")
    sizes = sorted({d["threats"] for r in results for d in r.metrics["raids"]})
    ax.set_xticks(sizes, [f"{v:,}" for v in sizes])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("threats in the raid (drones, decoys, cruise and ballistic missiles)")
    ax.set_ylabel("share of the raid destroyed or suppressed")
    ax.set_title("One raid: the share defeated falls as raids saturate the defence\n"
                 "(median and central 95% of replications)", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    camp = _groups(results, lambda r: tuple(round(d["value"], 4)
                                            for d in r.metrics["campaign"]["by_raid"]))
    for i, (name, r) in enumerate(camp):
        c = r.metrics["campaign"]
        xc = np.arange(1, len(c["by_raid"]) + 1)
        line, = bx.plot(xc, [d["value"] for d in c["by_raid"]], marker="o",
                        ls=STYLES[i % len(STYLES)], label=name)
        bx.fill_between(xc, [d["low"] for d in c["by_raid"]], [d["high"] for d in c["by_raid"]],
                        color=line.get_color(), alpha=0.15, lw=0)
    c0 = results[0].metrics["campaign"]
    bx.set_ylim(0, 1.02)
    bx.set_xticks(np.arange(1, c0["raids"] + 1))
    bx.set_xlabel(f"raid of the campaign ({sum(c0['raid'].values()):,} threats each, "
                  f"{c0['days_between']:g} days apart)")
    bx.set_ylabel("share of the raid defeated")
    bx.set_title("A campaign: magazines run down between raids\n(median and central 95% "
                 "of replications)", fontsize=10)
    bx.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def plot_breach(r: VariantResult, path: Path) -> str:
    """One variant's containment of a land breach within 6, 24 and 72 hours against the
    reassurance force's size (multiples of the pledged troops), with Wilson 95% intervals."""
    fig = Figure(figsize=(8.5, 4.2))
    ax = fig.add_subplot()
    rows = r.metrics["layers"]["land_breach"].get("by_force_size") or []
    x = np.array([row["force_scale"] for row in rows])
    for h, colour in (("72h", "tab:green"), ("24h", "tab:orange"), ("6h", "tab:red")):
        v = np.array([row["contained"][h]["value"] for row in rows])
        lo = v - np.array([row["contained"][h]["low"] for row in rows])
        hi = np.array([row["contained"][h]["high"] for row in rows]) - v
        ax.errorbar(x, v, yerr=[lo, hi], color=colour, marker="o", capsize=3,
                    label=f"contained within {h[:-1]} h")
        if len(v):
            ax.text(x[-1] + 0.05, v[-1], f"{100 * v[-1]:.0f}%", va="center", fontsize=8,
                    color=colour)
    ax.set_xticks(x, [{0.0: "none", 1.0: "as pledged"}.get(float(v), f"x{v:g}") for v in x])
    ax.set_xlim(-0.15, (x.max() if len(x) else 2.0) + 0.4)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("size of the reassurance force (multiple of the pledged troops)")
    ax.set_ylabel("share of breaches contained")
    ax.set_title(f"Land breach: containment against the force's size, {r.name} "
                 "(95% intervals)", fontsize=10)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return _save(fig, path)


def plot_isr(results: Sequence[VariantResult], path: Path) -> str:
    """Line watched by satellites within a day, by day and by night: the systems in force
    and the European and commercial alternatives, one group of bars per distinct variant."""
    have = [r for r in results if r.metrics["layers"]["monitoring"]["satellites"]]

    def key(r: VariantResult) -> tuple[float, ...]:
        w = r.metrics["layers"]["monitoring"]["satellites"]["within_a_day"]
        return tuple(round(w[g][t]["combined"], 4) for g in ("in_force", "alternatives")
                     for t in ("day", "night"))

    groups = _groups(have, key)
    fig = Figure(figsize=(9, 4.2))
    ax = fig.add_subplot()
    bars = (("in_force", "day", "satellites in force, by day", "tab:blue"),
            ("in_force", "night", "satellites in force, by night", "navy"),
            ("alternatives", "day", "European and commercial, by day", "tab:orange"),
            ("alternatives", "night", "European and commercial, by night", "saddlebrown"))
    width = 0.8 / len(bars)
    for j, (g, t, label, colour) in enumerate(bars):
        vals = [r.metrics["layers"]["monitoring"]["satellites"]["within_a_day"][g][t]["combined"]
                for _n, r in groups]
        xs = np.arange(len(groups)) + (j - 1.5) * width
        ax.bar(xs, vals, width, color=colour, label=label)
        for x, v in zip(xs, vals, strict=True):
            ax.text(x, v, f"{100 * v:.0f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(np.arange(len(groups)), [n for n, _r in groups], fontsize=7)
    top = max([0.05] + [r.metrics["layers"]["monitoring"]["satellites"]["within_a_day"][g][t][
        "combined"] for _n, r in groups for g, t, *_ in bars])
    ax.set_ylim(0, min(1.0, top * 1.3))
    ax.set_ylabel("chance a violation is reported within a day")
    ax.set_title("Line watched by satellites within a day: swath, night, cloud and tasking "
                 "latency", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    return _save(fig, path)


def plot_tornado(rows: list[dict[str, Any]], base: float, metric: str, path: Path,
                 top: int = 10) -> str:
    """One bar per assumption, from the metric at its low end to the metric at its high
    end, the largest swing on top; the line is the baseline. A swing within the noise
    (``beyond_noise`` false) is drawn grey and its label says so."""
    shown = [r for r in rows if r["swing"] > 0][:top][::-1]
    fig = Figure(figsize=(9, 0.45 * max(3, len(shown)) + 1.2))
    ax = fig.add_subplot()
    for i, r in enumerate(shown):
        lo, hi = r["metric_low"], r["metric_high"]
        real = r.get("beyond_noise", True)
        ax.barh(i, hi - base, left=base, color="tab:blue" if real else "0.75", alpha=0.8)
        ax.barh(i, lo - base, left=base, color="tab:orange" if real else "0.6", alpha=0.8)
    ax.set_yticks(range(len(shown)), [
        f"{r['assumption']} ({r['low']:g} .. {r['high']:g})"
        + ("" if r.get("beyond_noise", True) else " [within noise]") for r in shown],
        fontsize=8)
    ax.axvline(base, color="k", lw=1)
    ax.set_xlabel(f"{METRICS[metric][0]} (orange: assumption at its low end; blue: high end;"
                  " grey: within the noise)")
    if not shown:
        ax.text(0.5, 0.5, "no assumption moves this metric", transform=ax.transAxes,
                ha="center")
    ax.set_title(f"What moves '{METRICS[metric][0]}' (baseline {base:.0%})", fontsize=10)
    return _save(fig, path)


def plot_gaps(results: Sequence[VariantResult], units: dict[str, str], path: Path) -> str:
    """The gap each variant leaves, one horizontal panel per role that has a gap anywhere."""
    roles = sorted({c for r in results for c, g in r.gaps.items() if g > 0})
    fig = Figure(figsize=(4.2 * max(1, len(roles)), 0.4 * len(results) + 1.6))
    if not roles:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "no variant leaves a gap", ha="center", va="center")
        return _save(fig, path)
    names = [r.name for r in results]
    for i, role in enumerate(roles):
        ax = fig.add_subplot(1, len(roles), i + 1)
        vals = [r.gaps.get(role, 0.0) for r in results]
        ax.barh(range(len(results)), vals, color="tab:red")
        ax.set_yticks(range(len(results)), names if i == 0 else [""] * len(names), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(vals) * 1.25 or 1)
        ax.set_xlabel(f"missing {units.get(role, '')}")
        ax.set_title(role.replace("_", " "), fontsize=10)
        for y, v in enumerate(vals):
            ax.text(v, y, f" {v:,.0f}", va="center", fontsize=7)
    fig.suptitle("What is missing, per variant (roles with no gap anywhere are left out)",
                 fontsize=10, y=1.04)
    return _save(fig, path)
