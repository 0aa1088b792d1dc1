"""``truceguard dashboard``: the mission server's dashboard for one person on this machine."""

from __future__ import annotations

import secrets
import shlex
import socket
import threading
import time
import urllib.request
import webbrowser

import click

from truceguard.cli.common import db_option, domain_errors, open_existing, resolve_db
from truceguard.cli.server import basemap_options
from truceguard.errors import InputError, MissingExtraError


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_when_up(url: str, page: str, timeout_s: float = 30.0) -> None:
    """Open ``page`` in the browser once ``url``/healthz answers (in a thread)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:  # loopback only
                if r.status == 200:
                    webbrowser.open(page)
                    return
        except OSError:
            time.sleep(0.2)


@click.command("dashboard")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0: a free one).")
@click.option("--terms", "terms", multiple=True, metavar="NAME|PATH",
              help="Terms to judge new observations against, live (repeatable).")
@click.option("--no-browser", is_flag=True, help="Print the address only; open no browser.")
@basemap_options
@db_option
@domain_errors
def dashboard_cmd(port: int, terms: tuple[str, ...], no_browser: bool, basemap: str | None,
                  basemap_marking: str, db: str | None) -> None:
    """Open the dashboard (map, timeline, evidence) on this database in your browser.

    Runs the mission server on 127.0.0.1 only, with a user made for this session (an analyst
    of the database's owner nation, disabled when the dashboard stops), and prints the
    address with that user's token. Stop it with Ctrl-C."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingExtraError("truceguard dashboard", "server", exc.name or "fastapi") from None
    from truceguard.server.serve import ServeConfig, open_basemap, run
    from truceguard.store.cluster import is_postgres_url
    from truceguard.users import add_user, disable_user

    path = resolve_db(db)
    if basemap is not None:  # checked before anything is written
        open_basemap(basemap, basemap_marking).archive.close()
    if is_postgres_url(path):
        raise InputError("the dashboard runs on a SQLite database file",
                         hint="for PostgreSQL run `truceguard serve` and open its address",
                         code="input.unsupported_db")
    with open_existing(db) as store:
        nation = store.owner_nation()
        if not nation:
            raise InputError(f"database {path!r} has no owner nation",
                             hint=f"run `truceguard init --db {shlex.quote(path)} --nation "
                                  "CODE` on it first (CODE: the nation that owns it, e.g. GBR)",
                             code="input.no_owner")
        name = f"dashboard-{secrets.token_hex(4)}"
        token = add_user(store, name, nation, "analyst", by="dashboard")[1]
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    page = f"{url}/#token={token}"
    click.echo(f"dashboard: {page}")
    click.echo(f"(user {name}, {nation} analyst, for this session; Ctrl-C stops)")
    if not no_browser:
        threading.Thread(target=_open_when_up, args=(url, page), daemon=True).start()
    try:
        run(ServeConfig(db=path, host="127.0.0.1", port=port, terms=list(terms),
                        basemap=basemap, basemap_marking=basemap_marking))
    finally:
        with open_existing(db) as store:
            disable_user(store, name, by="dashboard")


def register(group: click.Group) -> None:
    group.add_command(dashboard_cmd)


__all__ = ["dashboard_cmd", "free_port", "register"]
