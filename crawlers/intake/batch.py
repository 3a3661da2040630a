"""Pushed signal batches: bytes in JSON Lines or CSV → records and quarantine rows, or refused.

Two levels of failure:

- The **batch** is refused whole (:class:`BatchRefused`, nothing becomes a record or a
  quarantine row) when it cannot be read as a batch at all: a format other than JSON Lines or
  CSV, more than :attr:`Limits.max_bytes` bytes, bytes that are not UTF-8, no data rows, more
  than :attr:`Limits.max_rows` rows, a first JSON line that is not a JSON object (the batch is
  not JSON Lines), a CSV header that is missing, repeats a column, lacks a required column or
  names a column outside the contract, or CSV that the ``csv`` module cannot tokenise.
- A **row** that breaks the contract (:mod:`crawlers.intake.contract`) — or a later JSON line
  that does not parse, a JSON line (first or not) nested deeper than the parser goes or holding
  an integer longer than Python converts (``sys.get_int_max_str_digits()``), or a CSV row with
  the wrong number of cells or a cell longer than :data:`crawlers.csv_rows.MAX_CELL_CHARS` —
  becomes one quarantine row (stage ``intake``, ``url``
  ``push://<batch_id>#<line>``, reason naming the field); the other rows still become records.
  ``rows == len(records) + len(quarantine)`` is checked.

JSON Lines (``application/x-ndjson``, ``.jsonl``): one JSON object per line, fields and types as
in the contract. Blank lines are not rows.

CSV (``text/csv``, ``.csv``): a header row of contract field names (the required ones at least),
one record per row. Cells are text, so they are converted before the contract sees them: an
empty cell is null; ``stock_count`` is read as an integer and ``rating`` as a number when they
are ASCII digits in plain decimal notation (otherwise the text reaches the contract, which names
the field: ``1_000``, ``٣`` and ``inf`` are refused); ``feedback`` ``true`` /
``false`` (any case) is a boolean. ``review_text`` is one column: a cell holding a JSON array of
strings (``["Great.", "Broke."]``) is that list, any other non-empty cell is a single review
(``["<cell>"]``); a cell that parses as a JSON array of anything but strings is quarantined.

Both formats are UTF-8 (a leading byte-order mark is dropped). A row's ``line`` is the 1-based
line on which it starts (a CSV header is line 1); ``raw`` is the row's text as received, without
its line ending, encoded back to UTF-8 (the same bytes, as UTF-8 decoding round-trips).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from commons.errors import HarvestError, assert_conserved
from commons.json_keys import DuplicateKeyError, refuse_duplicate_keys
from crawlers.csv_rows import MAX_CELL_CHARS, csv_rows, swallowed_line
from crawlers.intake.contract import PUSH_FIELDS, REQUIRED_FIELDS, RowInvalid, quarantine_invalid, to_record
from crawlers.loads import Load

log = logging.getLogger(__name__)

JSONL = "jsonl"
CSV = "csv"
MEDIA_TYPES = {"application/x-ndjson": JSONL, "application/jsonl": JSONL,
               "application/x-jsonlines": JSONL, "text/csv": CSV}
"""Content types accepted for a batch (parameters such as ``charset=utf-8`` aside)."""
SUFFIXES = {".jsonl": JSONL, ".csv": CSV}
"""File-name suffixes accepted for a batch."""
# A row's url cell, the mark of a whole row inside another's quoted cell (crawlers.csv_rows).
_URL_RE = re.compile(r"(?i)https?://\S")


class BatchRefused(HarvestError, ValueError):
    """A batch refused whole.

    Attributes:
        reason: what is wrong, for the sender (also ``str(err)``).
        http_status: the status an HTTP intake answers with: 413 (too large), 415 (format or
            charset not accepted) or 422 (content not a readable batch).
    """

    http_status = 422

    def __init__(self, reason: str, http_status: int = 422) -> None:
        super().__init__(reason, http_status)
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Size limits of one batch.

    Attributes:
        max_bytes: largest batch accepted, in bytes (default 8 MiB).
        max_rows: most data rows accepted (default 20,000).
    """

    max_bytes: int = 8 * 1024 * 1024
    max_rows: int = 20_000


@dataclass(kw_only=True)
class Batch(Load):
    """What one accepted batch turned into.

    Attributes:
        batch_id: the batch id (``provenance.crawl_id`` of its records).
        format: ``"jsonl"`` or ``"csv"``.
        rows: data rows read.
    """

    batch_id: str
    format: str
    rows: int = 0


