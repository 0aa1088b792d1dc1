"""Property: across every endpoint, no user ever receives what is not releasable to them,
counts included.

Hypothesis draws observations with random markings, close enough to fuse into shared
incidents, and the server's users of five nations and groups ask every endpoint. What each may
see is decided here independently of the store's SQL (``Viewer.may_see`` on the parsed
marking), and compared with what the API answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_fixtures import USERS, Server, make_users, running
from truceguard.ingest import ingest_records
from truceguard.judge.terms import load_terms
from truceguard.marking import Viewer, parse_marking
from truceguard.model import Observation, sha256_text
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import ObservationFilter, open_store

MARKINGS = ["PUBLIC", "REL TO GBR", "REL TO FRA", "REL TO NATO", "REL TO EU", "REL TO FVEY",
            "REL TO UKR", "REL TO FRA, GBR", "REL TO DEU, POL", "REL TO GBR, EU"]
NATION = {name: nation for name, nation, _, _ in USERS}
DAY0 = 1_577_836_800  # 2020-01-01
_examples = iter(range(10_000))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("rel")
    db = str(tmp / "rel.db")
    tokens = make_users(db)
    with running(db, tmp / "server.log") as srv:
        srv.tokens = tokens
        yield srv


reports = st.lists(
    st.tuples(st.sampled_from(MARKINGS), st.integers(0, 3), st.integers(0, 3),
              st.integers(0, 1800), st.sampled_from(["shelling", "explosion", "shots"])),
    min_size=1, max_size=12)


def _store(db: str, day: int, drawn: list[tuple[str, int, int, int, str]]) -> list[str]:
    t0 = DAY0 + day * 86400 + 36000
    obs, refs = [], []
    for k, (marking, dx, dy, dt, cat) in enumerate(drawn):
        ref = f"d{day}-r{k}"
        raw = f"{ref},{marking},{dx},{dy},{dt},{cat}"
        refs.append(ref)
        obs.append(Observation(source="patrol", how_known="seen", t_start=t0 + dt,
                               t_end=t0 + dt, time_precision_s=1, lat=48.30 + dy * 0.004,
                               lon=38.05 + dx * 0.004, uncertainty_m=100.0, category=cat,
                               source_ref=ref, releasability=parse_marking(marking).text,
                               raw=raw, raw_sha256=sha256_text(raw)))
    with open_store(db) as store:
        ingest_records(store, obs, source="hypothesis")
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))
    return refs


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=reports)
def test_no_endpoint_shows_a_user_what_they_may_not_see(server: Server, drawn: list) -> None:
    day = next(_examples)
    refs = _store(server.db, day, drawn)
    with open_store(server.db) as store:
        mine = [o for o in store.observations(ObservationFilter(), Viewer.owner())
                if o.source_ref in refs]
    window = {"since": _iso(DAY0 + day * 86400), "until": _iso(DAY0 + day * 86400 + 86399)}
    for user in NATION:
        viewer = Viewer.of(NATION[user])
        visible = [o for o in mine if viewer.may_see(parse_marking(o.releasability))]
        hidden_refs = {o.source_ref for o in mine} - {o.source_ref for o in visible}
        with server.client(user) as c:
            texts = []
            r = c.get("/api/v1/observations", params={**window, "limit": 1000})
            texts.append(r.text)
            got = r.json()["items"]
            assert sorted(o["source_ref"] for o in got) == sorted(o.source_ref for o in visible)
            count = c.get("/api/v1/observations/count", params=window).json()
            assert count["count"] == len(visible)
            for o in mine:
                r = c.get(f"/api/v1/observations/{server.api_id('observation', o.obs_id or 0)}")
                assert r.status_code == (200 if o in visible else 404)
                texts.append(r.text)
            r = c.get("/api/v1/incidents", params={**window, "limit": 1000})
            texts.append(r.text)
            incidents = r.json()["items"]
            # Every id an observation names is an incident of this user's own view, which
            # holds exactly the observations naming it.
            expect: dict[int, int] = {}
            for o in got:
                assert o["incident_id"] is not None
                expect[o["incident_id"]] = expect.get(o["incident_id"], 0) + 1
            assert {i["incident_id"]: i["n_observations"] for i in incidents} == expect
            for inc in incidents:
                r = c.get(f"/api/v1/incidents/{inc['incident_id']}")
                texts.append(r.text)
                members = r.json()["observations"]
                assert all(viewer.may_see(parse_marking(o["releasability"])) for o in members)
                assert {o["incident_id"] for o in members} == {inc["incident_id"]}
                assert len(members) == inc["n_observations"]
                assert viewer.may_see(parse_marking(r.json()["marking"]))
            for o in mine:
                if o in visible:
                    obs_id = server.api_id("observation", o.obs_id or 0)
                    one = c.get(f"/api/v1/observations/{obs_id}").json()["item"]
                    assert one["incident_id"] in expect
            hidden_incidents = {o.incident_id for o in mine} - set(expect)
            for iid in hidden_incidents:
                assert c.get(f"/api/v1/incidents/{iid}").status_code == 404
            r = c.get("/api/v1/violations", params={**window, "limit": 1000, "min_p": 0})
            texts.append(r.text)
            for v in r.json()["items"]:
                assert v["incident_id"] in expect
                assert viewer.may_see(parse_marking(v["releasability"]))
                texts.append(c.get(f"/api/v1/violations/{v['violation_id']}").text)
            if user in ("gbr", "fra"):  # analysts: the report too
                r = c.get("/api/v1/reports/period", params={
                    "terms": "minsk-2015", "from": window["since"][:10],
                    "to": window["since"][:10], "format": "json"})
                texts.append(r.text)
                doc = r.json()
                assert {v["incident_id"] for v in doc["violations"]} <= set(expect)
                assert viewer.may_see(parse_marking(doc["marking"]))
            joined = "\n".join(texts)
            for ref in hidden_refs:
                assert f'"{ref}"' not in joined and f"{ref}," not in joined, (user, ref)


def _iso(t: int) -> str:
    from truceguard.model import iso

    return iso(t)


def test_the_property_test_sees_restricted_data(server: Server, tmp_path: Path) -> None:
    """A guard against a vacuous property: the fixture's data holds restricted reports that
    some user may not see."""
    refs = _store(server.db, 9000, [("REL TO GBR", 0, 0, 0, "shelling"),
                                    ("PUBLIC", 0, 0, 60, "shelling")])
    with server.client("fra") as c:
        got = c.get("/api/v1/observations", params={"since": _iso(DAY0 + 9000 * 86400),
                                                    "until": _iso(DAY0 + 9001 * 86400)}).json()
    assert [o["source_ref"] for o in got["items"]] == [refs[1]]
    assert json.dumps(got).count(refs[0]) == 0


def test_a_hidden_bridge_gives_no_observation_a_shared_incident_id(server: Server) -> None:
    """Two PUBLIC reports 5 km apart are two incidents to a UKR observer; a REL TO GBR report
    between them (which fuses all three for GBR) must not make the observer's observations
    name one incident id, nor name an id outside the observer's own listing."""
    day = 9100
    t0 = DAY0 + day * 86400 + 36000
    obs = []
    for ref, lat, marking in (("north", 47.745, "PUBLIC"), ("south", 47.700, "PUBLIC"),
                              ("bridge", 47.7225, "REL TO GBR")):
        raw = f"{ref},{lat},{marking}"
        obs.append(Observation(source="patrol", how_known="seen", t_start=t0, t_end=t0,
                               time_precision_s=1, lat=lat, lon=38.0, uncertainty_m=100.0,
                               category="shelling", source_ref=f"b-{ref}",
                               releasability=marking, raw=raw, raw_sha256=sha256_text(raw)))
    with open_store(server.db) as store:
        ingest_records(store, obs, source="bridge")
        fuse_store(store)
        owner = {o.source_ref: o.incident_id for o in store.observations(
            ObservationFilter(sources=("patrol",)), Viewer.owner()) if o.source_ref[:2] == "b-"}
    assert len(set(owner.values())) == 1  # the owner sees one incident
    window = {"since": _iso(t0 - 60), "until": _iso(t0 + 60)}
    with server.client("ukr") as c:
        got = c.get("/api/v1/observations", params=window).json()["items"]
        listed = {i["incident_id"] for i in
                  c.get("/api/v1/incidents", params=window).json()["items"]}
        ids = {o["source_ref"]: o["incident_id"] for o in got}
        assert set(ids) == {"b-north", "b-south"}
        assert ids["b-north"] != ids["b-south"]
        assert set(ids.values()) == listed
        for ref, iid in ids.items():
            members = c.get(f"/api/v1/incidents/{iid}").json()["observations"]
            assert [(o["source_ref"], o["incident_id"]) for o in members] == [(ref, iid)]
