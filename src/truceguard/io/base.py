"""What every reader shares: bounded, line-numbered, encoding-aware reading of untrusted files.

A reader is a generator ``read_X(path, **options)`` that yields, in file order, either an
``Observation`` (a good record, with its raw text verbatim, that text's SHA-256 and the line it
started on) or a ``RowError`` (a bad record: file, line, field, reason, and the raw text). It
raises ``MissingColumnsError`` / ``FormatError`` before yielding anything when the file as a whole
cannot be read, so that nothing of such a file is imported.

Bounds: a physical line or record longer than ``max_record_bytes`` is refused as one RowError
(and skipped without holding it in memory); a whole file larger than ``max_file_bytes`` is
refused by readers that must hold it (GeoJSON).

Encodings: ``encoding="auto"`` decodes each line as UTF-8 and, where a line is not valid UTF-8,
as Windows-1252 (the encoding of spreadsheet exports); an explicit encoding is strict, and a line
it cannot decode makes its record a RowError that says which byte and what to pass instead.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from truceguard.errors import FormatError, RowError

MAX_RECORD_BYTES = 1 << 20  # 1 MiB: no real event record comes near it
MAX_FILE_BYTES = 512 << 20  # for readers that must hold the whole document

csv.field_size_limit(MAX_RECORD_BYTES)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def decode_line(data: bytes, encoding: str) -> tuple[str, str]:
    """(text, error) for one line of bytes; error is '' when the line decoded cleanly."""
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
        bad = data[exc.start : exc.start + 1].hex()
        hint = " (try --encoding cp1252, or --encoding auto)" if encoding.startswith("utf") else ""
        return (
            data.decode(encoding, errors="replace"),
            f"not valid {encoding}: byte 0x{bad} at column {exc.start + 1}{hint}",
        )
    except LookupError as exc:
        raise FormatError(f"unknown encoding {encoding!r}") from exc


class ChunkedLines:
    """Physical lines of a binary file as text, read in large chunks, bounded and numbered.

    ``lines()`` feeds ``csv.reader`` from C-level list iteration (no Python call per line);
    ``raw(a, b)`` returns physical lines ``a..b-1`` (1-based) verbatim, so each record's raw text
    comes back exactly as it was in the file. Memory holds one chunk plus the current record.
    A line longer than ``max_record_bytes`` is replaced by an empty line (never held) and its
    error kept; so are lines that the encoding cannot decode (``errors``: line -> reason).
    ``byte_chunks()`` gives the same bounded lines as bytes (the fast CSV path reads those).

    To go on where another reader stopped: ``first_line`` numbers the first line served,
    ``pending`` holds bytes already read and bounded (served first), ``errors`` is shared.
    """

    CHUNK = 4 << 20

    def __init__(
        self,
        fh: BinaryIO,
        encoding: str,
        max_record_bytes: int,
        *,
        first_line: int = 1,
        pending: bytes = b"",
        errors: dict[int, str] | None = None,
    ) -> None:
        self.fh = fh
        self.encoding = encoding
        self.max = max_record_bytes
        self.buf: list[str] = []  # lines held, the first being line number ``base``
        self.base = first_line
        self.errors: dict[int, str] = {} if errors is None else errors
        self.bytes_read = 0
        self.header_lines = 0  # physical lines the header took (set by ``open_csv``)
        self._first = first_line == 1 and not pending
        self._next_line = first_line
        # bytes already read and bounded (whole lines, over-long ones blanked), served first
        self._pending = pending

    def _decode_chunk(self, data: bytes, first_line: int) -> list[str]:
        enc = "utf-8" if self.encoding == "auto" else self.encoding
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            out = []
            for i, line in enumerate(data.split(b"\n")):
                t, err = decode_line(line, self.encoding)
                if err:
                    self.errors[first_line + i] = err
                out.append(t)
            text = "\n".join(out)
        except LookupError as exc:
            raise FormatError(f"unknown encoding {self.encoding!r}") from exc
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
                size = len(parts[-1])
                while True:
                    more = self.fh.readline(1 << 20)
                    size += len(more)
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

    def _chunks(self) -> Iterator[list[str]]:
        for data, first in self.byte_chunks():
            yield self._decode_chunk(data, first)

    def lines(self) -> Iterator[str]:
        for chunk in self._chunks():
            self.buf.extend(chunk)
            yield from chunk

    def raw(self, start: int, end: int) -> str:
        """Lines ``start .. end - 1`` verbatim; forgets everything before ``start``."""
        drop = start - self.base
        if drop > 50_000:
            del self.buf[:drop]
            self.base = start
            drop = 0
        return "".join(self.buf[drop : end - self.base])

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


@dataclass(slots=True)
class CsvRecord:
    line: int
    fields: list[str]
    raw: str
    error: str


def open_csv(
    path: str | os.PathLike[str],
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> tuple[list[str], Iterator[CsvRecord], ChunkedLines]:
    """The header, an iterator over the data records, and the line source of a CSV file.

    Raises FormatError for an empty file, an unreadable header, or a header that is not CSV.
    The caller closes the file with ``lines.close()`` (in a ``finally``) if it stops before
    the records run out; running them out closes it.
    """
    p = Path(path)
    fh = open(p, "rb")  # noqa: SIM115 - closed by the record iterator
    src = ChunkedLines(fh, encoding, max_record_bytes)
    reader = csv.reader(src.lines(), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise FormatError(f"{p}: the file is empty (no header line)") from None
    except csv.Error as exc:
        fh.close()
        raise FormatError(f"{p}:1: cannot read the header: {exc}") from exc
    err = src.error_in(1, reader.line_num + 1)
    if err:
        fh.close()
        raise FormatError(f"{p}:1: header: {err}")
    header = [h.strip() for h in header]
    if not any(header):
        fh.close()
        raise FormatError(f"{p}:1: the header line is blank")

    src.header_lines = reader.line_num
    return header, csv_records(src, reader, 0), src


def csv_records(src: ChunkedLines, reader: Any, offset: int) -> Iterator[CsvRecord]:
    """The records of ``reader`` (a ``csv.reader`` over ``src.lines()``), line-numbered.

    ``offset`` is the number of physical lines before the first line ``src`` serves that the
    reader has not counted (0 when it reads the file from its start). Closes the file at the end.
    """
    line_num = reader.line_num
    start = offset + line_num + 1
    with src.fh:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = offset + reader.line_num + 1
                yield CsvRecord(start, [], src.raw(start, end), f"not valid CSV: {exc}")
                start = end
                continue
            end = offset + reader.line_num + 1
            err = src.error_in(start, end)
            if fields or err:
                yield CsvRecord(start, fields, src.raw(start, end), err)
            start = end


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
        lat = float(lat_s)
    except ValueError:
        return 0.0, 0.0, "latitude", f"not a number: {lat_s[:40]!r}"
    try:
        lon = float(lon_s)
    except ValueError:
        return 0.0, 0.0, "longitude", f"not a number: {lon_s[:40]!r}"
    if not -90.0 <= lat <= 90.0:
        return lat, lon, "latitude", f"{lat} is outside -90..90"
    if not -180.0 <= lon <= 180.0:
        return lat, lon, "longitude", f"{lon} is outside -180..180"
    return lat, lon, "", ""
