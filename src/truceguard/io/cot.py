"""Cursor on Target (CoT) XML: a stream of ``<event>`` documents as TAK devices write them.

A file (or a TCP stream) is events back to back, each may be preceded by ``<?xml ...?>``, with
whitespace between. ``split_events`` reads it in bounded binary chunks and splits right after each
``</event>``. An event longer than
``max_record_bytes`` (``COT_MAX_EVENT_BYTES``, 64 KiB, the limit TAK clients live with) is a
RowError and skipped to the next ``</event>`` without its bytes being held; bytes after the last
``</event>`` are a RowError "incomplete event"; so is an event that another event begins inside
(a stream cut mid-event and resumed): reading resynchronises at the new event's ``<?xml`` or
``<event``, which lands whole. Each event is parsed with defusedxml with
document type declarations forbidden: a billion-laughs payload or an external entity is a
RowError saying entity declarations are refused, never an expansion or a file read. Real CoT
has no DTD. (A literal ``</event>``, or ``<event`` with a space or ``>`` after it, inside a CDATA
section splits the event there, as ``</event>`` does in TAK's own stream readers; both halves
are then RowErrors.)

Mapping, one event -> one Observation:

- ``source_ref`` = ``f"{uid}@{time}"`` (the same event re-sent is stored once; a later report of
  the same uid is a new observation); ``source`` = ``f"cot:{callsign or uid}"``; ``origin`` = the
  device that placed the event: a ``link`` with ``relation="p-p"`` (the parent of a marker a user
  dropped) names it, else the event's own callsign or uid.
- ``t_start`` = ``t_end`` = ``time``, the moment the device reported it (to the second).
  ``start`` and ``stale`` say how long a map symbol stays valid, not when the thing was seen, so
  they are kept in attributes rather than widening the time window.
- ``point`` lat/lon (range-checked); ``ce`` -> ``uncertainty_m`` (9999999 = unknown -> None);
  ``hae`` / ``le`` kept in attributes when known.
- ``how`` -> ``HOW_KNOWN``: ``h-*`` (a person entered or estimated it) -> "seen"; ``m-r``
  (relayed from another system: not seen by this network, a report until corroborated) ->
  "party_report"; other ``m-*`` (GPS, fused, sensor) -> "sensor"; ``m-s`` (simulated) ->
  "sensor" with ``attributes["simulated"] = True``; absent or other -> "sensor".
- ``type`` -> category and weapon class by the first matching rule of ``TYPE_RULES`` (patterns
  over the CoT type; ``?`` stands for a hostile, suspect, unknown, pending, joker or faker
  affiliation); friendly, assumed-friend and neutral atoms are tracks. ``t-x-*`` control messages
  (pings) are not observations: RowError.
- ``detail/truceguard@category/weapon_class/count`` (a point an observer dropped, say
  ``b-m-p-s-m``, saying what was seen) overrides what the type implies; values outside the
  vocabularies of ``truceguard.model`` are a RowError. The same child carries a monitor's
  report as attributes named as ``io.reports.REPORT_FIELDS`` (``kind="fire"
  direction="outgoing" bearing_deg="135" bearing_err_deg="11.25" distance_min_km="3"
  distance_max_km="5" observer_lat=".." observer_lon=".." weapon_type="2A65"``), under that
  module's rules; a weapon type decides the weapon class unless the child names one (then they
  must agree).
- ``detail/remarks`` -> ``text``; ``contact@callsign``, ``__group@name/role``, ``track``,
  ``link``, ``takv`` and ``precisionlocation`` go into attributes.
- ``access`` -> ``releasability`` when it is a marking (``PUBLIC``, ``REL TO GBR, FRA``, the
  older ``REL UK FR``), narrowed by the ``releasability`` option, the import's ceiling: an event
  is never released wider than the import says; absent, ``Undefined`` or ``Unclassified`` ->
  the option's marking; any other value is a RowError (a marking that cannot be read is never
  widened to the default).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from truceguard.errors import FormatError, RowError
from truceguard.io.base import Input, decode_line, open_input, parse_lat_lon, sha256_hex
from truceguard.io.registry import ReaderSpec, checked_options, starts_or_suffix
from truceguard.io.reports import REPORT_FIELDS, parse_report, weapon_class_for
from truceguard.io.timeparse import parse_time
from truceguard.io.values import FieldError, MarkingCeiling
from truceguard.model import CATEGORIES, WEAPON_CLASSES, MonitorReport, Observation

COT_MAX_EVENT_BYTES = 64 << 10
CHUNK_BYTES = 1 << 16
CE_UNKNOWN = 9_999_999.0
_END = b"</event>"
_EVENT_TAG = re.compile(rb"<event[ \t\r\n>/]")
_LOOK_BACK = 1024  # bytes kept when dropping a skipped event: a tag or declaration cut by a read
_NONWS = re.compile(rb"[^ \t\r\n]")
_BOM = b"\xef\xbb\xbf"
_HEAD = 256  # bytes of a refused event kept for its RowError

_THREAT = "[hsujkpx]"  # affiliations that are not friendly/neutral (x: exercise unknown)
# (pattern over the CoT type, category, weapon class): the first match wins.
TYPE_RULES: tuple[tuple[str, str, str], ...] = (
    (r"t-x-", "", ""),  # control messages: refused
    (rf"a-{_THREAT}-A-M-F-Q", "drone", "uav"),
    (rf"a-{_THREAT}-A-W", "missile", "unknown"),
    (rf"a-{_THREAT}-A-[MC]-H", "flight", "helicopter"),
    (rf"a-{_THREAT}-A-[MC]-F", "flight", "aircraft"),
    (rf"a-{_THREAT}-A", "flight", "unknown"),
    (rf"a-{_THREAT}-G-U-C-F-R", "weapon_presence", "mlrs"),
    (rf"a-{_THREAT}-G-U-C-F-M", "weapon_presence", "mortar_lt120"),
    (rf"a-{_THREAT}-G-U-C-F", "weapon_presence", "artillery_ge100"),
    (rf"a-{_THREAT}-G-U-C-A", "weapon_presence", "tank"),
    (rf"a-{_THREAT}-G-E-V-A-T", "weapon_presence", "tank"),
    (rf"a-{_THREAT}-G-E-W-R", "weapon_presence", "mlrs"),
    (rf"a-{_THREAT}-G-E-W-O", "weapon_presence", "mortar_lt120"),
    (rf"a-{_THREAT}-G-E-W-H", "weapon_presence", "artillery_ge100"),
    (rf"a-{_THREAT}-G-E-W-M", "weapon_presence", "tactical_missile"),
    (rf"a-{_THREAT}-[GSUF]", "movement", "unknown"),
    (r"a-[fan]-", "track", "unknown"),
    (r"b-d", "detection", "unknown"),
    (r"b-l", "other", "unknown"),  # alarms
    (r"", "other", "unknown"),  # map points, drawings, images, chat, anything else
)
_TYPE_RES = tuple((re.compile(p), c, w) for p, c, w in TYPE_RULES)
_NO_MARKING = frozenset({"", "undefined", "unclassified"})


@lru_cache(maxsize=4096)
def classify_type(cot_type: str) -> tuple[str, str]:
    """(category, weapon class) of a CoT type; ('', '') for a control message (memoised: a
    stream repeats a handful of types)."""
    for pattern, category, weapon in _TYPE_RES:
        if pattern.match(cot_type):
            return category, weapon
    return "other", "unknown"


def how_known_of(how: str) -> str:
    if how.startswith("h-") or how == "h":
        return "seen"
    if how == "m-r" or how.startswith("m-r-"):
        return "party_report"
    return "sensor"


@dataclass(slots=True)
class Piece:
    """One record cut from a CoT stream: an event's bytes, or why it was refused."""

    line: int  # the line its first non-blank byte is on
    data: bytes  # the event (or, when refused, its first bytes)
    size: int
    refused: str = ""  # '' for a complete event within the bound


