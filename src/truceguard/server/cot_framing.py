"""Cutting one CoT connection's bytes into messages, in bounded memory.

A message starting with ``<`` is a CoT XML event, cut right after its ``</event>`` end tag
(``</event>``, or ``</event`` and blanks before ``>``); one starting with ``0xbf`` is a TAK
protobuf message in stream framing (``io.takproto``); blanks between messages are skipped;
anything else is garbage.

An XML event is cut by a small state machine over its bytes, never by an XML parser: only
markup can end it, so an end tag written inside a CDATA section, a comment, a processing
instruction, a quoted attribute value or a declaration (``<!DOCTYPE ...>`` with its internal
subset) does not. The states::

    TEXT     between markup: ``<`` opens a comment (``<!--``), a CDATA section (``<![CDATA[``),
             another declaration (``<!``), a processing instruction (``<?``) or a tag
    TAG      inside a start or end tag: ``"`` or ``'`` opens a quoted value, ``>`` ends it
             (and the event, if the tag is ``</event>``)
    QUOTE    inside a quoted value: only the same quote ends it (back to TAG or DECL)
    COMMENT  until ``-->``;  CDATA until ``]]>``;  PI until ``?>``
    DECL     inside ``<!...>``: quotes, and ``[`` ... ``]`` of an internal subset, may hold ``>``

Each state skips to the next byte that can change it with ``bytes.find`` or a compiled
pattern (no Python loop per byte). An event that begins in the buffer is first tried against
one compiled pattern (``_PLAIN_EVENT``) that takes the events TAK clients write, all at once:
an optional ``<?xml ...?>`` declaration, then text and tags (quoted values included) with no
comment, CDATA, declaration or processing instruction, up to the first ``</event>`` end tag:
the cut the state machine makes for such an event. Its repetitions are possessive, so it
never backtracks; an event it does not take (one with such markup, or not complete yet) is
left to the state machine. The state and the position where the scan resumes are kept
between reads, so a partial event is scanned once whatever the reads' sizes, and the
framer holds at most one partial message (never more than ``max_event_bytes`` plus a read).
"""

from __future__ import annotations

import re

from truceguard.io.takproto import MAGIC, TakProtoError, frame_header

_NONWS = re.compile(rb"[^ \t\r\n]")
_BLANK = frozenset(b" \t\r\n")
_LT = 0x3C
_GT = 0x3E
_BANG = 0x21
_QMARK = 0x3F
_SLASH = 0x2F
_LBRACKET = 0x5B
_RBRACKET = 0x5D
_COMMENT_OPEN = b"<!--"
_CDATA_OPEN = b"<![CDATA["
_END_TAG = re.compile(rb"</event[ \t\r\n]*>")
_TAG_STOP = re.compile(rb"[\"'>]")
_DECL_STOP = re.compile(rb"[\"'\[\]>]")
# A whole plain event (see the module docstring): declaration, then text runs and tags up to
# the first ``</event>``. Text runs and tags are told apart by their first byte and each is
# matched possessively, so a failed match costs one pass over what it read.
_PLAIN_EVENT = re.compile(
    rb"(?>(?:<\?xml[^?>]*+\?>)?+"
    rb"(?:[^<]++|<(?![!?]|/event[ \t\r\n]*>)(?:[^\"'>]++|\"[^\"]*+\"|'[^']*+')*+>)*+"
    rb"</event[ \t\r\n]*>)")

TEXT, TAG, QUOTE, COMMENT, CDATA, PI, DECL = range(7)
_CLOSERS = {COMMENT: b"-->", CDATA: b"]]>", PI: b"?>"}


