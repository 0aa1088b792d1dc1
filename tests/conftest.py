"""Shared fixtures: the real data, a store for every backend, a CLI runner.

PostgreSQL: the tests start one real server for the whole session (the ``pgserver`` wheel of
the ``dev`` extra ships PostgreSQL 16), or use the server that ``$TRUCEGUARD_TEST_PG`` names
(a URL whose user may create databases). Each test gets a fresh database of its own. A server
that cannot be had fails the tests that need it; they are never skipped. Under pytest-xdist
(``-n``, on by default: see ``[tool.pytest.ini_options]``) every worker is a session of its
own, so each worker starts its own server in its own data directory (named after the worker
id); the database names carry the worker's process id, so a shared ``$TRUCEGUARD_TEST_PG``
server serves every worker without clashes.

Workers: ``-n auto`` runs one worker per CPU this process may use, at most
``MAX_WORKERS``; ``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides, ``-n 0`` runs in one process.

Hypothesis profiles (the property tests' own ``@settings`` keep their ``max_examples``, and
inherit everything they do not set from the profile, ``derandomize`` included):

- ``ci``: derandomized (the same examples on every run and every machine), no example
  database, ``print_blob=True`` (a failure prints the blob that reproduces it), no deadline
  and no too-slow health check (a shared, loaded machine must not fail a test by its timing).
  Loaded when ``$CI`` is set.
- ``default``: the same as ``ci``. The README's ``pytest`` on a fresh machine sets no ``$CI``,
  and its run must be as deterministic as CI's.
- ``explore``: for developers hunting bugs, chosen with ``HYPOTHESIS_PROFILE=explore``:
  random examples, ten times each test's ``max_examples`` (1000 for the tests that set
  none), the example database kept in ``.hypothesis/`` so a failure found is replayed
  first on the next run.

``HYPOTHESIS_PROFILE`` names any of them; pytest's ``--hypothesis-profile`` wins over both.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from truceguard.geo.shipped import data_path
from truceguard.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"  # sources and licences: SOURCES.md there
UCDP_CLEAN = data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
UCDP_MESSY = TEST_DATA / "events" / "ucdp_ged_ukraine_2014-2023_partial_cp1252.csv"

# Every store test runs against each backend listed here.
STORE_BACKENDS = ["sqlite", "postgresql"]
# What each backend raises when a trigger or a constraint refuses a write.
INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)

# -- Hypothesis profiles (see the module docstring) --------------------------------------------
EXPLORE_FACTOR = 10
_hypothesis_own = settings.get_profile("default")  # each built on it, before it is replaced
settings.register_profile("explore", _hypothesis_own, derandomize=False, max_examples=1000,
                          print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", _hypothesis_own, derandomize=True, database=None,
                          print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", settings.get_profile("ci"))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") else "default"))


# The files that take longest (seconds of test time on two cores, 2026-12-05), run first:
# ``--dist loadfile`` gives each worker whole files in collection order, and the browser
# tests' files, last by name, otherwise kept one worker busy alone at the end.
LONGEST_FIRST = ("test_web_dashboard.py", "test_pipeline.py", "test_plan_cli.py", "test_cli.py",
                 "test_server_alerts.py", "test_fusion_curated.py", "test_server_schema.py",
                 "test_fusion_dense.py", "test_web_map_layers.py", "test_store_concurrency.py",
                 "test_federation.py", "test_server_api.py", "test_report_period.py",
                 "test_web_export.py", "test_cluster.py", "test_web_live.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first (``LONGEST_FIRST``), the rest in their order. Under
    ``explore``, each property test with its own ``@settings`` runs ``EXPLORE_FACTOR``
    times its own ``max_examples`` (it would otherwise keep its own count; the others take
    the profile's)."""
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept
    if settings.get_current_profile_name() != "explore":
        return
    done: set[int] = set()  # a parametrized test's items share one function
    for item in items:
        test = getattr(item, "obj", None)
        if id(test) in done or not getattr(test, "_hypothesis_internal_settings_applied", False):
            continue
        done.add(id(test))
        # where Hypothesis keeps a test's settings (read at each call of the test)
        own = test._hypothesis_internal_use_settings  # type: ignore[union-attr]
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            own, max_examples=own.max_examples * EXPLORE_FACTOR, derandomize=False)


# -- parallel workers ----------------------------------------------------------------------------
MAX_WORKERS = 4  # each worker has its own PostgreSQL and its own module fixtures


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per CPU this process may run on (not the machine's physical
    cores, which a VM's two vCPUs can report as one), at most MAX_WORKERS."""
    given = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if given:
        return int(given)
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, min(len(usable) if usable else (os.cpu_count() or 1), MAX_WORKERS))


