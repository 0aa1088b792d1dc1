"""Every error a user can cause is one sentence naming the bad value, never a traceback.

A table of bad invocations, each run through the CLI: non-zero exit, no traceback, the bad
value named in the message, a hint; with ``--format json`` the envelope on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import UCDP_CLEAN
from truceguard.cli import main
from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import open_store

UCDP = str(UCDP_CLEAN)


@pytest.fixture(scope="module")
def judged_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("errors") / "judged.db"
    with open_store(path) as store:
        import_file(store, UCDP_CLEAN)
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))
    yield str(path)


# (arguments, text the message must contain). {db} is the judged database, {tmp} a folder.
BAD = [
    (["export", "--format", "geojson", "-o", "{tmp}/missing_dir/v.geojson"], "missing_dir"),
    (["export", "--format", "csv", "-o", "{db}"], "is the database"),
    (["export", "--format", "csv", "-o", "{db}-wal"], "is the database"),
    (["export", "--format", "csv", "-o", "{tmp}"], "is a folder"),
    (["import", UCDP, "--releasability", "SECRET"], "'SECRET'"),
    (["import", UCDP, "--releasability", "REL TO XYZ"], "'XYZ'"),
    (["import", UCDP, "--rejects", UCDP], "is an input"),
    (["import", UCDP, "--rejects", "{db}"], "is the database"),
    (["import", "{tmp}/no_such_file.csv"], "no_such_file.csv"),
    (["import", "{tmp}"], "directory"),
    (["import", UCDP, "--map", "wrongfield=x"], "wrongfield"),
    (["import", UCDP, "--map", "time"], "time"),
    (["fuse", "--eps-m", "-1"], "-1"),
    (["fuse", "--eps-m", "nan"], "nan"),
    (["fuse", "--eps-s", "inf"], "inf"),
    (["fuse", "--min-samples", "0"], "0"),
    (["fuse", "--grading", "{tmp}/nope.yaml"], "nope.yaml"),
    (["init", "--db", "{tmp}/missing_dir/x.db"], "missing_dir"),
    (["init", "--nation", "UK"], "'UK'"),
    (["init", "--nation", "NATO"], "'NATO'"),
    (["observations", "--since", "2020-27-07"], "2020-27-07"),
    (["observations", "--since", "05/07/2020"], "05/07/2020"),
    (["observations", "--until", "last week"], "last week"),
    (["observations", "--since", "2021-01-01", "--until", "2020-01-01"], "2020-01-01"),
    (["observations", "--bbox", "40,47,37,49"], "40,47,37,49"),
    (["observations", "--bbox", "37,49,40,47"], "37,49,40,47"),
    (["observations", "--bbox", "1,2,3"], "1,2,3"),
    (["observations", "--near", "100,37", "--within-km", "5"], "100,37"),
    (["observations", "--near", "48,37", "--within-km", "nan"], "nan"),
    (["observations", "--near", "48,37", "--within-km", "inf"], "inf"),
    (["observations", "--near", "48,37", "--within-km", "-1"], "-1"),
    (["observations", "--near", "48,37"], "--within-km"),
    (["observations", "--category", "shellng"], "shellng"),
    (["observations", "--weapon-class", "tanks"], "tanks"),
    (["observations", "--source", "UCDP"], "'UCDP'"),
    (["observations", "--releasable-to", "UK"], "'UK'"),
    (["observations", "--releasable-to", "%"], "'%'"),
    (["observations", "--releasable-to", "NOBODY"], "'NOBODY'"),
    (["observations", "--count", "--limit", "5"], "--limit"),
    (["observations", "--limit", "-1"], "-1"),
    (["observations", "--limit", "0"], "0"),
    (["observations", "--limit", "1e23"], "1e23"),
    (["observations", "--db", "{tmp}/none.db"], "none.db"),
    (["observations", "--db", "{tmp}"], "folder"),
    (["observations", "--db", UCDP], "not a truceguard database"),
    (["incidents", "--releasable-to", "_K"], "'_K'"),
    (["violations", "--terms", "minsk2015"], "minsk2015"),
    (["violations", "--clause", "ceasefir"], "ceasefir"),
    (["violations", "--status", "verifed"], "verifed"),
    (["violations", "--min-p", "2"], "2"),
    (["violations", "--format", "table", "-o", "{tmp}/v.txt"], "-o"),
    (["adjudicate", "--terms", "minsk2015"], "minsk2015"),
    (["review", "999999", "--status", "verified", "--by", "x", "--why", "y"], "999999"),
    (["review", "1", "--status", "verifed", "--by", "x", "--why", "y"], "verifed"),
    (["remark", "999999", "--marking", "PUBLIC", "--by", "x", "--why", "y"], "999999"),
    (["remark", "1", "--marking", "REL TO NOWHERE", "--by", "x", "--why", "y"], "NOWHERE"),
    (["report", "--terms", "minsk-2015", "--from", "05/07/2020", "--to", "2020-12-31"],
     "05/07/2020"),
    (["report", "--terms", "minsk-2015", "--from", "2020-01-01", "--to", "2020-12-31", "-o",
      "{db}"], "is the database"),
    (["report", "--terms", "minsk2015", "--from", "2020-01-01", "--to", "2020-12-31"],
     "minsk2015"),
    (["terms", "show", "minsk2015"], "minsk2015"),
    (["scenarios", "show", "reassurance2026"], "reassurance2026"),
    (["users", "add", "bob", "--nation", "UK", "--role", "observer"], "'UK'"),
    (["users", "add", "bob", "--nation", "GBR", "--role", "boss"], "boss"),
    (["users", "add", "b b", "--nation", "GBR", "--role", "observer"], "'b b'"),
    (["users", "add", "bob", "--nation", "GBR", "--role", "observer", "--cert-fingerprint",
      "xyz"], "'xyz'"),
    (["users", "disable", "nobody"], "'nobody'"),
    (["alerts", "add", "--webhook", "ftp://x/y", "--as", "nobody"], "ftp://x/y"),
    (["alerts", "add", "--cot", "udp://h:1", "--as", "nobody"], "udp://h:1"),
    (["alerts", "add", "--webhook", "http://h/y", "--as", "nobody"], "'nobody'"),
    (["alerts", "test", "nothing"], "'nothing'"),
    (["serve", "--port", "0"], "0"),
    (["serve", "--cot-tcp", "8087"], "--cot-tcp-as"),
    (["serve", "--cot-tls", "8089"], "--cert"),
    (["plan", "--seed", "-1", "-o", "{tmp}/p"], "-1"),
    (["plan", "--samples", "2e8", "-o", "{tmp}/p"], "2e8"),
    (["plan", "--workers", "10000", "-o", "{tmp}/p"], "10000"),
    (["plan", "--threat-from-store", "--terms", "minsk2015", "-o", "{tmp}/p"], "minsk2015"),
]


def _fill(args: list[str], db: str, tmp: Path) -> list[str]:
    argv = [a.replace("{db}", db).replace("{tmp}", str(tmp)) for a in args]
    cmd = main.get_command(click.Context(main), argv[0])
    if isinstance(cmd, click.Group):
        cmd = cmd.get_command(click.Context(cmd), argv[1])
    assert cmd is not None, argv
    if "--db" not in argv and any(p.name == "db" for p in cmd.params):
        argv += ["--db", db]
    return argv


@pytest.mark.parametrize(("args", "named"), BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_invocation_is_one_clear_error(judged_db: str, tmp_path: Path, args: list[str],
                                           named: str) -> None:
    argv = _fill(args, judged_db, tmp_path)
    r = CliRunner().invoke(main, argv)
    assert r.exit_code != 0, (argv, r.output)
    assert "Traceback" not in r.output and r.exception is None or isinstance(
        r.exception, SystemExit), (argv, r.output)
    assert named in r.output, (argv, r.output)
    # a domain error (exit 1) or a usage error from the option parser (exit 2): both read
    # "Error: ..." and "Hint: ..."
    assert r.stderr.startswith("Error: ") and "Hint: " in r.stderr, r.output


JSON_BAD = [a for a, _ in BAD if a[0] in ("observations", "incidents", "violations")
            and "--format" not in a]


@pytest.mark.parametrize("args", JSON_BAD, ids=[" ".join(a[:3]) for a in JSON_BAD])
def test_json_errors_print_the_envelope(judged_db: str, tmp_path: Path, args: list[str]) -> None:
    argv = [*_fill(args, judged_db, tmp_path), "--format", "json"]
    r = CliRunner().invoke(main, argv)
    assert r.exit_code in (1, 2), r.output  # 2: a usage error found by the option parser
    doc = json.loads(r.stdout)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message", "hint"}
    assert "." in doc["error"]["code"] and doc["error"]["hint"]


def test_no_silent_zeros(tmp_path: Path) -> None:
    """A query that finds nothing because a step is missing says which command to run."""
    db = str(tmp_path / "fresh.db")
    runner = CliRunner()
    assert runner.invoke(main, ["import", UCDP, "--db", db]).exit_code == 0
    r = runner.invoke(main, ["violations", "--db", db])
    assert r.exit_code == 0 and "truceguard fuse" in r.stderr
    r = runner.invoke(main, ["incidents", "--db", db])
    assert "truceguard fuse" in r.stderr
    r = runner.invoke(main, ["adjudicate", "--db", db, "--terms", "minsk-2015"])
    assert r.exit_code == 1 and "truceguard fuse" in r.output
    assert runner.invoke(main, ["fuse", "--db", db]).exit_code == 0
    r = runner.invoke(main, ["violations", "--db", db, "--terms", "minsk-2015"])
    assert "truceguard adjudicate --terms minsk-2015" in r.stderr
    r = runner.invoke(main, ["violations", "--db", db, "--count"])
    assert r.stdout.strip() == "0" and "truceguard adjudicate" in r.stderr


USAGE = [
    (["export", "--format", "gpkgx", "-o", "x"], "usage.bad_value", "gpkgx"),
    (["adjudicate"], "usage.missing", "--terms"),
    (["violations", "--nonsense"], "usage.no_such_option", "--nonsense"),
    (["violations", "--min-p", "abc"], "usage.bad_value", "abc"),
    (["no-such-command"], "usage.no_such_command", "no-such-command"),
]


@pytest.mark.parametrize(("args", "code", "named"), USAGE, ids=[a[0] for a, _, _ in USAGE])
def test_usage_errors_carry_a_hint_and_the_envelope(args: list[str], code: str,
                                                    named: str) -> None:
    """Errors the option parser finds read like every other: Error and Hint lines, and with
    --format json the envelope with a code."""
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit)
    assert r.stderr.startswith("Error: ") and named in r.stderr and "\nHint: " in r.stderr
    assert "Traceback" not in r.output and "Usage:" not in r.stderr
    r = CliRunner().invoke(main, [*args, "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["error"]["code"] in (code, "usage.no_such_command", "usage.no_such_option")
    assert doc["error"]["hint"]


# -- a bug: the internal envelope with a request id, never a bare traceback --------------------
def _crashing_cli() -> click.Group:
    """A command line of truceguard's own group and error handling, with a command that hits
    a bug: one inside ``domain_errors`` (``--format``) and one outside it."""
    from truceguard.cli.common import EnvelopeGroup, domain_errors

    @click.group(cls=EnvelopeGroup)
    def cli() -> None:
        """A command line with a bug."""

    @cli.command("listing")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @domain_errors
    def listing(fmt: str) -> None:
        raise ZeroDivisionError("a detail for the log only")

    @cli.command("bare")
    @click.option("--format", "fmt", default="table")
    def bare(fmt: str) -> None:
        raise KeyError("a detail for the log only")

    return cli


@pytest.mark.parametrize("command", ["listing", "bare"])
def test_a_bug_under_format_json_prints_the_internal_envelope(command: str) -> None:
    r = CliRunner().invoke(_crashing_cli(), [command, "--format", "json"])
    assert r.exit_code == 70, r.output
    doc = json.loads(r.stdout)  # the envelope alone on stdout
    err = doc["error"]
    assert err["code"] == "internal" and len(err["request_id"]) == 16
    assert err["request_id"] in err["hint"]
    assert "Traceback" not in r.output and "detail for the log" not in r.output


def test_a_bug_reads_error_and_hint_and_the_traceback_needs_debug(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUCEGUARD_DEBUG", raising=False)
    r = CliRunner().invoke(_crashing_cli(), ["listing"])
    assert r.exit_code == 70 and r.stdout == ""
    assert r.stderr.startswith("Error: internal error (ZeroDivisionError)\nHint: ")
    assert "request id" in r.stderr and "--debug" in r.stderr
    assert "Traceback" not in r.stderr
    debug = CliRunner().invoke(_crashing_cli(), ["--debug", "listing", "--format", "json"])
    assert debug.exit_code == 70
    request_id = json.loads(debug.stdout)["error"]["request_id"]
    assert "Traceback" in debug.stderr and "detail for the log only" in debug.stderr
    assert f"request id {request_id}" in debug.stderr
    again = CliRunner().invoke(_crashing_cli(), ["listing"])  # --debug held for its run only
    assert "Traceback" not in again.stderr
    monkeypatch.setenv("TRUCEGUARD_DEBUG", "1")
    env = CliRunner().invoke(_crashing_cli(), ["listing"])
    assert "Traceback" in env.stderr and "ZeroDivisionError" in env.stderr


def test_the_truceguard_command_takes_debug() -> None:
    r = CliRunner().invoke(main, ["--help"])
    assert "--debug" in r.stdout
    r = CliRunner().invoke(main, ["--debug", "terms", "show", "minsk2015"])
    assert r.exit_code == 1 and "minsk2015" in r.stderr and "Traceback" not in r.output
