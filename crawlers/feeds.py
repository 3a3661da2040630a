"""Review-feed intake: pushed review files → signal records and quarantine rows.

Files read from ``reviews_dir`` (those present; see ``shared/data/reviews/SOURCES.md``):

- ``datafiniti_amazon_reviews.csv``: product_id ``asins``, title ``name``, rating
  ``reviews.rating``, review_text title + text (below), author ``reviews.username``, feedback
  ``reviews.doRecommend`` (TRUE/FALSE, empty → None).
- ``amazon_alexa_reviews.tsv``: product_id ``amazon-alexa:<variation slug>`` (e.g.
  ``amazon-alexa:black-dot``), title the variation, rating ``rating``, review_text
  ``verified_reviews``, author None, feedback ``feedback == "1"``.
- ``uci_sentiment_sentences/<name>_labelled.txt``: product_id ``uci:<name>`` (e.g.
  ``uci:amazon_cells``), title and rating None, review_text the sentence (CSV-style quotes
  undone), author None, feedback ``label == "1"``.

Choices:
- Datafiniti ``review_text`` is ``["<title>. <text>"]`` (title and text joined into one review,
  no extra full stop when the title already ends in ``.!?``): the title often carries the verdict
  ("Too small") and the other feeds have one text per review, so one review stays one string.
- ``crawled_at`` is the load time, not the review's date: a record observes when we saw it.
- ``url`` is ``file://<absolute path>#<line>`` where ``<line>`` is the 1-based line on which the
  row starts (header = line 1), so a reader can open the file at the row.
- ``response_digest`` is the sha256 of the row's raw bytes as read (without the line ending).
- Whitespace in texts and titles is collapsed to single spaces.
- Review dates and other columns are not carried. ``author`` is a real user name (PII): the
  scrubbing stage removes it; quarantine rows keep the raw fields for inspection.

A row that cannot become a record (empty text, rating not a number in 1–5, label not 0/1,
recommend flag not TRUE/FALSE/empty) is a quarantine row; nothing is dropped, so per file
``rows in == records + quarantined`` (checked by :func:`read_review_feed`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from commons.errors import HarvestError
from commons.quarantine import quarantine_row
from commons.record import Provenance, SignalRecord, utcnow
from crawlers.csv_rows import MAX_CELL_CHARS, csv_rows, swallowed_line
from crawlers.loads import Load

VERSION = "1.0.0"
SPIDER_VERSION = f"review_feed@{VERSION}"
DATAFINITI_FILE = "datafiniti_amazon_reviews.csv"
ALEXA_FILE = "amazon_alexa_reviews.tsv"
UCI_GLOB = "uci_sentiment_sentences/*_labelled.txt"


class RowError(HarvestError, ValueError):
    """A feed row that cannot become a record.

    Args:
        reason: the quarantine reason (``str(err)``).
        product_id: the row's product id when it could be read, for the quarantine row.
    """

    def __init__(self, reason: str, product_id: str | None = None) -> None:
        super().__init__(reason)
        self.product_id = product_id


@dataclass(kw_only=True)
class FeedLoad(Load):
    """What one feed file turned into.

    Attributes:
        path: absolute path of the file.
        source: ``reviews/<file stem>``.
        rows_in: data rows read (header excluded).
    """

    path: Path
    source: str
    rows_in: int = 0


@dataclass
class _Row:
    line: int
    raw: bytes
    fields: dict[str, str]


def read_review_feed(reviews_dir: str | Path, crawl_id: str
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read every known review file in ``reviews_dir``.

    Args:
        reviews_dir: folder laid out like ``shared/data/reviews``.
        crawl_id: id of this load, written into provenance and quarantine rows.

    Returns:
        ``(records, quarantine)``: record dicts (``SignalRecord.to_dict()``) and quarantine rows,
        in file order.

    Raises:
        FileNotFoundError: the folder holds none of the known files.
        RuntimeError: a file's rows in != records + quarantined (a bug, never data).
    """
    loads = [read_feed_file(path, crawl_id) for path in feed_files(reviews_dir)]
    records: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    for load in loads:
        if load.rows_in != len(load.records) + len(load.quarantine):
            raise RuntimeError(f"{load.path}: {load.rows_in} rows in, {len(load.records)} "
                               f"records + {len(load.quarantine)} quarantined")
        records += load.records
        quarantine += load.quarantine
    return records, quarantine


