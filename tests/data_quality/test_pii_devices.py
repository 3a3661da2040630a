"""A brand before a device noun ("2 Kasa smart plugs") and a device that shares a town's name
("the Echo") are no PII; a person before a device ("got Kwame wireless headphones") or with a
surname that is a device noun ("Judith Light") still is."""

from __future__ import annotations

import re

import pytest

from data_quality.pii_engine import rules_engine
from data_quality.pii_eval import load_review_texts, review_rows


def _review(data_dir, file: str, row: int) -> str:
    return next(r.text for r in review_rows(load_review_texts(data_dir))
                if r.file == file and r.row == row)


@pytest.mark.parametrize(("text", "word", "brand"), [
    # a determiner or a number marks a product's name
    ("I purchased 2 Kasa smart plugs to control our lights.", "Kasa", True),
    ("Installation again was easy using the Kasa app.", "Kasa", True),
    ("I got the Kasa Cam to go with it.", "Kasa", True),
    ("Try the Hugh bulb.", "Hugh", True),
    # so do capitals on the device words inside a sentence
    ("sync'd with the Etekcity Voltson Wi-Fi Smart Plugs to control the lighting", "Voltson", True),
    # no marker: a person, or a brand left as a name
    ("Easy to set up, can control Kasa smart plugs no problem.", "Kasa", False),
    ("Gave Kwame wireless headphones for his birthday.", "Kwame", False),
    ("My son Oluwaseun headphones broke after a week.", "Oluwaseun", False),
    ("I got Anna wireless headphones for her birthday.", "Anna", False),
    ("We bought Mike headphones.", "Mike", False),
    ("Anna plugs it in every night.", "Anna", False),
    # a title-cased headline is no title inside a sentence
    ("Bought Mike Wireless Headphones For Christmas", "Mike", False),
    # a given name and a capitalised word make a full name, whatever precedes them
    ("Judith Light is one of my favorite actresses.", "Judith", False),
    ("Tom Switch from customer support was super helpful.", "Tom", False),
    ("Room 12 Sarah Outlet at the hotel was broken.", "Sarah", False),
    ("The Phillips Hugh Bulb that was included is nice.", "Hugh", False),
    # the device noun too far away, or not one space after
    ("Ask Anna about the new smart wireless outdoor plugs.", "Anna", False),
    ("Thanks, Anna. Plugs arrived.", "Anna", False),
])
def test_a_word_before_a_device_noun_is_a_brand_where_the_sentence_says_so(text, word, brand):
    evidence = rules_engine().evidence
    assert evidence.names_device(text, text.index(word)) is brand


def test_a_device_named_like_a_town_is_a_town_before_its_state():
    spans = rules_engine().analyze_batch(["We live in Echo, Oregon and the delivery took weeks."])[0]
    text = "We live in Echo, Oregon and the delivery took weeks."
    assert [text[s.start:s.end] for s in spans if s.kind == "LOCATION"] == ["Echo", "Oregon"]


def test_real_reviews_keep_the_brand_and_lose_no_person(data_dir):
    engine = rules_engine()
    kasa = _review(data_dir, "amazon_alexa_reviews", 155)
    echo = _review(data_dir, "datafiniti_amazon_reviews", 907)
    actress = _review(data_dir, "imdb_labelled", 489)
    assert len(re.findall("Kasa", kasa)) == 3 and all(
        engine.evidence.names_device(kasa, m.start()) for m in re.finditer("Kasa", kasa))
    found = engine.analyze_batch([kasa, echo, actress])
    assert not any(s.kind in ("PERSON", "LOCATION") for s in found[0] + found[1])
    assert [actress[s.start:s.end] for s in found[2] if s.kind == "PERSON"] == ["Judith Light"]


@pytest.mark.parametrize(("text", "kept"), [
    # a tier after a model's number or a product word continues the model's name
    ("I kept the iPhone 15 Pro Max, my son Max loves it.", ["Max"]),
    ("Returned the Galaxy S24 Ultra Max for the Echo Plus Max", []),
    ("I upgraded from the iPhone 15 Pro Max and love it. Nike Air Max 90 fits true to size.", []),
    # only tier words continue a model: a name after a tier is a name
    ("Size 10 Ultra Amelia says they fit.", ["Amelia"]),
    # a contact line's label before its colon is no name; the name after it still is
    ("Tel: ask for Max at the desk", ["Max"]),
    # a tier word alone, or a label without its colon, says nothing
    ("Pro tip: ask Max.", ["Max"]),
    ("Tel Smith called me back.", ["Tel Smith"]),
])
def test_a_model_tier_and_a_contact_label_are_no_names(text, kept):
    spans = rules_engine().analyze_batch([text])[0]
    assert [text[s.start:s.end] for s in spans if s.kind == "PERSON"] == kept


@pytest.mark.parametrize(("text", "names"), [
    # listed with found names, a common surname that resembles a brand ("philips") is a name
    ("The shop was started by Morozova, Khan and Phillips in 2019.", ["Morozova", "Khan", "Phillips"]),
    ("Kovalev, Lee and Phillips wrote this book.", ["Kovalev", "Lee", "Phillips"]),
    # not before a noun (a list of brands; the last pair before it modifies it), nor the wake
    # word misspelt
    ("I tried Ikea, Lidl and Phillips bulbs.", ["Ikea"]),
    ("Ask Alexis, Mary and Tom.", ["Mary", "Tom"]),
    # outside a list of names the brand misspelt stays a brand
    ("Works great with Phillips Hue and the Echo.", []),
])
def test_names_listed_with_names_may_resemble_products(text, names):
    spans = rules_engine().analyze_batch([text])[0]
    assert [text[s.start:s.end] for s in spans if s.kind == "PERSON"] == names


@pytest.mark.parametrize(("text", "names"), [
    ("Max volume is too low and Max brightness hurts.", []),   # a tier word before a noun modifies it
    ("Max loves it.", ["Max"]),                                 # before a verb it is a name
    ("My son Max plays with it daily.", ["Max"]),
])
def test_a_tier_word_before_a_noun_is_no_name(text, names):
    spans = rules_engine().analyze_batch([text])[0]
    assert [text[s.start:s.end] for s in spans if s.kind == "PERSON"] == names
