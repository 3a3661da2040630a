"""Live market: stable product URLs on a hand-driven clock, conditional GET, ground-truth changes.

Quotes come from :meth:`MarketReplay.quote` (``test_replay`` checks it against the raw series);
change ticks, their instants and HTTP-dates, clone ids and clone series are recomputed here from
the rules of the :mod:`crawlers.live_market` docstring, independently of its code.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import time
import urllib.parse
from datetime import date
from pathlib import Path

import pytest

from crawlers.live_market import LiveMarket, serve_live_market
from crawlers.parsing import parse_book_detail
from crawlers.replay import MarketReplay

pytestmark = pytest.mark.slow  # starts servers

SEED = 11
T0 = 1_700_000_000.25  # a fraction of a second past a whole second: HTTP-dates truncate it
SECONDS_PER_TICK = 2.0
ATTIC = "catalogue/a-light-in-the-attic_1000/index.html"
LAST_DAY = (date(9999, 12, 31) - date(2024, 6, 1)).days  # the last tick a datetime can hold


class HandClock:
    """A wall clock the test moves: ``clock.now`` epoch seconds."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def replay(data_dir: Path) -> MarketReplay:
    return MarketReplay(data_dir, seed=SEED)


@pytest.fixture(scope="module")
def books(data_dir: Path) -> list[str]:
    site = data_dir / "books_toscrape" / "site"
    return sorted(p.relative_to(site).as_posix() for p in site.glob("catalogue/*/index.html"))


@pytest.fixture(scope="module")
def changes(replay, books) -> dict[str, list[int]]:
    """Book path → its change ticks in (0, 60], by brute force."""
    return {path: change_ticks(replay, path, 60) for path in books}


def last_change(changes: dict[str, list[int]], path: str, tick: int) -> int:
    return max([0] + [t for t in changes[path] if t <= tick])


@pytest.fixture
def clock() -> HandClock:
    return HandClock(T0)


def make_market(replay: MarketReplay, clock: HandClock, **kwargs) -> LiveMarket:
    return LiveMarket(replay, seconds_per_tick=SECONDS_PER_TICK, seed=SEED, clock=clock, **kwargs)


def at_tick(tick: float) -> float:
    """Wall instant ``tick`` ticks after T0 (fractions land inside a tick)."""
    return T0 + tick * SECONDS_PER_TICK


def http_date(wall: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(wall))


def change_ticks(replay: MarketReplay, path: str, until: int, start: int = 0) -> list[int]:
    """Ticks in (start, until] where the book's quote differs from the tick before (brute force)."""
    quotes = [replay.quote(path, t) for t in range(start, until + 1)]
    return [start + i for i in range(1, len(quotes)) if quotes[i] != quotes[i - 1]]


def expected_clone_asin(replay: MarketReplay, source: str, k: int) -> str:
    return random.Random(f"{SEED}:{k}").choice([a for a in replay.asins if a != replay.mapping[source]])


def get(connection: http.client.HTTPConnection, path: str, **headers: str
        ) -> tuple[int, dict[str, str], bytes]:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


@pytest.fixture
def connect():
    """Opens one keep-alive connection to a base URL; closes it after the test."""
    connections = []

    def open_(base: str) -> http.client.HTTPConnection:
        parts = urllib.parse.urlsplit(base)
        connections.append(http.client.HTTPConnection(parts.hostname, parts.port, timeout=20))
        return connections[-1]

    yield open_
    for connection in connections:
        connection.close()


