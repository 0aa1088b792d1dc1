"""Several ``truceguard serve`` nodes on one PostgreSQL database: what they agree on through it.

Nothing here is a broker of its own: each agreement is a PostgreSQL mechanism, on connections
of their own (asynchronous psycopg, so that no call blocks a server's event loop).

- ``NodeSession``: one session per node. For as long as the node lives it holds its liveness
  lock, the session advisory lock ``(NODE_LOCKS, node key)``; PostgreSQL releases it when the
  session ends (the process exits or is killed, its connection drops), so any node can tell a
  live node's claims from a dead one's (``node_alive_sql``). While the node judges, the same
  session holds the judging lock ``JUDGE_LOCK`` (``pg_try_advisory_lock``: at most one
  session in the database holds it); a standby tries again every half second, so a dead
  judge's share is taken over within a second or so of its session ending. The session also
  sends ``NOTIFY truceguard_ingest`` after a local commit of new observations, so that the
  judging node, wherever it runs, wakes.
- ``Listener``: ``LISTEN`` on ``truceguard_users`` (a trigger of migration 12 notifies it,
  on commit, with the user's name when ``users.disabled`` goes from 0 to 1: whoever wrote it,
  any node's API or the CLI) and on ``truceguard_ingest``.
- ``OutboxClaims``: a node claims due outbox rows with ``SELECT ... FOR UPDATE SKIP LOCKED``
  (two nodes never claim one row) and a lease: a claimed row's ``next_at`` is moved to the
  end of the lease and ``claimed_by`` names the node. A claim ends when the node records the
  delivery or its retry (only while the claim is still its own); a row whose claimant died
  (its liveness lock is free) may be claimed again at once, and any row once its lease is
  over.

Advisory locks are scoped to one database, so several truceguard databases on one server do
not meet.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

from truceguard.errors import MissingExtraError
from truceguard.store.mission import OutboxItem

NODE_LOCKS = 0x7467_4E44  # the first key of each node's liveness lock ("tgND")
JUDGE_LOCK = (0x7467_4A44, 1)  # the judging lock ("tgJD", 1)
USERS_CHANNEL = "truceguard_users"
INGEST_CHANNEL = "truceguard_ingest"
KEEPALIVE: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
             "keepalives_count": 3}  # a peer gone without a word is noticed within ~11 s

_OUTBOX_COLUMNS = ("outbox_id, target_id, violation_id, idempotency_key, payload, state, "
                   "attempts, next_at, last_error, created_at, delivered_at")


def is_postgres_url(db: str) -> bool:
    """Whether ``db`` names a PostgreSQL database (the only backend with several nodes)."""
    return db.startswith(("postgresql://", "postgres://"))


def node_alive_sql(column: str) -> str:
    """SQL true while the node whose key is in ``column`` holds its liveness lock."""
    return ("EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            f"AND l.classid = {NODE_LOCKS} AND l.objid = ({column})::oid AND l.objsubid = 2)")


async def _connect(url: str, application: str) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the [postgres] extra is installed
        raise MissingExtraError("several nodes on PostgreSQL", "postgres", "psycopg") from exc
    return await psycopg.AsyncConnection.connect(url, autocommit=True,
                                                 application_name=application, **KEEPALIVE)


class NodeSession:
    """This node's own session: its liveness lock, the judging lock while it judges, and the
    ingest notices it sends (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.node_key = 0
        self._conn: Any = None
        self.leads = False

    @property
    def name(self) -> str:
        return f"node-{self.node_key}"

    async def open(self) -> None:
        """Connect and take a liveness lock under a key no live node holds: this node's key
        again when it reconnects (its claims stay its own), if no one took it meanwhile."""
        await self.close()
        self._conn = await _connect(self.url, "truceguard node")
        for attempt in range(20):
            key = self.node_key if attempt == 0 and self.node_key else (
                random.randrange(1, 2**31 - 1))
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                           (NODE_LOCKS, key))
            row = await cur.fetchone()
            if row and row[0]:
                self.node_key = key
                await self._conn.execute("SELECT set_config('application_name', %s, false)",
                                         (f"truceguard {self.name}",))
                return
        raise RuntimeError("no free node key after 20 draws")  # pragma: no cover

    async def try_lead(self) -> bool:
        """Take the judging lock if no session holds it; True when this node holds it now
        (already, or just taken). False, never an exception, when the session is gone."""
        try:
            if self.leads:
                return await self.still_leads()
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", JUDGE_LOCK)
            row = await cur.fetchone()
            self.leads = bool(row and row[0])
        except Exception:  # noqa: BLE001 - a lost session leads nothing; the caller reopens
            self.leads = False
        return self.leads

    async def still_leads(self) -> bool:
        """Whether this session holds the judging lock now (asked of the server: a session
        that ended released it, whatever this process believed)."""
        try:
            cur = await self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2",
                JUDGE_LOCK)
            row = await cur.fetchone()
            self.leads = bool(row and row[0])
        except Exception:  # noqa: BLE001 - the session is gone, and the lock with it
            self.leads = False
        return self.leads

    async def resign(self) -> None:
        """Release the judging lock (a clean stop: another node takes over at once)."""
        if self.leads and self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", JUDGE_LOCK)
        self.leads = False

    async def notify_ingest(self) -> None:
        await self._conn.execute(f"NOTIFY {INGEST_CHANNEL}")

    @property
    def broken(self) -> bool:
        return self._conn is None or bool(self._conn.closed) or bool(self._conn.broken)

    async def close(self) -> None:
        self.leads = False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


