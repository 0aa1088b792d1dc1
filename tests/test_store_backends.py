"""The whole chain on the shipped UCDP events (import, fuse, adjudicate, report) gives the same
results on SQLite and on PostgreSQL: the same counts, the same incidents and the same
violations, field by field apart from their ids (which are keyed hashes, different per
database)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.conftest import STORE_BACKENDS, UCDP_CLEAN
from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.model import Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.report.period import build_period_report, render_markdown
from truceguard.store import ObservationFilter, Store, ViolationFilter, open_store

ALL = ObservationFilter()
IDS = ("violation_id", "incident_id", "obs_id", "violation_ids")


def without_ids(record: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(record).items() if k not in IDS}


def chain(store: Store) -> dict[str, Any]:
    """Everything the chain produces, ids aside."""
    terms = load_terms("minsk-2015")
    imported = import_file(store, UCDP_CLEAN)
    fused = fuse_store(store)
    judged = adjudicate_store(store, terms)
    owner, public = Viewer.owner(), Viewer()
    found = store.violations(ViolationFilter(include_withdrawn=True), owner)
    report = build_period_report(store, terms, "year", "2015-01-01", "2021-12-31", owner)
    return {
        "imported": (imported.imported, imported.duplicates, imported.rejected),
        "observations": store.count_observations(ALL, owner),
        "incidents": (fused.incidents, store.count_incidents(), len(store.incidents(ALL, owner))),
        "violations": (judged.violations, judged.new, len(found)),
        "public": (len(store.incidents(ALL, public)),
                   len(store.violations(ViolationFilter(), public))),
        "incident_records": sorted(map(repr, map(without_ids, store.incidents(ALL, owner)))),
        "violation_records": sorted(map(repr, map(without_ids, found))),
        "report": (report.total, [without_ids(b) for b in report.buckets],
                   {k: [without_ids(r) for r in rows] for k, rows in report.breakdowns.items()},
                   [without_ids(h) for h in report.hotspots],
                   # violation ids follow the order of the (opaque, per-database) incident ids
                   sorted(re.sub(r"^\| \d+ \|", "| id |", line)
                          for line in render_markdown(report).splitlines())),
    }


def test_the_chain_is_the_same_on_both_backends(tmp_path: Path,
                                                pg_database: Callable[[], str]) -> None:
    got = {}
    for backend in STORE_BACKENDS:
        where = str(tmp_path / "chain.db") if backend == "sqlite" else pg_database()
        with open_store(where) as store:
            assert store.backend == backend
            got[backend] = chain(store)
    sqlite, postgres = got["sqlite"], got["postgresql"]
    assert sqlite["imported"] == (3077, 0, 0) and sqlite["observations"] == 3077
    assert sqlite["violations"][0] > 0 and sqlite["report"][0].now > 0
    for key in sqlite:
        assert postgres[key] == sqlite[key], key
