"""Recall/precision arithmetic, the template split, and the name word lists."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from data_quality.pii import Span
from data_quality.pii_engine import default_engine
from data_quality.pii_ner import ner_windows
from data_quality.pii_scoring import TypeScore, is_held_out, score, wilson_interval
from data_quality.pii_vocabulary import WORLD_ONLY_RANK, given_names, is_product, surnames, world_given_names

SAMPLE = {
    "full_text": "Call Anna Berg at 555-0100 in Leeds, Acme Ltd.",
    "template_id": 7,
    "spans": [
        {"entity_type": "PERSON", "start_position": 5, "end_position": 14},
        {"entity_type": "PHONE_NUMBER", "start_position": 18, "end_position": 26},
        {"entity_type": "GPE", "start_position": 30, "end_position": 35},
        {"entity_type": "ORGANIZATION", "start_position": 37, "end_position": 45},
    ],
}


def test_score_counts_overlaps_per_type():
    found = [[Span(5, 9, "PERSON"),      # part of the name: caught, correct
              Span(37, 41, "PERSON"),    # an organisation called a person: wrong
              Span(18, 26, "PHONE")]]
    scores = score([SAMPLE], found)
    assert (scores["PERSON"].caught, scores["PERSON"].labelled) == (1, 1)
    assert (scores["PERSON"].correct, scores["PERSON"].reported) == (1, 2)
    assert scores["PERSON"].precision == 0.5
    assert (scores["PHONE"].recall, scores["PHONE"].precision) == (1.0, 1.0)
    assert (scores["LOCATION"].caught, scores["LOCATION"].labelled) == (0, 1)
    assert scores["LOCATION"].precision is None


def test_split_keeps_a_template_on_one_side():
    copies = [dict(SAMPLE, full_text=f"text {i}") for i in range(5)]
    assert len({is_held_out(c, "presidio_generated_large.json") for c in copies}) == 1
    sides = {is_held_out({"template_id": t}, "presidio_synth_dataset_v2.json")
             for t in range(40)}
    assert sides == {True, False}


def test_census_lists_and_product_words():
    assert given_names()["mary"] == 1 and surnames()["smith"] == 1
    assert is_product("alexis", frozenset()) and is_product("kindle", frozenset())
    assert not is_product("alana", frozenset())


def test_world_names_fill_in_what_the_census_lacks():
    world = world_given_names()
    # Danish, Japanese and Bosnian given names the US lists lack; a rare one (frequency 1) and a
    # three-letter word stay out.
    assert {"mette", "nikolaj", "kaoru", "asya"} <= world
    assert "manna" not in world and "hey" not in world and "samsung" not in world
    assert given_names()["nikolaj"] == WORLD_ONLY_RANK and given_names()["mary"] == 1


def test_evidence_separates_names_from_words():
    evidence = default_engine().evidence
    assert evidence.is_given("Anna") and evidence.is_given("Heather")
    assert not evidence.is_given("Grace")  # also a verb
    assert not evidence.is_given("June")   # a month
    assert evidence.strong("Sjöberg") and not evidence.strong("Café")
    assert not evidence.name_shaped("LOVE") and not evidence.name_shaped("I'm")
    assert evidence.truecase("call me owen smith") == "call me Owen Smith"
    assert evidence.truecase("Call me owen") == "Call me owen"  # cased text is left alone but after a person cue
    assert evidence.truecase("OK. ask for maria garcia, and owen was our host") == (
        "OK. ask for Maria Garcia, and Owen was our host")
    assert evidence.truecase("OK. ask for a refund, thanks to will, thanks to alexa") == (
        "OK. ask for a refund, thanks to will, thanks to alexa")


def test_ner_reads_only_sentences_with_a_candidate_word():
    evidence = default_engine().evidence
    text = "Great speaker. Works with Alexa. Bought it for Heather! Sound is fine."
    assert [text[a:b] for a, b in ner_windows(text, evidence)] == ["Bought it for Heather!"]
    assert ner_windows("Love my echo dot. Works great.", evidence) == []


@pytest.mark.parametrize(("caught", "labelled"), [(730, 772), (40, 3902), (245, 245), (0, 12)])
def test_wilson_interval_matches_its_closed_form(caught, labelled):
    z = NormalDist().inv_cdf(0.975)
    p, n = caught / labelled, labelled
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = TypeScore(caught, labelled).recall_interval()
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    assert low <= p <= high


def test_wilson_interval_narrows_with_more_labels_and_needs_one():
    assert TypeScore(0, 0).recall_interval() is None
    small, large = wilson_interval(73, 77), wilson_interval(730, 770)
    assert large[1] - large[0] < small[1] - small[0]
    with pytest.raises(ValueError):
        wilson_interval(1, 0)
