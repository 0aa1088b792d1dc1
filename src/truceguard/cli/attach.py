"""Commands for evidence attachments: attach a file to an observation, list an observation's
files, export them (``truceguard.attachments`` does the work; see it for the bounds, the
metadata and the custody trail)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Column, Table

from truceguard.cli.common import db_option, domain_errors, open_existing, resolve_db
from truceguard.errors import InputError

if TYPE_CHECKING:
    from truceguard.attachments import Listing

_ID = click.IntRange(1, 2**63 - 1)


@click.command("attach")
@click.argument("obs_id", type=_ID)
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--by", "who", required=True, help="Who adds it (kept in the custody trail).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@db_option
@domain_errors
def attach_cmd(obs_id: int, file: Path, who: str, fmt: str, db: str | None) -> None:
    """Attach a photo, video or document to observation OBS_ID as evidence.

    JPEG, PNG, WebP, PDF or MP4, up to 20 MiB, told by its content; FILE's extension must
    agree. The file is stored once under its SHA-256 (the same bytes again are not stored
    twice); a JPEG's EXIF gives the capture time, position and camera. The custody trail
    (`truceguard audit list --action attachment.add`) records who added it."""
    from truceguard.attachments import MAX_ATTACHMENT_BYTES, add_attachment, too_large

    if not file.is_file():
        raise InputError(f"{str(file)!r} is not a file" if file.exists()
                         else f"{str(file)!r}: no such file",
                         hint="give the path of the photo, video or document",
                         code="input.not_found")
    if file.stat().st_size > MAX_ATTACHMENT_BYTES:
        raise too_large()  # refused before any of it is read
    with open_existing(db) as store, open(file, "rb") as fh:
        added = add_attachment(store, obs_id, fh, file.name, who=who)
    a = added.attachment
    if fmt == "json":
        from truceguard.attachments import attachment_dict

        click.echo(json.dumps({**attachment_dict(a), "new_bytes": added.new_bytes,
                               "new_link": added.new_link}, ensure_ascii=False))
        return
    held = "stored" if added.new_bytes else "the same bytes were held already, stored once"
    linked = "" if added.new_link else "; already attached to this observation"
    click.echo(f"attached {a.sha256} to observation {obs_id} ({a.media_type}, {a.size:,} "
               f"bytes; {held}{linked})")


@click.command("attachments")
@click.argument("obs_id", type=_ID)
@click.option("--releasable-to", metavar="CODES",
              help="Show only what is releasable to these codes (e.g. 'GBR,FRA'); an "
                   "observation they may not see has no attachments for them.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--export", "export_dir", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Write each file into DIR as SHA256.ext (never overwriting a file).")
@click.option("--by", "who", help="With --export: who exports (kept in the custody trail).")
@db_option
@domain_errors
def attachments_cmd(obs_id: int, releasable_to: str | None, fmt: str,
                    export_dir: Path | None, who: str | None, db: str | None) -> None:
    """List the evidence files attached to observation OBS_ID, or export them.

    Each with its SHA-256, type, size, and from its EXIF the capture time (UTC; said when the
    file gave no offset), position and camera; under the observation's marking. With --export
    DIR --by WHO each file is written as DIR/SHA256.ext, logged in the custody trail."""
    from truceguard.attachments import list_attachments
    from truceguard.query import viewer_from

    viewer = viewer_from(releasable_to)
    if export_dir is not None:
        _export(obs_id, export_dir, who, releasable_to, fmt, db)
        return
    if who is not None:
        raise InputError("--by goes with --export", hint="give --export DIR too, or leave "
                         "--by out", code="input.unknown_option")
    with open_existing(db) as store:
        listing = list_attachments(store, obs_id, viewer)
    if fmt == "json":
        from truceguard.attachments import attachment_dict

        click.echo(json.dumps({"obs_id": obs_id, "marking": listing.marking,
                               "items": [attachment_dict(a) for a in listing.items]},
                              ensure_ascii=False, indent=1))
        return
    _table(listing)


def _table(listing: Listing) -> None:
    from truceguard.model import iso

    if not listing.items:
        click.echo(f"0 attachments on observation {listing.obs_id}. Add one with "
                   f"`truceguard attach {listing.obs_id} FILE --by NAME`.", err=True)
        return
    table = Table(Column("sha256", min_width=64, no_wrap=True), "type", "bytes", "captured",
                  "lat", "lon", "device", "linked", title=f"[{listing.marking}]")
    for a in listing.items:
        when = ""
        if a.captured_at is not None:  # the offset the file gave, or that UTC was assumed
            when = iso(a.captured_at) + (" (UTC assumed)" if a.captured_offset is None
                                         else f" (at {a.captured_offset})")
        table.add_row(a.sha256, a.media_type, f"{a.size:,}", when,
                      "" if a.lat is None else f"{a.lat:.5f}",
                      "" if a.lon is None else f"{a.lon:.5f}", a.device or "",
                      f"{iso(a.linked_at)} by {a.linked_by}")
    Console(width=240).print(table)


def _export(obs_id: int, folder: Path, who: str | None, releasable_to: str | None, fmt: str,
            db: str | None) -> None:
    from truceguard.attachments import export_attachments
    from truceguard.query import viewer_from
    from truceguard.store import is_url

    if not who:
        raise InputError("--export needs --by", hint="say who exports: --by NAME",
                         code="input.missing")
    location = resolve_db(db)
    protected = [] if is_url(location) else [
        Path(location + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    with open_existing(db) as store:
        done = export_attachments(store, obs_id, folder, viewer_from(releasable_to), who=who,
                                  protected=protected)
    if fmt == "json":
        click.echo(json.dumps([{"sha256": e.attachment.sha256, "path": str(e.path),
                                "written": e.written} for e in done], ensure_ascii=False))
        return
    for e in done:
        click.echo(f"{'wrote' if e.written else 'kept (already there)'} {e.path}")
    click.echo(f"exported {sum(e.written for e in done)} of {len(done)} attachment(s) of "
               f"observation {obs_id} to {folder}", err=True)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for cmd in (attach_cmd, attachments_cmd):
        group.add_command(cmd)
