"""What every command shares: where the database is, safe outputs, and how a domain error
reaches the user. (Option values are parsed by ``truceguard.query``, shared with the API.)

An error the user caused prints ``Error: MESSAGE`` and ``Hint: HINT`` on stderr and exits 1;
with ``--format json`` it prints the envelope (``truceguard.errors.error_envelope``, the same the
HTTP API answers) on stdout instead. Never a traceback for user input.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from truceguard.errors import InputError, TruceguardError, error_envelope
from truceguard.store import is_url

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "truceguard.db"



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
