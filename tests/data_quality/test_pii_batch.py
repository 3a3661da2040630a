"""Batched and process-pooled scrubbing give exactly the per-record results."""

from __future__ import annotations

import pytest

from data_quality import pii_batch
from data_quality.pii import scrub_record
from data_quality.pii_batch import scrub_records, scrub_records_parallel

RECORDS = [
    {"review_text": ["Thanks, Anna", "call 020 7946 0321 4 stars"], "author": "anna_b"},
    {"review_text": None, "author": None},
    {"review_text": [], "author": "x"},
    {"review_text": ["Love my Echo Dot", "Ship to 15 Glyn St, Leeds please"], "author": " "},
    {"review_text": ["Heather: mail heather@example.com"], "author": "h"},
]


def test_batch_equals_one_record_at_a_time():
    assert scrub_records(RECORDS) == [scrub_record(record) for record in RECORDS]
    assert scrub_records(RECORDS)[0] == (
        {"review_text": ["Thanks, <PERSON>", "call <PHONE> 4 stars"], "author": "<USER>",
         "content_digest": scrub_record(RECORDS[0])[0]["content_digest"]},
        {"PERSON": 1, "PHONE": 1, "USER": 1})


def test_process_pool_keeps_order_and_results(monkeypatch):
    monkeypatch.setattr(pii_batch, "MIN_RECORDS_PER_WORKER", 1)
    records = RECORDS * 3
    assert scrub_records_parallel(records, workers=2) == scrub_records(records)


def test_batch_rejects_malformed_review_text():
    with pytest.raises(TypeError, match="review_text"):
        scrub_records([{"review_text": "not a list"}])
