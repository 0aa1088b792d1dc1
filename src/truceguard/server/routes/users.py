"""``/api/v1/users`` (admins): list users, create one (the token is in that answer only),
disable one (their token stops working at once, their live CoT sessions end)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import anyio.to_thread
from fastapi import APIRouter

from truceguard.server.routes.deps import Admin, Ctx
from truceguard.server.schemas import NewUserBody, UserAnswer, UserCreated, UserList
from truceguard.users import add_user, disable_user

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("", response_model=UserList)
def list_users(ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Users, without their tokens."""
    return {"items": [asdict(x) for x in ctx.store.users()]}


@router.post("", status_code=201, response_model=UserCreated)
def create_user(body: NewUserBody, ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Create a user of your nation, in a role no higher than yours, with a marking your own
    covers (nobody grants what they do not hold); the token is in this answer only."""
    new, token = add_user(ctx.store, body.name, body.nation, body.role, marking=body.marking,
                          cert_fingerprint=body.cert_fingerprint, by=u.name, creator=u)
    return {"user": asdict(new), "token": token}


@router.post("/{name}/disable", response_model=UserAnswer)
async def disable(name: str, ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Disable a user: their token stops working at once, their CoT sessions end. The store
    is written on a worker thread; the live connections are ended on the event loop's."""
    gone = await anyio.to_thread.run_sync(lambda: disable_user(ctx.store, name, by=u.name))
    if ctx.on_user_disabled is not None:
        ctx.on_user_disabled(name)
    return {"user": asdict(gone)}


__all__ = ["router"]
