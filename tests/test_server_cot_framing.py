"""The framer's one-pattern path for plain events cuts exactly where its state machine does.

``XmlScan.end`` first tries ``_PLAIN_EVENT`` on an event that begins in the buffer, and leaves
what it does not take to the state machine. Fed one byte at a time, the pattern never sees a
complete event (the state machine takes each from its first byte), so comparing the two
feedings compares the pattern with the state machine, on valid and broken input alike.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from truceguard.server.cot_framing import _PLAIN_EVENT, Framer

_PIECES = st.sampled_from([
    "<event", "<event ", "</event>", "</event >", "</event\n>", "</event x>", "</eventx>",
    "<point lat='1' lon='2'/>", '<a b=">">', "<a b='</event>'>", '"', "'", "<", ">", "/",
    "<!--", "-->", "<![CDATA[", "]]>", "<?xml version=\"1.0\"?>", "<?pi?>", "?>", "<!D",
    "[", "]", "\n", " ", "x", "&amp;", "\xbf"])


def _cuts(stream: bytes, sizes: list[int]) -> tuple[list[bytes], str, int]:
    """(messages, the error that ended the stream, bytes pending: -1 after an error)"""
    framer = Framer(4096)
    got: list[bytes] = []
    at = 0
    k = 0
    while at < len(stream):
        size = sizes[k % len(sizes)]
        k += 1
        messages, error = framer.feed(stream[at:at + size])
        at += size
        got += [m for _, m in messages]
        if error:
            return got, error, -1
    return got, "", framer.pending


@settings(max_examples=400)
@given(st.lists(st.lists(_PIECES, max_size=14).map("".join), min_size=1, max_size=5),
       st.sampled_from(["", "\n", " "]))
def test_plain_pattern_cuts_as_the_state_machine(parts, gap):
    stream = gap.join("<event>" + p for p in parts).encode("utf-8")
    whole = _cuts(stream, [len(stream)])
    assert whole == _cuts(stream, [1])
    assert whole[:2] == _cuts(stream, [7, 3, 50])[:2]


def test_pattern_takes_what_tak_clients_send_and_leaves_markup_to_the_machine():
    plain = (b'<?xml version="1.0" encoding="UTF-8"?>\n<event version="2.0" uid="u" '
             b'type="a-h-G"><point lat="1" lon="2"/><detail><remarks>a > b</remarks>'
             b"</detail></event>")
    got = _PLAIN_EVENT.match(plain + b"<event>")
    assert got is not None and got.end() == len(plain)
    for markup in (b"<!-- c -->", b"<![CDATA[x]]>", b"<?pi x?>"):
        assert _PLAIN_EVENT.match(plain.replace(b"<detail>", b"<detail>" + markup)) is None
    assert _PLAIN_EVENT.match(plain[:-1]) is None  # not complete yet
    assert _cuts(plain + plain, [len(plain) * 2]) == ([plain, plain], "", 0)


def test_the_track_map_forgets_the_least_recently_updated_uid():
    """``max_tracks`` uids are kept; a new uid past that forgets the one updated longest ago
    (an update makes a uid the most recent again)."""
    from truceguard.model import User
    from truceguard.server.cot_decode import Decoder

    user = User(1, "u", "GBR", "observer", "REL TO GBR")

    def ev(uid: str, second: int) -> tuple[bool, bytes]:
        t = f"2026-01-01T00:00:{second:02d}Z"
        return False, (f'<event version="2.0" uid="{uid}" type="a-h-G" how="h-e" time="{t}" '
                       f'start="{t}" stale="{t}"><point lat="48" lon="37" hae="0" ce="5" '
                       f'le="0"/></event>').encode()

    d = Decoder(max_tracks=2)
    d.decode([ev("a", 1), ev("b", 2), ev("a", 3), ev("c", 4)], user, "t", 0)  # b forgotten
    later = d.decode([ev("a", 5), ev("b", 6), ev("c", 7)], user, "t", 4).records
    # a updated (c is then the oldest), b new (c forgotten), c new again
    assert [o.attributes.get("supersedes", "")[:1] for o in later] == ["a", "", ""]
