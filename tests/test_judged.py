"""Fusion and adjudication through the store, on the real shipped UCDP events."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import UCDP_CLEAN
from truceguard.cli import main
from truceguard.errors import InputError, NotFoundError
from truceguard.ingest import import_file
from truceguard.judge.fusion import FusionParams
from truceguard.judge.terms import load_terms
from truceguard.model import Viewer
from truceguard.store import ObservationFilter, SQLiteStore
from truceguard.store.judged import (
    adjudicate_store,
    fuse_store,
    incident_observation_ids,
    incidents,
    iter_status_trail,
    set_violation_status,
    violations,
)

OWNER = Viewer.owner()
ALL = ObservationFilter()


def split_ucdp(tmp_path: Path, at: int) -> tuple[Path, Path]:
    with open(UCDP_CLEAN, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    parts = []
    for name, chunk in (("a.csv", rows[1 : at + 1]), ("b.csv", rows[at + 1 :])):
        p = tmp_path / name
        with open(p, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([rows[0], *chunk])
        parts.append(p)
    return parts[0], parts[1]


def incident_table(store: SQLiteStore) -> list[tuple[object, ...]]:
    return store.execute(
        "SELECT incident_id, round(lat, 9), round(lon, 9), round(uncertainty_m, 3), t_start, "
        "t_end, category, category_votes, n_observations, n_sources, grade FROM incidents "
        "ORDER BY incident_id"
    ).fetchall()


def test_every_observation_knows_its_incident(store: SQLiteStore) -> None:
    import_file(store, UCDP_CLEAN)
    s = fuse_store(store)
    assert s.mode == "full" and s.observations == 3077
    assert 0 < s.incidents < 3077
    missing = store.execute("SELECT COUNT(*) FROM observations WHERE incident_id IS NULL")
    assert missing.fetchone()[0] == 0
    total = store.execute("SELECT SUM(n_observations) FROM incidents").fetchone()[0]
    assert total == 3077
    first = incidents(store, ALL, OWNER, limit=1)[0]
    ids = incident_observation_ids(store, first["incident_id"], OWNER)
    assert min(ids) == first["incident_id"] and len(ids) == first["n_observations"]
    obs = list(store.observations(ObservationFilter(incident_id=first["incident_id"]), OWNER))
    assert [o.obs_id for o in obs] == sorted(ids) or sorted(o.obs_id for o in obs) == ids
    assert all(o.raw and o.source_line >= 2 for o in obs)


def test_incremental_equals_full(tmp_path: Path) -> None:
    a, b = split_ucdp(tmp_path, 1500)
    inc = SQLiteStore(tmp_path / "inc.db")
    import_file(inc, a)
    assert fuse_store(inc).mode == "full"
    import_file(inc, b)
    s = fuse_store(inc)
    assert s.mode == "incremental" and s.new_observations == 3077 - 1500
    full = SQLiteStore(tmp_path / "full.db")
    import_file(full, UCDP_CLEAN)
    fuse_store(full)
    assert incident_table(inc) == incident_table(full)
    assert fuse_store(inc).changed_incidents == 0  # nothing new: nothing written
    inc.close()
    full.close()


def test_changed_parameters_refuse_stale_incidents(store: SQLiteStore) -> None:
    import_file(store, UCDP_CLEAN)
    n1 = fuse_store(store).incidents
    s = fuse_store(store, FusionParams(eps_m=500.0, eps_s=600.0, max_link_uncertainty_m=0.0))
    assert s.mode == "full" and s.incidents > n1


def test_adjudication_and_status_trail(store: SQLiteStore) -> None:
    import_file(store, UCDP_CLEAN)
    fuse_store(store)
    terms = load_terms("minsk-2015")
    s = adjudicate_store(store, terms)
    assert s.violations == s.new > 0
    rows = violations(store, ALL, OWNER, terms="minsk-2015")
    assert len(rows) == s.violations
    # nothing breaches before the ceasefire of 15 Feb 2015 (00:00 Kyiv time)
    assert min(r["t_start"] for r in rows) >= 1_423_951_200
    assert all(r["status"] == "new" and r["location_text"] for r in rows)
    again = adjudicate_store(store, terms)
    assert (again.new, again.withdrawn, again.violations) == (0, 0, s.violations)
    vid = rows[0]["violation_id"]
    set_violation_status(store, vid, "under_review", "duty officer", "second source asked")
    set_violation_status(store, vid, "verified", "chief monitor", "camera footage")
    trail = list(iter_status_trail(store, vid))
    assert [t["status"] for t in trail] == ["new", "under_review", "verified"]
    assert violations(store, ALL, OWNER, statuses=("verified",))[0]["violation_id"] == vid
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("UPDATE violation_status SET status = 'discounted'")
    with pytest.raises(InputError):
        set_violation_status(store, vid, "maybe", "x", "y")
    with pytest.raises(InputError):
        set_violation_status(store, vid, "verified", "", "y")
    with pytest.raises(NotFoundError):
        set_violation_status(store, 10**9, "verified", "x", "y")


def test_refusion_withdraws_and_keeps_the_trail(store: SQLiteStore) -> None:
    import_file(store, UCDP_CLEAN)
    fuse_store(store)
    terms = load_terms("minsk-2015")
    first = adjudicate_store(store, terms)
    fuse_store(store, FusionParams(eps_m=50_000.0, eps_s=3 * 86400.0))  # much coarser
    second = adjudicate_store(store, terms)
    assert second.withdrawn > 0 and second.violations < first.violations
    listed = violations(store, ALL, OWNER, terms="minsk-2015")
    assert len(listed) == second.violations
    everything = violations(store, ALL, OWNER, include_withdrawn=True)
    assert len(everything) == len(listed) + second.withdrawn


def test_incidents_are_no_more_releasable_than_their_reports(tmp_path: Path) -> None:
    a, b = split_ucdp(tmp_path, 1500)
    store = SQLiteStore(tmp_path / "rel.db")
    import_file(store, a)
    import_file(store, b, releasability="REL TO GBR")
    fuse_store(store)
    adjudicate_store(store, load_terms("minsk-2015"))
    public = Viewer()
    uk = Viewer.of("GBR")
    seen_public = incidents(store, ALL, public)
    seen_uk = incidents(store, ALL, uk)
    assert 0 < len(seen_public) < len(seen_uk) == len(incidents(store, ALL, OWNER))
    assert all(i["releasability"] == "PUBLIC" for i in seen_public)
    v_public = violations(store, ALL, public)
    v_uk = violations(store, ALL, uk)
    assert len(v_public) < len(v_uk)
    assert all(v["releasability"] == "PUBLIC" for v in v_public)
    for inc in seen_public[:20]:
        obs = list(store.observations(ObservationFilter(incident_id=inc["incident_id"]), public))
        assert len(obs) == inc["n_observations"]
    store.close()


def test_cli_chain(runner: CliRunner, db: str) -> None:
    assert runner.invoke(main, ["import", str(UCDP_CLEAN), "--db", db]).exit_code == 0
    r = runner.invoke(main, ["fuse", "--db", db])
    assert r.exit_code == 0 and "full fusion: 3077 observations" in r.output
    r = runner.invoke(main, ["adjudicate", "--db", db, "--terms", "minsk-2015"])
    assert r.exit_code == 0, r.output
    n_inc = json.loads(runner.invoke(main, ["incidents", "--db", db, "--count", "--format",
                                            "json"]).output)["count"]
    assert n_inc > 0
    n_v = json.loads(runner.invoke(main, ["violations", "--db", db, "--count", "--format",
                                          "json"]).output)["count"]
    clause = "minsk-2015/live_fire/ceasefire"
    n_c = json.loads(runner.invoke(main, ["violations", "--db", db, "--clause", clause,
                                          "--count", "--format", "json"]).output)["count"]
    assert 0 < n_c <= n_v
    r = runner.invoke(main, ["observations", "--db", db, "--limit", "5", "--format", "csv"])
    rows = list(csv.DictReader(r.output.splitlines()))
    assert rows[0]["incident_id"] and rows[0]["incident_id"].isdigit()
    r = runner.invoke(main, ["violations", "--db", db, "--limit", "1", "--format", "json"])
    vid = json.loads(r.output)[0]["violation_id"]
    r = runner.invoke(main, ["review", str(vid), "--db", db, "--status", "verified", "--by",
                             "analyst", "--why", "two cameras"])
    assert r.exit_code == 0 and "verified" in r.output and "two cameras" in r.output
    r = runner.invoke(main, ["adjudicate", "--db", db, "--terms", "no-such-terms"])
    assert r.exit_code == 1 and "Error" in r.output
