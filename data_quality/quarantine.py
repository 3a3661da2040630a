"""Quarantine for the data-quality stages, and the conservation invariant of every split.

The row shape is the harvest stage's (:mod:`crawlers.quarantine`), so all stages land in one
table; this module only derives the row from a signal record. A split never loses a row:
``len(kept) + len(quarantined) == n_in`` is checked, not assumed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from crawlers.quarantine import quarantine_row as _harvest_quarantine_row
from crawlers.record import canonical_json
from data_quality.pii import scrub_author, scrub_record, scrub_text

UNKNOWN = "unknown"
# Raw feed columns that name a person (e.g. Datafiniti's ``reviews.username``).
_USER_COLUMN = re.compile(r"user|author|reviewer", re.IGNORECASE)


class ConservationError(RuntimeError):
    """Rows were lost or invented by a split (count in != kept + quarantined)."""


@dataclass
class Split:
    """Outcome of a stage that keeps some records and quarantines the rest.

    Attributes:
        kept: records that passed, unchanged.
        quarantined: quarantine rows (see :mod:`crawlers.quarantine` for the shape).
    """

    kept: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)


def assert_conserved(n_in: int, kept: list[Any], quarantined: list[Any]) -> None:
    """Check that a split accounted for every input row.

    Raises:
        ConservationError: ``n_in != len(kept) + len(quarantined)``; the message gives all three
            counts and the difference.
    """
    n_out = len(kept) + len(quarantined)
    if n_in != n_out:
        raise ConservationError(
            f"row count not conserved: {n_in} in, {len(kept)} kept + {len(quarantined)} "
            f"quarantined = {n_out} out ({n_in - n_out:+d} lost)")


def _pii_free(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it may be stored: quarantine must not become a back door for PII."""
    try:
        return scrub_record(record)[0]
    except TypeError:
        # A malformed review_text cannot be scrubbed item by item, so it is not stored at all.
        return {**record, "review_text": None, "author": scrub_author(record.get("author"))}


def quarantine_row(record: dict[str, Any], stage: str, reason: str) -> dict[str, Any]:
    """Quarantine row for a signal record (plain-dict form) that failed ``stage``.

    ``record_json`` holds the record after PII scrubbing; ``crawl_id`` and ``http_status`` come
    from its ``provenance`` (``"unknown"``/None when absent, as for a record that never got one).
    """
    provenance = record.get("provenance") or {}
    return _harvest_quarantine_row(
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
