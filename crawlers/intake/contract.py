"""The signal-record contract for pushed rows: check one row, build its record or say why not.

A pushed row is a mapping of field name → value, as parsed from a JSON line (typed values) or a
CSV row (strings already converted by :mod:`crawlers.intake.batch`). Fields
(:data:`PUSH_FIELDS`; any other key is refused, ``provenance`` and ``content_digest`` included:
the intake sets them):

====================  ========  ===============================================================
field                 required  rule
====================  ========  ===============================================================
``source``            yes       string (partner or feed name) holding a letter or digit, no white space
                                at its ends, no control or format character (Unicode Cc/Cf) anywhere
                                (the key rule of :mod:`commons.text_rules`, as ``product_id``)
``url``               yes       absolute ``http``/``https`` URL with a host of no empty label
                                (``a..b``), no control or format character
``product_id``        yes       string with a letter or digit (SKU/UPC/GTIN/ASIN or canonical URL), no white
                                space at its ends, no control or format character anywhere, at
                                most the decision contracts' ``max_length`` (256) characters
``availability``      yes       one of :data:`commons.record.AVAILABILITY`
``crawled_at``        yes       ISO-8601 string *with* a UTC offset (``Z`` or ``±HH:MM``),
                                at most :data:`FUTURE_TOLERANCE` ahead of the intake's clock;
                                stored in UTC
``title``             no        string or null, at most the contracts' ``max_length`` (500), no
                                control or format character but tab, line breaks, ZWJ and ZWNJ
``price``             offers    decimal *string* > 0 (``"51.77"``; no sign, exponent, NaN or
                                thousands separator: JSON numbers are refused so no float ever
                                touches money), at most 4 decimals; needs ``currency``; required
                                on a row without ``review_text`` (an offer)
``currency``          no        an ISO 4217 code (:data:`commons.currencies.ISO_4217`)
``stock_count``       no        integer ≥ 0 or null (booleans and 3.0 are refused)
``rating``            no        number in 0–5 or null
``review_text``       no        list of strings or null; joined (``review_text_of``) at most
                                the negative_review contract's ``max_length`` (5,000)
``author``            no        string or null (PII: scrubbed downstream)
``feedback``          no        boolean or null
====================  ========  ===============================================================

The contract refuses at intake what the validation stage's row rules would quarantine later
(``price_not_positive``, ``currency_not_iso4217``): the webhook's answer is the only feedback a
partner gets, so a row it counts as accepted must be one the warehouse keeps; and the
lengths a pod's contract caps (:data:`commons.contracts.CONTRACTS`), so an accepted row is one
the live loop can decide on.

A row breaking any rule raises :class:`RowInvalid` naming *every* failing field, so one
quarantine row says all there is to fix (reason ``"price: …; rating: …"``). One exception: a row
with a lone surrogate (JSON's ``\\ud800`` escape) in a field name or in any string of a value is
refused for that alone (``"<field>: invalid unicode (lone surrogate)"``), since such text cannot
be stored, digested or even echoed in a reason as UTF-8.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import reprlib
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from commons.contracts import NEGATIVE_REVIEW, PRICE_SPIKE, review_text_of
from commons.currencies import ISO_4217
from commons.errors import HarvestError
from commons.quarantine import quarantine_row
from commons.record import AVAILABILITY, MAX_PRICE, MAX_STOCK, PRICE_QUANTUM, SignalRecord, content_digest
from commons.text_rules import LINE_CONTROLS, hidden_character, key_problem

VERSION = "1.0.0"
SPIDER_VERSION = f"push_intake@{VERSION}"
STAGE = "intake"
UNKNOWN_SOURCE = "push_intake"
"""Quarantine ``source`` for a row whose own ``source`` is missing or unusable."""

REQUIRED_FIELDS = ("source", "url", "product_id", "availability", "crawled_at")
OPTIONAL_FIELDS = ("title", "price", "currency", "stock_count", "rating", "review_text",
                   "author", "feedback")
PUSH_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
FUTURE_TOLERANCE = timedelta(days=1)
"""How far ``crawled_at`` may lie ahead of the intake's clock (partners' clocks drift)."""
MAX_URL_CHARS = 2048
"""A page URL is shorter than this: the sitemaps.org protocol's bound ("less than 2,048 characters")."""

