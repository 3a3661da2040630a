"""A crawl of a misbehaving shop (``hostile_site``): every bad case ends as one quarantine row,
the pages that survive become records, retries back off, and a re-crawl replays the HTTP cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawlers.middlewares import BackoffRetryMiddleware, duplicate_redirect, retry_after_s
from crawlers.spiders.books import failure_reason
from hostile_site import CASES, MAXSIZE, SLOW_S, serve_hostile_site

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

REPO = Path(__file__).resolve().parents[2]

BACKOFF_BASE, BACKOFF_MAX = 0.05, 0.2  # seconds
# Loopback pace: no start delay, short backoff, a timeout below the slow page's first answer.
FAST = {"AUTOTHROTTLE_START_DELAY": 0, "RETRY_BACKOFF_BASE": BACKOFF_BASE,
        "RETRY_BACKOFF_MAX": BACKOFF_MAX, "DOWNLOAD_TIMEOUT": SLOW_S - 1,
        "DOWNLOAD_MAXSIZE": MAXSIZE}

# product link → (http_status, reason) of its quarantine row
QUARANTINED = {
    "catalogue/always-500_3/index.html": (500, "http_500"),
    "catalogue/gone_4/index.html": (404, "http_404"),
    "private/secret_5/index.html": (None, "robots_disallowed"),
    "loop/a_6/index.html": (None, "redirect_loop"),
    "catalogue/huge_7/index.html": (None, "too_large"),
    "catalogue/huge-stream_8/index.html": (None, "too_large"),
    "catalogue/empty_9/index.html": (200, "empty_page"),
    "catalogue/mislabelled_11/index.html": (200, "encoding_error: not valid utf-8"),
    "catalogue/truncated_12/index.html": (200, "parse_error: no price"),
    "catalogue/malformed_13/index.html": (200, "parse_error: no title"),
    "catalogue/cut-body_15/index.html": (None, "truncated_body"),
    "catalogue/gzip-bomb_16/index.html": (None, "too_large"),
    "catalogue/json_17/index.html": (200, "parse_error: a JSON page, not HTML"),
    "catalogue/bad-rating_18/index.html": (200, "parse_error: unreadable rating (star-rating Six)"),
}
# product link → (title, price, currency, stock_count, product_id) of its record, as the mirror
# page shows them
RECORDS = {
    "catalogue/good_1/index.html": ("A Light in the Attic", "51.77", "GBP", 22, "a897fe39b1053632"),
    "catalogue/flaky-503_2/index.html": ("Tipping the Velvet", "53.74", "GBP", 20,
                                         "90fa61229261140a"),
    "catalogue/latin1_10/index.html": ("Soumission", "50.10", "GBP", 20, "6957f44c3847a760"),
    "catalogue/slow-once_14/index.html": ("Sapiens: A Brief History of Humankind", "54.23",
                                          "GBP", 20, "4165285e1663650f"),
    # Read as declared, the title was "PeregrineвЂ™s" and "£" lost its currency (quarantined).
    "catalogue/utf8-as-cp1251_19/index.html": ("Hollow City (Miss Peregrine’s Peculiar Children #2)", "42.98",
                                               "GBP", 15, "4ce91d31c1e57c33"),
}
# Paths the HTTP cache cannot answer: transient statuses are not stored, failed downloads
# leave nothing to store.
UNCACHED = {"catalogue/always-500_3/index.html", "catalogue/huge_7/index.html",
            "catalogue/huge-stream_8/index.html", "catalogue/cut-body_15/index.html"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def crawl(start_url: str, out: Path, cache: Path) -> dict:
    cmd = [sys.executable, "-m", "edge_insights", "crawl", "--start-url", start_url,
           "--out", str(out), "--crawl-id", out.name, "--http-cache", str(cache),
           "--log-file", str(out / "crawl.log")]
    for name, value in FAST.items():
        cmd += ["--set", f"{name}={value}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"stats": json.loads((out / "stats.json").read_text()),
            "items": read_jsonl(out / "items.jsonl"),
            "quarantine": read_jsonl(out / "quarantine.jsonl")}


@pytest.fixture(scope="module")
def crawls(data_dir: Path, tmp_path_factory) -> dict:
    """Two crawls of the hostile site sharing one HTTP cache, with the server's hit counts."""
    tmp = tmp_path_factory.mktemp("hostile")
    with serve_hostile_site(data_dir) as site:
        first = crawl(site.base_url + "index.html", tmp / "first", tmp / "cache")
        hits_first = Counter(site.hits)
        second = crawl(site.base_url + "index.html", tmp / "second", tmp / "cache")
        hits_second = site.hits - hits_first
    return {"base": site.base_url, "pages": site.pages, "first": first, "second": second,
            "hits_first": hits_first, "hits_second": hits_second}


def by_path(rows: list[dict], base: str) -> dict[str, dict]:
    return {row["url"].removeprefix(base): row for row in rows}


def test_every_bad_case_is_one_quarantine_row(crawls):
    quarantine = by_path(crawls["first"]["quarantine"], crawls["base"])
    assert {path: (row["http_status"], row["reason"]) for path, row in quarantine.items()} \
        == QUARANTINED
    assert all(row["stage"] == "harvest" and row["crawl_id"] == "first"
               for row in quarantine.values())


def test_surviving_pages_give_the_mirror_records(crawls):
    """The recovered 503, the slow page retried after its timeout, the latin-1 page without a
    charset and the UTF-8 page declared windows-1251 each give the record their mirror page gives."""
    items = by_path(crawls["first"]["items"], crawls["base"])
    assert {path: (it["title"], it["price"], it["currency"], it["stock_count"], it["product_id"])
            for path, it in items.items()} == RECORDS
    assert all(it["provenance"]["http_status"] == 200 for it in items.values())


