"""TAK protocol version 1 (protobuf): framing on a stream or a datagram, and decoding to CoT XML.

TAK devices send CoT either as XML (version 0) or as a protobuf ``TakMessage`` (version 1):

- stream framing (TCP, TLS): ``0xbf <varint length> <TakMessage>``, messages back to back;
- mesh framing (UDP): ``0xbf 0x01 0xbf <TakMessage>``, one message per datagram.

``StreamFramer`` cuts a byte stream into messages in bounded memory: a declared length over
``max_message_bytes`` (or a length prefix longer than a 64-bit varint) is refused at once, before
any of the message is buffered. ``mesh_payload`` unwraps one datagram.

``message_to_cot_xml`` decodes a ``TakMessage`` (with the protobuf classes that the ``takproto``
package ships; it is in the ``server`` extra) and renders its event as the CoT XML event it
stands for, so that one mapping (``truceguard.io.cot``) turns both encodings into observations.
Times (milliseconds since the epoch) become ISO 8601 with milliseconds; the typed detail fields
(contact, group, track, takv, precision location, status) become their XML elements; the
free-form ``xmlDetail`` is checked on its own first (well-formed, no entity declarations, parsed
with defusedxml) so that it can only add children to ``<detail>``, never close it or the event.
A message that cannot be decoded raises ``TakProtoError`` saying why.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.sax.saxutils import quoteattr

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from truceguard.errors import InputError, MissingExtraError

MAGIC = 0xBF
MESH_HEADER = b"\xbf\x01\xbf"
MAX_VARINT_BYTES = 10  # a 64-bit varint


class TakProtoError(InputError):
    """A TAK protobuf message or frame that cannot be read."""

    def __init__(self, message: str, *, code: str = "input.bad_takproto") -> None:
        super().__init__(message, hint="TAK protocol version 1: 0xbf <varint length> "
                         "<TakMessage> on a stream, 0xbf 0x01 0xbf <TakMessage> in a datagram",
                         code=code)


def read_varint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int] | None:
    """(value, position after it) of the varint at ``pos``; None when the buffer ends inside it.

    Raises TakProtoError for a varint longer than 10 bytes."""
    value = shift = 0
    end = min(len(buf), pos + MAX_VARINT_BYTES)
    i = pos
    while i < end:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    if end - pos >= MAX_VARINT_BYTES:
        raise TakProtoError("a length prefix longer than 10 bytes", code="input.bad_frame")
    return None


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def stream_frame(message: bytes) -> bytes:
    """``message`` with stream framing."""
    return bytes([MAGIC]) + encode_varint(len(message)) + message


def frame_header(buf: bytes | bytearray | memoryview, pos: int, max_message_bytes: int
                 ) -> tuple[int, int] | None:
    """(start, end) of the stream-framed message whose magic byte is at ``pos``; None when the
    header is not complete yet. Raises TakProtoError for a bad magic byte or a message declared
    longer than ``max_message_bytes`` (before any of it is read)."""
    if pos >= len(buf):
        return None
    if buf[pos] != MAGIC:
        raise TakProtoError(f"byte 0x{buf[pos]:02x} where a frame starts (expected 0xbf)",
                            code="input.bad_frame")
    got = read_varint(buf, pos + 1)
    if got is None:
        return None
    length, start = got
    if length > max_message_bytes:
        raise TakProtoError(f"a message of {length:,} bytes, over the limit of "
                            f"{max_message_bytes:,}", code="input.oversize")
    return start, start + length


def mesh_payload(datagram: bytes) -> bytes:
    """The TakMessage of one mesh-framed datagram."""
    if not datagram.startswith(MESH_HEADER):
        raise TakProtoError(f"a datagram starting {datagram[:3].hex()} (expected bf01bf)",
                            code="input.bad_frame")
    return datagram[len(MESH_HEADER):]


def _message_class() -> Any:
    try:
        from takproto.proto import TakMessage
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise MissingExtraError("TAK protobuf (CoT version 1)", "server", "takproto") from exc
    return TakMessage


def _iso_ms(ms: int) -> str:
    try:
        dt = datetime.fromtimestamp(ms / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        raise TakProtoError(f"time {ms} ms is out of range") from None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _num(x: float) -> str:
    return repr(float(x)) if math.isfinite(x) else "9999999.0"


def _attrs(pairs: list[tuple[str, str]]) -> str:
    return "".join(f" {k}={quoteattr(v)}" for k, v in pairs if v != "")


def _checked_xml_detail(fragment: str) -> str:
    """``fragment`` if it is well-formed XML content free of entity declarations."""
    try:
        SafeET.fromstring(f"<detail>{fragment}</detail>", forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise TakProtoError(f"xmlDetail is not well-formed XML content ({exc})") from None
    return fragment


def message_to_cot_xml(payload: bytes) -> tuple[str, bool]:
    """(the CoT XML event a serialised TakMessage stands for, whether it carries an event).

    A message with only ``takControl`` (protocol negotiation) has no event: ("", False)."""
    msg = _message_class()()
    try:
        msg.ParseFromString(bytes(payload))
    except Exception as exc:  # protobuf's DecodeError, whatever the backend
        raise TakProtoError(f"not a TakMessage ({type(exc).__name__}: {exc})") from None
    if not msg.HasField("cotEvent"):
        return "", False
    ev = msg.cotEvent
    head = _attrs([
        ("version", "2.0"), ("uid", ev.uid), ("type", ev.type), ("how", ev.how),
        ("time", _iso_ms(ev.sendTime) if ev.sendTime else ""),
        ("start", _iso_ms(ev.startTime) if ev.startTime else ""),
        ("stale", _iso_ms(ev.staleTime) if ev.staleTime else ""),
        ("access", ev.access), ("qos", ev.qos), ("opex", ev.opex),
    ])
    point = _attrs([("lat", _num(ev.lat)), ("lon", _num(ev.lon)), ("hae", _num(ev.hae)),
                    ("ce", _num(ev.ce)), ("le", _num(ev.le))])
    parts = [f"<event{head}><point{point}/>"]
    if ev.HasField("detail"):
        d = ev.detail
        inner = [_checked_xml_detail(d.xmlDetail)] if d.xmlDetail else []
        typed: list[tuple[str, list[tuple[str, str]]]] = []
        if d.HasField("contact"):
            typed.append(("contact", [("callsign", d.contact.callsign),
                                      ("endpoint", d.contact.endpoint)]))
        if d.HasField("group"):
            typed.append(("__group", [("name", d.group.name), ("role", d.group.role)]))
        if d.HasField("precisionLocation"):
            p = d.precisionLocation
            typed.append(("precisionlocation", [("geopointsrc", p.geopointsrc),
                                                ("altsrc", p.altsrc)]))
        if d.HasField("status") and d.status.battery:
            typed.append(("status", [("battery", str(int(d.status.battery)))]))
        if d.HasField("takv"):
            t = d.takv
            typed.append(("takv", [("device", t.device), ("platform", t.platform),
                                   ("os", t.os), ("version", t.version)]))
        if d.HasField("track"):
            typed.append(("track", [("course", _num(d.track.course)),
                                    ("speed", _num(d.track.speed))]))
        inner += [f"<{tag}{_attrs(pairs)}/>" for tag, pairs in typed]
        parts.append("<detail>" + "".join(inner) + "</detail>")
    parts.append("</event>")
    return "".join(parts), True


def cot_xml_to_message(xml: bytes) -> bytes:
    """A serialised TakMessage of a CoT XML event (our own, trusted XML: e.g. CoT out, tests)."""
    try:
        from takproto.functions import xml2message
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise MissingExtraError("TAK protobuf (CoT version 1)", "server", "takproto") from exc
    return bytes(xml2message(xml).SerializeToString())


__all__ = [
    "MAGIC",
    "MESH_HEADER",
    "TakProtoError",
    "cot_xml_to_message",
    "encode_varint",
    "frame_header",
    "mesh_payload",
    "message_to_cot_xml",
    "read_varint",
    "stream_frame",
]
