"""TAK protobuf (CoT version 1): framing, and decoding to the CoT XML an event stands for,
checked against the messages the takproto package itself encodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from takproto import TAKProtoVer, xml2proto
from takproto.proto import TakMessage

from tests.cot_fixtures import event
from truceguard.io.cot import parse_cot_event
from truceguard.io.takproto import (
    TakProtoError,
    cot_xml_to_message,
    encode_varint,
    frame_header,
    mesh_payload,
    message_to_cot_xml,
    read_varint,
    stream_frame,
)
from truceguard.server.cot import Framer

XML = (b'<event version="2.0" uid="tp-1" type="a-h-G-U-C-F" how="m-g" '
       b'time="2026-11-30T12:00:00.250Z" start="2026-11-30T12:00:00.250Z" '
       b'stale="2026-11-30T12:05:00Z" access="REL TO GBR">'
       b'<point lat="48.0159" lon="37.8028" hae="120.5" ce="35.0" le="9999999.0"/>'
       b'<detail><contact callsign="ALPHA &amp; 1"/><__group name="Cyan" role="Team Member"/>'
       b'<track course="90.0" speed="3.5"/><remarks>Guns firing</remarks>'
       b'<truceguard category="shelling" count="4"/></detail></event>')


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(n):
    data = encode_varint(n)
    assert read_varint(data, 0) == (n, len(data))
    assert read_varint(data[:-1], 0) is None  # cut short: wait for more


def test_frame_headers_are_bounded_before_anything_is_read():
    assert frame_header(stream_frame(b"abc"), 0, 100) == (2, 5)
    assert frame_header(b"\xbf\x80", 0, 100) is None
    with pytest.raises(TakProtoError, match="over the limit of 100"):
        frame_header(b"\xbf" + encode_varint(101), 0, 100)
    with pytest.raises(TakProtoError, match="longer than 10 bytes"):
        frame_header(b"\xbf" + b"\xff" * 11, 0, 100)
    with pytest.raises(TakProtoError, match="expected 0xbf"):
        frame_header(b"\x00\x01", 0, 100)
    with pytest.raises(TakProtoError, match="expected bf01bf"):
        mesh_payload(b"\xbf\x02\xbf")


def test_takproto_messages_decode_to_the_same_observation_as_the_xml():
    from_xml = parse_cot_event(XML)
    for version in (TAKProtoVer.STREAM, TAKProtoVer.MESH):
        wire = bytes(xml2proto(XML, version))
        payload = (mesh_payload(wire) if version == TAKProtoVer.MESH
                   else wire[frame_header(wire, 0, 1 << 16)[0]:])
        xml, has_event = message_to_cot_xml(payload)
        got = parse_cot_event(xml.encode())
        assert has_event
        for name in ("lat", "lon", "uncertainty_m", "t_start", "category", "weapon_class",
                     "count", "how_known", "releasability", "source", "text"):
            assert getattr(got, name) == getattr(from_xml, name), name
        assert got.attributes["hae_m"] == 120.5 and got.attributes["track_speed"] == "3.5"
        assert got.attributes["group_name"] == "Cyan"


def test_a_message_without_an_event_and_bad_messages():
    msg = TakMessage()
    msg.takControl.minProtoVersion = 1
    assert message_to_cot_xml(msg.SerializeToString()) == ("", False)
    with pytest.raises(TakProtoError, match="not a TakMessage"):
        message_to_cot_xml(b"\x0a\xff\xff\xff")
    # xmlDetail may add children to <detail>, never close it or the event
    msg = TakMessage.FromString(cot_xml_to_message(XML))
    msg.cotEvent.detail.xmlDetail = '</detail><point lat="0" lon="0"/><detail>'
    with pytest.raises(TakProtoError, match="xmlDetail is not well-formed"):
        message_to_cot_xml(msg.SerializeToString())
    msg.cotEvent.detail.xmlDetail = '<!DOCTYPE x [<!ENTITY a "b">]><remarks>&a;</remarks>'
    with pytest.raises(TakProtoError, match="xmlDetail is not well-formed"):
        message_to_cot_xml(msg.SerializeToString())


def test_framer_cuts_mixed_xml_and_protobuf_in_any_pieces():
    proto = stream_frame(cot_xml_to_message(XML))
    stream = event("x1") + b"\n  " + proto + event("x2") + proto
    for size in (1, 7, 64, len(stream)):
        framer = Framer(1 << 16)
        got = []
        for at in range(0, len(stream), size):
            messages, error = framer.feed(stream[at:at + size])
            assert not error
            got += messages
        assert [p for p, _ in got] == [False, True, False, True]
        assert got[0][1] == event("x1") and framer.pending == 0


def test_framer_refuses_garbage_after_the_good_messages_it_returns():
    framer = Framer(1 << 16)
    messages, error = framer.feed(event("ok") + b"\x16\x03\x01 tls hello")
    assert len(messages) == 1 and error == "garbage: byte 0x16 where a CoT message starts"
    framer = Framer(2048)
    messages, error = framer.feed(b"<event>" + b"z" * 3000)
    assert not messages and "an event over 2,048 bytes" in error


TRICKY = [
    event("ok1"),
    b"<event><!-- </event>",  # a comment the framer cut: must not swallow what follows
    b'--><event version="2.0" uid="inj" type="a-h-G" time="2026-11-30T12:00:00Z">'
    b'<point lat="48" lon="37"/></event>',
    event("ok2", detail="<remarks>a &amp; b</remarks>"),
    b'<event version="2.0" uid="bad" type="a-h-G" time="2026-11-30T12:00:00Z">'
    b"<point lat='48' lon='37'><x></event>",  # not well-formed
    event("ok3").replace(b'<?xml version="1.0"?>', b'<?xml version="1.1"?>'),
    b'<?xml version="1.0"?><!DOCTYPE event><event uid="dt" type="a-h-G"/></event>',
    event("ok4", detail="<remarks>&undefined;</remarks>"),
    event("ok5", detail="<![CDATA[<event>]]>"),
    event("ok6"),
    b"<?xml version='1.0' encoding='utf-8'?>\n" + event("ok7").split(b"\n", 1)[1],
    event("ok8", detail="<remarks>caf\u00e9</remarks>").replace(b"\xc3\xa9", b"\xe9"),  # cp1252
]


BREAKS_THE_PASS = (4, 7)  # eligible for the pass, not well-formed: all parse alone then


@pytest.mark.parametrize(("order", "drop"), [(1, ()), (-1, ()), (1, BREAKS_THE_PASS),
                                             (-1, BREAKS_THE_PASS)])
def test_parsing_a_turn_together_is_the_same_as_one_by_one(order, drop):
    from truceguard.model import User
    from truceguard.server.cot import Decoder, _parse_together

    user = User(1, "u", "GBR", "observer", "PUBLIC")
    chosen = [m for k, m in enumerate(TRICKY) if k not in drop][::order]
    messages = [(False, m) for m in chosen]
    roots = _parse_together([m.decode("utf-8", "replace") for m in chosen])
    assert (sum(r is not None for r in roots) == 5) == bool(drop)  # the pass ran, or failed
    together = Decoder(10).decode(messages, user, "x", 0)
    alone = [Decoder(10).decode([m], user, "x", k) for k, m in enumerate(messages)]
    got = [(o.source_ref, o.raw, o.text, o.source_line) for o in together.records]
    want = [(o.source_ref, o.raw, o.text, o.source_line) for d in alone for o in d.records]
    assert got == want
    assert [(e.line, e.field, e.reason) for e in together.rejected] == [
        (e.line, e.field, e.reason) for d in alone for e in d.rejected]
    assert {r.split("@")[0] for r, *_ in got} >= {"ok1", "ok2", "ok6", "ok7"}
