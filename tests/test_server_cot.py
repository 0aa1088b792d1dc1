"""CoT listeners with real TAK clients: pytak processes sending CoT XML and TAK protobuf over
TCP and UDP to the real listener, committed to a real store (the clients:
``tests/cot_fixtures.py``)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cot_fixtures import (
    EVERYONE,
    OBSERVER,
    closed_by_server,
    event,
    run_clients,
    send_raw,
    service,
    stored,
    until,
)
from tests.helpers import hold_write_lock
from truceguard.errors import RowError
from truceguard.io.cot import parse_cot_event
from truceguard.marking import Viewer
from truceguard.model import User
from truceguard.server.sink import Sink
from truceguard.store import SQLiteStore
from truceguard.store.base import ObservationFilter


# -- tests -------------------------------------------------------------------------------------
def test_pytak_processes_xml_and_protobuf_on_one_port_each_event_stored_once(store):
    async def scenario() -> None:
        svc = await service(store)
        url = f"tcp://127.0.0.1:{svc.server.ports['tcp']}"
        specs = [{"url": url, "n": 250, "proto": i % 2, "prefix": f"c{i}", "hello": True}
                 for i in range(4)]
        await run_clients(specs)
        await until(lambda: svc.sink.stats.received >= 1000)
        await until(lambda: svc.server.stats.control >= 4)
        await svc.stop()
        assert svc.server.stats.control == 4  # the four takPing hellos: ignored
        assert svc.server.stats.rejected == 0

    asyncio.run(scenario())
    rows = stored(store)
    refs = [r.source_ref.split("@")[0] for r in rows]
    assert len(rows) == 1000 and len(set(refs)) == 1000
    assert set(refs) == {f"c{i}-{k}" for i in range(4) for k in range(250)}
    assert not [r for r in rows if "ping" in r.source_ref]
    wire = {r.source_ref.split("-")[0]: r.attributes.get("wire") for r in rows}
    assert wire == {"c0": None, "c1": "takproto", "c2": None, "c3": "takproto"}
    one = next(r for r in rows if r.source_ref.startswith("c1-5@"))
    assert (one.category, one.how_known, one.uncertainty_m) == ("movement", "seen", 25.0)
    assert one.lat == pytest.approx(48.0005) and one.attributes["submitted_by"] == "field-1"
    assert one.releasability == "REL TO FRA, GBR"
    assert parse_cot_event(one.raw.encode()).lat == one.lat  # raw: the XML it stands for
    assert store.ingest_log()[-1]["status"] == "complete"


def test_pytak_over_udp_xml_and_protobuf(store):
    async def scenario() -> None:
        svc = await service(store)
        url = f"udp+wo://127.0.0.1:{svc.server.ports['udp']}"
        await run_clients([{"url": url, "n": 60, "proto": p, "prefix": f"u{p}", "hello": True}
                           for p in (0, 1)])
        await until(lambda: svc.sink.stats.received >= 120)
        await svc.stop()
        assert svc.server.stats.control == 2

    asyncio.run(scenario())
    refs = sorted(r.source_ref.split("@")[0] for r in stored(store))
    assert refs == sorted(f"u{p}-{i}" for p in (0, 1) for i in range(60))


def test_the_users_marking_is_the_ceiling_and_access_only_narrows(store):
    events = [event("a1"), event("a2", access="REL TO GBR"), event("a3", access="PUBLIC"),
              event("a4", access="REL TO USA"), event("a5", access="REL UK")]

    async def scenario() -> None:
        svc = await service(store)
        await send_raw(svc.server.ports["tcp"], b"".join(events))
        await until(lambda: svc.sink.stats.received >= 5)
        await svc.stop()

    asyncio.run(scenario())
    got = {r.source_ref.split("@")[0]: r.releasability for r in stored(store)}
    assert got == {"a1": "REL TO FRA, GBR", "a2": "REL TO GBR", "a3": "REL TO FRA, GBR",
                   "a4": "OWNER ONLY", "a5": "REL TO GBR"}
    usa = {r.source_ref.split("@")[0] for r in stored(store, Viewer.of("USA"))}
    fra = {r.source_ref.split("@")[0] for r in stored(store, Viewer.of("FRA"))}
    assert usa == set() and fra == {"a1", "a3"}


def test_truceguard_detail_child_sets_category_weapon_and_count(store):
    child = '<truceguard category="shelling" weapon_class="mlrs" count="12"/>'
    bad = '<truceguard category="fireworks"/>'

    async def scenario() -> None:
        svc = await service(store)
        await send_raw(svc.server.ports["tcp"], event("p1", cot_type="b-m-p-s-m", detail=child)
                       + event("p2", cot_type="b-m-p-s-m", detail=bad)
                       + event("p3", cot_type="b-m-p-s-m"))
        await until(lambda: svc.sink.stats.received >= 2)
        await svc.stop()
        assert svc.server.stats.rejected == 1

    asyncio.run(scenario())
    got = {r.source_ref.split("@")[0]: (r.category, r.weapon_class, r.count)
           for r in stored(store)}
    assert got == {"p1": ("shelling", "mlrs", 12), "p3": ("other", "unknown", 1)}


@pytest.mark.parametrize(("child", "field"), [
    ('<truceguard weapon_class="catapult"/>', "detail.truceguard.weapon_class"),
    ('<truceguard count="0"/>', "detail.truceguard.count"),
    ('<truceguard count="-3"/>', "detail.truceguard.count"),
    ('<truceguard category="Shelling"/>', "detail.truceguard.category"),
])
def test_truceguard_detail_child_values_outside_the_vocabulary_are_refused(child, field):
    with pytest.raises(RowError) as err:
        parse_cot_event(event("v", cot_type="b-m-p-s-m", detail=child))
    assert err.value.field == field


def test_a_later_track_event_supersedes_the_earlier_and_both_are_kept(store):
    times = ["2026-11-30T12:00:00.000Z", "2026-11-30T12:00:05.000Z",
             "2026-11-30T12:00:02.000Z", "2026-11-30T12:00:09.500Z"]

    async def scenario() -> None:
        svc = await service(store)
        data = b"".join(event("trk", time_s=t, lat=48.1 + k / 100) for k, t in enumerate(times))
        await send_raw(svc.server.ports["tcp"], data + event("pt", cot_type="b-m-p-s-m"))
        await until(lambda: svc.sink.stats.received >= 5)
        await svc.stop()

    asyncio.run(scenario())
    rows = {r.source_ref: r.attributes for r in stored(store)}
    ref = [f"trk@{t}" for t in times]
    assert set(rows) == {*ref, f"pt@{'2026-11-30T12:00:00.000Z'}"}
    assert "supersedes" not in rows[ref[0]] and rows[ref[1]]["supersedes"] == ref[0]
    assert rows[ref[2]]["superseded_by"] == ref[1]  # arrived late: older than the latest
    assert rows[ref[3]]["supersedes"] == ref[1]
    assert all(rows[r]["uid"] == "trk" for r in ref)
    assert "uid" not in rows["pt@2026-11-30T12:00:00.000Z"]  # a point is not a track


def test_disconnect_user_ends_live_connections_and_refuses_the_plain_ports(store, caplog):
    async def scenario() -> None:
        svc = await service(store)
        port = svc.server.ports["tcp"]
        reader, writer = await send_raw(port, event("d1"), close=False)
        await until(lambda: svc.sink.stats.received >= 1)
        assert svc.disconnect_user("field-1") == 1
        assert await closed_by_server(reader)
        writer.close()
        r2, w2 = await send_raw(port, event("d2"), close=False)
        assert await closed_by_server(r2)  # refused: no plain user now
        w2.close()
        svc.server.set_plain_user(OBSERVER)
        await send_raw(port, event("d3"))
        await until(lambda: svc.sink.stats.received >= 2)
        await svc.stop()

    asyncio.run(scenario())
    assert {r.source_ref.split("@")[0] for r in stored(store)} == {"d1", "d3"}
    assert "user field-1 disconnected by the server" in caplog.text
    assert "refused: no user for plain CoT" in caplog.text


def test_a_user_whose_marking_cannot_be_read_is_refused(store, caplog):
    bad = User(9, "field-9", "GBR", "observer", "REL TO NARNIA")

    async def scenario() -> None:
        svc = await service(store, plain_user=bad)
        reader, writer = await send_raw(svc.server.ports["tcp"], event("n1"), close=False)
        assert await closed_by_server(reader)
        writer.close()
        await svc.stop()

    asyncio.run(scenario())
    assert stored(store) == []
    assert "user field-9's marking cannot be read" in caplog.text


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "cot.db")
    yield s
    s.close()


def test_a_blocked_store_slows_readers_sheds_past_the_bound_and_stop_flushes(
        sqlite_store: SQLiteStore, caplog):
    """(SQLite: another writer holds the file's write lock.)"""
    store = sqlite_store
    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(store.path, release, held))

    async def scenario() -> None:
        svc = await service(store, max_pending=300, max_delay_s=0.0,
                            config={"shed_after_s": 0.5})
        port = svc.server.ports["tcp"]
        locker.start()
        held.wait(5)
        # 200 events are read and handed over; they wait for the store, unacknowledged.
        _, w1 = await send_raw(port, b"".join(event(f"s{i}") for i in range(200)), close=False)
        await until(lambda: svc.sink.pending >= 200)
        # 200 more do not fit: that reader waits, then its connection is shed.
        r2, w2 = await send_raw(port, b"".join(event(f"t{i}") for i in range(200)), close=False)
        assert await closed_by_server(r2)
        # (what the listener had read of them when it gave up: reads are of 32 KiB)
        assert svc.sink.stats.received == 0 and 0 < svc.sink.stats.shed <= 200
        threading.Timer(0.3, release.set).start()
        await svc.stop()  # waits for the store, then commits what it acknowledged
        for w in (w1, w2):
            w.close()

    asyncio.run(scenario())
    locker.join(5)
    assert sorted(r.source_ref.split("@")[0] for r in stored(store)) == sorted(
        f"s{i}" for i in range(200))
    assert re.search(r"shed load: \d+ records refused", caplog.text)
    assert re.search(r"disconnected: shed: no room for \d+ records", caplog.text)


