"""Stores: the Store protocol and its roles (``ObservationStore``, ``JudgingStore``,
``MissionStore`` on ``StoreCore``), the embedded SQLite default, the PostgreSQL store (pooled
connections), and ``open_store``, which picks one from where the database is."""

from __future__ import annotations

from pathlib import Path

from truceguard.store.base import (
    Conflict,
    IngestCounts,
    JudgingStore,
    MissionStore,
    ObservationFilter,
    ObservationStore,
    Store,
    StoreCore,
    ViolationFilter,
)
from truceguard.store.postgres import PostgresStore
from truceguard.store.sqlite import SQLiteStore


def is_url(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a file."""
    return str(location).startswith(("postgresql://", "postgres://"))


def open_store(location: str | Path, *, create: bool = True) -> Store:
    """Open (and migrate) the store at ``location``: a ``postgresql://`` (or ``postgres://``)
    URL opens the PostgreSQL store, anything else is the path of an SQLite file.
    ``create=False`` refuses a database that truceguard has not set up yet."""
    if is_url(location):
        return PostgresStore(str(location), create=create)
    return SQLiteStore(location, create=create)


__all__ = [
    "Conflict",
    "IngestCounts",
    "JudgingStore",
    "MissionStore",
    "ObservationFilter",
    "ObservationStore",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "StoreCore",
    "ViolationFilter",
    "is_url",
    "open_store",
]
