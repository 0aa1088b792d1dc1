"""The cross-check script reproduces the published figures and writes its Markdown."""

import runpy
import sys


def test_planning_checks_pass(tmp_path, monkeypatch):
    out = tmp_path / "checks.md"
    monkeypatch.setattr(sys, "argv", ["planning_checks.py", "-o", str(out)])
    ns = runpy.run_path("scripts/planning_checks.py")
    assert ns["main"]() == 0
    text = out.read_text()
    assert "| 64,000 | 256,000 | 256,000 | ok |" in text
    assert "FAIL" not in text
    # the independent figures, each with its source
    assert "## Sky Shield" in text and "The Guardian, 6 Mar 2025" in text
    assert "| Kyiv | 201 |" in text
    assert "## GCSP" in text and "15,000 / 1,100 = 13.6" in text
    assert "## IISS" in text and "71,000" in text
    assert "| IISS 3 (corps, low) | 30,000 | 90,000 | 127% | no: exceeds the army |" in text
