"""The command line: help everywhere, and the observe commands end to end on real data."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import UCDP_CLEAN
from truceguard.cli import main


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, prefix + (name,))
        else:
            out.append(prefix + (name,))
    return out


EXPECTED = {"init", "import", "observations", "export", "demo", "fuse", "adjudicate", "incidents",
            "violations", "review", "report", "plan", "compare", "conflicts", "remark",
            "markings"}


def test_every_command_has_help(runner: CliRunner) -> None:
    names = {c[0] for c in all_commands(main) if c}
    assert names >= EXPECTED
    for path in all_commands(main):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        cmd = main
        for part in path:
            cmd = cmd.commands[part]  # type: ignore[attr-defined]
        assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"


def test_python_dash_m() -> None:
    out = subprocess.run([sys.executable, "-m", "truceguard", "--help"], capture_output=True,
                         text=True, check=True)
    assert "import" in out.stdout


def imported(runner: CliRunner, db: str) -> None:
    r = runner.invoke(main, ["import", str(UCDP_CLEAN), "--db", db])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines()[-1] == (
        "imported 3077, duplicates 0, conflicts 0, rejected 0")


def test_import_then_count_then_again(runner: CliRunner, db: str) -> None:
    r = runner.invoke(main, ["init", "--db", db, "--nation", "GBR"])
    assert r.exit_code == 0 and "owner GBR" in r.output
    imported(runner, db)
    r = runner.invoke(main, ["observations", "--db", db, "--count", "--format", "json"])
    assert json.loads(r.output) == {"count": 3077, "marking": "PUBLIC"}
    r = runner.invoke(main, ["import", str(UCDP_CLEAN), "--db", db])
    assert r.stdout.strip().splitlines()[-1] == (
        "imported 0, duplicates 3077, conflicts 0, rejected 0")
    r = runner.invoke(main, ["init", "--db", db, "--nation", "FRA"])
    assert r.exit_code == 1 and "owned by GBR" in r.output


def test_db_from_environment(runner: CliRunner, db: str) -> None:
    r = runner.invoke(main, ["import", str(UCDP_CLEAN)], env={"TRUCEGUARD_DB": db})
    assert r.exit_code == 0 and Path(db).exists()


FILTERS = ["--since", "2015-02-15", "--until", "2016-12-31", "--near", "48.0159,37.8028",
           "--within-km", "40", "--category", "armed_clash"]


def test_export_is_exactly_the_filtered_view(runner: CliRunner, db: str, tmp_path: Path) -> None:
    imported(runner, db)
    listed = runner.invoke(main, ["observations", "--db", db, *FILTERS, "--format", "csv"])
    assert listed.exit_code == 0
    stdout = runner.invoke(main, ["export", "--db", db, *FILTERS, "--format", "csv", "-o", "-"])
    assert stdout.stdout == listed.stdout
    count = json.loads(runner.invoke(
        main, ["observations", "--db", db, *FILTERS, "--count", "--format", "json"]).output)
    out = tmp_path / "x.csv"
    r = runner.invoke(main, ["export", "--db", db, *FILTERS, "--format", "csv", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == listed.stdout
    banner, body = listed.stdout.split("\n", 1)
    assert banner.strip() == "# marking: PUBLIC"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == count["count"] > 50
    assert all("2015-02-15" <= row["time"][:10] <= "2016-12-31" for row in rows)
    gj = tmp_path / "x.geojson"
    r = runner.invoke(main, ["export", "--db", db, *FILTERS, "--format", "geojson", "-o", str(gj)])
    assert r.exit_code == 0
    assert len(json.loads(gj.read_text())["features"]) == count["count"]


def test_table_and_json_output(runner: CliRunner, db: str) -> None:
    imported(runner, db)
    r = runner.invoke(main, ["observations", "--db", db, "--limit", "3"])
    assert r.exit_code == 0 and "armed_clash" in r.output
    r = runner.invoke(main, ["observations", "--db", db, "--limit", "3", "--format", "json"])
    doc = json.loads(r.output)
    rows = doc["rows"]
    assert doc["marking"] == "PUBLIC" and doc["count"] == 3
    assert len(rows) == 3 and rows[0]["raw_sha256"]
    # numbers are numbers, missing values null, times ISO 8601 UTC
    assert isinstance(rows[0]["lat"], float) and isinstance(rows[0]["count"], int)
    assert rows[0]["incident_id"] is None
    assert rows[0]["t_start"].endswith("Z") and rows[0]["t_start"][4] == "-"


def test_missing_database_and_unknown_file(runner: CliRunner, tmp_path: Path) -> None:
    r = runner.invoke(main, ["observations", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 1 and "truceguard init" in r.output
    r = runner.invoke(main, ["import", str(tmp_path / "nope.csv"), "--db", str(tmp_path / "a.db")])
    assert r.exit_code == 1 and "no such file" in r.output
    assert not (tmp_path / "a.db").exists()  # a refused import creates nothing


def test_import_reports_rejects(runner: CliRunner, db: str, tmp_path: Path) -> None:
    p = tmp_path / "feed.csv"
    p.write_text("date,latitude,longitude\n2020-01-01,48,38\n2020-01-02,148,38\n")
    rej = tmp_path / "rej.csv"
    r = runner.invoke(main, ["import", str(p), "--db", db, "--map", "time=date", "--rejects",
                             str(rej)])
    assert r.exit_code == 0, r.output
    assert "imported 1, duplicates 0, conflicts 0, rejected 1" in r.output
    assert f"{p}:3: latitude" in r.output
    assert "148" in rej.read_text()


def test_demo_on_shipped_data(runner: CliRunner, db: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    r = runner.invoke(main, ["demo", "--db", db, "-o", str(out), "--samples", "500"])
    assert r.exit_code == 0, r.output
    assert "imported 3077" in r.output
    assert "violations of minsk-2015" in r.output
    assert (out / "violations-minsk-2015.html").stat().st_size > 10_000
    results = json.loads((out / "plan-reassurance-2026" / "results.json").read_text())
    assert {"us-backstop", "us-isr-only", "no-us", "no-italy"} <= set(results["variants"])


def test_import_progress_bar_leaves_the_reader_free_to_fork(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from truceguard.cli import observe
    from truceguard.ingest import _can_fork

    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (5 << 20))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    progress, advance = observe._progress_for(str(big))
    assert not progress.disable  # a terminal and a large file: the bar shows
    with progress:
        advance(1 << 20)
        assert threading.active_count() == 1 and _can_fork()
