"""What every reader shares: bounded, line-numbered, encoding-aware reading of untrusted files.

A reader is a generator ``read_X(path, **options)`` that yields, in file order, either an
``Observation`` (a good record, with its raw text verbatim, that text's SHA-256 and the line it
started on) or a ``RowError`` (a bad record: file, line, field, reason, and the raw text). It
raises ``MissingColumnsError`` / ``FormatError`` before yielding anything when the file as a whole
cannot be read, so that nothing of such a file is imported.

Inputs: ``check_input_path`` refuses, with a clear error, a path that does not exist, a
directory, and anything that is not a regular file (a FIFO, a device such as ``/dev/zero``, a
socket): such an input would block or never end, so it is never opened.

Bounds: a physical line longer than ``max_record_bytes`` is refused as one RowError (and skipped
without holding it in memory); so is a CSV record (a quoted field running over many lines) whose
text passes the same bound. Memory holds a block of the file plus the current record.

Resynchronising (CSV): a record that is refused after running over more than one line (a quote
left open, a field over the bound, a record whose fields do not match the header) does not take
the lines after its first one with it: reading goes on at the next line that is a whole record
by itself (the header's number of fields, no quote left open). The RowError names the lines it
covers; no line is dropped without being named.

Encodings: ``encoding="auto"`` decodes each line as UTF-8 and, where a line is not valid UTF-8,
as Windows-1252 (the encoding of spreadsheet exports); a file that starts with a UTF-16 or
UTF-32 byte-order mark (or is UTF-16 without one: ASCII with every other byte NUL) is read in
that encoding. An explicit encoding is strict, and a line it cannot decode makes its record a
RowError that says which byte and what to pass instead. Encodings whose bytes are not ASCII
where the text is ASCII (UTF-16, UTF-32, Shift-JIS, GBK ...) are decoded whole characters at a
time by an incremental decoder and read as UTF-8 (``Utf8Recoder``), so no code unit and no
multi-byte sequence is ever split at a block edge.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from truceguard.errors import FormatError, InputError, NotFoundError, RowError
from truceguard.io.values import FieldError, number

MAX_RECORD_BYTES = 1 << 20  # 1 MiB: no real event record comes near it
RAW_HEAD = 256  # characters of a refused over-long record kept for its RowError

csv.field_size_limit(MAX_RECORD_BYTES)


def check_input_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path if it is a regular file that can be read; a clear error otherwise
    (NotFoundError for a missing file, InputError for a directory, a FIFO, a device ...)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise NotFoundError(f"{p}: no such file", code="not_found.file",
                            hint="check the path and the current directory") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read: {exc.strerror}", code="input.unreadable",
                         hint="check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{p}: is a directory, not a file", code="input.not_a_file",
                         hint="name a file inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise InputError(f"{p}: is {kind}, not a regular file", code="input.not_a_file",
                         hint="save the stream to a file and import that file")
    return p


def check_output_path(path: str | os.PathLike[str], label: str = "") -> Path:
    """The path an output is to be written at, refused (InputError) when it is a folder or
    its folder does not exist; ``label`` (``"-o "``) is how the user named it."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{label}{str(path)!r} is a folder", hint="give a file name in it",
                         code="output.is_folder")
    if not p.parent.is_dir():
        raise InputError(f"{label}{str(path)!r}: the folder {str(p.parent)!r} does not exist",
                         hint="create the folder first, or write somewhere else",
                         code="output.no_folder")
    return p


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (regular files only)."""
    h = hashlib.sha256()
    with open(check_input_path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- encodings ---------------------------------------------------------------------------------

_MARK = "truceguard.mark"


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decode each byte no character could be made of as U+DC00 + the byte (as
    ``surrogateescape`` does, for every byte value), so that it survives re-encoding to UTF-8
    (with ``surrogatepass``) and is refused, by value, where its line is decoded."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(_MARK, _mark_undecodable)


def lookup_encoding(encoding: str) -> str:
    """The codec name of ``encoding`` ('auto' stays 'auto'); InputError if there is none."""
    if encoding == "auto":
        return encoding
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise InputError(f"unknown encoding {encoding!r}", code="input.bad_encoding",
                         hint="use auto, utf-8, cp1252, utf-16 or another Python codec name"
                         ) from None


@lru_cache(maxsize=64)
def ascii_safe(encoding: str) -> bool:
    """Whether every byte below 0x80 of ``encoding`` is that ASCII character and never part of
    another character (UTF-8 and the single-byte code pages); then lines, quotes and commas can
    be found in the bytes themselves."""
    name = lookup_encoding(encoding)
    if name in ("auto", "utf-8", "utf-8-sig"):
        return True
    if "2022" in name or name in ("utf-7", "hz"):
        return False
    decoded = bytes(range(256)).decode(name, "replace")
    return len(decoded) == 256 and decoded[:128] == "".join(map(chr, range(128)))


def sniff_encoding(head: bytes) -> str | None:
    """The encoding a file's first bytes declare: a UTF-16/32 byte-order mark, or UTF-16
    without one (ASCII text with every other byte NUL); None when they declare nothing."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    sample = head[: len(head) & ~1][:256]
    if len(sample) >= 4 and b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) == len(odd) and 0 not in even:
            return "utf-16-le"
        if even.count(0) == len(even) and 0 not in odd:
            return "utf-16-be"
    return None


