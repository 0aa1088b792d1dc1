"""The demo works in its own database and never touches the user's; it reports progress
through a plain callback, and shows no bar when stderr is not a terminal."""

from __future__ import annotations

import csv
import importlib
import io
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from truceguard.cli import main
from truceguard.geo.shipped import data_path

USER_EVENT = "999000001"  # a UCDP id the shipped file does not have: the user's own row
SHIPPED = data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
BAR = ("━", "\r", "\x1b[")  # what a rich bar writes


def _user_csv(path: Path) -> Path:
    """One event of the user's: a shipped UCDP row that becomes a counted violation, under an
    id of its own (so it neither deduplicates nor fuses with the shipped events)."""
    with open(SHIPPED, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        row = next(r for r in reader if r["id"] == "218755")
        fields = reader.fieldnames
    assert fields is not None
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerow({**row, "id": USER_EVENT})
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def small_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's planning cut to one variant and no sensitivity: these tests are about the
    database and the progress, and the full plan is tested in test_plan_cli."""
    sweep = importlib.import_module("truceguard.plan.sweep")  # the package's `sweep` is a function
    real_run, real_steps = sweep.run_plan, sweep.plan_steps
    monkeypatch.setattr(sweep, "run_plan", lambda scen, _v, samples, seed, **kw: real_run(
        scen, ["no-us"], samples, seed, **{**kw, "with_sensitivity": False}))
    monkeypatch.setattr(sweep, "plan_steps", lambda scen, *_a, **_k: real_steps(
        scen, ["no-us"], with_sensitivity=False))


def test_demo_leaves_the_users_database_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              small_plan: None) -> None:
    home = tmp_path / "work"
    home.mkdir()
    user_db = home / "truceguard.db"
    runner = CliRunner()
    r = runner.invoke(main, ["import", str(_user_csv(tmp_path / "mine.csv")), "--format", "ucdp",
                             "--db", str(user_db)])
    assert r.exit_code == 0 and "imported 1" in r.output, r.output
    before = user_db.read_bytes()
    old = 1_000_000_000  # a known mtime, so any write shows
    os.utime(user_db, (old, old))
    listing = sorted(p.name for p in home.iterdir())
    monkeypatch.chdir(home)
    monkeypatch.setenv("TRUCEGUARD_DB", str(user_db))

    from truceguard.cli import demo as cli_demo

    seen: list[tuple[str, int, int]] = []
    real = cli_demo.run_demo

    def spy(db, out_dir, **kw):  # type: ignore[no-untyped-def]
        assert db is None  # the CLI resolves nothing from the environment
        bar = kw["progress"]
        kw["progress"] = lambda step, done, total: (seen.append((step, done, total)),
                                                    bar(step, done, total))
        return real(db, out_dir, **kw)

    monkeypatch.setattr(cli_demo, "run_demo", spy)
    r = runner.invoke(main, ["demo", "-o", "out", "--samples", "200"])
    assert r.exit_code == 0, r.output

    # the user's database: byte-identical, not even touched, no WAL or journal left beside it
    assert user_db.read_bytes() == before
    assert user_db.stat().st_mtime == old
    assert sorted(p.name for p in home.iterdir()) == sorted([*listing, "out"])
    # the demo's own database, named on the console, holds the shipped events only
    demo_db = home / "out" / "demo.db"
    assert f"its own database {Path('out') / 'demo.db'}" in r.stdout
    with sqlite3.connect(demo_db) as conn:
        assert conn.execute("SELECT count(*) FROM observations").fetchone()[0] == 3077
    assert "imported 3077" in r.stdout and "3077 observations stored" in r.stdout
    report = (home / "out" / "violations-minsk-2015.html").read_text(encoding="utf-8")
    assert USER_EVENT not in report
    assert "1,211 violations counted" in report  # the user's would have made 1,212

    # progress: every step named, counts never go back and end at the total
    done = [d for _s, d, _t in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == seen[-1][2]
    assert len({t for _s, _d, t in seen}) == 1
    steps = [s for s, _d, _t in seen]
    assert "import the UCDP events" in steps and "plan: variant no-us" in steps
    assert "write the planning report" in steps
    # stderr is not a terminal here: no bar at all
    assert not any(c in r.output for c in BAR)


def test_demo_refuses_an_existing_database(tmp_path: Path) -> None:
    user_db = tmp_path / "mine.db"
    user_db.write_bytes(b"not yours")
    r = CliRunner().invoke(main, ["demo", "--db", str(user_db), "-o", str(tmp_path / "out")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "already exists" in r.output and "leave --db out" in r.output
    assert user_db.read_bytes() == b"not yours"
    assert not (tmp_path / "out").exists()  # refused before anything ran
    r = CliRunner().invoke(main, ["demo", "--db", "postgresql://u@h/db", "-o",
                                  str(tmp_path / "out")])
    assert r.exit_code == 1 and "database server" in r.output


def test_demo_refuses_a_demo_db_that_is_not_an_earlier_demos(tmp_path: Path) -> None:
    from truceguard.demo import demo_database
    from truceguard.errors import InputError

    out = tmp_path / "out"
    out.mkdir()
    assert demo_database(out) == out / "demo.db"
    (out / "demo.db").write_bytes(b"someone's")
    with pytest.raises(InputError, match="not an earlier demo's"):
        demo_database(out)
    assert (out / "demo.db").read_bytes() == b"someone's"
    (out / "violations-minsk-2015.html").write_text("an earlier demo's report")
    (out / "demo.db-wal").write_bytes(b"")
    assert demo_database(out) == out / "demo.db"  # an earlier demo's: started afresh
    assert not (out / "demo.db").exists() and not (out / "demo.db-wal").exists()
    assert demo_database(out, tmp_path / "new.db") == tmp_path / "new.db"
