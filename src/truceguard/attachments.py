"""Evidence attachments: the photos, videos and documents that come with a monitor's report,
content-addressed, with a chain-of-custody trail. The CLI (``truceguard attach``,
``truceguard attachments``) and the HTTP API call these same functions.

- Content-addressed: a file is stored once, under the SHA-256 of its bytes (store migration
  10, ``attachments``), and linked to each observation it is evidence for
  (``observation_attachments``, once per pair, with who linked it and when). The same bytes
  added twice, to one observation or to several, are stored once.
- Bounds: at most ``MAX_ATTACHMENT_BYTES`` (20 MiB) a file. ``read_bounded`` never takes more
  than that plus one byte into memory, whatever the source claims its size is. The type is
  decided by the content (magic bytes, ``sniff``): JPEG, PNG, WebP, PDF or MP4, anything else
  refused; the declared name's extension must agree with it (a ``.jpg`` that is a PDF is
  refused).
- EXIF (JPEG only): the capture time (DateTimeOriginal with OffsetTimeOriginal; a time
  without an offset is taken as UTC and ``captured_offset`` stays None to say so), the GPS
  position and the camera make and model as the device. The EXIF segment is found by walking
  the JPEG's markers within the bytes held (no length in the file is trusted past them) and
  parsed by Pillow; a corrupt EXIF (any error or warning while parsing it, a value out of
  range) gives no metadata, never an error.
- Releasability: an attachment has no marking of its own; it is seen through an observation
  that the viewer may see (the observation's marking, applied in the store's SQL), and a file
  linked to observations of several markings through any one of them. A file the viewer may
  not see answers exactly as a file that does not exist (``NotFoundError``, one message): not
  even its digest is confirmed.
- Custody: every add, view (its bytes read) and export is one entry in the hash-chained audit
  log: ``attachment.add``, ``attachment.view`` and ``attachment.export``, each with the
  digest, the observation and who (the entry's actor); an export also says where to. An add's
  entry is written in the same transaction as the file.
- Who may (the server, ``check_may_handle``): an observer adds and reads the attachments of the
  observations they submitted; an analyst or admin those of any observation they may see. The
  CLI is the database's owner.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from truceguard.errors import ForbiddenError, InputError, NotFoundError, TooLargeError
from truceguard.marking import Viewer
from truceguard.model import ROLES, User, iso, utc_now
from truceguard.store import ObservationStore, Store
from truceguard.store.mission import Attachment

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # 20 MiB: a file larger than this is refused
MAX_NAME_CHARS = 255
_READ_CHUNK = 1 << 20

# media type -> the extensions a declared name may carry (the first is the one exports use)
MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/webp": ("webp",),
    "application/pdf": ("pdf",),
    "video/mp4": ("mp4", "m4v"),
}
_TYPE_NAMES = {"image/jpeg": "a JPEG image", "image/png": "a PNG image",
               "image/webp": "a WebP image", "application/pdf": "a PDF document",
               "video/mp4": "an MP4 video"}
# ISO base media files whose major brand is MP4 video (not HEIC, QuickTime or 3GP)
_MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41",
                         b"mp42", b"avc1", b"M4V ", b"dash", b"mp71"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")
_EXIF_LOCK = threading.Lock()  # warnings are caught process-wide: one parse at a time


@dataclass(frozen=True, slots=True)
class Capture:
    """What a file's EXIF says: when (UTC seconds; the file's offset, None when taken as UTC),
    where, and with what."""

    captured_at: int | None = None
    captured_offset: str | None = None
    lat: float | None = None
    lon: float | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Added:
    """What adding a file did: the attachment as stored, whether its bytes were new to the
    store, and whether it was new to the observation."""

    attachment: Attachment
    new_bytes: bool
    new_link: bool


@dataclass(frozen=True, slots=True)
class Listing:
    """An observation's attachments as a viewer sees them, under the observation's marking
    (the marking they are seen through)."""

    obs_id: int
    marking: str
    items: list[Attachment]


@dataclass(frozen=True, slots=True)
class Exported:
    attachment: Attachment
    path: Path
    written: bool  # False: the folder held that file already (same bytes), left as it was


def extension(media_type: str) -> str:
    """The extension an exported file of ``media_type`` gets (``jpg``)."""
    return MEDIA_TYPES[media_type][0]


def attachment_dict(a: Attachment) -> dict[str, Any]:
    """An attachment's metadata for JSON (the CLI's ``--format json`` and the API alike)."""
    return {"sha256": a.sha256, "size": a.size, "media_type": a.media_type,
            "captured_at": iso(a.captured_at) if a.captured_at is not None else None,
            "captured_offset": a.captured_offset,
            "capture_time_basis": capture_basis(a),
            "lat": a.lat, "lon": a.lon, "device": a.device,
            "added_at": iso(a.added_at), "added_by": a.added_by,
            "obs_id": a.obs_id, "linked_at": iso(a.linked_at), "linked_by": a.linked_by}


def capture_basis(a: Attachment | Capture) -> str | None:
    """How the capture time was read: with the file's own offset, or taken as UTC."""
    if a.captured_at is None:
        return None
    if a.captured_offset is None:
        return "no UTC offset in the file: taken as UTC"
    return f"UTC offset {a.captured_offset} from the file"


