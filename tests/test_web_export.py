"""Export exactly the filtered view: the dashboard's export links download, through
``/api/v1/export/{kind}``, files in CSV, GeoJSON, GeoPackage and KML that hold exactly the
records the list endpoint answers for the same filter, every field, with the marking.

A real `truceguard serve` holds UCDP events of 2015-02 .. 2015-04 (PUBLIC) and patrol reports
marked REL TO GBR, fused and judged against minsk-2015; Debian's chromium, driven by
Playwright, clicks the links (every request to a host but the server's fails the test).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.dependencies.utils import get_dependant

from tests.conftest import UCDP_CLEAN
from tests.helpers import wait_for
from tests.server_fixtures import Server, list_all, serving
from tests.web_fixtures import LOOPBACK, chromium
from truceguard.errors import TooLargeError
from truceguard.ingest import import_file, ingest_records
from truceguard.io.gis import read_gis_records
from truceguard.io.records import neutralise
from truceguard.judge.terms import load_terms
from truceguard.marking import most_restrictive
from truceguard.model import Observation, sha256_text
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.server.routes import export, incidents, violations
from truceguard.store import open_store

T_PATROL = 1_426_500_000  # 2015-03-16
FORMATS = ("csv", "geojson", "gpkg", "kml")
ID_FIELD = {"incidents": "incident_id", "violations": "violation_id"}


def _patrol(k: int) -> Observation:
    raw = f"patrol-3,2015-03-16,{k},shell impacts seen near post {k}"
    return Observation(source="patrol", how_known="seen", t_start=T_PATROL + 900 * k,
                       t_end=T_PATROL + 900 * k, time_precision_s=60, lat=47.30 + 0.05 * k,
                       lon=35.40 + 0.30 * k, uncertainty_m=250.0, category="shelling",
                       source_ref=f"p3-{k}", releasability="REL TO GBR", raw=raw,
                       raw_sha256=sha256_text(raw), source_file="patrol-3.csv",
                       source_line=k + 2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("export")
    subset = folder / "ucdp_2015.csv"
    with open(UCDP_CLEAN, encoding="utf-8", newline="") as src, \
            open(subset, "w", encoding="utf-8", newline="") as out:
        rows = csv.DictReader(src)
        w = csv.DictWriter(out, fieldnames=list(rows.fieldnames or []))
        w.writeheader()
        w.writerows(r for r in rows if "2015-02" <= r["date_start"][:7] <= "2015-04")
    with open_store(str(folder / "mission.db")) as store:
        store.set_owner_nation("GBR")
        import_file(store, subset)
        ingest_records(store, [_patrol(k) for k in range(8)], source="patrol")
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))
    with serving(folder) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The dashboard as user gbr, its period narrowed by the timeline's brush and its clause
    chosen; every request it sends elsewhere is failed and counted."""
    elsewhere: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname in LOOPBACK:
            r.continue_()
        else:
            elsewhere.append(r.request.url)
            r.abort("internetdisconnected")

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 850},
                                      accept_downloads=True)
        context.route("**/*", route)
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"{server.url}/#token={server.tokens['gbr']}")
        _ready(pg)
        pg.evaluate("""([a, b]) => {
            for (const [id, v] of [['brush-from', a], ['brush-to', b]]) {
                const el = document.getElementById(id);
                el.value = String(v);
                el.dispatchEvent(new Event('input'));
            }}""", [20, 60])
        pg.wait_for_function("() => document.getElementById('period').dataset.since !== ''",
                             timeout=30_000)
        _ready(pg)
        clause = pg.eval_on_selector("#clause", "s => s.options[1] ? s.options[1].value : ''")
        assert clause, "the terms have no clause to choose"
        pg.select_option("#clause", clause)
        pg.wait_for_function("c => document.body.dataset.state === 'ready'", arg=clause,
                             timeout=30_000)
        yield pg
        pg.screenshot(path=str(tmp_path_factory.mktemp("shots") / "export.png"))  # to look at
        assert errors == [], errors
        assert elsewhere == [], f"requests left the machine: {elsewhere}"
        context.close()


