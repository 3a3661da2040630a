"""The review files' two halves: the tuning half the scrubber and its name tagger learn from, and
the reported half the benchmark and the demo measure (and the hand audit judges)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_quality.pii_engine import rules_engine
from data_quality.pii_eval import load_review_audit, load_review_texts, review_rows
from data_quality.pii_tagger_training import NEGATIVE_FILES, review_negatives

AUDITS = Path(__file__).resolve().parents[2] / "benchmarks" / "audits"


def test_parity_runs_across_files_so_a_file_after_an_odd_length_one_starts_reported():
    rows = review_rows({"a": ["a0", "a1", "a2"], "b": ["b0", "b1"]})
    assert [(r.file, r.row, r.reported) for r in rows] == [
        ("a", 0, False), ("a", 1, True), ("a", 2, False), ("b", 0, True), ("b", 1, False)]


def test_the_taggers_negatives_come_from_the_tuning_half_alone(data_dir):
    reviews = load_review_texts(data_dir)
    rows = review_rows(reviews)
    read: list[str] = []

    def find_names(texts):
        read.extend(texts)
        return [[] for _ in texts]

    review_negatives(reviews, rules_engine().evidence, find_names)
    assert read == [r.text for r in rows if not r.reported and r.file in NEGATIVE_FILES]
    # The Datafiniti file has an odd number of rows, so each of the Alexa file's own even rows is
    # a reported one: reading every file's even rows (the old way) taught the tagger from them.
    assert len(reviews["datafiniti_amazon_reviews"]) % 2 == 1
    assert all(r.reported for r in rows if r.file == "amazon_alexa_reviews" and r.row % 2 == 0)


@pytest.mark.parametrize(("half", "reported"), [("even", False), ("odd", True)])
def test_each_hand_audit_judges_rows_of_its_own_half_only(data_dir, half, reported):
    audit = load_review_audit(AUDITS / f"altered_reviews_{half}.tsv")
    halves = {(r.file, r.row): r.reported for r in review_rows(load_review_texts(data_dir))}
    assert len(audit) > 100
    assert {halves[key] for key in audit} == {reported}
    assert set(audit.values()) <= {"person", "character", "place_of_person", "none"}
