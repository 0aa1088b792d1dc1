"""Two-person sign-off: a violation is published only when a second analyst, not the one who
verified it, confirms it. The whole flow on each store backend, the refusals, the audit log,
the CLI and the HTTP API."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import wait_for
from tests.server_fixtures import Server, make_users, running
from truceguard.cli import main
from truceguard.errors import ForbiddenError, InputError, NotFoundError, TruceguardError
from truceguard.ingest import import_file
from truceguard.judge.fusion import FusionParams
from truceguard.judge.terms import load_terms
from truceguard.marking import Viewer
from truceguard.model import REVIEW_DECISIONS, VIOLATION_STATUSES
from truceguard.pipeline import (
    MAX_REASON,
    adjudicate_store,
    fuse_store,
    review_queue,
    set_violation_status,
)
from truceguard.report.period import build_period_report, render_html, render_markdown
from truceguard.store import Store, ViolationFilter, open_store

OWNER = Viewer.owner()
TERMS = "minsk-2015"
# Five shellings days apart inside the Minsk area: five violations of the ceasefire clause.
PATROLS = [("p1", "2019-06-01T10:00:00Z", 48.30, 38.05, "shelling", "PUBLIC"),
           ("p2", "2019-06-03T10:00:00Z", 48.00, 37.80, "shelling", "PUBLIC"),
           ("p3", "2019-06-05T10:00:00Z", 48.55, 38.00, "shelling", "PUBLIC"),
           ("p4", "2019-06-07T10:00:00Z", 47.95, 37.60, "shelling", "PUBLIC"),
           ("p5", "2019-06-09T10:00:00Z", 48.30, 38.05, "explosion", "REL TO GBR")]


def patrol_file(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        w.writerows(PATROLS)
    return path


def judged(store: Store, tmp_path: Path) -> list[int]:
    """The store with the patrols imported, fused and adjudicated; the violation ids, oldest
    first."""
    import_file(store, patrol_file(tmp_path / "patrols.csv"), source="patrol")
    fuse_store(store)
    adjudicate_store(store, load_terms(TERMS))
    ids = [v.violation_id for v in store.violations(ViolationFilter(), OWNER)]
    assert len(ids) == len(PATROLS)
    return ids


def status_of(store: Store, vid: int) -> str:
    v = store.get_violation(vid, OWNER)
    assert v is not None
    return v.status


def review_audit(store: Store) -> list[tuple[str, dict[str, object]]]:
    return [(e.actor, e.detail) for e in store.audit_entries() if e.action == "violation.status"]


def refused(exc_info: pytest.ExceptionInfo[TruceguardError], code: str, named: str) -> None:
    """A domain error with ``code``, a message naming ``named`` and a hint."""
    err = exc_info.value
    assert err.code == code, err.code
    assert named in err.message, err.message
    assert err.hint


# -- the flow on each backend ---------------------------------------------------------------


def test_two_analysts_publish(store: Store, tmp_path: Path) -> None:
    vid = judged(store, tmp_path)[0]
    set_violation_status(store, vid, "under_review", "anna", "asked a second source")
    set_violation_status(store, vid, "verified", "anna", "two cameras, crater seen")
    assert [a.violation.violation_id for a in review_queue(store, OWNER)] == [vid]
    assert review_queue(store, OWNER, "anna") == []
    assert review_queue(store, OWNER, " Anna ") == []  # the same person, however spelt
    waiting = review_queue(store, OWNER, "boris")
    assert [a.violation.violation_id for a in waiting] == [vid]
    assert (waiting[0].verified.who, waiting[0].verified.why) == ("anna",
                                                                 "two cameras, crater seen")
    assert waiting[0].as_dict()["verified_by"] == "anna"
    with pytest.raises(ForbiddenError) as e:
        set_violation_status(store, vid, "published", "ANNA", "my own work")
    refused(e, "forbidden.same_analyst", "'ANNA'")
    assert status_of(store, vid) == "verified"
    trail = set_violation_status(store, vid, "published", "boris", "footage checked")
    assert [(t.status, t.who) for t in trail] == [
        ("new", "truceguard"), ("under_review", "anna"), ("verified", "anna"),
        ("published", "boris")]
    assert status_of(store, vid) == "published"
    assert review_queue(store, OWNER, "boris") == []
    listed = store.violations(ViolationFilter(statuses=("published",)), OWNER)
    assert [v.violation_id for v in listed] == [vid]
    assert review_audit(store) == [
        ("anna", {"violation_id": vid, "from": "new", "to": "under_review",
                  "decision": "under_review", "reason": "asked a second source"}),
        ("anna", {"violation_id": vid, "from": "under_review", "to": "verified",
                  "decision": "verified", "reason": "two cameras, crater seen"}),
        ("boris", {"violation_id": vid, "from": "verified", "to": "published",
                   "decision": "published", "reason": "footage checked"})]
    # A published finding changes only when re-adjudication withdraws it.
    for decision in ("discounted", "under_review", "returned", "verified", "published"):
        with pytest.raises(InputError) as e:
            set_violation_status(store, vid, decision, "carl", "second thoughts")
        refused(e, "input.already_published", str(vid))
    # Re-adjudication keeps the published status.
    adjudicate_store(store, load_terms(TERMS))
    assert status_of(store, vid) == "published"


def test_the_second_analyst_may_return_it(store: Store, tmp_path: Path) -> None:
    vid = judged(store, tmp_path)[1]
    set_violation_status(store, vid, "verified", "anna", "crater seen")
    trail = set_violation_status(store, vid, "returned", "boris", "the crater is older")
    assert (trail[-1].status, trail[-1].who, trail[-1].why) == (
        "under_review", "boris", "the crater is older")
    assert status_of(store, vid) == "under_review"
    assert review_audit(store)[-1] == ("boris", {
        "violation_id": vid, "from": "verified", "to": "under_review", "decision": "returned",
        "reason": "the crater is older"})
    with pytest.raises(InputError) as e:  # only a verified violation can be returned
        set_violation_status(store, vid, "returned", "boris", "again")
    refused(e, "input.not_verified", "'under_review'")
    # verified again, this time by boris: now anna may publish it
    set_violation_status(store, vid, "verified", "boris", "a second crater")
    with pytest.raises(ForbiddenError):
        set_violation_status(store, vid, "published", "boris", "mine")
    set_violation_status(store, vid, "published", "anna", "agreed")
    assert status_of(store, vid) == "published"


def test_discounted_before_publishing(store: Store, tmp_path: Path) -> None:
    first, second, third = judged(store, tmp_path)[:3]
    set_violation_status(store, first, "discounted", "anna", "a training range")
    set_violation_status(store, second, "under_review", "anna", "odd report")
    set_violation_status(store, second, "discounted", "anna", "a quarry blast")
    set_violation_status(store, third, "verified", "anna", "seen")
    set_violation_status(store, third, "discounted", "boris", "the same blast twice")
    assert {status_of(store, v) for v in (first, second, third)} == {"discounted"}
    with pytest.raises(InputError) as e:
        set_violation_status(store, first, "published", "boris", "x")
    refused(e, "input.not_verified", "'discounted'")
    set_violation_status(store, first, "under_review", "boris", "new footage")  # reopened
    assert status_of(store, first) == "under_review"


def test_refusals_name_the_value_and_leave_no_trace(store: Store, tmp_path: Path) -> None:
    vid = judged(store, tmp_path)[0]
    before_audit = len(store.audit_entries())
    cases: list[tuple[str, str, str, str, str]] = [
        ("verifed", "anna", "x", "input.bad_status", "'verifed'"),
        ("new", "anna", "x", "input.bad_status", "'new'"),
        ("withdrawn", "anna", "x", "input.bad_status", "'withdrawn'"),
        ("verified", "  ", "x", "input.missing_reviewer", "--by"),
        ("verified", "anna", "", "input.missing_reason", "--why"),
        ("verified", "anna", "   ", "input.missing_reason", "--why"),
        ("verified", "anna", "w" * (MAX_REASON + 1), "input.reason_too_long", "2,001"),
        ("published", "anna", "x", "input.not_verified", "'new'"),
        ("returned", "anna", "x", "input.not_verified", "'new'"),
    ]
    for status, who, why, code, named in cases:
        with pytest.raises(InputError) as e:
            set_violation_status(store, vid, status, who, why)
        refused(e, code, named)
    with pytest.raises(InputError) as e:
        set_violation_status(store, vid, "verifed", "anna", "x")
    assert "verified" in e.value.hint  # did you mean ...
    with pytest.raises(NotFoundError) as nf:
        set_violation_status(store, 10**9, "verified", "anna", "x")
    assert nf.value.code == "not_found.violation"
    set_violation_status(store, vid, "verified", "anna", "w" * MAX_REASON)  # at the limit
    with pytest.raises(InputError) as e:
        set_violation_status(store, vid, "verified", "boris", "seen again")
    refused(e, "input.same_status", "'verified'")
    assert "publish" in e.value.hint
    with pytest.raises(ForbiddenError):
        set_violation_status(store, vid, "published", "anna", "x")
    # nothing refused reached the trail or the audit log
    assert [t.status for t in store.status_trail(vid)] == ["new", "verified"]
    assert len(store.audit_entries()) == before_audit + 1
    assert set(REVIEW_DECISIONS) - {"returned"} <= set(VIOLATION_STATUSES)


def test_a_withdrawn_violation_is_not_reviewed(store: Store, tmp_path: Path) -> None:
    judged(store, tmp_path)
    fuse_store(store, FusionParams(eps_m=50_000.0, eps_s=3 * 86400.0))  # merges incidents
    adjudicate_store(store, load_terms(TERMS))
    gone = store.violations(ViolationFilter(statuses=("withdrawn",)), OWNER)
    assert gone
    with pytest.raises(InputError) as e:
        set_violation_status(store, gone[0].violation_id, "verified", "anna", "x")
    refused(e, "input.withdrawn", str(gone[0].violation_id))


def test_two_analysts_publishing_at_once_publish_once(store: Store, tmp_path: Path) -> None:
    """The violation is held while a decision is checked and written: of two analysts who
    publish it at the same moment, one succeeds and the other is told it is published."""
    vid = judged(store, tmp_path)[0]
    set_violation_status(store, vid, "verified", "anna", "seen")
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def publish(who: str) -> None:
        barrier.wait(timeout=30)
        try:
            set_violation_status(store, vid, "published", who, "confirmed")
            outcome[who] = "published"
        except TruceguardError as exc:
            outcome[who] = exc.code

    threads = [threading.Thread(target=publish, args=(w,)) for w in ("boris", "carl")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcome.values()) == ["input.already_published", "published"], outcome
    assert [t.status for t in store.status_trail(vid)].count("published") == 1


def test_the_period_report_tells_published_from_draft(store: Store, tmp_path: Path) -> None:
    ids = judged(store, tmp_path)
    set_violation_status(store, ids[0], "verified", "anna", "seen")
    set_violation_status(store, ids[0], "published", "boris", "agreed")
    set_violation_status(store, ids[1], "verified", "anna", "seen")
    r = build_period_report(store, TERMS, "month", "2019-06-01", "2019-06-30", OWNER)
    assert r.total.now == len(ids)
    assert (r.published, r.not_published) == (1, len(ids) - 1)
    md = render_markdown(r)
    assert "| of them published (two analysts) | 1 |" in md
    assert f"| of them not yet published | {len(ids) - 1} |" in md
    html = render_html(r)
    assert 'id="published"' in html and "not yet published" in html
    public = build_period_report(store, TERMS, "month", "2019-06-01", "2019-06-30", Viewer())
    assert (public.published, public.not_published) == (1, len(ids) - 2)


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_review_queue_and_published_only(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    with open_store(db) as store:
        vid = judged(store, tmp_path)[0]
    runner = CliRunner()

    def review(*args: str) -> object:
        return runner.invoke(main, ["review", *args, "--db", db])

    r = runner.invoke(main, ["review", "--help"])
    assert r.exit_code == 0 and "published (analyst B, not A)" in r.output
    assert "returned" in r.output and "--queue" in r.output
    r = review(str(vid), "--status", "verified", "--by", "anna", "--why", "two cameras")
    assert r.exit_code == 0 and "verified" in r.output and "two cameras" in r.output
    r = review("--queue", "--by", "anna")
    assert r.exit_code == 0 and "Nothing awaits a second analyst" in r.stderr
    r = review("--queue", "--by", "boris", "--format", "json")
    rows = json.loads(r.stdout)["rows"]
    assert [(x["violation_id"], x["verified_by"]) for x in rows] == [(vid, "anna")]
    r = review("--queue")
    assert r.exit_code == 0 and "anna" in r.stdout and "awaiting a second analyst" in r.stdout
    r = review(str(vid), "--status", "published", "--by", "anna", "--why", "mine",
               "--format", "json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["error"]["code"] == "forbidden.same_analyst"
    r = review(str(vid), "--status", "published", "--by", "anna", "--why", "mine")
    assert r.exit_code == 1 and r.stderr.startswith("Error: ") and "'anna'" in r.stderr
    assert "Hint: " in r.stderr
    r = review(str(vid), "--status", "publishd", "--by", "boris", "--why", "x")
    assert r.exit_code == 1 and "'publishd'" in r.stderr and "published" in r.stderr
    r = review(str(vid), "--status", "published", "--by", "boris", "--why", "w" * 2001)
    assert r.exit_code == 1 and "2,001" in r.stderr
    r = review(str(vid), "--status", "published", "--by", "boris")
    assert r.exit_code == 1 and "--why" in r.stderr
    r = review("--queue", str(vid))
    assert r.exit_code == 1 and "--queue" in r.stderr
    r = review(str(vid), "--status", "published", "--by", "boris", "--why", "checked",
               "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["status"] == "published" and doc["trail"][-1]["who"] == "boris"
    r = runner.invoke(main, ["violations", "--db", db, "--published-only", "--format", "json"])
    rows = json.loads(r.stdout)["rows"]
    assert [(x["violation_id"], x["status"]) for x in rows] == [(vid, "published")]
    r = runner.invoke(main, ["violations", "--db", db, "--format", "csv"])
    table = list(csv.DictReader(r.stdout.splitlines()))
    assert len(table) == len(PATROLS)  # every status is still listed
    assert {x["violation_id"]: x["status"] for x in table}[str(vid)] == "published"
    r = runner.invoke(main, ["violations", "--db", db, "--published-only", "--status", "new"])
    assert r.exit_code == 1 and "'new'" in r.stderr
    with open_store(db) as store:
        actors = [a for a, _ in review_audit(store)]
    assert actors == ["anna", "boris"]


# -- the HTTP API -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("review-server")
    db = str(tmp / "mission.db")
    with open_store(db) as store:
        import_file(store, patrol_file(tmp / "patrols.csv"), source="patrol")
    tokens = make_users(db)
    with running(db, tmp / "server.log", "--terms", TERMS) as srv:
        srv.tokens = tokens

        def adjudicated() -> bool:
            with open_store(db) as store:
                return len(store.violations(ViolationFilter(), OWNER)) == len(PATROLS)

        wait_for(adjudicated, 60)
        yield srv


def public_violations(server: Server) -> list[str]:
    with server.client("fra") as c:
        items = c.get("/api/v1/violations").json()["items"]
    return [x["violation_id"] for x in items]


def test_api_two_person_sign_off(server: Server) -> None:
    vid = public_violations(server)[0]
    url = f"/api/v1/violations/{vid}/status"
    with server.client("ukr") as c:  # an observer may not review
        r = c.post(url, json={"status": "verified", "why": "x"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden.analyst"
        r = c.get("/api/v1/reviews/queue")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden.analyst"
    with server.client("fra") as c:
        r = c.post(url, json={"status": "verified", "why": "two cameras", "by": "gbr"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.unknown_key"
        assert "'by'" in r.json()["error"]["message"]
        r = c.post(url, json={"status": "verified", "why": "w" * 2001})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "input.reason_too_long"
        r = c.post(url, json={"status": "published", "why": "x"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.not_verified"
        r = c.post(url, json={"status": "verified", "why": "two cameras"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "verified" and r.json()["trail"][-1]["who"] == "fra"
        assert c.get("/api/v1/reviews/queue").json()["items"] == []
        mine = c.get("/api/v1/reviews/queue", params={"include_own": "true"}).json()
        assert [x["violation_id"] for x in mine["items"]] == [vid]
        r = c.post(url, json={"status": "published", "why": "my own"})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden.same_analyst"
        assert "'fra'" in r.json()["error"]["message"] and r.json()["error"]["hint"]
        r = c.post(url, json={"status": "publishd", "why": "x"})
        assert r.status_code == 400 and "published" in r.json()["error"]["hint"]
    with server.client("gbr") as c:
        queue = c.get("/api/v1/reviews/queue").json()
        assert [(x["violation_id"], x["verified_by"]) for x in queue["items"]] == [(vid, "fra")]
        assert queue["marking"] == "PUBLIC" and queue["next_cursor"] is None
        r = c.post(url, json={"status": "published", "why": "footage checked"})
        assert r.status_code == 200, r.text
        assert [t["status"] for t in r.json()["trail"]] == ["new", "verified", "published"]
        assert c.get("/api/v1/reviews/queue").json()["items"] == []
        pub = c.get("/api/v1/violations", params={"published_only": "true"}).json()["items"]
        assert [(x["violation_id"], x["status"]) for x in pub] == [(vid, "published")]
        every = c.get("/api/v1/violations").json()["items"]
        assert len(every) > 1 and {x["status"] for x in every} >= {"new", "published"}
        r = c.get("/api/v1/violations", params={"published_only": "true", "status": "new"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "input.conflicting_options"
        r = c.post(url, json={"status": "discounted", "why": "late doubt"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "input.already_published"
    with open_store(server.db) as store:
        steps = [(a, d["from"], d["to"], d["reason"]) for a, d in review_audit(store)
                 if server.api_id("violation", d["violation_id"]) == vid]
    assert steps == [("fra", "new", "verified", "two cameras"),
                     ("gbr", "verified", "published", "footage checked")]


def test_api_return_and_the_queue_pages(server: Server) -> None:
    ids = public_violations(server)[1:4]
    with server.client("gbr") as c:
        for vid in ids:
            r = c.post(f"/api/v1/violations/{vid}/status",
                       json={"status": "verified", "why": "seen"})
            assert r.status_code == 200, r.text
    with server.client("fra") as c:
        got: list[str] = []
        cursor = None
        for _ in range(10):
            page = c.get("/api/v1/reviews/queue",
                         params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            got += [x["violation_id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert got == ids
        r = c.post(f"/api/v1/violations/{ids[0]}/status",
                   json={"status": "returned", "why": "the crater is older"})
        assert r.status_code == 200 and r.json()["status"] == "under_review"
        r = c.post(f"/api/v1/violations/{ids[0]}/status", json={"status": "returned"})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "input.missing_reason"
        left = [x["violation_id"] for x in c.get("/api/v1/reviews/queue").json()["items"]]
        assert left == ids[1:]
    with open_store(server.db) as store:
        n = next(d["violation_id"] for _, d in review_audit(store)
                 if server.api_id("violation", d["violation_id"]) == ids[0])
        last = [d for _, d in review_audit(store) if d["violation_id"] == n][-1]
    assert last == {"violation_id": n, "from": "verified", "to": "under_review",
                    "decision": "returned", "reason": "the crater is older"}


def test_api_a_violation_out_of_sight_is_not_reviewed(server: Server) -> None:
    with open_store(server.db) as store:
        hidden = [v.violation_id for v in store.violations(ViolationFilter(), OWNER)
                  if v.releasability != "PUBLIC"]
    assert hidden
    with server.client("fra") as c:
        r = c.post(f"/api/v1/violations/{server.api_id('violation', hidden[0])}/status",
                   json={"status": "verified", "why": "x"})
        assert r.status_code == 404
