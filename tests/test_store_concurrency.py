"""Many processes on one store at once: imports into the same SQLite file beside a reader, and
many writers into one PostgreSQL database. Real processes, overlapping files: every record is
stored once, and each import counts what it stored, what was already there and what
conflicted, exactly. And many threads on one store object, on both backends; on PostgreSQL
they borrow from a bounded pool (counted in ``pg_stat_activity``), and one that finds no
connection free in time is told the store is busy."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.conftest import UCDP_CLEAN
from tests.helpers import readline_within, wait_for
from truceguard.errors import InputError, StoreBusyError
from truceguard.io import read_ucdp
from truceguard.model import Observation, Viewer
from truceguard.store import ObservationFilter, PostgresStore, Store, open_store
from truceguard.synthetic import write_ucdp_like

ALL = ObservationFilter()
OWNER = Viewer.owner()

# One import in a process of its own: opens the store, says "ready", starts when a line ("go")
# comes on its stdin; prints its summary.
IMPORT = """
import json, sys
from truceguard.ingest import import_file
from truceguard.store import open_store
location, path = sys.argv[1:3]
store = open_store(location)
print("ready", flush=True)
sys.stdin.readline()
s = import_file(store, path, fmt="ucdp", batch_size=500)
store.close()
print(json.dumps([s.imported, s.duplicates, s.conflicts, s.rejected]))
"""

# Opens the store, says "ready"; at the first line on its stdin ("go") counts the observations
# again and again until the next line ("stop"); prints the counts.
READ = """
import json, sys, threading
from truceguard.model import Viewer
from truceguard.store import ObservationFilter, open_store
location = sys.argv[1]
store = open_store(location)
print("ready", flush=True)
sys.stdin.readline()
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
seen = []
while not stop.is_set():
    seen.append(store.count_observations(ObservationFilter(), Viewer.owner()))
    seen.append(len(list(store.observations(ObservationFilter(since=0), Viewer.owner(),
                                             limit=50))))
