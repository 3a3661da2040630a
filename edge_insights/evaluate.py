"""Score the deployed champion of a decision on any folder laid out like the shared data.

The bundle runs through the pod's own inference code (:class:`serving.inference.EdgeModel`), so the
numbers are what a pod would decide. Labels come from the decision's own rule
(training.decisions), applied to the user's data:

* negative_review — ``DIR`` like ``shared/data/reviews`` (any of its files);
* price_spike — ``DIR`` like ``shared/data/price_history_amazon_jp`` (``observations.csv.gz``,
  optional ``products.csv``); each price change is one example;
* urgent_inventory — ``DIR`` like ``shared/data/books_toscrape`` (``site/``): one snapshot, so each
  book is one example whose window repeats its single observation.

With ``pod_url`` the examples go to a running pod over HTTP instead, with the client's own token
(:mod:`commons.token_client`), so the numbers are what that pod answers, central routes included;
edge coverage is then the share the pod decided at the edge.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import numpy as np
import polars as pl

from commons.bundle_signature import verify_bundle
from commons.revocation_list import check_not_revoked
from commons.settings import Settings
from commons.token_client import BearerAuth, TokenSource
from commons.traffic import PRODUCTION, TRAFFIC_HEADER
from edge_insights.not_deployed import not_deployed
from training.decisions import DECISIONS
from training.examples import Example
from training.metrics import prf


Loaded = tuple[pl.DataFrame, Counter[str]]
"""What a loader gives: the decision's history rows and the quarantine reasons of the rows it dropped
(reason → count), so that a folder with no usable row can say why."""


def _frame_reviews(folder: Path) -> Loaded:
    from crawlers.feeds import read_review_feed

    records, quarantine = read_review_feed(folder, "evaluate")
    return (pl.DataFrame([{k: r.get(k) for k in ("product_id", "source", "review_text", "rating", "feedback")}
                          for r in records], infer_schema_length=None),
            Counter(q["reason"] for q in quarantine))


# The columns price_changes gives, also when every row of the file is quarantined (an empty frame).
PRICE_SCHEMA = {"product_id": pl.String, "title": pl.String, "price": pl.Float64,
                "crawled_at": pl.Datetime("us", "UTC")}


def _price_frame(folder: Path) -> Loaded:
    from crawlers.intake.price_history import price_history_batches

    products = folder / "products.csv"
    if not (folder / "observations.csv.gz").is_file():
        raise FileNotFoundError(f"no price history (observations.csv.gz) in {folder}")
    rows, reasons = [], Counter()
    for _, records, quarantine in price_history_batches(folder / "observations.csv.gz",
                                                        products if products.is_file() else None):
        rows += [{"product_id": r["product_id"], "title": r.get("title"), "price": float(r["price"]),
                  "crawled_at": datetime.fromisoformat(r["crawled_at"])} for r in records]
        reasons.update(q["reason"] for q in quarantine)
    frame = pl.DataFrame(rows, schema=PRICE_SCHEMA).sort(["product_id", "crawled_at"], maintain_order=True)
    # History keeps changes only; evaluate on the same unit the models were trained on.
    return frame.filter(pl.col("price").diff().over("product_id").fill_null(1.0) != 0), reasons


def price_changes(folder: Path) -> pl.DataFrame:
    """Every price change of a folder laid out like ``shared/data/price_history_amazon_jp``, read
    through the backfill's own reader: ``product_id, title, price, crawled_at`` (:data:`PRICE_SCHEMA`)
    sorted by product and time (unchanged re-observations dropped, as signal history keeps them);
    empty, with those columns, when every row is quarantined.

    Raises:
        ValueError, OSError: as :func:`crawlers.intake.price_history.price_history_batches`.
    """
    return _price_frame(folder)[0]


def _frame_books(folder: Path) -> Loaded:
    """One row per book page of a folder laid out like ``books_toscrape``, stamped now.

    Raises:
        FileNotFoundError: the folder holds no book page.
        crawlers.parsing.ParseError: a page is not a book page, or declares no charset while no single
            legacy charset reads it (the message names it).
        OSError: a page cannot be read.
    """
    from crawlers.extraction.charset_guess import CharsetUndecided
    from crawlers.extraction.encoding import decode_page
    from crawlers.parsing import ParseError, parse_book_detail

    now = datetime.now(timezone.utc)
    pages = sorted((folder / "site").glob("catalogue/*/index.html"))
    if not pages:
        raise FileNotFoundError(f"no book pages (site/catalogue/*/index.html) in {folder}")
    rows = []
    for page in pages:
        try:
            # The crawl's one charset rule, so a page `extract` reads is a page evaluate reads.
            fields = parse_book_detail(decode_page(page.read_bytes()), page.as_uri())
        except (ParseError, CharsetUndecided) as err:
            # One snapshot, one example per page: a page that is not a book page is named rather than
            # dropped, so the folder can be fixed instead of scored on fewer books than it holds.
            raise ParseError(f"{page.relative_to(folder)}: {err}") from None
        rows.append({**{k: fields.get(k) for k in ("product_id", "title", "stock_count", "availability")},
                     "crawled_at": now})
    return pl.DataFrame(rows, infer_schema_length=None), Counter()


LOADERS: dict[str, Callable[[Path], Loaded]] = {
    "negative_review": _frame_reviews, "price_spike": _price_frame, "urgent_inventory": _frame_books}


def no_examples(decision: str, data_dir: Path, quarantined: Counter[str]) -> str:
    """The one-line error for a folder without a labelled example of ``decision``; it says how many
    rows were quarantined and the most common reason, when any were."""
    message = f"no labelled {decision} examples found in {data_dir}"
    if quarantined:
        reason, count = quarantined.most_common(1)[0]
        message += (f" ({quarantined.total()} row(s) quarantined; most common reason, {count} row(s): "
                    f"{reason})")
    return message


def alert_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Precision, recall and F1 of the alert class (label 1) of int arrays [n], with the counts
    they rest on. A score the data leaves undefined is None, not 0.0: precision when nothing is
    predicted an alert, recall and F1 when the data holds no alert (a champion cannot be judged
    on catching alerts that are not there).
    """
    positives, predicted_positives = int(truth.sum()), int(predicted.sum())
    scores: dict[str, Any] = prf(truth, predicted)
    if not predicted_positives:
        scores["precision"] = None
    if not positives:
        scores["recall"] = scores["f1"] = None
    return {**scores, "positives": positives, "predicted_positives": predicted_positives}


