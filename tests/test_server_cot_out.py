"""CoT out: a violation as a CoT marker, read back by truceguard's own CoT reader and
listener; the sender's reconnect, write deadline and bounded queue against real sockets."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from tests.cot_fixtures import service, stored, until
from tests.server_fixtures import free_port
from truceguard.errors import InputError
from truceguard.io.cot import parse_cot_event
from truceguard.model import Violation
from truceguard.server.cot_out import CotSender, SendFailed, parse_endpoint, violation_to_cot

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def violation(violation_id: int = 7, **changes: object) -> Violation:
    fields: dict[str, object] = dict(
        violation_id=violation_id, terms="geneva-2025", terms_version="2025-08-01",
        clause="heavy-weapons-withdrawal", severity=3, status="new", incident_id=991,
        t_start=1_796_000_000, t_end=1_796_000_600, lat=48.0159, lon=37.8028,
        uncertainty_m=850.0, controlled_by="ua", p_side=0.93, signed_distance_m=-4200.0,
        zone="heavy-weapons", p_location=0.88, location_text="4 km W of Donetsk",
        category="shelling", weapon_class="mlrs", releasability="REL TO FRA, GBR")
    fields.update(changes)
    return Violation(**fields)  # type: ignore[arg-type]


def test_violation_marker_reads_back_as_what_it_says():
    data = violation_to_cot(violation(), now=NOW)
    obs = parse_cot_event(data)
    assert (obs.lat, obs.lon, obs.uncertainty_m) == (48.0159, 37.8028, 850.0)
    assert obs.releasability == "REL TO FRA, GBR"
    assert obs.source_ref == "truceguard-violation-7@2026-11-30T12:00:00.000Z"
    assert (obs.category, obs.weapon_class) == ("shelling", "mlrs")  # the <truceguard> child
    assert obs.attributes["type"] == "b-m-p-s-m" and obs.attributes["how"] == "m-f"
    assert obs.attributes["stale"] == "2026-12-01T12:00:00.000Z"
    assert obs.text.startswith("geneva-2025 clause heavy-weapons-withdrawal (severity 3, new)")
    assert "4 km W of Donetsk" in obs.text and "+/- 850 m" in obs.text


def test_a_marker_names_the_violation_by_its_token_when_given():
    token = "vio_4q7xk2m9aw3bc"
    xml = violation_to_cot(violation(7), now=NOW, token=token).decode()
    assert f'uid="truceguard-violation-{token}"' in xml and f"Violation {token}" in xml
    assert f'violation_id="{token}"' in xml and "violation-7" not in xml


def test_marker_escapes_text_and_marks_unknown_uncertainty():
    v = violation(location_text='near "A" & <B>', uncertainty_m=0.0, releasability="PUBLIC")
    obs = parse_cot_event(violation_to_cot(v, now=NOW, cot_type="a-h-G"))
    assert 'near "A" & <B>' in obs.text
    assert obs.uncertainty_m is None and obs.attributes["type"] == "a-h-G"
    assert obs.releasability == "PUBLIC"


@pytest.mark.parametrize("url", ["udp://h:1", "tcp://h", "tcp://:80", "tcp://h:0",
                                 "tcp://h:99999", "tcp://h:80/x", "h:80"])
def test_endpoint_must_be_tcp_host_port(url):
    with pytest.raises(InputError, match="is not tcp://HOST:PORT"):
        parse_endpoint(url)


def test_sender_delivers_to_a_listener_that_starts_late_and_restarts(store, caplog):
    """The endpoint is truceguard's own CoT listener: it is down at first (the sender keeps
    trying), then up, then restarted on the same port (the sender reconnects)."""
    port = free_port()

    async def scenario() -> None:
        sender = CotSender(f"tcp://127.0.0.1:{port}", backoff_s=0.05, max_backoff_s=0.2,
                           allow_private=True)
        await sender.start()
        first = sender.send(violation_to_cot(violation(1), now=NOW))
        # it found the endpoint down, and again after its backoff: still waiting
        await until(lambda: caplog.text.count("cannot connect") >= 2, 10)
        assert not first.done()  # waiting for the endpoint
        svc = await service(store, config={"host": "127.0.0.1", "tcp_port": port,
                                           "udp_port": None})
        await asyncio.wait_for(first, 5)
        await until(lambda: svc.sink.stats.received >= 1)
        await svc.stop()
        await until(lambda: not sender.stats.connected, 5)
        svc = await service(store, config={"host": "127.0.0.1", "tcp_port": port,
                                           "udp_port": None})
        await asyncio.wait_for(sender.send(violation_to_cot(violation(2), now=NOW)), 5)
        await until(lambda: svc.sink.stats.received >= 1)
        await sender.close()
        await svc.stop()
        assert sender.stats.connects == 2 and sender.stats.sent == 2

    asyncio.run(scenario())
    got = {r.source_ref.split("@")[0]: (r.category, r.releasability) for r in stored(store)}
    assert got == {"truceguard-violation-1": ("shelling", "REL TO FRA, GBR"),
                   "truceguard-violation-2": ("shelling", "REL TO FRA, GBR")}


def test_sender_write_deadline_and_bounded_queue():
    """An endpoint that accepts and never reads: writes stop draining, the deadline fails
    the send and drops the connection; a full queue fails new sends at once."""
    async def scenario() -> None:
        held: list[asyncio.StreamWriter] = []

        async def never_reads(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            held.append(w)

        srv = await asyncio.start_server(never_reads, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        sender = CotSender(f"tcp://127.0.0.1:{port}", queue_size=3, write_timeout_s=0.2,
                           allow_private=True)
        await sender.start()
        blob = b"x" * (8 << 20)  # more than the socket buffers hold
        failed = sender.send(blob)
        with pytest.raises(SendFailed, match="no progress writing within 0.2 s"):
            await asyncio.wait_for(failed, 5)
        assert sender.stats.failed == 1
        queued = [sender.send(blob) for _ in range(3)]
        with pytest.raises(SendFailed, match="the queue is full"):
            await sender.send(b"one more")
        await sender.close()
        for got in await asyncio.gather(*queued, return_exceptions=True):
            assert isinstance(got, SendFailed)
        srv.close()
        for w in held:
            w.close()
        with contextlib.suppress(Exception):
            await srv.wait_closed()

    asyncio.run(scenario())