def test_product_page_shows_the_replay_quote_of_the_current_tick(replay, books, changes, clock, connect):
    """The stable URL follows the clock: the quote changes at the tick's first instant, and the
    page is the replay's own rendering of that tick."""
    market = make_market(replay, clock)
    moves = [t for t in range(1, 20) if replay.quote(ATTIC, t).price != replay.quote(ATTIC, t - 1).price]
    assert moves, "A Light in the Attic's price should move in the first ticks"
    moved = moves[0]
    with serve_live_market(market) as base:
        connection = connect(base)
        seen = {}
        for wall, tick in ((at_tick(0.3), 0), (at_tick(moved) - 0.001, moved - 1), (at_tick(moved), moved),
                           (at_tick(moved + 0.99), moved)):
            clock.now = wall
            status, _, body = get(connection, "/" + ATTIC)
            assert status == 200
            fields = parse_book_detail(body, base + ATTIC)
            quote = replay.quote(ATTIC, tick)
            assert (fields["price"], fields["stock_count"]) == (quote.price, quote.stock), tick
            assert fields["product_id"] == replay.books[ATTIC].product_id
            assert body == replay.render(last_change(changes, ATTIC, tick), ATTIC)
            seen[tick] = fields["price"]
    assert seen[moved] != seen[moved - 1]
    assert market.product(0).path == books[0] and "tick" not in "".join(p.path for p in market.products)


def test_a_page_changes_exactly_when_its_quote_does(replay, books, changes, clock, connect):
    """Between two changes of its own quote a page keeps its bytes and its ETag, although other
    books (its "recently viewed" box) move; If-None-Match answers 304, a change a new 200."""
    market = make_market(replay, clock)
    path, still = next((path, t) for path in books for t in range(2, 30) if t not in changes[path]
                       and replay.render(t, path) != replay.render(t - 1, path))
    changed = last_change(changes, path, still)
    with serve_live_market(market) as base:
        connection = connect(base)
        clock.now = at_tick(still - 0.5)
        status, first, body = get(connection, "/" + path)
        assert status == 200 and body == replay.render(changed, path)
        clock.now = at_tick(still + 0.5)
        status, headers, again = get(connection, "/" + path)
        assert status == 200 and again == body and headers["ETag"] == first["ETag"]
        status, headers, empty = get(connection, "/" + path, **{"If-None-Match": first["ETag"]})
        assert (status, empty, headers["ETag"]) == (304, b"", first["ETag"])
        assert headers["Last-Modified"] == http_date(at_tick(changed))
        following = next(t for t in changes[path] if t > still)
        clock.now = at_tick(following)
        status, headers, body = get(connection, "/" + path, **{"If-None-Match": first["ETag"]})
        assert status == 200 and headers["ETag"] != first["ETag"]
        assert headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        fields = parse_book_detail(body, base + path)
        quote = replay.quote(path, following)
        assert (fields["price"], fields["stock_count"]) == (quote.price, quote.stock)
        assert headers["Last-Modified"] == http_date(at_tick(following))


def test_last_modified_and_if_modified_since(replay, books, changes, clock, connect):
    """Last-Modified is the HTTP-date of the last change's first instant, t0 before any change;
    If-Modified-Since at or after it answers 304, earlier 200; If-None-Match takes precedence."""
    market = make_market(replay, clock)
    # a book whose quote last changed at least two ticks before tick `now`
    book, now = next((path, t) for path in books for t in range(3, 40)
                     if 0 < last_change(changes, path, t) <= t - 2)
    changed, path = last_change(changes, book, now), "/" + book
    with serve_live_market(market) as base:
        connection = connect(base)
        clock.now = at_tick(0.7)
        status, headers, _ = get(connection, path)
        assert (status, headers["Last-Modified"]) == (200, http_date(T0))
        clock.now = at_tick(now + 0.5)
        status, headers, _ = get(connection, path)
        last_modified = headers["Last-Modified"]
        assert last_modified == http_date(at_tick(changed)) != http_date(at_tick(now))
        assert get(connection, path, **{"If-Modified-Since": last_modified})[0] == 304
        later = http_date(at_tick(now))
        assert get(connection, path, **{"If-Modified-Since": later})[0] == 304
        earlier = http_date(at_tick(changed) - 1)
        assert get(connection, path, **{"If-Modified-Since": earlier})[0] == 200
        assert get(connection, path, **{"If-Modified-Since": "not a date"})[0] == 200
        assert get(connection, path, **{"If-None-Match": '"other"', "If-Modified-Since": last_modified})[0] == 200
        assert get(connection, path, **{"If-None-Match": "*"})[0] == 304
        weak = "W/" + headers["ETag"]
        assert get(connection, path, **{"If-None-Match": f'"other", {weak}'})[0] == 304


