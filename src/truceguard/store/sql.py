"""The Store protocol in SQL that SQLite and PostgreSQL both speak.

``SQLStore`` holds every query, the connection of each thread, transactions and the forward
migrations; a backend subclass gives it new connections (``_connect``), its way of telling an
open transaction (``_in_transaction``), of finding its schema (``_has_schema``,
``_existing_indexes``) and of keeping other processes out of a migration (``_lock_schema``),
its parameter style (``_sql``, from the ``?`` every query is written with), ``bulk_load``,
``ingest_stream`` and ``checkpoint`` (its own tuning) and the bulk insert of observation
columns (``_insert_observation_rows``). So one filter compiler, one releasability rule and one
set of statements serve both backends.

Connections are held for a span of work (``_hold``): each statement, each transaction, each
lent connection. SQLite keeps one connection per thread, so holding is nothing there; the
PostgreSQL backend borrows a connection from its pool for the span and gives it back at the end.

Releasability in SQL (see ``store.base``): a viewer's visible marking ids come from
``marking_codes`` (exact codes); observations match ``marking_id IN (...)``; incident views
match ``view_key IN (...)``, the key of the one view per incident computed from exactly the
observations that viewer may see.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Self

from truceguard.errors import InputError, NotFoundError, SchemaVersionError
from truceguard.io.columns import (
    FIELDS,
    REPORT_COLUMNS,
    REPORT_DETAIL,
    ObservationColumns,
    pop_report,
)
from truceguard.marking import PUBLIC, Marking, Viewer, parse_marking
from truceguard.model import (
    IngestSummary,
    Observation,
    utc_now,
)
from truceguard.store.base import (
    Conflict,
    IngestCounts,
    ObservationFilter,
    near_mask,
)
from truceguard.store.incidents import IncidentTables
from truceguard.store.mission import MissionTables
from truceguard.store.schema import BULK_LOAD_DROPS, MIGRATIONS, SECONDARY_INDEXES
from truceguard.store.violations import ViolationTables
from truceguard.store.violations import chunks as _chunks
from truceguard.store.violations import placeholders as _marks

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_HELD = contextlib.nullcontext()  # a thread's own connection: held for as long as it lives
PUBLIC_ID = 1

# Stored observation columns, in insert order: the reader's fields with the marking as its id.
OBS_INSERT = (*(f if f != "releasability" else "marking_id" for f in FIELDS), "reader", "curated")
# Read back in this order (``_observation``): id, fields, marking text, incident.
_OBS_READ = ("obs_id", *(f for f in FIELDS if f not in ("dedup_key", "releasability")))
_SELECT_OBS = (
    "SELECT " + ", ".join("o." + c for c in _OBS_READ) + ", m.text, o.incident_id "
    "FROM observations o JOIN markings m ON m.marking_id = o.marking_id"
)
# What makes two records under one identity the same record: what was observed, where, when
# and how, as parsed. (The raw text may differ between two exports of the same dataset, say
# in their date format or encoding; so may the free text, which curators reword: in the
# shipped UCDP exports 142 events differ only in it, 114 of them only by capitals. A
# record that differs here is a conflict, kept for review.)
# A monitor's report is part of what was observed: all of its stored fields count.
SAME_RECORD = ("source", "how_known", "t_start", "t_end", "time_precision_s", "lat", "lon",
               "uncertainty_m", "category", "weapon_class", "count", "origin", "source_ref",
               *REPORT_COLUMNS, REPORT_DETAIL)


def _observation(r: Sequence[Any]) -> Observation:
    d = dict(zip(_OBS_READ, r[: len(_OBS_READ)], strict=True))
    attrs = d.pop("attributes")
    report = pop_report(d)
    return Observation(**d, releasability=r[-2], incident_id=r[-1],
                       attributes=json.loads(attrs) if attrs else {}, report=report)


class SQLStore(IncidentTables, ViolationTables, MissionTables):
    """The queries of the Store protocol (and the mission server's tables,
    ``store.mission``); a backend supplies connections and bulk paths.

    Connections: each thread gets its own (``_connect``) on first use, so a server's threads
    share one store object; a thread may lend its connection, and with it its open
    transaction, to a helper thread it started (``lend_connection``)."""

    backend = "sql"
    path = ""
    busy_timeout_s: float | None = None  # how long to wait for another writer's lock
    _begin = "BEGIN"  # how a backend starts a write transaction

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._marking_ids: dict[str, int] = {}
        self._local = threading.local()
        self._lent: dict[int, Any] = {}
        self._all: list[Any] = []

    # -- what a backend supplies ------------------------------------------------------------
    def _connect(self) -> Any:  # a new DB-API connection, in autocommit mode
        raise NotImplementedError

    def _in_transaction(self, conn: Any) -> bool:
        raise NotImplementedError

    def _has_schema(self) -> bool:  # whether schema_migrations exists
        raise NotImplementedError

    def _existing_indexes(self) -> set[str]:
        raise NotImplementedError

    def _lock_schema(self) -> None:
        """Inside a transaction: keep other processes from changing the schema until it ends
        (SQLite's write transaction already does)."""

    def _lock_append(self, name: str) -> None:
        """Inside a transaction: be the only writer of ``name`` (a chained log, the records
        received from partners) until it ends (SQLite's write transaction already is)."""

    def _sql(self, sql: str) -> str:  # the backend's parameter style
        return sql

    def _insert_observation_rows(self, batch: ObservationColumns, marking_ids: list[int] | int,
                                 reader: str, curated: bool) -> int:
        raise NotImplementedError

    def _hold(self) -> contextlib.AbstractContextManager[None]:
        """Keep this thread's connection for the span of a ``with`` block (nested spans share
        it): a backend that lends connections from a pool borrows one for the outermost span
        and gives it back at its end. Every thread keeps its own connection here."""
        return _HELD

    def _write_turn(self, conn: Any) -> contextlib.AbstractContextManager[None]:
        """The span of one write transaction on ``conn``: a backend whose writers in one
        process must queue for the write lock waits for its turn here (SQLite,
        ``store.turns``). The others go straight to the database's own locks."""
        return _HELD

    # -- connections and transactions -----------------------------------------------------
    def _set_wait(self, conn: Any) -> None:  # the backend's lock wait on a connection
        raise NotImplementedError

    def set_busy_timeout(self, seconds: float) -> None:
        """Wait at most ``seconds`` for another writer's lock from now on (then
        ``StoreBusyError``): connections opened later, and this thread's."""
        if seconds <= 0:
            raise ValueError("the busy timeout must be > 0 seconds")
        self.busy_timeout_s = float(seconds)
        self._set_wait(self._db())

    def _db(self) -> Any:
        """This thread's connection (or the one lent to it)."""
        lent = self._lent.get(threading.get_ident())
        if lent is not None:
            return lent
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            with self._lock:
                self._all.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def lend_connection(self, thread: threading.Thread) -> Iterator[None]:
        """Let ``thread`` use this thread's connection (and transaction) meanwhile."""
        if thread.ident is None:
            raise RuntimeError("start the thread before lending it a connection")
        with self._hold():
            self._lent[thread.ident] = self._db()
            try:
                yield
            finally:
                self._lent.pop(thread.ident, None)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction: committed on normal exit, rolled back on an exception. Inside
        another one it is part of that one. An outermost one takes its write turn first
        (``_write_turn``) and gives it up when it ends."""
        with self._hold():
            conn = self._db()
            if self._in_transaction(conn):
                yield
                return
            with self._write_turn(conn):
                conn.execute(self._begin)
                try:
                    yield
                except BaseException:
                    if self._in_transaction(conn):
                        conn.execute("ROLLBACK")
                    self._marking_ids.clear()  # ids handed out inside it may be gone
                    raise
                conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one SQL statement (``?`` parameters) on this thread's connection; returns the
        cursor, its rows fetched (tests and maintenance; not part of the protocol)."""
        with self._hold():
            return self._db().execute(self._sql(sql), tuple(params))

    # -- schema -----------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self._has_schema():
            return 0
        return int(self._one("SELECT MAX(version) FROM schema_migrations") or 0)

    def migrate(self, target: int | None = None) -> int:
        """Apply every forward migration up to ``target`` (default: the latest), each in one
        transaction; one that another process applied meanwhile is skipped."""
        current = self.schema_version()
        latest = len(MIGRATIONS)
        if current > latest:
            raise SchemaVersionError(
                f"{self.path}: schema version {current} is newer than this truceguard knows "
                f"({latest})")
        goal = latest if target is None else target
        for version in range(current + 1, goal + 1):
            with self.transaction():
                self._lock_schema()
                if self.schema_version() >= version:  # another process got there first
                    continue
                migration = MIGRATIONS[version - 1]
                conn = self._db()
                for statement in migration.statements(self.backend):
                    conn.execute(statement)
                if migration.python is not None:
                    migration.python(self._run)
                self._exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                           (version, utc_now()))
        return goal

    def ensure_indexes(self) -> None:
        """Create any secondary index that is missing (a bulk load drops them and builds them
        again at its end; a load killed meanwhile leaves them missing)."""
        missing = [n for n in SECONDARY_INDEXES if n not in self._existing_indexes()]
        if not missing:
            return
        with self.transaction():
            self._lock_schema()
            for name in missing:
                self._db().execute(SECONDARY_INDEXES[name])

    def _drop_secondary_indexes(self) -> None:
        """Drop the indexes a bulk load builds again at its end (``BULK_LOAD_DROPS``)."""
        with self.transaction():
            self._lock_schema()
            for name in BULK_LOAD_DROPS:
                self._db().execute(f"DROP INDEX IF EXISTS {name}")

    # -- statements ---------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Any statement; the rows it returns, if any."""
        with self._hold():
            cur = self._db().execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._hold():
            return [tuple(r) for r in
                    self._db().execute(self._sql(sql), tuple(params)).fetchall()]

    def _iter(self, sql: str, params: Sequence[Any] = (), size: int = 2000
              ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows in chunks of ``size``. The connection is held while the chunks are read
        only where the backend's cursor reads them through it (SQLite's: one connection per
        thread anyway); PostgreSQL's cursor has every row once the statement returns."""
        with self._hold():
            cur = self._db().execute(self._sql(sql), tuple(params))
        while rows := cur.fetchmany(size):
            yield rows

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._hold():
            return int(self._db().execute(self._sql(sql), tuple(params)).rowcount or 0)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._hold():
                self._db().cursor().executemany(self._sql(sql), [tuple(r) for r in rows])

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    # -- meta -------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        value = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def _set_meta(self, key: str, value: str) -> None:
        self._exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                   "SET value = excluded.value", (key, value))

    def owner_nation(self) -> str | None:
        return self._meta("owner_nation")

    def set_owner_nation(self, code: str) -> None:
        current = self.owner_nation()
        if current is not None and current != code:
            raise InputError(f"{self.path} is owned by {current}; it cannot become {code}'s",
                             hint="a database keeps the nation it was created for",
                             code="store.owner_fixed")
        with self.transaction():
            self._set_meta("owner_nation", code)

    def incident_key(self) -> bytes:
        key = self._meta("incident_key")
        if key is None:
            # several nodes may start at once: the first key written wins and all read it back
            with self.transaction():
                self._exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO "
                           "NOTHING", ("incident_key", secrets.token_hex(32)))
            key = self._meta("incident_key")
            assert key is not None
        return bytes.fromhex(key)

    # -- markings ---------------------------------------------------------------------------
    def marking_id(self, marking: Marking) -> int:
        """The id of ``marking`` (stored with its codes on first use)."""
        text = marking.text
        if text in self._marking_ids:
            return self._marking_ids[text]
        with self._lock, self.transaction():
            found = self._one("SELECT marking_id FROM markings WHERE text = ?", (text,))
            if found is None:
                found = self._one("INSERT INTO markings (text) VALUES (?) ON CONFLICT (text) "
                                  "DO NOTHING RETURNING marking_id", (text,))
                if found is None:  # another process stored it meanwhile
                    found = self._one("SELECT marking_id FROM markings WHERE text = ?", (text,))
                else:
                    self._many("INSERT INTO marking_codes (marking_id, code) VALUES (?, ?)",
                               [(found, c) for c in sorted(marking.codes or ())])
        self._marking_ids[text] = int(found)
        return int(found)

    def markings(self) -> dict[int, Marking]:
        return {int(i): parse_marking(t) for i, t in
                self._rows("SELECT marking_id, text FROM markings ORDER BY marking_id")}

    def visible_markings(self, viewer: Viewer) -> list[int] | None:
        """The marking ids ``viewer`` may see (None: all of them)."""
        if viewer.sees_all:
            return None
        restricted: set[int] | None = None
        for audience in viewer.audiences:  # every audience must hold a code of the marking
            codes = sorted(audience)
            held = {int(r[0]) for r in self._rows(
                "SELECT DISTINCT marking_id FROM marking_codes WHERE code IN "
                f"({_marks(len(codes))})", codes)}
            restricted = held if restricted is None else restricted & held
        return sorted({PUBLIC_ID} | (restricted or set()))

    def _visible_views(self, viewer: Viewer, alias: str) -> tuple[str, list[Any]]:
        """The condition that keeps, per incident, the one view ``viewer`` sees."""
        visible = self.visible_markings(viewer)
        if visible is None:
            return f"{alias}.sig = {alias}.set_key", []
        vis = set(visible)
        keys = []
        for (set_key,) in self._rows("SELECT set_key FROM marking_sets"):
            sig = [m for m in set_key.split(",") if int(m) in vis]
            if sig:
                keys.append(f"{set_key}|{','.join(sig)}")
        if not keys:
            return "1 = 0", []
        return f"{alias}.view_key IN ({_marks(len(keys))})", keys

    # -- observations -----------------------------------------------------------------------
    def add_observation_columns(self, batch: ObservationColumns, *, reader: str,
                                curated: bool = False, who: str = "import") -> IngestCounts:
        """Insert a column batch inside the current transaction.

        A record whose identity (reader, source, source id or raw digest) is already stored
        is a duplicate when it is the same record (``SAME_RECORD``; then its marking may only
        narrow the stored one, logged), else a conflict, kept in ``conflicts`` for review."""
        n = len(batch)
        if not n:
            return IngestCounts()
        if "releasability" in batch.constants:
            mids: list[int] | int = self._marking_for_text(batch.constants["releasability"])
        else:
            mids = [self._marking_for_text(t) for t in batch.columns["releasability"]]
        inserted = self._insert_observation_rows(batch, mids, reader, curated)
        if inserted == n:
            return IngestCounts(inserted=n)
        conflicts, narrowed = self._settle_duplicates(batch, mids, reader, who)
        return IngestCounts(inserted=inserted, duplicates=n - inserted - conflicts,
                            conflicts=conflicts, narrowed=narrowed)

    def add_observations(self, records: Sequence[Observation], *, reader: str,
                         curated: bool = False, who: str = "import") -> IngestCounts:
        """``add_observation_columns`` for records one by one (same rows, same counts)."""
        return self.add_observation_columns(ObservationColumns.from_observations(records),
                                            reader=reader, curated=curated, who=who)

    def _marking_for_text(self, text: str) -> int:
        if text == "PUBLIC":
            return PUBLIC_ID
        found = self._marking_ids.get(text)
        return found if found is not None else self.marking_id(parse_marking(text))

    def _settle_duplicates(self, batch: ObservationColumns, mids: list[int] | int,
                           reader: str, who: str) -> tuple[int, int]:
        keys = [f"{reader}|{k}" for k in batch.column("dedup_key")]
        mine_cols = [batch.column(f) for f in SAME_RECORD]
        stored: dict[str, tuple[int, tuple[Any, ...], int]] = {}
        for part in _chunks(sorted(set(keys))):
            for key, obs_id, mid, *fields in self._rows(
                f"SELECT dedup_key, obs_id, marking_id, {', '.join(SAME_RECORD)} "
                f"FROM observations WHERE dedup_key IN ({_marks(len(part))})", part):
                stored[key] = (int(obs_id), _same(fields), int(mid))
        markings = self.markings()
        conflicts = narrowed = 0
        seen: set[tuple[str, tuple[Any, ...]]] = set()
        now = utc_now()
        for i, key in enumerate(keys):
            obs_id, content, mid = stored[key]
            mine = mids if isinstance(mids, int) else mids[i]
            record_content = _same(c[i] for c in mine_cols)
            if record_content != content:
                if (key, record_content) in seen:
                    continue
                seen.add((key, record_content))
                record = {f: batch.column(f)[i] for f in FIELDS if f != "dedup_key"}
                added = self._exec(
                    "INSERT INTO conflicts (at, dedup_key, existing_obs_id, raw_sha256, "
                    "marking_id, source_file, source_line, record) VALUES (?,?,?,?,?,?,?,?) "
                    "ON CONFLICT DO NOTHING",
                    (now, key, obs_id, record["raw_sha256"], mine, record["source_file"],
                     record["source_line"], _JSON.encode(record)))
                conflicts += 1 if added else 0
            elif mine != mid:
                new = markings[mid].narrow(markings[mine])
                new_id = self.marking_id(new)
                markings[new_id] = new
                if new_id != mid:
                    self._change_marking(obs_id, mid, new_id, who,
                                         f"imported again under {markings[mine].text}")
                    stored[key] = (obs_id, content, new_id)
                    narrowed += 1
        return conflicts, narrowed

    def _change_marking(self, obs_id: int, old: int, new: int, who: str, why: str) -> None:
        """Give one observation another marking, logged. Its incident's views go at once (they
        were computed with the old marking; the next fusion computes them again), and the
        observation is fused again."""
        incident = self._one("SELECT incident_id FROM observations WHERE obs_id = ?", (obs_id,))
        if incident is not None:
            self._exec("DELETE FROM incident_views WHERE parent_id = ?", (incident,))
        self._exec("UPDATE observations SET marking_id = ?, incident_id = NULL WHERE obs_id = ?",
                   (new, obs_id))
        self._exec("INSERT INTO marking_changes (at, obs_id, old_marking_id, new_marking_id, "
                   "who, why) VALUES (?,?,?,?,?,?)", (utc_now(), obs_id, old, new, who, why))

    def remark(self, obs_ids: Sequence[int], marking: Marking, who: str, why: str) -> int:
        """Give these observations ``marking`` (wider or narrower), logged with who and why.
        Their incidents are recomputed by the next fusion."""
        if not who.strip() or not why.strip():
            raise InputError("a marking change needs who decided it (--by) and why (--why)",
                             hint="say who decides and why", code="input.missing_reason")
        new_id = self.marking_id(marking)
        changed = 0
        with self.transaction():
            for part in _chunks(sorted(set(int(i) for i in obs_ids))):
                rows = self._rows(f"SELECT obs_id, marking_id FROM observations "
                                  f"WHERE obs_id IN ({_marks(len(part))})", part)
                missing = set(part) - {int(r[0]) for r in rows}
                if missing:
                    raise NotFoundError(f"no observation {min(missing)}",
                                        hint="list them with `truceguard observations`",
                                        code="not_found.observation")
                for obs_id, old in rows:
                    if int(old) != new_id:
                        self._change_marking(int(obs_id), int(old), new_id, who.strip(),
                                             why.strip())
                        changed += 1
        return changed

    def marking_trail(self, obs_id: int) -> list[dict[str, Any]]:
        return [{"seq": s, "at": at, "old": o, "new": n, "who": w, "why": y} for s, at, o, n, w, y
                in self._rows(
                    "SELECT c.seq, c.at, a.text, b.text, c.who, c.why FROM marking_changes c "
                    "JOIN markings a ON a.marking_id = c.old_marking_id JOIN markings b ON "
                    "b.marking_id = c.new_marking_id WHERE c.obs_id = ? ORDER BY c.seq",
                    (obs_id,))]

    def _observation_where(self, flt: ObservationFilter, viewer: Viewer
                           ) -> tuple[str, list[Any]]:
        members = ""
        if flt.incident_id is not None:  # a part of a split view: its own observations
            members = str(self._one("SELECT members FROM incident_views WHERE incident_id = ? "
                                    "AND members <> '' LIMIT 1", (flt.incident_id,)) or "")
        if members:
            flt = replace(flt, incident_id=None)
        where, params = flt.where("o")
        if members:
            ids = [int(m) for m in members.split(",")]
            where.append(f"o.obs_id IN ({_marks(len(ids))})")
            params += ids
        if flt.sources:
            where.append(f"o.source IN ({_marks(len(flt.sources))})")
            params += list(flt.sources)
        visible = self.visible_markings(viewer)
        if visible is not None:
            where.append(f"o.marking_id IN ({_marks(len(visible))})")
            params += visible
        return " AND ".join(where) or "1 = 1", params

    def observations(self, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
                     ) -> Iterator[Observation]:
        where, params = self._observation_where(flt, viewer)
        sql = f"{_SELECT_OBS} WHERE {where} ORDER BY o.t_start, o.obs_id"
        if limit is not None and flt.near is None:
            sql += f" LIMIT {int(limit)}"
        n = 0
        lat_i, lon_i = _OBS_READ.index("lat"), _OBS_READ.index("lon")
        for rows in self._iter(sql, params):
            if flt.near is not None:
                keep = near_mask([r[lat_i] for r in rows], [r[lon_i] for r in rows], flt.near)
                rows = [r for r, k in zip(rows, keep, strict=True) if k]
            rows = self._in_viewers_incidents(rows, viewer)
            for r in rows:
                if limit is not None and n >= limit:
                    return
                n += 1
                yield _observation(r)

    def _in_viewers_incidents(self, rows: list[tuple[Any, ...]], viewer: Viewer
                              ) -> list[tuple[Any, ...]]:
        """Observation rows whose incident (last column) is the one ``viewer`` sees them in:
        the view of that incident built from the reports the viewer may see, or the part of it
        that holds the report when hidden reports bridged it (``pipeline._views``); None when
        the viewer sees no incident there. Never the id of an incident built from reports the
        viewer may not see."""
        if viewer.sees_all:
            return rows
        parents = sorted({int(r[-1]) for r in rows if r[-1] is not None})
        if not parents:
            return rows
        visible = set(self.visible_markings(viewer) or ())
        own: dict[int, int] = {}  # parent incident -> the viewer's (unsplit) view
        part_of: dict[int, int] = {}  # obs_id -> the viewer's part
        for chunk in _chunks(parents):
            for parent, inc, set_key, sig, members in self._rows(
                    "SELECT parent_id, incident_id, set_key, sig, members FROM incident_views "
                    f"WHERE parent_id IN ({_marks(len(chunk))})", chunk):
                mine = ",".join(m for m in str(set_key).split(",") if int(m) in visible)
                if sig != mine:
                    continue
                if members:
                    part_of.update((int(o), int(inc)) for o in str(members).split(","))
                else:
                    own[int(parent)] = int(inc)
        out = []
        for r in rows:
            if r[-1] is not None:
                inc = part_of.get(int(r[0]), own.get(int(r[-1])))
                r = (*r[:-1], inc)
            out.append(r)
        return out

    def count_observations(self, flt: ObservationFilter, viewer: Viewer) -> int:
        where, params = self._observation_where(flt, viewer)
        if flt.near is None:
            return int(self._one(f"SELECT COUNT(*) FROM observations o WHERE {where}", params))
        total = 0
        for rows in self._iter(f"SELECT o.lat, o.lon FROM observations o WHERE {where}",
                               params, 50_000):
            total += int(near_mask([r[0] for r in rows], [r[1] for r in rows], flt.near).sum())
        return total

    def observation_span(self, flt: ObservationFilter, viewer: Viewer
                         ) -> tuple[int, int] | None:
        where, params = self._observation_where(flt, viewer)
        lo, hi = self._rows(f"SELECT MIN(o.t_start), MAX(o.t_start) FROM observations o "
                            f"WHERE {where}", params)[0]
        return None if lo is None else (int(lo), int(hi))

    def observation_marking(self, flt: ObservationFilter, viewer: Viewer,
                            limit: int | None = None) -> Marking:
        """The most restrictive marking among exactly the observations ``observations(flt,
        viewer, limit)`` yields (PUBLIC for none): the banner of that listing."""
        from truceguard.marking import most_restrictive

        where, params = self._observation_where(flt, viewer)
        if flt.near is None and limit is None:
            ids = {int(r[0]) for r in self._rows(
                f"SELECT DISTINCT o.marking_id FROM observations o WHERE {where}", params)}
        else:
            ids = set()
            sql = (f"SELECT o.marking_id, o.lat, o.lon FROM observations o WHERE {where} "
                   "ORDER BY o.t_start, o.obs_id")
            if limit is not None and flt.near is None:
                sql += f" LIMIT {int(limit)}"
            n = 0
            for rows in self._iter(sql, params):
                if flt.near is not None:
                    keep = near_mask([r[1] for r in rows], [r[2] for r in rows], flt.near)
                    rows = [r for r, k in zip(rows, keep, strict=True) if k]
                if limit is not None:
                    rows = rows[: max(0, limit - n)]
                n += len(rows)
                ids.update(int(r[0]) for r in rows)
        markings = self.markings()
        return most_restrictive(markings[i] for i in sorted(ids))

    def get_observation(self, obs_id: int, viewer: Viewer) -> Observation | None:
        got = list(self._by_id(obs_id, viewer))
        return got[0] if got else None

    def _by_id(self, obs_id: int, viewer: Viewer) -> Iterator[Observation]:
        where, params = self._observation_where(ObservationFilter(), viewer)
        rows = self._rows(f"{_SELECT_OBS} WHERE o.obs_id = ? AND {where}", [obs_id, *params])
        for r in self._in_viewers_incidents(rows, viewer):
            yield _observation(r)

    def sources(self, viewer: Viewer) -> list[str]:
        where, params = self._observation_where(ObservationFilter(), viewer)
        return [str(r[0]) for r in self._rows(
            f"SELECT DISTINCT o.source FROM observations o WHERE {where} ORDER BY o.source",
            params)]

    def conflicts(self, viewer: Viewer, limit: int | None = None) -> list[Conflict]:
        """The conflicts whose record ``viewer`` may see; the stored record they collide with
        is named (``existing_obs_id``) only where the viewer may see it too (else 0)."""
        visible = self.visible_markings(viewer)
        cond, existing, params = "1 = 1", "c.existing_obs_id", list[Any]()
        if visible is not None:
            marks = _marks(len(visible))
            existing = (f"CASE WHEN eo.marking_id IN ({marks}) THEN c.existing_obs_id "
                        "ELSE 0 END")
            cond = f"c.marking_id IN ({marks})"
            params = [*visible, *visible]
        sql = (f"SELECT c.conflict_id, c.at, c.dedup_key, {existing}, c.raw_sha256, m.text, "
               "c.source_file, c.source_line, c.record FROM conflicts c JOIN markings m ON "
               "m.marking_id = c.marking_id LEFT JOIN observations eo ON eo.obs_id = "
               f"c.existing_obs_id WHERE {cond} ORDER BY c.conflict_id")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Conflict(int(a), int(b), c, int(d), e, f, g, int(h), json.loads(i))
                for a, b, c, d, e, f, g, h, i in self._rows(sql, params)]

    # -- the ingest log -----------------------------------------------------------------------
    def log_ingest(self, summary: IngestSummary, status: str) -> int:
        return int(self._one(
            "INSERT INTO ingest_log (at, path, file_sha256, format, imported, duplicates, "
            "rejected, status) VALUES (?,?,?,?,?,?,?,?) RETURNING ingest_id",
            (utc_now(), summary.path, summary.file_sha256, summary.fmt, summary.imported,
             summary.duplicates, summary.rejected, status)))

    def ingest_log(self) -> list[dict[str, Any]]:
        names = ("ingest_id", "at", "path", "file_sha256", "format", "imported", "duplicates",
                 "rejected", "status")
        return [dict(zip(names, r, strict=True)) for r in self._rows(
            f"SELECT {', '.join(names)} FROM ingest_log ORDER BY ingest_id")]

    def evidence_observations(self, incident_ids: Sequence[int], categories: Sequence[str]
                              ) -> list[tuple[int, Observation]]:
        """(marking id, observation) of every monitor's report, and every observation of one of
        ``categories``, fused into the incidents ``incident_ids``: what their views are judged
        on besides their summaries (``judge.evidence``)."""
        out: list[tuple[int, Observation]] = []
        cats = list(categories)
        cat_cond = f" OR o.category IN ({_marks(len(cats))})" if cats else ""
        select = _SELECT_OBS.replace("SELECT ", "SELECT o.marking_id, ", 1)
        for part in _chunks(sorted(set(int(i) for i in incident_ids))):
            for r in self._rows(f"{select} WHERE o.incident_id IN ({_marks(len(part))}) AND "
                                f"(o.kind IS NOT NULL{cat_cond}) ORDER BY o.obs_id",
                                [*part, *cats]):
                out.append((int(r[0]), _observation(r[1:])))
        return out


