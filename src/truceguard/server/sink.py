"""The durable ingest sink: observations from every live connection, group-committed to the store.

An event counts as received only once it is committed: a connection hands its parsed
observations to the sink and waits for the commit before it reads more (TCP flow control then
slows the client instead of memory filling up). One writer task collects what all connections
handed over into one batch (up to ``max_batch`` observations; a batch waits at most
``max_delay_s`` for more), and commits it through ``ingest_records`` (the one path from records
to the store: deduplication, conflicts, markings, the ingest log) on one worker thread, while the
event loop goes on reading and parsing the next batch. Each batch is one transaction, so a
process killed at any moment leaves whole batches only, and nothing it acknowledged is lost.

The writer thread holds the store's ``ingest_stream`` for the sink's life, so that the backend
tunes its connection for a stream of small durable commits (see each backend). With
``checkpoint_every_s`` > 0, the writer leaves checkpoints of the store's write-ahead log to a
checkpointer thread that calls ``store.checkpoint()`` on its own connection every
``checkpoint_every_s`` while commits go on beside it (SQLite: a checkpoint copies the log into
the database and waits for the disk, tens of milliseconds that stay out of the commits); a
store that keeps no such log itself (PostgreSQL) says so at the first call and the
checkpointer ends. The sink sends no SQL of its own: only the store's protocol.

Audit: each batch's transaction also appends, per user who submitted records in it
(``attributes["submitted_by"]``, set by the listener to the connection's user; ``who`` for
records without one), one ``cot.write`` entry to the audit log, with that user as the actor
and the detail ``{"observations": N, "inserted": I, "duplicates": D, "conflicts": C,
"narrowed": M, "raw_sha256": [sorted digests]}`` (over ``audit.MAX_LISTED_DIGESTS`` records:
``"raw_sha256_count"`` and ``"raw_sha256_sorted_sha256"`` instead of the list; see
``truceguard.audit``). Each user's records go through ``ingest_records`` on their own (one
ingest log row each, named ``"<source> (<user>)"``; ``who`` for a narrowed marking is that
user), so the counts are that user's. A batch whose commit fails leaves nothing: neither its
records nor its ingest log rows nor its audit entries, and it is tried again (the store was
busy, say: ``StoreBusyError``) up to ``commit_retries`` more times, after ``retry_backoff_s``,
then twice as long each time (at most ``MAX_BACKOFF_S``); the batch stays counted as pending
meanwhile, so the readers are slowed. When the last try fails too, the sink gives up on the
batch: it logs that with the number of records, and their futures fail, so that their
connections are closed: a sender is never told more was received than was committed.

After each commit, ``on_committed(n)`` is called on the event loop with the number of
observations newly stored (a live judging loop wakes on it), and ``on_batch(records)`` (if
given) with the batch's observations.

Bounds: at most ``max_pending`` observations wait for a commit. ``reserve(n, timeout_s)`` waits
for room (back-pressure: a slow store slows the readers); when no room comes within the
timeout, ``Shed`` is raised and the caller drops that connection with a log line. ``offer``
(datagrams, which cannot be slowed) never waits: over the bound it sheds, logged at most once a
second. ``stop()`` refuses new records, commits everything handed over, and ends the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from truceguard.audit import digests_detail
from truceguard.errors import TruceguardError
from truceguard.ingest import ingest_records
from truceguard.model import IngestSummary, Observation
from truceguard.store.base import Store

log = logging.getLogger("truceguard.server.sink")

MAX_BATCH = 4000
MAX_DELAY_S = 0.002
MAX_PENDING = 50_000
CHECKPOINT_EVERY_S = 0.5
COMMIT_RETRIES = 5
RETRY_BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0
AUDIT_ACTION = "cot.write"


class Shed(TruceguardError):
    """Load shed: the sink had no room for more records within the allowed time."""

    code = "server.shed"
    default_hint = "the store is slower than the incoming events; the client may resend"


class SinkClosed(TruceguardError):
    """The sink is stopping or stopped and takes no more records."""

    code = "server.stopping"
    default_hint = "the server is stopping"


@dataclass(slots=True)
class SinkStats:
    """What the sink did so far (each counter only grows)."""

    received: int = 0  # observations committed (stored, or already there): acknowledged
    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    batches: int = 0
    failed_batches: int = 0  # batches given up on (after every retry)
    retried_commits: int = 0  # commits tried again after a failure
    shed: int = 0  # observations refused for lack of room
    largest_batch: int = 0
    checkpointed_batches: int = 0  # batches whose log the last checkpoint covered


class Sink:
    """Group commit of observations from all connections (see the module docstring)."""

    def __init__(self, store: Store, *, on_committed: Callable[[int], None] | None = None,
                 on_batch: Callable[[Sequence[Observation]], None] | None = None,
                 max_batch: int = MAX_BATCH, max_delay_s: float = MAX_DELAY_S,
                 max_pending: int = MAX_PENDING, reader: str = "cot",
                 source: str = "cot listener", who: str = "cot",
                 checkpoint_every_s: float = CHECKPOINT_EVERY_S,
                 commit_retries: int = COMMIT_RETRIES,
                 retry_backoff_s: float = RETRY_BACKOFF_S) -> None:
        if max_batch < 1 or max_pending < 1 or max_delay_s < 0:
            raise ValueError("max_batch and max_pending must be >= 1, max_delay_s >= 0")
        if commit_retries < 0 or retry_backoff_s < 0:
            raise ValueError("commit_retries and retry_backoff_s must be >= 0")
        self.commit_retries = commit_retries
        self.retry_backoff_s = retry_backoff_s
        self.store = store
        self.on_committed = on_committed
        self.on_batch = on_batch
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.max_pending = max_pending
        self.reader = reader
        self.source = source
        self.who = who
        self.checkpoint_every_s = checkpoint_every_s
        self.stats = SinkStats()
        self._stream: AbstractContextManager[None] | None = None  # the writer's ingest_stream
        self._checkpointer: asyncio.Task[None] | None = None
        self._checkpoint_executor: ThreadPoolExecutor | None = None
        self._queue: list[tuple[list[Observation], asyncio.Future[None] | None]] = []
        self._queued = 0  # observations in _queue
        self._in_commit = 0  # observations being committed
        self._reserved = 0  # room promised by reserve() and not yet used by enqueue()
        self._wake: asyncio.Event | None = None
        self._room: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._last_shed_log = 0.0

    # -- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the writer on the running event loop."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="truceguard-sink")
        loop = asyncio.get_running_loop()
        stream = self.store.ingest_stream(separate_checkpoints=self.checkpoint_every_s > 0)
        try:
            await loop.run_in_executor(self._executor, stream.__enter__)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        self._stream = stream
        self._task = loop.create_task(self._run(), name="truceguard-sink")
        if self.checkpoint_every_s > 0:
            self._checkpoint_executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="truceguard-sink-checkpoint")
            self._checkpointer = loop.create_task(self._checkpoints(),
                                                  name="truceguard-sink-checkpoint")

    async def stop(self) -> None:
        """Refuse new records, commit everything handed over, stop the writer."""
        self._closing = True
        if self._task is None:
            return
        assert self._wake is not None and self._room is not None
        self._wake.set()
        self._room.set()  # wake reservers: they see the sink closing
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._stream is not None and self._executor is not None:
            stream, self._stream = self._stream, None
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, stream.__exit__, None, None, None)
            except Exception as exc:  # the commits are done; only the tuning is left as is
                log.warning("could not end the writer's ingest stream: %s", exc)
        for executor in (self._executor, self._checkpoint_executor):
            if executor is not None:
                executor.shutdown(wait=True)
        self._executor = self._checkpoint_executor = None

    @property
    def pending(self) -> int:
        """Observations handed over (or promised) and not committed yet."""
        return self._queued + self._in_commit + self._reserved

    # -- handing records over ------------------------------------------------------------------
    async def reserve(self, n: int, timeout_s: float | None) -> None:
        """Wait until ``n`` more observations fit (always, when nothing waits); then they are
        promised to the next ``enqueue``. Raises Shed after ``timeout_s`` without room."""
        if self._closing:
            raise SinkClosed("the sink is stopping")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        assert self._room is not None
        while self.pending and self.pending + n > self.max_pending:
            self._room.clear()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self._shed(n)
                raise Shed(f"no room for {n} records within {timeout_s} s "
                           f"({self.pending:,} waiting for the store)")
            try:
                await asyncio.wait_for(self._room.wait(), left)
            except TimeoutError:
                continue
            if self._closing:
                raise SinkClosed("the sink is stopping")
        self._reserved += n

    def enqueue(self, records: list[Observation], reserved: int) -> asyncio.Future[None]:
        """Hand over records (``reserved``: the room ``reserve`` promised for them); the future
        completes when they are committed (or fails with the store's error)."""
        self._reserved -= reserved
        assert self._wake is not None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closing:
            fut.set_exception(SinkClosed("the sink is stopping"))
            return fut
        if not records:
            fut.set_result(None)
            self._signal_room()
            return fut
        self._queue.append((records, fut))
        self._queued += len(records)
        self._wake.set()
        return fut

    def offer(self, records: list[Observation]) -> asyncio.Future[None] | None:
        """Hand over records without waiting (datagrams): the future of their commit, or
        None (shed, logged) without room."""
        if self._closing:
            return None
        if self.pending and self.pending + len(records) > self.max_pending:
            self._shed(len(records))
            return None
        assert self._wake is not None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((records, fut))
        self._queued += len(records)
        self._wake.set()
        return fut

    def _shed(self, n: int) -> None:
        self.stats.shed += n
        now = time.monotonic()
        if now - self._last_shed_log >= 1.0:
            self._last_shed_log = now
            log.warning("shed load: %d records refused (%d shed so far; %d waiting for the "
                        "store, bound %d)", n, self.stats.shed, self.pending, self.max_pending)

    def _signal_room(self) -> None:
        if self._room is not None and self.pending < self.max_pending:
            self._room.set()

    # -- the writer ----------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._queued < self.max_batch and self.max_delay_s and not self._closing:
                await asyncio.sleep(self.max_delay_s)  # let a batch form
            batch, futures = self._take()
            self._in_commit = len(batch)
            try:
                summary = await self._commit_with_retries(loop, batch)
            except BaseException as exc:  # the store failed: nothing of this batch counts
                self._in_commit = 0
                self.stats.failed_batches += 1
                log.error("gave up committing %d records after %d tries (%s): nothing of them "
                          "was stored or acknowledged; their connections are closed",
                          len(batch), self.commit_retries + 1, exc)
                for fut in futures:
                    if not fut.done():
                        fut.set_exception(exc if isinstance(exc, Exception)
                                          else SinkClosed("the sink was cancelled"))
                self._signal_room()
                if not isinstance(exc, Exception):
                    raise
                continue
            self._in_commit = 0
            self._account(summary, len(batch))
            for fut in futures:
                if not fut.done():
                    fut.set_result(None)
            self._signal_room()
            self._notify(summary.imported, batch)

    async def _commit_with_retries(self, loop: asyncio.AbstractEventLoop,
                                   batch: list[Observation]) -> IngestSummary:
        """Commit ``batch``; a failed commit (rolled back whole) is tried again, with backoff,
        up to ``commit_retries`` times; the last failure is raised."""
        delay = self.retry_backoff_s
        for attempt in range(self.commit_retries + 1):
            try:
                return await loop.run_in_executor(self._executor, self._commit, batch)
            except Exception as exc:
                if attempt >= self.commit_retries:
                    raise
                self.stats.retried_commits += 1
                log.warning("commit of %d records failed (%s); trying again in %.2f s "
                            "(try %d of %d)", len(batch), exc, delay, attempt + 2,
                            self.commit_retries + 1)
                await asyncio.sleep(delay)
                delay = min(MAX_BACKOFF_S, delay * 2)
        raise AssertionError("unreachable")

    def _take(self) -> tuple[list[Observation], list[asyncio.Future[None]]]:
        batch: list[Observation] = []
        futures: list[asyncio.Future[None]] = []
        take = 0
        while take < len(self._queue) and (not batch or len(batch) + len(self._queue[take][0])
                                           <= self.max_batch):
            records, fut = self._queue[take]
            batch.extend(records)
            if fut is not None:
                futures.append(fut)
            take += 1
        del self._queue[:take]
        self._queued -= len(batch)
        return batch, futures

    def _commit(self, batch: list[Observation]) -> IngestSummary:
        """Store ``batch`` in one transaction: each submitter's records through
        ``ingest_records`` (one ingest log row each), then one ``cot.write`` audit entry per
        submitter (appended last, so the audit log's lock is held only for the commit)."""
        total = IngestSummary(path=self.source, file_sha256="", fmt=self.reader)
        entries: list[tuple[str, dict[str, Any]]] = []
        with self.store.transaction():
            for who, records in by_submitter(batch, self.who).items():
                # all_or_nothing: part of this transaction (the batch holds good records only)
                got = ingest_records(self.store, records, source=f"{self.source} ({who})",
                                     reader=self.reader, all_or_nothing=True,
                                     batch_size=len(records), who=who)
                entries.append((who, write_detail(records, got)))
                for name in ("imported", "duplicates", "conflicts", "narrowed"):
                    setattr(total, name, getattr(total, name) + getattr(got, name))
            for who, detail in entries:
                self.store.audit(who, AUDIT_ACTION, detail)
        return total

    async def _checkpoints(self) -> None:
        """Checkpoint the store's write-ahead log beside the commits, after each round of new
        batches; ends at once where the store keeps no such log itself."""
        loop = asyncio.get_running_loop()
        done = -1
        while True:
            if self.stats.batches != done:
                done = self.stats.batches
                try:
                    kept = await loop.run_in_executor(self._checkpoint_executor,
                                                      self.store.checkpoint)
                except Exception as exc:  # the next one will try again
                    log.warning("checkpoint failed: %s", exc)
                else:
                    if not kept:
                        return
                    self.stats.checkpointed_batches = done
            await asyncio.sleep(self.checkpoint_every_s)

    def _account(self, summary: IngestSummary, n: int) -> None:
        s = self.stats
        s.received += n
        s.inserted += summary.imported
        s.duplicates += summary.duplicates
        s.conflicts += summary.conflicts
        s.batches += 1
        s.largest_batch = max(s.largest_batch, n)

    def _notify(self, inserted: int, batch: list[Observation]) -> None:
        # A failing listener must not stop the commits.
        if self.on_committed is not None:
            try:
                self.on_committed(inserted)
            except Exception:
                log.exception("on_committed callback failed")
        if self.on_batch is not None:
            try:
                self.on_batch(batch)
            except Exception:
                log.exception("on_batch callback failed")


def by_submitter(batch: Sequence[Observation], default: str) -> dict[str, list[Observation]]:
    """The batch's records by the user who submitted them (``attributes["submitted_by"]``,
    else ``default``), in the order each user first appears, each user's in batch order."""
    groups: dict[str, list[Observation]] = {}
    for obs in batch:
        who = str(obs.attributes.get("submitted_by") or default)
        groups.setdefault(who, []).append(obs)
    return groups


def write_detail(records: Sequence[Observation], summary: IngestSummary) -> dict[str, Any]:
    """The detail of one ``cot.write`` audit entry (see the module docstring)."""
    return {"observations": len(records), "inserted": summary.imported,
            "duplicates": summary.duplicates, "conflicts": summary.conflicts,
            "narrowed": summary.narrowed,
            **digests_detail(obs.raw_sha256 for obs in records)}


__all__ = ["AUDIT_ACTION", "CHECKPOINT_EVERY_S", "COMMIT_RETRIES", "MAX_BATCH", "MAX_DELAY_S",
           "MAX_PENDING", "Shed", "Sink", "SinkClosed", "SinkStats", "by_submitter", "write_detail"]
