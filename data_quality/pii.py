"""PII scrubbing of free text, product titles and author fields before a signal record is stored.

Design: every detector returns candidate :class:`Span` objects over the *original* text; the
candidates are resolved once (higher priority first, then longer first, then leftmost) so that no
two accepted spans overlap, and the accepted spans are replaced right to left. Placeholders
therefore never nest and a detector never sees another detector's placeholder.

Validation is delegated to libraries where one exists: ``phonenumbers`` for phone numbers
(:mod:`data_quality.pii_phones`),
``stdnum`` for Luhn (cards), IBAN (mod 97 + country format) and US SSN (area/group/serial
rules), the stdlib ``ipaddress`` for IPv4/IPv6. This module's own name detector only follows
explicit cues ("my name is", "Mr.", a sign-off).

Two layers use these detectors: :func:`find_pii` runs them alone (no NLP model; the GX residual-PII
expectation and the row rules), while :func:`scrub_text` and :func:`scrub_record` go through the
Presidio engine of :mod:`data_quality.pii_engine`, which plugs every detector in as a recognizer
and adds NER-backed names, street addresses and personal places. Measured recall, precision and
false-positive rate: ``benchmarks/pii_recall.py``.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.us import ssn as stdnum_ssn

from commons.record import content_digest
from commons.visible_text import VisibleText
from data_quality.pii_phones import MIN_PHONE_DIGITS, phone_signal, phone_spans
from data_quality.pii_product_codes import product_code_spans

# Kinds whose span, when it overlaps one of higher priority, is cut to what lies outside it
# (:func:`resolve_overlaps`): words, not digits, so the rest is still the name or the place.
TRIMMED_KINDS = frozenset({"PERSON", "LOCATION"})
# Priority when two detections overlap: the earlier kind wins. Structured, checksum-validated
# kinds come first so that e.g. a card number is never half-read as a phone number.
# ADDRESS and LOCATION come from :mod:`data_quality.pii_engine` only (they need the NER model).
KINDS = ("URL_USER", "EMAIL", "IBAN", "CARD", "SSN", "IP", "PHONE", "HANDLE", "ADDRESS", "PERSON",
         "LOCATION")
_PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}



@dataclass(frozen=True)
class Span:
    """One detected PII occurrence: ``text[start:end]`` is of ``kind`` (one of :data:`KINDS`)."""

    start: int
    end: int
    kind: str

    @property
    def placeholder(self) -> str:
        """Typed placeholder that replaces the span, e.g. ``<EMAIL>``."""
        return f"<{self.kind}>"


# --- structured identifiers -------------------------------------------------------------------

# ``\w`` and ``[^\W\d_]`` are Unicode-aware: internationalised addresses (RFC 6531 local parts,
# IDNA domains such as ``jörg.weiß@bücher-laden.de``) are addresses too.
# An apostrophe inside the local part is RFC 5322 atext ("o'brien@example.ie"); at its ends it quotes.
# Tried only where a local part can begin (the lookbehinds: not inside a run of its characters, nor
# right after an apostrophe within one, "o'|brien"): from there the match could be no other, and
# each such start would rescan the run, quadratic in its length. A quoted 'jane@x.com' still starts.
_EMAIL_RE = re.compile(r"(?<![\w.%+-])(?<![\w.%+-]')[\w.%+-]+(?:'[\w.%+-]+)*@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
# Spaces around the "@" to dodge harvesters ("mail: jane.doe @ gmail.com", "contact john.smith
# @gmail.com"), after a word for mail or contact: without one, "sale.only @ amazon.com" is a
# sentence missing a space.
_MAIL_WORDS = r"e-?mail|mail|courriel|correo|contact|write|schreib\w*|reach"
_SPACED_EMAIL_RE = re.compile(rf"(?i:\b(?:{_MAIL_WORDS})\b)[^\n@]{{0,25}}?"
                              r"(?<![\w.%+-])(?P<email>[\w%+-]+(?:\.[\w%+-]+)*(?: @ ?| ?@ )"
                              r"[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})(?!\w)")
# An address spelled out to dodge harvesters: "jane.doe (at) gmail (dot) com", "jdoe@gmail dot com",
# "john at gmail dot com", "jane dot doe at web dot de", "j.doe at gmail.com", "jdoe at gmail . com".
# A bracketed "at" is never prose; a bare "@" is an address once its dot is spelled. A bare " at " is prose ("bought it
# at amazon dot com", "Great value.Bought at target.com", "contact the seller at ebay.com"), so:
# with its dot spelled it needs a local part no word is (a separator inside, "j.doe"), a webmail
# domain or a word for mail before it; with a plain dot, a lower-case local part with a separator
# ("j.doe", not "No.1", "Dr.Oetker" or "value.Bought"). The local part's separators are "." and
# " dot " only: "_" is a word character already, and a second way to read it backtracks
# exponentially on a run of underscores. No match starts right after " dot " (one white-space
# character either side, as the separator has): from there the match could be no other, and
# each such start would rescan a "a dot a dot …" run, quadratic in its length.
_AT = r"(?:\s*[([{<]\s*(?:at|@)\s*[)\]}>]\s*|\s+at\s+|\s*@\s*)"
_DOT = r"(?:\s*[([{<]\s*(?:dot|\.)\s*[)\]}>]\s*|\s+dot\s+|\s+\.\s+|\.)"
_SPELLED_EMAIL_RE = re.compile(
    rf"(?i)(?<![\w.%+-])(?<!\sdot\s)(?P<local>[\w%+-]+(?:(?:\.|\sdot\s)[\w%+-]+)*)(?P<at>{_AT})"
    rf"(?P<domain>[^\W_][\w-]*)(?P<rest>(?:{_DOT}[^\W_][\w-]*)*{_DOT}(?P<tld>[^\W\d_]{{2,6}}))(?![\w@])")
# The same spelled out with "-" or "_" for spaces ("jdoe-at-gmail-dot-com", "j.doe_at_web_dot_de"):
# never prose. The local part and labels hold neither separator, so each is read one way only.
_GLUED_SPELLED_EMAIL_RE = re.compile(
    r"(?i)(?<![\w.%+-])[a-z0-9][a-z0-9.%+]*(?P<sep>[-_])at(?P=sep)[a-z0-9]+"
    r"(?:(?P=sep)dot(?P=sep)[a-z0-9]+)*(?P=sep)dot(?P=sep)(?P<tld>[a-z]{2,6})(?![\w@])")
_LOWER_DOTTED_LOCAL_RE = re.compile(r"[a-z][a-z0-9%+-]*(?:[._][a-z][a-z0-9%+-]*)+")
_MAIL_CUE_BEFORE_RE = re.compile(rf"(?i)\b(?:{_MAIL_WORDS}|address|send)\b[^\n@]{{0,25}}$")
# After a bare " at ", the top-level domains people give mail under: country codes and the first
# generic ones, written in one case. Newer ones are words ("love", "shop"): in "works.great at
# night.Love it" a missing space, not an address.
_MAIL_TLD_RE = re.compile(r"[a-z]{2}|[A-Z]{2}|(?i:com|net|org|edu|gov|info|biz)")
_WEBMAIL = frozenset("gmail googlemail yahoo hotmail outlook live aol icloud gmx web posteo mailbox fastmail zoho "
                     "protonmail proton yandex mail msn comcast t-online orange qq".split())
# Suffixes of file names that are not delegated top-level domains (unlike .zip or .mov): in
# ``banner@2x.png`` the "@2x" is an asset-scale suffix, and the text names a file, not a mailbox.
_FILE_SUFFIXES = frozenset(
    "png jpg jpeg gif svg webp bmp tif tiff ico heic pdf doc docx xls xlsx ppt pptx txt csv "
    "json xml html htm css js mp3 mp4 wav avi mkv gz tar".split())
# user:password@ in a URL, and profile URLs whose path is a person's account.
_URL_USER_RE = re.compile(
    r"(?i)(?<![a-z0-9+.-])\b[a-z][a-z0-9+.-]*://(?:[^\s/@:]+(?::[^\s/@]*)?|:[^\s/@]+)@"
    r"|\b(?:https?://)?(?:www\.)?(?:twitter|x|instagram|facebook|tiktok|github|linkedin)\.com/"
    r"(?:in/)?@?[A-Za-z0-9_.-]+"
)
# Social handles: letters of any script, digits, "_", and dots or hyphens inside ("@jane.doe", as
# Instagram and TikTok allow; a dot before a capital ends a sentence, "@Target.Definitely"). Not
# after a word ("banner@2x.png", an e-mail). One that begins with a digit needs an underscore
# ("@2pac_fan"): "@1.8GHz", "@2560x1440", "@10.30am" are specs and times.
_HANDLE_RE = re.compile(r"(?<![\w@.])@(?:[^\W\d]|(?=\d[\w.-]*_))(?:\w|-(?=\w)|\.(?=[^\W_A-Z])){1,29}(?![\w@])")
_SSN_RE = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
# Beside the dashed form, right after the word SSN / social security: another separator kind
# throughout ("536 22 1234", "536.22.1234") or nine bare digits. Uncued, "lot 536 22 1234" is as
# likely a product code.
_SSN_CUED_RE = re.compile(r"(?i:\b(?:ssn|social security(?: number| no\.?)?))\W{0,4}"
                          r"(?P<ssn>\d{3}(?P<sep>[ .])\d{2}(?P=sep)\d{4}|\d{9})(?![\d-]|\.\d)")
# Not inside a longer dotted number; ".." as in "203.0.113.1..203.0.113.9" separates two addresses.
_IPV4_RE = re.compile(r"(?:(?<![\w.])|(?<=\.\.))(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)(?!\w)")
_IPV6_RE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# Country code + check digits, then groups possibly separated by a space or dash. Greedy, so the
# match may run into a following word: :func:`_ibans` backs off to the longest valid prefix.
_IBAN_RE = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}")
# A digit run of card length or longer with separators: a space or two, a dash with or without
# spaces, or one dot or slash kind throughout ("4111.1111.1111.1111"). Not after "+", which begins
# a phone number in international form. No upper bound: a run holding a card and a number
# beside it ("Order 2024 4111 1111 1111 1111") is cut into windows by :func:`_cards`; a bound made
# the regex back off to the first 19 digits and lose the card's last group.
_CARD_RE = re.compile(r"(?<![\w+-])\d(?:(?:  ?| ?- ?)?\d){11,}(?!\w)"
                      r"|(?<![\w./])\d{4}(?P<sep>[./])\d{4,6}(?:(?P=sep)\d{1,5}){1,3}(?!\w|[./]\d)")
# Card numbers are 12 to 19 digits long (ISO/IEC 7812); other windows are not tried.
_CARD_MIN_DIGITS, _CARD_MAX_DIGITS = 12, 19
# Issuer prefixes (IIN) of the schemes in circulation: Visa 4, Mastercard 51-55 and the
# 2-series 2221-2720, Amex/Diners/JCB 3x, Discover/Maestro/UnionPay 5x/6x, old JCB 1800/2131.
# Without it one random digit run in ten passes Luhn.
_CARD_IIN_RE = re.compile(r"^(?:[3-6]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|1800|2131)")
# 12-digit cards exist only for Maestro (50, 56-69).
_CARD12_IIN_RE = re.compile(r"^(?:50|5[6-9]|6)")
# Right after the word "card" a Luhn-valid run is a card whatever its prefix (issuer ranges
# change; the Presidio samples hold e.g. a Maestro number "0604…").
_CARD_CUE_RE = re.compile(r"(?i)\b(?:card|visa|mastercard|amex|maestro|discover)\b[^\n\d]{0,20}$")


def _cued_ssns(text: str) -> Iterator[Span]:
    for match in _SSN_CUED_RE.finditer(text):
        if stdnum_ssn.is_valid(re.sub(r"\D", "", match.group("ssn"))):
            yield Span(*match.span("ssn"), "SSN")


def _spaced_emails(text: str) -> Iterator[Span]:
    for match in _SPACED_EMAIL_RE.finditer(text):
        if _is_email(match["email"]):
            yield Span(*match.span("email"), "EMAIL")


def _spelled_emails(text: str) -> Iterator[Span]:
    for match in _SPELLED_EMAIL_RE.finditer(text):
        at, local, tld = match["at"].strip().lower(), match["local"], match["tld"]
        spelled_dot = not re.fullmatch(r"[\w.-]+", match["rest"])
        if tld.lower() in _FILE_SUFFIXES:
            continue
        if at == "@":
            taken = spelled_dot  # with a plain dot it is an ordinary address (or "sale.only @ amazon.com")
        elif at != "at":
            taken = True  # bracketed
        elif not _MAIL_TLD_RE.fullmatch(tld):
            taken = False
        elif spelled_dot:
            taken = bool((local[0].isalpha() and re.search(r"\.|\sdot\s", local, re.IGNORECASE))
                         or match["domain"].lower() in _WEBMAIL
                         or _MAIL_CUE_BEFORE_RE.search(text, max(0, match.start() - 40), match.start()))
        else:
            taken = bool(_LOWER_DOTTED_LOCAL_RE.fullmatch(local))
        if taken:
            yield Span(*match.span(), "EMAIL")


def _glued_spelled_emails(text: str) -> Iterator[Span]:
    for match in _GLUED_SPELLED_EMAIL_RE.finditer(text):
        if _MAIL_TLD_RE.fullmatch(match["tld"]) and match["tld"].lower() not in _FILE_SUFFIXES:
            yield Span(*match.span(), "EMAIL")


def _is_email(candidate: str) -> bool:
    return candidate.rsplit(".", 1)[1].lower() not in _FILE_SUFFIXES


def _regex_spans(pattern: re.Pattern[str], kind: str, text: str,
                 valid: Callable[[str], bool] | None = None) -> Iterator[Span]:
    for match in pattern.finditer(text):
        if valid is None or valid(match.group(0)):
            yield Span(match.start(), match.end(), kind)


# "firmware 5.3.1.1" is a dotted quad that ipaddress accepts but no one's address: a version right
# after a word for one, or after a colon, bracket or one small word ("Firmware update to 1.0.2.7",
# "App version: 4.2.1.0"). Further back the word speaks of something else ("release the ban on
# 81.2.69.160", "the plugin blocked 81.2.69.160").
_VERSION_CUE_RE = re.compile(r"(?i)\b(?:v|version|firmware|build|release(?: notes)?|update|updated|upgrade|upgraded|"
                             r"rev|revision|kernel|plugin|driver|patch|bios)\.?[ \t]*[:(#]?[ \t]*"
                             r"(?:(?:to|is|of|for|now)[ \t]+)?$")
# A dotted quad with leading zeros ("192.168.001.010") is an address only after a word for one:
# alone it reads as a part number or serial ("item 001.002.003.004").
_ADDRESS_WORDS_RE = re.compile(r"(?i)\b(?:ip|ips|address|addr|adresse|router|gateway|dns|proxy|vpn)\b[^\n\d]{0,15}$")


def _ipv4s(text: str) -> Iterator[Span]:
    for match in _IPV4_RE.finditer(text):
        before = text[max(0, match.start() - 40):match.start()]
        if _VERSION_CUE_RE.search(before):
            continue
        padded = any(len(octet) > 1 and octet.startswith("0") for octet in match.group(0).split("."))
        if padded and not _ADDRESS_WORDS_RE.search(before):
            continue
        if _is_ipv4(match.group(0)):
            yield Span(match.start(), match.end(), "IP")


def _is_ipv4(candidate: str) -> bool:
    """A dotted quad of octets 0-255; leading zeros ("192.168.001.010") are read as decimal, as
    people write them, though ``ipaddress`` refuses them as ambiguous."""
    return _is_ip(".".join(str(int(octet)) for octet in candidate.split(".")))


def _is_ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _is_ipv6(candidate: str) -> bool:
    # "12:30:45" style times are not IPv6; require the shape ipaddress accepts plus 3+ groups.
    return sum(1 for group in candidate.split(":") if group) >= 3 and _is_ip(candidate)


def _group_ends(text: str, start: int, end: int, separators: str) -> list[int]:
    """Candidate end offsets inside ``text[start:end]``: before each separator, and ``end``."""
    ends = [i for i in range(start + 1, end) if text[i] in separators]
    ends.append(end)
    return ends


def _ibans(text: str) -> Iterator[Span]:
    """The longest valid IBAN at each candidate start; the search goes on after it, since the
    greedy pattern swallows a second IBAN after a space or "and"."""
    position = 0
    while match := _IBAN_RE.search(text, position):
        position = match.start() + 1
        for end in reversed(_group_ends(text, match.start(), match.end(), " -")):
            # The country's BBAN format and the mod-97 check, not its bank registry: stdnum's lists
            # lag the banks ("BE68 5390 0754 7034", the textbook Belgian IBAN, names no listed bank).
            if stdnum_iban.is_valid(text[match.start():end], check_country=False):
                yield Span(match.start(), end, "IBAN")
                position = end
                break


def _is_card_number(digits: str, cued: bool) -> bool:
    if not _CARD_MIN_DIGITS <= len(digits) <= _CARD_MAX_DIGITS or not luhn.is_valid(digits):
        return False
    if cued:
        return True
    return bool(_CARD_IIN_RE.match(digits)
                and (len(digits) > 12 or _CARD12_IIN_RE.match(digits)))


def _card_grouping_ok(groups: list[str]) -> bool:
    """Printed cards are unbroken or grouped in fours (Amex/Diners 4-6-4/5); other groupings
    are order numbers and the like ("112-3456789-1234567")."""
    sizes = [len(group) for group in groups]
    if len(sizes) == 1 or sizes[1:2] == [6] and len(sizes) == 3 and sizes[0] == 4:
        return True
    if not (all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4):
        return False
    # Groups rising by one step are a list of models ("4030 4040 4050 4060"), not a card.
    steps = {int(b) - int(a) for a, b in zip(groups, groups[1:])}
    return not (len(steps) == 1 and steps.pop() > 0)


def _cut_from_fours(text: str, run: tuple[int, int], window: tuple[int, int]) -> bool:
    """Whether ``window`` is a short piece of a longer run printed in groups of four.

    "serial 1234 5678 9012 3456" holds a Luhn-valid 12-digit Maestro-shaped tail; a card printed
    in fours among other four-digit groups is the 16-digit one, so shorter pieces are refused.
    """
    start, end = window
    if sum(map(str.isdigit, text[start:end])) >= 16:
        return False
    # Windows are cut at spaces; seven characters either side show a whole group of up to six digits.
    before = re.search(r"(\d+) $", text[max(run[0], start - 7):start])
    after = re.match(r" (\d+)", text[end:min(run[1], end + 7)])
    return any(group is not None and len(group.group(1)) == 4 for group in (before, after))


def _windows(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of whole space-separated groups in ``text[start:end]`` with a card's
    count of digits; linear in the run's length, however long the run."""
    groups = [(m.start(), m.end(), sum(map(str.isdigit, m.group()))) for m in re.finditer(r"[^ ]+", text[start:end])]
    for first, last in _group_windows([size for _, _, size in groups]):
        yield start + groups[first][0], start + groups[last][1]