def _ready(pg: Any) -> None:
    pg.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=30_000)


def _view(pg: Any, kind: str) -> dict[str, Any]:
    """The filter the page shows for ``kind``: its period, and the clause for violations."""
    p = pg.locator("#period")
    params: dict[str, Any] = {k: v for k in ("since", "until")
                              if (v := p.get_attribute(f"data-{k}"))}
    if kind == "violations":
        params["clause"] = pg.eval_on_selector("#clause", "s => s.value")
    return params


def _listed(server: Server, user: str, kind: str, params: dict[str, Any]
            ) -> tuple[list[dict[str, Any]], str]:
    """Every item the list endpoint answers for ``params``, and their banner."""
    items, markings = list_all(server, user, kind, params)
    return items, most_restrictive(markings).text


def _csv_cell(value: Any) -> str:
    """What ``io.records.write_csv`` writes for ``value``."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(neutralise(value))


def _same(got: Any, want: Any, fmt: str) -> bool:
    """A value read back from a GIS file equals the API's (JSON as text; KML holds text,
    numbers to 15 significant digits)."""
    if isinstance(want, dict | list):
        return isinstance(got, str) and json.loads(got) == want
    if want is None:
        return got is None or (fmt == "kml" and got == "")
    if isinstance(want, float) or (isinstance(want, int) and fmt == "kml"):
        return got is not None and float(got) == pytest.approx(want, rel=1e-14, abs=1e-9)
    return bool(got == want)


def _check_file(path: Path, fmt: str, items: list[dict[str, Any]], marking: str,
                kind: str) -> None:
    """The file at ``path`` holds exactly ``items``, in order, every field, and ``marking``."""
    ids = [i[ID_FIELD[kind]] for i in items]
    if fmt == "csv":
        first, _, rest = path.read_text(encoding="utf-8").partition("\n")
        assert first == f"# marking: {marking}"
        rows = list(csv.DictReader(io.StringIO(rest)))
        assert [r[ID_FIELD[kind]] for r in rows] == [str(i) for i in ids]
        for row, item in zip(rows, items, strict=True):
            assert list(row) == list(item)
            assert row == {k: _csv_cell(v) for k, v in item.items()}
    elif fmt == "geojson":
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["marking"] == marking
        got = [{**f["properties"], "lon": f["geometry"]["coordinates"][0],
                "lat": f["geometry"]["coordinates"][1]} for f in doc["features"]]
        assert got == items
    else:
        rows, meta = read_gis_records(path)
        assert [r[ID_FIELD[kind]] for r in rows] == (
            [str(i) for i in ids] if fmt == "kml" else ids)
        assert meta["fields"] == list(items[0])
        for row, item in zip(rows, items, strict=True):
            bad = {k: (row[k], v) for k, v in item.items() if not _same(row[k], v, fmt)}
            assert not bad, bad
        if fmt == "gpkg":
            assert meta["dataset_metadata"]["marking"] == marking
            assert meta["layer_metadata"]["marking"] == marking
        else:
            assert f"<name>{kind} [{marking}]</name>" in path.read_text(encoding="utf-8")
            assert [d.split("\n")[0] for d in meta["descriptions"]] == [
                i["releasability"] for i in items]


@pytest.mark.parametrize("kind", ["incidents", "violations"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_holds_exactly_the_filtered_list(page: Any, server: Server, kind: str,
                                                     fmt: str, tmp_path: Path) -> None:
    params = _view(page, kind)
    items, marking = _listed(server, "gbr", kind, params)
    assert items, params
    with page.expect_download(timeout=30_000) as info:
        page.click(f"#export-{kind}-{fmt}")
    download = info.value
    assert download.suggested_filename.endswith(f".{fmt}")
    path = tmp_path / download.suggested_filename  # GDAL reads a GeoPackage by its suffix
    download.save_as(path)
    _check_file(path, fmt, items, marking, kind)
    page.wait_for_function("t => document.getElementById('status').textContent === t",
                           arg=f"exported {len(items)} {kind} as {fmt}", timeout=10_000)
    if kind == "incidents":
        assert marking == "REL TO GBR"  # the patrols in the period


def test_a_user_of_another_nation_exports_less(server: Server, tmp_path: Path) -> None:
    params = {"since": "2015-03-01", "until": "2015-03-31"}
    for user in ("gbr", "fra"):
        items, marking = _listed(server, user, "incidents", params)
        with server.client(user) as c:
            r = c.get("/api/v1/export/incidents", params={**params, "format": "gpkg"})
        assert r.status_code == 200, r.text
        assert r.headers["x-marking"] == marking
        assert int(r.headers["x-count"]) == len(items)
        path = tmp_path / f"{user}.gpkg"
        path.write_bytes(r.content)
        _check_file(path, "gpkg", items, marking, "incidents")
        _no_export_left_behind()
        if user == "gbr":
            n_gbr = len(items)
            assert marking == "REL TO GBR"
        else:
            assert marking == "PUBLIC" and len(items) < n_gbr
            rows, _ = read_gis_records(path)
            assert all(row["releasability"] == "PUBLIC" for row in rows)


def _no_export_left_behind() -> None:
    """The server removes each export's temporary folder once the file is sent."""
    wait_for(lambda: not list(Path(tempfile.gettempdir()).glob("truceguard-export-*")),
             timeout=10, what="an export's temporary folder is left behind")


