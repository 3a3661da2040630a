"""The Presidio engine: names, addresses and places next to the validated detectors, offline."""

from __future__ import annotations

import pytest
import spacy

from data_quality.pii import scrub_text
from data_quality.pii_engine import OfflineSpacyNlpEngine, default_engine


@pytest.mark.parametrize(("text", "expected"), [
    ("Heather: I'm Daniel's daughter", "<PERSON>: I'm <PERSON>'s daughter"),
    ("Please correct it to Mr. Steven Parmentier?", "Please correct it to <PERSON>?"),
    ("Our founders: Mazzi, Bowman and Hill.", "Our founders: <PERSON>, <PERSON> and <PERSON>."),
    # A list of name words only, one of them a census surname: no name found first.
    ("Thanks to Hermansen and Lowery, it shipped.", "Thanks to <PERSON> and <PERSON>, it shipped."),
    ("sometimes people call me owen", "sometimes people call me <PERSON>"),
    ("A better pop song? Sjöberg and Cantu were precision engineers.",
     "A better pop song? <PERSON> and <PERSON> were precision engineers."),
    ("Ship it to 15 Glyn St, Leeds LS1 4AB today", "Ship it to <ADDRESS> today"),
    # The street word first (French, Spanish, Italian, Polish), and a unit line under a street of
    # any language.
    ("Envoyez-le au 12 rue de la Paix, 75002 Paris svp", "Envoyez-le au <ADDRESS> svp"),
    ("Vivo en Calle Mayor 5, Madrid desde 2019", "Vivo en <ADDRESS> desde 2019"),
    ("Ship to Via Roma 10, Milano", "Ship to <ADDRESS>"),
    # A full stop after the city ends the address, not the next sentence's first word (a new user's
    # pass); a short abbreviation ("St.") does not.
    ("12 Baker Street, London. Price was fine.", "<ADDRESS>. Price was fine."),
    ("Ship to 12 Main St, St. Louis, MO 63101 please", "Ship to <ADDRESS> please"),
    ("Send it to 28245 Puruntie 82\n Apt. 595\n LAPPEENRANTA", "Send it to <ADDRESS>"),
    ("his address: 450 Præstevænget 15, København V", "his address: <ADDRESS>"),
    # A name the model's entity ran into the address with keeps its own placeholder.
    ("Dr. Cindy Holinka Apt. 117 5720 Skoanveien 226", "<PERSON> <ADDRESS> 226"),
    ("Our neighbour Mr. Hill fixed it", "Our neighbour <PERSON> fixed it"),
    # Given names of other countries, from the world list ("Samsung" is in no name list).
    ("I bought it for Nikolaj and Mette, not my Samsung", "I bought it for <PERSON> and <PERSON>, not my Samsung"),
    # A title goes with the name; the verb "miss" stays.
    ("I miss Anna since Dr Božić moved", "I miss <PERSON> since <PERSON> moved"),
    # Lone surnames of languages no name list here covers, by their endings.
    ("Tell Ivanova the order came late", "Tell <PERSON> the order came late"),
    ("Ask Kovalenko about the refund", "Ask <PERSON> about the refund"),
    ("Virtanen packed it badly", "<PERSON> packed it badly"),
    # A name introduced as one, in any case, or a quote's speaker.
    ("sometimes people call me philipp", "sometimes people call me <PERSON>"),
    ("I am called Ngozi Okafor here", "I am called <PERSON> here"),
    ("Call me Owen, I'll explain", "Call me <PERSON>, I'll explain"),
    ("Ya know, Heather fixed it", "Ya know, <PERSON> fixed it"),
    # Interjections that are parts of names, names with a glued or typed capital, and names with
    # an apostrophe before a contraction's letters.
    ("I gave it to Ya Ling. Ah Kow bought two", "I gave it to <PERSON>. <PERSON> bought two"),
    ("My friend OConnor set it up, ask DCosta or IJzerman", "My friend <PERSON> set it up, ask <PERSON> or <PERSON>"),
    ("My husband STeve loves it", "My husband <PERSON> loves it"),
    ("call me Sa'd", "call me <PERSON>"),
    ("call me Lotta, or call me Imma", "call me <PERSON>, or call me <PERSON>"),  # reductions that are names
    # A pair of names before a verb or a possessive is people; the possessive stays.
    ("Ewa and Jonas's house is warm. Mette and Nikolaj love it",
     "<PERSON> and <PERSON>'s house is warm. <PERSON> and <PERSON> love it"),
    # Names in scripts without capitals, after a cue; a vowel sign or a decomposed accent ends no word.
    ("my name is राहुल शर्मा", "my name is <PERSON>"),
    ("My friend 田中太郎 recommended it. Our waiter محمد أحمد too",
     "My friend <PERSON> recommended it. Our waiter <PERSON> too"),
    ("Ask our server राहुल, or Dr. 王伟", "Ask our server <PERSON>, or <PERSON>"),
    ("Dr. राहुल कुमार शर्मा and my friend ジョン・スミス", "<PERSON> and my friend <PERSON>"),
    ("my friend ג'ורג' כהן, my son 田中 Kenji", "my friend <PERSON>, my son <PERSON>"),
    ("Mrs. 王秀英 bought two, Ms.王秀英 too; my friend (田中太郎) said so",
     "<PERSON> bought two, Ms.<PERSON> too; my friend (<PERSON>) said so"),
    # Caseless names listed after a cue: after the ideographic comma, or after a plural cue.
    ("my friend 田中太郎、山田花子 loved it; my sons 李明 and 王伟 use it", "my friend <PERSON>、<PERSON> loved it; "
     "my sons <PERSON> and <PERSON> use it"),
    ("our kids 小明, 小红 & 小刚 and my friend 王小明，他说很好. Dr. 王伟 and 客服 helped",
     "our kids <PERSON>, <PERSON> & <PERSON> and my friend <PERSON>，他说很好. <PERSON> and 客服 helped"),
    ("Call me Kinda, it's my name", "Call me <PERSON>, it's my name"),  # a capitalised reduction may be a name
    ("call me Jose\u0301, i am called Ngozi", "call me <PERSON>, i am called <PERSON>"),
    # A given name that is an English word, where someone is thanked, asked for or given a role.
    ("Ask for Lee at the counter", "Ask for <PERSON> at the counter"),
    ("Lee was our server and Grace our host", "<PERSON> was our server and Grace our host"),
    ("Our waitress, Rose, was lovely. Thanks to Mark Hill too",
     "Our waitress, <PERSON>, was lovely. Thanks to <PERSON> too"),
    ("Friday Mark was our server. Shout out to Coach Will! Thanks to Uncle Bill",
     "Friday <PERSON> was our server. Shout out to Coach <PERSON>! Thanks to Uncle <PERSON>"),
    ("Grace was our very best waitress. Ask for Lee today",
     "<PERSON> was our very best waitress. Ask for <PERSON> today"),
    # The same cues before a lower-case given name in a text with capitals elsewhere.
    ("Great stay. thanks to john at the front desk!", "Great stay. thanks to <PERSON> at the front desk!"),
    ("Loved it, ask for maria garcia when you call.", "Loved it, ask for <PERSON> when you call."),
    ("Fast delivery, shout out to tom! And sarah was our waitress",
     "Fast delivery, shout out to <PERSON>! And <PERSON> was our waitress"),
    # A second lower-case name joined to a cued one, and a surname with its elided article: left in before.
    ("Loved it. thanks to ryan and jessica at reception", "Loved it. thanks to <PERSON> and <PERSON> at reception"),
    ("Good. ask for sean o'neill at the desk", "Good. ask for <PERSON> at the desk"),
    # A firm of a two-word name and a legal form is no person: "John Lewis" was scrubbed.
    ("Great. Bought it at John Lewis & Partners last week", "Great. Bought it at John Lewis & Partners last week"),
    # A firm's name is no pair of people; a pair that is no listed firm and has no legal form is.
    ("Bought it at Barnes and Noble, like my Johnson & Johnson gauze. John and Mary love it",
     "Bought it at Barnes and Noble, like my Johnson & Johnson gauze. <PERSON> and <PERSON> love it"),
    ("I shop at Marks and Spencer. Smith & Jones came by", "I shop at Marks and Spencer. <PERSON> & <PERSON> came by"),
    ('"It works," says björklund.', '"It works," says <PERSON>.'),
    ("my daughter who lives in St. Louis loves it", "my daughter who lives in <LOCATION> loves it"),
    ("Mail jörg.weiß@bücher-laden.de or ring Anna on +44 20 7946 0958",
     "Mail <EMAIL> or ring <PERSON> on <PHONE>"),
])
def test_names_and_addresses_are_replaced(text, expected):
    assert scrub_text(text)[0] == expected


