"""Evidence attachments: content-addressed files with their EXIF, bounded reads, type by
content, releasability through the observation, and the custody trail in the audit log; on
both store backends, through the CLI, and through the HTTP API of a real server."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image

from tests.conftest import INTEGRITY_ERRORS
from tests.server_fixtures import Server, make_users, running
from truceguard.attachments import (
    MAX_ATTACHMENT_BYTES,
    Capture,
    add_attachment,
    capture_basis,
    exif_metadata,
    exif_segment,
    export_attachments,
    get_attachment,
    list_attachments,
    read_bounded,
    sniff,
    split_multipart,
)
from truceguard.audit import AuditFilter, verify_log
from truceguard.cli import main
from truceguard.errors import InputError, NotFoundError
from truceguard.ingest import import_file
from truceguard.marking import Viewer
from truceguard.model import Observation, sha256_text
from truceguard.store import ObservationFilter, Store, open_store

OWNER = Viewer.owner()
FRA = Viewer.of("FRA")
GBR = Viewer.of("GBR")
TAKEN = "2024:05:01 10:20:30"  # local time at +03:00: 07:20:30 UTC
TAKEN_UTC = int(datetime(2024, 5, 1, 7, 20, 30, tzinfo=UTC).timestamp())
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"


# -- files --------------------------------------------------------------------------------------
def jpeg(*, offset: str | None = "+03:00", gps: bool = True, shade: int = 50) -> bytes:
    """A real JPEG made by Pillow, with EXIF: capture time (and its offset), GPS, camera."""
    img = Image.new("RGB", (48, 32), (200, shade, 50))
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003] = TAKEN  # DateTimeOriginal
    if offset is not None:
        sub[0x9011] = offset  # OffsetTimeOriginal
    if gps:
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        g[1], g[2] = "N", (48.0, 30.0, 15.0)
        g[3], g[4] = "W", (37.0, 45.0, 36.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, fmt)
    return buf.getvalue()


class CountingReader(io.RawIOBase):
    """A file of ``size`` bytes (a JPEG's first bytes, then zeros) that counts what is read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        left = self.size - self.read_bytes
        n = left if n is None or n < 0 else min(n, left)
        start = self.read_bytes
        self.read_bytes += n
        head = b"\xff\xd8\xff\xe0"[start:start + n] if start < 4 else b""
        return head + bytes(n - len(head))


# -- stores -------------------------------------------------------------------------------------
def observe(store: Store, ref: str, marking: str, *, reader: str = "csv") -> int:
    raw = f"{ref},2019-06-01T10:00:00Z,48.3,38.05,shelling,{marking}"
    obs = Observation(source="patrols", how_known="seen", t_start=1559383200,
                      t_end=1559383200, time_precision_s=60, lat=48.3, lon=38.05,
                      uncertainty_m=100.0, category="shelling", source_ref=ref,
                      releasability=marking, raw=raw, raw_sha256=sha256_text(raw))
    with store.transaction():
        store.add_observations([obs], reader=reader)
    return next(o.obs_id for o in store.observations(ObservationFilter(), OWNER)
                if o.source_ref == ref and o.obs_id is not None)


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    cur = store.execute(sql)  # type: ignore[attr-defined]
    return list(cur.fetchall()) if cur.description else []


def custody(store: Store, action: str) -> list[dict[str, object]]:
    return [{"actor": e.actor, **e.detail}
            for e in store.audit_query(AuditFilter(action=action))]


def db_of(store: Store) -> str:
    return str(getattr(store, "url", store.path))


# -- the core, on both backends ----------------------------------------------------------------
def test_a_jpeg_round_trip_keeps_its_bytes_and_reads_its_exif(store: Store) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    data = jpeg()
    added = add_attachment(store, obs, io.BytesIO(data), "DSC_0001.JPG", who="alice")
    a = added.attachment
    assert added.new_bytes and added.new_link
    assert a.sha256 == hashlib.sha256(data).hexdigest() and a.size == len(data)
    assert a.media_type == "image/jpeg"
    assert (a.captured_at, a.captured_offset) == (TAKEN_UTC, "+03:00")
    assert a.lat == pytest.approx(48.5041667) and a.lon == pytest.approx(-37.76)
    assert a.device == "Canon EOS 5D Mark IV"
    assert (a.added_by, a.linked_by, a.obs_id) == ("alice", "alice", obs)
    assert list_attachments(store, obs, GBR).items == [a]
    got, back = get_attachment(store, a.sha256, GBR, who="bob", obs_id=obs)
    assert back == data and got == a


def test_a_capture_time_without_offset_is_taken_as_utc_and_says_so(store: Store) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    a = add_attachment(store, obs, io.BytesIO(jpeg(offset=None, gps=False)), "x.jpeg",
                       who="alice").attachment
    assert a.captured_at == int(datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC).timestamp())
    assert a.captured_offset is None and a.lat is None and a.lon is None
    assert capture_basis(a) == "no UTC offset in the file: taken as UTC"


