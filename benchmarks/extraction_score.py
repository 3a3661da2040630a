"""Product-extraction benchmark: our generic extractor against Zyte, Diffbot and extruct.

Data: ``product_pages_zyte_benchmark`` (Zyte's product-extraction-benchmark, 97 pages here).
Every system is scored by the same rules, on the same pages, from the same ground truth:

* **price**: correct when equal as a Decimal to one of the accepted values; on a page whose
  ground truth has no price, correct only when the system gives none.
* **currency**: scored on the pages whose ground truth names a currency; correct when the two
  can denote the same ISO-4217 code (``"$"`` and ``CLP`` can, ``"р."`` and ``KZT`` cannot:
  :func:`crawlers.extraction.currencies.currency_candidates`). Systems write symbols or codes.
* **availability**: ground truth is InStock/OutOfStock; a missing value counts as InStock, the
  benchmark's own rule (its README: "in case it's not clear that the product is out-of-stock,
  it's assumed to be in-stock"); our ``out_of_stock`` → OutOfStock, any other state → InStock.
* **sku**: correct when equal to one of the accepted values; on a page without one, correct only
  when the system gives none. Our ``product_id`` falls back to the page URL, which is no SKU and
  counts as none.

Three scores for ours:

* **whole set**: the shipped extractor (ranker weights in
  ``crawlers/extraction/price_ranker.json``, fitted on all these pages) on every page;
* **leave-one-domain-out**: each domain's pages priced by a ranker fitted on the *other* 44
  domains' pages only, the estimate of how the extractor does on a shop it has never seen. A
  domain is the URL's host name (:func:`domain_of`), as the benchmark's split is. The
  hand-written rules (vocabularies, cues, availability, identifiers) have no fitted parameters
  and are the same in both scores; they name no shop, but they were written looking at these
  pages, so this score is honest for the weights and optimistic for the rules. The baselines
  were not fitted on these pages, so their two scores are equal.

A stricter grouping, **leave-one-shop-out**, holds out a shop's sites together: the pages of
``amazon.com`` and ``amazon.de``, of the five eBay sites, of two craigslist cities share their
markup, so a host-name fold still sees the held-out shop's templates. A shop is the registrable
domain's name without its public suffix (:func:`shop_of`, the Public Suffix List as bundled with
tldextract): 38 shops for the 45 domains.

Run from the repository root: ``.venv/bin/python benchmarks/extraction_score.py`` prints both
tables (``-v``: the failing page ids); ``--fit`` refits the shipped weights on all pages first.
"""

from __future__ import annotations

import gzip
import json
import sys
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlers.extraction import ranker as price_ranker  # noqa: E402
from crawlers.extraction.candidates import Candidate  # noqa: E402
from crawlers.extraction.currencies import currency_candidates  # noqa: E402
from crawlers.extraction.page import PageEvidence, read_page, record_from  # noqa: E402

BENCHMARK = "product_pages_zyte_benchmark"
BASELINES = ("Zyte", "Diffbot", "extruct")
METRICS = ("price", "currency", "availability", "sku")
OURS, OURS_LODO, OURS_LOSO = "ours", "ours, leave-one-domain-out", "ours, leave-one-shop-out"
# The targets for our extractor, on the leave-one-domain-out score.
TARGETS = {"price": 0.93, "currency": 0.95, "availability": 0.96}


