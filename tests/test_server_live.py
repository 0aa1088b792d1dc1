"""The whole server live: a CoT event on the TCP port is stored, judged within the live loop,
alerted to a TAK endpoint as a CoT marker, and a user disabled by the CLI loses their live
connection."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.server_fixtures import free_port, make_users, start
from truceguard.cli import main
from truceguard.store import Store

EVENT = ('<?xml version="1.0"?><event version="2.0" uid="obs-{n}" type="b-m-p-s-m" '
         'time="2020-03-0{n}T10:00:00Z" start="2020-03-0{n}T10:00:00Z" '
         'stale="2020-03-0{n}T11:00:00Z" how="h-e"><point lat="48.30" lon="38.05" hae="0" '
         'ce="200" le="10"/><detail><truceguard category="shelling" weapon_class="small_arms"/>'
         '<remarks>shots heard</remarks></detail></event>')


class TakEndpoint:
    """A TAK endpoint on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen()
        self.got = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(30)
            try:
                while data := conn.recv(65536):
                    self.got += data
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


def test_a_cot_event_is_judged_and_alerted_as_a_cot_marker(
        tmp_path: Path, location: Callable[[], str]) -> None:
    """On each backend: SQLite and a real PostgreSQL."""
    db = location()
    tokens = make_users(db)
    tak = TakEndpoint()
    r = CliRunner().invoke(main, ["alerts", "add", "--cot", f"tcp://127.0.0.1:{tak.port}",
                                  "--as", "fra", "--name", "tak", "--allow-private", "--db", db])
    assert r.exit_code == 0, r.output
    cot_port = free_port()
    srv = start(db, tmp_path / "log.txt", "--terms", "minsk-2015", "--cot-tcp",
                str(cot_port), "--cot-tcp-as", "ukr")
    srv.tokens = tokens
    try:
        with socket.create_connection(("127.0.0.1", cot_port)) as s:
            s.sendall(EVENT.format(n=1).encode())
            deadline = time.monotonic() + 20
            while b"</event>" not in tak.got and time.monotonic() < deadline:
                time.sleep(0.05)
        marker = tak.got.decode()
        assert 'type="b-m-p-s-m"' in marker and 'access="PUBLIC"' in marker, marker
        assert "minsk-2015/live_fire/ceasefire" in marker and 'ce="200.0"' in marker
        with srv.client("fra") as c:
            items = c.get("/api/v1/violations").json()["items"]
        assert len(items) == 1 and items[0]["uncertainty_m"] == 200.0
        # Disabling the plain ports' user (from another process) ends its live connection.
        s2 = socket.create_connection(("127.0.0.1", cot_port))
        s2.settimeout(10)
        r = CliRunner().invoke(main, ["users", "disable", "ukr", "--db", db])
        assert r.exit_code == 0
        assert s2.recv(1) == b""  # closed by the server
        s2.close()
        log = (tmp_path / "log.txt").read_text()
        assert "user ukr disabled" in log
    finally:
        srv.process.terminate()
        srv.process.wait(20)
        tak.close()


