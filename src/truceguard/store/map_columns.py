"""The map's columns: the incidents and violations of a filtered view as arrays, one per
field the dashboard's map draws, without a record object per row. A mixin of both backends
(``SQLiteStore``, ``PostgresStore``), over ``IncidentTables`` and ``ViolationTables``.

Each method wraps the very query its list method runs (``_incident_query``,
``_violation_query``: the same filter, the same releasability, the same views) and keeps only
the columns named here, in the list's order (start time, then id); a ``near`` filter is cut
by ``near_mask`` as the list cuts it. So a viewer gets, column by column, exactly the rows
``incidents`` / ``violations`` would list for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from truceguard.marking import Viewer
from truceguard.store.base import ObservationFilter, ViolationFilter, near_mask

# The columns returned, each with its dtype ("O": text). ``releasability`` is the marking
# of the row (as the records' field of that name), for the answer's banner.
INCIDENT_MAP_COLUMNS: dict[str, str] = {
    "incident_id": "i8", "t_start": "i8", "lon": "f8", "lat": "f8", "uncertainty_m": "f8",
    "category": "O", "grade": "O", "releasability": "O"}
VIOLATION_MAP_COLUMNS: dict[str, str] = {
    "violation_id": "i8", "incident_id": "i8", "t_start": "i8", "lon": "f8", "lat": "f8",
    "clause": "O", "p_location": "f8", "status": "O", "releasability": "O"}


class MapColumnTables:
    """The map's column reads (mixed into the SQL stores)."""

    if TYPE_CHECKING:  # provided by SQLStore
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _incident_query(self, flt: ObservationFilter, viewer: Viewer
                            ) -> tuple[str, list[Any]]: ...
        def _violation_query(self, flt: ViolationFilter, viewer: Viewer
                             ) -> tuple[str, list[Any]]: ...

    def incident_columns(self, flt: ObservationFilter, viewer: Viewer
                         ) -> dict[str, np.ndarray]:
        """The ``INCIDENT_MAP_COLUMNS`` of the incidents ``incidents(flt, viewer)`` lists, in
        its order: one array per column, all of one length."""
        sql, params = self._incident_query(flt, viewer)
        return self._map_columns(sql, params, INCIDENT_MAP_COLUMNS, "incident_id", flt.near)

    def violation_columns(self, flt: ViolationFilter, viewer: Viewer
                          ) -> dict[str, np.ndarray]:
        """The ``VIOLATION_MAP_COLUMNS`` of the violations ``violations(flt, viewer)``
        lists, in its order: one array per column, all of one length."""
        sql, params = self._violation_query(flt, viewer)
        return self._map_columns(sql, params, VIOLATION_MAP_COLUMNS, "violation_id",
                                 flt.records.near)

    def _map_columns(self, sql: str, params: list[Any], columns: dict[str, str], id_column: str,
                     near: tuple[float, float, float] | None) -> dict[str, np.ndarray]:
        # The list's query as a subquery: its select list names the columns (the marking's
        # text is ``text``); only those asked for are read out, then put in the list's order
        # here (start time, then id: unique), cheaper than the database's sort.
        names = [("text" if c == "releasability" else c) for c in columns]
        rows = self._rows(f"SELECT {', '.join('q.' + n for n in names)} FROM ({sql}) q",
                          params)
        # One structured array from the rows (numpy converts them in one pass); each column
        # is a view of it until taken in order below (a plain array then).
        table = np.array(rows, dtype=list(columns.items()))
        out = {name: table[name] for name in columns}
        keep = np.lexsort((out[id_column], out["t_start"]))
        if near is not None and len(keep):
            keep = keep[near_mask(out["lat"][keep], out["lon"][keep], near)]
        return {name: col[keep] for name, col in out.items()}


__all__ = ["INCIDENT_MAP_COLUMNS", "VIOLATION_MAP_COLUMNS", "MapColumnTables"]
