"""Records into the store: read, validate, keep raw, deduplicate, commit in batches.

``import_file`` (a file) and ``ingest_records`` (a stream: CoT, an API body) are the one code
path behind ``truceguard import``, the demo, the server and the tests.

- A record's identity is its reader, its source and the source's own id (else its raw
  digest): the same record again is a duplicate; another record under a taken identity is a
  conflict, kept for review (``truceguard conflicts``), never dropped. A duplicate imported
  under a narrower marking narrows the stored record's marking (logged); it never widens it.

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
holding the GIL) while the reader parses batch N+1. For a large file with a column-batch reader
the reader runs in a forked child process (``_read_in_child``), so that parsing and writing
use both cores instead of taking turns on one interpreter lock. Large loads go through the
store's ``bulk_load`` (secondary indexes built once at the end).
"""

from __future__ import annotations

import csv
import gc
import multiprocessing
import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from truceguard.errors import RowError, TruceguardError
from truceguard.io.base import check_input_path, file_sha256
from truceguard.io.columns import ObservationColumns
from truceguard.io.registry import check_options, detect_format
from truceguard.io.registry import reader as reader_spec
from truceguard.marking import parse_marking
from truceguard.model import IngestSummary, Observation
from truceguard.store.base import Store

KEEP_ERRORS = 1000
DEFAULT_BATCH = 5000
REJECT_COLUMNS = ("file", "line", "field", "reason", "raw")

Progress = Callable[[int], None]

# From this size on, a column-batch reader runs in a child process (below it, parsing in the
# importing process is as fast as handing the records over).
CHILD_READER_BYTES = 16 << 20
_SINGLES_PER_MESSAGE = 2000


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
    curated: bool | None = None,
    progress: Progress | None = None,
    who: str = "import",
    scope: str = "",
    **reader_options: Any,
) -> IngestSummary:
    """Import ``path``; returns what happened (also appended to the ingest log).

    ``scope`` narrows the records' identities to one submitter (the server gives each user
    their own): a record can then only be a duplicate or a conflict of that submitter's own
    records, so nobody learns of, or narrows, a record they may not see.

    ``releasability`` is the import's ceiling: a row's own marking can only narrow it.
    ``curated`` marks the file's source as one whose records its curators already
    deduplicated (default: what the reader says, e.g. UCDP and ACLED). ``progress`` is called
    with the number of bytes of input consumed since its last call.
    """
    p = check_input_path(path)
    fmt = fmt or detect_format(p, mapping)
    spec = reader_spec(fmt)
    marking = parse_marking(releasability).text
    options = check_options(spec.name, dict(
        encoding=encoding, mapping=mapping, releasability=marking, source=source, **reader_options
    ), spec.options)
    read = spec.columnar or spec.read
    reader: Iterator[Any]
    if spec.columnar is not None and _can_fork() and os.path.getsize(p) >= CHILD_READER_BYTES:
        reader = _read_in_child(read, p, options)  # forked before any thread starts
    else:
        reader = read(p, **options)
    # The file's digest is computed alongside the import (hashlib works without the
    # interpreter lock) and is in the summary before anything is logged.
    digest = _Digest(p)
    summary = IngestSummary(path=str(p), file_sha256="", fmt=fmt)
    try:
        return _ingest(store, reader, summary, reader_name=f"{fmt}@{scope}" if scope else fmt,
                       curated=spec.curated if curated is None else curated,
                       rejects=rejects, all_or_nothing=all_or_nothing, batch_size=batch_size,
                       progress=progress, expected_rows=os.path.getsize(p) // 256,
                       digest=digest.result, who=who)
    finally:
        digest.join()


