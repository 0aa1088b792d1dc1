"""Import one file into the store: read, validate, keep raw, deduplicate, commit in batches.

This is the one code path behind ``truceguard import``, the demo, the server and the tests.

- Each batch of ``batch_size`` good records is one transaction: a process killed at any moment
  leaves only whole batches, and running the same import again stores only what is missing.
- A bad record never stops the import: it is counted, kept (first ``KEEP_ERRORS``) in the
  summary, and written with its reason and raw text to the rejects file if one is given.
- ``all_or_nothing=True`` makes the whole file one transaction, rolled back if any record is
  refused.
- A file that cannot be read as a whole (missing columns, not the format) raises before any
  record is stored.
- Every import, finished or refused, is appended to the ingest log.

Reading and writing overlap: a writer thread commits batch N (SQLite does its work without
holding the GIL) while the reader parses batch N+1. Large loads go through the store's
``bulk_load`` (secondary indexes built once at the end).
"""

from __future__ import annotations

import csv
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from truceguard.errors import RowError, TruceguardError
from truceguard.io import READERS, detect_format
from truceguard.io.base import file_sha256
from truceguard.model import IngestSummary, Observation, normalise_releasability
from truceguard.store.base import Store

KEEP_ERRORS = 1000
DEFAULT_BATCH = 5000
REJECT_COLUMNS = ("file", "line", "field", "reason", "raw")

Progress = Callable[[int], None]


class _Rollback(Exception):
    """Raised inside the all-or-nothing transaction to undo it."""


def import_file(
    store: Store,
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    rejects: str | os.PathLike[str] | None = None,
    all_or_nothing: bool = False,
    batch_size: int = DEFAULT_BATCH,
    encoding: str = "auto",
    releasability: str = "PUBLIC",
    source: str | None = None,
    progress: Progress | None = None,
    **reader_options: Any,
) -> IngestSummary:
    """Import ``path``; returns what happened (also appended to the ingest log).

    ``progress`` is called with the number of bytes of input consumed since its last call.
    """
    p = Path(path)
    fmt = fmt or detect_format(p, mapping)
    if fmt not in READERS:
        raise TruceguardError(f"unknown format {fmt!r}; known: {', '.join(sorted(READERS))}")
    marking = normalise_releasability(releasability)
    summary = IngestSummary(path=str(p), file_sha256=file_sha256(p), fmt=fmt)
    reader = READERS[fmt](
        p,
        encoding=encoding,
        mapping=mapping,
        releasability=marking,
        source=source,
        **reader_options,
    )
    rejects_fh = open(rejects, "w", newline="", encoding="utf-8") if rejects else None  # noqa: SIM115
    rejects_w = csv.writer(rejects_fh) if rejects_fh else None
    if rejects_w:
        rejects_w.writerow(REJECT_COLUMNS)

    def on_error(err: RowError) -> None:
        summary.rejected += 1
        if len(summary.errors) < KEEP_ERRORS:
            summary.errors.append(err)
        if rejects_w:
            rejects_w.writerow([err.path, err.line, err.field, err.reason, err.raw])

    def run() -> None:
        writer = _BatchWriter(store, summary)
        writer.start()
        batch: list[Observation] = []
        pending_bytes = 0
        try:
            for item in reader:
                if isinstance(item, RowError):
                    on_error(item)
                    pending_bytes += len(item.raw)
                    continue
                batch.append(item)
                pending_bytes += len(item.raw)
                if len(batch) >= batch_size:
                    writer.put(batch)
                    batch = []
                    if progress:
                        progress(pending_bytes)
                    pending_bytes = 0
            if batch:
                writer.put(batch)
        finally:
            writer.close()
        if progress and pending_bytes:
            progress(pending_bytes)

    status = "complete"
    expected_rows = os.path.getsize(p) // 256
    try:
        if all_or_nothing:
            try:
                with store.transaction():
                    run()
                    if summary.rejected:
                        raise _Rollback
            except _Rollback:
                status = "rolled back"
                summary.imported = 0
                summary.duplicates = 0
        else:
            with store.bulk_load(expected_rows):
                run()
    except TruceguardError as exc:
        with store.transaction():
            store.log_ingest(summary, f"refused: {exc}"[:500])
        raise
    finally:
        if rejects_fh:
            rejects_fh.close()
    with store.transaction():
        store.log_ingest(summary, status)
    return summary


class _BatchWriter(threading.Thread):
    """Commits batches, one transaction each, in order, on its own thread."""

    def __init__(self, store: Store, summary: IngestSummary) -> None:
        super().__init__(name="truceguard-import-writer", daemon=True)
        self.store = store
        self.summary = summary
        self.batches: queue.Queue[list[Observation] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is not None:
                continue  # drain after a failure; the reader sees it at its next put
            try:
                with self.store.transaction():
                    inserted, dup = self.store.add_observations(batch)
                self.summary.imported += inserted
                self.summary.duplicates += dup
            except BaseException as exc:  # handed to the reading thread
                self.error = exc

    def put(self, batch: list[Observation]) -> None:
        if self.error is not None:
            raise self.error
        self.batches.put(batch)

    def close(self) -> None:
        self.batches.put(None)
        self.join()
        if self.error is not None:
            raise self.error
