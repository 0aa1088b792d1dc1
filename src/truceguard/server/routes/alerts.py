"""``/api/v1/alerts`` (admins): the alert targets, as `truceguard alerts` manages them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from truceguard.errors import ForbiddenError
from truceguard.server.routes.deps import Admin, Ctx, TargetId
from truceguard.server.schemas import (
    AlertTargetAdded,
    AlertTargetAnswer,
    AlertTargetList,
    NewAlertTargetBody,
)

router = APIRouter(prefix="/api/v1/alerts", tags=["alert targets"])


@router.get("", response_model=AlertTargetList)
def list_alerts(ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Alert targets (`truceguard alerts list`), without their signing secrets."""
    from truceguard.server.alerts import target_dict

    return ctx.ids.shown({"items": [target_dict(t) for t in ctx.store.alert_targets()]})


@router.post("", status_code=201, response_model=AlertTargetAdded)
def add_alert(body: NewAlertTargetBody, ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Add an alert target, as `truceguard alerts add`; a webhook's signing secret is in
    this answer only. Its ``audience``: ``team`` (every new violation) or ``published``
    (only what a second analyst published). A target inside the network is the database
    owner's choice (`truceguard alerts add --allow-private`), never the API's."""
    from truceguard.server.alerts import add_target, target_dict

    if body.allow_private:
        raise ForbiddenError(
            "allow_private is not granted over the API: a target inside the network is "
            "the database owner's choice", hint="the database owner adds it with "
            "`truceguard alerts add --allow-private`", code="forbidden.allow_private")
    target, secret = add_target(
        ctx.store, webhook=body.webhook or None, cot=body.cot or None, as_user=body.as_,
        name=body.name or None, min_severity=body.min_severity, terms=body.terms,
        audience=body.audience, by=u.name)
    return ctx.ids.shown({"target": target_dict(target), "secret": secret})


@router.post("/{target_id}/disable", response_model=AlertTargetAnswer)
def disable_alert(target: TargetId, ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Disable an alert target: nothing more is owed to it."""
    from truceguard.server.alerts import disable_target, target_dict

    with ctx.ids.speaking_of(target):
        gone = disable_target(ctx.store, target.n, by=u.name)
    return ctx.ids.shown({"target": target_dict(gone)})


__all__ = ["router"]
