"""Locale hints read off a page: language, country, decimal separator.

A price shown as ``"2.449"`` is 2449 in Buenos Aires and 2.449 nowhere a shop would print it, and
``"$"`` is a peso in Chile: the hints let the price parser decide such cases the way the page's
readers do. Sources, most specific first: the region of ``<html lang>`` / ``og:locale`` /
``Content-Language`` (``es-CL``, ``es_CL``), then the URL's country-code TLD, then the one
country of a language spoken mainly in one (:data:`LANGUAGE_COUNTRY`: ``he`` → IL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from parsel import Selector

# Languages whose standard number format writes the decimal part after a comma (CLDR
# "decimal" symbol for the language's main locale; the countries below override it).
COMMA_DECIMAL_LANGUAGES = frozenset(
    "de fr it es pt nl pl ru uk be cs sk sl hr sr bs mk bg ro hu tr da sv nb nn no fi et lv lt "
    "el id vi kk az ka hy sq ca eu gl is".split())
# Countries whose shops write a decimal point whatever the language (CLDR: de-CH, it-CH use
# "." with "'" grouping; es-MX and the Spanish-speaking US use ".").
POINT_DECIMAL_COUNTRIES = frozenset({"CH", "LI", "MX", "US", "GB", "IE", "PH", "GT", "DO",
                                     "PR", "SV", "HN", "NI", "PA", "PE"})
# Languages spoken mainly in one country → that country (CLDR likelySubtags: "he" → he_Hebr_IL,
# "ur" → ur_Arab_PK …), for pages that name a language but no region and sit on a generic TLD.
# Languages of many countries (en, es, fr, de, pt, ar, ru, zh, nl, it, sw) are left out.
LANGUAGE_COUNTRY: dict[str, str] = dict(pair.split("=") for pair in (
    "he=IL iw=IL ur=PK hi=IN si=LK ne=NP bn=BD ja=JP ko=KR th=TH vi=VN id=ID ms=MY pl=PL cs=CZ "
    "sk=SK hu=HU ro=RO bg=BG hr=HR sr=RS mk=MK sl=SI uk=UA be=BY kk=KZ ka=GE hy=AM az=AZ tr=TR "
    "el=GR da=DK sv=SE nb=NO nn=NO no=NO is=IS fi=FI et=EE lv=LV lt=LT fa=IR "
).split())
# Generic TLDs and ccTLDs used as brand names say nothing about the shop's country.
_NON_COUNTRY_TLDS = frozenset({"co", "io", "tv", "me", "ai", "fm", "ly", "to", "cc", "ws"})
_REGION = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}))?\b")
# One grouping separator followed by exactly three digits and nothing else: "2.449", "1,234".
_AMBIGUOUS = re.compile(r"\d{1,3}[.,]\d{3}(?![\d.,])")


@dataclass(frozen=True)
class PageHints:
    """What a page says about its locale.

    Attributes:
        language: ISO-639 language code, lower case (``"de"``), or None.
        country: ISO-3166 alpha-2 country, upper case (``"AT"``), or None.
        decimal_separator: ``","`` or ``"."`` the page's numbers most likely use, or None.
    """

    language: str | None
    country: str | None
    decimal_separator: str | None

    def separator_for(self, text: str) -> str | None:
        """The decimal separator to pass to the price parser for ``text``.

        Only numbers that are ambiguous without a locale (``"2.449"``, ``"1,234"``) get one;
        for ``"19.99"`` or ``"1.234,56"`` price-parser's own reading is safer than a locale guess
        (shops do print English-style prices on German-language pages).
        """
        return self.decimal_separator if _AMBIGUOUS.search(text or "") else None


def page_hints(sel: Selector, url: str) -> PageHints:
    """Read :class:`PageHints` from a parsed page and its URL (never raises)."""
    language = country = None
    for value in (sel.xpath("/html/@lang | /html/@xml:lang").get(),
                  sel.xpath("//meta[@property='og:locale']/@content").get(),
                  sel.xpath("//meta[translate(@http-equiv,'CONTENT-LANGUAGE',"
                            "'content-language')='content-language']/@content").get()):
        match = _REGION.match((value or "").strip())
        if match:
            language = language or match.group(1).lower()
            if match.group(2) and not country:
                country = match.group(2).upper()
    country = country or _tld_country(url) or LANGUAGE_COUNTRY.get(language or "")
    if country in POINT_DECIMAL_COUNTRIES:
        separator = "."
    elif language in COMMA_DECIMAL_LANGUAGES:
        separator = ","
    else:
        separator = "." if language else None
    return PageHints(language=language, country=country, decimal_separator=separator)


def _tld_country(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").rstrip(".")
    tld = host.rsplit(".", 1)[-1].lower() if "." in host else ""
    if len(tld) != 2 or tld in _NON_COUNTRY_TLDS:
        return None
    return "GB" if tld == "uk" else tld.upper()
