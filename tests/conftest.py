"""Shared fixtures: the real data, a store for every backend, a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from truceguard.geo.shipped import data_path
from truceguard.store import SQLiteStore

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TRUCEGUARD_SHARED", REPO.parent / "shared")) / "data"
UCDP_CLEAN = data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
UCDP_MESSY = SHARED / "events" / "ucdp_ged_ukraine_2014-2023_partial_cp1252.csv"

# Every store test runs against each backend listed here.
STORE_BACKENDS = ["sqlite"]


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"the shared real data is missing at {SHARED} (set TRUCEGUARD_SHARED)")
    return SHARED


@pytest.fixture(params=STORE_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLiteStore]:
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "store.db")
    else:  # pragma: no cover - a backend listed without a fixture is a test bug
        pytest.fail(f"no fixture for backend {request.param}")
    yield s
    s.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
