"""Debian's Chromium for the browser tests, driven by Playwright: where it is, how it starts,
and the hosts a page may reach (this machine only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.server_fixtures import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's Browser); the test fails, saying how to install it,
    when Debian's chromium is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's chromium; "
                    "install it with `apt-get install -y chromium` (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """A page of the dashboard for one user, with every request it tried to send elsewhere."""

    def __init__(self, browser: Any, server: Server, user: str, tmp: Path,
                 size: tuple[int, int] = (1100, 700)) -> None:
        self.server, self.user, self.tmp = server, user, tmp
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                           accept_downloads=True)
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{server.url}/#token={server.tokens[user]}")
        self.ready()

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    def ready(self, since: str | None = None) -> None:
        """Wait until the page shows what it last asked for (the period from ``since``)."""
        self.page.wait_for_function(
            "s => document.body.dataset.state === 'ready' && "
            "(s === null || document.getElementById('period').dataset.since === s)",
            arg=since, timeout=30_000)

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))

    def count(self) -> int:
        return int(self.text("#count-incidents"))

    def period(self) -> dict[str, str]:
        p = self.page.locator("#period")
        return {k: v for k in ("since", "until") if (v := p.get_attribute(f"data-{k}"))}

    def brush(self, start: int, end: int) -> None:
        """Move the timeline's brush to days ``start`` .. ``end`` of the data."""
        self.page.evaluate("""([a, b]) => {
            for (const [id, v] of [['brush-from', a], ['brush-to', b]]) {
                const el = document.getElementById(id);
                el.value = String(v);
                el.dispatchEvent(new Event('input'));
            }}""", [start, end])
        self.page.wait_for_function(
            "() => document.getElementById('period').dataset.since !== '' && "
            "document.body.dataset.state === 'ready'", timeout=30_000)

    def shot(self, name: str) -> Path:
        path = self.tmp / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        assert self.errors == [], self.errors
        assert self.elsewhere == [], f"requests left the machine: {self.elsewhere}"
        self.context.close()