def _begin(buf: bytearray, tag: int, lo: int) -> int:
    """Where the event whose ``<event`` tag is at ``tag`` begins: at its prolog (an
    ``<?xml ...?>`` declaration, a ``<!DOCTYPE ...>``) when one comes before it, after ``lo``
    and after any other event's tag; else at the tag."""
    begin = tag
    for marker in (b"<!DOCTYPE", b"<?xml"):
        at = buf.rfind(marker, lo, begin)
        if at >= 0 and _EVENT_TAG.search(buf, at, tag) is None:
            begin = at
    return begin


def _next_start(buf: bytearray, after: int, lo: int) -> int:
    """The beginning of the first event that begins after offset ``after`` (-1 if none)."""
    for m in _EVENT_TAG.finditer(buf, after + 1):
        begin = _begin(buf, m.start(), lo)
        if begin > after:
            return begin
    return -1


def split_events(
    fh: BinaryIO, max_event_bytes: int = COT_MAX_EVENT_BYTES, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Piece]:
    """Cut a binary stream into events right after each ``</event>``, in bounded memory.

    An event that a new event begins inside (a stream cut mid-event, then resumed) ends where
    the new one begins: it is a Piece refused as "incomplete" (or "oversize"), and the new
    event is read whole. The buffer never holds more than ``max_event_bytes + chunk_bytes``
    (plus ``_LOOK_BACK`` bytes while an oversize event is skipped).
    """
    buf = bytearray()
    pos = 0  # start of the bytes not yet handed out
    line = 1  # the line number at ``pos``
    skipping = False  # inside an oversize event whose start is no longer held
    skip = Piece(0, b"", 0, "oversize")  # that event: its line, first bytes, bytes dropped
    first = True
    eof = False
    while True:
        if not skipping:
            m = _NONWS.search(buf, pos)
            cur = m.start() if m else len(buf)
            line += buf.count(b"\n", pos, cur)
            pos = cur
        end_at = buf.find(_END, pos)
        new = _next_start(buf, pos if not skipping else pos - 1, pos) if pos < len(buf) else -1
        if new >= 0 and (end_at < 0 or new < end_at + len(_END)):
            cut, refused = new, "incomplete"  # another event begins before this one ends
        elif end_at >= 0:
            cut, refused = end_at + len(_END), ""
        elif eof:
            if skipping or pos < len(buf):
                yield _piece_of(buf, pos, len(buf), line, max_event_bytes,
                                skip if skipping else None, "incomplete")
            return
        else:
            cut = -1
        if cut >= 0:
            piece = _piece_of(buf, pos, cut, line, max_event_bytes, skip if skipping else None,
                              refused)
            line += buf.count(b"\n", pos, cut)
            pos, skipping = cut, False
            yield piece
            continue
        # Neither the end of this event nor the start of another: bound, drop, read more.
        if not skipping and len(buf) - pos > max_event_bytes:
            skipping = True
            skip = Piece(line, bytes(buf[pos : pos + _HEAD]), 0, "oversize")
            drop_to = pos + 1  # its own <event tag is not a new event
        else:
            drop_to = pos
        if skipping:
            drop_to = max(drop_to, len(buf) - _LOOK_BACK)
            line += buf.count(b"\n", pos, drop_to)
            skip.size += drop_to - pos
            pos = drop_to
        del buf[:pos]
        pos = 0
        data = fh.read(chunk_bytes)
        if not data:
            eof = True
            continue
        if first:
            first = False
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        buf += data


