"""Row-level validation of signal records, per rule set.

Each rule is a named predicate; a record fails with the names of every rule it breaks, so a
quarantine row says exactly what to fix. The same rules exist as a Great Expectations suite
(:mod:`data_quality.expectations`) for frame-level, reportable checks; these run per record
so that failures can be quarantined one by one.

Rule sets:
    ``offer``: a shop's observation of a product (price, currency, availability, stock) —
        crawled pages, pushed offers, backfilled price histories.
    ``review``: a review (text, rating; text must be PII-free).

Which rule set a record answers to is :func:`rule_set_of` (a record with review text is a review).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from commons.errors import assert_conserved
from commons.record import AVAILABILITY, MAX_PRICE, MAX_STOCK, PRICE_QUANTUM
from commons.currencies import ISO_4217
from data_quality.pii import find_pii
from data_quality.quarantine import Split, quarantine_record

Rule = Callable[[dict[str, Any]], bool]


def _present(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _number(value: Any) -> float | None:
    """A finite real number, or None for anything else (bools and strings included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _price_positive(record: dict[str, Any]) -> bool:
    # At rest the price is its canonical string ("51.77"), in code a Decimal.
    price = record.get("price")
    if isinstance(price, bool) or not isinstance(price, (str, int, Decimal)):
        return False
    try:
        amount = Decimal(str(price))
    except InvalidOperation:
        return False
    return amount.is_finite() and amount > 0


def _rating_between(low: float, high: float) -> Rule:
    def rule(record: dict[str, Any]) -> bool:
        rating = record.get("rating")
        if rating is None:
            return True
        number = _number(rating)
        return number is not None and low <= number <= high
    return rule


def _stock_non_negative(record: dict[str, Any]) -> bool:
    stock = record.get("stock_count")
    return stock is None or (isinstance(stock, int) and not isinstance(stock, bool) and stock >= 0)


def _price_storable(record: dict[str, Any]) -> bool:
    # Only a readable amount can be too large; an unreadable one fails price_not_positive.
    try:
        amount = Decimal(str(record.get("price")))
    except InvalidOperation:
        return True
    return not amount.is_finite() or amount < MAX_PRICE


def _price_scale(record: dict[str, Any]) -> bool:
    # DECIMAL(18, 4) would round "12.34567" and turn "0.00001" into 0 without a word.
    try:
        amount = Decimal(str(record.get("price")))
    except InvalidOperation:
        return True
    return not amount.is_finite() or amount == amount.quantize(PRICE_QUANTUM)


def _stock_storable(record: dict[str, Any]) -> bool:
    stock = record.get("stock_count")
    return not isinstance(stock, int) or stock <= MAX_STOCK


def _texts(record: dict[str, Any]) -> list[str] | None:
    texts = record.get("review_text")
    if isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts):
        return list(texts)
    return None


def _review_text_present(record: dict[str, Any]) -> bool:
    texts = _texts(record)
    return texts is not None and any(t.strip() for t in texts)


def _no_residual_pii(record: dict[str, Any]) -> bool:
    # The scrubber ran before this stage; any hit now means a record skipped it.
    return not any(find_pii(text) for text in _texts(record) or ())


def _author_scrubbed(record: dict[str, Any]) -> bool:
    return record.get("author") in (None, "", "<USER>")


RULES: dict[str, dict[str, Rule]] = {
    "offer": {
        "url_missing": lambda r: _present(r.get("url")),
        "product_id_missing": lambda r: _present(r.get("product_id")),
        "price_not_positive": _price_positive,
        "currency_not_iso4217": lambda r: r.get("currency") in ISO_4217,
        "availability_not_in_enum": lambda r: r.get("availability") in AVAILABILITY,
        "stock_count_negative": _stock_non_negative,
        "rating_outside_0_5": _rating_between(0, 5),
    },
    # What the warehouse cannot store as written: checked before the first write (the scrub
    # stage), as a row past them would fail the partition's whole write, or be rounded in it.
    "storable": {
        "price_over_storable": _price_storable,
        "price_over_4_decimals": _price_scale,
        "stock_count_over_storable": _stock_storable,
    },
    "review": {
        "url_missing": lambda r: _present(r.get("url")),
        "product_id_missing": lambda r: _present(r.get("product_id")),
        "review_text_empty": _review_text_present,
        "rating_outside_1_5": _rating_between(1, 5),
        "residual_pii": _no_residual_pii,
        "author_not_scrubbed": _author_scrubbed,
    },
}
"""Rule name → predicate (True = passes), per rule set. Ranges come from the signal-record
contract (docs/ARCHITECTURE.md: rating 0–5, and what the warehouse can store:
:data:`commons.record.MAX_PRICE`, :data:`~commons.record.MAX_STOCK`); review feeds rate 1–5 stars
(reviews/SOURCES.md)."""


