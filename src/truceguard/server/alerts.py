"""Alerts: new violations owed to alert targets, kept in a durable outbox, delivered at least
once under one idempotency key each.

- ``owe(store, violation_ids)`` decides who is owed what: every active target whose terms
  match, whose minimum severity the violation reaches, and whose user may see it (the
  violation as that user's view of the incident, through the store's releasability). One
  outbox row per target and violation, so nothing is owed twice, whoever calls it.
- ``Dispatcher`` delivers what is due: a webhook gets a JSON POST with an
  ``X-Truceguard-Signature: sha256=HMAC`` header over the exact body (the target's secret) and
  an ``Idempotency-Key`` header that stays the same across retries; a failure is retried
  with exponential backoff (1 s, 2 s, 4 s ... up to 5 minutes; given up after
  ``MAX_ATTEMPTS``). A restart picks up what was owed: the outbox is in the store.
- CoT targets receive the violation as a CoT marker through the CoT-out sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from truceguard.io.records import record_dict
from truceguard.model import Violation
from truceguard.store import Store
from truceguard.store.mission import AlertTarget, OutboxItem

log = logging.getLogger("truceguard.server")

MAX_ATTEMPTS = 12
MAX_BACKOFF_S = 300.0
SIGNATURE_HEADER = "X-Truceguard-Signature"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def idempotency_key(target: AlertTarget, violation_id: int) -> str:
    return hashlib.sha256(f"{target.target_id}:{target.name}:{violation_id}".encode()
                          ).hexdigest()[:32]


def payload(violation: Violation, key: str) -> str:
    return json.dumps({"type": "truceguard.violation", "idempotency_key": key,
                       "marking": violation.releasability, "violation": record_dict(violation)},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def owe(store: Store, violation_ids: Sequence[int], now: float | None = None) -> int:
    """Put the deliveries these violations are owed into the outbox; returns how many."""
    if not violation_ids:
        return 0
    items: list[tuple[int, int, str, str]] = []
    for target in store.alert_targets(active_only=True):
        user = store.user_by_id(target.user_id)
        if user is None or user.disabled:
            continue
        for vid in violation_ids:
            v = store.get_violation(vid, user.viewer)
            if v is None or v.severity < target.min_severity:
                continue
            if target.terms and v.terms != target.terms:
                continue
            key = idempotency_key(target, vid)
            items.append((target.target_id, vid, key, payload(v, key)))
    return store.enqueue(items, time.time() if now is None else now)


Sender = Callable[[AlertTarget, OutboxItem], Awaitable[None]]


class Dispatcher:
    """Delivers due outbox items; ``poke()`` wakes it at once (e.g. after ``owe``)."""

    def __init__(self, store: Store, *, cot_sender: Sender | None = None,
                 timeout_s: float = 5.0, poll_s: float = 0.5) -> None:
        self.store = store
        self.cot_sender = cot_sender
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._stop = False

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    async def run(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            while not self._stop:
                await self.deliver_due(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()

    async def deliver_due(self, client: Any) -> int:
        due = await asyncio.to_thread(self.store.due, time.time(), 200)
        if not due:
            return 0
        targets = {t.target_id: t for t in await asyncio.to_thread(self.store.alert_targets)}
        await asyncio.gather(*(self._deliver(client, targets[item.target_id], item)
                               for item in due if item.target_id in targets))
        return len(due)

    def _current(self, target: AlertTarget, item: OutboxItem) -> OutboxItem | None:
        """The item as it is owed now: its violation as the target's user may see it today
        (their user disabled, or the reports behind it no longer releasable to them: None)."""
        user = self.store.user_by_id(target.user_id)
        if user is None or user.disabled or target.disabled:
            return None
        v = self.store.get_violation(item.violation_id, user.viewer)
        if v is None:
            return None
        return replace(item, payload=payload(v, item.idempotency_key))

    async def _deliver(self, client: Any, target: AlertTarget, item: OutboxItem) -> None:
        now_owed = await asyncio.to_thread(self._current, target, item)
        if now_owed is None:
            log.info("alert %s to %s cancelled: no longer releasable to its user, or the user "
                     "is disabled", item.idempotency_key, target.name)
            await asyncio.to_thread(self.store.retry_later, item.outbox_id, time.time(),
                                    "cancelled: not releasable to the target's user any more",
                                    give_up=True)
            return
        item = now_owed
        try:
            if target.kind == "webhook":
                await post_webhook(client, target, item)
            elif self.cot_sender is not None:
                await self.cot_sender(target, item)
            else:
                raise RuntimeError("no CoT sender is running")
        except Exception as exc:  # noqa: BLE001 - any failure is retried, and logged
            attempts = item.attempts + 1
            give_up = attempts >= MAX_ATTEMPTS
            wait = min(MAX_BACKOFF_S, 2.0 ** item.attempts)
            then = ", giving up" if give_up else f", next in {wait:g} s"
            log.warning("alert %s to %s failed (attempt %d%s): %s", item.idempotency_key,
                        target.name, attempts, then, exc)
            await asyncio.to_thread(self.store.retry_later, item.outbox_id, time.time() + wait,
                                    f"{type(exc).__name__}: {exc}", give_up=give_up)
            return
        await asyncio.to_thread(self.store.delivered, item.outbox_id, time.time())


async def post_webhook(client: Any, target: AlertTarget, item: OutboxItem) -> None:
    body = item.payload.encode("utf-8")
    r = await client.post(target.url, content=body, headers={
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(target.secret, body),
        "Idempotency-Key": item.idempotency_key,
        "User-Agent": "truceguard-alerts",
    })
    if r.status_code >= 300:
        raise RuntimeError(f"HTTP {r.status_code}")


async def test_target(target: AlertTarget) -> str:
    """Send one test alert to ``target`` now; a sentence saying what happened."""
    import httpx

    item = OutboxItem(0, target.target_id, 0, f"test-{time.time_ns()}",
                      json.dumps({"type": "truceguard.test", "target": target.name}), "pending",
                      0, 0.0, "", time.time(), None)
    if target.kind != "webhook":
        return f"{target.name}: CoT targets are tested by the running server"
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            await post_webhook(client, target, item)
    except Exception as exc:  # the answer is the sentence, whatever went wrong
        return f"{target.name}: test alert NOT delivered ({type(exc).__name__}: {exc})"
    return f"{target.name}: test alert delivered"


__all__ = ["Dispatcher", "idempotency_key", "owe", "payload", "signature", "test_target"]
