"""One charset rule for every harvest path: what a page declares, unless its own bytes overrule it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

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
