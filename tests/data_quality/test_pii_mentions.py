"""Mention replacement: the tagger's training samples copied with other people's names."""

from __future__ import annotations

import random

import pytest

from data_quality.pii_engine import rules_engine
from data_quality.pii_eval import load_presidio_split
from data_quality.pii_name_evidence import WORD_RE
from data_quality.pii_tagger_training import mention_replacements, replace_mentions


@pytest.fixture(scope="module")
def tuning(data_dir):
    return load_presidio_split(data_dir)[0]


@pytest.fixture(scope="module")
def copies(tuning):
    return mention_replacements(tuning, rules_engine().evidence, copies=2)


def test_one_copy_per_sample_naming_a_person_per_round(tuning, copies):
    naming = [s for s in tuning if any(x["entity_type"] == "PERSON" for x in s["spans"])]
    assert len(copies) == 2 * len(naming)
    assert [c["template_id"] for c in copies] == [s["template_id"] for s in naming] * 2


def test_every_span_points_at_its_value_in_the_new_text(copies):
    for copy in copies:
        for span in copy["spans"]:
            assert copy["full_text"][span["start_position"]:span["end_position"]] \
                == span["entity_value"]


def test_only_person_values_change_and_they_name_someone_else(tuning, copies):
    naming = [s for s in tuning if any(x["entity_type"] == "PERSON" for x in s["spans"])]
    changed = 0
    for original, copy in zip(naming, copies):
        before = sorted(original["spans"], key=lambda s: s["start_position"])
        assert [s["entity_type"] for s in before] == [s["entity_type"] for s in copy["spans"]]
        for old, new in zip(before, copy["spans"]):
            if old["entity_type"] != "PERSON":
                assert new["entity_value"] == old["entity_value"]
            else:
                changed += new["entity_value"] != old["entity_value"]
    persons = sum(x["entity_type"] == "PERSON" for s in naming for x in s["spans"])
    # A name is kept only when it is all initials or honorifics ("J. R.").
    assert changed >= 0.98 * persons


def test_drawn_names_are_no_english_words(tuning, copies):
    english = rules_engine().evidence.english
    naming = [s for s in tuning if any(x["entity_type"] == "PERSON" for x in s["spans"])]
    drawn = set()
    for original, copy in zip(naming * 2, copies):
        # One letter is an initial kept, or the "i" that WORD_RE cuts from a lower-cased "İrfan"
        # (i + a combining dot, which is no letter).
        kept = {m.group(0).lower() for m in WORD_RE.finditer(original["full_text"])}
        drawn |= {m.group(0).lower() for s in copy["spans"] if s["entity_type"] == "PERSON"
                  for m in WORD_RE.finditer(s["entity_value"]) if len(m.group(0)) > 1} - kept
    assert len(drawn) > 500
    assert not {w for w in drawn if english.contains(w)}


def test_honorifics_initials_and_letter_case_stay():
    sample = {"full_text": "Ask dr. JOHN q. smith, then Mary.", "template_id": 7, "spans": [
        {"entity_type": "PERSON", "entity_value": "dr. JOHN q. smith", "start_position": 4,
         "end_position": 21},
        {"entity_type": "PERSON", "entity_value": "Mary", "start_position": 28, "end_position": 32}]}
    copy = replace_mentions(sample, random.Random(1), ["zoltan"], ["okafor"])
    assert copy["full_text"] == "Ask dr. ZOLTAN q. okafor, then Okafor."
    assert [(s["start_position"], s["end_position"]) for s in copy["spans"]] == [(4, 24), (31, 37)]
    assert copy["template_id"] == 7


def test_same_seed_same_copies(tuning):
    evidence = rules_engine().evidence
    assert mention_replacements(tuning[:50], evidence, 1, seed=5) \
        == mention_replacements(tuning[:50], evidence, 1, seed=5)