#: The warehouse intake (``signal_history.intake``) of the records each rule set keeps.
INTAKE_OF_RULE_SET = {"offer": "books", "review": "reviews"}


def rule_set_of(record: dict[str, Any]) -> str:
    """The rule set (and GX suite) a signal record answers to: ``review`` when it carries review
    text, else ``offer``."""
    return "review" if record.get("review_text") else "offer"


def failed_rules(record: dict[str, Any], rule_set: str) -> list[str]:
    """Names of the rules of ``rule_set`` that ``record`` breaks, in rule order.

    Raises:
        ValueError: unknown ``rule_set`` (known: keys of :data:`RULES`).
    """
    if rule_set not in RULES:
        raise ValueError(f"unknown rule set {rule_set!r}; known: {sorted(RULES)}")
    return [name for name, rule in RULES[rule_set].items() if not rule(record)]


AMBIGUOUS_PRODUCT = "product_id_ambiguous"
"""An ``offer`` rule across records: one crawl found the same product id on two web pages (two
books sharing a UPC, or one page under two URLs such as ``p/1`` and ``p/1/``). Kept, the two prices
would read as a price change seconds apart in signal history; which page is the product cannot be
told, so every page of that id is quarantined, its reason naming the other pages
(``product_id_ambiguous: also at <url>, …``)."""

# URLs a product_id_ambiguous reason names at most; the rows of the id name the rest.
_AMBIGUOUS_URLS_SHOWN = 3


def ambiguous_products(records: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(crawl_id, product_id) → its http(s) URLs, for the pairs one crawl saw at more than one
    http(s) URL. Feed rows (``file://…#line``) are left out: a feed may carry one product on many
    lines."""
    urls: dict[tuple[str, str], set[str]] = {}
    for record in records:
        url = str(record.get("url") or "")
        if url.startswith(("http://", "https://")) and _present(record.get("product_id")):
            urls.setdefault((str(record.get("crawl_id")), str(record["product_id"])), set()).add(url)
    return {key: seen for key, seen in urls.items() if len(seen) > 1}


def ambiguous_reason(others: set[str]) -> str:
    """The product_id_ambiguous reason of a page whose product id is also at ``others``: it says
    what collided (two books sharing a UPC, or the same page at ``p/1`` and ``p/1/``). The batch
    split and the live capture (:mod:`live.capture`) both word it here, so their rows read alike."""
    shown = sorted(others)[:_AMBIGUOUS_URLS_SHOWN]
    more = f" and {len(others) - len(shown)} more" if len(others) > len(shown) else ""
    return f"{AMBIGUOUS_PRODUCT}: also at {', '.join(shown)}{more}"


def split_valid(records: Iterable[dict[str, Any]], rule_set: str,
                stage: str = "validate") -> Split:
    """Keep the records that pass every rule of ``rule_set``; quarantine the rest. ``offer``
    records also answer to :data:`AMBIGUOUS_PRODUCT` across the batch (:func:`ambiguous_products`).

    Each quarantine row's ``reason`` is ``"; "``-joined failed rule names, e.g.
    ``"price_not_positive; currency_not_iso4217"``; an ambiguous product id's names the other URLs
    (``"product_id_ambiguous: also at http://shop/p/1/"``).

    Raises:
        ValueError: unknown ``rule_set``.
        ConservationError: rows were lost (a bug, never expected).
    """
    records = list(records)
    ambiguous = ambiguous_products(records) if rule_set == "offer" else {}
    split = Split()
    n_in = 0
    for record in records:
        n_in += 1
        failures = failed_rules(record, rule_set)
        pages = ambiguous.get((str(record.get("crawl_id")), str(record.get("product_id"))))
        if pages:
            failures.append(ambiguous_reason(pages - {str(record.get("url"))}))
        if failures:
            split.quarantined.append(quarantine_record(record, stage, "; ".join(failures)))
        else:
            split.kept.append(record)
    assert_conserved(n_in, split.kept, split.quarantined)
    return split
