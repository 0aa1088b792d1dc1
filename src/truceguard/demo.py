"""The demo: the whole chain on the real data shipped with the package.

One function, ``run_demo``, behind ``truceguard demo``; each step is the same core function the
individual commands call: import the UCDP events of the Minsk era, fuse them into incidents,
judge them against the Minsk terms, write the violations report for the ceasefire period, and
plan the 2026 reassurance force (the Paris declaration) with all its variants and the
assumptions that drive each answer.

The demo works in a database of its own, ``demo.db`` in its output folder
(:func:`demo_database`), so that it never mixes its data with the user's: it never opens
``./truceguard.db`` or ``$TRUCEGUARD_DB``. A database named explicitly is used only when it
does not exist yet; an existing one is refused, since the demo would import into it and
report the user's rows with its own. A ``demo.db`` left by an earlier demo in the same folder
(one that also holds the demo's report) is replaced; any other ``demo.db`` is refused.

``progress(step, done, total)`` (as in :mod:`truceguard.plan.sweep`) names each step: the
four steps of the violations chain, every planning run, and the planning report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from truceguard.errors import InputError
from truceguard.geo.shipped import data_path
from truceguard.ingest import import_file
from truceguard.judge.grading import report_threshold
from truceguard.judge.terms import load_terms
from truceguard.model import IngestSummary, Viewer
from truceguard.pipeline import AdjudicationSummary, FusionSummary, adjudicate_store, fuse_store
from truceguard.store import ObservationFilter, ViolationFilter, is_url, open_store

if TYPE_CHECKING:
    from truceguard.plan.sweep import Progress

SHIPPED_EVENTS = ("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
TERMS = "minsk-2015"
CEASEFIRE = ("2015-02-15", "2022-02-23")
SCENARIO = "reassurance-2026"
DEMO_DB = "demo.db"
DEMO_RAID_REPLICATIONS = 8  # per sensitivity run; the noise it leaves is shown beside each swing
REPORT = f"violations-{TERMS}.html"
CHAIN = ("import the UCDP events", "fuse them into incidents", f"judge them against {TERMS}",
         "write the violations report")
SIDECARS = ("", "-wal", "-shm", "-journal")


def demo_database(out_dir: str | Path, db: str | Path | None = None) -> Path:
    """Where the demo keeps its data: ``db`` if given and not there yet, else ``demo.db``
    in ``out_dir`` (an earlier demo's is removed first); refused otherwise (module
    docstring). Never ``./truceguard.db`` or ``$TRUCEGUARD_DB`` unless named as ``db``."""
    out = Path(out_dir)
    if db is not None:
        if is_url(db):
            raise InputError(f"--db {str(db)!r} is a database server: the demo imports "
                             "into a new database file of its own",
                             hint=f"leave --db out (the demo then uses {out / DEMO_DB})",
                             code="demo.db_not_new")
        path = Path(db)
        if path.exists():
            raise InputError(f"--db {str(db)!r} already exists: the demo would import into it "
                             "and report its rows with the demo's",
                             hint=f"leave --db out (the demo then uses {out / DEMO_DB}), or "
                                  "name a file that does not exist yet",
                             code="demo.db_exists")
        return path
    path = out / DEMO_DB
    if path.exists():
        if not (out / REPORT).exists():
            raise InputError(f"{str(path)!r} exists and is not an earlier demo's (no {REPORT} "
                             "beside it)", hint="give the demo a new folder: -o FOLDER",
                             code="demo.db_exists")
        for suffix in SIDECARS:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


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
    db: str | Path | None = None,
    out_dir: str | Path = "truceguard-demo",
    *,
    samples: int = 5_000,
    seed: int = 2025,
    say: Callable[[str], None] = lambda _: None,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the chain into the demo's own database (:func:`demo_database`: ``db`` only if it
    does not exist yet) and write the reports under ``out_dir``."""
    from truceguard.plan.scenario import load_scenario
    from truceguard.plan.sweep import plan_steps, run_plan
    from truceguard.report.period import build_period_report, write_html
    from truceguard.report.planning import summary_line, write_plan_report

    out = Path(out_dir)
    db = demo_database(out, db)
    scen = load_scenario(SCENARIO)
    total = len(CHAIN) + plan_steps(scen) + 1

    def step(i: int, name: str) -> None:
        if progress:
            progress(name, i, total)

    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(db=str(db), out_dir=str(out))
    say(f"demo:   working in its own database {db} (not ./truceguard.db or $TRUCEGUARD_DB)")
    with open_store(db) as store:
        path = data_path(*SHIPPED_EVENTS)
        step(0, CHAIN[0])
        summary = import_file(store, path, fmt="ucdp")
        result.imports.append(summary)
        result.stored = store.count_observations(ObservationFilter(), Viewer.owner())
        say(f"see:    {path.name}: {summary.line}; {result.stored} observations stored in {db}")
        step(1, CHAIN[1])
        result.fusion = f = fuse_store(store)
        say(f"judge:  {f.observations} observations fused into {f.incidents} incidents (UCDP's "
            "events are already deduplicated by its curators: they never fuse with each other)")
        step(2, CHAIN[2])
        terms = load_terms(TERMS)
        result.adjudication = a = adjudicate_store(store, terms)
        threshold = report_threshold()
        judged = store.violations(ViolationFilter(terms=TERMS), Viewer.owner())
        vague = sum(v.p_location < threshold for v in judged)
        say(f"judge:  {a.violations} violations of {a.terms} version {a.terms_version}: "
            f"{a.violations - vague} located surely enough to count (p_location >= "
            f"{threshold:g}), {vague} too imprecise to judge")
        step(3, CHAIN[3])
        report = build_period_report(store, TERMS, "year", CEASEFIRE[0], CEASEFIRE[1],
                                     Viewer.owner())
        result.report = str(write_html(report, out / REPORT))
        say(f"report: {result.report}")

    def planning(name: str, done: int, _total: int) -> None:
        step(len(CHAIN) + done, f"plan: {name}")

    run = run_plan(scen, None, samples, seed, sensitivity_samples=min(samples, 1000),
                   sensitivity_raid_replications=DEMO_RAID_REPLICATIONS,
                   progress=planning if progress else None)
    step(total - 1, "write the planning report")
    result.plan_report = str(write_plan_report(run.scenario, run.results, out / f"plan-{SCENARIO}",
                                               run.sensitivity, run.extra))
    for r in run.results:
        result.plan_metrics[r.name] = {k: float(v) for k, v in r.metrics.items()
                                       if isinstance(v, int | float)}
        say(f"plan:   {summary_line(r)}")
    if run.sensitivity is not None:
        for k in ("line_isr_cover_share", "breach_contained_72h_share",
                  "air_intercept_share", "raid_largest_defeated_share"):
            d = run.sensitivity.driver(k)
            if d:
                say(f"plan:   {k} is moved most by {d['assumption']} ({d['metric_low']:.0%} to "
                    f"{d['metric_high']:.0%})")
    say(f"plan:   {result.plan_report}")
    step(total, "done")
    return result
