"""The signal record: one harvested observation of one product (docs/ARCHITECTURE.md, "Data contracts").

A record is a plain dict at rest (DuckDB rows, JSON lines) and a :class:`SignalRecord` in code.
``price`` is a :class:`~decimal.Decimal` in code and its canonical string (``"51.77"``) at rest,
so no float rounding ever touches money.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "unknown")

#: The largest values a record may carry, as the warehouse stores them: a price below 10**14
#: (DECIMAL(18, 4) keeps 14 integer digits) and a count up to BIGINT's maximum. A row past them can
#: never be written, so the intake contract and the row rules refuse it before it reaches a flush.
MAX_PRICE = Decimal(10) ** 14
#: The smallest step of a stored price (DECIMAL(18, 4)): an amount with more decimals is refused,
#: not rounded.
PRICE_QUANTUM = Decimal("0.0001")
MAX_STOCK = 2**63 - 1

# Fields that identify *what was observed*; provenance, crawl time and the fetch URL (a mirror or
# proxy may serve the same page under another host or port) are excluded, so an unchanged product
# crawled twice gets the same digest (idempotent re-crawls). product_id falls back to the URL.
DIGEST_FIELDS = ("source", "product_id", "title", "price", "currency", "availability",
                 "stock_count", "rating", "review_text", "author", "feedback")


@dataclass
class Provenance:
    """Where a record came from.

    Attributes:
        crawl_id: id of the crawl or feed load that produced the record.
        spider_version: name@version of the spider or feed reader.
        http_status: HTTP status of the response (None for file/feed intake).
        response_digest: sha256 hex of the raw response body or raw feed line.
    """

    crawl_id: str
    spider_version: str
    http_status: int | None
    response_digest: str


@dataclass
class SignalRecord:
    """One harvested observation.

    Attributes:
        source: spider or feed name (e.g. ``books_toscrape``, ``reviews/amazon_alexa``).
        url: page URL, or ``file://…#line`` for feed rows.
        product_id: stable id (UPC/SKU/ASIN, else canonical URL).
        title: product title or None.
        price: amount as Decimal (currency units, not cents) or None.
        currency: ISO 4217 code or None.
        availability: one of :data:`AVAILABILITY`.
        stock_count: units available or None.
        rating: 0–5 stars or None.
        review_text: list of review texts or None.
        author: reviewer name/handle (PII: scrubbed before storage) or None.
        feedback: the reviewer's own positive (True) / negative (False) flag where the source has
            one, else None.
        crawled_at: UTC timestamp of the observation.
        provenance: :class:`Provenance`.
        content_digest: sha256 hex over the canonical JSON of :data:`DIGEST_FIELDS`.
    """

    source: str
    url: str
    product_id: str | None
    title: str | None
    price: Decimal | None
    currency: str | None
    availability: str
    stock_count: int | None
    rating: float | None
    review_text: list[str] | None
    crawled_at: datetime
    provenance: Provenance
    author: str | None = None
    feedback: bool | None = None
    content_digest: str = field(default="")

    def __post_init__(self) -> None:
        # Control characters are no text a shop shows; kept, an ESC sequence in a title would
        # drive the terminal of whoever prints it (tables, `insights`, logs).
        self.title = printable(self.title)
        self.author = printable(self.author)
        if self.review_text is not None:
            self.review_text = [printable(t) if isinstance(t, str) else t for t in self.review_text]
        if not self.content_digest:
            self.content_digest = content_digest(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: Decimal → str, datetime → ISO-8601 UTC string."""
        data = asdict(self)
        data["price"] = None if self.price is None else format(self.price, "f")
        data["crawled_at"] = self.crawled_at.astimezone(timezone.utc).isoformat()
        return data


# An ANSI escape sequence whole (CSI … final byte; OSC … BEL or ST, as a window title; ESC and one
# character), then any other C0/C1 control but tab and newline, and DEL.
_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?"
                       r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]", re.DOTALL)


def printable(text: str | None) -> str | None:
    """``text`` without control characters: ANSI escape sequences whole, other C0/C1 controls and
    DEL; tab and newline stay. None stays None."""
    return None if text is None else _CONTROLS.sub("", text)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept, Decimals as strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_digest(record: dict[str, Any]) -> str:
    """sha256 hex over the canonical JSON of a record's :data:`DIGEST_FIELDS`."""
    view = {k: record.get(k) for k in DIGEST_FIELDS}
    if isinstance(view.get("price"), Decimal):
        view["price"] = format(view["price"], "f")
    return hashlib.sha256(canonical_json(view).encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