def test_a_slow_store_pauses_reading_instead_of_buffering(sqlite_store: SQLiteStore):
    """(SQLite: another writer holds the file's write lock.)"""
    store = sqlite_store
    """With the store blocked, a client that sends 12 MB gets only a bounded part of it
    read (then TCP flow control holds it back); once the store moves, all is stored."""
    release, held = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(store.path, release, held))
    n = 30_000

    async def scenario() -> None:
        svc = await service(store, config={"max_unsettled_bytes": 64 << 10})
        locker.start()
        held.wait(5)
        _, writer = await asyncio.open_connection("127.0.0.1", svc.server.ports["tcp"])
        writer.write(b"".join(event(f"f{i}") for i in range(n)))
        sending = asyncio.ensure_future(writer.drain())
        await until(lambda: [c.paused for c in svc.server._conns] == [True], 30)
        assert not sending.done()  # the client is held back ...
        assert 0 < svc.sink.pending <= 1_000  # ... and the server holds little of it
        assert [c.paused for c in svc.server._conns] == [True]
        release.set()
        await asyncio.wait_for(sending, 30)
        writer.close()
        await until(lambda: svc.sink.stats.received >= n, 30)
        await svc.stop()

    asyncio.run(scenario())
    locker.join(5)
    assert store.count_observations(ObservationFilter(), EVERYONE) == n


