"""The one registry of readers: built-in formats and plugins register the same ``ReaderSpec``.

A ``ReaderSpec`` says what a format is called, how to read it, how to recognise it, and which
options its reader takes:

- ``read(path, **options)``: the reader (the contract is in ``io.base``);
- ``sniff(path, head)``: how sure the format is of a file, from its path and first bytes
  (``head``, up to 64 KiB): 0 or False for "not this format", higher for surer (True is 1).
  The built-in formats answer 3 for a header only that format has (UCDP, ACLED), 2 for what
  the content starts with (``{``, ``<``, a CSV header with coordinates), 1 for a file suffix;
- ``columnar``: an optional twin of ``read`` that yields the same records, mostly as
  ``ObservationColumns`` blocks (the import's fast path);
- ``curated``: the records are events a curator has already deduplicated (UCDP, ACLED);
- ``options``: the option names the reader takes (by default its keyword-only parameters).

Options: a reader receives only the options it declares. An option given as None counts as not
given; any other undeclared option is an ``InputError`` naming it and listing the known ones.
Built-in readers check this themselves (``checked_options``), so calling one directly behaves
as calling it through the registry.

Plugins: an installed distribution adds a format with an entry point in the group
``truceguard.readers`` naming a ``ReaderSpec``, or a callable returning one. Plugins are
loaded once, on the first use of the registry (``reload_plugins`` looks again). A plugin that
cannot be loaded (its import fails, it gives something else, its name is taken) does not stop
the others: it is kept as an error naming the entry point and its distribution, raised when
its format is asked for and listed by ``broken_plugins()``.

``detect_format`` asks every spec's ``sniff``; the surest answer wins, a tie is an error that
names the candidates, and a CSV with a column mapping but no known header is ``csv``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from truceguard.errors import FormatError, InputError, TruceguardError, suggest, unknown_value
from truceguard.io.base import check_input_path, sniff_encoding

GROUP = "truceguard.readers"
HEAD_BYTES = 64 << 10
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

Reader = Callable[..., Iterator[Any]]
Sniff = Callable[[Path, bytes], "float | bool"]
F = TypeVar("F", bound=Callable[..., Any])


def options_of(read: Callable[..., Any]) -> frozenset[str]:
    """The option names a reader function takes: its keyword-only parameters."""
    try:
        params = inspect.signature(read).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def check_options(reader: str, options: Mapping[str, Any], known: frozenset[str]
                  ) -> dict[str, Any]:
    """The options given (not None) if the reader declares them all; InputError otherwise."""
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise InputError(
            f"the {reader} reader has no option {unknown[0]!r}; its options: {listed}",
            hint=suggest(unknown[0], known), code="input.unknown_option",
        )
    return given


def checked_options(name: str) -> Callable[[F], F]:
    """Make a reader function check its options (``check_options``) and its path
    (``base.check_input_path``) when it is called, before anything is read."""

    def wrap(read: F) -> F:
        known = options_of(read)

        @functools.wraps(read)
        def reader(path: str | os.PathLike[str], **options: Any) -> Any:
            given = check_options(name, options, known)
            check_input_path(path)
            return read(path, **given)

        reader.checks_options = True  # type: ignore[attr-defined]
        return reader  # type: ignore[return-value]

    return wrap


def _never(path: Path, head: bytes) -> float:
    return 0.0


@dataclass(frozen=True, slots=True)
class ReaderSpec:
    """One format: its name, reader, sniffer and options (see the module docstring)."""

    name: str
    read: Reader
    sniff: Sniff = _never
    columnar: Reader | None = None
    curated: bool = False
    options: frozenset[str] = frozenset()
    description: str = ""
    origin: str = "built-in"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InputError(f"reader name {self.name!r} is not valid",
                             hint="a lowercase word: letters, digits, '-' or '_'",
                             code="input.bad_reader")
        if not callable(self.read) or not callable(self.sniff):
            raise InputError(f"reader {self.name!r}: read and sniff must be callables",
                             code="input.bad_reader")
        if not self.options:
            object.__setattr__(self, "options", options_of(self.read))
        else:
            object.__setattr__(self, "options", frozenset(self.options))

    def open(self, path: str | os.PathLike[str], **options: Any) -> Iterator[Any]:
        """The reader's records of ``path`` (options checked, path checked)."""
        given = check_options(self.name, options, self.options)
        check_input_path(path)
        return self.read(path, **given)


