"""What the period report tests share: the shipped UCDP events judged against Minsk II, and
the violations the store lists for a window (the figures the report must match)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.model import Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import ObservationFilter, SQLiteStore, ViolationFilter, open_store

from .conftest import UCDP_CLEAN

MINSK = "minsk-2015"


def epoch(day: str) -> int:
    """A UTC midnight ('2020-01-01') as epoch seconds."""
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def violation_ids(store: SQLiteStore, t0: int, t1: int, viewer: Viewer | None = None,
                  min_p: float = 0.0) -> list[int]:
    """The ids of the Minsk violations the store lists for [t0, t1), oldest first."""
    flt = ObservationFilter(since=t0, until=t1 - 1)
    return [v.violation_id for v in store.violations(
        ViolationFilter(records=flt, terms=MINSK, min_p_location=min_p), viewer or Viewer.owner())]


@contextmanager
def judged_minsk(path: Path) -> Iterator[SQLiteStore]:
    """A store at ``path`` with the shipped UCDP events, fused and judged against Minsk II."""
    with open_store(path) as store:
        import_file(store, UCDP_CLEAN)
        fuse_store(store)
        adjudicate_store(store, load_terms(MINSK))
        yield store
