"""What the CoT listener tests share: a real TAK client (pytak, ``cot_client.py``) in
processes of their own, the listener started in the test's event loop on a real store, CoT
events to send, and waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from truceguard.marking import Viewer
from truceguard.model import User
from truceguard.server.cot import CotConfig, CotService, start_cot
from truceguard.store import SQLiteStore
from truceguard.store.base import ObservationFilter

CLIENT = Path(__file__).resolve().with_name("cot_client.py")  # one pytak client process
OBSERVER = User(1, "field-1", "GBR", "observer", "REL TO GBR, FRA")
EVERYONE = Viewer.owner()


async def run_clients(specs: list[dict[str, Any]], timeout_s: float = 60.0) -> None:
    """Run one pytak client process per spec, in parallel; each must exit 0."""
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, str(CLIENT), json.dumps(spec), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE) for spec in specs]
    for p in procs:
        out, err = await asyncio.wait_for(p.communicate(), timeout_s)
        assert p.returncode == 0, err.decode()[-2000:]


# -- helpers shared by the CoT tests -------------------------------------------------------------
async def until(cond: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def service(store: SQLiteStore, **options: Any) -> CotService:
    cfg = CotConfig(**{"tcp_port": 0, "udp_port": 0, **options.pop("config", {})})
    return await start_cot(store, cfg, plain_user=options.pop("plain_user", OBSERVER), **options)


def stored(store: SQLiteStore, viewer: Viewer = EVERYONE) -> list[Any]:
    return list(store.observations(ObservationFilter(), viewer))


def event(uid: str, *, cot_type: str = "a-h-G", time_s: str = "2026-11-30T12:00:00.000Z",
          access: str | None = None, detail: str = "", lat: float = 48.1) -> bytes:
    acc = f' access="{access}"' if access else ""
    return (f'<?xml version="1.0"?>\n<event version="2.0" uid="{uid}" type="{cot_type}" '
            f'how="h-e" time="{time_s}" start="{time_s}" stale="2026-12-01T12:00:00Z"{acc}>'
            f'<point lat="{lat}" lon="37.8" hae="9999999.0" ce="30" le="9999999.0"/>'
            f"<detail>{detail}</detail></event>").encode()


async def send_raw(port: int, data: bytes, *, close: bool = True) -> tuple[Any, Any]:
    """Connect, send ``data`` (the server may cut it short), and close unless told not to."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:
        close = True
    if close:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return reader, writer


async def connect_from(port: int, source: str, data: bytes = b"") -> tuple[Any, Any]:
    """Connect to the listener from the loopback address ``source`` (e.g. ``127.0.0.7``, so
    that tests can play several hosts), send ``data`` and keep the connection open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    if data:
        writer.write(data)
        await writer.drain()
    return reader, writer


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes in turn (cycled; 0 counts as 1)."""
    pieces, at, k = [], 0, 0
    while at < len(data):
        size = max(1, sizes[k % len(sizes)]) if sizes else len(data)
        pieces.append(data[at:at + size])
        at += size
        k += 1
    return pieces


async def closed_by_server(reader: asyncio.StreamReader, timeout_s: float = 5.0) -> bool:
    """Whether the server ends the connection (a clean close or a reset) within the time."""
    try:
        return await asyncio.wait_for(reader.read(), timeout_s) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
