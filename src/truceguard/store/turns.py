"""Write turns: the writers of one database file in this process go one at a time, in the
order they came.

SQLite makes a writer that finds its write lock taken sleep and try again (1, 2, 5 ... up to
100 ms between tries). A thread that commits back to back (the CoT sink under a stream of
events) takes the lock again within microseconds of letting it go, so a sleeper can miss every
window and be refused as busy after its whole wait while the other thread keeps writing. Within
one process the store therefore queues its write transactions here first: when one ends, the
writer that has waited longest goes next. Writers in other processes still meet SQLite's own
wait. ``turns_for(path)`` hands every store object opened on the same file the same turns.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque


class _Waiter:
    __slots__ = ("granted", "ready")

    def __init__(self) -> None:
        self.granted = False
        self.ready = threading.Event()


class WriteTurns:
    """A lock handed over first come, first served; a waiter gives up after its timeout."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._queue: deque[_Waiter] = deque()

    def acquire(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for this writer's turn: True once it is this writer's,
        False when the wait ran out (it is then out of the queue)."""
        with self._mutex:
            if not self._held and not self._queue:
                self._held = True
                return True
            waiter = _Waiter()
            self._queue.append(waiter)
        waiter.ready.wait(max(0.0, timeout_s))
        with self._mutex:
            if waiter.granted:  # handed over, perhaps just as the wait ran out
                return True
            self._queue.remove(waiter)
            return False

    def release(self) -> None:
        """End this writer's turn: the longest waiting writer goes next."""
        with self._mutex:
            if not self._held:
                raise RuntimeError("released a write turn nobody holds")
            if self._queue:
                waiter = self._queue.popleft()
                waiter.granted = True  # the turn passes on without being free in between
                waiter.ready.set()
            else:
                self._held = False

    def waiting(self) -> int:
        """How many writers wait for their turn now."""
        with self._mutex:
            return len(self._queue)


_BY_FILE: weakref.WeakValueDictionary[str, WriteTurns] = weakref.WeakValueDictionary()
_BY_FILE_LOCK = threading.Lock()


def turns_for(path: str) -> WriteTurns:
    """The write turns of the database file at ``path`` in this process (one per real path,
    kept while a store holds them)."""
    key = os.path.realpath(path)
    with _BY_FILE_LOCK:
        turns = _BY_FILE.get(key)
        if turns is None:
            turns = WriteTurns()
            _BY_FILE[key] = turns
        return turns


__all__ = ["WriteTurns", "turns_for"]
