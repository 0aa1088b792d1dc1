"""Field capture: a monitor's form that works with no connection (``/capture``), and the one
API route its reports arrive by (``POST /api/v1/capture``).

The page (``web/static/capture.html`` and ``js/capture.js``) is an installable web app: its
service worker (``/capture/sw.js``, scope ``/capture``) keeps the page's own files, so that it
opens with no connection; reports wait on the device (IndexedDB), each under an id the device
made, until the server has them. The page and its files hold no data and take no token;
``/api/v1/capture/form`` (the user's ceiling and the vocabularies) and the report route do.

A report is one GeoJSON Feature read by the GeoJSON reader (the same validation as any
import: times, bounds, a monitor's report fields), stored through ``ingest.ingest_records``
under an identity scoped to the user (reader ``capture@user:<id>``, source
``capture:<name>``, source reference the device's id; provenance file ``capture``, attribute
``submitted_by``). Sending the same report again (a retry
after a lost answer) is the duplicate the ingest recognises: nothing is stored twice, and the
answer names the same observation (200 instead of 201). Another report under an id already
used is refused (``capture.conflict``), and kept for review as ingest keeps conflicts. The
report's marking is the one the user gives (default: their ceiling); one their ceiling does
not cover, or one they could not read back, is refused (``forbidden.marking``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError
from starlette.concurrency import run_in_threadpool

from truceguard.errors import ForbiddenError, InputError, MarkingError, RowError
from truceguard.ingest import ingest_records
from truceguard.io.geojson import read_geojson
from truceguard.marking import parse_marking
from truceguard.model import (
    CATEGORIES,
    FIRE_DIRECTIONS,
    HAZARD_TYPES,
    HOW_KNOWN,
    REPORT_KINDS,
    RESTRICTION_TYPES,
    STORAGE_STATES,
    WEAPON_CLASSES,
    Observation,
    User,
)
from truceguard.server.routes.bodies import read_body
from truceguard.server.routes.deps import Ctx, Me, ServerContext
from truceguard.store import ObservationFilter
from truceguard.web import STATIC

router = APIRouter(tags=["capture"])

MAX_REPORT_BYTES = 64 << 10  # one report's JSON (its photo goes to the attachments route)
CLIENT_ID = r"^[A-Za-z0-9_-]{8,64}$"
SHELL_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
                "data: blob:; worker-src 'self'; manifest-src 'self'; connect-src 'self'; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
# Properties the server sets itself: a report names neither its source nor its identity.
SERVER_PROPERTIES = ("source", "source_ref", "id", "releasability", "source_file")


class CaptureBody(BaseModel):
    """A report from the field: the device's id for it, the marking the user gives it, and
    the report as a GeoJSON Feature (a Point; properties as the GeoJSON reader reads them:
    ``time``, ``category``, ``how_known``, ``kind``, ``direction``, ``bearing_deg``,
    ``observer_lat`` ...)."""

    model_config = ConfigDict(extra="forbid")

    client_id: StrictStr = Field(pattern=CLIENT_ID, description=(
        "the device's own id for the report (8 to 64 letters, digits, '-' or '_'): sending "
        "it again stores nothing twice"))
    marking: StrictStr | None = Field(None, max_length=200, description=(
        "the report's marking; default your ceiling; one your ceiling does not cover is "
        "refused"))
    feature: dict[str, Any] = Field(description="the report as a GeoJSON Feature")


class CaptureAnswer(BaseModel):
    """Where the report is: its observation's id, and whether this request stored it."""

    obs_id: str
    client_id: str
    marking: str
    stored: bool = Field(description="false: the server had this report already")


class CaptureForm(BaseModel):
    """What the form offers this user."""

    user: str
    nation: str
    role: str
    marking: str = Field(description="your ceiling: the default, and the widest you may give")
    kinds: list[str]
    categories: list[str]
    how_known: list[str]
    weapon_classes: list[str]
    directions: list[str]
    restriction_types: list[str]
    hazard_types: list[str]
    storage_states: list[str]


def _shell_file(name: str, media: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=media, headers={
        "Cache-Control": "no-cache", "Content-Security-Policy": SHELL_POLICY,
        "Referrer-Policy": "no-referrer"})


@router.get("/capture", include_in_schema=False)
def capture_page() -> HTMLResponse:
    """The field form (no data in it: the page asks the API with the user's token)."""
    html = (STATIC / "capture.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Content-Security-Policy": SHELL_POLICY,
                                       "Cache-Control": "no-cache",
                                       "Referrer-Policy": "no-referrer"})


@router.get("/capture/sw.js", include_in_schema=False)
def capture_worker() -> FileResponse:
    """The form's service worker, allowed the scope ``/capture``."""
    response = _shell_file("sw.js", "text/javascript")
    response.headers["Service-Worker-Allowed"] = "/capture"
    return response


@router.get("/capture/manifest.webmanifest", include_in_schema=False)
def capture_manifest() -> FileResponse:
    """The form's web app manifest (what installing it shows)."""
    return _shell_file("manifest.webmanifest", "application/manifest+json")


