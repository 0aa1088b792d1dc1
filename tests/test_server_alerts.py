"""Alerts end to end: a real webhook receiver, a real server, a breaching report posted to
the API; signatures, idempotency keys, retries, and kill -9 of the server."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.server_fixtures import Server, free_port, make_users, start
from truceguard.cli import main
from truceguard.marking import Viewer
from truceguard.store import ObservationFilter, open_store


class Receiver:
    """A webhook receiver on loopback that records every delivery (and can refuse some)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.got: list[tuple[float, dict[str, str], bytes]] = []
        self.fail_left = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_left > 0:
                    receiver.fail_left -= 1
                    self.send_response(503)
                else:
                    receiver.got.append((time.monotonic(), dict(self.headers), body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def add_target(db: str, url: str, as_user: str = "fra") -> str:
    r = CliRunner().invoke(main, ["alerts", "add", "--webhook", url, "--as", as_user,
                                  "--name", "duty", "--db", db])
    assert r.exit_code == 0, r.output
    return r.stdout.strip().splitlines()[-1]  # the signing secret


def breach(n: int, marking: str | None = None, weapon: str = "artillery_ge100") -> bytes:
    props = {"time": f"2020-03-0{1 + n % 8}T08:00:00Z", "category": "shelling",
             "weapon_class": weapon, "id": f"breach-{n}"}
    if marking:
        props["releasability"] = marking
    return json.dumps({"type": "Feature", "geometry": {"type": "Point",
                                                       "coordinates": [38.0 + n * 0.1, 48.2]},
                       "properties": props}).encode()


def test_a_breach_is_alerted_signed(tmp_path: Path, receiver: Receiver) -> None:
    """(How fast is measured in benchmarks/bench_cot.py, never in a test.)"""
    db = str(tmp_path / "a.db")
    tokens = make_users(db)
    secret = add_target(db, receiver.url)
    srv = start(db, tmp_path / "log.txt", "--terms", "minsk-2015")
    srv.tokens = tokens
    try:
        with srv.client("ukr") as c:
            assert c.post("/api/v1/observations", content=breach(1)).json()["imported"] == 1
        deadline = time.monotonic() + 10
        while not receiver.got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.got, (tmp_path / "log.txt").read_text()
        _, headers, body = receiver.got[0]
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Truceguard-Signature"] == expected
        doc = json.loads(body)
        assert doc["idempotency_key"] == headers["Idempotency-Key"]
        assert doc["violation"]["clause"].startswith("minsk-2015/")
        assert doc["marking"] == "PUBLIC"
        # A report the target's user (FRA) may not see is never sent to it.
        with srv.client("gbr") as c:
            assert c.post("/api/v1/observations", content=breach(2)).json()["imported"] == 1
        time.sleep(1.5)
        docs = [json.loads(b) for _, _, b in receiver.got]
        assert docs and all(d["marking"] == "PUBLIC" for d in docs)
        # every alert is about the public report (one per clause it breaches), none about
        # GBR's
        assert {round(d["violation"]["lon"], 3) for d in docs} == {38.1}
        assert len({d["idempotency_key"] for d in docs}) == len(docs)
    finally:
        srv.process.terminate()
        srv.process.wait(20)


def test_failed_deliveries_retry_under_the_same_key(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=2)
    try:
        db = str(tmp_path / "r.db")
        tokens = make_users(db)
        add_target(db, receiver.url)
        srv = start(db, tmp_path / "log.txt", "--terms", "minsk-2015")
        srv.tokens = tokens
        try:
            with srv.client("ukr") as c:
                # small arms breach the ceasefire clause only: one alert
                c.post("/api/v1/observations", content=breach(3, weapon="small_arms"))
            deadline = time.monotonic() + 20
            while not receiver.got and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(receiver.got) == 1
            with open_store(db) as store:
                (item,) = store.outbox()
            assert item.state == "delivered" and item.attempts == 3
            assert receiver.got[0][1]["Idempotency-Key"] == item.idempotency_key
        finally:
            srv.process.terminate()
            srv.process.wait(20)
    finally:
        receiver.close()


def test_kill_9_loses_no_acknowledged_report_and_no_owed_alert(tmp_path: Path) -> None:
    """Reports are acknowledged after their commit; alerts owed are in the store. Killing the
    server (SIGKILL) while the receiver is down loses neither: after a restart every alert
    arrives, each under its own key, once."""
    receiver = Receiver(fail_first=10**6)  # down: refuses everything
    db = str(tmp_path / "k.db")
    tokens = make_users(db)
    add_target(db, receiver.url)
    port = free_port()
    srv: Server = start(db, tmp_path / "log.txt", "--terms", "minsk-2015")
    srv.tokens = tokens
    acknowledged = 0
    with srv.client("ukr") as c:
        for n in range(5):
            if c.post("/api/v1/observations", content=breach(n)).json()["imported"] == 1:
                acknowledged += 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open_store(db) as store:
            if len(store.outbox()) >= 1:
                break
        time.sleep(0.1)
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    with open_store(db) as store:
        owed = {i.violation_id: i.idempotency_key for i in store.outbox()}
        assert store.count_observations(ObservationFilter(), Viewer.owner()) == acknowledged == 5
    assert owed
    receiver.fail_left = 0  # the receiver comes back
    srv2 = start(db, tmp_path / "log2.txt", "--terms", "minsk-2015", port=port)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open_store(db) as store:
                if all(i.state == "delivered" for i in store.outbox()) and len(
                        store.outbox()) >= len(owed):
                    break
            time.sleep(0.2)
        keys = [h["Idempotency-Key"] for _, h, _ in receiver.got]
        assert len(keys) == len(set(keys))  # never twice under one key
        with open_store(db) as store:
            final = {i.violation_id: i.idempotency_key for i in store.outbox()}
        assert set(keys) == set(final.values()) and set(owed.items()) <= set(final.items())
    finally:
        srv2.process.terminate()
        srv2.process.wait(20)
        receiver.close()
