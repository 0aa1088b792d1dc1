"""A record's own marking (CSV column, GeoJSON property, CoT ``access``) can only narrow the
import's marking, never widen it; readers store canonical text; bad markings name the row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.io_fixtures import DRONE
from truceguard.errors import MarkingError, RowError
from truceguard.io import read_cot, read_csv_mapped, read_geojson
from truceguard.marking import Viewer, parse_marking
from truceguard.model import Observation


def csv_file(tmp_path: Path, markings: list[str]) -> Path:
    p = tmp_path / "m.csv"
    rows = "".join(f'2024-03-02,48,38,"{m}",r{i}\n' for i, m in enumerate(markings))
    p.write_text("time,lat,lon,releasability,id\n" + rows, encoding="utf-8")
    return p


def geojson_file(tmp_path: Path, markings: list[str]) -> Path:
    feats = [{"type": "Feature", "id": f"r{i}",
              "geometry": {"type": "Point", "coordinates": [38, 48]},
              "properties": {"time": "2024-03-02", **({"releasability": m} if m else {})}}
             for i, m in enumerate(markings)]
    p = tmp_path / "m.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return p


def cot_file(tmp_path: Path, markings: list[str]) -> Path:
    events = [DRONE.replace("RADAR-7.trk-1182", f"r{i}").replace(
        'access="REL TO UK, FR"', f'access="{m}"' if m else "") for i, m in enumerate(markings)]
    p = tmp_path / "m.cot"
    p.write_text("\n".join(events) + "\n")
    return p


FORMATS = [(csv_file, read_csv_mapped, "releasability"),
           (geojson_file, read_geojson, "releasability"),
           (cot_file, read_cot, "access")]


@pytest.mark.parametrize(("make", "read", "field"), FORMATS)
def test_a_row_marking_only_narrows_the_import_marking(tmp_path: Path, make: object,
                                                       read: object, field: str) -> None:
    rows = ["", "PUBLIC", "REL TO FRA", "REL UK FR", "REL TO DEU", "rel to gbr,  nato",
            "REL TO XXX", "REL TO %", "SECRET"]
    path = make(tmp_path, rows)  # type: ignore[operator]
    items = list(read(path, releasability="REL TO GBR, FRA"))  # type: ignore[operator]
    got = [i.releasability if isinstance(i, Observation) else (i.field, i.line)
           for i in items]
    assert got[:6] == [
        "REL TO FRA, GBR",  # none of its own: the import's marking
        "REL TO FRA, GBR",  # PUBLIC does not widen it
        "REL TO FRA",  # narrower: kept
        "REL TO FRA, GBR",  # the old syntax, converted
        "OWNER ONLY",  # nothing in common: only the owner sees it
        "REL TO FRA, GBR",  # NATO reaches FRA and GBR only within the ceiling, not all NATO
    ]
    errors = [i for i in items if isinstance(i, RowError)]
    assert [e.field for e in errors] == [field] * 3
    assert all("not a country" in e.reason or "expected PUBLIC" in e.reason for e in errors)


def test_an_invalid_import_marking_is_refused_before_reading(tmp_path: Path) -> None:
    for make, read, _ in FORMATS:
        path = make(tmp_path, [""])
        with pytest.raises(MarkingError):
            next(iter(read(path, releasability="REL TO ATLANTIS")))  # type: ignore[operator]


COUNTRIES = ["GBR", "FRA", "DEU", "POL", "USA", "UKR", "NOR", "TUR"]
marking_text = st.one_of(
    st.just(""), st.just("PUBLIC"),
    st.lists(st.sampled_from([*COUNTRIES, "NATO", "EU", "FVEY"]), min_size=1, max_size=4).map(
        lambda codes: "REL TO " + ", ".join(codes)),
    st.lists(st.sampled_from(["UK", "FR", "DE", "PL", "US"]), min_size=1, max_size=3).map(
        lambda codes: "REL " + " ".join(codes)),
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ceiling=marking_text, rows=st.lists(marking_text, min_size=1, max_size=6))
def test_no_viewer_sees_a_record_it_could_not_see_under_both(tmp_path: Path, ceiling: str,
                                                             rows: list[str]) -> None:
    ceiling = ceiling or "PUBLIC"
    viewers = [Viewer.of(c) for c in COUNTRIES]
    for make, read, _ in FORMATS:
        items = list(read(make(tmp_path, rows), releasability=ceiling))  # type: ignore[operator]
        assert all(isinstance(i, Observation) for i in items)
        for row, obs in zip(rows, items, strict=True):
            stored = obs.releasability
            assert parse_marking(stored).text == stored  # canonical
            for v in viewers:
                if v.may_see(stored):
                    assert v.may_see(ceiling), (ceiling, row, stored)
                    if row and not (read is read_cot and row.lower() in ("undefined",)):
                        assert v.may_see(row), (ceiling, row, stored)
