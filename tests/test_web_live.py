"""Live updates: ``/api/v1/events`` (server-sent events fed by the live judge) and the
dashboard applying them, in Debian's chromium against a real `truceguard serve`.

A report POSTed through the API shows on the page of a user who may see it within a
deadline, and never reaches a user of another nation; a stream that falls behind the producer
is cut with a ``dropped`` event instead of being buffered; a user has a bounded number of
streams.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_for
from tests.server_fixtures import Server, serving
from tests.test_web_dashboard import browser  # noqa: F401 - the shared browser fixture
from tests.web_fixtures import Page
from truceguard.errors import ThrottledError
from truceguard.ingest import ingest_records
from truceguard.model import Observation, User, sha256_text
from truceguard.pipeline import fuse_store
from truceguard.server.routes import events
from truceguard.server.routes.events import Changes, EventHub, EventStream, Stream
from truceguard.store import open_store

T0 = 1_426_500_000  # 2015-03-16
STREAM = {"Accept": "text/event-stream"}


def _report(k: int, marking: str) -> Observation:
    raw = f"seen,{k},{marking}"
    return Observation(source="patrol", how_known="seen", t_start=T0 + 3600 * k,
                       t_end=T0 + 3600 * k, time_precision_s=60, lat=47.5 + 0.1 * k,
                       lon=36.0 + 0.2 * k, uncertainty_m=300.0, category="shelling",
                       source_ref=f"s-{k}", releasability=marking, raw=raw,
                       raw_sha256=sha256_text(raw), source_file="seen.csv", source_line=k + 2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("live")
    with open_store(str(folder / "mission.db")) as store:
        store.set_owner_nation("GBR")
        ingest_records(store, [_report(k, "PUBLIC" if k % 2 else "REL TO GBR")
                               for k in range(8)], source="patrol")
        fuse_store(store)
    with serving(folder) as srv:
        yield srv


def _feature(ref: str, lon: float, lat: float) -> bytes:
    return json.dumps({"type": "Feature", "geometry": {"type": "Point",
                                                       "coordinates": [lon, lat]},
                       "properties": {"time": "2015-03-17T09:00:00Z", "category": "shelling",
                                      "weapon_class": "artillery_ge100", "id": ref}}).encode()


def _holds(page: Page, lon: float, lat: float) -> bool:
    return bool(page.page.evaluate(
        """([lon, lat]) => window.dashboard.state.incidents.some(
            i => Math.abs(i.lon - lon) < 1e-6 && Math.abs(i.lat - lat) < 1e-6)""", [lon, lat]))


def _live(page: Page) -> None:
    page.page.wait_for_function("() => document.body.dataset.live === 'on'", timeout=15_000)


def test_a_posted_report_shows_live_to_its_nation_only(browser: Any, server: Server,  # noqa: F811
                                                      tmp_path: Path) -> None:
    gbr = Page(browser, server, "gbr", tmp_path)
    fra = Page(browser, server, "fra", tmp_path)
    try:
        _live(gbr)
        _live(fra)
        before = gbr.count()
        sources = gbr.page.evaluate("""() => ['incidents', 'incident-clusters']
            .filter(id => window.dashboard.map.getSource(id) !== undefined)""")
        assert sources == ["incidents", "incident-clusters"]
        with server.client("gbr") as c:  # REL TO GBR: the user's own marking
            started = time.monotonic()
            assert c.post("/api/v1/observations",
                          content=_feature("live-1", 37.4, 47.9)).json()["imported"] == 1
        wait_for(lambda: _holds(gbr, 37.4, 47.9), timeout=10, what="the report on gbr's page")
        seen_after = time.monotonic() - started
        assert seen_after < 3.0, seen_after  # within a second of the judge's 200 ms batch
        wait_for(lambda: gbr.count() == before + 1, timeout=5, what="the count to follow")
        # the clusters follow too: every level counts each incident once
        levels = gbr.page.evaluate("""() => {
            const n = new Map();
            for (const f of window.dashboard.map.getSource('incident-clusters')._data.features)
                n.set(f.properties.z, (n.get(f.properties.z) || 0) + f.properties.point_count);
            return [...n.values()] }""")
        assert len(levels) == 10 and set(levels) == {before + 1}, levels
        assert gbr.page.get_attribute("#marking-top", "data-marking") == "REL TO GBR"
        # The API lists what the page shows.
        with server.client("gbr") as c:
            listed = c.get("/api/v1/incidents", params={"limit": 1000}).json()["items"]
        assert gbr.count() == len(listed)
        # A later PUBLIC report reaches fra: the GBR one's step was handed to fra before.
        with server.client("ukr") as c:
            assert c.post("/api/v1/observations",
                          content=_feature("live-2", 37.6, 48.1)).json()["imported"] == 1
        wait_for(lambda: _holds(fra, 37.6, 48.1), timeout=10, what="the PUBLIC report on fra's")
        wait_for(lambda: _holds(gbr, 37.6, 48.1), timeout=10, what="the PUBLIC report on gbr's")
        assert not _holds(fra, 37.4, 47.9)
        assert "REL TO GBR" not in fra.page.content()
        gbr.shot("live")
        print(f"report to page: {seen_after * 1000:.0f} ms")
    finally:
        fra.close()
        gbr.close()


def _read_events(lines: Iterator[str], until: str, limit: float = 10) -> list[tuple[str, Any]]:
    """Events of a stream's ``lines`` up to the first of kind ``until`` (the iterator is kept:
    httpx closes a response whose line iterator is dropped)."""
    got: list[tuple[str, Any]] = []
    kind = ""
    deadline = time.monotonic() + limit
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            got.append((kind, json.loads(line[6:])))
            if kind == until:
                return got
        assert time.monotonic() < deadline, got
    return got


def test_streams_need_the_token_and_are_bounded_per_user(server: Server) -> None:
    with server.client(None) as c:
        r = c.get("/api/v1/events", headers=STREAM)
        assert r.status_code == 401 and r.json()["error"]["code"].startswith("auth")
    with server.client("deu") as c:
        plain = c.get("/api/v1/events")  # a client that did not ask for a stream
        assert plain.status_code == 400, plain.text
        assert plain.json()["error"]["code"] == "input.not_acceptable"
        assert "text/event-stream" in plain.json()["error"]["hint"]
        c.headers.update(STREAM)
        opened = [c.stream("GET", "/api/v1/events") for _ in range(events.MAX_STREAMS_PER_USER)]
        responses = [o.__enter__() for o in opened]
        lines = [r.iter_lines() for r in responses]  # kept while the streams are open
        try:
            for r, read in zip(responses, lines, strict=True):
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                hello = _read_events(read, "hello")[-1]
                assert hello == ("hello", {"marking": "PUBLIC", "user": "deu",
                                           "queue": events.QUEUE,
                                           "keepalive_s": events.KEEPALIVE_S})
            extra = c.get("/api/v1/events")
            assert extra.status_code == 429, extra.text
            err = extra.json()["error"]
            assert err["code"] == "events.too_many" and "'deu'" in err["message"]
            assert err["hint"] and extra.headers["retry-after"] == "5"
        finally:
            for o in opened:
                o.__exit__(None, None, None)
    # the streams closed by the client are let go: deu may open one again
    with server.client("deu") as c:
        c.headers.update(STREAM)
        wait_for(lambda: _opens(c), timeout=10, what="deu's streams to be let go")


def _opens(c: Any) -> bool:
    with c.stream("GET", "/api/v1/events") as r:
        return bool(r.status_code == 200)


# -- the bounds, on the hub itself -------------------------------------------------------------
class _Store:
    """The store calls a stream makes to render one step (a user who may see it all)."""

    def user_by_id(self, _n: int) -> User:
        return USER

    def markings(self) -> dict[int, Any]:
        return {}

    def get_observation(self, *_: Any) -> None:
        return None

    def get_incident(self, *_: Any) -> None:
        return None

    def get_violation(self, *_: Any) -> None:
        return None


USER = User(7, "slow", "GBR", "analyst", "REL TO GBR")


def _run(main: Any) -> Any:
    """``asyncio.run(main())`` in a thread of its own (Playwright's loop holds this one)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=30)


def test_a_stream_slower_than_the_producer_is_cut_not_buffered() -> None:
    async def main() -> list[bytes]:
        hub = EventHub(_Store(), None)  # type: ignore[arg-type]
        s = hub.open(USER)
        for k in range(events.QUEUE * 3):  # the producer: three times what a stream may hold
            hub._publish(Changes(gone=((k, 1),)))
            assert s.queue.qsize() <= events.QUEUE
        assert s.behind and s.queue.empty()  # let go at once, not kept for the reader
        assert hub.dropped == 1
        out = [chunk async for chunk in events._events(hub, s)]
        hub.close(s)
        assert not hub.streams
        return out

    chunks = _run(main)
    assert chunks[0].startswith(b"event: hello\n")
    assert len(chunks) == 2  # nothing of the overflowed steps is sent
    last = chunks[-1].decode()
    assert last.startswith("event: dropped\n")
    data = json.loads(last.split("data: ", 1)[1])
    assert data["code"] == "events.behind" and f"{events.QUEUE} live steps" in data["message"]
    assert data["marking"] == "PUBLIC" and data["hint"]


def test_a_client_that_stops_reading_is_closed_after_the_send_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "SEND_TIMEOUT_S", 0.2)

    async def main() -> tuple[int, float]:
        hub = EventHub(_Store(), None)  # type: ignore[arg-type]
        s = hub.open(USER)
        sent: list[dict[str, Any]] = []
        stuck = asyncio.Event()

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                await stuck.wait()  # the client's window stays shut

        async def receive() -> dict[str, Any]:
            await stuck.wait()
            return {"type": "http.disconnect"}

        started = time.monotonic()
        await asyncio.wait_for(EventStream(hub, s)(
            {"type": "http"}, receive, send), 5)  # type: ignore[arg-type]
        assert not hub.streams and hub.dropped == 1
        return len(sent), time.monotonic() - started

    n, took = _run(main)
    assert n == 2 and took < 2  # the start and one chunk; then the stream is let go


