"""Which price candidate is the main product's: a logistic model over candidate evidence.

``score = bias + Σ weight_f · feature_f`` over :data:`crawlers.extraction.candidates.FEATURES`;
a page's price is its highest-scoring candidate. (A fitted floor below which a page would get
no price was tried: it lifted the whole-set score by one page and lowered the
leave-one-domain-out score by one, so it is not used.) The weights are data, not code: fitted by
:func:`fit` on annotated pages (``benchmarks/extraction_score.py --fit`` writes
:data:`WEIGHTS_FILE`), the same for every shop. Logistic regression (scikit-learn, L2, the
default ``C=1``) is the model: few features, each in [0, 1], a few thousand candidates — a
small model that cannot memorise a shop's markup.

Each page weighs the same in the fit: its correct candidates share weight 1 and its wrong ones
weight 1, so a page with 300 price-like numbers does not drown one with 5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from crawlers.extraction.candidates import FEATURES, Candidate

WEIGHTS_FILE = Path(__file__).with_name("price_ranker.json")


@dataclass(frozen=True)
class Ranker:
    """A fitted linear scorer.

    Attributes:
        features: feature names, in the order of ``weights``.
        weights: one weight per feature.
        bias: the intercept.
    """

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def score(self, candidate: Candidate) -> float:
        """The candidate's log-odds of being the product's price."""
        return self.bias + sum(w * x for w, x in zip(self.weights, candidate.features))

    def best(self, candidates: Sequence[Candidate]) -> Candidate | None:
        """The highest-scoring candidate (the first of equals), or None for none."""
        return max(candidates, key=self.score, default=None)

    def to_json(self) -> dict[str, object]:
        """The ranker as JSON-ready data (the format :func:`load` reads)."""
        return {"features": list(self.features), "weights": list(self.weights),
                "bias": self.bias}


@lru_cache(maxsize=1)
def load(path: Path = WEIGHTS_FILE) -> Ranker:
    """The shipped ranker.

    Raises:
        ValueError: the file's feature names are not :data:`FEATURES` (refit after changing
            the features).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path} was fitted for other features; refit it")
    return Ranker(tuple(data["features"]), tuple(data["weights"]), float(data["bias"]))


def fit(pages: Sequence[Sequence[tuple[Candidate, bool]]], c: float = 1.0) -> Ranker:
    """Fit the weights on annotated pages.

    Args:
        pages: per page, its candidates each with whether its amount is the true price.
            Pages without a correct candidate teach nothing about ranking: skipped.
        c: inverse L2 strength (scikit-learn's ``C``).

    Returns:
        The fitted :class:`Ranker`.

    Raises:
        ValueError: no page has both a correct and a wrong candidate.
    """
    from sklearn.linear_model import LogisticRegression

    rows, labels, weights = [], [], []
    for page in pages:
        positives = sum(ok for _, ok in page)
        negatives = len(page) - positives
        if not positives or not negatives:
            continue
        for candidate, ok in page:
            rows.append(candidate.features)
            labels.append(int(ok))
            weights.append(1 / positives if ok else 1 / negatives)
    if not rows:
        raise ValueError("no page has both a correct and a wrong candidate")
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(rows, labels, sample_weight=weights)
    return Ranker(FEATURES, tuple(round(float(w), 4) for w in model.coef_[0]),
                  round(float(model.intercept_[0]), 4))
