"""One exception tree for truceguard, and the one envelope every interface prints.

Every error says what is wrong, names the bad value, and hints at what to do. Each carries a
stable ``code`` (``input.bad_date``, ``store.not_found`` ...) that scripts may rely on; the CLI
prints ``Error: MESSAGE`` and ``Hint: HINT`` on stderr (or, with ``--format json``, the envelope
on stdout) and exits non-zero; the HTTP API answers with the same envelope. The library never
prints.

    class                       what                                  code            HTTP exit
    TruceguardError             the root                              error            400   1
    +-- InputError              bad input the user can correct        input.*          400   1
    |   +-- FormatError         a file cannot be read as asked        input.bad_format 400   1
    |   +-- MissingColumnsError required columns are absent           input.missing_.. 400   1
    |   +-- RowError            one record is bad (file, line, field) input.bad_row    400   1
    |   +-- ConfigError         a terms, scenario or grading file     config.invalid   400   1
    |   +-- MarkingError        a marking or a code in it is invalid  marking.*        400   1
    |   +-- TooLargeError       a body or file is over its bound      input.too_large  413   1
    +-- StoreError              the store cannot be opened or written store.*          503   1
    |   +-- SchemaVersionError  written by a newer truceguard         store.schema_..  503   1
    |   +-- StoreBusyError      locked past the wait (Retry-After)    store.busy       503   1
    +-- NotFoundError           a named thing does not exist          not_found.*      404   1
    +-- AuthError               no valid credentials                  auth.*           401   1
    +-- ForbiddenError          the user's role may not do this       forbidden.*      403   1
    +-- ThrottledError          too many at once (Retry-After)        throttled        429   1
    +-- MissingExtraError       an optional part is not installed     install.missing_ 400   1
    +-- InternalError           a bug: its details go to the log      internal         500  70

Each class carries its HTTP status (``http_status``) and the CLI's exit code (``exit_code``),
so the server and the CLI map an error by its class alone; ``retry_after_s`` (None unless
set) is the ``Retry-After`` the HTTP answer carries.

The envelope, built by ``error_envelope`` alone::

    {"error": {"code": "input.bad_date", "message": "...", "hint": "..."}}

An unexpected exception (a bug) is reported as ``internal``; with a ``request_id`` (the HTTP
API's ``X-Request-Id``, the CLI's id of the run) the envelope also carries it, so a user's
report can be matched with the traceback in the log.
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
    http_status: int = 400
    exit_code: int = 1
    retry_after_s: int | None = None

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


INTERNAL_HINT = "this is a bug in truceguard: please report it with the command you ran"


def error_envelope(exc: BaseException, *, request_id: str | None = None
                   ) -> dict[str, dict[str, str]]:
    """``{"error": {"code", "message", "hint"}}`` for any error: the CLI and the API print this.

    An exception that is not a TruceguardError is a bug, reported as ``internal`` without its
    details (they go to the log, not to the user); ``request_id``, when given, is added to it
    (``"request_id"``) so that the report can be found in the log.
    """
    if isinstance(exc, InternalError):
        return {"error": {"code": exc.code, "message": exc.message, "hint": exc.hint,
                          "request_id": exc.request_id}}
    if isinstance(exc, TruceguardError):
        return {"error": {"code": exc.code, "message": exc.message, "hint": exc.hint}}
    if request_id:
        return error_envelope(InternalError(exc, request_id))
    return {"error": {"code": "internal", "message": f"internal error ({type(exc).__name__})",
                      "hint": INTERNAL_HINT}}


def new_request_id() -> str:
    """A random id for one request (or one CLI run): 16 hex digits."""
    import secrets

    return secrets.token_hex(8)


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


class TooLargeError(InputError):
    """A request body, an upload or a file is over its size bound; refused as soon as it
    passes it."""

    code = "input.too_large"
    http_status = 413
    default_hint = "send it in smaller parts"


class StoreError(TruceguardError):
    """The store cannot be opened, migrated or written."""

    code = "store.error"
    http_status = 503
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
    http_status = 404
    default_hint = "check the name; the list commands show what exists"


class AuthError(TruceguardError):
    """The request carries no valid credentials (missing, unknown or disabled)."""

    code = "auth.invalid"
    http_status = 401
    default_hint = ("send `Authorization: Bearer TOKEN` with the token that `truceguard users "
                    "add` printed")


class ForbiddenError(TruceguardError):
    """The user is known but their role may not do this."""

    code = "forbidden.role"
    http_status = 403
    default_hint = "ask an admin for a role that may (observer < analyst < admin)"


class ThrottledError(TruceguardError):
    """A client asks for more than it may at once (failed logins from one address, uploads
    of one user): nothing was done; it may try again after ``retry_after_s`` seconds."""

    code = "throttled"
    http_status = 429
    default_hint = "wait for Retry-After seconds, then try again"

    def __init__(self, message: str, *, retry_after_s: int, hint: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, hint=hint, code=code)
        self.retry_after_s = max(1, int(retry_after_s))


class InternalError(TruceguardError):
    """A bug: an exception truceguard did not raise on purpose, reported by its type and a
    request id only (its traceback goes to the log)."""

    code = "internal"
    http_status = 500
    exit_code = 70  # EX_SOFTWARE (sysexits.h)
    default_hint = INTERNAL_HINT

    def __init__(self, exc: BaseException, request_id: str) -> None:
        super().__init__(f"internal error ({type(exc).__name__})",
                         hint=f"{INTERNAL_HINT}, and this request id: {request_id}")
        self.request_id = request_id


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