class Utf8Recoder:
    """A read-only binary stream: the UTF-8 bytes of a file in another encoding.

    Decoding is incremental (a code unit or a multi-byte sequence cut by a read is completed by
    the next one). A byte that decodes to nothing comes out as the UTF-8 of U+DC00 + the byte
    (the line holding it is refused where it is decoded, naming the byte).
    """

    BLOCK = 1 << 20

    def __init__(self, fh: BinaryIO, encoding: str) -> None:
        self.fh = fh
        self.decoder = codecs.getincrementaldecoder(encoding)(errors=_MARK)
        self.buf = bytearray()
        self.eof = False

    def _fill(self, want: int) -> None:
        while (want < 0 or len(self.buf) < want) and not self.eof:
            data = self.fh.read(max(want, self.BLOCK))
            self.eof = not data
            text = self.decoder.decode(data, final=self.eof)
            self.buf += text.encode("utf-8", "surrogatepass")

    def read(self, n: int = -1) -> bytes:
        self._fill(n)
        if n < 0 or n >= len(self.buf):
            out = bytes(self.buf)
            self.buf.clear()
        else:
            out = bytes(self.buf[:n])
            del self.buf[:n]
        return out

    def readline(self, limit: int = -1) -> bytes:
        start = 0
        while True:
            nl = self.buf.find(b"\n", start)
            if nl >= 0 and (limit < 0 or nl < limit):
                return self.read(nl + 1)
            if (limit >= 0 and len(self.buf) >= limit) or self.eof:
                return self.read(limit)
            start = len(self.buf)
            self._fill(len(self.buf) + 1)

    def close(self) -> None:
        self.fh.close()

    @property
    def closed(self) -> bool:
        return bool(self.fh.closed)

    def __enter__(self) -> Utf8Recoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Input:
    """An opened input: ``fh`` gives bytes whose lines decode with ``encoding`` ('auto', a
    strict 'utf-8', or an ASCII-safe code page); ``label`` is the file's own encoding, as
    messages name it."""

    path: Path
    fh: Any
    encoding: str
    label: str

    def close(self) -> None:
        self.fh.close()


def open_input(path: str | os.PathLike[str], encoding: str = "auto") -> Input:
    """Open a regular file for reading (see ``check_input_path``) with the encoding handling of
    the module docstring."""
    name = lookup_encoding(encoding)
    p = check_input_path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - the Input owns it
    except OSError as exc:
        raise InputError(f"{p}: cannot be read: {exc.strerror}", code="input.unreadable",
                         hint="check the path and its permissions") from None
    if name == "auto":
        head = fh.read(256)
        fh.seek(0)
        declared = sniff_encoding(head)
        if declared is None:
            return Input(p, fh, "auto", "auto")
        return Input(p, Utf8Recoder(fh, declared), "utf-8", declared)
    if name in ("utf-8", "utf-8-sig"):
        return Input(p, fh, "utf-8", encoding)
    if ascii_safe(name):
        return Input(p, fh, name, encoding)
    return Input(p, Utf8Recoder(fh, name), "utf-8", encoding)


def decode_line(data: bytes, encoding: str, label: str | None = None) -> tuple[str, str]:
    """(text, error) for one line of bytes; error is '' when the line decoded cleanly.

    ``label`` names the file's own encoding when ``data`` was recoded to UTF-8 from it."""
    if encoding == "auto":
        try:
            return data.decode("utf-8"), ""
        except UnicodeDecodeError:
            try:
                return data.decode("cp1252"), ""
            except UnicodeDecodeError:
                return data.decode("latin-1"), ""
    try:
        return data.decode(encoding), ""
    except UnicodeDecodeError as exc:
        label = label or encoding
        if label != encoding:  # recoded: the bad byte is the one marked at U+DC00 + byte
            text = data.decode("utf-8", "surrogatepass")
            at = next((i for i, c in enumerate(text) if 0xDC00 <= ord(c) <= 0xDCFF), 0)
            byte = ord(text[at]) - 0xDC00 if text else 0
            clean = "".join(c if not 0xD800 <= ord(c) <= 0xDFFF else "\ufffd" for c in text)
            return clean, f"not valid {label}: byte 0x{byte:02x} at column {at + 1}"
        bad = data[exc.start : exc.start + 1].hex()
        hint = " (try --encoding cp1252, or --encoding auto)" if encoding.startswith("utf") else ""
        return (
            data.decode(encoding, errors="replace"),
            f"not valid {label}: byte 0x{bad} at column {exc.start + 1}{hint}",
        )


