"""Cursor on Target (CoT) XML: a stream of ``<event>`` documents as TAK devices write them.

A file (or a TCP stream) is events back to back, each may be preceded by ``<?xml ...?>``, with
whitespace between. ``split_events`` reads it in bounded binary chunks and splits right after each
``</event>``, searching only bytes it has not searched before. An event longer than
``max_record_bytes`` (``COT_MAX_EVENT_BYTES``, 64 KiB, the limit TAK clients live with) is a
RowError and skipped to the next ``</event>`` without its bytes being held; bytes after the last
``</event>`` are a RowError "incomplete event". Each event is parsed with defusedxml with
document type declarations forbidden: a billion-laughs payload or an external entity is a
RowError saying entity declarations are refused, never an expansion or a file read. Real CoT
has no DTD. (A literal ``</event>`` inside a CDATA section splits the event there, as it does in
TAK's own stream readers; both halves are then RowErrors.)

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
  vocabularies of ``truceguard.model`` are a RowError.
- ``detail/remarks`` -> ``text``; ``contact@callsign``, ``__group@name/role``, ``track``,
  ``link``, ``takv`` and ``precisionlocation`` go into attributes.
- ``access`` -> ``releasability`` when it is a marking (``PUBLIC``, ``REL UK FR``); absent,
  ``Undefined`` or ``Unclassified`` -> the ``releasability`` option; any other value is a RowError
  (a marking that cannot be read is never widened to the default).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from truceguard.errors import FormatError, MarkingError, RowError
from truceguard.io.base import decode_line, parse_lat_lon, sha256_hex
from truceguard.io.timeparse import parse_time
from truceguard.model import CATEGORIES, WEAPON_CLASSES, Observation, normalise_releasability

COT_MAX_EVENT_BYTES = 64 << 10
CHUNK_BYTES = 1 << 16
CE_UNKNOWN = 9_999_999.0
_END = b"</event>"
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


def split_events(
    fh: BinaryIO, max_event_bytes: int = COT_MAX_EVENT_BYTES, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Piece]:
    """Cut a binary stream into events right after each ``</event>``, in bounded memory.

    The buffer never holds more than ``max_event_bytes + chunk_bytes``; each byte is searched
    for ``</event>`` once (plus the 7 bytes a tag may straddle between chunks).
    """
    buf = bytearray()
    pos = 0  # start of the bytes not yet handed out
    line = 1  # the line number at ``pos``
    scan = 0  # where the search for </event> resumes
    skipping = False  # inside an oversize event
    skip_line = skip_size = 0
    skip_head = b""
    first = True
    keep = len(_END) - 1
    while True:
        idx = buf.find(_END, scan)
        if idx >= 0:
            end = idx + len(_END)
            if skipping:
                line += buf.count(b"\n", pos, end)
                skip_size += end - pos
                pos = scan = end
                skipping = False
                yield Piece(skip_line, skip_head, skip_size, "oversize")
                continue
            m = _NONWS.search(buf, pos, end)
            start = m.start() if m else pos
            line += buf.count(b"\n", pos, start)
            event_line = line
            line += buf.count(b"\n", start, end)
            pos = scan = end
            size = end - start
            if size > max_event_bytes:
                yield Piece(event_line, bytes(buf[start : start + _HEAD]), size, "oversize")
            else:
                yield Piece(event_line, bytes(buf[start:end]), size)
            continue
        # No </event> in the buffer: drop what is known, check the bound, read more.
        if skipping:
            cut = max(pos, len(buf) - keep)
            line += buf.count(b"\n", pos, cut)
            skip_size += cut - pos
            pos = cut
        else:
            m = _NONWS.search(buf, pos)
            start = m.start() if m else len(buf)
            line += buf.count(b"\n", pos, start)
            pos = start
            if len(buf) - pos > max_event_bytes:
                skipping = True
                skip_line, skip_head, skip_size = line, bytes(buf[pos : pos + _HEAD]), 0
                continue
        del buf[:pos]
        pos = 0
        scan = max(0, len(buf) - keep)
        data = fh.read(chunk_bytes)
        if not data:
            break
        if first:
            first = False
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        buf += data
    if skipping:
        yield Piece(skip_line, skip_head, skip_size + len(buf) - pos, "incomplete")
        return
    m = _NONWS.search(buf, pos)
    if m:
        line += buf.count(b"\n", pos, m.start())
        rest = bytes(buf[m.start() :])
        yield Piece(line, rest[:_HEAD], len(rest), "incomplete")


def _float(text: str | None, field: str, path: str, line: int, raw: str) -> float | None:
    """A number attribute; None when absent, unknown (9999999) or not finite."""
    if text is None or not text.strip():
        return None
    try:
        x = float(text)
    except ValueError:
        raise RowError(path, line, field, f"not a number: {text[:40]!r}", raw) from None
    if not math.isfinite(x) or x >= CE_UNKNOWN:
        return None
    return x


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

    ``source_file`` / ``source_line`` say where the event came from (a file and line, or a peer
    address for a listener) and go into the Observation and any RowError.
    """
    path, line = source_file, source_line
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
    raw, err = decode_line(data, encoding)
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
    return _observation(root, raw, path, line, releasability)


def _observation(root: Element, raw: str, path: str, line: int, releasability: str) -> Observation:
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
        marking = releasability
    else:
        try:
            marking = normalise_releasability(access)
        except (ValueError, MarkingError) as exc:
            raise bad("access", str(exc)) from None
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
    count = 1
    if detail is not None and (own := detail.find("truceguard")) is not None:
        category, weapon, count = _truceguard_child(own, category, weapon, bad)
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
    )


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
    parsed it with entity declarations refused); the same mapping as ``parse_cot_event``."""
    return _observation(root, raw, source_file, source_line, releasability)


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


def read_cot(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = COT_MAX_EVENT_BYTES,
    releasability: str = "PUBLIC",
    mapping: dict[str, str] | None = None,
    **_: object,
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad events) of a file of CoT events, in file order.

    Raises FormatError before yielding anything when the file is empty, does not begin with
    XML, or holds no complete ``<event>`` at all.
    """
    fname = str(path)
    try:
        marking = normalise_releasability(releasability)
    except (ValueError, MarkingError) as exc:
        raise FormatError(str(exc)) from None
    with open(Path(path), "rb") as fh:
        pieces = split_events(fh, max_record_bytes)
        first = next(pieces, None)
        if first is None:
            raise FormatError(f"{fname}: the file is empty")
        if not first.data.startswith(b"<"):
            got = first.data[:20].decode("utf-8", "replace")
            raise FormatError(f"{fname}:{first.line}: not CoT XML (starts with {got!r})")
        if first.refused == "incomplete":
            raise FormatError(f"{fname}: no complete CoT <event>...</event> in the file")
        piece: Piece | None = first
        while piece is not None:
            yield _piece(piece, fname, encoding, max_record_bytes, marking)
            piece = next(pieces, None)


def _piece(
    piece: Piece, fname: str, encoding: str, max_bytes: int, marking: str
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
        return RowError(
            fname,
            piece.line,
            "event",
            f"incomplete event: {piece.size:,} bytes after the "
            "last </event> at the end of the file",
            head,
        )
    try:
        return parse_cot_event(
            piece.data,
            releasability=marking,
            encoding=encoding,
            max_event_bytes=max_bytes,
            source_file=fname,
            source_line=piece.line,
        )
    except RowError as err:
        return err
