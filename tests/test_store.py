"""The Store protocol, run against every backend in STORE_BACKENDS."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import UCDP_CLEAN
from truceguard.errors import SchemaVersionError, StoreError
from truceguard.ingest import import_file
from truceguard.io import read_ucdp
from truceguard.marking import parse_marking
from truceguard.model import Observation, Viewer
from truceguard.store import IngestCounts, ObservationFilter, SQLiteStore
from truceguard.store.base import Store
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
    assert store.count_observations(cat, OWNER) == 3077
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


def test_ingest_log_is_append_only(store: SQLiteStore) -> None:
    import_file(store, UCDP_CLEAN)
    log = store.ingest_log()
    assert log[-1]["imported"] == 3077 and log[-1]["status"] == "complete"
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("UPDATE ingest_log SET imported = 0")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("DELETE FROM ingest_log")


def test_forward_migrations_from_an_old_file(tmp_path: Path) -> None:
    """A version-4 file (old markings, reader-less keys, old incidents) upgrades in place."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(1, 5):
        for statement in MIGRATIONS[version - 1].statements("sqlite"):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
    old = ["PUBLIC", "REL UK FR", "REL UK", "REL NOBODY", "REL COALITION"]
    for i, (o, marking) in enumerate(zip(ucdp(5), old, strict=True)):
        conn.execute(
            "INSERT INTO observations (dedup_key, source, how_known, t_start, t_end, "
            "time_precision_s, lat, lon, uncertainty_m, category, weapon_class, count, text, "
            "origin, source_ref, releasability, raw, raw_sha256, source_file, source_line, "
            "attributes, incident_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (o.dedup_key, o.source, o.how_known, o.t_start, o.t_end, o.time_precision_s, o.lat,
             o.lon, o.uncertainty_m, o.category, o.weapon_class, o.count, o.text, o.origin,
             o.source_ref, marking, o.raw, o.raw_sha256, "ev.csv", i + 2, "", 1))
    conn.execute("INSERT INTO ingest_log (at, path, file_sha256, format, imported, duplicates, "
                 "rejected, status) VALUES (0, 'ev.csv', '', 'ucdp', 5, 0, 0, 'complete')")
    conn.close()
    s2 = SQLiteStore(path)
    assert s2.schema_version() == len(MIGRATIONS)
    back = list(s2.observations(ObservationFilter(), OWNER))
    assert [o.releasability for o in back] == [
        "PUBLIC", "REL TO FRA, GBR", "REL TO GBR", "OWNER ONLY", "OWNER ONLY"]
    assert all(o.incident_id is None for o in back)  # incidents are rebuilt by fusion
    assert s2.count_observations(ObservationFilter(), Viewer.of("GBR")) == 3
    keys = [r[0] for r in s2.execute("SELECT dedup_key FROM observations ORDER BY obs_id")]
    assert all(k.startswith("ucdp|UCDP GED|") for k in keys)
    with s2.transaction():  # the same records again are duplicates, not new rows
        assert s2.add_observations(ucdp(5), reader="ucdp").duplicates == 5
    s2.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 0)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        SQLiteStore(path)


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