# --- lines -------------------------------------------------------------------------------------


class RecordTooLong(Exception):
    """Raised by ``ChunkedLines.lines`` when the record being read passes the bound."""


class ChunkedLines:
    """Physical lines of an input as text, read in large chunks, bounded and numbered.

    ``lines(start)`` feeds ``csv.reader`` from C-level list iteration (no Python call per line),
    from line ``start`` on (lines still held are served again: that is how reading resumes
    after a refused record). ``raw(a, b)`` returns physical lines ``a..b-1`` (1-based) verbatim.
    Memory holds a chunk plus the current record: ``record_start`` is the line the current
    record began on, and ``lines`` raises ``RecordTooLong`` once the text from there on passes
    ``max_record_bytes``. A line longer than ``max_record_bytes`` is replaced by an empty line
    (never held) and its error kept; so are lines the encoding cannot decode (``errors``:
    line -> reason). ``byte_chunks()`` gives the same bounded lines as bytes (the fast CSV path
    reads those).

    To go on where another reader stopped: ``first_line`` numbers the first line served,
    ``pending`` holds bytes already read and bounded (served first), ``errors`` is shared.
    """

    CHUNK = 4 << 20
    KEEP_LINES = 50_000  # held lines before ``start`` are let go past this many ...
    KEEP_CHARS = 16 << 20  # ... or past this much text

    def __init__(
        self,
        source: Input,
        max_record_bytes: int,
        *,
        first_line: int = 1,
        pending: bytes = b"",
        errors: dict[int, str] | None = None,
    ) -> None:
        self.source = source
        self.fh = source.fh
        self.encoding = source.encoding
        self.label = source.label
        self.max = max_record_bytes
        self.buf: list[str] = []  # lines held, the first being line number ``base``
        self.base = first_line
        self.held = 0  # characters held in ``buf``
        self.errors: dict[int, str] = {} if errors is None else errors
        self.bytes_read = 0
        self.header_lines = 0  # physical lines the header took (set by ``open_csv``)
        self.record_start = first_line
        self._first = first_line == 1 and not pending
        self._next_line = first_line
        # bytes already read and bounded (whole lines, over-long ones blanked), served first
        self._pending = pending
        self._decoded: Iterator[list[str]] | None = None

    def _decode_chunk(self, data: bytes, first_line: int) -> list[str]:
        enc = "utf-8" if self.encoding == "auto" else self.encoding
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            out = []
            for i, line in enumerate(data.split(b"\n")):
                t, err = decode_line(line, self.encoding, self.label)
                if err:
                    self.errors[first_line + i] = err
                out.append(t)
            text = "\n".join(out)
        self.held += len(text)
        lines = text.split("\n")
        last = lines.pop()
        lines = [ln + "\n" for ln in lines]
        if last:
            lines.append(last)
        return lines

    def byte_chunks(self) -> Iterator[tuple[bytes, int]]:
        """(data, first line number) for blocks of whole physical lines, as bytes.

        Every line over the limit is blanked (its error kept in ``errors``); the file's
        byte-order mark is dropped. Each block ends with a newline, except at the end of a file
        whose last line has none.
        """
        if self._pending:
            data, self._pending = self._pending, b""
            first = self._next_line
            self._next_line += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            yield data, first
        while True:
            data = self.fh.read(self.CHUNK)
            if not data:
                return
            if not data.endswith(b"\n"):
                data += self.fh.readline(self.max + 1)
            self.bytes_read += len(data)
            if not _has_long_line(data, self.max):
                first = self._next_line
                nl = data.count(b"\n")
                if self._first:
                    self._first = False
                    if data.startswith(b"\xef\xbb\xbf"):
                        data = data[3:]
                self._next_line += nl if data.endswith(b"\n") else nl + 1
                yield data, first
                continue
            parts = data.split(b"\n")
            oversize = {i for i, part in enumerate(parts) if len(part) > self.max}
            tail_oversize = not data.endswith(b"\n") and len(parts[-1]) > self.max
            if tail_oversize:  # skip the rest of an over-long line without holding it
                while True:
                    more = self.fh.readline(1 << 20)
                    self.bytes_read += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                data = data + b"\n"
                parts = data.split(b"\n")
            if oversize:
                for i in sorted(oversize):
                    self.errors[self._next_line + i] = (
                        f"line is over the limit of {self.max:,} bytes"
                    )
                    parts[i] = b""
                data = b"\n".join(parts)
            if self._first:
                self._first = False
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
            first = self._next_line
            self._next_line += len(parts) - 1 if data.endswith(b"\n") else len(parts)
            yield data, first

    def _more(self) -> list[str] | None:
        """The next chunk's lines (held), or None at the end of the file."""
        if self._decoded is None:
            self._decoded = (self._decode_chunk(d, f) for d, f in self.byte_chunks())
        chunk = next(self._decoded, None)
        if chunk is not None:
            self.buf.extend(chunk)
        return chunk

    def lines(self, start: int | None = None) -> Iterator[str]:
        """Lines from ``start`` (default: the first line held) to the end of the file."""
        at = (self.base if start is None else start) - self.base
        if at < len(self.buf):
            yield from self.buf[at:]
        while True:
            self._check_bound()
            chunk = self._more()
            if chunk is None:
                return
            yield from chunk

    def _check_bound(self) -> None:
        """RecordTooLong if the lines the current record has taken (every line held from
        ``record_start`` on: more are read only when those are used up) pass the bound."""
        at = self.record_start - self.base
        if at >= 0 and sum(map(len, self.buf[at:])) > self.max:
            raise RecordTooLong

    def raw(self, start: int, end: int) -> str:
        """Lines ``start .. end - 1`` verbatim; lets go of lines before ``start``."""
        self.forget_before(start)
        at = start - self.base
        return "".join(self.buf[at : end - self.base])

    def forget_before(self, line: int) -> None:
        """Let go of the lines before ``line`` once enough are held."""
        drop = line - self.base
        if drop > 0 and (drop > self.KEEP_LINES or self.held > self.KEEP_CHARS):
            self.held -= sum(map(len, self.buf[:drop]))
            del self.buf[:drop]
            self.base = line

    def close(self) -> None:
        self.fh.close()

    def error_in(self, start: int, end: int) -> str:
        if not self.errors:
            return ""
        for line in range(start, end):
            err = self.errors.pop(line, "")
            if err:
                return err
        return ""


