"""The register of weapons seen where the terms forbid them: sightings imported as a monitor's
CSV, judged against the shipped Minsk terms, re-sightings linked into systems, storage sites
checked; through the library, the CLI and the HTTP API, as each viewer may see it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from tests.server_fixtures import Server, make_users, running
from truceguard.cli import main
from truceguard.judge.register import (
    RegisterParams,
    build_register,
    link_labels,
    register_summary,
    storage_sites,
)
from truceguard.judge.terms import load_terms
from truceguard.marking import Viewer
from truceguard.store import ObservationFilter, open_store

HEADER = ("time,lat,lon,uncertainty_m,category,kind,weapon_type,count,observer_lat,"
          "observer_lon,storage_site,storage_present,releasability")
LAT = 48.1  # along this parallel the Minsk line of contact crosses near 37.78 E
IN_15KM = 37.6  # government side, about 8 km from the line: inside the 15 km security zone
TEN_KM_EAST = 37.74  # about 10.4 km east of IN_15KM, still inside it
OUTSIDE_15KM = 37.3  # about 21 km from the line: outside it (inside the 25 km artillery zone)
NON_GOV = 37.9  # the other side, about 7 km from the line
DEG_500M = 0.5 / 74.3  # 500 m of longitude at 48.1 N
SETTLEMENT = (47.98522, 37.2821)  # a shipped settlement 18 km from the line (lat, lon)


@dataclass(frozen=True)
class Row:
    """One CSV row of a monitor's sighting report."""

    time: str
    lon: float
    weapon_type: str = "T-72"
    count: int = 1
    lat: float = LAT
    site: str = ""
    present: str = ""
    marking: str = ""
    uncertainty_m: str = ""

    def line(self) -> str:
        return ",".join(str(v) for v in (
            self.time, self.lat, self.lon, self.uncertainty_m, "weapon_presence", "sighting",
            self.weapon_type, self.count, round(self.lat + 0.01, 5), round(self.lon, 5),
            self.site, self.present, f'"{self.marking}"' if self.marking else ""))


def imported(runner: CliRunner, tmp_path: Path, rows: list[Row], name: str = "t") -> str:
    """A new database holding ``rows``, imported through the CLI as a monitor's CSV."""
    p = tmp_path / f"{name}.csv"
    p.write_text("\n".join([HEADER, *(r.line() for r in rows)]) + "\n", encoding="utf-8")
    db = str(tmp_path / f"{name}.db")
    r = runner.invoke(main, ["import", str(p), "--db", db])
    assert r.exit_code == 0 and f"imported {len(rows)}," in r.output, r.output
    return db


def register_json(runner: CliRunner, db: str, *args: str) -> dict[str, Any]:
    r = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "--format",
                             "json", *args])
    assert r.exit_code == 0, r.output
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- linking -----------------------------------------------------------------------------------

def test_the_same_tank_seen_three_days_running_is_one_system(runner: CliRunner,
                                                               tmp_path: Path) -> None:
    """500 m a day for three days: one system, counted once at its largest sighting; another
    tank 10 km away is another; the first seen again after 20 days is a new entry."""
    db = imported(runner, tmp_path, [
        Row("2016-03-01T09:00Z", IN_15KM, count=2),
        Row("2016-03-02T09:00Z", IN_15KM + DEG_500M, count=3),
        Row("2016-03-03T09:00Z", IN_15KM + 2 * DEG_500M, count=3),
        Row("2016-03-01T10:00Z", TEN_KM_EAST),
        Row("2016-03-23T09:00Z", IN_15KM + 2 * DEG_500M, count=3),
    ])
    doc = register_json(runner, db)
    assert doc["marking"] == "PUBLIC" and doc["terms"] == "minsk-2015"
    rows = doc["rows"]
    assert [(e["n_sightings"], e["count"], e["first_seen"][:10], e["last_seen"][:10])
            for e in rows] == [(3, 3, "2016-03-01", "2016-03-03"),
                               (1, 1, "2016-03-01", "2016-03-01"),
                               (1, 3, "2016-03-23", "2016-03-23")]
    first = rows[0]
    assert first["weapon_type"] == "T-72" and first["weapon_class"] == "tank"
    assert first["side"] == "government" and first["p_side"] == 1.0
    assert first["zone"] == "security_15km" and first["p_location"] == 1.0
    assert first["clause"] == "minsk-2015/withdrawal/security_15km"
    assert first["system_id"] == f"S{first['obs_ids'][0]}" and len(set(first["obs_ids"])) == 3
    assert len({e["system_id"] for e in rows}) == 3
    summary = register_json(runner, db, "--summary")["rows"]
    assert summary == [{"weapon_type": "T-72", "weapon_class": "tank", "side": "government",
                        "zone": "security_15km", "systems": 3, "weapons": 7}]