store.close()
print(json.dumps(seen))
"""


def ucdp_rows(tmp_path: Path, n: int) -> tuple[list[str], list[list[str]]]:
    src = tmp_path / "all.csv"
    write_ucdp_like(src, n, seed=11)
    with open(src, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def launch(args: list[str]) -> subprocess.Popen[str]:
    """``python -c SCRIPT ARGS...`` with its stdin, stdout and stderr piped to the test."""
    return subprocess.Popen([sys.executable, "-c", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def tell(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def go_together(procs: list[subprocess.Popen[str]], timeout: float = 120) -> None:
    """The barrier: wait until every process has opened its store and said "ready", then
    tell them all to go."""
    for p in procs:
        assert p.stdout is not None and p.stderr is not None
        line = readline_within(p.stdout, timeout)
        assert line == "ready\n", p.stderr.read() if p.poll() is not None else line
    for p in procs:
        tell(p, "go")


def run_together(scripts: list[list[str]], timeout: float = 240
                 ) -> list[subprocess.Popen[str]]:
    """Start the processes, let them all open the store, then say go; wait for them."""
    procs = [launch(args) for args in scripts]
    go_together(procs)
    for p in procs:
        p.wait(timeout=timeout)
    return procs


def results(procs: list[subprocess.Popen[str]]) -> list[list[int]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        assert p.returncode == 0, stderr
        assert "locked" not in stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_sqlite_two_imports_and_a_reader_at_once(tmp_path: Path) -> None:
    header, rows = ucdp_rows(tmp_path, 30_000)
    a = write(tmp_path / "a.csv", header, rows[:20_000])
    b = write(tmp_path / "b.csv", header, rows[10_000:])  # 10,000 records in both files
    db = str(tmp_path / "shared.db")
    open_store(db).close()
    reader = launch([READ, db])
    imports = [launch([IMPORT, db, str(a)]), launch([IMPORT, db, str(b)])]
    go_together([reader, *imports])  # the reader counts from before the imports' first batch
    for p in imports:
        p.wait(timeout=240)
    tell(reader, "stop")
    got = results(imports)
    seen = results([reader])[0]
    # Each record is stored by one import and found stored by the other.
    assert all(r[3] == 0 and r[2] == 0 for r in got)
    assert [r[0] + r[1] for r in got] == [20_000, 20_000]
    assert got[0][0] + got[1][0] == 30_000 and got[0][1] + got[1][1] == 10_000
    counts = seen[0::2]
    assert len(counts) > 2 and counts == sorted(counts)  # the reader saw the tables grow
    assert any(0 < c < 30_000 for c in counts)
    with open_store(db) as store:
        assert store.count_observations(ALL, OWNER) == 30_000
        stored = [r[0] for r in store.execute(  # type: ignore[attr-defined]
            "SELECT source_ref FROM observations").fetchall()]
    assert sorted(stored) == sorted(r[0] for r in rows)


def test_postgres_many_writers_at_once(tmp_path: Path, pg_database: Callable[[], str]) -> None:
    n = 5_000
    header, rows = ucdp_rows(tmp_path, 4 * n)
    lat = header.index("latitude")
    revised = [[*r[:lat], f"{float(r[lat]) + 0.25:.6f}", *r[lat + 1:]] for r in rows[:n]]
    files = [
        write(tmp_path / "f0.csv", header, rows[: 2 * n]),
        write(tmp_path / "f1.csv", header, rows[n : 3 * n]),
        write(tmp_path / "f2.csv", header, rows[2 * n :]),
        # the first n records again, revised (another position): conflicts, whoever is first
        write(tmp_path / "f3.csv", header, revised + rows[3 * n :]),
    ]
    url = pg_database()
    open_store(url).close()
    got = results(run_together([[IMPORT, url, str(f)] for f in files]))
    assert all(imported + dup + conflicts == 2 * n and rejected == 0
               for imported, dup, conflicts, rejected in got)
    assert sum(r[0] for r in got) == 4 * n  # every record stored once
    assert sum(r[2] for r in got) == n  # each revised record is one conflict
    assert sum(r[1] for r in got) == 8 * n - 4 * n - n
    store: Store
    with open_store(url) as store:
        assert store.count_observations(ALL, OWNER) == 4 * n
        assert len(store.conflicts(OWNER)) == n
        stored = sorted(r[0] for r in store.execute(  # type: ignore[attr-defined]
            "SELECT source_ref FROM observations").fetchall())
        assert stored == sorted(r[0] for r in rows)
        log = store.ingest_log()
        assert sorted(r["imported"] for r in log) == sorted(r[0] for r in got)


def test_threads_share_one_store(store: Store) -> None:
    """A server's threads share one store object: each thread works on its own connection,
    so their transactions neither mix nor lock one another out."""
    records = [o for o in read_ucdp(UCDP_CLEAN) if isinstance(o, Observation)][:800]
    parts = [records[i::4] for i in range(4)]
    errors: list[BaseException] = []
    seen: list[int] = []
    start = threading.Barrier(len(parts))  # every thread's first write at the same time

    def work(part: list[Observation]) -> None:
        try:
            start.wait(timeout=60)
            for at in range(0, len(part), 50):
                with store.transaction():
                    store.add_observations(part[at : at + 50], reader="ucdp")
                    seen.append(store.count_observations(ALL, OWNER))
                with store.transaction():  # the same again: duplicates, in its own transaction
                    assert store.add_observations(part[at : at + 50],
                                                  reader="ucdp").duplicates == 50
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_observations(ALL, OWNER) == 800 and max(seen) <= 800
    assert sorted(o.source_ref for o in store.observations(ALL, OWNER)) == sorted(
        o.source_ref for o in records)


def named(url: str) -> tuple[str, str]:
    """``url`` with an ``application_name`` of its own (to count its connections), and that
    name."""
    name = f"truceguard-test-{uuid.uuid4().hex[:12]}"
    return f"{url}{'&' if '?' in url else '?'}application_name={name}", name


def connections(url: str, name: str) -> int:
    """How many sessions named ``name`` the server has open (seen from another session)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (name,)).fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_threads_borrow_from_a_bounded_pool(pg_database: Callable[[], str]) -> None:
    """Eight threads each hold a transaction on a store whose pool has three connections:
    three work at once, each on a connection (a server session) of its own, the other five
    wait for the pool, and the server never sees more than three sessions of the store."""
    url = pg_database()
    own_url, name = named(url)
    store = PostgresStore(own_url, pool_max_size=3)
    lock, release = threading.Lock(), threading.Event()
    inside: list[int] = []  # the backend pids of the threads inside a transaction now
    pids: set[int] = set()
    peak, errors = [0], list[BaseException]()

    def work() -> None:
        try:
            with store.transaction():
                assert store.count_observations(ALL, OWNER) == 0
                pid = int(store.execute("SELECT pg_backend_pid()").fetchone()[0])
                with lock:
                    inside.append(pid)
                    pids.add(pid)
                    peak[0] = max(peak[0], len(inside))
                release.wait(30)
                with lock:
                    inside.remove(pid)
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(inside) == 3, what="three threads inside a transaction")
        wait_for(lambda: store.pool.get_stats().get("requests_waiting") == 5,
                 what="five threads waiting for the pool")
        assert len(set(inside)) == 3  # three sessions, one each
        assert connections(url, name) == 3
    finally:
        release.set()
        for t in threads:
            t.join(60)
    assert errors == []
    assert peak[0] == 3 and len(pids) == 3  # never more than the pool's three
    assert connections(url, name) <= 3
    store.close()
    wait_for(lambda: connections(url, name) == 0, what="the pool's sessions to end")


