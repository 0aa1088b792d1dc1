"""The Store protocol: the one piece of shared state, and what every backend must do.

``Store`` is the union of three role protocols, each on ``StoreCore`` (where the store is,
its life, transactions, the lock wait, markings): ``ObservationStore`` (ingest, queries,
attachments), ``JudgingStore`` (fusion, incidents, violations, reviews, the judged register)
and ``MissionStore`` (users, audit, alert targets and the outbox, plan runs). A function asks
for the narrowest role it needs; every method a caller uses is declared in one of them (a test
walks the package for calls), and backend-specific tuning stays behind them
(``ingest_stream``, ``checkpoint``, ``bulk_load``, ``set_busy_timeout``).

The embedded default is SQLite (``store.sqlite``); the multi-user backend is PostgreSQL
(``store.postgres``). Both implement ``Store`` through the same SQL (``store.sql``), and the
store tests run against both.

Filters are plain data (``ObservationFilter``, ``ViolationFilter``) compiled to SQL by one
function each, so the filter that lists is the filter that counts and the filter that exports.

Releasability is applied by the store itself, in the same SQL, from the ``Viewer`` passed to
every read: an observation is shown when its marking is one the viewer may see (matched by
marking id against the exact codes in ``marking_codes``); an incident or a violation is shown
as the view computed from exactly the observations the viewer may see (see
``truceguard.pipeline``). The store imports nothing from judge, plan, report, cli or server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, runtime_checkable

import numpy as np

from truceguard.audit import AuditEntry, AuditFilter
from truceguard.geo.sphere import bbox_around
from truceguard.io.columns import ObservationColumns
from truceguard.marking import Marking, Viewer
from truceguard.model import (
    Incident,
    IngestSummary,
    Observation,
    StatusChange,
    User,
    Violation,
)
from truceguard.store.federation import FederationStore
from truceguard.store.mission import AlertTarget, Attachment, OutboxItem, PlanRun


class JsonState(Protocol):
    """What the store keeps of an incident's summary state: its JSON (the judge's
    ``SummaryState``; the store imports nothing of the judge)."""

    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ObservationFilter:
    """Which records a command means. Every field is optional; all given must hold.

    since/until: epoch seconds, compared with the record's start time (until inclusive).
    bbox: (west, south, east, north) degrees. near: (lat, lon, km) great-circle radius.
    For incidents and violations, ``sources`` keeps those with an observation from one of the
    sources that the viewer may see.
    """

    since: int | None = None
    until: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float, float] | None = None
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    incident_id: int | None = None
    weapon_classes: tuple[str, ...] = ()
    after: tuple[int, int] | None = None  # a page's cursor: (t_start, id) of its last row
    report_kinds: tuple[str, ...] = ()  # monitors' report kinds (observations only)

    def where(self, alias: str, *, time_column: str = "t_start", id_column: str = "obs_id"
              ) -> tuple[list[str], list[Any]]:
        """The conditions (SQL with ``?`` parameters) on ``alias``'s own columns.

        ``near`` contributes its bounding box here; the exact great-circle cut is applied by
        ``near_mask`` on the rows that come back. ``sources`` is the caller's (observations
        compare it directly; incidents and violations through their observations).
        """
        a = alias + "."
        where: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            where.append(f"{a}{time_column} >= ?")
            params.append(self.since)
        if self.until is not None:
            where.append(f"{a}{time_column} <= ?")
            params.append(self.until)
        boxes = []
        if self.bbox is not None:
            boxes.append(self.bbox)
        if self.near is not None:
            lat, lon, km = self.near
            boxes.append(bbox_around(lat, lon, km * 1000.0))
        for w, s, e, n in boxes:
            where.append(f"{a}lat BETWEEN ? AND ? AND {a}lon BETWEEN ? AND ?")
            params += [s, n, w, e]
        if self.categories:
            where.append(f"{a}category IN ({','.join('?' * len(self.categories))})")
            params += list(self.categories)
        if self.weapon_classes:
            where.append(f"{a}weapon_class IN ({','.join('?' * len(self.weapon_classes))})")
            params += list(self.weapon_classes)
        if self.report_kinds:
            where.append(f"{a}kind IN ({','.join('?' * len(self.report_kinds))})")
            params += list(self.report_kinds)
        if self.incident_id is not None:
            where.append(f"{a}incident_id = ?")
            params.append(self.incident_id)
        if self.after is not None:
            t, i = self.after
            where.append(f"({a}{time_column} > ? OR ({a}{time_column} = ? AND {a}{id_column} > ?))")
            params += [t, t, i]
        return where, params


@dataclass(frozen=True, slots=True)
class ViolationFilter:
    """Which violations a command means: the record filter plus the judging fields.

    ``min_p_location`` keeps violations whose location probability is at least that (0 keeps
    all); ``statuses`` are current statuses; withdrawn violations are left out unless asked for
    by status or ``include_withdrawn``.
    """

    records: ObservationFilter = field(default_factory=ObservationFilter)
    terms: str | None = None
    clauses: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    min_p_location: float = 0.0
    include_withdrawn: bool = False


def near_mask(lat: Sequence[float] | np.ndarray, lon: Sequence[float] | np.ndarray,
              near: tuple[float, float, float]) -> np.ndarray:
    """Which of the points lie within ``near``'s great-circle radius."""
    from truceguard.geo.sphere import haversine_m

    clat, clon, km = near
    la = np.asarray(lat, dtype=float)
    lo = np.asarray(lon, dtype=float)
    return np.asarray(haversine_m(clat, clon, la, lo) <= km * 1000.0)


