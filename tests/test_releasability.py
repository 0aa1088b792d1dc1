"""Property: whatever markings the records carry and whatever a viewer types, the CLI's
listings, counts, exports, incidents, violations and reports show the viewer nothing it may
not see, and its counts match what it may see.

Markings and viewer codes are drawn with odd spellings, wildcards and unknown codes: a marking
that cannot be parsed is refused with its row (never stored wider), a viewer code that is not
a known code is an error (never a pattern that matches more).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from truceguard.cli import main
from truceguard.errors import MarkingError
from truceguard.marking import Viewer, most_restrictive, parse_marking

CODES = ["GBR", "FRA", "DEU", "UKR", "USA", "POL", "NATO", "EU", "FVEY"]
ODD = ["gbr", " GBR ", "Gbr", "REL", "%", "_K", "G*", "NOBODY", "UK", "GB", "", "nato", "PUBLIC",
       "GBR%", "' OR 1=1 --", "GBR,FRA", "gbr fra"]
markings = st.one_of(
    st.just("PUBLIC"),
    st.lists(st.sampled_from(CODES), min_size=1, max_size=3).map(
        lambda cs: "REL TO " + ", ".join(cs)),
    st.lists(st.sampled_from(CODES + ODD), min_size=1, max_size=2).map(
        lambda cs: "rel to " + " ".join(cs)),
    st.sampled_from(["REL UK FR", "REL TO %", "REL NOBODY", "SECRET", "REL", "rel to gbr",
                     "REL  TO  GBR,,FRA"]),
)
viewers = st.one_of(st.sampled_from(CODES), st.sampled_from(ODD),
                    st.lists(st.sampled_from(CODES), min_size=1, max_size=2).map(",".join))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("rel")


def _csv(path: Path, marks: list[str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        for k, m in enumerate(marks):
            w.writerow([f"r{k}", f"2019-06-01T10:{k % 60:02d}:00Z", 48.30 + (k % 3) * 0.002,
                        38.05, "shelling", m])
    return path


_runs = iter(range(10**6))


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(marks=st.lists(markings, min_size=1, max_size=10), who=viewers)
@example(marks=["rel to gbr", "REL TO FRA"], who="GBR,FRA")  # once listed a FRA-only violation
@example(marks=["REL TO GBR, NATO", "REL TO NATO", "REL TO GBR", "REL TO GBR, NATO"], who="GBR")
@example(marks=["REL TO GBR", "PUBLIC", "REL TO FRA", "REL TO NATO", "REL TO EU",
                "REL TO DEU, POL", "REL TO USA", "REL TO FVEY", "REL TO UKR"], who="GBR,FRA")
def test_every_output_shows_a_viewer_only_what_it_may_see(base: Path, marks: list[str],
                                                          who: str) -> None:
    run = next(_runs)
    db = str(base / f"r{run}.db")
    runner = CliRunner()
    r = runner.invoke(main, ["import", str(_csv(base / f"r{run}.csv", marks)), "--db", db,
                             "--source", "patrol"])
    assert r.exit_code == 0, r.output
    stored = {}
    for k, m in enumerate(marks):
        with contextlib.suppress(MarkingError):  # else refused with its row
            stored[f"r{k}"] = parse_marking(m)
    assert f"imported {len(stored)}," in r.stdout
    assert runner.invoke(main, ["fuse", "--db", db]).exit_code == 0
    r = runner.invoke(main, ["adjudicate", "--terms", "minsk-2015", "--db", db])
    assert r.exit_code == (0 if stored else 1), r.output  # nothing stored: nothing to judge
    try:
        viewer = Viewer.parse(who)
    except MarkingError:
        r = runner.invoke(main, ["observations", "--db", db, "--releasable-to", who])
        assert r.exit_code == 1 and "Error:" in r.stderr and "Traceback" not in r.output
        return
    visible = {ref for ref, m in stored.items() if viewer.may_see(m)}
    rel = ["--db", db, "--releasable-to", who]
    r = runner.invoke(main, ["observations", *rel, "--format", "json"])
    doc = json.loads(r.stdout)
    observations = doc["rows"]
    assert {o["source_ref"] for o in observations} == visible
    assert doc["marking"] == most_restrictive(stored[ref] for ref in visible).text
    r = runner.invoke(main, ["observations", *rel, "--count"])
    assert int(r.stdout) == len(visible)
    out = base / f"e{run}.csv"
    r = runner.invoke(main, ["export", *rel, "--format", "csv", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {row["id"] for row in rows} == visible
    assert all(viewer.may_see(row["releasability"]) for row in rows)
    # The one rule (marking.py): every output is selected by Viewer.may_see, derived records
    # included; every id an observation names is an incident of the viewer's own listing,
    # holding exactly the observations that name it.
    r = runner.invoke(main, ["incidents", *rel, "--format", "json"])
    incidents = json.loads(r.stdout)["rows"]
    assert sum(i["n_observations"] for i in incidents) == len(visible)
    assert all(viewer.may_see(i["releasability"]) for i in incidents)
    named: dict[int, int] = {}
    for o in observations:
        named[o["incident_id"]] = named.get(o["incident_id"], 0) + 1
    assert named == {i["incident_id"]: i["n_observations"] for i in incidents}
    r = runner.invoke(main, ["violations", *rel, "--format", "json", "--min-p", "0"])
    violations = json.loads(r.stdout)["rows"]
    assert all(viewer.may_see(v["releasability"]) for v in violations)
    assert {v["incident_id"] for v in violations} <= set(named)
    r = runner.invoke(main, ["report", *rel, "--terms", "minsk-2015", "--from", "2019-06",
                             "--to", "2019-06"])
    hidden = set(stored) - visible
    for ref in hidden:
        assert f"| {ref} " not in r.stdout and f"`{ref}`" not in r.stdout
    # incident ids in the report (opaque hashes, ten digits or more) are the viewer's own
    assert {int(x) for x in re.findall(r"\b\d{10,17}\b", r.stdout)} <= set(named)


def test_a_viewer_of_several_nations_sees_what_all_of_them_may() -> None:
    """The rule of marking.py, spelled out: GBR and FRA at once see what both may hold."""
    both = Viewer.parse("GBR,FRA")
    assert both.may_see("PUBLIC") and both.may_see("REL TO GBR, FRA")
    assert both.may_see("REL TO NATO") and both.may_see("REL TO GBR, EU")
    assert not both.may_see("REL TO GBR") and not both.may_see("REL TO FRA")
    assert not both.may_see("REL TO FVEY")  # FRA is not in it
    assert Viewer.parse("GBR").may_see("REL TO FVEY")
    assert not Viewer().may_see("REL TO GBR") and Viewer().may_see("PUBLIC")