@pytest.mark.parametrize("text", [
    "Love my Echo Dot, Alexa plays music all day",
    "Bought the Kindle Fire HD 8 on 03/14/2024, model B00ZV9PXP2, 5 stars",
    "Grace under pressure: it will mark the end of my old Bose speaker",
    "Works with Philips Hue and Spotify. Great in June",
    "The Alexis app is fine",  # a misspelt wake word is not a name
    "My daughter still likes my Samsung Tab better.",  # brand: "Tab" is nobody's name
    "On Christmas Eve I went in looking for an iPad",  # a date word before a given name
    "Great for the office or Kitchen.",  # a rare surname alone is a word first
    "Sold at Crate and Barrel, like my old Bose and Samsung gear",  # a list with an English word
    # A unit word and a number that end no address line; a street word that starts no street.
    "I installed Microsoft Office Suite 2019 on it",
    "Unit 2 stopped working after a week",
    "Via Alexa 2 timers run at once",
    "Rue 21 sells these cheaper",
    "I paid 12 via PayPal and 5 via Apple Pay.",
    "Ordered Pixel 8, Unit 2 broke after a day.",
    "Address Book 3 app crashed on iOS 17.",
    "MAC address: 00 1A 2B, easy setup.",
    "I loved Suite 16, the last track",
    "call me crazy but I love it",  # a cue followed by an English word or a function word
    "I hope they won't call me I'll tell em to send it back",  # nor by a contraction
    "call me i'll tell em",
    "call me Y'all, call me Ma'am",
    "call me ol' faithful, they call me gotta-have-it girl",  # informal reductions
    # A person cue before a word that names no one, or a given name modifying a noun.
    "Thanks to Prime I got it fast; talk to Alexa or ask for Best Buy pricing",
    "Thanks to Grace period rules I could return it",
    "Procter and Gamble products, Bang & Olufsen speakers and Harper and Row editions",  # firms as modifiers
    "Johnson & Johnson makes it, Procter & Gamble sells it, Ben & Jerry's melts; Smith & Jones LLP sued",
    # A person cue before a lower-case word that names no one: a thing, a shop, a pronoun, a word.
    "Great seller. thanks to the seller, ask for a refund, thanks to amazon, shout out to everyone",
    "Nice. thanks to will power, ask for grace period, thanks to bill gates' foundation",
    "Great product, 無料 shipping, my son 8 years old loves the 小米 band",  # no cue before the word
    "ask for 收据 at checkout, I talked to 客服, thanks to 小米, my partner 楽天 offers points",
    # Title case, or a given name that begins a thing's name.
    "Our Server Will Be With You Shortly. Your Rep Will Contact You.",
    "Ask for Rose Gold color. Ask for Will Call at the counter. Thanks to Chase Bank for the refund.",
    "Talked to Dell support. Thanks to Harmony, the remote works.",
    "call me gonna be late, call me wanna-be chef",
    "Meh. Darn, it is loud",
    "Ya, turning on the lights by voice is good",  # interjections, which WordNet lacks
    "all it took was a brief chat and Voila, a new one is on the way",
    "Is an excellent EBook Reader, better than 3 TVs",  # a capitalised prefix letter or acronym
    '"Great," said my wife.',
    "my name is on the box",
    "Smirnoff and Stolichnaya are vodkas",  # endings that are no surname endings
    "The address is wrong on the box, 3 stars",
])
def test_product_words_dates_and_model_numbers_survive(text):
    assert scrub_text(text) == (text, {})


