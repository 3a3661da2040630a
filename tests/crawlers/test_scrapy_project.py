"""Scrapy users find what they expect: ``scrapy list`` and ``scrapy crawl books`` from the repository
root, with the project's settings, spiders, items, pipelines and middlewares."""

from __future__ import annotations

import pytest

import json
import subprocess
import sys
from pathlib import Path

from crawlers.static_site import serve_folder

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

REPO = Path(__file__).resolve().parents[2]
SCRAPY = str(Path(sys.executable).parent / "scrapy")


def test_scrapy_list_names_the_spiders():
    done = subprocess.run([SCRAPY, "list"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["books", "product"]


def test_scrapy_crawl_books_writes_records_through_the_pipelines(data_dir, tmp_path):
    out = tmp_path / "out"
    with serve_folder(data_dir / "books_toscrape" / "site") as base:
        done = subprocess.run([SCRAPY, "crawl", "books", "-a", f"start_url={base}index.html", "-a", "crawl_id=manual",
                               "-a", "max_requests=6", "-s", f"EDGE_INSIGHTS_OUT_DIR={out}",
                               "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "LOG_LEVEL=WARNING"],
                              cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    quarantined = (out / "quarantine.jsonl").read_text().splitlines()
    assert records and all(r["source"] == "books_toscrape" and r["currency"] == "GBP" for r in records)
    assert all(r["provenance"]["crawl_id"] == "manual" and len(r["content_digest"]) == 64 for r in records)
    assert len(records) + len(quarantined) == 5  # 6 requests: the listing page and 5 product links
