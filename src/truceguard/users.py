"""Users of the mission server: who they are, what they may see and do, and their tokens.

``add_user`` creates a user and returns its API token once (the store keeps its SHA-256
only); ``authenticate`` turns a bearer token into the user; ``require`` checks a role
(observer < analyst < admin). Every change is written to the audit log. The CLI (``truceguard
users``) and the server call these same functions.

Nobody grants what they do not hold: a user created by another (``creator``, the API's admin)
is of the creator's nation, in a role no higher than theirs, with a marking the creator's
covers (``Marking.covers``). The database's owner (the CLI) is not restricted.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

from truceguard.errors import AuthError, ForbiddenError, InputError, unknown_value
from truceguard.marking import Marking, parse_code, parse_marking, vocabulary
from truceguard.model import ROLES, User
from truceguard.store import MissionStore

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(store: MissionStore, name: str, nation: str, role: str, *, marking: str | None = None,
             cert_fingerprint: str = "", by: str = "admin", creator: User | None = None
             ) -> tuple[User, str]:
    """Create a user; returns it and its API token (shown once, stored hashed).

    ``marking`` (the ceiling of what the user submits) defaults to ``REL TO <nation>``.
    ``creator``: the user creating it, who may grant only what they hold (the module
    docstring); None for the database's owner."""
    if not _NAME.match(name):
        raise InputError(f"user name {name!r} is not allowed",
                         hint="1-64 letters, digits, '_', '.', '@' or '-', starting with a letter "
                              "or digit", code="users.bad_name")
    code = parse_code(nation, what="--nation")
    if code not in vocabulary().countries:
        raise InputError(f"--nation {nation!r} is a group, not a nation",
                         hint="give a country's ISO 3166-1 alpha-3 code, e.g. GBR",
                         code="users.bad_nation")
    if role not in ROLES:
        raise unknown_value("--role", role, ROLES, code="users.bad_role")
    m = parse_marking(marking if marking is not None else f"REL TO {code}", legacy=False)
    if creator is not None:
        _check_grant(creator, code, role, m)
    fp = cert_fingerprint.replace(":", "").strip().lower()
    if fp and not _FINGERPRINT.match(fp):
        raise InputError(f"--cert-fingerprint {cert_fingerprint!r} is not a SHA-256 fingerprint",
                         hint="64 hex digits, e.g. from `openssl x509 -noout -fingerprint "
                              "-sha256 -in client.pem`", code="users.bad_fingerprint")
    token = secrets.token_urlsafe(32)
    user = store.add_user(name, code, role, m.text, token_hash(token), fp)
    store.audit(by, "user.add", {"name": name, "nation": code, "role": role,
                                 "marking": m.text, "cert": bool(fp)})
    return user, token


def _check_grant(creator: User, nation: str, role: str, marking: Marking) -> None:
    """ForbiddenError unless ``creator`` holds the nation, role and marking they grant."""
    if nation != creator.nation:
        raise ForbiddenError(f"user {creator.name!r} of {creator.nation} may not create a user "
                             f"of {nation}", hint=f"create users of {creator.nation} only; the "
                             "database's owner adds others (`truceguard users add`)",
                             code="forbidden.nation")
    if ROLES.index(role) > ROLES.index(creator.role):
        raise ForbiddenError(f"user {creator.name!r} is an {creator.role} and may not create an "
                             f"{role}", hint="grant a role no higher than your own",
                             code="forbidden.role")
    own = parse_marking(creator.marking, legacy=False)
    if not own.covers(marking):
        raise ForbiddenError(f"marking {marking.text!r} is wider than {creator.name!r}'s own "
                             f"({own.text})", hint=f"give a marking within {own.text}, e.g. "
                             f"REL TO {creator.nation}", code="forbidden.marking")


def disable_user(store: MissionStore, name: str, *, by: str = "admin") -> User:
    user = store.disable_user(name)
    store.audit(by, "user.disable", {"name": name})
    return user


def bearer_token(authorization: str | None) -> str:
    """The token of a ``Bearer TOKEN`` header ("" if there is none)."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return ""


def authenticate(store: MissionStore, authorization: str | None, *, where: str = "",
                 on_failure: Callable[[str, str | None], None] | None = None) -> User:
    """The user a ``Bearer TOKEN`` header names; AuthError otherwise, audited as one
    ``login.failed`` entry, or reported to ``on_failure(why, user name or None)`` instead
    (the server aggregates failures per source address: ``truceguard.server.throttle``)."""
    token = bearer_token(authorization)
    user = store.user_by_token(token_hash(token)) if token else None
    if user is None or user.disabled:
        why = "no token" if not token else ("disabled user" if user else "unknown token")
        if on_failure is not None:
            on_failure(why, user.name if user else None)
        else:
            store.audit(user.name if user else "(unknown)", "login.failed",
                        {"why": why, "where": where})
        raise AuthError("missing or invalid credentials" if not user else
                        f"user {user.name!r} is disabled")
    return user


def require(user: User, role: str) -> None:
    """ForbiddenError unless ``user``'s role is ``role`` or above."""
    if ROLES.index(user.role) < ROLES.index(role):
        raise ForbiddenError(f"user {user.name!r} is an {user.role}; this needs an {role}",
                             code=f"forbidden.{role}")


__all__ = ["add_user", "authenticate", "bearer_token", "disable_user", "require", "token_hash"]
