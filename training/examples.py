"""Labelled examples, the split by product, class balancing — shared by every decision.

negative_review's label rule lives here too (issue 2): a review with a star rating is *negative*
when rating ≤ 2. Sources without stars (the UCI sentiment sentences) carry the reviewer's own
positive/negative flag, used as the label there. Rows with neither are counted, not used.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Iterable

from commons.contracts import review_text_of

LABELS = ("not_negative", "negative")
NEGATIVE_MAX_RATING = 2.0


@dataclass(frozen=True)
class Example:
    """One labelled example: its text, an optional raw numeric window (most recent value first),
    the label index (1 = alert) and the product it belongs to (the split unit)."""

    text: str
    label: int
    product_id: str
    source: str
    window: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Split:
    """Train, calibration and evaluation examples; no product appears in two of them.

    Calibration examples (products never trained on) fit the temperature, the decision bias and
    the abstain threshold; evaluation examples only measure."""

    train: list[Example]
    eval: list[Example]
    unlabelled: int
    calibration: list[Example] = ()


def label_of(record: dict[str, Any]) -> int | None:
    """1 = negative, 0 = not negative, None = no label (no rating and no reviewer flag)."""
    rating = record.get("rating")
    if rating is not None:
        return int(float(rating) <= NEGATIVE_MAX_RATING)
    feedback = record.get("feedback")
    if feedback is None:
        return None
    return int(not bool(feedback))


def to_examples(records: Iterable[dict[str, Any]]) -> tuple[list[Example], int]:
    """Labelled examples from review signal records, plus the count of records without a label."""
    examples, unlabelled = [], 0
    for record in records:
        label, text = label_of(record), review_text_of(record)
        if label is None or not text:
            unlabelled += 1
            continue
        examples.append(Example(text=text, label=label, product_id=str(record["product_id"]),
                                source=str(record.get("source", ""))))
    return examples, unlabelled


def _product_rank(product_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{product_id}".encode()).hexdigest()


def split_by_product(examples: list[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Hold out whole products until they cover ``eval_fraction`` of the examples.

    Products are taken in a seeded hash order, so the split is deterministic and a product's side
    does not depend on which other products exist.

    Raises:
        ValueError: either side would lack one of the two classes (the split cannot be evaluated).
    """
    by_product: dict[str, list[Example]] = {}
    for ex in examples:
        by_product.setdefault(ex.product_id, []).append(ex)
    target = eval_fraction * len(examples)
    train, held = [], []
    for product in sorted(by_product, key=lambda p: _product_rank(p, seed)):
        (held if len(held) < target else train).extend(by_product[product])
    for name, side in (("train", train), ("eval", held)):
        if len({ex.label for ex in side}) < 2:
            raise ValueError(f"{name} split has a single class ({len(side)} examples); "
                             "need more products with both negative and non-negative reviews")
    return train, held


def balance(examples: list[Example], limit: int, seed: int) -> list[Example]:
    """Up to ``limit`` examples, half from each class where possible, in a seeded shuffle.

    Negative reviews are ~5 % of star-rated reviews; balancing keeps a short training run from
    learning the prior alone.
    """
    rng = random.Random(seed)
    alerts = [e for e in examples if e.label == 1]
    others = [e for e in examples if e.label == 0]
    rng.shuffle(alerts)
    rng.shuffle(others)
    take_alerts = alerts[: max(limit // 2, limit - len(others))]
    chosen = take_alerts + others[: limit - len(take_alerts)]
    rng.shuffle(chosen)
    return chosen


def stratified_sample(examples: list[Example], limit: int, seed: int) -> list[Example]:
    """Up to ``limit`` examples keeping the class ratio (``limit`` 0 = all)."""
    if not limit or len(examples) <= limit:
        return list(examples)
    rng = random.Random(seed)
    out: list[Example] = []
    for label in (0, 1):
        group = [e for e in examples if e.label == label]
        rng.shuffle(group)
        out.extend(group[: max(1, round(limit * len(group) / len(examples)))])
    rng.shuffle(out)
    return out


def split_examples(examples: list[Example], unlabelled: int, *, eval_fraction: float, max_train: int,
                   max_eval: int, seed: int, calibration_fraction: float = 0.2,
                   train_only_sources: tuple[str, ...] = (), train_only_share: float = 0.25) -> Split:
    """Split by product into train / calibration / eval; balance train, stratify the others.

    ``calibration_fraction`` is a share of the non-evaluation examples. Examples whose source is in
    ``train_only_sources`` (views added for coverage, unlike the traffic mix) are trained on only:
    up to ``train_only_share`` × ``max_train`` of them, balanced, on top of the ``max_train``
    others, so the traffic sample is the one drawn without them; calibration and eval, whose
    confidences set the abstain threshold and the drift reference, keep the traffic's mix.
    """
    rest, held = split_by_product(examples, eval_fraction, seed)
    train, calibration = split_by_product(rest, calibration_fraction, seed + 1)
    views = [e for e in train if e.source in train_only_sources]
    train, calibration, held = ([e for e in side if e.source not in train_only_sources]
                                for side in (train, calibration, held))
    chosen = balance(train, max_train, seed)
    if views:
        chosen += balance(views, round(train_only_share * max_train), seed)
        random.Random(seed).shuffle(chosen)
    return Split(train=chosen, eval=stratified_sample(held, max_eval, seed),
                 unlabelled=unlabelled, calibration=stratified_sample(calibration, max_eval, seed))