def load_ground_truth(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Page id → ground-truth annotation (lists of accepted values, plus ``url``)."""
    return json.loads((data_dir / BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))


def domain_of(url: str) -> str:
    """The shop domain a page belongs to: its URL's host name (``www.ebay.co.uk``)."""
    return urlsplit(url).hostname or url


def shop_of(url: str) -> str:
    """The shop a page belongs to: its registrable domain's name without the public suffix
    (``www.ebay.co.uk`` and ``www.ebay.it`` → ``ebay``), by the Public Suffix List snapshot
    tldextract ships (no network, no cache file)."""
    return _suffix_list()(url).domain or domain_of(url)


@lru_cache(maxsize=1)
def _suffix_list() -> Any:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def read_pages(data_dir: Path, ground_truth: dict[str, dict[str, Any]]
               ) -> dict[str, PageEvidence]:
    """Every page's evidence (:func:`read_page`); the URL given is the page's original URL
    (the extractor never sees the annotations)."""
    return {page_id: read_page(gzip.decompress(
        (data_dir / BENCHMARK / "html" / f"{page_id}.html.gz").read_bytes()), truth["url"])
        for page_id, truth in ground_truth.items()}


def labelled(evidence: PageEvidence, truth: dict[str, Any]) -> list[tuple[Candidate, bool]]:
    """The page's candidates, each with whether its amount is an accepted price."""
    prices = {_decimal(v) for v in truth.get("price") or []} - {None}
    return [(c, c.price.amount in prices) for c in evidence.candidates]


def fit_on(pages: dict[str, PageEvidence], ground_truth: dict[str, dict[str, Any]],
           page_ids: list[str]) -> price_ranker.Ranker:
    """The ranker fitted on these pages (all of them: what ships)."""
    return price_ranker.fit([labelled(pages[p], ground_truth[p]) for p in page_ids])


def leave_one_domain_out(pages: dict[str, PageEvidence],
                         ground_truth: dict[str, dict[str, Any]],
                         group: Callable[[str], str] = domain_of
                         ) -> dict[str, price_ranker.Ranker]:
    """Page id → the ranker fitted on the pages of every other group (a page URL's
    :func:`domain_of` by default, :func:`shop_of` for the stricter split)."""
    domains = {p: group(ground_truth[p]["url"]) for p in pages}
    rankers = {}
    for domain in sorted(set(domains.values())):
        ranker = fit_on(pages, ground_truth, [p for p in pages if domains[p] != domain])
        rankers.update({p: ranker for p in pages if domains[p] == domain})
    return rankers


def our_predictions(pages: dict[str, PageEvidence],
                    rankers: dict[str, price_ranker.Ranker]) -> dict[str, dict[str, str | None]]:
    """Each page's record with its ranker, in the scorer's shape; a page read as a listing
    (:attr:`PageEvidence.listed_prices`) gives no record, as :func:`extract_record` does."""
    predictions = {}
    for page_id, evidence in pages.items():
        if evidence.listed_prices:
            predictions[page_id] = {"price": None, "currency": None, "availability": "InStock",
                                    "sku": None}
            continue
        record = record_from(evidence, rankers[page_id]).to_dict()
        product_id = record["product_id"]
        predictions[page_id] = {
            "price": record["price"],
            "currency": record["currency"],
            "availability": "OutOfStock" if record["availability"] == "out_of_stock" else "InStock",
            "sku": None if product_id is None or product_id.startswith(("http://", "https://"))
            else product_id,
        }
    return predictions


def baseline_predictions(data_dir: Path, name: str) -> dict[str, dict[str, str | None]]:
    """A baseline system's output, in the same shape as :func:`our_predictions`."""
    raw = json.loads((data_dir / BENCHMARK / "baseline-output" / f"{name}.json")
                     .read_text(encoding="utf-8"))
    return {page_id: {"price": item.get("price"), "currency": item.get("currency"),
                      "availability": item.get("availability") or "InStock",
                      "sku": item.get("sku")}
            for page_id, item in raw.items()}


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def judge(truth: dict[str, Any], predicted: dict[str, str | None]) -> dict[str, bool | None]:
    """Per-metric verdict for one page (None: the metric does not apply to this page)."""
    prices = {_decimal(v) for v in truth.get("price") or []} - {None}
    price = _decimal(predicted["price"]) if predicted["price"] is not None else None
    skus = {str(v).strip() for v in truth.get("sku") or []}
    sku = str(predicted["sku"]).strip() if predicted["sku"] is not None else None
    currencies = truth.get("currency") or []
    return {
        "price": price in prices if prices else price is None,
        "currency": (any(currency_candidates(predicted["currency"]) & currency_candidates(c)
                         for c in currencies) if currencies else None),
        "availability": predicted["availability"] in (truth.get("availability") or ["InStock"]),
        "sku": sku in skus if skus else sku is None,
    }


def score(ground_truth: dict[str, dict[str, Any]],
          predictions: dict[str, dict[str, str | None]]) -> dict[str, Any]:
    """Accuracy per metric over the ground-truth pages, with counts and the failing page ids.

    Raises:
        KeyError: a ground-truth page has no prediction.
    """
    verdicts = {page_id: judge(truth, predictions[page_id])
                for page_id, truth in ground_truth.items()}
    result: dict[str, Any] = {"n": len(verdicts), "errors": {}}
    for metric in METRICS:
        applicable = {p: v[metric] for p, v in verdicts.items() if v[metric] is not None}
        result[metric] = sum(applicable.values()) / len(applicable)
        result[f"n_{metric}"] = len(applicable)
        result["errors"][metric] = sorted(p for p, ok in applicable.items() if not ok)
    return result


def score_all(data_dir: Path, refit: bool = False) -> dict[str, dict[str, Any]]:
    """Scores of ours (whole set and leave-one-domain-out) and every baseline:
    ``{system: {"price": 0.93, …, "n": 97}}``.

    Args:
        data_dir: the shared data folder.
        refit: fit the ranker on all pages and write it to
            :data:`crawlers.extraction.ranker.WEIGHTS_FILE` before scoring.
    """
    ground_truth = load_ground_truth(data_dir)
    pages = read_pages(data_dir, ground_truth)
    if refit:
        fitted = fit_on(pages, ground_truth, list(pages))
        price_ranker.WEIGHTS_FILE.write_text(json.dumps(fitted.to_json(), indent=1) + "\n",
                                             encoding="utf-8")
        price_ranker.load.cache_clear()
    shipped = price_ranker.load()
    systems = {OURS: our_predictions(pages, {p: shipped for p in pages}),
               OURS_LODO: our_predictions(pages, leave_one_domain_out(pages, ground_truth)),
               OURS_LOSO: our_predictions(pages, leave_one_domain_out(pages, ground_truth,
                                                                      shop_of))}
    systems.update({name: baseline_predictions(data_dir, name) for name in BASELINES})
    scores = {name: score(ground_truth, predictions) for name, predictions in systems.items()}
    scores[OURS]["listing_pages"] = sorted(p for p, e in pages.items() if e.listed_prices)
    return scores


def print_table(scores: dict[str, dict[str, Any]]) -> None:
    """Three tables, whole set, leave-one-domain-out and leave-one-shop-out: accuracy per
    metric and page count per system; then whether the leave-one-domain-out targets are met."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    any_scores = next(iter(scores.values()))
    for title, ours in (("whole set", OURS), ("leave-one-domain-out", OURS_LODO),
                        ("leave-one-shop-out", OURS_LOSO)):
        table = Table(title=f"Product extraction, {title}: {any_scores['n']} pages (currency "
                            f"over the {any_scores['n_currency']} whose ground truth names one)")
        table.add_column("system")
        for metric in METRICS:
            table.add_column(metric, justify="right")
        table.add_column("n", justify="right")
        for name in (ours, *BASELINES):
            if name in scores:
                table.add_row(name, *(f"{scores[name][m]:.3f}" for m in METRICS),
                              str(scores[name]["n"]))
        console.print(table)
    if "listing_pages" in scores.get(OURS, {}):
        console.print(f"product pages read as a listing (no record): "
                      f"{len(scores[OURS]['listing_pages'])}")
    if OURS_LODO in scores:
        for metric, target in TARGETS.items():
            value = scores[OURS_LODO][metric]
            console.print(f"target leave-one-domain-out {metric} ≥ {target}: "
                          f"{'met' if value >= target else 'NOT met'} ({value:.3f})")


def main() -> None:
    from commons.settings import Settings

    scores = score_all(Settings.from_env().data_dir, refit="--fit" in sys.argv[1:])
    print_table(scores)
    if "-v" in sys.argv[1:]:
        for name in (OURS, OURS_LODO, OURS_LOSO):
            for metric in METRICS:
                print(name, metric, "errors:",
                      " ".join(p[:8] for p in scores[name]["errors"][metric]))


if __name__ == "__main__":
    main()
