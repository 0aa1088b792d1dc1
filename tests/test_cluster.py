"""Several nodes on one real PostgreSQL: the judging lock, outbox claims, user notices, and
three real `truceguard serve` nodes with 100 CoT clients, one of them killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.cot_fixtures import run_clients
from tests.helpers import wait_for
from tests.server_fixtures import TLS, Server, free_port, make_users
from tests.test_server_alerts import Receiver, add_target, breach
from truceguard.server.cluster import NodeCluster, UserWatcher
from truceguard.store import open_store
from truceguard.store.cluster import NodeSession, OutboxClaims
from truceguard.store.mission import OutboxItem


def _enqueue(db: str, n: int) -> list[int]:
    """``n`` outbox rows owed to one target (over made-up violations), due now."""
    with open_store(db) as store:
        from truceguard.users import add_user

        user, _ = add_user(store, "duty", "FRA", "analyst", by="test")
        target = store.add_alert_target("duty", "webhook", "http://127.0.0.1:9/", "s", 1, "",
                                        user.user_id, allow_private=True)
        store.enqueue([(target.target_id, v, f"key-{v}", "{}") for v in range(1, n + 1)],
                      time.time() - 1)
        return [i.outbox_id for i in store.outbox()]


def test_outbox_rows_are_claimed_by_one_node_and_a_dead_nodes_taken_over(
        pg_database: Callable[[], str]) -> None:
    db = pg_database()
    ids = _enqueue(db, 60)

    async def main() -> None:
        a, b = NodeSession(db), NodeSession(db)
        await a.open()
        await b.open()
        ca, cb = OutboxClaims(a, lease_s=300), OutboxClaims(b, lease_s=300)
        # Both claim at once, in small bites: no row is claimed twice, none is left.
        got_a, got_b = [], []
        for _ in range(8):
            ra, rb = await asyncio.gather(ca.claim(time.time(), 5), cb.claim(time.time(), 5))
            got_a += [i.outbox_id for i in ra]
            got_b += [i.outbox_id for i in rb]
        assert not set(got_a) & set(got_b)
        assert sorted(got_a + got_b) == ids
        assert await ca.claim(time.time(), 100) == []  # leased: nothing is due any more
        # a records one delivery; then a's process dies (its session ends) with the rest
        assert await ca.delivered(got_a[0], time.time())
        await a.close()
        taken = await claimed(cb)
        taken_ids = sorted(i.outbox_id for i in taken)
        assert taken_ids == sorted(got_a[1:])  # b took over a's claims, long before the lease
        # a comes back under another session: its old claims are not its own any more
        a2 = NodeSession(db)
        await a2.open()
        late = OutboxClaims(a2, lease_s=300)
        assert not await late.delivered(got_a[1], time.time())
        for c in (ca, cb, late):
            await c.close()
        await b.close()
        await a2.close()

    asyncio.run(main())
    with open_store(db) as store:
        states = Counter(i.state for i in store.outbox())
    assert states == {"delivered": 1, "pending": 59}


async def claimed(claims: OutboxClaims, timeout: float = 10.0) -> list[OutboxItem]:
    """Claim until something is claimed (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await claims.claim(time.time(), 100)
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("nothing claimed in time")
        await asyncio.sleep(0.05)


def test_one_node_judges_and_another_takes_over_when_its_session_ends(
        pg_database: Callable[[], str]) -> None:
    db = pg_database()
    with open_store(db):
        pass

    async def main() -> None:
        a, b = NodeCluster(db), NodeCluster(db)
        await a.start()
        await b.start()
        assert await a.try_lead()
        assert not await b.try_lead()
        assert await a.still_leads() and not await b.still_leads()
        # a's session ends as a killed process's does (the server ends the backend)
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = %s", (f"truceguard {a.node}",))
        started = time.monotonic()
        while not await b.try_lead():
            assert time.monotonic() - started < 10, "b never took over"
            await asyncio.sleep(0.05)
        assert not await a.still_leads()  # a knows it does not judge any more
        assert b.health().extra["leads"] is True
        await a.stop()
        await b.stop()

    asyncio.run(main())


def test_a_user_disabled_anywhere_is_ended_through_listen(
        pg_database: Callable[[], str]) -> None:
    db = pg_database()
    make_users(db)
    ended: list[str] = []
    got = threading.Event()

    def on_ended(name: str) -> None:
        ended.append(name)
        got.set()

    async def main() -> None:
        store = open_store(db)
        watcher = UserWatcher(store, on_ended, listen_url=db, poll_s=3600)  # no polling
        await watcher.start()
        await asyncio.wait_for(watcher.listening.wait(), 10)
        with open_store(db) as other:  # another process's store: the CLI, another node
            await asyncio.to_thread(other.disable_user, "ukr")
        while not got.is_set():
            await asyncio.sleep(0.01)
        await watcher.stop()
        store.close()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert ended == ["ukr"]


# -- three real nodes ------------------------------------------------------------------------------
RAW_CLIENTS = 96  # plain TCP CoT clients (asyncio, in this process)
PYTAK_CLIENTS = 4  # real pytak clients, each in a process of its own
EVENTS = 20  # per client


def shelling(client: int, i: int) -> bytes:
    """A CoT report of small-arms fire near the line (a ceasefire breach), unique per client
    and number, in a cell of its own per client."""
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_583_000_000 + client * 3600 + i * 60))
    lat, lon = 47.9 + (client % 10) * 0.08, 37.6 + (client // 10) * 0.1
    return (f'<event version="2.0" uid="c{client}-{i}" type="b-m-p-s-m" time="{t}" start="{t}" '
            f'stale="{t}" how="h-e"><point lat="{lat:.4f}" lon="{lon:.4f}" hae="0" ce="200" '
            f'le="10"/><detail><truceguard category="shelling" weapon_class="small_arms"/>'
            f"</detail></event>").encode()


def launch(db: str, log: Path, *args: str) -> Server:
    """`truceguard serve` started (``server_fixtures.start`` waits for each in turn; the nodes
    start side by side here, and ``up`` waits for them)."""
    port = free_port()
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "truceguard", "serve", "--db", db, "--port", str(port),
             *args], stdout=fh, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Server(f"http://127.0.0.1:{port}", db, proc, log)


