"""The violations in the store: judged views, their status trails, the terms judged against.
A mixin of ``SQLStore`` (the same SQL on both backends).

A violation is keyed by terms version, incident view and clause (``violation_keys``); judging
again updates its figures and appends to its trail, never edits the trail
(``write_violations``). A viewer sees a violation only through the incident view built from
the reports it may see (``SQLStore._visible_views``); the owner also sees violations whose view
has since been replaced. ``lock_violation`` serialises two reviewers of one violation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from truceguard.errors import NotFoundError
from truceguard.marking import Viewer
from truceguard.model import StatusChange, Violation, utc_now
from truceguard.store.base import JudgedViolation, ViolationFilter, near_mask

_VIOLATION_COLS = ("violation_id", "terms", "terms_version", "clause", "severity", "status",
                   "incident_id", "t_start", "t_end", "lat", "lon", "uncertainty_m",
                   "controlled_by", "p_side", "signed_distance_m", "zone", "p_location",
                   "location_text", "category", "weapon_class", "fired_from", "p_fired_from")
_VIOLATION_WRITE = ("severity", "controlled_by", "p_side", "signed_distance_m", "zone",
                    "p_location", "location_text", "t_start", "t_end", "lat", "lon",
                    "uncertainty_m", "category", "weapon_class", "fired_from", "p_fired_from")
_CHUNK = 500  # values in one IN (...) list


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``size`` (one ``IN (...)`` list each)."""
    for at in range(0, len(values), size):
        yield values[at : at + size]


def placeholders(n: int) -> str:
    """``n`` parameter marks for an ``IN (...)`` list."""
    return ",".join("?" * n)


