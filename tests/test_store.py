"""The Store protocol, run against every backend in STORE_BACKENDS."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import INTEGRITY_ERRORS, UCDP_CLEAN, with_database
from truceguard.errors import SchemaVersionError, StoreError
from truceguard.ingest import import_file
from truceguard.io import read_ucdp
from truceguard.marking import parse_marking
from truceguard.model import Observation, Viewer
from truceguard.store import IngestCounts, ObservationFilter, SQLiteStore, is_url, open_store
from truceguard.store.base import Store
from truceguard.store.postgres import PostgresStore, redact
from truceguard.store.schema import MIGRATIONS

OWNER = Viewer.owner()


def ucdp(n: int) -> list[Observation]:
    return [o for o in read_ucdp(UCDP_CLEAN) if isinstance(o, Observation)][:n]


def test_store_satisfies_protocol(store: Store) -> None:
    assert isinstance(store.schema_version(), int)
    assert store.schema_version() == len(MIGRATIONS)


def test_same_records_twice_are_stored_once(store: Store) -> None:
    batch = ucdp(100)
    with store.transaction():
        assert store.add_observations(batch, reader="ucdp") == IngestCounts(inserted=100)
    with store.transaction():
        assert store.add_observations(batch + batch[:10], reader="ucdp") == IngestCounts(
            duplicates=110)
    assert store.count_observations(ObservationFilter(), OWNER) == 100
    # Another reader's records are other records, even under the same source and id.
    with store.transaction():
        assert store.add_observations(batch[:5], reader="csv").inserted == 5


def test_a_taken_identity_with_other_content_is_kept_as_a_conflict(store: Store) -> None:
    batch = ucdp(3)
    with store.transaction():
        store.add_observations(batch, reader="ucdp")
    forged = replace(batch[0], raw=batch[0].raw + ",forged", raw_sha256="f" * 64, lat=10.0)
    with store.transaction():
        got = store.add_observations([forged, forged], reader="ucdp")
    assert got == IngestCounts(conflicts=1, duplicates=1)
    assert store.count_observations(ObservationFilter(), OWNER) == 3
    (c,) = store.conflicts(OWNER)
    assert c.record["lat"] == 10.0 and c.record["raw"].endswith(",forged")
    assert c.dedup_key == "ucdp|" + batch[0].dedup_key
    with store.transaction():  # the same conflict again is not a second one
        assert store.add_observations([forged], reader="ucdp").duplicates == 1
    assert len(store.conflicts(OWNER)) == 1
    assert store.conflicts(Viewer()) == [c]  # PUBLIC: a PUBLIC viewer may see it


def test_importing_again_under_a_narrower_marking_narrows_never_widens(store: Store) -> None:
    batch = ucdp(2)
    with store.transaction():
        store.add_observations(batch, reader="ucdp")
    narrow = [replace(o, releasability="REL TO GBR") for o in batch]
    with store.transaction():
        assert store.add_observations(narrow, reader="ucdp").narrowed == 2
    assert store.count_observations(ObservationFilter(), Viewer()) == 0
    wide = [replace(o, releasability="PUBLIC") for o in batch]
    with store.transaction():
        assert store.add_observations(wide, reader="ucdp").narrowed == 0
    assert store.count_observations(ObservationFilter(), Viewer()) == 0
    assert store.count_observations(ObservationFilter(), Viewer.of("GBR")) == 2
    obs_id = next(store.observations(ObservationFilter(), OWNER)).obs_id
    assert obs_id is not None
    trail = store.marking_trail(obs_id)
    assert [(t["old"], t["new"]) for t in trail] == [("PUBLIC", "REL TO GBR")]
    # Widening is its own, logged decision.
    assert store.remark([obs_id], parse_marking("PUBLIC"), "desk officer", "cleared") == 1
    assert store.marking_trail(obs_id)[-1]["who"] == "desk officer"
    assert store.count_observations(ObservationFilter(), Viewer()) == 1


def test_rolled_back_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_observations(ucdp(10), reader="ucdp")
        raise RuntimeError("boom")
    assert store.count_observations(ObservationFilter(), OWNER) == 0


def test_round_trip_keeps_every_field(store: Store) -> None:
    batch = ucdp(30)
    with store.transaction():
        store.add_observations(batch, reader="ucdp")
    back = list(store.observations(ObservationFilter(), OWNER))
    key = lambda o: o.source_ref  # noqa: E731
    for a, b in zip(sorted(batch, key=key), sorted(back, key=key), strict=True):
        assert b.obs_id is not None
        b.obs_id = None
        assert a == b


def test_filters(store: Store) -> None:
    with store.transaction():
        store.add_observations(ucdp(3077), reader="ucdp")
    everything = list(store.observations(ObservationFilter(), OWNER))
    f = ObservationFilter(since=1_420_070_400, until=1_451_606_399)  # 2015
    got = list(store.observations(f, OWNER))
    assert got and all(1_420_070_400 <= o.t_start <= 1_451_606_399 for o in got)
    assert len(got) == store.count_observations(f, OWNER)
    assert len(got) == sum(1 for o in everything if 1_420_070_400 <= o.t_start <= 1_451_606_399)
    box = ObservationFilter(bbox=(37.5, 47.8, 38.2, 48.2))
    inside = [o for o in everything if 37.5 <= o.lon <= 38.2 and 47.8 <= o.lat <= 48.2]
    assert len(list(store.observations(box, OWNER))) == len(inside) > 0
    near = ObservationFilter(near=(48.0159, 37.8028, 20.0))  # Donetsk, 20 km
    from truceguard.geo import haversine_m

    expect = [o for o in everything if haversine_m(48.0159, 37.8028, o.lat, o.lon) <= 20_000]
    got_near = list(store.observations(near, OWNER))
    assert len(got_near) == len(expect) == store.count_observations(near, OWNER) > 0
    cat = ObservationFilter(categories=("armed_clash",))
    clashes = sum(1 for o in everything if o.category == "armed_clash")
    assert store.count_observations(cat, OWNER) == clashes > 2000
    assert {o.category for o in store.observations(cat, OWNER)} == {"armed_clash"}
    assert store.count_observations(ObservationFilter(sources=("nobody",)), OWNER) == 0
    assert len(list(store.observations(ObservationFilter(), OWNER, limit=7))) == 7


def test_releasability_is_enforced_by_the_store(store: Store) -> None:
    batch = ucdp(6)
    markings = ["PUBLIC", "REL TO GBR", "REL TO FRA, GBR", "REL TO NATO", "REL TO FRA", "PUBLIC"]
    for o, m in zip(batch, markings, strict=True):
        o.releasability = m
    with store.transaction():
        store.add_observations(batch, reader="ucdp")
    all_ = ObservationFilter()
    assert store.count_observations(all_, OWNER) == 6
    assert store.count_observations(all_, Viewer()) == 2
    uk = list(store.observations(all_, Viewer.of("GBR")))
    assert sorted(o.releasability for o in uk) == [
        "PUBLIC", "PUBLIC", "REL TO FRA, GBR", "REL TO GBR", "REL TO NATO"]
    assert store.count_observations(all_, Viewer.of("NATO")) == 3


def test_ingest_log_and_marking_log_are_append_only(store: Store) -> None:
    import_file(store, UCDP_CLEAN)
    log = store.ingest_log()
    assert log[-1]["imported"] == 3077 and log[-1]["status"] == "complete"
    obs_id = next(store.observations(ObservationFilter(), OWNER)).obs_id
    assert obs_id is not None
    store.remark([obs_id], parse_marking("REL TO GBR"), "desk officer", "source asked")
    for table in ("ingest_log", "marking_changes"):
        refused = [f"UPDATE {table} SET at = 0", f"DELETE FROM {table}"]
        if store.backend == "postgresql":
            refused.append(f"TRUNCATE {table}")
        for sql in refused:
            with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
                execute(store, sql)
    assert store.ingest_log() == log
    assert [t["who"] for t in store.marking_trail(obs_id)] == ["desk officer"]


def execute(store: Store, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run SQL on the store's own connection, outside any transaction (backends differ in how
    they report an error inside one)."""
    cur = store.execute(sql, params)  # type: ignore[attr-defined]
    return list(cur.fetchall()) if cur.description else []


