"""Period reports of ceasefire violations: counts, change, hotspots, trend, and the trail down.

A period report covers the inclusive dates ``start``..``end`` (UTC) for one set of terms. It
counts violations per calendar bucket (day, ISO week, month or year, clipped to the window), by
category, weapon class, clause, side and zone; compares each count with the window of the same
length just before (the way the OSCE SMM daily report compares with the previous period); and
names the hotspots, the settlements nearest to the most violations.

Every figure keeps the ids of the violations behind it, and the report keeps each violation's
incident and that incident's observations (source, file and line, raw text and its SHA-256),
so the HTML page links every number down to the raw input it came from.

Everything is read through the store's ``violations``, ``incidents`` and ``observations``,
the same code path as the CLI listings, so releasability is applied by the
store: a viewer sees only the violations, incidents and observations released to them.
"""

from __future__ import annotations

import base64
import io
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from truceguard.errors import InputError
from truceguard.judge.places import place_index
from truceguard.judge.terms import Terms, load_terms
from truceguard.model import Viewer, iso
from truceguard.store.base import ObservationFilter, Store, ViolationFilter

PERIODS = ("day", "week", "month", "year")
DIMENSIONS = ("category", "weapon_class", "clause", "side", "zone")
DIMENSION_TITLES = {
    "category": "Category",
    "weapon_class": "Weapon class",
    "clause": "Clause",
    "side": "Side (whose territory)",
    "zone": "Zone",
}
NO_ZONE = "(outside every zone)"
DAY = 86400


@dataclass(frozen=True)
class Change:
    """A count against the count before it: the difference and the relative change in %.

    ``percent`` is None when there was nothing before (a change from zero has no ratio)."""

    now: int
    before: int

    @property
    def absolute(self) -> int:
        return self.now - self.before

    @property
    def percent(self) -> float | None:
        return None if self.before == 0 else 100.0 * (self.now - self.before) / self.before

    def text(self) -> str:
        """"+12 (+35%)", "-3 (-100%)", "+4 (new)", "0"."""
        if self.absolute == 0:
            return "0"
        pct = self.percent
        return f"{self.absolute:+d} ({'new' if pct is None else f'{pct:+.0f}%'})"


@dataclass(frozen=True)
class Bucket:
    """One calendar bucket of the window, [start, end) in epoch seconds (clipped to the window).

    ``observations`` counts the observations behind the bucket's incidents (an incident falls
    in the bucket of its start)."""

    key: str
    label: str
    start: int
    end: int
    count: int
    observations: int
    change: Change  # against the bucket before (the first: against the previous window's last)
    violation_ids: tuple[int, ...]
    partial: bool = False  # cut by the window: shorter than its calendar day, week ...

    @property
    def days(self) -> float:
        return (self.end - self.start) / DAY


@dataclass(frozen=True)
class CountRow:
    """One value of one dimension (a clause, a side ...) with its count now and before."""

    key: str
    label: str
    change: Change
    violation_ids: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.change.now


@dataclass(frozen=True)
class Hotspot:
    """A settlement and the violations nearest to it."""

    key: str
    place: str
    lat: float
    lon: float
    count: int
    share: float  # of all violations in the window
    cumulative_share: float
    median_distance_km: float
    control: str  # the most frequent control label among its violations' location texts
    violation_ids: tuple[int, ...]


@dataclass
class PeriodReport:
    """A period report as plain data: what the HTML and Markdown renderings show."""

    terms: str
    terms_title: str
    period: str
    start: int  # epoch seconds, inclusive
    end: int  # epoch seconds, exclusive (the day after the last date)
    previous_start: int
    viewer: str
    total: Change
    observations: int
    buckets: list[Bucket]
    breakdowns: dict[str, list[CountRow]]
    hotspots: list[Hotspot]
    violations: list[dict[str, Any]]
    incidents: dict[int, dict[str, Any]] = field(default_factory=dict)
    observations_by_incident: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def first_date(self) -> str:
        return iso(self.start)[:10]

    @property
    def last_date(self) -> str:
        return iso(self.end - DAY)[:10]

    @property
    def days(self) -> int:
        return (self.end - self.start) // DAY

    @property
    def previous_first_date(self) -> str:
        return iso(self.previous_start)[:10]

    @property
    def daily_average(self) -> float:
        return self.total.now / self.days

    def violation(self, violation_id: int) -> dict[str, Any]:
        for v in self.violations:
            if v["violation_id"] == violation_id:
                return v
        raise KeyError(violation_id)


