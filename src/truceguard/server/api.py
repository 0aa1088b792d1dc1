"""The HTTP API (FastAPI), under ``/api/v1/``; OpenAPI at ``/openapi.json``.

``create_app`` composes the app: its state (``routes.deps.ServerContext``: the store and the
hooks), the dependencies every route shares (no unknown query parameter), the error handlers,
the offline docs and one router per resource (``truceguard.server.routes``). Every route but
``/healthz`` and ``/readyz`` needs ``Authorization: Bearer TOKEN``. Every route calls the same
core functions as the CLI: filters are parsed by ``truceguard.query`` (a parameter means what
the CLI option of the same name means), records are read through the store with the user's
``Viewer`` (releasability is applied in the store's SQL), writes go through ``ingest`` and
``pipeline``. Request bodies and answers are Pydantic models (``server.schemas``).

Errors are the CLI's envelope ``{"error": {code, message, hint}}`` with the HTTP status its
class carries (``truceguard.errors``: 400 input, 401 credentials, 403 role, 404 not found,
413 too large, 429 throttled with ``Retry-After``, 503 store); a bug answers 500 with the
``internal`` envelope and a request id (also in ``X-Request-Id``), and its traceback goes to
the log only, under that id.

Lists are paged by cursor: ``{"marking", "items", "next_cursor"}``; pass ``cursor`` back for the
next page. ``marking`` is the most restrictive marking of the page.

Observations, violations, plan runs and alert targets are named by opaque tokens
(``obs_4q7xk2m9aw3bc``; ``server.ids``), in answers, paths, queries and cursors alike, never by
the store's sequential numbers, which would count the records between two a viewer may see.
A token that names nothing the viewer may read (hidden, missing, forged, of another kind, or
a bare number) is answered 404, all alike. The tokens are keyed by the store's own secret, so
every node on one database shows the same ones; the CLI shows the store's numbers.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from truceguard import __version__
from truceguard.errors import (
    InputError,
    InternalError,
    NotFoundError,
    TruceguardError,
    error_envelope,
    new_request_id,
)
from truceguard.server.routes import ROUTERS, events, health, web
from truceguard.server.routes.bodies import MAX_BODY_BYTES, MAX_UPLOAD_BYTES
from truceguard.server.routes.deps import ServerContext, known_query
from truceguard.server.routes.events import EventHub
from truceguard.server.routes.observations import MAX_UPLOADS_PER_USER
from truceguard.server.schemas import ErrorEnvelope
from truceguard.server.throttle import LoginThrottle
from truceguard.store import Store

log = logging.getLogger("truceguard.server")

# The error answers every operation may give (the envelope); no 422: a bad request is 400.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": what} for status, what in (
        (400, "bad input: the envelope names the bad value"),
        (401, "no valid credentials"), (403, "your role or marking may not do this"),
        (404, "no such record, or one you may not see"),
        (429, "too many at once: wait Retry-After seconds"),
        (500, "a bug: the envelope carries the request id the log names"),
        (503, "the store is busy or unavailable: wait Retry-After seconds"),
        ("default", "an error: the envelope"))}

HEALTH_ERRORS = {k: v for k, v in ERRORS.items() if k in (400, 500, "default")}
# The same as JSON whatever the operation's own media type (the event stream's errors are
# JSON envelopes, not events; a "model" would take the operation's media type).
JSON_ERRORS = {k: {"description": v["description"], "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}} for k, v in ERRORS.items()}


def create_app(store: Store, *, on_ingest: Callable[[int], None] | None = None,
               on_user_disabled: Callable[[str], None] | None = None,
               plans: Any = None, basemap: Any = None) -> FastAPI:
    """The API over ``store``. ``on_ingest`` is called after observations were committed (the
    live loop's poke); ``on_user_disabled`` when a user is disabled (to end their live CoT
    sessions); both on the event loop's thread. ``plans`` runs plan requests
    (``server.plans.PlanRunner``); ``basemap`` is the basemap it serves
    (``routes.basemap.ServedBasemap``), if any."""
    app = FastAPI(title="truceguard", version=__version__,
                  dependencies=[Depends(known_query)], docs_url=None, redoc_url=None,
                  description="Watch a ceasefire and plan the force that safeguards it.",
                  generate_unique_id_function=_operation_id)
    app.state.context = ServerContext(store, on_ingest, on_user_disabled, plans)
    app.state.store = store
    app.state.basemap = basemap
    app.state.login_throttle = LoginThrottle()
    app.state.uploads_under_way = app.state.context.uploads
    app.state.events = EventHub(store, app.state.context.ids)  # routes.events; live feeds it
    _handlers(app, _server_folders(store))
    app.add_middleware(InternalErrors)
    _docs(app)
    for router in ROUTERS:
        app.include_router(router, responses=HEALTH_ERRORS if router is health.router
                           else JSON_ERRORS if router is events.router else ERRORS)
    web.install(app, ERRORS)  # the dashboard at / and /app, its layers and markings under /api/v1
    return app


def _operation_id(route: APIRoute) -> str:
    """An operation's id in /openapi.json (and a generated client's function name): the
    route function's name, ``list_observations``."""
    return route.name


