"""Currency symbols and codes → ISO-4217, with page hints for ambiguous symbols.

The symbol table is price-parser's own (``price_parser._currencies.CURRENCIES``: ISO code, main
symbol, native symbol and other symbols per currency, compiled by its authors from ISO-4217,
Wikipedia and xe.com) plus :data:`EXTRA_SYMBOLS`, spellings seen on real pages that the table lacks
(e.g. ``₽``, ``тг.``, ``元``, ``US$``; several come from price-parser's own
``PRICE_PARSING_EXAMPLES_XFAIL_CURRENCIES_TO_BE_ADDED`` list).

Ambiguous symbols (``$``, ``kr``, ``¥``, ``£``…) resolve through the page's country
(:data:`COUNTRY_CURRENCY`: ccTLD or locale region → currency, ISO-3166 alpha-2 keys); without a
country, :data:`DEFAULT_FOR_SYMBOL` decides (``$`` → USD, the most common reading on the web);
a symbol with no dominant reading stays unresolved (None) rather than guessed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from price_parser._currencies import CURRENCIES

# ISO-4217 codes that name no money a shop prices in: XXX "no currency", XTS "for testing",
# precious metals, bond-market units, the IMF's SDR and two regional accounting units.
NOT_MONEY = frozenset("XXX XTS XAU XAG XPD XPT XBA XBB XBC XBD XDR XSU XUA".split())
# Their spellings in price-parser's table ("Sucre" for XSU is also French for sugar), upper case.
_NOT_MONEY_SPELLINGS = frozenset(symbol.strip().upper() for code in NOT_MONEY
                                 for symbol in (code, CURRENCIES[code]["s"], CURRENCIES[code]["sn"]))
_NOT_MONEY_RE = re.compile(r"(?i)(?<![^\W\d_])(?:{})(?![^\W\d_])".format(
    "|".join(sorted(map(re.escape, _NOT_MONEY_SPELLINGS), key=len, reverse=True))))
# Spellings missing from price-parser's table; values are ISO-4217 codes.
EXTRA_SYMBOLS: dict[str, tuple[str, ...]] = {
    "US$": ("USD",), "US $": ("USD",), "U$S": ("USD",), "USD$": ("USD",),
    "AU$": ("AUD",), "AU $": ("AUD",), "A$": ("AUD",), "AUD$": ("AUD",),
    "CA$": ("CAD",), "CAD$": ("CAD",), "CAN$": ("CAD",), "C$": ("CAD", "NIO"),
    "NZ$": ("NZD",), "HK$": ("HKD",), "S$": ("SGD",), "NT$": ("TWD",), "NT": ("TWD",),
    "MX$": ("MXN",), "RD$": ("DOP",), "J$": ("JMD",), "G$": ("GYD",), "GY$": ("GYD",),
    "CUC$": ("CUC",), "R$": ("BRL",), "$": ("TWD",),  # NT$ is written "$" on Taiwanese shops
    "₽": ("RUB",), "р.": ("RUB", "BYN"), "р": ("RUB", "BYN"), "руб": ("RUB", "BYN"),
    "руб.": ("RUB", "BYN"), "Р": ("RUB",), "Br": ("BYN",), "бел. руб.": ("BYN",),
    "₸": ("KZT",), "тг": ("KZT",), "тг.": ("KZT",), "тенге": ("KZT",),
    "грн": ("UAH",), "грн.": ("UAH",), "hrn": ("UAH",), "₴": ("UAH",),
    "元": ("CNY", "TWD"), "圆": ("CNY",), "圓": ("TWD",), "yuan": ("CNY",), "RMB": ("CNY",),
    "円": ("JPY",), "yen": ("JPY",), "￥": ("JPY", "CNY"), "¥": ("JPY", "CNY"),
    "원": ("KRW",), "₩": ("KRW",), "￡": ("GBP",), "GBp": ("GBP",), "stg": ("GBP",),
    "zl": ("PLN",), "Zł": ("PLN",), "pln": ("PLN",), "Kr": ("SEK", "NOK", "DKK", "ISK"),
    "kr.": ("DKK", "ISK"), ",-": (),
    "Lei": ("RON",), "LEI": ("RON",), "lei": ("RON", "MDL"),
    "ر.س": ("SAR",), "ر.س.": ("SAR",), "ريال": ("SAR", "IRR", "OMR", "QAR", "YER"),
    "ریال": ("IRR",), "﷼": ("IRR", "SAR", "OMR", "QAR", "YER"), "تومان": ("IRR",),
    "د.إ": ("AED",), "درهم": ("AED", "MAD"), "Dh": ("AED", "MAD"), "Dhs": ("AED",),
    "د.ك": ("KWD",), "KD": ("KWD",), "د.ب": ("BHD",), ".د.ب": ("BHD",), "BD": ("BHD",),
    "ع.د": ("IQD",), "د.ع": ("IQD",), "د.ت": ("TND",), "د.ج": ("DZD",), "د.م": ("MAD",),
    "د.ل": ("LYD",), "ل.ل": ("LBP",), "ج.س.": ("SDG",), "ر.ي": ("YER",), "جنيه": ("EGP",),
    "دينار": ("JOD", "KWD", "BHD", "IQD", "LYD", "TND", "DZD"), "دينار أردني": ("JOD",),
    "ש״ח": ("ILS",), 'ש"ח': ("ILS",), "ש'ח": ("ILS",), "nis": ("ILS",), "₪": ("ILS",),
    "SFr": ("CHF",), "CHf": ("CHF",), "chf": ("CHF",), "Fr.": ("CHF",), "fr.": ("CHF",),
    "euro": ("EUR",), "euros": ("EUR",), "EURO": ("EUR",), "€": ("EUR",),
    "VNĐ": ("VND",), "đ": ("VND",), "₫": ("VND",), "din": ("RSD",), "дин": ("RSD",),
    "Dinara": ("RSD",), "ДЕН": ("MKD",), "ден": ("MKD",), "mkd": ("MKD",), "km": ("BAM",),
    "км": ("BAM",), "KM": ("BAM",), "lari": ("GEL",), "ლარი": ("GEL",), "₾": ("GEL",),
    "som": ("UZS", "KGS"), "so'm": ("UZS",), "Sʻ": ("UZS",), "S'": ("UZS",), "с": ("KGS",),
    "S/": ("PEN",), "S/.": ("PEN",), "Nu": ("BTN",), "Nu.": ("BTN",), "Ks": ("MMK",),
    "Re": ("INR",), "Rs": ("INR", "PKR", "LKR", "NPR"), "Rs.": ("INR", "PKR", "LKR", "NPR"),
    "रु": ("NPR",), "र": ("NPR",), "රු": ("LKR",), "Fbu": ("BIF",), "FBu": ("BIF",),
    "FRw": ("RWF",), "KShs": ("KES",), "KSh": ("KES",), "Sl": ("SLL",), "Ar": ("MGA",),
    "ናቕፋ": ("ERN",), "نافكا": ("ERN",), "ብር": ("ETB",),
    "franc": ("CHF", "XOF", "XAF"), "francs": ("CHF", "XOF", "XAF"), "FCFA": ("XOF", "XAF"),
    "GH₵": ("GHS",), "₵": ("GHS",), "CND": ("CAD",), "nzd": ("NZD",), "Rp": ("IDR",),
    "RM": ("MYR",), "Ft": ("HUF",), "TL": ("TRY",), "₺": ("TRY",), "лв": ("BGN",),
    "лв.": ("BGN",), "kn": ("HRK",), "Lek": ("ALL",), "֏": ("AMD",), "₼": ("AZN",),
    "৳": ("BDT",), "MK": ("MWK",), "Rf": ("MVR",), "₨": ("PKR", "INR", "LKR", "NPR"),
    "ƒ": ("ANG", "AWG"), "₣": ("FRF",), "₶": ("LVL",), "R": ("ZAR",), "Kč": ("CZK",),
    "₹": ("INR",), "₱": ("PHP",), "฿": ("THB",),
}

# The reading of an ambiguous symbol that dominates when the page names no country; symbols
# without a dominant reading ("kr", "ريال") are left out, so they stay unresolved. "Rs": India's
# population and online retail are several times those of Pakistan, Sri Lanka and Nepal together.
DEFAULT_FOR_SYMBOL: dict[str, str] = {
    "Rs": "INR", "Rs.": "INR", "$": "USD", "£": "GBP", "¥": "JPY", "￥": "JPY", "р.": "RUB",
    "р": "RUB", "руб": "RUB",
    "руб.": "RUB", "元": "CNY", "lei": "RON", "C$": "CAD", "원": "KRW", "₩": "KRW",
}

# Country (ISO-3166 alpha-2, as in ccTLDs and locale regions) → its currency (ISO-4217).
COUNTRY_CURRENCY: dict[str, str] = dict(pair.split("=") for pair in (
    "US=USD CA=CAD MX=MXN AR=ARS CL=CLP CO=COP UY=UYU BR=BRL PE=PEN AU=AUD NZ=NZD SG=SGD HK=HKD "
    "TW=TWD CN=CNY JP=JPY KR=KRW IN=INR PK=PKR LK=LKR ID=IDR MY=MYR TH=THB PH=PHP VN=VND GB=GBP "
    "UK=GBP IE=EUR DE=EUR AT=EUR FR=EUR IT=EUR ES=EUR PT=EUR NL=EUR BE=EUR LU=EUR FI=EUR EE=EUR "
    "LV=EUR LT=EUR SK=EUR SI=EUR GR=EUR CY=EUR MT=EUR CH=CHF LI=CHF SE=SEK NO=NOK DK=DKK IS=ISK "
    "PL=PLN CZ=CZK HU=HUF RO=RON MD=MDL BG=BGN HR=EUR RS=RSD BA=BAM MK=MKD AL=ALL UA=UAH BY=BYN "
    "RU=RUB KZ=KZT UZ=UZS KG=KGS GE=GEL AM=AMD AZ=AZN TR=TRY IL=ILS SA=SAR AE=AED QA=QAR KW=KWD "
    "BH=BHD OM=OMR JO=JOD EG=EGP MA=MAD TN=TND DZ=DZD IR=IRR IQ=IQD ZA=ZAR NG=NGN KE=KES GH=GHS "
).split())

# Punctuation pages put around a symbol that is not part of it ("원~", "(€)", "€:").
# Currencies whose minor unit is a thousandth (ISO 4217 list one, "minor unit" 3): their shops
# write every price with three decimals ("12.500 KD" is twelve and a half dinars).
THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_EDGE_NOISE = " \t\r\n~:()[]*+/|-–"


@lru_cache(maxsize=1)
def _symbol_table() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for code, info in CURRENCIES.items():
        if code in NOT_MONEY:
            continue
        for symbol in (code, info["s"], info["sn"], *info.get("sn2", [])):
            symbol = symbol.strip()
            if symbol and symbol != "-":
                table.setdefault(symbol, set()).add(code)
    for symbol, codes in EXTRA_SYMBOLS.items():
        table.setdefault(symbol, set()).update(codes)
    return {symbol: frozenset(codes) for symbol, codes in table.items()}


def names_no_money(raw: str) -> bool:
    """Whether ``raw`` (as price-parser found it) spells a code of :data:`NOT_MONEY`."""
    return raw.strip().upper() in _NOT_MONEY_SPELLINGS


def without_no_money(text: str) -> str:
    """``text`` with every word that spells a code of :data:`NOT_MONEY` blanked ("XAU/USD 2,350"
    → " /USD 2,350"), so that a currency written after one can be found."""
    return _NOT_MONEY_RE.sub(" ", text)


def currency_candidates(raw: str | None) -> frozenset[str]:
    """ISO-4217 codes a currency as written may stand for.

    Args:
        raw: a symbol, code or word as found on a page (``"$"``, ``"zł"``, ``"EUR"``, ``"тг."``).

    Returns:
        The set of codes (``{"USD", "CAD", "AUD", …}`` for ``"$"``); ISO codes match in any
        case (``"pln"``); empty when the text is no known currency or one of :data:`NOT_MONEY`.
    """
    if not raw:
        return frozenset()
    table = _symbol_table()
    for form in (raw.strip(), raw.strip(_EDGE_NOISE)):
        if form in table:
            return table[form]
        if form.upper() in CURRENCIES and form.upper() not in NOT_MONEY:
            return frozenset({form.upper()})
        if form.lower() in table:
            return table[form.lower()]
    return frozenset()


def to_iso(raw: str | None, country: str | None = None) -> str | None:
    """One ISO-4217 code for a currency as written, resolving ambiguity with the page's country.

    Args:
        raw: symbol, code or word (see :func:`currency_candidates`).
        country: ISO-3166 alpha-2 country of the page (ccTLD or locale region), or None.

    Returns:
        The code: the only candidate; else the country's own currency when it is a candidate
        (``"$"`` on a ``.ca`` page → CAD); else :data:`DEFAULT_FOR_SYMBOL` (``"$"`` → USD).
        None when ``raw`` is no known currency or stays ambiguous (``"kr"`` on a ``.com`` page).
    """
    candidates = currency_candidates(raw)
    if not candidates:
        return None
    if len(candidates) == 1:
        return next(iter(candidates))
    local = COUNTRY_CURRENCY.get((country or "").upper())
    if local in candidates:
        return local
    default = DEFAULT_FOR_SYMBOL.get(raw.strip(_EDGE_NOISE))
    return default if default in candidates else None
