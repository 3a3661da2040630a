"""The demo's PII scorecard: the pipeline's scrubber scored on the real labelled samples and reviews,
and the table the demo prints from it."""

from __future__ import annotations

from rich.console import Console

from data_quality.pii_engine import default_engine
from data_quality.pii_eval import load_presidio_split
from data_quality.pii_scoring import score
from edge_insights.pii_scorecard import SHOWN, pii_scorecard
from edge_insights.report import pii_scores_table


def test_the_scorecard_scores_the_pipelines_engine_on_both_halves(data_dir):
    card = pii_scorecard(data_dir)
    tuning, held_out = load_presidio_split(data_dir)
    assert card["samples"] == [len(tuning), len(held_out)] and set(card["types"]) == set(SHOWN)
    # The same figure as scoring the held-out half directly with the pipeline's engine.
    person = score(held_out, default_engine().analyze_batch([s["full_text"] for s in held_out]))["PERSON"]
    assert card["types"]["PERSON"]["recall"][1] == person.recall
    assert card["types"]["PERSON"]["precision"][1] == person.precision
    low, high = card["types"]["PERSON"]["held_out_recall_interval"]
    assert (low, high) == person.recall_interval() and low < person.recall < high
    assert card["types"]["structured"]["recall"] == [1.0, 1.0]  # no structured PII is ever missed here
    assert 0 < card["reviews_altered_odd"] < 0.05 and card["records_per_s"] > 0
    assert card["name_tagger"] == (default_engine().tagger is not None)
    console = Console(record=True, width=140)
    console.print(pii_scores_table(card))
    text = console.export_text()
    assert f"held-out {len(held_out)}" in text and f"{person.recall:.3f} [{low:.3f}, {high:.3f}]" in text
