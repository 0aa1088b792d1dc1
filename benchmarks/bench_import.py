"""Import 1,000,000 UCDP-shaped rows: truceguard against pandas.read_csv + DataFrame.to_sql.

Ours validates every row, keeps each raw record verbatim with its SHA-256, deduplicates on the
source id and commits in batches; the peer is what a user would do by hand: read the CSV with
pandas and write it to a SQLite table. Same file, same machine, same process, fresh databases.
The last line printed is one JSON object.

    python benchmarks/bench_import.py [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from truceguard.ingest import import_file
from truceguard.store import SQLiteStore
from truceguard.synthetic import write_ucdp_like


def ours(src: Path, db: Path) -> tuple[float, int]:
    store = SQLiteStore(db)
    t = time.perf_counter()
    summary = import_file(store, src, fmt="ucdp")
    elapsed = time.perf_counter() - t
    store.close()
    assert summary.rejected == 0
    return elapsed, summary.imported


def peer(src: Path, db: Path) -> tuple[float, int]:
    import pandas as pd

    conn = sqlite3.connect(db)
    t = time.perf_counter()
    df = pd.read_csv(src)
    df.to_sql("ged", conn, index=False, chunksize=50_000)
    conn.commit()
    elapsed = time.perf_counter() - t
    n = conn.execute("SELECT COUNT(*) FROM ged").fetchone()[0]
    conn.close()
    return elapsed, int(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each, alternating; the figures are the medians")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "ged.csv"
        write_ucdp_like(src, args.n, seed=1)
        size_mb = src.stat().st_size / 1e6
        ours_runs, peer_runs, ratios = [], [], []
        for i in range(args.repeat):
            ours_s, n_ours = ours(src, work / f"ours{i}.db")
            peer_s, n_peer = peer(src, work / f"peer{i}.db")
            assert n_ours == n_peer == args.n, (n_ours, n_peer)
            (work / f"ours{i}.db").unlink()
            (work / f"peer{i}.db").unlink()
            ours_runs.append(ours_s)
            peer_runs.append(peer_s)
            ratios.append(peer_s / ours_s)
            print(f"run {i + 1}: ours {ours_s:.2f} s, peer {peer_s:.2f} s, "
                  f"ratio {peer_s / ours_s:.2f}")
        ours_s = statistics.median(ours_runs)
        peer_s = statistics.median(peer_runs)
        print(f"file: {args.n:,} rows, {size_mb:.0f} MB")
        print(f"truceguard import:      {ours_s:7.2f} s  {args.n / ours_s:>10,.0f} rows/s")
        print(f"pandas read_csv+to_sql: {peer_s:7.2f} s  {args.n / peer_s:>10,.0f} rows/s")
        print(json.dumps({
            "benchmark": "import",
            "n": args.n,
            "ours_s": round(ours_s, 3),
            "ours_rows_per_s": round(args.n / ours_s),
            "peer": "pandas.to_sql",
            "peer_s": round(peer_s, 3),
            "ratio": round(statistics.median(ratios), 3),
        }))


if __name__ == "__main__":
    main()
