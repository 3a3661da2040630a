"""Firms named as two people: the listed pairs and the legal forms that mark a firm."""

from __future__ import annotations

import pytest

from data_quality.pii_firms import FIRM_RE, in_firm_name


@pytest.mark.parametrize(("text", "firm"), [
    ("Bought it at Barnes and Noble today", "Barnes and Noble"),
    ("barnes n noble had it", "barnes n noble"),
    ("Procter &Gamble, again", "Procter &Gamble"),
    ("Ben & Jerry’s Cherry Garcia", "Ben & Jerry’s"),
    ("two Barnes & Nobles near me", "Barnes & Nobles"),
    ("Smith & Jones LLP sued them", "Smith & Jones LLP"),
    ("a Tiffany & Co. ring", "Tiffany & Co."),
    ("Bought it at John Lewis & Partners", "John Lewis & Partners"),  # a two-word name before the legal form
    ("The Peter Jones & Co. shop", "Peter Jones & Co."),
])
def test_a_listed_pair_or_a_legal_form_is_a_firm(text, firm):
    assert [match.group(0) for match in FIRM_RE.finditer(text)] == [firm]


@pytest.mark.parametrize("text", [
    "John and Mary loved it",
    "Smith & Jones came by",
    "Mary and co. were great",  # a legal form is capitalised in a firm's name
    "Sarah Co-founded it",
    "Barnes and Nobleman",  # a listed pair inside a longer word is not it
])
def test_people_and_lookalikes_are_no_firm(text):
    assert FIRM_RE.search(text) is None


def test_a_span_is_in_a_firm_only_when_the_firm_holds_it_whole():
    text = "Jim Barnes and Noble friends, and " + "x" * 100 + " Barnes & Noble"
    assert not in_firm_name(text, 0, 10)  # "Jim Barnes" runs past the firm's start
    assert in_firm_name(text, 4, 10)
    at = text.rindex("Barnes")
    assert in_firm_name(text, at, at + 6) and in_firm_name(text, at + 9, at + 14)