class Raw:
    """A bare connection to a database location, beside any store (``?`` parameters)."""

    def __init__(self, location: str) -> None:
        self.pg = is_url(location)
        self.conn: Any = (psycopg.connect(location, autocommit=True) if self.pg
                          else sqlite3.connect(location, isolation_level=None))

    def __call__(self, sql: str, params: tuple[object, ...] = ()) -> None:
        self.conn.execute(sql.replace("?", "%s") if self.pg else sql, params)

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Any statement; the rows it returns, if any (a migration's Python step calls this)."""
        cur = self.conn.execute(sql.replace("?", "%s") if self.pg else sql, params)
        return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def close(self) -> None:
        self.conn.close()


def test_a_store_judged_before_migration_7_stays_judged(backend: str,
                                                         location: Callable[[], str]) -> None:
    """Migration 7 starts recording the terms a store was judged against; a version-6 store
    with violations keeps its judged state, as the version of each terms' newest violation."""
    where = location()
    if not is_url(where):
        Path(where).touch()
    raw = Raw(where)
    for version in range(1, 7):
        migration = MIGRATIONS[version - 1]
        for statement in migration.statements(backend):
            raw(statement)
        if migration.python is not None:
            migration.python(raw.rows)
        raw("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    for terms, terms_version, incident in [("minsk2", "2015-02", 1), ("minsk2", "2015-03", 2),
                                           ("demo", "1", 3)]:
        raw("INSERT INTO violations (terms, terms_version, incident_id, sig, clause, severity, "
            "status, controlled_by, p_side, signed_distance_m, zone, p_location, location_text, "
            "t_start, t_end, lat, lon, uncertainty_m, category, weapon_class, marking_id, "
            "created_at) VALUES (?,?,?,'s','c',1,'open','UKR',0.5,0,'z',0.5,'',0,0,48,37,100,"
            "'shelling','artillery',0,0)", (terms, terms_version, incident))
    raw.close()
    s2 = open_store(where)
    assert s2.schema_version() == len(MIGRATIONS)
    assert s2.adjudicated_terms() == {"demo": "1", "minsk2": "2015-03"}
    assert [r[0] for r in execute(s2, "SELECT parent_id FROM violations ORDER BY parent_id")] \
        == [1, 2, 3]
    s2.close()


def test_forward_migrations_from_an_old_database(backend: str,
                                                 location: Callable[[], str]) -> None:
    """A version-4 database (old markings, reader-less keys, old incidents) upgrades in place,
    through the same migrations and Python step on both backends."""
    where = location()
    if not is_url(where):
        Path(where).touch()
    raw = Raw(where)
    for version in range(1, 5):
        for statement in MIGRATIONS[version - 1].statements(backend):
            raw(statement)
        raw("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    old = ["PUBLIC", "REL UK FR", "REL UK", "REL NOBODY", "REL COALITION"]
    for i, (o, marking) in enumerate(zip(ucdp(5), old, strict=True)):
        raw("INSERT INTO observations (dedup_key, source, how_known, t_start, t_end, "
            "time_precision_s, lat, lon, uncertainty_m, category, weapon_class, count, text, "
            "origin, source_ref, releasability, raw, raw_sha256, source_file, source_line, "
            "attributes, incident_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (o.dedup_key, o.source, o.how_known, o.t_start, o.t_end, o.time_precision_s, o.lat,
             o.lon, o.uncertainty_m, o.category, o.weapon_class, o.count, o.text, o.origin,
             o.source_ref, marking, o.raw, o.raw_sha256, "ev.csv", i + 2, "", 1))
    raw("INSERT INTO ingest_log (at, path, file_sha256, format, imported, duplicates, "
        "rejected, status) VALUES (0, 'ev.csv', '', 'ucdp', 5, 0, 0, 'complete')")
    raw.close()
    s2 = open_store(where)
    assert s2.schema_version() == len(MIGRATIONS)
    back = list(s2.observations(ObservationFilter(), OWNER))
    assert [o.releasability for o in back] == [
        "PUBLIC", "REL TO FRA, GBR", "REL TO GBR", "OWNER ONLY", "OWNER ONLY"]
    assert [o.raw for o in back] == [o.raw for o in ucdp(5)]
    assert all(o.incident_id is None for o in back)  # incidents are rebuilt by fusion
    assert s2.count_observations(ObservationFilter(), Viewer.of("GBR")) == 3
    keys = [r[0] for r in execute(s2, "SELECT dedup_key FROM observations ORDER BY obs_id")]
    assert all(str(k).startswith("ucdp|UCDP GED|") for k in keys)
    with s2.transaction():  # the same records again are duplicates, not new rows
        assert s2.add_observations(ucdp(5), reader="ucdp").duplicates == 5
    before = s2.markings()  # a new marking gets an id of its own after the migrated ones
    new_id = s2.marking_id(parse_marking("REL TO DEU"))
    assert new_id not in before and s2.markings()[new_id].text == "REL TO DEU"
    s2.close()


def test_newer_schema_is_refused(location: Callable[[], str]) -> None:
    where = location()
    open_store(where).close()
    raw = Raw(where)
    raw("INSERT INTO schema_migrations VALUES (999, 0)")
    raw.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        open_store(where)


def test_two_processes_migrate_a_fresh_database_once(location: Callable[[], str]) -> None:
    where = location()
    code = ("import sys; from truceguard.store import open_store; "
            "s = open_store(sys.argv[1]); print(s.schema_version()); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, where], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    assert [o.strip() for o, _ in outs] == [str(len(MIGRATIONS))] * 3
    s = open_store(where)
    assert [r[0] for r in execute(s, "SELECT version FROM schema_migrations ORDER BY 1")] == \
        list(range(1, len(MIGRATIONS) + 1))
    s.close()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a truceguard database"):
        SQLiteStore(path)
    with pytest.raises(StoreError, match="no such database") as err:
        SQLiteStore(tmp_path / "missing.db", create=False)
    assert "truceguard init" in err.value.hint
    with pytest.raises(StoreError, match="does not exist") as err:
        SQLiteStore(tmp_path / "no_such_folder" / "x.db")
    assert err.value.code == "store.no_folder"
    assert not (tmp_path / "no_such_folder").exists()


def test_postgres_urls_open_the_postgres_store(pg_server: str,
                                               pg_database: Callable[[], str]) -> None:
    url = pg_database()
    with pytest.raises(StoreError, match="no truceguard database there yet") as err:
        open_store(url, create=False)
    assert err.value.code == "store.not_found" and "truceguard init" in err.value.hint
    with open_store(url.replace("postgresql://", "postgres://", 1)) as s:
        assert isinstance(s, PostgresStore) and s.backend == "postgresql"
    with open_store(url, create=False) as s:
        assert s.schema_version() == len(MIGRATIONS)
    with pytest.raises(StoreError, match="cannot connect") as err:
        open_store(with_database(pg_server, "no_such_database_here"))
    assert err.value.code == "store.cannot_connect" and "createdb" in err.value.hint
    assert redact("postgresql://ann:s3cret@db.example:5433/watch") == \
        "postgresql://ann@db.example:5433/watch"
