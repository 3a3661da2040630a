"""``edge-insights crawl`` (Scrapy, the books spider) against a loopback shop whose pages are hard to read: prices
with a magnitude or a free word, and pages in Shift-JIS or windows-1251 that declare no charset anywhere (no
Content-Type charset, no meta). Each ends as the record it means or a quarantine row saying why, never a wrong
amount or a mojibake title."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_extraction_encoding import JAPANESE, RUSSIAN, SHORT_JAPANESE

from crawlers.static_site import KeepAliveHandler, serve_in_thread
from data_quality.rules import split_valid

pytestmark = pytest.mark.slow  # crawls in a subprocess

REPO = Path(__file__).resolve().parents[2]


def book(name: str, price: str) -> bytes:
    return (f'<html><body><div class="product_main"><h1>Book {name}</h1><p class="price_color">{price}</p>'
            f'<p class="instock availability">In stock (5 available)</p></div><table>'
            f"<tr><th>UPC</th><td>upc-{name}</td></tr></table></body></html>").encode()


#: Path → (body, Content-Type); the legacy pages are sent with no charset, and they name none themselves.
PAGES = {
    "/p/kilo": (book("kilo", "£1.2k"), "text/html; charset=utf-8"),
    "/p/kyat": (book("kyat", "5K"), "text/html; charset=utf-8"),
    "/p/gratis": (book("gratis", "Kostenlos"), "text/html; charset=utf-8"),
    "/p/shipping": (book("shipping", "19,99 € Versand kostenlos"), "text/html; charset=utf-8"),
    "/p/sjis": (JAPANESE.encode("shift_jis"), "text/html"),
    "/p/ru": (RUSSIAN.encode("cp1251"), "text/html"),
    "/p/short": (SHORT_JAPANESE.encode("shift_jis"), "text/html"),
}


class Shop(KeepAliveHandler):
    """``/list.html`` links every page of :data:`PAGES`."""

    def do_GET(self) -> None:
        if self.path == "/list.html":
            tiles = "".join(f'<article class="product_pod"><h3><a href="{path}">t</a></h3></article>' for path in PAGES)
            self.send_body(200, f"<html><body>{tiles}</body></html>".encode())
        elif self.path in PAGES:
            self.send_body(200, PAGES[self.path][0], content_type=PAGES[self.path][1])
        else:
            self.send_not_found()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> dict[str, dict]:
    """Path → its record (``kept``) or its quarantine row (``reason``), crawl and offer rules applied."""
    out = tmp_path_factory.mktemp("readings")
    with serve_in_thread(Shop, "readings") as base:
        done = subprocess.run([sys.executable, "-m", "edge_insights", "crawl", "--start-url", base + "list.html",
                               "--out", str(out), "--crawl-id", "readings", "--set", "AUTOTHROTTLE_START_DELAY=0"],
                              cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (out / "items.jsonl").read_text("utf-8").splitlines()]
    crawl_rows = [json.loads(line) for line in (out / "quarantine.jsonl").read_text("utf-8").splitlines()]
    split = split_valid(records, "offer")
    rows = [*crawl_rows, *split.quarantined]
    outcomes = {row["url"].removeprefix(base[:-1]): {"kept": row} for row in split.kept}
    outcomes |= {row["url"].removeprefix(base[:-1]): {"reason": row["reason"], "row": row} for row in rows}
    assert len(records) + len(crawl_rows) == len(PAGES) == len(outcomes)
    return outcomes


def test_a_price_with_a_magnitude_is_the_amount_it_means_or_quarantined_saying_why(crawled):
    kilo = crawled["/p/kilo"]["kept"]
    assert (kilo["price"], kilo["currency"]) == ("1200", "GBP")  # read as 1.2 before
    assert crawled["/p/kyat"]["reason"] == "parse_error: no price (5K: K may be a currency or a thousand)"


def test_a_free_product_costs_0_and_free_shipping_keeps_the_price(crawled):
    free = crawled["/p/gratis"]
    # 0, not "no price": the offer rules then hold it back as every non-positive price (a window's log ratio),
    # and as a price in no currency.
    assert json.loads(free["row"]["record_json"])["price"] == "0"
    assert free["reason"] == "price_not_positive; currency_not_iso4217"
    shipping = crawled["/p/shipping"]["kept"]
    assert (shipping["price"], shipping["currency"]) == ("19.99", "EUR")


def test_an_undeclared_legacy_page_is_read_in_its_charset_or_quarantined_never_mojibake(crawled):
    japanese, russian = crawled["/p/sjis"]["kept"], crawled["/p/ru"]["kept"]
    assert (japanese["title"], japanese["price"], japanese["currency"]) == ("吾輩は猫である", "1320", "JPY")
    assert (russian["title"], russian["price"], russian["currency"]) == ("Мастер и Маргарита", "450", "RUB")
    assert crawled["/p/short"]["reason"] == "encoding_error: no charset declared, and the bytes read as cp932 or cp1251"
