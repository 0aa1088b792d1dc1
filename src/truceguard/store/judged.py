"""Incidents and violations in the store: fusion and adjudication over stored observations.

The pure functions (``judge.fusion``, ``judge.adjudicate``) work on arrays; this module feeds
them from the store and writes their results back, so the CLI, the server and the tests share
one path.

Identity: an incident's id is the smallest ``obs_id`` among its observations. A full
recomputation and any sequence of incremental fusions therefore give the same ids for the same
incidents, and a violation (keyed by terms, incident and clause) keeps its status trail across
re-fusion as long as its incident keeps its first observation.

Releasability: an incident is marked with what every one of its observations may be released
to (the intersection of their markings): a viewer who may not see one of its reports does not
see the incident, nor its violations, so nothing leaks through counts or positions.

Violations are never deleted and their status trail is append-only: adjudicating again appends
``withdrawn`` to a violation whose incident no longer breaches the clause (merged away, moved),
and ``new`` again if it comes back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from truceguard.errors import InputError, NotFoundError
from truceguard.geo.project import UKRAINE_EAST, LocalProjection
from truceguard.judge.adjudicate import VIOLATION_STATUSES, adjudicate
from truceguard.judge.fusion import (
    FusionParams,
    Points,
    cluster_labels,
    fuse_incremental,
    summarise_incidents,
)
from truceguard.judge.grading import GradingRules, load_grading
from truceguard.judge.places import describe_locations
from truceguard.judge.terms import Terms
from truceguard.marking import most_restrictive
from truceguard.model import Viewer
from truceguard.store.base import ObservationFilter, releasability_sql
from truceguard.store.sqlite import SQLiteStore

STATUS_WITHDRAWN = "withdrawn"
ALL_STATUSES = (*VIOLATION_STATUSES, STATUS_WITHDRAWN)

_OBS_COLS = (
    "obs_id, lat, lon, uncertainty_m, t_start, t_end, category, weapon_class, source, origin, "
    "how_known, releasability, incident_id"
)


@dataclass
class FusionSummary:
    mode: str
    observations: int
    incidents: int
    changed_incidents: int
    new_observations: int
    merged: int
    seconds: float


@dataclass
class AdjudicationSummary:
    terms: str
    incidents: int
    violations: int
    new: int
    withdrawn: int
    by_clause: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _intersection(markings: list[str]) -> str:
    return most_restrictive(set(markings)).text


def _load_observation_arrays(store: SQLiteStore) -> dict[str, np.ndarray]:
    rows = store.execute(f"SELECT {_OBS_COLS} FROM observations ORDER BY obs_id").fetchall()
    names = [c.strip() for c in _OBS_COLS.split(",")]
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    out: dict[str, np.ndarray] = {}
    for name, col in zip(names, cols, strict=True):
        if name in ("obs_id",):
            out[name] = np.asarray(col, dtype=np.int64)
        elif name == "incident_id":
            out[name] = np.asarray([-1 if v is None else v for v in col], dtype=np.int64)
        elif name in ("lat", "lon", "uncertainty_m"):
            out[name] = np.asarray([np.nan if v is None else v for v in col], dtype=np.float64)
        elif name in ("t_start", "t_end"):
            out[name] = np.asarray(col, dtype=np.float64)
        else:
            out[name] = np.asarray(col, dtype=object)
    return out


def _points(a: dict[str, np.ndarray], idx: np.ndarray, proj: LocalProjection) -> Points:
    x, y = proj.forward(a["lon"][idx], a["lat"][idx])
    return Points.of(x, y, a["t_start"][idx], a["t_end"][idx], a["uncertainty_m"][idx])


def fuse_store(
    store: SQLiteStore,
    params: FusionParams | None = None,
    *,
    full: bool = False,
    rules: GradingRules | None = None,
    projection: LocalProjection = UKRAINE_EAST,
) -> FusionSummary:
    """Fuse the store's observations into incidents (incrementally unless ``full``)."""
    started = time.perf_counter()
    params = params or FusionParams()
    rules = rules or load_grading()
    a = _load_observation_arrays(store)
    n = a["obs_id"].size
    old = np.flatnonzero(a["incident_id"] >= 0)
    new = np.flatnonzero(a["incident_id"] < 0)
    last = store.execute("SELECT params FROM fusion_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    params_json = json.dumps(vars(params), sort_keys=True)
    if last is not None and last[0] != params_json:
        full = True  # other parameters: earlier incidents do not hold any more
    mode = "full" if full or old.size == 0 else "incremental"
    merged = 0
    if n == 0:
        labels = np.zeros(0, np.int64)
        affected = np.zeros(0, np.int64)
    elif mode == "full":
        labels = cluster_labels(_points(a, np.arange(n), projection), params)
        affected = np.arange(n)
    else:
        res = fuse_incremental(
            _points(a, old, projection), a["incident_id"][old], _points(a, new, projection), params
        )
        merged = len(res.merged)
        order = np.concatenate([old, new])
        labels = np.empty(n, np.int64)
        labels[order] = res.labels
        touched = set(res.labels[old.size :].tolist()) | set(res.merged.values())
        affected = np.flatnonzero(np.isin(labels, np.fromiter(touched, np.int64, len(touched))))
    # Incident id: the smallest obs_id of its members (stable across runs and modes).
    ids = np.full(int(labels.max()) + 1 if n else 0, np.iinfo(np.int64).max, np.int64)
    if n:
        np.minimum.at(ids, labels, a["obs_id"])
    inc_of = ids[labels] if n else labels
    with store.transaction():
        if mode == "full":
            store.execute("DELETE FROM incidents")
        else:
            gone = [int(i) for i in set(a["incident_id"][old].tolist()) - set(inc_of.tolist())]
            store.executemany("DELETE FROM incidents WHERE incident_id = ?", [(g,) for g in gone])
        if affected.size:
            _write_incidents(store, a, affected, inc_of[affected], rules, projection)
        changed = affected[a["incident_id"][affected] != inc_of[affected]]
        store.executemany(
            "UPDATE observations SET incident_id = ? WHERE obs_id = ?",
            zip(inc_of[changed].tolist(), a["obs_id"][changed].tolist(), strict=True),
        )
        n_inc = int(store.execute("SELECT COUNT(*) FROM incidents").fetchone()[0])
        store.execute(
            "INSERT INTO fusion_runs (at, params, mode, n_observations, n_incidents) "
            "VALUES (?,?,?,?,?)",
            (int(time.time()), params_json, mode, n, n_inc),
        )
    return FusionSummary(
        mode=mode,
        observations=n,
        incidents=n_inc,
        changed_incidents=int(np.unique(inc_of[affected]).size) if affected.size else 0,
        new_observations=int(new.size),
        merged=merged,
        seconds=time.perf_counter() - started,
    )


def _write_incidents(
    store: SQLiteStore,
    a: dict[str, np.ndarray],
    idx: np.ndarray,
    incident_ids: np.ndarray,
    rules: GradingRules,
    projection: LocalProjection,
) -> None:
    uniq, local = np.unique(incident_ids, return_inverse=True)
    recs = summarise_incidents(
        local,
        lat=a["lat"][idx],
        lon=a["lon"][idx],
        uncertainty_m=a["uncertainty_m"][idx],
        t_start=a["t_start"][idx],
        t_end=a["t_end"][idx],
        category=a["category"][idx].astype(str),
        weapon_class=a["weapon_class"][idx].astype(str),
        source=a["source"][idx].astype(str),
        origin=a["origin"][idx].astype(str),
        how_known=a["how_known"][idx].astype(str),
        rules=rules,
        projection=projection,
    )
    rel = a["releasability"][idx]
    rows = []
    for r in recs:
        members = r["observations"]
        rows.append(
            (
                int(uniq[r["incident"]]),
                r["lat"],
                r["lon"],
                r["uncertainty_m"],
                int(r["t_start"]),
                int(r["t_end"]),
                r["category"] or "other",
                json.dumps(r["category_votes"], sort_keys=True),
                r["weapon_class"] or "unknown",
                json.dumps(r["weapon_votes"], sort_keys=True),
                len(members),
                r["independent_sources"],
                r["grade"],
                r["grade_reason"],
                _intersection([str(rel[m]) for m in members]),
            )
        )
    store.executemany(
        "INSERT OR REPLACE INTO incidents (incident_id, lat, lon, uncertainty_m, t_start, t_end, "
        "category, category_votes, weapon_class, weapon_votes, n_observations, n_sources, grade, "
        "grade_reason, releasability) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )


# -- reading incidents and violations ---------------------------------------------------------

INCIDENT_COLUMNS = (
    "incident_id",
    "t_start",
    "t_end",
    "lat",
    "lon",
    "uncertainty_m",
    "category",
    "category_votes",
    "weapon_class",
    "weapon_votes",
    "n_observations",
    "n_sources",
    "grade",
    "grade_reason",
    "releasability",
)
VIOLATION_COLUMNS = (
    "violation_id",
    "terms",
    "clause",
    "severity",
    "status",
    "incident_id",
    "t_start",
    "lat",
    "lon",
    "side",
    "signed_distance_m",
    "zone",
    "location_text",
    "category",
    "weapon_class",
    "releasability",
)
_STATUS_SQL = (
    "(SELECT s.status FROM violation_status s WHERE s.violation_id = v.violation_id "
    "ORDER BY s.seq DESC LIMIT 1)"
)


def _where(flt: ObservationFilter, viewer: Viewer, alias: str) -> tuple[str, list[Any]]:
    """The observation filter applied to incidents or violations (same columns by design)."""
    sources = flt.sources
    base = ObservationFilter(
        since=flt.since, until=flt.until, bbox=flt.bbox, near=flt.near,
        categories=flt.categories,
    )
    where, params = base.to_sql(viewer, alias)
    if sources:
        where += (
            f" AND EXISTS (SELECT 1 FROM observations so WHERE so.incident_id = {alias}."
            f"incident_id AND so.source IN ({','.join('?' * len(sources))}))"
        )
        params += list(sources)
    return where, params


def _near_keep(rows: list[tuple[Any, ...]], flt: ObservationFilter, lat_i: int, lon_i: int
               ) -> list[tuple[Any, ...]]:
    if flt.near is None or not rows:
        return rows
    from truceguard.geo.sphere import haversine_m

    lat, lon, km = flt.near
    la = np.array([r[lat_i] for r in rows], float)
    lo = np.array([r[lon_i] for r in rows], float)
    keep = haversine_m(lat, lon, la, lo) <= km * 1000.0
    return [r for r, k in zip(rows, keep, strict=True) if k]


def incidents(
    store: SQLiteStore, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
) -> list[dict[str, Any]]:
    """Incidents matching the filter that the viewer may see, oldest first."""
    where, params = _where(flt, viewer, "i")
    sql = (
        f"SELECT {', '.join('i.' + c for c in INCIDENT_COLUMNS)} FROM incidents i WHERE {where} "
        "ORDER BY i.t_start, i.incident_id"
    )
    rows = _near_keep(store.execute(sql, params).fetchall(), flt, 3, 4)
    out = [dict(zip(INCIDENT_COLUMNS, r, strict=True)) for r in rows[:limit]]
    for d in out:
        d["category_votes"] = json.loads(d["category_votes"])
        d["weapon_votes"] = json.loads(d["weapon_votes"])
    return out


def incident_observation_ids(store: SQLiteStore, incident_id: int, viewer: Viewer) -> list[int]:
    rel, params = releasability_sql(viewer, "releasability")
    sql = "SELECT obs_id FROM observations WHERE incident_id = ?" + (f" AND {rel}" if rel else "")
    return [r[0] for r in store.execute(sql + " ORDER BY obs_id", [incident_id, *params])]


def violations(
    store: SQLiteStore,
    flt: ObservationFilter,
    viewer: Viewer,
    *,
    terms: str | None = None,
    clauses: tuple[str, ...] = (),
    statuses: tuple[str, ...] = (),
    include_withdrawn: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Violations matching the filter that the viewer may see, with their current status."""
    where, params = _where(flt, viewer, "v")
    cols = ", ".join(_STATUS_SQL + " AS status" if c == "status" else "v." + c
                     for c in VIOLATION_COLUMNS)
    sql = f"SELECT {cols} FROM violations v WHERE {where}"
    if terms:
        sql += " AND v.terms = ?"
        params.append(terms)
    if clauses:
        sql += f" AND v.clause IN ({','.join('?' * len(clauses))})"
        params += list(clauses)
    sql += " ORDER BY v.t_start, v.violation_id"
    rows = _near_keep(store.execute(sql, params).fetchall(), flt, 7, 8)
    out = [dict(zip(VIOLATION_COLUMNS, r, strict=True)) for r in rows]
    if statuses:
        out = [d for d in out if d["status"] in statuses]
    elif not include_withdrawn:
        out = [d for d in out if d["status"] != STATUS_WITHDRAWN]
    return out[:limit]


def iter_status_trail(store: SQLiteStore, violation_id: int) -> Iterator[dict[str, Any]]:
    cur = store.execute(
        "SELECT seq, at, status, who, why FROM violation_status WHERE violation_id = ? "
        "ORDER BY seq",
        (violation_id,),
    )
    for seq, at, status, who, why in cur:
        yield {"seq": seq, "at": at, "status": status, "who": who, "why": why}


def set_violation_status(
    store: SQLiteStore, violation_id: int, status: str, who: str, why: str
) -> dict[str, Any]:
    """Append a status change (who decided, and why) to a violation's trail."""
    if status not in VIOLATION_STATUSES:
        raise InputError(f"status {status!r}: expected one of {', '.join(VIOLATION_STATUSES)}")
    if not who.strip() or not why.strip():
        raise InputError("a status change needs who decided it and why")
    row = store.execute(
        "SELECT violation_id FROM violations WHERE violation_id = ?", (violation_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no violation {violation_id}")
    with store.transaction():
        store.execute(
            "INSERT INTO violation_status (violation_id, at, status, who, why) VALUES (?,?,?,?,?)",
            (violation_id, int(time.time()), status, who.strip(), why.strip()),
        )
    return {"violation_id": violation_id, "trail": list(iter_status_trail(store, violation_id))}


# -- adjudication ----------------------------------------------------------------------------


def adjudicate_store(store: SQLiteStore, terms: Terms) -> AdjudicationSummary:
    """Judge every incident in the store against ``terms``; record new and withdrawn breaches."""
    started = time.perf_counter()
    rows = store.execute(
        "SELECT incident_id, lat, lon, t_start, category, weapon_class, releasability "
        "FROM incidents ORDER BY incident_id"
    ).fetchall()
    now = int(time.time())
    existing = {
        (inc, clause): (vid, status)
        for vid, inc, clause, status in store.execute(
            f"SELECT v.violation_id, v.incident_id, v.clause, {_STATUS_SQL} FROM violations v "
            "WHERE v.terms = ?",
            (terms.name,),
        )
    }
    summary = AdjudicationSummary(terms=terms.name, incidents=len(rows), violations=0, new=0,
                                  withdrawn=0)
    current: set[tuple[int, str]] = set()
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    if rows:
        inc_id, lat, lon, t0, cat, wpn, rel = (list(c) for c in zip(*rows, strict=True))
        adj = adjudicate(terms, lon, lat, t0, cat, wpn)
        hit = np.unique(adj.incident)
        texts = dict(zip(hit.tolist(),
                         describe_locations(np.asarray(lon)[hit], np.asarray(lat)[hit], terms),
                         strict=True))
        p = adj.placement
        for i, c, s in zip(adj.incident.tolist(), adj.clause.tolist(), adj.severity.tolist(),
                           strict=True):
            clause = adj.clause_ids[c]
            side = adj.side_ids[int(p.side[i])]
            zone = adj.zone_ids[int(p.zone[i])] if p.zone[i] >= 0 else ""
            key = (int(inc_id[i]), clause)
            current.add(key)
            values = (int(s), side, float(p.signed_m[i]), zone, texts[i], int(t0[i]),
                      float(lat[i]), float(lon[i]), cat[i], wpn[i], rel[i])
            if key in existing:
                updates.append((*values, existing[key][0]))
            else:
                inserts.append((terms.name, key[0], clause, *values, now))
            summary.by_clause[clause] = summary.by_clause.get(clause, 0) + 1
    with store.transaction():
        store.executemany(
            "INSERT INTO violations (terms, incident_id, clause, severity, side, "
            "signed_distance_m, zone, location_text, t_start, lat, lon, category, weapon_class, "
            "releasability, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            inserts,
        )
        store.executemany(
            "UPDATE violations SET severity=?, side=?, signed_distance_m=?, zone=?, "
            "location_text=?, t_start=?, lat=?, lon=?, category=?, weapon_class=?, "
            "releasability=? WHERE violation_id=?",
            updates,
        )
        trail: list[tuple[Any, ...]] = []
        ids = {
            (inc, clause): vid
            for vid, inc, clause in store.execute(
                "SELECT violation_id, incident_id, clause FROM violations WHERE terms = ?",
                (terms.name,),
            )
        }
        why_new = f"adjudicated against {terms.name}"
        for key in current:
            prior = existing.get(key)
            if prior is None or prior[1] == STATUS_WITHDRAWN:
                trail.append((ids[key], now, "new", "truceguard", why_new))
                summary.new += 1
        for key, (vid, status) in existing.items():
            if key not in current and status != STATUS_WITHDRAWN:
                trail.append((vid, now, STATUS_WITHDRAWN, "truceguard",
                              "the incident no longer breaches this clause (re-fused or moved)"))
                summary.withdrawn += 1
        store.executemany(
            "INSERT INTO violation_status (violation_id, at, status, who, why) VALUES (?,?,?,?,?)",
            trail,
        )
    summary.violations = len(current)
    summary.seconds = time.perf_counter() - started
    return summary