def stored_values(batch: ObservationColumns, marking_ids: list[int] | int, reader: str,
                  curated: bool) -> tuple[dict[str, list[Any]], dict[str, Any], str | None]:
    """A batch's values as ``observations`` stores them (``OBS_INSERT``): the columns (one
    value a record), the constants (one value for all), and the identity key's prefix
    (``reader|source|``, to which each record's ``source_ref`` is appended) when the batch
    leaves the keys to the store, else None and the keys are a column."""
    consts: dict[str, Any] = {k: v for k, v in batch.constants.items() if k != "releasability"}
    columns = {k: v for k, v in batch.columns.items() if k != "releasability"}
    if isinstance(marking_ids, int):
        consts["marking_id"] = marking_ids
    else:
        columns["marking_id"] = marking_ids
    consts["reader"] = reader
    consts["curated"] = int(curated)
    if batch.derived_dedup_key:
        return columns, consts, f"{reader}|{consts['source']}|"
    columns["dedup_key"] = [f"{reader}|{k}" for k in batch.column("dedup_key")]
    consts.pop("dedup_key", None)
    return columns, consts, None


def _same(values: Iterable[Any]) -> tuple[Any, ...]:
    """A record's ``SAME_RECORD`` values, numbers to a centimetre's worth of digits (so that
    two parsings of one decimal text compare equal)."""
    return tuple(round(v, 7) if isinstance(v, float) else v for v in values)




__all__ = ["OBS_INSERT", "PUBLIC", "PUBLIC_ID", "SQLStore", "stored_values"]
