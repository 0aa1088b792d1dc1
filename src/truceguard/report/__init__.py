"""Reports: the period report of violations (``period``, with ``period_map`` and ``dates``:
HTML, Markdown, JSON) and the planning reports (``planning``: HTML pages with their plots and
results.json)."""

from truceguard.report.period import PeriodReport, build_period_report, render_html, render_markdown
from truceguard.report.planning import results_document, write_compare_report, write_plan_report

__all__ = [
    "PeriodReport",
    "build_period_report",
    "render_html",
    "render_markdown",
    "results_document",
    "write_compare_report",
    "write_plan_report",
]
