"""Market replay: the books mirror served over loopback HTTP with prices and stock moving in time.

The books mirror is a snapshot: every crawl of it sees the same prices. The replay drives each
book's price with a real Amazon.co.jp price history (``price_history_amazon_jp``), so repeated
harvests see genuine drops, spikes and sales, one harvest partition per simulated tick.

Rules (all deterministic for a given seed and data folder):

- **Books**: the mirror's detail pages (``catalogue/<slug>/index.html``), sorted by that path.
  Base price and base stock are the page's own "Price (incl. tax)" and "In stock (N available)".
- **Series**: ASINs observed on or before :data:`SERIES_START` and after it, sorted by ASIN.
  A series' value at time ``T`` is its last observation at or before ``T`` (after its last
  observation the price holds).
- **Mapping**: the sorted ASINs are shuffled by ``random.Random(seed).sample``; book ``i`` of the
  sorted books gets ASIN ``i mod n_asins`` of the shuffled list (more books than series, so some
  series drive several books).
- **Time**: tick ``t`` (0, 1, 2, … :data:`LAST_TICK`) is the instant ``SERIES_START + t × TICK``
  (daily steps); the last is 9999-12-31, the last day a ``datetime`` holds.
- **Price**: ``price_t = base_price × series_t / series_0``, rounded half-up to pennies (£).
- **Stock**: sells down and is restocked. Every :data:`RESTOCK_DAYS` ticks (tick 0 included, so
  tick 0 is the snapshot) the book is restocked to its base stock; each day k after that sells
  ``base_stock / DAYS_OF_SUPPLY × series_0 / series_k`` units (demand with unit price elasticity:
  a discount sells faster, a mark-up slower), and
  ``stock_t = max(0, round_half_up(base_stock − Σ sales since the restock))``; 0 units is
  "Out of stock". Deterministic, no random walk: low stock and stock-outs recur every cycle, which
  the urgent_inventory decision learns from.

URLs: ``/tick/<t>/<mirror path>``, e.g. ``http://127.0.0.1:PORT/tick/3/index.html`` starts a crawl
of tick 3; the mirror's relative links keep the crawl inside the tick. Detail pages have their
headline price, price table rows and availability rewritten; listing pages and the "recently
viewed" boxes have each product's price and in/out-of-stock text rewritten. Paths missing from the
mirror, ticks past :data:`LAST_TICK`, and anything outside ``/tick/<t>/``, are 404 (there is no
robots.txt).
:mod:`crawlers.live_market` serves the same market on a wall clock at stable URLs.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import posixpath
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from crawlers.parsing import parse_book_detail
from crawlers.static_site import KeepAliveHandler, serve_in_thread

SERIES_START = datetime(2024, 6, 1, tzinfo=timezone.utc)  # tick 0
TICK = timedelta(days=1)
# The last tick a datetime can hold (9999-12-31): past it every page would fail with OverflowError.
LAST_TICK = (datetime.max.replace(tzinfo=timezone.utc) - SERIES_START) // TICK
DEFAULT_SEED = 20240601
RESTOCK_DAYS = 10
DAYS_OF_SUPPLY = Decimal(8)
PENNY = Decimal("0.01")

MIRROR = Path("books_toscrape") / "site"
OBSERVATIONS = Path("price_history_amazon_jp") / "observations.csv.gz"

_TICK_URL = re.compile(r"^/tick/(\d+)/([^?#]*)")
_POD = re.compile(r'<article class="product_pod">.*?</article>', re.S)
_POD_LINK = re.compile(r'<h3><a href="([^"]+)"')
_PRICE = re.compile(r'(<p class="price_color">)£[\d.]+(</p>)')
_TABLE_PRICE = re.compile(r"(<th>Price \((?:excl|incl)\. tax\)</th><td>)£[\d.]+(</td>)")
_TABLE_STOCK = re.compile(r"(<th>Availability</th>\s*<td>)In stock \(\d+ available\)(</td>)")
_STOCK_P = re.compile(r'(<p class=")instock( availability">\s*<i class=")icon-ok("></i>\s*)'
                      r"In stock(?: \(\d+ available\))?(\s*</p>)")


@dataclass(frozen=True)
class Book:
    """One book of the mirror as the snapshot shows it.

    Attributes:
        path: mirror path, e.g. ``catalogue/a-light-in-the-attic_1000/index.html``.
        product_id: the page's UPC (what harvested records carry as ``product_id``).
        base_price: "Price (incl. tax)" in GBP.
        base_stock: units "available" on the snapshot page.
    """

    path: str
    product_id: str
    base_price: Decimal
    base_stock: int


@dataclass(frozen=True)
class Quote:
    """What the shop shows for one book at one tick: price in GBP, units in stock (None = out)."""

    price: Decimal
    stock: int | None


class PriceSeries:
    """One ASIN's observations: UTC instants (ascending) and integer JPY prices."""

    def __init__(self, times: list[datetime], prices: list[int]) -> None:
        self.times = times
        self.prices = prices

    def at(self, when: datetime) -> int:
        """Last observed price at or before ``when``.

        Raises:
            ValueError: ``when`` precedes the first observation.
        """
        index = bisect.bisect_right(self.times, when)
        if index == 0:
            raise ValueError(f"no observation at or before {when.isoformat()}")
        return self.prices[index - 1]


