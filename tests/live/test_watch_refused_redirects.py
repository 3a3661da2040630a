"""``edge-insights watch`` against a real loopback server whose page redirects to another watched page for a while:
a redirect the watcher refuses is quarantined once while it persists, again once it went away and came back, and
every revisit is still counted (the refused ones the row already stands for as ``still_refused``); a watcher
restarted, even after SIGKILL, continues the refusal in force rather than recording it again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from commons.net import free_port

pytestmark = pytest.mark.slow

PAGE = ('<html><body><div class="product_main"><h1>{title}</h1><p class="price_color">£10.00</p>'
        '<p class="instock availability">In stock (5 available)</p></div>'
        "<table><tr><th>UPC</th><td>{upc}</td></tr></table></body></html>")

#: Visits of /flip (1-based) answered with its own page; every other one redirects to /target.html.
OWN_PAGE_VISITS = range(4, 7)


class _Flipping(SimpleHTTPRequestHandler):
    """Serves the folder; ``/flip`` redirects to ``/target.html`` except on its visits in ``own_page_visits``,
    where it serves a page of its own. ``hits`` counts requests by path, ``redirects`` the 302s of ``/flip``."""

    hits: Counter = Counter()
    redirects = 0
    own_page_visits: range = OWN_PAGE_VISITS
    lock = threading.Lock()

    @classmethod
    def start_over(cls, own_page_visits: range) -> None:
        """Count visits from 0 again, ``/flip`` serving its own page on ``own_page_visits``."""
        with cls.lock:
            cls.hits.clear()
            cls.redirects, cls.own_page_visits = 0, own_page_visits

    def do_GET(self) -> None:
        with self.lock:
            _Flipping.hits[self.path] += 1
            visit = self.hits[self.path]
            redirect = self.path == "/flip" and visit not in self.own_page_visits
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


@contextmanager
def _shop(tmp_path: Path) -> Iterator[str]:
    """The flipping shop on a loopback port (its base URL) while the block runs; visits counted from 0."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "target.html").write_text(PAGE.format(title="A book", upc="upc-target"), "utf-8")
    (folder / "sitemap.txt").write_text("flip\ntarget.html\n")
    _Flipping.start_over(OWN_PAGE_VISITS)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(_Flipping, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _watch_command(base: str, *duration: str) -> list[str]:
    return [sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}/sitemap.txt", "--no-decider",
            *duration]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(tmp_path / "state")}
    env.pop("EDGE_INSIGHTS_BROKER", None)
    return env


def _quarantined(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "state" / "live" / "live.sqlite") as con:
        return con.execute("SELECT url, reason FROM quarantine ORDER BY seq").fetchall()


def _recorded_yet(tmp_path: Path) -> bool:
    """Whether the watcher has quarantined a row yet (its store may not exist, or lack its schema, so far)."""
    if not (tmp_path / "state" / "live" / "live.sqlite").exists():
        return False
    try:
        return bool(_quarantined(tmp_path))
    except sqlite3.OperationalError:  # "no such table": the watcher is adding its schema
        return False


def test_a_persisting_refused_redirect_is_quarantined_once_per_episode_and_every_revisit_counted(tmp_path):
    with _shop(tmp_path) as base:
        done = subprocess.run(_watch_command(base, "--duration", "4"), capture_output=True, text=True,
                              env=_env(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr
    assert _Flipping.hits["/flip"] > OWN_PAGE_VISITS.stop, "the run was too short to see the redirect come back"
    outcome = json.loads(done.stdout.splitlines()[-1])
    reason = f"duplicate: redirected to {base}/target.html"
    # Two episodes of the redirect (visits 1-3 and 7 on), two rows; nothing else quarantined.
    assert outcome["quarantined"] == {reason: 2}
    assert _quarantined(tmp_path) == [(f"{base}/flip", reason)] * 2
    pages = outcome["this_run"]["pages"]
    assert pages.pop("failed") == 2
    # Every refused revisit is counted: the two that wrote a row, the rest as still_refused. The last 302 may be
    # answered after the watcher stopped reading.
    refused = 2 + pages.pop("still_refused")
    assert _Flipping.redirects - 1 <= refused <= _Flipping.redirects
    assert set(pages) <= {"changed", "unchanged"} and pages


def test_a_watcher_restarted_after_sigkill_continues_the_refusal_in_force_and_records_its_return(tmp_path):
    with _shop(tmp_path) as base:
        reason = f"duplicate: redirected to {base}/target.html"
        # The first watcher sees nothing but the redirect, and is killed once it refused it twice more.
        _Flipping.start_over(range(0))
        first = subprocess.Popen(_watch_command(base), env=_env(tmp_path), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while not (_recorded_yet(tmp_path) and _Flipping.hits["/flip"] >= 3):
                assert first.poll() is None and time.monotonic() < deadline, first.stderr.read() if first.poll() else ""
                time.sleep(0.1)
        finally:
            first.kill()
            first.wait(timeout=30)
        assert _quarantined(tmp_path) == [(f"{base}/flip", reason)]
        # The next one finds it still redirected (visits 1-3), then gone (4-6), then back (7 on).
        _Flipping.start_over(OWN_PAGE_VISITS)
        done = subprocess.run(_watch_command(base, "--duration", "4"), capture_output=True, text=True,
                              env=_env(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr
    assert _Flipping.hits["/flip"] > OWN_PAGE_VISITS.stop, "the run was too short to see the redirect come back"
    # The refusal the first watcher recorded goes on (no row), and its return is a row of its own.
    assert _quarantined(tmp_path) == [(f"{base}/flip", reason)] * 2
    pages = json.loads(done.stdout.splitlines()[-1])["this_run"]["pages"]
    assert pages["failed"] == 1 and pages["still_refused"] >= OWN_PAGE_VISITS.start - 1
