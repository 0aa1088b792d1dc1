"""Stores: the Store protocol, the embedded SQLite default, and ``open_store``."""

from __future__ import annotations

from pathlib import Path

from truceguard.store.base import ObservationFilter, Store
from truceguard.store.sqlite import SQLiteStore


def open_store(path: str | Path, *, create: bool = True) -> SQLiteStore:
    """Open (and migrate) the store at ``path``; ``create=False`` refuses a missing file."""
    return SQLiteStore(path, create=create)


__all__ = ["ObservationFilter", "SQLiteStore", "Store", "open_store"]
