"""Phone numbers in free text: libphonenumber's matcher, then cue-confirmed phone-shaped runs.

One detector of :mod:`data_quality.pii`; it returns offsets, and :mod:`data_quality.pii` turns
them into spans and resolves overlaps with the other kinds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from phonenumbers import Leniency, PhoneNumberMatcher

from data_quality.pii_quantities import phone_end

# Regions whose numbering plans are tried for phone numbers written without a country code;
# numbers with an explicit "+CC" are parsed whatever the region.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "JP")

# Fewest digits a cue-confirmed phone may have: 6-digit local numbers exist (e.g. "33 93 31"
# in the Presidio samples); texts with fewer digits in total skip the phone and card detectors.
MIN_PHONE_DIGITS = 6
# Most digits a phone number has (E.164's 15, country code included).
MAX_PHONE_DIGITS = 15


# A phone-shaped run: optional +CC, digit groups with space/dot/dash/parenthesis separators,
# optional extension. Used only next to a cue word (below), because on its own it also matches
# order numbers and model codes. Catches numbers phonenumbers rejects as unassigned in every
# region tried (e.g. fictional or foreign local formats).
_PHONE_SHAPE_RE = re.compile(
    r"(?<![\w+.-])\+?\(?\d[\d ().-]{5,}\d(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w|[.-]\d)"
)
# Words that announce a number before it (up to 25 non-digit characters away) or label it after.
# "ph" is the phone's abbreviation on forms and signatures; a pH value has too few digits to follow it.
# The German, French, Spanish and Italian words for phone are read as well, as are "Mob:" and "ring",
# because reviews and seller blurbs are written in those languages too; the words for a mobile that
# are also adjectives only after "my" ("mein Handy", "mi móvil"; not "Handy little tool",
# "Portable charger for iPhone 13 14 15").
_CUES_BEFORE = ("phone", "ph", "tel", "telephone", "call", "called", "calling", "mobile", "cell", "fax", "desk",
                "whatsapp", "sms", "text", "reach me", "reach us", "answering at", "dial", "mob(?=[.:])", "ring",
                "contact", "my number", "telefon", "telefonnummer", "handynummer", "rufnummer", "mobilnummer",
                "mein handy", "téléphone", "tél", "teléfono", "telefono", "mi móvil", "mi celular", "cellulare")
_CUES_AFTER = ("office", "fax", "mobile", "cell", "home", "work", "desk")
_PHONE_CUE_BEFORE_RE = re.compile(rf"(?i)\b(?:{'|'.join(_CUES_BEFORE)})\b[^\n\d]{{0,25}}$")
# A label after the number ends its line or clause ("655 437 108 office", "(home)") or names the
# line ("home phone", "mobile number"); followed by another word it is a noun's modifier ("1 200 000
# home cooks").
_PHONE_CUE_AFTER_RE = re.compile(rf"(?i)^\s?[-–]?\s?\(?(?:{'|'.join(_CUES_AFTER)})\b"
                                 r"(?:[ \t]+(?:phone|number|no\b|line|fax)|(?![ \t]*[^\W\d_]))")


# Letters glued to the front of a number ("ref212-555-0187") hide it from both matchers, which
# want a word boundary before the first digit. Blanking them (same length) keeps every offset.
_GLUED_LETTERS_RE = re.compile(r"[^\W\d_]+(?=[+(]?\d)")
# An unbroken digit run longer than any phone number holds none: a number inside it would be glued
# to digits on one side. Blanked too, the matchers pass over it at once; libphonenumber otherwise
# parsed it piece by piece, once per region (a 100,000-digit line took 0.3–2.3 s).
_OVERLONG_RUN_RE = re.compile(rf"\d{{{MAX_PHONE_DIGITS + 1},}}")
# A parenthesised area code is how people write phone numbers, not order or model numbers.
_AREA_CODE_RE = re.compile(r"\(\d{2,5}\)[ ]?\d")
# A trailing group that is glued to a date or time separator begins the next token.
_NEXT_TOKEN_AFTER_RE = re.compile(r"[/:]\d")


def _phone_digit_count_ok(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate.split("x")[0].split("ext")[0])
    return MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS


def _without_open_bracket(text: str, start: int, end: int) -> tuple[int, int]:
    """The span less a bracket at either end that it does not close or open: in "(+1 212 555 0187)"
    the matcher takes "(" but stops before ")"."""
    if text[start] == "(" and ")" not in text[start:end]:
        start += 1
    if text[end - 1] == ")" and "(" not in text[start:end]:
        end -= 1
    return start, end


def _has_phone_cue(text: str, start: int, end: int) -> bool:
    return bool(_PHONE_CUE_BEFORE_RE.search(text[max(0, start - 40):start])
                or _PHONE_CUE_AFTER_RE.match(text[end:end + 24])
                or _AREA_CODE_RE.match(text, start))


def phone_signal(text: str, start: int, end: int) -> bool:
    """Whether the phone span ``text[start:end]`` is announced as one: a cue word before or a label
    after it, a parenthesised area code, or a leading "+" (the signals of
    :func:`data_quality.pii_quantities.phone_end`)."""
    return text[start] == "+" or text[max(0, start - 1):start] == "+" or _has_phone_cue(text, start, end)


def _number_end(text: str, start: int, end: int) -> int:
    """Where the number inside the phone-shaped run ``text[start:end]`` ends.

    A space-separated trailing group is dropped while it begins the next token rather than
    continuing the number: the month of a date or the hour of a time ("(212)555-0187 03/14/2024",
    the group is glued to ``/`` or ``:``) or a lone digit ("020 7946 0321 4 stars"; numbering
    plans group digits in twos or more).
    """
    while (cut := text.rfind(" ", start, end)) > start:
        group = text[cut + 1:end]
        if not (len(group) == 1 or _NEXT_TOKEN_AFTER_RE.match(text, end)):
            break
        end = len(text[:cut].rstrip(" "))
    return end


def _blank(match: re.Match[str]) -> str:
    """As many spaces as ``match`` is long (offsets into the text stay valid)."""
    return " " * len(match.group(0))


def phone_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) character offsets of phone numbers in ``text``.

    A number is one that libphonenumber finds VALID in one of :data:`PHONE_REGIONS` (a bare digit
    run also needs a cue word), or a phone-shaped run next to a cue word, and never one that reads
    as a date, range or count (:mod:`data_quality.pii_quantities`); a span ends where the number
    ends (:func:`_number_end`).
    """
    seen: set[tuple[int, int]] = set()
    unglued = _OVERLONG_RUN_RE.sub(_blank, _GLUED_LETTERS_RE.sub(_blank, text))
    for region in PHONE_REGIONS:
        # VALID (not POSSIBLE): the number must be assigned in the region's plan, which keeps
        # years, prices and quantities out.
        for match in PhoneNumberMatcher(unglued, region, leniency=Leniency.VALID):
            start, end = _without_open_bracket(text, match.start, _number_end(text, match.start, match.end))
            cued = _has_phone_cue(text, start, end)
            end = phone_end(text, start, end, cued)
            key = (start, end or start)
            # Cutting the next token's groups off may leave too few digits ("3 - 4 - 5 …" loses all but "3").
            if end is None or key in seen or not _phone_digit_count_ok(text[start:end]):
                continue
            seen.add(key)
            # A bare digit run is as often a UPC or an order number as a phone: want a cue. (It holds
            # no space, so phone_end never shortened it and the cue found above still applies.)
            if not match.raw_string.isdigit() or cued:
                yield key
    for match in _PHONE_SHAPE_RE.finditer(unglued):
        start = match.start()
        end = _number_end(text, start, start + len(match.group(0).rstrip(" .")))
        if not _has_phone_cue(text, start, end) or (end := phone_end(text, start, end, True)) is None:
            continue
        if (start, end) not in seen and _phone_digit_count_ok(text[start:end]):
            yield start, end
