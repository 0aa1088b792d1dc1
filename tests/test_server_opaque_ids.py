"""Ids the API shows are opaque: a viewer's answers tell nothing of records they may not see.

The attack: with the store's sequential numbers as ids, a GBR analyst who sees observations 17
and 25 knows that 7 records lie between them which they may not see. Here GBR and FRA analysts
share a real server, and FRA-only records are interleaved with public ones (observations,
violations, plan runs). Every answer GBR gets is searched for an id that is a number (cursors
included), every id found must be a token of its kind, and every way of naming a record GBR
cannot read (hidden, missing, forged, another kind's token, the bare store number) must get
the very same 404.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_fixtures import Server, running, serving
from truceguard.errors import InputError, NotFoundError
from truceguard.ingest import ingest_records
from truceguard.judge.terms import load_terms
from truceguard.marking import Viewer
from truceguard.model import Observation, StatusChange, sha256_text
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.server.ids import ApiIds, not_found
from truceguard.store import ObservationFilter, ViolationFilter, open_store

T0 = 1_577_836_800 + 1800  # 2020-01-01 00:30 UTC
DAY = {"since": "2020-01-01T00:00:00Z", "until": "2020-01-01T23:59:59Z"}
HIDDEN = "REL TO FRA"
PLAN = {"scenario": "store-threat", "variants": [], "samples": 100, "seed": 1,
        "sensitivity": False}
# The fields that name records, and the prefix of their tokens.
ID_FIELDS = {"obs_id": "obs", "obs_ids": "obs", "observation_ids": "obs",
             "violation_id": "vio", "violation_ids": "vio", "run_id": "run",
             "target_id": "tgt"}


def _observations() -> list[Observation]:
    """Nine reports two hours apart (nine incidents, nine violations): every fourth public,
    the three between each pair FRA's only."""
    out = []
    for k in range(9):
        marking = "PUBLIC" if k % 4 == 0 else HIDDEN
        raw = f"opaque-{k},{marking}"
        out.append(Observation(
            source="patrol", how_known="seen", t_start=T0 + k * 7200, t_end=T0 + k * 7200,
            time_precision_s=1, lat=48.30, lon=38.05, uncertainty_m=100.0, category="shelling",
            source_ref=f"opaque-{k}", releasability=marking, raw=raw,
            raw_sha256=sha256_text(raw)))
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("opaque")
    with open_store(str(folder / "mission.db")) as store:
        ingest_records(store, _observations(), source="opaque")
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))
        for k in range(9):  # plan runs: GBR's own, with FRA's between them
            if k % 4 == 0:
                store.add_plan_run("gbr", PLAN, marking="REL TO GBR")
            else:
                store.add_plan_run("fra", PLAN, marking=HIDDEN)
    with serving(folder) as srv:
        with srv.client("admin") as admin:
            for name in ("ops-1", "ops-2"):
                r = admin.post("/api/v1/alerts", json={
                    "name": name, "webhook": f"https://alerts.example.org/{name}", "as": "gbr"})
                assert r.status_code == 201, r.text
        yield srv


def _owner_view(db: str) -> tuple[list[Observation], list[Any], list[Any]]:
    """Every observation, violation and plan run of the store, in store order."""
    with open_store(db) as store:
        obs = sorted(store.observations(ObservationFilter(), Viewer.owner()),
                     key=lambda o: o.obs_id or 0)
        vio = sorted(store.violations(ViolationFilter(), Viewer.owner()),
                     key=lambda v: v.violation_id)
        runs = [store.plan_run(n) for n in range(1, 10)]
    return obs, vio, runs


