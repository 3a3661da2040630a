"""PII scrubbing: known strings, real labelled recall, real-review false positives, records."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from commons.record import Provenance, SignalRecord, content_digest
from data_quality.pii import Span, find_pii, resolve_overlaps, scrub_author, scrub_record, scrub_text, scrub_title
from data_quality.pii_eval import altered, load_presidio, load_review_texts, recall_by_type


@pytest.fixture(scope="module")
def presidio(data_dir):
    return load_presidio(data_dir)


@pytest.fixture(scope="module")
def reviews(data_dir):
    return load_review_texts(data_dir)


@pytest.mark.parametrize(("text", "expected"), [
    ("Write to UshurmaDratchev@rhyta.com today", "Write to <EMAIL> today"),
    ("Call me on +44 20 7946 0958 after 5pm.", "Call me on <PHONE> after 5pm."),
    ("Mobile: 07700 900 461", "Mobile: <PHONE>"),
    # Luhn-valid numbers from the Presidio samples: Visa, and a Mastercard 2-series (2221-2720).
    ("card 4454 7945 1139 0933 exp 12 25", "card <CARD> exp 12 25"),
    ("pay with 2297051310616322 please", "pay with <CARD> please"),
    ("IBAN GB56 HXDO 8816 7774 6561 19 and thanks", "IBAN <IBAN> and thanks"),
    ("iban gb50mvfc38361978683032.", "iban <IBAN>."),
    ("from 86.121.97.248 and 4f8a:c99e:dc86:faf9:5988:5f63:375e:8a2a", "from <IP> and <IP>"),
    ("my SSN is 460-89-9847", "my SSN is <SSN>"),
    ("ping @bob_smith about it", "ping <HANDLE> about it"),
    ("see https://twitter.com/bob_smith", "see <URL_USER>"),
    ("you please block my credit card ASAP ? My name is David Mauer.",
     "you please block my credit card ASAP ? My name is <PERSON>."),
    ("Ask Dr. Emily Božić about it", "Ask <PERSON> about it"),
    ("Works fine.\nThanks, Anna", "Works fine.\nThanks, <PERSON>"),
])
def test_known_pii_is_replaced_by_typed_placeholder(text, expected):
    assert scrub_text(text)[0] == expected


@pytest.mark.parametrize("text", [
    "5 stars for $49.99, bought 2 in 2017",
    "Order #112-3456789-1234567 arrived on 2017-09-03, firmware 5.3.1.1",
    "UPC 036000291452, ASIN B00ZV9PXP2, 1080p, 5,000 mAh, 12:30:45",
    "I am Very Happy with it! The product name is Echo Dot - Love It",
    "bought on 05.03.2024, arrived 12.03.2024, shipped 2024.03.05 and 12-03-2024",
    "Loved it (at first), 100% sure it is the [dot] matrix kind",
])
def test_ordinary_review_numbers_and_words_stay(text):
    assert scrub_text(text) == (text, {})


@pytest.mark.parametrize("needle", [
    "I saved well over $150 on one of the 5 books",
    "3 stars for that reason",
    "disconnects from the speaker about 12-20 times a day",
])
def test_real_reviews_with_numbers_are_unchanged(reviews, needle):
    texts = [t for file_texts in reviews.values() for t in file_texts if needle in t]
    assert texts, f"review containing {needle!r} not found in the shared data"
    assert [scrub_text(t)[0] for t in texts] == texts


def test_counts_and_no_nested_placeholders():
    text = ("mail a.b@example.com, card 4454-7945-1139-0933, host 192.168.100.200, "
            "login https://bob:pw@example.com, ssn 460-89-9847")
    scrubbed, counts = scrub_text(text)
    assert counts == {"EMAIL": 1, "CARD": 1, "IP": 1, "URL_USER": 1, "SSN": 1}
    assert scrubbed == ("mail <EMAIL>, card <CARD>, host <IP>, "
                        "login <URL_USER>example.com, ssn <SSN>")


def test_recall_on_labelled_presidio_samples(presidio):
    recall = {kind: r.recall for kind, r in recall_by_type(presidio).items()}
    # Targets from the brief: >= 0.95 for structured identifiers; phones are free-form and
    # partly fictional in the samples, 0.90 is the floor we accept.
    for kind in ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"):
        assert recall[kind] >= 0.95, (kind, recall[kind])
    assert recall["PHONE_NUMBER"] >= 0.90
    # Names are found only after explicit cues; the measured value is ~0.12. This guards the
    # cues against silently breaking, it is not a quality target.
    assert recall["PERSON"] >= 0.10


def test_scrubbing_is_idempotent_on_presidio_samples(presidio):
    leftovers = [s["full_text"] for s in presidio if find_pii(scrub_text(s["full_text"])[0])]
    assert leftovers == []


def test_false_positive_rate_on_real_reviews(reviews):
    texts = [t for file_texts in reviews.values() for t in file_texts]
    assert len(texts) > 7000
    # Real reviews hold (almost) no PII; measured 0 of 7804 altered. Allow 0.5%.
    assert len(altered(texts)) / len(texts) <= 0.005


def test_author_becomes_user_placeholder():
    assert scrub_author("Charmi") == "<USER>"
    assert scrub_author("llyyue") == "<USER>"
    assert scrub_author(None) is None
    assert scrub_author("  ") == "  "


def test_scrub_record_recomputes_digest_and_keeps_input():
    record = SignalRecord(
        source="reviews/datafiniti", url="file://reviews.csv#2", product_id="B00ZV9PXP2",
        title="Amazon Kindle E-Reader 6\" Wifi", price=Decimal("79.99"), currency="USD",
        availability="unknown", stock_count=None, rating=5.0,
        review_text=["Easy to use at the beach!!! Questions? mail charmi@example.com"],
        crawled_at=datetime(2017, 6, 6, tzinfo=timezone.utc),
        provenance=Provenance("crawl-1", "feed@1", None, "0" * 64), author="Charmi",
    ).to_dict()
    scrubbed, counts = scrub_record(record)
    assert counts == {"EMAIL": 1, "USER": 1}
    assert scrubbed["review_text"] == ["Easy to use at the beach!!! Questions? mail <EMAIL>"]
    assert scrubbed["author"] == "<USER>"
    assert scrubbed["title"] == record["title"]
    assert scrubbed["content_digest"] == content_digest(scrubbed)
    assert scrubbed["content_digest"] != record["content_digest"]
    assert record["author"] == "Charmi"


def test_a_title_loses_its_identifiers_and_keeps_its_names():
    record = {"title": "Louisa: The Life of Mrs. Adams. Call Jane +44 20 7946 0958 or jane@example.com",
              "review_text": None, "author": None}
    scrubbed, counts = scrub_record(record)
    assert scrubbed["title"] == "Louisa: The Life of Mrs. Adams. Call Jane <PHONE> or <EMAIL>"
    assert counts == {"PHONE": 1, "EMAIL": 1}
    assert scrubbed["content_digest"] == content_digest(scrubbed)
    # A book's title is product text: a list of models and a year range survive.
    for title in ("iPhone 17 / 16 / 15 / 14 Case", "The Best Science Fiction Stories 1800-1849", None, 7,
                  # part and model numbers that numbering plans accept, and versions shaped like IPs
                  "BMW 3 Series E90 2005-2011 Brake Pads", "Bosch 0 986 494 521 Brake Pad Set",
                  "Intel NUC 13 Pro 1.5.0.0", "Router 192.168.1.1 Setup Guide"):
        assert scrub_title(title) == (title, [])
    # After a phone word the same digits may dial (an Indian toll-free number).
    assert scrub_title("Stories, call 1800-1849")[0] == "Stories, call <PHONE>"
    assert scrub_title("Sofa (212) 555-0187, ask @janedoe")[0] == "Sofa <PHONE>, ask <HANDLE>"


def test_scrub_record_rejects_malformed_review_text():
    with pytest.raises(TypeError, match="review_text"):
        scrub_record({"review_text": "not a list"})


def test_a_name_overlapping_an_address_is_cut_to_what_lies_outside_it():
    text = "Dr. Cindy Holinka Apt. 117 5720 Skoanveien"
    address, name = Span(18, 42, "ADDRESS"), Span(0, 21, "PERSON")  # the model's name ran into "Apt"
    assert resolve_overlaps([name, address], text) == [Span(0, 17, "PERSON"), address]
    assert text[0:17] == "Dr. Cindy Holinka"
    # Without the text, or with nothing but white space and digits outside, the span goes.
    assert resolve_overlaps([name, address]) == [address]
    assert resolve_overlaps([Span(17, 26, "PERSON"), address], text) == [address]
    # Structured kinds are never cut: a phone inside a card number is no phone.
    card = Span(0, 19, "CARD")
    assert resolve_overlaps([card, Span(5, 25, "PHONE")], "4111 1111 1111 1111 and more") == [card]