def _has_long_line(data: bytes, limit: int) -> bool:
    """Whether some line of ``data`` (split on newlines) is longer than ``limit`` bytes; jumps
    from line start to the last newline within reach, so a few steps cover megabytes."""
    pos, n = 0, len(data)
    while n - pos > limit:
        nl = data.rfind(b"\n", pos, pos + limit + 1)
        if nl < 0:
            return True
        pos = nl + 1
    return False


# --- CSV ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class CsvRecord:
    line: int
    fields: list[str]
    raw: str
    error: str


# The first line of a CSV export: its marking banner, passed over by the readers.
BANNER_PREFIX = "# marking: "


def open_csv(
    path: str | os.PathLike[str],
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> tuple[list[str], Iterator[CsvRecord], ChunkedLines]:
    """The header, an iterator over the data records, and the line source of a CSV file.

    Raises FormatError for an empty file, an unreadable header, a header that is not CSV, or a
    column name that appears twice (which of the two columns a reader took would be a guess).
    The caller closes the file with ``lines.close()`` (in a ``finally``) if it stops before
    the records run out; running them out closes it.
    """
    source = open_input(path, encoding)
    p = source.path
    src = ChunkedLines(source, max_record_bytes)
    try:
        reader = csv.reader(src.lines(), strict=False)
        try:
            header = next(reader)
        except StopIteration:
            raise FormatError(f"{p}: the file is empty (no header line)") from None
        except RecordTooLong:
            raise FormatError(f"{p}:1: the header is over the limit of "
                              f"{max_record_bytes:,} bytes (a quote left open?)") from None
        except csv.Error as exc:
            raise FormatError(f"{p}:1: cannot read the header: {exc}") from exc
        err = src.error_in(1, reader.line_num + 1)
        if err:
            raise FormatError(f"{p}:1: header: {err}")
        if len(header) == 1 and header[0].startswith(BANNER_PREFIX):
            header = next(reader)  # an export's marking banner: the header follows it
        header = [h.strip() for h in header]
        if not any(header):
            raise FormatError(f"{p}:1: the header line is blank")
        check_unique_columns(str(p), header)
    except BaseException:
        src.close()
        raise
    src.header_lines = reader.line_num
    return header, csv_records(src, len(header), src.header_lines + 1), src


def check_unique_columns(path: str, header: list[str]) -> None:
    """FormatError naming the first column name (not blank) that the header holds twice."""
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise FormatError(
                f"{path}:1: the column {name[:60]!r} appears more than once in the header",
                hint="rename or remove one of them, so that each column has one meaning",
                code="input.duplicate_column",
            )
        seen.add(name)


def csv_records(src: ChunkedLines, ncol: int, first: int) -> Iterator[CsvRecord]:
    """The records of ``src`` from line ``first`` on, line-numbered, with resynchronisation
    after a refused record that ran over several lines (the module docstring). ``ncol`` is the
    header's number of fields. Closes the file at the end."""
    with src.fh:
        line = first
        while True:
            reader = csv.reader(src.lines(line), strict=False)
            start = line
            refused = ""
            while not refused:
                src.record_start = start
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except RecordTooLong:
                    refused = f"record is over the limit of {src.max:,} bytes"
                    end = start + 1
                    break
                except csv.Error as exc:
                    refused = (f"a field is over the limit of {csv.field_size_limit():,} bytes"
                               if "field limit" in str(exc) else f"not valid CSV: {exc}")
                    end = start + max(1, reader.line_num - (start - line))
                    break
                end = line + reader.line_num
                raw = src.raw(start, end)
                if end - start > 1 and fields:
                    size = len(raw.encode("utf-8", "surrogatepass")) - _line_end(raw)
                    if len(fields) != ncol:
                        refused = f"{len(fields)} fields, the header has {ncol}"
                    elif size > src.max:
                        refused = f"record is over the limit of {src.max:,} bytes"
                    if refused:
                        break
                err = src.error_in(start, end)
                if fields or err:
                    yield CsvRecord(start, fields, raw, err)
                start = end
            head = src.raw(start, end)
            if len(head) > src.max:
                head = head[:RAW_HEAD]
            src.errors.pop(start, None)
            line = resync(src, start + 1, ncol)
            yield CsvRecord(start, [], head, _refusal(refused, start, line))


def _line_end(raw: str) -> int:
    return 2 if raw.endswith("\r\n") else 1 if raw.endswith(("\n", "\r")) else 0


def _refusal(reason: str, start: int, resumed: int) -> str:
    if resumed - start <= 1:
        return f"{reason} (a quote left open?); reading went on at the next line"
    return (f"{reason} (a quote left open?); lines {start}-{resumed - 1} were skipped as part "
            f"of it, reading went on at line {resumed}, the next whole record")


def resync(src: ChunkedLines, line: int, ncol: int) -> int:
    """The first line from ``line`` on that is a whole record by itself (``ncol`` fields, no
    quote left open, no line error); the line after the last if there is none."""
    for text in src.lines(line):
        src.record_start = line
        if text.strip() and line not in src.errors and _whole_record(text, ncol):
            return line
        src.errors.pop(line, None)
        line += 1
        src.forget_before(line)
    return line


def _whole_record(text: str, ncol: int) -> bool:
    try:
        fields = next(csv.reader((text,), strict=False))
    except (csv.Error, StopIteration):
        return False
    return len(fields) == ncol and not fields[-1].endswith("\n")


def require_columns(path: str | os.PathLike[str], header: list[str], needed: list[str]) -> None:
    from truceguard.errors import MissingColumnsError

    missing = [c for c in needed if c not in header]
    if missing:
        raise MissingColumnsError(str(path), missing, header)


def row_error(path: str | os.PathLike[str], rec: CsvRecord, field: str, reason: str) -> RowError:
    return RowError(str(path), rec.line, field, reason, rec.raw)


def parse_lat_lon(lat_s: str, lon_s: str) -> tuple[float, float, str, str]:
    """(lat, lon, field, reason): field/reason are '' when both are valid WGS84 degrees."""
    try:
        lat = number(lat_s, "latitude")
    except FieldError:
        return 0.0, 0.0, "latitude", f"not a number: {lat_s[:40]!r}"
    try:
        lon = number(lon_s, "longitude")
    except FieldError:
        return 0.0, 0.0, "longitude", f"not a number: {lon_s[:40]!r}"
    if not -90.0 <= lat <= 90.0:
        return lat, lon, "latitude", f"{lat} is outside -90..90"
    if not -180.0 <= lon <= 180.0:
        return lat, lon, "longitude", f"{lon} is outside -180..180"
    return lat, lon, "", ""
