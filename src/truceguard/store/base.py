"""The Store protocol: the one piece of shared state, and what every backend must do.

The embedded default is SQLite (``store.sqlite``); a multi-user PostgreSQL backend implements the
same protocol. The store tests are written against the protocol, parameterised over backends.

Filters are plain data (``ObservationFilter``) compiled to SQL by one function, so the filter
that lists is the filter that counts and the filter that exports. Releasability is applied by the
store itself, in the same SQL, from the ``Viewer`` passed to every read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from truceguard.geo.sphere import bbox_around
from truceguard.io.columns import ObservationColumns
from truceguard.model import IngestSummary, Observation, Viewer


@dataclass(frozen=True, slots=True)
class ObservationFilter:
    """Which observations a command means. Every field is optional; all given must hold.

    since/until: epoch seconds, compared with the observation's start time (until inclusive).
    bbox: (west, south, east, north) degrees. near: (lat, lon, km) great-circle radius.
    """

    since: int | None = None
    until: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float, float] | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    incident_id: int | None = None

    def to_sql(self, viewer: Viewer, alias: str = "o") -> tuple[str, list[Any]]:
        """A WHERE clause (without 'WHERE', '1=1' if empty) and its parameters.

        ``near`` contributes its bounding box here; the exact great-circle cut is applied by
        ``exact_near`` on the rows that come back.
        """
        a = alias + "." if alias else ""
        where: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            where.append(f"{a}t_start >= ?")
            params.append(self.since)
        if self.until is not None:
            where.append(f"{a}t_start <= ?")
            params.append(self.until)
        boxes = []
        if self.bbox is not None:
            boxes.append(self.bbox)
        if self.near is not None:
            lat, lon, km = self.near
            boxes.append(bbox_around(lat, lon, km * 1000.0))
        for w, s, e, n in boxes:
            where.append(f"{a}lat BETWEEN ? AND ? AND {a}lon BETWEEN ? AND ?")
            params += [s, n, w, e]
        if self.categories:
            where.append(f"{a}category IN ({','.join('?' * len(self.categories))})")
            params += list(self.categories)
        if self.sources:
            where.append(f"{a}source IN ({','.join('?' * len(self.sources))})")
            params += list(self.sources)
        if self.incident_id is not None:
            where.append(f"{a}incident_id = ?")
            params.append(self.incident_id)
        rel, rel_params = releasability_sql(viewer, f"{a}releasability")
        if rel:
            where.append(rel)
            params += rel_params
        return (" AND ".join(where) or "1=1"), params


def releasability_sql(viewer: Viewer, column: str) -> tuple[str, list[Any]]:
    """The SQL condition that keeps only rows whose marking the viewer may see."""
    if viewer.sees_all:
        return "", []
    ors = [f"{column} = 'PUBLIC'"]
    params: list[Any] = []
    for code in sorted(viewer.codes):
        ors.append(f"instr(', ' || substr({column}, 8) || ',', ?) > 0")
        params.append(f", {code},")
    return "(" + " OR ".join(ors) + ")", params


class Store(Protocol):
    """What the CLI, the server and the tests may ask of a store."""

    path: str

    def transaction(self) -> AbstractContextManager[None]:
        """A transaction: committed on normal exit, rolled back on an exception."""
        ...

    def add_observations(self, batch: Sequence[Observation]) -> tuple[int, int]:
        """Insert a batch inside the current transaction: (inserted, duplicates)."""
        ...

    def add_observation_columns(self, batch: ObservationColumns) -> tuple[int, int]:
        """Insert a column batch (``io.columns``) inside the current transaction: (inserted,
        duplicates), the same rows as ``add_observations`` of the same records."""
        ...

    def bulk_load(self, expected_rows: int) -> AbstractContextManager[None]:
        """Prepare for loading about ``expected_rows`` rows (a backend may defer indexing)."""
        ...

    def log_ingest(self, summary: IngestSummary, status: str) -> int:
        """Append one row to the ingest log; returns its id. The log is never rewritten."""
        ...

    def ingest_log(self) -> list[dict[str, Any]]: ...

    def observations(
        self, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
    ) -> Iterator[Observation]: ...

    def count_observations(self, flt: ObservationFilter, viewer: Viewer) -> int: ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...
