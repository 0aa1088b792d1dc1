"""``/api/v1/audit`` (admins): check the audit log's hash chain."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from truceguard.server.routes.deps import Admin, Ctx
from truceguard.server.schemas import AuditCheckRecord

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/verify", response_model=AuditCheckRecord)
def verify_audit(ctx: Ctx, u: Admin) -> dict[str, Any]:
    """Check the audit log's hash chain."""
    from truceguard.audit import verify_log

    return asdict(verify_log(ctx.store.audit_entries(), ctx.store.audit_head()))


__all__ = ["router"]