def _ids(doc: Any, found: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Every (field, value) of ``doc`` whose field names records; list values one by one."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ID_FIELDS:
                found.extend((k, x) for x in (v if isinstance(v, list) else [v]))
            else:
                _ids(v, found)
    elif isinstance(doc, list):
        for v in doc:
            _ids(v, found)
    return found


def _cursors(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        return ([doc["next_cursor"]] if doc.get("next_cursor") else []) + [
            c for v in doc.values() for c in _cursors(v)]
    if isinstance(doc, list):
        return [c for v in doc for c in _cursors(v)]
    return []


def _answers(server: Server, c: httpx.Client, admin: httpx.Client) -> list[Any]:
    """What GBR's analyst (and, for alert targets, GBR's admin) gets from every endpoint that
    shows observation, violation, plan-run or alert-target ids."""
    docs: list[Any] = []

    def get(client: httpx.Client, url: str, **params: Any) -> Any:
        r = client.get(url, params=params)
        assert r.status_code == 200, (url, r.text)
        docs.append(r.json())
        return r.json()

    listed = get(c, "/api/v1/observations", **DAY)
    for o in listed["items"]:
        get(c, f"/api/v1/observations/{o['obs_id']}")
        get(c, f"/api/v1/observations/{o['obs_id']}/attachments")
    get(c, "/api/v1/observations", **DAY, limit=1)  # a cursor
    for i in get(c, "/api/v1/incidents", **DAY)["items"]:
        get(c, f"/api/v1/incidents/{i['incident_id']}")
    violations = get(c, "/api/v1/violations", **DAY, min_p=0)["items"]
    get(c, "/api/v1/violations", **DAY, min_p=0, limit=1)
    for v in violations:
        get(c, f"/api/v1/violations/{v['violation_id']}")
    r = c.post(f"/api/v1/violations/{violations[0]['violation_id']}/status",
               json={"status": "verified", "why": "two cameras"})
    assert r.status_code == 200, r.text
    docs.append(r.json())
    get(c, "/api/v1/reviews/queue", include_own="true", limit=1)
    get(c, "/api/v1/register", terms="minsk-2015", **DAY)
    get(c, "/api/v1/reports/period", terms="minsk-2015", **{"from": "2020-01-01",
                                                              "to": "2020-01-01"})
    for k in (1, 5, 9):  # GBR's own plan runs, named as the API names them
        get(c, f"/api/v1/plans/{server.api_id('plan', k)}")
    for t in get(admin, "/api/v1/alerts")["items"]:
        r = admin.post(f"/api/v1/alerts/{t['target_id']}/disable")
        assert r.status_code == 200, r.text
        docs.append(r.json())
    return docs


def test_no_answer_shows_a_record_number_and_every_id_is_a_token(server: Server) -> None:
    obs, vio, _ = _owner_view(server.db)
    with server.client("gbr") as c, server.client("admin") as admin:
        docs = _answers(server, c, admin)
    found = _ids(docs, [])
    for field, value in found:
        assert isinstance(value, str), f"{field} is the number {value!r}"
        assert re.fullmatch(f"{ID_FIELDS[field]}_[a-z2-7]{{13}}", value), (field, value)
    # not vacuous: every kind was shown, and the hidden records exist
    assert {ID_FIELDS[f] for f, _ in found} == {"obs", "vio", "run", "tgt"}
    assert sum(o.releasability == HIDDEN for o in obs) == 6
    assert sum(v.releasability == HIDDEN for v in vio) == 6
    cursors = _cursors(docs)
    assert len(cursors) >= 3
    for cursor in cursors:
        t, position = json.loads(base64.urlsafe_b64decode(cursor + "==="))
        assert isinstance(t, int) and isinstance(position, str), cursor
        assert not position.isdigit()


def test_the_visible_records_tokens_neither_count_nor_order_the_hidden_ones(
        server: Server) -> None:
    """GBR sees observations 1, 5 and 9 of the store; its ids must not be those numbers, nor
    any numbers at all, nor sort as the store's numbers do across kinds and nodes."""
    obs, _, _ = _owner_view(server.db)
    visible = [o for o in obs if o.releasability == "PUBLIC"]
    assert [o.obs_id for o in visible] == [1, 5, 9]
    with server.client("gbr") as c:
        items = c.get("/api/v1/observations", params=DAY).json()["items"]
    tokens = [o["obs_id"] for o in items]
    assert [o["source_ref"] for o in items] == [o.source_ref for o in visible]
    assert tokens == [server.api_id("observation", o.obs_id or 0) for o in visible]
    assert not any(str(o.obs_id) == t for o, t in zip(visible, tokens, strict=True))
    # The same numbers of another kind give unrelated tokens.
    assert {t[4:] for t in tokens}.isdisjoint(
        {server.api_id("violation", o.obs_id or 0)[4:] for o in visible})


def _refusal(c: httpx.Client, method: str, url: str, named: str,
             **kwargs: Any) -> tuple[Any, ...]:
    """A 404's status and envelope, with the name the request used (as much as the message
    shows of it) replaced by ``X``."""
    r = c.request(method, url, **kwargs)
    env = r.json()
    err = env.get("error", {})
    return (r.status_code, sorted(env), sorted(err), err.get("code"),
            err.get("message", "").replace(named[:40], "X"), err.get("hint"))


def _names_for(server: Server, kind: Any, hidden: int, seen_token: str,
               other_kind_token: str, seen_number: int) -> list[str]:
    """Ways to name a record that the viewer cannot read: hidden, missing, forged (the
    visible token with one letter changed), another kind's token, the bare number, junk."""
    last = "a" if seen_token[-2] != "a" else "b"
    return [server.api_id(kind, hidden), server.api_id(kind, 10**9),
            seen_token[:-2] + last + seen_token[-1], other_kind_token, str(seen_number),
            "0", "-1", "x" * 300]


def test_hidden_missing_forged_and_foreign_ids_get_the_same_404(server: Server) -> None:
    obs, vio, _ = _owner_view(server.db)
    hidden_obs = next(o.obs_id for o in obs if o.releasability == HIDDEN)
    seen_obs = next(o.obs_id for o in obs if o.releasability == "PUBLIC")
    hidden_vio = next(v.violation_id for v in vio if v.releasability == HIDDEN)
    seen_vio = next(v.violation_id for v in vio if v.releasability == "PUBLIC")
    obs_token = server.api_id("observation", seen_obs or 0)
    vio_token = server.api_id("violation", seen_vio)
    fra_run, gbr_run = 2, 1
    run_token = server.api_id("plan", gbr_run)
    cases = [
        ("GET", "/api/v1/observations/{}", _names_for(
            server, "observation", hidden_obs or 0, obs_token, vio_token, seen_obs or 0), {}),
        ("GET", "/api/v1/observations/{}/attachments", _names_for(
            server, "observation", hidden_obs or 0, obs_token, vio_token, seen_obs or 0), {}),
        ("GET", "/api/v1/violations/{}", _names_for(
            server, "violation", hidden_vio, vio_token, obs_token, seen_vio), {}),
        ("POST", "/api/v1/violations/{}/status", _names_for(
            server, "violation", hidden_vio, vio_token, obs_token, seen_vio),
         {"json": {"status": "verified", "why": "x"}}),
        ("GET", "/api/v1/plans/{}", _names_for(
            server, "plan", fra_run, run_token, obs_token, gbr_run), {}),
    ]
    with server.client("gbr") as c:
        assert c.get(f"/api/v1/observations/{obs_token}").status_code == 200
        assert c.get(f"/api/v1/violations/{vio_token}").status_code == 200
        assert c.get(f"/api/v1/plans/{run_token}").status_code == 200
        for method, url, names, kwargs in cases:
            first = _refusal(c, method, url.format(names[0]), names[0], **kwargs)
            assert first[0] == 404, (url, first)
            for name in names[1:]:
                got = _refusal(c, method, url.format(name), name, **kwargs)
                assert got == first, (url, name, got, first)
        sha = "0" * 64  # through an observation: the same again
        assert _refusal(c, "GET", f"/api/v1/attachments/{sha}",
                        server.api_id("observation", hidden_obs or 0),
                        params={"obs_id": server.api_id("observation", hidden_obs or 0)}
                        )[0] == 404
        assert c.get(f"/api/v1/attachments/{sha}", params={"obs_id": "7"}).status_code == 404
    with server.client("admin") as admin:
        targets = admin.get("/api/v1/alerts").json()["items"]
        names = _names_for(server, "alert_target", 10**6, targets[0]["target_id"], obs_token,
                           1)[1:]
        first = _refusal(admin, "POST", f"/api/v1/alerts/{names[0]}/disable", names[0])
        assert first[0] == 404
        for name in names[1:]:
            assert _refusal(admin, "POST", f"/api/v1/alerts/{name}/disable", name) == first


def test_another_node_on_the_same_database_shows_the_same_tokens(server: Server,
                                                                   tmp_path: Path) -> None:
    with server.client("gbr") as c:
        first = c.get("/api/v1/violations", params={**DAY, "min_p": 0}).json()
    with running(server.db, tmp_path / "second.log") as second:
        second.tokens = server.tokens
        with second.client("gbr") as c:
            again = c.get("/api/v1/violations", params={**DAY, "min_p": 0}).json()
            vid = again["items"][0]["violation_id"]
            assert c.get(f"/api/v1/violations/{vid}").status_code == 200
    assert [v["violation_id"] for v in again["items"]] == [
        v["violation_id"] for v in first["items"]]


def test_the_schema_says_ids_are_tokens(server: Server) -> None:
    doc = httpx.get(server.url + "/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for model, field, prefix in (("ObservationRecord", "obs_id", "obs"),
                                 ("ViolationRecord", "violation_id", "vio"),
                                 ("PlanRun", "run_id", "run"),
                                 ("AlertTargetRecord", "target_id", "tgt"),
                                 ("AttachmentRecord", "obs_id", "obs"),
                                 ("StatusChanged", "violation_id", "vio")):
        prop = schemas[model]["properties"][field]
        assert prop["type"] == "string" and prop["pattern"].startswith(f"^{prefix}_"), model
        assert field in schemas[model]["required"], model
    for path, method, name, prefix in (
            ("/api/v1/observations/{obs_id}", "get", "obs_id", "obs"),
            ("/api/v1/violations/{violation_id}/status", "post", "violation_id", "vio"),
            ("/api/v1/plans/{run_id}", "get", "run_id", "run"),
            ("/api/v1/alerts/{target_id}/disable", "post", "target_id", "tgt"),
            ("/api/v1/attachments/{sha256}", "get", "obs_id", "obs")):
        param = next(p for p in doc["paths"][path][method]["parameters"] if p["name"] == name)
        schema = param["schema"]
        if "anyOf" in schema:
            schema = next(s for s in schema["anyOf"] if s.get("type") == "string")
        assert schema["type"] == "string" and schema["pattern"].startswith(f"^{prefix}_"), path


# -- the translator, without a server --------------------------------------------------------
IDS = ApiIds(lambda: b"s" * 32)


def test_shown_writes_every_record_number_as_its_token_and_nothing_else() -> None:
    trail = StatusChange(seq=4, at=T0, status="new", who="a", why="")
    doc = {"obs_id": 5, "violation_ids": [1, 2], "run_id": 3, "target_id": 4,
           "incident_id": 77, "count": 5, "published": True, "system_id": "S5",
           "items": [{"obs_ids": (5, 6)}], "trail": [trail], "note": "5"}
    got = IDS.shown(doc)
    token = IDS.token
    assert got == {"obs_id": token("observation", 5),
                   "violation_ids": [token("violation", 1), token("violation", 2)],
                   "run_id": token("plan", 3), "target_id": token("alert_target", 4),
                   "incident_id": 77, "count": 5, "published": True,
                   "system_id": "sys_" + token("observation", 5)[4:],
                   "items": [{"obs_ids": (token("observation", 5), token("observation", 6))}],
                   "trail": [trail], "note": "5"}
    assert doc["obs_id"] == 5  # the answer is a copy
    obs = _observations()[0]
    obs.obs_id = 9
    assert IDS.shown([obs])[0].obs_id == token("observation", 9)  # dataclasses too


def test_a_token_for_a_number_no_store_gives_is_not_found() -> None:
    for n in (0, 2**63, 2**64 - 1):
        with pytest.raises(NotFoundError) as err:
            IDS.record("violation", IDS.token("violation", n))
        assert err.value.code == "not_found.violation"
    assert IDS.record("violation", IDS.token("violation", 2**63 - 1)).n == 2**63 - 1


def test_errors_about_a_record_name_it_by_its_token() -> None:
    record = IDS.record("plan", IDS.token("plan", 20))
    with pytest.raises(NotFoundError) as err, IDS.speaking_of(record):
        raise NotFoundError("no plan run 20", code="not_found.plan_run")
    forged = not_found("plan", record.token)
    assert (err.value.message, err.value.hint, err.value.code) == (
        forged.message, forged.hint, forged.code)
    with pytest.raises(InputError) as bad, IDS.speaking_of(record):
        raise InputError("run 20 is withdrawn; 20,480 bytes, 20.5 km", hint="see 20")
    assert bad.value.message == f"run {record.token} is withdrawn; 20,480 bytes, 20.5 km"
    assert bad.value.hint == f"see {record.token}"
