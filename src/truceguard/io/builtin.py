"""The built-in formats, registered in ``io.registry`` as plugins register theirs."""

from __future__ import annotations

from truceguard.io.acled import ACLED_READER
from truceguard.io.cot import COT_READER
from truceguard.io.csvmap import CSV_READER
from truceguard.io.geojson import GEOJSON_READER
from truceguard.io.registry import ReaderSpec
from truceguard.io.ucdp import UCDP_READER

BUILTIN_READERS: tuple[ReaderSpec, ...] = (
    UCDP_READER,
    ACLED_READER,
    GEOJSON_READER,
    CSV_READER,
    COT_READER,
)