def test_invariant_and_counts(crawls):
    stats = crawls["first"]["stats"]
    assert len(CASES) == len(QUARANTINED) + len(RECORDS) == 19
    assert (stats["product_links"], stats["product_outcomes"], stats["invariant_ok"]) == (
        19, 19, True)
    assert (stats["items"], stats["quarantined"], stats["http_404"], stats["errors"]) == (
        5, 14, 1, 13)
    assert stats["finish_reason"] == "finished"


def test_retries_back_off_exponentially(crawls):
    """503 once, timeout once: one retry each; 500 and the cut body: both retries spent."""
    stats, hits = crawls["first"]["stats"], crawls["hits_first"]
    attempts = {path: hits[path] for path in ("catalogue/flaky-503_2/index.html",
                                              "catalogue/slow-once_14/index.html",
                                              "catalogue/always-500_3/index.html",
                                              "catalogue/cut-body_15/index.html")}
    assert list(attempts.values()) == [2, 2, 3, 3]
    assert (stats["retries"], stats["retries_exhausted"]) == (6, 2)
    # waits: base·2^(n-1) × jitter in [0.5, 1] for retries 1, 1, 1, 2, 1, 2; the 503's
    # Retry-After of 1 s is longer, so it waits the cap
    low = BACKOFF_MAX + 3 * BACKOFF_BASE * 0.5 + 2 * BACKOFF_BASE
    high = BACKOFF_MAX + 3 * BACKOFF_BASE + 2 * BACKOFF_BASE * 2
    assert low <= stats["retry_backoff_s"] <= high


def test_robots_and_size_limit_are_enforced(crawls):
    hits = crawls["hits_first"]
    assert hits["robots.txt"] == 1 and hits["private/secret_5/index.html"] == 0
    # Received: the utf-8 mirror pages served whole (at least), but not the too-large bodies.
    served_whole = sum(len(crawls["pages"][key].encode("utf-8"))
                       for key in ("good", "flaky", "slow"))
    assert served_whole < crawls["first"]["stats"]["response_bytes"] < served_whole + MAXSIZE


def test_crawl_stats_record_the_throttle_delay(crawls):
    stats = crawls["first"]["stats"]
    assert 0 < stats["throttle_delay_mean_s"] <= stats["throttle_delay_max_s"] <= 10.0


def test_recrawl_is_served_from_the_http_cache(crawls):
    first, second = crawls["first"], crawls["second"]
    assert set(crawls["hits_second"]) == UNCACHED
    assert (second["stats"]["cache_hits"], second["stats"]["cache_misses"]) == (21, 8)
    assert second["stats"]["retries"] == 4  # only the 500 and the cut body are retried again
    digests = [{(it["url"], it["content_digest"], it["provenance"]["response_digest"])
                for it in crawl["items"]} for crawl in (first, second)]
    assert digests[0] == digests[1] and len(digests[0]) == 5
    outcomes = [{(q["url"], q["http_status"], q["reason"]) for q in crawl["quarantine"]}
                for crawl in (first, second)]
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(("error", "reason"), [
    (DownloadTimeoutError("took longer than 20 seconds"), "timeout"),
    (IgnoreRequest("Forbidden by robots.txt"), "robots_disallowed"),
    (IgnoreRequest("max redirections reached"), "redirect_loop"),
    (IgnoreRequest("Ignored response <200 http://x/> because its body (1037 B compressed, 262150 B "
                   "decompressed so far) exceeded DOWNLOAD_MAXSIZE (262144 B) during decompression."),
     "too_large"),
    (ConnectionRefusedError(), "download_error: ConnectionRefusedError"),
])
def test_failure_reasons(error, reason):
    assert failure_reason(Failure(error)) == reason


def test_a_redirect_target_is_the_page_of_one_link():
    """A page requested directly is its own link's; the first link redirected to another page claims it, and
    its retry passes again; a target in the link's own chain is left to the loop limit (redirect_loop)."""
    claims = {"http://s/p/1": "http://s/p/1"}

    def redirect(link: str, target: str, *chain: str) -> str | None:
        return duplicate_redirect(Request(target, meta={"link": link, "redirect_urls": [link, *chain]}), claims)

    assert redirect("http://s/a", "http://s/p/1#top") == "duplicate: redirected to http://s/p/1"
    assert redirect("http://s/a", "http://s/x") is None and redirect("http://s/a", "http://s/x") is None
    assert redirect("http://s/b", "http://s/x") == "duplicate: redirected to http://s/x"
    assert redirect("http://s/b", "http://s/b", "http://s/c") is None
    assert claims == {"http://s/p/1": "http://s/p/1", "http://s/x": "http://s/a"}


def test_backoff_doubles_to_the_cap_and_honours_retry_after():
    middleware = BackoffRetryMiddleware(Settings({"RETRY_BACKOFF_BASE": 1.0,
                                                  "RETRY_BACKOFF_MAX": 6.0}))
    for retry, full in ((1, 1.0), (2, 2.0), (3, 4.0)):
        assert full / 2 <= middleware.backoff_s(retry) <= full
    assert middleware.backoff_s(4) <= 6.0 and middleware.backoff_s(10) <= 6.0
    assert middleware.backoff_s(1, server_wait_s=3.0) == 3.0
    assert middleware.backoff_s(1, server_wait_s=120.0) == 6.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_s(Response("http://x/", headers={"Retry-After": later})) <= 30
    assert retry_after_s(Response("http://x/", headers={"Retry-After": "7"})) == 7.0
    assert retry_after_s(Response("http://x/", headers={"Retry-After": "soon"})) is None
    assert retry_after_s(Response("http://x/")) is None
