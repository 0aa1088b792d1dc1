"""Failed logins, throttled per source address and aggregated for the audit log.

The rule (``LoginThrottle``): each address has a sliding window of its failed logins. After
``limit`` failures (10) within ``window_s`` (60 s) the address is blocked for ``base_s``
(60 s), doubled at each further block (120 s, 240 s, ...) up to ``cap_s`` (1 h); the doubling
is forgotten once the address has had no failure for ``cap_s``. While blocked, a request with
credentials is answered 429 with ``Retry-After`` before the store is read or written — unless
its token already succeeded from that address (``known_good``; the store is then asked as
usual): a good token that was in use from an address is not locked out by failures from the
same address (a shared NAT, a user's own typos), while an unknown token, right or wrong, is
never checked during a block, so the block also stops guessing. At most ``max_addresses``
(10,000) addresses are tracked, the least recently seen evicted first; each keeps at most
``limit`` failure times and ``KNOWN_GOOD`` token hashes, so memory is bounded.

The audit (``FailureTally``): failures, throttled ones included, are counted per address and
minute, and written as one ``auth.failed`` entry per address and minute with the address and
the counts, when the minute has closed (``due``), for every address at shutdown
(``drain``), or for an address evicted from the table. ``FailedLoginAudit`` is the service
of ``truceguard serve`` (``auth-audit``) that writes them, in a worker thread, every
``every_s``, and all that is left when it stops; rows it could not write are kept and tried
again at the next turn.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from truceguard.server.service import TaskService

log = logging.getLogger("truceguard.server")
KNOWN_GOOD = 4  # token hashes remembered per address


@dataclass
class _Address:
    failures: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    strikes: int = 0
    last_failure: float = 0.0
    good: deque[str] = field(default_factory=lambda: deque(maxlen=KNOWN_GOOD))
    # the open audit minute: its start, counts per reason, throttled requests, paths
    tally_start: float | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    users: set[str] = field(default_factory=set)


class LoginThrottle:
    """Sliding-window throttle of failed logins per address, with the audit tally (see the
    module docstring). Thread-safe; ``clock`` is ``time.monotonic`` unless a test gives one,
    ``wall`` (epoch seconds, for the audit detail) ``time.time``."""

    def __init__(self, *, limit: int = 10, window_s: float = 60.0, base_s: float = 60.0,
                 cap_s: float = 3600.0, max_addresses: int = 10_000, tally_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.limit, self.window_s, self.base_s, self.cap_s = limit, window_s, base_s, cap_s
        self.max_addresses, self.tally_s = max_addresses, tally_s
        self.clock, self.wall = clock, wall
        self._lock = threading.Lock()
        self._addresses: OrderedDict[str, _Address] = OrderedDict()
        self._evicted: list[dict[str, Any]] = []  # tallies of evicted addresses, to write

    def __len__(self) -> int:
        return len(self._addresses)

    def _get(self, address: str, now: float) -> _Address:
        st = self._addresses.get(address)
        if st is None:
            st = self._addresses[address] = _Address()
            while len(self._addresses) > self.max_addresses:
                old_address, old = self._addresses.popitem(last=False)
                row = self._row(old_address, old, now)
                if row is not None:
                    self._evicted.append(row)
        else:
            self._addresses.move_to_end(address)
        return st

    def retry_after(self, address: str, token_sha256: str | None = None) -> int | None:
        """Seconds until ``address`` may try again, or None if it may now (never None while
        blocked, unless ``token_sha256`` already succeeded from it). A blocked request is
        counted in the address's tally."""
        now = self.clock()
        with self._lock:
            st = self._addresses.get(address)
            if st is None or st.blocked_until <= now:
                return None
            if token_sha256 is not None and token_sha256 in st.good:
                return None
            self._addresses.move_to_end(address)
            self._open_tally(st, now)
            st.throttled += 1
            return max(1, math.ceil(st.blocked_until - now))

    def succeeded(self, address: str, token_sha256: str) -> None:
        """Remember that ``token_sha256`` authenticated from ``address``."""
        with self._lock:
            st = self._get(address, self.clock())
            if token_sha256 not in st.good:
                st.good.append(token_sha256)

    def failed(self, address: str, reason: str, user: str | None = None) -> int | None:
        """Count a failed login from ``address``; the seconds it is now blocked for, or None
        if it is not."""
        now = self.clock()
        with self._lock:
            st = self._get(address, now)
            if st.strikes and now - st.last_failure > self.cap_s:
                st.strikes = 0
            st.last_failure = now
            self._open_tally(st, now)
            st.reasons[reason] = st.reasons.get(reason, 0) + 1
            if user:
                st.users.add(user)
            while st.failures and st.failures[0] <= now - self.window_s:
                st.failures.popleft()
            st.failures.append(now)
            if len(st.failures) < self.limit:
                return None
            block = min(self.cap_s, self.base_s * 2 ** st.strikes)
            st.strikes += 1
            st.failures.clear()
            st.blocked_until = now + block
            return math.ceil(block)

    def _open_tally(self, st: _Address, now: float) -> None:
        if st.tally_start is None:
            st.tally_start = now

    def _row(self, address: str, st: _Address, now: float) -> dict[str, Any] | None:
        """The audit detail of ``st``'s open tally (then reset), or None if it is empty."""
        if st.tally_start is None:
            return None
        count = sum(st.reasons.values())
        wall_now = self.wall()
        row = {"address": address, "count": count, "throttled": st.throttled,
               "reasons": dict(sorted(st.reasons.items())), "users": sorted(st.users),
               "from": int(wall_now - (now - st.tally_start)), "to": int(wall_now)}
        st.tally_start, st.reasons, st.throttled, st.users = None, {}, 0, set()
        return row

    def due(self) -> list[dict[str, Any]]:
        """The audit details of tallies whose minute has closed (and of evicted addresses);
        each is returned once."""
        now = self.clock()
        with self._lock:
            rows, self._evicted = self._evicted, []
            for address, st in self._addresses.items():
                if st.tally_start is not None and now - st.tally_start >= self.tally_s:
                    row = self._row(address, st, now)
                    if row is not None:
                        rows.append(row)
            self._forget(now)
            return rows

    def drain(self) -> list[dict[str, Any]]:
        """Every open tally's audit detail (at shutdown)."""
        now = self.clock()
        with self._lock:
            rows, self._evicted = self._evicted, []
            for address, st in self._addresses.items():
                row = self._row(address, st, now)
                if row is not None:
                    rows.append(row)
            return rows

    def _forget(self, now: float) -> None:
        """Drop addresses with nothing left to remember (no block, tally, strikes, tokens)."""
        idle = [a for a, st in self._addresses.items()
                if st.tally_start is None and st.blocked_until <= now and not st.good
                and (not st.failures or st.failures[-1] <= now - self.window_s)
                and (not st.strikes or now - st.last_failure > self.cap_s)]
        for a in idle:
            del self._addresses[a]


def write_rows(store: Any, rows: list[dict[str, Any]]) -> None:
    """One ``auth.failed`` audit entry per row."""
    for row in rows:
        store.audit("(unauthenticated)", "auth.failed", row)


class FailedLoginAudit(TaskService):
    """Writes the failed-login tallies of ``throttle`` to the audit log (see the module
    docstring)."""

    name = "auth-audit"

    def __init__(self, throttle: LoginThrottle, store: Any, every_s: float = 5.0) -> None:
        super().__init__()
        self.throttle = throttle
        self.store = store
        self.every_s = every_s
        self.written = 0
        self.failures = 0
        self.last_flush: float | None = None  # epoch seconds
        self._unwritten: list[dict[str, Any]] = []

    async def main(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await self.flush(self.throttle.due())

    async def flush(self, rows: list[dict[str, Any]]) -> None:
        rows, self._unwritten = self._unwritten + rows, []
        if not rows:
            self.last_flush = time.time()
            return
        try:
            await asyncio.to_thread(write_rows, self.store, rows)
        except Exception as exc:  # the store cannot be written now: the next turn retries
            self.failures += 1
            self._unwritten = rows
            log.warning("could not audit %d failed-login tallies (%s); trying again later",
                        len(rows), exc)
            return
        self.written += len(rows)
        self.last_flush = time.time()

    async def stop(self, drain: bool = True) -> None:
        await super().stop(drain)
        if drain:
            await self.flush(self.throttle.drain())

    def detail(self) -> str:
        return super().detail() or (f"{self.written} tallies written, "
                                    f"{len(self._unwritten)} waiting")

    def counters(self) -> dict[str, Any]:
        return {"written": self.written, "waiting": len(self._unwritten),
                "failures": self.failures, "last_flush": self.last_flush,
                "addresses_tracked": len(self.throttle)}


__all__ = ["KNOWN_GOOD", "FailedLoginAudit", "LoginThrottle", "write_rows"]
