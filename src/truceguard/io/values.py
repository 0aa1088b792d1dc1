"""Field values from untrusted records: numbers within bounds, and markings under a ceiling.

Nothing a record holds may raise past its reader: every value a reader takes from a record goes
through one of these checks, which raise ``FieldError`` (the field and why) for the reader to
turn into a ``RowError`` for that record alone. The bounds are what the store and every writer
hold exactly:

- ``whole``: a whole number (``3``, ``3.0``, ``"3"``, ``"3e2"``) from ``lo`` to ``hi``; never
  NaN, infinity, a fraction, or an integer past the bound (``1e30``, ``2**63``);
- ``real``: a finite number from ``lo`` to ``hi``; negative zero reads as zero;
- ``time_in_range``: an epoch second in the years 1000-9999 UTC (``timeparse.T_MIN/T_MAX``);
- ``MarkingCeiling``: a record's own releasability marking narrowed by the import's marking, so
  a record can only be released to fewer viewers than the import says, never to more;
- ``load_json``: JSON of finite numbers only, nested at most ``MAX_JSON_DEPTH`` deep (its
  hooks, ``reject_constant`` and ``finite_float``, serve any ``json.loads``);
- ``check_writable``: what a writer checks before it writes an observation (its monitor's
  report included), so that it never writes what a reader would refuse.

Counts are bounded by ``MAX_COUNT``, uncertainties by ``MAX_UNCERTAINTY_M`` (half the Earth's
circumference: no radius says more), time windows by ``MAX_WINDOW_S`` (the span of the years
1000-9999).
"""

from __future__ import annotations

import json
import math

from truceguard.errors import InputError, MarkingError
from truceguard.io.timeparse import T_MAX, T_MIN, YEAR_MAX, YEAR_MIN
from truceguard.marking import Marking, parse_marking
from truceguard.model import Observation

MAX_COUNT = 1_000_000_000
MAX_UNCERTAINTY_M = 20_038_000.0
MAX_WINDOW_S = T_MAX - T_MIN + 1
_SHOWN = 40  # characters of a bad value quoted in a reason