def feed_files(reviews_dir: str | Path) -> list[Path]:
    """The known review files present in ``reviews_dir``, absolute, in a fixed order.

    Raises:
        FileNotFoundError: none is present.
    """
    root = Path(reviews_dir).resolve()
    paths = [p for p in (root / DATAFINITI_FILE, root / ALEXA_FILE) if p.is_file()]
    paths += sorted(root.glob(UCI_GLOB))
    if not paths:
        raise FileNotFoundError(f"no review files ({DATAFINITI_FILE}, {ALEXA_FILE}, {UCI_GLOB}) "
                                f"in {root}")
    return paths


def read_feed_file(path: str | Path, crawl_id: str, max_rows: int | None = None) -> FeedLoad:
    """Read one review file; the format is chosen by its name.

    ``max_rows`` reads only the first data rows (a test slice); rows after it are not read, so
    they are neither records nor quarantine rows.

    Raises:
        ValueError: the file is not one of the known feeds, or its header lacks the review text's
            column (``reviews.text``, ``verified_reviews``): every row would be quarantined as
            ``empty_text``, which names no cause.
    """
    path = Path(path).resolve()
    if path.name == DATAFINITI_FILE:
        rows, to_fields = _delimited_rows(path, ",", ("reviews.text",)), _datafiniti_fields
    elif path.name == ALEXA_FILE:
        rows, to_fields = _delimited_rows(path, "\t", ("verified_reviews",)), _alexa_fields
    elif path.name.endswith("_labelled.txt"):
        rows, to_fields = _uci_rows(path), _uci_fields(path.stem)
    else:
        raise ValueError(f"unknown review feed: {path.name}")
    return _load(path, islice(rows, max_rows), to_fields, crawl_id)


def _load(path: Path, rows: Iterator[_Row], to_fields: Callable[[dict[str, str]], dict],
          crawl_id: str) -> FeedLoad:
    load = FeedLoad(path=path, source=f"reviews/{path.stem}")
    loaded_at = utcnow()
    for row in rows:
        load.rows_in += 1
        url = f"file://{path}#{row.line}"
        try:
            fields = to_fields(row.fields)
        except RowError as exc:
            load.quarantine.append(quarantine_row(
                source=load.source, reason=str(exc), crawl_id=crawl_id, url=url,
                product_id=exc.product_id, record=row.fields,
                quarantined_at=loaded_at))
            continue
        load.records.append(_record(load.source, url, fields, row.raw, crawl_id, loaded_at))
    return load


def _record(source: str, url: str, fields: dict[str, Any], raw: bytes, crawl_id: str,
            loaded_at: datetime) -> dict[str, Any]:
    return SignalRecord(
        source=source, url=url, product_id=fields["product_id"], title=fields["title"],
        price=None, currency=None, availability="unknown", stock_count=None,
        rating=fields["rating"], review_text=[fields["text"]], author=fields["author"],
        feedback=fields["feedback"], crawled_at=loaded_at,
        provenance=Provenance(crawl_id=crawl_id, spider_version=SPIDER_VERSION,
                              http_status=None,
                              response_digest=hashlib.sha256(raw).hexdigest()),
    ).to_dict()


def _delimited_rows(path: Path, delimiter: str, required: tuple[str, ...]) -> Iterator[_Row]:
    """Rows of a CSV/TSV with a header holding ``required`` columns (else ValueError), each with
    the raw text it was parsed from."""
    # utf-8-sig: a feed saved by Excel starts with a BOM, which would otherwise become part of the
    # first header name and quarantine every row (as the pushed-batch reader already does).
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv_rows(handle, delimiter=delimiter)
        first = next(rows, None)
        if first is None:  # an empty file: no header, no rows
            return
        header = first.cells
        missing = [name for name in required if name not in header]
        if missing:
            raise ValueError(f"{path.name}: the header has no {', '.join(missing)} column "
                             f"(it has {', '.join(header)[:200]})")
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:  # which of the two would be read is a guess; the pushed-batch reader refuses them too
            raise ValueError(f"{path.name}: the header names {', '.join(twice)[:200]} more than once")
        for row in rows:
            if len(row.cells) != len(header):
                fields = {"_error": f"bad_row: {len(row.cells)} fields, expected {len(header)}",
                          "_raw": row.raw.decode("utf-8")}
            elif (longest := max(map(len, row.cells))) > MAX_CELL_CHARS:
                fields = {"_error": f"bad_row: a cell of {longest:,} characters; a cell holds at most "
                                    f"{MAX_CELL_CHARS:,}", "_raw": row.raw.decode("utf-8")}
            elif (line := swallowed_line(row, len(header), delimiter=delimiter)) is not None:
                fields = {"_error": f"bad_row: line {line} inside a quoted cell reads as a whole row "
                                    "(a quote left open?)", "_raw": row.raw.decode("utf-8")}
            else:
                fields = dict(zip(header, row.cells))
            yield _Row(line=row.line, raw=row.raw, fields=fields)


