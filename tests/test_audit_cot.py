"""CoT writes in the audit log, refused CoT events in the server's log, and `truceguard audit
list`.

CoT is sent by real pytak clients: run as a module, this file is one (``python -m
tests.test_audit_cot '<json>'``, from the repository): it sends the events the JSON describes
(pytak's ``cot_event`` ones, then the raw texts of ``raw``) through pytak's own transport and
TX worker, then exits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.helpers import wait_for
from tests.server_fixtures import free_port, make_users, running
from truceguard.audit import (
    MAX_LISTED_DIGESTS,
    AuditFilter,
    digests_detail,
    list_audit,
    verify_log,
)
from truceguard.cli import main
from truceguard.cli.server import audit_list
from truceguard.errors import InputError, RowError
from truceguard.io.cot import parse_cot_event
from truceguard.marking import Viewer
from truceguard.model import Observation, User
from truceguard.server.cot import CotConfig, CotService, RefusalLog, start_cot
from truceguard.server.sink import Sink
from truceguard.store import ObservationFilter, SQLiteStore, Store, open_store

REPO = Path(__file__).resolve().parent.parent
FIELD = User(1, "field-1", "GBR", "observer", "REL TO GBR, FRA")
EVERYONE = Viewer.owner()
STALE = "2026-12-01T12:00:00Z"
BAD = ('<?xml version="1.0"?>\n<event version="2.0" uid="bad-{n}" type="a-h-G" how="h-e" '
       f'time="garbage" start="garbage" stale="{STALE}"><point lat="200" lon="37.8" hae="0" '
       'ce="30" le="0"/><detail/></event>')


# -- the client (run as a separate process) ----------------------------------------------------
def _client_main(spec: dict[str, Any]) -> None:
    import configparser
    import warnings
    from xml.etree import ElementTree as ET

    warnings.simplefilter("ignore")  # pytak warns that an optional aiohttp is missing
    import pytak

    cfg = configparser.ConfigParser()
    cfg["client"] = {"COT_URL": spec["url"], "PYTAK_NO_HELLO": "1"}
    section = cfg["client"]

    async def run() -> None:
        _reader, writer = await pytak.protocol_factory(section)
        tx = pytak.TXWorker(asyncio.Queue(), section, writer)
        for i in range(spec.get("n", 0)):
            ev = pytak.cot_event(lat=48.0 + i * 1e-4, lon=37.8, ce=25.0,
                                 uid=f"{spec['prefix']}-{i}", cot_type="a-h-G", how="h-e")
            await tx.send_data(pytak.DEFAULT_XML_DECLARATION + b"\n" + ET.tostring(ev))
        for text in spec.get("raw", []):
            await tx.send_data(text.encode())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    asyncio.run(run())


async def pytak_send(port: int, **spec: Any) -> None:
    """One pytak client process sends to the CoT TCP port (the event loop goes on meanwhile);
    it must exit 0."""
    spec = {"url": f"tcp://127.0.0.1:{port}", "prefix": "p", **spec}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.test_audit_cot", json.dumps(spec), cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]


async def until(cond: Callable[[], object], timeout_s: float = 20.0) -> None:
    """Wait (on the event loop) until ``cond()`` holds; fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def listening(store: Store, **config: Any) -> CotService:
    return await start_cot(store, CotConfig(tcp_port=0, **config), plain_user=FIELD)


def cot_writes(store: Store) -> list[Any]:
    return list_audit(store, AuditFilter(action="cot.write"))


def stored_digests(store: Store) -> list[str]:
    return sorted(o.raw_sha256 for o in store.observations(ObservationFilter(), EVERYONE))


def event(uid: str, time_s: str = "2026-11-30T12:00:00Z") -> bytes:
    return (f'<event version="2.0" uid="{uid}" type="a-h-G" how="h-e" time="{time_s}" '
            f'start="{time_s}" stale="{STALE}"><point lat="48.1" lon="37.8" hae="0" ce="30" '
            'le="0"/><detail/></event>').encode()


def records_of(user: str, uids: list[str]) -> list[Observation]:
    """Observations as the listener hands them to the sink for ``user``."""
    out = []
    for uid in uids:
        obs = parse_cot_event(event(uid))
        obs.attributes["submitted_by"] = user
        obs.source = f"cot/{user}:" + obs.source.removeprefix("cot:")
        out.append(obs)
    return out


async def commit(sink: Sink, records: list[Observation]) -> None:
    fut = sink.offer(records)
    assert fut is not None
    await fut


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "truceguard.server.cot" and " refused: " in r.getMessage()]


