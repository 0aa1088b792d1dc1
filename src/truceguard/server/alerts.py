"""Alerts: new violations owed to alert targets, kept in a durable outbox, delivered at least
once under one idempotency key each.

- A target has an audience (``store.mission.AUDIENCES``): ``team``, the mission's own duty
  officers, alerted on every new violation whatever its status; or ``published``, anyone
  beyond the team (a partner nation's operations centre, a press desk), alerted only on a
  violation a second analyst published, once. Every body says which (``audience``) and
  whether the violation is published (``published``).
- ``owe(store, violation_ids)`` decides who is owed what of the violations live judging
  found: every active target whose terms match, whose minimum severity the violation
  reaches, whose user may see it (the violation as that user's view of the incident, through
  the store's releasability), and whose audience takes it (``store.mission.owes``: a new
  violation is the team's only). Publication (``pipeline.set_violation_status``, from the
  CLI or the API) owes the ``published`` targets in the store, in the same transaction
  (``store.owe_published``); the dispatcher polls the outbox, so a publication from any
  process is delivered by the running server. One outbox row per target and violation, so
  nothing is owed twice, whoever calls it.
- ``Dispatcher`` delivers what is due: a webhook gets a JSON POST with an
  ``X-Truceguard-Signature: sha256=HMAC`` header over the exact body (the target's secret) and
  an ``Idempotency-Key`` header that stays the same across retries; a failure is retried
  with exponential backoff (1 s, 2 s, 4 s ... up to 5 minutes; given up after
  ``MAX_ATTEMPTS``). The body is written when delivering, from the violation as the target's
  user sees it then; a ``published`` target's alert about a violation no longer published
  (withdrawn since) is cancelled, not sent. A restart picks up what was owed: the outbox is in
  the store. It is a service (``start``, ``stop(drain=True)``: the deliveries in flight are
  sent and recorded first; ``health``: what is due, which targets fail). Among several nodes
  on one PostgreSQL each node claims the rows it delivers (``store.cluster.OutboxClaims``:
  ``SKIP LOCKED`` and a lease), so no row is sent by two nodes at once.
- CoT targets receive the violation as a CoT marker through the CoT-out sender.
- A target may not point inside the network (loopback, link-local such as a cloud metadata
  address, private, unique-local, multicast, unspecified or reserved addresses) unless its
  operator allowed it for that target (``allow_private``), nor carry credentials in its URL:
  ``check_target_url`` refuses it when it is added and again before each delivery, and
  ``resolve_checked`` resolves the host when connecting and checks every address it has; the
  connection goes to the address that was checked (no second lookup for a DNS server to
  rebind).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from truceguard.errors import InputError
from truceguard.io.records import record_dict
from truceguard.model import STATUS_PUBLISHED, Violation
from truceguard.server.ids import ApiIds
from truceguard.server.service import ServiceHealth, State
from truceguard.store import MissionStore, Store
from truceguard.store.cluster import OutboxClaims
from truceguard.store.mission import (
    AUDIENCE_PUBLISHED,
    AUDIENCE_TEAM,
    AUDIENCES,
    AlertTarget,
    OutboxItem,
    outbox_key,
    owes,
)

log = logging.getLogger("truceguard.server")

MAX_ATTEMPTS = 12
MAX_BACKOFF_S = 300.0
SIGNATURE_HEADER = "X-Truceguard-Signature"
NODE_HEADER = "X-Truceguard-Node"


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_HINT = ("point the target at a public address, or add it with --allow-private if this "
              "server is meant to reach that network")


def _safe_url(url: str) -> str:
    """``url`` with any user name and password left out (never echoed)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def address_problem(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address a target may point at; None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for flag, why in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                      ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                      ("is_reserved", "reserved"), ("is_private", "private")):
        if getattr(ip, flag):
            return why
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.IPv6Network("fc00::/7"):
        return "unique-local"
    if not ip.is_global:
        return "not public"
    return None


def _literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form the resolver takes (``127.1``, ``0x7f.1``,
    ``2130706433``); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class TargetRefused(InputError):
    """An alert target points where this server may not send, or its URL carries
    credentials."""

    code = "alerts.private_address"
    default_hint = ALLOW_HINT


