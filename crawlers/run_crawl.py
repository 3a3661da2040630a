"""Run one crawl in this process and write its outputs; what a harvest partition runs.

The command line is ``edge-insights crawl --start-url URL --out DIR --crawl-id ID [--max-pages N]
[--log-file FILE] [--http-cache CACHE_DIR] [--set NAME=VALUE ...]`` (``python -m crawlers`` is an
alias). An HTTP cache stores every response (transient 5xx/408/429 excepted) and answers later
crawls from it, so a re-crawl reproduces the first one without touching the site; give a folder
under the state folder or the crawl's output folder, never the source tree. ``--set`` overrides
one Scrapy setting of :mod:`crawlers.settings` (repeatable), e.g. ``AUTOTHROTTLE_START_DELAY=0``
for a loopback test; a value its setting's type refuses is refused before the crawl
(:func:`check_overrides`).

Writes ``DIR/items.jsonl`` (one signal record per line), ``DIR/quarantine.jsonl`` (one
quarantine row per line) and ``DIR/stats.json``::

    {"crawl_id": str, "start_url": str, "max_pages": int | None,
     "pages": int,            # responses received by the spider (robots.txt excluded)
     "listing_pages": int,    # listing pages that showed product links (0: the start page is no listing)
     "items": int, "quarantined": int,
     "http_404": int,         # quarantine rows for 404 responses
     "errors": int,           # all other quarantine rows (statuses, download/parse failures)
     "product_links": int,    # distinct product links requested
     "duplicate_links": int,  # product links met again (fragment aside): not requested twice
     "product_outcomes": int, # rows in the two files that belong to a product link
     "invariant_ok": bool,    # every product link ended as exactly one item or quarantine row
     "finish_reason": str, "duration_s": float,
     "retries": int,          # requests re-sent after a retryable status or failure
     "retries_exhausted": int,  # requests that failed every attempt
     "retry_backoff_s": float,  # seconds spent waiting before retries
     "cache_hits": int, "cache_misses": int,  # HTTP cache lookups (0 without --http-cache)
     "throttle_delay_mean_s": float, "throttle_delay_max_s": float,  # AutoThrottle delay seen
     "response_bytes": int}   # bytes of all responses, headers included (cached ones too)

Twisted's reactor cannot be restarted, so a crawl needs its own process: callers run the command
as a subprocess (under Dagster Pipes, :mod:`orchestration.crawl`). Exit status: 0; 1 when nothing
was fetched, when the start page is no listing (``listing_pages`` 0: a 404, a product page, an
image; its quarantine row says why) or when the invariant fails; 2 for a bad argument.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import BaseSettings, Settings

from commons.staging import QUARANTINE, RECORDS, STATS_FILE
from crawlers.pipelines import OUT_DIR_SETTING, STATS_PREFIX
from crawlers.spiders.books import BooksSpider


def crawl(start_url: str, out_dir: Path, crawl_id: str, max_pages: int | None = None,
          log_file: Path | None = None, http_cache: Path | None = None,
          overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Crawl from ``start_url`` with :class:`BooksSpider`; write the three output files.

    Call at most once per process (it starts and stops the Twisted reactor).

    Args:
        start_url: first listing page.
        out_dir: folder that receives ``items.jsonl``, ``quarantine.jsonl``, ``stats.json``.
        crawl_id: id stamped on every record and quarantine row.
        max_pages: cap on the requests the spider issues; None crawls everything reachable.
        log_file: where Scrapy's log goes (default: stderr).
        http_cache: folder of the HTTP cache (created if missing); None crawls without cache.
        overrides: Scrapy settings to override, name → value as text (Scrapy converts them).

    Returns:
        The stats dict also written to ``stats.json`` (shape in the module docstring).
    """
    out_dir = Path(out_dir).resolve()
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    # The spider class is passed in, not looked up by name: without this the spider loader would
    # import every module of crawlers.spiders (ProductSpider's extraction stack: ~0.3 s, ~10 MB).
    settings.set("SPIDER_MODULES", [], priority="project")
    settings.set(OUT_DIR_SETTING, str(out_dir), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    if http_cache is not None:
        settings.set("HTTPCACHE_ENABLED", True, priority="cmdline")
        # absolute, so Scrapy does not resolve it under the project's .scrapy/ folder
        settings.set("HTTPCACHE_DIR", str(Path(http_cache).resolve()), priority="cmdline")
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        settings.set("LOG_FILE", str(log_file), priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BooksSpider)
    process.crawl(crawler, start_url=start_url, crawl_id=crawl_id, max_requests=max_pages)
    _trim_runtime_overhead(crawler.settings)
    started = time.monotonic()
    process.start()
    duration = time.monotonic() - started

    scrapy_stats = crawler.stats.get_stats()
    outcomes = _outcomes_per_link(out_dir, crawler.spider.product_links)
    stats = {
        "crawl_id": crawl_id,
        "start_url": start_url,
        "max_pages": max_pages,
        **{key: int(scrapy_stats.get(STATS_PREFIX + key, 0))
           for key in ("pages", "listing_pages", "items", "quarantined", "http_404", "errors")},
        "product_links": len(crawler.spider.product_links),
        "duplicate_links": int(scrapy_stats.get(STATS_PREFIX + "duplicate_links", 0)),
        "product_outcomes": sum(outcomes.values()),
        "invariant_ok": all(outcomes[link] == 1 for link in crawler.spider.product_links),
        "finish_reason": str(scrapy_stats.get("finish_reason", "unknown")),
        "duration_s": round(duration, 3),
        "retries": int(scrapy_stats.get("retry/count", 0)),
        "retries_exhausted": int(scrapy_stats.get("retry/max_reached", 0)),
        "retry_backoff_s": round(float(scrapy_stats.get(STATS_PREFIX + "retry_backoff_s", 0)), 3),
        "cache_hits": int(scrapy_stats.get("httpcache/hit", 0)),
        "cache_misses": int(scrapy_stats.get("httpcache/miss", 0)),
        "throttle_delay_mean_s": round(
            float(scrapy_stats.get(STATS_PREFIX + "throttle_delay_mean_s", 0)), 4),
        "throttle_delay_max_s": round(
            float(scrapy_stats.get(STATS_PREFIX + "throttle_delay_max_s", 0)), 4),
        "response_bytes": int(scrapy_stats.get("downloader/response_bytes", 0)),
    }
    (out_dir / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


# What a default's type asks of an override given as text, read with Scrapy's own converters (an int default
# such as DOWNLOAD_TIMEOUT's 180 takes fractions too, so numbers are read as floats).
_READERS = {bool: ("a boolean (True, False, 1 or 0)", BaseSettings.getbool),
            int: ("a number", BaseSettings.getfloat), float: ("a number", BaseSettings.getfloat),
            dict: ("a JSON object", BaseSettings.getdict), BaseSettings: ("a JSON object", BaseSettings.getdict)}


def check_overrides(overrides: dict[str, str]) -> None:
    """Refuse an override Scrapy could not read as its setting's type, before any crawl starts.

    Each value is read as Scrapy reads the setting whose default (Scrapy's, or
    :mod:`crawlers.settings`') is a bool, a number or a dict; a setting without such a default is
    taken as given. Without this check a bad value failed inside the running crawl: a traceback, and
    no output files.

    Args:
        overrides: setting name → value as text (``--set NAME=VALUE``).

    Raises:
        ValueError: ``"<NAME>: not a number ('abc')"`` (or not a boolean, not a JSON object), for
            the first override that cannot be read.
    """
    defaults = Settings()
    defaults.setmodule("crawlers.settings")
    for name, value in overrides.items():
        kind, reader = _READERS.get(type(defaults.get(name)), (None, None))
        if reader is None:
            continue
        try:
            reader(BaseSettings({name: value}), name)
        except (ValueError, TypeError):
            raise ValueError(f"{name}: not {kind} ({value!r})") from None


def _trim_runtime_overhead(settings: Settings) -> None:
    """Cut two per-page costs that change nothing the crawl writes or logs.

    - Scrapy leaves the root logger at NOTSET and filters at its handler, so each response's
      "Crawled (200)" and each item's "Scraped from" DEBUG record is built, then dropped, even at
      ``LOG_LEVEL = "INFO"``. Setting ``LOG_LEVEL`` on the ``scrapy`` and ``twisted`` loggers
      drops them before they are built; what reaches the log is unchanged.
    - The ~100 MB of imported modules are moved out of the garbage collector's generations
      (``gc.freeze``), so its full collections during the crawl scan only the crawl's objects.
    """
    level = logging.getLevelName(str(settings.get("LOG_LEVEL", "DEBUG")).upper())
    if isinstance(level, int):
        for name in ("scrapy", "twisted"):
            logging.getLogger(name).setLevel(level)
    gc.collect()
    gc.freeze()


def _outcomes_per_link(out_dir: Path, product_links: set[str]) -> Counter[str]:
    """How many rows of ``items.jsonl`` + ``quarantine.jsonl`` each product link has."""
    counts: Counter[str] = Counter()
    for name in (RECORDS, QUARANTINE):
        with open(out_dir / name, encoding="utf-8") as handle:
            for line in handle:
                url = json.loads(line)["url"]
                if url in product_links:
                    counts[url] += 1
    return counts
