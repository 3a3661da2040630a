"""CSV/TSV rows with the exact text each was parsed from (a row may span several lines when a
quoted cell holds a newline), so a bad row can be quarantined as it arrived."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


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
