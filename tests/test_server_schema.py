"""schemathesis against the real server's /openapi.json with a valid token: no endpoint ever
answers 500, whatever it is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import UCDP_CLEAN
from tests.server_fixtures import Server, make_users, running
from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import open_store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    db = str(tmp / "schema.db")
    with open_store(db) as store:
        import_file(store, UCDP_CLEAN)
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))
    tokens = make_users(db)
    with running(db, tmp / "server.log", "--terms", "minsk-2015") as srv:
        srv.tokens = tokens
        yield srv


def operations(url: str) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    ops = [r.ok() for r in schema.get_all_operations()]
    # Plan runs take seconds each; test_server_api covers them.
    return [op for op in ops if not op.path.startswith("/api/v1/plans")]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_endpoint_answers_500(server: Server, mode: GenerationMode) -> None:
    token = server.tokens["admin"]
    ops = operations(server.url)
    assert len(ops) >= 15
    exercised = 0
    for op in ops:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert response.status_code < 500, (case.method, case.path, case.query,
                                                response.text[:500])
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message", "hint"}

        try:
            check()
        except Unsatisfiable:
            # No input of this operation can break its schema (no parameters, say).
            assert mode == GenerationMode.NEGATIVE, op.label
            continue
        exercised += 1
    assert exercised >= 10
