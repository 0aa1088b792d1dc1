"""Vectorised reading of well-formed CSV (RFC 4180): records and field spans, a block at a time.

Large files are read in blocks of whole records (``ChunkedLines.byte_chunks``: bounded, the
byte-order mark dropped, over-long lines blanked). In each block numpy finds the quotes, commas
and newlines; quote parity (a running count of quotes, mod 2) tells which of them are inside a
quoted field, so record ends are the newlines outside quotes and field separators the commas
outside quotes. A record with as many separators as the header gives each field as a byte span,
so a reader converts whole columns at once.

Exactness: anything this path does not fully understand is handed to the row path, which gives
the very result it always gave:

- a one-line record that is not plain (a field count other than the header's, a line over the
  limit, a line the encoding cannot decode) is a ``Block.record`` - a ``CsvRecord`` built line
  by line exactly as ``open_csv`` builds it - and the reader converts it as it converts any
  record;
- a block whose quoting is not RFC 4180 (a quote inside an unquoted field, text after a closing
  quote, a carriage return not followed by a newline, a NUL byte, a record longer than the csv
  module's field limit, a quote left open at the end of the file), or that holds a record of
  several lines that is not plain or is over the record bound (those are refused and reading
  resynchronises, ``base.csv_records``), ends the fast path: from that block's first record on,
  the file is read by ``open_csv``'s own record loop.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from truceguard.io.base import ChunkedLines, CsvRecord, csv_records, decode_line, open_input

_QUOTE, _COMMA, _NL, _CR = 34, 44, 10, 13


def fast_encoding(encoding: str) -> bool:
    """Whether the fast path reads lines of this encoding (``ChunkedLines.encoding``: auto
    and UTF-8, which every recoded input is; others use the row path)."""
    if encoding == "auto":
        return True
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


@dataclass(slots=True)
class Block:
    """The records of one block of a CSV file.

    Arrays have one entry a record (blank lines without an error are left out): ``start`` and
    ``end`` are byte offsets in ``data`` (``end`` past the newline), ``cend`` the end of the
    record's content (before ``\\r\\n``), ``line`` its first physical line. ``plain`` marks
    records with the header's field count, no line error and valid text; ``sep_at`` indexes
    ``commas`` (the separators outside quotes) at each record's first separator.
    """

    data: bytes
    arr: np.ndarray
    first_line: int
    start: np.ndarray
    end: np.ndarray
    cend: np.ndarray
    line: np.ndarray
    plain: np.ndarray
    commas: np.ndarray
    sep_at: np.ndarray
    ncol: int
    encoding: str
    label: str
    errors: dict[int, str]
    next_line: int  # the line number of the first line after the block

    def __len__(self) -> int:
        return len(self.start)

    def span(
        self, col: int, rows: np.ndarray, first: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Byte offsets (start, end) of field ``col`` of the plain records ``rows`` (``first``:
        ``sep_at[rows]``, when the caller has it already)."""
        if first is None:
            first = self.sep_at[rows]
        s = self.start[rows] if col == 0 else self.commas[first + col - 1] + 1
        e = self.cend[rows] if col == self.ncol - 1 else self.commas[first + col]
        return s, e

    def record(self, r: int) -> CsvRecord | None:
        """Record ``r`` as the row path reads it (None for a blank line, which it skips)."""
        s, e, line = int(self.start[r]), int(self.end[r]), int(self.line[r])
        parts = self.data[s:e].split(b"\n")
        if parts[-1] == b"":
            parts.pop()
            tails = ["\n"] * len(parts)
        else:
            tails = ["\n"] * (len(parts) - 1) + [""]
        texts, err = [], ""
        for i, (part, tail) in enumerate(zip(parts, tails, strict=True)):
            line_err = self.errors.pop(line + i, "") if not err else ""
            text, dec_err = decode_line(part, self.encoding, self.label)
            err = err or line_err or dec_err
            texts.append(text + tail)
        raw = "".join(texts)
        try:
            rows = list(csv.reader(texts, strict=False))
        except csv.Error as exc:
            return CsvRecord(line, [], raw, f"not valid CSV: {exc}")
        fields = rows[0] if rows else []
        if fields or err:
            return CsvRecord(line, fields, raw, err)
        return None