def batch_format(*, content_type: str | None = None, filename: str | None = None) -> str:
    """The batch format named by an HTTP content type or, failing that, a file name.

    Args:
        content_type: a ``Content-Type`` value, e.g. ``"text/csv; charset=utf-8"``.
        filename: a file name, e.g. ``"2025-06-01.jsonl"``.

    Returns:
        :data:`JSONL` or :data:`CSV`.

    Raises:
        BatchRefused: (415) neither names an accepted format, neither is given, or a charset other
            than UTF-8.
    """
    if not content_type and not filename:
        raise BatchRefused(f"no Content-Type given; send the batch as one of {', '.join(MEDIA_TYPES)}", 415)
    if content_type:
        media, _, params = content_type.partition(";")
        fmt = MEDIA_TYPES.get(media.strip().lower())
        charset = dict(_param(p) for p in params.split(";") if "=" in p).get("charset", "utf-8")
        if fmt is None:
            raise BatchRefused(f"content type {media.strip()!r} not accepted; use one of "
                               f"{', '.join(MEDIA_TYPES)}", 415)
        if charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise BatchRefused(f"charset {charset!r} not accepted; send UTF-8", 415)
        return fmt
    suffix = "." + filename.rpartition(".")[2].lower() if filename and "." in filename else ""
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise BatchRefused(f"file {filename!r} is not a batch; name it *.jsonl or *.csv", 415)


def parse_batch(data: bytes, fmt: str, batch_id: str, *, limits: Limits = Limits()) -> Batch:
    """Read one pushed batch.

    Args:
        data: the batch as received.
        fmt: :data:`JSONL` or :data:`CSV` (see :func:`batch_format`).
        batch_id: id of the batch: ``provenance.crawl_id`` of its records and ``crawl_id`` of
            its quarantine rows.
        limits: size limits.

    Returns:
        The :class:`Batch`: every data row is either a record or a quarantine row.

    Raises:
        BatchRefused: the batch as a whole cannot be read (see the module docstring).
        ValueError: ``fmt`` is not a known format (a caller bug).
        ConservationError: rows were lost (a bug, never data).
    """
    if fmt not in (JSONL, CSV):
        raise ValueError(f"unknown batch format {fmt!r}")
    if len(data) > limits.max_bytes:
        raise BatchRefused(f"batch is {len(data):,} bytes; the limit is {limits.max_bytes:,}", 413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchRefused(f"batch is not UTF-8: undecodable byte at offset {exc.start}") from None
    if not text.strip():
        raise BatchRefused("batch is empty: no data rows")
    batch = Batch(batch_id=batch_id, format=fmt)
    rows = _jsonl_rows(text) if fmt == JSONL else _csv_rows(text)
    for line, raw, row, error in rows:
        batch.rows += 1
        if batch.rows > limits.max_rows:
            raise BatchRefused(f"batch has more than {limits.max_rows:,} rows", 413)
        url = f"push://{batch_id}#{line}"
        if error is None:
            try:
                batch.records.append(to_record(row, batch_id=batch_id, raw=raw))
                continue
            except RowInvalid as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a check's own fault costs its row, not the batch or inbox
                log.exception("row %s of batch %s: the contract check failed", line, batch_id)
                error = f"contract check failed ({type(exc).__name__}: {exc}); kept for a fix and a replay"
        batch.quarantine.append(quarantine_invalid(row, error, batch_id=batch_id, url=url,
                                                   raw=raw))
    if batch.rows == 0:
        raise BatchRefused("batch is empty: no data rows")
    assert_conserved(batch.rows, batch.records, batch.quarantine, f"batch {batch_id}")
    return batch


_Row = tuple[int, bytes, dict[str, Any] | None, str | None]
"""(line, raw bytes, parsed row or None, row-level parse error or None)."""


def _jsonl_rows(text: str) -> Iterator[_Row]:
    first = True
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        raw = line.encode("utf-8")
        format_error = True
        try:
            row = json.loads(line, object_pairs_hook=refuse_duplicate_keys)
            error = None if isinstance(row, dict) else f"row: a JSON {type(row).__name__}, " \
                                                       "not an object"
        except json.JSONDecodeError as exc:
            row, error = None, f"row: not JSON ({exc.msg} at column {exc.colno})"
        except DuplicateKeyError as exc:
            format_error = False  # JSON, only ambiguous: a bad row, not a batch in another format
            row, error = None, f"row: {exc}"
        except (RecursionError, ValueError) as exc:
            # JSON as far as the parser read, only deeper, or with a longer integer (the one
            # plain ValueError json raises), than Python takes: a bad row, not a batch in
            # another format, so it is quarantined even on the first line.
            format_error = False
            row, error = None, ("row: JSON nested too deep" if isinstance(exc, RecursionError)
                                else f"row: an integer longer than {sys.get_int_max_str_digits():,} digits")
        if first and error and format_error:
            # The head decides the format: a batch that does not start with a JSON object is
            # something else sent as JSON Lines, not a batch with one bad row.
            raise BatchRefused(f"not JSON Lines: line {number}: {error.removeprefix('row: ')}")
        first = False
        yield number, raw, row if error is None else None, error


def _csv_rows(text: str) -> Iterator[_Row]:
    rows = csv_rows(io.StringIO(text, newline=""), strict=True)
    try:
        first = next(rows, None)
        if first is None or not any(cell.strip() for cell in first.cells):
            raise BatchRefused("CSV has no header row")
        header = [cell.strip() for cell in first.cells]
        _check_header(header)
        for row in rows:
            if not row.cells:
                continue
            if len(row.cells) != len(header):
                yield row.line, row.raw, None, f"row: {len(row.cells)} cells, header has {len(header)}"
                continue
            if long := [(name, len(cell)) for name, cell in zip(header, row.cells) if len(cell) > MAX_CELL_CHARS]:
                yield row.line, row.raw, None, "; ".join(
                    f"{name}: a cell of {size:,} characters; a CSV cell holds at most {MAX_CELL_CHARS:,}"
                    for name, size in long)
                continue
            if (line := swallowed_line(row, len(header), looks_whole=lambda cells: _URL_RE.match(
                    cells[header.index("url")].strip()) is not None)) is not None:
                yield row.line, row.raw, None, (f"row: line {line} inside a quoted cell reads as a whole row "
                                                "(a quote left open?); kept whole, with that row, for a fix")
                continue
            yield row.line, row.raw, _from_cells(dict(zip(header, row.cells))), None
    except csv.Error as exc:
        raise BatchRefused(f"malformed CSV {exc}") from None


def _check_header(header: list[str]) -> None:
    repeated = sorted({name for name in header if header.count(name) > 1})
    unknown = [name for name in header if name not in PUSH_FIELDS]
    missing = [name for name in REQUIRED_FIELDS if name not in header]
    problems = []
    if repeated:
        problems.append(f"repeated columns: {', '.join(repeated)}")
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)} "
                        f"(allowed: {', '.join(PUSH_FIELDS)})")
    if problems:
        raise BatchRefused("CSV header: " + "; ".join(problems))


