"""Live market: the market replay on a wall clock, each product at one stable URL.

:mod:`crawlers.replay` serves every simulated day under its own prefix (``/tick/<t>/…``), which
suits backfills. A watcher of a live shop instead revisits the same URLs and sees them change;
:class:`LiveMarket` is that shop, and it knows the instant each page changed, so a benchmark can
measure how stale a harvested insight was.

Rules (all deterministic for a given replay, seed, start and rate):

- **Clock**: ``t0`` is the wall instant (epoch seconds) the market starts. Tick ``t`` begins at
  ``wall_of(t) = t0 + (t − start_tick) × seconds_per_tick``; the current tick at wall instant
  ``w`` is ``tick_at(w) = start_tick + floor((w − t0) / seconds_per_tick)``, the last tick begun
  by then. Ticks are the replay's (tick 0 is :data:`crawlers.replay.SERIES_START`, one day each).
  The clock stops at :data:`crawlers.replay.LAST_TICK` (9999-12-31): from ``wall_of(LAST_TICK)``
  on, ``tick_at`` is ``LAST_TICK`` and the pages no longer change.
- **Products**: products ``0 … n_books − 1`` are the mirror's books sorted by path, each priced
  as the replay prices it (:meth:`MarketReplay.quote`). Product ``k ≥ n_books`` clones book
  ``k mod n_books``: its page is the book's page at ``catalogue/<slug>-clone-<k>/index.html``
  with the UPC cell (its product id) set to the first 16 hex digits of
  ``sha256("<seed>:<k>")``, and its quotes follow the book's rules on another series,
  ``random.Random("<seed>:<k>").choice`` of the replay's eligible ASINs (sorted) without the
  book's own. With ``n_products < n_books`` the market is the first ``n_products`` books.
- **Changes**: a product changes at tick ``t > start_tick`` when its quote (price or stock)
  differs from its quote at ``t − 1``; the change's instant is ``wall_of(t)``.
- **Pages**: ``/<product path>`` shows the product's quote at the current tick. A shop renders
  a product page when its product changes, so the page is the replay's rendering at the
  product's last change tick (``start_tick`` if none): its "recently viewed" box shows the other
  books as of that tick. The page's bytes therefore change exactly when its product's quote
  does, and :meth:`LiveMarket.change_instants` is the ground truth of page changes.
  ``/sitemap.txt`` lists the absolute product URLs, one a line, by product index. Any other path
  is 404 (``serve_replay`` serves the per-tick catalogue).
- **Conditional GET**: every 200 carries a strong ``ETag`` (the SHA-256 of the body, quoted) and
  ``Last-Modified``, the HTTP-date of the product's last change instant (``t0`` when it has not
  changed, and for the sitemap). ``If-None-Match`` naming the current ETag (or ``*``) answers
  304; without ``If-None-Match``, an ``If-Modified-Since`` at or after Last-Modified answers 304.
  ``Cache-Control: no-cache`` has caches revalidate every time.
  HTTP-dates have one-second resolution and ticks may be shorter: two changes within a second
  share a Last-Modified, so a watcher should revalidate with the ETag.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from crawlers.replay import DEFAULT_SEED, LAST_TICK, RESTOCK_DAYS, Book, MarketReplay, Quote
from crawlers.static_site import KeepAliveHandler, serve_in_thread

SITEMAP = "sitemap.txt"

_UPC = re.compile(rb"(<th>UPC</th><td>)[^<]*(</td>)")


@dataclass(frozen=True, slots=True)
class Product:
    """One product of the live market.

    Attributes:
        index: 0-based position; the sitemap's order.
        path: URL path without the leading ``/``, e.g. ``catalogue/a-light-in-the-attic_1000/index.html``.
        product_id: the UPC its page shows (16 hex digits; a mirror book's own UPC).
        source: the mirror book whose page and base price and stock it has.
        asin: the series driving its price and stock.
    """

    index: int
    path: str
    product_id: str
    source: Book
    asin: str


class Change(NamedTuple):
    """One product's quote changing: at tick ``tick``, which begins at wall instant ``at``
    (epoch seconds), ``product`` starts showing ``quote``."""

    tick: int
    at: float
    product: Product
    quote: Quote


@dataclass(frozen=True)
class LivePage:
    """A page as served at one instant.

    Attributes:
        body: the response body.
        content_type: its ``Content-Type``.
        etag: strong entity tag, quoted (``'"<sha256 hex>"'``).
        last_modified: wall instant (epoch seconds) of the page's last change.
    """

    body: bytes
    content_type: str
    etag: str
    last_modified: float


class _History:
    """Quotes of one (book, series) pair, the ``i``-th at the market's ``start_tick + i``, as
    integer pennies and units (0 = out of stock): 16 bytes a tick, a tenth of a Quote and its Decimal."""

    __slots__ = ("pennies", "units")

    def __init__(self) -> None:
        self.pennies = array("q")
        self.units = array("q")

    def quote(self, i: int) -> Quote:
        return Quote(Decimal(self.pennies[i]).scaleb(-2), self.units[i] or None)

    def changed(self, i: int) -> bool:
        """Whether quote ``i`` (>= 1) differs from quote ``i - 1``."""
        return self.pennies[i] != self.pennies[i - 1] or self.units[i] != self.units[i - 1]


class LiveMarket:
    """A clock-driven view of a :class:`MarketReplay` (rules in the module docstring).

    Quotes are computed once per (book, series) pair and kept as integer pennies and units
    (16 bytes a tick), so 10,000 products over 100 ticks hold under 20 MB.

    Args:
        replay: the replay whose books, series and rules price the products.
        seconds_per_tick: wall seconds per replay day (> 0).
        start_tick: the replay tick current at ``t0`` (0 … :data:`crawlers.replay.LAST_TICK`).
        n_products: how many products (>= 1); default one per mirror book.
        seed: seed of the clones' ids and series.
        clock: wall clock in epoch seconds; tests pass one they advance by hand.
        started_at: ``t0``; default ``clock()`` at construction.

    Raises:
        ValueError: ``seconds_per_tick`` not a positive finite number, ``start_tick`` negative or
            past :data:`crawlers.replay.LAST_TICK`, or ``n_products`` below 1.
    """

    def __init__(self, replay: MarketReplay, *, seconds_per_tick: float = 2.0, start_tick: int = 0,
                 n_products: int | None = None, seed: int = DEFAULT_SEED,
                 clock: Callable[[], float] = time.time, started_at: float | None = None) -> None:
        if not (math.isfinite(seconds_per_tick) and seconds_per_tick > 0):
            raise ValueError(f"seconds_per_tick must be a positive number, got {seconds_per_tick}")
        if start_tick < 0:
            raise ValueError(f"start_tick must be >= 0, got {start_tick}")
        if start_tick > LAST_TICK:
            raise ValueError(f"start_tick must be <= {LAST_TICK} (9999-12-31, the replay's last day), got {start_tick}")
        books = [replay.books[path] for path in sorted(replay.books)]
        n_products = len(books) if n_products is None else n_products
        if n_products < 1:
            raise ValueError(f"n_products must be >= 1, got {n_products}")
        self.replay = replay
        self.seconds_per_tick = float(seconds_per_tick)
        self.start_tick = start_tick
        self.seed = seed
        self.clock = clock
        self.started_at = clock() if started_at is None else float(started_at)
        self.products = [Product(k, book.path, book.product_id, book, replay.mapping[book.path])
                         for k, book in enumerate(books[:n_products])]
        # A clone never shares its book's series: it would be a copy, not another product.
        others = {book.path: [a for a in replay.asins if a != replay.mapping[book.path]] for book in books}
        for k in range(len(self.products), n_products):
            book = books[k % len(books)]
            slug = book.path.split("/")[1]
            # A str seed is hashed with SHA-512, not hash(): the draw is the same in every process.
            self.products.append(Product(
                k, f"catalogue/{slug}-clone-{k}/index.html",
                hashlib.sha256(f"{seed}:{k}".encode()).hexdigest()[:16], book,
                random.Random(f"{seed}:{k}").choice(others[book.path])))
        self._by_path = {product.path: product for product in self.products}
        self._by_id = {product.product_id: product for product in self.products}
        self._histories: dict[tuple[str, str], _History] = {}
        self._lock = threading.Lock()

    # -- clock ---------------------------------------------------------------------------------

    def wall_of(self, tick: int) -> float:
        """Wall instant (epoch seconds) at which ``tick`` begins.

        Raises:
            ValueError: ``tick`` before ``start_tick``.
        """
        if tick < self.start_tick:
            raise ValueError(f"tick {tick} precedes start_tick {self.start_tick}")
        return self.started_at + (tick - self.start_tick) * self.seconds_per_tick

    def tick_at(self, wall: float) -> int:
        """The tick current at wall instant ``wall`` (epoch seconds): the last one begun by then,
        at most :data:`crawlers.replay.LAST_TICK` (the clock stops there).

        Agrees with :meth:`wall_of` at the boundaries: ``tick_at(wall_of(t)) == t`` up to ``LAST_TICK``.

        Raises:
            ValueError: ``wall`` before the market's start ``t0``.
        """
        if wall < self.started_at:
            raise ValueError(f"wall instant {wall} precedes the market's start {self.started_at}")
        tick = self.start_tick + math.floor((wall - self.started_at) / self.seconds_per_tick)
        # The float quotient can land a hair either side of an integer at a tick's first instant.
        while self.wall_of(tick + 1) <= wall:
            tick += 1
        while tick > self.start_tick and self.wall_of(tick) > wall:
            tick -= 1
        return min(tick, LAST_TICK)

    def current_tick(self) -> int:
        """The tick current on :attr:`clock` now."""
        # A wall clock may step back (NTP): before t0 the market is still at its start.
        return self.tick_at(max(self.clock(), self.started_at))

    # -- products and quotes -------------------------------------------------------------------

    def product(self, key: int | str) -> Product:
        """The product with index ``key`` (int) or product id ``key`` (str).

        Raises:
            KeyError: no such product.
        """
        if isinstance(key, str):
            return self._by_id[key]
        if not 0 <= key < len(self.products):
            raise KeyError(key)
        return self.products[key]

    def quote(self, key: int | str, tick: int) -> Quote:
        """Price and stock of product ``key`` (index or id) at ``tick``.

        Raises:
            KeyError: no such product.
            ValueError: ``tick`` before ``start_tick`` or past :data:`crawlers.replay.LAST_TICK`.
        """
        return self._history(self.product(key), tick).quote(tick - self.start_tick)

    def last_change(self, key: int | str, tick: int) -> int:
        """The last tick at or before ``tick`` where product ``key`` changed; ``start_tick`` if none.

        Raises:
            KeyError: no such product.
            ValueError: ``tick`` before ``start_tick`` or past :data:`crawlers.replay.LAST_TICK`.
        """
        history, index = self._history(self.product(key), tick), tick - self.start_tick
        while index > 0 and not history.changed(index):
            index -= 1
        return self.start_tick + index

    def change_instants(self, key: int | str, until_tick: int) -> list[tuple[int, float]]:
        """``(tick, wall instant)`` of each change of product ``key`` in ``(start_tick, until_tick]``.

        Raises:
            KeyError: no such product.
            ValueError: ``until_tick`` past :data:`crawlers.replay.LAST_TICK`.
        """
        if until_tick <= self.start_tick:
            return []
        history = self._history(self.product(key), until_tick)
        return [(self.start_tick + i, self.wall_of(self.start_tick + i))
                for i in range(1, until_tick - self.start_tick + 1) if history.changed(i)]

    def changes_between(self, since: float, until: float) -> list[Change]:
        """Every product's changes whose instant lies in ``[since, until)`` (epoch seconds).

        Returns:
            :class:`Change` records ordered by tick, then product index; empty when
            ``until <= since``.
        """
        first = self.start_tick + 1
        if since > self.wall_of(first):
            first = self.tick_at(since)
            first += self.wall_of(first) < since
        if until <= self.wall_of(first):
            return []
        last = self.tick_at(until)
        last -= self.wall_of(last) >= until
        histories = [self._history(product, last) for product in self.products]
        quotes: dict[tuple[int, int], Quote] = {}  # one shared object per distinct quote
        changes = []
        for tick in range(first, last + 1):
            i, at = tick - self.start_tick, self.wall_of(tick)
            for product, history in zip(self.products, histories):
                if history.changed(i):
                    key = (history.pennies[i], history.units[i])
                    if key not in quotes:
                        quotes[key] = history.quote(i)
                    changes.append(Change(tick, at, product, quotes[key]))
        return changes

    def _history(self, product: Product, tick: int) -> _History:
        """``product``'s quotes from ``start_tick`` to at least ``tick``; clones sharing a book and
        a series share one history."""
        if tick < self.start_tick:
            raise ValueError(f"tick {tick} precedes start_tick {self.start_tick}")
        if tick > LAST_TICK:
            raise ValueError(f"tick {tick} is past the replay's last day, tick {LAST_TICK}")
        key = (product.source.path, product.asin)
        with self._lock:  # server threads extend histories; two at once would append twice
            history = self._histories.setdefault(key, _History())
            have = self.start_tick + len(history.pennies)
            if have <= tick:
                # Through the end of tick's restock cycle: the next extension then starts on a
                # restock, where the replay's pass starts anyway, so no tick is computed twice.
                stop = min(tick - tick % RESTOCK_DAYS + RESTOCK_DAYS, LAST_TICK + 1)
                for quote in self.replay.quotes(product.source, product.asin, have, stop):
                    history.pennies.append(int(quote.price.scaleb(2)))
                    history.units.append(quote.stock or 0)
        return history

    # -- pages ---------------------------------------------------------------------------------

    def sitemap(self, base_url: str) -> str:
        """Absolute URL of every product under ``base_url`` (ending in ``/``), one a line, by index."""
        return "".join(f"{base_url}{product.path}\n" for product in self.products)

    def page(self, path: str, base_url: str, wall: float | None = None) -> LivePage | None:
        """The page at URL path ``path`` (``/`` optional) as served at ``wall``, None if absent.

        Args:
            path: e.g. ``/catalogue/a-light-in-the-attic_1000/index.html`` or ``/sitemap.txt``.
            base_url: the server's base URL, ending in ``/`` (the sitemap's URLs start with it).
            wall: epoch seconds; default :attr:`clock` now (before ``t0`` counts as ``t0``).
        """
        path = path.lstrip("/")
        if path == SITEMAP:
            return _page(self.sitemap(base_url).encode("utf-8"), "text/plain; charset=utf-8", self.started_at)
        product = self._by_path.get(path)
        if product is None:
            return None
        tick = self.tick_at(max(self.clock() if wall is None else wall, self.started_at))
        changed = self.last_change(product.index, tick)
        body = self.replay.render(changed, product.source.path, self.quote(product.index, changed))
        if product.product_id != product.source.product_id:
            body = _UPC.sub(rb"\g<1>" + product.product_id.encode("ascii") + rb"\g<2>", body, count=1)
        return _page(body, "text/html; charset=utf-8", self.wall_of(changed))


def _page(body: bytes, content_type: str, last_modified: float) -> LivePage:
    return LivePage(body, content_type, f'"{hashlib.sha256(body).hexdigest()}"', last_modified)


def http_date(wall: float) -> str:
    """RFC 7231 HTTP-date of epoch seconds ``wall``, truncated to the second."""
    return format_datetime(datetime.fromtimestamp(math.floor(wall), UTC), usegmt=True)


def not_modified(headers: Message, page: LivePage) -> bool:
    """Whether a GET with request ``headers`` gets 304 for ``page`` (RFC 7232 section 6 order).

    ``If-None-Match`` decides when present (weak comparison, ``*`` matches); otherwise a valid
    ``If-Modified-Since`` at or after the page's Last-Modified second does. An unparsable date
    is ignored, as RFC 7232 asks.
    """
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or page.etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:  # "-0000": UTC by RFC 5322
        since = since.replace(tzinfo=UTC)
    return since.timestamp() >= math.floor(page.last_modified)


class _LiveHandler(KeepAliveHandler):
    """Serves :attr:`market`'s pages with conditional GET; :func:`serve_live_market` binds it."""

    market: LiveMarket

    def do_GET(self) -> None:
        host, port = self.server.server_address[:2]
        page = self.market.page(urlsplit(self.path).path, f"http://{host}:{port}/")
        if page is None:
            self.send_not_found()
            return
        validators = [("ETag", page.etag), ("Last-Modified", http_date(page.last_modified)),
                      ("Cache-Control", "no-cache")]
        if not not_modified(self.headers, page):
            self.send_body(200, page.body, page.content_type, validators)
            return
        self.send_response(304)
        for name, value in validators:
            self.send_header(name, value)
        self.end_headers()


@contextmanager
def serve_live_market(market: LiveMarket) -> Iterator[str]:
    """Serve ``market`` on 127.0.0.1 at a free port for the ``with`` block.

    HTTP/1.1 with persistent connections and Nagle off, as :func:`crawlers.replay.serve_replay`.

    Yields:
        Base URL ending in ``/``; ``f"{base}sitemap.txt"`` lists the product URLs.
    """
    handler = type("BoundLiveHandler", (_LiveHandler,), {"market": market})
    with serve_in_thread(handler, "live-market") as base:
        yield base
