"""``edge-insights evaluate`` on folders of real data that it cannot score: one line naming why, exit 2.

``--pod`` points at a port nothing listens on: the data is read before any pod (or deployed champion)
is asked, so a folder that gives no example never gets that far.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_insights.cli import app
from edge_insights.evaluate import LOADERS

NO_POD = "http://127.0.0.1:9"


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("EDGE_INSIGHTS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def evaluate(decision: str, folder: Path):
    return CliRunner().invoke(app, ["evaluate", decision, "--data-dir", str(folder), "--pod", NO_POD])


def test_price_rows_all_quarantined_is_no_examples_with_the_reason(data_dir, state, tmp_path):
    # The first 60 real observations, each with a mistyped ASIN (the first 4 characters of the real one).
    with gzip.open(data_dir / "price_history_amazon_jp" / "observations.csv.gz", "rt", encoding="utf-8") as handle:
        header, *rows = [next(handle) for _ in range(61)]
    first_asin = rows[0].split(",")[1]
    assert first_asin == "B0BXSKY533"
    broken = [",".join([cells[0], cells[1][:4], *cells[2:]]) for cells in (row.split(",") for row in rows)]
    folder = tmp_path / "prices"
    folder.mkdir()
    (folder / "observations.csv.gz").write_bytes(gzip.compress((header + "".join(broken)).encode(), mtime=0))

    result = evaluate("price_spike", folder)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    # 60 rows, all quarantined by the ASIN check; the most common reason names one of the short ids.
    message = " ".join(result.output.split())
    assert message.startswith(f"no labelled price_spike examples found in {folder} (60 row(s) quarantined; "
                              "most common reason, ")
    assert "row(s): asin: not a 10-character ASIN ('B0" in message
    frame, quarantined = LOADERS["price_spike"](folder)
    assert (frame.height, frame.columns, quarantined.total()) == (0, ["product_id", "title", "price", "crawled_at"], 60)


def test_a_bom_review_file_gives_the_examples_of_the_plain_one(data_dir, tmp_path):
    source = data_dir / "reviews" / "amazon_alexa_reviews.tsv"
    folder = tmp_path / "reviews"
    folder.mkdir()
    head = b"".join(source.read_bytes().splitlines(keepends=True)[:51])
    (folder / source.name).write_bytes(b"\xef\xbb\xbf" + head)
    frame, quarantined = LOADERS["negative_review"](folder)
    assert (frame.height, quarantined.total()) == (50, 0)
    assert frame["rating"][0] == 5 and frame["review_text"][0].to_list() == ["Love my Echo!"]


@pytest.fixture
def books(data_dir, tmp_path) -> Path:
    """The first 20 real book pages, laid out like ``books_toscrape``."""
    folder = tmp_path / "books"
    for page in sorted((data_dir / "books_toscrape" / "site").glob("catalogue/*/index.html"))[:20]:
        target = folder / "site" / "catalogue" / page.parent.name / "index.html"
        target.parent.mkdir(parents=True)
        shutil.copyfile(page, target)
    return folder


def test_an_unparseable_book_page_is_named(books, state):
    frame, _ = LOADERS["urgent_inventory"](books)
    assert frame.height == 20 and frame["title"][0] == "A Court of Thorns and Roses (A Court of Thorns and Roses #1)"
    bad = books / "site" / "catalogue" / "zz_9" / "index.html"
    bad.parent.mkdir()
    bad.write_text("<html></html>", "utf-8")

    result = evaluate("urgent_inventory", books)
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == (
        f"error: {books} cannot be read as urgent_inventory data: site/catalogue/zz_9/index.html: no title")


def test_a_book_page_no_single_charset_reads_is_named(books, state):
    bad = books / "site" / "catalogue" / "zz_9" / "index.html"
    bad.parent.mkdir()
    # Declares no charset, is not UTF-8, and reads as Shift-JIS or windows-1251 alike: no guess, the page named.
    bad.write_bytes('<html><body><div class="product_main"><h1>吾輩は猫である</h1><p class="price_color">1,320円（税込）'
                    "</p></div></body></html>".encode("shift_jis"))
    result = evaluate("urgent_inventory", books)
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == (
        f"error: {books} cannot be read as urgent_inventory data: site/catalogue/zz_9/index.html: "
        "encoding_error: no charset declared, and the bytes read as cp932 or cp1251")


def test_book_pages_in_windows_1252_without_a_charset_read_as_the_utf_8_ones(books, state):
    before, _ = LOADERS["urgent_inventory"](books)
    for page in books.glob("site/catalogue/*/index.html"):
        text = page.read_text("utf-8").replace('; charset=UTF-8"', '"')
        page.write_bytes(text.encode("cp1252"))
    # Not UTF-8 any more ("£" is one byte 0xa3): read as UTF-8, evaluate stopped at the first page.
    with pytest.raises(UnicodeDecodeError):
        next(books.glob("site/catalogue/*/index.html")).read_text("utf-8")

    after, _ = LOADERS["urgent_inventory"](books)
    assert after.drop("crawled_at").equals(before.drop("crawled_at"))


def test_a_csv_cell_past_the_cell_limit_quarantines_its_row_with_a_clear_reason(data_dir, state, tmp_path):
    source = data_dir / "reviews" / "datafiniti_amazon_reviews.csv"
    folder = tmp_path / "reviews"
    folder.mkdir()
    header = source.read_text(encoding="utf-8").splitlines()[0]
    columns = header.split(",")
    cells = ["" for _ in columns]
    cells[columns.index("reviews.rating")], cells[columns.index("reviews.text")] = "1", "x" * 200_000
    (folder / source.name).write_text(header + "\n" + ",".join(cells) + "\n", encoding="utf-8")
    result = evaluate("negative_review", folder)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "1 row(s): bad_row: a cell of 200,000 characters; a cell holds at most 131,072" in " ".join(
        result.output.split())