# -- CoT writes in the audit log ------------------------------------------------------------------
def test_pytak_events_are_audited_per_batch_with_their_count_and_digests(
        location: Callable[[], str], runner: CliRunner) -> None:
    """On each backend: one cot.write entry per committed batch, by the listener's user,
    whose counts add up and whose digests are those of the stored records."""
    db = location()
    store = open_store(db)

    async def scenario() -> None:
        svc = await listening(store)
        await pytak_send(svc.server.ports["tcp"], n=40, prefix="a")
        await until(lambda: svc.sink.stats.received >= 40)
        await svc.stop()
        assert len(cot_writes(store)) == svc.sink.stats.batches

    try:
        asyncio.run(scenario())
        writes = cot_writes(store)
        assert writes and {e.actor for e in writes} == {"field-1"}
        assert sum(e.detail["observations"] for e in writes) == 40
        assert sum(e.detail["inserted"] for e in writes) == 40
        assert all(e.detail["duplicates"] == e.detail["conflicts"] == 0 for e in writes)
        assert all(e.detail["raw_sha256"] == sorted(e.detail["raw_sha256"]) for e in writes)
        digests = sorted(d for e in writes for d in e.detail["raw_sha256"])
        assert digests == stored_digests(store) and len(set(digests)) == 40
        assert verify_log(store.audit_entries(), store.audit_head()).ok
    finally:
        store.close()
    r = runner.invoke(main, ["audit", "verify", "--db", db])
    assert r.exit_code == 0 and "audit log intact" in r.stdout, r.output


def test_a_batch_is_one_entry_per_user_with_their_own_counts(store: Store) -> None:
    async def scenario() -> None:
        sink = Sink(store, max_delay_s=0.0)
        await sink.start()
        await commit(sink, records_of("ann", ["x1", "x2", "x3"]) + records_of("bob", ["y1"]))
        assert sink.stats.batches == 1
        # The same again: duplicates, counted for each user.
        await commit(sink, records_of("bob", ["y1", "y2"]))
        await sink.stop()

    asyncio.run(scenario())
    got = [(e.actor, e.detail["observations"], e.detail["inserted"], e.detail["duplicates"])
           for e in cot_writes(store)]
    assert got == [("ann", 3, 3, 0), ("bob", 1, 1, 0), ("bob", 2, 1, 1)]
    ann = cot_writes(store)[0]
    assert ann.detail["raw_sha256"] == sorted(o.raw_sha256
                                              for o in records_of("ann", ["x1", "x2", "x3"]))
    assert verify_log(store.audit_entries(), store.audit_head()).ok


def test_a_large_batch_keeps_the_count_and_one_hash_of_its_digests(store: Store) -> None:
    n = MAX_LISTED_DIGESTS + 1
    records = records_of("ann", [f"big-{i}" for i in range(n)])

    async def scenario() -> None:
        sink = Sink(store)
        await sink.start()
        await commit(sink, records)
        await sink.stop()

    asyncio.run(scenario())
    [entry] = cot_writes(store)
    expected = hashlib.sha256("\n".join(sorted(o.raw_sha256 for o in records)).encode()
                              ).hexdigest()
    assert "raw_sha256" not in entry.detail
    assert entry.detail["observations"] == entry.detail["raw_sha256_count"] == n
    assert entry.detail["raw_sha256_sorted_sha256"] == expected


def test_digests_are_listed_up_to_the_bound() -> None:
    assert digests_detail(["b", "a"]) == {"raw_sha256": ["a", "b"]}
    assert digests_detail(["b", "a"], limit=1) == {
        "raw_sha256_count": 2,
        "raw_sha256_sorted_sha256": hashlib.sha256(b"a\nb").hexdigest()}


# -- refused events in the log ------------------------------------------------------------------
@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """(What is logged does not depend on the backend.)"""
    s = SQLiteStore(tmp_path / "cot.db")
    yield s
    s.close()