def evaluate_on_pod(decision: str, examples: list[Example], pod_url: str,
                    tokens: TokenSource | None = None, traffic: str = PRODUCTION) -> dict[str, Any]:
    """P/R/F1 (:func:`alert_scores`) and edge coverage of the pod at ``pod_url`` on ``examples``, sent 64 per
    request with ``tokens``' token for ``decision``, as ``traffic`` (:mod:`commons.traffic`: ``replay``
    keeps the examples out of the pod's drift test, and needs a token with scope ``replay``).

    Raises:
        httpx.HTTPStatusError: the pod refused a request (401/403: no or a wrong token, or
            ``replay`` without the scope or on a pod without tokens).
        httpx.TransportError: the pod cannot be reached.
    """
    spec = DECISIONS[decision]
    answers = []
    auth = BearerAuth(tokens, decision) if tokens is not None else None
    with httpx.Client(base_url=pod_url.rstrip("/"), timeout=60.0, auth=auth,
                      headers={TRAFFIC_HEADER: traffic}) as client:
        for start in range(0, len(examples), 64):
            records = [{spec.text_field: e.text} | ({spec.window_field: list(e.window)} if spec.window_field else {})
                       for e in examples[start:start + 64]]
            reply = client.post(f"/v1/decisions/{decision}", json={"records": records})
            reply.raise_for_status()
            answers += reply.json()["decisions"]
        version = client.get("/healthz").json()["model_version"]
    truth = np.array([e.label for e in examples])
    predicted = np.array([int(a["label"] == spec.labels[1]) for a in answers])
    return {"decision": decision, "n": len(examples), **alert_scores(truth, predicted),
            "edge_coverage": float(np.mean([a["route"] == "edge" for a in answers])),
            "model_version": None if version is None else str(version), "pod": pod_url}


