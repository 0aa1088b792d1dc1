"""Incidents in the store: each fusion's incidents as views, one per set of observations some
viewer may see (``truceguard.pipeline``), and the arrays fusion and judging read. A mixin of
``SQLStore`` (the same SQL on both backends).

``write_fusion`` replaces the views of the incidents a fusion touched, with their summary states
(``incident_sums``: one ``judge.incident_summary.SummaryState`` per incident and marking of its
observations, from which a live step updates an incident without reading its reports again),
in one transaction; ``incidents`` shows a viewer, per incident, the one view built from the
reports it may see (``SQLStore._visible_views``), parts of split views included.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from truceguard.marking import Viewer
from truceguard.model import Incident, Observation, utc_now
from truceguard.store.base import FusionRun, IncidentView, JsonState, ObservationFilter, near_mask
from truceguard.store.violations import chunks as _chunks
from truceguard.store.violations import placeholders as _marks

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_INCIDENT_COLS = ("incident_id", "t_start", "t_end", "lat", "lon", "uncertainty_m", "category",
                  "category_votes", "weapon_class", "weapon_votes", "n_observations",
                  "n_sources", "grade", "grade_reason")


class IncidentTables:
    """Fusion's inputs and results: observations as arrays, incident views (mixed into
    ``SQLStore``)."""

    if TYPE_CHECKING:  # provided by SQLStore
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _exec(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
        def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        def transaction(self) -> AbstractContextManager[None]: ...
        def visible_markings(self, viewer: Viewer) -> list[int] | None: ...
        def _visible_views(self, viewer: Viewer, alias: str) -> tuple[str, list[Any]]: ...

    def fusion_arrays(self, *, unfused: bool = False,
                      window: tuple[float, float, float, float, float, float] | None = None,
                      incident_ids: Sequence[int] = ()) -> dict[str, np.ndarray]:
        """Observations' fusion inputs as arrays, by obs_id: all of them, or the union of the
        unfused ones, the fused ones inside ``window`` (west, south, east, north, earliest
        end, latest start) and every member of ``incident_ids``. ``report`` is 1 for a
        monitor's report."""
        names = ("obs_id", "lat", "lon", "uncertainty_m", "t_start", "t_end", "category",
                 "weapon_class", "source", "origin", "how_known", "marking_id", "incident_id",
                 "curated", "report")
        select = (f"SELECT {', '.join(names[:-1])}, CASE WHEN kind IS NULL THEN 0 ELSE 1 END "
                  "FROM observations")
        parts: list[tuple[str, list[Any]]] = []
        if unfused:
            parts.append((f"{select} WHERE incident_id IS NULL", []))
        if window is not None:
            w, so, e, n, t_lo, t_hi = window
            parts.append((f"{select} WHERE incident_id IS NOT NULL AND lat BETWEEN ? AND ? "
                          "AND lon BETWEEN ? AND ? AND t_start <= ? AND t_end >= ?",
                          [so, n, w, e, t_hi, t_lo]))
        for part in _chunks(sorted(set(int(i) for i in incident_ids))):
            parts.append((f"{select} WHERE incident_id IN ({_marks(len(part))})", list(part)))
        if not (unfused or window is not None or incident_ids):
            parts.append((select, []))
        seen: dict[int, tuple[Any, ...]] = {}
        for sql, params in parts:
            for r in self._rows(sql, params):
                seen[int(r[0])] = r
        rows = [seen[k] for k in sorted(seen)]
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        out: dict[str, np.ndarray] = {}
        for name, col in zip(names, cols, strict=True):
            if name in ("obs_id", "marking_id", "curated", "report"):
                out[name] = np.asarray(col, dtype=np.int64)
            elif name == "incident_id":
                out[name] = np.asarray([-1 if v is None else v for v in col], dtype=np.int64)
            elif name in ("lat", "lon", "uncertainty_m", "t_start", "t_end"):
                out[name] = np.asarray([np.nan if v is None else v for v in col], np.float64)
            else:
                out[name] = np.asarray(col, dtype=object)
        return out

    def last_fusion_params(self) -> str | None:
        v = self._one("SELECT params FROM fusion_runs ORDER BY run_id DESC LIMIT 1")
        return None if v is None else str(v)

    def write_fusion(self, run: FusionRun, removed: Sequence[int], obs_ids: np.ndarray,
                     incident_ids: np.ndarray, views: Sequence[IncidentView], *,
                     states: Sequence[tuple[int, int, JsonState]] = (),
                     relabel: Sequence[tuple[int, int]] = ()) -> int:
        """Record a fusion in one transaction: drop the views and summary states of
        ``removed`` incidents and of every incident in ``views``, point the observations at
        their incidents (every member of incident ``a`` at ``b`` for each ``(a, b)`` of
        ``relabel``, then ``obs_ids`` at ``incident_ids``), store the views and ``states``
        (incident, marking id, state). Returns the number of incidents."""
        rewritten = sorted({int(i) for i in removed}
                           | {v.parent_id or v.incident.incident_id for v in views}
                           | {int(i) for i, _, _ in states})
        with self.transaction():
            if run.mode == "full":
                self._exec("DELETE FROM incident_views")
                self._exec("DELETE FROM incident_sums")
                self._exec("DELETE FROM marking_sets")
            else:
                for part in _chunks(rewritten):
                    self._exec(f"DELETE FROM incident_views WHERE parent_id IN "
                               f"({_marks(len(part))})", part)
                    self._exec(f"DELETE FROM incident_sums WHERE parent_id IN "
                               f"({_marks(len(part))})", part)
            self._many("UPDATE observations SET incident_id = ? WHERE incident_id = ?",
                       [(int(b), int(a)) for a, b in relabel])
            self._many("UPDATE observations SET incident_id = ? WHERE obs_id = ?",
                       list(zip(incident_ids.tolist(), obs_ids.tolist(), strict=True)))
            self._many(
                "INSERT INTO incident_views (incident_id, sig, set_key, view_key, marking_id, "
                + ", ".join(_INCIDENT_COLS[1:]) + ", parent_id, members) VALUES ("
                + _marks(5 + len(_INCIDENT_COLS) - 1 + 2) + ")",
                [_view_row(v) for v in views])
            self._many("INSERT INTO incident_sums (parent_id, marking_id, state) VALUES (?,?,?)",
                       [(int(i), int(m), _JSON.encode(st.as_json())) for i, m, st in states])
            self._many("INSERT INTO marking_sets (set_key) VALUES (?) ON CONFLICT DO NOTHING",
                       [(k,) for k in sorted({v.set_key for v in views})])
            n = int(self._one("SELECT COUNT(*) FROM incident_views WHERE sig = set_key"))
            self._exec("INSERT INTO fusion_runs (at, params, mode, n_observations, n_incidents) "
                       "VALUES (?,?,?,?,?)", (utc_now(), run.params, run.mode,
                                              run.n_observations, n))
        return n

    def summary_states(self, incident_ids: Sequence[int]
                       ) -> dict[int, dict[int, dict[str, Any]]]:
        """The stored summary states (their JSON) of those of ``incident_ids`` whose views
        are in place (a marking change drops an incident's views: its states no longer hold),
        by incident and marking id."""
        out: dict[int, dict[int, dict[str, Any]]] = {}
        for part in _chunks(sorted(set(int(i) for i in incident_ids))):
            for parent, mark, state in self._rows(
                    f"SELECT s.parent_id, s.marking_id, s.state FROM incident_sums s WHERE "
                    f"s.parent_id IN ({_marks(len(part))}) AND EXISTS (SELECT 1 FROM "
                    "incident_views v WHERE v.parent_id = s.parent_id)", part):
                out.setdefault(int(parent), {})[int(mark)] = json.loads(state)
        return out

    def monitor_reports(self, incident_ids: Sequence[int]) -> list[tuple[int, Observation]]:
        """(marking id, observation) of every monitor's report fused into the incidents
        ``incident_ids``, by obs_id."""
        from truceguard.store.sql import _SELECT_OBS, _observation

        out: list[tuple[int, Observation]] = []
        select = _SELECT_OBS.replace("SELECT ", "SELECT o.marking_id, ", 1)
        for part in _chunks(sorted(set(int(i) for i in incident_ids))):
            for r in self._rows(f"{select} WHERE o.incident_id IN ({_marks(len(part))}) AND "
                                "o.kind IS NOT NULL ORDER BY o.obs_id", part):
                out.append((int(r[0]), _observation(r[1:])))
        out.sort(key=lambda mo: mo[1].obs_id or 0)
        return out

    def _incident_query(self, flt: ObservationFilter, viewer: Viewer) -> tuple[str, list[Any]]:
        where, params = flt.where("i", id_column="incident_id")
        view, vparams = self._visible_views(viewer, "i")
        where.append(view)
        params += vparams
        if flt.sources:
            src, sparams = self._source_condition(flt.sources, viewer, "i")
            where.append(src)
            params += sparams
        cols = ", ".join("i." + c for c in _INCIDENT_COLS)
        return (f"SELECT {cols}, m.text FROM incident_views i JOIN markings m ON "
                f"m.marking_id = i.marking_id WHERE {' AND '.join(where)}"), params

    def _source_condition(self, sources: Sequence[str], viewer: Viewer, alias: str
                          ) -> tuple[str, list[Any]]:
        visible = self.visible_markings(viewer)
        cond = (f"EXISTS (SELECT 1 FROM observations so WHERE so.incident_id = {alias}."
                f"parent_id AND (({alias}.members = '') OR (',' || {alias}.members || ',') "
                "LIKE '%,' || CAST(so.obs_id AS TEXT) || ',%') AND so.source IN "
                f"({_marks(len(sources))})")
        params: list[Any] = list(sources)
        if visible is not None:
            cond += f" AND so.marking_id IN ({_marks(len(visible))})"
            params += visible
        return cond + ")", params

    def incidents(self, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
                  ) -> list[Incident]:
        sql, params = self._incident_query(flt, viewer)
        sql += " ORDER BY i.t_start, i.incident_id"
        if limit is not None and flt.near is None:
            sql += f" LIMIT {int(limit)}"
        rows = self._rows(sql, params)
        if flt.near is not None:
            keep = near_mask([r[3] for r in rows], [r[4] for r in rows], flt.near)
            rows = [r for r, k in zip(rows, keep, strict=True) if k][:limit]
        return [_incident(r) for r in rows]

    def get_incident(self, incident_id: int, viewer: Viewer) -> Incident | None:
        found = self.incidents(ObservationFilter(incident_id=incident_id), viewer)
        return found[0] if found else None

    def count_incidents(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM incident_views WHERE sig = set_key"))

    def view_arrays(self, incident_ids: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Incident views' judging inputs as arrays, by incident and view (all of them, or
        those of the incidents ``incident_ids``, parts of split views included)."""
        names = ("incident_id", "sig", "marking_id", "lat", "lon", "uncertainty_m", "t_start",
                 "t_end", "category", "weapon_class", "parent_id", "members")
        select = f"SELECT {', '.join(names)} FROM incident_views"
        if incident_ids is None:
            rows = self._rows(f"{select} ORDER BY incident_id, sig")
        else:
            rows = []
            for part in _chunks(sorted(set(int(i) for i in incident_ids))):
                rows += self._rows(f"{select} WHERE parent_id IN ({_marks(len(part))})", part)
            rows.sort(key=lambda r: (r[0], r[1]))
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        out: dict[str, np.ndarray] = {}
        for name, col in zip(names, cols, strict=True):
            if name in ("incident_id", "marking_id", "t_start", "t_end", "parent_id"):
                out[name] = np.asarray(col, dtype=np.int64)
            elif name in ("lat", "lon", "uncertainty_m"):
                out[name] = np.asarray(col, dtype=np.float64)
            else:
                out[name] = np.asarray(col, dtype=object)
        return out


def _view_row(v: IncidentView) -> tuple[Any, ...]:
    i = v.incident
    return (i.incident_id, v.sig, v.set_key, f"{v.set_key}|{v.sig}", v.marking_id,
            i.t_start, i.t_end, i.lat, i.lon, i.uncertainty_m, i.category,
            _JSON.encode(i.category_votes), i.weapon_class, _JSON.encode(i.weapon_votes),
            i.n_observations, i.n_sources, i.grade, i.grade_reason,
            v.parent_id or i.incident_id, ",".join(str(m) for m in v.members))


def _incident(r: Sequence[Any]) -> Incident:
    d = dict(zip(_INCIDENT_COLS, r[:-1], strict=True))
    d["category_votes"] = json.loads(d["category_votes"])
    d["weapon_votes"] = json.loads(d["weapon_votes"])
    return Incident(**d, releasability=r[-1])