_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(SignalRecord))
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


class RowInvalid(HarvestError, ValueError):
    """A pushed row that breaks the contract.

    Attributes:
        reasons: one ``"<field>: <problem>"`` string per failing field, in field order.
        product_id: the row's product id when it is a usable string, else None.
    """

    def __init__(self, reasons: list[str], product_id: str | None = None) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.product_id = product_id


def check_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Check one pushed row against the contract.

    Args:
        row: field name → value; absent optional fields count as null.

    Returns:
        The fields of :data:`PUSH_FIELDS`, normalised: ``price`` a :class:`~decimal.Decimal` (or
        None), ``crawled_at`` an aware UTC :class:`~datetime.datetime`, ``rating`` a float,
        absent optional fields None.

    Raises:
        RowInvalid: any field breaks its rule (all failures listed).
    """
    undecodable = [name for name, value in row.items()
                   if _has_lone_surrogate(name) or _has_lone_surrogate(value)]
    if undecodable:
        raise RowInvalid([f"{_printable(name)}: invalid unicode (lone surrogate)"
                          for name in undecodable])
    reasons = [f"{name}: unknown field" for name in row if name not in PUSH_FIELDS]
    reasons += [f"{name}: missing" for name in REQUIRED_FIELDS if row.get(name) is None]
    out: dict[str, Any] = {name: row.get(name) for name in PUSH_FIELDS}
    for name, check in _CHECKS.items():
        if out[name] is None:
            continue
        problem, value = check(out[name])
        if problem:
            reasons.append(f"{name}: {problem}")
        else:
            out[name] = value
    if out["price"] is not None and row.get("currency") is None:
        reasons.append("currency: missing (required with a price)")
    if row.get("price") is None and not row.get("review_text"):
        reasons.append("price: missing (required on a row without review_text, an offer)")
    if row.get("review_text") and isinstance(out["rating"], float) and not 1 <= out["rating"] <= 5:
        reasons.append(f"rating: {out['rating']:g} on a review (reviews are rated 1-5)")
    if reasons:
        product_id = row.get("product_id")
        raise RowInvalid(reasons, product_id if _is_text(product_id) else None)
    return out


def to_record(row: Mapping[str, Any], *, batch_id: str, raw: bytes,
              spider_version: str = SPIDER_VERSION) -> dict[str, Any]:
    """Check a pushed row and build its signal record.

    Args:
        row: the parsed row (see :func:`check_row`).
        batch_id: id of the batch the row came in; becomes ``provenance.crawl_id``.
        raw: the row's bytes exactly as received (without the line ending);
            ``provenance.response_digest`` is their sha256.
        spider_version: ``name@version`` of the intake that read the row.

    Returns:
        The record's plain form, equal to ``SignalRecord(...).to_dict()``: price as its decimal
        string, ``crawled_at`` ISO-8601 UTC, ``content_digest`` computed here (never taken from
        the sender), ``provenance.http_status`` None: pushed rows are read from files (the
        webhook's batches too), not fetched.

    Raises:
        RowInvalid: the row breaks the contract.
    """
    fields = check_row(row)
    # Built directly rather than through SignalRecord.to_dict(): dataclasses.asdict deep-copies
    # every value (twice, with __post_init__), which was 70 % of a 173k-row backfill. The key
    # order and values follow SignalRecord's fields (a new field there raises KeyError here).
    data: dict[str, Any] = {
        **fields,
        "price": None if fields["price"] is None else format(fields["price"], "f"),
        "crawled_at": fields["crawled_at"].isoformat(),
        "provenance": {"crawl_id": batch_id, "spider_version": spider_version,
                       "http_status": None,
                       "response_digest": hashlib.sha256(raw).hexdigest()},
    }
    data["content_digest"] = content_digest(data)
    return {name: data[name] for name in _RECORD_FIELDS}


def quarantine_invalid(row: Mapping[str, Any] | None, error: RowInvalid | str, *, batch_id: str,
                       url: str, raw: bytes) -> dict[str, Any]:
    """Quarantine row (stage ``intake``) for a pushed row that could not become a record.

    Args:
        row: the parsed row, or None when the row could not even be parsed.
        error: the contract failure, or a reason string for a row that did not parse.
        batch_id: the batch id (quarantine ``crawl_id``).
        url: where the row sits in its batch, e.g. ``push://<batch_id>#<line>``.
        raw: the row's bytes as received; kept (as UTF-8 text) in ``record_json`` so nothing
            sent is lost.

    Returns:
        A row shaped by :func:`commons.quarantine.quarantine_row`.
    """
    source = row.get("source") if row is not None else None
    return quarantine_row(
        source=source if _is_text(source) else UNKNOWN_SOURCE,
        reason=str(error), crawl_id=batch_id, url=url,
        product_id=error.product_id if isinstance(error, RowInvalid) else None,
        record=raw.decode("utf-8", errors="replace"), stage=STAGE)


def _is_text(value: Any) -> bool:
    # A lone surrogate never reaches a record or a quarantine row's source/product_id, and a key
    # made only of invisible or control characters is blank to whoever reads it.
    return (isinstance(value, str) and any(unicodedata.category(c)[0] not in "CZ" for c in value)
            and not _has_lone_surrogate(value))


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (keys of nested objects too) is not valid UTF-8.

    Walks with an explicit stack: a value may be nested as deep as the JSON parser allows.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _printable(text: str) -> str:
    """``text`` with each lone surrogate written as its ``\\udXXX`` escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value: Any) -> tuple[str | None, Any]:
    return (None, value) if _is_text(value) else ("not a non-blank string", value)


