"""Digit runs shaped like phone numbers that read as something else in product text.

A libphonenumber match or a phone-shaped run next to a cue word is still no phone number when it
reads as a date, a range, a count with its unit, thousands grouped by spaces or a list of sizes
("Sizes 36 38 40 42 44", "18650 3000 mAh", "1 200 000 home cooks"). :mod:`data_quality.pii_phones`
asks :func:`phone_end` before it reports a span.

Some of these shapes are also how people write phone numbers (German "030 - 1234567", Norwegian
"73 448 266"), so the weaker readings give way to a phone signal: a cue word, a parenthesised
area code or a leading "+". After a phone signal a count with its unit is cut off the run
("Call 555-123-4567 55 inch TV") rather than taken for the whole of it.
"""

from __future__ import annotations

import re

# A calendar date in digits ("05.03.2024", "05 03 2024", "2024.03.05"): German and French plans
# accept some as numbers, but a four-digit year between separators of one kind is a date.
_DATE_RE = re.compile(r"(\d{1,2})([ ./-])(\d{1,2})\2((?:19|20)\d\d)|((?:19|20)\d\d)([ ./-])(\d{1,2})\6(\d{1,2})")
# A day and a year after a month name ("Mar 05 2024").
_MONTH_BEFORE_RE = re.compile(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? $")
_DAY_YEAR_RE = re.compile(r"\d{1,2} (?:19|20)\d\d")
# Two dates or two years joined by a dash ("05-03-2024 - 07-03-2024", "edition 1998-2001").
_RANGE_SEPARATOR_RE = re.compile(r" ?[-–] ?")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
# Without a phone signal, a period of up to a century in years from 1000 ("Stories 1800-1849",
# "the 1914-1918 war"); after one, only the decade of _YEAR_RE ranges ("call 2012-2018" may dial).
_PERIOD_RE = re.compile(r"(?P<low>1\d{3}|20\d\d)-(?P<high>1\d{3}|20\d\d)")
PERIOD_MAX_YEARS = 100
# Two numbers joined by a spaced hyphen or an en dash ("28.3 - 47.6 inches", "120 – 180"); neither
# begins with 0, as German and Austrian numbers written "030 - 1234567" do.
_RANGE_RE = re.compile(r"(?P<low>[1-9][\d.,]*)(?: [-–] |–)(?P<high>[1-9][\d.,]*)")
# Thousands grouped by spaces (SI style: "1 200 000").
_THOUSANDS_RE = re.compile(r"[1-9]\d{0,2}(?: \d{3})+")
# A unit of measure right after the number ("18650 3000 mAh", "1200 1500 Mbps"). Strong units are
# no word of any sentence; weak ones are also labels and words after phone numbers ("020 7946 0958
# GB", "… 345 678 MB if busy"). "in", "x", "w", "l", "pcs" are not read at all: they begin clauses
# after phone numbers ("call 0151 2345678 in the evening", "w/ questions", "l'après-midi").
_STRONG_UNIT_AFTER_RE = re.compile(r"(?i) ?(?:mah|wh|kwh|mbps|gbps|kbps|[kmg]?hz|rpm|fps|dpi|ppi|kg|lbs|inch|"
                                   r"inches|watts?|btu|mins?)\b")
_WEAK_UNIT_AFTER_RE = re.compile(r"(?i) ?(?:[kmgt]b|mm|cm|km|oz|ml|kw)\b")


def _is_date(candidate: str) -> bool:
    """Whether ``candidate`` is one calendar date (day first, month first or year first)."""
    match = _DATE_RE.fullmatch(candidate)
    if match is None:
        return False
    first, second = (int(match[1]), int(match[3])) if match[1] else (int(match[7]), int(match[8]))
    if not match[1]:
        return 1 <= first <= 12 and 1 <= second <= 31
    return 1 <= min(first, second) <= 12 and max(first, second) <= 31


def _is_date_or_year_range(candidate: str) -> bool:
    parts = _RANGE_SEPARATOR_RE.split(candidate)
    if len(parts) == 2 and all(_YEAR_RE.fullmatch(part) for part in parts):
        return 0 < int(parts[1]) - int(parts[0]) <= 10
    halves = re.split(r" [-–] |–", candidate)
    return len(halves) == 2 and all(map(_is_date, halves))


def _is_progression(candidate: str) -> bool:
    """Three or more numbers of one or two digits (four or more of up to three), the first without
    a leading zero, rising or falling by one step ("36 38 40 42 44", "iPhone 13 14 15", "iPhone
    17 / 16 / 15 / 14"): sizes or models. Letters glued to a group and slashes between groups are
    set aside ("S22 S23 S24"). Plans grouped in twos begin with 0 or come after "+CC" ("06 12 34
    56 78")."""
    groups = re.sub(r"[^\W\d_]+|/", " ", candidate).split()
    if not all(g.isdigit() for g in groups) or not groups or groups[0].startswith("0"):
        return False
    shortest = 3 if all(len(g) <= 2 for g in groups) else 4
    if len(groups) < shortest or any(len(g) > 3 for g in groups):
        return False
    steps = {int(b) - int(a) for a, b in zip(groups, groups[1:])}
    return len(steps) == 1 and steps.pop() != 0


def _similar_range(match: re.Match[str]) -> bool:
    """Both ends of a range have integer parts of about one length ("120 - 180", "28.3 - 47.6")."""
    low, high = (len(re.split(r"[.,]", match[name])[0]) for name in ("low", "high"))
    return abs(low - high) <= 1


def phone_end(text: str, start: int, end: int, phone_signal: bool) -> int | None:
    """Where the phone number in the phone-shaped run ``text[start:end]`` ends, or None when the
    run reads as something other than a phone number.

    Always something else: a calendar date, a range of dates or years, a day and year after a
    month name, a rising or falling list of sizes or models, a range of two numbers of about one
    length, or thousands grouped by spaces after a one-digit lead ("1 500 000"). Without a
    ``phone_signal`` (a cue word, an area code in brackets or a leading "+") also: any range, any
    thousands, a number with any unit after it, and a period of years ("1800-1849"). With one, a
    strong unit after the run cuts its last group off when that is a count of up to four digits,
    and the rest is the number (:func:`_before_count`).
    """
    candidate = text[start:end]
    if candidate.startswith(("+", "(")) or text[max(0, start - 1):start] == "+":
        return end
    if not phone_signal and (period := _PERIOD_RE.fullmatch(candidate)) and (
            0 < int(period["high"]) - int(period["low"]) <= PERIOD_MAX_YEARS):
        return None
    if (_is_date(candidate) or _is_date_or_year_range(candidate) or _is_progression(candidate)
            or (_DAY_YEAR_RE.fullmatch(candidate) and _MONTH_BEFORE_RE.search(text[max(0, start - 12):start]))):
        return None
    if _STRONG_UNIT_AFTER_RE.match(text, end):
        return _before_count(text, start, end, phone_signal)
    if _WEAK_UNIT_AFTER_RE.match(text, end):
        return end if phone_signal else None
    if (range_match := _RANGE_RE.fullmatch(candidate)) and (not phone_signal or _similar_range(range_match)):
        return None
    if _THOUSANDS_RE.fullmatch(candidate) and (not phone_signal or candidate[1] == " "):
        return None
    return end


def _before_count(text: str, start: int, end: int, phone_signal: bool) -> int | None:
    """The run ``text[start:end]`` has a unit right after it. Its last group of up to four digits is
    the count the unit measures ("Call 555-123-4567 55 inch TV"): after a phone signal, the rest is
    the number. A longer last group is no count ("call 0151 2345678 mins"): the whole run is the
    number after a signal, and without one the run is a measurement. (A weak unit cuts nothing:
    "020 7946 0958 GB" is a whole number.)"""
    cut = text.rfind(" ", start, end)
    count = text[cut + 1:end]
    if len(re.sub(r"\D", "", count)) > 4:
        return end if phone_signal else None
    if not phone_signal or cut <= start:
        return None
    return start + len(text[start:cut].rstrip(" -–"))