def load_series(path: Path) -> dict[str, PriceSeries]:
    """ASIN → :class:`PriceSeries` from ``observations.csv.gz`` (timestamp, asin, price)."""
    rows: dict[str, list[tuple[datetime, int]]] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["asin"], []).append(
                (datetime.fromisoformat(row["timestamp"]), int(row["price"])))
    series = {}
    for asin, observations in rows.items():
        observations.sort()
        series[asin] = PriceSeries([t for t, _ in observations], [p for _, p in observations])
    return series


class MarketReplay:
    """Books, their series and the pages of every tick (rules in the module docstring).

    Args:
        data_dir: the shared data folder (``books_toscrape``, ``price_history_amazon_jp``).
        seed: seed of the book → series mapping.

    Raises:
        FileNotFoundError: the mirror or the observations file is missing.
    """

    def __init__(self, data_dir: Path, seed: int = DEFAULT_SEED) -> None:
        data_dir = Path(data_dir)
        self.seed = seed
        self.site = (data_dir / MIRROR).resolve()
        if not self.site.is_dir():
            raise FileNotFoundError(f"books mirror not found: {self.site}")
        # The mirror is ~10 MB: held in memory, every page is rendered from it per request.
        self.files = {p.relative_to(self.site).as_posix(): p.read_text("utf-8")
                      for p in sorted(self.site.rglob("*.html"))}
        self.books: dict[str, Book] = {}
        for path, html in self.files.items():
            if path.startswith("catalogue/") and path.endswith("/index.html"):
                fields = parse_book_detail(html, path)
                self.books[path] = Book(path, fields["product_id"], fields["price"],
                                        fields["stock_count"])
        all_series = load_series(data_dir / OBSERVATIONS)
        self.asins = sorted(a for a, s in all_series.items()
                            if s.times[0] <= SERIES_START < s.times[-1])
        shuffled = random.Random(seed).sample(self.asins, k=len(self.asins))
        self.mapping: dict[str, str] = {path: shuffled[i % len(shuffled)]
                                        for i, path in enumerate(sorted(self.books))}
        # Every eligible series, mapped or not: a live market's clones draw on the unmapped ones.
        self.series = {asin: all_series[asin] for asin in self.asins}
        self._ratios: dict[tuple[str, int], Decimal] = {}

    @staticmethod
    def timestamp(tick: int) -> datetime:
        """The real instant tick ``tick`` replays (UTC).

        Raises:
            ValueError: negative tick, or one past :data:`LAST_TICK`.
        """
        if not 0 <= tick <= LAST_TICK:
            raise ValueError(f"tick must be in 0..{LAST_TICK}, got {tick}")
        return SERIES_START + tick * TICK

    def ratio(self, asin: str, tick: int) -> Decimal:
        """``series_t / series_0`` of the series ``asin`` (exact decimal quotient).

        Raises:
            KeyError: ``asin`` is not an eligible series (:attr:`asins`).
            ValueError: negative tick, or one past :data:`LAST_TICK`.
        """
        key = (asin, tick)
        if key not in self._ratios:
            # Memoised: every book and clone on a series divides by the same prices at each tick.
            series = self.series[asin]
            self._ratios[key] = (Decimal(series.at(self.timestamp(tick)))
                                 / Decimal(series.at(SERIES_START)))
        return self._ratios[key]

    def quote(self, path: str, tick: int) -> Quote:
        """Price and stock of the book at ``path`` at ``tick``.

        Raises:
            KeyError: ``path`` is not a book of the mirror.
            ValueError: negative tick, or one past :data:`LAST_TICK`.
        """
        return next(self.quotes(self.books[path], self.mapping[path], tick, tick + 1))

    def quotes(self, book: Book, asin: str, start: int, stop: int) -> Iterator[Quote]:
        """Quotes of ``book`` priced by the series ``asin`` at ticks ``start, …, stop - 1``.

        A mirror book's own quotes take its mapped ASIN (:meth:`quote`); another eligible ASIN
        prices a copy of the book on another series. One pass from the restock at or before
        ``start``, so a run of ticks costs about one tick each.

        Raises:
            KeyError: ``asin`` is not an eligible series (:attr:`asins`).
            ValueError: negative ``start``, or ``stop`` past ``LAST_TICK + 1``.
        """
        if start < 0:
            raise ValueError(f"tick must be >= 0, got {start}")
        sold: Decimal | int = 0
        for tick in range(start - start % RESTOCK_DAYS, stop):
            ratio = self.ratio(asin, tick)
            # The running sum adds day by day in the order sum() would: the same Decimal roundings.
            sold = 0 if tick % RESTOCK_DAYS == 0 else sold + book.base_stock / DAYS_OF_SUPPLY / ratio
            if tick >= start:
                price = (book.base_price * ratio).quantize(PENNY, ROUND_HALF_UP)
                units = max(0, int((Decimal(book.base_stock) - sold).to_integral_value(ROUND_HALF_UP)))
                yield Quote(price, units or None)

    def prices(self, tick: int) -> dict[str, Decimal]:
        """Product id (UPC) → price in GBP of every book at ``tick``."""
        return {book.product_id: self.quote(path, tick).price for path, book in self.books.items()}

    def listings(self) -> dict[str, list[str]]:
        """Listing pages → the mirror books each shows with a price and an in/out-of-stock flag.

        Returns:
            ``{listing path: [book path, …]}`` in page order, for every mirror page that is not a
            book's and shows at least one mirror book (``index.html``, ``catalogue/page-N.html``).
        """
        shown: dict[str, list[str]] = {}
        for path, html in self.files.items():
            if path in self.books:
                continue
            folder = posixpath.dirname(path)
            links = (_POD_LINK.search(match.group(0)) for match in _POD.finditer(html))
            books = [target for link in links if link
                     for target in [posixpath.normpath(posixpath.join(folder, link.group(1)))] if target in self.books]
            if books:
                shown[path] = books
        return shown

    def render(self, tick: int, path: str, main: Quote | None = None) -> bytes | None:
        """The page at mirror ``path`` as the shop shows it at ``tick`` (UTF-8), None if absent.

        Args:
            tick: the tick whose quotes the page shows.
            path: mirror path of the page.
            main: on a detail page, the quote its product shows instead of the book's own at
                ``tick`` (a live market's clone of the book shows its own series' quote).
        """
        html = self.files.get(path)
        if html is None:
            return None
        folder = posixpath.dirname(path)

        def pod(match: re.Match[str]) -> str:
            link = _POD_LINK.search(match.group(0))
            target = posixpath.normpath(posixpath.join(folder, link.group(1))) if link else ""
            if target not in self.books:
                return match.group(0)
            quote = self.quote(target, tick)
            text = _PRICE.sub(rf"\g<1>£{quote.price}\g<2>", match.group(0))
            return _STOCK_P.sub(_availability_p(quote, with_count=False), text)

        if path in self.books:
            quote = main if main is not None else self.quote(path, tick)
            split = html.index('class="col-sm-6 product_main"')
            head, tail = html[:split], html[split:]
            tail = _PRICE.sub(rf"\g<1>£{quote.price}\g<2>", tail, count=1)
            tail = _STOCK_P.sub(_availability_p(quote, with_count=True), tail, count=1)
            tail = _TABLE_PRICE.sub(rf"\g<1>£{quote.price}\g<2>", tail)
            tail = _TABLE_STOCK.sub(rf"\g<1>{_availability_text(quote, True)}\g<2>", tail)
            html = head + tail
        return _POD.sub(pod, html).encode("utf-8")


