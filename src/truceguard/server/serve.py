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
from truceguard.server.alerts import Dispatcher
from truceguard.server.api import create_app
from truceguard.server.live import LiveJudge
from truceguard.server.plans import PlanRunner
from truceguard.store import open_store

log = logging.getLogger("truceguard.server")


@dataclass
class ServeConfig:
    db: str
    host: str = "127.0.0.1"
    port: int = 8000
    terms: list[str] = field(default_factory=list)
    batch_s: float = 0.2


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


async def serve(config: ServeConfig) -> None:
    """Run until SIGTERM/SIGINT (or until the task is cancelled)."""
    import uvicorn

    check_config(config)
    terms = [load_terms(t) for t in config.terms]
    store = open_store(config.db)
    dispatcher = Dispatcher(store)
    live = LiveJudge(store, terms, batch_s=config.batch_s, on_alerts=dispatcher.poke)
    plans = PlanRunner(store)
    app = create_app(store, on_ingest=live.poke, plans=plans)
    server = _Server(uvicorn.Config(app, host=config.host, port=config.port,
                                    log_level="warning", lifespan="off", access_log=False))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve(), name="api"),
             asyncio.create_task(live.run(), name="live"),
             asyncio.create_task(dispatcher.run(), name="alerts")]
    log.info("start: API on http://%s:%d, database %s, judging against %s", config.host,
             config.port, store.path, ", ".join(t.name for t in terms) or "no terms")
    try:
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not waiter and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        server.should_exit = True
        live.stop()
        dispatcher.stop()
        await asyncio.wait(tasks, timeout=10)
        plans.close()
        store.close()
        log.info("stop: the server has stopped")


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
