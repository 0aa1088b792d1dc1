"""The Store protocol, run against every backend in STORE_BACKENDS."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import UCDP_CLEAN
from truceguard.errors import SchemaVersionError, StoreError
from truceguard.ingest import import_file
from truceguard.io import read_ucdp
from truceguard.model import Observation, Viewer
from truceguard.store import ObservationFilter, SQLiteStore
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
        assert store.add_observations(batch) == (100, 0)
    with store.transaction():
        assert store.add_observations(batch + batch[:10]) == (0, 110)
    assert store.count_observations(ObservationFilter(), OWNER) == 100


def test_rolled_back_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_observations(ucdp(10))
        raise RuntimeError("boom")
    assert store.count_observations(ObservationFilter(), OWNER) == 0


def test_round_trip_keeps_every_field(store: Store) -> None:
    batch = ucdp(30)
    with store.transaction():
        store.add_observations(batch)
    back = list(store.observations(ObservationFilter(), OWNER))
    key = lambda o: o.source_ref  # noqa: E731
    for a, b in zip(sorted(batch, key=key), sorted(back, key=key), strict=True):
        assert b.obs_id is not None
        b.obs_id = None
        assert a == b


def test_filters(store: Store) -> None:
    with store.transaction():
        store.add_observations(ucdp(3077))
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
        store.add_observations(batch)
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
    path = tmp_path / "old.db"
    s = SQLiteStore.__new__(SQLiteStore)
    s.path = str(path)
    s.conn = sqlite3.connect(path, isolation_level=None)
    s._depth = 0
    s.migrate(target=1)
    with s.transaction():
        s.add_observations(ucdp(5))
    assert s.schema_version() == 1
    s.close()
    s2 = SQLiteStore(path)
    assert s2.schema_version() == len(MIGRATIONS)
    assert s2.count_observations(ObservationFilter(), OWNER) == 5
    assert all(o.incident_id is None for o in s2.observations(ObservationFilter(), OWNER))
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
    with pytest.raises(StoreError, match="truceguard init"):
        SQLiteStore(tmp_path / "missing.db", create=False)