# ---------------------------------------------------------------- dates and buckets


def parse_date(value: date | str, what: str) -> date:
    """A calendar date from a ``date`` or an ISO 8601 'YYYY-MM-DD' string."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f"{what} {value!r}: expected a date as YYYY-MM-DD") from None


def _epoch(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def bucket_edges(period: str, start: int, end: int) -> NDArray[np.int64]:
    """Calendar bucket edges (UTC epoch seconds) covering [start, end), clipped to it.

    Weeks are ISO weeks (Monday to Sunday); start and end are midnights."""
    if period not in PERIODS:
        raise InputError(f"period {period!r}: expected one of {', '.join(PERIODS)}")
    d0 = np.datetime64(start, "s").astype("datetime64[D]")
    d1 = np.datetime64(end, "s").astype("datetime64[D]")
    if period == "day":
        inner = np.arange(d0 + 1, d1, dtype="datetime64[D]")
    elif period == "week":
        days = np.arange(d0 + 1, d1, dtype="datetime64[D]")
        # 1970-01-01 was a Thursday: day number + 3 is 0 on Mondays (mod 7).
        inner = days[(days.astype(np.int64) + 3) % 7 == 0]
    else:
        unit = "M" if period == "month" else "Y"
        m0 = d0.astype(f"datetime64[{unit}]")
        m1 = (d1 - 1).astype(f"datetime64[{unit}]")
        inner = np.arange(m0 + 1, m1 + 1, dtype=f"datetime64[{unit}]").astype("datetime64[D]")
    secs = inner.astype("datetime64[s]").astype(np.int64)
    return np.concatenate([[start], secs, [end]]).astype(np.int64)


def _is_edge(period: str, t: int) -> bool:
    """Whether ``t`` (a UTC midnight) starts a calendar day, ISO week, month or year."""
    d = datetime.fromtimestamp(t, UTC).date()
    return (
        period == "day"
        or (period == "week" and d.weekday() == 0)
        or (period == "month" and d.day == 1)
        or (period == "year" and d.month == 1 and d.day == 1)
    )


def bucket_label(period: str, t: int) -> str:
    """'2020-07-27', '2020-W31', '2020-07' or '2020' for the bucket starting at ``t``."""
    d = datetime.fromtimestamp(t, UTC).date()
    if period == "day":
        return d.isoformat()
    if period == "week":
        y, w, _ = d.isocalendar()
        return f"{y}-W{w:02d}"
    if period == "month":
        return f"{d.year}-{d.month:02d}"
    return str(d.year)


def window(start: date | str, end: date | str) -> tuple[int, int]:
    """Inclusive dates as epoch seconds [start, end + 1 day); InputError if start is after end."""
    d0 = parse_date(start, "--from")
    d1 = parse_date(end, "--to")
    if d0 > d1:
        raise InputError(
            f"--from {d0} is after --to {d1}: the period must not end before it starts"
        )
    return _epoch(d0), _epoch(d1 + timedelta(days=1))


# ---------------------------------------------------------------- building the report


def _counts(keys: list[str], ids: list[int]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for k, i in zip(keys, ids, strict=True):
        out.setdefault(k, []).append(i)
    return out


def _labels(terms: Terms) -> dict[str, dict[str, str]]:
    return {
        "clause": {c.id: c.id.split("/", 1)[-1] for c in terms.clauses},
        "side": {s.id: f"{s.label} ({s.id})" for s in terms.sides},
        "zone": {z.id: z.id for z in terms.zones} | {"": NO_ZONE},
    }


def _breakdowns(
    terms: Terms, now: list[dict[str, Any]], before: list[dict[str, Any]]
) -> dict[str, list[CountRow]]:
    labels = _labels(terms)
    always = {
        "clause": list(labels["clause"]),
        "side": list(labels["side"]),
        "zone": [z.id for z in terms.zones],
    }
    out: dict[str, list[CountRow]] = {}
    for dim in DIMENSIONS:
        cur = _counts([str(v[dim] or "") for v in now], [v["violation_id"] for v in now])
        prev = _counts([str(v[dim] or "") for v in before], [v["violation_id"] for v in before])
        keys = list(dict.fromkeys([*always.get(dim, []), *cur, *prev]))
        rows = [
            CountRow(
                key=k,
                label=labels.get(dim, {}).get(k, k or "(none)"),
                change=Change(len(cur.get(k, [])), len(prev.get(k, []))),
                violation_ids=tuple(cur.get(k, [])),
            )
            for k in keys
        ]
        rows.sort(key=lambda r: (-r.count, -r.change.before, r.label))
        out[dim] = rows
    return out


def _hotspots(rows: list[dict[str, Any]], top: int) -> list[Hotspot]:
    """Group violations by their nearest shipped settlement; the busiest first."""
    if not rows or top <= 0:
        return []
    lon = np.radians(np.array([r["lon"] for r in rows], float))
    lat = np.radians(np.array([r["lat"] for r in rows], float))
    xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    idx = place_index("UA")
    chord, k = idx.tree.query(xyz)
    dist_km = 2.0 * 6371.0088 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
    places, inverse, counts = np.unique(k, return_inverse=True, return_counts=True)
    order = np.lexsort((places, -counts))[:top]
    total = len(rows)
    out: list[Hotspot] = []
    cum = 0
    ids = np.array([r["violation_id"] for r in rows], np.int64)
    for j in order:
        members = np.flatnonzero(inverse == j)
        cum += int(counts[j])
        controls = [str(rows[m]["location_text"]) for m in members]
        labels = [c[c.rfind("(") + 1 : -1] for c in controls if c.endswith(")")]
        control = max(sorted(set(labels)), key=labels.count, default="")
        p = int(places[j])
        out.append(
            Hotspot(
                key=f"p{p}",
                place=str(idx.name[p]),
                lat=float(idx.lat[p]),
                lon=float(idx.lon[p]),
                count=int(counts[j]),
                share=float(counts[j]) / total,
                cumulative_share=cum / total,
                median_distance_km=float(np.median(dist_km[members])),
                control=control,
                violation_ids=tuple(int(i) for i in ids[members]),
            )
        )
    return out


def _observation_dict(o: Any) -> dict[str, Any]:
    return {
        "obs_id": o.obs_id,
        "source": o.source,
        "origin": o.origin,
        "source_ref": o.source_ref,
        "how_known": o.how_known,
        "t_start": o.t_start,
        "t_end": o.t_end,
        "lat": o.lat,
        "lon": o.lon,
        "uncertainty_m": o.uncertainty_m,
        "category": o.category,
        "weapon_class": o.weapon_class,
        "text": o.text,
        "raw": o.raw,
        "raw_sha256": o.raw_sha256,
        "source_file": o.source_file,
        "source_line": o.source_line,
        "releasability": o.releasability,
        "attributes": dict(o.attributes),
    }


def _violation_dicts(store: Store, flt: ObservationFilter, viewer: Viewer, terms: str
                     ) -> list[dict[str, Any]]:
    """The violations as plain rows for the report's tables (``side``: who controls the place)."""
    out = []
    for v in store.violations(ViolationFilter(records=flt, terms=terms), viewer):
        row = asdict(v)
        row["side"] = v.controlled_by
        out.append(row)
    return out


