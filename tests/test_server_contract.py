"""The API's contract against a security review: plan runs are read by whom their inputs allow,
unknown query parameters are refused everywhere, and admins manage alert targets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server_fixtures import Server, serving
from truceguard.store import open_store

REQUEST = {"scenario": "", "variants": [], "samples": 100, "seed": 1, "sensitivity": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("contract")) as srv:
        yield srv


def _store_run(srv: Server, who: str, marking: str) -> str:
    """A plan run whose threat came from the store's violations under ``marking``: its id
    as the API shows it."""
    with open_store(srv.db) as store:
        n = store.add_plan_run(who, {**REQUEST, "scenario": "store-threat"}, marking=marking)
    return srv.api_id("plan", n)


# -- 1. plan runs -------------------------------------------------------------------------
def test_a_plan_run_from_marked_inputs_is_not_read_by_another_nation(server: Server) -> None:
    run_id = _store_run(server, "gbr", "REL TO GBR")
    with server.client("fra") as fra:
        r = fra.get(f"/api/v1/plans/{run_id}")
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found.plan_run"
    absent = server.api_id("plan", 999999)
    with server.client("fra") as fra:  # an id that does not exist answers the same
        missing = fra.get(f"/api/v1/plans/{absent}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].replace(absent, run_id) == (
        r.json()["error"]["message"])


def test_a_plan_run_is_read_by_its_owner_and_those_its_marking_covers(server: Server) -> None:
    run_id = _store_run(server, "gbr", "REL TO GBR")
    with server.client("gbr") as gbr:
        r = gbr.get(f"/api/v1/plans/{run_id}")
    assert r.status_code == 200, r.text
    assert r.json()["marking"] == "REL TO GBR"
    with server.client("admin") as admin:  # another GBR user: the marking covers them
        assert admin.get(f"/api/v1/plans/{run_id}").status_code == 200
    owned = _store_run(server, "fra", "REL TO GBR")  # the owner reads their own run
    with server.client("fra") as fra:
        assert fra.get(f"/api/v1/plans/{owned}").status_code == 200


def test_a_run_without_a_recorded_marking_is_its_owners_only(server: Server) -> None:
    with open_store(server.db) as store:
        run_id = server.api_id("plan", store.add_plan_run("gbr", {**REQUEST, "scenario": "older"},
                                                          marking=""))
    with server.client("admin") as admin:
        assert admin.get(f"/api/v1/plans/{run_id}").status_code == 404
    with server.client("gbr") as gbr:
        assert gbr.get(f"/api/v1/plans/{run_id}").status_code == 200


def test_a_shipped_scenario_run_is_recorded_public(server: Server) -> None:
    with server.client("gbr") as gbr:
        scenario = gbr.get("/api/v1/scenarios").json()["items"][0]["name"]
        started = gbr.post("/api/v1/plans", json={"scenario": scenario, "samples": 100})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    with open_store(server.db) as store:
        run = next(r for r in map(store.plan_run, range(1, 100))
                   if r is not None and server.api_id("plan", r.run_id) == run_id)
    assert run is not None and run.marking == "PUBLIC" and run.who == "gbr"
    with server.client("fra") as fra:
        r = fra.get(f"/api/v1/plans/{run_id}")
    assert r.status_code == 200 and r.json()["marking"] == "PUBLIC"


# -- 2. unknown query parameters ------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/violations?sinse=2020", "/api/v1/observations?x=1",
                                  "/api/v1/terms?verbose=1", "/api/v1/plans/1?full=1",
                                  "/api/v1/users?all=1"])
def test_an_unknown_query_parameter_is_refused(server: Server, path: str) -> None:
    with server.client("admin") as admin:
        r = admin.get(path)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "input.unknown_parameter"
    assert path.split("?")[1].split("=")[0] in err["message"]


def test_the_refusal_names_the_valid_ones_and_suggests(server: Server) -> None:
    with server.client("gbr") as gbr:
        r = gbr.get("/api/v1/violations", params={"sinse": "2020"})
        aliased = gbr.get("/api/v1/reports/period", params={
            "terms": "minsk-2015", "from": "2019-01-01", "to": "2019-02-01", "fromm": "x"})
        fine = gbr.get("/api/v1/violations", params={"since": "2019-01-01", "limit": 5})
    err = r.json()["error"]
    assert "since" in err["hint"] and "min_p" in err["hint"] and "cursor" in err["hint"]
    assert "did you mean 'since'?" in err["hint"] and "weapon_class" in err["hint"]
    assert aliased.status_code == 400 and "from" in aliased.json()["error"]["hint"]
    assert fine.status_code == 200, fine.text


def test_a_route_without_query_parameters_refuses_any(server: Server) -> None:
    with server.client("gbr") as gbr:
        r = gbr.get("/api/v1/scenarios", params={"limit": 1})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "input.unknown_parameter"


# -- 3. alert targets -------------------------------------------------------------------------
def test_admins_add_list_and_disable_alert_targets(server: Server) -> None:
    with server.client("admin") as admin:
        r = admin.post("/api/v1/alerts", json={
            "name": "ops", "webhook": "https://alerts.example.org/hook", "as": "gbr",
            "min_severity": 2})
        assert r.status_code == 201, r.text
        body = r.json()
        secret = body["secret"]
        assert len(secret) >= 32 and body["target"]["name"] == "ops"
        assert "secret" not in body["target"]
        listed = admin.get("/api/v1/alerts")
        assert listed.status_code == 200
        items = listed.json()["items"]
        assert [t["name"] for t in items] == ["ops"]
        assert secret not in listed.text and "secret" not in items[0]
        tid = items[0]["target_id"]
        gone = admin.post(f"/api/v1/alerts/{tid}/disable")
        assert gone.status_code == 200 and gone.json()["target"]["disabled"] is True
        assert admin.get("/api/v1/alerts").json()["items"][0]["disabled"] is True
        assert tid.startswith("tgt_") and gone.json()["target"]["target_id"] == tid
        absent = server.api_id("alert_target", 999999)
        assert admin.post(f"/api/v1/alerts/{absent}/disable").status_code == 404
        assert admin.post("/api/v1/alerts/999999/disable").status_code == 404
    with open_store(server.db) as store:
        actions = [(e.actor, e.action, e.detail) for e in store.audit_entries()]
    added = [d for a, act, d in actions if act == "alerts.add"]
    assert added and added[-1]["url"] == "https://alerts.example.org/hook"
    assert added[-1]["as"] == "gbr" and added[-1]["allow_private"] is False
    assert any(act == "alerts.add" and a == "admin" for a, act, _ in actions)
    assert any(act == "alerts.disable" and a == "admin" for a, act, _ in actions)
    assert secret not in str(actions)


def test_alert_targets_are_for_admins(server: Server) -> None:
    with server.client("gbr") as gbr:
        assert gbr.get("/api/v1/alerts").status_code == 403
        assert gbr.post("/api/v1/alerts", json={"webhook": "https://alerts.example.org/h",
                                                "as": "gbr"}).status_code == 403


def test_private_and_credentialed_targets_are_refused(server: Server) -> None:
    with server.client("admin") as admin:
        private = admin.post("/api/v1/alerts", json={"webhook": "http://127.0.0.1:9/h",
                                                     "as": "gbr"})
        creds = admin.post("/api/v1/alerts", json={"webhook": "https://u:p@alerts.example.org/h",
                                                   "as": "gbr"})
        allowed = admin.post("/api/v1/alerts", json={"webhook": "http://10.0.0.5/h",
                                                     "as": "gbr", "allow_private": True})
        unknown = admin.post("/api/v1/alerts", json={"webhook": "https://alerts.example.org/h2",
                                                     "as": "gbr", "colour": "red"})
    assert private.status_code == 400, private.text
    assert creds.status_code == 400, creds.text
    assert allowed.status_code == 403, allowed.text
    err = allowed.json()["error"]
    assert "allow_private" in err["message"] and "alerts add" in err["hint"]
    assert unknown.status_code == 400
    with open_store(server.db) as store:
        assert not [t for t in store.alert_targets() if t.url.startswith("http://10.")]

