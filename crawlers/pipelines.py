"""Item pipelines: normalise parsed pages into signal records, then write both outputs.

Order (see ``ITEM_PIPELINES`` in :mod:`crawlers.settings`): :class:`NormalizePipeline` then
:class:`JsonLinesWriterPipeline`. The writer needs the ``EDGE_INSIGHTS_OUT_DIR`` setting and
writes ``items.jsonl`` (one ``SignalRecord.to_dict()`` per line) and ``quarantine.jsonl``.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from commons.quarantine import quarantine_row
from commons.record import AVAILABILITY, Provenance, SignalRecord
from commons.staging import QUARANTINE as QUARANTINE_FILE
from commons.staging import RECORDS as ITEMS_FILE
from crawlers.items import BookPage, Quarantined

OUT_DIR_SETTING = "EDGE_INSIGHTS_OUT_DIR"
STATS_PREFIX = "edge_insights/"


def normalise(page: BookPage, *, source: str, crawl_id: str, spider_version: str
              ) -> SignalRecord:
    """Check and tidy a parsed page and turn it into a :class:`SignalRecord`.

    Whitespace in the title and product id is collapsed and the currency upper-cased; every
    value is range checked against the signal-record contract.

    Raises:
        ValueError: a field is missing or out of range; the message is a short reason.
    """
    f = page.fields
    title = " ".join(str(f.get("title") or "").split())
    if not title:
        raise ValueError("no title")
    price = f.get("price")
    if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
        raise ValueError(f"bad price {price!r}")
    currency = (f.get("currency") or "").upper() or None
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"bad currency {currency!r}")
    availability = f.get("availability")
    if availability not in AVAILABILITY:
        raise ValueError(f"bad availability {availability!r}")
    stock = f.get("stock_count")
    if stock is not None and (not isinstance(stock, int) or stock < 0):
        raise ValueError(f"bad stock_count {stock!r}")
    rating = f.get("rating")
    if rating is not None and (not math.isfinite(rating) or not 0 <= rating <= 5):
        raise ValueError(f"bad rating {rating!r}")
    product_id = " ".join(str(f.get("product_id") or "").split())
    if not product_id:
        raise ValueError("no product_id")
    return SignalRecord(
        source=source, url=page.url, product_id=product_id, title=title, price=price,
        currency=currency, availability=availability, stock_count=stock,
        rating=None if rating is None else float(rating), review_text=None,
        crawled_at=page.crawled_at,
        provenance=Provenance(crawl_id=crawl_id, spider_version=spider_version,
                              http_status=page.http_status,
                              response_digest=page.response_digest))


class NormalizePipeline:
    """``BookPage`` → ``SignalRecord``, or ``Quarantined`` (``"normalise_error: …"``).

    Reads ``name``, ``crawl_id`` and ``version`` from the running spider.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> "NormalizePipeline":
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, BookPage):
            return item
        spider = self.crawler.spider
        try:
            return normalise(item, source=spider.source, crawl_id=spider.crawl_id,
                             spider_version=spider.version)
        except ValueError as exc:
            return Quarantined(quarantine_row(
                source=spider.source, reason=f"normalise_error: {exc}", crawl_id=spider.crawl_id,
                url=item.url, product_id=item.fields.get("product_id"),
                http_status=item.http_status, record=item.fields))


class JsonLinesWriterPipeline:
    """Write records to ``items.jsonl`` and quarantine rows to ``quarantine.jsonl``.

    Both files are created (empty if nothing arrives) and truncated at spider open. Counts go
    to the crawl stats under ``edge_insights/``: ``items``, ``quarantined``, and the quarantine
    rows split into ``http_404`` and ``errors`` (every other reason: other statuses, download,
    parse and normalise failures).

    Raises:
        RuntimeError: at construction, when ``EDGE_INSIGHTS_OUT_DIR`` is not set.
        TypeError: an item of an unknown type reaches the writer.
    """

    def __init__(self, crawler: Any, out_dir: Path) -> None:
        self.crawler = crawler
        self.out_dir = out_dir
        self._items: IO[str] | None = None
        self._quarantine: IO[str] | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> "JsonLinesWriterPipeline":
        out = crawler.settings.get(OUT_DIR_SETTING)
        if not out:
            raise RuntimeError(f"set {OUT_DIR_SETTING}: the folder that receives crawl output")
        return cls(crawler, Path(out))

    def open_spider(self, spider: Any = None) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._items = open(self.out_dir / ITEMS_FILE, "w", encoding="utf-8")
        self._quarantine = open(self.out_dir / QUARANTINE_FILE, "w", encoding="utf-8")

    def close_spider(self, spider: Any = None) -> None:
        for handle in (self._items, self._quarantine):
            if handle is not None:
                handle.close()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, SignalRecord):
            self._write(self._items, item.to_dict(), "items")
        elif isinstance(item, Quarantined):
            self._write(self._quarantine, item.row, "quarantined")
            self.crawler.stats.inc_value(
                STATS_PREFIX + ("http_404" if item.row["reason"] == "http_404" else "errors"))
        else:
            raise TypeError(f"unexpected item type {type(item).__name__}")
        return item

    def _write(self, handle: IO[str] | None, row: dict[str, Any], stat: str) -> None:
        assert handle is not None, "open_spider was not called"
        handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        self.crawler.stats.inc_value(STATS_PREFIX + stat)
