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

from tests.helpers import wait_for
from tests.server_fixtures import Server, free_port, make_users, start
from truceguard.cli import main
from truceguard.marking import Viewer
from truceguard.store import ObservationFilter, ViolationFilter, open_store
from truceguard.store.mission import OutboxItem


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


def add_target(db: str, url: str, as_user: str = "fra", name: str = "duty",
               audience: str = "team") -> str:
    r = CliRunner().invoke(main, ["alerts", "add", "--webhook", url, "--as", as_user,
                                  "--name", name, "--audience", audience, "--allow-private",
                                  "--db", db])
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


def outbox(db: str) -> list[OutboxItem]:
    with open_store(db) as store:
        return store.outbox()


def lon(item: OutboxItem) -> float:
    """Where the violation an alert is about lies (the breach(n) reports: 38.0 + n / 10)."""
    return round(float(json.loads(item.payload)["violation"]["lon"]), 3)


def settled(db: str, after: float) -> list[OutboxItem] | None:
    """The outbox, once it owes the alerts of the report at longitude ``after`` and every
    alert in it is delivered; else None.

    The live judge takes reports in the order they were committed (a step judges every report
    not yet judged, and owes their alerts, before the next step): once the alerts of a report
    posted last are owed, every report before it has been judged and its alerts decided."""
    items = outbox(db)
    if any(lon(i) == after for i in items) and all(i.state == "delivered" for i in items):
        return items
    return None


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
        wait_for(lambda: receiver.got, what=(tmp_path / "log.txt").read_text)
        _, headers, body = receiver.got[0]
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Truceguard-Signature"] == expected
        doc = json.loads(body)
        assert doc["idempotency_key"] == headers["Idempotency-Key"]
        assert doc["violation"]["clause"].startswith("minsk-2015/")
        assert doc["marking"] == "PUBLIC"
        # ids as the API shows them: a receiver cannot count the violations it was not sent
        assert doc["violation"]["violation_id"].startswith("vio_")
        # A report the target's user (FRA) may not see is never sent to it. The proof that
        # its alerts were decided: a public report posted after it is judged and alerted.
        with srv.client("gbr") as c:
            assert c.post("/api/v1/observations", content=breach(2)).json()["imported"] == 1
        with srv.client("ukr") as c:
            assert c.post("/api/v1/observations", content=breach(6)).json()["imported"] == 1
        items = wait_for(lambda: settled(db, after=38.6), what=(tmp_path / "log.txt").read_text)
        with open_store(db) as store:
            judged = {round(v.lon, 3) for v in store.violations(ViolationFilter(), Viewer.owner())}
        assert 38.2 in judged  # GBR's report is a breach ...
        assert {lon(i) for i in items} == {38.1, 38.6}  # ... that FRA is owed no alert for
        docs = [json.loads(b) for _, _, b in receiver.got]
        assert len(docs) == len(items) and all(d["marking"] == "PUBLIC" for d in docs)
        # every alert is about a public report (one per clause it breaches), none about GBR's
        assert {round(d["violation"]["lon"], 3) for d in docs} == {38.1, 38.6}
        assert len({d["idempotency_key"] for d in docs}) == len(docs)
        assert {d["idempotency_key"] for d in docs} == {i.idempotency_key for i in items}
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
            # delivered: recorded by the server after the receiver took it (backoff 1 s, 2 s)
            (item,) = wait_for(lambda: [i for i in outbox(db) if i.state == "delivered"],
                               timeout=30, what=(tmp_path / "log.txt").read_text)
            assert len(receiver.got) == 1 and len(outbox(db)) == 1
            assert item.attempts == 3
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
    wait_for(lambda: outbox(db), what="an alert owed")  # owed, and not delivered
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    with open_store(db) as store:
        owed = {i.violation_id: i.idempotency_key for i in store.outbox()}
        assert store.count_observations(ObservationFilter(), Viewer.owner()) == acknowledged == 5
    assert owed
    receiver.fail_left = 0  # the receiver comes back
    srv2 = start(db, tmp_path / "log2.txt", "--terms", "minsk-2015", port=port)
    srv2.tokens = tokens
    try:
        # A report posted now is judged after every report before the kill: once its alerts
        # are owed and all are delivered, nothing more is owed.
        with srv2.client("ukr") as c:
            assert c.post("/api/v1/observations", content=breach(7)).json()["imported"] == 1
        wait_for(lambda: settled(db, after=38.7), timeout=30,
                 what=(tmp_path / "log2.txt").read_text)
        keys = [h["Idempotency-Key"] for _, h, _ in receiver.got]
        assert len(keys) == len(set(keys))  # never twice under one key
        with open_store(db) as store:
            final = {i.violation_id: i.idempotency_key for i in store.outbox()}
        assert set(keys) == set(final.values()) and set(owed.items()) <= set(final.items())
    finally:
        srv2.process.terminate()
        srv2.process.wait(20)
        receiver.close()


# -- audiences: the team, and published findings only beyond it ------------------------------


