"""What every router shares: the server's context (store, hooks, ids), the request's user and
role, the records a request names, the list filters and cursors, and the refusal of query
parameters a route does not take.

The context is one ``ServerContext`` on ``app.state.context``, set by ``create_app``; a route
takes it as ``Ctx``, its user as ``Me`` (any role), ``Analyst`` or ``Admin``. A record named in
a path or query is taken as its token (``server.ids``) and reaches the route as a ``RecordId``
(``ObsId``, ``ViolationId``, ``RunId``, ``TargetId``): a malformed, forged or other-kind token,
or a bare number, is answered 404 as a record that does not exist. Answers show ids as tokens
through ``ctx.ids.shown``; a page's cursor holds its position's id as a token too.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam

from truceguard.errors import InputError, NotFoundError, ThrottledError, suggest
from truceguard.io.records import banner, record_dict
from truceguard.model import User
from truceguard.query import build_filter
from truceguard.server.ids import NOUN, PATTERN, ApiIds, Kind, RecordId
from truceguard.server.throttle import LoginThrottle, write_rows
from truceguard.store import ObservationFilter, Store
from truceguard.users import authenticate, bearer_token, require, token_hash

PAGE = 100
MAX_PAGE = 1000


@dataclass
class ServerContext:
    """The store the API reads and writes, and the hooks it calls on the event loop's thread:
    ``on_ingest(n)`` after observations were committed, ``on_user_disabled(name)`` after a
    user was disabled; ``plans`` runs plan requests (``server.plans.PlanRunner``), None when
    this server runs none. ``uploads`` counts each user's uploads under way (touched on the
    event loop only). ``ids`` translates the store's record numbers to the tokens the API
    shows, under the key derived from the store's secret."""

    store: Store
    on_ingest: Callable[[int], None] | None = None
    on_user_disabled: Callable[[str], None] | None = None
    plans: Any = None
    uploads: dict[int, int] = field(default_factory=dict)
    ids: ApiIds = field(init=False)

    def __post_init__(self) -> None:
        self.ids = ApiIds(self.store.incident_key)


def context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.context
    return ctx


Ctx = Annotated[ServerContext, Depends(context)]


def current_user(request: Request) -> User:
    """The request's user. Failed logins are throttled per source address and audited as one
    ``auth.failed`` entry per address and minute (``truceguard.server.throttle``): a blocked
    address is answered 429 with ``Retry-After`` before the store is touched, except for a
    token that already succeeded from that address."""
    store: Store = request.app.state.context.store
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "(unknown)"
    header = request.headers.get("authorization")
    token = bearer_token(header)
    digest = token_hash(token) if token else None
    wait = throttle.retry_after(address, digest)
    if wait is not None:
        raise ThrottledError(f"too many failed logins from {address}; try again in {wait} s",
                             retry_after_s=wait, code="auth.throttled",
                             hint="wait for Retry-After seconds, then send a valid token")

    def failed(why: str, name: str | None) -> None:
        throttle.failed(address, why, name)
        write_rows(store, throttle.due())

    user = authenticate(store, header, where=request.url.path, on_failure=failed)
    if digest is not None:
        throttle.succeeded(address, digest)
    return user


def analyst(u: Annotated[User, Depends(current_user)]) -> User:
    require(u, "analyst")
    return u


def admin(u: Annotated[User, Depends(current_user)]) -> User:
    require(u, "admin")
    return u


