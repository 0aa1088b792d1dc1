"""truceguard: watch a ceasefire and plan the force that safeguards it.

The public API; everything else is internal and may change. Each subpackage exports its own:
``truceguard.io`` (readers and writers), ``truceguard.store`` (the Store protocol, SQLite and
PostgreSQL), ``truceguard.judge`` (fusion, grading, terms, adjudication), ``truceguard.plan``
(scenarios and the force model), ``truceguard.report`` (period and planning reports).
"""

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

__version__ = "0.2.0"

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
