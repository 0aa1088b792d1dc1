"""The demo: the whole chain on the real data shipped with the package.

One function, ``run_demo``, behind ``truceguard demo``; each step is the same core function the
individual commands call: import the UCDP events of the Minsk era, fuse them into incidents,
judge them against the Minsk terms, write the violations report for the ceasefire period, and
plan the 2026 reassurance force (the Paris declaration) with all its variants and the
assumptions that drive each answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from truceguard.geo.shipped import data_path
from truceguard.ingest import import_file
from truceguard.judge.grading import report_threshold
from truceguard.judge.terms import load_terms
from truceguard.model import IngestSummary, Viewer
from truceguard.pipeline import AdjudicationSummary, FusionSummary, adjudicate_store, fuse_store
from truceguard.store import ObservationFilter, ViolationFilter, open_store

SHIPPED_EVENTS = ("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
TERMS = "minsk-2015"
CEASEFIRE = ("2015-02-15", "2022-02-23")
SCENARIO = "reassurance-2026"


@dataclass
class DemoResult:
    db: str
    out_dir: str
    imports: list[IngestSummary] = field(default_factory=list)
    stored: int = 0
    fusion: FusionSummary | None = None
    adjudication: AdjudicationSummary | None = None
    report: str = ""
    plan_report: str = ""
    plan_metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def run_demo(
    db: str | Path,
    out_dir: str | Path = "truceguard-demo",
    *,
    samples: int = 5_000,
    seed: int = 2025,
    say: Callable[[str], None] = lambda _: None,
) -> DemoResult:
    """Run the chain into ``db`` and write the reports under ``out_dir``."""
    from truceguard.plan.sweep import run_plan
    from truceguard.report.period import build_period_report, write_html
    from truceguard.report.planning import summary_line, write_plan_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(db=str(db), out_dir=str(out))
    with open_store(db) as store:
        path = data_path(*SHIPPED_EVENTS)
        summary = import_file(store, path, fmt="ucdp")
        result.imports.append(summary)
        result.stored = store.count_observations(ObservationFilter(), Viewer.owner())
        say(f"see:    {path.name}: {summary.line}; {result.stored} observations stored in {db}")
        result.fusion = f = fuse_store(store)
        say(f"judge:  {f.observations} observations fused into {f.incidents} incidents (UCDP's "
            "events are already deduplicated by its curators: they never fuse with each other)")
        terms = load_terms(TERMS)
        result.adjudication = a = adjudicate_store(store, terms)
        threshold = report_threshold()
        judged = store.violations(ViolationFilter(terms=TERMS), Viewer.owner())
        vague = sum(v.p_location < threshold for v in judged)
        say(f"judge:  {a.violations} violations of {a.terms} version {a.terms_version}: "
            f"{a.violations - vague} located surely enough to count (p_location >= "
            f"{threshold:g}), {vague} too imprecise to judge")
        report = build_period_report(store, TERMS, "year", CEASEFIRE[0], CEASEFIRE[1],
                                     Viewer.owner())
        result.report = str(write_html(report, out / "violations-minsk-2015.html"))
        say(f"report: {result.report}")
    run = run_plan(SCENARIO, None, samples, seed, sensitivity_samples=min(samples, 1000))
    result.plan_report = str(write_plan_report(run.scenario, run.results, out / f"plan-{SCENARIO}",
                                               run.sensitivity, run.extra))
    for r in run.results:
        result.plan_metrics[r.name] = {k: float(v) for k, v in r.metrics.items()
                                       if isinstance(v, int | float)}
        say(f"plan:   {summary_line(r)}")
    if run.sensitivity is not None:
        for k in ("line_isr_cover_share", "air_intercept_share"):
            d = run.sensitivity.driver(k)
            if d:
                say(f"plan:   {k} is moved most by {d['assumption']} ({d['metric_low']:.0%} to "
                    f"{d['metric_high']:.0%})")
    say(f"plan:   {result.plan_report}")
    return result
