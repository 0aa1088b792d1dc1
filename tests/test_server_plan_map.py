"""The map's two server layers: a finished plan run's sites, assets and line coverage
(``GET /api/v1/plans/{run_id}/map``) and the monitors' restrictions of movement
(``GET /api/v1/map/restrictions``), each as GeoJSON, under the API's access rules."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server_fixtures import Server, finished_plan, serving
from truceguard.store import open_store

SCENARIO, VARIANT = "reassurance-2026", "us-isr-only"  # one variant, with US assets
REQUEST = {"scenario": SCENARIO, "variants": [VARIANT], "samples": 100, "seed": 1}
# Ukraine and the NATO states around it, generously: every site and asset lies inside
EUROPE = {"lon": (10.0, 50.0), "lat": (35.0, 62.0)}
UKRAINE = {"lon": (22.0, 40.5), "lat": (44.0, 52.5)}
TOKEN = re.compile(r"^obs_[a-z2-7]{13}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("plan_map")) as srv:
        yield srv


@pytest.fixture(scope="module")
def finished(server: Server) -> dict[str, Any]:
    """A plan run started by gbr through the API, done: its poll answer."""
    return finished_plan(server, "gbr", REQUEST)


def _inside(coords: list[float], box: dict[str, tuple[float, float]]) -> bool:
    lon, lat = coords
    return box["lon"][0] <= lon <= box["lon"][1] and box["lat"][0] <= lat <= box["lat"][1]


def _map(server: Server, user: str, run_id: str, **params: str) -> Any:
    with server.client(user) as c:
        return c.get(f"/api/v1/plans/{run_id}/map", params=params)


# -- a plan run's map ---------------------------------------------------------------------------
def test_a_finished_runs_map_draws_its_sites_assets_and_coverage(
        server: Server, finished: dict[str, Any]) -> None:
    r = _map(server, "gbr", finished["run_id"])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["marking"] == finished["marking"] == "PUBLIC"
    assert doc["run_id"] == finished["run_id"]
    assert doc["scenario"] == SCENARIO and doc["variant"] == VARIANT
    assert doc["variants"] == [VARIANT]
    v = finished["results"]["variants"][VARIANT]
    by = {k: [f for f in doc["features"] if f["properties"]["layer"] == k]
          for k in ("site", "asset", "coverage")}
    assert sum(map(len, by.values())) == len(doc["features"])

    sites = v["layers"]["air_defence"]["sites"]
    assert len(by["site"]) == len(sites) == v["protected_sites"] > 0
    assert [f["properties"]["name"] for f in by["site"]] == [s["name"] for s in sites]
    out = set(v["layers"]["air_defence"]["sites_out_of_range"])
    for f in by["site"]:
        p = f["properties"]
        assert f["geometry"]["type"] == "Point" and _inside(f["geometry"]["coordinates"],
                                                            UKRAINE)
        assert p["covered"] is (p["name"] not in out)  # as the results count them
        assert p["covered"] == bool(p["covered_by"])
        assert p["kind"] and p["status"] and p["target_sets"]
        for c in p["raid_cover"]:
            assert all(0.0 < s <= 1.0 for s in c["share"].values()), c
    covered = [f for f in by["site"] if f["properties"]["covered"]]
    assert covered and len(covered) < len(by["site"])
    assert len(covered) / len(sites) == pytest.approx(v["protected_sites_air_defence_share"])
    assert all("FRA" in f["properties"]["covered_by_nations"] for f in covered)  # SAMP/T

    assert len(by["asset"]) >= 10
    for f in by["asset"]:
        p = f["properties"]
        assert _inside(f["geometry"]["coordinates"], EUROPE), p
        assert p["range_km"] > 0 and p["nation"] and p["name"] and p["kind"], p
    us = {f["properties"]["name"] for f in by["asset"] if f["properties"]["us_dependent"]}
    assert us and all(n.startswith("usa-") for n in us)
    batteries = [f["properties"] for f in by["asset"] if f["properties"]["kind"] ==
                 "air_defence"]
    assert batteries and all(b["radar_range_km"] > 0 for b in batteries)

    assert len(by["coverage"]) > 10
    length = sum(f["properties"]["length_km"] for f in by["coverage"])
    assert length == pytest.approx(v["line_km"], rel=1e-3)
    mean = sum(f["properties"]["length_km"] * f["properties"]["watched_share"]
               for f in by["coverage"]) / length
    assert mean == pytest.approx(v["line_isr_cover_share"], abs=1e-3)
    for f in by["coverage"]:
        p = f["properties"]
        assert 0.0 <= p["watched_share"] <= 1.0
        assert all(0.0 <= s <= 1.0 for s in p["by_type"].values())
        points = (f["geometry"]["coordinates"] if f["geometry"]["type"] == "LineString"
                  else [f["geometry"]["coordinates"]])
        assert all(_inside(pt, UKRAINE) for pt in points)
    assert any(f["properties"]["watched_share"] > 0 for f in by["coverage"])

    assert {"watched_share", "covered", "range_km"} <= set(doc["definitions"])
    head = doc["headlines"]["detection_probability"]  # a sampled figure keeps its interval
    assert {k: head[k] for k in v["intervals"]["detection_probability"]} == (
        v["intervals"]["detection_probability"])
    assert head["label"] == "monitoring: violations detected" and head["definition"]
    assert head["low"] <= head["value"] <= head["high"] and head["method"] == "wilson"


def test_the_variant_is_chosen_and_an_unknown_one_named(server: Server,
                                                        finished: dict[str, Any]) -> None:
    assert _map(server, "gbr", finished["run_id"], variant=VARIANT).json()["variant"] == VARIANT
    r = _map(server, "gbr", finished["run_id"], variant="no-such")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found.variant"


def _stored_run(server: Server, who: str, marking: str, state: str,
                result: dict[str, Any] | None = None, error: str = "") -> str:
    with open_store(server.db) as store:
        n = store.add_plan_run(who, REQUEST, marking=marking)
        if state != "queued":
            store.set_plan_run(n, state, result, error)
    return server.api_id("plan", n)


@pytest.mark.parametrize("state", ["queued", "running", "failed"])
def test_a_run_not_done_is_answered_409(server: Server, state: str) -> None:
    error = json.dumps({"error": {"code": "x", "message": "boom", "hint": ""}})
    run_id = _stored_run(server, "gbr", "PUBLIC", state,
                         error=error if state == "failed" else "")
    r = _map(server, "gbr", run_id)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "hint"}
    assert err["code"] == "plans.not_done"
    assert run_id in err["message"] and state in err["message"]
    assert f"GET /api/v1/plans/{run_id}" in err["hint"]


def test_another_nations_analyst_gets_the_answer_a_missing_run_gets(
        server: Server, finished: dict[str, Any]) -> None:
    run_id = _stored_run(server, "gbr", "REL TO GBR", "done", finished["results"])
    assert _map(server, "gbr", run_id).status_code == 200
    assert _map(server, "admin", run_id).status_code == 200  # another GBR user
    hidden = _map(server, "fra", run_id)
    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["error"]["code"] == "not_found.plan_run"
    absent = server.api_id("plan", 999_999)
    forged = run_id[:-2] + ("a" if run_id[-2] != "a" else "b") + run_id[-1]
    for other in (absent, forged):
        r = _map(server, "fra", other)
        assert r.status_code == 404
        assert r.json()["error"]["message"].replace(other, run_id) == (
            hidden.json()["error"]["message"])
        assert r.json()["error"]["hint"] == hidden.json()["error"]["hint"]
    not_done = _stored_run(server, "gbr", "REL TO GBR", "queued")  # 404 before 409
    assert _map(server, "fra", not_done).status_code == 404
    with server.client("ukr") as c:  # an observer reads no plan run at all
        assert c.get(f"/api/v1/plans/{finished['run_id']}/map").status_code == 403


def test_results_without_positions_are_refused_with_a_hint(server: Server,
                                                           finished: dict[str, Any]) -> None:
    older = json.loads(json.dumps(finished["results"]))
    del older["variants"][VARIANT]["asset_positions"]
    run_id = _stored_run(server, "gbr", "PUBLIC", "done", older)
    r = _map(server, "gbr", run_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "plans.no_positions"


# -- restrictions -----------------------------------------------------------------------------
def _restriction(ref: str, when: str, lon: float, lat: float, **report: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"time": when, "category": "other", "id": ref, "kind": "restriction",
                       "text": f"patrol stopped ({ref})", **report}}]}).encode()


@pytest.fixture(scope="module")
def restrictions(server: Server) -> dict[str, str]:
    """Three restrictions posted through the API: one by gbr (REL TO GBR), two by ukr
    (PUBLIC), one of those outside the window the tests ask for; and a fire report."""
    posts = [
        ("gbr", _restriction("r-gbr", "2021-08-30T10:00:00Z", 37.8, 48.0, restricted_by="RUS",
                             restriction_type="checkpoint", delay_min=45)),
        ("ukr", _restriction("r-pub", "2021-08-31T09:30:00Z", 38.1, 48.2,
                             restricted_by="armed formations",
                             restriction_type="uav_jamming")),
        ("ukr", _restriction("r-late", "2021-10-01T12:00:00Z", 37.9, 47.9, restricted_by="RUS",
                             restriction_type="mines", delay_min=120)),
        ("ukr", json.dumps({"type": "Feature", "geometry": {
            "type": "Point", "coordinates": [37.7, 48.1]}, "properties": {
            "time": "2021-08-30T11:00:00Z", "category": "shelling", "id": "f-1",
            "kind": "fire", "direction": "impact"}}).encode()),
    ]
    for user, body in posts:
        with server.client(user) as c:
            r = c.post("/api/v1/observations", content=body, params={"format": "geojson"})
            assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    return {"since": "2021-08-01", "until": "2021-09-15"}


def _restrictions(server: Server, user: str, params: dict[str, str]) -> Any:
    with server.client(user) as c:
        r = c.get("/api/v1/map/restrictions", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_restrictions_are_what_each_user_may_see(server: Server,
                                                 restrictions: dict[str, str]) -> None:
    gbr = _restrictions(server, "gbr", restrictions)
    fra = _restrictions(server, "fra", restrictions)
    assert gbr["type"] == "FeatureCollection" and gbr["count"] == len(gbr["features"]) == 2
    assert [f["properties"]["restriction_type"] for f in gbr["features"]] == [
        "checkpoint", "uav_jamming"]  # oldest first; the fire report is no restriction
    assert gbr["marking"] == "REL TO GBR"  # the narrowest of what it holds
    assert [f["properties"]["marking"] for f in gbr["features"]] == ["REL TO GBR", "PUBLIC"]
    assert fra["count"] == 1 and fra["marking"] == "PUBLIC"
    (only,) = fra["features"]
    assert only == gbr["features"][1]
    p = gbr["features"][0]["properties"]
    assert gbr["features"][0]["geometry"] == {"type": "Point", "coordinates": [37.8, 48.0]}
    assert p["time"] == "2021-08-30T10:00:00Z" and p["restricted_by"] == "RUS"
    assert p["delay_min"] == 45 and p["source"] == "api:gbr" and p["layer"] == "restriction"
    assert only["properties"]["delay_min"] is None
    for f in gbr["features"]:  # ids are the API's tokens, and name the observation
        token = f["properties"]["obs_id"]
        assert isinstance(token, str) and TOKEN.match(token), token
        with server.client("gbr") as c:
            got = c.get(f"/api/v1/observations/{token}")
        assert got.status_code == 200 and got.json()["item"]["report"]["kind"] == "restriction"


def test_the_filters_choose_the_restrictions(server: Server,
                                             restrictions: dict[str, str]) -> None:
    everything = _restrictions(server, "gbr", {})
    assert {f["properties"]["restriction_type"] for f in everything["features"]} == {
        "checkpoint", "uav_jamming", "mines"}
    late = _restrictions(server, "ukr", {"since": "2021-09-15"})
    assert [f["properties"]["restriction_type"] for f in late["features"]] == ["mines"]
    assert _restrictions(server, "gbr", {**restrictions, "source": "api:ukr"})["count"] == 1
    with server.client("gbr") as c:
        bad = c.get("/api/v1/map/restrictions", params={"sinse": "2021"})
        cursor = c.get("/api/v1/map/restrictions", params={"cursor": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "input.unknown_parameter"
    assert cursor.status_code == 400


def test_restrictions_over_the_bound_are_refused_413(server: Server,
                                                     restrictions: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from truceguard.server.api import create_app
    from truceguard.server.routes import plan_map

    monkeypatch.setattr(plan_map, "MAX_RESTRICTIONS", 1)

    async def ask(app: Any, user: str) -> httpx.Response:  # the app in process, bound 1
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers={
                "Authorization": f"Bearer {server.tokens[user]}"}) as c:
            return await c.get("/api/v1/map/restrictions", params=restrictions)

    with open_store(server.db) as store:
        app = create_app(store)
        r, one = asyncio.run(ask(app, "gbr")), asyncio.run(ask(app, "fra"))
    assert r.status_code == 413, r.text
    err = r.json()["error"]
    assert err["code"] == "map.too_large" and "since" in err["hint"]
    assert one.status_code == 200 and one.json()["count"] == 1


def test_the_list_of_runs_holds_what_each_analyst_may_read(server: Server,
                                                           finished: dict[str, Any]) -> None:
    """GET /api/v1/plans (the dashboard's choice of a run): newest first, a run of another
    nation's marking left out as if it did not exist, and no results in it."""
    gbr_only = _stored_run(server, "gbr", "REL TO GBR", "done", finished["results"])
    public = _stored_run(server, "gbr", "PUBLIC", "queued")
    with server.client("gbr") as c:
        items = c.get("/api/v1/plans").json()["items"]
    ids = [i["run_id"] for i in items]
    assert ids.index(public) < ids.index(gbr_only) < ids.index(finished["run_id"])
    first = items[ids.index(gbr_only)]
    assert first["marking"] == "REL TO GBR" and first["state"] == "done"
    assert first["who"] == "gbr" and first["request"] == REQUEST and "results" not in first
    assert first["at"].endswith("Z")
    with server.client("fra") as c:
        seen = [i["run_id"] for i in c.get("/api/v1/plans").json()["items"]]
    assert public in seen and gbr_only not in seen
    with server.client("ukr") as c:  # observers read no plan run
        assert c.get("/api/v1/plans").status_code == 403
