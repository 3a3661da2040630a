"""Fault kinds from public bug reports, each on a small string of our own."""

from __future__ import annotations

import pytest

from data_quality.pii import scrub_text


@pytest.mark.parametrize(("text", "expected"), [
    ("Mail: jörg.weiß@bücher-laden.de", "Mail: <EMAIL>"),
    ("écrivez à élodie@exemple.fr merci", "écrivez à <EMAIL> merci"),
    ("почта иван@пример.рф", "почта <EMAIL>"),
])
def test_non_ascii_email_is_caught(text, expected):
    assert scrub_text(text)[0] == expected


@pytest.mark.parametrize("text", [
    "The photo banner@2x.png looks blurry",
    "icons: logo@3x.webp and sheet@1x.pdf",
])
def test_file_name_with_at_sign_is_not_an_email(text):
    assert scrub_text(text) == (text, {})


@pytest.mark.parametrize(("text", "expected"), [
    ("Order line (212)555-0187 03/14/2024 09:12:44", "Order line <PHONE> 03/14/2024 09:12:44"),
    ("call 020 7946 0321 4 stars", "call <PHONE> 4 stars"),
    ("Phone: +1 212 555 0187 12:30 works", "Phone: <PHONE> 12:30 works"),
    # Two-digit groups are a real numbering style (France) and must stay whole.
    ("tel 01 23 45 67 89 ok", "tel <PHONE> ok"),
])
def test_phone_span_ends_where_the_number_ends(text, expected):
    assert scrub_text(text)[0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    # Glued to a word, which hides it from matchers that want a word boundary first.
    ("Phone: ref212-555-0187", "Phone: ref<PHONE>"),
    ("call me: tel+44 20 7946 0958", "call me: tel<PHONE>"),
    # Announced by the abbreviation on a form, and assigned by no numbering plan; a pH stays.
    ("ph: 555.867.5309", "ph: <PHONE>"),
    ("Ph 555-867-5309 after 6", "Ph <PHONE> after 6"),
    ("soil at pH 6.5, 120 g per 1000 ml", "soil at pH 6.5, 120 g per 1000 ml"),
])
def test_number_glued_to_a_word_or_after_an_abbreviation_is_caught(text, expected):
    assert scrub_text(text)[0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Mail: jo\u200bhn.doe@example.com please", "Mail: <EMAIL> please"),
    ("card 4111\u200b111111111111 thanks", "card <CARD> thanks"),
    ("ip 192.168.\u20601.20 here", "ip <IP> here"),
    ("card 4111\u00a01111\u00a01111\u00a01111 thanks", "card <CARD> thanks"),
    ("card 4111 1111\t1111 1111 thanks", "card <CARD> thanks"),
    ("IBAN GB82\u00a0WEST\u00a01234\u00a05698\u00a07654\u00a032 ok", "IBAN <IBAN> ok"),
    ("phone +44\u20117700\u2011900123 please", "phone <PHONE> please"),
    ("mail \uff4a\uff41\uff4e\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d now",
     "mail <EMAIL> now"),
    ("phone \uff0b\uff14\uff14 \uff17\uff17\uff10\uff10 \uff19\uff10\uff10\uff11\uff12\uff13 now", "phone <PHONE> now"),
    ("mail jane.doe [at] example [dot] com now", "mail <EMAIL> now"),
    ("mail jane.doe&#64;example.com now", "mail <EMAIL> now"),
    ("mail jane.doe%40example.com now", "mail <EMAIL> now"),
])
def test_invisible_and_look_alike_characters_do_not_hide_an_identifier(text, expected):
    assert scrub_text(text)[0] == expected


def test_text_with_joiners_and_no_pii_is_kept():
    text = "Great for the family \U0001F468\u200d\U0001F469\u200d\U0001F467 soft\u00adware works"
    assert scrub_text(text) == (text, {})
