"""negative_review: alert on a negative product review (rating ≤ 2, or the reviewer's own negative
flag where a source has no stars); text only. Rule and split: :mod:`training.examples`."""

from __future__ import annotations

import polars as pl

from commons.contracts import NEGATIVE_REVIEW
from training.decisions.base import DecisionSpec
from training.examples import LABELS, NEGATIVE_MAX_RATING, Example, to_examples


def examples_from_history(rows: pl.DataFrame) -> tuple[list[Example], int]:
    """Review rows (product_id, source, review_text, rating, feedback) → labelled examples."""
    records = [{**row, "rating": None if row["rating"] is None or row["rating"] != row["rating"] else row["rating"]}
               for row in rows.to_dicts()]
    return to_examples(records)


SPEC = DecisionSpec(
    name="negative_review", labels=LABELS, contract=NEGATIVE_REVIEW, text_field="review_text",
    window_field=None, window=0, student_window=0, transform=None,
    history="reviews",
    examples=examples_from_history,
    label_rule=f"negative when the star rating is ≤ {NEGATIVE_MAX_RATING:g}, else the reviewer's own flag")
