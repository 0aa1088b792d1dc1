"""``truceguard serve``: the API on uvicorn, live judging, the alert dispatcher (and the CoT
listeners) in one asyncio process.

Logging: one line per start and stop (and per CoT client connect, disconnect and shed load,
from the listeners). SIGTERM or SIGINT stops it cleanly: the API stops taking requests, what
was acknowledged is already committed (every write commits before it answers), the live loop
finishes its step, and the store is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from truceguard.errors import InputError
from truceguard.judge.terms import load_terms
from truceguard.model import User
from truceguard.server.alerts import Dispatcher
from truceguard.server.api import create_app
from truceguard.server.live import LiveJudge, warm_up
from truceguard.server.plans import PlanRunner
from truceguard.server.throttle import write_rows
from truceguard.store import Store, open_store
from truceguard.store.mission import AlertTarget, OutboxItem

log = logging.getLogger("truceguard.server")


@dataclass
class ServeConfig:
    db: str
    host: str = "127.0.0.1"
    port: int = 8000
    terms: list[str] = field(default_factory=list)
    batch_s: float = 0.2
    cot_tcp: int | None = None
    cot_udp: int | None = None
    cot_tls: int | None = None
    cert: str | None = None
    key: str | None = None
    client_ca: str | None = None
    cot_as: str | None = None  # the user whose nation and marking plain-port data gets
    audit_key: str | None = None  # the audit key file (else $TRUCEGUARD_AUDIT_KEY_FILE)
    auth_flush_s: float = 5.0  # how often closed minutes of failed logins are audited
    users_poll_s: float = 1.0
    busy_timeout_s: float = 5.0  # how long a request waits for another writer's lock (then 503)


class CotTargets:
    """The CoT-out side of alerts: one sender per CoT alert target, a violation sent as the
    marker its target's user may see (``Dispatcher``'s ``cot_sender``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.senders: dict[int, Any] = {}

    async def __call__(self, target: AlertTarget, item: OutboxItem) -> None:
        from truceguard.server.cot_out import CotSender, violation_to_cot

        user = await asyncio.to_thread(self.store.user_by_id, target.user_id)
        if user is None or user.disabled:
            raise RuntimeError(f"the target's user is gone or disabled ({target.user_id})")
        v = await asyncio.to_thread(self.store.get_violation, item.violation_id, user.viewer)
        if v is None:
            raise RuntimeError(f"violation {item.violation_id} is not releasable to {user.name}")
        sender = self.senders.get(target.target_id)
        if sender is None:
            sender = self.senders[target.target_id] = CotSender(
                target.url, allow_private=target.allow_private)
            await sender.start()
        await sender.send(violation_to_cot(v))

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("truceguard")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def check_config(config: ServeConfig) -> None:
    if not 0 < config.port < 65536:
        raise InputError(f"--port {config.port} is not a TCP port", hint="1-65535",
                         code="input.out_of_range")
    if not config.busy_timeout_s > 0:
        raise InputError(f"busy timeout {config.busy_timeout_s} s is not positive",
                         hint="give a number of seconds > 0", code="input.out_of_range")