def _group_windows(sizes: Sequence[int]) -> Iterator[tuple[int, int]]:
    """``(first, last)`` indices of each stretch of consecutive groups whose digit counts
    (``sizes``) add up to a card's; each size is read a bounded number of times (a copy of the
    rest of the list per first group made a run of 20,000 groups take seconds)."""
    for first in range(len(sizes)):
        digits = 0
        for last in range(first, len(sizes)):
            digits += sizes[last]
            if digits > _CARD_MAX_DIGITS:
                break
            if digits >= _CARD_MIN_DIGITS:
                yield first, last


def _cards(text: str) -> Iterator[Span]:
    """Card numbers: valid windows of whole digit groups inside each digit run, longest first,
    none overlapping another (two cards may stand in one run, separated by a space).

    A window may only be cut at a space (a card followed by "12 25" expiry digits, or after an
    order year); a dash, dot or slash binds its groups into one identifier.
    """
    for match in _CARD_RE.finditer(text):
        cued = bool(_CARD_CUE_RE.search(text[max(0, match.start() - 30):match.start()]))
        separators = "[ -]+" if match.group("sep") is None else re.escape(match.group("sep"))
        windows = sorted(_windows(text, match.start(), match.end()), key=lambda w: w[0] - w[1])
        # Taken windows never overlap, so sorted by start their ends rise too: of those starting
        # before a window's end only the last can reach into it (a run of thousands of cards stays fast).
        taken_starts: list[int] = []
        taken_ends: list[int] = []
        for start, end in windows:
            at = bisect.bisect_left(taken_starts, end)
            if at and taken_ends[at - 1] > start:
                continue
            groups = re.split(separators, text[start:end])
            if (_card_grouping_ok(groups) and _is_card_number("".join(groups), cued)
                    and not _cut_from_fours(text, (match.start(), match.end()), (start, end))):
                taken_starts.insert(at, start)
                taken_ends.insert(at, end)
                yield Span(start, end, "CARD")


