"""``edge-insights watch`` against sitemaps it cannot use, served by a real loopback HTTP server:
lines that are no http(s) URL are quarantined with a reason, and a sitemap that cannot be read or
lists nothing to watch ends the command with an error (exit 2), not a silent empty run."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commons.net import free_port
from data_quality.pii_tagger import INT8_FILE, TOKENIZER_FILE
from data_quality.pii_tagger_training import base_model_path

pytestmark = pytest.mark.slow


class _Quiet(SimpleHTTPRequestHandler):
    """Serves the folder; ``/away/<path>`` redirects to ``<path>`` on ``localhost``, another host name of this
    server. ``hosts`` collects the Host header of every request."""

    hosts: list[str] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        if self.path.startswith("/away/"):
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_port}/{self.path[len('/away/'):]}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site(tmp_path):
    """A folder served on a loopback port: (folder, base URL)."""
    folder = tmp_path / "site"
    folder.mkdir()
    _Quiet.hosts.clear()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _env(tmp_path) -> dict[str, str]:
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(tmp_path / "state")}
    env.pop("EDGE_INSIGHTS_BROKER", None)
    return env


def _watch(tmp_path, sitemap: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_insights", "watch", "--sitemap", sitemap, "--no-decider",
                           "--duration", "3"], capture_output=True, text=True, env=_env(tmp_path), timeout=180)


def _long_watch(tmp_path, folder, base) -> subprocess.Popen:
    """A watcher of one page for up to 120 s, its stderr piped as text."""
    (folder / "page.html").write_text("<html><body><h1>A page</h1></body></html>")
    (folder / "sitemap.txt").write_text("page.html\n")
    return subprocess.Popen([sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{base}/sitemap.txt",
                             "--no-decider", "--duration", "120"], env=_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def test_sitemap_lines_that_are_no_http_url_are_quarantined_and_the_rest_watched(tmp_path, site):
    folder, base = site
    (folder / "page.html").write_text("<html><body><h1>A page</h1></body></html>")
    (folder / "sitemap.txt").write_text("page.html\njavascript:alert(1)\nftp://files.test/a\nhttp://[::1\n"
                                        "http://jane:pw@shop.test/p\n\n")
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["quarantined"]["sitemap_line_not_http"] == 4 and outcome["products"] == 1
    assert outcome["finish_reason"] == "shutdown"
    # This run's own counters beside the store's totals: the one page, fetched and failed (no product in it).
    assert set(outcome["this_run"]["pages"]) == {"failed"} and outcome["this_run"]["pages"]["failed"] >= 1
    assert outcome["this_run"]["insights"] == {}


def test_a_sitemap_line_naming_a_listed_page_again_is_quarantined_not_watched_twice(tmp_path, site):
    """"page.html#reviews" is the page "page.html": watched twice, one product id had two URLs (ambiguous)."""
    folder, base = site
    (folder / "page.html").write_text("<html><body><h1>A page</h1></body></html>")
    (folder / "sitemap.txt").write_text(f"page.html\npage.html#reviews\n{base}/page.html\n")
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["quarantined"]["sitemap_line_duplicate"] == 2 and outcome["products"] == 1


def test_a_listed_url_redirected_to_another_listed_page_is_quarantined_and_the_page_watched_once(tmp_path, site):
    """"book" redirects to "book/" (the server adds a folder's slash), which the sitemap lists too: watched
    under both, the page's product id was at two URLs, and every visit of either was quarantined as ambiguous."""
    folder, base = site
    (folder / "book").mkdir()
    (folder / "book" / "index.html").write_text(
        '<html><body><div class="product_main"><h1>A book</h1><p class="price_color">£10.00</p>'
        '<p class="instock availability">In stock (5 available)</p></div>'
        "<table><tr><th>UPC</th><td>upc-book</td></tr></table></body></html>", "utf-8")
    (folder / "sitemap.txt").write_text("book\nbook/\n")
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    # The persisting redirect is one row (its later visits are counted as still refused), nothing else is
    # quarantined, and the page is observed under "book/" alone.
    assert outcome["quarantined"] == {f"duplicate: redirected to {base}/book/": 1}
    pages = outcome["this_run"]["pages"]
    assert pages.pop("failed") == 1 and pages.pop("still_refused") >= 1
    assert set(pages) <= {"changed", "unchanged"} and pages
    with sqlite3.connect(tmp_path / "state" / "live" / "live.sqlite") as con:
        known = dict(con.execute("SELECT url, product_id FROM products").fetchall())
    assert known == {f"{base}/book": None, f"{base}/book/": "upc-book"}


@pytest.mark.parametrize("listed_elsewhere", [False, True])
def test_a_revisit_redirected_to_a_host_the_sitemap_lists_nothing_on_is_quarantined_before_it_is_contacted(
        tmp_path, site, listed_elsewhere):
    """"away/book.html" redirects to localhost, this server under another name: a third party's page is no record of
    this shop. A sitemap that lists a page on localhost too watches that host, and the redirect is followed."""
    folder, base = site
    port = base.rsplit(":", 1)[1]
    (folder / "book.html").write_text(
        '<html><body><div class="product_main"><h1>A book</h1><p class="price_color">£10.00</p>'
        '<p class="instock availability">In stock (5 available)</p></div>'
        "<table><tr><th>UPC</th><td>upc-book</td></tr></table></body></html>", "utf-8")
    (folder / "other.html").write_text("<html><body><h1>Another page</h1></body></html>")
    (folder / "sitemap.txt").write_text("away/book.html\n" + (f"http://localhost:{port}/other.html\n"
                                                             if listed_elsewhere else ""))
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    with sqlite3.connect(tmp_path / "state" / "live" / "live.sqlite") as con:
        known = dict(con.execute("SELECT url, product_id FROM products").fetchall())
    if listed_elsewhere:
        assert "offsite: redirected to localhost" not in outcome["quarantined"]
        assert known[f"{base}/away/book.html"] == "upc-book"
        return
    # The persisting redirect is one row (its later visits are counted as still refused), nothing else is
    # quarantined, no product is taken from the redirect's target, and the other host name was never asked for
    # anything.
    assert outcome["quarantined"] == {"offsite: redirected to localhost": 1}
    assert outcome["this_run"]["pages"].pop("failed") == 1 and set(outcome["this_run"]["pages"]) == {"still_refused"}
    assert known == {f"{base}/away/book.html": None}
    assert not [host for host in _Quiet.hosts if host.startswith("localhost")], _Quiet.hosts


@pytest.mark.parametrize("sitemap", ["missing.txt", "only_bad.txt", "unreachable", "health.json"])
def test_a_sitemap_that_gives_nothing_to_watch_is_an_error(tmp_path, site, sitemap):
    folder, base = site
    (folder / "only_bad.txt").write_text("javascript:alert(1)\n")
    # A pod's health answer given as the sitemap: its line once became a product URL, revisited for ever.
    (folder / "health.json").write_text('{"status": "ok"}\n')
    url = f"http://127.0.0.1:{free_port()}/sitemap.txt" if sitemap == "unreachable" else f"{base}/{sitemap}"
    done = _watch(tmp_path, url)
    assert done.returncode == 2 and "error: nothing watched: sitemap" in done.stderr, done.stderr


def test_a_second_watcher_on_the_same_state_folder_is_refused_until_the_first_dies(tmp_path, site):
    base = site[1]
    first = _long_watch(tmp_path, *site)
    lock = tmp_path / "state" / "live" / "watcher.lock"
    try:
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read() if first.poll() else ""
            time.sleep(0.2)
        second = _watch(tmp_path, f"{base}/sitemap.txt")
        assert second.returncode == 2
        assert f"another watcher (pid {first.pid}) runs on" in second.stderr
    finally:
        first.kill()  # SIGKILL: the kernel releases the lock with the process
        first.wait(timeout=30)
    third = _watch(tmp_path, f"{base}/sitemap.txt")
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout.splitlines()[-1])["products"] == 1


