"""The trend plot of a period report: counted violations per day in each calendar bucket,
stacked by clause in the colours of the map; partial buckets hatched, and what the data or the
terms do not cover shaded. A report of one bucket has no plot (its table says it all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from truceguard.report.period_map import clause_colours, png_bytes

if TYPE_CHECKING:
    from truceguard.report.period import PeriodReport

MANY_BUCKETS = 80  # more than this: stacked steps instead of bars
LABELLED_BUCKETS = 24  # up to this many: each bar has its bucket's label


def _dt(t: int) -> Any:  # matplotlib takes datetimes where its stubs say float
    return datetime.fromtimestamp(t, UTC)


def clause_rates(report: PeriodReport) -> tuple[list[str], np.ndarray]:
    """The clauses of the counted violations (in the map's order), and for each clause and
    bucket the violations per covered day (0 where no day of the bucket is covered)."""
    colours = clause_colours(report)
    clauses = list(colours)
    row = {c: k for k, c in enumerate(clauses)}
    clause_of = {v.violation_id: v.clause for v in report.violations}
    rates = np.zeros((len(clauses), len(report.buckets)))
    for b, bk in enumerate(report.buckets):
        if bk.covered_days <= 0:
            continue
        for i in bk.violation_ids:
            rates[row[clause_of[i]], b] += 1.0 / bk.covered_days
    return clauses, rates


def trend_png(report: PeriodReport) -> bytes | None:
    """The trend plot as PNG bytes (see the module docstring); None for one bucket."""
    bks = report.buckets
    if len(bks) < 2:
        return None
    fig = Figure(figsize=(8, 2.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = clause_colours(report)
    clauses, rates = clause_rates(report)
    x = [_dt(b.start) for b in bks]
    # The legend lists the clauses top down, as they are stacked.
    handles: list[Any] = [Patch(color=colours[c], label=c.split("/", 1)[-1])
                          for c in reversed(clauses)]
    if len(bks) <= MANY_BUCKETS:
        width: Any = [timedelta(seconds=b.end - b.start) * 0.85 for b in bks]
        bottom = np.zeros(len(bks))
        for k, c in enumerate(clauses):
            for partial in (False, True):
                keep = [b for b, bk in enumerate(bks) if bk.partial == partial]
                if keep:
                    ax.bar([x[b] for b in keep], rates[k, keep], width=[width[b] for b in keep],
                           bottom=bottom[keep], align="edge", color=colours[c],
                           alpha=0.5 if partial else 1.0, hatch="///" if partial else None,
                           edgecolor="white", lw=0.4)
            bottom += rates[k]
        if any(b.partial for b in bks):
            handles.append(Patch(facecolor="0.7", hatch="///", edgecolor="white",
                                 label="partial (per counted day)"))
    elif clauses:
        ax.stackplot([*x, _dt(report.end)], np.hstack([rates, rates[:, -1:]]), step="post",
                     colors=[colours[c] for c in clauses], lw=0)
    cov = report.coverage
    gaps = [(a, b) for a, b in ((report.start, cov.start), (cov.end, report.end))
            if a is not None and b is not None and b > a]
    for a, b in gaps:
        ax.axvspan(_dt(a), _dt(b), color="0.9", lw=0, zorder=0)
    if gaps:
        handles.append(Patch(color="0.9", label="not covered"))
    ax.set_ylabel(f"violations per day\n(in each {report.period})", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    ax.set_ylim(bottom=0)
    ax.set_xlim(_dt(report.start), _dt(report.end))
    if handles:
        ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, title="clause", title_fontsize=8, alignment="left")
    if len(bks) <= LABELLED_BUCKETS:  # each bucket named under its bar
        ax.set_xticks([_dt((b.start + b.end) // 2) for b in bks], [b.label for b in bks])
        ax.tick_params(axis="x", length=0)
    if len(bks) > 12 or max(len(b.label) for b in bks) > 4:
        fig.autofmt_xdate()
    return png_bytes(fig)


__all__ = ["clause_rates", "trend_png"]