def owed_to(db: str, name: str) -> list[OutboxItem]:
    """The outbox rows of the target ``name``."""
    with open_store(db) as store:
        (target,) = [t for t in store.alert_targets() if t.name == name]
        return store.outbox(target.target_id)


def violation_ids(db: str, at_lon: float) -> list[int]:
    """The violations (the owner's view) of the breach(n) report at longitude ``at_lon``."""
    with open_store(db) as store:
        return [v.violation_id for v in store.violations(ViolationFilter(), Viewer.owner())
                if round(v.lon, 3) == at_lon]


def review(db: str, vid: int, status: str, who: str) -> None:
    """`truceguard review` against the running server's database."""
    r = CliRunner().invoke(main, ["review", str(vid), "--status", status, "--by", who,
                                  "--why", "seen on the footage", "--db", db])
    assert r.exit_code == 0, r.output


def test_beyond_the_team_only_published_findings_once(tmp_path: Path) -> None:
    """FRA's duty officers (`team`) are alerted on each new violation, told it is not yet
    published; FRA's partner centre and GBR's press desk (`published`) get a violation only
    when a second analyst publishes it, over the API or from the CLI (delivered by the running
    server), once; a returned one never; GBR's own report never reaches FRA's centre."""
    duty, partners, press = Receiver(), Receiver(), Receiver()
    db = str(tmp_path / "p.db")
    log = tmp_path / "log.txt"
    tokens = make_users(db)
    add_target(db, duty.url)
    add_target(db, partners.url, name="partners", audience="published")
    add_target(db, press.url, as_user="gbr", name="press", audience="published")
    srv = start(db, log, "--terms", "minsk-2015")
    srv.tokens = tokens
    try:
        with srv.client("gbr") as c:  # REL TO GBR: a violation FRA may not see
            assert c.post("/api/v1/observations", content=breach(4, weapon="small_arms")
                          ).json()["imported"] == 1
        with srv.client("ukr") as c:
            for n in (1, 2, 3):
                assert c.post("/api/v1/observations", content=breach(n, weapon="small_arms")
                              ).json()["imported"] == 1
        # judged in order: once the last public report's alert is delivered to the team,
        # every report's alerts were decided
        wait_for(lambda: settled(db, after=38.3), timeout=30, what=log.read_text)
        team = owed_to(db, "duty")
        assert sorted(lon(i) for i in team) == [38.1, 38.2, 38.3]
        docs = [json.loads(b) for _, _, b in duty.got]
        assert [(d["audience"], d["published"], d["violation"]["status"]) for d in docs] == [
            ("team", False, "new")] * 3
        assert owed_to(db, "partners") == owed_to(db, "press") == []  # drafts stay in
        (gbr_only,) = violation_ids(db, 38.4)
        first, second, third = (violation_ids(db, x)[0] for x in (38.1, 38.2, 38.3))
        token = {v: srv.api_id("violation", v) for v in (first, second, third)}
        # over the API: GBR verifies, FRA publishes the first; the second is verified only,
        # the third returned
        with srv.client("gbr") as c:
            for v in (first, second, third):
                r = c.post(f"/api/v1/violations/{token[v]}/status",
                           json={"status": "verified", "why": "crater seen"})
                assert r.status_code == 200, r.text
        with srv.client("fra") as c:
            r = c.post(f"/api/v1/violations/{token[third]}/status",
                       json={"status": "returned", "why": "the crater is older"})
            assert r.status_code == 200, r.text
            r = c.post(f"/api/v1/violations/{token[first]}/status",
                       json={"status": "published", "why": "footage checked"})
            assert r.status_code == 200, r.text
        wait_for(lambda: partners.got and press.got, timeout=30, what=log.read_text)
        # from the CLI, against the server's database: the server delivers it
        review(db, second, "published", "boris")
        review(db, gbr_only, "verified", "anna")
        review(db, gbr_only, "published", "boris")
        wait_for(lambda: len(partners.got) == 2 and len(press.got) == 3, timeout=30,
                 what=log.read_text)
        for name in ("partners", "press"):
            wait_for(lambda name=name: all(i.state == "delivered" for i in owed_to(db, name)),
                     timeout=30, what=log.read_text)
        assert [i.violation_id for i in owed_to(db, "partners")] == [first, second]
        assert [i.violation_id for i in owed_to(db, "press")] == [first, second, gbr_only]
        sent = [json.loads(b) for _, _, b in partners.got]
        assert [(d["violation"]["violation_id"], d["audience"], d["published"],
                 d["violation"]["status"]) for d in sent] == [
            (token[first], "published", True, "published"),
            (token[second], "published", True, "published")]
        assert {h["Idempotency-Key"] for _, h, _ in partners.got} == {
            i.idempotency_key for i in owed_to(db, "partners")}
        assert len(duty.got) == 3 and len(owed_to(db, "duty")) == 3  # told once, when new
    finally:
        srv.process.terminate()
        srv.process.wait(20)
        for r in (duty, partners, press):
            r.close()
