"""The whole chain on the shipped UCDP events (import, fuse, adjudicate, report) gives the same
results on SQLite and on PostgreSQL: the same counts, the same incidents and the same
violations, field by field apart from their ids (which are keyed hashes, different per
database). And each backend's own tuning for a live stream of commits (``ingest_stream``,
``checkpoint``), behind the protocol: SQLite leaves checkpoints to a thread of their own,
PostgreSQL keeps every acknowledged commit durable even where the server does not."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.conftest import STORE_BACKENDS, UCDP_CLEAN
from tests.cot_fixtures import event
from truceguard.ingest import import_file
from truceguard.io.cot import parse_cot_event
from truceguard.judge.terms import load_terms
from truceguard.model import Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.report.period import build_period_report, render_markdown
from truceguard.server.sink import AUDIT_ACTION, Sink
from truceguard.store import (
    ObservationFilter,
    PostgresStore,
    SQLiteStore,
    Store,
    ViolationFilter,
    open_store,
)

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


def test_sqlite_stream_leaves_checkpoints_to_another_thread(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "stream.db") as store:
        def autocheckpoint() -> int:
            return int(store.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

        with store.ingest_stream(separate_checkpoints=True):
            assert autocheckpoint() == 0
        assert autocheckpoint() == 1000  # SQLite's default again
        with store.ingest_stream():
            assert autocheckpoint() == 1000
        assert store.checkpoint() is True
    with SQLiteStore(":memory:") as memory:
        assert memory.checkpoint() is False  # no log to tend


def test_postgres_stream_commits_wait_for_the_disk_where_the_server_would_not(
        pg_database: Callable[[], str]) -> None:
    """The test server runs with ``synchronous_commit = off`` (tests/conftest.py): inside a
    stream this thread's commits wait for the flush all the same; outside, the server's
    setting holds again."""
    with PostgresStore(pg_database()) as store:
        def setting() -> str:
            return str(store.execute("SHOW synchronous_commit").fetchone()[0])

        assert setting() == "off"
        with store.ingest_stream(separate_checkpoints=True):
            assert setting() == "on"
            with store.transaction():
                assert setting() == "on"  # the stream's one connection
        assert setting() == "off"
        assert store.checkpoint() is False  # the server checkpoints itself
        name = store.execute("SELECT current_database()").fetchone()[0]
        store.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = remote_apply')
    with PostgresStore(store.url) as again, again.ingest_stream():
        # an operator's stronger choice is kept
        assert str(again.execute("SHOW synchronous_commit").fetchone()[0]) == "remote_apply"


def test_the_sink_commits_through_the_protocol_on_postgres(
        pg_database: Callable[[], str]) -> None:
    """The live sink on PostgreSQL: its writer's stream and its checkpointer go through the
    protocol (the checkpointer ends at its first call), and every acknowledged event is
    stored once, with its audit entry."""
    store = PostgresStore(pg_database())
    rounds = [[parse_cot_event(event(f"p{k}-{i}")) for i in range(200)] for k in range(3)]

    async def scenario() -> Sink:
        sink = Sink(store, checkpoint_every_s=0.05)
        await sink.start()
        for batch in rounds:
            fut = sink.offer(batch)
            assert fut is not None
            await fut
        await sink.stop()
        return sink

    sink = asyncio.run(scenario())
    assert sink.stats.received == sink.stats.inserted == 600
    assert sink.stats.checkpointed_batches == 0  # nothing for the sink to checkpoint
    assert store.count_observations(ALL, Viewer.owner()) == 600
    assert sum(e.detail["observations"] for e in store.audit_entries()
               if e.action == AUDIT_ACTION) == 600
    store.close()
