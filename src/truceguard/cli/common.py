"""What every command shares: where the database is, safe outputs, and how a domain error
reaches the user. (Option values are parsed by ``truceguard.query``, shared with the API.)

An error the user caused prints ``Error: MESSAGE`` and ``Hint: HINT`` on stderr and exits with
its class's exit code (1; 2 for a usage error); with ``--format json`` it prints the envelope
(``truceguard.errors.error_envelope``, the same the HTTP API answers) on stdout instead. Never a
traceback for user input. An unexpected exception (a bug) is reported the same way as the
``internal`` envelope with a request id (exit 70); its traceback goes to stderr only with
``truceguard --debug`` or ``TRUCEGUARD_DEBUG=1``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO, TypeVar, overload

import click

from truceguard.errors import (
    InputError,
    InternalError,
    TruceguardError,
    error_envelope,
    new_request_id,
)

if TYPE_CHECKING:
    from truceguard.store import Store

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "truceguard.db"



def resolve_db(db: str | None) -> str:
    """``--db`` if given, else ``$TRUCEGUARD_DB``, else ``./truceguard.db``."""
    return db or os.environ.get("TRUCEGUARD_DB") or DEFAULT_DB


def open_existing(db: str | None) -> Store:
    """The store at ``db`` (as ``resolve_db``), refused when truceguard has not set it up."""
    from truceguard.store import open_store

    return open_store(resolve_db(db), create=False)


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


DEBUG_ENV = "TRUCEGUARD_DEBUG"


_debug_flag = [False]  # --debug of the command line being run


def debugging() -> bool:
    """Whether a bug's traceback is shown: ``--debug`` or ``TRUCEGUARD_DEBUG=1``."""
    return _debug_flag[0] or os.environ.get(DEBUG_ENV, "").strip().lower() in (
        "1", "true", "yes", "on")


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    _debug_flag[0] = bool(value)


def report_internal(exc: BaseException, as_json: bool) -> int:
    """Report a bug as the ``internal`` envelope (or Error and Hint lines) with a new request
    id; the traceback goes to stderr only when ``debugging()``. Returns the exit code."""
    err = InternalError(exc, new_request_id())
    print_error(err, as_json)
    if debugging():
        click.echo(f"request id {err.request_id}:", err=True)
        traceback.print_exception(exc, file=sys.stderr)
    elif not as_json:
        click.echo(f"(run again with --debug or {DEBUG_ENV}=1 to see the traceback)",
                   err=True)
    return err.exit_code


def _wants_json(args: list[str]) -> bool:
    return any(a in ("--format=json",) for a in args) or any(
        a == "--format" and b == "json" for a, b in zip(args, args[1:], strict=False))


_USAGE_CODES = {
    "NoSuchOption": "usage.no_such_option",
    "MissingParameter": "usage.missing",
    "BadParameter": "usage.bad_value",
    "BadOptionUsage": "usage.bad_option",
    "BadArgumentUsage": "usage.bad_argument",
}


def usage_error(exc: click.UsageError) -> TruceguardError:
    """The domain error (code, message naming the value, hint) for a usage error that the
    option parser found: an unknown option or command, a missing or a bad value."""
    cmd = exc.ctx.command_path if exc.ctx is not None else "truceguard"
    code = _USAGE_CODES.get(type(exc).__name__, "usage.error")
    message = exc.format_message()
    if "No such command" in message:
        code, hint = "usage.no_such_command", "`truceguard --help` lists the commands"
    elif code == "usage.missing":
        hint = f"give it; `{cmd} --help` says what each option takes"
    elif code == "usage.no_such_option":
        hint = f"`{cmd} --help` lists the options"
    else:
        hint = f"`{cmd} --help` says what it takes"
    return InputError(message, hint=hint, code=code)


class EnvelopeGroup(click.Group):
    """A group whose usage errors read like every other error: ``Error:`` and ``Hint:`` lines
    (exit 2), or with ``--format json`` the error envelope on standard output; a bug is
    reported as the ``internal`` envelope with a request id (``report_internal``). It takes
    ``--debug``: a bug's traceback on stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(click.Option(
            ["--debug"], is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
            help=f"Show the traceback of an internal error (also {DEBUG_ENV}=1)."))

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        _debug_flag[0] = False
        try:
            rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            print_error(usage_error(exc), _wants_json(argv))
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except TruceguardError as exc:  # raised outside a command's domain_errors
            print_error(exc, _wants_json(argv))
            sys.exit(exc.exit_code)
        except Exception as exc:
            sys.exit(report_internal(exc, _wants_json(argv)))
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def domain_errors(f: F) -> F:
    """Turn a TruceguardError into the error message (or envelope) and its class's exit code
    (1); any other exception but click's own into the ``internal`` envelope (exit 70)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except TruceguardError as exc:
            print_error(exc, kwargs.get("fmt") == "json")
            sys.exit(exc.exit_code)
        except BrokenPipeError:  # e.g. `truceguard observations | head`
            sys.stderr.close()
            sys.exit(0)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            sys.exit(report_internal(exc, kwargs.get("fmt") == "json"))

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
    from truceguard.io.base import check_output_path
    from truceguard.store import is_url

    p = check_output_path(output, f"{option} ")
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


@overload
def atomic_output(path: str | Path, *, binary: Literal[False] = False
                  ) -> AbstractContextManager[TextIO]: ...


@overload
def atomic_output(path: str | Path, *, binary: Literal[True]
                  ) -> AbstractContextManager[BinaryIO]: ...


@contextmanager
def atomic_output(path: str | Path, *, binary: bool = False) -> Iterator[Any]:
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


@contextmanager
def step_progress(label: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on standard error for work done in ``total`` named steps; it shows only
    on a terminal (silent when output is piped or captured). Yields the callback the core
    calls with each step's name as it starts."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(SpinnerColumn(), TextColumn(f"[bold]{label}[/] {{task.description}}"),
                   BarColumn(), TimeElapsedColumn(), console=console, transient=True,
                   disable=not console.is_terminal)
    task = bar.add_task("", total=total)
    started = [False]

    def advance(name: str) -> None:
        if started[0]:
            bar.advance(task)
        started[0] = True
        bar.update(task, description=name)

    with bar:
        yield advance
