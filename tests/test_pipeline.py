"""The pipeline over a store (fusion, adjudication, review), on the real shipped UCDP events,
and the releasability of incidents and violations computed per viewer."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import INTEGRITY_ERRORS, UCDP_CLEAN
from truceguard.cli import main
from truceguard.errors import InputError, NotFoundError
from truceguard.ingest import import_file
from truceguard.judge.fusion import FusionParams
from truceguard.judge.terms import load_terms
from truceguard.model import Viewer, iso
from truceguard.pipeline import adjudicate_store, fuse_store, set_violation_status
from truceguard.store import ObservationFilter, Store, ViolationFilter

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


def incident_table(store: Store) -> list[tuple[object, ...]]:
    """Incidents by their anchor observation (ids are keyed hashes, different per database)."""
    anchor: dict[int | None, int] = {}
    for o in store.observations(ALL, OWNER):
        assert o.obs_id is not None
        anchor[o.incident_id] = min(anchor.get(o.incident_id, o.obs_id), o.obs_id)
    return sorted((anchor[i.incident_id], round(i.lat, 9), round(i.lon, 9),
                   round(i.uncertainty_m, 3), i.t_start, i.t_end, i.category,
                   sorted(i.category_votes.items()), i.n_observations, i.n_sources, i.grade)
                  for i in store.incidents(ALL, OWNER))


def violations(store: Store, flt: ObservationFilter, viewer: Viewer, **kw: object
               ) -> list:
    return store.violations(ViolationFilter(records=flt, **kw), viewer)  # type: ignore[arg-type]


def test_curated_events_never_fuse_with_each_other(store: Store, tmp_path: Path) -> None:
    """UCDP rows are events its curators already deduplicated: fusing two of them would merge
    distinct events. Each stays its own incident; an uncurated report still joins one."""
    import_file(store, UCDP_CLEAN)
    assert fuse_store(store).incidents == 3077
    first = store.incidents(ALL, OWNER, limit=1)[0]
    o = next(store.observations(ObservationFilter(incident_id=first.incident_id), OWNER))
    extra = tmp_path / "patrol.csv"
    _patrol_csv(extra, [("p1", iso(o.t_start + 60), o.lat, o.lon, "shelling", "PUBLIC")])
    import_file(store, extra, source="patrol")
    assert fuse_store(store).incidents == 3077
    assert store.get_incident(first.incident_id, OWNER).n_observations == 2  # type: ignore[union-attr]


def test_every_observation_knows_its_incident(store: Store) -> None:
    """(Fusion's mechanics on the UCDP rows taken as one uncurated feed.)"""
    import_file(store, UCDP_CLEAN, curated=False)
    s = fuse_store(store)
    assert s.mode == "full" and s.observations == 3077
    assert 0 < s.incidents < 3077
    missing = store.execute("SELECT COUNT(*) FROM observations WHERE incident_id IS NULL")
    assert missing.fetchone()[0] == 0
    total = store.execute("SELECT SUM(n_observations) FROM incident_views WHERE sig = set_key"
                          ).fetchone()[0]
    assert total == 3077
    first = store.incidents(ALL, OWNER, limit=1)[0]
    obs = list(store.observations(ObservationFilter(incident_id=first.incident_id), OWNER))
    assert len(obs) == first.n_observations
    assert all(o.raw and o.source_line >= 2 for o in obs)
    # The id is opaque: not an observation id, and not ordered like the observations.
    ids = [i.incident_id for i in store.incidents(ALL, OWNER)]
    assert len(set(ids)) == len(ids) and first.incident_id not in {o.obs_id for o in obs}
    assert max(ids) > 10**9


def test_incremental_equals_full(tmp_path: Path, new_store: Callable[[], Store]) -> None:
    a, b = split_ucdp(tmp_path, 1500)
    inc = new_store()
    import_file(inc, a, curated=False)
    assert fuse_store(inc).mode == "full"
    import_file(inc, b, curated=False)
    s = fuse_store(inc)
    assert s.mode == "incremental" and s.new_observations == 3077 - 1500
    full = new_store()
    import_file(full, UCDP_CLEAN, curated=False)
    fuse_store(full)
    assert incident_table(inc) == incident_table(full)
    assert fuse_store(inc).changed_incidents == 0  # nothing new: nothing written


def test_changed_parameters_refuse_stale_incidents(store: Store) -> None:
    import_file(store, UCDP_CLEAN, curated=False)
    n1 = fuse_store(store).incidents
    s = fuse_store(store, FusionParams(eps_m=500.0, eps_s=600.0, max_link_uncertainty_m=0.0))
    assert s.mode == "full" and s.incidents > n1


def test_adjudication_and_status_trail(store: Store) -> None:
    import_file(store, UCDP_CLEAN, curated=False)
    fuse_store(store)
    terms = load_terms("minsk-2015")
    s = adjudicate_store(store, terms)
    assert s.violations == s.new > 0
    rows = violations(store, ALL, OWNER, terms="minsk-2015")
    assert len(rows) == s.violations
    # nothing breaches before the ceasefire of 15 Feb 2015 (00:00 Kyiv time)
    assert min(r.t_start for r in rows) >= 1_423_951_200
    assert all(r.status == "new" and r.location_text for r in rows)
    again = adjudicate_store(store, terms)
    assert (again.new, again.withdrawn, again.violations) == (0, 0, s.violations)
    vid = rows[0].violation_id
    set_violation_status(store, vid, "under_review", "duty officer", "second source asked")
    set_violation_status(store, vid, "verified", "chief monitor", "camera footage")
    trail = store.status_trail(vid)
    assert [t.status for t in trail] == ["new", "under_review", "verified"]
    assert violations(store, ALL, OWNER, statuses=("verified",))[0].violation_id == vid
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        store.execute("UPDATE violation_status SET status = 'discounted'")  # type: ignore
    with pytest.raises(InputError):
        set_violation_status(store, vid, "maybe", "x", "y")
    with pytest.raises(InputError):
        set_violation_status(store, vid, "verified", "", "y")
    with pytest.raises(NotFoundError):
        set_violation_status(store, 10**9, "verified", "x", "y")


def test_refusion_withdraws_and_keeps_the_trail(store: Store) -> None:
    import_file(store, UCDP_CLEAN, curated=False)
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


def test_incidents_are_no_more_releasable_than_their_reports(tmp_path: Path,
                                                             store: Store) -> None:
    a, b = split_ucdp(tmp_path, 1500)
    import_file(store, a, curated=False)
    import_file(store, b, releasability="REL TO GBR", curated=False)
    fuse_store(store)
    adjudicate_store(store, load_terms("minsk-2015"))
    public = Viewer()
    uk = Viewer.of("GBR")
    seen_public = store.incidents(ALL, public)
    seen_uk = store.incidents(ALL, uk)
    assert 0 < len(seen_public) < len(seen_uk) == len(store.incidents(ALL, OWNER))
    assert all(i.releasability == "PUBLIC" for i in seen_public)
    v_public = violations(store, ALL, public)
    v_uk = violations(store, ALL, uk)
    assert len(v_public) < len(v_uk)
    assert all(v.releasability == "PUBLIC" for v in v_public)
    for inc in seen_public:
        obs = list(store.observations(ObservationFilter(incident_id=inc.incident_id), public))
        assert len(obs) == inc.n_observations
        assert all(o.releasability == "PUBLIC" for o in obs)


def test_cli_chain(runner: CliRunner, location: Callable[[], str]) -> None:
    db = location()
    assert runner.invoke(main, ["import", str(UCDP_CLEAN), "--db", db]).exit_code == 0
    r = runner.invoke(main, ["fuse", "--db", db])
    assert r.exit_code == 0 and "full fusion: 3,077 observations" in r.output
    r = runner.invoke(main, ["adjudicate", "--db", db, "--terms", "minsk-2015"])
    assert r.exit_code == 0, r.output
    n_inc = json.loads(runner.invoke(main, ["incidents", "--db", db, "--count", "--format",
                                            "json"]).stdout)["count"]
    assert n_inc > 0
    n_v = json.loads(runner.invoke(main, ["violations", "--db", db, "--count", "--format",
                                          "json"]).stdout)["count"]
    clause = "minsk-2015/live_fire/ceasefire"
    n_c = json.loads(runner.invoke(main, ["violations", "--db", db, "--clause", clause,
                                          "--count", "--format", "json"]).stdout)["count"]
    assert 0 < n_c <= n_v
    r = runner.invoke(main, ["observations", "--db", db, "--limit", "5", "--format", "csv"])
    rows = list(csv.DictReader(r.stdout.splitlines()))  # plain CSV: the header first
    assert rows[0]["incident_id"] and rows[0]["incident_id"].isdigit()
    r = runner.invoke(main, ["violations", "--db", db, "--limit", "1", "--format", "json"])
    vid = json.loads(r.stdout)["rows"][0]["violation_id"]
    r = runner.invoke(main, ["review", str(vid), "--db", db, "--status", "verified", "--by",
                             "analyst", "--why", "two cameras"])
    assert r.exit_code == 0 and "verified" in r.output and "two cameras" in r.output
    r = runner.invoke(main, ["adjudicate", "--db", db, "--terms", "no-such-terms"])
    assert r.exit_code == 1 and "Error" in r.output


def _patrol_csv(path: Path, rows: list[tuple[str, float, float, str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        for r in rows:
            w.writerow(r)
    return path


def test_a_public_violation_stays_when_a_restricted_report_joins(tmp_path: Path,
                                                                  store: Store) -> None:
    """A PUBLIC viewer's incident and violation are computed from PUBLIC reports alone: a
    restricted report fusing into the incident later changes nothing they see, and their
    violation keeps its id and its status trail."""
    terms = load_terms("minsk-2015")
    # Horlivka, government side of nothing: a shelling inside the Minsk area, PUBLIC.
    pub = _patrol_csv(tmp_path / "pub.csv", [("p1", "2019-06-01T10:00:00Z", 48.30, 38.05,
                                              "shelling", "PUBLIC")])
    import_file(store, pub, source="patrol")
    fuse_store(store)
    adjudicate_store(store, terms)
    public = Viewer()
    before = violations(store, ALL, public)
    assert before and all(v.releasability == "PUBLIC" for v in before)
    vid = before[0].violation_id
    set_violation_status(store, vid, "verified", "chief monitor", "crater seen")
    inc_before = store.incidents(ALL, public)
    secret = _patrol_csv(tmp_path / "rel.csv", [("r1", "2019-06-01T10:05:00Z", 48.301, 38.051,
                                                 "shelling", "REL TO GBR")])
    import_file(store, secret, source="uk-patrol")
    fuse_store(store)
    adjudicate_store(store, terms)
    after = violations(store, ALL, public)
    assert [(v.violation_id, v.status, v.lat, v.lon) for v in after] == [
        (v.violation_id, "verified", v.lat, v.lon) for v in before]
    inc_after = store.incidents(ALL, public)
    assert [(i.incident_id, i.n_observations, i.lat) for i in inc_after] == [
        (i.incident_id, i.n_observations, i.lat) for i in inc_before]
    # The UK sees one incident of both reports, marked as its narrowest report.
    uk = store.incidents(ALL, Viewer.of("GBR"))
    assert len(uk) == 1 and uk[0].n_observations == 2
    assert uk[0].incident_id == inc_after[0].incident_id
    assert uk[0].releasability == "REL TO GBR"
    # The owner sees the same as the UK; France sees what PUBLIC sees.
    assert store.incidents(ALL, OWNER)[0].n_observations == 2
    assert store.incidents(ALL, Viewer.of("FRA"))[0].n_observations == 1
    # Counts and source filters do not leak the hidden report.
    assert store.incidents(ObservationFilter(sources=("uk-patrol",)), public) == []
    assert len(store.incidents(ObservationFilter(sources=("uk-patrol",)), Viewer.of("GBR"))) == 1


def test_views_of_three_markings(tmp_path: Path, store: Store) -> None:
    rows = [("a", "2019-06-01T10:00:00Z", 48.30, 38.05, "shelling", "PUBLIC"),
            ("b", "2019-06-01T10:01:00Z", 48.30, 38.05, "shelling", "REL TO GBR"),
            ("c", "2019-06-01T10:02:00Z", 48.30, 38.05, "shelling", "REL TO FRA"),
            ("d", "2019-06-01T10:03:00Z", 48.30, 38.05, "shelling", "REL TO NATO")]
    import_file(store, _patrol_csv(tmp_path / "x.csv", rows), source="patrols")
    fuse_store(store)
    seen = {code: store.incidents(ALL, Viewer.of(code))[0].n_observations
            for code in ("GBR", "FRA", "DEU", "UKR", "NATO")}
    assert seen == {"GBR": 3, "FRA": 3, "DEU": 2, "UKR": 1, "NATO": 2}
    # GBR and FRA at once: what both may hold (PUBLIC and NATO), not GBR's or FRA's alone
    both = store.incidents(ALL, Viewer.of("GBR", "FRA"))[0]
    assert both.n_observations == 2 and Viewer.of("GBR", "FRA").may_see(both.releasability)
    assert store.incidents(ALL, OWNER)[0].releasability == "OWNER ONLY"
    store.close()


@pytest.mark.parametrize("min_samples", [1, 2])
def test_incremental_fusion_reads_a_neighbourhood_and_equals_full(
        tmp_path: Path, min_samples: int, new_store: Callable[[], Store]) -> None:
    """Incremental fusion loads only the new reports and the incidents within reach of them,
    and still gives exactly the incidents of a full fusion (one and two-link reach)."""
    import numpy as np

    rng = np.random.default_rng(7)
    rows = []
    for k in range(600):
        cx, cy = rng.uniform(47.5, 48.5), rng.uniform(37.0, 39.0)
        day = int(rng.integers(1, 28))
        for j in range(int(rng.integers(1, 4))):
            rows.append((f"r{k}-{j}", f"2019-06-{day:02d}T{int(rng.integers(0, 23)):02d}:00:00Z",
                         round(cx + rng.normal(0, 0.01), 5), round(cy + rng.normal(0, 0.01), 5),
                         "shelling", "PUBLIC"))
    order = rng.permutation(len(rows))
    parts = [[rows[i] for i in order[a:b]] for a, b in ((0, 400), (400, 900), (900, len(rows)))]
    params = FusionParams(eps_m=2000.0, eps_s=7200.0, min_samples=min_samples)
    inc = new_store()
    for i, part in enumerate(parts):
        import_file(inc, _patrol_csv(tmp_path / f"p{i}.csv", part), source=f"feed{i}")
        fuse_store(inc, params)
    full = new_store()
    for i, part in enumerate(parts):
        import_file(full, _patrol_csv(tmp_path / f"q{i}.csv", part), source=f"feed{i}")
    fuse_store(full, params, full=True)

    def partition(store: Store) -> set[frozenset[str]]:
        groups: dict[int, set[str]] = {}
        for o in store.observations(ALL, OWNER):
            assert o.incident_id is not None
            groups.setdefault(o.incident_id, set()).add(o.source_ref)
        return {frozenset(g) for g in groups.values()}

    assert partition(inc) == partition(full)
    assert incident_table(inc) == incident_table(full)
    inc.close()
    full.close()


def test_incremental_equals_full_with_curated_sources(tmp_path: Path,
                                                     sqlite_template: Path) -> None:
    """Chains of reports from two curated sources and one other: the curated rule splits a
    chain into incidents; the incremental neighbourhood takes every incident within reach of
    those it loads, and the partition is the full fusion's (before: 10 of these 300 layouts
    differed; a third of them are tried here)."""
    import random

    from truceguard.store import SQLiteStore

    params = FusionParams(eps_m=2000.0, eps_s=3600.0, max_link_uncertainty_m=0.0)
    curated = {"C1": True, "C2": True, "P": False}
    # Every trial's two stores start as copies of the session's empty store file (migrated
    # once; no store holds anything of its own before its first import).
    def new_store(name: str) -> SQLiteStore:
        shutil.copyfile(sqlite_template, tmp_path / name)
        return SQLiteStore(tmp_path / name)

    def load(store: Store, rows: dict[str, list[tuple[str, str, float, float, str, str]]],
             tag: str) -> None:
        for src, part in rows.items():
            if part:
                import_file(store, _patrol_csv(tmp_path / f"{tag}{src}.csv", part), source=src,
                            curated=curated[src])

    def partition(store: Store) -> set[frozenset[str]]:
        groups: dict[int, set[str]] = {}
        for o in store.observations(ALL, OWNER):
            assert o.incident_id is not None
            groups.setdefault(o.incident_id, set()).add(f"{o.source}:{o.source_ref}")
        return {frozenset(g) for g in groups.values()}

    for trial in range(120):
        rng = random.Random(trial)
        x, pts = 0.0, []
        for k in range(rng.randint(5, 10)):
            x += rng.uniform(0.8, 1.9)
            pts.append((f"r{k}", "2019-06-01T10:00:00Z", round(48.0 + x / 111.0, 6), 38.0,
                        "shelling", "PUBLIC", rng.choice(list(curated)), rng.random() < 0.3))

        def split(later: bool, pts: list = pts) -> dict[str, list]:  # type: ignore[type-arg]
            return {s: [p[:6] for p in pts if p[7] == later and p[6] == s] for s in curated}

        inc = new_store(f"i{trial}.db")
        load(inc, split(False), "a")
        fuse_store(inc, params)
        load(inc, split(True), "b")
        fuse_store(inc, params)
        full = new_store(f"f{trial}.db")
        load(full, split(False), "c")
        load(full, split(True), "d")
        fuse_store(full, params, full=True)
        assert partition(inc) == partition(full), trial
        inc.close()
        full.close()


def test_a_hidden_report_bridging_two_public_incidents_is_not_seen(store: Store,
                                                                   tmp_path: Path) -> None:
    """Two public reports 4.5 km apart and a GBR-only report between them fuse into one
    incident; a PUBLIC viewer sees two incidents (the parts its reports form on their own),
    with the ids and positions they had before the hidden report came."""
    pub = _patrol_csv(tmp_path / "p.csv", [
        ("a", "2019-06-01T10:00:00Z", 48.30, 38.05, "shelling", "PUBLIC"),
        ("b", "2019-06-01T10:01:00Z", 48.3405, 38.05, "shelling", "PUBLIC")])
    import_file(store, pub, source="patrol")
    fuse_store(store, FusionParams(eps_m=3000.0, max_link_uncertainty_m=0.0))
    adjudicate_store(store, load_terms("minsk-2015"))
    public = Viewer()
    before = sorted((i.incident_id, i.lat) for i in store.incidents(ALL, public))
    v_before = sorted((v.incident_id, v.lat) for v in violations(store, ALL, public))
    ids_before = {v.violation_id for v in violations(store, ALL, public)}
    assert len(before) == 2
    hidden = _patrol_csv(tmp_path / "h.csv", [
        ("h", "2019-06-01T10:00:30Z", 48.32025, 38.05, "shelling", "REL TO GBR")])
    import_file(store, hidden, source="uk")
    fuse_store(store, FusionParams(eps_m=3000.0, max_link_uncertainty_m=0.0))
    adjudicate_store(store, load_terms("minsk-2015"))
    assert len(store.incidents(ALL, OWNER)) == 1  # the owner sees one incident of three
    after = sorted((i.incident_id, i.lat) for i in store.incidents(ALL, public))
    assert after == before
    assert sorted((v.incident_id, v.lat) for v in violations(store, ALL, public)) == v_before
    for inc in store.incidents(ALL, public):
        obs = list(store.observations(ObservationFilter(incident_id=inc.incident_id), public))
        assert len(obs) == inc.n_observations == 1
    assert len(store.incidents(ObservationFilter(sources=("patrol",)), public)) == 2
    assert len(store.incidents(ALL, Viewer.of("GBR"))) == 1
    # Judged again after more news nearby: every violation keeps its row and its trail.
    import_file(store, _patrol_csv(tmp_path / "n.csv", [
        ("c", "2019-06-01T10:02:00Z", 48.3406, 38.0501, "shelling", "PUBLIC")]), source="patrol")
    fuse_store(store, FusionParams(eps_m=3000.0, max_link_uncertainty_m=0.0))
    adjudicate_store(store, load_terms("minsk-2015"))
    assert {v.violation_id for v in violations(store, ALL, public)} == ids_before
