"""The multi-user store: a PostgreSQL database, through psycopg 3.

Same protocol, same SQL as SQLite (``store.sql``): every query is written once with ``?``
parameters, which this backend sends as psycopg's ``%s``. Releasability is applied in SQL by
the same filter code. Columns are PostgreSQL's types (``store.schema.postgres_ddl``): 64-bit
integers, double precision, and text in byte order (``COLLATE "C"``), so that lists come out
in the same order as from SQLite.

Concurrency: each thread gets its own connection (a server's threads share the store object);
many processes may write at once. Transactions are READ COMMITTED: an import that meets a
record another writer is storing waits for that writer's batch to commit, then counts the
record as a duplicate (or a conflict), never twice. Migrations and index builds take an
advisory lock, so two processes opening a fresh database at once migrate it once. A lock
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
other transaction waits for the disk as usual.

Schema: the same forward migrations as SQLite; a database written by a newer truceguard is
refused. The ingest log, the marking log and the status trail are append-only: statement
triggers refuse UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from truceguard.errors import MissingExtraError, StoreBusyError, StoreError
from truceguard.io.columns import ObservationColumns
from truceguard.store.sql import OBS_INSERT, SQLStore, stored_values

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


class PostgresStore(SQLStore):
    """The Store protocol over one PostgreSQL database (``postgresql://`` URL)."""

    backend = "postgresql"

    def __init__(self, url: str, *, create: bool = True,
                 busy_timeout_s: float | None = None) -> None:
        self.busy_timeout_s = busy_timeout_s
        try:
            import psycopg
        except ImportError as exc:
            raise MissingExtraError("the PostgreSQL store", "postgres", "psycopg") from exc
        super().__init__()
        self.url = url
        self.path = redact(url)
        self._psycopg = psycopg
        self._staged: set[int] = set()  # connections that have the staging table
        self._duplicates_seen: set[int] = set()  # connections whose last batch was not new
        self._obs_sequence = ""
        try:
            self._db()
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
    def _connect(self) -> Any:
        conn = self._psycopg.connect(self.url, autocommit=True)
        conn.execute("SET temp_buffers = '64MB'")  # the staging table stays in memory
        self._set_wait(conn)
        return conn

    def _set_wait(self, conn: Any) -> None:
        ms = 0 if self.busy_timeout_s is None else max(1, int(self.busy_timeout_s * 1000))
        conn.execute(f"SET lock_timeout = {ms}")  # 0: wait as long as it takes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``SQLStore.transaction``; a lock timeout, serialization failure or deadlock that
        ends the outermost one is ``StoreBusyError`` (it was rolled back)."""
        outermost = not self._in_transaction(self._db())
        try:
            with super().transaction():
                yield
        except (self._psycopg.errors.LockNotAvailable, self._psycopg.errors.SerializationFailure,
                self._psycopg.errors.DeadlockDetected) as exc:
            if not outermost:
                raise
            waited = self.busy_timeout_s
            raise StoreBusyError(
                f"the database is busy: {str(exc).strip().splitlines()[0]}",
                retry_after_s=2 if waited is None else max(1, min(30, round(waited)))) from exc

    def close(self) -> None:
        super().close()
        self._staged.clear()  # a later connection may reuse a closed one's id
        self._duplicates_seen.clear()

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
        conn = self._db()
        errors = self._psycopg.errors
        with self.transaction():
            if id(conn) not in self._duplicates_seen:
                try:
                    with self._savepoint():
                        return self._copy_into_observations(conn, batch, columns, consts, prefix)
                except (errors.UniqueViolation, errors.DeadlockDetected):
                    self._duplicates_seen.add(id(conn))
            inserted = self._insert_through_staging(conn, columns, consts, prefix)
        if inserted == len(batch):
            self._duplicates_seen.discard(id(conn))
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
        if id(conn) in self._staged:
            conn.execute(f"TRUNCATE {_STAGING}")
            return
        cols = ", ".join(f"{c} {_column_type(c)}" for c in OBS_INSERT)
        conn.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} "
                     f"(seq BIGINT GENERATED ALWAYS AS IDENTITY, {cols})")
        conn.execute(f"TRUNCATE {_STAGING}")
        if not self._obs_sequence:
            self._obs_sequence = str(self._one(
                "SELECT pg_get_serial_sequence('observations', 'obs_id')"))
        self._staged.add(id(conn))


__all__ = ["PostgresStore", "redact"]
