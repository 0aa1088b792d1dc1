"""The embedded store: one SQLite file in WAL mode, no server.

Durability: WAL journal; each import batch is one transaction, so a process killed at any
moment leaves only whole committed batches (SQLite's atomic commit), and re-running the import
adds what is missing (observations are unique by ``dedup_key``). ``synchronous=NORMAL`` keeps
every committed transaction across a crash of the process; only a power cut can lose the last
ones, never corrupt the file.

Concurrency: each thread gets its own connection (a server's threads share the store object);
writers take the write lock at the start of their transaction (``BEGIN IMMEDIATE``) and wait
up to ``busy_timeout_s`` (``BUSY_TIMEOUT_S`` unless told otherwise) for it, so two imports into
one file, or a reader beside an import, never fail with "database is locked" while the other
works. Writers in one process first queue for their turn, first come first served
(``store.turns``: SQLite's own wait is a loop of sleeps that a thread committing back to back
can starve), each waiting up to the same ``busy_timeout_s``. Past that wait the store raises
``StoreBusyError`` (``store.busy``): nothing was written, and the caller may try again (the
server answers 503 with ``Retry-After``; it gives its request connections a shorter wait,
``set_busy_timeout``). A thread may lend its connection to a helper thread
(``lend_connection``): the import's writer thread commits inside the importing thread's
transaction that way.

A live stream of small commits (``ingest_stream``, the CoT sink's writer): with
``separate_checkpoints`` the writer's connection stops checkpointing the write-ahead log
itself (``wal_autocheckpoint=0``: a checkpoint copies the log into the database and waits for
the disk, tens of milliseconds in the way of the next commit) and another thread calls
``checkpoint`` (``wal_checkpoint(PASSIVE)``, which never waits for readers) on its own
connection beside the commits. Commits stay as durable as any other (``synchronous=NORMAL`` in
WAL mode: a committed transaction survives a crash of the process).

Schema: ``schema_migrations`` records every forward migration applied (``store.schema``, in
order; never edited once released). Opening a file written by a newer truceguard is refused.
The ingest log, the marking log and the status trail are append-only: triggers refuse UPDATE
and DELETE.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from truceguard.errors import StoreBusyError, StoreError
from truceguard.io.columns import ObservationColumns
from truceguard.store.federation import FederationTables
from truceguard.store.map_columns import MapColumnTables
from truceguard.store.sql import OBS_INSERT, SQLStore, stored_values
from truceguard.store.turns import WriteTurns, turns_for

BUSY_TIMEOUT_S = 60.0
WAL_AUTOCHECKPOINT = 1000  # pages: SQLite's default
SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


class _Cursor(sqlite3.Cursor):
    """A cursor whose "database is locked" (past the busy wait) is ``StoreBusyError``."""

    def execute(self, *args: Any) -> Any:
        try:
            return super().execute(*args)
        except sqlite3.OperationalError as exc:
            raise _busy(self.connection, exc) from exc

    def executemany(self, *args: Any) -> Any:
        try:
            return super().executemany(*args)
        except sqlite3.OperationalError as exc:
            raise _busy(self.connection, exc) from exc


class _Connection(sqlite3.Connection):
    """A connection whose statements raise ``StoreBusyError`` once the busy wait is over."""

    busy_timeout_s = BUSY_TIMEOUT_S

    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)

    def execute(self, *args: Any) -> Any:
        return self.cursor().execute(*args)

    def executemany(self, *args: Any) -> Any:
        return self.cursor().executemany(*args)


def _busy(conn: sqlite3.Connection, exc: sqlite3.OperationalError) -> Exception:
    if not _is_busy(exc):
        return exc
    return _stayed_locked(getattr(conn, "busy_timeout_s", BUSY_TIMEOUT_S), str(exc))


def _stayed_locked(waited: float, why: str) -> StoreBusyError:
    return StoreBusyError(f"the database stayed locked by another writer for {waited:g} s "
                          f"({why})", retry_after_s=max(1, min(30, round(waited))))


class SQLiteStore(SQLStore, FederationTables, MapColumnTables):
    """The Store protocol over one SQLite file."""

    backend = "sqlite"
    _begin = "BEGIN IMMEDIATE"  # take the write lock now, waiting for it if need be
    busy_timeout_s: float

    def __init__(self, path: str | Path, *, create: bool = True,
                 busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        super().__init__()
        self.path = str(path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._turns = WriteTurns() if self.path == ":memory:" else turns_for(self.path)
        p = Path(self.path)
        if self.path != ":memory:":
            if not p.parent.exists():
                raise StoreError(f"{self.path}: the folder {str(p.parent)!r} does not exist",
                                 hint="create the folder first, or give --db another path",
                                 code="store.no_folder")
            if p.is_dir():
                raise StoreError(f"{self.path} is a folder, not a database file",
                                 hint="give --db the path of a .db file",
                                 code="store.not_a_file")
            if not p.exists() and not create:
                raise StoreError(f"{self.path}: no such database",
                                 hint=f"run `truceguard init --db {self.path}` first, or "
                                      "import a file (which creates it)",
                                 code="store.not_found")
            if p.exists() and p.stat().st_size:
                with open(p, "rb") as fh:
                    if fh.read(16) != SQLITE_MAGIC:
                        raise StoreError(f"{self.path} is not a truceguard database (not an "
                                         "SQLite file)", hint="give --db a truceguard database",
                                         code="store.not_a_database")
        try:
            self._db()
            self.migrate()
            self.ensure_indexes()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreError(f"{self.path}: not a truceguard database ({exc})",
                             hint="give --db a truceguard database",
                             code="store.not_a_database") from exc

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.path == ":memory:" and self._all:
            return self._all[0]  # one in-memory database, shared
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_s,
                               check_same_thread=False, factory=_Connection)
        self._set_wait(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _set_wait(self, conn: sqlite3.Connection) -> None:
        conn.busy_timeout_s = self.busy_timeout_s  # type: ignore[attr-defined]
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")

    def _in_transaction(self, conn: sqlite3.Connection) -> bool:
        return conn.in_transaction

    @contextmanager
    def _write_turn(self, conn: sqlite3.Connection) -> Iterator[None]:
        """Wait for this process's turn to write the file (``store.turns``), as long as the
        connection waits for SQLite's lock; then ``StoreBusyError``."""
        waited = getattr(conn, "busy_timeout_s", self.busy_timeout_s)
        if not self._turns.acquire(waited):
            raise _stayed_locked(waited, "waiting for this process's turn to write")
        try:
            yield
        finally:
            self._turns.release()

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        return self._db()

    # -- schema -----------------------------------------------------------------------------
    def _has_schema(self) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                         "name = 'schema_migrations'") is not None

    def _existing_indexes(self) -> set[str]:
        return {str(r[0]) for r in self._rows("SELECT name FROM sqlite_master "
                                              "WHERE type = 'index'")}

    @contextmanager
    def bulk_load(self, expected_rows: int) -> Iterator[None]:
        """Load many rows fast: for a load bigger than the table (and 50,000 rows), drop the time
        and position indexes and build them once at the end (sorted, far cheaper than
        maintaining them row by row). Reads stay correct meanwhile, only slower.

        A big load into a store that holds next to nothing first moves it to 64 KiB pages
        (SQLite's largest; a few milliseconds while it is small): observations keep their raw
        records, about 1 KB a row, and large pages make a quarter fewer writes of them."""
        c = self._db()

        def use_large_pages(page_size: int = 65536, max_bytes: int = 8 << 20) -> None:
            # Only outside a transaction, for a small file, and while no other connection has
            # it open (leaving WAL mode needs that); otherwise, or if anything fails, the file
            # stays as it is. WAL mode is restored in every case.
            size = c.execute("PRAGMA page_size").fetchone()[0]
            if self.path == ":memory:" or c.in_transaction or size >= page_size:
                return
            if c.execute("PRAGMA page_count").fetchone()[0] * size > max_bytes:
                return
            try:
                if c.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
                    return
                c.execute(f"PRAGMA page_size={int(page_size)}")
                c.execute("VACUUM")
            except (sqlite3.OperationalError, StoreBusyError):
                pass
            finally:
                c.execute("PRAGMA journal_mode=WAL")

        current = c.execute("SELECT MAX(obs_id) FROM observations").fetchone()[0] or 0
        dropped = expected_rows > max(50_000, current)
        if dropped and current == 0:
            use_large_pages()
        page = c.execute("PRAGMA page_size").fetchone()[0]
        c.execute("PRAGMA cache_size=-262144")
        c.execute(f"PRAGMA wal_autocheckpoint={(64 << 20) // page}")  # every 64 MiB
        try:
            if dropped:
                self._drop_secondary_indexes()
            yield
        finally:
            if dropped:
                c.execute("PRAGMA threads=2")  # SQLite may sort on a helper thread
                self.ensure_indexes()
                c.execute("PRAGMA threads=0")
            c.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            c.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def ingest_stream(self, *, separate_checkpoints: bool = False) -> Iterator[None]:
        """This thread writes a stream of small commits (see the module docstring): with
        ``separate_checkpoints`` its connection leaves checkpoints to ``checkpoint`` calls on
        another thread meanwhile; at the end it checkpoints by itself again."""
        conn = self._db()
        if separate_checkpoints:
            conn.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            if separate_checkpoints:
                conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")

    def checkpoint(self) -> bool:
        """Copy the committed part of the write-ahead log into the database file, on this
        thread's connection, without waiting for readers or writers (PASSIVE); False for an
        in-memory database, which has no log."""
        if self.path == ":memory:":
            return False
        self._db().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        return True

    # -- writes -----------------------------------------------------------------------------
    def _insert_observation_rows(self, batch: ObservationColumns, marking_ids: list[int] | int,
                                 reader: str, curated: bool) -> int:
        """Insert a column batch: (inserted rows). Values all records share are written into
        the statement once instead of bound for every row, and rows go 64 to a statement
        (``ON CONFLICT DO NOTHING`` still decides row by row), so SQLite works longer between
        the calls that need the interpreter."""
        columns, consts, prefix = stored_values(batch, marking_ids, reader, curated)
        derive = prefix is not None  # then SQL writes the prefix || source_ref
        names = [f for f in OBS_INSERT if f not in consts and not (derive and f == "dedup_key")]
        w = len(names)

        def values(r: int) -> str:  # row r of a statement: numbered parameters
            out = []
            for f in OBS_INSERT:
                if f in consts:
                    out.append(_literal(consts[f]))
                elif f == "dedup_key" and derive:
                    ref = r * w + names.index("source_ref") + 1
                    out.append(f"{_literal(prefix)} || ?{ref}")
                else:
                    out.append(f"?{r * w + names.index(f) + 1}")
            return "(" + ", ".join(out) + ")"

        conn = self._db()
        head = f"INSERT INTO observations ({', '.join(OBS_INSERT)}) VALUES "
        tail = " ON CONFLICT DO NOTHING"
        n, k = len(batch), 64  # 64 rows bind far fewer than 32,766 values
        full = n // k * k if w else 0
        before = conn.total_changes
        flat = list(itertools.chain.from_iterable(
            zip(*(columns[f] for f in names))  # noqa: B905 - all n long
        )) if w else []
        if full:
            sql = head + ", ".join(values(r) for r in range(k)) + tail
            conn.executemany(sql, zip(*[iter(flat[: full * w])] * (k * w)))  # noqa: B905
        one = head + values(0) + tail
        for at in range(full, n):  # the rest, one row a statement
            conn.execute(one, flat[at * w : (at + 1) * w])
        return conn.total_changes - before


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a column constant: {value!r}")
    return repr(value)


__all__ = ["SQLiteStore"]
