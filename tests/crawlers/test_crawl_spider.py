"""End-to-end crawls: ``python -m crawlers.run_crawl`` against the mirror over real local HTTP."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster_pipes import encode_param

from crawlers.static_site import serve_folder

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

REPO = Path(__file__).resolve().parents[2]


def run_crawl(start_url: str, out: Path, crawl_id: str, *extra: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge_insights", "crawl", "--start-url", start_url,
           "--out", str(out), "--crawl-id", crawl_id, *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def site(data_dir: Path) -> Path:
    return data_dir / "books_toscrape" / "site"


@pytest.fixture(scope="module")
def slice_crawl(site: Path, tmp_path_factory) -> dict:
    """One 15-request crawl of the mirror: the first listing page and 14 of its products."""
    out = tmp_path_factory.mktemp("crawl")
    with serve_folder(site) as base:
        proc = run_crawl(base + "index.html", out, "test-slice", "--max-pages", "15")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"base": base, "out": out, "stats": json.loads((out / "stats.json").read_text()),
            "items": read_jsonl(out / "items.jsonl"),
            "quarantine": read_jsonl(out / "quarantine.jsonl")}


def test_slice_stats_and_invariant(slice_crawl):
    stats, items, quarantine = slice_crawl["stats"], slice_crawl["items"], slice_crawl["quarantine"]
    assert stats["pages"] == 15 and stats["product_links"] == 14
    assert stats["items"] == len(items) and stats["quarantined"] == len(quarantine)
    assert stats["items"] + stats["quarantined"] == 14
    assert stats["product_outcomes"] == 14 and stats["invariant_ok"] is True
    assert stats["http_404"] == len(quarantine) and stats["errors"] == 0
    urls = [row["url"] for row in items + quarantine]
    assert len(urls) == len(set(urls)) == 14


@pytest.mark.parametrize(("slug", "price", "stock", "upc", "rating"), [
    ("a-light-in-the-attic_1000", "51.77", 22, "a897fe39b1053632", 3.0),
    ("tipping-the-velvet_999", "53.74", 20, "90fa61229261140a", 1.0),
    ("soumission_998", "50.10", 20, "6957f44c3847a760", 1.0),
])
def test_slice_items_of_known_pages(slice_crawl, site, slug, price, stock, upc, rating):
    url = f"{slice_crawl['base']}catalogue/{slug}/index.html"
    [item] = [it for it in slice_crawl["items"] if it["url"] == url]
    assert (item["price"], item["currency"], item["stock_count"], item["product_id"],
            item["rating"], item["availability"]) == (price, "GBP", stock, upc, rating, "in_stock")
    body = (site / "catalogue" / slug / "index.html").read_bytes()
    assert item["provenance"] == {
        "crawl_id": "test-slice", "spider_version": "books_toscrape@1.3.0", "http_status": 200,
        "response_digest": hashlib.sha256(body).hexdigest()}
    assert len(item["content_digest"]) == 64


def test_slice_items_agree_with_listing_csv(slice_crawl, data_dir):
    """Every item's title, price and rating match the independently scraped listing CSV."""
    listing = {}
    with open(data_dir / "books_toscrape" / "books_listing.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            # the CSV's URLs carry a stray "page-N.html" prefix before the slug
            slug = re.search(r"(?:page-\d+\.html)?([^/]+_\d+)/index\.html", row["URL"]).group(1)
            listing[slug] = row
    assert slice_crawl["items"]
    for item in slice_crawl["items"]:
        row = listing[item["url"].split("/")[-2]]
        assert (item["title"], "£" + item["price"], item["rating"]) == (
            row["Title"], row["Price"], float(row["Rate"]))


def test_slice_quarantines_missing_page_as_404(slice_crawl, site):
    assert not (site / "catalogue" / "sharp-objects_997").exists()
    url = f"{slice_crawl['base']}catalogue/sharp-objects_997/index.html"
    [row] = [q for q in slice_crawl["quarantine"] if q["url"] == url]
    assert row["reason"] == "http_404" and row["http_status"] == 404
    assert row["stage"] == "harvest" and row["source"] == "books_toscrape"
    assert row["crawl_id"] == "test-slice" and row["record_json"] is None


def test_broken_pages_and_robots_become_quarantine_rows(site, tmp_path):
    """A page without a price, a non-HTML page, a robots.txt refusal, a 404 and links no crawler
    can fetch: one row each, and a bad link stops nothing after it."""
    root = tmp_path / "site"
    good = root / "catalogue" / "a-light-in-the-attic_1000" / "index.html"
    good.parent.mkdir(parents=True)
    shutil.copy(site / "catalogue" / "a-light-in-the-attic_1000" / "index.html", good)
    html = good.read_text("utf-8")
    (root / "catalogue" / "no-price_1").mkdir()
    (root / "catalogue" / "no-price_1" / "index.html").write_text(
        html.replace("£51.77", "call us"), "utf-8")
    (root / "catalogue" / "binary_2").mkdir()
    (root / "catalogue" / "binary_2" / "data.bin").write_bytes(bytes(range(256)))
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    links = ["javascript:void(0)", "catalogue/a-light-in-the-attic_1000/index.html",
             "mailto:orders@shop.example", "catalogue/no-price_1/index.html", "http://[::1/broken",
             "catalogue/binary_2/data.bin", "private/secret_3/index.html",
             "catalogue/gone_4/index.html", "http://shop.elsewhere.example/catalogue/theirs_5/index.html"]
    pods = "".join(f'<article class="product_pod"><h3><a href="{h}">b</a></h3></article>'
                   for h in links)
    (root / "index.html").write_text(f"<html><body>{pods}</body></html>", "utf-8")
    out = tmp_path / "out"
    with serve_folder(root) as base:
        proc = run_crawl(base + "index.html", out, "test-broken")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    items, quarantine = read_jsonl(out / "items.jsonl"), read_jsonl(out / "quarantine.jsonl")
    assert [it["product_id"] for it in items] == ["a897fe39b1053632"]
    reasons = {q["url"].removeprefix(base): q["reason"] for q in quarantine}
    assert reasons == {
        "catalogue/no-price_1/index.html": "parse_error: no price",
        "catalogue/binary_2/data.bin": "parse_error: not a text page",
        "private/secret_3/index.html": "robots_disallowed",
        "catalogue/gone_4/index.html": "http_404",
        "javascript:…": "bad_link: not an http(s) URL (javascript)",
        "mailto:…": "bad_link: not an http(s) URL (mailto)",  # no address kept
        "http://[::1/broken": "bad_link: Invalid IPv6 URL",
        # Another shop's page is no record of this source.
        "http://shop.elsewhere.example/catalogue/theirs_5/index.html": "offsite: shop.elsewhere.example",
    }
    assert stats["invariant_ok"] is True and stats["product_links"] == 5
    counts = (stats["items"], stats["quarantined"], stats["http_404"], stats["errors"])
    assert counts == (1, 8, 1, 7)


def test_dagster_pipes_reports_stats_to_the_run(site, tmp_path):
    """Launched with Pipes parameters, the crawl sends its stats and a summary line to the run."""
    messages = tmp_path / "messages.jsonl"
    context = {"asset_keys": ["raw_harvest"], "code_version_by_asset_key": None,
               "provenance_by_asset_key": None, "partition_key": "p1",
               "partition_key_range": None, "partition_time_window": None, "run_id": "r1",
               "job_name": "harvest", "retry_number": 0, "extras": {}}
    env = {"DAGSTER_PIPES_CONTEXT": encode_param({"data": context}),
           "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(messages)})}
    with serve_folder(site) as base:
        proc = run_crawl(base + "index.html", tmp_path / "out", "p1", "--max-pages", "3", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = read_jsonl(messages)
    [report] = [m for m in sent if m["method"] == "report_custom_message"]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert report["params"]["payload"] == stats and stats["pages"] == 3
    [line] = [m["params"]["message"] for m in sent if m["method"] == "log"]
    assert line.startswith(f"crawl p1: 3 pages, {stats['items']} records")
    assert sent[-1]["method"] == "closed"