def _piece_of(buf: bytearray, start: int, end: int, line: int, max_bytes: int,
              skipped: Piece | None, refused: str) -> Piece:
    """The Piece of ``buf[start:end]``, or the rest of the oversize event ``skipped``."""
    if skipped is not None:
        return Piece(skipped.line, skipped.data, skipped.size + end - start,
                     refused or "oversize")
    size = end - start
    if refused or size > max_bytes:  # an unfinished event is that, whatever its size
        return Piece(line, bytes(buf[start : min(end, start + _HEAD)]), size,
                     refused or "oversize")
    return Piece(line, bytes(buf[start:end]), size)
def _float(text: str | None, field: str, path: str, line: int, raw: str) -> float | None:
    """A number attribute; None when absent, unknown (9999999) or not finite."""
    if text is None or not text.strip():
        return None
    t = text.strip()
    try:
        if "_" in t or not t.isascii():
            raise ValueError(t)
        x = float(t)
    except ValueError:
        raise RowError(path, line, field, f"not a number: {text[:40]!r}", raw) from None
    if not math.isfinite(x) or x >= CE_UNKNOWN:
        return None
    return x + 0.0


@lru_cache(maxsize=64)
def _ceiling(marking: str) -> MarkingCeiling:
    return MarkingCeiling(marking)


