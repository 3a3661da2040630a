"""Row rules, quarantine rows and the conservation invariant, on records built from real rows."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from commons.quarantine import QUARANTINE_FIELDS
from commons.record import Provenance, SignalRecord
from commons.errors import ConservationError, assert_conserved
from data_quality.quarantine import quarantine_record
from data_quality.rules import failed_rules, split_valid

CRAWLED_AT = datetime(2026, 11, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def books(data_dir):
    """Signal records (plain-dict form) of the first 20 rows of the real books listing."""
    with (data_dir / "books_toscrape" / "books_listing.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:20]
    return [SignalRecord(
        source="books_toscrape", url=row["URL"], product_id=row["URL"], title=row["Title"],
        price=Decimal(row["Price"].lstrip("£")), currency="GBP",
        availability="in_stock" if row["Availability"] == "In stock" else "out_of_stock",
        stock_count=None, rating=float(row["Rate"]), review_text=None, crawled_at=CRAWLED_AT,
        provenance=Provenance("crawl-7", "books@1", 200, "0" * 64),
    ).to_dict() for row in rows]


@pytest.fixture(scope="module")
def reviews(data_dir):
    """Scrubbed-looking review records of the first 20 real Datafiniti reviews."""
    with (data_dir / "reviews" / "datafiniti_amazon_reviews.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:20]
    return [SignalRecord(
        source="reviews/datafiniti", url=f"file://datafiniti_amazon_reviews.csv#{i + 2}",
        product_id=row["asins"], title=row["name"], price=None, currency=None,
        availability="unknown", stock_count=None, rating=float(row["reviews.rating"]),
        review_text=[row["reviews.text"]], crawled_at=CRAWLED_AT,
        provenance=Provenance("feed-3", "feed@1", None, "0" * 64), author="<USER>",
    ).to_dict() for i, row in enumerate(rows)]


def test_real_books_and_reviews_pass(books, reviews):
    assert [failed_rules(r, "offer") for r in books] == [[]] * 20
    assert [failed_rules(r, "review") for r in reviews] == [[]] * 20


def test_book_rules_name_every_failure(books):
    bad = {**books[0], "price": "0", "currency": "XYZ", "availability": "maybe",
           "stock_count": -1, "rating": 7.0, "url": None}
    assert failed_rules(bad, "offer") == [
        "url_missing", "price_not_positive", "currency_not_iso4217", "availability_not_in_enum",
        "stock_count_negative", "rating_outside_0_5"]
    assert failed_rules({**books[1], "price": None, "product_id": " "}, "offer") == [
        "product_id_missing", "price_not_positive"]
    assert failed_rules({**books[2], "price": "NaN"}, "offer") == ["price_not_positive"]
    # What a page can show but the warehouse cannot store as written (DECIMAL(18, 4), BIGINT):
    # refused before the first write, where one such row would fail the partition's flush.
    huge = {**books[3], "price": "99999999999999999999.99", "stock_count": 99999999999999999999999}
    assert failed_rules(huge, "storable") == ["price_over_storable", "stock_count_over_storable"]
    assert failed_rules({**books[3], "price": "99999999999999.99999"}, "storable") == ["price_over_4_decimals"]
    assert failed_rules({**books[3], "price": "0.00001"}, "storable") == ["price_over_4_decimals"]
    fits = {**books[3], "price": "99999999999999.9999", "stock_count": 2**63 - 1}
    assert failed_rules(fits, "storable") == failed_rules(fits, "offer") == []
    assert failed_rules({**books[3], "price": "12.34500"}, "storable") == []


def test_a_row_the_warehouse_cannot_store_is_quarantined_and_the_rest_stored(books, tmp_path):
    from commons.warehouse import Warehouse, flatten
    from data_quality.clean import scrub_records

    rows = [{**books[0], "price": "99999999999999.99999"}, {**books[1], "stock_count": 10**23}, *books[2:5]]
    scrubbed = scrub_records(rows)
    assert [(q["stage"], q["reason"]) for q in scrubbed.quarantined] == [
        ("scrub", "price_over_4_decimals"), ("scrub", "stock_count_over_storable")]
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    stored = wh.write_signals("scrubbed_signals", "p", [flatten(r, "run", "books", "p") for r in scrubbed.kept])
    assert stored == 3


def test_review_rules_name_every_failure(reviews):
    leaked = {**reviews[0], "review_text": [reviews[0]["review_text"][0] + " Mail me: a.b@cuvox.de"],
              "author": "llyyue"}
    assert failed_rules(leaked, "review") == ["residual_pii", "author_not_scrubbed"]
    assert failed_rules({**reviews[1], "review_text": ["  "], "rating": 0}, "review") == [
        "review_text_empty", "rating_outside_1_5"]
    assert failed_rules({**reviews[2], "review_text": None, "product_id": None}, "review") == [
        "product_id_missing", "review_text_empty"]


def test_split_quarantines_with_reasons_and_conserves(books):
    bad_price = {**books[3], "price": "-4.00"}
    bad_currency = {**books[4], "currency": "£"}
    split = split_valid([*books[:3], bad_price, bad_currency], "offer")
    assert split.kept == books[:3]
    assert [q["reason"] for q in split.quarantined] == ["price_not_positive",
                                                        "currency_not_iso4217"]
    row = split.quarantined[0]
    assert tuple(row) == QUARANTINE_FIELDS
    assert (row["stage"], row["source"], row["crawl_id"], row["http_status"]) == (
        "validate", "books_toscrape", "crawl-7", 200)
    assert (row["url"], row["product_id"]) == (books[3]["url"], books[3]["product_id"])
    assert json.loads(row["record_json"])["price"] == "-4.00"
    assert datetime.fromisoformat(row["quarantined_at"]).utcoffset().total_seconds() == 0


def test_quarantined_record_json_is_scrubbed(reviews):
    leaked = {**reviews[0], "review_text": ["call me on +44 20 7946 0958"], "author": "Charmi"}
    row = quarantine_record(leaked, "validate", "residual_pii; author_not_scrubbed")
    stored = json.loads(row["record_json"])
    assert stored["review_text"] == ["call me on <PHONE>"]
    assert stored["author"] == "<USER>"


def test_conservation_raises_on_a_lost_row(books):
    split = split_valid([*books[:5], {**books[5], "rating": 9.5}], "offer")
    assert (len(split.kept), len(split.quarantined)) == (5, 1)
    assert_conserved(6, split.kept, split.quarantined)
    with pytest.raises(ConservationError, match=r"6 in, 4 kept \+ 1 quarantined = 5 out \(\+1 lost\)"):
        assert_conserved(6, split.kept[:-1], split.quarantined)


def test_unknown_rule_set_is_refused(books):
    with pytest.raises(ValueError, match="unknown rule set 'shoes'"):
        split_valid(books, "shoes")


def test_two_pages_of_one_crawl_with_one_product_id_are_both_quarantined(books):
    """Two real book pages given the same UPC (a shop's data error) in one crawl: kept, their
    prices would be a price change seconds apart; both go to quarantine. The same id on feed lines,
    or in another crawl, is no conflict."""
    twin = {**books[1], "product_id": books[0]["product_id"]}
    assert twin["url"] != books[0]["url"] and twin["price"] != books[0]["price"]
    split = split_valid([books[0], twin, *books[2:5]], "offer")
    assert split.kept == books[2:5]
    assert [(q["url"], q["reason"]) for q in split.quarantined] == [
        (books[0]["url"], f"product_id_ambiguous: also at {twin['url']}"),
        (twin["url"], f"product_id_ambiguous: also at {books[0]['url']}")]
    other_crawl = {**twin, "crawl_id": "crawl-8"}
    assert len(split_valid([books[0], other_crawl], "offer").kept) == 2
    feed_lines = [{**books[0], "url": f"file:///feeds/offers.csv#{line}"} for line in (2, 3)]
    assert len(split_valid(feed_lines, "offer").kept) == 2
    assert len(split_valid([books[0], twin], "storable").kept) == 2
