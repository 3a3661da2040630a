"""Whether a word can be part of a person name: census names, English words, products.

The small English NER model tags a PERSON in 7.5 % of real reviews (measured on the shared review
files: "Kindle", "Best Buy", "Echo Dot", "Grandson"...) and misses lower-case or foreign names in
the Presidio samples, so its entities are weighed against the words they cover. Backing, strongest
first:

- a census given name that is no English word, or a common one that is only a noun ("Anna",
  "Heather"; not "Grace" or "Will");
- a capitalised word with non-ASCII letters outside the English word list ("Sjöberg");
- a census surname (same rule), or any capitalised word outside the English list.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from data_quality.pii import CONTRACTION_RE
from data_quality.pii_vocabulary import (
    COMMON_GIVEN_RANK, COMMON_LONE_SURNAME_RANK, COMMON_SURNAME_RANK, DEVICE_MODIFIERS, DEVICE_NOUNS,
    INTERJECTIONS, WAKE_WORD, EnglishWords, is_product, misspelt_product)


def _combining_marks() -> str:
    """A regex class body of the Basic Multilingual Plane's combining marks (Unicode categories
    Mn, Mc, Me): Indic vowel signs, Arabic harakat, decomposed accents. Python's ``\\w`` leaves
    them out, so "राहुल" would end a word at its first vowel sign and a name be scrubbed one
    letter long."""
    marks = [cp for cp in range(0x300, 0x10000) if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")]
    runs, start = [], marks[0]
    for prev, cp in zip(marks, marks[1:] + [None]):
        if cp != prev + 1:
            runs.append(f"\\u{start:04x}-\\u{prev:04x}")
            start = cp
    return "".join(runs)


MARKS = _combining_marks()
"""The combining marks of :func:`_combining_marks`, as a regex class body."""
# UTF-8 quotes and dashes read as Mac Roman ("‚Äô", "‚Äú"), frequent in one review file.
_MOJIBAKE_RE = re.compile(r"Ä[ôúùîì¶]")
_CAMEL_CASE_RE = re.compile(r"^(?!(?:Mc|Mac|De|Di|Da|La|Le|Van|Von)[A-Z])\w*[a-z][A-Z]")
# Two capitals or more, then lower case: a letter or an acronym glued before a word ("EBook",
# "IPad", "TVs"), but also a name whose apostrophe was dropped ("OConnor", "DSouza"), a Dutch
# "IJ" ("IJzerman") or a typed name ("STeve"); NameEvidence.glued_prefix tells them apart.
_CAPITAL_PREFIX_RE = re.compile(r"^[A-Z]{2,}[a-z]")
_ACRONYM_PLURAL_RE = re.compile(r"^[A-Z]{2,}e?s$")
# Surname endings of languages whose surnames the census and given-name lists lack: East Slavic
# (-ov/-ova, -ev/-eva, -in/-ina not: English has too many), patronymics (-vich/-vna), Ukrainian
# (-enko, -chuk), Polish (-ski/-ska, -wicz), Finnish (-nen), Georgian (-shvili, -dze), Armenian
# (-yan), Greek (-opoulos, -akis, -idis), Romanian (-escu), Turkish (-oğlu).
_SURNAME_ENDING_RE = re.compile(
    r"(?:[^aeiouy]ov|[^aeiouy]ova|[^aeiouy]ev|[^aeiouy]eva|yevich|ovich|evich|ovna|evna|enko|chuk|"
    r"ski|ska|sky|skaya|wicz|[aeiouyäö]nen|shvili|dze|yan|opoulos|akis|idis|escu|oğlu|oglu)$")
# Words that introduce a person's name ("call me philipp", "my name is Vsevolod") or attribute a
# quote to one ('," says björklund'); the one or two words after it are the name when they are no
# English word (or a census name). Lower case is kept: chat text drops capitals.
NAME_CUE_RE = re.compile(
    r"(?i)(?:\b(?:call(?:s|ed)?[ \t]+me|my[ \t]+name(?:[ \t]+is|['’]s)|i[ \t]+am[ \t]+called)"
    r"|[\"”'’],?[ \t]+(?:says|said|writes|wrote|adds|added))[ \t]+"
    rf"(?P<name>[^\W\d_][\w'’{MARKS}-]*(?:[ \t]+[^\W\d_][\w'’{MARKS}-]*)?)")
# People whom reviews thank, ask for or give a role ("ask for Lee at the counter", "thanks to
# Rose", "our server, Mark,", "Grace was our waitress"). There a capitalised census given name is a
# person even when it is an English word ("Lee", "Rose", "Mark", "Grace", which alone are too often
# words to count). The cue words take any case; the name must be capitalised. No role whose
# "name" is often a product ("my driver Realtek", "my tech Apple").
_ROLES = (r"(?:server|waiter|waitress|bartender|host|hostess|sales(?:man|woman|person|[ \t]+rep)|"
          r"rep|representative|agent|associate|technician|installer|courier|stylist|"
          r"barber|nurse|doctor|dentist|manager|cashier|clerk|trainer|instructor|teacher|coach|"
          r"realtor|mechanic|guide|therapist|plumber|electrician|contractor|pharmacist|receptionist)")
_CUES = (r"ask(?:ed|ing)?[ \t]+for|thanks?(?:[ \t]+you)?[ \t]+to|shout[ \t-]?outs?[ \t]+to|kudos[ \t]+to"
         r"|props[ \t]+to|(?:talk|talked|speak|spoke|chat|chatted)[ \t]+(?:to|with)"
         rf"|(?:helped|served|assisted)[ \t]+by|(?:our|my|your)[ \t]+{_ROLES}(?:[ \t]*,)?")
# A word start, so that a search is linear on a long run of letters ("AbAbAb…").
_PERSON_NAME = r"(?<![\w'’-])(?P<{}>[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)?)"
PERSON_CUE_RE = re.compile(
    rf"(?i:\b(?:{_CUES}))[ \t]+{_PERSON_NAME.format('name')}"
    rf"|{_PERSON_NAME.format('subject')}[ \t]+"
    rf"(?i:(?:is|was)[ \t]+(?:our|my)[ \t]+(?:[a-z]+[ \t]+){{0,2}}{_ROLES})\b")
# The same cues before lower-case words ("Great stay, thanks to john at the desk", "ask for maria
# garcia", "sarah was our waitress"): chat style drops the capitals there even in a text that has
# some elsewhere. The cue words are matched ASCII-case-insensitively, and the role phrase is found
# before the words ahead of it are read: a search for those words from every word start took three
# times as long over the reviews.
_LOWER_WORDS = r"(?<![\w'’-])(?P<name>[a-z][\w'’-]*(?:[ \t]+[a-z][\w'’-]*)?)"
LOWER_PERSON_CUE_RE = re.compile(rf"(?ai:\b(?:{_CUES}))[ \t]+{_LOWER_WORDS}")
ROLE_PHRASE_RE = re.compile(rf"(?ai:\b(?:is|was)[ \t]+(?:our|my)[ \t]+(?:[a-z]+[ \t]+){{0,2}}{_ROLES})\b")
LOWER_SUBJECT_RE = re.compile(rf"{_LOWER_WORDS}[ \t]+\Z")
# A second person joined to a cued one ("thanks to ryan and jessica"): the NER model takes a lower-case
# name after a capitalised one for a word.
LOWER_PAIRED_RE = re.compile(rf"[ \t]+(?a:and|&)[ \t]+{_LOWER_WORDS}")
# An Irish or Italian surname written with its elided article ("o'neill", "d'angelo"): the census
# lists spell it without the apostrophe.
_ELIDED_RE = re.compile(r"^([od])['’]")
# How far before a role phrase its subject's one or two words may begin.
SUBJECT_REACH = 60
# Words by which a name is addressed ("Coach Will", "Uncle Bill"): part of the cue, not the name.
ADDRESS_WORDS = frozenset("uncle aunt auntie coach grandma grandpa granny nana pastor father sister "
                          "brother officer nurse doctor chef captain cousin".split())
# Kin and friends named after a possessive ("my friend 田中太郎", "our son Ishaan"); not "partner",
# which is as often a firm ("my partner 楽天").
_KIN = (r"(?:friend|wife|husband|son|daughter|mom|mum|mother|dad|father|brother|sister|boss|neighbou?r"
        r"|colleague|co-?worker|cousin|uncle|aunt|grand(?:ma|pa|mother|father|son|daughter)|nephew|niece"
        r"|boyfriend|girlfriend|fianc[ée]e?|roommate)")
# Inner marks of names in scripts without capitals: the katakana middle dot ("ジョン・スミス"), the
# Chinese interpunct of transliterated names, the Hebrew geresh ("ג'ורג'").
_CASELESS_INNER = "・·'’׳ʼ"
# A name in a script without capitals ("田中太郎", "محمد بن سلمان", "राहुल") cannot be told by its
# case and the census lists none, so only after a kin or role word or a title is it taken (one to
# three words, checked caseless in :meth:`NameEvidence.caseless`; an ASCII letter starts none).
# "ask for" and "thanks to" are left out: there such a word is as often a thing ("ask for 收据").
_CASELESS_NAME = (rf"(?P<name>[^\W\d_A-Za-z][\w{MARKS}{_CASELESS_INNER}]*"
                  rf"(?:[ \t]+[^\W\d_A-Za-z][\w{MARKS}{_CASELESS_INNER}]*){{0,2}})")
CASELESS_CUE_RE = re.compile(
    rf"(?i:\b(?:(?:my|our|his|her|their|your)[ \t]+(?:{_KIN}|{_ROLES}|kid|child)(?P<plural>e?s|ren)?"
    r"|(?:mr|mrs|ms|dr)\.?))"
    r"(?:[ \t]*[(:：「『“\"][ \t]*|[ \t]+|(?<=\.))" + _CASELESS_NAME)
# The next name of a list after a caseless one: after the ideographic comma ("田中太郎、山田花子"),
# or after a plural cue ("my sons 李明 and 王伟", "my kids 小明, 小红"), an English comma or "and"
# (not the full-width comma, which NFKC makes ASCII and which as often opens a clause: "王小明，他说…").
CASELESS_NEXT_RE = re.compile(r"[ \t]*、[ \t]*" + _CASELESS_NAME)
CASELESS_NEXT_PLURAL_RE = re.compile(r"(?:[ \t]*、[ \t]*|,[ \t]+|[ \t]+(?:and|&)[ \t]+)" + _CASELESS_NAME)
# The other member of a pair of capitalised names, after or before a member: "… and Gamble", "Procter and …".
_MEMBER = r"[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)?"
_PAIR_AFTER_RE = re.compile(rf"[ \t]+(?:and|&)[ \t]+{_MEMBER}(?=[ \t])")
_PAIR_WINDOW = 100
_PAIR_BEFORE_RE = re.compile(rf"(?<![\w'’-]){_MEMBER}[ \t]+(?:and|&)[ \t]+$")
# Words before a brand or a title, never before a person's name ("the Pokemon craze", "the Kasa app").
DETERMINERS = frozenset("the a an my your our their his her its this that these those".split())
# Tiers that follow a model's number or name ("iPhone 15 Pro Max", "Galaxy S24 Ultra", "Echo Dot
# Plus"): there they are the model's name, though "Max" is a given name elsewhere.
MODEL_TIERS = frozenset("pro plus ultra lite mini max air".split())
# Labels of a contact line ("Tel: 555 0100", "Fax:"): a label before its colon is no name.
CONTACT_LABELS = frozenset("tel tél fax mob ph phone mobile cell email e-mail mail web".split())
# Words whose pre-filter verdict is kept (about 20 MB at most).
_CANDIDATE_CACHE_SIZE = 200_000


# A letter with the combining marks that follow it.
LETTER = rf"[^\W\d_][{MARKS}]*"
# A word, with inner apostrophes and hyphens ("O'Neil") but not a possessive "'s".
WORD_RE = re.compile(rf"(?:{LETTER})+(?:['’-](?!s\b)(?:{LETTER})+)*")


def _lower_word_after(text: str, end: int) -> bool:
    """Whether a lower-case word follows ``text[:end]`` after one space."""
    return text[end:end + 1] == " " and text[end + 1:end + 2].islower()


def _word_after(text: str, end: int) -> str | None:
    """The :data:`WORD_RE` word after one space past ``text[:end]``, or None."""
    after = WORD_RE.match(text, end + 1) if text[end:end + 1] == " " else None
    return None if after is None else after.group(0)


def _singular_forms(noun: str) -> tuple[str, ...]:
    """``noun`` and the singulars it may be a plural of ("cases" → "case", "cas"; "ponies" → "pony")."""
    return (noun, noun.removesuffix("s"), noun.removesuffix("es"),
            noun[:-3] + "y" if noun.endswith("ies") else noun)


def _after_determiner(text: str, start: int) -> bool:
    """Whether a :data:`DETERMINERS` word or a number stands right before ``text[start:]``."""
    before = text[:start].rsplit(maxsplit=1)
    return bool(before) and (before[-1].lower() in DETERMINERS or before[-1].isdigit())


def opens_sentence(text: str, start: int) -> bool:
    """Whether ``text[start:]`` begins a sentence or a line: only spaces, quotes and an opening
    bracket between it and the text's start, a line break, a sentence's closing ``.``, ``!`` or
    ``?``, or a colon. A capital letter there is no evidence of a name."""
    before = text[:start].rstrip(" \t\"'“(")
    return not before or before[-1] in ".!?\n:"


@dataclass(frozen=True)
class NameEvidence:
    """Word lists that decide whether a word can be part of a name.

    Attributes:
        given: census given names -> rank; surnames: census surnames -> rank;
        english: English words; allow: product vocabulary (see :mod:`data_quality.pii_vocabulary`).
    """

    given: dict[str, int]
    surnames: dict[str, int]
    english: EnglishWords
    allow: frozenset[str]
    # is_candidate runs on every word of every text (the NER pre-filter); words repeat a lot.
    _candidates: dict[str, bool] = field(default_factory=dict, init=False, repr=False,
                                         compare=False)

    def name_shaped(self, word: str, among_names: bool = False) -> bool:
        """Capitalised, not all capitals ("AI", "LOVE") nor camel case ("SoundTouch"; but
        "McDonald", "DeRose") nor a word with a prefix glued on (:meth:`glued_prefix`: "EBook"),
        at least two letters, no contraction ("I'm"), no product.
        ``among_names`` (a word listed with found names): a common census name that merely
        resembles a product word counts (:meth:`lookalike_product`)."""
        lower = word.lower()
        return (len(word) >= 2 and word[0].isupper() and not word.isupper()
                and not _CAMEL_CASE_RE.search(word) and not self.glued_prefix(word)
                and not CONTRACTION_RE.search(word) and not _MOJIBAKE_RE.match(word)
                and not (self.lookalike_product(lower) if among_names else is_product(lower, self.allow)))

    def glued_prefix(self, word: str) -> bool:
        """Whether ``word`` is a letter or an acronym glued before a word: two capitals or more,
        then lower case, and either an acronym's plural ("TVs", "PCs") or an English or product
        word after its first letter ("EBook", "IPad", "QLed"), unless the word or that tail is a
        census name ("MArk", "DCosta"). "OConnor", "DSouza", "IJzerman" and "STeve" are names."""
        if not _CAPITAL_PREFIX_RE.match(word) or self.is_given(word) or word.lower() in self.surnames:
            return False
        tail = word[1:].lower()
        if self.is_given(tail) or self.is_surname(tail, alone=False):
            return False  # "DCosta", "DAngelo", "ONeil"
        return bool(_ACRONYM_PLURAL_RE.match(word)) or self.english.contains(tail) or is_product(tail, self.allow)

    def exclaims(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is one interjection (:data:`~data_quality.pii_vocabulary.
        INTERJECTIONS`) before a comma, a closing mark, a lower-case word or the text's end ("Ya,
        turning on lights", "and Voila, a new one", "Meh.", "Ya know"): an exclamation, not a
        name. Before a capitalised word it may be part of one ("Ya Ting", "Ah Kow")."""
        after = text[end:].lstrip(" ")
        return (text[start:end].lower() in INTERJECTIONS
                and (not after or after[0] in ",.!?…;:" or after[0].islower()))

    @staticmethod
    def caseless(word: str) -> bool:
        """Whether ``word``'s letters are all of a script without capitals (Han, Arabic,
        Devanagari...), where case tells nothing of a name."""
        return not any(ch.isupper() or ch.islower() for ch in word)

    def lookalike_product(self, lower: str) -> bool:
        """Product vocabulary (:func:`~data_quality.pii_vocabulary.is_product`) except a common
        census name (given-name rank up to :data:`COMMON_GIVEN_RANK`, surname rank up to
        :data:`COMMON_SURNAME_RANK`) that merely resembles a product word: "Phillips" near philips.
        Reviews misspell the brand so ("Phillips Hue"), so this reading is kept for a word listed
        with found names ("Kovalev, Lee and Phillips"); the wake word's misspellings ("Alexis")
        stay products even there."""
        if lower in self.allow:
            return True
        resembled = misspelt_product(lower)
        if resembled is None or resembled == WAKE_WORD:
            return resembled is not None
        return not (self.given.get(lower, COMMON_GIVEN_RANK + 1) <= COMMON_GIVEN_RANK
                    or self.surnames.get(lower, COMMON_SURNAME_RANK + 1) <= COMMON_SURNAME_RANK)

    def names_device(self, text: str, start: int) -> bool:
        """Whether the word at ``text[start:]`` is a brand: up to two device modifiers and a
        device noun follow it, one space apart (:data:`~data_quality.pii_vocabulary.DEVICE_NOUNS`),
        and the sentence marks the words as a product's name: a determiner or a number before
        it ("2 Kasa smart plugs", "the Kasa app"), or capitals on the device words that the next
        word lacks, as in a title inside a sentence ("Voltson Wi-Fi Smart Plugs to control").

        A person before a device ("got Kwame wireless headphones", "my son Tom headphones") has
        neither, nor has a title-cased headline ("Bought Mike Wireless Headphones For Him"). A
        census given name needs the determiner, and a capitalised word right after it makes a
        full name whatever precedes ("Judith Light", "Tom Switch", "Room 12 Sarah Outlet")."""
        words = WORD_RE.finditer(text, start)
        first = next(words, None)
        if first is None or first.start() != start:
            return False
        title = True
        end = first.end()
        for k, word in enumerate(words):
            lower = word.group(0).lower()
            if k > 2 or text[end:word.start()] != " ":
                return False
            title = title and word.group(0)[0].isupper()
            if lower in DEVICE_NOUNS:
                if self.is_given(first.group(0)):
                    return not (k == 0 and title) and _after_determiner(text, start)
                return _after_determiner(text, start) or title and _lower_word_after(text, word.end())
            if lower not in DEVICE_MODIFIERS:
                return False
            end = word.end()
        return False

    def continues_model(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is made of :data:`MODEL_TIERS` words only and continues a
        model's name: right after a number, product vocabulary or another capitalised tier
        ("iPhone 15 Pro Max", "Echo Dot Plus", "Air Max 90"). Another word after a tier is no part
        of it ("Size 10 Ultra Amelia says"), nor is a tier word opening a sentence ("Max said")."""
        words = text[start:end].split()
        if not words or any(word.lower() not in MODEL_TIERS for word in words):
            return False
        before = text[max(0, start - 40):start]
        if not before.endswith(" "):
            return False
        last = before.split()[-1].strip("(,") if before.split() else ""
        return (any(ch.isdigit() for ch in last) or last.lower() in self.allow
                or last[:1].isupper() and last.lower() in MODEL_TIERS)

    def modifies_noun(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is one :data:`MODEL_TIERS` word right before a lower-case noun
        that is no verb or adjective form ("Max volume is too low", "Pro tip"): a modifier, while
        a name goes before a verb ("Max loves it")."""
        return text[start:end].lower() in MODEL_TIERS and self._noun_at(text, end)

    def pair_modifies_noun(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is one member of a pair ("A and B", "A & B") right before a
        lower-case noun that is no verb or adjective form ("Procter and Gamble products", "Bang
        and Olufsen speakers"): a firm's name used as a modifier, while people's names go before
        a verb or a possessive ("Alonso and Lee were engineers", "Sarah and Tom's house")."""
        if (after := _PAIR_AFTER_RE.match(text, end)) is not None:
            return self._noun_at(text, after.end())
        # A member is two words at most: the window keeps the search linear on long texts.
        return (_PAIR_BEFORE_RE.search(text, max(0, start - _PAIR_WINDOW), start) is not None
                and self._noun_at(text, end))

    def thing_after(self, text: str, end: int) -> bool:
        """Whether one space and a lower-case noun that is no adverb or stop word follow
        ``text[:end]`` (:attr:`~data_quality.pii_vocabulary.EnglishWords.things`, plurals read as
        their singular): "Grace period", "Rose gold color", "Dell support"; not "Lee today"."""
        noun = _word_after(text, end)
        if noun is None or not noun.islower():
            return False
        if noun in self.english.not_nouns and noun not in self.english.things:
            return False  # a verb or function word whose stem is a noun: "was" is no plural of "wa"
        return any(form in self.english.things for form in _singular_forms(noun))

    def _noun_at(self, text: str, end: int) -> bool:
        """Whether one space and a lower-case English noun that is no verb or adjective form
        (plurals read as their singular) follow ``text[:end]``."""
        noun = _word_after(text, end)
        return (noun is not None and noun.islower() and self.english.contains(noun)
                and not any(form in self.english.not_nouns for form in _singular_forms(noun)))

    @staticmethod
    def labels_contact(text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is a contact line's label before its colon ("Tel:")."""
        return text[start:end].lower() in CONTACT_LABELS and text[end:end + 2].lstrip(" ").startswith(":")

    def _census_name(self, lower: str, ranks: dict[str, int], common: int) -> bool:
        if lower not in ranks:
            return False
        if not self.english.contains(lower):
            return True
        return ranks[lower] <= common and lower not in self.english.not_nouns

    def is_given(self, word: str) -> bool:
        """A census given name that is no English word, or a common one that is only a noun."""
        return self._census_name(word.lower(), self.given, COMMON_GIVEN_RANK)

    def is_surname(self, word: str, alone: bool = True) -> bool:
        """A census surname that is no English word, or a common one that is only a noun
        ("o'neill" looked up as the census spells it, "oneill": :data:`_ELIDED_RE`); standing
        ``alone`` (no other name word beside it) it must be very common ("Hill", "Bowman";
        "Kitchen", rank 2,121, is a room)."""
        common = COMMON_LONE_SURNAME_RANK if alone else COMMON_SURNAME_RANK
        return self._census_name(_ELIDED_RE.sub(r"\1", word.lower()), self.surnames, common)

    def strong(self, word: str) -> bool:
        """A name whatever the model says: a given name, a word with non-ASCII letters outside
        the English word list ("Sjöberg"), or one of five letters or more, outside it, ending as
        surnames of another language do ("Yefremova", "Salonen"; :data:`_SURNAME_ENDING_RE`)."""
        lower = word.lower()
        return self.is_given(word) or (len(word) >= 3 and not word.isascii()
                                       or len(word) >= 5 and _SURNAME_ENDING_RE.search(lower) is not None
                                       ) and not self.english.contains(lower)

    def weak(self, word: str, sentence_start: bool, alone: bool = True) -> bool:
        """Backs a PERSON entity: a surname, or no English word (and then a census name when it
        opens a sentence, where misspellings get capitalised too: "Awseome")."""
        lower = word.lower()
        if self.is_surname(word, alone):
            return True
        if self.english.contains(lower):
            return False
        return not sentence_start or lower in self.given or lower in self.surnames

    def truecase(self, text: str) -> str:
        """``text`` with lower-case person names capitalised, for the NER model, which reads case:
        in a text with no capital at all, every census name; in one with capitals, a census given
        name no English word spells (or a common one that is only a noun) right after a person cue
        or before a role phrase (:data:`LOWER_PERSON_CUE_RE`, :data:`ROLE_PHRASE_RE`: "Great stay,
        thanks to john at the desk", "sarah was our waitress"; not "thanks to will power" nor
        "thanks to amazon"), and a given name joined to a cued one by "and" or "&" ("thanks to ryan
        and jessica"). Either takes the surname or non-English word after the name ("ask for maria
        garcia", "sean o'neill"). Same length as ``text``, so offsets carry over to the original."""
        if any(ch.isupper() for ch in text):
            cued = [words for match in LOWER_PERSON_CUE_RE.finditer(text)
                    if (words := self._given_first(text, match, subject=False))]
            cued += [paired for words in cued if (paired := self._paired(text, words))]
            for role in ROLE_PHRASE_RE.finditer(text):
                subject = LOWER_SUBJECT_RE.search(text, max(0, role.start() - SUBJECT_REACH), role.start())
                if subject is not None and (words := self._given_first(text, subject, subject=True)):
                    cued.append(words)
            return self._capitalised(text, cued)
        words = list(WORD_RE.finditer(text))
        return self._capitalised(text, [words[i:i + 2] for i, match in enumerate(words)
                                        if self.is_given(match.group(0)) or self.is_surname(match.group(0))])

    def _given_first(self, text: str, match: re.Match[str], subject: bool) -> list[re.Match[str]]:
        """The words of ``match``'s ``name`` group (of :data:`LOWER_PERSON_CUE_RE` or
        :data:`LOWER_SUBJECT_RE`) when the first is a given name, else none; before a role phrase
        (``subject``) the name may be the second word ("and maria was our server")."""
        words = list(WORD_RE.finditer(text, match.start("name"), match.end("name")))
        if subject and len(words) > 1 and not self.is_given(words[0].group(0)):
            words = words[1:]
        first = words[0].group(0) if words else ""
        return words if self.is_given(first) and self.name_shaped(first.capitalize()) else []

    def _paired(self, text: str, words: list[re.Match[str]]) -> list[re.Match[str]]:
        """The words of a given name joined by "and" or "&" to the cued name ``words`` ("jessica" in "thanks to
        ryan and jessica", "thanks to maria garcia & jose"), else none."""
        for end in (words[-1].end(), words[0].end()):
            if (joined := LOWER_PAIRED_RE.match(text, end)) is not None:
                return self._given_first(text, joined, subject=False)
        return []

    def _capitalised(self, text: str, names: list[list[re.Match[str]]]) -> str:
        """``text`` with the first word of each of ``names`` capitalised, and the word after it
        (the second of the list) when one space apart and a surname or no English word."""
        if not names:
            return text
        chars = list(text)
        for first, *rest in names:
            chars[first.start()] = chars[first.start()].upper()
            nxt = rest[0] if rest else None
            if (nxt is not None and text[first.end():nxt.start()] == " "
                    and (self.is_surname(nxt.group(0)) or not self.english.contains(nxt.group(0)))):
                chars[nxt.start()] = chars[nxt.start()].upper()
        return "".join(chars)

    def is_candidate(self, word: str) -> bool:
        """A word that may start the NER step: name-shaped and a census name or no English
        word (the pre-filter's test, and the anchor of an NER window)."""
        known = self._candidates.get(word)
        if known is None:
            if len(self._candidates) >= _CANDIDATE_CACHE_SIZE:
                self._candidates.clear()  # a long-running watcher meets new words forever
            known = self._candidates[word] = self.name_shaped(word) and (
                self.strong(word) or self.is_surname(word)
                or not self.english.contains(word.lower()))
        return known