def build_period_report(
    store: Store,
    terms: str | Terms,
    period: str,
    start: date | str,
    end: date | str,
    viewer: Viewer | None = None,
    *,
    flt: ObservationFilter | None = None,
    hotspots: int = 10,
    trail: bool = True,
) -> PeriodReport:
    """The period report of ``terms`` over the inclusive dates ``start``..``end`` (UTC).

    ``viewer`` defaults to the owner (sees everything). ``flt`` narrows the violations further
    (a box, categories, sources; its times are replaced by the window). ``trail`` loads each
    violation's incident and observations for the drill-down (the HTML needs it).
    """
    if period not in PERIODS:
        raise InputError(f"--period {period!r}: expected one of {', '.join(PERIODS)}")
    t = terms if isinstance(terms, Terms) else load_terms(terms)
    viewer = viewer or Viewer.owner()
    t0, t1 = window(start, end)
    prev0 = t0 - (t1 - t0)
    base = flt or ObservationFilter()
    now = _violation_dicts(store, replace(base, since=t0, until=t1 - 1), viewer, t.name)
    before = _violation_dicts(store, replace(base, since=prev0, until=t0 - 1), viewer, t.name)

    edges = bucket_edges(period, t0, t1)
    times = np.array([v["t_start"] for v in now], np.int64)
    which = np.searchsorted(edges, times, side="right") - 1
    counts = np.bincount(which, minlength=edges.size - 1)
    # The bucket before the first: same calendar length, ending where the window starts.
    prev_edges = bucket_edges(period, prev0, t0)
    prev_first = int(sum(1 for v in before if v["t_start"] >= prev_edges[-2]))

    incs: dict[int, dict[str, Any]] = {}
    obs: dict[int, list[dict[str, Any]]] = {}
    if now:
        wanted = {v["incident_id"] for v in now}
        lo, hi = int(times.min()), int(times.max())
        for inc in store.incidents(replace(base, since=lo, until=hi), viewer):
            if inc.incident_id in wanted:
                incs[inc.incident_id] = asdict(inc)
    if trail:
        for iid in incs:
            obs[iid] = [
                _observation_dict(o)
                for o in store.observations(ObservationFilter(incident_id=iid), viewer)
            ]
    n_obs_of = {
        iid: (len(obs[iid]) if iid in obs else int(inc["n_observations"]))
        for iid, inc in incs.items()
    }

    buckets: list[Bucket] = []
    before_count = prev_first
    for b in range(edges.size - 1):
        members = [now[i] for i in np.flatnonzero(which == b)]
        n = int(counts[b])
        buckets.append(
            Bucket(
                key=f"b{b}",
                label=bucket_label(period, int(edges[b])),
                start=int(edges[b]),
                end=int(edges[b + 1]),
                count=n,
                observations=sum(n_obs_of.get(i, 0) for i in {v["incident_id"] for v in members}),
                change=Change(n, before_count),
                violation_ids=tuple(v["violation_id"] for v in members),
                partial=(b == 0 and not _is_edge(period, t0))
                or (b == edges.size - 2 and not _is_edge(period, t1)),
            )
        )
        before_count = n

    return PeriodReport(
        terms=t.name,
        terms_title=t.title,
        period=period,
        start=t0,
        end=t1,
        previous_start=prev0,
        viewer="owner (sees all)" if viewer.sees_all else (
            "releasable to " + (", ".join(sorted(viewer.codes)) or "nobody (PUBLIC only)")
        ),
        total=Change(len(now), len(before)),
        observations=sum(n_obs_of.values()),
        buckets=buckets,
        breakdowns=_breakdowns(t, now, before),
        hotspots=_hotspots(now, hotspots),
        violations=now,
        incidents=incs,
        observations_by_incident=obs,
    )


