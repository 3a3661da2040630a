"""``edge-insights watch`` against a real loopback server whose page redirects to another watched page for a while:
a redirect the watcher refuses is quarantined once while it persists, again once it went away and came back, and
every revisit is still counted (the refused ones the row already stands for as ``still_refused``)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commons.net import free_port

pytestmark = pytest.mark.slow

PAGE = ('<html><body><div class="product_main"><h1>{title}</h1><p class="price_color">£10.00</p>'
        '<p class="instock availability">In stock (5 available)</p></div>'
        "<table><tr><th>UPC</th><td>{upc}</td></tr></table></body></html>")

#: Visits of /flip (1-based) answered with its own page; every other one redirects to /target.html.
OWN_PAGE_VISITS = range(4, 7)


class _Flipping(SimpleHTTPRequestHandler):
    """Serves the folder; ``/flip`` redirects to ``/target.html`` except on its visits in :data:`OWN_PAGE_VISITS`,
    where it serves a page of its own. ``hits`` counts requests by path, ``redirects`` the 302s of ``/flip``."""

    hits: Counter = Counter()
    redirects = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            _Flipping.hits[self.path] += 1
            visit = self.hits[self.path]
            redirect = self.path == "/flip" and visit not in OWN_PAGE_VISITS
            _Flipping.redirects += redirect
        if self.path == "/flip":
            body = b"" if redirect else PAGE.format(title="Its own book", upc="upc-flip").encode()
            self.send_response(302 if redirect else 200)
            if redirect:
                self.send_header("Location", "/target.html")
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()

    def log_message(self, *args) -> None:
        pass


def test_a_persisting_refused_redirect_is_quarantined_once_per_episode_and_every_revisit_counted(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "target.html").write_text(PAGE.format(title="A book", upc="upc-target"), "utf-8")
    (folder / "sitemap.txt").write_text("flip\ntarget.html\n")
    _Flipping.hits.clear()
    _Flipping.redirects = 0
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(_Flipping, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(tmp_path / "state")}
    env.pop("EDGE_INSIGHTS_BROKER", None)
    try:
        done = subprocess.run([sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}/sitemap.txt",
                               "--no-decider", "--duration", "4"], capture_output=True, text=True, env=env,
                              timeout=180)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert _Flipping.hits["/flip"] > OWN_PAGE_VISITS.stop, "the run was too short to see the redirect come back"
    outcome = json.loads(done.stdout.splitlines()[-1])
    reason = f"duplicate: redirected to {base}/target.html"
    # Two episodes of the redirect (visits 1-3 and 7 on), two rows; nothing else quarantined.
    assert outcome["quarantined"] == {reason: 2}
    with sqlite3.connect(tmp_path / "state" / "live" / "live.sqlite") as con:
        rows = con.execute("SELECT url, reason FROM quarantine ORDER BY seq").fetchall()
    assert rows == [(f"{base}/flip", reason)] * 2
    pages = outcome["this_run"]["pages"]
    assert pages.pop("failed") == 2
    # Every refused revisit is counted: the two that wrote a row, the rest as still_refused. The last 302 may be
    # answered after the watcher stopped reading.
    refused = 2 + pages.pop("still_refused")
    assert _Flipping.redirects - 1 <= refused <= _Flipping.redirects
    assert set(pages) <= {"changed", "unchanged"} and pages
