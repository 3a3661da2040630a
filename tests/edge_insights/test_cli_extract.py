"""``edge-insights extract`` and ``edge-insights parse-price`` on real inputs."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_insights.cli import app

runner = CliRunner()


def _page(data_dir: Path, prefix: str) -> Path:
    return next((data_dir / "product_pages_zyte_benchmark" / "html").glob(f"{prefix}*.html.gz"))


def test_extract_one_page(data_dir):
    url = "https://www.ikea.com/gb/en/p/moeckelby-table-oak-00293772/"
    result = runner.invoke(app, ["extract", str(_page(data_dir, "0666abeb")), "--url", url])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["url"] == url
    assert (record["price"], record["currency"], record["availability"]) == ("450", "GBP",
                                                                             "in_stock")
    assert record["product_id"] == "002.937.72"


def test_extract_several_pages_one_line_each(data_dir, tmp_path):
    plain = tmp_path / "page.html"  # an uncompressed copy of the amazon.com page
    plain.write_bytes(gzip.decompress(_page(data_dir, "0094967f").read_bytes()))
    result = runner.invoke(app, ["extract", str(_page(data_dir, "0666abeb")), str(plain)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    # No --url: each page's own <link rel=canonical>.
    assert lines[0]["url"] == "https://www.ikea.com/gb/en/p/moeckelby-table-oak-00293772/"
    assert lines[1]["url"].startswith("https://www.amazon.com/")
    assert lines[1]["availability"] == "out_of_stock"


def test_extract_falls_back_to_a_file_url(data_dir, tmp_path):
    fixture = data_dir / "schemaorg_fixtures_extruct" / "schema.org" / "product.html"
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    shutil.copy(fixture, first)
    shutil.copy(fixture, second)
    result = runner.invoke(app, ["extract", str(first), str(second)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["url"] for r in records] == [first.resolve().as_uri(), second.resolve().as_uri()]
    assert {r["price"] for r in records} == {"119.99"}


def test_a_listing_page_is_refused_beside_a_product_page(data_dir):
    site = data_dir / "books_toscrape" / "site"
    detail = site / "catalogue" / "a-light-in-the-attic_1000" / "index.html"
    result = runner.invoke(app, ["extract", str(site / "index.html"), str(detail)])
    assert result.exit_code == 1
    refused, record = (json.loads(line) for line in result.stdout.splitlines())
    # The home page lists 20 books at 20 different prices; before, it gave a record titled
    # "All products" at the first book's price.
    assert refused["page"] == str(site / "index.html")
    assert "listing page: its 20 different prices" in refused["error"]
    assert (record["title"], record["price"], record["stock_count"]) == ("A Light in the Attic",
                                                                         "51.77", 22)


def test_a_page_over_the_crawls_size_limit_or_not_gzip_is_refused_and_the_run_goes_on(data_dir, tmp_path):
    bomb = tmp_path / "bomb.html.gz"  # 6 MB of spaces in a file of a few KB: it is never inflated past 5 MiB
    bomb.write_bytes(gzip.compress(b'<html><body><h1>Bomb</h1><p class="price">$5</p>' + b" " * 6_000_000
                                   + b"</body></html>"))
    big = tmp_path / "big.html"
    big.write_bytes(b"<html><body><h1>Big</h1>" + b" " * (5 * 1024 * 1024) + b"</body></html>")
    not_gzip = tmp_path / "page.html.gz"
    not_gzip.write_bytes(b"<html><body><h1>Plain</h1></body></html>")
    pages = [bomb, not_gzip, big, _page(data_dir, "0666abeb")]
    result = runner.invoke(app, ["extract", *map(str, pages)])
    assert result.exit_code == 1, result.output
    *refused, record = (json.loads(line) for line in result.stdout.splitlines())
    assert refused == [
        {"page": str(bomb), "error": "over 5,242,880 bytes inflated; a page may hold at most 5,242,880 "
                                     "(the crawl's too_large)"},
        {"page": str(not_gzip), "error": "not a valid gzip file (Not a gzipped file (b'<h'))"},
        {"page": str(big), "error": "5,242,918 bytes; a page may hold at most 5,242,880 (the crawl's too_large)"}]
    assert (record["price"], record["currency"]) == ("450", "GBP")


def test_extract_one_page_needs_a_url(data_dir):
    result = runner.invoke(app, ["extract", str(_page(data_dir, "0666abeb"))])
    assert result.exit_code == 2


def test_one_url_for_several_pages_is_refused(data_dir):
    # It gave every page that URL and so one product_id (a new user's pass, 2026-12-03).
    result = runner.invoke(app, ["extract", str(_page(data_dir, "0666abeb")), str(_page(data_dir, "0094967f")),
                                 "--url", "https://example.com/x"])
    assert result.exit_code == 2 and result.stdout.count("{") == 0


def test_parse_price():
    result = runner.invoke(app, ["parse-price", "1.234,56 €"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"amount": "1234.56", "currency": "EUR"}


def test_parse_price_with_hint_and_without_price():
    hinted = runner.invoke(app, ["parse-price", "12.50", "--currency-hint", "£"])
    assert json.loads(hinted.stdout) == {"amount": "12.50", "currency": "GBP"}
    empty = runner.invoke(app, ["parse-price", "no price here"])
    assert json.loads(empty.stdout) == {"amount": None, "currency": None}


@pytest.mark.parametrize(("text", "hint", "currency"), [
    # An ambiguous symbol takes the hinted currency it can stand for...
    ("10 $", "CAD", "CAD"), ("kr 99", "NOK", "NOK"),
    # ...and keeps its own reading when the hint cannot be written with it.
    ("10 $", "NOK", "USD"), ("£10", "USD", "GBP"),
])
def test_a_hint_settles_an_ambiguous_symbol(text, hint, currency):
    result = runner.invoke(app, ["parse-price", text, "--currency-hint", hint])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["currency"] == currency


@pytest.mark.parametrize(("hint", "why"), [
    ("XYZ", "'XYZ' names no currency the parser knows"),
    ("XXX", "'XXX' names no currency the parser knows"),  # ISO 4217's "no currency"
    ("kr", "'kr' is ambiguous (it may be DKK, EEK, ISK, NOK, SEK)"),
])
def test_a_currency_hint_the_parser_cannot_read_is_refused(hint, why):
    # "XYZ" is no ISO 4217 code; "kr" is Swedish, Norwegian, Danish or Icelandic: both were dropped silently.
    refused = runner.invoke(app, ["parse-price", "12.50", "--currency-hint", hint])
    assert refused.exit_code == 2 and refused.stdout == ""
    # The message is wrapped in a box: compare its words.
    assert why in " ".join(refused.output.replace("│", " ").split())


@pytest.mark.parametrize(("text", "expected"), [
    # A minus glued to the symbol or the number is kept (a refund/discount line).
    ("-$5.00", {"amount": "-5.00", "currency": "USD"}),
    # The current price, not the former one.
    ("Was $20 Now $15", {"amount": "15", "currency": "USD"}),
    # The amount beside the currency, not a count.
    ("3 issues for only 14,85 EUR", {"amount": "14.85", "currency": "EUR"}),
])
def test_parse_price_reads_the_amount_to_pay(text, expected):
    result = runner.invoke(app, ["parse-price", text])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected
