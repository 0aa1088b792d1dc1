"""The project's words as typed records (see DESIGN.md, "Words").

Times are UTC seconds since the epoch (int); positions are WGS84 degrees; uncertainties are
metres and seconds. Vocabularies are tuples so that readers, terms files and tests share them.
``Observation``, ``Incident`` and ``Violation`` are what crosses every package boundary;
``Marking`` and ``Viewer`` (releasability) live in ``truceguard.marking`` and are re-exported
here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from truceguard.marking import Marking as Marking
from truceguard.marking import Viewer as Viewer
from truceguard.marking import parse_marking

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
    "explosive_remnant",  # harm from a mine, explosive remnant, booby trap or tripwire
    "low_clarity",  # a source's lower-clarity or aggregated event (UCDP event_clarity 2)
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

# A violation's status, in the order a review moves it: adjudication makes it ``new``; an
# analyst puts it ``under_review`` and one ``verified`` it; a second analyst, not the one who
# verified it, makes it ``published`` (or returns it to ``under_review``); it may be
# ``discounted`` before it is published. ``withdrawn`` is set by re-adjudication only (the
# incident no longer breaches the clause), never by a person. See ``pipeline.REVIEW_FLOW``.
REVIEW_STATUSES: tuple[str, ...] = ("new", "under_review", "verified", "published",
                                    "discounted")
STATUS_VERIFIED = "verified"
STATUS_PUBLISHED = "published"
STATUS_WITHDRAWN = "withdrawn"
VIOLATION_STATUSES: tuple[str, ...] = (*REVIEW_STATUSES, STATUS_WITHDRAWN)
# What a person may decide (``truceguard review --status``): a status, or ``returned``: a
# second analyst sends a verified violation back to ``under_review`` (they disagree).
DECISION_RETURNED = "returned"
REVIEW_DECISIONS: tuple[str, ...] = ("under_review", "verified", "published", DECISION_RETURNED,
                                     "discounted")


def utc_now() -> int:
    return int(datetime.now(UTC).timestamp())


def iso(ts: int | float | None) -> str:
    """An epoch second as ISO 8601 UTC (``2015-02-15T00:00:00Z``); '' for None."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


# A monitor's report (see ``MonitorReport``): its kinds and their vocabularies.
REPORT_KINDS: tuple[str, ...] = ("fire", "sighting", "restriction", "harm", "hazard")
FIRE_DIRECTIONS: tuple[str, ...] = ("impact", "outgoing", "undetermined")
STORAGE_STATES: tuple[str, ...] = ("present", "absent", "never_verified")
RESTRICTION_TYPES: tuple[str, ...] = ("checkpoint", "mines", "threat", "uav_jamming", "other")
HAZARD_TYPES: tuple[str, ...] = ("mine", "uxo")
# The fields only one kind of report may carry; every other field may be on any kind.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "fire": ("direction", "duration_s", "crater_bearing_deg", "crater_bearing_err_deg"),
    "sighting": ("in_zone", "storage_site", "storage_present"),
    "restriction": ("restricted_by", "restriction_type", "delay_min"),
    "harm": ("killed", "injured", "damage", "corroboration"),
    "hazard": ("hazard_type",),
}


@dataclass(slots=True, frozen=True)
class MonitorReport:
    """What a monitor's report says beyond "something happened at a point".

    One record for every kind: the fields of ``KIND_FIELDS`` belong to one kind and are None
    on the others (the readers refuse them there, so a direction on a sighting never lands).
    Bearings are degrees clockwise from true north, from the observer (0 <= b < 360), with
    their error (half-width, 0 < e <= 90); the distance band is from the observer, in km. For
    fire assessed from an impact, ``crater_bearing_deg`` is the bearing from the crater back
    toward the firer. ``actor_side`` says whose forces acted (for clauses that need it: an
    advance, offensive operations), ``by_monitors`` whether it was the monitors' own activity
    (their UAVs do not breach a ban on flights that excepts them). ``weapon_type`` names an
    entry of the shipped weapon list
    (``data/weapons/weapon_types.yaml``). Whether it was day or night follows from the place
    and time (``truceguard.sun.day_or_night``), so it is not stored.
    """

    kind: str  # one of REPORT_KINDS
    direction: str | None = None  # fire: one of FIRE_DIRECTIONS
    bearing_deg: float | None = None
    bearing_err_deg: float | None = None
    distance_min_km: float | None = None
    distance_max_km: float | None = None
    observer_lat: float | None = None
    observer_lon: float | None = None
    observer_uncertainty_m: float | None = None
    weapon_type: str | None = None
    duration_s: int | None = None  # fire
    crater_bearing_deg: float | None = None  # fire, from an impact's crater
    crater_bearing_err_deg: float | None = None
    in_zone: str | None = None  # sighting: a zone code ("withdrawal_line", "storage_site")
    storage_site: str | None = None  # sighting: the storage site's name or code
    storage_present: str | None = None  # sighting: one of STORAGE_STATES
    restricted_by: str | None = None  # restriction: the side
    restriction_type: str | None = None  # restriction: one of RESTRICTION_TYPES
    delay_min: int | None = None  # restriction
    killed: int | None = None  # harm
    injured: int | None = None  # harm
    damage: str | None = None  # harm: what was damaged
    corroboration: str | None = None  # harm: how it was corroborated
    hazard_type: str | None = None  # hazard: one of HAZARD_TYPES
    actor_side: str | None = None  # whose forces acted (a side id of the terms), if known
    by_monitors: str | None = None  # "yes": the monitors' own flight, UAV or patrol


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
    report: MonitorReport | None = None  # a monitor's report; None for other records

    @property
    def dedup_key(self) -> str:
        if self.source_ref:
            return f"{self.source}|{self.source_ref}"
        return f"{self.source}|sha256:{self.raw_sha256}"


