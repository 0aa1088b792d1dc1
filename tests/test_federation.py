"""Federation for real: three servers (GBR and UKR on SQLite, FRA on PostgreSQL), each its own
`truceguard serve` process with its own store and its own certificate from a test CA made
here, linked over mutual TLS.

The servers start once for the module; each test sets the links it needs (``configure``: the
direct GBR-UKR link on or off, FRA's links relaying or not) and adds records of its own
(a source of its own), so tests and examples share the servers without sharing records.
Every wait is on a condition with a deadline: holdings equal to what the rules say, then
every link of every server settled (nothing pending), then the holdings checked again.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import with_database
from tests.helpers import wait_for
from tests.server_fixtures import TLS, Server, free_port
from truceguard.federation import add_partner, remove_partner
from truceguard.marking import Viewer, parse_marking
from truceguard.model import Observation, sha256_text
from truceguard.store import Store, open_store
from truceguard.store.base import ObservationFilter

NATIONS = {"gbr": "GBR", "fra": "FRA", "ukr": "UKR"}
MARKINGS = ["PUBLIC", "REL TO GBR", "REL TO FRA", "REL TO UKR", "REL TO FRA, GBR",
            "REL TO FRA, UKR", "REL TO GBR, UKR", "REL TO FRA, GBR, UKR", "REL TO NATO",
            "REL TO EU", "REL TO FVEY"]
_tags = itertools.count()


# -- the test CA ------------------------------------------------------------------------------
def _cert(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
          expired: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    start_at = now - dt.timedelta(days=3 if expired else 0, minutes=5)
    end_at = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=1)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
         .issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(start_at).not_valid_after(end_at)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_pki(d: Path) -> dict[str, str]:
    """PEM files: ``ca``; ``gbr``, ``fra``, ``ukr`` (and ``.key``) from it; ``rogue`` (CN fra,
    from a stranger's CA) and ``expired`` (CN fra, from the CA, expired yesterday)."""
    out: dict[str, str] = {}

    def write(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        out[name], out[f"{name}.key"] = str(d / f"{name}.pem"), str(d / f"{name}.key")

    for ca_name, names in (("ca", ("gbr", "fra", "ukr", "expired")), ("stranger", ("rogue",))):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {ca_name}")])
        write(ca_name, _cert(f"test {ca_name}", ca_key, subject, ca_key, ca=True), ca_key)
        for name in names:
            key = ec.generate_private_key(ec.SECP256R1())
            cn = "fra" if name in ("rogue", "expired") else name
            write(name, _cert(cn, key, subject, ca_key, expired=name == "expired"), key)
    return out


# -- the servers ----------------------------------------------------------------------------
@dataclass
class Node:
    name: str
    db: str
    api_port: int
    fed_port: int
    log: Path
    pki: dict[str, str]
    server: Server | None = None
    links: dict[str, bool] = field(default_factory=dict)  # partner -> relay

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.fed_port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as fh:
            return subprocess.Popen(
                [sys.executable, "-m", "truceguard", "serve", "--db", self.db, "--port",
                 str(self.api_port), "--federation-cert", self.pki[self.name],
                 "--federation-key", self.pki[f"{self.name}.key"], "--federation-port",
                 str(self.fed_port)], stdout=fh, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def ready(self, process: subprocess.Popen[bytes]) -> None:
        url = f"http://127.0.0.1:{self.api_port}"

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                return httpx.get(url + "/healthz", timeout=1, verify=TLS).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, interval=0.1, what=f"{self.name} to start")
        self.server = Server(url, self.db, process, self.log)

    def start(self) -> None:
        self.ready(self.spawn())

    def kill(self) -> None:
        assert self.server is not None
        os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(20)

    def stop(self) -> None:
        if self.server is not None and self.server.process.poll() is None:
            self.server.process.terminate()
            self.server.process.wait(30)

    def store(self) -> Store:
        return open_store(self.db)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[dict[str, Node]]:
    d = tmp_path_factory.mktemp("federation")
    pki = make_pki(d)
    fra_db = f"truceguard_fed_{os.getpid()}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {fra_db} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
    dbs = {"gbr": str(d / "gbr.db"), "fra": with_database(pg_server, fra_db),
           "ukr": str(d / "ukr.db")}
    out = {n: Node(n, dbs[n], free_port(), free_port(), d / f"{n}.log", pki) for n in NATIONS}
    for n, node in out.items():
        with node.store() as store:
            store.set_owner_nation(NATIONS[n])
    configure(out, direct=True, relay=False)
    try:
        spawned = [(node, node.spawn()) for node in out.values()]  # all at once
        for node, process in spawned:
            node.ready(process)
        yield out
    finally:
        for node in out.values():
            node.stop()


def _link(nodes: dict[str, Node], a: str, b: str, relay: bool | None) -> None:
    """Register b at a (relaying or not), or remove it (None); unchanged links stay."""
    node = nodes[a]
    if node.links.get(b, "absent") == relay or (relay is None and b not in node.links):
        return
    with node.store() as store:
        if b in node.links:
            remove_partner(store, b, by="test")
            del node.links[b]
        if relay is not None:
            add_partner(store, b, nodes[b].url, NATIONS[b], (), node.pki[a],
                        node.pki[f"{a}.key"], node.pki["ca"], relay=relay, by="test")
            node.links[b] = relay


def configure(nodes: dict[str, Node], *, direct: bool, relay: bool) -> None:
    """GBR-FRA and FRA-UKR always linked, relaying when ``relay``; GBR-UKR when ``direct``;
    returns once every running server runs exactly these links."""
    for a, b in (("gbr", "fra"), ("fra", "ukr")):
        _link(nodes, a, b, relay)
        _link(nodes, b, a, relay)
    _link(nodes, "gbr", "ukr", False if direct else None)
    _link(nodes, "ukr", "gbr", False if direct else None)
    for node in nodes.values():
        if node.server is not None:
            wait_for(lambda node=node: running_links(node) == node.links, 20,
                     what=f"{node.name} to run the links {node.links}")


def running_links(node: Node) -> dict[str, bool]:
    """partner -> relay of the links the server runs now (its /healthz)."""
    assert node.server is not None
    services = httpx.get(node.server.url + "/healthz", timeout=5).json()["services"]
    fed = next(s for s in services if s["name"] == "federation")
    return {name: bool(v["relay"]) for name, v in fed["extra"]["links"].items()}


# -- records and what each server should hold -------------------------------------------------
def observation(tag: str, i: int, marking: str) -> Observation:
    raw = json.dumps({"tag": tag, "i": i, "marking": marking})
    return Observation(source=tag, how_known="seen", t_start=1_700_000_000 + i,
                       t_end=1_700_000_000 + i, time_precision_s=60, lat=48.0 + i / 1000,
                       lon=37.8, uncertainty_m=500.0, category="explosion",
                       source_ref=f"r{i}", releasability=marking, raw=raw,
                       raw_sha256=sha256_text(raw))


def add_records(node: Node, tag: str, markings: list[tuple[int, str]]) -> None:
    with node.store() as store, store.transaction():
        store.add_observations([observation(tag, i, m) for i, m in markings], reader="test")


def holdings(node: Node, tag: str) -> dict[str, str]:
    """source_ref -> marking of the records of ``tag`` the server holds."""
    with node.store() as store:
        return {o.source_ref: o.releasability for o in
                store.observations(ObservationFilter(sources=(tag,)), Viewer.owner())}


def may_hold(server: str, marking: str) -> bool:
    return Viewer.of(NATIONS[server]).may_see(parse_marking(marking))


def expected(origin: str, marking: str, *, direct: bool, relay: bool) -> set[str]:
    """The servers that end up holding a record of ``origin`` under ``marking``."""
    linked = {("gbr", "fra"), ("fra", "ukr")} | ({("gbr", "ukr")} if direct else set())
    adjacent = {s: {b for a, b in linked if a == s} | {a for a, b in linked if b == s}
                for s in NATIONS}
    held = {origin}
    frontier = [origin]
    while frontier:  # breadth first: a holder sends on only its own records unless it relays
        here = frontier.pop()
        for nxt in adjacent[here]:
            if nxt in held or not may_hold(nxt, marking):
                continue
            if here != origin and not (relay and "fra" in (here, nxt)):
                continue
            held.add(nxt)
            frontier.append(nxt)
    return held


def settled(nodes: dict[str, Node]) -> bool:
    for node in nodes.values():
        with node.store() as store:
            links = store.federation_links()
        if any(s.pending for s in links) or len(links) != len(node.links):
            return False
    return True


def log_tail(nodes: dict[str, Node]) -> str:
    return "\n".join(f"--- {n.name}\n" + n.log.read_text()[-3000:] for n in nodes.values())


def wait_holdings(nodes: dict[str, Node], tag: str, want: dict[str, dict[str, str]],
                  timeout: float = 30.0) -> None:
    """Wait until each server holds exactly ``want[server]``, every link is settled, and it
    still does."""
    def now() -> dict[str, dict[str, str]]:
        return {n: holdings(node, tag) for n, node in nodes.items()}

    wait_for(lambda: now() == want, timeout,
             what=lambda: f"holdings {now()} to be {want}\n{log_tail(nodes)}")
    wait_for(lambda: settled(nodes), timeout, what=lambda: "every link settled")
    assert now() == want


# -- the tests -----------------------------------------------------------------------------
@settings(max_examples=6, derandomize=True, deadline=None, phases=(Phase.generate,),
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(records=st.lists(st.tuples(st.sampled_from(sorted(NATIONS)), st.sampled_from(MARKINGS)),
                        min_size=1, max_size=8),
       direct=st.booleans(), relay=st.booleans())
def test_each_server_holds_exactly_what_its_nation_may_see(
        nodes: dict[str, Node], records: list[tuple[str, str]], direct: bool,
        relay: bool) -> None:
    configure(nodes, direct=direct, relay=relay)
    tag = f"prop-{next(_tags)}"
    want: dict[str, dict[str, str]] = {n: {} for n in NATIONS}
    for i, (origin, marking) in enumerate(records):
        canonical = parse_marking(marking).text
        for holder in expected(origin, canonical, direct=direct, relay=relay):
            want[holder][f"r{i}"] = canonical
    for origin in NATIONS:
        mine = [(i, m) for i, (o, m) in enumerate(records) if o == origin]
        if mine:
            add_records(nodes[origin], tag, mine)
    wait_holdings(nodes, tag, want)


def test_a_narrower_remark_withdraws_downstream_and_a_wider_one_sends(
        nodes: dict[str, Node]) -> None:
    configure(nodes, direct=True, relay=True)
    tag = f"remark-{next(_tags)}"
    add_records(nodes["gbr"], tag, [(0, "REL TO FRA, GBR, UKR"), (1, "REL TO GBR")])
    wide, mine = "REL TO FRA, GBR, UKR", "REL TO GBR"
    wait_holdings(nodes, tag, {"gbr": {"r0": wide, "r1": mine}, "fra": {"r0": wide},
                               "ukr": {"r0": wide}})
    with nodes["gbr"].store() as store:
        ids = {o.source_ref: o.obs_id for o in
               store.observations(ObservationFilter(sources=(tag,)), Viewer.owner())}
        store.remark([ids["r0"]], parse_marking("REL TO FRA, GBR"), "test", "narrower")
        store.remark([ids["r1"]], parse_marking("PUBLIC"), "test", "wider")
    narrow = "REL TO FRA, GBR"
    wait_holdings(nodes, tag, {"gbr": {"r0": narrow, "r1": "PUBLIC"},
                               "fra": {"r0": narrow, "r1": "PUBLIC"}, "ukr": {"r1": "PUBLIC"}})
    with nodes["ukr"].store() as store:
        actions = [e.action for e in store.audit_entries()]
        assert "federation.withdrawn" in actions and "federation.received" in actions
    with nodes["gbr"].store() as store:
        entries = [e for e in store.audit_entries() if e.action == "federation.withdrawn"]
        assert any(f"gbr#{ids['r0']}" in e.detail.get("records", []) for e in entries)


def test_kill_9_and_a_cut_lose_nothing_and_duplicate_nothing(nodes: dict[str, Node]) -> None:
    configure(nodes, direct=True, relay=False)
    tag = f"kill-{next(_tags)}"
    n = 3000
    fra = nodes["fra"]
    add_records(nodes["gbr"], tag, [(i, "REL TO FRA, GBR") for i in range(n)])
    wait_for(lambda: len(holdings(fra, tag)) > 0, 30, what="the first records at FRA")
    fra.kill()  # the receiver dies mid-stream
    gbr = nodes["gbr"]
    add_records(gbr, tag, [(i, "REL TO FRA, GBR") for i in range(n, n + 500)])
    with gbr.store() as store:  # the sender notes the cut, and keeps trying
        wait_for(lambda: any(s.last_error for s in store.federation_links()
                             if s.partner.name == "fra"), 30, what="the cut noted")
    gbr.kill()  # then the sender dies too
    add_records(gbr, tag, [(i, "REL TO FRA, GBR") for i in range(n + 500, n + 800)])
    restarted = [(node, node.spawn()) for node in (fra, gbr)]
    for node, process in restarted:
        node.ready(process)
    want = {f"r{i}": "REL TO FRA, GBR" for i in range(n + 800)}
    wait_holdings(nodes, tag, {"gbr": want, "fra": want, "ukr": {}}, timeout=60)
    with fra.store() as store:
        count = store.count_observations(ObservationFilter(sources=(tag,)), Viewer.owner())
        assert count == n + 800  # nothing twice


# -- faults on the link ---------------------------------------------------------------------
def _tls(node: Node, who: str) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=node.pki["ca"])
    ctx.load_cert_chain(node.pki[who], node.pki[f"{who}.key"])
    sock = socket.create_connection(("127.0.0.1", node.fed_port), timeout=10)
    return ctx.wrap_socket(sock, server_hostname="127.0.0.1")


def _read_status(sock: ssl.SSLSocket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def _push(node: Node, who: str, doc: object) -> httpx.Response:
    ctx = ssl.create_default_context(cafile=node.pki["ca"])
    ctx.load_cert_chain(node.pki[who], node.pki[f"{who}.key"])
    with httpx.Client(verify=ctx, timeout=10, trust_env=False) as client:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return client.post(f"{node.url}/federation/v1/push", content=body)


def _record(origin: str, rid: str, via: list[str], marking: str, tag: str) -> dict[str, object]:
    from truceguard.federation.wire import record_document

    obs = observation(tag, int(rid), marking)
    doc = record_document(origin, rid, tuple(via), parse_marking(marking), obs)
    return doc


def _batch(*records: dict[str, object]) -> dict[str, object]:
    return {"format": "truceguard-federation/1", "records": list(records), "withdrawals": []}


def test_faults_are_refused_logged_and_the_link_survives(nodes: dict[str, Node]) -> None:
    configure(nodes, direct=True, relay=False)
    gbr = nodes["gbr"]
    tag = f"fault-{next(_tags)}"
    # 50 MB announced: refused before a byte of the body is read
    begun = time.monotonic()
    with _tls(gbr, "fra") as sock:
        sock.sendall(b"POST /federation/v1/push HTTP/1.1\r\nhost: gbr\r\n"
                     b"content-length: 52428800\r\n\r\n")
        assert _read_status(sock) == 413
    assert time.monotonic() - begun < 5
    # 50 MB streamed without a length: cut at the bound
    with _tls(gbr, "fra") as sock:
        sock.sendall(b"POST /federation/v1/push HTTP/1.1\r\nhost: gbr\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
        status = 0
        try:
            for _ in range(50):
                sock.sendall(chunk)
        except OSError:
            pass
        try:
            status = _read_status(sock)
        except OSError:
            status = -1  # closed before the answer could be read: refused all the same
        assert status in (413, -1)
    # garbage: not HTTP, and HTTP with a body that is not a batch
    with _tls(gbr, "fra") as sock:
        sock.sendall(b"\x00\x01garbage\r\n\r\n")
        assert _read_status(sock) == 400
    answer = _push(gbr, "fra", b"{not json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "federation.bad_batch"
    # a forged origin, a relay over a link that does not relay, a marking GBR may not hold,
    # a bad digest, an unknown marking code: each refused alone
    forged = _record("ukr", "1", ["ukr"], "PUBLIC", tag)
    relayed = _record("ukr", "5", ["ukr", "fra"], "PUBLIC", tag)
    not_gbr = _record("fra", "2", ["fra"], "REL TO FRA", tag)
    bad_digest = {**_record("fra", "3", ["fra"], "PUBLIC", tag), "digest": "0" * 64}
    bad_marking = {**_record("fra", "6", ["fra"], "PUBLIC", tag), "marking": "REL TO XX%"}
    good = _record("fra", "4", ["fra"], "REL TO FRA, GBR", tag)
    answer = _push(gbr, "fra", _batch(forged, relayed, not_gbr, bad_digest, bad_marking, good))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["accepted"] == 1
    assert sorted(r["code"] for r in got["refused"]) == [
        "federation.bad_digest", "federation.forged_origin", "federation.not_relayed",
        "federation.not_releasable", "marking.unknown_code"]
    # a replayed batch: a duplicate, stored once
    again = _push(gbr, "fra", _batch(good)).json()
    assert again["accepted"] == 0 and again["duplicates"] == 1
    assert holdings(gbr, tag) == {"r4": "REL TO FRA, GBR"}
    # wrong and expired certificates: refused at TLS
    for who in ("rogue", "expired"):
        with pytest.raises((ssl.SSLError, OSError, httpx.HTTPError)):
            _push(gbr, who, _batch(good))
    with gbr.store() as store:
        refused = [e for e in store.audit_entries() if e.action == "federation.refused"]
    codes = {e.detail.get("request") for e in refused} | {
        r for e in refused for r in e.detail.get("reasons", [])}
    assert {"input.too_large", "federation.bad_request", "federation.bad_batch",
            "federation.forged_origin", "federation.not_releasable"} <= codes
    wait_for(lambda: "TLS refused" in gbr.log.read_text(), 10, what="the TLS refusal logged")
    # the links still work
    tag2 = f"after-{next(_tags)}"
    add_records(gbr, tag2, [(0, "REL TO FRA, GBR")])
    wait_holdings(nodes, tag2, {"gbr": {"r0": "REL TO FRA, GBR"},
                                "fra": {"r0": "REL TO FRA, GBR"}, "ukr": {}})
