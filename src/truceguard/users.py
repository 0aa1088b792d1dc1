"""Users of the mission server: who they are, what they may see and do, and their tokens.

``add_user`` creates a user and returns its API token once (the store keeps its SHA-256
only); ``authenticate`` turns a bearer token into the user; ``require`` checks a role
(observer < analyst < admin). Every change is written to the audit log. The CLI (``truceguard
users``) and the server call these same functions.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from truceguard.errors import AuthError, ForbiddenError, InputError, unknown_value
from truceguard.marking import parse_code, parse_marking, vocabulary
from truceguard.model import ROLES, User
from truceguard.store import Store

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(store: Store, name: str, nation: str, role: str, *, marking: str | None = None,
             cert_fingerprint: str = "", by: str = "admin") -> tuple[User, str]:
    """Create a user; returns it and its API token (shown once, stored hashed).

    ``marking`` (the ceiling of what the user submits) defaults to ``REL TO <nation>``."""
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


def disable_user(store: Store, name: str, *, by: str = "admin") -> User:
    user = store.disable_user(name)
    store.audit(by, "user.disable", {"name": name})
    return user


def authenticate(store: Store, authorization: str | None, *, where: str = "") -> User:
    """The user a ``Bearer TOKEN`` header names; AuthError (audited) otherwise."""
    token = ""
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    user = store.user_by_token(token_hash(token)) if token else None
    if user is None or user.disabled:
        why = "no token" if not token else ("disabled user" if user else "unknown token")
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


__all__ = ["add_user", "authenticate", "disable_user", "require", "token_hash"]