class _Registry:
    def __init__(self) -> None:
        self.specs: dict[str, ReaderSpec] = {}
        self.broken: dict[str, TruceguardError] = {}
        self.loaded = False
        self.lock = threading.RLock()

    def ensure(self) -> None:
        with self.lock:
            if self.loaded:
                return
            from truceguard.io.builtin import BUILTIN_READERS

            for spec in BUILTIN_READERS:
                self.specs.setdefault(spec.name, spec)
            self.loaded = True
            for ep in metadata.entry_points(group=GROUP):
                self._plugin(ep)

    def _plugin(self, ep: metadata.EntryPoint) -> None:
        dist = getattr(ep, "dist", None)
        where = f"{ep.value}" + (f", from {dist.name} {dist.version}" if dist else "")
        label = f"plugin {ep.name!r} ({where})"
        try:
            obj = ep.load()
            spec = obj if isinstance(obj, ReaderSpec) else obj() if callable(obj) else obj
            if not isinstance(spec, ReaderSpec):
                raise TypeError(f"it gives a {type(spec).__name__}, not a ReaderSpec")
            if spec.name in self.specs:
                raise ValueError(f"the format name {spec.name!r} is taken by the "
                                 f"{self.specs[spec.name].origin} reader")
            self.specs[spec.name] = dataclasses.replace(spec, origin=label)
        except Exception as exc:  # a plugin's failure is reported, never raised at import
            self.broken[ep.name] = TruceguardError(
                f"reader {label} cannot be loaded: {type(exc).__name__}: {exc}",
                hint=f"fix or uninstall {dist.name if dist else 'the package that declares it'}"
                     "; the other formats work without it",
                code="install.broken_plugin",
            )


_REGISTRY = _Registry()


def register(spec: ReaderSpec, *, replace: bool = False) -> ReaderSpec:
    """Add a format (InputError if its name is taken, unless ``replace``)."""
    _REGISTRY.ensure()
    with _REGISTRY.lock:
        taken = _REGISTRY.specs.get(spec.name)
        if taken is not None and not replace:
            raise InputError(f"a reader named {spec.name!r} is already registered "
                             f"({taken.origin})", code="input.reader_exists",
                             hint="choose another name, or pass replace=True")
        _REGISTRY.specs[spec.name] = spec
        _REGISTRY.broken.pop(spec.name, None)
    return spec


def unregister(name: str) -> None:
    """Remove a format (nothing happens if there is none of that name)."""
    _REGISTRY.ensure()
    with _REGISTRY.lock:
        _REGISTRY.specs.pop(name, None)


def reload_plugins() -> None:
    """Forget the plugins and discover them again (after installing one in a running
    process); the built-in formats and those registered in code stay."""
    with _REGISTRY.lock:
        _REGISTRY.ensure()
        _REGISTRY.specs = {k: v for k, v in _REGISTRY.specs.items()
                           if not v.origin.startswith("plugin ")}
        _REGISTRY.broken.clear()
        for ep in metadata.entry_points(group=GROUP):
            _REGISTRY._plugin(ep)


def readers() -> dict[str, ReaderSpec]:
    """Every usable format by name, sorted."""
    _REGISTRY.ensure()
    return dict(sorted(_REGISTRY.specs.items()))


def reader_names() -> list[str]:
    """The names ``--format`` accepts, sorted."""
    return list(readers())


def broken_plugins() -> list[TruceguardError]:
    """The plugins that could not be loaded, one error each (naming it and why)."""
    _REGISTRY.ensure()
    return list(_REGISTRY.broken.values())