def _optional_text(value: Any) -> tuple[str | None, Any]:
    return (None, value) if isinstance(value, str) else ("not a string", value)


MAX_PRODUCT_ID = PRICE_SPIKE["fields"]["product_id"]["max_length"]
MAX_TITLE = PRICE_SPIKE["fields"]["title"]["max_length"]
MAX_REVIEW = NEGATIVE_REVIEW["fields"]["review_text"]["max_length"]


# Format characters a title may hold: ZWNJ and ZWJ shape Persian and Indic words and join emoji.
_TITLE_ALLOWED = LINE_CONTROLS + "\u200c\u200d"


def _hidden_character(text: str, allowed: str = "") -> str | None:
    """:func:`commons.text_rules.hidden_character`, naming the text: such a character is invisible
    where the text is shown (a bidi override shows one id, title or URL as another)."""
    hidden = hidden_character(text, allowed)
    return hidden and f"{hidden} ({_show(text)})"


def _key(value: Any) -> tuple[str | None, Any]:
    """A subject's key (``source``, ``product_id``): one ``erase`` can name and the pods take
    (:func:`commons.text_rules.key_problem`), as written."""
    problem, value = _text(value)
    if not problem and (problem := key_problem(value)):
        problem = f"{problem} ({_show(value)})"
    return problem, value


def _product_id(value: Any) -> tuple[str | None, Any]:
    problem, value = _key(value)
    if not problem and len(value) > MAX_PRODUCT_ID:
        problem = f"{len(value):,} characters; the decisions take at most {MAX_PRODUCT_ID}"
    return problem, value


def _title(value: Any) -> tuple[str | None, Any]:
    problem, value = _optional_text(value)
    if not problem and len(value) > MAX_TITLE:
        problem = f"{len(value):,} characters; the decisions take at most {MAX_TITLE}"
    return problem or _hidden_character(value, allowed=_TITLE_ALLOWED), value


def url_problem(value: Any) -> str | None:
    """Why ``value`` is not a page URL a signal may carry, or None when it is one.

    A page URL is an absolute http(s) URL shorter than :data:`MAX_URL_CHARS`, with a host of no
    empty label (``a..b``; one trailing dot, the DNS root, is allowed), a port in 1-65535 (0 names
    no port a server listens on), no control or format character (Unicode Cc, Cf), no white space
    in the host and no credentials (``user:password@`` would be stored with every signal; the
    reason never echoes them).
    """
    problem = f"not an absolute http(s) URL ({_show(value)})"
    if not isinstance(value, str):
        return problem
    if len(value) >= MAX_URL_CHARS:
        return f"{len(value):,} characters; a URL must be shorter than {MAX_URL_CHARS:,}"
    if hidden := _hidden_character(value):
        return hidden
    try:
        # .port and .hostname raise ValueError too: a port out of 0-65535, an unclosed "[".
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return f"{problem}: {exc}"
    if port == 0:
        return f"{problem}: port 0"
    if parts.scheme not in ("http", "https") or not host:
        return problem
    if "" in host.removesuffix(".").split("."):
        return f"{problem}: an empty label in the host"
    if any(c.isspace() for c in parts.netloc):
        return f"white space in the host ({_show(value)})"
    if "@" in parts.netloc:
        return "carries credentials (user:password@): they would be stored with every signal"
    return None


