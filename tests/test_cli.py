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
from truceguard.cli import COMMANDS, LazyGroup, main
from truceguard.cli.common import EnvelopeGroup

HEAVY = ("numpy", "scipy", "shapely", "pyproj", "matplotlib")


def subcommand(group: click.Group, name: str) -> click.Command:
    cmd = group.get_command(click.Context(group), name)
    assert cmd is not None, name
    return cmd


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name in group.list_commands(click.Context(group)):
        cmd = subcommand(group, name)
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
        cmd: click.Command = main
        for part in path:
            assert isinstance(cmd, click.Group)
            cmd = subcommand(cmd, part)
        assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"


def test_command_table_short_help_is_each_commands_own() -> None:
    """The short help ``truceguard --help`` shows without importing a command is the first
    sentence of that command's help."""
    for name, (_target, short) in COMMANDS.items():
        assert short == subcommand(main, name).get_short_help_str(limit=10_000), name


def test_command_table_names_every_command_of_each_module() -> None:
    """Each module's commands (what its ``register`` adds) are in the table, pointing at it."""
    import importlib

    by_module: dict[str, set[str]] = {}
    for name, (target, _short) in COMMANDS.items():
        by_module.setdefault(target.partition(":")[0], set()).add(name)
    for module_name, names in by_module.items():
        module = importlib.import_module(module_name)
        scratch = click.Group()
        module.register(scratch)
        assert set(scratch.commands) == names, module_name
        for name in names:
            attr = COMMANDS[name][0].partition(":")[2]
            if attr != "register":
                assert getattr(module, attr) is scratch.commands[name], name


def test_group_help_loads_no_command() -> None:
    """``--help`` on a lazy group reads the table: the same text as with every command loaded,
    and no command imported."""
    lazy = LazyGroup("truceguard", lazy=COMMANDS, help=main.help)
    loaded = EnvelopeGroup("truceguard", help=main.help,
                           commands={name: subcommand(main, name) for name in COMMANDS})
    for width in (60, 100, 200):
        assert (lazy.get_help(click.Context(lazy, terminal_width=width))
                == loaded.get_help(click.Context(loaded, terminal_width=width)))
    assert lazy.commands == {}


def modules_loaded(*args: str) -> set[str]:
    """The top-level packages a fresh ``python ARGS`` imports (from ``-X importtime``)."""
    out = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True,
                         text=True, check=True)
    return {line.rpartition("|")[2].strip().split(".")[0]
            for line in out.stderr.splitlines() if line.startswith("import time:")}


def test_help_imports_nothing_heavy() -> None:
    assert modules_loaded("-m", "truceguard", "--help") & set(HEAVY) == set()


def test_python_dash_m() -> None:
    out = subprocess.run([sys.executable, "-m", "truceguard", "--help"], capture_output=True,
                         text=True, check=True)
    listed = {line.split()[0] for line in out.stdout.partition("Commands:")[2].splitlines()
              if line.startswith("  ") and not line.startswith("   ")}
    assert listed == set(COMMANDS)


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
    assert listed.stdout.startswith("obs_id,")  # plain CSV: the header first
    assert listed.stderr.strip().endswith("[PUBLIC]")  # the banner on the summary line
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
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


def test_csv_exports_read_as_plain_csv(runner: CliRunner, db: str, tmp_path: Path) -> None:
    """pandas reads an export as is; --banner adds the marking line truceguard reads back."""
    import pandas as pd

    imported(runner, db)
    plain, bannered = tmp_path / "plain.csv", tmp_path / "banner.csv"
    for out, extra in ((plain, []), (bannered, ["--banner"])):
        r = runner.invoke(main, ["export", "--db", db, *FILTERS, "--format", "csv", "-o",
                                 str(out), *extra])
        assert r.exit_code == 0, r.output
    frame = pd.read_csv(plain)
    assert list(frame.columns)[:3] == ["obs_id", "incident_id", "time"]
    assert set(frame["releasability"]) == {"PUBLIC"} and len(frame) > 50
    assert bannered.read_bytes().startswith(b"# marking: PUBLIC\r\nobs_id,")
    again = str(tmp_path / "again.db")
    for path in (plain, bannered):
        r = runner.invoke(main, ["import", str(path), "--db", again, "--format", "csv",
                                 "--map", "time=time", "--map", "lat=lat", "--map", "lon=lon"])
        assert r.exit_code == 0 and "rejected 0" in r.stdout, r.output
    for kind in ("incidents", "violations"):
        r = runner.invoke(main, ["fuse", "--db", db])
        r = runner.invoke(main, ["adjudicate", "--db", db, "--terms", "minsk-2015"])
        out = tmp_path / f"{kind}.csv"
        r = runner.invoke(main, [kind, "--db", db, "--format", "csv", "-o", str(out)])
        assert r.exit_code == 0 and "[PUBLIC]" in r.stderr, r.output
        assert len(pd.read_csv(out)) > 0


