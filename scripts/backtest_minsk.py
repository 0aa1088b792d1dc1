"""The backtest on a real ceasefire: the shipped UCDP events of 2015-2022 against Minsk II.

    python scripts/backtest_minsk.py [-o docs/backtest-minsk.md]

Runs the whole chain (import, fuse, adjudicate against ``minsk-2015``, period reports) on a
temporary store and writes the page with its figures beside those the OSCE Special Monitoring
Mission (SMM) and the UN human rights office (OHCHR) published. The chain runs twice: as it
is (UCDP a curated source whose events never fuse with each other) and with the UCDP rows
imported as not curated (the self-fusion of earlier versions), so the page shows what that
change does to the counts. Every UCDP figure on the page comes from running the chain; the
SMM and OHCHR figures are the published ones, each with the public report it was read in
(``SMM_*`` and ``OHCHR_*`` below). The figure is written next to the page
(``backtest-minsk.png``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import beta, gamma

from truceguard.geo.shipped import data_path
from truceguard.ingest import import_file
from truceguard.judge.grading import report_threshold
from truceguard.judge.terms import OPT_IN_CATEGORIES, Terms, load_terms
from truceguard.model import Observation, Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.report.period import PeriodReport, build_period_report
from truceguard.store import ObservationFilter, Store, open_store

TERMS = "minsk-2015"
EVENTS = ("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
FIRST, LAST = "2015-02-15", "2022-02-23"  # the ceasefire's first day; the data's last
MEASURES = "2020-07-27"  # the additional measures to strengthen the ceasefire
BEFORE = ("2020-01-01", "2020-07-26")
AFTER = ("2020-07-27", "2020-12-31")
PNG_NAME = "backtest-minsk.png"
DAY_S = 86_400


@dataclass(frozen=True)
class Cited:
    """Where a published figure was read: the outlet, its address, the day it was published
    (as the page gives it) and the document of the SMM or OHCHR it reports."""

    outlet: str
    url: str
    published: str
    reports: str


KYIV_POST = Cited(
    "Kyiv Post", "https://www.kyivpost.com/post/9363", "2021-02-15",
    "the SMM's annual report for 2020 (299,633 violations in 2019, 134,767 in 2020, -55%; "
    "daily 623 before and 33 after 27 July 2020; 76% near four hotspots)")

@dataclass(frozen=True)
class SmmCount:
    """The SMM's ceasefire violations and explosions; ``about``: the report rounds them."""

    first: str
    last: str  # the SMM's counts run to 19:30 (Kyiv) of this day
    violations: int
    explosions: int
    about: bool
    cited: Cited

    @property
    def days(self) -> int:
        return (date.fromisoformat(self.last) - date.fromisoformat(self.first)).days + 1


# Two weeks each before the measures (the SMM's biweekly status report of 18 May 2020).
SMM_MAY_2020 = Cited(
    "Censor.NET", "https://censor.net/en/news/3197788/"
    "smm_reports_increase_in_ceasefire_violations_in_donbas_over_period_of_may_417",
    "2020-05-25", "the SMM's status report of 18 May 2020")
SMM_BEFORE = (
    SmmCount("2020-04-20", "2020-05-03", 9_800, 2_750, True, SMM_MAY_2020),
    SmmCount("2020-05-04", "2020-05-17", 10_500, 2_000, True, SMM_MAY_2020),
)
# "At least" so many since 00:01 on 27 July 2020, as each daily report totals them.
SMM_SINCE_MEASURES = (
    SmmCount(MEASURES, "2020-12-28", 4_960, 2_080, False, Cited(
        "Censor.NET, citing Ukrinform",
        "https://censor.net/en/news/3239792/osce_records_over_300_ceasefire_violations_in_donbas",
        "2020-12-30", "the SMM's daily report of 29 December 2020")),
    SmmCount(MEASURES, "2021-01-17", 6_294, 2_660, False, Cited(
        "UNIAN", "https://www.unian.info/war/"
        "osce-smm-records-91-ceasefire-violations-in-donbas-over-weekend-11289578.html",
        "2021-01-19", "the SMM's daily report of 18 January 2021")),
    SmmCount(MEASURES, "2021-07-04", 41_274, 12_495, False, Cited(
        "Censor.NET", "https://censor.net/en/news/3275284/"
        "osce_recorded_over_330_ceasefire_violations_in_eastern_ukraine_over_weekend",
        "2021-07-06", "the SMM's daily report on 2-4 July 2021")),
)
SMM_2019 = 299_633
SMM_2020 = 134_767
SMM_CHANGE_PCT = -55
SMM_DAILY_BEFORE = 623
SMM_DAILY_AFTER = 33
SMM_TOP4_PCT = 76


@dataclass(frozen=True)
class OhchrCount:
    """Conflict-related civilian casualties OHCHR recorded in the conflict area."""

    first: str
    last: str
    killed: float
    injured: str  # as published (text: some reports differ, some give a monthly average)
    cited: Cited
    note: str = ""


_UN_Q1_2021 = Cited(
    "UN in Ukraine", "https://ukraine.un.org/index.php/en/"
    "125294-conflict-related-civilian-casualties-ukraine-31-march-2021", "",
    "OHCHR, Conflict-related civilian casualties in Ukraine as of 31 March 2021")
