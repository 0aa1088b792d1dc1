"""The answers of the API, as Pydantic models: pages of records, one record with what stands
behind it, the results of writes, the documents (terms, scenarios, reports, plan results),
health, and the error envelope every failure answers with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from truceguard.server.schemas.records import (
    AlertTargetRecord,
    AttachmentRecord,
    IncidentRecord,
    ObservationRecord,
    ObsToken,
    RegisterEntryRecord,
    ReviewItem,
    RunToken,
    StatusChangeRecord,
    StorageSiteRecord,
    UserRecord,
    ViolationRecord,
    ViolationToken,
)

MARKING = "the most restrictive marking of what this answer holds"
CURSOR = "pass it back as cursor for the next page; null on the last page"


class Answer(BaseModel):
    """An answer of the API."""


class Document(BaseModel):
    """A document whose parts are listed by name; it may hold more."""

    model_config = ConfigDict(extra="allow")


# -- errors --------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message naming the bad value, a hint; a bug
    (``internal``) carries the request id that the server's log names."""

    code: str = Field(description="stable, e.g. input.bad_date, auth.invalid, internal")
    message: str
    hint: str
    request_id: str | None = Field(None, description="internal errors only (X-Request-Id)")


class ErrorEnvelope(BaseModel):
    """Every error answer: ``{"error": {code, message, hint}}``, as the CLI prints it."""

    error: ErrorBody


# -- pages and records -----------------------------------------------------------------------
class ObservationPage(Answer):
    marking: str = Field(description=MARKING)
    items: list[ObservationRecord]
    next_cursor: str | None = Field(description=CURSOR)


class ObservationCount(Answer):
    count: int
    marking: str = Field(description=MARKING)


class ObservationAnswer(Answer):
    marking: str = Field(description=MARKING)
    item: ObservationRecord


class RowProblem(BaseModel):
    """One record of the body that was not imported, and why."""

    file: str
    line: int
    field: str
    reason: str


class ImportAnswer(Answer):
    """What an import did: records imported, duplicates, conflicts kept for review, rejected
    rows (the first 50 with their reasons)."""

    imported: int
    duplicates: int
    conflicts: int
    rejected: int
    errors: list[RowProblem]


class AttachmentAdded(Answer):
    item: AttachmentRecord
    new_bytes: bool = Field(description="the file's bytes were not stored before")
    new_link: bool = Field(description="the file was not linked to this observation before")


class AttachmentList(Answer):
    marking: str = Field(description=MARKING)
    obs_id: ObsToken
    items: list[AttachmentRecord]


class IncidentPage(Answer):
    marking: str = Field(description=MARKING)
    items: list[IncidentRecord]
    next_cursor: str | None = Field(description=CURSOR)


class IncidentAnswer(Answer):
    marking: str = Field(description=MARKING)
    item: IncidentRecord
    observations: list[ObservationRecord]


class ViolationPage(Answer):
    marking: str = Field(description=MARKING)
    items: list[ViolationRecord]
    next_cursor: str | None = Field(description=CURSOR)


class ViolationAnswer(Answer):
    marking: str = Field(description=MARKING)
    item: ViolationRecord
    trail: list[StatusChangeRecord]


class StatusChanged(Answer):
    violation_id: ViolationToken
    status: str = Field(description="the status now")
    statuses: list[str] = Field(description="the decisions one may send")
    trail: list[StatusChangeRecord]


class ReviewQueuePage(Answer):
    marking: str = Field(description=MARKING)
    items: list[ReviewItem]
    next_cursor: str | None = Field(description=CURSOR)


class RegisterPage(Answer):
    """Weapons systems (or, with ``storage=true``, storage sites, all on one page)."""

    marking: str = Field(description=MARKING)
    items: list[RegisterEntryRecord] | list[StorageSiteRecord]
    next_cursor: str | None = Field(description=CURSOR)


# -- documents -------------------------------------------------------------------------------
class NamedTitle(BaseModel):
    name: str
    title: str


