"""A real truceguard server for the tests: `truceguard serve` in its own process, on a free
port, with users of several nations and roles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import wait_for
from truceguard.server.ids import IdCodec, Kind, derive_key
from truceguard.store import open_store
from truceguard.users import add_user

# One TLS context for every client of the tests' servers (plain http on loopback, so it is
# never used): without one, httpx builds a new context, loading the CA bundle, for each client
# (about 20 ms of CPU), dozens of times a second while a test waits for a server to come up.
TLS = httpx.create_ssl_context()


# Test ports come from below the kernel's ephemeral range (32768 up by default), so that no
# port the kernel hands out (to a client's connection, to a bind to port 0) takes one meanwhile;
# each xdist worker has its own block, and a process starts at a place its id chooses.
_PORT_BASE, _PORT_BLOCK = 20_000, 750
_next_port: list[int] = []


def free_port() -> int:
    """A port free now, not handed out again by this process until its block of ports is
    used up, and never by another xdist worker of this run (each has its own block): the
    kernel may give a port again as soon as it is closed, and a test that asked it for two (a
    server's and its CoT listener's) once got the same one twice."""
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0) % 16
    first = _PORT_BASE + index * _PORT_BLOCK
    if not _next_port:
        _next_port.append(os.getpid() % _PORT_BLOCK)
    for _ in range(_PORT_BLOCK):
        port = first + _next_port[0] % _PORT_BLOCK
        _next_port[0] += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {first}..{first + _PORT_BLOCK - 1}")


@dataclass
class Server:
    url: str
    db: str
    process: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, verify=TLS)

    def api_id(self, kind: Kind, n: int) -> str:
        """The token the API shows for the store's record ``n`` of ``kind`` (what a test,
        holding the database, knows of records the API never showed it)."""
        return api_id(self.db, kind, n)


def api_id(db: str, kind: Kind, n: int) -> str:
    """The API's token for record ``n`` of ``kind`` in the database ``db``."""
    return codec(db).encode(kind, n)


_CODECS: dict[str, IdCodec] = {}


def codec(db: str) -> IdCodec:
    """The API's id codec of the database ``db`` (its key read once: a test that names
    thousands of records would otherwise open the store for each)."""
    found = _CODECS.get(db)
    if found is None:
        with open_store(db) as store:
            found = _CODECS[db] = IdCodec(derive_key(store.incident_key()))
    return found


USERS = [("admin", "GBR", "admin", None), ("gbr", "GBR", "analyst", None),
         ("fra", "FRA", "analyst", None), ("ukr", "UKR", "observer", "PUBLIC"),
         ("deu", "DEU", "observer", None)]


def make_users(db: str) -> dict[str, str]:
    tokens = {}
    with open_store(db) as store:
        for name, nation, role, marking in USERS:
            tokens[name] = add_user(store, name, nation, role, marking=marking, by="test")[1]
    return tokens


def start(db: str, log: Path, *args: str, port: int | None = None) -> Server:
    port = port or free_port()
    with open(log, "ab") as fh:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "truceguard", "serve", "--db", db, "--port", str(port),
             *args], stdout=fh, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            return httpx.get(url + "/healthz", timeout=1, verify=TLS).status_code == 200
        except httpx.HTTPError:
            return False

    try:  # a try costs well under a millisecond: ask often
        wait_for(answers, timeout=30, interval=0.02,
                 what=lambda: f"the server to start: {log.read_text()}")
    except AssertionError:
        proc.kill()
        raise
    return Server(url, db, proc, log)


@contextmanager
def running(db: str, log: Path, *args: str) -> Iterator[Server]:
    srv = start(db, log, *args)
    try:
        yield srv
    finally:
        srv.process.terminate()
        try:
            srv.process.wait(20)
        except subprocess.TimeoutExpired:
            srv.process.kill()


@contextmanager
def serving(folder: Path, *args: str) -> Iterator[Server]:
    """A real server on a store in ``folder`` holding the users of ``USERS`` (and whatever the
    caller put in ``folder / "mission.db"`` before), with their tokens; stopped afterwards."""
    db = str(folder / "mission.db")
    with open_store(db):
        pass
    tokens = make_users(db)
    with running(db, folder / "server.log", *args) as srv:
        srv.tokens = tokens
        yield srv


def list_all(server: Server, user: str, kind: str, params: dict[str, Any]
             ) -> tuple[list[dict[str, Any]], list[str]]:
    """Every item of ``/api/v1/{kind}`` for ``params``, page by page, and each page's
    marking."""
    items: list[dict[str, Any]] = []
    markings: list[str] = []
    cursor = None
    with server.client(user) as c:
        while True:
            r = c.get(f"/api/v1/{kind}", params={**params, "limit": 1000,
                                                 **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            items += r.json()["items"]
            markings.append(r.json()["marking"])
            cursor = r.json()["next_cursor"]
            if not cursor:
                return items, markings


def finished_plan(server: Server, user: str, request: dict[str, Any]) -> dict[str, Any]:
    """A plan run of ``request`` started by ``user`` through the API, waited for until it
    ended (two minutes at most): its poll answer, done."""
    with server.client(user) as c:
        started = c.post("/api/v1/plans", json=request)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        run: dict[str, Any] = wait_for(
            lambda: (r := c.get(f"/api/v1/plans/{run_id}").json())["state"] in (
                "done", "failed") and r, timeout=120, interval=0.1, what="the plan run")
    assert run["state"] == "done", run
    return run