def test_the_same_bytes_twice_are_stored_once(store: Store) -> None:
    first, second = observe(store, "gbr-1", "REL TO GBR"), observe(store, "pub-1", "PUBLIC")
    data = jpeg()
    one = add_attachment(store, first, io.BytesIO(data), "a.jpg", who="alice")
    again = add_attachment(store, first, io.BytesIO(data), "copy.jpg", who="bob")
    other = add_attachment(store, second, io.BytesIO(data), "b.jpg", who="carol")
    assert (again.new_bytes, again.new_link) == (False, False)
    assert (other.new_bytes, other.new_link) == (False, True)
    assert other.attachment.added_by == "alice"  # the first adder is kept
    assert other.attachment.linked_by == "carol"
    assert rows(store, "SELECT COUNT(*) FROM attachments") == [(1,)]
    assert rows(store, "SELECT COUNT(*) FROM observation_attachments") == [(2,)]
    assert one.attachment.sha256 == other.attachment.sha256


@pytest.mark.parametrize(("data", "name", "media_type"), [
    (PDF, "report.pdf", "application/pdf"),
    (MP4, "clip.MP4", "video/mp4"),
    (image("PNG"), "map.png", "image/png"),
    (image("WEBP"), "shot.webp", "image/webp"),
])
def test_each_allowed_type_is_told_by_its_content(store: Store, data: bytes, name: str,
                                                   media_type: str) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    a = add_attachment(store, obs, io.BytesIO(data), name, who="alice").attachment
    assert a.media_type == media_type and a.captured_at is None and a.device is None


@pytest.mark.parametrize(("data", "name", "code"), [
    (PDF, "photo.jpg", "input.type_mismatch"),  # a .jpg that is a PDF
    (jpeg(), "photo.pdf", "input.type_mismatch"),
    (jpeg(), "photo", "input.type_mismatch"),
    (b"GIF89a\x01\x00\x01\x00", "x.gif", "input.bad_media_type"),
    (b"<html><script>alert(1)</script>", "x.jpg", "input.bad_media_type"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "x.mp4", "input.bad_media_type"),
    (b"", "x.jpg", "input.empty"),
])
def test_other_content_or_a_disagreeing_name_is_refused(store: Store, data: bytes, name: str,
                                                        code: str) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    with pytest.raises(InputError) as err:
        add_attachment(store, obs, io.BytesIO(data), name, who="alice")
    assert err.value.code == code, err.value.message
    assert rows(store, "SELECT COUNT(*) FROM attachments") == [(0,)]
    assert custody(store, "attachment.add") == []


def test_an_oversized_file_is_refused_without_reading_it_all(store: Store) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    source = CountingReader(3 * MAX_ATTACHMENT_BYTES)
    with pytest.raises(InputError) as err:
        add_attachment(store, obs, source, "huge.jpg", who="alice")  # type: ignore[arg-type]
    assert err.value.code == "input.too_large"
    assert source.read_bytes <= MAX_ATTACHMENT_BYTES + 1
    assert rows(store, "SELECT COUNT(*) FROM attachments") == [(0,)]
    exact = CountingReader(MAX_ATTACHMENT_BYTES)  # the bound itself is allowed
    assert len(read_bounded(exact)) == MAX_ATTACHMENT_BYTES  # type: ignore[arg-type]