class Listener:
    """``LISTEN`` on ``channels``; ``notices()`` yields (channel, payload) as they come."""

    def __init__(self, url: str, channels: tuple[str, ...]) -> None:
        self.url = url
        self.channels = channels
        self._conn: Any = None

    async def open(self) -> None:
        self._conn = await _connect(self.url, "truceguard listener")
        for channel in self.channels:
            await self._conn.execute(f"LISTEN {channel}")

    async def notices(self) -> AsyncIterator[tuple[str, str]]:
        async for n in self._conn.notifies():
            yield str(n.channel), str(n.payload)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


class OutboxClaims:
    """Outbox rows claimed by one node (``session``'s) under a lease (see the module
    docstring)."""

    def __init__(self, session: NodeSession, *, lease_s: float = 30.0) -> None:
        self.url = session.url
        self.session = session
        self.lease_s = lease_s
        self._conn: Any = None

    @property
    def node_key(self) -> int:
        return self.session.node_key

    async def _db(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await _connect(self.url, f"truceguard node-{self.node_key} outbox")
        return self._conn

    async def claim(self, now: float, limit: int) -> list[OutboxItem]:
        """Claim up to ``limit`` rows that are due, or whose claimant died; their
        ``next_at`` is the end of this node's lease."""
        conn = await self._db()
        cur = await conn.execute(
            f"UPDATE outbox SET next_at = %(until)s, claimed_by = %(node)s "
            f"WHERE outbox_id IN (SELECT o.outbox_id FROM outbox o WHERE o.state = 'pending' "
            f"AND (o.next_at <= %(now)s OR (o.claimed_by IS NOT NULL "
            f"AND o.claimed_by <> %(node)s AND NOT {node_alive_sql('o.claimed_by')})) "
            f"ORDER BY o.next_at, o.outbox_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            f"RETURNING {_OUTBOX_COLUMNS}",
            {"until": now + self.lease_s, "node": self.node_key, "now": now, "limit": limit})
        rows = await cur.fetchall()
        return sorted((OutboxItem(*r) for r in rows), key=lambda i: i.outbox_id)

    async def delivered(self, outbox_id: int, at: float) -> bool:
        """Record a delivery; False when the claim was no longer this node's (another node
        took it over: it may deliver it again, under the same idempotency key)."""
        conn = await self._db()
        cur = await conn.execute(
            "UPDATE outbox SET state = 'delivered', delivered_at = %s, attempts = attempts + 1, "
            "claimed_by = NULL WHERE outbox_id = %s AND claimed_by = %s",
            (at, outbox_id, self.node_key))
        return bool(cur.rowcount)

    async def retry_later(self, outbox_id: int, next_at: float, error: str, *,
                          give_up: bool) -> bool:
        """Record a failed (or cancelled) delivery and end the claim; False when the claim
        was no longer this node's."""
        conn = await self._db()
        cur = await conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_at = %s, last_error = %s, "
            "state = %s, claimed_by = NULL WHERE outbox_id = %s AND claimed_by = %s",
            (next_at, error[:500], "failed" if give_up else "pending", outbox_id,
             self.node_key))
        return bool(cur.rowcount)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


__all__ = [
    "INGEST_CHANNEL",
    "JUDGE_LOCK",
    "Listener",
    "NODE_LOCKS",
    "NodeSession",
    "OutboxClaims",
    "USERS_CHANNEL",
    "is_postgres_url",
    "node_alive_sql",
]