def _from_cells(cells: dict[str, str]) -> dict[str, Any]:
    """CSV cells → typed values; a cell that does not convert is passed on as text for the
    contract to reject with the field's name."""
    row: dict[str, Any] = {name: (value if value.strip() else None)
                           for name, value in cells.items()}
    if row.get("stock_count") is not None:
        row["stock_count"] = _convert(row["stock_count"], int)
    if row.get("rating") is not None:
        row["rating"] = _convert(row["rating"], float)
    if row.get("feedback") is not None:
        row["feedback"] = {"true": True, "false": False}.get(row["feedback"].strip().lower(),
                                                             row["feedback"])
    if row.get("review_text") is not None:
        row["review_text"] = _review_cell(row["review_text"])
    return row


# What a CSV number cell may hold: ASCII digits in plain decimal notation. Python's int() and
# float() also read "1_000", other scripts' digits ("٣") and "inf", which no partner's export means.
_CSV_NUMBER = {int: re.compile(r"[+-]?[0-9]+"), float: re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")}


def _convert(value: str, kind: type) -> Any:
    text = value.strip()
    return kind(text) if _CSV_NUMBER[kind].fullmatch(text) else value


def _review_cell(value: str) -> Any:
    if value.lstrip().startswith("["):
        try:
            texts = json.loads(value)
        except (ValueError, RecursionError):
            # Not JSON to Python (bad syntax, too deep, an over-long integer): plain review text.
            return [value]
        # A JSON array of non-strings goes through as is: the contract quarantines it.
        return texts if isinstance(texts, list) else [value]
    return [value]


def _param(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name.strip().lower(), value.strip().strip('"')
