"""``/api/v1/observations``: list, count and read observations; submit them as a body or as a
streamed upload (read by the same readers as `truceguard import`)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from truceguard.errors import InputError, ThrottledError, TruceguardError
from truceguard.ingest import import_file
from truceguard.io import detect_format
from truceguard.io.records import record_dict
from truceguard.io.registry import reader
from truceguard.model import User
from truceguard.query import check_sources
from truceguard.server.ids import not_found
from truceguard.server.routes.bodies import (
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    REQUEST_BODY,
    empty_body,
    read_body,
    stream_to_file,
    suffix_of,
    unpathed,
    upload_too_large,
)
from truceguard.server.routes.deps import Ctx, F, Me, ObsId, ServerContext, page
from truceguard.server.schemas import (
    ImportAnswer,
    ObservationAnswer,
    ObservationCount,
    ObservationPage,
)

MAX_UPLOADS_PER_USER = 2  # file uploads one user may have under way at once
UPLOAD_RETRY_AFTER_S = 5  # what a user over that is told to wait

router = APIRouter(prefix="/api/v1/observations", tags=["observations"])

RECORDS_BODY: dict[str, Any] = {"requestBody": {
    "required": True,
    "description": "GeoJSON, CoT XML or CSV (UCDP, ACLED, or CSV with the standard columns), "
                   "detected from the content unless ``format`` names it",
    "content": {"application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}}


@router.get("", response_model=ObservationPage)
def list_observations(ctx: Ctx, u: Me, f: F) -> dict[str, Any]:
    """Observations releasable to you that match the filters, oldest first."""
    flt = f.paged()
    check_sources(ctx.store, flt, u.viewer, style="api")
    rows = list(ctx.store.observations(flt, u.viewer, limit=f.limit))
    return page(ctx.ids, rows, "obs_id", f.limit)


@router.get("/count", response_model=ObservationCount)
def count_observations(ctx: Ctx, u: Me, f: F) -> dict[str, Any]:
    """How many observations releasable to you match the filters."""
    flt = f.paged()
    check_sources(ctx.store, flt, u.viewer, style="api")
    return {"count": ctx.store.count_observations(flt, u.viewer),
            "marking": ctx.store.observation_marking(flt, u.viewer).text}


@router.get("/{obs_id}", response_model=ObservationAnswer)
def get_observation(ctx: Ctx, obs: ObsId, u: Me) -> dict[str, Any]:
    """One observation, with its raw input verbatim."""
    o = ctx.store.get_observation(obs.n, u.viewer)
    if o is None:
        raise not_found("observation", obs.token)
    return ctx.ids.shown({"marking": o.releasability, "item": record_dict(o)})


@router.post("", response_model=ImportAnswer, openapi_extra=RECORDS_BODY)
async def post_observations(request: Request, ctx: Ctx, u: Me, format: str | None = None,
                            source: str | None = None) -> dict[str, Any]:
    """Submit observations: a GeoJSON, CoT XML or CSV body (read by the same readers as
    `truceguard import`). Your marking is the ceiling; a record's own can only narrow it."""
    body = await read_body(request, MAX_BODY_BYTES)
    answer, imported = await run_in_threadpool(_ingest_bytes, ctx.store, body, u, format,
                                               source)
    _imported(ctx, imported)
    return answer


@router.post("/upload", response_model=ImportAnswer, openapi_extra=RECORDS_BODY)
async def upload_observations(request: Request, ctx: Ctx, u: Me, format: str | None = None,
                              source: str | None = None) -> dict[str, Any]:
    """Submit a file as the raw request body (up to 512 MiB), as `truceguard import`. The
    body streams to a temporary file and is refused (413) as soon as it passes the bound;
    a user has at most 2 uploads under way at once (the next is answered 429)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise upload_too_large(f"the body is {int(declared):,} bytes, over the "
                               f"{MAX_UPLOAD_BYTES:,}-byte limit")
    uploading, key = ctx.uploads, int(u.user_id or 0)
    if uploading.get(key, 0) >= MAX_UPLOADS_PER_USER:
        raise ThrottledError(
            f"you have {MAX_UPLOADS_PER_USER} uploads under way already",
            retry_after_s=UPLOAD_RETRY_AFTER_S, code="upload.too_many",
            hint=f"wait for your uploads under way to finish; try again in "
                 f"{UPLOAD_RETRY_AFTER_S} s")
    uploading[key] = uploading.get(key, 0) + 1
    try:
        with tempfile.TemporaryDirectory(prefix="truceguard-api-") as tmp:
            raw = Path(tmp) / "request"
            first = await stream_to_file(request, raw, declared)
            if not first:
                raise empty_body()
            path = raw.rename(raw.with_suffix(suffix_of(first)))
            answer, imported = await run_in_threadpool(_ingest_file, ctx.store, path, tmp, u,
                                                       format, source)
    finally:
        uploading[key] -= 1
        if not uploading[key]:
            del uploading[key]
    _imported(ctx, imported)
    return answer


def _imported(ctx: ServerContext, n: int) -> None:
    """Tell the live loop, from the event loop's thread, that ``n`` observations came."""
    if n and ctx.on_ingest is not None:
        ctx.on_ingest(n)


def _ingest_bytes(store: Any, body: bytes, u: User, fmt: str | None, source: str | None
                  ) -> tuple[dict[str, Any], int]:
    if not body.strip():
        raise empty_body()
    with tempfile.TemporaryDirectory(prefix="truceguard-api-") as tmp:
        path = Path(tmp) / f"request{suffix_of(body.lstrip()[:1])}"
        path.write_bytes(body)
        return _ingest_file(store, path, tmp, u, fmt, source)


def _ingest_file(store: Any, path: Path, tmp: str, u: User, fmt: str | None,
                 source: str | None) -> tuple[dict[str, Any], int]:
    """Import the request body saved at ``path`` (in the temporary folder ``tmp``): the
    answer, and how many observations were imported."""
    try:
        fmt = fmt or detect_format(path)
    except TruceguardError as exc:
        raise unpathed(exc, (str(path), tmp), REQUEST_BODY) from None
    options: dict[str, Any] = {}
    if "source" in reader(fmt).options:
        options["source"] = source or f"api:{u.name}"
    elif source:
        raise InputError(f"source {source!r}: the {fmt} format names its own sources",
                         hint="leave source out", code="input.unknown_option")
    try:
        summary = import_file(store, path, fmt=fmt, releasability=u.marking,
                              who=u.name, scope=f"user:{u.user_id}", **options)
    except TruceguardError as exc:
        raise unpathed(exc, (str(path), tmp), REQUEST_BODY) from None
    store.audit(u.name, "observations.import", {
        "format": fmt, "imported": summary.imported, "duplicates": summary.duplicates,
        "conflicts": summary.conflicts, "rejected": summary.rejected})
    return {"imported": summary.imported, "duplicates": summary.duplicates,
            "conflicts": summary.conflicts, "rejected": summary.rejected,
            "errors": [{**e.as_dict(), "file": REQUEST_BODY}  # type: ignore[attr-defined]
                       for e in summary.errors[:50]]}, summary.imported


__all__ = ["MAX_UPLOADS_PER_USER", "router"]
