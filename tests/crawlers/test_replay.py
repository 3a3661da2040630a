"""Market replay: crawls of two ticks see the prices the real Amazon series dictate.

Expected prices and stock are recomputed here from ``observations.csv.gz`` and the mirror's pages
with the rules of the :mod:`crawlers.replay` docstring, independently of its code.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import http.client
import json
import random
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from crawlers.replay import MarketReplay, replay_prices, serve_replay

pytestmark = pytest.mark.slow  # trains models, crawls or starts processes

REPO = Path(__file__).resolve().parents[2]
SEED = 11
START = datetime(2024, 6, 1, tzinfo=timezone.utc)
ATTIC = "catalogue/a-light-in-the-attic_1000/index.html"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def observations(data_dir: Path) -> dict[str, list[tuple[datetime, int]]]:
    series: dict[str, list[tuple[datetime, int]]] = {}
    with gzip.open(data_dir / "price_history_amazon_jp" / "observations.csv.gz", "rt",
                   encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            series.setdefault(row["asin"], []).append(
                (datetime.fromisoformat(row["timestamp"]), int(row["price"])))
    return {asin: sorted(obs) for asin, obs in series.items()}


@pytest.fixture(scope="module")
def replay(data_dir: Path) -> MarketReplay:
    return MarketReplay(data_dir, seed=SEED)


def expected_quote(data_dir: Path, observations: dict, asin: str, path: str, tick: int
                   ) -> tuple[str, int | None]:
    """(price as text, stock or None when out) per the documented rules."""
    def at(when: datetime) -> int:
        return [price for t, price in observations[asin] if t <= when][-1]

    html = (data_dir / "books_toscrape" / "site" / path).read_text("utf-8")
    base = Decimal(re.search(r"<th>Price \(incl\. tax\)</th><td>£([\d.]+)</td>", html).group(1))
    stock = int(re.search(r"In stock \((\d+) available\)", html).group(1))
    def ratio(day: int) -> Decimal:
        return Decimal(at(START + timedelta(days=day))) / Decimal(at(START))

    price = (base * ratio(tick)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    restocked = tick - tick % 10
    sold = sum(Decimal(stock) / 8 / ratio(day) for day in range(restocked + 1, tick + 1))
    units = max(0, int((Decimal(stock) - sold).to_integral_value(ROUND_HALF_UP)))
    return str(price), units or None


def test_mapping_follows_the_documented_rule(replay, observations, data_dir):
    """Sorted books × sorted eligible ASINs shuffled with the seed; another seed, another map."""
    site = data_dir / "books_toscrape" / "site"
    books = sorted(p.relative_to(site).as_posix() for p in site.glob("catalogue/*/index.html"))
    asins = sorted(a for a, obs in observations.items() if obs[0][0] <= START < obs[-1][0])
    shuffled = random.Random(SEED).sample(asins, k=len(asins))
    assert replay.mapping == {path: shuffled[i % len(asins)] for i, path in enumerate(books)}
    assert len(books) == 143 and len(asins) == 74
    other = MarketReplay(data_dir, seed=SEED + 1)
    assert other.mapping != replay.mapping and other.books == replay.books


@pytest.fixture(scope="module")
def two_ticks(replay, observations, data_dir, tmp_path_factory) -> dict:
    """Crawls (20 requests) of tick 0 and of the first tick where A Light in the Attic's price moves."""
    asin = replay.mapping[ATTIC]
    later = next(t for t in range(1, 60) if expected_quote(data_dir, observations, asin, ATTIC, t)[0]
                 != expected_quote(data_dir, observations, asin, ATTIC, 0)[0])
    crawls = {}
    with serve_replay(replay) as base:
        for tick in (0, later):
            out = tmp_path_factory.mktemp(f"tick{tick}")
            proc = subprocess.run(
                [sys.executable, "-m", "edge_insights", "crawl",
                 "--start-url", f"{base}tick/{tick}/index.html", "--out", str(out),
                 "--crawl-id", f"tick-{tick}", "--max-pages", "20",
                 "--set", "AUTOTHROTTLE_START_DELAY=0"],
                cwd=REPO, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr[-3000:]
            crawls[tick] = {"items": {it["url"].split(f"/tick/{tick}/")[1]: it
                                      for it in read_jsonl(out / "items.jsonl")},
                            "quarantine": read_jsonl(out / "quarantine.jsonl")}
        listing = urllib.request.urlopen(f"{base}tick/{later}/index.html").read().decode()
        missing = urllib.request.Request(f"{base}catalogue/a-light-in-the-attic_1000/index.html")
        with pytest.raises(urllib.error.HTTPError) as outside:
            urllib.request.urlopen(missing)
    return {"later": later, "crawls": crawls, "listing": listing, "outside": outside.value.code}


def test_prices_and_stock_follow_the_mapped_series(two_ticks, replay, observations, data_dir):
    crawls, later = two_ticks["crawls"], two_ticks["later"]
    assert crawls[0]["items"].keys() == crawls[later]["items"].keys()
    assert len(crawls[0]["items"]) == 12
    for tick, crawl in crawls.items():
        for path, item in crawl["items"].items():
            price, stock = expected_quote(data_dir, observations, replay.mapping[path], path, tick)
            assert (item["price"], item["stock_count"]) == (price, stock), (tick, path)
            assert item["availability"] == ("in_stock" if stock else "out_of_stock")
    attic = [crawls[t]["items"][ATTIC] for t in (0, later)]
    assert attic[0]["price"] == "51.77" and attic[0]["stock_count"] == 22
    assert attic[1]["price"] != "51.77"
    prices = replay_prices(later, data_dir, SEED)
    assert prices[attic[1]["product_id"]] == Decimal(attic[1]["price"])
    # the listing page shows the moved price too
    assert f"£{attic[1]['price']}</p>" in two_ticks["listing"]


def test_digests_change_exactly_with_the_page(two_ticks, replay):
    """The record's digest moves with its price or stock; the response digest with the page,
    which also shows other books' prices in its "recently viewed" box."""
    crawls, later = two_ticks["crawls"], two_ticks["later"]
    changed, unchanged = [], []
    for path, before in crawls[0]["items"].items():
        after = crawls[later]["items"][path]
        same = (after["price"], after["stock_count"]) == (before["price"], before["stock_count"])
        (unchanged if same else changed).append(path)
        assert (before["content_digest"] == after["content_digest"]) is same, path
        for tick, item in ((0, before), (later, after)):
            body = replay.render(tick, path)
            assert item["provenance"]["response_digest"] == hashlib.sha256(body).hexdigest()
    assert ATTIC in changed
    # tick 0 replays the snapshot itself
    assert replay.render(0, ATTIC) == replay.files[ATTIC].encode("utf-8")


def test_missing_pages_stay_404(two_ticks):
    for crawl in two_ticks["crawls"].values():
        assert crawl["quarantine"] and all(
            (q["reason"], q["http_status"]) == ("http_404", 404) for q in crawl["quarantine"])
        assert len(crawl["items"]) + len(crawl["quarantine"]) == 19
    assert two_ticks["outside"] == 404


def test_one_connection_serves_pages_and_404s(replay):
    """HTTP/1.1 keep-alive: pages, a missing page and a tick past 9999-12-31 ride one TCP connection."""
    with serve_replay(replay, latency_s=0.001) as base:
        parts = urllib.parse.urlsplit(base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        answers = []
        for path in ("tick/0/" + ATTIC, "tick/0/catalogue/no-such-book/index.html", "tick/1/" + ATTIC,
                     "tick/2913021/" + ATTIC, "tick/2913022/" + ATTIC):
            connection.request("GET", "/" + path)
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection"),
                            len(response.read()), connection.sock.getsockname()))
        connection.close()
    assert [status for status, *_ in answers] == [200, 404, 200, 200, 404]
    assert all(header != "close" for _, header, *_ in answers)
    assert len({local for *_, local in answers}) == 1  # the same client socket throughout
    assert answers[0][2] == len(replay.render(0, ATTIC))
    assert answers[2][2] == len(replay.render(1, ATTIC))


def test_negative_latency_is_refused(replay):
    with pytest.raises(ValueError, match="latency_s must be >= 0"):
        with serve_replay(replay, latency_s=-0.1):
            pass