def _uci_rows(path: Path) -> Iterator[_Row]:
    """Lines of a UCI file: CRLF endings, UTF-8 with a few Latin-1 lines (decoded per line)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            sentence, tab, label = text.rpartition("\t")
            fields = {"sentence": sentence, "label": label} if tab else {
                "_error": "bad_row: no tab", "_raw": text}
            yield _Row(line=number, raw=raw, fields=fields)


def _datafiniti_fields(row: dict[str, str]) -> dict[str, Any]:
    _check_shape(row)
    product_id = _text(row.get("asins"))
    text = _text(row.get("reviews.text"))
    title = _text(row.get("reviews.title"))
    if not text:
        raise RowError("empty_text", product_id)
    if title:
        text = f"{title}{'' if title[-1] in '.!?' else '.'} {text}"
    recommend = (row.get("reviews.doRecommend") or "").strip().upper()
    if recommend not in ("TRUE", "FALSE", ""):
        raise RowError(f"bad_feedback: {recommend[:20]!r}", product_id)
    return {"product_id": product_id, "title": _text(row.get("name")),
            "rating": _rating(row.get("reviews.rating"), product_id), "text": text,
            "author": _text(row.get("reviews.username")),
            "feedback": {"TRUE": True, "FALSE": False}.get(recommend)}


def _alexa_fields(row: dict[str, str]) -> dict[str, Any]:
    _check_shape(row)
    variation = _text(row.get("variation"))
    slug = re.sub(r"[^a-z0-9]+", "-", (variation or "").lower()).strip("-")
    product_id = f"amazon-alexa:{slug}" if slug else None
    text = _text(row.get("verified_reviews"))
    if not text:
        raise RowError("empty_text", product_id)
    return {"product_id": product_id, "title": variation,
            "rating": _rating(row.get("rating"), product_id), "text": text, "author": None,
            "feedback": _label(row.get("feedback"), product_id)}


def _uci_fields(stem: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    product_id = "uci:" + stem.removesuffix("_labelled")

    def to_fields(row: dict[str, str]) -> dict[str, Any]:
        _check_shape(row, product_id)
        text = _text(_unquote(row["sentence"].strip()))
        if not text:
            raise RowError("empty_text", product_id)
        return {"product_id": product_id, "title": None, "rating": None, "text": text,
                "author": None, "feedback": _label(row["label"], product_id)}

    return to_fields


def _check_shape(row: dict[str, str], product_id: str | None = None) -> None:
    if "_error" in row:
        raise RowError(row["_error"], product_id)


def _text(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value or None


def _rating(value: str | None, product_id: str | None) -> float:
    try:
        rating = float((value or "").strip())
    except ValueError:
        raise RowError(f"bad_rating: {(value or '')[:20]!r}", product_id) from None
    if not 1 <= rating <= 5:
        raise RowError(f"rating_out_of_range: {rating:g}", product_id)
    return rating


def _label(value: str | None, product_id: str | None) -> bool:
    value = (value or "").strip()
    if value not in ("0", "1"):
        raise RowError(f"bad_label: {value[:20]!r}", product_id)
    return value == "1"


def _unquote(sentence: str) -> str:
    """Undo CSV-style quoting that the UCI copies carry (``"a ""b"" c"`` → ``a "b" c``)."""
    if len(sentence) >= 2 and sentence[0] == sentence[-1] == '"':
        return sentence[1:-1].replace('""', '"')
    return sentence
