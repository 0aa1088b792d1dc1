"""Alert targets by audience: a `team` target (the mission's duty officers) is alerted on every
new violation, told it is not yet published; a `published` target (anyone beyond the team) is
owed a violation only when a second analyst publishes it, once, and only what its user may
see. On each store backend, through the CLI and the HTTP API; delivery by a running server is
in test_server_alerts.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.test_review import judged
from tests.test_store import Raw
from truceguard.cli import main
from truceguard.errors import InputError
from truceguard.model import StatusChange, utc_now
from truceguard.pipeline import set_violation_status
from truceguard.server.alerts import Dispatcher, add_target, owe
from truceguard.server.api import create_app
from truceguard.server.ids import IdCodec, derive_key
from truceguard.store import SQLiteStore, Store, is_url, open_store
from truceguard.store.mission import AlertTarget
from truceguard.store.schema import MIGRATIONS
from truceguard.users import add_user

HOOK = "http://127.0.0.1:9/hook"


def targets(store: Store) -> dict[str, AlertTarget]:
    """Users of two nations and their targets: FRA's duty officers (team), FRA's partner
    centre and a GBR press desk (published), and a published target of other terms."""
    add_user(store, "fra", "FRA", "analyst", by="test")
    add_user(store, "gbr", "GBR", "analyst", by="test")
    for name, user, audience, terms in [("duty", "fra", "team", ""),
                                        ("partners", "fra", "published", ""),
                                        ("press", "gbr", "published", ""),
                                        ("elsewhere", "gbr", "published", "minsk-2014")]:
        add_target(store, webhook=HOOK, cot=None, as_user=user, name=name, terms=terms,
                   audience=audience, allow_private=True, by="test")
    return {t.name: t for t in store.alert_targets()}


def owed(store: Store, target: AlertTarget) -> list[int]:
    """The violations owed to ``target``, in the order they were owed."""
    return [i.violation_id for i in store.outbox(target.target_id)]


def publish(store: Store, vid: int) -> None:
    set_violation_status(store, vid, "verified", "anna", "two cameras, crater seen")
    set_violation_status(store, vid, "published", "boris", "footage checked")


def test_only_what_a_second_analyst_publishes_goes_beyond_the_team(
        store: Store, tmp_path: Path) -> None:
    ids = judged(store, tmp_path)  # the last one is REL TO GBR: FRA may not see it
    t = targets(store)
    assert {n: x.audience for n, x in t.items()} == {
        "duty": "team", "partners": "published", "press": "published",
        "elsewhere": "published"}
    assert owe(store, ids) == 4  # live judging: the team's four new public violations
    assert owed(store, t["duty"]) == ids[:4]
    assert owed(store, t["partners"]) == owed(store, t["press"]) == []
    # a draft, a verified, a returned and a discounted violation: still nothing beyond
    set_violation_status(store, ids[0], "under_review", "anna", "asked a second source")
    set_violation_status(store, ids[0], "verified", "anna", "two cameras, crater seen")
    set_violation_status(store, ids[1], "verified", "anna", "crater seen")
    set_violation_status(store, ids[1], "returned", "boris", "the crater is older")
    set_violation_status(store, ids[2], "discounted", "anna", "a quarry blast")
    assert all(owed(store, t[n]) == [] for n in ("partners", "press", "elsewhere"))
    set_violation_status(store, ids[0], "published", "boris", "footage checked")
    assert owed(store, t["partners"]) == owed(store, t["press"]) == [ids[0]]
    assert owed(store, t["elsewhere"]) == []  # other terms
    assert owed(store, t["duty"]) == ids[:4]  # the team was alerted when it was new
    assert owe(store, ids) == 0  # live judging again owes nothing twice
    # published again after re-adjudication withdrew it and it came back: still owed once
    store.append_status(ids[0], StatusChange(0, utc_now(), "withdrawn", "truceguard", "moved"))
    store.append_status(ids[0], StatusChange(0, utc_now(), "new", "truceguard", "back"))
    set_violation_status(store, ids[0], "verified", "carl", "seen again")
    set_violation_status(store, ids[0], "published", "dora", "agreed")
    assert owed(store, t["partners"]) == [ids[0]]
    # GBR's own report, published: owed to GBR's desk, never to FRA's partners
    publish(store, ids[4])
    assert owed(store, t["press"]) == [ids[0], ids[4]]
    assert owed(store, t["partners"]) == [ids[0]]
    assert len({i.idempotency_key for i in store.outbox()}) == len(store.outbox())


class Client:
    """What the dispatcher posts with: records each webhook body, answers 200."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def post(self, url: str, *, content: bytes, headers: dict[str, str],
                   extensions: dict[str, Any]) -> httpx.Response:
        self.sent.append((headers["Idempotency-Key"], json.loads(content)))
        return httpx.Response(200)


def test_each_alert_says_whether_it_is_published(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "d.db"))
    try:
        ids = judged(store, tmp_path)
        t = targets(store)
        owe(store, ids[:2])
        client = Client()
        asyncio.run(Dispatcher(store).deliver_due(client))
        assert [(d["audience"], d["published"], d["violation"]["status"])
                for _, d in client.sent] == [("team", False, "new")] * 2
        publish(store, ids[0])
        publish(store, ids[1])
        # ids[1] is withdrawn before its alert goes out: a finding no longer published is
        # not sent beyond the team
        store.append_status(ids[1], StatusChange(0, utc_now(), "withdrawn", "truceguard",
                                                 "moved"))
        client = Client()
        asyncio.run(Dispatcher(store).deliver_due(client))
        keys = {i.idempotency_key: (i.target_id, i.violation_id) for i in store.outbox()}
        got = sorted((keys[k], d["audience"], d["published"], d["violation"]["status"])
                     for k, d in client.sent)
        assert got == sorted([((t["partners"].target_id, ids[0]), "published", True,
                               "published"),
                              ((t["press"].target_id, ids[0]), "published", True,
                               "published")])
        cancelled = [i for i in store.outbox() if i.violation_id == ids[1]
                     and i.target_id != t["duty"].target_id]
        assert [i.state for i in cancelled] == ["failed", "failed"]
        assert all("no longer published" in i.last_error for i in cancelled)
    finally:
        store.close()