def evaluate(decision: str, data_dir: Path, settings: Settings, threads: int = 1, pod_url: str | None = None,
             tokens: TokenSource | None = None, traffic: str = PRODUCTION) -> dict[str, Any]:
    """P/R/F1 (:func:`alert_scores`) and edge coverage of the deployed champion of ``decision`` on ``data_dir``
    (or, given ``pod_url``, of that pod, asked with ``tokens``' tokens as ``traffic``: :func:`evaluate_on_pod`), on
    the traffic's mix of examples (a decision's train-only views are not scored), with the rows not
    scored: ``quarantined`` (rows set aside by the loader, with a reason) and ``no_example`` (the
    decision's own count of what gives no example: reviews without a label, the price changes
    before a product's first full window (all of a product with too few), stock observations
    without a known count).

    Raises:
        KeyError: unknown decision.
        FileNotFoundError: nothing deployed, the folder lacks the expected files, or none of its rows
            gives a labelled example (the message counts the quarantined rows: :func:`no_examples`).
        ValueError: a file of the folder is not in its expected format (a header, not UTF-8), or a
            book page cannot be parsed (the message names the page).
        OSError: a file cannot be read (e.g. ``observations.csv.gz`` is not gzip).
        BundleRefused: the deployed champion's release signature or file hashes do not verify,
            or the published revocation list withdraws it
            (:class:`commons.revocation_list.BundleRevoked`).
        BundleError: its ``release.json`` is missing, not JSON or names another model.
        httpx.HTTPError: with ``pod_url``, as :func:`evaluate_on_pod`.
    """
    from serving.app import load_release
    from serving.inference import EdgeModel

    spec = DECISIONS[decision]
    bundle = settings.deploy_dir / decision / "champion"
    if pod_url is None:
        if not (bundle / "manifest.json").is_file():
            raise FileNotFoundError(not_deployed(settings, decision, bundle))
        # Checked before the data is read: the champion scored is one the release process signed
        # and nobody withdrew since.
        manifest = verify_bundle(bundle, settings.trust_dir)
        check_not_revoked(manifest, settings)
        release = load_release(bundle, manifest)
    # Absolute: book pages are parsed with their file:// URI, which a relative path has none of.
    frame, quarantined = LOADERS[decision](Path(data_dir).resolve())
    examples, unused = spec.examples(frame)
    # The traffic's mix, as the gate scores it: train-only views are not what pods are sent.
    examples = [e for e in examples if e.source not in spec.train_only_sources]
    if not examples:
        raise FileNotFoundError(no_examples(decision, data_dir, quarantined))
    counts = {"quarantined": quarantined.total(), "no_example": unused}
    if pod_url is not None:
        return {**evaluate_on_pod(decision, examples, pod_url, tokens, traffic), **counts}
    model = EdgeModel(bundle, threads=threads)
    labels, probs = [], []
    for start in range(0, len(examples), 64):
        part: list[Example] = examples[start:start + 64]
        numeric = None if spec.window_field is None else np.array([e.window for e in part], dtype=np.float32)
        batch_labels, batch_probs = model.predict([e.text for e in part], numeric)
        labels += batch_labels
        probs.append(batch_probs)
    probs = np.concatenate(probs)
    truth = np.array([e.label for e in examples])
    predicted = np.array([int(label == spec.labels[1]) for label in labels])
    abstain = model.manifest["thresholds"]["abstain"]
    return {"decision": decision, "n": len(examples), **alert_scores(truth, predicted),
            "edge_coverage": float((probs.max(axis=1) >= abstain).mean()),
            "model_version": str(release["model_version"]), **counts}
