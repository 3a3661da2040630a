"""Review-feed intake on the real review files, plus hand-made bad rows."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import pytest

from crawlers.feeds import read_feed_file, read_review_feed
from commons.quarantine import QUARANTINE_FIELDS
from commons.record import content_digest


@pytest.fixture(scope="module")
def reviews(data_dir: Path) -> Path:
    return data_dir / "reviews"


@pytest.fixture(scope="module")
def feed(reviews: Path) -> dict:
    records, quarantine = read_review_feed(reviews, "feed-test")
    return {"records": records, "quarantine": quarantine,
            "by_url": {r["url"]: r for r in records}}


def rows_in(path: Path) -> int:
    """Data rows of a file, counted independently of the reader under test."""
    if path.suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as handle:
            return sum(1 for _ in csv.reader(handle, delimiter="\t" if path.suffix == ".tsv"
                                             else ",")) - 1
    return path.read_bytes().count(b"\r\n")


def test_every_row_is_a_record_or_quarantined(feed, reviews):
    records = Counter(r["source"] for r in feed["records"])
    quarantined = Counter(q["source"] for q in feed["quarantine"])
    expected = {"datafiniti_amazon_reviews": 3503, "amazon_alexa_reviews": 2259,
                "amazon_cells_labelled": 700, "yelp_labelled": 677, "imdb_labelled": 665}
    for stem, count in expected.items():
        [path] = list(reviews.rglob(f"{stem}.*"))
        assert rows_in(path) == count
        assert records[f"reviews/{stem}"] + quarantined[f"reviews/{stem}"] == count, stem
    assert quarantined == {"reviews/amazon_alexa_reviews": 61}
    assert {q["reason"] for q in feed["quarantine"]} == {"empty_text"}


def test_records_follow_the_signal_contract(feed):
    for record in feed["records"]:
        assert record["availability"] == "unknown" and record["price"] is None
        assert record["provenance"]["spider_version"] == "review_feed@1.0.0"
        assert record["provenance"]["http_status"] is None
        assert record["provenance"]["crawl_id"] == "feed-test"
        assert record["rating"] is None or 1 <= record["rating"] <= 5
        assert isinstance(record["feedback"], bool) or record["feedback"] is None
        assert len(record["review_text"]) == 1 and record["review_text"][0].strip()
        assert record["content_digest"] == content_digest(record)
    assert all(tuple(q) == QUARANTINE_FIELDS for q in feed["quarantine"])


def test_known_datafiniti_review(feed, reviews):
    path = reviews / "datafiniti_amazon_reviews.csv"
    record = feed["by_url"][f"file://{path}#2"]
    assert record["source"] == "reviews/datafiniti_amazon_reviews"
    assert record["product_id"] == "B00ZV9PXP2"
    assert record["title"] == 'Amazon Kindle E-Reader 6" Wifi (8th Generation, 2016)'
    assert record["rating"] == 3.0 and record["feedback"] is False
    assert record["author"] == "llyyue"
    assert record["review_text"] == [
        "Too small. I thought it would be as big as small paper but turn out to be just like my "
        "palm. I think it is too small to read on it... not very comfortable as regular Kindle. "
        "Would definitely recommend a paperwhite instead."]
    raw_line = path.read_bytes().splitlines()[1]
    assert record["provenance"]["response_digest"] == hashlib.sha256(raw_line).hexdigest()


def test_known_alexa_review_and_quarantined_empty_one(feed, reviews):
    path = reviews / "amazon_alexa_reviews.tsv"
    record = feed["by_url"][f"file://{path}#2"]
    assert (record["product_id"], record["title"], record["rating"], record["feedback"],
            record["author"], record["review_text"]) == (
        "amazon-alexa:charcoal-fabric", "Charcoal Fabric", 5.0, True, None, ["Love my Echo!"])
    [row] = [q for q in feed["quarantine"] if q["url"] == f"file://{path}#63"]
    assert row["product_id"] == "amazon-alexa:heather-gray-fabric"
    assert row["reason"] == "empty_text" and row["crawl_id"] == "feed-test"
    assert '"verified_reviews":" "' in row["record_json"]


def test_uci_lines_decode_latin1_and_unquote(feed, reviews):
    imdb = reviews / "uci_sentiment_sentences" / "imdb_labelled.txt"
    raw = imdb.read_bytes().split(b"\r\n")[148]
    assert b"clich\xe9s" in raw  # not valid UTF-8
    record = feed["by_url"][f"file://{imdb}#149"]
    assert "clichés" in record["review_text"][0]
    assert record["product_id"] == "uci:imdb" and record["feedback"] is False
    assert record["provenance"]["response_digest"] == hashlib.sha256(raw).hexdigest()
    cells = reviews / "uci_sentiment_sentences" / "amazon_cells_labelled.txt"
    assert feed["by_url"][f"file://{cells}#8"]["review_text"] == [
        'The design is very odd, as the ear "clip" is not very comfortable at all.']


def test_bad_rows_are_quarantined_with_reasons(tmp_path):
    alexa = tmp_path / "amazon_alexa_reviews.tsv"
    alexa.write_text("rating\tdate\tvariation\tverified_reviews\tfeedback\n"
                     "5\t1-Jul-18\tBlack  Dot\tGreat\t1\n"
                     "9\t1-Jul-18\tBlack\tToo good\t1\n"
                     "x\t1-Jul-18\tBlack\tOdd\t1\n"
                     "4\t1-Jul-18\tBlack\tFine\t2\n"
                     "4\t1-Jul-18\tBlack\n", "utf-8")
    load = read_feed_file(alexa, "bad")
    assert load.rows_in == 5 and len(load.records) == 1
    assert load.records[0]["product_id"] == "amazon-alexa:black-dot"
    assert [q["reason"] for q in load.quarantine] == [
        "rating_out_of_range: 9", "bad_rating: 'x'", "bad_label: '2'",
        "bad_row: 3 fields, expected 5"]
    assert [q["url"].rsplit("#", 1)[1] for q in load.quarantine] == ["3", "4", "5", "6"]

    uci = tmp_path / "yelp_labelled.txt"
    uci.write_bytes(b"Good food\t1\r\nno label here\r\n  \t0\r\nMeh\tmaybe\r\n")
    load = read_feed_file(uci, "bad")
    assert load.rows_in == 4 and [r["review_text"] for r in load.records] == [["Good food"]]
    assert [q["reason"] for q in load.quarantine] == [
        "bad_row: no tab", "empty_text", "bad_label: 'maybe'"]


def test_a_cell_over_the_cell_limit_quarantines_its_row_not_the_feed(tmp_path):
    alexa = tmp_path / "amazon_alexa_reviews.tsv"
    alexa.write_text("rating\tdate\tvariation\tverified_reviews\tfeedback\n"
                     "5\t1-Jul-18\tBlack  Dot\tGreat\t1\n"
                     f"4\t1-Jul-18\tBlack\t\"{'Long. ' * 25_000}\nStill long.\"\t1\n"
                     "4\t1-Jul-18\tBlack\tFine\t1\n", "utf-8")
    load = read_feed_file(alexa, "long-cell")
    assert load.rows_in == 3 and [r["review_text"] for r in load.records] == [["Great"], ["Fine"]]
    [held] = load.quarantine
    assert held["reason"] == "bad_row: a cell of 150,012 characters; a cell holds at most 131,072"


def test_a_row_swallowed_by_an_open_quote_is_quarantined(tmp_path):
    alexa = tmp_path / "amazon_alexa_reviews.tsv"
    alexa.write_text("rating\tdate\tvariation\tverified_reviews\tfeedback\n"
                     '5\t1-Jul-18\tBlack  Dot\t"Great\t1\n'
                     '4\t1-Jul-18\tBlack\tFine"\t1\n'
                     '4\t1-Jul-18\tBlack\t"Two lines,\nas reviews have"\t1\n', "utf-8")
    load = read_feed_file(alexa, "open-quote")
    assert load.rows_in == 2 and [r["review_text"] for r in load.records] == [["Two lines, as reviews have"]]
    [held] = load.quarantine
    assert held["reason"] == "bad_row: line 3 inside a quoted cell reads as a whole row (a quote left open?)"


def test_an_empty_file_is_zero_rows_in_and_out(tmp_path):
    empty = tmp_path / "amazon_alexa_reviews.tsv"
    empty.write_bytes(b"")
    load = read_feed_file(empty, "empty")
    assert (load.rows_in, load.records, load.quarantine) == (0, [], [])


def test_folder_without_feeds_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_review_feed(tmp_path, "none")


def test_a_feed_saved_with_a_bom_reads_as_without(reviews, tmp_path):
    # Excel writes UTF-8 with a BOM; it must not become part of the first header name ("\ufeffrating").
    source = reviews / "amazon_alexa_reviews.tsv"
    head = b"".join(source.read_bytes().splitlines(keepends=True)[:51])
    plain, bom = tmp_path / "plain" / source.name, tmp_path / "bom" / source.name
    for path, data in ((plain, head), (bom, b"\xef\xbb\xbf" + head)):
        path.parent.mkdir()
        path.write_bytes(data)
    expected, with_bom = read_feed_file(plain, "bom"), read_feed_file(bom, "bom")
    assert with_bom.rows_in == expected.rows_in == 50
    assert len(with_bom.records) == len(expected.records) == 50 and with_bom.quarantine == []
    assert [r["rating"] for r in with_bom.records] == [r["rating"] for r in expected.records]
    assert with_bom.records[0]["rating"] == 5 and with_bom.records[0]["review_text"] == ["Love my Echo!"]


@pytest.mark.parametrize(("name", "header", "named"), [
    ("datafiniti_amazon_reviews.csv", "id,asins,reviews.rating,review_text\n", "no reviews.text column"),
    ("amazon_alexa_reviews.tsv", "rating\tdate\tvariation\treview\tfeedback\n", "no verified_reviews column"),
    ("amazon_alexa_reviews.tsv", "rating\tdate\tverified_reviews\tverified_reviews\tfeedback\n",
     "names verified_reviews more than once"),
])
def test_a_feed_whose_text_column_is_missing_or_doubled_is_an_error_naming_it(reviews, tmp_path, name, header, named):
    # The real file's first rows under a header whose text column is misnamed: not 3 "empty_text" rows.
    body = (reviews / name).read_text(encoding="utf-8").splitlines(keepends=True)[1:4]
    (tmp_path / name).write_text(header + "".join(body), encoding="utf-8")
    with pytest.raises(ValueError, match=named):
        read_feed_file(tmp_path / name, "bad-header")
