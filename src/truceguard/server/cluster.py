"""Several ``truceguard serve`` nodes on one PostgreSQL: the services of one node.

- ``NodeCluster`` (service ``cluster``): this node's own session (``store.cluster.NodeSession``)
  and what it gives the other services: the ``Leadership`` of live judging (the node holding
  the judging lock judges; ``server.live``), the outbox claims of the alert dispatcher
  (``outbox_claims()``), the ingest notices (``announce()``, after a local commit, at most one
  ``NOTIFY`` per ``notify_every_s``) and, from every node's notices, ``on_ingest`` (which wakes
  the local judge). A session that drops is opened again (under the same node key when it is
  still free); meanwhile this node judges nothing.
- ``UserWatcher`` (service ``users``): users disabled anywhere lose their live connections on
  this node through ``ended(name)``: on PostgreSQL at once, by ``LISTEN`` (a trigger notifies
  on commit, whoever disabled them); on SQLite, one node only, by polling every ``poll_s``.
  After a lost ``LISTEN`` connection it compares the disabled users with those it knew, so a
  notice missed meanwhile still ends its user's connections.

On SQLite neither is needed: one node judges and delivers alone, as ``serve`` always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from truceguard.server.service import ServiceHealth, State
from truceguard.store import Store
from truceguard.store.cluster import (
    INGEST_CHANNEL,
    USERS_CHANNEL,
    Listener,
    NodeSession,
    OutboxClaims,
)

log = logging.getLogger("truceguard.server")

RECONNECT_S = 1.0


class NodeCluster:
    """This node among several on one PostgreSQL database (see the module docstring); the
    ``Leadership`` of ``server.live``."""

    name = "cluster"

    def __init__(self, url: str, *, on_ingest: Callable[[], None] | None = None,
                 retry_s: float = 0.5, grace_s: float = 1.0, lease_s: float = 30.0,
                 notify_every_s: float = 0.05) -> None:
        self.url = url
        self.session = NodeSession(url)
        self.on_ingest = on_ingest
        self.retry_s = retry_s
        self.grace_s = grace_s
        self.lease_s = lease_s
        self.notify_every_s = notify_every_s
        self._state: State = "starting"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._announced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()  # one statement at a time on the session
        self.notices_sent = 0
        self.notices_heard = 0
        self._problem = ""

    @property
    def node(self) -> str:
        return self.session.name

    # -- the service -------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.session.open()
        self._tasks = [asyncio.create_task(self._send_notices(), name="cluster-notify"),
                       asyncio.create_task(self._hear_notices(), name="cluster-listen")]
        self._state = "running"
        log.info("cluster: this is %s on %s", self.node, self.session.url.rpartition("@")[2])

    async def stop(self, drain: bool = True) -> None:
        self._state = "draining"
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self._lock:
            await self.session.resign()
            await self.session.close()
        self._state = "stopped"

    def health(self) -> ServiceHealth:
        state: State = self._state
        if state == "running" and self.session.broken:
            state = "failed"
        detail = f"{self.node}, " + ("judges" if self.session.leads else "stands by")
        if self._problem:
            detail += f" ({self._problem})"
        return ServiceHealth(self.name, state, detail,
                             extra={"node": self.node, "leads": self.session.leads,
                                    "notices_sent": self.notices_sent,
                                    "notices_heard": self.notices_heard})

    # -- Leadership (server.live) ------------------------------------------------------------
    async def try_lead(self) -> bool:
        async with self._lock:
            if self.session.broken and not await self._reopen():
                return False
            return await self.session.try_lead()

    async def still_leads(self) -> bool:
        async with self._lock:
            return await self.session.still_leads()

    async def resign(self) -> None:
        async with self._lock:
            await self.session.resign()

    def announce(self) -> None:
        """Observations were committed here (any thread): tell every node, soon."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._announced.set)

    def outbox_claims(self) -> OutboxClaims:
        return OutboxClaims(self.session, lease_s=self.lease_s)

    # -- inside ------------------------------------------------------------------------------
    async def _reopen(self) -> bool:
        try:
            await self.session.open()
        except Exception as exc:  # noqa: BLE001 - the database is away: judge nothing
            self._problem = f"session lost: {type(exc).__name__}"
            return False
        self._problem = ""
        log.info("cluster: session opened again as %s", self.node)
        return True

    async def _send_notices(self) -> None:
        while True:
            await self._announced.wait()
            self._announced.clear()
            try:
                async with self._lock:
                    if not self.session.broken:
                        await self.session.notify_ingest()
                        self.notices_sent += 1
            except Exception as exc:  # noqa: BLE001 - the judge's own poll still comes
                self._problem = f"notice not sent: {type(exc).__name__}"
            await asyncio.sleep(self.notify_every_s)

    async def _hear_notices(self) -> None:
        while True:
            listener = Listener(self.url, (INGEST_CHANNEL,))
            try:
                await listener.open()
                if self.on_ingest is not None:
                    self.on_ingest()  # whatever was committed while no one listened
                async for _channel, _payload in listener.notices():
                    self.notices_heard += 1
                    if self.on_ingest is not None:
                        self.on_ingest()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - listen again after a pause
                log.warning("cluster: ingest notices lost (%s); listening again",
                            type(exc).__name__)
            finally:
                await listener.close()
            await asyncio.sleep(RECONNECT_S)


