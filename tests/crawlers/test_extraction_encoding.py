"""One charset rule for every harvest path: what a page declares, unless its own bytes overrule it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from crawlers.extraction.charset_guess import CharsetUndecided
from crawlers.extraction.encoding import decode_page, fallback_encoding
from edge_insights.cli import app

PAGE = '<html><head>{meta}</head><body><h1>Café crème</h1><p class="price">12,50 €</p></body></html>'


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (PAGE.format(meta="").encode("cp1252"), "", "cp1252"),  # declares nothing, not UTF-8
    (PAGE.format(meta="").encode("utf-8"), "", None),  # declares nothing, UTF-8
    (PAGE.format(meta="").encode("utf-8"), "text/html; charset=ISO-8859-1", "utf-8"),  # a server's default
    (PAGE.format(meta='<meta charset="windows-1251">').encode("utf-8"), "", "utf-8"),
    (PAGE.format(meta='<meta charset="windows-1252">').encode("cp1252"), "", None),  # as declared
    ("\ufeff".encode("utf-8") + PAGE.format(meta="").encode("utf-8"), "text/html; charset=cp1252", None),
])
def test_the_pages_own_bytes_settle_a_missing_or_wrong_charset(body, content_type, expected):
    assert fallback_encoding(body, content_type) == expected
    assert "Café crème" in decode_page(body, content_type)


def test_extract_reads_a_saved_legacy_page_without_a_charset_as_the_crawl_does(tmp_path):
    page = tmp_path / "page.html"
    page.write_bytes(PAGE.format(meta="").encode("cp1252"))  # read as UTF-8 it was "Caf� cr�me", no EUR
    result = CliRunner().invoke(app, ["extract", str(page), "--url", "https://shop.example.fr/p/1"])
    assert result.exit_code == 0, result.output
    assert '"title": "Café crème"' in result.stdout and '"currency": "EUR"' in result.stdout


JAPANESE = ('<html><head><title>吾輩は猫である（新潮文庫）</title></head><body><div class="product_main"><h1>吾輩は猫である</h1>'
            '<p class="price_color">1,320円</p><p class="instock availability">在庫あり (5 点)</p></div>'
            '<div id="product_description"><p>中学教師苦沙弥先生の書斎に集まる明治の俗物紳士達の語る珍談・奇譚、小事件の'
            "数かずを、先生の家に迷いこんで飼われている猫の眼から風刺的に描いた漱石最初の長編小説。</p></div>"
            "<table><tr><th>UPC</th><td>jp-0001</td></tr></table></body></html>")
RUSSIAN = ('<html><head><title>Мастер и Маргарита</title></head><body><div class="product_main"><h1>Мастер и Маргарита'
           '</h1><p class="price_color">450 руб.</p><p class="instock availability">В наличии (5 шт.)</p></div>'
           '<div id="product_description"><p>Роман Михаила Булгакова, работа над которым началась в конце 1920-х годов '
           "и продолжалась вплоть до смерти писателя.</p></div><table><tr><th>UPC</th><td>ru-0001</td></tr></table>"
           "</body></html>")
# A title and a price: too few bytes to tell Shift-JIS from windows-1251, which reads them as cleanly.
SHORT_JAPANESE = ('<html><body><div class="product_main"><h1>吾輩は猫である</h1><p class="price_color">1,320円（税込）'
                  "</p></div></body></html>")


@pytest.mark.parametrize(("text", "charset", "expected"), [
    (JAPANESE, "shift_jis", "cp932"),  # read as windows-1252 it was "‹g”y‚Í”L‚Å‚ ‚é", or not valid at all
    (JAPANESE, "euc_jp", "euc_jp"),
    (RUSSIAN, "cp1251", "cp1251"),  # read as windows-1252 it was "Ìàñòåð è Ìàðãàðèòà"
    (RUSSIAN, "koi8_r", "koi8_r"),
])
def test_an_undeclared_page_in_another_legacy_charset_is_read_in_it(text, charset, expected):
    body = text.encode(charset)
    assert fallback_encoding(body, "text/html") == expected
    assert decode_page(body, "text/html") == text


@pytest.mark.parametrize("broken", [
    lambda body: body[:body.index("Булгакова".encode("utf-8")) + 1],  # cut in the middle of "Б"
    lambda body: body.replace(b"<h1>", b"<h1>\xff", 1),  # one stray byte
])
def test_an_undeclared_utf8_page_with_a_few_broken_bytes_stays_utf8(broken):
    # Refused before as "the bytes read as no legacy charset" (and mojibake as windows-1252 before that).
    body = broken(RUSSIAN.encode("utf-8"))
    assert fallback_encoding(body, "text/html") == "utf-8"
    assert "<title>Мастер и Маргарита</title>" in decode_page(body, "text/html")


@pytest.mark.parametrize(("text", "charset"), [(JAPANESE, "shift_jis"), (JAPANESE, "euc_jp"), (RUSSIAN, "cp1251")])
def test_legacy_bytes_that_happen_to_hold_utf8_sequences_are_no_utf8(text, charset):
    assert fallback_encoding(text.encode(charset), "text/html") != "utf-8"


def test_an_undeclared_page_whose_bytes_fit_several_charsets_is_refused_not_guessed():
    body = SHORT_JAPANESE.encode("shift_jis")
    with pytest.raises(CharsetUndecided, match=r"^encoding_error: no charset declared, and the bytes read as "):
        decode_page(body)


def test_extract_refuses_a_saved_page_no_single_charset_reads_and_reads_the_others(tmp_path):
    short, russian = tmp_path / "short.html", tmp_path / "russian.html"
    short.write_bytes(SHORT_JAPANESE.encode("shift_jis"))
    russian.write_bytes(RUSSIAN.encode("cp1251"))
    result = CliRunner().invoke(app, ["extract", str(short), str(russian)])
    assert result.exit_code == 1, result.output
    refused, read = result.stdout.splitlines()
    assert '"error": "encoding_error: no charset declared, and the bytes read as ' in refused
    assert '"title": "Мастер и Маргарита"' in read and '"currency": "RUB"' in read


def test_the_product_spider_quarantines_a_page_no_single_charset_reads():
    from scrapy.http import HtmlResponse, Request

    from crawlers.spiders.product import ProductSpider

    link = "http://shop.test/p/1"
    response = HtmlResponse(link, status=200, body=SHORT_JAPANESE.encode("shift_jis"),
                            headers={"Content-Type": "text/html"}, request=Request(link, meta={"link": link}))
    [row] = ProductSpider(start_urls=link, crawl_id="c1").parse(response)
    assert row.row["reason"] == "encoding_error: no charset declared, and the bytes read as cp932 or cp1251"
