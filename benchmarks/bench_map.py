"""The dashboard's map with 100,000 incidents: first paint and pan/zoom smoothness, against a
plain Leaflet page (a user's usual pick) on the same data, in headless Chromium.

Data: a real mission store (``benchmarks/map/data.py``): about 100,000 incidents along the
22 August 2026 line of contact, built through the real path (reports written as a CSV,
``import_file``, ``fuse_store``, ``adjudicate_store`` against geneva-2025), cached under
``benchmarks/.cache/map/`` (``--rebuild`` builds it again). A real ``truceguard serve`` serves
a copy of it; both pages read the incidents from the same API with the same token.

The pages, each in a fresh browser context of one Chromium (Debian's ``/usr/bin/chromium``,
headless, ``--disable-gpu``: WebGL on the software rasteriser), viewport 1400 x 850:

- ours: ``/`` as it is in the working tree (MapLibre GL JS from the ``maplibre`` package);
- the peer: ``benchmarks/map/leaflet.html``, served on the same origin by the browser context
  (Playwright ``route.fulfill``), Leaflet from the npm registry installed into
  ``benchmarks/.cache/npm`` at run time; one ``L.circleMarker`` per incident with
  ``preferCanvas``, the latest line of contact, no tiles. Its map is given the size of ours.

Every request to a host other than the server fails (as in the tests). ``map/probe.js`` is
injected into both pages before their scripts: it times every fetch (request, headers, body
read, JSON.parse), long tasks, and for MapLibre every GeoJSON ``setData``, the sources'
loaded events and the map's ``idle`` events.

First paint (ms from the start of the navigation):
- ours: the first map ``idle`` after the last ``setData`` of the incidents source made before
  the page says it is ready (``body[data-state=ready]``): the frame in which every incident
  of that data has been drawn and no tile is loading;
- the peer: the animation frame after every marker was added (the canvas renderer draws in
  that frame, before the callback runs).

Smoothness: after the first paint and a quiet second, a fixed script of real input (mouse
drags of 300-400 px in 30 steps 16 ms apart, clicks on each map's own zoom-in and zoom-out
buttons, one level each), every gesture followed by 1.5 s and then until the page gives
frames again (five intervals under 50 ms; at most ``SETTLE_MAX_S``), the whole script cut
short past ``GESTURE_BUDGET_S`` (the count done is reported); requestAnimationFrame times are
recorded over the gestures and their settling. Reported: p50 and p95 frame interval, the
longest, and the frames over 50 ms ("dropped"). ``--runs`` runs of each side (ours, the
peer, alternating which goes first), medians. Last line: one JSON object; ``ratio_*`` are
the peer's figure over ours (above 1: ours is faster).

Diagnosis: ``--trace`` adds one load of each side under Chrome's tracing (busy time per
thread, the renderer's heaviest events) and, in the first run, ours again with its incident
layers hidden; ``--hide REGEX`` hides our map's layers whose id matches before the gestures.

    python benchmarks/bench_map.py [--n 100000] [--runs 3] [--rebuild] [--trace] [--hide RE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT: Any = {"width": 1400, "height": 850}
LOAD_TIMEOUT_MS = 600_000
SETTLE_MAX_S = 20
GESTURE_BUDGET_S = 150  # the whole script of gestures; cut short past it
sys.path.insert(0, str(HERE))


# -- the peer's library, from the npm registry ---------------------------------------------
def leaflet(spec: str) -> tuple[Path, str]:
    """The folder of Leaflet's dist files and its version, installed with npm if missing."""
    prefix = CACHE / "npm"
    pkg = prefix / "node_modules" / "leaflet"
    if not (pkg / "dist" / "leaflet.js").is_file():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix",
                        str(prefix), f"leaflet@{spec}"], check=True, capture_output=True)
    version = json.loads((pkg / "package.json").read_text())["version"]
    return pkg / "dist", version


