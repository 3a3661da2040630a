"""Backfill of the real Amazon.co.jp price histories through the pushed-signal contract.

Input: ``price_history_amazon_jp/observations.csv.gz`` (see its ``SOURCES.md``): gzip CSV with
columns :data:`COLUMNS`, sorted by timestamp, and ``products.csv`` beside it (``asin, name``).
Each observation becomes one signal record checked by :func:`crawlers.intake.contract.to_record`:

- ``source`` :data:`SOURCE`, ``url`` ``https://www.amazon.co.jp/dp/<asin>``, ``product_id`` the
  ASIN, ``title`` the product's name from ``products.csv`` (None for an ASIN not listed there);
- ``price`` the integer yen amount as a Decimal, ``currency`` the row's code (``JPY``);
- ``availability`` ``"unknown"``: the source records a list price, never a stock state, and
  models train on stock states only where real ones exist — inferring ``in_stock`` from a
  listed price would invent labels;
- ``crawled_at`` the observation's timestamp (UTC): a record observes when the price was seen;
- ``provenance``: ``crawl_id`` ``amazon_jp_price_history:<YYYY-MM-DD>`` (the partition),
  ``spider_version`` :data:`SPIDER_VERSION`, ``http_status`` None, ``response_digest`` sha256 of
  the row's raw CSV text (UTF-8, without the line ending).

``merchant_name``, ``coupon``, ``coupon_text`` and ``source_file`` are outside the signal-record
contract and are not carried (a coupon-adjusted price is a feature for later, from the file).

A row that cannot become a record (wrong number of cells, ASIN not 10 upper-case letters/digits,
price not a whole yen amount, any contract failure) is a quarantine row (stage ``intake``,
``url`` ``file://<absolute path>#<line>``, the raw row kept) in the partition being read; nothing
is dropped, so per partition ``rows == records + quarantined`` (checked).

Partitions: one per UTC day of ``timestamp`` (``YYYY-MM-DD``), yielded in order while the gzip
streams, so memory holds one day (a few hundred rows), not the file.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from commons.errors import assert_conserved
from crawlers.intake.contract import RowInvalid, quarantine_invalid, to_record

VERSION = "1.0.0"
SOURCE = "amazon_jp_price_history"
SPIDER_VERSION = f"price_history_backfill@{VERSION}"
COLUMNS = ("timestamp", "asin", "price", "currency", "merchant_name", "coupon", "coupon_text",
           "source_file")
PRODUCTS_FILE = "products.csv"

_ASIN = re.compile(r"[A-Z0-9]{10}")
_YEN = re.compile(r"[0-9]+")

Partition = tuple[str, list[dict[str, Any]], list[dict[str, Any]]]
"""(partition key ``YYYY-MM-DD``, record dicts, quarantine rows)."""


def price_history_batches(path: str | Path, products_path: str | Path | None = None
                          ) -> Iterator[Partition]:
    """Stream the observations file as one batch per UTC day.

    Args:
        path: ``observations.csv.gz`` (gzip CSV with the header :data:`COLUMNS`).
        products_path: ``products.csv`` with ``asin, name``; default: the one beside ``path``
            (titles are None when it is absent).

    Yields:
        ``(partition_key, records, quarantine)`` per UTC day, in time order; records are
        ``SignalRecord.to_dict()`` dicts.

    Raises:
        ValueError: the header is not :data:`COLUMNS`, the file is not sorted by day (a day
            would be split across partitions), or no row has a readable timestamp.
        ConservationError: rows were lost (a bug, never data).
    """
    path = Path(path).resolve()
    titles = product_titles(products_path or path.parent / PRODUCTS_FILE)
    day: str | None = None
    pending: list[tuple[int, bytes, list[str], dict[str, Any] | str]] = []
    records: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    rows = 0
    for line, raw, cells in _raw_rows(path):
        row_day, row = _row(cells, titles)
        if day is None:
            # Rows before the first readable day wait for it and join its partition.
            pending.append((line, raw, cells, row))
            if row_day is None:
                continue
            day = row_day
        elif row_day is not None and row_day != day:
            if row_day < day:
                raise ValueError(f"{path}#{line}: {row_day} after {day}: "
                                 "file not sorted by timestamp")
            assert_conserved(rows, records, quarantine, f"{path} partition {day}")
            yield day, records, quarantine
            records, quarantine, rows, day = [], [], 0, row_day
        # A row without a readable day joins the partition being read: the file is sorted, so
        # that is its neighbourhood.
        for item in pending or [(line, raw, cells, row)]:
            rows += 1
            record, bad = _convert(path, *item, batch_id=f"{SOURCE}:{day}")
            if record is not None:
                records.append(record)
            else:
                quarantine.append(bad)
        pending = []
    if day is None:
        raise ValueError(f"{path}: no row with a readable timestamp")
    assert_conserved(rows, records, quarantine, f"{path} partition {day}")
    yield day, records, quarantine


def product_titles(path: str | Path) -> dict[str, str]:
    """ASIN → product name from ``products.csv``; an absent file gives no titles."""
    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["asin"]: row["name"] for row in csv.DictReader(handle) if row.get("name")}


def _raw_rows(path: Path) -> Iterator[tuple[int, bytes, list[str]]]:
    """(line, raw bytes, cells) per data row, streamed from the gzip."""
    consumed: list[str] = []

    def lines(handle: Any) -> Iterator[str]:
        for text in handle:
            consumed.append(text)
            yield text

    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(lines(handle))
        header = next(reader, None)
        if tuple(header or ()) != COLUMNS:
            raise ValueError(f"{path}: header {header!r}, expected {list(COLUMNS)}")
        consumed.clear()
        start = 2
        for cells in reader:
            raw = "".join(consumed).rstrip("\r\n").encode("utf-8")
            consumed.clear()
            yield start, raw, cells
            start = reader.line_num + 1


def _convert(path: Path, line: int, raw: bytes, cells: list[str], row: dict[str, Any] | str,
             batch_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(record, None) or (None, quarantine row) for one CSV row."""
    try:
        if isinstance(row, str):
            raise RowInvalid([row], cells[1] if len(cells) > 1 and cells[1] else None)
        return to_record(row, batch_id=batch_id, raw=raw, spider_version=SPIDER_VERSION), None
    except RowInvalid as exc:
        return None, quarantine_invalid({"source": SOURCE}, exc, batch_id=batch_id,
                                        url=f"file://{path}#{line}", raw=raw)


def _row(cells: list[str], titles: dict[str, str]) -> tuple[str | None, dict[str, Any] | str]:
    """(UTC day or None, the pushed-row form of the cells or a quarantine reason)."""
    if len(cells) != len(COLUMNS):
        return None, f"row: {len(cells)} cells, expected {len(COLUMNS)}"
    fields = dict(zip(COLUMNS, cells))
    try:
        when = datetime.fromisoformat(fields["timestamp"])
        day = when.astimezone(timezone.utc).date().isoformat() if when.utcoffset() is not None \
            else None
    except ValueError:
        day = None
    reasons = []
    if not _ASIN.fullmatch(fields["asin"]):
        reasons.append(f"asin: not a 10-character ASIN ({fields['asin'][:20]!r})")
    if not _YEN.fullmatch(fields["price"]):
        reasons.append(f"price: not a whole yen amount ({fields['price'][:20]!r})")
    if reasons:
        return day, "; ".join(reasons)
    asin = fields["asin"]
    return day, {"source": SOURCE, "url": f"https://www.amazon.co.jp/dp/{asin}",
                 "product_id": asin, "title": titles.get(asin), "price": fields["price"],
                 "currency": fields["currency"], "availability": "unknown",
                 "crawled_at": fields["timestamp"]}
