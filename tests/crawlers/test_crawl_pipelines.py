"""Normalisation of parsed pages into signal records, and the quarantine row shape."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from crawlers.items import BookPage
from crawlers.pipelines import normalise
from commons.quarantine import QUARANTINE_FIELDS, quarantine_row
from commons.record import content_digest

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def page(**overrides) -> BookPage:
    fields = {"title": "  A Light\n in the Attic ", "price": Decimal("51.77"), "currency": "gbp",
              "availability": "in_stock", "stock_count": 22, "rating": 3.0,
              "product_id": "a897fe39b1053632", "num_reviews": 0}
    fields.update(overrides)
    return BookPage(url="http://x/catalogue/a/index.html", http_status=200,
                    response_digest="ab" * 32, crawled_at=WHEN, fields=fields)


def test_normalise_builds_a_digested_record():
    record = normalise(page(), source="books_toscrape", crawl_id="c1",
                       spider_version="books_toscrape@1.0.0")
    data = record.to_dict()
    assert data["title"] == "A Light in the Attic"
    assert data["price"] == "51.77" and data["currency"] == "GBP"
    assert data["crawled_at"] == "2026-01-02T03:04:05+00:00"
    assert data["provenance"] == {"crawl_id": "c1", "spider_version": "books_toscrape@1.0.0",
                                  "http_status": 200, "response_digest": "ab" * 32}
    assert data["content_digest"] == content_digest(data)
    again = normalise(page(), source="books_toscrape", crawl_id="c2", spider_version="v")
    assert again.content_digest == record.content_digest  # provenance is not in the digest


def test_control_characters_never_reach_a_record():
    # An ESC sequence stored in a title would recolour (or worse) the terminal that prints it.
    record = normalise(page(title="Ctrl\x1b[31mRed\x07 Book\x1b]0;pwned\x07"), source="books_toscrape",
                       crawl_id="c1", spider_version="v")
    assert record.title == "CtrlRed Book"
    assert record.content_digest == content_digest(record.to_dict())


@pytest.mark.parametrize(("override", "reason"), [
    ({"title": "  "}, "no title"),
    ({"price": Decimal("-1")}, "bad price"),
    ({"price": None}, "bad price"),
    ({"currency": "pounds"}, "bad currency"),
    ({"availability": "maybe"}, "bad availability"),
    ({"stock_count": -3}, "bad stock_count"),
    ({"rating": 7.0}, "bad rating"),
    ({"product_id": ""}, "no product_id"),
])
def test_normalise_rejects_out_of_contract_values(override, reason):
    with pytest.raises(ValueError, match=reason):
        normalise(page(**override), source="s", crawl_id="c", spider_version="v")


def test_quarantine_row_shape():
    row = quarantine_row(source="books_toscrape", reason="parse_error: no price", crawl_id="c1",
                         url="http://x/", http_status=200, record={"b": 1, "a": "é"},
                         quarantined_at=WHEN)
    assert tuple(row) == QUARANTINE_FIELDS
    assert row["stage"] == "harvest" and row["product_id"] is None
    assert row["record_json"] == '{"a":"é","b":1}'
    assert row["quarantined_at"] == "2026-01-02T03:04:05+00:00"
