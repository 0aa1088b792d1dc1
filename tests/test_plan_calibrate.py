"""The calibration on 2025 raids: window, data, fit and hindcast."""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np

from truceguard.plan import calibrate as cal


def test_fit_rows_are_the_2025_window_only() -> None:
    rows = cal.fit_rows()
    assert len(rows) == 355
    assert rows.start.min() >= np.datetime64("2025-01-01")
    assert rows.end.max() <= np.datetime64("2025-12-31T23:59")
    with open(cal.raids_path(), encoding="utf-8") as fh:
        later = [r for r in csv.DictReader(fh) if r["end"] >= "2026"]
    assert later  # the file holds 2026 rows for the out-of-sample check


def _subset(path: Path, poison: bool) -> None:
    with open(cal.raids_path(), encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        rows = [r for r in reader if r["start"] < "2025-03-01" or r["end"] >= "2026"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            if r["end"] >= "2026":
                if not poison:
                    continue
                # a 2026 row the fit would notice: absurd figures, unparseable areas
                r = {**r, "drones_launched": "9999", "drones_defeated": "0",
                     "ballistic_launched": "5000", "ballistic_destroyed": "5000",
                     "drone_areas": "belarus"}
            w.writerow(r)


def test_the_fit_never_reads_a_2026_row(tmp_path: Path) -> None:
    clean, poisoned = tmp_path / "clean.csv", tmp_path / "poisoned.csv"
    _subset(clean, poison=False)
    _subset(poisoned, poison=True)
    a, b = cal.fit_rows(clean), cal.fit_rows(poisoned)
    assert len(a) == len(b) > 0
    assert np.array_equal(a.drones, b.drones) and np.array_equal(a.ballistic, b.ballistic)
    assert asdict(cal.fit(a)) == asdict(cal.fit(b))
    # and a window that ends later would read them
    later = cal.fit_rows(poisoned, end=datetime(2026, 12, 31))
    assert later.drones.max() == 9999


def test_the_shipped_calibration_names_its_data_and_window() -> None:
    c = cal.load_calibration()
    assert c.data == cal.RAIDS_FILE
    assert c.window == (cal.FIT_START.isoformat(), cal.FIT_END.isoformat())
    assert c.raids == 355 and len(c.draws) >= 20
    assert 0 < c.best.pk_ballistic < 1 and c.best.meet_drone > 0


def test_the_fitted_model_beats_its_starting_point_and_follows_raid_size() -> None:
    rows = cal.fit_rows()
    best = cal.load_calibration().best
    assert cal.log_likelihood(best, rows) > cal.log_likelihood(cal.START, rows)
    e = cal.expected(best, rows)
    small, large = rows.drones <= 100, rows.drones > 400
    pub_small = rows.defeated[small].sum() / rows.drones[small].sum()
    pub_large = rows.defeated[large].sum() / rows.drones[large].sum()
    fit_small = (e["drone_def"][small] * rows.drones[small]).sum() / rows.drones[small].sum()
    fit_large = (e["drone_def"][large] * rows.drones[large]).sum() / rows.drones[large].sum()
    assert pub_large > pub_small and fit_large > fit_small


def test_launch_mix_comes_from_the_window() -> None:
    mix = cal.launch_mix_2025()
    assert abs(sum(mix["drone"].values()) - 1) < 1e-9
    assert "belarus" not in mix["drone"] and "primorsko_akhtarsk" in mix["drone"]