@router.get("/api/v1/capture/form", response_model=CaptureForm)
def capture_form(u: Me) -> dict[str, Any]:
    """What the field form offers you: your ceiling and the words of each choice."""
    return {"user": u.name, "nation": u.nation, "role": u.role, "marking": u.marking,
            "kinds": list(REPORT_KINDS), "categories": list(CATEGORIES),
            "how_known": list(HOW_KNOWN), "weapon_classes": list(WEAPON_CLASSES),
            "directions": list(FIRE_DIRECTIONS), "restriction_types": list(RESTRICTION_TYPES),
            "hazard_types": list(HAZARD_TYPES), "storage_states": list(STORAGE_STATES)}


@router.post("/api/v1/capture", status_code=201, response_model=CaptureAnswer,
             responses={200: {"model": CaptureAnswer,
                              "description": "the server had this report already"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CaptureBody.model_json_schema()}}}})
async def post_capture(request: Request, response: Response, ctx: Ctx, u: Me
                       ) -> dict[str, Any]:
    """Store one report from the field, once: sending it again (the same ``client_id`` and
    content) stores nothing and answers 200 with the same observation. Up to 64 KiB; attach
    its photo through ``/api/v1/observations/{obs_id}/attachments``."""
    body = _body(await read_body(request, MAX_REPORT_BYTES))
    marking = _marking(body.marking, u)
    obs_id, stored = await run_in_threadpool(store_report, ctx, u, body, marking)
    if stored and ctx.on_ingest is not None:
        ctx.on_ingest(1)
    response.status_code = 201 if stored else 200
    return {"obs_id": ctx.ids.token("observation", obs_id), "client_id": body.client_id,
            "marking": marking, "stored": stored}


def _body(raw: bytes) -> CaptureBody:
    """The request body as a ``CaptureBody``; a domain error naming what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError(f"the body is not JSON that can be read (it starts {raw[:40]!r})",
                         hint="send {client_id, marking, feature} as JSON",
                         code="input.bad_json") from None
    try:
        return CaptureBody.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def _marking(given: str | None, u: User) -> str:
    """The marking ``u`` gives a report: refused unless their ceiling covers it and they may
    read it back."""
    ceiling = parse_marking(u.marking)
    if given is None or not given.strip():
        return ceiling.text
    try:
        marking = parse_marking(given, legacy=False)
    except MarkingError as exc:
        raise MarkingError(f"marking {given[:80]!r}: {exc.message}", hint=exc.hint,
                           code=exc.code) from None
    if not ceiling.covers(marking) or not u.viewer.may_see(marking):
        raise ForbiddenError(
            f"marking {given[:80]!r} is wider than you may give, or one you could not read "
            f"back (your ceiling: {ceiling.text})", code="forbidden.marking",
            hint=f"give {ceiling.text}, or a narrower marking that still includes "
                 f"{u.nation}")
    return marking.text


def report_observation(feature: dict[str, Any], client_id: str, marking: str, u: User
                       ) -> Observation:
    """The report as the GeoJSON reader reads it, with the source, identity and marking the
    server gives it; RowError (naming the field) for what the reader refuses."""
    if not isinstance(feature.get("properties"), dict):
        raise InputError("the report's feature has no properties object",
                         hint="send a GeoJSON Feature with its properties",
                         code="input.bad_row")
    props = {k: v for k, v in feature["properties"].items() if k not in SERVER_PROPERTIES}
    props.update(source=f"capture:{u.name}", releasability=marking)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": client_id, "geometry": feature.get("geometry"),
         "properties": props}]}
    with tempfile.TemporaryDirectory(prefix="truceguard-capture-") as tmp:
        path = Path(tmp) / "report.geojson"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        got = list(read_geojson(path, releasability=marking, source=f"capture:{u.name}"))
    if len(got) != 1:
        raise InputError("the report is not one feature", code="input.bad_row",
                         hint="send one GeoJSON Feature")
    first = got[0]
    if isinstance(first, RowError):
        raise InputError(f"the report's {first.field}: {first.reason}", code="input.bad_row",
                         hint="correct that field of the report and send it again")
    return replace(first, source_file="capture", source_line=0,
                   attributes={**first.attributes, "submitted_by": u.name})


def store_report(ctx: ServerContext, u: User, body: CaptureBody, marking: str
                 ) -> tuple[int, bool]:
    """Store the report once: its observation's number, and whether it was new."""
    obs = report_observation(body.feature, body.client_id, marking, u)
    summary = ingest_records(ctx.store, [obs], source=f"capture:{u.name}",
                             reader=f"capture@user:{u.user_id}", who=u.name)
    if summary.rejected:
        err = summary.errors[0]
        raise InputError(f"the report was refused: {err}", code="input.bad_row",
                         hint="correct the report and send it again")
    if summary.conflicts:
        raise InputError(f"client_id {body.client_id!r} names another report already",
                         code="capture.conflict",
                         hint="give each report a new id; an analyst sees the two in "
                              "`truceguard conflicts`")
    flt = ObservationFilter(sources=(obs.source,), since=obs.t_start, until=obs.t_start)
    for stored in ctx.store.observations(flt, u.viewer):
        if stored.source_ref == body.client_id and stored.obs_id is not None:
            if summary.imported:
                ctx.store.audit(u.name, "capture", {"client_id": body.client_id,
                                                    "obs_id": stored.obs_id})
            return stored.obs_id, bool(summary.imported)
    raise ForbiddenError(f"report {body.client_id!r} is stored, under a marking you may not "
                         "read", code="forbidden.marking",
                         hint="send reports under a marking that includes your nation")


__all__ = ["MAX_REPORT_BYTES", "router", "store_report"]