def test_links_need_the_same_type_and_side_and_chain(runner: CliRunner, tmp_path: Path) -> None:
    """Another type at the same place is another system; the other side's tank is its own;
    a chain of sightings each 1.5 km from the last is one system however far it goes; a
    position known to 1 km widens the link to 4 km."""
    step = 1.5 / 74.3
    db = imported(runner, tmp_path, [
        Row("2016-04-01T08:00Z", IN_15KM),
        Row("2016-04-01T08:00Z", IN_15KM, weapon_type="T-64"),
        Row("2016-04-01T08:00Z", NON_GOV),
        Row("2016-04-02T08:00Z", IN_15KM + step),
        Row("2016-04-03T08:00Z", IN_15KM + 2 * step),
        Row("2016-04-04T08:00Z", IN_15KM + 3 * step),
        Row("2016-04-01T08:00Z", IN_15KM, lat=LAT + 0.025, uncertainty_m="1000"),  # 2.8 km
        Row("2016-04-01T08:00Z", IN_15KM, lat=LAT - 0.03),  # 3.3 km, exact
    ])
    rows = register_json(runner, db, "--link-km", "2")["rows"]
    assert sorted((e["weapon_type"], e["side"], e["n_sightings"]) for e in rows) == [
        ("T-64", "government", 1), ("T-72", "government", 1), ("T-72", "government", 5),
        ("T-72", "non_government", 1)]
    chain = max(rows, key=lambda e: e["n_sightings"])
    assert chain["last_seen"].startswith("2016-04-04") and chain["lon"] > IN_15KM + 0.06
    assert len(register_json(runner, db, "--link-km", "1")["rows"]) == 8


def test_link_labels_unit() -> None:
    """The rule itself, in metres and seconds: distance widened by both radii, windows apart
    by at most the gap, chained."""
    x = np.array([0.0, 1_500.0, 3_000.0, 20_000.0, 20_000.0])
    y = np.zeros(5)
    t0 = np.array([0.0, 86_400.0, 2 * 86_400.0, 0.0, 30 * 86_400.0])
    widen = np.zeros(5)
    labels = link_labels(x, y, t0, t0, widen, 2_000.0, 7 * 86_400.0)
    assert labels[0] == labels[1] == labels[2] and len(set(labels.tolist())) == 3
    far = link_labels(np.array([0.0, 3_000.0]), np.zeros(2), np.zeros(2), np.zeros(2),
                      np.array([600.0, 600.0]), 2_000.0, 0.0)
    assert far[0] == far[1]  # 3 km <= 2 km + 0.6 + 0.6
    assert link_labels(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1),
                       2_000.0, 0.0).tolist() == [0]


# -- what enters -------------------------------------------------------------------------------

def test_only_sightings_the_terms_forbid_enter(runner: CliRunner, tmp_path: Path) -> None:
    """Outside the tank zone, or before the clause binds: not in the register; an artillery
    piece at the same far place is (its zone is wider, and binds earlier); near a settlement
    after July 2020 its innermost zone is the settlements' one."""
    db = imported(runner, tmp_path, [
        Row("2016-03-01T09:00Z", OUTSIDE_15KM),  # 21 km: outside the 15 km tank zone
        Row("2015-06-01T09:00Z", IN_15KM),  # the 15 km zone binds from November 2015
        Row("2015-06-01T09:00Z", OUTSIDE_15KM, weapon_type="2A65"),
        Row("2021-05-01T09:00Z", SETTLEMENT[1], lat=SETTLEMENT[0], weapon_type="2S1"),
        Row("2016-05-01T09:00Z", SETTLEMENT[1], lat=SETTLEMENT[0], weapon_type="2S3"),
        Row("2016-06-01T09:00Z", 37.75, weapon_type="T-64", uncertainty_m="2000"),  # 1.5 km
    ])
    rows = register_json(runner, db)["rows"]
    assert [(e["weapon_type"], e["zone"]) for e in rows] == [
        ("2A65", "artillery_ge100"), ("2S3", "artillery_ge100"), ("T-64", "security_15km"),
        ("2S1", "near_settlements")]
    near_line = rows[2]  # its side is uncertain: it may stand across the line
    assert near_line["side"] == "government" and 0.5 < near_line["p_side"] < 1.0
    assert near_line["p_location"] > 0.99 and near_line["uncertainty_m"] == 2000.0
    with open_store(db) as store:
        seen = list(store.observations(ObservationFilter(), Viewer.owner()))
    terms = load_terms("minsk-2015")
    assert len(build_register(terms, seen)) == 4
    assert build_register(terms, seen, RegisterParams(link_m=0.0)) == build_register(terms, seen)
    assert register_summary([]) == [] and build_register(terms, []) == []


