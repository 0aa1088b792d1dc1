"""Planning reports: the HTML page, its PNG plots and results.json, for plan and compare.

Maps draw from the shipped boundaries (no tile server). Plots use matplotlib's object API on
the Agg canvas, so nothing depends on a display and no global state is touched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from truceguard.geo.radar import circle_lonlat
from truceguard.geo.shipped import countries, oblasts
from truceguard.plan.coverage import detection_range_m
from truceguard.plan.run import VariantResult
from truceguard.plan.scenario import UNITS, Scenario

EXTENT = (20.0, 41.5, 43.5, 54.0)  # lon min, lon max, lat min, lat max


def _env() -> Environment:
    return Environment(loader=PackageLoader("truceguard", "report/templates"),
                       autoescape=select_autoescape(["html", "j2"]))


def _save(fig: Figure, path: Path) -> str:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path.name


def _draw_boundaries(ax: Any) -> None:
    for geom in countries().values():
        for poly in getattr(geom, "geoms", [geom]):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="0.55", lw=0.5)
    for _code, _name, geom in oblasts():
        for poly in getattr(geom, "geoms", [geom]):
            x, y = poly.exterior.xy
            ax.plot(x, y, color="0.8", lw=0.3)


def plot_map(res: VariantResult, target_height_m: float, path: Path) -> str:
    """The line coloured by fighter response time, with air-defence and ISR circles."""
    fig = Figure(figsize=(9, 6.5))
    ax = fig.add_subplot()
    _draw_boundaries(ax)
    cov = res.coverage
    a = res.assets
    rng_isr = detection_range_m(a, target_height_m)
    for i in np.flatnonzero((a.sensor_range_m > 0) & (rng_isr < 1_000_000)):  # no orbit-wide discs
        x, y = circle_lonlat(float(a.lat[i]), float(a.lon[i]), float(rng_isr[i]))
        ax.fill(x, y, color="tab:blue", alpha=0.08, lw=0)
    for i in np.flatnonzero(a.ad_range_m > 0):
        x, y = circle_lonlat(float(a.lat[i]), float(a.lon[i]), float(a.ad_range_m[i]))
        ax.plot(x, y, color="tab:red", lw=1.0)
    t = np.where(np.isfinite(cov.line_fighter_min), cov.line_fighter_min, 240.0)
    pts = np.column_stack([cov.line_lon, cov.line_lat])
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    close = np.hypot(*(segs[:, 1] - segs[:, 0]).T) < 0.1  # do not bridge separate parts
    lc = LineCollection(segs[close], cmap="RdYlGn_r", linewidths=3)
    lc.set_array(t[:-1][close])
    lc.set_clim(0, 180)
    ax.add_collection(lc)
    fig.colorbar(lc, ax=ax, label="fighter response time, minutes (180+ = none)", shrink=0.7)
    fighters = a.responds.any(axis=1) & (a.speed_kmh > 100)
    ax.scatter(a.lon[fighters], a.lat[fighters], marker="^", color="k", s=30, label="fighters")
    ax.scatter(cov.sites.lon, cov.sites.lat, marker="s", s=14,
               c=np.where(cov.sites_covered, "tab:green", "tab:orange"),
               label="protected sites (green: under air defence)")
    ax.set_xlim(*EXTENT[:2])
    ax.set_ylim(*EXTENT[2:])
    ax.set_aspect(1 / math.cos(math.radians(48.5)))
    ax.set_title(f"{res.name}: response along the line; air defence (red), ISR (blue)")
    ax.legend(loc="lower left", fontsize=7)
    return _save(fig, path)


def plot_cdfs(results: Sequence[VariantResult], path: Path) -> str:
    """Time-to-response CDFs per variant (violations never answered keep the curve below 1)."""
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    for r in results:
        n = len(r.t_response)
        v = np.sort(r.t_response[np.isfinite(r.t_response)])
        if n == 0:
            continue
        ax.step(np.concatenate([[0.0], v]), np.arange(len(v) + 1) / n, where="post", label=r.name)
    for x in (30, 60):
        ax.axvline(x, color="0.6", ls=":")
    ax.set_xlim(0, 240)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time from violation to response on scene, minutes")
    ax.set_ylabel("share of violations")
    ax.legend(fontsize=8)
    ax.set_title("Time to response, per variant")
    return _save(fig, path)


def plot_gaps(results: Sequence[VariantResult], path: Path) -> str:
    """The gap each variant leaves, in units, one panel per capability."""
    caps = sorted({c for r in results for c in r.gaps})
    fig = Figure(figsize=(3.2 * max(1, len(caps)), 4))
    for i, cap in enumerate(caps):
        ax = fig.add_subplot(1, len(caps), i + 1)
        vals = [r.gaps.get(cap, 0.0) for r in results]
        ax.bar(range(len(results)), vals, color="tab:red")
        ax.set_xticks(range(len(results)), [r.name for r in results], rotation=45, ha="right",
                      fontsize=7)
        ax.set_title(f"{cap} ({UNITS.get(cap, '')})", fontsize=9)
    fig.suptitle("What is missing, per variant")
    return _save(fig, path)


def results_document(scen: Scenario, results: Sequence[VariantResult]) -> dict[str, Any]:
    """Every figure of the run, as plain JSON-able data."""
    return {
        "scenario": scen.name,
        "title": scen.title,
        "requirements": {k: {"value": v.value, "source": v.source}
                         for k, v in scen.requirements.items()},
        "force_generation_rules": {k: {"value": v.value, "source": v.source}
                                   for k, v in scen.force_generation.items()},
        "variants": {r.name: r.as_json() for r in results},
    }


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o: Any) -> Any:
    """Replace non-finite floats (never reached) by None so the JSON is standard."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def write_plan_report(scen: Scenario, results: Sequence[VariantResult], out_dir: str | Path,
                      ) -> Path:
    """results.json, one map per variant, the CDFs, and index.html beside them in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = _clean(results_document(scen, results))
    (out / "results.json").write_text(json.dumps(doc, indent=2, default=_json_default),
                                      encoding="utf-8")
    th = float(scen.requirements["isr_target_height_m"].value)
    maps = {r.name: plot_map(r, th, out / f"map_{r.name}.png") for r in results}
    cdf = plot_cdfs(results, out / "response_cdf.png")
    html = _env().get_template("planning.html.j2").render(
        scenario=scen, results=results, doc=doc, maps=maps, cdf=cdf)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def write_compare_report(scen: Scenario, results: Sequence[VariantResult], out_dir: str | Path,
                         ) -> Path:
    """The variants side by side and the gap each leaves: one table, one plot, results.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = _clean(results_document(scen, results))
    caps = sorted({c for r in results for c in r.gaps})
    doc["comparison"] = {r.name: {"gaps": r.gaps, **{k: r.metrics[k] for k in KEYS}}
                         for r in results}
    (out / "results.json").write_text(json.dumps(doc, indent=2, default=_json_default),
                                      encoding="utf-8")
    gap_png = plot_gaps(results, out / "gaps.png")
    html = _env().get_template("planning_compare.html.j2").render(
        scenario=scen, results=results, caps=caps, units=UNITS, keys=KEYS, gap_png=gap_png)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


KEYS = (
    "line_isr_cover_share",
    "line_response_30min_share",
    "line_response_60min_share",
    "detection_probability",
    "protected_sites_air_defence_share",
)
