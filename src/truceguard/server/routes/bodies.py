"""Reading raw request bodies under their bounds: a body is refused as soon as it passes its
bound (never held past it), an upload streams to a temporary file, and a client that hangs up
mid-body is ``ClientDisconnect`` saying how much came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from truceguard.errors import InputError, TooLargeError, TruceguardError

MAX_BODY_BYTES = 16 << 20  # a JSON, GeoJSON, CSV or CoT body
MAX_UPLOAD_BYTES = 512 << 20  # a file upload
MULTIPART_ENVELOPE_BYTES = 64 << 10  # an attachment form's fields and headers, beyond its file
REQUEST_BODY = "request body"


def empty_body() -> InputError:
    return InputError("the request body is empty", hint="send the records in the body",
                      code="input.empty")


def suffix_of(first: bytes) -> str:
    """The temporary file's suffix for a body whose first non-blank byte is ``first``."""
    return {b"{": ".geojson", b"[": ".geojson", b"<": ".xml"}.get(first[:1], ".csv")


def upload_too_large(message: str) -> TooLargeError:
    return TooLargeError(message, hint=f"split the file into parts of at most "
                         f"{MAX_UPLOAD_BYTES >> 20} MiB")


def unpathed(exc: TruceguardError, paths: tuple[str, ...], word: str) -> TruceguardError:
    """``exc`` with the server-side ``paths`` it names replaced by ``word`` (what the user
    sent), in its message, hint and path."""
    for key in ("message", "hint"):
        text = getattr(exc, key, "") or ""
        for p in paths:
            text = text.replace(p, word)
        setattr(exc, key, text)
    exc.args = (exc.message, *exc.args[1:])
    if isinstance(getattr(exc, "path", None), str):
        exc.path = word  # type: ignore[attr-defined]
    return exc


async def body_chunks(request: Request, declared: str | None) -> AsyncIterator[bytes]:
    """The body's chunks as they come; a client that hangs up (or resets the connection)
    before the end is ``ClientDisconnect``, saying how much of the body came."""
    got = 0
    try:
        async for chunk in request.stream():
            got += len(chunk)
            yield chunk
    except (ClientDisconnect, ConnectionResetError) as exc:
        of = f" of {int(declared):,}" if declared and declared.isdigit() else ""
        raise ClientDisconnect(f"the body stopped after {got:,}{of} bytes") from exc


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (never held past it)."""
    declared = request.headers.get("content-length")
    hint = "split it, or use /api/v1/observations/upload"
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"the body is {int(declared):,} bytes, over the {limit:,}-byte "
                            "limit", hint=hint)
    chunks: list[bytes] = []
    size = 0
    async for chunk in body_chunks(request, declared):
        size += len(chunk)
        if size > limit:
            raise TooLargeError(f"the body passed the {limit:,}-byte limit", hint=hint)
        chunks.append(chunk)
    return b"".join(chunks)


async def stream_to_file(request: Request, path: Path, declared: str | None) -> bytes:
    """Write the request body to ``path`` as it comes, refused (``input.too_large``) as soon as
    it passes ``MAX_UPLOAD_BYTES``, the rest never read. Returns its first non-blank byte
    (``b""`` when it is all blank). Writes go to a worker thread a megabyte at a time."""
    first = b""
    size = 0
    pending = bytearray()
    with open(path, "wb") as fh:
        async for chunk in body_chunks(request, declared):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise upload_too_large(f"the body passed the {MAX_UPLOAD_BYTES:,}-byte limit")
            if not first:
                first = chunk.lstrip()[:1]
            pending += chunk
            if len(pending) >= 1 << 20:
                await run_in_threadpool(fh.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(fh.write, bytes(pending))
    return first


async def read_attachment(request: Request) -> tuple[str, bytes]:
    """An attachment upload's declared name and bytes: the raw body named by ``X-Filename``,
    or a multipart/form-data body's one file. Refused as soon as the body passes the file's
    bound (with room for a form's envelope): never held past it."""
    from urllib.parse import unquote

    from truceguard.attachments import MAX_ATTACHMENT_BYTES, split_multipart, too_large

    ctype = request.headers.get("content-type", "")
    form = ctype.lower().startswith("multipart/form-data")
    name = unquote(request.headers.get("x-filename", ""))
    if not form and not name:
        raise InputError("the file has no name", hint="send its name in an X-Filename header, "
                         "or the file as multipart/form-data", code="input.missing")
    limit = MAX_ATTACHMENT_BYTES + (MULTIPART_ENVELOPE_BYTES if form else 0)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in body_chunks(request, declared):
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    return split_multipart(body, ctype) if form else (name, body)


__all__ = ["MAX_BODY_BYTES", "MAX_UPLOAD_BYTES", "REQUEST_BODY", "body_chunks", "empty_body",
           "read_attachment", "read_body", "stream_to_file", "suffix_of", "unpathed",
           "upload_too_large"]
