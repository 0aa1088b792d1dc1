"""The plan, compare and scenarios commands: reports, clean refusals, no blank line first."""

import json
import sys

import pytest
from click.testing import CliRunner

from truceguard.cli import main

HEADLINE = ("line_isr_cover_share", "detection_probability", "breach_contained_72h_share",
            "air_intercept_share", "raid_largest_defeated_share",
            "raid_campaign_last_defeated_share")


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    res = CliRunner().invoke(main, ["plan", "--variant", "us-isr-only", "--variant", "no-us",
                                    "--samples", "300", "--sensitivity-samples", "100",
                                    "--seed", "1", "--sobol-rows", "8",
                                    "--sensitivity-raid-replications", "4", "-o", str(out)])
    return res, out


def test_plan_defaults_to_2026_and_writes_sensitivity_layers_raids(planned):
    res, out = planned
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith("us-isr-only: line watched")
    doc = json.loads((out / "results.json").read_text())
    assert doc["scenario"] == "reassurance-2026"
    assert set(doc["variants"]) == {"us-isr-only", "no-us"}
    for v in doc["variants"].values():
        for k in HEADLINE:
            assert 0 <= v[k] <= 1
        assert set(v["layers"]) >= {"ukraine", "reassurance_force", "land_breach", "air",
                                    "air_defence", "monitoring"}
        assert {"drones", "decoys", "cruise", "ballistic", "defeated_share", "by_class",
                "exchange"} <= set(v["raids"][0])
        for k in HEADLINE[1:]:  # every sampled headline has its 95% interval
            iv = v["intervals"][k]
            assert iv["low"] <= v[k] <= iv["high"], k
        assert v["force_pools"] and v["layers"]["monitoring"]["satellites"]["month"] == 1
        assert v["threat"]["source"] == "history" and v["threat"]["n_events"] > 0
    sens = doc["sensitivity"]
    for k in HEADLINE:
        rows = sens[k]
        assert len(rows) > 30
        assert set(rows[0]) == {"assumption", "low", "high", "metric_low", "metric_high",
                                "beyond_noise"}
    assert set(doc["definitions"]) == set(HEADLINE)
    sobol = doc["sobol"]
    assert sobol["base_rows"] == 8 and set(sobol["metrics"]) == set(HEADLINE)
    assert {"breach", "air_defence"} <= set(sobol["factors"])  # the new blocks are varied
    for m in sobol["metrics"].values():
        assert {"mean", "variance", "seed", "drivers", "indices"} <= set(m)
        for i in m["indices"]:  # each index with its 95% interval
            lo, hi = i["total_interval"]
            assert lo <= hi and len(i["first_interval"]) == 2
    assert [r["switch"] for r in doc["switches"]["rows"]][:2] == ["baseline", "belarus"]
    html = (out / "index.html").read_text()
    for k in HEADLINE:
        assert f"tornado_{k}.png" in html and (out / f"tornado_{k}.png").stat().st_size > 5000
    assert "Moved most by" in html and "Structural choices, side by side" in html
    assert "variance-based sensitivity" in html
    for png in ("map_no-us.png", "raids.png", "breach.png", "isr.png"):
        assert (out / png).stat().st_size > 5000, png
    # stderr is not a terminal here: no progress bar, and nothing else on stderr
    assert not any(c in res.output for c in ("━", "\r", "\x1b[")) and res.stderr == ""


def test_plan_one_variant_is_reproducible(tmp_path):
    args = ["plan", "reassurance-2025", "--variant", "no-us", "--samples", "300", "--seed", "4",
            "--no-sensitivity"]
    r1 = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "a")])
    r2 = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "b")])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output
    assert (tmp_path / "a" / "results.json").read_text() == (
        tmp_path / "b" / "results.json").read_text()