def normalise_releasability(marking: str | None) -> str:
    """The canonical text of a marking (``REL TO FRA, GBR``); MarkingError if it is not valid.

    Older markings (``REL UK FR``) are converted to alpha-3 codes."""
    return parse_marking(marking).text


@dataclass(slots=True)
class IngestSummary:
    """What one import did; the same figures go into the append-only ingest log."""

    path: str
    file_sha256: str
    fmt: str
    imported: int = 0
    duplicates: int = 0  # the same record again: same identity, same observed content
    rejected: int = 0
    conflicts: int = 0  # a record under an identity held by other content: kept for review
    narrowed: int = 0  # duplicates whose stored marking this import narrowed
    errors: list[object] = field(default_factory=list)  # RowError instances (first N kept)

    @property
    def line(self) -> str:
        extra = f", markings narrowed {self.narrowed}" if self.narrowed else ""
        return (f"imported {self.imported}, duplicates {self.duplicates}, conflicts "
                f"{self.conflicts}, rejected {self.rejected}{extra}")


@dataclass(slots=True)
class Incident:
    """Observations fused into one event, as one viewer may see it.

    ``incident_id`` is opaque (it reveals nothing about the observations behind it). Every other
    field is computed from the observations releasable to the viewer alone; ``releasability``
    is the narrowing of their markings.
    """

    incident_id: int
    t_start: int
    t_end: int
    lat: float
    lon: float
    uncertainty_m: float  # radius of the position's 95% uncertainty, metres
    category: str
    category_votes: dict[str, int]
    weapon_class: str
    weapon_votes: dict[str, int]
    n_observations: int
    n_sources: int  # independent sources
    grade: str
    grade_reason: str
    releasability: str = RELEASABILITY_PUBLIC


@dataclass(slots=True)
class Violation:
    """An incident judged against one clause of one version of the terms.

    ``controlled_by`` is the side that controls the judged place (a side id of the terms),
    ``p_side`` the probability of that given the position's uncertainty; for an impact that is
    the side that was hit, which attributes nothing. ``fired_from`` is the side controlling the
    estimated firing region (``judge.firing``), with ``p_fired_from``; None when no firing
    position was estimated. ``p_location`` is the probability that the judged position (for a
    clause judged on an estimated firing position: that position) satisfies the clause's
    geometry. ``status`` is the latest entry of the violation's append-only status trail.
    """

    violation_id: int
    terms: str
    terms_version: str
    clause: str
    severity: int
    status: str
    incident_id: int
    t_start: int
    t_end: int
    lat: float
    lon: float
    uncertainty_m: float
    controlled_by: str
    p_side: float
    signed_distance_m: float
    zone: str
    p_location: float
    location_text: str
    category: str
    weapon_class: str
    fired_from: str | None = None
    p_fired_from: float | None = None
    releasability: str = RELEASABILITY_PUBLIC


@dataclass(slots=True, frozen=True)
class StatusChange:
    """One entry of a violation's status trail: who decided what, when, and why."""

    seq: int
    at: int
    status: str
    who: str
    why: str


ROLES: tuple[str, ...] = ("observer", "analyst", "admin")


@dataclass(slots=True, frozen=True)
class User:
    """A person or device of the mission that uses the server.

    ``nation`` decides what is releasable to them (their nation's code and its groups);
    ``marking`` is the ceiling of what they submit (a record's own marking can only narrow
    it); ``role`` is what they may do (observer: submit and read; analyst: also review,
    report and plan; admin: also manage users, terms and alert targets).
    """

    user_id: int
    name: str
    nation: str
    role: str
    marking: str
    disabled: bool = False
    cert_fingerprint: str = ""  # SHA-256 of the client certificate (DER), hex, for CoT over TLS

    @property
    def viewer(self) -> Viewer:
        return Viewer.of(self.nation)
