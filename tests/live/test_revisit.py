"""Revisit policies: the change-rate estimator, politeness, round robin, and learning on real series.

The real-series tests run ``benchmarks/live_staleness.py``'s simulator on the market replay's
products (changes of price alone: with stock, every book changes nearly every day and no policy
can beat round robin, see the benchmark).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmark_module import load_benchmark

from live.revisit import DAY_S, LearnedRevisitPolicy, RoundRobinPolicy, estimate_change_rate, expected_age

HOUR = 3600.0


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("live_staleness")


@pytest.fixture(scope="module")
def price_products(bench, data_dir):
    """Every mirror book with its price-change ticks over ticks [0, 61)."""
    return bench.load_products(data_dir, None, 61)["price"]


def poisson_visits(rate: float, intervals: np.ndarray, rng: np.random.Generator) -> int:
    """How many of the intervals saw at least one change of a Poisson process at ``rate``."""
    return int((rng.poisson(rate * intervals) > 0).sum())


@pytest.mark.parametrize("jitter", [0.0, 0.2])
def test_estimator_recovers_a_known_rate(jitter):
    rng = np.random.default_rng(11)
    rate = 1 / HOUR
    intervals = 1800 * rng.uniform(1 - jitter, 1 + jitter, size=20_000)
    changed = poisson_visits(rate, intervals, rng)
    estimate = estimate_change_rate(len(intervals), changed, intervals.sum())
    assert estimate == pytest.approx(rate, rel=0.05)


def test_estimator_known_values_and_edges():
    assert estimate_change_rate(4, 2, 4.0) == pytest.approx(math.log(4.5 / 2.5))
    # every visit saw a change: finite, where the maximum-likelihood estimate is infinite
    assert estimate_change_rate(10, 10, 10 * HOUR) == pytest.approx(math.log(21) / HOUR)
    assert estimate_change_rate(10, 0, 10 * HOUR) == 0.0
    assert estimate_change_rate(0, 0, 0.0) == 0.0
    both = estimate_change_rate(np.array([4, 0]), np.array([2, 0]), np.array([4.0, 0.0]))
    assert both.shape == (2,) and both[1] == 0.0
    with pytest.raises(ValueError):
        estimate_change_rate(3, 4, 1.0)
    with pytest.raises(ValueError):
        estimate_change_rate(3, 1, 0.0)


def test_expected_age_matches_its_definition():
    rng = np.random.default_rng(5)
    rate, since = 1 / HOUR, 2 * HOUR
    first_change = rng.exponential(1 / rate, size=200_000)
    simulated = np.maximum(0.0, since - first_change).mean()
    assert expected_age(since, rate) == pytest.approx(simulated, rel=0.01)
    assert expected_age(since, rate) == pytest.approx(since - (1 - math.exp(-2)) * HOUR)
    assert expected_age(10.0, 1e-12) == pytest.approx(1e-12 * 100 / 2)  # λt²/2 while λt is small
    assert expected_age(0.0, rate) == 0.0
    assert expected_age(math.inf, rate) == math.inf


@pytest.mark.parametrize("make", [lambda: LearnedRevisitPolicy(10.0), lambda: RoundRobinPolicy(10.0)])
def test_politeness_is_respected(make):
    policy = make()
    for i in range(6):
        policy.add(f"p{i}", f"host{i % 2}", seen_at=0.0)
    fetches: dict[str, list[float]] = {"host0": [], "host1": []}
    nones = 0
    for step in range(120):
        now = step * 0.5
        product = policy.next(now)
        if product is None:
            nones += 1
            continue
        fetches[f"host{int(product[1:]) % 2}"].append(now)
        policy.observe(product, now, changed=step % 3 == 0)
    assert nones > 0
    for times in fetches.values():
        assert len(times) >= 5
        assert min(np.diff(times)) >= 10.0


def test_round_robin_visits_each_product_once_per_cycle():
    policy = RoundRobinPolicy(0.0)
    ids = [f"p{i}" for i in range(5)]
    for product in ids:
        policy.add(product, f"{product}.example")
    picks = [policy.next(float(t)) for t in range(15)]
    assert picks == ids * 3


def test_round_robin_keeps_a_held_back_product_at_the_head():
    policy = RoundRobinPolicy(5.0)
    for product, host in (("a", "one"), ("b", "one"), ("c", "two")):
        policy.add(product, host)
    # b's host was just fetched for a: c goes first, then b as soon as its host allows
    assert [policy.next(0.0), policy.next(1.0), policy.next(2.0), policy.next(5.0)] == ["a", "c", None, "b"]


def test_unknown_and_duplicate_products_are_refused():
    for policy in (LearnedRevisitPolicy(0.0), RoundRobinPolicy(0.0)):
        policy.add("p", "h")
        with pytest.raises(ValueError):
            policy.add("p", "h")
        with pytest.raises(KeyError):
            policy.observe("q", 1.0, True)
    assert LearnedRevisitPolicy(0.0).next(0.0) is None


def test_never_fetched_products_go_first_and_their_first_visit_is_a_baseline():
    policy = LearnedRevisitPolicy(0.0)
    policy.add("seen", "h", seen_at=0.0, prior_visits=10, prior_changes=10, prior_span_s=10 * HOUR)
    policy.add("new", "h")
    assert policy.next(HOUR) == "new"
    before = policy.rates()
    policy.observe("new", HOUR, changed=True)
    assert np.array_equal(policy.rates(), before)


def test_backfill_prior_orders_products_before_any_visit():
    policy = LearnedRevisitPolicy(0.0)
    policy.add("static", "h", seen_at=0.0, prior_visits=30, prior_changes=0, prior_span_s=30 * DAY_S)
    policy.add("busy", "h", seen_at=0.0, prior_visits=30, prior_changes=20, prior_span_s=30 * DAY_S)
    rates = policy.rates()
    assert rates[1] > 10 * rates[0]
    assert policy.next(DAY_S) == "busy"


def test_learned_policy_visits_a_changing_product_more_than_a_static_one(bench, price_products):
    changes = [len(product.changes) for product in price_products]
    busy, static = price_products[int(np.argmax(changes))], price_products[changes.index(0)]
    assert len(busy.changes) >= 20
    result = bench.simulate(LearnedRevisitPolicy(1.0), [busy, static], 0, 60, budget_per_day=0.5)
    visits_busy, visits_static = result["visits_per_product"]
    assert visits_busy + visits_static == 30
    assert visits_busy >= 2 * visits_static


def test_simulation_counts_staleness_as_documented(bench):
    product = bench.Product("p", np.array([1.0, 3.0, 5.0]), np.zeros(7, dtype=np.int64))
    every_two_days = bench.simulate(RoundRobinPolicy(0.0), [product], 0, 6, budget_per_day=0.5)
    assert (every_two_days["mean_days"], every_two_days["detected"], every_two_days["visits"]) == (1.0, 3, 3)
    # one visit at day 4 sees the changes of days 1 and 3; day 5's counts until the end, day 6
    once = bench.simulate(RoundRobinPolicy(0.0), [product], 0, 6, budget_per_day=0.25)
    assert once["mean_days"] == pytest.approx((3 + 1 + 1) / 3)
    assert (once["detected"], once["changes"], once["budget"]) == (2, 3, 1)


@pytest.mark.parametrize("start, backfill", [(0, 0), (30, 30)])
def test_learned_policy_beats_round_robin_on_a_real_slice(bench, price_products, start, backfill):
    products = price_products[:40]
    robin = bench.simulate(RoundRobinPolicy(1.0), products, start, 30, budget_per_day=20)
    learned = bench.simulate(LearnedRevisitPolicy(1.0), products, start, 30, budget_per_day=20,
                             backfill_ticks=backfill)
    assert robin["visits"] == learned["visits"] == 600
    assert learned["changes"] == robin["changes"] > 50
    assert learned["mean_days"] < 0.95 * robin["mean_days"]


def test_clones_are_distinct_products(bench, data_dir, price_products):
    books = len(price_products)
    prices = bench.load_products(data_dir, 2 * books + 10, 61)["price"]
    assert len({product.product_id for product in prices}) == len(prices) == 2 * books + 10
    assert [p.product_id for p in prices[:books]] == [p.product_id for p in price_products]
    # clone 1 of a book follows another real series than the book itself
    differ = sum(not np.array_equal(a.changes, b.changes) for a, b in zip(prices[:books], prices[books:]))
    assert differ > books // 2
    with pytest.raises(ValueError):
        bench.load_products(data_dir, 10**6, 2)


def test_every_listing_page_shows_mirror_books_and_every_book_is_on_one(bench, data_dir, price_products):
    listings = bench.listing_members(data_dir, price_products)
    assert len(listings) == 11  # index.html and catalogue/page-2 … page-11 of the partial mirror
    shown = [i for members in listings for i in members]
    assert sorted(shown) == list(range(len(price_products)))  # each book on exactly one listing


def test_listing_tips_fetch_only_products_that_moved_and_cut_price_staleness(bench, data_dir, price_products):
    listings = bench.listing_members(data_dir, price_products)
    plain = bench.simulate(LearnedRevisitPolicy(1.0), price_products, 30, 30, 71.5, backfill_ticks=30)
    tipped = bench.simulate(LearnedRevisitPolicy(1.0), price_products, 30, 30, 71.5, backfill_ticks=30,
                            listings=listings, listing_share=0.2)
    assert tipped["listing_views"] == math.floor(0.2 * tipped["budget"] + 1e-9)
    assert tipped["visits"] + tipped["listing_views"] == tipped["budget"] == plain["visits"]
    # Every tip answers a moved price or in/out-of-stock flag: at most one per move a listing showed.
    moves = sum(int(np.count_nonzero(p.shown[31:61] != p.shown[30:60])) for p in price_products)
    assert 0 < tipped["tips"] <= moves
    assert tipped["changes"] == plain["changes"] > 200
    assert tipped["mean_days"] < 0.8 * plain["mean_days"]
    with pytest.raises(ValueError):
        bench.simulate(LearnedRevisitPolicy(1.0), price_products, 30, 30, 71.5, listing_share=0.2)