# -- reading and checking a file ----------------------------------------------------------------
def too_large(limit: int = MAX_ATTACHMENT_BYTES) -> InputError:
    return TooLargeError(f"the file is over the {limit:,}-byte limit ({limit / 2**20:g} MiB)",
                         hint="attach a smaller file (a shorter clip, a scaled-down photo)")


def read_bounded(fh: BinaryIO, limit: int = MAX_ATTACHMENT_BYTES) -> bytes:
    """All of ``fh``, refused as soon as it passes ``limit`` bytes: never more than ``limit``
    + 1 bytes are read."""
    buf = bytearray()
    while True:
        chunk = fh.read(min(_READ_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    if not buf:
        raise InputError("the file is empty", hint="attach the photo, video or document itself",
                         code="input.empty")
    return bytes(buf)


def sniff(data: bytes) -> str:
    """The media type ``data`` is, by its first bytes; InputError for any other kind."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:5] == b"%PDF-":
        return "application/pdf"
    if data[4:8] == b"ftyp" and data[8:12] in _MP4_BRANDS:
        return "video/mp4"
    raise InputError("the file is not a JPEG, PNG or WebP image, a PDF document or an MP4 video "
                     f"(it starts {data[:12].hex(' ')})",
                     hint="attach photos, videos and documents in one of these formats",
                     code="input.bad_media_type")


def check_name(name: str, media_type: str) -> str:
    """The declared file name without its folders, refused unless its extension names
    ``media_type``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or len(base) > MAX_NAME_CHARS or any(ord(c) < 32 for c in base):
        raise InputError(f"file name {name[:80]!r} is not usable",
                         hint=f"give the file's own name, up to {MAX_NAME_CHARS} characters",
                         code="input.bad_name")
    ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    allowed = MEDIA_TYPES[media_type]
    if ext not in allowed:
        said = f"its name says .{ext}" if ext else "its name has no extension"
        raise InputError(f"{base!r} is {_TYPE_NAMES[media_type]}, but {said}",
                         hint=f"name it .{allowed[0]}: the content decides what a file is",
                         code="input.type_mismatch")
    return base


def check_digest(sha256: str) -> str:
    digest = sha256.strip().lower()
    if not _SHA256.match(digest):
        raise InputError(f"{sha256[:80]!r} is not a SHA-256 digest",
                         hint="64 hexadecimal digits, as `truceguard attachments` lists them",
                         code="input.bad_digest")
    return digest


_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))', re.IGNORECASE)
_FILENAME_STAR = re.compile(r"filename\*=(?:UTF-8|utf-8)''([^;\s]+)")
_FILENAME = re.compile(r'filename=(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))')


