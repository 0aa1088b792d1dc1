"""The sending side of a link: this server's feed to one partner, resumable from its ledger.

A ``Link`` loops: it asks the store what the partner must settle next
(``federation_pending``: withdrawals owed, observations whose marking changed, new
observations; now and then, with ``reconcile``, any older observation never settled), decides
each (``rules.send_decision``), posts the records and withdrawals as one batch over mutual TLS,
and once the partner answers, writes the ledger, the cursors, the counters and one audit entry
(``federation.sent``, with the records' identities, ``federation.withdrawn`` for
withdrawals) in one transaction. Nothing is written before the partner acknowledged, so a cut
or a kill at any moment sends again only what was not acknowledged (the partner takes a record
it holds as a duplicate). Records held back (not releasable to the partner) are settled
without a request.

A failed request (the partner down, a refused handshake, an error answer) is recorded as the
link's last error and tried again after a pause that doubles up to ``retry_max_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from truceguard.federation.receive import keys_detail
from truceguard.federation.rules import send_decision
from truceguard.federation.tls import client_context, common_name
from truceguard.federation.wire import PUSH_PATH, batch_body, record_document
from truceguard.store.base import Store
from truceguard.store.federation import Outgoing, Partner, PendingBatch, Settled, record_key

log = logging.getLogger("truceguard.federation")


@dataclass(frozen=True, slots=True)
class LinkConfig:
    batch: int = 1000  # observations looked at per step (one request at most)
    poll_s: float = 0.2  # pause when there is nothing to send
    retry_max_s: float = 5.0
    reconcile_s: float = 5.0  # how often older never-settled observations are looked for
    reconcile_ids: int = 100_000  # how far below the cursor (the first look: all of them)
    timeout_s: float = 30.0


@dataclass(slots=True)
class Plan:
    """One step's decisions: the records to send, withdrawals, and what settles at once."""

    records: list[dict[str, Any]]
    record_items: list[Outgoing]
    withdrawals: list[Outgoing]
    held: list[Settled]


def identity(item: Outgoing, me: str) -> tuple[str, str, tuple[str, ...]]:
    """(origin, original id, chain as sent) of an outgoing item."""
    if not item.origin:  # this server's own record
        return me, str(item.obs_id), (me,)
    return item.origin, item.original_id, (*item.via, me)


def plan_step(pending: PendingBatch, partner: Partner, me: str) -> Plan:
    plan = Plan([], [], [], [])
    for item in pending.items:
        d = send_decision(item, partner, me)
        origin, oid, chain = identity(item, me)
        if d.action == "send":
            assert item.observation is not None and item.marking is not None
            plan.records.append(record_document(origin, oid, chain, item.marking,
                                                item.observation))
            plan.record_items.append(item)
        elif d.action == "withdraw":
            plan.withdrawals.append(item)
        elif d.action == "hold":
            plan.held.append(Settled(item.obs_id, item.marking_id, "held", origin, oid))
    return plan


