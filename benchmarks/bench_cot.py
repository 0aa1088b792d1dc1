"""Live CoT load: 100 pytak clients (in several processes) send 200,000 events to the listener.

Phase "load": the truceguard CoT listener (TCP, SQLite store, group-commit sink) runs in this
process; ``--procs`` client processes each run ``--clients / --procs`` pytak clients (pytak's
own TCP transport and TX worker), each sending its share of ``--events`` at an even pace so
that together they offer ``--rate`` events/s (0: as fast as they can). Every event carries
its send time (wall clock, in its remarks); the sink's ``on_batch`` hook notes the commit time
of each. Printed: every event stored exactly once (a count of distinct identities in the
store), the durable rate (events committed / seconds from the first send to the last
commit), and the p50/p99/max latency from send to commit. The events are built with
``pytak.cot_event`` before the clock starts; sending stamps each with its send time.

The peer: FreeTAKServer, if ``--fts`` names a Python with it installed (see
benchmarks/README.md for why it is not run here). Further phases (alert latency) add a
function beside ``load`` and a key in the JSON.

Loopback only; bounded in count and time (``--timeout``). The last line is one JSON object.

    python benchmarks/bench_cot.py [--events 200000] [--clients 100] [--procs 4] [--rate 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAMP = "%017.6f"  # the send time, fixed width, in the remarks of every event


# -- the client processes ------------------------------------------------------------------
def client_process(port: int, first: int, clients: int, per_client: int, rate: float) -> None:
    """``clients`` pytak clients in one process; prints 'ready', waits for 'go T' on stdin."""
    import configparser
    import warnings
    from xml.etree import ElementTree as ET

    warnings.simplefilter("ignore")  # pytak warns that an optional aiohttp is missing
    import pytak

    cfg = configparser.ConfigParser()
    cfg["c"] = {"COT_URL": f"tcp://127.0.0.1:{port}", "PYTAK_NO_HELLO": "1"}
    section = cfg["c"]
    placeholder = b"0" * len(STAMP % 0.0)

    def events(c: int) -> list[tuple[bytes, bytes]]:
        out = []
        for i in range(per_client):
            detail = ET.Element("detail")
            ET.SubElement(detail, "remarks").text = placeholder.decode()
            ev = pytak.cot_event(lat=47.0 + (i % 1000) * 1e-3, lon=37.0 + c * 1e-3, ce=50.0,
                                 uid=f"bench-{c}-{i}", cot_type="a-h-G", how="h-e",
                                 detail=detail)
            head, _, tail = (pytak.DEFAULT_XML_DECLARATION + b"\n"
                             + ET.tostring(ev)).partition(placeholder)
            out.append((head, tail))
        return out

    async def run() -> None:
        prepared = {c: events(c) for c in range(first, first + clients)}
        conns = {}
        readers = []
        for c in prepared:
            reader, writer = await pytak.protocol_factory(section)
            conns[c] = pytak.TXWorker(asyncio.Queue(), section, writer), writer
            # A TAK server may relay events back: read and drop them, as pytak's +wo mode does.
            readers.append(asyncio.create_task(pytak.DiscardRXWorker(
                asyncio.Queue(), section, reader).run()))
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start = float(line.split()[1])
        per_s = rate / max(1, clients * int(os.environ.get("BENCH_PROCS", "1")))

        async def one(c: int) -> None:
            # Paced in ticks of 10 ms: each tick sends the events due by then, one by one.
            tx, _ = conns[c]
            todo = prepared[c]
            i = 0
            while i < len(todo):
                due = len(todo) if not per_s else min(
                    len(todo), int((time.time() - start) * per_s) + 1)
                while i < due:
                    head, tail = todo[i]
                    await tx.send_data(head + (STAMP % time.time()).encode() + tail)
                    i += 1
                if i < len(todo):
                    await asyncio.sleep(0.01)

        await asyncio.sleep(max(0.0, start - time.time()))
        await asyncio.gather(*(one(c) for c in conns))
        for _, writer in conns.values():
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        for task in readers:
            task.cancel()

    asyncio.run(run())


# -- phase: load ---------------------------------------------------------------------------
def load(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from truceguard.marking import Viewer
    from truceguard.model import User
    from truceguard.server.cot import CotConfig, start_cot
    from truceguard.store import SQLiteStore
    from truceguard.store.base import ObservationFilter

    per_client = args.events // args.clients
    total = per_client * args.clients
    work = Path(tempfile.mkdtemp(prefix="bench-cot-"))
    store = SQLiteStore(work / "cot.db")
    sent_at: list[np.ndarray] = []
    committed_at: list[np.ndarray] = []

    def on_batch(batch: list[Any]) -> None:
        now = time.time()
        sent_at.append(np.fromiter((float(o.text) for o in batch), float, len(batch)))
        committed_at.append(np.full(len(batch), now))

    async def scenario() -> dict[str, Any]:
        user = User(1, "bench", "GBR", "observer", "REL TO GBR")
        svc = await start_cot(store, CotConfig(tcp_port=0), plain_user=user, on_batch=on_batch)
        port = svc.server.ports["tcp"]
        share = args.clients // args.procs
        env = {**os.environ, "BENCH_PROCS": str(args.procs)}
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", str(port), str(p * share), str(share),
            str(per_client), str(args.rate), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=env) for p in range(args.procs)]
        for p in procs:
            assert p.stdout is not None
            ready = await asyncio.wait_for(p.stdout.readline(), args.timeout)
            assert ready.strip() == b"ready", ready
        start = time.time() + 0.5
        cpu0 = time.process_time()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write(f"go {start}\n".encode())
            await p.stdin.drain()
        deadline = time.monotonic() + args.timeout
        while svc.sink.stats.received < total and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for p in procs:
            await asyncio.wait_for(p.wait(), max(1.0, deadline - time.monotonic()))
        stats = svc.sink.stats
        await svc.stop()
        cpu = time.process_time() - cpu0
        return {"batches": stats.batches, "largest_batch": stats.largest_batch,
                "rejected": svc.server.stats.rejected,
                "server_cpu_us_per_event": round(cpu / max(1, stats.received) * 1e6, 1)}

    info = asyncio.run(scenario())
    sent = np.concatenate(sent_at) if sent_at else np.zeros(0)
    done = np.concatenate(committed_at) if committed_at else np.zeros(0)
    latency_ms = (done - sent) * 1000.0
    stored = store.count_observations(ObservationFilter(), Viewer.owner())
    distinct = store.execute("SELECT COUNT(DISTINCT source_ref) FROM observations").fetchone()[0]
    store.close()
    span = float(done.max() - sent.min()) if len(sent) else float("nan")
    return {
        "events": total, "clients": args.clients, "procs": args.procs,
        "offered_rate": args.rate, "stored": stored, "distinct": int(distinct),
        "exactly_once": stored == total == distinct,
        "durable_rate": round(len(sent) / span, 1) if len(sent) else 0.0,
        "p50_ms": round(float(np.percentile(latency_ms, 50)), 2),
        "p99_ms": round(float(np.percentile(latency_ms, 99)), 2),
        "max_ms": round(float(latency_ms.max()), 2),
        **info,
    }


def print_load(ours: dict[str, Any]) -> None:
    print(f"truceguard: {ours['stored']:,} of {ours['events']:,} events stored "
          f"({'exactly once' if ours['exactly_once'] else 'NOT exactly once'}); durable rate "
          f"{ours['durable_rate']:,.0f} events/s; send-to-commit p50 {ours['p50_ms']} ms, "
          f"p99 {ours['p99_ms']} ms, max {ours['max_ms']} ms; {ours['batches']:,} commits "
          f"(largest {ours['largest_batch']:,}); server CPU {ours['server_cpu_us_per_event']} "
          f"us per event (all threads); machine load average {ours['load_average']}")


# The phases, run in the order given by --phases; each returns its figures for the JSON line
# and has a printer for its summary line.
PHASES: dict[str, tuple[Callable[[argparse.Namespace], dict[str, Any]],
                        Callable[[dict[str, Any]], None]]] = {"load": (load, print_load)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        port, first, clients, per_client = (int(x) for x in sys.argv[2:6])
        client_process(port, first, clients, per_client, float(sys.argv[6]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--rate", type=float, default=20_000.0,
                    help="events/s offered by all clients together (0: unpaced)")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--phases", default="load", help=f"of {', '.join(PHASES)}")
    args = ap.parse_args()
    result: dict[str, Any] = {"bench": "cot"}
    for name in args.phases.split(","):
        run, show = PHASES[name]
        figures = run(args)
        figures["load_average"] = round(os.getloadavg()[0], 2)
        show(figures)
        result[name] = figures
    load_figures = result.get("load")
    result["peer"] = None
    result["peer_note"] = "FreeTAKServer not run: see benchmarks/README.md"
    result["target"] = {"durable_rate": 20_000, "p99_ms": 100}
    if load_figures is not None:
        result["met"] = (load_figures["exactly_once"] and load_figures["durable_rate"] >= 20_000
                         and load_figures["p99_ms"] < 100)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
