"""Readers stream: reading a ~300 MB GeoJSON file keeps the process's peak memory bounded
(measured as the peak resident size of a fresh process that writes and reads the file: its
VmHWM, where the system has one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, resource, sys
from truceguard.io.geojson import read_geojson
from truceguard.model import Observation

path, n, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w", encoding="utf-8") as fh:  # written a feature at a time
    fh.write('{"type": "FeatureCollection", "features": [\n')
    for i in range(n):
        feature = {"type": "Feature", "id": f"f{i}",
                   "geometry": {"type": "Point", "coordinates": [37.5 + i % 97 / 1000, 48.0]},
                   "properties": {"time": "2024-03-02T06:40:00Z", "text": "x" * width}}
        fh.write((",\n" if i else "") + json.dumps(feature))
    fh.write("\n]}\n")
read = bad = 0
for item in read_geojson(path):
    if isinstance(item, Observation):
        read += 1
    else:
        bad += 1
try:  # this process image's own peak (ru_maxrss also counts the parent it was forked from)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"read": read, "bad": bad, "peak_mb": peak}))
"""


@pytest.mark.slow
def test_reading_a_300_mb_geojson_file_stays_under_200_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.geojson"
    n, width = 10_000, 30_000
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(n), str(width)],
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert path.stat().st_size > 300_000_000
    assert (result["read"], result["bad"]) == (n, 0)
    # the whole document held once as bytes and once as text would be over 600 MB
    assert result["peak_mb"] < 200, result
