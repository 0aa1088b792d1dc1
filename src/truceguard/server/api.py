"""The HTTP API (FastAPI), under ``/api/v1/``; OpenAPI at ``/openapi.json``.

Every route but ``/healthz`` needs ``Authorization: Bearer TOKEN``. Every route calls the same
core functions as the CLI: filters are parsed by ``truceguard.query`` (a parameter means what
the CLI option of the same name means), records are read through the store with the user's
``Viewer`` (releasability is applied in the store's SQL), writes go through ``ingest`` and
``pipeline``. Errors are the CLI's envelope ``{"error": {code, message, hint}}`` with an HTTP
status that follows the error class (400 input, 401 credentials, 403 role, 404 not found, 413
too large, 503 store); a bug answers 500 with the ``internal`` envelope and its traceback goes
to the log only.

Lists are paged by cursor: ``{"marking", "items", "next_cursor"}``; pass ``cursor`` back for the
next page. ``marking`` is the most restrictive marking of the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from io import BytesIO
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from truceguard import __version__
from truceguard.errors import (
    AuthError,
    ForbiddenError,
    InputError,
    NotFoundError,
    StoreBusyError,
    StoreError,
    TruceguardError,
    error_envelope,
)
from truceguard.ingest import import_file
from truceguard.io import detect_format
from truceguard.io.records import banner, record_dict
from truceguard.io.registry import reader
from truceguard.judge.terms import load_terms, shipped_terms
from truceguard.model import REVIEW_DECISIONS, User
from truceguard.pipeline import listed_statuses, review_queue, set_violation_status
from truceguard.query import (
    build_filter,
    check_sources,
    default_min_p,
    finite,
    parse_date_option,
    resolve_terms_and_clauses,
)
from truceguard.server.throttle import LoginThrottle, write_rows
from truceguard.store import ObservationFilter, Store, ViolationFilter
from truceguard.users import (
    add_user,
    authenticate,
    bearer_token,
    disable_user,
    require,
    token_hash,
)

log = logging.getLogger("truceguard.server")

MAX_BODY_BYTES = 16 << 20  # a JSON, GeoJSON, CSV or CoT body
MAX_UPLOAD_BYTES = 512 << 20  # a file upload
MULTIPART_ENVELOPE_BYTES = 64 << 10  # an attachment form's fields and headers, beyond its file
MAX_UPLOADS_PER_USER = 2  # file uploads one user may have under way at once
UPLOAD_RETRY_AFTER_S = 5  # what a user over that is told to wait
PAGE = 100
MAX_PAGE = 1000
MAX_TEXT = 2000  # a free-text field: a reason, a note, a marking
MAX_NAME = 64  # a name, a code, a status

STATUS = ((AuthError, 401), (ForbiddenError, 403), (NotFoundError, 404), (StoreError, 503),
          (InputError, 400))


class TooManyUploadsError(InputError):
    """The user already has ``MAX_UPLOADS_PER_USER`` uploads under way (429, Retry-After)."""

    code = "upload.too_many"

    def __init__(self, message: str, *, retry_after_s: int = UPLOAD_RETRY_AFTER_S) -> None:
        super().__init__(message, hint=f"wait for your uploads under way to finish; try again "
                         f"in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def _status_of(exc: TruceguardError) -> int:
    if exc.code == "input.too_large":
        return 413
    if isinstance(exc, TooManyUploadsError):
        return 429
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def _bounded(field: str, value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as text, refused (never stored, never echoed) past ``limit`` characters."""
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise InputError(f"{field} is {len(text):,} characters long, over the {limit:,}-character "
                         "limit", hint=f"shorten {field} to at most {limit:,} characters",
                         code="input.too_long")
    return text


def _cursor(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        t, i = json.loads(base64.urlsafe_b64decode(text.encode("ascii") + b"==="))
        t, i = int(t), int(i)
        if not (-(2**62) < t < 2**62 and 0 <= i < 2**63):
            raise ValueError("out of range")
        return t, i
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError):
        raise InputError(f"cursor {text[:40]!r} is not one this API gave",
                         hint="pass back next_cursor exactly as a page returned it",
                         code="input.bad_cursor") from None