def test_change_instants_match_consecutive_quotes(replay, books, changes, clock):
    market = make_market(replay, clock)
    for index, path in enumerate(books):
        expected = [(t, at_tick(t)) for t in changes[path] if t <= 40]
        assert market.change_instants(index, 40) == expected, path
    attic = books.index(ATTIC)
    assert market.change_instants(replay.books[ATTIC].product_id, 40) == market.change_instants(attic, 40)
    assert market.change_instants(attic, 0) == []

    later = make_market(replay, clock, start_tick=25)
    assert later.change_instants(attic, 40) == [
        (t, T0 + (t - 25) * SECONDS_PER_TICK) for t in change_ticks(replay, ATTIC, 40, start=25)]
    assert later.tick_at(T0) == 25 and later.wall_of(26) == T0 + SECONDS_PER_TICK

    # all products' changes in a window of instants: half-open, by tick then product
    window = market.changes_between(at_tick(3) - 0.1, at_tick(6))
    expected = [(t, path) for t in (3, 4, 5) for path in books if t in changes[path]]
    assert [(c.tick, c.product.path) for c in window] == expected
    assert all(c.at == at_tick(c.tick) and c.quote == replay.quote(c.product.path, c.tick) for c in window)
    assert market.changes_between(at_tick(3) + 0.1, at_tick(6) + 0.1)[0].tick == 4
    assert market.changes_between(at_tick(5), at_tick(5)) == []


def test_clock_boundaries(replay):
    """tick_at is the last tick begun: exact at every boundary despite float rounding."""
    clock = HandClock(1_700_000_000.3)
    market = LiveMarket(replay, seconds_per_tick=0.1, start_tick=7, clock=clock)
    for tick in range(7, 500):
        wall = market.wall_of(tick)
        assert wall == pytest.approx(1_700_000_000.3 + (tick - 7) * 0.1, abs=1e-6)
        assert market.tick_at(wall) == tick
        assert market.tick_at(wall + 0.05) == tick
    clock.now = 1_700_000_000.3 - 5  # a clock stepped back: still the start
    assert market.current_tick() == 7
    with pytest.raises(ValueError, match="precedes the market's start"):
        market.tick_at(1_700_000_000.2)
    with pytest.raises(ValueError, match="precedes start_tick"):
        market.wall_of(6)


def test_clones_have_their_own_ids_and_series(replay, books, clock, connect):
    n_books = len(books)
    market = make_market(replay, clock, n_products=3 * n_books)
    clones = market.products[n_books:]
    ids = [p.product_id for p in clones]
    assert ids == [hashlib.sha256(f"{SEED}:{k}".encode()).hexdigest()[:16] for k in range(n_books, 3 * n_books)]
    assert len(set(ids)) == len(ids) and not set(ids) & {b.product_id for b in replay.books.values()}
    assert ids == [p.product_id for p in make_market(replay, clock, n_products=3 * n_books).products[n_books:]]
    other_seed = LiveMarket(replay, n_products=3 * n_books, seed=SEED + 1, clock=clock).products[n_books:]
    assert not set(ids) & {p.product_id for p in other_seed}

    differs = 0
    for clone in clones:
        source = books[clone.index % n_books]
        slug = source.split("/")[1]
        assert clone.path == f"catalogue/{slug}-clone-{clone.index}/index.html"
        asin = expected_clone_asin(replay, source, clone.index)
        assert clone.asin == asin != replay.mapping[source]
        ticks = range(15)
        own = [market.quote(clone.index, t) for t in ticks]
        assert own == list(replay.quotes(replay.books[source], asin, 0, 15))
        differs += [q.price for q in own] != [replay.quote(source, t).price for t in ticks]
    assert differs > 0.8 * len(clones)

    with serve_live_market(market) as base:
        connection = connect(base)
        clock.now = at_tick(4.5)
        for clone in clones[::37]:
            status, _, body = get(connection, "/" + clone.path)
            assert status == 200
            fields = parse_book_detail(body, base + clone.path)
            source = parse_book_detail(replay.files[books[clone.index % n_books]], "source")
            quote = market.quote(clone.product_id, 4)
            assert fields["product_id"] == clone.product_id
            assert fields["title"] == source["title"]
            assert (fields["price"], fields["stock_count"]) == (quote.price, quote.stock)