def up(srv: Server) -> bool:
    if srv.process.poll() is not None:
        raise AssertionError(f"the server exited: {srv.log.read_text()}")
    try:
        return httpx.get(srv.url + "/healthz", timeout=1, verify=TLS).status_code == 200
    except httpx.HTTPError:
        return False


def node_name(srv: Server) -> str:
    found = re.search(r"cluster: this is (node-\d+)", srv.log.read_text())
    assert found, srv.log.read_text()
    return found.group(1)


def judges(srv: Server) -> int:
    """How often this node's log says it took over judging."""
    return srv.log.read_text().count(" judges now")


def count(db: str, sql: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


@pytest.mark.slow
def test_three_nodes_one_killed_mid_stream_lose_nothing_and_alert_once(
        tmp_path: Path, pg_database: Callable[[], str]) -> None:
    """Three `truceguard serve` nodes on one PostgreSQL, 100 CoT clients spread over them;
    the node that judges is killed with SIGKILL while its clients send. Its clients send
    everything again to a survivor (a CoT client cannot know what was committed). Then:
    every event is stored exactly once, every observation belongs to one incident and is
    counted once, a survivor took over judging, and every alert owed is delivered (twice
    only where the killed node sent it and died before recording it)."""
    db = pg_database()
    tokens = make_users(db)
    receiver = Receiver()
    add_target(db, receiver.url)
    cot_ports = [free_port() for _ in range(3)]

    servers = [launch(db, tmp_path / f"node{k}.log", "--terms", "minsk-2015", "--cot-tcp",
                      str(cot_ports[k]), "--cot-tcp-as", "ukr") for k in range(3)]
    assert len(servers) == 3
    try:
        for srv in servers:
            wait_for(lambda srv=srv: up(srv), timeout=90, interval=0.2, what=srv.log.read_text)
            srv.tokens = tokens
        logs = lambda: "\n".join(s.log.read_text()[-3000:] for s in servers)  # noqa: E731
        leader = wait_for(lambda: [k for k, s in enumerate(servers) if judges(s)],
                          what=logs)[0]
        victim, survivors = servers[leader], [s for k, s in enumerate(servers) if k != leader]
        victim_name = node_name(victim)
        victim_port = cot_ports[leader]
        other_ports = [p for k, p in enumerate(cot_ports) if k != leader]
        half_sent = asyncio.Event()
        killed = asyncio.Event()
        sent_to_victim = 0

        async def raw_client(client: int) -> None:
            nonlocal sent_to_victim
            port = cot_ports[client % 3]
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                for i in range(EVENTS):
                    writer.write(shelling(client, i))
                    await writer.drain()
                    if port == victim_port:
                        sent_to_victim += 1
                        if sent_to_victim >= RAW_CLIENTS // 3 * EVENTS // 2:
                            half_sent.set()
                    await asyncio.sleep(0.02)
                writer.close()
                await writer.wait_closed()
            except ConnectionError:
                pass  # the node died under it
            if port != victim_port:
                return
            await killed.wait()  # whatever it sent may or may not be stored: send it again
            _, writer = await asyncio.open_connection("127.0.0.1", other_ports[client % 2])
            writer.write(b"".join(shelling(client, i) for i in range(EVENTS)))
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        async def kill_when_half_sent() -> None:
            await half_sent.wait()
            victim.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.process.wait, 10)
            killed.set()

        pytak_specs = [{"url": f"tcp://127.0.0.1:{other_ports[k % 2]}", "n": EVENTS,
                        "prefix": f"tak{k}"} for k in range(PYTAK_CLIENTS)]

        async def main() -> None:
            await asyncio.gather(kill_when_half_sent(), run_clients(pytak_specs, 60.0),
                                 *(raw_client(c) for c in range(RAW_CLIENTS)))

        asyncio.run(asyncio.wait_for(main(), 60))
        expected = (RAW_CLIENTS + PYTAK_CLIENTS) * EVENTS
        wait_for(lambda: count(db, "SELECT count(*) FROM observations") >= expected,
                 timeout=30, what=logs)
        # A survivor judges now, and has judged everything.
        wait_for(lambda: any(judges(s) for s in survivors), what=logs)
        wait_for(lambda: count(db, "SELECT count(*) FROM observations "
                                   "WHERE incident_id IS NULL") == 0, timeout=30, what=logs)
        # A breach committed now is judged after every step before it: once its alert is
        # delivered, every alert owed is in the outbox.
        with survivors[0].client("ukr") as c:
            assert c.post("/api/v1/observations", content=breach(9)).json()["imported"] == 1
        wait_for(lambda: count(db, "SELECT count(*) FROM outbox o JOIN violations v USING "
                                   "(violation_id) WHERE abs(v.lon - 38.9) < 1e-6 AND "
                                   "o.state = 'delivered'"), timeout=30, what=logs)
        wait_for(lambda: count(db, "SELECT count(*) FROM outbox WHERE state <> 'delivered'")
                 == 0, timeout=30, what=logs)

        # every event stored exactly once (by its uid; the API's breach aside)
        with psycopg.connect(db) as conn:
            refs = [r[0] for r in conn.execute(
                "SELECT source_ref FROM observations WHERE source_ref LIKE '%@%'")]
            uids = Counter(ref.split("@")[0] for ref in refs)
            incidents = conn.execute("SELECT COALESCE(sum(n_observations), 0) FROM "
                                     "incident_views WHERE sig = set_key").fetchone()
            n_obs = conn.execute("SELECT count(*) FROM observations").fetchone()
            doubles = conn.execute("SELECT terms, incident_id, clause FROM violations GROUP BY "
                                   "terms, incident_id, clause HAVING count(*) > 1").fetchall()
            keys = [r[0] for r in conn.execute("SELECT idempotency_key FROM outbox")]
        want = {f"c{c}-{i}" for c in range(RAW_CLIENTS) for i in range(EVENTS)}
        want |= {f"tak{k}-{i}" for k in range(PYTAK_CLIENTS) for i in range(EVENTS)}
        assert set(uids) == want and set(uids.values()) == {1}
        # every observation in one incident, counted once: no step fused twice
        assert incidents is not None and n_obs is not None and incidents[0] == n_obs[0]
        assert doubles == []  # no incident judged twice
        # every alert owed delivered; twice only where the killed node was one of the senders
        assert keys and len(keys) > RAW_CLIENTS // 3
        got = Counter(h["Idempotency-Key"] for _, h, _ in receiver.got)
        assert set(got) == set(keys)
        for key, n in got.items():
            if n > 1:
                senders = [h.get("X-Truceguard-Node") for _, h, _ in receiver.got
                           if h["Idempotency-Key"] == key]
                assert n == 2 and victim_name in senders, (key, senders)
        assert all(json.loads(b)["violation"]["clause"].startswith("minsk-2015/")
                   for _, _, b in receiver.got)
    finally:
        for srv in servers:
            if srv.process.poll() is None:
                srv.process.terminate()
        for srv in servers:
            srv.process.wait(20)
        receiver.close()