def split_multipart(body: bytes, content_type: str) -> tuple[str, bytes]:
    """The declared name and the bytes of the one file in a ``multipart/form-data`` body
    (an upload form's); other fields are ignored. InputError when it holds no file, more than
    one, or ends before its closing boundary."""
    m = _BOUNDARY.search(content_type)
    if not m:
        raise InputError("the multipart body names no boundary",
                         hint="send multipart/form-data as an HTTP client builds it",
                         code="input.bad_multipart")
    delimiter = b"\r\n--" + (m[1] or m[2]).encode("latin-1")
    pieces = (b"\r\n" + body).split(delimiter)
    files: list[tuple[str, bytes]] = []
    closed = False
    for piece in pieces[1:]:  # pieces[0] is the preamble
        if piece.startswith(b"--"):
            closed = True
            break
        headers, sep, content = piece.partition(b"\r\n\r\n")
        if not sep:
            break
        name = _part_filename(headers.decode("utf-8", "replace"))
        if name is not None:
            files.append((name, content))
    if not closed:
        raise InputError("the multipart body ends before its closing boundary",
                         hint="send the whole form", code="input.bad_multipart")
    if len(files) != 1:
        raise InputError(f"the multipart body holds {len(files)} files; send one",
                         hint="one file per request, in a field with a filename",
                         code="input.bad_multipart")
    return files[0]


def _part_filename(headers: str) -> str | None:
    """The file name of a form part (from its Content-Disposition); None for a field."""
    for line in headers.split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() != "content-disposition":
            continue
        star = _FILENAME_STAR.search(value)
        if star:
            from urllib.parse import unquote

            return unquote(star[1])
        plain = _FILENAME.search(value)
        if plain:
            return plain[2] if plain[1] is None else re.sub(r"\\(.)", r"\1", plain[1])
    return None