def _next_cursor(rows: list[Any], id_field: str, limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    raw = json.dumps([int(last.t_start), int(getattr(last, id_field))]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page(rows: list[Any], id_field: str, limit: int) -> dict[str, Any]:
    return {"marking": banner(rows), "items": [record_dict(r) for r in rows],
            "next_cursor": _next_cursor(rows, id_field, limit)}


Filters = dict[str, Any]


def _filters(
    since: str | None = None,
    until: str | None = None,
    bbox: str | None = None,
    near: str | None = None,
    within_km: float | None = None,
    category: Annotated[list[str] | None, Query()] = None,
    weapon_class: Annotated[list[str] | None, Query()] = None,
    source: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
    cursor: str | None = None,
) -> Filters:
    """The list filters, with the CLI's meaning (``truceguard.query.build_filter``)."""
    flt = build_filter(since, until, bbox, near, within_km, tuple(category or ()),
                       tuple(source or ()), tuple(weapon_class or ()), style="api")
    return {"flt": flt, "limit": limit, "after": _cursor(cursor)}


def _user(request: Request) -> User:
    """The request's user. Failed logins are throttled per source address and audited as one
    ``auth.failed`` entry per address and minute (``truceguard.server.throttle``): a blocked
    address is answered 429 with ``Retry-After`` before the store is touched, except for a
    token that already succeeded from that address."""
    store = request.app.state.store
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "(unknown)"
    header = request.headers.get("authorization")
    token = bearer_token(header)
    digest = token_hash(token) if token else None
    wait = throttle.retry_after(address, digest)
    if wait is not None:
        raise StarletteHTTPException(429, f"too many failed logins from {address}; try again "
                                     f"in {wait} s", headers={"Retry-After": str(wait)})

    def failed(why: str, name: str | None) -> None:
        throttle.failed(address, why, name)
        write_rows(store, throttle.due())

    user = authenticate(store, header, where=request.url.path, on_failure=failed)
    if digest is not None:
        throttle.succeeded(address, digest)
    return user


def _analyst(u: Annotated[User, Depends(_user)]) -> User:
    require(u, "analyst")
    return u


def _admin(u: Annotated[User, Depends(_user)]) -> User:
    require(u, "admin")
    return u


Id = Annotated[int, PathParam(ge=1, le=2**63 - 1)]
Digest = Annotated[str, PathParam(pattern="^[0-9a-f]{64}$")]
Me = Annotated[User, Depends(_user)]
Analyst = Annotated[User, Depends(_analyst)]
Admin = Annotated[User, Depends(_admin)]
F = Annotated[Filters, Depends(_filters)]


def _known_query(request: Request) -> None:
    """Refuse a query parameter the route does not declare (with its dependencies): a
    misspelt filter is an error, never a filter silently dropped."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names: set[str] = set()
    todo = [dependant]
    while todo:  # the route's own query parameters and its dependencies'
        d = todo.pop()
        names |= {p.alias for p in d.query_params}
        todo.extend(d.dependencies)
    valid = sorted(names)
    for name in request.query_params:
        if name not in valid:
            from truceguard.errors import suggest

            path = getattr(route, "path", request.url.path)
            raise InputError(
                f"query parameter {name!r} is not taken by {request.method} {path}",
                hint=suggest(name, valid, limit=len(valid)) if valid
                else "this route takes no query parameters", code="input.unknown_parameter")


DOCS_STATIC = "/api/static/docs"


def _docs_folder() -> Path | None:
    """The Swagger UI and ReDoc files shipped by the ``fastapi-standalone-docs`` package (the
    ``server`` extra), found without importing it; None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("fastapi_standalone_docs")
    roots = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(roots[0]) / "static" if roots else None
    return folder if folder is not None and folder.is_dir() else None


def _docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` from files on this machine, never a CDN: users work
    offline. Like ``/openapi.json`` they take no token."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    folder = _docs_folder()
    if folder is not None:
        app.mount(DOCS_STATIC, StaticFiles(directory=folder), name="docs-static")

    def page(name: str) -> None:
        if folder is None:
            raise NotFoundError(f"{name} is not shipped with this installation",
                                hint="install truceguard[server] (fastapi-standalone-docs); "
                                "the API's schema is at /openapi.json",
                                code="not_found.route")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page("/docs")
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{DOCS_STATIC}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/fastapi/favicon.png",
            swagger_ui_parameters={"validatorUrl": None})  # no call to validator.swagger.io

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page("/redoc")
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_STATIC}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_STATIC}/fastapi/favicon.png", with_google_fonts=False)


def create_app(store: Store, *, on_ingest: Callable[[int], None] | None = None,
               on_user_disabled: Callable[[str], None] | None = None,
               plans: Any = None) -> FastAPI:
    """The API over ``store``. ``on_ingest`` is called after observations were committed (the
    live loop's poke); ``on_user_disabled`` when a user is disabled (to end their live CoT
    sessions); ``plans`` runs plan requests (``server.plans.PlanRunner``)."""
    app = FastAPI(title="truceguard", version=__version__,
                  dependencies=[Depends(_known_query)], docs_url=None, redoc_url=None,
                  description="Watch a ceasefire and plan the force that safeguards it.")

    # The server's own folders never appear in an error: its data folder, the temporary one.
    folders = [(str(Path(tempfile.gettempdir()).resolve()), "(temporary folder)"),
               (tempfile.gettempdir(), "(temporary folder)")]
    if getattr(store, "path", None) not in (None, ":memory:"):
        folders.insert(0, (str(Path(str(store.path)).resolve().parent), "(data folder)"))
        folders.insert(0, (str(store.path), "(database)"))

    @app.exception_handler(TruceguardError)
    async def domain_error(_: Request, exc: TruceguardError) -> JSONResponse:
        envelope = error_envelope(exc)
        for key in ("message", "hint"):
            for folder, word in folders:
                if folder and len(folder) > 1:
                    envelope["error"][key] = envelope["error"][key].replace(folder, word)
        headers = ({"Retry-After": str(exc.retry_after_s)}
                   if isinstance(exc, StoreBusyError | TooManyUploadsError) else None)
        return JSONResponse(envelope, status_code=_status_of(exc), headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # Not an error of the server's: one line, no traceback; nobody reads the answer.
        who = f"{request.client.host}:{request.client.port}" if request.client else "(unknown)"
        log.info("client %s hung up while sending %s %s (%s)", who, request.method,
                 request.url.path, str(exc) or "the body was cut short")
        return Response(status_code=400)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        bad = InputError(f"{where}: {first.get('msg', 'invalid value')} "
                         f"(got {str(first.get('input'))[:60]!r})",
                         hint="see /openapi.json for the parameters", code="input.invalid")
        return JSONResponse(error_envelope(bad), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found.route", 405: "input.method",
                429: "auth.throttled"}.get(exc.status_code, "http")
        hint = ("wait for Retry-After seconds, then send a valid token" if exc.status_code == 429
                else "see /openapi.json for the routes")
        err = TruceguardError(str(exc.detail), hint=hint, code=code)
        return JSONResponse(error_envelope(err), status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return JSONResponse(error_envelope(exc), status_code=500)

    app.state.store = store
    app.state.login_throttle = LoginThrottle()
    _docs(app)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness without credentials."""
        return {"status": "ok", "version": __version__, "schema_version": store.schema_version()}

    # -- observations ---------------------------------------------------------------------
    @app.get("/api/v1/observations")
    def list_observations(u: Me, f: F) -> dict[str, Any]:
        """Observations releasable to you that match the filters, oldest first."""
        flt = _with(f)
        check_sources(store, flt, u.viewer, style="api")
        rows = list(store.observations(flt, u.viewer, limit=f["limit"]))
        return _page(rows, "obs_id", f["limit"])

    @app.get("/api/v1/observations/count")
    def count_observations(u: Me, f: F) -> dict[str, Any]:
        """How many observations releasable to you match the filters."""
        flt = _with(f)
        check_sources(store, flt, u.viewer, style="api")
        return {"count": store.count_observations(flt, u.viewer),
                "marking": store.observation_marking(flt, u.viewer).text}

    @app.get("/api/v1/observations/{obs_id}")
    def get_observation(obs_id: Id, u: Me) -> dict[str, Any]:
        """One observation, with its raw input verbatim."""
        o = store.get_observation(obs_id, u.viewer)
        if o is None:
            raise NotFoundError(f"no observation {obs_id}", code="not_found.observation")
        return {"marking": o.releasability, "item": record_dict(o)}

    @app.post("/api/v1/observations")
    async def post_observations(request: Request, u: Me, format: str | None = None,
                                source: str | None = None) -> dict[str, Any]:
        """Submit observations: a GeoJSON, CoT XML or CSV body (read by the same readers as
        `truceguard import`). Your marking is the ceiling; a record's own can only narrow it."""
        body = await _read_body(request, MAX_BODY_BYTES)
        return await run_in_threadpool(_ingest_bytes, body, u, format, source)

    # Uploads under way, by user id: touched on the event loop only, so no lock.
    uploading: dict[int, int] = {}
    app.state.uploads_under_way = uploading

    @app.post("/api/v1/observations/upload")
    async def upload_observations(request: Request, u: Me, format: str | None = None,
                                  source: str | None = None) -> dict[str, Any]:
        """Submit a file as the raw request body (up to 512 MiB), as `truceguard import`. The
        body streams to a temporary file and is refused (413) as soon as it passes the bound;
        a user has at most 2 uploads under way at once (the next is answered 429)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            raise _upload_too_large(f"the body is {int(declared):,} bytes, over the "
                                    f"{MAX_UPLOAD_BYTES:,}-byte limit")
        key = int(u.user_id or 0)
        if uploading.get(key, 0) >= MAX_UPLOADS_PER_USER:
            raise TooManyUploadsError(f"you have {MAX_UPLOADS_PER_USER} uploads under way "
                                      "already")
        uploading[key] = uploading.get(key, 0) + 1
        try:
            with tempfile.TemporaryDirectory(prefix="truceguard-api-") as tmp:
                raw = Path(tmp) / "request"
                first = await _stream_to_file(request, raw, declared)
                if not first:
                    raise _empty_body()
                path = raw.rename(raw.with_suffix(_suffix_of(first)))
                return await run_in_threadpool(_ingest_file, path, tmp, u, format, source)
        finally:
            uploading[key] -= 1
            if not uploading[key]:
                del uploading[key]

    def _ingest_bytes(body: bytes, u: User, fmt: str | None, source: str | None
                      ) -> dict[str, Any]:
        if not body.strip():
            raise _empty_body()
        with tempfile.TemporaryDirectory(prefix="truceguard-api-") as tmp:
            path = Path(tmp) / f"request{_suffix_of(body.lstrip()[:1])}"
            path.write_bytes(body)
            return _ingest_file(path, tmp, u, fmt, source)

    def _ingest_file(path: Path, tmp: str, u: User, fmt: str | None, source: str | None
                     ) -> dict[str, Any]:
        """Import the request body saved at ``path`` (in the temporary folder ``tmp``)."""
        try:
            fmt = fmt or detect_format(path)
        except TruceguardError as exc:
            raise _unpathed(exc, (str(path), tmp), REQUEST_BODY) from None
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
            raise _unpathed(exc, (str(path), tmp), REQUEST_BODY) from None
        store.audit(u.name, "observations.import", {
            "format": fmt, "imported": summary.imported, "duplicates": summary.duplicates,
            "conflicts": summary.conflicts, "rejected": summary.rejected})
        if summary.imported and on_ingest is not None:
            on_ingest(summary.imported)
        return {"imported": summary.imported, "duplicates": summary.duplicates,
                "conflicts": summary.conflicts, "rejected": summary.rejected,
                "errors": [{**e.as_dict(), "file": REQUEST_BODY}  # type: ignore[attr-defined]
                           for e in summary.errors[:50]]}

    # -- evidence attachments (truceguard.attachments) ---------------------------------------
    @app.post("/api/v1/observations/{obs_id}/attachments", status_code=201,
              response_model=None)
    async def post_attachment(obs_id: Id, request: Request, u: Me) -> JSONResponse:
        """Attach evidence to an observation: the file as the raw body with its name in
        ``X-Filename`` (percent-encoded UTF-8), or as the one file of a multipart/form-data
        body. JPEG, PNG, WebP, PDF or MP4 by content, its name's extension agreeing, up to
        20 MiB: the body is refused (413) as soon as it passes that. Stored once by SHA-256;
        201 when newly attached, 200 when it was already. Observers attach to the observations
        they submitted, analysts to any they may see."""
        from truceguard.attachments import add_attachment, attachment_dict, check_may_handle

        await run_in_threadpool(check_may_handle, store, u, obs_id)
        name, body = await _read_attachment(request)
        added = await run_in_threadpool(add_attachment, store, obs_id, BytesIO(body), name,
                                        who=u.name, viewer=u.viewer)
        return JSONResponse({"item": attachment_dict(added.attachment),
                             "new_bytes": added.new_bytes, "new_link": added.new_link},
                            status_code=201 if added.new_link else 200)

    @app.get("/api/v1/observations/{obs_id}/attachments")
    def list_observation_attachments(obs_id: Id, u: Me) -> dict[str, Any]:
        """An observation's evidence files (metadata: digest, type, size, capture time,
        position, device, who linked it), under the observation's marking."""
        from truceguard.attachments import attachment_dict, check_may_handle, list_attachments

        check_may_handle(store, u, obs_id)
        listing = list_attachments(store, obs_id, u.viewer)
        return {"marking": listing.marking, "obs_id": obs_id,
                "items": [attachment_dict(a) for a in listing.items]}

    @app.get("/api/v1/attachments/{sha256}", response_model=None)
    def get_attachment_bytes(sha256: Digest, u: Me, obs_id: Annotated[
            int | None, Query(ge=1, le=2**63 - 1)] = None) -> Any:
        """An evidence file's bytes, seen through observation ``obs_id`` (default: any linked
        observation you may see); the view is logged in the audit log. 404 alike for a file
        that does not exist and one you may not see. Observers read through the observations
        they submitted only (give ``obs_id``)."""
        from starlette.responses import Response

        from truceguard.attachments import check_may_handle, extension, get_attachment

        if u.role == "observer":
            if obs_id is None:
                raise ForbiddenError("observers read evidence through their own observations",
                                     hint="give obs_id", code="forbidden.not_own")
            check_may_handle(store, u, obs_id)
        att, data = get_attachment(store, sha256, u.viewer, who=u.name, obs_id=obs_id,
                                   via="api")
        name = f"{att.sha256}.{extension(att.media_type)}"
        return Response(data, media_type=att.media_type, headers={
            "Content-Disposition": f'attachment; filename="{name}"', "ETag": f'"{att.sha256}"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
            "X-Observation": str(att.obs_id)})

    # -- incidents --------------------------------------------------------------------------
    @app.get("/api/v1/incidents")
    def list_incidents(u: Me, f: F) -> dict[str, Any]:
        """Incidents as you see them: computed from the observations releasable to you."""
        flt = _with(f)
        check_sources(store, flt, u.viewer, style="api")
        return _page(store.incidents(flt, u.viewer, limit=f["limit"]), "incident_id",
                     f["limit"])

    @app.get("/api/v1/incidents/{incident_id}")
    def get_incident(incident_id: Id, u: Me) -> dict[str, Any]:
        """One incident as you see it, with the observations behind it that you may see."""
        inc = store.get_incident(incident_id, u.viewer)
        if inc is None:
            raise NotFoundError(f"no incident {incident_id}", code="not_found.incident")
        obs = store.observations(ObservationFilter(incident_id=incident_id), u.viewer)
        return {"marking": inc.releasability, "item": record_dict(inc),
                "observations": [record_dict(o) for o in obs]}

    # -- violations -------------------------------------------------------------------------
    @app.get("/api/v1/violations")
    def list_violations(u: Me, f: F, terms: str | None = None,
                        clause: Annotated[list[str] | None, Query()] = None,
                        status: Annotated[list[str] | None, Query()] = None,
                        published_only: bool = False,
                        min_p: float | None = None) -> dict[str, Any]:
        """Violations as you see them, with their location probability and uncertainty;
        ``published_only=true`` keeps those a second analyst confirmed."""
        from truceguard.errors import unknown_value
        from truceguard.model import VIOLATION_STATUSES

        min_p = default_min_p() if min_p is None else min_p
        finite(min_p, "min_p", low=0.0, high=1.0)
        for s in status or ():
            if s not in VIOLATION_STATUSES:
                raise unknown_value("status", s, VIOLATION_STATUSES)
        statuses = listed_statuses(status or (), published_only, style="api")
        flt = _with(f)
        check_sources(store, flt, u.viewer, style="api")
        terms, clauses = resolve_terms_and_clauses(store, terms, tuple(clause or ()))
        vf = ViolationFilter(records=flt, terms=terms, clauses=clauses,
                             statuses=statuses, min_p_location=min_p)
        return _page(store.violations(vf, u.viewer, limit=f["limit"]), "violation_id",
                     f["limit"])

    @app.get("/api/v1/violations/{violation_id}")
    def get_violation(violation_id: Id, u: Me) -> dict[str, Any]:
        """One violation as you see it, with its status trail."""
        v = store.get_violation(violation_id, u.viewer)
        if v is None:
            raise NotFoundError(f"no violation {violation_id}", code="not_found.violation")
        return {"marking": v.releasability, "item": record_dict(v),
                "trail": [record_dict(s) for s in store.status_trail(violation_id)]}

    @app.post("/api/v1/violations/{violation_id}/status")
    def change_status(violation_id: Id, change: dict[str, str], u: Analyst) -> dict[str, Any]:
        """Decide on a violation (``{"status": ..., "why": ...}``) as you, the authenticated
        analyst: under_review, verified, published (by a second analyst, not the one who
        verified it), returned (to under_review) or discounted. The trail and the audit log
        keep every decision, with who made it."""
        extra = sorted(set(change) - {"status", "why"})
        if extra:
            raise InputError(f"field {extra[0]!r} is not taken", hint=(
                "send status and why; the decider is the user the token names"),
                code="input.unknown_key")
        status = _bounded("status", change.get("status", ""), MAX_NAME)
        why = str(change.get("why", ""))  # bounded by set_violation_status, for the CLI too
        if store.get_violation(violation_id, u.viewer) is None:
            raise NotFoundError(f"no violation {violation_id}", code="not_found.violation")
        trail = set_violation_status(store, violation_id, status, u.name, why)
        return {"violation_id": violation_id, "status": trail[-1].status,
                "statuses": list(REVIEW_DECISIONS), "trail": [record_dict(s) for s in trail]}

    @app.get("/api/v1/reviews/queue")
    def review_queue_route(u: Analyst, limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
                           cursor: str | None = None, include_own: bool = False
                           ) -> dict[str, Any]:
        """Verified violations you may see that await a second analyst, oldest first: those
        you did not verify yourself (``include_own=true``: all), each with who verified it."""
        waiting = review_queue(store, u.viewer, None if include_own else u.name,
                               after=_cursor(cursor), limit=limit)
        rows = [w.violation for w in waiting]
        return {"marking": banner([w.violation for w in waiting]),
                "items": [w.as_dict() for w in waiting],
                "next_cursor": _next_cursor(rows, "violation_id", limit)}

    @app.get("/api/v1/register")
    def weapons_register(u: Me, f: F, terms: str, storage: bool = False,
                         min_p: float | None = None) -> dict[str, Any]:
        """Weapons seen where ``terms`` forbid them, one item per system (re-sightings
        linked), built from the sightings releasable to you and paged by first sighting; with
        ``storage=true`` each storage site's last check, all on one page. The filters choose
        the sightings."""
        from truceguard.judge.register import (
            RegisterParams,
            build_register,
            register_marking,
            storage_sites,
        )

        finite(min_p, "min_p", low=0.0, high=1.0)
        t = load_terms(_shipped_terms_name(terms))
        check_sources(store, f["flt"], u.viewer, style="api")
        seen = store.observations(f["flt"], u.viewer)  # the cursor pages systems, not these
        if storage:
            sites = storage_sites(t, seen)
            return {"marking": register_marking(sites), "items": [s.as_dict() for s in sites],
                    "next_cursor": None}
        after, limit = f["after"] or (-(2**62), -1), f["limit"]
        rows = [e for e in build_register(t, seen, RegisterParams(min_p=min_p))
                if (e.first_seen, e.first_obs_id) > after][:limit]
        return {"marking": register_marking(rows), "items": [e.as_dict() for e in rows],
                "next_cursor": _next_cursor(rows, "first_obs_id", limit)}

    # -- reports, terms, scenarios, plans ------------------------------------------------------
    @app.get("/api/v1/reports/period", response_model=None)
    def period_report(u: Analyst, terms: str, start: Annotated[str, Query(alias="from")],
                      end: Annotated[str, Query(alias="to")], period: str = "month",
                      format: str = "json", min_p: float | None = None) -> Any:
        """The period report of `truceguard report` for what is releasable to you."""
        from truceguard.report.period import PERIODS, build_period_report, render_html

        if period not in PERIODS:
            raise InputError(f"period {period!r} is not one of {', '.join(PERIODS)}",
                             code="input.unknown_value")
        if format not in ("json", "html"):
            raise InputError(f"format {format!r}: json or html", code="input.unknown_value")
        if min_p is not None:
            finite(min_p, "min_p", low=0.0, high=1.0)
        t = load_terms(_shipped_terms_name(terms))
        report = build_period_report(store, t, period, parse_date_option(start, "from"),
                                     parse_date_option(end, "to", end=True), u.viewer,
                                     trail=format == "html", min_p=min_p)
        if format == "html":
            return HTMLResponse(render_html(report, t))
        return json.loads(json.dumps(asdict(report), default=str))

    @app.get("/api/v1/terms")
    def list_terms(u: Me) -> dict[str, Any]:
        """The terms shipped with truceguard."""
        return {"items": [{"name": n, "title": load_terms(n).title} for n in shipped_terms()]}

    @app.get("/api/v1/terms/{name}")
    def show_terms(name: str, u: Me) -> dict[str, Any]:
        """One shipped terms file: its clauses, zones and sources."""
        if name not in shipped_terms():
            from truceguard.errors import unknown_value

            raise unknown_value("terms", name, shipped_terms(), code="not_found.terms",
                                cls=NotFoundError)
        return load_terms(name).as_dict()

    @app.get("/api/v1/scenarios")
    def list_scenarios(u: Me) -> dict[str, Any]:
        """The planning scenarios shipped with truceguard."""
        from truceguard.plan import load_scenario, shipped_scenarios

        return {"items": [{"name": n, "title": load_scenario(n).title}
                          for n in shipped_scenarios()]}

    @app.get("/api/v1/scenarios/{name}")
    def show_scenario(name: str, u: Me) -> dict[str, Any]:
        """One shipped scenario, as its file states it."""
        from truceguard.config import load_yaml
        from truceguard.errors import unknown_value
        from truceguard.geo.shipped import data_path
        from truceguard.plan import shipped_scenarios

        if name not in shipped_scenarios():
            raise unknown_value("scenario", name, shipped_scenarios(),
                                code="not_found.scenario", cls=NotFoundError)
        return json.loads(json.dumps(load_yaml(data_path("scenarios", f"{name}.yaml")),
                                     default=str))

    @app.post("/api/v1/plans", status_code=202)
    def start_plan(request_body: dict[str, Any], u: Analyst) -> dict[str, Any]:
        """Start a plan run (``{"scenario", "variants", "samples", "seed"}``); poll it."""
        if plans is None:
            raise StoreError("this server runs no plans", code="plans.disabled")
        run_id = plans.start(u.name, request_body)
        store.audit(u.name, "plan.start", {"run_id": run_id, "request": request_body})
        return {"run_id": run_id, "state": "queued"}

    @app.get("/api/v1/plans/{run_id}")
    def poll_plan(run_id: Id, u: Analyst) -> dict[str, Any]:
        """A plan run's state; its results once done."""
        run = store.plan_run(run_id)
        # Its starter reads it, and whoever may see its inputs' marking; to anyone else it
        # does not exist (a run with no recorded marking is its starter's only).
        if run is None or not (run.who == u.name or (
                run.marking and u.viewer.may_see(run.marking))):
            raise NotFoundError(f"no plan run {run_id}", code="not_found.plan_run")
        return {"run_id": run.run_id, "marking": run.marking or u.marking,
                "state": run.state, "who": run.who,
                "request": run.request, "error": run.error,
                "results": run.result if run.state == "done" else None}

    # -- users, alerts, audit (admin) -----------------------------------------------------------
    @app.get("/api/v1/users")
    def list_users(u: Admin) -> dict[str, Any]:
        """Users, without their tokens."""
        return {"items": [asdict(x) for x in store.users()]}

    @app.post("/api/v1/users", status_code=201)
    def create_user(body: dict[str, str], u: Admin) -> dict[str, Any]:
        """Create a user (``{"name", "nation", "role"[, "marking", "cert_fingerprint"]}``) of
        your nation, in a role no higher than yours, with a marking your own covers (nobody
        grants what they do not hold); the token is in this answer only."""
        name, nation, role = (_bounded(f, body.get(f, ""), MAX_NAME)
                              for f in ("name", "nation", "role"))
        marking = body.get("marking")
        new, token = add_user(store, name, nation, role,
                              marking=None if marking is None else _bounded("marking", marking),
                              cert_fingerprint=_bounded("cert_fingerprint",
                                                        body.get("cert_fingerprint", "")),
                              by=u.name, creator=u)
        return {"user": asdict(new), "token": token}

    @app.post("/api/v1/users/{name}/disable")
    def disable(name: str, u: Admin) -> dict[str, Any]:
        """Disable a user: their token stops working at once, their CoT sessions end."""
        gone = disable_user(store, name, by=u.name)
        if on_user_disabled is not None:
            on_user_disabled(name)
        return {"user": asdict(gone)}

    @app.get("/api/v1/audit/verify")
    def verify_audit(u: Admin) -> dict[str, Any]:
        """Check the audit log's hash chain."""
        from truceguard.audit import verify_log

        return asdict(verify_log(store.audit_entries(), store.audit_head()))

    @app.get("/api/v1/alerts")
    def list_alerts(u: Admin) -> dict[str, Any]:
        """Alert targets (`truceguard alerts list`), without their signing secrets."""
        from truceguard.server.alerts import target_dict

        return {"items": [target_dict(t) for t in store.alert_targets()]}

    @app.post("/api/v1/alerts", status_code=201)
    def add_alert(body: dict[str, Any], u: Admin) -> dict[str, Any]:
        """Add an alert target (``{"webhook": URL | "cot": "tcp://HOST:PORT", "as": USER[,
        "name", "min_severity", "terms"]}``), as `truceguard alerts add`; a webhook's signing
        secret is in this answer only. A target inside the network is the database owner's
        choice (`truceguard alerts add --allow-private`), never the API's."""
        from truceguard.server.alerts import add_target, target_dict

        keys = {"webhook", "cot", "as", "name", "min_severity", "terms", "allow_private"}
        extra = sorted(set(body) - keys)
        if extra:
            raise InputError(f"field {extra[0]!r} is not taken",
                             hint=f"send {', '.join(sorted(keys - {'allow_private'}))}",
                             code="input.unknown_key")
        if body.get("allow_private"):
            raise ForbiddenError(
                "allow_private is not granted over the API: a target inside the network is "
                "the database owner's choice", hint="the database owner adds it with "
                "`truceguard alerts add --allow-private`", code="forbidden.allow_private")
        severity = body.get("min_severity", 1)
        if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
            raise InputError(f"min_severity {severity!r} is out of range",
                             hint="an integer from 1 to 5", code="input.out_of_range")
        texts = {f: body.get(f) for f in ("webhook", "cot", "as", "name", "terms")}
        for f, v in texts.items():
            if v is not None and not isinstance(v, str):
                raise InputError(f"{f} is text", code="input.bad_type")
        target, secret = add_target(
            store, webhook=_bounded("webhook", texts["webhook"]) or None,
            cot=_bounded("cot", texts["cot"]) or None,
            as_user=_bounded("as", texts["as"], MAX_NAME),
            name=_bounded("name", texts["name"], MAX_NAME) or None, min_severity=severity,
            terms=_bounded("terms", texts["terms"], MAX_NAME), by=u.name)
        return {"target": target_dict(target), "secret": secret}

    @app.post("/api/v1/alerts/{target_id}/disable")
    def disable_alert(target_id: Id, u: Admin) -> dict[str, Any]:
        """Disable an alert target: nothing more is owed to it."""
        from truceguard.server.alerts import disable_target, target_dict

        return {"target": target_dict(disable_target(store, target_id, by=u.name))}

    def _with(f: Filters) -> ObservationFilter:
        from dataclasses import replace

        return replace(f["flt"], after=f["after"])

    return app


REQUEST_BODY = "request body"


def _unpathed(exc: TruceguardError, paths: tuple[str, ...], word: str) -> TruceguardError:
    """``exc`` with the server-side ``paths`` it names replaced by ``word`` (what the user
    sent), in its message, hint and path."""
    for key in ("message", "hint"):
        text = getattr(exc, key, "") or ""
        for p in paths:
            text = text.replace(p, word)
        setattr(exc, key, text)
    exc.args = (exc.message, *exc.args[1:])
    if isinstance(getattr(exc, "path", None), str):
        exc.path = word  # type: ignore[attr-defined]
    return exc


def _shipped_terms_name(name: str) -> str:
    """The API judges and reports against shipped terms only (never a path on the server)."""
    if name not in shipped_terms():
        from truceguard.errors import unknown_value

        raise unknown_value("terms", name, shipped_terms(), code="not_found.terms",
                            cls=NotFoundError)
    return name


async def _read_attachment(request: Request) -> tuple[str, bytes]:
    """An attachment upload's declared name and bytes: the raw body named by ``X-Filename``,
    or a multipart/form-data body's one file. Refused as soon as the body passes the file's
    bound (with room for a form's envelope): never held past it."""
    from urllib.parse import unquote

    from truceguard.attachments import MAX_ATTACHMENT_BYTES, split_multipart, too_large

    ctype = request.headers.get("content-type", "")
    form = ctype.lower().startswith("multipart/form-data")
    name = unquote(request.headers.get("x-filename", ""))
    if not form and not name:
        raise InputError("the file has no name", hint="send its name in an X-Filename header, "
                         "or the file as multipart/form-data", code="input.missing")
    limit = MAX_ATTACHMENT_BYTES + (MULTIPART_ENVELOPE_BYTES if form else 0)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in _body_chunks(request, declared):
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    return split_multipart(body, ctype) if form else (name, body)


def _empty_body() -> InputError:
    return InputError("the request body is empty", hint="send the records in the body",
                      code="input.empty")


def _suffix_of(first: bytes) -> str:
    """The temporary file's suffix for a body whose first non-blank byte is ``first``."""
    return {b"{": ".geojson", b"[": ".geojson", b"<": ".xml"}.get(first[:1], ".csv")


def _upload_too_large(message: str) -> InputError:
    return InputError(message, hint=f"split the file into parts of at most "
                      f"{MAX_UPLOAD_BYTES >> 20} MiB", code="input.too_large")


async def _stream_to_file(request: Request, path: Path, declared: str | None) -> bytes:
    """Write the request body to ``path`` as it comes, refused (``input.too_large``) as soon as
    it passes ``MAX_UPLOAD_BYTES``, the rest never read. Returns its first non-blank byte
    (``b""`` when it is all blank). Writes go to a worker thread a megabyte at a time."""
    first = b""
    size = 0
    pending = bytearray()
    with open(path, "wb") as fh:
        async for chunk in _body_chunks(request, declared):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise _upload_too_large(f"the body passed the {MAX_UPLOAD_BYTES:,}-byte limit")
            if not first:
                first = chunk.lstrip()[:1]
            pending += chunk
            if len(pending) >= 1 << 20:
                await run_in_threadpool(fh.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(fh.write, bytes(pending))
    return first


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (never held past it)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InputError(f"the body is {int(declared):,} bytes, over the {limit:,}-byte limit",
                         hint="split it, or use /api/v1/observations/upload",
                         code="input.too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in _body_chunks(request, declared):
        size += len(chunk)
        if size > limit:
            raise InputError(f"the body passed the {limit:,}-byte limit",
                             hint="split it, or use /api/v1/observations/upload",
                             code="input.too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _body_chunks(request: Request, declared: str | None) -> AsyncIterator[bytes]:
    """The body's chunks as they come; a client that hangs up (or resets the connection)
    before the end is ``ClientDisconnect``, saying how much of the body came."""
    got = 0
    try:
        async for chunk in request.stream():
            got += len(chunk)
            yield chunk
    except (ClientDisconnect, ConnectionResetError) as exc:
        of = f" of {int(declared):,}" if declared and declared.isdigit() else ""
        raise ClientDisconnect(f"the body stopped after {got:,}{of} bytes") from exc


__all__ = ["MAX_BODY_BYTES", "create_app"]
