"""What crosses a federation link: one JSON document per batch, parsed with bounds.

A batch (``POST /federation/v1/push``, over mutual TLS)::

    {"format": "truceguard-federation/1",
     "records": [{"origin": "gbr-mission", "id": "1234", "via": ["gbr-mission"],
                  "digest": "<sha256 of raw>", "marking": "REL TO FRA, GBR",
                  "observation": {"source": ..., "how_known": ..., "t_start": ..., ...}}],
     "withdrawals": [{"origin": "gbr-mission", "id": "1234"}]}

``origin`` is the server the record was first stored on and ``id`` its id there (together:
its identity everywhere); ``via`` the servers it passed through, its origin first and the
sender last. ``observation`` holds the observation's fields (``model.Observation``) but not
the local ones (file, line, ids); a parsed record's file is ``federation:<origin>``. The
answer says what became of each record::

    {"accepted": 10, "updated": 0, "duplicates": 2, "withdrawn": 1,
     "refused": [{"origin": ..., "id": ..., "code": ..., "message": ...}]}

Bounds: a body of at most ``MAX_BODY`` bytes, ``MAX_RECORDS`` records and ``MAX_WITHDRAWALS``
withdrawals; every text field is bounded, numbers are finite and in range, vocabularies are
the project's. A document that is not such a batch is refused whole (``FederationInputError``);
a record that is not a valid record is refused alone, named in the answer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, fields
from typing import Any

from truceguard.errors import InputError
from truceguard.marking import Marking, parse_marking
from truceguard.model import (
    CATEGORIES,
    HOW_KNOWN,
    REPORT_KINDS,
    WEAPON_CLASSES,
    MonitorReport,
    Observation,
    sha256_text,
)

FORMAT = "truceguard-federation/1"
PUSH_PATH = "/federation/v1/push"
MAX_BODY = 16 * 1024 * 1024
MAX_RECORDS = 2000
MAX_WITHDRAWALS = 20000
MAX_RAW = 64 * 1024
MAX_TEXT = 20000
MAX_SHORT = 200
MAX_ATTRIBUTES = 16 * 1024
MAX_VIA = 16
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RECORD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REPORT_FIELDS = {f.name for f in fields(MonitorReport)}
_TIME_MAX = 2**40


class FederationInputError(InputError):
    """A federation request that is not a valid batch (refused whole)."""


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One record as received: its identity and chain, digest, marking and observation."""

    origin: str
    original_id: str
    via: tuple[str, ...]
    digest: str
    marking: Marking
    observation: Observation


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record refused on its own: its identity as far as it could be read, and why."""

    origin: str
    original_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Batch:
    records: tuple[WireRecord, ...]
    bad: tuple[BadRecord, ...]
    withdrawals: tuple[tuple[str, str], ...]


# -- encoding -----------------------------------------------------------------------------------
def observation_fields(obs: Observation) -> dict[str, Any]:
    """The fields of ``obs`` that travel (not its local file, line and ids)."""
    report = None
    if obs.report is not None:
        report = {f: getattr(obs.report, f) for f in sorted(_REPORT_FIELDS)
                  if getattr(obs.report, f) is not None}
    return {"source": obs.source, "how_known": obs.how_known, "t_start": obs.t_start,
            "t_end": obs.t_end, "time_precision_s": obs.time_precision_s, "lat": obs.lat,
            "lon": obs.lon, "uncertainty_m": obs.uncertainty_m, "category": obs.category,
            "weapon_class": obs.weapon_class, "count": obs.count, "text": obs.text,
            "origin": obs.origin, "source_ref": obs.source_ref, "raw": obs.raw,
            "raw_sha256": obs.raw_sha256, "attributes": obs.attributes, "report": report}


def record_document(origin: str, original_id: str, via: tuple[str, ...], marking: Marking,
                    obs: Observation) -> dict[str, Any]:
    return {"origin": origin, "id": original_id, "via": list(via), "digest": obs.raw_sha256,
            "marking": marking.text, "observation": observation_fields(obs)}


def batch_body(records: list[dict[str, Any]], withdrawals: list[tuple[str, str]]) -> bytes:
    doc = {"format": FORMAT, "records": records,
           "withdrawals": [{"origin": o, "id": i} for o, i in withdrawals]}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- decoding -----------------------------------------------------------------------------------
def parse_batch(body: bytes) -> Batch:
    """The batch in ``body``; FederationInputError when it is not one (see the module
    docstring), with each bad record refused alone."""
    if len(body) > MAX_BODY:
        raise FederationInputError(f"a batch of {len(body)} bytes is over {MAX_BODY}",
                                   hint="send smaller batches", code="input.too_large")
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FederationInputError(f"the batch is not UTF-8 JSON: {str(exc)[:120]}",
                                   hint=f"send a {FORMAT} document",
                                   code="federation.bad_batch") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FederationInputError(f"the document is not a {FORMAT} batch",
                                   hint="check the partner's truceguard version",
                                   code="federation.bad_batch")
    records = doc.get("records", [])
    withdrawals = doc.get("withdrawals", [])
    if not isinstance(records, list) or not isinstance(withdrawals, list):
        raise FederationInputError("records and withdrawals must be lists",
                                   code="federation.bad_batch")
    if len(records) > MAX_RECORDS or len(withdrawals) > MAX_WITHDRAWALS:
        raise FederationInputError(
            f"{len(records)} records and {len(withdrawals)} withdrawals are over the bounds "
            f"({MAX_RECORDS}, {MAX_WITHDRAWALS})", hint="send smaller batches",
            code="input.too_large")
    good: list[WireRecord] = []
    bad: list[BadRecord] = []
    for item in records:
        try:
            good.append(_record(item))
        except InputError as exc:
            origin, oid = _identity(item)
            bad.append(BadRecord(origin, oid, exc.code, str(exc)[:300]))
    out: list[tuple[str, str]] = []
    for w in withdrawals:
        if not isinstance(w, dict):
            raise FederationInputError("a withdrawal is not an object",
                                       code="federation.bad_batch")
        out.append((_name(w.get("origin"), "origin"), _id(w.get("id"))))
    return Batch(tuple(good), tuple(bad), tuple(out))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _identity(item: Any) -> tuple[str, str]:
    if isinstance(item, dict):
        o, i = item.get("origin"), item.get("id")
        return (o[:64] if isinstance(o, str) else "?", i[:64] if isinstance(i, str) else "?")
    return "?", "?"


def _bad(message: str, code: str = "federation.bad_record") -> InputError:
    return InputError(message, hint="the partner sent a record truceguard cannot store",
                      code=code)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise _bad(f"{what} {str(value)[:80]!r} is not a server name")
    return value


def _id(value: Any) -> str:
    if not isinstance(value, str) or not RECORD_ID.match(value):
        raise _bad(f"record id {str(value)[:80]!r} is not an id")
    return value


def _record(item: Any) -> WireRecord:
    if not isinstance(item, dict):
        raise _bad("a record is not an object")
    origin = _name(item.get("origin"), "origin")
    oid = _id(item.get("id"))
    via = item.get("via")
    if not isinstance(via, list) or not 1 <= len(via) <= MAX_VIA:
        raise _bad(f"record {origin}#{oid}: via must list 1 to {MAX_VIA} servers")
    chain = tuple(_name(v, "server") for v in via)
    marking_text = item.get("marking")
    if not isinstance(marking_text, str) or len(marking_text) > MAX_SHORT:
        raise _bad(f"record {origin}#{oid}: no marking")
    marking = parse_marking(marking_text, legacy=False)  # MarkingError: an InputError
    obs = _observation(item.get("observation"), f"{origin}#{oid}")
    obs.source_file = f"federation:{origin}"
    digest = item.get("digest")
    if digest != obs.raw_sha256:
        raise _bad(f"record {origin}#{oid}: digest {str(digest)[:70]!r} is not the record's",
                   code="federation.bad_digest")
    return WireRecord(origin, oid, chain, obs.raw_sha256, marking, obs)


def _text(d: dict[str, Any], key: str, limit: int, label: str) -> str:
    v = d.get(key, "")
    if not isinstance(v, str) or len(v) > limit:
        raise _bad(f"record {label}: {key} must be text of at most {limit} characters")
    return v


def _int(d: dict[str, Any], key: str, lo: int, hi: int, label: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(f"record {label}: {key} {str(v)[:40]} is not a whole number in [{lo}, {hi}]")
    return v


def _float(d: dict[str, Any], key: str, lo: float, hi: float, label: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise _bad(f"record {label}: {key} {str(v)[:40]} is not a number in [{lo}, {hi}]")
    return float(v)


def _choice(d: dict[str, Any], key: str, allowed: tuple[str, ...], label: str) -> str:
    v = d.get(key)
    if v not in allowed:
        raise _bad(f"record {label}: {key} {str(v)[:40]!r} is not one of the vocabulary")
    return str(v)


def _observation(d: Any, label: str) -> Observation:
    if not isinstance(d, dict):
        raise _bad(f"record {label}: no observation")
    raw = _text(d, "raw", MAX_RAW, label)
    digest = d.get("raw_sha256")
    if not isinstance(digest, str) or not HEX64.match(digest) or digest != sha256_text(raw):
        raise _bad(f"record {label}: raw_sha256 is not the digest of its raw record",
                   code="federation.bad_digest")
    t_start = _int(d, "t_start", 0, _TIME_MAX, label)
    t_end = _int(d, "t_end", t_start, _TIME_MAX, label)
    unc = d.get("uncertainty_m")
    attributes = d.get("attributes", {})
    if not isinstance(attributes, dict) or (
            attributes and len(json.dumps(attributes)) > MAX_ATTRIBUTES):
        raise _bad(f"record {label}: attributes must be an object of at most "
                   f"{MAX_ATTRIBUTES} bytes")
    return Observation(
        source=_text(d, "source", MAX_SHORT, label), how_known=_choice(d, "how_known",
                                                                       HOW_KNOWN, label),
        t_start=t_start, t_end=t_end,
        time_precision_s=_int(d, "time_precision_s", 0, _TIME_MAX, label),
        lat=_float(d, "lat", -90, 90, label), lon=_float(d, "lon", -180, 180, label),
        uncertainty_m=None if unc is None else _float(d, "uncertainty_m", 0, 2e7, label),
        category=_choice(d, "category", CATEGORIES, label),
        weapon_class=_choice(d, "weapon_class", WEAPON_CLASSES, label),
        count=_int(d, "count", 0, 1_000_000, label), text=_text(d, "text", MAX_TEXT, label),
        origin=_text(d, "origin", MAX_SHORT, label),
        source_ref=_text(d, "source_ref", MAX_SHORT, label), raw=raw, raw_sha256=digest,
        attributes=attributes, report=_report(d.get("report"), label))


def _report(d: Any, label: str) -> MonitorReport | None:
    if d is None:
        return None
    if not isinstance(d, dict) or not set(d) <= _REPORT_FIELDS or d.get("kind") not in \
            REPORT_KINDS:
        raise _bad(f"record {label}: report is not a monitor's report")
    for k, v in d.items():
        ok = v is None or (isinstance(v, str) and len(v) <= MAX_SHORT) or (
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
        if not ok:
            raise _bad(f"record {label}: report field {k} is not a short text or a number")
    return MonitorReport(**d)


def answer_body(answer: dict[str, Any]) -> bytes:
    return json.dumps(answer, separators=(",", ":")).encode("utf-8")


__all__ = ["FORMAT", "MAX_BODY", "PUSH_PATH", "BadRecord", "Batch", "FederationInputError",
           "WireRecord", "batch_body", "parse_batch", "record_document"]