class ViolationTables:
    """Violations, their trails and the terms judged against (mixed into ``SQLStore``)."""

    if TYPE_CHECKING:  # provided by SQLStore
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _exec(self, sql: str, params: Sequence[Any] = ()) -> int: ...
        def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
        def _one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        def _meta(self, key: str) -> str | None: ...
        def _set_meta(self, key: str, value: str) -> None: ...
        def transaction(self) -> AbstractContextManager[None]: ...
        def _visible_views(self, viewer: Viewer, alias: str) -> tuple[str, list[Any]]: ...
        def _source_condition(self, sources: Sequence[str], viewer: Viewer, alias: str
                              ) -> tuple[str, list[Any]]: ...

    def violation_keys(self, terms: str, incident_ids: Sequence[int] | None = None
                       ) -> dict[tuple[str, int, str, str], tuple[int, str]]:
        """(version, incident, view, clause) -> (violation id, current status) for ``terms``
        (all its violations, or those of the incidents ``incident_ids``, parts included)."""
        select = ("SELECT violation_id, terms_version, incident_id, sig, clause, status "
                  "FROM violations WHERE terms = ?")
        if incident_ids is None:
            rows = self._rows(select, (terms,))
        else:
            rows = []
            for part in chunks(sorted(set(int(i) for i in incident_ids))):
                rows += self._rows(f"{select} AND parent_id IN ({placeholders(len(part))})",
                                   [terms, *part])
        return {(str(ver), int(inc), str(sig), str(cl)): (int(vid), str(st))
                for vid, ver, inc, sig, cl, st in rows}

    def write_violations(self, inserts: Sequence[JudgedViolation],
                         updates: Sequence[tuple[int, JudgedViolation]],
                         trail: Sequence[tuple[int | tuple[str, int, str, str], StatusChange]],
                         ) -> None:
        """Store new violations, refresh changed ones and append status changes, in one
        transaction. A trail entry names its violation by id, or by its key (terms version,
        incident, view, clause) when it is one of ``inserts``."""
        now = utc_now()
        with self.transaction():
            self._many(
                "INSERT INTO violations (terms, terms_version, incident_id, sig, clause, status, "
                "marking_id, created_at, parent_id, " + ", ".join(_VIOLATION_WRITE)
                + ") VALUES (" + placeholders(9 + len(_VIOLATION_WRITE)) + ")",
                [(j.violation.terms, j.violation.terms_version, j.violation.incident_id, j.sig,
                  j.violation.clause, j.violation.status, j.marking_id, now,
                  j.parent_id or j.violation.incident_id,
                  *(getattr(j.violation, c) for c in _VIOLATION_WRITE)) for j in inserts])
            self._many(
                "UPDATE violations SET " + ", ".join(f"{c} = ?" for c in _VIOLATION_WRITE)
                + ", marking_id = ?, parent_id = ? WHERE violation_id = ?",
                [(*(getattr(j.violation, c) for c in _VIOLATION_WRITE), j.marking_id,
                  j.parent_id or j.violation.incident_id, vid) for vid, j in updates])
            if not trail:
                return
            ids: dict[tuple[str, int, str, str], int] = {}
            if any(not isinstance(ref, int) for ref, _ in trail):
                terms = {j.violation.terms for j in inserts}
                incs = sorted({j.parent_id or j.violation.incident_id for j in inserts})
                for t in terms:
                    ids.update({k: v[0] for k, v in self.violation_keys(t, incs).items()})
            resolved = [(ref if isinstance(ref, int) else ids[ref], ch) for ref, ch in trail]
            self._many("INSERT INTO violation_status (violation_id, at, status, who, why) "
                       "VALUES (?,?,?,?,?)",
                       [(vid, ch.at, ch.status, ch.who, ch.why) for vid, ch in resolved])
            self._many("UPDATE violations SET status = ? WHERE violation_id = ?",
                       [(ch.status, vid) for vid, ch in resolved])

    def _violation_query(self, flt: ViolationFilter, viewer: Viewer) -> tuple[str, list[Any]]:
        where, params = flt.records.where("v", id_column="violation_id")
        view, vparams = self._visible_views(viewer, "iv")
        if viewer.sees_all:
            # The owner also sees violations whose view a fusion or a marking change has
            # since replaced (withdrawn, or awaiting the next adjudication); nobody else does:
            # the reports behind them may no longer be releasable to anyone else.
            view = f"({view}) OR iv.incident_id IS NULL"
        where.append(f"({view})")
        params += vparams
        if flt.records.sources:
            src, sparams = self._source_condition(flt.records.sources, viewer, "iv")
            where.append(src)
            params += sparams
        if flt.terms:
            where.append("v.terms = ?")
            params.append(flt.terms)
        if flt.clauses:
            where.append(f"v.clause IN ({placeholders(len(flt.clauses))})")
            params += list(flt.clauses)
        if flt.statuses:
            where.append(f"v.status IN ({placeholders(len(flt.statuses))})")
            params += list(flt.statuses)
        elif not flt.include_withdrawn:
            where.append("v.status <> 'withdrawn'")
        if flt.min_p_location > 0:
            where.append("v.p_location >= ?")
            params.append(flt.min_p_location)
        cols = ", ".join("v." + c for c in _VIOLATION_COLS)
        return (f"SELECT {cols}, m.text FROM violations v LEFT JOIN incident_views iv ON "
                "iv.incident_id = v.incident_id AND iv.sig = v.sig JOIN markings m ON "
                f"m.marking_id = v.marking_id WHERE {' AND '.join(where)}"), params

    def violations(self, flt: ViolationFilter, viewer: Viewer, limit: int | None = None
                   ) -> list[Violation]:
        sql, params = self._violation_query(flt, viewer)
        sql += " ORDER BY v.t_start, v.violation_id"
        near = flt.records.near
        if limit is not None and near is None:
            sql += f" LIMIT {int(limit)}"
        rows = self._rows(sql, params)
        if near is not None:
            keep = near_mask([r[9] for r in rows], [r[10] for r in rows], near)
            rows = [r for r, k in zip(rows, keep, strict=True) if k][:limit]
        return [_violation(r) for r in rows]

    def get_violation(self, violation_id: int, viewer: Viewer) -> Violation | None:
        sql, params = self._violation_query(ViolationFilter(include_withdrawn=True), viewer)
        rows = self._rows(sql + " AND v.violation_id = ?", [*params, violation_id])
        return _violation(rows[0]) if rows else None

    def append_status(self, violation_id: int, change: StatusChange) -> None:
        with self.transaction():
            if self._one("SELECT 1 FROM violations WHERE violation_id = ?",
                         (violation_id,)) is None:
                raise NotFoundError(f"no violation {violation_id}",
                                    hint="list them with `truceguard violations`",
                                    code="not_found.violation")
            self._exec("INSERT INTO violation_status (violation_id, at, status, who, why) "
                       "VALUES (?,?,?,?,?)",
                       (violation_id, change.at, change.status, change.who, change.why))
            self._exec("UPDATE violations SET status = ? WHERE violation_id = ?",
                       (change.status, violation_id))

    def status_trail(self, violation_id: int) -> list[StatusChange]:
        return [StatusChange(int(s), int(a), st, w, y) for s, a, st, w, y in self._rows(
            "SELECT seq, at, status, who, why FROM violation_status WHERE violation_id = ? "
            "ORDER BY seq", (violation_id,))]

    def lock_violation(self, violation_id: int) -> str:
        """Inside a transaction: keep every other writer from changing violation
        ``violation_id`` until it ends, and return its current status (read after the lock
        is held). A no-op UPDATE takes the row lock on PostgreSQL; SQLite's write transaction
        already holds the whole database."""
        with self.transaction():
            if not self._exec("UPDATE violations SET status = status WHERE violation_id = ?",
                              (violation_id,)):
                raise NotFoundError(f"no violation {violation_id}",
                                    hint="list them with `truceguard violations`",
                                    code="not_found.violation")
            return str(self._one("SELECT status FROM violations WHERE violation_id = ?",
                                 (violation_id,)))

    def latest_status(self, violation_ids: Sequence[int]) -> dict[int, StatusChange]:
        """The latest entry of each violation's status trail (who made it what it is now)."""
        out: dict[int, StatusChange] = {}
        for part in chunks(sorted({int(i) for i in violation_ids})):
            for vid, s, a, st, w, y in self._rows(
                    "SELECT s.violation_id, s.seq, s.at, s.status, s.who, s.why FROM "
                    f"violation_status s WHERE s.violation_id IN ({placeholders(len(part))}) AND "
                    "s.seq = (SELECT MAX(t.seq) FROM violation_status t WHERE "
                    "t.violation_id = s.violation_id)", part):
                out[int(vid)] = StatusChange(int(s), int(a), str(st), str(w), str(y))
        return out

    def adjudicated_terms(self) -> dict[str, str]:
        """Terms this store was judged against, with the version judged last (whether or not
        any violation came of it, and whoever may see the violations)."""
        return {str(k)[len("judged:"):]: str(v) for k, v in self._rows(
            "SELECT key, value FROM meta WHERE key LIKE 'judged:%' ORDER BY key")}

    def record_judged(self, terms: str, version: str) -> None:
        """Note that the store was judged against ``terms`` (``adjudicated_terms``)."""
        with self.transaction():
            self._set_meta(f"judged:{terms}", version)


def _violation(r: Sequence[Any]) -> Violation:
    return Violation(**dict(zip(_VIOLATION_COLS, r[:-1], strict=True)), releasability=r[-1])
