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

Run: ``.venv/bin/python benchmarks/extraction_score.py`` from the repository root.
"""

from __future__ import annotations

import gzip
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawlers.extraction.currencies import currency_candidates  # noqa: E402
from crawlers.extraction.page import extract_product  # noqa: E402

BENCHMARK = "product_pages_zyte_benchmark"
BASELINES = ("Zyte", "Diffbot", "extruct")
METRICS = ("price", "currency", "availability", "sku")
# The targets for our extractor (also: above every baseline).
TARGETS = {"price": 0.92, "availability": 0.96}


def load_ground_truth(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Page id → ground-truth annotation (lists of accepted values, plus ``url``)."""
    return json.loads((data_dir / BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))


def our_predictions(data_dir: Path, ground_truth: dict[str, dict[str, Any]]
                    ) -> dict[str, dict[str, str | None]]:
    """Run :func:`extract_product` on every page; the URL given is the page's original URL
    (the extractor never sees the annotations)."""
    predictions = {}
    for page_id, truth in ground_truth.items():
        html = gzip.decompress((data_dir / BENCHMARK / "html" / f"{page_id}.html.gz").read_bytes())
        record = extract_product(html, truth["url"])
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


def score_all(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Scores of ``ours`` and every baseline: ``{system: {"price": 0.93, …, "n": 97}}``."""
    ground_truth = load_ground_truth(data_dir)
    systems = {"ours": our_predictions(data_dir, ground_truth)}
    systems.update({name: baseline_predictions(data_dir, name) for name in BASELINES})
    return {name: score(ground_truth, predictions) for name, predictions in systems.items()}


def print_table(scores: dict[str, dict[str, Any]]) -> None:
    """One row per system: accuracy per metric and the page count."""
    from rich.console import Console
    from rich.table import Table

    any_scores = next(iter(scores.values()))
    table = Table(title=f"Product extraction, {any_scores['n']} pages "
                        f"(currency over the {any_scores['n_currency']} pages whose ground truth "
                        f"names one)")
    table.add_column("system")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    table.add_column("n", justify="right")
    for name, result in scores.items():
        table.add_row(name, *(f"{result[m]:.3f}" for m in METRICS), str(result["n"]))
    console = Console()
    console.print(table)
    ours = scores.get("ours")
    if ours:
        for metric, target in TARGETS.items():
            best_other = max(r[metric] for name, r in scores.items() if name != "ours")
            met = ours[metric] >= target and ours[metric] > best_other
            console.print(f"target {metric} ≥ {target} and above every baseline: "
                          f"{'met' if met else 'NOT met'} ({ours[metric]:.3f})")


def main() -> None:
    from commons.settings import Settings

    scores = score_all(Settings.from_env().data_dir)
    print_table(scores)
    if "-v" in sys.argv[1:]:
        for metric in METRICS:
            print(metric, "errors:", " ".join(p[:8] for p in scores["ours"]["errors"][metric]))


if __name__ == "__main__":
    main()