# ---------------------------------------------------------------- rendering


def trend_png(report: PeriodReport) -> bytes:
    """The trend plot: violations per bucket (bars, or a line when there are many)."""
    fig = Figure(figsize=(9.5, 3.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x: Any = [datetime.fromtimestamp(b.start, UTC) for b in report.buckets]
    y = [b.count for b in report.buckets]
    if len(x) <= 80:
        widths: Any = [timedelta(seconds=b.end - b.start) * 0.85 for b in report.buckets]
        ax.bar(x, y, width=widths, align="edge", color="#b03a2e")
    else:
        ax.step(x, y, where="post", color="#b03a2e", lw=0.9)
    ax.set_ylabel(f"violations per {report.period}")
    ax.set_title(f"{report.terms}: {report.first_date} to {report.last_date}", fontsize=10)
    ax.grid(axis="y", color="0.9")
    ax.set_ylim(bottom=0)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("truceguard", "report/templates"),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = lambda t: iso(t)[:10]
    env.filters["when"] = lambda t: iso(t)
    env.filters["cell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    env.filters["pct"] = lambda x: f"{100 * x:.0f}%"
    return env


def render_html(report: PeriodReport) -> str:
    """The report as one self-contained HTML page (the plot inlined; nothing fetched)."""
    png = base64.b64encode(trend_png(report)).decode("ascii")
    return _env().get_template("period.html.j2").render(
        r=report, titles=DIMENSION_TITLES, trend=f"data:image/png;base64,{png}"
    )


def write_html(report: PeriodReport, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path``; returns the path."""
    out = Path(path)
    out.write_text(render_html(report), encoding="utf-8")
    return out


def render_markdown(report: PeriodReport, *, max_buckets: int = 100) -> str:
    """The report as Markdown for the terminal (figures only; the HTML has the trail).

    With more than ``max_buckets`` buckets only those with violations are listed."""
    return _env().get_template("period.md.j2").render(
        r=report, titles=DIMENSION_TITLES, max_buckets=max_buckets
    )
