"""The mission server against misuse: alert targets that point inside the network or carry
credentials (refused when added and when delivering, DNS rebinding included), admins who
would grant what they do not hold, unbounded free text, and server paths in error messages."""

from __future__ import annotations

import asyncio
import csv
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import UCDP_CLEAN
from tests.helpers import wait_for
from tests.server_fixtures import Server, make_users, running
from truceguard.cli import main
from truceguard.errors import TruceguardError
from truceguard.ingest import import_file
from truceguard.marking import parse_marking
from truceguard.server.alerts import check_target_url, post_webhook
from truceguard.server.cot_out import CotSender, SendFailed
from truceguard.store import open_store
from truceguard.store.mission import AlertTarget, OutboxItem
from truceguard.users import add_user

PRIVATE = ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8080/hook",
           "http://localhost/hook", "http://10.0.0.5/hook", "https://192.168.1.1/",
           "http://172.16.0.1/", "http://[::1]/hook", "http://[fd00::1]/hook",
           "http://[fe80::1]/hook", "http://0.0.0.0/", "http://224.0.0.1/",
           "http://240.0.0.1/", "http://2130706433/", "http://0x7f.1/",
           "http://[::ffff:127.0.0.1]/", "tcp://10.0.0.5:8087", "tcp://169.254.169.254:80"]


def _refusal(fn: Any) -> TruceguardError:
    with pytest.raises(TruceguardError) as info:
        fn()
    return info.value


# -- 1. alert targets -------------------------------------------------------------------------
@pytest.mark.parametrize("url", PRIVATE)
def test_a_target_inside_the_network_is_refused_unless_allowed(url: str) -> None:
    kind = "cot" if url.startswith("tcp:") else "webhook"
    err = _refusal(lambda: check_target_url(url, kind))
    assert err.code == "alerts.private_address"
    assert str(urlsplit(url).hostname) in err.message
    assert err.hint
    check_target_url(url, kind, allow_private=True)  # the operator's choice, per target


@pytest.mark.parametrize("url", ["https://user:hunter2pw@alerts.example.org/hook",
                                 "https://token@alerts.example.org/hook",
                                 "tcp://user:hunter2pw@tak.example.org:8087"])
def test_credentials_in_a_target_url_are_refused_without_echoing_them(url: str) -> None:
    kind = "cot" if url.startswith("tcp:") else "webhook"
    for allow in (False, True):
        err = _refusal(lambda allow=allow: check_target_url(url, kind, allow_private=allow))
        assert err.code == "alerts.credentials_in_url"
        assert "hunter2pw" not in err.message and "hunter2pw" not in err.hint
        assert "example.org" in err.message and err.hint


def test_a_public_target_is_taken() -> None:
    check_target_url("https://alerts.example.org/hook", "webhook")
    check_target_url("tcp://93.184.216.34:8087", "cot")
    check_target_url("https://93.184.216.34/hook", "webhook")


