"""The per-record check of central's answers (:mod:`serving.central_answer`), on answers as a
broken or hostile central would write them."""

from __future__ import annotations

import json

import pytest

from serving.central_answer import MAX_MODEL_VERSION_CHARS, CentralAnswer, check_central_answer

LABELS = ("positive", "negative")
DIGEST = "ab" * 32
GOOD = {"label": "negative", "score": 0.75, "model_version": "9", "bundle_sha256": "c0" * 32,
        "signal_digest": DIGEST}


def test_a_good_answer_is_accepted_as_sent():
    assert check_central_answer(GOOD, DIGEST, LABELS) == CentralAnswer(
        label="negative", score=0.75, model_version="9", bundle_sha256="c0" * 32)


@pytest.mark.parametrize("change, named", [
    # As Python's parser reads them: NaN and Infinity come through as floats.
    ({"score": json.loads("NaN")}, "score"), ({"score": json.loads("Infinity")}, "score"),
    ({"score": True}, "score"), ({"score": 1.0000001}, "score"), ({"score": "0.5"}, "score"),
    ({"label": "maybe"}, "label"), ({"label": None}, "label"),
    ({"model_version": "9" * (MAX_MODEL_VERSION_CHARS + 1)}, "model_version"), ({"model_version": ""}, "model_version"),
    ({"bundle_sha256": "C0" * 32}, "bundle_sha256"), ({"bundle_sha256": "a" * 5_000_000}, "bundle_sha256"),
    ({"signal_digest": "0" * 64}, "signal digest"),
])
def test_a_bad_field_refuses_the_answer_naming_the_field_never_the_value(change, named):
    checked = check_central_answer({**GOOD, **change}, DIGEST, LABELS)
    assert checked.label is None and checked.score is None
    assert named in checked.error and len(checked.error) < 200


@pytest.mark.parametrize("answer", [None, [GOOD], "negative"])
def test_an_answer_that_is_no_object_is_refused(answer):
    assert check_central_answer(answer, DIGEST, LABELS).error == "central answer is not an object"
