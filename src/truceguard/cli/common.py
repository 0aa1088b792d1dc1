"""What every command shares: where the database is, and how a domain error reaches the user."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from truceguard.errors import TruceguardError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "truceguard.db"


def resolve_db(db: str | None) -> Path:
    """``--db`` if given, else ``$TRUCEGUARD_DB``, else ``./truceguard.db``."""
    return Path(db or os.environ.get("TRUCEGUARD_DB") or DEFAULT_DB)


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db",
        default=None,
        metavar="PATH",
        help="Database file (default: $TRUCEGUARD_DB, else ./truceguard.db).",
    )(f)


def domain_errors(f: F) -> F:
    """Turn a TruceguardError into a one-line message on stderr and exit code 1."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except TruceguardError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
