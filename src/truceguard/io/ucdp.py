"""UCDP Georeferenced Event Dataset (GED) CSV: one deadly event a row.

Precision codes become honest uncertainties:

- ``where_prec`` (1 exact place .. 7 international waters) -> a radius in metres,
  ``WHERE_PREC_M`` below (e.g. 2 = "within 25 km of a known point" -> 25,000 m);
- ``date_prec`` (1 exact day .. 5 more than a month) -> the minimum width of the time window,
  widened further to cover ``date_start``..``date_end``.

The circle is what fusion links by. Where the code stands for a unit (3 a second-order unit,
4 a first-order unit, 5 a named part of the country, 6 the country: the GED then gives that
unit's stand-in point, not where the event happened), adjudication judges the polygon the
event may lie in instead (``judge.places.precision_region``, from the ``where_prec``,
``adm_1`` and ``where_description`` kept with the record).

What a record can show (``category``): a death from a mine, an explosive remnant of war, a
booby trap or a tripwire, found by ``EXPLOSIVE_REMNANT_WORDS`` in the source's own text fields
(``source_headline``, ``source_original``, ``where_description``), is ``explosive_remnant``;
a lower-clarity event (``event_clarity`` 2, which includes UCDP's roll-ups of a period, such
as "Ukraine AUGUST 2020") is ``low_clarity``; neither is a ceasefire violation unless a
clause opts in. The others follow ``type_of_violence``.

Dates are ISO (``2015-02-15``) in current exports and US month-first (``2/15/2015 12:00:00 AM``
or ``02/15/2015 00:00``) in older spreadsheet exports; both are read (years 1000-9999). The
source's ``id`` is the deduplication key, so re-importing the same event from another export
stores it once. Every record carries the ``releasability`` option's marking (canonical text);
UCDP rows have no marking of their own. UCDP's events are curated: its coders have already
merged the reports of one event (``curated=True`` in the registry).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from operator import methodcaller
from pathlib import Path
from typing import Any

import numpy as np

from truceguard.errors import RowError
from truceguard.io.base import (
    MAX_RECORD_BYTES,
    CsvRecord,
    open_csv,
    parse_lat_lon,
    require_columns,
    row_error,
    sha256_hex,
)
from truceguard.io.columns import ObservationColumns
from truceguard.io.fastcsv import Block, fast_encoding, read_blocks
from truceguard.io.registry import ReaderSpec, checked_options, csv_columns
from truceguard.io.timeparse import DAY, YEAR_MIN, parse_date_iso, parse_time
from truceguard.io.values import MarkingCeiling
from truceguard.model import Observation

REQUIRED = ["id", "latitude", "longitude", "date_start", "date_end", "where_prec", "date_prec"]

# UCDP GED codebook, where_prec: the radius the location is honest to.
WHERE_PREC_M = {
    1: 1_000.0,  # exact location
    2: 25_000.0,  # within 25 km of a known point
    3: 50_000.0,  # second-order administrative division
    4: 150_000.0,  # first-order administrative division (oblast)
    5: 50_000.0,  # a part of the country, a point between two places, or vaguely placed
    6: 500_000.0,  # country only
    7: 50_000.0,  # waters or airspace: a water area's centroid or an estimated point
}
# date_prec: the smallest honest time window.
DATE_PREC_S = {1: DAY, 2: 6 * DAY, 3: 7 * DAY, 4: 31 * DAY, 5: 366 * DAY}
CATEGORY_BY_VIOLENCE = {"1": "armed_clash", "2": "armed_clash", "3": "other"}
# Words in UCDP's text fields that tell a death from a mine, an explosive remnant of war, a
# booby trap or a tripwire (not "mines" alone: Russian-language sources call mortar rounds
# "mines", as in "launch 300 mines on ...").
EXPLOSIVE_REMNANT_WORDS = (
    r"\bland ?mines?\b|\bmine[- ](?:blast|explosion)|\b(?:hit|hits|hitting|stepped on|stepping on"
    r"|blown up by|killed by|by) (?:a |an )?mines?\b|\bmines? kills?\b|\bbooby[- ]?traps?\b"
    r"|\btrip[- ]?wires?\b|\bexplosive remnants?\b|\bunexploded\b|\bUXO\b"
    r"|\b(?:unknown|unidentified) (?:explosive )?device\b"
)
_ERW = re.compile(EXPLOSIVE_REMNANT_WORDS, re.IGNORECASE)
_ERW_BYTES = re.compile(EXPLOSIVE_REMNANT_WORDS.encode(), re.IGNORECASE)
TEXT_FIELDS = ("source_headline", "source_original", "where_description")
SOURCE = "UCDP GED"
# Parsed columns kept as attributes (the raw record keeps every column anyway).
KEPT = ("side_a", "side_b", "adm_1", "adm_2", "best", "low", "high", "event_clarity")
_CR = 13
_NO_DATE = -(1 << 62)  # marks a date field the row path would refuse
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_WHERE = {str(k): (k, v) for k, v in WHERE_PREC_M.items()}
_DATE_PREC = {str(k): (k, v) for k, v in DATE_PREC_S.items()}


def _date(text: str, cache: dict[str, int]) -> int:
    t = cache.get(text)
    if t is None:
        if len(text) == 10 and text[4] == "-":
            t = parse_date_iso(text)
        else:
            t = parse_time(text)[0] // DAY * DAY
        cache[text] = t
    return t


@checked_options("ucdp")
def read_ucdp(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
) -> Iterator[Observation | RowError]:
    """Observations (and RowErrors for bad rows) of a UCDP GED CSV file, in file order."""
    marking = MarkingCeiling(releasability).text
    header, records, lines = open_csv(path, encoding, max_record_bytes)
    try:
        yield from _read(str(path), header, records, marking)
    finally:
        lines.close()


def _read(
    fname: str, header: list[str], records: Iterator[CsvRecord], releasability: str
) -> Iterator[Observation | RowError]:
    require_columns(fname, header, REQUIRED)
    convert = RowConverter(fname, header, releasability)
    for rec in records:
        yield convert(rec)


class RowConverter:
    """One CSV record of a UCDP file to an Observation or a RowError (the row path)."""

    def __init__(self, fname: str, header: list[str], releasability: str) -> None:
        idx = {name: i for i, name in enumerate(header)}
        self.fname = fname
        self.releasability = releasability
        self.idx = idx
        self.i_id, self.i_lat, self.i_lon = idx["id"], idx["latitude"], idx["longitude"]
        self.i_ds, self.i_de = idx["date_start"], idx["date_end"]
        self.i_wp, self.i_dp = idx["where_prec"], idx["date_prec"]
        self.i_tv = idx.get("type_of_violence")
        self.i_office = idx.get("source_office")
        self.i_desc = idx.get("where_description")
        self.kept = [(k, idx[k]) for k in KEPT if k in idx]
        self.i_clarity = idx.get("event_clarity")
        self.i_texts = [idx[k] for k in TEXT_FIELDS if k in idx]
        self.ncol = len(header)
        self.dates: dict[str, int] = {}

    def category(self, f: list[str]) -> str:
        """What the record can show: ``explosive_remnant``, ``low_clarity`` or the category of
        its type of violence (module docstring)."""
        if any(_ERW.search(f[i]) for i in self.i_texts):
            return "explosive_remnant"
        if self.i_clarity is not None and f[self.i_clarity].strip() == "2":
            return "low_clarity"
        return CATEGORY_BY_VIOLENCE.get(f[self.i_tv] if self.i_tv is not None else "1", "other")

    def __call__(self, rec: CsvRecord) -> Observation | RowError:
        fname = self.fname
        if rec.error:
            return row_error(fname, rec, "record", rec.error)
        f = rec.fields
        if len(f) != self.ncol:
            return row_error(fname, rec, "record", f"{len(f)} fields, the header has {self.ncol}")
        lat, lon, bad, why = parse_lat_lon(f[self.i_lat], f[self.i_lon])
        if bad:
            return row_error(fname, rec, bad, why)
        try:
            t0 = _date(f[self.i_ds], self.dates)
        except ValueError as exc:
            return row_error(fname, rec, "date_start", str(exc))
        try:
            t1 = _date(f[self.i_de], self.dates) + DAY - 1
        except ValueError as exc:
            return row_error(fname, rec, "date_end", str(exc))
        if t1 < t0:
            return row_error(fname, rec, "date_end", f"{f[self.i_de]!r} is before date_start")
        try:
            wp, unc = _WHERE[f[self.i_wp]]
        except KeyError:
            return row_error(fname, rec, "where_prec", f"{f[self.i_wp][:20]!r} is not a code 1-7")
        try:
            dp, min_window = _DATE_PREC[f[self.i_dp]]
        except KeyError:
            return row_error(fname, rec, "date_prec", f"{f[self.i_dp][:20]!r} is not a code 1-5")
        ident = f[self.i_id]
        if not ident:
            return row_error(fname, rec, "id", "empty")
        attrs: dict[str, object] = {k: f[i] for k, i in self.kept if f[i] != ""}
        attrs["where_prec"] = wp
        attrs["date_prec"] = dp
        i_office, i_desc = self.i_office, self.i_desc
        origin = f[i_office].split(";", 1)[0].strip() if i_office is not None else ""
        return Observation(
            source=SOURCE,
            how_known="open_source",
            t_start=t0,
            t_end=t1,
            time_precision_s=max(t1 - t0 + 1, min_window),
            lat=lat,
            lon=lon,
            uncertainty_m=unc,
            category=self.category(f),
            text=f[i_desc] if i_desc is not None else "",
            origin=origin,
            source_ref=ident,
            releasability=self.releasability,
            raw=rec.raw,
            raw_sha256=sha256_hex(rec.raw),
            source_file=fname,
            source_line=rec.line,
            attributes=attrs,
        )


@checked_options("ucdp")
def read_ucdp_columns(
    path: str | os.PathLike[str],
    *,
    encoding: str = "auto",
    max_record_bytes: int = MAX_RECORD_BYTES,
    releasability: str = "PUBLIC",
) -> Iterator[ObservationColumns | Observation | RowError]:
    """``read_ucdp`` for the import: the same records, in the same order, with the same
    results, but good records mostly come as one ``ObservationColumns`` per block of the file
    (the fast path, ``io.fastcsv``); records it does not take come one by one from the row
    path, as ``Observation`` or ``RowError``."""
    fname = str(path)
    marking = MarkingCeiling(releasability).text
    header, records, lines = open_csv(path, encoding, max_record_bytes)
    try:
        require_columns(fname, header, REQUIRED)
        convert = RowConverter(fname, header, marking)
        if not fast_encoding(lines.encoding):
            for rec in records:
                yield convert(rec)
            return
        header_lines = lines.header_lines
    finally:
        lines.close()
    blocks = BlockConverter(convert)
    source = read_blocks(path, encoding, max_record_bytes, header_lines, len(header))
    rest: Iterator[CsvRecord] | None = None
    try:
        for item in source:
            if isinstance(item, Block):
                yield from blocks(item)
            else:
                rest = item
                for rec in rest:
                    yield convert(rec)
    finally:
        if rest is not None:
            rest.close()  # type: ignore[attr-defined]
        source.close()  # type: ignore[attr-defined]


class BlockConverter:
    """A block of UCDP records, column by column with numpy (the fast path).

    A record is taken here only when every value it needs is one this code reads exactly as
    ``RowConverter`` does: unquoted (``where_description`` may be quoted), plain decimal
    numbers in range, dates ``_date`` reads (ISO with numpy, any other text once per distinct
    value by ``_date`` itself), single-digit codes, attribute values that need no escaping in
    JSON. Any other record, and every record that is invalid, goes to ``RowConverter``; its
    good records join the block's columns in file order.
    """

    NUM_WIDTH = 24
    DATE_WIDTH = 40

    def __init__(self, row: RowConverter) -> None:
        self.row = row
        self.constants: dict[str, object] = {
            "source": SOURCE,
            "how_known": "open_source",
            "weapon_class": "unknown",
            "count": 1,
            "releasability": row.releasability,
            "source_file": row.fname,
        }
        # Literal bytes the attributes JSON is assembled from (offsets into ``lit``).
        pieces: list[bytes] = [b"\0", b"{", b'",', b'"where_prec":', b',"date_prec":', b"}"]
        pieces += [_JSON.encode(k).encode() + b':"' for k, _ in row.kept]
        self.lit = np.frombuffer(b"".join(pieces), np.uint8)
        offs = np.cumsum([0] + [len(p) for p in pieces])
        self.lit_at = {p: (int(offs[i]), len(p)) for i, p in enumerate(pieces)}
        self.key_at = [self.lit_at[_JSON.encode(k).encode() + b':"'] for k, _ in row.kept]
        self.date_bytes: dict[bytes, int] = {}  # date field bytes -> epoch seconds (or bad)
        self.unc_of = (0.0, *(WHERE_PREC_M[k] for k in range(1, 8)))  # code -> metres
        self.min_window = np.array([0] + [DATE_PREC_S[k] for k in range(1, 6)], np.int64)

    def __call__(self, b: Block) -> Iterator[ObservationColumns | Observation | RowError]:
        rows = np.flatnonzero(b.plain)
        fast, cols = self._columns(b, rows)
        slow = np.ones(len(b), bool)
        slow[fast] = False
        goods: list[tuple[int, Observation]] = []
        for r in np.flatnonzero(slow).tolist():
            rec = b.record(r)
            if rec is None:
                continue
            item = self.row(rec)
            if isinstance(item, RowError):
                yield item
            else:
                goods.append((r, item))
        if goods and cols is not None:
            cols = _merge(cols, fast, goods)
        elif goods:
            yield from (o for _, o in goods)
        if cols is not None:
            yield cols

    def _columns(
        self, b: Block, rows: np.ndarray
    ) -> tuple[np.ndarray, ObservationColumns | None]:
        """(the records taken, their columns) of the plain records ``rows``."""
        if len(rows) == 0:
            return rows, None
        r = self.row
        arr = b.arr
        n = len(arr)

        first = b.sep_at[rows]
        spans: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        def span(col: int) -> tuple[np.ndarray, np.ndarray]:
            if col not in spans:
                spans[col] = b.span(col, rows, first)
            return spans[col]

        def quoted(s: np.ndarray, e: np.ndarray) -> np.ndarray:
            return (e > s) & (arr[np.minimum(s, n - 1)] == 34)

        ok = np.ones(len(rows), bool)
        lat, ok_lat = self._number(arr, *span(r.i_lat))
        lon, ok_lon = self._number(arr, *span(r.i_lon))
        ok &= ok_lat & ok_lon & (lat >= -90.0) & (lat <= 90.0) & (lon >= -180.0) & (lon <= 180.0)
        t0, ok_t0 = self._dates(arr, *span(r.i_ds))
        t1, ok_t1 = self._dates(arr, *span(r.i_de))
        t1 += DAY - 1
        ok &= ok_t0 & ok_t1 & (t1 >= t0)
        wp, ok_wp = _digit(arr, *span(r.i_wp), 7)
        dp, ok_dp = _digit(arr, *span(r.i_dp), 5)
        ok &= ok_wp & ok_dp
        s_id, e_id = span(r.i_id)
        ok &= (e_id > s_id) & ~quoted(s_id, e_id)
        if r.i_clarity is not None:  # lower-clarity records take the row path
            clarity, _ = _digit(arr, *span(r.i_clarity), 9)
            ok &= clarity != 2
        ok &= ~_mentions_explosive_remnant(b, rows)
        if r.i_tv is not None:
            s_tv, e_tv = span(r.i_tv)
            ok &= ~quoted(s_tv, e_tv)
            tv = arr[np.minimum(s_tv, n - 1)]
            armed = (e_tv - s_tv == 1) & ((tv == 49) | (tv == 50))
        else:
            armed = np.ones(len(rows), bool)
        if r.i_office is not None:
            s_of, e_of = span(r.i_office)
            ok &= ~quoted(s_of, e_of)
            semis = np.flatnonzero(arr == 59)
            if len(semis):
                j = np.minimum(np.searchsorted(semis, s_of), len(semis) - 1)
                e_of = np.where((semis[j] >= s_of) & (semis[j] < e_of), semis[j], e_of)
        unsafe = np.flatnonzero(((arr < 32) & (arr != 10) & (arr != 13)) | (arr == 92))
        kept = []
        for _, i in r.kept:
            s, e = span(i)
            ok &= ~quoted(s, e)
            if len(unsafe):
                ok &= np.searchsorted(unsafe, s) == np.searchsorted(unsafe, e)
            kept.append((s, e))
        take = np.flatnonzero(ok)
        if len(take) == 0:
            return take, None
        fast = rows[take]
        sel = [(s[take], e[take]) for s, e in kept]
        ext = np.concatenate([arr, self.lit])
        nul = np.full(len(take), n + self.lit_at[b"\0"][0])
        none = np.zeros(len(take), np.int64)
        one = np.ones(len(take), np.int64)
        q = none.astype(bool)
        s_de = e_de = s_of_t = e_of_t = none
        if r.i_desc is not None:  # a quoted description: its text between the quotes
            s_de, e_de = span(r.i_desc)
            s_de, e_de = s_de[take], e_de[take]
            q = quoted(s_de, e_de)
            s_de, e_de = s_de + q, e_de - q
        if r.i_office is not None:
            s_of_t, e_of_t = s_of[take], e_of[take]
        a_starts, a_lens = self._attributes(
            n, sel, span(r.i_wp)[0][take], span(r.i_dp)[0][take]
        )
        starts = np.stack(
            [s_id[take], nul, s_de, nul, s_of_t, nul, *a_starts], axis=1
        )
        lens = np.stack(
            [e_id[take] - s_id[take], one, e_de - s_de, one, e_of_t - s_of_t, one, *a_lens],
            axis=1,
        )
        parts = _gather(ext, starts, lens).decode("utf-8").split("\0")
        ids, texts, origins, attrs = parts[0:-1:4], parts[1::4], parts[2::4], parts[3::4]
        for k in np.flatnonzero(q).tolist():
            if '"' in texts[k]:
                texts[k] = texts[k].replace('""', '"')
        if r.i_office is not None:
            origins = list(map(str.strip, origins))
        raws_b, raws = _records(arr, b.start[fast], b.end[fast])
        t0 = t0[take]
        t1 = t1[take]
        columns: dict[str, list[Any]] = {
            "t_start": t0.tolist(),
            "t_end": t1.tolist(),
            "time_precision_s": np.maximum(t1 - t0 + 1, self.min_window[dp[take]]).tolist(),
            "lat": lat[take].tolist(),
            "lon": lon[take].tolist(),
            "uncertainty_m": list(map(self.unc_of.__getitem__, wp[take].tolist())),
            "category": list(map(("other", "armed_clash").__getitem__, armed[take].tolist())),
            "text": texts,
            "origin": origins,
            "source_ref": ids,
            "raw": raws,
            "raw_sha256": list(map(methodcaller("hexdigest"), map(hashlib.sha256, raws_b))),
            "source_line": b.line[fast].tolist(),
            "attributes": attrs,
        }
        return fast, ObservationColumns(columns, dict(self.constants), sum(map(len, raws)))

    def _number(
        self, arr: np.ndarray, s: np.ndarray, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decimal numbers (``-12.5``, ``48``, ``.5``) as floats, and which fields are one."""
        length = e - s
        w = int(min(self.NUM_WIDTH, max(1, length.max(initial=1))))
        m = _fixed(arr, s, e, w)
        digit = (m >= 48) & (m <= 57)
        dot = m == 46
        minus = m == 45
        ok = (length >= 1) & (length <= min(w, self.NUM_WIDTH))
        ok &= (digit | dot | minus | (m == 0)).all(axis=1)
        ok &= ~minus[:, 1:].any(axis=1) & (dot.sum(axis=1) <= 1) & digit.any(axis=1)
        m[~ok] = 48  # a harmless "0" where the field is not a plain decimal
        return m.view(f"S{w}").ravel().astype(float), ok

    def _dates(
        self, arr: np.ndarray, s: np.ndarray, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Date fields as epoch seconds of their day, and which fields are a date.

        ``YYYY-MM-DD`` is read with numpy; any other text is read once per distinct value by
        the row path's own ``_date`` (US month-first exports, and everything it refuses)."""
        days, good = _iso_days(arr, s, e)
        secs = days * DAY
        rest = np.flatnonzero(~good)
        if len(rest) == 0:
            return secs, good
        s, e = s[rest], e[rest]
        length = e - s
        w = int(min(self.DATE_WIDTH, max(1, length.max(initial=1))))
        texts = _fixed(arr, s, e, w).view(f"S{w}").ravel()
        uniq, inv = np.unique(texts, return_inverse=True)
        known = self.date_bytes
        keys = uniq.tolist()
        found = [known.get(u) for u in keys]
        for i, t in enumerate(found):
            if t is None:
                try:
                    t = _date(keys[i].decode("utf-8"), self.row.dates)
                except (ValueError, UnicodeDecodeError):
                    t = _NO_DATE
                found[i] = known[keys[i]] = t
        values = np.array(found, np.int64)[inv.ravel()]
        secs[rest] = values
        good[rest] = (values != _NO_DATE) & (length <= self.DATE_WIDTH)
        return secs, good

    def _attributes(
        self,
        lit: int,
        sel: list[tuple[np.ndarray, np.ndarray]],
        s_wp: np.ndarray,
        s_dp: np.ndarray,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The spans (starts, lengths) that spell each record's attributes JSON, NUL-ended:
        field values of the block, the two code digits at ``s_wp`` and ``s_dp``, and literals
        at ``lit`` onwards."""
        n_rows = len(s_wp)
        spans_s: list[np.ndarray] = []
        spans_l: list[np.ndarray] = []

        def literal(piece: bytes, where: np.ndarray | None = None) -> None:
            at, ln = self.lit_at[piece]
            spans_s.append(np.full(n_rows, lit + at))
            spans_l.append(np.full(n_rows, ln) if where is None else np.where(where, ln, 0))

        literal(b"{")
        for (s, e), (at, ln) in zip(sel, self.key_at, strict=True):
            present = e > s
            spans_s.append(np.full(n_rows, lit + at))
            spans_l.append(np.where(present, ln, 0))
            spans_s.append(s)
            spans_l.append(e - s)
            literal(b'",', present)
        literal(b'"where_prec":')
        spans_s.append(s_wp)
        spans_l.append(np.ones(n_rows, np.int64))
        literal(b',"date_prec":')
        spans_s.append(s_dp)
        spans_l.append(np.ones(n_rows, np.int64))
        literal(b"}")
        literal(b"\0")
        return spans_s, spans_l


def _mentions_explosive_remnant(b: Block, rows: np.ndarray) -> np.ndarray:
    """Which records ``rows`` of the block hold words of ``EXPLOSIVE_REMNANT_WORDS`` anywhere
    (those take the row path, which looks in the text fields alone)."""
    hits = [m.start() for m in _ERW_BYTES.finditer(b.data)]
    out = np.zeros(len(rows), bool)
    if hits:
        rec = np.searchsorted(b.start, np.asarray(hits), side="right") - 1
        out = np.isin(rows, rec)
    return out


def _fixed(arr: np.ndarray, s: np.ndarray, e: np.ndarray, w: int) -> np.ndarray:
    """Fields as rows of a (n, w) byte matrix, NUL-padded (longer fields are cut)."""
    cols = np.arange(w, dtype=np.int32)
    idx = np.minimum(s.astype(np.int32)[:, None] + cols, len(arr) - 1)
    m = arr[idx]
    m[cols >= (e - s)[:, None]] = 0
    return m


def _iso_days(arr: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD`` fields as days since 1970-01-01, and which fields are such a real date
    (as ``parse_date_iso`` reads them: years 1000-9999); other fields are left to the caller."""
    m = _fixed(arr, s, e, 10).astype(np.int64) - 48
    ok = (e - s == 10) & (m[:, 4] == -3) & (m[:, 7] == -3)
    digits = m[:, [0, 1, 2, 3, 5, 6, 8, 9]]
    ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
    y = m[:, 0] * 1000 + m[:, 1] * 100 + m[:, 2] * 10 + m[:, 3]
    mo = m[:, 5] * 10 + m[:, 6]
    d = m[:, 8] * 10 + m[:, 9]
    ok &= (y >= YEAR_MIN) & (mo >= 1) & (mo <= 12) & (d >= 1)
    y = np.where(ok, y, 1970)
    mo = np.where(ok, mo, 1)
    month = ((y - 1970) * 12 + mo - 1).astype("datetime64[M]")
    first = month.astype("datetime64[D]").astype(np.int64)
    nxt = (month + 1).astype("datetime64[D]").astype(np.int64)
    ok &= d <= nxt - first
    return np.where(ok, first + d - 1, 0), ok


def _digit(
    arr: np.ndarray, s: np.ndarray, e: np.ndarray, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """One-digit codes 1..top as ints (0 where not), and which fields are one."""
    v = arr[np.minimum(s, len(arr) - 1)].astype(np.int64) - 48
    ok = (e - s == 1) & (v >= 1) & (v <= top)
    return np.where(ok, v, 0), ok


def _gather(src: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> bytes:
    """The byte spans (row by row, span by span) of ``src`` concatenated."""
    s = starts.ravel().astype(np.int32)
    ln = lens.ravel().astype(np.int32)
    out_start = np.cumsum(ln, dtype=np.int32) - ln
    idx = np.repeat(s - out_start, ln)
    idx += np.arange(len(idx), dtype=np.int32)
    return src[idx].tobytes()


def _records(
    arr: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[list[bytes], list[str]]:
    """Each record's bytes (where the records are all the lines of a stretch of plain
    newlines, one ``splitlines``; otherwise NULs put around every record and one split) and
    its text (decoded record by record)."""
    lo, hi = int(starts[0]), int(ends[-1])
    part = arr[lo:hi]
    if (starts[1:] == ends[:-1]).all() and _CR not in part:
        lines = part.tobytes().splitlines(keepends=True)
        if len(lines) == len(starts):
            return lines, list(map(bytes.decode, lines))
    marks = np.concatenate([starts, ends]) - lo
    marks.sort(kind="stable")
    pieces = np.insert(part, marks, 0).tobytes().split(b"\0")[1::2]
    return pieces, list(map(bytes.decode, pieces))


def _merge(
    cols: ObservationColumns, fast: np.ndarray, goods: list[tuple[int, Observation]]
) -> ObservationColumns:
    """The block's columns with the row path's good records put back in file order."""
    extra = ObservationColumns.from_observations([o for _, o in goods])
    order = np.argsort(np.concatenate([fast, [r for r, _ in goods]]), kind="stable").tolist()
    merged = {}
    for name, values in cols.columns.items():
        both = values + extra.column(name)
        merged[name] = [both[i] for i in order]
    return ObservationColumns(merged, cols.constants, cols.raw_chars + extra.raw_chars)


def sniff_ucdp(path: Path, head: bytes) -> int:
    """3 for a CSV whose header has UCDP GED's own precision and date columns."""
    return 3 if {"where_prec", "date_prec", "date_start"} <= csv_columns(head) else 0


UCDP_READER = ReaderSpec(
    "ucdp",
    read_ucdp,
    sniff_ucdp,
    columnar=read_ucdp_columns,
    curated=True,
    description="UCDP Georeferenced Event Dataset (GED) CSV",
)