def _url(value: Any) -> tuple[str | None, Any]:
    return url_problem(value), value


def _availability(value: Any) -> tuple[str | None, Any]:
    if value in AVAILABILITY:
        return None, value
    return f"{_show(value)} not one of {', '.join(AVAILABILITY)}", value


def _crawled_at(value: Any) -> tuple[str | None, Any]:
    problem = f"not ISO-8601 with a UTC offset ({_show(value)})"
    if not isinstance(value, str):
        return problem, value
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return problem, value
    if when.utcoffset() is None:
        return problem, value
    try:
        when = when.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past the last representable year
        return f"out of range ({_show(value)})", value
    if when > datetime.now(timezone.utc) + FUTURE_TOLERANCE:
        return f"in the future ({_show(value)}; more than {FUTURE_TOLERANCE.days} day ahead)", value
    return None, when


def _price(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        amount = Decimal(value)
        if amount >= MAX_PRICE:
            return f"over the largest storable amount {MAX_PRICE - 1} ({_show(value)})", value
        if amount != amount.quantize(PRICE_QUANTUM):
            return f"more decimals than the {PRICE_QUANTUM} the warehouse keeps ({_show(value)})", value
        if amount > 0:
            return None, amount
    return f"not a decimal string > 0 ({_show(value)})", value


def _currency(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, str) and value in ISO_4217:
        return None, value
    return f"not an ISO 4217 code ({_show(value)})", value


def _stock_count(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        if value > MAX_STOCK:
            return f"over the largest storable count {MAX_STOCK} ({_show(value)})", value
        return None, value
    return f"not an integer >= 0 ({_show(value)})", value


def _rating(value: Any) -> tuple[str | None, Any]:
    # The range alone also refuses NaN and ±inf (their comparisons are false), and compares a
    # huge JSON integer exactly, where math.isfinite() would overflow converting it to float.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 5:
        return None, float(value)
    return f"not a number in 0-5 ({_show(value)})", value


def _review_text(value: Any) -> tuple[str | None, Any]:
    if not (isinstance(value, list) and all(isinstance(text, str) for text in value)):
        return "not a list of strings", value
    if value and not any(text.strip() for text in value):
        # A list makes the row a review, and a review without text is quarantined downstream.
        return "no text in the list (null when the row carries no review)", value
    joined = review_text_of({"review_text": value}) or ""
    if len(joined) > MAX_REVIEW:
        return f"{len(joined):,} characters joined; negative_review takes at most {MAX_REVIEW:,}", value
    return None, value


def _feedback(value: Any) -> tuple[str | None, Any]:
    return (None, value) if isinstance(value, bool) else (f"not a boolean ({_show(value)})",
                                                         value)


_REPR = reprlib.Repr()
# Strings and numbers are cut to 40 characters below; reprlib only keeps nested lists and
# objects shallow, so a value nested as deep as the JSON parser allows cannot overflow repr().
_REPR.maxlevel, _REPR.maxstring, _REPR.maxlong, _REPR.maxother = 2, 10**6, 10**6, 10**6


def _show(value: Any) -> str:
    """A short printable form of a bad value for a quarantine reason."""
    text = _REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_CHECKS = {
    "source": _key, "url": _url, "product_id": _product_id, "availability": _availability,
    "crawled_at": _crawled_at, "title": _title, "price": _price, "currency": _currency,
    "stock_count": _stock_count, "rating": _rating, "review_text": _review_text,
    "author": _optional_text, "feedback": _feedback,
}