Me = Annotated[User, Depends(current_user)]
Analyst = Annotated[User, Depends(analyst)]
Admin = Annotated[User, Depends(admin)]
Id = Annotated[int, PathParam(ge=1, le=2**63 - 1)]  # an incident's (a keyed digest already)
Digest = Annotated[str, PathParam(pattern="^[0-9a-f]{64}$")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items a page holds")]
Cursor = Annotated[str | None, Query(description="next_cursor of the page before")]


# -- the records a request names -----------------------------------------------------------------
def _token_param(kind: Kind, optional: bool = False) -> dict[str, Any]:
    """A token parameter's schema: a string of the kind's pattern. The pattern is stated, not
    enforced by validation: a token that does not match is a record not found (404), never
    a bad request that would tell a forged token from a missing record."""
    string = {"type": "string", "pattern": PATTERN[kind]}
    return {"description": f"the {NOUN[kind]}'s id as the API shows it",
            "json_schema_extra": {"anyOf": [string, {"type": "null"}]} if optional
            else string}


def _named(request: Request, kind: Kind, token: str) -> RecordId:
    ctx: ServerContext = request.app.state.context
    return ctx.ids.record(kind, token)


def observation_id(request: Request, obs_id: Annotated[
        str, PathParam(**_token_param("observation"))]) -> RecordId:
    return _named(request, "observation", obs_id)


def violation_id(request: Request, violation_id: Annotated[
        str, PathParam(**_token_param("violation"))]) -> RecordId:
    return _named(request, "violation", violation_id)


def run_id(request: Request, run_id: Annotated[
        str, PathParam(**_token_param("plan"))]) -> RecordId:
    return _named(request, "plan", run_id)


def target_id(request: Request, target_id: Annotated[
        str, PathParam(**_token_param("alert_target"))]) -> RecordId:
    return _named(request, "alert_target", target_id)


def observation_query(request: Request, obs_id: Annotated[
        str | None, Query(**_token_param("observation", optional=True))] = None
                      ) -> RecordId | None:
    return None if obs_id is None else _named(request, "observation", obs_id)


ObsId = Annotated[RecordId, Depends(observation_id)]
ViolationId = Annotated[RecordId, Depends(violation_id)]
RunId = Annotated[RecordId, Depends(run_id)]
TargetId = Annotated[RecordId, Depends(target_id)]
ObsIdQuery = Annotated[RecordId | None, Depends(observation_query)]


# -- filters and pages ------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """The list filters as the store takes them, the page size and where the page starts."""

    flt: ObservationFilter
    limit: int
    after: tuple[int, int] | None

    def paged(self) -> ObservationFilter:
        """The filter from the cursor on."""
        return replace(self.flt, after=self.after)


def filters(
    request: Request,
    since: str | None = None,
    until: str | None = None,
    bbox: str | None = None,
    near: str | None = None,
    within_km: float | None = None,
    category: Annotated[list[str] | None, Query()] = None,
    weapon_class: Annotated[list[str] | None, Query()] = None,
    source: Annotated[list[str] | None, Query()] = None,
    limit: Limit = PAGE,
    cursor: Cursor = None,
) -> Filters:
    """The list filters, with the CLI's meaning (``truceguard.query.build_filter``)."""
    flt = build_filter(since, until, bbox, near, within_km, tuple(category or ()),
                       tuple(source or ()), tuple(weapon_class or ()), style="api")
    return Filters(flt, limit, parse_cursor(cursor, request.app.state.context.ids))


F = Annotated[Filters, Depends(filters)]


def parse_cursor(text: str | None, ids: ApiIds) -> tuple[int, int] | None:
    """The position a ``next_cursor`` names: (time, id)."""
    if not text:
        return None
    try:
        t, token = json.loads(base64.urlsafe_b64decode(text.encode("ascii") + b"==="))
        if not isinstance(t, int) or not isinstance(token, str):
            raise TypeError("not a time and a token")
        i = ids.record("cursor", token).n
        if not (-(2**62) < t < 2**62 and 0 <= i < 2**63):
            raise ValueError("out of range")
        return t, i
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeError,
            NotFoundError):
        raise InputError(f"cursor {text[:40]!r} is not one this API gave",
                         hint="pass back next_cursor exactly as a page returned it",
                         code="input.bad_cursor") from None


def next_cursor(ids: ApiIds, rows: list[Any], id_field: str, limit: int) -> str | None:
    """The cursor after the last of ``rows`` (its time, and its id as a cursor token); None
    when the page is not full."""
    if len(rows) < limit:
        return None
    last = rows[-1]
    raw = json.dumps([int(last.t_start),
                      ids.token("cursor", int(getattr(last, id_field)))]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page(ids: ApiIds, rows: list[Any], id_field: str, limit: int) -> dict[str, Any]:
    """``{"marking", "items", "next_cursor"}`` of records, their ids shown as tokens."""
    return ids.shown({"marking": banner(rows), "items": [record_dict(r) for r in rows],
                      "next_cursor": next_cursor(ids, rows, id_field, limit)})


# -- the query parameters a route takes ---------------------------------------------------------
def known_query(request: Request) -> None:
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
            path = getattr(route, "path", request.url.path)
            raise InputError(
                f"query parameter {name!r} is not taken by {request.method} {path}",
                hint=suggest(name, valid, limit=len(valid)) if valid
                else "this route takes no query parameters", code="input.unknown_parameter")


__all__ = ["MAX_PAGE", "PAGE", "Admin", "Analyst", "Ctx", "Cursor", "Digest", "F", "Filters",
           "Id", "Limit", "Me", "ObsId", "ObsIdQuery", "RunId", "ServerContext", "TargetId",
           "ViolationId", "admin", "analyst", "context", "current_user", "filters",
           "known_query", "next_cursor", "observation_id", "observation_query", "page",
           "parse_cursor", "run_id", "target_id", "violation_id"]