def parse_cot_event(
    data: bytes,
    *,
    releasability: str = "PUBLIC",
    encoding: str = "auto",
    max_event_bytes: int = COT_MAX_EVENT_BYTES,
    source_file: str = "<cot>",
    source_line: int = 1,
) -> Observation:
    """The Observation of one CoT event (bytes as received); raises RowError when it is bad.

    ``releasability`` is the ceiling of the event's own ``access`` marking (the module
    docstring). ``source_file`` / ``source_line`` say where the event came from (a file and
    line, or a peer address for a listener) and go into the Observation and any RowError.
    """
    return _parse(data, _ceiling(releasability), encoding, None, max_event_bytes, source_file,
                  source_line)


def _parse(data: bytes, ceiling: MarkingCeiling, encoding: str, label: str | None,
           max_event_bytes: int, path: str, line: int) -> Observation:
    m = _NONWS.search(data)
    if m is None:
        raise RowError(path, line, "event", "empty")
    if m.start():
        line += data.count(b"\n", 0, m.start())
        data = data[m.start() :]
    if len(data) > max_event_bytes:
        head = data[:_HEAD].decode("utf-8", "replace")
        raise RowError(
            path, line, "event", f"{len(data):,} bytes, over the limit of {max_event_bytes:,}", head
        )
    raw, err = decode_line(data, encoding, label)
    if err:
        raise RowError(path, line, "event", err, raw)
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden) as exc:
        raise RowError(
            path,
            line,
            "event",
            f"entity declarations are refused (found {type(exc).__name__}: CoT has no DTD)",
            raw,
        ) from None
    except ExternalReferenceForbidden:
        raise RowError(
            path, line, "event", "entity declarations are refused (external reference)", raw
        ) from None
    except ParseError as exc:
        at_line, col = exc.position
        raise RowError(
            path, line + at_line - 1, "event", f"not well-formed XML: {exc.msg} (column {col})", raw
        ) from None
    return _observation(root, raw, path, line, ceiling)