def _server_folders(store: Store) -> list[tuple[str, str]]:
    """The server's own folders, never shown in an error: its data folder, the temporary
    one; each with the words that stand for it."""
    folders = [(str(Path(tempfile.gettempdir()).resolve()), "(temporary folder)"),
               (tempfile.gettempdir(), "(temporary folder)")]
    if getattr(store, "path", None) not in (None, ":memory:"):
        folders.insert(0, (str(Path(str(store.path)).resolve().parent), "(data folder)"))
        folders.insert(0, (str(store.path), "(database)"))
    return [(f, w) for f, w in folders if f and len(f) > 1]


def _handlers(app: FastAPI, folders: list[tuple[str, str]]) -> None:
    """One handler maps every domain error to its envelope and its class's HTTP status; bad
    parameters and bodies, unknown routes and methods become domain errors first."""

    def answer(exc: TruceguardError) -> JSONResponse:
        envelope = error_envelope(exc)
        for key in ("message", "hint"):
            for folder, word in folders:
                envelope["error"][key] = envelope["error"][key].replace(folder, word)
        headers = {}
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(exc.retry_after_s)
        if isinstance(exc, InternalError):
            headers["X-Request-Id"] = exc.request_id
        return JSONResponse(envelope, status_code=exc.http_status, headers=headers or None)

    @app.exception_handler(TruceguardError)
    async def domain_error(_: Request, exc: TruceguardError) -> JSONResponse:
        return answer(exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(validation_error(exc, request.scope.get("route")))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found.route", 405: "input.method"}.get(exc.status_code, "http")
        err = TruceguardError(str(exc.detail), hint="see /openapi.json for the routes",
                              code=code)
        err.http_status = exc.status_code
        response = answer(err)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # Not an error of the server's: one line, no traceback; nobody reads the answer.
        who = f"{request.client.host}:{request.client.port}" if request.client else "(unknown)"
        log.info("client %s hung up while sending %s %s (%s)", who, request.method,
                 request.url.path, str(exc) or "the body was cut short")
        return Response(status_code=400)


def validation_error(exc: RequestValidationError, route: Any = None) -> InputError:
    """The domain error for the first problem FastAPI found in a request's parameters or
    body: named by the field, with the code of its kind (``input.unknown_key``,
    ``input.too_long``, ``input.missing``, ``input.out_of_range``, ``input.bad_type``,
    ``input.unknown_value``; ``input.invalid`` otherwise). The bad value is echoed cut to 60
    characters."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    field = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc) or "the request"
    kind, ctx, got = first.get("type", ""), first.get("ctx") or {}, first.get("input")
    shown = repr(str(got)[:60])
    if kind == "extra_forbidden":
        taken = sorted(_body_fields(route))
        return InputError(f"field {loc[-1]!r} is not taken", code="input.unknown_key",
                          hint=f"send {', '.join(taken)}" if taken
                          else "see /openapi.json for the fields")
    if kind == "string_too_long":
        limit, size = int(ctx.get("max_length", 0)), len(str(got))
        return InputError(f"{field} is {size:,} characters long, over the {limit:,}-character "
                          "limit", hint=f"shorten {field} to at most {limit:,} characters",
                          code="input.too_long")
    if kind == "missing":
        return InputError(f"{field} is missing", hint="see /openapi.json for what the route "
                          "takes", code="input.missing")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": "over", "greater_than_equal": "at least",
                 "less_than": "under", "less_than_equal": "at most"}[kind]
        value = next(iter(ctx.values()), "")
        return InputError(f"{field} {shown} is out of range", hint=f"{field} is {bound} "
                          f"{value}", code="input.out_of_range")
    if kind == "literal_error" or kind == "enum":
        return InputError(f"{field} {shown} is not one of {ctx.get('expected', '')}",
                          hint=f"give one of {ctx.get('expected', '')}",
                          code="input.unknown_value")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return InputError(f"{field} {shown}: {first.get('msg', 'a value of another type')}",
                          hint="see /openapi.json for the types", code="input.bad_type")
    return InputError(f"{field}: {first.get('msg', 'invalid value')} (got {shown})",
                      hint="see /openapi.json for the parameters", code="input.invalid")


def _body_fields(route: Any) -> list[str]:
    """The names of the fields of ``route``'s body model (by alias)."""
    body = getattr(route, "body_field", None)
    model = getattr(getattr(body, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


class InternalErrors:
    """ASGI middleware: an exception no handler took (a bug) answers 500 with the
    ``internal`` envelope and a new request id (in the body and in ``X-Request-Id``); the
    traceback is logged once, under that id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            request_id = new_request_id()
            log.exception("internal error, request id %s: %s %s", request_id,
                          scope.get("method"), scope.get("path"))
            if started:  # too late for an answer: the connection is cut
                raise
            body = json.dumps(error_envelope(exc, request_id=request_id)).encode()
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode())]})
            await send({"type": "http.response.body", "body": body})


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


__all__ = ["ERRORS", "MAX_BODY_BYTES", "MAX_UPLOADS_PER_USER", "MAX_UPLOAD_BYTES",
           "InternalErrors", "create_app", "validation_error"]
