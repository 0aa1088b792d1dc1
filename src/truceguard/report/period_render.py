"""The period report rendered: one self-contained HTML page, or Markdown for the terminal.

Both open with a summary a reader takes in at once (the counts at the reporting threshold by
clause, those too imprecise to judge listed apart, the map, the trend, the hotspots, the other
breakdowns and the clauses with their text in short form) and end with the appendix, one row
per incident (:mod:`truceguard.report.period_appendix`), which the summary links to. The
marking banner is the first and the last line of both.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from truceguard.errors import NotFoundError
from truceguard.judge.terms import Terms, load_terms
from truceguard.model import iso
from truceguard.report.dates import days_text, when_text
from truceguard.report.period_appendix import build_appendix
from truceguard.report.period_map import map_png
from truceguard.report.period_text import DIMENSION_TITLES, days_phrase, plural
from truceguard.report.period_trend import trend_png

if TYPE_CHECKING:
    from truceguard.report.period import PeriodReport

MAX_BUCKETS = 100  # more buckets than this: only those with violations are listed
FOLD_BUCKETS = 24  # more rows than this: the HTML folds the bucket table
IMPRECISE_LISTED = 10  # the summary lists up to this many violations too imprecise to judge


def _rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _binds_note(note: str) -> str:
    """A clause's note (when it binds, against the period) said beside its date."""
    if note.startswith("not in force"):
        return "not in force in the period"
    if note.endswith("comparison period"):
        return "binds inside the comparison period"
    return "binds inside the period"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("truceguard", "report/templates"),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = lambda t: iso(t)[:10]
    env.filters["when"] = when_text
    env.filters["cell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    env.filters["pct"] = lambda x: f"{100 * x:.0f}%"
    env.filters["rate"] = _rate
    env.filters["days"] = days_text
    env.filters["days_phrase"] = days_phrase
    env.filters["plural"] = plural
    env.filters["num"] = lambda n: f"{n:,}"
    env.filters["km"] = lambda m: f"{m / 1000:.0f}" if m >= 10_000 else f"{m / 1000:.1f}"
    env.filters["p"] = lambda p: f"{p:.2f}"
    env.filters["short"] = lambda c: str(c).split("/", 1)[-1]
    env.filters["binds_note"] = _binds_note
    return env


def terms_of(report: PeriodReport | Any, terms: Terms | None) -> Terms | None:
    """The terms a report was made under: ``terms`` if given, else those it names."""
    if terms is not None:
        return terms
    try:
        return load_terms(report.terms)
    except NotFoundError:  # terms read from a file that is gone: a map without the line
        return None


def _context(report: PeriodReport, max_buckets: int) -> dict[str, object]:
    many = len(report.buckets) > max_buckets
    return {
        "r": report,
        "a": build_appendix(report),
        "titles": DIMENSION_TITLES,
        "others": [d for d in report.breakdowns if d != "clause"],
        "clause_rows": {row.key: row for row in report.breakdowns.get("clause", [])},
        "incidents": len({v.incident_id for v in report.violations}),
        "many": many,
        "buckets": [b for b in report.buckets if b.count or not many],
        "imprecise_listed": IMPRECISE_LISTED,
        "fold_buckets": FOLD_BUCKETS,
    }


def render_html(report: PeriodReport, terms: Terms | None = None, *,
                max_buckets: int = MAX_BUCKETS) -> str:
    """The report as one self-contained HTML page (the plots inlined; nothing fetched).

    ``terms`` draws the line on the map (default: the shipped terms of the report's name)."""
    images: dict[str, bytes] = {}
    if report.has_figures:
        trend = trend_png(report)
        if trend is not None:
            images["trend"] = trend
        images["map"] = map_png(report, terms_of(report, terms))
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii")
            for k, v in images.items()}
    return _env().get_template("period.html.j2").render(
        images=uris, **_context(report, max_buckets))


def write_html(report: PeriodReport, path: str | Path, terms: Terms | None = None) -> Path:
    """Write :func:`render_html` to ``path``; returns the path."""
    out = Path(path)
    out.write_text(render_html(report, terms), encoding="utf-8")
    return out


def render_markdown(report: PeriodReport, *, max_buckets: int = MAX_BUCKETS) -> str:
    """The report as Markdown for the terminal: the summary, then the appendix as one table
    row per incident (each row starts with the incident's id).

    The first and the last line are the banner. With more than ``max_buckets`` buckets only
    those with violations are listed."""
    return _env().get_template("period.md.j2").render(**_context(report, max_buckets))


__all__ = ["render_html", "render_markdown", "write_html"]