def check_target_url(url: str, kind: str, *, allow_private: bool = False) -> None:
    """Refuse a target URL that carries credentials, or (unless ``allow_private``) names an
    address inside the network: ``localhost`` or an address literal (names are checked when
    delivering, on the addresses they resolve to)."""
    parts = urlsplit(url.strip())
    shown = _safe_url(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefused(f"{kind} target {shown!r} carries credentials in its URL",
                            hint="leave the user name and password out of the URL: webhooks "
                                 "are authenticated by their signing secret",
                            code="alerts.credentials_in_url")
    host = (parts.hostname or "").rstrip(".").lower()
    if allow_private or not host:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise TargetRefused(f"{kind} target {shown!r}: {host!r} is a loopback address")
    ip = _literal(host)
    why = address_problem(ip) if ip is not None else None
    if why:
        raise TargetRefused(f"{kind} target {shown!r}: {host!r} is a {why} address ({ip})")


def add_target(store: MissionStore, *, webhook: str | None, cot: str | None, as_user: str,
               name: str | None = None, min_severity: int = 1, terms: str = "",
               allow_private: bool = False, audience: str = AUDIENCE_TEAM, by: str
               ) -> tuple[AlertTarget, str]:
    """Add an alert target (`truceguard alerts add`, ``POST /api/v1/alerts``): a webhook URL
    or a CoT ``tcp://HOST:PORT``, receiving what ``as_user`` may see, for ``audience``
    (``team``: every new violation; ``published``: published findings only), audited as
    ``by``. Returns the target and a webhook's signing secret ('' for CoT), which nothing
    shows again."""
    import secrets

    from truceguard.errors import NotFoundError, unknown_value

    if audience not in AUDIENCES:
        raise unknown_value("audience", audience, AUDIENCES, code="input.bad_audience")
    if bool(webhook) == bool(cot):
        raise InputError("give one of --webhook URL or --cot tcp://HOST:PORT",
                         hint="one target per command", code="input.conflicting_options")
    url = webhook or cot or ""
    check_target_url(url, "webhook" if webhook else "cot", allow_private=allow_private)
    u = urlsplit(url)
    if webhook and (u.scheme not in ("http", "https") or not u.hostname):
        raise InputError(f"--webhook {url!r} is not an http(s) URL",
                         hint="e.g. https://alerts.example.org/truceguard", code="input.bad_url")
    if cot and (u.scheme != "tcp" or not u.hostname or not u.port):
        raise InputError(f"--cot {url!r} is not tcp://HOST:PORT",
                         hint="e.g. tcp://tak.example.org:8087", code="input.bad_url")
    user = store.user_by_name(as_user)
    if user is None:
        raise NotFoundError(f"no user named {as_user!r}",
                            hint="`truceguard users list` shows them", code="not_found.user")
    secret = secrets.token_urlsafe(32) if webhook else ""
    target = store.add_alert_target(name or f"{u.hostname}:{u.port or u.scheme}",
                                    "webhook" if webhook else "cot", url, secret,
                                    min_severity, terms, user.user_id,
                                    allow_private=allow_private, audience=audience)
    store.audit(by, "alerts.add", {"name": target.name, "kind": target.kind, "url": url,
                                   "as": as_user, "allow_private": allow_private,
                                   "audience": audience})
    return target, secret


def disable_target(store: MissionStore, target_id: int, *, by: str) -> AlertTarget:
    """Disable an alert target, audited as ``by``: nothing more is owed to it."""
    target = store.disable_alert_target(target_id)
    store.audit(by, "alerts.disable", {"name": target.name, "target_id": target_id})
    return target


def target_dict(target: AlertTarget) -> dict[str, Any]:
    """An alert target as listed: never its signing secret."""
    return {"target_id": target.target_id, "name": target.name, "kind": target.kind,
            "url": target.url, "min_severity": target.min_severity,
            "terms": target.terms, "user_id": target.user_id, "disabled": target.disabled,
            "allow_private": target.allow_private, "audience": target.audience}


async def resolve_checked(url: str, host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, now; TargetRefused when any is not public."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise OSError(f"{host!r} resolves to no address")
    for ip in addresses:
        why = address_problem(ip)
        if why:
            raise TargetRefused(f"target {_safe_url(url)!r}: {host!r} resolves to a {why} "
                                f"address ({ip})")
    return addresses


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def idempotency_key(target: AlertTarget, violation_id: int) -> str:
    return outbox_key(target, violation_id)


def payload(violation: Violation, key: str, ids: ApiIds, audience: str = AUDIENCE_TEAM) -> str:
    """The webhook body: the violation as the API shows it (its ids as opaque tokens, so a
    receiver cannot count the violations it was not sent), the target's ``audience`` and
    whether the violation is ``published`` (a team's alert about a draft says it is not)."""
    return json.dumps({"type": "truceguard.violation", "idempotency_key": key,
                       "marking": violation.releasability, "audience": audience,
                       "published": violation.status == STATUS_PUBLISHED,
                       "violation": ids.shown(record_dict(violation))},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def owe(store: Store, violation_ids: Sequence[int], now: float | None = None) -> int:
    """Put the deliveries these violations are owed into the outbox; returns how many."""
    if not violation_ids:
        return 0
    items: list[tuple[int, int, str, str]] = []
    ids = ApiIds(store.incident_key)
    for target in store.alert_targets(active_only=True):
        user = store.user_by_id(target.user_id)
        if user is None or user.disabled:
            continue
        for vid in violation_ids:
            v = store.get_violation(vid, user.viewer)
            if v is None or not owes(target, v):
                continue
            key = idempotency_key(target, vid)
            items.append((target.target_id, vid, key, payload(v, key, ids, target.audience)))
    return store.enqueue(items, time.time() if now is None else now)


Sender = Callable[[AlertTarget, OutboxItem], Awaitable[None]]


class Dispatcher:
    """Delivers due outbox items (a ``Service``); ``poke()`` wakes it at once (e.g. after
    ``owe``).

    On one node it reads what is due from the store. Among several nodes on one PostgreSQL it
    is given ``claims`` (``store.cluster.OutboxClaims``): each node claims the rows it
    delivers, so no row is sent by two nodes at once, and a row whose node died is taken
    over (delivered again under its idempotency key, since the dead node may have sent it
    without recording it); each webhook then names the node that sent it in
    ``X-Truceguard-Node``."""

    name = "alerts"

    def __init__(self, store: Store, *, cot_sender: Sender | None = None,
                 timeout_s: float = 5.0, poll_s: float = 0.5,
                 claims: OutboxClaims | None = None, node: str = "") -> None:
        self.store = store
        self.cot_sender = cot_sender
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.claims = claims
        self.node = node
        self._wake = asyncio.Event()
        self._stop = False
        self._task: asyncio.Task[None] | None = None
        self._state: State = "starting"
        self.owed = 0  # items due at the last look
        self.delivered_count = 0
        self.failing: dict[str, str] = {}  # target name -> its last error, until it succeeds

    def poke(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)
        self._state = "running"

    async def stop(self, drain: bool = True) -> None:
        """End the loop: with ``drain``, once the deliveries in flight are sent and recorded;
        without, at once (what was not recorded is delivered again later, same key)."""
        self._stop = True
        self._wake.set()
        if self._state == "running":
            self._state = "draining"
        if self._task is not None and not self._task.done():
            if not drain:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._state = "stopped"
        if self.claims is not None:
            await self.claims.close()

    def health(self) -> ServiceHealth:
        failing = sorted(self.failing)
        detail = f"{self.owed} alert(s) due" + (
            f"; failing: {', '.join(failing)}" if failing else "")
        return ServiceHealth(self.name, self._state, detail,
                             extra={"owed": self.owed, "delivered": self.delivered_count,
                                    "failing_targets": failing})

    async def run(self) -> None:
        import httpx

        self._state = "running"
        try:
            # made in a thread: its TLS context loads the CA bundle (~50 ms of CPU)
            client = await asyncio.to_thread(httpx.AsyncClient, timeout=self.timeout_s,
                                             follow_redirects=False)
            async with client:
                while not self._stop:
                    try:
                        await self.deliver_due(client)
                    except Exception:  # noqa: BLE001 - the store is away: try again later
                        log.exception("alerts: could not read what is due")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_s)
                    self._wake.clear()
        finally:
            if self._state != "stopped":
                self._state = "stopped"

    async def deliver_due(self, client: Any) -> int:
        if self.claims is not None:
            due = await self.claims.claim(time.time(), 200)
        else:
            due = await asyncio.to_thread(self.store.due, time.time(), 200)
        self.owed = len(due)
        if not due:
            return 0
        targets = {t.target_id: t for t in await asyncio.to_thread(self.store.alert_targets)}
        await asyncio.gather(*(self._deliver(client, targets[item.target_id], item)
                               for item in due if item.target_id in targets))
        self.owed = 0
        return len(due)

    def _current(self, target: AlertTarget, item: OutboxItem) -> OutboxItem | str:
        """The item as it is owed now: its violation as the target's user may see it today;
        else why it is not owed any more (their user disabled, the reports behind it no
        longer releasable to them, or for a ``published`` target, no longer published)."""
        user = self.store.user_by_id(target.user_id)
        if user is None or user.disabled or target.disabled:
            return "the target or its user is disabled"
        v = self.store.get_violation(item.violation_id, user.viewer)
        if v is None:
            return "not releasable to the target's user any more"
        if target.audience == AUDIENCE_PUBLISHED and v.status != STATUS_PUBLISHED:
            return f"no longer published ({v.status})"
        return replace(item, payload=payload(v, item.idempotency_key,
                                             ApiIds(self.store.incident_key), target.audience))

    async def _retry_later(self, item: OutboxItem, next_at: float, error: str, *,
                           give_up: bool) -> None:
        if self.claims is None:
            await asyncio.to_thread(self.store.retry_later, item.outbox_id, next_at, error,
                                    give_up=give_up)
        elif not await self.claims.retry_later(item.outbox_id, next_at, error,
                                               give_up=give_up):
            log.warning("alert %s: another node took it over meanwhile", item.idempotency_key)

    async def _delivered(self, item: OutboxItem) -> None:
        self.delivered_count += 1
        if self.claims is None:
            await asyncio.to_thread(self.store.delivered, item.outbox_id, time.time())
        elif not await self.claims.delivered(item.outbox_id, time.time()):
            log.warning("alert %s delivered, but another node took it over meanwhile (it may "
                        "deliver it again, under the same key)", item.idempotency_key)

    async def _deliver(self, client: Any, target: AlertTarget, item: OutboxItem) -> None:
        now_owed = await asyncio.to_thread(self._current, target, item)
        if isinstance(now_owed, str):
            log.info("alert %s to %s cancelled: %s", item.idempotency_key, target.name,
                     now_owed)
            await self._retry_later(item, time.time(), f"cancelled: {now_owed}", give_up=True)
            return
        item = now_owed
        try:
            if target.kind == "webhook":
                await post_webhook(client, target, item, node=self.node)
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
            self.failing[target.name] = f"{type(exc).__name__}: {exc}"
            await self._retry_later(item, time.time() + wait, f"{type(exc).__name__}: {exc}",
                                    give_up=give_up)
            return
        self.failing.pop(target.name, None)
        await self._delivered(item)


async def _pinned(target: AlertTarget) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Where to send a webhook: its URL checked, its host resolved once and every address
    checked, the URL made to name the address that was checked (the name stays in ``Host``
    and, for https, in the TLS server name, so the certificate is checked against it)."""
    check_target_url(target.url, "webhook", allow_private=target.allow_private)
    if target.allow_private:
        return target.url, {}, {}
    parts = urlsplit(target.url)
    host = parts.hostname or ""
    if _literal(host) is not None:
        return target.url, {}, {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ip = (await resolve_checked(target.url, host, port))[0]
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    if parts.port:
        netloc += f":{parts.port}"
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return url, {"Host": parts.netloc}, extensions


async def post_webhook(client: Any, target: AlertTarget, item: OutboxItem, *,
                       node: str = "") -> None:
    body = item.payload.encode("utf-8")
    url, headers, extensions = await _pinned(target)
    if node:
        headers = {**headers, NODE_HEADER: node}
    r = await client.post(url, content=body, headers={
        **headers,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(target.secret, body),
        "Idempotency-Key": item.idempotency_key,
        "User-Agent": "truceguard-alerts",
    }, extensions=extensions)
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
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
            await post_webhook(client, target, item)
    except Exception as exc:  # the answer is the sentence, whatever went wrong
        return f"{target.name}: test alert NOT delivered ({type(exc).__name__}: {exc})"
    return f"{target.name}: test alert delivered"


__all__ = [
    "add_target",
    "disable_target",
    "target_dict",
    "Dispatcher",
    "TargetRefused",
    "address_problem",
    "check_target_url",
    "idempotency_key",
    "owe",
    "payload",
    "resolve_checked",
    "signature",
    "test_target",
]
