"""Waiting in tests: on a condition, with a deadline, never for a fixed time.

A test that sleeps and then asserts is either slow (the sleep is long enough everywhere) or
flaky (it is not, on a loaded machine). Instead:

- something should happen: ``wait_for(predicate)`` polls until it has, and fails at a
  deadline far beyond the usual time (the deadline costs nothing when all is well);
- something should not happen: wait for the positive event that proves the decision was
  taken (the step that would have done it has run), then assert its absence;
- processes or threads should start together: a barrier (``threading.Barrier``, or a line on
  each child's stdin once every child has said it is ready: ``readline_within``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import IO, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05,
             what: str | Callable[[], str] = "the condition") -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy, and
    return that; AssertionError naming ``what`` (a text, or a function giving one, such as a
    server's log) when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {said}")
        time.sleep(interval)


def readline_within(stream: IO[str], timeout: float) -> str:
    """The next line of ``stream`` (a child's stdout, say); AssertionError when none comes
    within ``timeout`` seconds. At the end of the stream (the child died): ``""``."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not got:
        raise AssertionError(f"no line within {timeout:g} s")
    return got[0]


def hold_write_lock(path: str, release: threading.Event, held: threading.Event) -> None:
    """Another writer holds the SQLite database's write lock until ``release`` is set
    (``held`` says it has it): run in a thread."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    release.wait(30)
    conn.execute("ROLLBACK")
    conn.close()
