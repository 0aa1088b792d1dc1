"""Field capture with no connection, in a real browser: Debian's chromium, driven by
Playwright, against a real `truceguard serve`. Reports made offline wait on the device, survive
a reload with no network (the service worker keeps the form), and reach the server exactly
once when the connection returns, also when an answer is lost on the way back.

Every request the page makes to a host but the server's fails the test. Screenshots go to the
test's tmp_path (one is copied to /tmp/capture.png).
"""

from __future__ import annotations

import json
import shutil
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.server_fixtures import Server, serving
from tests.web_fixtures import LOOPBACK, chromium

WHERE = {"latitude": 48.0159, "longitude": 37.8028, "accuracy": 25}  # Donetsk
WAIT_MS = 20_000


def _png() -> bytes:
    """A 2x2 PNG image, made here."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"\xc6\x28\x28" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("capture")) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


class Form:
    """The field form for one user in a fresh browser context with a position."""

    def __init__(self, browser: Any, server: Server, user: str, tmp: Path) -> None:
        self.server, self.tmp = server, tmp
        self.context = browser.new_context(viewport={"width": 800, "height": 1000},
                                           geolocation=WHERE, permissions=["geolocation"])
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{server.url}/capture#token={server.tokens[user]}")
        self.ready()
        self.page.wait_for_function("() => document.body.dataset.offlineReady === 'yes'",
                                    timeout=WAIT_MS)

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.fallback()
        else:
            self.elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    def ready(self) -> None:
        self.page.wait_for_function("() => document.body.dataset.state === 'ready' && "
                                    "document.getElementById('position').dataset.lat !== ''",
                                    timeout=WAIT_MS)

    def pending(self, n: int) -> None:
        """Wait until ``n`` reports wait on the device."""
        self.page.wait_for_function("n => document.body.dataset.pending === String(n)",
                                    arg=n, timeout=WAIT_MS)

    def report(self, kind: str, text: str, *, bearing: float | None = None,
               photo: bool = False, **choices: str) -> None:
        """Fill the form and save the report."""
        before = int(self.page.get_attribute("body", "data-pending") or "0")
        self.page.select_option("#kind", kind)
        for field, value in choices.items():
            self.page.select_option(f"#{field}", value)
        self.page.fill("#text", text)
        if bearing is not None:
            self.page.fill("#bearing_deg", str(bearing))
        if photo:
            self.page.set_input_files("#photo", files=[{
                "name": "crater.png", "mimeType": "image/png", "buffer": _png()}])
        self.page.click("#submit")
        self.page.wait_for_function(
            "n => Number(document.body.dataset.pending) > n || "
            "document.querySelectorAll('#sent li').length > 0", arg=before, timeout=WAIT_MS)

    def shot(self, name: str) -> Path:
        path = self.tmp / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        assert self.errors == [], self.errors
        assert self.elsewhere == [], f"requests left the machine: {self.elsewhere}"
        self.context.close()


def _captured(server: Server, user: str) -> list[dict[str, Any]]:
    """The observations the server holds from ``user``'s field form."""
    with server.client(user) as c:
        r = c.get("/api/v1/observations", params={"source": f"capture:{user}",
                                                  "limit": 1000})
    if r.status_code == 400 and "matches nothing" in r.json()["error"]["message"]:
        return []
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_reports_made_offline_wait_survive_a_reload_and_sync_once(
        browser: Any, server: Server, tmp_path: Path) -> None:
    form = Form(browser, server, "gbr", tmp_path)
    try:
        cdp = form.context.new_cdp_session(form.page)
        installable = cdp.send("Page.getInstallabilityErrors")
        cdp.detach()
        # installable: the manifest, its icon and the service worker pass Chromium's checks
        # (a Playwright context is a private window, where nothing is ever installed)
        errors = {e["errorId"] for e in installable["installabilityErrors"]}
        assert errors <= {"in-incognito"}, installable
        form.context.set_offline(True)
        form.page.wait_for_function(
            "() => document.getElementById('connection').dataset.online === 'no'")
        form.report("fire", "outgoing fire, two rounds", bearing=81.5, direction="outgoing",
                    category="shelling", weapon_class="artillery_ge100")
        form.report("hazard", "mines across the road", photo=True, category="mine",
                    hazard_type="mine")
        form.report("sighting", "two tanks by the road", bearing=200, category="movement")
        form.pending(3)
        sent_bodies = form.page.evaluate("""async () => (await window.capture.queued()).map(
            r => ({client_id: r.client_id, marking: r.marking, feature: r.feature}))""")
        form.page.reload()  # with no connection: the service worker answers
        form.ready()
        form.pending(3)
        assert form.page.locator("#pending li[data-state='waiting']").count() == 3
        assert "with photo" in form.page.inner_text("#pending")
        shot = form.shot("pending-offline")
        shutil.copyfile(shot, "/tmp/capture.png")
        assert _captured(server, "gbr") == []
        form.context.set_offline(False)
        form.pending(0)
        form.page.wait_for_function("() => document.querySelectorAll('#sent li').length === 3",
                                    timeout=WAIT_MS)
        form.shot("sent")
        stored = _captured(server, "gbr")
        assert sorted(o["source_ref"] for o in stored) == sorted(
            b["client_id"] for b in sent_bodies)
        assert {o["releasability"] for o in stored} == {"REL TO GBR"}
        fire = next(o for o in stored if o["report"]["kind"] == "fire")
        assert fire["report"]["bearing_deg"] == 81.5
        assert fire["report"]["direction"] == "outgoing"
        assert fire["report"]["observer_lat"] == pytest.approx(WHERE["latitude"])
        assert fire["lon"] == pytest.approx(WHERE["longitude"])
        hazard = next(o for o in stored if o["report"]["kind"] == "hazard")
        with server.client("gbr") as c:
            files = c.get(f"/api/v1/observations/{hazard['obs_id']}/attachments").json()
            assert [f["media_type"] for f in files["items"]] == ["image/png"]
            for body in sent_bodies:  # a forced resend of every report: nothing twice
                r = c.post("/api/v1/capture", json=body)
                assert r.status_code == 200, r.text
                assert r.json()["stored"] is False
                assert r.json()["obs_id"] == next(
                    o["obs_id"] for o in stored if o["source_ref"] == body["client_id"])
        assert len(_captured(server, "gbr")) == 3
    finally:
        form.close()


