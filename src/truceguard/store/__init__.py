"""Stores: the Store protocol, the embedded SQLite default, and ``open_store``."""

from __future__ import annotations

from pathlib import Path

from truceguard.store.base import (
    Conflict,
    IngestCounts,
    ObservationFilter,
    Store,
    ViolationFilter,
)
from truceguard.store.sqlite import SQLiteStore


def is_url(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a file."""
    return str(location).startswith(("postgresql://", "postgres://"))


def open_store(location: str | Path, *, create: bool = True) -> Store:
    """Open (and migrate) the store at ``location``: a file path (SQLite) or a
    ``postgresql://`` URL. ``create=False`` refuses a database that does not exist yet."""
    return SQLiteStore(location, create=create)


__all__ = [
    "Conflict",
    "IngestCounts",
    "ObservationFilter",
    "SQLiteStore",
    "Store",
    "ViolationFilter",
    "is_url",
    "open_store",
]