def test_the_announced_feed_url_accepts_at_once(tmp_path, site):
    watcher = _long_watch(tmp_path, *site)
    try:
        line = ""
        while "insight feed on" not in line:
            line = watcher.stderr.readline()
            assert line, "the watcher ended without announcing its feed"
        stream = line.split()[-1]
        # No retry: a user who copies the URL the moment it is printed must be answered.
        with urllib.request.urlopen(stream.replace("/stream", "?limit=1"), timeout=10) as answer:
            assert answer.status == 200 and json.loads(answer.read()) == {"insights": []}
    finally:
        watcher.kill()
        watcher.wait(timeout=30)


def test_a_lock_that_cannot_be_opened_is_an_error_not_a_traceback(tmp_path, site):
    folder, base = site
    (folder / "sitemap.txt").write_text("page.html\n")
    (tmp_path / "state" / "live" / "watcher.lock").mkdir(parents=True)  # a folder where the lock file goes
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 2
    assert "cannot open the watcher lock" in done.stderr and "Traceback" not in done.stderr


def test_a_damaged_name_tagger_stops_the_watcher_before_it_scrubs_anything(tmp_path, site):
    folder, base = site
    (folder / "sitemap.txt").write_text("page.html\n")
    tagger = tmp_path / "state" / "pii_tagger"
    tagger.mkdir(parents=True)
    (tagger / INT8_FILE).write_bytes(b"not an ONNX model")
    shutil.copyfile(base_model_path() / TOKENIZER_FILE, tagger / TOKENIZER_FILE)
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 2
    assert "cannot be loaded" in done.stderr and "pii_name_tagger" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--sitemap", "notaurl", "--no-decider"], "Invalid value for '--sitemap': not an absolute http(s) URL"),
    (["--sitemap", "http://127.0.0.1:9/s.txt", "--pod", "price_spike=http://"], "price_spike: not an absolute"),
    (["--sitemap", "http://127.0.0.1:9/s.txt", "--pod", "price_spike=http://a.test:1",
      "--pod", "price_spike=http://b.test:2"], "price_spike is given twice"),
])
def test_bad_watch_options_are_refused_before_anything_starts(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "edge_insights", "watch", *args], capture_output=True, text=True,
                          env={**_env(tmp_path), "COLUMNS": "200"}, timeout=120)
    assert done.returncode == 2 and message in " ".join(done.stderr.split()), done.stderr


def test_a_feed_port_another_process_holds_is_refused(tmp_path, site):
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{site[1]}/s.txt",
                               "--no-decider", "--feed-port", str(port)], capture_output=True, text=True,
                              env={**_env(tmp_path), "COLUMNS": "200"}, timeout=120)
    assert done.returncode == 2 and f"127.0.0.1:{port} is taken" in done.stderr, done.stderr


def test_a_feed_port_whose_last_owner_died_with_connections_open_is_free(tmp_path, site):
    """A watcher restarted after SIGKILL takes its feed port back: the dead one's closed
    connections (TIME_WAIT) do not hold it, as they do not for uvicorn's own bind."""
    import socket

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end of the connection waits in TIME_WAIT
    client.close()
    listener.close()
    done = subprocess.run([sys.executable, "-m", "edge_insights", "watch", "--sitemap", f"{site[1]}/missing.txt",
                           "--no-decider", "--feed-port", str(port), "--duration", "3"], capture_output=True,
                          text=True, env={**_env(tmp_path), "COLUMNS": "200"}, timeout=180)
    assert "is taken" not in done.stderr and "error: nothing watched: sitemap" in done.stderr, done.stderr
