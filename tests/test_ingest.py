"""The import pipeline: idempotent, batched, rejects kept, all-or-nothing, crash-safe."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import UCDP_CLEAN
from truceguard.errors import MissingColumnsError
from truceguard.ingest import import_file
from truceguard.model import Viewer
from truceguard.store import ObservationFilter, SQLiteStore, Store
from truceguard.synthetic import write_ucdp_like

ALL = ObservationFilter()
OWNER = Viewer.owner()


def test_real_file_twice_is_stored_once(store: Store) -> None:
    first = import_file(store, UCDP_CLEAN)
    assert (first.imported, first.duplicates, first.rejected) == (3077, 0, 0)
    again = import_file(store, UCDP_CLEAN)
    assert (again.imported, again.duplicates, again.rejected) == (0, 3077, 0)
    assert again.line == "imported 0, duplicates 3077, conflicts 0, rejected 0"
    assert store.count_observations(ALL, OWNER) == 3077
    log = store.ingest_log()
    assert [r["imported"] for r in log] == [3077, 0]
    assert log[0]["file_sha256"] == log[1]["file_sha256"]


def test_messy_export_adds_only_new_events(store: Store, test_data: Path) -> None:
    import_file(store, UCDP_CLEAN)
    path = test_data / "events" / "ucdp_ged_ukraine_2014-2023_partial_cp1252.csv"
    messy = import_file(store, path)
    # 2,987 events are in both exports (same UCDP id): stored once. Those UCDP revised
    # between the exports (another date, place or origin) are kept as conflicts for review.
    assert (messy.imported, messy.duplicates + messy.conflicts, messy.rejected) == (896, 2987, 0)
    assert 0 < messy.conflicts < 60
    conflicts = store.conflicts(Viewer.owner())
    assert len(conflicts) == messy.conflicts
    assert all(c.record["source_file"] == str(path) for c in conflicts)


def bad_file(tmp_path: Path) -> Path:
    """20 real UCDP rows, the fourth with its latitude out of range."""
    with open(UCDP_CLEAN, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[:21]
    rows[4][rows[0].index("latitude")] = "123.4"
    p = tmp_path / "bad.csv"
    with open(p, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return p


def test_rejects_file_and_good_rows_land(store: Store, tmp_path: Path) -> None:
    p = bad_file(tmp_path)
    rejects = tmp_path / "rejects.csv"
    s = import_file(store, p, rejects=rejects)
    assert (s.imported, s.rejected) == (19, 1)
    with open(rejects, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    assert rows[0]["field"] == "latitude" and "123.4" in rows[0]["reason"]
    assert rows[0]["file"] == str(p) and int(rows[0]["line"]) >= 2
    assert "123.4" in rows[0]["raw"]


def test_all_or_nothing(store: Store, tmp_path: Path) -> None:
    s = import_file(store, bad_file(tmp_path), all_or_nothing=True)
    assert (s.imported, s.rejected) == (0, 1)
    assert store.count_observations(ALL, OWNER) == 0
    assert store.ingest_log()[-1]["status"] == "rolled back"


def test_missing_columns_import_nothing_and_are_logged(store: Store,
                                                       tmp_path: Path) -> None:
    p = tmp_path / "cols.csv"
    p.write_text("id,date_start,where_prec,date_prec,dyad_name\n1,2015-01-01,1,1,x\n")
    with pytest.raises(MissingColumnsError):
        import_file(store, p, fmt="ucdp")
    assert store.count_observations(ALL, OWNER) == 0
    assert store.ingest_log()[-1]["status"].startswith("refused: ")


def processes_reading(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if str(path).encode() in cmd and state != "Z":
            found.append(int(entry.name))
    return found


def test_sigkill_mid_import_leaves_whole_batches_and_rerun_completes(tmp_path: Path) -> None:
    n, batch = 80_000, 1_000  # killed after 5 batches: some 75,000 rows (~1 s) still to go
    src = tmp_path / "big.csv"
    write_ucdp_like(src, n, seed=7)
    db = tmp_path / "kill.db"
    SQLiteStore(db).close()
    cmd = [sys.executable, "-m", "truceguard", "import", str(src), "--db", str(db),
           "--batch-size", str(batch)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline:
        time.sleep(0.02)
        try:
            with sqlite3.connect(db, timeout=1) as c:
                seen = c.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if seen >= 5 * batch:
            break
    assert proc.poll() is None, "the import finished before it could be killed: make it bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # the reading process it forked notices and ends too
    deadline = time.monotonic() + 15
    while processes_reading(src) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_reading(src) == []
    store = SQLiteStore(db)
    assert store.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = store.count_observations(ALL, OWNER)
    assert 0 < kept < n and kept % batch == 0  # only whole committed batches
    s = import_file(store, src, batch_size=batch)
    assert (s.imported, s.duplicates, s.rejected) == (n - kept, kept, 0)
    assert store.count_observations(ALL, OWNER) == n
    dup = store.execute(
        "SELECT COUNT(*) FROM (SELECT source_ref FROM observations GROUP BY source_ref "
        "HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    assert dup == 0
    store.close()


_IMPORT_IN_A_FRESH_PROCESS = """
import json, sys, threading
import truceguard.ingest as ingest
from truceguard.store import SQLiteStore
assert ingest._can_fork(), f"threads at start: {threading.enumerate()}"
ingest.CHILD_READER_BYTES = int(sys.argv[3])
store = SQLiteStore(sys.argv[2])
s = ingest.import_file(store, sys.argv[1])
rows = store.execute("SELECT dedup_key, raw, raw_sha256, t_start, lat, attributes "
                     "FROM observations ORDER BY obs_id").fetchall()
print(json.dumps({"imported": s.imported, "rejected": s.rejected,
                  "field": s.errors[0].field, "rows": rows}))
"""


def test_child_reader_gives_the_same_store(tmp_path: Path) -> None:
    """The import in this process and through a forked reader store the same rows. Each runs
    in a fresh interpreter: forking needs a process with one thread, which a test worker that
    ran other tests (a Dask client's IO loop, say) need not be."""
    src = bad_file(tmp_path)
    stored = []
    for threshold in (1 << 40, 0):  # in this process, then in a forked reader
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_IN_A_FRESH_PROCESS, str(src),
             str(tmp_path / f"child{threshold}.db"), str(threshold)],
            capture_output=True, text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        got = json.loads(out.stdout)
        assert (got["imported"], got["rejected"], got["field"]) == (19, 1, "latitude")
        stored.append(got["rows"])
    assert stored[0] == stored[1]


def test_a_file_missing_columns_is_refused_naming_them(tmp_path: Path) -> None:
    p = tmp_path / "cols.csv"
    p.write_text("id,date_start,where_prec,date_prec,dyad_name\n1,2015-01-01,1,1,x\n")
    store = SQLiteStore(tmp_path / "refused.db")
    with pytest.raises(MissingColumnsError) as info:
        import_file(store, p, fmt="ucdp")
    assert info.value.missing == ["latitude", "longitude", "date_end"]
    store.close()
