"""Places as the source gives them, and what a source's records can show: UCDP precision codes
that stand for a unit are judged over the unit's polygon, lower-clarity events and deaths from
mines or explosive remnants are their own categories and breach nothing by default."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import shapely

from truceguard.geo.shipped import ordlo_polygon
from truceguard.ingest import import_file
from truceguard.io.columns import ObservationColumns
from truceguard.io.ucdp import read_ucdp, read_ucdp_columns
from truceguard.judge.adjudicate import adjudicate
from truceguard.judge.places import describe_locations, precision_region
from truceguard.judge.terms import load_terms, parse_terms
from truceguard.model import Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import ViolationFilter, open_store

from .conftest import UCDP_CLEAN

# UCDP's stand-in point for "Donetsk oblast" (where_prec 4): Avdiivka's coordinates.
DONETSK_STAND_IN = (37.74, 48.14)
IDS = {
    "203619": "explosive_remnant",  # "Passenger bus blown up by mine in east Ukraine"
    "204599": "explosive_remnant",  # "trip wire mine explosion"
}


@pytest.fixture(scope="module")
def minsk():
    return load_terms("minsk-2015")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """Real rows of the shipped file: mine deaths, lower-clarity rows, oblast-level rows and
    exactly placed ones."""
    text = UCDP_CLEAN.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0])
    pick = [r for r in rows if r["id"] in IDS]
    pick += [r for r in rows if r["event_clarity"] == "2"][:3]
    pick += [r for r in rows if r["where_prec"] == "4" and r["adm_1"] == "Donetsk oblast"
             and r["event_clarity"] == "1" and r["date_start"] >= "2016"][:3]
    pick += [r for r in rows if r["where_prec"] == "1" and r["date_start"] >= "2016"][:3]
    out = tmp_path_factory.mktemp("ucdp") / "sample.csv"
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, header, lineterminator="\n")
        w.writeheader()
        w.writerows(pick)
    return out


def test_record_kinds_are_read_alike_on_both_paths(sample):
    rows = list(read_ucdp(sample))
    cats = {o.source_ref: o.category for o in rows}
    for ident, want in IDS.items():
        assert cats[ident] == want
    assert sum(c == "low_clarity" for c in cats.values()) == 3
    fast: list[str] = []
    for item in read_ucdp_columns(sample):
        fast += (list(item.column("category")) if isinstance(item, ObservationColumns)
                 else [item.category])
    assert fast == [o.category for o in rows]
    assert all(o.attributes["event_clarity"] in ("1", "2") for o in rows)


def test_mortar_rounds_called_mines_are_not_mine_deaths(tmp_path):
    text = UCDP_CLEAN.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    row = next(r for r in rows if r["id"] == "232730")  # "launch 300 mines on DPR"
    out = tmp_path / "one.csv"
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, list(row), lineterminator="\n")
        w.writeheader()
        w.writerow(row)
    assert [o.category for o in read_ucdp(out)] == ["armed_clash"]


def test_lower_clarity_and_mine_deaths_breach_nothing_unless_a_clause_opts_in(minsk):
    lon, lat = [37.80], [48.10]
    t = [1_600_000_000]
    for cat in ("low_clarity", "explosive_remnant"):
        assert adjudicate(minsk, lon, lat, t, [cat], ["unknown"]).incident.size == 0
    assert adjudicate(minsk, lon, lat, t, ["armed_clash"], ["unknown"]).incident.size > 0
    text = minsk.path and Path(minsk.path).read_text(encoding="utf-8")
    opted = parse_terms(text.replace(
        "  - id: ceasefire\n    activity: live_fire\n",
        "  - id: ceasefire\n    activity: live_fire\n    categories: [low_clarity]\n"),
        path=minsk.path)
    hit = adjudicate(opted, lon, lat, t, ["low_clarity"], ["unknown"])
    assert [opted.clause_ids[c] for c in hit.clause] == ["minsk-2015/live_fire/ceasefire"]
    assert adjudicate(opted, lon, lat, t, ["explosive_remnant"], ["unknown"]).incident.size == 0


def test_an_oblast_level_event_is_judged_over_the_oblast(minsk):
    lon, lat = DONETSK_STAND_IN
    region = precision_region("UCDP GED", {"where_prec": 4}, lon, lat)
    assert region is not None and region.name == "Donetsk oblast"
    a = adjudicate(minsk, [lon], [lat], [1_600_000_000], ["armed_clash"], ["unknown"],
                   uncertainty_m=[150_000], region=[region.polygon])
    # the share of the oblast's area outside government control, measured independently
    from truceguard.geo.project import projection_for
    proj = projection_for([36.5, 39.0], [46.9, 49.3])
    poly = proj.project_geometry(region.polygon)
    held = proj.project_geometry(shapely.intersection(region.polygon, ordlo_polygon()))
    share = held.area / poly.area
    assert a.location.p_side1[0] == pytest.approx(share, abs=0.01)
    assert a.controlled_by[0] == ("non_government" if share > 0.5 else "government")
    assert a.p_side[0] == pytest.approx(max(share, 1 - share), abs=0.01)
    assert a.p_location[0] == pytest.approx(1.0)  # the oblast lies wholly in the area
    text = describe_locations([lon], [lat], minsk, uncertainty_m=[150_000],
                              p_side=a.p_side, side=a.location.side, regions=[region])[0]
    assert text == f"in Donetsk oblast (likely government-controlled, p {a.p_side[0]:.2f})"
    assert "Avdiyivka" not in text


def test_regions_for_named_areas_the_country_and_circles():
    assert precision_region("UCDP GED", {"where_prec": 5}, 38.65, 48.15,
                            "Donets Basin Area").key == "donbas"  # type: ignore[union-attr]
    dpr = precision_region("UCDP GED", {"where_prec": 5}, 38.28, 47.92,
                           "DPR controlled territory")
    assert dpr is not None and shapely.within(dpr.polygon.buffer(-1e-6), ordlo_polygon()
                                              .buffer(1e-6))
    assert precision_region("UCDP GED", {"where_prec": 6}, 32.0, 49.0).key == "UKR"  # type: ignore[union-attr]
    for code in (1, 2, 7):
        assert precision_region("UCDP GED", {"where_prec": code}, 37.8, 48.1) is None
    assert precision_region("UCDP GED", {"where_prec": 5}, 37.8, 48.5, "M03 road") is None
    assert precision_region("ACLED", {"geo_precision": 3}, 39.3, 48.6).name == "Luhansk oblast"  # type: ignore[union-attr]
    assert precision_region("ACLED", {"geo_precision": 2}, 39.3, 48.6) is None


def test_the_stored_violation_of_an_oblast_level_event_names_the_oblast(sample, tmp_path):
    with open_store(str(tmp_path / "t.db")) as store:
        import_file(store, sample)
        fuse_store(store)
        adjudicate_store(store, load_terms("minsk-2015"))
        rows = store.violations(ViolationFilter(terms="minsk-2015"), Viewer.owner())
    assert {v.category for v in rows} == {"armed_clash"}  # nothing of the kinds apart
    wide = [v for v in rows if v.uncertainty_m > 100_000]
    assert len(wide) == 3
    for v in wide:
        assert v.location_text.startswith("in Donetsk oblast (")
        assert v.p_location == pytest.approx(1.0)
        assert 0.5 <= v.p_side < 0.9
    exact = [v for v in rows if v.uncertainty_m < 2_000]
    assert exact and all(not v.location_text.startswith("in Donetsk oblast") for v in exact)
    assert np.all([v.controlled_by in ("government", "non_government") for v in rows])
