"""Quarantine rows: what could not become a signal record, and why.

Nothing a harvest receives is silently dropped: a 404, a download failure, a page that does not
parse or a feed row with an impossible rating each becomes one quarantine row. The same shape is
reused by later stages (``stage`` says which one quarantined the row). Shape (one JSON object per
line in ``quarantine.jsonl``)::

    {"stage": str,                # "harvest", later "scrub", "validate", ...
     "source": str,               # spider or feed name
     "url": str | None,
     "product_id": str | None,
     "http_status": int | None,
     "reason": str,               # short machine-ish reason: "http_404", "parse_error: no price"
     "record_json": str | None,   # canonical JSON of whatever was parsed, if anything
     "crawl_id": str,
     "quarantined_at": str}       # ISO-8601 UTC
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from commons.record import canonical_json, utcnow

QUARANTINE_FIELDS = ("stage", "source", "url", "product_id", "http_status", "reason",
                     "record_json", "crawl_id", "quarantined_at")


def quarantine_row(*, source: str, reason: str, crawl_id: str, url: str | None = None,
                   product_id: str | None = None, http_status: int | None = None,
                   record: dict[str, Any] | str | None = None, stage: str = "harvest",
                   quarantined_at: datetime | None = None) -> dict[str, Any]:
    """Build one quarantine row (see the module docstring for the shape).

    Args:
        source: spider or feed name.
        reason: short machine-ish reason, e.g. ``"http_404"`` or ``"parse_error: no price"``.
        crawl_id: id of the crawl or load that saw the input.
        url: where the input came from, if known.
        product_id: the product's stable id, if it could be read.
        http_status: HTTP status of the response, None for feeds and download failures.
        record: what was parsed so far; a dict is stored as canonical JSON, a str as is.
        stage: pipeline stage that quarantined the row.
        quarantined_at: UTC time; defaults to now.

    Returns:
        A dict with exactly the keys of :data:`QUARANTINE_FIELDS`.
    """
    if record is None or isinstance(record, str):
        record_json = record
    else:
        record_json = canonical_json(record)
    when = quarantined_at or utcnow()
    return {
        "stage": stage,
        "source": source,
        "url": url,
        "product_id": product_id,
        "http_status": http_status,
        "reason": reason,
        "record_json": record_json,
        "crawl_id": crawl_id,
        "quarantined_at": when.astimezone(timezone.utc).isoformat(),
    }