def reader(name: str) -> ReaderSpec:
    """The spec of a format; the plugin's own error for a broken plugin; InputError (with
    the known names) for an unknown one."""
    _REGISTRY.ensure()
    spec = _REGISTRY.specs.get(name)
    if spec is not None:
        return spec
    if name in _REGISTRY.broken:
        raise _REGISTRY.broken[name]
    raise unknown_value("format", name, _REGISTRY.specs, code="input.unknown_format")


def read_head(path: str | os.PathLike[str], n: int = HEAD_BYTES) -> bytes:
    with open(check_input_path(path), "rb") as fh:
        return fh.read(n)


def head_text(head: bytes) -> str:
    """The first bytes of a file as text (in the encoding a byte-order mark declares, else
    UTF-8 with replacement), without the byte-order mark and leading white space."""
    enc = sniff_encoding(head) or "utf-8"
    text = head.decode(enc, "replace")
    return text.lstrip("\ufeff \t\r\n")


def csv_columns(head: bytes) -> set[str]:
    """The column names of a CSV header in a file's first bytes (for sniffers)."""
    first = head_text(head).split("\n", 1)[0]
    return {c.strip().strip('"') for c in first.split(",")}


def starts_or_suffix(path: Path, head: bytes, start: str, suffixes: tuple[str, ...]) -> int:
    """The sniff of a format known by its first character: 2 when the text starts with
    ``start``, 1 when only the file's suffix is one of ``suffixes``, else 0."""
    if head_text(head).startswith(start):
        return 2
    return 1 if path.suffix.lower() in suffixes else 0


def detect_format(path: str | os.PathLike[str], mapping: Mapping[str, str] | None = None
                  ) -> str:
    """The format of a file, from the registry's sniffers; FormatError if unsure."""
    p = check_input_path(path)
    head = read_head(p)
    text = head_text(head)
    if not text.strip("\x00"):
        raise FormatError(f"{p}: the file is empty")
    scores: dict[str, float] = {}
    for name, spec in readers().items():
        try:
            score = float(spec.sniff(p, head))
        except Exception:  # noqa: S112 - a plugin's broken sniffer only loses its vote
            continue
        if score > 0:
            scores[name] = score
    if scores:
        best = max(scores.values())
        top = sorted(n for n, s in scores.items() if s == best)
        if len(top) == 1:
            return top[0]
        raise FormatError(f"{p}: this file could be read as {' or '.join(top)}",
                          hint=f"say which with --format ({', '.join(top)})")
    if mapping and not text.startswith(("{", "[", "<")):
        return "csv"
    first_line = text.split("\n", 1)[0]
    broken = "".join(f"; {e.message}" for e in broken_plugins())
    raise FormatError(
        f"{p}: cannot tell the format from its first line ({first_line[:120]!r}); "
        f"give --format {'|'.join(reader_names())}, and for an unknown CSV "
        "--map time=COLUMN --map lat=COLUMN --map lon=COLUMN" + broken
    )


class _ReaderFunctions(Mapping[str, Reader]):
    """``READERS``: format name -> reader function, a read-only view of the registry."""

    def __getitem__(self, name: str) -> Reader:
        """The reader function (one that does not check its own options is given through
        ``ReaderSpec.open``, which does)."""
        spec = readers().get(name)
        if spec is None:
            raise KeyError(name)
        return spec.read if getattr(spec.read, "checks_options", False) else spec.open

    def __contains__(self, name: object) -> bool:
        return name in readers()

    def __iter__(self) -> Iterator[str]:
        return iter(readers())

    def __len__(self) -> int:
        return len(readers())


READERS: Mapping[str, Reader] = _ReaderFunctions()


def register_reader(name: str, read: Reader) -> None:
    """Make a reader function available as ``--format NAME`` (it detects nothing; its options
    are its keyword-only parameters). ``register(ReaderSpec(...))`` says more."""
    register(ReaderSpec(name, read), replace=True)
