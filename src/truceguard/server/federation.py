"""Federation (``truceguard.federation``) as a service of ``truceguard serve``
(``server.service``): the links out and the listener in.

``FederationService`` (``federation``) starts when the server has a federation certificate
(``serve --federation-cert --federation-key``): its CN is this server's name; the store's
owner nation (``truceguard init --nation``) is the nation whose markings bound what it may
receive. It runs one ``Link`` per registered partner and, with ``--federation-port``, the
mutual-TLS listener (``listener``). Every ``refresh_s`` it reads the partners again: a partner
added starts a link (and its CA is trusted by the listener from then on), a partner removed
stops its link and is refused from then on. ``stop(drain=True)`` stops accepting, lets the
requests under way finish and stops the links (what they had not had acknowledged is sent
again after a restart). ``health`` shows each link's counters, how many items it had in its
last step (``behind``: 0 when caught up) and its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from truceguard.errors import InputError, TruceguardError, error_envelope
from truceguard.federation.link import Link, LinkConfig
from truceguard.federation.listener import FederationListener
from truceguard.federation.receive import receive_batch, refuse_request
from truceguard.federation.tls import load_cas, own_name, peer_partner, server_context
from truceguard.federation.wire import FederationInputError, answer_body, parse_batch
from truceguard.server.service import TaskService
from truceguard.store.base import Store
from truceguard.store.federation import Partner

log = logging.getLogger("truceguard.federation")


@dataclass(frozen=True, slots=True)
class FederationConfig:
    cert: str
    key: str
    host: str = "127.0.0.1"
    port: int | None = None  # the listener's port; None: send only
    refresh_s: float = 1.0
    link: LinkConfig = LinkConfig()


class FederationService(TaskService):
    """The links and the listener (see the module docstring)."""

    name = "federation"

    def __init__(self, store: Store, config: FederationConfig) -> None:
        super().__init__()
        self.store, self.config = store, config
        self.me = ""
        self.nation = ""
        self.links: dict[int, tuple[Link, asyncio.Task[None]]] = {}
        self.partners: list[Partner] = []
        self.listener: FederationListener | None = None
        self._cas: set[str] = set()
        self._ca_certs: dict[str, Any] = {}  # CA file -> its certificates (tls.load_cas)

    async def start(self) -> None:
        self.me, self.nation, self.partners = await asyncio.to_thread(self._identity)
        if self.config.port is not None:
            self._cas = {p.ca for p in self.partners}
            ctx = await asyncio.to_thread(server_context, self.config.cert, self.config.key,
                                          sorted(self._cas))
            self.listener = FederationListener(self.config.host, self.config.port, ctx,
                                               self._resolve, self._handle, self._refused)
            try:
                await self.listener.start()
            except OSError as exc:
                raise InputError(f"cannot listen for federation on {self.config.host}:"
                                 f"{self.config.port} ({exc.strerror})",
                                 hint="choose another --federation-port",
                                 code="server.bind_failed") from None
        await super().start()

    def _identity(self) -> tuple[str, str, list[Partner]]:
        me = own_name(self.config.cert)
        nation = self.store.owner_nation()
        if not nation:
            raise InputError(f"{self.store.path} has no owner nation; federation needs one",
                             hint="truceguard init --nation CODE", code="input.missing")
        partners = self.store.partners()
        self._ca_certs = load_cas(partners)
        return me, nation, partners

    def _reload(self) -> tuple[list[Partner], dict[str, Any]]:
        partners = self.store.partners()
        return partners, load_cas(partners)

    async def main(self) -> None:
        while True:
            self._sync_links()
            await asyncio.sleep(self.config.refresh_s)
            self.partners, self._ca_certs = await asyncio.to_thread(self._reload)
            if self.listener is not None:
                for ca in {p.ca for p in self.partners} - self._cas:
                    await asyncio.to_thread(self.listener.context.load_verify_locations, ca)
                    self._cas.add(ca)

    def _sync_links(self) -> None:
        wanted = {p.partner_id: p for p in self.partners}
        for pid in list(self.links):
            if pid not in wanted:
                link, task = self.links.pop(pid)
                task.cancel()
                log.info("federation: link to %s stopped (partner removed)", link.partner.name)
        for pid, partner in wanted.items():
            if pid not in self.links or self.links[pid][1].done():
                link = Link(self.store, partner, self.me, self.config.link)
                task = asyncio.get_running_loop().create_task(
                    link.run(), name=f"truceguard-federation-{partner.name}")
                self.links[pid] = (link, task)
                log.info("federation: link to %s (%s, %s) started", partner.name,
                         partner.nation, partner.url)

    def _resolve(self, der: bytes) -> Partner | None:
        return peer_partner(der, self.partners, self._ca_certs)

    async def _handle(self, partner: Partner, body: bytes) -> tuple[int, bytes]:
        try:
            batch = parse_batch(body)
        except FederationInputError as exc:
            await self._refused(partner, exc.code, str(exc))
            return exc.http_status, answer_body(error_envelope(exc))
        try:
            answer = await asyncio.to_thread(receive_batch, self.store, partner, batch,
                                             self.me, self.nation)
        except TruceguardError as exc:
            log.warning("federation: a batch from %s was not stored: %s", partner.name, exc)
            return exc.http_status, answer_body(error_envelope(exc))
        except Exception as exc:  # a bug: its traceback to the log, the envelope to the partner
            log.exception("federation: a batch from %s failed", partner.name)
            return 500, answer_body(error_envelope(exc))
        for link, _task in self.links.values():  # what came in may go on
            link.wake()
        return 200, answer_body(answer)

    async def _refused(self, partner: Partner | None, code: str, message: str) -> None:
        with contextlib.suppress(TruceguardError):
            await asyncio.to_thread(refuse_request, self.store, partner, code, message)

    async def stop(self, drain: bool = True) -> None:
        if self.listener is not None:
            await self.listener.stop(drain=drain)
        tasks = [t for _l, t in self.links.values()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.links.clear()
        await super().stop(drain)

    def detail(self) -> str:
        if self.error:
            return super().detail()
        where = f", listening on {self.config.host}:{self.listener.port}" if self.listener else ""
        return f"{self.me}: {len(self.links)} link(s){where}"

    def counters(self) -> dict[str, Any]:
        now = time.time()
        links = {}
        for link, _task in self.links.values():
            links[link.partner.name] = {
                "relay": link.partner.relay, "sent": link.sent, "refused": link.refused,
                "withdrawn": link.withdrawn,
                "behind": link.behind, "last_error": link.last_error,
                "caught_up_s_ago": (None if link.caught_up_at is None
                                    else round(now - link.caught_up_at, 1))}
        out: dict[str, Any] = {"links": links}
        if self.listener is not None:
            out.update(requests=self.listener.requests, refused=self.listener.refused,
                       tls_refused=self.listener.tls_refused)
        return out


__all__ = ["FederationConfig", "FederationService"]
