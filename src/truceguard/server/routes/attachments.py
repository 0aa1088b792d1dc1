"""Evidence attachments (``truceguard.attachments``): attach a file to an observation, list an
observation's files, read a file's bytes."""

from __future__ import annotations

from io import BytesIO
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from truceguard.errors import ForbiddenError
from truceguard.server.routes.bodies import read_attachment
from truceguard.server.routes.deps import Ctx, Digest, Me, ObsId, ObsIdQuery
from truceguard.server.schemas import AttachmentAdded, AttachmentList

router = APIRouter(prefix="/api/v1", tags=["attachments"])

MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf", "video/mp4")
BINARY = {"schema": {"type": "string", "format": "binary"}}
ATTACHMENT_BODY: dict[str, Any] = {"requestBody": {
    "required": True,
    "description": "the file as the raw body (its name in X-Filename), or as the one file "
                   "of a multipart/form-data body",
    "content": {"application/octet-stream": BINARY,
                "multipart/form-data": {"schema": {
                    "type": "object", "properties": {"file": {"type": "string",
                                                              "format": "binary"}},
                    "required": ["file"]}}}}}


@router.post("/observations/{obs_id}/attachments", status_code=201,
             response_model=AttachmentAdded, openapi_extra=ATTACHMENT_BODY,
             responses={200: {"model": AttachmentAdded,
                              "description": "the file was attached already"}})
async def post_attachment(obs: ObsId, request: Request, response: Response, ctx: Ctx, u: Me,
                          x_filename: Annotated[str | None, Header(
                              description="the file's name, percent-encoded UTF-8 (raw "
                                          "bodies)")] = None) -> dict[str, Any]:
    """Attach evidence to an observation: the file as the raw body with its name in
    ``X-Filename`` (percent-encoded UTF-8), or as the one file of a multipart/form-data
    body. JPEG, PNG, WebP, PDF or MP4 by content, its name's extension agreeing, up to
    20 MiB: the body is refused (413) as soon as it passes that. Stored once by SHA-256;
    201 when newly attached, 200 when it was already. Observers attach to the observations
    they submitted, analysts to any they may see."""
    from truceguard.attachments import add_attachment, attachment_dict, check_may_handle

    with ctx.ids.speaking_of(obs):
        await run_in_threadpool(check_may_handle, ctx.store, u, obs.n)
    name, body = await read_attachment(request)
    with ctx.ids.speaking_of(obs):
        added = await run_in_threadpool(add_attachment, ctx.store, obs.n, BytesIO(body), name,
                                        who=u.name, viewer=u.viewer)
    response.status_code = 201 if added.new_link else 200
    return ctx.ids.shown({"item": attachment_dict(added.attachment),
                          "new_bytes": added.new_bytes, "new_link": added.new_link})


@router.get("/observations/{obs_id}/attachments", response_model=AttachmentList)
def list_observation_attachments(obs: ObsId, ctx: Ctx, u: Me) -> dict[str, Any]:
    """An observation's evidence files (metadata: digest, type, size, capture time,
    position, device, who linked it), under the observation's marking."""
    from truceguard.attachments import attachment_dict, check_may_handle, list_attachments

    with ctx.ids.speaking_of(obs):
        check_may_handle(ctx.store, u, obs.n)
        listing = list_attachments(ctx.store, obs.n, u.viewer)
    return ctx.ids.shown({"marking": listing.marking, "obs_id": obs.n,
                          "items": [attachment_dict(a) for a in listing.items]})


@router.get("/attachments/{sha256}", response_class=Response, responses={200: {
    "description": "the file's bytes", "content": {t: BINARY for t in MEDIA_TYPES}}})
def get_attachment_bytes(sha256: Digest, ctx: Ctx, u: Me, obs: ObsIdQuery = None) -> Response:
    """An evidence file's bytes, seen through observation ``obs_id`` (default: any linked
    observation you may see); the view is logged in the audit log. 404 alike for a file
    that does not exist and one you may not see. Observers read through the observations
    they submitted only (give ``obs_id``)."""
    from truceguard.attachments import check_may_handle, extension, get_attachment

    if u.role == "observer" and obs is None:
        raise ForbiddenError("observers read evidence through their own observations",
                             hint="give obs_id", code="forbidden.not_own")
    if obs is None:
        att, data = get_attachment(ctx.store, sha256, u.viewer, who=u.name, via="api")
    else:
        with ctx.ids.speaking_of(obs):
            if u.role == "observer":
                check_may_handle(ctx.store, u, obs.n)
            att, data = get_attachment(ctx.store, sha256, u.viewer, who=u.name, obs_id=obs.n,
                                       via="api")
    name = f"{att.sha256}.{extension(att.media_type)}"
    return Response(data, media_type=att.media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "ETag": f'"{att.sha256}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
        "X-Observation": ctx.ids.token("observation", att.obs_id)})


__all__ = ["router"]
