"""The request bodies the API takes, as Pydantic models: a field it does not name is refused
(``input.unknown_key``), a text over its bound is refused (``input.too_long``), before any
of it is stored or echoed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

MAX_TEXT = 2000  # a free-text field: a marking, a URL, a fingerprint
MAX_NAME = 64  # a name, a code, a status
MAX_SAMPLES = 200_000


class Body(BaseModel):
    """A request body: a JSON object of exactly the fields named."""

    model_config = ConfigDict(extra="forbid")


class StatusChangeBody(Body):
    """A decision on a violation, made as the authenticated analyst."""

    status: StrictStr = Field(max_length=MAX_NAME, description=(
        "under_review, verified, published (by a second analyst), returned or discounted"))
    why: StrictStr = Field("", description="the reason, kept in the trail (up to 2,000 "
                           "characters; required for returned and discounted)")


class NewUserBody(Body):
    """A user to create: of the creator's nation, in a role no higher than theirs, with a
    marking their own covers."""

    name: StrictStr = Field(max_length=MAX_NAME)
    nation: StrictStr = Field(max_length=MAX_NAME, description="ISO 3166-1 alpha-3")
    role: StrictStr = Field(max_length=MAX_NAME, description="observer, analyst or admin")
    marking: StrictStr | None = Field(None, max_length=MAX_TEXT, description=(
        "the user's ceiling (default: REL TO their nation)"))
    cert_fingerprint: StrictStr = Field("", max_length=MAX_TEXT, description=(
        "SHA-256 of the user's TLS client certificate (DER), hex"))


class NewAlertTargetBody(Body):
    """An alert target: a webhook URL or a TAK endpoint (``tcp://HOST:PORT``), receiving what
    the user ``as`` may see."""

    webhook: StrictStr | None = Field(None, max_length=MAX_TEXT)
    cot: StrictStr | None = Field(None, max_length=MAX_TEXT, description="tcp://HOST:PORT")
    as_: StrictStr = Field(alias="as", max_length=MAX_NAME,
                           description="the user whose releasability the alerts follow")
    name: StrictStr | None = Field(None, max_length=MAX_NAME)
    min_severity: StrictInt = Field(1, ge=1, le=5)
    terms: StrictStr = Field("", max_length=MAX_NAME, description="only these terms ('' any)")
    allow_private: StrictBool = Field(False, description=(
        "never granted over the API (403): a target inside the network is the database "
        "owner's choice (`truceguard alerts add --allow-private`)"))
    audience: StrictStr = Field("team", max_length=MAX_NAME, description=(
        "team: the mission's own duty officers, alerted on every new violation (each alert "
        "says it is not yet published); published: anyone beyond the team, alerted only when "
        "a second analyst publishes a violation, once"))


class PlanRequestBody(Body):
    """A plan run: a shipped scenario, its variants (default: all), samples and seed."""

    scenario: StrictStr = Field(max_length=MAX_NAME)
    variants: list[StrictStr] = Field(default_factory=list)
    samples: StrictInt = Field(5000, ge=100, le=MAX_SAMPLES)
    seed: StrictInt = Field(2025, ge=0, lt=2**32)
    sensitivity: StrictBool = False


__all__ = ["MAX_NAME", "MAX_SAMPLES", "MAX_TEXT", "Body", "NewAlertTargetBody",
           "NewUserBody", "PlanRequestBody", "StatusChangeBody"]