def test_a_refused_pytak_event_is_logged_with_peer_field_and_reason(
        sqlite_store: SQLiteStore, caplog: pytest.LogCaptureFixture) -> None:
    store = sqlite_store
    caplog.set_level(logging.INFO, logger="truceguard.server.cot")
    huge = BAD.format(n=1).replace('uid="bad-1"', 'uid="' + "U" * 5000 + '"')

    async def scenario() -> None:
        svc = await listening(store)
        await pytak_send(svc.server.ports["tcp"], n=2, prefix="ok", raw=[BAD.format(n=0), huge])
        await until(lambda: svc.server.stats.rejected >= 2 and svc.sink.stats.received >= 2)
        await svc.stop()

    asyncio.run(scenario())
    lines = refusal_lines(caplog)
    assert len(lines) == 2, caplog.text
    first = lines[0]
    assert first.startswith("CoT tcp 127.0.0.1:") and "(field-1): event 3 refused: " in first
    assert "time: 'garbage' is not a time" in first
    assert 'event: <event version="2.0" uid="bad-0" type="a-h-G"' in first
    # What comes from the event is bounded, however long the event.
    assert "UUUU" in lines[1] and len(lines[1]) < 320
    assert len(lines[1].split("; event: ", 1)[1]) <= 83
    assert len(cot_writes(store)) >= 1  # the good events went on


def test_a_flood_of_refused_events_logs_a_bounded_number_of_lines(
        sqlite_store: SQLiteStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="truceguard.server.cot")
    n = 300
    summary = re.compile(r"\(field-1\): ([\d,]+) more events refused in the last 60 s \(not "
                         r"logged one by one: at most 5 lines per 60 s\)$")

    def summarised() -> int:
        return sum(int(m.group(1).replace(",", "")) for r in caplog.records
                   if (m := summary.search(r.getMessage())))

    async def scenario() -> None:
        svc = await listening(sqlite_store, refused_log_lines=5)
        await pytak_send(svc.server.ports["tcp"], raw=[BAD.format(n=i) for i in range(n)])
        await until(lambda: svc.server.stats.rejected >= n)
        await until(lambda: summarised() >= n - 5)  # at the disconnect, or once parsed
        await svc.stop()

    asyncio.run(scenario())
    assert len(refusal_lines(caplog)) == 5
    assert summarised() == n - 5