def test_a_thread_that_finds_no_connection_free_is_told_the_store_is_busy(
        pg_database: Callable[[], str]) -> None:
    store = PostgresStore(pg_database(), pool_max_size=1, pool_timeout_s=0.3)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        with pytest.raises(StoreBusyError) as err:
            store.count_observations(ALL, OWNER)
        assert err.value.code == "store.busy" and "0.3 s" in str(err.value)
        assert err.value.retry_after_s >= 1
    finally:
        release.set()
        holder.join(30)
    assert store.count_observations(ALL, OWNER) == 0  # free again
    store.close()


def test_the_pool_takes_its_default_wait_from_the_busy_timeout(
        pg_database: Callable[[], str]) -> None:
    store = PostgresStore(pg_database(), pool_max_size=1)
    store.set_busy_timeout(0.25)
    with store.transaction():
        got: list[BaseException] = []
        other = threading.Thread(target=lambda: _catch(got, store.users))
        other.start()
        other.join(30)
    assert len(got) == 1 and isinstance(got[0], StoreBusyError)
    lock_timeout = store.execute("SHOW lock_timeout").fetchone()[0]
    assert lock_timeout == "250ms"  # the connection took the new lock wait when borrowed
    store.close()


def _catch(into: list[BaseException], call: Callable[[], object]) -> None:
    try:
        call()
    except BaseException as exc:  # handed to the test
        into.append(exc)


@pytest.mark.parametrize("sizes", [{"pool_max_size": 0}, {"pool_min_size": 5, "pool_max_size": 2},
                                   {"pool_timeout_s": 0.0}, {"pool_max_idle_s": -1.0}])
def test_pool_settings_out_of_range_are_refused_before_connecting(sizes: dict[str, float]
                                                                   ) -> None:
    with pytest.raises(InputError) as err:
        PostgresStore("postgresql://nobody@127.0.0.1:1/none", **sizes)  # type: ignore[arg-type]
    assert err.value.code == "input.out_of_range"
    assert any(str(v) in str(err.value) for v in sizes.values())
