"""The demo: the whole chain on the real data shipped with the package.

One function, ``run_demo``, behind ``truceguard demo``; each step is the same core function the
individual commands call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from truceguard.geo.shipped import data_path
from truceguard.ingest import import_file
from truceguard.model import IngestSummary, Viewer
from truceguard.store import ObservationFilter, open_store

SHIPPED_EVENTS = ("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")


@dataclass
class DemoResult:
    db: str
    imports: list[IngestSummary] = field(default_factory=list)
    stored: int = 0
    by_year: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def run_demo(db: str | Path, say: Callable[[str], None] = lambda _: None) -> DemoResult:
    """Import the shipped UCDP events into ``db`` and describe what was stored."""
    result = DemoResult(db=str(db))
    with open_store(db) as store:
        path = data_path(*SHIPPED_EVENTS)
        summary = import_file(store, path, fmt="ucdp")
        result.imports.append(summary)
        say(f"{path.name}: {summary.line}")
        result.stored = store.count_observations(ObservationFilter(), Viewer.owner())
        rows = store.execute(
            "SELECT strftime('%Y', t_start, 'unixepoch') AS y, COUNT(*) FROM observations "
            "GROUP BY y ORDER BY y"
        ).fetchall()
        result.by_year = {str(y): int(n) for y, n in rows}
        say(f"{result.stored} observations stored in {db}")
        say("by year: " + ", ".join(f"{y}: {n}" for y, n in result.by_year.items()))
    return result