@dataclass(frozen=True, slots=True)
class IngestCounts:
    """What storing one batch did."""

    inserted: int = 0
    duplicates: int = 0  # the same record again: same identity, same observed content
    conflicts: int = 0  # another record under a taken identity: kept for review
    narrowed: int = 0  # duplicates whose marking the import narrowed


@dataclass(frozen=True, slots=True)
class Conflict:
    """A record whose identity another record with other content already holds."""

    conflict_id: int
    at: int
    dedup_key: str
    existing_obs_id: int
    raw_sha256: str
    releasability: str
    source_file: str
    source_line: int
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FusionRun:
    """One fusion, as the store logs it."""

    params: str  # the parameters as canonical JSON
    mode: str  # "full" or "incremental"
    n_observations: int


@dataclass(slots=True)
class IncidentView:
    """An incident as the viewers who may see exactly the observations of ``sig`` see it.

    ``sig`` is the sorted marking ids of the observations it is computed from (joined with
    ','); ``set_key`` the same for all the incident's observations. ``incident`` carries the
    summary (its ``releasability`` is the narrowing of the markings in ``sig``). When the
    reports of ``sig`` do not link on their own (others bridged them), the view is one of
    several parts: its ``incident.incident_id`` is the part's own, ``parent_id`` the
    incident's, ``members`` the part's observations.
    """

    incident: Incident
    sig: str
    set_key: str
    marking_id: int
    parent_id: int = 0  # the incident (the owner's); 0: the view's own incident_id
    members: tuple[int, ...] = ()  # a part's observations, when the view splits into parts


@dataclass(slots=True)
class JudgedViolation:
    """A violation to store, with the view of the incident it was judged on."""

    violation: Violation
    sig: str
    marking_id: int
    parent_id: int = 0  # the incident whose view (or part of one) was judged


@runtime_checkable
class StoreCore(Protocol):
    """What every role shares: where the store is, its life, transactions, the lock wait, and
    the markings (releasability, which every role applies)."""

    backend: str
    path: str  # where it is, for messages (a file path, or a URL without its password)

    def schema_version(self) -> int: ...
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]:
        """A transaction: committed on normal exit, rolled back on an exception."""
        ...
    def set_busy_timeout(self, seconds: float) -> None:
        """Wait at most ``seconds`` for another writer's lock (or, on a pooled backend, for a
        free connection) from now on; past it, ``StoreBusyError``."""
        ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def marking_id(self, marking: Marking) -> int: ...
    def markings(self) -> dict[int, Marking]: ...