def test_a_user_disabled_while_streaming_is_sent_dropped() -> None:
    class Disabled(_Store):
        def user_by_id(self, _n: int) -> User:
            return User(7, "slow", "GBR", "analyst", "REL TO GBR", disabled=True)

    out = events.render(Disabled(), None, Changes(gone=((1, 1),)), USER)  # type: ignore[arg-type]
    assert [k for k, _ in out] == ["dropped"]
    assert out[0][1]["code"] == "events.user_disabled" and "'slow'" in out[0][1]["message"]
    assert isinstance(Stream(USER).queue, asyncio.Queue)


def test_an_idle_stream_ends_when_the_server_stops() -> None:
    stopping = [False]

    async def main() -> tuple[list[bytes], float]:
        hub = EventHub(_Store(), None)  # type: ignore[arg-type]
        s = hub.open(USER, lambda: stopping[0])
        out: list[bytes] = []
        started = 0.0
        async for chunk in events._events(hub, s):
            out.append(chunk)
            if len(out) == 1:  # after hello, the server is told to stop
                stopping[0] = True
                started = time.monotonic()
        with pytest.raises(ThrottledError) as refused:
            hub.open(USER, lambda: stopping[0])
        assert refused.value.code == "events.stopping"
        return out, time.monotonic() - started

    out, took = _run(main)
    assert took < events.KEEPALIVE_S / 2  # noticed within a watch, not a keep-alive
    assert out[-1].startswith(b"event: dropped\n") and b"events.stopping" in out[-1]
