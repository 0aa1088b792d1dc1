"""The embedded store: one SQLite file in WAL mode, no server.

Durability: WAL journal; each import batch is one transaction, so a process killed at any
moment leaves only whole committed batches (SQLite's atomic commit), and re-running the import
adds what is missing (observations are unique by ``dedup_key``). ``synchronous=NORMAL`` keeps
every committed transaction across a crash of the process; only a power cut can lose the last
ones, never corrupt the file.

Schema: ``schema_migrations`` records every forward migration applied (``MIGRATIONS`` below, in
order; never edited once released). Opening a file written by a newer truceguard is refused.
The ingest log and the violation status log are append-only: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from truceguard.errors import SchemaVersionError, StoreError
from truceguard.geo.sphere import haversine_m
from truceguard.io.columns import FIELDS, ObservationColumns
from truceguard.model import IngestSummary, Observation, Viewer, utc_now
from truceguard.store.base import ObservationFilter
from truceguard.store.schema import MIGRATIONS, SECONDARY_INDEXES

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Read back in this order (``_row_to_observation``): the id, every stored field but the
# deduplication key, and the incident fusion assigned.
OBS_COLUMNS = ("obs_id", *(f for f in FIELDS if f != "dedup_key"), "incident_id")
_SELECT = "SELECT " + ", ".join("o." + c for c in OBS_COLUMNS) + " FROM observations o"
_INSERT = (
    f"INSERT OR IGNORE INTO observations ({', '.join(FIELDS)}) "
    f"VALUES ({','.join('?' * len(FIELDS))})"
)


def _row_to_observation(r: Sequence[Any]) -> Observation:
    return Observation(
        obs_id=r[0],
        source=r[1],
        how_known=r[2],
        t_start=r[3],
        t_end=r[4],
        time_precision_s=r[5],
        lat=r[6],
        lon=r[7],
        uncertainty_m=r[8],
        category=r[9],
        weapon_class=r[10],
        count=r[11],
        text=r[12],
        origin=r[13],
        source_ref=r[14],
        releasability=r[15],
        raw=r[16],
        raw_sha256=r[17],
        source_file=r[18],
        source_line=r[19],
        attributes=json.loads(r[20]) if r[20] else {},
        incident_id=r[21],
    )


class SQLiteStore:
    """The Store protocol over one SQLite file."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        if not create and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"{self.path}: no such database (run `truceguard init` first)")
        try:
            # One thread at a time uses the connection; the import pipeline hands it to its
            # writer thread while the reader thread waits.
            self.conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a truceguard database ({exc})") from exc
        self._depth = 0
        self.migrate()
        self.ensure_indexes()

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        row = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if row is None:
            return 0
        v = self.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        return int(v or 0)

    def migrate(self, target: int | None = None) -> int:
        """Apply every forward migration up to ``target`` (default: the latest)."""
        current = self.schema_version()
        latest = len(MIGRATIONS)
        if current > latest:
            raise SchemaVersionError(
                f"{self.path}: schema version {current} is newer than this truceguard knows "
                f"({latest}); upgrade truceguard"
            )
        goal = latest if target is None else target
        for version in range(current + 1, goal + 1):
            with self.transaction():
                for statement in _split_sql(MIGRATIONS[version - 1]):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, utc_now()),
                )
        return goal

    def ensure_indexes(self) -> None:
        """Recreate any secondary index a bulk load dropped (e.g. if it was killed)."""
        for statement in SECONDARY_INDEXES.values():
            self.conn.execute(statement)

    @contextmanager
    def bulk_load(self, expected_rows: int) -> Iterator[None]:
        """Load many rows fast: for a load bigger than the table (and 50,000 rows), drop the
        secondary indexes and build them once at the end (sorted, far cheaper than
        maintaining them row by row). Reads stay correct meanwhile, only slower.

        A big load into a store that holds next to nothing first moves it to 64 KiB pages
        (SQLite's largest; a few milliseconds while it is small): observations keep their raw
        records, about 1 KB a row, and large pages make a quarter fewer writes of them."""
        c = self.conn

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
            except sqlite3.OperationalError:
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
                for name in SECONDARY_INDEXES:
                    self.conn.execute(f"DROP INDEX IF EXISTS {name}")
            yield
        finally:
            if dropped:
                c.execute("PRAGMA threads=2")  # SQLite may sort on a helper thread
                self.ensure_indexes()
                c.execute("PRAGMA threads=0")
            self.conn.execute("PRAGMA wal_autocheckpoint=1000")
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    # -- writes -----------------------------------------------------------------------------
    def add_observations(self, batch: Sequence[Observation]) -> tuple[int, int]:
        before = self.conn.total_changes
        dumps = _JSON.encode
        self.conn.executemany(
            _INSERT,
            [
                (
                    o.dedup_key,
                    o.source,
                    o.how_known,
                    o.t_start,
                    o.t_end,
                    o.time_precision_s,
                    o.lat,
                    o.lon,
                    o.uncertainty_m,
                    o.category,
                    o.weapon_class,
                    o.count,
                    o.text,
                    o.origin,
                    o.source_ref,
                    o.releasability,
                    o.raw,
                    o.raw_sha256,
                    o.source_file,
                    o.source_line,
                    dumps(o.attributes) if o.attributes else "",
                )
                for o in batch
            ],
        )
        inserted = self.conn.total_changes - before
        return inserted, len(batch) - inserted

    def add_observation_columns(self, batch: ObservationColumns) -> tuple[int, int]:
        """Insert a column batch inside the current transaction: (inserted, duplicates).

        The same rows, in the same order, as ``add_observations`` of the same records. Values
        all records share are written into the statement once instead of bound for every row,
        and rows go 64 to a statement (``INSERT OR IGNORE`` still decides row by row), so
        SQLite works longer between the calls that need the interpreter."""

        def literal(value: Any) -> str:
            if value is None:
                return "NULL"
            if isinstance(value, str):
                return "'" + value.replace("'", "''") + "'"
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"not a column constant: {value!r}")
            return repr(value)

        consts = batch.constants
        derive = batch.derived_dedup_key  # then SQL writes source || '|' || source_ref
        names = [f for f in FIELDS if f not in consts and not (derive and f == "dedup_key")]
        w = len(names)

        def values(r: int) -> str:  # row r of a statement: numbered parameters
            out = []
            for f in FIELDS:
                if f in consts:
                    out.append(literal(consts[f]))
                elif f == "dedup_key" and derive:
                    ref = r * w + names.index("source_ref") + 1
                    out.append(f"{literal(str(consts['source']) + '|')} || ?{ref}")
                else:
                    out.append(f"?{r * w + names.index(f) + 1}")
            return "(" + ", ".join(out) + ")"

        head = f"INSERT OR IGNORE INTO observations ({', '.join(FIELDS)}) VALUES "
        n, k = len(batch), 64  # 64 rows bind far fewer than 32,766 values
        full = n // k * k if w else 0
        before = self.conn.total_changes
        flat = list(itertools.chain.from_iterable(
            zip(*(batch.columns[f] for f in names))  # noqa: B905 - all n long
        )) if w else []
        if full:
            sql = head + ", ".join(values(r) for r in range(k))
            self.conn.executemany(sql, zip(*[iter(flat[: full * w])] * (k * w)))  # noqa: B905
        one = head + values(0)
        for at in range(full, n):  # the rest, one row a statement
            self.conn.execute(one, flat[at * w : (at + 1) * w])
        inserted = self.conn.total_changes - before
        return inserted, n - inserted

    def log_ingest(self, summary: IngestSummary, status: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO ingest_log (at, path, file_sha256, format, imported, duplicates, "
            "rejected, status) VALUES (?,?,?,?,?,?,?,?)",
            (
                utc_now(),
                summary.path,
                summary.file_sha256,
                summary.fmt,
                summary.imported,
                summary.duplicates,
                summary.rejected,
                status,
            ),
        )
        return int(cur.lastrowid or 0)

    # -- reads ------------------------------------------------------------------------------
    def ingest_log(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT ingest_id, at, path, file_sha256, format, imported, duplicates, rejected, "
            "status FROM ingest_log ORDER BY ingest_id"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def observations(
        self, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
    ) -> Iterator[Observation]:
        where, params = flt.to_sql(viewer)
        sql = f"{_SELECT} WHERE {where} ORDER BY o.t_start, o.obs_id"
        if limit is not None and flt.near is None:
            sql += f" LIMIT {int(limit)}"
        cur = self.conn.execute(sql, params)
        n = 0
        while True:
            rows = cur.fetchmany(2000)
            if not rows:
                return
            if flt.near is not None:
                keep = _near_mask(rows, flt.near, lat_i=6, lon_i=7)
                rows = [r for r, k in zip(rows, keep, strict=True) if k]
            for r in rows:
                if limit is not None and n >= limit:
                    return
                n += 1
                yield _row_to_observation(r)

    def count_observations(self, flt: ObservationFilter, viewer: Viewer) -> int:
        where, params = flt.to_sql(viewer)
        if flt.near is None:
            sql = f"SELECT COUNT(*) FROM observations o WHERE {where}"
            return int(self.conn.execute(sql, params).fetchone()[0])
        cur = self.conn.execute(f"SELECT o.lat, o.lon FROM observations o WHERE {where}", params)
        total = 0
        while rows := cur.fetchmany(50_000):
            total += int(_near_mask(rows, flt.near, lat_i=0, lon_i=1).sum())
        return total

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one SQL statement (for the judge and report modules' own tables)."""
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _near_mask(rows: Sequence[Sequence[Any]], near: tuple[float, float, float], *, lat_i: int,
               lon_i: int) -> np.ndarray:
    lat, lon, km = near
    la = np.fromiter((r[lat_i] for r in rows), float, len(rows))
    lo = np.fromiter((r[lon_i] for r in rows), float, len(rows))
    return np.asarray(haversine_m(lat, lon, la, lo) <= km * 1000.0)


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script (split on lines that end a statement with ';')."""
    out, buf = [], []
    depth = 0
    for line in script.strip().splitlines():
        buf.append(line)
        up = line.strip().upper()
        if up.startswith("CREATE TRIGGER"):
            depth = 1
        if depth and up.startswith("END;"):
            depth = 0
            out.append("\n".join(buf))
            buf = []
        elif not depth and line.rstrip().endswith(";"):
            out.append("\n".join(buf))
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf))
    return out
