"""Price candidates and the ranker that picks one: the evidence a small page yields, the
fitted weights, and the leave-one-domain-out split."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

from parsel import Selector

from crawlers.extraction import ranker
from crawlers.extraction.candidates import FEATURES, Candidate, dom_candidates
from crawlers.extraction.hints import page_hints
from crawlers.extraction.price import ParsedPrice

PAGE = """<html lang="en"><body>
  <ul class="products-grid">
    <li class="item"><a href="/2">Shade</a><span class="price">$12.00</span></li>
    <li class="item"><a href="/3">Bulbs</a><span class="price">$8.00</span></li>
    <li class="item"><a href="/4">Stand</a><span class="price">$8.00</span></li>
  </ul>
  <h1>Desk lamp</h1>
  <div class="price-box"><del>$60.00</del> <span>Was $55.00</span>
    <span class="sale-price">$49.00</span></div>
  <p class="points">(1 point = $1)</p>
  <p class="instalments">or 4 x $12.25</p>
  <p class="pack">Pack of 2 x 150 ml: $19.90</p>
  <button class="add-to-cart">Add to cart</button>
  <div class="carousel"><span class="price">$99.00</span></div>
</body></html>"""


def _candidates() -> dict[Decimal, dict[str, float]]:
    sel = Selector(text=PAGE)
    found = dom_candidates(sel, page_hints(sel, "https://shop.example.com/lamp"), None, set())
    return {c.price.amount: dict(zip(FEATURES, c.features)) for c in found}


def test_struck_former_rate_instalment_and_carousel_prices_are_no_candidates():
    assert set(_candidates()) == {Decimal("12.00"), Decimal("8.00"), Decimal("49.00"),
                                  Decimal("19.90")}  # a pack count "2 x 150 ml" is no instalment


def test_candidate_evidence():
    found = _candidates()
    main = found[Decimal("49.00")]
    assert (main["price_class"], main["current_class"], main["nearest"], main["in_list"]) == (
        1.0, 1.0, 1.0, 0.0)
    assert found[Decimal("8.00")]["in_list"] == 1.0
    assert found[Decimal("8.00")]["before_title"] == 1.0


def _candidate(amount: str, **features: float) -> Candidate:
    return Candidate(ParsedPrice(Decimal(amount), "USD", "$"),
                     tuple(features.get(name, 0.0) for name in FEATURES))


def test_fit_learns_which_evidence_marks_the_price():
    pages = [[(_candidate("10", price_class=1.0, nearest=1.0), True),
              (_candidate("20", in_list=1.0, nearest=0.5), False),
              (_candidate("30", accessory=1.0), False)] for _ in range(5)]
    fitted = ranker.fit(pages)
    weight = dict(zip(fitted.features, fitted.weights))
    assert weight["price_class"] > 0 and weight["in_list"] < 0 and weight["accessory"] < 0
    unseen = [_candidate("7", accessory=1.0), _candidate("5", price_class=1.0)]
    assert fitted.best(unseen).price.amount == Decimal("5")
    assert fitted.best([]) is None


def test_shipped_weights_load_for_the_current_features():
    shipped = ranker.load()
    assert shipped.features == FEATURES and len(shipped.weights) == len(FEATURES)


def _benchmark():
    """The benchmark script as a module (it is no package)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "extraction_score.py"
    spec = importlib.util.spec_from_file_location("extraction_score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_domains_are_host_names():
    module = _benchmark()
    assert module.domain_of("https://www.ebay.co.uk/itm/1") == "www.ebay.co.uk"


def test_shops_group_a_brand_s_country_sites():
    module = _benchmark()
    assert {module.shop_of(url) for url in ("https://www.ebay.co.uk/itm/1",
                                             "https://www.ebay.it/itm/2",
                                             "https://www.ebay.com/itm/3")} == {"ebay"}
    assert module.shop_of("https://www.pcstore.com.tw/p/M1.htm") == "pcstore"
    assert module.shop_of("https://kids.1k.by/x") == module.shop_of("https://dom.1k.by/y") == "1k"


def test_a_list_repeats_its_price_slot_a_label_value_table_does_not():
    sel = Selector(text="""<html><body><h1>Lamp</h1><table>
      <tr><td>Sale price <span class="big">$49</span></td></tr>
      <tr><td>Offer</td><td><a href="/e">Spend $90, get a gift</a></td></tr>
      <tr><td>Shipping</td><td>Delivery <b>$5</b></td></tr></table>
      <ul><li class="tile"><b class="p">$12</b></li><li class="tile"><b class="p">$13</b></li>
        <li class="tile"><b class="p">$14</b></li></ul></body></html>""")
    found = dom_candidates(sel, page_hints(sel, "https://shop.example.com/lamp"), None, set())
    in_list = {c.price.amount: c.features[FEATURES.index("in_list")] for c in found}
    assert in_list == {Decimal(49): 0.0, Decimal(90): 0.0, Decimal(5): 0.0,
                       Decimal(12): 1.0, Decimal(13): 1.0, Decimal(14): 1.0}