def _phones(text: str) -> Iterator[Span]:
    return (Span(start, end, "PHONE") for start, end in phone_spans(text))


def _outside_product_codes(detector: Callable[[str], Iterable[Span]]) -> Callable[[str], Iterator[Span]]:
    """``detector`` less the spans inside a named, checksum-valid product code
    (:mod:`data_quality.pii_product_codes`): "ISBN 0-306-40615-2" is no phone number. A span that
    runs past the code is kept: a card's first 12 digits may pass a UPC check."""
    def detect(text: str) -> Iterator[Span]:
        codes = list(product_code_spans(text))
        return (span for span in detector(text)
                if not any(start <= span.start and span.end <= end for start, end in codes))
    return detect


# --- person names -----------------------------------------------------------------------------

# Titles and honorifics: never name evidence, but part of the name they stand before ("Mr. Hill"
# becomes "<PERSON>": a title tells gender and rank, and one Presidio sample file labels it PERSON).
TITLES = frozenset("mr mrs ms miss mx dr prof sir madam".split())
# An honorific right before a name: capitalised ("Mr ", "Miss ", "Dr. "), or any case with its
# full stop ("ms. marcela"), so the verb in "I miss Anna" stays.
_TITLE_ALTERNATIVES = "|".join(sorted(TITLES))
HONORIFIC_RE = re.compile(rf"(?<![\w.])(?:(?:{_TITLE_ALTERNATIVES.title()})\.?"
                          rf"|(?i:{_TITLE_ALTERNATIVES})\.)[ \t]+$")


