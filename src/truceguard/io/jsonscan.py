"""A streaming, bounded scanner of one JSON document: the members of its top-level object, and
the elements of one array member, as byte spans, without ever holding the document.

The document is read in blocks of ``BLOCK`` bytes (UTF-8, or any encoding whose ASCII bytes are
ASCII: structure is found in the bytes themselves). In each block numpy finds the quotes (those
after an odd run of backslashes are escaped), which of the other bytes lie inside strings (the
parity of the quotes before them), the structural bytes ``{ } [ ] , :`` outside strings and the
nesting depth after each (a running sum). Python then walks only the structural bytes at the top
two levels: a few per element, whatever an element holds.

``scan`` yields, in document order:

- ``("member", key, span)`` for each top-level member (its value's span), except the array;
- ``("array", key, None)`` when the value of the member named ``array_key`` opens an array,
  then ``("element", None, span)`` for each of its elements and ``("array_end", key, None)``;
- ``("document", None, span)`` (with ``whole=True``) for the whole top-level object.

A span holds the value's bytes without the white space around them, the line its first byte is
on, and its size. A span over ``max_bytes`` keeps only its first ``HEAD`` bytes and says so
(``problem``); so does an element nested deeper than ``max_depth`` (counted from the element).
Memory holds a block, its index arrays and at most one span.

Whatever breaks the document's shape at those two levels (no object at the top, a key that is
not a string, a missing ``:`` or ``,``, an empty element, a bracket that closes the wrong thing,
text after the end, a document or a string that is not finished) raises ``JsonScanError`` with
the line. What lies inside a value (an element's own syntax) is left to the caller to parse.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

BLOCK = 4 << 20
HEAD = 256
_WS = b" \t\r\n"
_NONWS = re.compile(rb"[^ \t\r\n]")
_ESCAPED = re.compile(rb"\\+\"")
_OPEN, _CLOSE, _COMMA, _COLON = 1, 2, 3, 4
_KIND = np.zeros(256, np.int8)
_KIND[[ord("{"), ord("[")]] = _OPEN
_KIND[[ord("}"), ord("]")]] = _CLOSE
_KIND[ord(",")] = _COMMA
_KIND[ord(":")] = _COLON
_STEP = np.array([0, 1, -1, 0, 0], np.int64)

Event = tuple[str, "str | None", "Span | None"]
Step = Generator[Event, None, int]  # yields events, returns where the block's cursor is


class JsonScanError(Exception):
    """The document's shape is broken at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(slots=True)
class Span:
    """One value: its bytes (only the first ``HEAD`` when refused), line, size, and why it is
    refused ('' when it is not)."""

    line: int
    data: bytes
    size: int
    problem: str = ""


class _Capture:
    """The bytes of the value being read, from its first non-blank byte on: all of them up to
    the bound (``keep``), else only the first ``HEAD``."""

    SLACK = 64 << 10  # white space after a value that may be held beyond the bound

    def __init__(self, max_bytes: int, keep: bool) -> None:
        self.max = max_bytes
        self.limit = max_bytes + self.SLACK if keep else HEAD
        self.parts: list[bytes] = []
        self.held = 0
        self.size = 0
        self.trail = 0  # white space at the end of what was added
        self.over = False  # bytes were let go
        self.started = False
        self.line = 0
        self.too_deep = False

    def add(self, piece: bytes) -> None:
        if not piece:
            return
        self.size += len(piece)
        kept = len(piece.rstrip(_WS))
        self.trail = self.trail + len(piece) if kept == 0 else len(piece) - kept
        if self.held + len(piece) <= self.limit:
            self.parts.append(piece)
            self.held += len(piece)
            return
        if not self.over:
            self.over = True
            head = (b"".join(self.parts) + piece[:HEAD])[:HEAD]
            self.parts, self.held = [head], len(head)

    def span(self, max_depth: int) -> Span:
        data = b"".join(self.parts)
        size = self.size - self.trail
        if size > self.max:
            return Span(self.line, data[:HEAD], size,
                        f"{size:,} bytes, over the limit of {self.max:,}")
        if self.over:
            return Span(self.line, data[:HEAD], size,
                        f"{self.size:,} bytes with the white space after it, over the limit "
                        f"of {self.max:,}")
        data = data[:size]
        if self.too_deep:
            return Span(self.line, data[:HEAD], size, f"nested more than {max_depth} levels deep")
        return Span(self.line, data, size)


