"""The scrub → validate step every intake path shares, with its conservation invariant.

Crawled partitions, backfilled histories and replay ticks all reach ``signal_history`` through
these two functions, so a record is scrubbed and checked the same way whichever door it came in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from commons.errors import assert_conserved
from data_quality.pii import check_review_text
from data_quality.pii_batch import scrub_records as batch_scrub
from data_quality.quarantine import Split, quarantine_record
from data_quality.rules import split_valid


@dataclass
class Scrubbed:
    """Outcome of :func:`scrub_records`.

    Attributes:
        kept: PII-free records (plain-dict form), in input order.
        quarantined: quarantine rows (stage ``scrub``) of records that could not be scrubbed.
        replacements: placeholder → count of PII spans replaced (e.g. ``{"<EMAIL>": 3}``).
    """

    kept: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    replacements: Counter = field(default_factory=Counter)


def scrub_records(records: list[dict[str, Any]]) -> Scrubbed:
    """PII-scrub every record (one batched NER pass, :mod:`data_quality.pii_batch`); a record whose
    texts are not text, or whose price or stock count the warehouse cannot store as written (the
    ``storable`` rules of :data:`data_quality.rules.RULES`), is quarantined, not stored.

    Raises:
        ConservationError: rows were lost (a bug, never data).
    """
    out = Scrubbed()
    scrubbable = []
    storable = split_valid(records, "storable", stage="scrub")
    out.quarantined += storable.quarantined
    for record in storable.kept:
        try:
            check_review_text(record.get("review_text"))
        except TypeError as err:
            out.quarantined.append(quarantine_record(record, "scrub", f"unscrubbable: {err}"))
            continue
        scrubbable.append(record)
    # In-process on purpose: a process pool would fork the Dagster run worker, whose other
    # threads (event log, heartbeats) may hold locks a forked child never gets back.
    for clean, counts in batch_scrub(scrubbable):
        out.replacements.update(counts)
        out.kept.append(clean)
    assert_conserved(len(records), out.kept, out.quarantined, "scrub")
    return out


def scrub_and_validate(records: list[dict[str, Any]], rule_set: str) -> Split:
    """Scrub, then keep the records that pass ``rule_set``'s row rules; quarantine the rest
    (stage ``scrub`` or ``validate``, with the reason).

    Raises:
        ValueError: unknown ``rule_set``.
        ConservationError: rows were lost (a bug, never data).
    """
    scrubbed = scrub_records(records)
    split = split_valid(scrubbed.kept, rule_set)
    split.quarantined = scrubbed.quarantined + split.quarantined
    assert_conserved(len(records), split.kept, split.quarantined, "scrub and validate")
    return split
