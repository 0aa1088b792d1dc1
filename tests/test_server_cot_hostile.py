"""Hostile CoT streams against the real listener: each hurts only its own connection, the
listener goes on serving the others, nothing hostile is stored or expanded, memory stays
bounded."""

from __future__ import annotations

import asyncio
import logging
import resource
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.cot_fixtures import (
    closed_by_server,
    event,
    send_raw,
    service,
    stored,
    until,
)
from truceguard.io.takproto import MAGIC, encode_varint

_LAUGHS = ['<!ENTITY a "aaaaaaaaaa">'] + [
    f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for c, p in zip("bcdefghi", "abcdefgh", strict=True)]
BILLION_LAUGHS = (f'<?xml version="1.0"?>\n<!DOCTYPE event [{"".join(_LAUGHS)}]>\n'
                  '<event version="2.0" uid="lol" type="a-h-G" how="h-e" '
                  'time="2026-11-30T12:00:00Z"><point lat="48" lon="37"/>'
                  "<detail><remarks>&i;</remarks></detail></event>").encode()
EXTERNAL_ENTITY = (b'<?xml version="1.0"?>\n<!DOCTYPE event [<!ENTITY x SYSTEM '
                   b'"file:///etc/passwd">]>\n<event version="2.0" uid="xxe" type="a-h-G" '
                   b'how="h-e" time="2026-11-30T12:00:00Z"><point lat="48" lon="37"/>'
                   b"<detail><remarks>&x;</remarks></detail></event>")


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _log_warnings(caplog):
    caplog.set_level(logging.INFO, "truceguard.server")


def good(prefix: str, n: int) -> bytes:
    return b"".join(event(f"{prefix}{i}") for i in range(n))


def test_hostile_streams_close_only_their_own_connection(store, caplog):
    async def scenario() -> None:
        svc = await service(store)
        port = svc.server.ports["tcp"]
        # A well-behaved client stays connected throughout.
        steady_r, steady_w = await send_raw(port, good("before", 5), close=False)
        hostile = {
            "garbage": good("g", 2) + b"\x00\x01GET / HTTP/1.1\r\n" + good("never", 1),
            "oversize": b"<event " + b"x" * (70 << 10),
            "frame": bytes([MAGIC]) + encode_varint(1 << 30) + b"\x00" * 100,
            "varint": bytes([MAGIC]) + b"\xff" * 12,
        }
        conns = {name: await send_raw(port, data, close=False) for name, data in hostile.items()}
        for name, (reader, writer) in conns.items():
            assert await closed_by_server(reader), name
            writer.close()
        # Entity attacks are refused as events; the connection and the server go on.
        await send_raw(port, BILLION_LAUGHS + EXTERNAL_ENTITY + good("after-dtd", 2))
        # Half an event, then the client goes away.
        await send_raw(port, good("half", 1) + event("cut")[:150])
        steady_w.write(good("during", 5))
        await steady_w.drain()
        await until(lambda: svc.sink.stats.received >= 2 + 5 + 2 + 1 + 5)
        assert not await closed_by_server(steady_r, 0.2)
        steady_w.close()
        await svc.stop()
        assert svc.server.stats.rejected == 2
        assert svc.server.stats.closed_bad == 4

    asyncio.run(scenario())
    refs = sorted(r.source_ref.split("@")[0] for r in stored(store))
    assert refs == sorted(["g0", "g1", "half0", "after-dtd0", "after-dtd1"]
                          + [f"before{i}" for i in range(5)] + [f"during{i}" for i in range(5)])
    assert not any("root:" in r.raw or "aaaaaaaaaa" in r.text for r in stored(store))
    text = caplog.text
    assert "garbage: byte 0x00 where a CoT message starts" in text
    assert "an event over 65,536 bytes" in text
    assert "a message of 1,073,741,824 bytes, over the limit of 65,536" in text
    assert "a length prefix longer than 10 bytes" in text
    assert "entity declarations are refused" in text
    assert "closed by the client mid-event (150 bytes dropped)" in text


def test_idle_connections_are_closed_and_do_not_block_others(store, caplog):
    async def scenario() -> None:
        svc = await service(store, config={"idle_timeout_s": 0.3})
        reader, writer = await send_raw(svc.server.ports["tcp"], b"", close=False)
        assert await closed_by_server(reader, 3)
        writer.close()
        await svc.stop()

    asyncio.run(scenario())
    assert "disconnected: idle for" in caplog.text


def test_a_thousand_idle_connections_while_others_are_served(store):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2400:
        pytest.skip(f"needs 2,400 open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2400), hard))

    async def scenario() -> None:
        # All from one address: past the default cap per address (test_server_cot_peers).
        svc = await service(store, config={"max_connections_per_peer": 1001})
        port = svc.server.ports["tcp"]
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(1000)]
        await until(lambda: svc.server.stats.open == 1000)
        await send_raw(port, good("busy", 300))
        await until(lambda: svc.sink.stats.received >= 300, 10)
        assert svc.server.stats.open >= 1000
        for _, w in idle:
            w.close()
        await svc.stop()

    try:
        asyncio.run(scenario())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(stored(store)) == 300


async def attack_rounds(port: int, first: int, last: int) -> None:
    """Rounds ``first..last`` of attackers (endless events, oversize frames, half events)
    beside good senders (400 events each, 2,000 a round)."""
    endless = b"<event " + b"a" * (8 << 20)  # 8 MiB without </event>
    for k in range(first, last + 1):
        jobs = [send_raw(port, endless, close=False) for _ in range(3)]
        jobs += [send_raw(port, good(f"r{k}-{j}-", 400) + event("cut")[:100])
                 for j in range(5)]
        jobs += [send_raw(port, bytes([MAGIC]) + encode_varint(60_000) + b"\x01" * 30_000)
                 for _ in range(5)]
        for got in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(got, tuple):
                got[1].close()


@pytest.mark.slow
def test_soak_memory_stays_under_a_ceiling(store):
    """After a warm-up round, five rounds of attackers (sent from another process, so that
    only the server's memory is measured) grow this process's resident memory by less than
    a ceiling, though far more hostile bytes than that went by."""
    process = psutil.Process()

    async def rounds(port: int, first: int, last: int) -> None:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.test_server_cot_hostile", str(port), str(first),
            str(last), cwd=REPO, stderr=subprocess.PIPE)
        _, err = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, err.decode()[-2000:]

    async def scenario() -> None:
        svc = await service(store, config={"idle_timeout_s": 0.5})
        port = svc.server.ports["tcp"]
        await rounds(port, 0, 0)
        await until(lambda: svc.sink.stats.received >= 2000)
        baseline = process.memory_info().rss
        await rounds(port, 1, 5)
        await until(lambda: svc.sink.stats.received >= 12_000, 30)
        await until(lambda: svc.server.stats.open == 0, 10)
        growth = process.memory_info().rss - baseline
        await svc.stop()
        # 5 rounds x 3 x 8 MiB of endless events alone went by.
        assert growth < 32 << 20, f"resident memory grew by {growth / 2**20:.1f} MiB"

    asyncio.run(scenario())
    assert len(stored(store)) == 12_000


if __name__ == "__main__":
    asyncio.run(attack_rounds(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
