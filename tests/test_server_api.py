"""The HTTP API on a real uvicorn server (`truceguard serve`), with users of several nations."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.conftest import UCDP_CLEAN
from tests.helpers import wait_for
from tests.server_fixtures import Server, finished_plan, make_users, running, start
from truceguard.cli import main
from truceguard.ingest import import_file
from truceguard.marking import Viewer, parse_marking
from truceguard.server.api import create_app
from truceguard.server.service import ServiceHealth, Supervisor
from truceguard.store import ObservationFilter, SQLiteStore, open_store
from truceguard.users import add_user

PATROLS = [("gbr-1", "2019-06-01T10:00:00Z", 48.30, 38.05, "shelling", "REL TO GBR"),
           ("fra-1", "2019-06-01T10:02:00Z", 48.301, 38.051, "shelling", "REL TO FRA"),
           ("nato-1", "2019-06-01T10:04:00Z", 48.302, 38.052, "explosion", "REL TO NATO"),
           ("pub-1", "2019-06-01T10:06:00Z", 48.303, 38.053, "explosion", "PUBLIC")]


def patrol_file(path: Path, rows: list[tuple[str, str, float, float, str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("server")
    db = str(tmp / "mission.db")
    with open_store(db) as store:
        import_file(store, UCDP_CLEAN)
        import_file(store, patrol_file(tmp / "patrols.csv", PATROLS), source="patrols")
    tokens = make_users(db)
    with running(db, tmp / "server.log", "--terms", "minsk-2015") as srv:
        srv.tokens = tokens

        def judged() -> bool:
            with open_store(db) as store:
                return "minsk-2015" in store.adjudicated_terms()

        wait_for(judged, 60)
        yield srv


def all_pages(srv: Server, user: str, path: str, **params: object) -> list[dict]:
    items: list[dict] = []
    cursor = None
    with srv.client(user) as c:
        while True:
            q = {**params, **({"cursor": cursor} if cursor else {})}
            r = c.get(path, params=q)
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def test_health_needs_no_credentials_and_everything_else_does(server: Server) -> None:
    with server.client(None) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        r = c.get("/api/v1/observations")
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.invalid"
        r = c.get("/api/v1/observations", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
    with open_store(server.db) as store:  # aggregated per address and minute instead
        assert not any(e.action == "login.failed" for e in store.audit_entries())


def test_each_user_sees_only_what_is_releasable_to_them(server: Server) -> None:
    with open_store(server.db) as store:
        everything = list(store.observations(ObservationFilter(), Viewer.owner()))
    for user, nation in (("gbr", "GBR"), ("fra", "FRA"), ("ukr", "UKR"), ("deu", "DEU")):
        viewer = Viewer.of(nation)
        expected = sorted(server.api_id("observation", o.obs_id or 0) for o in everything
                          if viewer.may_see(parse_marking(o.releasability)))
        got = all_pages(server, user, "/api/v1/observations", limit=700)
        assert sorted(o["obs_id"] for o in got) == expected, user
        with server.client(user) as c:
            assert c.get("/api/v1/observations/count").json()["count"] == len(expected)
            hidden = next(o for o in everything
                          if not viewer.may_see(parse_marking(o.releasability)))
            hidden_id = server.api_id("observation", hidden.obs_id or 0)
            r = c.get(f"/api/v1/observations/{hidden_id}")
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found.observation"


def test_incidents_are_computed_from_the_viewers_own_reports(server: Server) -> None:
    def patrol_incident(user: str) -> dict:
        items = all_pages(server, user, "/api/v1/incidents", since="2019-06-01",
                          until="2019-06-01")
        near = [i for i in items if abs(i["lat"] - 48.3) < 0.05 and abs(i["lon"] - 38.05) < 0.05]
        assert len(near) == 1, (user, near)
        with server.client(user) as c:
            return c.get(f"/api/v1/incidents/{near[0]['incident_id']}").json()

    gbr, fra, deu, ukr = (patrol_incident(u) for u in ("gbr", "fra", "deu", "ukr"))
    assert {o["source_ref"] for o in gbr["observations"]} == {"gbr-1", "nato-1", "pub-1"}
    assert {o["source_ref"] for o in fra["observations"]} == {"fra-1", "nato-1", "pub-1"}
    assert {o["source_ref"] for o in deu["observations"]} == {"nato-1", "pub-1"}
    assert {o["source_ref"] for o in ukr["observations"]} == {"pub-1"}
    assert ukr["item"]["n_observations"] == 1 and ukr["marking"] == "PUBLIC"
    assert gbr["item"]["incident_id"] == ukr["item"]["incident_id"]


def test_filters_mean_what_the_cli_options_mean(server: Server) -> None:
    args = {"since": "2016-01-01", "until": "2016-12-31", "category": "armed_clash",
            "near": "48.0159,37.8028", "within_km": 40}
    api = all_pages(server, "fra", "/api/v1/observations", **args)
    r = CliRunner().invoke(main, ["observations", "--db", server.db, "--since", "2016-01-01",
                                  "--until", "2016-12-31", "--category", "armed_clash",
                                  "--near", "48.0159,37.8028", "--within-km", "40",
                                  "--releasable-to", "FRA", "--format", "json"])
    cli = json.loads(r.stdout)["rows"]  # the CLI shows the store's numbers, the API tokens
    assert [o["obs_id"] for o in api] == [server.api_id("observation", o["obs_id"]) for o in cli]
    assert len(api) > 10
    with server.client("fra") as c:
        bad = c.get("/api/v1/observations", params={"since": "05/07/2020"})
        assert bad.status_code == 400 and "05/07/2020" in bad.json()["error"]["message"]
        bad = c.get("/api/v1/violations", params={"status": "verifed"})
        assert bad.status_code == 400 and "verified" in bad.json()["error"]["hint"]
        bad = c.get("/api/v1/observations", params={"cursor": "garbage"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "input.bad_cursor"


def test_roles_and_the_status_trail(server: Server) -> None:
    with server.client("fra") as c:
        v = c.get("/api/v1/violations", params={"limit": 1}).json()["items"][0]
    vid = v["violation_id"]
    with server.client("ukr") as c:
        r = c.post(f"/api/v1/violations/{vid}/status", json={"status": "verified", "why": "x"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden.analyst"
    with server.client("fra") as c:
        r = c.post(f"/api/v1/violations/{vid}/status",
                   json={"status": "verified", "why": "two cameras"})
        assert r.status_code == 200, r.text
        trail = c.get(f"/api/v1/violations/{vid}").json()["trail"]
        assert trail[-1]["status"] == "verified" and trail[-1]["who"] == "fra"
        r = c.post(f"/api/v1/violations/{vid}/status", json={"status": "maybe", "why": "x"})
        assert r.status_code == 400
    with server.client("admin") as c:
        assert c.get("/api/v1/audit/verify").json()["ok"] is True
    with server.client("fra") as c:
        assert c.get("/api/v1/audit/verify").status_code == 403


def test_posted_observations_are_no_wider_than_the_users_marking(server: Server) -> None:
    feature = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [37.6, 47.9]},
        "properties": {"time": "2020-03-01T08:00:00Z", "category": "shelling",
                       "id": "gbr-post-1", "releasability": "PUBLIC"}}]}
    with server.client("gbr") as c:
        r = c.post("/api/v1/observations", content=json.dumps(feature))
        assert r.status_code == 200 and r.json()["imported"] == 1, r.text
        mine = c.get("/api/v1/observations", params={"source": "api:gbr"}).json()["items"]
        assert mine[0]["releasability"] == "REL TO GBR"
    with server.client("fra") as c:
        r = c.get("/api/v1/observations", params={"source": "api:gbr"})
        assert r.status_code == 400  # a source FRA cannot see is no source for FRA
    with server.client("gbr") as c:
        r = c.post("/api/v1/observations", content=b"\x00\x01garbage")
        assert r.status_code == 400 and "error" in r.json()
        r = c.post("/api/v1/observations", content=b"x" * (17 << 20))
        assert r.status_code == 413 and r.json()["error"]["code"] == "input.too_large"


def test_terms_scenarios_and_reports(server: Server) -> None:
    with server.client("ukr") as c:
        names = [t["name"] for t in c.get("/api/v1/terms").json()["items"]]
        assert "minsk-2015" in names
        assert c.get("/api/v1/terms/minsk-2015").json()["name"] == "minsk-2015"
        assert c.get("/api/v1/terms/minsk2015").status_code == 404
        assert c.get("/api/v1/scenarios").json()["items"]
        r = c.get("/api/v1/reports/period", params={"terms": "minsk-2015", "from": "2019-06",
                                                    "to": "2019-06"})
        assert r.status_code == 403  # reports are for analysts
    with server.client("fra") as c:
        r = c.get("/api/v1/reports/period", params={"terms": "minsk-2015", "from": "2019-06",
                                                    "to": "2019-06", "format": "html"})
        assert r.status_code == 200 and "gbr-1" not in r.text
        doc = c.get("/api/v1/reports/period", params={"terms": "minsk-2015", "from": "2019",
                                                      "to": "2019"}).json()
        assert doc["total"]["now"] > 0


def test_a_plan_run_is_started_and_polled(server: Server) -> None:
    """A run of the first scenario's baseline variant (every variant is the plan tests'
    work), polled until done; a run too large is refused at once."""
    with server.client("gbr") as c:
        scen = c.get("/api/v1/scenarios").json()["items"][0]["name"]
        baseline = c.get(f"/api/v1/scenarios/{scen}").json()["baseline_variant"]
        bad = c.post("/api/v1/plans", json={"scenario": scen, "samples": 10**9})
        assert bad.status_code == 400
    run = finished_plan(server, "gbr", {"scenario": scen, "variants": [baseline],
                                        "samples": 200, "seed": 1})
    assert list(run["results"]["variants"]) == [baseline]


def test_disabling_a_user_ends_their_access_at_once(server: Server) -> None:
    with server.client("admin") as c:
        r = c.post("/api/v1/users", json={"name": "temp", "nation": "GBR", "role": "observer"})
        assert r.status_code == 201
        token = r.json()["token"]
        server.tokens["temp"] = token
    with server.client("temp") as c:
        assert c.get("/api/v1/observations/count").status_code == 200
    with server.client("admin") as c:
        assert c.post("/api/v1/users/temp/disable").status_code == 200
    with server.client("temp") as c:
        r = c.get("/api/v1/observations/count")
        assert r.status_code == 401 and "disabled" in r.json()["error"]["message"]


def test_sigterm_stops_cleanly_and_keeps_what_was_acknowledged(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    tokens = make_users(db)
    srv = start(db, tmp_path / "log.txt", "--terms", "minsk-2015")
    srv.tokens = tokens
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [38.0, 48.2]},
               "properties": {"time": "2020-03-01T08:00:00Z", "category": "shelling",
                              "id": "ack-1"}}
    with srv.client("gbr") as c:
        assert c.post("/api/v1/observations", content=json.dumps(feature)).json()["imported"]
    srv.process.send_signal(signal.SIGTERM)
    assert srv.process.wait(20) == 0
    log = (tmp_path / "log.txt").read_text()
    assert "start:" in log and "stop:" in log and "Traceback" not in log
    with open_store(db) as store:
        assert store.count_observations(ObservationFilter(), Viewer.owner()) == 1


def test_users_cli_prints_the_token_alone_on_its_last_line(tmp_path: Path) -> None:
    db = str(tmp_path / "u.db")
    r = CliRunner().invoke(main, ["users", "add", "bob", "--nation", "FRA", "--role", "analyst",
                                  "--db", db])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    with open_store(db) as store:
        from truceguard.users import authenticate

        assert authenticate(store, f"Bearer {token}").name == "bob"
    r = CliRunner().invoke(main, ["users", "add", "bob", "--nation", "UK", "--role", "analyst",
                                  "--db", db])
    assert r.exit_code == 1 and "'UK'" in r.output
    r = CliRunner().invoke(main, ["users", "list", "--db", db])
    assert "bob" in r.stdout and token not in r.stdout
    r = CliRunner().invoke(main, ["audit", "verify", "--db", db])
    assert r.exit_code == 0 and "intact" in r.stdout


# -- the app itself, in process (httpx's ASGI transport on this thread's event loop) ----------
def _call(app: Any, method: str, path: str, token: str | None = None,
          **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://api",
                                     headers=headers) as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_hooks_run_on_the_event_loop_thread(tmp_path: Path) -> None:
    """Disabling a user ends live connections and an import wakes the live loop: both
    touch the loop's objects, so both hooks are called on its thread, never a worker's."""
    store = SQLiteStore(tmp_path / "hooks.db")
    admin = add_user(store, "boss", "GBR", "admin", by="test")[1]
    add_user(store, "temp", "GBR", "observer", by="test")
    called: list[tuple[str, bool]] = []

    def on_loop(what: str) -> None:
        try:
            asyncio.get_running_loop()
            called.append((what, True))
        except RuntimeError:  # no running loop: a worker thread
            called.append((what, False))

    app = create_app(store, on_user_disabled=lambda name: on_loop(f"disabled {name}"),
                     on_ingest=lambda n: on_loop(f"ingested {n}"))
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [38.0, 48.2]},
               "properties": {"time": "2020-03-01T08:00:00Z", "category": "shelling",
                              "id": "hook-1"}}
    r = _call(app, "POST", "/api/v1/users/temp/disable", admin)
    assert r.status_code == 200 and r.json()["user"]["disabled"] is True, r.text
    r = _call(app, "POST", "/api/v1/observations", admin, content=json.dumps(feature))
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    assert called == [("disabled temp", True), ("ingested 1", True)]
    store.close()


def test_a_bug_answers_the_internal_envelope_with_a_request_id(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteStore(tmp_path / "bug.db")
    app = create_app(store)

    @app.get("/api/v1/broken")
    def broken() -> None:
        raise ZeroDivisionError("a detail the client must not see")

    with caplog.at_level(logging.ERROR, logger="truceguard.server"):
        r = _call(app, "GET", "/api/v1/broken")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "internal" and "ZeroDivisionError" in err["message"]
    assert err["request_id"] == r.headers["X-Request-Id"] and len(err["request_id"]) == 16
    assert err["request_id"] in err["hint"] and "must not see" not in r.text
    logged = [rec for rec in caplog.records if err["request_id"] in rec.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None  # the traceback, once
    store.close()


def test_health_and_readiness_without_a_supervisor(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "h.db")
    app = create_app(store)
    health = _call(app, "GET", "/healthz").json()
    assert health["status"] == "ok" and health["schema_version"] == store.schema_version()
    assert [s["name"] for s in health["services"]] == ["api"]
    ready = _call(app, "GET", "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    store.close()


class _Part:
    """A service of the supervisor's shape whose state the test sets."""

    def __init__(self, name: str, state: str = "starting") -> None:
        self.name, self.state = name, state

    async def start(self) -> None:
        self.state = "running"

    async def stop(self, drain: bool = True) -> None:
        self.state = "stopped"

    def health(self) -> ServiceHealth:
        if self.state == "broken":
            raise RuntimeError("probe failed")
        return ServiceHealth(self.name, self.state, lag_s=0.5 if self.name == "live" else None)


def test_health_and_readiness_follow_the_supervisor(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    app = create_app(store)
    live, alerts = _Part("live"), _Part("alerts")
    supervisor = Supervisor([live, alerts])
    app.state.supervisor = supervisor
    r = _call(app, "GET", "/readyz")
    assert r.status_code == 503 and r.json()["status"] == "not_ready"  # not started yet
    asyncio.run(supervisor.start())
    r = _call(app, "GET", "/readyz")
    assert r.status_code == 200 and [s["state"] for s in r.json()["services"]] == [
        "running", "running"]
    health = _call(app, "GET", "/healthz").json()
    assert health["status"] == "ok"
    assert {s["name"]: s["lag_s"] for s in health["services"]} == {"live": 0.5, "alerts": None}
    alerts.state = "broken"
    health = _call(app, "GET", "/healthz")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["services"][1]["state"] == "failed"
    assert _call(app, "GET", "/readyz").status_code == 503
    store.close()
