"""negative_review: alert on a negative product review (rating ≤ 2, or the reviewer's own negative
flag where a source has no stars); text only. Rule and split: :mod:`training.examples`."""

from __future__ import annotations

import pandas as pd

from data_quality.contracts import NEGATIVE_REVIEW
from training.decisions.base import DecisionSpec
from training.examples import LABELS, NEGATIVE_MAX_RATING, Example, to_examples


def examples_from_history(rows: pd.DataFrame) -> tuple[list[Example], int]:
    """Review rows (product_id, source, review_text, rating, feedback) → labelled examples."""
    records = [{**row, "rating": None if pd.isna(row["rating"]) else row["rating"],
                "feedback": None if pd.isna(row["feedback"]) else bool(row["feedback"]),
                "review_text": None if row["review_text"] is None else list(row["review_text"])}
               for row in rows.to_dict("records")]
    return to_examples(records)


SPEC = DecisionSpec(
    name="negative_review", labels=LABELS, contract=NEGATIVE_REVIEW, text_field="review_text",
    window_field=None, window=0, student_window=0, transform=None,
    # Ordered: the history's row order follows the order review files were staged in, which the
    # file system decides; examples (and so training) must not depend on it.
    history_sql="SELECT product_id, source, review_text, rating, feedback FROM signal_history "
                "WHERE intake = 'reviews' ORDER BY source, product_id, content_digest",
    examples=examples_from_history,
    label_rule=f"negative when the star rating is ≤ {NEGATIVE_MAX_RATING:g}, else the reviewer's own flag")
