"""``edge-insights watch`` against sitemaps it cannot use, served by a real loopback HTTP server:
lines that are no http(s) URL are quarantined with a reason, and a sitemap that cannot be read or
lists nothing to watch ends the command with an error (exit 2), not a silent empty run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commons.net import free_port

pytestmark = pytest.mark.slow


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site(tmp_path):
    """A folder served on a loopback port: (folder, base URL)."""
    folder = tmp_path / "site"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _watch(tmp_path, sitemap: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(tmp_path / "state")}
    env.pop("EDGE_INSIGHTS_BROKER", None)
    return subprocess.run([sys.executable, "-m", "edge_insights", "watch", "--sitemap", sitemap, "--no-decider",
                           "--duration", "3"], capture_output=True, text=True, env=env, timeout=180)


def test_sitemap_lines_that_are_no_http_url_are_quarantined_and_the_rest_watched(tmp_path, site):
    folder, base = site
    (folder / "page.html").write_text("<html><body><h1>A page</h1></body></html>")
    (folder / "sitemap.txt").write_text("page.html\njavascript:alert(1)\nftp://files.test/a\n\n")
    done = _watch(tmp_path, f"{base}/sitemap.txt")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert outcome["quarantined"]["sitemap_line_not_http"] == 2 and outcome["products"] == 1
    assert outcome["finish_reason"] == "shutdown"


@pytest.mark.parametrize("sitemap", ["missing.txt", "only_bad.txt", "unreachable"])
def test_a_sitemap_that_gives_nothing_to_watch_is_an_error(tmp_path, site, sitemap):
    folder, base = site
    (folder / "only_bad.txt").write_text("javascript:alert(1)\n")
    url = f"http://127.0.0.1:{free_port()}/sitemap.txt" if sitemap == "unreachable" else f"{base}/{sitemap}"
    done = _watch(tmp_path, url)
    assert done.returncode == 2 and "error: nothing watched: sitemap" in done.stderr, done.stderr