def ingest_records(
    store: Store,
    records: Iterable[Observation | RowError],
    *,
    source: str,
    reader: str = "stream",
    curated: bool = False,
    all_or_nothing: bool = False,
    batch_size: int = DEFAULT_BATCH,
    who: str = "import",
) -> IngestSummary:
    """Store records that did not come from a file (a CoT stream, an API body), through the
    same batching, deduplication, conflict and marking rules as ``import_file``. ``source``
    names the stream in the ingest log; ``reader`` scopes the records' identities."""
    summary = IngestSummary(path=source, file_sha256="", fmt=reader)
    return _ingest(store, iter(records), summary, reader_name=reader, curated=curated,
                   rejects=None, all_or_nothing=all_or_nothing, batch_size=batch_size,
                   progress=None, expected_rows=0, digest=None, who=who)


def _ingest(store: Store, reader: Iterator[Any], summary: IngestSummary, *, reader_name: str,
            curated: bool, rejects: str | os.PathLike[str] | None, all_or_nothing: bool,
            batch_size: int, progress: Progress | None, expected_rows: int,
            digest: Callable[[], str] | None, who: str) -> IngestSummary:
    """The one path from records to the store (see the module docstring)."""
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
        writer = _BatchWriter(store, summary, reader_name, curated, who)
        writer.start()
        batcher = _Batcher(batch_size, writer.put)
        pending_bytes = 0
        try:
            with store.lend_connection(writer):
                for item in reader:
                    if isinstance(item, RowError):
                        on_error(item)
                        pending_bytes += len(item.raw)
                        continue
                    if isinstance(item, ObservationColumns):
                        pending_bytes += item.raw_chars
                    else:
                        pending_bytes += len(item.raw)
                    if batcher.add(item) and progress:
                        progress(pending_bytes)
                        pending_bytes = 0
                batcher.flush()
                writer.close()
        finally:
            writer.close()
        if progress and pending_bytes:
            progress(pending_bytes)

    status = "complete"
    # The cyclic collector would walk every live container again and again while a load
    # allocates millions of objects (none of them cyclic); it is paused for the load only.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if all_or_nothing:
            try:
                with store.transaction():
                    run()
                    if summary.rejected:
                        raise _Rollback
            except _Rollback:
                status = "rolled back"
                summary.imported = summary.duplicates = summary.conflicts = summary.narrowed = 0
        else:
            with store.bulk_load(expected_rows):
                run()
    except TruceguardError as exc:
        summary.file_sha256 = digest() if digest else ""
        with store.transaction():
            store.log_ingest(summary, f"refused: {exc}"[:500])
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
        if rejects_fh:
            rejects_fh.close()
    summary.file_sha256 = digest() if digest else ""
    with store.transaction():
        store.log_ingest(summary, status)
    return summary


def _can_fork() -> bool:
    """Forking is cheap and safe while this process runs a single thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _read_in_child(read: Callable[..., Any], path: Path, options: dict[str, Any]
                   ) -> Iterator[Any]:
    """The items of ``read(path, **options)``, read in a forked child process, in order.

    The child starts at once (before the caller starts any thread). Column batches travel one
    per message (compactly pickled), single records in groups; an exception in the child (a
    refused file, say) is raised here, and so is the child's death. If the importing process
    stops reading or dies, the child's next send fails and it exits.
    """
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_produce, args=(sender, receiver, read, path, options),
                        daemon=True, name="truceguard-import-reader")
    child.start()
    sender.close()

    def items() -> Iterator[Any]:
        try:
            while True:
                try:
                    kind, payload = pickle.loads(receiver.recv_bytes())
                except EOFError:
                    child.join()
                    raise TruceguardError(
                        f"{path}: the reading process ended unexpectedly (exit code "
                        f"{child.exitcode}); what was committed before stays"
                    ) from None
                if kind == "items":
                    yield from payload
                elif kind == "error":
                    raise payload
                else:
                    return
        finally:
            receiver.close()
            if child.is_alive():
                child.terminate()
            child.join()

    return items()


def _produce(sender: Any, receiver: Any, read: Callable[..., Any], path: Path,
             options: dict[str, Any]) -> None:
    """The child's side of ``_read_in_child``."""
    receiver.close()  # the fork's copy: with it open, the parent's death would go unnoticed

    def send(kind: str, payload: Any) -> None:
        sender.send_bytes(pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL))

    gc.disable()
    try:
        singles: list[Any] = []
        for item in read(path, **options):
            if isinstance(item, ObservationColumns):
                if singles:
                    send("items", singles)
                    singles = []
                send("items", [item])
            else:
                singles.append(item)
                if len(singles) >= _SINGLES_PER_MESSAGE:
                    send("items", singles)
                    singles = []
        if singles:
            send("items", singles)
        send("done", None)
    except (BrokenPipeError, ConnectionResetError):
        os._exit(1)  # the importing process is gone
    except BaseException as exc:  # handed to the importing process
        send("error", exc)
    finally:
        sender.close()