@pytest.mark.parametrize("every_s", [0.05, 60.0])
def test_the_sink_checkpoints_the_log_beside_its_commits(tmp_path, every_s):
    """The writer never checkpoints (no disk wait in a commit); the sink's checkpointer
    does, so the write-ahead log is reused instead of growing with every batch."""
    store = SQLiteStore(tmp_path / "wal.db")
    wal = Path(f"{store.path}-wal")
    rounds = [[parse_cot_event(event(f"w{k}-{i}")) for i in range(1500)] for k in range(6)]

    async def scenario() -> list[int]:
        sink = Sink(store, checkpoint_every_s=every_s)
        await sink.start()
        sizes = []
        for batch in rounds:
            fut = sink.offer(batch)
            assert fut is not None
            await fut
            if every_s < 1:  # wait for the checkpoint that covers this batch
                await until(lambda: sink.stats.checkpointed_batches >= sink.stats.batches)
            sizes.append(wal.stat().st_size)
        await sink.stop()
        return sizes

    sizes = asyncio.run(scenario())
    store.close()
    if every_s < 1:
        assert max(sizes) < 2.5 * sizes[0]  # reused after each checkpoint
    else:  # no checkpoint within the test: the log holds every batch
        assert sizes[-1] > 4 * sizes[0]