# -- the store and the server --------------------------------------------------------------
def store(n: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    from map.data import build

    folder = CACHE / "map" / f"store-{n}"
    meta_path = folder / "meta.json"
    if rebuild or not meta_path.is_file():
        print(f"building the store of {n:,} incidents in {folder} ...", flush=True)
        build(folder, n, log=lambda s: print(s, flush=True))
    return folder / "mission.db", json.loads(meta_path.read_text())


def serve(db: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(work / "server.log", "ab")  # noqa: SIM115 (kept by the child)
    proc = subprocess.Popen([sys.executable, "-m", "truceguard", "serve", "--db", str(db),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((work / "server.log").read_text())
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def api_paging(url: str, token: str, kind: str) -> dict[str, Any]:
    """Every page of ``/api/v1/{kind}`` (limit 1000) from Python: the server's share of the
    paging, without a browser."""
    import httpx

    times, size, items, cursor = [], 0, 0, None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=120) as c:
        t0 = time.perf_counter()
        while True:
            t = time.perf_counter()
            r = c.get(f"/api/v1/{kind}", params={"limit": 1000, **({"cursor": cursor}
                                                                     if cursor else {})})
            r.raise_for_status()
            times.append(time.perf_counter() - t)
            size += len(r.content)
            body = r.json()
            items += len(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                break
        total = time.perf_counter() - t0
    return {"items": items, "pages": len(times), "total_s": round(total, 2),
            "page_p50_ms": round(1000 * statistics.median(times), 1),
            "mb": round(size / 1e6, 1)}


# -- the browser -------------------------------------------------------------------------------
class Browser:
    def __init__(self, url: str, token: str, dist: Path) -> None:
        from playwright.sync_api import sync_playwright

        self.url, self.token, self.dist = url, token, dist
        self.hide = ""
        self.close_view: tuple[float, float] = (37.8, 48.3)  # the close view's centre (lon, lat)
        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.probe = (HERE / "map" / "probe.js").read_text()
        self.peer_html = (HERE / "map" / "leaflet.html").read_bytes()
        port = url.rsplit(":", 1)[1]
        self.elsewhere = re.compile(rf"^(?!(http://127\.0\.0\.1:{port}/|blob:|data:)).*")

    def page(self) -> tuple[Any, Any, list[str]]:
        ctx = self.browser.new_context(viewport=VIEWPORT)
        problems: list[str] = []

        def refuse(route: Any) -> None:
            problems.append(f"refused {route.request.url}")
            route.abort("internetdisconnected")

        def peer_file(route: Any) -> None:
            name = route.request.url.split("/bench-peer/", 1)[1].split("?")[0]
            if name == "leaflet.html":
                route.fulfill(body=self.peer_html, content_type="text/html")
            elif name in ("leaflet.js", "leaflet.css"):
                route.fulfill(path=str(self.dist / name))
            else:
                route.fulfill(status=404)

        ctx.route(self.elsewhere, refuse)
        ctx.route(f"{self.url}/bench-peer/**", peer_file)
        ctx.add_init_script(self.probe)
        page = ctx.new_page()
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        return ctx, page, problems

    def close(self) -> None:
        self.browser.close()
        self.pw.stop()


def wait_loaded(page: Any, done: str, side: str) -> None:
    """Wait for ``done`` (a JS function), saying every 15 s how far the page's fetches got."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while True:
        try:
            page.wait_for_function(done, timeout=15_000, polling=100)
            return
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
            n = page.evaluate("""() => { const b = window.__bench, f = b.fetches;
                return [f.length, f.filter(r => r.parseEnd !== null).length,
                        Math.round(performance.now()), b.setData.length, b.idle.length] }""")
            print(f"  {side} loading: {n[0]} requests, {n[1]} parsed, {n[3]} setData, "
                  f"{n[4]} idle events, at {n[2] / 1000:.0f} s", flush=True)


def load_ours(page: Any, url: str, token: str) -> dict[str, Any]:
    t = time.perf_counter()
    page.goto(f"{url}/#token={token}")
    wait_loaded(page, "() => ['ready', 'error'].includes(document.body.dataset.state)", "ours")
    state = page.evaluate("() => document.body.dataset.state")
    if state != "ready":
        raise RuntimeError(f"our page: {page.inner_text('#status')}")
    ready = page.evaluate("() => performance.now()")
    # The incidents' clusters' last setData before ready (what the first zoom draws: every
    # incident of the view, counted in its cluster), then the first idle after it. The
    # points' source (drawn from the first zoom past the clusters) is timed apart: its first
    # idle after its last setData is when zooming in finds every incident ready.
    sets = page.evaluate("() => window.__bench.setData")
    clusters = [x for x in sets if x[0] == "incident-clusters"]
    points = [x for x in sets if x[0] == "incidents"]
    if not clusters or clusters[-1][1] < 1 or not points:
        raise RuntimeError("our page set no incident data on its map (a page and a server "
                           f"out of step?): status {page.inner_text('#status')!r}")
    last, since = clusters[-1], clusters[-1][2]
    wait_loaded(page, f"() => window.__bench.idle.some(x => x >= {since})", "ours (idle)")
    wait_loaded(page, f"() => window.__bench.idle.some(x => x >= {points[-1][2]})",
                "ours (points idle)")
    b = page.evaluate("""([t, tp]) => ({idle: window.__bench.idle.find(x => x >= t),
        pointsIdle: window.__bench.idle.find(x => x >= tp),
        count: Number(document.getElementById('count-incidents').textContent),
        setData: window.__bench.setData, sourceLoaded: window.__bench.sourceLoaded,
        fetches: window.__bench.fetches, longtasks: window.__bench.longtasks})""",
                      [since, points[-1][2]])
    # from the clusters' setData to their source loaded (the worker) to idle
    loaded = [t for sid, t in b["sourceLoaded"] if sid == last[0] and t >= since]
    b["map"] = {"set_data_ms": round(since), "cluster_features": last[1],
                "source_loaded_ms": round(loaded[0]) if loaded else None,
                "idle_ms": round(b["idle"]), "points": points[-1][1],
                "points_set_data_ms": round(points[-1][2]),
                "points_idle_ms": round(b["pointsIdle"])}
    return {"paint_ms": b["idle"], "points_ms": b["pointsIdle"], "ready_ms": ready,
            "count": b["count"], "wall_s": time.perf_counter() - t, "detail": b}


def load_peer(page: Any, url: str, token: str, size: dict[str, int]) -> dict[str, Any]:
    t = time.perf_counter()
    page.goto(f"{url}/bench-peer/leaflet.html?w={size['w']}&h={size['h']}#token={token}")
    wait_loaded(page, "() => window.peer && (window.peer.drawn || window.peer.error)", "peer")
    peer = page.evaluate("() => window.peer")
    if "error" in peer:
        raise RuntimeError(f"the Leaflet page: {peer['error']}")
    b = page.evaluate("() => ({fetches: window.__bench.fetches, "
                      "longtasks: window.__bench.longtasks})")
    return {"paint_ms": peer["drawn"], "ready_ms": peer["drawn"], "count": peer["count"],
            "wall_s": time.perf_counter() - t, "detail": {**b, "peer": peer}}


def settle(page: Any, fixed_s: float = 1.5) -> float:
    """Wait ``fixed_s``, then until the page gives frames again (five intervals < 50 ms, at
    most ``SETTLE_MAX_S``); returns the seconds waited."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    t = time.perf_counter()
    time.sleep(fixed_s)
    try:
        page.wait_for_function("""() => {
        const f = window.__bench.framesNow();
        if (f.length < 6) return false;
        const last = f.slice(-6);
        if (performance.now() - last[5] > 100) return false;
        for (let i = 1; i < 6; i++) if (last[i] - last[i - 1] > 50) return false;
        return true }""", timeout=SETTLE_MAX_S * 1000, polling=100)
    except PlaywrightTimeout:
        print(f"  not settled after {SETTLE_MAX_S} s", flush=True)
    return time.perf_counter() - t


def drag(page: Any, x: float, y: float, dx: float, dy: float, deadline: float,
         steps: int = 30) -> None:
    """A mouse drag in ``steps`` moves 16 ms apart; after ``deadline`` (monotonic) the rest
    of the moves are left out (Playwright waits for the page to take each move)."""
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, steps + 1):
        if time.monotonic() > deadline:
            page.mouse.move(x + dx, y + dy)
            break
        page.mouse.move(x + dx * k / steps, y + dy * k / steps)
        time.sleep(0.016)
    page.mouse.up()


def gestures(page: Any, box: dict[str, float], zoom_in: str, zoom_out: str) -> dict[str, Any]:
    """The fixed script of pans and zooms; frame intervals over it."""
    page.evaluate("""() => { let f = []; window.__bench.stopFrames = false;
        window.__bench.framesNow = () => f;
        const tick = (t) => {
            f.push(t);
            if (!window.__bench.stopFrames) requestAnimationFrame(tick) };
        requestAnimationFrame(tick); }""")
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    settle(page, 1.0)
    t0 = page.evaluate("() => performance.now()")
    script: list[tuple[str, Any]] = [
        ("pan", (300, 150)), ("pan", (-300, -150)), ("zoom", zoom_in), ("zoom", zoom_in),
        ("pan", (-400, 100)), ("pan", (400, -100)), ("zoom", zoom_out), ("zoom", zoom_out),
    ]
    settled = []
    deadline = time.monotonic() + GESTURE_BUDGET_S
    done = 0
    for kind, arg in script:
        if time.monotonic() > deadline:
            print(f"  gestures cut short after {done} of {len(script)}: over "
                  f"{GESTURE_BUDGET_S} s", flush=True)
            break
        t = time.perf_counter()
        done += 1
        if kind == "pan":
            drag(page, cx - arg[0] / 2, cy - arg[1] / 2, arg[0], arg[1], deadline)
        else:
            page.click(arg)
        gesture = time.perf_counter() - t
        settled.append(round(gesture + settle(page), 1))
    print(f"  gestures done, each with its settling (s): {settled}", flush=True)
    frames = page.evaluate("t0 => { window.__bench.stopFrames = true; "
                           "return window.__bench.framesNow().filter(t => t >= t0) }", t0)
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    gaps.sort()
    return {"frames": len(frames), "p50_ms": round(gaps[len(gaps) // 2], 1),
            "p95_ms": round(gaps[int(len(gaps) * 0.95)], 1), "max_ms": round(gaps[-1], 1),
            "dropped": sum(g > 50 for g in gaps), "script_s": round((frames[-1] - t0) / 1000, 1),
            "settled_s": settled, "gestures_done": done}


def breakdown(detail: dict[str, Any]) -> dict[str, Any]:
    """Where the page's load time went, from the probe's records."""
    out: dict[str, Any] = {}
    for kind in ("incidents", "violations", "map", "map?part=incidents", "layers", "zones",
                 "register"):
        key = {"map": "map_api", "map?part=incidents": "map_incidents"}.get(kind, kind)
        pattern = (r"/api/v1/map\?(.*&)?part=incidents" if key == "map_incidents"
                   else rf"/api/v1/{kind}\b")
        rec = [f for f in detail["fetches"] if re.search(pattern, f["url"])
               and f.get("parseEnd") is not None]
        if not rec:
            continue
        out[key] = {
            "requests": len(rec),
            "first_start_ms": round(min(f["start"] for f in rec)),
            "last_end_ms": round(max(f["parseEnd"] for f in rec)),
            "wait_ms": round(sum(f["headers"] - f["start"] for f in rec)),
            "read_ms": round(sum(f["readEnd"] - f["headers"] for f in rec)),
            "parse_ms": round(sum(f["parseEnd"] - f["readEnd"] for f in rec)),
            "mb": round(sum(f["chars"] for f in rec) / 1e6, 1),
        }
    if "map" in detail:
        out["map"] = detail["map"]
    lt = detail.get("longtasks", [])
    out["longtasks"] = {"n": len(lt), "total_ms": round(sum(d for _, d in lt)),
                        "max_ms": round(max((d for _, d in lt), default=0))}
    if "map" in detail:  # the main thread's long tasks before the first paint: [start, ms]
        out["longtasks"]["before_paint"] = [[round(t), round(d)] for t, d in lt
                                            if t < detail["map"]["idle_ms"]]
    return out


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 1)


def trace_one(br: Browser, side: str, size: dict[str, int], out: Path) -> dict[str, Any]:
    """One load of ``side`` under Chrome's tracing; busy time per thread and the main
    thread's heaviest event names."""
    ctx, page, _ = br.page()
    br.browser.start_tracing(page=page, path=str(out), categories=[
        "devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "toplevel",
        "blink", "gpu", "cc"])
    if side == "ours":
        load_ours(page, br.url, br.token)
    else:
        load_peer(page, br.url, br.token, size)
    br.browser.stop_tracing()
    ctx.close()
    return summarise_trace(out)


def summarise_trace(path: Path) -> dict[str, Any]:
    events = json.loads(path.read_text())
    events = events.get("traceEvents", events) if isinstance(events, dict) else events
    names = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[(e["pid"], e["tid"])] = e["args"]["name"]
    busy: dict[str, float] = {}
    heavy: dict[str, float] = {}
    for e in events:
        if e.get("ph") != "X" or "dur" not in e:
            continue
        thread = names.get((e["pid"], e["tid"]), str(e["tid"]))
        if e.get("name") in ("ThreadControllerImpl::RunTask", "RunTask"):
            busy[thread] = busy.get(thread, 0.0) + e["dur"] / 1000
        if thread == "CrRendererMain" and e.get("name") in (
                "FunctionCall", "EvaluateScript", "v8.compile", "ParseHTML", "Layout",
                "UpdateLayoutTree", "Paint", "FireAnimationFrame", "EventDispatch",
                "TimerFire", "MinorGC", "MajorGC", "V8.GC_MARK_COMPACTOR", "RunMicrotasks",
                "XHRLoad", "ResourceReceivedData", "CompositeLayers", "PrePaint"):
            heavy[e["name"]] = heavy.get(e["name"], 0.0) + e["dur"] / 1000
    top = sorted(busy.items(), key=lambda kv: -kv[1])[:8]
    return {"busy_ms_by_thread": {k: round(v) for k, v in top},
            "renderer_main_ms_by_event": {k: round(v) for k, v in
                                          sorted(heavy.items(), key=lambda kv: -kv[1])}}


def webgl_renderer(br: Browser) -> str:
    ctx, page, _ = br.page()
    page.goto(f"{br.url}/healthz")
    name = page.evaluate("""() => { const c = document.createElement('canvas');
        const gl = c.getContext('webgl2') || c.getContext('webgl');
        if (!gl) return 'no WebGL';
        const d = gl.getExtension('WEBGL_debug_renderer_info');
        return d ? gl.getParameter(d.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER) }""")
    ctx.close()
    return str(name)


def web_digest() -> str:
    """A digest of the dashboard's files as they are now (the page reads them per load)."""
    import hashlib

    from truceguard.web import STATIC

    h = hashlib.sha256()
    for f in sorted(STATIC.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(STATIC).as_posix().encode() + f.read_bytes())
    return h.hexdigest()[:12]


def densest(url: str, token: str) -> tuple[float, float]:
    """The centre of the 0.1-degree cell holding the most incidents of the view."""
    from collections import Counter

    import httpx

    r = httpx.get(f"{url}/api/v1/map", params={"part": "incidents"}, timeout=300,
                  headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    c = r.json()["incidents"]["columns"]
    cell, _ = Counter((round(x, 1), round(y, 1)) for x, y in zip(c["lon"], c["lat"],
                                                                 strict=True)).most_common(1)[0]
    return cell


def run_side(br: Browser, side: str, size: dict[str, int], diagnose: bool = False
             ) -> dict[str, Any]:
    ctx, page, problems = br.page()
    web = web_digest()
    try:
        if side == "ours":
            r = load_ours(page, br.url, br.token)
            box = page.locator("#map").bounding_box()
            zin, zout = ".maplibregl-ctrl-zoom-in", ".maplibregl-ctrl-zoom-out"
        else:
            r = load_peer(page, br.url, br.token, size)
            box = page.locator("#map").bounding_box()
            zin, zout = ".leaflet-control-zoom-in", ".leaflet-control-zoom-out"
        r["box"] = box
        if side == "ours" and br.hide:
            # a diagnosis: the same gestures with these layers of ours hidden
            r["hidden"] = page.evaluate("""re => { const m = window.dashboard.map, out = [];
                for (const l of m.getLayersOrder().map(id => m.getLayer(id)))
                    if (new RegExp(re).test(l.id)) {
                    m.setLayoutProperty(l.id, 'visibility', 'none'); out.push(l.id) }
                return out }""", br.hide)
        r["smooth"] = gestures(page, box, zin, zout)
        # the same script close up (MapLibre zoom 10 = Leaflet zoom 11, its tiles being
        # 256 pixels), on the densest part of the line: each incident drawn, not clusters
        lon, lat = br.close_view
        page.evaluate("""([side, lon, lat]) => { side === 'ours'
            ? window.dashboard.map.jumpTo({center: [lon, lat], zoom: 10})
            : window.peerMap.setView([lat, lon], 11, {animate: false}); }""", [side, lon, lat])
        r["smooth_close"] = gestures(page, box, zin, zout)
        if diagnose and side == "ours":
            # the same script with every layer of the incidents' sources hidden: what the
            # rest of the map costs a frame on this renderer
            hidden = page.evaluate("""() => { const m = window.dashboard.map; const out = [];
                for (const l of m.getLayersOrder().map(id => m.getLayer(id)))
                    if (/incident/.test(l.source || '')) {
                    m.setLayoutProperty(l.id, 'visibility', 'none'); out.push(l.id) }
                window.__bench.stopFrames = false; return out }""")
            r["smooth_without_incidents"] = {"hidden": hidden,
                                             **gestures(page, box, zin, zout)}
        r["breakdown"] = breakdown(r.pop("detail"))
        r["problems"] = list(problems)
        r["web"] = web
        return r
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="incidents in the store")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="build the cached store again")
    ap.add_argument("--leaflet", default="^1.9", help="npm version range of leaflet")
    ap.add_argument("--sides", default="ours,peer")
    ap.add_argument("--trace", action="store_true",
                    help="also one traced load of each side (not counted in the medians), "
                         "and in the first run ours again without its incident layers")
    ap.add_argument("--hide", default="",
                    help="diagnosis: hide our map's layers whose id matches this regular "
                         "expression before the gestures (e.g. '^violations$')")
    args = ap.parse_args()
    sides = args.sides.split(",")

    dist, leaflet_version = leaflet(args.leaflet)
    db, meta = store(args.n, args.rebuild)
    b = meta["build_s"]
    print(f"store: {meta['incidents']:,} incidents from {meta['observations']:,} reports "
          f"({meta['events']:,} events), {meta['violations']:,} violations of {meta['terms']}; "
          f"built in {b['total']:.1f} s (CSV {b['write_csv']:.1f}, import {b['import']:.1f}, "
          f"fuse {b['fuse']:.1f}, adjudicate {b['adjudicate']:.1f})", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench_map_"))
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{db}{suffix}").exists():
            shutil.copy(f"{db}{suffix}", work / f"mission.db{suffix}")
    proc, url = serve(work / "mission.db", work)
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
    traces: dict[str, Any] = {}
    try:
        token = meta["token"]
        paging = {k: api_paging(url, token, k)
                  for k in (("incidents", "violations") if args.trace else ("incidents",))}
        print(f"API paging from Python (limit 1000): {json.dumps(paging)}", flush=True)
        br = Browser(url, token, dist)
        br.hide = args.hide
        br.close_view = densest(url, token)
        renderer = webgl_renderer(br)
        size = {"w": 1000, "h": 700}
        try:
            for run in range(args.runs):
                order = sides if run % 2 == 0 else sides[::-1]
                for side in order:
                    r = run_side(br, side, size, diagnose=args.trace and run == 0)
                    if side == "ours":
                        size = {"w": round(r["box"]["width"]), "h": round(r["box"]["height"])}
                    results[side].append(r)
                    print(f"run {run + 1} {side} (web files {r['web']}): "
                          f"paint {r['paint_ms'] / 1000:.2f} s "
                          + (f"(each incident drawable {r['points_ms'] / 1000:.2f} s) "
                             if "points_ms" in r else "")
                          + f"(ready {r['ready_ms'] / 1000:.2f} s), {r['count']:,} incidents; "
                          f"frames {json.dumps(r['smooth'])}; "
                          f"close up {json.dumps(r['smooth_close'])}; "
                          f"{json.dumps(r['breakdown'])}"
                          + (f"; without the incident layers: "
                             f"{json.dumps(r['smooth_without_incidents'])}"
                             if "smooth_without_incidents" in r else "")
                          + (f"; problems: {r['problems']}" if r["problems"] else "")
                          + (f"; hidden: {r['hidden']}" if r.get("hidden") else ""),
                          flush=True)
            if args.trace:
                for side in sides:
                    traces[side] = trace_one(br, side, size, work / f"trace-{side}.json")
                    print(f"trace {side}: {json.dumps(traces[side])}", flush=True)
        finally:
            br.close()
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    summary: dict[str, Any] = {}
    for side, runs in results.items():
        summary[side] = {
            "paint_s": round(median_of(runs, "paint_ms") / 1000, 2),
            "ready_s": round(median_of(runs, "ready_ms") / 1000, 2),
            **({"points_s": round(median_of(runs, "points_ms") / 1000, 2)}
               if all("points_ms" in r for r in runs) else {}),
            **{f"frame_{k}": round(statistics.median(r["smooth"][k] for r in runs), 1)
               for k in ("p50_ms", "p95_ms", "max_ms", "dropped", "frames")},
            **{f"close_{k}": round(statistics.median(r["smooth_close"][k] for r in runs), 1)
               for k in ("p50_ms", "p95_ms", "max_ms", "dropped", "frames")},
            "count": runs[0]["count"],
        }
    print()
    print(f"{'':8} {'first paint':>12} {'ready':>8} {'frame p50':>10} {'p95':>8} "
          f"{'max':>8} {'>50 ms':>7} {'frames':>7}")
    label = {"ours": "ours", "peer": "Leaflet"}
    for side, s in summary.items():
        print(f"{label[side]:8} {s['paint_s']:>10.2f} s {s['ready_s']:>6.2f} s "
              f"{s['frame_p50_ms']:>7.1f} ms {s['frame_p95_ms']:>5.1f} ms "
              f"{s['frame_max_ms']:>5.0f} ms {s['frame_dropped']:>7.0f} {s['frame_frames']:>7.0f}")
        print(f"{'  close':8} {'':>12} {'':>8} "
              f"{s['close_p50_ms']:>7.1f} ms {s['close_p95_ms']:>5.1f} ms "
              f"{s['close_max_ms']:>5.0f} ms {s['close_dropped']:>7.0f} {s['close_frames']:>7.0f}")
    out: dict[str, Any] = {
        "bench": "map", "n_incidents": meta["incidents"], "violations": meta["violations"],
        "runs": args.runs, "build_s": round(b["total"], 1), "leaflet": leaflet_version,
        "maplibre_gl": maplibre_version(), "chromium": chromium_version(), "webgl": renderer,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_avg": [round(x, 2) for x in os.getloadavg()], "api_paging": paging,
        **{f"{side}_{k}": v for side, s in summary.items() for k, v in s.items()},
    }
    if "ours" in summary and "peer" in summary:
        o, p = summary["ours"], summary["peer"]
        out["ratio_paint"] = round(p["paint_s"] / o["paint_s"], 3) if o["paint_s"] else None
        out["ratio_frame_p95"] = (round(p["frame_p95_ms"] / o["frame_p95_ms"], 3)
                                  if o["frame_p95_ms"] else None)
        out["ratio_close_p95"] = (round(p["close_p95_ms"] / o["close_p95_ms"], 3)
                                  if o["close_p95_ms"] else None)
        out["paint_under_2s"] = o["paint_s"] < 2.0
    if traces:
        out["traces"] = traces
    print(json.dumps(out))


def maplibre_version() -> str:
    from truceguard.web import maplibre_file

    path = maplibre_file("maplibre-gl.js")
    if path is None:
        return "missing"
    m = re.search(r"maplibre-gl-js/blob/v([0-9.]+)/", path.read_text()[:400])
    return m.group(1) if m else "unknown"


def chromium_version() -> str:
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"Chromium ([0-9.]+)", out)
    return m.group(1) if m else out.strip()


if __name__ == "__main__":
    main()