OHCHR = (
    OhchrCount("2017-05-16", "2017-08-15", 26, "135", Cited(
        "Interfax", "https://interfax.com/newsroom/top-stories/26818/", "2017-09-12",
        "OHCHR's 19th report on Ukraine"),
        "Interfax gives the period as 15 May-16 August; OHCHR's reports run from the 16th "
        "to the 15th"),
    OhchrCount("2017-08-16", "2017-11-15", 15, "72", Cited(
        "QHA", "https://old.qha.com.ua/en/war-defence/"
        "un-named-number-of-civilian-casualties-in-donbas/142324/", "",
        "OHCHR's 20th report on Ukraine")),
    OhchrCount("2018-02-16", "2018-05-15", 19, "62", Cited(
        "Ukrinform (German)", "https://www.ukrinform.de/amp/rubric-emergencies/"
        "2484116-uno-19-zivilisten-in-drei-monaten-im-donbass-getotet.html", "",
        "OHCHR's 22nd report on Ukraine")),
    OhchrCount("2018-05-16", "2018-08-15", 12, "93", Cited(
        "Pakistan Point (Sputnik)", "https://www.pakistanpoint.com/en/story/436022/"
        "dozen-civilians-killed-93-injured-in-donbas-from-may-1.html", "2018-09-19",
        "the head of OHCHR's monitoring mission in Ukraine at a briefing")),
    OhchrCount("2018-01-01", "2018-12-31", 55, "224 or 244", Cited(
        "Ukrinform (German)", "https://www.ukrinform.de/amp/rubric-emergencies/"
        "2657582-55-zivilisten-starben-2018-in-der-ostukraine-uno.html", "",
        "OHCHR's 25th report on Ukraine"),
        "Ukrinform gives 244 injured, Pravda.rs (2019-01-23, https://pravda.rs/lat/2019/1/23/"
        "zastrasujuce-cifre-ovo-je-broj-poginulih-na-obe-strane-u-donbasu) 224 with the same "
        "55 killed; 224 fits the 214 injured OHCHR gave for 1 January-15 November 2018"),
    OhchrCount("2019-01-01", "2019-11-15", 26, "136", Cited(
        "UATV", "https://eng.uatv.ua/u-n-report-26-civilians-killed-donbas-since-beginning-2019/",
        "2019-12-12", "OHCHR's 28th report on Ukraine")),
    OhchrCount("2019-05-16", "2019-08-15", 8, "60", Cited(
        "Ukrainian News", "https://ukranews.com/en/news/"
        "654223-8-civilians-killed-60-wounded-in-donbas-in-may-august-2019-un-mission",
        "2019-09-17", "OHCHR's report on Ukraine for 16 May-15 August 2019")),
    OhchrCount("2019-08-16", "2019-11-15", 6, "36", Cited(
        "ReliefWeb", "https://reliefweb.int/report/ukraine/"
        "human-rights-situation-ukraine-16-august-15-november-2019-ahrc43crp-5", "2020-06-19",
        "OHCHR's 28th report on Ukraine (A/HRC/43/CRP.5)")),
    OhchrCount("2019-01-01", "2019-12-31", 2.3 * 12, "11.7 a month", Cited(
        "ReliefWeb", "https://reliefweb.int/report/ukraine/conflict-related-civilian-casualties-"
        "ukraine", "2020-03-18", "OHCHR, Conflict-related civilian casualties in Ukraine"),
        "published as an average of 2.3 killed and 11.7 injured a month; 12 x 2.3 = 27.6"),
    OhchrCount("2020-01-01", "2020-03-31", 6, "40", _UN_Q1_2021),
    OhchrCount("2020-10-01", "2020-12-31", 5, "17", _UN_Q1_2021),
    OhchrCount("2021-01-01", "2021-03-31", 7, "10", _UN_Q1_2021),
    OhchrCount("2021-02-01", "2021-07-31", 15, "47", Cited(
        "Interfax-Ukraine", "https://en.interfax.com.ua/news/general/769609.html", "2021-09-23",
        "OHCHR's report on Ukraine for 1 February-31 July 2021")),
    OhchrCount("2021-01-01", "2021-12-31", 25, "85", Cited(
        "Scribd (copy of the OHCHR document)", "https://www.scribd.com/document/597490617/Document",
        "", "OHCHR, Conflict-related civilian casualties in Ukraine, 27 January 2022"),
        "published as 110 casualties, 25 of them killed; 110 - 25 = 85 injured"),
)
NOT_VERIFIED = (
    "the SMM's yearly counts of explosions (2015-2021): no public summary of them was found, so "
    "explosions are compared only in the windows of 2020-2021 above",
    "the date of publication of the pages shown as undated (the stored copies carry none)",
    "OHCHR's yearly civilian casualties for 2015, 2016, 2017 and 2020 (the page uses the "
    "published windows of those years instead) and its exact count for 2019 (published as a "
    "monthly average)",
    "the addresses and dates are those of the public summaries named; the SMM's and OHCHR's "
    "own documents were not read",
)


@dataclass(frozen=True)
class Window:
    """One stretch of days: the violations counted at the threshold, the UCDP events behind
    them and their deaths (UCDP best) and civilian deaths, those too imprecise to judge, and
    every UCDP event of the stretch with its civilian deaths (counted or not)."""

    label: str
    first: str
    last: str
    days: int
    violations: int
    events: int
    deaths: int
    civilians: int = 0
    imprecise: int = 0
    all_events: int = 0
    all_civilians: int = 0
    apart: int = 0  # events that are no violation by default (lower clarity, mines/ERW)
    ohchr_cited: int = 0  # events that name OHCHR among their sources
    civilians_not_ohchr: int = 0  # civilian deaths of the events that do not

    def per_day(self, what: str) -> float:
        return float(getattr(self, what)) / self.days


@dataclass(frozen=True)
class FusionYear:
    """One year's UCDP events and violations, with the self-fusion of earlier versions and
    now (UCDP curated): those counted at the threshold and those too imprecise."""

    label: str
    events: int
    old_violations: int
    old_imprecise: int
    violations: int
    imprecise: int
    apart: int = 0  # events that are no violation by default (lower clarity, mines/ERW)


