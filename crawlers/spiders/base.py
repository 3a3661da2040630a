"""What every harvest spider shares: the ``source`` its records carry and one way to quarantine."""

from __future__ import annotations

import scrapy

from commons.quarantine import quarantine_row
from crawlers.items import Quarantined


class SignalSpider(scrapy.Spider):
    """A spider whose outcomes are signal records or quarantine rows.

    Attributes:
        source: the ``source`` stamped on records and quarantine rows (stable across spider
            renames: it is part of every record's content digest).
        crawl_id: id written into every record's provenance and every quarantine row.
    """

    source: str
    crawl_id: str

    def _quarantine(self, url: str, reason: str, http_status: int | None) -> Quarantined:
        return Quarantined(quarantine_row(source=self.source, reason=reason, crawl_id=self.crawl_id, url=url,
                                          http_status=http_status))