class NameList(Answer):
    items: list[NamedTitle]


class TermsDocument(Document):
    """A terms file's summary: sides, zones, clauses and sources (no geometry)."""

    name: str
    title: str
    version: str
    effective: int | None = Field(None, description="epoch seconds UTC")
    sides: list[dict[str, Any]] = Field(default_factory=list)
    zones: list[dict[str, Any]] = Field(default_factory=list)
    clauses: list[dict[str, Any]] = Field(default_factory=list)
    sources: list[dict[str, Any]] = Field(default_factory=list)


class ScenarioDocument(Document):
    """A shipped planning scenario, as its YAML file states it."""

    name: str | None = None
    title: str | None = None


class PeriodReportDocument(Document):
    """The period report of `truceguard report` as JSON (``report.period.PeriodReport``)."""

    terms: str
    terms_title: str
    period: str
    start: int
    end: int
    viewer: str
    marking: str = Field(description=MARKING)
    min_p: float
    total: dict[str, Any]
    observations: int
    violations: list[dict[str, Any]]


class PlanStarted(Answer):
    run_id: RunToken
    state: Literal["queued"]


class PlanRun(Answer):
    """A plan run's state; its results once done."""

    run_id: RunToken
    marking: str = Field(description=MARKING)
    state: str = Field(description="queued, running, done or failed")
    who: str
    request: dict[str, Any]
    error: str | None = Field(description="the error envelope as JSON text, when failed")
    results: dict[str, Any] | None = Field(description="the results document, when done")


class PlanRunItem(Answer):
    """A plan run as listed: who started it, when, on what, and its state."""

    run_id: RunToken
    marking: str = Field(description=MARKING)
    at: str = Field(description="when it was started (UTC)")
    who: str
    state: str = Field(description="queued, running, done or failed")
    request: dict[str, Any]


class PlanRunList(Answer):
    """The latest plan runs you may read (yours, and those whose inputs' marking you may
    see), newest first."""

    items: list[PlanRunItem]


# -- users, alerts ----------------------------------------------------------------------------
class UserList(Answer):
    items: list[UserRecord]


class UserCreated(Answer):
    user: UserRecord
    token: str = Field(description="the API token: in this answer only")


class UserAnswer(Answer):
    user: UserRecord


class AlertTargetList(Answer):
    items: list[AlertTargetRecord]


class AlertTargetAdded(Answer):
    target: AlertTargetRecord
    secret: str | None = Field(description="a webhook's signing secret: in this answer only")


class AlertTargetAnswer(Answer):
    target: AlertTargetRecord


# -- health ------------------------------------------------------------------------------------
class ServiceState(BaseModel):
    """One service of the server process (``server.service.ServiceHealth``)."""

    name: str
    state: Literal["starting", "running", "draining", "stopped", "failed"]
    detail: str = ""
    lag_s: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Health(Answer):
    """Liveness: ``ok`` while the process answers, ``degraded`` when a service failed."""

    status: Literal["ok", "degraded"]
    version: str
    schema_version: int
    services: list[ServiceState]


class Readiness(Answer):
    """Whether every service runs (200) or not (503)."""

    status: Literal["ready", "not_ready"]
    services: list[ServiceState]


__all__ = ["AlertTargetAdded", "AlertTargetAnswer", "AlertTargetList", "Answer", "AttachmentAdded",
           "AttachmentList", "Document", "ErrorBody", "ErrorEnvelope", "Health", "ImportAnswer",
           "IncidentAnswer", "IncidentPage", "NameList", "NamedTitle", "ObservationAnswer",
           "ObservationCount", "ObservationPage", "PeriodReportDocument", "PlanRun", "PlanRunItem",
           "PlanRunList", "PlanStarted",
           "Readiness", "RegisterPage", "ReviewQueuePage", "RowProblem", "ScenarioDocument",
           "ServiceState", "StatusChanged", "TermsDocument", "UserAnswer", "UserCreated",
           "UserList", "ViolationAnswer", "ViolationPage"]