def test_the_banner_is_that_of_exactly_the_rows_listed(runner: CliRunner, tmp_path: Path
                                                       ) -> None:
    """A restricted report just outside --near's circle (inside its bounding box) leaves the
    banner of a PUBLIC-only listing PUBLIC; --limit likewise."""
    src = tmp_path / "two.csv"
    src.write_text("id,time,lat,lon,category,releasability\n"
                   "p,2020-08-01T10:00:00Z,48.42,38.05,shelling,PUBLIC\n"
                   "r,2020-08-02T10:00:00Z,48.64,38.27,shelling,REL TO FRA\n", encoding="utf-8")
    db2 = str(tmp_path / "two.db")
    assert runner.invoke(main, ["import", str(src), "--db", db2]).exit_code == 0
    near = ["--near", "48.42,38.05", "--within-km", "25"]
    r = runner.invoke(main, ["observations", "--db", db2, *near, "--count", "--format", "json"])
    assert json.loads(r.stdout) == {"count": 1, "marking": "PUBLIC"}
    r = runner.invoke(main, ["observations", "--db", db2, *near, "--format", "json"])
    assert json.loads(r.stdout)["marking"] == "PUBLIC"
    r = runner.invoke(main, ["observations", "--db", db2, "--limit", "1", "--format", "json"])
    assert json.loads(r.stdout)["marking"] == "PUBLIC"
    r = runner.invoke(main, ["observations", "--db", db2, "--format", "json"])
    assert json.loads(r.stdout)["marking"] == "REL TO FRA"


def test_gis_exports_round_trip_through_the_cli(runner: CliRunner, db: str, tmp_path: Path
                                                ) -> None:
    """GeoPackage (QGIS) and KML (Google Earth) hold exactly the listed rows, every field, and
    the marking in each feature and in the file."""
    from truceguard.io.gis import read_gis_records

    imported(runner, db)
    assert runner.invoke(main, ["fuse", "--db", db]).exit_code == 0
    assert runner.invoke(main, ["adjudicate", "--db", db, "--terms", "minsk-2015"]).exit_code == 0
    listed = json.loads(runner.invoke(main, ["observations", "--db", db, *FILTERS,
                                             "--format", "json"]).stdout)["rows"]
    for fmt in ("gpkg", "kml"):
        out = tmp_path / f"obs.{fmt}"
        r = runner.invoke(main, ["export", "--db", db, *FILTERS, "--format", fmt, "-o", str(out)])
        assert r.exit_code == 0, r.output
        rows, meta = read_gis_records(out)
        assert sorted(str(row["obs_id"]) for row in rows) == sorted(
            str(o["obs_id"]) for o in listed)
        assert all(row["releasability"] == "PUBLIC" for row in rows)
        assert "PUBLIC" in json.dumps(meta)
        for kind in ("incidents", "violations"):
            out = tmp_path / f"{kind}.{fmt}"
            r = runner.invoke(main, [kind, "--db", db, "--since", "2016-01", "--format", fmt,
                                     "-o", str(out)])
            assert r.exit_code == 0, r.output
            n = json.loads(runner.invoke(main, [kind, "--db", db, "--since", "2016-01",
                                                "--count", "--format", "json"]).stdout)["count"]
            assert len(read_gis_records(out)[0]) == n > 0
    r = runner.invoke(main, ["export", "--db", db, "--format", "gpkg", "-o", "-"])
    assert r.exit_code == 1 and "Hint:" in r.stderr and "gpkg" in r.stderr
    gpkg = read_gis_records(tmp_path / "obs.gpkg")[0]
    assert {k for k in gpkg[0]} >= {k for k in listed[0] if k not in ("lat", "lon")}