def test_counts_include_new_kinds():
    assert scrub_text("Dear Sandra, ship it to 15 Glyn St please")[1] == {
        "PERSON": 1, "ADDRESS": 1}


def test_engine_registers_only_project_recognizers():
    # Presidio's defaults include tldextract-backed (network) and noisy recognizers
    # (US_DRIVER_LICENSE on "v2", phones on IPv4): none may be loaded.
    names = {r.name for r in default_engine().analyzer.registry.recognizers}
    assert names and all(name.startswith("EdgeInsights") for name in names)
    assert scrub_text("firmware v2 on 192.168.1.20") == (
        "firmware v2 on <IP>", {"IP": 1})


def test_only_the_ner_pipe_runs():
    nlp = default_engine().nlp
    assert nlp.pipe_names == ["ner"]
    assert "lemmatizer" in nlp.component_names  # kept for its English word table


def test_missing_model_raises_instead_of_downloading(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("tried to download a model")

    monkeypatch.setattr(spacy.cli, "download", no_download)
    with pytest.raises(OSError, match="not installed"):
        OfflineSpacyNlpEngine("en_core_web_xx_not_installed").load()


def test_prefilter_spares_texts_without_name_words():
    engine = default_engine()
    assert not engine.needs_ner("Love my echo dot. It works great and the sound is good!")
    assert not engine.needs_ner("GREAT PRODUCT, 5 STARS")
    assert engine.needs_ner("Bought it for Heather")
    assert engine.needs_ner("my son who lives in Seattle")


@pytest.mark.timeout(60)
def test_address_patterns_stay_linear_on_runs_of_particles():
    # Each "de la" could once be read two ways, doubling the work per repeat: 28 took a minute, 34
    # hours. With one parse, 200 repeats are as quick as any sentence (the time-out is the check).
    text = "Rue " + "de la " * 200 + "x. Nice"
    assert scrub_text(text)[0] == text


@pytest.mark.timeout(60)
def test_name_lists_stay_linear_on_long_runs():
    # A run of list items with no "and" was scanned to its end from every item: 20,000 items took
    # 54 s. The time-out is the check; every item is still a name.
    text = "my kids " + "小明, " * 20000
    assert scrub_text(text)[1] == {"PERSON": 20000}


def test_prefilter_word_cache_is_bounded_and_keeps_verdicts(monkeypatch):
    import data_quality.pii_name_evidence as evidence_module
    from data_quality.pii_name_evidence import NameEvidence

    base = default_engine().evidence
    evidence = NameEvidence(base.given, base.surnames, base.english, base.allow)
    monkeypatch.setattr(evidence_module, "_CANDIDATE_CACHE_SIZE", 3)
    words = ["Heather", "Kitchen", "Sjöberg", "Echo", "table", "Heather"]
    assert [evidence.is_candidate(w) for w in words] == [True, False, True, False, False, True]
    assert len(evidence._candidates) <= 3