def with_honorifics(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (character offsets into ``text``) each grown back over an honorific right
    before it (:data:`HONORIFIC_RE`: "Mr. Ford" whole)."""
    out = []
    for start, end in spans:
        match = HONORIFIC_RE.search(text, max(0, start - 8), start)
        out.append((match.start() if match else start, end))
    return out


# One name token: a capitalised word (any script's letters), with inner apostrophes/hyphens
# ("O'Neil", "Jean-Luc"), or a middle initial ("A.").
_TOKEN = r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*\.?"
_NAME = rf"(?P<name>{_TOKEN}(?:[ \t]+{_TOKEN}){{0,2}})"
# Only capitalised tokens, for cues followed by running text ("said Thea to Pamela").
_CAP_TOKEN = rf"(?=[^\W\d_])(?![a-z]){_TOKEN}"
_CAP_NAME = rf"(?P<name>{_CAP_TOKEN}(?:[ \t]+{_CAP_TOKEN}){{0,2}})"
_PERSON_RES = (
    re.compile(rf"(?i:\bname(?:[ \t]+is|'s|’s|[ \t]*:|\?))[ \t]*{_NAME}"),
    re.compile(rf"(?i:\bcalls?[ \t]+me)[ \t]+{_CAP_NAME}"),
    re.compile(rf"\b(?:said|says|named|starring)[ \t]+(?:(?:him|her|them)[ \t]+)?{_CAP_NAME}"),
    re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+{_NAME}"),
    re.compile(rf"(?m)^[ \t]*(?:Hi|Hello|Hey|Dear)[ \t]+{_NAME}(?=[ \t]*[,!:])"),
    re.compile(rf"(?i:\b(?:thanks|thank you|cheers|regards|sincerely|best wishes))[ \t]*[,!]?"
               rf"\s+{_NAME}[ \t]*[.!]?\s*$"),
    re.compile(rf"(?:^|\s)[—–~][ \t]*{_NAME}[ \t]*$"),
    re.compile(rf"\b(?:I'm|I’m|I am)[ \t]+(?P<name>{_TOKEN}[ \t]+{_TOKEN})(?=[ \t]*(?:[,.!;]|$))"),
)
# Capitalised words that follow the cues above in ordinary review prose and are not names.
_NOT_NAMES = frozenset("""
a an the i i'm im it its it's this that these those he she we they you my your our their his her
not no so very really just also still now here there happy glad sure sorry new old
and or but if when then because with without for from of on in at to by as is was are be been
amazon alexa echo kindle fire prime dot show tap plus paperwhite oasis voyage tablet tv
great good nice love best excellent awesome perfect fine ok okay thanks thank everyone all
monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december christmas
""".split())


# An English contraction ("I'll", "We've", "Don't", "Y'all", "Ma'am") or a lower-case informal
# reduction ("gonna", "dunno", "wanna-be", "ol'"; WordNet lacks them), no name. A name may hold an
# apostrophe before the same letters ("Sa'd", "Sha're", "Ja'Ve"), so the word before it counts; a
# capitalised reduction may be a name ("call me Kinda": the name lists hold Kinda, Lemme, Gotta),
# and reductions that are common given names stay off ("Lotta", "Imma", "Finna").
CONTRACTION_RE = re.compile(
    r"^(?:(?i:[a-z]+n['’]t|(?:i|you|he|she|it|we|they|that|there|here|who|what|where|when|how|let|y)"
    r"['’](?:m|re|ve|ll|d|all)|ma['’]am|y['’]know|i['’]ma)"
    r"|(?:gonna|wanna|gotta|hafta|kinda|sorta|lemme|gimme|dunno|outta|tryna|ol['’]?)(?:-[a-z]+)*)$")


def _name_tokens_ok(name: str) -> bool:
    tokens = name.split()
    return (bool(tokens) and tokens[0].lower().rstrip(".") not in _NOT_NAMES
            and all(token[0].isupper() and not CONTRACTION_RE.search(token) for token in tokens))


def _trim_name(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop trailing tokens that are not capitalised or are stop words ("Dr. Smith said")."""
    tokens = list(re.finditer(r"\S+", text[start:end]))
    while tokens and (not tokens[-1].group(0)[0].isupper()
                      or tokens[-1].group(0).lower().rstrip(".") in _NOT_NAMES):
        tokens.pop()
    if not tokens:
        return start, start
    last_end = start + tokens[-1].end()
    if text[last_end - 2:last_end] in ("'s", "’s"):  # the possessive is not part of the name
        return start, last_end - 2
    return start, last_end - (1 if text[last_end - 1] == "." and len(tokens[-1].group(0)) > 2
                              else 0)


def _persons(text: str) -> Iterator[Span]:
    for pattern in _PERSON_RES:
        for match in pattern.finditer(text):
            start, end = _trim_name(text, match.start("name"), match.end("name"))
            if end > start and _name_tokens_ok(text[start:end]):
                ((start, end),) = with_honorifics(text, [(start, end)])
                yield Span(start, end, "PERSON")


# --- resolution and replacement ---------------------------------------------------------------

Detector = Callable[[str], Iterable[Span]]


def _with_enough_digits(detector: Detector) -> Detector:
    """Skip ``detector`` on texts with fewer digits than the shortest phone (cheap gate)."""
    def gated(text: str) -> Iterable[Span]:
        if sum(map(str.isdigit, text)) < MIN_PHONE_DIGITS:
            return ()
        return detector(text)
    return gated


# One detector per kind over the original text; :mod:`data_quality.pii_recognizers` plugs each in
# as a Presidio recognizer, :func:`find_pii` runs them all without an NLP model.
DETECTORS: dict[str, Detector] = {
    "URL_USER": lambda text: _regex_spans(_URL_USER_RE, "URL_USER", text),
    "EMAIL": lambda text: [*_regex_spans(_EMAIL_RE, "EMAIL", text, _is_email), *_spaced_emails(text),
                           *_spelled_emails(text), *_glued_spelled_emails(text)],
    "IBAN": _ibans,
    "SSN": lambda text: [*_regex_spans(_SSN_RE, "SSN", text, stdnum_ssn.is_valid), *_cued_ssns(text)],
    "IP": lambda text: [*_ipv4s(text), *_regex_spans(_IPV6_RE, "IP", text, _is_ipv6)],
    "CARD": _with_enough_digits(_outside_product_codes(_cards)),
    "PHONE": _with_enough_digits(_outside_product_codes(_phones)),
    "HANDLE": lambda text: _regex_spans(_HANDLE_RE, "HANDLE", text),
    "PERSON": _persons,
}


def _candidates(text: str) -> Iterable[Span]:
    for detect in DETECTORS.values():
        yield from detect(text)


def resolve_overlaps(candidates: Iterable[Span], text: str | None = None) -> list[Span]:
    """Non-overlapping spans sorted by position, chosen by :data:`KINDS` priority, then by
    length (longer wins), then leftmost; a lower-priority span that overlaps an accepted one is
    dropped, e.g. a phone hit inside an IP address, IBAN or card number. Given the ``text``, a
    name or place span (:data:`TRIMMED_KINDS`) is cut to its longest stretch outside the
    accepted spans instead, when that stretch still holds a letter: the name in "Dr. Cindy
    Holinka Apt. 117" outlives the address the model's entity ran into."""
    # Accepted spans never overlap, so of those starting before a candidate only the last can
    # reach into it: the ones it overlaps are found by bisection (a text naming one person 20,000
    # times stays fast).
    accepted: list[Span] = []
    keys: list[tuple[int, int]] = []
    ranked = sorted(set(candidates), key=lambda s: (_PRIORITY[s.kind], s.start - s.end, s.start))
    for span in ranked:
        if text is not None and span.kind in TRIMMED_KINDS:
            span = _outside(span, _overlapping(span, accepted, keys), text)
            if span is None:
                continue
        if not _overlapping(span, accepted, keys):
            at = bisect.bisect_left(keys, (span.start, span.end))
            accepted.insert(at, span)
            keys.insert(at, (span.start, span.end))
    return accepted


def _overlapping(span: Span, accepted: Sequence[Span], keys: Sequence[tuple[int, int]]) -> list[Span]:
    """The spans of ``accepted`` (non-overlapping, sorted by ``keys``: their ``(start, end)``)
    that overlap ``span``, in order."""
    first = max(0, bisect.bisect_left(keys, (span.start, -1)) - 1)
    last = bisect.bisect_left(keys, (span.end, -1))
    return [other for other in accepted[first:last] if other.start < span.end and span.start < other.end]


def _outside(span: Span, overlapping: Sequence[Span], text: str) -> Span | None:
    """The longest stretch of ``span`` that none of the ``overlapping`` spans (sorted) covers,
    white space and punctuation trimmed at its ends; None when no stretch holds a letter."""
    stretches, start = [], span.start
    for other in overlapping:
        stretches.append((start, max(start, other.start)))
        start = max(start, other.end)
    stretches.append((start, span.end))
    best = None
    for begin, end in stretches:
        part = text[begin:end]
        stripped = part.strip(" \t\n,;:-")
        if not any(ch.isalpha() for ch in stripped):
            continue
        begin += len(part) - len(part.lstrip(" \t\n,;:-"))
        end = begin + len(stripped)
        if best is None or end - begin > best[1] - best[0]:
            best = (begin, end)
    return None if best is None else Span(best[0], best[1], span.kind)


def find_pii(text: str) -> list[Span]:
    """PII spans that the pattern and checksum detectors alone find in ``text`` (no NLP model):
    non-overlapping, sorted by position (see :func:`resolve_overlaps`); invisible format
    characters inside an identifier do not hide it (:mod:`commons.visible_text`)."""
    view = VisibleText(text)
    return resolve_overlaps(Span(*view.original_span(s.start, s.end), s.kind) for s in _candidates(view.text))


def _engine() -> Any:
    # Imported on first use: the engine module builds on this one (detectors, Span, KINDS), and
    # loading the NER model is only worth it where text is scrubbed.
    from data_quality.pii_engine import default_engine

    return default_engine()


def scrub_text(text: str) -> tuple[str, dict[str, int]]:
    """Replace every PII span of ``text`` with its typed placeholder.

    Spans come from the Presidio engine of :mod:`data_quality.pii_engine` (the detectors of this
    module plus NER names, addresses and places); for many texts use its ``scrub_batch`` or
    :func:`data_quality.pii_batch.scrub_records`, which batch the NER model.

    Returns:
        ``(scrubbed_text, counts)`` where ``counts`` maps each kind found (see :data:`KINDS`)
        to the number of replacements; empty when the text is unchanged.
    """
    ((scrubbed, spans),) = _engine().scrub_batch([text])
    return scrubbed, dict(Counter(span.kind for span in spans))


def scrub_author(name: str | None) -> str | None:
    """``"<USER>"`` for any non-blank author: a user name identifies a person whatever it says.

    ``None`` and blank strings are returned unchanged (nothing to hide).
    """
    if name is None or not name.strip():
        return name
    return "<USER>"


# What is scrubbed out of a product title: the identifiers. A title names a product, and the
# names in it are an author's or a character's ("Louisa: The Extraordinary Life of Mrs. Adams",
# "Miss Peregrine's Home for Peculiar Children"), so the name and address detectors do not run on
# it; a phone number, e-mail or handle a partner pushed in one ("Call Jane +44 20 7946 0958") is
# removed. IPs are left: in a title they are versions and router guides ("NUC 13 Pro 1.5.0.0",
# "Router 192.168.1.1 Setup Guide").
TITLE_KINDS = frozenset({"URL_USER", "EMAIL", "IBAN", "CARD", "SSN", "PHONE", "HANDLE"})


def scrub_title(title: str | None) -> tuple[str | None, list[Span]]:
    """``(title, spans)`` with every identifier of :data:`TITLE_KINDS` in ``title`` replaced by its
    placeholder (pattern and checksum detectors, :func:`find_pii`); a phone number only where it
    is announced as one (:func:`~data_quality.pii_phones.phone_signal`: "call", "Tel", "+44"),
    since titles are full of part and model numbers that numbering plans accept ("Bosch 0 986 494
    521", "E90 2005-2011"). None and non-text titles are returned as they are, for the contract
    rules to judge."""
    if not isinstance(title, str):
        return title, []
    spans = [span for span in find_pii(title) if span.kind in TITLE_KINDS
             and (span.kind != "PHONE" or phone_signal(title, span.start, span.end))]
    for span in reversed(spans):
        title = title[:span.start] + span.placeholder + title[span.end:]
    return title, spans


def check_review_text(texts: Any) -> None:
    """Raise ``TypeError`` unless ``texts`` is None or a list/tuple of strings."""
    if texts is not None and (not isinstance(texts, (list, tuple))
                              or not all(isinstance(t, str) for t in texts)):
        raise TypeError(f"review_text must be a list of str or None, got {type(texts)!r}")


def apply_scrubbed(record: dict[str, Any], scrubbed_texts: list[tuple[str, list[Span]]] | None
                   ) -> tuple[dict[str, Any], dict[str, int]]:
    """A new record with ``review_text`` replaced by ``scrubbed_texts`` (``(text, spans)`` per
    item, None when the record has no review text), the title's identifiers and the author
    scrubbed and the digest recomputed; the counts are replacements per kind, ``USER`` counting a
    scrubbed author."""
    scrubbed = dict(record)
    counts: Counter[str] = Counter()
    if "title" in record:
        scrubbed["title"], title_spans = scrub_title(record["title"])
        counts.update(span.kind for span in title_spans)
    if scrubbed_texts is not None:
        scrubbed["review_text"] = [text for text, _ in scrubbed_texts]
        counts.update(span.kind for _, spans in scrubbed_texts for span in spans)
    author = scrub_author(record.get("author"))
    if author != record.get("author"):
        counts["USER"] += 1
    scrubbed["author"] = author
    scrubbed["content_digest"] = content_digest(scrubbed)
    return scrubbed, dict(counts)


def scrub_record(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Scrub a signal record (plain-dict form, see :mod:`commons.record`).

    ``review_text`` items go through the engine of :func:`scrub_text`, ``author`` through
    :func:`scrub_author`; ``title`` loses its identifiers only (:func:`scrub_title`). ``content_digest`` is
    recomputed over the scrubbed fields so that stored digests describe stored content. For many
    records use :func:`data_quality.pii_batch.scrub_records` (same result, batched NER).

    Returns:
        ``(new_record, counts)``: a new dict (the input is not modified) and replacements per
        kind, ``USER`` counting a scrubbed author.

    Raises:
        TypeError: ``review_text`` is neither None nor a list/tuple of strings.
    """
    texts = record.get("review_text")
    check_review_text(texts)
    return apply_scrubbed(record, None if texts is None else _engine().scrub_batch(list(texts)))
