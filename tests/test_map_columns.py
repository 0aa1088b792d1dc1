"""The map's columns (``store.map_columns``) on each store backend: for every viewer and
filter, exactly the rows the list methods give, in their order, field by field; never a row
the list hides."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from truceguard.ingest import import_file
from truceguard.judge.terms import load_terms
from truceguard.marking import Viewer
from truceguard.pipeline import adjudicate_store, fuse_store
from truceguard.store import ObservationFilter, Store, ViolationFilter
from truceguard.store.map_columns import INCIDENT_MAP_COLUMNS, VIOLATION_MAP_COLUMNS

# Shellings and sightings in the Minsk area, some seen by two nations at once: a report
# releasable to GBR only and one releasable to FRA only at the same place and minute fuse
# into one incident that each nation sees as its own view.
REPORTS = [
    ("p1", "2019-06-01T10:00:00Z", 48.30, 38.05, "shelling", "PUBLIC"),
    ("p2", "2019-06-03T10:00:00Z", 48.00, 37.80, "shelling", "REL TO GBR"),
    ("p3", "2019-06-03T10:00:00Z", 48.00, 37.80, "explosion", "REL TO FRA"),
    ("p4", "2019-06-05T10:00:00Z", 48.55, 38.00, "shelling", "REL TO FRA"),
    ("p5", "2019-06-07T10:00:00Z", 47.95, 37.60, "explosion", "REL TO GBR, FRA"),
    ("p6", "2019-06-07T10:00:00Z", 47.95, 37.60, "shelling", "PUBLIC"),
    ("p7", "2019-06-09T10:00:00Z", 48.30, 38.05, "explosion", "REL TO GBR"),
    ("p8", "2019-06-11T10:00:00Z", 48.10, 37.90, "armed_clash", "PUBLIC"),
    ("p9", "2019-06-11T10:00:00Z", 47.70, 37.50, "shelling", "REL TO GBR"),
]
VIEWERS = {"GBR": Viewer.of("GBR"), "FRA": Viewer.of("FRA"), "owner": Viewer.owner()}
FILTERS = {
    "all": ObservationFilter(),
    "period": ObservationFilter(since=1559556000, until=1560074400),  # 3 June .. 9 June
    "bbox": ObservationFilter(bbox=(37.7, 47.9, 38.1, 48.4)),
    "near": ObservationFilter(near=(48.0, 37.8, 40.0)),
    "category": ObservationFilter(categories=("shelling",)),
    "source": ObservationFilter(sources=("patrol",)),
}


@pytest.fixture
def judged(store: Store, tmp_path: Path) -> Store:
    path = tmp_path / "reports.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        w.writerows(REPORTS)
    import_file(store, path, source="patrol")
    fuse_store(store)
    adjudicate_store(store, load_terms("minsk-2015"))
    return store


def _rows(cols: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    n = {len(c) for c in cols.values()}
    assert len(n) == 1
    return [{k: c[i].item() if hasattr(c[i], "item") else c[i] for k, c in cols.items()}
            for i in range(n.pop())]


def _listed(records: list[Any], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{k: getattr(r, k) for k in names} for r in records]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_the_incident_columns_are_the_listed_incidents(judged: Store, name: str) -> None:
    flt = FILTERS[name]
    seen = {}
    for who, viewer in VIEWERS.items():
        cols = judged.incident_columns(flt, viewer)
        assert list(cols) == list(INCIDENT_MAP_COLUMNS)
        assert cols["incident_id"].dtype == np.int64 and cols["lon"].dtype == np.float64
        seen[who] = _rows(cols)
        assert seen[who] == _listed(judged.incidents(flt, viewer), INCIDENT_MAP_COLUMNS)
    if name == "all":  # the nations see different things, the owner everything
        assert seen["GBR"] != seen["FRA"]
        assert len(seen["owner"]) >= max(len(seen["GBR"]), len(seen["FRA"]))
        assert {r["releasability"] for r in seen["FRA"]} <= {"PUBLIC", "REL TO FRA",
                                                             "REL TO FRA, GBR"}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_the_violation_columns_are_the_listed_violations(judged: Store, name: str) -> None:
    vfs = [ViolationFilter(records=FILTERS[name]),
           ViolationFilter(records=FILTERS[name], terms="minsk-2015", min_p_location=0.5),
           ViolationFilter(records=FILTERS[name], statuses=("new",),
                           clauses=("minsk-2015/live_fire/ceasefire",)),
           ViolationFilter(records=FILTERS[name], clauses=("minsk-2015/no_such_clause",))]
    for vf in vfs:
        for viewer in VIEWERS.values():
            cols = judged.violation_columns(vf, viewer)
            assert list(cols) == list(VIOLATION_MAP_COLUMNS)
            assert _rows(cols) == _listed(judged.violations(vf, viewer), VIOLATION_MAP_COLUMNS)
    if name == "all":
        gbr = judged.violation_columns(vfs[0], VIEWERS["GBR"])
        fra = judged.violation_columns(vfs[0], VIEWERS["FRA"])
        assert len(gbr["violation_id"]) and len(fra["violation_id"])
        assert _rows(gbr) != _rows(fra)
        assert len(judged.violation_columns(vfs[2], VIEWERS["GBR"])["violation_id"])
        assert not len(judged.violation_columns(vfs[3], VIEWERS["GBR"])["violation_id"])


def test_an_empty_view_is_empty_columns(judged: Store) -> None:
    flt = ObservationFilter(since=2_000_000_000)
    cols = judged.incident_columns(flt, VIEWERS["GBR"])
    assert list(cols) == list(INCIDENT_MAP_COLUMNS)
    assert all(len(c) == 0 for c in cols.values())
    vcols = judged.violation_columns(ViolationFilter(records=flt), VIEWERS["FRA"])
    assert all(len(c) == 0 for c in vcols.values())
