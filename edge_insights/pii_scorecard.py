"""The demo's PII scorecard: the pipeline's own scrubber scored on the labelled samples and real reviews.

The same measures as ``benchmarks/pii_recall.py`` (recall per labelled type, precision per
reported kind, split into the tuning and held-out halves by sentence template,
:mod:`data_quality.pii_scoring`), but for the engine the pipeline scrubs with
(:func:`~data_quality.pii_engine.default_engine`: base product words, no review catalogue, and
the learned name tagger once the pipeline has built it) and
without Presidio as shipped, so it takes seconds, not minutes. Reviews altered are counted on the
odd rows (the even ones tuned the rules).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from data_quality.pii_engine import default_engine
from data_quality.pii_eval import load_presidio_split, load_review_texts, review_rows
from data_quality.pii_scoring import TypeScore, score, structured

#: The kinds the scorecard shows, structured PII pooled into one row (as the README's table does).
SHOWN = ("PERSON", "ADDRESS", "LOCATION", "structured")


def _rows(scores: dict[str, TypeScore]) -> dict[str, TypeScore]:
    return {kind: structured(scores) if kind == "structured" else scores.get(kind, TypeScore())
            for kind in SHOWN}


def pii_scorecard(data_dir: Path) -> dict[str, Any]:
    """Score the pipeline's scrubber on ``data_dir``'s labelled samples and reviews.

    Returns:
        ``{"types": {kind: {"recall": [tuning, held_out], "precision": [tuning, held_out],
        "held_out_recall_interval": (low, high)}},
        "reviews_altered_odd": fraction, "records_per_s": float, "samples": [n_tuning, n_held_out],
        "name_tagger": whether the engine ran with the learned name tagger}``;
        a recall or precision is None where nothing was labelled or reported; the interval is
        the held-out recall's 95 % Wilson interval
        (:meth:`~data_quality.pii_scoring.TypeScore.recall_interval`), None where nothing was.

    Raises:
        FileNotFoundError: the labelled samples or a review file is missing.
    """
    tuning, held_out = load_presidio_split(data_dir)
    odd = [r.text for r in review_rows(load_review_texts(data_dir)) if r.reported]
    engine = default_engine()
    texts = [s["full_text"] for s in tuning + held_out] + odd
    started = time.perf_counter()
    found = engine.analyze_batch(texts)
    seconds = time.perf_counter() - started
    halves = (_rows(score(tuning, found[:len(tuning)])),
              _rows(score(held_out, found[len(tuning):len(tuning) + len(held_out)])))
    altered = sum(1 for spans in found[len(tuning) + len(held_out):] if any(s.kind != "OTHER" for s in spans))
    return {"types": {kind: {"recall": [h[kind].recall for h in halves],
                             "held_out_recall_interval": halves[1][kind].recall_interval(),
                             "precision": [h[kind].precision for h in halves]} for kind in SHOWN},
            "reviews_altered_odd": altered / len(odd) if odd else None,
            "records_per_s": len(texts) / seconds if seconds else None,
            "samples": [len(tuning), len(held_out)], "name_tagger": engine.tagger is not None}
