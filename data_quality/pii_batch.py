"""Scrubbing many records at once: one batched engine pass, optionally across processes.

This is the entry point for the pipeline's scrub asset: :func:`scrub_records_parallel` splits a
batch into one contiguous chunk per worker process; the workers are forked from a process that
has built the engine, so none loads the spaCy model again, and each scrubs its chunk with
batched NER.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from data_quality.pii import check_review_text, apply_scrubbed
from data_quality.pii_engine import PiiEngine, default_engine

ScrubResult = tuple[dict[str, Any], dict[str, int]]
# Below this many records per worker a process pool costs more than it saves: one process
# scrubs 500-1,000 records/s (benchmarks/pii_recall.py), so 500 records are under a second of work.
MIN_RECORDS_PER_WORKER = 500


def scrub_records(records: Sequence[dict[str, Any]], engine: PiiEngine | None = None
                  ) -> list[ScrubResult]:
    """:func:`~data_quality.pii.scrub_record` for each record, with one NER batch for all texts.

    Raises:
        TypeError: a record's ``review_text`` is neither None nor a list/tuple of strings.
    """
    engine = engine or default_engine()
    flat: list[str] = []
    for record in records:
        check_review_text(record.get("review_text"))
        flat.extend(record.get("review_text") or ())
    scrubbed = iter(engine.scrub_batch(flat))
    results = []
    for record in records:
        texts = record.get("review_text")
        items = None if texts is None else [next(scrubbed) for _ in texts]
        results.append(apply_scrubbed(record, items))
    return results


# The engine forked workers use: set by the parent before the pool starts, so that a forked
# worker inherits it instead of loading the model again.
_worker_engine: PiiEngine | None = None


def _scrub_chunk(records: list[dict[str, Any]]) -> list[ScrubResult]:
    return scrub_records(records, _worker_engine)


def scrub_records_parallel(records: Sequence[dict[str, Any]], workers: int | None = None,
                           engine: PiiEngine | None = None) -> list[ScrubResult]:
    """:func:`scrub_records` spread over ``workers`` processes (default: the CPU count),
    results in input order; runs in-process when the batch is too small to pay for workers.
    ``engine`` (default: :func:`~data_quality.pii_engine.default_engine`) is built in this
    process and inherited by the forked workers.

    Raises:
        TypeError: as :func:`scrub_records`.
    """
    workers = max(1, min(workers or os.cpu_count() or 1,
                         len(records) // MIN_RECORDS_PER_WORKER))
    global _worker_engine
    engine = engine or default_engine()
    if workers == 1:
        return scrub_records(records, engine)
    _worker_engine = engine
    size = -(-len(records) // workers)
    chunks = [list(records[i:i + size]) for i in range(0, len(records), size)]
    # fork: workers inherit the loaded engine (copy-on-write); spawn would rebuild it.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [result for chunk in pool.map(_scrub_chunk, chunks) for result in chunk]
