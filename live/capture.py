"""Change capture: an observed page against the last known state → the changes each decision needs.

A page or pushed record is scrubbed and checked by the batch path's own rules
(:func:`data_quality.clean.scrub_and_validate`, the rule set the batch path picks for it,
:func:`data_quality.rules.rule_set_of`): a record they quarantine is quarantined here with the
same reason. A kept
record is compared with the product's last known one:

===================  ============================  ===================================================
what moved           decision fed                  the contract record sent to the pod
===================  ============================  ===================================================
price                ``price_spike``               title + the last :data:`PRICE_WINDOW` prices at
                                                   price changes, newest first (history + live), padded
                                                   with the oldest
stock or availability ``urgent_inventory``          title + the last :data:`STOCK_WINDOW` stock levels
                                                   (out of stock = 0), newest first, padded with the
                                                   oldest as training pads
review text          ``negative_review``           the review texts joined (``review_text_of``)
===================  ============================  ===================================================

One product id at two web pages in one watcher run (two books sharing a UPC) is the batch path's
``product_id_ambiguous`` (:data:`data_quality.rules.AMBIGUOUS_PRODUCT`): the first page keeps
the id, and every later observation of either page is quarantined with that reason, naming the
other page(s) as the batch path does (``product_id_ambiguous: also at <url>``), since the two
pages' prices would otherwise interleave in one product's history as moves seconds apart. Feed
and pushed records without an http(s) URL, and other runs (a shop that moved a product), are
no conflict. A capture sees only its own process's pages: with the Redis broker each watcher
checks its share.

A record that cannot follow the page's last one is quarantined (:func:`out_of_line`): one crawled
before it (a late push) or priced in another currency. An offer pushed without a title takes the
page's last known one (:func:`carried_title`).

A review is an event: a record whose review text differs from the last one seen under its URL
(the first one included) feeds negative_review. Otherwise the first sight of a page is its
baseline and feeds nothing, unless a backfilled history seeded
its windows and the page already differs from that history's newest value. Windows shorter than
the contract's are padded with their oldest value, as training pads stock windows: a product
whose known history is short reads as flat before it (the rule oracle then judges the move
against that flat past; the padded share is in the watcher's summary).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from commons.contracts import PRICE_WINDOW, STOCK_WINDOW, review_text_of
from commons.record import content_digest
from data_quality.clean import scrub_and_validate
from data_quality.quarantine import quarantine_record
from data_quality.rules import ambiguous_reason, rule_set_of
from live.broker import Broker
from live.history import window


def stock_level(record: dict[str, Any]) -> float | None:
    """Units in stock as the urgent_inventory contract reads them (out of stock = 0), None if unknown."""
    if record.get("availability") == "out_of_stock":
        return 0.0
    stock = record.get("stock_count")
    return None if stock is None else float(stock)


def out_of_line(before: dict[str, Any] | None, signal: dict[str, Any]) -> str | None:
    """Why ``signal`` cannot follow ``before``, the page's last stored record, or None.

    - ``observed_before_last``: its ``crawled_at`` precedes ``before``'s (a pushed row arriving
      late). Taken as the page's present, an old price would read as a move, and the warehouse,
      which orders a product's history by ``crawled_at``, would rebuild another window.
    - ``currency_changed``: its price is in another currency than ``before``'s; a price window
      holds one currency, so 10.00 EUR then 1500 JPY is no spike.
    """
    if before is None:
        return None
    if datetime.fromisoformat(signal["crawled_at"]) < datetime.fromisoformat(before["crawled_at"]):
        return f"observed_before_last: crawled_at {signal['crawled_at']} precedes {before['crawled_at']}"
    old, new = before.get("currency"), signal.get("currency")
    if signal.get("price") is not None and old and new and old != new:
        return f"currency_changed: {old} -> {new}"
    return None


def carried_title(before: dict[str, Any] | None, signal: dict[str, Any]) -> dict[str, Any]:
    """``signal`` with the title of ``before`` (the page's last stored record) when it has none.

    Partner price feeds often send an offer as id, price and stock only; the price_spike and
    urgent_inventory contracts require the product's title, so without it every such move would be
    refused by the pod (quarantined ``pod_422``). The carried title is stored with the record, and its
    ``content_digest`` is recomputed as scrubbing recomputes it, so the warehouse row, the pod's
    input and ``explain``'s rebuild agree. A record with its own title, a review, or a page seen
    with no title yet is returned unchanged.
    """
    if signal.get("title") or not (before and before.get("title")) or rule_set_of(signal) != "offer":
        return signal
    carried = {**signal, "title": before["title"]}
    return {**carried, "content_digest": content_digest(carried)}


def change_id(url: str, decision: str, number: int) -> str:
    """Stable id of a page's ``number``-th change for ``decision`` (sha256 hex, 32 characters)."""
    return hashlib.sha256(f"{url}\n{decision}\n{number}".encode()).hexdigest()[:32]


class ChangeCapture:
    """Turns observed records into captured changes in a broker (:mod:`live.broker`).

    Args:
        store: the broker (the embedded :class:`live.store.LiveStore` or a Redis one).
        history: product id → (prices, stock levels), each oldest first, from the warehouse's
            signal history (:func:`live.history.product_windows`); seeds a product's windows the
            first time its page is seen.
        decisions: the decisions changes are captured for (those with a pod to ask); None = all.
            A move no listed decision reads still moves the page's known state, so the windows
            stay whole.
    """

    def __init__(self, store: Broker, history: dict[str, tuple[list[float], list[float]]] | None = None,
                 decisions: set[str] | None = None) -> None:
        self.store = store
        self.history = history or {}
        self.decisions = decisions
        #: Records quarantined so far by this capture (the watcher's page outcome reads it).
        self.quarantined = 0
        #: Product id → the http(s) pages it was seen at in this run (:data:`data_quality.rules.AMBIGUOUS_PRODUCT`).
        self._pages_of: dict[str, set[str]] = {}

    def observe(self, url: str, record: dict[str, Any], etag: str | None, received_at: float) -> list[dict[str, Any]]:
        """Scrub, check and compare one observed record; store the outcome; returns the changes captured.

        Raises nothing for bad data: a record the rules refuse is quarantined (stage ``scrub`` or
        ``validate``, the rule's reason) and its visit counted.
        """
        split = scrub_and_validate([record], rule_set_of(record))
        others = self._other_pages(url, split.kept[0]) if not split.quarantined else set()
        if others:
            split.quarantined.append(quarantine_record(split.kept.pop(), "validate", ambiguous_reason(others)))
        if split.quarantined:
            return self._quarantine(url, split.quarantined[0], received_at)
        signal = split.kept[0]
        known = self.store.product(url) or {"record": None, "prices": [], "stocks": [], "changes": 0, "seeded": 0}
        before = known["record"]
        problem = out_of_line(before, signal)
        if problem:
            return self._quarantine(url, quarantine_record(signal, "validate", problem), received_at)
        signal = carried_title(before, signal)
        product_id = signal.get("product_id")
        prices, stocks = list(known["prices"]), list(known["stocks"])
        if before is None and not known["seeded"] and product_id in self.history:
            past_prices, past_stocks = self.history[product_id]
            prices, stocks = past_prices[::-1][:PRICE_WINDOW], past_stocks[::-1][:STOCK_WINDOW]
        price = float(signal["price"]) if signal.get("price") is not None else None
        level = stock_level(signal)
        moved: list[tuple[str, Any, Any]] = []
        if price is not None and (prices[:1] or [None])[0] != price:
            if prices or before is not None:
                moved.append(("price", prices[0] if prices else None, price))
            prices = ([price] + prices)[:PRICE_WINDOW]
        if level is not None and (stocks[:1] or [None])[0] != level:
            if stocks or before is not None:
                moved.append(("stock", stocks[0] if stocks else None, level))
            stocks = ([level] + stocks)[:STOCK_WINDOW]
        review = review_text_of(signal)
        if review and (before is None or review != review_text_of(before)):
            moved.append(("review", None, review))
        if (moved and level is not None and rule_set_of(signal) == "offer"
                and not any(kind == "stock" for kind, _, _ in moved)):
            # This offer goes to the warehouse's shop history for its other move, and the history
            # keeps a stock level at every stored observation (live.history, as training's windows
            # do): the live window holds it too, or explain's rebuild would not match the input.
            stocks = ([level] + stocks)[:STOCK_WINDOW]
        changes = self._changes(url, signal, moved, prices, stocks, known["changes"], received_at)
        if not moved and before is not None and before.get("content_digest") == signal.get("content_digest"):
            self.store.record_visit(url, received_at, etag)
            return []
        self.store.capture(url, product_id=product_id, etag=etag, record=signal, prices=prices, stocks=stocks,
                           changes=changes, visited_at=received_at)
        return changes

    def _quarantine(self, url: str, row: dict[str, Any], received_at: float) -> list[dict[str, Any]]:
        self.store.quarantine(row.get("stage", "validate"), url, row["reason"], row)
        self.store.record_visit(url, received_at)
        self.quarantined += 1
        return []

    def _other_pages(self, url: str, signal: dict[str, Any]) -> set[str]:
        """The other web pages ``signal``'s product id was seen at in this run (``url`` is noted now)."""
        product_id = signal.get("product_id")
        if product_id is None or rule_set_of(signal) != "offer" or not url.startswith(("http://", "https://")):
            return set()
        pages = self._pages_of.setdefault(str(product_id), set())
        pages.add(url)
        return pages - {url}

    def _changes(self, url: str, signal: dict[str, Any], moved: list[tuple[str, Any, Any]], prices: list[float],
                 stocks: list[float], number: int, received_at: float) -> list[dict[str, Any]]:
        changed_at = datetime.fromtimestamp(received_at, timezone.utc).isoformat()
        key = {"product_id": signal.get("product_id")}
        out = []
        for kind, old, new in moved:
            if kind == "price":
                decision, record = "price_spike", {**key, "title": signal["title"],
                                                   "prices": window(prices, PRICE_WINDOW)}
            elif kind == "stock":
                decision, record = "urgent_inventory", {**key, "title": signal["title"],
                                                        "stock_counts": window(stocks, STOCK_WINDOW)}
            else:
                decision, record = "negative_review", {**key, "review_text": new}
            if self.decisions is not None and decision not in self.decisions:
                continue
            out.append({"change_id": change_id(url, decision, number + 1), "decision": decision, "kind": kind,
                        "before": old, "after": new if kind != "review" else None, "record": record,
                        "signal": signal, "received_at": received_at, "changed_at": changed_at,
                        "padded": kind == "price" and len(prices) < PRICE_WINDOW})
        return out