class _Scanner:
    def __init__(self, fh: Any, array_key: str, max_bytes: int, max_depth: int, whole: bool,
                 keep: bool) -> None:
        self.fh = fh
        self.array_key = array_key
        self.max = max_bytes
        self.max_depth = max_depth
        self.whole = whole
        self.keep = keep
        self.in_str = False
        self.depth = 0
        self.line = 1  # the line at offset ``line_pos`` of the current block
        self.line_pos = 0
        self.state = "before"  # before, key, value, array, after_array, done
        self.key = ""
        self.cap: _Capture | None = None  # the key, member value or element being read
        self.doc: _Capture | None = None  # the whole document (``whole``)
        self.doc_from = 0  # where the document's bytes start in the current block
        self.seen: set[str] = set()
        self.elements = 0

    # -- positions and lines

    def line_at(self, block: bytes, pos: int) -> int:
        if pos > self.line_pos:
            self.line += block.count(b"\n", self.line_pos, pos)
            self.line_pos = pos
        return self.line

    def fail(self, block: bytes, pos: int, message: str) -> JsonScanError:
        return JsonScanError(self.line_at(block, pos), message)

    # -- captures

    def start(self, block: bytes, pos: int, keep: bool) -> _Capture:
        cap = _Capture(self.max, keep)
        self._begin(cap, block, pos)
        return cap

    def _begin(self, cap: _Capture, block: bytes, pos: int, end: int | None = None) -> int:
        """Start ``cap`` at the first non-blank byte from ``pos`` (before ``end``); returns
        where it started (``end`` / the block's length when it did not)."""
        stop = len(block) if end is None else end
        m = _NONWS.search(block, pos, stop)
        if m is None:
            return stop
        cap.started = True
        cap.line = self.line_at(block, m.start())
        return m.start()

    def feed(self, cap: _Capture, block: bytes, pos: int, end: int) -> None:
        """Add ``block[pos:end]`` to ``cap`` (starting it first if it has not started)."""
        if not cap.started:
            pos = self._begin(cap, block, pos, end)
            if not cap.started:
                return
        if end > pos:
            cap.add(block[pos:end])

    # -- blocks

    def blocks(self) -> Iterator[bytes]:
        carry = b""
        first = True
        while True:
            data = self.fh.read(BLOCK)
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            if not data:
                if carry:
                    yield carry
                return
            data = carry + data
            # A quote's escape depends on the parity of the backslashes before it: end a block
            # before the last one or two of a run (the same parity), never holding more.
            trail = len(data) - len(data.rstrip(b"\\"))
            keep = 0 if trail == 0 else 1 if trail % 2 else 2
            cut = len(data) - keep
            carry = data[cut:]
            if cut:
                yield data[:cut]

    def structure(self, block: bytes) -> tuple[np.ndarray, ...]:
        """(positions, kinds, depths before, depths after, positions nested past the bound)
        of the structural bytes of ``block`` outside strings."""
        arr = np.frombuffer(block, np.uint8)
        quotes = np.flatnonzero(arr == 34)
        if len(quotes) and b"\\" in block:
            escaped = [m.end() - 1 for m in _ESCAPED.finditer(block)
                       if (m.end() - m.start() - 1) % 2]
            if escaped:
                quotes = np.setdiff1d(quotes, np.asarray(escaped, np.int64), assume_unique=True)
        kind = _KIND[arr]
        pos = np.flatnonzero(kind)
        if len(quotes):
            inside = (np.searchsorted(quotes, pos) + self.in_str) & 1
            pos = pos[inside == 0]
            self.in_str = bool((len(quotes) + self.in_str) & 1)
        elif self.in_str:  # the whole block lies inside one string
            pos = pos[:0]
        kinds = kind[pos]
        after = self.depth + np.cumsum(_STEP[kinds])
        before = after - _STEP[kinds]
        if len(after):
            self.depth = int(after[-1])
        deep = pos[after > 2 + self.max_depth]
        if self.doc is not None and len(after) and int(after.max()) > self.max_depth:
            self.doc.too_deep = True
        return pos, kinds, before, after, deep

    # -- the walk

    def run(self) -> Iterator[Event]:
        for block in self.blocks():
            self.line_pos = 0
            self.doc_from = 0
            yield from self._block(block)
            self.line_at(block, len(block))
        if self.state != "done":
            where = "a string" if self.in_str else "an object or array"
            raise JsonScanError(self.line, f"the document ends inside {where}"
                                if self.state != "before" else "expected a JSON object")
        if self.doc is not None:
            yield "document", None, self.doc.span(self.max_depth)

    def _block(self, block: bytes) -> Iterator[Event]:
        open_doc = self.doc is not None and self.state != "done"
        pos, kinds, before, after, deep = self.structure(block)
        top = np.flatnonzero(before <= 2)
        cursor = 0  # bytes of the block before this are accounted for
        events = zip(top.tolist(), pos[top].tolist(), kinds[top].tolist(), before[top].tolist(),
                     strict=True)
        for i, p, k, d in events:
            if self.state == "array" and d == 2:
                if k in (_OPEN, _COLON):
                    continue  # inside an element
                cursor, span = self._element(block, p, k, deep, cursor)
                if span is not None:
                    yield "element", None, span
                if self.state == "after_array":
                    yield "array_end", self.key, None
                continue
            if self.state == "done":
                raise self.fail(block, p, "expected the end of the document")
            if self.state == "before":
                if d != 0 or k != _OPEN or block[p] != 123 or block[cursor:p].strip(_WS):
                    raise self.fail(block, p, "expected a JSON object")
                self.state = "key"
                if self.whole:
                    self.doc = self.start(block, p, True)
                    self.doc_from = p
                    open_doc = True
                    self.doc.too_deep = bool((after[i:] > self.max_depth).any())
                self.cap = _Capture(self.max, True)
                cursor = p + 1
                continue
            if d == 2:
                continue  # inside a member's value
            if d != 1:
                raise self.fail(block, p, f"unexpected {chr(block[p])!r}")
            cursor = yield from self._top(block, p, k, cursor)
        end = len(block)
        if self.state in ("done", "before"):
            m = _NONWS.search(block, cursor)
            if m is not None:
                raise self.fail(block, m.start(), "expected the end of the document"
                                if self.state == "done" else "expected a JSON object")
        elif self.state == "after_array":
            if block[cursor:].strip(_WS):
                raise self.fail(block, cursor, "expected ',' or '}'")
        elif self.cap is not None:
            if self.state == "array" and len(deep):
                self.cap.too_deep |= bool((deep >= cursor).any())
            self.feed(self.cap, block, cursor, end)
        if open_doc and self.state != "done" and self.doc is not None:
            self.doc.add(block[self.doc_from:end])

    def _top(self, block: bytes, p: int, k: int, cursor: int) -> Step:
        """A structural byte at the top level (inside the top object): returns the cursor."""
        state, c = self.state, block[p]
        if state == "key":
            cap = self.cap
            assert cap is not None
            self.feed(cap, block, cursor, p)
            if k == _CLOSE and c == 125 and not cap.started and not self.seen:
                return self._close(block, p)  # {}
            if k != _COLON:
                raise self.fail(block, p, "expected a key and ':'")
            self.key = self._key(block, p, cap)
            self.state = "value"
            self.cap = _Capture(self.max, self.keep or self.key == "type")
            return p + 1
        if state == "value":
            cap = self.cap
            assert cap is not None
            if k == _OPEN and c == 91 and self.key == self.array_key:
                self.feed(cap, block, cursor, p)
                if cap.started:
                    raise self.fail(block, p, "expected a value after ':'")
                self.state = "array"
                self.elements = 0
                self.cap = _Capture(self.max, self.keep)
                yield "array", self.key, None
                return p + 1
            if k == _OPEN:
                return cursor  # a member's object or array value opens: read on
            if k == _COLON:
                raise self.fail(block, p, "expected ',' or '}'")
            if k == _CLOSE and c != 125:
                raise self.fail(block, p, f"unexpected {chr(c)!r}")
            self.feed(cap, block, cursor, p)
            if not cap.started:
                raise self.fail(block, p, "expected a value after ':'")
            yield "member", self.key, cap.span(self.max_depth)
            return self._next_member(block, p, k)
        if state == "after_array":
            if block[cursor:p].strip(_WS) or k in (_COLON, _OPEN) or k == _CLOSE and c != 125:
                raise self.fail(block, p, "expected ',' or '}'")
            return self._next_member(block, p, k)
        raise self.fail(block, p, f"unexpected {chr(c)!r}")  # pragma: no cover - no other state

    def _key(self, block: bytes, p: int, cap: _Capture) -> str:
        import json

        span = cap.span(self.max_depth)
        try:
            key = json.loads(span.data) if not span.problem else None
        except ValueError:
            key = None
        if not isinstance(key, str):
            raise self.fail(block, p, "expected a key (a string) before ':'")
        if key in self.seen:
            raise self.fail(block, p, f"the member {key[:40]!r} appears twice")
        self.seen.add(key)
        return key

    def _next_member(self, block: bytes, p: int, k: int) -> int:
        if k == _COMMA:
            self.state = "key"
            self.cap = _Capture(self.max, True)
            return p + 1
        return self._close(block, p)

    def _close(self, block: bytes, p: int) -> int:
        self.state = "done"
        self.cap = None
        if self.doc is not None:
            self.doc.add(block[self.doc_from : p + 1])
        return p + 1

    def _element(self, block: bytes, p: int, k: int, deep: np.ndarray, cursor: int
                 ) -> tuple[int, Span | None]:
        """A ``,`` or ``]`` at ``p`` ends an element of the array: (the cursor after it, the
        element's span, None for the end of an empty array)."""
        if k == _CLOSE and block[p] != 93:
            raise self.fail(block, p, "expected ',' or ']'")
        cap = self.cap
        assert cap is not None
        nested = bool(len(deep)) and bool(np.searchsorted(deep, cursor) < np.searchsorted(deep, p))
        if cap.started:  # began in an earlier block
            self.feed(cap, block, cursor, p)
            cap.too_deep |= nested
            span = cap.span(self.max_depth)
        else:
            m = _NONWS.search(block, cursor, p)
            if m is None:
                if k == _CLOSE and self.elements == 0:
                    self.state, self.cap = "after_array", None
                    return p + 1, None
                raise self.fail(block, p, "expected a value before "
                                + ("','" if k == _COMMA else "']'"))
            start, end = m.start(), p
            while block[end - 1] in _WS:
                end -= 1
            size = end - start
            line = self.line_at(block, start)
            if size > self.max:
                span = Span(line, block[start : start + HEAD], size,
                            f"{size:,} bytes, over the limit of {self.max:,}")
            elif nested:
                span = Span(line, block[start : start + HEAD], size,
                            f"nested more than {self.max_depth} levels deep")
            else:
                span = Span(line, block[start : end if self.keep else start + HEAD], size)
        self.elements += 1
        if k == _COMMA:
            self.cap = _Capture(self.max, self.keep)
        else:
            self.state, self.cap = "after_array", None
        return p + 1, span


def scan(fh: Any, *, array_key: str = "features", max_bytes: int = 1 << 20,
         max_depth: int = 64, whole: bool = False, keep: bool = True
         ) -> Iterator[Event]:
    """The members and array elements of the JSON document read from ``fh`` (a binary stream
    with ``read``), as the module docstring says. ``keep=False`` keeps no element or member
    bytes (only sizes, lines and the first bytes): a check of the document's shape."""
    return _Scanner(fh, array_key, max_bytes, max_depth, whole, keep).run()
