"""``truceguard terms list`` and ``truceguard terms show``, run through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from truceguard.cli import main
from truceguard.judge.terms import load_terms, shipped_terms


def test_terms_list(runner: CliRunner) -> None:
    r = runner.invoke(main, ["terms", "list"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == shipped_terms()
    minsk = next(line for line in lines if line.startswith("minsk-2015"))
    assert "v3" in minsk and "2015-02-15" in minsk and "Package of Measures" in minsk


def test_terms_list_as_json(runner: CliRunner) -> None:
    r = runner.invoke(main, ["terms", "list", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert set(rows) == set(shipped_terms())
    assert rows["minsk-2015"]["version"] == "3"
    assert rows["minsk-2015"]["effective"] == "2015-02-14T22:00:00Z"  # 00:00 Kyiv time
    assert rows["minsk-2015"]["effective_local"] == "2015-02-15T00:00:00+02:00"
    assert rows["kyiv-dmz-2025"]["clauses"] == len(load_terms("kyiv-dmz-2025").all_clauses)


def test_terms_show_prints_each_clause_with_its_text(runner: CliRunner) -> None:
    r = runner.invoke(main, ["terms", "show", "minsk-2015"])
    assert r.exit_code == 0, r.output
    out = r.output
    for clause in load_terms("minsk-2015").all_clauses:
        assert f"  {clause.code}  (" in out
    assert '"An immediate and comprehensive cease-fire in certain areas of the Donetsk' in out
    assert "ban on firing, including sniper fire" in out
    assert "paraphrase (no verbatim text found)" in out  # the 2015 addendum
    assert "binds: government, non_government" in out
    assert "geometry: assumed:" in out and "geometry: stated:" in out
    assert "period: effective 2020-07-26T21:01:00Z, no end" in out


def test_terms_show_as_json(runner: CliRunner) -> None:
    r = runner.invoke(main, ["terms", "show", "geneva-2025", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["name"] == "geneva-2025" and doc["version"] == "2"
    buffer = next(c for c in doc["clauses"] if c["code"] == "withdrawal/buffer")
    assert buffer["verbatim"] is False and "7.5 km" in buffer["text"]
    assert buffer["geometry_certainty"] == "reported"
    assert buffer["mechanism"] == "withdrawal_zone"
    assert buffer["parties"] == ["government", "occupied"]
    assert {"effective", "phase_in_days", "end", "source_url", "article"} <= set(buffer)


def test_an_unknown_name_suggests_the_right_one(runner: CliRunner) -> None:
    r = runner.invoke(main, ["terms", "show", "minks-2015"])
    assert r.exit_code == 1
    assert "no terms named 'minks-2015'" in r.output
    assert "did you mean 'minsk-2015'?" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(main, ["terms", "show", "minks-2015", "--format", "json"])
    assert r.exit_code == 1
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "not_found.terms" and "minsk-2015" in err["hint"]


def test_a_terms_file_by_path(runner: CliRunner, tmp_path) -> None:
    src = Path(load_terms("kyiv-dmz-2025").path).read_text(encoding="utf-8")
    mine = tmp_path / "mine.yaml"
    mine.write_text(src.replace('version: "1"', 'version: "1b"'), encoding="utf-8")
    r = runner.invoke(main, ["terms", "show", str(mine)])
    assert r.exit_code == 0, r.output
    assert "version 1b" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nname: y\n", encoding="utf-8")
    r = runner.invoke(main, ["terms", "show", str(bad)])
    assert r.exit_code == 1 and "duplicate key" in r.output
