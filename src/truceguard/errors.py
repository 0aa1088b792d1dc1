"""One exception tree for truceguard, and the one envelope every interface prints.

Every error says what is wrong, names the bad value, and hints at what to do. Each carries a
stable ``code`` (``input.bad_date``, ``store.not_found`` ...) that scripts may rely on; the CLI
prints ``Error: MESSAGE`` and ``Hint: HINT`` on stderr (or, with ``--format json``, the envelope
on stdout) and exits non-zero; the HTTP API answers with the same envelope. The library never
prints.

    TruceguardError             code "error"
    +-- InputError              bad input the user can correct              input.*
    |   +-- FormatError         a file cannot be read as the format asked   input.bad_format
    |   +-- MissingColumnsError required columns are absent                 input.missing_columns
    |   +-- RowError            one record is bad (file, line, field)       input.bad_row
    |   +-- ConfigError         a terms, scenario or grading file is wrong  config.invalid
    |   +-- MarkingError        a releasability marking or code is invalid  marking.*
    +-- StoreError              the store cannot be opened or written       store.*
    |   +-- SchemaVersionError  the database was written by a newer truceguard
    |   +-- StoreBusyError      the database stayed locked past the wait (HTTP 503,
    |                           Retry-After)                                store.busy
    +-- NotFoundError           a named thing does not exist                not_found.*
    +-- AuthError               no valid credentials (HTTP 401)             auth.*
    +-- ForbiddenError          the user's role may not do this (HTTP 403)  forbidden.*
    +-- MissingExtraError       an optional part is not installed           install.missing_extra

The envelope, built by ``error_envelope`` alone::

    {"error": {"code": "input.bad_date", "message": "...", "hint": "..."}}
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def _restore(cls: type[TruceguardError], args: tuple[Any, ...], state: dict[str, Any]
             ) -> TruceguardError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class TruceguardError(Exception):
    """Root of every error truceguard raises on purpose.

    ``code`` is stable; ``hint`` says what to do (the class's default hint when none is given).
    """

    code: str = "error"
    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (the forked import reader, Dask workers) intact.
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def envelope(self) -> dict[str, dict[str, str]]:
        return error_envelope(self)


def error_envelope(exc: BaseException) -> dict[str, dict[str, str]]:
    """``{"error": {"code", "message", "hint"}}`` for any error: the CLI and the API print this.

    An exception that is not a TruceguardError is a bug, reported as ``internal`` without its
    details (they go to the log, not to the user).
    """
    if isinstance(exc, TruceguardError):
        return {"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}}
    return {
        "error": {
            "code": "internal",
            "message": f"internal error ({type(exc).__name__})",
            "hint": "this is a bug in truceguard: please report it with the command you ran",
        }
    }


class InputError(TruceguardError):
    """Input the user can correct."""

    code = "input.invalid"
    default_hint = "see the command's --help for the values it takes"


class FormatError(InputError):
    """A file cannot be read as the format asked for (or detected)."""

    code = "input.bad_format"
    default_hint = ("check that the file is what you meant to import, or give its format "
                    "(--format; see `truceguard import --help`)")


class MissingColumnsError(FormatError):
    """Required columns are absent; nothing from the file is imported."""

    code = "input.missing_columns"

    def __init__(self, path: str, missing: list[str], have: list[str] | None = None) -> None:
        self.path = path
        self.missing = list(missing)
        self.have = have
        has = f"; the file has: {', '.join(have[:30])}" if have else ""
        super().__init__(
            f"{path}: missing required column(s): {', '.join(self.missing)}{has}",
            hint="map them with --map FIELD=COLUMN (see `truceguard import --help`)",
        )


class RowError(InputError):
    """One record is bad. Carries where it is and which field is wrong."""

    code = "input.bad_row"

    def __init__(self, path: str, line: int, field: str, reason: str, raw: str = "") -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        self.raw = raw
        super().__init__(f"{path}:{line}: {field}: {reason}",
                         hint="fix the row (or map the column) and import the file again")

    def as_dict(self) -> dict[str, object]:
        return {"file": self.path, "line": self.line, "field": self.field, "reason": self.reason}


class ConfigError(InputError):
    """A terms, scenario, grading or mapping file is wrong. Names the key and, where known, the
    line."""

    code = "config.invalid"

    def __init__(self, path: str, key: str, reason: str, line: int | None = None,
                 *, hint: str | None = None) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {reason}",
                         hint=hint or "correct the file at that key and run the command again")


class MarkingError(InputError):
    """A releasability marking, or a code in one, is not valid."""

    code = "marking.invalid"
    default_hint = ("write PUBLIC or 'REL TO GBR, FRA, NATO' (ISO 3166-1 alpha-3 countries and "
                    "the groups of `truceguard markings`)")


class StoreError(TruceguardError):
    """The store cannot be opened, migrated or written."""

    code = "store.error"
    default_hint = "check --db (or $TRUCEGUARD_DB): a truceguard database file or URL"


class SchemaVersionError(StoreError):
    """The database was written by a newer truceguard than this one."""

    code = "store.schema_too_new"
    default_hint = "upgrade truceguard (pip install -U truceguard)"


class StoreBusyError(StoreError):
    """The database stayed locked by another writer past the bounded wait: nothing was
    written; the same request may be sent again after ``retry_after_s`` seconds."""

    code = "store.busy"
    default_hint = "another writer holds the database; try again in a few seconds"

    def __init__(self, message: str, *, retry_after_s: int = 2, hint: str | None = None
                 ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = max(1, int(retry_after_s))


class NotFoundError(TruceguardError):
    """A named thing (terms, scenario, variant, record) does not exist."""

    code = "not_found"
    default_hint = "check the name; the list commands show what exists"


class AuthError(TruceguardError):
    """The request carries no valid credentials (missing, unknown or disabled)."""

    code = "auth.invalid"
    default_hint = ("send `Authorization: Bearer TOKEN` with the token that `truceguard users "
                    "add` printed")


class ForbiddenError(TruceguardError):
    """The user is known but their role may not do this."""

    code = "forbidden.role"
    default_hint = "ask an admin for a role that may (observer < analyst < admin)"


class MissingExtraError(TruceguardError):
    """An optional part of truceguard is used but its extra is not installed."""

    code = "install.missing_extra"

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature = feature
        self.extra = extra
        self.module = module
        super().__init__(
            f"{feature} needs the {module!r} package, which is not installed",
            hint=f"pip install 'truceguard[{extra}]'",
        )


def suggest(value: str, choices: Iterable[str], *, limit: int = 12) -> str:
    """A hint for a value that matched nothing: 'did you mean X?' and the valid values."""
    options = sorted({str(c) for c in choices})
    close = difflib.get_close_matches(str(value), options, n=1, cutoff=0.6)
    if not close:
        low = {o.lower(): o for o in options}
        if str(value).lower() in low:
            close = [low[str(value).lower()]]
    mean = f"did you mean {close[0]!r}? " if close else ""
    if not options:
        return mean + "there are none yet"
    shown = ", ".join(options[:limit]) + (f" ... ({len(options)} in all)"
                                          if len(options) > limit else "")
    return f"{mean}valid: {shown}"


def unknown_value(what: str, value: object, choices: Iterable[str], *,
                  code: str = "input.unknown_value", cls: type[TruceguardError] = InputError
                  ) -> TruceguardError:
    """The error for a value that cannot match anything: names it, lists the valid values."""
    return cls(f"{what} {value!r} matches nothing", hint=suggest(str(value), choices), code=code)