class Link:
    """The feed to one partner (see the module docstring)."""

    def __init__(self, store: Store, partner: Partner, me: str, config: LinkConfig) -> None:
        self.store, self.partner, self.me, self.config = store, partner, me, config
        self.sent = self.refused = self.withdrawn = 0
        self.last_error = ""
        self.behind = 0  # items in the last step (0: caught up)
        self.caught_up_at: float | None = None
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._reconciled_at = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:  # the partner's files may be missing or bad until the operator fixes them
            try:
                ctx = await asyncio.to_thread(client_context, self.partner)
                break
            except (OSError, ssl.SSLError) as exc:
                await self._failed(exc)
                await asyncio.sleep(self.config.retry_max_s)
        self._client = httpx.AsyncClient(verify=ctx, timeout=self.config.timeout_s,
                                         trust_env=False)
        pause = self.config.poll_s
        try:
            while True:
                try:
                    busy = await self.step()
                    pause = self.config.poll_s
                    if self.last_error:
                        log.info("federation: link to %s works again", self.partner.name)
                        self.last_error = ""
                except (httpx.HTTPError, LinkError, OSError) as exc:
                    busy = False
                    await self._failed(exc)
                    pause = min(max(pause * 2, 0.2), self.config.retry_max_s)
                if not busy:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            await self._client.aclose()

    async def _failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"[:400]
        if text != self.last_error:
            log.warning("federation: link to %s failed: %s", self.partner.name, text)
        self.last_error = text
        await asyncio.to_thread(self.store.federation_link_error, self.partner.partner_id, text)

    async def step(self) -> bool:
        """One batch: True when there was something to settle (so look again at once)."""
        now = time.monotonic()
        reconcile = None
        if now - self._reconciled_at >= self.config.reconcile_s:
            reconcile = self.config.reconcile_ids if self._reconciled_at else 0
        pending = await asyncio.to_thread(self.store.federation_pending, self.partner.partner_id,
                                          self.config.batch, reconcile=reconcile)
        if reconcile is not None:
            self._reconciled_at = now
        self.behind = len(pending.items)
        plan = plan_step(pending, self.partner, self.me)
        answer: dict[str, Any] = {"refused": []}
        if plan.records or plan.withdrawals:
            withdrawals = [identity(w, self.me)[:2] for w in plan.withdrawals]
            body = batch_body(plan.records, withdrawals)
            answer = await self._post(body)
        if pending.items or pending.moved:
            await asyncio.to_thread(self._settle, pending, plan, answer)
        if not pending.items:
            self.caught_up_at = time.time()
        return bool(pending.items)

    async def _post(self, body: bytes) -> dict[str, Any]:
        assert self._client is not None
        url = self.partner.url.rstrip("/") + PUSH_PATH
        async with self._client.stream("POST", url, content=body,
                                       headers={"content-type": "application/json"}) as resp:
            self._check_peer(resp)
            data = await resp.aread()
        if resp.status_code != 200:
            raise LinkError(f"{self.partner.name} answered {resp.status_code}: "
                            f"{data[:300].decode('utf-8', 'replace')}")
        try:
            answer = json.loads(data)
        except ValueError:
            raise LinkError(f"{self.partner.name} answered with no JSON") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("refused"), list):
            raise LinkError(f"{self.partner.name} answered with no federation answer")
        return answer

    def _check_peer(self, resp: httpx.Response) -> None:
        """The server reached must be the partner: its certificate's CN is the partner's
        name (the partner's CA, trusted alone, issued it)."""
        stream = resp.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None:
            raise LinkError(f"no TLS certificate from {self.partner.url}")
        from cryptography import x509

        name = common_name(x509.load_der_x509_certificate(der))
        if name != self.partner.name:
            raise LinkError(f"{self.partner.url} is {name!r}, not partner "
                            f"{self.partner.name!r}")

    def _settle(self, pending: PendingBatch, plan: Plan, answer: dict[str, Any]) -> None:
        refused = {(str(r.get("origin")), str(r.get("id"))) for r in answer["refused"]
                   if isinstance(r, dict)}
        settled = list(plan.held)
        sent_keys: list[str] = []
        refused_keys: list[str] = []
        for item in plan.record_items:
            origin, oid, _ = identity(item, self.me)
            state = "refused" if (origin, oid) in refused else "sent"
            (refused_keys if state == "refused" else sent_keys).append(record_key(origin, oid))
            settled.append(Settled(item.obs_id, item.marking_id, state, origin, oid))
        for item in plan.withdrawals:
            origin, oid, _ = identity(item, self.me)
            settled.append(Settled(item.obs_id, item.marking_id, "withdrawn", origin, oid))
        withdrawn_keys = [record_key(*identity(w, self.me)[:2]) for w in plan.withdrawals]
        actor = f"federation:{self.partner.name}"
        with self.store.transaction():
            self.store.federation_settle(self.partner.partner_id, settled, pending.obs_cursor,
                                         pending.change_cursor, sent=len(sent_keys),
                                         refused=len(refused_keys),
                                         withdrawn=len(withdrawn_keys))
            if sent_keys or refused_keys:
                self.store.audit(actor, "federation.sent",
                                 {"sent": len(sent_keys), "refused_by_partner": len(refused_keys),
                                  **keys_detail(sent_keys)})
            if withdrawn_keys:
                self.store.audit(actor, "federation.withdrawn",
                                 {"withdrawn": len(withdrawn_keys),
                                  **keys_detail(withdrawn_keys)})
        self.sent += len(sent_keys)
        self.refused += len(refused_keys)
        self.withdrawn += len(withdrawn_keys)


class LinkError(Exception):
    """A partner's answer that is not a federation answer (the link tries again)."""


__all__ = ["Link", "LinkConfig", "LinkError", "plan_step"]
