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