def test_alerts_add_refuses_private_targets_and_credentials(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    make_users(db)
    run = CliRunner().invoke
    for args in (["--webhook", "http://169.254.169.254/latest/meta-data/"],
                 ["--cot", "tcp://127.0.0.1:8087"],
                 ["--webhook", "https://ops:hunter2pw@alerts.example.org/"]):
        r = run(main, ["alerts", "add", *args, "--as", "fra", "--db", db])
        assert r.exit_code != 0
        assert "hunter2pw" not in r.output
        assert "alerts.private_address" in r.output or "alerts.credentials_in_url" in r.output \
            or "private" in r.output or "credentials" in r.output
    with open_store(db) as store:
        assert store.alert_targets() == []
    r = run(main, ["alerts", "add", "--webhook", "http://127.0.0.1:9/hook", "--allow-private",
                   "--as", "fra", "--name", "lab", "--db", db])
    assert r.exit_code == 0, r.output
    with open_store(db) as store:
        (target,) = store.alert_targets()
        assert target.name == "lab" and target.allow_private is True


def _target(url: str, kind: str = "webhook", allow_private: bool = False) -> AlertTarget:
    return AlertTarget(1, "t", kind, url, "s", 1, "", 1, False, allow_private)


def _item() -> OutboxItem:
    return OutboxItem(1, 1, 1, "key", "{}", "pending", 0, 0.0, "", time.time(), None)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the tests resolve: each lookup takes the next address of the name's list (the
    last one stays), as a DNS server that rebinds between lookups would answer."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in answers:
            seq = answers[host]
            ip = seq.pop(0) if len(seq) > 1 else seq[0]
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr = (ip, int(port or 0), 0, 0) if family == socket.AF_INET6 else (ip, int(port or 0))
            return [(family, socket.SOCK_STREAM, 6, "", addr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def test_a_webhook_name_that_resolves_inside_is_refused_when_delivering(dns) -> None:
    dns["rebind.example"] = ["127.0.0.1"]
    seen: list[httpx.Request] = []

    async def scenario() -> None:
        transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(TruceguardError) as info:
                await post_webhook(client, _target("http://rebind.example/hook"), _item())
            assert info.value.code == "alerts.private_address"
            assert "rebind.example" in info.value.message
            assert "127.0.0.1" in info.value.message
            # allowed for this target: delivered
            await post_webhook(client, _target("http://rebind.example/hook",
                                               allow_private=True), _item())

    asyncio.run(scenario())
    assert len(seen) == 1


def test_a_webhook_is_sent_to_the_address_that_was_checked(dns) -> None:
    """Rebinding: the first lookup answers a public address, any later one loopback. The
    request goes to the checked address, under its name (Host, and TLS SNI)."""
    dns["hook.example"] = ["93.184.216.34", "127.0.0.1"]
    seen: list[httpx.Request] = []

    async def scenario() -> None:
        transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as client:
            await post_webhook(client, _target("https://hook.example:8443/in?x=1"), _item())

    asyncio.run(scenario())
    (req,) = seen
    assert req.url.host == "93.184.216.34" and req.url.port == 8443
    assert req.url.path == "/in" and req.url.query == b"x=1"
    assert req.headers["host"] == "hook.example:8443"
    assert req.extensions.get("sni_hostname") == "hook.example"


def test_a_cot_target_that_resolves_inside_is_refused_when_connecting(dns) -> None:
    connected: list[int] = []
    ended: list[asyncio.Event] = []

    async def endpoint(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        connected.append(1)
        while await r.read(1024):
            pass
        w.close()
        await w.wait_closed()
        ended[0].set()

    async def scenario() -> None:
        ended.append(asyncio.Event())
        srv = await asyncio.start_server(endpoint, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        dns["tak.example"] = ["127.0.0.1"]
        sender = CotSender(f"tcp://tak.example:{port}", backoff_s=0.05)
        await sender.start()
        try:
            with pytest.raises(SendFailed) as info:
                await asyncio.wait_for(sender.send(b"<event/>"), 10)
            assert "tak.example" in info.value.message and "127.0.0.1" in info.value.message
            assert sender.stats.connects == 0
        finally:
            await sender.close()
        allowed = CotSender(f"tcp://tak.example:{port}", allow_private=True)
        await allowed.start()
        try:
            await asyncio.wait_for(allowed.send(b"<event/>"), 10)
        finally:
            await allowed.close()
        await asyncio.wait_for(ended[0].wait(), 10)
        srv.close()
        await srv.wait_closed()

    asyncio.run(scenario())
    assert connected == [1]


def test_a_cot_target_with_credentials_is_refused() -> None:
    err = _refusal(lambda: CotSender("tcp://u:hunter2pw@tak.example.org:8087"))
    assert err.code == "alerts.credentials_in_url" and "hunter2pw" not in err.message


# -- a real server -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("hardening")
    db = str(tmp / "mission.db")
    patrols = tmp / "patrols.csv"
    with open(patrols, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        w.writerow(["fin-1", "2019-06-01T10:00:00Z", 48.30, 38.05, "shelling", "REL TO FIN"])
    with open_store(db) as store:
        import_file(store, UCDP_CLEAN)
        import_file(store, patrols, source="patrols")
    tokens = make_users(db)
    with open_store(db) as store:
        tokens["padmin"] = add_user(store, "padmin", "GBR", "admin", marking="PUBLIC",
                                    by="test")[1]
    with running(db, tmp / "server.log", "--terms", "minsk-2015") as srv:
        srv.tokens = tokens

        def judged() -> bool:
            with open_store(db) as store:
                return "minsk-2015" in store.adjudicated_terms()

        wait_for(judged, 60)
        yield srv


# -- 2. nobody grants what they do not hold ---------------------------------------------------
def test_an_admin_cannot_create_a_user_of_another_nation(server: Server) -> None:
    with server.client("padmin") as c:
        r = c.post("/api/v1/users", json={"name": "fin1", "nation": "FIN", "role": "analyst"})
        assert r.status_code == 403, r.text
        err = r.json()["error"]
        assert err["code"] == "forbidden.nation" and "FIN" in err["message"] and err["hint"]
        names = [u["name"] for u in c.get("/api/v1/users").json()["items"]]
    assert "fin1" not in names
    with server.client("padmin") as c:  # within their nation: fine
        r = c.post("/api/v1/users", json={"name": "gbr2", "nation": "GBR", "role": "observer"})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.get("/api/v1/observations", params={"limit": 1000})
        assert r.status_code == 200, r.text
        assert all("FIN" not in o["releasability"] for o in r.json()["items"])


def test_an_admin_cannot_grant_a_wider_marking_than_their_own(server: Server) -> None:
    with server.client("admin") as c:  # admin: GBR, REL TO GBR
        for marking in ("PUBLIC", "REL TO GBR, FRA", "REL TO NATO"):
            r = c.post("/api/v1/users", json={"name": "wide", "nation": "GBR",
                                              "role": "observer", "marking": marking})
            assert r.status_code == 403, (marking, r.text)
            err = r.json()["error"]
            assert err["code"] == "forbidden.marking" and err["hint"]
            assert parse_marking(marking).text in err["message"]
        r = c.post("/api/v1/users", json={"name": "narrow", "nation": "GBR", "role": "observer",
                                          "marking": "REL TO GBR"})
        assert r.status_code == 201, r.text


def test_the_database_owner_adds_any_user_from_the_cli(server: Server) -> None:
    r = CliRunner().invoke(main, ["users", "add", "fin-cli", "--nation", "FIN", "--role",
                                  "analyst", "--marking", "PUBLIC", "--db", server.db])
    assert r.exit_code == 0, r.output


# -- 3. bounded free text ------------------------------------------------------------------------
def test_free_text_is_bounded(server: Server) -> None:
    with server.client("fra") as c:
        vid = c.get("/api/v1/violations", params={"limit": 1}).json()["items"][0]["violation_id"]
        before = c.get(f"/api/v1/violations/{vid}").json()["trail"]
        r = c.post(f"/api/v1/violations/{vid}/status",
                   json={"status": "under_review", "why": "x" * (1 << 20)})
        assert r.status_code == 400, r.text[:300]
        err = r.json()["error"]
        assert err["code"] == "input.reason_too_long"  # the one check the CLI shares
        assert "why" in err["message"] and "2,000" in err["message"]
        assert len(r.text) < 2000
        r = c.post(f"/api/v1/violations/{vid}/status", json={"status": "s" * 100_000, "why": "x"})
        assert r.status_code == 400 and len(r.text) < 2000
        assert c.get(f"/api/v1/violations/{vid}").json()["trail"] == before
    with server.client("admin") as c:
        for field, value, limit in (("name", "n" * 65, "64"), ("marking", "m" * 3000, "2,000"),
                                    ("nation", "x" * 100_000, "64"),
                                    ("cert_fingerprint", "f" * 100_000, "2,000")):
            body = {"name": "ok", "nation": "GBR", "role": "observer", field: value}
            r = c.post("/api/v1/users", json=body)
            assert r.status_code == 400, r.text[:300]
            err = r.json()["error"]
            assert err["code"] == "input.too_long" and field in err["message"], err
            assert limit in err["message"] and len(r.text) < 2000


# -- 4. no server paths in errors ----------------------------------------------------------------
BAD_BODIES = [(b"a,b\n1,2\n", None), (b"{not json", None), (b"<event", None),
              (b"\x00\x01garbage", None), (b"a,b\n", "geojson"), (b"x", "ucdp"), (b"x", "acled"),
              (b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
               b'{"type":"Point","coordinates":[999,1]},"properties":{"time":"x"}}]}', None),
              (b"lat,lon,time\n1,2,notatime\n", None)]


def test_errors_name_no_server_path(server: Server) -> None:
    folder = str(Path(server.db).parent)
    forbidden = ("/tmp/", "/root/", folder, tempfile.gettempdir() + "/", "truceguard-api-")
    with server.client("gbr") as c:
        for body, fmt in BAD_BODIES:
            for ep in ("/api/v1/observations", "/api/v1/observations/upload"):
                r = c.post(ep, content=body, params={"format": fmt} if fmt else {})
                text = r.text
                for bad in forbidden:
                    assert bad not in text, (ep, body[:20], text)
                got = r.json()
                if "error" in got:
                    assert "request" in got["error"]["message"], text
                else:
                    assert got["errors"] and all(e["file"] == "request body"
                                                 for e in got["errors"]), text