def test_an_export_over_its_bound_is_refused_not_cut_short() -> None:
    with pytest.raises(TooLargeError) as err:
        export._bounded([None] * (export.MAX_EXPORT_ROWS + 1), "incidents")
    assert err.value.code == "export.too_large" and err.value.http_status == 413
    assert "200,000 incidents" in err.value.message and "narrow" in err.value.hint


@pytest.mark.parametrize(("params", "code", "named"), [
    ({"format": "xls"}, "input.unknown_value", "'xls'"),
    ({"format": "csv", "since": "yesterday"}, "input", "yesterday"),
    ({"format": "csv", "bbox": "1,2,3"}, "input", "1,2,3"),
    ({"format": "csv", "limit": "10"}, "input.unknown_parameter", "'limit'"),
    ({"format": "csv", "category": "picnic"}, "input", "picnic"),
    ({"format": "csv", "clause": "no/such/clause"}, "input", "no/such/clause"),
    ({"format": "csv", "status": "lost"}, "input.unknown_value", "'lost'"),
    ({"format": "csv", "min_p": "2"}, "input", "2"),
    ({"format": "kml", "since": "2030-01-01"}, "output.empty", "KML"),
])
def test_a_bad_format_or_filter_is_the_domain_error(server: Server, params: dict[str, str],
                                                    code: str, named: str) -> None:
    with server.client("gbr") as c:
        r = c.get("/api/v1/export/violations", params=params)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(error) >= {"code", "message", "hint"} and error["hint"]
    assert error["code"].startswith(code), error
    assert named in error["message"], error


def test_the_export_needs_the_token_and_takes_exactly_the_lists_filters(
        server: Server) -> None:
    with server.client(None) as c:
        r = c.get("/api/v1/export/incidents", params={"format": "csv"})
    assert r.status_code == 401 and r.json()["error"]["code"].startswith("auth")

    def names(call: Any) -> set[str]:
        found: set[str] = set()
        todo = [get_dependant(path="/", call=call)]
        while todo:
            d = todo.pop()
            found |= {p.alias for p in d.query_params}
            todo.extend(d.dependencies)
        return found

    lists = {"incidents": incidents.list_incidents, "violations": violations.list_violations}
    exports = {"incidents": export.export_incidents, "violations": export.export_violations}
    for kind in ("incidents", "violations"):
        assert names(exports[kind]) == (names(lists[kind]) - {"limit", "cursor"}) | {"format"}
