"""File uploads (``POST /api/v1/observations/upload``) on a real server: the body streams to a
temporary file under the size bound and is refused (413) as soon as it passes it, so the
server's memory stays far below the body's size; a user has at most a few uploads under way
at once (the next is answered 429 with ``Retry-After``); no temporary file is left behind."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.helpers import wait_for
from tests.server_fixtures import Server, make_users, running
from truceguard.server import api
from truceguard.server.api import MAX_UPLOAD_BYTES

UPLOAD = "/api/v1/observations/upload"
HEADER = b"id,time,lat,lon,category\n"


def rows(prefix: str, n: int) -> bytes:
    return b"".join(f"{prefix}-{i},2019-06-01T10:{i % 60:02d}:00Z,48.3,38.05,shelling\n"
                    .encode() for i in range(n))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server whose temporary folder is its own (to see what it leaves there)."""
    tmp = tmp_path_factory.mktemp("uploads")
    temp = tmp / "server-tmp"
    temp.mkdir()
    db = str(tmp / "mission.db")
    tokens = make_users(db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(temp))  # the child reads it; this process has its own cached
        with running(db, tmp / "server.log") as srv:
            srv.tokens = tokens
            yield srv, temp


def leftovers(temp: Path) -> list[str]:
    return sorted(p.name for p in temp.iterdir())


def open_chunked(srv: Server, user: str) -> socket.socket:
    """A connection that has sent an upload's head (chunked, no length) and nothing else."""
    url = httpx.URL(srv.url)
    s = socket.create_connection((url.host, url.port), timeout=60)
    s.sendall((f"POST {UPLOAD}?format=csv HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
               f"Authorization: Bearer {srv.tokens[user]}\r\n"
               "Transfer-Encoding: chunked\r\n\r\n").encode())
    return s


def send_chunk(s: socket.socket, data: bytes) -> None:
    s.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def read_reply(s: socket.socket) -> bytes:
    reply = b""
    while b"\r\n\r\n" not in reply:  # waits up to the socket's timeout, then fails
        got = s.recv(65536)
        assert got, f"the server closed without an answer: {reply!r}"
        reply += got
    head, _, rest = reply.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        got = s.recv(65536)
        if not got:
            break
        rest += got
    return head + b"\r\n\r\n" + rest


def wait_until_empty(temp: Path, within: float = 10.0) -> list[str]:
    deadline = time.monotonic() + within
    while leftovers(temp) and time.monotonic() < deadline:
        time.sleep(0.05)
    return leftovers(temp)


def test_a_good_upload_imports_and_leaves_no_temporary_file(server: tuple[Server, Path]
                                                             ) -> None:
    srv, temp = server
    with srv.client("deu") as c:
        r = c.post(UPLOAD, content=HEADER + rows("good", 20))
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == 20
        r = c.post(UPLOAD, content=b"  \n\n ")
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.empty"
    assert wait_until_empty(temp) == []


def test_a_declared_length_over_the_bound_is_refused_before_the_body(
        server: tuple[Server, Path]) -> None:
    srv, temp = server
    url = httpx.URL(srv.url)
    with socket.create_connection((url.host, url.port), timeout=30) as s:
        s.sendall((f"POST {UPLOAD} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
                   f"Authorization: Bearer {srv.tokens['deu']}\r\n"
                   f"Content-Length: {MAX_UPLOAD_BYTES + 1}\r\n\r\n").encode())
        reply = read_reply(s)  # not one byte of the body was sent
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b'"input.too_large"' in reply, reply
    assert wait_until_empty(temp) == []


def test_a_stream_past_the_bound_is_refused_while_memory_stays_low(
        server: tuple[Server, Path]) -> None:
    """Sent without a length, a body one chunk past the bound (and never finished) is
    answered 413; the server's resident memory never grows by more than a small fraction of
    the body, and its temporary file is gone."""
    srv, temp = server
    process = psutil.Process(srv.process.pid)
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                peak = max(peak, process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    chunk = HEADER + bytes(b"x" * ((1 << 20) - len(HEADER)))
    filler = b"y" * (1 << 20)
    try:
        with open_chunked(srv, "deu") as s:
            sent = 0
            while sent <= MAX_UPLOAD_BYTES:  # one chunk past the bound, and no final chunk
                send_chunk(s, chunk if sent == 0 else filler)
                sent += 1 << 20
            reply = read_reply(s)
    finally:
        done.set()
        sampler.join(5)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b'"input.too_large"' in reply and b'"error"' in reply, reply
    growth = peak - baseline
    assert growth < 64 << 20, (f"the server's memory grew by {growth / 2**20:.0f} MiB for a "
                               f"{sent / 2**20:.0f} MiB body")
    assert wait_until_empty(temp) == []


def test_a_user_has_at_most_a_few_uploads_under_way(server: tuple[Server, Path]) -> None:
    srv, temp = server
    slow = [open_chunked(srv, "deu") for _ in range(api.MAX_UPLOADS_PER_USER)]
    try:
        for i, s in enumerate(slow):
            send_chunk(s, HEADER + rows(f"slow{i}", 5))
        with srv.client("deu") as c, srv.client("gbr") as other:
            deadline = time.monotonic() + 10
            while True:  # until the slow ones hold their places (an empty body is only 400)
                r = c.post(UPLOAD, content=b"")
                if r.status_code == 429 or time.monotonic() > deadline:
                    break
                assert r.status_code == 400, r.text
                time.sleep(0.05)
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == "upload.too_many"
            assert int(r.headers["Retry-After"]) >= 1
            # Another user is not held back by this one's uploads.
            r = other.post(UPLOAD, content=HEADER + rows("other", 3))
            assert r.status_code == 200 and r.json()["imported"] == 3, r.text
        for i, s in enumerate(slow):
            send_chunk(s, rows(f"slow{i}-more", 5))
            s.sendall(b"0\r\n\r\n")
            reply = read_reply(s)
            assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
            assert b'"imported":10' in reply, reply
    finally:
        for s in slow:
            s.close()
    with srv.client("deu") as c:  # the places were given back
        r = c.post(UPLOAD, content=HEADER + rows("after", 2))
        assert r.status_code == 200 and r.json()["imported"] == 2, r.text
    assert wait_until_empty(temp) == []


def test_uploads_cut_short_give_their_places_back(server: tuple[Server, Path]) -> None:
    srv, temp = server
    for _ in range(2):
        slow = [open_chunked(srv, "deu") for _ in range(api.MAX_UPLOADS_PER_USER + 1)]
        for s in slow:
            send_chunk(s, HEADER + rows("cut", 3))
        with srv.client("deu") as c:  # until the slow ones hold every place
            wait_for(lambda: c.post(UPLOAD, content=b"").status_code == 429,
                     what="the slow uploads to hold their places")
        for s in slow:
            s.close()  # hung up mid-body
    with srv.client("deu") as c:
        r = wait_for(lambda: (lambda r: r if r.status_code != 429 else None)(
            c.post(UPLOAD, content=HEADER + rows("back", 1))), what="a place given back")
        assert r.status_code == 200, r.text
    assert wait_until_empty(temp) == []