class FieldError(Exception):
    """One field of one record is bad: which field and why (a reader makes it a RowError)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:_SHOWN] + ("..." if len(text) > _SHOWN else ""))


def _bound(x: float) -> str:
    return f"{int(x):,}" if x == int(x) else repr(x)


def number(value: object, field: str) -> float:
    """A finite float from a number or its text; FieldError for anything else."""
    if isinstance(value, bool):
        raise FieldError(field, f"not a number: {value!r}")
    if isinstance(value, int):
        try:
            x = float(value)
        except OverflowError:
            raise FieldError(field, f"{_shown(str(value))} is not a finite number") from None
    elif isinstance(value, float):
        x = value
    elif isinstance(value, str):
        text = value.strip()
        if "_" in text or not text.isascii():
            raise FieldError(field, f"not a number: {_shown(value)}")
        try:
            x = float(text)
        except ValueError:
            raise FieldError(field, f"not a number: {_shown(value)}") from None
    else:
        raise FieldError(field, f"not a number: {_shown(value)}")
    if not math.isfinite(x):
        raise FieldError(field, f"{_shown(value)} is not a finite number")
    return x + 0.0  # -0.0 -> 0.0


def real(value: object, field: str, lo: float, hi: float) -> float:
    """A finite number from ``lo`` to ``hi``."""
    x = number(value, field)
    if not lo <= x <= hi:
        raise FieldError(field, f"{_shown(value)} is outside {_bound(lo)}..{_bound(hi)}")
    return x


def whole(value: object, field: str, lo: int = 0, hi: int = MAX_COUNT) -> int:
    """A whole number from ``lo`` to ``hi`` (``3``, ``3.0``, ``"3"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        digits = value.strip()
        if len(digits) > len(str(hi)):
            raise FieldError(field, f"{_shown(value)} is over the limit of {hi:,}")
        n = int(digits)
    else:
        x = number(value, field)
        if x != math.floor(x):
            raise FieldError(field, f"{_shown(value)} is not a whole number")
        if not lo <= x <= hi:
            raise FieldError(field, f"{_shown(value)} is outside {lo:,}..{hi:,}")
        n = int(x)
    if not lo <= n <= hi:
        raise FieldError(field, f"{_shown(value)} is outside {lo:,}..{hi:,}")
    return n


def time_in_range(t: int, field: str) -> int:
    """``t`` if it is an epoch second of the years 1000-9999 UTC."""
    if not T_MIN <= t <= T_MAX:
        raise FieldError(field, f"{t} is outside the years {YEAR_MIN}-{YEAR_MAX}")
    return t


class MarkingCeiling:
    """The import's marking as a ceiling: ``apply(row_text)`` is the canonical text of the
    record's own marking narrowed by it (the ceiling itself for a record without one).

    An invalid record marking raises FieldError naming ``field``; an invalid ceiling raises
    MarkingError when the ceiling is made (before anything is read).
    """

    _CACHE = 4096

    def __init__(self, ceiling: str | Marking | None) -> None:
        self.marking = parse_marking(ceiling)
        self.text = self.marking.text
        self._seen: dict[str, str] = {}

    def apply(self, row_text: str | None, field: str = "releasability") -> str:
        if row_text is None or not row_text.strip():
            return self.text
        out = self._seen.get(row_text)
        if out is None:
            try:
                out = parse_marking(row_text).narrow(self.marking).text
            except MarkingError as exc:
                raise FieldError(field, f"{exc.message} ({exc.hint})") from None
            if len(self._seen) >= self._CACHE:
                self._seen.clear()
            self._seen[row_text] = out
        return out


MAX_JSON_DEPTH = 64  # nesting of objects and arrays in one record's JSON


class NotFinite(ValueError):
    """A JSON number that is NaN or infinite (raised by the ``json.loads`` hooks below)."""


def reject_constant(name: str) -> object:
    """``parse_constant`` for ``json.loads``: NaN, Infinity and -Infinity are refused."""
    raise NotFinite(f"{name} is not a JSON number")


def finite_float(text: str) -> float:
    """``parse_float`` for ``json.loads``: a number that overflows to infinity is refused."""
    x = float(text)
    if not math.isfinite(x):
        raise NotFinite(f"{text[:_SHOWN]} is not a finite number")
    return x


def json_depth(value: object) -> int:
    """How deeply objects and arrays nest in a parsed JSON value (a scalar is 0)."""
    depth, level = 0, [(value, 1)]
    while level:
        v, d = level.pop()
        if isinstance(v, dict):
            depth = max(depth, d)
            level.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            depth = max(depth, d)
            level.extend((x, d + 1) for x in v)
    return depth


def load_json(text: str, field: str) -> object:
    """A JSON value from untrusted text: finite numbers only (no NaN or Infinity), nesting
    up to ``MAX_JSON_DEPTH``; FieldError naming ``field`` otherwise."""
    try:
        value = json.loads(text, parse_constant=reject_constant, parse_float=finite_float)
    except NotFinite as exc:
        raise FieldError(field, str(exc)) from None
    except RecursionError:
        raise FieldError(field, f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # not JSON, or an integer of thousands of digits
        raise FieldError(field, f"not valid JSON: {str(exc)[:80]}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise FieldError(field, f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def check_writable(o: Observation) -> None:
    """InputError if an observation holds a value the readers would refuse (so a writer that
    wrote it would break the round trip): a time outside the years 1000-9999, a coordinate,
    count, window or uncertainty out of bounds, text that is not valid Unicode, or a monitor's
    report that breaks a rule of ``io.reports``."""
    try:
        time_in_range(o.t_start, "t_start")
        time_in_range(o.t_end, "t_end")
        real(o.lat, "lat", -90.0, 90.0)
        real(o.lon, "lon", -180.0, 180.0)
        if o.uncertainty_m is not None:
            real(o.uncertainty_m, "uncertainty_m", 0.0, MAX_UNCERTAINTY_M)
        whole(o.count, "count")
        whole(o.time_precision_s, "time_precision_s", 1, MAX_WINDOW_S)
        for name in ("source", "text", "origin", "source_ref", "releasability"):
            try:
                getattr(o, name).encode("utf-8")
            except UnicodeEncodeError:
                raise FieldError(name, "is not valid Unicode (a lone surrogate)") from None
        if o.report is not None:  # the report's rules (``io.reports``), as the readers hold
            from truceguard.io.reports import check_report, weapon_class_for

            check_report(o.report, o.lat, o.lon)
            if weapon_class_for(o.weapon_class, o.report) != o.weapon_class:
                raise FieldError("weapon_class", f"{o.weapon_class} is read back as the weapon "
                                 f"type's class (weapon_type {o.report.weapon_type})")
    except FieldError as bad:
        ident = getattr(o, "obs_id", None)
        which = f"observation {ident}" if ident is not None else "an observation"
        raise InputError(
            f"{which} cannot be written so that it reads back the same: {bad.field}: "
            f"{bad.reason}", hint="correct or remove that observation, or leave it out of "
            "the export with a filter", code="output.unwritable") from None