def test_a_quiet_breach_is_judged_before_a_busy_area(tmp_path: Path) -> None:
    """Light work first: the report of a sparse cell is fused, judged and owed its alert while
    the reports of a busy cell still wait; busy cells give a bounded share a step."""
    from truceguard.ingest import ingest_records
    from truceguard.judge.terms import load_terms
    from truceguard.marking import Viewer
    from truceguard.model import Observation, sha256_text
    from truceguard.pipeline import fuse_store
    from truceguard.server import live
    from truceguard.store import ObservationFilter, open_store
    from truceguard.users import add_user

    def obs(ref: str, lat: float, lon: float, t: int, category: str) -> Observation:
        return Observation(source="feed", how_known="seen", t_start=t, t_end=t,
                           time_precision_s=1, lat=lat, lon=lon, uncertainty_m=100.0,
                           category=category, weapon_class="small_arms", source_ref=ref,
                           raw=ref, raw_sha256=sha256_text(ref))

    with open_store(tmp_path / "q.db") as store:
        ingest_records(store, [obs("seed", 47.1, 37.05, 1_580_000_000, "track")], source="x")
        fuse_store(store)  # the first fusion is a full one; what follows is incremental
        busy = [obs(f"t{i}", 47.0 + i * 1e-4, 37.0, 1_580_000_000 + i, "track")
                for i in range(3 * live.HEAVY_PER_STEP // 100)]
        breach = obs("breach", 48.3, 38.05, 1_580_000_500, "shelling")
        ingest_records(store, [*busy, breach], source="x")
        duty, _ = add_user(store, "duty", "UKR", "analyst")
        store.add_alert_target("duty", "webhook", "http://127.0.0.1:9/", "s", 1, "", duty.user_id,
                               allow_private=True)
        unfused_when_owed: list[int] = []

        def owed(_n: int) -> None:
            unfused_when_owed.append(len(store.fusion_arrays(unfused=True)["obs_id"]))

        old = live.HEAVY_PER_STEP
        live.HEAVY_PER_STEP = 100
        try:
            r = live.judge_step(store, [load_terms("minsk-2015")], owed)
        finally:
            live.HEAVY_PER_STEP = old
        assert r.owed >= 1 and unfused_when_owed[0] == len(busy)  # the breach went first
        assert r.backlog == len(busy) - 100
        b = next(store.observations(ObservationFilter(sources=("feed",), bbox=(38, 48, 39, 49)),
                                    Viewer.owner()))
        assert b.incident_id is not None


def test_the_live_loop_fuses_on_with_the_analysts_parameters(tmp_path: Path) -> None:
    """After `fuse --eps-m 2500` the live loop goes on incrementally with those parameters
    (no full re-fusion with the defaults) and counts every report once."""
    from truceguard.ingest import ingest_records
    from truceguard.judge.fusion import FusionParams
    from truceguard.judge.terms import load_terms
    from truceguard.marking import Viewer
    from truceguard.model import Observation, sha256_text
    from truceguard.pipeline import fuse_store
    from truceguard.server.live import judge_step
    from truceguard.store import ObservationFilter, open_store

    def obs(ref: str, lat: float, t: int) -> Observation:
        return Observation(source="feed", how_known="seen", t_start=t, t_end=t,
                           time_precision_s=1, lat=lat, lon=38.05, uncertainty_m=100.0,
                           category="shelling", source_ref=ref, raw=ref,
                           raw_sha256=sha256_text(ref))

    with open_store(tmp_path / "p.db") as store:
        ingest_records(store, [obs(f"a{i}", 48.3 + i * 0.01, 1_580_000_000) for i in range(4)],
                       source="x")
        fuse_store(store, FusionParams(eps_m=2500.0))
        ingest_records(store, [obs(f"b{i}", 48.3 + i * 0.01, 1_580_000_060) for i in range(4)],
                       source="x")
        r = judge_step(store, [load_terms("minsk-2015")])
        assert r.new_observations == 4
        assert store.last_fusion_params() is not None and '"eps_m": 2500.0' in (
            store.last_fusion_params() or "")
        incidents = store.incidents(ObservationFilter(), Viewer.owner())
        assert sum(i.n_observations for i in incidents) == 8


def _sparse_flood(store: Store, n_cells: int, per_cell: int) -> int:
    """Seed a fused store, then commit ``per_cell`` reports in each of ``n_cells`` quiet
    half-degree cells (a flood spread thin); returns how many reports wait."""
    from truceguard.ingest import ingest_records
    from truceguard.model import Observation, sha256_text
    from truceguard.pipeline import fuse_store

    def obs(ref: str, lat: float, lon: float, t: int) -> Observation:
        return Observation(source="feed", how_known="seen", t_start=t, t_end=t,
                           time_precision_s=1, lat=lat, lon=lon, uncertainty_m=100.0,
                           category="track", weapon_class="small_arms", source_ref=ref,
                           raw=ref, raw_sha256=sha256_text(ref))

    ingest_records(store, [obs("seed", 47.1, 37.05, 1_580_000_000)], source="x")
    fuse_store(store)
    flood = [obs(f"f{c}-{i}", 44.0 + (c // 20) * 0.5, 30.0 + (c % 20) * 0.5,
                 1_580_000_000 + i) for c in range(n_cells) for i in range(per_cell)]
    ingest_records(store, flood, source="x")
    return len(flood)


def test_a_thin_flood_is_taken_in_bounded_steps(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports spread over many quiet cells (each cell light) no longer make one step take
    them all: a step takes whole cells, the oldest first, up to LIGHT_PER_STEP, and says how
    many wait."""
    from truceguard.judge.terms import load_terms
    from truceguard.server import live
    from truceguard.store import open_store

    monkeypatch.setattr(live, "LIGHT_PER_STEP", 30)
    with open_store(tmp_path / "f.db") as store:
        waiting = _sparse_flood(store, n_cells=12, per_cell=10)
        terms = [load_terms("minsk-2015")]
        r = live.judge_step(store, terms)
        assert r.new_observations == 30 and r.backlog == waiting - 30
        steps = 1
        while r.backlog:
            r = live.judge_step(store, terms)
            assert r.new_observations <= 30
            steps += 1
        assert steps == 4 and not store.fusion_arrays(unfused=True)["obs_id"].size


def test_the_live_service_shows_its_lag_and_backlog_and_drains(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service shape: health shows the age of the oldest unjudged commit and the backlog
    while a flood is judged in bounded steps, both back to nothing once it is judged; stop
    lets the step under way finish."""
    import asyncio

    from tests.helpers import wait_for
    from truceguard.judge.terms import load_terms
    from truceguard.server import live
    from truceguard.store import open_store

    monkeypatch.setattr(live, "LIGHT_PER_STEP", 20)
    with open_store(tmp_path / "l.db") as store:
        _sparse_flood(store, n_cells=10, per_cell=10)
        judge = live.LiveJudge(store, [load_terms("minsk-2015")], batch_s=0.01)
        seen: list[tuple[float | None, int]] = []  # health after each step
        one_step = judge._step

        async def step_and_look() -> bool:
            left = await one_step()
            h = judge.health()
            seen.append((h.lag_s, int(h.extra["backlog"])))
            return left

        judge._step = step_and_look  # type: ignore[method-assign]

        async def main() -> None:
            judge.poke()
            assert judge.health().lag_s is not None and judge.health().state == "starting"
            await judge.start()
            await asyncio.to_thread(wait_for, lambda: judge.steps > 0 and not judge.backlog
                                    and judge.lag_s() == 0.0)
            await judge.stop()

        asyncio.run(asyncio.wait_for(main(), 60))
        h = judge.health()
        assert h.state == "stopped" and h.lag_s == 0.0 and h.extra["backlog"] == 0
        assert judge.steps == 5 and not store.fusion_arrays(unfused=True)["obs_id"].size
        assert [b for _, b in seen] == [80, 60, 40, 20, 0]  # 20 a step
        assert all(lag is not None and lag > 0 for lag, b in seen if b)  # behind while waiting