@dataclass
class Backtest:
    """Everything the page shows, from one run of the chain."""

    file_name: str
    file_sha256: str
    imported: int
    incidents: int
    violations_all: int
    events_in_range: int
    min_p: float = 0.5
    by_clause: dict[str, int] = field(default_factory=dict)
    old_incidents: int = 0
    old_violations_all: int = 0
    years: list[Window] = field(default_factory=list)
    fusion: list[FusionYear] = field(default_factory=list)
    months: dict[str, int] = field(default_factory=dict)  # "2015-02" -> violations
    month_events: dict[str, int] = field(default_factory=dict)
    old_months: dict[str, int] = field(default_factory=dict)
    total: Window | None = None
    y2019: Window | None = None
    y2020: Window | None = None
    before: Window | None = None
    after: Window | None = None
    smm_before: list[Window] = field(default_factory=list)  # one per SMM_BEFORE
    smm_since: list[Window] = field(default_factory=list)  # one per SMM_SINCE_MEASURES
    ohchr: list[Window] = field(default_factory=list)  # one per OHCHR
    imprecise: list[tuple[str, str, str, float]] = field(default_factory=list)  # day, place, wp, p
    hotspots: list[tuple[str, int, float]] = field(default_factory=list)
    top4_share_2020: float = 0.0  # of 2020's violations, at its four busiest settlements


def pct(now: float, before: float) -> float:
    return 100.0 * (now - before) / before


def rate_ratio_interval(n_after: float, days_after: float, n_before: float, days_before: float,
                        level: float = 0.95) -> tuple[float, float]:
    """Exact (conditional binomial, Clopper-Pearson) interval for a ratio of Poisson rates
    (counts per unit of exposure: days, or explosions)."""
    n = n_after + n_before
    a = (1 - level) / 2
    lo = beta.ppf(a, n_after, n_before + 1) if n_after > 0 else 0.0
    hi = beta.ppf(1 - a, n_after + 1, n_before) if n_before > 0 else float("inf")
    scale = days_before / days_after
    to_ratio = (lambda p: p / (1 - p) * scale) if n else (lambda p: float("nan"))
    return float(to_ratio(lo)), float(to_ratio(hi))


