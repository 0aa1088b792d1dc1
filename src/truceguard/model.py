"""The project's words as typed records (see DESIGN.md, "Words").

Times are UTC seconds since the epoch (int); positions are WGS84 degrees; uncertainties are
metres and seconds. Vocabularies are tuples so that readers, terms files and tests share them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

# How an observation was known, after OSCE SMM practice ("heard", "saw", cameras "recorded").
HOW_KNOWN: tuple[str, ...] = (
    "heard",
    "seen",
    "recorded",
    "sensor",
    "party_report",
    "open_source",
)

# What was observed. The first five are the SMM's ceasefire-violation categories.
CATEGORIES: tuple[str, ...] = (
    "explosion",
    "projectile",
    "muzzle_flash",
    "illumination_flare",
    "shots",
    "armed_clash",
    "shelling",
    "air_strike",
    "drone",
    "missile",
    "movement",
    "flight",
    "mine",
    "weapon_presence",
    "detection",
    "track",
    "other",
)

# Weapon classes as ceasefire terms name them (Minsk II and its addendum, the GCSP 2025 plan).
WEAPON_CLASSES: tuple[str, ...] = (
    "small_arms",
    "light_weapon",  # grenade launchers, heavy machine guns, recoilless guns
    "mortar_lt120",  # mortars under 120 mm
    "mortar_120",  # 120 mm mortars
    "artillery_lt100",  # guns and howitzers under 100 mm
    "tank",
    "artillery_ge100",  # guns and howitzers of 100 mm and more
    "mlrs",  # multiple-launch rocket systems (Grad class)
    "mlrs_long",  # long-range MLRS: Tornado-S, Uragan, Smerch
    "tactical_missile",  # Tochka, Iskander
    "aircraft",
    "helicopter",
    "uav",
    "mine",
    "unknown",
)

RELEASABILITY_PUBLIC = "PUBLIC"


def utc_now() -> int:
    return int(datetime.now(UTC).timestamp())


def iso(ts: int | float | None) -> str:
    """An epoch second as ISO 8601 UTC (``2015-02-15T00:00:00Z``); '' for None."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(slots=True)
class Observation:
    """One report of one thing seen, heard, recorded or claimed, by one source.

    ``raw`` is the input record verbatim (the CSV line(s), the GeoJSON feature, the CoT event);
    ``raw_sha256`` its digest. ``dedup_key`` decides idempotency: the source's own identifier
    where the format has one, else the digest of the raw record.
    """

    source: str  # the feed or reporter: "UCDP GED", "ACLED", "cot:ALPHA-1", ...
    how_known: str  # one of HOW_KNOWN
    t_start: int  # observed (or earliest possible) time, epoch seconds UTC
    t_end: int  # latest possible time; equals t_start when exact
    time_precision_s: int  # the width of the honest time window, seconds
    lat: float
    lon: float
    uncertainty_m: float | None  # radius of position uncertainty; None when unknown
    category: str
    weapon_class: str = "unknown"
    count: int = 1
    text: str = ""
    origin: str = ""  # the ultimate origin ("Reuters", "patrol 3"): independent-source counting
    source_ref: str = ""  # the source's own identifier for the record, if any
    releasability: str = RELEASABILITY_PUBLIC
    raw: str = ""
    raw_sha256: str = ""
    source_file: str = ""
    source_line: int = 0
    attributes: dict[str, object] = field(default_factory=dict)
    obs_id: int | None = None  # assigned by the store
    incident_id: int | None = None  # assigned by fusion

    @property
    def dedup_key(self) -> str:
        if self.source_ref:
            return f"{self.source}|{self.source_ref}"
        return f"{self.source}|sha256:{self.raw_sha256}"


@dataclass(slots=True, frozen=True)
class Viewer:
    """Who is asking. ``groups`` are the releasability codes this viewer holds.

    A record marked ``PUBLIC`` is releasable to everyone; a record marked ``REL UK FR`` (or
    ``REL COALITION``) only to a viewer holding one of those codes. ``Viewer.owner()`` is the
    local analyst who imported the data and sees all of it.
    """

    groups: frozenset[str] = frozenset()
    sees_all: bool = False

    @classmethod
    def owner(cls) -> Viewer:
        return cls(sees_all=True)

    @classmethod
    def holding(cls, *groups: str) -> Viewer:
        return cls(groups=frozenset(g.strip().upper() for g in groups if g.strip()))

    def may_see(self, marking: str) -> bool:
        if self.sees_all:
            return True
        codes = releasability_codes(marking)
        return codes is None or bool(codes & self.groups)


def releasability_codes(marking: str) -> frozenset[str] | None:
    """The codes a marking releases to; None for PUBLIC (releasable to all).

    Accepts ``PUBLIC``, ``REL UK FR``, ``REL TO UK, FR``, ``REL COALITION``.
    """
    m = (marking or RELEASABILITY_PUBLIC).strip().upper()
    if m == RELEASABILITY_PUBLIC:
        return None
    if not m.startswith("REL"):
        raise ValueError(f"releasability marking {marking!r}: expected PUBLIC or 'REL CODE ...'")
    rest = m[3:].strip()
    if rest.startswith("TO "):
        rest = rest[3:]
    codes = frozenset(c for c in rest.replace(",", " ").split() if c)
    if not codes:
        raise ValueError(f"releasability marking {marking!r} names no code")
    return codes


def normalise_releasability(marking: str) -> str:
    codes = releasability_codes(marking)
    return RELEASABILITY_PUBLIC if codes is None else "REL " + " ".join(sorted(codes))


@dataclass(slots=True)
class IngestSummary:
    """What one import did; the same figures go into the append-only ingest log."""

    path: str
    file_sha256: str
    fmt: str
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[object] = field(default_factory=list)  # RowError instances (first N kept)

    @property
    def line(self) -> str:
        return f"imported {self.imported}, duplicates {self.duplicates}, rejected {self.rejected}"
