"""A brand before a device noun ("Kasa smart plugs") and a device that shares a town's name ("the
Echo") are no PII; a person whose surname is a device noun ("Judith Light") still is."""

from __future__ import annotations

import re

import pytest

from data_quality.pii_engine import rules_engine
from data_quality.pii_eval import load_review_texts, review_rows


def _review(data_dir, file: str, row: int) -> str:
    return next(r.text for r in review_rows(load_review_texts(data_dir))
                if r.file == file and r.row == row)


@pytest.mark.parametrize(("text", "word", "brand"), [
    ("I purchased 2 Kasa smart plugs to control our lights.", "Kasa", True),
    ("It syncs with the Etekcity Voltson Wi-Fi Smart Plugs.", "Voltson", True),
    ("I got the Kasa Cam to go with it.", "Kasa", True),
    ("Installation again was easy using the Kasa app.", "Kasa", True),
    # a verb after the name, not a device
    ("Anna plugs it in every night.", "Anna", False),
    ("Sam lights the candles.", "Sam", False),
    # a given name and a census surname
    ("Judith Light is one of my favorite actresses.", "Judith", False),
    # a given name before a device: a person, unless a title or a determiner says brand
    ("I got Anna wireless headphones for her birthday.", "Anna", False),
    ("We bought Mike headphones.", "Mike", False),
    ("The Phillips Hugh Bulb that was included is nice.", "Hugh", True),
    ("Try the Hugh bulb.", "Hugh", True),
    # the device noun too far away, or not one space after
    ("Ask Anna about the new smart wireless outdoor plugs.", "Anna", False),
    ("Thanks, Anna. Plugs arrived.", "Anna", False),
])
def test_a_word_before_a_device_noun_is_a_brand(text, word, brand):
    evidence = rules_engine().evidence
    assert evidence.names_device(text, text.index(word)) is brand


def test_real_reviews_keep_the_brand_and_lose_no_person(data_dir):
    engine = rules_engine()
    kasa = _review(data_dir, "amazon_alexa_reviews", 155)
    echo = _review(data_dir, "datafiniti_amazon_reviews", 907)
    actress = _review(data_dir, "imdb_labelled", 489)
    assert [m.start() for m in re.finditer("Kasa", kasa)] and all(
        engine.evidence.names_device(kasa, m.start()) for m in re.finditer("Kasa", kasa))
    found = engine.analyze_batch([kasa, echo, actress])
    assert not any(s.kind in ("PERSON", "LOCATION") for s in found[0] + found[1])
    assert [actress[s.start:s.end] for s in found[2] if s.kind == "PERSON"] == ["Judith Light"]
