"""Shared fixtures: the real data, a store for every backend, a CLI runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from truceguard.geo.shipped import data_path
from truceguard.store import SQLiteStore

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"  # sources and licences: SOURCES.md there
UCDP_CLEAN = data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
UCDP_MESSY = TEST_DATA / "events" / "ucdp_ged_ukraine_2014-2023_partial_cp1252.csv"

# Every store test runs against each backend listed here.
STORE_BACKENDS = ["sqlite"]


@pytest.fixture
def test_data() -> Path:
    """The real data the tests read that the package does not ship (tests/data)."""
    return TEST_DATA


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
