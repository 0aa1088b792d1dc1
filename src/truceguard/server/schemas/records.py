"""The records the API answers with, as Pydantic models derived from the dataclasses of
``truceguard.model`` (and the register's), so that the schema follows the records: one field a
dataclass field, of the same type, except the times, which the API writes as ISO 8601 UTC text
(``io.records.record_dict``), and the ids of observations, violations, plan runs and alert
targets, which it writes as tokens (``server.ids``: ``obs_4q7xk2m9aw3bc``). Incident ids are
keyed digests already: numbers."""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from truceguard.audit import ChainCheck
from truceguard.judge.register import RegisterEntry, StorageSite
from truceguard.model import Incident, MonitorReport, Observation, StatusChange, User, Violation
from truceguard.server.ids import NOUN, PATTERN, Kind


def token(kind: Kind) -> Any:
    """What a ``kind``'s id field says in the schema: a string of the kind's pattern."""
    return Field(pattern=PATTERN[kind], description=(
        f"the {NOUN[kind]}'s id: opaque, stable, the same on every node"))


ObsToken = Annotated[str, token("observation")]
ViolationToken = Annotated[str, token("violation")]
RunToken = Annotated[str, token("plan")]
TargetToken = Annotated[str, token("alert_target")]
SystemToken = Annotated[str, Field(pattern="^sys_[a-z2-7]{13}$", description=(
    "the system's id: sys_ and the letters of its first sighting's id"))]


class Record(BaseModel):
    """A record as the API writes it."""

    model_config = ConfigDict(extra="ignore")


def _widen(tp: Any) -> Any:
    """``tp`` as the JSON carries it: tuples are lists."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        return list[args[0]] if args else list[Any]  # type: ignore[valid-type]
    return tp


def record_model(cls: type, *, times: tuple[str, ...] = (),
                 nested: dict[str, Any] | None = None,
                 ids: dict[str, Any] | None = None) -> type[Record]:
    """A model base of dataclass ``cls``: its fields and types, ``times`` as ISO text (``None``
    where the field may be missing), ``nested`` fields given their model, ``ids`` fields given
    their token type (and always present). Subclass it to name the model (the schema's name is
    the subclass's)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = _widen(hints[f.name])
        if f.name in times:
            optional = type(None) in typing.get_args(tp)
            tp = str | None if optional else str
        if nested and f.name in nested:
            tp = nested[f.name]
        default: Any = ...
        if ids and f.name in ids:
            tp = ids[f.name]
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        fields[f.name] = (tp, default)
    return create_model(f"{cls.__name__}Fields", __base__=Record, **fields)


class MonitorReportRecord(record_model(MonitorReport)):  # type: ignore[misc]
    """A monitor's report: kind (fire, sighting, restriction, harm, hazard) and its details."""


class ObservationRecord(record_model(  # type: ignore[misc]
        Observation, times=("t_start", "t_end"), nested={"report": MonitorReportRecord | None},
        ids={"obs_id": ObsToken})):
    """One observation, with its raw input verbatim; t_start and t_end as ISO 8601 UTC."""


class IncidentRecord(record_model(Incident, times=("t_start", "t_end"))):  # type: ignore[misc]
    """Observations fused into one event, as the viewer sees it."""


class ViolationRecord(record_model(  # type: ignore[misc]
        Violation, times=("t_start", "t_end"), ids={"violation_id": ViolationToken})):
    """An incident judged against the terms: clause, location probability, side, status."""


class StatusChangeRecord(record_model(StatusChange, times=("at",))):  # type: ignore[misc]
    """One decision of a violation's status trail: who, when, why; ``seq`` is its place in
    the trail, from 1."""


class UserRecord(record_model(User)):  # type: ignore[misc]
    """A user, without their token."""


class RegisterEntryRecord(record_model(  # type: ignore[misc]
        RegisterEntry, times=("first_seen", "last_seen"),
        ids={"system_id": SystemToken, "obs_ids": list[ObsToken]})):
    """One weapons system seen where the terms forbid it, re-sightings linked."""


class StorageSiteRecord(record_model(  # type: ignore[misc]
        StorageSite, times=("last_checked", "first_checked", "last_present"),
        ids={"obs_ids": list[ObsToken]})):
    """A storage site as its last check found it."""


class AuditCheckRecord(record_model(ChainCheck)):  # type: ignore[misc]
    """What checking the audit log's hash chain found (``ok``, and the first problem)."""


class ReviewItem(ViolationRecord):
    """A verified violation awaiting a second analyst, with who verified it."""

    verified_by: str
    verified_at: str
    verified_why: str


class AttachmentRecord(Record):
    """An evidence file's metadata (``attachments.attachment_dict``)."""

    sha256: str
    size: int
    media_type: str
    captured_at: str | None
    captured_offset: str | None
    capture_time_basis: str | None
    lat: float | None
    lon: float | None
    device: str | None
    added_at: str
    added_by: str
    obs_id: ObsToken
    linked_at: str
    linked_by: str


class AlertTargetRecord(Record):
    """An alert target as listed (``server.alerts.target_dict``): never its secret."""

    target_id: TargetToken
    name: str
    kind: str
    url: str
    min_severity: int
    terms: str
    user_id: int
    disabled: bool
    allow_private: bool
    audience: Literal["team", "published"]


__all__ = ["AlertTargetRecord", "ObsToken", "RunToken", "SystemToken", "TargetToken",
           "ViolationToken", "token", "AttachmentRecord", "AuditCheckRecord",
           "IncidentRecord", "MonitorReportRecord", "ObservationRecord", "Record",
           "RegisterEntryRecord", "ReviewItem", "StatusChangeRecord", "StorageSiteRecord",
           "UserRecord", "ViolationRecord", "record_model"]
