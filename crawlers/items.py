"""Scrapy items of the harvest, as dataclasses (Scrapy accepts them through itemadapter).

A spider yields :class:`BookPage` (a parsed page, not yet trusted) or :class:`Quarantined`; the
normalise pipeline turns each ``BookPage`` into a :class:`~commons.record.SignalRecord` or a
``Quarantined``, and the writer pipeline writes records and quarantine rows to their files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class BookPage:
    """One fetched and parsed product page, before normalisation.

    Attributes:
        url: the product link that was requested.
        http_status: status of the response (200 for pages that reach parsing).
        response_digest: sha256 hex of the raw response body.
        crawled_at: UTC time the response arrived.
        fields: the output of :func:`crawlers.parsing.parse_book_detail`.
    """

    url: str
    http_status: int
    response_digest: str
    crawled_at: datetime
    fields: dict[str, Any]


@dataclass
class Quarantined:
    """One quarantine row (shape: :func:`commons.quarantine.quarantine_row`)."""

    row: dict[str, Any]