@runtime_checkable
class ObservationStore(StoreCore, Protocol):
    """Observations: ingest (bulk and live), queries, the ingest log, evidence attachments."""

    # -- ingest -----------------------------------------------------------------------------
    def bulk_load(self, expected_rows: int) -> AbstractContextManager[None]:
        """Prepare for loading about ``expected_rows`` rows (a backend may defer indexing)."""
        ...
    def lend_connection(self, thread: Any) -> AbstractContextManager[None]:
        """Let a started helper thread use this thread's connection (and transaction)."""
        ...
    def ingest_stream(self, *, separate_checkpoints: bool = False
                      ) -> AbstractContextManager[None]:
        """While open, this thread writes a stream of small batches, each committed on its
        own (the live sink's writer): the backend tunes this thread's connection for that and
        undoes it at the end. Every commit stays durable: what returned from a commit is on
        disk. ``separate_checkpoints``: another thread calls ``checkpoint`` meanwhile."""
        ...
    def checkpoint(self) -> bool:
        """Fold what committed transactions left in the store's own write-ahead log into the
        database, on this thread's connection, without waiting for readers; False when the
        backend keeps no such log itself (nothing to call this for, then)."""
        ...
    def add_observation_columns(self, batch: ObservationColumns, *, reader: str,
                                curated: bool = False, who: str = "import") -> IngestCounts:
        """Insert a column batch inside the current transaction."""
        ...
    def add_observations(self, records: Sequence[Observation], *, reader: str,
                         curated: bool = False, who: str = "import") -> IngestCounts: ...
    def log_ingest(self, summary: IngestSummary, status: str) -> int:
        """Append one row to the ingest log; returns its id. The log is never rewritten."""
        ...
    def ingest_log(self) -> list[dict[str, Any]]: ...

    # -- queries ----------------------------------------------------------------------------
    def observations(self, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
                     ) -> Iterator[Observation]: ...
    def count_observations(self, flt: ObservationFilter, viewer: Viewer) -> int: ...
    def observation_span(self, flt: ObservationFilter, viewer: Viewer
                         ) -> tuple[int, int] | None:
        """The first and last start time of the observations ``flt`` matches (``near`` taken
        as its bounding box); None when none match."""
        ...
    def observation_marking(self, flt: ObservationFilter, viewer: Viewer,
                            limit: int | None = None) -> Marking: ...
    def get_observation(self, obs_id: int, viewer: Viewer) -> Observation | None: ...
    def sources(self, viewer: Viewer) -> list[str]: ...
    def remark(self, obs_ids: Sequence[int], marking: Marking, who: str, why: str) -> int: ...
    def marking_trail(self, obs_id: int) -> list[dict[str, Any]]: ...
    def conflicts(self, viewer: Viewer, limit: int | None = None) -> list[Conflict]: ...

    # -- evidence attachments (store.mission; truceguard.attachments) ---------------------------
    def put_attachment(self, att: Attachment, content: bytes
                       ) -> tuple[Attachment, bool, bool]:
        """Store the bytes once and link them to ``att.obs_id`` once; returns the attachment as
        stored, whether the bytes were new and whether the link was."""
        ...
    def attachments_of(self, obs_id: int, viewer: Viewer) -> list[Attachment]: ...
    def attachment_content(self, sha256: str, viewer: Viewer, obs_id: int | None = None
                           ) -> tuple[Attachment, bytes] | None:
        """The attachment and its bytes through a linked observation ``viewer`` may see."""
        ...
    def observation_reader(self, obs_id: int) -> str | None: ...


@runtime_checkable
class JudgingStore(StoreCore, Protocol):
    """Judging: fusion into incidents, violations and their reviews, the judged register."""

    # -- fusion and incidents ---------------------------------------------------------------
    def incident_key(self) -> bytes:
        """The database's secret from which opaque incident ids are derived."""
        ...
    def fusion_arrays(self, *, unfused: bool = False,
                      window: tuple[float, float, float, float, float, float] | None = None,
                      incident_ids: Sequence[int] = ()) -> dict[str, np.ndarray]: ...
    def last_fusion_params(self) -> str | None: ...
    def write_fusion(self, run: FusionRun, removed: Sequence[int], obs_ids: np.ndarray,
                     incident_ids: np.ndarray, views: Sequence[IncidentView], *,
                     states: Sequence[tuple[int, int, JsonState]] = (),
                     relabel: Sequence[tuple[int, int]] = ()) -> int: ...
    def summary_states(self, incident_ids: Sequence[int]
                       ) -> dict[int, dict[int, dict[str, Any]]]:
        """The stored summary states (their JSON) of those incidents whose views are in
        place, by incident and marking id."""
        ...
    def monitor_reports(self, incident_ids: Sequence[int]) -> list[tuple[int, Observation]]:
        """(marking id, observation) of every monitor's report fused into those incidents."""
        ...
    def incidents(self, flt: ObservationFilter, viewer: Viewer, limit: int | None = None
                  ) -> list[Incident]: ...
    def get_incident(self, incident_id: int, viewer: Viewer) -> Incident | None: ...
    def count_incidents(self) -> int: ...
    def incident_columns(self, flt: ObservationFilter, viewer: Viewer
                         ) -> dict[str, np.ndarray]:
        """The map's columns (``store.map_columns``) of exactly the incidents
        ``incidents(flt, viewer)`` lists, in its order, as arrays."""
        ...

    # -- violations -------------------------------------------------------------------------
    def evidence_observations(self, incident_ids: Sequence[int], categories: Sequence[str]
                              ) -> list[tuple[int, Observation]]: ...
    def view_arrays(self, incident_ids: Sequence[int] | None = None
                    ) -> dict[str, np.ndarray]: ...
    def violation_keys(self, terms: str, incident_ids: Sequence[int] | None = None
                       ) -> dict[tuple[str, int, str, str], tuple[int, str]]: ...
    def write_violations(self, inserts: Sequence[JudgedViolation],
                         updates: Sequence[tuple[int, JudgedViolation]],
                         trail: Sequence[tuple[int | tuple[str, int, str, str], StatusChange]],
                         ) -> None: ...
    def violations(self, flt: ViolationFilter, viewer: Viewer, limit: int | None = None
                   ) -> list[Violation]: ...
    def get_violation(self, violation_id: int, viewer: Viewer) -> Violation | None: ...
    def violation_columns(self, flt: ViolationFilter, viewer: Viewer
                          ) -> dict[str, np.ndarray]:
        """The map's columns (``store.map_columns``) of exactly the violations
        ``violations(flt, viewer)`` lists, in its order, as arrays."""
        ...

    # -- reviews and the judged register ----------------------------------------------------
    def append_status(self, violation_id: int, change: StatusChange) -> None: ...
    def status_trail(self, violation_id: int) -> list[StatusChange]: ...
    def lock_violation(self, violation_id: int) -> str:
        """Inside a transaction: hold the violation against other writers until it ends;
        returns its current status (NotFoundError when there is no such violation)."""
        ...
    def latest_status(self, violation_ids: Sequence[int]) -> dict[int, StatusChange]: ...
    def adjudicated_terms(self) -> dict[str, str]: ...
    def record_judged(self, terms: str, version: str) -> None: ...