# -- EXIF ---------------------------------------------------------------------------------------
def exif_segment(data: bytes) -> bytes | None:
    """The EXIF block of a JPEG (its APP1 ``Exif`` segment, without the prefix), found by
    walking the markers within ``data``; None when there is none."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # a fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in (0xDA, 0xD9):  # the image data, or its end: no EXIF after these
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            return None
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            return data[i + 10 : i + 2 + length]
        i += 2 + length
    return None


def exif_metadata(data: bytes) -> Capture:
    """The capture time, position and device a JPEG's EXIF gives (see the module docstring);
    an empty ``Capture`` when it has none, or when it is corrupt."""
    block = exif_segment(data)
    if not block:
        return Capture()
    try:
        from PIL import ExifTags, Image

        with _EXIF_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exif = Image.Exif()
            exif.load(block)
            top = dict(exif)
            sub = dict(exif.get_ifd(ExifTags.IFD.Exif))
            gps = dict(exif.get_ifd(ExifTags.IFD.GPSInfo))
        if caught:  # Pillow warns about what it skipped: the block is corrupt
            return Capture()
        at, offset = _capture_time(sub.get(0x9003), sub.get(0x9011))
        lat, lon = _position(gps)
        return Capture(at, offset, lat, lon, _device(top.get(0x010F), top.get(0x0110)))
    except Exception:  # a corrupt EXIF gives no metadata, never an error
        return Capture()


def _text(value: Any, limit: int = 100) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", " ").strip()
    if not text or len(text) > limit or not text.isprintable():
        return None
    return text


def _capture_time(original: Any, offset: Any) -> tuple[int | None, str | None]:
    text = _text(original)
    if text is None:
        return None, None
    try:
        local = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, None
    off = _text(offset)
    m = _OFFSET.match(off) if off else None
    tz = UTC
    if m and int(m[2]) <= 14 and int(m[3]) < 60:
        sign = -1 if m[1] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(m[2]), minutes=int(m[3])))
    else:
        off = None
    return int(local.replace(tzinfo=tz).timestamp()), off


def _degrees(value: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    hemisphere = _text(ref, 2)
    if hemisphere not in (positive, negative) or not isinstance(value, tuple | list):
        return None
    if len(value) != 3:
        return None
    d, m, s = (float(v) for v in value)
    if not all(math.isfinite(x) and x >= 0 for x in (d, m, s)) or m >= 60 or s >= 60:
        return None
    deg = d + m / 60 + s / 3600
    if deg > limit:
        return None
    return round(-deg if hemisphere == negative else deg, 7)


def _position(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    lat = _degrees(gps.get(2), gps.get(1), "N", "S", 90.0)
    lon = _degrees(gps.get(4), gps.get(3), "E", "W", 180.0)
    return (lat, lon) if lat is not None and lon is not None else (None, None)


def _device(make: Any, model: Any) -> str | None:
    mk, md = _text(make), _text(model)
    if mk and md:
        return md if md.lower().startswith(mk.lower()) else f"{mk} {md}"
    return md or mk


# -- who may ------------------------------------------------------------------------------------
def submitted_by(store: ObservationStore, obs_id: int, user: User) -> bool:
    """Whether ``user`` submitted observation ``obs_id`` to the server: a file or body they
    posted (its reader is scoped to them) or Cursor on Target their connection sent."""
    reader = store.observation_reader(obs_id)
    if reader is None:
        return False
    if reader.endswith(f"@user:{user.user_id}"):
        return True
    obs = store.get_observation(obs_id, user.viewer)
    return (reader == "cot" and obs is not None
            and obs.source.startswith(f"cot/{user.name}:")
            and obs.attributes.get("submitted_by") == user.name)


def check_may_handle(store: ObservationStore, user: User, obs_id: int) -> None:
    """NotFoundError unless ``user`` may see observation ``obs_id``; ForbiddenError when they
    are an observer and did not submit it."""
    if store.get_observation(obs_id, user.viewer) is None:
        raise _no_observation(obs_id)
    if ROLES.index(user.role) >= ROLES.index("analyst"):
        return
    if not submitted_by(store, obs_id, user):
        raise ForbiddenError(f"user {user.name!r} is an observer: observers handle the "
                             f"attachments of their own observations only, and {obs_id} is "
                             "not theirs", hint="an analyst may attach to any observation",
                             code="forbidden.not_own")


def _no_observation(obs_id: int) -> NotFoundError:
    return NotFoundError(f"no observation {obs_id}", code="not_found.observation")


def _no_attachment(sha256: str, obs_id: int | None) -> NotFoundError:
    on = f" on observation {obs_id}" if obs_id is not None else ""
    return NotFoundError(f"no attachment {sha256[:64]}{on} that you may see",
                         hint="`truceguard attachments OBS_ID` lists an observation's files",
                         code="not_found.attachment")


# -- the core functions -------------------------------------------------------------------------
def add_attachment(store: Store, obs_id: int, fh: BinaryIO, name: str, *, who: str,
                   viewer: Viewer | None = None) -> Added:
    """Attach the file read from ``fh`` (declared as ``name``) to observation ``obs_id``, as
    ``who``: checked, stored once under its digest, linked, and logged (``attachment.add``)
    in one transaction. ``viewer`` (default: the owner) must be able to see the observation."""
    who = _who(who)
    if store.get_observation(obs_id, viewer or Viewer.owner()) is None:
        raise _no_observation(obs_id)
    data = read_bounded(fh)
    media_type = sniff(data)
    base = check_name(name, media_type)
    capture = exif_metadata(data) if media_type == "image/jpeg" else Capture()
    now = utc_now()
    att = Attachment(hashlib.sha256(data).hexdigest(), len(data), media_type,
                     capture.captured_at, capture.captured_offset, capture.lat, capture.lon,
                     capture.device, now, who, obs_id, now, who)
    with store.transaction():
        stored, new_bytes, new_link = store.put_attachment(att, data)
        store.audit(who, "attachment.add", {
            "sha256": att.sha256, "obs_id": obs_id, "name": base, "size": att.size,
            "media_type": media_type, "new_bytes": new_bytes, "new_link": new_link})
    return Added(stored, new_bytes, new_link)


def list_attachments(store: ObservationStore, obs_id: int, viewer: Viewer) -> Listing:
    """The attachments of observation ``obs_id``, oldest link first; NotFoundError when
    ``viewer`` may not see it (as when it does not exist)."""
    obs = store.get_observation(obs_id, viewer)
    if obs is None:
        raise _no_observation(obs_id)
    return Listing(obs_id, obs.releasability, store.attachments_of(obs_id, viewer))


def get_attachment(store: Store, sha256: str, viewer: Viewer, *, who: str,
                   obs_id: int | None = None, via: str = "") -> tuple[Attachment, bytes]:
    """The attachment ``sha256`` and its bytes, through observation ``obs_id`` (None: any
    linked observation ``viewer`` may see); the view is logged (``attachment.view``) before
    the bytes are returned. NotFoundError, one message, whether the file does not exist or
    the viewer may not see it."""
    who = _who(who)
    digest = check_digest(sha256)
    found = store.attachment_content(digest, viewer, obs_id)
    if found is None:
        raise _no_attachment(digest, obs_id)
    att, data = found
    detail: dict[str, Any] = {"sha256": digest, "obs_id": att.obs_id}
    if via:
        detail["via"] = via
    store.audit(who, "attachment.view", detail)
    return att, data


def export_attachments(store: Store, obs_id: int, folder: str | os.PathLike[str],
                       viewer: Viewer, *, who: str, protected: Sequence[Path] = ()
                       ) -> list[Exported]:
    """Write each attachment of observation ``obs_id`` that ``viewer`` sees into ``folder``
    as ``SHA256.ext``, each logged (``attachment.export``, with the path). Never overwrites:
    a file already there with the same bytes is left as it is; one with other bytes, or a
    path in ``protected`` (the database), refuses the export before anything is written."""
    who = _who(who)
    out = Path(folder)
    if not out.is_dir():
        raise InputError(f"--export {str(folder)!r} is not a folder",
                         hint="create the folder first", code="output.no_folder")
    plan: list[tuple[Attachment, Path, bool]] = []
    for att in list_attachments(store, obs_id, viewer).items:
        dest = out / f"{att.sha256}.{extension(att.media_type)}"
        _check_target(dest, att, protected)
        plan.append((att, dest, not dest.exists()))
    done: list[Exported] = []
    for att, dest, write in plan:
        if write:
            found = store.attachment_content(att.sha256, viewer, obs_id)
            if found is None:  # pragma: no cover - links are append-only
                raise _no_attachment(att.sha256, obs_id)
            _write_new(dest, found[1])
            try:
                store.audit(who, "attachment.export", {
                    "sha256": att.sha256, "obs_id": obs_id, "to": str(dest.resolve())})
            except BaseException:
                dest.unlink(missing_ok=True)  # no file leaves without its custody entry
                raise
        done.append(Exported(att, dest, write))
    return done


def _who(who: str) -> str:
    if not who or not who.strip():
        raise InputError("say who does this", hint="give --by NAME", code="input.missing")
    return who.strip()


def _check_target(dest: Path, att: Attachment, protected: Sequence[Path]) -> None:
    for p in protected:
        if dest.resolve() == Path(p).resolve():
            raise InputError(f"{str(dest)!r} is the database", hint="export to another folder",
                             code="output.would_overwrite")
    if not dest.exists():
        return
    same = dest.is_file() and dest.stat().st_size == att.size
    if same:
        with open(dest, "rb") as fh:
            same = hashlib.sha256(read_bounded(fh, att.size)).hexdigest() == att.sha256
    if not same:
        raise InputError(f"{str(dest)!r} exists with other content; it is not overwritten",
                         hint="export to an empty folder", code="output.would_overwrite")


def _write_new(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest``, which must not exist: written beside it, then linked into
    place (a hard link never replaces a file), so that ``dest`` is whole or absent."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, dest)
        except (FileExistsError, PermissionError):
            raise
        except OSError:  # a file system without hard links: write it exclusively instead
            with open(dest, "xb") as fh:
                fh.write(data)
    except FileExistsError:
        raise InputError(f"{str(dest)!r} appeared meanwhile; it is not overwritten",
                         hint="export to an empty folder",
                         code="output.would_overwrite") from None
    except PermissionError:
        raise InputError(f"cannot write {str(dest)!r}: permission denied",
                         hint="export somewhere you may write", code="output.denied") from None
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["MAX_ATTACHMENT_BYTES", "MEDIA_TYPES", "Added", "Attachment", "Capture", "Exported",
           "Listing",
           "add_attachment", "attachment_dict", "capture_basis", "check_digest",
           "check_may_handle", "check_name", "exif_metadata", "export_attachments",
           "extension", "get_attachment", "list_attachments", "read_bounded", "sniff",
           "split_multipart", "submitted_by", "too_large"]
