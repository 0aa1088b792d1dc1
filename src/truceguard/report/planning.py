"""Planning reports: the HTML page, its PNG figures and results.json, for plan and compare.

Every metric shown is defined in one sentence where it is shown, with what it includes. The
plan report holds, in order: the headlines; the structural switches side by side (Belarus,
launch areas, targeting, basing); the land breach by variant and by the force's size; the
raid curve, the largest raid by class and layer, a campaign of raids, where the pledged fire
units stand and the exchange ratio; the fighters and the air warning; the satellites by day
and by night; the other layers; the response curves; the sensitivity analyses (tornado charts,
Sobol indices); the force pools against inventories; the force generation of each variant;
the assumptions. Figures come from :mod:`truceguard.report.planning_plots`.

Every figure that comes from sampling is shown with its 95% interval, and results.json says
how each interval is computed (``interval_methods``, ``headline_interval_methods``; each
variant's ``intervals``). A figure that is the same in every variant, or a raid curve that
falls with size, gets the sentence :mod:`truceguard.plan.explain` computes for it
(``unchanged`` in results.json).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from truceguard.plan.explain import unchanged
from truceguard.plan.run import (
    CONFIDENCE,
    HEADLINE,
    HEADLINE_METHOD,
    INTERVAL_METHODS,
    METRICS,
    VariantResult,
)
from truceguard.plan.scenario import UNITS, Scenario
from truceguard.plan.sensitivity import Sensitivity
from truceguard.report import planning_plots as plots

COMPARE_COLUMNS = {  # key -> readable column name
    "line_isr_cover_share": "line watched (ground), monitoring",
    "detection_probability": "violations detected in time",
    "breach_contained_72h_share": "land breach contained within 72 h",
    "air_intercept_share": "air threats met by a fighter before target",
    "raid_largest_defeated_share": "largest raid defeated",
    "raid_campaign_last_defeated_share": "last raid of a campaign defeated",
}
KEYS = tuple(COMPARE_COLUMNS)


def _env() -> Environment:
    env = Environment(loader=PackageLoader("truceguard", "report/templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = lambda v, d=0: "n/a" if v is None else f"{100 * float(v):.{d}f}%"
    env.filters["num"] = lambda v, d=0: "" if v is None else f"{float(v):,.{d}f}"
    env.filters["interval"] = _interval
    return env


def _interval(pair: Sequence[float | None] | None, kind: str = "pct", digits: int = 1,
              alike: str = "no spread") -> str:
    """``low to high`` of a 95% interval, with as many more decimals (up to two) as it takes
    for the two ends to differ ("0.00% to 0.02%", not "0.0% to 0.0%"); ``alike`` when both
    ends are the same number (every sample gave it); '' when there is none."""
    if not pair or pair[0] is None or pair[1] is None:
        return ""
    lo, hi = float(pair[0]), float(pair[1])
    if lo == hi:
        return alike
    scale, unit = (100.0, "%") if kind == "pct" else (1.0, "")
    for d in range(digits, digits + 3):
        a, b = f"{scale * lo:,.{d}f}{unit}", f"{scale * hi:,.{d}f}{unit}"
        if a != b:
            break
    return f"{a} to {b}"


def definitions() -> dict[str, dict[str, str]]:
    """Each headline metric: its label, its one-sentence definition, what it includes."""
    return {k: {"label": lab, "definition": d, "includes": inc}
            for k, (lab, d, inc) in METRICS.items()}


def results_document(scen: Scenario, results: Sequence[VariantResult],
                     sens: Sensitivity | None = None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure of the run, as plain JSON-able data."""
    doc: dict[str, Any] = {
        "scenario": scen.name,
        "title": scen.title,
        "effective": scen.effective,
        "definitions": definitions(),
        "threat": results[0].metrics["threat"] if results else None,
        "assumptions": [{"key": a.key, "value": a.value, "low": a.low, "high": a.high,
                         "source": a.source, "reason": a.reason, "line": a.line}
                        for a in scen.assumptions],
        "requirements": {k: {"value": v.value, "source": v.source}
                         for k, v in scen.requirements.items()},
        "force_generation_rules": {k: {"value": v.value, "source": v.source}
                                   for k, v in scen.force_generation.items()},
        "confidence": CONFIDENCE,
        "interval_methods": INTERVAL_METHODS,
        "headline_interval_methods": HEADLINE_METHOD,
        "variants": {r.name: r.as_json() for r in results},
        "unchanged": unchanged(results),
        "sensitivity": _sens_json(sens),
    }
    doc.update(extra or {})
    return doc


def _sens_json(sens: Sensitivity | None) -> dict[str, Any] | None:
    if sens is None:
        return None
    out: dict[str, Any] = {"variant": sens.variant, "samples": sens.samples, "base": sens.base,
                           "noise": sens.noise}
    for m, rows in sens.rows.items():
        out[m] = [{k: r[k] for k in ("assumption", "low", "high", "metric_low", "metric_high",
                                     "beyond_noise")} for r in rows]
    return out


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


def _write_json(doc: dict[str, Any], out: Path) -> dict[str, Any]:
    clean: dict[str, Any] = _clean(doc)
    (out / "results.json").write_text(json.dumps(clean, indent=2, default=_json_default),
                                      encoding="utf-8")
    return clean


