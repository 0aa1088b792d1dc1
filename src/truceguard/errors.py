"""One exception tree for truceguard.

Every error says what the user must fix. The CLI turns any of them into a one-line message
and a non-zero exit code; the library never prints.

    TruceguardError
    +-- InputError              bad input the user can correct
    |   +-- FormatError         a file cannot be read as the format asked for (or detected)
    |   +-- MissingColumnsError required columns are absent (nothing is imported)
    |   +-- RowError            one record is bad (carries file, line, field); others still land
    |   +-- ConfigError         a terms, scenario or mapping file is wrong (names key and line)
    +-- StoreError              the store cannot be opened, migrated or written
    |   +-- SchemaVersionError  the database was written by a newer truceguard
    +-- NotFoundError           a named thing (terms, scenario, variant, record) does not exist
"""

from __future__ import annotations


class TruceguardError(Exception):
    """Root of every error truceguard raises on purpose."""


class InputError(TruceguardError):
    """Input the user can correct."""


class FormatError(InputError):
    """A file cannot be read as the format asked for (or detected)."""


class MissingColumnsError(FormatError):
    """Required columns are absent; nothing from the file is imported."""

    def __init__(self, path: str, missing: list[str], have: list[str] | None = None) -> None:
        self.path = path
        self.missing = list(missing)
        hint = f"; the file has: {', '.join(have[:30])}" if have else ""
        self.have = have
        super().__init__(
            f"{path}: missing required column(s): {', '.join(self.missing)}{hint}"
            " (map them with --map FIELD=COLUMN)"
        )

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), (self.path, self.missing, self.have))


class RowError(InputError):
    """One record is bad. Carries where it is and which field is wrong."""

    def __init__(self, path: str, line: int, field: str, reason: str, raw: str = "") -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        self.raw = raw
        super().__init__(f"{path}:{line}: {field}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), (self.path, self.line, self.field, self.reason, self.raw))

    def as_dict(self) -> dict[str, object]:
        return {"file": self.path, "line": self.line, "field": self.field, "reason": self.reason}


class ConfigError(InputError):
    """A terms, scenario or mapping file is wrong. Names the key and, where known, the line."""

    def __init__(self, path: str, key: str, reason: str, line: int | None = None) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), (self.path, self.key, self.reason, self.line))


class StoreError(TruceguardError):
    """The store cannot be opened, migrated or written."""


class SchemaVersionError(StoreError):
    """The database was written by a newer truceguard than this one."""


class NotFoundError(TruceguardError):
    """A named thing (terms, scenario, variant, record) does not exist."""