def test_place_orbits_records_the_moves(tmp_path):
    res = CliRunner().invoke(main, ["plan", "--variant", "no-us", "--samples", "200",
                                    "--place-orbits", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert "fra-awacs" in {m["pledge"] for m in doc["orbit_moves"]["no-us"]}


def test_compare_names_the_gaps_with_readable_columns(tmp_path):
    res = CliRunner().invoke(main, ["compare", "reassurance-2025", "--variants",
                                    "us-backstop,iiss-10k", "--samples", "200", "-o",
                                    str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("us-backstop: missing")
    assert "iiss-10k: missing ground_force" in res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["comparison"]["iiss-10k"]["gaps"]["ground_force"] > 0
    html = (tmp_path / "index.html").read_text()
    assert "land breach contained within 72 h" in html and "line_isr_cover_share" not in html


def test_scenarios_list_and_show():
    res = CliRunner().invoke(main, ["scenarios", "list"])
    assert res.exit_code == 0
    assert "reassurance-2026 (default)  2026-01-06" in res.output
    assert "variants: us-isr-only, us-backstop, no-us" in res.output
    res = CliRunner().invoke(main, ["scenarios", "list", "--format", "json"])
    assert {r["name"] for r in json.loads(res.output)} >= {"reassurance-2025", "reassurance-2026"}
    res = CliRunner().invoke(main, ["scenarios", "show", "reassurance-2026"])
    assert res.exit_code == 0 and "gbr-troops: GBR ground_troops x7500" in res.output
    assert "ukraine.share_at_line = 0.3 (0.15 .. 0.5)" in res.output
    assert "breach.decision_delay_h = 24 (4 .. 96)" in res.output
    res = CliRunner().invoke(main, ["scenarios", "show", "reassurance-2027"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "reassurance-2027" in res.output


@pytest.mark.parametrize(("args", "needle"), [
    (["--seed", "-1"], "-1"),
    (["--samples", "2e8"], "2,000,000"),
    (["--samples", "abc"], "abc"),
    (["--workers", "1000"], "1000"),
    (["--variant", "no-usa"], "no-usa"),
])
def test_bad_numbers_and_names_are_refused(tmp_path, args, needle):
    res = CliRunner().invoke(main, ["plan", *args, "-o", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "Traceback" not in res.output and needle in res.output
    assert not (tmp_path / "o").exists()


def test_workers_without_dask_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    from truceguard.errors import MissingExtraError
    from truceguard.plan.sweep import dask_client

    with pytest.raises(MissingExtraError) as err, dask_client(None, 2):
        pass
    assert err.value.hint == "pip install 'truceguard[scale]'"
    assert err.value.feature == "--workers"
    res = CliRunner().invoke(main, ["plan", "--workers", "2", "--samples", "100", "-o",
                                    str(tmp_path / "o")])
    assert res.exit_code == 1 and "dask" in res.output and "Traceback" not in res.output


def test_unreachable_scheduler_is_an_error_after_a_timeout(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    import importlib

    sweep = importlib.import_module("truceguard.plan.sweep")
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT_S", 1.0)
    res = CliRunner().invoke(main, ["compare", "--variants", "no-us", "--samples", "100",
                                    "--dask", "tcp://127.0.0.1:9", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    assert "no Dask scheduler answered" in res.output and "Traceback" not in res.output


def test_bad_scenario_is_one_clean_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nline: {shipped: front_line}\nhostile: {countries: [RUS]}\n"
                   "nations: {ZZZ: nowhere}\n")
    res = CliRunner().invoke(main, ["plan", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "bad.yaml:4: nations.ZZZ" in res.output
    assert not (tmp_path / "o").exists()  # nothing half-run


def test_help_names_the_extra():
    for cmd in ("plan", "compare"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "--samples" in res.output
        assert "truceguard[scale]" in res.output


def test_threat_from_store_weights_the_plan_and_carries_the_violations_marking(tmp_path):
    """Monitoring feeds planning: the threat comes from the store's violations, and the plan
    report is marked as restrictively as the violations it used."""
    from tests.conftest import UCDP_CLEAN

    db = str(tmp_path / "s.db")
    runner = CliRunner()
    for args in (["import", str(UCDP_CLEAN), "--releasability", "REL TO GBR, FRA"], ["fuse"],
                 ["adjudicate", "--terms", "minsk-2015"]):
        assert runner.invoke(main, [*args, "--db", db]).exit_code == 0
    out = tmp_path / "plan"
    r = runner.invoke(main, ["plan", "--threat-from-store", "--terms", "minsk-2015", "--db", db,
                             "--variant", "no-us", "--samples", "500", "-o", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["marking"] == "REL TO FRA, GBR"
    assert doc["threat"]["source"] == "store" and doc["threat"]["n_events"] == 1211
    html = (out / "index.html").read_text()
    assert html.count('<div class="banner">REL TO FRA, GBR</div>') == 2
    # the sensitivity analysis it could not run: said on stderr (not in the results on stdout)
    # and in the report, with the reason
    assert "sensitivity analysis was not run (--threat-from-store)" in r.stderr
    assert "store's violations" in r.stderr and "sensitivity" not in r.stdout
    assert doc["sensitivity"] is None and "store's violations" in doc["sensitivity_skipped"]
    assert "asked for and not run, because it varies the scenario as written" in html
    r = runner.invoke(main, ["plan", "--threat-from-store", "--terms", "minsk-2015", "--db", db,
                             "--variant", "no-us", "--samples", "200", "--no-sensitivity",
                             "-o", str(tmp_path / "p3")])
    assert r.exit_code == 0 and r.stderr == ""  # not asked for: nothing to say
    r = runner.invoke(main, ["plan", "--threat-from-store", "--db", db, "-o", str(out)])
    assert r.exit_code == 1 and "--terms" in r.output
    r = runner.invoke(main, ["plan", "--threat-from-store", "--terms", "minsk-2015", "--db", db,
                             "--releasable-to", "DEU", "-o", str(tmp_path / "p2")])
    assert r.exit_code == 1 and "truceguard adjudicate" in r.output  # DEU sees no violation