def read_blocks(
    path: str | os.PathLike[str],
    encoding: str,
    max_record_bytes: int,
    header_lines: int,
    ncol: int,
) -> Iterator[Block | Iterator[CsvRecord]]:
    """The data records of a CSV file whose header took ``header_lines`` lines and has ``ncol``
    columns: Blocks while the file is well-formed, then (at most once, last) the row path's
    record iterator for the rest of the file."""
    source = open_input(path, encoding)
    handed_over = False
    try:
        src = ChunkedLines(source, max_record_bytes)
        enc = (source.encoding, source.label)
        limit = min(csv.field_size_limit(), max_record_bytes)
        carry, carry_line, skip = b"", 1, header_lines
        for data, first in src.byte_chunks():
            if skip:
                cut = 0
                while skip and cut < len(data):
                    nl = data.find(b"\n", cut)
                    if nl < 0:
                        cut = len(data)
                        break
                    cut, skip = nl + 1, skip - 1
                data, first = data[cut:], first + data.count(b"\n", 0, cut)
                if not data:
                    continue
            buf = carry + data if carry else data
            line0 = carry_line if carry else first
            block, used = _split(buf, line0, False, ncol, enc, src.errors, limit)
            if block is None and used < 0:
                handed_over = True
                yield _row_path(buf, line0, src, ncol)
                return
            if block is not None:
                yield block
            carry = buf[used:]
            carry_line = (
                block.next_line if block is not None else line0 + buf.count(b"\n", 0, used)
            )
            if len(carry) > limit + max_record_bytes:  # a quote left open: let csv say so
                handed_over = True
                yield _row_path(carry, carry_line, src, ncol)
                return
        if carry:
            block, used = _split(carry, carry_line, True, ncol, enc, src.errors, limit)
            if block is None and used < 0:
                handed_over = True
                yield _row_path(carry, carry_line, src, ncol)
                return
            if block is not None:
                yield block
    finally:
        if not handed_over:
            source.close()


def _row_path(pending: bytes, line: int, src: ChunkedLines, ncol: int) -> Iterator[CsvRecord]:
    lines = ChunkedLines(
        src.source, src.max, first_line=line, pending=pending, errors=src.errors
    )
    return csv_records(lines, ncol, line)