def write_plan_report(scen: Scenario, results: Sequence[VariantResult], out_dir: str | Path,
                      sensitivity: Sensitivity | None = None,
                      extra: dict[str, Any] | None = None, *, marking: str = "PUBLIC",
                      sensitivity_skipped: str | None = None) -> Path:
    """results.json, the figures and index.html in ``out_dir``. ``sensitivity`` adds the
    tornado charts; ``extra`` adds keys to results.json (orbit moves, for instance);
    ``marking`` is the banner: the most restrictive marking of what went in (PUBLIC for a
    shipped scenario; a threat drawn from the store's violations carries theirs);
    ``sensitivity_skipped`` says why an analysis that was asked for did not run."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = _write_json({"marking": marking,
                       **results_document(scen, results, sensitivity, extra),
                       "sensitivity_skipped": sensitivity_skipped}, out)
    maps = {r.name: plots.plot_map(scen, r, out / f"map_{r.name}.png") for r in results}
    response = plots.plot_response(results, out / "response_cdf.png")
    raids = plots.plot_raids(results, out / "raids.png")
    base = _baseline(scen, results)
    breach = plots.plot_breach(base, out / "breach.png") if base else ""
    isr = plots.plot_isr(results, out / "isr.png")
    tornado = {}
    if sensitivity is not None:
        tornado = {m: plots.plot_tornado(sensitivity.rows[m], sensitivity.base[m], m,
                                         out / f"tornado_{m}.png") for m in HEADLINE}
    html = _env().get_template("planning.html.j2").render(
        scenario=scen, results=results, doc=doc, maps=maps, response=response, raids=raids,
        breach=breach, isr=isr, tornado=tornado, sens=sensitivity, metrics=METRICS,
        headline=HEADLINE, extra=extra or {}, why=doc["unchanged"],
        skipped=sensitivity_skipped, pools=pool_rows(results),
        baseline=_baseline(scen, results),
        raid_groups=alike(results, lambda r: tuple(
            round(d["defeated_share"]["value"], 3) for d in r.metrics["raids"])),
        unit_rows=unit_rows(results),
        satellites_in_time=any(
            (r.metrics["layers"]["monitoring"]["satellites"] or {}).get(
                "within_detection_time", {}).get("in_force", {}).get("all", {}).get(
                "combined", 0.0) > 0 for r in results),
        campaign_groups=alike(results, lambda r: tuple(
            round(d["value"], 3) for d in r.metrics["campaign"]["by_raid"])))
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def write_compare_report(scen: Scenario, results: Sequence[VariantResult], out_dir: str | Path,
                         *, marking: str = "PUBLIC") -> Path:
    """The variants side by side and the gap each leaves: one table, one plot, results.json;
    ``marking`` is the banner (see ``write_plan_report``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"marking": marking, **results_document(scen, results)}
    doc["comparison"] = {r.name: {"gaps": r.gaps, **{k: r.metrics[k] for k in KEYS}}
                         for r in results}
    _write_json(doc, out)
    gap_png = plots.plot_gaps(results, UNITS, out / "gaps.png")
    roles = sorted({c for r in results for c in r.gaps})
    html = _env().get_template("planning_compare.html.j2").render(
        scenario=scen, results=results, roles=roles, units=UNITS, columns=COMPARE_COLUMNS,
        metrics=METRICS, gap_png=gap_png, doc=doc, why=doc["unchanged"])
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def _baseline(scen: Scenario, results: Sequence[VariantResult]) -> VariantResult | None:
    """The baseline variant's result (or the first one run)."""
    return next((r for r in results if r.name == scen.baseline), results[0] if results else None)


def alike(results: Sequence[VariantResult], key: Any) -> list[dict[str, Any]]:
    """Variants whose figures ``key(result)`` are the same, once: ``{name, result}`` with
    the names joined by ' = '."""
    groups: dict[Any, list[VariantResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return [{"name": " = ".join(m.name for m in ms), "result": ms[0]} for ms in groups.values()]


def unit_rows(results: Sequence[VariantResult]) -> list[dict[str, Any]]:
    """The pledged fire-unit groups (not Ukraine's), each distinct one once, with the
    variants that have it."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in results:
        for g in r.metrics["layers"]["air_defence"]["fire_unit_groups"]:
            if g["layer"] == "ukraine":
                continue
            key = (g["layer"], g["group"], round(g["fire_units"], 6))
            rows.setdefault(key, {**g, "variants": []})["variants"].append(r.name)
    for g in rows.values():
        g["in"] = ("every variant" if len(g["variants"]) == len(results)
                   else ", ".join(g["variants"]))
    return list(rows.values())


def pool_rows(results: Sequence[VariantResult]) -> list[dict[str, Any]]:
    """The force pools of every variant, each distinct row once, with the variants that
    have it ('every variant' when all do)."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in results:
        for p in r.metrics.get("force_pools") or []:
            key = (p["nation"], p["role"], p["deployed"])
            rows.setdefault(key, {**p, "variants": []})["variants"].append(r.name)
    out = sorted(rows.values(), key=lambda p: (p["role"], p["nation"], p["deployed"]))
    for p in out:
        p["in"] = ("every variant" if len(p["variants"]) == len(results)
                   else ", ".join(p["variants"]))
    return out


def summary_line(r: VariantResult) -> str:
    """One line of a variant's headline figures, each with its 95% interval, for the
    terminal."""
    m = r.metrics

    def pct(k: str) -> str:
        if m[k] is None:
            return "n/a"
        iv = m["intervals"][k]
        if iv["low"] is None:
            return f"{m[k]:.0%}"
        return f"{m[k]:.0%} ({iv['low']:.0%}-{iv['high']:.0%})"

    return (f"{r.name}: line watched {pct('line_isr_cover_share')}, detected in time "
            f"{pct('detection_probability')}, breach contained in 72 h "
            f"{pct('breach_contained_72h_share')}, air threats met by fighters "
            f"{pct('air_intercept_share')}, largest raid defeated "
            f"{pct('raid_largest_defeated_share')}, last raid of a campaign "
            f"{pct('raid_campaign_last_defeated_share')}")