def test_a_viewer_of_another_nation_gets_nothing_and_404_says_the_same(store: Store) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    a = add_attachment(store, obs, io.BytesIO(jpeg()), "a.jpg", who="alice").attachment
    absent = "0" * 64

    def refusal(sha: str, obs_id: int | None = None) -> tuple[str, str, str]:
        with pytest.raises(NotFoundError) as err:
            get_attachment(store, sha, FRA, who="fra", obs_id=obs_id)
        e = err.value
        return e.code, e.message.replace(sha, "<digest>"), e.hint

    assert refusal(a.sha256) == refusal(absent)
    assert refusal(a.sha256, obs) == refusal(absent, obs)
    with pytest.raises(NotFoundError) as hidden:
        list_attachments(store, obs, FRA)
    with pytest.raises(NotFoundError) as missing:
        list_attachments(store, 10**9, FRA)
    assert hidden.value.message.replace(str(obs), "N") == missing.value.message.replace(
        str(10**9), "N")
    assert store.attachments_of(obs, FRA) == []
    assert custody(store, "attachment.view") == []  # nothing was seen


def test_an_attachment_of_several_markings_is_seen_through_any_visible_one(store: Store
                                                                           ) -> None:
    gbr, fra, pub = (observe(store, r, m) for r, m in (
        ("gbr-1", "REL TO GBR"), ("fra-1", "REL TO FRA"), ("pub-1", "PUBLIC")))
    data = jpeg()
    sha = hashlib.sha256(data).hexdigest()
    for obs in (gbr, fra):
        add_attachment(store, obs, io.BytesIO(data), "a.jpg", who="alice")
    att, _ = get_attachment(store, sha, FRA, who="fra")
    assert att.obs_id == fra  # through the one FRA may see
    with pytest.raises(NotFoundError):
        get_attachment(store, sha, FRA, who="fra", obs_id=gbr)
    with pytest.raises(NotFoundError):  # linked to no observation a PUBLIC viewer sees
        get_attachment(store, sha, Viewer(), who="anyone")
    add_attachment(store, pub, io.BytesIO(data), "a.jpg", who="alice")
    assert get_attachment(store, sha, Viewer(), who="anyone")[0].obs_id == pub


def test_custody_is_in_the_audit_log_and_the_chain_holds(store: Store, tmp_path: Path
                                                          ) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    data = jpeg()
    sha = add_attachment(store, obs, io.BytesIO(data), "a.jpg", who="alice").attachment.sha256
    get_attachment(store, sha, GBR, who="bob", obs_id=obs, via="api")
    out = tmp_path / "evidence"
    out.mkdir()
    (done,) = export_attachments(store, obs, out, GBR, who="carol")
    assert done.path == out / f"{sha}.jpg" and done.path.read_bytes() == data
    add = custody(store, "attachment.add")
    assert [(e["actor"], e["sha256"], e["obs_id"]) for e in add] == [("alice", sha, obs)]
    (view,) = custody(store, "attachment.view")
    assert view == {"actor": "bob", "sha256": sha, "obs_id": obs, "via": "api"}
    (export,) = custody(store, "attachment.export")
    assert export == {"actor": "carol", "sha256": sha, "obs_id": obs,
                      "to": str(done.path.resolve())}
    assert verify_log(store.audit_entries(), store.audit_head()).ok
    r = CliRunner().invoke(main, ["audit", "verify", "--db", db_of(store)])
    assert r.exit_code == 0 and "audit log intact" in r.stdout, r.output


