"""Input samples the reader tests share: CoT events as ATAK sends them, good UCDP and ACLED
rows to change one field of, and the check that the two UCDP paths agree."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.conftest import UCDP_CLEAN
from truceguard.errors import RowError
from truceguard.io.columns import ObservationColumns
from truceguard.io.ucdp import read_ucdp, read_ucdp_columns
from truceguard.model import Observation

# -- CoT ---------------------------------------------------------------------------------------
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'

# A phone's own position report (SA), as ATAK-CIV 4.10 sends it every few seconds.
SA = (
    DECL + "\n"
    '<event version="2.0" uid="ANDROID-589520ccfcd20f01" type="a-f-G-U-C" '
    'time="2024-03-02T06:41:12.345Z" start="2024-03-02T06:41:12.345Z" '
    'stale="2024-03-02T06:47:27.345Z" how="m-g"><point lat="48.0452" lon="37.9431" hae="189.3" '
    'ce="4.9" le="9999999.0"/><detail><takv os="34" version="4.10.0.7 (a33b9f6f).1700000000-CIV" '
    'device="SAMSUNG SM-G991B" platform="ATAK-CIV"/><contact endpoint="*:-1:stcp" '
    'callsign="ALPHA-1"/><uid Droid="ALPHA-1"/><precisionlocation altsrc="GPS" '
    'geopointsrc="GPS"/><__group role="Team Lead" name="Cyan"/><status battery="87"/>'
    '<track course="134.5" speed="0.0"/></detail></event>'
)
# A hostile artillery marker the team lead dropped on the map, with remarks.
MARKER = (
    DECL + "\n"
    '<event version="2.0" uid="9f1c1a52-3b6e-4d7e-a3a7-1c2d3e4f5a6b" type="a-h-G-U-C-F" '
    'time="2024-03-02T06:43:05Z" start="2024-03-02T06:43:05Z" stale="2025-03-02T06:43:05Z" '
    'how="h-g-i-g-o">\n'
    '  <point lat="48.0611" lon="37.9902" hae="9999999.0" ce="9999999.0" le="9999999.0"/>\n'
    "  <detail>\n"
    '    <status readiness="true"/><archive/>\n'
    '    <link uid="ANDROID-589520ccfcd20f01" production_time="2024-03-02T06:43:04.981Z" '
    'type="a-f-G-U-C" parent_callsign="ALPHA-1" relation="p-p"/>\n'
    '    <contact callsign="H.1"/>\n'
    "    <remarks>2S1 firing from the tree line, 4 rounds &amp; smoke</remarks>\n"
    '    <usericon iconsetpath="COT_MAPPING_2525B/a-h/a-h-G"/><color argb="-1"/>\n'
    "  </detail>\n"
    "</event>"
)
# A drone track from a fused sensor picture, relayed from a partner's server.
DRONE = (
    '<event version="2.0" uid="RADAR-7.trk-1182" type="a-h-A-M-F-Q" time="2024-03-02T06:45:00Z" '
    'start="2024-03-02T06:45:00Z" stale="2024-03-02T06:46:00Z" how="m-r" access="REL TO UK, FR">'
    '<point lat="48.2" lon="38.1" hae="1200" ce="350" le="80"/><detail>'
    '<track course="270" speed="45"/><remarks>Orlan-10 class</remarks></detail></event>'
)

# -- UCDP GED --------------------------------------------------------------------------------
with open(UCDP_CLEAN, encoding="utf-8", newline="") as _fh:
    UCDP_HEADER = _fh.readline().rstrip("\n")
UCDP_COLS = UCDP_HEADER.split(",")
UCDP_GOOD = next(csv.reader([
    "1,r,2015,True,Clear,1,1,1,c,1,1,d,1,1,Government of Ukraine,1,1,DPR,1,a,Reuters,2015-02-16,"
    "h,o,1,x,Debaltseve,Donetsk,,48.34,38.40,POINT (38.40 48.34),1,Ukraine,369,Europe,1,1,"
    "2015-02-16,2015-02-16,1,0,0,0,1,1,1,369,"
]))


def ucdp_row(**changes: str) -> str:
    """One CSV line (no line end) of a good record with some fields changed (CSV-quoted)."""
    vals = list(UCDP_GOOD)
    for k, v in changes.items():
        vals[UCDP_COLS.index(k)] = v
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(vals)
    return out.getvalue()


def compare_ucdp(path: Path, **options: object) -> tuple[int, int]:
    """Assert both paths agree; returns (records that came in column batches, errors)."""
    slow_obs: list[Observation] = []
    slow_err: list[RowError] = []
    for item in read_ucdp(path, **options):
        (slow_err if isinstance(item, RowError) else slow_obs).append(item)  # type: ignore[arg-type]
    fast_obs: list[Observation] = []
    fast_err: list[RowError] = []
    columnar = 0
    for item in read_ucdp_columns(path, **options):
        if isinstance(item, ObservationColumns):
            columnar += len(item)
            fast_obs += item.observations()
        elif isinstance(item, Observation):
            fast_obs.append(item)
        else:
            fast_err.append(item)
    assert len(fast_obs) == len(slow_obs)
    for a, b in zip(slow_obs, fast_obs, strict=True):
        assert a == b, (a.source_line, a.source_ref)
        assert type(a.t_start) is type(b.t_start) is int
        assert type(a.lat) is type(b.lat) is float
    key = [(e.path, e.line, e.field, e.reason, e.raw) for e in slow_err]
    assert key == [(e.path, e.line, e.field, e.reason, e.raw) for e in fast_err]
    return columnar, len(slow_err)


# -- ACLED -----------------------------------------------------------------------------------
ACLED_COLUMNS = [
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
]

def acled_row(**over: str) -> dict[str, str]:
    base = {
        "event_id_cnty": "UKR100001",
        "event_date": "15 January 2024",
        "year": "2024",
        "time_precision": "1",
        "disorder_type": "Political violence",
        "event_type": "Explosions/Remote violence",
        "sub_event_type": "Shelling/artillery/missile attack",
        "actor1": "Military Forces of Russia (2000-)",
        "assoc_actor_1": "",
        "inter1": "8",
        "actor2": "",
        "assoc_actor_2": "",
        "inter2": "0",
        "interaction": "80",
        "civilian_targeting": "",
        "iso": "804",
        "region": "Europe",
        "country": "Ukraine",
        "admin1": "Donetsk",
        "admin2": "Bakhmutskyi",
        "admin3": "Toretska",
        "location": "Toretsk",
        "latitude": "48.3976",
        "longitude": "37.8470",
        "geo_precision": "1",
        "source": "Ukrinform; Ministry of Defence of Ukraine",
        "source_scale": "National",
        "notes": "On 15 January 2024, Russian forces shelled Toretsk with 122mm artillery. "
        "No casualties reported.",
        "fatalities": "0",
        "tags": "",
        "timestamp": "1705968000",
    }
    base.update(over)
    return base


def write_acled(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    cols = columns or ACLED_COLUMNS
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, cols, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path
