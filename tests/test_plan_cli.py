"""The plan and compare commands write their reports; bad scenarios fail cleanly."""

import json

from click.testing import CliRunner

from truceguard.cli import main

KEYS = ("line_isr_cover_share", "line_response_30min_share", "line_response_60min_share",
        "detection_probability", "protected_sites_air_defence_share")


def test_plan_writes_report_with_every_variant(tmp_path):
    out = tmp_path / "plan"
    res = CliRunner().invoke(main, ["plan", "reassurance-2025", "--samples", "400", "--seed", "1",
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["variants"]) == {"us-backstop", "us-isr-only", "no-us", "no-italy",
                                    "iiss-10k", "iiss-25k"}
    for v in doc["variants"].values():
        for k in KEYS:
            assert 0 <= v[k] <= 1
        assert any(r["capability"] == "ground_troops" for r in v["force_generation"])
    html = (out / "index.html").read_text()
    assert "response_cdf.png" in html and (out / "response_cdf.png").stat().st_size > 1000
    assert (out / "map_no-us.png").exists()


def test_plan_one_variant_is_reproducible(tmp_path):
    args = ["plan", "reassurance-2025", "--variant", "no-us", "--samples", "300", "--seed", "4"]
    r1 = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "a")])
    r2 = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "b")])
    assert r1.exit_code == 0 and r2.exit_code == 0
    assert (tmp_path / "a" / "results.json").read_text() == (
        tmp_path / "b" / "results.json").read_text()


def test_compare_names_the_gaps(tmp_path):
    res = CliRunner().invoke(main, ["compare", "reassurance-2025", "--variants",
                                    "us-backstop,iiss-10k", "--samples", "200", "-o",
                                    str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "iiss-10k: missing ground_troops" in res.output
    assert (tmp_path / "gaps.png").exists()
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["comparison"]["iiss-10k"]["gaps"]["ground_troops"] > 0


def test_bad_scenario_is_one_clean_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nline: {shipped: front_line}\nnations: {ZZ: nowhere}\n")
    res = CliRunner().invoke(main, ["plan", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "bad.yaml:3: nations.ZZ" in res.output
    assert not (tmp_path / "o").exists()  # nothing half-run


def test_help():
    for cmd in ("plan", "compare"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "--samples" in res.output
