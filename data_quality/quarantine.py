"""Quarantine rows of the data-quality stages, derived from signal records and kept PII-free.

The row shape is :func:`commons.quarantine.quarantine_row`, so all stages land in one table;
this module derives the row from a signal record, scrubbing what it stores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from commons.quarantine import quarantine_row
from commons.record import canonical_json
from data_quality.pii import scrub_author, scrub_record, scrub_text

UNKNOWN = "unknown"
# Raw feed columns that name a person (e.g. Datafiniti's ``reviews.username``).
_USER_COLUMN = re.compile(r"user|author|reviewer", re.IGNORECASE)


@dataclass
class Split:
    """Outcome of a stage that keeps some records and quarantines the rest.

    Attributes:
        kept: records that passed, unchanged.
        quarantined: quarantine rows (see :mod:`commons.quarantine` for the shape).
    """

    kept: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)


def _pii_free(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it may be stored: quarantine must not become a back door for PII."""
    try:
        return scrub_record(record)[0]
    except TypeError:
        # A malformed review_text cannot be scrubbed item by item, so it is not stored at all.
        return {**record, "review_text": None, "author": scrub_author(record.get("author"))}


def quarantine_record(record: dict[str, Any], stage: str, reason: str) -> dict[str, Any]:
    """Quarantine row for a signal record (plain-dict form) that failed ``stage``.

    ``record_json`` holds the record after PII scrubbing; ``crawl_id`` and ``http_status`` come
    from its ``provenance`` (``"unknown"``/None when absent, as for a record that never got one).
    """
    provenance = record.get("provenance") or {}
    return quarantine_row(
        source=record.get("source") or UNKNOWN,
        reason=reason,
        crawl_id=provenance.get("crawl_id") or UNKNOWN,
        url=record.get("url"),
        product_id=record.get("product_id"),
        http_status=provenance.get("http_status"),
        record=_pii_free(record),
        stage=stage,
    )


def scrub_quarantine_row(row: dict[str, Any]) -> dict[str, Any]:
    """A harvest-stage quarantine row made safe to store: its ``record_json`` (raw feed fields,
    possibly a reviewer's name or an e-mail in a text) is replaced by the scrubbed record; a
    ``record_json`` that is not a JSON object is scrubbed as text."""
    raw = row.get("record_json")
    if raw is None:
        return dict(row)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and ("review_text" in parsed or "provenance" in parsed):
        return {**row, "record_json": canonical_json(_pii_free(parsed))}
    if isinstance(parsed, dict):
        return {**row, "record_json": canonical_json({key: _raw_field_free(key, value)
                                                      for key, value in parsed.items()})}
    return {**row, "record_json": scrub_text(raw)[0]}


def _raw_field_free(key: str, value: Any) -> Any:
    """One raw feed column made safe: user-name columns become ``<USER>``, text is scrubbed."""
    if _USER_COLUMN.search(key):
        return scrub_author(value if isinstance(value, str) else None)
    return scrub_text(value)[0] if isinstance(value, str) else value