def poisson_interval(n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for the mean of a Poisson count ``n``."""
    a = (1 - level) / 2
    return (float(gamma.ppf(a, n)) if n > 0 else 0.0, float(gamma.ppf(1 - a, n + 1)))


def _epoch(day: str) -> int:
    return (date.fromisoformat(day) - date(1970, 1, 1)).days * DAY_S


# A UCDP event that names OHCHR among its sources is not independent of OHCHR's series.
OHCHR_CITED = re.compile(r"OHCHR|HRMMU|UN human rights|United Nations human rights", re.I)
OHCHR_CITED_COLUMNS = ("source_office", "source_original")


class _Chain:
    """A judged store and what the page reads from it."""

    def __init__(self, store: Store, terms: Terms, header: list[str]) -> None:
        self.store, self.terms, self.header = store, terms, header

    def civilians(self, obs: list[Observation]) -> int:
        """UCDP's civilian deaths (``deaths_civilians``) of observations, from their raw rows."""
        col = self.header.index("deaths_civilians")
        return sum(int(next(csv.reader(io.StringIO(o.raw)))[col] or 0) for o in obs)

    def report(self, period: str, first: str, last: str, *, trail: bool = True) -> PeriodReport:
        return build_period_report(self.store, self.terms, period, first, last, hotspots=5,
                                   trail=trail)

    def cites_ohchr(self, o: Observation) -> bool:
        """Whether a UCDP event names OHCHR (the UN human rights office or its monitoring
        mission) among its sources (``source_office``, ``source_original``)."""
        row = next(csv.reader(io.StringIO(o.raw)))
        return any(OHCHR_CITED.search(row[self.header.index(c)]) for c in OHCHR_CITED_COLUMNS)

    def window(self, label: str, first: str, last: str) -> Window:
        r = self.report("day", first, last)
        counted = _counted_observations(r)
        every = list(self.store.observations(
            ObservationFilter(since=_epoch(first), until=_epoch(last) + DAY_S - 1),
            Viewer.owner()))
        cited = [o for o in every if self.cites_ohchr(o)]
        return Window(label, r.first_date, r.last_date, r.days, r.total.now, r.observations,
                      _deaths(counted), self.civilians(counted), len(r.imprecise), len(every),
                      self.civilians(every), sum(r.apart.values()), len(cited),
                      self.civilians(every) - self.civilians(cited))


def _counted_observations(report: PeriodReport, vids: tuple[int, ...] | None = None
                          ) -> list[Observation]:
    """The observations behind the counted violations (of ``vids`` when given), once each."""
    keep = None if vids is None else set(vids)
    incs = {v.incident_id for v in report.violations
            if keep is None or v.violation_id in keep}
    return [o for i in incs for o in report.observations_by_incident.get(i, [])]


def _deaths(obs: list[Observation]) -> int:
    return sum(int(o.attributes.get("best") or 0) for o in obs)


def _iso_day(t: int) -> str:
    return date.fromordinal(date(1970, 1, 1).toordinal() + t // DAY_S).isoformat()


def outermost(counts: tuple[OhchrCount, ...]) -> list[int]:
    """The indexes of the windows that no other window holds: OHCHR's windows that do not
    overlap, to pool."""
    return [i for i, c in enumerate(counts)
            if not any(j != i and o.first <= c.first and c.last <= o.last
                       for j, o in enumerate(counts))]


def _judge(store: Store, path: Path, terms: Terms, *, curated: bool | None
           ) -> tuple[int, int, int, dict[str, int]]:
    imp = import_file(store, path, fmt="ucdp", curated=curated)
    fused = fuse_store(store, full=True)
    judged = adjudicate_store(store, terms)
    return imp.imported, fused.incidents, judged.violations, judged.by_clause


def _old_self_fusion(path: Path, terms: Terms, db: Path) -> tuple[int, int, PeriodReport,
                                                                  PeriodReport]:
    """The chain with the UCDP rows imported as not curated: the self-fusion of earlier
    versions. Its incidents, violations, and year and month reports."""
    db.unlink(missing_ok=True)
    with open_store(db) as store:
        _, incidents, violations, _ = _judge(store, path, terms, curated=False)
        chain = _Chain(store, terms, [])
        return (incidents, violations, chain.report("year", FIRST, LAST, trail=False),
                chain.report("month", FIRST, LAST, trail=False))


def _fusion_years(store: Store, now: PeriodReport, old: PeriodReport) -> list[FusionYear]:
    imp_now, imp_old = (Counter(_iso_day(v.t_start)[:4] for v in r.imprecise) for r in (now, old))
    old_count = {bk.label: bk.count for bk in old.buckets}
    rows = []
    for bk in now.buckets:
        events = store.count_observations(
            ObservationFilter(since=bk.start, until=bk.end - 1), Viewer.owner())
        apart = store.count_observations(
            ObservationFilter(since=bk.start, until=bk.end - 1, categories=OPT_IN_CATEGORIES),
            Viewer.owner())
        rows.append(FusionYear(bk.label, events, old_count.get(bk.label, 0),
                               imp_old.get(bk.label, 0), bk.count, imp_now.get(bk.label, 0),
                               apart))
    return rows


def run_backtest(workdir: str | Path | None = None) -> Backtest:
    """Import the shipped UCDP events, fuse, adjudicate against minsk-2015 and count; again
    with the UCDP rows not curated, for the change that curation makes."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(workdir or tmp)
        db = base / "backtest-minsk.db"
        db.unlink(missing_ok=True)
        path = data_path(*EVENTS)
        header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8").split("\n", 1)[0])))
        terms = load_terms(TERMS)
        old_incidents, old_violations, old_years, old_months = _old_self_fusion(
            path, terms, base / "backtest-minsk-self-fused.db")
        with open_store(db) as store:
            imported, incidents, violations, by_clause = _judge(store, path, terms, curated=None)
            chain = _Chain(store, terms, header)
            events_in_range = store.count_observations(
                ObservationFilter(since=_epoch(FIRST), until=_epoch(LAST) + DAY_S - 1),
                Viewer.owner())
            by_year = chain.report("year", FIRST, LAST)
            by_month = chain.report("month", FIRST, LAST)
            out = Backtest(
                file_name=path.name,
                file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                imported=imported, incidents=incidents, violations_all=violations,
                events_in_range=events_in_range, min_p=report_threshold(),
                by_clause=dict(sorted(by_clause.items())), old_incidents=old_incidents,
                old_violations_all=old_violations,
            )
            out.total = chain.window("15 Feb 2015 - 23 Feb 2022", FIRST, LAST)
            for bk in by_year.buckets:
                obs = _counted_observations(by_year, bk.violation_ids)
                out.years.append(Window(
                    bk.label, bk.label, bk.label, round(bk.days), bk.count, bk.observations,
                    _deaths(obs), chain.civilians(obs)))
            out.fusion = _fusion_years(store, by_year, old_years)
            out.months = {bk.label: bk.count for bk in by_month.buckets}
            out.month_events = {bk.label: bk.observations for bk in by_month.buckets}
            out.old_months = {bk.label: bk.count for bk in old_months.buckets}
            out.y2019 = chain.window("2019", "2019-01-01", "2019-12-31")
            out.y2020 = chain.window("2020", "2020-01-01", "2020-12-31")
            r2020 = chain.report("year", "2020-01-01", "2020-12-31")
            out.top4_share_2020 = r2020.hotspots[min(3, len(r2020.hotspots) - 1)].cumulative_share
            out.before = chain.window("before the measures", *BEFORE)
            out.after = chain.window("after the measures", *AFTER)
            out.smm_before = [chain.window("SMM", s.first, s.last) for s in SMM_BEFORE]
            out.smm_since = [chain.window("SMM", s.first, s.last) for s in SMM_SINCE_MEASURES]
            out.ohchr = [chain.window("OHCHR", o.first, o.last) for o in OHCHR]
            out.hotspots = [(h.place, h.count, h.share) for h in by_year.hotspots]
            out.imprecise = sorted(
                (_iso_day(v.t_start), v.location_text, ", ".join(sorted({str(
                    o.attributes.get("where_prec")) for o in by_year.observations_by_incident[
                        v.incident_id]})), v.p_location) for v in by_year.imprecise)
    return out


@dataclass(frozen=True)
class ExplosionRow:
    """UCDP events beside the SMM's explosions over one stretch of days."""

    label: str
    days: int
    explosions: int
    violations: int  # the SMM's
    about: bool
    events: int  # UCDP events behind counted violations

    def per_1000(self) -> tuple[float, float, float]:
        lo, hi = poisson_interval(self.events)
        k = 1000.0 / self.explosions
        return self.events * k, lo * k, hi * k


def explosion_rows(bt: Backtest) -> list[ExplosionRow]:
    """The two weeks before the measures as one stretch, then the stretches between the SMM's
    running totals since 27 July 2020 (each total minus the one before)."""
    b = SMM_BEFORE
    rows = [ExplosionRow(f"{_d(b[0].first)} - {_d(b[-1].last)} (before)",
                         sum(s.days for s in b), sum(s.explosions for s in b),
                         sum(s.violations for s in b), True, sum(w.events for w in bt.smm_before))]
    start, days, explosions, violations, events = MEASURES, 0, 0, 0, 0
    for s, w in zip(SMM_SINCE_MEASURES, bt.smm_since, strict=True):
        rows.append(ExplosionRow(f"{_d(start)} - {_d(s.last)}", s.days - days,
                                 s.explosions - explosions, s.violations - violations, False,
                                 w.events - events))
        start = (date.fromisoformat(s.last) + timedelta(days=1)).isoformat()
        days, explosions, violations, events = s.days, s.explosions, s.violations, w.events
    return rows


def _d(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.day} {d:%b %Y}"


def plot(bt: Backtest, path: Path) -> None:
    """Per month: UCDP events, violations now and with the old self-fusion; per day in the
    SMM's windows: its explosions and UCDP's events (log scale)."""
    fig = Figure(figsize=(9.5, 6.4))
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2], "hspace": 0.45})
    labels = list(bt.months)
    x = list(range(len(labels)))
    ax.bar(x, [bt.month_events[m] for m in labels], color="#e6b0aa", label="UCDP events")
    ax.bar(x, [bt.months[m] for m in labels], color="#b03a2e", width=0.5,
           label=f"violations now (p_location >= {bt.min_p:g})")
    ax.step(x, [bt.old_months.get(m, 0) for m in labels], where="mid", color="k", lw=0.8,
            label="violations with the old self-fusion")
    at = labels.index(MEASURES[:7])
    ax.axvline(at + 26 / 31 - 0.5, color="k", lw=0.8, ls="--")
    ax.text(at + 0.5, ax.get_ylim()[1] * 0.9, " 27 Jul 2020 measures", fontsize=8)
    ticks = [i for i, m in enumerate(labels) if m.endswith("-01")]
    ax.set_xticks(ticks, [labels[i][:4] for i in ticks])
    ax.set_ylabel("per month")
    ax.set_title("minsk-2015 backtest on UCDP GED, 15 Feb 2015 - 23 Feb 2022", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(axis="y", color="0.9")
    rows = explosion_rows(bt)
    y = list(range(len(rows)))
    bx.barh([i + 0.2 for i in y], [r.explosions / r.days for r in rows], height=0.4,
            color="#5d6d7e", label="SMM explosions per day")
    bx.barh([i - 0.2 for i in y], [r.events / r.days for r in rows], height=0.4,
            color="#b03a2e", label="UCDP events per day")
    bx.set_xscale("log")
    bx.set_xlabel("per day (log scale)", fontsize=8)
    bx.set_yticks(y, [r.label for r in rows], fontsize=8)
    bx.invert_yaxis()
    bx.set_title("Like with like: the SMM's explosions and UCDP's deadly events", fontsize=10)
    bx.legend(fontsize=8, frameon=False, loc="center right")
    bx.grid(axis="x", color="0.9")
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _p(v: float) -> str:
    return f"{v:+.0f}%"


def _cite(c: Cited) -> str:
    when = f", {c.published}" if c.published else ", undated page"
    return f"[{c.outlet}{when}]({c.url})"


def _agreement(bt: Backtest) -> list[str]:
    """The plain-language comparison, worded from the figures themselves."""
    assert bt.y2019 and bt.y2020 and bt.before and bt.after
    smm_year = pct(SMM_2020, SMM_2019)
    smm_daily = pct(SMM_DAILY_AFTER, SMM_DAILY_BEFORE)
    v_year = pct(bt.y2020.violations, bt.y2019.violations)
    v_daily = pct(bt.after.per_day("violations"), bt.before.per_day("violations"))
    lo, hi = rate_ratio_interval(bt.after.violations, bt.after.days,
                                 bt.before.violations, bt.before.days)
    smm_ratio = SMM_DAILY_AFTER / SMM_DAILY_BEFORE
    rows = explosion_rows(bt)
    first, after = rows[0], rows[1]
    ex_ratio = (after.explosions / after.days) / (first.explosions / first.days)
    ev_lo, ev_hi = rate_ratio_interval(after.events, after.explosions,
                                       first.events, first.explosions)
    pool = outermost(OHCHR)
    ucdp_civ = sum(bt.ohchr[i].civilians_not_ohchr for i in pool)
    all_civ = sum(bt.ohchr[i].all_civilians for i in pool)
    cited = sum(bt.ohchr[i].ohchr_cited for i in pool)
    ohchr_killed = sum(OHCHR[i].killed for i in pool)
    c_lo, c_hi = rate_ratio_interval(ucdp_civ, 1, ohchr_killed, 1)
    holds_one = sum(rate_ratio_interval(w.civilians_not_ohchr, 1, c.killed, 1)[0] <= 1
                    <= rate_ratio_interval(w.civilians_not_ohchr, 1, c.killed, 1)[1]
                    for c, w in zip(OHCHR, bt.ohchr, strict=True))
    later = rows[-1]

    def direction(a: float, b: float) -> str:
        return "agree in direction" if (a < 0) == (b < 0) else "disagree even in direction"

    return [
        f"- **2019 to 2020.** The SMM recorded {_p(smm_year)} ceasefire violations; UCDP "
        f"violations changed by {_p(v_year)}: the two {direction(v_year, smm_year)}, but "
        + ("the size is of the same order." if abs(v_year - smm_year) < 15 else
           f"the size differs by {abs(v_year - smm_year):.0f} percentage points."),
        f"- **Before and after 27 July 2020.** The SMM's daily average changed by "
        f"{_p(smm_daily)}; UCDP violations per day by {_p(v_daily)} (rate ratio "
        f"{bt.after.per_day('violations') / bt.before.per_day('violations'):.2f}, 95% interval "
        f"{lo:.2f} to {hi:.2f}; the SMM's {smm_ratio:.2f} is "
        + ("inside it)." if lo <= smm_ratio <= hi else "outside it)."),
        f"- **Explosions, like with like.** After the measures the SMM's explosions per day "
        f"fell to {ex_ratio:.2f} of their level of 20 April-17 May 2020, UCDP's events per "
        f"day to {(after.events / after.days) / (first.events / first.days):.2f}. UCDP events "
        f"per 1,000 SMM explosions went from {first.per_1000()[0]:.1f} to "
        f"{after.per_1000()[0]:.1f} (after/before {after.per_1000()[0] / first.per_1000()[0]:.1f}"
        f", 95% interval {ev_lo:.1f} to {ev_hi:.1f}) and stood at {later.per_1000()[0]:.1f} "
        f"in {later.label}: "
        + ("more deadly events per explosion after the measures than before; explosions "
           "fell much further than deadly events did."
           if ev_lo > 1 else "the same within the interval.")
        + f" The before level rests on {first.days} days and {first.events} UCDP events, so "
        "it is itself uncertain (see its interval in the table).",
        f"- **Civilian deaths, apart from OHCHR.** UCDP counts the deaths of events coded from "
        "the press and other sources, OHCHR the civilians it recorded killed by its own "
        f"method. Over the {len(pool)} OHCHR windows that do not overlap, {cited} UCDP events "
        f"name OHCHR among their sources and carry {all_civ - ucdp_civ} of UCDP's {all_civ} "
        "civilian deaths: they are left out, so that the two series are independent. The "
        f"other UCDP events record {ucdp_civ} civilian deaths against "
        f"{ohchr_killed:g} civilians OHCHR recorded killed: {ucdp_civ / ohchr_killed:.2f} "
        f"(95% interval {c_lo:.2f} to {c_hi:.2f}); in {holds_one} of the {len(OHCHR)} "
        "windows the interval of the ratio holds 1. "
        + ("The deadly events UCDP codes follow the casualties OHCHR counts by its own "
           "method, as they do not follow the SMM's volume of fire. Where UCDP has fewer, "
           "a likely reason (not tested here) is that OHCHR counts victims of mines and "
           "explosive remnants that may not reach the press as conflict events." if c_hi >= 0.5
           else
           "UCDP records far fewer civilian deaths than OHCHR."),
        f"- **Scale.** UCDP holds {_n(bt.y2019.violations)} violations for 2019 against "
        f"{_n(SMM_2019)} SMM ceasefire violations. UCDP keeps only events with at least one "
        "death, and the SMM counted every explosion, burst and flash it saw or heard: the "
        "absolute numbers are not comparable, and the page compares changes and like "
        "series only.",
        f"- **Hotspots.** The SMM reported {SMM_TOP4_PCT}% of 2020's violations near four "
        f"hotspots; in UCDP's 2020 the four busiest areas (named areas, else the rest of an "
        f"oblast; events placed only to an oblast are no hotspot) hold "
        f"{bt.top4_share_2020 * 100:.0f}%.",
        "- **Why they part (likely reasons, not tested here).** Deaths need not follow the "
        "volume of fire: a few shots from a sniper, a mine or unexploded ordnance kill as "
        "surely as a barrage, and OHCHR counts many civilian victims of mines and explosive "
        "remnants. The SMM's patrols and cameras watched chosen places; UCDP codes what the "
        "press reports. A few violations a month leave wide intervals.",
    ]


def _fusion_section(bt: Backtest) -> list[str]:
    old_total = sum(f.old_violations for f in bt.fusion)
    now_total = sum(f.violations for f in bt.fusion)
    ev_total = sum(f.events for f in bt.fusion)
    L = ["## What treating UCDP as curated changes", "",
         "UCDP's coders have already merged the reports of one event into one row, so UCDP is "
         "a curated source: two of its events never fuse with each other (they can still fuse "
         "with other sources' reports). Earlier versions fused UCDP events of the same day "
         "near one another, merging distinct deadly events. Below, the chain run both ways on "
         f"the same file: {_n(bt.old_incidents)} incidents and {_n(bt.old_violations_all)} "
         f"violations with the old self-fusion, {_n(bt.incidents)} and "
         f"{_n(bt.violations_all)} now. Counted: violations with p_location >= "
         f"{bt.min_p:g}; too imprecise: the others.", "",
         "| year | UCDP events | violations, old self-fusion | too imprecise, old "
         "| violations now | too imprecise now | change |",
         "|---|---:|---:|---:|---:|---:|---:|"]
    for f in bt.fusion:
        L.append(f"| {f.label} | {f.events} | {f.old_violations} | {f.old_imprecise} | "
                 f"{f.violations} | {f.imprecise} | "
                 f"{_p(pct(f.violations, f.old_violations)) if f.old_violations else ''} |")
    L += [f"| **total** | {ev_total} | {old_total} | "
          f"{sum(f.old_imprecise for f in bt.fusion)} | {now_total} | "
          f"{sum(f.imprecise for f in bt.fusion)} | {_p(pct(now_total, old_total))} |", "",
          "A violation is dated by its incident's first day, so a year's old violations can "
          "hold events of the days before it. The violations too imprecise to judge now:", "",
          "| day | location | UCDP where_prec | p_location |", "|---|---|---:|---:|"]
    L += [f"| {d} | {text} | {wp} | {p:.2f} |" for d, text, wp, p in bt.imprecise]
    L += ["", "UCDP's where_prec 6 is the country only and 7 international waters or airspace "
          "(read as ±500 km), 2 within about 25 km of a place, 1 the place itself; "
          "p_location is the chance that the true place lies in the area the terms cover "
          "(the Donetsk and Luhansk oblasts).", ""]
    return L


def _explosions_section(bt: Backtest) -> list[str]:
    L = ["## Explosions: the SMM's figures that compare with UCDP's events", "",
         "UCDP records events in which someone died; the SMM counted every ceasefire "
         "violation it saw or heard (explosions, projectiles in flight, muzzle flashes, "
         "illumination flares, bursts and shots). Its explosions stand beside UCDP's events "
         "here: still not the same thing (one shell is one explosion, and one deadly event may "
         "follow many explosions or none: a sniper's shot, a mine), but nearer than every "
         "flash and burst. Its totals since the measures of 27 July 2020 stand beside ours "
         "for the same days.", "",
         "### The SMM's running totals since 27 July 2020, beside ours", "",
         "| from | to | days | SMM violations (at least) | SMM explosions | our violations "
         "| UCDP events | deaths | civilian deaths | source |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s, w in zip(SMM_SINCE_MEASURES, bt.smm_since, strict=True):
        L.append(f"| {s.first} | {s.last} | {s.days} | {_n(s.violations)} | "
                 f"{_n(s.explosions)} | {w.violations} | {w.events} | {w.deaths} | "
                 f"{w.civilians} | {_cite(s.cited)} |")
    L += ["", "The SMM's totals run from 00:01 on 27 July 2020 to 19:30 (Kyiv) on the last "
          "day; ours are whole UTC days. UCDP dates an event whose day is unsure by the first "
          "day it may have happened.", "",
          "### Deadly events per explosion", "",
          "Each stretch below is one of the SMM's windows: the two weeks of 20 April-3 May and "
          "4-17 May 2020 together (the SMM gave both as rounded figures), then the stretches "
          "between its running totals (each total minus the one before).", "",
          "| stretch | days | SMM violations | SMM explosions | per day | UCDP events | "
          "per day | UCDP events per 1,000 explosions (95% interval) |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in explosion_rows(bt):
        v, lo, hi = r.per_1000()
        about = "about " if r.about else ""
        L.append(f"| {r.label} | {r.days} | {about}{_n(r.violations)} | {about}"
                 f"{_n(r.explosions)} | {r.explosions / r.days:.1f} | {r.events} | "
                 f"{r.events / r.days:.2f} | {v:.1f} ({lo:.1f} to {hi:.1f}) |")
    L += ["", f"Source of the May 2020 figures: {_cite(SMM_MAY_2020)} "
          f"({SMM_MAY_2020.reports}). The interval is UCDP's count's alone (exact Poisson); "
          "the SMM's counts are taken as exact.", ""]
    return L


def _ohchr_section(bt: Backtest) -> list[str]:
    L = ["## Civilian casualties: OHCHR beside UCDP", "",
         "The UN human rights office (OHCHR, through its monitoring mission in Ukraine) "
         "records conflict-related civilian casualties in the conflict area by its own "
         "corroboration; it counts victims of mines and "
         "explosive remnants as well as of fire (they were 51% of its civilian casualties in "
         f"2020, 35% in 2019 and 43% in 2018: {_cite(_UN_Q1_2021)}). UCDP's civilian "
         "deaths are its `deaths_civilians` summed over its events of the same days. Some UCDP "
         "events name OHCHR among their sources (`source_office`, `source_original`): those "
         "are not independent of OHCHR, so the comparison leaves them out and the table says "
         "how many there are and the deaths they carry. Also shown: the civilian deaths behind "
         "violations counted at the threshold. UCDP counts only deaths, so it stands beside "
         "OHCHR's killed; the injured are shown as published. Windows are OHCHR's and "
         "overlap.", "",
         "| from | to | OHCHR killed | OHCHR injured | UCDP events citing OHCHR (their "
         "civilian deaths) | UCDP civilian deaths, not citing OHCHR | in counted violations "
         "| UCDP not citing / OHCHR killed (95% interval) | source |",
         "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    notes = []
    for o, w in zip(OHCHR, bt.ohchr, strict=True):
        lo, hi = rate_ratio_interval(w.civilians_not_ohchr, 1, o.killed, 1)
        mark = ""
        if o.note:
            notes.append(o.note)
            mark = f" [{len(notes)}]"
        L.append(f"| {o.first} | {o.last} | {o.killed:g}{mark} | {o.injured} | "
                 f"{w.ohchr_cited} ({w.all_civilians - w.civilians_not_ohchr}) | "
                 f"{w.civilians_not_ohchr} | {w.civilians} | "
                 f"{w.civilians_not_ohchr / o.killed:.2f} ({lo:.2f} to {hi:.2f}) | "
                 f"{_cite(o.cited)} |")
    L += [""] + [f"[{i}] {n}." for i, n in enumerate(notes, 1)]
    L += ["", "The interval treats each death as an independent count, which it is not: "
          "deaths come in events, so the true uncertainty is wider.", ""]
    return L


def _sources_section() -> list[str]:
    L = ["## Sources of the published figures", "",
         "Each figure was read in the public summary named (outlet, date of publication, "
         "address), which reports the SMM's or OHCHR's document given.", ""]
    seen: set[str] = set()
    for c in (KYIV_POST, SMM_MAY_2020, *(s.cited for s in SMM_SINCE_MEASURES),
              *(o.cited for o in OHCHR)):
        if c.url not in seen:
            seen.add(c.url)
            L.append(f"- {_cite(c)}: {c.reports}.")
    L += ["", "Not verified:", ""] + [f"- {n[0].upper()}{n[1:]}." for n in NOT_VERIFIED]
    return L


def render(bt: Backtest, png: str | None = PNG_NAME) -> str:
    """The page as Markdown."""
    assert bt.total and bt.y2019 and bt.y2020 and bt.before and bt.after
    clauses = ", ".join(f"`{c}` ({n})" for c, n in bt.by_clause.items())
    L: list[str] = [
        "# Backtest: the Minsk II ceasefire, 15 Feb 2015 - 23 Feb 2022", "",
        "Written by `scripts/backtest_minsk.py`, which runs the whole chain on the shipped data: "
        "run it again after changing fusion, adjudication or the terms.", "",
        "## What was run", "",
        f"- Data: `{bt.file_name}` (SHA-256 `{bt.file_sha256[:16]}...`), the UCDP Georeferenced "
        f"Event Dataset for Ukraine: {_n(bt.imported)} events with at least one death, "
        f"{_n(bt.events_in_range)} of them from {FIRST} to {LAST}. UCDP GED, CC BY 4.0: "
        "Sundberg and Melander (2013), Journal of Peace Research 50(4); Davies, Pettersson and "
        "Öberg (2023), Journal of Peace Research 60(4).",
        f"- Chain: import (UCDP a curated source), fuse ({_n(bt.incidents)} incidents from all "
        f"events), adjudicate against the shipped terms `{TERMS}` ({_n(bt.violations_all)} "
        f"violations: {clauses}), period reports (`truceguard report`) for the windows below. "
        "UCDP rows carry no weapon class, so the clauses of July 2020 that need one (sniper "
        "fire: small arms) cannot be breached by them.",
        f"- Counted: **violations** judged at the reporting threshold (p_location >= "
        f"{bt.min_p:g}; {bt.total.imprecise} more were too imprecise to judge) and **UCDP "
        "events** (the observations behind them). Deaths are UCDP's best estimate, civilian "
        "deaths its `deaths_civilians`, summed over those events.",
        "- Compared with: the OSCE SMM's published totals of ceasefire violations and of "
        "explosions, and OHCHR's civilian casualties (sources at the end of the page).", "",
        "## Per year", "",
        "| year | days | violations | per day | UCDP events | deaths | civilian deaths |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for w in bt.years:
        L.append(f"| {w.label} | {w.days} | {w.violations} | {w.per_day('violations'):.3f} | "
                 f"{w.events} | {w.deaths} | {w.civilians} |")
    t = bt.total
    L += [f"| **total** | {t.days} | **{t.violations}** | {t.per_day('violations'):.3f} | "
          f"**{t.events}** | {t.deaths} | {t.civilians} |", "",
          "2015 starts on 15 February (the ceasefire) and 2022 ends on 23 February (the data).",
          "", *_fusion_section(bt), "## Per month (violations)", ""]
    if png:
        L += [f"![violations and UCDP events per month; SMM explosions and UCDP events per "
              f"day]({png})", ""]
    L += ["| year | " + " | ".join(f"{m:02d}" for m in range(1, 13)) + " | total |",
          "|---|" + "---:|" * 13]
    for w in bt.years:
        cells = [str(bt.months[k]) if (k := f"{w.label}-{m:02d}") in bt.months else ""
                 for m in range(1, 13)]
        L.append(f"| {w.label} | " + " | ".join(cells) + f" | {w.violations} |")
    y19, y20, b, a = bt.y2019, bt.y2020, bt.before, bt.after
    smm_days = SMM_DAILY_BEFORE * b.days + SMM_DAILY_AFTER * a.days
    L += ["", "## 2019 against 2020", "",
          "| measure | 2019 | 2020 | change |", "|---|---:|---:|---:|",
          f"| UCDP violations | {y19.violations} | {y20.violations} | "
          f"{_p(pct(y20.violations, y19.violations))} |",
          f"| UCDP events | {y19.events} | {y20.events} | {_p(pct(y20.events, y19.events))} |",
          f"| UCDP deaths | {y19.deaths} | {y20.deaths} | {_p(pct(y20.deaths, y19.deaths))} |",
          f"| SMM ceasefire violations | {_n(SMM_2019)} | {_n(SMM_2020)} | "
          f"{_p(pct(SMM_2020, SMM_2019))} (published: {SMM_CHANGE_PCT}%) |", "",
          f"SMM figures: {_cite(KYIV_POST)}. The SMM's yearly counts of explosions were not "
          "found in a public summary.", "",
          "## Daily average before and after 27 July 2020", "",
          f"Before: {b.first} to {b.last} ({b.days} days); after: {a.first} to {a.last} "
          f"({a.days} days). These are the SMM's windows: {SMM_DAILY_BEFORE} x {b.days} + "
          f"{SMM_DAILY_AFTER} x {a.days} = {_n(smm_days)}, against the {_n(SMM_2020)} "
          f"published for 2020 ({_cite(KYIV_POST)}).", "",
          "| measure | before (count) | after (count) | before, per day | after, per day "
          "| change |",
          "|---|---:|---:|---:|---:|---:|"]
    for what, name in (("violations", "UCDP violations"), ("events", "UCDP events"),
                       ("deaths", "UCDP deaths")):
        L.append(f"| {name} | {getattr(b, what)} | {getattr(a, what)} | "
                 f"{b.per_day(what):.3f} | {a.per_day(what):.3f} | "
                 f"{_p(pct(a.per_day(what), b.per_day(what)))} |")
    L += [f"| SMM ceasefire violations | | | {SMM_DAILY_BEFORE} | {SMM_DAILY_AFTER} | "
          f"{_p(pct(SMM_DAILY_AFTER, SMM_DAILY_BEFORE))} |", "",
          *_explosions_section(bt), *_ohchr_section(bt),
          "## Where they agree and where they do not", "", *_agreement(bt), "",
          "## Hotspots, 2015-2022", "",
          "The areas with the most violations: the SMM's named areas, else the rest of an "
          "oblast; violations UCDP placed only to an oblast or wider are no hotspot.", "",
          "| settlement | violations | share |", "|---|---:|---:|"]
    L += [f"| {p} | {n} | {s * 100:.0f}% |" for p, n, s in bt.hotspots]
    L += ["", *_sources_section()]
    return "\n".join(L) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("-o", "--output", default="docs/backtest-minsk.md")
    args = ap.parse_args()
    out = Path(args.output)
    bt = run_backtest()
    plot(bt, out.with_name(PNG_NAME))
    out.write_text(render(bt), encoding="utf-8")
    print(f"{out}: {bt.total.violations if bt.total else 0} violations, "
          f"{bt.total.events if bt.total else 0} UCDP events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
