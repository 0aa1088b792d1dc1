"""Live judging under a flood: how far behind does it fall, and does it catch up?

A writer thread commits ``--rate`` observations a second (in ten batches a second, as the CoT
sink's group commits would) for ``--seconds``, and pokes the live judge after each commit, as
the server does. The observations are ``--tracks`` moving tracks (each report a few hundred
metres on from its track's last, so each track chains into one long incident, the worst case
for incremental fusion) plus one ceasefire breach a second somewhere quiet. ``LiveJudge``
(``truceguard.server.live``) runs in this process's event loop with its own judging thread,
against minsk-2015, exactly as in ``truceguard serve``; every 250 ms its ``health()`` is read.

Printed: the ingest rate achieved; the judge's lag (age of the oldest commit not yet judged)
over the flood: p50, p99, max and at the flood's end; the backlog at its largest; the steps
(count, mean and max seconds, reports per step); and how long after the flood's end the lag
returned to 0 (catch-up). The peer: none runs here; the figure to beat is the one the issue
measured before bounded steps (10 minutes behind after a 5,000 events/s flood).

    python benchmarks/bench_live_lag.py [--rate 5000] [--seconds 30] [--tracks 100]
                                        [--pg-url postgresql://...]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def observations(rate: int, seconds: int, tracks: int) -> list[list[Any]]:
    """One list of observations per tenth of a second, built before the clock starts."""
    from truceguard.model import Observation, sha256_text

    batches: list[list[Any]] = []
    per_batch = rate // 10
    t0 = 1_600_000_000
    n = 0
    for b in range(seconds * 10):
        batch = []
        for k in range(per_batch):
            track = n % tracks
            step = n // tracks
            lat = 47.6 + (track % 10) * 0.12 + step * 0.002
            lon = 36.9 + (track // 10) * 0.12
            t = t0 + b // 10 * 1 + k % 10
            ref = f"track-{track}-{step}"
            batch.append(Observation(source="tracks", how_known="sensor", t_start=t, t_end=t,
                                     time_precision_s=1, lat=lat, lon=lon, uncertainty_m=50.0,
                                     category="track", weapon_class="unknown",
                                     source_ref=ref, raw=ref, raw_sha256=sha256_text(ref)))
            n += 1
        if b % 10 == 0:  # one breach a second, in a quiet place
            ref = f"breach-{b}"
            t = t0 + b // 10
            batch.append(Observation(source="monitors", how_known="heard", t_start=t,
                                     t_end=t, time_precision_s=60, lat=48.3 + (b % 50) * 0.01,
                                     lon=38.05, uncertainty_m=200.0, category="shelling",
                                     weapon_class="small_arms", source_ref=ref, raw=ref,
                                     raw_sha256=sha256_text(ref)))
        batches.append(batch)
    return batches


def run(args: argparse.Namespace) -> dict[str, Any]:
    from truceguard.ingest import ingest_records
    from truceguard.judge.terms import load_terms
    from truceguard.model import Observation, sha256_text
    from truceguard.pipeline import fuse_store
    from truceguard.server.live import LiveJudge, warm_up
    from truceguard.store import open_store

    location = args.pg_url or str(Path(tempfile.mkdtemp()) / "lag.db")
    store = open_store(location)
    seed = Observation(source="seed", how_known="seen", t_start=1_600_000_000,
                       t_end=1_600_000_000, time_precision_s=1, lat=47.0, lon=37.0,
                       uncertainty_m=100.0, category="track", source_ref="seed", raw="seed",
                       raw_sha256=sha256_text("seed"))
    ingest_records(store, [seed], source="seed")
    fuse_store(store)  # what follows is incremental, as on a server that has run a while
    terms = [load_terms("minsk-2015")]
    warm_up(terms)
    batches = observations(args.rate, args.seconds, args.tracks)
    judge = LiveJudge(store, terms)
    samples: list[tuple[float, float, int]] = []
    steps: list[tuple[float, int]] = []
    committed = [0]
    flood_end = [0.0]

    def writer() -> None:
        start = time.monotonic()
        for i, batch in enumerate(batches):
            due = start + i / 10
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            ingest_records(store, batch, source="flood")
            committed[0] += len(batch)
            judge.poke(len(batch))
        flood_end[0] = time.monotonic()

    async def main() -> dict[str, Any]:
        await judge.start()
        seen_steps = 0
        thread = threading.Thread(target=writer)
        started = time.monotonic()
        thread.start()
        caught_up = None
        deadline = started + args.seconds + args.timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            h = judge.health()
            now = time.monotonic()
            samples.append((now - started, float(h.lag_s or 0.0), int(h.extra["backlog"])))
            if judge.steps > seen_steps and judge.last is not None:
                steps.append((judge.last.seconds, judge.last.new_observations))
                seen_steps = judge.steps
            if flood_end[0] and judge.lag_s() == 0.0 and not judge.backlog:
                caught_up = now - flood_end[0]
                break
        await judge.stop()
        thread.join()
        elapsed = (flood_end[0] or time.monotonic()) - started
        during = [lag for t, lag, _ in samples if t <= elapsed]
        at_end = [lag for t, lag, _ in samples if t <= elapsed][-1:] or [0.0]
        sec = np.array([s for s, _ in steps] or [0.0])
        per = np.array([n for _, n in steps] or [0])
        return {
            "backend": store.backend if hasattr(store, "backend") else "?",
            "offered_rate": args.rate, "seconds": args.seconds, "tracks": args.tracks,
            "committed": committed[0], "ingest_rate": round(committed[0] / elapsed),
            "lag_p50_s": round(float(np.percentile(during, 50)), 2) if during else None,
            "lag_p99_s": round(float(np.percentile(during, 99)), 2) if during else None,
            "lag_max_s": round(max(during), 2) if during else None,
            "lag_at_flood_end_s": round(at_end[0], 2),
            "backlog_max": max((b for _, _, b in samples), default=0),
            "steps": judge.steps, "step_mean_s": round(float(sec.mean()), 3),
            "step_max_s": round(float(sec.max()), 3),
            "reports_per_step_mean": round(float(per.mean())),
            "catch_up_s": round(caught_up, 2) if caught_up is not None else None,
        }

    try:
        return asyncio.run(main())
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=5000, help="observations a second")
    ap.add_argument("--seconds", type=int, default=30, help="how long the flood lasts")
    ap.add_argument("--tracks", type=int, default=100)
    ap.add_argument("--pg-url", default="", help="a PostgreSQL database (default: SQLite)")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds after the flood to wait for the judge to catch up")
    args = ap.parse_args()
    out = run(args)
    for key, value in out.items():
        print(f"{key:>24}: {value}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
