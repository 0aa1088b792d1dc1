"""`truceguard serve` as services under one supervisor: a real server process, real CoT
senders (TCP sockets) and HTTP clients.

- SIGTERM drains: every CoT event a sender wrote before the server told it it was going (the
  end of the stream) is committed, a request under way gets its answer and its data is kept,
  the process exits 0 and the log says each service stopped.
- Disabling a user through the API ends their live CoT connection on the event loop's own
  thread (asyncio debug mode raises on a transport touched from another one).
- ``/healthz`` shows each service with its counters.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest

from tests.cot_fixtures import event
from tests.helpers import wait_for
from tests.server_fixtures import Server, free_port, serving
from truceguard.marking import Viewer
from truceguard.store import ObservationFilter, open_store

SERVICES = ["cot-out", "alerts", "live", "cot-ingest", "cot-tcp", "users", "auth-audit",
            "plans", "http"]


def _count(db: str) -> int:
    with open_store(db) as store:
        return store.count_observations(ObservationFilter(), Viewer.owner())


def _log(srv: Server) -> str:
    return srv.log.read_text()


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server ends the connection (a clean close or a reset)."""
    sock.settimeout(20)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def _send_until_told(port: int, prefix: str, n: int, told: dict[str, bool]) -> None:
    """Send ``n`` CoT events, then read until the server ends the stream (it is going)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"".join(event(f"{prefix}-{k}") for k in range(n)))
        sock.settimeout(60)
        while sock.recv(4096):
            pass
        told[prefix] = True


def test_sigterm_drains_cot_and_http_and_each_service_says_it_stopped(tmp_path: Path) -> None:
    cot_port = free_port()
    with serving(tmp_path, "--cot-tcp", str(cot_port), "--cot-tcp-as", "deu") as srv:
        told: dict[str, bool] = {}
        senders = [threading.Thread(target=_send_until_told, args=(cot_port, f"s{i}", 1500,
                                                                   told)) for i in range(3)]
        for t in senders:
            t.start()
        # an HTTP request under way when the signal comes: its body is half sent
        feature = {"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [37.6, 47.9]},
            "properties": {"time": "2020-03-01T08:00:00Z", "category": "shelling",
                           "id": "in-flight-1"}}]}
        body = json.dumps(feature).encode()
        port = int(srv.url.rsplit(":", 1)[1])
        http = socket.create_connection(("127.0.0.1", port), timeout=60)
        http.sendall(b"POST /api/v1/observations HTTP/1.1\r\nHost: test\r\n"
                     b"Authorization: Bearer " + srv.tokens["deu"].encode() + b"\r\n"
                     b"Content-Type: application/geo+json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:20])
        wait_for(lambda: "connected as deu" in _log(srv), what=lambda: _log(srv))
        srv.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "stop: http draining" in _log(srv), what=lambda: _log(srv))
        http.sendall(body[20:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            got = http.recv(65536)
            if not got:
                break
            answer += got
        http.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["imported"] == 1
        for t in senders:
            t.join(60)
        assert srv.process.wait(60) == 0
    log = _log(srv)
    assert told == {"s0": True, "s1": True, "s2": True}, log
    assert _count(srv.db) == 3 * 1500 + 1, log
    for name in SERVICES:
        assert f"stop: {name} stopped" in log, (name, log)
    assert log.index("stop: http stopped") < log.index("stop: cot-tcp stopped") < log.index(
        "stop: cot-ingest stopped") < log.index("stop: live stopped")
    assert "Traceback" not in log and "the server has stopped" in log


def test_disabling_a_user_through_the_api_ends_their_cot_connection_on_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONASYNCIODEBUG", "1")  # asyncio raises on a cross-thread call
    cot_port = free_port()
    with serving(tmp_path, "--cot-tcp", str(cot_port), "--cot-tcp-as", "deu") as srv:
        with socket.create_connection(("127.0.0.1", cot_port), timeout=30) as sock:
            sock.sendall(event("deu-live-1"))
            wait_for(lambda: _count(srv.db) == 1, what=lambda: _log(srv))
            with srv.client("admin") as c:
                r = c.post("/api/v1/users/deu/disable")
                assert r.status_code == 200, r.text
            assert _closed_by_server(sock)
        wait_for(lambda: "user deu disabled: 1 CoT connection(s) closed" in _log(srv),
                 what=lambda: _log(srv))
        # and a new plain connection is refused: the plain ports' user is gone
        with socket.create_connection(("127.0.0.1", cot_port), timeout=30) as sock:
            assert _closed_by_server(sock)
    log = _log(srv)
    assert "Non-thread-safe operation" not in log, log
    assert "Traceback" not in log, log
    assert "refused: no user for plain CoT" in log


def test_healthz_reports_each_service_with_its_counters(tmp_path: Path) -> None:
    cot_port = free_port()
    with serving(tmp_path, "--cot-tcp", str(cot_port), "--cot-tcp-as", "deu") as srv:
        with socket.create_connection(("127.0.0.1", cot_port), timeout=30) as sock:
            sock.sendall(b"".join(event(f"h-{k}") for k in range(20)))

            def tcp() -> dict[str, object] | None:
                got = httpx.get(srv.url + "/healthz", timeout=10).json()["services"]
                by_name = {s["name"]: s for s in got}
                cot = by_name["cot-tcp"]
                return by_name if cot["extra"]["acknowledged"] == 20 else None

            services = wait_for(tcp, what=lambda: _log(srv))
        assert list(services) == SERVICES
        assert all(s["state"] == "running" for s in services.values()), services
        cot = services["cot-tcp"]["extra"]
        assert (cot["connections"], cot["open"], cot["messages_read"]) == (1, 1, 20)
        assert services["cot-ingest"]["extra"]["committed"] == 20
        assert services["http"]["extra"]["requests"] >= 1
        assert services["cot-out"]["extra"] == {"targets": {}, "failed": 0}
        assert "waiting" in services["auth-audit"]["extra"]
        assert httpx.get(srv.url + "/readyz", timeout=10).status_code == 200