def _observation(root: Element, raw: str, path: str, line: int, ceiling: MarkingCeiling
                 ) -> Observation:
    def bad(field: str, reason: str) -> RowError:
        return RowError(path, line, field, reason, raw)

    if root.tag != "event":
        raise bad("event", f"the root element is <{root.tag[:40]}>, not <event>")
    uid = (root.get("uid") or "").strip()
    if not uid:
        raise bad("uid", "missing")
    cot_type = (root.get("type") or "").strip()
    if not cot_type:
        raise bad("type", "missing")
    category, weapon = classify_type(cot_type)
    if not category:
        raise bad("type", f"{cot_type[:40]} is a TAK control message, not an observation")
    time_s = (root.get("time") or "").strip()
    if not time_s:
        raise bad("time", "missing")
    try:
        t, precision = parse_time(time_s)
    except ValueError as exc:
        raise bad("time", str(exc)) from None
    attrs: dict[str, object] = {"type": cot_type}
    for key in ("start", "stale"):
        value = (root.get(key) or "").strip()
        if value:
            try:
                parse_time(value)
            except ValueError as exc:
                raise bad(key, str(exc)) from None
            attrs[key] = value
    how = (root.get("how") or "").strip()
    if how:
        attrs["how"] = how
    if how == "m-s":
        attrs["simulated"] = True
    for key in ("version", "qos", "opex"):
        if root.get(key):
            attrs[key] = root.get(key)
    access = (root.get("access") or "").strip()
    if access.lower() in _NO_MARKING:
        marking = ceiling.text
    else:
        try:
            marking = ceiling.apply(access, "access")
        except FieldError as exc:
            raise bad(exc.field, exc.reason) from None
        attrs["access"] = access
    point = root.find("point")
    if point is None:
        raise bad("point", "missing (an event needs <point lat=... lon=...>)")
    lat, lon, which, why = parse_lat_lon(point.get("lat", ""), point.get("lon", ""))
    if which:
        raise bad("point." + ("lat" if which == "latitude" else "lon"), why)
    ce = _float(point.get("ce"), "point.ce", path, line, raw)
    if ce is not None and ce < 0:
        raise bad("point.ce", f"{ce} is negative")
    for key in ("hae", "le"):
        metres = _float(point.get(key), f"point.{key}", path, line, raw)
        if metres is not None:
            attrs[f"{key}_m"] = metres
    detail = root.find("detail")
    text, callsign, parent = _detail(detail, attrs)
    count, report = 1, None
    if detail is not None and (own := detail.find("truceguard")) is not None:
        category, weapon, count = _truceguard_child(own, category, weapon, bad)
        report, weapon = _report(own, weapon, lat, lon, bad)
    return Observation(
        source=f"cot:{callsign or uid}",
        how_known=how_known_of(how),
        t_start=t,
        t_end=t,
        time_precision_s=precision,
        lat=lat,
        lon=lon,
        uncertainty_m=ce,
        category=category,
        weapon_class=weapon,
        count=count,
        text=text,
        origin=parent or callsign or uid,
        source_ref=f"{uid}@{time_s}",
        releasability=marking,
        raw=raw,
        raw_sha256=sha256_hex(raw),
        source_file=path,
        source_line=line,
        attributes=attrs,
        report=report,
    )


def _report(own: Element, weapon: str, lat: float, lon: float,
            bad: Callable[[str, str], RowError]) -> tuple[MonitorReport | None, str]:
    """(the monitor's report of ``<truceguard kind=.. direction=.. bearing_deg=.. .../>``,
    the weapon class after its weapon type): the type decides the class unless the child
    names a class of its own (then the two must agree)."""
    def name(field: str) -> str:
        return f"detail.truceguard.{field}"

    try:
        report = parse_report({f: own.get(f) for f in REPORT_FIELDS}, lat, lon, name)
        said = (own.get("weapon_class") or "").strip() or None
        return report, weapon_class_for(said, report) or weapon
    except FieldError as exc:
        raise bad(exc.field if exc.field.startswith("detail.") else name(exc.field),
                  exc.reason) from None


def _truceguard_child(own: Element, category: str, weapon: str,
                      bad: Callable[[str, str], RowError]) -> tuple[str, str, int]:
    """(category, weapon class, count) after ``<truceguard category=.. weapon_class=..
    count=../>``: what the observer says was seen, over what the CoT type implies. Each
    attribute is optional; a value outside the project's vocabulary is a RowError."""
    said = {"category": category, "weapon_class": weapon}
    for key, words in (("category", CATEGORIES), ("weapon_class", WEAPON_CLASSES)):
        got = (own.get(key) or "").strip()
        if got and got not in words:
            raise bad(f"detail.truceguard.{key}",
                      f"{got[:40]!r} is not a {key.replace('_', ' ')} ({', '.join(words)})")
        said[key] = got or said[key]
    category, weapon = said["category"], said["weapon_class"]
    got = (own.get("count") or "").strip()
    count = 1
    if got:
        if not got.isdigit() or not 1 <= int(got) <= 1_000_000:
            raise bad("detail.truceguard.count", f"{got[:40]!r} is not a count from 1 up")
        count = int(got)
    return category, weapon, count


def observation_from_element(root: Element, raw: str, *, releasability: str = "PUBLIC",
                             source_file: str = "<cot>", source_line: int = 1) -> Observation:
    """The Observation of an ``<event>`` element already parsed from ``raw`` (a listener that
    parsed it with entity declarations refused); the same mapping as ``parse_cot_event``:
    ``releasability`` is the ceiling, the event's ``access`` can only narrow it."""
    return _observation(root, raw, source_file, source_line, _ceiling(releasability))