@pytest.fixture
def test_data() -> Path:
    """The real data the tests read that the package does not ship (tests/data)."""
    return TEST_DATA


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


PG_IN_MEMORY_MIN_FREE = 8 << 30  # bytes free in /dev/shm for the servers' data in memory


def _pg_parent() -> str | None:
    """Where the session's PostgreSQL keeps its data: in memory (``/dev/shm``) when that has
    ``PG_IN_MEMORY_MIN_FREE`` bytes free, else the temporary directory. The server is as real
    either way; on disk, each new database (about 8 MB of files) waits for the disk."""
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    roomy = st.f_bavail * st.f_frsize >= PG_IN_MEMORY_MIN_FREE
    return str(shm) if roomy and os.access(shm, os.W_OK | os.X_OK) else None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server for this session (one that may create databases)."""
    given = os.environ.get("TRUCEGUARD_TEST_PG")
    if given:
        yield given
        return
    with warnings.catch_warnings():
        # platformdirs warns on import when $XDG_RUNTIME_DIR is unset (CI, containers)
        warnings.simplefilter("ignore")
        import pgserver
    # Its own folder, not pytest's: run as root, the server runs as another user, who must be
    # able to reach it (pytest keeps its folders private to their owner).
    # One server per xdist worker, each in a data directory of its own, in memory where there
    # is room for it (see _pg_parent).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    home = Path(tempfile.mkdtemp(prefix=f"truceguard-test-pg-{worker}-", dir=_pg_parent()))
    try:
        server = pgserver.get_server(home / "data", cleanup_mode="stop")
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL with pgserver ({exc!r}); set "
                    "TRUCEGUARD_TEST_PG to a server's URL instead", pytrace=False)
    url = server.get_uri()
    with psycopg.connect(url, autocommit=True) as conn:
        # A throwaway server: nothing it holds needs to survive a crash.
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    yield url
    server.cleanup()
    shutil.rmtree(home, ignore_errors=True)


_databases = itertools.count()


def _create_database(server: str, template: str = "template0") -> str:
    """A new database on ``server``, a copy of ``template``; its URL."""
    name = f"truceguard_test_{os.getpid()}_{next(_databases)}"
    encoding = " ENCODING 'UTF8' LOCALE 'C'" if template == "template0" else ""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}{encoding}")
    return with_database(server, name)


@pytest.fixture
def pg_database(pg_server: str) -> Callable[[], str]:
    """Makes fresh, empty databases on the session's server; returns their URLs."""
    return lambda: _create_database(pg_server)


# -- empty stores, migrated once -------------------------------------------------------------
# A new store the ``new_store`` fixture opens starts as a copy of an empty store this session
# made (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL): the same
# schema and rows as a store opened on nothing, without applying every migration again for
# each test. An empty store holds nothing of its own (its incident key is drawn on first use),
# so the copies share nothing. Tests of creating and migrating a store open their own
# ``location`` or ``pg_database`` instead, which stay empty.
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file of an empty SQLite store (do not write to it: copy it)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    open_store(str(path)).close()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """The name of an empty PostgreSQL store's database (a template: nobody connects)."""
    url = _create_database(pg_server)
    open_store(url).close()
    return urlsplit(url).path.lstrip("/")


@pytest.fixture(params=STORE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend of STORE_BACKENDS in turn."""
    return str(request.param)


@pytest.fixture
def location(backend: str, request: pytest.FixtureRequest, tmp_path: Path
             ) -> Callable[[], str]:
    """Makes new, empty database locations of the backend under test: file paths for
    SQLite, URLs of fresh databases for PostgreSQL."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_database")  # type: ignore[no-any-return]
    if backend != "sqlite":  # pragma: no cover - a backend listed without a fixture
        pytest.fail(f"no fixture for backend {backend}")
    count = itertools.count()
    return lambda: str(tmp_path / f"store{next(count)}.db")


@pytest.fixture
def new_store(backend: str, location: Callable[[], str], request: pytest.FixtureRequest
              ) -> Iterator[Callable[[], Store]]:
    """Opens new, empty stores of the backend under test (closed after the test), each a
    copy of the session's empty store."""
    opened: list[Store] = []
    if backend == "postgresql":
        server, template = request.getfixturevalue("pg_server"), request.getfixturevalue(
            "pg_template")

        def place() -> str:
            return _create_database(server, template)
    else:
        empty = request.getfixturevalue("sqlite_template")

        def place() -> str:
            path = location()
            shutil.copyfile(empty, path)
            return path

    def make() -> Store:
        opened.append(open_store(place()))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    """An empty store of each backend in turn."""
    return new_store()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