def test_refusal_log_lines_per_window_then_a_summary(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    refusals = RefusalLog("CoT tcp 10.0.0.5:4000 (ann)", 3, 60.0, clock=lambda: now[0])
    err = RowError("cot+tcp://10.0.0.5:4000", 7, "point.lat", "200 is not a latitude",
                   '<?xml version="1.0"?>\n<event>\n<point lat="200"/></event>')
    with caplog.at_level(logging.WARNING, logger="truceguard.server.cot"):
        for _ in range(10):
            refusals.refused(err)
        now[0] += 30
        refusals.flush()  # the window is not over: nothing yet
        assert len(caplog.records) == 3
        now[0] += 31
        refusals.flush()
        assert caplog.records[-1].getMessage() == (
            "CoT tcp 10.0.0.5:4000 (ann): 7 more events refused in the last 60 s (not logged "
            "one by one: at most 3 lines per 60 s)")
        refusals.refused(err)  # a new window
        refusals.flush(final=True)  # nothing suppressed in it
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 5
    assert messages[0] == ("CoT tcp 10.0.0.5:4000 (ann): event 7 refused: point.lat: 200 is not "
                           'a latitude; event: <event> <point lat="200"/></event>')


# -- the whole server -----------------------------------------------------------------------------
def test_the_server_audits_cot_writes_and_logs_refusals(tmp_path: Path,
                                                        runner: CliRunner) -> None:
    db = str(tmp_path / "server.db")
    make_users(db)
    cot_port = free_port()
    log = tmp_path / "server.log"
    with running(db, log, "--cot-tcp", str(cot_port), "--cot-tcp-as", "ukr"):
        asyncio.run(pytak_send(cot_port, n=25, prefix="s", raw=[BAD.format(n=0)]))

        def written() -> int:
            with open_store(db) as store:
                try:
                    return sum(e.detail["observations"] for e in cot_writes(store))
                except InputError as exc:  # no cot.write yet: the first commit is on its way
                    if exc.code != "input.unknown_value":
                        raise
                    return 0

        wait_for(lambda: written() >= 25, what=lambda: log.read_text())
        wait_for(lambda: "refused: time: 'garbage'" in log.read_text(),
                 what=lambda: log.read_text())
    assert "(ukr): event 26 refused: time: 'garbage' is not a time" in log.read_text()
    r = runner.invoke(main, ["audit", "list", "--action", "cot.write", "--format", "json",
                             "--db", db])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert {row["actor"] for row in rows} == {"ukr"}
    assert sum(row["detail"]["observations"] for row in rows) == 25
    r = runner.invoke(main, ["audit", "verify", "--db", db])
    assert r.exit_code == 0 and "audit log intact" in r.stdout, r.output


# -- audit list -----------------------------------------------------------------------------------
DAY = 86_400
JAN = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def filled(location: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A store (each backend) with four audit entries on known days, written through the
    store's API; returns its location."""
    db = location()
    times = iter([JAN, JAN + 31 * DAY, JAN + 59 * DAY, JAN + 60 * DAY])
    with open_store(db) as store:
        monkeypatch.setattr("truceguard.store.mission.utc_now", lambda: next(times))
        store.audit("cli", "user.add", {"name": "ann"})
        store.audit("ann", "cot.write", {"observations": 2, "raw_sha256": ["a", "b"]})
        store.audit("bob", "cot.write", {"observations": 1, "raw_sha256": ["c"]})
        store.audit("(unknown)", "login.failed", {"reason": "bad token"})
    return db


def listed(runner: CliRunner, db: str, *args: str) -> list[dict[str, Any]]:
    r = runner.invoke(main, ["audit", "list", "--format", "json", "--db", db, *args])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["count"] == len(got["rows"])
    return list(got["rows"])


def test_audit_list_filters(filled: str, runner: CliRunner) -> None:
    everything = listed(runner, filled)
    assert [r["seq"] for r in everything] == [1, 2, 3, 4]
    assert everything[1] == {
        "seq": 2, "at": "2026-02-01T00:00:00Z", "actor": "ann", "action": "cot.write",
        "detail": {"observations": 2, "raw_sha256": ["a", "b"]},
        "prev_hash": everything[0]["hash"], "hash": everything[1]["hash"]}
    assert [r["actor"] for r in listed(runner, filled, "--action", "cot.write")] == ["ann", "bob"]
    assert [r["seq"] for r in listed(runner, filled, "--actor", "bob")] == [3]
    assert [r["seq"] for r in listed(runner, filled, "--since", "2026-02",
                                     "--until", "2026-02")] == [2]
    assert [r["seq"] for r in listed(runner, filled, "--since", "2026-03-01T00:00Z")] == [3, 4]
    assert [r["seq"] for r in listed(runner, filled, "--until", "2026-01-31")] == [1]
    assert [r["seq"] for r in listed(runner, filled, "--limit", "2")] == [3, 4]
    assert [r["seq"] for r in listed(runner, filled, "--action", "cot.write",
                                     "--limit", "1")] == [3]


def test_audit_list_table_and_empty_answers(filled: str, runner: CliRunner) -> None:
    r = runner.invoke(main, ["audit", "list", "--db", filled])
    assert r.exit_code == 0, r.output
    assert "cot.write" in r.stdout and "2026-03-02T00:00:00Z" in r.stdout
    r = runner.invoke(main, ["audit", "list", "--actor", "nobody", "--db", filled])
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr.startswith("0 audit entries match. Hint: ")


@pytest.mark.parametrize(("args", "message"), [
    (["--action", "cot.wrte"], "Error: --action 'cot.wrte' matches nothing\n"
                               "Hint: did you mean 'cot.write'? valid: cot.write, "
                               "login.failed, user.add\n"),
    (["--limit", "0"], "Error: --limit 0: give at least 1\n"),
    (["--since", "2026-03", "--until", "2026-02"], "Error: --until is before --since\n"),
    (["--since", "05/07/2026"], "Error: --since '05/07/2026' is not an ISO 8601 date\n"),
])
def test_audit_list_errors_are_domain_errors(filled: str, runner: CliRunner, args: list[str],
                                             message: str) -> None:
    r = runner.invoke(main, ["audit", "list", "--db", filled, *args])
    assert r.exit_code == 1 and r.stderr.startswith(message), r.output
    assert "Traceback" not in r.output


def test_audit_list_json_error_is_the_envelope(filled: str, runner: CliRunner) -> None:
    r = runner.invoke(main, ["audit", "list", "--action", "nope", "--format", "json",
                             "--db", filled])
    assert r.exit_code == 1
    assert json.loads(r.stdout)["error"]["code"] == "input.unknown_value"


def test_list_audit_is_the_core_function(filled: str) -> None:
    with open_store(filled) as store:
        got = list_audit(store, AuditFilter(actor="ann"))
        assert [(e.seq, e.action) for e in got] == [(2, "cot.write")]
        with pytest.raises(InputError, match="action 'nope' matches nothing"):
            list_audit(store, AuditFilter(action="nope"), style="api")


def test_audit_list_has_help_on_the_command_and_every_option() -> None:
    assert (audit_list.help or "").strip()
    for param in audit_list.params:
        assert isinstance(param, click.Option)
        assert (param.help or "").strip(), param.name


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    _client_main(json.loads(sys.argv[1]))
