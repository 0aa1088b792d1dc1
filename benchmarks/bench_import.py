"""Import 1,000,000 UCDP-shaped rows: truceguard against pandas.read_csv + DataFrame.to_sql.

Ours validates every row, keeps each raw record verbatim with its SHA-256, deduplicates on the
source id and commits in batches; the peer is what a user would do by hand: read the CSV with
pandas and write it to a table. Same file, same machine, same process, fresh databases.

``--backend sqlite`` (default): into SQLite files; the peer writes with ``to_sql`` on an
sqlite3 connection. ``--backend postgresql``: into fresh databases of one PostgreSQL server
(``--pg-url``, a URL whose user may create databases; default: a PostgreSQL 16 started here
with ``pgserver``); the peer writes with ``to_sql`` through SQLAlchemy on psycopg 3, both with
``method=None`` (executemany) and ``method="multi"`` (multi-row INSERTs), and the ratio is
against the faster of the two. ``method="multi"`` runs about twenty times slower than
executemany here (SQLAlchemy builds one statement of up to 65,535 values per chunk), so it
loads only the first ``--multi-n`` rows (default 20,000) and is reported in rows per second.
The last line printed is one JSON object.

    python benchmarks/bench_import.py [--backend sqlite|postgresql] [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from truceguard.ingest import import_file
from truceguard.store import open_store
from truceguard.synthetic import write_ucdp_like

Run = Callable[[Path, str], tuple[float, int]]


def ours(src: Path, where: str) -> tuple[float, int]:
    store = open_store(where)
    t = time.perf_counter()
    summary = import_file(store, src, fmt="ucdp")
    elapsed = time.perf_counter() - t
    store.close()
    assert summary.rejected == 0
    return elapsed, summary.imported


def peer_sqlite(src: Path, where: str) -> tuple[float, int]:
    import pandas as pd

    conn = sqlite3.connect(where)
    t = time.perf_counter()
    df = pd.read_csv(src)
    df.to_sql("ged", conn, index=False, chunksize=50_000)
    conn.commit()
    elapsed = time.perf_counter() - t
    n = conn.execute("SELECT COUNT(*) FROM ged").fetchone()[0]
    conn.close()
    return elapsed, int(n)


def peer_postgres(method: str | None, nrows: int | None = None) -> Run:
    def run(src: Path, where: str) -> tuple[float, int]:
        import pandas as pd
        import sqlalchemy

        engine = sqlalchemy.create_engine(where.replace("postgresql://", "postgresql+psycopg://"))
        t = time.perf_counter()
        df = pd.read_csv(src, nrows=nrows)
        # "multi" binds every column of every row: PostgreSQL takes 65,535 values a statement.
        chunk = 50_000 if method is None else 65_535 // len(df.columns)
        df.to_sql("ged", engine, index=False, chunksize=chunk, method=method)
        elapsed = time.perf_counter() - t
        with engine.connect() as conn:
            n = conn.execute(sqlalchemy.text("SELECT COUNT(*) FROM ged")).scalar_one()
        engine.dispose()
        return elapsed, int(n)

    return run


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, when $XDG_RUNTIME_DIR is unset
        import pgserver
    home = Path(tempfile.mkdtemp(prefix="truceguard-bench-pg-"))
    server = pgserver.get_server(home / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(home, ignore_errors=True)


def fresh_postgres(server: str) -> Callable[[str], tuple[str, Callable[[], None]]]:
    import psycopg

    def make(name: str) -> tuple[str, Callable[[], None]]:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")

        def drop() -> None:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")

        return urlunsplit(urlsplit(server)._replace(path="/" + name)), drop

    return make


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", help="a PostgreSQL server to use (default: start one)")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--multi-n", type=int, default=20_000,
                    help="rows for the method='multi' peer (PostgreSQL)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each, alternating; the figures are the medians")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "ged.csv"
        rows: dict[str, int] = {}  # rows each one loads
        write_ucdp_like(src, args.n, seed=1)
        size_mb = src.stat().st_size / 1e6
        server_cm = (nullcontext(None) if args.backend == "sqlite"
                     else postgres_server(args.pg_url))
        with server_cm as server:
            if server is None:
                def where(name: str) -> tuple[str, Callable[[], None]]:
                    path = work / f"{name}.db"
                    return str(path), lambda: path.unlink()

                peers: dict[str, Run] = {"pandas.to_sql": peer_sqlite}
            else:
                where = fresh_postgres(server)
                multi_n = min(args.multi_n, args.n)
                peers = {"pandas.to_sql(method=None)": peer_postgres(None),
                         "pandas.to_sql(method='multi')": peer_postgres("multi", multi_n)}
                rows["pandas.to_sql(method='multi')"] = multi_n
            times: dict[str, list[float]] = {"ours": [], **{p: [] for p in peers}}
            rows.update({k: rows.get(k, args.n) for k in times})
            for i in range(args.repeat):
                for j, (name, run) in enumerate((("ours", ours), *peers.items())):
                    location, drop = where(f"bench_{'ours' if j == 0 else f'peer{j}'}_{i}")
                    seconds, n = run(src, location)
                    drop()
                    assert n == rows[name], (name, n)
                    times[name].append(seconds)
                print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
        median = {k: statistics.median(v) for k, v in times.items()}
        rate = {k: rows[k] / v for k, v in median.items()}
        peer = max(peers, key=lambda p: rate[p])
        ratios = [p / o for p, o in zip(times[peer], times["ours"], strict=True)]
        print(f"file: {args.n:,} rows, {size_mb:.0f} MB, backend {args.backend}")
        for name, seconds in median.items():
            label = "truceguard import" if name == "ours" else f"pandas read_csv+{name[7:]}"
            print(f"{label:42s} {rows[name]:>9,} rows {seconds:8.2f} s "
                  f"{rate[name]:>10,.0f} rows/s")
        print(json.dumps({
            "benchmark": "import",
            "backend": args.backend,
            "n": args.n,
            "ours_s": round(median["ours"], 3),
            "ours_rows_per_s": round(args.n / median["ours"]),
            "peer": peer,
            "peer_s": round(median[peer], 3),
            "peers_rows_per_s": {k: round(v) for k, v in rate.items() if k != "ours"},
            "ratio": round(statistics.median(ratios), 3),
        }))


if __name__ == "__main__":
    main()