class UserWatcher:
    """Ends the live connections of users disabled by another node or process (see the
    module docstring)."""

    name = "users"

    def __init__(self, store: Store, ended: Callable[[str], None], *,
                 listen_url: str | None = None, poll_s: float = 1.0) -> None:
        self.store = store
        self.ended = ended
        self.listen_url = listen_url
        self.poll_s = poll_s
        self._state: State = "starting"
        self._task: asyncio.Task[None] | None = None
        self._known: set[str] | None = None  # the disabled users this watcher knows of
        self.listening = asyncio.Event()  # set while notices are heard (PostgreSQL)
        self.last_seen = 0.0

    async def start(self) -> None:
        self._known = await self._disabled()
        self._task = asyncio.create_task(
            self._listen() if self.listen_url else self._poll(), name=self.name)
        self._state = "running"

    async def stop(self, drain: bool = True) -> None:
        self._state = "draining"
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._state = "stopped"

    def health(self) -> ServiceHealth:
        how = "LISTEN" if self.listen_url else f"polling every {self.poll_s:g} s"
        return ServiceHealth(self.name, self._state, f"disabled users end by {how}",
                             extra={"disabled_known": len(self._known or ())})

    async def _disabled(self) -> set[str]:
        return {u.name for u in await asyncio.to_thread(self.store.users) if u.disabled}

    def _end(self, name: str) -> None:
        if self._known is not None:
            self._known.add(name)
        try:
            self.ended(name)
        except Exception:  # one hook's failure must not stop the watcher
            log.exception("ending user %s's connections failed", name)

    async def _resync(self) -> None:
        """End the users disabled since the watcher last looked."""
        now = await self._disabled()
        for name in sorted(now - (self._known or set())):
            self._end(name)
        self._known = now
        self.last_seen = time.time()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self._resync()
            except Exception:  # noqa: BLE001 - the store is busy: its next turn looks again
                log.exception("could not read the users")

    async def _listen(self) -> None:
        assert self.listen_url is not None
        while True:
            listener = Listener(self.listen_url, (USERS_CHANNEL,))
            try:
                await listener.open()
                await self._resync()  # what a lost connection may have missed
                self.listening.set()
                async for _channel, name in listener.notices():
                    self._end(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - listen again after a pause
                log.warning("users: notices lost (%s); listening again", type(exc).__name__)
            finally:
                self.listening.clear()
                await listener.close()
            await asyncio.sleep(RECONNECT_S)


__all__ = ["NodeCluster", "UserWatcher"]