def test_export_never_overwrites(store: Store, tmp_path: Path) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    data = jpeg()
    sha = add_attachment(store, obs, io.BytesIO(data), "a.jpg", who="alice").attachment.sha256
    (tmp_path / f"{sha}.jpg").write_bytes(b"something else")
    with pytest.raises(InputError) as err:
        export_attachments(store, obs, tmp_path, OWNER, who="carol")
    assert err.value.code == "output.would_overwrite"
    assert (tmp_path / f"{sha}.jpg").read_bytes() == b"something else"
    with pytest.raises(InputError):  # the database is never a target
        export_attachments(store, obs, tmp_path, OWNER, who="carol",
                           protected=[tmp_path / f"{sha}.jpg"])
    (tmp_path / f"{sha}.jpg").write_bytes(data)
    (kept,) = export_attachments(store, obs, tmp_path, OWNER, who="carol")
    assert not kept.written  # the same bytes there already: left as they are
    assert custody(store, "attachment.export") == []


def test_attachments_are_append_only(store: Store) -> None:
    obs = observe(store, "gbr-1", "REL TO GBR")
    add_attachment(store, obs, io.BytesIO(jpeg()), "a.jpg", who="alice")
    for sql in ("UPDATE attachments SET content = content", "DELETE FROM attachments",
                "UPDATE observation_attachments SET added_by = 'x'",
                "DELETE FROM observation_attachments"):
        with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
            rows(store, sql)


# -- EXIF that cannot be trusted ----------------------------------------------------------------
def _corrupted(data: bytes, at: int, patch: bytes) -> bytes:
    start = data.index(b"Exif\x00\x00") + 6
    return data[: start + at] + patch + data[start + at + len(patch):]


@pytest.mark.parametrize(("at", "patch"), [
    (0, b"XX"),  # no TIFF byte order
    (8, b"\xff\xff"),  # 65535 entries in the first directory
    (4, b"\xff\xff\xff\x00"),  # the first directory far past the end
])
def test_a_corrupt_exif_gives_no_metadata_not_an_error(store: Store, at: int, patch: bytes
                                                       ) -> None:
    data = _corrupted(jpeg(), at, patch)
    assert exif_metadata(data) == Capture()  # nothing
    obs = observe(store, "gbr-1", "REL TO GBR")
    a = add_attachment(store, obs, io.BytesIO(data), "a.jpg", who="alice").attachment
    assert (a.captured_at, a.lat, a.lon, a.device) == (None, None, None, None)


def test_an_exif_segment_length_past_the_file_reads_only_the_file() -> None:
    data = jpeg()
    at = data.index(b"\xff\xe1")
    longer = data[: at + 2] + b"\xff\xff" + data[at + 4:]  # claims 65535 bytes
    block = exif_segment(longer)
    assert block is not None and len(block) < len(longer)


@settings(max_examples=150)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=12))
def test_any_damage_to_the_exif_never_raises(flips: list[tuple[int, int]]) -> None:
    data = bytearray(_JPEG)
    start = data.index(b"Exif\x00\x00") + 6
    for at, value in flips:
        data[min(start + at, len(data) - 3)] = value
    got = exif_metadata(bytes(data))
    assert got.lat is None or -90 <= got.lat <= 90
    assert got.lon is None or -180 <= got.lon <= 180


_JPEG = jpeg()


def test_a_multipart_form_gives_its_one_file() -> None:
    req = httpx.Request("POST", "http://x/", files={"file": ("DSC 1.jpg", _JPEG, "image/jpeg")},
                        data={"note": "from patrol 3"})
    name, data = split_multipart(req.read(), req.headers["content-type"])
    assert (name, data) == ("DSC 1.jpg", _JPEG)
    with pytest.raises(InputError):  # cut short
        split_multipart(req.read()[:-40], req.headers["content-type"])
    assert sniff(data) == "image/jpeg"


# -- the CLI, on both backends ------------------------------------------------------------------
def test_cli_help() -> None:
    runner = CliRunner()
    for args in (["attach", "--help"], ["attachments", "--help"]):
        r = runner.invoke(main, args)
        assert r.exit_code == 0 and "Usage:" in r.output, r.output
    assert "20 MiB" in runner.invoke(main, ["attach", "--help"]).output
    assert "--export" in runner.invoke(main, ["attachments", "--help"]).output


