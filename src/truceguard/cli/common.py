"""What every command shares: where the database is, strict option values, safe outputs, and
how a domain error reaches the user.

An error the user caused prints ``Error: MESSAGE`` and ``Hint: HINT`` on stderr and exits 1;
with ``--format json`` it prints the envelope (``truceguard.errors.error_envelope``, the same the
HTTP API answers) on stdout instead. Never a traceback for user input.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from truceguard.errors import InputError, TruceguardError, error_envelope
from truceguard.store import is_url

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "truceguard.db"
MAX_LIMIT = 10_000_000


def resolve_db(db: str | None) -> str:
    """``--db`` if given, else ``$TRUCEGUARD_DB``, else ``./truceguard.db``."""
    return db or os.environ.get("TRUCEGUARD_DB") or DEFAULT_DB


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db",
        default=None,
        metavar="PATH|URL",
        help="Database: a file (SQLite) or postgresql://USER@HOST/DB (default: $TRUCEGUARD_DB, "
             "else ./truceguard.db).",
    )(f)


def print_error(exc: TruceguardError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(error_envelope(exc), ensure_ascii=False))
        return
    click.echo(f"Error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"Hint: {exc.hint}", err=True)


def domain_errors(f: F) -> F:
    """Turn a TruceguardError into the error message (or envelope) and exit code 1."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except TruceguardError as exc:
            print_error(exc, kwargs.get("fmt") == "json")
            sys.exit(1)
        except BrokenPipeError:  # e.g. `truceguard observations | head`
            sys.stderr.close()
            sys.exit(0)

    return wrapper  # type: ignore[return-value]


# -- strict values ----------------------------------------------------------------------------

_ISO = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?P<tz>Z|[+-]\d{2}:?\d{2})?)?)?)?$"
)
DATE_HINT = ("write dates as ISO 8601: 2020-07-27, 2020-07 (a month), 2020 (a year) or "
             "2020-07-27T06:00Z")


def parse_cli_time(value: str, option: str, *, end: bool = False) -> int:
    """An ISO 8601 date or date-time (UTC unless it says otherwise) as epoch seconds.

    A date stands for its whole day, month or year: ``end=True`` gives its last second (so
    ``--until 2020-12-31`` includes all of that day). Anything else (``05/07/2020``, whose day
    and month nobody can tell apart) is an InputError naming the value.
    """
    text = value.strip()
    m = _ISO.match(text)
    if not m:
        raise InputError(f"{option} {value!r} is not an ISO 8601 date", hint=DATE_HINT,
                         code="input.bad_date")
    g = m.groupdict()
    try:
        y, mo, d = int(g["y"]), int(g["m"] or 1), int(g["d"] or 1)
        start = datetime(y, mo, d, int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0),
                         tzinfo=UTC)
        if y < 1000:
            raise ValueError("year before 1000")
    except ValueError as exc:
        raise InputError(f"{option} {value!r} is not a valid date ({exc})", hint=DATE_HINT,
                         code="input.bad_date") from None
    if g["tz"] and g["tz"] != "Z":
        tz = g["tz"].replace(":", "")
        sign = 1 if tz[0] == "+" else -1
        start -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
    if not end:
        return int(start.timestamp())
    if g["S"] is not None:
        stop = start + timedelta(seconds=1)
    elif g["M"] is not None:
        stop = start + timedelta(minutes=1)
    elif g["d"] is not None:
        stop = start + timedelta(days=1)
    elif g["m"] is not None:
        stop = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=UTC)
    else:
        stop = datetime(y + 1, 1, 1, tzinfo=UTC)
    return int(stop.timestamp()) - 1


def parse_cli_date(value: str, option: str, *, end: bool = False) -> date:
    """A calendar date (UTC) from the same forms as ``parse_cli_time``."""
    t = parse_cli_time(value, option, end=end)
    return datetime.fromtimestamp(t, UTC).date()


def finite(value: float | None, option: str, *, low: float | None = None,
           high: float | None = None, low_open: bool = False) -> float | None:
    """A finite number within bounds, or an InputError naming it."""
    if value is None:
        return None
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        lo = "" if low is None else (f"> {low:g}" if low_open else f">= {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        want = " and ".join(x for x in (lo, hi) if x) or "finite"
        raise InputError(f"{option} {value!r} is out of range", hint=f"give a number {want}",
                         code="input.out_of_range")
    return value


def check_limit(limit: int | None, count: bool) -> int | None:
    if limit is None:
        return None
    if count:
        raise InputError("--count and --limit do not go together",
                         hint="--count counts every match; drop --limit (or --count)",
                         code="input.conflicting_options")
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit {limit} is out of range",
                         hint=f"give a number from 1 to {MAX_LIMIT:,}",
                         code="input.out_of_range")
    return limit


# -- outputs ----------------------------------------------------------------------------------

def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(output: str, *, db: str | None = None, inputs: tuple[str, ...] = (),
                 option: str = "-o") -> Path:
    """The output path, refused when it would destroy data: the database (or its WAL and SHM
    files), an input of the same command, a folder that does not exist, a folder itself."""
    p = Path(output)
    if p.is_dir():
        raise InputError(f"{option} {output!r} is a folder", hint="give a file name in it",
                         code="output.is_folder")
    if not p.parent.exists():
        raise InputError(f"{option} {output!r}: the folder {str(p.parent)!r} does not exist",
                         hint="create the folder first, or write somewhere else",
                         code="output.no_folder")
    protected = [Path(i) for i in inputs]
    if db and not is_url(db):
        protected += [Path(db), Path(db + "-wal"), Path(db + "-shm"), Path(db + "-journal")]
    for q in protected:
        if _same_file(p, q) or p.resolve() == q.resolve():
            what = "the database" if q in protected[len(inputs):] else "an input"
            raise InputError(f"{option} {output!r} is {what} ({q})",
                             hint="write the output to another file; outputs never overwrite "
                                  "inputs or the database", code="output.would_overwrite")
    return p


@contextmanager
def atomic_output(path: str | Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and move it into place only when complete;
    ``-`` is standard output."""
    if str(path) == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        return
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb" if binary else "w", encoding=None if binary else "utf-8",
                  newline=None if binary else "") as fh:
            yield fh
        os.replace(tmp, p)
    except PermissionError:
        raise InputError(f"cannot write {str(p)!r}: permission denied",
                         hint="write somewhere you may write", code="output.denied") from None
    finally:
        tmp.unlink(missing_ok=True)
