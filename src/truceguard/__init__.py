"""truceguard: watch a ceasefire and plan the force that safeguards it.

The public API; everything else is internal and may change. Heavier parts (judge, plan,
report) are imported from their own packages: ``truceguard.judge``, ``truceguard.plan``,
``truceguard.report``.
"""

from truceguard.errors import (
    ConfigError,
    FormatError,
    InputError,
    MissingColumnsError,
    NotFoundError,
    RowError,
    SchemaVersionError,
    StoreError,
    TruceguardError,
)
from truceguard.ingest import import_file
from truceguard.io import READERS, detect_format, register_reader
from truceguard.model import (
    CATEGORIES,
    HOW_KNOWN,
    WEAPON_CLASSES,
    IngestSummary,
    Observation,
    Viewer,
)
from truceguard.store import ObservationFilter, SQLiteStore, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "CATEGORIES",
    "HOW_KNOWN",
    "READERS",
    "WEAPON_CLASSES",
    "ConfigError",
    "FormatError",
    "IngestSummary",
    "InputError",
    "MissingColumnsError",
    "NotFoundError",
    "Observation",
    "ObservationFilter",
    "RowError",
    "SQLiteStore",
    "SchemaVersionError",
    "Store",
    "StoreError",
    "TruceguardError",
    "Viewer",
    "__version__",
    "detect_format",
    "import_file",
    "open_store",
    "register_reader",
]