def test_an_answer_lost_on_the_way_back_stores_nothing_twice(
        browser: Any, server: Server, tmp_path: Path) -> None:
    form = Form(browser, server, "fra", tmp_path)
    lost: list[int] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST" or lost:
            route.fallback()
            return
        answer = route.fetch()  # the server stores the report ...
        lost.append(answer.status)
        route.abort("connectionreset")  # ... and its answer never arrives

    try:
        form.context.route("**/api/v1/capture", lose_the_first_answer)
        form.report("restriction", "checkpoint closed to the patrol",
                    restriction_type="checkpoint", category="other")
        form.page.wait_for_function("() => document.body.dataset.pending === '1' && "
                                    "!window.capture.state.syncing", timeout=WAIT_MS)
        assert lost == [201]
        assert len(_captured(server, "fra")) == 1  # stored, but the device does not know
        form.page.click("#sync")
        form.pending(0)
        stored = _captured(server, "fra")
        assert len(stored) == 1
        sent = form.page.get_attribute("#sent li", "data-obs-id")
        assert sent == stored[0]["obs_id"]
        assert stored[0]["releasability"] == "REL TO FRA"
    finally:
        form.close()


def _report(client_id: str | None = None, **props: Any) -> dict[str, Any]:
    return {"client_id": client_id or uuid.uuid4().hex, "feature": {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [37.8, 48.0]},
        "properties": {"time": "2026-05-01T06:00:00Z", "category": "shelling",
                       "kind": "fire", **props}}}


@pytest.mark.parametrize(("user", "marking", "status", "code"), [
    ("gbr", "REL TO FRA", 403, "forbidden.marking"),
    ("gbr", "REL TO GBR, FRA", 403, "forbidden.marking"),
    ("gbr", "PUBLIC", 403, "forbidden.marking"),
    ("gbr", "SECRET", 400, "marking."),
    ("gbr", "REL TO GBR", 201, None),
    ("ukr", "REL TO UKR", 201, None),
])
def test_a_marking_the_user_may_not_give_is_refused(server: Server, user: str, marking: str,
                                                    status: int, code: str | None) -> None:
    with server.client(user) as c:
        r = c.post("/api/v1/capture", json={**_report(), "marking": marking})
    assert r.status_code == status, r.text
    if code is None:
        assert r.json()["marking"] == marking and r.json()["stored"] is True
        return
    error = r.json()["error"]
    assert error["code"].startswith(code) and marking in error["message"] and error["hint"]


@pytest.mark.parametrize(("body", "status", "code", "named"), [
    (b"{" + b" " * (70 << 10) + b"}", 413, "input.too_large", "65,536"),
    (b"not json", 400, "input.bad_json", "not json"),
    (b"[" * 50_000, 400, "input.bad_json", "[[["),
    (b'{"feature": {}}', 400, "input.missing", "client_id"),
    (b'{"client_id": "a b", "feature": {}}', 400, "input.", "client_id"),
    (b'{"client_id": "abcdefgh12", "feature": {}, "x": 1}', 400, "input.unknown_key", "'x'"),
])
def test_a_bad_body_is_the_domain_error(server: Server, body: bytes, status: int, code: str,
                                        named: str) -> None:
    with server.client("gbr") as c:
        r = c.post("/api/v1/capture", content=body,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"].startswith(code) and named in error["message"] and error["hint"]


def test_a_bad_report_field_or_a_reused_id_is_refused(server: Server) -> None:
    with server.client("gbr") as c:
        r = c.post("/api/v1/capture", json=_report(bearing_deg=400))
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "input.bad_row"
        assert "bearing_deg" in r.json()["error"]["message"]
        r = c.post("/api/v1/capture", json=_report(direction="sideways"))
        assert r.status_code == 400 and "sideways" in r.json()["error"]["message"]
        first = _report()
        assert c.post("/api/v1/capture", json=first).status_code == 201
        other = _report(first["client_id"], count=7)  # another report under its id
        r = c.post("/api/v1/capture", json=other)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "capture.conflict"
        assert first["client_id"] in r.json()["error"]["message"]


def test_the_form_serves_no_data_without_the_token(server: Server) -> None:
    with server.client(None) as c:
        for method, path in (("GET", "/api/v1/capture/form"), ("POST", "/api/v1/capture")):
            r = c.request(method, path, json=_report())
            assert r.status_code == 401, (path, r.text)
        page = c.get("/capture")
        assert page.status_code == 200 and "REL TO" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        worker = c.get("/capture/sw.js")
        assert worker.headers["service-worker-allowed"] == "/capture"
        shell = json.loads(worker.text.split("SHELL = ")[1].split(";")[0])
        assert not [f for f in shell if f.startswith("/api")], shell  # files, never data
        manifest = c.get("/capture/manifest.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        assert manifest.json()["start_url"] == "/capture"
        icon = manifest.json()["icons"][0]["src"]
        assert c.get(icon).headers["content-type"].startswith("image/svg+xml")
    with server.client("ukr") as c:
        form = c.get("/api/v1/capture/form").json()
    assert form["marking"] == "PUBLIC" and "fire" in form["kinds"]