def _availability_text(quote: Quote, with_count: bool) -> str:
    if quote.stock is None:
        return "Out of stock"
    return f"In stock ({quote.stock} available)" if with_count else "In stock"


def _availability_p(quote: Quote, *, with_count: bool) -> Callable[[re.Match[str]], str]:
    """Replacement for :data:`_STOCK_P`: django-oscar's in/out-of-stock class, icon and text."""
    if quote.stock is None:
        parts = ("outofstock", "icon-remove", "Out of stock")
    else:
        parts = ("instock", "icon-ok", _availability_text(quote, with_count))

    def replace(match: re.Match[str]) -> str:
        lead, mid, icon_end, end = match.groups()
        return f"{lead}{parts[0]}{mid}{parts[1]}{icon_end}{parts[2]}{end}"

    return replace


class _ReplayHandler(KeepAliveHandler):
    """Serves ``/tick/<t>/<path>`` from :attr:`replay`; :func:`serve_replay` binds it."""

    replay: MarketReplay
    latency_s: float = 0.0

    def do_GET(self) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)
        match = _TICK_URL.match(self.path)
        tick = int(match.group(1)) if match else LAST_TICK + 1
        body = self.replay.render(tick, match.group(2)) if tick <= LAST_TICK else None
        if body is None:
            self.send_not_found()
        else:
            self.send_body(200, body)