def test_cli_attach_list_and_export(store: Store, tmp_path: Path) -> None:
    runner, db = CliRunner(), db_of(store)
    obs = observe(store, "gbr-1", "REL TO GBR")
    photo = tmp_path / "DSC_0001.jpg"
    photo.write_bytes(jpeg())
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    r = runner.invoke(main, ["attach", str(obs), str(photo), "--by", "alice", "--db", db])
    assert r.exit_code == 0 and sha in r.stdout, r.output
    r = runner.invoke(main, ["attach", str(obs), str(photo), "--by", "bob", "--db", db])
    assert r.exit_code == 0 and "stored once" in r.stdout, r.output
    r = runner.invoke(main, ["attachments", str(obs), "--db", db, "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["marking"] == "REL TO GBR" and [i["sha256"] for i in doc["items"]] == [sha]
    assert doc["items"][0]["captured_at"] == "2024-05-01T07:20:30Z"
    assert doc["items"][0]["device"] == "Canon EOS 5D Mark IV"
    r = runner.invoke(main, ["attachments", str(obs), "--db", db, "--releasable-to", "GBR"])
    assert r.exit_code == 0 and sha in r.stdout and "REL TO GBR" in r.stdout, r.output
    out = tmp_path / "out"
    out.mkdir()
    r = runner.invoke(main, ["attachments", str(obs), "--export", str(out), "--db", db])
    assert r.exit_code == 1 and "--by" in r.stderr
    r = runner.invoke(main, ["attachments", str(obs), "--export", str(out), "--by", "carol",
                             "--db", db])
    assert r.exit_code == 0, r.output
    assert [p.name for p in out.iterdir()] == [f"{sha}.jpg"]
    assert (out / f"{sha}.jpg").read_bytes() == photo.read_bytes()
    assert [e["actor"] for e in custody(store, "attachment.export")] == ["carol"]


def test_cli_refuses_what_it_must(store: Store, tmp_path: Path) -> None:
    runner, db = CliRunner(), db_of(store)
    obs = observe(store, "gbr-1", "REL TO GBR")
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(PDF)
    r = runner.invoke(main, ["attach", str(obs), str(fake), "--by", "a", "--db", db,
                             "--format", "json"])
    assert r.exit_code == 1 and json.loads(r.stdout)["error"]["code"] == "input.type_mismatch"
    big = tmp_path / "big.jpg"
    with open(big, "wb") as fh:  # sparse: refused by its size before a byte is read
        fh.truncate(MAX_ATTACHMENT_BYTES + 1)
    r = runner.invoke(main, ["attach", str(obs), str(big), "--by", "a", "--db", db,
                             "--format", "json"])
    assert json.loads(r.stdout)["error"]["code"] == "input.too_large"
    assert rows(store, "SELECT COUNT(*) FROM attachments") == [(0,)]


def test_cli_a_viewer_of_another_nation_gets_nothing(store: Store, tmp_path: Path) -> None:
    runner, db = CliRunner(), db_of(store)
    obs = observe(store, "gbr-1", "REL TO GBR")
    add_attachment(store, obs, io.BytesIO(jpeg()), "a.jpg", who="alice")
    absent = 10**9

    def envelope(obs_id: int, *extra: str) -> dict[str, str]:
        r = runner.invoke(main, ["attachments", str(obs_id), "--releasable-to", "FRA",
                                 "--format", "json", "--db", db, *extra])
        assert r.exit_code == 1
        err = json.loads(r.stdout)["error"]
        return {**err, "message": err["message"].replace(str(obs_id), "N")}

    assert envelope(obs) == envelope(absent)
    out = tmp_path / "out"
    out.mkdir()
    assert envelope(obs, "--export", str(out), "--by", "fra") == envelope(absent)
    assert list(out.iterdir()) == []


# -- the HTTP API on a real server --------------------------------------------------------------
PATROLS = [("gbr-1", "REL TO GBR"), ("fra-1", "REL TO FRA"), ("pub-1", "PUBLIC")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("attachments")
    db = str(tmp / "mission.db")
    path = tmp / "patrols.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "time", "lat", "lon", "category", "releasability"])
        for i, (ref, marking) in enumerate(PATROLS):
            w.writerow([ref, f"2019-06-01T10:0{i}:00Z", 48.3 + i / 1000, 38.05, "shelling",
                        marking])
    with open_store(db) as store:
        import_file(store, path, source="patrols")
    tokens = make_users(db)
    with running(db, tmp / "server.log") as srv:
        srv.tokens = tokens
        yield srv


def obs_numbers(srv: Server) -> dict[str, int]:
    """The store's number of each observation, by its source reference."""
    with open_store(srv.db) as store:
        return {o.source_ref: int(o.obs_id or 0)
                for o in store.observations(ObservationFilter(), OWNER)}


def obs_ids(srv: Server) -> dict[str, str]:
    """Each observation's id as the API shows it, by its source reference."""
    return {ref: srv.api_id("observation", n) for ref, n in obs_numbers(srv).items()}


def post_raw(c: httpx.Client, obs: str, data: bytes, name: str) -> httpx.Response:
    return c.post(f"/api/v1/observations/{obs}/attachments", content=data,
                  headers={"X-Filename": name})


def test_api_attach_list_and_read(server: Server) -> None:
    ids = obs_ids(server)
    data = jpeg(shade=70)
    sha = hashlib.sha256(data).hexdigest()
    with server.client("gbr") as c:
        r = post_raw(c, ids["gbr-1"], data, "DSC_0002.jpg")
        assert r.status_code == 201, r.text
        assert r.json()["item"]["captured_offset"] == "+03:00" and r.json()["new_bytes"]
        assert post_raw(c, ids["gbr-1"], data, "again.jpg").status_code == 200
        form = {"file": ("DSC_0003.jpg", data, "image/jpeg")}
        r = c.post(f"/api/v1/observations/{ids['pub-1']}/attachments", files=form)
        assert r.status_code == 201 and r.json()["new_bytes"] is False, r.text
        doc = c.get(f"/api/v1/observations/{ids['gbr-1']}/attachments").json()
        assert doc["marking"] == "REL TO GBR" and doc["items"][0]["sha256"] == sha
        assert doc["obs_id"] == doc["items"][0]["obs_id"] == ids["gbr-1"]
        assert doc["items"][0]["device"] == "Canon EOS 5D Mark IV"
        r = c.get(f"/api/v1/attachments/{sha}", params={"obs_id": ids["gbr-1"]})
        assert r.status_code == 200 and r.content == data, r.text
        assert r.headers["content-type"] == "image/jpeg"
        assert f"{sha}.jpg" in r.headers["content-disposition"]
        assert r.headers["x-observation"] == ids["gbr-1"]
    with open_store(server.db) as store:
        views = [e for e in store.audit_query(AuditFilter(action="attachment.view"))
                 if e.detail["sha256"] == sha]
        assert [(e.actor, e.detail["obs_id"], e.detail["via"]) for e in views] == [
            ("gbr", obs_numbers(server)["gbr-1"], "api")]
        assert verify_log(store.audit_entries(), store.audit_head()).ok
    with server.client("admin") as c:
        assert c.get("/api/v1/audit/verify").json()["ok"] is True


def test_api_a_viewer_of_another_nation_gets_nothing(server: Server) -> None:
    ids = obs_ids(server)
    data = jpeg(shade=90)
    sha = hashlib.sha256(data).hexdigest()
    with server.client("gbr") as c:
        assert post_raw(c, ids["gbr-1"], data, "a.jpg").status_code == 201
    absent_sha, absent_obs = "f" * 64, server.api_id("observation", 10**9)

    def refusal(c: httpx.Client, path: str, secret: str, **params: object) -> dict[str, str]:
        r = c.get(path, params=params)
        assert r.status_code == 404, r.text
        err = r.json()["error"]
        return {**err, "message": err["message"].replace(secret, "X")}

    with server.client("fra") as c:
        assert refusal(c, f"/api/v1/attachments/{sha}", sha) == refusal(
            c, f"/api/v1/attachments/{absent_sha}", absent_sha)
        assert refusal(c, f"/api/v1/attachments/{sha}", sha, obs_id=ids["gbr-1"]) == refusal(
            c, f"/api/v1/attachments/{absent_sha}", absent_sha, obs_id=ids["gbr-1"])
        gbr, none = str(ids["gbr-1"]), str(absent_obs)
        assert refusal(c, f"/api/v1/observations/{gbr}/attachments", gbr) == refusal(
            c, f"/api/v1/observations/{none}/attachments", none)
        r = post_raw(c, ids["gbr-1"], jpeg(shade=91), "b.jpg")
        assert r.status_code == 404
    with open_store(server.db) as store:
        assert not [e for e in store.audit_query(AuditFilter(action="attachment.view"))
                    if e.actor == "fra"]


def test_api_observers_attach_to_their_own_observations_only(server: Server) -> None:
    feature = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [37.6, 47.9]},
        "properties": {"time": "2020-03-01T08:00:00Z", "category": "shelling",
                       "id": "ukr-att-1"}}]}
    with server.client("ukr") as c:
        assert c.post("/api/v1/observations", content=json.dumps(feature)).json()["imported"]
        mine = c.get("/api/v1/observations", params={"source": "api:ukr"}).json()["items"]
        own = mine[0]["obs_id"]
        data = jpeg(shade=120)
        r = post_raw(c, own, data, "mine.jpg")
        assert r.status_code == 201, r.text
        sha = r.json()["item"]["sha256"]
        assert c.get(f"/api/v1/attachments/{sha}", params={"obs_id": own}).content == data
        assert c.get(f"/api/v1/attachments/{sha}").status_code == 403  # name the observation
        r = post_raw(c, obs_ids(server)["pub-1"], jpeg(shade=121), "not-mine.jpg")
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden.not_own"
    with server.client("deu") as c:  # may see ukr's PUBLIC report, but it is not theirs
        assert post_raw(c, own, jpeg(shade=122), "x.jpg").status_code == 403