async def serve(config: ServeConfig) -> None:
    """Run until SIGTERM/SIGINT (or until the task is cancelled)."""
    import uvicorn

    check_config(config)
    terms = [load_terms(t) for t in config.terms]
    await asyncio.to_thread(warm_up, terms)
    store = open_store(config.db)
    if hasattr(store, "set_busy_timeout"):
        store.set_busy_timeout(config.busy_timeout_s)
    if config.audit_key:
        from truceguard.audit import load_key

        store.set_audit_key(load_key(config.audit_key))
    cot_targets = CotTargets(store)
    dispatcher = Dispatcher(store, cot_sender=cot_targets)
    live = LiveJudge(store, terms, batch_s=config.batch_s, on_alerts=dispatcher.poke)
    plans = PlanRunner(store)
    cot = await _start_cot(store, config, live) if _cot_wanted(config) else None

    def ended(name: str) -> None:
        if cot is not None:
            n = cot.disconnect_user(name)
            log.info("user %s disabled: %d CoT connection(s) closed", name, n)

    app = create_app(store, on_ingest=live.poke, on_user_disabled=ended, plans=plans)
    server = _Server(uvicorn.Config(app, host=config.host, port=config.port,
                                    log_level="warning", lifespan="off", access_log=False))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve(), name="api"),
             asyncio.create_task(live.run(), name="live"),
             asyncio.create_task(dispatcher.run(), name="alerts"),
             asyncio.create_task(_watch_users(store, ended, config.users_poll_s),
                                 name="users"),
             asyncio.create_task(_flush_auth_failures(app, store, config.auth_flush_s),
                                 name="auth-audit")]
    cot_text = ""
    if cot is not None:
        cot_text = ", CoT " + ", ".join(f"{k} {v}" for k, v in cot.server.ports.items())
    log.info("start: API on http://%s:%d%s, database %s, judging against %s", config.host,
             config.port, cot_text, store.path,
             ", ".join(t.name for t in terms) or "no terms")
    try:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        server.should_exit = True
        if cot is not None:
            await cot.stop()  # stops listening, then commits everything acknowledged
        live.stop()
        dispatcher.stop()
        tasks[-1].cancel()
        tasks[-2].cancel()
        await asyncio.wait(tasks, timeout=10)
        await asyncio.to_thread(write_rows, store, app.state.login_throttle.drain())
        await cot_targets.close()
        plans.close()
        store.close()
        log.info("stop: the server has stopped")


def _cot_wanted(config: ServeConfig) -> bool:
    return any(p is not None for p in (config.cot_tcp, config.cot_udp, config.cot_tls))


async def _start_cot(store: Store, config: ServeConfig, live: LiveJudge) -> Any:
    """The CoT listeners: plain ports speak as ``--cot-tcp-as USER``, TLS clients are users by
    their certificate; every commit wakes the live judging loop."""
    from truceguard.server.cot import CotConfig, start_cot

    plain_user = None
    if config.cot_tcp is not None or config.cot_udp is not None:
        if not config.cot_as:
            raise InputError("the plain CoT ports need --cot-tcp-as USER (whose nation and "
                             "marking their data gets)", hint="e.g. --cot-tcp-as field-team",
                             code="input.missing")
        plain_user = store.user_by_name(config.cot_as)
        if plain_user is None or plain_user.disabled:
            raise InputError(f"--cot-tcp-as {config.cot_as!r} is no active user",
                             hint="`truceguard users list` shows them", code="input.bad_user")

    def by_cert(fingerprint: str) -> User | None:
        user = store.user_by_cert(fingerprint)
        return None if user is None or user.disabled else user

    cfg = CotConfig(host=config.host, tcp_port=config.cot_tcp, udp_port=config.cot_udp,
                    tls_port=config.cot_tls, certfile=config.cert, keyfile=config.key,
                    client_ca=config.client_ca)
    return await start_cot(store, cfg, plain_user=plain_user, resolve_cert=by_cert,
                           on_committed=live.poke)


async def _watch_users(store: Store, ended: Any, every_s: float) -> None:
    """Users disabled by another process (``truceguard users disable``) lose their live CoT
    connections within ``every_s``; their tokens stop working at once anyway."""
    disabled = {u.name for u in await asyncio.to_thread(store.users) if u.disabled}
    while True:
        await asyncio.sleep(every_s)
        now = {u.name for u in await asyncio.to_thread(store.users) if u.disabled}
        for name in sorted(now - disabled):
            ended(name)
        disabled = now


async def _flush_auth_failures(app: Any, store: Store, every_s: float) -> None:
    """Audit the failed logins of each closed minute (``server.throttle``); the rest are
    audited at shutdown."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(write_rows, store, app.state.login_throttle.due())
        except Exception:  # a store that cannot be written now: its next turn retries
            log.exception("could not audit failed logins")


class _Server:
    """uvicorn's Server without its own signal handling (``serve`` handles the signals, so
    that shutting down finishes our work before the process ends)."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self._server = Quiet(config)

    @property
    def should_exit(self) -> bool:
        return bool(self._server.should_exit)

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._server.should_exit = value

    async def serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn could not start: the port is taken, say
            raise InputError(f"cannot listen on {self._server.config.host}:"
                             f"{self._server.config.port} (in use, or not allowed)",
                             hint="choose another --port or --host",
                             code="server.bind_failed") from None


def run(config: ServeConfig) -> None:
    setup_logging()
    asyncio.run(serve(config))


__all__ = ["ServeConfig", "run", "serve"]