def test_sitemap_and_404s(replay, books, clock, connect):
    market = make_market(replay, clock, n_products=len(books) + 5)
    with serve_live_market(market) as base:
        connection = connect(base)
        status, headers, body = get(connection, "/sitemap.txt")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        urls = body.decode("utf-8").splitlines()
        assert len(urls) == len(books) + 5
        assert urls[:len(books)] == [base + path for path in books]
        assert urls[len(books):] == [f"{base}catalogue/{books[k - len(books)].split('/')[1]}-clone-{k}/index.html"
                                     for k in range(len(books), len(books) + 5)]
        assert get(connection, "/sitemap.txt", **{"If-None-Match": headers["ETag"]})[0] == 304
        assert headers["Last-Modified"] == http_date(T0)
        for missing in ("/tick/0/" + ATTIC, "/index.html", "/catalogue/no-such-book/index.html",
                        f"/catalogue/{books[0].split('/')[1]}-clone-{len(books) + 5}/index.html"):
            assert get(connection, missing)[0] == 404, missing
        assert get(connection, urllib.parse.urlsplit(urls[-1]).path)[0] == 200  # same connection after 404s

    few = make_market(replay, clock, n_products=5)
    assert few.sitemap("http://shop/") == "".join(f"http://shop/{path}\n" for path in books[:5])
    assert few.page("/" + books[5], "http://shop/") is None


def test_the_clock_stops_on_the_last_day(replay, clock, connect):
    """A market started near 9999-12-31 serves every page past it, frozen at the last day."""
    market = make_market(replay, clock, start_tick=LAST_DAY - 3)
    with serve_live_market(market) as base:
        connection = connect(base)
        paths = [urllib.parse.urlsplit(url).path for url in get(connection, "/sitemap.txt")[2].decode().split()]
        for ticks in (2, 3, 50):
            clock.now = at_tick(ticks)
            assert market.current_tick() == min(LAST_DAY - 3 + ticks, LAST_DAY)
            statuses = [get(connection, path)[0] for path in paths]
            assert statuses == [200] * len(paths)
    assert market.quote(0, LAST_DAY) == replay.quote(market.products[0].path, LAST_DAY)
    with pytest.raises(ValueError, match=f"past the replay's last day, tick {LAST_DAY}"):
        market.quote(0, LAST_DAY + 1)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seconds_per_tick": 0}, "seconds_per_tick must be a positive number"),
    ({"seconds_per_tick": -1.5}, "seconds_per_tick must be a positive number"),
    ({"seconds_per_tick": float("nan")}, "seconds_per_tick must be a positive number"),
    ({"start_tick": -1}, "start_tick must be >= 0"),
    ({"start_tick": LAST_DAY + 1}, f"start_tick must be <= {LAST_DAY}"),
    ({"start_tick": 999_999_999}, f"start_tick must be <= {LAST_DAY}"),
    ({"n_products": 0}, "n_products must be >= 1"),
])
def test_bad_arguments_are_refused(replay, kwargs, message):
    with pytest.raises(ValueError, match=message):
        LiveMarket(replay, **kwargs)


def test_ten_thousand_products(replay, books, changes, clock):
    """Construction and every product's change instants to tick 60 at 10,000 products."""
    market = make_market(replay, clock, n_products=10_000)
    assert len({p.product_id for p in market.products}) == 10_000
    instants = [market.change_instants(k, 60) for k in range(10_000)]
    assert instants[books.index(ATTIC)] == [(t, at_tick(t)) for t in changes[ATTIC]]
    assert sum(map(len, instants)) == len(market.changes_between(T0, at_tick(60) + 0.5))
