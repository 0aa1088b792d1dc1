"""``/healthz`` and ``/readyz``, without credentials: the process's services as the
supervisor (``server.service.Supervisor`` on ``app.state.supervisor``) reports them. Without
a supervisor (an app made by ``create_app`` alone) the API is the one service and is ready."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from truceguard import __version__
from truceguard.server.schemas import Health, Readiness, ServiceState
from truceguard.server.service import ServiceHealth

router = APIRouter(tags=["health"])

API_ALONE = ServiceHealth("api", "running", "no supervisor: the API alone")


def _services(request: Request) -> tuple[list[ServiceHealth], bool]:
    """The services' health and whether they are all ready."""
    supervisor = getattr(request.app.state, "supervisor", None)
    if supervisor is None:
        return [API_ALONE], True
    return list(supervisor.health()), bool(supervisor.ready())


@router.get("/healthz", response_model=Health)
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness without credentials: the version, the database's schema version, and each
    service's state (``degraded`` when one failed)."""
    services, _ = _services(request)
    store = request.app.state.context.store
    schema_version = await run_in_threadpool(store.schema_version)
    failed = any(s.state == "failed" for s in services)
    return {"status": "degraded" if failed else "ok", "version": __version__,
            "schema_version": schema_version, "services": [s.as_dict() for s in services]}


@router.get("/readyz", response_model=Readiness, responses={503: {
    "model": Readiness, "description": "a service does not run (yet, or any more)"}})
async def readyz(request: Request) -> Any:
    """200 when every service runs and the process is not stopping, 503 otherwise."""
    services, ready = _services(request)
    body = Readiness(status="ready" if ready else "not_ready",
                     services=[ServiceState(**s.as_dict()) for s in services])
    if ready:
        return body
    return JSONResponse(body.model_dump(mode="json"), status_code=503)


__all__ = ["router"]
