"""The CoT reader on streams written the way ATAK writes them, and on hostile input: entity
bombs, external entities, oversize events and truncated streams, each refused while the good
events around them still land."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.io_fixtures import DECL, DRONE, MARKER, SA
from truceguard.errors import FormatError, RowError
from truceguard.io.base import sha256_hex
from truceguard.io.cot import (
    COT_MAX_EVENT_BYTES,
    classify_type,
    parse_cot_event,
    read_cot,
    split_events,
)
from truceguard.model import CATEGORIES, WEAPON_CLASSES, Observation


def stream(*events: str, sep: str = "\n") -> str:
    return sep.join(events) + sep


def write(tmp_path: Path, text: str | bytes, name: str = "feed.cot") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def read(path: Path, **kw: object) -> tuple[list[Observation], list[RowError]]:
    items = list(read_cot(path, **kw))
    return (
        [i for i in items if isinstance(i, Observation)],
        [i for i in items if isinstance(i, RowError)],
    )


def ts(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp())


def test_atak_stream_maps_to_observations(tmp_path: Path) -> None:
    text = stream(SA, MARKER, DRONE)
    path = write(tmp_path, text)
    good, bad = read(path)
    assert bad == []
    sa, marker, drone = good
    lines = text.splitlines()

    assert sa.source_line == 1 and lines[0] == DECL
    assert sa.source == "cot:ALPHA-1" and sa.origin == "ALPHA-1"
    assert sa.source_ref == "ANDROID-589520ccfcd20f01@2024-03-02T06:41:12.345Z"
    assert (sa.category, sa.weapon_class) == ("track", "unknown")
    assert sa.how_known == "sensor"
    assert sa.t_start == sa.t_end == ts(2024, 3, 2, 6, 41, 12)
    assert sa.time_precision_s == 1
    assert (sa.lat, sa.lon, sa.uncertainty_m) == (48.0452, 37.9431, 4.9)
    assert sa.attributes["callsign"] == "ALPHA-1"
    assert sa.attributes["group_name"] == "Cyan" and sa.attributes["group_role"] == "Team Lead"
    assert sa.attributes["hae_m"] == 189.3 and "le_m" not in sa.attributes
    assert sa.attributes["stale"] == "2024-03-02T06:47:27.345Z"
    assert sa.attributes["takv"] == {
        "os": "34",
        "version": "4.10.0.7 (a33b9f6f).1700000000-CIV",
        "device": "SAMSUNG SM-G991B",
        "platform": "ATAK-CIV",
    }
    assert sa.releasability == "PUBLIC"

    assert marker.source_line == 3 and lines[2] == DECL
    assert marker.source == "cot:H.1"
    assert marker.origin == "ALPHA-1"  # the device that dropped the marker
    assert (marker.category, marker.weapon_class) == ("weapon_presence", "artillery_ge100")
    assert marker.how_known == "seen"
    assert marker.uncertainty_m is None  # ce 9999999: unknown
    assert marker.text == "2S1 firing from the tree line, 4 rounds & smoke"
    assert marker.attributes["links"] == [
        {
            "uid": "ANDROID-589520ccfcd20f01",
            "type": "a-f-G-U-C",
            "parent_callsign": "ALPHA-1",
            "relation": "p-p",
        }
    ]

    assert drone.source_line == 14
    assert drone.source == "cot:RADAR-7.trk-1182"
    assert (drone.category, drone.weapon_class) == ("drone", "uav")
    assert drone.how_known == "party_report"  # m-r: relayed from elsewhere
    assert drone.uncertainty_m == 350.0
    assert drone.releasability == "REL TO FRA, GBR"
    assert drone.attributes["track_speed"] == "45"

    for g in good:
        assert g.raw in text and g.raw.rstrip().endswith("</event>")
        assert g.raw_sha256 == sha256_hex(g.raw)
        assert g.source_file == str(path)
    assert marker.raw == MARKER  # the declaration and the event, verbatim
    again, _ = read(path)
    assert [(g.raw, g.raw_sha256, g.source_ref) for g in again] == [
        (g.raw, g.raw_sha256, g.source_ref) for g in good
    ]


def test_back_to_back_events_without_separators(tmp_path: Path) -> None:
    path = write(tmp_path, SA + MARKER + DRONE)
    good, bad = read(path)
    assert bad == [] and len(good) == 3
    assert [g.source_line for g in good] == [1, 2, 12]


@pytest.mark.parametrize("chunk", [1, 3, 7, 8, 9, 64, 1000])
def test_splitting_does_not_depend_on_chunk_boundaries(chunk: int) -> None:
    data = stream(SA, MARKER, "   \r\n", DRONE, sep="\r\n").encode()
    expected = list(split_events(io.BytesIO(data)))
    got = list(split_events(io.BytesIO(data), chunk_bytes=chunk))
    assert got == expected
    assert [p.line for p in got] == [1, 3, 16]
    assert all(p.refused == "" for p in got)


@pytest.mark.parametrize(
    ("cot_type", "expected"),
    [
        ("a-h-G", ("movement", "unknown")),
        ("a-s-G-U-C-I", ("movement", "unknown")),
        ("a-u-S", ("movement", "unknown")),
        ("a-h-A", ("flight", "unknown")),
        ("a-h-A-M-H", ("flight", "helicopter")),
        ("a-h-A-M-F-F", ("flight", "aircraft")),
        ("a-h-A-M-F-Q", ("drone", "uav")),
        ("a-h-A-W-M", ("missile", "unknown")),
        ("a-h-G-U-C-F-R", ("weapon_presence", "mlrs")),
        ("a-h-G-E-V-A-T", ("weapon_presence", "tank")),
        ("a-f-G-U-C", ("track", "unknown")),
        ("a-n-A-C-F", ("track", "unknown")),
        ("a-f-A-M-F-Q", ("track", "unknown")),
        ("b-d-c-n-r", ("detection", "unknown")),
        ("b-l-l-l", ("other", "unknown")),
        ("b-m-p-s-p-i", ("other", "unknown")),
        ("u-d-f", ("other", "unknown")),
        ("A-H-G", ("other", "unknown")),  # matching is case-sensitive
        ("t-x-d-d", ("", "")),
    ],
)
def test_type_table(cot_type: str, expected: tuple[str, str]) -> None:
    got = classify_type(cot_type)
    assert got == expected
    if got[0]:
        assert got[0] in CATEGORIES and got[1] in WEAPON_CLASSES


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE event [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    '<event version="2.0" uid="bomb" type="a-h-G" time="2024-03-02T06:44:00Z" how="h-e">'
    '<point lat="48" lon="38" hae="0" ce="10" le="10"/><detail><remarks>&lol9;</remarks>'
    "</detail></event>"
)
XXE = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE event [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
    '<event version="2.0" uid="xxe" type="a-h-G" time="2024-03-02T06:44:30Z" how="h-e">'
    '<point lat="48" lon="38" hae="0" ce="10" le="10"/><detail><remarks>&xxe;</remarks>'
    "</detail></event>"
)


def test_entity_payloads_are_refused_and_neighbours_land(tmp_path: Path) -> None:
    text = stream(SA, BILLION_LAUGHS, MARKER, XXE, DRONE)
    path = write(tmp_path, text)
    good, bad = read(path)
    assert [g.source_ref.split("@")[0] for g in good] == [
        "ANDROID-589520ccfcd20f01",
        "9f1c1a52-3b6e-4d7e-a3a7-1c2d3e4f5a6b",
        "RADAR-7.trk-1182",
    ]
    assert [(e.line, e.field) for e in bad] == [(3, "event"), (28, "event")]
    for e in bad:
        assert "entity declarations are refused" in e.reason
        assert "lollollol" not in e.raw  # nothing was expanded
    assert text.splitlines()[27].startswith("<?xml")
    assert "/etc/passwd" in bad[1].raw and "root:" not in bad[1].raw  # nothing was read in


def test_parse_cot_event_on_bytes_as_received() -> None:
    obs = parse_cot_event(DRONE.encode(), source_file="udp:10.0.0.5:6969")
    assert obs.source_ref == "RADAR-7.trk-1182@2024-03-02T06:45:00Z"
    assert obs.source_file == "udp:10.0.0.5:6969"
    with pytest.raises(RowError, match="entity declarations are refused"):
        parse_cot_event(XXE.encode())
    with pytest.raises(RowError, match="root element is <message>"):
        parse_cot_event(b"<message><event/></message>")
    with pytest.raises(RowError, match="over the limit"):
        parse_cot_event(b"<event>" + b" " * 100 + b"</event>", max_event_bytes=50)


def test_oversize_event_is_skipped_without_being_held(tmp_path: Path) -> None:
    huge = DRONE.replace("Orlan-10 class", "A" * (8 << 20))  # several MB on one line
    path = write(tmp_path, stream(SA, huge, MARKER))
    tracemalloc.start()
    try:
        good, bad = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [g.source_line for g in good] == [1, 4]
    assert [(e.line, e.field) for e in bad] == [(3, "event")]
    assert "over the limit of 65,536" in bad[0].reason
    assert len(bad[0].raw) <= 256
    assert peak < 1 << 20  # the 8 MB event never sat in memory


def test_event_just_over_the_bound_in_one_chunk(tmp_path: Path) -> None:
    event = DRONE.replace("Orlan-10 class", "B" * 2000)
    path = write(tmp_path, stream(SA, event, MARKER))
    good, bad = read(path, max_record_bytes=2000)
    assert len(good) == 2 and [(e.line, e.field) for e in bad] == [(3, "event")]
    assert COT_MAX_EVENT_BYTES == 64 << 10


def test_incomplete_event_at_the_end(tmp_path: Path) -> None:
    path = write(tmp_path, stream(SA, MARKER) + DRONE[:120])
    good, bad = read(path)
    assert len(good) == 2
    assert (bad[0].line, bad[0].field) == (14, "event")
    assert bad[0].reason.startswith("incomplete event")
    # an oversize tail that never ends is reported the same way
    path = write(tmp_path, stream(SA) + "<event>" + "x" * 100_000, "tail.cot")
    good, bad = read(path)
    assert len(good) == 1 and bad[0].reason.startswith("incomplete event")


def test_bad_events_name_file_line_and_field(tmp_path: Path) -> None:
    events = [
        DRONE,
        DRONE.replace('lat="48.2"', 'lat="91.2"'),
        DRONE.replace('lon="38.1"', 'lon="-190"'),
        DRONE.replace('lat="48.2"', 'lat="north"'),
        DRONE.replace('time="2024-03-02T06:45:00Z"', 'time="2024-02-30T06:45:00Z"'),
        DRONE.replace('time="2024-03-02T06:45:00Z"', 'time="yesterday"'),
        DRONE.replace('stale="2024-03-02T06:46:00Z"', 'stale="soon"'),
        DRONE.replace('uid="RADAR-7.trk-1182"', 'uid=""'),
        DRONE.replace('type="a-h-A-M-F-Q"', 'type="t-x-d-d"'),
        DRONE.replace('ce="350"', 'ce="wide"'),
        DRONE.replace('ce="350"', 'ce="-3"'),
        DRONE.replace('access="REL TO UK, FR"', 'access="SECRET"'),
        DRONE.replace('<point lat="48.2" lon="38.1" hae="1200" ce="350" le="80"/>', ""),
        DRONE.replace("<detail>", "<detail><remarks>unclosed"),
        "garbage " + DRONE,
        DRONE.replace('access="REL TO UK, FR"', 'access="Undefined"'),
    ]
    path = write(tmp_path, stream(*events))
    good, bad = read(path, releasability="REL UK")
    # the text before the event on line 15 is refused alone; the event itself lands
    assert [g.source_line for g in good] == [1, 15, 16]
    assert good[2].releasability == "REL TO GBR"  # "Undefined": the option's marking
    assert [(e.line, e.field) for e in bad] == [
        (2, "point.lat"),
        (3, "point.lon"),
        (4, "point.lat"),
        (5, "time"),
        (6, "time"),
        (7, "stale"),
        (8, "uid"),
        (9, "type"),
        (10, "point.ce"),
        (11, "point.ce"),
        (12, "access"),
        (13, "point"),
        (14, "event"),
        (15, "event"),
    ]
    assert str(bad[0]) == f"{path}:2: point.lat: 91.2 is outside -90..90"
    assert "control message" in bad[7].reason
    assert "not well-formed" in bad[12].reason
    assert bad[13].reason.startswith("not a CoT event") and bad[13].raw == "garbage "
    assert all(e.raw for e in bad)


def test_whole_file_refusals(tmp_path: Path) -> None:
    for text, match in [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"uid,time,lat\n1,2,3\n", "not CoT XML"),
        (b'<?xml version="1.0"?>\n<kml><Document/></kml>\n', "no complete CoT"),
    ]:
        path = write(tmp_path, text, "x.cot")
        with pytest.raises(FormatError, match=match):
            next(read_cot(path))


def test_wrong_encoding(tmp_path: Path) -> None:
    event = DRONE.replace("Orlan-10 class", "Orlan over Mar’inka")
    data = (SA + "\n" + event + "\n").encode("cp1252")
    path = write(tmp_path, data)
    good, bad = read(path, encoding="utf-8")
    assert len(good) == 1 and (bad[0].line, bad[0].field) == (3, "event")
    assert "0x92" in bad[0].reason
    good, bad = read(path)  # auto: the spreadsheet encoding is recognised
    assert bad == [] and good[1].text == "Orlan over Mar’inka"


def test_byte_order_mark_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf\n\n" + SA.encode() + b"\n\n\n" + DRONE.encode())
    good, bad = read(path)
    assert bad == [] and [g.source_line for g in good] == [3, 7]
