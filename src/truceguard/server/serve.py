"""``truceguard serve``: every part of the server as a service (``server.service``) under one
``Supervisor``, in one asyncio process.

The services, in the order they start (and the reverse order they stop): on PostgreSQL the
node's ``cluster`` session; ``cot-out`` (the senders to CoT alert targets), ``alerts`` (the
dispatcher), ``live`` (live judging), ``cot-ingest`` and one listener per CoT port
(``cot-tcp``, ``cot-tls``, ``cot-udp``), ``users`` (ends the connections of users disabled
elsewhere), ``auth-audit`` (writes the failed-login tallies), ``plans`` (the plan runner),
with ``--federation-cert`` ``federation`` (the links to the partner servers and, with
``--federation-port``, the mutual-TLS listener: ``truceguard.federation``), and ``http`` (the
API on uvicorn) last, so that ``/healthz`` answers once everything runs.
``app.state.supervisor`` is the supervisor: ``/healthz`` and ``/readyz`` read it.

SIGTERM or SIGINT (or a service that fails) stops them: the API stops accepting connections
and finishes the requests under way; each CoT listener stops accepting, tells its senders,
commits everything it read; live judging finishes its step; the store is closed last. The log
has one line per service started and stopped.

Nothing here blocks the event loop: the store is opened, read and closed in worker threads;
``on_user_disabled`` (called by the API from a worker thread) comes back to the loop with
``call_soon_threadsafe`` before it touches a connection. ``--loop-debug-ms`` runs the loop in
asyncio's debug mode and logs each callback that holds it longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from truceguard.errors import InputError, MissingExtraError, TruceguardError
from truceguard.judge.terms import Terms, load_terms
from truceguard.model import User
from truceguard.server.alerts import Dispatcher
from truceguard.server.api import create_app
from truceguard.server.cluster import NodeCluster, UserWatcher
from truceguard.server.cot_out import CotTargets
from truceguard.server.live import LiveJudge, warm_up
from truceguard.server.plans import PlanRunner, PlanService
from truceguard.server.service import ServiceHealth, State, Supervisor, on_loop
from truceguard.server.throttle import FailedLoginAudit
from truceguard.store import Store, open_store
from truceguard.store.cluster import is_postgres_url

log = logging.getLogger("truceguard.server")

SWITCH_INTERVAL_S = 0.001  # Python's default is 0.005


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
    cot_max_per_peer: int = 64  # CoT connections from one source address
    audit_key: str | None = None  # the audit key file (else $TRUCEGUARD_AUDIT_KEY_FILE)
    auth_flush_s: float = 5.0  # how often closed minutes of failed logins are audited
    users_poll_s: float = 1.0
    busy_timeout_s: float = 5.0  # how long a request waits for another writer's lock (then 503)
    drain_s: float = 10.0  # how long each service may drain at a stop
    loop_debug_ms: float | None = None  # asyncio debug mode; log callbacks over this
    federation_cert: str | None = None  # this server's federation certificate (its CN: name)
    federation_key: str | None = None
    federation_port: int | None = None  # the mutual-TLS federation listener
    basemap: str | None = None  # a PMTiles archive the dashboard draws under its layers
    basemap_marking: str = "PUBLIC"  # who may read it (routes.basemap)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("truceguard")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    aio = logging.getLogger("asyncio")  # slow callbacks, in debug mode; never silenced
    aio.handlers[:] = [handler]
    aio.setLevel(logging.WARNING)
    aio.propagate = False


def check_config(config: ServeConfig) -> None:
    if not 0 < config.port < 65536:
        raise InputError(f"--port {config.port} is not a TCP port", hint="1-65535",
                         code="input.out_of_range")
    if not config.busy_timeout_s > 0:
        raise InputError(f"busy timeout {config.busy_timeout_s} s is not positive",
                         hint="give a number of seconds > 0", code="input.out_of_range")
    if config.loop_debug_ms is not None and not config.loop_debug_ms > 0:
        raise InputError(f"--loop-debug-ms {config.loop_debug_ms:g} is not positive",
                         hint="give milliseconds > 0, e.g. 50", code="input.out_of_range")


async def serve(config: ServeConfig) -> None:
    """Run until SIGTERM/SIGINT, a failed service, or the task is cancelled."""
    check_config(config)
    # Worker threads (commits, judging, sync routes) hold the interpreter lock in turns of
    # this long; the loop waits at most about this much each time it needs the lock back.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    loop = asyncio.get_running_loop()
    if config.loop_debug_ms is not None:
        from truceguard.server.loopwatch import watch_loop_cpu

        loop.set_debug(True)
        loop.slow_callback_duration = config.loop_debug_ms / 1000
        watch_loop_cpu(config.loop_debug_ms / 1000)
    basemap = open_basemap(config.basemap, config.basemap_marking)
    terms = await asyncio.to_thread(_load_terms, config.terms)
    store = await asyncio.to_thread(_open, config)
    supervisor = Supervisor(drain_s=config.drain_s)
    try:
        failed = await _run(config, store, terms, supervisor, basemap)
    finally:
        await supervisor.stop(drain=True)
        await asyncio.to_thread(store.close)
        if basemap is not None:
            basemap.archive.close()
        log.info("stop: the server has stopped")
    if failed is not None:
        error = getattr(failed, "error", None)
        if isinstance(error, TruceguardError):
            raise error
        raise TruceguardError(f"service {failed.name} failed: {failed.health().detail}",
                              hint="the log above says why", code="server.service_failed")


def _load_terms(names: list[str]) -> list[Terms]:
    """The terms, their indexes built; and what the services import at their first use
    (here, in a thread, rather than on the loop)."""
    import httpx  # noqa: F401  - the alert dispatcher's client

    terms = [load_terms(t) for t in names]
    warm_up(terms)
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the server: no collection walks it again
    return terms


def open_basemap(path: str | None, marking: str) -> Any:
    """The basemap to serve (``routes.basemap.ServedBasemap``) from the PMTiles archive at
    ``path`` with ``marking``, checked now (``input.basemap`` for a file that is not a
    readable archive); None without a path."""
    if path is None:
        return None
    try:
        import pmtiles  # noqa: F401
    except ModuleNotFoundError:
        raise MissingExtraError("--basemap", "server", "pmtiles") from None
    from truceguard.marking import parse_marking
    from truceguard.server.routes.basemap import ServedBasemap
    from truceguard.web.basemap import Basemap

    parsed = parse_marking(marking, legacy=False)
    archive = Basemap(path)
    log.info("basemap: %s (%s tiles, zoom %d-%d, %s)", path, archive.info.tile_type,
             archive.info.min_zoom, archive.info.max_zoom, parsed.text)
    return ServedBasemap(archive, parsed)


def _open(config: ServeConfig) -> Store:
    store = open_store(config.db)
    store.set_busy_timeout(config.busy_timeout_s)
    if config.audit_key:
        from truceguard.audit import load_key

        store.set_audit_key(load_key(config.audit_key))
    return store


async def _run(config: ServeConfig, store: Store, terms: list[Terms],
               supervisor: Supervisor, basemap: Any = None) -> Any:
    """Build the services, start them, wait for a signal or a failure; the failed service
    (or None)."""
    loop = asyncio.get_running_loop()
    cluster = NodeCluster(config.db) if is_postgres_url(config.db) else None
    if cluster is not None:
        await cluster.start()  # the dispatcher and the judge are built on its session
        supervisor.adopt(cluster)
    cot_targets = CotTargets(store)
    dispatcher = Dispatcher(store, cot_sender=cot_targets,
                            claims=cluster.outbox_claims() if cluster else None,
                            node=cluster.node if cluster else "")
    live = LiveJudge(store, terms, batch_s=config.batch_s, on_alerts=dispatcher.poke,
                     leadership=cluster)
    if cluster is not None:
        cluster.on_ingest = live.wake
    cot = await _make_cot(store, config, live) if _cot_wanted(config) else None

    def end_connections(name: str) -> None:
        if cot is not None:
            n = cot.disconnect_user(name)
            log.info("user %s disabled: %d CoT connection(s) closed", name, n)

    ended = on_loop(loop, end_connections)  # the API or a watcher may call it from a thread

    plans = PlanRunner(store)
    app = create_app(store, on_ingest=live.poke, on_user_disabled=ended, plans=plans,
                     basemap=basemap)
    app.state.supervisor = supervisor
    live.on_changes = app.state.events.collect  # the live events (routes.events)
    for service in (cot_targets, dispatcher, live, *(cot.services() if cot else [])):
        supervisor.add(service)
    supervisor.add(UserWatcher(store, ended, poll_s=config.users_poll_s,
                               listen_url=config.db if cluster else None))
    supervisor.add(FailedLoginAudit(app.state.login_throttle, store, config.auth_flush_s))
    supervisor.add(PlanService(plans))
    if config.federation_cert and config.federation_key:
        from truceguard.server.federation import FederationConfig, FederationService

        supervisor.add(FederationService(store, FederationConfig(
            config.federation_cert, config.federation_key, host=config.host,
            port=config.federation_port)))
    supervisor.add(HttpService(app, config.host, config.port))

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await supervisor.start()
    cot_text = ""
    if cot is not None:
        cot_text = ", CoT " + ", ".join(f"{k} {v}" for k, v in cot.server.ports.items())
    log.info("start: API on http://%s:%d%s, database %s, judging against %s", config.host,
             config.port, cot_text, getattr(store, "path", config.db),
             ", ".join(t.name for t in terms) or "no terms")
    failed = await supervisor.wait(stop)
    if failed is not None:
        log.error("stop: service %s failed (%s); stopping the others", failed.name,
                  failed.health().detail)
    else:
        log.info("stop: signal received; draining the services")
    return failed


def _cot_wanted(config: ServeConfig) -> bool:
    return any(p is not None for p in (config.cot_tcp, config.cot_udp, config.cot_tls))


async def _make_cot(store: Store, config: ServeConfig, live: LiveJudge) -> Any:
    """The CoT listeners (not started): plain ports speak as ``--cot-tcp-as USER``, TLS
    clients are users by their certificate (looked up in a worker thread, cached); every
    commit wakes the live judging loop."""
    from truceguard.server.cot import CotConfig, make_cot

    plain_user = None
    if config.cot_tcp is not None or config.cot_udp is not None:
        if not config.cot_as:
            raise InputError("the plain CoT ports need --cot-tcp-as USER (whose nation and "
                             "marking their data gets)", hint="e.g. --cot-tcp-as field-team",
                             code="input.missing")
        plain_user = await asyncio.to_thread(store.user_by_name, config.cot_as)
        if plain_user is None or plain_user.disabled:
            raise InputError(f"--cot-tcp-as {config.cot_as!r} is no active user",
                             hint="`truceguard users list` shows them", code="input.bad_user")

    def by_cert(fingerprint: str) -> User | None:  # runs in a worker thread
        return store.user_by_cert(fingerprint)

    cfg = CotConfig(host=config.host, tcp_port=config.cot_tcp, udp_port=config.cot_udp,
                    tls_port=config.cot_tls, certfile=config.cert, keyfile=config.key,
                    client_ca=config.client_ca, max_connections_per_peer=config.cot_max_per_peer)
    return make_cot(store, cfg, plain_user=plain_user, resolve_cert=by_cert,
                    on_committed=live.poke)


class HttpService:
    """The API on uvicorn as a service (``http``): ``start`` returns once it listens;
    ``stop(drain=True)`` stops accepting and lets the requests under way finish (each
    keep-alive connection is closed after its response); ``drain=False`` drops them. uvicorn's
    own signal handling is off: ``serve`` handles the signals."""

    name = "http"

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.host, self.port = host, port
        self.server = Quiet(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="off", access_log=False))
        self.state: State = "stopped"
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.state = "starting"
        await asyncio.to_thread(self.server.config.load)  # its imports, off the loop
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="truceguard-http")
        while not self.server.started:
            if self._task.done():
                self.state = "failed"
                self._task.result()  # raises why it could not start
                raise InputError("the HTTP server ended before it started",
                                 code="server.bind_failed")
            await asyncio.sleep(0.01)
        self.state = "running"
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self.state == "running":  # ended without being told to
            self.state = "failed"
            self.error = None if task.cancelled() else task.exception()

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit:  # uvicorn could not start: the port is taken, say
            raise InputError(f"cannot listen on {self.host}:{self.port} (in use, or not "
                             "allowed)", hint="choose another --port or --host",
                             code="server.bind_failed") from None

    async def stop(self, drain: bool = True) -> None:
        if self._task is None:
            return
        self.state = "draining" if drain else self.state
        if not drain:
            self.server.force_exit = True
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.shield(self._task)  # a timed-out drain leaves it to stop(False)
        self.state = "stopped"

    def health(self) -> ServiceHealth:
        st = self.server.server_state
        detail = f"http://{self.host}:{self.port}, {len(st.connections)} connection(s) open"
        if self.error is not None:
            detail = f"{type(self.error).__name__}: {self.error}"
        return ServiceHealth(self.name, self.state, detail,
                             extra={"connections": len(st.connections),
                                    "requests": st.total_requests})


def run(config: ServeConfig) -> None:
    setup_logging()
    asyncio.run(serve(config), debug=True if config.loop_debug_ms is not None else None)


__all__ = ["HttpService", "ServeConfig", "run", "serve"]
