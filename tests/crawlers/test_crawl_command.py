"""``edge-insights crawl`` against a small loopback shop: what each kind of product link ends as
(one request per page, one outcome per link), and the command's errors and exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawlers.static_site import KeepAliveHandler, serve_in_thread
from data_quality.rules import split_valid

pytestmark = pytest.mark.slow  # crawls in a subprocess

REPO = Path(__file__).resolve().parents[2]


def product(name: str) -> bytes:
    """A product page the books spider reads: title ``Book <name>``, UPC ``upc-<name>``."""
    return (f'<html><body><div class="product_main"><h1>Book {name}</h1><p class="price_color">£10.00</p>'
            f'<p class="instock availability">In stock (5 available)</p></div><table>'
            f"<tr><th>UPC</th><td>upc-{name}</td></tr></table></body></html>").encode()


def listing(*hrefs: str) -> bytes:
    tiles = "".join(f'<article class="product_pod"><h3><a href="{href}">t</a></h3></article>' for href in hrefs)
    return f"<html><body>{tiles}</body></html>".encode()


class Shop(KeepAliveHandler):
    """Listing pages by name (``LISTINGS``), products at ``/p/<name>`` (``/p/busy…`` answers 503 once), redirects at
    ``/r/<name>`` (to ``/p/<name>``) and ``/away/<name>`` (to ``localhost``, another host name of
    this server); the paths requested are counted in ``hits``."""

    LISTINGS: dict[str, bytes] = {}
    hits: Counter[str] = Counter()

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        port = self.server.server_address[1]
        kind, _, name = self.path.lstrip("/").partition("/")
        if self.path == "/robots.txt":
            self.send_not_found()
        elif self.path.lstrip("/") in self.LISTINGS:
            self.send_body(200, self.LISTINGS[self.path.lstrip("/")])
        elif kind == "p" and name.startswith("busy") and self.hits[self.path] == 1:
            self.send_body(503, b"busy")  # once: the retry gets the page
        elif kind == "p":  # "p/a/" is the page "p/a" under a second URL, as many shops serve it
            self.send_body(200, product(name.rstrip("/")))
        elif kind == "r":
            self.send_body(301, b"", headers=[("Location", f"/p/{name}")])
        elif kind == "away":
            self.send_body(302, b"", headers=[("Location", f"http://localhost:{port}/p/{name}")])
        else:
            self.send_not_found()


@pytest.fixture
def shop() -> Iterator[str]:
    Shop.hits.clear()
    with serve_in_thread(Shop, "shop") as base:
        yield base


def run_crawl(start_url: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge_insights", "crawl", "--start-url", start_url, "--out", str(out),
           "--crawl-id", out.name, "--set", "AUTOTHROTTLE_START_DELAY=0", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})


def outcomes(out: Path) -> dict[str, str]:
    """Link (as the rows keep it) → ``title`` of its record or ``reason`` of its quarantine row."""
    rows = {}
    for name, field in (("items.jsonl", "title"), ("quarantine.jsonl", "reason")):
        for line in (out / name).read_text("utf-8").splitlines():
            row = json.loads(line)
            assert row["url"] not in rows, f"two outcomes for {row['url']}"
            rows[row["url"]] = row[field]
    return rows


@pytest.mark.parametrize(("setting", "message"), [
    ("DOWNLOAD_TIMEOUT=abc", "error: --set DOWNLOAD_TIMEOUT: not a number ('abc')"),
    # Malformed, not only mistyped: the same one line, not Typer's usage box.
    ("foo", "error: --set 'foo': expected NAME=VALUE"),
    ("=1", "error: --set '=1': expected NAME=VALUE")])
def test_a_setting_scrapy_cannot_read_is_refused_in_one_line_before_the_crawl(shop, tmp_path, setting, message):
    done = run_crawl(shop + "index.html", tmp_path / "out", "--set", setting)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [message]
    assert not (tmp_path / "out").exists() and not Shop.hits


@pytest.mark.parametrize(("start", "reason"), [("missing.html", "http_404"),
                                               ("p/a", "parse_error: no product links")])
def test_a_start_page_that_is_no_listing_fails_the_crawl_and_keeps_its_row(shop, tmp_path, start, reason):
    out = tmp_path / "out"
    done = run_crawl(shop + start, out)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (f"error: {shop}{start} is no listing page ({reason}): no product was "
                                            f"crawled; its quarantine row is in {out}")
    assert outcomes(out) == {shop + start: reason}
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["pages"], stats["listing_pages"], stats["invariant_ok"]) == (1, 0, True)


def test_a_tile_linking_back_to_its_listing_is_a_bad_link(shop, tmp_path):
    """An empty href and "#" resolve to the listing itself: each is a row, not a link lost to deduplication."""
    Shop.LISTINGS["self.html"] = listing("", "#", "p/self-a")
    out = tmp_path / "out"
    done = run_crawl(shop + "self.html", out)
    assert done.returncode == 0, done.stderr[-3000:]
    # The listing and one product page fetched; the two self links quarantined.
    assert done.stdout.splitlines() == [f"crawl out: 2 pages, 1 records, 2 quarantined, invariant ok; output in {out}"]
    assert outcomes(out) == {"": "bad_link: links to the listing page itself",
                             "#": "bad_link: links to the listing page itself", shop + "p/self-a": "Book self-a"}


def test_an_offsite_redirect_is_refused_before_the_other_host_is_contacted(shop, tmp_path):
    Shop.LISTINGS["away.html"] = listing("away/away-a", "p/away-b")
    out = tmp_path / "out"
    done = run_crawl(shop + "away.html", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert outcomes(out) == {shop + "away/away-a": "offsite: redirected to localhost", shop + "p/away-b": "Book away-b"}
    # localhost is this server under another name: neither its robots.txt nor the page was asked for
    assert (Shop.hits["/robots.txt"], Shop.hits["/p/away-a"]) == (1, 0)


def test_a_page_linked_twice_is_fetched_once_and_gives_one_kept_record(shop, tmp_path):
    """A fragment is a place in a page; a redirect to a page linked elsewhere is that page. Each is fetched
    once, the repeated link counted, and validation keeps one record per product."""
    Shop.LISTINGS["dups.html"] = listing("p/dup", "p/dup#reviews", "r/dup2", "p/dup2")
    out = tmp_path / "out"
    done = run_crawl(shop + "dups.html", out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert outcomes(out) == {shop + "p/dup": "Book dup", shop + "p/dup2": "Book dup2",
                             shop + "r/dup2": f"duplicate: redirected to {shop}p/dup2"}
    assert (Shop.hits["/p/dup"], Shop.hits["/p/dup2"]) == (1, 1)
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["product_links"], stats["duplicate_links"], stats["invariant_ok"]) == (3, 1, True)
    records = [json.loads(line) for line in (out / "items.jsonl").read_text("utf-8").splitlines()]
    split = split_valid(records, "offer")
    assert (sorted(r["product_id"] for r in split.kept), split.quarantined) == (["upc-dup", "upc-dup2"], [])


def test_a_redirect_target_that_fails_once_is_retried_not_taken_for_a_duplicate(shop, tmp_path):
    """The retry of a redirected request passes the redirect check again: it is the same link's page."""
    Shop.LISTINGS["busy.html"] = listing("r/busy")
    out = tmp_path / "out"
    done = run_crawl(shop + "busy.html", out, "--set", "RETRY_BACKOFF_BASE=0.1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert outcomes(out) == {shop + "r/busy": "Book busy"}
    assert Shop.hits["/p/busy"] == 2


def test_a_page_under_two_urls_is_quarantined_downstream_naming_the_other_url(shop, tmp_path):
    """"p/a" and "p/a/" are two URLs (the crawl fetches both); validation cannot tell which is the product,
    and each row's reason names the URL its product id collided with."""
    Shop.LISTINGS["slash.html"] = listing("p/slash", "p/slash/")
    out = tmp_path / "out"
    assert run_crawl(shop + "slash.html", out).returncode == 0
    records = [json.loads(line) for line in (out / "items.jsonl").read_text("utf-8").splitlines()]
    split = split_valid(records, "offer")
    assert split.kept == []
    assert {row["url"]: row["reason"] for row in split.quarantined} == {
        shop + "p/slash": f"product_id_ambiguous: also at {shop}p/slash/",
        shop + "p/slash/": f"product_id_ambiguous: also at {shop}p/slash"}
