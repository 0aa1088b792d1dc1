"""truceguard: watch a ceasefire and plan the force that safeguards it.

The public API; everything else is internal and may change. Each subpackage exports its own:
``truceguard.io`` (readers and writers), ``truceguard.store`` (the Store protocol, SQLite and
PostgreSQL), ``truceguard.judge`` (fusion, grading, terms, adjudication), ``truceguard.plan``
(scenarios and the force model), ``truceguard.report`` (period and planning reports).

Names are imported on first use (``_EXPORTS`` says from where), so ``import truceguard`` and the
command line start without numpy, scipy, shapely or pyproj.
"""

import typing as _typing
from importlib import import_module as _import_module

__version__ = "0.2.0"

# module -> the public names it provides; mirrored by the imports under TYPE_CHECKING below
# (tests/test_api.py checks that the two and __all__ agree)
_EXPORTS: dict[str, tuple[str, ...]] = {
    "truceguard.errors": (
        "AuthError", "ConfigError", "ForbiddenError", "FormatError", "InputError",
        "MarkingError", "MissingColumnsError", "MissingExtraError", "NotFoundError", "RowError",
        "SchemaVersionError", "StoreError", "TruceguardError", "error_envelope",
    ),
    "truceguard.ingest": ("import_file", "ingest_records"),
    "truceguard.io": ("READERS", "detect_format", "register_reader"),
    "truceguard.marking": ("Marking", "Viewer", "most_restrictive", "parse_marking"),
    "truceguard.model": (
        "CATEGORIES", "HOW_KNOWN", "VIOLATION_STATUSES", "WEAPON_CLASSES", "Incident",
        "IngestSummary", "Observation", "StatusChange", "User", "Violation",
    ),
    "truceguard.pipeline": ("adjudicate_store", "fuse_store", "set_violation_status"),
    "truceguard.store": (
        "ObservationFilter", "PostgresStore", "SQLiteStore", "Store", "ViolationFilter",
        "open_store",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

if _typing.TYPE_CHECKING:
    from truceguard.errors import (
        AuthError,
        ConfigError,
        ForbiddenError,
        FormatError,
        InputError,
        MarkingError,
        MissingColumnsError,
        MissingExtraError,
        NotFoundError,
        RowError,
        SchemaVersionError,
        StoreError,
        TruceguardError,
        error_envelope,
    )
    from truceguard.ingest import import_file, ingest_records
    from truceguard.io import READERS, detect_format, register_reader
    from truceguard.marking import Marking, Viewer, most_restrictive, parse_marking
    from truceguard.model import (
        CATEGORIES,
        HOW_KNOWN,
        VIOLATION_STATUSES,
        WEAPON_CLASSES,
        Incident,
        IngestSummary,
        Observation,
        StatusChange,
        User,
        Violation,
    )
    from truceguard.pipeline import adjudicate_store, fuse_store, set_violation_status
    from truceguard.store import (
        ObservationFilter,
        PostgresStore,
        SQLiteStore,
        Store,
        ViolationFilter,
        open_store,
    )


def __getattr__(name: str) -> _typing.Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CATEGORIES",
    "HOW_KNOWN",
    "READERS",
    "VIOLATION_STATUSES",
    "WEAPON_CLASSES",
    "AuthError",
    "ConfigError",
    "ForbiddenError",
    "FormatError",
    "Incident",
    "IngestSummary",
    "InputError",
    "Marking",
    "MarkingError",
    "MissingColumnsError",
    "MissingExtraError",
    "NotFoundError",
    "Observation",
    "ObservationFilter",
    "PostgresStore",
    "RowError",
    "SQLiteStore",
    "SchemaVersionError",
    "StatusChange",
    "Store",
    "StoreError",
    "TruceguardError",
    "User",
    "Viewer",
    "Violation",
    "ViolationFilter",
    "__version__",
    "adjudicate_store",
    "detect_format",
    "error_envelope",
    "fuse_store",
    "import_file",
    "ingest_records",
    "most_restrictive",
    "open_store",
    "parse_marking",
    "register_reader",
    "set_violation_status",
]
