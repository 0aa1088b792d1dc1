"""One host against many: a per-address connection cap and a deadline for an incomplete event
keep one peer from locking the others out; and XML framing that understands CDATA sections,
comments and quoted attribute values, so a ``</event>`` inside them never cuts an event."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cot_fixtures import (
    chunked,
    closed_by_server,
    connect_from,
    event,
    service,
    stored,
    until,
)
from truceguard.errors import InputError
from truceguard.server.cot import CotConfig, Framer

ATTACKER = "127.0.0.2"
GOOD = ["127.0.0.3", "127.0.0.4", "127.0.0.5"]


@pytest.fixture(autouse=True)
def _log_info(caplog):
    caplog.set_level(logging.INFO, "truceguard.server")


def _cdata_event(uid: str, text: str) -> bytes:
    return event(uid, detail=f"<remarks><![CDATA[{text}]]></remarks>")


def _lines(caplog, *words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and all(w in r.getMessage() for w in words)]


# -- 1. one host cannot take every slot ---------------------------------------------------------
def test_one_address_is_capped_and_other_hosts_keep_connecting(store, caplog):
    async def scenario() -> None:
        svc = await service(store, config={"max_connections": 12,
                                           "max_connections_per_peer": 4})
        port = svc.server.ports["tcp"]
        half = event("partial")[:100]
        attack = [await connect_from(port, ATTACKER, half) for _ in range(30)]
        await until(lambda: svc.server.stats.open == 4 and svc.server.stats.refused == 26)
        assert sum([await closed_by_server(r, 0.05) for r, _ in attack]) == 26
        # Three other hosts connect and are served while the attacker is capped.
        good = [await connect_from(port, src, event(f"g{k}a") + event(f"g{k}b"))
                for k, src in enumerate(GOOD)]
        await until(lambda: svc.sink.stats.received >= 6)
        assert svc.server.stats.open == 4 + 3
        # One log line for the 26 refusals (not one per refused connection).
        capped = _lines(caplog, ATTACKER, "refused")
        assert len(capped) == 1, capped
        assert "4 connections from 127.0.0.2 open (the limit per address)" in capped[0]
        # Once its connections go, the address may connect again.
        for _, w in attack:
            w.close()
        await until(lambda: svc.server.stats.open == 3)
        _, again = await connect_from(port, ATTACKER, event("back"))
        await until(lambda: svc.sink.stats.received >= 7)
        for _, w in [*good, (None, again)]:
            w.close()
        await svc.stop()
        assert sorted(o.source_ref.split("@")[0] for o in stored(store)) == sorted(
            ["back", *(f"g{k}{x}" for k in range(3) for x in "ab")])

    asyncio.run(scenario())


def test_refusals_past_the_cap_are_summed_up_once_a_window(store, caplog):
    async def scenario() -> None:
        svc = await service(store, config={"max_connections_per_peer": 1,
                                           "refused_log_window_s": 0.3})
        port = svc.server.ports["tcp"]
        _, holder = await connect_from(port, ATTACKER)
        for _ in range(5):
            r, w = await connect_from(port, ATTACKER)
            assert await closed_by_server(r)
            w.close()
        await until(lambda: len(_lines(caplog, ATTACKER, "more connections")) == 1, 5)
        holder.close()
        await svc.stop()

    asyncio.run(scenario())
    assert len(_lines(caplog, ATTACKER, "refused")) == 2  # the first, then the window's sum
    assert "4 more connections from 127.0.0.2 refused" in _lines(caplog, "more connections")[0]


def test_a_slow_sender_is_closed_at_the_event_deadline(store, caplog):
    async def scenario() -> None:
        svc = await service(store, config={"event_deadline_s": 0.5})
        port = svc.server.ports["tcp"]
        data = event("slow")
        slow_r, slow_w = await connect_from(port, ATTACKER, data[:10])
        steady_r, steady_w = await connect_from(port, GOOD[0])
        started = time.monotonic()
        for k in range(10, len(data)):  # a byte every 0.1 s: never idle, never done
            try:
                slow_w.write(data[k:k + 1])
                await slow_w.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.1)
            if slow_r.at_eof():
                break
        assert await closed_by_server(slow_r, 1)
        assert time.monotonic() - started < 3
        for k in range(4):  # whole events, slowly, each well within the deadline
            steady_w.write(event(f"steady{k}"))
            await steady_w.drain()
            await asyncio.sleep(0.3)
        await until(lambda: svc.sink.stats.received >= 4)
        assert not await closed_by_server(steady_r, 0.2)
        steady_w.close()
        slow_w.close()
        await svc.stop()
        assert svc.server.stats.closed_bad == 1

    asyncio.run(scenario())
    cut = _lines(caplog, ATTACKER, "disconnected")
    assert len(cut) == 1 and "an incomplete event for over 0.5 s" in cut[0], cut


def test_the_bounds_are_checked():
    for bad in ({"max_connections_per_peer": 0}, {"event_deadline_s": 0}):
        with pytest.raises(InputError):
            CotConfig(**bad)  # type: ignore[arg-type]


# -- 2. framing: CDATA, comments and attribute values ----------------------------------------------
HARD = [
    _cdata_event("c1", "a </event> b <event uid='evil'> c"),
    event("c2", detail="<!-- </event> <event uid='x'> --><remarks>ok</remarks>"),
    event("c3", detail="<remarks><![CDATA[]]]]><![CDATA[>]]></remarks>"),  # ]]> split in two
    event("c4", detail="<remarks><![CDATA[<!-- </event> -->]]></remarks>"),
    event("c5", detail="<!-- <![CDATA[ </event> -->"),
    event("c6", detail='<contact callsign="a &gt; b" note=\'&lt;/event>\'/>'),
    b'<!-- before </event> --><?pi </event> ?>' + event("c7").split(b"\n", 1)[1],
    event("c8").replace(b"</event>", b"</event \n>"),
]


def _frame(pieces: list[bytes], max_event: int = 1 << 16) -> list[bytes]:
    framer = Framer(max_event)
    got: list[bytes] = []
    for piece in pieces:
        messages, error = framer.feed(piece)
        assert not error, error
        got += [m for is_proto, m in messages if not is_proto]
    assert framer.pending == 0
    return got


def test_framer_keeps_cdata_comments_and_attributes_whole():
    assert _frame([b"".join(HARD)]) == HARD
    assert _frame(chunked(b"\n".join(HARD), [1])) == HARD


@pytest.mark.parametrize("message", HARD, ids=[f"hard{k}" for k in range(len(HARD))])
def test_framer_cuts_right_wherever_the_reads_split(message):
    stream = message + event("next")
    for at in range(1, len(stream)):
        assert _frame([stream[:at], stream[at:]]) == [message, event("next")], at


def test_attribute_value_with_an_end_tag_is_one_message():
    text = b'<event uid="a</event>b" type="a-h-G"><point lat="1" lon="2"/></event>'
    assert _frame([text[:12], text[12:]]) == [text]


def test_unterminated_cdata_is_bounded():
    framer = Framer(2048)
    messages, error = framer.feed(b"<event><detail><![CDATA[" + b"</event>" * 400)
    assert not messages and "an event over 2,048 bytes" in error


def test_cdata_event_is_stored_whole(store):
    text = "keep </event> and <event> and <!-- --> inside"

    async def scenario() -> None:
        svc = await service(store)
        _, w = await connect_from(svc.server.ports["tcp"], GOOD[0],
                                  _cdata_event("cd", text) + event("after"))
        await until(lambda: svc.sink.stats.received >= 2)
        w.close()
        await svc.stop()
        assert svc.server.stats.rejected == 0

    asyncio.run(scenario())
    by_uid = {o.source_ref.split("@")[0]: o for o in stored(store)}
    assert set(by_uid) == {"cd", "after"}
    assert text in by_uid["cd"].raw


_FRAGMENTS = st.sampled_from(["</event>", "<event>", "<event ", "<!--", "-->", "<![CDATA[",
                              "]]", "]", ">", "<", "&", "'", '"', "?>", "\n", "x"])
_CDATA_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=12).map(
    lambda parts: "".join(parts).replace("]]>", "]] >"))
_COMMENT_TEXT = _CDATA_TEXT.map(lambda t: t.replace("-", "_"))


@st.composite
def _events(draw: st.DrawFn) -> bytes:
    uid = f"u{draw(st.integers(0, 10**6))}"
    detail = f"<remarks><![CDATA[{draw(_CDATA_TEXT)}]]></remarks>"
    if draw(st.booleans()):
        detail += f"<!--{draw(_COMMENT_TEXT)}-->"
    return event(uid, detail=detail)


@settings(max_examples=200)
@given(st.lists(_events(), min_size=1, max_size=6), st.lists(st.integers(1, 97), max_size=8),
       st.sampled_from([b"", b"\n", b" \r\n\t"]))
def test_any_valid_events_in_any_chunks_frame_back_exactly(events, sizes, gap):
    stream = gap.join(events) + gap
    assert _frame(chunked(stream, sizes)) == events
