"""/docs (Swagger UI) and /redoc work offline: their pages load only files the server itself
serves (shipped by the fastapi-standalone-docs package), never a CDN, and take no token."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.server_fixtures import Server, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("docs")) as srv:
        yield srv


class _Refs(HTMLParser):
    """Every src and href attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [(tag, v) for k, v in attrs if k in ("src", "href") and v]


def _refs(html: str) -> list[tuple[str, str]]:
    p = _Refs()
    p.feed(html)
    return p.refs


@pytest.mark.parametrize(("page", "script"), [("/docs", "swagger-ui-bundle.js"),
                                              ("/redoc", "redoc.standalone.js")])
def test_the_docs_pages_load_only_same_origin_files(server: Server, page: str,
                                                    script: str) -> None:
    with server.client(None) as anon:  # no token, like /openapi.json
        r = anon.get(page)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        refs = _refs(r.text)
        assert any(url.endswith(script) for _, url in refs), refs
        origin = urlsplit(server.url).netloc
        kinds = {"script": ("text/javascript", "application/javascript"), "link": ("text/css",
                 "image/png")}
        for tag, url in refs:
            full = urljoin(server.url + page, url)
            assert urlsplit(full).netloc == origin, f"{page} loads {url} from another host"
            a = anon.get(full)
            assert a.status_code == 200, (url, a.text[:200])
            assert a.headers["content-type"].startswith(kinds[tag]), (url, a.headers)
        # the inline set-up names no other host either (Swagger UI's openapi url, ReDoc's spec)
        for word in ("http://", "https://"):
            for line in r.text.splitlines():
                if word in line:
                    assert urlsplit(line[line.index(word):].split('"')[0]).netloc == origin, line
        assert "/openapi.json" in r.text
        if page == "/docs":
            assert '"validatorUrl": null' in r.text  # Swagger UI's online validator: off
        assert anon.get("/openapi.json").status_code == 200


def test_the_docs_take_no_unknown_query_parameter(server: Server) -> None:
    with server.client(None) as anon:
        r = anon.get("/docs", params={"bogus": "1"})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "input.unknown_parameter"
        # a cache-busting query on a static file is harmless
        assert anon.get("/api/static/docs/swagger/swagger-ui.css",
                        params={"v": "1"}).status_code == 200


def test_a_missing_static_file_answers_the_error_envelope(server: Server) -> None:
    with server.client(None) as anon:
        r = anon.get("/api/static/docs/swagger/nothing.js")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found.route"