def test_api_refuses_bad_uploads(server: Server) -> None:
    obs = obs_ids(server)["gbr-1"]
    with server.client("gbr") as c:
        r = post_raw(c, obs, PDF, "photo.jpg")
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.type_mismatch"
        r = c.post(f"/api/v1/observations/{obs}/attachments", content=jpeg())
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.missing"
        r = post_raw(c, obs, bytes(MAX_ATTACHMENT_BYTES + 1), "big.jpg")
        assert r.status_code == 413 and r.json()["error"]["code"] == "input.too_large"


def test_api_refuses_an_oversized_stream_as_soon_as_it_passes_the_bound(server: Server
                                                                          ) -> None:
    """Sent without a length (chunked), a body just past the bound and then left unfinished
    is answered 413: the server refused it while it streamed, not after reading it all (it
    would wait for the rest for ever)."""
    obs = obs_ids(server)["gbr-1"]
    url = httpx.URL(server.url)
    chunk = 1 << 20
    head = (f"POST /api/v1/observations/{obs}/attachments HTTP/1.1\r\n"
            f"Host: {url.host}:{url.port}\r\nAuthorization: Bearer {server.tokens['gbr']}\r\n"
            "X-Filename: endless.jpg\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection((url.host, url.port), timeout=60) as s:
        s.sendall(head)
        sent = 0
        while sent <= MAX_ATTACHMENT_BYTES:  # one chunk past the bound, and no final chunk
            data = (b"\xff\xd8\xff\xe0" if sent == 0 else b"\x00" * 4) + bytes(chunk - 4)
            s.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            sent += len(data)
        reply = b""
        while b"\r\n\r\n" not in reply:  # waits up to the socket's timeout, then fails
            got = s.recv(65536)
            assert got, f"the server closed without an answer: {reply!r}"
            reply += got
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    with open_store(server.db) as store:
        assert all(e.detail["name"] != "endless.jpg"
                   for e in store.audit_query(AuditFilter(action="attachment.add")))


def test_api_errors_are_envelopes(server: Server) -> None:
    with server.client("gbr") as c:
        r = c.get("/api/v1/attachments/NOT-A-DIGEST")
        assert r.status_code == 400 and "error" in r.json()
    with server.client(None) as c:
        assert c.get(f"/api/v1/attachments/{'0' * 64}").status_code == 401
