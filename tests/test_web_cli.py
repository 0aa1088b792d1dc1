"""`truceguard dashboard` (no browser here: test_web_dashboard.py drives one) and the dashboard's
routes: the page, MapLibre from the installed package, the shipped layers, markings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import wait_for
from truceguard.store import open_store


def _dashboard(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "truceguard", "dashboard", "--db", str(db),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_up(url: str) -> None:
    wait_for(lambda: _up(url), timeout=30, what=f"{url} to come up")


def test_the_dashboard_serves_the_page_to_a_session_user_it_disables_at_the_end(
        tmp_path: Path) -> None:
    db = tmp_path / "mission.db"
    with open_store(str(db)) as store:
        store.set_owner_nation("FRA")
    proc = _dashboard(db, "--no-browser")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("dashboard: http://127.0.0.1:"), line
        page = line.split(" ", 1)[1].strip()
        url, _, fragment = page.partition("/#token=")
        _wait_up(url)
        html = httpx.get(url + "/")
        assert html.status_code == 200 and "maplibre-gl.js" in html.text
        assert "default-src 'self'" in html.headers["content-security-policy"]
        for asset, kind in (("/app/vendor/maplibre-gl.js", "text/javascript"),
                            ("/app/vendor/maplibre-gl.css", "text/css"),
                            ("/app/js/main.js", "text/javascript"), ("/app/app.css", "text/css")):
            r = httpx.get(url + asset)
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind), asset
        missing = httpx.get(url + "/app/vendor/other.js")
        assert missing.status_code == 404
        assert "maplibre-gl.js" in missing.json()["error"]["hint"]
        auth = {"Authorization": f"Bearer {fragment}"}
        assert httpx.get(url + "/api/v1/layers/countries").status_code == 401
        layer = httpx.get(url + "/api/v1/layers/line_of_contact", headers=auth).json()
        assert layer["marking"] == "PUBLIC" and len(layer["features"]) == 6
        unknown = httpx.get(url + "/api/v1/layers/roads", headers=auth)
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "not_found.layer"
        assert "'roads'" in unknown.json()["error"]["message"]
        narrow = httpx.get(url + "/api/v1/markings/narrowest", headers=auth, params={
            "marking": ["REL TO NATO", "REL TO FRA, GBR", "PUBLIC"]})
        assert narrow.json() == {"marking": "REL TO FRA, GBR"}
        bad = httpx.get(url + "/api/v1/markings/narrowest", headers=auth,
                        params={"marking": "SECRET"})
        assert bad.status_code == 400 and "SECRET" in bad.json()["error"]["message"]
        assert httpx.get(url + "/api/v1/incidents", headers=auth).status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    with open_store(str(db)) as store:
        users = [u for u in store.users() if u.name.startswith("dashboard-")]
    assert len(users) == 1 and users[0].disabled and users[0].nation == "FRA"


def test_the_dashboard_needs_a_database_with_an_owner(tmp_path: Path) -> None:
    db = tmp_path / "mission.db"
    with open_store(str(db)):
        pass
    proc = _dashboard(db, "--no-browser")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert f"database {str(db)!r} has no owner nation" in out
    assert f"Hint: run `truceguard init --db {db} --nation CODE` on it first" in out
