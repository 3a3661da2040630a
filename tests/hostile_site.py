"""A misbehaving books shop on loopback, for resilience tests of the harvest.

:func:`serve_hostile_site` starts a ``ThreadingHTTPServer`` on 127.0.0.1 at a free port whose
``/index.html`` is a listing page linking to one product link per entry of :data:`CASES`. Real
product pages are read at start from the books mirror in the shared data folder and served as
they are, re-encoded, cut short or after a failure, so a page that survives the abuse must yield
the same record the mirror gives.

Sizes assume the crawl runs with ``DOWNLOAD_MAXSIZE`` = :data:`MAXSIZE` and ``DOWNLOAD_TIMEOUT``
below :data:`SLOW_S` (the tests set both with ``run_crawl --set``).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAXSIZE = 256 * 1024  # bytes; the crawl's DOWNLOAD_MAXSIZE in the tests (mirror pages ~50 KB)
SLOW_S = 3.0  # seconds the first answer of the slow page takes

# product link → what the server does there. Book slugs name the mirror page served.
CASES = {
    "catalogue/good_1/index.html": "the mirror page of a-light-in-the-attic_1000",
    "catalogue/flaky-503_2/index.html": "503 (Retry-After: 1) once, then tipping-the-velvet_999",
    "catalogue/always-500_3/index.html": "500 on every attempt",
    "catalogue/gone_4/index.html": "404",
    "private/secret_5/index.html": "a page robots.txt disallows",
    "loop/a_6/index.html": "302 to loop/b_6, which redirects back here",
    "catalogue/huge_7/index.html": "Content-Length of 2 × MAXSIZE",
    "catalogue/huge-stream_8/index.html": "4 × MAXSIZE streamed without a Content-Length",
    "catalogue/empty_9/index.html": "200 with an empty body",
    "catalogue/latin1_10/index.html":
        "soumission_998 in latin-1 bytes, its <meta> charset removed, no charset in the header",
    "catalogue/mislabelled_11/index.html":
        "the-requiem-red_995 in latin-1 bytes under 'Content-Type: text/html; charset=utf-8'",
    "catalogue/truncated_12/index.html": "a mirror page cut off just after its <h1>",
    "catalogue/malformed_13/index.html": "tag soup without a product",
    "catalogue/slow-once_14/index.html": "sleeps SLOW_S once, then sapiens-…_996",
    "catalogue/cut-body_15/index.html": "announces 50,000 bytes, sends 1,000 and hangs up",
    "catalogue/gzip-bomb_16/index.html": "a gzip body of ~1 KB that inflates to 4 × MAXSIZE",
    "catalogue/json_17/index.html": "the mirror page of a-light-in-the-attic_1000 as application/json",
    "catalogue/bad-rating_18/index.html": "that mirror page with its rating class 'star-rating Six'",
    "catalogue/utf8-as-cp1251_19/index.html":
        "hollow-city-…_813 (a ’ in its title) in UTF-8 bytes under 'charset=windows-1251', its <meta> removed",
}

BOOKS = {
    "good": "a-light-in-the-attic_1000",
    "flaky": "tipping-the-velvet_999",
    "latin1": "soumission_998",
    "mislabelled": "the-requiem-red_995",
    "slow": "sapiens-a-brief-history-of-humankind_996",
    "peculiar": "hollow-city-miss-peregrines-peculiar-children-2_813",
}

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
_META_CHARSET = '<meta http-equiv="content-type" content="text/html; charset=UTF-8" />'


@dataclass
class HostileSite:
    """A running hostile site.

    Attributes:
        base_url: ``http://127.0.0.1:<port>/``.
        pages: key of :data:`BOOKS` → that mirror page's HTML as text (what the served variants
            derive from).
        hits: URL path (no leading slash) → requests received, robots.txt included.
    """

    base_url: str
    pages: dict[str, str]
    hits: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, path: str) -> int:
        """Count one request for ``path``; returns which attempt this is (1 = first)."""
        with self._lock:
            self.hits[path] += 1
            return self.hits[path]


@contextmanager
def serve_hostile_site(data_dir: Path) -> Iterator[HostileSite]:
    """Serve the hostile site for the duration of the ``with`` block.

    Args:
        data_dir: the shared data folder (holds ``books_toscrape/site``).

    Yields:
        The :class:`HostileSite`; ``hits`` fills while it runs.
    """
    catalogue = data_dir / "books_toscrape" / "site" / "catalogue"
    site = HostileSite(base_url="", pages={
        key: (catalogue / slug / "index.html").read_text("utf-8") for key, slug in BOOKS.items()})
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 type("BoundHandler", (_HostileHandler,), {"site": site}))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hostile-site", daemon=True)
    thread.start()
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _HostileHandler(BaseHTTPRequestHandler):
    """Answers per :data:`CASES`; :func:`serve_hostile_site` binds ``site`` in a subclass."""

    site: HostileSite

    def page(self, key: str) -> str:
        return self.site.pages[key]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        attempt = self.site.count(path)
        try:
            self._answer(path, attempt)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up on purpose (size limit, timeout)

    def _answer(self, path: str, attempt: int) -> None:
        if path == "robots.txt":
            self._send(200, ROBOTS, "text/plain")
        elif path == "index.html":
            pods = "".join(f'<article class="product_pod"><h3><a href="{link}">{link}</a></h3>'
                           f"</article>" for link in CASES)
            self._send(200, f"<html><body><ol>{pods}</ol></body></html>".encode(), "text/html")
        elif path == "catalogue/good_1/index.html":
            self._send(200, self.page("good").encode("utf-8"), "text/html")
        elif path == "catalogue/flaky-503_2/index.html":
            if attempt == 1:
                self._send(503, b"busy", "text/plain", {"Retry-After": "1"})
            else:
                self._send(200, self.page("flaky").encode("utf-8"), "text/html")
        elif path == "catalogue/always-500_3/index.html":
            self._send(500, b"<html>boom</html>", "text/html")
        elif path == "private/secret_5/index.html":
            self._send(200, self.page("good").encode("utf-8"), "text/html")
        elif path == "loop/a_6/index.html":
            self._send(302, b"", "text/html", {"Location": "/loop/b_6/index.html"})
        elif path == "loop/b_6/index.html":
            self._send(302, b"", "text/html", {"Location": "/loop/a_6/index.html"})
        elif path == "catalogue/huge_7/index.html":
            self._send(200, b"<html>" + b"x" * (2 * MAXSIZE) + b"</html>", "text/html")
        elif path == "catalogue/huge-stream_8/index.html":
            self._stream(b"<p>" + b"y" * 65536 + b"</p>", 4 * MAXSIZE // 65536)
        elif path == "catalogue/empty_9/index.html":
            self._send(200, b"", "text/html")
        elif path == "catalogue/latin1_10/index.html":
            html = self.page("latin1").replace(_META_CHARSET, "")
            self._send(200, html.encode("latin-1", "xmlcharrefreplace"), "text/html")
        elif path == "catalogue/mislabelled_11/index.html":
            body = self.page("mislabelled").encode("latin-1", "xmlcharrefreplace")
            self._send(200, body, "text/html; charset=utf-8")
        elif path == "catalogue/truncated_12/index.html":
            html = self.page("good")
            self._send(200, html[:html.index("</h1>") + 5].encode("utf-8"), "text/html")
        elif path == "catalogue/malformed_13/index.html":
            self._send(200, b"<html><<body><table><tr><td><div class=\"product_pod\"></td>"
                            b"<p <b>\x00 </i></table></html", "text/html")
        elif path == "catalogue/slow-once_14/index.html":
            if attempt == 1:
                time.sleep(SLOW_S)
            self._send(200, self.page("slow").encode("utf-8"), "text/html")
        elif path == "catalogue/cut-body_15/index.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "50000")
            self.end_headers()
            self.wfile.write(b"<html>" + b"z" * 994)
        elif path == "catalogue/gzip-bomb_16/index.html":
            body = gzip.compress(b"<html>" + b" " * (4 * MAXSIZE) + b"</html>")
            self._send(200, body, "text/html", {"Content-Encoding": "gzip"})
        elif path == "catalogue/json_17/index.html":
            self._send(200, self.page("good").encode("utf-8"), "application/json")
        elif path == "catalogue/bad-rating_18/index.html":
            html = self.page("good").replace("star-rating Three", "star-rating Six", 1)
            self._send(200, html.encode("utf-8"), "text/html")
        elif path == "catalogue/utf8-as-cp1251_19/index.html":
            html = self.page("peculiar").replace(_META_CHARSET, "")
            self._send(200, html.encode("utf-8"), "text/html; charset=windows-1251")
        else:
            self._send(404, b"<html>not found</html>", "text/html")

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, chunk: bytes, times: int) -> None:
        """A 200 whose body ends when the connection closes (HTTP/1.0, no Content-Length)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        for _ in range(times):
            self.wfile.write(chunk)
