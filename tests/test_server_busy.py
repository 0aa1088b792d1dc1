"""A busy store and clients that hang up: a locked database answers 503 with Retry-After within
a bounded wait (never a 500 after a minute); the CoT sink tries a failed commit again and loses
no event; a client that hangs up mid-body is one line in the log, never an internal error."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cot_fixtures import closed_by_server, event, send_raw, service, stored, until
from tests.helpers import hold_write_lock, wait_for
from tests.server_fixtures import make_users, running
from truceguard.errors import StoreBusyError, StoreError, error_envelope
from truceguard.server.api import create_app
from truceguard.store import SQLiteStore, open_store
from truceguard.users import add_user

WAIT_S = 0.5


# -- the error ---------------------------------------------------------------------------------
def test_store_busy_is_a_store_error_with_a_code_and_a_retry_after():
    exc = StoreBusyError("locked", retry_after_s=3)
    assert isinstance(exc, StoreError)
    assert exc.code == "store.busy" and exc.retry_after_s == 3 and exc.hint
    assert error_envelope(exc)["error"]["code"] == "store.busy"
    assert StoreBusyError("locked", retry_after_s=0).retry_after_s == 1


def test_sqlite_raises_store_busy_past_its_busy_timeout(tmp_path: Path):
    store = SQLiteStore(tmp_path / "t.db", busy_timeout_s=WAIT_S)
    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(store.path, release, held))
    locker.start()
    try:
        held.wait(5)
        t0 = time.monotonic()
        with pytest.raises(StoreBusyError) as err, store.transaction():
            pass
        assert time.monotonic() - t0 < WAIT_S + 3
        assert err.value.code == "store.busy"
    finally:
        release.set()
        locker.join(5)
    with store.transaction():  # free again
        store.execute("SELECT 1")
    store.close()


# -- 1. the API: 503 with Retry-After, then success ----------------------------------------
def test_a_locked_database_answers_503_with_retry_after_then_succeeds(tmp_path: Path):
    store = SQLiteStore(tmp_path / "api.db")
    token = add_user(store, "gbr", "GBR", "analyst", by="test")[1]
    store.set_busy_timeout(WAIT_S)
    app = create_app(store)
    headers = {"Authorization": f"Bearer {token}"}

    def post(uid: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://test", headers=headers) as client:
                return await client.post("/api/v1/observations", content=event(uid))
        return asyncio.run(go())

    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(store.path, release, held))
    locker.start()
    try:
        held.wait(5)
        t0 = time.monotonic()
        r = post("busy-1")
        took = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "store.busy"
        assert int(r.headers["Retry-After"]) >= 1
        assert took < WAIT_S + 5
    finally:
        release.set()
        locker.join(5)
    r = post("busy-1")
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1
    store.close()


# -- 2. the CoT sink tries a failed commit again ------------------------------------------
class FlakyStore:
    """A store whose first ``fails`` inserts raise ``StoreBusyError`` (inside the batch's
    transaction, so each failed try is rolled back whole)."""

    def __init__(self, inner: SQLiteStore, fails: int) -> None:
        self.inner = inner
        self.fails = fails
        self.tries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def add_observation_columns(self, *args: Any, **kwargs: Any) -> Any:
        self.tries += 1
        if self.fails:
            self.fails -= 1
            raise StoreBusyError("the database stayed locked (test)")
        return self.inner.add_observation_columns(*args, **kwargs)


def test_the_sink_retries_a_failed_commit_and_stores_every_event_once(tmp_path: Path):
    inner = SQLiteStore(tmp_path / "cot.db")
    flaky = FlakyStore(inner, fails=2)
    n = 50

    async def scenario() -> None:
        svc = await service(flaky, retry_backoff_s=0.01)  # type: ignore[arg-type]
        reader, writer = await send_raw(
            svc.server.ports["tcp"], b"".join(event(f"r{i}") for i in range(n)), close=False)
        await until(lambda: svc.sink.stats.received >= n)
        assert svc.sink.stats.retried_commits >= 2 and svc.sink.stats.failed_batches == 0
        assert not await closed_by_server(reader, 0.3)  # the connection stays
        writer.close()
        await svc.stop()

    asyncio.run(scenario())
    refs = sorted(r.source_ref.split("@")[0] for r in stored(inner))
    assert refs == sorted(f"r{i}" for i in range(n))
    inner.close()


def test_the_sink_gives_up_loudly_and_closes_the_connection(tmp_path: Path, caplog):
    inner = SQLiteStore(tmp_path / "cot.db")
    flaky = FlakyStore(inner, fails=1_000)

    async def scenario() -> None:
        svc = await service(flaky, retry_backoff_s=0.01, commit_retries=2)  # type: ignore[arg-type]
        reader, writer = await send_raw(
            svc.server.ports["tcp"], b"".join(event(f"g{i}") for i in range(5)), close=False)
        assert await closed_by_server(reader)  # nothing acknowledged: the sender knows
        assert svc.sink.stats.failed_batches >= 1 and svc.sink.stats.received == 0
        writer.close()
        await svc.stop()

    asyncio.run(scenario())
    assert flaky.tries == 3  # one try and two retries
    assert "gave up committing 5 records after 3 tries" in caplog.text
    assert stored(inner) == []
    inner.close()


# -- 3. a client that hangs up mid-body ---------------------------------------------------------
def test_a_client_hanging_up_mid_body_is_one_log_line_not_an_internal_error(tmp_path: Path):
    db = str(tmp_path / "srv.db")
    open_store(db).close()
    tokens = make_users(db)
    log = tmp_path / "server.log"
    with running(db, log) as srv:
        srv.tokens = tokens
        host, port = srv.url.removeprefix("http://").split(":")
        head = (f"POST /api/v1/observations HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {tokens['gbr']}\r\nContent-Type: application/xml\r\n"
                "Content-Length: 100000\r\n\r\n").encode()
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head + event("cut")[:200])
            # pacing, not a wait before an assertion: the server reads these bytes before the
            # hang-up, which the log line below is then checked to count
            time.sleep(0.3)
        wait_for(lambda: "hung up" in log.read_text(), what=log.read_text)
        with srv.client("gbr") as c:  # the server is fine
            assert c.get("/api/v1/observations/count").status_code == 200
    text = log.read_text()  # the server has stopped: its log is complete
    lines = [ln for ln in text.splitlines() if "hung up" in ln]
    assert len(lines) == 1, text
    assert "/api/v1/observations" in lines[0] and "127.0.0.1" in lines[0]
    assert "200 of 100,000 bytes" in lines[0]
    assert "Traceback" not in text and "internal error" not in text, text
