"""The HTTP API as a contract: /openapi.json types every request body, every answer and the
error envelope, and a client generated from it (openapi-python-client) works against a real
server: it posts an observation, lists it, reads its incident, and reads a refusal as the
typed error envelope."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers import wait_for
from tests.server_fixtures import Server, serving
from truceguard.server.api import create_app
from truceguard.store import open_store

PACKAGE = "truceguard_api_client"
BINARY_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf", "video/mp4")
FEATURE = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.95, 48.1]},
           "properties": {"time": "2020-03-01T08:00:00Z", "category": "shelling",
                          "id": "generated-client-1"}}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    with open_store(":memory:") as store:
        doc: dict[str, Any] = create_app(store).openapi()
    return doc


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


# -- the document ---------------------------------------------------------------------------
def test_every_body_is_typed(openapi: dict[str, Any]) -> None:
    posts = [(m, p, op) for m, p, op in _operations(openapi) if m == "POST"]
    assert len(posts) >= 8
    for method, path, op in posts:
        takes_body = not path.endswith("/disable")
        assert ("requestBody" in op) == takes_body, (method, path)
        if not takes_body:
            continue
        for ctype, media in op["requestBody"]["content"].items():
            schema = _resolve(openapi, media["schema"])
            if ctype == "application/json":  # a model: named fields, nothing else taken
                assert schema["properties"] and schema["additionalProperties"] is False, path
            else:
                assert schema.get("format") == "binary" or schema.get("properties"), path


def _bare(schema: Any, where: str) -> list[str]:
    """Where ``schema`` holds a bare ``{}`` (a value of any shape, undescribed)."""
    if isinstance(schema, dict):
        found = [where] if schema == {} else []
        for key, value in schema.items():
            if key not in ("default", "example", "examples"):
                found += _bare(value, f"{where}/{key}")
        return found
    if isinstance(schema, list):
        return [w for i, v in enumerate(schema) for w in _bare(v, f"{where}[{i}]")]
    return []


def test_every_answer_has_a_schema_and_every_error_the_envelope(openapi: dict[str, Any]
                                                                ) -> None:
    assert not _bare(openapi, "")
    envelope = openapi["components"]["schemas"]["ErrorEnvelope"]
    body = _resolve(openapi, envelope["properties"]["error"])
    assert set(body["required"]) == {"code", "message", "hint"}
    assert "HTTPValidationError" not in openapi["components"]["schemas"]  # 400, never 422
    for method, path, op in _operations(openapi):
        ok = [s for s in op["responses"] if s.startswith("2")]
        assert ok, (method, path)
        for status in ok:
            content = op["responses"][status]["content"]
            for ctype, media in content.items():
                schema = _resolve(openapi, media["schema"])
                assert schema.get("properties") or schema.get("type") == "string", (
                    method, path, status, ctype)
        for status in ("400", "500", "default"):
            media = op["responses"][status]["content"]["application/json"]
            assert media["schema"]["$ref"].endswith("/ErrorEnvelope"), (method, path, status)
        assert "422" not in op["responses"]
        assert op["operationId"].isidentifier()


# -- a generated client ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("generated"), "--terms", "minsk-2015") as srv:
        yield srv


@pytest.fixture(scope="module")
def client_package(server: Server, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[ModuleType]:
    """The client openapi-python-client generates from the live /openapi.json, imported."""
    tool = shutil.which("openapi-python-client") or str(
        Path(sys.executable).with_name("openapi-python-client"))
    if not Path(tool).exists():
        pytest.skip("openapi-python-client is not installed (the dev extra)")
    tmp = tmp_path_factory.mktemp("client")
    spec = tmp / "openapi.json"
    spec.write_text(httpx.get(server.url + "/openapi.json", timeout=30).text, encoding="utf-8")
    config = tmp / "config.json"  # each file type read as bytes; no formatter run afterwards
    config.write_text(json.dumps({
        "post_hooks": [], "content_type_overrides": {
            t: "application/octet-stream" for t in BINARY_TYPES}}), encoding="utf-8")
    out = tmp / PACKAGE
    done = subprocess.run([tool, "generate", "--path", str(spec), "--output-path", str(out),
                           "--meta", "none", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(tmp))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _api(name: str) -> Any:
    module_name = {
        "post_observations": "observations", "list_observations": "observations",
        "get_incident": "incidents", "get_observation": "observations",
        "change_status": "violations"}[name]
    return importlib.import_module(f"{PACKAGE}.api.{module_name}.{name}")


def test_a_generated_client_makes_a_round_trip(server: Server, client_package: ModuleType
                                               ) -> None:
    from io import BytesIO

    types = importlib.import_module(f"{PACKAGE}.types")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_package.AuthenticatedClient(base_url=server.url,
                                                token=server.tokens["gbr"])
    with client as c:
        body = types.File(payload=BytesIO(json.dumps(FEATURE).encode()),
                          file_name="feature.geojson")
        posted = _api("post_observations").sync(client=c, body=body)
        assert isinstance(posted, models.ImportAnswer), posted
        assert posted.imported == 1 and posted.rejected == 0

        def listed() -> Any:
            page = _api("list_observations").sync(client=c, source=["api:gbr"])
            assert isinstance(page, models.ObservationPage), page
            fused = [o for o in page.items if isinstance(o.incident_id, int)]
            return fused[0] if fused else None

        obs = wait_for(listed, 60, what="the posted observation fused into an incident")
        assert obs.source_ref == "generated-client-1" and obs.releasability == "REL TO GBR"
        assert obs.t_start == "2020-03-01T08:00:00Z"
        incident = _api("get_incident").sync(client=c, incident_id=obs.incident_id)
        assert isinstance(incident, models.IncidentAnswer), incident
        assert incident.item.incident_id == obs.incident_id
        assert [o.obs_id for o in incident.observations] == [obs.obs_id]

        bad = _api("list_observations").sync_detailed(client=c, since="05/07/2020")
        assert bad.status_code == 400
        assert isinstance(bad.parsed, models.ErrorEnvelope), bad.parsed
        assert "05/07/2020" in bad.parsed.error.message and bad.parsed.error.hint
        assert bad.parsed.error.code.startswith("input.")

        change = models.StatusChangeBody(status="verified", why="seen on two cameras")
        assert obs.obs_id.startswith("obs_")  # ids are tokens; a forged one is not found
        forged = "vio_" + "a" * 13
        missing = _api("change_status").sync_detailed(client=c, violation_id=forged,
                                                      body=change)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.ErrorEnvelope)
        assert missing.parsed.error.code == "not_found.violation"
