"""The HTTP API's routers, one per resource; ``create_app`` (``server.api``) includes them in
this order. Shared dependencies (the user, the store and hooks, filters, cursors) live in
``deps``; raw bodies are read under their bounds by ``bodies``."""

from __future__ import annotations

from fastapi import APIRouter

from truceguard.server.routes import (
    alerts,
    attachments,
    audit,
    basemap,
    capture,
    catalog,
    events,
    export,
    health,
    incidents,
    observations,
    plan_map,
    plans,
    register,
    reports,
    reviews,
    users,
    violations,
)

ROUTERS: list[APIRouter] = [
    health.router, observations.router, attachments.router, incidents.router,
    violations.router, export.router, reviews.router, register.router, reports.router,
    catalog.router, plans.router, users.router, alerts.router, audit.router,
    capture.router, events.router, basemap.router, plan_map.router,
]

__all__ = ["ROUTERS"]
