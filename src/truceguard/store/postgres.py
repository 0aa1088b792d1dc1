"""The multi-user store: a PostgreSQL database, through psycopg 3.

Same protocol, same SQL as SQLite (``store.sql``): every query is written once with ``?``
parameters, which this backend sends as psycopg's ``%s``. Releasability is applied in SQL by
the same filter code. Columns are PostgreSQL's types (``store.schema.postgres_ddl``): 64-bit
integers, double precision, and text in byte order (``COLLATE "C"``), so that lists come out
in the same order as from SQLite.

Connections: a pool (``psycopg_pool``) of at most ``pool_max_size`` connections (at least
``pool_min_size`` kept open; one idle for ``pool_max_idle_s`` is closed above that). A thread
borrows one for each span of work (a store call, a transaction, a ``bulk_load``, an
``ingest_stream``, a connection lent to a helper thread) and gives it back at the span's end,
so a server's many threads share a few connections and each runs on its own meanwhile; nested
spans of one thread share its connection. A thread that finds none free within
``pool_timeout_s`` (unset: the busy timeout, or ``POOL_WAIT_S`` without one) gets
``StoreBusyError``. Each connection is in autocommit mode, named ``truceguard`` in
``pg_stat_activity`` unless the URL names it (``application_name``), and carries the lock wait
(``lock_timeout``) the store has when it is borrowed.

Concurrency: many threads and many processes may write at once. Transactions are READ
COMMITTED: an import that meets a record another writer is storing waits for that writer's
batch to commit, then counts the record as a duplicate (or a conflict), never twice.
Migrations and index builds take an advisory lock, so two processes opening a fresh database
at once migrate it once. A lock
waited for past ``lock_timeout`` (none unless set: ``busy_timeout_s``, ``set_busy_timeout``;
the server sets one for its requests), a serialization failure or a deadlock that reaches a
transaction's end is ``StoreBusyError`` (``store.busy``): the transaction was rolled back and
may be tried again.

Bulk insert: a batch of new records is copied (``COPY``) straight into ``observations``. When
one of them is stored already, that is undone and the batch is copied into a temporary
staging table instead, then moved into ``observations`` by one ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING`` (values the whole batch shares travel once, as parameters); the next
batches take that way too until one is all new again. Either way the observation ids follow
the file's order (so an incident's anchor, its smallest observation id, is the one SQLite
would choose). The staging insert goes in key order, so that writers whose files overlap wait
for one another in one order; a deadlock with a writer copying straight in is undone and
retried (each step runs under a savepoint).

Durability: a bulk load commits its batches without waiting for the disk
(``synchronous_commit = off`` for its own session only): a server crash may lose the last
batches, never corrupt the database, and running the import again adds what is missing. Every
other transaction waits for the disk as the server is configured to. A live stream
(``ingest_stream``: the CoT sink, whose sender is told an event was received once its commit
returns) never runs with ``synchronous_commit = off``: where the server or the database sets
``off``, the stream's connection sets ``on`` (the commit returns once its write-ahead log is
flushed, and on a server with synchronous standbys once they have it too); any other setting
(``local``, ``remote_write``, ``on``, ``remote_apply``) is kept as the operator chose it. The
stream keeps one connection for its whole life (no borrowing per batch; its staging table
stays). PostgreSQL checkpoints on its own (``checkpoint`` has nothing to do here).

Schema: the same forward migrations as SQLite; a database written by a newer truceguard is
refused. The ingest log, the marking log and the status trail are append-only: statement
triggers refuse UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from truceguard.errors import InputError, MissingExtraError, StoreBusyError, StoreError
from truceguard.io.columns import ObservationColumns
from truceguard.store.base import Store, protocol_methods
from truceguard.store.federation import FederationTables
from truceguard.store.map_columns import MapColumnTables
from truceguard.store.sql import OBS_INSERT, SQLStore, stored_values

POOL_MIN_SIZE = 1  # connections kept open while idle
POOL_MAX_SIZE = 16  # connections at most (PostgreSQL's own default limit is 100 in all)
POOL_MAX_IDLE_S = 600.0  # a connection idle this long above the minimum is closed
POOL_WAIT_S = 30.0  # how long a thread waits for a free connection while no busy timeout is set

_SCHEMA_LOCK = 0x7472_7563_6567  # the advisory lock of schema changes ("truceg")
_STAGING = "truceguard_staging"
_DEADLOCK_RETRIES = 5
_BIGINT = frozenset({"t_start", "t_end", "time_precision_s", "count", "source_line",
                     "marking_id", "curated"})
_DOUBLE = frozenset({"lat", "lon", "uncertainty_m", "bearing_deg", "bearing_err_deg",
                     "distance_min_km", "distance_max_km", "observer_lat", "observer_lon"})


_COLLATE = ' COLLATE "C"'


def _column_type(name: str) -> str:
    if name in _BIGINT:
        return "BIGINT"
    return "DOUBLE PRECISION" if name in _DOUBLE else 'TEXT COLLATE "C"'


@contextmanager
def _binary_copy(conn: Any, table: str, columns: list[str]) -> Iterator[Any]:
    """A binary COPY into ``columns`` of ``table`` (values sent as they are stored: no text
    to escape on this side, none to parse on the server's)."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with conn.cursor().copy(sql) as copy:
        copy.set_types(["int8" if c in _BIGINT else "float8" if c in _DOUBLE else "text"
                        for c in columns])
        yield copy


def redact(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@functools.lru_cache(maxsize=512)
def _pyformat(sql: str) -> str:
    """``?`` parameters as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


@dataclass(slots=True)
class _ConnectionState:
    """What the store set on one pooled connection."""

    lock_timeout_ms: int = -1
    staged: bool = False  # it has the staging table
    duplicates_seen: bool = False  # its last batch was not all new


def _configure(store: PostgresStore) -> Callable[[Any], None]:
    """What the pool does to each new connection: the staging table stays in memory; the lock
    wait of ``store`` (held weakly: the pool does not keep its store alive)."""
    ref = weakref.ref(store)

    def configure(conn: Any) -> None:
        conn.execute("SET temp_buffers = '64MB'")
        owner = ref()
        if owner is not None:
            owner._set_wait(conn)

    return configure


class _Borrowed:
    """A connection one thread borrowed, the pool it came from, and how many spans hold it."""

    __slots__ = ("conn", "depth", "pool")

    def __init__(self, conn: Any, pool: Any) -> None:
        self.conn = conn
        self.pool = pool
        self.depth = 0


class _Span:
    """One span of work holding this thread's borrowed connection (``PostgresStore._hold``)."""

    __slots__ = ("_held", "_store")

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._held: tuple[int, _Borrowed] | None = None

    def __enter__(self) -> None:
        self._held = self._store._enter_span()

    def __exit__(self, *exc: object) -> None:
        if self._held is not None:
            self._store._leave_span(*self._held)


class PostgresStore(SQLStore, FederationTables, MapColumnTables):
    """The Store protocol over one PostgreSQL database (``postgresql://`` URL)."""

    backend = "postgresql"

    def __init__(self, url: str, *, create: bool = True,
                 busy_timeout_s: float | None = None, pool_min_size: int = POOL_MIN_SIZE,
                 pool_max_size: int = POOL_MAX_SIZE, pool_timeout_s: float | None = None,
                 pool_max_idle_s: float = POOL_MAX_IDLE_S) -> None:
        if not 0 <= pool_min_size <= pool_max_size or pool_max_size < 1:
            raise InputError(f"pool sizes min {pool_min_size}, max {pool_max_size} do not fit",
                             hint="give 0 <= min <= max and max >= 1",
                             code="input.out_of_range")
        for name, value in (("pool_timeout_s", pool_timeout_s),
                            ("pool_max_idle_s", pool_max_idle_s)):
            if value is not None and not value > 0:
                raise InputError(f"{name} {value} is not positive",
                                 hint="give a number of seconds > 0", code="input.out_of_range")
        self.busy_timeout_s = busy_timeout_s
        self.pool_min_size = pool_min_size
        self.pool_max_size = pool_max_size
        self.pool_timeout_s = pool_timeout_s
        self.pool_max_idle_s = pool_max_idle_s
        try:
            import psycopg
        except ImportError as exc:
            raise MissingExtraError("the PostgreSQL store", "postgres", "psycopg") from exc
        try:
            import psycopg_pool
        except ImportError as exc:
            raise MissingExtraError("the PostgreSQL store", "postgres", "psycopg_pool") from exc
        super().__init__()
        self.url = url
        self.path = redact(url)
        self._psycopg = psycopg
        self._psycopg_pool = psycopg_pool
        self._pool: Any = None
        self._pool_lock = threading.Lock()  # the pool and the borrowed connections' table
        self._borrowed: dict[int, _Borrowed] = {}  # thread ident -> its connection
        self._states: weakref.WeakKeyDictionary[Any, _ConnectionState] = (
            weakref.WeakKeyDictionary())
        self._obs_sequence = ""
        try:  # one connection of its own first: a clear message when the server says no
            psycopg.connect(url, autocommit=True).close()
        except psycopg.Error as exc:
            raise StoreError(
                f"{self.path}: cannot connect ({str(exc).strip().splitlines()[0]})",
                hint="check that the server runs, that the database exists (createdb NAME) "
                     "and that the URL's user may connect to it",
                code="store.cannot_connect") from exc
        try:
            if not create and self.schema_version() == 0:
                raise StoreError(f"{self.path}: no truceguard database there yet",
                                 hint=f"run `truceguard init --db {self.path}` first, or "
                                      "import a file (which creates it)",
                                 code="store.not_found")
            self.migrate()
            self.ensure_indexes()
        except BaseException:
            self.close()
            raise

    # -- connections ------------------------------------------------------------------------
    @property
    def pool(self) -> Any:
        """The connection pool (``psycopg_pool.ConnectionPool``), opened on first use (again
        after ``close``)."""
        if self._pool is not None:
            return self._pool
        with self._pool_lock:
            if self._pool is None:
                kwargs: dict[str, Any] = {"autocommit": True}
                if "application_name" not in self._psycopg.conninfo.conninfo_to_dict(self.url):
                    kwargs["application_name"] = "truceguard"
                self._pool = self._psycopg_pool.ConnectionPool(
                    self.url, kwargs=kwargs, min_size=self.pool_min_size,
                    max_size=self.pool_max_size, max_idle=self.pool_max_idle_s,
                    timeout=self._pool_wait_s(), configure=_configure(self), num_workers=2,
                    name=f"truceguard {self.path}", open=False)
                self._pool.open(wait=False)
            return self._pool

    def _pool_wait_s(self) -> float:
        if self.pool_timeout_s is not None:
            return self.pool_timeout_s
        return POOL_WAIT_S if self.busy_timeout_s is None else self.busy_timeout_s

    def _lock_timeout_ms(self) -> int:
        return 0 if self.busy_timeout_s is None else max(1, int(self.busy_timeout_s * 1000))

    def _set_wait(self, conn: Any) -> None:
        ms = self._lock_timeout_ms()
        conn.execute(f"SET lock_timeout = {ms}")  # 0: wait as long as it takes
        self._state(conn).lock_timeout_ms = ms

    def _state(self, conn: Any) -> _ConnectionState:
        state = self._states.get(conn)
        if state is None:
            state = self._states[conn] = _ConnectionState()
        return state

    def set_busy_timeout(self, seconds: float) -> None:
        """Wait at most ``seconds`` for another writer's lock from now on (each connection
        takes it when next borrowed), and, unless ``pool_timeout_s`` is set, as long for a
        free connection; then ``StoreBusyError``."""
        if seconds <= 0:
            raise ValueError("the busy timeout must be > 0 seconds")
        self.busy_timeout_s = float(seconds)

    def _checkout(self) -> _Borrowed:
        pool, wait = self.pool, self._pool_wait_s()
        try:
            conn = pool.getconn(timeout=wait)
        except self._psycopg_pool.PoolTimeout as exc:
            raise StoreBusyError(
                f"{self.path}: no database connection free within {wait:g} s (the pool's "
                f"{self.pool_max_size} are all in use)",
                retry_after_s=max(1, min(30, round(wait))),
                hint="try again in a few seconds, when others' requests are done") from exc
        try:
            if self._state(conn).lock_timeout_ms != self._lock_timeout_ms():
                self._set_wait(conn)
        except BaseException:
            pool.putconn(conn)
            raise
        return _Borrowed(conn, pool)

    def _hold(self) -> contextlib.AbstractContextManager[None]:
        """Borrow a connection from the pool for the outermost span of this thread (see the
        module docstring); a thread lent a connection uses that one."""
        return _Span(self)

    def _enter_span(self) -> tuple[int, _Borrowed] | None:
        ident = threading.get_ident()
        if ident in self._lent:
            return None
        held = self._borrowed.get(ident)
        if held is None:
            held = self._borrowed[ident] = self._checkout()
        held.depth += 1
        return ident, held

    def _leave_span(self, ident: int, held: _Borrowed) -> None:
        held.depth -= 1
        if held.depth > 0:
            return
        if self._borrowed.pop(ident, None) is not held:
            return  # close() took it back
        held.pool.putconn(held.conn)

    def _db(self) -> Any:
        """This thread's connection: the one lent to it, or the one it borrowed (outside any
        span, one is borrowed until this thread's next span ends)."""
        ident = threading.get_ident()
        lent = self._lent.get(ident)
        if lent is not None:
            return lent
        held = self._borrowed.get(ident)
        if held is None:
            held = self._borrowed[ident] = self._checkout()
        return held.conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``SQLStore.transaction``; a lock timeout, serialization failure or deadlock that
        ends the outermost one is ``StoreBusyError`` (it was rolled back)."""
        with self._hold():
            outermost = not self._in_transaction(self._db())
            try:
                with super().transaction():
                    yield
            except (self._psycopg.errors.LockNotAvailable,
                    self._psycopg.errors.SerializationFailure,
                    self._psycopg.errors.DeadlockDetected) as exc:
                if not outermost:
                    raise
                waited = self.busy_timeout_s
                raise StoreBusyError(
                    f"the database is busy: {str(exc).strip().splitlines()[0]}",
                    retry_after_s=2 if waited is None else max(1, min(30, round(waited)))
                ) from exc

    def close(self) -> None:
        """Give back every borrowed connection and close the pool (a later call opens a new
        one)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
            borrowed, self._borrowed = list(self._borrowed.values()), {}
        for held in borrowed:
            with contextlib.suppress(Exception):
                held.pool.putconn(held.conn)
        if pool is not None:
            pool.close()
        super().close()

    def _in_transaction(self, conn: Any) -> bool:
        return bool(conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE)

    def _sql(self, sql: str) -> str:
        return _pyformat(sql)

    # -- schema -----------------------------------------------------------------------------
    def _has_schema(self) -> bool:
        # The catalog itself, read like any table (by this statement's snapshot), rather than
        # the name lookup, which may remember that the table was missing before a lock wait.
        return self._one("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = "
                         "current_schema() AND tablename = 'schema_migrations'") is not None

    def _existing_indexes(self) -> set[str]:
        return {str(r[0]) for r in self._rows(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}

    def _lock_schema(self) -> None:
        self._db().execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))

    def _lock_append(self, name: str) -> None:
        self._db().execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                           (_SCHEMA_LOCK >> 16, name))

    @contextmanager
    def bulk_load(self, expected_rows: int) -> Iterator[None]:
        """Load many rows fast: commits do not wait for the disk meanwhile (see the module
        docstring), and for a load bigger than the table (and 50,000 rows) the time and
        position indexes are dropped and built once at the end."""
        with self._hold():
            conn = self._db()
            current = self._one("SELECT COALESCE(MAX(obs_id), 0) FROM observations")
            dropped = expected_rows > max(50_000, int(current))
            conn.execute("SET synchronous_commit = off")
            try:
                if dropped:
                    self._drop_secondary_indexes()
                yield
            finally:
                if dropped and not self._in_transaction(conn):
                    self.ensure_indexes()
                conn.execute("RESET synchronous_commit")

    @contextmanager
    def ingest_stream(self, *, separate_checkpoints: bool = False) -> Iterator[None]:
        """This thread writes a stream of small commits (see Durability in the module
        docstring): it keeps one connection meanwhile, whose commits wait for the disk even
        where the server's ``synchronous_commit`` is ``off``. ``separate_checkpoints`` changes
        nothing here (the server checkpoints on its own)."""
        with self._hold():
            conn = self._db()
            raised = str(self._one("SHOW synchronous_commit")) == "off"
            if raised:
                conn.execute("SET synchronous_commit = on")
            try:
                yield
            finally:
                if raised:
                    conn.execute("RESET synchronous_commit")

    def checkpoint(self) -> bool:
        """Nothing to do: the PostgreSQL server checkpoints its write-ahead log itself."""
        return False

    # -- writes -----------------------------------------------------------------------------
    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        conn = self._db()
        conn.execute("SAVEPOINT truceguard_batch")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO SAVEPOINT truceguard_batch")
            raise
        conn.execute("RELEASE SAVEPOINT truceguard_batch")

    def _insert_observation_rows(self, batch: ObservationColumns, marking_ids: list[int] | int,
                                 reader: str, curated: bool) -> int:
        """Insert what is new of a column batch; returns how many rows were inserted.

        While the batches of this connection are all new, a batch is copied straight into
        ``observations`` (ids in file order, as COPY writes the rows); if one of its records
        is there already (or a concurrent writer's COPY deadlocks with this one), that is
        undone and the batch goes through the staging table, and so do the next ones until a
        batch is all new again."""
        columns, consts, prefix = stored_values(batch, marking_ids, reader, curated)
        errors = self._psycopg.errors
        with self.transaction():
            conn = self._db()
            state = self._state(conn)
            if not state.duplicates_seen:
                try:
                    with self._savepoint():
                        return self._copy_into_observations(conn, batch, columns, consts, prefix)
                except (errors.UniqueViolation, errors.DeadlockDetected):
                    state.duplicates_seen = True
            inserted = self._insert_through_staging(conn, columns, consts, prefix)
        if inserted == len(batch):
            state.duplicates_seen = False
        return inserted

    def _copy_into_observations(self, conn: Any, batch: ObservationColumns,
                                columns: dict[str, list[Any]], consts: dict[str, Any],
                                prefix: str | None) -> int:
        values = dict(columns)
        if prefix is not None:
            values["dedup_key"] = list(map(prefix.__add__, columns["source_ref"]))
        copied = [f for f in OBS_INSERT if f in values]
        shared = [f for f in OBS_INSERT if f not in values]
        with _binary_copy(conn, "observations", copied + shared) as copy:
            write, tail = copy.write_row, tuple(consts[f] for f in shared)
            for row in zip(*(values[f] for f in copied)):  # noqa: B905 - all one length
                write(row + tail)
        return len(batch)

    def _insert_through_staging(self, conn: Any, columns: dict[str, list[Any]],
                                consts: dict[str, Any], prefix: str | None) -> int:
        """COPY the varying columns into the staging table, then one INSERT ... SELECT ...
        ON CONFLICT DO NOTHING. Ids are drawn in file order (``nextval`` after the sort by
        ``seq``) and rows inserted in key order, so two writers of this kind wait for one
        another in one order; a deadlock with a writer copying straight into the table is
        retried."""
        self._staging_table(conn)
        copied = [f for f in OBS_INSERT if f in columns]
        with _binary_copy(conn, _STAGING, copied) as copy:
            write = copy.write_row
            for row in zip(*(columns[f] for f in copied)):  # noqa: B905 - all one length
                write(row)
        exprs, params = [], []
        for f in OBS_INSERT:
            if f == "dedup_key" and prefix is not None:
                exprs.append("%s || t.source_ref")
                params.append(prefix)
            elif f in consts:
                exprs.append(f"%s::{_column_type(f).removesuffix(_COLLATE)}")
                params.append(consts[f])
            else:
                exprs.append(f"t.{f}")
        names = ", ".join(OBS_INSERT)
        sql = (f"WITH s AS MATERIALIZED (SELECT nextval(%s::regclass) AS obs_id, "
               f"{', '.join(f'{e} AS {f}' for e, f in zip(exprs, OBS_INSERT, strict=True))} "
               f"FROM {_STAGING} t ORDER BY t.seq) "
               f"INSERT INTO observations (obs_id, {names}) SELECT obs_id, {names} FROM s "
               f"ORDER BY dedup_key ON CONFLICT (dedup_key) DO NOTHING")
        conn.execute("SET LOCAL work_mem = '64MB'")  # the sorts stay in memory
        for attempt in itertools.count(1):
            try:
                with self._savepoint():
                    cur = conn.execute(sql, [self._obs_sequence, *params])
                return int(cur.rowcount)
            except self._psycopg.errors.DeadlockDetected:
                if attempt == _DEADLOCK_RETRIES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _staging_table(self, conn: Any) -> None:
        state = self._state(conn)
        if state.staged:
            conn.execute(f"TRUNCATE {_STAGING}")
            return
        cols = ", ".join(f"{c} {_column_type(c)}" for c in OBS_INSERT)
        conn.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} "
                     f"(seq BIGINT GENERATED ALWAYS AS IDENTITY, {cols})")
        conn.execute(f"TRUNCATE {_STAGING}")
        if not self._obs_sequence:
            self._obs_sequence = str(self._one(
                "SELECT pg_get_serial_sequence('observations', 'obs_id')"))
        state.staged = True