class XmlScan:
    """Where the end of one XML event is: the state of the scan between reads."""

    __slots__ = ("at", "depth", "mark", "quote", "resume", "state")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.state = TEXT
        self.at = -1  # where the scan resumes (-1: at the start of the message)
        self.mark = 0  # where the tag being scanned starts
        self.quote = 0  # the quote that ends the value being scanned
        self.resume = TAG  # the state a quoted value returns to
        self.depth = 0  # of ``[`` in a declaration

    def shift(self, by: int) -> None:
        """The buffer lost its first ``by`` bytes."""
        if self.at >= 0:
            self.at -= by
            self.mark -= by

    def end(self, buf: bytearray, start: int, n: int) -> int:
        """The end (exclusive) of the event starting at ``buf[start]``, or -1 if ``buf[:n]``
        does not hold it yet (then the scan resumes where it stopped on the next call)."""
        if self.at < 0:
            m = _PLAIN_EVENT.match(buf, start, n)
            if m is not None:
                return m.end()
        at = start if self.at < 0 else self.at
        state = self.state
        while True:
            if state == TEXT:
                lt = buf.find(b"<", at, n)
                if lt < 0:
                    at = n
                    break
                state, at = self._markup(buf, lt, n)
                if state < 0:  # not yet told which markup: wait at the ``<``
                    state, at = TEXT, lt
                    break
            elif state == TAG:
                m = _TAG_STOP.search(buf, at, n)
                if m is None:
                    at = n
                    break
                at = m.end()
                if buf[m.start()] != _GT:
                    state, self.quote, self.resume = QUOTE, buf[m.start()], TAG
                    continue
                state = TEXT
                if buf[self.mark + 1] == _SLASH and _END_TAG.fullmatch(buf, self.mark, at):
                    self.reset()
                    return at
            elif state == QUOTE:
                q = buf.find(self.quote, at, n)
                if q < 0:
                    at = n
                    break
                state, at = self.resume, q + 1
            elif state == DECL:
                m = _DECL_STOP.search(buf, at, n)
                if m is None:
                    at = n
                    break
                at = m.end()
                c = buf[m.start()]
                if c == _LBRACKET:
                    self.depth += 1
                elif c == _RBRACKET:
                    self.depth -= 1
                elif c == _GT:
                    if self.depth <= 0:
                        state = TEXT
                else:
                    state, self.quote, self.resume = QUOTE, c, DECL
            else:
                closer = _CLOSERS[state]
                i = buf.find(closer, at, n)
                if i < 0:  # the closer may begin in what has come: look there again
                    at = max(at, n - len(closer) + 1)
                    break
                state, at = TEXT, i + len(closer)
        self.state, self.at = state, at
        return -1

    def _markup(self, buf: bytearray, lt: int, n: int) -> tuple[int, int]:
        """What the ``<`` at ``lt`` opens: (state, where its scan starts); -1 if unknown yet."""
        if lt + 1 >= n:
            return -1, lt
        nxt = buf[lt + 1]
        if nxt == _QMARK:
            return PI, lt + 2
        if nxt != _BANG:
            self.mark = lt
            return TAG, lt + 1
        head = bytes(buf[lt:lt + len(_CDATA_OPEN)])
        if head.startswith(_COMMENT_OPEN):
            return COMMENT, lt + len(_COMMENT_OPEN)
        if head.startswith(_CDATA_OPEN):
            return CDATA, lt + len(_CDATA_OPEN)
        if len(head) < len(_CDATA_OPEN) and (
                _COMMENT_OPEN.startswith(head) or _CDATA_OPEN.startswith(head)):
            return -1, lt
        self.depth = 0
        return DECL, lt + 2


class Framer:
    """Cuts one connection's bytes into messages: (is_protobuf, bytes) in arrival order.

    Holds at most one partial message (never more than ``max_event_bytes`` plus a read)."""

    __slots__ = ("buf", "max_event", "xml")

    def __init__(self, max_event_bytes: int) -> None:
        self.buf = bytearray()
        self.xml = XmlScan()  # the scan of the partial XML event, if one is pending
        self.max_event = max_event_bytes

    @property
    def pending(self) -> int:
        return len(self.buf)

    def feed(self, data: bytes) -> tuple[list[tuple[bool, bytes]], str]:
        """The complete messages in ``data`` (with what was left before), and why the stream
        must be closed after them ('' if it need not)."""
        buf = self.buf
        buf += data
        view = memoryview(buf)
        out: list[tuple[bool, bytes]] = []
        n = len(buf)
        pos = 0
        error = ""
        while pos < n:
            first = buf[pos]
            if first in _BLANK:  # between messages: rare, so searched only when met
                m = _NONWS.search(buf, pos)
                if m is None:
                    pos = n
                    break
                pos = m.start()
                first = buf[pos]
            if first == _LT:
                end = self.xml.end(buf, pos, n)
                if end < 0:
                    if n - pos > self.max_event:
                        error = (f"an event over {self.max_event:,} bytes "
                                 f"({n - pos:,} bytes without </event>)")
                    break
                if end - pos > self.max_event:
                    error = f"an event of {end - pos:,} bytes, over {self.max_event:,}"
                    break
                out.append((False, bytes(view[pos:end])))
                pos = end
            elif first == MAGIC:
                try:
                    span = frame_header(buf, pos, self.max_event)
                except TakProtoError as exc:
                    error = str(exc)
                    break
                if span is None or span[1] > n:
                    break
                out.append((True, bytes(view[span[0]:span[1]])))
                pos = span[1]
            else:
                error = f"garbage: byte 0x{first:02x} where a CoT message starts"
                break
        view.release()  # before the buffer is resized
        del buf[:pos]
        self.xml.shift(pos)
        return out, error


__all__ = ["Framer", "XmlScan"]
