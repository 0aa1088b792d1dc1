"""How much of the event loop's own time each callback takes (``serve --loop-debug-ms``).

asyncio's debug mode logs a callback whose *wall* time exceeds ``slow_callback_duration``; on a
shared machine that counts the time the process waited for a core or for the interpreter lock
held by a worker thread, so it cannot tell a callback that computes for 60 ms from one that was
preempted. :func:`watch_loop_cpu` measures the loop thread's *CPU* time over each callback
(``time.thread_time``) and logs every one over the threshold as
``loop callback used N ms of CPU: <callback>``: work done on the loop, which is what blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("truceguard.server")
MARK = "loop callback used"

_installed: dict[str, Any] = {}


def watch_loop_cpu(threshold_s: float) -> None:
    """Log each loop callback that uses more than ``threshold_s`` of CPU on its thread (for
    every loop of this process; once installed, later calls change the threshold)."""
    _installed["threshold"] = threshold_s
    if "run" in _installed:
        return
    original = asyncio.events.Handle._run
    _installed["run"] = original

    def _run(self: asyncio.Handle) -> None:
        start = time.thread_time()
        try:
            original(self)
        finally:
            used = time.thread_time() - start
            if used > _installed["threshold"]:
                log.warning("%s %.0f ms of CPU: %s", MARK, used * 1000, _describe(self))

    asyncio.events.Handle._run = _run  # type: ignore[method-assign]


def unwatch_loop_cpu() -> None:
    """Remove what :func:`watch_loop_cpu` installed (nothing when it is not installed)."""
    original = _installed.pop("run", None)
    if original is not None:
        asyncio.events.Handle._run = original  # type: ignore[method-assign]


@contextlib.contextmanager
def loop_cpu_watched(threshold_s: float) -> Iterator[None]:
    """:func:`watch_loop_cpu` for the duration of a ``with`` block."""
    watch_loop_cpu(threshold_s)
    try:
        yield
    finally:
        unwatch_loop_cpu()


def _describe(handle: asyncio.Handle) -> str:
    try:
        return repr(handle)[:300]
    except Exception:  # a callback whose repr fails is still reported
        return type(handle).__name__


__all__ = ["MARK", "loop_cpu_watched", "unwatch_loop_cpu", "watch_loop_cpu"]
