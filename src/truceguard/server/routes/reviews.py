"""``/api/v1/reviews``: the queue of verified violations awaiting a second analyst."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from truceguard.io.records import banner
from truceguard.pipeline import review_queue
from truceguard.server.routes.deps import PAGE, Analyst, Ctx, Cursor, Limit, next_cursor
from truceguard.server.routes.deps import parse_cursor as cursor_of
from truceguard.server.schemas import ReviewQueuePage

router = APIRouter(prefix="/api/v1/reviews", tags=["reviews"])


@router.get("/queue", response_model=ReviewQueuePage)
def review_queue_page(ctx: Ctx, u: Analyst, limit: Limit = PAGE, cursor: Cursor = None,
                       include_own: bool = False) -> dict[str, Any]:
    """Verified violations you may see that await a second analyst, oldest first: those
    you did not verify yourself (``include_own=true``: all), each with who verified it."""
    waiting = review_queue(ctx.store, u.viewer, None if include_own else u.name,
                           after=cursor_of(cursor, ctx.ids), limit=limit)
    rows = [w.violation for w in waiting]
    return ctx.ids.shown({"marking": banner([w.violation for w in waiting]),
                          "items": [w.as_dict() for w in waiting],
                          "next_cursor": next_cursor(ctx.ids, rows, "violation_id", limit)})


__all__ = ["router"]