def test_the_viewer_sees_entries_built_from_what_they_may_see(runner: CliRunner,
                                                              tmp_path: Path) -> None:
    """A REL TO GBR re-sighting joins the PUBLIC one for GBR (and marks the entry); for FRA
    the entry is the public sighting alone, and a GBR-only tank does not exist."""
    db = imported(runner, tmp_path, [
        Row("2016-03-01T09:00Z", IN_15KM),
        Row("2016-03-02T09:00Z", IN_15KM + DEG_500M, count=4, marking="REL TO GBR"),
        Row("2016-03-01T09:00Z", TEN_KM_EAST, marking="REL TO GBR"),
    ])
    gbr = register_json(runner, db, "--releasable-to", "GBR")
    assert gbr["marking"] == "REL TO GBR" and len(gbr["rows"]) == 2
    assert gbr["rows"][0]["n_sightings"] == 2 and gbr["rows"][0]["count"] == 4
    assert gbr["rows"][0]["releasability"] == "REL TO GBR"
    fra = register_json(runner, db, "--releasable-to", "FRA")
    assert fra["marking"] == "PUBLIC" and fra["viewer"] == "FRA"
    assert [(e["n_sightings"], e["count"], e["releasability"]) for e in fra["rows"]] == [
        (1, 1, "PUBLIC")]
    assert register_json(runner, db)["marking"] == "REL TO GBR"  # the owner sees all


# -- storage sites -----------------------------------------------------------------------------

def test_storage_sites_give_each_sites_last_check(runner: CliRunner, tmp_path: Path) -> None:
    """Present then absent: absent (weapons missing), with when they were last present;
    absent weapons are not sightings of weapons, so never enter the register."""
    db = imported(runner, tmp_path, [
        Row("2016-02-01T09:00Z", OUTSIDE_15KM, count=4, site="site 7", present="present"),
        Row("2016-03-01T09:00Z", OUTSIDE_15KM, count=3, site="site 7", present="absent"),
        Row("2016-03-01T09:30Z", OUTSIDE_15KM, weapon_type="T-64", site="site 7",
            present="present"),
        Row("2016-03-05T09:00Z", OUTSIDE_15KM - 0.1, site="=depot", present="present"),
        Row("2016-03-06T09:00Z", IN_15KM, count=5, site="site 9", present="never_verified",
            marking="REL TO GBR"),
        Row("2016-03-07T09:00Z", IN_15KM, count=2, site="site 10", present="absent"),
    ])
    doc = register_json(runner, db, "--storage")
    sites = {s["site"]: s for s in doc["rows"]}
    assert doc["marking"] == "REL TO GBR" and doc["what"] == "storage sites"
    s7 = sites["site 7"]
    assert (s7["state"], s7["count"], s7["n_checks"]) == ("absent", 3, 2)
    assert s7["last_present"] == "2016-02-01T09:00:00Z"
    assert s7["first_checked"] == "2016-02-01T09:00:00Z"
    assert s7["last_checked"] == "2016-03-01T09:30:00Z"
    assert s7["weapon_types"] == ["T-64", "T-72"] and s7["side"] == "government"
    assert sites["=depot"]["state"] == "present" and sites["=depot"]["last_present"]
    assert (sites["site 9"]["state"], sites["site 9"]["last_present"]) == ("never_verified",
                                                                           None)
    assert sites["site 10"]["state"] == "absent"
    assert register_json(runner, db)["rows"] == []  # none of them places a weapon in a zone
    fra = register_json(runner, db, "--storage", "--releasable-to", "FRA")
    assert "site 9" not in {s["site"] for s in fra["rows"]} and fra["marking"] == "PUBLIC"
    with open_store(db) as store:
        seen = list(store.observations(ObservationFilter(), Viewer.owner()))
    assert [s.site for s in storage_sites(load_terms("minsk-2015"), seen)] == sorted(sites)
    out = tmp_path / "sites.csv"
    r = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "--storage",
                             "--format", "csv", "-o", str(out), "--banner"])
    assert r.exit_code == 0 and r.stderr.strip().endswith("[REL TO GBR]"), r.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# marking: REL TO GBR\nsite,state,")
    assert "\n'=depot," in text  # a formula-looking cell is made inert


# -- the CLI -----------------------------------------------------------------------------------