def test_a_bad_audience_is_refused(store: Store) -> None:
    add_user(store, "fra", "FRA", "analyst", by="test")
    with pytest.raises(InputError) as e:
        add_target(store, webhook=HOOK, cot=None, as_user="fra", audience="press",
                   allow_private=True, by="test")
    assert e.value.code == "input.bad_audience" and "'press'" in e.value.message
    assert "published" in e.value.hint and "team" in e.value.hint
    assert store.alert_targets() == []


def test_cli_audience(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    with open_store(db) as store:
        add_user(store, "fra", "FRA", "analyst", by="test")
    runner = CliRunner()

    def add(*args: str) -> Any:
        return runner.invoke(main, ["alerts", "add", "--webhook", HOOK, "--as", "fra",
                                    "--allow-private", "--db", db, *args])

    r = add("--name", "desk", "--audience", "published")
    assert r.exit_code == 0, r.output
    assert "published findings only" in r.stdout
    r = add("--name", "duty")
    assert r.exit_code == 0, r.output
    r = add("--name", "odd", "--audience", "Press")
    assert r.exit_code == 1 and "'Press'" in r.stderr and "Hint: " in r.stderr
    assert "published" in r.stderr
    r = runner.invoke(main, ["alerts", "list", "--db", db])
    assert r.exit_code == 0, r.output
    lines = {ln.split("│")[1].strip(): ln for ln in r.stdout.splitlines()
             if ln.count("│") > 2 and "name" not in ln}
    assert set(lines) == {"desk", "duty"}
    assert "published" in lines["desk"] and "team" in lines["duty"]
    with open_store(db) as store:
        added = [e.detail for e in store.audit_entries() if e.action == "alerts.add"]
    assert [(d["name"], d["audience"]) for d in added] == [("desk", "published"),
                                                          ("duty", "team")]


def _call(app: Any, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_api_audience_and_publishing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "api.db")
    try:
        ids = judged(store, tmp_path)
        admin = add_user(store, "boss", "GBR", "admin", by="test")[1]
        gbr = add_user(store, "gbr", "GBR", "analyst", by="test")[1]
        fra = add_user(store, "fra", "FRA", "analyst", by="test")[1]
        # a target inside the network is the database owner's choice, never the API's
        add_target(store, webhook=HOOK, cot=None, as_user="fra", name="partners",
                   audience="published", allow_private=True, by="test")
        app = create_app(store)
        r = _call(app, "POST", "/api/v1/alerts", admin,
                  json={"webhook": "https://desk.example.org/hook", "as": "fra",
                        "name": "desk", "audience": "published"})
        assert r.status_code == 201, r.text
        assert r.json()["target"]["audience"] == "published"
        r = _call(app, "POST", "/api/v1/alerts", admin,
                  json={"webhook": "https://duty.example.org/hook", "as": "fra",
                        "name": "duty"})
        assert r.status_code == 201 and r.json()["target"]["audience"] == "team", r.text
        r = _call(app, "POST", "/api/v1/alerts", admin,
                  json={"webhook": "https://odd.example.org/hook", "as": "fra",
                        "name": "odd", "audience": "everyone"})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "input.bad_audience" and "'everyone'" in err["message"]
        assert "published" in err["hint"]
        listed = _call(app, "GET", "/api/v1/alerts", admin).json()["items"]
        assert {x["name"]: x["audience"] for x in listed} == {
            "desk": "published", "duty": "team", "partners": "published"}
        # two analysts over the API: GBR verifies, FRA publishes
        vid = IdCodec(derive_key(store.incident_key())).encode("violation", ids[0])
        url = f"/api/v1/violations/{vid}/status"
        r = _call(app, "POST", url, gbr, json={"status": "verified", "why": "crater seen"})
        assert r.status_code == 200, r.text
        assert store.outbox() == []
        r = _call(app, "POST", url, fra, json={"status": "published", "why": "agreed"})
        assert r.status_code == 200, r.text
        partners = {t.name: t.target_id for t in store.alert_targets()}
        assert sorted((i.target_id, i.violation_id) for i in store.outbox()) == sorted(
            [(partners["partners"], ids[0]), (partners["desk"], ids[0])])
    finally:
        store.close()


def test_targets_of_an_older_store_are_the_teams(backend: str, location: Any) -> None:
    """The audience migration: every target added before it is a `team` target."""
    mine = next(i for i, m in enumerate(MIGRATIONS) if "audience" in m.sql)
    where = location()
    if not is_url(where):
        Path(where).touch()
    raw = Raw(where)
    for version in range(1, mine + 1):
        migration = MIGRATIONS[version - 1]
        for statement in migration.statements(backend):
            raw(statement)
        if migration.python is not None:
            migration.python(raw.rows)
        raw("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    raw("INSERT INTO users (name, nation, role, marking, token_sha256, created_at) "
        "VALUES ('fra', 'FRA', 'analyst', 'REL TO FRA', 'x', 0)")
    raw("INSERT INTO alert_targets (name, kind, url, secret, min_severity, terms, user_id, "
        "created_at) VALUES ('duty', 'webhook', ?, 's', 1, '', 1, 0)", (HOOK,))
    raw.close()
    with open_store(where) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert [(t.name, t.audience) for t in store.alert_targets()] == [("duty", "team")]
