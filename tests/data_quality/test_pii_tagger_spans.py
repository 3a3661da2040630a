"""How the tagger's per-word probabilities become PERSON spans (no model: the words and their
probabilities are given), including the trial's rule for a lone word opening a sentence."""

from __future__ import annotations

import pytest

from data_quality.pii_engine import rules_engine
from data_quality.pii_name_evidence import opens_sentence
from data_quality.pii_tagger_names import NameWord, tagged_spans


def _words(text: str, probabilities: dict[str, float]) -> list[NameWord]:
    out = []
    for word, p in probabilities.items():
        start = text.index(word)
        out.append(NameWord(start, start + len(word), word, p))
    return out


@pytest.fixture(scope="module")
def evidence():
    return rules_engine().evidence


@pytest.mark.parametrize(("text", "start", "expected"), [
    ("Phooey! It broke.", 0, True),
    ("It broke. Phooey!", 10, True),
    ('He said "Phooey" twice.', 9, False),
    ('It broke. "Phooey!"', 11, True),
    ("first line\nPhooey", 11, True),
    ("I asked Kowalski.", 8, False),
])
def test_opens_sentence(text, start, expected):
    assert opens_sentence(text, start) is expected


def test_names_one_space_apart_join_and_lowercase_or_unlikely_words_stay(evidence):
    text = "I asked Anna Kowalski and the seller about it"
    words = _words(text, {"Anna": 0.8, "Kowalski": 0.6, "seller": 0.9, "about": 0.1})
    assert [text[s:e] for s, e in tagged_spans(text, words, evidence, 0.5)] == ["Anna Kowalski"]
    assert tagged_spans(text, words, evidence, 0.9) == []


def test_a_lone_word_opening_a_sentence_needs_the_initial_probability(evidence):
    text = "Nakashima called. Anna Kowalski wrote. Then I asked Haraldsdottir."
    words = _words(text, {"Nakashima": 0.7, "Anna": 0.7, "Kowalski": 0.7, "Haraldsdottir": 0.7})
    spans = [text[s:e] for s, e in tagged_spans(text, words, evidence, 0.3)]
    assert spans == ["Nakashima", "Anna Kowalski", "Haraldsdottir"]
    strict = [text[s:e] for s, e in tagged_spans(text, words, evidence, 0.3, initial=0.9)]
    assert strict == ["Anna Kowalski", "Haraldsdottir"]  # two words opening a sentence stay
    assert tagged_spans(text, words[:1], evidence, 0.3, initial=0.6) == [(0, 9)]