def test_cli_formats_markings_and_errors(runner: CliRunner, tmp_path: Path) -> None:
    db = imported(runner, tmp_path, [
        Row("2016-03-01T09:00Z", IN_15KM, marking="REL TO GBR"),
        Row("2016-03-10T09:00Z", IN_15KM),
    ])
    table = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db])
    assert table.exit_code == 0 and "[REL TO GBR]" in table.stdout, table.output
    assert "security_15km" in table.stdout and table.stderr.strip() == "2 rows [REL TO GBR]"
    since = register_json(runner, db, "--since", "2016-03-05")
    assert since["marking"] == "PUBLIC" and len(since["rows"]) == 1
    until = register_json(runner, db, "--until", "2016-03-01")
    assert until["marking"] == "REL TO GBR" and len(until["rows"]) == 1
    out = tmp_path / "reg.csv"
    r = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "--format", "csv",
                             "-o", str(out)])
    assert r.exit_code == 0 and r.stderr.strip() == f"wrote 2 rows to {out} [REL TO GBR]"
    assert out.read_text(encoding="utf-8").startswith("system_id,weapon_type,")
    bad = runner.invoke(main, ["register", "--terms", "minsk-2051", "--db", db, "--format",
                               "json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"]["code"] == "not_found.terms"
    clash = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "-o",
                                 str(tmp_path / "x.txt")])
    assert clash.exit_code == 1 and "Hint:" in clash.stderr
    onto_db = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "--format",
                                   "json", "-o", db])
    assert onto_db.exit_code == 1 and "output.would_overwrite" in onto_db.stdout
    both = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "--storage",
                                "--summary"])
    assert both.exit_code == 1 and "do not go together" in both.stderr
    neg = runner.invoke(main, ["register", "--terms", "minsk-2015", "--db", db, "--gap-days",
                               "-1"])
    assert neg.exit_code == 1 and "--gap-days" in neg.stderr


# -- the HTTP API ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("register_api")
    db = imported(CliRunner(), tmp, [
        Row("2016-03-01T09:00Z", IN_15KM),
        Row("2016-03-02T09:00Z", IN_15KM + DEG_500M, count=2, marking="REL TO GBR"),
        Row("2016-03-01T09:00Z", TEN_KM_EAST, marking="REL TO GBR"),
        Row("2016-03-04T09:00Z", NON_GOV),
        Row("2016-03-05T09:00Z", OUTSIDE_15KM, site="site 7", present="absent"),
    ])
    tokens = make_users(db)
    with running(db, tmp / "server.log") as srv:
        srv.tokens = tokens
        yield srv


def _get(srv: Server, user: str | None, **params: Any) -> Any:
    with srv.client(user) as c:
        return c.get("/api/v1/register", params=params)


def test_api_register_per_viewer_paged(server: Server) -> None:
    gbr = _get(server, "gbr", terms="minsk-2015")  # `running` waited for the server
    assert gbr.status_code == 200, gbr.text
    doc = gbr.json()
    assert doc["marking"] == "REL TO GBR" and doc["next_cursor"] is None
    assert [(e["side"], e["n_sightings"], e["count"]) for e in doc["items"]] == [
        ("government", 2, 2), ("government", 1, 1), ("non_government", 1, 1)]
    fra = _get(server, "fra", terms="minsk-2015").json()
    assert fra["marking"] == "PUBLIC"
    assert [(e["n_sightings"], e["releasability"]) for e in fra["items"]] == [
        (1, "PUBLIC"), (1, "PUBLIC")]
    pages, cursor = [], None
    while True:
        page = _get(server, "gbr", terms="minsk-2015", limit=1,
                    **({"cursor": cursor} if cursor else {})).json()
        pages += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [e["system_id"] for e in pages] == [e["system_id"] for e in doc["items"]]
    # the API names systems and sightings by tokens, never by the store's numbers
    assert all(e["system_id"] == "sys_" + e["obs_ids"][0][4:] for e in doc["items"])
    assert all(i.startswith("obs_") for e in doc["items"] for i in e["obs_ids"])
    sites = _get(server, "gbr", terms="minsk-2015", storage="true").json()
    assert [(s["site"], s["state"]) for s in sites["items"]] == [("site 7", "absent")]
    assert all(i.startswith("obs_") for s in sites["items"] for i in s["obs_ids"])
    assert sites["marking"] == "PUBLIC"
    early = _get(server, "gbr", terms="minsk-2015", until="2016-03-01").json()
    assert len(early["items"]) == 2


def test_api_register_errors(server: Server) -> None:
    assert _get(server, None, terms="minsk-2015").status_code == 401
    unknown = _get(server, "gbr", terms="minsk-2051")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found.terms"
    assert _get(server, "gbr").status_code == 400  # terms is required
    assert _get(server, "gbr", terms="minsk-2015", min_p="2").status_code == 400
    assert _get(server, "gbr", terms="minsk-2015", cursor="nonsense!").status_code == 400