@runtime_checkable
class MissionStore(FederationStore, StoreCore, Protocol):
    """The mission server's records (``store.mission``): the owner nation, users, the audit
    log, alert targets and their outbox, plan runs; and federation's partners and ledgers
    (``store.federation``)."""

    def owner_nation(self) -> str | None: ...
    def set_owner_nation(self, code: str) -> None: ...

    # -- users ------------------------------------------------------------------------------
    def add_user(self, name: str, nation: str, role: str, marking: str, token_sha256: str,
                 cert_fingerprint: str = "") -> User: ...
    def user_by_token(self, token_sha256: str) -> User | None: ...
    def user_by_name(self, name: str) -> User | None: ...
    def user_by_cert(self, fingerprint: str) -> User | None: ...
    def user_by_id(self, user_id: int) -> User | None: ...
    def users(self) -> list[User]: ...
    def disable_user(self, name: str) -> User: ...

    # -- the audit log ----------------------------------------------------------------------
    def audit(self, actor: str, action: str, detail: dict[str, Any] | None = None) -> int: ...
    def audit_entries(self) -> list[AuditEntry]: ...
    def audit_query(self, flt: AuditFilter) -> list[AuditEntry]:
        """The entries ``flt`` matches, oldest first (the most recent ``flt.limit``)."""
        ...
    def audit_actions(self) -> list[str]:
        """The actions the audit log holds, sorted."""
        ...
    def audit_head(self) -> str | None: ...
    def set_audit_key(self, key: bytes | None) -> None: ...
    def audit_key(self) -> bytes | None: ...
    def key_audit_log(self) -> int: ...

    # -- alert targets and the outbox -------------------------------------------------------
    def add_alert_target(self, name: str, kind: str, url: str, secret: str, min_severity: int,
                         terms: str, user_id: int, *, allow_private: bool = False,
                         audience: str = "team") -> AlertTarget: ...
    def alert_targets(self, *, active_only: bool = False) -> list[AlertTarget]: ...
    def disable_alert_target(self, target_id: int) -> AlertTarget: ...
    def enqueue(self, items: Sequence[tuple[int, int, str, str]], now: float) -> int: ...
    def owe_published(self, violation_id: int, now: float) -> int:
        """Owe a just-published violation to the ``published`` targets that may see it."""
        ...
    def due(self, now: float, limit: int = 100) -> list[OutboxItem]: ...
    def outbox(self, target_id: int | None = None) -> list[OutboxItem]: ...
    def delivered(self, outbox_id: int, at: float) -> None: ...
    def retry_later(self, outbox_id: int, next_at: float, error: str, *, give_up: bool
                    ) -> None: ...

    # -- plan runs --------------------------------------------------------------------------
    def add_plan_run(self, who: str, request: dict[str, Any], *, marking: str) -> int: ...
    def set_plan_run(self, run_id: int, state: str, result: dict[str, Any] | None = None,
                     error: str = "") -> None: ...
    def plan_run(self, run_id: int) -> PlanRun | None: ...
    def recent_plan_runs(self, limit: int) -> list[PlanRun]: ...


@runtime_checkable
class Store(ObservationStore, JudgingStore, MissionStore, Protocol):
    """Every role: what the core, the CLI, the server and the tests may ask of a store. Both
    backends implement all of it; a function asks for the narrowest role it needs."""


ROLES: tuple[type, ...] = (ObservationStore, JudgingStore, MissionStore)


def protocol_methods(protocol: type) -> frozenset[str]:
    """The public methods ``protocol`` declares, its protocol bases' included."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (Protocol, Generic, object) or not getattr(cls, "_is_protocol", False):
            continue
        names.update(n for n, v in vars(cls).items() if callable(v) and not n.startswith("_"))
    return frozenset(names)