def _detail(detail: Element | None, attrs: dict[str, object]) -> tuple[str, str, str]:
    """(remarks text, callsign, parent device) from ``<detail>``; the rest into ``attrs``."""
    if detail is None:
        return "", "", ""
    text = callsign = parent = ""
    remarks = detail.find("remarks")
    if remarks is not None:
        text = "".join(remarks.itertext()).strip()
    contact = detail.find("contact")
    if contact is not None:
        callsign = (contact.get("callsign") or "").strip()
        if callsign:
            attrs["callsign"] = callsign
    group = detail.find("__group")
    if group is not None:
        for key in ("name", "role"):
            if group.get(key):
                attrs[f"group_{key}"] = group.get(key)
    track = detail.find("track")
    if track is not None:
        for key in ("course", "speed"):
            if track.get(key):
                attrs[f"track_{key}"] = track.get(key)
    links = []
    for link in detail.findall("link"):
        entry = {
            k: v
            for k, v in link.attrib.items()
            if k in ("uid", "type", "relation", "parent_callsign")
        }
        links.append(entry)
        if link.get("relation") == "p-p" and not parent:
            parent = link.get("parent_callsign") or link.get("uid") or ""
    if links:
        attrs["links"] = links
    takv = detail.find("takv")
    if takv is not None:
        attrs["takv"] = dict(takv.attrib)
    precise = detail.find("precisionlocation")
    if precise is not None:
        attrs["precisionlocation"] = dict(precise.attrib)
    return text, callsign, parent


@checked_options("cot")
def read_cot(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = COT_MAX_EVENT_BYTES,
    releasability: str = "PUBLIC",
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad events) of a file of CoT events, in file order.

    Raises FormatError before yielding anything when the file is empty, or is one piece that
    does not begin with XML or holds no complete ``<event>``.
    """
    fname = str(path)
    ceiling = MarkingCeiling(releasability)
    src = open_input(path, encoding)
    with src.fh:
        pieces = split_events(src.fh, max_record_bytes)
        first = next(pieces, None)
        if first is None:
            raise FormatError(f"{fname}: the file is empty")
        second = next(pieces, None)
        if second is None and not first.data.startswith(b"<"):
            got = first.data[:20].decode("utf-8", "replace")
            raise FormatError(f"{fname}:{first.line}: not CoT XML (starts with {got!r})")
        if second is None and first.refused == "incomplete":
            raise FormatError(f"{fname}: no complete CoT <event>...</event> in the file")
        for piece in chain((first,), () if second is None else (second,), pieces):
            yield _piece(piece, fname, src, max_record_bytes, ceiling)


def _piece(
    piece: Piece, fname: str, src: Input, max_bytes: int, ceiling: MarkingCeiling
) -> Observation | RowError:
    head = piece.data.decode("utf-8", "replace")
    if piece.refused == "oversize":
        return RowError(
            fname,
            piece.line,
            "event",
            f"{piece.size:,} bytes, over the limit of {max_bytes:,} (skipped)",
            head,
        )
    if piece.refused == "incomplete":
        what = ("incomplete event" if piece.data.startswith(b"<")
                else "not a CoT event (text outside any event)")
        return RowError(
            fname,
            piece.line,
            "event",
            f"{what}: {piece.size:,} bytes that no </event> ends before the next event or "
            "the end of the file",
            head,
        )
    try:
        return _parse(piece.data, ceiling, src.encoding, src.label, max_bytes, fname,
                      piece.line)
    except RowError as err:
        return err


def sniff_cot(path: Path, head: bytes) -> int:
    """2 for a file that starts with XML, 1 for a ``.cot`` / ``.xml`` file."""
    return starts_or_suffix(path, head, "<", (".cot", ".xml"))


COT_READER = ReaderSpec(
    "cot",
    read_cot,
    sniff_cot,
    description="Cursor on Target (CoT) XML events, as TAK devices write them",
)