@contextmanager
def serve_replay(replay: MarketReplay, latency_s: float = 0.0) -> Iterator[str]:
    """Serve the market replay on 127.0.0.1 at a free port for the ``with`` block.

    Args:
        replay: the replay to serve.
        latency_s: seconds each response waits before it is sent (default 0), to stand in for a
            remote shop's time to first byte; every connection has its own thread, so waits
            overlap as they would on a real server.

    Yields:
        Base URL ending in ``/``; tick ``t`` starts at ``f"{base}tick/{t}/index.html"``.

    Raises:
        ValueError: ``latency_s`` is negative.
    """
    if latency_s < 0:
        raise ValueError(f"latency_s must be >= 0, got {latency_s}")
    handler = type("BoundReplayHandler", (_ReplayHandler,),
                   {"replay": replay, "latency_s": latency_s})
    with serve_in_thread(handler, "market-replay") as base:
        yield base


def replay_prices(tick: int, data_dir: Path | None = None, seed: int = DEFAULT_SEED
                  ) -> dict[str, Decimal]:
    """Product id (UPC) → price in GBP of every mirror book at ``tick`` (:class:`MarketReplay`).

    Builds a fresh :class:`MarketReplay` (about a second); hold one and call ``prices`` to ask
    for many ticks.
    """
    return MarketReplay(data_dir, seed).prices(tick)
