"""CSV/TSV rows with the exact text each was parsed from (a row may span several lines when a
quoted cell holds a newline), so a bad row can be quarantined as it arrived.

A quote left open in one row makes the reader take the rows after it, up to the next quote, into
that cell: CSV cannot tell this from a cell that holds line breaks, and a whole row would vanish
into another's text. :func:`swallowed_line` finds the tell-tale: a line inside a row that reads as
a whole row of its own.

A cell longer than :data:`MAX_CELL_CHARS` is the reader's to quarantine (with its row): the csv
module's own field limit would instead end the reading mid-file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

MAX_CELL_CHARS = 131_072
"""Longest cell a row may hold, in characters: the csv module's default field limit, so a cell that
passed before still passes, and 26 times the longest field a contract takes (a review's 5,000)."""
# The csv module's field limit is process-wide, and a cell past it raises csv.Error, which ends
# the reader mid-row: every row after it is lost. Raised so that only a quote left open over
# megabytes reaches it: 16 Mi characters, twice the intake's default 8 MiB batch (whose bytes
# bound a pushed cell anyway), and one cell's worth of memory (16-64 MB) for a feed file on disk.
csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))


@dataclass(frozen=True)
class CsvRow:
    """One parsed row.

    Attributes:
        line: 1-based line number where the row starts (the header is line 1).
        raw: the row's text as read, line break stripped, UTF-8.
        cells: the parsed cells.
    """

    line: int
    raw: bytes
    cells: list[str]


def csv_rows(lines: Iterable[str], *, delimiter: str = ",", strict: bool = False) -> Iterator[CsvRow]:
    """Every row of ``lines`` (opened with ``newline=""``), the header first.

    Raises:
        csv.Error: malformed CSV, with ``strict``; the message starts ``at line N:`` (the line
            being read).
    """
    consumed: list[str] = []

    def remembered() -> Iterator[str]:
        for line in lines:
            consumed.append(line)
            yield line

    reader = csv.reader(remembered(), delimiter=delimiter, strict=strict)
    start = 1
    try:
        for cells in reader:
            raw = "".join(consumed).rstrip("\r\n").encode("utf-8")
            consumed.clear()
            yield CsvRow(line=start, raw=raw, cells=cells)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise csv.Error(f"at line {reader.line_num}: {exc}") from None


def swallowed_line(row: CsvRow, width: int, *, delimiter: str = ",",
                   looks_whole: Callable[[list[str]], bool] = lambda cells: True) -> int | None:
    """The line number of the first line after ``row``'s first that, read alone, has ``width``
    cells and passes ``looks_whole`` (e.g. a URL where the header has one): a row a quote left
    open took in. None for a row on one line, or whose lines read as no row.

    A cell's own text may hold such a line only if it holds ``width - 1`` delimiters on one line
    (and passes ``looks_whole``); the caller quarantines the row whole, so nothing is lost either way.
    """
    lines = row.raw.decode("utf-8").split("\n")
    for offset, line in enumerate(lines[1:], start=1):
        cells = next(csv.reader([line.rstrip("\r")], delimiter=delimiter), [])
        if len(cells) == width and looks_whole(cells):
            return row.line + offset
    return None
