"""The cross-check script reproduces the published figures and writes its Markdown; a rule
is never checked against the figure it was taken from."""

import runpy
import sys

from truceguard.plan import explain


def test_planning_checks_pass(tmp_path, monkeypatch):
    out = tmp_path / "checks.md"
    monkeypatch.setattr(sys, "argv", ["planning_checks.py", "-o", str(out)])
    monkeypatch.setattr(explain, "HINDCAST_DRAWS", 2)  # the documented page uses 10 x 4
    monkeypatch.setattr(explain, "HINDCAST_REPS", 2)
    ns = runpy.run_path("scripts/planning_checks.py")
    assert ns["main"]() == 0
    text = out.read_text()
    assert "FAIL" not in text
    # figures a rule was taken from are derived, not checks
    derived = text.split("## Derived figures (not checks)")[1].split("\n## ")[0]
    assert "64,000 deployed need 256,000" in derived and "| ok |" not in derived
    assert "derived: the requirement was taken from this figure" in text
    assert "| 64,000 | 256,000 | 256,000 | ok |" not in text
    # the independent figures, each with its source
    assert "## Sky Shield" in text and "The Guardian, 6 Mar 2025" in text
    assert "| Kyiv | 201 |" in text
    assert "## GCSP" in text and "15,000 / 1,100 = 13.6" in text
    assert "## IISS" in text and "71,000" in text
    assert "| IISS 3 (corps, low) | 30,000 | 90,000 | 127% | no: exceeds the army |" in text
    # the 2025 hindcast beside the published shares, per quarter and per raid size
    hind = text.split("## Air defence: the 2025 hindcast")[1]
    for q in ("| Q1 |", "| Q4 |", "| 401+ |"):
        assert q in hind
    assert "| 0.944 |" in hind  # Q1 drones, as published