_M = TypeVar("_M", bound=Callable[..., Any])
# Methods that hold their connection for a span of their own (a context manager's body, say),
# or need none.
_OWN_SPANS = frozenset({"transaction", "bulk_load", "lend_connection", "ingest_stream",
                        "checkpoint", "close", "set_busy_timeout"})


def _in_a_span(method: _M) -> _M:
    @functools.wraps(method)
    def call(self: PostgresStore, *args: Any, **kwargs: Any) -> Any:
        with self._hold():
            return method(self, *args, **kwargs)

    return call  # type: ignore[return-value]


# Each call of a protocol method holds one borrowed connection from start to end (its
# statements share it; it is given back on return). A generator (``observations``) holds
# one per statement instead, so that a half-read iterator keeps none.
for _name in sorted((protocol_methods(Store) | {"migrate", "ensure_indexes"}) - _OWN_SPANS):
    _method = getattr(PostgresStore, _name, None)  # (a missing one: the role tests say so)
    if callable(_method) and not inspect.isgeneratorfunction(_method):
        setattr(PostgresStore, _name, _in_a_span(_method))


__all__ = ["POOL_MAX_IDLE_S", "POOL_MAX_SIZE", "POOL_MIN_SIZE", "POOL_WAIT_S", "PostgresStore",
           "redact"]