class _Digest(threading.Thread):
    """The SHA-256 of a file, computed on its own thread."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="truceguard-import-digest", daemon=True)
        self.path = path
        self.value = ""
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.value = file_sha256(self.path)
        except BaseException as exc:  # handed to the caller of result()
            self.error = exc

    def result(self) -> str:
        self.join()
        if self.error is not None:
            raise self.error
        return self.value


class _Batcher:
    """Cuts the reader's records (one by one or in column blocks) into batches of exactly
    ``size`` good records (the last one shorter), handed to ``put`` as column batches."""

    def __init__(self, size: int, put: Callable[[ObservationColumns], None]) -> None:
        self.size = max(1, size)
        self.put = put
        self.parts: list[ObservationColumns] = []
        self.singles: list[Observation] = []
        self.count = 0

    def add(self, item: Observation | ObservationColumns) -> bool:
        """Take records; True when at least one batch went out."""
        if isinstance(item, Observation):
            self.singles.append(item)
            self.count += 1
        else:
            self._close_singles()
            self.parts.append(item)
            self.count += len(item)
        if self.count < self.size:
            return False
        self._close_singles()
        whole = ObservationColumns.concat(self.parts)
        at = 0
        while self.count - at >= self.size:
            self.put(whole.slice(at, at + self.size))
            at += self.size
        self.parts = [whole.slice(at, len(whole))] if at < len(whole) else []
        self.count = len(whole) - at
        return True

    def flush(self) -> None:
        self._close_singles()
        if self.count:
            self.put(ObservationColumns.concat(self.parts))
        self.parts, self.count = [], 0

    def _close_singles(self) -> None:
        if self.singles:
            self.parts.append(ObservationColumns.from_observations(self.singles))
            self.singles = []


class _BatchWriter(threading.Thread):
    """Commits batches, one transaction each, in order, on its own thread (with the importing
    thread's connection, lent to it, so that an all-or-nothing import is one transaction)."""

    def __init__(self, store: Store, summary: IngestSummary, reader: str, curated: bool,
                 who: str) -> None:
        super().__init__(name="truceguard-import-writer", daemon=True)
        self.store = store
        self.summary = summary
        self.reader = reader
        self.curated = curated
        self.who = who
        self.closed = False
        self.batches: queue.Queue[ObservationColumns | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is not None:
                continue  # drain after a failure; the reader sees it at its next put
            try:
                with self.store.transaction():
                    got = self.store.add_observation_columns(
                        batch, reader=self.reader, curated=self.curated, who=self.who)
                self.summary.imported += got.inserted
                self.summary.duplicates += got.duplicates
                self.summary.conflicts += got.conflicts
                self.summary.narrowed += got.narrowed
            except BaseException as exc:  # handed to the reading thread
                self.error = exc

    def put(self, batch: ObservationColumns) -> None:
        if self.error is not None:
            raise self.error
        self.batches.put(batch)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.batches.put(None)
            self.join()
        if self.error is not None:
            raise self.error