def _split(
    buf: bytes,
    line0: int,
    final: bool,
    ncol: int,
    encoding: tuple[str, str],
    errors: dict[int, str],
    limit: int,
) -> tuple[Block | None, int]:
    """(the block of whole records at the start of ``buf``, bytes used); (None, -1) when the
    quoting is not one the fast path reads exactly, or a record of several lines has a field
    count other than the header's, a line error or more than ``limit`` bytes (the row path
    refuses it and resynchronises). ``encoding``: (the
    encoding lines decode with, the file's own encoding)."""
    arr = np.frombuffer(buf, np.uint8)
    n = len(arr)
    qpos = np.flatnonzero(arr == _QUOTE)
    nl = np.flatnonzero(arr == _NL)
    nl_out = _outside(nl, qpos)
    if final:
        used = n
        ends = nl_out + 1
        if len(ends) == 0 or ends[-1] != n:
            if len(qpos) % 2:
                return None, -1  # the file ends inside a quoted field
            ends = np.append(ends, n)
    else:
        if len(nl_out) == 0:
            return None, 0
        used = int(nl_out[-1]) + 1
        ends = nl_out + 1
    view = arr[:used]
    qpos = qpos[qpos < used]
    if 0 in view or _CR in view and not _crs_ok(view, qpos):
        return None, -1
    if len(qpos) and not _quotes_ok(view, qpos):
        return None, -1
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1]
    if int((ends - starts).max()) > limit:
        return None, -1  # (for a record of one line, the line bound holds it to ``limit``)
    nl_used = nl[nl < used]
    cend = ends.copy()
    has_nl = (cend > 0) & (cend <= used)
    has_nl[has_nl] = view[cend[has_nl] - 1] == _NL
    cend[has_nl] -= 1
    has_cr = cend > starts
    has_cr[has_cr] = view[cend[has_cr] - 1] == _CR
    cend[has_cr] -= 1
    line = line0 + np.searchsorted(nl_used, starts)
    # line errors (over-long lines) inside this block
    last_line = line0 + len(nl_used) + 1
    bad_lines = [ln for ln in errors if line0 <= ln < last_line]
    has_err = np.zeros(len(starts), bool)
    if bad_lines:
        has_err[np.searchsorted(line, np.asarray(bad_lines), side="right") - 1] = True
    keep = (cend > starts) | has_err
    if not keep.all():
        starts, ends, cend, line, has_err = (
            starts[keep], ends[keep], cend[keep], line[keep], has_err[keep]
        )
    commas = np.flatnonzero(view == _COMMA)
    if len(qpos):  # drop the commas inside quoted fields (between quote 2k and 2k+1)
        lo = np.searchsorted(commas, qpos[0::2])
        hi = np.searchsorted(commas, qpos[1::2])
        depth = np.bincount(lo, minlength=len(commas) + 1)
        depth[: len(commas) + 1] -= np.bincount(hi, minlength=len(commas) + 1)
        commas = commas[np.cumsum(depth[: len(commas)]) == 0]
    sep_at = np.searchsorted(commas, starts)
    nsep = np.diff(sep_at, append=len(commas))
    plain = (nsep == ncol - 1) & ~has_err
    several = np.searchsorted(nl_used, cend) > np.searchsorted(nl_used, starts)
    if several.any() and not (plain[several].all() and (cend - starts)[several].max() <= limit):
        return None, -1
    if int(view.max(initial=0)) >= 128:
        plain &= _decodable(buf, starts, ends, line, encoding[0])
    block = Block(
        buf, arr, line0, starts, ends, cend, line, plain, commas, sep_at, ncol, *encoding,
        errors, line0 + len(nl_used),
    )
    return (block if len(starts) else None), used


def _outside(pos: np.ndarray, qpos: np.ndarray) -> np.ndarray:
    """The positions of ``pos`` (not quotes themselves) that lie outside quoted fields: those
    with an even number of quotes before them."""
    if len(qpos) == 0:
        return pos
    return pos[(np.searchsorted(qpos, pos) & 1) == 0]


def _crs_ok(view: np.ndarray, qpos: np.ndarray) -> bool:
    """Every carriage return outside quotes is followed by a newline."""
    cr = _outside(np.flatnonzero(view == _CR), qpos)
    if len(cr) == 0:
        return True
    nxt = cr + 1
    return bool((nxt < len(view)).all() and (view[nxt[nxt < len(view)]] == _NL).all())


def _quotes_ok(view: np.ndarray, qpos: np.ndarray) -> bool:
    """Every quote opens a field (after a separator, a newline or a closing quote) or closes
    one (before a separator, a line end or another quote): RFC 4180 quoting. The block starts
    outside quotes, so quotes open and close by turns."""
    op = qpos[0::2]
    prev = view[op[op > 0] - 1]
    if not np.isin(prev, (_COMMA, _NL, _QUOTE)).all():
        return False
    nxt = qpos[1::2] + 1
    nxt = nxt[nxt < len(view)]
    return bool(np.isin(view[nxt], (_COMMA, _NL, _CR, _QUOTE)).all())


def _decodable(
    buf: bytes, starts: np.ndarray, ends: np.ndarray, line: np.ndarray, encoding: str
) -> np.ndarray:
    """Per record: whether its bytes are UTF-8 (others go to the row path, which decodes each
    line as ``decode_line`` does, falling back to cp1252 under ``auto``)."""
    ok = np.ones(len(starts), bool)
    pos = int(starts[0]) if len(starts) else 0
    stop = int(ends[-1]) if len(ends) else 0
    while pos < stop:
        try:
            buf[pos:stop].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            at = pos + exc.start
            r = int(np.searchsorted(starts, at, side="right")) - 1
            ok[r] = False
            pos = int(ends[r])
    return ok
